/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner webhook`: the mutating admission webhook. It serves
 * POST /mutate (AdmissionReview v1), /healthz, /readyz and /metrics over
 * HTTPS, reloads its policies and its certificate when their files change,
 * and on SIGTERM fails readiness, keeps serving for the shutdown delay
 * (so the Service drops it first), then drains in-flight requests. */
#ifndef PT_WEBHOOK_H
#define PT_WEBHOOK_H

#include <stddef.h>

#define WEBHOOK_LISTEN_DEFAULT ":8443"
#define WEBHOOK_CERT_DEFAULT "/etc/podtuner/tls/tls.crt"
#define WEBHOOK_KEY_DEFAULT "/etc/podtuner/tls/tls.key"

struct webhook_config {
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *const *policy_paths; /* borrowed; none: the built-in policies */
	size_t n_policy_paths;
	unsigned threads;            /* 0: one per CPU */
	unsigned max_connections;    /* 0: httpd's default */
	unsigned reload_interval_ms; /* how often files are checked; 0: 2000 */
	unsigned shutdown_delay_ms;  /* serving on after SIGTERM with readyz failing */
	unsigned grace_ms;           /* then, time for in-flight requests; 0: 10000 */
	const char *ready_file;      /* optional: written with the port once serving (tests) */
};

/* Run until SIGTERM or SIGINT. Returns the process exit status: 0 after a
 * clean shutdown, 1 when the server cannot start (the reason is logged). */
int webhook_run(const struct webhook_config *cfg);

#endif
