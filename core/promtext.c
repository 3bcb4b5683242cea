/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus text format 0.0.4 in one pass: each line is found with
 * memchr, and names, label names and values are slices of the page (values
 * with escapes are unescaped into a scratch buffer on the stack). The
 * grammar follows Prometheus' own scraper (model/textparse/promlex.l and
 * promparse.go), so a page it accepts is accepted here. */
#include "promtext.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

enum {
	C_MSTART = 1 << 0, /* [a-zA-Z_:] starts a metric name */
	C_MNAME = 1 << 1,  /* [a-zA-Z0-9_:] continues it */
	C_LSTART = 1 << 2, /* [a-zA-Z_] starts a label name */
	C_LNAME = 1 << 3,  /* [a-zA-Z0-9_] continues it */
	C_DIGIT = 1 << 4,
};

#define L_ (C_MSTART | C_MNAME | C_LSTART | C_LNAME)
#define D_ (C_MNAME | C_LNAME | C_DIGIT)
static const unsigned char cls[256] = {
	['0'] = D_, ['1'] = D_, ['2'] = D_, ['3'] = D_, ['4'] = D_,
	['5'] = D_, ['6'] = D_, ['7'] = D_, ['8'] = D_, ['9'] = D_,
	[':'] = C_MSTART | C_MNAME, ['_'] = L_,
	['A'] = L_, ['B'] = L_, ['C'] = L_, ['D'] = L_, ['E'] = L_, ['F'] = L_,
	['G'] = L_, ['H'] = L_, ['I'] = L_, ['J'] = L_, ['K'] = L_, ['L'] = L_,
	['M'] = L_, ['N'] = L_, ['O'] = L_, ['P'] = L_, ['Q'] = L_, ['R'] = L_,
	['S'] = L_, ['T'] = L_, ['U'] = L_, ['V'] = L_, ['W'] = L_, ['X'] = L_,
	['Y'] = L_, ['Z'] = L_,
	['a'] = L_, ['b'] = L_, ['c'] = L_, ['d'] = L_, ['e'] = L_, ['f'] = L_,
	['g'] = L_, ['h'] = L_, ['i'] = L_, ['j'] = L_, ['k'] = L_, ['l'] = L_,
	['m'] = L_, ['n'] = L_, ['o'] = L_, ['p'] = L_, ['q'] = L_, ['r'] = L_,
	['s'] = L_, ['t'] = L_, ['u'] = L_, ['v'] = L_, ['w'] = L_, ['x'] = L_,
	['y'] = L_, ['z'] = L_,
};
#undef L_
#undef D_

#define IS(c, bit) (cls[(unsigned char)(c)] & (bit))

static const char *skip_blanks(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Whether n bytes are valid UTF-8 as Go's utf8.Valid sees it: no overlong
 * forms, no surrogates, nothing above U+10FFFF. Prometheus rejects label
 * values that are not (promparse.go parseLVals). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t need;
		unsigned int cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* Powers of ten that a double holds exactly. */
static const double exact_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A sample value as Go's strconv.ParseFloat reads it, minus the hex and
 * underscore forms that Prometheus refuses (promparse.go parseFloat):
 * [+-] digits [. digits] [e [+-] digits], "Inf"/"Infinity" with an optional
 * sign and "NaN" without one, in any case. Overflow is an error, as in Go.
 *
 * Most values take the exact fast path (Clinger): when the significant
 * digits fit in 53 bits and the power of ten is at most 22, both are exact
 * doubles and one IEEE multiply or divide rounds correctly. The rest go to
 * strtod, which rounds correctly too (glibc). */
static bool parse_value(const char *p, size_t n, double *out)
{
	const char *e = p + n, *tok = p;
	uint64_t m = 0;
	int digits = 0, exp10 = 0;
	bool neg = false, any = false, trunc = false;

	if (n == 0 || n > PROMTEXT_MAX_VALUE_LEN)
		return false;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (p < e && ((*p | 0x20) == 'i' || (*p | 0x20) == 'n')) {
		size_t k = (size_t)(e - p);

		if (text_ieq(p, k, "inf") || text_ieq(p, k, "infinity")) {
			*out = neg ? -INFINITY : INFINITY;
			return true;
		}
		if (p == tok && text_ieq(p, k, "nan")) {
			*out = NAN;
			return true;
		}
		return false;
	}
	for (; p < e && IS(*p, C_DIGIT); p++) {
		unsigned d = (unsigned)(*p - '0');

		any = true;
		if (m == 0 && d == 0)
			continue;
		if (digits < 19) {
			m = m * 10 + d;
			digits++;
		} else {
			trunc = true;
			exp10++;
		}
	}
	if (p < e && *p == '.') {
		for (p++; p < e && IS(*p, C_DIGIT); p++) {
			unsigned d = (unsigned)(*p - '0');

			any = true;
			if (m == 0 && d == 0) {
				exp10--;
			} else if (digits < 19) {
				m = m * 10 + d;
				digits++;
				exp10--;
			} else {
				trunc = true;
			}
		}
	}
	if (!any)
		return false;
	if (p < e && (*p == 'e' || *p == 'E')) {
		int sign = 1, x = 0;

		p++;
		if (p < e && (*p == '+' || *p == '-')) {
			sign = *p == '-' ? -1 : 1;
			p++;
		}
		if (p == e || !IS(*p, C_DIGIT))
			return false;
		for (; p < e && IS(*p, C_DIGIT); p++)
			if (x < 100000)
				x = x * 10 + (*p - '0');
		exp10 += sign * x;
	}
	if (p != e)
		return false;
	if (m == 0) {
		*out = neg ? -0.0 : 0.0;
		return true;
	}
	if (!trunc && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)m;

		d = exp10 < 0 ? d / exact_pow10[-exp10] : d * exact_pow10[exp10];
		*out = neg ? -d : d;
		return true;
	}
	{
		char buf[PROMTEXT_MAX_VALUE_LEN + 1];
		char *end;
		double d;

		/* The token is checked above, so strtod reads all of it and
		 * none of its extensions (hex, "nan(...)"). The node agent
		 * never calls setlocale, so the decimal point is '.'. */
		memcpy(buf, tok, n);
		buf[n] = '\0';
		errno = 0;
		d = strtod(buf, &end);
		if (end != buf + n || (errno == ERANGE && isinf(d)))
			return false;
		*out = d;
		return true;
	}
}

static bool parse_timestamp(const char *p, const char *e, int64_t *out)
{
	uint64_t v = 0, lim;
	bool neg = false;

	if (p < e && *p == '-') {
		neg = true;
		p++;
	}
	if (p == e)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < e; p++) {
		unsigned d;

		if (!IS(*p, C_DIGIT))
			return false;
		d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* One line's scratch space for unescaped label values: every value fits,
 * since each one is bounded. */
struct scratch {
	char buf[PROMTEXT_MAX_LABELS * PROMTEXT_MAX_LABEL_VALUE];
	size_t used;
};

/* Unescape a quoted value's body (raw, n bytes) into the scratch buffer.
 * Only \\ \" \n are escapes; any other backslash stays as written, as
 * Prometheus' lvalReplacer leaves it (promparse.go). */
static bool unescape(const char *raw, size_t n, struct scratch *sc, struct promtext_slice *out)
{
	char *dst = sc->buf + sc->used, *start = dst;
	const char *e = raw + n;

	while (raw < e) {
		char c = *raw++;

		if (c == '\\' && raw < e) {
			if (*raw == '\\' || *raw == '"') {
				c = *raw++;
			} else if (*raw == 'n') {
				c = '\n';
				raw++;
			}
		}
		if ((size_t)(dst - start) == PROMTEXT_MAX_LABEL_VALUE)
			return false;
		*dst++ = c;
	}
	out->p = start;
	out->len = (size_t)(dst - start);
	sc->used += out->len;
	return true;
}

/* The labels after '{' up to and including '}'. *pp is left after '}'. */
static bool parse_labels(const char **pp, const char *e, struct promtext_sample *s, struct scratch *sc)
{
	const char *p = *pp;

	for (;;) {
		struct promtext_label *l;
		const char *name, *val;
		unsigned char seen = 0;
		bool esc = false;

		p = skip_blanks(p, e);
		if (p == e)
			return false;
		if (*p == '}')
			break;
		if (!IS(*p, C_LSTART) || s->n_labels == PROMTEXT_MAX_LABELS)
			return false;
		name = p;
		while (++p < e && IS(*p, C_LNAME))
			;
		l = &s->labels[s->n_labels];
		l->name.p = name;
		l->name.len = (size_t)(p - name);
		p = skip_blanks(p, e);
		if (p == e || *p != '=')
			return false;
		p = skip_blanks(p + 1, e);
		if (p == e || *p != '"')
			return false;
		val = ++p;
		for (; p < e && *p != '"'; p++) {
			seen |= (unsigned char)*p;
			if (*p == '\\') {
				esc = true;
				if (++p == e)
					return false;
			} else if (*p == '\0') {
				return false;
			}
		}
		if (p == e)
			return false;
		if ((seen & 0x80) && !utf8_valid((const unsigned char *)val, (size_t)(p - val)))
			return false;
		if (esc) {
			if (!unescape(val, (size_t)(p - val), sc, &l->value))
				return false;
		} else {
			if ((size_t)(p - val) > PROMTEXT_MAX_LABEL_VALUE)
				return false;
			l->value.p = val;
			l->value.len = (size_t)(p - val);
		}
		for (size_t i = 0; i < s->n_labels; i++)
			if (s->labels[i].name.len == l->name.len &&
			    memcmp(s->labels[i].name.p, l->name.p, l->name.len) == 0)
				return false;
		s->n_labels++;
		p = skip_blanks(p + 1, e);
		if (p < e && *p == ',')
			p++; /* also the trailing one the classic Java client writes */
		else if (p == e || *p != '}')
			return false;
	}
	*pp = p + 1;
	return true;
}

enum line_kind { LINE_EMPTY, LINE_EOF, LINE_SKIPPED, LINE_SAMPLE, LINE_BAD };

static enum line_kind parse_line(const char *p, const char *e, promtext_filter_fn filter, void *ctx,
				 struct promtext_sample *s, struct scratch *sc)
{
	const char *name, *v;

	p = skip_blanks(p, e);
	if (p == e)
		return LINE_EMPTY;
	if (*p == '#') {
		/* OpenMetrics ends a page with this line (OpenMetrics spec,
		 * "ABNF"); in 0.0.4 it is an ordinary comment. */
		if (e - p == 5 && memcmp(p, "# EOF", 5) == 0)
			return LINE_EOF;
		return LINE_EMPTY;
	}
	if (!IS(*p, C_MSTART))
		return LINE_BAD;
	name = p;
	while (++p < e && IS(*p, C_MNAME))
		;
	if (filter && !filter(ctx, name, (size_t)(p - name)))
		return LINE_SKIPPED;
	s->name.p = name;
	s->name.len = (size_t)(p - name);
	s->n_labels = 0;
	sc->used = 0;
	p = skip_blanks(p, e);
	if (p < e && *p == '{') {
		p++;
		if (!parse_labels(&p, e, s, sc))
			return LINE_BAD;
		p = skip_blanks(p, e);
	}
	v = p;
	while (p < e && *p != ' ' && *p != '\t')
		p++;
	if (!parse_value(v, (size_t)(p - v), &s->value))
		return LINE_BAD;
	p = skip_blanks(p, e);
	s->has_timestamp = false;
	if (p < e && *p != '#') {
		const char *t = p;

		while (p < e && *p != ' ' && *p != '\t')
			p++;
		if (!parse_timestamp(t, p, &s->timestamp_ms))
			return LINE_BAD;
		s->has_timestamp = true;
		p = skip_blanks(p, e);
	}
	/* What may remain is an OpenMetrics exemplar ("# {...} v"), which
	 * the agent has no use for. */
	if (p < e && *p != '#')
		return LINE_BAD;
	return LINE_SAMPLE;
}

enum pt_code promtext_parse(const char *data, size_t len, promtext_filter_fn filter,
			    promtext_sample_fn on_sample, void *ctx, struct promtext_stats *st)
{
	struct promtext_stats local;
	struct promtext_sample s;
	struct scratch sc;
	const char *p = data, *end;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (!data)
		return len ? PT_INVALID : PT_OK;
	end = data + len; /* not before: NULL + 0 is undefined in C */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		enum line_kind k;

		st->lines++;
		if (le > p && le[-1] == '\r')
			le--;
		k = parse_line(p, le, filter, ctx, &s, &sc);
		p = nl ? nl + 1 : end;
		switch (k) {
		case LINE_EMPTY:
			break;
		case LINE_EOF:
			return PT_OK;
		case LINE_SKIPPED:
			st->skipped++;
			break;
		case LINE_BAD:
			if (!st->bad_lines)
				st->first_bad = st->lines;
			st->bad_lines++;
			break;
		case LINE_SAMPLE:
			st->samples++;
			if (on_sample && !on_sample(ctx, &s))
				return PT_OK;
			break;
		}
	}
	return PT_OK;
}

/* simpleclient_hotspot 0.x names (canonical) and what the same series are
 * called elsewhere. JMX exporter >= 1.0 registers client_java 1.x's
 * JvmMetrics (prometheus/jmx_exporter, jmx_prometheus_javaagent
 * JavaAgent.java), whose names are in prometheus/client_java
 * prometheus-metrics-instrumentation-jvm/.../JvmMemoryMetrics.java and
 * JvmRuntimeInfoMetric.java; the 0.x names are in simpleclient_hotspot's
 * MemoryPoolsExports.java and VersionInfoExports.java. Names that both
 * write alike (jvm_gc_collection_seconds, jvm_threads_*, jvm_buffer_pool_*,
 * jvm_classes_*_total, jvm_memory_pool_allocated_bytes_total, process_*)
 * need no alias. jvm_compilation_time_ms_total (old 0.x) and
 * jvm_compilation_time_seconds_total differ in unit, so they are not
 * aliased. */
static const struct alias {
	const char *from, *to;
	unsigned char from_len, to_len;
} aliases[] = {
#define A(f, t) {f, t, sizeof f - 1, sizeof t - 1}
	/* client_java 1.x / JMX exporter >= 1.0 */
	A("jvm_memory_used_bytes", "jvm_memory_bytes_used"),
	A("jvm_memory_committed_bytes", "jvm_memory_bytes_committed"),
	A("jvm_memory_max_bytes", "jvm_memory_bytes_max"),
	A("jvm_memory_init_bytes", "jvm_memory_bytes_init"),
	A("jvm_memory_pool_used_bytes", "jvm_memory_pool_bytes_used"),
	A("jvm_memory_pool_committed_bytes", "jvm_memory_pool_bytes_committed"),
	A("jvm_memory_pool_max_bytes", "jvm_memory_pool_bytes_max"),
	A("jvm_memory_pool_init_bytes", "jvm_memory_pool_bytes_init"),
	A("jvm_runtime_info", "jvm_info"),
	/* earlier simpleclient_hotspot spellings of what 0.16 and 1.x both
	 * write (ClassLoadingExports.java, MemoryPoolsExports.java history) */
	A("jvm_classes_loaded", "jvm_classes_currently_loaded"),
	A("jvm_memory_pool_collection_bytes_used", "jvm_memory_pool_collection_used_bytes"),
	A("jvm_memory_pool_collection_bytes_committed", "jvm_memory_pool_collection_committed_bytes"),
	A("jvm_memory_pool_collection_bytes_max", "jvm_memory_pool_collection_max_bytes"),
	A("jvm_memory_pool_collection_bytes_init", "jvm_memory_pool_collection_init_bytes"),
#undef A
};

const char *promtext_canonical_name(const char *name, size_t len, size_t *out_len)
{
	if (len > 4 && memcmp(name, "jvm_", 4) == 0) {
		for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
			const struct alias *a = &aliases[i];

			if (a->from_len == len && memcmp(a->from, name, len) == 0) {
				if (out_len)
					*out_len = a->to_len;
				return a->to;
			}
		}
	}
	if (out_len)
		*out_len = len;
	return name;
}

size_t promtext_format_value(char *buf, size_t len, double v)
{
	char tmp[40];
	int n;

	if (isnan(v)) {
		n = snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		n = snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (v == trunc(v) && fabs(v) <= 9007199254740992.0) {
		/* Every integer up to 2^53 is exact, so print it whole. */
		n = snprintf(buf, len, "%.0f", v);
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof tmp, "%.*g", prec, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
		n = snprintf(buf, len, "%s", tmp);
	}
	return n < 0 ? 0 : (size_t)n;
}
