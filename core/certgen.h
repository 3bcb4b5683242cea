/* SPDX-License-Identifier: Apache-2.0 */
/* The webhook's serving certificate, made the kube-webhook-certgen way: a
 * throwaway self-signed CA signs one serving certificate whose SANs name
 * the Service; the CA's key is never written, so nothing else can ever be
 * signed by it. This and nothing else in the tree includes OpenSSL. */
#ifndef PT_CERTGEN_H
#define PT_CERTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"

/* Named limits on inputs. */
#define CERTGEN_MAX_DNS 32                /* extra DNS names in one request */
#define CERTGEN_MAX_IPS 16                /* IP SANs in one request */
#define CERTGEN_MAX_DNS_LEN 253           /* one DNS name (RFC 1035 2.3.4) */
#define CERTGEN_MAX_PEM_BYTES (256u << 10) /* one ca.crt / tls.crt / tls.key */
#define CERTGEN_MAX_VALIDITY (100LL * 366 * 86400) /* seconds */
#define CERTGEN_MIN_VALIDITY 3600LL       /* seconds; shorter is surely a typo */

/* Defaults, in seconds. */
#define CERTGEN_DEFAULT_CA_VALIDITY (10LL * 365 * 86400)
#define CERTGEN_DEFAULT_VALIDITY (365LL * 86400)
#define CERTGEN_DEFAULT_RENEW_BEFORE (30LL * 86400)
/* How long a renewed caBundle also trusts the CA it replaces: ample for the
 * kubelet to refresh every webhook pod's Secret volume (about a minute),
 * short enough that the daily certgen run drops it. */
#define CERTGEN_DEFAULT_OLD_CA_GRACE (3600LL)

/* The file names in a directory, which are also the keys of a
 * kubernetes.io/tls Secret (plus ca.crt, which cert-manager also writes). */
#define CERTGEN_CA_CRT "ca.crt"
#define CERTGEN_TLS_CRT "tls.crt"
#define CERTGEN_TLS_KEY "tls.key"

enum certgen_key_type {
	CERTGEN_KEY_ECDSA_P256, /* default: small, fast, what Go and GnuTLS both prefer */
	CERTGEN_KEY_RSA_2048,
};

struct certgen_request {
	const char *service;          /* DNS-1035 label, e.g. "podtuner" */
	const char *namespace;        /* DNS-1123 label */
	const char *const *dns;       /* extra DNS SANs (a leading "*." is allowed) */
	size_t n_dns;
	const char *const *ips;       /* IP SANs, IPv4 or IPv6 text */
	size_t n_ips;
	enum certgen_key_type key_type;
	int64_t ca_validity;          /* seconds */
	int64_t validity;             /* seconds, at most ca_validity */
	int64_t renew_before;         /* seconds: a pair expiring sooner is replaced */
	time_t now;                   /* the clock, a parameter so tests can move it */
};

/* PEM text of a CA certificate, a serving certificate and its key. Every
 * pointer is heap memory owned by the bundle, NUL-terminated, or NULL. */
struct certgen_bundle {
	char *ca_crt;
	size_t ca_crt_len;
	char *tls_crt;
	size_t tls_crt_len;
	char *tls_key;
	size_t tls_key_len;
};

/* What a certificate says, for logs and metrics. Strings are truncated (never
 * overflowed) to their arrays; sans is "DNS:a, IP:1.2.3.4" in cert order. */
struct certgen_info {
	time_t not_before;
	time_t not_after;
	char serial[64];   /* lowercase hex, no separators */
	char subject[256]; /* RFC 2253 form */
	char issuer[256];
	char sans[1024];
	char key_type[32]; /* "ECDSA P-256", "RSA 2048", ... */
	bool is_ca;
};

/* Fill r with the defaults (ECDSA P-256, 10y CA, 1y leaf, renew 30d before
 * expiry, now = time(NULL)) and no names. */
void certgen_request_init(struct certgen_request *r);

/* Check a request: service and namespace are DNS labels, every DNS name is
 * valid, every IP parses, the counts and validities are within the limits
 * above, validity <= ca_validity and renew_before < validity. Fails with
 * PT_INVALID (or PT_LIMIT for counts) and a message naming the field. */
enum pt_code certgen_request_check(const struct certgen_request *r, struct pt_error *e) PT_WUR;

/* Make a new CA and a serving certificate signed by it for r. The serving
 * certificate has SANs <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local, then
 * r's DNS names and IPs; EKU serverAuth; its notBefore is 5 minutes before
 * r->now to allow for clock skew. On success *out (which must be empty or
 * zeroed) holds three PEM texts for the caller to certgen_bundle_release;
 * on failure *out is untouched. */
enum pt_code certgen_generate(const struct certgen_request *r, struct certgen_bundle *out,
			      struct pt_error *e) PT_WUR;

/* Whether an existing bundle can be kept for r: the three texts parse, the
 * key matches tls.crt, tls.crt verifies against ca.crt as a TLS server
 * certificate at r->now, its SANs cover every name r asks for, the key type
 * is the one r asks for, and neither certificate expires within
 * r->renew_before. PT_OK means keep it; otherwise the code and e's message
 * say why not (PT_INVALID for a mismatch, PT_RANGE for expiry, PT_SYNTAX for
 * unparsable PEM), which a caller reports before regenerating. */
enum pt_code certgen_verify(const struct certgen_request *r, const struct certgen_bundle *b,
			    struct pt_error *e) PT_WUR;

/* Read dir/ca.crt, dir/tls.crt and dir/tls.key (each at most
 * CERTGEN_MAX_PEM_BYTES) into *out. A missing file gives PT_NOTFOUND. On
 * failure *out is untouched. */
enum pt_code certgen_read_dir(const char *dir, struct certgen_bundle *out, struct pt_error *e) PT_WUR;

/* Write the bundle into dir (created, mode 0755, if it does not exist; its
 * parent must exist): ca.crt and tls.crt mode 0644, tls.key mode 0600. Each
 * file is written to a temporary file in dir, fsync'ed and renamed over
 * the old one, so a reader never sees half a file. A crash between the
 * three renames can leave a mixed set; certgen_verify then rejects it and
 * the next run regenerates. */
enum pt_code certgen_write_dir(const char *dir, const struct certgen_bundle *b,
			       struct pt_error *e) PT_WUR;

/* The caBundle (PEM text, into out) a webhook should carry for the CA
 * ca_pem, given the one it carries now (current: cur_len bytes of PEM, or
 * anything else, which counts as no bundle). Renewing must not open an x509
 * window: the webhook's pods serve the old pair until the kubelet refreshes
 * their Secret volume, a minute or more after the Secret changes. So for
 * grace_s seconds after ca_pem's CA was made (its notBefore) the bundle is
 * that CA, then the one the current bundle starts with if it is another
 * unexpired CA (its key was never written, so it signs nothing new); a
 * bundle that already starts with this CA keeps its second certificate on
 * the same terms. After grace_s, or with grace_s 0 (a key leak: drop the
 * old pair's trust at once), the bundle is ca_pem alone. PT_SYNTAX when
 * ca_pem holds no certificate. */
enum pt_code certgen_ca_bundle(const char *ca_pem, size_t ca_len, const char *current, size_t cur_len,
			       time_t now, int64_t grace_s, struct buf *out, struct pt_error *e) PT_WUR;

/* Free the texts; b is empty again. NULL is a no-op. */
void certgen_bundle_release(struct certgen_bundle *b);

/* Describe the first certificate in len bytes of PEM. PT_SYNTAX when there
 * is none; *out is untouched on failure. */
enum pt_code certgen_info_pem(const char *pem, size_t len, struct certgen_info *out,
			      struct pt_error *e) PT_WUR;

/* As certgen_info_pem, for a file (at most CERTGEN_MAX_PEM_BYTES). */
enum pt_code certgen_info_file(const char *path, struct certgen_info *out, struct pt_error *e) PT_WUR;

/* Whether s (len bytes) is a DNS-1123 label: 1-63 of [a-z0-9-], starting and
 * ending alphanumeric. Namespaces must be; Services are DNS-1035 labels, which
 * additionally start with a letter (pass dns1035). */
bool certgen_is_dns_label(const char *s, size_t len, bool dns1035);

#endif
