/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner mutate`: run the engine on Pods, workloads or AdmissionReviews
 * read from files, exactly as the webhook would, and print the result as
 * the mutated object, the patch, the AdmissionReview response, or an
 * explanation of every decision. */
#include "mutate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/json.h"
#include "../core/patch.h"
#include "../core/tune.h"
#include "../webhook/review.h"
#include "input.h"

enum output { OUT_POD, OUT_PATCH, OUT_REVIEW, OUT_EXPLAIN };

static const char usage[] =
	"usage: podtuner mutate [-p POLICIES]... [-o pod|patch|review|explain] [-n NAMESPACE] FILE|-\n"
	"\n"
	"Show what podtuner does to the Pods in FILE (YAML or JSON): Pods, workloads\n"
	"(Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob: their pod\n"
	"template) or AdmissionReview requests, as the webhook would.\n"
	"\n"
	"  -p, --policies PATH  policy file or directory (repeatable; default: the\n"
	"                       built-in policies)\n"
	"  -o, --output FORMAT  pod      the mutated object (default)\n"
	"                       patch    the RFC 6902 JSON Patch\n"
	"                       review   the AdmissionReview response (AdmissionReview input)\n"
	"                       explain  the policy and the reason behind every knob\n"
	"  -n, --namespace NS   namespace of objects that do not say (default: default)\n"
	"\n"
	"Exit status: 0 ok, 1 an object could not be read or tuned, 2 usage.\n";

static void print_json(const cJSON *j)
{
	char *s = cJSON_Print(j);

	if (s) {
		puts(s);
		cJSON_free(s);
	}
}

/* One operation per line: readable, and diff-friendly in a review. */
static void print_patch(const char *patch, size_t len)
{
	cJSON *p = json_parse(patch, len, NULL), *op;
	bool first = true;

	if (!p)
		return;
	fputs("[", stdout);
	cJSON_ArrayForEach(op, p) {
		char *s = cJSON_PrintUnformatted(op);
		printf("%s\n  %s", first ? "" : ",", s ? s : "null");
		cJSON_free(s);
		first = false;
	}
	puts(first ? "]" : "\n]");
	cJSON_Delete(p);
}

static void explain(const cJSON *obj, const char *ns, const struct tune_result *r, const char *patch, size_t len)
{
	const cJSON *md = json_get(obj, "metadata");
	const char *name = json_get_str(md, "name");

	if (!name)
		name = json_get_str(md, "generateName");
	printf("%s %s/%s\n", json_get_str(obj, "kind") ? json_get_str(obj, "kind") : "Pod", ns,
	       name ? name : "(unnamed)");
	if (r->skipped) {
		printf("  skipped: %s\n", r->skipped);
		return;
	}
	for (size_t i = 0; i < r->n_containers; i++) {
		const struct tune_container *c = &r->containers[i];

		printf("  %s %s\n", c->init ? "initContainer" : "container", c->name);
		printf("    %s\n", c->why ? c->why : "");
		for (size_t k = 0; k < c->n_changes; k++) {
			const struct tune_change *ch = &c->changes[k];
			printf("    %-5s %-26s %-20s %s\n", tune_action_name(ch->action), ch->knob,
			       ch->value ? ch->value : "-", ch->reason ? ch->reason : "");
		}
	}
	for (size_t i = 0; i < r->n_warnings; i++)
		printf("  warning: %s\n", r->warnings[i]);
	printf("  patch: %zu operation%s\n", r->n_ops, r->n_ops == 1 ? "" : "s");
	if (r->n_ops)
		print_patch(patch, len);
}

/* One object through the engine; returns an exit status. */
static int mutate_one(cJSON *obj, const char *path, const struct policy_set *ps, enum output out,
		      const char *default_ns)
{
	struct arena a;
	struct buf patch, resp;
	struct pt_error err;
	int status = 0;
	const char *kind = json_get_str(obj, "kind");

	arena_init(&a, 64 << 10, 0);
	buf_init(&patch, 64u << 20);
	buf_init(&resp, 64u << 20);

	if (kind && strcmp(kind, "AdmissionReview") == 0) {
		struct review_request rq;
		struct review_outcome oc;
		char *text = cJSON_PrintUnformatted(obj);

		if (!text || review_parse(text, strlen(text), &a, &rq, &err)) {
			fprintf(stderr, "%s: %s\n", path, text ? err.msg : "out of memory");
			cJSON_free(text);
			status = 1;
			goto out;
		}
		cJSON_free(text);
		if (review_respond(&rq, ps, &a, &patch, &resp, &oc)) {
			fprintf(stderr, "%s: cannot build the response\n", path);
			status = 1;
			goto out;
		}
		if (oc.result == REVIEW_FAILED)
			status = 1;
		switch (out) {
		case OUT_REVIEW:
			puts(resp.data);
			break;
		case OUT_PATCH:
			print_patch(patch.data ? patch.data : "[]", patch.len ? patch.len : 2);
			break;
		case OUT_EXPLAIN:
		case OUT_POD: {
			/* Rerun on the embedded object for the richer output. */
			cJSON *pod = cJSON_Duplicate(rq.object, true);
			if (!pod || !rq.object) {
				fprintf(stderr, "%s: the AdmissionReview has no object\n", path);
				cJSON_Delete(pod);
				status = 1;
				goto out;
			}
			status |= mutate_one(pod, path, ps, out, rq.namespace ? rq.namespace : default_ns);
			cJSON_Delete(pod);
			break;
		}
		}
		goto out;
	}

	const char *prefix;
	cJSON *pod = input_pod_template(obj, &prefix);
	if (!pod) {
		fprintf(stderr, "%s: kind '%s' has no pod template; skipped\n", path, kind ? kind : "");
		status = 1;
		goto out;
	}
	const char *ns = json_get_str(json_get(obj, "metadata"), "namespace");
	struct tune_input in = {.pod = pod, .namespace = ns ? ns : default_ns, .policies = ps,
				.path_prefix = prefix, .explain = out == OUT_EXPLAIN};
	struct tune_result r;

	if (tune_pod(&in, &a, &patch, &r, &err)) {
		fprintf(stderr, "%s: cannot tune: %s\n", path, err.msg);
		status = 1;
		goto out;
	}
	switch (out) {
	case OUT_EXPLAIN:
		explain(obj, in.namespace, &r, patch.data, patch.len);
		break;
	case OUT_PATCH:
		print_patch(patch.data, patch.len);
		break;
	case OUT_REVIEW:
		fprintf(stderr, "%s: -o review needs an AdmissionReview as input\n", path);
		status = 1;
		break;
	case OUT_POD:
		if (patch_apply(obj, patch.data, patch.len, &err)) {
			fprintf(stderr, "%s: internal error: the patch does not apply: %s\n", path, err.msg);
			status = 1;
			break;
		}
		print_json(obj);
		break;
	}
	for (size_t i = 0; out != OUT_EXPLAIN && i < r.n_warnings; i++)
		fprintf(stderr, "warning: %s\n", r.warnings[i]);
out:
	buf_release(&patch);
	buf_release(&resp);
	arena_release(&a);
	return status;
}

int mutate_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policies", required_argument, NULL, 'p'}, {"output", required_argument, NULL, 'o'},
		{"namespace", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0},
	};
	const char *paths[64];
	size_t n_paths = 0;
	enum output out = OUT_POD;
	const char *ns = "default";
	struct policy_set *ps;
	struct pt_error err;
	cJSON *docs = NULL, *d;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (n_paths == sizeof paths / sizeof paths[0]) {
				fprintf(stderr, "podtuner mutate: too many -p\n");
				return 2;
			}
			paths[n_paths++] = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "pod") == 0)
				out = OUT_POD;
			else if (strcmp(optarg, "patch") == 0)
				out = OUT_PATCH;
			else if (strcmp(optarg, "review") == 0)
				out = OUT_REVIEW;
			else if (strcmp(optarg, "explain") == 0)
				out = OUT_EXPLAIN;
			else {
				fprintf(stderr, "podtuner mutate: unknown output '%s'\n%s", optarg, usage);
				return 2;
			}
			break;
		case 'n':
			ns = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (!(ps = input_load_policies(paths, n_paths)))
		return 1;
	if (input_read_objects(argv[optind], &docs, &err)) {
		char line[1024];
		if (!err.file[0])
			pt_error_at(&err, argv[optind], err.line, err.col);
		fprintf(stderr, "%s\n", pt_error_format(&err, line, sizeof line));
		policy_set_unref(ps);
		return 1;
	}
	cJSON_ArrayForEach(d, docs)
		status |= mutate_one(d, argv[optind], ps, out, ns);
	cJSON_Delete(docs);
	policy_set_unref(ps);
	return status;
}
