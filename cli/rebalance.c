/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner rebalance`: parse flags into an agent_config and run the node
 * agent, or restore every baseline and exit. */
#include "rebalance.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../rebalancer/agent.h"
#include "args.h"

static const char usage[] =
	"usage: podtuner rebalance [options]\n"
	"       podtuner rebalance --restore [--checkpoint FILE]\n"
	"\n"
	"The node agent: watch this node's pods, read their cgroups and metrics,\n"
	"evaluate the policies' triggers, move cpu.weight within pools and widen\n"
	"memory.high under pressure, apply rlimits. Every change is checkpointed\n"
	"before it is written and can be reverted with --restore.\n"
	"\n"
	"  -p, --policies PATH     policy file or directory, repeatable (default: the\n"
	"                          built-in policies; reloaded on change)\n"
	"  --pods-file FILE        take pods from a PodList file (re-read on change)\n"
	"                          instead of the apiserver\n"
	"  --kubeconfig FILE       apiserver credentials (default: in-cluster)\n"
	"  --node-name NAME        this node (default: $NODE_NAME)\n"
	"  --cgroup-root DIR       cgroup v2 mount (default " CGROUP_ROOT_DEFAULT ")\n"
	"  --cgroup-driver D       auto, systemd or cgroupfs (default auto)\n"
	"  --proc-root DIR         /proc of the node's processes (default /proc)\n"
	"  --checkpoint FILE       durable state (default " AGENT_CHECKPOINT_DEFAULT ")\n"
	"  --interval DUR          tick (default 1s)\n"
	"  --rlimit-interval DUR   how often rlimits are re-applied (default 5s)\n"
	"  --listen ADDR:PORT      /metrics and /healthz (default " AGENT_LISTEN_DEFAULT "; \"\" turns off)\n"
	"  --dry-run               plan and log, write nothing\n"
	"  --restore-on-exit       put every baseline back on SIGTERM\n"
	"  --events, --no-events   a Kubernetes Event on the pod for each change (default:\n"
	"                          on with the apiserver, off with --pods-file)\n"
	"  --restore               put every baseline back now, and exit\n"
	"  --log-level LEVEL       debug, info, warn or error (default info)\n"
	"  --ready-file FILE       write the metrics port to FILE after the first tick\n";

int rebalance_main(int argc, char **argv)
{
	enum {
		O_PODS = 256, O_KUBE, O_NODE, O_ROOT, O_DRIVER, O_PROC, O_CKPT, O_INTERVAL, O_RLIM, O_LISTEN, O_DRY,
		O_ROE, O_RESTORE, O_LOG, O_READY, O_EVENTS, O_NO_EVENTS
	};
	static const struct option opts[] = {
		{"policies", required_argument, NULL, 'p'},
		{"pods-file", required_argument, NULL, O_PODS},
		{"kubeconfig", required_argument, NULL, O_KUBE},
		{"node-name", required_argument, NULL, O_NODE},
		{"cgroup-root", required_argument, NULL, O_ROOT},
		{"cgroup-driver", required_argument, NULL, O_DRIVER},
		{"proc-root", required_argument, NULL, O_PROC},
		{"checkpoint", required_argument, NULL, O_CKPT},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"rlimit-interval", required_argument, NULL, O_RLIM},
		{"listen", required_argument, NULL, O_LISTEN},
		{"dry-run", no_argument, NULL, O_DRY},
		{"restore-on-exit", no_argument, NULL, O_ROE},
		{"restore", no_argument, NULL, O_RESTORE},
		{"log-level", required_argument, NULL, O_LOG},
		{"ready-file", required_argument, NULL, O_READY},
		{"events", no_argument, NULL, O_EVENTS},
		{"no-events", no_argument, NULL, O_NO_EVENTS},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *paths[64];
	struct agent_config cfg = {.policy_paths = paths};
	bool do_restore = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 'p':
			ok = cfg.n_policy_paths < sizeof paths / sizeof paths[0];
			if (ok)
				paths[cfg.n_policy_paths++] = optarg;
			break;
		case O_PODS: cfg.pods_file = optarg; break;
		case O_KUBE: cfg.kubeconfig = optarg; break;
		case O_NODE: cfg.node_name = optarg; break;
		case O_ROOT: cfg.cgroup_root = optarg; break;
		case O_DRIVER:
			if (strcmp(optarg, "auto") == 0)
				cfg.driver = CGROUP_DRIVER_AUTO;
			else if (strcmp(optarg, "systemd") == 0)
				cfg.driver = CGROUP_DRIVER_SYSTEMD;
			else if (strcmp(optarg, "cgroupfs") == 0)
				cfg.driver = CGROUP_DRIVER_CGROUPFS;
			else
				ok = false;
			break;
		case O_PROC: cfg.proc_root = optarg; break;
		case O_CKPT: cfg.checkpoint = optarg; break;
		case O_INTERVAL: ok = args_ms(optarg, 50, 600000, &cfg.interval_ms); break;
		case O_RLIM: ok = args_ms(optarg, 100, 3600000, &cfg.rlimit_interval_ms); break;
		case O_LISTEN: cfg.listen = optarg; break;
		case O_DRY: cfg.dry_run = true; break;
		case O_ROE: cfg.restore_on_exit = true; break;
		case O_RESTORE: do_restore = true; break;
		case O_LOG: ok = log_level_parse(optarg, &log_threshold); break;
		case O_READY: cfg.ready_file = optarg; break;
		case O_EVENTS: cfg.events = AGENT_EVENTS_ON; break;
		case O_NO_EVENTS: cfg.events = AGENT_EVENTS_OFF; break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
		if (!ok)
			return args_bad_value("rebalance", opts, c, optarg);
	}
	if (args_no_operands("rebalance", argc, argv, usage))
		return 2;
	if (do_restore) {
		if (!cfg.checkpoint)
			cfg.checkpoint = AGENT_CHECKPOINT_DEFAULT;
		return agent_restore(&cfg);
	}
	return agent_run(&cfg);
}
