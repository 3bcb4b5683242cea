/* SPDX-License-Identifier: Apache-2.0 */
/* AdmissionReview bodies through review_parse and review_respond, as the
 * webhook runs them, with the shipped policies and with a set that tunes
 * every container (Go, Java, env, rlimits). Invariants: the response is
 * JSON with the request's uid; its patch is the engine's, applies to the
 * object (patch_apply, evanphx semantics), and leaves a second pass nothing
 * to do, since the apiserver may reinvoke the webhook (DESIGN.md §3). */
#include "../../core/base64.h"
#include "../../core/json.h"
#include "../../core/patch.h"
#include "../../webhook/review.h"
#include "fuzz.h"

#define PATCH_MAX ((size_t)4 << 20)    /* as webhook.c */
#define RESPONSE_MAX ((size_t)8 << 20) /* as webhook.c */
#define SCRATCH_MAX ((size_t)64 << 20) /* as webhook.c */

/* Java claims images with a 'j', Go every other undeclared one, and "any"
 * takes the declared containers those leave (a wasm pod, say). */
static const char tune_all[] =
	"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: fuzz-java}\n"
	"spec:\n  priority: 10\n  runtime: java\n  match: {images: ['*j*']}\n  tune:\n"
	"    java: {activeProcessorCount: floor, maxRAMPercentage: 75, initialRAMPercentage: 50,\n"
	"           options: ['-XX:+ExitOnOutOfMemoryError', '-Dfuzz.a=1']}\n"
	"    env: [{name: FUZZ_JAVA, value: 'a b'}]\n"
	"    rlimits: {nofile: '65536:1048576', core: '0'}\n    override: true\n"
	"---\napiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: fuzz-go}\n"
	"spec:\n  runtime: go\n  match: {images: ['*']}\n  tune:\n"
	"    go: {gomaxprocs: ceil, gomaxprocsMin: 2, gomaxprocsMax: 64, gomemlimitRatio: 0.8, gogc: '50'}\n"
	"    env: [{name: GODEBUG, value: 'madvdontneed=1'}, {name: FUZZ_GO}]\n"
	"    rlimits: {nofile: '1024:unlimited', nproc: unlimited}\n"
	"---\napiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: fuzz-any}\n"
	"spec:\n  priority: -10\n  runtime: any\n  tune:\n"
	"    env: [{name: FUZZ_ANY, value: '~/x'}]\n    rlimits: {memlock: unlimited}\n    override: true\n";

static struct policy_set *sets[2];

static void load_failed(const char *what, const struct policy_diags *d)
{
	fprintf(stderr, "cannot load %s:\n", what);
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  %s:%d:%d: %s\n", d->v[i].file, d->v[i].line, d->v[i].col, d->v[i].msg);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct policy_source src = {.path = "fuzz-policy.yaml", .data = tune_all, .len = sizeof tune_all - 1};
	struct policy_diags d = {0};

	(void)argc;
	(void)argv;
	json_init();
	if (policy_set_load_embedded(&sets[0], &d))
		load_failed("the embedded policies", &d);
	if (policy_set_load(&src, 1, &sets[1], &d))
		load_failed("the fuzz policy", &d);
	return 0;
}

/* The patch applies to a copy of the object, and the engine run again on
 * the result has nothing to do. */
static void check_patch(const struct review_request *rq, const struct policy_set *ps, const struct buf *patch,
			struct arena *a)
{
	cJSON *pod = cJSON_Duplicate(rq->object, true);
	struct tune_input in = {.pod = pod, .namespace = rq->namespace, .policies = ps, .path_prefix = ""};
	struct tune_result r;
	struct pt_error e = {0};
	struct buf again;
	enum pt_code rc;

	FUZZ_CHECK(pod, "cannot copy the object");
	rc = patch_apply(pod, patch->data, patch->len, &e);
	FUZZ_CHECK(rc == PT_OK, "the patch does not apply: %s\npatch: %.*s", e.msg, (int)patch->len, patch->data);
	buf_init_arena(&again, a, PATCH_MAX);
	rc = tune_pod(&in, a, &again, &r, &e);
	FUZZ_CHECK(rc == PT_OK && r.n_ops == 0, "second pass: %s, %zu ops: %s\nfirst patch: %.*s", pt_strerror(rc),
		   rc ? 0 : r.n_ops, rc ? e.msg : again.data, (int)patch->len, patch->data);
	cJSON_Delete(pod);
}

/* The response is one JSON document with the request's uid, and carries
 * exactly the engine's patch when there is one. */
static void check_response(const struct review_request *rq, const struct buf *out, const struct buf *patch,
			   const struct review_outcome *oc)
{
	struct pt_error e = {0};
	cJSON *doc = json_parse(out->data, out->len, &e);
	const cJSON *resp = json_get(doc, "response");
	const char *uid = json_get_str(resp, "uid"), *b64 = json_get_str(resp, "patch");
	struct buf dec;

	FUZZ_CHECK(doc, "the response is not JSON: %s\n%.*s", e.msg, (int)out->len, out->data);
	FUZZ_CHECK(uid && strcmp(uid, rq->uid) == 0, "uid '%s' in the response, '%s' in the request",
		   uid ? uid : "(none)", rq->uid);
	FUZZ_CHECK((oc->result == REVIEW_PATCHED) == (b64 != NULL), "%s with%s a patch",
		   review_result_name(oc->result), b64 ? "" : "out");
	if (b64) {
		buf_init(&dec, PATCH_MAX);
		FUZZ_CHECK(base64_decode(&dec, b64, strlen(b64), "patch", &e) == PT_OK, "%s", e.msg);
		FUZZ_CHECK(dec.len == patch->len && memcmp(dec.data, patch->data, dec.len) == 0,
			   "the response's patch is not the engine's");
		buf_release(&dec);
	}
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct review_request rq;
	struct review_outcome oc;
	struct pt_error e = {0};

	arena_init(&a, (size_t)64 << 10, SCRATCH_MAX);
	if (review_parse((const char *)data, size, &a, &rq, &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0], "an error without a message");
		goto out;
	}
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		struct buf patch, out;

		buf_init_arena(&patch, &a, PATCH_MAX);
		buf_init_arena(&out, &a, RESPONSE_MAX);
		if (review_respond(&rq, sets[i], &a, &patch, &out, &oc) != PT_OK)
			continue; /* over a cap: the webhook answers 500 */
		check_response(&rq, &out, &patch, &oc);
		if (oc.result == REVIEW_PATCHED)
			check_patch(&rq, sets[i], &patch, &a);
	}
out:
	arena_release(&a);
	return 0;
}
