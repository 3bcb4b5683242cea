/* SPDX-License-Identifier: Apache-2.0 */
/* Scraped pages through promtext_parse, with and without a name filter.
 * Invariants: every sample's slices lie where the contract says, its
 * labels are within the limits, and promtext_format_value reads back. */
#include <math.h>

#include "../../core/promtext.h"
#include "fuzz.h"

struct page {
	const char *p;
	size_t len;
};

static bool inside(const struct page *pg, struct promtext_slice s)
{
	return s.p >= pg->p && s.len <= pg->len && (size_t)(s.p - pg->p) <= pg->len - s.len;
}

/* Wants about half the names, so the skip path runs too. */
static bool want(void *ctx, const char *name, size_t len)
{
	(void)ctx;
	return len == 0 || (name[len - 1] & 1);
}

static bool on_sample(void *ctx, const struct promtext_sample *s)
{
	const struct page *pg = ctx;
	char buf[64];
	size_t n;

	FUZZ_CHECK(inside(pg, s->name) && s->name.len > 0, "the name is not a slice of the page");
	(void)promtext_canonical_name(s->name.p, s->name.len, &n);
	FUZZ_CHECK(s->n_labels <= PROMTEXT_MAX_LABELS, "%zu labels", s->n_labels);
	for (size_t i = 0; i < s->n_labels; i++) {
		const struct promtext_label *l = &s->labels[i];

		FUZZ_CHECK(inside(pg, l->name) && l->name.len > 0, "label %zu's name is not a slice of the page", i);
		FUZZ_CHECK(l->value.len <= PROMTEXT_MAX_LABEL_VALUE, "a %zu-byte value", l->value.len);
		FUZZ_CHECK(!memchr(l->value.p, '\0', l->value.len), "a NUL in a label value");
	}
	n = promtext_format_value(buf, sizeof buf, s->value);
	FUZZ_CHECK(n < sizeof buf, "'%g' needs %zu bytes", s->value, n);
	FUZZ_CHECK(isnan(s->value) ? isnan(strtod(buf, NULL)) : strtod(buf, NULL) == s->value,
		   "%.17g formats as '%s'", s->value, buf);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct page pg = {(const char *)data, size};
	struct promtext_stats st;

	for (int filtered = 0; filtered < 2; filtered++) {
		FUZZ_CHECK(promtext_parse(pg.p, pg.len, filtered ? want : NULL, on_sample, &pg, &st) == PT_OK,
			   "a page is never fatal");
		FUZZ_CHECK(st.bad_lines <= st.lines && st.first_bad <= st.lines && (st.first_bad > 0) == (st.bad_lines > 0),
			   "%zu lines, %zu bad, first %zu", st.lines, st.bad_lines, st.first_bad);
	}
	return 0;
}
