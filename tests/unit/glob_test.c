/* SPDX-License-Identifier: Apache-2.0 */
/* glob_check/glob_match: fixed cases, pathological patterns, and a
 * comparison with glibc's fnmatch(3) (no flags, C locale) on random ones. */
#include "../../core/glob.h"
#include "test.h"

#include <fnmatch.h>
#include <time.h>

#define M(pat, s) CHECK(glob_match(pat, s, strlen(s)))
#define NM(pat, s) CHECK(!glob_match(pat, s, strlen(s)))

#define BAD(pat, want)                                                    \
	do {                                                              \
		struct pt_error e_ = {0};                                 \
		CHECK_INT(glob_check(pat, &e_), PT_SYNTAX);               \
		CHECK_STR(e_.msg, want);                                  \
		CHECK_INT(glob_check(pat, NULL), PT_SYNTAX);              \
	} while (0)

static void test_match(void)
{
	M("", "");
	NM("", "a");
	M("*", "");
	M("*", "anything/at/all");
	M("ghcr.io/acme/*", "ghcr.io/acme/api:1.2");
	M("ghcr.io/acme/*", "ghcr.io/acme/team/api@sha256:abc");
	NM("ghcr.io/acme/*", "ghcr.io/acmex/api");
	M("*/nginx:*", "docker.io/library/nginx:1.25");
	M("kube-*", "kube-system");
	NM("kube-*", "default");
	M("a?c", "abc");
	M("a?c", "a/c");
	NM("a?c", "ac");
	NM("a?c", "abbc");
	M("[abc]x", "bx");
	NM("[abc]x", "dx");
	M("[a-z]", "q");
	NM("[a-z]", "Q");
	M("[!x]", "y");
	NM("[!x]", "x");
	M("[^x]", "y");
	NM("[^x]", "x");
	M("[a-]", "-");
	M("[-a]", "-");
	M("[!-]", "a");
	NM("[!-]", "-");
	M("[\\]]", "]");
	M("[\\!]", "!");
	M("[\\-a]", "-");
	M("[a\\-z]", "-");
	NM("[a\\-z]", "b");
	M("[\\a-\\c]", "b");
	M("\\*", "*");
	NM("\\*", "a");
	M("\\?", "?");
	M("\\[", "[");
	M("\\a", "a");
	M("a*b*c", "abc");
	M("a*b*c", "a-b-c-b-c");
	NM("a*b*c", "a-b-c-b-");
	M("*a", "aaa");
	M("**a**", "xax");
	M("*.*", "a.b.c");
	M("*x", "x");
	NM("*x", "");
	M("?*", "a");
	NM("?*", "");
	M("*?", "a");
	NM("a", "A");
	/* bytes, not characters */
	M("?", "\xc3");
	NM("?", "\xc3\xa9");
	M("??", "\xc3\xa9");
	M("[\x80-\xff]", "\xc3");
	NM("[a-z]", "\xe9");
	/* len is honoured, and NUL is an ordinary byte of s */
	CHECK(glob_match("ab", "abc", 2));
	CHECK(!glob_match("abc", "abc", 2));
	CHECK(glob_match("a?b", "a\0b", 3));
	CHECK(glob_match("*", NULL, 0));
	/* an unchecked, malformed pattern never matches and never crashes */
	NM("[abc", "a");
	NM("*[abc", "xa");
	NM("a\\", "a");
	NM("a\\", "a\\");
	NM("[]", "]");
	NM("[z-a]", "m");
	NM("[a\\", "a");
}

static void test_check(void)
{
	CHECK_INT(glob_check("", NULL), PT_OK);
	CHECK_INT(glob_check("*", NULL), PT_OK);
	CHECK_INT(glob_check("ghcr.io/acme/*", NULL), PT_OK);
	CHECK_INT(glob_check("[a-z0-9]-[!x]-[^y]-\\[-\\\\", NULL), PT_OK);
	CHECK_INT(glob_check("[a-]", NULL), PT_OK);
	CHECK_INT(glob_check("[\\]]", NULL), PT_OK);
	CHECK_INT(glob_check("[a-a]", NULL), PT_OK);
	CHECK_INT(glob_check("]", NULL), PT_OK);
	BAD("[abc", "glob '[abc' is not valid: unterminated '[' at offset 0");
	BAD("x*[a-", "glob 'x*[a-' is not valid: unterminated '[' at offset 2");
	BAD("[", "glob '[' is not valid: unterminated '[' at offset 0");
	BAD("[!", "glob '[!' is not valid: unterminated '[' at offset 0");
	BAD("a[]b", "glob 'a[]b' is not valid: empty class at offset 1");
	BAD("[!]", "glob '[!]' is not valid: empty class at offset 0");
	BAD("[^]", "glob '[^]' is not valid: empty class at offset 0");
	BAD("[z-a]", "glob '[z-a]' is not valid: reversed range at offset 1");
	BAD("[ab9-0]", "glob '[ab9-0]' is not valid: reversed range at offset 3");
	BAD("[\\z-a]", "glob '[\\z-a]' is not valid: reversed range at offset 1");
	BAD("abc\\", "glob 'abc\\' is not valid: trailing '\\' at offset 3");
	BAD("\\", "glob '\\' is not valid: trailing '\\' at offset 0");
	BAD("[a\\", "glob '[a\\' is not valid: trailing '\\' at offset 2");
	BAD("[a-\\", "glob '[a-\\' is not valid: trailing '\\' at offset 3");
	BAD("[[:digit:]]", "glob '[[:digit:]]' is not valid: unsupported '[:', '[.' or '[=' in a class "
		"(write '\\[') at offset 1");
	BAD("x[a[.]", "glob 'x[a[.]' is not valid: unsupported '[:', '[.' or '[=' in a class "
		"(write '\\[') at offset 3");
	BAD("[a-[=]", "glob '[a-[=]' is not valid: unsupported '[:', '[.' or '[=' in a class "
		"(write '\\[') at offset 3");
	CHECK_INT(glob_check("[\\[.]", NULL), PT_OK);
	CHECK_INT(glob_check("[.[]", NULL), PT_OK);
	CHECK_INT(glob_check("[:]", NULL), PT_OK);
	{
		/* a long pattern is quoted with a bound */
		static char big[2000];
		struct pt_error e;

		memset(big, 'a', sizeof big - 2);
		big[sizeof big - 2] = '[';
		CHECK_INT(glob_check(big, &e), PT_SYNTAX);
		CHECK_CONTAINS(e.msg, "aaa...' is not valid: unterminated '[' at offset 1998");
	}
}

/* Patterns that make naive recursive matchers exponential stay fast. */
static void test_pathological(void)
{
	static char s[20001], pat[64];
	struct timespec a, b;
	double ms;

	memset(s, 'a', sizeof s - 1);
	snprintf(pat, sizeof pat, "*a*a*a*a*a*a*a*a*a*a*a*b");
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(!glob_match(pat, s, sizeof s - 1));
	CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*", s, sizeof s - 1));
	CHECK(!glob_match("*?????????????????????b", s, sizeof s - 1));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	/* quadratic would be seconds here; the bound leaves room for ASan */
	if (ms > 500)
		TFAIL("pathological patterns took %.1f ms", ms);
	test_checks++;
}

/* Random checked patterns over a small alphabet agree with fnmatch(3). */
static void test_fnmatch(void)
{
	static const char pa[] = "ab/-.*?[]!^\\";
	static const char sa[] = "ab/-.*?[]!^\\";
	uint64_t x = 88172645463325252ULL;
	int compared = 0, differ = 0;

	for (int n = 0; n < 200000; n++) {
		char pat[12], s[10];
		size_t pl, sl;
		bool mine, ref;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pl = x % (sizeof pat);
		for (size_t i = 0; i < pl; i++)
			pat[i] = pa[(x >> (5 + i * 4)) % (sizeof pa - 1)];
		pat[pl] = '\0';
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sl = x % (sizeof s);
		for (size_t i = 0; i < sl; i++)
			s[i] = sa[(x >> (5 + i * 4)) % (sizeof sa - 1)];
		s[sl] = '\0';
		/* glibc reads "[]..." and "[!]..." as holding a literal ']'; here
		 * ']' always closes, so such patterns fail glob_check */
		if (glob_check(pat, NULL) != PT_OK)
			continue;
		mine = glob_match(pat, s, sl);
		ref = fnmatch(pat, s, 0) == 0;
		compared++;
		if (mine != ref && differ++ < 5)
			TFAIL("pattern '%s' string '%s': glob_match %d, fnmatch %d", pat, s, mine, ref);
	}
	CHECK(compared > 50000);
	CHECK_INT(differ, 0);
}

TEST_MAIN(test_match, test_check, test_pathological, test_fnmatch)
