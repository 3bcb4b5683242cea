/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger expressions: valid forms and the tree they give, every class of
 * error with its column, the limits, regex matching and comparisons. */
#include "../../core/promql.h"
#include "../../core/promtext.h"
#include "test.h"

static struct promql_expr *ok_(const char *src, int line)
{
	struct promql_expr *x = NULL;
	struct pt_error e = {0};
	enum pt_code rc = promql_parse(src, &x, &e);

	test_checks++;
	if (rc != PT_OK || !x) {
		test_failures++;
		fprintf(stderr, "%s:%d: FAIL: parse \"%s\": %s (col %d)\n", __FILE__, line, src, e.msg, e.col);
		return NULL;
	}
	return x;
}
#define OK(src) ok_(src, __LINE__)

/* Expect a failure with this code, at this column, with this in the message. */
static void err_(const char *src, enum pt_code code, int col, const char *needle, int line)
{
	struct promql_expr *sentinel = (struct promql_expr *)&test_checks, *x = sentinel;
	struct pt_error e = {0};
	enum pt_code rc = promql_parse(src, &x, &e);

	test_checks++;
	if (rc != code || e.code != code || e.col != col || !strstr(e.msg, needle) || x != sentinel) {
		test_failures++;
		fprintf(stderr, "%s:%d: FAIL: \"%s\": got code %d col %d \"%s\"%s; want code %d col %d \"%s\"\n",
			__FILE__, line, src, rc, e.col, e.msg, x != sentinel ? " (out changed)" : "", code, col,
			needle);
		if (rc == PT_OK && x != sentinel)
			promql_free(x);
	}
}
#define ERR(src, col, needle) err_(src, PT_SYNTAX, col, needle, __LINE__)
#define ERR_LIMIT(src, col, needle) err_(src, PT_LIMIT, col, needle, __LINE__)

static void test_design_examples(void)
{
	struct promql_expr *x;
	struct promql_node *n;

	x = OK("histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[1m])) > 0.008");
	if (x) {
		n = x->root;
		CHECK_INT(n->kind, PROMQL_QUANTILE);
		CHECK_INT(n->col, 1);
		CHECK_DBL(n->quantile, 0.99, 0);
		CHECK_INT(n->arg->kind, PROMQL_RANGE_FN);
		CHECK_INT(n->arg->fn, PROMQL_RATE);
		CHECK_INT(n->arg->col, 26);
		CHECK_STR(n->arg->sel.metric, "go_gc_pauses_seconds_bucket");
		CHECK_INT(n->arg->sel.n_matchers, 0);
		CHECK_INT(n->arg->sel.range_ms, 60000);
		CHECK(n->arg->arg == NULL);
		CHECK_INT(x->cmp, PROMQL_GT);
		CHECK_DBL(x->threshold, 0.008, 0);
		CHECK_INT(x->max_range_ms, 60000);
		CHECK_INT(x->n_metrics, 1);
		CHECK_STR(x->metrics[0], "go_gc_pauses_seconds_bucket");
		CHECK_STR(x->src, "histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[1m])) > 0.008");
		promql_free(x);
	}
	x = OK("rate(container_pressure_cpu_waiting_seconds_total[30s]) > 0.25");
	if (x) {
		CHECK_INT(x->root->kind, PROMQL_RANGE_FN);
		CHECK_STR(x->root->sel.metric, "container_pressure_cpu_waiting_seconds_total");
		CHECK_INT(x->root->sel.range_ms, 30000);
		CHECK_DBL(x->threshold, 0.25, 0);
		promql_free(x);
	}
}

static void test_shapes(void)
{
	struct promql_expr *x;
	struct promql_node *n;

	x = OK("sum by (pool) (max_over_time(jvm_memory_pool_used_bytes{pool=~\"G1.*\", area!=\"x\",}[5m])) >= 1e9");
	if (x) {
		n = x->root;
		CHECK_INT(n->kind, PROMQL_AGG);
		CHECK_INT(n->agg, PROMQL_SUM);
		CHECK_INT(n->n_by, 1);
		CHECK_STR(n->by[0], "pool");
		CHECK(!n->without);
		n = n->arg;
		CHECK_INT(n->kind, PROMQL_RANGE_FN);
		CHECK_INT(n->fn, PROMQL_MAX_OVER_TIME);
		/* the JMX exporter >= 1.0 name is stored as the classic one */
		CHECK_STR(n->sel.metric, "jvm_memory_pool_bytes_used");
		CHECK_INT(n->sel.n_matchers, 2);
		CHECK_STR(n->sel.matchers[0].label, "pool");
		CHECK_INT(n->sel.matchers[0].op, PROMQL_RE);
		CHECK_STR(n->sel.matchers[0].value, "G1.*");
		CHECK_STR(n->sel.matchers[1].label, "area");
		CHECK_INT(n->sel.matchers[1].op, PROMQL_NE);
		CHECK_INT(n->sel.range_ms, 300000);
		CHECK_INT(x->cmp, PROMQL_GE);
		CHECK_DBL(x->threshold, 1e9, 0);
		CHECK_STR(x->metrics[0], "jvm_memory_pool_bytes_used");
		promql_free(x);
	}
	x = OK("avg(container_memory_working_set_bytes) without (a, b,) < -Inf");
	if (x) {
		CHECK_INT(x->root->agg, PROMQL_AVG);
		CHECK(x->root->without);
		CHECK_INT(x->root->n_by, 2);
		CHECK_STR(x->root->by[1], "b");
		CHECK_INT(x->root->arg->kind, PROMQL_SELECTOR);
		CHECK_INT(x->root->arg->sel.range_ms, 0);
		CHECK_INT(x->cmp, PROMQL_LT);
		CHECK(isinf(x->threshold) && x->threshold < 0);
		promql_free(x);
	}
	x = OK("{__name__=\"jvm_memory_used_bytes\", area=\"heap\"} != NaN");
	if (x) {
		CHECK_STR(x->root->sel.metric, "jvm_memory_bytes_used");
		CHECK_INT(x->root->sel.n_matchers, 1);
		CHECK_STR(x->root->sel.matchers[0].label, "area");
		CHECK_INT(x->cmp, PROMQL_NEQ);
		CHECK(isnan(x->threshold));
		promql_free(x);
	}
	x = OK("histogram_quantile(0.5, sum(rate(x_bucket{job=\"a\"}[1h30m])) by (le, pod)) <= 1");
	if (x) {
		CHECK_INT(x->root->arg->kind, PROMQL_AGG);
		CHECK_INT(x->root->arg->n_by, 2);
		CHECK_INT(x->root->arg->arg->sel.range_ms, 5400000);
		CHECK_INT(x->max_range_ms, 5400000);
		CHECK_INT(x->cmp, PROMQL_LE);
		promql_free(x);
	}
	x = OK("histogram_quantile(1, max without (pod) (increase(x_bucket[1d]))) == 0");
	if (x) {
		CHECK_INT(x->root->arg->agg, PROMQL_MAX);
		CHECK_INT(x->root->arg->arg->fn, PROMQL_INCREASE);
		CHECK_INT(x->max_range_ms, 86400000);
		CHECK_INT(x->cmp, PROMQL_EQL);
		promql_free(x);
	}
	/* parentheses, case-insensitive aggregators, whitespace, newlines */
	x = OK(" ( SUM ( min (delta(x[500ms])) ) )\n\t>\n1");
	if (x) {
		CHECK_INT(x->root->agg, PROMQL_SUM);
		CHECK_INT(x->root->arg->agg, PROMQL_MIN);
		CHECK_INT(x->root->arg->arg->fn, PROMQL_DELTA);
		CHECK_INT(x->root->arg->arg->sel.range_ms, 500);
		promql_free(x);
	}
	x = OK("sum_over_time(a:b_c{x=\"1\"}[1m30s]) > 1 ");
	if (x) {
		CHECK_INT(x->root->fn, PROMQL_SUM_OVER_TIME);
		CHECK_STR(x->root->sel.metric, "a:b_c");
		CHECK_INT(x->root->sel.range_ms, 90000);
		promql_free(x);
	}
	x = OK("avg_over_time(x[1h]) > 1");
	if (x) {
		CHECK_INT(x->root->fn, PROMQL_AVG_OVER_TIME);
		promql_free(x);
	}
	x = OK("min_over_time(x[2m]) > 1");
	if (x) {
		CHECK_INT(x->root->fn, PROMQL_MIN_OVER_TIME);
		promql_free(x);
	}
	/* a metric may be named like a function when no '(' follows */
	x = OK("rate > 1");
	if (x) {
		CHECK_STR(x->root->sel.metric, "rate");
		promql_free(x);
	}
	x = OK("x{} > 1");
	if (x) {
		CHECK_INT(x->root->sel.n_matchers, 0);
		promql_free(x);
	}
	x = OK("{job=\"a\"} > 1");
	if (x) {
		CHECK(x->root->sel.metric == NULL);
		CHECK_INT(x->n_metrics, 0);
		promql_free(x);
	}
	x = OK("sum by () (x) > 1");
	if (x) {
		CHECK_INT(x->root->n_by, 0);
		CHECK(x->root->by != NULL);
		promql_free(x);
	}
}

static double threshold_of(const char *src)
{
	struct promql_expr *x = OK(src);
	double v = -12345;

	if (x) {
		v = x->threshold;
		promql_free(x);
	}
	return v;
}

static void test_numbers(void)
{
	CHECK_DBL(threshold_of("x > 1"), 1, 0);
	CHECK_DBL(threshold_of("x > 1.5e-3"), 0.0015, 0);
	CHECK_DBL(threshold_of("x > 1E+2"), 100, 0);
	CHECK_DBL(threshold_of("x > .5"), 0.5, 0);
	CHECK_DBL(threshold_of("x > 5."), 5, 0);
	CHECK_DBL(threshold_of("x > -1"), -1, 0);
	CHECK_DBL(threshold_of("x > +1"), 1, 0);
	CHECK_DBL(threshold_of("x > - 2"), -2, 0);
	CHECK_DBL(threshold_of("x > 0"), 0, 0);
	/* PromQL's ParseInt(s, 0, 64): hex, octal, underscores */
	CHECK_DBL(threshold_of("x > 0x1F"), 31, 0);
	CHECK_DBL(threshold_of("x > 0X_1f"), 31, 0);
	CHECK_DBL(threshold_of("x > 010"), 8, 0);
	CHECK_DBL(threshold_of("x > 0_7"), 7, 0);
	CHECK_DBL(threshold_of("x > 08"), 8, 0);
	CHECK_DBL(threshold_of("x > 09.5"), 9.5, 0);
	CHECK_DBL(threshold_of("x > 1_000"), 1000, 0);
	CHECK_DBL(threshold_of("x > 1_000.5"), 1000.5, 0);
	CHECK_DBL(threshold_of("x > 9223372036854775808"), 9223372036854775808.0, 0);
	CHECK_DBL(threshold_of("x > 1e-400"), 0, 0);
	CHECK(isinf(threshold_of("x > Inf")));
	CHECK(isinf(threshold_of("x > inf")) && threshold_of("x > inf") > 0);
	CHECK(isinf(threshold_of("x > -INF")) && threshold_of("x > -INF") < 0);
	CHECK(isnan(threshold_of("x > NaN")));
	CHECK(isnan(threshold_of("x > nan")));
	ERR("x > 1e400", 5, "number '1e400' is out of range");
	ERR("x > 1__0", 5, "bad number '1__0'");
	ERR("x > 1_", 5, "bad number '1_'");
	ERR("x > 5m", 5, "bad number '5m'");
	ERR("x > 0x", 5, "bad number");
	ERR("x > 0x1.5", 5, "bad number");
	ERR("x > 1e", 5, "bad number '1e'");
	ERR("x > 1.2.3", 5, "bad number");
	ERR("x > 0x8000000000000000", 5, "out of range");
	/* Infinity is a metric name to PromQL, not a number */
	ERR("x > Infinity", 5, "the right side of the comparison must be a number");
	ERR_LIMIT("x > 11111111111111111111111111111111111111111111111111111111111111111", 5,
		  "longer than 64 digits");
}

static const char *value_of(const char *src)
{
	static char buf[64];
	struct promql_expr *x = OK(src);

	snprintf(buf, sizeof buf, "(failed)");
	if (x) {
		snprintf(buf, sizeof buf, "%s", x->root->sel.matchers[0].value);
		promql_free(x);
	}
	return buf;
}

static void test_strings(void)
{
	CHECK_STR(value_of("x{a=\"a\\\"b\"} > 1"), "a\"b");
	CHECK_STR(value_of("x{a='it\\'s'} > 1"), "it's");
	CHECK_STR(value_of("x{a='say \"hi\"'} > 1"), "say \"hi\"");
	CHECK_STR(value_of("x{a=\"\\x41\\101\\u00e9\\U0001F600\"} > 1"), "AA\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_STR(value_of("x{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\"} > 1"), "\a\b\f\n\r\t\v\\");
	CHECK_STR(value_of("x{a=`raw\\n\"'`} > 1"), "raw\\n\"'");
	CHECK_STR(value_of("x{a=\"\xc3\xa9\"} > 1"), "\xc3\xa9");
	ERR("x{a=\"b} > 1", 5, "unterminated string");
	ERR("x{a=\"b\n\"} > 1", 5, "unterminated string");
	ERR("x{a=`b} > 1", 5, "unterminated raw string");
	ERR("x{a=\"\\q\"} > 1", 6, "unknown escape sequence '\\q'");
	ERR("x{a=\"\\'\"} > 1", 6, "unknown escape sequence '\\''"); /* only the opening quote */
	ERR("x{a='\\\"'} > 1", 6, "unknown escape sequence '\\\"'");
	ERR("x{a=\"\\x4\"} > 1", 6, "'\\x' needs 2 hex digits");
	ERR("x{a=\"\\18\"} > 1", 6, "'\\1' needs 3 octal digits");
	ERR("x{a=\"\\400\"} > 1", 6, "invalid Unicode code point");
	ERR("x{a=\"\\uD800\"} > 1", 6, "invalid Unicode code point");
	ERR("x{a=\"\\U00110000\"} > 1", 6, "invalid Unicode code point");
	ERR("x{a=\"\\000\"} > 1", 5, "cannot contain a NUL byte");
}

static void test_durations(void)
{
	struct promql_expr *x;
	static const struct {
		const char *d;
		uint64_t ms;
	} good[] = {
		{"1ms", 1}, {"500ms", 500}, {"1s", 1000}, {"90s", 90000}, {"1m30s", 90000},
		{"1h", 3600000}, {"1h30m", 5400000}, {"1h0m0s1ms", 3600001}, {"1d", 86400000},
		{"0d24h", 86400000}, {"23h59m59s999ms", 86399999}, {"007s", 7000},
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char src[64];

		snprintf(src, sizeof src, "rate(x[%s]) > 1", good[i].d);
		if ((x = OK(src))) {
			CHECK_INT(x->root->sel.range_ms, good[i].ms);
			promql_free(x);
		}
	}
	ERR("rate(x[0s]) > 1", 8, "range must be > 0");
	ERR("rate(x[0]) > 1", 8, "range must be > 0");
	ERR("rate(x[ 0ms ]) > 1", 9, "range must be > 0");
	ERR_LIMIT("rate(x[25h]) > 1", 8, "range '25h' is longer than the limit of 24h");
	ERR_LIMIT("rate(x[1d1ms]) > 1", 8, "longer than the limit");
	ERR_LIMIT("rate(x[1w]) > 1", 8, "longer than the limit");
	ERR_LIMIT("rate(x[1y]) > 1", 8, "longer than the limit");
	ERR_LIMIT("rate(x[99999999999999999999999y]) > 1", 8, "longer than the limit");
	ERR("rate(x[1h1h]) > 1", 8, "invalid duration '1h1h'");
	ERR("rate(x[1s1m]) > 1", 8, "invalid duration '1s1m'");
	ERR("rate(x[1.5m]) > 1", 8, "invalid duration '1.5m'");
	ERR("rate(x[5]) > 1", 8, "invalid duration '5'");
	ERR("rate(x[5x]) > 1", 8, "invalid duration '5x'");
	ERR("rate(x[m]) > 1", 8, "invalid duration 'm'");
	ERR("rate(x[]) > 1", 8, "expected a duration like 5m after '[', found ']'");
	ERR("rate(x[-1m]) > 1", 8, "expected a duration like 5m");
	ERR("rate(x[1m) > 1", 10, "expected ']' after range duration, found ')'");
	ERR("rate(x[1m", 10, "expected ']' after range duration, found end of input");
	ERR("rate(x[5m:1m]) > 1", 10, "subqueries like [5m:1m] are not supported");
}

static void test_errors(void)
{
	ERR("", 1, "empty expression");
	ERR(" \n\t", 1, "empty expression");
	ERR("rat(x[1m]) > 1", 1, "unknown function 'rat' (did you mean 'rate'?)");
	ERR("histogram_quantil(0.9, x_bucket) > 1", 1, "did you mean 'histogram_quantile'?");
	ERR("summ(x) > 1", 1, "did you mean 'sum'?");
	ERR("foo(x) > 1", 1, "unknown function 'foo' (supported: rate,");
	ERR("irate(x[1m]) > 1", 1, "function 'irate' is not supported in triggers");
	ERR("count by (a) (x) > 1", 1, "function 'count' is not supported");
	ERR("rate(x) > 1", 7, "rate() needs a range selector like x[1m]");
	ERR("increase(x{a=\"b\"}) > 1", 18, "increase() needs a range selector like x[1m]");
	ERR("rate(sum(x)) > 1", 6, "rate() needs a range selector like x[1m], not a function call");
	ERR("rate(1) > 1", 6, "rate() needs a range selector like x[1m], found '1'");
	ERR("rate(x[1m], y) > 1", 11, "rate() takes one argument");
	ERR("rate(x[1m] > 1", 12, "expected ')' to close rate(), found '>'");
	ERR("rate(x[1m] offset 5m) > 1", 12, "'offset' modifiers are not supported");
	ERR("x offset 5m > 1", 3, "'offset' modifiers are not supported");
	ERR("x @ 100 > 1", 3, "'@' modifiers are not supported");
	ERR("x[1m] > 1", 2, "a range selector like x[1m] is allowed only inside rate()");
	ERR("sum(x[1m]) > 1", 6, "a range selector like x[1m] is allowed only inside");
	ERR("histogram_quantile(1.5, rate(x_bucket[1m])) > 1", 20,
	    "histogram_quantile's first argument must be a number in [0,1]");
	ERR("histogram_quantile(-0.1, rate(x_bucket[1m])) > 1", 20, "must be a number in [0,1]");
	ERR("histogram_quantile(NaN, rate(x_bucket[1m])) > 1", 20, "must be a number in [0,1]");
	ERR("histogram_quantile(q, rate(x_bucket[1m])) > 1", 20, "must be a number in [0,1]");
	ERR("histogram_quantile(0.9 rate(x_bucket[1m])) > 1", 24, "expected ',' after the quantile, found 'rate'");
	ERR("histogram_quantile(0.9, sum(rate(x_bucket[1m]))) > 1", 25,
	    "histogram_quantile() needs the 'le' label, which this 'sum' drops; write 'sum by (le) (...)'");
	ERR("histogram_quantile(0.9, sum by (pod) (rate(x_bucket[1m]))) > 1", 25, "which this 'sum' drops");
	ERR("histogram_quantile(0.9, max without (le) (rate(x_bucket[1m]))) > 1", 25, "which this 'max' drops");
	ERR("histogram_quantile(0.9, sum by (le) (max(rate(x_bucket[1m])))) > 1", 38, "which this 'max' drops");
	ERR("histogram_quantile(0.9, rate(x[1m])) > 1", 30, "needs a histogram's '_bucket' series, not 'x'");
	ERR("histogram_quantile(0.9, histogram_quantile(0.5, x_bucket)) > 1", 25,
	    "another histogram_quantile() does not give");
	ERR("rate(x[1m])", 12, "a comparison with a number is required at the top level (e.g. '> 0.5')");
	ERR("rate(x[1m]) foo", 13, "expected a comparison like '> 0.5' after the expression, found 'foo'");
	ERR("x = 1", 3, "use '==' to compare, not '='");
	ERR("x > 1 foo", 7, "unexpected 'foo' after the threshold");
	ERR("x > 1)", 6, "unexpected ')' after the threshold");
	ERR("x > 1 and y > 2", 7, "unexpected 'and' after the threshold");
	ERR("x > y", 5, "the right side of the comparison must be a number");
	ERR("x > (1)", 5, "the right side of the comparison must be a number");
	ERR("x >", 4, "expected a number after the comparison, found end of input");
	ERR("x > bool 1", 5, "'bool' is not supported");
	ERR("0.5 < x", 1, "found '0.5'; the number goes after the comparison");
	ERR("> 1", 1, "expected a metric name, '{', '(' or a function, found '>'");
	ERR("(x > 1", 4, "expected ')', found '>'");
	ERR("by > 1", 1, "found the keyword 'by'");
	ERR("sum > 1", 1, "'sum' needs an argument in parentheses, like sum(x)");
	ERR("sum(x, y) > 1", 6, "sum() takes one argument");
	ERR("sum(x > 1", 7, "expected ')' to close sum(), found '>'");
	ERR("sum by (a) (x) by (b) > 1", 16, "'sum' can have only one 'by' or 'without' clause");
	ERR("sum by a (x) > 1", 8, "expected '(' after 'by', found 'a'");
	ERR("sum by (a b) (x) > 1", 11, "expected ',' or ')' in the label list, found 'b'");
	ERR("sum by (1) (x) > 1", 9, "expected a label name or ')', found '1'");
	ERR("sum by (a) x > 1", 12, "expected '(' after 'sum', found 'x'");
	ERR("{} > 1", 1, "a selector without a metric name needs a matcher that does not match the empty string");
	ERR("{a=\"\"} > 1", 1, "needs a matcher that does not match the empty string");
	ERR("{a=~\".*\"} > 1", 1, "needs a matcher that does not match the empty string");
	ERR("{a!=\"x\"} > 1", 1, "needs a matcher that does not match the empty string");
	ERR("x{a=\"b\" c=\"d\"} > 1", 9, "expected ',' or '}' after a label matcher, found 'c'");
	ERR("x{a} > 1", 4, "expected '=', '!=', '=~' or '!~' after label 'a', found '}'");
	ERR("x{a==\"b\"} > 1", 4, "use '=' to match label 'a', not '=='");
	ERR("x{a=b} > 1", 5, "expected a quoted string for label 'a', found 'b'");
	ERR("x{,} > 1", 3, "expected a label name or '}', found ','");
	ERR("x{a=\"b\",,} > 1", 9, "expected a label name or '}', found ','");
	ERR("x{a=\"b\"", 8, "expected ',' or '}' after a label matcher, found end of input");
	ERR("x{__name__=\"y\"} > 1", 3, "metric name given twice ('x' and __name__)");
	ERR("{__name__=\"\"} > 1", 11, "empty metric name");
	ERR("x $ 1", 3, "found '$'");
	ERR("x \x01 1", 3, "found byte 0x01");
	/* columns count characters, and lines restart them */
	ERR("x{a=\"\xc3\xa9\"} > 1 foo", 14, "unexpected 'foo'");
	ERR("rate(x[1m])\n  > foo", 5, "the right side of the comparison must be a number");
	{
		struct promql_expr *x = NULL;
		struct pt_error e = {0};

		CHECK_INT(promql_parse("rate(x[1m])\n  > foo", &x, &e), PT_SYNTAX);
		CHECK_INT(e.line, 2);
		CHECK_STR(e.file, "");
		CHECK_INT(promql_parse(NULL, &x, &e), PT_INVALID);
		CHECK(x == NULL);
		/* no error record is fine */
		CHECK_INT(promql_parse("x >", &x, NULL), PT_SYNTAX);
		CHECK_INT(promql_parse("x{a=~\"(\"} > 1", &x, NULL), PT_SYNTAX);
		CHECK(x == NULL);
	}
}

static void test_limits(void)
{
	char src[PROMQL_MAX_LEN + 64];
	struct promql_expr *x;
	size_t n;

	/* exactly the limit parses; one more byte does not */
	n = (size_t)snprintf(src, sizeof src, "x > 1");
	memset(src + n, ' ', PROMQL_MAX_LEN - n);
	src[PROMQL_MAX_LEN] = '\0';
	if ((x = OK(src)))
		promql_free(x);
	src[PROMQL_MAX_LEN] = ' ';
	src[PROMQL_MAX_LEN + 1] = '\0';
	ERR_LIMIT(src, PROMQL_MAX_LEN + 1, "expression is longer than 4096 bytes");

	/* 16 matchers, then 17 */
	n = (size_t)snprintf(src, sizeof src, "x{");
	for (int i = 0; i < PROMQL_MAX_MATCHERS; i++)
		n += (size_t)snprintf(src + n, sizeof src - n, "l%d=\"v\",", i);
	snprintf(src + n, sizeof src - n, "} > 1");
	if ((x = OK(src))) {
		CHECK_INT(x->root->sel.n_matchers, PROMQL_MAX_MATCHERS);
		promql_free(x);
	}
	snprintf(src + n, sizeof src - n, "l99=\"v\"} > 1");
	ERR_LIMIT(src, (int)n + 1, "more than 16 label matchers in one selector");

	/* 16 levels of nesting, then 17 */
	n = 0;
	for (int i = 0; i < PROMQL_MAX_DEPTH - 1; i++)
		n += (size_t)snprintf(src + n, sizeof src - n, "sum(");
	n += (size_t)snprintf(src + n, sizeof src - n, "rate(x[1m])");
	for (int i = 0; i < PROMQL_MAX_DEPTH - 1; i++)
		n += (size_t)snprintf(src + n, sizeof src - n, ")");
	snprintf(src + n, sizeof src - n, " > 1");
	if ((x = OK(src)))
		promql_free(x);
	n = 0;
	for (int i = 0; i < PROMQL_MAX_DEPTH; i++)
		n += (size_t)snprintf(src + n, sizeof src - n, "(");
	snprintf(src + n, sizeof src - n, "x%.*s > 1", PROMQL_MAX_DEPTH, "))))))))))))))))))))");
	ERR_LIMIT(src, PROMQL_MAX_DEPTH + 1, "expression nests deeper than 16 levels");

	/* grouping labels */
	n = (size_t)snprintf(src, sizeof src, "sum by (");
	for (int i = 0; i < PROMQL_MAX_GROUPING; i++)
		n += (size_t)snprintf(src + n, sizeof src - n, "l%d,", i);
	snprintf(src + n, sizeof src - n, ") (x) > 1");
	if ((x = OK(src))) {
		CHECK_INT(x->root->n_by, PROMQL_MAX_GROUPING);
		promql_free(x);
	}
	snprintf(src + n, sizeof src - n, "l99) (x) > 1");
	ERR_LIMIT(src, (int)n + 1, "more than 16 labels in one 'by' clause");
}

struct labels {
	const char *const *kv; /* name, value, ..., NULL */
};

static const char *get_label(void *ctx, const char *label)
{
	const struct labels *l = ctx;

	for (size_t i = 0; l->kv[i]; i += 2)
		if (strcmp(l->kv[i], label) == 0)
			return l->kv[i + 1];
	return NULL;
}

/* Whether the selector of src matches the label set name=value... */
static int sel_matches(const char *src, const char *const *kv)
{
	struct promql_expr *x = OK(src);
	struct labels l = {kv};
	int r = -1;

	if (x) {
		r = promql_selector_matches(&x->root->sel, get_label, &l);
		promql_free(x);
	}
	return r;
}

static void test_regex_matching(void)
{
	static const char *const eden[] = {"pool", "G1 Eden Space", "area", "heap", NULL};
	static const char *const xg1[] = {"pool", "xG1", NULL};
	static const char *const none[] = {NULL};
	static const char *const ab[] = {"a", "ab", NULL};
	static const char *const b[] = {"a", "b", NULL};
	static const char *const foobar[] = {"a", "foobar", NULL};
	static const char *const foo[] = {"a", "foo", NULL};
	static const char *const nl[] = {"a", "x\ny", NULL};
	static const char *const ac[] = {"a", "ac", NULL};
	static const char *const digits[] = {"a", "123", NULL};
	static const char *const inf[] = {"le", "+Inf", NULL};
	static const char *const upper[] = {"a", "FOO", NULL};

	CHECK_INT(sel_matches("x{pool=~\"G1.*\"} > 1", eden), 1);
	CHECK_INT(sel_matches("x{pool=~\"G1.*\"} > 1", xg1), 0);
	CHECK_INT(sel_matches("x{pool=~\"G1.*\", area=\"heap\"} > 1", eden), 1);
	CHECK_INT(sel_matches("x{pool=~\"G1.*\", area=\"nonheap\"} > 1", eden), 0);
	/* anchored at both ends, alternation included */
	CHECK_INT(sel_matches("x{a=~\"b\"} > 1", ab), 0);
	CHECK_INT(sel_matches("x{a=~\"b\"} > 1", b), 1);
	CHECK_INT(sel_matches("x{a=~\"foo|bar\"} > 1", foobar), 0);
	CHECK_INT(sel_matches("x{a=~\"foo|bar\"} > 1", foo), 1);
	CHECK_INT(sel_matches("x{a!~\"foo|bar\"} > 1", foobar), 1);
	CHECK_INT(sel_matches("x{a!~\"foo|bar\"} > 1", foo), 0);
	/* an absent label compares as "" */
	CHECK_INT(sel_matches("x{a!~\".+\"} > 1", none), 1);
	CHECK_INT(sel_matches("x{a=\"\"} > 1", none), 1);
	CHECK_INT(sel_matches("x{a!=\"\"} > 1", none), 0);
	CHECK_INT(sel_matches("x{a!=\"foo\"} > 1", foo), 0);
	CHECK_INT(sel_matches("x{a!=\"foo\"} > 1", b), 1);
	/* '.' matches a newline, as PromQL's (?s) does */
	CHECK_INT(sel_matches("x{a=~\"x.y\"} > 1", nl), 1);
	CHECK_INT(sel_matches("x{a=~\"(?:a|b)c\"} > 1", ac), 1);
	CHECK_INT(sel_matches("x{a=~\"[[:digit:]]+\"} > 1", digits), 1);
	CHECK_INT(sel_matches("x{a=~\"[0-9]{2,3}\"} > 1", digits), 1);
	CHECK_INT(sel_matches("x{a=~\"[0-9]{1,2}\"} > 1", digits), 0);
	CHECK_INT(sel_matches("x{a=~\"[^a]+\"} > 1", nl), 1);
	CHECK_INT(sel_matches("x{a=~\"[]a]*\"} > 1", none), 1);
	CHECK_INT(sel_matches("x{le=\"+Inf\"} > 1", inf), 1);
	CHECK_INT(sel_matches("x{le=~\"\\\\+Inf\"} > 1", inf), 1);
	CHECK_INT(sel_matches("x{a=~\"foo\"} > 1", upper), 0);
	CHECK_INT(sel_matches("x{a=~`f.o`} > 1", foo), 1);

	ERR("x{a=~\"(\"} > 1", 6, "invalid regex '(': missing ')'");
	ERR("x{a=~\"a)|(b\"} > 1", 6, "invalid regex 'a)|(b': unexpected ')'");
	ERR("x{a=~\"[[:foo:]]\"} > 1", 6, "invalid regex '[[:foo:]]': ");
	ERR("x{a=~\"[a\"} > 1", 6, "missing ']'");
	ERR("x{a=~\"(?i)foo\"} > 1", 6, "flags like (?i) are not supported");
	ERR("x{a=~\"(?P<n>a)\"} > 1", 6, "named groups are not supported");
	ERR("x{a=~\"\\\\d+\"} > 1", 6, "invalid regex '\\d+': '\\d' is RE2 syntax that POSIX reads as 'd'; write [0-9]");
	ERR("x{a=~\"\\\\w\"} > 1", 6, "write [[:alnum:]_]");
	ERR("x{a=~\"\\\\pL\"} > 1", 6, "only punctuation may be escaped");
	ERR("x{a=~\"[\\\\d]\"} > 1", 6, "a backslash inside [...] escapes in RE2 but is literal in POSIX");
	ERR("x{a=~\"a*?\"} > 1", 6, "non-greedy repeats");
	ERR("x{a=~\"a+?\"} > 1", 6, "non-greedy repeats");
	ERR("x{a=~\"a{2}?\"} > 1", 6, "non-greedy repeats");
	ERR("x{a=~\"a**\"} > 1", 6, "a repeat cannot be repeated");
	ERR("x{a=~\"*a\"} > 1", 6, "missing argument to repetition operator");
	ERR("x{a=~\"a|+\"} > 1", 6, "missing argument to repetition operator");
	ERR("x{a=~\"a{,3}\"} > 1", 6, "must be written '\\{'");
	ERR("x{a=~\"a{1001}\"} > 1", 6, "repeat counts must be at most 1000");
	ERR("x{a=~\"a{3,2}\"} > 1", 6, "repeat counts must be at most 1000 and in increasing order");
	ERR("x{a=~\"a{1\"} > 1", 6, "must be written '\\{'");
	ERR("x{a=~\"a\\\\\"} > 1", 6, "trailing backslash");
	ERR("x{a=~\"\xc3\xa9\"} > 1", 6, "non-ASCII characters are not supported");
	ERR("x{a=~\"[[.a.]]\"} > 1", 6, "collating elements");
	ERR("x{a!~\"(\"} > 1", 6, "invalid regex");
}

static void test_canonical_names(void)
{
	struct promql_expr *x;

	x = OK("jvm_memory_used_bytes{area=\"heap\"} > 1");
	if (x) {
		CHECK_STR(x->root->sel.metric, "jvm_memory_bytes_used");
		promql_free(x);
	}
	x = OK("jvm_memory_bytes_used{area=\"heap\"} > 1");
	if (x) {
		CHECK_STR(x->root->sel.metric, "jvm_memory_bytes_used");
		promql_free(x);
	}
	x = OK("max(jvm_runtime_info) > 0");
	if (x) {
		CHECK_STR(x->metrics[0], "jvm_info");
		promql_free(x);
	}
}

static void test_compare(void)
{
	CHECK(promql_compare(PROMQL_GT, 2, 1));
	CHECK(!promql_compare(PROMQL_GT, 1, 1));
	CHECK(promql_compare(PROMQL_GE, 1, 1));
	CHECK(promql_compare(PROMQL_LT, 0, 1));
	CHECK(!promql_compare(PROMQL_LT, 1, 1));
	CHECK(promql_compare(PROMQL_LE, 1, 1));
	CHECK(promql_compare(PROMQL_EQL, 1, 1));
	CHECK(promql_compare(PROMQL_NEQ, 1, 2));
	CHECK(!promql_compare(PROMQL_NEQ, 1, 1));
	CHECK(promql_compare(PROMQL_GT, INFINITY, 1e308));
	CHECK(promql_compare(PROMQL_EQL, INFINITY, INFINITY));
	for (int c = PROMQL_GT; c <= PROMQL_NEQ; c++) {
		CHECK(!promql_compare((enum promql_cmp)c, NAN, 1));
		CHECK(!promql_compare((enum promql_cmp)c, 1, NAN));
		CHECK(!promql_compare((enum promql_cmp)c, NAN, NAN));
	}
	promql_free(NULL);
}

/* Arbitrary bytes must give an error or a tree, never a crash (run this
 * under ASan to mean anything). */
static void test_garbage(void)
{
	static const char alphabet[] = "abx_:{}()[]=~!\"'`\\,.<>0123456789 \n+-eE#@sumbyratehistogram_quantile";
	char src[96];
	unsigned seed = 12345;
	int parsed = 0, failed = 0;

	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(i % 80);
		struct promql_expr *x = NULL;
		struct pt_error e = {0};

		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			src[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		src[n] = '\0';
		if (promql_parse(src, &x, &e) == PT_OK) {
			parsed++;
			promql_free(x);
		} else {
			failed++;
			if (e.col < 1 || !e.msg[0])
				TFAIL("\"%s\": error without a column or message", src);
		}
	}
	CHECK_INT(parsed + failed, 20000);
}

TEST_MAIN(test_design_examples, test_shapes, test_numbers, test_strings, test_durations, test_errors,
	  test_limits, test_regex_matching, test_canonical_names, test_compare, test_garbage)
