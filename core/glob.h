/* SPDX-License-Identifier: Apache-2.0 */
/* Shell-style globs for policy matches: `*` (any run, including empty and
 * '/'), `?` (one byte), `[abc]`, `[a-z]`, `[!x]`, and `\` to escape. */
#ifndef PT_GLOB_H
#define PT_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Check a pattern: an unterminated `[`, an empty class `[]` or `[!]`, a
 * reversed range `[z-a]`, a trailing `\`, or a POSIX `[:`, `[.`, `[=`
 * inside a class (not supported) is PT_SYNTAX with a message saying which
 * and where. In a class, `!` or `^` first negates, `-` first or last is
 * literal, and `]` always closes (write `\]` for a literal one). */
enum pt_code glob_check(const char *pat, struct pt_error *e) PT_WUR;

/* Whether s (len bytes; NUL is an ordinary byte) matches the checked
 * pattern, as fnmatch(3) without flags does in the C locale. Backtracking
 * is bounded to the last `*`: O(len(pat) * len) at worst. A malformed
 * pattern matches nothing. */
bool glob_match(const char *pat, const char *s, size_t len);

#endif
