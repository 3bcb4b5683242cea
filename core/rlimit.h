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

/* Map a name ("nofile") to RLIMIT_*. Returns -1 for an unknown name.
 * Names: nofile nproc memlock core stack as cpu data fsize locks msgqueue
 * nice rss rtprio rttime sigpending. */
int rlimit_resource(const char *name);

/* The name of an RLIMIT_* value (a static string), or NULL. */
const char *rlimit_name(int resource);

/* Parse "soft[:hard]" for the named resource into *out; each value is
 * decimal digits (at most RLIM_INFINITY - 1) or "unlimited", and a lone
 * value sets both. soft > hard, a negative, empty, non-numeric or too large
 * value, or an unknown name is PT_INVALID with a message naming the
 * resource and the spec; *out is left untouched. Both strings are
 * borrowed. Kernel ceilings (fs.nr_open for nofile) are the applier's to
 * meet, not checked here. */
enum pt_code rlimit_parse(const char *name, const char *spec, struct rlimit_spec *out, struct pt_error *e) PT_WUR;

/* Format a spec back to "soft:hard" ("unlimited" where infinite) into buf
 * (truncating to len), which is returned. The result parses back. */
const char *rlimit_format(const struct rlimit_spec *r, char *buf, size_t len);

#endif
