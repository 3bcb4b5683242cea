/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers. Reads stop one byte past the cap, so a huge or endless
 * input (a FIFO, /dev/zero) costs at most max+1 bytes. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum pt_code fileio_read(const char *path, size_t max, char **out, size_t *len, struct pt_error *e)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0, n = 0;
	char *p = NULL;
	enum pt_code rc = PT_OK;

	if (fd < 0)
		return pt_error_sys(e, errno, "cannot open '%s'", path);
	for (;;) {
		ssize_t r;

		/* Keep room for one more byte and the NUL; the cap of max+2
		 * lets a read show that the input goes past max. */
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *q;

			if (ncap > max + 2)
				ncap = max + 2;
			if (!(q = realloc(p, ncap))) {
				rc = pt_error_set(e, PT_NOMEM, "cannot read '%s': out of memory", path);
				goto out;
			}
			p = q;
			cap = ncap;
		}
		r = read(fd, p + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pt_error_sys(e, errno, "cannot read '%s'", path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = pt_error_set(e, PT_LIMIT, "'%s' is larger than %zu bytes", path, max);
			goto out;
		}
	}
	p[n] = '\0';
	*out = p;
	if (len)
		*len = n;
	p = NULL;
out:
	free(p);
	if (!is_stdin)
		close(fd);
	return rc;
}

enum pt_code fileio_write_atomic(const char *path, const void *data, size_t len, unsigned mode, struct pt_error *e)
{
	char tmp[4096], dir[4096];
	const char *p = data;
	int fd = -1, dfd = -1;
	enum pt_code rc = PT_OK;
	size_t off = 0;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
		return pt_error_set(e, PT_LIMIT, "path '%s' is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return pt_error_sys(e, errno, "cannot create '%s'", tmp);
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = pt_error_sys(e, errno, "cannot write '%s'", tmp);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = pt_error_sys(e, errno, "cannot fsync '%s'", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = pt_error_sys(e, errno, "cannot close '%s'", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = pt_error_sys(e, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto out;
	}
	/* The rename is durable only once the directory is synced. */
	snprintf(dir, sizeof dir, "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = pt_error_sys(e, errno, "cannot fsync the directory of '%s'", path);
		close(dfd);
	}
	return rc;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}
