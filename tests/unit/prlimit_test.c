/* SPDX-License-Identifier: Apache-2.0 */
/* prlimit module: the pid and stat parsers, then prlimit_apply on real
 * child processes of this test listed in a fake cgroup.procs in a temp
 * dir: new processes only, changes only where limits differ, subgroups,
 * exited processes, pid reuse, spec changes, and EPERM (a nofile hard
 * limit above fs.nr_open) reported with the resource and both values. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../rebalancer/prlimit.h"
#include "test.h"

static char tmp_dir[64];

static void put(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write '%s'\n", p);
		exit(2);
	}
}

/* /proc files report size 0, so test_slurp cannot read them. */
static size_t read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0) {
		fprintf(stderr, "cannot read '%s'\n", path);
		exit(2);
	}
	buf[n] = '\0';
	return (size_t)n;
}

/* A child that waits to be killed. */
static pid_t spawn(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		/* Die with the test, even if it crashes before reap(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		for (;;)
			pause();
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static struct rlimit limit_of(pid_t pid, int res)
{
	struct rlimit r = {0, 0};

	if (prlimit(pid, res, NULL, &r) != 0)
		r.rlim_cur = r.rlim_max = 12345;
	return r;
}

static void list(const char *dir, const pid_t *pids, size_t n)
{
	char text[1024] = "";
	size_t off = 0;

	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, sizeof text - off, "%d\n", (int)pids[i]);
	put(dir, "cgroup.procs", text);
}

static void test_parse_pids(void)
{
	int pids[4] = {0};
	struct pt_error e = {0};
	size_t n = 9;

	CHECK_INT(prlimit_parse_pids("1\n23\n", 5, pids, 4, &n, &e), PT_OK);
	CHECK_INT(n, 2);
	CHECK_INT(pids[0], 1);
	CHECK_INT(pids[1], 23);
	CHECK_INT(prlimit_parse_pids("", 0, pids, 4, &n, &e), PT_OK);
	CHECK_INT(n, 0);
	CHECK_INT(prlimit_parse_pids("0\n", 2, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "bad pid '0' in cgroup.procs");
	CHECK_INT(prlimit_parse_pids("-5\n", 3, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_INT(prlimit_parse_pids("12", 2, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_INT(prlimit_parse_pids("1\n\n", 3, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "bad pid '' in cgroup.procs");
	CHECK_INT(prlimit_parse_pids("99999999999\n", 12, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_INT(prlimit_parse_pids("2147483648\n", 11, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_INT(prlimit_parse_pids("2147483647\n", 11, pids, 4, &n, &e), PT_OK);
	CHECK_INT(prlimit_parse_pids("1 2\n", 4, pids, 4, &n, &e), PT_SYNTAX);
	CHECK_INT(prlimit_parse_pids("1\n2\n3\n", 6, pids, 2, &n, &e), PT_LIMIT);
	CHECK_STR(e.msg, "more than 2 processes in one cgroup");
	CHECK_INT(n, 2);
	CHECK_INT(pids[1], 2);
}

static void test_parse_start(void)
{
	const char *weird = "42 (we ird) x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20\n";
	const char *shortl = "42 (x) S 1 2 3\n";
	struct pt_error e = {0};
	uint64_t v = 5, self = 0;
	char s[2048];
	size_t len;

	CHECK_INT(prlimit_parse_start(weird, strlen(weird), &v, &e), PT_OK);
	CHECK_INT(v, 777);
	v = 5;
	CHECK_INT(prlimit_parse_start(shortl, strlen(shortl), &v, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "a stat line ends before field 22");
	CHECK_INT(prlimit_parse_start("42 x S", 6, &v, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "no ')' after the command name in a stat line");
	CHECK_INT(prlimit_parse_start("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 z7 1\n", 58, &v, &e),
		  PT_SYNTAX);
	CHECK_INT(v, 5);
	/* The real thing: our own start time, twice the same. */
	len = read_proc("/proc/self/stat", s, sizeof s);
	CHECK_INT(prlimit_parse_start(s, len, &self, &e), PT_OK);
	CHECK(self > 0);
}

static const struct rlimit_spec SPECS[] = {
	{RLIMIT_NOFILE, 1000, 2000},
	{RLIMIT_CORE, 0, RLIMIT_SPEC_INFINITY},
};

static void test_apply(void)
{
	struct prlimit_state st;
	struct prlimit_report r;
	struct pt_error e = {0};
	pid_t p[5];
	char sub[PATH_MAX];
	struct rlimit l;

	test_mkdtemp(tmp_dir, sizeof tmp_dir, "pt-prlimit");
	for (int i = 0; i < 5; i++)
		p[i] = spawn();
	prlimit_state_init(&st);

	list(tmp_dir, p, 2);
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.procs, 2);
	CHECK_INT(r.checked, 2);
	CHECK_INT(r.changed, 2);
	CHECK_INT(r.failed, 0);
	l = limit_of(p[0], RLIMIT_NOFILE);
	CHECK_INT(l.rlim_cur, 1000);
	CHECK_INT(l.rlim_max, 2000);
	l = limit_of(p[1], RLIMIT_CORE);
	CHECK_INT(l.rlim_cur, 0);
	CHECK(l.rlim_max == RLIM_INFINITY);
	l = limit_of(getpid(), RLIMIT_NOFILE); /* not listed: untouched */
	CHECK(l.rlim_cur != 1000);

	/* Nothing new: nothing examined. */
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.procs, 2);
	CHECK_INT(r.checked, 0);

	/* A new process is handled; one whose limits already match is
	 * examined but left alone. */
	{
		struct rlimit want = {1000, 2000}, core = {0, RLIM_INFINITY};

		CHECK_INT(prlimit(p[3], RLIMIT_NOFILE, &want, NULL), 0);
		CHECK_INT(prlimit(p[3], RLIMIT_CORE, &core, NULL), 0);
	}
	list(tmp_dir, p, 4);
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.procs, 4);
	CHECK_INT(r.checked, 2);
	CHECK_INT(r.changed, 1);
	CHECK_INT(st.n, 4);

	/* A child cgroup (crun's "container") is read too. */
	snprintf(sub, sizeof sub, "%s/container", tmp_dir);
	mkdir(sub, 0755);
	list(sub, &p[4], 1);
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.procs, 5);
	CHECK_INT(r.checked, 1);
	CHECK_INT(limit_of(p[4], RLIMIT_NOFILE).rlim_max, 2000);

	/* Pid reuse: same pid, another start time, is a new process. The
	 * list must change for the call to look (here: the order). */
	for (size_t i = 0; i < st.n; i++)
		if (st.done[i].pid == p[0])
			st.done[i].start++;
	{
		pid_t order[4] = {p[3], p[2], p[1], p[0]};

		list(tmp_dir, order, 4);
	}
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.checked, 1);
	CHECK_INT(r.changed, 0); /* its limits were already right */

	/* A process that exited after the list was read is gone, not
	 * failed, and forgotten. */
	reap(p[2]);
	{
		pid_t order[4] = {p[2], p[3], p[1], p[0]};

		list(tmp_dir, order, 4);
	}
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, 2, &r, &e), PT_OK);
	CHECK_INT(r.gone, 1);
	CHECK_INT(r.failed, 0);
	CHECK_INT(st.n, 4);

	/* New specs: every process is examined again. */
	{
		const struct rlimit_spec more[] = {{RLIMIT_NOFILE, 1500, 2000}};

		CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", more, 1, &r, &e), PT_OK);
		CHECK_INT(r.checked, 4);
		CHECK_INT(r.changed, 4);
		CHECK_INT(limit_of(p[4], RLIMIT_NOFILE).rlim_cur, 1500);
	}

	/* Bad calls. */
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", SPECS, PRLIMIT_SPECS_MAX + 1, &r, &e), PT_INVALID);
	{
		const struct rlimit_spec bad[] = {{RLIMIT_NOFILE, 10, 5}};
		const struct rlimit_spec badres[] = {{-1, 1, 1}};

		CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", bad, 1, &r, &e), PT_INVALID);
		CHECK_STR(e.msg, "bad rlimit 1 (resource 7)");
		CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", badres, 1, &r, &e), PT_INVALID);
	}
	snprintf(sub, sizeof sub, "%s/gone", tmp_dir);
	CHECK_INT(prlimit_apply(&st, sub, "/proc", SPECS, 2, &r, &e), PT_GONE);
	CHECK_CONTAINS(e.msg, "/gone' is gone");

	for (int i = 0; i < 5; i++)
		if (i != 2)
			reap(p[i]);
	prlimit_state_release(&st);
	test_rm_rf(tmp_dir);
}

static void test_eperm(void)
{
	struct prlimit_state st;
	struct prlimit_report r;
	struct pt_error e = {0};
	struct rlimit_spec spec = {RLIMIT_NOFILE, 1024, 0};
	struct rlimit start = {1000, 2000};
	char want[200], nr[64];
	pid_t p[2];
	uint64_t nr_open;

	/* fs.nr_open caps a nofile hard limit, even for root (kernel/sys.c
	 * do_prlimit: -EPERM above sysctl_nr_open). */
	read_proc("/proc/sys/fs/nr_open", nr, sizeof nr);
	nr_open = strtoull(nr, NULL, 10);
	CHECK(nr_open >= 1024);
	spec.hard = nr_open + 1;

	test_mkdtemp(tmp_dir, sizeof tmp_dir, "pt-prlimit");
	p[0] = spawn();
	p[1] = spawn();
	CHECK_INT(prlimit(p[0], RLIMIT_NOFILE, &start, NULL), 0);
	CHECK_INT(prlimit(p[1], RLIMIT_NOFILE, &start, NULL), 0);
	list(tmp_dir, p, 2);
	prlimit_state_init(&st);
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", &spec, 1, &r, &e), PT_PERM);
	CHECK_INT(r.failed, 2);
	CHECK_INT(r.changed, 0);
	snprintf(want, sizeof want, "cannot set 'nofile' of pid %d to 1024:%llu (now 1000:2000): "
		 "Operation not permitted (EPERM)", (int)(p[0] < p[1] ? p[0] : p[1]),
		 (unsigned long long)spec.hard);
	CHECK_STR(e.msg, want);
	CHECK_INT(limit_of(p[0], RLIMIT_NOFILE).rlim_cur, 1000);
	/* Remembered: not retried every call ... */
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", &spec, 1, &r, &e), PT_OK);
	CHECK_INT(r.checked, 0);
	CHECK_INT(r.failed, 0);
	/* ... until the caller asks. */
	prlimit_state_reset(&st);
	CHECK_INT(prlimit_apply(&st, tmp_dir, "/proc", &spec, 1, &r, &e), PT_PERM);
	CHECK_INT(r.failed, 2);
	reap(p[0]);
	reap(p[1]);
	prlimit_state_release(&st);
	test_rm_rf(tmp_dir);
}

/* A proc root of our own: a missing stat is an exited process, a broken
 * one a failure that is looked at again next call. */
static void test_fake_proc(void)
{
	struct prlimit_state st;
	struct prlimit_report r;
	struct pt_error e = {0};
	char cg[256], proc[256], d[PATH_MAX];

	test_mkdtemp(tmp_dir, sizeof tmp_dir, "pt-prlimit");
	snprintf(cg, sizeof cg, "%s/cg", tmp_dir);
	snprintf(proc, sizeof proc, "%s/proc", tmp_dir);
	mkdir(cg, 0755);
	mkdir(proc, 0755);
	snprintf(d, sizeof d, "%s/77", proc);
	mkdir(d, 0755);
	put(d, "stat", "77 (x) S 1\n");
	put(cg, "cgroup.procs", "77\n88\n");
	prlimit_state_init(&st);
	CHECK_INT(prlimit_apply(&st, cg, proc, SPECS, 2, &r, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "/proc/77/stat'");
	CHECK_INT(r.failed, 1);
	CHECK_INT(r.gone, 1);
	CHECK_INT(r.checked, 0);
	CHECK(!st.have_hash);
	CHECK_INT(prlimit_apply(&st, cg, proc, SPECS, 2, &r, &e), PT_SYNTAX); /* looked at again */
	put(cg, "cgroup.procs", "x\n");
	CHECK_INT(prlimit_apply(&st, cg, proc, SPECS, 2, &r, &e), PT_SYNTAX);
	CHECK_STR(e.msg, "bad pid 'x' in cgroup.procs");
	prlimit_state_release(&st);
	test_rm_rf(tmp_dir);
}

TEST_MAIN(test_parse_pids, test_parse_start, test_apply, test_eperm, test_fake_proc)
