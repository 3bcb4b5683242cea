/* SPDX-License-Identifier: Apache-2.0 */
/* A small registry for the project's own /metrics pages, written in the
 * Prometheus text format 0.0.4. Series are registered once (allocation,
 * under a lock) and then updated from any thread with C11 atomics: no lock
 * and no allocation on update. Each series may carry one fixed label set.
 *
 *   static const char *const allowed[] = {"result", "allowed", NULL};
 *   struct metrics_counter *ok;
 *   if (metrics_counter_new(m, "podtuner_admissions_total",
 *                           "Admission requests answered.", allowed, &ok, &err)) ...
 *   metrics_counter_inc(ok);                 (any thread, any time)
 *   metrics_render(m, &page);                (HELP, TYPE, samples)
 */
#ifndef PT_METRICS_H
#define PT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define METRICS_NAME_MAX 128        /* metric and label names */
#define METRICS_HELP_MAX 512
#define METRICS_LABELS_MAX 8        /* label pairs per series */
#define METRICS_LABEL_VALUE_MAX 256 /* bytes of one label value */
#define METRICS_BUCKETS_MAX 32      /* histogram bounds, +Inf excluded */

/* The Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* A new, empty registry; NULL when out of memory. */
struct metrics *metrics_new(void);

/* Free the registry and every series in it; the series' handles die with
 * it. NULL is a no-op. */
void metrics_free(struct metrics *m);

/* Register a series. name is a Prometheus metric name; help (may be NULL)
 * is written as the family's HELP. labels is NULL or a NULL-terminated
 * list of name, value pairs: {"result", "allowed", NULL}. Registering a
 * name again with other labels adds a series to the same family (written
 * together, at the family's first place); its type must be the same, and
 * its help the same or NULL. All strings are copied. On success *out is a
 * handle owned by the registry; on failure (PT_INVALID for a bad name,
 * label or duplicate series, PT_LIMIT past a METRICS_* limit, PT_NOMEM)
 * err says why and *out is untouched. Safe to call from any thread. */
enum pt_code metrics_counter_new(struct metrics *m, const char *name, const char *help,
				 const char *const *labels, struct metrics_counter **out,
				 struct pt_error *err) PT_WUR;
enum pt_code metrics_gauge_new(struct metrics *m, const char *name, const char *help,
			       const char *const *labels, struct metrics_gauge **out,
			       struct pt_error *err) PT_WUR;

/* As above, with n_bounds upper bounds (strictly increasing, finite,
 * 1..METRICS_BUCKETS_MAX); the +Inf bucket is implicit. bounds is copied. */
enum pt_code metrics_histogram_new(struct metrics *m, const char *name, const char *help,
				   const char *const *labels, const double *bounds,
				   size_t n_bounds, struct metrics_histogram **out,
				   struct pt_error *err) PT_WUR;

/* A gauge that is always 1 and carries its facts in labels, such as
 * podtuner_build_info{version="..."} 1. */
enum pt_code metrics_info_new(struct metrics *m, const char *name, const char *help,
			      const char *const *labels, struct pt_error *err) PT_WUR;

/* Updates: lock-free, allocation-free, from any thread. A counter holds
 * whole increments exactly (as uint64) and fractional ones as a double;
 * negative or NaN additions to a counter are ignored, as are NaN
 * observations. */
void metrics_counter_inc(struct metrics_counter *c);
void metrics_counter_add(struct metrics_counter *c, uint64_t n);
void metrics_counter_add_dbl(struct metrics_counter *c, double v);
void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double v);
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/* Append the whole page to out: per family "# HELP", "# TYPE" and its
 * samples, families in registration order; label values and help escaped
 * as the format requires; histograms as cumulative _bucket lines ending in
 * le="+Inf", then _sum and _count (equal to the +Inf bucket). PT_LIMIT or
 * PT_NOMEM if out cannot hold it; out then holds a partial page. */
enum pt_code metrics_render(struct metrics *m, struct buf *out) PT_WUR;

#endif
