/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes, their messages, and the detail record. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
#define PT_X(name, msg) [PT_##name] = msg,
	PT_ERRNO_MAP(PT_X)
#undef PT_X
};

const char *pt_strerror(enum pt_code code)
{
	if ((unsigned)code >= PT_CODE_COUNT)
		return "unknown error";
	return messages[code];
}

const char *pt_errno_name(int err)
{
	switch (err) {
#define N(x) \
	case x: return #x;
		N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(EBADF)
		N(EAGAIN) N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(EXDEV)
		N(ENODEV) N(ENOTDIR) N(EISDIR) N(EINVAL) N(ENFILE) N(EMFILE) N(EFBIG)
		N(ENOSPC) N(ESPIPE) N(EROFS) N(EPIPE) N(EDOM) N(ERANGE) N(ENAMETOOLONG)
		N(ENOSYS) N(ENOTEMPTY) N(ELOOP) N(EOPNOTSUPP) N(ETIMEDOUT)
		N(ECONNREFUSED) N(ECONNRESET) N(EADDRINUSE) N(EADDRNOTAVAIL)
#undef N
	default: return "E?";
	}
}

enum pt_code pt_code_from_errno(int err)
{
	switch (err) {
	case ENOENT: case ESRCH: return PT_NOTFOUND;
	case EACCES: case EPERM: case EROFS: return PT_PERM;
	case EBUSY: return PT_BUSY;
	case EINVAL: return PT_INVALID;
	case ERANGE: return PT_RANGE;
	case ENOMEM: return PT_NOMEM;
	case EOPNOTSUPP: case ENOSYS: return PT_UNSUPPORTED;
	case EAGAIN: case EINTR: return PT_AGAIN;
	case ETIMEDOUT: return PT_TIMEOUT;
	default: return PT_IO;
	}
}

static PT_PRINTF(3, 0) void vset(struct pt_error *e, enum pt_code code, const char *fmt, va_list ap)
{
	e->code = code;
	e->sys_errno = 0;
	e->line = e->col = 0;
	e->file[0] = '\0';
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

enum pt_code pt_error_set(struct pt_error *e, enum pt_code code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

enum pt_code pt_error_sys(struct pt_error *e, int err, const char *fmt, ...)
{
	enum pt_code code = pt_code_from_errno(err);
	va_list ap;
	size_t n;

	if (!e)
		return code;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s (%s)", strerror(err), pt_errno_name(err));
	e->sys_errno = err;
	return code;
}

void pt_error_at(struct pt_error *e, const char *file, int line, int col)
{
	if (!e)
		return;
	snprintf(e->file, sizeof e->file, "%s", file ? file : "");
	e->line = line;
	e->col = col;
}

const char *pt_error_format(const struct pt_error *e, char *buf, size_t len)
{
	const char *msg = e->msg[0] ? e->msg : pt_strerror(e->code);

	if (e->file[0] && e->line > 0 && e->col > 0)
		snprintf(buf, len, "%s:%d:%d: %s", e->file, e->line, e->col, msg);
	else if (e->file[0] && e->line > 0)
		snprintf(buf, len, "%s:%d: %s", e->file, e->line, msg);
	else if (e->file[0])
		snprintf(buf, len, "%s: %s", e->file, msg);
	else
		snprintf(buf, len, "%s", msg);
	return buf;
}
