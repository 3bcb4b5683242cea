/* SPDX-License-Identifier: Apache-2.0 */
/* Capped dynamic buffer. Growth doubles, so appends are amortised O(1). */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->arena = NULL;
}

void buf_init_arena(struct buf *b, struct arena *a, size_t max)
{
	buf_init(b, max);
	b->arena = a;
}

void buf_release(struct buf *b)
{
	if (!b->arena)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

enum pt_code buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return PT_LIMIT;
	need = b->len + n + 1;
	if (need <= b->cap)
		return PT_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if (b->arena) {
		/* The old block stays in the arena until it is reset. */
		if (!(p = arena_alloc(b->arena, cap)))
			return PT_NOMEM;
		if (b->len)
			memcpy(p, b->data, b->len + 1);
	} else if (!(p = realloc(b->data, cap))) {
		return PT_NOMEM;
	}
	b->data = p;
	b->cap = cap;
	return PT_OK;
}

enum pt_code buf_append(struct buf *b, const void *p, size_t n)
{
	enum pt_code rc = buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PT_OK;
}

enum pt_code buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum pt_code buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum pt_code buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(small, sizeof small, fmt, cp);
	va_end(cp);
	if (n < 0)
		return PT_INVALID;
	if ((size_t)n < sizeof small)
		return buf_append(b, small, (size_t)n);
	enum pt_code rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return PT_OK;
}

enum pt_code buf_printf(struct buf *b, const char *fmt, ...)
{
	enum pt_code rc;
	va_list ap;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

enum pt_code buf_put_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_append(b, tmp + i, sizeof tmp - i);
}

enum pt_code buf_put_i64(struct buf *b, int64_t v)
{
	if (v >= 0)
		return buf_put_u64(b, (uint64_t)v);
	enum pt_code rc = buf_putc(b, '-');
	return rc ? rc : buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
}

enum pt_code buf_put_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	enum pt_code rc;
	size_t i, run = 0;

	/* Worst case is 6 bytes per input byte; reserve the likely case. */
	if ((rc = buf_reserve(b, n + 2)))
		return rc;
	b->data[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = buf_append(b, s + run, i - run)))
			return rc;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if ((rc = buf_append(b, esc, elen)))
			return rc;
	}
	if ((rc = buf_append(b, s + run, n - run)))
		return rc;
	return buf_putc(b, '"');
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = p ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
