/* SPDX-License-Identifier: Apache-2.0 */
/* Durations (policy fields, the apiserver's ?timeout=) through
 * duration_parse. Invariant: what parses formats and parses back. */
#include "../../core/duration.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t ms, back;
	struct pt_error e = {0};
	char buf[64];

	if (duration_parse((const char *)data, size, &ms, &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0], "an error without a message");
		return 0;
	}
	FUZZ_CHECK(ms <= DURATION_MAX_MS, "%llu ms", (unsigned long long)ms);
	duration_format(ms, buf, sizeof buf);
	FUZZ_CHECK(duration_parse(buf, strlen(buf), &back, &e) == PT_OK && back == ms, "%llu ms formats as '%s'",
		   (unsigned long long)ms, buf);
	return 0;
}
