/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 encode/decode into capped buffers. Decoding validates every
 * character and never writes into out unless the whole input is valid. */
#include "base64.h"

#include <stdint.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return 0;
	return (n + 2) / 3 * 4;
}

enum pt_code base64_encode(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t need = base64_encoded_len(n), i;
	enum pt_code rc;
	char *d;

	if (n && !need)
		return PT_LIMIT;
	if ((rc = buf_reserve(out, need)))
		return rc;
	d = out->data + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = alphabet[v >> 6 & 63];
		*d++ = alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);

		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*d++ = '=';
	}
	out->len += need;
	out->data[out->len] = '\0';
	return PT_OK;
}

static int value_of(unsigned char c)
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

enum pt_code base64_decode(struct buf *out, const char *s, size_t len, const char *what,
			   struct pt_error *e)
{
	size_t start = out->len, i, pad = 0, ndig = 0;
	uint32_t acc = 0;
	enum pt_code rc;

	/* The decoded size is at most 3/4 of the input: reserve once, so the
	 * loop cannot fail half-way. */
	if ((rc = buf_reserve(out, len / 4 * 3 + 3)))
		return pt_error_set(e, rc, "cannot decode %s: %zu bytes of base64 exceed the limit",
				    what, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = value_of(c)) < 0) {
			out->len = start;
			out->data[start] = '\0';
			if (c > 0x20 && c < 0x7f)
				return pt_error_set(e, PT_SYNTAX,
						    "invalid base64 in %s: unexpected '%c' at byte %zu",
						    what, (char)c, i);
			return pt_error_set(e, PT_SYNTAX,
					    "invalid base64 in %s: unexpected byte 0x%02x at byte %zu",
					    what, c, i);
		}
		acc = acc << 6 | (uint32_t)v;
		if (++ndig == 4) {
			out->data[out->len++] = (char)(acc >> 16);
			out->data[out->len++] = (char)(acc >> 8);
			out->data[out->len++] = (char)acc;
			acc = 0;
			ndig = 0;
		}
	}
	/* A group of 1 digit carries no whole byte; more than 2 '=' or padding
	 * that does not complete the last group is malformed. */
	if (ndig == 1 || pad > 2 || (pad && ndig + pad != 4)) {
		out->len = start;
		out->data[start] = '\0';
		return pt_error_set(e, PT_SYNTAX, "invalid base64 in %s: truncated input (%zu bytes)",
				    what, len);
	}
	if (ndig == 2) {
		out->data[out->len++] = (char)(acc >> 4);
	} else if (ndig == 3) {
		out->data[out->len++] = (char)(acc >> 10);
		out->data[out->len++] = (char)(acc >> 2);
	}
	out->data[out->len] = '\0';
	return PT_OK;
}
