/* SPDX-License-Identifier: Apache-2.0 */
/* Trigger expressions: a hand-written recursive-descent parser for the
 * PromQL subset in promql.h. It stops at the first problem and says where
 * it is and what was expected there. Everything an expression owns lives in
 * one arena; the compiled regexes are also listed, for regfree. */
#include "promql.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "duration.h"
#include "promtext.h"
#include "text.h"

#define MEM_CHUNK 4096
#define MEM_MAX (1024 * 1024) /* far more than PROMQL_MAX_LEN bytes of source need */
#define NUMBER_MAX_LEN 64     /* digits of one number literal */
#define REPEAT_MAX 1000       /* RE2's limit on {n,m} (regexp/syntax) */

struct re_ref {
	regex_t *re;
	struct re_ref *next;
};

struct holder {
	struct promql_expr x; /* first, so that a promql_expr is its holder */
	struct arena mem;
	struct re_ref *res; /* compiled regexes, for regfree */
};

struct parser {
	const char *src;
	size_t len, pos;
	int depth;
	bool need_le; /* inside histogram_quantile(): buckets must keep 'le' */
	struct holder *h;
	struct pt_error *e;
	char found[64];
};

static const struct {
	const char *name;
	enum promql_fn fn;
} range_fns[] = {
	{"rate", PROMQL_RATE},
	{"increase", PROMQL_INCREASE},
	{"delta", PROMQL_DELTA},
	{"avg_over_time", PROMQL_AVG_OVER_TIME},
	{"max_over_time", PROMQL_MAX_OVER_TIME},
	{"min_over_time", PROMQL_MIN_OVER_TIME},
	{"sum_over_time", PROMQL_SUM_OVER_TIME},
};

static const struct {
	const char *name;
	enum promql_agg agg;
} aggs[] = {
	{"sum", PROMQL_SUM},
	{"max", PROMQL_MAX},
	{"min", PROMQL_MIN},
	{"avg", PROMQL_AVG},
};

static const char *const supported[] = {
	"rate", "increase", "delta", "avg_over_time", "max_over_time", "min_over_time",
	"sum_over_time", "histogram_quantile", "sum", "max", "min", "avg",
};

#define SUPPORTED "rate, increase, delta, avg_over_time, max_over_time, min_over_time, " \
		  "sum_over_time, histogram_quantile, sum, max, min, avg"

/* PromQL functions and aggregators that triggers do not offer, so that
 * using one gets "not supported" rather than "unknown". */
static const char *const unsupported[] = {
	"abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
	"bottomk", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count",
	"count_over_time", "count_values", "day_of_month", "day_of_week", "day_of_year",
	"days_in_month", "deg", "deriv", "exp", "floor", "group", "histogram_avg",
	"histogram_count", "histogram_fraction", "histogram_stddev", "histogram_stdvar",
	"histogram_sum", "holt_winters", "hour", "idelta", "increase_over_time", "irate",
	"label_join", "label_replace", "last_over_time", "limitk", "limit_ratio", "ln", "log10",
	"log2", "mad_over_time", "minute", "month", "predict_linear", "present_over_time",
	"quantile", "quantile_over_time", "rad", "resets", "round", "scalar", "sgn", "sin",
	"sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev",
	"stddev_over_time", "stdvar", "stdvar_over_time", "tan", "tanh", "time", "timestamp",
	"topk", "vector", "year",
};

/* PromQL keywords, which cannot name a metric. */
static const char *const keywords[] = {
	"by", "without", "bool", "offset", "on", "ignoring", "group_left", "group_right",
	"and", "or", "unless", "atan2", "inf", "nan",
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lstart(char c)
{
	return is_alpha(c) || c == '_';
}

static bool is_lchar(char c)
{
	return is_lstart(c) || is_digit(c);
}

static bool is_mstart(char c)
{
	return is_lstart(c) || c == ':';
}

static bool is_mchar(char c)
{
	return is_mstart(c) || is_digit(c);
}

static int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool word_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Describe what is at offset at, for "found ..." in messages. */
static const char *found(struct parser *ps, size_t at)
{
	const char *p = ps->src + at;
	unsigned char c = (unsigned char)*p;
	size_t n = 1;

	if (at >= ps->len)
		return "end of input";
	if (is_mchar(*p) || *p == '.') {
		while (n < 32 && at + n < ps->len && (is_mchar(p[n]) || p[n] == '.'))
			n++;
	} else if (c >= 0x80) {
		while (n < 4 && at + n < ps->len && ((unsigned char)p[n] & 0xc0) == 0x80)
			n++;
	} else if (c < 0x20 || c == 0x7f) {
		snprintf(ps->found, sizeof ps->found, "byte 0x%02x", c);
		return ps->found;
	}
	snprintf(ps->found, sizeof ps->found, "'%.*s'", (int)n, p);
	return ps->found;
}

/* The 1-based line and column (in characters, not bytes) of offset at. */
static int column_of(const struct parser *ps, size_t at, int *line)
{
	int col = 1;

	*line = 1;
	for (size_t i = 0; i < at && i < ps->len; i++) {
		if (ps->src[i] == '\n') {
			++*line;
			col = 1;
		} else if (((unsigned char)ps->src[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	return col;
}

static enum pt_code fail(struct parser *ps, size_t at, enum pt_code code, const char *fmt, ...) PT_PRINTF(4, 5);

/* Record the error with where it is; the parser stops at the first. */
static enum pt_code fail(struct parser *ps, size_t at, enum pt_code code, const char *fmt, ...)
{
	char msg[sizeof ps->e->msg];
	int line, col;
	va_list ap;

	if (!ps->e)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	col = column_of(ps, at, &line);
	pt_error_set(ps->e, code, "%s", msg);
	pt_error_at(ps->e, NULL, line, col);
	return code;
}

static char peek(const struct parser *ps)
{
	return ps->src[ps->pos]; /* '\0' at the end */
}

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len && strchr(" \t\r\n", ps->src[ps->pos]))
		ps->pos++;
}

/* A run of metric-name characters at pos; returns its length. */
static size_t word_len(const struct parser *ps, size_t pos)
{
	size_t n = 0;

	while (pos + n < ps->len && is_mchar(ps->src[pos + n]))
		n++;
	return n;
}

static void *alloc(struct parser *ps, size_t n)
{
	void *p = arena_alloc(&ps->h->mem, n);

	if (p)
		memset(p, 0, n);
	return p;
}

static enum pt_code nomem(struct parser *ps)
{
	return fail(ps, ps->pos, PT_NOMEM, "cannot allocate memory for the trigger expression");
}

static enum pt_code unknown_function(struct parser *ps, size_t at, size_t n)
{
	const char *name = ps->src + at, *best = NULL;
	size_t best_d = 3; /* suggest within two edits */

	for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
		if (word_is(name, n, unsupported[i]))
			return fail(ps, at, PT_SYNTAX, "function '%.*s' is not supported in triggers (supported: %s)",
				    (int)n, name, SUPPORTED);
	for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
		size_t d = text_edit_distance(name, n, supported[i], strlen(supported[i]));

		if (d < best_d && d < n) {
			best_d = d;
			best = supported[i];
		}
	}
	if (best)
		return fail(ps, at, PT_SYNTAX, "unknown function '%.*s' (did you mean '%s'?)", (int)n, name, best);
	return fail(ps, at, PT_SYNTAX, "unknown function '%.*s' (supported: %s)", (int)n, name, SUPPORTED);
}

/* ---- literals ---------------------------------------------------------- */

static char *utf8_put(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
	return d;
}

/* A string literal at pos: "..." or '...' with the escapes of PromQL's
 * lexer (promql/parser/lex.go lexEscape: \a \b \f \n \r \t \v \\, the
 * opening quote, \ooo, \xhh, \uhhhh, \Uhhhhhhhh), or `raw`. The result is
 * an arena copy. Returns PT_NOTFOUND, reporting nothing, when no string
 * starts at pos. */
static enum pt_code parse_string(struct parser *ps, char **out)
{
	size_t at = ps->pos, start = at + 1, end, i;
	char q = peek(ps), *buf, *d;

	if (q != '"' && q != '\'' && q != '`')
		return PT_NOTFOUND;
	if (q == '`') {
		const char *p = memchr(ps->src + start, '`', ps->len - start);

		if (!p)
			return fail(ps, at, PT_SYNTAX, "unterminated raw string");
		end = (size_t)(p - ps->src);
		if (!(*out = arena_strndup(&ps->h->mem, ps->src + start, end - start)))
			return nomem(ps);
		ps->pos = end + 1;
		return PT_OK;
	}
	for (end = start;; end++) {
		if (end >= ps->len || ps->src[end] == '\n')
			return fail(ps, at, PT_SYNTAX, "unterminated string");
		if (ps->src[end] == q)
			break;
		if (ps->src[end] == '\\')
			end++;
	}
	if (!(buf = alloc(ps, end - start + 1)))
		return nomem(ps);
	for (i = start, d = buf; i < end;) {
		size_t esc = i, digits = 0;
		uint32_t v = 0, max = 255;
		int base = 16;
		char c = ps->src[i++];

		if (c != '\\') {
			*d++ = c;
			continue;
		}
		c = ps->src[i++];
		switch (c) {
		case 'a': *d++ = '\a'; continue;
		case 'b': *d++ = '\b'; continue;
		case 'f': *d++ = '\f'; continue;
		case 'n': *d++ = '\n'; continue;
		case 'r': *d++ = '\r'; continue;
		case 't': *d++ = '\t'; continue;
		case 'v': *d++ = '\v'; continue;
		case '\\': *d++ = '\\'; continue;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
			digits = 3, base = 8;
			i--;
			break;
		case 'x': digits = 2; break;
		case 'u': digits = 4, max = 0x10ffff; break;
		case 'U': digits = 8, max = 0x10ffff; break;
		default:
			if (c == q) {
				*d++ = c;
				continue;
			}
			if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
				return fail(ps, esc, PT_SYNTAX, "unknown escape sequence in string");
			return fail(ps, esc, PT_SYNTAX, "unknown escape sequence '\\%c' in string", c);
		}
		for (size_t k = 0; k < digits; k++, i++) {
			int dv = i < end ? hex_val(ps->src[i]) : -1;

			if (dv < 0 || dv >= base)
				return fail(ps, esc, PT_SYNTAX, "escape sequence '\\%c' needs %zu %s digits",
					    ps->src[esc + 1], base == 8 ? (size_t)3 : digits,
					    base == 8 ? "octal" : "hex");
			v = v * (uint32_t)base + (uint32_t)dv;
		}
		if (v > max || (v >= 0xd800 && v < 0xe000 && max > 255))
			return fail(ps, esc, PT_SYNTAX, "escape sequence is an invalid Unicode code point");
		if (max == 255)
			*d++ = (char)v; /* \x and octal give a byte, as in Go */
		else
			d = utf8_put(d, v);
	}
	*d = '\0';
	if ((size_t)(d - buf) != strlen(buf))
		return fail(ps, at, PT_SYNTAX, "strings cannot contain a NUL byte");
	*out = buf;
	ps->pos = end + 1;
	return PT_OK;
}

/* A number at pos, as PromQL reads one: an optional sign, then Inf, NaN,
 * 0x hex, or decimal digits with '.', an exponent and '_' between digits
 * (promql/parser/lex.go scanNumber). *found is false, and nothing is
 * consumed, when no number starts at pos. */
static enum pt_code parse_number(struct parser *ps, double *v, bool *found_num)
{
	size_t at = ps->pos, tok, n = 0;
	char buf[NUMBER_MAX_LEN + 1], c;
	bool neg = false, dot = false, ex = false;
	double d;

	*found_num = false;
	if (peek(ps) == '+' || peek(ps) == '-') {
		neg = peek(ps) == '-';
		ps->pos++;
		skip_ws(ps);
	}
	tok = ps->pos;
	c = peek(ps);
	if (is_alpha(c)) {
		size_t w = word_len(ps, tok);

		if (text_ieq(ps->src + tok, w, "inf") || text_ieq(ps->src + tok, w, "nan")) {
			*v = (ps->src[tok] | 0x20) == 'n' ? NAN : neg ? -INFINITY : INFINITY;
			ps->pos = tok + w;
			*found_num = true;
			return PT_OK;
		}
		ps->pos = at;
		return PT_OK;
	}
	if (!is_digit(c) && !(c == '.' && is_digit(ps->src[tok + 1]))) {
		ps->pos = at;
		return PT_OK;
	}
	*found_num = true;
	if (c == '0' && (ps->src[tok + 1] | 0x20) == 'x') {
		uint64_t x = 0;
		bool any = false, over = false;

		ps->pos = tok + 2;
		if (peek(ps) == '_')
			ps->pos++;
		for (;; ps->pos++) {
			int h = hex_val(peek(ps));

			if (h < 0 && peek(ps) == '_' && any && hex_val(ps->src[ps->pos + 1]) >= 0)
				continue;
			if (h < 0)
				break;
			any = true;
			if (x > ((uint64_t)INT64_MAX - (uint64_t)h) / 16)
				over = true;
			else
				x = x * 16 + (uint64_t)h;
		}
		if (!any || is_mchar(peek(ps)) || peek(ps) == '.')
			return fail(ps, tok, PT_SYNTAX, "bad number %s", found(ps, tok));
		if (over)
			return fail(ps, tok, PT_SYNTAX, "number %s is out of range", found(ps, tok));
		*v = neg ? -(double)x : (double)x;
		return PT_OK;
	}
	for (;;) {
		c = peek(ps);
		if (is_digit(c)) {
			if (n == NUMBER_MAX_LEN)
				return fail(ps, tok, PT_LIMIT, "number is longer than %d digits", NUMBER_MAX_LEN);
			buf[n++] = c;
		} else if (c == '_' && n && is_digit(buf[n - 1]) && is_digit(ps->src[ps->pos + 1])) {
			/* a separator, dropped */
		} else if (c == '.' && !dot && !ex) {
			dot = true;
			if (n == NUMBER_MAX_LEN)
				return fail(ps, tok, PT_LIMIT, "number is longer than %d digits", NUMBER_MAX_LEN);
			buf[n++] = c;
		} else if ((c == 'e' || c == 'E') && !ex && n && (is_digit(ps->src[ps->pos + 1]) ||
				((ps->src[ps->pos + 1] == '+' || ps->src[ps->pos + 1] == '-') &&
				 is_digit(ps->src[ps->pos + 2])))) {
			ex = true;
			if (n + 2 >= NUMBER_MAX_LEN)
				return fail(ps, tok, PT_LIMIT, "number is longer than %d digits", NUMBER_MAX_LEN);
			buf[n++] = 'e';
			if (!is_digit(ps->src[ps->pos + 1]))
				buf[n++] = ps->src[++ps->pos];
		} else {
			break;
		}
		ps->pos++;
	}
	buf[n] = '\0';
	if (is_mchar(peek(ps)) || peek(ps) == '.')
		return fail(ps, tok, PT_SYNTAX, "bad number %s", found(ps, tok));
	if (!dot && !ex) {
		/* PromQL tries strconv.ParseInt(s, 0, 64) first
		 * (promql/parser/parse.go number()), so a leading 0 makes
		 * an octal number: 010 is 8. Digits 8 or 9, or an overflow,
		 * send it on to ParseFloat, which reads decimal. */
		bool octal = buf[0] == '0' && n > 1 && strspn(buf, "01234567") == n;
		uint64_t x = 0, b = octal ? 8 : 10;
		bool over = false;

		if (octal || buf[0] != '0' || n == 1) {
			for (size_t i = 0; i < n; i++) {
				uint64_t dv = (uint64_t)(buf[i] - '0');

				if (x > ((uint64_t)INT64_MAX - dv) / b) {
					over = true;
					break;
				}
				x = x * b + dv;
			}
			if (!over) {
				*v = neg ? -(double)x : (double)x;
				return PT_OK;
			}
		}
	}
	errno = 0;
	d = strtod(buf, NULL);
	if (errno == ERANGE && isinf(d))
		return fail(ps, tok, PT_SYNTAX, "number %s is out of range", found(ps, tok));
	*v = neg ? -d : d;
	return PT_OK;
}

/* ---- regexes ----------------------------------------------------------- */

static enum pt_code bad_regex(struct parser *ps, size_t at, const char *re, const char *why)
{
	return fail(ps, at, PT_SYNTAX, "invalid regex '%s': %s", re, why);
}

/* Whether re + i starts a repeat: {n}, {n,} or {n,m}. Returns its length,
 * 0 if it is none (RE2 then reads a literal '{', POSIX an error), or
 * (size_t)-1 for counts RE2 refuses: above 1000, or m < n. */
static size_t repeat_len(const char *re, size_t i)
{
	size_t j = i + 1;
	unsigned long lo = 0, hi;
	bool any = false, bad = false;

	for (; is_digit(re[j]); j++, any = true)
		if (!bad && (lo = lo * 10 + (unsigned long)(re[j] - '0')) > REPEAT_MAX)
			bad = true;
	if (!any)
		return 0;
	hi = lo;
	if (re[j] == ',') {
		j++;
		if (is_digit(re[j])) {
			for (hi = 0; is_digit(re[j]); j++)
				if (!bad && (hi = hi * 10 + (unsigned long)(re[j] - '0')) > REPEAT_MAX)
					bad = true;
			bad |= hi < lo;
		}
	}
	if (re[j] != '}')
		return 0;
	return bad ? (size_t)-1 : j + 1 - i;
}

static const char *re2_escape_hint(char c)
{
	switch (c) {
	case 'd': return "'\\d' is RE2 syntax that POSIX reads as 'd'; write [0-9]";
	case 'D': return "'\\D' is RE2 syntax that POSIX reads as 'D'; write [^0-9]";
	case 's': return "'\\s' is RE2 syntax; write [[:space:]]";
	case 'S': return "'\\S' is RE2 syntax; write [^[:space:]]";
	case 'w': return "'\\w' is RE2 syntax; write [[:alnum:]_]";
	case 'W': return "'\\W' is RE2 syntax; write [^[:alnum:]_]";
	case 'b': case 'B': return "word boundaries ('\\b', '\\B') are not supported";
	default: return "an escaped letter or digit means something else in RE2 than in POSIX; "
			"only punctuation may be escaped";
	}
}

/* Check an RE2 (Go regexp) pattern for what POSIX extended regexes would
 * read differently or not at all, and write the POSIX form into out (as
 * long as re, plus a NUL): "(?:" becomes "(" since groups capture nothing
 * here (REG_NOSUB). */
static enum pt_code check_regex(struct parser *ps, size_t at, const char *re, char *out)
{
	enum { NONE, ATOM, QUANT } prev = NONE; /* what a quantifier would repeat */
	size_t i = 0, n = strlen(re);
	int depth = 0;

	while (i < n) {
		char c = re[i];
		size_t len = 1;

		if ((unsigned char)c >= 0x80)
			return bad_regex(ps, at, re, "non-ASCII characters are not supported, since POSIX "
					 "would match them byte by byte");
		switch (c) {
		case '\\':
			if (i + 1 == n)
				return bad_regex(ps, at, re, "trailing backslash");
			if (is_alpha(re[i + 1]) || is_digit(re[i + 1]))
				return bad_regex(ps, at, re, re2_escape_hint(re[i + 1]));
			len = 2;
			prev = ATOM;
			break;
		case '[': {
			size_t j = i + 1;

			if (re[j] == '^')
				j++;
			if (re[j] == ']')
				j++;
			for (;; j++) {
				if (j >= n)
					return bad_regex(ps, at, re, "missing ']'");
				if ((unsigned char)re[j] >= 0x80)
					return bad_regex(ps, at, re, "non-ASCII characters are not supported, "
							 "since POSIX would match them byte by byte");
				if (re[j] == '\\')
					return bad_regex(ps, at, re, "a backslash inside [...] escapes in RE2 but "
							 "is literal in POSIX; put ']' first and '-' last instead");
				if (re[j] == '[' && (re[j + 1] == '.' || re[j + 1] == '='))
					return bad_regex(ps, at, re, "collating elements ([. .], [= =]) are not "
							 "supported");
				if (re[j] == '[' && re[j + 1] == ':') {
					const char *e = strstr(re + j + 2, ":]");

					if (!e)
						return bad_regex(ps, at, re, "missing ':]'");
					j = (size_t)(e - re) + 1;
					continue;
				}
				if (re[j] == ']')
					break;
			}
			len = j + 1 - i;
			prev = ATOM;
			break;
		}
		case '(':
			if (re[i + 1] == '?') {
				if (re[i + 2] != ':')
					return bad_regex(ps, at, re, re[i + 2] == 'P' || re[i + 2] == '<'
						? "named groups are not supported; use (...)"
						: "flags like (?i) are not supported");
				*out++ = '(';
				i += 3;
				depth++;
				prev = NONE;
				continue;
			}
			depth++;
			prev = NONE;
			break;
		case ')':
			if (depth == 0)
				return bad_regex(ps, at, re, "unexpected ')'");
			depth--;
			prev = ATOM;
			break;
		case '|':
		case '^':
		case '$':
			prev = NONE;
			break;
		case '{':
			len = repeat_len(re, i);
			if (len == 0)
				return bad_regex(ps, at, re, "a '{' that does not start a repeat like {2,5} "
						 "must be written '\\{'");
			if (len == (size_t)-1)
				return bad_regex(ps, at, re, "repeat counts must be at most 1000 and in "
						 "increasing order");
			__attribute__((fallthrough));
		case '*':
		case '+':
		case '?':
			if (prev == NONE)
				return bad_regex(ps, at, re, "missing argument to repetition operator");
			if (prev == QUANT)
				return bad_regex(ps, at, re, c == '?'
					? "non-greedy repeats ('*?', '+?', '?" "?') are RE2 syntax that POSIX reads "
					  "differently; drop the '?' (the match is anchored, so the result is "
					  "the same)"
					: "a repeat cannot be repeated");
			prev = QUANT;
			break;
		default:
			prev = ATOM;
			break;
		}
		memcpy(out, re + i, len);
		out += len;
		i += len;
	}
	if (depth)
		return bad_regex(ps, at, re, "missing ')'");
	*out = '\0';
	return PT_OK;
}

static enum pt_code compile_regex(struct parser *ps, size_t at, struct promql_matcher *m)
{
	size_t n = strlen(m->value);
	char *pat = alloc(ps, n + 5);
	struct re_ref *ref = alloc(ps, sizeof *ref);
	regex_t *re = &m->re;
	enum pt_code rc;
	int err;

	if (!pat || !ref)
		return nomem(ps);
	/* PromQL anchors both ends: "^(?s:" re ")$" (model/labels/regexp.go);
	 * without REG_NEWLINE, POSIX '.' matches a newline too, as (?s) does. */
	memcpy(pat, "^(", 2);
	if ((rc = check_regex(ps, at, m->value, pat + 2)))
		return rc;
	memcpy(pat + strlen(pat), ")$", 3);
	if ((err = regcomp(re, pat, REG_EXTENDED | REG_NOSUB))) {
		char why[256];

		regerror(err, re, why, sizeof why);
		return bad_regex(ps, at, m->value, why);
	}
	ref->re = re;
	ref->next = ps->h->res;
	ps->h->res = ref;
	return PT_OK;
}

/* ---- the grammar ------------------------------------------------------- */

static enum pt_code parse_vector(struct parser *ps, struct promql_node **out);

static struct promql_node *new_node(struct parser *ps, enum promql_kind kind, size_t at)
{
	struct promql_node *n = alloc(ps, sizeof *n);

	if (n) {
		int line;

		n->kind = kind;
		n->col = column_of(ps, at, &line);
	}
	return n;
}

static bool matches_empty(const struct promql_matcher *m)
{
	switch (m->op) {
	case PROMQL_EQ: return m->value[0] == '\0';
	case PROMQL_NE: return m->value[0] != '\0';
	case PROMQL_RE: return regexec(&m->re, "", 0, NULL, 0) == 0;
	case PROMQL_NRE: return regexec(&m->re, "", 0, NULL, 0) != 0;
	}
	return false;
}

static enum pt_code parse_matchers(struct parser *ps, struct promql_selector *sel)
{
	ps->pos++; /* '{' */
	if (!(sel->matchers = alloc(ps, PROMQL_MAX_MATCHERS * sizeof *sel->matchers)))
		return nomem(ps);
	for (;;) {
		struct promql_matcher *m;
		size_t at, vat, n;
		enum pt_code rc;
		char *value;

		skip_ws(ps);
		at = ps->pos;
		if (peek(ps) == '}') {
			ps->pos++;
			return PT_OK;
		}
		if (!is_lstart(peek(ps)))
			return fail(ps, at, PT_SYNTAX, "expected a label name or '}', found %s", found(ps, at));
		for (n = 1; is_lchar(ps->src[at + n]); n++)
			;
		if (sel->n_matchers == PROMQL_MAX_MATCHERS)
			return fail(ps, at, PT_LIMIT, "more than %d label matchers in one selector",
				    PROMQL_MAX_MATCHERS);
		m = &sel->matchers[sel->n_matchers];
		if (!(m->label = arena_strndup(&ps->h->mem, ps->src + at, n)))
			return nomem(ps);
		ps->pos += n;
		skip_ws(ps);
		if (peek(ps) == '=' && ps->src[ps->pos + 1] == '~') {
			m->op = PROMQL_RE;
		} else if (peek(ps) == '=' && ps->src[ps->pos + 1] == '=') {
			return fail(ps, ps->pos, PT_SYNTAX, "use '=' to match label '%s', not '=='", m->label);
		} else if (peek(ps) == '=') {
			m->op = PROMQL_EQ;
		} else if (peek(ps) == '!' && ps->src[ps->pos + 1] == '=') {
			m->op = PROMQL_NE;
		} else if (peek(ps) == '!' && ps->src[ps->pos + 1] == '~') {
			m->op = PROMQL_NRE;
		} else {
			return fail(ps, ps->pos, PT_SYNTAX, "expected '=', '!=', '=~' or '!~' after label '%s', found %s",
				    m->label, found(ps, ps->pos));
		}
		ps->pos += m->op == PROMQL_EQ ? 1 : 2;
		skip_ws(ps);
		vat = ps->pos;
		rc = parse_string(ps, &value);
		if (rc == PT_NOTFOUND)
			return fail(ps, vat, PT_SYNTAX, "expected a quoted string for label '%s', found %s",
				    m->label, found(ps, vat));
		if (rc)
			return rc;
		m->value = value;
		if (strcmp(m->label, "__name__") == 0 && m->op == PROMQL_EQ) {
			size_t cn;
			const char *canon;

			if (sel->metric)
				return fail(ps, at, PT_SYNTAX, "metric name given twice ('%s' and __name__)",
					    sel->metric);
			if (!value[0])
				return fail(ps, vat, PT_SYNTAX, "empty metric name");
			canon = promtext_canonical_name(value, strlen(value), &cn);
			if (!(sel->metric = arena_strndup(&ps->h->mem, canon, cn)))
				return nomem(ps);
		} else {
			if ((m->op == PROMQL_RE || m->op == PROMQL_NRE) && (rc = compile_regex(ps, vat, m)))
				return rc;
			sel->n_matchers++;
		}
		skip_ws(ps);
		if (peek(ps) == ',')
			ps->pos++;
		else if (peek(ps) != '}')
			return fail(ps, ps->pos, PT_SYNTAX, "expected ',' or '}' after a label matcher, found %s",
				    found(ps, ps->pos));
	}
}

/* A selector: an optional metric name (at name_at, name_len bytes, or none
 * when name_len is 0) and optional {matchers}. Leaves pos after it. */
static enum pt_code parse_selector(struct parser *ps, size_t name_at, size_t name_len, struct promql_selector *sel)
{
	enum pt_code rc;
	bool nonempty = false;

	if (name_len) {
		size_t cn;
		const char *canon = promtext_canonical_name(ps->src + name_at, name_len, &cn);

		if (!(sel->metric = arena_strndup(&ps->h->mem, canon, cn)))
			return nomem(ps);
		ps->pos = name_at + name_len;
		skip_ws(ps);
	}
	if (peek(ps) == '{' && (rc = parse_matchers(ps, sel)))
		return rc;
	for (size_t i = 0; i < sel->n_matchers; i++)
		nonempty |= !matches_empty(&sel->matchers[i]);
	/* PromQL: "vector selector must contain at least one non-empty
	 * matcher" (promql/parser/parse.go). */
	if (!sel->metric && !nonempty)
		return fail(ps, name_at, PT_SYNTAX, "a selector without a metric name needs a matcher that "
			    "does not match the empty string, like {job=\"x\"}");
	if (ps->need_le && sel->metric) {
		size_t ml = strlen(sel->metric);

		/* Classic histograms expose their buckets as <name>_bucket
		 * with an le label (exposition format docs). */
		if (ml < 7 || strcmp(sel->metric + ml - 7, "_bucket") != 0)
			return fail(ps, name_at, PT_SYNTAX, "histogram_quantile() needs a histogram's '_bucket' "
				    "series, not '%s'", sel->metric);
	}
	return PT_OK;
}

/* After a selector (and its range): refuse the modifiers PromQL has and
 * triggers do not. */
static enum pt_code no_modifiers(struct parser *ps)
{
	skip_ws(ps);
	if (peek(ps) == '@')
		return fail(ps, ps->pos, PT_SYNTAX, "'@' modifiers are not supported in triggers");
	if (text_ieq(ps->src + ps->pos, word_len(ps, ps->pos), "offset"))
		return fail(ps, ps->pos, PT_SYNTAX, "'offset' modifiers are not supported in triggers");
	return PT_OK;
}

static enum pt_code parse_range(struct parser *ps, uint64_t *ms)
{
	size_t at, n = 0;
	enum pt_code rc;

	ps->pos++; /* '[' */
	skip_ws(ps);
	at = ps->pos;
	while (at + n < ps->len && (is_alpha(ps->src[at + n]) || is_digit(ps->src[at + n]) ||
				    ps->src[at + n] == '.'))
		n++;
	if (!n)
		return fail(ps, at, PT_SYNTAX, "expected a duration like 5m after '[', found %s", found(ps, at));
	rc = duration_parse(ps->src + at, n, ms, NULL);
	if (rc == PT_SYNTAX)
		return fail(ps, at, PT_SYNTAX, "invalid duration '%.*s': write whole numbers with units "
			    "(ms, s, m, h, d, w, y), largest first, like 5m or 1h30m", (int)n, ps->src + at);
	if (rc == PT_OK && *ms == 0)
		return fail(ps, at, PT_SYNTAX, "range must be > 0");
	if (rc != PT_OK || *ms > PROMQL_MAX_RANGE_MS)
		return fail(ps, at, PT_LIMIT, "range '%.*s' is longer than the limit of 24h", (int)n, ps->src + at);
	ps->pos = at + n;
	skip_ws(ps);
	if (peek(ps) == ':')
		return fail(ps, ps->pos, PT_SYNTAX, "subqueries like [5m:1m] are not supported");
	if (peek(ps) != ']')
		return fail(ps, ps->pos, PT_SYNTAX, "expected ']' after range duration, found %s",
			    found(ps, ps->pos));
	ps->pos++;
	return PT_OK;
}

static enum pt_code expect_close(struct parser *ps, const char *what)
{
	skip_ws(ps);
	if (peek(ps) == ',')
		return fail(ps, ps->pos, PT_SYNTAX, "%s takes one argument", what);
	if (peek(ps) != ')')
		return fail(ps, ps->pos, PT_SYNTAX, "expected ')' to close %s, found %s", what,
			    found(ps, ps->pos));
	ps->pos++;
	return PT_OK;
}

static enum pt_code parse_range_fn(struct parser *ps, enum promql_fn fn, size_t at, size_t n, struct promql_node **out)
{
	struct promql_node *node = new_node(ps, PROMQL_RANGE_FN, at);
	char what[40];
	size_t sat, w = 0;
	enum pt_code rc;

	if (!node)
		return nomem(ps);
	snprintf(what, sizeof what, "%.*s()", (int)n, ps->src + at);
	node->fn = fn;
	ps->pos++; /* '(' */
	skip_ws(ps);
	sat = ps->pos;
	if (is_mstart(peek(ps))) {
		w = word_len(ps, sat);
		ps->pos = sat + w;
		skip_ws(ps);
		if (peek(ps) == '(')
			return fail(ps, sat, PT_SYNTAX, "%s needs a range selector like x[1m], not a function call",
				    what);
	} else if (peek(ps) != '{') {
		return fail(ps, sat, PT_SYNTAX, "%s needs a range selector like x[1m], found %s", what,
			    found(ps, sat));
	}
	ps->pos = sat;
	if ((rc = parse_selector(ps, sat, w, &node->sel)))
		return rc;
	skip_ws(ps);
	if (peek(ps) != '[')
		return fail(ps, ps->pos, PT_SYNTAX, "%s needs a range selector like x[1m]", what);
	if ((rc = parse_range(ps, &node->sel.range_ms)) || (rc = no_modifiers(ps)) ||
	    (rc = expect_close(ps, what)))
		return rc;
	if (node->sel.range_ms > ps->h->x.max_range_ms)
		ps->h->x.max_range_ms = node->sel.range_ms;
	*out = node;
	return PT_OK;
}

static bool at_grouping(struct parser *ps)
{
	size_t w = word_len(ps, ps->pos);

	return text_ieq(ps->src + ps->pos, w, "by") || text_ieq(ps->src + ps->pos, w, "without");
}

static enum pt_code parse_grouping(struct parser *ps, struct promql_node *node, const char *agg)
{
	size_t kw = ps->pos;

	if (node->by)
		return fail(ps, kw, PT_SYNTAX, "'%s' can have only one 'by' or 'without' clause", agg);
	node->without = (ps->src[kw] | 0x20) == 'w';
	ps->pos += word_len(ps, kw);
	skip_ws(ps);
	if (peek(ps) != '(')
		return fail(ps, ps->pos, PT_SYNTAX, "expected '(' after '%s', found %s",
			    node->without ? "without" : "by", found(ps, ps->pos));
	ps->pos++;
	if (!(node->by = alloc(ps, PROMQL_MAX_GROUPING * sizeof *node->by)))
		return nomem(ps);
	for (;;) {
		size_t at, n;

		skip_ws(ps);
		at = ps->pos;
		if (peek(ps) == ')') {
			ps->pos++;
			return PT_OK;
		}
		if (!is_lstart(peek(ps)))
			return fail(ps, at, PT_SYNTAX, "expected a label name or ')', found %s", found(ps, at));
		for (n = 1; is_lchar(ps->src[at + n]); n++)
			;
		if (node->n_by == PROMQL_MAX_GROUPING)
			return fail(ps, at, PT_LIMIT, "more than %d labels in one '%s' clause", PROMQL_MAX_GROUPING,
				    node->without ? "without" : "by");
		if (!(node->by[node->n_by++] = arena_strndup(&ps->h->mem, ps->src + at, n)))
			return nomem(ps);
		ps->pos += n;
		skip_ws(ps);
		if (peek(ps) == ',')
			ps->pos++;
		else if (peek(ps) != ')')
			return fail(ps, ps->pos, PT_SYNTAX, "expected ',' or ')' in the label list, found %s",
				    found(ps, ps->pos));
	}
}

static bool groups_keep_le(const struct promql_node *n)
{
	bool listed = false;

	for (size_t i = 0; i < n->n_by; i++)
		listed |= strcmp(n->by[i], "le") == 0;
	return n->without ? !listed : listed;
}

static enum pt_code parse_agg(struct parser *ps, enum promql_agg agg, size_t at, struct promql_node **out)
{
	struct promql_node *node = new_node(ps, PROMQL_AGG, at);
	const char *name = aggs[agg].name;
	char what[8];
	enum pt_code rc;

	if (!node)
		return nomem(ps);
	snprintf(what, sizeof what, "%s()", name);
	node->agg = agg;
	skip_ws(ps);
	if (at_grouping(ps) && (rc = parse_grouping(ps, node, name)))
		return rc;
	skip_ws(ps);
	if (peek(ps) != '(')
		return fail(ps, ps->pos, PT_SYNTAX, "expected '(' after '%s', found %s", name, found(ps, ps->pos));
	ps->pos++;
	if ((rc = parse_vector(ps, &node->arg)) || (rc = expect_close(ps, what)))
		return rc;
	skip_ws(ps);
	if (at_grouping(ps) && (rc = parse_grouping(ps, node, name)))
		return rc;
	if (ps->need_le && !groups_keep_le(node))
		return fail(ps, at, PT_SYNTAX, "histogram_quantile() needs the 'le' label, which this '%s' drops; "
			    "write '%s by (le) (...)'", name, name);
	*out = node;
	return PT_OK;
}

static enum pt_code parse_quantile(struct parser *ps, size_t at, struct promql_node **out)
{
	struct promql_node *node = new_node(ps, PROMQL_QUANTILE, at);
	bool is_num, outer = ps->need_le;
	size_t qat;
	enum pt_code rc;

	if (!node)
		return nomem(ps);
	if (outer)
		return fail(ps, at, PT_SYNTAX, "histogram_quantile() needs buckets with an 'le' label, which "
			    "another histogram_quantile() does not give");
	ps->pos++; /* '(' */
	skip_ws(ps);
	qat = ps->pos;
	if ((rc = parse_number(ps, &node->quantile, &is_num)))
		return rc;
	if (!is_num || isnan(node->quantile) || node->quantile < 0 || node->quantile > 1)
		return fail(ps, qat, PT_SYNTAX, "histogram_quantile's first argument must be a number in [0,1]");
	skip_ws(ps);
	if (peek(ps) != ',')
		return fail(ps, ps->pos, PT_SYNTAX, "expected ',' after the quantile, found %s", found(ps, ps->pos));
	ps->pos++;
	ps->need_le = true;
	rc = parse_vector(ps, &node->arg);
	ps->need_le = outer;
	if (rc || (rc = expect_close(ps, "histogram_quantile()")))
		return rc;
	*out = node;
	return PT_OK;
}

static bool in_list(const char *p, size_t n, const char *const *list, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text_ieq(p, n, list[i]))
			return true;
	return false;
}

static enum pt_code parse_vector_inner(struct parser *ps, struct promql_node **out)
{
	size_t at, n;
	enum pt_code rc;
	const char *w;
	char c;

	skip_ws(ps);
	at = ps->pos;
	c = peek(ps);
	if (c == '(') {
		ps->pos++;
		if ((rc = parse_vector(ps, out)))
			return rc;
		skip_ws(ps);
		if (peek(ps) != ')')
			return fail(ps, ps->pos, PT_SYNTAX, "expected ')', found %s", found(ps, ps->pos));
		ps->pos++;
		return PT_OK;
	}
	if (c == '{' || is_mstart(c)) {
		struct promql_node *node;

		n = c == '{' ? 0 : word_len(ps, at);
		w = ps->src + at;
		ps->pos = at + n;
		skip_ws(ps);
		if (n) {
			for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) {
				if (!text_ieq(w, n, aggs[i].name))
					continue;
				if (peek(ps) != '(' && !at_grouping(ps))
					return fail(ps, at, PT_SYNTAX, "'%s' needs an argument in parentheses, like "
						    "%s(x)", aggs[i].name, aggs[i].name);
				return parse_agg(ps, aggs[i].agg, at, out);
			}
			if (peek(ps) == '(' || (at_grouping(ps) &&
			    in_list(w, n, unsupported, sizeof unsupported / sizeof unsupported[0]))) {
				for (size_t i = 0; i < sizeof range_fns / sizeof range_fns[0]; i++)
					if (word_is(w, n, range_fns[i].name))
						return parse_range_fn(ps, range_fns[i].fn, at, n, out);
				if (word_is(w, n, "histogram_quantile"))
					return parse_quantile(ps, at, out);
				return unknown_function(ps, at, n);
			}
			if (in_list(w, n, keywords, sizeof keywords / sizeof keywords[0]))
				return fail(ps, at, PT_SYNTAX, "expected a metric name, found the keyword '%.*s'",
					    (int)n, w);
		}
		if (!(node = new_node(ps, PROMQL_SELECTOR, at)))
			return nomem(ps);
		ps->pos = at;
		if ((rc = parse_selector(ps, at, n, &node->sel)))
			return rc;
		skip_ws(ps);
		if (peek(ps) == '[')
			return fail(ps, ps->pos, PT_SYNTAX, "a range selector like x[1m] is allowed only inside "
				    "rate(), increase(), delta() or a *_over_time() function");
		if ((rc = no_modifiers(ps)))
			return rc;
		*out = node;
		return PT_OK;
	}
	if (is_digit(c) || c == '.' || c == '+' || c == '-')
		return fail(ps, at, PT_SYNTAX, "expected a metric name, '{', '(' or a function, found %s; "
			    "the number goes after the comparison, as in 'x > 0.5'", found(ps, at));
	return fail(ps, at, PT_SYNTAX, "expected a metric name, '{', '(' or a function, found %s", found(ps, at));
}

static enum pt_code parse_vector(struct parser *ps, struct promql_node **out)
{
	enum pt_code rc;

	if (++ps->depth > PROMQL_MAX_DEPTH) {
		skip_ws(ps);
		return fail(ps, ps->pos, PT_LIMIT, "expression nests deeper than %d levels", PROMQL_MAX_DEPTH);
	}
	rc = parse_vector_inner(ps, out);
	ps->depth--;
	return rc;
}

static enum pt_code parse_cmp(struct parser *ps, enum promql_cmp *cmp, size_t *len)
{
	char c = peek(ps), c2 = c ? ps->src[ps->pos + 1] : '\0';

	*len = c2 == '=' ? 2 : 1;
	switch (c) {
	case '>': *cmp = c2 == '=' ? PROMQL_GE : PROMQL_GT; return PT_OK;
	case '<': *cmp = c2 == '=' ? PROMQL_LE : PROMQL_LT; return PT_OK;
	case '=':
		if (c2 != '=')
			return fail(ps, ps->pos, PT_SYNTAX, "use '==' to compare, not '='");
		*cmp = PROMQL_EQL;
		return PT_OK;
	case '!':
		if (c2 != '=')
			break;
		*cmp = PROMQL_NEQ;
		return PT_OK;
	case '\0':
		return fail(ps, ps->pos, PT_SYNTAX, "a comparison with a number is required at the top level "
			    "(e.g. '> 0.5')");
	default:
		break;
	}
	return fail(ps, ps->pos, PT_SYNTAX, "expected a comparison like '> 0.5' after the expression, found %s",
		    found(ps, ps->pos));
}

static enum pt_code collect_metrics(struct parser *ps)
{
	struct promql_expr *x = &ps->h->x;
	size_t cap = 0;

	for (struct promql_node *n = x->root; n; n = n->arg)
		cap++;
	if (!(x->metrics = alloc(ps, (cap ? cap : 1) * sizeof *x->metrics)))
		return nomem(ps);
	for (struct promql_node *n = x->root; n; n = n->arg) {
		bool dup = false;

		if ((n->kind != PROMQL_SELECTOR && n->kind != PROMQL_RANGE_FN) || !n->sel.metric)
			continue;
		for (size_t i = 0; i < x->n_metrics; i++)
			dup |= strcmp(x->metrics[i], n->sel.metric) == 0;
		if (!dup)
			x->metrics[x->n_metrics++] = n->sel.metric;
	}
	return PT_OK;
}

void promql_free(struct promql_expr *x)
{
	struct holder *h = (struct holder *)x;

	if (!h)
		return;
	for (struct re_ref *r = h->res; r; r = r->next)
		regfree(r->re);
	arena_release(&h->mem);
	free(h);
}

enum pt_code promql_parse(const char *src, struct promql_expr **out, struct pt_error *e)
{
	struct parser ps = {.src = src, .e = e};
	size_t oplen, at;
	enum pt_code rc;
	bool is_num;

	if (!src)
		return pt_error_set(e, PT_INVALID, "no trigger expression");
	ps.len = strnlen(src, PROMQL_MAX_LEN + 1);
	if (ps.len > PROMQL_MAX_LEN) {
		ps.len = PROMQL_MAX_LEN;
		return fail(&ps, PROMQL_MAX_LEN, PT_LIMIT, "expression is longer than %d bytes", PROMQL_MAX_LEN);
	}
	if (!(ps.h = calloc(1, sizeof *ps.h)))
		return pt_error_set(e, PT_NOMEM, "cannot allocate memory for the trigger expression");
	arena_init(&ps.h->mem, MEM_CHUNK, MEM_MAX);
	skip_ws(&ps);
	if (ps.pos == ps.len) {
		rc = fail(&ps, 0, PT_SYNTAX, "empty expression");
		goto out;
	}
	if ((rc = parse_vector(&ps, &ps.h->x.root)))
		goto out;
	skip_ws(&ps);
	if ((rc = parse_cmp(&ps, &ps.h->x.cmp, &oplen)))
		goto out;
	ps.pos += oplen;
	skip_ws(&ps);
	at = ps.pos;
	if (text_ieq(src + at, word_len(&ps, at), "bool")) {
		rc = fail(&ps, at, PT_SYNTAX, "'bool' is not supported: a trigger fires while the comparison holds");
		goto out;
	}
	if ((rc = parse_number(&ps, &ps.h->x.threshold, &is_num)))
		goto out;
	if (!is_num) {
		if (is_mstart(peek(&ps)) || peek(&ps) == '{' || peek(&ps) == '(')
			rc = fail(&ps, at, PT_SYNTAX, "the right side of the comparison must be a number; "
				  "comparing two series is not supported");
		else
			rc = fail(&ps, at, PT_SYNTAX, "expected a number after the comparison, found %s",
				  found(&ps, at));
		goto out;
	}
	skip_ws(&ps);
	if (ps.pos != ps.len) {
		rc = fail(&ps, ps.pos, PT_SYNTAX, "unexpected %s after the threshold", found(&ps, ps.pos));
		goto out;
	}
	if ((rc = collect_metrics(&ps)))
		goto out;
	if (!(ps.h->x.src = arena_strndup(&ps.h->mem, src, ps.len))) {
		rc = nomem(&ps);
		goto out;
	}
	*out = &ps.h->x;
	ps.h = NULL;
out:
	promql_free(ps.h ? &ps.h->x : NULL);
	return rc;
}

bool promql_selector_matches(const struct promql_selector *sel,
			     const char *(*get)(void *ctx, const char *label), void *ctx)
{
	for (size_t i = 0; i < sel->n_matchers; i++) {
		const struct promql_matcher *m = &sel->matchers[i];
		const char *v = get(ctx, m->label);
		bool ok;

		if (!v)
			v = "";
		switch (m->op) {
		case PROMQL_EQ: ok = strcmp(v, m->value) == 0; break;
		case PROMQL_NE: ok = strcmp(v, m->value) != 0; break;
		case PROMQL_RE: ok = regexec(&m->re, v, 0, NULL, 0) == 0; break;
		case PROMQL_NRE: ok = regexec(&m->re, v, 0, NULL, 0) != 0; break;
		default: ok = false; break;
		}
		if (!ok)
			return false;
	}
	return true;
}

bool promql_compare(enum promql_cmp cmp, double v, double threshold)
{
	if (isnan(v) || isnan(threshold))
		return false;
	switch (cmp) {
	case PROMQL_GT: return v > threshold;
	case PROMQL_GE: return v >= threshold;
	case PROMQL_LT: return v < threshold;
	case PROMQL_LE: return v <= threshold;
	case PROMQL_EQL: return v == threshold;
	case PROMQL_NEQ: return v != threshold;
	}
	return false;
}
