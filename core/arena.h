/* SPDX-License-Identifier: Apache-2.0 */
/* A bump allocator whose memory lives as long as one unit of work (a
 * request, a tick): allocations are never freed one by one, the whole arena
 * is reset when the work ends. A hard cap bounds what one input can take. */
#ifndef PT_ARENA_H
#define PT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t chunk_size;        /* size of an ordinary chunk */
	size_t total;             /* bytes held in chunks */
	size_t max;               /* cap on total; 0 means no cap */
};

/* Set up an empty arena. Allocates nothing until the first arena_alloc. */
void arena_init(struct arena *a, size_t chunk_size, size_t max);

/* Free every chunk. The arena is empty and usable again. */
void arena_release(struct arena *a);

/* Drop every allocation but keep the first chunk for the next unit of
 * work, so a steady load allocates nothing from the system. */
void arena_reset(struct arena *a);

/* n bytes aligned to 16, or NULL when memory or the cap runs out. The
 * memory is the arena's: it dies at arena_reset or arena_release. */
void *arena_alloc(struct arena *a, size_t n);

/* A NUL-terminated copy of n bytes of s, owned by the arena, or NULL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* printf into the arena; returns the string or NULL when out of memory. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether p points into one of the arena's chunks. */
bool arena_owns(const struct arena *a, const void *p);

#endif
