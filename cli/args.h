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

/* The long name of the option whose value is val, for messages. */
const char *args_option_name(const struct option *opts, int val);

#endif
