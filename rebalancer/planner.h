/* SPDX-License-Identifier: Apache-2.0 */
/* The rebalance planner: a pure function from one tick's snapshot of the
 * node's tuned containers to the cgroup writes to make. No I/O, no clock:
 * "now" is an argument, so every guarantee is testable with plain data.
 *
 * Guarantees (DESIGN.md §7):
 *  - cpu.weight moves only among the containers of one pool, and the
 *    pool's weights always sum to their baselines' sum (exactly: integer
 *    shares are handed out by largest remainder). Should an outside change
 *    have moved the sum, each step brings it back toward the baselines.
 *  - every weight stays in [baseline x minFactor, baseline x maxFactor]
 *    and in [1, 10000];
 *  - a weight moves at most step x baseline per change; after a change the
 *    pool waits `cooldown`; once no trigger has fired for `decay`, weights
 *    step back to baseline;
 *  - memory.high is page-aligned, never below memory.current + headroom,
 *    never above memory.max, and never written for a container without a
 *    KEP-2570 baseline (Guaranteed pods have none). */
#ifndef PT_PLANNER_H
#define PT_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/policy.h"

#define PLANNER_UNLIMITED INT64_MAX /* "max" in memory.high / memory.max */
#define PLANNER_WEIGHT_MIN 1
#define PLANNER_WEIGHT_MAX 10000

/* One container, as the agent sees it this tick. */
struct plan_item {
	const char *key;                   /* for messages */
	const char *pool;                  /* NULL: no cpu.weight moves */
	const struct policy_rebalance *rb; /* the container's policy */

	bool cpu_ok;             /* cpu.weight was read and may be written */
	int64_t w_base;          /* baseline weight */
	int64_t w_cur;           /* current weight */
	bool cpu_hot;            /* a trigger with grant: cpu fires */
	uint64_t cpu_changed_ms; /* last cpu.weight write, 0 = never */
	uint64_t cpu_quiet_ms;   /* since when no cpu trigger fired (valid when !cpu_hot) */

	bool mem_ok;             /* memory files were read and memory.high may be written */
	int64_t mem_base;        /* KEP-2570 memory.high, or -1: leave memory.high alone */
	int64_t mem_high;        /* current memory.high */
	int64_t mem_max;         /* memory.max */
	int64_t mem_usage;       /* memory.current */
	bool mem_hot;            /* a trigger with grant: memory fires */
	uint64_t mem_changed_ms;
	uint64_t mem_quiet_ms;
};

enum plan_file { PLAN_CPU_WEIGHT, PLAN_MEMORY_HIGH };

struct plan_write {
	size_t item; /* index into the items */
	enum plan_file file;
	int64_t from, to;
	const char *reason; /* static text: "grant", "give", "decay", "headroom", ... */
};

/* Plan one tick. items[] is not modified. Writes go to out (at most cap;
 * more are dropped and counted in the return value's excess, so size out
 * as 2 x n). Returns the number of writes wanted. Items of one pool are
 * recognised by equal pool names; their order does not matter. */
size_t planner_run(const struct plan_item *items, size_t n, uint64_t now_ms, int64_t page,
		   struct plan_write *out, size_t cap);

/* KEP-2570: floor((request + factor x (limit - request)) / page) x page,
 * factor in parts per million. Returns -1 (leave memory.high alone) with
 * no limit, or when request >= limit (Guaranteed: the kubelet never sets
 * memory.high for those). */
int64_t planner_kep_high(int64_t request, int64_t limit, uint32_t factor_ppm, int64_t page);

#endif
