/* SPDX-License-Identifier: Apache-2.0 */
/* Flag value parsing, strict: no trailing junk, no silent wrap. */
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/duration.h"

bool args_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

bool args_ms(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t ms;

	if (!s || duration_parse(s, strlen(s), &ms, NULL) != PT_OK || ms < lo || ms > hi)
		return false;
	*out = (unsigned)ms;
	return true;
}

const char *args_option_name(const struct option *opts, int val)
{
	for (; opts->name; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}
