/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner rebalance`: the node agent. Each tick it takes the node's pods
 * from the pod source, reads the tuned containers' cgroups, scrapes their
 * metrics, evaluates the policies' triggers, plans with the pure planner,
 * and applies the plan: every write is checkpointed before it is made and
 * read back after. rlimits from the webhook's annotation are applied with
 * prlimit(2). */
#ifndef PT_AGENT_H
#define PT_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

#define AGENT_CHECKPOINT_DEFAULT "/var/lib/podtuner/checkpoint.json"
#define AGENT_LISTEN_DEFAULT ":9101"
#define AGENT_MAX_CONTAINERS 4096 /* tracked at once; more are skipped, counted */

enum agent_events {
	AGENT_EVENTS_AUTO, /* on with the apiserver pod source, off with a pods file */
	AGENT_EVENTS_ON,   /* also with a pods file (credentials from --kubeconfig or in-cluster) */
	AGENT_EVENTS_OFF,
};

struct agent_config {
	const char *cgroup_root;         /* default CGROUP_ROOT_DEFAULT */
	enum cgroup_driver driver;       /* AUTO detects */
	const char *proc_root;           /* default "/proc" (prlimit) */
	const char *pods_file;           /* a PodList file; NULL: the apiserver */
	const char *kubeconfig;          /* NULL: in-cluster, then ~/.kube/config */
	const char *node_name;           /* NULL: $NODE_NAME */
	const char *const *policy_paths; /* none: the built-in policies */
	size_t n_policy_paths;
	const char *checkpoint;          /* default AGENT_CHECKPOINT_DEFAULT */
	const char *listen;              /* /metrics and /healthz; default AGENT_LISTEN_DEFAULT; "" = off */
	unsigned interval_ms;            /* tick; default 1000 */
	unsigned rlimit_interval_ms;     /* default 5000 */
	bool dry_run;                    /* plan and log, write nothing */
	bool restore_on_exit;            /* put every baseline back on SIGTERM */
	enum agent_events events;        /* a Kubernetes Event on the pod per change */
	const char *ready_file;          /* optional: written after the first tick (tests) */
};

/* Run until SIGTERM or SIGINT. Returns the exit status: 0 after a clean
 * stop, 1 when the agent cannot start (logged). */
int agent_run(const struct agent_config *cfg);

/* `--restore`: put back every baseline the checkpoint holds, save the
 * emptied checkpoint, and return the exit status (0: all restored or
 * gone, 1: some could not be, or the checkpoint is unreadable). */
int agent_restore(const struct agent_config *cfg);

#endif
