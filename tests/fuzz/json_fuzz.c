/* SPDX-License-Identifier: Apache-2.0 */
/* JSON (admission bodies, watch events, pods files, checkpoints) through
 * json_parse, on the heap and in an arena as the webhook parses; a JSON
 * array is also applied with patch_apply to a small Pod. Invariants: a
 * failure says where; both allocators give the same verdict; what
 * libcjson also accepts (it is laxer: no verdict the other way) is the
 * same tree. */
#include <stdlib.h>
#include <string.h>

#include "../../core/json.h"
#include "../../core/patch.h"
#include "fuzz.h"

static const char doc_json[] = "{\"metadata\":{\"annotations\":{\"a/b\":\"1\",\"c~d\":\"2\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},"
			       "{\"name\":\"b\"}]}}";

FUZZ_INIT_JSON()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pt_error e = {0};
	struct arena a, *prev;
	cJSON *heap, *in_arena, *doc, *ref;

	heap = json_parse(s, size, &e);
	FUZZ_CHECK(heap || (e.msg[0] && e.code == PT_SYNTAX), "error '%s'", e.msg);
	arena_init(&a, 4096, (size_t)64 << 20);
	prev = json_use_arena(&a);
	in_arena = json_parse(s, size, &e);
	json_use_arena(prev);
	FUZZ_CHECK(!heap == !in_arena, "heap %p, arena %p", (void *)heap, (void *)in_arena);
	arena_release(&a);
	ref = cJSON_ParseWithLength(s, size);
	if (heap && ref) {
		/* Printed, not cJSON_Compare: that finds 1e999 unequal to itself. */
		char *ours = cJSON_PrintUnformatted(heap), *theirs = cJSON_PrintUnformatted(ref);

		FUZZ_CHECK(ours && theirs && !strcmp(ours, theirs), "json_parse gives %s, libcjson %s", ours, theirs);
		free(ours);
		free(theirs);
	}
	cJSON_Delete(ref);
	if (cJSON_IsArray(heap)) {
		doc = cJSON_Parse(doc_json);
		FUZZ_CHECK(doc, "the fixed document does not parse");
		if (patch_apply(doc, s, size, &e) != PT_OK)
			FUZZ_CHECK(e.msg[0], "a failed patch without a message");
		cJSON_Delete(doc);
	}
	cJSON_Delete(heap);
	return 0;
}
