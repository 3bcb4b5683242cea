/* SPDX-License-Identifier: Apache-2.0 */
/* podtuner: one binary; the first argument picks the subcommand. */
#include <stdio.h>
#include <string.h>

#include "../core/json.h"
#include "../core/version.h"
#include "certgen.h"
#include "mutate.h"
#include "policytest.h"
#include "rebalance.h"
#include "validate.h"
#include "webhook_cmd.h"

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("podtuner %s\n", pt_version);
	return 0;
}

static const struct command commands[] = {
	{"validate", validate_main, "check policy files (file:line:col errors)"},
	{"mutate", mutate_main, "show what the policies do to a Pod, offline"},
	{"test", policytest_main, "run policy test cases (" "podtuner-test.yaml" ")"},
	{"certgen", certgen_main, "create the webhook's CA and serving certificate"},
	{"webhook", webhook_cmd_main, "serve the mutating admission webhook (HTTPS)"},
	{"rebalance", rebalance_main, "run the node agent (cgroup rebalancing, rlimits)"},
	{"version", version_main, "print the version"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: podtuner <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'podtuner <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return version_main(argc - 1, argv + 1);
	json_init();
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "podtuner: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
