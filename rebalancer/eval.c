/* SPDX-License-Identifier: Apache-2.0 */
/* The evaluator walks the expression's chain from the leaf up, keeping one
 * vector of elements on the stack: each element is a value and a
 * representative series whose labels, seen through the label filters of
 * the nodes below (a range function drops __name__, histogram_quantile
 * drops le, by/without keep their lists), are the element's labels. So no
 * label set is ever copied, and an evaluation allocates nothing. */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/promtext.h"
#include "../core/text.h"

/* promql/quantile.go smallDeltaTolerance: bucket counts closer than this
 * (relatively) are taken as equal, floating point noise from rate(). */
#define SMALL_DELTA_TOLERANCE 1e-12

#define CHAIN_MAX 64

struct elem {
	double v;
	const struct series *rep;
	uint64_t gh;   /* group hash */
	double le;     /* histogram_quantile: the bucket's upper bound */
	uint32_t group;
	uint32_t idx;  /* order of arrival, for stable sums */
};

struct bucket {
	double upper, count;
};

struct ev {
	const struct series_store *s;
	const struct series_container *c;
	int64_t now;
	const struct promql_node *chain[CHAIN_MAX]; /* chain[0] is the leaf */
	size_t depth;
	struct elem e[SERIES_MAX_PER_CONTAINER];
	size_t n;
	uint32_t first[SERIES_MAX_PER_CONTAINER]; /* the first element of each group */
	struct bucket b[SERIES_MAX_PER_CONTAINER];
};

/* ---- labels through the filters ------------------------------------------ */

static bool in_list(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

static bool keeps(const struct promql_node *nd, const char *name)
{
	bool is_name = strcmp(name, "__name__") == 0;

	switch (nd->kind) {
	case PROMQL_SELECTOR:
		return true;
	case PROMQL_RANGE_FN:
		return !is_name;
	case PROMQL_QUANTILE:
		return !is_name && strcmp(name, "le") != 0;
	case PROMQL_AGG:
		if (nd->without)
			return !is_name && !in_list(nd->by, nd->n_by, name);
		return in_list(nd->by, nd->n_by, name);
	}
	return false;
}

/* The value of label name of e as seen after chain[0..level). */
static const char *lget(const struct ev *ev, const struct elem *e, size_t level, const char *name)
{
	for (size_t j = 0; j < level; j++)
		if (!keeps(ev->chain[j], name))
			return NULL;
	return series_label(ev->s, e->rep, name);
}

/* The i-th label (i = 0 is __name__) of e's representative, visible after
 * chain[0..level), or false past the last label. *name is NULL for a label
 * that is filtered out. */
static bool label_at(const struct ev *ev, const struct elem *e, size_t level, size_t i, const char **name,
		     const char **value)
{
	if (i == 0) {
		*name = "__name__";
		*value = series_label(ev->s, e->rep, *name);
	} else if (!series_label_at(e->rep, i - 1, name, value)) {
		return false;
	}
	for (size_t j = 0; j < level; j++)
		if (!keeps(ev->chain[j], *name)) {
			*name = NULL;
			break;
		}
	return true;
}

static uint64_t group_hash(const struct ev *ev, const struct elem *e, size_t level)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const char *n, *v;

	/* Labels come in a fixed order (__name__, then by name), so equal
	 * label sets hash alike. */
	for (size_t i = 0; label_at(ev, e, level, i, &n, &v); i++)
		if (n)
			h = text_fnv1a(text_fnv1a(h, n, strlen(n) + 1), v, strlen(v) + 1);
	return h;
}

static bool same_group(const struct ev *ev, const struct elem *a, const struct elem *b, size_t level)
{
	size_t na = 0, nb = 0;
	const char *n, *v;

	for (size_t i = 0; label_at(ev, a, level, i, &n, &v); i++) {
		const char *w;

		if (!n)
			continue;
		na++;
		if (!(w = lget(ev, b, level, n)) || strcmp(v, w) != 0)
			return false;
	}
	for (size_t i = 0; label_at(ev, b, level, i, &n, &v); i++)
		nb += n != NULL;
	return na == nb;
}

/* Number the groups of e[0..n) by their labels after chain[0..level). */
static void assign_groups(struct ev *ev, size_t level)
{
	size_t ng = 0;

	for (size_t i = 0; i < ev->n; i++) {
		struct elem *e = &ev->e[i];
		size_t g;

		e->gh = group_hash(ev, e, level);
		for (g = 0; g < ng; g++) {
			const struct elem *f = &ev->e[ev->first[g]];

			if (f->gh == e->gh && same_group(ev, f, e, level))
				break;
		}
		if (g == ng)
			ev->first[ng++] = (uint32_t)i;
		e->group = (uint32_t)g;
	}
}

static int by_group(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->le != b->le)
		return a->le < b->le ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* ---- arithmetic as Prometheus does it -------------------------------------- */

/* Kahan-Neumaier summation step (util/kahansum in Prometheus). */
static void kahan_inc(double inc, double *sum, double *c)
{
	double t = *sum + inc;

	if (isinf(t))
		*c = 0;
	else if (fabs(*sum) >= fabs(inc))
		*c += (*sum - t) + inc;
	else
		*c += (inc - t) + *sum;
	*sum = t;
}

static double kahan_result(double sum, double c)
{
	return isinf(sum) ? sum : sum + c;
}

/* util/almost.Equal */
static bool almost_equal(double a, double b, double eps)
{
	const double min_normal = 2.2250738585072014e-308;
	double sum, diff;

	if (a == b)
		return true;
	sum = fabs(a) + fabs(b);
	diff = fabs(a - b);
	if (a == 0 || b == 0 || sum < min_normal)
		return diff < eps * min_normal;
	return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

/* promql/quantile.go BucketQuantile, for buckets already sorted by upper
 * bound: equal bounds are merged, a highest bucket other than +Inf gives
 * NaN, counts are made monotonic (ignoring relative differences below
 * 1e-12 in either direction), no observations give NaN; the quantile is
 * interpolated linearly within its bucket, from 0 in the lowest bucket if
 * its bound is positive; a quantile in the +Inf bucket is the highest
 * finite bound. */
static double bucket_quantile(double q, struct bucket *b, size_t n)
{
	size_t m = 0, i;
	double prev, obs, rank, start = 0, count;

	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (!n || !isinf(b[n - 1].upper) || b[n - 1].upper < 0)
		return NAN;
	for (i = 1; i < n; i++) {
		if (b[i].upper == b[m].upper) {
			b[m].count += b[i].count;
		} else {
			b[++m] = b[i];
		}
	}
	n = m + 1;
	prev = b[0].count;
	for (i = 1; i < n; i++) {
		double cur = b[i].count;

		if (cur == prev)
			continue;
		/* Neither branch moves prev: the corrected count is prev. */
		if (almost_equal(prev, cur, SMALL_DELTA_TOLERANCE) || cur < prev) {
			b[i].count = prev;
			continue;
		}
		prev = cur;
	}
	if (n < 2)
		return NAN;
	obs = b[n - 1].count;
	if (obs == 0)
		return NAN;
	rank = q * obs;
	/* sort.Search over all but the +Inf bucket. */
	for (i = 0; i < n - 1 && !(b[i].count >= rank); i++)
		;
	if (i == n - 1)
		return b[n - 2].upper;
	if (i == 0 && b[0].upper <= 0)
		return b[0].upper;
	count = b[i].count;
	if (i > 0) {
		start = b[i - 1].upper;
		count -= b[i - 1].count;
		rank -= b[i - 1].count;
	}
	return start + (b[i].upper - start) * (rank / count);
}

/* ---- the leaf: selectors and range functions ------------------------------- */

struct range_acc {
	size_t n;
	int64_t t0, t1;
	double v0, v1, resets;
	double sum, c, min, max;
};

static void acc_sample(struct range_acc *a, int64_t t, double v)
{
	if (!a->n) {
		a->t0 = t;
		a->v0 = v;
		a->min = a->max = v;
	} else {
		if (v < a->v1)
			a->resets += a->v1; /* a counter reset: it restarted from 0 */
		if (v > a->max || isnan(a->max))
			a->max = v;
		if (v < a->min || isnan(a->min))
			a->min = v;
	}
	kahan_inc(v, &a->sum, &a->c);
	a->t1 = t;
	a->v1 = v;
	a->n++;
}

/* promql/functions.go extrapolatedRate, float samples only. */
static bool extrapolated_rate(const struct range_acc *a, int64_t start, int64_t end, uint64_t range_ms,
			      bool counter, bool rate, double *out)
{
	double result, to_start, to_end, sampled, avg, threshold, factor;

	if (a->n < 2)
		return false;
	result = a->v1 - a->v0 + (counter ? a->resets : 0);
	to_start = (double)(a->t0 - start) / 1000;
	to_end = (double)(end - a->t1) / 1000;
	sampled = (double)(a->t1 - a->t0) / 1000;
	avg = sampled / (double)(a->n - 1);
	/* Extrapolate to an edge only if a sample could be missing there;
	 * otherwise assume the series starts or ends half an interval out. */
	threshold = avg * 1.1;
	if (to_start >= threshold)
		to_start = avg / 2;
	if (counter && result > 0 && a->v0 >= 0) {
		/* A counter does not go below zero: stop where it would. */
		double to_zero = sampled * (a->v0 / result);

		if (to_zero < to_start)
			to_start = to_zero;
	}
	if (to_end >= threshold)
		to_end = avg / 2;
	if (sampled <= 0)
		return false;
	factor = (sampled + to_start + to_end) / sampled;
	if (rate)
		factor /= (double)range_ms / 1000;
	*out = result * factor;
	return true;
}

static bool range_value(const struct ev *ev, const struct promql_node *nd, const struct series *sr, double *v)
{
	struct range_acc a = {0};
	struct series_iter it;
	int64_t start = ev->now - (int64_t)nd->sel.range_ms, t;
	double x;

	series_range(ev->s, ev->c, sr, start, ev->now, &it);
	while (series_next(&it, &t, &x))
		acc_sample(&a, t, x);
	switch (nd->fn) {
	case PROMQL_RATE:
		return extrapolated_rate(&a, start, ev->now, nd->sel.range_ms, true, true, v);
	case PROMQL_INCREASE:
		return extrapolated_rate(&a, start, ev->now, nd->sel.range_ms, true, false, v);
	case PROMQL_DELTA:
		return extrapolated_rate(&a, start, ev->now, nd->sel.range_ms, false, false, v);
	case PROMQL_AVG_OVER_TIME:
		/* kahan_inc zeroes c once the sum overflows. */
		if (a.n)
			*v = a.sum / (double)a.n + a.c / (double)a.n;
		return a.n > 0;
	case PROMQL_SUM_OVER_TIME:
		if (a.n)
			*v = kahan_result(a.sum, a.c);
		return a.n > 0;
	case PROMQL_MAX_OVER_TIME:
		if (a.n)
			*v = a.max;
		return a.n > 0;
	case PROMQL_MIN_OVER_TIME:
		if (a.n)
			*v = a.min;
		return a.n > 0;
	}
	return false;
}

struct leaf_ctx {
	struct ev *ev;
	const struct promql_node *nd;
};

static bool leaf_each(void *ctx, const struct series *sr)
{
	struct leaf_ctx *lc = ctx;
	struct ev *ev = lc->ev;
	double v;
	bool ok;

	if (ev->n == SERIES_MAX_PER_CONTAINER)
		return false;
	if (lc->nd->kind == PROMQL_RANGE_FN)
		ok = range_value(ev, lc->nd, sr, &v);
	else
		ok = series_latest(ev->s, ev->c, sr, ev->now, &v);
	if (ok) {
		struct elem *e = &ev->e[ev->n];

		e->v = v;
		e->rep = sr;
		e->idx = (uint32_t)ev->n++;
	}
	return true;
}

/* ---- inner nodes ------------------------------------------------------------ */

static bool parse_le(const char *s, double *out)
{
	char *end;
	double v;

	/* strconv.ParseFloat as Prometheus uses it: the whole value, no
	 * leading blanks. A NaN bound cannot be ordered, so it is refused. */
	if (!s || !*s || *s == ' ' || *s == '\t')
		return false;
	v = strtod(s, &end);
	if (*end || isnan(v))
		return false;
	*out = v;
	return true;
}

/* chain[k] is histogram_quantile; its input is at level k. */
static void quantile_node(struct ev *ev, size_t k)
{
	const struct promql_node *nd = ev->chain[k];
	size_t n = 0, out = 0;

	/* promql/functions.go: a bucket whose 'le' does not parse is left out. */
	for (size_t i = 0; i < ev->n; i++)
		if (parse_le(lget(ev, &ev->e[i], k, "le"), &ev->e[i].le))
			ev->e[n++] = ev->e[i];
	ev->n = n;
	assign_groups(ev, k + 1);
	qsort(ev->e, ev->n, sizeof ev->e[0], by_group);
	for (size_t i = 0; i < ev->n;) {
		size_t j = i, m = 0;

		for (; j < ev->n && ev->e[j].group == ev->e[i].group; j++) {
			ev->b[m].upper = ev->e[j].le;
			ev->b[m].count = ev->e[j].v;
			m++;
		}
		ev->e[out] = ev->e[i];
		ev->e[out].v = bucket_quantile(nd->quantile, ev->b, m);
		ev->e[out].idx = (uint32_t)out;
		out++;
		i = j;
	}
	ev->n = out;
}

/* chain[k] is an aggregation; its input is at level k. */
static void agg_node(struct ev *ev, size_t k)
{
	const struct promql_node *nd = ev->chain[k];
	size_t out = 0;

	for (size_t i = 0; i < ev->n; i++)
		ev->e[i].le = 0;
	assign_groups(ev, k + 1);
	qsort(ev->e, ev->n, sizeof ev->e[0], by_group);
	for (size_t i = 0; i < ev->n;) {
		double sum = 0, c = 0, v = ev->e[i].v;
		size_t j = i;

		for (; j < ev->n && ev->e[j].group == ev->e[i].group; j++) {
			double x = ev->e[j].v;

			kahan_inc(x, &sum, &c);
			if (nd->agg == PROMQL_MAX && (x > v || isnan(v)))
				v = x;
			if (nd->agg == PROMQL_MIN && (x < v || isnan(v)))
				v = x;
		}
		if (nd->agg == PROMQL_SUM)
			v = kahan_result(sum, c);
		else if (nd->agg == PROMQL_AVG)
			v = kahan_result(sum, c) / (double)(j - i);
		ev->e[out] = ev->e[i];
		ev->e[out].v = v;
		ev->e[out].idx = (uint32_t)out;
		out++;
		i = j;
	}
	ev->n = out;
}

/* ---- the expression --------------------------------------------------------- */

static void finish(struct eval_result *r, const struct promql_expr *x, const struct ev *ev)
{
	bool want_max = x->cmp == PROMQL_GT || x->cmp == PROMQL_GE;
	bool want_min = x->cmp == PROMQL_LT || x->cmp == PROMQL_LE;

	r->has_data = true;
	r->why = EVAL_HAS_DATA;
	r->n = ev->n;
	r->value = NAN;
	for (size_t i = 0; i < ev->n; i++) {
		double v = ev->e[i].v;

		if (promql_compare(x->cmp, v, x->threshold)) {
			r->firing = true;
			r->value = v;
			return;
		}
		if (isnan(r->value) || (want_max && v > r->value) || (want_min && v < r->value))
			r->value = v;
	}
}

void eval_expr(const struct series_store *s, const char *key, const struct promql_expr *x, int64_t now_ms,
	       struct eval_result *out)
{
	struct ev ev;
	const struct promql_node *leaf;
	struct leaf_ctx lc;
	size_t matched;

	memset(out, 0, sizeof *out);
	out->value = NAN;
	out->why = EVAL_NO_CONTAINER;
	if (!s || !x || !x->root)
		return;
	ev.s = s;
	ev.now = now_ms;
	ev.n = 0;
	ev.depth = 0;
	for (const struct promql_node *nd = x->root; nd && ev.depth < CHAIN_MAX; nd = nd->arg)
		ev.chain[ev.depth++] = nd;
	/* Leaf first. */
	for (size_t i = 0; i < ev.depth / 2; i++) {
		const struct promql_node *t = ev.chain[i];

		ev.chain[i] = ev.chain[ev.depth - 1 - i];
		ev.chain[ev.depth - 1 - i] = t;
	}
	leaf = ev.chain[0];
	out->metric = leaf->sel.metric;
	if (!(ev.c = series_find(s, key)))
		return;
	lc.ev = &ev;
	lc.nd = leaf;
	matched = series_select(s, ev.c, &leaf->sel, leaf_each, &lc);
	if (!matched) {
		out->why = EVAL_NO_SERIES;
		return;
	}
	if (!ev.n) {
		out->why = leaf->kind == PROMQL_RANGE_FN ? EVAL_TOO_FEW : EVAL_STALE;
		return;
	}
	for (size_t k = 1; k < ev.depth; k++) {
		if (ev.chain[k]->kind == PROMQL_QUANTILE) {
			quantile_node(&ev, k);
			if (!ev.n) {
				out->why = EVAL_NO_BUCKETS;
				return;
			}
		} else if (ev.chain[k]->kind == PROMQL_AGG) {
			agg_node(&ev, k);
		}
	}
	finish(out, x, &ev);
}

const char *eval_nodata_text(enum eval_nodata why)
{
	switch (why) {
	case EVAL_HAS_DATA: return "has data";
	case EVAL_NO_CONTAINER: return "nothing recorded for the container";
	case EVAL_NO_SERIES: return "no series matches";
	case EVAL_STALE: return "no current value (stale)";
	case EVAL_TOO_FEW: return "too few samples in the window";
	case EVAL_NO_BUCKETS: return "no bucket with a readable 'le' label";
	}
	return "unknown";
}

static const char *cmp_text(enum promql_cmp c)
{
	static const char *const t[] = {">", ">=", "<", "<=", "==", "!="};

	return (unsigned)c < sizeof t / sizeof t[0] ? t[c] : "?";
}

const char *eval_describe(const struct eval_result *r, const struct promql_expr *x, char *buf, size_t len)
{
	char v[48], th[48];

	if (!len)
		return buf;
	if (!r->has_data) {
		snprintf(buf, len, "no data for '%s': %s", r->metric ? r->metric : "?", eval_nodata_text(r->why));
		return buf;
	}
	promtext_format_value(v, sizeof v, r->value);
	promtext_format_value(th, sizeof th, x ? x->threshold : NAN);
	snprintf(buf, len, "%s %s %s: %s", v, x ? cmp_text(x->cmp) : "?", th,
		 r->firing ? "firing" : "not firing");
	return buf;
}

enum eval_phase eval_trigger_step(struct eval_trigger *t, bool cond, int64_t now_ms, uint64_t for_ms)
{
	if (!cond) {
		t->phase = EVAL_INACTIVE;
		t->active_ms = t->fired_ms = 0;
		return t->phase;
	}
	if (t->phase == EVAL_INACTIVE) {
		t->phase = EVAL_PENDING;
		t->active_ms = now_ms;
	}
	/* rules/alerting.go: pending turns firing once ts - ActiveAt >=
	 * holdDuration, in the same evaluation when that is 0. */
	if (t->phase == EVAL_PENDING && now_ms >= t->active_ms &&
	    (uint64_t)(now_ms - t->active_ms) >= for_ms) {
		t->phase = EVAL_FIRING;
		t->fired_ms = now_ms;
	}
	return t->phase;
}

const char *eval_phase_name(enum eval_phase p)
{
	switch (p) {
	case EVAL_INACTIVE: return "inactive";
	case EVAL_PENDING: return "pending";
	case EVAL_FIRING: return "firing";
	}
	return "unknown";
}
