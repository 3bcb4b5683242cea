/* SPDX-License-Identifier: Apache-2.0 */
/* The sample store against the real Go and JVM pages (../shared/tools/
 * metrics, from the worktree root) ingested repeatedly with synthetic time
 * and changed values: what is kept, depth, staleness, aliases, every limit,
 * bad input, flat memory over 10,000 containers, the memory of 250 pods,
 * and an ingest speed figure (printed, not asserted). */
#include <time.h>

#include "../../core/promql.h"
#include "../../core/promtext.h"
#include "../../rebalancer/series.h"
#include "test.h"

#define GO_PAGE "../shared/tools/metrics/metrics-go.txt"
#define JAVA_PAGE "../shared/tools/metrics/metrics-java.txt"

/* ---- helpers ------------------------------------------------------------- */

static struct series_store *store_for(const struct series_config *cfg, const char *const *srcs, size_t n)
{
	struct promql_expr *x[16] = {0};
	struct series_store *s = NULL;
	struct pt_error e = {0};

	for (size_t i = 0; i < n; i++)
		if (promql_parse(srcs[i], &x[i], &e) != PT_OK) {
			fprintf(stderr, "cannot parse '%s': %s\n", srcs[i], e.msg);
			exit(2);
		}
	if (series_new(cfg, (const struct promql_expr *const *)x, n, &s, &e) != PT_OK) {
		fprintf(stderr, "series_new: %s\n", e.msg);
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		promql_free(x[i]);
	return s;
}

static enum pt_code try_store(const struct series_config *cfg, const char *src, struct pt_error *e)
{
	struct promql_expr *x = NULL;
	struct series_store *s = NULL;
	enum pt_code rc;

	if (promql_parse(src, &x, e) != PT_OK)
		return PT_SYNTAX;
	rc = series_new(cfg, (const struct promql_expr *const *)&x, 1, &s, e);
	series_free(s);
	promql_free(x);
	return rc;
}

/* A bare selector, parsed as the trigger "src > 0". */
static struct promql_expr *parse(const char *src)
{
	struct promql_expr *x = NULL;
	struct pt_error e = {0};
	char buf[512];

	snprintf(buf, sizeof buf, "%s > 0", src);
	if (promql_parse(buf, &x, &e) != PT_OK) {
		fprintf(stderr, "cannot parse '%s': %s\n", src, e.msg);
		exit(2);
	}
	return x;
}

/* The page with the value of every line whose name starts with prefix
 * replaced by fn(old value, line index among them). The result is yours. */
static char *rewrite(const char *page, const char *prefix, double (*fn)(double, int, void *), void *ctx)
{
	size_t cap = strlen(page) * 2 + 4096, len = 0, pl = strlen(prefix);
	char *out = malloc(cap);
	int k = 0;

	for (const char *p = page; *p;) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl : p + strlen(p), *sp;
		int n;

		if ((size_t)(e - p) > pl && strncmp(p, prefix, pl) == 0 && (sp = memrchr(p, ' ', (size_t)(e - p)))) {
			double v = fn(strtod(sp + 1, NULL), k++, ctx);

			n = snprintf(out + len, cap - len, "%.*s %.17g\n", (int)(sp - p), p, v);
		} else {
			n = snprintf(out + len, cap - len, "%.*s\n", (int)(e - p), p);
		}
		len += (size_t)n;
		p = nl ? nl + 1 : e;
	}
	return out;
}

static double plus(double v, int i, void *ctx)
{
	(void)i;
	return v + *(double *)ctx;
}

/* Replace every occurrence of from by to; the result is yours. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	out = o = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
	for (const char *p = s, *q; ; p = q + fl) {
		if (!(q = strstr(p, from))) {
			memcpy(o, p, strlen(p) + 1);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
	}
	return out;
}

struct first {
	const struct series *sr;
	size_t n;
};

static bool take_first(void *ctx, const struct series *sr)
{
	struct first *f = ctx;

	if (!f->n++)
		f->sr = sr;
	return true;
}

/* The instant value of the one series src selects in key, or NaN. */
static double value_of(const struct series_store *s, const char *key, const char *src, int64_t now, size_t *matched)
{
	struct promql_expr *x = parse(src);
	const struct series_container *c = series_find(s, key);
	struct first f = {0};
	double v = NAN;

	if (c) {
		series_select(s, c, &x->root->sel, take_first, &f);
		if (f.sr && !series_latest(s, c, f.sr, now, &v))
			v = NAN;
	}
	if (matched)
		*matched = f.n;
	promql_free(x);
	return v;
}

static size_t count_range(const struct series_store *s, const char *key, const char *src, int64_t start,
			  int64_t end)
{
	struct promql_expr *x = parse(src);
	const struct series_container *c = series_find(s, key);
	struct first f = {0};
	struct series_iter it;
	size_t n = 0;
	int64_t t;
	double v;

	if (c && series_select(s, c, &x->root->sel, take_first, &f)) {
		series_range(s, c, f.sr, start, end, &it);
		while (series_next(&it, &t, &v))
			n++;
	}
	promql_free(x);
	return n;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static const char *const go_triggers[] = {
	"histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[1m])) > 0.008",
	"max(go_gc_duration_seconds) > 0.01",
};

/* ---- configuration --------------------------------------------------------- */

static void test_config(void)
{
	static const char *const srcs[] = {
		"rate(process_cpu_seconds_total[10s]) > 1",
		"process_cpu_seconds_total > 100",
		"jvm_memory_pool_used_bytes{pool=\"Metaspace\"} > 1",
		"avg_over_time(go_goroutines[30s]) > 100",
	};
	struct series_config cfg = {0};
	struct series_store *s = store_for(NULL, srcs, 4);
	struct pt_error e = {0};

	CHECK(series_wants(s, "process_cpu_seconds_total"));
	CHECK(series_wants(s, "go_goroutines"));
	/* Both JVM spellings name one canonical metric. */
	CHECK(series_wants(s, "jvm_memory_pool_used_bytes"));
	CHECK(series_wants(s, "jvm_memory_pool_bytes_used"));
	CHECK(!series_wants(s, "go_threads"));
	CHECK(!series_wants(s, ""));
	CHECK(!series_wants(s, NULL));
	CHECK_INT(series_lookback_ms(s), 3000);
	series_free(s);
	series_free(NULL);

	/* Selectors without a metric name cannot be filtered by name. */
	CHECK_INT(try_store(NULL, "sum({job=\"x\"}) > 1", &e), PT_UNSUPPORTED);
	CHECK_CONTAINS(e.msg, "without a metric name");
	/* 2h at 1s is 7202 samples. */
	CHECK_INT(try_store(NULL, "rate(x_total[2h]) > 1", &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "'x_total' needs 7202 samples");
	cfg.interval_ms = 10000;
	CHECK_INT(try_store(&cfg, "rate(x_total[2h]) > 1", &e), PT_OK);
	cfg.interval_ms = 2 * 3600 * 1000;
	CHECK_INT(try_store(&cfg, "x > 1", &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "longer than an hour");
	cfg.interval_ms = 0;
	cfg.max_series_per_container = SERIES_MAX_PER_CONTAINER + 1;
	CHECK_INT(try_store(&cfg, "x > 1", &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "max_series_per_container");
	CHECK_INT(series_new(NULL, NULL, 1, &s, &e), PT_INVALID);
	/* No triggers: an empty store that keeps nothing. */
	CHECK_INT(series_new(NULL, NULL, 0, &s, &e), PT_OK);
	CHECK(!series_wants(s, "go_goroutines"));
	series_free(s);
}

/* Depth: a 10 s range at a 1 s interval keeps 12 samples; instant-only
 * names keep 1. */
static void test_depth(void)
{
	static const char *const srcs[] = {"rate(a_total[10s]) > 1", "b > 1"};
	struct series_store *s = store_for(NULL, srcs, 2);

	for (int t = 1; t <= 40; t++) {
		CHECK_INT(series_add(s, "k", "a_total", NULL, 0, t, t * 1000, NULL), PT_OK);
		CHECK_INT(series_add(s, "k", "b", NULL, 0, t, t * 1000, NULL), PT_OK);
	}
	CHECK_INT(count_range(s, "k", "a_total", 0, 40000), 12);
	CHECK_INT(count_range(s, "k", "a_total", 30000, 40000), 10); /* (30 s, 40 s] */
	CHECK_INT(count_range(s, "k", "b", 0, 40000), 1);
	CHECK_DBL(value_of(s, "k", "b", 40000, NULL), 40, 0);
	series_free(s);
}

/* ---- the real pages ---------------------------------------------------------- */

static void test_ingest_go(void)
{
	struct series_store *s = store_for(NULL, go_triggers, 2);
	struct series_ingest_stats st;
	struct pt_error e = {0};
	char *page = test_slurp(GO_PAGE, NULL), *next;
	double add = 7;
	size_t matched;

	CHECK_INT(series_ingest(s, "go-1", page, strlen(page), 1000, &st, &e), PT_OK);
	/* 10 buckets and 5 summary quantiles; the rest is skipped unparsed. */
	CHECK_INT(st.kept, 15);
	CHECK_INT(st.created, 15);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(st.dropped, 0);
	CHECK_INT(st.skipped, 155 - 15);
	CHECK_DBL(value_of(s, "go-1", "go_gc_pauses_seconds_bucket{le=\"+Inf\"}", 1000, &matched), 1190, 0);
	CHECK_INT(matched, 1);
	CHECK_DBL(value_of(s, "go-1", "go_gc_pauses_seconds_bucket{le=\"1.0239999999999999e-05\"}", 1000, NULL),
		  227, 0);
	CHECK_DBL(value_of(s, "go-1", "go_gc_duration_seconds{quantile=\"1\"}", 1000, NULL), 0.002624185, 1e-15);
	value_of(s, "go-1", "go_gc_pauses_seconds_bucket", 1000, &matched);
	CHECK_INT(matched, 10);

	/* The same page a second later, values changed: no new series. */
	next = rewrite(page, "go_gc_pauses_seconds_bucket", plus, &add);
	CHECK_INT(series_ingest(s, "go-1", next, strlen(next), 2000, &st, &e), PT_OK);
	CHECK_INT(st.kept, 15);
	CHECK_INT(st.created, 0);
	CHECK_DBL(value_of(s, "go-1", "go_gc_pauses_seconds_bucket{le=\"+Inf\"}", 2000, NULL), 1197, 0);
	CHECK_INT(count_range(s, "go-1", "go_gc_pauses_seconds_bucket{le=\"+Inf\"}", 0, 2000), 2);

	/* A second container has its own series. */
	CHECK_INT(series_ingest(s, "go-2", page, strlen(page), 2000, &st, &e), PT_OK);
	CHECK_INT(st.created, 15);
	CHECK_DBL(value_of(s, "go-2", "go_gc_pauses_seconds_bucket{le=\"+Inf\"}", 2000, NULL), 1190, 0);
	free(next);
	free(page);
	series_free(s);
}

static void test_ingest_java_aliases(void)
{
	static const char *const srcs[] = {
		"jvm_memory_pool_used_bytes{pool=\"G1 Old Gen\"} > 1",
		"rate(jvm_gc_collection_seconds_sum[1m]) > 0.1",
	};
	struct series_store *s = store_for(NULL, srcs, 2);
	struct series_ingest_stats st;
	char *page = test_slurp(JAVA_PAGE, NULL);
	/* The same values under the JMX exporter >= 1.0 names. */
	char *renamed = replace_all(page, "jvm_memory_pool_bytes_used", "jvm_memory_pool_used_bytes");
	size_t m1, m2;

	CHECK(strstr(renamed, "jvm_memory_pool_used_bytes{pool=\"Metaspace\",} 1704752.0") != NULL);
	CHECK_INT(series_ingest(s, "classic", page, strlen(page), 1000, &st, NULL), PT_OK);
	CHECK_INT(st.kept, 8 + 2);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(series_ingest(s, "jmx", renamed, strlen(renamed), 1000, &st, NULL), PT_OK);
	CHECK_INT(st.kept, 8 + 2);
	/* Either name selects the same series, whichever the page used. */
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "jmx" : "classic";

		CHECK_DBL(value_of(s, key, "jvm_memory_pool_bytes_used{pool=\"G1 Old Gen\"}", 1000, &m1), 7.0439424e7, 0);
		CHECK_DBL(value_of(s, key, "jvm_memory_pool_used_bytes{pool=\"G1 Old Gen\"}", 1000, &m2), 7.0439424e7, 0);
		CHECK_INT(m1, 1);
		CHECK_INT(m2, 1);
		CHECK_DBL(value_of(s, key, "jvm_memory_pool_used_bytes{pool=\"CodeHeap 'non-nmethods'\"}", 1000, NULL),
			  1155072, 0);
		value_of(s, key, "jvm_memory_pool_used_bytes{pool=~\"G1.*\"}", 1000, &m1);
		CHECK_INT(m1, 3);
		CHECK_DBL(value_of(s, key, "{__name__=\"jvm_memory_pool_used_bytes\",pool=\"Metaspace\"}", 1000,
				   NULL), 1704752, 0);
		CHECK_DBL(value_of(s, key, "jvm_gc_collection_seconds_sum{gc=\"G1 Young Generation\"}", 1000, NULL),
			  1.978, 0);
	}
	free(renamed);
	free(page);
	series_free(s);
}

/* ---- time, staleness, duplicates ----------------------------------------------- */

static void test_staleness(void)
{
	static const char *const srcs[] = {"rate(a_total[1m]) > 1", "g > 1"};
	struct series_store *s = store_for(NULL, srcs, 2);
	struct series_ingest_stats st;
	const char *both = "a_total 10\ng 5\n", *only_a = "a_total 20\n";
	struct pt_error e = {0};

	CHECK_INT(series_ingest(s, "k", both, strlen(both), 1000, &st, NULL), PT_OK);
	CHECK_DBL(value_of(s, "k", "g", 1000, NULL), 5, 0);
	/* Lookback: left-open, three intervals. */
	CHECK_DBL(value_of(s, "k", "g", 3999, NULL), 5, 0);
	CHECK(isnan(value_of(s, "k", "g", 4000, NULL)));
	/* Not in the next scrape: stale at once. */
	CHECK_INT(series_ingest(s, "k", only_a, strlen(only_a), 2000, &st, NULL), PT_OK);
	CHECK(isnan(value_of(s, "k", "g", 2000, NULL)));
	CHECK_DBL(value_of(s, "k", "a_total", 2000, NULL), 20, 0);
	/* A failed scrape (an empty page) while the agent records a cgroup
	 * value in the same tick: the page's series are stale, the gap
	 * skipped. */
	CHECK_INT(series_add(s, "k", "g", NULL, 0, 7, 3000, NULL), PT_OK);
	CHECK_DBL(value_of(s, "k", "a_total", 3000, NULL), 20, 0); /* no page yet this tick */
	CHECK_INT(series_ingest(s, "k", NULL, 0, 3000, &st, NULL), PT_OK);
	CHECK(isnan(value_of(s, "k", "a_total", 3000, NULL)));
	CHECK_DBL(value_of(s, "k", "g", 3000, NULL), 7, 0);
	CHECK_INT(series_ingest(s, "k", both, strlen(both), 4000, &st, NULL), PT_OK);
	CHECK_INT(count_range(s, "k", "a_total", 0, 4000), 3);
	CHECK_DBL(value_of(s, "k", "a_total", 4000, NULL), 10, 0);
	CHECK_INT(count_range(s, "k", "g", 0, 4000), 1);
	/* Same time again: the slot is shared, the first sample wins. */
	CHECK_INT(series_add(s, "k", "g", NULL, 0, 99, 4000, NULL), PT_OK);
	CHECK_DBL(value_of(s, "k", "g", 4000, NULL), 5, 0);
	CHECK_INT(series_ingest(s, "k", both, strlen(both), 4000, &st, NULL), PT_OK);
	CHECK_INT(st.duplicates, 2);
	CHECK_INT(st.kept, 0);
	/* A page with the same series twice: the first wins. */
	CHECK_INT(series_ingest(s, "k", "g 1\ng 2\n", 8, 5000, &st, NULL), PT_OK);
	CHECK_INT(st.kept, 1);
	CHECK_INT(st.duplicates, 1);
	CHECK_DBL(value_of(s, "k", "g", 5000, NULL), 1, 0);
	/* Time going backwards is refused and changes nothing. */
	CHECK_INT(series_ingest(s, "k", both, strlen(both), 4500, &st, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "before its newest sample");
	CHECK_INT(series_add(s, "k", "g", NULL, 0, 1, 100, &e), PT_RANGE);
	/* A failed scrape, recorded as an empty page: stale at once. */
	CHECK_INT(series_ingest(s, "k", NULL, 0, 5500, &st, NULL), PT_OK);
	CHECK(isnan(value_of(s, "k", "g", 5500, NULL)));
	CHECK_INT(count_range(s, "k", "g", 4500, 5500), 1);
	/* An evaluation before the newest slot sees no instant value. */
	CHECK(isnan(value_of(s, "k", "g", 4999, NULL)));
	/* The ring wraps: 200 more slots of a 62-slot ring. */
	for (int t = 6; t < 206; t++)
		CHECK_INT(series_ingest(s, "k", both, strlen(both), t * 1000, &st, NULL), PT_OK);
	CHECK_INT(count_range(s, "k", "a_total", 0, 206000), 62);
	CHECK_INT(count_range(s, "k", "a_total", 145000, 206000), 60);
	series_free(s);
}

/* Pages scraped every 5 s while the agent records its own series every
 * 1 s tick: a page's series hold their value between pages, go stale when
 * a page lacks them or the scrape fails, and expire three scrape intervals
 * after the last page; ranges see one sample per page. */
static void test_scrape_interval(void)
{
	static const char *const srcs[] = {"rate(a_total[1m]) > 1", "g > 1", "c > 1"};
	struct series_store *s = store_for(NULL, srcs, 3), *d = store_for(NULL, srcs, 3);
	const char *both = "a_total 10\ng 5\n", *only_a = "a_total 20\n";

	CHECK_INT(series_ingest_every(s, "k", both, strlen(both), 1000, 5000, NULL, NULL), PT_OK);
	for (int t = 1; t <= 5; t++) {
		CHECK_INT(series_add(s, "k", "c", NULL, 0, t, t * 1000, NULL), PT_OK);
		CHECK_DBL(value_of(s, "k", "g", t * 1000, NULL), 5, 0);
		CHECK_DBL(value_of(s, "k", "c", t * 1000, NULL), t, 0);
	}
	/* Three scrape intervals after the page, if no page came since. */
	CHECK_DBL(value_of(s, "k", "g", 15999, NULL), 5, 0);
	CHECK(isnan(value_of(s, "k", "g", 16000, NULL)));
	/* Not in the next page: stale at once; a_total has its two samples. */
	CHECK_INT(series_ingest_every(s, "k", only_a, strlen(only_a), 6000, 5000, NULL, NULL), PT_OK);
	CHECK(isnan(value_of(s, "k", "g", 6000, NULL)));
	CHECK_DBL(value_of(s, "k", "a_total", 6000, NULL), 20, 0);
	CHECK_INT(count_range(s, "k", "a_total", 0, 6000), 2);
	for (int t = 7; t <= 8; t++)
		CHECK_INT(series_add(s, "k", "c", NULL, 0, t, t * 1000, NULL), PT_OK);
	CHECK_DBL(value_of(s, "k", "a_total", 8000, NULL), 20, 0);
	/* A reload between pages keeps the page, its time and its spacing. */
	CHECK_INT(series_carry(d, s, NULL), 2 + 1); /* a_total's two, c's newest (instant: depth 1) */
	CHECK_DBL(value_of(d, "k", "a_total", 8000, NULL), 20, 0);
	CHECK_DBL(value_of(d, "k", "a_total", 20999, NULL), 20, 0);
	CHECK(isnan(value_of(d, "k", "a_total", 21000, NULL)));
	CHECK(isnan(value_of(d, "k", "g", 8000, NULL)));
	/* A failed scrape: every page series is stale. */
	CHECK_INT(series_add(s, "k", "c", NULL, 0, 11, 11000, NULL), PT_OK);
	CHECK_INT(series_ingest_every(s, "k", NULL, 0, 11000, 5000, NULL, NULL), PT_OK);
	CHECK(isnan(value_of(s, "k", "a_total", 11000, NULL)));
	CHECK_INT(count_range(s, "k", "a_total", 0, 11000), 2);
	CHECK_DBL(value_of(s, "k", "c", 11000, NULL), 11, 0);
	/* Back to a page every tick: the lookback is three ticks again. */
	CHECK_INT(series_ingest(s, "k", both, strlen(both), 12000, NULL, NULL), PT_OK);
	CHECK_DBL(value_of(s, "k", "g", 14999, NULL), 5, 0);
	CHECK(isnan(value_of(s, "k", "g", 15000, NULL)));
	series_free(d);
	series_free(s);
}

/* A reload between pages carries the newest page even when the slots
 * since it are deeper than what the new store keeps of its series (an
 * instant selector keeps one), or than its whole ring (only instant
 * selectors: one slot); and a container fed by pages alone is not expired
 * before its pages' lookback. */
static void test_scrape_interval_carry(void)
{
	static const char *const deep[] = {"rate(a_total[1m]) > 1", "g > 1", "c > 1"};
	static const char *const flat[] = {"g > 1", "c > 1"};
	const char *const *sets[] = {deep, flat};
	const char *page = "a_total 1\ng 5\n";

	for (size_t i = 0; i < 2; i++) {
		size_t n = i ? 2 : 3;
		struct series_store *s = store_for(NULL, sets[i], n), *d = store_for(NULL, sets[i], n);

		CHECK_INT(series_ingest_every(s, "k", page, strlen(page), 1000, 5000, NULL, NULL), PT_OK);
		for (int t = 1; t <= 4; t++)
			CHECK_INT(series_add(s, "k", "c", NULL, 0, t, t * 1000, NULL), PT_OK);
		/* deep: a_total and g from the page, c's newest; flat (a
		 * one-slot ring, no a_total): g from the page, c's newest. */
		CHECK_INT(series_carry(d, s, NULL), i ? 2 : 3);
		CHECK_DBL(value_of(d, "k", "g", 4000, NULL), 5, 0);
		CHECK_DBL(value_of(d, "k", "c", 4000, NULL), 4, 0);
		CHECK_DBL(value_of(d, "k", "g", 15999, NULL), 5, 0);
		CHECK(isnan(value_of(d, "k", "g", 16000, NULL)));
		/* The carried page is the newest: the next one without g
		 * makes it stale. */
		CHECK_INT(series_ingest_every(d, "k", "a_total 2\n", 10, 6000, 5000, NULL, NULL), PT_OK);
		CHECK(isnan(value_of(d, "k", "g", 6000, NULL)));
		series_free(d);
		series_free(s);
	}
	{
		struct series_store *s = store_for(NULL, flat, 2);

		CHECK_INT(series_ingest_every(s, "k", page, strlen(page), 1000, 300000, NULL, NULL), PT_OK);
		CHECK_INT(series_expire(s, 1000 + 600001, 600000), 0);
		CHECK_DBL(value_of(s, "k", "g", 1000 + 600001, NULL), 5, 0);
		CHECK_INT(series_expire(s, 1000 + 900001, 600000), 1);
		series_free(s);
	}
}

/* A policy reload: the new store gets the history of what it keeps, slot
 * for slot (times, values, gaps), as deep as it keeps it. */
static void test_carry(void)
{
	static const char *const old_srcs[] = {"rate(a_total[1m]) > 1", "g > 1", "h > 1"};
	static const char *const new_srcs[] = {"rate(a_total[10s]) > 1", "g > 1", "rate(z_total[1m]) > 0"};
	struct series_config small = {.max_containers = 1};
	struct series_store *s = store_for(NULL, old_srcs, 3), *d = store_for(NULL, new_srcs, 3), *one;
	const char *both = "a_total 10\ng 5\nh 1\n", *only_a = "a_total 20\n";
	size_t lost = 99;

	/* k: 20 ticks, g absent at 15 s and every scrape failed at 17 s. */
	for (int t = 1; t <= 20; t++) {
		const char *page = t == 15 ? only_a : t == 17 ? NULL : both;

		CHECK_INT(series_ingest(s, "k", page, page ? strlen(page) : 0, t * 1000, NULL, NULL), PT_OK);
	}
	CHECK_INT(series_ingest(s, "j", both, strlen(both), 20000, NULL, NULL), PT_OK);
	/* Every slot of k is opened (the new ring is 62 deep for z_total);
	 * a_total's samples go over as deep as the new store keeps it (12:
	 * 9..20 s, less the failed scrape), g's newest (an instant selector
	 * kept only that), and j's two; h is not kept by the new set. */
	CHECK_INT(series_carry(d, s, &lost), 11 + 1 + 2);
	CHECK_INT(lost, 0);
	CHECK_INT(count_range(d, "k", "a_total", 0, 20000), count_range(s, "k", "a_total", 8000, 20000));
	CHECK_INT(count_range(d, "k", "a_total", 0, 20000), 11);
	CHECK_INT(count_range(d, "k", "a_total", 16000, 18000), 1); /* the failed scrape stays a gap */
	CHECK_DBL(value_of(d, "k", "g", 20000, NULL), 5, 0);
	CHECK_DBL(value_of(d, "j", "a_total", 20000, NULL), 10, 0);
	CHECK(!series_find(d, "k") || isnan(value_of(d, "k", "h", 20000, NULL)));
	/* The new store goes on from there; time cannot go back. */
	CHECK_INT(series_ingest(d, "k", only_a, strlen(only_a), 21000, NULL, NULL), PT_OK);
	CHECK(isnan(value_of(d, "k", "g", 21000, NULL)));
	CHECK_INT(series_ingest(d, "k", both, strlen(both), 20500, NULL, NULL), PT_RANGE);
	/* Nothing to carry, nowhere to carry to. */
	CHECK_INT(series_carry(d, NULL, NULL), 0);
	CHECK_INT(series_carry(NULL, s, NULL), 0);
	/* A limit of the new store: what does not fit is counted, not fatal. */
	one = store_for(&small, new_srcs, 3);
	CHECK_INT(series_carry(one, s, &lost) + lost, 11 + 1 + 2); /* one container fits, the other's count as lost */
	CHECK(lost > 0);
	series_free(one);
	series_free(d);
	series_free(s);
}

/* Labels: order in the page does not matter, empty values are no label. */
static void test_labels(void)
{
	static const char *const srcs[] = {"m > 1"};
	struct series_store *s = store_for(NULL, srcs, 1);
	struct series_ingest_stats st;
	const char *p1 = "m{b=\"2\",a=\"1\",c=\"\"} 1\n", *p2 = "m{a=\"1\",b=\"2\"} 2\n";
	const struct series_label l[] = {{"b", "2"}, {"a", "1"}, {"z", ""}};
	struct first f = {0};
	struct promql_expr *x = parse("m");
	const char *n, *v;

	CHECK_INT(series_ingest(s, "k", p1, strlen(p1), 1000, &st, NULL), PT_OK);
	CHECK_INT(series_ingest(s, "k", p2, strlen(p2), 2000, &st, NULL), PT_OK);
	CHECK_INT(st.created, 0);
	CHECK_INT(series_add(s, "k", "m", l, 3, 3, 3000, NULL), PT_OK);
	CHECK_INT(series_select(s, series_find(s, "k"), &x->root->sel, take_first, &f), 1);
	CHECK(series_label_at(f.sr, 0, &n, &v));
	CHECK_STR(n, "a");
	CHECK_STR(v, "1");
	CHECK(series_label_at(f.sr, 1, &n, &v));
	CHECK_STR(n, "b");
	CHECK(!series_label_at(f.sr, 2, &n, &v));
	CHECK_STR(series_label(s, f.sr, "__name__"), "m");
	CHECK(series_label(s, f.sr, "c") == NULL);
	CHECK_DBL(value_of(s, "k", "m", 3000, NULL), 3, 0);
	promql_free(x);
	series_free(s);
}

/* ---- limits and bad input -------------------------------------------------------- */

static void test_limits(void)
{
	struct series_config cfg = {.max_series_per_container = 4, .max_series = 6, .max_containers = 2,
				    .max_label_bytes = 40};
	struct series_store *s = store_for(&cfg, go_triggers, 2);
	struct series_ingest_stats st;
	struct series_mem m;
	struct pt_error e = {0};
	char *page = test_slurp(GO_PAGE, NULL), key[300];
	const struct series_label dup[] = {{"a", "1"}, {"a", "2"}}, noname[] = {{"", "1"}},
				  reserved[] = {{"__name__", "x"}};
	const struct series_label big[] = {{"a", "0123456789012345678901234567890123456789"}};

	CHECK_INT(series_ingest(s, "a", page, strlen(page), 1000, &st, &e), PT_OK);
	CHECK_INT(st.created, 4);
	CHECK_INT(st.kept, 4);
	CHECK_INT(st.dropped, 11);
	CHECK_INT(series_ingest(s, "b", page, strlen(page), 1000, &st, &e), PT_OK);
	CHECK_INT(st.created, 2); /* 6 in all */
	CHECK_INT(st.dropped, 13);
	CHECK_INT(series_ingest(s, "c", page, strlen(page), 1000, &st, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "cannot track container 'c'");
	CHECK(series_find(s, "c") == NULL);
	/* Kept series still take new samples. */
	CHECK_INT(series_ingest(s, "a", page, strlen(page), 2000, &st, &e), PT_OK);
	CHECK_INT(st.kept, 4);
	series_mem_stats(s, &m);
	CHECK_INT(m.series, 6);
	CHECK_INT(m.containers, 2);
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", big, 1, 1, 2000, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "dropped 'go_gc_duration_seconds' of 'a'");
	/* Bad input: precise errors, nothing stored. */
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", dup, 2, 1, 2000, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "label 'a' twice");
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", noname, 1, 1, 2000, &e), PT_INVALID);
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", reserved, 1, 1, 2000, &e), PT_INVALID);
	CHECK_INT(series_add(s, "a", "", NULL, 0, 1, 2000, &e), PT_INVALID);
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", NULL, 1, 1, 2000, &e), PT_INVALID);
	CHECK_INT(series_add(s, "a", "go_gc_duration_seconds", big, PROMTEXT_MAX_LABELS + 1, 1, 2000, &e), PT_LIMIT);
	CHECK_INT(series_add(s, "a", "unreferenced", NULL, 0, 1, 2000, &e), PT_OK);
	CHECK_INT(series_ingest(s, "", page, strlen(page), 1000, &st, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "container key");
	CHECK_INT(series_ingest(s, NULL, page, strlen(page), 1000, &st, &e), PT_INVALID);
	memset(key, 'x', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	CHECK_INT(series_ingest(s, key, page, strlen(page), 1000, &st, &e), PT_INVALID);
	CHECK_INT(series_ingest(s, "a", NULL, 10, 3000, &st, &e), PT_INVALID);
	CHECK_INT(series_ingest(s, "a", NULL, 0, 3000, &st, &e), PT_OK);
	CHECK_INT(series_ingest(NULL, "a", page, 1, 3000, &st, &e), PT_INVALID);
	/* Garbage and a truncated page are counted, never fatal. */
	{
		const char *bad = "go_gc_duration_seconds{quantile=\"0.5 1\n\x01\xff\n"
				  "go_gc_duration_seconds{quantile=\"0\"} zz\ngo_gc_duration_seconds{";

		CHECK_INT(series_ingest(s, "a", bad, strlen(bad), 4000, &st, &e), PT_OK);
		CHECK_INT(st.bad_lines, 4);
	}
	CHECK_INT(st.kept, 0);
	CHECK(!series_drop(s, "nope"));
	CHECK(!series_drop(s, NULL));
	CHECK(series_find(s, NULL) == NULL);
	series_free(s);

	/* The memory cap: a store too small for its first container. */
	cfg = (struct series_config){.max_bytes = 1000};
	s = store_for(&cfg, go_triggers, 2);
	CHECK_INT(series_ingest(s, "a", page, strlen(page), 1000, &st, &e), PT_NOMEM);
	CHECK_CONTAINS(e.msg, "out of memory (cap 1000 bytes)");
	series_free(s);
	/* Room for one chunk: later series are dropped, counted. */
	cfg = (struct series_config){.max_bytes = 64 * 1024 + 1024};
	s = store_for(&cfg, go_triggers, 2);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "c%d", i);
		if (series_ingest(s, key, page, strlen(page), 1000, &st, &e) != PT_OK)
			break;
	}
	series_mem_stats(s, &m);
	CHECK(m.bytes_reserved <= cfg.max_bytes);
	CHECK(m.containers < 200);
	series_free(s);
	free(page);
}

/* ---- memory ------------------------------------------------------------------------ */

/* 10,000 containers come and go, 50 alive at a time, each scraped twice
 * and given a cgroup reading: once the tables have grown to their working
 * size, the store's own accounting returns exactly to its baseline and
 * what it holds from malloc does not grow. */
static void churn(struct series_store *s, const char *page, int from, int to, int64_t *t)
{
	char key[32];

	for (int i = from; i < to; i++, *t += 1000) {
		snprintf(key, sizeof key, "c%d", i);
		CHECK_INT(series_ingest(s, key, page, strlen(page), *t, NULL, NULL), PT_OK);
		CHECK_INT(series_add(s, key, "go_gc_duration_seconds", NULL, 0, 1, *t, NULL), PT_OK);
		CHECK_INT(series_ingest(s, key, page, strlen(page), *t + 500, NULL, NULL), PT_OK);
		if (i - from >= 50) {
			snprintf(key, sizeof key, "c%d", i - 50);
			CHECK(series_drop(s, key));
		}
	}
}

static void test_churn_flat(void)
{
	struct series_store *s = store_for(NULL, go_triggers, 2);
	struct series_mem empty, base, m;
	char *page = test_slurp(GO_PAGE, NULL);
	int64_t t = 1000;

	series_mem_stats(s, &empty);
	churn(s, page, 0, 100, &t);
	CHECK_INT(series_expire(s, t + 1000, 0), 50);
	series_mem_stats(s, &base);
	CHECK_INT(base.containers, 0);
	CHECK_INT(base.series, 0);
	churn(s, page, 100, 10100, &t);
	series_mem_stats(s, &m);
	CHECK_INT(m.containers, 50);
	CHECK_INT(m.series, 50 * 16);
	CHECK_INT(m.bytes_reserved, base.bytes_reserved);
	CHECK_INT(series_expire(s, t + 1000, 0), 50);
	series_mem_stats(s, &m);
	CHECK_INT(m.containers, 0);
	CHECK_INT(m.series, 0);
	CHECK_INT(m.bytes_in_use, base.bytes_in_use);
	CHECK_INT(m.bytes_reserved, base.bytes_reserved);
	/* What stays in use is the names and the two tables (16-byte slots,
	 * load <= 1/2: 128 for 51 containers, 2048 for 816 series). */
	CHECK_INT(base.bytes_in_use - empty.bytes_in_use, (128 + 2048) * 16);
	fprintf(stderr, "  churn: 10000 containers; in use %zu bytes before and after, reserved %zu "
		"before and after\n", base.bytes_in_use, base.bytes_reserved);
	free(page);
	series_free(s);
}

static void test_expire(void)
{
	static const char *const srcs[] = {"g > 1"};
	struct series_store *s = store_for(NULL, srcs, 1);

	CHECK_INT(series_add(s, "old", "g", NULL, 0, 1, 1000, NULL), PT_OK);
	CHECK_INT(series_add(s, "new", "g", NULL, 0, 1, 60000, NULL), PT_OK);
	CHECK_INT(series_expire(s, 61000, 30000), 1);
	CHECK(series_find(s, "old") == NULL);
	CHECK(series_find(s, "new") != NULL);
	CHECK_INT(series_expire(s, 61000, 30000), 0);
	CHECK_INT(series_expire(s, 61000, UINT64_MAX), 0);
	CHECK_INT(series_expire(s, 0, 0), 0); /* a clock behind the samples expires nothing */
	series_free(s);
}

/* 250 Go pods, 30 referenced series each (two 10-bucket histograms, a
 * summary, gauges, cgroup readings), a full minute of 1 s history. */
static void test_memory_250_pods(void)
{
	static const char *const srcs[] = {
		"histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[1m])) > 0.008",
		"histogram_quantile(0.99, rate(go_sched_latencies_seconds_bucket[1m])) > 0.001",
		"max(go_gc_duration_seconds) > 0.01",
		"go_goroutines > 10000",
		"rate(process_cpu_seconds_total[1m]) > 1",
		"rate(container_pressure_cpu_waiting_seconds_total[30s]) > 0.25",
		"rate(container_cpu_cfs_throttled_seconds_total[1m]) > 0.1",
		"container_memory_working_set_bytes > 1e9",
	};
	struct series_store *s = store_for(NULL, srcs, 8);
	struct series_mem m;
	char *page = test_slurp(GO_PAGE, NULL), key[32];
	double t0 = now_us(), per_tick;

	for (int tick = 1; tick <= 62; tick++) {
		for (int p = 0; p < 250; p++) {
			int64_t now = tick * 1000;

			snprintf(key, sizeof key, "pod-%d", p);
			CHECK_INT(series_ingest(s, key, page, strlen(page), now, NULL, NULL), PT_OK);
			CHECK_INT(series_add(s, key, SERIES_PSI_CPU_SOME, NULL, 0, tick * 0.1, now, NULL), PT_OK);
			CHECK_INT(series_add(s, key, SERIES_CPU_THROTTLED, NULL, 0, tick * 0.2, now, NULL), PT_OK);
			CHECK_INT(series_add(s, key, SERIES_MEM_WORKING_SET, NULL, 0, 1e8, now, NULL), PT_OK);
		}
	}
	per_tick = (now_us() - t0) / 62;
	series_mem_stats(s, &m);
	CHECK_INT(m.series, 250 * 30);
	/* The agent's whole budget is 12 MiB; the store must stay well in it. */
	CHECK(m.bytes_reserved < (size_t)6 << 20);
	fprintf(stderr, "  250 pods x 30 series x 62 samples: in use %.2f MiB, reserved %.2f MiB; "
		"one tick (250 ingests + 750 adds) %.0f us\n", (double)m.bytes_in_use / 1048576,
		(double)m.bytes_reserved / 1048576, per_tick);
	free(page);
	series_free(s);
}

/* ---- speed ------------------------------------------------------------------------- */

static void test_ingest_speed(void)
{
	struct series_store *s = store_for(NULL, go_triggers, 2);
	char *page = test_slurp(GO_PAGE, NULL);
	size_t len = strlen(page);
	const int n = 20000;
	double t0, us;

	CHECK_INT(series_ingest(s, "k", page, len, 0, NULL, NULL), PT_OK);
	t0 = now_us();
	for (int i = 1; i <= n; i++)
		CHECK_INT(series_ingest(s, "k", page, len, (int64_t)i * 1000, NULL, NULL), PT_OK);
	us = (now_us() - t0) / n;
	fprintf(stderr, "  ingest of the %zu-byte Go page (15 of 155 samples kept): %.2f us\n", len, us);
	free(page);
	series_free(s);
}

TEST_MAIN(test_config, test_depth, test_ingest_go, test_ingest_java_aliases, test_staleness, test_scrape_interval, test_scrape_interval_carry,
	  test_carry, test_labels,
	  test_limits, test_churn_flat, test_expire, test_memory_250_pods, test_ingest_speed)
