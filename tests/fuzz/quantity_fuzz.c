/* SPDX-License-Identifier: Apache-2.0 */
/* resource.Quantity strings (container limits) through quantity_parse.
 * Invariant: Value() and MilliValue() agree, both rounding away from zero,
 * wherever MilliValue() does not saturate. */
#include "../../core/quantity.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quantity q;
	struct pt_error e = {0};
	int64_t v, m;

	if (quantity_parse((const char *)data, size, &q, &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0], "an error without a message");
		return 0;
	}
	v = quantity_value(&q);
	m = quantity_milli(&q);
	if (m != INT64_MAX && m != INT64_MIN)
		FUZZ_CHECK(v == (m >= 0 ? (m + 999) / 1000 : -((-m + 999) / 1000)), "value %lld, milli %lld",
			   (long long)v, (long long)m);
	return 0;
}
