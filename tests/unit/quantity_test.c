/* SPDX-License-Identifier: Apache-2.0 */
/* quantity_parse against apimachinery's behaviour. Expected values come from
 * DESIGN.md §4, apimachinery's quantity_test.go tables, and a transcription
 * of its ParseQuantity run over the same inputs. */
#include "../../core/quantity.h"
#include "test.h"

static const char *i128_str(__int128 v, char *buf, size_t len)
{
	unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	char tmp[48];
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + (int)(m % 10));
		m /= 10;
	} while (m);
	if (v < 0 && k + 1 < len)
		buf[k++] = '-';
	while (n && k + 1 < len)
		buf[k++] = tmp[--n];
	buf[k] = '\0';
	return buf;
}

/* Parse s; expect success with this nano count (decimal string) and these
 * Value()/MilliValue() results. */
#define OK(s, nano, value, milli) ok_(__LINE__, s, sizeof(s) - 1, nano, value, milli)

static void ok_(int line, const char *s, size_t len, const char *nano, int64_t value, int64_t milli)
{
	struct quantity q = {0};
	struct pt_error e = {0};
	enum pt_code rc = quantity_parse(s, len, &q, &e);
	char got[48];

	test_checks++;
	if (rc != PT_OK) {
		TFAIL("line %d: '%s': want ok, got %s: %s", line, s, pt_strerror(rc), e.msg);
		return;
	}
	i128_str(q.nano, got, sizeof got);
	if (strcmp(got, nano) != 0)
		TFAIL("line %d: '%s': nano got %s, want %s", line, s, got, nano);
	if (quantity_value(&q) != value)
		TFAIL("line %d: '%s': value got %" PRId64 ", want %" PRId64, line, s,
		      quantity_value(&q), value);
	if (quantity_milli(&q) != milli)
		TFAIL("line %d: '%s': milli got %" PRId64 ", want %" PRId64, line, s,
		      quantity_milli(&q), milli);
}

/* Parse s; expect failure with code and a message containing want; the
 * output must stay untouched. */
#define BAD(s, code, want) bad_(__LINE__, s, sizeof(s) - 1, code, want)

static void bad_(int line, const char *s, size_t len, enum pt_code code, const char *want)
{
	struct quantity q = {.nano = 4242};
	struct pt_error e = {0};
	enum pt_code rc = quantity_parse(s, len, &q, &e);

	test_checks++;
	if (rc != code)
		TFAIL("line %d: '%s': code got %s, want %s (%s)", line, s, pt_strerror(rc),
		      pt_strerror(code), e.msg);
	else if (!strstr(e.msg, want))
		TFAIL("line %d: '%s': message \"%s\" lacks \"%s\"", line, s, e.msg, want);
	if (q.nano != 4242)
		TFAIL("line %d: '%s': output was modified on failure", line, s);
	/* a NULL error record is always accepted */
	if (quantity_parse(s, len, &q, NULL) != code)
		TFAIL("line %d: '%s': different code without an error record", line, s);
}

static void test_design_examples(void)
{
	OK("1.5Gi", "1610612736000000000", 1610612736, 1610612736000);
	OK("123Mi", "128974848000000000", 128974848, 128974848000);
	OK("129M", "129000000000000000", 129000000, 129000000000);
	OK("129e6", "129000000000000000", 129000000, 129000000000);
	OK("128974848", "128974848000000000", 128974848, 128974848000);
	OK("1e3", "1000000000000", 1000, 1000000);
	OK(".5", "500000000", 1, 500);
	OK("0.5", "500000000", 1, 500);
	OK("5.", "5000000000", 5, 5000);
	OK("100m", "100000000", 1, 100);
	OK("3.001n", "4", 1, 1);
	OK("+1", "1000000000", 1, 1000);
	OK("1.G", "1000000000000000000", 1000000000, 1000000000000);
	OK("1E", "1000000000000000000000000000", 1000000000000000000, INT64_MAX);
}

static void test_suffixes(void)
{
	OK("0", "0", 0, 0);
	OK("1", "1000000000", 1, 1000);
	OK("5n", "5", 1, 1);
	OK("4u", "4000", 1, 1);
	OK("3m", "3000000", 1, 3);
	OK("8k", "8000000000000", 8000, 8000000);
	OK("7M", "7000000000000000", 7000000, 7000000000);
	OK("6G", "6000000000000000000", 6000000000, 6000000000000);
	OK("5T", "5000000000000000000000", 5000000000000, 5000000000000000);
	OK("2P", "2000000000000000000000000", 2000000000000000, 2000000000000000000);
	OK("12E", "12000000000000000000000000000", INT64_MAX, INT64_MAX);
	OK("1Ki", "1024000000000", 1024, 1024000);
	OK("7Mi", "7340032000000000", 7340032, 7340032000);
	OK("6Gi", "6442450944000000000", 6442450944, 6442450944000);
	OK("5Ti", "5497558138880000000000", 5497558138880, 5497558138880000);
	OK("4Pi", "4503599627370496000000000", 4503599627370496, 4503599627370496000);
	OK("3Ei", "3458764513820540928000000000", 3458764513820540928, INT64_MAX);
	OK("1E-3", "1000000", 1, 1);
	OK("1e+3", "1000000000000", 1000, 1000000);
	OK("1E+3", "1000000000000", 1000, 1000000);
	OK("1.3E+6", "1300000000000000", 1300000, 1300000000);
	OK("1.7E18", "1700000000000000000000000000", 1700000000000000000, INT64_MAX);
	OK("1e03", "1000000000000", 1000, 1000000);
	OK("1e-0", "1000000000", 1, 1000);
	OK("0.5e-2", "5000000", 1, 5);
	OK("100.035k", "100035000000000", 100035, 100035000);
	OK("0.0005k", "500000000", 1, 500);
	OK("6.987654321G", "6987654321000000000", 6987654321, 6987654321000);
	OK("100.035Ki", "102435840000000", 102436, 102435840);
	OK("0.5Mi", "524288000000000", 524288, 524288000);
	OK("0.025Ti", "27487790694400000000", 27487790695, 27487790694400);
	OK(".001Ki", "1024000000", 2, 1024);
	OK(".000000001Ki", "1024", 1, 1);
	OK("007", "7000000000", 7, 7000);
	OK("-000", "0", 0, 0);
}

/* Digits below the nano place round away from zero. */
static void test_rounding(void)
{
	OK("3.001n", "4", 1, 1);
	OK("0.1n", "1", 1, 1);
	OK("0.9n", "1", 1, 1);
	OK("1.1E-9", "2", 1, 1);
	OK("0.0000000001", "1", 1, 1);
	OK("0.00000000050", "1", 1, 1);
	OK("0.5e-9", "1", 1, 1);
	OK("0.00000012345", "124", 1, 1);
	OK("0.00000012354", "124", 1, 1);
	OK("0.000000000001Ki", "2", 1, 1);
	OK("0.0000000010000000000000000000000000001", "2", 1, 1);
	OK("1.0000000000000000000000000000000000000", "1000000000", 1, 1000);
	OK("1e-400", "1", 1, 1);
	OK("0e-400", "0", 0, 0);
	OK("1.0000000001Ki", "1024000000103", 1025, 1024001);
	OK("1001m", "1001000000", 2, 1001);
	OK("1000m", "1000000000", 1, 1000);
	OK("1000001n", "1000001", 1, 2);
	/* negative values round away from zero too */
	OK("-3.001n", "-4", -1, -1);
	OK("-0.1n", "-1", -1, -1);
	OK("-1.5", "-1500000000", -2, -1500);
	OK("-1.5Gi", "-1610612736000000000", -1610612736, -1610612736000);
	OK("-1.0000000001Ki", "-1024000000103", -1025, -1024001);
	OK("-100m", "-100000000", -1, -100);
}

/* apimachinery accepts these, so an apiserver may have: parse them alike. */
static void test_noncanonical_and_digitless(void)
{
	OK("+1.G", "1000000000000000000", 1000000000, 1000000000000);
	OK("-.5", "-500000000", -1, -500);
	OK("+.5Ki", "512000000000", 512, 512000);
	OK("1.e3", "1000000000000", 1000, 1000000);
	OK("00.5", "500000000", 1, 500);
	/* no digits: apimachinery's fast path reads "0" (its own
	 * TestParseQuantityString lists "." and "-.") */
	OK("+", "0", 0, 0);
	OK("-", "0", 0, 0);
	OK(".", "0", 0, 0);
	OK("-.", "0", 0, 0);
	OK("e3", "0", 0, 0);
	OK("e-9", "0", 0, 0);
	OK("Ki", "0", 0, 0);
	OK("Ti", "0", 0, 0);
	OK("m", "0", 0, 0);
	OK("E", "0", 0, 0);
	/* ... and its inf.Dec path, taken below nano and for Pi/Ei, rejects them */
	BAD("e-10", PT_SYNTAX, "no digits");
	BAD("Pi", PT_SYNTAX, "no digits");
	BAD("-.Ei", PT_SYNTAX, "no digits");
}

static void test_huge(void)
{
	/* binary suffixes cap at 2^63-1 units, never fail */
	OK("8Ei", "9223372036854775807000000000", INT64_MAX, INT64_MAX);
	OK("9Ei", "9223372036854775807000000000", INT64_MAX, INT64_MAX);
	OK("-9Ei", "-9223372036854775807000000000", -INT64_MAX, INT64_MIN);
	OK("9223372036854775807Ki", "9223372036854775807000000000", INT64_MAX, INT64_MAX);
	OK("7.99999999999999999913Ei", "9223372036854775806996958291", INT64_MAX, INT64_MAX);
	OK("123456789012345678901234567890123456789012345678901234567890Ki",
	   "9223372036854775807000000000", INT64_MAX, INT64_MAX);
	OK("8191.999999999999999999999999999999Pi", "9223372036854775807000000000", INT64_MAX,
	   INT64_MAX);
	/* decimal values are not capped: up to 2^127-1 nano-units */
	OK("18446744073709551616", "18446744073709551616000000000", INT64_MAX, INT64_MAX);
	OK("-18446744073709551616", "-18446744073709551616000000000", INT64_MIN, INT64_MIN);
	OK("170141183460469231731687303715884105727n", "170141183460469231731687303715884105727",
	   INT64_MAX, INT64_MAX);
	OK("170141183460469231731.687303715884105727", "170141183460469231731687303716", INT64_MAX,
	   INT64_MAX);
	OK("9223372036854775807", "9223372036854775807000000000", INT64_MAX, INT64_MAX);
	OK("9223372036854775.807", "9223372036854775807000000", 9223372036854776,
	   INT64_MAX);
	OK("9223372036854775.806", "9223372036854775806000000", 9223372036854776,
	   9223372036854775806);
	OK("0e2147483647", "0", 0, 0);
	OK("1e-2147483648", "1", 1, 1);
	BAD("170141183460469231731687303715884105728n", PT_RANGE, "below 2^127");
	BAD("-170141183460469231731687303715884105728n", PT_RANGE, "below 2^127");
	BAD("1e40", PT_RANGE, "quantity '1e40' is out of range");
	OK("1e29", "100000000000000000000000000000000000000", INT64_MAX, INT64_MAX);
	BAD("2e29", PT_RANGE, "out of range");
	BAD("1e2147483647", PT_RANGE, "out of range");
	BAD("1000000000000000000000000000000000000000000000000000", PT_RANGE, "out of range");
	/* suffix.go would wrap these through int32(parsed); refuse instead */
	BAD("1e2147483648", PT_RANGE, "exponent does not fit in 32 bits");
	BAD("1e4294967296", PT_RANGE, "exponent does not fit in 32 bits");
	BAD("1e-2147483649", PT_RANGE, "exponent does not fit in 32 bits");
	BAD("1e9223372036854775807", PT_RANGE, "32 bits");
	/* beyond int64, strconv.ParseInt fails: ErrSuffix */
	BAD("1e9223372036854775808", PT_SYNTAX, "invalid exponent 'e9223372036854775808'");
	BAD("0e99999999999999999999", PT_SYNTAX, "invalid exponent");
}

static void test_rejections(void)
{
	BAD("", PT_SYNTAX, "quantity '' is not valid: empty string");
	BAD("1.5.5", PT_SYNTAX, "quantity '1.5.5' is not valid: unexpected character '.' at offset 3");
	BAD("1 Gi", PT_SYNTAX, "quantity '1 Gi' is not valid: unexpected character ' ' at offset 1");
	BAD(" 1", PT_SYNTAX, "unexpected character ' ' at offset 0");
	BAD("1 ", PT_SYNTAX, "unexpected character ' ' at offset 1");
	BAD("1\n", PT_SYNTAX, "'1\\x0a' is not valid: unexpected byte 0x0a at offset 1");
	BAD("1i", PT_SYNTAX, "unknown suffix 'i'");
	BAD("1K", PT_SYNTAX, "unknown suffix 'K'");
	BAD("1KiB", PT_SYNTAX, "unexpected character 'B' at offset 3");
	BAD("1Ki3", PT_SYNTAX, "unknown suffix 'Ki3'");
	BAD("1ki", PT_SYNTAX, "unknown suffix 'ki'");
	BAD("0.1mi", PT_SYNTAX, "unknown suffix 'mi'");
	BAD("0.1am", PT_SYNTAX, "unexpected character 'a'");
	BAD("1.1.M", PT_SYNTAX, "unexpected character '.'");
	BAD("1+1.0M", PT_SYNTAX, "unexpected character '.'");
	BAD("aoeu", PT_SYNTAX, "unexpected character 'a' at offset 0");
	BAD(".5i", PT_SYNTAX, "unknown suffix 'i'");
	BAD("-3.01i", PT_SYNTAX, "unknown suffix 'i'");
	BAD("-3.01e-", PT_SYNTAX, "invalid exponent 'e-'");
	BAD("1e", PT_SYNTAX, "unknown suffix 'e'");
	BAD("1e+", PT_SYNTAX, "invalid exponent 'e+'");
	BAD("1ee3", PT_SYNTAX, "invalid exponent 'ee3'");
	BAD("1e3.5", PT_SYNTAX, "unexpected character '.' at offset 3");
	BAD("1e++3", PT_SYNTAX, "unexpected character '+' at offset 3");
	BAD("1E3i", PT_SYNTAX, "unexpected character 'i'");
	BAD("1m3", PT_SYNTAX, "unknown suffix 'm3'");
	BAD("1-3", PT_SYNTAX, "unknown suffix '-3'");
	BAD("--1", PT_SYNTAX, "unknown suffix '-1'");
	BAD("+-1", PT_SYNTAX, "unknown suffix '-1'");
	BAD("0x10", PT_SYNTAX, "unexpected character 'x'");
	BAD("1,5", PT_SYNTAX, "unexpected character ','");
	BAD("1Gi ", PT_SYNTAX, "unexpected character ' ' at offset 3");
	BAD("١", PT_SYNTAX, "unexpected byte 0xd9 at offset 0");
	BAD("e", PT_SYNTAX, "unknown suffix 'e'");
	BAD("1EE", PT_SYNTAX, "invalid exponent 'EE'");
	BAD("Inf", PT_SYNTAX, "unexpected character 'I'");
	BAD("NaN", PT_SYNTAX, "unexpected character 'N'");
}

static void test_length_and_bytes(void)
{
	static char big[20000];
	struct quantity q = {0};
	struct pt_error e = {0};
	size_t n;

	/* len is honoured: no NUL needed, and bytes past len are ignored */
	CHECK_INT(quantity_parse("1Gi", 1, &q, &e), PT_OK);
	CHECK_INT(quantity_value(&q), 1);
	CHECK_INT(quantity_parse("12x", 2, &q, &e), PT_OK);
	CHECK_INT(quantity_value(&q), 12);
	/* an embedded NUL is a bad byte, and the message stays printable */
	CHECK_INT(quantity_parse("1\0Gi", 4, &q, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "quantity '1\\x00Gi' is not valid: unexpected byte 0x00 at offset 1");

	/* a long fraction: 19,998 zeros then a 1 */
	big[0] = '0';
	big[1] = '.';
	memset(big + 2, '0', sizeof big - 3);
	big[sizeof big - 2] = '1';
	CHECK_INT(quantity_parse(big, sizeof big - 1, &q, &e), PT_OK);
	CHECK_INT(quantity_milli(&q), 1);
	CHECK(q.nano == 1);
	/* the same as a binary quantity */
	n = sizeof big - 1;
	big[n - 1] = 'K';
	big[n - 2] = '1';
	big[n] = 'i';
	CHECK_INT(quantity_parse(big, n + 1, &q, &e), PT_OK);
	CHECK(q.nano == 1);
	/* a long integer overflows, and the message quotes a bounded prefix */
	memset(big, '9', sizeof big - 1);
	CHECK_INT(quantity_parse(big, sizeof big - 1, &q, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "99...' is out of range");
	CHECK(strlen(e.msg) < 200);
	/* long leading zeros are harmless */
	memset(big, '0', sizeof big - 1);
	big[sizeof big - 2] = '7';
	CHECK_INT(quantity_parse(big, sizeof big - 1, &q, &e), PT_OK);
	CHECK_INT(quantity_value(&q), 7);
}

/* Every case of apimachinery's TestQuantityParse table with its
 * negative and explicit-plus versions, as that test does. */
static void test_sign_variants(void)
{
	static const struct {
		const char *s;
		const char *nano;
	} t[] = {
		{"0", "0"}, {"0n", "0"}, {"0Ki", "0"}, {"1", "1000000000"},
		{"8Ki", "8192000000000"}, {"50k", "50000000000000"}, {"40T", "40000000000000000000000"},
		{"1e9", "1000000000000000000"}, {"0.001", "1000000"}, {"0.5e0", "500000000"},
		{"10.035M", "10035000000000000"}, {"1.40e9", "1400000000000000000"},
		{"9.01", "9010000000"}, {"1.01E", "1010000000000000000000000000"},
		{"0.05Gi", "53687091200000000"}, {".0001k", "100000000"}, {"1.", "1000000000"},
		{"3.001n", "4"}, {"0.9n", "1"},
	};
	char buf[64], got[48];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		for (int v = 0; v < 3; v++) {
			struct quantity q;
			int n = snprintf(buf, sizeof buf, "%s%s", v == 0 ? "" : v == 1 ? "-" : "+", t[i].s);
			const char *want = t[i].nano;
			char neg[64];

			if (v == 1 && strcmp(want, "0") != 0) {
				snprintf(neg, sizeof neg, "-%s", want);
				want = neg;
			}
			CHECK_INT(quantity_parse(buf, (size_t)n, &q, NULL), PT_OK);
			CHECK_STR(i128_str(q.nano, got, sizeof got), want);
		}
	}
}

TEST_MAIN(test_design_examples, test_suffixes, test_rounding, test_noncanonical_and_digitless,
	  test_huge, test_rejections, test_length_and_bytes, test_sign_variants)
