/* SPDX-License-Identifier: Apache-2.0 */
/* The planner's guarantees, checked on simulated ticks: conservation,
 * bounds, steps, cooldown, decay, outside changes, and memory.high's
 * floor, ceiling and page alignment. */
#include "../../rebalancer/planner.h"
#include "test.h"

#define PAGE 4096
#define MIB (1024LL * 1024)

static struct policy_rebalance rb_default(void)
{
	struct policy_rebalance rb = {
		.present = true,
		.pool = (char *)"web",
		.cpu_min_factor = 0.5,
		.cpu_max_factor = 4,
		.cpu_step = 0.5,
		.mem_throttling_ppm = 900000,
		.mem_headroom = 64 * MIB,
		.mem_step = 0.25,
		.cooldown_ms = 3000,
		.decay_ms = 10000,
	};
	return rb;
}

static void cpu_item(struct plan_item *it, const struct policy_rebalance *rb, int64_t base)
{
	memset(it, 0, sizeof *it);
	it->key = "c";
	it->pool = rb->pool;
	it->rb = rb;
	it->cpu_ok = true;
	it->w_base = base;
	it->w_cur = base;
	it->mem_base = -1;
}

/* Run one tick and apply its writes the way the agent does. */
static size_t tick(struct plan_item *it, size_t n, uint64_t now, struct plan_write *w)
{
	size_t k = planner_run(it, n, now, PAGE, w, 2 * n);

	for (size_t i = 0; i < k; i++) {
		struct plan_item *x = &it[w[i].item];
		if (w[i].file == PLAN_CPU_WEIGHT) {
			x->w_cur = w[i].to;
			x->cpu_changed_ms = now;
		} else {
			x->mem_high = w[i].to;
			x->mem_changed_ms = now;
		}
	}
	return k;
}

static int64_t sum_w(const struct plan_item *it, size_t n)
{
	int64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += it[i].w_cur;
	return s;
}

static void test_grant_conserves_and_bounds(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[3];
	struct plan_write w[6];
	int changes = 0;

	for (int i = 0; i < 3; i++)
		cpu_item(&it[i], &rb, 100);
	it[0].cpu_hot = true;
	for (uint64_t t = 1000; t <= 60000; t += 1000) {
		size_t k = tick(it, 3, t, w);
		changes += k > 0;
		CHECK_INT(sum_w(it, 3), 300);
		for (int i = 0; i < 3; i++) {
			CHECK(it[i].w_cur >= 50);
			CHECK(it[i].w_cur <= 400);
		}
	}
	/* Hot one takes all the others can give: 100 + 2 x 50. */
	CHECK_INT(it[0].w_cur, 200);
	CHECK_INT(it[1].w_cur, 50);
	CHECK_INT(it[2].w_cur, 50);
	/* Steps of at most 50 (0.5 x 100) up: 2 changes, cooldown between. */
	CHECK_INT(changes, 2);
}

static void test_step_and_cooldown(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[4];
	struct plan_write w[8];
	uint64_t last = 0;

	rb.cpu_step = 0.1;
	rb.cooldown_ms = 5000;
	for (int i = 0; i < 4; i++)
		cpu_item(&it[i], &rb, 1000);
	it[2].cpu_hot = true;
	for (uint64_t t = 1000; t <= 200000; t += 1000) {
		int64_t before[4];
		for (int i = 0; i < 4; i++)
			before[i] = it[i].w_cur;
		size_t k = tick(it, 4, t, w);
		if (k) {
			if (last)
				CHECK(t - last >= 5000);
			last = t;
		}
		for (int i = 0; i < 4; i++) {
			int64_t d = it[i].w_cur - before[i];
			CHECK(d <= 100 && d >= -100);
		}
		CHECK_INT(sum_w(it, 4), 4000);
	}
	CHECK_INT(it[2].w_cur, 2500); /* 1000 + 3 x 500 */
}

static void test_decay_back_to_baseline(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[3];
	struct plan_write w[6];
	uint64_t t;

	for (int i = 0; i < 3; i++)
		cpu_item(&it[i], &rb, 100 + 50 * i);
	it[1].cpu_hot = true;
	for (t = 1000; t <= 30000; t += 1000)
		tick(it, 3, t, w);
	CHECK(it[1].w_cur > 150);
	it[1].cpu_hot = false;
	it[1].cpu_quiet_ms = t;
	/* Hold until decay (10 s) has passed with no trigger. */
	uint64_t clear = t;
	for (; t < clear + 10000; t += 1000) {
		CHECK_INT(tick(it, 3, t, w), 0);
	}
	for (; t <= clear + 60000; t += 1000) {
		tick(it, 3, t, w);
		CHECK_INT(sum_w(it, 3), 450);
	}
	CHECK_INT(it[0].w_cur, 100);
	CHECK_INT(it[1].w_cur, 150);
	CHECK_INT(it[2].w_cur, 200);
}

static void test_two_hot_share(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[5];
	struct plan_write w[10];
	int64_t bases[5] = {39, 100, 100, 250, 7};

	rb.cpu_step = 10; /* no stepping: check the targets */
	rb.cooldown_ms = 0;
	for (int i = 0; i < 5; i++)
		cpu_item(&it[i], &rb, bases[i]);
	it[0].cpu_hot = it[3].cpu_hot = true;
	tick(it, 5, 1000, w);
	CHECK_INT(sum_w(it, 5), 496);
	/* The givers give all they can: down to ceil(b x 0.5). */
	CHECK_INT(it[1].w_cur, 50);
	CHECK_INT(it[2].w_cur, 50);
	CHECK_INT(it[4].w_cur, 4);
	CHECK_INT(it[0].w_cur + it[3].w_cur, 39 + 250 + 103);
	CHECK(it[0].w_cur <= 156 && it[3].w_cur <= 1000);
}

static void test_random_invariants(void)
{
	struct policy_rebalance rb[3] = {rb_default(), rb_default(), rb_default()};
	struct plan_item it[12];
	struct plan_write w[24];
	unsigned seed = 12345;
	int64_t base_sum[3] = {0};

	rb[1].pool = (char *)"batch";
	rb[1].cpu_min_factor = 0.1;
	rb[1].cpu_max_factor = 10;
	rb[1].cpu_step = 0.3;
	rb[1].cooldown_ms = 0;
	rb[2].pool = (char *)"web"; /* same pool, other policy: slowest pace wins */
	rb[2].cooldown_ms = 7000;
	for (int i = 0; i < 12; i++) {
		seed = seed * 1103515245 + 12345;
		cpu_item(&it[i], &rb[i % 3], 1 + (seed >> 8) % 10000);
		base_sum[i % 3 == 1 ? 1 : 0] += it[i].w_base;
	}
	for (uint64_t t = 1000; t <= 400000; t += 1000) {
		int64_t s[2] = {0};
		for (int i = 0; i < 12; i++) {
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 17 == 0) {
				it[i].cpu_hot = !it[i].cpu_hot;
				if (!it[i].cpu_hot)
					it[i].cpu_quiet_ms = t;
			}
		}
		tick(it, 12, t, w);
		for (int i = 0; i < 12; i++) {
			const struct plan_item *x = &it[i];
			double lo = x->w_base * x->rb->cpu_min_factor, hi = x->w_base * x->rb->cpu_max_factor;
			s[i % 3 == 1 ? 1 : 0] += x->w_cur;
			CHECK(x->w_cur >= 1 && x->w_cur <= 10000);
			if (!(x->w_cur + 1e-9 >= lo || x->w_cur == 1) || !(x->w_cur <= hi + 1e-9))
				TFAIL("item %d weight %lld outside [%g, %g]", i, (long long)x->w_cur, lo, hi);
		}
		CHECK_INT(s[0], base_sum[0]);
		CHECK_INT(s[1], base_sum[1]);
	}
}

static void test_outside_change(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[3];
	struct plan_write w[6];
	uint64_t t;

	rb.cooldown_ms = 0;
	for (int i = 0; i < 3; i++)
		cpu_item(&it[i], &rb, 100);
	it[0].cpu_hot = true;
	for (t = 1000; t < 10000; t += 1000)
		tick(it, 3, t, w);
	CHECK_INT(it[0].w_cur, 200);
	/* An in-place resize rewrites container 2's weight; the agent adopts
	 * the new value as its baseline. */
	it[2].w_base = 300;
	it[2].w_cur = 300;
	for (; t < 60000; t += 1000) {
		int64_t before = sum_w(it, 3);
		tick(it, 3, t, w);
		CHECK(sum_w(it, 3) >= 500 && sum_w(it, 3) <= before);
	}
	/* Settled at the new baselines' sum, still granting to the hot one. */
	CHECK_INT(sum_w(it, 3), 500);
	CHECK_INT(it[2].w_cur, 150);
	CHECK_INT(it[0].w_cur, 100 + 50 + 150);
}

static void test_unwritable_member_left_out(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[3];
	struct plan_write w[6];

	rb.cooldown_ms = 0;
	for (int i = 0; i < 3; i++)
		cpu_item(&it[i], &rb, 100);
	it[0].cpu_hot = true;
	it[1].cpu_ok = false; /* EINVAL back-off, or gone */
	for (uint64_t t = 1000; t < 10000; t += 1000)
		tick(it, 3, t, w);
	CHECK_INT(it[1].w_cur, 100);
	CHECK_INT(it[0].w_cur + it[2].w_cur, 200);
	CHECK_INT(it[2].w_cur, 50);
}

static void mem_item(struct plan_item *it, const struct policy_rebalance *rb, int64_t req, int64_t lim,
		     int64_t usage)
{
	memset(it, 0, sizeof *it);
	it->key = "m";
	it->rb = rb;
	it->mem_ok = true;
	it->mem_base = planner_kep_high(req, lim, rb->mem_throttling_ppm, PAGE);
	it->mem_high = PLANNER_UNLIMITED;
	it->mem_max = lim;
	it->mem_usage = usage;
}

static void test_kep_formula(void)
{
	/* 256Mi request, 1Gi limit, 0.9: 256Mi + 0.9 x 768Mi = 947.2Mi. */
	int64_t v = planner_kep_high(256 * MIB, 1024 * MIB, 900000, PAGE);
	CHECK_INT(v, (256 * MIB + 768 * MIB * 9 / 10) / PAGE * PAGE);
	CHECK_INT(v % PAGE, 0);
	CHECK_INT(planner_kep_high(MIB, MIB, 900000, PAGE), -1);       /* Guaranteed */
	CHECK_INT(planner_kep_high(MIB, 0, 900000, PAGE), -1);         /* no limit */
	CHECK_INT(planner_kep_high(0, 4095 * 2, 1000000, PAGE), 4096); /* rounded down */
}

static void test_memory_widen_and_floor(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[1];
	struct plan_write w[2];
	uint64_t t = 1000;

	mem_item(&it[0], &rb, 256 * MIB, 1024 * MIB, 100 * MIB);
	CHECK_INT(tick(it, 1, t, w), 1);
	CHECK_STR(w[0].reason, "baseline");
	CHECK_INT(it[0].mem_high, it[0].mem_base);
	/* Pressure: widen toward memory.max in page-aligned steps. */
	it[0].mem_hot = true;
	int64_t prev = it[0].mem_high;
	for (t += 4000; t < 60000; t += 4000) {
		tick(it, 1, t, w);
		CHECK_INT(it[0].mem_high % PAGE, 0);
		CHECK(it[0].mem_high >= prev);
		CHECK(it[0].mem_high <= 1024 * MIB);
		prev = it[0].mem_high;
	}
	CHECK(it[0].mem_high > it[0].mem_base);
	/* Usage jumps: memory.high follows to usage + headroom at once, even
	 * inside the cooldown, and never beyond memory.max. */
	it[0].mem_hot = false;
	it[0].mem_quiet_ms = t;
	it[0].mem_usage = 1000 * MIB;
	it[0].mem_high = 900 * MIB;
	it[0].mem_changed_ms = t;
	CHECK_INT(tick(it, 1, t + 1, w), 1);
	CHECK_INT(it[0].mem_high, 1024 * MIB);
}

static void test_memory_never_below_usage(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[1];
	struct plan_write w[2];

	/* The baseline is below usage + headroom: write the floor instead. */
	mem_item(&it[0], &rb, 0, 512 * MIB, 480 * MIB + 123);
	CHECK_INT(tick(it, 1, 1000, w), 1);
	CHECK_STR(w[0].reason, "headroom");
	CHECK_INT(it[0].mem_high, 512 * MIB);
	mem_item(&it[0], &rb, 0, 2048 * MIB, 700 * MIB + 1);
	tick(it, 1, 1000, w);
	CHECK_INT(it[0].mem_high, it[0].mem_base); /* above the floor: the baseline */
	it[0].mem_usage = 1900 * MIB + 1;           /* now the floor is higher */
	tick(it, 1, 1001, w);
	CHECK_INT(it[0].mem_high, (1900 * MIB + 1 + 64 * MIB + PAGE - 1) / PAGE * PAGE);
	CHECK(it[0].mem_high >= it[0].mem_usage + rb.mem_headroom);
	it[0].mem_usage = 700 * MIB;
	/* Decay never goes below the floor either. */
	it[0].mem_high = 2000 * MIB;
	it[0].mem_changed_ms = 1000;
	it[0].mem_quiet_ms = 1000;
	for (uint64_t t = 20000; t < 400000; t += 5000) {
		tick(it, 1, t, w);
		CHECK(it[0].mem_high >= it[0].mem_usage + rb.mem_headroom);
		CHECK_INT(it[0].mem_high % PAGE, 0);
	}
	CHECK_INT(it[0].mem_high, (int64_t)(1843.2 * MIB) / PAGE * PAGE);
}

static void test_memory_guaranteed_untouched(void)
{
	struct policy_rebalance rb = rb_default();
	struct plan_item it[1];
	struct plan_write w[2];

	mem_item(&it[0], &rb, 512 * MIB, 512 * MIB, 500 * MIB);
	it[0].mem_hot = true;
	CHECK_INT(tick(it, 1, 1000, w), 0);
	CHECK_INT(it[0].mem_high, PLANNER_UNLIMITED);
}

TEST_MAIN(test_grant_conserves_and_bounds, test_step_and_cooldown, test_decay_back_to_baseline, test_two_hot_share,
	  test_random_invariants, test_outside_change, test_unwritable_member_left_out, test_kep_formula,
	  test_memory_widen_and_floor, test_memory_never_below_usage, test_memory_guaranteed_untouched)
