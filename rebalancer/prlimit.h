/* SPDX-License-Identifier: Apache-2.0 */
/* Apply a container's rlimits (core/rlimit.h specs, from the webhook's
 * annotation) to every process in its cgroup with prlimit(2), including
 * processes that appear later: each call handles the processes it has not
 * handled yet, remembered by pid and start time so a reused pid counts as
 * new. Only limits that differ are set. Pure parsers are exported for
 * tests. Needs CAP_SYS_RESOURCE and the host's pid namespace. */
#ifndef PT_PRLIMIT_H
#define PT_PRLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../core/rlimit.h"

/* Limits on what comes from outside. */
#define PRLIMIT_PIDS_MAX 4096           /* processes handled per container and call */
#define PRLIMIT_PROCS_MAX (64 * 1024)   /* bytes read from one cgroup.procs */
#define PRLIMIT_SUBGROUPS_MAX 8         /* child cgroups read too (crun's "container") */
#define PRLIMIT_STAT_MAX 2048           /* bytes read from one /proc/<pid>/stat */
#define PRLIMIT_SPECS_MAX 16            /* rlimits per container */

/* A process already handled. */
struct prlimit_proc {
	int pid;
	uint64_t start; /* /proc/<pid>/stat field 22, clock ticks since boot */
};

/* What one container's calls remember. Caller-allocated; one per
 * container. */
struct prlimit_state {
	struct prlimit_proc *done; /* sorted by pid */
	size_t n;
	size_t cap;
	uint64_t seen_hash; /* of the specs and the cgroup.procs bytes last handled */
	uint64_t spec_hash; /* of the specs that done[] was handled with */
	bool have_hash;
};

/* What one call did. */
struct prlimit_report {
	unsigned procs;   /* pids listed in the cgroup (and its subgroups) */
	unsigned checked; /* processes examined: those not handled before */
	unsigned changed; /* processes that had at least one limit set */
	unsigned gone;    /* processes that exited meanwhile (ESRCH): fine */
	unsigned failed;  /* processes with a limit that could not be set */
};

void prlimit_state_init(struct prlimit_state *st);
void prlimit_state_release(struct prlimit_state *st);

/* Forget every process, so the next call examines them all again: a failed
 * process (EPERM) is not retried until then. The specs changing does the
 * same by itself. */
void prlimit_state_reset(struct prlimit_state *st);

/* Apply specs[0..n) to the processes listed in <cgroup_dir>/cgroup.procs
 * and in the cgroup.procs of up to PRLIMIT_SUBGROUPS_MAX child cgroups,
 * skipping those handled by earlier calls (same pid and start time, read
 * from <proc_root>/<pid>/stat; proc_root is "/proc" outside tests). When
 * the listed bytes and the specs are exactly those of the last call,
 * returns at once. For each new process, reads every limit and sets, with
 * one prlimit(2), only those that differ. A process that exits meanwhile
 * (ESRCH, or no stat file) is counted as gone, not as a failure. A limit
 * that cannot be set (EPERM: a hard limit raised without CAP_SYS_RESOURCE
 * or above fs.nr_open for nofile) is counted, the first such failure is
 * described in e, e.g. cannot set 'nofile' of pid 42 to 1024:2000000 (now
 * 1024:4096): Operation not permitted (EPERM), and the call goes on; the
 * process is remembered all the same, so it is not retried every call.
 * Returns PT_OK, that first failure's code, PT_GONE when cgroup_dir or its
 * cgroup.procs is gone, PT_INVALID for a bad spec list, PT_LIMIT (the
 * first PRLIMIT_PIDS_MAX processes still handled). rep (if not NULL) is
 * always filled. Costs a directory read and a file read per call, and a
 * stat read plus a prlimit per limit for each new process: call it every
 * few seconds, not every tick. */
enum pt_code prlimit_apply(struct prlimit_state *st, const char *cgroup_dir, const char *proc_root,
			   const struct rlimit_spec *specs, size_t n, struct prlimit_report *rep,
			   struct pt_error *e) PT_WUR;

/* Parse cgroup.procs bytes (one decimal pid > 0 per line) into pids[0..
 * *n). PT_SYNTAX naming the bad line; PT_LIMIT past max pids (the first
 * max are stored and *n is max). Pure. */
enum pt_code prlimit_parse_pids(const char *buf, size_t len, int *pids, size_t max, size_t *n,
				struct pt_error *e) PT_WUR;

/* The start time (field 22) from /proc/<pid>/stat bytes. The command name
 * (field 2) is in parentheses and may itself hold spaces and ')', so
 * fields are counted from the last ')'. PT_SYNTAX otherwise; *out
 * untouched. Pure. */
enum pt_code prlimit_parse_start(const char *buf, size_t len, uint64_t *out, struct pt_error *e) PT_WUR;

#endif
