/* SPDX-License-Identifier: Apache-2.0 */
/* The project's one error type. Codes are append-only; their messages come
 * from the same X-macro table, so a code and its text cannot drift apart.
 * Functions that can fail return enum pt_code; where a caller needs detail
 * they also take an optional struct pt_error (NULL is always accepted). */
#ifndef PT_ERR_H
#define PT_ERR_H

#include <stddef.h>

#define PT_WUR __attribute__((warn_unused_result))
#define PT_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define PT_ERRNO_MAP(X)                                      \
	X(OK, "ok")                                          \
	X(NOMEM, "out of memory")                            \
	X(IO, "input/output error")                          \
	X(SYNTAX, "syntax error")                            \
	X(INVALID, "invalid value")                          \
	X(LIMIT, "input exceeds a limit")                    \
	X(NOTFOUND, "not found")                             \
	X(UNSUPPORTED, "not supported")                      \
	X(BUSY, "resource busy")                             \
	X(PERM, "permission denied")                         \
	X(TLS, "tls error")                                  \
	X(HTTP, "http error")                                \
	X(TIMEOUT, "timed out")                              \
	X(RANGE, "value out of range")                       \
	X(USAGE, "usage error")                              \
	X(GONE, "resource gone")                             \
	X(AGAIN, "try again later")

enum pt_code {
#define PT_X(name, msg) PT_##name,
	PT_ERRNO_MAP(PT_X)
#undef PT_X
	PT_CODE_COUNT
};

/* Detail for a failure: where it happened, the errno if a system call
 * failed, and a message in the project's style (lowercase, subject quoted,
 * failing call named). line/col are 1-based; 0 means unknown. */
struct pt_error {
	enum pt_code code;
	int sys_errno;
	int line;
	int col;
	char file[256];
	char msg[512];
};

/* The fixed text for a code ("out of memory"). Never NULL. */
const char *pt_strerror(enum pt_code code);

/* The symbolic errno name ("EINVAL"), or "E?" for an unknown value. */
const char *pt_errno_name(int err);

/* Fill *e (if not NULL) with code and a formatted message; file/line/col
 * and sys_errno are cleared. Returns code, so callers can write
 * `return pt_error_set(e, PT_INVALID, "...")`. */
enum pt_code pt_error_set(struct pt_error *e, enum pt_code code, const char *fmt, ...) PT_PRINTF(3, 4);

/* As pt_error_set, for a failed system call: appends ": <strerror> (<ENAME>)"
 * and records err. The code is derived from err (ENOENT -> PT_NOTFOUND,
 * EACCES/EPERM -> PT_PERM, EBUSY -> PT_BUSY, EINVAL -> PT_INVALID, ERANGE ->
 * PT_RANGE, ENOMEM -> PT_NOMEM, else PT_IO). */
enum pt_code pt_error_sys(struct pt_error *e, int err, const char *fmt, ...) PT_PRINTF(3, 4);

/* Set the position of an already-filled error. file may be NULL. */
void pt_error_at(struct pt_error *e, const char *file, int line, int col);

/* Write "file:line:col: msg" (parts that are unknown are left out) into buf.
 * Returns buf. */
const char *pt_error_format(const struct pt_error *e, char *buf, size_t len);

/* Map an errno to a code, as pt_error_sys does. */
enum pt_code pt_code_from_errno(int err);

#endif
