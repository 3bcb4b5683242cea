/* SPDX-License-Identifier: Apache-2.0 */
/* cJSON allocation hooks and accessors. The hooks are process-wide (cJSON
 * has no per-call allocator), the arena is per thread. */
#include "json.h"

#include <stdarg.h>
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

cJSON *json_parse(const char *s, size_t len, struct pt_error *e)
{
	const char *end = NULL, *nul;
	cJSON *root;
	size_t i;

	if (len == 0) {
		pt_error_set(e, PT_SYNTAX, "empty document");
		return NULL;
	}
	/* cJSON copies a raw NUL inside a string and so cuts the string
	 * there ("ab\0cd" reads as "ab"): an AdmissionReview uid would be
	 * echoed cut short. JSON never has a raw NUL (RFC 8259 section 7). */
	if ((nul = memchr(s, '\0', len)))
		return fail_at(s, nul, ": a NUL byte", e);
	root = cJSON_ParseWithLengthOpts(s, len, &end, false);
	if (!root) {
		if (end && end >= s && end < s + len)
			return fail_at(s, end, "", e);
		pt_error_set(e, PT_SYNTAX, "invalid JSON: unexpected end of input at byte %zu", len);
		return NULL;
	}
	/* Only white space may follow the value (RFC 8259 section 2);
	 * cJSON stops after the value and leaves the rest to the caller. */
	i = end && end >= s && end <= s + len ? (size_t)(end - s) : len;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (i < len) {
		cJSON_Delete(root);
		return fail_at(s, s + i, ": text after the value", e);
	}
	return root;
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
