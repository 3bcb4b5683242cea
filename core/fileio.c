/* SPDX-License-Identifier: Apache-2.0 */
/* Capped reads and atomic writes. EINTR is retried; short writes are
 * completed; every failure names the file and the call that failed. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum pt_code fileio_read(const char *path, size_t max, struct buf *out, struct pt_error *e)
{
	size_t start = out->len;
	enum pt_code rc = PT_OK;
	struct stat st;
	int fd, err;

	bool is_stdin = strcmp(path, "-") == 0;

	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pt_error_sys(e, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		rc = pt_error_sys(e, errno, "cannot stat '%s'", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = pt_error_sys(e, EISDIR, "cannot read '%s'", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		rc = pt_error_set(e, PT_LIMIT, "cannot read '%s': %jd bytes exceed the limit of %zu",
				  path, (intmax_t)st.st_size, max);
		goto out;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			rc = pt_error_sys(e, err, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		/* The file may grow between fstat and read: the cap holds. */
		if (out->len - start + (size_t)n > max) {
			rc = pt_error_set(e, PT_LIMIT, "cannot read '%s': more than %zu bytes", path, max);
			goto out;
		}
		if ((rc = buf_append(out, chunk, (size_t)n))) {
			pt_error_set(e, rc, "cannot read '%s': %s", path, pt_strerror(rc));
			goto out;
		}
	}
out:
	if (rc != PT_OK && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	if (!is_stdin)
		close(fd);
	return rc;
}

static enum pt_code write_all(int fd, const char *p, size_t len, const char *path, struct pt_error *e)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pt_error_sys(e, errno, "cannot write '%s'", path);
		p += n;
		len -= (size_t)n;
	}
	return PT_OK;
}

void fileio_dirname(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

enum pt_code fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				 struct pt_error *e)
{
	char tmp[PATH_MAX];
	enum pt_code rc = PT_OK;
	int fd = -1;
	bool linked = false;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
		return pt_error_set(e, PT_LIMIT, "cannot write '%s': path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return pt_error_sys(e, errno, "cannot create a temporary file for '%s'", path);
	linked = true;
	/* mkostemp makes 0600; fchmod sets the final mode whatever the umask. */
	if (fchmod(fd, mode) < 0) {
		rc = pt_error_sys(e, errno, "cannot chmod '%s'", tmp);
		goto out;
	}
	if ((rc = write_all(fd, data, len, tmp, e)))
		goto out;
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
	linked = false;
	/* The rename is durable only once the directory is synced. */
	rc = fileio_fsync_dir(path, e);
out:
	if (fd >= 0)
		close(fd);
	if (linked)
		unlink(tmp);
	return rc;
}

enum pt_code fileio_fsync_dir(const char *path, struct pt_error *e)
{
	char dir[PATH_MAX];
	enum pt_code rc = PT_OK;
	int fd;

	fileio_dirname(path, dir, sizeof dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = pt_error_sys(e, errno, "cannot fsync directory '%s'", dir);
	if (fd >= 0)
		close(fd);
	return rc;
}
