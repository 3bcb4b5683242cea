/* SPDX-License-Identifier: Apache-2.0 */
/* tests/integration/fake_apiserver.py for the unit tests that talk to an
 * apiserver: started over real TLS with a certificate from certgen (SAN
 * 127.0.0.1, token T1), a kubeconfig for it, and control requests. Header
 * only: each test file is its own program. Run from the worktree root. */
#ifndef PT_FAKE_API_H
#define PT_FAKE_API_H

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/base64.h"
#include "../../core/certgen.h"
#include "../../core/http_client.h"
#include "../../core/kube.h"
#include "test.h"

#define FAKE_API_PY "/usr/bin/python3" /* Debian's: it sees python3-jsonpatch */
#define FAKE_API_SCRIPT "tests/integration/fake_apiserver.py"
#define FAKE_API_TOKEN "T1"

struct fake_api {
	pid_t pid;
	int port;
	struct certgen_bundle certs;
	struct http_client *ctl; /* for fake_api_call */
	char token[64];          /* the token the fake accepts now */
};

/* Start the fake with its files in dir and the extra arguments (NULL
 * terminated, may be NULL); exit 2 if it does not come up. */
static void fake_api_start(struct fake_api *f, const char *dir, const char *const *extra)
{
	static const char *ips[] = {"127.0.0.1"};
	char cert[256], key[256], portf[256], log[256];
	const char *argv[32] = {FAKE_API_PY, FAKE_API_SCRIPT, "--cert", cert, "--key", key, "--token",
				FAKE_API_TOKEN, "--port-file", portf};
	struct certgen_request r;
	struct pt_error e = {0};
	size_t n = 10;
	char *text;

	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	certgen_request_init(&r);
	r.service = "kubernetes";
	r.namespace = "default";
	r.ips = ips;
	r.n_ips = 1;
	if (certgen_generate(&r, &f->certs, &e)) {
		TFAIL("certgen: %s", e.msg);
		exit(2);
	}
	test_put_file(dir, "api.crt", f->certs.tls_crt);
	test_put_file(dir, "api.key", f->certs.tls_key);
	snprintf(cert, sizeof cert, "%s/api.crt", dir);
	snprintf(key, sizeof key, "%s/api.key", dir);
	snprintf(portf, sizeof portf, "%s/port", dir);
	snprintf(log, sizeof log, "%s/fake.stderr", dir);
	f->pid = fork();
	if (f->pid == 0) {
		FILE *err = freopen(log, "w", stderr);

		(void)err;
		execv(FAKE_API_PY, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(portf, R_OK) != 0; i++)
		test_sleep_ms(25);
	if (access(portf, R_OK) != 0) {
		TFAIL("the fake apiserver did not start (see %s)", log);
		exit(2);
	}
	text = test_slurp(portf, NULL);
	f->port = (int)strtol(text, NULL, 10);
	free(text);
	f->ctl = http_client_new(&e);
	snprintf(f->token, sizeof f->token, "%s", FAKE_API_TOKEN);
}

static void fake_api_stop(struct fake_api *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	http_client_free(f->ctl);
	f->ctl = NULL;
	certgen_bundle_release(&f->certs);
}

/* A kubeconfig for https://127.0.0.1:port with the fake's CA; user is the
 * user object's JSON, e.g. {"token":"T1"} or {"tokenFile":"token"} (paths
 * relative to dir). */
static struct kube_config *fake_api_config(const struct fake_api *f, const char *dir, int port, const char *user)
{
	struct kube_config *cfg = NULL;
	struct pt_error e = {0};
	struct buf ca;
	char text[8192];
	cJSON *root;

	buf_init(&ca, 1 << 16);
	CHECK_INT(base64_encode(&ca, f->certs.ca_crt, f->certs.ca_crt_len), PT_OK);
	snprintf(text, sizeof text,
		 "{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		 "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://127.0.0.1:%d\","
		 "\"certificate-authority-data\":\"%s\"}}],"
		 "\"users\":[{\"name\":\"u\",\"user\":%s}]}",
		 port, ca.data, user);
	root = cJSON_Parse(text);
	CHECK_INT(kube_config_from_json(root, "'test'", dir, NULL, &cfg, &e), PT_OK);
	cJSON_Delete(root);
	buf_release(&ca);
	return cfg;
}

/* A request to the fake (its API or its /fake/ controls) with the token it
 * accepts (T1 until /fake/token?value=X changes it); returns the status
 * and appends the body to out (may be NULL). A PATCH body is a merge
 * patch. */
static long fake_api_call(struct fake_api *f, const char *method, const char *path, const char *body,
			  struct buf *out)
{
	struct http_request req = {0};
	struct http_response resp;
	struct pt_error e = {0};
	char url[512];
	long status = 0;

	snprintf(url, sizeof url, "https://127.0.0.1:%d%s", f->port, path);
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = !body ? NULL
		: strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : "application/json";
	req.ca_pem = f->certs.ca_crt;
	req.ca_pem_len = f->certs.ca_crt_len;
	req.bearer_token = f->token;
	req.timeout_ms = 10000;
	http_response_init(&resp, 1 << 20);
	if (f->ctl && http_client_do(f->ctl, &req, &resp, &e) == PT_OK) {
		status = resp.status;
		if (out)
			(void)!buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
		if (strncmp(path, "/fake/token?value=", 18) == 0)
			snprintf(f->token, sizeof f->token, "%s", path + 18);
	} else {
		TFAIL("%s %s: %s", method, path, e.msg);
	}
	http_response_release(&resp);
	return status;
}

#endif
