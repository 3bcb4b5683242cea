/* SPDX-License-Identifier: Apache-2.0 */
/* The text-format parser against real pages (../shared/tools/metrics, found
 * from the worktree root), every line form, hostile input, values against
 * strtod, canonical names, value formatting, and a throughput figure. */
#include <time.h>

#include "../../core/promtext.h"
#include "test.h"

#define GO_PAGE "../shared/tools/metrics/metrics-go.txt"
#define JAVA_PAGE "../shared/tools/metrics/metrics-java.txt"
#define OM_PAGE "../shared/tools/metrics/metrics-go.openmetrics.txt"

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* ---- a collecting callback ---------------------------------------------- */

#define MAX_KEPT 512

struct kept {
	char name[128];
	char labels[256]; /* name=value,... */
	double value;
	int64_t ts;
	bool has_ts;
};

struct collect {
	struct kept v[MAX_KEPT];
	size_t n;
	size_t value_mismatches; /* against strtod of the token in the page */
	size_t stop_after;       /* 0: never stop */
	bool check_tokens;
};

/* The value token of the sample's line: the last blank-separated field, as
 * no test page here has timestamps. */
static bool value_token(const struct promtext_sample *s, char *buf, size_t len)
{
	const char *p = s->name.p, *e = p, *t;

	while (*e && *e != '\n' && *e != '\r')
		e++;
	t = e;
	while (t > p && t[-1] != ' ')
		t--;
	if ((size_t)(e - t) >= len)
		return false;
	memcpy(buf, t, (size_t)(e - t));
	buf[e - t] = '\0';
	return true;
}

static bool on_sample(void *ctx, const struct promtext_sample *s)
{
	struct collect *c = ctx;
	struct kept *k;
	size_t off = 0;

	if (c->check_tokens) {
		char tok[160];
		double want;

		if (!value_token(s, tok, sizeof tok)) {
			c->value_mismatches++;
		} else {
			want = strtod(tok, NULL);
			if (!same_double(want, s->value)) {
				fprintf(stderr, "value '%s': got %.17g, strtod %.17g\n", tok, s->value, want);
				c->value_mismatches++;
			}
		}
	}
	if (c->n < MAX_KEPT) {
		k = &c->v[c->n];
		snprintf(k->name, sizeof k->name, "%.*s", (int)s->name.len, s->name.p);
		k->labels[0] = '\0';
		for (size_t i = 0; i < s->n_labels && off < sizeof k->labels; i++)
			off += (size_t)snprintf(k->labels + off, sizeof k->labels - off, "%s%.*s=%.*s", i ? "," : "",
						(int)s->labels[i].name.len, s->labels[i].name.p,
						(int)s->labels[i].value.len, s->labels[i].value.p);
		k->value = s->value;
		k->ts = s->timestamp_ms;
		k->has_ts = s->has_timestamp;
	}
	c->n++;
	return !(c->stop_after && c->n >= c->stop_after);
}

static const struct kept *find(const struct collect *c, const char *name, const char *labels)
{
	for (size_t i = 0; i < c->n && i < MAX_KEPT; i++)
		if (strcmp(c->v[i].name, name) == 0 && strcmp(c->v[i].labels, labels) == 0)
			return &c->v[i];
	return NULL;
}

static double value_of(const struct collect *c, const char *name, const char *labels)
{
	const struct kept *k = find(c, name, labels);

	if (!k) {
		TFAIL("no sample %s{%s}", name, labels);
		return -999;
	}
	return k->value;
}

/* Parse a page given as a string. */
static struct promtext_stats run(const char *page, size_t len, struct collect *c)
{
	struct promtext_stats st;

	memset(c, 0, sizeof *c);
	CHECK_INT(promtext_parse(page, len, NULL, on_sample, c, &st), PT_OK);
	return st;
}

static struct promtext_stats run_str(const char *page, struct collect *c)
{
	return run(page, strlen(page), c);
}

/* ---- real pages ---------------------------------------------------------- */

/* Every histogram's le="+Inf" bucket must equal the _count with the same
 * other labels. */
static void check_histograms(const struct collect *c, int want_histograms)
{
	int found = 0;

	for (size_t i = 0; i < c->n && i < MAX_KEPT; i++) {
		const struct kept *k = &c->v[i], *count;
		char base[128], cname[160], rest[256];
		const char *le = strstr(k->labels, "le=+Inf");
		size_t n = strlen(k->name), pre;

		if (n < 7 || strcmp(k->name + n - 7, "_bucket") != 0 || !le)
			continue;
		/* the labels without le=+Inf and its comma */
		pre = (size_t)(le - k->labels);
		snprintf(rest, sizeof rest, "%.*s%s", (int)(pre ? pre - 1 : 0), k->labels,
			 le[7] == ',' && pre == 0 ? le + 8 : le + 7);
		snprintf(base, sizeof base, "%.*s", (int)(n - 7), k->name);
		snprintf(cname, sizeof cname, "%s_count", base);
		count = find(c, cname, rest);
		if (!count) {
			TFAIL("histogram %s has no _count", base);
			continue;
		}
		found++;
		CHECK_DBL(k->value, count->value, 0);
	}
	CHECK_INT(found, want_histograms);
}

static void test_go_page(void)
{
	size_t len;
	char *page = test_slurp(GO_PAGE, &len);
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;

	*c = (struct collect){0};
	c->check_tokens = true;
	CHECK_INT(promtext_parse(page, len, NULL, on_sample, c, &st), PT_OK);
	/* `grep -c '' metrics-go.txt` = 297; `grep -vc '^#'` = 155 */
	CHECK_INT(st.lines, 297);
	CHECK_INT(st.samples, 155);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(st.first_bad, 0);
	CHECK_INT(st.skipped, 0);
	CHECK_INT(c->n, 155);
	CHECK_INT(c->value_mismatches, 0);
	CHECK_DBL(value_of(c, "go_gc_duration_seconds", "quantile=0.5"), 0.000347072, 0);
	CHECK_DBL(value_of(c, "go_gc_duration_seconds_count", ""), 595, 0);
	CHECK_DBL(value_of(c, "go_gc_pauses_seconds_bucket", "le=+Inf"), 1190, 0);
	CHECK_DBL(value_of(c, "go_gc_pauses_seconds_bucket", "le=9.999999999999999e-10"), 0, 0);
	CHECK_DBL(value_of(c, "go_gc_pauses_seconds_bucket", "le=1.0239999999999999e-05"), 227, 0);
	CHECK_DBL(value_of(c, "go_gc_pauses_seconds_sum", ""), 0.16994816000000001, 0);
	CHECK_DBL(value_of(c, "go_gc_heap_allocs_by_size_bytes_sum", ""), 3.8555416552e+10, 0);
	CHECK_DBL(value_of(c, "go_goroutines", ""), 9, 0);
	CHECK_DBL(value_of(c, "go_info", "version=go1.19.8"), 1, 0);
	CHECK_DBL(value_of(c, "sample_retained_bytes", ""), 6.422528e+07, 0);
	CHECK_DBL(value_of(c, "sample_alloc_batch_duration_seconds_count", "kind=churn"), 16644, 0);
	/* `grep -c 'le="+Inf"'` = 6 */
	check_histograms(c, 6);
	free(c);
	free(page);
}

static void test_openmetrics_page(void)
{
	size_t len;
	char *page = test_slurp(OM_PAGE, &len);
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;

	c->check_tokens = true;
	CHECK_INT(promtext_parse(page, len, NULL, on_sample, c, &st), PT_OK);
	CHECK_INT(st.lines, 298); /* the last is "# EOF" */
	CHECK_INT(st.samples, 155);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(c->value_mismatches, 0);
	CHECK_DBL(value_of(c, "go_gc_duration_seconds", "quantile=0.0"), 0.000102402, 0);
	CHECK_DBL(value_of(c, "go_gc_cycles_total_gc_cycles_total", ""), 596, 0);
	CHECK_DBL(value_of(c, "sample_retained_bytes", ""), 3.4603008e+07, 0);
	check_histograms(c, 6);
	free(c);
	free(page);
}

static void test_java_page(void)
{
	size_t len;
	char *page = test_slurp(JAVA_PAGE, &len);
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;
	const struct kept *info;

	c->check_tokens = true;
	CHECK_INT(promtext_parse(page, len, NULL, on_sample, c, &st), PT_OK);
	CHECK_INT(st.lines, 122);
	CHECK_INT(st.samples, 70);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(c->value_mismatches, 0);
	/* trailing commas inside the braces */
	CHECK_DBL(value_of(c, "jvm_memory_pool_bytes_used", "pool=Metaspace"), 1704752.0, 0);
	CHECK_DBL(value_of(c, "jvm_memory_pool_bytes_used", "pool=CodeHeap 'non-nmethods'"), 1155072.0, 0);
	CHECK_DBL(value_of(c, "jvm_memory_bytes_used", "area=heap"), 1.31256864E8, 0);
	CHECK_DBL(value_of(c, "jvm_memory_bytes_max", "area=nonheap"), -1, 0);
	CHECK_DBL(value_of(c, "jvm_gc_collection_seconds_count", "gc=G1 Old Generation"), 0, 0);
	CHECK_DBL(value_of(c, "jvm_gc_collection_seconds_count", "gc=G1 Young Generation"), 509, 0);
	CHECK_DBL(value_of(c, "jvm_gc_collection_seconds_sum", "gc=G1 Young Generation"), 1.978, 0);
	CHECK_DBL(value_of(c, "process_start_time_seconds", ""), 1.795802472576E9, 0);
	CHECK_DBL(value_of(c, "jvm_buffer_pool_used_bytes", "pool=mapped - 'non-volatile memory'"), 0, 0);
	info = find(c, "jvm_info", "runtime=OpenJDK Runtime Environment,vendor=Debian,"
				   "version=17.0.15+6-Debian-1deb12u1");
	CHECK(info != NULL);
	free(c);
	free(page);
}

static bool want_pools(void *ctx, const char *name, size_t len)
{
	size_t *calls = ctx;

	(*calls)++;
	return len > 15 && memcmp(name, "jvm_memory_pool", 15) == 0;
}

static bool count_only(void *ctx, const struct promtext_sample *s)
{
	size_t *calls = ctx;

	*calls += 1000; /* distinguishable from filter calls */
	return s->name.len > 15 && memcmp(s->name.p, "jvm_memory_pool", 15) == 0;
}

static void test_filter(void)
{
	size_t len, calls = 0;
	char *page = test_slurp(JAVA_PAGE, &len);
	struct promtext_stats st;

	CHECK_INT(promtext_parse(page, len, want_pools, count_only, &calls, &st), PT_OK);
	/* 4 x 8 pool gauges and 3 collection_used_bytes */
	CHECK_INT(st.samples, 35);
	CHECK_INT(st.skipped, 35);
	CHECK_INT(st.bad_lines, 0);
	CHECK_INT(calls, 70 + 35 * 1000);
	/* NULL callback and NULL stats */
	CHECK_INT(promtext_parse(page, len, NULL, NULL, NULL, &st), PT_OK);
	CHECK_INT(st.samples, 70);
	CHECK_INT(promtext_parse(page, len, NULL, NULL, NULL, NULL), PT_OK);
	/* A failed scrape (series_ingest passes it on); clang's UBSan
	 * flags any pointer arithmetic on the NULL. */
	CHECK_INT(promtext_parse(NULL, 0, NULL, NULL, NULL, &st), PT_OK);
	CHECK_INT(st.lines, 0);
	CHECK_INT(promtext_parse(NULL, 5, NULL, NULL, NULL, &st), PT_INVALID);
	free(page);
}

static void test_stop_early(void)
{
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;

	c->stop_after = 2;
	CHECK_INT(promtext_parse("a 1\nb 2\nc 3\n", 12, NULL, on_sample, c, &st), PT_OK);
	CHECK_INT(st.samples, 2);
	CHECK_INT(c->n, 2);
	CHECK_INT(st.lines, 2);
	free(c);
}

/* ---- line forms ------------------------------------------------------------ */

static void test_line_forms(void)
{
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;
	const struct kept *k;

	st = run_str("# HELP a Some help.\n# TYPE a counter\n\n   \t\na_total 1\n  b 2  \n# just a comment\n", c);
	CHECK_INT(st.lines, 7);
	CHECK_INT(st.samples, 2);
	CHECK_INT(st.bad_lines, 0);
	CHECK_DBL(value_of(c, "a_total", ""), 1, 0);
	CHECK_DBL(value_of(c, "b", ""), 2, 0);

	/* \r\n endings, a last line without a newline */
	st = run_str("a 1\r\nb{x=\"y\"} 2\r\n\r\nc 3", c);
	CHECK_INT(st.lines, 4);
	CHECK_INT(st.samples, 3);
	CHECK_INT(st.bad_lines, 0);
	CHECK_DBL(value_of(c, "b", "x=y"), 2, 0);
	CHECK_DBL(value_of(c, "c", ""), 3, 0);

	/* blanks everywhere Prometheus allows them, empty braces, no blank
	 * between '}' and the value, colons in names */
	st = run_str("a { x = \"1\" , y=\"2\" , } 5\nb{} 6\nc{x=\"1\"}7\nns:sub_x 8\n_u 9\n", c);
	CHECK_INT(st.samples, 5);
	CHECK_INT(st.bad_lines, 0);
	CHECK_DBL(value_of(c, "a", "x=1,y=2"), 5, 0);
	CHECK_DBL(value_of(c, "b", ""), 6, 0);
	CHECK_DBL(value_of(c, "c", "x=1"), 7, 0);
	CHECK_DBL(value_of(c, "ns:sub_x", ""), 8, 0);
	CHECK_DBL(value_of(c, "_u", ""), 9, 0);

	/* timestamps */
	st = run_str("a 1 1712345678901\nb 2 -5\nc 3 9223372036854775807\nd 4 -9223372036854775808\ne 5\t7 \n", c);
	CHECK_INT(st.samples, 5);
	CHECK_INT(st.bad_lines, 0);
	k = find(c, "a", "");
	CHECK(k && k->has_ts && k->ts == 1712345678901LL);
	k = find(c, "b", "");
	CHECK(k && k->has_ts && k->ts == -5);
	k = find(c, "c", "");
	CHECK(k && k->ts == INT64_MAX);
	k = find(c, "d", "");
	CHECK(k && k->ts == INT64_MIN);
	k = find(c, "e", "");
	CHECK(k && k->has_ts && k->ts == 7 && k->value == 5);
	st = run_str("a 1\n", c);
	CHECK(c->n == 1 && !c->v[0].has_ts);

	/* escapes: \\ \" \n unescape, anything else stays as written */
	st = run_str("a{x=\"p\\\\q\\\"r\\ns\",y=\"t\\tu\\\\\"} 1\n", c);
	CHECK_INT(st.samples, 1);
	CHECK_DBL(value_of(c, "a", "x=p\\q\"r\ns,y=t\\tu\\"), 1, 0);

	/* OpenMetrics: # EOF ends the page; exemplars are ignored */
	st = run_str("a 1\n# EOF\nb 2\n", c);
	CHECK_INT(st.samples, 1);
	CHECK_INT(st.lines, 2);
	st = run_str("a_bucket{le=\"1\"} 5 # {trace_id=\"abc\"} 0.5 123\nb 1 100 # {x=\"y\"} 1\n", c);
	CHECK_INT(st.samples, 2);
	CHECK_INT(st.bad_lines, 0);
	CHECK_DBL(value_of(c, "a_bucket", "le=1"), 5, 0);
	/* "# EOF " with more text is a comment, not the end */
	st = run_str("# EOF now\na 1\n", c);
	CHECK_INT(st.samples, 1);
	free(c);
}

static void test_labels_limits(void)
{
	struct collect *c = calloc(1, sizeof *c);
	char *page = malloc(200000);
	struct promtext_stats st;
	size_t n;

	/* 32 labels parse, 33 do not */
	n = (size_t)snprintf(page, 200000, "m{");
	for (int i = 0; i < PROMTEXT_MAX_LABELS; i++)
		n += (size_t)snprintf(page + n, 200000 - n, "l%d=\"v\",", i);
	snprintf(page + n, 200000 - n, "} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.samples, 1);
	snprintf(page + n, 200000 - n, "l99=\"v\"} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.samples, 0);
	CHECK_INT(st.bad_lines, 1);

	/* a value of exactly the limit, then one byte more */
	n = (size_t)snprintf(page, 200000, "m{a=\"");
	memset(page + n, 'v', PROMTEXT_MAX_LABEL_VALUE);
	snprintf(page + n + PROMTEXT_MAX_LABEL_VALUE, 200000 - n - PROMTEXT_MAX_LABEL_VALUE, "\"} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.samples, 1);
	memset(page + n, 'v', PROMTEXT_MAX_LABEL_VALUE + 1);
	snprintf(page + n + PROMTEXT_MAX_LABEL_VALUE + 1, 200000 - n, "\"} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.bad_lines, 1);
	CHECK_INT(st.first_bad, 1);

	/* the limit applies after unescaping: 1024 escaped backslashes fit */
	n = (size_t)snprintf(page, 200000, "m{");
	for (int l = 0; l < PROMTEXT_MAX_LABELS; l++) {
		n += (size_t)snprintf(page + n, 200000 - n, "l%d=\"", l);
		for (int i = 0; i < PROMTEXT_MAX_LABEL_VALUE; i++) {
			page[n++] = '\\';
			page[n++] = '\\';
		}
		page[n++] = '"';
		page[n++] = ',';
	}
	snprintf(page + n, 200000 - n, "} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.samples, 1);
	CHECK_INT(st.bad_lines, 0);
	n = (size_t)snprintf(page, 200000, "m{a=\"");
	for (int i = 0; i <= PROMTEXT_MAX_LABEL_VALUE; i++) {
		page[n++] = '\\';
		page[n++] = 'n';
	}
	snprintf(page + n, 200000 - n, "\"} 1\n");
	st = run_str(page, c);
	CHECK_INT(st.bad_lines, 1);

	/* a long metric name is fine: names are slices of the page */
	memset(page, 'a', 100000);
	snprintf(page + 100000, 200000 - 100000, " 1\n");
	st = run_str(page, c);
	CHECK_INT(st.samples, 1);
	free(page);
	free(c);
}

static void test_bad_lines(void)
{
	static const char *const bad[] = {
		"}{",
		"1abc 5",
		"a{b=\"c\" 1",
		"a",
		"a ",
		"a 1 2 3",
		"a{b=c} 1",
		"a b",
		"a 1x",
		"a{,} 1",
		"a{b=\"c\",,} 1",
		"a{b=\"c\"d=\"e\"} 1",
		"a{b=\"c\",b=\"d\"} 1",
		"a{1b=\"c\"} 1",
		"a{b=\"c\\",
		"a{b=\"c",
		"a{b",
		"a{",
		"{b=\"c\"} 1",
		"a 1 1.5",
		"a 1 99999999999999999999",
		"a 1 x",
		"a 1 1 x",
		"a 0x10",
		"a 1_000",
		"a 0x1p3",
		"a +NaN",
		"a -nan",
		"a 1e",
		"a 1e+",
		"a .",
		"a -",
		"a .e5",
		"a 1e400",
		"a -1e400",
		"a infinit",
		"a Infinityy",
		"a 1.2.3",
		"a\x01 1",
		"a{b=\"\xff\"} 1",
		"a{b=\"\xc0\xaf\"} 1",
		"a{b=\"\xed\xa0\x80\"} 1",
		"a{b=\"\xe2\x82\"} 1",
		"a 111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
		"111111111111111111111111111111111111111111111111111",
	};
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;
	char line[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(line, sizeof line, "ok 1\n%s\nok 2\n", bad[i]);
		st = run_str(line, c);
		if (st.bad_lines != 1 || st.first_bad != 2 || st.samples != 2)
			TFAIL("line \"%s\": bad %zu first %zu samples %zu", bad[i], st.bad_lines, st.first_bad,
			      st.samples);
		test_checks++;
	}
	/* NUL bytes, in a name and in a label value */
	{
		static const char nul1[] = "a\0b 1\nc 2\n";
		static const char nul2[] = "a{b=\"x\0y\"} 1\nc 2\n";
		static const char nul3[] = "# comment \0 with a NUL\nc 2\n";

		st = run(nul1, sizeof nul1 - 1, c);
		CHECK_INT(st.bad_lines, 1);
		CHECK_INT(st.samples, 1);
		st = run(nul2, sizeof nul2 - 1, c);
		CHECK_INT(st.bad_lines, 1);
		CHECK_INT(st.samples, 1);
		st = run(nul3, sizeof nul3 - 1, c);
		CHECK_INT(st.bad_lines, 0);
		CHECK_INT(st.samples, 1);
	}
	/* valid UTF-8 in a label value */
	st = run_str("a{b=\"caf\xc3\xa9 \xf0\x9f\x98\x80\"} 1\n", c);
	CHECK_INT(st.samples, 1);
	CHECK_DBL(value_of(c, "a", "b=caf\xc3\xa9 \xf0\x9f\x98\x80"), 1, 0);
	/* a page cut in the middle of a line */
	st = run_str("a 1\nb{x=\"y", c);
	CHECK_INT(st.samples, 1);
	CHECK_INT(st.bad_lines, 1);
	CHECK_INT(st.first_bad, 2);
	st = run_str("a 1\nb 1.5e", c);
	CHECK_INT(st.bad_lines, 1);
	/* several bad lines: first_bad is the first */
	st = run_str("a 1\n\nx y\nb 2\nz\n", c);
	CHECK_INT(st.bad_lines, 2);
	CHECK_INT(st.first_bad, 3);
	CHECK_INT(st.samples, 2);
	free(c);
}

static void test_special_values(void)
{
	static const struct {
		const char *text;
		double v;
	} cases[] = {
		{"NaN", NAN}, {"nan", NAN}, {"NAN", NAN},
		{"+Inf", INFINITY}, {"-Inf", -INFINITY}, {"Inf", INFINITY}, {"inf", INFINITY},
		{"+infinity", INFINITY}, {"-Infinity", -INFINITY},
		{"0", 0}, {"-0", -0.0}, {"+0.0", 0}, {"00012", 12}, {"1.", 1}, {".5", 0.5}, {"1.e5", 1e5},
		{"1E-7", 1e-7}, {"1e-400", 0}, {"4.9e-324", 4.9e-324},
		{"1.7976931348623157e308", 1.7976931348623157e308},
		{"9007199254740993", 9007199254740992.0}, /* 2^53 + 1 rounds to even */
		{"18446744073709551615", 18446744073709551616.0},
		{"123456789012345678901234567890", 1.2345678901234568e+29},
		{"0.000000000000000000000000000001", 1e-30},
	};
	char line[128];
	struct collect *c = calloc(1, sizeof *c);
	struct promtext_stats st;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(line, sizeof line, "m %s\n", cases[i].text);
		st = run_str(line, c);
		test_checks++;
		if (st.samples != 1 || !same_double(c->v[0].value, cases[i].v))
			TFAIL("value \"%s\": got %.17g (samples %zu), want %.17g", cases[i].text,
			      st.samples ? c->v[0].value : -1, st.samples, cases[i].v);
	}
	free(c);
}

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random decimal strings and printed doubles: the parser must agree with
 * strtod bit for bit (exact for integers, correctly rounded otherwise). */
static void test_values_vs_strtod(void)
{
	char text[96], line[128];
	struct collect *c = calloc(1, sizeof *c);
	size_t mismatches = 0;

	for (int i = 0; i < 200000; i++) {
		int kind = (int)(rnd() % 4);
		size_t n = 0;

		if (kind == 0) {
			/* digits, maybe a point, maybe an exponent */
			int digits = 1 + (int)(rnd() % 25), dot = (int)(rnd() % (digits + 2));

			if (rnd() % 2)
				text[n++] = '-';
			for (int d = 0; d < digits; d++) {
				if (d == dot)
					text[n++] = '.';
				text[n++] = (char)('0' + rnd() % 10);
			}
			if (rnd() % 3 == 0)
				n += (size_t)snprintf(text + n, sizeof text - n, "e%d", (int)(rnd() % 80) - 40);
			text[n] = '\0';
		} else {
			double d;
			uint64_t bits = rnd();

			memcpy(&d, &bits, sizeof d);
			if (isnan(d) || isinf(d))
				d = (double)(int64_t)bits;
			if (kind == 1)
				snprintf(text, sizeof text, "%.17g", d);
			else if (kind == 2)
				snprintf(text, sizeof text, "%.15g", (double)(int64_t)(bits >> (rnd() % 64)));
			else
				snprintf(text, sizeof text, "%.6g", d);
		}
		snprintf(line, sizeof line, "m %s\n", text);
		memset(c, 0, sizeof *c);
		promtext_parse(line, strlen(line), NULL, on_sample, c, NULL);
		if (c->n != 1 || !same_double(c->v[0].value, strtod(text, NULL))) {
			if (mismatches++ < 5)
				TFAIL("\"%s\": got %.17g, strtod %.17g", text, c->n ? c->v[0].value : -1,
				      strtod(text, NULL));
		}
	}
	CHECK_INT(mismatches, 0);
	free(c);
}

/* Junk must never crash, and every line must be counted exactly once. */
static void test_junk(void)
{
	size_t len = 1 << 20, newlines = 0;
	char *page = malloc(len);
	struct promtext_stats st;
	size_t calls = 0;

	for (size_t i = 0; i < len; i++) {
		page[i] = (char)rnd();
		newlines += page[i] == '\n';
	}
	CHECK_INT(promtext_parse(page, len, NULL, NULL, NULL, &st), PT_OK);
	CHECK_INT(st.lines, newlines + (page[len - 1] != '\n'));
	CHECK(st.samples + st.bad_lines <= st.lines);
	CHECK(st.bad_lines > 0);

	/* junk made of the format's own characters gets further into it */
	{
		static const char alphabet[] = "ab_:{}=\",\\ \t\n\r#01.eE+-InfNa\"le";

		for (size_t i = 0; i < len; i++)
			page[i] = alphabet[rnd() % (sizeof alphabet - 1)];
		CHECK_INT(promtext_parse(page, len, NULL, count_only, &calls, &st), PT_OK);
		CHECK(st.samples + st.bad_lines + st.skipped <= st.lines);
		CHECK(st.samples > 0);
	}
	free(page);
}

static void test_canonical_names(void)
{
	static const char *const pairs[][2] = {
		{"jvm_memory_used_bytes", "jvm_memory_bytes_used"},
		{"jvm_memory_committed_bytes", "jvm_memory_bytes_committed"},
		{"jvm_memory_max_bytes", "jvm_memory_bytes_max"},
		{"jvm_memory_init_bytes", "jvm_memory_bytes_init"},
		{"jvm_memory_pool_used_bytes", "jvm_memory_pool_bytes_used"},
		{"jvm_memory_pool_committed_bytes", "jvm_memory_pool_bytes_committed"},
		{"jvm_memory_pool_max_bytes", "jvm_memory_pool_bytes_max"},
		{"jvm_memory_pool_init_bytes", "jvm_memory_pool_bytes_init"},
		{"jvm_runtime_info", "jvm_info"},
		{"jvm_classes_loaded", "jvm_classes_currently_loaded"},
		{"jvm_memory_pool_collection_bytes_used", "jvm_memory_pool_collection_used_bytes"},
		{"jvm_memory_pool_collection_bytes_committed", "jvm_memory_pool_collection_committed_bytes"},
		{"jvm_memory_pool_collection_bytes_max", "jvm_memory_pool_collection_max_bytes"},
		{"jvm_memory_pool_collection_bytes_init", "jvm_memory_pool_collection_init_bytes"},
	};
	static const char *const same[] = {
		"jvm_memory_bytes_used", "jvm_memory_pool_bytes_used", "jvm_gc_collection_seconds_count",
		"jvm_threads_current", "jvm_classes_loaded_total", "jvm_memory_pool_collection_used_bytes",
		"jvm_compilation_time_seconds_total", "go_goroutines", "jvm_", "", "jvm_memory_used_bytes_total",
	};
	size_t n;

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		const char *r = promtext_canonical_name(pairs[i][0], strlen(pairs[i][0]), &n);

		CHECK_STR(r, pairs[i][1]);
		CHECK_INT(n, strlen(pairs[i][1]));
		/* canonical names map to themselves */
		CHECK(promtext_canonical_name(pairs[i][1], strlen(pairs[i][1]), &n) == pairs[i][1]);
	}
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		CHECK(promtext_canonical_name(same[i], strlen(same[i]), &n) == same[i]);
		CHECK_INT(n, strlen(same[i]));
	}
	/* the name is a slice: only len bytes count */
	{
		const char *line = "jvm_memory_pool_used_bytes{pool=\"Metaspace\"} 1";

		CHECK_STR(promtext_canonical_name(line, 26, &n), "jvm_memory_pool_bytes_used");
		CHECK(promtext_canonical_name(line, 25, &n) == line);
		CHECK_STR(promtext_canonical_name(line, 26, NULL), "jvm_memory_pool_bytes_used");
	}
}

static void test_format_value(void)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{NAN, "NaN"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {0, "0"}, {-0.0, "-0"}, {1, "1"},
		{-1, "-1"}, {1704752, "1704752"}, {1.31256864e8, "131256864"}, {0.1, "0.1"},
		{0.000102402, "0.000102402"}, {1.978, "1.978"}, {1e20, "1e+20"}, {1.5e-7, "1.5e-07"},
		{9007199254740992.0, "9007199254740992"}, {0.16994816000000001, "0.16994816000000001"},
		{0.16994816, "0.16994816"},
		{1.0 / 3, "0.3333333333333333"}, {2.5, "2.5"},
	};
	char buf[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = promtext_format_value(buf, sizeof buf, cases[i].v);

		CHECK_STR(buf, cases[i].s);
		CHECK_INT(n, strlen(cases[i].s));
	}
	/* too small a buffer: truncated, and the full length is returned */
	CHECK_INT(promtext_format_value(buf, 4, 1704752), 7);
	CHECK_STR(buf, "170");
	/* every double reads back exactly, through the parser too */
	for (int i = 0; i < 100000; i++) {
		uint64_t bits = rnd();
		double d, back;
		char line[80];
		struct promtext_stats st;
		struct collect *c = NULL;

		memcpy(&d, &bits, sizeof d);
		if (isnan(d))
			continue;
		promtext_format_value(buf, sizeof buf, d);
		back = strtod(buf, NULL);
		if (!same_double(back, d) && !(isinf(d) && isinf(back) && (d > 0) == (back > 0))) {
			TFAIL("%.17g formats as \"%s\"", d, buf);
			break;
		}
		if (i % 100 == 0) {
			c = calloc(1, sizeof *c);
			snprintf(line, sizeof line, "m %s\n", buf);
			promtext_parse(line, strlen(line), NULL, on_sample, c, &st);
			if (st.samples != 1 || !same_double(c->v[0].value, d))
				TFAIL("\"%s\" does not parse back", buf);
			free(c);
		}
	}
}

static bool reject_all(void *ctx, const char *name, size_t len)
{
	(void)ctx;
	(void)name;
	(void)len;
	return false;
}

static bool sum_values(void *ctx, const struct promtext_sample *s)
{
	*(double *)ctx += s->value;
	return true;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not an assertion (the machine is shared): a figure to watch. The agent
 * needs ~250 pages/s of ~20 KB, i.e. 5 MB/s. */
static void test_throughput(void)
{
	size_t len;
	char *page = test_slurp(GO_PAGE, &len);
	int rounds = 500;
	double sum = 0, t0, t1, t2;
	struct promtext_stats st;

	t0 = now_s();
	for (int i = 0; i < rounds; i++)
		promtext_parse(page, len, NULL, sum_values, &sum, &st);
	t1 = now_s();
	for (int i = 0; i < rounds; i++)
		promtext_parse(page, len, reject_all, sum_values, &sum, &st);
	t2 = now_s();
	fprintf(stderr, "throughput: %.0f MB/s parsing every sample, %.0f MB/s filtering all out "
			"(%.1f us per %zu-byte page)\n",
		(double)len * rounds / (t1 - t0) / 1e6, (double)len * rounds / (t2 - t1) / 1e6,
		(t1 - t0) / rounds * 1e6, len);
	CHECK(sum > 0);
	CHECK_INT(st.skipped, 155);
	free(page);
}

TEST_MAIN(test_go_page, test_openmetrics_page, test_java_page, test_filter, test_stop_early, test_line_forms,
	  test_labels_limits, test_bad_lines, test_special_values, test_values_vs_strtod, test_junk,
	  test_canonical_names, test_format_value, test_throughput)
