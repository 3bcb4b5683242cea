/* SPDX-License-Identifier: Apache-2.0 */
/* Policy files through policy_set_load from a buffer, as a ConfigMap
 * delivers them; a set that loads then tunes a fixed Pod, so arbitrary
 * env names, values and rlimits reach the patch writer. Invariants: a
 * failed load says why at file:line:col and yields no set; a loaded set
 * gives a patch that applies and a second pass with nothing to do. */
#include "../../core/json.h"
#include "../../core/patch.h"
#include "../../core/policy.h"
#include "../../core/tune.h"
#include "fuzz.h"

/* Undeclared, Go and Java containers, one without env, no annotations. */
static const char pod_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"default\","
	"\"labels\":{\"app\":\"a\"}},\"spec\":{\"runtimeClassName\":\"wasmtime-spin-v2\",\"containers\":["
	"{\"name\":\"a\",\"image\":\"ghcr.io/acme/a:1\",\"resources\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"512Mi\"}},"
	"\"env\":[{\"name\":\"GOGC\",\"value\":\"200\"},{\"name\":\"JAVA_TOOL_OPTIONS\",\"value\":\"-Xmx1g -Dx=1\"}]},"
	"{\"name\":\"b\",\"image\":\"eclipse-temurin:21\",\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}],"
	"\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\",\"env\":[]}]}}";

static cJSON *pod;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_init();
	pod = cJSON_Parse(pod_json);
	FUZZ_CHECK(pod, "the fixed pod does not parse");
	return 0;
}

static void tune_twice(const struct policy_set *ps)
{
	cJSON *copy = cJSON_Duplicate(pod, true);
	struct tune_input in = {.pod = copy, .policies = ps, .path_prefix = ""};
	struct tune_result r;
	struct pt_error e = {0};
	struct arena a;
	struct buf patch, again;
	enum pt_code rc;

	FUZZ_CHECK(copy, "cannot copy the pod");
	arena_init(&a, (size_t)64 << 10, (size_t)64 << 20);
	buf_init_arena(&patch, &a, (size_t)4 << 20);
	buf_init_arena(&again, &a, (size_t)4 << 20);
	if (tune_pod(&in, &a, &patch, &r, &e) != PT_OK)
		goto out; /* over a limit, with a message: the webhook fails open */
	rc = patch_apply(copy, patch.data, patch.len, &e);
	FUZZ_CHECK(rc == PT_OK, "the patch does not apply: %s\npatch: %s", e.msg, patch.data);
	rc = tune_pod(&in, &a, &again, &r, &e);
	FUZZ_CHECK(rc == PT_OK && r.n_ops == 0, "second pass: %s\nfirst patch: %s", rc ? e.msg : again.data,
		   patch.data);
out:
	arena_release(&a);
	cJSON_Delete(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_source src = {.path = "fuzz.yaml", .data = size ? (const char *)data : "", .len = size};
	struct policy_set *ps = NULL;
	struct policy_diags d = {0};
	enum pt_code rc = policy_set_load(&src, 1, &ps, &d);

	if (rc == PT_OK) {
		FUZZ_CHECK(ps && d.n == 0, "loaded with %zu errors", d.n);
		tune_twice(ps);
		policy_set_unref(ps);
	} else {
		FUZZ_CHECK(!ps && (d.n > 0 || rc == PT_NOMEM), "%s without a message", pt_strerror(rc));
		for (size_t i = 0; i < d.n; i++)
			FUZZ_CHECK(d.v[i].msg[0] && d.v[i].line >= 1, "diag %zu: '%s' at line %d", i, d.v[i].msg,
				   d.v[i].line);
	}
	policy_diags_release(&d);
	return 0;
}
