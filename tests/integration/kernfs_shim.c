/* SPDX-License-Identifier: Apache-2.0 */
/* An LD_PRELOAD shim that makes a fake cgroup tree (plain files in a temp
 * dir) fail the way kernfs does, for tests/integration/agent.sh:
 *  - read/pread on a descriptor whose file was removed fails with ENODEV,
 *    as reads of an open file in a removed cgroup do (kernfs_seq_start and
 *    kernfs_file_read_iter cannot get an active reference: fs/kernfs/file.c);
 *  - a write replaces the file's value, whatever the offset, and O_TRUNC
 *    on open does nothing (kernfs hands each write(2) to the file's store
 *    handler), so a write that never happens leaves the old value intact;
 *  - write on a file whose path ends with $PT_SHIM_EINVAL fails with EINVAL
 *    (a kernel that refuses the value or lacks the feature);
 *  - write on a file whose path ends with $PT_SHIM_STALL_BEFORE (or _AFTER)
 *    blocks for 60 s before (or after) really writing, so the test can
 *    kill -9 the agent between its checkpointed intent and the write (or
 *    between the write and its record); only the first such write stalls,
 *    and $PT_SHIM_MARK is created when it does.
 * Every write to a matching path appends one byte to $PT_SHIM_COUNT, so the
 * test can count attempts. Test-only; never linked into podtuner. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static int (*real_openat)(int, const char *, int, ...);
static int stalled;

static void init(void)
{
	if (!real_write) {
		real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
		real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
		real_pread = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
		real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	}
}

/* The path of fd, or "" (sockets, pipes and the like). */
static void fd_path(int fd, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	out[n > 0 && out[0] == '/' ? n : 0] = '\0';
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = suffix ? strlen(suffix) : 0;

	return b && a >= b && strcmp(s + a - b, suffix) == 0;
}

static int deleted(int fd)
{
	char p[4096];

	fd_path(fd, p, sizeof p);
	return ends_with(p, " (deleted)") && strstr(p, "/cg/");
}

static void touch(const char *env, const char *what)
{
	const char *f = getenv(env);
	int fd;

	if (f && (fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0) {
		real_write(fd, what, strlen(what));
		close(fd);
	}
}

/* What a kernfs write does to the fake: the value is replaced. */
static ssize_t store(int fd, const void *buf, size_t n)
{
	if (ftruncate(fd, 0) != 0)
		return -1;
	return pwrite(fd, buf, n, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	char p[4096];
	mode_t mode = 0;
	va_list ap;
	int fd;

	init();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
		return real_openat(dirfd, path, flags, mode);
	}
	fd = real_openat(dirfd, path, flags & ~O_TRUNC);
	if (fd >= 0 && (flags & O_TRUNC)) {
		fd_path(fd, p, sizeof p);
		if (!strstr(p, "/cg/") && ftruncate(fd, 0) != 0) { /* elsewhere: as asked */
			close(fd);
			return -1;
		}
	}
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return openat(dirfd, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	char p[4096];
	int before, after;
	ssize_t r;

	init();
	fd_path(fd, p, sizeof p);
	if (!strstr(p, "/cg/"))
		return real_write(fd, buf, n);
	if (ends_with(p, getenv("PT_SHIM_EINVAL"))) {
		touch("PT_SHIM_COUNT", "x");
		errno = EINVAL;
		return -1;
	}
	before = !stalled && ends_with(p, getenv("PT_SHIM_STALL_BEFORE"));
	after = !stalled && ends_with(p, getenv("PT_SHIM_STALL_AFTER"));
	if (before || after) {
		stalled = 1;
		if (before) {
			touch("PT_SHIM_MARK", "before\n");
			sleep(60);
		}
		r = store(fd, buf, n);
		if (after) {
			touch("PT_SHIM_MARK", "after\n");
			sleep(60);
		}
		return r;
	}
	return store(fd, buf, n);
}

ssize_t read(int fd, void *buf, size_t n)
{
	init();
	if (deleted(fd)) {
		errno = ENODEV;
		return -1;
	}
	return real_read(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	init();
	if (deleted(fd)) {
		errno = ENODEV;
		return -1;
	}
	return real_pread(fd, buf, n, off);
}

/* The same function under its large-file name (x86-64 has one off_t). */
ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}
