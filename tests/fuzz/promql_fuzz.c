/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger expressions through promql_parse. Invariants: a failure says
 * where and why and leaves *out alone; a success is a tree whose
 * selectors can be matched and freed. */
#include "../../core/promql.h"
#include "fuzz.h"

static const char *get(void *ctx, const char *label)
{
	(void)ctx;
	return strcmp(label, "le") == 0 ? "0.5" : strcmp(label, "__name__") == 0 ? "go_gc_duration_seconds" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = fuzz_strndup(data, size);
	struct promql_expr *x = NULL;
	struct pt_error e = {0};

	if (promql_parse(src, &x, &e) != PT_OK) {
		FUZZ_CHECK(x == NULL && e.msg[0] && e.line >= 1 && e.col >= 1, "error '%s' at %d:%d", e.msg, e.line,
			   e.col);
		goto out;
	}
	FUZZ_CHECK(x && x->root, "no tree");
	FUZZ_CHECK(x->max_range_ms <= PROMQL_MAX_RANGE_MS, "range %llu ms", (unsigned long long)x->max_range_ms);
	for (const struct promql_node *n = x->root; n; n = n->arg)
		if (n->kind == PROMQL_SELECTOR || n->kind == PROMQL_RANGE_FN)
			(void)promql_selector_matches(&n->sel, get, NULL);
	(void)promql_compare(x->cmp, 1.0, x->threshold);
	promql_free(x);
out:
	free(src);
	return 0;
}
