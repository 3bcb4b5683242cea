/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator. A chunk larger than chunk_size is made for a big request,
 * so a single huge allocation costs one malloc and no waste. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes in mem[] */
	size_t used;
	_Alignas(16) unsigned char mem[];
};

void arena_init(struct arena *a, size_t chunk_size, size_t max)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 16384;
	a->total = 0;
	a->max = max;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->total = 0;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *keep = NULL, *c = a->head, *next;

	/* Keep one chunk of ordinary size; free the rest. */
	for (; c; c = next) {
		next = c->next;
		if (!keep && c->size == a->chunk_size)
			keep = c;
		else
			free(c);
	}
	a->head = keep;
	a->total = 0;
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
		a->total = keep->size;
	}
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t size;

	/* Round up to 16, refusing what the rounding or a chunk header
	 * would wrap. */
	if (n > SIZE_MAX - 15 - sizeof *c)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (c && c->size - c->used >= n) {
		void *p = c->mem + c->used;
		c->used += n;
		return p;
	}
	size = n > a->chunk_size / 4 ? n : a->chunk_size;
	if (a->max && (size > a->max || a->total > a->max - size))
		return NULL;
	c = malloc(sizeof *c + size);
	if (!c)
		return NULL;
	c->size = size;
	c->used = n;
	a->total += size;
	if (size == n && a->head) {
		/* A dedicated chunk: put it behind the current one so the
		 * current chunk's free space stays in use. */
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->mem;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(p = arena_alloc(a, (size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

bool arena_owns(const struct arena *a, const void *p)
{
	const struct arena_chunk *c;
	uintptr_t u = (uintptr_t)p;

	for (c = a->head; c; c = c->next)
		if (u >= (uintptr_t)c->mem && u < (uintptr_t)c->mem + c->size)
			return true;
	return false;
}
