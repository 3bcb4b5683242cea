/* SPDX-License-Identifier: Apache-2.0 */
/* The one file that uses libmicrohttpd and, for the server's certificates,
 * GnuTLS. Invariants: a connection's request state is touched only by the
 * MHD thread that owns the connection; what the watchdog and httpd_stop
 * look at (phase, deadline, cut) is guarded by httpd.lock; which TLS pair a
 * session uses, and the pairs' reference counts, by httpd.tls_lock. Lock
 * order: lock before tls_lock. */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "buf.h"
#include "log.h"

#define DEFAULT_MAX_CONNECTIONS 1024
/* Longer than the apiserver's 90 s idle timeout (Go's
 * http.DefaultTransport.IdleConnTimeout, applied by k8s.io/apimachinery
 * util/net SetOldTransportDefaults), so the apiserver, not us, closes an
 * idle connection and never races a request against our close. */
#define DEFAULT_IDLE_S 120
/* The apiserver's default webhook timeoutSeconds; it gives up after it. */
#define DEFAULT_REQUEST_MS 10000
#define DEFAULT_ARENA_CHUNK ((size_t)64 << 10)
#define DEFAULT_ARENA_MAX ((size_t)64 << 20)
#define THREADS_MAX 256
#define METHOD_MAX 16
#define PATH_MAX_LEN 256
#define CTYPES_MAX 200
#define ALLOW_MAX 128
#define BODY_KEEP ((size_t)256 << 10) /* a larger body buffer is freed after use */
#define WATCHDOG_STACK ((size_t)64 << 10) /* the watchdog's and the acceptor's */
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define DRAIN_POLL_NS (50 * NS_PER_MS) /* httpd_stop's look at waiting connections */
/* A connection handed to MHD is counted as pending until MHD announces it;
 * MHD may drop one without a word (its own limit), so a count that has not
 * moved for this long is reset. */
#define ACCEPT_PENDING_NS (100 * NS_PER_MS)
#define ACCEPT_BACKOFF_NS (50 * NS_PER_MS) /* after EMFILE and the like */

/* Where a connection is, as the watchdog and httpd_stop see it. */
enum phase {
	PH_WAIT,    /* no request in progress (before the request line) */
	PH_HEAD,    /* request line seen: receiving headers and body */
	PH_HANDLER, /* the handler runs: never cut */
	PH_REPLY,   /* the handler returned: sending the response */
};

struct tls_pair {
	struct tls_pair *next; /* in the retired list, newest first */
	unsigned refs;         /* sessions that selected this pair */
	bool doomed;           /* over the retired bound: holders get cut */
	unsigned n;
	gnutls_pcert_st pcerts[HTTPD_CHAIN_MAX];
	gnutls_privkey_t key;
	int64_t not_after;
	int64_t not_before;
	char serial[HTTPD_SERIAL_MAX];
};

struct route {
	struct httpd_route r;
	char allow[ALLOW_MAX];  /* every method routed for this path */
	char msg_415[CTYPES_MAX + 80];
};

struct conn {
	struct conn *prev, *next; /* in httpd.conns */
	struct httpd *s;
	int fd;
	/* under httpd.lock */
	enum phase phase;
	bool cut;
	bool used;        /* a request line has been seen on it */
	int64_t deadline; /* monotonic ns */
	/* under httpd.tls_lock */
	struct tls_pair *pair;
	/* the owning MHD thread only */
	bool head_done;
	unsigned reject;            /* a status to answer instead of the handler */
	const char *reject_msg;     /* its body: static or the server's */
	const char *reject_allow;   /* the Allow header of a 405 */
	size_t discarded;
	const struct route *route;
	struct arena arena;
	struct buf body;
};

struct httpd {
	struct MHD_Daemon *mhd;
	int lfd;              /* our listen socket: we accept, MHD serves */
	uint16_t port;
	struct route routes[HTTPD_MAX_ROUTES];
	size_t n_routes;
	size_t max_body, arena_chunk, arena_max;
	int64_t req_ns, idle_ns, tick_ns;
	void *user;
	const char *cert_path, *key_path;
	bool tls;
	atomic_bool starting; /* MHD_start_daemon runs: keep its last message */
	pthread_t starter;
	char start_msg[256];
	char msg_413[96];

	pthread_mutex_t lock;
	pthread_cond_t wd_cond;
	pthread_cond_t drain_cond;
	struct conn *conns;
	int64_t wd_wake_at; /* INT64_MAX: asleep until signalled */
	bool wd_stop;
	bool wd_started;
	pthread_t wd_thread;
	atomic_bool draining;
	/* the acceptor, under lock */
	pthread_cond_t acc_cond;
	unsigned max_conns;
	unsigned open_conns; /* announced by MHD (NOTIFY_STARTED) and not closed */
	unsigned pending;    /* handed to MHD, not announced yet */
	bool acc_stop;
	bool acc_started;
	pthread_t acc_thread;

	pthread_mutex_t tls_lock;
	pthread_mutex_t reload_lock;
	struct tls_pair *cur;
	struct tls_pair *retired;
	unsigned n_retired;

	struct {
		atomic_uint_fast64_t connections, open_connections, requests,
			not_found, bad_method, too_large, bad_media_type,
			bad_request, timed_out, tls_reloads, tls_reload_errors;
	} st;
};

static const char E501_TE[] = "{\"code\":501,\"message\":\"transfer encoding not supported\"}";
static const char E404[] = "{\"code\":404,\"message\":\"no route for this path\"}";
static const char E405[] = "{\"code\":405,\"message\":\"method not allowed\"}";
static const char E413_NOBODY[] = "{\"code\":413,\"message\":\"this route takes no request body\"}";
static const char E500[] = "{\"code\":500,\"message\":\"internal error\"}";
static const char E503[] = "{\"code\":503,\"message\":\"out of memory\"}";
static const char JSON[] = "application/json";

#define STAT_INC(s, f) atomic_fetch_add_explicit(&(s)->st.f, 1, memory_order_relaxed)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S};

	return ts;
}

/* ---- TLS pairs ---------------------------------------------------------- */

static void pair_free(struct tls_pair *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/* Read a whole PEM file of at most HTTPD_PEM_MAX bytes. */
static enum pt_code read_pem(const char *path, const char *what, gnutls_datum_t *out,
			     struct pt_error *err)
{
	enum pt_code rc = PT_OK;
	unsigned char *data = NULL;
	struct stat st;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pt_error_sys(err, errno, "cannot open %s '%s'", what, path);
	if (fstat(fd, &st) != 0) {
		rc = pt_error_sys(err, errno, "cannot stat %s '%s'", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pt_error_set(err, PT_INVALID, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > HTTPD_PEM_MAX) {
		rc = pt_error_set(err, PT_LIMIT, "%s '%s' exceeds %zu bytes", what, path,
				  HTTPD_PEM_MAX);
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		rc = pt_error_set(err, PT_NOMEM, "cannot read %s '%s': out of memory", what, path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pt_error_sys(err, errno, "cannot read %s '%s'", what, path);
			goto out;
		}
		if (n == 0)
			break; /* truncated under us: parse what is there */
		len += (size_t)n;
	}
	data[len] = '\0';
	out->data = data;
	out->size = (unsigned)len;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

static void datum_wipe(gnutls_datum_t *d)
{
	if (d->data) {
		explicit_bzero(d->data, d->size);
		free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

static void serial_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, o = 0;

	/* DER puts a 0x00 before a serial whose top bit is set; openssl's
	 * x509 -serial prints the number without it. */
	while (i + 1 < n && b[i] == 0)
		i++;
	for (; i < n; i++) {
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

static enum pt_code cert_details(struct tls_pair *p, const char *path, struct pt_error *err)
{
	unsigned char sbuf[64];
	size_t slen = sizeof sbuf;
	gnutls_x509_crt_t crt = NULL;
	enum pt_code rc = PT_OK;
	int ret;

	if ((ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = gnutls_x509_crt_import(crt, &p->pcerts[0].cert, GNUTLS_X509_FMT_DER)) < 0) {
		rc = pt_error_set(err, PT_TLS, "cannot read TLS certificate '%s': %s (gnutls_x509_crt_import)",
				  path, gnutls_strerror(ret));
		goto out;
	}
	p->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	p->not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	ret = gnutls_x509_crt_get_serial(crt, sbuf, &slen);
	if (ret < 0 || slen == 0 || slen > (HTTPD_SERIAL_MAX - 1) / 2 + 1) {
		rc = pt_error_set(err, PT_TLS, "cannot read the serial of TLS certificate '%s': %s (gnutls_x509_crt_get_serial)",
				  path, ret < 0 ? gnutls_strerror(ret) : "longer than 20 bytes");
		goto out;
	}
	if (slen > (HTTPD_SERIAL_MAX - 1) / 2 && sbuf[0] != 0) {
		rc = pt_error_set(err, PT_TLS, "cannot read the serial of TLS certificate '%s': longer than 20 bytes",
				  path);
		goto out;
	}
	serial_hex(sbuf, slen, p->serial);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

/* Whether the private key is the one the leaf certificate certifies. */
static enum pt_code key_matches(struct tls_pair *p, const char *cert_path, const char *key_path,
				struct pt_error *err)
{
	unsigned char id_key[64], id_crt[64];
	size_t n_key = sizeof id_key, n_crt = sizeof id_crt;
	gnutls_pubkey_t pub = NULL;
	enum pt_code rc = PT_OK;
	int ret;

	if ((ret = gnutls_pubkey_init(&pub)) < 0 ||
	    (ret = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 ||
	    (ret = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id_key, &n_key)) < 0 ||
	    (ret = gnutls_pubkey_get_key_id(p->pcerts[0].pubkey, GNUTLS_KEYID_USE_SHA256, id_crt,
					    &n_crt)) < 0) {
		rc = pt_error_set(err, PT_TLS, "cannot compare TLS key '%s' with certificate '%s': %s (gnutls_pubkey_get_key_id)",
				  key_path, cert_path, gnutls_strerror(ret));
		goto out;
	}
	if (n_key != n_crt || memcmp(id_key, id_crt, n_key) != 0)
		rc = pt_error_set(err, PT_TLS, "TLS key '%s' does not match certificate '%s'",
				  key_path, cert_path);
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	return rc;
}

/* Load a cert chain and its key from the files, as they are now. */
static enum pt_code pair_load(const char *cert_path, const char *key_path, struct tls_pair **out,
			      struct pt_error *err)
{
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	struct tls_pair *p;
	enum pt_code rc;
	int ret;

	p = calloc(1, sizeof *p);
	if (!p)
		return pt_error_set(err, PT_NOMEM, "cannot load TLS pair: out of memory");
	if ((rc = read_pem(cert_path, "TLS certificate", &cert, err)) ||
	    (rc = read_pem(key_path, "TLS key", &key, err)))
		goto out;

	p->n = HTTPD_CHAIN_MAX;
	ret = gnutls_pcert_list_import_x509_raw(p->pcerts, &p->n, &cert, GNUTLS_X509_FMT_PEM,
						GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED |
						GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (ret < 0 || p->n == 0) {
		p->n = 0;
		rc = pt_error_set(err, ret == GNUTLS_E_SHORT_MEMORY_BUFFER ? PT_LIMIT : PT_TLS,
				  "cannot load TLS certificate '%s': %s (gnutls_pcert_list_import_x509_raw)",
				  cert_path,
				  ret == GNUTLS_E_SHORT_MEMORY_BUFFER ? "more than 8 certificates"
				  : ret < 0 ? gnutls_strerror(ret) : "no certificate");
		goto out;
	}
	if ((ret = gnutls_privkey_init(&p->key)) < 0 ||
	    (ret = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		rc = pt_error_set(err, PT_TLS, "cannot load TLS key '%s': %s (gnutls_privkey_import_x509_raw)",
				  key_path, gnutls_strerror(ret));
		goto out;
	}
	if ((rc = key_matches(p, cert_path, key_path, err)) ||
	    (rc = cert_details(p, cert_path, err)))
		goto out;
	*out = p;
	p = NULL;
out:
	datum_wipe(&key);
	datum_wipe(&cert);
	pair_free(p);
	return rc;
}

/* A connection's session is done with its pair. */
static void pair_put(struct httpd *s, struct tls_pair *p)
{
	struct tls_pair **pp;
	bool dead = false;

	pthread_mutex_lock(&s->tls_lock);
	if (--p->refs == 0 && p != s->cur) {
		for (pp = &s->retired; *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				s->n_retired--;
				break;
			}
		}
		dead = true;
	}
	pthread_mutex_unlock(&s->tls_lock);
	if (dead)
		pair_free(p);
}

/* gnutls_certificate_retrieve_function2: GnuTLS calls it during each
 * handshake and keeps the returned pointers in the session until
 * gnutls_deinit; with this callback type it never frees them (gnutls
 * lib/cert-cred.c call_legacy_cert_cb2: "flags will be assumed to be
 * zero", i.e. no GNUTLS_CERT_RETR_DEINIT_ALL). So a session holds a
 * reference to its pair, dropped at MHD_CONNECTION_NOTIFY_CLOSED, which
 * libmicrohttpd 0.9.75 calls after gnutls_deinit (daemon.c
 * MHD_cleanup_connections). */
static int on_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		   gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct MHD_Connection *mc = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	struct tls_pair *p;
	struct conn *c;

	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	ci = mc ? MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
	c = ci ? ci->socket_context : NULL;
	if (!c)
		return -1;
	pthread_mutex_lock(&c->s->tls_lock);
	if (!c->pair) {
		c->pair = c->s->cur;
		c->pair->refs++;
	}
	p = c->pair; /* a renegotiation keeps the session's pair */
	pthread_mutex_unlock(&c->s->tls_lock);
	*pcert = p->pcerts;
	*pcert_length = p->n;
	*privkey = p->key;
	return 0;
}

/* ---- connections, deadlines and the watchdog ----------------------------- */

/* Set a connection's phase and deadline; call with s->lock held. */
static void conn_set(struct httpd *s, struct conn *c, enum phase ph, int64_t deadline)
{
	c->phase = ph;
	c->deadline = deadline;
	if (deadline < s->wd_wake_at)
		pthread_cond_signal(&s->wd_cond);
}

static void conn_cut(struct conn *c)
{
	/* shutdown, not close: the fd stays MHD's, and it stays valid while
	 * we hold s->lock because MHD calls NOTIFY_CLOSED (which unlinks the
	 * connection under the lock) before it closes the socket. The peer
	 * sees EOF; MHD sees a read error and closes the connection. */
	shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
}

/* Whether a request still being received can never complete: the peer
 * has closed its side (CLOSE_WAIT) and everything it sent has been read.
 * libmicrohttpd 0.9.75 misses that EOF when the last body bytes and the
 * FIN arrive together (found by test_bad_clients; its epoll is
 * edge-triggered), and the connection would sit until a timeout. */
static bool peer_gone(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	int inq = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_state != TCP_CLOSE_WAIT)
		return false;
	return ioctl(fd, FIONREAD, &inq) == 0 && inq == 0;
}

/* Whether bytes have arrived that the connection's thread has not read
 * yet: on a connection waiting for a request, the start of one. */
static bool input_pending(int fd)
{
	int inq = 0;

	return ioctl(fd, FIONREAD, &inq) == 0 && inq > 0;
}

/* Cuts connections that are past their deadline. libmicrohttpd 0.9.75 has
 * only an inactivity timeout, which every received byte renews
 * (connection.c MHD_connection_handle_read -> MHD_update_last_activity_),
 * so a client trickling bytes is never cut by it. It sleeps until the
 * earliest deadline but at most one tick, so that a new deadline (always
 * later than now + tick) never needs a wake-up call: requests make no
 * syscall for it. */
static void *watchdog_main(void *arg)
{
	struct httpd *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->wd_stop) {
		int64_t now = now_ns(), next = INT64_MAX;

		for (struct conn *c = s->conns; c; c = c->next) {
			if (c->cut || c->phase == PH_HANDLER)
				continue;
			if (c->deadline <= now) {
				conn_cut(c);
				STAT_INC(s, timed_out);
			} else if (c->phase == PH_HEAD && peer_gone(c->fd)) {
				conn_cut(c);
			} else if (c->deadline < next) {
				next = c->deadline;
			}
		}
		if (next == INT64_MAX) {
			s->wd_wake_at = INT64_MAX;
			pthread_cond_wait(&s->wd_cond, &s->lock);
		} else {
			struct timespec ts;

			if (next > now + s->tick_ns)
				next = now + s->tick_ns;
			s->wd_wake_at = next;
			ts = to_timespec(next);
			pthread_cond_timedwait(&s->wd_cond, &s->lock, &ts);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct httpd *s = cls;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

		STAT_INC(s, connections);
		/* Without a conn the request callbacks answer MHD_NO and
		 * the TLS callback fails the handshake: the connection is
		 * closed at once. */
		c = ci ? calloc(1, sizeof *c) : NULL;
		*socket_context = c;
		pthread_mutex_lock(&s->lock);
		if (s->pending)
			s->pending--;
		if (c)
			s->open_conns++;
		pthread_cond_signal(&s->acc_cond);
		pthread_mutex_unlock(&s->lock);
		if (!c)
			return;
		c->s = s;
		c->fd = ci->connect_fd;
		arena_init(&c->arena, s->arena_chunk, s->arena_max);
		buf_init(&c->body, s->max_body);
		atomic_fetch_add_explicit(&s->st.open_connections, 1, memory_order_relaxed);
		pthread_mutex_lock(&s->lock);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		conn_set(s, c, PH_WAIT, now_ns() + s->req_ns);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || !c)
		return;
	pthread_mutex_lock(&s->lock);
	s->open_conns--;
	pthread_cond_signal(&s->acc_cond); /* a slot is free */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (atomic_load_explicit(&s->draining, memory_order_relaxed))
		pthread_cond_broadcast(&s->drain_cond);
	pthread_mutex_unlock(&s->lock);
	if (c->pair)
		pair_put(s, c->pair);
	arena_release(&c->arena);
	buf_release(&c->body);
	free(c);
	*socket_context = NULL;
	atomic_fetch_sub_explicit(&s->st.open_connections, 1, memory_order_relaxed);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line has been received. Its
 * return value becomes the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct httpd *s = cls;
	struct conn *c = conn_of(mc);

	(void)uri;
	if (!c)
		return NULL;
	c->head_done = false;
	pthread_mutex_lock(&s->lock);
	c->used = true;
	conn_set(s, c, PH_HEAD, now_ns() + s->req_ns);
	pthread_mutex_unlock(&s->lock);
	return c;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *s = cls;
	struct conn *c = *req_cls;

	(void)mc;
	(void)toe;
	if (!c)
		return;
	arena_reset(&c->arena);
	if (c->body.cap > BODY_KEEP)
		buf_release(&c->body);
	else
		buf_reset(&c->body);
	c->route = NULL;
	c->reject = 0;
	c->reject_msg = NULL;
	c->reject_allow = NULL;
	c->discarded = 0;
	c->head_done = false;
	pthread_mutex_lock(&s->lock);
	conn_set(s, c, PH_WAIT, now_ns() + s->idle_ns + s->req_ns);
	if (atomic_load_explicit(&s->draining, memory_order_relaxed))
		pthread_cond_broadcast(&s->drain_cond);
	pthread_mutex_unlock(&s->lock);
}

/* MHD_OPTION_UNESCAPE_CALLBACK. libmicrohttpd turns "%00" into a NUL in
 * the middle of the path, which would make "/mutate%00x" route as
 * "/mutate"; such text is left escaped instead, so it routes nowhere. */
static size_t on_unescape(void *cls, struct MHD_Connection *mc, char *s)
{
	(void)cls;
	(void)mc;
	if (strstr(s, "%00"))
		return strlen(s);
	return MHD_http_unescape(s);
}

/* MHD_LogCallback; MHD formats only through it, and only at debug level is
 * anything formatted, so a flood of bad requests costs no log writes. */
__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *s = cls;
	char msg[512];
	int n;

	if (atomic_load(&s->starting) && pthread_equal(pthread_self(), s->starter)) {
		va_list cp;

		va_copy(cp, ap);
		vsnprintf(s->start_msg, sizeof s->start_msg, fmt, cp);
		va_end(cp);
		s->start_msg[strcspn(s->start_msg, "\n")] = '\0';
	}
	if (log_threshold > LOG_DEBUG)
		return;
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n <= 0)
		return;
	n = (size_t)n >= sizeof msg ? (int)sizeof msg - 1 : n;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_err(LOG_DEBUG, "libmicrohttpd", msg);
}

/* ---- requests ------------------------------------------------------------ */

static enum MHD_Result queue(struct httpd *s, struct MHD_Connection *mc, unsigned status,
			     const char *ctype, const char *body, size_t len,
			     const char *hname, const char *hval)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	/* PERSISTENT: MHD sends straight from body, which lives in the
	 * connection's arena or static storage until the request completes. */
	r = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if ((ctype && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) ||
	    (hname && MHD_add_response_header(r, hname, hval) != MHD_YES) ||
	    (atomic_load_explicit(&s->draining, memory_order_relaxed) &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ok = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reject(struct httpd *s, struct MHD_Connection *mc, unsigned status,
			      const char *msg, const char *hname, const char *hval)
{
	return queue(s, mc, status, JSON, msg, strlen(msg), hname, hval);
}

static enum MHD_Result send_reject(struct httpd *s, struct conn *c, struct MHD_Connection *mc)
{
	pthread_mutex_lock(&s->lock);
	conn_set(s, c, PH_REPLY, now_ns() + s->req_ns);
	pthread_mutex_unlock(&s->lock);
	return reject(s, mc, c->reject, c->reject_msg,
		      c->reject_allow ? MHD_HTTP_HEADER_ALLOW : NULL, c->reject_allow);
}

static bool header_ok(const char *name, const char *value)
{
	return name && value && name[0] && value[0] && !name[strcspn(name, " \t\r\n:")] &&
	       !value[strcspn(value, "\r\n")];
}

static enum MHD_Result dispatch(struct httpd *s, struct conn *c, struct MHD_Connection *mc,
				const char *path, const char *method)
{
	struct httpd_resp resp = {.status = 200, .content_type = JSON, .body = ""};
	struct httpd_req req = {
		.method = method,
		.path = path,
		.content_type = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = c->body.data ? c->body.data : "",
		.body_len = c->body.len,
		.arena = &c->arena,
		.user = s->user,
		.priv = mc,
	};

	pthread_mutex_lock(&s->lock);
	conn_set(s, c, PH_HANDLER, INT64_MAX);
	pthread_mutex_unlock(&s->lock);
	STAT_INC(s, requests);
	c->route->r.handler(&req, &resp);
	pthread_mutex_lock(&s->lock);
	conn_set(s, c, PH_REPLY, now_ns() + s->req_ns);
	pthread_mutex_unlock(&s->lock);

	if (resp.status < 100 || resp.status > 599 ||
	    (resp.content_type && !header_ok("Content-Type", resp.content_type)) ||
	    (resp.header_name && !header_ok(resp.header_name, resp.header_value)) ||
	    (resp.body_len && !resp.body)) {
		struct log_line l;

		if (log_begin(&l, LOG_ERROR, "handler gave an invalid response")) {
			log_str(&l, "method", method);
			log_str(&l, "path", path);
			log_int(&l, "status", resp.status);
			log_end(&l);
		}
		return reject(s, mc, 500, E500, NULL, NULL);
	}
	if (queue(s, mc, resp.status, resp.content_type, resp.body, resp.body_len,
		  resp.header_name, resp.header_value) == MHD_YES)
		return MHD_YES;
	/* e.g. a header that MHD manages itself (Content-Length) */
	return reject(s, mc, 500, E500, NULL, NULL);
}

/* Whether the media type of ctype (parameters ignored) is in the list. */
static bool media_type_ok(const char *list, const char *ctype)
{
	size_t n;

	if (!ctype)
		return false;
	ctype += strspn(ctype, " \t");
	n = strcspn(ctype, "; \t");
	if (n == 0)
		return false;
	while (*list) {
		size_t k;

		list += strspn(list, " \t,");
		k = strcspn(list, " \t,");
		if (k == n && strncasecmp(list, ctype, n) == 0)
			return true;
		list += k;
	}
	return false;
}

/* Content-Length as MHD has already validated it (digits only); a value
 * past SIZE_MAX saturates, which is past any cap. */
static size_t parse_length(const char *v)
{
	size_t n = 0;

	for (; *v >= '0' && *v <= '9'; v++) {
		unsigned d = (unsigned)(*v - '0');

		if (n > (SIZE_MAX - d) / 10)
			return SIZE_MAX;
		n = n * 10 + d;
	}
	return n;
}

/* Decide a request's fate from its headers. A request that must be turned
 * away before its body is read is answered at once: libmicrohttpd then
 * skips (never buffers) the body and closes the connection after the
 * response (connection.c MHD_queue_response: a response queued in the
 * first call sets discard_request). Anything else is answered on a later
 * call, which keeps the connection alive. */
static enum MHD_Result on_head(struct httpd *s, struct conn *c, struct MHD_Connection *mc,
			       const char *path, const char *method)
{
	const struct route *r = NULL, *same_path = NULL;
	const char *te, *cl;
	bool has_body;
	size_t len = 0;

	c->head_done = true;
	te = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!te && cl)
		len = parse_length(cl);
	has_body = te || len > 0;
	for (size_t i = 0; i < s->n_routes; i++) {
		if (strcmp(s->routes[i].r.path, path) != 0)
			continue;
		same_path = &s->routes[i];
		if (strcmp(s->routes[i].r.method, method) == 0) {
			r = &s->routes[i];
			break;
		}
	}
	if (!same_path) {
		STAT_INC(s, not_found);
		c->reject = 404;
		c->reject_msg = E404;
	} else if (!r) {
		STAT_INC(s, bad_method);
		c->reject = 405;
		c->reject_msg = E405;
		c->reject_allow = same_path->allow;
	} else if (te && strcasecmp(te, "chunked") != 0) {
		/* MHD would read such a body until the peer closes. */
		STAT_INC(s, bad_request);
		c->reject = 501;
		c->reject_msg = E501_TE;
	} else if (has_body && !r->r.needs_body) {
		STAT_INC(s, too_large);
		c->reject = 413;
		c->reject_msg = E413_NOBODY;
	} else if (len > s->max_body) {
		STAT_INC(s, too_large);
		c->reject = 413;
		c->reject_msg = s->msg_413;
	} else if (r->r.content_types &&
		   !media_type_ok(r->r.content_types,
				  MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_CONTENT_TYPE))) {
		STAT_INC(s, bad_media_type);
		c->reject = 415;
		c->reject_msg = r->msg_415;
	}
	if (c->reject && has_body)
		return send_reject(s, c, mc);
	c->route = r;
	/* One buffer, sized by Content-Length, kept across the requests of
	 * the connection: the body's only copy. */
	if (!c->reject && len && buf_reserve(&c->body, len) != PT_OK) {
		c->reject = 503;
		c->reject_msg = E503;
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct httpd *s = cls;
	struct conn *c = *req_cls;
	size_t n;

	(void)version;
	if (!c)
		return MHD_NO;
	if (!c->head_done)
		return on_head(s, c, mc, url, method);
	n = *upload_size;
	if (n) {
		*upload_size = 0;
		if (!c->reject) {
			enum pt_code rc = buf_append(&c->body, upload, n);

			if (rc == PT_OK)
				return MHD_YES;
			/* a chunked body past the cap, or no memory */
			c->reject = rc == PT_LIMIT ? 413 : 503;
			c->reject_msg = rc == PT_LIMIT ? s->msg_413 : E503;
			if (rc == PT_LIMIT)
				STAT_INC(s, too_large);
			buf_release(&c->body);
		}
		/* Read the rest without keeping it, so the 413 can be sent;
		 * a body that goes on past twice the cap is not worth it. */
		c->discarded += n;
		return c->discarded > s->max_body ? MHD_NO : MHD_YES;
	}
	if (c->reject)
		return send_reject(s, c, mc);
	return dispatch(s, c, mc, url, method);
}

const char *httpd_req_query(const struct httpd_req *req, const char *key)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->priv,
					   MHD_GET_ARGUMENT_KIND, key);
}

const char *httpd_req_header(const struct httpd_req *req, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->priv, MHD_HEADER_KIND,
					   name);
}

/* ---- start and stop ------------------------------------------------------ */

static enum pt_code parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen,
				 struct pt_error *err)
{
	char host[HTTPD_LISTEN_MAX + 1];
	const char *port, *end;
	size_t hlen, slen;
	unsigned long p = 0;

	if (!spec || !spec[0])
		return pt_error_set(err, PT_INVALID, "listen address is empty");
	slen = strlen(spec);
	if (slen > HTTPD_LISTEN_MAX)
		return pt_error_set(err, PT_LIMIT, "listen address '%.32s...' exceeds %d bytes",
				    spec, HTTPD_LISTEN_MAX);
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return pt_error_set(err, PT_INVALID,
					    "invalid listen address '%s': want '[ipv6]:port'", spec);
		hlen = (size_t)(end - spec - 1);
		memcpy(host, spec + 1, hlen);
		port = end + 2;
	} else {
		end = strrchr(spec, ':');
		if (!end || memchr(spec, ':', (size_t)(end - spec)))
			return pt_error_set(err, PT_INVALID,
					    "invalid listen address '%s': want 'ipv4:port' or '[ipv6]:port'",
					    spec);
		hlen = (size_t)(end - spec);
		memcpy(host, spec, hlen);
		port = end + 1;
	}
	host[hlen] = '\0';
	if (!port[0] || strlen(port) > 5 || port[strspn(port, "0123456789")])
		return pt_error_set(err, PT_INVALID, "invalid port in listen address '%s'", spec);
	for (const char *q = port; *q; q++)
		p = p * 10 + (unsigned long)(*q - '0');
	if (p > 65535)
		return pt_error_set(err, PT_RANGE, "port of listen address '%s' is out of range", spec);

	memset(ss, 0, sizeof *ss);
	if (spec[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return pt_error_set(err, PT_INVALID,
					    "invalid IPv6 address '%s' in listen address '%s'", host, spec);
		*sslen = sizeof *a6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		if (!host[0])
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return pt_error_set(err, PT_INVALID,
					    "invalid IPv4 address '%s' in listen address '%s' (names are not resolved)",
					    host, spec);
		*sslen = sizeof *a4;
	}
	return PT_OK;
}

static enum pt_code open_listener(struct httpd *s, const char *spec, bool *ipv6, struct pt_error *err)
{
	struct sockaddr_storage ss = {0}, bound = {0};
	socklen_t sslen = 0, blen = sizeof bound;
	enum pt_code rc;
	int one = 1, zero = 0;

	if ((rc = parse_listen(spec, &ss, &sslen, err)))
		return rc;
	*ipv6 = ss.ss_family == AF_INET6;
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return pt_error_sys(err, errno, "cannot listen on '%s': socket", spec);
	/* "[::]" serves IPv4 too, as Go's net.Listen does. */
	if (setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    (*ipv6 && setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0))
		return pt_error_sys(err, errno, "cannot listen on '%s': setsockopt", spec);
	if (bind(s->lfd, (struct sockaddr *)&ss, sslen) != 0)
		return pt_error_sys(err, errno, "cannot bind '%s'", spec);
	if (listen(s->lfd, SOMAXCONN) != 0)
		return pt_error_sys(err, errno, "cannot listen on '%s'", spec);
	if (getsockname(s->lfd, (struct sockaddr *)&bound, &blen) != 0)
		return pt_error_sys(err, errno, "cannot listen on '%s': getsockname", spec);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	return PT_OK;
}

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n;

	/* The CPUs we may run on (taskset, cpuset), not the machine's. */
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static bool token_ok(const char *t, size_t max)
{
	size_t n = strlen(t);

	return n > 0 && n <= max && !t[strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")];
}

static enum pt_code copy_routes(struct httpd *s, const struct httpd_config *cfg, struct pt_error *err)
{
	if (!cfg->routes || cfg->n_routes == 0)
		return pt_error_set(err, PT_INVALID, "no routes given");
	if (cfg->n_routes > HTTPD_MAX_ROUTES)
		return pt_error_set(err, PT_LIMIT, "%zu routes exceed the limit of %d", cfg->n_routes,
				    HTTPD_MAX_ROUTES);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct httpd_route *r = &cfg->routes[i];
		struct route *d = &s->routes[i];

		if (!r->method || !token_ok(r->method, METHOD_MAX))
			return pt_error_set(err, PT_INVALID, "route %zu: invalid method '%s'", i,
					    r->method ? r->method : "(null)");
		if (!r->path || r->path[0] != '/' || strlen(r->path) > PATH_MAX_LEN)
			return pt_error_set(err, PT_INVALID, "route %zu: invalid path '%s'", i,
					    r->path ? r->path : "(null)");
		if (!r->handler)
			return pt_error_set(err, PT_INVALID, "route '%s %s' has no handler", r->method,
					    r->path);
		if (r->content_types && (strlen(r->content_types) > CTYPES_MAX ||
					 !r->content_types[strspn(r->content_types, " \t,")]))
			return pt_error_set(err, PT_INVALID, "route '%s %s': invalid content types",
					    r->method, r->path);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(r->path, cfg->routes[j].path) &&
			    !strcmp(r->method, cfg->routes[j].method))
				return pt_error_set(err, PT_INVALID, "route '%s %s' is given twice",
						    r->method, r->path);
		d->r = *r;
		if (r->content_types)
			snprintf(d->msg_415, sizeof d->msg_415,
				 "{\"code\":415,\"message\":\"content type must be %s\"}",
				 r->content_types);
	}
	s->n_routes = cfg->n_routes;
	for (size_t i = 0; i < s->n_routes; i++) {
		size_t len = 0;

		for (size_t j = 0; j < s->n_routes; j++) {
			int n;

			if (strcmp(s->routes[i].r.path, s->routes[j].r.path))
				continue;
			n = snprintf(s->routes[i].allow + len, sizeof s->routes[i].allow - len, "%s%s",
				     len ? ", " : "", s->routes[j].r.method);
			if (n < 0 || (size_t)n >= sizeof s->routes[i].allow - len)
				return pt_error_set(err, PT_LIMIT, "too many methods for path '%s'",
						    s->routes[i].r.path);
			len += (size_t)n;
		}
	}
	return PT_OK;
}

/* Accepts connections and hands them to libmicrohttpd (which runs with
 * MHD_USE_NO_LISTEN_SOCKET). MHD's own listening cannot be stopped safely
 * while it serves: MHD_quiesce_daemon (0.9.75) and the epoll workers both
 * take the listen socket out of the epoll sets, unsynchronised, and the
 * loser's epoll_ctl gets ENOENT, on which MHD aborts ("Failed to remove
 * listen FD from epoll set"): a SIGTERM with requests flowing crashed the
 * webhook in about one test run in eight. Shutting the socket down without
 * quiescing makes the workers spin on it. Here stopping is shutdown(2)
 * and a join. At max_connections it stops accepting, so that further
 * clients wait in the backlog, as with MHD's own listener. */
static void *acceptor_main(void *arg)
{
	struct httpd *s = arg;
	int one = 1;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		bool stop;
		int fd, e;

		pthread_mutex_lock(&s->lock);
		while (!s->acc_stop && s->open_conns + s->pending >= s->max_conns) {
			struct timespec ts = to_timespec(now_ns() + ACCEPT_PENDING_NS);

			if (pthread_cond_timedwait(&s->acc_cond, &s->lock, &ts) == ETIMEDOUT)
				s->pending = 0;
		}
		stop = s->acc_stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		fd = accept4(s->lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			e = errno;
			if (e == EINTR || e == ECONNABORTED || e == EAGAIN || e == EPROTO)
				continue;
			if (e == EINVAL) /* httpd_stop shut the socket down */
				break;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the client waits in
			 * the backlog; look again in a moment, not in a spin. */
			log_err(LOG_DEBUG, "cannot accept a connection", strerror(e));
			{
				struct timespec d = to_timespec(ACCEPT_BACKOFF_NS);

				nanosleep(&d, NULL);
			}
			continue;
		}
		/* Without it, a response written while an earlier record is
		 * unacknowledged (GnuTLS's TLS 1.3 session ticket, sent right
		 * after the handshake) waits for the client's delayed ACK:
		 * 40 ms on a new connection. MHD corks responses and uncorks
		 * to push them (mhd_send.c pre_send_setopt), but on Linux
		 * uncorking still applies Nagle (tcp_sock_set_cork); MHD sets
		 * TCP_NODELAY itself only later. Go's net/http sets it on
		 * every connection. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_mutex_lock(&s->lock);
		s->pending++; /* before: MHD may announce it before returning */
		pthread_mutex_unlock(&s->lock);
		/* MHD closes the socket when it refuses it (the per-IP
		 * limit, no memory). */
		if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&ss, len) != MHD_YES) {
			pthread_mutex_lock(&s->lock);
			if (s->pending)
				s->pending--;
			pthread_mutex_unlock(&s->lock);
		}
	}
	return NULL;
}

/* Stop accepting: queued and new connections are refused from now on.
 * shutdown(SHUT_RD) on a listening socket disconnects it (Linux
 * inet_shutdown: TCP_LISTEN with RCV_SHUTDOWN -> tcp_disconnect), which
 * also wakes the acceptor's accept4 with EINVAL. */
static void acceptor_stop(struct httpd *s)
{
	if (s->lfd >= 0)
		shutdown(s->lfd, SHUT_RDWR);
	if (!s->acc_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->acc_stop = true;
	pthread_cond_signal(&s->acc_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->acc_thread, NULL);
	s->acc_started = false;
}

static void watchdog_stop(struct httpd *s)
{
	if (!s->wd_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->wd_stop = true;
	pthread_cond_signal(&s->wd_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->wd_thread, NULL);
	s->wd_started = false;
}

static void server_free(struct httpd *s)
{
	struct tls_pair *p, *next;

	acceptor_stop(s); /* already done by httpd_stop */
	watchdog_stop(s);
	if (s->lfd >= 0)
		close(s->lfd);
	pair_free(s->cur);
	for (p = s->retired; p; p = next) {
		next = p->next;
		pair_free(p);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->tls_lock);
	pthread_mutex_destroy(&s->reload_lock);
	pthread_cond_destroy(&s->wd_cond);
	pthread_cond_destroy(&s->drain_cond);
	pthread_cond_destroy(&s->acc_cond);
	free(s);
}

static enum pt_code start_watchdog(struct httpd *s, struct pt_error *err)
{
	pthread_attr_t attr;
	int e;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WATCHDOG_STACK);
	e = pthread_create(&s->wd_thread, &attr, watchdog_main, s);
	pthread_attr_destroy(&attr);
	if (e)
		return pt_error_sys(err, e, "cannot start the request watchdog: pthread_create");
	s->wd_started = true;
	return PT_OK;
}

static enum pt_code start_acceptor(struct httpd *s, struct pt_error *err)
{
	pthread_attr_t attr;
	int e;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WATCHDOG_STACK);
	e = pthread_create(&s->acc_thread, &attr, acceptor_main, s);
	pthread_attr_destroy(&attr);
	if (e)
		return pt_error_sys(err, e, "cannot start accepting connections: pthread_create");
	s->acc_started = true;
	return PT_OK;
}

/* Why this priority string (HTTPD_TLS_PRIORITY):
 *   SECURE128          only algorithms of at least 128-bit security;
 *   -VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2
 *                      TLS 1.0/1.1 are deprecated (RFC 8996); the apiserver
 *                      (Go crypto/tls) speaks 1.2 and 1.3;
 *   AES-GCM, CHACHA20-POLY1305 with AEAD only, ECDHE only
 *                      forward secrecy and no CBC/MAC-then-encrypt suites;
 *                      these are the suites Go offers by default;
 *   %SERVER_PRECEDENCE our order, not the client's, picks the suite. */
static enum pt_code check_priority(const char *prio, struct pt_error *err)
{
	gnutls_priority_t pc;
	const char *at = NULL;
	int ret;

	ret = gnutls_priority_init(&pc, prio, &at);
	if (ret < 0)
		return pt_error_set(err, PT_INVALID, "invalid TLS priority string '%s' at '%s': %s (gnutls_priority_init)",
				    prio, at ? at : "", gnutls_strerror(ret));
	gnutls_priority_deinit(pc);
	return PT_OK;
}

enum pt_code httpd_start(const struct httpd_config *cfg, struct httpd **out, struct pt_error *err)
{
	struct MHD_OptionItem ops[16];
	const char *prio = cfg->tls_priority ? cfg->tls_priority : HTTPD_TLS_PRIORITY;
	unsigned threads, flags, n = 0;
	pthread_condattr_t ca;
	struct httpd *s;
	enum pt_code rc;
	bool ipv6 = false;

	if (!cfg->tls_cert != !cfg->tls_key)
		return pt_error_set(err, PT_INVALID, "TLS needs both a certificate and a key file");
	s = calloc(1, sizeof *s);
	if (!s)
		return pt_error_set(err, PT_NOMEM, "cannot start the server: out of memory");
	s->lfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->tls_lock, NULL);
	pthread_mutex_init(&s->reload_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wd_cond, &ca);
	pthread_cond_init(&s->drain_cond, &ca);
	pthread_cond_init(&s->acc_cond, &ca);
	pthread_condattr_destroy(&ca);
	s->wd_wake_at = INT64_MAX;
	atomic_init(&s->draining, false);
	atomic_init(&s->starting, false);
	s->max_body = cfg->max_body ? cfg->max_body : HTTPD_MAX_BODY_DEFAULT;
	s->arena_chunk = cfg->arena_chunk ? cfg->arena_chunk : DEFAULT_ARENA_CHUNK;
	s->arena_max = cfg->arena_max ? cfg->arena_max : DEFAULT_ARENA_MAX;
	s->req_ns = (int64_t)(cfg->request_timeout_ms ? cfg->request_timeout_ms : DEFAULT_REQUEST_MS) *
		    NS_PER_MS;
	s->idle_ns = (int64_t)(cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_S) * NS_PER_S;
	/* The watchdog's granularity: a cut comes at most this late. */
	s->tick_ns = s->req_ns / 10;
	if (s->tick_ns < 20 * NS_PER_MS)
		s->tick_ns = 20 * NS_PER_MS;
	if (s->tick_ns > NS_PER_S)
		s->tick_ns = NS_PER_S;
	s->user = cfg->user;
	snprintf(s->msg_413, sizeof s->msg_413,
		 "{\"code\":413,\"message\":\"request body exceeds %zu bytes\"}", s->max_body);
	threads = cfg->threads ? cfg->threads : cpu_count();
	if (threads > THREADS_MAX) {
		rc = pt_error_set(err, PT_LIMIT, "%u threads exceed the limit of %d", threads, THREADS_MAX);
		goto fail;
	}
	if ((rc = copy_routes(s, cfg, err)))
		goto fail;
	if (cfg->tls_cert) {
		s->tls = true;
		s->cert_path = cfg->tls_cert;
		s->key_path = cfg->tls_key;
		if ((rc = check_priority(prio, err)) ||
		    (rc = pair_load(s->cert_path, s->key_path, &s->cur, err)))
			goto fail;
	}
	if ((rc = open_listener(s, cfg->listen, &ipv6, err)))
		goto fail;
	if ((rc = start_watchdog(s, err)))
		goto fail;

	s->max_conns = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s};
	/* The acceptor enforces max_connections. MHD's own limit is only a
	 * backstop, with room: MHD announces a close (NOTIFY_CLOSED) before
	 * it decrements its count, and splits its limit among its threads,
	 * so at the same limit it would refuse the connection the acceptor
	 * takes for the slot just freed. */
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
		s->max_conns > UINT_MAX / 2 - 64 ? UINT_MAX : 2 * s->max_conns + 64, NULL};
	if (cfg->per_ip_connections)
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						   cfg->per_ip_connections, NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
		(intptr_t)(s->idle_ns / NS_PER_S), NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, s};
	/* MHD's pool needs a size above 1; 1 is its plain internal thread. */
	if (threads > 1)
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
	if (s->tls) {
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)prio};
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)on_cert};
	}
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	/* The acceptor hands connections over (acceptor_main says why);
	 * MHD_USE_ITC makes MHD's threads take them at once (microhttpd.h,
	 * MHD_add_connection). */
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (s->tls)
		flags |= MHD_USE_TLS;
	s->starter = pthread_self();
	atomic_store(&s->starting, true);
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
				  MHD_OPTION_END);
	atomic_store(&s->starting, false);
	if (!s->mhd) {
		rc = pt_error_set(err, PT_IO, "cannot start the HTTP server on '%s': %s (MHD_start_daemon)",
				  cfg->listen, s->start_msg[0] ? s->start_msg : "no reason given");
		goto fail;
	}
	if ((rc = start_acceptor(s, err))) {
		MHD_stop_daemon(s->mhd);
		goto fail;
	}
	*out = s;
	return PT_OK;
fail:
	server_free(s);
	return rc;
}

uint16_t httpd_port(const struct httpd *s)
{
	return s->port;
}

enum pt_code httpd_reload_tls(struct httpd *s, struct pt_error *err)
{
	struct tls_pair *np = NULL, *old, *dead = NULL, *p;
	enum pt_code rc;
	unsigned i = 0;
	bool cut = false;

	if (!s->tls)
		return pt_error_set(err, PT_USAGE, "cannot reload TLS: the server is plain HTTP");
	pthread_mutex_lock(&s->reload_lock);
	rc = pair_load(s->cert_path, s->key_path, &np, err);
	if (rc) {
		STAT_INC(s, tls_reload_errors);
		goto out;
	}
	pthread_mutex_lock(&s->tls_lock);
	old = s->cur;
	s->cur = np;
	if (old->refs == 0) {
		dead = old;
	} else {
		old->next = s->retired;
		s->retired = old;
		s->n_retired++;
	}
	for (p = s->retired; p; p = p->next)
		if (++i > HTTPD_TLS_RETIRED_MAX && !p->doomed)
			p->doomed = cut = true;
	pthread_mutex_unlock(&s->tls_lock);
	pair_free(dead);
	if (cut) {
		/* Too many old pairs still in use: end the sessions holding
		 * the oldest; their pairs are freed as they close. */
		pthread_mutex_lock(&s->lock);
		pthread_mutex_lock(&s->tls_lock);
		for (struct conn *c = s->conns; c; c = c->next)
			if (c->pair && c->pair->doomed && !c->cut)
				conn_cut(c);
		pthread_mutex_unlock(&s->tls_lock);
		pthread_mutex_unlock(&s->lock);
	}
	STAT_INC(s, tls_reloads);
out:
	pthread_mutex_unlock(&s->reload_lock);
	return rc;
}

enum pt_code httpd_tls_info(struct httpd *s, struct httpd_tls_info *out)
{
	if (!s->tls)
		return PT_USAGE;
	pthread_mutex_lock(&s->tls_lock);
	out->not_after = s->cur->not_after;
	out->not_before = s->cur->not_before;
	memcpy(out->serial, s->cur->serial, sizeof out->serial);
	out->retired = s->n_retired;
	pthread_mutex_unlock(&s->tls_lock);
	return PT_OK;
}

void httpd_stats(const struct httpd *s, struct httpd_stats *o)
{
#define LD(f) o->f = atomic_load_explicit(&s->st.f, memory_order_relaxed)
	LD(connections);
	LD(open_connections);
	LD(requests);
	LD(not_found);
	LD(bad_method);
	LD(too_large);
	LD(bad_media_type);
	LD(bad_request);
	LD(timed_out);
	LD(tls_reloads);
	LD(tls_reload_errors);
#undef LD
}

void httpd_drain(struct httpd *s)
{
	/* queue() reads the flag for each response. It also makes closing
	 * connections wake drain_cond, which nobody waits on before
	 * httpd_stop: a broadcast without waiters is free. */
	atomic_store(&s->draining, true);
}

enum pt_code httpd_stop(struct httpd *s, unsigned grace_ms)
{
	enum pt_code rc = PT_OK;
	int64_t end, now;

	if (!s)
		return PT_OK;
	atomic_store(&s->draining, true);
	/* Queued and new connections are refused, not left waiting in the
	 * backlog for nothing: the apiserver tries another replica at once. */
	acceptor_stop(s);
	end = now_ns() + (int64_t)grace_ms * NS_PER_MS;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		unsigned busy = 0;
		struct timespec ts;

		for (struct conn *c = s->conns; c; c = c->next) {
			if (c->cut)
				continue; /* closing */
			/* A waiting connection is cut unless a request is on
			 * its way: bytes are queued on it (sent before the
			 * client could see a close), or it is new and has not
			 * sent its first request yet (accepted just before the
			 * listener shut; its client is mid-handshake or about
			 * to write). Cutting those fails a request the client
			 * cannot safely retry (a POST on a new connection).
			 * The request deadline still bounds the wait. */
			if ((c->phase == PH_WAIT && c->used && !input_pending(c->fd)) ||
			    (c->phase == PH_HEAD && peer_gone(c->fd)))
				conn_cut(c); /* nothing to finish */
			else
				busy++;
		}
		if (!busy)
			break;
		now = now_ns();
		if (now >= end) {
			rc = PT_TIMEOUT;
			break;
		}
		/* Closing connections wake us; bytes that were pending but
		 * did not make a request line (a TLS record, half a line) do
		 * not, so look again soon. */
		ts = to_timespec(now + DRAIN_POLL_NS < end ? now + DRAIN_POLL_NS : end);
		pthread_cond_timedwait(&s->drain_cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	/* Closes what is left and joins the threads (and so waits for
	 * running handlers). */
	MHD_stop_daemon(s->mhd);
	server_free(s);
	return rc;
}
