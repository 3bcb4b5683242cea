/* SPDX-License-Identifier: Apache-2.0 */
/* stat-based change detection. A directory's entries are combined with a
 * commutative sum of per-entry hashes, so readdir order does not matter. */
#include "watch.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t stat_hash(uint64_t h, const struct stat *st)
{
	h = fnv(h, &st->st_dev, sizeof st->st_dev);
	h = fnv(h, &st->st_ino, sizeof st->st_ino);
	h = fnv(h, &st->st_size, sizeof st->st_size);
	h = fnv(h, &st->st_mtim, sizeof st->st_mtim);
	return fnv(h, &st->st_ctim, sizeof st->st_ctim);
}

static uint64_t path_hash(const char *path)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, path, strlen(path));
	struct stat st;
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	if (stat(path, &st) != 0)
		return fnv(h, "missing", 7);
	/* A directory is its entries: its own mtime also moves for hidden
	 * names (editor swap files, the kubelet's temporary links). */
	if (!S_ISDIR(st.st_mode))
		return stat_hash(h, &st);
	if (!(d = opendir(path)))
		return fnv(h, "unreadable", 10);
	while ((de = readdir(d))) {
		char p[4096];
		uint64_t eh;

		if (de->d_name[0] == '.')
			continue;
		eh = fnv(0xcbf29ce484222325ULL, de->d_name, strlen(de->d_name));
		if ((size_t)snprintf(p, sizeof p, "%s/%s", path, de->d_name) < sizeof p && stat(p, &st) == 0)
			eh = stat_hash(eh, &st);
		sum += eh;
	}
	closedir(d);
	return fnv(h, &sum, sizeof sum);
}

uint64_t watch_signature(const char *const *paths, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		uint64_t ph = path_hash(paths[i]);
		h = fnv(h, &ph, sizeof ph);
	}
	return h;
}

void watch_init(struct watch *w, const char *const *paths, size_t n)
{
	if (n > WATCH_MAX_PATHS)
		n = WATCH_MAX_PATHS;
	for (size_t i = 0; i < n; i++)
		w->paths[i] = paths[i];
	w->n = n;
	w->sig = watch_signature(w->paths, n);
}

bool watch_changed(struct watch *w)
{
	uint64_t s = watch_signature(w->paths, w->n);

	if (s == w->sig)
		return false;
	w->sig = s;
	return true;
}
