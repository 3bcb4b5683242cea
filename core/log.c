/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-lines logger. Formatting happens in the caller's stack buffer; the
 * only shared state is the threshold, read without a lock. */
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

bool log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i <= LOG_OFF; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

/* Room kept back for ",\"truncated\":true}\n". */
#define LOG_TAIL 20

static void put(struct log_line *l, const char *s, size_t n)
{
	size_t room = sizeof l->buf - LOG_TAIL - l->len;

	if (l->truncated)
		return;

	if (n > room) {
		n = room;
		l->truncated = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += (unsigned)n;
}

static void put_json(struct log_line *l, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the bytes not yet copied */

	put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* Copy plain text in runs: a log line per admission request
		 * is on the hot path. */
		put(l, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			e[1] = (char)c;
			put(l, e, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else {
			put(l, e, 6);
		}
	}
	put(l, s + run, n - run);
	put(l, "\"", 1);
}

static void put_key(struct log_line *l, const char *key)
{
	put(l, ",", 1);
	put_json(l, key, strlen(key));
	put(l, ":", 1);
}

/* The date and time to the second, formatted once per second per thread:
 * the webhook writes a line per request, and gmtime_r plus snprintf were
 * a visible part of its cost. */
static _Thread_local struct {
	time_t sec;
	char text[64]; /* "2026-11-27T18:34:30" */
} ts_cache = {.sec = -1};

static size_t put_uint(char *d, uint64_t v)
{
	char t[24];
	size_t n = 0, i = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		d[i++] = t[--n];
	return i;
}

bool log_begin(struct log_line *l, enum log_level level, const char *msg)
{
	struct timespec ts;
	char t[128];
	size_t n;
	long ms;

	if (level < log_threshold || level >= LOG_OFF)
		return false;
	l->len = 0;
	l->truncated = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != ts_cache.sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		snprintf(ts_cache.text, sizeof ts_cache.text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		ts_cache.sec = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000;
	n = (size_t)snprintf(t, sizeof t, "{\"ts\":\"%s.", ts_cache.text);
	t[n++] = (char)('0' + ms / 100);
	t[n++] = (char)('0' + ms / 10 % 10);
	t[n++] = (char)('0' + ms % 10);
	put(l, t, n);
	put(l, "Z\",\"level\":\"", 12);
	put(l, level_names[level], strlen(level_names[level]));
	put(l, "\",\"msg\":", 8);
	put_json(l, msg, strlen(msg));
	return true;
}

/* A field that does not fit is dropped whole, so the line stays JSON. */
static void field_done(struct log_line *l, unsigned start)
{
	if (l->truncated)
		l->len = start;
}

void log_strn(struct log_line *l, const char *key, const char *val, unsigned long n)
{
	unsigned start = l->len;

	put_key(l, key);
	if (val)
		put_json(l, val, n);
	else
		put(l, "null", 4);
	field_done(l, start);
}

void log_str(struct log_line *l, const char *key, const char *val)
{
	log_strn(l, key, val, val ? strlen(val) : 0);
}

void log_int(struct log_line *l, const char *key, int64_t val)
{
	char t[24];
	size_t n = 0;
	unsigned start = l->len;

	if (val < 0)
		t[n++] = '-';
	n += put_uint(t + n, val < 0 ? (uint64_t)0 - (uint64_t)val : (uint64_t)val);
	put_key(l, key);
	put(l, t, n);
	field_done(l, start);
}

void log_dbl(struct log_line *l, const char *key, double val)
{
	char t[32];
	int n = isfinite(val) ? snprintf(t, sizeof t, "%.6g", val) : snprintf(t, sizeof t, "null");
	unsigned start = l->len;

	put_key(l, key);
	put(l, t, (size_t)n);
	field_done(l, start);
}

void log_bool(struct log_line *l, const char *key, bool val)
{
	unsigned start = l->len;

	put_key(l, key);
	put(l, val ? "true" : "false", val ? 4 : 5);
	field_done(l, start);
}

void log_end(struct log_line *l)
{
	ssize_t w;
	size_t off = 0;

	if (l->truncated) {
		static const char mark[] = ",\"truncated\":true";
		memcpy(l->buf + l->len, mark, sizeof mark - 1);
		l->len += sizeof mark - 1;
	}
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	while (off < l->len) {
		w = write(STDERR_FILENO, l->buf + off, l->len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void log_msg(enum log_level level, const char *msg)
{
	struct log_line l;

	if (log_begin(&l, level, msg))
		log_end(&l);
}

void log_err(enum log_level level, const char *msg, const char *err)
{
	struct log_line l;

	if (log_begin(&l, level, msg)) {
		log_str(&l, "error", err);
		log_end(&l);
	}
}
