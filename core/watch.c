/* SPDX-License-Identifier: Apache-2.0 */
/* stat-based change detection. A directory's entries are combined with a
 * commutative sum of per-entry hashes, so readdir order does not matter. */
#include "watch.h"

#include "text.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t stat_hash(uint64_t h, const struct stat *st)
{
	h = text_fnv1a(h, &st->st_dev, sizeof st->st_dev);
	h = text_fnv1a(h, &st->st_ino, sizeof st->st_ino);
	h = text_fnv1a(h, &st->st_size, sizeof st->st_size);
	h = text_fnv1a(h, &st->st_mtim, sizeof st->st_mtim);
	return text_fnv1a(h, &st->st_ctim, sizeof st->st_ctim);
}

static uint64_t path_hash(const char *path)
{
	uint64_t h = text_fnv1a(TEXT_FNV_INIT, path, strlen(path));
	struct stat st;
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	if (stat(path, &st) != 0)
		return text_fnv1a(h, "missing", 7);
	/* A directory is its entries: its own mtime also moves for hidden
	 * names (editor swap files, the kubelet's temporary links). */
	if (!S_ISDIR(st.st_mode))
		return stat_hash(h, &st);
	if (!(d = opendir(path)))
		return text_fnv1a(h, "unreadable", 10);
	while ((de = readdir(d))) {
		char p[4096];
		uint64_t eh;

		if (de->d_name[0] == '.')
			continue;
		eh = text_fnv1a(TEXT_FNV_INIT, de->d_name, strlen(de->d_name));
		if ((size_t)snprintf(p, sizeof p, "%s/%s", path, de->d_name) < sizeof p && stat(p, &st) == 0)
			eh = stat_hash(eh, &st);
		sum += eh;
	}
	closedir(d);
	return text_fnv1a(h, &sum, sizeof sum);
}

uint64_t watch_signature(const char *const *paths, size_t n)
{
	uint64_t h = TEXT_FNV_INIT;

	for (size_t i = 0; i < n; i++) {
		uint64_t ph = path_hash(paths[i]);
		h = text_fnv1a(h, &ph, sizeof ph);
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
