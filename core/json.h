/* SPDX-License-Identifier: Apache-2.0 */
/* cJSON is the project's JSON model. This module routes cJSON's allocations
 * into a per-thread arena while a unit of work is active, because malloc
 * is ~40% of cJSON's parse time, and adds the few accessors the project
 * needs. Trees built inside an arena scope must never be cJSON_Delete'd
 * after the scope ends; arena_reset frees them. */
#ifndef PT_JSON_H
#define PT_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

/* Install the allocation hooks. Call once, before any thread uses cJSON. */
void json_init(void);

/* Send this thread's cJSON allocations to a (NULL: back to malloc).
 * Returns the arena that was active, to be restored by the caller. */
struct arena *json_use_arena(struct arena *a);

#define JSON_MAX_DEPTH 512 /* nesting of arrays and objects */

/* Parse len bytes as exactly one JSON value (RFC 8259, strictly: white
 * space only around it, no raw NUL or control character in a string,
 * \u0000 refused because it would cut the C string). The tree is an
 * ordinary cJSON tree allocated through cJSON's hooks (the thread's arena
 * when one is in use): free it with cJSON_Delete unless it lives in an
 * arena. On failure returns NULL and fills e with the byte offset, line
 * and column of the error. */
cJSON *json_parse(const char *s, size_t len, struct pt_error *e);

/* Member lookup, case-sensitive (JSON keys are). NULL if obj is not an
 * object or has no such member. */
cJSON *json_get(const cJSON *obj, const char *key);

/* The string value of obj[key], or NULL when absent or not a string. */
const char *json_get_str(const cJSON *obj, const char *key);

/* Follow a path of keys ("metadata", "annotations", NULL). */
cJSON *json_path(const cJSON *obj, ...) __attribute__((sentinel));

#endif
