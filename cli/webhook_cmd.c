/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner webhook`: parse flags into a webhook_config and run it. */
#include "webhook_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/duration.h"
#include "../core/log.h"
#include "../webhook/webhook.h"
#include "args.h"

static const char usage[] =
	"usage: podtuner webhook [options]\n"
	"\n"
	"Serve the mutating admission webhook over HTTPS: POST /mutate, GET /healthz,\n"
	"/readyz and /metrics. Policies and the certificate are reloaded when their\n"
	"files change; SIGTERM drains gracefully.\n"
	"\n"
	"  --listen ADDR:PORT       address to serve on (default " WEBHOOK_LISTEN_DEFAULT ")\n"
	"  --tls-cert FILE          serving certificate chain, PEM (default\n"
	"                           " WEBHOOK_CERT_DEFAULT ")\n"
	"  --tls-key FILE           its private key, PEM (default " WEBHOOK_KEY_DEFAULT ")\n"
	"  -p, --policies PATH      policy file or directory, repeatable (default: the\n"
	"                           built-in policies; reloaded on change)\n"
	"  --threads N              server threads (default: one per CPU)\n"
	"  --max-connections N      open connections at most (default 1024)\n"
	"  --reload-interval DUR    how often to look for changed files (default 2s)\n"
	"  --shutdown-delay DUR     keep serving after SIGTERM with /readyz failing, so\n"
	"                           the Service stops sending first (default 3s)\n"
	"  --grace DUR              then wait this long for requests in flight (default 10s)\n"
	"  --log-level LEVEL        debug, info, warn or error (default info)\n"
	"  --ready-file FILE        write the bound port to FILE once serving\n";

int webhook_cmd_main(int argc, char **argv)
{
	enum { O_LISTEN = 256, O_CERT, O_KEY, O_THREADS, O_MAXCONN, O_RELOAD, O_DELAY, O_GRACE, O_LOG, O_READY };
	static const struct option opts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"policies", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, O_THREADS},
		{"max-connections", required_argument, NULL, O_MAXCONN},
		{"reload-interval", required_argument, NULL, O_RELOAD},
		{"shutdown-delay", required_argument, NULL, O_DELAY},
		{"grace", required_argument, NULL, O_GRACE},
		{"log-level", required_argument, NULL, O_LOG},
		{"ready-file", required_argument, NULL, O_READY},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *paths[64];
	struct webhook_config cfg = {
		.listen = WEBHOOK_LISTEN_DEFAULT,
		.tls_cert = WEBHOOK_CERT_DEFAULT,
		.tls_key = WEBHOOK_KEY_DEFAULT,
		.policy_paths = paths,
		.shutdown_delay_ms = 3000,
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case O_LISTEN: cfg.listen = optarg; break;
		case O_CERT: cfg.tls_cert = optarg; break;
		case O_KEY: cfg.tls_key = optarg; break;
		case 'p':
			ok = cfg.n_policy_paths < sizeof paths / sizeof paths[0];
			if (ok)
				paths[cfg.n_policy_paths++] = optarg;
			break;
		case O_THREADS: ok = args_uint(optarg, 1, 1024, &cfg.threads); break;
		case O_MAXCONN: ok = args_uint(optarg, 1, 1000000, &cfg.max_connections); break;
		case O_RELOAD: ok = args_ms(optarg, 100, 3600000, &cfg.reload_interval_ms); break;
		case O_DELAY: ok = args_ms(optarg, 0, 600000, &cfg.shutdown_delay_ms); break;
		case O_GRACE: ok = args_ms(optarg, 1, 600000, &cfg.grace_ms); break;
		case O_LOG: ok = log_level_parse(optarg, &log_threshold); break;
		case O_READY: cfg.ready_file = optarg; break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
		if (!ok)
			return args_bad_value("webhook", opts, c, optarg);
	}
	if (args_no_operands("webhook", argc, argv, usage))
		return 2;
	return webhook_run(&cfg);
}
