/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus durations (prometheus/common model.ParseDuration and
 * Duration.String): <digits><unit> groups, units y w d h m s ms from
 * largest to smallest, each at most once; kept as milliseconds. */
#include "duration.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* How much of the input an error message quotes. */
#define DURATION_MSG_SHOW 64

static const struct unit {
	const char *name;
	uint64_t ms;
} units[] = {
	/* model/time.go: "a year always has 365d, a week always has 7d" */
	{"y", 365ULL * 24 * 3600 * 1000},
	{"w", 7ULL * 24 * 3600 * 1000},
	{"d", 24ULL * 3600 * 1000},
	{"h", 3600ULL * 1000},
	{"m", 60ULL * 1000},
	{"s", 1000},
	{"ms", 1},
};

static enum pt_code fail(struct pt_error *e, enum pt_code code, const char *s, size_t len,
			 const char *fmt, ...) PT_PRINTF(5, 6);

static enum pt_code fail(struct pt_error *e, enum pt_code code, const char *s, size_t len,
			 const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return pt_error_set(e, code, "duration '%.*s%s' is %s: %s",
			    (int)(len > DURATION_MSG_SHOW ? DURATION_MSG_SHOW : len), s,
			    len > DURATION_MSG_SHOW ? "..." : "",
			    code == PT_RANGE ? "out of range" : "not valid", why);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

enum pt_code duration_parse(const char *s, size_t len, uint64_t *ms, struct pt_error *e)
{
	size_t i = 0, last = 0; /* last: index + 1 of the previous unit */
	uint64_t total = 0;

	if (len == 0)
		return fail(e, PT_SYNTAX, s, len, "empty string");
	/* model.ParseDuration: "Allow 0 without a unit." */
	if (len == 1 && s[0] == '0') {
		*ms = 0;
		return PT_OK;
	}
	while (i < len) {
		size_t beg = i, ubeg, u;
		uint64_t v = 0;

		if (!is_digit(s[i])) {
			if (s[i] == '-' || s[i] == '+')
				return fail(e, PT_SYNTAX, s, len, "a sign is not allowed");
			return fail(e, PT_SYNTAX, s, len, "expected a number at offset %zu", i);
		}
		for (; i < len && is_digit(s[i]); i++) {
			unsigned d = (unsigned)(s[i] - '0');

			if (v > (DURATION_MAX_MS - d) / 10)
				return fail(e, PT_RANGE, s, len, "more than %llu ms",
					    (unsigned long long)DURATION_MAX_MS);
			v = v * 10 + d;
		}
		ubeg = i;
		/* the unit is the run of non-digits, as model.ParseDuration takes it */
		while (i < len && !is_digit(s[i]))
			i++;
		if (ubeg == i)
			return fail(e, PT_SYNTAX, s, len, "missing unit after '%.*s'",
				    (int)(ubeg - beg), s + beg);
		if (memchr(s + ubeg, '.', i - ubeg))
			return fail(e, PT_SYNTAX, s, len, "fractions are not allowed");
		for (u = 0; u < sizeof units / sizeof units[0]; u++)
			if (strlen(units[u].name) == i - ubeg &&
			    memcmp(units[u].name, s + ubeg, i - ubeg) == 0)
				break;
		if (u == sizeof units / sizeof units[0])
			return fail(e, PT_SYNTAX, s, len, "unknown unit '%.*s' (want y w d h m s ms)",
				    (int)(i - ubeg > 16 ? 16 : i - ubeg), s + ubeg);
		/* model/time.go: units go from biggest to smallest, so that "1m1d"
		 * cannot be mistaken for a month and a day */
		if (u + 1 <= last)
			return fail(e, PT_SYNTAX, s, len,
				    "units must go from largest to smallest, each once ('%s' after '%s')",
				    units[u].name, units[last - 1].name);
		last = u + 1;
		if (v > DURATION_MAX_MS / units[u].ms || v * units[u].ms > DURATION_MAX_MS - total)
			return fail(e, PT_RANGE, s, len, "more than %llu ms",
				    (unsigned long long)DURATION_MAX_MS);
		total += v * units[u].ms;
	}
	*ms = total;
	return PT_OK;
}

const char *duration_format(uint64_t ms, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		uint64_t v = ms / units[u].ms;
		int w;

		/* Duration.String: years and weeks only when they are exact, "as it
		 * is often easier to read 90d than 12w6d" */
		if (v == 0 || (u < 2 && ms % units[u].ms != 0))
			continue;
		w = snprintf(buf + n, len - n, "%llu%s", (unsigned long long)v, units[u].name);
		if (w < 0 || (size_t)w >= len - n) {
			buf[n] = '\0'; /* keep whole groups only */
			break;
		}
		n += (size_t)w;
		ms -= v * units[u].ms;
	}
	return buf;
}
