/* SPDX-License-Identifier: Apache-2.0 */
/* Durations as policies and flags write them: Prometheus style ("500ms",
 * "30s", "5m", "1h", "1h30m"; units ms s m h d w y), kept in milliseconds. */
#ifndef PT_DURATION_H
#define PT_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The longest duration: what fits in Prometheus' int64 nanoseconds (about
 * 292 years), so that anything accepted here is a valid Prometheus duration. */
#define DURATION_MAX_MS 9223372036854ULL

/* Parse len bytes of s as prometheus/common model.ParseDuration does:
 * one or more <digits><unit> groups, units y w d h m s ms (y = 365d,
 * w = 7d) strictly from largest to smallest, no sign, no spaces, no
 * fractions. "0s" and a bare "0" are valid. Fails with PT_SYNTAX naming the
 * input and the reason, or PT_RANGE above DURATION_MAX_MS, leaving *ms
 * untouched. */
enum pt_code duration_parse(const char *s, size_t len, uint64_t *ms, struct pt_error *e) PT_WUR;

/* Format ms as Prometheus' Duration.String does: the largest units first,
 * years and weeks only when exact ("1m30s", "500ms", "90d", "2w", "0s").
 * The result parses back to ms. Writes at most len bytes (truncating) into
 * buf, which is returned. */
const char *duration_format(uint64_t ms, char *buf, size_t len);

#endif
