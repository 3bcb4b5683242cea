/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's loop. State is one table of pods, each with the
 * containers a policy tunes (a rebalance section, or rlimits to apply);
 * everything else on the node is ignored. A tick runs
 *   pods -> cgroups + scrape -> series -> triggers -> plan -> apply -> checkpoint
 * on the main thread; the pod source and the HTTP server have their own.
 * Invariant: a cgroup value is written only after its intent is on disk,
 * and only by this thread. */
#include "agent.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/version.h"
#include "../core/httpd.h"
#include "../core/json.h"
#include "../core/kube.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/policy.h"
#include "../core/quantity.h"
#include "../core/rlimit.h"
#include "../core/tune.h"
#include "../core/watch.h"
#include "checkpoint.h"
#include "eval.h"
#include "events.h"
#include "planner.h"
#include "podsrc.h"
#include "prlimit.h"
#include "scrape.h"
#include "series.h"

#define AGENT_MAX_RLIMITS 16
#define AGENT_RESOLVE_RETRY_MS 5000 /* a container whose cgroup is not there yet */
#define AGENT_EXPIRE_MS (10 * 60 * 1000)
#define AGENT_SNAPSHOT_MAX ((size_t)8 << 20)

struct apod;

/* Where a tick's CPU goes, exported per phase. */
enum phase { PH_PODS, PH_CGROUP, PH_SCRAPE, PH_INGEST, PH_EVALUATE, PH_PLAN, PH_APPLY, PH_OTHER, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {"pods",     "cgroup", "scrape", "ingest",
						  "evaluate", "plan",   "apply",  "other"};

struct actr {
	struct apod *pod;
	char name[64];
	char key[CGROUP_ID_LEN + 1]; /* the container ID: unique per container instance */
	struct cgroup_container cc;
	const struct policy *policy; /* in the agent's current set */
	unsigned mask;               /* cgroup files to read */
	bool cg_open;
	struct cgroup cg;
	int64_t resolve_next_ms;
	struct cgroup_stats st;
	bool st_ok;
	int64_t mem_req, mem_lim; /* bytes; 0 = none */
	int64_t mem_base;         /* KEP-2570 memory.high, adopted value, or -1 */
	struct rlimit_spec rl[AGENT_MAX_RLIMITS];
	size_t n_rl;
	struct prlimit_state prl;
	int64_t prl_next_ms;
	unsigned prl_failed;
	struct eval_trigger *trig;
	double *trig_value;
	size_t n_trig;
	bool cpu_hot, mem_hot;
	int64_t cpu_quiet_ms, mem_quiet_ms, cpu_changed_ms, mem_changed_ms;
	int64_t w_now, h_now; /* as last read, -1 unknown */
};

/* A pool whose members live in several pods moves cpu.weight between the
 * pods' slices: the kernel divides CPU by cpu.weight among siblings only,
 * and containers of different pods are not siblings (measured in
 * tests/vm/README.md). The kubelet writes a pod slice's resources only when
 * it creates it or resizes the pod (pkg/kubelet/cm/pod_container_manager_
 * linux.go EnsureExists), and a resize is adopted like any outside change. */
struct pod_unit {
	bool active;      /* this tick, cpu.weight moves at this pod's slice */
	bool open;
	struct cgroup cg; /* the pod slice */
	char key[CGROUP_UID_MAX + 8]; /* "pod-<uid>": its checkpoint key */
	char pool[96];    /* pool and QoS class: only siblings share a pool */
	const struct policy_rebalance *rb;
	int64_t w_now;
	bool read_ok;
	int64_t changed_ms, quiet_ms;
	bool hot;
};

struct apod {
	char uid[CGROUP_UID_MAX + 1];
	char ns[64];
	char name[254];
	enum cgroup_qos qos;
	struct pod_unit unit;
	char *match; /* the pod reduced to what policy matching reads, JSON */
	long timeout_ms;
	struct scrape_sched sched;
	bool page_gone;    /* its target went away or moved: its page series go stale */
	struct scrape_target *target;
	struct actr *ctrs;
	size_t n_ctrs;
	bool seen;
};

struct agent {
	const struct agent_config *cfg;
	struct policy_set *ps;
	struct series_store *series;
	struct podsrc *src;
	struct kube_config *kube;
	struct events *events;
	struct events_stats ev_seen; /* counted into the metrics so far */
	struct scrape *scraper;
	struct checkpoint cp;
	bool cp_dirty;
	struct watch pol_watch;
	struct apod **pods;
	size_t n_pods, cap_pods;
	size_t n_ctrs;
	int64_t page;
	struct arena scratch; /* per tick */
	struct scrape_target **targets;
	struct plan_item *items;
	struct actr **item_ctrs;
	struct apod **item_pods; /* non-NULL: the item is that pod's slice */
	struct plan_write *writes;
	size_t cap_work;

	/* HTTP side */
	struct httpd *srv;
	struct metrics *m;
	struct metrics_counter *ticks, *scrape_ok, *scrape_err, *writes_ok, *writes_err, *writes_dry, *adopted,
		*prl_fail, *reloads_ok, *reloads_err, *skipped_ctrs, *ev_posted, *ev_failed, *ev_dropped,
		*ev_throttled;
	struct metrics_counter *scrape_bad_lines, *phase_cpu[PH_COUNT];
	struct metrics_histogram *tick_seconds, *tick_cpu;
	struct metrics_gauge *g_pods, *g_ctrs, *g_series, *g_series_bytes, *g_synced;
	pthread_mutex_t snap_mu;
	struct buf snap; /* per-container series, rendered at the end of each tick */
	bool ready;      /* guarded by snap_mu */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Charge the thread CPU used since *t to phase p, and restart *t. */
static void lap(struct agent *ag, enum phase p, double *t)
{
	double now = thread_cpu_s();

	metrics_counter_add_dbl(ag->phase_cpu[p], now - *t);
	*t = now;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* --- policies ---------------------------------------------------------- */

static struct policy_set *load_policies(const struct agent_config *cfg)
{
	struct policy_source src[WATCH_MAX_PATHS];
	struct policy_diags d = {0};
	struct policy_set *ps = NULL;
	size_t n = cfg->n_policy_paths < WATCH_MAX_PATHS ? cfg->n_policy_paths : WATCH_MAX_PATHS;
	char line[1024];
	enum pt_code rc;

	for (size_t i = 0; i < n; i++)
		src[i] = (struct policy_source){.path = cfg->policy_paths[i]};
	rc = n ? policy_set_load(src, n, &ps, &d) : policy_set_load_embedded(&ps, &d);
	for (size_t i = 0; i < d.n; i++)
		log_err(LOG_ERROR, "invalid policy", pt_error_format(&d.v[i], line, sizeof line));
	if (rc && !d.n)
		log_err(LOG_ERROR, "cannot load policies", pt_strerror(rc));
	policy_diags_release(&d);
	for (size_t i = 0; !rc && i < ps->n; i++) {
		const struct policy *p = &ps->v[i];
		struct log_line l;

		/* The policy's own check cannot know the tick. */
		if (p->rebalance.scrape_interval_ms && p->rebalance.scrape_interval_ms < cfg->interval_ms &&
		    log_begin(&l, LOG_WARN, "scrape.interval is shorter than the tick: scraped every tick")) {
			log_str(&l, "policy", p->name);
			log_int(&l, "scrape_interval_ms", (int64_t)p->rebalance.scrape_interval_ms);
			log_int(&l, "interval_ms", cfg->interval_ms);
			log_end(&l);
		}
	}
	return rc ? NULL : ps;
}

/* The series store keeps history only for what the triggers reference. */
static enum pt_code build_series(struct agent *ag, struct policy_set *ps, struct series_store **out)
{
	const struct promql_expr **xs;
	size_t n = 0, k = 0;
	struct series_config sc = {.interval_ms = ag->cfg->interval_ms};
	struct pt_error err;
	enum pt_code rc;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->v[i].rebalance.n_triggers;
	if (!(xs = calloc(n ? n : 1, sizeof *xs)))
		return PT_NOMEM;
	for (size_t i = 0; i < ps->n; i++)
		for (size_t t = 0; t < ps->v[i].rebalance.n_triggers; t++)
			xs[k++] = ps->v[i].rebalance.triggers[t].expr;
	rc = series_new(&sc, xs, k, out, &err);
	if (rc)
		log_err(LOG_ERROR, "cannot build the series store", err.msg);
	free(xs);
	return rc;
}

/* --- the pod table ----------------------------------------------------- */

/* A container the agent stops tuning while it still runs (its pod's
 * annotations or the policies changed) gets its baselines back. */
static void ctr_restore(struct agent *ag, struct actr *c, int64_t now)
{
	static const enum cgroup_file files[] = {CGROUP_CPU_WEIGHT, CGROUP_MEMORY_HIGH};
	struct pt_error err;

	for (size_t i = 0; i < 2 && c->cg_open && !c->cg.gone && !ag->cfg->dry_run; i++) {
		struct checkpoint_entry *en = checkpoint_find(&ag->cp, c->key, cgroup_file_name(files[i]));

		if (en && en->has_applied && en->applied != en->baseline &&
		    cgroup_write(&c->cg, files[i], en->baseline, now, NULL, &err) != PT_OK && !c->cg.gone)
			log_err(LOG_WARN, "cannot restore a container no longer tuned", err.msg);
	}
}

static void ctr_release(struct agent *ag, struct actr *c, bool forget)
{
	if (forget && c->key[0])
		ctr_restore(ag, c, wall_ms());
	if (c->cg_open)
		cgroup_release(&c->cg);
	c->cg_open = false;
	prlimit_state_release(&c->prl);
	free(c->trig);
	free(c->trig_value);
	c->trig = NULL;
	c->trig_value = NULL;
	c->n_trig = 0;
	if (forget && c->key[0]) {
		series_drop(ag->series, c->key);
		if (checkpoint_remove(&ag->cp, c->key, NULL))
			ag->cp_dirty = true;
	}
}

/* Stop moving a pod slice's weight: put its baseline back (when the
 * slice still exists) and forget it. */
static void unit_release(struct agent *ag, struct apod *p, bool forget)
{
	struct pod_unit *u = &p->unit;
	struct checkpoint_entry *en;
	struct pt_error err;

	if (u->open && forget && !ag->cfg->dry_run && !u->cg.gone &&
	    (en = checkpoint_find(&ag->cp, u->key, "cpu.weight")) && en->has_applied && en->applied != en->baseline &&
	    cgroup_write(&u->cg, CGROUP_CPU_WEIGHT, en->baseline, wall_ms(), NULL, &err) != PT_OK && !u->cg.gone)
		log_err(LOG_WARN, "cannot restore a pod slice's cpu.weight", err.msg);
	if (u->open)
		cgroup_release(&u->cg);
	u->open = u->active = u->read_ok = false;
	if (forget && u->key[0] && checkpoint_remove(&ag->cp, u->key, NULL))
		ag->cp_dirty = true;
}

static void pod_free(struct agent *ag, struct apod *p, bool forget)
{
	unit_release(ag, p, forget);
	for (size_t i = 0; i < p->n_ctrs; i++)
		ctr_release(ag, &p->ctrs[i], forget);
	ag->n_ctrs -= p->n_ctrs;
	scrape_target_free(ag->scraper, p->target);
	free(p->ctrs);
	free(p->match);
	free(p);
}

static struct apod **pod_slot(struct agent *ag, const char *uid)
{
	for (size_t i = 0; i < ag->n_pods; i++)
		if (strcmp(ag->pods[i]->uid, uid) == 0)
			return &ag->pods[i];
	return NULL;
}

static void pod_remove(struct agent *ag, struct apod **slot, bool forget)
{
	pod_free(ag, *slot, forget);
	*slot = ag->pods[--ag->n_pods];
}

/* Which cgroup files a container's policy needs read each tick. */
static unsigned read_mask(const struct agent *ag, const struct policy *p)
{
	static const struct {
		const char *metric;
		enum cgroup_file f;
	} derived[] = {
		{SERIES_CPU_USAGE, CGROUP_CPU_STAT},
		{SERIES_CPU_USER, CGROUP_CPU_STAT},
		{SERIES_CPU_SYSTEM, CGROUP_CPU_STAT},
		{SERIES_CPU_PERIODS, CGROUP_CPU_STAT},
		{SERIES_CPU_THROTTLED_PERIODS, CGROUP_CPU_STAT},
		{SERIES_CPU_THROTTLED, CGROUP_CPU_STAT},
		{SERIES_MEM_USAGE, CGROUP_MEMORY_CURRENT},
		{SERIES_OOM_EVENTS, CGROUP_MEMORY_EVENTS},
		{SERIES_PSI_CPU_SOME, CGROUP_CPU_PRESSURE},
		{SERIES_PSI_CPU_FULL, CGROUP_CPU_PRESSURE},
		{SERIES_PSI_MEM_SOME, CGROUP_MEMORY_PRESSURE},
		{SERIES_PSI_MEM_FULL, CGROUP_MEMORY_PRESSURE},
		{SERIES_PSI_IO_SOME, CGROUP_IO_PRESSURE},
		{SERIES_PSI_IO_FULL, CGROUP_IO_PRESSURE},
	};
	unsigned mask = 0;

	if (!p || !p->rebalance.present)
		return 0;
	if (p->rebalance.pool)
		mask |= CGROUP_BIT(CGROUP_CPU_WEIGHT);
	for (size_t i = 0; i < p->rebalance.n_triggers; i++) {
		if (p->rebalance.triggers[i].grant == POLICY_GRANT_MEMORY)
			mask |= CGROUP_BIT(CGROUP_MEMORY_CURRENT) | CGROUP_BIT(CGROUP_MEMORY_MAX) |
				CGROUP_BIT(CGROUP_MEMORY_HIGH);
	}
	for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
		if (series_wants(ag->series, derived[i].metric))
			mask |= CGROUP_BIT(derived[i].f);
	return mask;
}

static bool policy_scrapes(const struct agent *ag, const struct policy *p)
{
	for (size_t i = 0; p && i < p->rebalance.n_triggers; i++) {
		const struct promql_expr *x = p->rebalance.triggers[i].expr;
		for (size_t k = 0; k < x->n_metrics; k++)
			if (strncmp(x->metrics[k], "container_", 10) != 0 && series_wants(ag->series, x->metrics[k]))
				return true;
	}
	return false;
}

/* Give a container the triggers of its (possibly new) policy. */
static void ctr_assign(struct agent *ag, struct actr *c, const struct policy *p, int64_t now)
{
	size_t n = p ? p->rebalance.n_triggers : 0;

	if (c->policy == p && c->n_trig == n && (n == 0 || c->trig))
		return;
	free(c->trig);
	free(c->trig_value);
	c->trig = n ? calloc(n, sizeof *c->trig) : NULL;
	c->trig_value = n ? calloc(n, sizeof *c->trig_value) : NULL;
	c->n_trig = c->trig && c->trig_value ? n : 0;
	c->policy = p;
	c->mask = read_mask(ag, p);
	c->cpu_hot = c->mem_hot = false;
	c->cpu_quiet_ms = c->mem_quiet_ms = now;
}

/* rlimits the webhook recorded for this container (TUNE_ANN_RLIMITS). */
static void parse_rlimits(const cJSON *pod, const char *container, struct actr *c)
{
	const char *ann = json_get_str(json_path(pod, "metadata", "annotations", NULL), TUNE_ANN_RLIMITS);
	cJSON *root, *mine, *it;
	struct pt_error err;

	c->n_rl = 0;
	if (!ann || !(root = cJSON_Parse(ann)))
		return;
	mine = json_get(root, container);
	cJSON_ArrayForEach(it, mine) {
		struct rlimit_spec rs;

		if (c->n_rl == AGENT_MAX_RLIMITS || !cJSON_IsString(it) || !it->string)
			continue;
		if (rlimit_parse(it->string, it->valuestring, &rs, &err) != PT_OK) {
			log_err(LOG_WARN, "ignoring a bad rlimit in the pod annotation", err.msg);
			continue;
		}
		c->rl[c->n_rl++] = rs;
	}
	cJSON_Delete(root);
}

/* The container's running instance: its containerID, if it runs. */
static const char *running_id(const cJSON *pod, const char *name)
{
	const cJSON *cs;

	cJSON_ArrayForEach(cs, json_path(pod, "status", "containerStatuses", NULL)) {
		const char *n = json_get_str(cs, "name");
		if (n && strcmp(n, name) == 0 && json_path(cs, "state", "running", NULL))
			return json_get_str(cs, "containerID");
	}
	return NULL;
}

static int64_t mem_quantity(const cJSON *ct, const char *which)
{
	const char *s = json_get_str(json_path(ct, "resources", which, NULL), "memory");
	struct quantity q;

	if (!s || quantity_parse(s, strlen(s), &q, NULL) != PT_OK)
		return 0;
	return quantity_value(&q);
}

/* What policy matching and the scrape URL read, kept so a policy reload
 * can re-match without a relist: metadata (namespace, labels,
 * annotations), the containers' names and images, and the pod IP. */
static char *reduce_pod(const cJSON *pod)
{
	cJSON *r = cJSON_CreateObject(), *md, *spec, *arr, *ct;
	const cJSON *c;
	char *s = NULL;

	if (!r)
		return NULL;
	md = cJSON_AddObjectToObject(r, "metadata");
	spec = cJSON_AddObjectToObject(r, "spec");
	arr = spec ? cJSON_AddArrayToObject(spec, "containers") : NULL;
	if (!md || !arr)
		goto out;
	cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(json_path(pod, "metadata", "labels", NULL), true));
	cJSON_AddItemToObject(md, "annotations",
			      cJSON_Duplicate(json_path(pod, "metadata", "annotations", NULL), true));
	if (json_get_str(json_get(pod, "spec"), "runtimeClassName"))
		cJSON_AddStringToObject(spec, "runtimeClassName", json_get_str(json_get(pod, "spec"), "runtimeClassName"));
	if (json_get_str(json_get(pod, "status"), "podIP"))
		cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "status"), "podIP",
					json_get_str(json_get(pod, "status"), "podIP"));
	cJSON_ArrayForEach(c, json_path(pod, "spec", "containers", NULL)) {
		if (!(ct = cJSON_CreateObject()))
			goto out;
		cJSON_AddItemToArray(arr, ct);
		cJSON_AddStringToObject(ct, "name", json_get_str(c, "name") ? json_get_str(c, "name") : "");
		cJSON_AddStringToObject(ct, "image", json_get_str(c, "image") ? json_get_str(c, "image") : "");
	}
	s = cJSON_PrintUnformatted(r);
out:
	cJSON_Delete(r);
	return s;
}

static const struct policy *match(struct agent *ag, const cJSON *pod, const char *ns, const char *container)
{
	struct tune_input in = {.pod = pod, .namespace = ns, .policies = ag->ps, .path_prefix = ""};
	const struct policy *p;

	p = tune_match(&in, container, &ag->scratch);
	return p;
}

/* What a pod's scrape follows: the first of its containers' policies whose
 * triggers read the page (port, path, timeout), as often as the most
 * frequent of them asks, so that every policy's ranges hold their scrapes. */
struct scrape_want {
	const struct policy *pol;
	uint64_t every_ms; /* 0: none yet */
};

static void scrape_want_add(struct agent *ag, struct scrape_want *w, const struct policy *pol)
{
	uint64_t every;

	if (!pol || !policy_scrapes(ag, pol))
		return;
	if (!w->pol)
		w->pol = pol;
	every = pol->rebalance.scrape_interval_ms ? pol->rebalance.scrape_interval_ms : 1; /* every tick */
	if (!w->every_ms || every < w->every_ms)
		w->every_ms = every;
}

static void scrape_url(struct agent *ag, struct apod *p, const cJSON *pod, const struct scrape_want *w, int64_t now)
{
	const struct policy *pol = w->pol;
	const cJSON *ann = json_path(pod, "metadata", "annotations", NULL);
	const char *ip = json_get_str(json_get(pod, "status"), "podIP");
	const char *port = json_get_str(ann, "prometheus.io/port"), *path = json_get_str(ann, "prometheus.io/path");
	const char *want = json_get_str(ann, "prometheus.io/scrape");
	char portbuf[8];
	struct pt_error err;
	long timeout;
	char url[SCRAPE_MAX_URL_LEN];

	url[0] = '\0';
	if (pol && pol->rebalance.scrape_port) {
		snprintf(portbuf, sizeof portbuf, "%u", pol->rebalance.scrape_port);
		port = portbuf;
	} else if (!want || strcmp(want, "true") != 0) {
		port = NULL; /* the prometheus.io annotations are opt-in */
	}
	if (pol && pol->rebalance.scrape_path)
		path = pol->rebalance.scrape_path;
	if (ip && *ip && port && pol)
		snprintf(url, sizeof url, strchr(ip, ':') ? "http://[%s]:%s%s" : "http://%s:%s%s", ip, port,
			 path && *path == '/' ? path : "/metrics");
	timeout = pol && pol->rebalance.scrape_timeout_ms ? (long)pol->rebalance.scrape_timeout_ms
							   : SCRAPE_DEFAULT_TIMEOUT_MS;
	scrape_sched_set(&p->sched, w->every_ms, ag->cfg->interval_ms, p->uid, p->target != NULL, now);
	/* The target keeps its URL and timeout; without one, retry a URL
	 * that failed. */
	if (strcmp(url, p->target ? scrape_target_url(p->target) : "") == 0) {
		if (timeout == p->timeout_ms || !p->target)
			return;
	} else if (p->target) {
		/* Another endpoint (or none): what the old one said is stale. */
		p->page_gone = true;
	}
	p->timeout_ms = timeout;
	scrape_target_free(ag->scraper, p->target);
	p->target = NULL;
	if (url[0] && !(p->target = scrape_target_new(ag->scraper, url, p->timeout_ms, &err)))
		log_err(LOG_WARN, "cannot scrape this pod", err.msg);
	else if (p->target)
		scrape_target_set_user(p->target, p);
}

/* Build or update a pod's entry from its object; a pod that has nothing
 * for the agent to do is dropped. */
static void pod_upsert(struct agent *ag, const struct podsrc_event *ev, int64_t now)
{
	const cJSON *pod = ev->pod, *ct;
	struct apod **slot = pod_slot(ag, ev->uid), *p = slot ? *slot : NULL;
	const char *qos_s = json_get_str(json_get(pod, "status"), "qosClass");
	enum cgroup_qos qos;
	struct actr *nc = NULL;
	size_t n = 0, cap = 0;
	struct scrape_want sw = {0};

	if (!qos_s || cgroup_qos_parse(qos_s, &qos, NULL) != PT_OK)
		qos = CGROUP_QOS_BURSTABLE;
	cJSON_ArrayForEach(ct, json_path(pod, "spec", "containers", NULL)) {
		const char *name = json_get_str(ct, "name"), *id;
		const struct policy *pol;
		struct actr tmp = {0}, *old = NULL;
		struct pt_error err;

		if (!name)
			continue;
		pol = match(ag, pod, ev->namespace, name);
		if (pol && !pol->rebalance.present)
			pol = NULL;
		parse_rlimits(pod, name, &tmp);
		if (!pol && !tmp.n_rl)
			continue;
		if (!(id = running_id(pod, name)))
			continue; /* not running (yet): nothing to read or write */
		if (cgroup_container_parse(&tmp.cc, ev->uid, qos, id, &err) != PT_OK) {
			log_err(LOG_WARN, "skipping a container", err.msg);
			continue;
		}
		if (n == cap) {
			struct actr *g = realloc(nc, (cap = cap ? 2 * cap : 4) * sizeof *nc);
			if (!g)
				break;
			nc = g;
		}
		/* Keep the state of an instance we already track. */
		for (size_t i = 0; p && i < p->n_ctrs; i++)
			if (strcmp(p->ctrs[i].key, tmp.cc.id) == 0 && strcmp(p->ctrs[i].name, name) == 0)
				old = &p->ctrs[i];
		if (old) {
			nc[n] = *old;
			old->key[0] = '\0'; /* moved: not to be released below */
			old->cg_open = false;
			old->trig = NULL;
			old->trig_value = NULL;
			prlimit_state_init(&old->prl);
		} else {
			nc[n] = tmp;
			copy_str(nc[n].name, sizeof nc[n].name, name);
			copy_str(nc[n].key, sizeof nc[n].key, tmp.cc.id);
			prlimit_state_init(&nc[n].prl);
			nc[n].w_now = nc[n].h_now = -1;
			nc[n].mem_base = -2; /* decided at first read */
		}
		memcpy(nc[n].rl, tmp.rl, sizeof tmp.rl);
		nc[n].n_rl = tmp.n_rl;
		nc[n].cc = tmp.cc;
		nc[n].mem_req = mem_quantity(ct, "requests");
		nc[n].mem_lim = mem_quantity(ct, "limits");
		ctr_assign(ag, &nc[n], pol, now);
		scrape_want_add(ag, &sw, pol);
		n++;
	}
	if (!n) {
		free(nc);
		if (slot)
			pod_remove(ag, slot, true);
		return;
	}
	if (n < cap) { /* most pods have one tuned container: give back the rest */
		struct actr *fit = realloc(nc, n * sizeof *nc);
		if (fit)
			nc = fit;
	}
	if (!p) {
		if (ag->n_ctrs + n > AGENT_MAX_CONTAINERS || !(p = calloc(1, sizeof *p))) {
			metrics_counter_add(ag->skipped_ctrs, n);
			for (size_t i = 0; i < n; i++)
				ctr_release(ag, &nc[i], false);
			free(nc);
			return;
		}
		if (ag->n_pods == ag->cap_pods) {
			size_t c2 = ag->cap_pods ? 2 * ag->cap_pods : 64;
			struct apod **g = realloc(ag->pods, c2 * sizeof *g);
			if (!g) {
				free(p);
				free(nc);
				return;
			}
			ag->pods = g;
			ag->cap_pods = c2;
		}
		ag->pods[ag->n_pods++] = p;
		copy_str(p->uid, sizeof p->uid, ev->uid);
	} else {
		/* Instances no longer running are gone for good. */
		for (size_t i = 0; i < p->n_ctrs; i++)
			ctr_release(ag, &p->ctrs[i], p->ctrs[i].key[0] != '\0');
		ag->n_ctrs -= p->n_ctrs;
		free(p->ctrs);
	}
	copy_str(p->ns, sizeof p->ns, ev->namespace);
	copy_str(p->name, sizeof p->name, ev->name);
	p->qos = qos;
	free(p->match);
	p->match = reduce_pod(pod);
	p->ctrs = nc;
	p->n_ctrs = n;
	ag->n_ctrs += n;
	for (size_t i = 0; i < n; i++)
		nc[i].pod = p;
	p->seen = true;
	scrape_url(ag, p, pod, &sw, now);
}

static void on_pod_event(void *ctx, const struct podsrc_event *ev)
{
	struct agent *ag = ctx;
	struct apod **slot;
	int64_t now = wall_ms();

	switch (ev->type) {
	case PODSRC_RESYNC_BEGIN:
		for (size_t i = 0; i < ag->n_pods; i++)
			ag->pods[i]->seen = false;
		break;
	case PODSRC_UPSERT:
		pod_upsert(ag, ev, now);
		arena_reset(&ag->scratch);
		break;
	case PODSRC_DELETE:
		if ((slot = pod_slot(ag, ev->uid)))
			pod_remove(ag, slot, true);
		break;
	case PODSRC_RESYNC_END:
		for (size_t i = 0; i < ag->n_pods;) {
			if (!ag->pods[i]->seen)
				pod_remove(ag, &ag->pods[i], true);
			else
				i++;
		}
		break;
	}
}

/* After a reload, for a container whose policy keeps its name: the
 * triggers the old policy (was, still alive) had unchanged, with the same
 * trigger name, expression, for: and grant, keep their state (old, n_old),
 * and the container keeps its hot and quiet times (saved in prev), so a
 * reload that does not touch a trigger restarts neither its for: nor a
 * pending decay. */
struct hot_times {
	bool cpu_hot, mem_hot;
	int64_t cpu_quiet_ms, mem_quiet_ms;
};

static void carry_triggers(struct actr *c, const struct policy *was, const struct eval_trigger *old, size_t n_old,
			   const struct hot_times *prev)
{
	const struct policy *p = c->policy;

	if (!was || !p || strcmp(was->name, p->name) != 0)
		return;
	c->cpu_hot = prev->cpu_hot;
	c->mem_hot = prev->mem_hot;
	c->cpu_quiet_ms = prev->cpu_quiet_ms;
	c->mem_quiet_ms = prev->mem_quiet_ms;
	if (!old)
		return;
	for (size_t i = 0; i < c->n_trig; i++) {
		const struct policy_trigger *t = &p->rebalance.triggers[i];

		for (size_t j = 0; j < n_old && j < was->rebalance.n_triggers; j++) {
			const struct policy_trigger *o = &was->rebalance.triggers[j];

			if (!strcmp(o->name, t->name) && !strcmp(o->expr->src, t->expr->src) &&
			    o->for_ms == t->for_ms && o->grant == t->grant) {
				c->trig[i] = old[j];
				break;
			}
		}
	}
}

/* Re-match every pod against a new policy set; the old one is still
 * alive. */
static void rematch(struct agent *ag, int64_t now)
{
	for (size_t i = 0; i < ag->n_pods; i++) {
		struct apod *p = ag->pods[i];
		cJSON *pod = p->match ? cJSON_Parse(p->match) : NULL;
		struct scrape_want sw = {0};

		for (size_t k = 0; k < p->n_ctrs; k++) {
			struct actr *c = &p->ctrs[k];
			const struct policy *pol = pod ? match(ag, pod, p->ns, c->name) : NULL;

			const struct policy *was = c->policy;
			struct eval_trigger *old = c->trig;
			size_t n_old = c->n_trig;
			struct hot_times prev = {c->cpu_hot, c->mem_hot, c->cpu_quiet_ms, c->mem_quiet_ms};

			if (pol && !pol->rebalance.present)
				pol = NULL;
			/* The old set is going away: assign afresh, then carry. */
			c->policy = NULL;
			c->trig = NULL;
			c->n_trig = 0;
			ctr_assign(ag, c, pol, now);
			carry_triggers(c, was, old, n_old, &prev);
			free(old);
			scrape_want_add(ag, &sw, pol);
		}
		if (pod)
			scrape_url(ag, p, pod, &sw, now);
		cJSON_Delete(pod);
		arena_reset(&ag->scratch);
	}
}

static void reload_policies(struct agent *ag, int64_t now)
{
	struct policy_set *ps = load_policies(ag->cfg), *old;
	struct series_store *st;
	struct log_line l;
	size_t carried, lost;

	if (!ps) {
		metrics_counter_inc(ag->reloads_err);
		log_msg(LOG_ERROR, "policy reload failed; keeping the previous set");
		return;
	}
	if (build_series(ag, ps, &st)) {
		policy_set_unref(ps);
		metrics_counter_inc(ag->reloads_err);
		return;
	}
	/* History goes over to the new store for every series it keeps. */
	carried = series_carry(st, ag->series, &lost);
	series_free(ag->series);
	ag->series = st;
	old = ag->ps;
	ag->ps = ps;
	rematch(ag, now);
	policy_set_unref(old);
	metrics_counter_inc(ag->reloads_ok);
	if (log_begin(&l, LOG_INFO, "policies reloaded")) {
		log_int(&l, "samples_carried", (int64_t)carried);
		log_int(&l, "samples_lost", (int64_t)lost);
		log_end(&l);
	}
}

/* --- reading ------------------------------------------------------------ */

static void publish(struct agent *ag, struct actr *c, const char *metric, double v, int64_t now)
{
	struct pt_error err;

	if (series_wants(ag->series, metric) && series_add(ag->series, c->key, metric, NULL, 0, v, now, &err))
		log_err(LOG_DEBUG, "cannot store a cgroup reading", err.msg);
}

/* cgroup readings under cAdvisor's names, so triggers read naturally. */
static void publish_cgroup(struct agent *ag, struct actr *c, int64_t now)
{
	const struct cgroup_stats *s = &c->st;

	if (s->valid & CGROUP_BIT(CGROUP_CPU_STAT)) {
		publish(ag, c, SERIES_CPU_USAGE, (double)s->cpu.usage_usec / 1e6, now);
		publish(ag, c, SERIES_CPU_USER, (double)s->cpu.user_usec / 1e6, now);
		publish(ag, c, SERIES_CPU_SYSTEM, (double)s->cpu.system_usec / 1e6, now);
		publish(ag, c, SERIES_CPU_PERIODS, (double)s->cpu.nr_periods, now);
		publish(ag, c, SERIES_CPU_THROTTLED_PERIODS, (double)s->cpu.nr_throttled, now);
		publish(ag, c, SERIES_CPU_THROTTLED, (double)s->cpu.throttled_usec / 1e6, now);
	}
	if (s->valid & CGROUP_BIT(CGROUP_MEMORY_CURRENT))
		publish(ag, c, SERIES_MEM_USAGE, (double)s->memory_current, now);
	if (s->valid & CGROUP_BIT(CGROUP_MEMORY_EVENTS))
		publish(ag, c, SERIES_OOM_EVENTS, (double)s->memory_events.oom_kill, now);
	if (s->valid & CGROUP_BIT(CGROUP_CPU_PRESSURE)) {
		publish(ag, c, SERIES_PSI_CPU_SOME, (double)s->cpu_pressure.some.total_usec / 1e6, now);
		publish(ag, c, SERIES_PSI_CPU_FULL, (double)s->cpu_pressure.full.total_usec / 1e6, now);
	}
	if (s->valid & CGROUP_BIT(CGROUP_MEMORY_PRESSURE)) {
		publish(ag, c, SERIES_PSI_MEM_SOME, (double)s->memory_pressure.some.total_usec / 1e6, now);
		publish(ag, c, SERIES_PSI_MEM_FULL, (double)s->memory_pressure.full.total_usec / 1e6, now);
	}
	if (s->valid & CGROUP_BIT(CGROUP_IO_PRESSURE)) {
		publish(ag, c, SERIES_PSI_IO_SOME, (double)s->io_pressure.some.total_usec / 1e6, now);
		publish(ag, c, SERIES_PSI_IO_FULL, (double)s->io_pressure.full.total_usec / 1e6, now);
	}
}

static bool ctr_open(struct agent *ag, struct actr *c, int64_t now)
{
	char path[CGROUP_PATH_MAX];
	struct pt_error err;

	if (c->cg_open)
		return true;
	if (now < c->resolve_next_ms)
		return false;
	if (cgroup_resolve(ag->cfg->cgroup_root, ag->cfg->driver, &c->cc, path, sizeof path, NULL, &err) ||
	    cgroup_open(&c->cg, path, &err)) {
		c->resolve_next_ms = now + AGENT_RESOLVE_RETRY_MS;
		log_err(LOG_DEBUG, "container cgroup not found yet", err.msg);
		return false;
	}
	c->cg_open = true;
	return true;
}

/* The checkpoint's view of one owned file (key, in cgroup dir): first
 * sight takes the baseline; later reads reconcile, and an outside change
 * is adopted. changed_ms is the owner's last-change time (restored from
 * the checkpoint after a restart, so cooldowns survive it); mem_base is
 * set to an adopted memory.high. who names the owner in logs. */
static struct checkpoint_entry *own(struct agent *ag, const char *key, const char *dir, const struct apod *pod,
				    const char *who, enum cgroup_file f, uint64_t cur, int64_t now, int64_t *changed_ms,
				    int64_t *mem_base)
{
	const char *file = cgroup_file_name(f);
	struct checkpoint_entry *en = checkpoint_find(&ag->cp, key, file);
	struct pt_error err;

	if (!en) {
		if (checkpoint_track(&ag->cp, key, dir, file, cur, now, &en, &err)) {
			log_err(LOG_WARN, "cannot track a cgroup file", err.msg);
			return NULL;
		}
		ag->cp_dirty = true;
		return en;
	}
	/* Seen before this process started: a change it made then still
	 * counts for cooldown, and memory.high is not "first sight" (which
	 * would put the KEP-2570 baseline back over a widened value). */
	if (en->has_applied && !*changed_ms)
		*changed_ms = en->updated_ms;
	switch (checkpoint_reconcile(en, cur, now)) {
	case CHECKPOINT_CONSISTENT:
		break;
	case CHECKPOINT_APPLIED:
	case CHECKPOINT_NOT_APPLIED:
		ag->cp_dirty = true;
		break;
	case CHECKPOINT_FOREIGN: {
		struct log_line l;
		ag->cp_dirty = true;
		metrics_counter_inc(ag->adopted);
		if (mem_base)
			*mem_base = cur == CGROUP_UNLIMITED ? -1 : (int64_t)cur;
		if (log_begin(&l, LOG_INFO, "adopted a value set outside the agent as the new baseline")) {
			log_str(&l, "namespace", pod->ns);
			log_str(&l, "pod", pod->name);
			log_str(&l, "container", who);
			log_str(&l, "file", file);
			log_int(&l, "value", cur == CGROUP_UNLIMITED ? -1 : (int64_t)cur);
			log_end(&l);
		}
		break;
	}
	}
	return en;
}

static void read_ctr(struct agent *ag, struct actr *c, int64_t now)
{
	struct pt_error err;
	enum pt_code rc;

	c->st_ok = false;
	if (!c->policy || !c->mask || !ctr_open(ag, c, now))
		return;
	rc = cgroup_read(&c->cg, c->mask, now, &c->st, &err);
	if (rc == PT_GONE) {
		/* The instance ended; the pod source will bring its successor. */
		struct log_line l;
		if (log_begin(&l, LOG_INFO, "container cgroup gone")) {
			log_str(&l, "namespace", c->pod->ns);
			log_str(&l, "pod", c->pod->name);
			log_str(&l, "container", c->name);
			log_str(&l, "path", c->cg.path);
			log_end(&l);
		}
		cgroup_release(&c->cg);
		c->cg_open = false;
		c->resolve_next_ms = now + AGENT_RESOLVE_RETRY_MS;
		return;
	}
	if (rc)
		log_err(LOG_DEBUG, "cgroup read failed", err.msg);
	c->st_ok = true;
	publish_cgroup(ag, c, now);
	if (c->st.valid & CGROUP_BIT(CGROUP_CPU_WEIGHT)) {
		c->w_now = (int64_t)c->st.cpu_weight;
		own(ag, c->key, c->cg.path, c->pod, c->name, CGROUP_CPU_WEIGHT, c->st.cpu_weight, now,
		    &c->cpu_changed_ms, NULL);
	}
	if (c->st.valid & CGROUP_BIT(CGROUP_MEMORY_HIGH)) {
		c->h_now = c->st.memory_high == CGROUP_UNLIMITED ? PLANNER_UNLIMITED : (int64_t)c->st.memory_high;
		if (c->mem_base == -2)
			c->mem_base = planner_kep_high(c->mem_req, c->mem_lim,
						       c->policy->rebalance.mem_throttling_ppm, ag->page);
		own(ag, c->key, c->cg.path, c->pod, c->name, CGROUP_MEMORY_HIGH, c->st.memory_high, now,
		    &c->mem_changed_ms, &c->mem_base);
	}
}

/* Which pools span pods this tick: their cpu.weight moves between the
 * pods' slices. Pools are few, so a short list of (pool, first pod) pairs
 * does; a pool whose pods differ in QoS class is split by class, since
 * only pods of one class are siblings (kubepods-burstable.slice, ...). */
static void decide_units(struct agent *ag, int64_t now)
{
	struct {
		const char *pool;
		const struct apod *first;
		bool spans;
	} pools[64];
	size_t n_pools = 0;
	static const char *const qos_names[] = {"guaranteed", "burstable", "besteffort"};

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ag->n_pods; i++) {
			struct apod *p = ag->pods[i];
			bool active = false;
			const struct policy_rebalance *rb = NULL;

			for (size_t k = 0; k < p->n_ctrs; k++) {
				const struct actr *c = &p->ctrs[k];
				const char *pool = c->policy ? c->policy->rebalance.pool : NULL;
				size_t j;

				if (!pool || !c->cg_open)
					continue;
				for (j = 0; j < n_pools && strcmp(pools[j].pool, pool) != 0; j++)
					;
				if (pass == 0) {
					if (j == n_pools && n_pools < sizeof pools / sizeof pools[0])
						pools[n_pools++] = (typeof(pools[0])){.pool = pool, .first = p};
					else if (j < n_pools && pools[j].first != p)
						pools[j].spans = true;
				} else if (j < n_pools && pools[j].spans && !active) {
					active = true;
					rb = &c->policy->rebalance;
				}
			}
			if (pass == 0)
				continue;
			if (p->unit.active && !active)
				unit_release(ag, p, true); /* its pool no longer spans pods */
			p->unit.active = active;
			if (!active)
				continue;
			p->unit.rb = rb;
			snprintf(p->unit.pool, sizeof p->unit.pool, "%s/%s", rb->pool, qos_names[p->qos]);
			if (!p->unit.key[0]) {
				snprintf(p->unit.key, sizeof p->unit.key, "pod-%s", p->uid);
				p->unit.quiet_ms = now;
			}
		}
	}
}

/* Read an active pod slice's cpu.weight. Its directory is the parent of
 * its containers' in the systemd and cgroupfs layouts; runwasi's flat
 * layout has no pod slice to move, so such pods stay out. */
static void read_unit(struct agent *ag, struct apod *p, int64_t now)
{
	struct pod_unit *u = &p->unit;
	struct cgroup_stats st;
	struct pt_error err;
	char dir[CGROUP_PATH_MAX], *slash;

	u->read_ok = false;
	if (!u->active)
		return;
	if (!u->open) {
		const struct actr *c = NULL;

		for (size_t k = 0; k < p->n_ctrs && !c; k++)
			if (p->ctrs[k].cg_open)
				c = &p->ctrs[k];
		if (!c)
			return;
		snprintf(dir, sizeof dir, "%s", c->cg.path);
		slash = strrchr(dir, '/');
		if (!slash || strstr(slash, ":cri-containerd:"))
			return;
		*slash = '\0';
		if (cgroup_open(&u->cg, dir, &err)) {
			log_err(LOG_DEBUG, "pod slice not found", err.msg);
			return;
		}
		u->open = true;
	}
	if (cgroup_read(&u->cg, CGROUP_BIT(CGROUP_CPU_WEIGHT), now, &st, &err) != PT_OK ||
	    !(st.valid & CGROUP_BIT(CGROUP_CPU_WEIGHT))) {
		if (u->cg.gone) {
			cgroup_release(&u->cg);
			u->open = false;
		}
		return;
	}
	u->w_now = (int64_t)st.cpu_weight;
	u->read_ok = own(ag, u->key, u->cg.path, p, "", CGROUP_CPU_WEIGHT, st.cpu_weight, now, &u->changed_ms,
			 NULL) != NULL;
}

struct scrape_ctx {
	struct agent *ag;
	int64_t now;
	double ingest_cpu; /* CPU spent ingesting, inside the scrape phase */
};

/* A pod's page (len 0: none, its series go stale at once), stored for
 * each of its tuned containers. */
static void ingest_page(struct scrape_ctx *sc, struct apod *p, const char *body, size_t len)
{
	struct agent *ag = sc->ag;
	/* Ingesting never blocks, so wall time is its CPU time, and the
	 * monotonic clock is read in user space (the thread CPU clock is a
	 * system call, two per target). */
	double t0 = mono_s();
	bool counted = false;
	struct pt_error err;

	for (size_t k = 0; p && k < p->n_ctrs; k++) {
		struct series_ingest_stats st;

		if (!p->ctrs[k].policy)
			continue;
		if (series_ingest_every(ag->series, p->ctrs[k].key, body, len, sc->now, p->sched.every_ms, &st,
					&err)) {
			log_err(LOG_DEBUG, "cannot store a scraped page", err.msg);
		} else if (!counted) {
			metrics_counter_add(ag->scrape_bad_lines, st.bad_lines);
			counted = true;
		}
	}
	sc->ingest_cpu += mono_s() - t0;
}

/* One pod's page, ingested as soon as its transfer ends; the body buffer
 * goes back to the pool after. A failed scrape is an empty page, as in
 * Prometheus. */
static void on_scraped(void *ctx, struct scrape_target *tg, const struct scrape_result *r)
{
	struct scrape_ctx *sc = ctx;

	if (r->code == PT_OK) {
		metrics_counter_inc(sc->ag->scrape_ok);
		ingest_page(sc, scrape_target_user(tg), r->body, r->bytes);
		return;
	}
	metrics_counter_inc(sc->ag->scrape_err);
	log_err(LOG_DEBUG, "scrape failed", r->error);
	ingest_page(sc, scrape_target_user(tg), "", 0);
}

static void scrape_all(struct agent *ag, int64_t now, double *t)
{
	struct scrape_ctx sc = {.ag = ag, .now = now};
	size_t n = 0;
	struct pt_error err;

	for (size_t i = 0; i < ag->n_pods; i++) {
		struct apod *p = ag->pods[i];

		if (p->page_gone) /* as Prometheus marks a vanished target's series stale */
			ingest_page(&sc, p, "", 0);
		p->page_gone = false;
		if (p->target && n < ag->cap_work && scrape_sched_due(&p->sched, ag->cfg->interval_ms, now))
			ag->targets[n++] = p->target;
	}
	if (n && scrape_run_each(ag->scraper, ag->targets, n, on_scraped, &sc, &err))
		log_err(LOG_WARN, "scrape batch failed", err.msg);
	/* Split the phase: ingesting happened inside the scrape. */
	*t += sc.ingest_cpu;
	lap(ag, PH_SCRAPE, t);
	*t -= sc.ingest_cpu;
	lap(ag, PH_INGEST, t);
}

static void evaluate(struct agent *ag, struct actr *c, int64_t now)
{
	bool cpu = false, mem = false;

	for (size_t i = 0; i < c->n_trig; i++) {
		const struct policy_trigger *t = &c->policy->rebalance.triggers[i];
		struct eval_result r;
		enum eval_phase before = c->trig[i].phase, ph;

		eval_expr(ag->series, c->key, t->expr, now, &r);
		ph = eval_trigger_step(&c->trig[i], r.firing, now, t->for_ms);
		c->trig_value[i] = r.value;
		if (ph == EVAL_FIRING)
			*(t->grant == POLICY_GRANT_CPU ? &cpu : &mem) = true;
		if (ph != before) {
			struct log_line l;
			char d[256];
			if (log_begin(&l, ph == EVAL_FIRING ? LOG_INFO : LOG_DEBUG, "trigger")) {
				log_str(&l, "namespace", c->pod->ns);
				log_str(&l, "pod", c->pod->name);
				log_str(&l, "container", c->name);
				log_str(&l, "policy", c->policy->name);
				log_str(&l, "trigger", t->name);
				log_str(&l, "phase", eval_phase_name(ph));
				log_str(&l, "value", eval_describe(&r, t->expr, d, sizeof d));
				log_end(&l);
			}
		}
	}
	if (c->cpu_hot && !cpu)
		c->cpu_quiet_ms = now;
	if (c->mem_hot && !mem)
		c->mem_quiet_ms = now;
	c->cpu_hot = cpu;
	c->mem_hot = mem;
}

/* --- planning and writing --------------------------------------------- */

static bool grow_work(struct agent *ag)
{
	size_t need = ag->n_ctrs + ag->n_pods, cap;

	if (need <= ag->cap_work && ag->items)
		return true;
	cap = need < 64 ? 64 : need * 2;
	free(ag->items);
	free(ag->item_ctrs);
	free(ag->item_pods);
	free(ag->writes);
	free(ag->targets);
	ag->items = calloc(cap, sizeof *ag->items);
	ag->item_ctrs = calloc(cap, sizeof *ag->item_ctrs);
	ag->item_pods = calloc(cap, sizeof *ag->item_pods);
	ag->writes = calloc(2 * cap, sizeof *ag->writes);
	ag->targets = calloc(cap, sizeof *ag->targets);
	ag->cap_work = ag->items && ag->item_ctrs && ag->item_pods && ag->writes && ag->targets ? cap : 0;
	return ag->cap_work != 0;
}

static size_t build_items(struct agent *ag)
{
	size_t n = 0;

	for (size_t i = 0; i < ag->n_pods; i++) {
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++) {
			struct actr *c = &ag->pods[i]->ctrs[k];
			const struct policy_rebalance *rb = c->policy ? &c->policy->rebalance : NULL;
			struct plan_item *it;
			struct checkpoint_entry *w, *h;
			bool w_ok, h_ok;

			if (!rb || !c->st_ok || n == ag->cap_work)
				continue;
			w = checkpoint_find(&ag->cp, c->key, "cpu.weight");
			h = checkpoint_find(&ag->cp, c->key, "memory.high");
			w_ok = w && (c->st.valid & CGROUP_BIT(CGROUP_CPU_WEIGHT)) &&
			       cgroup_backoff_ready(&c->cg.f[CGROUP_CPU_WEIGHT].write_backoff, wall_ms());
			h_ok = h && (c->st.valid & CGROUP_BIT(CGROUP_MEMORY_HIGH)) &&
			       (c->st.valid & CGROUP_BIT(CGROUP_MEMORY_CURRENT)) &&
			       (c->st.valid & CGROUP_BIT(CGROUP_MEMORY_MAX)) &&
			       cgroup_backoff_ready(&c->cg.f[CGROUP_MEMORY_HIGH].write_backoff, wall_ms());
			it = &ag->items[n];
			memset(it, 0, sizeof *it);
			it->key = c->key;
			it->pool = c->pod->unit.active ? NULL : rb->pool;
			it->rb = rb;
			it->cpu_ok = w_ok && !c->pod->unit.active;
			it->w_base = w ? (int64_t)w->baseline : 0;
			it->w_cur = c->w_now;
			it->cpu_hot = c->cpu_hot;
			it->cpu_changed_ms = (uint64_t)c->cpu_changed_ms;
			it->cpu_quiet_ms = (uint64_t)c->cpu_quiet_ms;
			it->mem_ok = h_ok && c->mem_base >= 0;
			it->mem_base = c->mem_base;
			it->mem_high = c->h_now;
			it->mem_max = c->st.memory_max == CGROUP_UNLIMITED ? PLANNER_UNLIMITED : (int64_t)c->st.memory_max;
			it->mem_usage = (int64_t)c->st.memory_current;
			it->mem_hot = c->mem_hot;
			it->mem_changed_ms = (uint64_t)c->mem_changed_ms;
			it->mem_quiet_ms = (uint64_t)c->mem_quiet_ms;
			ag->item_pods[n] = NULL;
			ag->item_ctrs[n++] = c;
		}
	}
	/* Pod slices of pools that span pods: hot when a member is hot,
	 * quiet since the last member cooled down. */
	for (size_t i = 0; i < ag->n_pods && n < ag->cap_work; i++) {
		struct apod *p = ag->pods[i];
		struct pod_unit *u = &p->unit;
		struct checkpoint_entry *w;
		struct plan_item *it;
		bool hot = false;
		int64_t quiet = u->quiet_ms;

		if (!u->active || !u->read_ok || !(w = checkpoint_find(&ag->cp, u->key, "cpu.weight")))
			continue;
		for (size_t k = 0; k < p->n_ctrs; k++) {
			const struct actr *c = &p->ctrs[k];
			if (!c->policy || !c->policy->rebalance.pool)
				continue;
			hot |= c->cpu_hot;
			if (!c->cpu_hot && c->cpu_quiet_ms > quiet)
				quiet = c->cpu_quiet_ms;
		}
		u->hot = hot;
		u->quiet_ms = quiet;
		it = &ag->items[n];
		memset(it, 0, sizeof *it);
		it->key = u->key;
		it->pool = u->pool;
		it->rb = u->rb;
		it->cpu_ok = cgroup_backoff_ready(&u->cg.f[CGROUP_CPU_WEIGHT].write_backoff, wall_ms());
		it->w_base = (int64_t)w->baseline;
		it->w_cur = u->w_now;
		it->cpu_hot = hot;
		it->cpu_changed_ms = (uint64_t)u->changed_ms;
		it->cpu_quiet_ms = (uint64_t)quiet;
		it->mem_base = -1;
		ag->item_ctrs[n] = NULL;
		ag->item_pods[n++] = p;
	}
	return n;
}

static bool save_checkpoint(struct agent *ag, int64_t now)
{
	struct pt_error err;

	if (checkpoint_save(&ag->cp, ag->cfg->checkpoint, now, &err)) {
		log_err(LOG_ERROR, "cannot save the checkpoint", err.msg);
		return false;
	}
	ag->cp_dirty = false;
	return true;
}

/* The checkpoint entry a planned write changes (tracked when read). */
static struct checkpoint_entry *plan_entry(struct agent *ag, const struct plan_write *w)
{
	const struct apod *p = ag->item_pods[w->item];

	return checkpoint_find(&ag->cp, p ? p->unit.key : ag->item_ctrs[w->item]->key,
			       w->file == PLAN_CPU_WEIGHT ? "cpu.weight" : "memory.high");
}

/* One Event on the pod per change written; queued, never waited for. */
static void emit_event(struct agent *ag, const struct apod *p, const struct actr *c, const struct plan_write *w,
		       const struct checkpoint_entry *en)
{
	struct events_item it = {.type = EVENTS_NORMAL, .time_ms = wall_ms()};
	const char *file = w->file == PLAN_CPU_WEIGHT ? "cpu.weight" : "memory.high";
	char from[24], to[24], base[24];

	if (!ag->events)
		return;
	copy_str(it.namespace, sizeof it.namespace, p->ns);
	copy_str(it.pod, sizeof it.pod, p->name);
	copy_str(it.uid, sizeof it.uid, p->uid);
	copy_str(it.container, sizeof it.container, c ? c->name : "");
	copy_str(it.reason, sizeof it.reason,
		 w->file == PLAN_CPU_WEIGHT ? "CPUWeightRebalanced" : "MemoryHighAdjusted");
	snprintf(from, sizeof from, w->from == PLANNER_UNLIMITED ? "max" : "%lld", (long long)w->from);
	snprintf(to, sizeof to, w->to == PLANNER_UNLIMITED ? "max" : "%lld", (long long)w->to);
	snprintf(base, sizeof base, en->baseline == CHECKPOINT_MAX_VALUE ? "max" : "%llu",
		 (unsigned long long)en->baseline);
	if (!c)
		snprintf(it.message, sizeof it.message, "%s of the pod's slice: %s -> %s (baseline %s), %s in pool %s",
			 file, from, to, base, w->reason, p->unit.rb->pool);
	else if (w->file == PLAN_CPU_WEIGHT)
		snprintf(it.message, sizeof it.message,
			 "%s of container %s: %s -> %s (baseline %s), %s in pool %s (policy %s)", file, c->name, from,
			 to, base, w->reason, c->policy->rebalance.pool, c->policy->name);
	else
		snprintf(it.message, sizeof it.message, "%s of container %s: %s -> %s (baseline %s), %s (policy %s)",
			 file, c->name, from, to, base, w->reason, c->policy->name);
	events_emit(ag->events, &it);
}

static void apply(struct agent *ag, const struct plan_write *w, int64_t now)
{
	struct actr *c = ag->item_ctrs[w->item];
	struct apod *p = c ? c->pod : ag->item_pods[w->item];
	struct cgroup *cg = c ? &c->cg : &p->unit.cg;
	enum cgroup_file f = w->file == PLAN_CPU_WEIGHT ? CGROUP_CPU_WEIGHT : CGROUP_MEMORY_HIGH;
	const char *file = cgroup_file_name(f);
	struct checkpoint_entry *en = plan_entry(ag, w);
	uint64_t value = w->to == PLANNER_UNLIMITED ? CGROUP_UNLIMITED : (uint64_t)w->to, applied;
	const char *policy = c ? c->policy->name : "";
	struct pt_error err = {0};
	enum pt_code rc = PT_OK;
	struct log_line l;

	if (!en)
		return;
	if (ag->cfg->dry_run) {
		metrics_counter_inc(ag->writes_dry);
	} else {
		/* apply_plan made the intent durable before this write. */
		rc = cgroup_write(cg, f, value, now, &applied, &err);
		if (rc == PT_OK) {
			checkpoint_applied(en, applied, now);
			metrics_counter_inc(ag->writes_ok);
			if (!c) {
				p->unit.changed_ms = now;
				p->unit.w_now = (int64_t)applied;
			} else if (f == CGROUP_CPU_WEIGHT) {
				c->cpu_changed_ms = now;
				c->w_now = (int64_t)applied;
			} else {
				c->mem_changed_ms = now;
				c->h_now = applied == CGROUP_UNLIMITED ? PLANNER_UNLIMITED : (int64_t)applied;
			}
		} else {
			checkpoint_abandon(en, now);
			metrics_counter_inc(ag->writes_err);
		}
		ag->cp_dirty = true;
	}
	if (rc == PT_OK && !ag->cfg->dry_run)
		emit_event(ag, p, c, w, en);
	if (log_begin(&l, rc ? LOG_WARN : LOG_INFO, ag->cfg->dry_run ? "would rebalance (dry run)" : "rebalance")) {
		log_str(&l, "namespace", p->ns);
		log_str(&l, "pod", p->name);
		log_str(&l, "container", c ? c->name : "");
		/* Not "level": that key is the line's severity already. */
		log_str(&l, "target", c ? "container" : "pod");
		if (c)
			log_str(&l, "policy", policy);
		log_str(&l, "file", file);
		log_int(&l, "from", w->from == PLANNER_UNLIMITED ? -1 : w->from);
		log_int(&l, "to", w->to == PLANNER_UNLIMITED ? -1 : w->to);
		log_int(&l, "baseline", (int64_t)en->baseline);
		log_str(&l, "reason", w->reason);
		if (rc)
			log_str(&l, "error", err.msg);
		log_end(&l);
	}
}


/* Apply one tick's plan: every intent is recorded, then made durable with
 * one save (a fsync'd rename), and only then are the files written. One
 * save per tick rather than per write: a pool of 250 containers changes
 * together, and 250 fsyncs of the whole checkpoint would take the tick
 * for seconds. A crash between the save and a write leaves intents that
 * reconcile sorts out (applied or not) at the next start. If the save
 * fails, nothing is written this tick. */
static void apply_plan(struct agent *ag, size_t n, int64_t now)
{
	struct checkpoint_entry *en;

	if (n && !ag->cfg->dry_run) {
		for (size_t i = 0; i < n; i++) {
			const struct plan_write *w = &ag->writes[i];
			if ((en = plan_entry(ag, w)))
				checkpoint_intent(en, w->to == PLANNER_UNLIMITED ? CGROUP_UNLIMITED : (uint64_t)w->to,
						  now);
		}
		if (!save_checkpoint(ag, now)) {
			for (size_t i = 0; i < n; i++)
				if ((en = plan_entry(ag, &ag->writes[i])))
					checkpoint_abandon(en, now);
			ag->cp_dirty = true;
			return;
		}
	}
	for (size_t i = 0; i < n; i++)
		apply(ag, &ag->writes[i], now);
}

static void apply_rlimits(struct agent *ag, struct actr *c, int64_t now)
{
	struct prlimit_report rep;
	struct pt_error err;
	enum pt_code rc;

	if (!c->n_rl || now < c->prl_next_ms || ag->cfg->dry_run || !ctr_open(ag, c, now))
		return;
	c->prl_next_ms = now + ag->cfg->rlimit_interval_ms;
	rc = prlimit_apply(&c->prl, c->cg.path, ag->cfg->proc_root, c->rl, c->n_rl, &rep, &err);
	if (rc == PT_GONE) {
		cgroup_release(&c->cg);
		c->cg_open = false;
		return;
	}
	if (rep.failed > c->prl_failed) {
		struct log_line l;
		metrics_counter_add(ag->prl_fail, rep.failed - c->prl_failed);
		if (log_begin(&l, LOG_WARN, "cannot apply rlimits")) {
			log_str(&l, "namespace", c->pod->ns);
			log_str(&l, "pod", c->pod->name);
			log_str(&l, "container", c->name);
			log_str(&l, "error", err.msg);
			log_end(&l);
		}
	}
	c->prl_failed = rep.failed;
	if (rep.changed) {
		struct log_line l;
		if (log_begin(&l, LOG_INFO, "rlimits applied")) {
			log_str(&l, "namespace", c->pod->ns);
			log_str(&l, "pod", c->pod->name);
			log_str(&l, "container", c->name);
			log_int(&l, "processes", rep.changed);
			log_end(&l);
		}
	}
}

/* --- metrics snapshot ----------------------------------------------------- */

static enum pt_code snap_labels(struct buf *b, const struct actr *c)
{
	enum pt_code rc = PT_OK;

	rc |= buf_puts(b, "{namespace=");
	rc |= buf_put_json_str(b, c->pod->ns, strlen(c->pod->ns));
	rc |= buf_puts(b, ",pod=");
	rc |= buf_put_json_str(b, c->pod->name, strlen(c->pod->name));
	rc |= buf_puts(b, ",container=");
	rc |= buf_put_json_str(b, c->name, strlen(c->name));
	return rc;
}

/* Per-container series come and go with pods, so they are rendered from
 * the agent's state after each tick rather than registered. The label
 * values are JSON-escaped, which covers the text format's \\ \" \n. */
static void snapshot(struct agent *ag)
{
	struct buf b;
	enum pt_code rc = PT_OK;

	buf_init(&b, AGENT_SNAPSHOT_MAX);
	rc |= buf_puts(&b, "# HELP podtuner_agent_cpu_weight cpu.weight now and baseline, of a tuned container or, with container=\"\", of a pod slice.\n"
			   "# TYPE podtuner_agent_cpu_weight gauge\n");
	for (size_t i = 0; i < ag->n_pods; i++) {
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++) {
			const struct actr *c = &ag->pods[i]->ctrs[k];
			const struct checkpoint_entry *w = checkpoint_find(&ag->cp, c->key, "cpu.weight");
			if (!w || c->w_now < 0)
				continue;
			rc |= buf_puts(&b, "podtuner_agent_cpu_weight");
			rc |= snap_labels(&b, c);
			rc |= buf_printf(&b, ",value=\"current\"} %lld\n", (long long)c->w_now);
			rc |= buf_puts(&b, "podtuner_agent_cpu_weight");
			rc |= snap_labels(&b, c);
			rc |= buf_printf(&b, ",value=\"baseline\"} %llu\n", (unsigned long long)w->baseline);
		}
	}
	for (size_t i = 0; i < ag->n_pods; i++) {
		const struct apod *p = ag->pods[i];
		const struct checkpoint_entry *w;
		if (!p->unit.active || !p->unit.read_ok || !(w = checkpoint_find(&ag->cp, p->unit.key, "cpu.weight")))
			continue;
		for (int v = 0; v < 2; v++) {
			rc |= buf_puts(&b, "podtuner_agent_cpu_weight{namespace=");
			rc |= buf_put_json_str(&b, p->ns, strlen(p->ns));
			rc |= buf_puts(&b, ",pod=");
			rc |= buf_put_json_str(&b, p->name, strlen(p->name));
			rc |= buf_printf(&b, ",container=\"\",value=\"%s\"} %lld\n", v ? "baseline" : "current",
					 v ? (long long)w->baseline : (long long)p->unit.w_now);
		}
	}
	rc |= buf_puts(&b, "# HELP podtuner_agent_memory_high_bytes memory.high of a tuned container (-1: max).\n"
			   "# TYPE podtuner_agent_memory_high_bytes gauge\n");
	for (size_t i = 0; i < ag->n_pods; i++) {
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++) {
			const struct actr *c = &ag->pods[i]->ctrs[k];
			if (c->h_now == -1 || !checkpoint_find(&ag->cp, c->key, "memory.high"))
				continue;
			rc |= buf_puts(&b, "podtuner_agent_memory_high_bytes");
			rc |= snap_labels(&b, c);
			rc |= buf_printf(&b, "} %lld\n", c->h_now == PLANNER_UNLIMITED ? -1LL : (long long)c->h_now);
		}
	}
	rc |= buf_puts(&b, "# HELP podtuner_agent_trigger_state A trigger's state: 0 inactive, 1 pending, 2 firing.\n"
			   "# TYPE podtuner_agent_trigger_state gauge\n");
	for (size_t i = 0; i < ag->n_pods; i++) {
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++) {
			const struct actr *c = &ag->pods[i]->ctrs[k];
			for (size_t t = 0; t < c->n_trig; t++) {
				const char *tn = c->policy->rebalance.triggers[t].name;
				rc |= buf_puts(&b, "podtuner_agent_trigger_state");
				rc |= snap_labels(&b, c);
				rc |= buf_puts(&b, ",trigger=");
				rc |= buf_put_json_str(&b, tn, strlen(tn));
				rc |= buf_printf(&b, "} %d\n", (int)c->trig[t].phase);
			}
		}
	}
	pthread_mutex_lock(&ag->snap_mu);
	if (!rc) {
		buf_release(&ag->snap);
		ag->snap = b;
	} else {
		buf_release(&b);
	}
	ag->ready = true;
	pthread_mutex_unlock(&ag->snap_mu);
}

static void on_metrics(const struct httpd_req *req, struct httpd_resp *resp)
{
	struct agent *ag = req->user;
	struct buf b;

	buf_init_arena(&b, req->arena, AGENT_SNAPSHOT_MAX + ((size_t)1 << 20));
	if (metrics_render(ag->m, &b)) {
		resp->status = 500;
		return;
	}
	pthread_mutex_lock(&ag->snap_mu);
	if (ag->snap.len && buf_append(&b, ag->snap.data, ag->snap.len)) {
		pthread_mutex_unlock(&ag->snap_mu);
		resp->status = 500;
		return;
	}
	pthread_mutex_unlock(&ag->snap_mu);
	resp->content_type = METRICS_CONTENT_TYPE;
	resp->body = b.data;
	resp->body_len = b.len;
}

static void on_healthz(const struct httpd_req *req, struct httpd_resp *resp)
{
	struct agent *ag = req->user;
	bool ready;

	pthread_mutex_lock(&ag->snap_mu);
	ready = ag->ready;
	pthread_mutex_unlock(&ag->snap_mu);
	resp->status = ready ? 200 : 503;
	resp->content_type = "text/plain";
	resp->body = ready ? "ok\n" : "starting\n";
	resp->body_len = strlen(resp->body);
}

static enum pt_code setup_metrics(struct agent *ag, struct pt_error *e)
{
	static const double tick_bounds[] = {1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5};
	static const double cpu_bounds[] = {100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3};
	const char *ok[] = {"result", "ok", NULL}, *bad[] = {"result", "error", NULL},
		   *good[] = {"result", "success", NULL}, *fail[] = {"result", "failure", NULL},
		   *dry[] = {"result", "dry_run", NULL}, *bi[] = {"version", pt_version, NULL},
		   *posted[] = {"result", "posted", NULL}, *failed[] = {"result", "failed", NULL},
		   *dropped[] = {"result", "dropped", NULL}, *throttled[] = {"result", "throttled", NULL};
	struct metrics *m = ag->m = metrics_new();
	enum pt_code rc = m ? PT_OK : PT_NOMEM;

#define C(name, help, lab, out)                                      \
	if (!rc)                                                     \
		rc = metrics_counter_new(m, name, help, lab, out, e)
#define G(name, help, out)                                           \
	if (!rc)                                                     \
		rc = metrics_gauge_new(m, name, help, NULL, out, e)
	C("podtuner_agent_ticks_total", "Ticks run.", NULL, &ag->ticks);
	if (!rc)
		rc = metrics_histogram_new(m, "podtuner_agent_tick_duration_seconds", "Wall time of a tick.", NULL,
					   tick_bounds, sizeof tick_bounds / sizeof tick_bounds[0], &ag->tick_seconds, e);
	if (!rc)
		rc = metrics_histogram_new(m, "podtuner_agent_tick_cpu_seconds", "CPU time of a tick (agent thread).",
					   NULL, cpu_bounds, sizeof cpu_bounds / sizeof cpu_bounds[0], &ag->tick_cpu, e);
	C("podtuner_agent_scrapes_total", "Metric scrapes of tuned pods.", ok, &ag->scrape_ok);
	C("podtuner_agent_scrapes_total", NULL, bad, &ag->scrape_err);
	C("podtuner_agent_scrape_bad_lines_total", "Lines of scraped pages that do not parse (skipped).", NULL,
	  &ag->scrape_bad_lines);
	for (int i = 0; i < PH_COUNT && !rc; i++) {
		const char *lab[] = {"phase", phase_names[i], NULL};
		rc = metrics_counter_new(m, "podtuner_agent_tick_phase_cpu_seconds_total",
					 i ? NULL : "CPU time of the agent thread in each phase of its ticks.", lab,
					 &ag->phase_cpu[i], e);
	}
	C("podtuner_agent_writes_total", "cgroup writes (cpu.weight, memory.high), read back.", ok, &ag->writes_ok);
	C("podtuner_agent_writes_total", NULL, bad, &ag->writes_err);
	C("podtuner_agent_writes_total", NULL, dry, &ag->writes_dry);
	C("podtuner_agent_adopted_total", "Values changed outside the agent, adopted as baselines.", NULL, &ag->adopted);
	C("podtuner_agent_rlimit_failures_total", "Processes whose rlimits could not be set.", NULL, &ag->prl_fail);
	C("podtuner_agent_containers_skipped_total", "Containers not tracked: over the limit.", NULL, &ag->skipped_ctrs);
	C("podtuner_agent_events_total", "Kubernetes Events: posted, failed (refused or unreachable), dropped "
	  "(queue full), throttled (over 25 for a pod, then one per 5 min).", posted, &ag->ev_posted);
	C("podtuner_agent_events_total", NULL, failed, &ag->ev_failed);
	C("podtuner_agent_events_total", NULL, dropped, &ag->ev_dropped);
	C("podtuner_agent_events_total", NULL, throttled, &ag->ev_throttled);
	C("podtuner_policy_reloads_total", "Policy reloads; a failure keeps the previous set.", good, &ag->reloads_ok);
	C("podtuner_policy_reloads_total", NULL, fail, &ag->reloads_err);
	G("podtuner_agent_pods", "Pods with a tuned container.", &ag->g_pods);
	G("podtuner_agent_containers", "Tuned containers tracked.", &ag->g_ctrs);
	G("podtuner_agent_series", "Series kept for triggers.", &ag->g_series);
	G("podtuner_agent_series_bytes", "Memory the series store uses.", &ag->g_series_bytes);
	G("podtuner_agent_pods_synced", "1 once the pod source has delivered a full list.", &ag->g_synced);
	if (!rc)
		rc = metrics_info_new(m, "podtuner_build_info", "The podtuner build.", bi, e);
#undef C
#undef G
	return rc;
}

/* --- the loop ------------------------------------------------------------ */

static void tick(struct agent *ag)
{
	int64_t now = wall_ms();
	double cpu0 = thread_cpu_s(), t = cpu0;
	struct timespec t0, t1;
	struct series_mem sm;
	struct podsrc_stats ps;
	size_t n_items, n_writes;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	podsrc_poll(ag->src, on_pod_event, ag);
	if (ag->cfg->n_policy_paths && watch_changed(&ag->pol_watch))
		reload_policies(ag, now);
	if (!grow_work(ag))
		return;
	lap(ag, PH_PODS, &t);
	for (size_t i = 0; i < ag->n_pods; i++)
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++)
			read_ctr(ag, &ag->pods[i]->ctrs[k], now);
	decide_units(ag, now);
	for (size_t i = 0; i < ag->n_pods; i++)
		read_unit(ag, ag->pods[i], now);
	lap(ag, PH_CGROUP, &t);
	scrape_all(ag, now, &t);
	for (size_t i = 0; i < ag->n_pods; i++)
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++)
			if (ag->pods[i]->ctrs[k].policy)
				evaluate(ag, &ag->pods[i]->ctrs[k], now);
	lap(ag, PH_EVALUATE, &t);
	n_items = build_items(ag);
	n_writes = planner_run(ag->items, n_items, (uint64_t)now, ag->page, ag->writes, 2 * ag->cap_work);
	lap(ag, PH_PLAN, &t);
	apply_plan(ag, n_writes < 2 * ag->cap_work ? n_writes : 2 * ag->cap_work, now);
	for (size_t i = 0; i < ag->n_pods; i++)
		for (size_t k = 0; k < ag->pods[i]->n_ctrs; k++)
			apply_rlimits(ag, &ag->pods[i]->ctrs[k], now);
	if (ag->cp_dirty && !ag->cfg->dry_run)
		save_checkpoint(ag, now);
	lap(ag, PH_APPLY, &t);
	series_expire(ag->series, now, AGENT_EXPIRE_MS);

	series_mem_stats(ag->series, &sm);
	podsrc_get_stats(ag->src, &ps);
	metrics_gauge_set(ag->g_pods, (double)ag->n_pods);
	metrics_gauge_set(ag->g_ctrs, (double)ag->n_ctrs);
	metrics_gauge_set(ag->g_series, (double)sm.series);
	metrics_gauge_set(ag->g_series_bytes, (double)sm.bytes_in_use);
	metrics_gauge_set(ag->g_synced, ps.synced ? 1 : 0);
	if (ag->events) {
		struct events_stats es;
		events_get_stats(ag->events, &es);
		metrics_counter_add(ag->ev_posted, es.posted - ag->ev_seen.posted);
		metrics_counter_add(ag->ev_failed, es.failed - ag->ev_seen.failed);
		metrics_counter_add(ag->ev_dropped, es.dropped - ag->ev_seen.dropped);
		metrics_counter_add(ag->ev_throttled, es.throttled - ag->ev_seen.throttled);
		ag->ev_seen = es;
	}
	snapshot(ag);
	lap(ag, PH_OTHER, &t);
	metrics_counter_inc(ag->ticks);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_histogram_observe(ag->tick_seconds,
				  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	metrics_histogram_observe(ag->tick_cpu, thread_cpu_s() - cpu0);
}

/* Put every checkpointed baseline back; entries restored (or whose
 * container is gone) are removed. Returns how many could not be. */
static size_t restore(struct checkpoint *cp, int64_t now)
{
	size_t failed = 0;

	for (size_t i = 0; i < cp->n;) {
		struct checkpoint_entry *en = &cp->entries[i];
		enum cgroup_file f = strcmp(en->file, "cpu.weight") == 0 ? CGROUP_CPU_WEIGHT : CGROUP_MEMORY_HIGH;
		struct cgroup cg;
		struct cgroup_stats st;
		struct pt_error err;
		enum pt_code rc;
		uint64_t cur;
		char key[CHECKPOINT_KEY_MAX], file[CHECKPOINT_NAME_MAX];

		rc = cgroup_open(&cg, en->dir, &err);
		if (rc == PT_OK) {
			/* The read only spares a write of the value already
			 * there: an unreadable value is overwritten (and the
			 * write reads back what it wrote). */
			rc = cgroup_read(&cg, CGROUP_BIT(f), now, &st, &err);
			cur = f == CGROUP_CPU_WEIGHT ? st.cpu_weight : st.memory_high;
			if (rc == PT_GONE)
				;
			else if (rc != PT_OK || cur != en->baseline)
				rc = cgroup_write(&cg, f, en->baseline, now, NULL, &err);
		}
		cgroup_release(&cg);
		if (rc == PT_OK || rc == PT_NOTFOUND || rc == PT_GONE) {
			struct log_line l;
			if (log_begin(&l, LOG_INFO, rc == PT_OK ? "restored" : "container gone; nothing to restore")) {
				log_str(&l, "dir", en->dir);
				log_str(&l, "file", en->file);
				log_int(&l, "baseline", en->baseline == CHECKPOINT_MAX_VALUE ? -1 : (int64_t)en->baseline);
				log_end(&l);
			}
			copy_str(key, sizeof key, en->key);
			copy_str(file, sizeof file, en->file);
			checkpoint_remove(cp, key, file);
			continue;
		}
		log_err(LOG_ERROR, "cannot restore", err.msg);
		failed++;
		i++;
	}
	return failed;
}

static bool load_checkpoint(struct checkpoint *cp, const char *path, bool quarantine)
{
	struct pt_error err;
	char moved[4096];

	if (checkpoint_load(cp, path, &err) == PT_OK)
		return true;
	log_err(LOG_ERROR, "the checkpoint is unreadable", err.msg);
	if (!quarantine)
		return false;
	if (checkpoint_quarantine(path, wall_ms() / 1000, moved, sizeof moved, &err) == PT_OK)
		log_err(LOG_WARN, "moved the bad checkpoint aside; current values become the baselines", moved);
	else
		log_err(LOG_ERROR, "cannot move the bad checkpoint aside", err.msg);
	return true;
}

int agent_restore(const struct agent_config *cfg)
{
	struct checkpoint cp;
	struct pt_error err;
	size_t failed;
	int64_t now = wall_ms();

	checkpoint_init(&cp);
	if (!load_checkpoint(&cp, cfg->checkpoint, false))
		return 1;
	failed = restore(&cp, now);
	if (checkpoint_save(&cp, cfg->checkpoint, now, &err)) {
		log_err(LOG_ERROR, "cannot save the checkpoint", err.msg);
		failed++;
	}
	checkpoint_release(&cp);
	return failed ? 1 : 0;
}

/* The agent's few threads (pod source, events, metrics) allocate little:
 * one malloc arena instead of one per thread keeps RSS down (glibc
 * mallopt(3); each arena holds on to its own free memory). */
static void one_malloc_arena(void)
{
	mallopt(M_ARENA_MAX, 1);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* About ten descriptors per tracked container (cgroup.h). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static enum pt_code start_source(struct agent *ag, struct pt_error *e)
{
	const char *node = ag->cfg->node_name ? ag->cfg->node_name : getenv("NODE_NAME");
	struct podsrc_kube_opts ko = {0};
	enum pt_code rc;

	if (ag->cfg->pods_file) {
		ag->src = podsrc_file_new(ag->cfg->pods_file, e);
		return ag->src ? PT_OK : (e ? e->code : PT_IO);
	}
	if (!node || !*node)
		return pt_error_set(e, PT_USAGE, "the node name is unknown: set NODE_NAME (downward API "
					       "spec.nodeName) or --node-name, or use --pods-file");
	if ((rc = kube_config_auto(ag->cfg->kubeconfig, NULL, NULL, &ag->kube, e)))
		return rc;
	ko.cfg = ag->kube;
	ko.node_name = node;
	ag->src = podsrc_kube_new(&ko, e);
	return ag->src ? PT_OK : (e ? e->code : PT_IO);
}

/* Events go to the apiserver the pods come from; with a pods file only
 * when asked for, with --kubeconfig or in-cluster credentials. */
static enum pt_code start_events(struct agent *ag, struct pt_error *e)
{
	const char *node = ag->cfg->node_name ? ag->cfg->node_name : getenv("NODE_NAME");
	struct events_opts eo = {0};
	enum pt_code rc;

	if (ag->cfg->events == AGENT_EVENTS_OFF || (ag->cfg->events == AGENT_EVENTS_AUTO && ag->cfg->pods_file))
		return PT_OK;
	if (!ag->kube && (rc = kube_config_auto(ag->cfg->kubeconfig, NULL, NULL, &ag->kube, e)))
		return rc;
	eo.cfg = ag->kube;
	eo.instance = node;
	ag->events = events_new(&eo, e);
	return ag->events ? PT_OK : (e ? e->code : PT_IO);
}

int agent_run(const struct agent_config *cfg_in)
{
	struct agent_config cfg = *cfg_in;
	struct agent ag = {.cfg = &cfg};
	struct scrape_opts so = {0};
	struct httpd_config hc = {0};
	static const struct httpd_route routes[] = {
		{"GET", "/metrics", on_metrics, false, NULL},
		{"GET", "/healthz", on_healthz, false, NULL},
	};
	struct pt_error err;
	sigset_t sigs;
	int status = 1, sig = 0;
	bool first = true;

	if (!cfg.cgroup_root)
		cfg.cgroup_root = CGROUP_ROOT_DEFAULT;
	if (!cfg.proc_root)
		cfg.proc_root = "/proc";
	if (!cfg.checkpoint)
		cfg.checkpoint = AGENT_CHECKPOINT_DEFAULT;
	if (!cfg.interval_ms)
		cfg.interval_ms = 1000;
	if (!cfg.rlimit_interval_ms)
		cfg.rlimit_interval_ms = 5000;
	if (!cfg.listen)
		cfg.listen = AGENT_LISTEN_DEFAULT;
	ag.page = sysconf(_SC_PAGESIZE);
	arena_init(&ag.scratch, 16384, 0);
	checkpoint_init(&ag.cp);
	pthread_mutex_init(&ag.snap_mu, NULL);
	buf_init(&ag.snap, AGENT_SNAPSHOT_MAX);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	raise_nofile();
	one_malloc_arena();

	if (setup_metrics(&ag, &err)) {
		log_err(LOG_ERROR, "cannot set up metrics", err.msg);
		goto out;
	}
	if (!(ag.ps = load_policies(&cfg)) || build_series(&ag, ag.ps, &ag.series))
		goto out;
	watch_init(&ag.pol_watch, cfg.policy_paths, cfg.n_policy_paths);
	if (!load_checkpoint(&ag.cp, cfg.checkpoint, true))
		goto out;
	so.max_connections = 0;
	if (!(ag.scraper = scrape_new(&so, &err))) {
		log_err(LOG_ERROR, "cannot start the scraper", err.msg);
		goto out;
	}
	if (start_source(&ag, &err)) {
		log_err(LOG_ERROR, "cannot start the pod source", err.msg);
		goto out;
	}
	if (start_events(&ag, &err)) {
		log_err(LOG_ERROR, "cannot post Kubernetes Events", err.msg);
		goto out;
	}
	if (cfg.listen[0]) {
		hc.listen = cfg.listen;
		hc.threads = 1;
		hc.routes = routes;
		hc.n_routes = sizeof routes / sizeof routes[0];
		hc.user = &ag;
		if (httpd_start(&hc, &ag.srv, &err)) {
			log_err(LOG_ERROR, "cannot serve metrics", err.msg);
			goto out;
		}
	}
	{
		struct log_line l;
		if (log_begin(&l, LOG_INFO, "agent started")) {
			log_str(&l, "source", cfg.pods_file ? cfg.pods_file : "apiserver");
			log_str(&l, "cgroup_root", cfg.cgroup_root);
			log_str(&l, "checkpoint", cfg.checkpoint);
			log_int(&l, "interval_ms", cfg.interval_ms);
			log_int(&l, "policies", (int64_t)ag.ps->n);
			log_int(&l, "checkpoint_entries", (int64_t)ag.cp.n);
			log_bool(&l, "dry_run", cfg.dry_run);
			log_bool(&l, "events", ag.events != NULL);
			if (ag.srv)
				log_int(&l, "metrics_port", httpd_port(ag.srv));
			log_str(&l, "version", pt_version);
			log_end(&l);
		}
	}

	for (;;) {
		struct timespec start, end, wait;
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &start);
		tick(&ag);
		if (first && cfg.ready_file) {
			FILE *f = fopen(cfg.ready_file, "w");
			if (f) {
				fprintf(f, "%u\n", ag.srv ? (unsigned)httpd_port(ag.srv) : 0u);
				fclose(f);
			}
		}
		first = false;
		clock_gettime(CLOCK_MONOTONIC, &end);
		left = (int64_t)cfg.interval_ms - ((end.tv_sec - start.tv_sec) * 1000 +
						   (end.tv_nsec - start.tv_nsec) / 1000000);
		if (left < 1)
			left = 1;
		wait.tv_sec = left / 1000;
		wait.tv_nsec = (left % 1000) * 1000000;
		sig = sigtimedwait(&sigs, NULL, &wait);
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	{
		struct log_line l;
		if (log_begin(&l, LOG_INFO, "stopping")) {
			log_str(&l, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
			log_bool(&l, "restore", cfg.restore_on_exit);
			log_end(&l);
		}
	}
	status = 0;
	if (cfg.restore_on_exit && !cfg.dry_run) {
		if (restore(&ag.cp, wall_ms()))
			status = 1;
		ag.cp_dirty = true;
	}
	if (ag.cp_dirty && !cfg.dry_run && !save_checkpoint(&ag, wall_ms()))
		status = 1;
out:
	if (ag.srv)
		(void)httpd_stop(ag.srv, 1000);
	if (ag.src)
		podsrc_stop(ag.src);
	while (ag.n_pods)
		pod_remove(&ag, &ag.pods[0], false);
	free(ag.pods);
	podsrc_free(ag.src);
	events_free(ag.events);
	kube_config_free(ag.kube);
	scrape_free(ag.scraper);
	series_free(ag.series);
	policy_set_unref(ag.ps);
	checkpoint_release(&ag.cp);
	metrics_free(ag.m);
	free(ag.items);
	free(ag.item_ctrs);
	free(ag.item_pods);
	free(ag.writes);
	free(ag.targets);
	buf_release(&ag.snap);
	arena_release(&ag.scratch);
	pthread_mutex_destroy(&ag.snap_mu);
	return status;
}
