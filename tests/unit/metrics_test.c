/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: the exact text it writes, its refusals, and
 * concurrent updates that must all be counted. */
#include "../../core/metrics.h"
#include "test.h"

#include <pthread.h>

static char *render(struct metrics *m)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	if (metrics_render(m, &b) != PT_OK) {
		buf_release(&b);
		return strdup("(render failed)");
	}
	s = buf_detach(&b, NULL);
	return s;
}

static void test_format(void)
{
	static const char *const allowed[] = {"result", "allowed", NULL};
	static const char *const denied[] = {"result", "denied", NULL};
	static const char *const build[] = {"version", "1.2.3", "goversion", "none", NULL};
	static const double lat[] = {0.001, 0.01, 0.1, 1};
	struct metrics *m = metrics_new();
	struct metrics_counter *ok, *no, *bare;
	struct metrics_gauge *g;
	struct metrics_histogram *h;
	struct pt_error e;
	char *page;

	CHECK(m != NULL);
	CHECK_INT(metrics_info_new(m, "podtuner_build_info", "Build facts.", build, &e), PT_OK);
	CHECK_INT(metrics_counter_new(m, "podtuner_admissions_total", "Admission requests answered.",
				      allowed, &ok, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(m, "podtuner_cert_not_after_seconds", NULL, NULL, &g, &e), PT_OK);
	/* the same family again, later: written with its first series */
	CHECK_INT(metrics_counter_new(m, "podtuner_admissions_total", NULL, denied, &no, &e), PT_OK);
	CHECK_INT(metrics_histogram_new(m, "podtuner_admission_seconds", "Time to answer.", NULL, lat,
					4, &h, &e), PT_OK);
	CHECK_INT(metrics_counter_new(m, "podtuner_reloads_total", "", NULL, &bare, &e), PT_OK);

	metrics_counter_inc(ok);
	metrics_counter_add(ok, 41);
	metrics_counter_inc(no);
	metrics_gauge_set(g, 1.7e9);
	metrics_histogram_observe(h, 0.0005);
	metrics_histogram_observe(h, 0.001); /* le is inclusive */
	metrics_histogram_observe(h, 0.05);
	metrics_histogram_observe(h, 3);
	metrics_histogram_observe(h, NAN); /* ignored */
	page = render(m);
	CHECK_STR(page,
		  "# HELP podtuner_build_info Build facts.\n"
		  "# TYPE podtuner_build_info gauge\n"
		  "podtuner_build_info{version=\"1.2.3\",goversion=\"none\"} 1\n"
		  "# HELP podtuner_admissions_total Admission requests answered.\n"
		  "# TYPE podtuner_admissions_total counter\n"
		  "podtuner_admissions_total{result=\"allowed\"} 42\n"
		  "podtuner_admissions_total{result=\"denied\"} 1\n"
		  "# TYPE podtuner_cert_not_after_seconds gauge\n"
		  "podtuner_cert_not_after_seconds 1700000000\n"
		  "# HELP podtuner_admission_seconds Time to answer.\n"
		  "# TYPE podtuner_admission_seconds histogram\n"
		  "podtuner_admission_seconds_bucket{le=\"0.001\"} 2\n"
		  "podtuner_admission_seconds_bucket{le=\"0.01\"} 2\n"
		  "podtuner_admission_seconds_bucket{le=\"0.1\"} 3\n"
		  "podtuner_admission_seconds_bucket{le=\"1\"} 3\n"
		  "podtuner_admission_seconds_bucket{le=\"+Inf\"} 4\n"
		  "podtuner_admission_seconds_sum 3.0515\n"
		  "podtuner_admission_seconds_count 4\n"
		  "# HELP podtuner_reloads_total \n"
		  "# TYPE podtuner_reloads_total counter\n"
		  "podtuner_reloads_total 0\n");
	free(page);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_values_and_escaping(void)
{
	static const char *const odd[] = {"path", "C:\\dir\n\"x\"", NULL};
	static const char *const method[] = {"method", "POST", NULL};
	static const double b[] = {-1, 0.25};
	struct metrics *m = metrics_new();
	struct metrics_gauge *g1, *g2, *g3, *g4, *g5;
	struct metrics_counter *c;
	struct metrics_histogram *h;
	struct pt_error e;
	char *page;

	CHECK_INT(metrics_gauge_new(m, "a", "line one\nback\\slash \"quoted\"", odd, &g1, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(m, "b_nan", NULL, NULL, &g2, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(m, "c_inf", NULL, NULL, &g3, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(m, "d_ninf", NULL, NULL, &g4, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(m, "e:frac", NULL, NULL, &g5, &e), PT_OK);
	CHECK_INT(metrics_counter_new(m, "f_total", NULL, NULL, &c, &e), PT_OK);
	CHECK_INT(metrics_histogram_new(m, "g_seconds", NULL, method, b, 2, &h, &e), PT_OK);
	metrics_gauge_set(g1, -0.0);
	metrics_gauge_set(g2, NAN);
	metrics_gauge_set(g3, INFINITY);
	metrics_gauge_set(g4, -INFINITY);
	metrics_gauge_set(g5, 0.1);
	metrics_gauge_add(g5, 0.2); /* 0.30000000000000004: printed exactly */
	metrics_counter_add(c, UINT64_C(18446744073709551000));
	metrics_counter_add_dbl(c, -5);  /* ignored */
	metrics_counter_add_dbl(c, NAN); /* ignored */
	metrics_counter_add_dbl(c, 7);   /* whole: stays exact */
	metrics_histogram_observe(h, -2);
	metrics_histogram_observe(h, 0.25);
	page = render(m);
	CHECK_STR(page,
		  "# HELP a line one\\nback\\\\slash \"quoted\"\n"
		  "# TYPE a gauge\n"
		  "a{path=\"C:\\\\dir\\n\\\"x\\\"\"} 0\n"
		  "# TYPE b_nan gauge\nb_nan NaN\n"
		  "# TYPE c_inf gauge\nc_inf +Inf\n"
		  "# TYPE d_ninf gauge\nd_ninf -Inf\n"
		  "# TYPE e:frac gauge\ne:frac 0.30000000000000004\n"
		  "# TYPE f_total counter\nf_total 18446744073709551007\n"
		  "# TYPE g_seconds histogram\n"
		  "g_seconds_bucket{method=\"POST\",le=\"-1\"} 1\n"
		  "g_seconds_bucket{method=\"POST\",le=\"0.25\"} 2\n"
		  "g_seconds_bucket{method=\"POST\",le=\"+Inf\"} 2\n"
		  "g_seconds_sum{method=\"POST\"} -1.75\n"
		  "g_seconds_count{method=\"POST\"} 2\n");
	free(page);

	/* a fractional counter */
	metrics_counter_add_dbl(c, 0.5);
	page = render(m);
	CHECK_CONTAINS(page, "f_total 1.8446744073709552e+19\n");
	free(page);

	/* the page does not fit the buffer */
	{
		struct buf small;

		buf_init(&small, 64);
		CHECK_INT(metrics_render(m, &small), PT_LIMIT);
		buf_release(&small);
	}
	metrics_free(m);
}

static void test_refusals(void)
{
	static const double ok_b[] = {1, 2};
	static const double dup_b[] = {1, 1};
	static const double nan_b[] = {1, NAN};
	static const double many[METRICS_BUCKETS_MAX + 1] = {0};
	static const char *const l_bad[] = {"1abc", "x", NULL};
	static const char *const l_res[] = {"__name", "x", NULL};
	static const char *const l_le[] = {"le", "1", NULL};
	static const char *const l_twice[] = {"a", "1", "a", "2", NULL};
	static const char *const l_novalue[] = {"a", NULL};
	static const char *const l_many[] = {"a", "1", "b", "1", "c", "1", "d", "1", "e", "1",
					     "f", "1", "g", "1", "h", "1", "i", "1", NULL};
	static const char *const l_a[] = {"a", "1", NULL};
	char longval[METRICS_LABEL_VALUE_MAX + 2], longname[METRICS_NAME_MAX + 2];
	const char *l_long[] = {"a", longval, NULL};
	struct metrics *m = metrics_new();
	struct metrics_counter *c = NULL, *c2 = NULL;
	struct metrics_gauge *g = NULL;
	struct metrics_histogram *h = NULL;
	struct pt_error e;

	memset(longval, 'v', sizeof longval - 1);
	longval[sizeof longval - 1] = '\0';
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';

	CHECK_INT(metrics_counter_new(m, "1abc", NULL, NULL, &c, &e), PT_INVALID);
	CHECK_STR(e.msg, "invalid metric name '1abc'");
	CHECK_INT(metrics_counter_new(m, "a-b", NULL, NULL, &c, &e), PT_INVALID);
	CHECK_INT(metrics_counter_new(m, "", NULL, NULL, &c, &e), PT_INVALID);
	CHECK_INT(metrics_counter_new(m, NULL, NULL, NULL, &c, &e), PT_INVALID);
	CHECK_INT(metrics_counter_new(m, longname, NULL, NULL, &c, &e), PT_INVALID);
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_bad, &c, &e), PT_INVALID);
	CHECK_STR(e.msg, "invalid label name '1abc' for metric 'x'");
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_res, &c, &e), PT_INVALID);
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_twice, &c, &e), PT_INVALID);
	CHECK_STR(e.msg, "label 'a' of metric 'x' is given twice");
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_novalue, &c, &e), PT_INVALID);
	CHECK_STR(e.msg, "label 'a' of metric 'x' has no value");
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_many, &c, &e), PT_LIMIT);
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_long, &c, &e), PT_LIMIT);
	CHECK_STR(e.msg, "value of label 'a' of metric 'x' exceeds 256 bytes");
	CHECK(c == NULL);
	longval[METRICS_LABEL_VALUE_MAX] = '\0'; /* exactly at the limit: fine */
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_long, &c, &e), PT_OK);
	CHECK(c != NULL);
	/* "le" is only reserved in histograms */
	CHECK_INT(metrics_counter_new(m, "y", NULL, l_le, &c2, &e), PT_OK);
	CHECK_INT(metrics_histogram_new(m, "h", NULL, l_le, ok_b, 2, &h, &e), PT_INVALID);
	CHECK_INT(metrics_histogram_new(m, "h", NULL, NULL, dup_b, 2, &h, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "strictly increasing (bound 2)");
	CHECK_INT(metrics_histogram_new(m, "h", NULL, NULL, nan_b, 2, &h, &e), PT_INVALID);
	CHECK_INT(metrics_histogram_new(m, "h", NULL, NULL, ok_b, 0, &h, &e), PT_INVALID);
	CHECK_INT(metrics_histogram_new(m, "h", NULL, NULL, many, METRICS_BUCKETS_MAX + 1, &h, &e),
		  PT_LIMIT);
	CHECK(h == NULL);
	/* same family: same type, same help, new labels */
	CHECK_INT(metrics_gauge_new(m, "x", NULL, NULL, &g, &e), PT_INVALID);
	CHECK_STR(e.msg, "metric 'x' is already registered as a counter");
	CHECK_INT(metrics_counter_new(m, "x", NULL, l_long, &c2, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "series 'x{a=\"vvv");
	CHECK_CONTAINS(e.msg, "\"}' is already registered");
	CHECK_INT(metrics_counter_new(m, "z", "help one", NULL, &c2, &e), PT_OK);
	CHECK_INT(metrics_counter_new(m, "z", "help two", l_a, &c2, &e), PT_INVALID);
	CHECK_STR(e.msg, "metric 'z' is already registered with another help");
	CHECK_INT(metrics_counter_new(m, "z", "help one", l_a, &c2, &e), PT_OK);
	CHECK(g == NULL);
	metrics_free(m);
}

#define THREADS 4
#define ROUNDS 200000

struct shared {
	struct metrics *m;
	struct metrics_counter *c;
	struct metrics_gauge *g;
	struct metrics_histogram *h;
	volatile int stop;
	int renders, bad_renders;
};

static void *worker(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < ROUNDS; i++) {
		metrics_counter_inc(sh->c);
		metrics_counter_add_dbl(sh->c, 0.5);
		metrics_gauge_add(sh->g, 1);
		metrics_histogram_observe(sh->h, (i % 4) * 0.5); /* 0, .5, 1, 1.5 */
	}
	return NULL;
}

/* Renders while workers update: each page's +Inf bucket equals its _count,
 * and buckets never decrease. */
static void *renderer(void *arg)
{
	struct shared *sh = arg;

	while (!sh->stop) {
		char *p = render(sh->m), *inf = strstr(p, "le=\"+Inf\"} "), *cnt = strstr(p, "h_count ");
		unsigned long long b0, b1, b2;

		sh->renders++;
		if (!inf || !cnt || strtoull(inf + 11, NULL, 10) != strtoull(cnt + 8, NULL, 10) ||
		    sscanf(strstr(p, "le=\"0.5\"} "), "le=\"0.5\"} %llu", &b0) != 1 ||
		    sscanf(strstr(p, "le=\"1\"} "), "le=\"1\"} %llu", &b1) != 1 ||
		    sscanf(strstr(p, "le=\"1.25\"} "), "le=\"1.25\"} %llu", &b2) != 1 || b0 > b1 ||
		    b1 > b2)
			sh->bad_renders++;
		free(p);
	}
	return NULL;
}

static void test_concurrent(void)
{
	static const double b[] = {0.5, 1, 1.25};
	struct shared sh = {.m = metrics_new()};
	pthread_t th[THREADS], r;
	struct pt_error e;
	char want[256], *page;

	CHECK_INT(metrics_counter_new(sh.m, "c_total", NULL, NULL, &sh.c, &e), PT_OK);
	CHECK_INT(metrics_gauge_new(sh.m, "g", NULL, NULL, &sh.g, &e), PT_OK);
	CHECK_INT(metrics_histogram_new(sh.m, "h", NULL, NULL, b, 3, &sh.h, &e), PT_OK);
	pthread_create(&r, NULL, renderer, &sh);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, &sh);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	sh.stop = 1;
	pthread_join(r, NULL);
	CHECK(sh.renders > 0);
	CHECK_INT(sh.bad_renders, 0);
	page = render(sh.m);
	/* every update counted: 4 x 200000 x 1.5 = 1200000 */
	CHECK_CONTAINS(page, "c_total 1200000\n");
	CHECK_CONTAINS(page, "g 800000\n");
	snprintf(want, sizeof want,
		 "h_bucket{le=\"0.5\"} %d\nh_bucket{le=\"1\"} %d\nh_bucket{le=\"1.25\"} %d\n"
		 "h_bucket{le=\"+Inf\"} %d\nh_sum %d\nh_count %d\n",
		 THREADS * ROUNDS / 2, THREADS * ROUNDS * 3 / 4, THREADS * ROUNDS * 3 / 4,
		 THREADS * ROUNDS, THREADS * ROUNDS * 3 / 4, THREADS * ROUNDS);
	CHECK_CONTAINS(page, want);
	free(page);
	metrics_free(sh.m);
}

TEST_MAIN(test_format, test_values_and_escaping, test_refusals, test_concurrent)
