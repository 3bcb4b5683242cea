/* SPDX-License-Identifier: Apache-2.0 */
/* cJSON allocation hooks and accessors. The hooks are process-wide (cJSON
 * has no per-call allocator), the arena is per thread. */
#include "json.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local struct arena *cur_arena;

static void *json_malloc(size_t n)
{
	return cur_arena ? arena_alloc(cur_arena, n) : malloc(n);
}

static void json_free(void *p)
{
	/* Arena memory is released by arena_reset, never one by one. */
	if (cur_arena && arena_owns(cur_arena, p))
		return;
	free(p);
}

void json_init(void)
{
	cJSON_Hooks h = {.malloc_fn = json_malloc, .free_fn = json_free};

	cJSON_InitHooks(&h);
}

struct arena *json_use_arena(struct arena *a)
{
	struct arena *prev = cur_arena;

	cur_arena = a;
	return prev;
}

/* Where the error is, as line and column (1-based, in bytes). */
static void locate(const char *s, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = s; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static cJSON *fail_at(const char *s, const char *at, const char *what, struct pt_error *e)
{
	int line, col;

	locate(s, at, &line, &col);
	pt_error_set(e, PT_SYNTAX, "invalid JSON at byte %zu (line %d, column %d)%s", (size_t)(at - s), line,
		     col, what);
	if (e) {
		e->line = line;
		e->col = col;
	}
	return NULL;
}

/* --- the parser -------------------------------------------------------- */

/* A strict RFC 8259 parser that builds ordinary cJSON trees, nodes and
 * strings allocated through the same hooks as cJSON's, so cJSON_Delete,
 * cJSON_Print and the accessors work on them. It exists for speed: on an
 * AdmissionReview cJSON's own parser spends its time comparing "null",
 * "true" and "false" at every value, asking localeconv for every number
 * and measuring every string twice; this one looks at each byte once.
 * tests/unit/json_test.c checks it against libcjson on the same inputs. */

struct jp {
	const char *s, *p, *end;
	int depth;
	const char *err_at;
	const char *err_what;
};

static bool jp_fail(struct jp *j, const char *at, const char *what)
{
	if (!j->err_at) {
		j->err_at = at;
		j->err_what = what;
	}
	return false;
}

/* The bytes that end a plain run in a string: the quote, the backslash
 * and the control characters. */
static const bool jp_stop[256] = {
	[0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x10] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static cJSON *jp_node(struct jp *j, int type)
{
	cJSON *n = json_malloc(sizeof *n);

	if (!n) {
		jp_fail(j, j->p, ": out of memory");
		return NULL;
	}
	memset(n, 0, sizeof *n);
	n->type = type;
	return n;
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static char *utf8_put(char *d, unsigned cp)
{
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
	return d;
}

/* A string at j->p (the opening quote), into a new NUL-terminated copy.
 * Escapes never lengthen the text, so the raw length bounds the copy. */
static char *jp_string(struct jp *j)
{
	const char *start = ++j->p, *q = start;
	bool escapes = false;
	char *out, *d;

	for (;;) {
		/* Eight bytes at a time while none is a quote, a backslash or
		 * a control character. The tests of "Bit Twiddling Hacks":
		 * (x - 0x01..) & ~x & 0x80.. is non-zero iff some byte of x is
		 * zero, and (x - 0x20..) & ~x & 0x80.. iff some byte is below
		 * 0x20; exact for the word, not for which byte. */
		while (j->end - q >= 8) {
			uint64_t w, ones = 0x0101010101010101u, high = 0x8080808080808080u;

			memcpy(&w, q, 8);
			uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
			if (((quote - ones) & ~quote & high) | ((bslash - ones) & ~bslash & high) |
			    ((w - ones * 0x20) & ~w & high))
				break;
			q += 8;
		}
		while (q < j->end && !jp_stop[(unsigned char)*q])
			q++;
		if (q >= j->end)
			return jp_fail(j, q, ": unterminated string"), NULL;
		unsigned char c = (unsigned char)*q;
		if (c == '"')
			break;
		if (c == '\\') {
			escapes = true;
			if (++q >= j->end)
				return jp_fail(j, q, ": unterminated string"), NULL;
		} else if (c < 0x20) {
			return jp_fail(j, q, c ? ": a control character in a string" : ": a NUL byte"), NULL;
		}
		q++;
	}
	if (!(out = json_malloc((size_t)(q - start) + 1)))
		return jp_fail(j, start, ": out of memory"), NULL;
	j->p = q + 1;
	if (!escapes) {
		memcpy(out, start, (size_t)(q - start));
		out[q - start] = '\0';
		return out;
	}
	d = out;
	for (const char *r = start; r < q; r++) {
		int cp, lo;

		if (*r != '\\') {
			*d++ = *r;
			continue;
		}
		switch (*++r) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '/': *d++ = '/'; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			if (q - r < 5 || (cp = hex4(r + 1)) < 0)
				goto bad;
			r += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad; /* a low surrogate on its own */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - r < 7 || r[1] != '\\' || r[2] != 'u' || (lo = hex4(r + 3)) < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				r += 6;
			}
			if (cp == 0) {
				json_free(out);
				return jp_fail(j, r, ": a NUL byte (\\u0000)"), NULL;
			}
			d = utf8_put(d, (unsigned)cp);
			break;
		default:
			goto bad;
		}
	}
	*d = '\0';
	return out;
bad:
	json_free(out);
	return jp_fail(j, start, ": a bad escape in a string"), NULL;
}

/* A number by the JSON grammar. Integers of up to 15 digits are exact in
 * a double and converted here; other forms go to strtod (the C locale:
 * podtuner never calls setlocale). */
static bool jp_number(struct jp *j, cJSON *n)
{
	const char *p = j->p, *start = p;
	bool simple = true;
	int64_t iv = 0;
	char tmp[512];
	double v;

	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return jp_fail(j, start, "");
	if (*p == '0') {
		p++;
	} else {
		while (p < j->end && *p >= '0' && *p <= '9')
			iv = p - start < 16 ? iv * 10 + (*p++ - '0') : (p++, iv);
	}
	if (p < j->end && *p == '.') {
		simple = false;
		if (++p >= j->end || *p < '0' || *p > '9')
			return jp_fail(j, p, ": a digit must follow '.'");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		simple = false;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return jp_fail(j, p, ": a digit must follow the exponent");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (simple && p - start - (*start == '-') <= 15) {
		v = *start == '-' ? -(double)iv : (double)iv; /* "-0" is -0.0, as strtod has it */
	} else {
		if ((size_t)(p - start) >= sizeof tmp)
			return jp_fail(j, start, ": a number too long");
		memcpy(tmp, start, (size_t)(p - start));
		tmp[p - start] = '\0';
		v = strtod(tmp, NULL);
	}
	n->valuedouble = v;
	/* As cJSON sets it (cJSON.c parse_number). */
	n->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
	j->p = p;
	return true;
}

static bool jp_value(struct jp *j, cJSON *n);

/* The members of an array or object, linked as cJSON links them: next and
 * prev along the chain, and the first child's prev at the last one. */
static bool jp_container(struct jp *j, cJSON *n, bool object)
{
	char close = object ? '}' : ']';
	cJSON *last = NULL;

	if (++j->depth > JSON_MAX_DEPTH)
		return jp_fail(j, j->p, ": nested too deeply");
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		cJSON *c;
		char *key = NULL;

		if (object) {
			if (j->p >= j->end || *j->p != '"')
				return jp_fail(j, j->p, ": a member name in quotes was expected");
			if (!(key = jp_string(j)))
				return false;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				json_free(key);
				return jp_fail(j, j->p, ": ':' was expected");
			}
			j->p++;
			jp_ws(j);
		}
		if (!(c = jp_node(j, cJSON_Invalid))) {
			json_free(key);
			return false;
		}
		c->string = key;
		if (last) {
			last->next = c;
			c->prev = last;
		} else {
			n->child = c;
		}
		last = c;
		n->child->prev = last;
		if (!jp_value(j, c))
			return false;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			jp_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			j->depth--;
			return true;
		}
		return jp_fail(j, j->p, object ? ": ',' or '}' was expected" : ": ',' or ']' was expected");
	}
}

static bool jp_literal(struct jp *j, const char *word, size_t len, int type, cJSON *n)
{
	if ((size_t)(j->end - j->p) < len || memcmp(j->p, word, len) != 0)
		return jp_fail(j, j->p, "");
	j->p += len;
	n->type = type;
	return true;
}

static bool jp_value(struct jp *j, cJSON *n)
{
	if (j->p >= j->end)
		return jp_fail(j, j->p, ": a value was expected");
	switch (*j->p) {
	case '{':
		n->type = cJSON_Object;
		return jp_container(j, n, true);
	case '[':
		n->type = cJSON_Array;
		return jp_container(j, n, false);
	case '"':
		n->type = cJSON_String;
		return (n->valuestring = jp_string(j)) != NULL;
	case 't': return jp_literal(j, "true", 4, cJSON_True, n);
	case 'f': return jp_literal(j, "false", 5, cJSON_False, n);
	case 'n': return jp_literal(j, "null", 4, cJSON_NULL, n);
	default:
		n->type = cJSON_Number;
		return jp_number(j, n);
	}
}

cJSON *json_parse(const char *s, size_t len, struct pt_error *e)
{
	struct jp j = {.s = s, .p = s, .end = s + len};
	cJSON *root;

	if (len == 0) {
		pt_error_set(e, PT_SYNTAX, "empty document");
		return NULL;
	}
	jp_ws(&j);
	if (!(root = jp_node(&j, cJSON_Invalid)))
		return fail_at(s, j.err_at, j.err_what, e);
	if (jp_value(&j, root)) {
		/* Only white space may follow the value (RFC 8259 section 2). */
		jp_ws(&j);
		if (j.p == j.end)
			return root;
		jp_fail(&j, j.p, *j.p ? ": text after the value" : ": a NUL byte");
	}
	/* An arena tree dies with its arena; a heap one is freed here. */
	if (!cur_arena)
		cJSON_Delete(root);
	if (j.err_at >= s + len)
		pt_error_set(e, PT_SYNTAX, "invalid JSON: unexpected end of input at byte %zu", len);
	else
		fail_at(s, j.err_at, j.err_what, e);
	if (e && j.err_at >= s + len)
		locate(s, s + len, &e->line, &e->col);
	return NULL;
}

cJSON *json_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const char *json_get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = json_get(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *json_path(const cJSON *obj, ...)
{
	const char *key;
	va_list ap;

	va_start(ap, obj);
	while (obj && (key = va_arg(ap, const char *)))
		obj = json_get(obj, key);
	va_end(ap);
	return (cJSON *)obj;
}
