/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus registry. Families and series form append-only lists guarded
 * by one mutex (registration and rendering); values are atomics that the
 * hot path updates without the mutex. Doubles live in _Atomic uint64_t as
 * their bit patterns, added to with a compare-and-swap loop. Label sets
 * and help are escaped once, at registration. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct series {
	struct series *next;
	char *labels; /* `a="b",c="d"`, escaped; "" when none */
};

struct metrics_counter {
	struct series s;
	atomic_uint_fast64_t n;     /* whole increments */
	_Atomic uint64_t frac;      /* double bits: fractional additions */
};

struct metrics_gauge {
	struct series s;
	_Atomic uint64_t bits;      /* double bits */
};

struct metrics_histogram {
	struct series s;
	size_t n;                   /* bounds, +Inf excluded */
	double bounds[METRICS_BUCKETS_MAX];
	_Atomic uint64_t sum;       /* double bits */
	atomic_uint_fast64_t counts[METRICS_BUCKETS_MAX + 1]; /* per bucket, not cumulative */
};

struct family {
	struct family *next;
	enum kind kind;
	char *name;
	char *help; /* escaped; NULL when none was given */
	struct series *first, **tail;
};

struct metrics {
	pthread_mutex_t lock;
	struct family *first, **tail;
};

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof d);
	return d;
}

static uint64_t to_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof b);
	return b;
}

static void add_dbl(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, to_bits(from_bits(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->first;
	return m;
}

void metrics_free(struct metrics *m)
{
	struct family *f, *fn;
	struct series *s, *sn;

	if (!m)
		return;
	for (f = m->first; f; f = fn) {
		fn = f->next;
		for (s = f->first; s; s = sn) {
			sn = s->next;
			free(s->labels);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static bool name_ok(const char *n, bool metric)
{
	size_t len = strlen(n);

	if (len == 0 || len > METRICS_NAME_MAX || (n[0] >= '0' && n[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (metric && c == ':')))
			return false;
	}
	/* names starting with __ are reserved for Prometheus' own use */
	return metric || strncmp(n, "__", 2) != 0;
}

/* Escape for HELP (esc_quote false) or a label value (true). */
static enum pt_code put_escaped(struct buf *b, const char *s, bool esc_quote)
{
	enum pt_code rc = PT_OK;

	for (; *s && !rc; s++) {
		if (*s == '\\')
			rc = buf_puts(b, "\\\\");
		else if (*s == '\n')
			rc = buf_puts(b, "\\n");
		else if (*s == '"' && esc_quote)
			rc = buf_puts(b, "\\\"");
		else
			rc = buf_putc(b, *s);
	}
	return rc;
}

/* Validate and render a label set as `a="b",c="d"`; *out is heap. */
static enum pt_code render_labels(const char *name, const char *const *labels, bool histogram,
				  char **out, struct pt_error *err)
{
	struct buf b;
	enum pt_code rc = PT_OK;
	size_t n = 0, len;

	buf_init(&b, METRICS_LABELS_MAX * (METRICS_NAME_MAX + 2 * METRICS_LABEL_VALUE_MAX + 4));
	for (; labels && labels[0]; labels += 2, n++) {
		if (n == METRICS_LABELS_MAX) {
			rc = pt_error_set(err, PT_LIMIT, "metric '%s' has more than %d labels", name,
					  METRICS_LABELS_MAX);
			goto out;
		}
		if (!labels[1]) {
			rc = pt_error_set(err, PT_INVALID, "label '%s' of metric '%s' has no value",
					  labels[0], name);
			goto out;
		}
		if (!name_ok(labels[0], false) || (histogram && strcmp(labels[0], "le") == 0)) {
			rc = pt_error_set(err, PT_INVALID, "invalid label name '%s' for metric '%s'",
					  labels[0], name);
			goto out;
		}
		for (const char *const *p = labels - 2 * n; p < labels; p += 2)
			if (strcmp(p[0], labels[0]) == 0) {
				rc = pt_error_set(err, PT_INVALID, "label '%s' of metric '%s' is given twice",
						  labels[0], name);
				goto out;
			}
		len = strlen(labels[1]);
		if (len > METRICS_LABEL_VALUE_MAX) {
			rc = pt_error_set(err, PT_LIMIT, "value of label '%s' of metric '%s' exceeds %d bytes",
					  labels[0], name, METRICS_LABEL_VALUE_MAX);
			goto out;
		}
		if ((n && (rc = buf_putc(&b, ','))) || (rc = buf_puts(&b, labels[0])) ||
		    (rc = buf_puts(&b, "=\"")) || (rc = put_escaped(&b, labels[1], true)) ||
		    (rc = buf_putc(&b, '"'))) {
			rc = pt_error_set(err, rc, "cannot register metric '%s': %s", name, pt_strerror(rc));
			goto out;
		}
	}
	*out = buf_detach(&b, NULL);
	if (!*out)
		rc = pt_error_set(err, PT_NOMEM, "cannot register metric '%s': out of memory", name);
out:
	buf_release(&b);
	return rc;
}

/* Add a series of size bytes (struct series first) to the family name,
 * creating the family. The series is zeroed, and for a histogram its
 * bounds are in place before anyone can see it. */
static enum pt_code add_series(struct metrics *m, enum kind kind, const char *name,
			       const char *help, const char *const *labels, size_t size,
			       const double *bounds, size_t n_bounds, struct series **out,
			       struct pt_error *err)
{
	struct family *f, *nf = NULL;
	struct series *s = NULL;
	char *lab = NULL, *esc_help = NULL;
	enum pt_code rc;

	if (!name || !name_ok(name, true))
		return pt_error_set(err, PT_INVALID, "invalid metric name '%s'", name ? name : "(null)");
	if (help && strlen(help) > METRICS_HELP_MAX)
		return pt_error_set(err, PT_LIMIT, "help of metric '%s' exceeds %d bytes", name,
				    METRICS_HELP_MAX);
	if ((rc = render_labels(name, labels, kind == K_HISTOGRAM, &lab, err)) || !lab)
		return rc ? rc : PT_NOMEM;
	if (help) {
		struct buf b;

		buf_init(&b, 2 * METRICS_HELP_MAX);
		if (put_escaped(&b, help, false) || !(esc_help = buf_detach(&b, NULL))) {
			buf_release(&b);
			rc = pt_error_set(err, PT_NOMEM, "cannot register metric '%s': out of memory", name);
			goto out;
		}
	}
	s = calloc(1, size);
	if (!s) {
		rc = pt_error_set(err, PT_NOMEM, "cannot register metric '%s': out of memory", name);
		goto out;
	}
	if (kind == K_HISTOGRAM) {
		struct metrics_histogram *h = (struct metrics_histogram *)s;

		memcpy(h->bounds, bounds, n_bounds * sizeof *bounds);
		h->n = n_bounds;
	}
	pthread_mutex_lock(&m->lock);
	for (f = m->first; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f) {
		if (f->kind != kind) {
			rc = pt_error_set(err, PT_INVALID, "metric '%s' is already registered as a %s",
					  name, kind_names[f->kind]);
			goto unlock;
		}
		if (esc_help && f->help && strcmp(esc_help, f->help) != 0) {
			rc = pt_error_set(err, PT_INVALID, "metric '%s' is already registered with another help",
					  name);
			goto unlock;
		}
		for (struct series *o = f->first; o; o = o->next)
			if (strcmp(o->labels, lab) == 0) {
				rc = pt_error_set(err, PT_INVALID, "series '%s{%s}' is already registered",
						  name, lab);
				goto unlock;
			}
	} else {
		nf = calloc(1, sizeof *nf);
		if (!nf || !(nf->name = strdup(name))) {
			rc = pt_error_set(err, PT_NOMEM, "cannot register metric '%s': out of memory", name);
			goto unlock;
		}
		nf->kind = kind;
		nf->tail = &nf->first;
		*m->tail = nf;
		m->tail = &nf->next;
		f = nf;
		nf = NULL;
	}
	if (!f->help && esc_help) {
		f->help = esc_help;
		esc_help = NULL;
	}
	s->labels = lab;
	lab = NULL;
	*f->tail = s;
	f->tail = &s->next;
	*out = s;
	s = NULL;
unlock:
	pthread_mutex_unlock(&m->lock);
	if (nf)
		free(nf->name);
	free(nf);
out:
	free(s);
	free(lab);
	free(esc_help);
	return rc;
}

enum pt_code metrics_counter_new(struct metrics *m, const char *name, const char *help,
				 const char *const *labels, struct metrics_counter **out,
				 struct pt_error *err)
{
	struct series *s = NULL;
	enum pt_code rc = add_series(m, K_COUNTER, name, help, labels, sizeof **out, NULL, 0, &s,
				      err);

	if (!rc)
		*out = (struct metrics_counter *)s;
	return rc;
}

enum pt_code metrics_gauge_new(struct metrics *m, const char *name, const char *help,
			       const char *const *labels, struct metrics_gauge **out,
			       struct pt_error *err)
{
	struct series *s = NULL;
	enum pt_code rc = add_series(m, K_GAUGE, name, help, labels, sizeof **out, NULL, 0, &s,
				      err);

	if (!rc)
		*out = (struct metrics_gauge *)s;
	return rc;
}

enum pt_code metrics_histogram_new(struct metrics *m, const char *name, const char *help,
				   const char *const *labels, const double *bounds,
				   size_t n_bounds, struct metrics_histogram **out,
				   struct pt_error *err)
{
	struct series *s = NULL;
	enum pt_code rc;

	if (n_bounds == 0 || n_bounds > METRICS_BUCKETS_MAX)
		return pt_error_set(err, n_bounds ? PT_LIMIT : PT_INVALID,
				    "histogram '%s' needs 1 to %d bucket bounds, got %zu",
				    name ? name : "(null)", METRICS_BUCKETS_MAX, n_bounds);
	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return pt_error_set(err, PT_INVALID,
					    "bounds of histogram '%s' are not finite and strictly increasing (bound %zu)",
					    name ? name : "(null)", i + 1);
	rc = add_series(m, K_HISTOGRAM, name, help, labels, sizeof **out, bounds, n_bounds, &s,
			err);
	if (!rc)
		*out = (struct metrics_histogram *)s;
	return rc;
}

enum pt_code metrics_info_new(struct metrics *m, const char *name, const char *help,
			      const char *const *labels, struct pt_error *err)
{
	struct metrics_gauge *g;
	enum pt_code rc = metrics_gauge_new(m, name, help, labels, &g, err);

	if (!rc)
		metrics_gauge_set(g, 1);
	return rc;
}

void metrics_counter_inc(struct metrics_counter *c)
{
	atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
}

void metrics_counter_add(struct metrics_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
}

void metrics_counter_add_dbl(struct metrics_counter *c, double v)
{
	/* a counter never goes down; !(v > 0) also drops NaN */
	if (!(v > 0))
		return;
	if (v == floor(v) && v < 9007199254740992.0) /* 2^53: exact as an integer */
		metrics_counter_add(c, (uint64_t)v);
	else
		add_dbl(&c->frac, v);
}

void metrics_gauge_set(struct metrics_gauge *g, double v)
{
	atomic_store_explicit(&g->bits, to_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metrics_gauge *g, double v)
{
	add_dbl(&g->bits, v);
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	size_t i = 0;

	if (isnan(v))
		return;
	while (i < h->n && v > h->bounds[i]) /* le: v <= bound */
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	add_dbl(&h->sum, v);
}

/* The text format's number: NaN, +Inf, -Inf, integers without a point or
 * exponent, otherwise the shortest %g that reads back exactly. */
static void fmt_value(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
	} else if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, n, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, n, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
}

/* name[suffix]{labels[,extra]} value\n */
static enum pt_code put_sample(struct buf *b, const char *name, const char *suffix,
			       const char *labels, const char *extra, const char *value)
{
	enum pt_code rc;

	if ((rc = buf_puts(b, name)) || (rc = buf_puts(b, suffix)))
		return rc;
	if (labels[0] || extra) {
		if ((rc = buf_putc(b, '{')) || (rc = buf_puts(b, labels)) ||
		    (extra && labels[0] && (rc = buf_putc(b, ','))) ||
		    (extra && (rc = buf_puts(b, extra))) || (rc = buf_putc(b, '}')))
			return rc;
	}
	if ((rc = buf_putc(b, ' ')) || (rc = buf_puts(b, value)) || (rc = buf_putc(b, '\n')))
		return rc;
	return PT_OK;
}

static enum pt_code render_series(struct buf *b, const struct family *f, const struct series *s)
{
	char v[40], le[64];
	enum pt_code rc;

	switch (f->kind) {
	case K_COUNTER: {
		const struct metrics_counter *c = (const struct metrics_counter *)s;
		uint64_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
		double frac = from_bits(atomic_load_explicit(&c->frac, memory_order_relaxed));

		if (frac == 0)
			snprintf(v, sizeof v, "%llu", (unsigned long long)n);
		else
			fmt_value(v, sizeof v, (double)n + frac);
		return put_sample(b, f->name, "", s->labels, NULL, v);
	}
	case K_GAUGE: {
		const struct metrics_gauge *g = (const struct metrics_gauge *)s;

		fmt_value(v, sizeof v, from_bits(atomic_load_explicit(&g->bits, memory_order_relaxed)));
		return put_sample(b, f->name, "", s->labels, NULL, v);
	}
	case K_HISTOGRAM: {
		const struct metrics_histogram *h = (const struct metrics_histogram *)s;
		uint64_t cum = 0;

		/* Each count is read once, so the buckets are cumulative and
		 * +Inf equals _count even while observations come in. */
		for (size_t i = 0; i <= h->n; i++) {
			cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
			if (i < h->n) {
				char bound[40];

				fmt_value(bound, sizeof bound, h->bounds[i]);
				snprintf(le, sizeof le, "le=\"%s\"", bound);
			} else {
				snprintf(le, sizeof le, "le=\"+Inf\"");
			}
			snprintf(v, sizeof v, "%llu", (unsigned long long)cum);
			if ((rc = put_sample(b, f->name, "_bucket", s->labels, le, v)))
				return rc;
		}
		fmt_value(v, sizeof v, from_bits(atomic_load_explicit(&h->sum, memory_order_relaxed)));
		if ((rc = put_sample(b, f->name, "_sum", s->labels, NULL, v)))
			return rc;
		snprintf(v, sizeof v, "%llu", (unsigned long long)cum);
		return put_sample(b, f->name, "_count", s->labels, NULL, v);
	}
	}
	return PT_INVALID;
}

enum pt_code metrics_render(struct metrics *m, struct buf *out)
{
	enum pt_code rc = PT_OK;

	pthread_mutex_lock(&m->lock);
	for (const struct family *f = m->first; f && !rc; f = f->next) {
		if (f->help && ((rc = buf_puts(out, "# HELP ")) || (rc = buf_puts(out, f->name)) ||
				(rc = buf_putc(out, ' ')) || (rc = buf_puts(out, f->help)) ||
				(rc = buf_putc(out, '\n'))))
			break;
		if ((rc = buf_puts(out, "# TYPE ")) || (rc = buf_puts(out, f->name)) ||
		    (rc = buf_putc(out, ' ')) || (rc = buf_puts(out, kind_names[f->kind])) ||
		    (rc = buf_putc(out, '\n')))
			break;
		for (const struct series *s = f->first; s && !rc; s = s->next)
			rc = render_series(out, f, s);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}
