/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger evaluation: a parsed trigger expression (core/promql.h) over one
 * container's series in the store, at a given time, with Prometheus'
 * semantics (promql/functions.go, promql/quantile.go, promql/engine.go);
 * and the `for:` state machine of a Prometheus alerting rule. Pure: no
 * clock, no I/O, no allocation; now is always a parameter. */
#ifndef PT_EVAL_H
#define PT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/promql.h"
#include "series.h"

/* Why an evaluation has no data, for logs and metrics. */
enum eval_nodata {
	EVAL_HAS_DATA,
	EVAL_NO_CONTAINER, /* nothing recorded for the container */
	EVAL_NO_SERIES,    /* no series of the metric matches the selector */
	EVAL_STALE,        /* series exist but none has a current value */
	EVAL_TOO_FEW,      /* no series has enough samples in the window (rate needs 2) */
	EVAL_NO_BUCKETS,   /* histogram_quantile found no bucket with a readable 'le' */
};

struct eval_result {
	bool has_data;
	bool firing;        /* some element passes the comparison now (before `for:`) */
	double value;       /* for display: the first passing element, else the one
			     * nearest to passing; NaN without data */
	size_t n;           /* elements in the result vector */
	enum eval_nodata why;
	const char *metric; /* the selector's metric (borrowed from the expression) */
};

/* Evaluate x for container key at now_ms. x should be one of the triggers
 * the store was built from: other metrics have no series, and longer
 * ranges than the store keeps see only what it keeps. Uses about 30 KiB of
 * stack and no heap. An element passes if its value
 * compares true with the threshold (NaN never does), and the expression is
 * firing if any element passes, as a Prometheus alert would have an active
 * element. No data is never firing; *out says why. Semantics:
 *  - instant selector: each series' value in the container's newest slot,
 *    within the store's lookback (series_latest);
 *  - rate/increase/delta: Prometheus' extrapolatedRate (counter resets,
 *    extrapolation to the window's edges unless a sample is missing there,
 *    never below a counter's zero point);
 *  - *_over_time: over the samples in (now - range, now], Kahan-summed as
 *    Prometheus does (avg switches to an incremental mean only on overflow
 *    in Prometheus; here the sum simply overflows to Inf);
 *  - histogram_quantile: bucketQuantile per label set without 'le';
 *  - sum/avg (Kahan), max/min (NaN loses) with by/without. */
void eval_expr(const struct series_store *s, const char *key, const struct promql_expr *x, int64_t now_ms,
	       struct eval_result *out);

/* "no series", "too few samples in the window", ...; never NULL. */
const char *eval_nodata_text(enum eval_nodata why);

/* One line for a log: "0.0123 > 0.008: firing", or "no data for
 * 'go_gc_pauses_seconds_bucket': too few samples in the window". Returns
 * buf (always NUL-terminated when len > 0). */
const char *eval_describe(const struct eval_result *r, const struct promql_expr *x, char *buf, size_t len);

/* A trigger's `for:` state, as a Prometheus alerting rule keeps it. Zero is
 * inactive. */
enum eval_phase { EVAL_INACTIVE, EVAL_PENDING, EVAL_FIRING };

struct eval_trigger {
	enum eval_phase phase;
	int64_t active_ms; /* when the condition started to hold (pending since) */
	int64_t fired_ms;  /* when it turned firing */
};

/* Advance t by one evaluation: cond true at now_ms makes an inactive
 * trigger pending, and a trigger pending for at least for_ms firing (at
 * once when for_ms is 0). cond false (no data included) makes it inactive
 * from any phase: pending is forgotten and firing clears at the first false
 * evaluation (Prometheus' keep_firing_for is not offered). Returns the new
 * phase. */
enum eval_phase eval_trigger_step(struct eval_trigger *t, bool cond, int64_t now_ms, uint64_t for_ms);

const char *eval_phase_name(enum eval_phase p);

#endif
