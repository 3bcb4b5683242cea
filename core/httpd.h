/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP(S) server: libmicrohttpd (epoll thread pool) behind a small
 * route table. Requests are routed and checked (404/405/413/415) before a
 * handler runs; a handler sees the whole body in one buffer and answers from
 * a per-connection arena that is reset when the request completes, so a
 * steady keep-alive load makes no allocation of ours. TLS certificates are
 * served from an atomically swapped pair and reloaded without a restart.
 *
 *   static const struct httpd_route routes[] = {
 *           {"POST", "/mutate", on_mutate, true, "application/json"},
 *           {"GET", "/healthz", on_healthz, false, NULL},
 *   };
 *   struct httpd_config cfg = {.listen = "0.0.0.0:8443",
 *           .tls_cert = "/tls/tls.crt", .tls_key = "/tls/tls.key",
 *           .routes = routes, .n_routes = 2, .user = ctx};
 *   if (httpd_start(&cfg, &srv, &err)) ...
 *   ... httpd_reload_tls(srv, &err) when the Secret changes ...
 *   httpd_stop(srv, 5000);
 *
 * Time limits, in the order a connection meets them:
 *   - idle_timeout_s: a connection with no byte received or sent for this
 *     long is closed (libmicrohttpd's own inactivity timeout);
 *   - request_timeout_ms: a watchdog thread shuts down the socket of a
 *     connection that has not finished receiving a request (request line,
 *     headers and body) within this time of the request line, or has not
 *     finished sending the response within this time of the handler's
 *     return. A client that trickles a byte every few seconds resets the
 *     inactivity timer but not this one. Before the request line is seen
 *     the budget is request_timeout_ms from accept (a fresh connection) or
 *     idle_timeout_s + request_timeout_ms from the previous response (a
 *     kept-alive one), since the first byte of a request is not visible.
 *     The handler's own run time is never cut. */
#ifndef PT_HTTPD_H
#define PT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

#define HTTPD_MAX_ROUTES 32
#define HTTPD_MAX_BODY_DEFAULT ((size_t)3 << 20) /* the apiserver's cap */
#define HTTPD_LISTEN_MAX 128        /* length of a listen address */
#define HTTPD_PEM_MAX ((size_t)1 << 20) /* size of a cert or key file */
#define HTTPD_CHAIN_MAX 8           /* certificates in the cert file */
#define HTTPD_TLS_RETIRED_MAX 4     /* replaced pairs kept for live sessions */
#define HTTPD_SERIAL_MAX 41         /* 20 serial bytes in hex, and a NUL */

/* The default TLS priorities. See httpd.c for why each part is there. */
#define HTTPD_TLS_PRIORITY                                                     \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"           \
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"         \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct httpd;

/* What a handler sees. Every pointer is valid during the handler call only,
 * except memory taken from arena, which lives until the response has been
 * sent. */
struct httpd_req {
	const char *method;       /* "POST" */
	const char *path;         /* "/mutate": unescaped, without the query */
	const char *content_type; /* as sent, parameters included; NULL if absent */
	const char *body;         /* the whole body, NUL-terminated; "" if none */
	size_t body_len;
	struct arena *arena;      /* reset when the request completes */
	void *user;               /* httpd_config.user */
	const void *priv;         /* the server's; for httpd_req_query/_header */
};

/* What a handler fills in. It starts as 200, "application/json", no body.
 * body may point into req->arena, to static storage, or to anything else
 * that outlives the request; it is sent without a copy. An invalid status
 * (outside 100..599) or a header name or value that is empty or holds CR or
 * LF turns the answer into a 500. */
struct httpd_resp {
	unsigned status;
	const char *content_type;
	const char *body;
	size_t body_len;
	const char *header_name;  /* one optional extra header, or NULL */
	const char *header_value;
};

/* Runs on a server thread; several run at once on different connections.
 * It must return in bounded time: httpd_stop waits for running handlers. */
typedef void (*httpd_handler_fn)(const struct httpd_req *req, struct httpd_resp *resp);

struct httpd_route {
	const char *method;        /* exact, e.g. "POST" */
	const char *path;          /* exact, e.g. "/mutate" */
	httpd_handler_fn handler;
	bool needs_body;           /* false: a request with a body gets 413 */
	/* NULL: any Content-Type (or none). Otherwise a comma-separated list
	 * of media types, e.g. "application/json"; a request whose media type
	 * (compared without parameters, case-insensitively) is not listed, or
	 * that has none, gets 415. */
	const char *content_types;
};

/* Zero means "the default" for every number. Strings and routes are
 * borrowed: they must outlive the server. */
struct httpd_config {
	/* "127.0.0.1:8443", "0.0.0.0:8443", "[::]:8443" (dual-stack),
	 * "[::1]:0", ":8443" (= 0.0.0.0). Numeric hosts only; port 0 picks
	 * an ephemeral port (see httpd_port). */
	const char *listen;
	const char *tls_cert;         /* PEM chain, leaf first; NULL = plain HTTP */
	const char *tls_key;          /* PEM key (PKCS#1, PKCS#8 or SEC1), unencrypted */
	const char *tls_priority;     /* NULL = HTTPD_TLS_PRIORITY */
	unsigned threads;             /* 0 = the CPUs this process may run on */
	unsigned max_connections;     /* 0 = 1024 */
	unsigned per_ip_connections;  /* 0 = no per-IP limit */
	unsigned idle_timeout_s;      /* 0 = 120 */
	unsigned request_timeout_ms;  /* 0 = 10000 */
	size_t max_body;              /* 0 = HTTPD_MAX_BODY_DEFAULT */
	size_t arena_chunk;           /* 0 = 64 KiB: one kept per connection */
	size_t arena_max;             /* 0 = 64 MiB: cap per request */
	const struct httpd_route *routes;
	size_t n_routes;              /* 1..HTTPD_MAX_ROUTES */
	void *user;
};

/* Counters since start, read without a lock (each is exact, the set is not
 * a snapshot). */
struct httpd_stats {
	uint64_t connections;        /* accepted */
	uint64_t open_connections;
	uint64_t requests;           /* handed to a handler */
	uint64_t not_found;          /* 404 */
	uint64_t bad_method;         /* 405 */
	uint64_t too_large;          /* 413 */
	uint64_t bad_media_type;     /* 415 */
	uint64_t bad_request;        /* 400/501 given by the route checks */
	uint64_t timed_out;          /* connections cut by the request deadline */
	uint64_t tls_reloads;        /* successful httpd_reload_tls calls */
	uint64_t tls_reload_errors;
};

/* The certificate being served. */
struct httpd_tls_info {
	int64_t not_after;               /* unix time */
	int64_t not_before;
	char serial[HTTPD_SERIAL_MAX];   /* upper-case hex, as `openssl x509 -serial` */
	unsigned retired;                /* replaced pairs still held by sessions */
};

/* Bind, load the TLS pair (if configured) and start serving. On success
 * *out is the running server, to be ended with httpd_stop. On failure
 * returns the code, fills err (e.g. "cannot bind '127.0.0.1:8443':
 * Address already in use (EADDRINUSE)", "cannot load TLS key
 * '/tls/tls.key': ...") and leaves *out untouched. */
enum pt_code httpd_start(const struct httpd_config *cfg, struct httpd **out,
			 struct pt_error *err) PT_WUR;

/* The port the server is bound to (useful with port 0). */
uint16_t httpd_port(const struct httpd *s);

/* Re-open and re-read the configured cert and key files (Secret volumes
 * swap a `..data` symlink, so the paths are always opened anew) and, if
 * the chain parses, the key parses and matches the leaf, serve the new pair
 * to new handshakes. Sessions that already use the old pair keep it; it is
 * freed when the last of them closes. When more than HTTPD_TLS_RETIRED_MAX
 * replaced pairs are still in use, the connections holding the oldest are
 * shut down, so the memory stays bounded. On failure the old pair stays in
 * service, the code is returned and err says what was wrong; a cert and key
 * read mid-swap show up as PT_TLS "does not match" and a later call will
 * succeed. PT_USAGE on a plain-HTTP server. Safe to call from any thread. */
enum pt_code httpd_reload_tls(struct httpd *s, struct pt_error *err) PT_WUR;

/* The served certificate's details. PT_USAGE (out untouched) on a
 * plain-HTTP server. */
enum pt_code httpd_tls_info(struct httpd *s, struct httpd_tls_info *out) PT_WUR;

void httpd_stats(const struct httpd *s, struct httpd_stats *out);

/* A query argument of the request ("timeout" of "?timeout=10s"),
 * unescaped, or NULL. Valid during the handler call. */
const char *httpd_req_query(const struct httpd_req *req, const char *key);

/* A request header (name case-insensitive), or NULL. Valid during the
 * handler call. */
const char *httpd_req_header(const struct httpd_req *req, const char *name);

/* Ask clients to move off this server without refusing anyone: from now
 * on every response carries `Connection: close`, so a kept-alive client
 * sends at most one more request on its connection and then reconnects
 * (through a Service, to another replica once this one has left the
 * endpoints). New connections are still accepted and served. Without
 * this, a client kept alive across the shutdown delay is cut at
 * httpd_stop, and a POST it sends in that instant fails: Go's http
 * client retries a non-idempotent request only when none of it was
 * written (net/http transport.go shouldRetryRequest). Idempotent; safe
 * from any thread. */
void httpd_drain(struct httpd *s);

/* Stop gracefully and free the server: stop accepting at once (new
 * connections are refused), close idle kept-alive connections, mark
 * responses from then on `Connection: close`, let requests in progress
 * finish for up to grace_ms, then close everything. "In progress" counts
 * a request being received or handled, bytes queued on a kept-alive
 * connection, and a connection accepted before the stop that has not sent
 * its first request yet (its client is about to; the request deadline
 * still applies to it). Returns PT_OK when all
 * requests finished in time, PT_TIMEOUT when some were cut. The time taken
 * is grace_ms plus the longest handler still running at that point.
 * httpd_stop(NULL, ...) does nothing and returns PT_OK. */
enum pt_code httpd_stop(struct httpd *s, unsigned grace_ms);

#endif
