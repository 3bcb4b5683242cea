/* SPDX-License-Identifier: Apache-2.0 */
/* The planner. cpu.weight is planned per pool: targets come from the
 * baselines (hot containers up toward their ceiling, the rest down toward
 * their floor, the same total), and each change moves every weight toward
 * its target by at most its step, with the ups and downs sized to cancel.
 * memory.high is planned per container. */
#include "planner.h"

#include <stdlib.h>
#include <string.h>

/* A pool is small (the containers of one node); quadratic scans are fine
 * and keep the code obvious. The agent bounds n. */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int64_t floor_bound(const struct plan_item *it)
{
	double v = (double)it->w_base * it->rb->cpu_min_factor;
	int64_t lo = (int64_t)v;

	if ((double)lo < v)
		lo++; /* ceil: never below the factor */
	return clamp64(lo, PLANNER_WEIGHT_MIN, PLANNER_WEIGHT_MAX);
}

static int64_t ceil_bound(const struct plan_item *it)
{
	return clamp64((int64_t)((double)it->w_base * it->rb->cpu_max_factor), PLANNER_WEIGHT_MIN,
		       PLANNER_WEIGHT_MAX);
}

static int64_t step_of(const struct plan_item *it)
{
	int64_t s = (int64_t)((double)it->w_base * it->rb->cpu_step);

	return s < 1 ? 1 : s;
}

/* Per-pool scratch, one allocation per planner_run. */
struct scratch {
	struct pool_member *m;
	int64_t *a, *b, *got_a, *got_b;
	__int128 *frac;
	bool *taken;
	bool *done;
};

/* Share `total` among k slots in proportion to want[] by largest
 * remainder: the shares sum to exactly min(total, sum(want)) and none
 * exceeds its want. */
static void share(struct scratch *s, const int64_t *want, int64_t *got, size_t k, int64_t total)
{
	int64_t sum = 0, given = 0;

	for (size_t i = 0; i < k; i++)
		sum += want[i];
	if (total > sum)
		total = sum;
	for (size_t i = 0; i < k; i++) {
		got[i] = sum > 0 && total > 0 ? (int64_t)((__int128)want[i] * total / sum) : 0;
		s->frac[i] = sum > 0 ? (__int128)want[i] * total % sum : 0;
		s->taken[i] = false;
		given += got[i];
	}
	/* Fewer than k units are left; each goes to the largest remaining
	 * fraction (ties: lowest index, so the plan is deterministic). */
	while (given < total) {
		size_t best = k;

		for (size_t i = 0; i < k; i++)
			if (!s->taken[i] && s->frac[i] > 0 && (best == k || s->frac[i] > s->frac[best]))
				best = i;
		if (best == k)
			break;
		s->taken[best] = true;
		got[best]++;
		given++;
	}
}

struct pool_member {
	size_t idx;
	int64_t target;
};

/* Targets for one pool: with hot members, the others give down toward
 * their floors what the hot ones can take up to their ceilings, in
 * proportion to the room each has; without, every target is the baseline. */
static void pool_targets(struct scratch *s, const struct plan_item *items, size_t k)
{
	int64_t room_up = 0, room_down = 0, gain;
	struct pool_member *m = s->m;

	for (size_t i = 0; i < k; i++) {
		const struct plan_item *it = &items[m[i].idx];

		s->a[i] = it->cpu_hot ? ceil_bound(it) - it->w_base : 0;
		s->b[i] = it->cpu_hot ? 0 : it->w_base - floor_bound(it);
		if (s->a[i] < 0)
			s->a[i] = 0;
		if (s->b[i] < 0)
			s->b[i] = 0;
		room_up += s->a[i];
		room_down += s->b[i];
		m[i].target = it->w_base;
	}
	gain = room_up < room_down ? room_up : room_down;
	if (gain <= 0)
		return;
	share(s, s->a, s->got_a, k, gain);
	share(s, s->b, s->got_b, k, gain);
	for (size_t i = 0; i < k; i++)
		m[i].target += s->got_a[i] - s->got_b[i];
}

static size_t emit(struct plan_write *out, size_t cap, size_t n, size_t item, enum plan_file f, int64_t from,
		   int64_t to, const char *reason)
{
	if (n < cap)
		out[n] = (struct plan_write){.item = item, .file = f, .from = from, .to = to, .reason = reason};
	return n + 1;
}

static size_t plan_pool(struct scratch *s, const struct plan_item *items, size_t k, uint64_t now,
			struct plan_write *out, size_t cap, size_t n_out)
{
	uint64_t cooldown = 0, decay = 0, last_change = 0, quiet_since = 0;
	bool any_hot = false;
	int64_t sum_cur = 0, sum_target = 0, up_cap = 0, down_cap = 0, excess, du, dd;
	struct pool_member *m = s->m;

	for (size_t i = 0; i < k; i++) {
		const struct plan_item *it = &items[m[i].idx];

		/* A pool keeps the pace of its slowest member's policy. */
		if (it->rb->cooldown_ms > cooldown)
			cooldown = it->rb->cooldown_ms;
		if (it->rb->decay_ms > decay)
			decay = it->rb->decay_ms;
		if (it->cpu_changed_ms > last_change)
			last_change = it->cpu_changed_ms;
		if (it->cpu_hot)
			any_hot = true;
		else if (it->cpu_quiet_ms > quiet_since)
			quiet_since = it->cpu_quiet_ms;
	}
	if (last_change && now < last_change + cooldown)
		return n_out;
	/* Clear, but not for long enough to decay: hold where we are. */
	if (!any_hot && now < quiet_since + decay)
		return n_out;
	pool_targets(s, items, k);

	for (size_t i = 0; i < k; i++) {
		const struct plan_item *it = &items[m[i].idx];
		int64_t d = m[i].target - it->w_cur, st = step_of(it);

		sum_cur += it->w_cur;
		sum_target += m[i].target;
		s->a[i] = d > 0 ? (d < st ? d : st) : 0;
		s->b[i] = d < 0 ? (-d < st ? -d : st) : 0;
		up_cap += s->a[i];
		down_cap += s->b[i];
	}
	/* Ups and downs cancel, so the pool's sum holds. If an outside change
	 * moved the sum off the baselines' sum, let them differ by as much as
	 * brings it back. */
	excess = sum_cur - sum_target;
	if (excess >= 0) {
		du = up_cap < down_cap - excess ? up_cap : down_cap - excess;
		du = du < 0 ? 0 : du;
		dd = du + excess < down_cap ? du + excess : down_cap;
	} else {
		dd = down_cap < up_cap + excess ? down_cap : up_cap + excess;
		dd = dd < 0 ? 0 : dd;
		du = dd - excess < up_cap ? dd - excess : up_cap;
	}
	if (du == 0 && dd == 0)
		return n_out;
	share(s, s->a, s->got_a, k, du);
	share(s, s->b, s->got_b, k, dd);
	for (size_t i = 0; i < k; i++) {
		const struct plan_item *it = &items[m[i].idx];
		int64_t to = it->w_cur + s->got_a[i] - s->got_b[i];
		const char *why = !any_hot ? "decay" : s->got_a[i] ? "grant" : "give";

		if (to != it->w_cur)
			n_out = emit(out, cap, n_out, m[i].idx, PLAN_CPU_WEIGHT, it->w_cur, to, why);
	}
	return n_out;
}

int64_t planner_kep_high(int64_t request, int64_t limit, uint32_t factor_ppm, int64_t page)
{
	__int128 v;

	if (limit <= 0 || limit == PLANNER_UNLIMITED || request >= limit || page <= 0)
		return -1;
	if (request < 0)
		request = 0;
	v = (__int128)request + (__int128)(limit - request) * factor_ppm / 1000000;
	return (int64_t)(v / page * page);
}

static int64_t page_down(int64_t v, int64_t page)
{
	return v / page * page;
}

static int64_t page_up(int64_t v, int64_t page)
{
	return (v + page - 1) / page * page;
}

static size_t plan_memory(const struct plan_item *it, size_t idx, uint64_t now, int64_t page,
			  struct plan_write *out, size_t cap, size_t n_out)
{
	const struct policy_rebalance *rb = it->rb;
	int64_t ceiling, floor, to;
	const char *why;

	if (!it->mem_ok || it->mem_base < 0 || it->mem_base == PLANNER_UNLIMITED)
		return n_out;
	ceiling = it->mem_max == PLANNER_UNLIMITED ? PLANNER_UNLIMITED : page_down(it->mem_max, page);
	/* Never throttle below what the container uses plus headroom: under
	 * that, anonymous memory without swap livelocks (DESIGN.md §5). */
	floor = page_up(it->mem_usage + rb->mem_headroom, page);
	/* Cooldown, unless usage has come within headroom of the limit. */
	if (it->mem_changed_ms && now < it->mem_changed_ms + rb->cooldown_ms && it->mem_high >= floor)
		return n_out;

	if (it->mem_hot) {
		/* Widen by a step of the distance to memory.max. */
		if (it->mem_high == PLANNER_UNLIMITED || ceiling == PLANNER_UNLIMITED)
			return n_out;
		to = page_up(it->mem_high + (int64_t)((double)(ceiling - it->mem_high) * rb->mem_step), page);
		if (to <= it->mem_high)
			to = it->mem_high + page;
		why = "widen";
	} else if (!it->mem_changed_ms) {
		/* First sight: start from the KEP-2570 baseline. */
		to = it->mem_base;
		why = "baseline";
	} else if (it->mem_high > it->mem_base && now >= it->mem_quiet_ms + rb->decay_ms) {
		/* Clear for long enough: step back toward the baseline. */
		to = page_down(it->mem_high - (int64_t)((double)(it->mem_high - it->mem_base) * rb->mem_step), page);
		if (to < it->mem_base || to == it->mem_high)
			to = it->mem_base;
		why = "decay";
	} else {
		to = it->mem_high;
		why = "hold";
	}
	if (to < floor) {
		to = floor;
		why = "headroom";
	}
	if (ceiling != PLANNER_UNLIMITED && to > ceiling)
		to = ceiling;
	if (to == it->mem_high)
		return n_out;
	return emit(out, cap, n_out, idx, PLAN_MEMORY_HIGH, it->mem_high, to, why);
}

size_t planner_run(const struct plan_item *items, size_t n, uint64_t now_ms, int64_t page, struct plan_write *out,
		   size_t cap)
{
	struct scratch s;
	size_t n_out = 0;
	void *mem;

	if (n == 0)
		return 0;
	/* One block for all scratch arrays; without it, plan nothing (safe). */
	mem = calloc(n, sizeof *s.m + 4 * sizeof(int64_t) + sizeof(__int128) + 2 * sizeof(bool));
	if (!mem)
		return 0;
	s.frac = mem;
	s.m = (struct pool_member *)(s.frac + n);
	s.a = (int64_t *)(s.m + n);
	s.b = s.a + n;
	s.got_a = s.b + n;
	s.got_b = s.got_a + n;
	s.taken = (bool *)(s.got_b + n);
	s.done = s.taken + n;

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		if (s.done[i] || !items[i].pool || !items[i].rb)
			continue;
		/* Gather the pool. Members that cannot be written this tick
		 * are left out, their weight with them. */
		for (size_t j = i; j < n; j++) {
			if (s.done[j] || !items[j].pool || !items[j].rb || strcmp(items[j].pool, items[i].pool) != 0)
				continue;
			s.done[j] = true;
			if (items[j].cpu_ok && items[j].w_base >= PLANNER_WEIGHT_MIN)
				s.m[k++] = (struct pool_member){.idx = j};
		}
		if (k >= 2)
			n_out = plan_pool(&s, items, k, now_ms, out, cap, n_out);
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].rb)
			n_out = plan_memory(&items[i], i, now_ms, page, out, cap, n_out);
	free(mem);
	return n_out;
}
