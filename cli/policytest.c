/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner test DIR|FILE...`: run PolicyTest documents. Each names the
 * policies, the resources (Pods, workloads) and the expected outcome per
 * container: the winning policy, env values, absent env vars, annotations.
 * The engine runs exactly as in the webhook and its patch is applied to
 * the resource before the expectations are checked. */
#include "policytest.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/json.h"
#include "../core/patch.h"
#include "../core/tune.h"
#include "../core/yaml.h"
#include "args.h"
#include "input.h"

#define TEST_FILE_NAME "podtuner-test.yaml"
#define MAX_TEST_FILES 1000

static const char usage[] =
	"usage: podtuner test DIR|FILE...\n"
	"\n"
	"Run policy test cases: every file named " TEST_FILE_NAME " under DIR (or the\n"
	"files given) holds PolicyTest documents:\n"
	"\n"
	"  apiVersion: podtuner.io/v1alpha1\n"
	"  kind: PolicyTest\n"
	"  metadata: {name: go-defaults}\n"
	"  policies: [../../policies]    # relative to the test file; default: built-in\n"
	"  resources: [pods.yaml]        # Pods or workloads\n"
	"  results:\n"
	"    - resource: checkout        # metadata.name (or generateName)\n"
	"      container: app\n"
	"      policy: go-default        # \"\" = no policy matches\n"
	"      env: {GOMAXPROCS: \"2\"}\n"
	"      absentEnv: [GOGC]\n"
	"      annotations: {podtuner.io/rlimits: '...'}\n"
	"      skipped: false            # true: the whole pod is left alone\n"
	"\n"
	"Exit status: 0 all passed, 1 a test failed or could not run, 2 usage.\n";

struct counts {
	int pass, fail;
};

struct loaded {
	cJSON *obj;     /* the resource as read (borrowed) */
	cJSON *mutated; /* after the patch */
	struct tune_result r;
	const char *name;
};

static void failf(struct counts *n, const char *file, const struct ynode *at, const char *fmt, ...)
	PT_PRINTF(4, 5);

static void failf(struct counts *n, const char *file, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	printf("  FAIL %s:%d:%d: ", file, at ? at->line : 0, at ? at->col : 0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	n->fail++;
}

static const char *scalar(const struct ynode *n)
{
	return n && n->kind == YNODE_SCALAR ? n->str : NULL;
}

/* Resolve p relative to the directory of file. */
static const char *rel(const char *file, const char *p, char *out, size_t len)
{
	char d[PATH_MAX];

	if (p[0] == '/') {
		snprintf(out, len, "%s", p);
		return out;
	}
	snprintf(d, sizeof d, "%s", file);
	snprintf(out, len, "%s/%s", dirname(d), p);
	return out;
}

static const cJSON *find_container(const cJSON *pod, const char *name)
{
	static const char *const lists[] = {"containers", "initContainers"};
	const cJSON *c;

	for (int i = 0; i < 2; i++)
		cJSON_ArrayForEach(c, json_path(pod, "spec", lists[i], NULL))
			if (json_get_str(c, "name") && strcmp(json_get_str(c, "name"), name) == 0)
				return c;
	return NULL;
}

static const char *env_of(const cJSON *ct, const char *name)
{
	const cJSON *e;
	const char *v = NULL;

	cJSON_ArrayForEach(e, json_get(ct, "env"))
		if (json_get_str(e, "name") && strcmp(json_get_str(e, "name"), name) == 0)
			v = json_get_str(e, "value") ? json_get_str(e, "value") : "";
	return v;
}

static void check_result(const char *file, const struct ynode *exp, struct loaded *res, size_t n_res,
			 struct counts *n)
{
	const char *rname = scalar(ynode_get(exp, "resource"));
	const char *cname = scalar(ynode_get(exp, "container"));
	const struct ynode *pol = ynode_get(exp, "policy"), *env = ynode_get(exp, "env"),
			   *absent = ynode_get(exp, "absentEnv"), *ann = ynode_get(exp, "annotations"),
			   *skipped = ynode_get(exp, "skipped");
	struct loaded *l = NULL;
	const cJSON *pod, *ct = NULL;
	const char *prefix;
	int before = n->fail;
	bool want_skip = false;

	for (size_t i = 0; i < exp->n; i++) {
		static const char *const known[] = {"resource", "container", "policy", "env", "absentEnv",
						    "annotations", "skipped"};
		const char *k = exp->pairs[i].key->str;
		bool ok = false;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok |= strcmp(k, known[j]) == 0;
		if (!ok) {
			failf(n, file, exp->pairs[i].key, "unknown field '%s'", k);
			return;
		}
	}
	if (!rname) {
		failf(n, file, exp, "a result needs 'resource'");
		return;
	}
	for (size_t i = 0; i < n_res; i++)
		if (res[i].name && strcmp(res[i].name, rname) == 0)
			l = &res[i];
	if (!l) {
		failf(n, file, ynode_get(exp, "resource"), "no resource named '%s'", rname);
		return;
	}
	pod = input_pod_template(l->mutated, &prefix);
	if (skipped && ynode_bool(skipped, &want_skip) && want_skip != (l->r.skipped != NULL)) {
		failf(n, file, skipped, "%s: skipped is %s, want %s", rname, l->r.skipped ? "true" : "false",
		      want_skip ? "true" : "false");
		return;
	}
	if (cname) {
		ct = find_container(pod, cname);
		if (!ct) {
			failf(n, file, ynode_get(exp, "container"), "%s has no container '%s'", rname, cname);
			return;
		}
	}
	if (pol) {
		const char *want = scalar(pol);
		const char *got = "";
		for (size_t i = 0; cname && i < l->r.n_containers; i++)
			if (strcmp(l->r.containers[i].name, cname) == 0 && l->r.containers[i].policy)
				got = l->r.containers[i].policy->name;
		if (!want || strcmp(want, got) != 0)
			failf(n, file, pol, "%s: policy is '%s', want '%s'", cname ? cname : rname, got,
			      want ? want : "");
	}
	for (size_t i = 0; env && env->kind == YNODE_MAP && i < env->n; i++) {
		const char *k = env->pairs[i].key->str, *want = scalar(env->pairs[i].value);
		const char *got = ct ? env_of(ct, k) : NULL;
		if (!want || !got || strcmp(want, got) != 0)
			failf(n, file, env->pairs[i].value, "%s is '%s', want '%s'", k, got ? got : "(unset)",
			      want ? want : "");
	}
	for (size_t i = 0; absent && absent->kind == YNODE_SEQ && i < absent->n; i++) {
		const char *k = scalar(absent->items[i]);
		const char *got = ct && k ? env_of(ct, k) : NULL;
		if (got)
			failf(n, file, absent->items[i], "%s is '%s', want it unset", k, got);
	}
	for (size_t i = 0; ann && ann->kind == YNODE_MAP && i < ann->n; i++) {
		const char *k = ann->pairs[i].key->str, *want = scalar(ann->pairs[i].value);
		const char *got = json_get_str(json_path(pod, "metadata", "annotations", NULL), k);
		if (!want || !got || strcmp(want, got) != 0)
			failf(n, file, ann->pairs[i].value, "annotation %s is '%s', want '%s'", k,
			      got ? got : "(unset)", want ? want : "");
	}
	if (n->fail == before) {
		printf("  PASS %s%s%s\n", rname, cname ? "/" : "", cname ? cname : "");
		n->pass++;
	}
}

static int run_doc(const char *file, const struct ynode *doc, struct counts *n)
{
	const struct ynode *pols = ynode_get(doc, "policies"), *ress = ynode_get(doc, "resources"),
			   *results = ynode_get(doc, "results");
	const char *paths[64];
	char pathbuf[64][PATH_MAX];
	size_t n_paths = 0, n_res = 0;
	struct loaded res[256];
	cJSON *lists[64];
	size_t n_lists = 0;
	struct policy_set *ps = NULL;
	struct arena a;
	struct buf patch;
	int rc = 0;

	memset(res, 0, sizeof res);
	arena_init(&a, 64 << 10, 0);
	buf_init(&patch, 16u << 20);
	for (size_t i = 0; pols && pols->kind == YNODE_SEQ && i < pols->n && n_paths < 64; i++)
		if (scalar(pols->items[i]))
			paths[n_paths] = rel(file, scalar(pols->items[i]), pathbuf[n_paths], PATH_MAX), n_paths++;
	if (!(ps = input_load_policies(paths, n_paths))) {
		failf(n, file, pols, "cannot load the policies");
		rc = 1;
		goto out;
	}
	for (size_t i = 0; ress && ress->kind == YNODE_SEQ && i < ress->n; i++) {
		char p[PATH_MAX];
		struct pt_error err;
		cJSON *docs, *d;

		if (!scalar(ress->items[i]))
			continue;
		if (n_lists == sizeof lists / sizeof lists[0])
			break;
		if (input_read_objects(rel(file, scalar(ress->items[i]), p, sizeof p), &docs, &err)) {
			failf(n, file, ress->items[i], "cannot read '%s': %s", p, err.msg);
			rc = 1;
			goto out;
		}
		cJSON_ArrayForEach(d, docs) {
			const char *prefix;
			struct pt_error e2;
			cJSON *pod;
			const char *ns = json_get_str(json_get(d, "metadata"), "namespace");

			if (n_res == sizeof res / sizeof res[0])
				break;
			struct loaded *l = &res[n_res++];
			l->obj = d;
			l->mutated = cJSON_Duplicate(d, true);
			l->name = json_get_str(json_get(d, "metadata"), "name");
			if (!l->name)
				l->name = json_get_str(json_get(d, "metadata"), "generateName");
			if (!(pod = input_pod_template(d, &prefix)))
				continue;
			struct tune_input in = {.pod = pod, .namespace = ns, .policies = ps, .path_prefix = prefix};
			buf_reset(&patch);
			if (tune_pod(&in, &a, &patch, &l->r, &e2) ||
			    patch_apply(l->mutated, patch.data, patch.len, &e2)) {
				failf(n, file, ress->items[i], "%s: %s", l->name ? l->name : "?", e2.msg);
				rc = 1;
			}
		}
		lists[n_lists++] = docs; /* owns the objects that res borrows */
	}
	for (size_t i = 0; results && results->kind == YNODE_SEQ && i < results->n; i++)
		check_result(file, results->items[i], res, n_res, n);
out:
	for (size_t i = 0; i < n_res; i++)
		cJSON_Delete(res[i].mutated);
	for (size_t i = 0; i < n_lists; i++)
		cJSON_Delete(lists[i]);
	policy_set_unref(ps);
	buf_release(&patch);
	arena_release(&a);
	return rc;
}

static int run_file(const char *file, struct counts *n)
{
	struct ystream *ys;
	struct pt_error err;
	char line[1024];
	int rc = 0;

	if (yaml_parse_file(file, &ys, &err)) {
		printf("  FAIL %s\n", pt_error_format(&err, line, sizeof line));
		n->fail++;
		return 1;
	}
	printf("%s\n", file);
	for (size_t i = 0; i < ys->n_docs; i++) {
		const struct ynode *d = ys->docs[i].root;
		const char *kind = scalar(ynode_get(d, "kind"));

		if (!d)
			continue;
		if (!kind || strcmp(kind, "PolicyTest") != 0) {
			failf(n, file, d, "kind is '%s', want PolicyTest", kind ? kind : "");
			rc = 1;
			continue;
		}
		rc |= run_doc(file, d, n);
	}
	yaml_stream_free(ys);
	return rc;
}

static void find_tests(const char *dir, char **out, size_t *n, int depth)
{
	DIR *d;
	struct dirent *de;

	if (depth > 16 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d)) && *n < MAX_TEST_FILES) {
		char p[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (stat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			find_tests(p, out, n, depth + 1);
		else if (strcmp(de->d_name, TEST_FILE_NAME) == 0 && (out[*n] = strdup(p)))
			(*n)++;
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int policytest_main(int argc, char **argv)
{
	static char *files[MAX_TEST_FILES];
	struct counts n = {0};
	size_t nf = 0;
	int rc = 0, help = args_help_only(argc, argv, usage);

	if (help >= 0)
		return help;
	if (optind == argc) {
		fputs(usage, stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "podtuner test: cannot access '%s'\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			find_tests(argv[i], files, &nf, 0);
		else if (nf < MAX_TEST_FILES && (files[nf] = strdup(argv[i])))
			nf++;
	}
	if (nf == 0) {
		fprintf(stderr, "podtuner test: no %s found\n", TEST_FILE_NAME);
		return 1;
	}
	qsort(files, nf, sizeof files[0], cmp_str);
	for (size_t i = 0; i < nf; i++) {
		rc |= run_file(files[i], &n);
		free(files[i]);
	}
	printf("%d passed, %d failed\n", n.pass, n.fail);
	return rc || n.fail ? 1 : 0;
}
