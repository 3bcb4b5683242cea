/* SPDX-License-Identifier: Apache-2.0 */
/* The bump allocator under the webhook's per-request parse: alignment,
 * a chunk kept across resets (a steady load mallocs nothing), dedicated
 * chunks for big requests that leave the current chunk in use, the cap,
 * ownership, and the string helpers. */
#include "../../core/arena.h"
#include "test.h"

#include <stdint.h>

static void test_alignment_and_reuse(void)
{
	struct arena a;
	char *first, *p;

	arena_init(&a, 4096, 0);
	first = arena_alloc(&a, 0); /* a zero-size request is a valid block */
	CHECK(first != NULL && arena_alloc(&a, 0) != first);
	for (size_t n = 1; n < 200; n += 7) {
		p = arena_alloc(&a, n);
		CHECK(p != NULL);
		CHECK_INT((uintptr_t)p % 16, 0);
		memset(p, 0xab, n); /* ASan: the block is really n bytes */
	}
	CHECK_INT(a.total, 4096);
	/* reset keeps the ordinary chunk: the next unit of work starts at
	 * the same address, with no new malloc */
	arena_reset(&a);
	CHECK_INT(a.total, 4096);
	CHECK(arena_alloc(&a, 1) == first);
	arena_release(&a);
	CHECK_INT(a.total, 0);
	CHECK(a.head == NULL);
	/* usable again after release */
	CHECK(arena_alloc(&a, 10) != NULL);
	arena_release(&a);
}

static void test_big_and_cap(void)
{
	struct arena a;
	char *p1, *big, *p2;

	arena_init(&a, 4096, 64 * 1024);
	p1 = arena_alloc(&a, 16);
	big = arena_alloc(&a, 10000); /* over a quarter chunk: a chunk of its own */
	p2 = arena_alloc(&a, 16);
	CHECK(p1 && big && p2);
	CHECK(p2 == p1 + 16); /* the current chunk's free space stays in use */
	CHECK_INT(a.total, 4096 + 10000);
	memset(big, 1, 10000);
	/* the cap: a request that would pass it fails, and takes nothing */
	CHECK(arena_alloc(&a, 60 * 1024) == NULL);
	CHECK_INT(a.total, 4096 + 10000);
	CHECK(arena_alloc(&a, 32 * 1024) != NULL);
	/* reset drops the dedicated chunks, keeps one ordinary one */
	arena_reset(&a);
	CHECK_INT(a.total, 4096);
	/* no wrap in the rounding: once this returned a 16-byte block */
	CHECK(arena_alloc(&a, SIZE_MAX - 8) == NULL);
	CHECK(arena_alloc(&a, SIZE_MAX) == NULL);
	arena_release(&a);
}

static void test_owns_and_strings(void)
{
	struct arena a;
	int local = 0;
	char *s, *t;

	arena_init(&a, 0, 0); /* 0: the default chunk size */
	CHECK(!arena_owns(&a, &local));
	s = arena_strndup(&a, "podtuner webhook", 8);
	CHECK_STR(s, "podtuner");
	CHECK(arena_owns(&a, s) && arena_owns(&a, s + 8));
	CHECK(!arena_owns(&a, &local));
	t = arena_printf(&a, "%s/%d", "GOMAXPROCS", 4);
	CHECK_STR(t, "GOMAXPROCS/4");
	CHECK(arena_owns(&a, t));
	arena_release(&a);
	CHECK(!arena_owns(&a, s));
}

TEST_MAIN(test_alignment_and_reuse, test_big_and_cap, test_owns_and_strings)
