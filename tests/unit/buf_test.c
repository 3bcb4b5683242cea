/* SPDX-License-Identifier: Apache-2.0 */
#include "../../core/buf.h"
#include "test.h"

static void test_append_and_cap(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "abcd"), PT_OK);
	CHECK_INT(buf_puts(&b, "efgh"), PT_OK);
	CHECK_INT(buf_putc(&b, 'x'), PT_LIMIT);
	CHECK_STR(b.data, "abcdefgh");
	CHECK_INT(b.len, 8);
	buf_release(&b);
}

static void test_json_str(void)
{
	struct buf b;

	buf_init(&b, 1024);
	{ const char *s = "a\"b\\c\n\x01~/"; CHECK_INT(buf_put_json_str(&b, s, strlen(s)), PT_OK); }
	CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001~/\"");
	buf_reset(&b);
	CHECK_INT(buf_put_i64(&b, -9223372036854775807LL - 1), PT_OK);
	CHECK_STR(b.data, "-9223372036854775808");
	buf_release(&b);
}

static void test_printf_large(void)
{
	struct buf b;
	char big[1000];

	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_init(&b, 4096);
	CHECK_INT(buf_printf(&b, "<%s>", big), PT_OK);
	CHECK_INT(b.len, 1001);
	CHECK_INT(buf_printf(&b, "%s%s%s%s", big, big, big, big), PT_LIMIT);
	CHECK_INT(b.len, 1001);
	buf_release(&b);
}

TEST_MAIN(test_append_and_cap, test_json_str, test_printf_large)
