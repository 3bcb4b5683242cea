/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v2 paths, reads and verified writes for the node agent. Reads go
 * through descriptors kept open and re-read at offset 0; writes open the
 * file afresh, write once, and read back. Every failure lands in a per-file
 * back-off, so a file the kernel refuses is retried slowly, never per tick. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const file_names[CGROUP_FILE_COUNT] = {
	[CGROUP_CPU_WEIGHT] = "cpu.weight",
	[CGROUP_CPU_STAT] = "cpu.stat",
	[CGROUP_MEMORY_CURRENT] = "memory.current",
	[CGROUP_MEMORY_MAX] = "memory.max",
	[CGROUP_MEMORY_HIGH] = "memory.high",
	[CGROUP_MEMORY_EVENTS] = "memory.events",
	[CGROUP_CPU_PRESSURE] = "cpu.pressure",
	[CGROUP_MEMORY_PRESSURE] = "memory.pressure",
	[CGROUP_IO_PRESSURE] = "io.pressure",
};

const char *cgroup_file_name(enum cgroup_file f)
{
	if ((unsigned)f >= CGROUP_FILE_COUNT)
		return NULL;
	return file_names[f];
}

/* ---- containers and paths ---------------------------------------------- */

enum pt_code cgroup_qos_parse(const char *s, enum cgroup_qos *out, struct pt_error *e)
{
	if (s && strcasecmp(s, "guaranteed") == 0)
		*out = CGROUP_QOS_GUARANTEED;
	else if (s && strcasecmp(s, "burstable") == 0)
		*out = CGROUP_QOS_BURSTABLE;
	else if (s && strcasecmp(s, "besteffort") == 0)
		*out = CGROUP_QOS_BESTEFFORT;
	else
		return pt_error_set(e, PT_INVALID, "unknown QoS class '%.64s' (want Guaranteed, Burstable or BestEffort)",
				    s ? s : "");
	return PT_OK;
}

static bool is_hex_lower(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

enum pt_code cgroup_container_parse(struct cgroup_container *out, const char *pod_uid, enum cgroup_qos qos,
				    const char *container_id, struct pt_error *e)
{
	static const struct {
		const char *scheme;
		enum cgroup_runtime rt;
	} schemes[] = {
		{"containerd://", CGROUP_RUNTIME_CONTAINERD},
		{"cri-o://", CGROUP_RUNTIME_CRIO},
		{"docker://", CGROUP_RUNTIME_DOCKER},
	};
	struct cgroup_container c;
	const char *id = NULL;
	size_t n;

	memset(&c, 0, sizeof c);
	if ((unsigned)qos > CGROUP_QOS_BESTEFFORT)
		return pt_error_set(e, PT_INVALID, "invalid QoS class %d", (int)qos);
	c.qos = qos;
	if (!pod_uid || !*pod_uid)
		return pt_error_set(e, PT_INVALID, "empty pod UID");
	n = strlen(pod_uid);
	if (n > CGROUP_UID_MAX)
		return pt_error_set(e, PT_INVALID, "pod UID '%.64s...' is longer than %d characters", pod_uid,
				    CGROUP_UID_MAX);
	for (size_t i = 0; i < n; i++) {
		char ch = pod_uid[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!is_hex_lower(ch) && ch != '-')
			return pt_error_set(e, PT_INVALID, "pod UID '%s' has a character other than [0-9a-f-] at %zu",
					    pod_uid, i + 1);
		c.uid[i] = ch;
	}
	c.uid[n] = '\0';

	if (!container_id)
		container_id = "";
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t sl = strlen(schemes[i].scheme);

		if (strncmp(container_id, schemes[i].scheme, sl) == 0) {
			id = container_id + sl;
			c.runtime = schemes[i].rt;
			break;
		}
	}
	if (!id)
		return pt_error_set(e, PT_INVALID,
				    "container ID '%.100s' has no known runtime prefix (containerd://, cri-o://, docker://)",
				    container_id);
	n = strlen(id);
	if (n != CGROUP_ID_LEN)
		return pt_error_set(e, PT_INVALID, "container ID '%.100s' is not %d hex digits after the prefix",
				    container_id, CGROUP_ID_LEN);
	for (size_t i = 0; i < n; i++)
		if (!is_hex_lower(id[i]))
			return pt_error_set(e, PT_INVALID,
					    "container ID '%.100s' has a character other than [0-9a-f] at %zu",
					    container_id, (size_t)(id - container_id) + i + 1);
	memcpy(c.id, id, CGROUP_ID_LEN + 1);
	*out = c;
	return PT_OK;
}

/* The kubelet's systemd driver escapes '-' in the pod UID to '_', since
 * systemd reads '-' in a slice name as nesting (kubelet cgroup_manager_linux.go). */
static void uid_systemd(const struct cgroup_container *c, char *out)
{
	size_t i;

	for (i = 0; c->uid[i]; i++)
		out[i] = c->uid[i] == '-' ? '_' : c->uid[i];
	out[i] = '\0';
}

static const char *qos_word(enum cgroup_qos q)
{
	return q == CGROUP_QOS_BURSTABLE ? "burstable" : q == CGROUP_QOS_BESTEFFORT ? "besteffort" : NULL;
}

/* root without its trailing slashes, as a length for "%.*s". */
static int root_len(const char *root)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		n = 0;
	return n > INT_MAX ? INT_MAX : (int)n;
}

static enum pt_code fit(int n, size_t len, const char *what, struct pt_error *e)
{
	if (n < 0 || (size_t)n >= len)
		return pt_error_set(e, PT_LIMIT, "the cgroup path of %s is longer than %zu bytes", what, len - 1);
	return PT_OK;
}

/* The pod directory of c under one driver's tree. */
static enum pt_code pod_dir(const char *root, enum cgroup_driver d, const struct cgroup_container *c, char *out,
			    size_t len, struct pt_error *e)
{
	char u[CGROUP_UID_MAX + 1];
	const char *q = qos_word(c->qos);
	int rl = root_len(root), n;

	if (d == CGROUP_DRIVER_SYSTEMD) {
		uid_systemd(c, u);
		if (q)
			n = snprintf(out, len, "%.*s/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice", rl,
				     root, q, q, u);
		else
			n = snprintf(out, len, "%.*s/kubepods.slice/kubepods-pod%s.slice", rl, root, u);
	} else {
		if (q)
			n = snprintf(out, len, "%.*s/kubepods/%s/pod%s", rl, root, q, c->uid);
		else
			n = snprintf(out, len, "%.*s/kubepods/pod%s", rl, root, c->uid);
	}
	return fit(n, len, "a pod", e);
}

enum pt_code cgroup_path_build(const char *root, enum cgroup_form form, const struct cgroup_container *c,
			       char *out, size_t len, struct pt_error *e)
{
	char tmp[CGROUP_PATH_MAX], u[CGROUP_UID_MAX + 1], buf[CGROUP_PATH_MAX];
	size_t bl;
	const char *q = qos_word(c->qos);
	enum pt_code rc;
	int n;

	if (!root || !*root)
		return pt_error_set(e, PT_INVALID, "empty cgroup root");
	switch (form) {
	case CGROUP_FORM_SYSTEMD:
		rc = pod_dir(root, CGROUP_DRIVER_SYSTEMD, c, tmp, sizeof tmp, e);
		if (rc)
			return rc;
		/* Scope names: containerd cri "cri-containerd", CRI-O "crio",
		 * cri-dockerd "docker" (runc "slice:prefix:name" -> prefix-name.scope). */
		n = snprintf(buf, sizeof buf, "%s/%s-%s.scope", tmp,
			     c->runtime == CGROUP_RUNTIME_CRIO     ? "crio"
			     : c->runtime == CGROUP_RUNTIME_DOCKER ? "docker"
								   : "cri-containerd",
			     c->id);
		break;
	case CGROUP_FORM_CGROUPFS:
		rc = pod_dir(root, CGROUP_DRIVER_CGROUPFS, c, tmp, sizeof tmp, e);
		if (rc)
			return rc;
		n = snprintf(buf, sizeof buf, "%s/%s%s", tmp, c->runtime == CGROUP_RUNTIME_CRIO ? "crio-" : "", c->id);
		break;
	case CGROUP_FORM_FLAT:
		/* runwasi's shims built youki's cgroupfs manager whatever the
		 * driver (.with_systemd(false) in containerd-shim-wasm's
		 * instance.rs, until runwasi#864, 2025), so containerd's systemd
		 * cgroupsPath "slice:cri-containerd:id" became one directory
		 * under the root (runwasi#821, containerd-shim-spin#180). */
		if (c->runtime != CGROUP_RUNTIME_CONTAINERD)
			return pt_error_set(e, PT_INVALID, "the flat cgroup form exists for containerd only");
		uid_systemd(c, u);
		if (q)
			n = snprintf(buf, sizeof buf, "%.*s/kubepods-%s-pod%s.slice:cri-containerd:%s", root_len(root), root,
				     q, u, c->id);
		else
			n = snprintf(buf, sizeof buf, "%.*s/kubepods-pod%s.slice:cri-containerd:%s", root_len(root), root,
				     u, c->id);
		break;
	default:
		return pt_error_set(e, PT_INVALID, "cgroup form %d has no fixed path", (int)form);
	}
	rc = fit(n, sizeof buf, "a container", e);
	if (rc)
		return rc;
	bl = (size_t)n;
	if (bl >= len)
		return fit(n, len, "a container", e);
	memcpy(out, buf, bl + 1);
	return PT_OK;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

enum pt_code cgroup_driver_detect(const char *root, enum cgroup_driver *out, struct pt_error *e)
{
	char p[CGROUP_PATH_MAX];
	int rl;

	if (!root || !*root)
		return pt_error_set(e, PT_INVALID, "empty cgroup root");
	rl = root_len(root);
	if (fit(snprintf(p, sizeof p, "%.*s/kubepods.slice", rl, root), sizeof p, "the root", e))
		return PT_LIMIT;
	if (is_dir(p)) {
		*out = CGROUP_DRIVER_SYSTEMD;
		return PT_OK;
	}
	snprintf(p, sizeof p, "%.*s/kubepods", rl, root);
	if (is_dir(p)) {
		*out = CGROUP_DRIVER_CGROUPFS;
		return PT_OK;
	}
	return pt_error_set(e, PT_NOTFOUND, "neither 'kubepods.slice' nor 'kubepods' is a directory in '%s'", root);
}

/* Look in a pod directory for the entry that holds the container ID. The
 * smallest matching name wins, so the answer does not depend on readdir
 * order. CRI-O's crio-conmon-<id>.scope sits next to crio-<id>.scope when
 * conmon_cgroup = "pod" (runc#4620 shows one): it holds conmon, skip it. */
static bool scan_pod(const char *dir, const struct cgroup_container *c, char *out, size_t len)
{
	char best[256] = "";
	struct dirent *de;
	unsigned seen = 0;
	DIR *d = opendir(dir);
	bool found = false;

	if (!d)
		return false;
	while (seen < CGROUP_SCAN_MAX && (de = readdir(d))) {
		seen++;
		if (!strstr(de->d_name, c->id) || strstr(de->d_name, "conmon"))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (strlen(de->d_name) >= sizeof best)
			continue;
		if (!found || strcmp(de->d_name, best) < 0) {
			snprintf(best, sizeof best, "%s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	if (!found)
		return false;
	if (snprintf(out, len, "%s/%s", dir, best) >= (int)len)
		return false;
	return is_dir(out);
}

enum pt_code cgroup_resolve(const char *root, enum cgroup_driver driver, const struct cgroup_container *c,
			    char *out, size_t len, enum cgroup_form *form, struct pt_error *e)
{
	static const enum cgroup_driver drivers[2] = {CGROUP_DRIVER_SYSTEMD, CGROUP_DRIVER_CGROUPFS};
	char p[CGROUP_PATH_MAX], pod[CGROUP_PATH_MAX], first[CGROUP_PATH_MAX] = "";
	bool have[2] = {false, false};
	enum cgroup_form got;
	enum pt_code rc;
	size_t n;
	int rl;

	if (!root || !*root)
		return pt_error_set(e, PT_INVALID, "empty cgroup root");
	rl = root_len(root);
	if (driver == CGROUP_DRIVER_AUTO) {
		if (fit(snprintf(p, sizeof p, "%.*s/kubepods.slice", rl, root), sizeof p, "the root", e))
			return PT_LIMIT;
		have[0] = is_dir(p);
		snprintf(p, sizeof p, "%.*s/kubepods", rl, root);
		have[1] = is_dir(p);
	} else if (driver == CGROUP_DRIVER_SYSTEMD || driver == CGROUP_DRIVER_CGROUPFS) {
		have[driver == CGROUP_DRIVER_CGROUPFS] = true;
	} else {
		return pt_error_set(e, PT_INVALID, "invalid cgroup driver %d", (int)driver);
	}

	const struct {
		enum cgroup_form form;
		bool on;
	} tries[] = {
		{CGROUP_FORM_SYSTEMD, have[0]},
		{CGROUP_FORM_CGROUPFS, have[1]},
		{CGROUP_FORM_FLAT, c->runtime == CGROUP_RUNTIME_CONTAINERD},
	};
	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		if (!tries[i].on)
			continue;
		rc = cgroup_path_build(root, tries[i].form, c, p, sizeof p, e);
		if (rc)
			return rc;
		if (!first[0])
			snprintf(first, sizeof first, "%s", p);
		if (is_dir(p)) {
			got = tries[i].form;
			goto found;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (!have[i])
			continue;
		rc = pod_dir(root, drivers[i], c, pod, sizeof pod, e);
		if (rc)
			return rc;
		if (scan_pod(pod, c, p, sizeof p)) {
			got = CGROUP_FORM_SCAN;
			goto found;
		}
	}
	if (!first[0])
		return pt_error_set(e, PT_NOTFOUND,
				    "cannot find the cgroup of container '%s': no kubepods tree in '%s'", c->id, root);
	return pt_error_set(e, PT_NOTFOUND, "cannot find the cgroup of container '%s' of pod '%s': '%s' does not exist",
			    c->id, c->uid, first);
found:
	n = strlen(p);
	if (n >= len)
		return pt_error_set(e, PT_LIMIT, "the cgroup path '%s' is longer than %zu bytes", p, len - 1);
	memcpy(out, p, n + 1);
	if (form)
		*form = got;
	return PT_OK;
}

/* ---- classes and back-off ---------------------------------------------- */

enum cgroup_class cgroup_classify(int err)
{
	switch (err) {
	case 0:
		return CGROUP_CLASS_OK;
	case ENOENT:
	case ENODEV: /* kernfs: an open file of a removed cgroup (fs/kernfs/file.c) */
		return CGROUP_CLASS_GONE;
	case EINVAL:
	case ERANGE:
	case EOPNOTSUPP:
	case ENOSYS:
		return CGROUP_CLASS_UNSUPPORTED;
	case EBUSY:
	case EAGAIN:
	case EINTR:
		return CGROUP_CLASS_TRANSIENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return CGROUP_CLASS_PERMISSION;
	default:
		return CGROUP_CLASS_FAILED;
	}
}

const char *cgroup_class_name(enum cgroup_class c)
{
	switch (c) {
	case CGROUP_CLASS_OK: return "ok";
	case CGROUP_CLASS_GONE: return "gone";
	case CGROUP_CLASS_UNSUPPORTED: return "unsupported";
	case CGROUP_CLASS_TRANSIENT: return "transient";
	case CGROUP_CLASS_PERMISSION: return "permission";
	case CGROUP_CLASS_FAILED: return "failed";
	}
	return "unknown";
}

int64_t cgroup_backoff_delay(enum cgroup_class c, unsigned n)
{
	int64_t d = CGROUP_BACKOFF_MIN_MS;

	if (n == 0 || c == CGROUP_CLASS_OK)
		return 0;
	if (c == CGROUP_CLASS_GONE)
		return CGROUP_BACKOFF_NEVER;
	if (c == CGROUP_CLASS_TRANSIENT) {
		if (n <= CGROUP_TRANSIENT_MAX)
			return 0;
		n -= CGROUP_TRANSIENT_MAX;
	}
	/* koordinator#3217 retried EINVAL 8 times a second forever; here the
	 * n-th failure in a row waits 1 min * 2^(n-1), at most an hour. */
	for (unsigned i = 1; i < n && d < CGROUP_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < CGROUP_BACKOFF_MAX_MS ? d : CGROUP_BACKOFF_MAX_MS;
}

void cgroup_backoff_fail(struct cgroup_backoff *b, enum cgroup_class c, int64_t now_ms)
{
	int64_t d;

	if (b->failures < UINT_MAX)
		b->failures++;
	b->last = c;
	d = cgroup_backoff_delay(c, b->failures);
	b->next_ms = d >= CGROUP_BACKOFF_NEVER - now_ms ? CGROUP_BACKOFF_NEVER : now_ms + d;
}

void cgroup_backoff_ok(struct cgroup_backoff *b)
{
	b->failures = 0;
	b->last = CGROUP_CLASS_OK;
	b->next_ms = 0;
}

bool cgroup_backoff_ready(const struct cgroup_backoff *b, int64_t now_ms)
{
	return b->failures == 0 || (b->next_ms != CGROUP_BACKOFF_NEVER && now_ms >= b->next_ms);
}

/* ---- parsers ------------------------------------------------------------ */

struct cur {
	const char *p, *end;
};

static bool cur_lit(struct cur *c, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool cur_u64(struct cur *c, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return false;
	*out = v;
	return true;
}

/* PSI averages are printed "%lu.%02lu" (kernel/sched/psi.c). */
static bool cur_dec(struct cur *c, double *out)
{
	uint64_t ip, fp = 0;
	double scale = 1;

	if (!cur_u64(c, &ip))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return false;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			if (scale < 1e15) {
				fp = fp * 10 + (uint64_t)(*c->p - '0');
				scale *= 10;
			}
			c->p++;
		}
	}
	*out = (double)ip + (double)fp / scale;
	return true;
}

/* The rest of the line at p, for messages. */
static int line_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != '\n' && q - p < 80)
		q++;
	return (int)(q - p);
}

static enum pt_code bad(struct pt_error *e, const char *what, const char *p, const char *end)
{
	if (p >= end)
		return pt_error_set(e, PT_SYNTAX, "%s: unexpected end of data", what);
	return pt_error_set(e, PT_SYNTAX, "%s at '%.*s'", what, line_len(p, end), p);
}

enum pt_code cgroup_parse_u64(const char *buf, size_t len, uint64_t *out, struct pt_error *e)
{
	struct cur c = {buf, buf + len};
	uint64_t v;

	/* The kernel ends every value with one "\n"; without it the read
	 * was short. */
	if (!cur_u64(&c, &v) || !cur_lit(&c, "\n") || c.p != c.end)
		return bad(e, "expected a number and a newline", buf, buf + len);
	*out = v;
	return PT_OK;
}

enum pt_code cgroup_parse_max(const char *buf, size_t len, uint64_t *out, struct pt_error *e)
{
	if (len == 4 && memcmp(buf, "max\n", 4) == 0) {
		*out = CGROUP_UNLIMITED;
		return PT_OK;
	}
	if (cgroup_parse_u64(buf, len, out, NULL) == PT_OK)
		return PT_OK;
	return bad(e, "expected 'max' or a number and a newline", buf, buf + len);
}

/* "key value\n" lines; for each key in keys[] store into vals[]. Unknown
 * keys are skipped (kernels add keys: cpu.stat gained nr_bursts,
 * core_sched.force_idle_usec). found gets a bit per key seen. */
static enum pt_code parse_kv(const char *buf, size_t len, const char *const *keys, uint64_t *vals, size_t nkeys,
			     unsigned *found, struct pt_error *e)
{
	struct cur c = {buf, buf + len};

	*found = 0;
	if (len == 0)
		return pt_error_set(e, PT_SYNTAX, "empty file");
	while (c.p < c.end) {
		const char *line = c.p, *k = c.p;
		size_t kl;
		uint64_t v;

		while (c.p < c.end && *c.p != ' ' && *c.p != '\n')
			c.p++;
		kl = (size_t)(c.p - k);
		if (kl == 0 || !cur_lit(&c, " ") || !cur_u64(&c, &v) || !cur_lit(&c, "\n"))
			return bad(e, "expected 'key value' and a newline", line, buf + len);
		for (size_t i = 0; i < nkeys; i++) {
			if (strlen(keys[i]) == kl && memcmp(keys[i], k, kl) == 0) {
				vals[i] = v;
				*found |= 1u << i;
			}
		}
	}
	return PT_OK;
}

enum pt_code cgroup_parse_cpu_stat(const char *buf, size_t len, struct cgroup_cpu_stat *out, struct pt_error *e)
{
	static const char *const keys[] = {"usage_usec", "user_usec", "system_usec",
					   "nr_periods", "nr_throttled", "throttled_usec"};
	uint64_t v[6] = {0};
	unsigned found;
	enum pt_code rc = parse_kv(buf, len, keys, v, 6, &found, e);

	if (rc)
		return rc;
	if (!(found & 1))
		return pt_error_set(e, PT_SYNTAX, "no 'usage_usec' line");
	*out = (struct cgroup_cpu_stat){v[0], v[1], v[2], v[3], v[4], v[5]};
	return PT_OK;
}

enum pt_code cgroup_parse_memory_events(const char *buf, size_t len, struct cgroup_memory_events *out,
					struct pt_error *e)
{
	static const char *const keys[] = {"low", "high", "max", "oom", "oom_kill"};
	uint64_t v[5] = {0};
	unsigned found;
	enum pt_code rc = parse_kv(buf, len, keys, v, 5, &found, e);

	if (rc)
		return rc;
	for (int i = 0; i < 5; i++)
		if (!(found & (1u << i)))
			return pt_error_set(e, PT_SYNTAX, "no '%s' line", keys[i]);
	*out = (struct cgroup_memory_events){v[0], v[1], v[2], v[3], v[4]};
	return PT_OK;
}

enum pt_code cgroup_parse_psi(const char *buf, size_t len, struct cgroup_psi *out, struct pt_error *e)
{
	struct cur c = {buf, buf + len};
	struct cgroup_psi r;
	bool some = false;

	memset(&r, 0, sizeof r);
	if (len == 0)
		return pt_error_set(e, PT_SYNTAX, "empty file");
	while (c.p < c.end) {
		const char *line = c.p;
		struct cgroup_psi_line l;
		bool is_full;

		if (cur_lit(&c, "some "))
			is_full = false;
		else if (cur_lit(&c, "full "))
			is_full = true;
		else
			return bad(e, "expected 'some' or 'full'", line, c.end);
		if (!cur_lit(&c, "avg10=") || !cur_dec(&c, &l.avg10) || !cur_lit(&c, " avg60=") ||
		    !cur_dec(&c, &l.avg60) || !cur_lit(&c, " avg300=") || !cur_dec(&c, &l.avg300) ||
		    !cur_lit(&c, " total=") || !cur_u64(&c, &l.total_usec) || !cur_lit(&c, "\n"))
			return bad(e, "expected 'avg10=N avg60=N avg300=N total=N'", line, c.end);
		if ((is_full && r.has_full) || (!is_full && some))
			return bad(e, "repeated line", line, c.end);
		if (is_full) {
			r.full = l;
			r.has_full = true;
		} else {
			r.some = l;
			some = true;
		}
	}
	if (!some)
		return pt_error_set(e, PT_SYNTAX, "no 'some' line");
	*out = r;
	return PT_OK;
}

/* ---- open, read --------------------------------------------------------- */

enum pt_code cgroup_open(struct cgroup *cg, const char *path, struct pt_error *e)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t n;
	int err;

	memset(cg, 0, sizeof *cg);
	cg->dirfd = -1;
	for (int i = 0; i < CGROUP_FILE_COUNT; i++)
		cg->f[i].fd = -1;
	cg->page_size = ps > 0 ? (unsigned long)ps : 4096;
	if (!path || !*path)
		return pt_error_set(e, PT_INVALID, "empty cgroup path");
	n = strlen(path);
	if (n >= sizeof cg->path)
		return pt_error_set(e, PT_LIMIT, "cgroup path '%.80s...' is longer than %zu bytes", path,
				    sizeof cg->path - 1);
	memcpy(cg->path, path, n + 1);
	cg->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0) {
		err = errno;
		return pt_error_sys(e, err, "cannot open '%s'", path);
	}
	return PT_OK;
}

void cgroup_release(struct cgroup *cg)
{
	for (int i = 0; i < CGROUP_FILE_COUNT; i++) {
		if (cg->f[i].fd >= 0)
			close(cg->f[i].fd);
		cg->f[i].fd = -1;
	}
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	cg->dirfd = -1;
}

/* ENOENT on a file means the container went away only if its directory
 * did; otherwise the controller is not enabled for it. */
static enum cgroup_class class_of(struct cgroup *cg, int err)
{
	struct stat st;

	if (err == ENOENT && stat(cg->path, &st) == 0)
		return CGROUP_CLASS_UNSUPPORTED;
	return cgroup_classify(err);
}

static enum pt_code mark_gone(struct cgroup *cg, struct pt_error *e)
{
	cg->gone = true;
	for (int i = 0; i < CGROUP_FILE_COUNT; i++) {
		if (cg->f[i].fd >= 0)
			close(cg->f[i].fd);
		cg->f[i].fd = -1;
	}
	if (e)
		e->code = PT_GONE;
	return PT_GONE;
}

/* One pread at offset 0 into buf (CGROUP_READ_MAX bytes), opening the file
 * on first use. On failure sets *cls and e; the caller does the back-off. */
static enum pt_code read_raw(struct cgroup *cg, enum cgroup_file f, char *buf, size_t *len,
			     enum cgroup_class *cls, struct pt_error *e)
{
	struct cgroup_file_state *st = &cg->f[f];
	ssize_t n;
	int err;

	st->reads++;
	if (st->fd < 0) {
		st->fd = openat(cg->dirfd, file_names[f], O_RDONLY | O_CLOEXEC);
		if (st->fd < 0) {
			err = errno;
			*cls = class_of(cg, err);
			return pt_error_sys(e, err, "cannot open '%s' in '%s'", file_names[f], cg->path);
		}
	}
	n = pread(st->fd, buf, CGROUP_READ_MAX, 0);
	if (n < 0) {
		err = errno;
		*cls = class_of(cg, err);
		/* Drop the descriptor: the next probe starts clean. */
		close(st->fd);
		st->fd = -1;
		return pt_error_sys(e, err, "cannot read '%s' in '%s'", file_names[f], cg->path);
	}
	if ((size_t)n >= CGROUP_READ_MAX) {
		*cls = CGROUP_CLASS_FAILED;
		return pt_error_set(e, PT_LIMIT, "'%s' in '%s' holds %d bytes or more", file_names[f], cg->path,
				    CGROUP_READ_MAX);
	}
	*len = (size_t)n;
	return PT_OK;
}

static enum pt_code parse_into(enum cgroup_file f, const char *buf, size_t len, struct cgroup_stats *out,
			       struct pt_error *e)
{
	switch (f) {
	case CGROUP_CPU_WEIGHT: return cgroup_parse_u64(buf, len, &out->cpu_weight, e);
	case CGROUP_CPU_STAT: return cgroup_parse_cpu_stat(buf, len, &out->cpu, e);
	case CGROUP_MEMORY_CURRENT: return cgroup_parse_u64(buf, len, &out->memory_current, e);
	case CGROUP_MEMORY_MAX: return cgroup_parse_max(buf, len, &out->memory_max, e);
	case CGROUP_MEMORY_HIGH: return cgroup_parse_max(buf, len, &out->memory_high, e);
	case CGROUP_MEMORY_EVENTS: return cgroup_parse_memory_events(buf, len, &out->memory_events, e);
	case CGROUP_CPU_PRESSURE: return cgroup_parse_psi(buf, len, &out->cpu_pressure, e);
	case CGROUP_MEMORY_PRESSURE: return cgroup_parse_psi(buf, len, &out->memory_pressure, e);
	case CGROUP_IO_PRESSURE: return cgroup_parse_psi(buf, len, &out->io_pressure, e);
	case CGROUP_FILE_COUNT: break;
	}
	return pt_error_set(e, PT_INVALID, "unknown cgroup file %d", (int)f);
}

enum pt_code cgroup_read(struct cgroup *cg, unsigned mask, int64_t now_ms, struct cgroup_stats *out,
			 struct pt_error *e)
{
	char buf[CGROUP_READ_MAX];
	enum pt_code first = PT_OK;

	out->valid = 0;
	if (cg->gone)
		return pt_error_set(e, PT_GONE, "cgroup '%s' is gone", cg->path);
	for (int f = 0; f < CGROUP_FILE_COUNT; f++) {
		struct cgroup_file_state *st = &cg->f[f];
		enum cgroup_class cls = CGROUP_CLASS_FAILED;
		struct pt_error le, pe;
		enum pt_code rc;
		size_t len = 0;

		if (!(mask & CGROUP_BIT(f)) || !cgroup_backoff_ready(&st->read_backoff, now_ms))
			continue;
		rc = read_raw(cg, (enum cgroup_file)f, buf, &len, &cls, &le);
		if (rc == PT_OK) {
			rc = parse_into((enum cgroup_file)f, buf, len, out, &pe);
			if (rc)
				pt_error_set(&le, rc, "cannot parse '%s' in '%s': %s", file_names[f], cg->path,
					     pe.msg);
		}
		if (rc == PT_OK) {
			out->valid |= CGROUP_BIT(f);
			cgroup_backoff_ok(&st->read_backoff);
			continue;
		}
		if (cls == CGROUP_CLASS_GONE) {
			if (e)
				*e = le;
			return mark_gone(cg, e);
		}
		cgroup_backoff_fail(&st->read_backoff, cls, now_ms);
		if (first == PT_OK) {
			first = rc;
			if (e)
				*e = le;
		}
	}
	return first;
}

/* ---- write -------------------------------------------------------------- */

enum pt_code cgroup_value_check(enum cgroup_file f, uint64_t value, unsigned long page_size, uint64_t *out,
				struct pt_error *e)
{
	uint64_t v;

	if (f == CGROUP_CPU_WEIGHT) {
		/* cgroup-v2.rst: cpu.weight is in [1, 10000]; 0 and 10001 give ERANGE. */
		if (value < 1 || value > 10000)
			return pt_error_set(e, PT_RANGE, "cpu.weight %llu is outside 1..10000",
					    (unsigned long long)value);
		*out = value;
		return PT_OK;
	}
	if (f != CGROUP_MEMORY_HIGH)
		return pt_error_set(e, PT_INVALID, "the agent does not write '%s'",
				    cgroup_file_name(f) ? cgroup_file_name(f) : "?");
	if (value == CGROUP_UNLIMITED) {
		*out = value;
		return PT_OK;
	}
	if (page_size == 0 || (page_size & (page_size - 1)))
		return pt_error_set(e, PT_INVALID, "bad page size %lu", page_size);
	/* The kernel stores whole pages and rounds down without a word
	 * (page_counter_memparse): 4095 becomes 0. Round here, so the value
	 * read back is the value checkpointed. */
	v = value - value % page_size;
	if (v == 0)
		return pt_error_set(e, PT_RANGE, "memory.high %llu is less than one page (%lu bytes)",
				    (unsigned long long)value, page_size);
	/* PAGE_COUNTER_MAX = LONG_MAX / PAGE_SIZE pages reads back as "max"
	 * (include/linux/page_counter.h), so a number that large cannot be
	 * verified: the caller must say max. */
	if (v / page_size >= (uint64_t)LONG_MAX / page_size)
		return pt_error_set(e, PT_RANGE, "memory.high %llu is at the kernel's maximum: write max instead",
				    (unsigned long long)value);
	*out = v;
	return PT_OK;
}

static void format_value(uint64_t v, char *buf, size_t len)
{
	if (v == CGROUP_UNLIMITED)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

enum pt_code cgroup_write(struct cgroup *cg, enum cgroup_file f, uint64_t value, int64_t now_ms,
			  uint64_t *applied, struct pt_error *e)
{
	char text[32], got_text[32], buf[CGROUP_READ_MAX];
	struct cgroup_file_state *st;
	enum cgroup_class cls = CGROUP_CLASS_FAILED;
	enum pt_code rc;
	uint64_t v, got;
	size_t tl, len = 0;
	ssize_t n;
	int fd, err;

	rc = cgroup_value_check(f, value, cg->page_size, &v, e);
	if (rc)
		return rc;
	st = &cg->f[f];
	if (cg->gone)
		return pt_error_set(e, PT_GONE, "cgroup '%s' is gone", cg->path);
	if (!cgroup_backoff_ready(&st->write_backoff, now_ms))
		return pt_error_set(e, PT_AGAIN, "not writing '%s' in '%s': backing off after %u %s failures",
				    file_names[f], cg->path, st->write_backoff.failures,
				    cgroup_class_name(st->write_backoff.last));
	format_value(v, text, sizeof text);
	tl = strlen(text);
	text[tl] = '\n';

	st->writes++;
	/* O_TRUNC is what a shell's "echo 100 > cpu.weight" does: kernfs
	 * ignores it, and a plain file (a fake tree) needs it. */
	fd = openat(cg->dirfd, file_names[f], O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		cls = class_of(cg, err);
		text[tl] = '\0';
		rc = pt_error_sys(e, err, "cannot write '%s' to '%s' in '%s'", text, file_names[f], cg->path);
		goto fail;
	}
	/* One write(2) holding the whole value: kernfs hands each write to
	 * the file's handler as is and supports no partial writes. */
	n = write(fd, text, tl + 1);
	err = errno;
	close(fd);
	text[tl] = '\0';
	if (n < 0) {
		cls = class_of(cg, err);
		rc = pt_error_sys(e, err, "cannot write '%s' to '%s' in '%s'", text, file_names[f], cg->path);
		goto fail;
	}
	if ((size_t)n != tl + 1) {
		rc = pt_error_set(e, PT_IO, "short write of '%s' to '%s' in '%s': %zd of %zu bytes", text,
				  file_names[f], cg->path, n, tl + 1);
		goto fail;
	}

	rc = read_raw(cg, f, buf, &len, &cls, e);
	if (rc)
		goto fail;
	rc = f == CGROUP_CPU_WEIGHT ? cgroup_parse_u64(buf, len, &got, NULL) : cgroup_parse_max(buf, len, &got, NULL);
	if (rc) {
		cls = CGROUP_CLASS_FAILED;
		rc = pt_error_set(e, PT_IO, "wrote '%s' to '%s' in '%s' but read back '%.*s'", text, file_names[f],
				  cg->path, line_len(buf, buf + len), buf);
		goto fail;
	}
	if (got != v) {
		format_value(got, got_text, sizeof got_text);
		cls = CGROUP_CLASS_FAILED;
		rc = pt_error_set(e, PT_IO, "wrote '%s' to '%s' in '%s' but read back '%s'", text, file_names[f],
				  cg->path, got_text);
		goto fail;
	}
	cgroup_backoff_ok(&st->write_backoff);
	if (applied)
		*applied = v;
	return PT_OK;
fail:
	if (cls == CGROUP_CLASS_GONE)
		return mark_gone(cg, e);
	cgroup_backoff_fail(&st->write_backoff, cls, now_ms);
	return rc;
}
