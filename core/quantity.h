/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes resource.Quantity (k8s.io/apimachinery/pkg/api/resource),
 * parsed exactly: the same grammar, the same rejections, and values kept to
 * the nano unit with rounding up, as apimachinery does. */
#ifndef PT_QUANTITY_H
#define PT_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A quantity as an exact count of nano-units (10^-9 of the base unit). */
struct quantity {
	__int128 nano;
};

/* Parse s (len bytes, no NUL needed). On success fills *out. On failure
 * returns PT_SYNTAX (not a quantity: message names the input, e.g.
 * "quantity '1 Gi' is not valid: unexpected character ' ' at offset 1") or
 * PT_RANGE (magnitude of 2^127 nano-units or more, or an exponent beyond
 * 32 bits), and leaves *out untouched.
 * Exactly as apimachinery: digits below nano round away from zero
 * ("3.001n" -> 4n, "-0.1n" -> -1n); binary suffixes cap at 2^63-1 units
 * ("9Ei"); non-canonical forms parse ("+1", "5.", ".5", "1.G", "1E" = exa);
 * and so do its digit-less forms, as 0 ("+", "-", ".", "e3", "Ki"), except
 * where it rejects them too ("e-10", "Pi", "Ei"). */
enum pt_code quantity_parse(const char *s, size_t len, struct quantity *out, struct pt_error *e) PT_WUR;

/* resource.Quantity.Value(): whole units, rounded away from zero (up for
 * the non-negative values Kubernetes allows); saturates at INT64_MAX /
 * INT64_MIN where apimachinery overflows. */
int64_t quantity_value(const struct quantity *q);

/* resource.Quantity.MilliValue(): milli-units, rounded as quantity_value;
 * saturating. */
int64_t quantity_milli(const struct quantity *q);

#endif
