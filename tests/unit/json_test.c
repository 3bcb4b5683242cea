/* SPDX-License-Identifier: Apache-2.0 */
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

TEST_MAIN(init, test_one_value, test_text_after_the_value, test_nul_byte, test_syntax_errors, test_arena)
