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
 * "quantity '1 Gi' is not valid: ...") or PT_RANGE (too large to
 * represent), and leaves *out untouched. */
enum pt_code quantity_parse(const char *s, size_t len, struct quantity *out, struct pt_error *e) PT_WUR;

/* resource.Quantity.Value(): whole units, rounded up (toward +inf);
 * saturates at INT64_MAX / INT64_MIN. */
int64_t quantity_value(const struct quantity *q);

/* resource.Quantity.MilliValue(): milli-units, rounded up; saturating. */
int64_t quantity_milli(const struct quantity *q);

#endif
