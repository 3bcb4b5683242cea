/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's metrics scraper: each tick it fetches the Prometheus
 * pages of many containers at once over plain HTTP, with libcurl's multi
 * interface (this is the only file that uses it). Connections stay open
 * between ticks, each target keeps its easy handle and body buffer, and
 * every target has its own timeout, so one hung container never delays
 * the batch beyond that timeout. The pages are handed back raw; parsing is
 * core/promtext's job. */
#ifndef PT_SCRAPE_H
#define PT_SCRAPE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* Named limits. */
#define SCRAPE_MAX_PAGE_BYTES (4u << 20)  /* one page, after decoding */
#define SCRAPE_MAX_URL_LEN 2048
#define SCRAPE_MAX_TARGETS 4096           /* targets of one scraper */
#define SCRAPE_MAX_TIMEOUT_MS 60000
#define SCRAPE_DEFAULT_TIMEOUT_MS 500
#define SCRAPE_ERROR_LEN 256
#define SCRAPE_RECV_BUFFER 16384L               /* libcurl's receive buffer per worker */
#define SCRAPE_KEEP_BODY_BYTES ((size_t)256 << 10) /* a body buffer kept between scrapes */

/* The Accept header. The agent's parser reads text format 0.0.4 (and
 * tolerates OpenMetrics' "# EOF"), so that is what it asks for; Prometheus
 * itself asks for OpenMetrics first and text/plain;version=0.0.4;q=0.5
 * after it. The wildcard keeps strict servers from answering 406. */
#define SCRAPE_ACCEPT "text/plain;version=0.0.4;q=1,*/*;q=0.1"

/* What to ask of the server's encoding. Identity is the default: the pages
 * come from pods on the same node, where bytes cost nothing, and a gzip
 * page costs the scraper inflate time and the scraped container deflate
 * time every tick (measured in tests/unit/scrape_test.c). */
enum scrape_encoding {
	SCRAPE_ENCODING_IDENTITY, /* no Accept-Encoding header */
	SCRAPE_ENCODING_GZIP,     /* Accept-Encoding: gzip, decoded here */
};

struct scrape_opts {
	size_t max_page;                /* 0: SCRAPE_MAX_PAGE_BYTES */
	enum scrape_encoding encoding;
	/* Connections open at once (CURLMOPT_MAX_TOTAL_CONNECTIONS); more
	 * targets wait their turn, and the wait counts in their timeout.
	 * 0: one per target. */
	unsigned max_connections;
	/* Raised: scrape_run returns within ~100 ms, the unfinished targets
	 * failing with PT_AGAIN. NULL: none. Borrowed. */
	const atomic_bool *stop;
};

/* The outcome of a target's last scrape. */
struct scrape_result {
	/* PT_OK: status 200 and the whole page. Otherwise PT_TIMEOUT, PT_LIMIT
	 * (page over max_page), PT_HTTP (another status; body holds it),
	 * PT_SYNTAX (a reply that is not HTTP or whose encoding is broken),
	 * PT_IO (connect/send/receive), PT_AGAIN (stopped), PT_NOMEM. */
	enum pt_code code;
	long status;                /* HTTP status; 0 when none arrived */
	size_t bytes;               /* body bytes kept (decoded) */
	uint64_t duration_us;       /* this transfer, connect included */
	bool reused;                /* no new connection was made */
	const char *body;           /* NUL-terminated; "" when none */
	char content_type[96];      /* as sent (truncated), "" if absent */
	char error[SCRAPE_ERROR_LEN]; /* "" on success, else
				       * "cannot scrape '<url>': ..." */
};

struct scrape_stats {
	uint64_t batches;
	uint64_t scrapes;
	uint64_t failures;   /* results other than PT_OK */
	uint64_t timeouts;
	uint64_t oversize;
	uint64_t connects;   /* new connections made */
};

struct scrape;
struct scrape_target;

/* A scraper with its connection cache. Returns NULL with e filled on
 * failure. One thread at a time may use a scraper and its targets. */
struct scrape *scrape_new(const struct scrape_opts *opts, struct pt_error *e);

/* Free the scraper and every target still registered. NULL is a no-op. */
void scrape_free(struct scrape *s);

/* Register a target: url is http://host:port/path (only http: pod
 * metrics endpoints are plain HTTP, and a pod IP cannot be verified as a
 * TLS name), at most SCRAPE_MAX_URL_LEN bytes, copied. timeout_ms is the
 * whole transfer, 1..SCRAPE_MAX_TIMEOUT_MS (0: the default). Returns NULL
 * with e filled (PT_INVALID, PT_LIMIT past SCRAPE_MAX_TARGETS, PT_NOMEM).
 * The target belongs to s until scrape_target_free. */
struct scrape_target *scrape_target_new(struct scrape *s, const char *url, long timeout_ms, struct pt_error *e);

/* Unregister and free a target; its result and body die with it. NULL is
 * a no-op. Never call it during scrape_run. */
void scrape_target_free(struct scrape *s, struct scrape_target *t);

/* The target's URL as registered. */
const char *scrape_target_url(const struct scrape_target *t);

/*
 * Scrape n targets of s concurrently and return when each has finished,
 * failed, or run out of its own time. Each target's result is replaced
 * (see scrape_target_result); its body buffer is reused, so a steady
 * load allocates no new body memory (a buffer grown past
 * SCRAPE_KEEP_BODY_BYTES is freed first: one huge page does not pin its
 * memory for good). A target listed twice is scraped
 * once. Per-target failures are results, not errors: the return value is
 * PT_OK unless libcurl's multi interface itself fails (PT_IO, e filled),
 * in which case the unfinished targets carry that error too.
 */
enum pt_code scrape_run(struct scrape *s, struct scrape_target *const *targets, size_t n,
			struct pt_error *e) PT_WUR;

/* Called by scrape_run_each as each target of the batch finishes (or
 * fails): the result, body included, is valid during the call only. */
typedef void (*scrape_done_fn)(void *ctx, struct scrape_target *t, const struct scrape_result *r);

/* As scrape_run, but hand each result to done as soon as its transfer
 * ends, then give its body buffer back to a pool shared by the targets.
 * Pages are consumed while the others are still arriving, so the memory
 * held is that of the transfers in flight, not of every target (250 pages
 * of ~20 KB were 5 MB of the agent's RSS). After the call each target's
 * result has an empty body. */
enum pt_code scrape_run_each(struct scrape *s, struct scrape_target *const *targets, size_t n,
			     scrape_done_fn done, void *ctx, struct pt_error *e) PT_WUR;

/* A pointer of the caller's, kept with the target (NULL at first). */
void scrape_target_set_user(struct scrape_target *t, void *user);
void *scrape_target_user(const struct scrape_target *t);

#define SCRAPE_SPARE_BODIES 32 /* body buffers pooled for scrape_run_each */
#define SCRAPE_WORKERS 64      /* transfers in flight at once (easy handles) */

/* The last result; before any scrape, code PT_AGAIN and error "not
 * scraped yet". Valid until the next scrape_run or scrape_target_free. */
const struct scrape_result *scrape_target_result(const struct scrape_target *t);

/* The first time after t_ms that lies phase_ms past a multiple of every_ms
 * (every_ms > 0; phase_ms is taken modulo it): a target scraped at these
 * times keeps its place in the interval whatever the ticks do, so the
 * targets of a node stay spread over it. Pure. */
int64_t scrape_due_after(int64_t t_ms, uint64_t every_ms, uint64_t phase_ms);

/* When a target is scraped, by a caller that ticks every tick_ms: every
 * tick, or, for a longer interval, at the points of a phase within it that
 * comes from a key (the pod's UID), as Prometheus offsets its targets
 * (scrape/target.go offset). A target is due within half a tick of its
 * time, so tick jitter does not push it to the next one. Pure: all times
 * are arguments. Zero-initialised: no interval yet. */
struct scrape_sched {
	uint64_t every_ms; /* 0: not set yet */
	uint64_t phase_ms;
	int64_t due_ms;    /* when every_ms is above the tick */
};

/* Set the interval to every_ms (at least tick_ms) at now_ms; no change
 * if it is the same. has_page: the target was scraped on the old
 * interval and its page is still in use; a longer interval then starts no
 * later than the old one's next scrape, since the stored page expires
 * after three of the old intervals (rebalancer/series.h). */
void scrape_sched_set(struct scrape_sched *s, uint64_t every_ms, uint64_t tick_ms, const char *key,
		      bool has_page, int64_t now_ms);

/* Whether the target is due in the tick at now_ms; if it is, its next
 * time is set. A wall clock that went back re-derives the next time from
 * the phase, as does one that jumped ahead (no catching up). */
bool scrape_sched_due(struct scrape_sched *s, uint64_t tick_ms, int64_t now_ms);

/* Totals since scrape_new. */
void scrape_get_stats(const struct scrape *s, struct scrape_stats *out);

#endif
