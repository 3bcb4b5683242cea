/* SPDX-License-Identifier: Apache-2.0 */
/* The admission path without the network: for each AdmissionReview given,
 * the time per request of what the webhook's handler does (review_parse:
 * JSON parse into the request arena; review_respond: the engine, the JSON
 * Patch, base64 and the response), next to a plain cJSON_Parse of the same
 * body (malloc) and a parse into the arena. Rounds of a fixed duration;
 * the median and the best round are printed, and one JSON line per body.
 *
 *   engine_bench POLICY REVIEW.json...     (run from the repository root)
 *
 * BENCH_ONLY=full (or cjson, arena) runs one mode, for a profiler;
 * BENCH_ITERS=N runs exactly N requests per mode, untimed, for callgrind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/fileio.h"
#include "../../core/json.h"
#include "../../core/policy.h"
#include "../../webhook/review.h"

#define BODY_MAX ((size_t)3 << 20)
#define ROUNDS 15
#define ROUND_NS 40000000.0 /* 40 ms a round */
#define ARENA_CHUNK ((size_t)64 << 10) /* as the server's */
#define ARENA_MAX ((size_t)64 << 20)

enum mode { M_CJSON, M_ARENA, M_OURS, M_FULL, M_COUNT };
static const char *const mode_name[M_COUNT] = {"cJSON_Parse+Delete (malloc)", "cJSON parse into the arena",
					       "json_parse into the arena", "review_parse+review_respond"};
static const char *const mode_key[M_COUNT] = {"cjson_parse_us", "arena_parse_us", "json_parse_us", "full_us"};

struct ctx {
	const char *body;
	size_t len;
	const struct policy_set *ps;
	struct arena arena;
	struct buf patch, out;
	struct review_outcome oc;
	size_t out_len;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request's work in mode m; false on an unexpected failure. */
static bool once(struct ctx *c, enum mode m)
{
	struct review_request rq;
	struct pt_error e;
	struct arena *prev;
	cJSON *j;
	bool ok = true;

	switch (m) {
	case M_CJSON:
		j = cJSON_ParseWithLength(c->body, c->len);
		ok = j != NULL;
		cJSON_Delete(j);
		return ok;
	case M_ARENA:
		prev = json_use_arena(&c->arena);
		ok = cJSON_ParseWithLength(c->body, c->len) != NULL;
		json_use_arena(prev);
		break;
	case M_OURS:
		prev = json_use_arena(&c->arena);
		ok = json_parse(c->body, c->len, NULL) != NULL;
		json_use_arena(prev);
		break;
	case M_FULL:
		/* as webhook.c on_mutate, minus HTTP, logs and metrics */
		buf_init_arena(&c->patch, &c->arena, (size_t)4 << 20);
		buf_init_arena(&c->out, &c->arena, (size_t)8 << 20);
		ok = review_parse(c->body, c->len, &c->arena, &rq, &e) == PT_OK &&
		     review_respond(&rq, c->ps, &c->arena, &c->patch, &c->out, &c->oc) == PT_OK;
		c->out_len = c->out.len;
		break;
	default:
		return false;
	}
	arena_reset(&c->arena);
	return ok;
}

static bool measure(struct ctx *c, enum mode m, double *median, double *best)
{
	double per[ROUNDS], t0;
	long iters = 1;
	const char *fixed = getenv("BENCH_ITERS");

	if (fixed) {
		for (long i = strtol(fixed, NULL, 10); i > 0; i--)
			if (!once(c, m))
				return false;
		*median = *best = 0;
		return true;
	}

	/* warm up, and size a round */
	t0 = now_ns();
	while (now_ns() - t0 < ROUND_NS) {
		if (!once(c, m))
			return false;
		iters++;
	}
	for (int r = 0; r < ROUNDS; r++) {
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			if (!once(c, m))
				return false;
		per[r] = (now_ns() - t0) / (double)iters / 1000.0;
	}
	qsort(per, ROUNDS, sizeof per[0], cmp_dbl);
	*median = per[ROUNDS / 2];
	*best = per[0];
	return true;
}

int main(int argc, char **argv)
{
	struct policy_source src;
	struct policy_diags d = {0};
	struct policy_set *ps = NULL;
	int status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: engine_bench POLICY REVIEW.json...\n");
		return 2;
	}
	json_init();
	src = (struct policy_source){.path = argv[1]};
	if (policy_set_load(&src, 1, &ps, &d) != PT_OK) {
		char line[512];

		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", pt_error_format(&d.v[i], line, sizeof line));
		fprintf(stderr, "engine_bench: cannot load '%s'\n", argv[1]);
		policy_diags_release(&d);
		return 1;
	}
	for (int f = 2; f < argc; f++) {
		struct ctx c = {.ps = ps};
		struct buf body;
		struct pt_error e;
		double med[M_COUNT], best[M_COUNT];

		buf_init(&body, BODY_MAX);
		if (fileio_read(argv[f], BODY_MAX, &body, &e) != PT_OK) {
			fprintf(stderr, "engine_bench: %s\n", e.msg);
			status = 1;
			continue;
		}
		c.body = body.data;
		c.len = body.len;
		arena_init(&c.arena, ARENA_CHUNK, ARENA_MAX);
		printf("%s (%zu bytes)\n", argv[f], body.len);
		for (int m = 0; m < M_COUNT; m++) {
			const char *only = getenv("BENCH_ONLY");

			if (only && !strstr(mode_key[m], only)) {
				med[m] = best[m] = 0;
				continue;
			}
			if (!measure(&c, (enum mode)m, &med[m], &best[m])) {
				fprintf(stderr, "engine_bench: %s failed on '%s'\n", mode_name[m], argv[f]);
				status = 1;
				break;
			}
			printf("  %-30s %8.1f us/request (best round %.1f)\n", mode_name[m], med[m], best[m]);
		}
		if (!status) {
			printf("  result %s, %zu containers tuned, %zu ops, response %zu bytes\n",
			       review_result_name(c.oc.result), c.oc.tune.n_tuned, c.oc.tune.n_ops, c.out_len);
			printf("RESULT {\"fixture\":\"%s\",\"bytes\":%zu,\"ops\":%zu", argv[f], body.len,
			       c.oc.tune.n_ops);
			for (int m = 0; m < M_COUNT; m++)
				printf(",\"%s\":%.2f,\"%s_best\":%.2f", mode_key[m], med[m], mode_key[m], best[m]);
			printf("}\n");
			if (c.oc.result != REVIEW_PATCHED) {
				fprintf(stderr, "engine_bench: '%s' was not patched: the policy must tune it\n", argv[f]);
				status = 1;
			}
		}
		arena_release(&c.arena);
		buf_release(&body);
	}
	policy_set_unref(ps);
	return status;
}
