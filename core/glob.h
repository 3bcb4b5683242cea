/* SPDX-License-Identifier: Apache-2.0 */
/* Shell-style globs for policy matches: `*` (any run, including empty and
 * '/'), `?` (one byte), `[abc]`, `[a-z]`, `[!x]`, and `\` to escape. */
#ifndef PT_GLOB_H
#define PT_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Check a pattern: an unterminated `[`, an empty class `[]`, a reversed
 * range `[z-a]` or a trailing `\` is PT_SYNTAX with a message saying which. */
enum pt_code glob_check(const char *pat, struct pt_error *e) PT_WUR;

/* Whether s (len bytes) matches the (checked) pattern. Linear-time in
 * practice: backtracking is bounded to the last `*`. */
bool glob_match(const char *pat, const char *s, size_t len);

#endif
