/* SPDX-License-Identifier: Apache-2.0 */
/* YAML through libyaml's event parser into a tree of struct ynode held in
 * one arena. Aliases share the anchored node; every limit counts nodes and
 * depth as if they were expanded, so a "billion laughs" stops at once.
 * Scalars are typed the way go-yaml v2 types them (sigs.k8s.io/yaml). */
#include "yaml.h"

#include "buf.h"
#include "fileio.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* The arena backs the tree of one stream. Nodes are bounded by
 * YAML_MAX_NODES and text by YAML_MAX_BYTES; this is the backstop. */
#define YAML_MAX_ARENA (64u << 20)
#define YAML_ARENA_CHUNK (64u << 10)
/* Longest scalar that is tried as a number; longer ones are strings. */
#define YAML_MAX_NUMBER_LEN 256

#define TAG_PREFIX "tag:yaml.org,2002:"

/* A node plus what the limits need to know about it. */
struct yx {
	struct ynode n;  /* first, so a struct ynode * is a struct yx * */
	uint32_t size;   /* nodes in the subtree, aliases expanded */
	uint32_t height; /* collections nested in it, itself included */
	bool merge;      /* the merge key "<<" */
	bool tagged;
};

static struct yx *YX(const struct ynode *n)
{
	return (struct yx *)n;
}

/* A string -> index hash table (open addressing), for anchors and for
 * duplicate keys in large mappings. */
struct smap_ent {
	const char *key;
	size_t len;
	size_t val;
};

struct smap {
	struct smap_ent *v;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

static struct smap_ent *smap_find(const struct smap *m, const char *key, size_t len)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = text_fnv1a(TEXT_FNV_INIT, key, len) & (m->cap - 1); m->v[i].key; i = (i + 1) & (m->cap - 1))
		if (m->v[i].len == len && memcmp(m->v[i].key, key, len) == 0)
			return &m->v[i];
	return NULL;
}

/* Insert a key that is not present. */
static enum pt_code smap_add(struct smap *m, const char *key, size_t len, size_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct smap_ent *v = calloc(cap, sizeof *v);

		if (!v)
			return PT_NOMEM;
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->v[j].key)
				continue;
			for (i = text_fnv1a(TEXT_FNV_INIT, m->v[j].key, m->v[j].len) & (cap - 1); v[i].key; i = (i + 1) & (cap - 1))
				;
			v[i] = m->v[j];
		}
		free(m->v);
		m->v = v;
		m->cap = cap;
	}
	for (i = text_fnv1a(TEXT_FNV_INIT, key, len) & (m->cap - 1); m->v[i].key; i = (i + 1) & (m->cap - 1))
		;
	m->v[i] = (struct smap_ent){key, len, val};
	m->n++;
	return PT_OK;
}

static void smap_clear(struct smap *m)
{
	if (m->cap)
		memset(m->v, 0, m->cap * sizeof *m->v);
	m->n = 0;
}

static void smap_release(struct smap *m)
{
	free(m->v);
	m->v = NULL;
	m->cap = m->n = 0;
}

/* ---- scalar typing (go-yaml v2 resolve.go) ---- */

enum ytype { YT_STR, YT_NULL, YT_BOOL, YT_INT, YT_UINT, YT_FLOAT };

struct yval {
	bool b;
	long long i;
	unsigned long long u;
	double d;
};

static const struct {
	const char *s;
	enum ytype t;
	int v; /* bool value, or the sign of an infinity, 0 for NaN */
} yfixed[] = {
	{"~", YT_NULL, 0},     {"null", YT_NULL, 0},   {"Null", YT_NULL, 0},   {"NULL", YT_NULL, 0},
	{"y", YT_BOOL, 1},     {"Y", YT_BOOL, 1},      {"yes", YT_BOOL, 1},    {"Yes", YT_BOOL, 1},
	{"YES", YT_BOOL, 1},   {"true", YT_BOOL, 1},   {"True", YT_BOOL, 1},   {"TRUE", YT_BOOL, 1},
	{"on", YT_BOOL, 1},    {"On", YT_BOOL, 1},     {"ON", YT_BOOL, 1},     {"n", YT_BOOL, 0},
	{"N", YT_BOOL, 0},     {"no", YT_BOOL, 0},     {"No", YT_BOOL, 0},     {"NO", YT_BOOL, 0},
	{"false", YT_BOOL, 0}, {"False", YT_BOOL, 0},  {"FALSE", YT_BOOL, 0},  {"off", YT_BOOL, 0},
	{"Off", YT_BOOL, 0},   {"OFF", YT_BOOL, 0},    {".nan", YT_FLOAT, 0},  {".NaN", YT_FLOAT, 0},
	{".NAN", YT_FLOAT, 0}, {".inf", YT_FLOAT, 1},  {".Inf", YT_FLOAT, 1},  {".INF", YT_FLOAT, 1},
	{"+.inf", YT_FLOAT, 1}, {"+.Inf", YT_FLOAT, 1}, {"+.INF", YT_FLOAT, 1}, {"-.inf", YT_FLOAT, -1},
	{"-.Inf", YT_FLOAT, -1}, {"-.INF", YT_FLOAT, -1},
};

static bool isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '.') {
		if (!isdig(*++s))
			return false;
		while (isdig(*s))
			s++;
	} else {
		if (!isdig(*s))
			return false;
		while (isdig(*s))
			s++;
		if (*s == '.')
			for (s++; isdig(*s); s++)
				;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdig(*s))
			return false;
		while (isdig(*s))
			s++;
	}
	return *s == '\0';
}

static int digit_value(char c)
{
	if (isdig(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64) (which takes
 * no sign), as go-yaml tries them. */
static enum ytype parse_go_int(const char *s, struct yval *v)
{
	bool neg = false, sign = false;
	unsigned base = 10;
	unsigned long long mag = 0;

	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		sign = true;
		s++;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	if (!*s)
		return YT_STR;
	for (; *s; s++) {
		unsigned d = (unsigned)digit_value(*s);

		if (d >= base)
			return YT_STR;
		if (mag > (ULLONG_MAX - d) / base)
			return YT_STR;
		mag = mag * base + d;
	}
	if (neg) {
		if (mag > (unsigned long long)LLONG_MAX + 1)
			return YT_STR;
		v->i = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag;
		return YT_INT;
	}
	if (mag <= LLONG_MAX) {
		v->i = (long long)mag;
		return YT_INT;
	}
	if (sign)
		return YT_STR;
	v->u = mag;
	return YT_UINT;
}

static enum ytype parse_go_float(const char *s, struct yval *v)
{
	char *end;
	double d;

	if (!float_syntax(s))
		return YT_STR;
	errno = 0;
	d = strtod(s, &end);
	/* Go's ParseFloat fails on overflow (and go-yaml then keeps a
	 * string); underflow to zero is not an error there. */
	if (errno == ERANGE && isinf(d))
		return YT_STR;
	v->d = d;
	return YT_FLOAT;
}

/* Type a plain scalar's text. */
static enum ytype resolve(const char *s, size_t len, struct yval *v)
{
	char buf[YAML_MAX_NUMBER_LEN + 1];
	size_t o = 0;
	enum ytype t;

	if (len == 0)
		return YT_NULL;
	for (size_t i = 0; i < sizeof yfixed / sizeof yfixed[0]; i++) {
		if (strlen(yfixed[i].s) != len || memcmp(yfixed[i].s, s, len) != 0)
			continue;
		if (yfixed[i].t == YT_BOOL)
			v->b = yfixed[i].v;
		else if (yfixed[i].t == YT_FLOAT)
			v->d = yfixed[i].v > 0 ? INFINITY : yfixed[i].v < 0 ? -INFINITY : NAN;
		return yfixed[i].t;
	}
	if (len > YAML_MAX_NUMBER_LEN || memchr(s, '\0', len))
		return YT_STR;
	if (s[0] == '.') {
		memcpy(buf, s, len);
		buf[len] = '\0';
		return parse_go_float(buf, v);
	}
	if (!isdig(s[0]) && s[0] != '+' && s[0] != '-')
		return YT_STR;
	/* go-yaml drops every '_' before trying a number. */
	for (size_t i = 0; i < len; i++)
		if (s[i] != '_')
			buf[o++] = s[i];
	buf[o] = '\0';
	t = parse_go_int(buf, v);
	if (t != YT_STR)
		return t;
	return parse_go_float(buf, v);
}

static enum ytype ytype_of(const struct ynode *n, struct yval *v)
{
	if (!n || n->kind != YNODE_SCALAR || !n->plain)
		return YT_STR;
	return resolve(n->str, n->len, v);
}

bool ynode_is_null(const struct ynode *n)
{
	struct yval v;

	return !n || (n->kind == YNODE_SCALAR && n->plain && ytype_of(n, &v) == YT_NULL);
}

bool ynode_bool(const struct ynode *n, bool *out)
{
	struct yval v;

	if (!n || ytype_of(n, &v) != YT_BOOL)
		return false;
	*out = v.b;
	return true;
}

bool ynode_int(const struct ynode *n, long long *out)
{
	struct yval v;

	if (!n || ytype_of(n, &v) != YT_INT)
		return false;
	*out = v.i;
	return true;
}

bool ynode_double(const struct ynode *n, double *out)
{
	struct yval v;

	if (!n)
		return false;
	switch (ytype_of(n, &v)) {
	case YT_INT: *out = (double)v.i; return true;
	case YT_UINT: *out = (double)v.u; return true;
	case YT_FLOAT: *out = v.d; return true;
	default: return false;
	}
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	size_t len = strlen(key);

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;

		if (k->len == len && memcmp(k->str, key, len) == 0)
			return map->pairs[i].value;
	}
	return NULL;
}

/* ---- the parser ---- */

struct frame {
	struct yx *node;
	struct ynode **kids; /* items, or key, value, key, value... */
	size_t n, cap;
	uint64_t size;   /* of the children, expanded */
	uint32_t height; /* the highest child */
	size_t anchor;   /* index in ctx.anchors, or SIZE_MAX */
};

struct anchor {
	struct yx *node;
	bool done; /* an alias to a node still being built would be a cycle */
};

struct ctx {
	const char *file;
	const char *data;
	size_t len;
	struct ystream *s;
	struct pt_error *e;
	struct frame stack[YAML_MAX_DEPTH];
	int depth;
	struct yx *root;
	int doc_line;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	struct smap anchor_map;
	uint64_t nodes; /* so far in the stream, expanded */
	struct ydoc *docs;
	size_t n_docs, cap_docs;
};

static enum pt_code fail(struct ctx *c, enum pt_code code, int line, int col, const char *fmt, ...)
	PT_PRINTF(5, 6);

static enum pt_code fail(struct ctx *c, enum pt_code code, int line, int col, const char *fmt, ...)
{
	char msg[sizeof c->e->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pt_error_set(c->e, code, "%s", msg);
	pt_error_at(c->e, c->file, line, col);
	return code;
}

static enum pt_code fail_nomem(struct ctx *c)
{
	return fail(c, PT_NOMEM, 0, 0, "out of memory parsing YAML");
}

static int mline(const yaml_mark_t *m)
{
	return m->line >= INT32_MAX ? INT32_MAX : (int)m->line + 1;
}

static int mcol(const yaml_mark_t *m)
{
	return m->column >= INT32_MAX ? INT32_MAX : (int)m->column + 1;
}

static enum pt_code count_nodes(struct ctx *c, uint64_t n, int line, int col)
{
	c->nodes += n;
	if (c->nodes > YAML_MAX_NODES)
		return fail(c, PT_LIMIT, line, col, "more than %u nodes (aliases expanded)", (unsigned)YAML_MAX_NODES);
	return PT_OK;
}

static struct yx *new_node(struct ctx *c, enum ynode_kind kind, const yaml_event_t *ev)
{
	struct yx *x = arena_alloc(&c->s->arena, sizeof *x);

	if (!x)
		return NULL;
	memset(x, 0, sizeof *x);
	x->n.kind = kind;
	x->n.line = mline(&ev->start_mark);
	x->n.col = mcol(&ev->start_mark);
	x->n.end_line = mline(&ev->end_mark);
	x->n.str = "";
	return x;
}

static enum pt_code add_anchor(struct ctx *c, const yaml_char_t *name, struct yx *x, bool done, size_t *idx)
{
	const char *s = (const char *)name;
	struct smap_ent *ent;
	size_t len;
	char *key;

	*idx = SIZE_MAX;
	if (!name)
		return PT_OK;
	len = strlen(s);
	if (c->n_anchors == c->cap_anchors) {
		size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 16;
		struct anchor *v = realloc(c->anchors, cap * sizeof *v);

		if (!v)
			return fail_nomem(c);
		c->anchors = v;
		c->cap_anchors = cap;
	}
	*idx = c->n_anchors;
	c->anchors[c->n_anchors++] = (struct anchor){x, done};
	/* A later anchor of the same name replaces the earlier one. */
	ent = smap_find(&c->anchor_map, s, len);
	if (ent) {
		ent->val = *idx;
		return PT_OK;
	}
	key = arena_strndup(&c->s->arena, s, len);
	if (!key || smap_add(&c->anchor_map, key, len, *idx))
		return fail_nomem(c);
	return PT_OK;
}

/* Put a finished node (or an alias's target) where it belongs. line/col
 * are where it appears, for messages. */
static enum pt_code attach(struct ctx *c, struct yx *x, int line, int col)
{
	struct frame *f;

	if (c->depth == 0) {
		c->root = x;
		return PT_OK;
	}
	f = &c->stack[c->depth - 1];
	if ((uint64_t)c->depth + x->height > YAML_MAX_DEPTH)
		return fail(c, PT_LIMIT, line, col, "nesting deeper than %d levels (aliases expanded)", YAML_MAX_DEPTH);
	if (f->node->n.kind == YNODE_MAP && f->n % 2 == 0 && x->n.kind != YNODE_SCALAR)
		return fail(c, PT_SYNTAX, line, col, "mapping key must be a scalar");
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct ynode **v = realloc(f->kids, cap * sizeof *v);

		if (!v)
			return fail_nomem(c);
		f->kids = v;
		f->cap = cap;
	}
	f->kids[f->n++] = &x->n;
	f->size += x->size;
	if (x->height > f->height)
		f->height = x->height;
	return PT_OK;
}

static bool tag_is(const char *tag, const char *name)
{
	return tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 &&
	       strcmp(tag + strlen(TAG_PREFIX), name) == 0;
}

static enum pt_code on_scalar(struct ctx *c, const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *want = NULL;
	struct yx *x;
	struct yval v;
	size_t idx;
	enum pt_code rc;
	char buf[80];

	rc = count_nodes(c, 1, mline(&ev->start_mark), mcol(&ev->start_mark));
	if (rc)
		return rc;
	x = new_node(c, YNODE_SCALAR, ev);
	if (!x)
		return fail_nomem(c);
	x->n.len = ev->data.scalar.length;
	x->n.str = arena_strndup(&c->s->arena, (const char *)ev->data.scalar.value, x->n.len);
	if (!x->n.str)
		return fail_nomem(c);
	switch (ev->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE: x->n.style = YSTYLE_SINGLE; break;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE: x->n.style = YSTYLE_DOUBLE; break;
	case YAML_LITERAL_SCALAR_STYLE: x->n.style = YSTYLE_LITERAL; break;
	case YAML_FOLDED_SCALAR_STYLE: x->n.style = YSTYLE_FOLDED; break;
	default: x->n.style = YSTYLE_PLAIN; break;
	}
	x->size = 1;
	x->tagged = tag != NULL;
	if (!tag) {
		x->n.plain = x->n.style == YSTYLE_PLAIN;
		x->merge = x->n.plain && x->n.len == 2 && memcmp(x->n.str, "<<", 2) == 0;
	} else if (strcmp(tag, "!") == 0 || tag_is(tag, "str")) {
		x->n.plain = false;
	} else if (tag_is(tag, "merge")) {
		x->n.plain = true;
		x->merge = x->n.len == 2 && memcmp(x->n.str, "<<", 2) == 0;
		if (!x->merge)
			want = "!!merge";
	} else if (tag_is(tag, "bool") || tag_is(tag, "int") || tag_is(tag, "float") || tag_is(tag, "null")) {
		enum ytype t = resolve(x->n.str, x->n.len, &v);
		const char *name = tag + strlen(TAG_PREFIX);

		/* As go-yaml: an explicit type must fit, an int is a float. */
		x->n.plain = true;
		if (!((strcmp(name, "bool") == 0 && t == YT_BOOL) ||
		      (strcmp(name, "null") == 0 && t == YT_NULL) ||
		      (strcmp(name, "int") == 0 && (t == YT_INT || t == YT_UINT)) ||
		      (strcmp(name, "float") == 0 && (t == YT_INT || t == YT_UINT || t == YT_FLOAT))))
			want = tag;
	} else {
		return fail(c, PT_SYNTAX, x->n.line, x->n.col, "unsupported tag '%s'",
			    text_quote(tag, strlen(tag), 60, buf, 64));
	}
	if (want)
		return fail(c, PT_SYNTAX, x->n.line, x->n.col, "cannot decode '%s' as !!%s",
			    text_quote(x->n.str, x->n.len, 60, buf, 64),
			    strncmp(want, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 ? want + strlen(TAG_PREFIX) : want + 2);
	rc = add_anchor(c, ev->data.scalar.anchor, x, true, &idx);
	if (rc)
		return rc;
	return attach(c, x, x->n.line, x->n.col);
}

static enum pt_code on_start(struct ctx *c, const yaml_event_t *ev, enum ynode_kind kind)
{
	const yaml_char_t *anchor, *utag;
	const char *tag;
	struct frame *f;
	struct yx *x;
	enum pt_code rc;
	char buf[80];

	if (kind == YNODE_MAP) {
		anchor = ev->data.mapping_start.anchor;
		utag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		utag = ev->data.sequence_start.tag;
	}
	tag = (const char *)utag;
	if (c->depth == YAML_MAX_DEPTH)
		return fail(c, PT_LIMIT, mline(&ev->start_mark), mcol(&ev->start_mark),
			    "nesting deeper than %d levels", YAML_MAX_DEPTH);
	if (tag && strcmp(tag, "!") != 0 && !tag_is(tag, kind == YNODE_MAP ? "map" : "seq"))
		return fail(c, PT_SYNTAX, mline(&ev->start_mark), mcol(&ev->start_mark), "unsupported tag '%s'",
			    text_quote(tag, strlen(tag), 60, buf, 64));
	rc = count_nodes(c, 1, mline(&ev->start_mark), mcol(&ev->start_mark));
	if (rc)
		return rc;
	x = new_node(c, kind, ev);
	if (!x)
		return fail_nomem(c);
	x->tagged = tag != NULL;
	f = &c->stack[c->depth++];
	memset(f, 0, sizeof *f);
	f->node = x;
	return add_anchor(c, anchor, x, false, &f->anchor);
}

/* The mapping under construction, with an index from key to position once
 * it is large. */
struct mapb {
	struct ypair *v;
	bool *explicit; /* set by the map itself rather than merged in */
	size_t n, cap;
	struct smap idx;
};

#define MAPB_LINEAR 16

/* Where k already is (*at), or SIZE_MAX. */
static enum pt_code mapb_find(struct mapb *m, const struct ynode *k, size_t *at)
{
	struct smap_ent *e;

	*at = SIZE_MAX;
	if (m->n <= MAPB_LINEAR) {
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].key->len == k->len && memcmp(m->v[i].key->str, k->str, k->len) == 0)
				*at = i;
		return PT_OK;
	}
	if (!m->idx.n) {
		for (size_t i = 0; i < m->n; i++)
			if (smap_add(&m->idx, m->v[i].key->str, m->v[i].key->len, i))
				return PT_NOMEM;
	}
	e = smap_find(&m->idx, k->str, k->len);
	if (e)
		*at = e->val;
	return PT_OK;
}

/* Assign key = value: a new key is appended, a known one overridden in its
 * first position (go-yaml fills a Go map; the order is ours). */
static enum pt_code mapb_set(struct mapb *m, struct ynode *k, struct ynode *v, bool expl, size_t at)
{
	if (at != SIZE_MAX) {
		m->v[at].value = v;
		m->explicit[at] |= expl;
		return PT_OK;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct ypair *pv = realloc(m->v, cap * sizeof *pv);
		bool *ev;

		if (!pv)
			return PT_NOMEM;
		m->v = pv;
		ev = realloc(m->explicit, cap * sizeof *ev);
		if (!ev)
			return PT_NOMEM;
		m->explicit = ev;
		m->cap = cap;
	}
	m->v[m->n] = (struct ypair){k, v};
	m->explicit[m->n] = expl;
	if (m->idx.cap && smap_add(&m->idx, k->str, k->len, m->n))
		return PT_NOMEM;
	m->n++;
	return PT_OK;
}

static enum pt_code merge_one(struct ctx *c, struct mapb *m, const struct ynode *src)
{
	for (size_t i = 0; i < src->n; i++) {
		size_t at;

		if (mapb_find(m, src->pairs[i].key, &at) ||
		    mapb_set(m, src->pairs[i].key, src->pairs[i].value, false, at))
			return fail_nomem(c);
	}
	return PT_OK;
}

static enum pt_code build_map(struct ctx *c, struct frame *f)
{
	struct mapb m = {0};
	struct yx *x = f->node;
	enum pt_code rc = PT_OK;
	char buf[80];

	for (size_t i = 0; i + 1 < f->n; i += 2) {
		struct ynode *k = f->kids[i], *v = f->kids[i + 1];

		if (YX(k)->merge) {
			/* go-yaml v2: a merge assigns in document order; in
			 * a sequence, earlier maps win, so go backwards. */
			if (v->kind == YNODE_MAP) {
				rc = merge_one(c, &m, v);
			} else if (v->kind == YNODE_SEQ) {
				for (size_t j = v->n; j-- > 0 && !rc;) {
					if (v->items[j]->kind != YNODE_MAP)
						rc = fail(c, PT_SYNTAX, v->items[j]->line, v->items[j]->col,
							  "map merge requires map or sequence of maps as the value");
					else
						rc = merge_one(c, &m, v->items[j]);
				}
			} else {
				rc = fail(c, PT_SYNTAX, v->line, v->col,
					  "map merge requires map or sequence of maps as the value");
			}
		} else {
			size_t at;

			if (mapb_find(&m, k, &at))
				rc = fail_nomem(c);
			else if (at != SIZE_MAX && m.explicit[at])
				rc = fail(c, PT_SYNTAX, k->line, k->col, "duplicate key '%s' (first at line %d)",
					  text_quote(k->str, k->len, 60, buf, 64), m.v[at].key->line);
			else if (mapb_set(&m, k, v, true, at))
				rc = fail_nomem(c);
		}
		if (rc)
			goto out;
	}
	if (m.n) {
		x->n.pairs = arena_alloc(&c->s->arena, m.n * sizeof *m.v);
		if (!x->n.pairs) {
			rc = fail_nomem(c);
			goto out;
		}
		memcpy(x->n.pairs, m.v, m.n * sizeof *m.v);
	}
	x->n.n = m.n;
out:
	free(m.v);
	free(m.explicit);
	smap_release(&m.idx);
	return rc;
}

static enum pt_code on_end(struct ctx *c, const yaml_event_t *ev)
{
	struct frame *f = &c->stack[--c->depth];
	struct yx *x = f->node;
	enum pt_code rc = PT_OK;

	x->n.end_line = mline(&ev->end_mark);
	if (x->n.kind == YNODE_MAP) {
		rc = build_map(c, f);
	} else if (f->n) {
		x->n.items = arena_alloc(&c->s->arena, f->n * sizeof *f->kids);
		if (!x->n.items)
			rc = fail_nomem(c);
		else
			memcpy(x->n.items, f->kids, f->n * sizeof *f->kids);
		x->n.n = f->n;
	}
	/* Bounded by YAML_MAX_NODES and YAML_MAX_DEPTH, checked as added. */
	x->size = (uint32_t)(1 + f->size);
	x->height = 1 + f->height;
	free(f->kids);
	f->kids = NULL;
	if (rc)
		return rc;
	if (f->anchor != SIZE_MAX)
		c->anchors[f->anchor].done = true;
	return attach(c, x, x->n.line, x->n.col);
}

static enum pt_code on_alias(struct ctx *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct smap_ent *ent = smap_find(&c->anchor_map, name, strlen(name));
	int line = mline(&ev->start_mark), col = mcol(&ev->start_mark);
	struct anchor *a;
	enum pt_code rc;
	char buf[80];

	if (!ent)
		return fail(c, PT_SYNTAX, line, col, "unknown anchor '%s' referenced",
			    text_quote(name, strlen(name), 60, buf, 64));
	a = &c->anchors[ent->val];
	if (!a->done)
		return fail(c, PT_SYNTAX, line, col, "anchor '%s' value contains itself",
			    text_quote(name, strlen(name), 60, buf, 64));
	rc = count_nodes(c, a->node->size, line, col);
	if (rc)
		return rc;
	return attach(c, a->node, line, col);
}

static enum pt_code on_doc_end(struct ctx *c)
{
	struct yx *r = c->root;

	if (c->n_docs == c->cap_docs) {
		size_t cap = c->cap_docs ? c->cap_docs * 2 : 4;
		struct ydoc *v = realloc(c->docs, cap * sizeof *v);

		if (!v)
			return fail_nomem(c);
		c->docs = v;
		c->cap_docs = cap;
	}
	/* "---" alone gives an empty plain scalar: no content. */
	if (r && r->n.kind == YNODE_SCALAR && r->n.style == YSTYLE_PLAIN && !r->tagged && r->n.len == 0)
		r = NULL;
	c->docs[c->n_docs++] = (struct ydoc){r ? &r->n : NULL, c->doc_line};
	c->root = NULL;
	return PT_OK;
}

/* Turn a byte offset into line and column (characters). */
static void offset_pos(const char *data, size_t len, size_t off, int *line, int *col)
{
	int l = 1, cl = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l++;
			cl = 1;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			cl++;
		}
	}
	*line = l;
	*col = cl;
}

static enum pt_code parser_error(struct ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown problem";
	int line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail_nomem(c);
	case YAML_READER_ERROR:
		offset_pos(c->data, c->len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return fail(c, PT_SYNTAX, line, col, "%s (byte or code point 0x%x)", problem,
				    (unsigned)p->problem_value);
		return fail(c, PT_SYNTAX, line, col, "%s", problem);
	default:
		if (p->context)
			return fail(c, PT_SYNTAX, mline(&p->problem_mark), mcol(&p->problem_mark),
				    "%s (%s at line %d, column %d)", problem, p->context, mline(&p->context_mark),
				    mcol(&p->context_mark));
		return fail(c, PT_SYNTAX, mline(&p->problem_mark), mcol(&p->problem_mark), "%s", problem);
	}
}

static enum pt_code on_event(struct ctx *c, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		c->doc_line = mline(&ev->start_mark);
		c->root = NULL;
		c->n_anchors = 0; /* anchors do not cross documents */
		smap_clear(&c->anchor_map);
		return PT_OK;
	case YAML_DOCUMENT_END_EVENT:
		return on_doc_end(c);
	case YAML_ALIAS_EVENT:
		return on_alias(c, ev);
	case YAML_SCALAR_EVENT:
		return on_scalar(c, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(c, ev, YNODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(c, ev, YNODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(c, ev);
	default:
		return PT_OK;
	}
}

enum pt_code yaml_parse(const char *file, const char *data, size_t len, struct ystream **out, struct pt_error *e)
{
	struct ctx c = {.file = file ? file : "", .data = data, .len = len, .e = e};
	yaml_parser_t p;
	yaml_event_t ev;
	bool have_parser = false;
	enum pt_code rc = PT_OK;

	if (len > YAML_MAX_BYTES) {
		return fail(&c, PT_LIMIT, 0, 0, "input is larger than %u bytes", (unsigned)YAML_MAX_BYTES);
	}
	c.s = calloc(1, sizeof *c.s);
	if (!c.s)
		return fail_nomem(&c);
	arena_init(&c.s->arena, YAML_ARENA_CHUNK, YAML_MAX_ARENA);
	c.s->file = arena_strndup(&c.s->arena, c.file, strlen(c.file));
	if (!c.s->file || !yaml_parser_initialize(&p)) {
		rc = fail_nomem(&c);
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	for (;;) {
		bool end;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = parser_error(&c, &p);
			goto out;
		}
		rc = on_event(&c, &ev);
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (rc)
			goto out;
		if (end)
			break;
	}
	if (c.n_docs) {
		c.s->docs = arena_alloc(&c.s->arena, c.n_docs * sizeof *c.docs);
		if (!c.s->docs) {
			rc = fail_nomem(&c);
			goto out;
		}
		memcpy(c.s->docs, c.docs, c.n_docs * sizeof *c.docs);
	}
	c.s->n_docs = c.n_docs;
	*out = c.s;
	c.s = NULL;
out:
	if (have_parser)
		yaml_parser_delete(&p);
	while (c.depth > 0)
		free(c.stack[--c.depth].kids);
	free(c.anchors);
	smap_release(&c.anchor_map);
	free(c.docs);
	yaml_stream_free(c.s);
	return rc;
}

enum pt_code yaml_parse_file(const char *path, struct ystream **out, struct pt_error *e)
{
	struct buf b;
	enum pt_code rc;

	buf_init(&b, YAML_MAX_BYTES);
	if ((rc = fileio_read(path, YAML_MAX_BYTES, &b, e)) == PT_OK)
		rc = yaml_parse(path, b.data ? b.data : "", b.len, out, e);
	buf_release(&b);
	return rc;
}

void yaml_stream_free(struct ystream *s)
{
	if (!s)
		return;
	arena_release(&s->arena);
	free(s);
}

/* ---- to JSON ---- */

struct tj {
	struct pt_error *e;
	size_t count;
};

static cJSON *tj_fail(struct tj *t, enum pt_code code, const struct ynode *n, const char *fmt, ...)
	PT_PRINTF(4, 5);

static cJSON *tj_fail(struct tj *t, enum pt_code code, const struct ynode *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pt_error_set(t->e, code, "%s", msg);
	if (t->e && n) {
		t->e->line = n->line;
		t->e->col = n->col;
	}
	return NULL;
}

/* Go's strconv.FormatFloat(f, 'g', -1, 32), as sigs.k8s.io/yaml formats a
 * float map key: the shortest digits that give back the same float32,
 * in %e form when the exponent is < -4 or >= 6 (Go's "shortest" rule). */
static void go_float32_key(double d, char *buf, size_t size)
{
	float f = (float)d;
	char e[64];
	int prec, exp;

	if (isnan(f)) {
		snprintf(buf, size, ".nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, size, f > 0 ? ".inf" : "-.inf");
		return;
	}
	for (prec = 1; prec < 9; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
		if ((float)strtod(e, NULL) == f)
			break;
	}
	snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
	exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
	if (f == 0)
		exp = 0;
	if (exp < -4 || exp >= 6)
		snprintf(buf, size, "%s", e);
	else
		snprintf(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, (double)f);
}

static cJSON *to_json(const struct ynode *n, struct tj *t, int depth);

static cJSON *scalar_to_json(const struct ynode *n, struct tj *t)
{
	struct yval v;
	char buf[80];

	switch (ytype_of(n, &v)) {
	case YT_NULL: return cJSON_CreateNull();
	case YT_BOOL: return cJSON_CreateBool(v.b);
	case YT_INT: return cJSON_CreateNumber((double)v.i);
	case YT_UINT: return cJSON_CreateNumber((double)v.u);
	case YT_FLOAT:
		/* encoding/json refuses them too ("unsupported value"). */
		if (!isfinite(v.d))
			return tj_fail(t, PT_INVALID, n, "cannot convert '%s' to JSON: JSON has no infinity or NaN",
				       text_quote(n->str, n->len, 60, buf, 64));
		return cJSON_CreateNumber(v.d);
	default:
		if (memchr(n->str, '\0', n->len))
			return tj_fail(t, PT_INVALID, n, "cannot convert '%s' to JSON: it holds a NUL byte",
				       text_quote(n->str, n->len, 60, buf, 64));
		return cJSON_CreateString(n->str);
	}
}

static cJSON *seq_to_json(const struct ynode *n, struct tj *t, int depth)
{
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
	for (size_t i = 0; i < n->n; i++) {
		cJSON *c = to_json(n->items[i], t, depth + 1);

		if (!c) {
			cJSON_Delete(arr);
			return NULL;
		}
		if (!cJSON_AddItemToArray(arr, c)) {
			cJSON_Delete(c);
			cJSON_Delete(arr);
			return tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
		}
	}
	return arr;
}

static cJSON *map_to_json(const struct ynode *n, struct tj *t, int depth)
{
	cJSON *obj = cJSON_CreateObject();
	struct smap idx = {0};
	char kbuf[64], sbuf[80];

	if (!obj)
		return tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->pairs[i].key;
		const char *key = k->str;
		struct yval v;
		cJSON *child;
		bool dup;

		if (k->kind != YNODE_SCALAR) {
			tj_fail(t, PT_SYNTAX, k, "mapping key must be a scalar");
			goto fail;
		}
		switch (ytype_of(k, &v)) {
		case YT_NULL: tj_fail(t, PT_INVALID, k, "cannot convert a null key to JSON"); goto fail;
		case YT_BOOL: key = v.b ? "true" : "false"; break;
		case YT_INT: snprintf(kbuf, sizeof kbuf, "%lld", v.i); key = kbuf; break;
		case YT_UINT: snprintf(kbuf, sizeof kbuf, "%llu", v.u); key = kbuf; break;
		case YT_FLOAT: go_float32_key(v.d, kbuf, sizeof kbuf); key = kbuf; break;
		default:
			if (memchr(k->str, '\0', k->len)) {
				tj_fail(t, PT_INVALID, k, "cannot convert key '%s' to JSON: it holds a NUL byte",
					text_quote(k->str, k->len, 60, sbuf, 64));
				goto fail;
			}
			break;
		}
		if (n->n <= MAPB_LINEAR) {
			dup = cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
		} else {
			dup = smap_find(&idx, key, strlen(key)) != NULL;
		}
		if (dup) {
			tj_fail(t, PT_SYNTAX, k, "duplicate key '%s'", text_quote(key, strlen(key), 60, sbuf, 64));
			goto fail;
		}
		child = to_json(n->pairs[i].value, t, depth + 1);
		if (!child)
			goto fail;
		if (!cJSON_AddItemToObject(obj, key, child)) {
			cJSON_Delete(child);
			tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
			goto fail;
		}
		/* The object's copy of the key outlives this loop. */
		if (n->n > MAPB_LINEAR && smap_add(&idx, child->string, strlen(child->string), i)) {
			tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
			goto fail;
		}
	}
	smap_release(&idx);
	return obj;
fail:
	smap_release(&idx);
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *to_json(const struct ynode *n, struct tj *t, int depth)
{
	cJSON *j;

	if (++t->count > YAML_MAX_NODES)
		return tj_fail(t, PT_LIMIT, n, "more than %u nodes (aliases expanded)", (unsigned)YAML_MAX_NODES);
	if (depth > YAML_MAX_DEPTH + 1)
		return tj_fail(t, PT_LIMIT, n, "nesting deeper than %d levels", YAML_MAX_DEPTH);
	if (!n)
		j = cJSON_CreateNull();
	else if (n->kind == YNODE_SEQ)
		return seq_to_json(n, t, depth);
	else if (n->kind == YNODE_MAP)
		return map_to_json(n, t, depth);
	else
		j = scalar_to_json(n, t);
	if (!j && t->e && t->e->code == PT_OK)
		return tj_fail(t, PT_NOMEM, n, "out of memory converting YAML to JSON");
	return j;
}

cJSON *yaml_to_json(const struct ynode *n, struct pt_error *e)
{
	struct pt_error scratch = {0};
	struct tj t = {.e = e ? e : &scratch};

	t.e->code = PT_OK;
	return to_json(n, &t, 0);
}
