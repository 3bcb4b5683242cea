/* SPDX-License-Identifier: Apache-2.0 */
/* A small synchronous HTTP(S) client over libcurl's easy interface, for the
 * Kubernetes API: one request at a time on a handle that keeps its
 * connection alive between requests. Bodies are buffered up to a cap, or
 * streamed chunk by chunk to a callback (a watch). This is the only file
 * that uses libcurl's easy interface. */
#ifndef PT_HTTP_CLIENT_H
#define PT_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Named limits. */
#define HTTP_DEFAULT_MAX_RESPONSE (16u << 20) /* a buffered body: a big List */
#define HTTP_MAX_HEADERS 32                   /* extra request headers */
#define HTTP_MAX_HEADER_LEN 8192              /* one "Name: value" header */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTP_DEFAULT_TIMEOUT_MS 30000

struct http_client;

/* Receives a streamed body, one chunk of bytes as the network delivers it
 * (no alignment with lines or events: the receiver keeps its own bounded
 * line buffer). Return PT_OK to go on; any other code stops the transfer
 * and http_client_do returns that code with e as the callback filled it
 * (a callback that fills nothing gets "transfer of '<url>' stopped by the
 * receiver"). status is the HTTP status, already known when the first chunk
 * arrives: a watch can tell an event stream (200) from a Status (410). */
typedef enum pt_code (*http_chunk_fn)(void *ud, long status, const char *data, size_t len,
				      struct pt_error *e);

struct http_request {
	const char *method;              /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;                 /* http:// or https:// only */
	const char *const *headers;      /* "Name: value", at most HTTP_MAX_HEADERS */
	size_t n_headers;
	const char *body;                /* borrowed; NULL with body_len 0 for none */
	size_t body_len;
	const char *content_type;        /* of body; NULL for none */
	const char *accept;              /* NULL: "application/json" */

	/* Server verification: at most one of ca_file / ca_pem. When one is
	 * given it is the only trust anchor (the system store is not used,
	 * as kubectl does with a cluster CA). insecure skips verification. */
	const char *ca_file;
	const char *ca_pem;
	size_t ca_pem_len;
	bool insecure;

	/* Client certificate: files or PEM texts (not both), PEM format. */
	const char *cert_file;
	const char *key_file;
	const char *cert_pem;
	size_t cert_pem_len;
	const char *key_pem;
	size_t key_pem_len;

	const char *bearer_token;        /* sent as "Authorization: Bearer ..." */

	long connect_timeout_ms;         /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	long timeout_ms;                 /* whole transfer; 0: the default; -1: none (a watch) */
	size_t max_response;             /* buffered body cap; 0: HTTP_DEFAULT_MAX_RESPONSE */

	http_chunk_fn on_chunk;          /* non-NULL: stream instead of buffering */
	void *ud;

	/* When the flag becomes true the transfer stops within about a
	 * second (libcurl calls its progress hook at least once a second,
	 * even on an idle connection) and http_client_do returns PT_AGAIN. */
	const atomic_bool *stop;
};

struct http_response {
	long status;             /* 0 when no response was received */
	struct buf body;         /* the body when buffered; empty when streamed */
	char content_type[128];  /* as sent, truncated; "" when absent */
};

/* Set up an empty response whose buffered body may grow to max bytes (0:
 * HTTP_DEFAULT_MAX_RESPONSE; the request's max_response, when set, wins). */
void http_response_init(struct http_response *r, size_t max);

/* Free the body; r is empty and reusable. */
void http_response_release(struct http_response *r);

/* Initialise libcurl once for the process (thread-safe; later calls are
 * no-ops). http_client_new calls it, so calling it early is optional; it
 * exists so that a program can initialise before it starts threads. */
enum pt_code http_global_init(struct pt_error *e) PT_WUR;

/* A new client (one libcurl easy handle with its connection cache). One
 * thread at a time may use a client. Returns NULL with e filled on failure. */
struct http_client *http_client_new(struct pt_error *e);

/* NULL is a no-op. */
void http_client_free(struct http_client *c);

/* Perform one request. Any HTTP status is success here: PT_OK means a
 * response was received (see resp->status); callers map statuses. On
 * failure the code says what went wrong and e says
 * "cannot GET 'https://...': <curl's message> (CURLE_...)":
 *   PT_TIMEOUT   connect or transfer timeout
 *   PT_TLS       handshake, verification, or unusable CA/cert/key
 *   PT_IO        resolve, connect, send or receive failure
 *   PT_LIMIT     the buffered body passed max_response
 *   PT_AGAIN     the stop flag was raised
 *   PT_INVALID   a bad request (URL, header with CR/LF, both CA forms...)
 *   or the code a chunk callback returned.
 * resp->status and content_type are filled whenever a status line came in,
 * even on failure. */
enum pt_code http_client_do(struct http_client *c, const struct http_request *req,
			    struct http_response *resp, struct pt_error *e) PT_WUR;

/* The symbolic name of a libcurl result code ("CURLE_COULDNT_CONNECT"), or
 * "CURLE_<n>". Exposed for the scraper, which maps its own results. */
const char *http_curl_code_name(int code);

/* "podtuner/<version>": the User-Agent of every request podtuner makes.
 * Per thread; valid until the thread's next call. */
const char *http_user_agent(void);

#endif
