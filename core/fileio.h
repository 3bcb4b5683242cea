/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reads with a size cap, and atomic whole-file writes. */
#ifndef PT_FILEIO_H
#define PT_FILEIO_H

#include <stddef.h>

#include "err.h"

/* Read path ("-" is standard input) into a NUL-terminated heap buffer that
 * is yours to free. A file larger than max is PT_LIMIT ("'x' is larger
 * than 3145728 bytes"); open/read errors come from pt_error_sys. On
 * failure *out is untouched. */
enum pt_code fileio_read(const char *path, size_t max, char **out, size_t *len, struct pt_error *e) PT_WUR;

/* Write data to path atomically: a temp file in the same directory,
 * fsync, rename, fsync of the directory. mode is the new file's mode. On
 * failure path is unchanged and the temp file is removed. */
enum pt_code fileio_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
				 struct pt_error *e) PT_WUR;

#endif
