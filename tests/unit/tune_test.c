/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning engine on small Pods: the patch shape the apiserver needs
 * (whole env or /-, annotations map or key, escaping), values and their
 * rounding, what is kept and skipped and why, precedence, and that a
 * second pass over the patched Pod emits nothing. Patches are applied here
 * with the project's applier; tests/integration/engine.sh applies them with
 * an independent RFC 6902 implementation. */
#include "../../core/json.h"
#include "../../core/patch.h"
#include "../../core/tune.h"
#include "test.h"

static struct policy_set *load(const char *yaml)
{
	struct policy_source src = {.path = "t.yaml", .data = yaml, .len = strlen(yaml)};
	struct policy_diags d = {0};
	struct policy_set *ps = NULL;
	char line[1024];

	if (policy_set_load(&src, 1, &ps, &d) != PT_OK) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", pt_error_format(&d.v[i], line, sizeof line));
		policy_diags_release(&d);
		fprintf(stderr, "test policy does not load\n");
		exit(2);
	}
	policy_diags_release(&d);
	return ps;
}

#define GO_POLICY                                                                   \
	"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: go}\n" \
	"spec:\n  runtime: go\n  tune:\n    go: {gogc: \"100\"}\n"

struct run {
	struct arena a;
	struct buf patch;
	struct tune_result r;
	cJSON *pod;
	enum pt_code rc;
	struct pt_error e;
};

static void run(struct run *x, const struct policy_set *ps, const char *pod_json, bool explain)
{
	struct tune_input in = {.policies = ps, .path_prefix = "", .explain = explain};

	arena_init(&x->a, 16384, 0);
	buf_init(&x->patch, 1u << 20);
	x->pod = json_parse(pod_json, strlen(pod_json), NULL);
	if (!x->pod) {
		fprintf(stderr, "bad test pod: %s\n", pod_json);
		exit(2);
	}
	in.pod = x->pod;
	memset(&x->r, 0, sizeof x->r);
	x->rc = tune_pod(&in, &x->a, &x->patch, &x->r, &x->e);
}

static void done(struct run *x)
{
	cJSON_Delete(x->pod);
	buf_release(&x->patch);
	arena_release(&x->a);
}

/* Apply the patch, run again, and require no operations. */
static void check_idempotent(struct run *x, const struct policy_set *ps)
{
	struct run again;
	struct pt_error e;
	char *text;

	if (patch_apply(x->pod, x->patch.data, x->patch.len, &e) != PT_OK) {
		TFAIL("patch does not apply: %s: %s", e.msg, x->patch.data);
		return;
	}
	text = cJSON_PrintUnformatted(x->pod);
	run(&again, ps, text, false);
	CHECK_INT(again.rc, PT_OK);
	CHECK_INT(again.r.n_ops, 0);
	if (again.r.n_ops)
		TFAIL("second pass: %s", again.patch.data);
	done(&again);
	free(text);
}

static const struct tune_change *find_change(const struct tune_result *r, const char *ctr, const char *knob)
{
	for (size_t i = 0; i < r->n_containers; i++) {
		if (strcmp(r->containers[i].name, ctr) != 0)
			continue;
		for (size_t k = 0; k < r->containers[i].n_changes; k++)
			if (strcmp(r->containers[i].changes[k].knob, knob) == 0)
				return &r->containers[i].changes[k];
	}
	return NULL;
}

static const char *env_in(const cJSON *pod, size_t ctr, const char *name)
{
	const cJSON *c = cJSON_GetArrayItem(json_path(pod, "spec", "containers", NULL), (int)ctr), *e;
	const char *v = NULL;

	cJSON_ArrayForEach(e, json_get(c, "env"))
		if (strcmp(json_get_str(e, "name"), name) == 0)
			v = json_get_str(e, "value");
	return v;
}

static void test_env_absent_added_whole(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
	    "\"resources\":{\"limits\":{\"cpu\":\"2500m\",\"memory\":\"512Mi\"}}}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_STR(x.patch.data,
		  "[{\"op\":\"add\",\"path\":\"/spec/containers/0/env\",\"value\":[{\"name\":\"GOMAXPROCS\",\"value\":"
		  "\"2\"},{\"name\":\"GOMEMLIMIT\",\"value\":\"460MiB\"},{\"name\":\"GOGC\",\"value\":\"100\"}]},"
		  "{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{\"podtuner.io/tuned\":\"{\\\"a\\\":"
		  "{\\\"policy\\\":\\\"go\\\",\\\"applied\\\":[\\\"GOMAXPROCS\\\",\\\"GOMEMLIMIT\\\",\\\"GOGC\\\"]}}\"}}]");
	CHECK_INT(x.r.n_tuned, 1);
	check_idempotent(&x, ps);
	done(&x);
	policy_set_unref(ps);
}

static void test_env_present_appended_and_key_escaped(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"annotations\":{\"x\":\"y\"},\"labels\":{\"podtuner.io/runtime\":\"go\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
	    "\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_CONTAINS(x.patch.data, "{\"op\":\"add\",\"path\":\"/spec/containers/0/env/-\",\"value\":{\"name\":"
				     "\"GOMAXPROCS\",\"value\":\"1\"}}");
	CHECK_CONTAINS(x.patch.data, "\"path\":\"/metadata/annotations/podtuner.io~1tuned\"");
	/* No memory limit: GOMEMLIMIT is skipped, with the reason. */
	const struct tune_change *ch = find_change(&x.r, "a", "GOMEMLIMIT");
	CHECK(ch && ch->action == TUNE_SKIP);
	if (ch)
		CHECK_CONTAINS(ch->reason, "no memory limit");
	check_idempotent(&x, ps);
	done(&x);
	policy_set_unref(ps);
}

static void test_no_metadata_at_all(void)
{
	struct policy_set *ps = load(
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: any}\n"
		"spec:\n  runtime: any\n  tune:\n    env: [{name: X, value: \"1\"}]\n    rlimits: {nofile: \"1024:4096\"}\n");
	struct run x;

	run(&x, ps, "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_CONTAINS(x.patch.data, "{\"op\":\"add\",\"path\":\"/metadata\",\"value\":{\"annotations\":{");
	CHECK_CONTAINS(x.patch.data, "\"podtuner.io/rlimits\":\"{\\\"a\\\":{\\\"nofile\\\":\\\"1024:4096\\\"}}\"");
	check_idempotent(&x, ps);
	done(&x);
	policy_set_unref(ps);
}

static void test_user_values_kept_or_overridden(void)
{
	const char *pod = "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":[{"
			  "\"name\":\"a\",\"env\":[{\"name\":\"GOMAXPROCS\",\"value\":\"8\"},"
			  "{\"name\":\"GOMEMLIMIT\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"x\"}}},"
			  "{\"name\":\"GOGC\",\"value\":\"100\"}],"
			  "\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}]}}";
	struct policy_set *keep = load(GO_POLICY);
	struct policy_set *over = load(GO_POLICY "    override: true\n");
	struct run x;

	run(&x, keep, pod, true);
	CHECK_INT(x.rc, PT_OK);
	CHECK_INT(find_change(&x.r, "a", "GOMAXPROCS")->action, TUNE_SKIP);
	CHECK_CONTAINS(find_change(&x.r, "a", "GOMAXPROCS")->reason, "set by the user to '8'");
	CHECK_INT(find_change(&x.r, "a", "GOMEMLIMIT")->action, TUNE_SKIP);
	CHECK_INT(find_change(&x.r, "a", "GOGC")->action, TUNE_KEEP);
	/* Only the record of what is in force is written. */
	CHECK_INT(x.r.n_ops, 1);
	check_idempotent(&x, keep);
	done(&x);

	run(&x, over, pod, false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_CONTAINS(x.patch.data, "{\"op\":\"replace\",\"path\":\"/spec/containers/0/env/0/value\",\"value\":\"2\"}");
	CHECK_CONTAINS(x.patch.data, "{\"op\":\"replace\",\"path\":\"/spec/containers/0/env/1\",\"value\":{\"name\":"
				     "\"GOMEMLIMIT\",\"value\":\"921MiB\"}}");
	check_idempotent(&x, over);
	CHECK_STR(env_in(x.pod, 0, "GOMEMLIMIT"), "921MiB");
	done(&x);
	policy_set_unref(keep);
	policy_set_unref(over);
}

static void test_gomemlimit_forms_and_warning(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct run x;

	/* Small limits are written in bytes (Go syntax), never "Mi". */
	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
	    "\"resources\":{\"limits\":{\"memory\":\"10M\"}}},{\"name\":\"b\",\"env\":[{\"name\":\"GOMEMLIMIT\","
	    "\"value\":\"512Mi\"}],\"resources\":{\"limits\":{\"memory\":\"1.5Gi\",\"cpu\":\"100m\"}}}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_STR(find_change(&x.r, "a", "GOMEMLIMIT")->value, "9000000");
	CHECK_STR(find_change(&x.r, "b", "GOMEMLIMIT")->value, "1382MiB");
	/* floor(100m) = 0, raised to the minimum of 1. */
	CHECK_STR(find_change(&x.r, "b", "GOMAXPROCS")->value, "1");
	CHECK_INT(x.r.n_warnings, 1);
	CHECK_CONTAINS(x.r.warnings[0], "GOMEMLIMIT '512Mi' is not Go syntax");
	done(&x);
	policy_set_unref(ps);
}

static void test_gomaxprocs_modes(void)
{
	struct policy_set *ps = load(
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: c}\nspec:\n  runtime: go\n"
		"  match: {containers: [ceil]}\n  tune:\n    go: {gomaxprocs: ceil, gomaxprocsMax: 3}\n---\n"
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: u}\nspec:\n  runtime: go\n"
		"  match: {containers: [unset]}\n  tune:\n    go: {gomaxprocs: unset}\n");
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":["
	    "{\"name\":\"ceil\",\"resources\":{\"limits\":{\"cpu\":\"1001m\"}}},"
	    "{\"name\":\"unset\",\"resources\":{\"limits\":{\"cpu\":\"4\"}}},"
	    "{\"name\":\"big\",\"resources\":{\"limits\":{\"cpu\":\"64\"}}}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_STR(find_change(&x.r, "ceil", "GOMAXPROCS")->value, "2");
	CHECK_INT(find_change(&x.r, "unset", "GOMAXPROCS")->action, TUNE_SKIP);
	CHECK(x.r.containers[2].policy == NULL);
	done(&x);
	policy_set_unref(ps);
}

static void test_java_merge(void)
{
	struct policy_set *ps = load(
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: j}\nspec:\n  runtime: java\n"
		"  tune:\n    java: {maxRAMPercentage: 62.5, options: [\"-XX:+ExitOnOutOfMemoryError\", \"-XX:+UseG1GC\"]}\n");
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"java\"}},\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"env\":[{\"name\":\"JAVA_TOOL_OPTIONS\",\"value\":\"-Dx=1 -XX:-UseG1GC\"}],"
	    "\"resources\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"1Gi\"}}},"
	    "{\"name\":\"b\",\"env\":[{\"name\":\"JAVA_TOOL_OPTIONS\",\"value\":\"-Xmx300m\"}],"
	    "\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}}]}}",
	    true);
	CHECK_INT(x.rc, PT_OK);
	/* The user's -XX:-UseG1GC is the same flag as ours: theirs stays. */
	CHECK_INT(find_change(&x.r, "a", "-XX:+UseG1GC")->action, TUNE_SKIP);
	CHECK_INT(find_change(&x.r, "b", "-XX:MaxRAMPercentage")->action, TUNE_SKIP);
	CHECK_CONTAINS(find_change(&x.r, "b", "-XX:MaxRAMPercentage")->reason, "-Xmx300m");
	check_idempotent(&x, ps);
	CHECK_STR(env_in(x.pod, 0, "JAVA_TOOL_OPTIONS"),
		  "-Dx=1 -XX:-UseG1GC -XX:ActiveProcessorCount=2 -XX:MaxRAMPercentage=62.5 -XX:+ExitOnOutOfMemoryError");
	CHECK_STR(env_in(x.pod, 1, "JAVA_TOOL_OPTIONS"), "-Xmx300m -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC");
	done(&x);
	policy_set_unref(ps);
}

static void test_precedence_and_runtime_override(void)
{
	struct policy_set *ps = load(
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: b-low}\nspec:\n  runtime: any\n"
		"  tune: {env: [{name: WHO, value: b}]}\n---\n"
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: a-low}\nspec:\n  runtime: any\n"
		"  tune: {env: [{name: WHO, value: a}]}\n---\n"
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: java-high}\nspec:\n  priority: 5\n"
		"  runtime: java\n  tune: {env: [{name: WHO, value: java}]}\n");
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"},\"annotations\":{"
	    "\"podtuner.io/runtime.side\":\"java\"}},\"spec\":{\"containers\":[{\"name\":\"main\"},{\"name\":\"side\"}]}}",
	    true);
	CHECK_INT(x.rc, PT_OK);
	/* Equal priority: name order wins; the annotation makes side java. */
	CHECK_STR(x.r.containers[0].policy->name, "a-low");
	CHECK_STR(x.r.containers[1].policy->name, "java-high");
	CHECK_STR(x.r.containers[1].runtime_source, "annotation");
	check_idempotent(&x, ps);
	done(&x);
	policy_set_unref(ps);
}

static void test_skips(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"},\"annotations\":{"
	    "\"kubernetes.io/config.mirror\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
	    false);
	CHECK(x.r.skipped != NULL);
	CHECK_STR(x.patch.data, "[]");
	done(&x);
	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\",\"podtuner.io/skip\":\"true\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
	    false);
	CHECK_CONTAINS(x.r.skipped, "opted out");
	done(&x);
	policy_set_unref(ps);
}

static void test_wasm_by_runtime_class_and_init(void)
{
	struct policy_set *ps = load(
		"apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: w}\nspec:\n  runtime: wasm\n"
		"  tune: {env: [{name: RUST_LOG, value: warn}]}\n");
	struct run x;

	run(&x, ps,
	    "{\"spec\":{\"runtimeClassName\":\"wasmtime-spin-v2\",\"initContainers\":[{\"name\":\"i\"}],"
	    "\"containers\":[{\"name\":\"a\",\"env\":null}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_CONTAINS(x.patch.data, "\"path\":\"/spec/containers/0/env\"");
	CHECK_CONTAINS(x.patch.data, "\"path\":\"/spec/initContainers/0/env\"");
	CHECK_INT(x.r.n_tuned, 2);
	check_idempotent(&x, ps);
	done(&x);
	policy_set_unref(ps);
}

static void test_many_containers(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct buf pod;
	struct run x;

	buf_init(&pod, 1u << 20);
	CHECK_INT(buf_puts(&pod, "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":["),
		  PT_OK);
	for (int i = 0; i < 60; i++)
		CHECK_INT(buf_printf(&pod, "%s{\"name\":\"c%d\",%s\"resources\":{\"limits\":{\"cpu\":\"%dm\"}}}",
				     i ? "," : "", i, i % 2 ? "\"env\":[]," : "", 100 * i),
			  PT_OK);
	CHECK_INT(buf_puts(&pod, "]}}"), PT_OK);
	run(&x, ps, pod.data, false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_INT(x.r.n_containers, 60);
	CHECK_INT(x.r.n_tuned, 60);
	check_idempotent(&x, ps);
	CHECK_STR(env_in(x.pod, 59, "GOMAXPROCS"), "5");
	done(&x);
	buf_release(&pod);
	policy_set_unref(ps);
}

static void test_malformed_pods(void)
{
	static const char *const bad[][2] = {
		{"[]", "not a JSON object"},
		{"{\"metadata\":{}}", "no spec"},
		{"{\"spec\":{}}", "spec.containers is missing"},
		{"{\"spec\":{\"containers\":{}}}", "not an array"},
		{"{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", "spec.containers[0] has no name"},
		{"{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"env\":\"x\"}]}}",
		 "env is not an array"},
	};
	struct policy_set *ps = load(GO_POLICY);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct run x;
		run(&x, ps, bad[i][0], false);
		CHECK_INT(x.rc, PT_INVALID);
		CHECK_CONTAINS(x.e.msg, bad[i][1]);
		CHECK_INT(x.patch.len, 0);
		done(&x);
	}
	policy_set_unref(ps);
}

static void test_bad_quantity_warns(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct run x;

	run(&x, ps,
	    "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
	    "\"resources\":{\"limits\":{\"cpu\":\"1 Gi\",\"memory\":\"1KiB\"}}}]}}",
	    false);
	CHECK_INT(x.rc, PT_OK);
	CHECK_INT(x.r.n_warnings, 2);
	CHECK_CONTAINS(x.r.warnings[0], "limits.cpu");
	CHECK_INT(find_change(&x.r, "a", "GOMAXPROCS")->action, TUNE_SKIP);
	done(&x);
	policy_set_unref(ps);
}

static void test_match_agrees(void)
{
	struct policy_set *ps = load(GO_POLICY);
	struct arena a;
	const char *text = "{\"metadata\":{\"labels\":{\"podtuner.io/runtime\":\"go\"}},\"spec\":{\"containers\""
			   ":[{\"name\":\"a\"}],\"initContainers\":[{\"name\":\"i\"}]}}";
	cJSON *pod = json_parse(text, strlen(text), NULL);
	struct tune_input in = {.pod = pod, .policies = ps, .path_prefix = ""};

	arena_init(&a, 4096, 0);
	CHECK(pod != NULL);
	CHECK(tune_match(&in, "a", &a) == &ps->v[0]);
	CHECK(tune_match(&in, "i", &a) == &ps->v[0]);
	CHECK(tune_match(&in, "nope", &a) == NULL);
	arena_release(&a);
	cJSON_Delete(pod);
	policy_set_unref(ps);
}

TEST_MAIN(test_env_absent_added_whole, test_env_present_appended_and_key_escaped, test_no_metadata_at_all,
	  test_user_values_kept_or_overridden, test_gomemlimit_forms_and_warning, test_gomaxprocs_modes, test_java_merge,
	  test_precedence_and_runtime_override, test_skips, test_wasm_by_runtime_class_and_init, test_many_containers,
	  test_malformed_pods, test_bad_quantity_warns, test_match_agrees)
