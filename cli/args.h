/* SPDX-License-Identifier: Apache-2.0 */
/* Flag values shared by the subcommands: bounded integers and durations. */
#ifndef PT_ARGS_H
#define PT_ARGS_H

#include <getopt.h>
#include <stdbool.h>

/* Parse a decimal integer in [lo, hi]. false (and *out untouched) if not. */
bool args_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* Parse a duration ("500ms", "2s") into milliseconds in [lo, hi]. */
bool args_ms(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* Say on stderr that option val (of opts) of subcommand cmd got a bad
 * value; returns 2, the usage-error exit status. */
int args_bad_value(const char *cmd, const struct option *opts, int val, const char *value);

/* 2 with a message and the usage when argv has arguments past optind
 * (which subcommand cmd does not take), else 0. */
int args_no_operands(const char *cmd, int argc, char **argv, const char *usage);

/* For a subcommand whose only option is --help (-h): parse argv from
 * its start, leaving optind at the first operand. Returns -1 to go on,
 * 0 after printing usage to stdout (--help), 2 after printing it to stderr
 * (an unknown option). */
int args_help_only(int argc, char **argv, const char *usage);

#endif
