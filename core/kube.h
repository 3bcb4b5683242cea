/* SPDX-License-Identifier: Apache-2.0 */
/* How to reach the Kubernetes API: the connection config (in-cluster
 * ServiceAccount, or a kubeconfig file's context), authenticated requests
 * with Kubernetes Status errors turned into pt_errors, and API paths built
 * with proper escaping. The HTTP itself is core/http_client. */
#ifndef PT_KUBE_H
#define PT_KUBE_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "http_client.h"

/* Where a pod finds its ServiceAccount credentials (token, ca.crt,
 * namespace). A parameter everywhere, so tests can point elsewhere. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Named limits. */
#define KUBE_MAX_TOKEN_BYTES (64u << 10)    /* a bearer token (JWTs are ~1-2 KiB) */
#define KUBE_MAX_PEM_BYTES (1u << 20)       /* a CA bundle, client cert or key */
#define KUBE_MAX_KUBECONFIG_BYTES (4u << 20)
#define KUBE_MAX_SERVER_LEN 1024            /* the server URL */
#define KUBE_MAX_PATH_LEN 8192              /* one API path with its query */
#define KUBE_MAX_STATUS_MESSAGE 400         /* of a Status, quoted in errors */

struct kube_config {
	char server[KUBE_MAX_SERVER_LEN]; /* "https://host:port[/prefix]", no trailing '/' */
	char namespace[64];               /* the default namespace ("default" if none) */
	char source[PATH_MAX + 64];       /* "in-cluster" or "kubeconfig '<path>' context '<ctx>'" */
	bool insecure;                    /* insecure-skip-tls-verify */
	char *ca_pem;                     /* NULL: the system trust store */
	size_t ca_pem_len;
	char *cert_pem;                   /* client certificate, or NULL */
	size_t cert_pem_len;
	char *key_pem;
	size_t key_pem_len;
	/* The bearer token: a static one, or one re-read from token_file
	 * whenever the file changes (bound ServiceAccount tokens rotate:
	 * the kubelet swaps in a new file before the old token expires). */
	char token_file[PATH_MAX];        /* "" for a static token or none */
	pthread_mutex_t lock;             /* guards the four fields below */
	char *token;                      /* NULL: no token */
	dev_t token_dev;
	ino_t token_ino;
	struct timespec token_mtime;
	off_t token_size;
};

/* One API call. path starts with '/' and is already escaped (kube_path,
 * kube_query); it is appended to the config's server. */
struct kube_call {
	const char *method;        /* NULL: "GET" */
	const char *path;
	const char *content_type;  /* of body */
	const char *body;
	size_t body_len;
	long timeout_ms;           /* as http_request.timeout_ms */
	size_t max_response;       /* 0: HTTP_DEFAULT_MAX_RESPONSE */
	http_chunk_fn on_chunk;    /* stream the body (a watch) */
	void *ud;
	const atomic_bool *stop;
};

/* The in-cluster config: server https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT (IPv6 hosts bracketed), CA from sa_dir/ca.crt,
 * token re-read from sa_dir/token, namespace from sa_dir/namespace
 * ("default" if absent). sa_dir NULL means KUBE_SA_DIR. PT_NOTFOUND when
 * the variables are unset (not in a cluster); other failures name the
 * file. On success *out is yours to kube_config_free; on failure it is
 * untouched. */
enum pt_code kube_config_in_cluster(const char *sa_dir, struct kube_config **out,
				    struct pt_error *e) PT_WUR;

/* The config of one context of a kubeconfig already parsed into JSON
 * (kubectl's model: clusters[], users[], contexts[], current-context).
 * context NULL means current-context. Relative file paths are resolved
 * against base_dir (the kubeconfig's directory, as client-go does). Supports
 * server, certificate-authority(-data), insecure-skip-tls-verify, token,
 * tokenFile, client-certificate(-data), client-key(-data); the -data form
 * wins over the file form. Fails with PT_UNSUPPORTED, naming the field,
 * for exec and auth-provider plugins, basic auth, impersonation, proxy-url
 * and tls-server-name, rather than connecting without them. label names
 * the file in messages. */
enum pt_code kube_config_from_json(const cJSON *root, const char *label, const char *base_dir,
				   const char *context, struct kube_config **out,
				   struct pt_error *e) PT_WUR;

/* Read a kubeconfig file (YAML or JSON, at most KUBE_MAX_KUBECONFIG_BYTES)
 * and take one of its contexts, as kube_config_from_json. */
enum pt_code kube_config_load_file(const char *path, const char *context, struct kube_config **out,
				   struct pt_error *e) PT_WUR;

/* The usual search: kubeconfig if given; else $KUBECONFIG (a single path:
 * merging a list of files is not supported and says so); else in-cluster
 * when KUBERNETES_SERVICE_HOST is set (sa_dir as above); else
 * $HOME/.kube/config. PT_NOTFOUND when there is nothing to use. */
enum pt_code kube_config_auto(const char *kubeconfig, const char *context, const char *sa_dir,
			      struct kube_config **out, struct pt_error *e) PT_WUR;

/* NULL is a no-op. Key material is wiped before it is freed. */
void kube_config_free(struct kube_config *cfg);

/* Append the current bearer token to out (nothing when there is none),
 * re-reading token_file first if it changed since the last read. A
 * token file that cannot be read while an older token is cached keeps the
 * older token (the kubelet rewrites it atomically, so this is a race, not
 * a state); with no cached token it is an error naming the file.
 * Thread-safe. */
enum pt_code kube_config_token(struct kube_config *cfg, struct buf *out, struct pt_error *e) PT_WUR;

/* Perform call against cfg's server with cfg's credentials. PT_OK means a
 * 2xx status. Any other status fills resp (status and, when buffered, the
 * body) and returns a code for it (400/422 PT_INVALID, 401/403 PT_PERM,
 * 404 PT_NOTFOUND, 409 PT_BUSY, 410 PT_GONE, 413 PT_LIMIT, 415 PT_UNSUPPORTED,
 * 429 and 503 PT_AGAIN, 504 PT_TIMEOUT, else PT_HTTP) with the message
 * "cannot GET '<path>': 404 Not Found: <the Status's message>". Transport
 * failures come from http_client_do. */
enum pt_code kube_request(struct kube_config *cfg, struct http_client *c, const struct kube_call *call,
			  struct http_response *resp, struct pt_error *e) PT_WUR;

/* The pt_code kube_request gives an HTTP status (PT_OK for 2xx). */
enum pt_code kube_status_code(long status);

/* Append an API path: api ("/api/v1" or "/apis/<group>/<version>"), then
 * "/namespaces/<ns>" when ns is not NULL, then "/<resource>", "/<name>" and
 * "/<subresource>" when not NULL. Each segment after api is percent-encoded
 * (RFC 3986 unreserved characters kept), so a name can never add a path
 * segment. PT_LIMIT past KUBE_MAX_PATH_LEN; PT_INVALID for an empty
 * segment or a segment "." or "..". */
enum pt_code kube_path(struct buf *out, const char *api, const char *ns, const char *resource,
		       const char *name, const char *subresource, struct pt_error *e) PT_WUR;

/* Append "?key=value" (or "&key=value" when out already holds a '?'), both
 * percent-encoded: label and field selectors ("app=web,tier!=db") travel
 * safely. */
enum pt_code kube_query(struct buf *out, const char *key, const char *value, struct pt_error *e) PT_WUR;

#endif
