/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logs: one JSON object per line on stderr, written with a single
 * write(2) so lines from different threads never interleave. A line is
 * built on the stack and truncated (never overflowed) at LOG_LINE_MAX.
 *
 *   struct log_line l;
 *   if (log_begin(&l, LOG_INFO, "admission")) {
 *           log_str(&l, "uid", uid);
 *           log_int(&l, "containers", n);
 *           log_end(&l);
 *   }
 */
#ifndef PT_LOG_H
#define PT_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

#define LOG_LINE_MAX 2048

struct log_line {
	char buf[LOG_LINE_MAX];
	unsigned len;
	bool truncated;
};

/* The one global besides the stop flag: lines below it are dropped. */
extern enum log_level log_threshold;

/* Parse "debug|info|warn|error|off". Returns false for anything else. */
bool log_level_parse(const char *s, enum log_level *out);

/* Start a line with time, level and message. Returns false, and builds
 * nothing, when level is below the threshold. */
bool log_begin(struct log_line *l, enum log_level level, const char *msg);

void log_str(struct log_line *l, const char *key, const char *val);
void log_strn(struct log_line *l, const char *key, const char *val, unsigned long n);
void log_int(struct log_line *l, const char *key, int64_t val);
void log_dbl(struct log_line *l, const char *key, double val);
void log_bool(struct log_line *l, const char *key, bool val);

/* Close the object and write it. */
void log_end(struct log_line *l);

/* One-call forms for the common case of a message and an error text. */
void log_msg(enum log_level level, const char *msg);
void log_err(enum log_level level, const char *msg, const char *err);

#endif
