/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger evaluation against values worked out by hand from Prometheus'
 * own code (promql/functions.go extrapolatedRate, promql/quantile.go
 * BucketQuantile, the aggregations in promql/engine.go), over synthetic
 * series and the real Go and JVM pages (../shared/tools/metrics), and the
 * `for:` state machine, including DESIGN.md's GC-pause trigger going from
 * inactive to pending to firing and back. */
#include "../../core/promql.h"
#include "../../rebalancer/eval.h"
#include "../../rebalancer/series.h"
#include "test.h"

#define GO_PAGE "../shared/tools/metrics/metrics-go.txt"
#define JAVA_PAGE "../shared/tools/metrics/metrics-java.txt"
#define DESIGN_TRIGGER_SRC "histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[1m])) > 0.008"

/* ---- helpers ------------------------------------------------------------- */

static struct promql_expr *parse(const char *src)
{
	struct promql_expr *x = NULL;
	struct pt_error e = {0};

	if (promql_parse(src, &x, &e) != PT_OK) {
		fprintf(stderr, "cannot parse '%s': %s\n", src, e.msg);
		exit(2);
	}
	return x;
}

/* A store sized for the triggers srcs[0..n). */
static struct series_store *store_for(const char *const *srcs, size_t n)
{
	struct promql_expr *x[32] = {0};
	struct series_store *s = NULL;
	struct pt_error e = {0};

	for (size_t i = 0; i < n; i++)
		x[i] = parse(srcs[i]);
	if (series_new(NULL, (const struct promql_expr *const *)x, n, &s, &e) != PT_OK) {
		fprintf(stderr, "series_new: %s\n", e.msg);
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		promql_free(x[i]);
	return s;
}

static struct eval_result eval(const struct series_store *s, const char *key, const char *src, int64_t now)
{
	struct promql_expr *x = parse(src);
	struct eval_result r;
	static char line[256];

	eval_expr(s, key, x, now, &r);
	eval_describe(&r, x, line, sizeof line);
	r.metric = NULL; /* borrowed from x, which goes now */
	promql_free(x);
	return r;
}

static double value(const struct series_store *s, const char *key, const char *src, int64_t now)
{
	struct eval_result r = eval(s, key, src, now);

	return r.has_data ? r.value : -12345;
}

static void add(struct series_store *s, const char *key, const char *metric, const char *lname,
		const char *lvalue, double v, int64_t now)
{
	struct series_label l = {lname, lvalue};

	CHECK_INT(series_add(s, key, metric, lname ? &l : NULL, lname ? 1 : 0, v, now, NULL), PT_OK);
}

/* The page with the value of the i-th line starting with prefix replaced
 * by vals[i]. The result is yours. */
static char *with_values(const char *page, const char *prefix, const double *vals)
{
	size_t cap = strlen(page) * 2 + 4096, len = 0, pl = strlen(prefix);
	char *out = malloc(cap);
	int k = 0;

	for (const char *p = page; *p;) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl : p + strlen(p), *sp;
		int n;

		if ((size_t)(e - p) > pl && strncmp(p, prefix, pl) == 0 && (sp = memrchr(p, ' ', (size_t)(e - p))))
			n = snprintf(out + len, cap - len, "%.*s %.17g\n", (int)(sp - p), p, vals[k++]);
		else
			n = snprintf(out + len, cap - len, "%.*s\n", (int)(e - p), p);
		len += (size_t)n;
		p = nl ? nl + 1 : e;
	}
	return out;
}

/* ---- rate, increase, delta ---------------------------------------------------- */

static const char *const rate_triggers[] = {
	"rate(c_total[1m]) > 0", "increase(c_total[1m]) > 0", "delta(g[1m]) < 0",
	"sum_over_time(one[1m]) > 0", "rate(sparse_total[1m]) > 0",
};

/* Worked from extrapolatedRate with now = 100 s and range 60 s, so the
 * window is (40 s, 100 s]. */
static void test_rate(void)
{
	struct series_store *s = store_for(rate_triggers, 5);
	struct eval_result r;

	for (int t = 1; t <= 100; t++) {
		int64_t now = t * 1000;

		/* A: 10/s from the start. Samples 41..100: 590 over 59 s; the
		 * first is 1 s (< 1.1 intervals) from the start, so the rate
		 * is extrapolated to the edge: 590 * 60/59 = 600. */
		add(s, "a", "c_total", NULL, NULL, 10.0 * t, now);
		/* Reset at 71: 700 is added back, the same 600. */
		add(s, "reset", "c_total", NULL, NULL, t <= 70 ? 10.0 * t : 10.0 * (t - 70), now);
		/* Starts at 80 with 2: 40 s from the start is more than 1.1
		 * intervals, so only half an interval (0.5 s) is added, and
		 * less still where the counter would cross zero: 20 s * 2/200
		 * = 0.2 s, so 200 * 20.2/20 = 202. */
		if (t >= 80)
			add(s, "late", "c_total", NULL, NULL, 2 + 10.0 * (t - 80), now);
		/* Starts at 80 with 50: zero would be 5 s back, so 0.5 s it
		 * is: 200 * 20.5/20 = 205. */
		if (t >= 80)
			add(s, "late50", "c_total", NULL, NULL, 50 + 10.0 * (t - 80), now);
		/* Ends at 90: 10 s to the end, so half an interval there:
		 * samples 41..90 rise 490 over 49 s; 490 * 50.5/49 = 505. */
		if (t <= 90)
			add(s, "early", "c_total", NULL, NULL, 10.0 * t, now);
		/* A gauge going down: delta has no reset or zero handling. */
		add(s, "a", "g", NULL, NULL, 1000 - 10.0 * t, now);
		/* Every second: (40, 100] holds 60 of them, not 61. */
		add(s, "a", "one", NULL, NULL, 1, now);
		/* Every 10 s, 50 missing: 60..100, 40 over 40 s; 20 s to the
		 * start is >= 1.1 * 10 s, so 5 s: 40 * 45/40 = 45. */
		if (t % 10 == 0 && t != 50)
			add(s, "sparse", "sparse_total", NULL, NULL, t, now);
	}
	CHECK_DBL(value(s, "a", "increase(c_total[1m]) > 0", 100000), 600, 1e-9);
	CHECK_DBL(value(s, "a", "rate(c_total[1m]) > 0", 100000), 10, 1e-12);
	CHECK_DBL(value(s, "reset", "increase(c_total[1m]) > 0", 100000), 600, 1e-9);
	CHECK_DBL(value(s, "reset", "rate(c_total[1m]) > 0", 100000), 10, 1e-12);
	CHECK_DBL(value(s, "late", "increase(c_total[1m]) > 0", 100000), 202, 1e-9);
	CHECK_DBL(value(s, "late", "rate(c_total[1m]) > 0", 100000), 202.0 / 60, 1e-12);
	CHECK_DBL(value(s, "late50", "increase(c_total[1m]) > 0", 100000), 205, 1e-9);
	CHECK_DBL(value(s, "early", "increase(c_total[1m]) > 0", 100000), 505, 1e-9);
	CHECK_DBL(value(s, "a", "delta(g[1m]) < 0", 100000), -600, 1e-9);
	CHECK_DBL(value(s, "a", "sum_over_time(one[1m]) > 0", 100000), 60, 0);
	CHECK_DBL(value(s, "sparse", "increase(sparse_total[1m]) > 0", 100000), 45, 1e-9);
	/* At 105 s, (45, 105] holds 60..100: 15 s to the start (>= 11 s,
	 * so 5 s), 5 s to the end (< 11 s, kept): 40 * 50/40 = 50. */
	CHECK_DBL(value(s, "sparse", "increase(sparse_total[1m]) > 0", 105000), 50, 1e-9);

	/* One sample in the window: rate needs two. */
	r = eval(s, "a", "rate(c_total[1m]) > 0", 100000 + 59500);
	CHECK(!r.has_data);
	CHECK_INT(r.why, EVAL_TOO_FEW);
	CHECK(!r.firing);
	/* None at all. */
	r = eval(s, "a", "rate(c_total[1m]) > 0", 100000 + 61000);
	CHECK_INT(r.why, EVAL_TOO_FEW);
	series_free(s);
}

static void test_over_time(void)
{
	static const char *const srcs[] = {
		"avg_over_time(g[1m]) > 0", "max_over_time(g[1m]) > 0", "min_over_time(g[1m]) > 0",
		"sum_over_time(g[1m]) > 0",
	};
	struct series_store *s = store_for(srcs, 4);

	for (int t = 1; t <= 60; t++)
		add(s, "k", "g", NULL, NULL, t, t * 1000);
	CHECK_DBL(value(s, "k", "avg_over_time(g[1m]) > 0", 60000), 30.5, 1e-12);
	CHECK_DBL(value(s, "k", "max_over_time(g[1m]) > 0", 60000), 60, 0);
	CHECK_DBL(value(s, "k", "min_over_time(g[1m]) > 0", 60000), 1, 0);
	CHECK_DBL(value(s, "k", "sum_over_time(g[1m]) > 0", 60000), 1830, 0);
	/* (30 s, 60 s]: 31..60. */
	CHECK_DBL(value(s, "k", "avg_over_time(g[30s]) > 0", 60000), 45.5, 1e-12);
	/* Kahan summation keeps the small parts next to a big one. */
	add(s, "kahan", "g", NULL, NULL, 1e16, 1000);
	add(s, "kahan", "g", NULL, NULL, 1, 2000);
	add(s, "kahan", "g", NULL, NULL, 1, 3000);
	add(s, "kahan", "g", NULL, NULL, -1e16, 4000);
	CHECK_DBL(value(s, "kahan", "sum_over_time(g[1m]) > 0", 4000), 2, 0);
	CHECK_DBL(value(s, "kahan", "avg_over_time(g[1m]) > 0", 4000), 0.5, 0);
	/* NaN samples: max and min skip them as Prometheus does. */
	add(s, "nan", "g", NULL, NULL, NAN, 1000);
	add(s, "nan", "g", NULL, NULL, 3, 2000);
	add(s, "nan", "g", NULL, NULL, NAN, 3000);
	CHECK_DBL(value(s, "nan", "max_over_time(g[1m]) > 0", 3000), 3, 0);
	CHECK_DBL(value(s, "nan", "min_over_time(g[1m]) > 0", 3000), 3, 0);
	series_free(s);
}

/* ---- histogram_quantile ------------------------------------------------------ */

static void buckets(struct series_store *s, const char *key, const char *const *le, const double *counts, size_t n,
		    int64_t now)
{
	for (size_t i = 0; i < n; i++)
		add(s, key, "h_bucket", "le", le[i], counts[i], now);
}

static void test_quantile_hand(void)
{
	static const char *const srcs[] = {"histogram_quantile(0.5, h_bucket) > 0",
					   "histogram_quantile(0.5, rate(h_bucket[1m])) > 0"};
	static const char *const le4[] = {"0.1", "0.5", "1", "+Inf"};
	static const double c4[] = {10, 50, 80, 100};
	struct series_store *s = store_for(srcs, 2);
	struct eval_result r;

	buckets(s, "k", le4, c4, 4, 1000);
	/* rank 50 is the 0.5 bucket's count: 0.1 + 0.4 * (40/40). */
	CHECK_DBL(value(s, "k", "histogram_quantile(0.5, h_bucket) > 0", 1000), 0.5, 1e-15);
	/* rank 75 in (0.5, 1]: 0.5 + 0.5 * (25/30). */
	CHECK_DBL(value(s, "k", "histogram_quantile(0.75, h_bucket) > 0", 1000), 0.5 + 0.5 * 25 / 30, 1e-15);
	/* rank 5 in the lowest bucket, from 0: 0.1 * 5/10. */
	CHECK_DBL(value(s, "k", "histogram_quantile(0.05, h_bucket) > 0", 1000), 0.05, 1e-15);
	/* rank 90 is past every finite bucket: the highest finite bound. */
	CHECK_DBL(value(s, "k", "histogram_quantile(0.9, h_bucket) > 0", 1000), 1, 0);
	CHECK_DBL(value(s, "k", "histogram_quantile(1, h_bucket) > 0", 1000), 1, 0);
	CHECK_DBL(value(s, "k", "histogram_quantile(0, h_bucket) > -1", 1000), 0, 0);
	/* q outside [0, 1] is refused by the parser (core/promql). */

	/* Order in which buckets arrive does not matter. */
	{
		static const char *const shuffled[] = {"+Inf", "0.5", "1", "0.1"};
		static const double cs[] = {100, 50, 80, 10};

		buckets(s, "shuffled", shuffled, cs, 4, 1000);
		CHECK_DBL(value(s, "shuffled", "histogram_quantile(0.75, h_bucket) > 0", 1000), 0.5 + 0.5 * 25 / 30,
			  1e-15);
	}
	/* A count that goes down is lifted to the envelope: 8 -> 10, then
	 * rank 50 in (0.5, 1]: 0.5 + 0.5 * 40/70. */
	{
		static const double cm[] = {10, 8, 80, 100};

		buckets(s, "nonmono", le4, cm, 4, 1000);
		CHECK_DBL(value(s, "nonmono", "histogram_quantile(0.5, h_bucket) > 0", 1000), 0.5 + 0.5 * 40 / 70,
			  1e-15);
	}
	/* Equal bounds written differently are one bucket: 1 and 1.0 sum
	 * to 60; rank 55 in (0.5, 1]: 0.5 + 0.5 * 5/10. */
	{
		static const char *const dup[] = {"0.5", "1", "1.0", "+Inf"};
		static const double cd[] = {50, 30, 30, 100};

		buckets(s, "dup", dup, cd, 4, 1000);
		CHECK_DBL(value(s, "dup", "histogram_quantile(0.55, h_bucket) > 0", 1000), 0.75, 1e-15);
	}
	/* A lowest bound <= 0 is returned as is. */
	{
		static const char *const neg[] = {"-1", "0", "+Inf"};
		static const double cn[] = {5, 10, 20};

		buckets(s, "neg", neg, cn, 3, 1000);
		CHECK_DBL(value(s, "neg", "histogram_quantile(0.1, h_bucket) < 0", 1000), -1, 0);
		/* rank 8 in (-1, 0]: -1 + 1 * 3/5. */
		CHECK_DBL(value(s, "neg", "histogram_quantile(0.4, h_bucket) < 0", 1000), -0.4, 1e-15);
	}
	/* Without +Inf, or without observations: NaN, which never fires. */
	{
		static const double zero[] = {0, 0, 0, 0};

		buckets(s, "noinf", le4, c4, 3, 1000);
		r = eval(s, "noinf", "histogram_quantile(0.5, h_bucket) > 0", 1000);
		CHECK(r.has_data);
		CHECK(isnan(r.value));
		CHECK(!r.firing);
		buckets(s, "zero", le4, zero, 4, 1000);
		CHECK(isnan(value(s, "zero", "histogram_quantile(0.5, h_bucket) > 0", 1000)));
		/* Only +Inf: fewer than two buckets. */
		buckets(s, "one", le4 + 3, c4 + 3, 1, 1000);
		CHECK(isnan(value(s, "one", "histogram_quantile(0.5, h_bucket) > 0", 1000)));
	}
	/* A bucket whose 'le' does not parse is left out; none left is
	 * no data. */
	{
		static const char *const bad[] = {"abc", "0.5", "1", "+Inf"};
		static const char *const allbad[] = {"x", " 1", "1s", "NaN"};

		buckets(s, "bad", bad, c4, 4, 1000);
		/* 0.5:50, 1:80, +Inf:100; rank 75 in (0.5, 1]. */
		CHECK_DBL(value(s, "bad", "histogram_quantile(0.75, h_bucket) > 0", 1000), 0.5 + 0.5 * 25 / 30, 1e-15);
		buckets(s, "allbad", allbad, c4, 4, 1000);
		r = eval(s, "allbad", "histogram_quantile(0.75, h_bucket) > 0", 1000);
		CHECK(!r.has_data);
		CHECK_INT(r.why, EVAL_NO_BUCKETS);
	}
	/* Over rate(): increments of 10, 50, 80, 100 per second give the
	 * same quantiles as those counts. */
	for (int t = 1; t <= 30; t++) {
		double c[4];

		for (int i = 0; i < 4; i++)
			c[i] = 1000 + c4[i] * t;
		buckets(s, "rate", le4, c, 4, t * 1000);
	}
	CHECK_DBL(value(s, "rate", "histogram_quantile(0.75, rate(h_bucket[1m])) > 0", 30000), 0.5 + 0.5 * 25 / 30,
		  1e-12);
	series_free(s);
}

/* The real page's buckets, as Prometheus would read them at one instant. */
static void test_quantile_go_page(void)
{
	static const char *const srcs[] = {"histogram_quantile(0.99, go_gc_pauses_seconds_bucket) > 0",
					   "histogram_quantile(0.5, go_sched_latencies_seconds_bucket) > 0"};
	struct series_store *s = store_for(srcs, 2);
	char *page = test_slurp(GO_PAGE, NULL);
	double want;

	CHECK_INT(series_ingest(s, "go", page, strlen(page), 1000, NULL, NULL), PT_OK);
	/* 1190 pauses, rank 0.99 * 1190 = 1178.1, first reached by the
	 * le=0.010485759999999998 bucket (1190) after 1098 at
	 * le=0.0010485759999999998: start + width * (1178.1 - 1098) / 92. */
	want = 0.0010485759999999998 + (0.010485759999999998 - 0.0010485759999999998) * ((0.99 * 1190 - 1098) / 92);
	CHECK_DBL(value(s, "go", "histogram_quantile(0.99, go_gc_pauses_seconds_bucket) > 0", 1000), want, 1e-18);
	CHECK_DBL(want, 0.009265, 1e-6);
	/* rank 595 in (0.00010239999999999998, 0.0010485759999999998]
	 * between 400 and 1098. */
	want = 0.00010239999999999998 + (0.0010485759999999998 - 0.00010239999999999998) * ((595.0 - 400) / 698);
	CHECK_DBL(value(s, "go", "histogram_quantile(0.5, go_gc_pauses_seconds_bucket) > 0", 1000), want, 1e-18);
	/* 76460 latencies, rank 38230 in (9.999999999999998e-08,
	 * 1.0239999999999999e-06] between 10466 and 73700. */
	want = 9.999999999999998e-08 + (1.0239999999999999e-06 - 9.999999999999998e-08) *
					       ((38230.0 - 10466) / (73700 - 10466));
	CHECK_DBL(value(s, "go", "histogram_quantile(0.5, go_sched_latencies_seconds_bucket) > 0", 1000), want,
		  1e-20);
	free(page);
	series_free(s);
}

/* ---- DESIGN.md section 7's trigger, from the real page ----------------------- */

/* Each second the page's go_gc_pauses_seconds_bucket counters grow: 10
 * fast pauses (<= 10.24 us) from the start, plus 5 slow ones (1.05 ms to
 * 10.5 ms) from t = 61 s to 150 s. At t = 60 + k the 1 m window holds
 * the increase from t - 59 to t (the first sample is 1 s from the
 * window's start, so every bucket is extrapolated alike and the ratios
 * stand): 590 fast and 5k slow. The p99 rank 0.99 * (590 + 5k) lies in
 * the slow bucket, at 1.048576e-3 + 9.437184e-3 * (4.95k - 5.9) / 5k,
 * which is above 8 ms from k = 5 (8.16 ms; 7.61 ms at k = 4). So the
 * condition holds from 65 s, the trigger is pending from then and firing
 * from 95 s (for: 30s). After 150 s the slow pauses leave the window: 5
 * of them remain at 204 s (still true), 4 at 205 s (false: inactive). */
static void test_gc_trigger(void)
{
	static const char *const srcs[] = {DESIGN_TRIGGER_SRC};
	struct series_store *s = store_for(srcs, 1);
	struct promql_expr *x = parse(srcs[0]);
	struct eval_trigger trig = {0};
	char *page = test_slurp(GO_PAGE, NULL), line[256];
	static const double base[10] = {0, 0, 0, 0, 227, 400, 1098, 1190, 1190, 1190};
	double fast = 0, slow = 0;
	int first_true = 0, first_firing = 0, last_firing = 0;

	for (int t = 1; t <= 230; t++) {
		int64_t now = (int64_t)t * 1000;
		double v[10];
		struct eval_result r;
		enum eval_phase ph;
		char *p;

		fast += 10;
		if (t > 60 && t <= 150)
			slow += 5;
		for (int i = 0; i < 10; i++)
			v[i] = base[i] + (i >= 4 ? fast : 0) + (i >= 7 ? slow : 0);
		p = with_values(page, "go_gc_pauses_seconds_bucket", v);
		CHECK_INT(series_ingest(s, "pod", p, strlen(p), now, NULL, NULL), PT_OK);
		free(p);
		eval_expr(s, "pod", x, now, &r);
		ph = eval_trigger_step(&trig, r.firing, now, 30000);
		if (t == 1) {
			CHECK(!r.has_data);
			CHECK_STR(eval_describe(&r, x, line, sizeof line),
				  "no data for 'go_gc_pauses_seconds_bucket': too few samples in the window");
		} else {
			CHECK(r.has_data);
			CHECK_INT(r.n, 1);
		}
		if (r.firing && !first_true)
			first_true = t;
		if (ph == EVAL_FIRING) {
			if (!first_firing)
				first_firing = t;
			last_firing = t;
		}
		if (t < 65 || t >= 205)
			CHECK_INT(ph, EVAL_INACTIVE);
		else if (t < 95)
			CHECK_INT(ph, EVAL_PENDING);
		else
			CHECK_INT(ph, EVAL_FIRING);
		if (t == 64)
			CHECK_DBL(r.value, 1.048576e-3 + 9.437184e-3 * (4.95 * 4 - 5.9) / 20, 1e-12);
		if (t == 65) {
			CHECK_DBL(r.value, 1.048576e-3 + 9.437184e-3 * (4.95 * 5 - 5.9) / 25, 1e-12);
			CHECK_STR(eval_describe(&r, x, line, sizeof line), "0.008164212736000001 > 0.008: firing");
			CHECK_INT(trig.active_ms, 65000);
		}
		if (t == 95)
			CHECK_INT(trig.fired_ms, 95000);
	}
	CHECK_INT(first_true, 65);
	CHECK_INT(first_firing, 95);
	CHECK_INT(last_firing, 204);
	promql_free(x);
	free(page);
	series_free(s);
}

/* ---- JVM names, aggregation ------------------------------------------------------ */

static const double pools[8] = {1155072, 1704752, 403840, 198272, 4.5088768e7, 7.0439424e7, 1.3934448e7, 111744};

static void test_jvm_names(void)
{
	static const char *const srcs[] = {
		"jvm_memory_pool_used_bytes{pool=\"G1 Old Gen\"} > 5e7",
		"sum(jvm_memory_pool_bytes_used) > 0",
	};
	struct series_store *s = store_for(srcs, 2);
	char *page = test_slurp(JAVA_PAGE, NULL), *renamed = strdup(page);
	struct eval_result r;
	double sum = 0;

	/* The JMX exporter >= 1.0 spelling of the same page. */
	for (char *p = renamed; (p = strstr(p, "jvm_memory_pool_bytes_used"));)
		memcpy(p, "jvm_memory_pool_used_bytes", 26);
	CHECK_INT(series_ingest(s, "classic", page, strlen(page), 1000, NULL, NULL), PT_OK);
	CHECK_INT(series_ingest(s, "jmx", renamed, strlen(renamed), 1000, NULL, NULL), PT_OK);
	for (int i = 0; i < 8; i++)
		sum += pools[i];
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "jmx" : "classic";

		r = eval(s, key, "jvm_memory_pool_used_bytes{pool=\"G1 Old Gen\"} > 5e7", 1000);
		CHECK(r.firing);
		CHECK_DBL(r.value, 7.0439424e7, 0);
		r = eval(s, key, "jvm_memory_pool_bytes_used{pool=\"G1 Old Gen\"} > 5e7", 1000);
		CHECK(r.firing);
		CHECK_DBL(r.value, 7.0439424e7, 0);
		CHECK_DBL(value(s, key, "sum(jvm_memory_pool_used_bytes) > 0", 1000), sum, 0);
		CHECK_DBL(value(s, key, "sum(jvm_memory_pool_bytes_used) > 0", 1000), sum, 0);
	}
	free(renamed);
	free(page);
	series_free(s);
}

static void test_aggregation(void)
{
	static const char *const srcs[] = {
		"sum(jvm_memory_pool_bytes_used) > 0",
		"histogram_quantile(0.5, sum by (le) (rate(h_bucket[1m]))) > 0",
		"max(g) > 0",
	};
	static const char *const le4[] = {"0.1", "0.5", "1", "+Inf"};
	struct series_store *s = store_for(srcs, 3);
	char *page = test_slurp(JAVA_PAGE, NULL);
	struct eval_result r;
	double sum = 0, max = 0, min = 1e300;

	CHECK_INT(series_ingest(s, "j", page, strlen(page), 1000, NULL, NULL), PT_OK);
	for (int i = 0; i < 8; i++) {
		sum += pools[i];
		max = pools[i] > max ? pools[i] : max;
		min = pools[i] < min ? pools[i] : min;
	}
	CHECK_DBL(value(s, "j", "sum(jvm_memory_pool_bytes_used) > 0", 1000), sum, 0);
	CHECK_DBL(value(s, "j", "max(jvm_memory_pool_bytes_used) > 0", 1000), max, 0);
	CHECK_DBL(value(s, "j", "min(jvm_memory_pool_bytes_used) > 0", 1000), min, 0);
	CHECK_DBL(value(s, "j", "avg(jvm_memory_pool_bytes_used) > 0", 1000), sum / 8, 1e-6);
	CHECK_DBL(value(s, "j", "SUM without (pool) (jvm_memory_pool_bytes_used) > 0", 1000), sum, 0);
	CHECK_DBL(value(s, "j", "sum by (nope) (jvm_memory_pool_bytes_used) > 0", 1000), sum, 0);
	r = eval(s, "j", "sum by (pool) (jvm_memory_pool_bytes_used) > 1e7", 1000);
	CHECK_INT(r.n, 8);
	CHECK(r.firing);
	CHECK_DBL(r.value, 4.5088768e7, 0); /* the first to pass, in page order */
	r = eval(s, "j", "sum by (pool) (jvm_memory_pool_bytes_used) > 1e9", 1000);
	CHECK(!r.firing);
	CHECK_DBL(r.value, 7.0439424e7, 0); /* the nearest to passing */
	r = eval(s, "j", "sum by (pool) (jvm_memory_pool_bytes_used) < 1000", 1000);
	CHECK_DBL(r.value, 111744, 0);
	CHECK_DBL(value(s, "j", "max(sum by (pool) (jvm_memory_pool_bytes_used)) > 0", 1000), max, 0);
	/* The inner by() dropped pool, so the outer by (pool) sees one group. */
	r = eval(s, "j", "sum by (pool) (sum by (nope) (jvm_memory_pool_bytes_used)) > 0", 1000);
	CHECK_INT(r.n, 1);
	CHECK_DBL(r.value, sum, 0);
	r = eval(s, "j", "max without (pool) (jvm_memory_pool_bytes_used) > 0", 1000);
	CHECK_INT(r.n, 1);
	r = eval(s, "j", "max(jvm_memory_pool_bytes_used{pool=~\"G1 .*\"}) > 0", 1000);
	CHECK_DBL(r.value, 7.0439424e7, 0);

	/* Two histograms by path: per path, and summed by le. */
	for (int t = 1; t <= 30; t++) {
		for (int i = 0; i < 4; i++) {
			static const double a[4] = {10, 50, 80, 100}, b[4] = {0, 0, 20, 100};
			struct series_label la[2] = {{"le", le4[i]}, {"path", "/a"}}, lb[2] = {{"path", "/b"}, {"le", le4[i]}};

			CHECK_INT(series_add(s, "h", "h_bucket", la, 2, a[i] * t, t * 1000, NULL), PT_OK);
			CHECK_INT(series_add(s, "h", "h_bucket", lb, 2, b[i] * t, t * 1000, NULL), PT_OK);
		}
	}
	r = eval(s, "h", "histogram_quantile(0.5, rate(h_bucket[1m])) > 0", 30000);
	CHECK_INT(r.n, 2);
	/* /a: 0.5 as above (and first); /b: rank 50 in (1, +Inf): 1. */
	CHECK_DBL(r.value, 0.5, 1e-12);
	r = eval(s, "h", "histogram_quantile(0.5, rate(h_bucket[1m])) > 0.7", 30000);
	CHECK_DBL(r.value, 1, 1e-12);
	r = eval(s, "h", "histogram_quantile(0.5, sum by (le) (rate(h_bucket[1m]))) > 0", 30000);
	CHECK_INT(r.n, 1);
	/* Summed: 10, 50, 100, 200; rank 100 is the le=1 count: 1. */
	CHECK_DBL(r.value, 1, 1e-12);
	r = eval(s, "h", "histogram_quantile(0.2, sum by (le) (rate(h_bucket[1m]))) > 0", 30000);
	/* rank 40 in (0.1, 0.5] between 10 and 50: 0.1 + 0.4 * 30/40. */
	CHECK_DBL(r.value, 0.4, 1e-12);
	/* (An aggregation that drops 'le' is refused by the parser.) */

	/* NaN loses in max and min, and poisons sum. */
	add(s, "n", "g", "a", "1", NAN, 1000);
	add(s, "n", "g", "a", "2", 3, 1000);
	CHECK_DBL(value(s, "n", "max(g) > 0", 1000), 3, 0);
	CHECK_DBL(value(s, "n", "min(g) > 0", 1000), 3, 0);
	r = eval(s, "n", "sum(g) > 0", 1000);
	CHECK(r.has_data);
	CHECK(isnan(r.value));
	CHECK(!r.firing);
	free(page);
	series_free(s);
}

/* ---- no data, describe ---------------------------------------------------------- */

static void test_nodata(void)
{
	static const char *const srcs[] = {"g > 1", "rate(c_total[1m]) > 1"};
	struct series_store *s = store_for(srcs, 2);
	struct promql_expr *x = parse("g{a=\"1\"} > 1");
	struct eval_result r;
	char line[200];

	eval_expr(s, "nobody", x, 1000, &r);
	CHECK(!r.has_data);
	CHECK(!r.firing);
	CHECK(isnan(r.value));
	CHECK_INT(r.why, EVAL_NO_CONTAINER);
	CHECK_STR(eval_describe(&r, x, line, sizeof line), "no data for 'g': nothing recorded for the container");
	add(s, "k", "g", "a", "2", 5, 1000);
	eval_expr(s, "k", x, 1000, &r);
	CHECK_INT(r.why, EVAL_NO_SERIES);
	CHECK_STR(eval_describe(&r, x, line, sizeof line), "no data for 'g': no series matches");
	add(s, "k", "g", "a", "1", 5, 2000);
	eval_expr(s, "k", x, 2000, &r);
	CHECK(r.firing);
	CHECK_STR(eval_describe(&r, x, line, sizeof line), "5 > 1: firing");
	/* Missing from the next slot: stale. */
	add(s, "k", "c_total", NULL, NULL, 1, 3000);
	eval_expr(s, "k", x, 3000, &r);
	CHECK_INT(r.why, EVAL_STALE);
	CHECK_STR(eval_describe(&r, x, line, sizeof line), "no data for 'g': no current value (stale)");
	/* Older than the lookback (3 intervals). */
	add(s, "k", "g", "a", "1", 0.5, 4000);
	eval_expr(s, "k", x, 6999, &r);
	CHECK(r.has_data);
	CHECK_STR(eval_describe(&r, x, line, sizeof line), "0.5 > 1: not firing");
	eval_expr(s, "k", x, 7000, &r);
	CHECK_INT(r.why, EVAL_STALE);
	CHECK(eval_describe(&r, x, line, 0) == line);
	eval_expr(NULL, "k", x, 1000, &r);
	CHECK(!r.has_data);
	eval_expr(s, "k", NULL, 1000, &r);
	CHECK(!r.has_data);
	CHECK_STR(eval_nodata_text(EVAL_NO_BUCKETS), "no bucket with a readable 'le' label");
	CHECK_STR(eval_nodata_text((enum eval_nodata)99), "unknown");
	promql_free(x);
	series_free(s);
}

/* Comparisons, NaN included, and which value is shown. */
static void test_compare(void)
{
	static const char *const srcs[] = {"g > 1"};
	struct series_store *s = store_for(srcs, 1);

	add(s, "k", "g", "a", "1", 1, 1000);
	add(s, "k", "g", "a", "2", 2, 1000);
	add(s, "k", "g", "a", "3", NAN, 1000);
	CHECK(eval(s, "k", "g > 1", 1000).firing);
	CHECK(!eval(s, "k", "g > 2", 1000).firing);
	CHECK(eval(s, "k", "g >= 2", 1000).firing);
	CHECK(eval(s, "k", "g < 2", 1000).firing);
	CHECK(eval(s, "k", "g <= 1", 1000).firing);
	CHECK(!eval(s, "k", "g < 1", 1000).firing);
	CHECK(eval(s, "k", "g == 2", 1000).firing);
	CHECK(eval(s, "k", "g != 1", 1000).firing);
	CHECK(!eval(s, "k", "g{a=\"3\"} != 1", 1000).firing); /* NaN never compares true */
	CHECK_DBL(eval(s, "k", "g > 5", 1000).value, 2, 0);
	CHECK_DBL(eval(s, "k", "g < 0", 1000).value, 1, 0);
	CHECK_INT(eval(s, "k", "g > 5", 1000).n, 3);
	series_free(s);
}

/* ---- the for: state machine ------------------------------------------------------- */

static void test_trigger_step(void)
{
	struct eval_trigger t = {0};

	CHECK_INT(eval_trigger_step(&t, false, 0, 30000), EVAL_INACTIVE);
	CHECK_INT(eval_trigger_step(&t, true, 1000, 30000), EVAL_PENDING);
	CHECK_INT(t.active_ms, 1000);
	CHECK_INT(eval_trigger_step(&t, true, 30999, 30000), EVAL_PENDING);
	CHECK_INT(eval_trigger_step(&t, true, 31000, 30000), EVAL_FIRING);
	CHECK_INT(t.fired_ms, 31000);
	CHECK_INT(t.active_ms, 1000);
	CHECK_INT(eval_trigger_step(&t, true, 99000, 30000), EVAL_FIRING);
	CHECK_INT(t.fired_ms, 31000);
	/* One false (or no-data) evaluation clears firing... */
	CHECK_INT(eval_trigger_step(&t, false, 100000, 30000), EVAL_INACTIVE);
	/* ...and restarts pending from scratch. */
	CHECK_INT(eval_trigger_step(&t, true, 101000, 30000), EVAL_PENDING);
	CHECK_INT(eval_trigger_step(&t, false, 102000, 30000), EVAL_INACTIVE);
	CHECK_INT(eval_trigger_step(&t, true, 103000, 30000), EVAL_PENDING);
	CHECK_INT(t.active_ms, 103000);
	CHECK_INT(eval_trigger_step(&t, true, 132999, 30000), EVAL_PENDING);
	/* for: 0 fires on the first true evaluation. */
	memset(&t, 0, sizeof t);
	CHECK_INT(eval_trigger_step(&t, true, 5000, 0), EVAL_FIRING);
	/* Time going backwards never fires early. */
	memset(&t, 0, sizeof t);
	CHECK_INT(eval_trigger_step(&t, true, 5000, 1000), EVAL_PENDING);
	CHECK_INT(eval_trigger_step(&t, true, 4000, 1000), EVAL_PENDING);
	CHECK_INT(eval_trigger_step(&t, true, 5000, UINT64_MAX), EVAL_PENDING);
	CHECK_STR(eval_phase_name(EVAL_PENDING), "pending");
	CHECK_STR(eval_phase_name(EVAL_FIRING), "firing");
	CHECK_STR(eval_phase_name(EVAL_INACTIVE), "inactive");
}

TEST_MAIN(test_rate, test_over_time, test_quantile_hand, test_quantile_go_page, test_gc_trigger, test_jvm_names,
	  test_aggregation, test_nodata, test_compare, test_trigger_step)
