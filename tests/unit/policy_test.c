/* SPDX-License-Identifier: Apache-2.0 */
/* core/policy: the shipped policies load; every class of error is reported
 * at its exact file:line:col, and all of them are collected; directories
 * (ConfigMap ..data layout), sorting, hashing, defaults and references. */
#include "../../core/policy.h"
#include "../../core/embedded.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/policies/"

#define HEAD "apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: p}\nspec:\n"

/* Load sources; return every diagnostic as "file:line:col: msg" lines. */
static char *load_all(const struct policy_source *src, size_t n, enum pt_code *rc, struct policy_set **out)
{
	struct policy_diags d = {0};
	struct policy_set *s = NULL;
	size_t len = 1, o = 0;
	char b[1024], *text;

	*rc = policy_set_load(src, n, &s, &d);
	for (size_t i = 0; i < d.n; i++)
		len += strlen(pt_error_format(&d.v[i], b, sizeof b)) + 1;
	text = malloc(len);
	text[0] = '\0';
	for (size_t i = 0; i < d.n; i++)
		o += (size_t)snprintf(text + o, len - o, "%s%s", o ? "\n" : "", pt_error_format(&d.v[i], b, sizeof b));
	if (*rc == PT_OK && d.n)
		TFAIL("load succeeded with %zu diagnostics", d.n);
	if (*rc != PT_OK && s)
		TFAIL("load failed but set an output");
	policy_diags_release(&d);
	if (out)
		*out = s;
	else
		policy_set_unref(s);
	return text;
}

/* One in-memory file "t.yaml". */
static char *load_text(const char *text, enum pt_code *rc)
{
	struct policy_source src = {"t.yaml", text, strlen(text)};

	return load_all(&src, 1, rc, NULL);
}

#define CHECK_ERRS(text, want)                         \
	do {                                           \
		enum pt_code rc_;                      \
		char *got_ = load_text(text, &rc_);    \
		CHECK_STR(got_, want);                 \
		CHECK_INT(rc_, PT_INVALID);            \
		free(got_);                            \
	} while (0)

/* For messages that end in another module's words: the position and our
 * prefix must be exact. */
#define CHECK_ERR_PREFIX(text, want)                                   \
	do {                                                           \
		enum pt_code rc_;                                      \
		char *got_ = load_text(text, &rc_);                    \
		test_checks++;                                         \
		if (strncmp(got_, want, strlen(want)) != 0 || strchr(got_, '\n')) \
			TFAIL("want one error starting \"%s\", got \"%s\"", want, got_); \
		CHECK_INT(rc_, PT_INVALID);                            \
		free(got_);                                            \
	} while (0)

static struct policy_set *load_ok(const char *text)
{
	enum pt_code rc;
	struct policy_set *s = NULL;
	struct policy_source src = {"t.yaml", text, strlen(text)};
	char *errs = load_all(&src, 1, &rc, &s);

	if (rc != PT_OK)
		TFAIL("load failed (%d): %s", rc, errs);
	free(errs);
	return s;
}

static void test_shipped_policies(void)
{
	struct policy_source src = {"policies", NULL, 0};
	struct policy_set *dir = NULL, *emb = NULL;
	enum pt_code rc;
	char *errs = load_all(&src, 1, &rc, &dir);
	size_t n_emb = 0;

	CHECK_INT(rc, PT_OK);
	CHECK_STR(errs, "");
	free(errs);
	CHECK_INT(policy_set_load_embedded(&emb, NULL), PT_OK);
	for (const struct embedded_file *f = embedded_files; f->name; f++)
		n_emb++;
	if (!dir || !emb)
		return;
	CHECK_INT(n_emb, 3);
	CHECK_INT(dir->n, 3);
	CHECK_INT(emb->n, dir->n);
	/* Same base names and bytes: the same hash, wherever they live. */
	CHECK(emb->hash == dir->hash);
	for (size_t i = 0; i < dir->n; i++) {
		const struct policy *p = &dir->v[i];
		const struct policy_strlist *ex = &p->match.exclude_namespaces;

		CHECK_STR(emb->v[i].name, p->name);
		CHECK_INT(p->priority, -100);
		CHECK(!p->tune.override);
		CHECK(!p->rebalance.present);
		/* Every shipped policy stays out of the system namespaces. */
		CHECK_INT(ex->n, 3);
		if (ex->n == 3) {
			CHECK_STR(ex->v[0], "kube-system");
			CHECK_STR(ex->v[1], "kube-node-lease");
			CHECK_STR(ex->v[2], "podtuner");
		}
	}
	/* Equal priorities: name order. */
	CHECK_STR(dir->v[0].name, "default-go");
	CHECK_STR(dir->v[1].name, "default-java");
	CHECK_STR(dir->v[2].name, "default-wasm");
	CHECK_INT(dir->v[0].runtime, POLICY_RT_GO);
	CHECK_INT(dir->v[0].tune.go.gomaxprocs, POLICY_ROUND_FLOOR);
	CHECK_INT(dir->v[0].tune.go.gomaxprocs_min, 1);
	CHECK(dir->v[0].tune.go.gomemlimit);
	CHECK_INT(dir->v[0].tune.go.gomemlimit_ratio_ppm, 900000);
	CHECK(dir->v[0].tune.go.gogc == NULL);
	CHECK_INT(dir->v[1].tune.java.max_ram_pct_milli, 75000);
	CHECK_INT(dir->v[1].tune.java.active_processor_count, POLICY_ROUND_CEIL);
	CHECK_INT(dir->v[1].tune.java.options.n, 1);
	CHECK_STR(dir->v[1].tune.java.options.v[0], "-XX:+ExitOnOutOfMemoryError");
	CHECK_INT(dir->v[2].runtime, POLICY_RT_WASM);
	CHECK_INT(dir->v[2].match.runtime_class_names.n, 5);
	CHECK_STR(dir->v[2].match.runtime_class_names.v[0], "wasmtime-spin-v2");
	CHECK_INT(dir->v[2].tune.n_env, 1);
	CHECK_STR(emb->v[0].file, "policies/go.yaml");
	policy_set_unref(dir);
	policy_set_unref(emb);
}

static void test_doc_examples(void)
{
	struct policy_source src = {"docs/examples", NULL, 0};
	struct policy_set *s = NULL;
	enum pt_code rc;
	char *errs = load_all(&src, 1, &rc, &s);

	CHECK_INT(rc, PT_OK);
	CHECK_STR(errs, "");
	free(errs);
	if (s)
		CHECK(s->n >= 1);
	policy_set_unref(s);
}

static void test_good_fixtures(void)
{
	struct policy_source src = {FIX "good", NULL, 0};
	struct policy_set *s = NULL;
	const struct policy *p;
	enum pt_code rc;
	char *errs = load_all(&src, 1, &rc, &s);

	CHECK_INT(rc, PT_OK);
	CHECK_STR(errs, "");
	free(errs);
	if (!s)
		return;
	/* 10-base.yaml (2) + 20-more.yml (2; an empty document skipped);
	 * README.txt and .hidden.yaml are not read. */
	CHECK_INT(s->n, 4);
	if (s->n != 4)
		goto out;
	/* priority descending, then name */
	CHECK_STR(s->v[0].name, "shield");
	CHECK_STR(s->v[1].name, "alpha");
	CHECK_STR(s->v[2].name, "everything");
	CHECK_STR(s->v[3].name, "java-low");
	CHECK_STR(s->v[0].file, FIX "good/20-more.yml");
	CHECK_INT(s->v[0].line, 1);
	CHECK_INT(s->v[1].line, 14);
	CHECK_INT(s->v[3].line, 49);
	CHECK_INT(s->v[0].runtime, POLICY_RT_ANY);
	CHECK(!s->v[0].tune.go.present && !s->v[0].tune.java.present && !s->v[0].rebalance.present);

	p = &s->v[2];
	CHECK_INT(p->priority, 10);
	CHECK_INT(p->runtime, POLICY_RT_GO);
	CHECK_INT(p->match.namespaces.n, 1);
	CHECK_STR(p->match.namespaces.v[0], "team-*");
	CHECK_STR(p->match.exclude_namespaces.v[0], "team-sandbox");
	CHECK_INT(p->match.n_pod_labels, 2);
	CHECK_STR(p->match.pod_labels[0].key, "app.kubernetes.io/part-of");
	CHECK_STR(p->match.pod_labels[0].value, "shop");
	CHECK_STR(p->match.pod_labels[1].value, "*");
	CHECK_INT(p->match.containers.n, 2);
	CHECK_STR(p->match.containers.v[1], "worker-?");
	CHECK_STR(p->match.images.v[0], "ghcr.io/acme/*");
	CHECK_STR(p->match.runtime_class_names.v[0], "gvisor");
	CHECK(p->tune.go.present);
	CHECK_INT(p->tune.go.gomaxprocs, POLICY_ROUND_CEIL);
	CHECK_INT(p->tune.go.gomaxprocs_min, 2);
	CHECK_INT(p->tune.go.gomaxprocs_max, 8);
	CHECK(p->tune.go.gomemlimit);
	CHECK_INT(p->tune.go.gomemlimit_ratio_ppm, 800000);
	CHECK_STR(p->tune.go.gogc, "off");
	CHECK_INT(p->tune.n_env, 3);
	CHECK_STR(p->tune.env[0].name, "EXTRA");
	CHECK_STR(p->tune.env[0].value, "1");
	CHECK_STR(p->tune.env[1].name, "my.setting-x");
	CHECK_STR(p->tune.env[1].value, "on");
	CHECK_STR(p->tune.env[2].value, "");
	CHECK_INT(p->tune.n_rlimits, 2);
	CHECK_STR(p->tune.rlimit_src[0], "65536:1048576");
	CHECK(p->tune.rlimits[0].soft == 65536 && p->tune.rlimits[0].hard == 1048576);
	CHECK_STR(p->tune.rlimit_src[1], "4096");
	CHECK(p->tune.override);
	CHECK(p->rebalance.present);
	CHECK_STR(p->rebalance.pool, "web");
	CHECK_DBL(p->rebalance.cpu_min_factor, 0.25, 0);
	CHECK_DBL(p->rebalance.cpu_max_factor, 8, 0);
	CHECK_DBL(p->rebalance.cpu_step, 1, 0);
	CHECK_INT(p->rebalance.mem_throttling_ppm, 500000);
	CHECK_INT(p->rebalance.mem_headroom, 256LL << 20);
	CHECK_DBL(p->rebalance.mem_step, 0.5, 0);
	CHECK_INT(p->rebalance.scrape_port, 8080);
	CHECK_STR(p->rebalance.scrape_path, "/stats");
	CHECK_INT(p->rebalance.scrape_timeout_ms, 2000);
	CHECK_INT(p->rebalance.scrape_interval_ms, 5000);
	CHECK_INT(p->rebalance.cooldown_ms, 10000);
	CHECK_INT(p->rebalance.decay_ms, 300000);
	CHECK_INT(p->rebalance.n_triggers, 2);
	if (p->rebalance.n_triggers == 2) {
		const struct policy_trigger *t = p->rebalance.triggers;

		CHECK_STR(t[0].name, "gc");
		CHECK_STR(t[0].expr->src, "rate(go_gc_duration_seconds_count[2m]) > 5");
		CHECK_INT(t[0].for_ms, 60000);
		CHECK_INT(t[0].grant, POLICY_GRANT_CPU);
		CHECK_INT(t[0].line, 41);
		CHECK_INT(t[0].col, 15);
		CHECK_INT(t[1].for_ms, 0);
		CHECK_INT(t[1].grant, POLICY_GRANT_MEMORY);
	}
	/* max(2m + 1m, 5m + 0) */
	CHECK_INT(s->max_window_ms, 300000);

	p = &s->v[3];
	CHECK(p->tune.java.present);
	CHECK_INT(p->tune.java.active_processor_count, POLICY_ROUND_UNSET);
	CHECK_INT(p->tune.java.max_ram_pct_milli, 60500);
	CHECK_INT(p->tune.java.initial_ram_pct_milli, 30000);
	CHECK_STR(p->tune.java.options.v[0], "-XX:+UseG1GC");
out:
	policy_set_unref(s);
}

static void test_defaults(void)
{
	struct policy_set *s = load_ok(HEAD "  runtime: go\n  tune: {go: {}}\n  rebalance:\n    pool: p\n"
				       "    triggers: [{name: t, expr: 'x > 1', grant: cpu}]\n");
	const struct policy *p;

	if (!s)
		return;
	p = &s->v[0];
	CHECK_STR(p->name, "p");
	CHECK_STR(p->file, "t.yaml");
	CHECK_INT(p->line, 1);
	CHECK_INT(p->priority, 0);
	CHECK_INT(p->match.namespaces.n, 0);
	CHECK(p->tune.go.present);
	CHECK(!p->tune.java.present);
	CHECK_INT(p->tune.go.gomaxprocs, POLICY_ROUND_FLOOR);
	CHECK_INT(p->tune.go.gomaxprocs_min, 1);
	CHECK_INT(p->tune.go.gomaxprocs_max, 0);
	CHECK(p->tune.go.gomemlimit);
	CHECK_INT(p->tune.go.gomemlimit_ratio_ppm, 900000);
	CHECK(p->tune.go.gogc == NULL);
	CHECK_INT(p->tune.java.active_processor_count, POLICY_ROUND_CEIL);
	CHECK_INT(p->tune.java.max_ram_pct_milli, 0);
	CHECK(!p->tune.override);
	CHECK_DBL(p->rebalance.cpu_min_factor, 0.5, 0);
	CHECK_DBL(p->rebalance.cpu_max_factor, 4, 0);
	CHECK_DBL(p->rebalance.cpu_step, 0.5, 0);
	CHECK_INT(p->rebalance.mem_throttling_ppm, 900000);
	CHECK_INT(p->rebalance.mem_headroom, 64LL << 20);
	CHECK_DBL(p->rebalance.mem_step, 0.25, 0);
	CHECK_INT(p->rebalance.scrape_port, 0);
	CHECK(p->rebalance.scrape_path == NULL);
	CHECK_INT(p->rebalance.scrape_timeout_ms, 500);
	CHECK_INT(p->rebalance.scrape_interval_ms, 0);
	CHECK_INT(p->rebalance.cooldown_ms, 30000);
	CHECK_INT(p->rebalance.decay_ms, 120000);
	CHECK_INT(p->rebalance.triggers[0].for_ms, 0);
	CHECK_INT(s->max_window_ms, 0);
	policy_set_unref(s);

	/* No documents at all is a valid, empty set. */
	s = load_ok("# nothing here\n");
	if (s) {
		CHECK_INT(s->n, 0);
		CHECK(s->v == NULL);
	}
	policy_set_unref(s);
}

static void test_document_errors(void)
{
	CHECK_ERRS("- a\n- b\n", "t.yaml:1:1: a policy must be a mapping with apiVersion, kind, metadata and spec, not a list");
	CHECK_ERRS("just text\n", "t.yaml:1:1: a policy must be a mapping with apiVersion, kind, metadata and spec, not 'just text'");
	CHECK_ERRS("spec: {runtime: go}\n",
		   "t.yaml:1:1: missing 'apiVersion' (want 'podtuner.io/v1alpha1')\n"
		   "t.yaml:1:1: missing 'kind' (want 'TuningPolicy')\n"
		   "t.yaml:1:1: missing 'metadata'");
	CHECK_ERRS("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {runtime: go}\nstatus: {}\n",
		   "t.yaml:1:13: 'apiVersion' must be 'podtuner.io/v1alpha1', not 'v1'\n"
		   "t.yaml:2:7: 'kind' must be 'TuningPolicy', not 'Pod'\n"
		   "t.yaml:5:1: unknown field 'status'");
	CHECK_ERRS("apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {labels: {a: b}}\n",
		   "t.yaml:1:1: missing 'spec'\nt.yaml:3:11: missing 'metadata.name'");
	CHECK_ERRS("apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata:\n  name: Bad_Name\n"
		   "  namespace: x\n  labels: {a: [1]}\nspec: {runtime: go}\n",
		   "t.yaml:4:9: 'metadata.name' must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
		   "starting and ending with a letter or digit, at most 253 characters), not 'Bad_Name'\n"
		   "t.yaml:5:3: unknown field 'namespace' in 'metadata'\n"
		   "t.yaml:6:15: 'metadata.labels' values must be strings, not a list");
	CHECK_ERRS(HEAD "  priority: 1\n", "t.yaml:5:3: missing 'spec.runtime' (go, java, wasm or any)");
	CHECK_ERRS(HEAD "  runtime: rust\n", "t.yaml:5:12: 'spec.runtime' must be one of any, go, java, wasm, not 'rust'");
	CHECK_ERRS(HEAD "  runtime: go\n  spec: {}\n  Match: {}\n  tune: []\n  match: {namespace: [a]}\n",
		   "t.yaml:6:3: unknown field 'spec' in 'spec'\n"
		   "t.yaml:7:3: unknown field 'Match' in 'spec' (did you mean 'match'?)\n"
		   "t.yaml:8:9: 'spec.tune' must be a mapping, not a list\n"
		   "t.yaml:9:11: unknown field 'namespace' in 'spec.match' (did you mean 'namespaces'?)");
	/* A field one level too high gets the right path suggested. */
	CHECK_ERRS(HEAD "  runtime: go\n  namespaces: [a]\n  tune: {gomaxprocs: ceil, env: []}\n"
		   "  rebalance: {pool: p, minFactor: 1, triggers: [{name: t, expr: 'x > 1', grant: cpu}]}\n",
		   "t.yaml:6:3: unknown field 'namespaces' in 'spec' (did you mean 'match.namespaces'?)\n"
		   "t.yaml:7:10: unknown field 'gomaxprocs' in 'spec.tune' (did you mean 'go.gomaxprocs'?)\n"
		   "t.yaml:8:24: unknown field 'minFactor' in 'spec.rebalance' (did you mean 'cpu.minFactor'?)");
	CHECK_ERRS(HEAD "  runtime: go\n  priority: high\n", "t.yaml:6:13: 'spec.priority' must be an integer, not 'high'");
	CHECK_ERRS(HEAD "  runtime: go\n  priority: 1.5\n", "t.yaml:6:13: 'spec.priority' must be an integer, not '1.5'");
	CHECK_ERRS(HEAD "  runtime: go\n  priority: 2000000000\n",
		   "t.yaml:6:13: 'spec.priority' must be in [-1000000000, 1000000000], not 2000000000");
	CHECK_ERRS(HEAD "  runtime: [go]\n", "t.yaml:5:12: 'spec.runtime' must be a string, not a list");
}

static void test_match_errors(void)
{
	CHECK_ERR_PREFIX(HEAD "  runtime: go\n  match:\n    images: [ok, \"ghcr.io/[acme\"]\n",
			 "t.yaml:7:18: 'spec.match.images[1]': ");
	CHECK_ERR_PREFIX(HEAD "  runtime: go\n  match: {namespaces: ['a\\']}\n",
			 "t.yaml:6:24: 'spec.match.namespaces[0]': ");
	CHECK_ERRS(HEAD "  runtime: go\n  match:\n    containers: app\n",
		   "t.yaml:7:17: 'spec.match.containers' must be a list, not 'app'");
	CHECK_ERRS(HEAD "  runtime: go\n  match:\n    containers: [a, ~, [b]]\n",
		   "t.yaml:7:21: 'spec.match.containers[1]' must be a string, not null\n"
		   "t.yaml:7:24: 'spec.match.containers[2]' must be a string, not a list");
	CHECK_ERRS(HEAD "  runtime: go\n  match:\n    podLabels: {\"bad key!\": x, ok: ~, a/b/c: y, -x: z}\n",
		   "t.yaml:7:17: label key 'bad key!' is not valid: want [prefix/]name, the name at most 63 letters, "
		   "digits, '-', '_' or '.' starting and ending with a letter or digit, the prefix a DNS-1123 subdomain\n"
		   "t.yaml:7:36: 'spec.match.podLabels.ok' must be a glob; use '*' for any value\n"
		   "t.yaml:7:39: label key 'a/b/c' is not valid: want [prefix/]name, the name at most 63 letters, "
		   "digits, '-', '_' or '.' starting and ending with a letter or digit, the prefix a DNS-1123 subdomain\n"
		   "t.yaml:7:49: label key '-x' is not valid: want [prefix/]name, the name at most 63 letters, "
		   "digits, '-', '_' or '.' starting and ending with a letter or digit, the prefix a DNS-1123 subdomain");
	CHECK_ERRS(HEAD "  runtime: go\n  match: {podLabels: [a]}\n",
		   "t.yaml:6:22: 'spec.match.podLabels' must be a mapping, not a list");
}

static void test_go_errors(void)
{
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go:\n      gomaxproc: floor\n      GoMemLimit: true\n",
		   "t.yaml:8:7: unknown field 'gomaxproc' in 'spec.tune.go' (did you mean 'gomaxprocs'?)\n"
		   "t.yaml:9:7: unknown field 'GoMemLimit' in 'spec.tune.go' (did you mean 'gomemlimit'?)");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomaxprocs: round, gomaxprocsMin: 0, gomaxprocsMax: -1}\n",
		   "t.yaml:7:22: 'spec.tune.go.gomaxprocs' must be one of floor, ceil, unset, not 'round'\n"
		   "t.yaml:7:44: 'spec.tune.go.gomaxprocsMin' must be in [1, 65535], not 0\n"
		   "t.yaml:7:62: 'spec.tune.go.gomaxprocsMax' must be in [0, 65535], not -1");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomaxprocsMin: 4, gomaxprocsMax: 2}\n",
		   "t.yaml:7:43: 'spec.tune.go.gomaxprocsMax' (2) must not be below 'spec.tune.go.gomaxprocsMin' (4)");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomaxprocs: unset, gomaxprocsMin: 2}\n",
		   "t.yaml:7:44: 'spec.tune.go.gomaxprocsMin' has no effect when 'gomaxprocs' is 'unset'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomemlimit: false, gomemlimitRatio: 0.5}\n",
		   "t.yaml:7:46: 'spec.tune.go.gomemlimitRatio' has no effect when 'gomemlimit' is false");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomemlimit: maybe, gomemlimitRatio: 1.5}\n",
		   "t.yaml:7:22: 'spec.tune.go.gomemlimit' must be true or false, not 'maybe'\n"
		   "t.yaml:7:46: 'spec.tune.go.gomemlimitRatio' must be in (0, 1], not '1.5'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomemlimitRatio: 0}\n",
		   "t.yaml:7:27: 'spec.tune.go.gomemlimitRatio' must be in (0, 1], not '0'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomemlimitRatio: .0000001}\n",
		   "t.yaml:7:27: 'spec.tune.go.gomemlimitRatio' must be at least 0.000001");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gomemlimitRatio: ninety}\n",
		   "t.yaml:7:27: 'spec.tune.go.gomemlimitRatio' must be a number, not 'ninety'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gogc: lots}\n",
		   "t.yaml:7:16: 'spec.tune.go.gogc' must be 'off' or a whole percentage from 1 to 999999999, not 'lots'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gogc: 0}\n",
		   "t.yaml:7:16: 'spec.tune.go.gogc' must be 'off' or a whole percentage from 1 to 999999999, not '0'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gogc: -50}\n",
		   "t.yaml:7:16: 'spec.tune.go.gogc' must be 'off' or a whole percentage from 1 to 999999999, not '-50'");
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gogc: \"OFF\"}\n",
		   "t.yaml:7:16: 'spec.tune.go.gogc' must be 'off' or a whole percentage from 1 to 999999999, not 'OFF'");
	/* The runtime must fit the block. */
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    go: {}\n",
		   "t.yaml:7:9: 'spec.tune.go' needs 'spec.runtime: go', not 'java'");
	CHECK_ERRS(HEAD "  runtime: any\n  tune:\n    java: {}\n",
		   "t.yaml:7:11: 'spec.tune.java' needs 'spec.runtime: java', not 'any'");
	{
		struct policy_set *s = load_ok(HEAD "  runtime: go\n  tune:\n    go: {gogc: 0150, gomaxprocs: unset}\n");

		if (s) {
			CHECK_STR(s->v[0].tune.go.gogc, "150");
			CHECK_INT(s->v[0].tune.go.gomaxprocs, POLICY_ROUND_UNSET);
		}
		policy_set_unref(s);
	}
}

static void test_java_errors(void)
{
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java: {maxRAMPercentage: 150, initialRAMPercentage: 0}\n",
		   "t.yaml:7:30: 'spec.tune.java.maxRAMPercentage' must be in (0, 100], not '150'\n"
		   "t.yaml:7:57: 'spec.tune.java.initialRAMPercentage' must be in (0, 100], not '0'");
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java: {maxRAMPercentage: 50, initialRAMPercentage: 60}\n",
		   "t.yaml:7:56: 'spec.tune.java.initialRAMPercentage' must not be above 'maxRAMPercentage'");
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java:\n      options: [Xmx1g, \"-Dx=a b\", -XX:+UseZGC]\n",
		   "t.yaml:8:17: 'spec.tune.java.options[0]' must be a JVM option starting with '-', not 'Xmx1g'\n"
		   "t.yaml:8:24: 'spec.tune.java.options[1]' must not contain white space or quotes (JAVA_TOOL_OPTIONS "
		   "is split on white space), not '-Dx=a b'");
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java:\n      maxRAMPercentage: 75\n"
		   "      options: [-XX:MaxRAMPercentage=50, -XX:ActiveProcessorCount=2, -XX:InitialRAMPercentage=5]\n",
		   "t.yaml:9:17: 'spec.tune.java.options[0]' sets MaxRAMPercentage, which 'maxRAMPercentage' already sets\n"
		   "t.yaml:9:42: 'spec.tune.java.options[1]' sets ActiveProcessorCount, which 'activeProcessorCount' "
		   "already sets");
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java: {activeProcessorCount: 2}\n",
		   "t.yaml:7:34: 'spec.tune.java.activeProcessorCount' must be one of floor, ceil, unset, not '2'");
}

static void test_env_rlimit_errors(void)
{
	CHECK_ERRS(HEAD "  runtime: any\n  tune:\n    env:\n"
		   "      - {name: 1BAD, value: x}\n"
		   "      - {name: \"A B\", value: x}\n"
		   "      - {name: ..x}\n"
		   "      - {name: ., value: x}\n"
		   "      - {value: x}\n"
		   "      - {name: OK, value: [1]}\n"
		   "      - {name: DUP, value: a}\n"
		   "      - {name: DUP, value: b}\n"
		   "      - {name: X, valu: b}\n"
		   "      - just-a-string\n",
		   "t.yaml:8:16: env name '1BAD' is not valid: must not start with a digit\n"
		   "t.yaml:9:16: env name 'A B' is not valid: must consist of letters, digits, '_', '-' or '.'\n"
		   "t.yaml:10:16: env name '..x' is not valid: must not start with '..'\n"
		   "t.yaml:11:16: env name '.' is not valid: must not be '.'\n"
		   "t.yaml:12:9: missing 'spec.tune.env[4].name'\n"
		   "t.yaml:13:27: 'spec.tune.env[5].value' must be a string, not a list\n"
		   "t.yaml:15:16: env 'DUP' is set twice in 'spec.tune.env'\n"
		   "t.yaml:16:19: unknown field 'valu' in 'spec.tune.env[8]' (did you mean 'value'?)\n"
		   "t.yaml:17:9: 'spec.tune.env[9]' must be a mapping, not 'just-a-string'");
	/* An env entry must not fight a variable the go or java block sets. */
	CHECK_ERRS(HEAD "  runtime: go\n  tune:\n    go: {gogc: 50}\n    env:\n"
		   "      - {name: GOGC, value: 100}\n      - {name: GOMEMLIMIT, value: 1GiB}\n"
		   "      - {name: GOMAXPROCS, value: 2}\n",
		   "t.yaml:9:16: env 'GOGC' conflicts with 'spec.tune.go.gogc', which sets it\n"
		   "t.yaml:10:16: env 'GOMEMLIMIT' conflicts with 'spec.tune.go.gomemlimit', which sets it\n"
		   "t.yaml:11:16: env 'GOMAXPROCS' conflicts with 'spec.tune.go.gomaxprocs', which sets it");
	CHECK_ERRS(HEAD "  runtime: java\n  tune:\n    java: {}\n    env: [{name: JAVA_TOOL_OPTIONS, value: -Xmx1g}]\n",
		   "t.yaml:8:18: env 'JAVA_TOOL_OPTIONS' conflicts with 'spec.tune.java', which sets it");
	{
		/* Without the block (or with the knob off) the name is free. */
		struct policy_set *s = load_ok(HEAD "  runtime: go\n  tune:\n    go: {gomaxprocs: unset}\n"
						    "    env: [{name: GOMAXPROCS, value: 4}, {name: X, value: yes}]\n");

		if (s && s->v[0].tune.n_env == 2) {
			CHECK_STR(s->v[0].tune.env[0].value, "4");
			/* A scalar is kept as written. */
			CHECK_STR(s->v[0].tune.env[1].value, "yes");
		}
		policy_set_unref(s);
	}
	CHECK_ERR_PREFIX(HEAD "  runtime: any\n  tune:\n    rlimits: {nofiles: 1024}\n",
			 "t.yaml:7:15: 'spec.tune.rlimits.nofiles': ");
	CHECK_ERR_PREFIX(HEAD "  runtime: any\n  tune:\n    rlimits: {nofile: \"2048:1024\"}\n",
			 "t.yaml:7:23: 'spec.tune.rlimits.nofile': ");
	CHECK_ERRS(HEAD "  runtime: any\n  tune:\n    rlimits: {nofile: }\n",
		   "t.yaml:7:23: 'spec.tune.rlimits.nofile' must be a limit such as \"1024\" or \"1024:4096\"");
	CHECK_ERRS(HEAD "  runtime: any\n  tune:\n    rlimits: [nofile]\n    override: 1\n",
		   "t.yaml:7:14: 'spec.tune.rlimits' must be a mapping, not a list\n"
		   "t.yaml:8:15: 'spec.tune.override' must be true or false, not '1'");
}

#define RB_HEAD HEAD "  runtime: any\n  rebalance:\n"
#define TRIG "    triggers: [{name: t, expr: 'x > 1', grant: cpu}]\n"

static void test_rebalance_errors(void)
{
	CHECK_ERRS(RB_HEAD TRIG, "t.yaml:7:5: missing 'spec.rebalance.pool'");
	CHECK_ERRS(RB_HEAD "    pool: Web\n" TRIG,
		   "t.yaml:7:11: 'spec.rebalance.pool' must be a DNS-1123 label (at most 63 lowercase letters, digits "
		   "and '-', starting and ending with a letter or digit), not 'Web'");
	CHECK_ERRS(RB_HEAD "    pool: p\n", "t.yaml:7:5: 'spec.rebalance.triggers' must list at least one trigger");
	CHECK_ERRS(RB_HEAD "    pool: p\n    triggers: []\n",
		   "t.yaml:8:15: 'spec.rebalance.triggers' must list at least one trigger");
	CHECK_ERRS(RB_HEAD "    pool: p\n    cpu: {minFactor: 2, maxFactor: 0.5, step: 0}\n" TRIG,
		   "t.yaml:8:22: 'spec.rebalance.cpu.minFactor' must be in (0, 1], not '2'\n"
		   "t.yaml:8:36: 'spec.rebalance.cpu.maxFactor' must be in [1, 100], not '0.5'\n"
		   "t.yaml:8:47: 'spec.rebalance.cpu.step' must be in (0, 100], not '0'");
	CHECK_ERRS(RB_HEAD "    pool: p\n    memory: {throttlingFactor: 1.1, headroom: -1Mi, step: 2, steps: 1}\n"
			   "    triggers: [{name: t, expr: 'x > 1', grant: memory}]\n",
		   "t.yaml:8:32: 'spec.rebalance.memory.throttlingFactor' must be in (0, 1], not '1.1'\n"
		   "t.yaml:8:47: 'spec.rebalance.memory.headroom' must be in [0, 1Ti], not '-1Mi'\n"
		   "t.yaml:8:59: 'spec.rebalance.memory.step' must be in (0, 1], not '2'\n"
		   "t.yaml:8:62: unknown field 'steps' in 'spec.rebalance.memory' (did you mean 'step'?)");
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    memory: {headroom: lots}\n"
				 "    triggers: [{name: t, expr: 'x > 1', grant: memory}]\n",
			 "t.yaml:8:24: 'spec.rebalance.memory.headroom': ");
	CHECK_ERRS(RB_HEAD "    pool: p\n    scrape: {port: 0, path: metrics, timeout: 0s}\n" TRIG,
		   "t.yaml:8:20: 'spec.rebalance.scrape.port' must be in [1, 65535], not 0\n"
		   "t.yaml:8:29: 'spec.rebalance.scrape.path' must be a URL path starting with '/', without spaces or "
		   "control characters, at most 1024 bytes, not 'metrics'\n"
		   "t.yaml:8:47: 'spec.rebalance.scrape.timeout' must be more than 0s");
	CHECK_ERRS(RB_HEAD "    pool: p\n    scrape: {interval: 0s}\n" TRIG,
		   "t.yaml:8:24: 'spec.rebalance.scrape.interval' must be more than 0s");
	CHECK_ERRS(RB_HEAD "    pool: p\n    scrape: {interval: 1h}\n" TRIG,
		   "t.yaml:8:24: 'spec.rebalance.scrape.interval' must be at most 10m, not '1h'");
	/* A range over a scraped metric must span two scrapes; the agent's
	 * own container_* series are read every tick. */
	CHECK_ERRS(RB_HEAD "    pool: p\n    scrape: {interval: 15s}\n"
			   "    triggers:\n"
			   "      - {name: a, expr: 'rate(x_total[20s]) > 1', grant: cpu}\n"
			   "      - {name: b, expr: 'rate(container_cpu_usage_seconds_total[5s]) > 1', grant: cpu}\n"
			   "      - {name: c, expr: 'max_over_time(y[30s]) > 1', grant: cpu}\n",
		   "t.yaml:10:25: trigger 'a': the range [20s] over 'x_total' is shorter than two scrapes "
		   "(spec.rebalance.scrape.interval is 15s), so it would hold one sample at most");
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    cooldown: 3x\n" TRIG, "t.yaml:8:15: 'spec.rebalance.cooldown': ");
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    decay: 1.5m\n" TRIG, "t.yaml:8:12: 'spec.rebalance.decay': ");
	CHECK_ERRS(RB_HEAD "    pool: p\n    decay: 48h\n" TRIG,
		   "t.yaml:8:12: 'spec.rebalance.decay' must be at most 1d, not '48h'");
	/* Settings nothing would use. */
	CHECK_ERRS(RB_HEAD "    pool: p\n    memory: {step: 0.5}\n" TRIG,
		   "t.yaml:8:13: 'spec.rebalance.memory' has no effect: no trigger grants memory");
	CHECK_ERRS(RB_HEAD "    pool: p\n    cpu: {step: 0.5}\n    triggers: [{name: t, expr: 'x > 1', grant: memory}]\n",
		   "t.yaml:8:10: 'spec.rebalance.cpu' has no effect: no trigger grants cpu");
	{
		/* A memory trigger needs no cpu block. */
		struct policy_set *s = load_ok(RB_HEAD "    pool: p\n"
						       "    triggers: [{name: t, expr: 'x > 1', grant: memory}]\n");

		if (s)
			CHECK_INT(s->v[0].rebalance.triggers[0].grant, POLICY_GRANT_MEMORY);
		policy_set_unref(s);
	}
}

static void test_trigger_errors(void)
{
	CHECK_ERRS(RB_HEAD "    pool: p\n    triggers:\n      - {expr: 'x > 1'}\n      - {name: T_1, expr: 'x > 1', grant: cpu, for: -1s}\n",
		   "t.yaml:9:9: missing 'spec.rebalance.triggers[0].name'\n"
		   "t.yaml:9:9: missing 'spec.rebalance.triggers[0].grant' (cpu or memory)\n"
		   "t.yaml:10:16: 'spec.rebalance.triggers[1].name' must be a DNS-1123 label (at most 63 lowercase "
		   "letters, digits and '-', starting and ending with a letter or digit), not 'T_1'\n"
		   "t.yaml:10:53: 'spec.rebalance.triggers[1].for': duration '-1s' is not valid: a sign is not allowed");
	CHECK_ERRS(RB_HEAD "    pool: p\n    triggers:\n      - {name: a, grant: disk, when: 'x > 1'}\n",
		   "t.yaml:9:9: missing 'spec.rebalance.triggers[0].expr'\n"
		   "t.yaml:9:26: 'spec.rebalance.triggers[0].grant' must be one of cpu, memory, not 'disk'\n"
		   "t.yaml:9:32: unknown field 'when' in 'spec.rebalance.triggers[0]'");
	CHECK_ERRS(RB_HEAD "    pool: p\n    triggers:\n      - {name: a, expr: 'x > 1', grant: cpu}\n"
			   "      - {name: b, expr: 'x > 1', grant: cpu}\n      - {name: a, expr: 'x > 2', grant: cpu}\n",
		   "t.yaml:11:16: trigger name 'a' is used twice in this policy (first at line 9)");
	/* Expression errors point into the file: plain, quoted (+1). */
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    triggers:\n      - name: a\n        expr: rate(x[1m]) ?? 3\n        grant: cpu\n",
			 "t.yaml:10:27: 'spec.rebalance.triggers[0].expr': ");
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    triggers:\n      - name: a\n        expr: \"rate(x[1m]) ?? 3\"\n        grant: cpu\n",
			 "t.yaml:10:28: 'spec.rebalance.triggers[0].expr': ");
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    triggers:\n      - name: a\n        expr: 'rate(x[1m]) ?? 3'\n        grant: cpu\n",
			 "t.yaml:10:28: 'spec.rebalance.triggers[0].expr': ");
	/* A block scalar: at the scalar, with the column in the text. */
	{
		enum pt_code rc;
		char *got = load_text(RB_HEAD "    pool: p\n    triggers:\n      - name: a\n        expr: >-\n"
					      "          rate(x[1m]) ?? 3\n        grant: cpu\n", &rc);

		CHECK_INT(rc, PT_INVALID);
		CHECK(strncmp(got, "t.yaml:10:15: 'spec.rebalance.triggers[0].expr': ",
			      strlen("t.yaml:10:15: 'spec.rebalance.triggers[0].expr': ")) == 0);
		CHECK_CONTAINS(got, " (at column 13 of the expression)");
		free(got);
	}
	CHECK_ERR_PREFIX(RB_HEAD "    pool: p\n    triggers:\n      - {name: a, expr: 'rate(x[1m])', grant: cpu}\n",
			 "t.yaml:9:37: 'spec.rebalance.triggers[0].expr': ");
	{
		char text[2048];
		size_t o = (size_t)snprintf(text, sizeof text, RB_HEAD "    pool: p\n    triggers:\n");

		for (int i = 0; i <= 32; i++)
			o += (size_t)snprintf(text + o, sizeof text - o, "      - {name: t%d, expr: 'x > 1', grant: cpu}\n", i);
		CHECK_ERRS(text, "t.yaml:9:7: 'spec.rebalance.triggers' has 33 triggers, more than 32");
	}
}

static void test_all_errors_collected(void)
{
	struct policy_source src[] = {
		{FIX "many-errors.yaml", NULL, 0},
		{FIX "syntax.yaml", NULL, 0},
		{FIX "good/10-base.yaml", NULL, 0},
	};
	struct policy_diags d = {0};
	struct policy_set *s = (struct policy_set *)(uintptr_t)1;
	char b[1024];
	static const char *const want[] = {
		FIX "many-errors.yaml:1:13: 'apiVersion' must be 'podtuner.io/v1alpha1', not 'podtuner.io/v1'",
		FIX "many-errors.yaml:4:9: 'metadata.name' must be a DNS-1123 subdomain",
		FIX "many-errors.yaml:6:13: 'spec.priority' must be an integer, not 'high'",
		FIX "many-errors.yaml:9:5: unknown field 'namespace' in 'spec.match' (did you mean 'namespaces'?)",
		FIX "many-errors.yaml:10:14: 'spec.match.images[0]': ",
		FIX "many-errors.yaml:13:7: unknown field 'gomaxproc' in 'spec.tune.go' (did you mean 'gomaxprocs'?)",
		FIX "many-errors.yaml:14:24: 'spec.tune.go.gomemlimitRatio' must be in (0, 1], not '1.5'",
		FIX "many-errors.yaml:15:13: 'spec.tune.go.gogc' must be 'off' or a whole percentage",
		FIX "many-errors.yaml:17:15: env name '1BAD' is not valid: must not start with a digit",
		FIX "many-errors.yaml:20:7: 'spec.tune.rlimits.nofiles': ",
		FIX "many-errors.yaml:22:5: missing 'spec.rebalance.pool'",
		FIX "many-errors.yaml:22:22: 'spec.rebalance.cpu.minFactor' must be in (0, 1], not '2'",
		FIX "many-errors.yaml:25:27: 'spec.rebalance.triggers[0].expr': ",
		FIX "many-errors.yaml:27:16: 'spec.rebalance.triggers[0].grant' must be one of cpu, memory, not 'disk'",
		FIX "many-errors.yaml:28:15: 'spec.rebalance.cooldown': ",
		FIX "syntax.yaml:5:2: did not find expected key (while parsing a block mapping at line 1, column 1)",
	};

	CHECK_INT(policy_set_load(src, 3, &s, &d), PT_INVALID);
	CHECK(s == (struct policy_set *)(uintptr_t)1); /* untouched */
	CHECK_INT(d.n, sizeof want / sizeof want[0]);
	CHECK_INT(d.dropped, 0);
	for (size_t i = 0; i < d.n && i < sizeof want / sizeof want[0]; i++) {
		pt_error_format(&d.v[i], b, sizeof b);
		test_checks++;
		if (strncmp(b, want[i], strlen(want[i])) != 0)
			TFAIL("diagnostic %zu: want \"%s...\", got \"%s\"", i, want[i], b);
	}
	CHECK_INT(d.v[0].code, PT_INVALID);
	CHECK_INT(d.v[15].code, PT_SYNTAX);
	policy_diags_release(&d);
	CHECK(d.v == NULL && d.n == 0);
	/* No diags record: the same failure, counted nowhere. */
	CHECK_INT(policy_set_load(src, 3, &s, NULL), PT_INVALID);
}

static void test_diag_cap(void)
{
	/* 150 bad documents: 100 kept, the rest counted. */
	size_t len = 150 * 64, o = 0;
	char *text = malloc(len);
	struct policy_source src = {"t.yaml", text, 0};
	struct policy_diags d = {0};
	struct policy_set *s = NULL;

	for (int i = 0; i < 150; i++)
		o += (size_t)snprintf(text + o, len - o, "---\nbad: %d\n", i);
	src.len = o;
	CHECK_INT(policy_set_load(&src, 1, &s, &d), PT_INVALID);
	CHECK_INT(d.n, POLICY_MAX_DIAGS);
	/* Each document: unknown field, and four missing ones. */
	CHECK_INT(d.dropped, 150 * 5 - POLICY_MAX_DIAGS);
	policy_diags_release(&d);
	free(text);
}

static void test_duplicate_names(void)
{
	struct policy_source src[] = {
		{FIX "dup-a.yaml", NULL, 0},
		{FIX "dup-b.yaml", NULL, 0},
		{"inline.yaml", HEAD "  runtime: go\n---\n" HEAD "  runtime: go\n", 0},
	};
	enum pt_code rc;
	char *got;

	src[2].len = strlen(src[2].data);
	got = load_all(src, 3, &rc, NULL);
	CHECK_INT(rc, PT_INVALID);
	CHECK_STR(got, "inline.yaml:9:18: duplicate policy name 'p' (first defined at inline.yaml:3:18)\n"
		       FIX "dup-b.yaml:4:18: duplicate policy name 'twice' (first defined at " FIX "dup-a.yaml:4:9)");
	free(got);
}

static void test_sources_errors(void)
{
	struct policy_source src[] = {
		{"/nonexistent/policies", NULL, 0},
		{FIX "syntax.yaml", NULL, 0},
	};
	enum pt_code rc;
	char *got = load_all(src, 2, &rc, NULL);

	/* An unreadable source is an I/O failure, and the rest is still read. */
	CHECK_INT(rc, PT_IO);
	CHECK_STR(got, "/nonexistent/policies: cannot read policies from '/nonexistent/policies': No such file or "
		       "directory (ENOENT)\n" FIX "syntax.yaml:5:2: did not find expected key (while parsing a block "
		       "mapping at line 1, column 1)");
	free(got);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void test_configmap_dir(void)
{
	char dir[] = "/tmp/policy_test_XXXXXX";
	char p[600], ts[200];
	struct policy_set *s = NULL, *bufs = NULL;
	struct policy_source src;
	enum pt_code rc;
	char *got;
	const char *a = HEAD "  runtime: go\n";
	const char *b = "apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: b}\nspec: {runtime: java}\n";

	if (!mkdtemp(dir)) {
		TFAIL("mkdtemp failed");
		return;
	}
	/* What the kubelet's atomic writer makes of a ConfigMap volume:
	 * ..<timestamp>/ holds the files, ..data links to it, and each key
	 * is a symlink through ..data. */
	snprintf(ts, sizeof ts, "%s/..2024_01_01_00_00_00.123456789", dir);
	CHECK(mkdir(ts, 0700) == 0);
	snprintf(p, sizeof p, "%s/a.yaml", ts);
	write_file(p, a);
	snprintf(p, sizeof p, "%s/b.yml", ts);
	write_file(p, b);
	snprintf(p, sizeof p, "%s/..data", dir);
	CHECK(symlink("..2024_01_01_00_00_00.123456789", p) == 0);
	snprintf(p, sizeof p, "%s/a.yaml", dir);
	CHECK(symlink("..data/a.yaml", p) == 0);
	snprintf(p, sizeof p, "%s/b.yml", dir);
	CHECK(symlink("..data/b.yml", p) == 0);
	snprintf(p, sizeof p, "%s/.skipped.yaml", dir);
	write_file(p, "not: [a policy\n");
	snprintf(p, sizeof p, "%s/notes.txt", dir);
	write_file(p, "ignored\n");

	src = (struct policy_source){dir, NULL, 0};
	got = load_all(&src, 1, &rc, &s);
	CHECK_INT(rc, PT_OK);
	CHECK_STR(got, "");
	free(got);
	if (s) {
		CHECK_INT(s->n, 2);
		if (s->n == 2) {
			CHECK_STR(s->v[0].name, "b");
			CHECK_STR(s->v[1].name, "p");
			snprintf(p, sizeof p, "%s/a.yaml", dir);
			CHECK_STR(s->v[1].file, p);
		}
	}
	/* The same files as buffers elsewhere: the same hash. */
	{
		struct policy_source two[] = {{"x/a.yaml", a, strlen(a)}, {"y/b.yml", b, strlen(b)}};

		got = load_all(two, 2, &rc, &bufs);
		CHECK_INT(rc, PT_OK);
		free(got);
		if (s && bufs)
			CHECK(s->hash == bufs->hash);
		policy_set_unref(bufs);
	}
	/* One byte changed: another hash. */
	{
		char a2[256];
		struct policy_source two[] = {{"x/a.yaml", a2, 0}, {"y/b.yml", b, strlen(b)}};

		snprintf(a2, sizeof a2, "%s#x", a);
		two[0].len = strlen(a2);
		got = load_all(two, 2, &rc, &bufs);
		CHECK_INT(rc, PT_OK);
		free(got);
		if (s && bufs)
			CHECK(s->hash != bufs->hash);
		policy_set_unref(bufs);
	}
	/* A dangling symlink is reported, with its path. */
	snprintf(p, sizeof p, "%s/c.yaml", dir);
	CHECK(symlink("..data/missing.yaml", p) == 0);
	got = load_all(&src, 1, &rc, NULL);
	CHECK_INT(rc, PT_IO);
	CHECK_CONTAINS(got, "c.yaml: cannot stat '");
	CHECK_CONTAINS(got, "No such file or directory (ENOENT)");
	free(got);
	unlink(p);
	/* A directory named like a policy file. */
	snprintf(p, sizeof p, "%s/d.yaml", dir);
	CHECK(mkdir(p, 0700) == 0);
	got = load_all(&src, 1, &rc, NULL);
	CHECK_INT(rc, PT_INVALID);
	CHECK_CONTAINS(got, "d.yaml: not a regular file");
	free(got);
	rmdir(p);

	policy_set_unref(s);
	/* Clean up what we made. */
	{
		static const char *const names[] = {"a.yaml", "b.yml", "..data", ".skipped.yaml", "notes.txt"};

		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			snprintf(p, sizeof p, "%s/%s", dir, names[i]);
			unlink(p);
		}
		snprintf(p, sizeof p, "%s/a.yaml", ts);
		unlink(p);
		snprintf(p, sizeof p, "%s/b.yml", ts);
		unlink(p);
		rmdir(ts);
		rmdir(dir);
	}
}

static void test_refcount(void)
{
	struct policy_set *s = load_ok(HEAD "  runtime: go\n");

	if (!s)
		return;
	CHECK(policy_set_ref(s) == s);
	CHECK_INT(atomic_load(&s->refs), 2);
	policy_set_unref(s);
	CHECK_INT(atomic_load(&s->refs), 1);
	/* Still usable with one reference left. */
	CHECK_STR(s->v[0].name, "p");
	policy_set_unref(s); /* freed: ASan would see a leak or a double free */
	CHECK(policy_set_ref(NULL) == NULL);
	policy_set_unref(NULL);
}

static void test_sorting(void)
{
	struct policy_set *s = load_ok("apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: m}\n"
				       "spec: {runtime: go, priority: 5}\n---\n"
				       "apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: z}\n"
				       "spec: {runtime: go, priority: 50}\n---\n"
				       "apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: a}\n"
				       "spec: {runtime: go, priority: 5}\n---\n"
				       "apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: b.c}\n"
				       "spec: {runtime: go, priority: -5}\n");

	if (!s)
		return;
	CHECK_INT(s->n, 4);
	if (s->n == 4) {
		CHECK_STR(s->v[0].name, "z");
		CHECK_STR(s->v[1].name, "a");
		CHECK_STR(s->v[2].name, "m");
		CHECK_STR(s->v[3].name, "b.c");
		CHECK_INT(s->v[1].line, 10); /* the "---" that starts it */
	}
	policy_set_unref(s);
}

static void test_limits(void)
{
	size_t len = 1100 * 120, o = 0;
	char *text = malloc(len), *got;
	struct policy_source *many = calloc(POLICY_MAX_FILES + 1, sizeof *many);
	enum pt_code rc;

	for (int i = 0; i < POLICY_MAX_POLICIES + 1; i++)
		o += (size_t)snprintf(text + o, len - o,
				      "---\napiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\n"
				      "metadata: {name: p%d}\nspec: {runtime: go}\n", i);
	/* The 1025th document starts on line 1024 * 5 + 2. */
	CHECK_ERRS(text, "t.yaml:5122:1: more than 1024 policies");
	for (size_t i = 0; i <= POLICY_MAX_FILES; i++)
		many[i] = (struct policy_source){"f.yaml", "# empty\n", 8};
	got = load_all(many, POLICY_MAX_FILES + 1, &rc, NULL);
	CHECK_INT(rc, PT_INVALID);
	CHECK_STR(got, "f.yaml: more than 256 policy files");
	free(got);
	free(many);
	free(text);
	/* A NUL byte (written "\0") never reaches a C string. */
	CHECK_ERRS("apiVersion: podtuner.io/v1alpha1\nkind: TuningPolicy\nmetadata: {name: \"a\\0b\"}\n"
		   "spec: {runtime: go}\n",
		   "t.yaml:3:18: 'metadata.name' must not contain a NUL byte");
}

/* Damage the richest fixture one byte at a time: every load must end in a
 * set or in positioned errors, never a crash (ASan checks the rest). */
static void test_mutations(void)
{
	static const char subst[] = {':', '[', '&', '\n'};
	size_t len;
	char *orig = test_slurp(FIX "good/10-base.yaml", &len), *buf = malloc(len + 1);
	size_t loads = 0, failed = 0;

	for (size_t i = 0; i < len; i += 3) {
		for (size_t k = 0; k < sizeof subst; k++) {
			struct policy_source src = {"m.yaml", buf, len};
			struct policy_diags d = {0};
			struct policy_set *s = NULL;
			enum pt_code rc;

			memcpy(buf, orig, len + 1);
			buf[i] = subst[k];
			rc = policy_set_load(&src, 1, &s, &d);
			loads++;
			if (rc == PT_OK) {
				test_checks++;
				if (!s || d.n)
					TFAIL("ok without a set, or with diagnostics, at byte %zu", i);
			} else {
				failed++;
				test_checks++;
				if (s || d.n == 0 || d.v[0].line < 1 || d.v[0].col < 1)
					TFAIL("failure without a positioned diagnostic at byte %zu", i);
			}
			policy_set_unref(s);
			policy_diags_release(&d);
		}
	}
	/* Most damage must be noticed. */
	CHECK(failed * 2 > loads);
	free(buf);
	free(orig);
}

static void test_runtime_names(void)
{
	enum policy_runtime rt = POLICY_RT_GO;

	CHECK_STR(policy_runtime_name(POLICY_RT_ANY), "any");
	CHECK_STR(policy_runtime_name(POLICY_RT_GO), "go");
	CHECK_STR(policy_runtime_name(POLICY_RT_JAVA), "java");
	CHECK_STR(policy_runtime_name(POLICY_RT_WASM), "wasm");
	CHECK(policy_runtime_parse("wasm", &rt));
	CHECK_INT(rt, POLICY_RT_WASM);
	CHECK(!policy_runtime_parse("Go", &rt));
	CHECK_INT(rt, POLICY_RT_WASM);
}

TEST_MAIN(test_shipped_policies, test_doc_examples, test_good_fixtures, test_defaults, test_document_errors,
	  test_match_errors, test_go_errors, test_java_errors, test_env_rlimit_errors, test_rebalance_errors,
	  test_trigger_errors, test_all_errors_collected, test_diag_cap, test_duplicate_names, test_sources_errors,
	  test_configmap_dir, test_refcount, test_sorting, test_limits, test_mutations,
	  test_runtime_names)
