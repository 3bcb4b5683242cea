/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup module: paths for every driver, runtime, QoS class and runwasi's
 * flat form; parsers on the kernel's real formats; reads and verified
 * writes against fake cgroupfs trees in a temp dir; error classes and the
 * back-off schedule. Kernel errors (EINVAL, EBUSY, ENODEV, ...) are
 * injected by defining write() and pread() here: the test binary's own
 * definitions take precedence over libc's for the library linked into it,
 * so production code carries no test hook. */
#undef _FORTIFY_SOURCE /* the fortified pread is an inline that could not be replaced */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../rebalancer/cgroup.h"
#include "test.h"

/* ---- injection ---------------------------------------------------------- */

struct inject {
	const char *suffix; /* path suffix of the descriptors affected; NULL: off */
	int err;            /* errno to fail with, 0: none */
	int times;          /* failures left; -1: forever */
	const char *replace; /* write: write this instead and claim success */
	unsigned calls;     /* calls on matching descriptors */
	char last[64];      /* write: the bytes of the last call */
	size_t last_len;
};

static struct inject inj_write, inj_pread;

static bool fd_matches(int fd, const char *suffix)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	size_t sl = strlen(suffix);

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return false;
	path[n] = '\0';
	return (size_t)n >= sl && strcmp(path + n - sl, suffix) == 0;
}

static bool inject_hit(struct inject *in, int fd)
{
	if (!in->suffix || !fd_matches(fd, in->suffix))
		return false;
	in->calls++;
	return true;
}

static bool inject_fail(struct inject *in)
{
	if (!in->err || in->times == 0)
		return false;
	if (in->times > 0)
		in->times--;
	errno = in->err;
	return true;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (inject_hit(&inj_write, fd)) {
		inj_write.last_len = n < sizeof inj_write.last ? n : sizeof inj_write.last - 1;
		memcpy(inj_write.last, buf, inj_write.last_len);
		inj_write.last[inj_write.last_len] = '\0';
		if (inject_fail(&inj_write))
			return -1;
		if (inj_write.replace) {
			if (syscall(SYS_write, fd, inj_write.replace, strlen(inj_write.replace)) < 0)
				return -1;
			return (ssize_t)n;
		}
	}
	return syscall(SYS_write, fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (inject_hit(&inj_pread, fd) && inject_fail(&inj_pread))
		return -1;
	return syscall(SYS_pread64, fd, buf, n, off);
}

static void inject_off(void)
{
	memset(&inj_write, 0, sizeof inj_write);
	memset(&inj_pread, 0, sizeof inj_pread);
}

/* ---- fake trees --------------------------------------------------------- */

#define UID "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f1"
#define UID_ "0f1e2d3c_4b5a_4978_8695_a4b3c2d1e0f1"
#define ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmp_root[64];

static void make_root(void)
{
	test_mkdtemp(tmp_root, sizeof tmp_root, "pt-cgroup");
}

static void mkdir_p(const char *fmt, ...)
{
	char p[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof p, fmt, ap);
	va_end(ap);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w"); /* truncates in place: same inode, as a kernfs file */
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write '%s'\n", p);
		exit(2);
	}
}

static char *get(const char *dir, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return test_slurp(p, NULL);
}

/* Files as a 6.1 kernel shows them (DESIGN.md §5, tools/vm sample output,
 * containerd-shim-spin#180 for cpu.stat). */
#define CPU_STAT                                                                                  \
	"usage_usec 25442435\nuser_usec 13538017\nsystem_usec 11904418\n"                         \
	"core_sched.force_idle_usec 0\nnr_periods 43128\nnr_throttled 130\n"                      \
	"throttled_usec 11639387\nnr_bursts 0\nburst_usec 0\n"
#define MEM_EVENTS "low 0\nhigh 462\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
#define CPU_PSI                                                                                   \
	"some avg10=35.05 avg60=7.57 avg300=1.63 total=4963693\n"                                 \
	"full avg10=35.05 avg60=7.57 avg300=1.63 total=4963693\n"
#define ZERO_PSI                                                                                  \
	"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"                                        \
	"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"

static void fill_container(const char *dir)
{
	put(dir, "cpu.weight", "100\n");
	put(dir, "cpu.stat", CPU_STAT);
	put(dir, "memory.current", "68157440\n");
	put(dir, "memory.max", "max\n");
	put(dir, "memory.high", "67108864\n");
	put(dir, "memory.events", MEM_EVENTS);
	put(dir, "cpu.pressure", CPU_PSI);
	put(dir, "memory.pressure", ZERO_PSI);
	put(dir, "io.pressure", ZERO_PSI);
}

static struct cgroup_container ctr(enum cgroup_qos q, const char *cid)
{
	struct cgroup_container c;
	struct pt_error e = {0};

	if (cgroup_container_parse(&c, UID, q, cid, &e) != PT_OK) {
		fprintf(stderr, "container: %s\n", e.msg);
		exit(2);
	}
	return c;
}

/* ---- containers and paths ----------------------------------------------- */

static void test_qos_parse(void)
{
	enum cgroup_qos q = CGROUP_QOS_GUARANTEED;
	struct pt_error e = {0};

	CHECK_INT(cgroup_qos_parse("Burstable", &q, &e), PT_OK);
	CHECK_INT(q, CGROUP_QOS_BURSTABLE);
	CHECK_INT(cgroup_qos_parse("BestEffort", &q, &e), PT_OK);
	CHECK_INT(q, CGROUP_QOS_BESTEFFORT);
	CHECK_INT(cgroup_qos_parse("guaranteed", &q, &e), PT_OK);
	CHECK_INT(q, CGROUP_QOS_GUARANTEED);
	CHECK_INT(cgroup_qos_parse("Best-Effort", &q, &e), PT_INVALID);
	CHECK_STR(e.msg, "unknown QoS class 'Best-Effort' (want Guaranteed, Burstable or BestEffort)");
	CHECK_INT(q, CGROUP_QOS_GUARANTEED);
	CHECK_INT(cgroup_qos_parse(NULL, &q, &e), PT_INVALID);
}

static void test_container_parse(void)
{
	struct cgroup_container c;
	struct pt_error e = {0};

	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_OK);
	CHECK_INT(c.runtime, CGROUP_RUNTIME_CONTAINERD);
	CHECK_STR(c.uid, UID);
	CHECK_STR(c.id, ID);
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, "cri-o://" ID2, &e), PT_OK);
	CHECK_INT(c.runtime, CGROUP_RUNTIME_CRIO);
	CHECK_STR(c.id, ID2);
	CHECK_INT(cgroup_container_parse(&c, "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F1", CGROUP_QOS_GUARANTEED,
					 "docker://" ID, &e), PT_OK);
	CHECK_INT(c.runtime, CGROUP_RUNTIME_DOCKER);
	CHECK_STR(c.uid, UID);
	/* A static pod's UID is a bare hash (kubernetes#106514 shows one). */
	CHECK_INT(cgroup_container_parse(&c, "36b6d6be73b1065af369b3985edafa09", CGROUP_QOS_BURSTABLE,
					 "containerd://" ID, &e), PT_OK);

	memset(&c, 0x5a, sizeof c);
	/* Traversal and other junk must never reach a path. */
	CHECK_INT(cgroup_container_parse(&c, "../../etc", CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_INVALID);
	CHECK_STR(e.msg, "pod UID '../../etc' has a character other than [0-9a-f-] at 1");
	CHECK_INT(cgroup_container_parse(&c, UID "/x", CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, "", CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_INVALID);
	CHECK_STR(e.msg, "empty pod UID");
	CHECK_INT(cgroup_container_parse(&c, NULL, CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, UID UID, CGROUP_QOS_BURSTABLE, "containerd://" ID, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "is longer than 64 characters");
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, "containerd://../../../../etc/passwd", &e),
		  PT_INVALID);
	CHECK_STR(e.msg, "container ID 'containerd://../../../../etc/passwd' is not 64 hex digits after the prefix");
	{
		char trav[13 + 64 + 1] = "containerd://";

		for (int i = 0; i < 21; i++)
			memcpy(trav + 13 + 3 * i, "../", 3);
		trav[13 + 63] = 'a';
		trav[13 + 64] = '\0';
		CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, trav, &e), PT_INVALID);
		CHECK_CONTAINS(e.msg, "has a character other than [0-9a-f] at 14");
	}
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, "containerd://" ID "a", &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE,
					 "containerd://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					 &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, ID, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "has no known runtime prefix");
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, "rkt://" ID, &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, UID, CGROUP_QOS_BURSTABLE, NULL, &e), PT_INVALID);
	CHECK_INT(cgroup_container_parse(&c, UID, (enum cgroup_qos)7, "containerd://" ID, &e), PT_INVALID);
	CHECK_INT((unsigned char)c.uid[0], 0x5a); /* untouched on failure */
}

static void check_path(enum cgroup_form form, enum cgroup_qos q, const char *cid, const char *want)
{
	struct cgroup_container c = ctr(q, cid);
	struct pt_error e = {0};
	char out[CGROUP_PATH_MAX];

	CHECK_INT(cgroup_path_build("/sys/fs/cgroup", form, &c, out, sizeof out, &e), PT_OK);
	CHECK_STR(out, want);
}

static void test_path_build(void)
{
	struct cgroup_container c = ctr(CGROUP_QOS_BURSTABLE, "cri-o://" ID);
	struct pt_error e = {0};
	char out[CGROUP_PATH_MAX], small[40], root[600];

	/* systemd driver, UID '-' -> '_' */
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_BURSTABLE, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/cri-containerd-" ID ".scope");
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_BESTEFFORT, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		   ".slice/cri-containerd-" ID ".scope");
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_GUARANTEED, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope");
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_BURSTABLE, "cri-o://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/crio-" ID ".scope");
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_GUARANTEED, "cri-o://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope");
	check_path(CGROUP_FORM_SYSTEMD, CGROUP_QOS_BESTEFFORT, "docker://" ID,
		   "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		   ".slice/docker-" ID ".scope");
	/* cgroupfs driver, UID as is */
	check_path(CGROUP_FORM_CGROUPFS, CGROUP_QOS_BURSTABLE, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods/burstable/pod" UID "/" ID);
	check_path(CGROUP_FORM_CGROUPFS, CGROUP_QOS_BESTEFFORT, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods/besteffort/pod" UID "/" ID);
	check_path(CGROUP_FORM_CGROUPFS, CGROUP_QOS_GUARANTEED, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods/pod" UID "/" ID);
	check_path(CGROUP_FORM_CGROUPFS, CGROUP_QOS_BURSTABLE, "cri-o://" ID,
		   "/sys/fs/cgroup/kubepods/burstable/pod" UID "/crio-" ID);
	check_path(CGROUP_FORM_CGROUPFS, CGROUP_QOS_GUARANTEED, "cri-o://" ID,
		   "/sys/fs/cgroup/kubepods/pod" UID "/crio-" ID);
	/* runwasi's flat form */
	check_path(CGROUP_FORM_FLAT, CGROUP_QOS_BESTEFFORT, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods-besteffort-pod" UID_ ".slice:cri-containerd:" ID);
	check_path(CGROUP_FORM_FLAT, CGROUP_QOS_BURSTABLE, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods-burstable-pod" UID_ ".slice:cri-containerd:" ID);
	check_path(CGROUP_FORM_FLAT, CGROUP_QOS_GUARANTEED, "containerd://" ID,
		   "/sys/fs/cgroup/kubepods-pod" UID_ ".slice:cri-containerd:" ID);

	/* A trailing slash on the root is not doubled. */
	CHECK_INT(cgroup_path_build("/tmp/x//", CGROUP_FORM_CGROUPFS, &c, out, sizeof out, &e), PT_OK);
	CHECK_STR(out, "/tmp/x/kubepods/burstable/pod" UID "/crio-" ID);
	CHECK_INT(cgroup_path_build("/", CGROUP_FORM_CGROUPFS, &c, out, sizeof out, &e), PT_OK);
	CHECK_STR(out, "/kubepods/burstable/pod" UID "/crio-" ID);

	snprintf(small, sizeof small, "untouched");
	CHECK_INT(cgroup_path_build("/sys/fs/cgroup", CGROUP_FORM_FLAT, &c, small, sizeof small, &e), PT_INVALID);
	CHECK_STR(e.msg, "the flat cgroup form exists for containerd only");
	CHECK_INT(cgroup_path_build("/sys/fs/cgroup", CGROUP_FORM_SCAN, &c, small, sizeof small, &e), PT_INVALID);
	CHECK_INT(cgroup_path_build("/sys/fs/cgroup", CGROUP_FORM_SYSTEMD, &c, small, sizeof small, &e), PT_LIMIT);
	CHECK_STR(small, "untouched");
	CHECK_INT(cgroup_path_build("", CGROUP_FORM_SYSTEMD, &c, out, sizeof out, &e), PT_INVALID);
	memset(root, 'r', sizeof root - 1);
	root[0] = '/';
	root[sizeof root - 1] = '\0';
	CHECK_INT(cgroup_path_build(root, CGROUP_FORM_SYSTEMD, &c, out, sizeof out, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "is longer than 511 bytes");
}

static void test_driver_detect(void)
{
	enum cgroup_driver d = CGROUP_DRIVER_AUTO;
	struct pt_error e = {0};
	char p[PATH_MAX];

	make_root();
	CHECK_INT(cgroup_driver_detect(tmp_root, &d, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "neither 'kubepods.slice' nor 'kubepods' is a directory in '/tmp/pt-cgroup.");
	CHECK_INT(d, CGROUP_DRIVER_AUTO);
	/* A regular file of that name is no tree. */
	put(tmp_root, "kubepods", "");
	CHECK_INT(cgroup_driver_detect(tmp_root, &d, &e), PT_NOTFOUND);
	snprintf(p, sizeof p, "%s/kubepods", tmp_root);
	unlink(p);
	mkdir_p("%s/kubepods", tmp_root);
	CHECK_INT(cgroup_driver_detect(tmp_root, &d, &e), PT_OK);
	CHECK_INT(d, CGROUP_DRIVER_CGROUPFS);
	mkdir_p("%s/kubepods.slice", tmp_root);
	CHECK_INT(cgroup_driver_detect(tmp_root, &d, &e), PT_OK);
	CHECK_INT(d, CGROUP_DRIVER_SYSTEMD);
	CHECK_INT(cgroup_driver_detect("", &d, &e), PT_INVALID);
	test_rm_rf(tmp_root);
}

static void check_resolve(enum cgroup_driver d, const struct cgroup_container *c, const char *want,
			  enum cgroup_form want_form)
{
	enum cgroup_form form = (enum cgroup_form)-1;
	struct pt_error e = {0};
	char out[CGROUP_PATH_MAX] = "";
	enum pt_code rc = cgroup_resolve(tmp_root, d, c, out, sizeof out, &form, &e);

	CHECK_INT(rc, PT_OK);
	if (rc)
		fprintf(stderr, "    %s\n", e.msg);
	CHECK_STR(out + strlen(tmp_root), want);
	CHECK_INT(form, want_form);
}

static void test_resolve(void)
{
	struct cgroup_container b = ctr(CGROUP_QOS_BURSTABLE, "containerd://" ID);
	struct cgroup_container g = ctr(CGROUP_QOS_GUARANTEED, "cri-o://" ID2);
	struct cgroup_container be = ctr(CGROUP_QOS_BESTEFFORT, "containerd://" ID2);
	struct cgroup_container w = ctr(CGROUP_QOS_BESTEFFORT, "containerd://" ID);
	struct pt_error e = {0};
	char out[CGROUP_PATH_MAX] = "untouched";
	enum cgroup_form form = CGROUP_FORM_SCAN;

	make_root();
	/* systemd tree */
	mkdir_p("%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		".slice/cri-containerd-" ID ".scope", tmp_root);
	mkdir_p("%s/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID2 ".scope", tmp_root);
	check_resolve(CGROUP_DRIVER_AUTO, &b, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		      ".slice/cri-containerd-" ID ".scope", CGROUP_FORM_SYSTEMD);
	check_resolve(CGROUP_DRIVER_SYSTEMD, &g, "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID2 ".scope",
		      CGROUP_FORM_SYSTEMD);

	/* Not there: the message names the first path tried; outputs untouched. */
	CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &be, out, sizeof out, &form, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot find the cgroup of container '" ID2 "' of pod '" UID "': '");
	CHECK_CONTAINS(e.msg, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		       ".slice/cri-containerd-" ID2 ".scope' does not exist");
	CHECK_STR(out, "untouched");
	CHECK_INT(form, CGROUP_FORM_SCAN);

	/* The fallback search: an unexpected scope name in the pod slice,
	 * next to CRI-O's conmon scope, which must not be taken. */
	mkdir_p("%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		".slice/crio-conmon-" ID2 ".scope", tmp_root);
	CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &be, out, sizeof out, &form, &e), PT_NOTFOUND);
	mkdir_p("%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		".slice/runc-wasm-" ID2 ".scope", tmp_root);
	mkdir_p("%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		".slice/z-" ID2 ".scope", tmp_root);
	put(tmp_root, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/a-" ID2, "");
	check_resolve(CGROUP_DRIVER_AUTO, &be, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		      ".slice/runc-wasm-" ID2 ".scope", CGROUP_FORM_SCAN);

	/* runwasi's flat directory at the root */
	mkdir_p("%s/kubepods-besteffort-pod" UID_ ".slice:cri-containerd:" ID, tmp_root);
	check_resolve(CGROUP_DRIVER_AUTO, &w, "/kubepods-besteffort-pod" UID_ ".slice:cri-containerd:" ID,
		      CGROUP_FORM_FLAT);
	check_resolve(CGROUP_DRIVER_CGROUPFS, &w, "/kubepods-besteffort-pod" UID_ ".slice:cri-containerd:" ID,
		      CGROUP_FORM_FLAT);

	/* cgroupfs tree next to the systemd one: AUTO tries both. */
	mkdir_p("%s/kubepods/burstable/pod" UID "/" ID2, tmp_root);
	mkdir_p("%s/kubepods/pod" UID "/crio-" ID, tmp_root);
	{
		struct cgroup_container b2 = ctr(CGROUP_QOS_BURSTABLE, "containerd://" ID2);
		struct cgroup_container g2 = ctr(CGROUP_QOS_GUARANTEED, "cri-o://" ID);

		check_resolve(CGROUP_DRIVER_AUTO, &b2, "/kubepods/burstable/pod" UID "/" ID2, CGROUP_FORM_CGROUPFS);
		check_resolve(CGROUP_DRIVER_CGROUPFS, &g2, "/kubepods/pod" UID "/crio-" ID, CGROUP_FORM_CGROUPFS);
		/* An explicit driver looks in its own tree only. */
		CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_SYSTEMD, &g2, out, sizeof out, NULL, &e),
			  PT_NOTFOUND);
	}
	/* A cgroupfs pod dir searched as a fallback. */
	mkdir_p("%s/kubepods/burstable/pod" UID "/odd-" ID "-x", tmp_root);
	{
		struct cgroup_container c3;

		CHECK_INT(cgroup_container_parse(&c3, UID, CGROUP_QOS_BURSTABLE, "docker://" ID, &e), PT_OK);
		/* docker's systemd scope is absent and the flat form is for containerd only. */
		check_resolve(CGROUP_DRIVER_CGROUPFS, &c3, "/kubepods/burstable/pod" UID "/odd-" ID "-x",
			      CGROUP_FORM_SCAN);
	}
	/* Too small an output buffer is PT_LIMIT, not a truncated path. */
	CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &b, out, 20, NULL, &e), PT_LIMIT);
	CHECK_INT(cgroup_resolve(tmp_root, (enum cgroup_driver)9, &b, out, sizeof out, NULL, &e), PT_INVALID);
	test_rm_rf(tmp_root);

	/* No kubepods tree at all. */
	make_root();
	CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &g, out, sizeof out, NULL, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "no kubepods tree in '/tmp/pt-cgroup.");
	test_rm_rf(tmp_root);
}

/* ---- parsers ------------------------------------------------------------ */

static void test_parse_single(void)
{
	struct pt_error e = {0};
	uint64_t v = 7;

	CHECK_INT(cgroup_parse_u64("100\n", 4, &v, &e), PT_OK);
	CHECK_INT(v, 100);
	CHECK_INT(cgroup_parse_u64("18446744073709551615\n", 21, &v, &e), PT_OK);
	CHECK(v == UINT64_MAX);
	v = 7;
	CHECK_INT(cgroup_parse_u64("18446744073709551616\n", 21, &v, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_u64("100", 3, &v, &e), PT_SYNTAX); /* short read: no newline */
	CHECK_INT(cgroup_parse_u64("100\n\n", 5, &v, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_u64(" 50\n", 4, &v, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected a number and a newline at ' 50'");
	CHECK_INT(cgroup_parse_u64("50x\n", 4, &v, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_u64("-1\n", 3, &v, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_u64("", 0, &v, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected a number and a newline: unexpected end of data");
	CHECK_INT(cgroup_parse_u64("max\n", 4, &v, &e), PT_SYNTAX);
	CHECK_INT(v, 7);
	/* Only len bytes count: no NUL needed, none trusted. */
	CHECK_INT(cgroup_parse_u64("42\nXX", 3, &v, &e), PT_OK);
	CHECK_INT(v, 42);

	CHECK_INT(cgroup_parse_max("max\n", 4, &v, &e), PT_OK);
	CHECK(v == CGROUP_UNLIMITED);
	CHECK_INT(cgroup_parse_max("67108864\n", 9, &v, &e), PT_OK);
	CHECK_INT(v, 67108864);
	CHECK_INT(cgroup_parse_max("max", 3, &v, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_max("maxx\n", 5, &v, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected 'max' or a number and a newline at 'maxx'");
}

static void test_parse_cpu_stat(void)
{
	struct cgroup_cpu_stat s = {0};
	struct pt_error e = {0};
	const char *nocpu = "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n";
	const char *bad = "usage_usec 1\nuser_usec x\n";

	CHECK_INT(cgroup_parse_cpu_stat(CPU_STAT, strlen(CPU_STAT), &s, &e), PT_OK);
	CHECK_INT(s.usage_usec, 25442435);
	CHECK_INT(s.user_usec, 13538017);
	CHECK_INT(s.system_usec, 11904418);
	CHECK_INT(s.nr_periods, 43128);
	CHECK_INT(s.nr_throttled, 130);
	CHECK_INT(s.throttled_usec, 11639387);
	/* Without the cpu controller only the first three lines exist. */
	CHECK_INT(cgroup_parse_cpu_stat(nocpu, strlen(nocpu), &s, &e), PT_OK);
	CHECK_INT(s.usage_usec, 1000);
	CHECK_INT(s.nr_throttled, 0);
	CHECK_INT(cgroup_parse_cpu_stat(bad, strlen(bad), &s, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected 'key value' and a newline at 'user_usec x'");
	CHECK_INT(s.usage_usec, 1000);
	CHECK_INT(cgroup_parse_cpu_stat("user_usec 5\n", 12, &s, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "no 'usage_usec' line");
	CHECK_INT(cgroup_parse_cpu_stat("usage_usec 5", 12, &s, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_cpu_stat("", 0, &s, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_cpu_stat(" 5\n", 3, &s, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_cpu_stat("usage_usec  5\n", 14, &s, &e), PT_SYNTAX);
}

static void test_parse_memory_events(void)
{
	struct cgroup_memory_events m = {0};
	struct pt_error e = {0};
	const char *old = "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\n"; /* before oom_group_kill */

	CHECK_INT(cgroup_parse_memory_events(MEM_EVENTS, strlen(MEM_EVENTS), &m, &e), PT_OK);
	CHECK_INT(m.high, 462);
	CHECK_INT(m.oom_kill, 0);
	CHECK_INT(cgroup_parse_memory_events(old, strlen(old), &m, &e), PT_OK);
	CHECK_INT(m.low, 1);
	CHECK_INT(m.high, 2);
	CHECK_INT(m.max, 3);
	CHECK_INT(m.oom, 4);
	CHECK_INT(m.oom_kill, 5);
	CHECK_INT(cgroup_parse_memory_events("low 0\nhigh 1\n", 13, &m, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "no 'max' line");
	CHECK_INT(m.high, 2);
}

static void test_parse_psi(void)
{
	struct cgroup_psi p;
	struct pt_error e = {0};
	const char *some_only = "some avg10=4.48 avg60=8.08 avg300=2.55 total=8667969\n";
	const char *bad_avg = "some avg10=1 avg60=2 total=3\n";
	const char *twice = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
			    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
	const char *junk = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nhalf avg10=1\n";

	memset(&p, 0, sizeof p);
	CHECK_INT(cgroup_parse_psi(CPU_PSI, strlen(CPU_PSI), &p, &e), PT_OK);
	CHECK_DBL(p.some.avg10, 35.05, 1e-9);
	CHECK_DBL(p.some.avg60, 7.57, 1e-9);
	CHECK_DBL(p.some.avg300, 1.63, 1e-9);
	CHECK_INT(p.some.total_usec, 4963693);
	CHECK(p.has_full);
	CHECK_INT(p.full.total_usec, 4963693);
	CHECK_INT(cgroup_parse_psi(some_only, strlen(some_only), &p, &e), PT_OK);
	CHECK(!p.has_full);
	CHECK_DBL(p.some.avg60, 8.08, 1e-9);
	CHECK_INT(p.some.total_usec, 8667969);
	CHECK_INT(cgroup_parse_psi(bad_avg, strlen(bad_avg), &p, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected 'avg10=N avg60=N avg300=N total=N' at 'some avg10=1 avg60=2 total=3'");
	CHECK_INT(cgroup_parse_psi(twice, strlen(twice), &p, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "repeated line");
	CHECK_INT(cgroup_parse_psi(junk, strlen(junk), &p, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "expected 'some' or 'full' at 'half avg10=1'");
	{
		const char *full_only = "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

		CHECK_INT(cgroup_parse_psi(full_only, strlen(full_only), &p, &e), PT_SYNTAX);
	}
	CHECK_STR(e.msg, "no 'some' line");
	CHECK_INT(cgroup_parse_psi("some avg10=1. avg60=0 avg300=0 total=0\n", 39, &p, &e), PT_SYNTAX);
	CHECK_INT(cgroup_parse_psi("", 0, &p, &e), PT_SYNTAX);
	CHECK_INT(p.some.total_usec, 8667969); /* untouched on failure */
}

/* ---- reading ------------------------------------------------------------ */

#define SD_DIR "%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope"

static void open_fake(struct cgroup *cg, char *dir, size_t len)
{
	struct cgroup_container c = ctr(CGROUP_QOS_BURSTABLE, "containerd://" ID);
	struct pt_error e = {0};

	make_root();
	mkdir_p(SD_DIR, tmp_root);
	snprintf(dir, len, SD_DIR, tmp_root);
	fill_container(dir);
	if (cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &c, dir, len, NULL, &e) != PT_OK ||
	    cgroup_open(cg, dir, &e) != PT_OK) {
		fprintf(stderr, "open_fake: %s\n", e.msg);
		exit(2);
	}
}

static void test_read(void)
{
	struct cgroup cg;
	struct cgroup_stats s;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX];

	open_fake(&cg, dir, sizeof dir);
	CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 0, &s, &e), PT_OK);
	CHECK_INT(s.valid, CGROUP_ALL);
	CHECK_INT(s.cpu_weight, 100);
	CHECK_INT(s.cpu.usage_usec, 25442435);
	CHECK_INT(s.cpu.throttled_usec, 11639387);
	CHECK_INT(s.memory_current, 68157440);
	CHECK(s.memory_max == CGROUP_UNLIMITED);
	CHECK_INT(s.memory_high, 67108864);
	CHECK_INT(s.memory_events.high, 462);
	CHECK_DBL(s.cpu_pressure.some.avg10, 35.05, 1e-9);
	CHECK(s.io_pressure.has_full);

	/* Only what the mask asks for is read; descriptors stay open and
	 * the next pread at offset 0 sees the new contents. */
	put(dir, "cpu.weight", "250\n");
	put(dir, "memory.current", "1000000000\n");
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT), 1000, &s, &e), PT_OK);
	CHECK_INT(s.valid, CGROUP_BIT(CGROUP_CPU_WEIGHT));
	CHECK_INT(s.cpu_weight, 250);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].reads, 2);
	CHECK_INT(cg.f[CGROUP_MEMORY_CURRENT].reads, 1);
	CHECK(cg.f[CGROUP_CPU_WEIGHT].fd >= 0);
	{
		int fd = cg.f[CGROUP_MEMORY_CURRENT].fd;

		CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_MEMORY_CURRENT), 2000, &s, &e), PT_OK);
		CHECK_INT(s.memory_current, 1000000000);
		CHECK_INT(cg.f[CGROUP_MEMORY_CURRENT].fd, fd); /* no re-open */
	}
	cgroup_release(&cg);
	cgroup_release(&cg); /* twice is fine */
	CHECK_INT(cg.dirfd, -1);
	test_rm_rf(tmp_root);
}

static void test_read_failures(void)
{
	struct cgroup cg;
	struct cgroup_stats s;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX], p[PATH_MAX];
	unsigned mask = CGROUP_BIT(CGROUP_MEMORY_HIGH) | CGROUP_BIT(CGROUP_CPU_STAT) | CGROUP_BIT(CGROUP_CPU_WEIGHT);

	open_fake(&cg, dir, sizeof dir);
	/* No memory controller for this cgroup: the file does not exist. */
	snprintf(p, sizeof p, "%s/memory.high", dir);
	unlink(p);
	put(dir, "cpu.stat", "usage_usec 12\nuser_usec oops\n");
	CHECK_INT(cgroup_read(&cg, mask, 0, &s, &e), PT_SYNTAX);
	CHECK_INT(s.valid, CGROUP_BIT(CGROUP_CPU_WEIGHT)); /* the rest is still read */
	CHECK_INT(s.cpu_weight, 100);
	CHECK_STR(e.msg + strlen(e.msg) - strlen("': expected 'key value' and a newline at 'user_usec oops'"),
		  "': expected 'key value' and a newline at 'user_usec oops'");
	CHECK_CONTAINS(e.msg, "cannot parse 'cpu.stat' in '/tmp/pt-cgroup.");
	CHECK_INT(cg.f[CGROUP_CPU_STAT].read_backoff.last, CGROUP_CLASS_FAILED);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].read_backoff.last, CGROUP_CLASS_UNSUPPORTED);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].read_backoff.next_ms, 60000);
	CHECK(!cg.gone);

	/* For the next minute neither file is touched: no system call. */
	for (int64_t t = 1000; t < 60000; t += 1000) {
		CHECK_INT(cgroup_read(&cg, mask, t, &s, &e), PT_OK);
		CHECK_INT(s.valid, CGROUP_BIT(CGROUP_CPU_WEIGHT));
	}
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].reads, 1);
	CHECK_INT(cg.f[CGROUP_CPU_STAT].reads, 1);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].reads, 60);

	/* At one minute both are probed again: cpu.stat is fixed now,
	 * memory.high still missing (and waits two minutes next). */
	put(dir, "cpu.stat", CPU_STAT);
	CHECK_INT(cgroup_read(&cg, mask, 60000, &s, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot open 'memory.high' in '/tmp/pt-cgroup.");
	CHECK_CONTAINS(e.msg, "': No such file or directory (ENOENT)");
	CHECK_INT(s.valid, CGROUP_BIT(CGROUP_CPU_WEIGHT) | CGROUP_BIT(CGROUP_CPU_STAT));
	CHECK_INT(cg.f[CGROUP_CPU_STAT].read_backoff.failures, 0);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].read_backoff.failures, 2);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].read_backoff.next_ms, 180000);

	/* A file bigger than the limit. */
	{
		char big[CGROUP_READ_MAX + 10];

		memset(big, '1', sizeof big - 2);
		big[sizeof big - 2] = '\n';
		big[sizeof big - 1] = '\0';
		put(dir, "memory.current", big);
		CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_MEMORY_CURRENT), 61000, &s, &e), PT_LIMIT);
		CHECK_CONTAINS(e.msg, "'memory.current' in '/tmp/pt-cgroup.");
		CHECK_CONTAINS(e.msg, "' holds 4096 bytes or more");
	}

	/* EINVAL from the kernel on read: unsupported, the descriptor is dropped. */
	inj_pread = (struct inject){.suffix = "/cpu.weight", .err = EINVAL, .times = 1};
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT), 62000, &s, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "cannot read 'cpu.weight' in '/tmp/pt-cgroup.");
	CHECK_CONTAINS(e.msg, "': Invalid argument (EINVAL)");
	CHECK_INT(inj_pread.calls, 1);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].fd, -1);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].read_backoff.last, CGROUP_CLASS_UNSUPPORTED);
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT), 122000, &s, &e), PT_OK);
	CHECK_INT(s.cpu_weight, 100);
	inject_off();

	/* A file that is a directory. */
	snprintf(p, sizeof p, "%s/io.pressure", dir);
	unlink(p);
	mkdir(p, 0755);
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_IO_PRESSURE), 0, &s, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "(EISDIR)");
	CHECK_INT(cg.f[CGROUP_IO_PRESSURE].read_backoff.last, CGROUP_CLASS_FAILED);
	cgroup_release(&cg);
	test_rm_rf(tmp_root);
}

static void test_gone_mid_read(void)
{
	struct cgroup cg;
	struct cgroup_stats s;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX];

	/* The directory is removed between two reads: the descriptors that
	 * are open still read (tmpfs keeps unlinked files; kernfs would give
	 * ENODEV, below), the first file opened after it fails, and the
	 * missing directory marks the container gone. */
	open_fake(&cg, dir, sizeof dir);
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT), 0, &s, &e), PT_OK);
	test_rm_rf(tmp_root);
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT) | CGROUP_BIT(CGROUP_MEMORY_CURRENT), 1000, &s, &e),
		  PT_GONE);
	CHECK_INT(e.code, PT_GONE);
	CHECK_CONTAINS(e.msg, "cannot open 'memory.current' in '/tmp/pt-cgroup.");
	CHECK(cg.gone);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].fd, -1); /* descriptors closed at once */
	/* From now on: no system call at all. */
	CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 2000, &s, &e), PT_GONE);
	CHECK_INT(s.valid, 0);
	CHECK_INT(cg.f[CGROUP_CPU_STAT].reads, 0);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 200, 2000, NULL, &e), PT_GONE);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, 0);
	cgroup_release(&cg);

	/* kernfs: pread on a descriptor of a removed cgroup gives ENODEV. */
	open_fake(&cg, dir, sizeof dir);
	inj_pread = (struct inject){.suffix = "/cpu.stat", .err = ENODEV, .times = -1};
	CHECK_INT(cgroup_read(&cg, CGROUP_ALL, 0, &s, &e), PT_GONE);
	CHECK_CONTAINS(e.msg, "cannot read 'cpu.stat' in '/tmp/pt-cgroup.");
	CHECK_CONTAINS(e.msg, "(ENODEV)");
	CHECK(cg.gone);
	CHECK_INT(s.valid, CGROUP_BIT(CGROUP_CPU_WEIGHT)); /* read before cpu.stat */
	inject_off();
	cgroup_release(&cg);
	test_rm_rf(tmp_root);

	/* Opening a directory that is gone. */
	{
		struct cgroup c2;

		CHECK_INT(cgroup_open(&c2, "/tmp/pt-cgroup.does-not-exist/x", &e), PT_NOTFOUND);
		CHECK_STR(e.msg, "cannot open '/tmp/pt-cgroup.does-not-exist/x': No such file or directory (ENOENT)");
		CHECK_INT(c2.dirfd, -1);
		cgroup_release(&c2);
		CHECK_INT(cgroup_open(&c2, "", &e), PT_INVALID);
		cgroup_release(&c2);
	}
}

/* ---- writing ------------------------------------------------------------ */

static void test_value_check(void)
{
	struct pt_error e = {0};
	uint64_t v = 1;

	CHECK_INT(cgroup_value_check(CGROUP_CPU_WEIGHT, 1, 4096, &v, &e), PT_OK);
	CHECK_INT(v, 1);
	CHECK_INT(cgroup_value_check(CGROUP_CPU_WEIGHT, 10000, 4096, &v, &e), PT_OK);
	CHECK_INT(v, 10000);
	CHECK_INT(cgroup_value_check(CGROUP_CPU_WEIGHT, 0, 4096, &v, &e), PT_RANGE);
	CHECK_STR(e.msg, "cpu.weight 0 is outside 1..10000");
	CHECK_INT(cgroup_value_check(CGROUP_CPU_WEIGHT, 10001, 4096, &v, &e), PT_RANGE);
	CHECK_INT(cgroup_value_check(CGROUP_CPU_WEIGHT, CGROUP_UNLIMITED, 4096, &v, &e), PT_RANGE);
	CHECK_INT(v, 10000);

	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 1048577, 4096, &v, &e), PT_OK);
	CHECK_INT(v, 1048576); /* rounded down, as the kernel would */
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 8191, 4096, &v, &e), PT_OK);
	CHECK_INT(v, 4096);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 65536 + 100, 65536, &v, &e), PT_OK);
	CHECK_INT(v, 65536);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, CGROUP_UNLIMITED, 4096, &v, &e), PT_OK);
	CHECK(v == CGROUP_UNLIMITED);
	v = 5;
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 4095, 4096, &v, &e), PT_RANGE);
	CHECK_STR(e.msg, "memory.high 4095 is less than one page (4096 bytes)");
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 0, 4096, &v, &e), PT_RANGE);
	/* LONG_MAX / 4096 pages and above read back as "max". */
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, (uint64_t)LONG_MAX / 4096 * 4096, 4096, &v, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "write max instead");
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, UINT64_MAX - 1, 4096, &v, &e), PT_RANGE);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, ((uint64_t)LONG_MAX / 4096 - 1) * 4096, 4096, &v, &e), PT_OK);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 8192, 0, &v, &e), PT_INVALID);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_HIGH, 8192, 3000, &v, &e), PT_INVALID);
	CHECK_INT(cgroup_value_check(CGROUP_MEMORY_MAX, 8192, 4096, &v, &e), PT_INVALID);
	CHECK_STR(e.msg, "the agent does not write 'memory.max'");
	CHECK_INT(cgroup_value_check(CGROUP_CPU_STAT, 1, 4096, &v, &e), PT_INVALID);
	CHECK_INT(cgroup_value_check((enum cgroup_file)99, 1, 4096, &v, &e), PT_INVALID);
}

static void test_write(void)
{
	struct cgroup cg;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX];
	uint64_t applied = 0;
	char *s;

	open_fake(&cg, dir, sizeof dir);
	inj_write = (struct inject){.suffix = "/cpu.weight"};
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 0, &applied, &e), PT_OK);
	CHECK_INT(applied, 300);
	CHECK_INT(inj_write.calls, 1); /* one write(2) ... */
	CHECK_STR(inj_write.last, "300\n"); /* ... holding "<n>\n" */
	s = get(dir, "cpu.weight");
	CHECK_STR(s, "300\n");
	free(s);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, 1);

	inj_write = (struct inject){.suffix = "/memory.high"};
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 1048577, 0, &applied, &e), PT_OK);
	CHECK_INT(applied, 1048576);
	CHECK_STR(inj_write.last, "1048576\n");
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, CGROUP_UNLIMITED, 0, &applied, &e), PT_OK);
	CHECK(applied == CGROUP_UNLIMITED);
	CHECK_STR(inj_write.last, "max\n");
	s = get(dir, "memory.high");
	CHECK_STR(s, "max\n");
	free(s);

	/* Validation fails before any system call. */
	applied = 7;
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 4095, 0, &applied, &e), PT_RANGE);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 0, 0, &applied, &e), PT_RANGE);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 10001, 0, &applied, &e), PT_RANGE);
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_MAX, 1 << 20, 0, &applied, &e), PT_INVALID);
	CHECK_INT(applied, 7);
	CHECK_INT(inj_write.calls, 2);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, 1);

	/* The kernel took the write but the file says otherwise (someone
	 * else wrote, or it rounded): an error naming both values. */
	inj_write = (struct inject){.suffix = "/cpu.weight", .replace = "300\n"};
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 500, 0, &applied, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "wrote '500' to 'cpu.weight' in '/tmp/pt-cgroup.");
	CHECK_CONTAINS(e.msg, "' but read back '300'");
	CHECK_INT(applied, 7);
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].write_backoff.last, CGROUP_CLASS_FAILED);
	inj_write.replace = "garbage\n";
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 500, 60000, &applied, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "' but read back 'garbage'");
	inject_off();
	cgroup_release(&cg);
	test_rm_rf(tmp_root);
}

static void test_write_cgroupfs(void)
{
	struct cgroup_container c = ctr(CGROUP_QOS_GUARANTEED, "cri-o://" ID2);
	struct cgroup cg;
	struct cgroup_stats s;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX];
	uint64_t applied = 0;

	make_root();
	mkdir_p("%s/kubepods/pod" UID "/crio-" ID2, tmp_root);
	snprintf(dir, sizeof dir, "%s/kubepods/pod" UID "/crio-" ID2, tmp_root);
	fill_container(dir);
	CHECK_INT(cgroup_resolve(tmp_root, CGROUP_DRIVER_AUTO, &c, dir, sizeof dir, NULL, &e), PT_OK);
	CHECK_INT(cgroup_open(&cg, dir, &e), PT_OK);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 39, 0, &applied, &e), PT_OK);
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 128 << 20, 0, &applied, &e), PT_OK);
	CHECK_INT(cgroup_read(&cg, CGROUP_BIT(CGROUP_CPU_WEIGHT) | CGROUP_BIT(CGROUP_MEMORY_HIGH), 0, &s, &e), PT_OK);
	CHECK_INT(s.cpu_weight, 39);
	CHECK_INT(s.memory_high, 128 << 20);
	cgroup_release(&cg);
	test_rm_rf(tmp_root);
}

static void test_write_errors(void)
{
	static const struct {
		int err;
		enum pt_code code;
		enum cgroup_class cls;
		const char *text;
	} cases[] = {
		{EINVAL, PT_INVALID, CGROUP_CLASS_UNSUPPORTED, "Invalid argument (EINVAL)"},
		{ERANGE, PT_RANGE, CGROUP_CLASS_UNSUPPORTED, "(ERANGE)"},
		{EOPNOTSUPP, PT_UNSUPPORTED, CGROUP_CLASS_UNSUPPORTED, "(EOPNOTSUPP)"},
		{EBUSY, PT_BUSY, CGROUP_CLASS_TRANSIENT, "Device or resource busy (EBUSY)"},
		{EAGAIN, PT_AGAIN, CGROUP_CLASS_TRANSIENT, "(EAGAIN)"},
		{EACCES, PT_PERM, CGROUP_CLASS_PERMISSION, "Permission denied (EACCES)"},
		{EPERM, PT_PERM, CGROUP_CLASS_PERMISSION, "(EPERM)"},
		{EROFS, PT_PERM, CGROUP_CLASS_PERMISSION, "Read-only file system (EROFS)"},
		{EIO, PT_IO, CGROUP_CLASS_FAILED, "(EIO)"},
	};
	struct cgroup cg;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX], want[CGROUP_PATH_MAX + 100], p[PATH_MAX];
	uint64_t applied = 0;

	open_fake(&cg, dir, sizeof dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		inj_write = (struct inject){.suffix = "/cpu.weight", .err = cases[i].err, .times = 1};
		cgroup_backoff_ok(&cg.f[CGROUP_CPU_WEIGHT].write_backoff);
		CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 0, &applied, &e), cases[i].code);
		snprintf(want, sizeof want, "cannot write '300' to 'cpu.weight' in '%s': ", dir);
		CHECK_CONTAINS(e.msg, want);
		CHECK_CONTAINS(e.msg, cases[i].text);
		CHECK_INT(e.sys_errno, cases[i].err);
		CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].write_backoff.last, cases[i].cls);
		CHECK(!cg.gone);
	}
	/* The exact message of the conventions. */
	inj_write = (struct inject){.suffix = "/cpu.weight", .err = EINVAL, .times = 1};
	cgroup_backoff_ok(&cg.f[CGROUP_CPU_WEIGHT].write_backoff);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 0, &applied, &e), PT_INVALID);
	snprintf(want, sizeof want, "cannot write '300' to 'cpu.weight' in '%s': Invalid argument (EINVAL)", dir);
	CHECK_STR(e.msg, want);

	/* While backing off: PT_AGAIN and no system call. */
	{
		unsigned long w = cg.f[CGROUP_CPU_WEIGHT].writes;

		CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 59999, &applied, &e), PT_AGAIN);
		CHECK_CONTAINS(e.msg, "not writing 'cpu.weight' in '/tmp/pt-cgroup.");
		CHECK_CONTAINS(e.msg, "': backing off after 1 unsupported failures");
		CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, w);
		/* A success after the wait clears the back-off. */
		inject_off();
		CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 60000, &applied, &e), PT_OK);
		CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, w + 1);
		CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].write_backoff.failures, 0);
	}

	/* ENODEV from a write: the container went away. */
	inj_write = (struct inject){.suffix = "/memory.high", .err = ENODEV, .times = -1};
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 1 << 30, 0, &applied, &e), PT_GONE);
	CHECK(cg.gone);
	inject_off();
	cgroup_release(&cg);
	test_rm_rf(tmp_root);

	/* The file is missing (no memory controller): unsupported, not gone. */
	open_fake(&cg, dir, sizeof dir);
	snprintf(p, sizeof p, "%s/memory.high", dir);
	unlink(p);
	CHECK_INT(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 1 << 30, 0, &applied, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot write '1073741824' to 'memory.high' in '/tmp/pt-cgroup.");
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].write_backoff.last, CGROUP_CLASS_UNSUPPORTED);
	CHECK(!cg.gone);
	/* The file is a directory. */
	snprintf(p, sizeof p, "%s/cpu.weight", dir);
	unlink(p);
	mkdir(p, 0755);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 0, &applied, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "Is a directory (EISDIR)");
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].write_backoff.last, CGROUP_CLASS_FAILED);
	/* The directory is gone: the open fails and so does the stat. */
	test_rm_rf(tmp_root);
	CHECK_INT(cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, 3600000, &applied, &e), PT_GONE);
	CHECK(cg.gone);
	cgroup_release(&cg);
}

/* The koordinator#3217 scenario: a kernel refuses the value, the agent
 * ticks 8 times a second for 10 minutes. Count the write attempts. */
static void test_no_storm(void)
{
	struct cgroup cg;
	struct pt_error e = {0};
	char dir[CGROUP_PATH_MAX];
	unsigned again = 0;

	open_fake(&cg, dir, sizeof dir);
	inj_write = (struct inject){.suffix = "/cpu.weight", .err = EINVAL, .times = -1};
	for (int64_t t = 0; t < 600000; t += 125)
		if (cgroup_write(&cg, CGROUP_CPU_WEIGHT, 300, t, NULL, &e) == PT_AGAIN)
			again++;
	/* Attempts at 0, 1, 3 and 7 minutes: 4 in 4800 ticks. */
	CHECK_INT(cg.f[CGROUP_CPU_WEIGHT].writes, 4);
	CHECK_INT(inj_write.calls, 4);
	CHECK_INT(again, 4800 - 4);

	/* EBUSY: next tick, CGROUP_TRANSIENT_MAX retries, then a minute. */
	cgroup_backoff_ok(&cg.f[CGROUP_MEMORY_HIGH].write_backoff);
	inj_write = (struct inject){.suffix = "/memory.high", .err = EBUSY, .times = -1};
	for (int64_t t = 0; t < 60000; t += 1000)
		CHECK(cgroup_write(&cg, CGROUP_MEMORY_HIGH, 1 << 30, t, NULL, &e) != PT_OK);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].writes, 1 + CGROUP_TRANSIENT_MAX);
	CHECK_INT(cg.f[CGROUP_MEMORY_HIGH].write_backoff.next_ms, 5000 + 60000);
	inject_off();
	cgroup_release(&cg);
	test_rm_rf(tmp_root);
}

/* ---- classes and back-off ----------------------------------------------- */

static void test_classify(void)
{
	CHECK_INT(cgroup_classify(0), CGROUP_CLASS_OK);
	CHECK_INT(cgroup_classify(ENOENT), CGROUP_CLASS_GONE);
	CHECK_INT(cgroup_classify(ENODEV), CGROUP_CLASS_GONE);
	CHECK_INT(cgroup_classify(EINVAL), CGROUP_CLASS_UNSUPPORTED);
	CHECK_INT(cgroup_classify(EOPNOTSUPP), CGROUP_CLASS_UNSUPPORTED);
	CHECK_INT(cgroup_classify(ERANGE), CGROUP_CLASS_UNSUPPORTED);
	CHECK_INT(cgroup_classify(EBUSY), CGROUP_CLASS_TRANSIENT);
	CHECK_INT(cgroup_classify(EAGAIN), CGROUP_CLASS_TRANSIENT);
	CHECK_INT(cgroup_classify(EACCES), CGROUP_CLASS_PERMISSION);
	CHECK_INT(cgroup_classify(EPERM), CGROUP_CLASS_PERMISSION);
	CHECK_INT(cgroup_classify(EROFS), CGROUP_CLASS_PERMISSION);
	CHECK_INT(cgroup_classify(EIO), CGROUP_CLASS_FAILED);
	CHECK_INT(cgroup_classify(ENOSPC), CGROUP_CLASS_FAILED);
	CHECK_STR(cgroup_class_name(CGROUP_CLASS_UNSUPPORTED), "unsupported");
	CHECK_STR(cgroup_class_name((enum cgroup_class)42), "unknown");
	CHECK_STR(cgroup_file_name(CGROUP_IO_PRESSURE), "io.pressure");
	CHECK(cgroup_file_name(CGROUP_FILE_COUNT) == NULL);
}

static void test_backoff_schedule(void)
{
	struct cgroup_backoff b = {0};

	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 1), 60000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 2), 120000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 3), 240000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 6), 1920000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 7), 3600000); /* 3840 s capped */
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 4000000000u), 3600000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_PERMISSION, 1), 60000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_FAILED, 2), 120000);
	for (unsigned n = 1; n <= CGROUP_TRANSIENT_MAX; n++)
		CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_TRANSIENT, n), 0);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_TRANSIENT, CGROUP_TRANSIENT_MAX + 1), 60000);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_TRANSIENT, CGROUP_TRANSIENT_MAX + 2), 120000);
	CHECK(cgroup_backoff_delay(CGROUP_CLASS_GONE, 1) == CGROUP_BACKOFF_NEVER);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_UNSUPPORTED, 0), 0);
	CHECK_INT(cgroup_backoff_delay(CGROUP_CLASS_OK, 3), 0);

	/* "now" is a parameter: the same inputs give the same answers. */
	CHECK(cgroup_backoff_ready(&b, 0));
	cgroup_backoff_fail(&b, CGROUP_CLASS_UNSUPPORTED, 1000);
	CHECK_INT(b.failures, 1);
	CHECK_INT(b.next_ms, 61000);
	CHECK(!cgroup_backoff_ready(&b, 60999));
	CHECK(cgroup_backoff_ready(&b, 61000));
	cgroup_backoff_fail(&b, CGROUP_CLASS_UNSUPPORTED, 61000);
	CHECK_INT(b.next_ms, 181000);
	cgroup_backoff_ok(&b);
	CHECK(cgroup_backoff_ready(&b, 0));
	cgroup_backoff_fail(&b, CGROUP_CLASS_GONE, 5);
	CHECK(!cgroup_backoff_ready(&b, INT64_MAX - 1));
	CHECK(!cgroup_backoff_ready(&b, INT64_MAX));
	/* No overflow near the end of time. */
	cgroup_backoff_ok(&b);
	cgroup_backoff_fail(&b, CGROUP_CLASS_UNSUPPORTED, INT64_MAX - 10);
	CHECK(b.next_ms == CGROUP_BACKOFF_NEVER);
}

TEST_MAIN(test_qos_parse, test_container_parse, test_path_build, test_driver_detect, test_resolve,
	  test_parse_single, test_parse_cpu_stat, test_parse_memory_events, test_parse_psi, test_read,
	  test_read_failures, test_gone_mid_read, test_value_check, test_write, test_write_cgroupfs,
	  test_write_errors, test_no_storm, test_classify, test_backoff_schedule)
