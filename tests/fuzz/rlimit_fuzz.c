/* SPDX-License-Identifier: Apache-2.0 */
/* rlimit specs (policy files, the pod annotation the agent reads) through
 * rlimit_parse: the input is "name\0spec". Invariant: what parses formats
 * and parses back to the same limits. */
#include "../../core/rlimit.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlimit_spec r, back;
	struct pt_error e = {0};
	char *name, *spec, buf[64];

	fuzz_split(data, size, &name, &spec);
	if (rlimit_parse(name, spec, &r, &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0], "an error without a message");
		goto out;
	}
	FUZZ_CHECK(r.soft <= r.hard && rlimit_name(r.resource), "%s: %llu > %llu", name,
		   (unsigned long long)r.soft, (unsigned long long)r.hard);
	rlimit_format(&r, buf, sizeof buf);
	FUZZ_CHECK(rlimit_parse(name, buf, &back, &e) == PT_OK && back.soft == r.soft && back.hard == r.hard,
		   "'%s' formats as '%s'", spec, buf);
out:
	free(name);
	free(spec);
	return 0;
}
