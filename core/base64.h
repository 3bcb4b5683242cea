/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648 §4, padded), the form Go's encoding/json uses
 * for []byte: the apiserver decodes an AdmissionResponse patch with it. */
#ifndef PT_BASE64_H
#define PT_BASE64_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Append the encoding of n bytes of p to out. */
enum pt_code base64_encode(struct buf *out, const void *p, size_t n) PT_WUR;

/* Decode n characters of s into out (whitespace is skipped). Bad
 * characters or padding are PT_SYNTAX; out is then restored. */
enum pt_code base64_decode(struct buf *out, const char *s, size_t n) PT_WUR;

#endif
