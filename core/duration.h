/* SPDX-License-Identifier: Apache-2.0 */
/* Durations as policies and flags write them: Prometheus style ("500ms",
 * "30s", "5m", "1h", "1h30m"; units ms s m h d), kept in milliseconds. */
#ifndef PT_DURATION_H
#define PT_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Parse len bytes of s. Requires at least one <digits><unit> group, units in
 * decreasing order, no sign, no spaces, no fractions. "0s" is valid.
 * Fails with PT_SYNTAX naming the input, or PT_RANGE on overflow, leaving
 * *ms untouched. */
enum pt_code duration_parse(const char *s, size_t len, uint64_t *ms, struct pt_error *e) PT_WUR;

/* Format ms as the shortest exact form ("1m30s", "500ms", "0s") into buf. */
const char *duration_format(uint64_t ms, char *buf, size_t len);

#endif
