/* SPDX-License-Identifier: Apache-2.0 */
/* Policy globs through glob_check and glob_match: the input is
 * "pattern\0subject". Invariant: a checked pattern matches exactly as
 * fnmatch(3) without flags does in the C locale, which the header
 * promises; any pattern is safe to match. */
#include <fnmatch.h>

#include "../../core/glob.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_error e = {0};
	char *pat, *s;
	bool m;

	fuzz_split(data, size, &pat, &s);
	m = glob_match(pat, s, strlen(s));
	if (glob_check(pat, &e) == PT_OK)
		FUZZ_CHECK(m == (fnmatch(pat, s, 0) == 0), "'%s' on '%s': glob_match %d, fnmatch %d", pat, s, m,
			   fnmatch(pat, s, 0) == 0);
	else
		FUZZ_CHECK(e.msg[0], "an error without a message");
	free(pat);
	free(s);
	return 0;
}
