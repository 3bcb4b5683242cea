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

cJSON *json_parse(const char *s, size_t len, struct pt_error *e)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, false);
	int line = 1, col = 1;

	if (root)
		return root;
	if (!end || end < s || end > s + len)
		end = s + len;
	for (const char *p = s; p < end; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (len == 0)
		pt_error_set(e, PT_SYNTAX, "empty document");
	else if (end >= s + len)
		pt_error_set(e, PT_SYNTAX, "invalid JSON: unexpected end of input at byte %zu", len);
	else
		pt_error_set(e, PT_SYNTAX, "invalid JSON at byte %zu (line %d, column %d)",
			     (size_t)(end - s), line, col);
	if (e) {
		e->line = line;
		e->col = col;
	}
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
