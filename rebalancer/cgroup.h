/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's window on cgroup v2: where a container's cgroup lives
 * (systemd, cgroupfs and runwasi's flat layout), cheap repeated reads of its
 * stat files through descriptors kept open, and verified writes of the only
 * two files the agent owns, container-level cpu.weight and memory.high.
 * Failures are sorted into classes the agent can act on, each with a
 * back-off that is a pure function of the failure count and "now": an
 * unsupported file is re-probed at most once a minute, never every tick. */
#ifndef PT_CGROUP_H
#define PT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

/* Limits on what comes from outside. */
#define CGROUP_PATH_MAX 512  /* a container cgroup directory, root included */
#define CGROUP_ID_LEN 64     /* the hex part of a containerID */
#define CGROUP_UID_MAX 64    /* a pod UID: a UUID (36) or a static pod's hash (32) */
#define CGROUP_READ_MAX 4096 /* bytes read from one stat file */
#define CGROUP_SCAN_MAX 1024 /* entries the fallback search reads in a pod dir */

/* The back-off schedule (see cgroup_backoff_delay). */
#define CGROUP_TRANSIENT_MAX 5            /* next-tick retries before backing off */
#define CGROUP_BACKOFF_MIN_MS (60 * 1000) /* first slow re-probe */
#define CGROUP_BACKOFF_MAX_MS (3600 * 1000)
#define CGROUP_BACKOFF_NEVER INT64_MAX

/* "max" in memory.max and memory.high, and the value to write for it. */
#define CGROUP_UNLIMITED UINT64_MAX

enum cgroup_driver {
	CGROUP_DRIVER_AUTO, /* whichever of kubepods.slice / kubepods exists */
	CGROUP_DRIVER_SYSTEMD,
	CGROUP_DRIVER_CGROUPFS,
};

enum cgroup_qos { CGROUP_QOS_GUARANTEED, CGROUP_QOS_BURSTABLE, CGROUP_QOS_BESTEFFORT };

enum cgroup_runtime { CGROUP_RUNTIME_CONTAINERD, CGROUP_RUNTIME_CRIO, CGROUP_RUNTIME_DOCKER };

/* Which layout a resolved path came from. */
enum cgroup_form {
	CGROUP_FORM_SYSTEMD,  /* kubepods.slice/.../kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope */
	CGROUP_FORM_CGROUPFS, /* kubepods/<qos>/pod<uid>/<id> */
	CGROUP_FORM_FLAT,     /* runwasi: <root>/kubepods-<qos>-pod<uid_>.slice:cri-containerd:<id> */
	CGROUP_FORM_SCAN,     /* found by the fallback search in the pod directory */
};

/* A container to look for, validated: uid and id hold only [0-9a-f-] and
 * [0-9a-f] characters, so they are safe as path components. */
struct cgroup_container {
	enum cgroup_qos qos;
	enum cgroup_runtime runtime;
	char uid[CGROUP_UID_MAX + 1];
	char id[CGROUP_ID_LEN + 1];
};

/* Parse status.qosClass ("Guaranteed", "Burstable", "BestEffort"; case is
 * ignored). PT_INVALID naming the value otherwise; *out untouched. */
enum pt_code cgroup_qos_parse(const char *s, enum cgroup_qos *out, struct pt_error *e) PT_WUR;

/* Fill *out from a pod UID, its QoS class and a
 * status.containerStatuses[].containerID ("containerd://<64 hex>",
 * "cri-o://<64 hex>" or "docker://<64 hex>"). The UID must be 1..64 of
 * [0-9a-fA-F-] (stored lower-case) and the ID exactly 64 lower-case hex, so
 * nothing like "../" can reach a path. PT_INVALID with a message naming the
 * bad input otherwise; *out untouched. */
enum pt_code cgroup_container_parse(struct cgroup_container *out, const char *pod_uid, enum cgroup_qos qos,
				    const char *container_id, struct pt_error *e) PT_WUR;

/* Which driver's tree exists under root: kubepods.slice (systemd) or
 * kubepods (cgroupfs); systemd wins when both exist. PT_NOTFOUND when
 * neither does; *out untouched on failure. */
enum pt_code cgroup_driver_detect(const char *root, enum cgroup_driver *out, struct pt_error *e) PT_WUR;

/* Build the path that form gives for c under root into out (len bytes),
 * touching no file. CGROUP_FORM_FLAT exists for containerd only, and
 * CGROUP_FORM_SCAN cannot be built: both are PT_INVALID. PT_LIMIT when the
 * path does not fit. out is untouched on failure. */
enum pt_code cgroup_path_build(const char *root, enum cgroup_form form, const struct cgroup_container *c,
			       char *out, size_t len, struct pt_error *e) PT_WUR;

/* Find c's cgroup directory under root. Tries, in order: the driver's form
 * (with CGROUP_DRIVER_AUTO, each driver whose tree exists), runwasi's flat
 * form, then a search of the pod directory for an entry whose name holds
 * the ID (at most CGROUP_SCAN_MAX entries; CRI-O's crio-conmon-<id>.scope
 * is skipped: it holds conmon, not the container). Writes the path to out
 * and, if form is not NULL, the form that matched. PT_NOTFOUND naming the
 * path tried first when nothing matches; out and *form untouched then. */
enum pt_code cgroup_resolve(const char *root, enum cgroup_driver driver, const struct cgroup_container *c,
			    char *out, size_t len, enum cgroup_form *form, struct pt_error *e) PT_WUR;

/* The files the agent reads; bit (1u << f) selects f in a read mask. */
enum cgroup_file {
	CGROUP_CPU_WEIGHT,
	CGROUP_CPU_STAT,
	CGROUP_MEMORY_CURRENT,
	CGROUP_MEMORY_MAX,
	CGROUP_MEMORY_HIGH,
	CGROUP_MEMORY_EVENTS,
	CGROUP_CPU_PRESSURE,
	CGROUP_MEMORY_PRESSURE,
	CGROUP_IO_PRESSURE,
	CGROUP_FILE_COUNT
};

#define CGROUP_BIT(f) (1u << (f))
#define CGROUP_ALL ((1u << CGROUP_FILE_COUNT) - 1)

/* "cpu.weight", ...; NULL for a value out of range. */
const char *cgroup_file_name(enum cgroup_file f);

/* What the agent should do about a failure. */
enum cgroup_class {
	CGROUP_CLASS_OK,
	CGROUP_CLASS_GONE,        /* ENOENT on the directory, ENODEV: drop the container */
	CGROUP_CLASS_UNSUPPORTED, /* EINVAL, ERANGE, EOPNOTSUPP, ENOSYS, a missing file: re-probe slowly */
	CGROUP_CLASS_TRANSIENT,   /* EBUSY, EAGAIN, EINTR: retry next tick, CGROUP_TRANSIENT_MAX times */
	CGROUP_CLASS_PERMISSION,  /* EACCES, EPERM, EROFS: report, back off */
	CGROUP_CLASS_FAILED,      /* anything else, bad contents, a read-back mismatch: report, back off */
};

/* The class of an errno value. ENOENT maps to GONE: callers that know the
 * directory still exists (a missing controller file) use UNSUPPORTED. */
enum cgroup_class cgroup_classify(int err);

/* "gone", "unsupported", ...; never NULL. */
const char *cgroup_class_name(enum cgroup_class c);

/* Consecutive failures of one file of one container. */
struct cgroup_backoff {
	unsigned failures;      /* in a row; 0 after a success */
	enum cgroup_class last; /* class of the last failure */
	int64_t next_ms;        /* no attempt before this time */
};

/* How long to wait after the n-th failure in a row (n >= 1) of class c:
 * TRANSIENT waits 0 ms (next tick) for n <= CGROUP_TRANSIENT_MAX and then
 * backs off like UNSUPPORTED; UNSUPPORTED, PERMISSION and FAILED wait
 * CGROUP_BACKOFF_MIN_MS * 2^(n-1), at most CGROUP_BACKOFF_MAX_MS; GONE
 * waits CGROUP_BACKOFF_NEVER. Pure. */
int64_t cgroup_backoff_delay(enum cgroup_class c, unsigned n);

/* Record a failure of class c at now_ms, or a success. */
void cgroup_backoff_fail(struct cgroup_backoff *b, enum cgroup_class c, int64_t now_ms);
void cgroup_backoff_ok(struct cgroup_backoff *b);

/* Whether an attempt is due at now_ms. */
bool cgroup_backoff_ready(const struct cgroup_backoff *b, int64_t now_ms);

/* Parsed file contents. Fields a file does not have stay 0. */
struct cgroup_cpu_stat {
	uint64_t usage_usec, user_usec, system_usec;
	uint64_t nr_periods, nr_throttled, throttled_usec; /* 0 without the cpu controller */
};

struct cgroup_memory_events {
	uint64_t low, high, max, oom, oom_kill;
};

struct cgroup_psi_line {
	double avg10, avg60, avg300; /* percent */
	uint64_t total_usec;
};

struct cgroup_psi {
	struct cgroup_psi_line some, full;
	bool has_full; /* cpu.pressure has no "full" line before Linux 5.13 */
};

/* Pure parsers of a file's bytes (need not be NUL-terminated). Each takes
 * exactly the kernel's format: one value and one "\n" for the single-value
 * files; "key value" lines (unknown keys ignored, as kernels add them) for
 * cpu.stat and memory.events; "some|full avg10=.. avg60=.. avg300=..
 * total=.." for PSI. PT_SYNTAX with a message quoting the offending text
 * otherwise; *out untouched on failure. */
enum pt_code cgroup_parse_u64(const char *buf, size_t len, uint64_t *out, struct pt_error *e) PT_WUR;
/* As cgroup_parse_u64, but "max" gives CGROUP_UNLIMITED. */
enum pt_code cgroup_parse_max(const char *buf, size_t len, uint64_t *out, struct pt_error *e) PT_WUR;
enum pt_code cgroup_parse_cpu_stat(const char *buf, size_t len, struct cgroup_cpu_stat *out,
				   struct pt_error *e) PT_WUR;
enum pt_code cgroup_parse_memory_events(const char *buf, size_t len, struct cgroup_memory_events *out,
					struct pt_error *e) PT_WUR;
enum pt_code cgroup_parse_psi(const char *buf, size_t len, struct cgroup_psi *out, struct pt_error *e) PT_WUR;

/* One read of the files a mask selects; valid says which were read. */
struct cgroup_stats {
	unsigned valid;
	uint64_t cpu_weight;
	struct cgroup_cpu_stat cpu;
	uint64_t memory_current;
	uint64_t memory_max;  /* CGROUP_UNLIMITED for "max" */
	uint64_t memory_high; /* CGROUP_UNLIMITED for "max" */
	struct cgroup_memory_events memory_events;
	struct cgroup_psi cpu_pressure, memory_pressure, io_pressure;
};

/* Per file of an open container: its read descriptor and its record.
 * Reads and writes back off separately, so a kernel that refuses a value
 * does not stop the agent from watching the file. */
struct cgroup_file_state {
	int fd; /* O_RDONLY, opened at first read; -1 before */
	struct cgroup_backoff read_backoff;
	struct cgroup_backoff write_backoff;
	unsigned long reads;  /* read attempts that reached a system call */
	unsigned long writes; /* write attempts that reached a system call:
			       * tests use it to prove there is no storm */
};

/* An open container cgroup. Fields are read-only for callers. Holds one
 * descriptor for the directory and one per file read, so the agent needs
 * about CGROUP_FILE_COUNT + 1 descriptors per container: raise
 * RLIMIT_NOFILE's soft limit at start. */
struct cgroup {
	char path[CGROUP_PATH_MAX];
	int dirfd;
	bool gone; /* the directory went away: drop the container */
	unsigned long page_size;
	struct cgroup_file_state f[CGROUP_FILE_COUNT];
};

/* Open the directory at path (O_DIRECTORY). Every descriptor in *cg is -1
 * before anything can fail, so cgroup_release is always safe after a call.
 * On failure: PT_INVALID (empty path), PT_LIMIT (CGROUP_PATH_MAX bytes or
 * more) or the code of open(2)'s errno (PT_NOTFOUND, PT_PERM, ...), with a
 * message naming the path. */
enum pt_code cgroup_open(struct cgroup *cg, const char *path, struct pt_error *e) PT_WUR;

/* Close every descriptor. Safe twice, and after a failed cgroup_open. */
void cgroup_release(struct cgroup *cg);

/* Read the files in mask at now_ms: each with one pread(fd, buf, n, 0) on a
 * descriptor kept open (seq_read_iter restarts a seq file from scratch when
 * the position is 0, so every pread sees fresh values: fs/seq_file.c), an
 * openat on the directory the first time. Files whose reads are backing
 * off are skipped silently; a file that fails starts its read back-off (a
 * missing file: UNSUPPORTED, the controller is not enabled; bad contents:
 * FAILED), and a later success clears it. The fields of *out named in
 * out->valid are set, even on failure: a partial read is still useful.
 * Returns PT_OK when every due file was read; PT_GONE (and cg->gone) when
 * the container went away (ENODEV from an open descriptor, or its
 * directory is missing); else the code of the first failure, described in
 * e with the file and path. */
enum pt_code cgroup_read(struct cgroup *cg, unsigned mask, int64_t now_ms, struct cgroup_stats *out,
			 struct pt_error *e) PT_WUR;

/* Validate a value for a writable file (CGROUP_CPU_WEIGHT or
 * CGROUP_MEMORY_HIGH): cpu.weight must be 1..10000; memory.high is
 * CGROUP_UNLIMITED or bytes, rounded DOWN to page_size (the kernel rounds
 * down silently: 4095 would become 0), at least one page and below the
 * kernel's "max" (LONG_MAX / page pages). Writes the value to write to
 * *out. PT_INVALID/PT_RANGE naming the value; *out untouched. Pure. */
enum pt_code cgroup_value_check(enum cgroup_file f, uint64_t value, unsigned long page_size, uint64_t *out,
				struct pt_error *e) PT_WUR;

/* Validate value, write "<n>\n" (or "max\n") to f with one write(2) on a
 * fresh O_WRONLY descriptor, read it back and compare. *applied (if not
 * NULL) gets the value that was written and verified. Fails without any
 * system call with PT_INVALID/PT_RANGE for a bad value, PT_GONE once
 * cg->gone, and PT_AGAIN while the file's writes are backing off. A failed
 * write is classified into f's write_backoff (PT_GONE and cg->gone for a
 * vanished container); a read-back that differs is PT_IO naming both
 * values, class FAILED. A success clears the back-off. Messages look like:
 * cannot write '300' to 'cpu.weight' in '/sys/fs/cgroup/...': Invalid
 * argument (EINVAL). *applied untouched on failure. */
enum pt_code cgroup_write(struct cgroup *cg, enum cgroup_file f, uint64_t value, int64_t now_ms,
			  uint64_t *applied, struct pt_error *e) PT_WUR;

#endif
