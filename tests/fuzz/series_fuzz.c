/* SPDX-License-Identifier: Apache-2.0 */
/* Scraped pages through series_ingest into a small store built from a few
 * triggers, each page followed by an evaluation of every trigger, as the
 * agent's tick does. The input is a sequence of pages separated by '\f',
 * one second apart, for two containers; an empty page is a failed scrape.
 * Container "b" (every third page) alternates: a page said to come every
 * 3 s (series_ingest_every), then a reading of the agent's own series "a"
 * (series_add: the page's first byte) in place of the next.
 * Invariants: the store stays within its memory cap; results are
 * consistent (data or a reason, firing only with data). */
#include "../../core/promql.h"
#include "../../rebalancer/eval.h"
#include "../../rebalancer/series.h"
#include "fuzz.h"

static const char *const triggers[] = {
	"rate(go_gc_duration_seconds_count[10s]) > 0",
	"histogram_quantile(0.9, sum by (le) (rate(go_gc_pauses_seconds_bucket[10s]))) > 0.001",
	"max without (pool) (jvm_memory_pool_bytes_used{pool=~\"G1.*|Meta.*\", area!=\"x\"}) > 1e6",
	"avg_over_time(a{c=\"1\"}[5s]) >= 3",
	"sum by (x) (increase(b[3s])) > 1",
	"min(delta(c[4s])) < 0",
};
#define N_TRIGGERS (sizeof triggers / sizeof triggers[0])

/* Small, so that every limit is reached. */
static const struct series_config cfg = {
	.interval_ms = 1000,
	.max_containers = 2,
	.max_series_per_container = 16,
	.max_series = 24,
	.max_label_bytes = 128,
	.max_bytes = (size_t)256 << 10,
};

static struct promql_expr *x[N_TRIGGERS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pt_error e = {0};

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < N_TRIGGERS; i++)
		FUZZ_CHECK(promql_parse(triggers[i], &x[i], &e) == PT_OK, "'%s': %s", triggers[i], e.msg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct series_store *s = NULL;
	struct series_ingest_stats st;
	struct series_mem m;
	struct eval_result r;
	struct pt_error e = {0};
	int64_t now = 0;

	FUZZ_CHECK(series_new(&cfg, (const struct promql_expr *const *)x, N_TRIGGERS, &s, &e) == PT_OK, "%s",
		   e.msg);
	for (size_t i = 0;; i++) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		size_t n = ff ? (size_t)(ff - p) : (size_t)(end - p);
		const char *key = i % 3 == 2 ? "b" : "a";

		now += 1000;
		if (key[0] == 'b' && i % 2) {
			if (series_add(s, key, "a", NULL, 0, n ? (double)(unsigned char)p[0] : 0, now, &e) != PT_OK)
				FUZZ_CHECK(e.msg[0], "an error without a message");
		} else if (series_ingest_every(s, key, n ? p : NULL, n, now, key[0] == 'b' ? 3000 : 0, &st, &e) !=
			   PT_OK) {
			FUZZ_CHECK(e.msg[0], "an error without a message");
		}
		for (size_t t = 0; t < N_TRIGGERS; t++) {
			eval_expr(s, key, x[t], now, &r);
			FUZZ_CHECK(r.has_data == (r.why == EVAL_HAS_DATA) && (!r.firing || r.has_data),
				   "'%s': has_data %d, why %d, firing %d", triggers[t], r.has_data, r.why, r.firing);
		}
		series_mem_stats(s, &m);
		FUZZ_CHECK(m.bytes_reserved <= cfg.max_bytes, "%zu bytes reserved", m.bytes_reserved);
		if (!ff)
			break;
		p = ff + 1;
	}
	(void)series_expire(s, now + 60000, 1000);
	series_free(s);
	return 0;
}
