/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648 section 4, with padding), the encoding that
 * Kubernetes uses for []byte fields: Secret data, caBundle, the kubeconfig's
 * *-data fields and an AdmissionReview's patch. Pure functions, no I/O. */
#ifndef PT_BASE64_H
#define PT_BASE64_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* The encoded length of n bytes, padding included (0 on overflow). */
size_t base64_encoded_len(size_t n);

/* Append the encoding of n bytes of p to out. PT_LIMIT or PT_NOMEM leave
 * out as it was. */
enum pt_code base64_encode(struct buf *out, const void *p, size_t n) PT_WUR;

/* Append the decoding of len bytes of s to out. Whitespace (space, tab, CR,
 * LF) is skipped, since hand-written kubeconfigs wrap lines. Padding may be
 * left out at the very end (Go's StdEncoding insists on it; accepting more
 * than Go does costs nothing here). Any other character, data after
 * padding or a dangling single character gives PT_SYNTAX naming the byte
 * offset, and out is left as it was. what names the input in messages. */
enum pt_code base64_decode(struct buf *out, const char *s, size_t len, const char *what,
			   struct pt_error *e) PT_WUR;

#endif
