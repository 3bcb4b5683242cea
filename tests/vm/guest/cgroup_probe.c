/* SPDX-License-Identifier: Apache-2.0 */
/* Real-kernel check of rebalancer/cgroup.c, run inside the test VM against
 * the kubelet layout that tests/vm/cgroup_guest.sh builds: paths resolve,
 * every stat file parses, writes are verified, and the errno values the
 * kernel really returns land in the classes the agent acts on. The unit
 * test injects those errors; this proves they are the kernel's.
 *
 *   cgroup_probe EXPECT      (CGROUP_ROOT overrides /sys/fs/cgroup)
 *
 * EXPECT has one container per line:
 *   KIND QOS_CLASS POD_UID CONTAINER_ID PATH CPU_WEIGHT MEMORY_MAX
 * KIND: plain (all files there), nocpu (pod slice without +cpu),
 * throttled (ran past its cpu.max), gone (removed by this program). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "../../../rebalancer/cgroup.h"
#include "../../unit/test.h"

#define PROBE_ROWS_MAX 32
#define PROBE_LINE_MAX 1024

struct row {
	char kind[16], qos[16], uid[80], id[80], path[CGROUP_PATH_MAX], weight[24], memmax[24];
};

static struct row rows[PROBE_ROWS_MAX];
static int nrows;
static const char *root = CGROUP_ROOT_DEFAULT;

static void load(const char *file)
{
	char line[PROBE_LINE_MAX];
	FILE *f = fopen(file, "r");

	if (!f) {
		fprintf(stderr, "cannot open '%s': %s\n", file, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof line, f) && nrows < PROBE_ROWS_MAX) {
		struct row *r = &rows[nrows];

		if (sscanf(line, "%15s %15s %79s %79s %511s %23s %23s", r->kind, r->qos, r->uid, r->id, r->path,
			   r->weight, r->memmax) == 7)
			nrows++;
	}
	fclose(f);
	if (nrows == 0) {
		fprintf(stderr, "no containers in '%s'\n", file);
		exit(2);
	}
}

static const struct row *find(const char *kind)
{
	for (int i = 0; i < nrows; i++)
		if (strcmp(rows[i].kind, kind) == 0)
			return &rows[i];
	TFAIL("no '%s' container in the expect file", kind);
	return NULL;
}

/* The file's text up to its first newline, as the kernel shows it now. */
static const char *kernel_value(const char *dir, const char *file, char *buf, size_t len)
{
	char p[CGROUP_PATH_MAX + 32];
	ssize_t n;
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, file);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return "(cannot open)";
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return "(cannot read)";
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* One write(2) of text, as the kernel sees a shell's echo; the errno. */
static int raw_write(const char *dir, const char *file, const char *text)
{
	char p[CGROUP_PATH_MAX + 32];
	int fd, err = 0;

	snprintf(p, sizeof p, "%s/%s", dir, file);
	fd = open(p, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, text, strlen(text)) < 0)
		err = errno;
	close(fd);
	return err;
}

static uint64_t u64(const char *s)
{
	return strcmp(s, "max") == 0 ? CGROUP_UNLIMITED : strtoull(s, NULL, 10);
}

static void test_driver(void)
{
	enum cgroup_driver d = CGROUP_DRIVER_AUTO;
	struct pt_error e;

	CHECK_INT(cgroup_driver_detect(root, &d, &e), PT_OK);
	CHECK_INT(d, CGROUP_DRIVER_SYSTEMD);
}

/* Every container resolves to the scope the layout made, from the same
 * UID, QoS class and containerID the PodList carries. */
static void test_resolve(void)
{
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		struct cgroup_container c;
		enum cgroup_form form = CGROUP_FORM_SCAN;
		enum cgroup_qos q = CGROUP_QOS_BESTEFFORT;
		char cid[96], path[CGROUP_PATH_MAX] = "";
		struct pt_error e = {0};

		snprintf(cid, sizeof cid, "containerd://%s", r->id);
		CHECK_INT(cgroup_qos_parse(r->qos, &q, &e), PT_OK);
		if (cgroup_container_parse(&c, r->uid, q, cid, &e) != PT_OK) {
			TFAIL("cannot parse container '%s': %s", cid, e.msg);
			continue;
		}
		if (cgroup_resolve(root, CGROUP_DRIVER_AUTO, &c, path, sizeof path, &form, &e) != PT_OK) {
			TFAIL("cannot resolve '%s': %s", r->path, e.msg);
			continue;
		}
		CHECK_STR(path, r->path);
		CHECK_INT(form, CGROUP_FORM_SYSTEMD);
	}
}

static void test_not_found(void)
{
	struct cgroup_container c;
	char path[CGROUP_PATH_MAX] = "unchanged";
	struct pt_error e = {0};
	const struct row *r = find("plain");

	if (!r)
		return;
	CHECK_INT(cgroup_container_parse(&c, r->uid, CGROUP_QOS_BURSTABLE,
					 "containerd://0000000000000000000000000000000000000000000000000000000000000000",
					 &e),
		  PT_OK);
	CHECK_INT(cgroup_resolve(root, CGROUP_DRIVER_AUTO, &c, path, sizeof path, NULL, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cri-containerd-0000000000000000000000000000000000000000000000000000000000000000.scope");
	CHECK_STR(path, "unchanged");
}

/* All nine files read and parse, with the values the runtime wrote. */
static void test_read(void)
{
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		struct cgroup cg;
		struct cgroup_stats st;
		struct pt_error e = {0};

		if (strcmp(r->kind, "plain") != 0 && strcmp(r->kind, "throttled") != 0)
			continue;
		if (cgroup_open(&cg, r->path, &e) != PT_OK) {
			TFAIL("cannot open '%s': %s", r->path, e.msg);
			continue;
		}
		if (cgroup_read(&cg, CGROUP_ALL, 0, &st, &e) != PT_OK)
			TFAIL("cannot read '%s': %s", r->path, e.msg);
		CHECK_INT(st.valid, CGROUP_ALL);
		CHECK_INT(st.cpu_weight, u64(r->weight));
		CHECK_INT(st.memory_max, u64(r->memmax));
		CHECK(st.memory_high == CGROUP_UNLIMITED);
		CHECK(st.memory_current < st.memory_max || st.memory_max == CGROUP_UNLIMITED);
		/* "full" for cpu exists in cgroups since Linux 5.13. */
		CHECK(st.cpu_pressure.has_full && st.memory_pressure.has_full && st.io_pressure.has_full);
		if (strcmp(r->kind, "throttled") == 0) {
			CHECK(st.cpu.usage_usec > 0);
			CHECK(st.cpu.nr_periods > 0);
			CHECK(st.cpu.nr_throttled > 0);
			CHECK(st.cpu.throttled_usec > 0);
			CHECK(st.cpu_pressure.some.total_usec > 0);
			fprintf(stderr, "  throttled: usage_usec=%llu nr_periods=%llu nr_throttled=%llu "
					"throttled_usec=%llu cpu.pressure some total=%llu\n",
				(unsigned long long)st.cpu.usage_usec, (unsigned long long)st.cpu.nr_periods,
				(unsigned long long)st.cpu.nr_throttled, (unsigned long long)st.cpu.throttled_usec,
				(unsigned long long)st.cpu_pressure.some.total_usec);
		}
		/* A second read on the kept descriptors sees the same files. */
		CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 1, &st, &e), PT_OK);
		CHECK_INT(cg.f[CGROUP_CPU_STAT].reads, 2);
		cgroup_release(&cg);
	}
}

static void test_write(void)
{
	const struct row *r = find("plain");
	struct cgroup cg;
	struct pt_error e = {0};
	uint64_t applied = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned long writes;
	char buf[64];

	if (!r || cgroup_open(&cg, r->path, &e) != PT_OK) {
		TFAIL("cannot open the plain container");
		return;
	}
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 250, 0, &applied, &e), PT_OK);
	CHECK_INT(applied, 250);
	CHECK_STR(kernel_value(r->path, "cpu.weight", buf, sizeof buf), "250");

	/* Not page-aligned: written rounded down, so the read-back matches. */
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 100 * 1048576 + 4095, 0, &applied, &e), PT_OK);
	CHECK_INT(applied, 100 * 1048576 - 100 * 1048576 % page);
	CHECK_STR(kernel_value(r->path, "memory.high", buf, sizeof buf), "104857600");
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, CGROUP_UNLIMITED, 0, &applied, &e), PT_OK);
	CHECK_STR(kernel_value(r->path, "memory.high", buf, sizeof buf), "max");

	/* Out-of-range values never reach the kernel. */
	writes = cg.f[CGROUP_CPU_WEIGHT].writes;
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 0, 0, NULL, &e), PT_RANGE);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 10001, 0, NULL, &e), PT_RANGE);
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 4095, 0, NULL, &e), PT_RANGE);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, writes);

	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, u64(r->weight), 0, NULL, &e), PT_OK);
	CHECK_STR(kernel_value(r->path, "cpu.weight", buf, sizeof buf), r->weight);
	cgroup_release(&cg);
}

/* What the kernel answers to bad values, and the class each lands in:
 * the facts behind cgroup_classify's table (DESIGN §5). */
static void test_kernel_errors(void)
{
	static const struct {
		const char *file, *text;
		int err;
	} cases[] = {
		{"cpu.weight", "0\n", ERANGE},        {"cpu.weight", "10001\n", ERANGE},
		{"cpu.weight", "abc\n", EINVAL},      {"cpu.weight", " 50\n", EINVAL},
		{"cpu.weight", "50\n\n", EINVAL},     {"cpu.weight", "-1\n", EINVAL},
		{"memory.high", "1.5G\n", EINVAL},    {"memory.high", "-1\n", EINVAL},
		{"memory.max", "abc\n", EINVAL},
	};
	const struct row *r = find("plain");
	char buf[64];

	if (!r)
		return;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int err = raw_write(r->path, cases[i].file, cases[i].text);

		if (err != cases[i].err)
			TFAIL("writing '%.*s' to '%s': got %s, want %s", (int)strcspn(cases[i].text, "\n"),
			      cases[i].text, cases[i].file, pt_errno_name(err), pt_errno_name(cases[i].err));
		CHECK_INT(cgroup_classify(err), CGROUP_CLASS_UNSUPPORTED);
	}
	/* The kernel kept the old values through all of that. */
	CHECK_STR(kernel_value(r->path, "cpu.weight", buf, sizeof buf), r->weight);
	CHECK_STR(kernel_value(r->path, "memory.high", buf, sizeof buf), "max");
}

/* A pod slice without +cpu: the container has no cpu.* files. The agent
 * must call that unsupported (not gone) and back off, not retry per tick. */
static void test_missing_controller(void)
{
	const struct row *r = find("nocpu");
	struct cgroup cg;
	struct cgroup_stats st;
	struct pt_error e = {0};
	unsigned long writes;

	if (!r || cgroup_open(&cg, r->path, &e) != PT_OK) {
		TFAIL("cannot open the nocpu container");
		return;
	}
	CHECK(cgroup_read(&cg, CGROUP_ALL, 0, &st, &e) != PT_OK);
	CHECK_INT(e.sys_errno, ENOENT);
	CHECK(!(st.valid & CGROUP_BIT(CGROUP_CPU_WEIGHT)));
	CHECK(st.valid & CGROUP_BIT(CGROUP_MEMORY_CURRENT));
	CHECK(st.valid & CGROUP_BIT(CGROUP_CPU_STAT)); /* cpu.stat is core, not the controller's */
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].read_backoff.last, CGROUP_CLASS_UNSUPPORTED);
	CHECK(!cg.gone);

	CHECK(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 200, 0, NULL, &e) != PT_OK);
	CHECK_CONTAINS(e.msg, "cannot write '200' to 'cpu.weight'");
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].write_backoff.last, CGROUP_CLASS_UNSUPPORTED);
	writes = cg.f[CGROUP_CPU_WEIGHT].writes;
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 200, 1000, NULL, &e), PT_AGAIN);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, writes);
	CHECK(!cg.gone);
	cgroup_release(&cg);
}

/* A container removed under open descriptors: PT_GONE, and no more calls. */
static void test_gone(void)
{
	const struct row *r = find("gone");
	struct cgroup cg;
	struct cgroup_stats st;
	struct pt_error e = {0};
	unsigned long writes;

	if (!r || cgroup_open(&cg, r->path, &e) != PT_OK) {
		TFAIL("cannot open the gone container");
		return;
	}
	CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 0, &st, &e), PT_OK);
	if (rmdir(r->path) != 0) {
		TFAIL("cannot remove '%s': %s", r->path, strerror(errno));
		cgroup_release(&cg);
		return;
	}
	CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 1, &st, &e), PT_GONE);
	/* kernfs answers a read on a removed file with ENODEV (fs/kernfs/file.c). */
	CHECK_INT(e.sys_errno, ENODEV);
	CHECK(cg.gone);
	writes = cg.f[CGROUP_CPU_WEIGHT].writes;
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 100, 2, NULL, &e), PT_GONE);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, writes);
	cgroup_release(&cg);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: cgroup_probe EXPECT\n");
		return 2;
	}
	if (getenv("CGROUP_ROOT"))
		root = getenv("CGROUP_ROOT");
	load(argv[1]);
	RUN(test_driver);
	RUN(test_resolve);
	RUN(test_not_found);
	RUN(test_read);
	RUN(test_write);
	RUN(test_kernel_errors);
	RUN(test_missing_controller);
	RUN(test_gone);
	fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}
