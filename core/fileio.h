/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reads with a size cap and atomic whole-file writes (temporary
 * file in the same directory, fsync, rename, fsync of the directory), the
 * two file operations that configuration, tokens and certificates need. */
#ifndef PT_FILEIO_H
#define PT_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Append the contents of path ("-": standard input) to out. A file larger than max bytes gives
 * PT_LIMIT; a missing file PT_NOTFOUND (from errno, message names the path
 * and the failing call). On failure out is left as it was. */
enum pt_code fileio_read(const char *path, size_t max, struct buf *out, struct pt_error *e) PT_WUR;

/* Replace path with len bytes of data, mode mode (not subject to the
 * umask), atomically: readers see the old or the new file, never a mix.
 * The temporary file is removed on failure. */
enum pt_code fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				 struct pt_error *e) PT_WUR;

/* fsync the directory that holds path, so that a rename or link into it
 * (or an unlink) survives a power cut. */
enum pt_code fileio_fsync_dir(const char *path, struct pt_error *e) PT_WUR;

/* The directory part of path into out (n bytes): "." when path has no
 * slash, "/" for a file in the root. */
void fileio_dirname(const char *path, char *out, size_t n);

#endif
