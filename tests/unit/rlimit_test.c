/* SPDX-License-Identifier: Apache-2.0 */
/* rlimit names, spec parsing and formatting. */
#include "../../core/rlimit.h"
#include "test.h"

#include <sys/resource.h>

#define OK(name, spec, want_soft, want_hard)                                            \
	do {                                                                            \
		struct rlimit_spec r_ = {0};                                            \
		struct pt_error e_ = {0};                                               \
		enum pt_code rc_ = rlimit_parse(name, spec, &r_, &e_);                  \
		CHECK_INT(rc_, PT_OK);                                                  \
		if (rc_ != PT_OK)                                                       \
			fprintf(stderr, "  %s=%s: %s\n", name, spec, e_.msg);           \
		CHECK_INT(r_.resource, rlimit_resource(name));                          \
		CHECK(r_.soft == (uint64_t)(want_soft));                                \
		CHECK(r_.hard == (uint64_t)(want_hard));                                \
	} while (0)

#define BAD(name, spec, want)                                                           \
	do {                                                                            \
		struct rlimit_spec r_ = {.resource = 77, .soft = 1, .hard = 2};         \
		struct pt_error e_ = {0};                                               \
		CHECK_INT(rlimit_parse(name, spec, &r_, &e_), PT_INVALID);              \
		CHECK_STR(e_.msg, want);                                                \
		CHECK(r_.resource == 77 && r_.soft == 1 && r_.hard == 2);               \
		CHECK_INT(rlimit_parse(name, spec, &r_, NULL), PT_INVALID);             \
	} while (0)

#define WANT_TAIL " (want 'soft[:hard]', each a number or 'unlimited')"

static void test_names(void)
{
	static const struct {
		const char *name;
		int res;
	} t[] = {
		{"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"memlock", RLIMIT_MEMLOCK},
		{"core", RLIMIT_CORE}, {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
		{"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA}, {"fsize", RLIMIT_FSIZE},
		{"locks", RLIMIT_LOCKS}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
		{"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME},
		{"sigpending", RLIMIT_SIGPENDING},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		CHECK_INT(rlimit_resource(t[i].name), t[i].res);
		CHECK_STR(rlimit_name(t[i].res), t[i].name);
	}
	/* every kernel resource below RLIM_NLIMITS has a name */
	CHECK_INT(sizeof t / sizeof t[0], RLIM_NLIMITS);
	CHECK_INT(rlimit_resource("NOFILE"), -1);
	CHECK_INT(rlimit_resource("RLIMIT_NOFILE"), -1);
	CHECK_INT(rlimit_resource("nofile "), -1);
	CHECK_INT(rlimit_resource(""), -1);
	CHECK_INT(rlimit_resource("openfiles"), -1);
	CHECK(rlimit_name(-1) == NULL);
	CHECK(rlimit_name(RLIM_NLIMITS) == NULL);
}

static void test_parse(void)
{
	OK("nofile", "65536", 65536, 65536);
	OK("nofile", "65536:1048576", 65536, 1048576);
	OK("nofile", "1024:unlimited", 1024, RLIMIT_SPEC_INFINITY);
	OK("core", "unlimited", RLIMIT_SPEC_INFINITY, RLIMIT_SPEC_INFINITY);
	OK("core", "unlimited:unlimited", RLIMIT_SPEC_INFINITY, RLIMIT_SPEC_INFINITY);
	OK("core", "0", 0, 0);
	OK("core", "0:0", 0, 0);
	OK("stack", "8388608:unlimited", 8388608, RLIMIT_SPEC_INFINITY);
	OK("nproc", "007", 7, 7);
	OK("memlock", "18446744073709551614", 18446744073709551614ULL, 18446744073709551614ULL);
	OK("nice", "10:20", 10, 20);
	OK("rtprio", "5:5", 5, 5);
}

static void test_reject(void)
{
	BAD("nofile", "2048:1024",
	    "rlimit 'nofile' spec '2048:1024' is not valid: the soft limit is above the hard limit"
	    WANT_TAIL);
	BAD("nofile", "unlimited:1024",
	    "rlimit 'nofile' spec 'unlimited:1024' is not valid: the soft limit is above the hard "
	    "limit" WANT_TAIL);
	BAD("nofile", "-1", "rlimit 'nofile' spec '-1' is not valid: a value is negative" WANT_TAIL);
	BAD("nofile", "1:-1", "rlimit 'nofile' spec '1:-1' is not valid: a value is negative" WANT_TAIL);
	BAD("nofile", "", "rlimit 'nofile' spec '' is not valid: a value is empty" WANT_TAIL);
	BAD("nofile", ":", "rlimit 'nofile' spec ':' is not valid: a value is empty" WANT_TAIL);
	BAD("nofile", "1024:", "rlimit 'nofile' spec '1024:' is not valid: a value is empty" WANT_TAIL);
	BAD("nofile", ":1024", "rlimit 'nofile' spec ':1024' is not valid: a value is empty" WANT_TAIL);
	BAD("nofile", "1:2:3", "rlimit 'nofile' spec '1:2:3' is not valid: it has more than one ':'"
	    WANT_TAIL);
	BAD("nofile", "64k",
	    "rlimit 'nofile' spec '64k' is not valid: a value is neither a number nor 'unlimited'"
	    WANT_TAIL);
	BAD("nofile", " 1024", "rlimit 'nofile' spec ' 1024' is not valid: a value is neither a "
	    "number nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "1024 ", "rlimit 'nofile' spec '1024 ' is not valid: a value is neither a "
	    "number nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "+1024", "rlimit 'nofile' spec '+1024' is not valid: a value is neither a "
	    "number nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "1.5", "rlimit 'nofile' spec '1.5' is not valid: a value is neither a number "
	    "nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "Unlimited", "rlimit 'nofile' spec 'Unlimited' is not valid: a value is "
	    "neither a number nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "infinity", "rlimit 'nofile' spec 'infinity' is not valid: a value is "
	    "neither a number nor 'unlimited'" WANT_TAIL);
	BAD("nofile", "18446744073709551615",
	    "rlimit 'nofile' spec '18446744073709551615' is not valid: a value does not fit in "
	    "rlim_t (use 'unlimited')" WANT_TAIL);
	BAD("nofile", "1:99999999999999999999999",
	    "rlimit 'nofile' spec '1:99999999999999999999999' is not valid: a value does not fit in "
	    "rlim_t (use 'unlimited')" WANT_TAIL);
	BAD("openfiles", "1024",
	    "rlimit 'openfiles' is not known (want nofile, nproc, memlock, core, stack, as, cpu, "
	    "data, fsize, locks, msgqueue, nice, rss, rtprio, rttime or sigpending)");
	BAD("", "1024", "rlimit '' is not known (want nofile, nproc, memlock, core, stack, as, cpu, "
	    "data, fsize, locks, msgqueue, nice, rss, rtprio, rttime or sigpending)");
	{
		static char big[1000];
		struct rlimit_spec r;
		struct pt_error e;

		memset(big, '9', sizeof big - 1);
		CHECK_INT(rlimit_parse("nofile", big, &r, &e), PT_INVALID);
		CHECK_CONTAINS(e.msg, "999...' is not valid: a value does not fit in rlim_t");
		CHECK(strlen(e.msg) < 300);
	}
}

static void test_format(void)
{
	static const char *const specs[] = {"65536", "65536:1048576", "unlimited", "1024:unlimited",
					    "0", "18446744073709551614"};
	static const char *const want[] = {"65536:65536", "65536:1048576", "unlimited:unlimited",
					   "1024:unlimited", "0:0",
					   "18446744073709551614:18446744073709551614"};
	char buf[64];

	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		struct rlimit_spec r, back;

		CHECK_INT(rlimit_parse("nofile", specs[i], &r, NULL), PT_OK);
		CHECK_STR(rlimit_format(&r, buf, sizeof buf), want[i]);
		/* the output parses back to the same spec */
		CHECK_INT(rlimit_parse("nofile", buf, &back, NULL), PT_OK);
		CHECK(back.soft == r.soft && back.hard == r.hard);
	}
	{
		struct rlimit_spec r = {RLIMIT_NOFILE, 1024, 4096};

		CHECK_STR(rlimit_format(&r, buf, 6), "1024:");
		CHECK(rlimit_format(&r, buf, 0) == buf);
	}
}

TEST_MAIN(test_names, test_parse, test_reject, test_format)
