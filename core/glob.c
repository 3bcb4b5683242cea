/* SPDX-License-Identifier: Apache-2.0 */
/* Shell-style globs over bytes, as fnmatch(3) without flags: '*' also
 * matches '/', since image names hold slashes. Matching backtracks only to
 * the last '*', so it is O(len(pat) * len(s)) at worst, never exponential. */
#include "glob.h"

#include <stdint.h>
#include <string.h>

/* How much of a pattern an error message quotes. */
#define GLOB_MSG_SHOW 128

enum class_err {
	CLASS_OK,
	CLASS_UNTERMINATED,
	CLASS_EMPTY,
	CLASS_REVERSED,
	CLASS_BACKSLASH,
	CLASS_POSIX,
};

/* Read one class member byte at *pp, honouring '\' escapes. */
static enum class_err class_byte(const char **pp, unsigned char *out)
{
	const char *p = *pp;

	/* POSIX gives "[:", "[." and "[=" in a class a meaning ([:digit:],
	 * collating symbols, equivalence classes) that this matcher lacks */
	if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '='))
		return CLASS_POSIX;
	if (*p == '\\')
		p++;
	if (*p == '\0')
		return CLASS_BACKSLASH;
	*out = (unsigned char)*p;
	*pp = p + 1;
	return CLASS_OK;
}

/* Scan the class whose '[' is at open against byte c. Returns the byte
 * after its ']' and sets *hit, or NULL with *err and *at (the offending
 * position) for a malformed class. A ']' always closes a class (use "\]"
 * for a literal one), so "[]" is empty rather than unterminated. */
static const char *class_scan(const char *open, int c, bool *hit, enum class_err *err,
			      const char **at)
{
	const char *p = open + 1;
	bool neg = false, any = false, in = false;

	/* '!' is POSIX; '^' is what bash, glibc and Go's path.Match accept */
	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	while (*p != ']') {
		const char *member = p;
		unsigned char lo, hi;

		if (*p == '\0') {
			*err = CLASS_UNTERMINATED;
			*at = open;
			return NULL;
		}
		*err = class_byte(&p, &lo);
		if (*err) {
			*at = member;
			return NULL;
		}
		hi = lo;
		/* a '-' before the closing ']' is a literal */
		if (p[0] == '-' && p[1] != ']' && p[1] != '\0') {
			*at = ++p;
			*err = class_byte(&p, &hi);
			if (*err)
				return NULL;
			if (hi < lo) {
				*err = CLASS_REVERSED;
				*at = member;
				return NULL;
			}
		}
		any = true;
		if (c >= lo && c <= hi)
			in = true;
	}
	if (!any) {
		*err = CLASS_EMPTY;
		*at = open;
		return NULL;
	}
	*hit = in != neg;
	return p + 1;
}

enum pt_code glob_check(const char *pat, struct pt_error *e)
{
	static const char *const what[] = {
		[CLASS_UNTERMINATED] = "unterminated '['",
		[CLASS_EMPTY] = "empty class",
		[CLASS_REVERSED] = "reversed range",
		[CLASS_BACKSLASH] = "trailing '\\'",
		[CLASS_POSIX] = "unsupported '[:', '[.' or '[=' in a class (write '\\[')",
	};
	const char *p = pat, *at = NULL;
	enum class_err err = CLASS_OK;
	size_t n = strlen(pat);
	bool hit;

	while (*p) {
		if (*p == '\\') {
			if (p[1] == '\0') {
				err = CLASS_BACKSLASH;
				at = p;
				break;
			}
			p += 2;
		} else if (*p == '[') {
			p = class_scan(p, -1, &hit, &err, &at);
			if (!p)
				break;
		} else {
			p++;
		}
	}
	if (err == CLASS_OK)
		return PT_OK;
	return pt_error_set(e, PT_SYNTAX, "glob '%.*s%s' is not valid: %s at offset %zu",
			    (int)(n > GLOB_MSG_SHOW ? GLOB_MSG_SHOW : n), pat,
			    n > GLOB_MSG_SHOW ? "..." : "", what[err], (size_t)(at - pat));
}

bool glob_match(const char *pat, const char *s, size_t len)
{
	const char *p = pat, *star_p = NULL;
	size_t i = 0, star_i = 0;
	enum class_err err;
	const char *at;

	while (*p || i < len) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return true; /* a trailing '*' takes the rest */
			star_p = p;
			star_i = i;
			continue;
		}
		if (*p && i < len) {
			unsigned char c = (unsigned char)s[i];
			const char *next = NULL;
			bool hit = false;

			switch (*p) {
			case '?':
				next = p + 1;
				break;
			case '[':
				next = class_scan(p, c, &hit, &err, &at);
				if (!next)
					return false; /* not a checked pattern */
				if (!hit)
					next = NULL;
				break;
			case '\\':
				if (p[1] == '\0')
					return false;
				if ((unsigned char)p[1] == c)
					next = p + 2;
				break;
			default:
				if ((unsigned char)*p == c)
					next = p + 1;
				break;
			}
			if (next) {
				p = next;
				i++;
				continue;
			}
		}
		/* mismatch: let the last '*' take one more byte, and retry */
		if (!star_p || star_i >= len)
			return false;
		p = star_p;
		i = ++star_i;
	}
	return true;
}
