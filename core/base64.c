/* SPDX-License-Identifier: Apache-2.0 */
/* base64 with a table, writing straight into the output buffer. */
#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum pt_code base64_encode(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t olen = (n + 2) / 3 * 4, i;
	enum pt_code rc;
	char *d;

	if ((rc = buf_reserve(out, olen)))
		return rc;
	d = out->data + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[(v >> 12) & 63];
		*d++ = alphabet[(v >> 6) & 63];
		*d++ = alphabet[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[(v >> 12) & 63];
		*d++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		*d++ = '=';
	}
	out->len += olen;
	out->data[out->len] = '\0';
	return PT_OK;
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

enum pt_code base64_decode(struct buf *out, const char *s, size_t n)
{
	size_t start = out->len, pad = 0, k = 0;
	unsigned acc = 0;
	enum pt_code rc;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = value_of(c)) < 0)
			goto bad;
		acc = acc << 6 | (unsigned)v;
		if (++k % 4 == 0) {
			char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
			if ((rc = buf_append(out, b, 3)))
				goto fail;
		}
	}
	if (pad > 2 || (k + pad) % 4 != 0 || (k % 4 == 1))
		goto bad;
	if (k % 4 == 2) {
		char b = (char)(acc >> 4);
		if ((rc = buf_append(out, &b, 1)))
			goto fail;
	} else if (k % 4 == 3) {
		char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
		if ((rc = buf_append(out, b, 2)))
			goto fail;
	}
	return PT_OK;
bad:
	rc = PT_SYNTAX;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return rc;
}
