/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's cgroup files through every cgroup_parse_* (their bytes
 * come from a file system a container can be involved with). Invariant: a
 * failure says why and leaves *out alone. */
#include "../../rebalancer/cgroup.h"
#include "fuzz.h"

/* Fills with a pattern that a failed parse must leave. */
#define POISON(x) memset(&(x), 0xa5, sizeof(x))
#define UNTOUCHED(x) (((const unsigned char *)&(x))[0] == 0xa5 && \
		      memcmp(&(x), (const unsigned char *)&(x) + 1, sizeof(x) - 1) == 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct pt_error e = {0};
	uint64_t u;
	struct cgroup_cpu_stat cs;
	struct cgroup_memory_events me;
	struct cgroup_psi psi;

	POISON(u);
	if (cgroup_parse_u64(b, size, &u, &e))
		FUZZ_CHECK(e.msg[0] && UNTOUCHED(u), "u64: '%s'", e.msg);
	POISON(u);
	if (cgroup_parse_max(b, size, &u, &e))
		FUZZ_CHECK(e.msg[0] && UNTOUCHED(u), "max: '%s'", e.msg);
	POISON(cs);
	if (cgroup_parse_cpu_stat(b, size, &cs, &e))
		FUZZ_CHECK(e.msg[0] && UNTOUCHED(cs), "cpu.stat: '%s'", e.msg);
	POISON(me);
	if (cgroup_parse_memory_events(b, size, &me, &e))
		FUZZ_CHECK(e.msg[0] && UNTOUCHED(me), "memory.events: '%s'", e.msg);
	POISON(psi);
	if (cgroup_parse_psi(b, size, &psi, &e))
		FUZZ_CHECK(e.msg[0] && UNTOUCHED(psi), "pressure: '%s'", e.msg);
	return 0;
}
