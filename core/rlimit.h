/* SPDX-License-Identifier: Apache-2.0 */
/* rlimit specs as policies write them and the webhook records them:
 * "65536" (soft = hard), "65536:1048576" (soft:hard), "unlimited", or
 * "1024:unlimited", for the resources named as ulimit/docker name them
 * (nofile, nproc, memlock, core, stack, ...). */
#ifndef PT_RLIMIT_H
#define PT_RLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RLIMIT_SPEC_INFINITY UINT64_MAX

struct rlimit_spec {
	int resource;  /* RLIMIT_NOFILE, ... */
	uint64_t soft; /* RLIMIT_SPEC_INFINITY for "unlimited" */
	uint64_t hard;
};

/* Map a name ("nofile") to RLIMIT_*. Returns -1 for an unknown name. */
int rlimit_resource(const char *name);

/* The name of an RLIMIT_* value, or NULL. */
const char *rlimit_name(int resource);

/* Parse "soft[:hard]" for the named resource into *out. soft > hard, a
 * negative or non-numeric value, or an unknown name is PT_INVALID with a
 * message naming it; *out is left untouched. */
enum pt_code rlimit_parse(const char *name, const char *spec, struct rlimit_spec *out, struct pt_error *e) PT_WUR;

/* Format a spec back to "soft:hard" ("unlimited" where infinite). */
const char *rlimit_format(const struct rlimit_spec *r, char *buf, size_t len);

#endif
