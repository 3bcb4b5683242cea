/* SPDX-License-Identifier: Apache-2.0 */
#include "../../core/buf.h"
#include "../../core/json.h"
#include "test.h"

static void test_one_value(void)
{
	static const char *const good[] = {"{}", " {\"a\":1}\n", "\r\n\t[1,2]\t ", "null", "\"x\"", "1"};
	struct pt_error e = {0};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		cJSON *j = json_parse(good[i], strlen(good[i]), &e);

		CHECK(j != NULL);
		if (!j)
			fprintf(stderr, "  '%s': %s\n", good[i], e.msg);
		cJSON_Delete(j);
	}
}

static void test_text_after_the_value(void)
{
	static const struct {
		const char *in;
		int col;
	} bad[] = {
		{"{} x", 4}, {"{}{}", 3}, {"[1] ,", 5}, {"1 2", 3}, {"{\"a\":1}\n]", 1},
		/* a form feed is not JSON white space, though cJSON skips it */
		{"{}\f", 3},
	};
	struct pt_error e = {0};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		CHECK(json_parse(bad[i].in, strlen(bad[i].in), &e) == NULL);
		CHECK_INT(e.code, PT_SYNTAX);
		CHECK_CONTAINS(e.msg, "text after the value");
		CHECK_INT(e.col, bad[i].col);
	}
	CHECK(json_parse("{\"a\":1}\n]", 9, &e) == NULL);
	CHECK_INT(e.line, 2);
	/* The length bounds the input: what follows it is not looked at. */
	{
		cJSON *j = json_parse("{} x", 2, &e);

		CHECK(j != NULL);
		cJSON_Delete(j);
	}
}

static void test_nul_byte(void)
{
	/* cJSON alone reads "ab\0cd" as "ab": the uid echo would be wrong. */
	static const char in[] = "{\"uid\":\"ab\0cd\"}";
	static const char after[] = "{\"uid\":\"abcd\"}\0";
	struct pt_error e = {0};

	CHECK(json_parse(in, sizeof in - 1, &e) == NULL);
	CHECK_INT(e.code, PT_SYNTAX);
	CHECK_STR(e.msg, "invalid JSON at byte 10 (line 1, column 11): a NUL byte");
	CHECK(json_parse(after, sizeof after - 1, &e) == NULL);
	CHECK_CONTAINS(e.msg, "NUL byte");
}

static void test_syntax_errors(void)
{
	struct pt_error e = {0};

	CHECK(json_parse("", 0, &e) == NULL);
	CHECK_STR(e.msg, "empty document");
	CHECK(json_parse("{\n  \"a\": tru }", 14, &e) == NULL);
	CHECK_INT(e.code, PT_SYNTAX);
	CHECK_INT(e.line, 2);
	CHECK(json_parse("hello", 5, &e) == NULL);
	CHECK_CONTAINS(e.msg, "invalid JSON at byte 0");
	CHECK(json_parse("{\"a\":[1,2", 9, &e) == NULL);
	CHECK_CONTAINS(e.msg, "invalid JSON");
}

static void test_arena(void)
{
	struct arena a;
	struct arena *prev;
	struct pt_error e = {0};
	cJSON *j;

	arena_init(&a, 4096, 1 << 20);
	prev = json_use_arena(&a);
	j = json_parse("{\"k\":[1,2,3]} ", 14, &e);
	CHECK(j != NULL && arena_owns(&a, j));
	CHECK_STR(json_get_str(json_parse("{\"s\":\"v\"}", 9, &e), "s"), "v");
	/* A refused tail frees what was parsed; in an arena that is a no-op. */
	CHECK(json_parse("{\"k\":1} 2", 9, &e) == NULL);
	json_use_arena(prev);
	arena_release(&a);
}

static void init(void)
{
	json_init();
}

/* --- against libcjson ----------------------------------------------------
 * json_parse builds cJSON trees with its own parser. On valid documents it
 * must build exactly what libcjson builds; on anything, what it accepts
 * libcjson must accept too, with the same tree (it may refuse more: text
 * after the value, control characters, \u0000, lone surrogates, leading
 * zeros, which libcjson lets through). */

static unsigned rng = 2463534242u;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

static void gen_value(struct buf *b, int depth);

static void put_s(struct buf *b, const char *t)
{
	if (buf_puts(b, t))
		exit(2);
}

static void put_c(struct buf *b, char c)
{
	if (buf_putc(b, c))
		exit(2);
}

static void gen_string(struct buf *b)
{
	static const char *const pieces[] = {"a", "Z", " ", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\u20ac",
					     "\\ud83d\\ude00", "é", "€", "podtuner.io/tuned", "-", "0"};
	size_t n = rnd(6);

	put_c(b, '"');
	for (size_t i = 0; i < n; i++)
		put_s(b, pieces[rnd(sizeof pieces / sizeof pieces[0])]);
	put_c(b, '"');
}

static void gen_number(struct buf *b)
{
	static const char *const nums[] = {"0", "-0", "1", "-1", "42", "123456789012345", "1234567890123456789",
					   "3.25", "-0.5", "1e3", "2E-7", "6.02e+23", "1.7976931348623157e308",
					   "5e-324", "2147483648", "-2147483649", "100m", "9007199254740993"};
	const char *n = nums[rnd(sizeof nums / sizeof nums[0])];

	/* "100m" is not a number: it only appears inside mutated input. */
	put_s(b, strcmp(n, "100m") ? n : "100");
}

static void ws(struct buf *b)
{
	static const char *const w[] = {"", "", " ", "\n", "\t", "\r\n  "};
	put_s(b, w[rnd(6)]);
}

static void gen_value(struct buf *b, int depth)
{
	unsigned k = depth > 6 ? rnd(5) : rnd(7);

	ws(b);
	switch (k) {
	case 0: put_s(b, "null"); break;
	case 1: put_s(b, rnd(2) ? "true" : "false"); break;
	case 2: gen_number(b); break;
	case 3:
	case 4: gen_string(b); break;
	case 5:
	case 6: {
		bool obj = k == 5;
		size_t n = rnd(5);
		put_c(b, obj ? '{' : '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				put_c(b, ',');
			if (obj) {
				ws(b);
				gen_string(b);
				ws(b);
				put_c(b, ':');
			}
			gen_value(b, depth + 1);
		}
		ws(b);
		put_c(b, obj ? '}' : ']');
	}
	}
	ws(b);
}

static char *print(const cJSON *j)
{
	return j ? cJSON_PrintUnformatted(j) : NULL;
}

/* Compare on one input; returns false (and says why) on a disagreement. */
static bool same(const char *in, size_t len, bool must_accept)
{
	cJSON *ours = json_parse(in, len, NULL), *theirs = cJSON_ParseWithLength(in, len);
	char *a = print(ours), *b = print(theirs);
	bool ok = true;

	if (must_accept && !ours) {
		TFAIL("json_parse refused a valid document: %.*s", (int)len, in);
		ok = false;
	} else if (ours && !theirs) {
		TFAIL("json_parse accepted what libcjson refuses: %.*s", (int)len, in);
		ok = false;
	} else if (ours && (!a || !b || strcmp(a, b) != 0)) {
		TFAIL("trees differ on %.*s: ours %s, libcjson %s", (int)len, in, a ? a : "?", b ? b : "?");
		ok = false;
	}
	cJSON_free(a);
	cJSON_free(b);
	cJSON_Delete(ours);
	cJSON_Delete(theirs);
	return ok;
}

static void test_against_libcjson(void)
{
	struct buf b;
	int bad = 0;

	buf_init(&b, 1u << 20);
	for (int i = 0; i < 50000 && bad < 5; i++) {
		buf_reset(&b);
		gen_value(&b, 0);
		bad += !same(b.data, b.len, true);
		/* A few mutations of it: a byte changed, dropped or doubled. */
		for (int m = 0; m < 4 && b.len && bad < 5; m++) {
			char *t = malloc(b.len + 2);
			size_t at = rnd((unsigned)b.len), n = b.len;
			static const char bytes[] = "{}[]\",:\\ 0-.eE+nutrfalsx\t\n\x01\x7f\xc3";

			memcpy(t, b.data, b.len);
			switch (rnd(3)) {
			case 0: t[at] = bytes[rnd(sizeof bytes - 1)]; break;
			case 1: memmove(t + at, t + at + 1, n - at - 1); n--; break;
			default: memmove(t + at + 1, t + at, n - at); n++; break;
			}
			bad += !same(t, n, false);
			free(t);
		}
	}
	buf_release(&b);
}

static void test_fixtures_against_libcjson(void)
{
	static const char *const files[] = {"../shared/tools/fixtures/pod-create.json",
					    "../shared/tools/fixtures/pod-create-large.json",
					    "examples/admission-review.json"};

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t len;
		char *d = test_slurp(files[i], &len);
		CHECK(same(d, len, true));
		free(d);
	}
}

TEST_MAIN(test_against_libcjson, test_fixtures_against_libcjson, init, test_one_value, test_text_after_the_value, test_nul_byte, test_syntax_errors, test_arena)
