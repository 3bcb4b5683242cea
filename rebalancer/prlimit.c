/* SPDX-License-Identifier: Apache-2.0 */
/* prlimit(2) over the processes of a container cgroup. The state remembers
 * which (pid, start time) pairs were handled, so each call touches only new
 * processes, and a hash of what was listed lets an unchanged cgroup cost
 * one directory read and one file read. */
#include "prlimit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/text.h"

void prlimit_state_init(struct prlimit_state *st)
{
	memset(st, 0, sizeof *st);
}

void prlimit_state_release(struct prlimit_state *st)
{
	free(st->done);
	prlimit_state_init(st);
}

void prlimit_state_reset(struct prlimit_state *st)
{
	st->n = 0;
	st->have_hash = false;
}

/* ---- parsers ------------------------------------------------------------ */

static int line_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != '\n' && q - p < 40)
		q++;
	return (int)(q - p);
}

enum pt_code prlimit_parse_pids(const char *buf, size_t len, int *pids, size_t max, size_t *n, struct pt_error *e)
{
	const char *p = buf, *end = buf + len;
	size_t k = 0;

	while (p < end) {
		const char *line = p;
		long v = 0;

		while (p < end && *p >= '0' && *p <= '9') {
			v = v * 10 + (*p - '0');
			if (v > INT_MAX)
				break;
			p++;
		}
		if (p == line || v <= 0 || v > INT_MAX || p >= end || *p != '\n')
			return pt_error_set(e, PT_SYNTAX, "bad pid '%.*s' in cgroup.procs", line_len(line, end), line);
		p++;
		if (k == max) {
			*n = k;
			return pt_error_set(e, PT_LIMIT, "more than %zu processes in one cgroup", max);
		}
		pids[k++] = (int)v;
	}
	*n = k;
	return PT_OK;
}

enum pt_code prlimit_parse_start(const char *buf, size_t len, uint64_t *out, struct pt_error *e)
{
	const char *p = NULL, *end = buf + len;
	uint64_t v = 0;
	int field = 2;

	for (const char *q = buf; q < end; q++)
		if (*q == ')')
			p = q;
	if (!p)
		return pt_error_set(e, PT_SYNTAX, "no ')' after the command name in a stat line");
	/* proc(5): field 3 (state) follows ") "; starttime is field 22. */
	p++;
	while (field < 21) {
		if (p >= end || *p != ' ')
			return pt_error_set(e, PT_SYNTAX, "a stat line ends before field 22");
		p++;
		field++;
		while (p < end && *p != ' ')
			p++;
	}
	if (p >= end || *p != ' ')
		return pt_error_set(e, PT_SYNTAX, "a stat line ends before field 22");
	p++;
	if (p >= end || *p < '0' || *p > '9')
		return pt_error_set(e, PT_SYNTAX, "field 22 of a stat line is not a number");
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return pt_error_set(e, PT_SYNTAX, "field 22 of a stat line overflows");
		v = v * 10 + d;
	}
	if (p < end && *p != ' ' && *p != '\n')
		return pt_error_set(e, PT_SYNTAX, "field 22 of a stat line is not a number");
	*out = v;
	return PT_OK;
}

/* ---- helpers ------------------------------------------------------------ */

/* Read path into buf (at most cap bytes). Returns 0, an errno, or -1 when
 * the file holds more than cap bytes. */
static int slurp(const char *path, char *buf, size_t cap, size_t *len)
{
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	for (;;) {
		char extra;
		ssize_t r = off < cap ? read(fd, buf + off, cap - off) : read(fd, &extra, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0)
			break;
		if (off >= cap) {
			err = -1;
			break;
		}
		off += (size_t)r;
	}
	close(fd);
	*len = off;
	return err;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int cmp_proc(const void *a, const void *b)
{
	int x = *(const int *)a, y = ((const struct prlimit_proc *)b)->pid;

	return (x > y) - (x < y);
}

static rlim_t to_rlim(uint64_t v)
{
	return v == RLIMIT_SPEC_INFINITY ? RLIM_INFINITY : (rlim_t)v;
}

static const char *fmt_limit(int resource, rlim_t soft, rlim_t hard, char *buf, size_t len)
{
	struct rlimit_spec s = {
		.resource = resource,
		.soft = soft == RLIM_INFINITY ? RLIMIT_SPEC_INFINITY : (uint64_t)soft,
		.hard = hard == RLIM_INFINITY ? RLIMIT_SPEC_INFINITY : (uint64_t)hard,
	};

	return rlimit_format(&s, buf, len);
}

static const char *res_name(int resource)
{
	const char *n = rlimit_name(resource);

	return n ? n : "?";
}

/* Read the listed pids of cgroup_dir and of its first child cgroups into
 * buf (cap bytes). */
static enum pt_code read_procs(const char *dir, char *buf, size_t cap, size_t *len, struct pt_error *e)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned subs = 0;
	size_t got = 0;
	DIR *d;
	int err;

	if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path)
		return pt_error_set(e, PT_LIMIT, "cgroup path '%.80s...' is too long", dir);
	err = slurp(path, buf, cap, &got);
	if (err == ENOENT || err == ENODEV)
		return pt_error_set(e, PT_GONE, "cgroup '%s' is gone", dir);
	if (err == -1)
		return pt_error_set(e, PT_LIMIT, "'%s' holds more than %zu bytes", path, cap);
	if (err)
		return pt_error_sys(e, err, "cannot read '%s'", path);
	*len = got;
	/* crun (systemd driver) runs the container in a "container" child
	 * of its scope (containers/crun 1.18 release notes), so look one
	 * level down too. */
	d = opendir(dir);
	if (!d)
		return PT_OK;
	while ((de = readdir(d)) && subs < PRLIMIT_SUBGROUPS_MAX) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof path, "%s/%s/cgroup.procs", dir, de->d_name) >= (int)sizeof path)
			continue;
		if (de->d_type != DT_DIR && !(de->d_type == DT_UNKNOWN && stat(path, &st) == 0))
			continue;
		subs++;
		err = slurp(path, buf + *len, cap - *len, &got);
		if (err == -1) {
			closedir(d);
			return pt_error_set(e, PT_LIMIT, "the cgroup.procs files of '%s' hold more than %zu bytes",
					    dir, cap);
		}
		if (err == 0)
			*len += got;
		/* else: the child went away meanwhile */
	}
	closedir(d);
	return PT_OK;
}

struct apply_ctx {
	const struct rlimit_spec *specs;
	size_t n;
	struct prlimit_report *rep;
	struct pt_error *e;
	enum pt_code first;
};

static void fail(struct apply_ctx *c, enum pt_code rc)
{
	if (c->first == PT_OK)
		c->first = rc;
}

/* Set what differs for one process. Returns false if it is gone. */
static bool apply_one(struct apply_ctx *c, int pid)
{
	bool changed = false, failed = false;

	for (size_t i = 0; i < c->n; i++) {
		const struct rlimit_spec *s = &c->specs[i];
		struct rlimit cur, want = {to_rlim(s->soft), to_rlim(s->hard)};
		char a[64], b[64];
		int err;

		if (prlimit(pid, s->resource, NULL, &cur) != 0) {
			err = errno;
			if (err == ESRCH)
				goto gone;
			failed = true;
			if (c->first == PT_OK)
				fail(c, pt_error_sys(c->e, err, "cannot read '%s' of pid %d", res_name(s->resource),
						     pid));
			continue;
		}
		if (cur.rlim_cur == want.rlim_cur && cur.rlim_max == want.rlim_max)
			continue;
		if (prlimit(pid, s->resource, &want, NULL) != 0) {
			err = errno;
			if (err == ESRCH)
				goto gone;
			failed = true;
			if (c->first == PT_OK)
				fail(c, pt_error_sys(c->e, err, "cannot set '%s' of pid %d to %s (now %s)",
						     res_name(s->resource), pid,
						     fmt_limit(s->resource, want.rlim_cur, want.rlim_max, a, sizeof a),
						     fmt_limit(s->resource, cur.rlim_cur, cur.rlim_max, b, sizeof b)));
			continue;
		}
		changed = true;
	}
	c->rep->changed += changed;
	c->rep->failed += failed;
	return true;
gone:
	c->rep->gone++;
	return false;
}

enum pt_code prlimit_apply(struct prlimit_state *st, const char *cgroup_dir, const char *proc_root,
			   const struct rlimit_spec *specs, size_t n, struct prlimit_report *rep, struct pt_error *e)
{
	struct prlimit_report r = {0};
	struct apply_ctx c = {specs, n, &r, e, PT_OK};
	struct prlimit_proc *nd = NULL;
	char *buf = NULL, sbuf[PRLIMIT_STAT_MAX], path[PATH_MAX];
	int *pids = NULL;
	enum pt_code rc;
	size_t len = 0, np = 0, k = 0;
	uint64_t hash, spec_hash;
	bool retry = false;

	if (n > PRLIMIT_SPECS_MAX || (n && !specs)) {
		rc = pt_error_set(e, PT_INVALID, "%zu rlimits for one container (at most %d)", n, PRLIMIT_SPECS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (specs[i].resource < 0 || specs[i].resource >= RLIM_NLIMITS || specs[i].soft > specs[i].hard) {
			rc = pt_error_set(e, PT_INVALID, "bad rlimit %zu (resource %d)", i + 1, specs[i].resource);
			goto out;
		}
	}
	buf = malloc(PRLIMIT_PROCS_MAX);
	pids = malloc(PRLIMIT_PIDS_MAX * sizeof *pids);
	if (!buf || !pids) {
		rc = pt_error_set(e, PT_NOMEM, "out of memory reading the processes of '%s'", cgroup_dir);
		goto out;
	}
	rc = read_procs(cgroup_dir, buf, PRLIMIT_PROCS_MAX, &len, e);
	if (rc)
		goto out;
	rc = prlimit_parse_pids(buf, len, pids, PRLIMIT_PIDS_MAX, &np, e);
	if (rc && rc != PT_LIMIT)
		goto out;
	c.first = rc; /* PT_LIMIT is reported, the first pids still handled */
	r.procs = (unsigned)np;

	/* Field by field: the struct's padding is not initialised. */
	spec_hash = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		spec_hash = text_fnv1a(spec_hash, &specs[i].resource, sizeof specs[i].resource);
		spec_hash = text_fnv1a(spec_hash, &specs[i].soft, sizeof specs[i].soft);
		spec_hash = text_fnv1a(spec_hash, &specs[i].hard, sizeof specs[i].hard);
	}
	hash = text_fnv1a(spec_hash, buf, len);
	if (st->have_hash && st->seen_hash == hash)
		goto out;
	qsort(pids, np, sizeof *pids, cmp_int);
	nd = malloc((np ? np : 1) * sizeof *nd);
	if (!nd) {
		rc = pt_error_set(e, PT_NOMEM, "out of memory tracking the processes of '%s'", cgroup_dir);
		goto out;
	}
	/* New specs: every process is new again. */
	if (st->spec_hash != spec_hash)
		st->n = 0;
	for (size_t i = 0; i < np; i++) {
		struct prlimit_proc *old;
		uint64_t start;
		size_t sl = 0;
		int err;

		if (i && pids[i] == pids[i - 1])
			continue;
		snprintf(path, sizeof path, "%s/%d/stat", proc_root, pids[i]);
		err = slurp(path, sbuf, sizeof sbuf, &sl);
		if (err == ENOENT || err == ESRCH) {
			r.gone++;
			continue;
		}
		if (err || prlimit_parse_start(sbuf, sl, &start, NULL) != PT_OK) {
			r.failed++;
			retry = true;
			if (c.first == PT_OK)
				fail(&c, err > 0 ? pt_error_sys(e, err, "cannot read '%s'", path)
						 : pt_error_set(e, PT_SYNTAX, "cannot parse '%s'", path));
			continue;
		}
		old = st->n ? bsearch(&pids[i], st->done, st->n, sizeof *st->done, cmp_proc) : NULL;
		if (old && old->start == start) {
			nd[k++] = *old;
			continue;
		}
		r.checked++;
		if (apply_one(&c, pids[i]))
			nd[k++] = (struct prlimit_proc){pids[i], start};
	}
	free(st->done);
	st->done = nd;
	st->n = k;
	st->cap = np ? np : 1;
	nd = NULL;
	/* A process whose stat could not be read is looked at again. */
	st->seen_hash = hash;
	st->spec_hash = spec_hash;
	st->have_hash = !retry;
	rc = c.first;
out:
	if (rep)
		*rep = r;
	free(nd);
	free(pids);
	free(buf);
	return rc;
}
