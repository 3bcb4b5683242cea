/* SPDX-License-Identifier: Apache-2.0 */
/* The shipped policies/ files, compiled into the binary (scripts/embed.sh)
 * so that every subcommand has a working default with no files at hand. */
#ifndef PT_EMBEDDED_H
#define PT_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name; /* "policies/go.yaml" */
	const char *data; /* NUL-terminated */
	size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct embedded_file embedded_files[];

#endif
