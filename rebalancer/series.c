/* SPDX-License-Identifier: Apache-2.0 */
/* The sample store. Memory: one pool of size-classed blocks with free lists
 * (carved from 64 KiB chunks, never given back until series_free, so churn
 * reuses blocks instead of growing). Lookup: two open-addressing tables,
 * containers by key and series by container + name + labels, with linear
 * probing and backward-shift deletion, so churn leaves no tombstones.
 * Invariant: a series' value for slot k is v[k % depth], valid for
 * last_seq - depth < k <= last_seq; the slots it missed are filled with the
 * stale marker when it is next written. A container's newest page is slot
 * page_seq <= seq, at page_ms: that time, not ts[], is the one to use, as
 * the page's slot may have left the ring of slot times. */
#include "series.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/promtext.h"

/* Prometheus' staleness marker, a NaN no arithmetic produces
 * (model/value/value.go StaleNaN). */
#define STALE_BITS UINT64_C(0x7ff0000000000002)

/* ---- the pool ----------------------------------------------------------- */

#define POOL_CHUNK ((size_t)64 << 10)
#define POOL_SMALL_MAX ((size_t)16 << 10) /* bigger blocks come from malloc */
#define POOL_CLASSES 36
#define POOL_HEADER 16                    /* chunk link, keeps blocks 16-aligned */

/* Size classes: multiples of 16 up to 128 bytes, then four per power of two
 * (at most 25 % rounding, 12 % on average). */
static unsigned class_index(size_t n)
{
	unsigned p;
	size_t step;

	if (n <= 128)
		return n ? (unsigned)((n + 15) / 16 - 1) : 0;
	p = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1)); /* 2^p < n <= 2^(p+1) */
	step = (size_t)1 << (p - 2);
	return 8 + (p - 7) * 4 + (unsigned)((n - ((size_t)1 << p) + step - 1) / step) - 1;
}

static size_t class_size(unsigned i)
{
	unsigned p;

	if (i < 8)
		return (size_t)(i + 1) * 16;
	p = 7 + (i - 8) / 4;
	return ((size_t)1 << p) + (size_t)((i - 8) % 4 + 1) * ((size_t)1 << (p - 2));
}

struct pool {
	void *free[POOL_CLASSES];
	unsigned char *bump, *bump_end;
	void *chunks; /* each chunk's first word links the next */
	size_t in_use, reserved, max;
};

static bool pool_room(const struct pool *p, size_t n)
{
	return p->reserved <= p->max && n <= p->max - p->reserved;
}

static void pool_push(struct pool *p, unsigned i, void *b)
{
	*(void **)b = p->free[i];
	p->free[i] = b;
}

/* Hand the unused tail of the current chunk to the free lists. */
static void pool_scatter(struct pool *p)
{
	while (p->bump_end - p->bump >= 16) {
		size_t left = (size_t)(p->bump_end - p->bump);
		unsigned i = left >= POOL_SMALL_MAX ? POOL_CLASSES - 1 : class_index(left);

		if (class_size(i) > left)
			i--;
		pool_push(p, i, p->bump);
		p->bump += class_size(i);
	}
}

static void *pool_alloc(struct pool *p, size_t n)
{
	unsigned i;
	size_t sz;
	void *b;

	if (n > POOL_SMALL_MAX) {
		if (!pool_room(p, n) || !(b = malloc(n)))
			return NULL;
		p->reserved += n;
		p->in_use += n;
		return b;
	}
	i = class_index(n);
	sz = class_size(i);
	if ((b = p->free[i])) {
		p->free[i] = *(void **)b;
	} else {
		if ((size_t)(p->bump_end - p->bump) < sz) {
			unsigned char *c;

			if (!pool_room(p, POOL_CHUNK) || !(c = malloc(POOL_CHUNK)))
				return NULL;
			pool_scatter(p);
			*(void **)c = p->chunks;
			p->chunks = c;
			p->bump = c + POOL_HEADER;
			p->bump_end = c + POOL_CHUNK;
			p->reserved += POOL_CHUNK;
		}
		b = p->bump;
		p->bump += sz;
	}
	p->in_use += sz;
	return b;
}

/* n must be the size the block was allocated with. */
static void pool_free(struct pool *p, void *b, size_t n)
{
	unsigned i;

	if (!b)
		return;
	if (n > POOL_SMALL_MAX) {
		free(b);
		p->reserved -= n;
		p->in_use -= n;
		return;
	}
	i = class_index(n);
	pool_push(p, i, b);
	p->in_use -= class_size(i);
}

static void pool_release(struct pool *p)
{
	void *c = p->chunks, *next;

	for (; c; c = next) {
		next = *(void **)c;
		free(c);
	}
}

/* ---- open-addressing tables ----------------------------------------------- */

struct slot {
	uint64_t h;
	void *p; /* NULL: empty */
};

struct table {
	struct slot *v;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

static void table_put(struct table *t, uint64_t h, void *p)
{
	size_t mask = t->cap - 1, i = h & mask;

	while (t->v[i].p)
		i = (i + 1) & mask;
	t->v[i].h = h;
	t->v[i].p = p;
	t->n++;
}

/* Make room for one more entry at a load of at most 1/2. The table's bytes
 * count against the pool's cap. */
static bool table_reserve(struct table *t, struct pool *pool)
{
	struct table nt;
	size_t bytes;

	if ((t->n + 1) * 2 <= t->cap)
		return true;
	nt.cap = t->cap ? t->cap * 2 : 64;
	nt.n = 0;
	bytes = nt.cap * sizeof *nt.v;
	if (!pool_room(pool, bytes) || !(nt.v = calloc(nt.cap, sizeof *nt.v)))
		return false;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].p)
			table_put(&nt, t->v[i].h, t->v[i].p);
	free(t->v);
	pool->reserved += bytes - t->cap * sizeof *t->v;
	pool->in_use += bytes - t->cap * sizeof *t->v;
	*t = nt;
	return true;
}

/* Empty slot i and shift later entries of its cluster back, so that no
 * lookup ever needs a tombstone (Knuth 6.4, algorithm R). */
static void table_del(struct table *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;

	for (;;) {
		t->v[i].p = NULL;
		for (;;) {
			size_t k;

			j = (j + 1) & mask;
			if (!t->v[j].p) {
				t->n--;
				return;
			}
			k = t->v[j].h & mask;
			/* j stays if its home k lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->v[i] = t->v[j];
		i = j;
	}
}

static size_t table_find_ptr(const struct table *t, uint64_t h, const void *p)
{
	size_t mask = t->cap - 1, i = h & mask;

	while (t->v[i].p != p)
		i = (i + 1) & mask;
	return i;
}

/* A word-at-a-time multiplicative hash: label values are hashed for every
 * sample, so it is worth being 8x faster than byte-wise FNV. The low bits
 * index the tables, so each step folds the high bits down. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 32;
	}
	w = n;
	for (size_t i = 0; i < n; i++)
		w = w << 8 | p[i];
	h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
	return h ^ h >> 29;
}

#define HASH_SEED UINT64_C(0xcbf29ce484222325)

/* ---- the store ------------------------------------------------------------ */

struct name {
	char *s; /* canonical */
	uint32_t len;
	uint32_t depth;
};

struct series_store {
	struct series_config cfg;
	struct name names[SERIES_MAX_NAMES];
	size_t n_names;
	uint64_t lenmask; /* bit min(len, 63) set for each name's length */
	uint32_t ring;    /* slots per container: the deepest name */
	uint64_t lookback_ms;
	struct pool pool;
	struct table containers, series;
	size_t n_series;
};

struct series_container {
	struct series *first, *last;
	uint64_t hash;
	uint32_t seq; /* slots recorded; the newest is seq, 0 = none yet */
	uint32_t page_seq;      /* the slot of the newest page, 0 = none yet */
	int64_t page_ms;        /* its time */
	uint64_t page_every_ms; /* the lookback of its series (from its scrape interval) */
	uint32_t n_series;
	uint32_t key_len;
	int64_t ts[]; /* ring slot timestamps, then the key */
};

struct series {
	struct series *next; /* in the container, in order of creation */
	struct series_container *c;
	uint64_t hash;
	uint32_t last_seq;
	uint32_t depth;
	uint16_t name;
	uint16_t label_bytes;
	uint8_t n_labels;
	bool page; /* last written from a scraped page, not by series_add */
	double v[]; /* depth values, then the labels as "name\0value\0"..., sorted by name */
};

static size_t container_size(const struct series_store *s, size_t key_len)
{
	return sizeof(struct series_container) + s->ring * sizeof(int64_t) + key_len + 1;
}

static const char *container_key(const struct series_store *s, const struct series_container *c)
{
	return (const char *)(c->ts + s->ring);
}

static size_t series_size(uint32_t depth, size_t label_bytes)
{
	return sizeof(struct series) + depth * sizeof(double) + label_bytes;
}

static const char *labels_of(const struct series *sr)
{
	return (const char *)(sr->v + sr->depth);
}

static bool is_stale(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof b);
	return b == STALE_BITS;
}

static double stale_value(void)
{
	uint64_t b = STALE_BITS;
	double v;

	memcpy(&v, &b, sizeof v);
	return v;
}

/* The index of the canonical name (n bytes), or -1. */
static int name_index(const struct series_store *s, const char *name, size_t n)
{
	if (!(s->lenmask & (UINT64_C(1) << (n < 63 ? n : 63))))
		return -1;
	for (size_t i = 0; i < s->n_names; i++)
		if (s->names[i].len == n && memcmp(s->names[i].s, name, n) == 0)
			return (int)i;
	return -1;
}

/* As name_index, for a name as a page or a caller writes it. This runs
 * for every line of every page, so the alias lookup (JVM names only) is
 * skipped for the rest. */
static int name_find(const struct series_store *s, const char *name, size_t n)
{
	size_t cn;
	const char *canon;

	if (n < 4 || name[0] != 'j')
		return name_index(s, name, n);
	canon = promtext_canonical_name(name, n, &cn);
	return name_index(s, canon, cn);
}

static enum pt_code add_name(struct series_store *s, const char *metric, uint64_t range_ms, struct pt_error *e)
{
	size_t n = strlen(metric);
	uint64_t depth = 1;
	int i = name_index(s, metric, n);

	if (range_ms) {
		depth = (range_ms + s->cfg.interval_ms - 1) / s->cfg.interval_ms + 2;
		if (depth > SERIES_MAX_DEPTH)
			return pt_error_set(e, PT_LIMIT, "range of %llu ms over '%s' needs %llu samples at an "
					    "interval of %llu ms; the most is %d", (unsigned long long)range_ms,
					    metric, (unsigned long long)depth,
					    (unsigned long long)s->cfg.interval_ms, SERIES_MAX_DEPTH);
	}
	if (i < 0) {
		struct name *nm;

		if (s->n_names == SERIES_MAX_NAMES)
			return pt_error_set(e, PT_LIMIT, "triggers reference more than %d metric names",
					    SERIES_MAX_NAMES);
		nm = &s->names[s->n_names];
		/* Fixed at start-up, so outside the cap, but counted. */
		if (!(nm->s = malloc(n + 1)))
			return pt_error_set(e, PT_NOMEM, "cannot keep metric name '%s': out of memory", metric);
		s->pool.in_use += n + 1;
		s->pool.reserved += n + 1;
		memcpy(nm->s, metric, n + 1);
		nm->len = (uint32_t)n;
		nm->depth = 0;
		s->lenmask |= UINT64_C(1) << (n < 63 ? n : 63);
		i = (int)s->n_names++;
	}
	if (depth > s->names[i].depth)
		s->names[i].depth = (uint32_t)depth;
	if (depth > s->ring)
		s->ring = (uint32_t)depth;
	return PT_OK;
}

static enum pt_code check_config(struct series_config *c, struct pt_error *e)
{
	if (!c->interval_ms)
		c->interval_ms = SERIES_DEF_INTERVAL_MS;
	if (!c->max_containers)
		c->max_containers = SERIES_DEF_MAX_CONTAINERS;
	if (!c->max_series_per_container)
		c->max_series_per_container = SERIES_DEF_MAX_PER_CONTAINER;
	if (!c->max_series)
		c->max_series = SERIES_DEF_MAX_SERIES;
	if (!c->max_label_bytes)
		c->max_label_bytes = SERIES_DEF_MAX_LABEL_BYTES;
	if (!c->max_bytes)
		c->max_bytes = SERIES_DEF_MAX_BYTES;
	if (c->interval_ms > 3600 * 1000)
		return pt_error_set(e, PT_INVALID, "interval of %llu ms is longer than an hour",
				    (unsigned long long)c->interval_ms);
	if (c->max_series_per_container > SERIES_MAX_PER_CONTAINER)
		return pt_error_set(e, PT_INVALID, "max_series_per_container %zu is above %d",
				    c->max_series_per_container, SERIES_MAX_PER_CONTAINER);
	if (c->max_label_bytes > UINT16_MAX)
		return pt_error_set(e, PT_INVALID, "max_label_bytes %zu is above %d", c->max_label_bytes,
				    UINT16_MAX);
	return PT_OK;
}

enum pt_code series_new(const struct series_config *cfg, const struct promql_expr *const *exprs,
			size_t n_exprs, struct series_store **out, struct pt_error *e)
{
	struct series_store *s;
	enum pt_code rc;

	if (!out || (n_exprs && !exprs))
		return pt_error_set(e, PT_INVALID, "series_new: no output or no expressions");
	if (!(s = calloc(1, sizeof *s)))
		return pt_error_set(e, PT_NOMEM, "cannot allocate the series store: out of memory");
	if (cfg)
		s->cfg = *cfg;
	if ((rc = check_config(&s->cfg, e)))
		goto out;
	s->pool.max = s->cfg.max_bytes;
	s->ring = 1;
	for (size_t i = 0; i < n_exprs; i++) {
		for (const struct promql_node *nd = exprs[i] ? exprs[i]->root : NULL; nd; nd = nd->arg) {
			if (nd->kind != PROMQL_SELECTOR && nd->kind != PROMQL_RANGE_FN)
				continue;
			if (!nd->sel.metric) {
				rc = pt_error_set(e, PT_UNSUPPORTED, "trigger '%s': a selector without a metric "
						  "name is not supported; the agent keeps only the series that "
						  "triggers name", exprs[i]->src);
				goto out;
			}
			if ((rc = add_name(s, nd->sel.metric, nd->kind == PROMQL_RANGE_FN ? nd->sel.range_ms : 0, e)))
				goto out;
		}
	}
	s->lookback_ms = SERIES_LOOKBACK_INTERVALS * s->cfg.interval_ms;
	*out = s;
	return PT_OK;
out:
	series_free(s);
	return rc;
}

void series_free(struct series_store *s)
{
	if (!s)
		return;
	/* Blocks above POOL_SMALL_MAX are malloc'd one by one. */
	for (size_t i = 0; i < s->series.cap; i++) {
		struct series *sr = s->series.v[i].p;

		if (sr && series_size(sr->depth, sr->label_bytes) > POOL_SMALL_MAX)
			free(sr);
	}
	for (size_t i = 0; i < s->containers.cap; i++) {
		struct series_container *c = s->containers.v[i].p;

		if (c && container_size(s, c->key_len) > POOL_SMALL_MAX)
			free(c);
	}
	free(s->series.v);
	free(s->containers.v);
	for (size_t i = 0; i < s->n_names; i++)
		free(s->names[i].s);
	pool_release(&s->pool);
	free(s);
}

bool series_wants(const struct series_store *s, const char *metric)
{
	return s && metric && name_find(s, metric, strlen(metric)) >= 0;
}

uint64_t series_lookback_ms(const struct series_store *s)
{
	return s->lookback_ms;
}

/* ---- containers ----------------------------------------------------------- */

static bool key_ok(const char *key, size_t *len)
{
	size_t n;

	if (!key)
		return false;
	n = strnlen(key, SERIES_MAX_KEY_LEN + 1);
	*len = n;
	return n > 0 && n <= SERIES_MAX_KEY_LEN;
}

static size_t container_slot(const struct series_store *s, const char *key, size_t n, uint64_t h)
{
	size_t mask = s->containers.cap - 1, i = h & mask;

	for (; s->containers.v[i].p; i = (i + 1) & mask) {
		const struct series_container *c = s->containers.v[i].p;

		if (s->containers.v[i].h == h && c->key_len == n && memcmp(container_key(s, c), key, n) == 0)
			return i;
	}
	return i;
}

static struct series_container *container_get(const struct series_store *s, const char *key, size_t n, uint64_t h)
{
	if (!s->containers.cap)
		return NULL;
	return s->containers.v[container_slot(s, key, n, h)].p;
}

/* The container for key (created if new) and the slot for now_ms. */
static enum pt_code open_slot(struct series_store *s, const char *key, int64_t now_ms,
			      struct series_container **out, uint32_t *seq, struct pt_error *e)
{
	struct series_container *c;
	size_t n;
	uint64_t h;

	if (!key_ok(key, &n))
		return pt_error_set(e, PT_INVALID, "container key '%.*s' is empty or longer than %d bytes",
				    key ? 64 : 0, key ? key : "", SERIES_MAX_KEY_LEN);
	h = hash_bytes(HASH_SEED, key, n);
	if (!(c = container_get(s, key, n, h))) {
		if (s->containers.n >= s->cfg.max_containers)
			return pt_error_set(e, PT_LIMIT, "cannot track container '%s': %zu containers are "
					    "tracked already", key, s->cfg.max_containers);
		if (!table_reserve(&s->containers, &s->pool) ||
		    !(c = pool_alloc(&s->pool, container_size(s, n))))
			return pt_error_set(e, PT_NOMEM, "cannot track container '%s': out of memory (cap "
					    "%zu bytes)", key, s->cfg.max_bytes);
		memset(c, 0, sizeof *c);
		c->hash = h;
		c->key_len = (uint32_t)n;
		memcpy((char *)(c->ts + s->ring), key, n + 1);
		table_put(&s->containers, h, c);
	}
	if (c->seq) {
		int64_t newest = c->ts[c->seq % s->ring];

		if (now_ms < newest)
			return pt_error_set(e, PT_RANGE, "sample time %lld ms for '%s' is before its newest "
					    "sample at %lld ms", (long long)now_ms, key, (long long)newest);
		if (now_ms == newest) {
			*out = c;
			*seq = c->seq;
			return PT_OK;
		}
	}
	c->seq++;
	c->ts[c->seq % s->ring] = now_ms;
	*out = c;
	*seq = c->seq;
	return PT_OK;
}

static void drop_at(struct series_store *s, size_t i)
{
	struct series_container *c = s->containers.v[i].p;
	struct series *sr = c->first, *next;

	for (; sr; sr = next) {
		next = sr->next;
		table_del(&s->series, table_find_ptr(&s->series, sr->hash, sr));
		pool_free(&s->pool, sr, series_size(sr->depth, sr->label_bytes));
		s->n_series--;
	}
	table_del(&s->containers, i);
	pool_free(&s->pool, c, container_size(s, c->key_len));
}

bool series_drop(struct series_store *s, const char *key)
{
	size_t n, i;
	uint64_t h;

	if (!s || !key_ok(key, &n) || !s->containers.cap)
		return false;
	h = hash_bytes(HASH_SEED, key, n);
	i = container_slot(s, key, n, h);
	if (!s->containers.v[i].p)
		return false;
	drop_at(s, i);
	return true;
}

size_t series_expire(struct series_store *s, int64_t now_ms, uint64_t idle_ms)
{
	size_t dropped = 0;

	for (size_t i = 0; i < s->containers.cap;) {
		const struct series_container *c = s->containers.v[i].p;
		int64_t newest = c && c->seq ? c->ts[c->seq % s->ring] : INT64_MIN;
		/* A container fed by pages only is idle after its lookback. */
		uint64_t idle = c && SERIES_LOOKBACK_INTERVALS * c->page_every_ms > idle_ms
					? SERIES_LOOKBACK_INTERVALS * c->page_every_ms
					: idle_ms;

		/* After a removal slot i holds a shifted entry: look again. */
		if (c && (!c->seq || (now_ms > newest && (uint64_t)(now_ms - newest) > idle))) {
			drop_at(s, i);
			dropped++;
			continue;
		}
		i++;
	}
	return dropped;
}

/* ---- series --------------------------------------------------------------- */

struct lref {
	const char *n, *v;
	size_t nl, vl;
};

static int lref_cmp(const struct lref *a, const struct lref *b)
{
	size_t m = a->nl < b->nl ? a->nl : b->nl;
	int r = memcmp(a->n, b->n, m);

	return r ? r : (a->nl > b->nl) - (a->nl < b->nl);
}

static void sort_labels(struct lref *l, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct lref x = l[i];
		size_t j = i;

		for (; j > 0 && lref_cmp(&l[j - 1], &x) > 0; j--)
			l[j] = l[j - 1];
		l[j] = x;
	}
}

static size_t label_bytes(const struct lref *l, size_t n)
{
	size_t b = 0;

	for (size_t i = 0; i < n; i++)
		b += l[i].nl + l[i].vl + 2;
	return b;
}

static uint64_t series_hash(uint64_t h, unsigned name, const struct lref *l, size_t n)
{
	uint16_t nm = (uint16_t)name;

	/* Each part's length goes into its last word, so "ab","c" and
	 * "a","bc" differ. */
	h = hash_bytes(h, &nm, sizeof nm);
	for (size_t i = 0; i < n; i++) {
		h = hash_bytes(h, l[i].n, l[i].nl);
		h = hash_bytes(h, l[i].v, l[i].vl);
	}
	return h;
}

static bool same_labels(const struct series *sr, const struct lref *l, size_t n)
{
	const char *p = labels_of(sr);

	for (size_t i = 0; i < n; i++) {
		if (memcmp(p, l[i].n, l[i].nl) != 0 || p[l[i].nl])
			return false;
		p += l[i].nl + 1;
		if (memcmp(p, l[i].v, l[i].vl) != 0 || p[l[i].vl])
			return false;
		p += l[i].vl + 1;
	}
	return true;
}

static void record(struct series *sr, uint32_t seq, double v)
{
	uint32_t gap = seq - sr->last_seq - 1, d = sr->depth;

	/* The slots this series missed are stale, not its old values. */
	if (gap > d)
		gap = d;
	for (uint32_t k = 1; k <= gap; k++)
		sr->v[(seq - k) % d] = stale_value();
	sr->v[seq % d] = is_stale(v) ? NAN : v;
	sr->last_seq = seq;
}

enum put_result { PUT_KEPT, PUT_CREATED, PUT_DUP, PUT_LIMIT, PUT_NOMEM };

static enum put_result put(struct series_store *s, struct series_container *c, uint32_t seq, unsigned name,
			   const struct lref *l, size_t n, double v, bool page)
{
	size_t lb = label_bytes(l, n), mask, i;
	uint64_t h = series_hash(c->hash, name, l, n);
	enum put_result res = PUT_KEPT;
	struct series *sr = NULL;

	if (lb > s->cfg.max_label_bytes)
		return PUT_LIMIT;
	if (s->series.cap) {
		mask = s->series.cap - 1;
		for (i = h & mask; s->series.v[i].p; i = (i + 1) & mask) {
			struct series *x = s->series.v[i].p;

			if (s->series.v[i].h == h && x->c == c && x->name == name && x->n_labels == n &&
			    x->label_bytes == lb && same_labels(x, l, n)) {
				sr = x;
				break;
			}
		}
	}
	if (!sr) {
		uint32_t depth = s->names[name].depth;
		char *p;

		if (c->n_series >= s->cfg.max_series_per_container || s->n_series >= s->cfg.max_series)
			return PUT_LIMIT;
		if (!table_reserve(&s->series, &s->pool) || !(sr = pool_alloc(&s->pool, series_size(depth, lb))))
			return PUT_NOMEM;
		memset(sr, 0, sizeof *sr);
		sr->c = c;
		sr->hash = h;
		sr->depth = depth;
		sr->name = (uint16_t)name;
		sr->label_bytes = (uint16_t)lb;
		sr->n_labels = (uint8_t)n;
		p = (char *)labels_of(sr);
		for (size_t k = 0; k < n; k++) {
			memcpy(p, l[k].n, l[k].nl);
			p[l[k].nl] = '\0';
			p += l[k].nl + 1;
			memcpy(p, l[k].v, l[k].vl);
			p[l[k].vl] = '\0';
			p += l[k].vl + 1;
		}
		table_put(&s->series, h, sr);
		if (c->last)
			c->last->next = sr;
		else
			c->first = sr;
		c->last = sr;
		c->n_series++;
		s->n_series++;
		res = PUT_CREATED;
	} else if (sr->last_seq == seq) {
		return PUT_DUP;
	}
	record(sr, seq, v);
	sr->page = page;
	return res;
}

struct ingest {
	struct series_store *s;
	struct series_container *c;
	uint32_t seq;
	const char *name_p; /* the line the filter last accepted, and its name */
	int name_idx;
	struct series_ingest_stats *st;
};

static bool ingest_want(void *ctx, const char *name, size_t len)
{
	struct ingest *in = ctx;
	int i = name_find(in->s, name, len);

	if (i < 0)
		return false;
	in->name_p = name;
	in->name_idx = i;
	return true;
}

static bool ingest_take(void *ctx, const struct promtext_sample *smp)
{
	struct ingest *in = ctx;
	struct lref l[PROMTEXT_MAX_LABELS];
	size_t n = 0;
	int name = smp->name.p == in->name_p ? in->name_idx : name_find(in->s, smp->name.p, smp->name.len);

	if (name < 0)
		return true;
	for (size_t i = 0; i < smp->n_labels; i++) {
		const struct promtext_label *pl = &smp->labels[i];

		/* An empty value is the same as no label (Prometheus drops
		 * such labels at scrape time). */
		if (!pl->value.len)
			continue;
		l[n].n = pl->name.p;
		l[n].nl = pl->name.len;
		l[n].v = pl->value.p;
		l[n].vl = pl->value.len;
		n++;
	}
	sort_labels(l, n);
	switch (put(in->s, in->c, in->seq, (unsigned)name, l, n, smp->value, true)) {
	case PUT_CREATED:
		in->st->created++;
		in->st->kept++;
		break;
	case PUT_KEPT:
		in->st->kept++;
		break;
	case PUT_DUP:
		in->st->duplicates++;
		break;
	case PUT_LIMIT:
	case PUT_NOMEM:
		in->st->dropped++;
		break;
	}
	return true;
}

enum pt_code series_ingest(struct series_store *s, const char *key, const char *page, size_t len,
			   int64_t now_ms, struct series_ingest_stats *st, struct pt_error *e)
{
	return series_ingest_every(s, key, page, len, now_ms, 0, st, e);
}

enum pt_code series_ingest_every(struct series_store *s, const char *key, const char *page, size_t len,
				 int64_t now_ms, uint64_t every_ms, struct series_ingest_stats *st,
				 struct pt_error *e)
{
	struct series_ingest_stats local;
	struct promtext_stats ps;
	struct ingest in = {.s = s, .name_idx = -1};
	enum pt_code rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (!s || (!page && len))
		return pt_error_set(e, PT_INVALID, "series_ingest: no store or no page");
	if ((rc = open_slot(s, key, now_ms, &in.c, &in.seq, e)))
		return rc;
	in.c->page_seq = in.seq;
	in.c->page_ms = now_ms;
	in.c->page_every_ms = every_ms < SERIES_MAX_EVERY_MS ? every_ms : SERIES_MAX_EVERY_MS;
	in.st = st;
	/* Cannot fail: page is not NULL, or len is 0. */
	(void)promtext_parse(page, len, ingest_want, ingest_take, &in, &ps);
	st->skipped = ps.skipped;
	st->bad_lines = ps.bad_lines;
	return PT_OK;
}

/* Put sample v of src's series sr into dst's container dc at slot seq. */
static enum put_result carry_one(struct series_store *dst, const struct series_store *src,
				 struct series_container *dc, uint32_t seq, const struct series *sr, double v)
{
	const struct name *nm = &src->names[sr->name];
	struct lref l[PROMTEXT_MAX_LABELS];
	const char *p = labels_of(sr);
	int name = name_index(dst, nm->s, nm->len);

	if (name < 0)
		return PUT_LIMIT;
	for (size_t j = 0; j < sr->n_labels; j++) {
		l[j].n = p;
		l[j].nl = strlen(p);
		p += l[j].nl + 1;
		l[j].v = p;
		l[j].vl = strlen(p);
		p += l[j].vl + 1;
	}
	return put(dst, dc, seq, (unsigned)name, l, sr->n_labels, v, sr->page);
}

/* Whether src's series sr has a value at slot k that dst keeps: one of
 * the newest slots as deep as dst keeps the name, or the newest page,
 * whose series are current until the next one however deep they are. */
static bool carried(const struct series_store *dst, const struct series_store *src,
		    const struct series_container *c, const struct series *sr, uint32_t k)
{
	const struct name *nm = &src->names[sr->name];
	int name;

	if (k > sr->last_seq || sr->last_seq - k >= sr->depth || is_stale(sr->v[k % sr->depth]) ||
	    (name = name_index(dst, nm->s, nm->len)) < 0)
		return false;
	return c->seq - k < dst->names[name].depth || (sr->page && k == c->page_seq);
}

size_t series_carry(struct series_store *dst, const struct series_store *src, size_t *dropped)
{
	size_t copied = 0, lost = 0;

	for (size_t i = 0; dst && src && i < src->containers.cap; i++) {
		const struct series_container *c = src->containers.v[i].p;
		uint32_t keep = src->ring < dst->ring ? src->ring : dst->ring, win, first;
		bool refused = false;

		if (!c || !c->seq)
			continue;
		win = first = c->seq > keep ? c->seq - keep + 1 : 1;
		/* The newest page may be older than the slots kept (pages less
		 * often than slots); it opens its own slot, at its own time. */
		if (c->page_seq && c->page_seq < first)
			first = c->page_seq;
		for (uint32_t k = first; k <= c->seq; k++) {
			struct series_container *dc = NULL;
			uint32_t seq = 0;

			if (k < win && k != c->page_seq)
				continue;
			/* Every slot is opened, so a series absent from one
			 * stays stale there. A container the new store refuses
			 * (a limit) has its samples counted as lost. */
			refused = refused || open_slot(dst, container_key(src, c),
						       k == c->page_seq ? c->page_ms : c->ts[k % src->ring], &dc,
						       &seq, NULL);
			if (!refused && k == c->page_seq) {
				dc->page_seq = seq;
				dc->page_ms = c->page_ms;
				dc->page_every_ms = c->page_every_ms;
			}
			for (const struct series *sr = c->first; sr; sr = sr->next) {
				if (!carried(dst, src, c, sr, k))
					continue;
				if (refused) {
					lost++;
					continue;
				}
				switch (carry_one(dst, src, dc, seq, sr, sr->v[k % sr->depth])) {
				case PUT_KEPT:
				case PUT_CREATED:
					copied++;
					break;
				case PUT_DUP:
				case PUT_LIMIT:
				case PUT_NOMEM:
					lost++;
					break;
				}
			}
		}
	}
	if (dropped)
		*dropped = lost;
	return copied;
}

enum pt_code series_add(struct series_store *s, const char *key, const char *metric,
			const struct series_label *labels, size_t n_labels, double value, int64_t now_ms,
			struct pt_error *e)
{
	struct lref l[PROMTEXT_MAX_LABELS];
	struct series_container *c;
	size_t n = 0;
	uint32_t seq;
	enum pt_code rc;
	int name;

	if (!s || !metric || !*metric || (n_labels && !labels))
		return pt_error_set(e, PT_INVALID, "series_add: no store, metric or labels");
	if ((name = name_find(s, metric, strlen(metric))) < 0)
		return PT_OK;
	if (n_labels > PROMTEXT_MAX_LABELS)
		return pt_error_set(e, PT_LIMIT, "'%s' has %zu labels; the most is %d", metric, n_labels,
				    PROMTEXT_MAX_LABELS);
	for (size_t i = 0; i < n_labels; i++) {
		const struct series_label *x = &labels[i];

		if (!x->name || !*x->name || strcmp(x->name, "__name__") == 0)
			return pt_error_set(e, PT_INVALID, "'%s' has a label without a name, or '__name__'",
					    metric);
		if (!x->value || !*x->value)
			continue;
		l[n].n = x->name;
		l[n].nl = strlen(x->name);
		l[n].v = x->value;
		l[n].vl = strlen(x->value);
		n++;
	}
	sort_labels(l, n);
	for (size_t i = 1; i < n; i++)
		if (lref_cmp(&l[i - 1], &l[i]) == 0)
			return pt_error_set(e, PT_INVALID, "'%s' has label '%s' twice", metric, l[i].n);
	if ((rc = open_slot(s, key, now_ms, &c, &seq, e)))
		return rc;
	switch (put(s, c, seq, (unsigned)name, l, n, value, false)) {
	case PUT_LIMIT:
		return pt_error_set(e, PT_LIMIT, "dropped '%s' of '%s': a series limit is reached (%zu per "
				    "container, %zu in all, %zu label bytes)", metric, key,
				    s->cfg.max_series_per_container, s->cfg.max_series, s->cfg.max_label_bytes);
	case PUT_NOMEM:
		return pt_error_set(e, PT_NOMEM, "dropped '%s' of '%s': out of memory (cap %zu bytes)", metric,
				    key, s->cfg.max_bytes);
	default:
		return PT_OK;
	}
}

void series_mem_stats(const struct series_store *s, struct series_mem *m)
{
	m->containers = s->containers.n;
	m->series = s->n_series;
	m->bytes_in_use = s->pool.in_use;
	m->bytes_reserved = s->pool.reserved;
}

/* ---- read access ---------------------------------------------------------- */

const struct series_container *series_find(const struct series_store *s, const char *key)
{
	size_t n;

	if (!s || !key_ok(key, &n))
		return NULL;
	return container_get(s, key, n, hash_bytes(HASH_SEED, key, n));
}

struct getter {
	const struct series_store *s;
	const struct series *sr;
};

static const char *get_label(void *ctx, const char *label)
{
	const struct getter *g = ctx;

	return series_label(g->s, g->sr, label);
}

size_t series_select(const struct series_store *s, const struct series_container *c,
		     const struct promql_selector *sel, series_each_fn fn, void *ctx)
{
	size_t matched = 0;
	int name;

	if (!s || !c || !sel->metric || (name = name_index(s, sel->metric, strlen(sel->metric))) < 0)
		return 0;
	for (const struct series *sr = c->first; sr; sr = sr->next) {
		struct getter g = {s, sr};

		if (sr->name != name || !promql_selector_matches(sel, get_label, &g))
			continue;
		matched++;
		if (fn && !fn(ctx, sr))
			break;
	}
	return matched;
}

const char *series_label(const struct series_store *s, const struct series *sr, const char *name)
{
	const char *p = labels_of(sr);

	if (strcmp(name, "__name__") == 0)
		return s->names[sr->name].s;
	for (size_t i = 0; i < sr->n_labels; i++) {
		const char *v = p + strlen(p) + 1;

		if (strcmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

bool series_label_at(const struct series *sr, size_t i, const char **name, const char **value)
{
	const char *p = labels_of(sr);

	if (i >= sr->n_labels)
		return false;
	for (size_t k = 0; k < i; k++) {
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	*name = p;
	*value = p + strlen(p) + 1;
	return true;
}

bool series_latest(const struct series_store *s, const struct series_container *c,
		   const struct series *sr, int64_t now_ms, double *v)
{
	uint64_t lookback = s->lookback_ms;
	int64_t t;
	double x;

	if (sr->page) {
		/* Absent from the newest page: stale. Pages may come less
		 * often than the slots (a scrape interval above the tick),
		 * so the lookback follows their spacing. */
		if (!c->page_seq || sr->last_seq != c->page_seq)
			return false;
		t = c->page_ms;
		if (SERIES_LOOKBACK_INTERVALS * c->page_every_ms > lookback)
			lookback = SERIES_LOOKBACK_INTERVALS * c->page_every_ms;
	} else {
		/* Absent from the newest slot: stale. */
		if (!c->seq || sr->last_seq != c->seq)
			return false;
		t = c->ts[c->seq % s->ring];
	}
	/* Left-open like the range: a sample exactly lookback old is out. */
	if (t > now_ms || (uint64_t)(now_ms - t) >= lookback)
		return false;
	x = sr->v[sr->last_seq % sr->depth];
	if (is_stale(x))
		return false;
	*v = x;
	return true;
}

void series_range(const struct series_store *s, const struct series_container *c,
		  const struct series *sr, int64_t start_ms, int64_t end_ms, struct series_iter *it)
{
	uint32_t lo = 1;

	/* The oldest slot both the series and the container still hold. */
	if (sr->last_seq >= sr->depth && sr->last_seq - sr->depth + 1 > lo)
		lo = sr->last_seq - sr->depth + 1;
	if (c->seq >= s->ring && c->seq - s->ring + 1 > lo)
		lo = c->seq - s->ring + 1;
	it->c = c;
	it->sr = sr;
	it->seq = lo;
	it->hi = sr->last_seq;
	it->ring = s->ring;
	it->depth = sr->depth;
	it->start_ms = start_ms;
	it->end_ms = end_ms;
}

bool series_next(struct series_iter *it, int64_t *t_ms, double *v)
{
	while (it->seq && it->seq <= it->hi) {
		uint32_t k = it->seq++;
		int64_t t = it->c->ts[k % it->ring];
		double x;

		if (t <= it->start_ms)
			continue;
		if (t > it->end_ms) {
			it->seq = 0;
			break;
		}
		x = it->sr->v[k % it->depth];
		if (is_stale(x))
			continue;
		*t_ms = t;
		*v = x;
		return true;
	}
	return false;
}
