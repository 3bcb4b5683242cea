/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes API connection config and calls. A config is immutable after
 * loading except for the bearer token, which a mutex guards because bound
 * ServiceAccount tokens rotate under a long-running agent. */
#include "kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base64.h"
#include "fileio.h"
#include "json.h"
#include "yaml.h"

static struct kube_config *config_new(void)
{
	struct kube_config *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->namespace, sizeof c->namespace, "default");
	return c;
}

static void wipe_free(char *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->ca_pem);
	free(cfg->cert_pem);
	wipe_free(cfg->key_pem, cfg->key_pem_len);
	wipe_free(cfg->token, cfg->token ? strlen(cfg->token) : 0);
	pthread_mutex_destroy(&cfg->lock);
	free(cfg);
}

/* Read a whole file into a new heap string. */
static enum pt_code slurp(const char *path, size_t max, char **data, size_t *len, struct pt_error *e)
{
	struct buf b;
	enum pt_code rc;

	buf_init(&b, max);
	if ((rc = fileio_read(path, max, &b, e))) {
		buf_release(&b);
		return rc;
	}
	*data = buf_detach(&b, len);
	if (!*data)
		return pt_error_set(e, PT_NOMEM, "cannot read '%s': out of memory", path);
	return PT_OK;
}

/* A token as files and kubeconfigs hold it: surrounding whitespace
 * trimmed (client-go trims too), no line breaks inside. */
static enum pt_code clean_token(char *t, const char *what, struct pt_error *e)
{
	size_t len = strlen(t), start = 0;

	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' || t[len - 1] == '\t'))
		t[--len] = '\0';
	while (start < len && (t[start] == ' ' || t[start] == '\t' || t[start] == '\n' || t[start] == '\r'))
		start++;
	memmove(t, t + start, len - start + 1);
	if (!t[0])
		return pt_error_set(e, PT_INVALID, "the token in %s is empty", what);
	if (strpbrk(t, "\r\n"))
		return pt_error_set(e, PT_INVALID, "the token in %s contains a line break", what);
	return PT_OK;
}

enum pt_code kube_config_token(struct kube_config *cfg, struct buf *out, struct pt_error *e)
{
	enum pt_code rc = PT_OK;
	struct stat st;
	char *fresh = NULL;
	size_t len;

	pthread_mutex_lock(&cfg->lock);
	if (cfg->token_file[0]) {
		int serr = stat(cfg->token_file, &st) < 0 ? errno : 0;
		bool changed = serr || !cfg->token || st.st_dev != cfg->token_dev ||
			       st.st_ino != cfg->token_ino || st.st_size != cfg->token_size ||
			       st.st_mtim.tv_sec != cfg->token_mtime.tv_sec ||
			       st.st_mtim.tv_nsec != cfg->token_mtime.tv_nsec;

		if (changed) {
			if (serr)
				rc = pt_error_sys(e, serr, "cannot stat token file '%s'", cfg->token_file);
			else
				rc = slurp(cfg->token_file, KUBE_MAX_TOKEN_BYTES, &fresh, &len, e);
			if (rc == PT_OK) {
				char what[PATH_MAX + 16];

				snprintf(what, sizeof what, "'%s'", cfg->token_file);
				rc = clean_token(fresh, what, e);
			}
			if (rc == PT_OK) {
				wipe_free(cfg->token, cfg->token ? strlen(cfg->token) : 0);
				cfg->token = fresh;
				fresh = NULL;
				cfg->token_dev = st.st_dev;
				cfg->token_ino = st.st_ino;
				cfg->token_size = st.st_size;
				cfg->token_mtime = st.st_mtim;
			} else if (cfg->token) {
				rc = PT_OK; /* keep the token we have; see kube.h */
			}
		}
	}
	if (rc == PT_OK && cfg->token && (rc = buf_puts(out, cfg->token)))
		pt_error_set(e, rc, "cannot copy the token: %s", pt_strerror(rc));
	pthread_mutex_unlock(&cfg->lock);
	if (fresh)
		wipe_free(fresh, strlen(fresh));
	return rc;
}

static bool valid_host(const char *h)
{
	return h[0] && strlen(h) < 256 && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == strlen(h);
}

enum pt_code kube_config_in_cluster(const char *sa_dir, struct kube_config **out, struct pt_error *e)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config *c = NULL;
	char path[PATH_MAX];
	char *ns = NULL;
	size_t len;
	enum pt_code rc;

	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (!host || !host[0] || !port || !port[0])
		return pt_error_set(e, PT_NOTFOUND,
				    "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
	if (!valid_host(host))
		return pt_error_set(e, PT_INVALID, "invalid KUBERNETES_SERVICE_HOST '%s'", host);
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return pt_error_set(e, PT_INVALID, "invalid KUBERNETES_SERVICE_PORT '%s'", port);
	if (!(c = config_new()))
		return pt_error_set(e, PT_NOMEM, "cannot allocate the in-cluster config: out of memory");
	/* client-go joins them with net.JoinHostPort: IPv6 gets brackets. */
	snprintf(c->server, sizeof c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		 host, port);
	snprintf(c->source, sizeof c->source, "in-cluster");
	if ((size_t)snprintf(path, sizeof path, "%s/ca.crt", sa_dir) >= sizeof path ||
	    (size_t)snprintf(c->token_file, sizeof c->token_file, "%s/token", sa_dir) >= sizeof c->token_file) {
		rc = pt_error_set(e, PT_LIMIT, "ServiceAccount directory path too long: '%s'", sa_dir);
		goto out;
	}
	if ((rc = slurp(path, KUBE_MAX_PEM_BYTES, &c->ca_pem, &c->ca_pem_len, e)))
		goto out;
	/* Read the token now, so that a missing one fails at start-up. */
	{
		struct buf tok;

		buf_init(&tok, KUBE_MAX_TOKEN_BYTES);
		rc = kube_config_token(c, &tok, e);
		buf_release(&tok);
		if (rc)
			goto out;
	}
	snprintf(path, sizeof path, "%s/namespace", sa_dir);
	if (slurp(path, 256, &ns, &len, NULL) == PT_OK) {
		while (len && (ns[len - 1] == '\n' || ns[len - 1] == ' '))
			ns[--len] = '\0';
		if (len && len < sizeof c->namespace)
			snprintf(c->namespace, sizeof c->namespace, "%s", ns);
		free(ns);
	}
	*out = c;
	return PT_OK;
out:
	kube_config_free(c);
	return rc;
}

/* Find the entry of a named list (clusters, users, contexts) by name. */
static const cJSON *named_entry(const cJSON *root, const char *list, const char *name)
{
	const cJSON *arr = json_get(root, list), *it;

	cJSON_ArrayForEach(it, arr) {
		const char *n = json_get_str(it, "name");

		if (n && strcmp(n, name) == 0)
			return it;
	}
	return NULL;
}

/* A string member, or NULL; a present member of another type is an error. */
static enum pt_code opt_str(const cJSON *obj, const char *key, const char *where, const char *label,
			    const char **out, struct pt_error *e)
{
	const cJSON *v = json_get(obj, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return PT_OK;
	if (!cJSON_IsString(v))
		return pt_error_set(e, PT_INVALID, "kubeconfig %s: '%s' of %s must be a string", label,
				    key, where);
	*out = v->valuestring[0] ? v->valuestring : NULL;
	return PT_OK;
}

static enum pt_code resolve(const char *base_dir, const char *p, char *out, size_t len,
			    struct pt_error *e)
{
	int n = p[0] == '/' || !base_dir ? snprintf(out, len, "%s", p) : snprintf(out, len, "%s/%s", base_dir, p);

	if (n < 0 || (size_t)n >= len)
		return pt_error_set(e, PT_LIMIT, "path too long: '%s'", p);
	return PT_OK;
}

/* The PEM of a *-data (base64) member, else of a file member. */
static enum pt_code load_pem(const cJSON *obj, const char *data_key, const char *file_key,
			     const char *where, const char *label, const char *base_dir, char **pem,
			     size_t *pem_len, struct pt_error *e)
{
	const char *data, *file;
	char path[PATH_MAX], what[256];
	enum pt_code rc;

	if ((rc = opt_str(obj, data_key, where, label, &data, e)) ||
	    (rc = opt_str(obj, file_key, where, label, &file, e)))
		return rc;
	if (data) {
		struct buf b;

		snprintf(what, sizeof what, "'%s' of %s", data_key, where);
		buf_init(&b, KUBE_MAX_PEM_BYTES);
		if ((rc = base64_decode(&b, data, strlen(data), what, e))) {
			buf_release(&b);
			return rc;
		}
		*pem = buf_detach(&b, pem_len);
		return *pem ? PT_OK : pt_error_set(e, PT_NOMEM, "cannot decode %s: out of memory", what);
	}
	if (file) {
		if ((rc = resolve(base_dir, file, path, sizeof path, e)))
			return rc;
		return slurp(path, KUBE_MAX_PEM_BYTES, pem, pem_len, e);
	}
	return PT_OK;
}

enum pt_code kube_config_from_json(const cJSON *root, const char *label, const char *base_dir,
				   const char *context, struct kube_config **out, struct pt_error *e)
{
	static const char *const unsupported_user[] = {
		"exec", "auth-provider", "username", "password", "as", "as-uid", "as-groups", "as-user-extra",
	};
	static const char *const unsupported_cluster[] = {"proxy-url", "tls-server-name"};
	const cJSON *ctx_entry, *ctx, *cl_entry, *cl, *user_entry, *user = NULL;
	const char *ctx_name = context, *cl_name, *user_name, *ns, *server, *token, *token_file;
	struct kube_config *c = NULL;
	char where[384];
	enum pt_code rc;

	if (!label)
		label = "(kubeconfig)";
	if (!cJSON_IsObject(root))
		return pt_error_set(e, PT_INVALID, "kubeconfig %s: not a mapping", label);
	if (!ctx_name) {
		ctx_name = json_get_str(root, "current-context");
		if (!ctx_name || !ctx_name[0])
			return pt_error_set(e, PT_INVALID, "kubeconfig %s: no current-context is set", label);
	}
	ctx_entry = named_entry(root, "contexts", ctx_name);
	if (!ctx_entry)
		return pt_error_set(e, PT_NOTFOUND, "kubeconfig %s: no context named '%s'", label, ctx_name);
	ctx = json_get(ctx_entry, "context");
	snprintf(where, sizeof where, "context '%s'", ctx_name);
	if ((rc = opt_str(ctx, "cluster", where, label, &cl_name, e)) ||
	    (rc = opt_str(ctx, "user", where, label, &user_name, e)) ||
	    (rc = opt_str(ctx, "namespace", where, label, &ns, e)))
		return rc;
	if (!cl_name)
		return pt_error_set(e, PT_INVALID, "kubeconfig %s: context '%s' names no cluster", label, ctx_name);
	cl_entry = named_entry(root, "clusters", cl_name);
	if (!cl_entry)
		return pt_error_set(e, PT_NOTFOUND, "kubeconfig %s: context '%s' names cluster '%s', which is not defined",
				    label, ctx_name, cl_name);
	cl = json_get(cl_entry, "cluster");
	if (user_name) {
		user_entry = named_entry(root, "users", user_name);
		if (!user_entry)
			return pt_error_set(e, PT_NOTFOUND, "kubeconfig %s: context '%s' names user '%s', which is not defined",
					    label, ctx_name, user_name);
		user = json_get(user_entry, "user");
		for (size_t i = 0; i < sizeof unsupported_user / sizeof unsupported_user[0]; i++)
			if (json_get(user, unsupported_user[i]))
				return pt_error_set(e, PT_UNSUPPORTED,
						    "kubeconfig %s: user '%s' uses '%s', which podtuner does not support (%s); use a bearer token (token or tokenFile, e.g. from 'kubectl create token') or a client certificate",
						    label, user_name, unsupported_user[i],
						    strcmp(unsupported_user[i], "exec") == 0 ? "exec credential plugins are not run"
						    : strcmp(unsupported_user[i], "auth-provider") == 0 ? "auth-provider plugins were removed from client-go"
						    : unsupported_user[i][0] == 'a' ? "no impersonation"
						    : "basic auth was removed in Kubernetes 1.19");
	}
	snprintf(where, sizeof where, "cluster '%s'", cl_name);
	for (size_t i = 0; i < sizeof unsupported_cluster / sizeof unsupported_cluster[0]; i++)
		if (json_get(cl, unsupported_cluster[i]))
			return pt_error_set(e, PT_UNSUPPORTED, "kubeconfig %s: cluster '%s' uses '%s', which podtuner does not support",
					    label, cl_name, unsupported_cluster[i]);
	if ((rc = opt_str(cl, "server", where, label, &server, e)))
		return rc;
	if (!server)
		return pt_error_set(e, PT_INVALID, "kubeconfig %s: cluster '%s' has no server", label, cl_name);
	if ((strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) ||
	    strpbrk(server, " \t\r\n?#") || strlen(server) >= KUBE_MAX_SERVER_LEN)
		return pt_error_set(e, PT_INVALID, "kubeconfig %s: cluster '%s' has an invalid server '%s' (want https://host[:port])",
				    label, cl_name, server);
	if (!(c = config_new()))
		return pt_error_set(e, PT_NOMEM, "cannot allocate the kubeconfig config: out of memory");
	snprintf(c->server, sizeof c->server, "%s", server);
	for (size_t n = strlen(c->server); n > 8 && c->server[n - 1] == '/'; n--)
		c->server[n - 1] = '\0';
	snprintf(c->source, sizeof c->source, "kubeconfig %s context '%s'", label, ctx_name);
	if (ns) {
		if (strlen(ns) >= sizeof c->namespace) {
			rc = pt_error_set(e, PT_INVALID, "kubeconfig %s: namespace '%s' of context '%s' is too long",
					  label, ns, ctx_name);
			goto out;
		}
		snprintf(c->namespace, sizeof c->namespace, "%s", ns);
	}
	{
		const cJSON *ins = json_get(cl, "insecure-skip-tls-verify");

		if (ins && !cJSON_IsBool(ins)) {
			rc = pt_error_set(e, PT_INVALID, "kubeconfig %s: 'insecure-skip-tls-verify' of %s must be true or false",
					  label, where);
			goto out;
		}
		c->insecure = cJSON_IsTrue(ins);
	}
	if ((rc = load_pem(cl, "certificate-authority-data", "certificate-authority", where, label,
			   base_dir, &c->ca_pem, &c->ca_pem_len, e)))
		goto out;
	/* client-go's validation refuses this pair too. */
	if (c->insecure && c->ca_pem) {
		rc = pt_error_set(e, PT_INVALID,
				  "kubeconfig %s: cluster '%s' sets both a certificate authority and insecure-skip-tls-verify",
				  label, cl_name);
		goto out;
	}
	if (user) {
		snprintf(where, sizeof where, "user '%s'", user_name);
		if ((rc = load_pem(user, "client-certificate-data", "client-certificate", where, label,
				   base_dir, &c->cert_pem, &c->cert_pem_len, e)) ||
		    (rc = load_pem(user, "client-key-data", "client-key", where, label, base_dir,
				   &c->key_pem, &c->key_pem_len, e)))
			goto out;
		if (!c->cert_pem != !c->key_pem) {
			rc = pt_error_set(e, PT_INVALID, "kubeconfig %s: %s has a client %s but no client %s",
					  label, where, c->cert_pem ? "certificate" : "key",
					  c->cert_pem ? "key" : "certificate");
			goto out;
		}
		if ((rc = opt_str(user, "token", where, label, &token, e)) ||
		    (rc = opt_str(user, "tokenFile", where, label, &token_file, e)))
			goto out;
		/* client-go: "If both Token and TokenFile are present, Token
		 * takes precedence" (clientcmd/api/v1 AuthInfo). */
		if (token) {
			char what[PATH_MAX + 512];

			if (strlen(token) > KUBE_MAX_TOKEN_BYTES) {
				rc = pt_error_set(e, PT_LIMIT, "kubeconfig %s: the token of %s is too long", label, where);
				goto out;
			}
			if (!(c->token = strdup(token))) {
				rc = pt_error_set(e, PT_NOMEM, "cannot copy the token: out of memory");
				goto out;
			}
			snprintf(what, sizeof what, "kubeconfig %s %s", label, where);
			if ((rc = clean_token(c->token, what, e)))
				goto out;
		} else if (token_file) {
			struct buf tok;

			if ((rc = resolve(base_dir, token_file, c->token_file, sizeof c->token_file, e)))
				goto out;
			buf_init(&tok, KUBE_MAX_TOKEN_BYTES);
			rc = kube_config_token(c, &tok, e);
			buf_release(&tok);
			if (rc)
				goto out;
		}
	}
	*out = c;
	return PT_OK;
out:
	kube_config_free(c);
	return rc;
}

enum pt_code kube_config_load_file(const char *path, const char *context, struct kube_config **out,
				   struct pt_error *e)
{
	struct ystream *ys = NULL;
	cJSON *root = NULL;
	char dir[PATH_MAX], label[PATH_MAX + 2];
	enum pt_code rc;

	if ((rc = yaml_parse_file(path, &ys, e)))
		return rc;
	if (ys->n_docs != 1 || !ys->docs[0].root) {
		rc = pt_error_set(e, PT_INVALID, "kubeconfig '%s': expected one YAML document, found %zu", path,
				  ys->n_docs);
		goto out;
	}
	if (!(root = yaml_to_json(ys->docs[0].root, e))) {
		rc = e ? e->code : PT_INVALID;
		goto out;
	}
	fileio_dirname(path, dir, sizeof dir);
	snprintf(label, sizeof label, "'%s'", path);
	rc = kube_config_from_json(root, label, dir, context, out, e);
out:
	cJSON_Delete(root);
	yaml_stream_free(ys);
	return rc;
}

enum pt_code kube_config_auto(const char *kubeconfig, const char *context, const char *sa_dir,
			      struct kube_config **out, struct pt_error *e)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	struct stat st;

	if (kubeconfig)
		return kube_config_load_file(kubeconfig, context, out, e);
	if (env && env[0]) {
		if (strchr(env, ':'))
			return pt_error_set(e, PT_UNSUPPORTED,
					    "KUBECONFIG lists several files ('%s'); merging them is not supported: pass one with --kubeconfig",
					    env);
		return kube_config_load_file(env, context, out, e);
	}
	if (getenv("KUBERNETES_SERVICE_HOST") && !context)
		return kube_config_in_cluster(sa_dir, out, e);
	if (home && home[0] && (size_t)snprintf(path, sizeof path, "%s/.kube/config", home) < sizeof path &&
	    stat(path, &st) == 0)
		return kube_config_load_file(path, context, out, e);
	return pt_error_set(e, PT_NOTFOUND,
			    "no Kubernetes API config: give --kubeconfig, set KUBECONFIG, run in a cluster, or create ~/.kube/config");
}

enum pt_code kube_status_code(long status)
{
	if (status >= 200 && status < 300)
		return PT_OK;
	switch (status) {
	case 400: case 422: return PT_INVALID;
	case 401: case 403: return PT_PERM;
	case 404: return PT_NOTFOUND;
	case 405: case 415: return PT_UNSUPPORTED;
	case 409: return PT_BUSY;
	case 410: return PT_GONE;
	case 413: return PT_LIMIT;
	case 429: case 503: return PT_AGAIN;
	case 504: return PT_TIMEOUT;
	default: return PT_HTTP;
	}
}

static const char *reason_phrase(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* The message of a Status body, made printable and bounded, into buf. */
static void status_message(const struct http_response *resp, char *buf, size_t len)
{
	cJSON *st = NULL;
	const char *msg = NULL;
	size_t i, o = 0;

	buf[0] = '\0';
	if (resp->body.len)
		st = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	msg = json_get_str(st, "message");
	if (!msg)
		msg = resp->body.data ? resp->body.data : "";
	for (i = 0; msg[i] && o + 4 < len && i < KUBE_MAX_STATUS_MESSAGE; i++) {
		unsigned char ch = (unsigned char)msg[i];

		buf[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	if (msg[i] && o + 4 <= len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	cJSON_Delete(st);
}

enum pt_code kube_request(struct kube_config *cfg, struct http_client *c, const struct kube_call *call,
			  struct http_response *resp, struct pt_error *e)
{
	const char *method = call->method ? call->method : "GET";
	struct http_request req = {0};
	struct buf url, token;
	enum pt_code rc;

	buf_init(&url, KUBE_MAX_SERVER_LEN + KUBE_MAX_PATH_LEN);
	buf_init(&token, KUBE_MAX_TOKEN_BYTES);
	if (!call->path || call->path[0] != '/') {
		rc = pt_error_set(e, PT_INVALID, "cannot %s '%s': an API path must start with '/'", method,
				  call->path ? call->path : "");
		goto out;
	}
	if ((rc = buf_puts(&url, cfg->server)) || (rc = buf_puts(&url, call->path))) {
		pt_error_set(e, rc, "cannot %s '%s': the URL is too long", method, call->path);
		goto out;
	}
	if ((rc = kube_config_token(cfg, &token, e)))
		goto out;
	req.method = method;
	req.url = url.data;
	req.body = call->body;
	req.body_len = call->body_len;
	req.content_type = call->content_type;
	req.ca_pem = cfg->ca_pem;
	req.ca_pem_len = cfg->ca_pem_len;
	req.insecure = cfg->insecure;
	req.cert_pem = cfg->cert_pem;
	req.cert_pem_len = cfg->cert_pem_len;
	req.key_pem = cfg->key_pem;
	req.key_pem_len = cfg->key_pem_len;
	req.bearer_token = token.len ? token.data : NULL;
	req.timeout_ms = call->timeout_ms;
	req.max_response = call->max_response;
	req.on_chunk = call->on_chunk;
	req.ud = call->ud;
	req.stop = call->stop;
	if ((rc = http_client_do(c, &req, resp, e)))
		goto out;
	if ((rc = kube_status_code(resp->status))) {
		char msg[KUBE_MAX_STATUS_MESSAGE + 8];

		status_message(resp, msg, sizeof msg);
		pt_error_set(e, rc, "cannot %s '%s': %ld %s%s%s", method, call->path, resp->status,
			     reason_phrase(resp->status), msg[0] ? ": " : "", msg);
	}
out:
	if (token.data)
		explicit_bzero(token.data, token.len);
	buf_release(&token);
	buf_release(&url);
	return rc;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static enum pt_code escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum pt_code rc = PT_OK;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (unreserved(*p)) {
			rc = buf_putc(out, (char)*p);
		} else {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			rc = buf_append(out, esc, 3);
		}
	}
	return rc;
}

static enum pt_code segment(struct buf *out, const char *s, const char *what, struct pt_error *e)
{
	enum pt_code rc;

	if (!s[0] || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return pt_error_set(e, PT_INVALID, "invalid %s '%s' in an API path", what, s);
	if ((rc = buf_putc(out, '/')) || (rc = escape(out, s)))
		return pt_error_set(e, rc, "cannot build an API path: %s '%.64s' makes it too long", what, s);
	return PT_OK;
}

enum pt_code kube_path(struct buf *out, const char *api, const char *ns, const char *resource,
		       const char *name, const char *subresource, struct pt_error *e)
{
	size_t start = out->len;
	size_t max = out->max;
	enum pt_code rc = PT_OK;

	if (out->max > start + KUBE_MAX_PATH_LEN)
		out->max = start + KUBE_MAX_PATH_LEN;
	if (!api || api[0] != '/' || strpbrk(api, "?# ")) {
		rc = pt_error_set(e, PT_INVALID, "invalid API prefix '%s'", api ? api : "");
	} else if ((rc = buf_puts(out, api))) {
		pt_error_set(e, rc, "cannot build an API path: prefix too long");
	} else if ((ns && ((rc = segment(out, "namespaces", "segment", e)) ||
			   (rc = segment(out, ns, "namespace", e)))) ||
		   (!resource && (rc = pt_error_set(e, PT_INVALID, "an API path needs a resource"))) ||
		   (rc = segment(out, resource, "resource", e)) ||
		   (name && (rc = segment(out, name, "name", e))) ||
		   (subresource && (rc = segment(out, subresource, "subresource", e)))) {
		/* e is filled */
	}
	out->max = max;
	if (rc && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}

enum pt_code kube_query(struct buf *out, const char *key, const char *value, struct pt_error *e)
{
	size_t start = out->len;
	enum pt_code rc;

	if (!key[0])
		return pt_error_set(e, PT_INVALID, "an API query parameter needs a name");
	if ((rc = buf_putc(out, out->data && strchr(out->data, '?') ? '&' : '?')) || (rc = escape(out, key)) ||
	    (rc = buf_putc(out, '=')) || (rc = escape(out, value))) {
		if (out->data) {
			out->len = start;
			out->data[start] = '\0';
		}
		return pt_error_set(e, rc, "cannot add query parameter '%.64s': %s", key, pt_strerror(rc));
	}
	return PT_OK;
}
