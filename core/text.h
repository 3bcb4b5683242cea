/* SPDX-License-Identifier: Apache-2.0 */
/* Small text helpers that several parsers share: quoting input in error
 * messages, case-insensitive keywords, "did you mean" distances, and the
 * FNV-1a hash. */
#ifndef PT_TEXT_H
#define PT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_FNV_INIT 14695981039346656037ULL

/* Feed n bytes to an FNV-1a 64 hash (start from TEXT_FNV_INIT). */
uint64_t text_fnv1a(uint64_t h, const void *p, size_t n);

/* Render at most max bytes of s (len bytes) printably into buf (size
 * bytes, at least 8): bytes outside 0x20..0x7e as \xNN, "..." when cut.
 * Returns buf, always NUL-terminated. For quoting input in messages. */
const char *text_quote(const char *s, size_t len, size_t max, char *buf, size_t size);

/* Whether the n bytes at p equal lower, ignoring ASCII case in p. */
bool text_ieq(const char *p, size_t n, const char *lower);

/* The optimal string alignment distance (Levenshtein with transpositions)
 * between a and b; SIZE_MAX when either is longer than 64 bytes. */
size_t text_edit_distance(const char *a, size_t na, const char *b, size_t nb);

#endif
