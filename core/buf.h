/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer with a hard cap (curl's dynbuf). The contents are
 * always NUL-terminated. Growth past the cap fails with PT_LIMIT and leaves
 * the buffer as it was, so a caller can report and carry on. */
#ifndef PT_BUF_H
#define PT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* the most bytes the buffer may hold, NUL excluded */
	struct arena *arena; /* non-NULL: storage comes from this arena */
};

/* Set up an empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* As buf_init, but the storage comes from a (a request's arena), so it
 * dies with the arena (buf_release only forgets it; buf_detach must not
 * be used). */
void buf_init_arena(struct buf *b, struct arena *a, size_t max);

/* Free the storage; the buffer is empty and usable again. */
void buf_release(struct buf *b);

/* Forget the contents but keep the storage for reuse. */
void buf_reset(struct buf *b);

/* Make room for n more bytes. PT_NOMEM or PT_LIMIT leave b untouched. */
enum pt_code buf_reserve(struct buf *b, size_t n) PT_WUR;

enum pt_code buf_append(struct buf *b, const void *p, size_t n) PT_WUR;
enum pt_code buf_puts(struct buf *b, const char *s) PT_WUR;
enum pt_code buf_putc(struct buf *b, char c) PT_WUR;
enum pt_code buf_printf(struct buf *b, const char *fmt, ...) PT_WUR PT_PRINTF(2, 3);
enum pt_code buf_vprintf(struct buf *b, const char *fmt, va_list ap) PT_WUR PT_PRINTF(2, 0);

/* Append a signed or unsigned decimal integer. */
enum pt_code buf_put_i64(struct buf *b, int64_t v) PT_WUR;
enum pt_code buf_put_u64(struct buf *b, uint64_t v) PT_WUR;

/* Append s (n bytes) as a JSON string, quotes included. Invalid UTF-8 is
 * passed through byte for byte; control characters are escaped. */
enum pt_code buf_put_json_str(struct buf *b, const char *s, size_t n) PT_WUR;

/* Hand the storage to the caller ("you now own it"); b becomes empty.
 * Returns an empty heap string rather than NULL when nothing was written,
 * or NULL if that allocation fails. */
char *buf_detach(struct buf *b, size_t *len);

#endif
