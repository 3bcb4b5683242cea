/* SPDX-License-Identifier: Apache-2.0 */
/* Scraper over one libcurl multi handle. Targets are plain records; a
 * bounded pool of easy handles (workers) carries them through a batch,
 * each worker taking the next target as its transfer ends. The connections
 * live in the multi handle's cache, sized to the number of targets, so each
 * tick reuses the previous tick's connections whichever worker asks. (An
 * easy handle costs ~15 KB: one per target was 3.7 MB at 250 targets.) The batch is driven with
 * curl_multi_socket_action and our own epoll set, so each wake-up costs
 * the sockets that are ready, not all of them (curl_multi_perform and
 * curl_multi_poll walk every transfer and socket on each call). Targets
 * are kept in an array (index stored in the target) so that freeing one
 * is O(1). */
#include "scrape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../core/buf.h"
#include "../core/http_client.h"


#define POLL_MS 100        /* longest wait between stop-flag checks */
#define MIN_CACHE 8        /* connection cache floor */
#define BATCH_SLACK_MS 1000 /* beyond the longest timeout: a safety net */
#define MAX_EVENTS 256

struct worker {
	CURL *easy;
	struct scrape_target *t; /* the transfer it carries, or NULL */
	char errbuf[CURL_ERROR_SIZE];
};

struct scrape_target {
	struct scrape *owner;
	size_t index;                 /* in owner->targets */
	char *url;
	long timeout_ms;
	struct buf body;
	bool over;                    /* the page passed max_page */
	bool active;                  /* its transfer is in flight */
	uint64_t batch;               /* the last batch that took it up */
	struct scrape_result res;
	void *user;
};

struct scrape {
	CURLM *multi;
	struct curl_slist *headers;   /* shared by every target */
	size_t max_page;
	enum scrape_encoding encoding;
	unsigned max_connections;
	const atomic_bool *stop;
	struct scrape_target **targets;
	size_t n_targets;
	size_t cache_size;            /* the current CURLMOPT_MAXCONNECTS */
	int epfd;                     /* the sockets libcurl asks us to watch */
	int64_t timer_at;             /* ms (monotonic) libcurl wants a timeout call; -1: none */
	bool epoll_failed;
	struct scrape_stats st;
	struct buf spare[SCRAPE_SPARE_BODIES]; /* body buffers between transfers */
	size_t n_spare;
	struct worker workers[SCRAPE_WORKERS];
	size_t n_workers;             /* created so far (lazily) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* libcurl tells which sockets to watch for what (CURLMOPT_SOCKETFUNCTION). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
	struct scrape *s = ud;
	struct epoll_event ev = {.data.fd = fd};

	(void)easy, (void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL); /* may be closed already */
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	s->epoll_failed = true;
	return -1;
}

/* libcurl's next timeout (CURLMOPT_TIMERFUNCTION): -1 cancels it. */
static int on_timer(CURLM *multi, long timeout_ms, void *ud)
{
	struct scrape *s = ud;

	(void)multi;
	s->timer_at = timeout_ms < 0 ? -1 : (int64_t)now_ms() + timeout_ms;
	return 0;
}

struct scrape *scrape_new(const struct scrape_opts *o, struct pt_error *e)
{
	static const struct scrape_opts defaults;
	struct scrape *s;
	struct curl_slist *h;

	if (!o)
		o = &defaults;
	if (o->encoding != SCRAPE_ENCODING_IDENTITY && o->encoding != SCRAPE_ENCODING_GZIP)
		return pt_error_set(e, PT_INVALID, "invalid scrape encoding %d", (int)o->encoding), NULL;
	if (http_global_init(e))
		return NULL;
	if (!(s = calloc(1, sizeof *s)))
		return pt_error_set(e, PT_NOMEM, "cannot create a scraper: out of memory"), NULL;
	s->max_page = o->max_page ? o->max_page : SCRAPE_MAX_PAGE_BYTES;
	s->encoding = o->encoding;
	s->max_connections = o->max_connections;
	s->stop = o->stop;
	s->timer_at = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		int err = errno;

		free(s);
		return pt_error_sys(e, err, "cannot create a scraper (epoll_create1)"), NULL;
	}
	s->targets = calloc(SCRAPE_MAX_TARGETS, sizeof *s->targets);
	s->multi = curl_multi_init();
	/* "Expect:" is moot for a GET; the Accept header is the point. */
	h = curl_slist_append(NULL, "Accept: " SCRAPE_ACCEPT);
	s->headers = h;
	if (!s->targets || !s->multi || !s->headers) {
		scrape_free(s);
		return pt_error_set(e, PT_NOMEM, "cannot create a scraper: out of memory"), NULL;
	}
	if (curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)s->max_connections) ||
	    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)MIN_CACHE) ||
	    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
	    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s) ||
	    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
	    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s)) {
		scrape_free(s);
		return pt_error_set(e, PT_UNSUPPORTED, "cannot configure the libcurl multi handle"), NULL;
	}
	s->cache_size = MIN_CACHE;
	return s;
}

static void target_destroy(struct scrape_target *t)
{
	if (!t)
		return;
	buf_release(&t->body);
	free(t->url);
	free(t);
}

/* Give a target's body storage back to the pool (or free it). */
static void body_recycle(struct scrape *s, struct scrape_target *t)
{
	if (t->body.data && t->body.cap <= SCRAPE_KEEP_BODY_BYTES && s->n_spare < SCRAPE_SPARE_BODIES) {
		buf_reset(&t->body);
		s->spare[s->n_spare++] = t->body;
		buf_init(&t->body, t->body.max);
	} else {
		buf_release(&t->body);
	}
}

void scrape_target_set_user(struct scrape_target *t, void *user)
{
	t->user = user;
}

void *scrape_target_user(const struct scrape_target *t)
{
	return t->user;
}

void scrape_free(struct scrape *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_targets; i++)
		target_destroy(s->targets[i]);
	free(s->targets);
	for (size_t i = 0; i < s->n_workers; i++)
		curl_easy_cleanup(s->workers[i].easy);
	/* The multi handle owns the connection cache: clean it up after
	 * every easy handle is gone. */
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	close(s->epfd);
	while (s->n_spare)
		buf_release(&s->spare[--s->n_spare]);
	free(s);
}

/* Keep the connection cache as large as the target set, so each target's
 * connection survives until its next scrape (libcurl's default is four
 * per easy handle added, which shrinks to nothing between batches). */
static void size_cache(struct scrape *s)
{
	size_t want = s->n_targets > MIN_CACHE ? s->n_targets : MIN_CACHE;

	if (want != s->cache_size && curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)want) == CURLM_OK)
		s->cache_size = want;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct scrape_target *t = ud;
	size_t n = size * nmemb;

	if (n > t->owner->max_page - t->body.len) {
		t->over = true;
		return 0; /* short: libcurl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (!t->body.data && t->owner->n_spare) {
		size_t max = t->body.max;
		t->body = t->owner->spare[--t->owner->n_spare];
		t->body.max = max;
	}
	if (buf_append(&t->body, p, n))
		return 0;
	return n;
}

/* A new easy handle with the options every transfer shares. */
static CURL *worker_easy(struct scrape *s, struct worker *w)
{
	CURLcode res;
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	res = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	if (!res) res = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* Pod IPs are on this node: never through an http_proxy from the
	 * environment (libcurl honours it by default). */
	if (!res) res = curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (!res) res = curl_easy_setopt(h, CURLOPT_USERAGENT, http_user_agent());
	/* libcurl's receive buffer (16 KiB by default) exists per worker. */
	if (!res) res = curl_easy_setopt(h, CURLOPT_BUFFERSIZE, SCRAPE_RECV_BUFFER);
	if (!res) res = curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
	/* A Content-Length over the cap fails before any body is read; the
	 * write callback enforces it for chunked and decoded bodies. */
	if (!res) res = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_page);
	if (!res) res = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING,
					 s->encoding == SCRAPE_ENCODING_GZIP ? "gzip" : NULL);
	if (!res) res = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	if (!res) res = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->errbuf);
	if (!res) res = curl_easy_setopt(h, CURLOPT_PRIVATE, w);
	if (res) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* Start t's transfer on w. Fails (the result says why) only when libcurl
 * cannot take it. */
static bool worker_start(struct scrape *s, struct worker *w, struct scrape_target *t)
{
	CURL *h = w->easy;
	CURLcode res;
	CURLMcode mc;

	w->errbuf[0] = '\0';
	res = curl_easy_setopt(h, CURLOPT_URL, t->url);
	if (!res) res = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	if (!res) res = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
	if (!res) res = curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	if (res || (mc = curl_multi_add_handle(s->multi, h)) != CURLM_OK) {
		t->res.code = PT_NOMEM;
		snprintf(t->res.error, sizeof t->res.error, "cannot scrape '%.120s': %s", t->url,
			 res ? curl_easy_strerror(res) : curl_multi_strerror(mc));
		s->st.failures++;
		return false;
	}
	w->t = t;
	t->active = true;
	s->st.scrapes++;
	return true;
}

struct scrape_target *scrape_target_new(struct scrape *s, const char *url, long timeout_ms, struct pt_error *e)
{
	struct scrape_target *t;
	size_t len;

	if (!url || strncmp(url, "http://", 7) != 0)
		return pt_error_set(e, PT_INVALID, "cannot scrape '%.200s': only http:// URLs are supported",
				    url ? url : ""), NULL;
	len = strlen(url);
	if (len > SCRAPE_MAX_URL_LEN)
		return pt_error_set(e, PT_LIMIT, "cannot scrape '%.64s...': the URL exceeds %d bytes", url,
				    SCRAPE_MAX_URL_LEN), NULL;
	if (strpbrk(url, " \r\n\t"))
		return pt_error_set(e, PT_INVALID, "cannot scrape '%.200s': the URL contains white space", url), NULL;
	if (timeout_ms == 0)
		timeout_ms = SCRAPE_DEFAULT_TIMEOUT_MS;
	if (timeout_ms < 1 || timeout_ms > SCRAPE_MAX_TIMEOUT_MS)
		return pt_error_set(e, PT_RANGE, "cannot scrape '%.200s': timeout %ld ms is outside 1..%d", url,
				    timeout_ms, SCRAPE_MAX_TIMEOUT_MS), NULL;
	if (s->n_targets >= SCRAPE_MAX_TARGETS)
		return pt_error_set(e, PT_LIMIT, "cannot scrape '%.200s': the scraper has %d targets already", url,
				    SCRAPE_MAX_TARGETS), NULL;
	if (!(t = calloc(1, sizeof *t)) || !(t->url = strdup(url))) {
		target_destroy(t);
		return pt_error_set(e, PT_NOMEM, "cannot scrape '%.200s': out of memory", url), NULL;
	}
	t->owner = s;
	t->timeout_ms = timeout_ms;
	buf_init(&t->body, s->max_page);
	t->res.code = PT_AGAIN;
	t->res.body = "";
	snprintf(t->res.error, sizeof t->res.error, "not scraped yet");
	t->index = s->n_targets;
	s->targets[s->n_targets++] = t;
	size_cache(s);
	return t;
}

void scrape_target_free(struct scrape *s, struct scrape_target *t)
{
	if (!t)
		return;
	if (t->index < s->n_targets && s->targets[t->index] == t) {
		s->targets[t->index] = s->targets[--s->n_targets];
		s->targets[t->index]->index = t->index;
	}
	target_destroy(t);
	size_cache(s);
}

const char *scrape_target_url(const struct scrape_target *t)
{
	return t->url;
}

const struct scrape_result *scrape_target_result(const struct scrape_target *t)
{
	return &t->res;
}

int64_t scrape_due_after(int64_t t_ms, uint64_t every_ms, uint64_t phase_ms)
{
	int64_t e = (int64_t)every_ms, base = t_ms - (int64_t)(phase_ms % every_ms);
	int64_t q = base / e - (base % e < 0); /* floor, for times before the phase */

	return (q + 1) * e + (int64_t)(phase_ms % every_ms);
}

void scrape_sched_set(struct scrape_sched *s, uint64_t every_ms, uint64_t tick_ms, const char *key,
		      bool has_page, int64_t now_ms)
{
	uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
	int64_t next;

	if (every_ms < tick_ms)
		every_ms = tick_ms;
	if (every_ms == s->every_ms)
		return;
	for (const char *c = key ? key : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * UINT64_C(1099511628211);
	next = scrape_due_after(now_ms - (int64_t)tick_ms / 2, every_ms, h % every_ms);
	if (has_page && s->every_ms && every_ms > s->every_ms) {
		int64_t old = s->every_ms <= tick_ms ? now_ms : s->due_ms;

		if (old < next)
			next = old;
	}
	s->every_ms = every_ms;
	s->phase_ms = h % every_ms;
	s->due_ms = next;
}

bool scrape_sched_due(struct scrape_sched *s, uint64_t tick_ms, int64_t now_ms)
{
	int64_t half = (int64_t)tick_ms / 2;

	if (s->every_ms <= tick_ms)
		return true;
	if (s->due_ms > now_ms + half + (int64_t)s->every_ms) /* the wall clock went back */
		s->due_ms = scrape_due_after(now_ms - half, s->every_ms, s->phase_ms);
	if (s->due_ms > now_ms + half)
		return false;
	s->due_ms = scrape_due_after(now_ms + half, s->every_ms, s->phase_ms);
	return true;
}

void scrape_get_stats(const struct scrape *s, struct scrape_stats *out)
{
	*out = s->st;
}

/* Turn a finished transfer into its result. */
static void finish(struct scrape *s, struct worker *w, CURLcode res)
{
	struct scrape_target *t = w->t;
	curl_off_t total = 0;
	long connects = 0;
	char *ctype = NULL;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &t->res.status);
	curl_easy_getinfo(w->easy, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(w->easy, CURLINFO_NUM_CONNECTS, &connects);
	if (curl_easy_getinfo(w->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		snprintf(t->res.content_type, sizeof t->res.content_type, "%s", ctype);
	t->res.duration_us = total > 0 ? (uint64_t)total : 0;
	t->res.reused = connects == 0 && res != CURLE_COULDNT_CONNECT;
	s->st.connects += (uint64_t)(connects > 0 ? connects : 0);
	t->res.bytes = t->body.len;
	t->res.body = t->body.data ? t->body.data : "";
	t->res.error[0] = '\0';
	t->res.code = PT_OK;
	if (t->over || res == CURLE_FILESIZE_EXCEEDED) {
		t->res.code = PT_LIMIT;
		snprintf(t->res.error, sizeof t->res.error, "cannot scrape '%.120s': the page exceeds the limit of %zu bytes",
			 t->url, s->max_page);
		s->st.oversize++;
	} else if (res != CURLE_OK) {
		enum pt_code code = PT_IO;

		switch (res) {
		case CURLE_OPERATION_TIMEDOUT:
			code = PT_TIMEOUT;
			s->st.timeouts++;
			break;
		case CURLE_WEIRD_SERVER_REPLY: case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_BAD_CONTENT_ENCODING:
			code = PT_SYNTAX;
			break;
		case CURLE_OUT_OF_MEMORY:
			code = PT_NOMEM;
			break;
		default:
			break;
		}
		t->res.code = code;
		snprintf(t->res.error, sizeof t->res.error, "cannot scrape '%.120s': %.90s (%s)", t->url,
			 w->errbuf[0] ? w->errbuf : curl_easy_strerror(res), http_curl_code_name(res));
	} else if (t->res.status != 200) {
		t->res.code = PT_HTTP;
		snprintf(t->res.error, sizeof t->res.error, "cannot scrape '%.120s': HTTP status %ld", t->url,
			 t->res.status);
	}
	if (t->res.code != PT_OK)
		s->st.failures++;
}

/* Hand a finished target's result to done, then pool its body. */
static void deliver(struct scrape *s, struct scrape_target *t, scrape_done_fn done, void *ctx)
{
	if (!done)
		return;
	done(ctx, t, &t->res);
	body_recycle(s, t);
	t->res.body = "";
}

/* A target the batch could not finish: it fails with the batch's reason. */
static void cut(struct scrape *s, struct scrape_target *t, enum pt_code rc, scrape_done_fn done, void *ctx)
{
	t->res.code = rc == PT_AGAIN ? PT_AGAIN : (rc ? rc : PT_IO);
	t->res.body = "";
	snprintf(t->res.error, sizeof t->res.error, "cannot scrape '%.120s': %s", t->url,
		 rc == PT_AGAIN ? "interrupted by the stop flag" : "the batch failed");
	s->st.failures++;
	deliver(s, t, done, ctx);
}

enum pt_code scrape_run(struct scrape *s, struct scrape_target *const *targets, size_t n, struct pt_error *e)
{
	return scrape_run_each(s, targets, n, NULL, NULL, e);
}

enum pt_code scrape_run_each(struct scrape *s, struct scrape_target *const *targets, size_t n, scrape_done_fn done,
			     void *ctx, struct pt_error *e)
{
	enum pt_code rc = PT_OK;
	long longest = 0;
	uint64_t deadline;
	size_t next = 0, busy = 0, want;
	int running = 0;
	CURLMcode mc = CURLM_OK;

	s->st.batches++;
	for (size_t i = 0; i < n; i++) {
		struct scrape_target *t = targets[i];

		if (t->owner != s)
			continue;
		/* Keep the buffer for the next page of the usual size, but do
		 * not let one huge page pin its memory for good. */
		if (t->body.cap > SCRAPE_KEEP_BODY_BYTES)
			buf_release(&t->body);
		buf_reset(&t->body);
		t->over = false;
		memset(&t->res, 0, sizeof t->res);
		t->res.body = "";
		if (t->timeout_ms > longest)
			longest = t->timeout_ms;
	}
	/* Workers are made on demand, up to SCRAPE_WORKERS. */
	want = n < SCRAPE_WORKERS ? n : SCRAPE_WORKERS;
	while (s->n_workers < want) {
		struct worker *w = &s->workers[s->n_workers];
		if (!(w->easy = worker_easy(s, w)))
			break;
		s->n_workers++;
	}
	if (!s->n_workers && n)
		return pt_error_set(e, PT_NOMEM, "cannot scrape: cannot create a libcurl handle");
	/* Each wave of SCRAPE_WORKERS transfers has its own timeouts. */
	deadline = now_ms() + (uint64_t)longest * ((n + s->n_workers - 1) / (s->n_workers ? s->n_workers : 1)) +
		   BATCH_SLACK_MS;
	for (;;) {
		struct epoll_event evs[MAX_EVENTS];
		CURLMsg *msg;
		int left, nev, wait = POLL_MS;
		uint64_t now;

		bool started = false;

		/* Give every idle worker the next target. */
		for (size_t k = 0; k < s->n_workers && next < n; k++) {
			struct worker *w = &s->workers[k];
			struct scrape_target *t;

			if (w->t)
				continue;
			t = targets[next++];
			if (t->owner != s || t->batch == s->st.batches)
				continue; /* not ours, or listed twice */
			t->batch = s->st.batches;
			if (worker_start(s, w, t)) {
				busy++;
				started = true;
			} else {
				deliver(s, t, done, ctx);
			}
		}
		/* New transfers start on libcurl's timer. */
		if (started)
			mc = curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		while ((msg = curl_multi_info_read(s->multi, &left))) {
			struct worker *w = NULL;
			struct scrape_target *t;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
			finish(s, w, msg->data.result);
			curl_multi_remove_handle(s->multi, w->easy);
			t = w->t;
			w->t = NULL;
			t->active = false;
			busy--;
			deliver(s, t, done, ctx);
		}
		if (mc != CURLM_OK || s->epoll_failed) {
			rc = pt_error_set(e, PT_IO, "cannot scrape: curl_multi_socket_action: %s",
					  s->epoll_failed ? "epoll_ctl failed" : curl_multi_strerror(mc));
			break;
		}
		if (busy == 0 && next >= n)
			break;
		if (busy == 0)
			continue; /* hand out the next wave */
		if (s->stop && atomic_load(s->stop)) {
			rc = PT_AGAIN;
			break;
		}
		now = now_ms();
		if (now > deadline) {
			/* libcurl enforces each timeout; this only guards the
			 * loop against a bug turning into a hang. */
			rc = pt_error_set(e, PT_TIMEOUT, "cannot scrape: the batch outlived its longest timeout");
			break;
		}
		if (s->timer_at >= 0)
			wait = s->timer_at <= (int64_t)now ? 0 : (int)((uint64_t)s->timer_at - now < POLL_MS
									 ? (uint64_t)s->timer_at - now : POLL_MS);
		nev = epoll_wait(s->epfd, evs, MAX_EVENTS, wait);
		if (nev < 0 && errno != EINTR) {
			rc = pt_error_sys(e, errno, "cannot scrape (epoll_wait)");
			break;
		}
		for (int i = 0; i < nev && mc == CURLM_OK; i++) {
			int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				    (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

			mc = curl_multi_socket_action(s->multi, evs[i].data.fd, flags, &running);
		}
		if (mc == CURLM_OK && s->timer_at >= 0 && (int64_t)now_ms() >= s->timer_at) {
			s->timer_at = -1;
			mc = curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
	}
	/* Whatever is unfinished (stop flag, multi failure) fails as such:
	 * the transfers in flight, then the targets never started. */
	for (size_t k = 0; k < s->n_workers; k++) {
		struct worker *w = &s->workers[k];

		if (w->t) {
			curl_multi_remove_handle(s->multi, w->easy);
			w->t->active = false;
			cut(s, w->t, rc, done, ctx);
			w->t = NULL;
		}
	}
	for (; next < n; next++) {
		struct scrape_target *t = targets[next];

		if (t->owner == s && t->batch != s->st.batches) {
			t->batch = s->st.batches;
			cut(s, t, rc, done, ctx);
		}
	}
	if (rc == PT_AGAIN)
		rc = PT_OK; /* the results say it; the batch itself worked */
	return rc;
}
