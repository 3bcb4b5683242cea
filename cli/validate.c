/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner validate PATH...`: load policy files and directories strictly
 * and print every error as file:line:col: message, for CI in the policy
 * repository. */
#include "validate.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "input.h"

static const char usage[] =
	"usage: podtuner validate PATH...\n"
	"\n"
	"Check TuningPolicy files and directories (*.yaml, *.yml). Every error is\n"
	"printed as file:line:col: message. With no PATH, checks the built-in set.\n"
	"\n"
	"Exit status: 0 valid, 1 errors found, 2 usage.\n";

int validate_main(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct policy_set *ps;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return 2;
	}
	ps = input_load_policies((const char *const *)argv + optind, (size_t)(argc - optind));
	if (!ps)
		return 1;
	printf("ok: %zu polic%s\n", ps->n, ps->n == 1 ? "y" : "ies");
	policy_set_unref(ps);
	return 0;
}
