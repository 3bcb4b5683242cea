/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's sample history: per container (an opaque key such as the
 * container ID), the series that some trigger names, each kept only as deep
 * as the longest range over it needs. It is the agent's dominant memory, so
 * all of it comes from one capped pool with free lists (no per-sample
 * malloc, flat memory as containers come and go) and its size is reported.
 *
 * Time model (Prometheus' own, simplified to one scraper):
 *  - every container has one ring of timestamps ("slots"); all samples given
 *    with the same now_ms share a slot, so the agent passes the tick's time
 *    to everything it reads for a container in that tick;
 *  - timestamps inside a page are ignored (honor_timestamps: false);
 *  - a series absent from a later slot is stale from then on, like a series
 *    that disappears from a scrape in Prometheus 2.0+ (robustperception.io/
 *    staleness-and-promql): instant selectors see no value and range
 *    selectors skip the gap. A failed scrape is recorded as an empty page,
 *    which makes every page series stale at once ("a failed scrape is the
 *    same as an empty scrape", prometheus scrape/scrape.go);
 *  - pages may come less often than the slots (a scrape interval longer
 *    than the interval, series_ingest_every): a series from a page goes
 *    stale only when a later page lacks it, and holds its value between
 *    pages;
 *  - range selectors cover (now - range, now], left-open as in Prometheus 3
 *    (CHANGELOG 3.0.0, #13904). */
#ifndef PT_SERIES_H
#define PT_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../core/promql.h"

/* Hard limits; a config may lower the SERIES_DEF_* ones but not raise them
 * past these. */
#define SERIES_MAX_KEY_LEN 256       /* bytes of a container key */
#define SERIES_MAX_NAMES 256         /* distinct metric names all triggers reference */
#define SERIES_MAX_DEPTH 4096        /* samples one series keeps (range / interval + 2) */
#define SERIES_MAX_PER_CONTAINER 512 /* also bounds what one evaluation holds */

/* Defaults for struct series_config's zero fields. */
#define SERIES_DEF_INTERVAL_MS 1000
#define SERIES_DEF_MAX_CONTAINERS 4096
#define SERIES_DEF_MAX_PER_CONTAINER 256
#define SERIES_DEF_MAX_SERIES 16384
#define SERIES_DEF_MAX_LABEL_BYTES 512 /* per series: names + values + 2 per label */
#define SERIES_DEF_MAX_BYTES ((size_t)32 << 20)

/* An instant selector sees a value for this many intervals (for a series
 * from a page: scrape intervals) after it was recorded, when nothing newer
 * was recorded for the container at all (a newer slot, or page, without
 * the series makes it stale at once). Prometheus looks back 5 min, which
 * with `for:` would keep a trigger pending or firing on a value nobody
 * observes any more; the agent records every tick, so a value three ticks
 * (or scrapes) old means the container stopped reporting. */
#define SERIES_LOOKBACK_INTERVALS 3

/* The longest scrape interval series_ingest_every takes (longer is taken
 * as this). */
#define SERIES_MAX_EVERY_MS ((uint64_t)24 * 3600 * 1000)

/* The agent publishes its cgroup and PSI readings under cAdvisor's names
 * and units (google/cadvisor metrics/prometheus.go), so that triggers read
 * as they would against a kubelet. All counters are in seconds; PSI "some"
 * is *_waiting_*, "full" is *_stalled_* (total= in the pressure files is in
 * microseconds, divided by 1e6 as cAdvisor does). cAdvisor labels
 * container_cpu_usage_seconds_total with cpu="total" when it has no per-CPU
 * figures; the agent publishes it without labels. */
#define SERIES_CPU_USAGE "container_cpu_usage_seconds_total"              /* cpu.stat usage_usec */
#define SERIES_CPU_USER "container_cpu_user_seconds_total"                /* cpu.stat user_usec */
#define SERIES_CPU_SYSTEM "container_cpu_system_seconds_total"            /* cpu.stat system_usec */
#define SERIES_CPU_PERIODS "container_cpu_cfs_periods_total"              /* cpu.stat nr_periods */
#define SERIES_CPU_THROTTLED_PERIODS "container_cpu_cfs_throttled_periods_total" /* nr_throttled */
#define SERIES_CPU_THROTTLED "container_cpu_cfs_throttled_seconds_total"  /* throttled_usec */
#define SERIES_MEM_USAGE "container_memory_usage_bytes"                   /* memory.current */
#define SERIES_MEM_WORKING_SET "container_memory_working_set_bytes"      /* current - inactive_file */
#define SERIES_MEM_RSS "container_memory_rss"                            /* memory.stat anon */
#define SERIES_OOM_EVENTS "container_oom_events_total"                   /* memory.events oom_kill */
#define SERIES_PSI_CPU_SOME "container_pressure_cpu_waiting_seconds_total"
#define SERIES_PSI_CPU_FULL "container_pressure_cpu_stalled_seconds_total"
#define SERIES_PSI_MEM_SOME "container_pressure_memory_waiting_seconds_total"
#define SERIES_PSI_MEM_FULL "container_pressure_memory_stalled_seconds_total"
#define SERIES_PSI_IO_SOME "container_pressure_io_waiting_seconds_total"
#define SERIES_PSI_IO_FULL "container_pressure_io_stalled_seconds_total"

struct series_config {
	uint64_t interval_ms;            /* the agent's tick: the spacing history is sized for */
	size_t max_containers;
	size_t max_series_per_container; /* at most SERIES_MAX_PER_CONTAINER */
	size_t max_series;               /* all containers together */
	size_t max_label_bytes;
	size_t max_bytes;                /* everything the store holds, tables included */
};

struct series_store;
struct series_container;
struct series;

/* Build a store for the triggers exprs[0..n) (borrowed; the store copies
 * what it keeps). A metric name is kept if some selector names it; its
 * depth is 1 for instant selectors only, else ceil(range / interval) + 2
 * (the window's samples, the fencepost, and one interval of slack). cfg
 * may be NULL for all defaults. On success *out is yours (series_free).
 * Fails with PT_UNSUPPORTED for a selector without a metric name (the
 * store keeps only named series), PT_LIMIT when more than SERIES_MAX_NAMES
 * names or a depth above SERIES_MAX_DEPTH are needed, PT_INVALID for a
 * config value out of range, PT_NOMEM; *out is then untouched. */
enum pt_code series_new(const struct series_config *cfg, const struct promql_expr *const *exprs,
			size_t n_exprs, struct series_store **out, struct pt_error *e) PT_WUR;

/* Free the store and everything in it. NULL is a no-op. */
void series_free(struct series_store *s);

/* Whether some trigger references metric (canonical or alias name), so the
 * agent can skip reading what nobody needs. */
bool series_wants(const struct series_store *s, const char *metric);

/* The instant-selector lookback: SERIES_LOOKBACK_INTERVALS intervals. */
uint64_t series_lookback_ms(const struct series_store *s);

struct series_ingest_stats {
	size_t kept;       /* samples stored */
	size_t skipped;    /* samples of metrics no trigger references */
	size_t bad_lines;  /* lines that do not parse (promtext) */
	size_t created;    /* new series */
	size_t dropped;    /* samples lost to a limit or to the memory cap */
	size_t duplicates; /* a second sample of one series in one slot (the first wins) */
};

/* Store the referenced samples of a scraped page (len bytes, text format
 * 0.0.4, borrowed; NULL with len 0 for a failed scrape) for container key
 * at now_ms, creating the container if it is new. Labels with an empty
 * value are dropped, as Prometheus does; a series repeated in one page (or
 * one slot) keeps its first sample, as Prometheus keeps the first and
 * rejects the rest as duplicates.
 * Per-sample problems are counted in *st (may be NULL; overwritten), never
 * fatal. Fails with PT_INVALID for an empty or over-long key, PT_RANGE if
 * now_ms is older than the container's newest slot, PT_LIMIT if the
 * container is new and max_containers are held, PT_NOMEM if it cannot be
 * allocated; nothing is stored then. */
enum pt_code series_ingest(struct series_store *s, const char *key, const char *page, size_t len,
			   int64_t now_ms, struct series_ingest_stats *st, struct pt_error *e) PT_WUR;

/* As series_ingest, for a page scraped every every_ms (0: every interval),
 * so its series keep their values SERIES_LOOKBACK_INTERVALS times that
 * long between pages. */
enum pt_code series_ingest_every(struct series_store *s, const char *key, const char *page, size_t len,
				 int64_t now_ms, uint64_t every_ms, struct series_ingest_stats *st,
				 struct pt_error *e) PT_WUR;

struct series_label {
	const char *name;
	const char *value;
};

/* Store one sample (the agent's cgroup and PSI readings) of metric with
 * labels[0..n) for container key at now_ms. A metric no trigger references
 * is ignored (PT_OK). Fails as series_ingest does, and also with PT_INVALID
 * for a bad label set (empty or duplicate name, '__name__'), PT_LIMIT when a
 * limit drops the sample, PT_NOMEM when the memory cap does. */
enum pt_code series_add(struct series_store *s, const char *key, const char *metric,
			const struct series_label *labels, size_t n_labels, double value, int64_t now_ms,
			struct pt_error *e) PT_WUR;

/* Copy into dst, a store for a new trigger set (a policy reload), the
 * history in src of every series dst also keeps: each container's slots,
 * oldest first, as deep as dst keeps them, with the same times, values and
 * staleness, so windows stay full and rates stay defined across a reload.
 * dst must be new (nothing recorded yet). What a limit or the memory cap
 * refuses is left out and counted; returns the samples copied. */
size_t series_carry(struct series_store *dst, const struct series_store *src, size_t *dropped);

/* Forget container key and all its series (the pod is gone). Returns
 * whether it was known. */
bool series_drop(struct series_store *s, const char *key);

/* Forget every container with no slot newer than now_ms - idle_ms (or,
 * if longer, than the lookback of its pages). Returns how many were
 * dropped. */
size_t series_expire(struct series_store *s, int64_t now_ms, uint64_t idle_ms);

struct series_mem {
	size_t containers;
	size_t series;
	size_t bytes_in_use;   /* blocks handed out (size-class rounded) and tables */
	size_t bytes_reserved; /* what the store holds from malloc; never shrinks until series_free */
};

void series_mem_stats(const struct series_store *s, struct series_mem *m);

/* ---- read access, for the evaluator ---------------------------------- */

/* The container for key, or NULL. Valid until the store is next changed. */
const struct series_container *series_find(const struct series_store *s, const char *key);

/* Call fn for each series of c whose metric is sel->metric and whose labels
 * satisfy sel's matchers; fn returns false to stop. Returns how many
 * matched. sel->range_ms is not looked at. */
typedef bool (*series_each_fn)(void *ctx, const struct series *sr);
size_t series_select(const struct series_store *s, const struct series_container *c,
		     const struct promql_selector *sel, series_each_fn fn, void *ctx);

/* The value of label name of sr, or NULL if it has none; "__name__" gives
 * the canonical metric name. Borrowed from the store. */
const char *series_label(const struct series_store *s, const struct series *sr, const char *name);

/* The i-th label of sr in name order (i from 0), or false past the last.
 * "__name__" is not among them. */
bool series_label_at(const struct series *sr, size_t i, const char **name, const char **value);

/* The instant value of sr at now_ms: its sample in the container's newest
 * slot (for a series from a page: in the newest page), if that is not
 * older than the lookback and not after now_ms.
 * Returns false (v untouched) when there is none (stale or too old). */
bool series_latest(const struct series_store *s, const struct series_container *c,
		   const struct series *sr, int64_t now_ms, double *v);

/* Walks the samples of one series in (start_ms, end_ms], oldest first,
 * skipping gaps. Fields are private. */
struct series_iter {
	const struct series_container *c;
	const struct series *sr;
	uint32_t seq, hi;
	uint32_t ring, depth;
	int64_t start_ms, end_ms;
};

void series_range(const struct series_store *s, const struct series_container *c,
		  const struct series *sr, int64_t start_ms, int64_t end_ms, struct series_iter *it);
bool series_next(struct series_iter *it, int64_t *t_ms, double *v);

#endif
