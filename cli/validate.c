/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner validate PATH...`: load policy files and directories strictly
 * and print every error as file:line:col: message, for CI in the policy
 * repository. */
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "args.h"
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
	struct policy_set *ps;
	int rc;

	if ((rc = args_help_only(argc, argv, usage)) >= 0)
		return rc;
	ps = input_load_policies((const char *const *)argv + optind, (size_t)(argc - optind));
	if (!ps)
		return 1;
	printf("ok: %zu polic%s\n", ps->n, ps->n == 1 ? "y" : "ies");
	policy_set_unref(ps);
	return 0;
}
