/* SPDX-License-Identifier: Apache-2.0 */
/* podtuner: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "certgen.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("podtuner %s\n", PT_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "certgen") == 0)
		return certgen_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: podtuner <command> [options]\n");
	return 2;
}
