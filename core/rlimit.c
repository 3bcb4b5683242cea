/* SPDX-License-Identifier: Apache-2.0 */
/* rlimit specs: "soft[:hard]" with decimal values or "unlimited", for the
 * resources as `ulimit` and docker (go-units ulimitNameMapping) name them.
 * A parsed spec always has soft <= hard, both fitting rlim_t. */
#include "rlimit.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* How much of a spec or name an error message quotes. */
#define RLIMIT_MSG_SHOW 64

static const struct {
	const char *name;
	int resource;
} names[] = {
	{"nofile", RLIMIT_NOFILE},
	{"nproc", RLIMIT_NPROC},
	{"memlock", RLIMIT_MEMLOCK},
	{"core", RLIMIT_CORE},
	{"stack", RLIMIT_STACK},
	/* go-units comments "as" out ("doesn't seem usable with the way Docker
	 * inits a container"); the agent's prlimit(2) is another matter */
	{"as", RLIMIT_AS},
	{"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},
	{"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},
	{"msgqueue", RLIMIT_MSGQUEUE},
	{"nice", RLIMIT_NICE},
	{"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},
	{"sigpending", RLIMIT_SIGPENDING},
};

#define NNAMES (sizeof names / sizeof names[0])

/* The largest finite value: one below RLIM_INFINITY, which a number must
 * not spell by accident ("unlimited" is the way to ask for it). */
#define RLIMIT_MAX_FINITE ((uint64_t)RLIM_INFINITY - 1)

_Static_assert((uint64_t)(rlim_t)-1 == (uint64_t)RLIM_INFINITY,
	       "RLIM_INFINITY is rlim_t's maximum");
_Static_assert(sizeof(rlim_t) <= sizeof(uint64_t), "rlim_t fits uint64_t");

int rlimit_resource(const char *name)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].resource;
	return -1;
}

const char *rlimit_name(int resource)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (names[i].resource == resource)
			return names[i].name;
	return NULL;
}

/* Parse one value from p up to end: decimal digits or "unlimited". Returns
 * NULL on success, else the reason. */
static const char *parse_value(const char *p, const char *end, uint64_t *out)
{
	static const char unl[] = "unlimited";
	uint64_t v = 0;

	if (p == end)
		return "a value is empty";
	if ((size_t)(end - p) == sizeof unl - 1 && memcmp(p, unl, sizeof unl - 1) == 0) {
		*out = RLIMIT_SPEC_INFINITY;
		return NULL;
	}
	if (*p == '-')
		return "a value is negative";
	for (; p < end; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (*p < '0' || *p > '9')
			return "a value is neither a number nor 'unlimited'";
		if (v > (RLIMIT_MAX_FINITE - d) / 10)
			return "a value does not fit in rlim_t (use 'unlimited')";
		v = v * 10 + d;
	}
	*out = v;
	return NULL;
}

static int show(const char *s)
{
	size_t n = strlen(s);

	return (int)(n > RLIMIT_MSG_SHOW ? RLIMIT_MSG_SHOW : n);
}

enum pt_code rlimit_parse(const char *name, const char *spec, struct rlimit_spec *out,
			  struct pt_error *e)
{
	const char *colon, *end = spec + strlen(spec), *why;
	uint64_t soft = 0, hard = 0;
	int res = rlimit_resource(name);

	if (res < 0)
		return pt_error_set(e, PT_INVALID,
				    "rlimit '%.*s' is not known (want nofile, nproc, memlock, core, stack, "
				    "as, cpu, data, fsize, locks, msgqueue, nice, rss, rtprio, rttime or "
				    "sigpending)",
				    show(name), name);
	colon = memchr(spec, ':', (size_t)(end - spec));
	if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
		why = "it has more than one ':'";
	} else {
		why = parse_value(spec, colon ? colon : end, &soft);
		hard = soft;
		if (!why && colon)
			why = parse_value(colon + 1, end, &hard);
	}
	if (!why && soft > hard)
		why = "the soft limit is above the hard limit";
	if (why)
		return pt_error_set(e, PT_INVALID,
				    "rlimit '%s' spec '%.*s%s' is not valid: %s (want 'soft[:hard]', each "
				    "a number or 'unlimited')",
				    name, show(spec), spec, strlen(spec) > RLIMIT_MSG_SHOW ? "..." : "", why);
	out->resource = res;
	out->soft = soft;
	out->hard = hard;
	return PT_OK;
}

static int put_value(char *buf, size_t len, uint64_t v)
{
	if (v == RLIMIT_SPEC_INFINITY)
		return snprintf(buf, len, "unlimited");
	return snprintf(buf, len, "%llu", (unsigned long long)v);
}

const char *rlimit_format(const struct rlimit_spec *r, char *buf, size_t len)
{
	char soft[24], hard[24];

	put_value(soft, sizeof soft, r->soft);
	put_value(hard, sizeof hard, r->hard);
	if (len)
		snprintf(buf, len, "%s:%s", soft, hard);
	return buf;
}
