/* SPDX-License-Identifier: Apache-2.0 */
/* duration_parse/duration_format against prometheus/common's model
 * ParseDuration and Duration.String. */
#include "../../core/duration.h"
#include "test.h"

#define S 1000ULL
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)

#define OK(s, want) ok_(__LINE__, s, want)

static void ok_(int line, const char *s, uint64_t want)
{
	struct pt_error e = {0};
	uint64_t ms = 12345;
	enum pt_code rc = duration_parse(s, strlen(s), &ms, &e);

	test_checks++;
	if (rc != PT_OK)
		TFAIL("line %d: '%s': want ok, got %s: %s", line, s, pt_strerror(rc), e.msg);
	else if (ms != want)
		TFAIL("line %d: '%s': got %" PRIu64 " ms, want %" PRIu64, line, s, ms, want);
}

#define BAD(s, code, want) bad_(__LINE__, s, strlen(s), code, want)

static void bad_(int line, const char *s, size_t len, enum pt_code code, const char *want)
{
	struct pt_error e = {0};
	uint64_t ms = 4242;
	enum pt_code rc = duration_parse(s, len, &ms, &e);

	test_checks++;
	if (rc != code)
		TFAIL("line %d: '%s': code got %s, want %s (%s)", line, s, pt_strerror(rc),
		      pt_strerror(code), e.msg);
	else if (!strstr(e.msg, want))
		TFAIL("line %d: '%s': message \"%s\" lacks \"%s\"", line, s, e.msg, want);
	if (ms != 4242)
		TFAIL("line %d: '%s': output was modified on failure", line, s);
	if (duration_parse(s, len, &ms, NULL) != code)
		TFAIL("line %d: '%s': different code without an error record", line, s);
}

static void test_parse(void)
{
	OK("500ms", 500);
	OK("30s", 30 * S);
	OK("5m", 5 * M);
	OK("1h", H);
	OK("1h30m", H + 30 * M);
	OK("2d", 2 * D);
	OK("1w", 7 * D);
	OK("1y", 365 * D);
	OK("1y2w3d4h5m6s7ms", 365 * D + 14 * D + 3 * D + 4 * H + 5 * M + 6 * S + 7);
	OK("0s", 0);
	OK("0", 0);
	OK("0ms", 0);
	OK("0h0m", 0);
	OK("90m", 90 * M); /* a group may exceed the next unit up */
	OK("1000ms", 1000);
	OK("007s", 7 * S);
	OK("1m0s", M);
	OK("106751d23h47m16s854ms", DURATION_MAX_MS); /* Prometheus' int64 ns limit */
	OK("9223372036854ms", DURATION_MAX_MS);
}

static void test_reject(void)
{
	BAD("", PT_SYNTAX, "duration '' is not valid: empty string");
	BAD("5", PT_SYNTAX, "duration '5' is not valid: missing unit after '5'");
	BAD("1h30", PT_SYNTAX, "missing unit after '30'");
	BAD("00", PT_SYNTAX, "missing unit after '00'");
	BAD("-5m", PT_SYNTAX, "a sign is not allowed");
	BAD("+5m", PT_SYNTAX, "a sign is not allowed");
	BAD("1.5h", PT_SYNTAX, "fractions are not allowed");
	BAD("1h.5m", PT_SYNTAX, "fractions are not allowed");
	BAD("1h5m.", PT_SYNTAX, "fractions are not allowed");
	BAD(" 5m", PT_SYNTAX, "expected a number at offset 0");
	BAD("5m ", PT_SYNTAX, "unknown unit 'm '");
	BAD("5 m", PT_SYNTAX, "unknown unit ' m'");
	BAD("5x", PT_SYNTAX, "duration '5x' is not valid: unknown unit 'x' (want y w d h m s ms)");
	BAD("5M", PT_SYNTAX, "unknown unit 'M'");
	BAD("5us", PT_SYNTAX, "unknown unit 'us'");
	BAD("5ns", PT_SYNTAX, "unknown unit 'ns'");
	BAD("5sec", PT_SYNTAX, "unknown unit 'sec'");
	BAD("m", PT_SYNTAX, "expected a number at offset 0");
	BAD("5m1h", PT_SYNTAX, "units must go from largest to smallest, each once ('h' after 'm')");
	BAD("1m1d", PT_SYNTAX, "('d' after 'm')");
	BAD("1h1h", PT_SYNTAX, "('h' after 'h')");
	BAD("1s500ms1s", PT_SYNTAX, "('s' after 'ms')");
	BAD("106751d23h47m16s855ms", PT_RANGE, "out of range: more than 9223372036854 ms");
	BAD("9223372036855ms", PT_RANGE, "more than 9223372036854 ms");
	BAD("293y", PT_RANGE, "out of range");
	BAD("99999999999999999999999s", PT_RANGE, "out of range");
	BAD("18446744073709551616ms", PT_RANGE, "out of range");
	BAD("5m\n", PT_SYNTAX, "unknown unit 'm\n'");
	{
		/* an embedded NUL ends nothing: len rules */
		struct pt_error e;
		uint64_t ms = 1;

		CHECK_INT(duration_parse("5m\0", 3, &ms, &e), PT_SYNTAX);
		CHECK_INT(duration_parse("5m1h", 2, &ms, &e), PT_OK);
		CHECK_INT(ms, 5 * M);
	}
	{
		/* a long input is quoted with a bound */
		static char big[4096];
		struct pt_error e;
		uint64_t ms;

		memset(big, '1', sizeof big - 2);
		big[sizeof big - 2] = 'x';
		CHECK_INT(duration_parse(big, sizeof big - 1, &ms, &e), PT_RANGE);
		CHECK_CONTAINS(e.msg, "111...' is out of range");
		CHECK(strlen(e.msg) < 200);
	}
}

static void test_format(void)
{
	char buf[64];

	CHECK_STR(duration_format(0, buf, sizeof buf), "0s");
	CHECK_STR(duration_format(500, buf, sizeof buf), "500ms");
	CHECK_STR(duration_format(90 * S, buf, sizeof buf), "1m30s");
	CHECK_STR(duration_format(30 * S, buf, sizeof buf), "30s");
	CHECK_STR(duration_format(H + 30 * M, buf, sizeof buf), "1h30m");
	CHECK_STR(duration_format(H + 1, buf, sizeof buf), "1h1ms");
	CHECK_STR(duration_format(D, buf, sizeof buf), "1d");
	CHECK_STR(duration_format(7 * D, buf, sizeof buf), "1w");
	CHECK_STR(duration_format(14 * D, buf, sizeof buf), "2w");
	CHECK_STR(duration_format(8 * D, buf, sizeof buf), "8d");
	CHECK_STR(duration_format(90 * D, buf, sizeof buf), "90d");
	CHECK_STR(duration_format(7 * D + 1, buf, sizeof buf), "7d1ms");
	CHECK_STR(duration_format(365 * D, buf, sizeof buf), "1y");
	CHECK_STR(duration_format(730 * D, buf, sizeof buf), "2y");
	CHECK_STR(duration_format(366 * D, buf, sizeof buf), "366d");
	CHECK_STR(duration_format(DURATION_MAX_MS, buf, sizeof buf), "106751d23h47m16s854ms");
	CHECK_STR(duration_format(UINT64_MAX, buf, sizeof buf), "213503982334d14h25m51s615ms");
	/* truncation keeps whole groups and a NUL */
	CHECK_STR(duration_format(H + 30 * M, buf, 4), "1h");
	CHECK_STR(duration_format(H + 30 * M, buf, 2), "");
	CHECK_STR(duration_format(0, buf, 2), "0");
	CHECK(duration_format(5, buf, 0) == buf);
}

/* Every value formats to a string that parses back to it. */
static void test_roundtrip(void)
{
	static const uint64_t fixed[] = {0, 1, 999, 1000, 59999, M, H - 1, D, 7 * D, 7 * D - 1,
					 365 * D, 365 * D + 7 * D, DURATION_MAX_MS - 1, DURATION_MAX_MS};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char buf[64];
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		uint64_t v, back = 0;

		if (i < (int)(sizeof fixed / sizeof fixed[0])) {
			v = fixed[i];
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* spread over magnitudes: ms .. centuries */
			v = (x >> 20) % (DURATION_MAX_MS >> (x % 40));
		}
		duration_format(v, buf, sizeof buf);
		if (duration_parse(buf, strlen(buf), &back, NULL) != PT_OK || back != v) {
			if (bad++ < 5)
				TFAIL("%" PRIu64 " formats as '%s', parses as %" PRIu64, v, buf, back);
		}
	}
	CHECK_INT(bad, 0);
}

TEST_MAIN(test_parse, test_reject, test_format, test_roundtrip)
