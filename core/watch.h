/* SPDX-License-Identifier: Apache-2.0 */
/* Change detection for files and directories mounted from ConfigMaps and
 * Secrets, by polling stat(2). Those volumes are updated by swapping a
 * `..data` symlink to a new timestamped directory, which inotify on the
 * visible names misses, while stat through the symlinks sees a new inode.
 * Polling a handful of paths once a second costs microseconds. */
#ifndef PT_WATCH_H
#define PT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WATCH_MAX_PATHS 64

struct watch {
	const char *paths[WATCH_MAX_PATHS]; /* borrowed */
	size_t n;
	uint64_t sig; /* of the last look */
};

/* Watch up to WATCH_MAX_PATHS paths (more are ignored) and take the first
 * signature. A directory stands for its entries, names starting with '.'
 * excepted; missing paths count as "missing", so their appearance is a
 * change too. */
void watch_init(struct watch *w, const char *const *paths, size_t n);

/* Look again: true when anything changed since the last look (content
 * size, mtime, inode, an entry added or removed). */
bool watch_changed(struct watch *w);

/* The signature of the paths as they are now. */
uint64_t watch_signature(const char *const *paths, size_t n);

#endif
