/* SPDX-License-Identifier: Apache-2.0 */
/* core/kube: path and query escaping, kubeconfig contexts (JSON and YAML),
 * unsupported auth refused by name, in-cluster config with a ServiceAccount
 * directory in /tmp, token rotation, and kube_request's Status errors
 * against an in-process libmicrohttpd server on 127.0.0.1. */
#include "../../core/base64.h"
#include "../../core/kube.h"
#include "test.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		exit(2);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	test_mkdtemp(dir, sizeof dir, "kube_test");
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_paths(void)
{
	struct buf b;
	struct pt_error e = {0};

	buf_init(&b, 1 << 16);
	CHECK_INT(kube_path(&b, "/apis/admissionregistration.k8s.io/v1", NULL, "mutatingwebhookconfigurations",
			    "podtuner", NULL, &e), PT_OK);
	CHECK_STR(b.data, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podtuner");
	buf_reset(&b);
	CHECK_INT(kube_path(&b, "/api/v1", "kube-system", "pods", NULL, NULL, &e), PT_OK);
	CHECK_STR(b.data, "/api/v1/namespaces/kube-system/pods");
	buf_reset(&b);
	CHECK_INT(kube_path(&b, "/api/v1", "ns", "pods", "a/b c?d", "status", &e), PT_OK);
	CHECK_STR(b.data, "/api/v1/namespaces/ns/pods/a%2Fb%20c%3Fd/status");
	CHECK_INT(kube_query(&b, "labelSelector", "app=web,tier!=db", &e), PT_OK);
	CHECK_INT(kube_query(&b, "fieldSelector", "spec.nodeName=node-1", &e), PT_OK);
	CHECK_STR(b.data, "/api/v1/namespaces/ns/pods/a%2Fb%20c%3Fd/status"
			  "?labelSelector=app%3Dweb%2Ctier%21%3Ddb&fieldSelector=spec.nodeName%3Dnode-1");

	/* Refusals leave the buffer as it was. */
	buf_reset(&b);
	CHECK_INT(buf_puts(&b, "keep"), PT_OK);
	CHECK_INT(kube_path(&b, "/api/v1", "ns", "pods", "..", NULL, &e), PT_INVALID);
	CHECK_STR(e.msg, "invalid name '..' in an API path");
	CHECK_INT(kube_path(&b, "/api/v1", "", "pods", NULL, NULL, &e), PT_INVALID);
	CHECK_INT(kube_path(&b, "/api/v1", NULL, NULL, NULL, NULL, &e), PT_INVALID);
	CHECK_INT(kube_path(&b, "api/v1", NULL, "pods", NULL, NULL, &e), PT_INVALID);
	CHECK_INT(kube_query(&b, "", "x", &e), PT_INVALID);
	{
		char big[KUBE_MAX_PATH_LEN];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		CHECK_INT(kube_path(&b, "/api/v1", NULL, "pods", big, NULL, &e), PT_LIMIT);
	}
	CHECK_STR(b.data, "keep");
	buf_release(&b);

	CHECK_INT(kube_status_code(200), PT_OK);
	CHECK_INT(kube_status_code(201), PT_OK);
	CHECK_INT(kube_status_code(401), PT_PERM);
	CHECK_INT(kube_status_code(403), PT_PERM);
	CHECK_INT(kube_status_code(404), PT_NOTFOUND);
	CHECK_INT(kube_status_code(409), PT_BUSY);
	CHECK_INT(kube_status_code(410), PT_GONE);
	CHECK_INT(kube_status_code(415), PT_UNSUPPORTED);
	CHECK_INT(kube_status_code(422), PT_INVALID);
	CHECK_INT(kube_status_code(429), PT_AGAIN);
	CHECK_INT(kube_status_code(500), PT_HTTP);
	CHECK_INT(kube_status_code(504), PT_TIMEOUT);
}

/* A kubeconfig in JSON with one substitution point for the user. */
static enum pt_code from_json(const char *user, const char *cluster_extra, const char *context,
			      struct kube_config **out, struct pt_error *e)
{
	char text[4096];
	cJSON *root;
	enum pt_code rc;

	snprintf(text, sizeof text,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"main\","
		 "\"contexts\":[{\"name\":\"main\",\"context\":{\"cluster\":\"c1\",\"user\":\"u1\",\"namespace\":\"team\"}},"
		 "{\"name\":\"other\",\"context\":{\"cluster\":\"c1\",\"user\":\"u1\"}},"
		 "{\"name\":\"dangling\",\"context\":{\"cluster\":\"nope\",\"user\":\"u1\"}}],"
		 "\"clusters\":[{\"name\":\"c1\",\"cluster\":{\"server\":\"https://10.0.0.1:6443//\"%s}}],"
		 "\"users\":[{\"name\":\"u1\",\"user\":{%s}}]}",
		 cluster_extra, user);
	root = cJSON_Parse(text);
	if (!root)
		exit(2);
	rc = kube_config_from_json(root, "'t'", dir, context, out, e);
	cJSON_Delete(root);
	return rc;
}

static void test_kubeconfig_json(void)
{
	struct kube_config *c = NULL;
	struct pt_error e = {0};
	struct buf tok, ca64;
	char extra[512];

	buf_init(&tok, 1024);
	buf_init(&ca64, 1024);
	CHECK_INT(base64_encode(&ca64, "-----BEGIN CERTIFICATE-----\n", 28), PT_OK);
	snprintf(extra, sizeof extra, ",\"certificate-authority-data\":\"%s\"", ca64.data);

	CHECK_INT(from_json("\"token\":\" abc \\n\"", extra, NULL, &c, &e), PT_OK);
	if (c) {
		CHECK_STR(c->server, "https://10.0.0.1:6443");
		CHECK_STR(c->namespace, "team");
		CHECK_STR(c->source, "kubeconfig 't' context 'main'");
		CHECK_STR(c->ca_pem, "-----BEGIN CERTIFICATE-----\n");
		CHECK(!c->insecure);
		CHECK_INT(kube_config_token(c, &tok, &e), PT_OK);
		CHECK_STR(tok.data, "abc");
	}
	kube_config_free(c);
	c = NULL;
	CHECK_INT(from_json("", "", "other", &c, &e), PT_OK);
	if (c) {
		CHECK_STR(c->namespace, "default");
		CHECK(c->ca_pem == NULL);
		buf_reset(&tok);
		CHECK_INT(kube_config_token(c, &tok, &e), PT_OK);
		CHECK_INT(tok.len, 0); /* anonymous */
	}
	kube_config_free(c);
	c = NULL;

	/* token wins over tokenFile; tokenFile is relative to the file. */
	write_file("tok", "from-file\n");
	CHECK_INT(from_json("\"token\":\"inline\",\"tokenFile\":\"tok\"", "", NULL, &c, &e), PT_OK);
	buf_reset(&tok);
	if (c && kube_config_token(c, &tok, &e) == PT_OK)
		CHECK_STR(tok.data, "inline");
	kube_config_free(c);
	c = NULL;
	CHECK_INT(from_json("\"tokenFile\":\"tok\"", "", NULL, &c, &e), PT_OK);
	buf_reset(&tok);
	if (c && kube_config_token(c, &tok, &e) == PT_OK)
		CHECK_STR(tok.data, "from-file");
	kube_config_free(c);
	c = NULL;

	/* Refusals, each naming what is wrong. */
	static const struct {
		const char *user, *cluster, *ctx;
		enum pt_code code;
		const char *msg;
	} bad[] = {
		{"\"exec\":{\"command\":\"aws\"}", "", NULL, PT_UNSUPPORTED,
		 "kubeconfig 't': user 'u1' uses 'exec', which podtuner does not support (exec credential plugins are not run)"},
		{"\"auth-provider\":{\"name\":\"gcp\"}", "", NULL, PT_UNSUPPORTED, "uses 'auth-provider'"},
		{"\"username\":\"a\",\"password\":\"b\"", "", NULL, PT_UNSUPPORTED, "basic auth was removed"},
		{"\"as\":\"admin\"", "", NULL, PT_UNSUPPORTED, "no impersonation"},
		{"", ",\"proxy-url\":\"http://p\"", NULL, PT_UNSUPPORTED, "cluster 'c1' uses 'proxy-url'"},
		{"", ",\"insecure-skip-tls-verify\":true,\"certificate-authority-data\":\"Zm9v\"", NULL, PT_INVALID,
		 "sets both a certificate authority and insecure-skip-tls-verify"},
		{"", ",\"insecure-skip-tls-verify\":\"yes\"", NULL, PT_INVALID, "must be true or false"},
		{"", ",\"certificate-authority-data\":\"Zm9v!\"", NULL, PT_SYNTAX,
		 "invalid base64 in 'certificate-authority-data' of cluster 'c1': unexpected '!' at byte 4"},
		{"", ",\"certificate-authority\":\"missing.crt\"", NULL, PT_NOTFOUND, "/missing.crt': No such file"},
		{"\"client-certificate-data\":\"Zm9v\"", "", NULL, PT_INVALID,
		 "user 'u1' has a client certificate but no client key"},
		{"\"token\":\"a\\nb\"", "", NULL, PT_INVALID, "contains a line break"},
		{"\"token\":7", "", NULL, PT_INVALID, "'token' of user 'u1' must be a string"},
		{"\"tokenFile\":\"nope\"", "", NULL, PT_NOTFOUND, "cannot stat token file '"},
		{"", "", "nope", PT_NOTFOUND, "kubeconfig 't': no context named 'nope'"},
		{"", "", "dangling", PT_NOTFOUND, "context 'dangling' names cluster 'nope', which is not defined"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = NULL;
		CHECK_INT(from_json(bad[i].user, bad[i].cluster, bad[i].ctx, &c, &e), bad[i].code);
		CHECK_CONTAINS(e.msg, bad[i].msg);
		CHECK(c == NULL);
	}
	{
		cJSON *root = cJSON_Parse("{\"clusters\":[]}");

		CHECK_INT(kube_config_from_json(root, "'t'", dir, NULL, &c, &e), PT_INVALID);
		CHECK_STR(e.msg, "kubeconfig 't': no current-context is set");
		cJSON_Delete(root);
		root = cJSON_Parse("{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\"}}],"
				   "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"ftp://x\"}}]}");
		CHECK_INT(kube_config_from_json(root, "'t'", dir, NULL, &c, &e), PT_INVALID);
		CHECK_CONTAINS(e.msg, "has an invalid server 'ftp://x'");
		cJSON_Delete(root);
		root = cJSON_Parse("[1]");
		CHECK_INT(kube_config_from_json(root, NULL, dir, NULL, &c, &e), PT_INVALID);
		cJSON_Delete(root);
	}
	buf_release(&tok);
	buf_release(&ca64);
}

/* The YAML kubectl writes, read through core/yaml. */
static void test_kubeconfig_yaml(void)
{
	struct kube_config *c = NULL;
	struct pt_error e = {0};
	char path[256];

	write_file("ca.crt", "CA PEM\n");
	write_file("kubeconfig",
		   "apiVersion: v1\n"
		   "kind: Config\n"
		   "preferences: {}\n"
		   "clusters:\n"
		   "- cluster:\n"
		   "    certificate-authority: ca.crt\n"
		   "    server: https://127.0.0.1:6443\n"
		   "  name: kind-kind\n"
		   "contexts:\n"
		   "- context:\n"
		   "    cluster: kind-kind\n"
		   "    user: kind-kind\n"
		   "  name: kind-kind\n"
		   "current-context: kind-kind\n"
		   "users:\n"
		   "- name: kind-kind\n"
		   "  user:\n"
		   "    client-certificate-data: Q0VSVA==\n"
		   "    client-key-data: S0VZ\n");
	snprintf(path, sizeof path, "%s/kubeconfig", dir);
	CHECK_INT(kube_config_load_file(path, NULL, &c, &e), PT_OK);
	if (c) {
		CHECK_STR(c->server, "https://127.0.0.1:6443");
		CHECK_STR(c->ca_pem, "CA PEM\n");
		CHECK_STR(c->cert_pem, "CERT");
		CHECK_STR(c->key_pem, "KEY");
		CHECK_INT(c->key_pem_len, 3);
	}
	kube_config_free(c);
	c = NULL;

	/* $KUBECONFIG is honoured; a list of files is refused. */
	setenv("KUBECONFIG", path, 1);
	CHECK_INT(kube_config_auto(NULL, NULL, NULL, &c, &e), PT_OK);
	kube_config_free(c);
	c = NULL;
	setenv("KUBECONFIG", "/a:/b", 1);
	CHECK_INT(kube_config_auto(NULL, NULL, NULL, &c, &e), PT_UNSUPPORTED);
	CHECK_CONTAINS(e.msg, "merging them is not supported");
	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1); /* no .kube/config there */
	CHECK_INT(kube_config_auto(NULL, NULL, NULL, &c, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "no Kubernetes API config");

	write_file("two", "a: 1\n---\nb: 2\n");
	snprintf(path, sizeof path, "%s/two", dir);
	CHECK_INT(kube_config_load_file(path, NULL, &c, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "expected one YAML document, found 2");
	write_file("broken", "clusters: [\n");
	snprintf(path, sizeof path, "%s/broken", dir);
	CHECK_INT(kube_config_load_file(path, NULL, &c, &e), PT_SYNTAX);
	CHECK(c == NULL);
}

static void test_in_cluster(void)
{
	struct kube_config *c = NULL;
	struct pt_error e = {0};
	struct buf tok;
	char sa[128], path[256], tmp[256];

	buf_init(&tok, 1024);
	snprintf(sa, sizeof sa, "%s/sa", dir);
	mkdir(sa, 0755);
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "not running in a cluster");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "/sa/ca.crt': No such file or directory (ENOENT)");
	write_file("sa/ca.crt", "CA\n");
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot stat token file '");
	write_file("sa/token", "\n");
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "/sa/token' is empty");
	write_file("sa/token", "token-1\n");
	write_file("sa/namespace", "podtuner");
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_OK);
	if (!c)
		return;
	CHECK_STR(c->server, "https://10.96.0.1:443");
	CHECK_STR(c->namespace, "podtuner");
	CHECK_STR(c->source, "in-cluster");
	CHECK_INT(kube_config_token(c, &tok, &e), PT_OK);
	CHECK_STR(tok.data, "token-1");

	/* The kubelet rotates the token by swapping in a new file. */
	write_file("sa/token.new", "token-2-longer\n");
	snprintf(path, sizeof path, "%s/sa/token", dir);
	snprintf(tmp, sizeof tmp, "%s/sa/token.new", dir);
	CHECK_INT(rename(tmp, path), 0);
	buf_reset(&tok);
	CHECK_INT(kube_config_token(c, &tok, &e), PT_OK);
	CHECK_STR(tok.data, "token-2-longer");
	/* A token file that vanishes for a moment: the cached one is used. */
	CHECK_INT(unlink(path), 0);
	buf_reset(&tok);
	CHECK_INT(kube_config_token(c, &tok, &e), PT_OK);
	CHECK_STR(tok.data, "token-2-longer");
	kube_config_free(c);
	c = NULL;

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	write_file("sa/token", "t");
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_OK);
	if (c)
		CHECK_STR(c->server, "https://[fd00::1]:443");
	kube_config_free(c);
	c = NULL;
	setenv("KUBERNETES_SERVICE_HOST", "evil/path@x", 1);
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_INVALID);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "44x", 1);
	CHECK_INT(kube_config_in_cluster(sa, &c, &e), PT_INVALID);
	/* kube_config_auto takes in-cluster when the variables are set. */
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	CHECK_INT(kube_config_auto(NULL, NULL, sa, &c, &e), PT_OK);
	if (c)
		CHECK_STR(c->source, "in-cluster");
	kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	buf_release(&tok);
}

static enum MHD_Result api(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			   const char *version, const char *data, size_t *size, void **state)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char body[1024];
	unsigned code = 200;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)method, (void)version, (void)data, (void)size, (void)state;
	if (!auth || strcmp(auth, "Bearer good") != 0) {
		code = 401;
		snprintf(body, sizeof body, "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"code\":401}");
	} else if (strcmp(url, "/api/v1/namespaces/x/secrets/y") == 0) {
		code = 404;
		snprintf(body, sizeof body, "{\"kind\":\"Status\",\"message\":\"secrets \\\"y\\\" not found\",\"code\":404}");
	} else if (strcmp(url, "/long") == 0) {
		code = 500;
		memset(body, 'z', 900);
		memcpy(body, "line1\nline2", 11);
		body[900] = '\0';
	} else {
		snprintf(body, sizeof body, "{\"kind\":\"Thing\"}");
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static void test_request(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct kube_config *cfg;
	struct http_client *hc;
	struct http_response resp;
	struct pt_error e = {0};
	struct kube_call call = {0};
	char server[64];
	cJSON *root;
	char text[512];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, api, NULL, MHD_OPTION_SOCK_ADDR, &a,
			     MHD_OPTION_END);
	CHECK(d != NULL);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	snprintf(server, sizeof server, "http://127.0.0.1:%d", info ? info->port : 0);
	snprintf(text, sizeof text,
		 "{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		 "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"%s\"}}],"
		 "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"good\"}}]}", server);
	root = cJSON_Parse(text);
	CHECK_INT(kube_config_from_json(root, "'t'", dir, NULL, &cfg, &e), PT_OK);
	cJSON_Delete(root);
	hc = http_client_new(&e);
	http_response_init(&resp, 0);

	call.path = "/api/v1/namespaces/x/secrets/ok";
	CHECK_INT(kube_request(cfg, hc, &call, &resp, &e), PT_OK);
	CHECK_STR(resp.body.data, "{\"kind\":\"Thing\"}");
	call.path = "/api/v1/namespaces/x/secrets/y";
	CHECK_INT(kube_request(cfg, hc, &call, &resp, &e), PT_NOTFOUND);
	CHECK_STR(e.msg, "cannot GET '/api/v1/namespaces/x/secrets/y': 404 Not Found: secrets \"y\" not found");
	CHECK_INT(resp.status, 404);
	call.path = "/long";
	call.method = "PUT";
	CHECK_INT(kube_request(cfg, hc, &call, &resp, &e), PT_HTTP);
	CHECK_CONTAINS(e.msg, "cannot PUT '/long': 500 Internal Server Error: line1 line2zzz");
	CHECK_CONTAINS(e.msg, "zzz...");
	CHECK(strlen(e.msg) < 480);
	call.path = "no-slash";
	CHECK_INT(kube_request(cfg, hc, &call, &resp, &e), PT_INVALID);

	/* The wrong token. */
	free(cfg->token);
	cfg->token = strdup("bad");
	call.method = NULL;
	call.path = "/x";
	CHECK_INT(kube_request(cfg, hc, &call, &resp, &e), PT_PERM);
	CHECK_STR(e.msg, "cannot GET '/x': 401 Unauthorized: Unauthorized");

	http_response_release(&resp);
	http_client_free(hc);
	kube_config_free(cfg);
	kube_config_free(NULL);
	MHD_stop_daemon(d);
}

static void cleanup(void)
{
	char cmd[128];
	FILE *p;

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p)
		CHECK_INT(pclose(p), 0);
}

TEST_MAIN(setup, test_paths, test_kubeconfig_json, test_kubeconfig_yaml, test_in_cluster, test_request, cleanup)
