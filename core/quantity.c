/* SPDX-License-Identifier: Apache-2.0 */
/* resource.Quantity parsing as k8s.io/apimachinery/pkg/api/resource does it
 * (quantity.go ParseQuantity/parseQuantityString, suffix.go interpret): the
 * same scanner, the same rejections, exact values to the nano unit with
 * rounding away from zero. A pure integer state machine: no malloc, no strtod. */
#include "quantity.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "text.h"

typedef unsigned __int128 u128;

/* The largest magnitude in nano-units that struct quantity holds. */
#define QUANTITY_MAX_NANO ((u128)(((u128)1 << 127) - 1))
/* apimachinery caps a binary-suffixed quantity, silently, at 2^63-1 units
 * (quantity.go: maxAllowed, "8Ei parses as 2^63-1"). */
#define QUANTITY_BIN_CAP ((u128)INT64_MAX * 1000000000u)
/* How much of the input an error message quotes. */
#define QUANTITY_MSG_SHOW 64
#define NANO 1000000000

enum sfx_base { SFX_DEC, SFX_BIN };

/* The scanner's view of the input: [sign] int [. frac] letters [sign digits]. */
struct scan {
	bool neg;
	size_t int_beg, int_len; /* integer digits */
	size_t frac_beg, frac_len; /* fraction digits */
	size_t sfx_beg, let_len; /* suffix letters */
};

static enum pt_code fail(struct pt_error *e, enum pt_code code, const char *s, size_t len,
			 const char *fmt, ...) PT_PRINTF(5, 6);

static enum pt_code fail(struct pt_error *e, enum pt_code code, const char *s, size_t len,
			 const char *fmt, ...)
{
	char shown[QUANTITY_MSG_SHOW + 8], why[160];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	text_quote(s, len, QUANTITY_MSG_SHOW, shown, sizeof shown);
	return pt_error_set(e, code, "quantity '%s' is %s: %s", shown,
			    code == PT_RANGE ? "out of range" : "not valid", why);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The letters parseQuantityString gathers into a suffix ("eEinumkKMGTP"). */
static bool is_sfx_letter(char c)
{
	switch (c) {
	case 'e': case 'E': case 'i': case 'n': case 'u': case 'm':
	case 'k': case 'K': case 'M': case 'G': case 'T': case 'P':
		return true;
	default:
		return false;
	}
}

/* suffix.go's tables: decimal n u m "" k M G T P E, binary Ki..Ei. */
static bool sfx_lookup(const char *p, size_t n, enum sfx_base *base, int32_t *exp)
{
	static const char dec[] = "num kMGTPE";
	static const int8_t dec_exp[] = {-9, -6, -3, 0, 3, 6, 9, 12, 15, 18};
	static const char bin[] = "KMGTPE";

	*base = SFX_DEC;
	if (n == 0) {
		*exp = 0;
		return true;
	}
	if (n == 1) {
		for (size_t i = 0; i < sizeof dec - 1; i++) {
			if (dec[i] != ' ' && dec[i] == p[0]) {
				*exp = dec_exp[i];
				return true;
			}
		}
		return false;
	}
	if (n == 2 && p[1] == 'i') {
		for (size_t i = 0; i < sizeof bin - 1; i++) {
			if (bin[i] == p[0]) {
				*base = SFX_BIN;
				*exp = (int32_t)(10 * (i + 1));
				return true;
			}
		}
	}
	return false;
}

/* The i-th digit of the mantissa: integer digits, then fraction digits. */
static unsigned digit_at(const char *s, const struct scan *sc, size_t i)
{
	if (i < sc->int_len)
		return (unsigned)(s[sc->int_beg + i] - '0');
	return (unsigned)(s[sc->frac_beg + i - sc->int_len] - '0');
}

/* *acc = *acc * 10^(to-from) + digits[from, to). Returns false (and stops)
 * when the result would exceed lim. */
static bool acc_digits(const char *s, const struct scan *sc, size_t from, size_t to, u128 *acc,
		       u128 lim)
{
	u128 a = *acc;

	for (size_t i = from; i < to; i++) {
		unsigned d = digit_at(s, sc, i);

		if (a > (lim - d) / 10)
			return false;
		a = a * 10 + d;
	}
	*acc = a;
	return true;
}

static bool any_nonzero(const char *s, const struct scan *sc, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (digit_at(s, sc, i))
			return true;
	return false;
}

static bool mul_lim(u128 *a, u128 m, u128 lim)
{
	if (m && *a > lim / m)
		return false;
	*a *= m;
	return true;
}

static u128 pow10_u128(unsigned k)
{
	u128 p = 1;

	while (k--)
		p *= 10;
	return p;
}

/* Decimal: |nano| = D * 10^k with k = exp + 9 - frac_len, where D is the
 * digit string; digits below the nano place round the result up. */
static bool value_dec(const char *s, const struct scan *sc, int64_t k, u128 *out)
{
	size_t total = sc->int_len + sc->frac_len;
	u128 acc = 0;

	if (k >= 0) {
		if (!acc_digits(s, sc, 0, total, &acc, QUANTITY_MAX_NANO))
			return false;
		if (acc == 0) {
			*out = 0;
			return true;
		}
		if (k > 38 || !mul_lim(&acc, pow10_u128((unsigned)k), QUANTITY_MAX_NANO))
			return false;
	} else {
		/* -k digits fall below the nano place */
		uint64_t drop = (uint64_t)-(k + 1) + 1;
		size_t keep = drop < total ? total - (size_t)drop : 0;

		if (!acc_digits(s, sc, 0, keep, &acc, QUANTITY_MAX_NANO))
			return false;
		if (any_nonzero(s, sc, keep, total)) {
			if (acc == QUANTITY_MAX_NANO)
				return false;
			acc++;
		}
	}
	*out = acc;
	return true;
}

/* Binary: |nano| = ceil(D * 2^bits * 10^(9 - frac_len)), capped as
 * apimachinery caps it, so it saturates instead of overflowing. */
static u128 value_bin(const char *s, const struct scan *sc, int32_t bits)
{
	const u128 sat = QUANTITY_BIN_CAP + 1;
	size_t total = sc->int_len + sc->frac_len;
	u128 acc = 0;

	if (sc->frac_len <= 9) {
		if (!acc_digits(s, sc, 0, total, &acc, sat) ||
		    !mul_lim(&acc, pow10_u128((unsigned)(9 - sc->frac_len)), sat) ||
		    !mul_lim(&acc, (u128)1 << bits, sat))
			acc = sat;
	} else {
		/* The last j = frac_len - 9 digits, B, lie below the nano place:
		 * nano = A * 2^bits + ceil(B * 2^bits / 10^j), and the second term
		 * is exact when done right to left: y' = (d * 2^bits + y) / 10,
		 * remembering whether any division left a remainder. y < 2^bits,
		 * so everything fits in 64 bits. */
		size_t keep = total - (sc->frac_len - 9);
		uint64_t y = 0;
		bool sticky = false;

		for (size_t i = total; i > keep; i--) {
			uint64_t n = ((uint64_t)digit_at(s, sc, i - 1) << bits) + y;

			sticky |= n % 10 != 0;
			y = n / 10;
		}
		if (!acc_digits(s, sc, 0, keep, &acc, sat) || !mul_lim(&acc, (u128)1 << bits, sat))
			acc = sat;
		else
			acc += y + sticky; /* acc <= sat, y < 2^60: no overflow */
	}
	return acc > QUANTITY_BIN_CAP ? QUANTITY_BIN_CAP : acc;
}

/* Scan as parseQuantityString does. Returns 0, or the offset + 1 of the
 * first character that cannot belong to a quantity. */
static size_t scan_quantity(const char *s, size_t len, struct scan *sc)
{
	size_t i = 0;

	sc->neg = false;
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		sc->neg = s[0] == '-';
		i++;
	}
	sc->int_beg = i;
	while (i < len && is_digit(s[i]))
		i++;
	sc->int_len = i - sc->int_beg;
	sc->frac_beg = i;
	sc->frac_len = 0;
	/* "5." and "1.G" are allowed (quantity.go: "we currently allow 1.G") */
	if (i < len && s[i] == '.') {
		sc->frac_beg = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		sc->frac_len = i - sc->frac_beg;
	}
	sc->sfx_beg = i;
	while (i < len && is_sfx_letter(s[i]))
		i++;
	sc->let_len = i - sc->sfx_beg;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && is_digit(s[i]))
		i++;
	return i < len ? i + 1 : 0;
}

/* The exponent after 'e'/'E': strconv.ParseInt(s, 10, 64) syntax. Returns
 * false for a malformed or out-of-int64 exponent. */
static bool parse_exp(const char *p, size_t n, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	size_t i = 0;

	if (n > 0 && (p[0] == '-' || p[0] == '+')) {
		neg = p[0] == '-';
		i++;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (!is_digit(p[i]) || v > ((uint64_t)INT64_MAX + 1 - (unsigned)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (!neg && v > INT64_MAX)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

enum pt_code quantity_parse(const char *s, size_t len, struct quantity *out, struct pt_error *e)
{
	enum sfx_base base;
	struct scan sc;
	int32_t exp;
	size_t bad, sfx_len;
	u128 mag;

	if (len == 0)
		return fail(e, PT_SYNTAX, s, len, "empty string");
	bad = scan_quantity(s, len, &sc);
	if (bad) {
		unsigned char c = (unsigned char)s[bad - 1];

		if (c >= 0x20 && c < 0x7f)
			return fail(e, PT_SYNTAX, s, len, "unexpected character '%c' at offset %zu", c,
				    bad - 1);
		return fail(e, PT_SYNTAX, s, len, "unexpected byte 0x%02x at offset %zu", c, bad - 1);
	}

	sfx_len = len - sc.sfx_beg;
	if (sfx_len == sc.let_len && sfx_lookup(s + sc.sfx_beg, sfx_len, &base, &exp)) {
		/* a table suffix */
	} else if (sfx_len > 1 && (s[sc.sfx_beg] == 'e' || s[sc.sfx_beg] == 'E')) {
		int64_t x;

		if (!parse_exp(s + sc.sfx_beg + 1, sfx_len - 1, &x))
			return fail(e, PT_SYNTAX, s, len, "invalid exponent '%.*s'", (int)sfx_len,
				    s + sc.sfx_beg);
		/* suffix.go truncates the exponent with int32(parsed), so "1e4294967296"
		 * would be 1 there; refuse instead of wrapping. */
		if (x < INT32_MIN || x > INT32_MAX)
			return fail(e, PT_RANGE, s, len, "exponent does not fit in 32 bits");
		base = SFX_DEC;
		exp = (int32_t)x;
	} else {
		return fail(e, PT_SYNTAX, s, len,
			    "unknown suffix '%.*s' (decimal: n u m k M G T P E; binary: Ki Mi Gi Ti Pi "
			    "Ei; exponent: e3, E-3)",
			    (int)(sfx_len > 16 ? 16 : sfx_len), s + sc.sfx_beg);
	}

	if (sc.int_len + sc.frac_len == 0) {
		/* No digits ("+", ".", "e3", "Ki"): apimachinery's int64 fast path
		 * reads the mantissa as "0" and succeeds, but its inf.Dec path
		 * (taken for scales below nano and for Pi/Ei) finds no digits and
		 * fails with ErrNumeric. Its own TestParseQuantityString accepts
		 * "." and "-.". */
		if ((base == SFX_DEC && exp < -9) || (base == SFX_BIN && exp > 40))
			return fail(e, PT_SYNTAX, s, len, "no digits");
		mag = 0;
	} else if (base == SFX_BIN) {
		mag = value_bin(s, &sc, exp);
	} else {
		/* clamp: no real input has 2^62 fraction digits */
		size_t d = sc.frac_len < (size_t)1 << 62 ? sc.frac_len : (size_t)1 << 62;
		int64_t k = (int64_t)exp + 9 - (int64_t)d;

		if (!value_dec(s, &sc, k, &mag))
			return fail(e, PT_RANGE, s, len,
				    "magnitude must stay below 2^127 nano-units (about 1.7e29)");
	}
	out->nano = sc.neg ? -(__int128)mag : (__int128)mag;
	return PT_OK;
}

/* ceil(|nano| / unit) with the sign put back: rounding away from zero, as
 * Value() is documented to and as apimachinery's int64 path
 * (negativeScaleInt64) does. Its inf.Dec path (scaledValue) truncates and
 * adds one instead, which differs for negative non-integers (Value of
 * "-0.1n" is +1 there); Kubernetes allows no negative requests or limits. */
static int64_t scaled(const struct quantity *q, uint64_t unit)
{
	bool neg = q->nano < 0;
	u128 m = neg ? -(u128)q->nano : (u128)q->nano;
	u128 r = m / unit + (m % unit != 0);

	if (!neg)
		return r > INT64_MAX ? INT64_MAX : (int64_t)r;
	if (r > (u128)INT64_MAX + 1)
		return INT64_MIN;
	return (int64_t)(0 - (uint64_t)r);
}

int64_t quantity_value(const struct quantity *q)
{
	return scaled(q, NANO);
}

int64_t quantity_milli(const struct quantity *q)
{
	return scaled(q, NANO / 1000);
}
