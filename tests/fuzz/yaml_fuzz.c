/* SPDX-License-Identifier: Apache-2.0 */
/* YAML streams through yaml_parse and every document through yaml_to_json
 * (what `podtuner mutate` and the pods file do with a Pod). Invariants: a
 * failure has a message and leaves *out alone; the JSON prints. */
#include "../../core/json.h"
#include "../../core/yaml.h"
#include "fuzz.h"

FUZZ_INIT_JSON()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ystream *ys = NULL;
	struct pt_error e = {0};

	if (yaml_parse("fuzz.yaml", (const char *)data, size, &ys, &e) != PT_OK) {
		FUZZ_CHECK(ys == NULL && e.msg[0], "error '%s'", e.msg);
		return 0;
	}
	for (size_t i = 0; i < ys->n_docs; i++) {
		cJSON *j = yaml_to_json(ys->docs[i].root, &e);
		char *text;

		if (!j) {
			FUZZ_CHECK(e.msg[0], "yaml_to_json failed without a message");
			continue;
		}
		text = cJSON_PrintUnformatted(j);
		FUZZ_CHECK(text, "cannot print the JSON");
		cJSON_free(text);
		cJSON_Delete(j);
	}
	yaml_stream_free(ys);
	return 0;
}
