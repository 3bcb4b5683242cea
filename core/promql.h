/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger expressions: a small PromQL subset over one container's series.
 *
 *   expr     := vector cmp number
 *   vector   := selector
 *             | rangefn '(' selector '[' duration ']' ')'
 *             | 'histogram_quantile' '(' number ',' vector ')'
 *             | agg [by_clause] '(' vector ')' [by_clause]
 *             | '(' vector ')'
 *   rangefn  := rate | increase | avg_over_time | max_over_time
 *             | min_over_time | sum_over_time | delta
 *   agg      := sum | max | min | avg
 *   by_clause:= ('by' | 'without') '(' [label {',' label} [',']] ')'
 *   selector := name ['{' [matcher {',' matcher} [',']] '}']
 *             | '{' matcher {',' matcher} [','] '}'
 *   matcher  := label ('=' | '!=' | '=~' | '!~') string
 *   cmp      := '>' | '>=' | '<' | '<=' | '==' | '!='
 *
 * Strings are "double" or 'single' quoted with Go escapes, or `raw`;
 * durations are Prometheus' (y w d h m s ms, largest first); numbers are
 * PromQL's (ints, floats, exponents, 0x hex, a leading 0 means octal, '_'
 * between digits, Inf, NaN, a sign). Function names are case-sensitive,
 * aggregators and by/without are not, as in PromQL. Regexes are anchored
 * (as in PromQL) and compiled as POSIX extended; RE2-only syntax that POSIX
 * would read differently is refused. Metric names are stored canonical
 * (promtext_canonical_name). The parser checks everything a policy file can
 * get wrong; evaluation lives in the node agent (rebalancer/eval).
 *
 * The tree is a chain: AGG and QUANTILE nodes have an arg; SELECTOR and
 * RANGE_FN nodes are the leaves and hold the selector. */
#ifndef PT_PROMQL_H
#define PT_PROMQL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Named limits on what one expression may contain. */
#define PROMQL_MAX_LEN 4096
#define PROMQL_MAX_DEPTH 16
#define PROMQL_MAX_MATCHERS 16 /* per selector */
#define PROMQL_MAX_GROUPING 16 /* labels in one by/without clause */
#define PROMQL_MAX_RANGE_MS (24ULL * 3600 * 1000)

enum promql_match_op { PROMQL_EQ, PROMQL_NE, PROMQL_RE, PROMQL_NRE };

struct promql_matcher {
	char *label;
	enum promql_match_op op;
	char *value;
	regex_t re; /* compiled for PROMQL_RE / PROMQL_NRE only */
};

/* A matcher on __name__ other than '=' stays a matcher and is compared with
 * the canonical name, so get("__name__") must return that. */
struct promql_selector {
	char *metric; /* canonical name (promtext_canonical_name); NULL if only matchers */
	struct promql_matcher *matchers;
	size_t n_matchers;
	uint64_t range_ms; /* 0 for an instant selector */
};

enum promql_kind { PROMQL_SELECTOR, PROMQL_RANGE_FN, PROMQL_AGG, PROMQL_QUANTILE };

enum promql_fn {
	PROMQL_RATE,
	PROMQL_INCREASE,
	PROMQL_DELTA,
	PROMQL_AVG_OVER_TIME,
	PROMQL_MAX_OVER_TIME,
	PROMQL_MIN_OVER_TIME,
	PROMQL_SUM_OVER_TIME,
};

enum promql_agg { PROMQL_SUM, PROMQL_MAX, PROMQL_MIN, PROMQL_AVG };

enum promql_cmp { PROMQL_GT, PROMQL_GE, PROMQL_LT, PROMQL_LE, PROMQL_EQL, PROMQL_NEQ };

struct promql_node {
	enum promql_kind kind;
	int col; /* 1-based column in the source, for messages */
	struct promql_selector sel;   /* SELECTOR, RANGE_FN */
	enum promql_fn fn;            /* RANGE_FN */
	enum promql_agg agg;          /* AGG */
	char **by;                    /* AGG: grouping labels */
	size_t n_by;
	bool without;                 /* AGG: `without` instead of `by` */
	double quantile;              /* QUANTILE */
	struct promql_node *arg;      /* AGG, QUANTILE */
};

struct promql_expr {
	char *src;
	struct promql_node *root;
	enum promql_cmp cmp;
	double threshold;
	uint64_t max_range_ms; /* longest range any selector asks for */
	char **metrics;        /* distinct canonical metric names referenced */
	size_t n_metrics;
};

/* Parse src (NUL-terminated, at most PROMQL_MAX_LEN bytes). On success
 * *out is a heap object that is yours to promql_free. On failure returns
 * PT_SYNTAX, PT_LIMIT (a PROMQL_MAX_* limit), PT_INVALID (src NULL) or
 * PT_NOMEM; e->col is the 1-based column (in characters) of the problem,
 * e->line its 1-based line within src (1 unless src spans lines), e->file
 * is empty, and e->msg says what was expected there ("expected ']' after
 * range duration, found ')'"); *out is untouched. */
enum pt_code promql_parse(const char *src, struct promql_expr **out, struct pt_error *e) PT_WUR;

/* Free x and everything it holds. NULL is a no-op. */
void promql_free(struct promql_expr *x);

/* Whether a label set satisfies every matcher of sel (the metric name is
 * compared by the caller). get returns the value of a label or NULL for an
 * absent one, which compares as "". */
bool promql_selector_matches(const struct promql_selector *sel,
			     const char *(*get)(void *ctx, const char *label), void *ctx);

/* Apply a comparison: v cmp threshold. NaN on either side never compares
 * true, '!=' included. */
bool promql_compare(enum promql_cmp cmp, double v, double threshold);

#endif
