/* SPDX-License-Identifier: Apache-2.0 */
#include "../../core/base64.h"
#include "test.h"

static const char *const vec[][2] = {
	/* RFC 4648 section 10 */
	{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
	{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_vectors(void)
{
	struct buf b;
	struct pt_error e = {0};

	buf_init(&b, 1024);
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		buf_reset(&b);
		CHECK_INT(base64_encode(&b, vec[i][0], strlen(vec[i][0])), PT_OK);
		CHECK_STR(b.data ? b.data : "", vec[i][1]);
		CHECK_INT(base64_encoded_len(strlen(vec[i][0])), strlen(vec[i][1]));
		buf_reset(&b);
		CHECK_INT(base64_decode(&b, vec[i][1], strlen(vec[i][1]), "v", &e), PT_OK);
		CHECK_STR(b.data ? b.data : "", vec[i][0]);
	}
	buf_release(&b);
}

static void test_lenient_input(void)
{
	struct buf b;
	struct pt_error e = {0};
	const char *wrapped = "Zm9v\nYmFy\r\n Zm9v\tYg";

	buf_init(&b, 1024);
	CHECK_INT(base64_decode(&b, wrapped, strlen(wrapped), "v", &e), PT_OK);
	CHECK_STR(b.data, "foobarfoob");
	buf_reset(&b);
	CHECK_INT(base64_decode(&b, "Zm8", 3, "v", &e), PT_OK); /* padding left out */
	CHECK_STR(b.data, "fo");
	buf_release(&b);
}

static void test_errors(void)
{
	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
		{"Zm9v!", "invalid base64 in 'x': unexpected '!' at byte 4"},
		{"Zg=a", "invalid base64 in 'x': unexpected 'a' at byte 3"},
		{"Z", "invalid base64 in 'x': truncated input (1 bytes)"},
		{"Zg===", "truncated input"},
		{"Zm9vY===", "truncated input"},
		{"Zm\x01v", "unexpected byte 0x01 at byte 2"},
		{"Zm9v-_", "unexpected '-' at byte 4"}, /* base64url is not accepted */
	};
	struct buf b;
	struct pt_error e = {0};

	buf_init(&b, 1024);
	CHECK_INT(buf_puts(&b, "keep"), PT_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(base64_decode(&b, bad[i].in, strlen(bad[i].in), "'x'", &e), PT_SYNTAX);
		CHECK_CONTAINS(e.msg, bad[i].msg);
		CHECK_STR(b.data, "keep"); /* untouched */
	}
	buf_release(&b);
}

static void test_binary_and_limits(void)
{
	unsigned char all[256];
	struct buf enc, dec;
	struct pt_error e = {0};

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_init(&enc, 1024);
	buf_init(&dec, 1024);
	CHECK_INT(base64_encode(&enc, all, sizeof all), PT_OK);
	CHECK_INT(enc.len, 344);
	CHECK_INT(base64_decode(&dec, enc.data, enc.len, "v", &e), PT_OK);
	CHECK_INT(dec.len, 256);
	CHECK(memcmp(dec.data, all, 256) == 0);
	buf_release(&dec);

	buf_init(&dec, 10);
	CHECK_INT(base64_decode(&dec, enc.data, enc.len, "'big'", &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "cannot decode 'big': 344 bytes of base64 exceed the limit");
	CHECK_INT(dec.len, 0);
	buf_release(&dec);
	buf_init(&dec, 3);
	CHECK_INT(base64_encode(&dec, "abc", 3), PT_LIMIT);
	CHECK_INT(dec.len, 0);
	buf_release(&dec);
	buf_release(&enc);
}

TEST_MAIN(test_vectors, test_lenient_input, test_errors, test_binary_and_limits)
