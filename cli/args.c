/* SPDX-License-Identifier: Apache-2.0 */
/* Flag value parsing, strict: no trailing junk, no silent wrap. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
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

int args_bad_value(const char *cmd, const struct option *opts, int val, const char *value)
{
	const char *name = "?";

	for (; opts->name; opts++)
		if (opts->val == val) {
			name = opts->name;
			break;
		}
	fprintf(stderr, "podtuner %s: bad value '%s' for --%s\n", cmd, value ? value : "", name);
	return 2;
}

int args_no_operands(const char *cmd, int argc, char **argv, const char *usage)
{
	if (optind == argc)
		return 0;
	fprintf(stderr, "podtuner %s: unexpected argument '%s'\n%s", cmd, argv[optind], usage);
	return 2;
}

int args_help_only(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		fputs(usage, c == 'h' ? stdout : stderr);
		return c == 'h' ? 0 : 2;
	}
	return -1;
}
