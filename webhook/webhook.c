/* SPDX-License-Identifier: Apache-2.0 */
/* The webhook process: routes, the policy set behind a mutex-guarded
 * pointer (a reload swaps it; a request holds a reference to the set it
 * started with), metrics, and the main thread's loop, which waits for
 * signals and polls the mounted files between them. */
#include "webhook.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/duration.h"
#include "../core/version.h"
#include "../core/json.h"
#include "../core/httpd.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/watch.h"
#include "review.h"

#define WEBHOOK_PATCH_MAX ((size_t)4 << 20)
#define WEBHOOK_RESPONSE_MAX ((size_t)8 << 20)
/* A server thread's scratch arena (the request's JSON tree, the patch):
 * one chunk holds a 60 KB pod's work; a 3 MiB body's tree stays under the
 * cap, as under httpd's per-request cap. */
#define SCRATCH_CHUNK ((size_t)256 << 10)
#define SCRATCH_MAX ((size_t)64 << 20)
/* What stays in a connection's arena: the response (2 KB for a 10 KB pod;
 * a larger one gets a chunk of its own, freed when it has been sent). */
#define CONN_ARENA_CHUNK ((size_t)16 << 10)

enum outcome { OUT_PATCHED, OUT_UNCHANGED, OUT_IGNORED, OUT_FAILED, OUT_INVALID, OUT_ERROR, OUT_COUNT };
_Static_assert((int)OUT_PATCHED == (int)REVIEW_PATCHED && (int)OUT_UNCHANGED == (int)REVIEW_UNCHANGED &&
		       (int)OUT_IGNORED == (int)REVIEW_IGNORED && (int)OUT_FAILED == (int)REVIEW_FAILED,
	       "outcome extends review_result");
static const char *const outcome_names[OUT_COUNT] = {"patched", "unchanged", "ignored",
						     "failed",  "invalid",   "error"};

struct webhook {
	const struct webhook_config *cfg;
	struct httpd *srv;
	pthread_mutex_t mu;
	struct policy_set *ps; /* guarded by mu */
	atomic_bool draining;

	struct metrics *m;
	struct metrics_counter *requests[OUT_COUNT];
	struct metrics_histogram *latency;
	struct metrics_counter *patches, *ops, *warnings;
	struct metrics_counter *reloads_ok, *reloads_failed, *tls_ok, *tls_failed;
	struct metrics_gauge *policies, *reload_success, *cert_not_after, *ready;
	struct metrics_counter *http_rejected[5];
	pthread_mutex_t stats_mu;
	struct httpd_stats last; /* guarded by stats_mu: what was already counted */
	pthread_key_t scratch;   /* each server thread's struct arena */
	bool scratch_key;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct policy_set *policies_get(struct webhook *w)
{
	struct policy_set *ps;

	pthread_mutex_lock(&w->mu);
	ps = policy_set_ref(w->ps);
	pthread_mutex_unlock(&w->mu);
	return ps;
}

static void policies_swap(struct webhook *w, struct policy_set *ps)
{
	struct policy_set *old;

	pthread_mutex_lock(&w->mu);
	old = w->ps;
	w->ps = ps;
	pthread_mutex_unlock(&w->mu);
	/* Requests still using the old set hold their own references. */
	policy_set_unref(old);
}

/* --- per-thread scratch --------------------------------------------------- */

/* The JSON tree and the patch of a review live in the thread's scratch
 * arena, reset when the handler returns; only the response stays in the
 * connection's arena until it is sent. libmicrohttpd runs the handlers of
 * every connection that is ready in one epoll round before it writes any
 * response, so with a connection arena holding everything, 32 connections
 * of 60 KB pods held 32 parsed trees at once: 25 MiB peak RSS. */
static void scratch_free(void *p)
{
	struct arena *a = p;

	arena_release(a);
	free(a);
}

static struct arena *scratch_get(struct webhook *w)
{
	struct arena *a = pthread_getspecific(w->scratch);

	if (a)
		return a;
	if (!(a = malloc(sizeof *a)))
		return NULL;
	arena_init(a, SCRATCH_CHUNK, SCRATCH_MAX);
	if (pthread_setspecific(w->scratch, a) != 0) {
		free(a);
		return NULL;
	}
	return a;
}

/* --- handlers ---------------------------------------------------------- */

static void reply_text(struct httpd_resp *resp, unsigned status, const char *text)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = text;
	resp->body_len = strlen(text);
}

static void reply_error(const struct httpd_req *req, struct httpd_resp *resp, unsigned status, const char *msg)
{
	struct buf b;

	buf_init_arena(&b, req->arena, 4096);
	if (buf_puts(&b, "{\"error\":") || buf_put_json_str(&b, msg, strlen(msg)) || buf_puts(&b, "}\n")) {
		reply_text(resp, status, "error\n");
		return;
	}
	resp->status = status;
	resp->body = b.data;
	resp->body_len = b.len;
}

static const char *pod_name(const struct review_request *rq)
{
	const char *n;

	if (rq->name && *rq->name)
		return rq->name;
	n = json_get_str(json_get(rq->object, "metadata"), "generateName");
	return n ? n : "";
}

static void on_mutate(const struct httpd_req *req, struct httpd_resp *resp)
{
	struct webhook *w = req->user;
	uint64_t t0 = now_ns(), budget_ms = 10000, us;
	struct review_request rq;
	struct review_outcome oc;
	struct pt_error err;
	struct buf patch, out;
	struct policy_set *ps;
	enum outcome o;
	enum pt_code rc;
	const char *timeout = httpd_req_query(req, "timeout");
	struct arena *scratch = scratch_get(w);
	struct log_line l;

	if (!scratch) {
		reply_error(req, resp, 500, "out of memory");
		metrics_counter_inc(w->requests[OUT_ERROR]);
		return;
	}
	if (review_parse(req->body, req->body_len, scratch, &rq, &err)) {
		reply_error(req, resp, 400, err.msg);
		metrics_counter_inc(w->requests[OUT_INVALID]);
		if (log_begin(&l, LOG_WARN, "bad admission request")) {
			log_str(&l, "error", err.msg);
			log_end(&l);
		}
		arena_reset(scratch);
		return;
	}
	/* The apiserver says how long it waits (?timeout=10s). The engine
	 * answers in microseconds; a late answer is logged, never silent. */
	if (timeout && duration_parse(timeout, strlen(timeout), &budget_ms, NULL) != PT_OK)
		budget_ms = 10000;

	ps = policies_get(w);
	buf_init_arena(&patch, scratch, WEBHOOK_PATCH_MAX);
	buf_init_arena(&out, req->arena, WEBHOOK_RESPONSE_MAX);
	rc = review_respond(&rq, ps, scratch, &patch, &out, &oc);
	policy_set_unref(ps);
	if (rc) {
		/* Out of memory or over the response cap: a 500 is a "calling
		 * webhook" error, so failurePolicy (Ignore) applies. */
		reply_error(req, resp, 500, pt_strerror(rc));
		o = OUT_ERROR;
	} else {
		resp->body = out.data;
		resp->body_len = out.len;
		o = (enum outcome)oc.result; /* review_result and outcome share order */
	}
	us = (now_ns() - t0) / 1000;
	metrics_counter_inc(w->requests[o]);
	metrics_histogram_observe(w->latency, (double)us / 1e6);
	if (o == OUT_PATCHED) {
		metrics_counter_inc(w->patches);
		metrics_counter_add(w->ops, oc.tune.n_ops);
	}
	metrics_counter_add(w->warnings, oc.tune.n_warnings);
	if (log_begin(&l, o == OUT_ERROR || o == OUT_FAILED ? LOG_WARN : LOG_INFO, "admission")) {
		log_str(&l, "uid", rq.uid);
		log_str(&l, "namespace", rq.namespace ? rq.namespace : "");
		log_str(&l, "pod", pod_name(&rq));
		log_str(&l, "operation", rq.operation ? rq.operation : "");
		log_str(&l, "result", outcome_names[o]);
		log_int(&l, "containers_tuned", (int64_t)oc.tune.n_tuned);
		log_int(&l, "ops", (int64_t)oc.tune.n_ops);
		if (oc.tune.skipped)
			log_str(&l, "skipped", oc.tune.skipped);
		if (oc.error)
			log_str(&l, "error", oc.error);
		if (oc.tune.n_warnings)
			log_str(&l, "warning", oc.tune.warnings[0]);
		log_bool(&l, "dry_run", rq.dry_run);
		log_int(&l, "duration_us", (int64_t)us);
		log_end(&l);
	}
	if (us / 1000 > budget_ms && log_begin(&l, LOG_WARN, "answered after the apiserver's timeout")) {
		log_str(&l, "uid", rq.uid);
		log_int(&l, "timeout_ms", (int64_t)budget_ms);
		log_int(&l, "duration_us", (int64_t)us);
		log_end(&l);
	}
	/* rq and oc point into it: after the last use. */
	arena_reset(scratch);
}

static void on_healthz(const struct httpd_req *req, struct httpd_resp *resp)
{
	(void)req;
	reply_text(resp, 200, "ok\n");
}

/* Ready: policies loaded, a certificate that is valid now, not draining. */
static const char *not_ready(struct webhook *w)
{
	struct httpd_tls_info ti;
	time_t now = time(NULL);
	bool have;

	if (atomic_load(&w->draining))
		return "shutting down\n";
	pthread_mutex_lock(&w->mu);
	have = w->ps != NULL;
	pthread_mutex_unlock(&w->mu);
	if (!have)
		return "no policies loaded\n";
	if (httpd_tls_info(w->srv, &ti) != PT_OK)
		return "no certificate\n";
	if (now < ti.not_before)
		return "the certificate is not valid yet\n";
	if (now >= ti.not_after)
		return "the certificate has expired\n";
	return NULL;
}

static void on_readyz(const struct httpd_req *req, struct httpd_resp *resp)
{
	const char *why = not_ready(req->user);

	reply_text(resp, why ? 503 : 200, why ? why : "ok\n");
}

/* httpd counts its own rejections; mirror them as counters by adding what
 * is new since the last scrape. */
static void sync_http_stats(struct webhook *w)
{
	struct httpd_stats s;

	httpd_stats(w->srv, &s);
	pthread_mutex_lock(&w->stats_mu);
	metrics_counter_add(w->http_rejected[0], s.not_found - w->last.not_found);
	metrics_counter_add(w->http_rejected[1], s.bad_method - w->last.bad_method);
	metrics_counter_add(w->http_rejected[2], s.too_large - w->last.too_large);
	metrics_counter_add(w->http_rejected[3], s.bad_media_type - w->last.bad_media_type);
	metrics_counter_add(w->http_rejected[4], s.timed_out - w->last.timed_out);
	w->last = s;
	pthread_mutex_unlock(&w->stats_mu);
}

static void on_metrics(const struct httpd_req *req, struct httpd_resp *resp)
{
	struct webhook *w = req->user;
	struct httpd_tls_info ti;
	struct buf b;

	sync_http_stats(w);
	if (httpd_tls_info(w->srv, &ti) == PT_OK)
		metrics_gauge_set(w->cert_not_after, (double)ti.not_after);
	metrics_gauge_set(w->ready, not_ready(w) ? 0 : 1);
	buf_init_arena(&b, req->arena, (size_t)4 << 20);
	if (metrics_render(w->m, &b)) {
		reply_text(resp, 500, "cannot render metrics\n");
		return;
	}
	resp->content_type = METRICS_CONTENT_TYPE;
	resp->body = b.data;
	resp->body_len = b.len;
}

/* --- setup ------------------------------------------------------------- */

static enum pt_code setup_metrics(struct webhook *w, struct pt_error *e)
{
	static const double bounds[] = {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 1};
	static const char *const rejected[5] = {"not_found", "method_not_allowed", "too_large", "unsupported_media_type",
						"timed_out"};
	const char *bi[] = {"version", pt_version, NULL};
	enum pt_code rc = PT_OK;

	if (!(w->m = metrics_new()))
		return pt_error_set(e, PT_NOMEM, "out of memory");
	for (int i = 0; i < OUT_COUNT && !rc; i++) {
		const char *lab[] = {"result", outcome_names[i], NULL};
		rc = metrics_counter_new(w->m, "podtuner_webhook_requests_total",
					 "Admission requests by result: patched, unchanged (a Pod that needed nothing), "
					 "ignored (not a Pod CREATE, or opted out), failed (the Pod could not be read; "
					 "allowed unchanged), invalid (400), error (500).",
					 lab, &w->requests[i], e);
	}
	if (!rc)
		rc = metrics_histogram_new(w->m, "podtuner_webhook_request_duration_seconds",
					   "Time to decide an admission request, body parsed to response built.", NULL,
					   bounds, sizeof bounds / sizeof bounds[0], &w->latency, e);
	if (!rc)
		rc = metrics_counter_new(w->m, "podtuner_webhook_patches_total", "Responses that carried a patch.",
					 NULL, &w->patches, e);
	if (!rc)
		rc = metrics_counter_new(w->m, "podtuner_webhook_patch_operations_total",
					 "JSON Patch operations emitted.", NULL, &w->ops, e);
	if (!rc)
		rc = metrics_counter_new(w->m, "podtuner_webhook_warnings_total",
					 "Warnings returned to users (e.g. an invalid GOMEMLIMIT they set).", NULL,
					 &w->warnings, e);
	for (int i = 0; i < 5 && !rc; i++) {
		const char *lab[] = {"reason", rejected[i], NULL};
		rc = metrics_counter_new(w->m, "podtuner_http_rejected_total",
					 "Requests or connections refused by the HTTP layer.", lab, &w->http_rejected[i], e);
	}
	if (!rc) {
		const char *ok[] = {"result", "success", NULL}, *bad[] = {"result", "failure", NULL};
		rc = metrics_counter_new(w->m, "podtuner_policy_reloads_total",
					 "Policy reloads; a failure keeps the previous set.", ok, &w->reloads_ok, e);
		if (!rc)
			rc = metrics_counter_new(w->m, "podtuner_policy_reloads_total", NULL, bad, &w->reloads_failed,
						 e);
		if (!rc)
			rc = metrics_counter_new(w->m, "podtuner_tls_reloads_total",
						 "Certificate reloads; a failure keeps the previous pair.", ok, &w->tls_ok,
						 e);
		if (!rc)
			rc = metrics_counter_new(w->m, "podtuner_tls_reloads_total", NULL, bad, &w->tls_failed, e);
	}
	if (!rc)
		rc = metrics_gauge_new(w->m, "podtuner_policy_last_reload_successful",
				       "1 if the last policy load succeeded, 0 if the files on disk are invalid.", NULL,
				       &w->reload_success, e);
	if (!rc)
		rc = metrics_gauge_new(w->m, "podtuner_policies", "Policies in the set being served.", NULL,
				       &w->policies, e);
	if (!rc)
		rc = metrics_gauge_new(w->m, "podtuner_tls_cert_not_after_seconds",
				       "Expiry of the serving certificate, unix time.", NULL, &w->cert_not_after, e);
	if (!rc)
		rc = metrics_gauge_new(w->m, "podtuner_ready", "1 when /readyz answers 200.", NULL, &w->ready, e);
	if (!rc)
		rc = metrics_info_new(w->m, "podtuner_build_info", "The podtuner build.", bi, e);
	return rc;
}

static struct policy_set *load_policies(const struct webhook_config *cfg)
{
	struct policy_source src[WATCH_MAX_PATHS];
	struct policy_diags d = {0};
	struct policy_set *ps = NULL;
	size_t n = cfg->n_policy_paths < WATCH_MAX_PATHS ? cfg->n_policy_paths : WATCH_MAX_PATHS;
	enum pt_code rc;
	char line[1024];
	struct log_line l;

	for (size_t i = 0; i < n; i++)
		src[i] = (struct policy_source){.path = cfg->policy_paths[i]};
	rc = n ? policy_set_load(src, n, &ps, &d) : policy_set_load_embedded(&ps, &d);
	for (size_t i = 0; i < d.n; i++) {
		if (log_begin(&l, LOG_ERROR, "invalid policy")) {
			log_str(&l, "error", pt_error_format(&d.v[i], line, sizeof line));
			log_end(&l);
		}
	}
	if (rc && !d.n)
		log_err(LOG_ERROR, "cannot load policies", pt_strerror(rc));
	policy_diags_release(&d);
	return rc ? NULL : ps;
}

static void reload_policies(struct webhook *w)
{
	struct policy_set *ps = load_policies(w->cfg);
	struct log_line l;

	if (!ps) {
		metrics_counter_inc(w->reloads_failed);
		metrics_gauge_set(w->reload_success, 0);
		log_msg(LOG_ERROR, "policy reload failed; still serving the previous set");
		return;
	}
	metrics_counter_inc(w->reloads_ok);
	metrics_gauge_set(w->reload_success, 1);
	metrics_gauge_set(w->policies, (double)ps->n);
	if (log_begin(&l, LOG_INFO, "policies reloaded")) {
		log_int(&l, "policies", (int64_t)ps->n);
		log_int(&l, "hash", (int64_t)(ps->hash >> 1));
		log_end(&l);
	}
	policies_swap(w, ps);
}

static void reload_tls(struct webhook *w)
{
	struct pt_error err;
	struct httpd_tls_info ti;
	struct log_line l;

	if (httpd_reload_tls(w->srv, &err) != PT_OK) {
		metrics_counter_inc(w->tls_failed);
		log_err(LOG_ERROR, "certificate reload failed; still serving the previous pair", err.msg);
		return;
	}
	metrics_counter_inc(w->tls_ok);
	if (httpd_tls_info(w->srv, &ti) == PT_OK && log_begin(&l, LOG_INFO, "certificate reloaded")) {
		log_str(&l, "serial", ti.serial);
		log_int(&l, "not_after", ti.not_after);
		log_end(&l);
	}
}

static void write_ready_file(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		return;
	fprintf(f, "%u\n", port);
	if (fclose(f) == 0)
		rename(tmp, path);
}

int webhook_run(const struct webhook_config *cfg)
{
	static const struct httpd_route routes[] = {
		{"POST", "/mutate", on_mutate, true, "application/json"},
		{"GET", "/healthz", on_healthz, false, NULL},
		{"GET", "/readyz", on_readyz, false, NULL},
		{"GET", "/metrics", on_metrics, false, NULL},
	};
	uint64_t t0 = now_ns();
	struct webhook w = {.cfg = cfg};
	struct httpd_config hc = {0};
	struct pt_error err;
	struct watch pol_watch, tls_watch;
	const char *tls_paths[2] = {cfg->tls_cert, cfg->tls_key};
	struct httpd_tls_info ti;
	sigset_t sigs;
	int status = 1, sig;
	unsigned interval = cfg->reload_interval_ms ? cfg->reload_interval_ms : 2000;
	struct log_line l;

	pthread_mutex_init(&w.mu, NULL);
	pthread_mutex_init(&w.stats_mu, NULL);
	/* The destructor frees a server thread's arena when the thread
	 * ends (httpd_stop joins them). */
	if (pthread_key_create(&w.scratch, scratch_free) != 0) {
		log_msg(LOG_ERROR, "cannot start: pthread_key_create failed");
		goto out;
	}
	w.scratch_key = true;
	/* Signals go to this thread only: block them before any thread starts. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (setup_metrics(&w, &err)) {
		log_err(LOG_ERROR, "cannot set up metrics", err.msg);
		goto out;
	}
	if (!(w.ps = load_policies(cfg))) {
		log_msg(LOG_ERROR, "cannot start without a valid policy set");
		goto out;
	}
	metrics_gauge_set(w.reload_success, 1);
	metrics_gauge_set(w.policies, (double)w.ps->n);
	watch_init(&pol_watch, cfg->policy_paths, cfg->n_policy_paths);
	watch_init(&tls_watch, tls_paths, 2);

	hc.listen = cfg->listen ? cfg->listen : WEBHOOK_LISTEN_DEFAULT;
	hc.tls_cert = cfg->tls_cert;
	hc.tls_key = cfg->tls_key;
	hc.threads = cfg->threads;
	hc.max_connections = cfg->max_connections;
	hc.arena_chunk = CONN_ARENA_CHUNK;
	hc.routes = routes;
	hc.n_routes = sizeof routes / sizeof routes[0];
	hc.user = &w;
	if (httpd_start(&hc, &w.srv, &err)) {
		log_err(LOG_ERROR, "cannot start the server", err.msg);
		goto out;
	}
	if (log_begin(&l, LOG_INFO, "serving")) {
		log_str(&l, "listen", hc.listen);
		log_int(&l, "port", httpd_port(w.srv));
		if (httpd_tls_info(w.srv, &ti) == PT_OK) {
			log_str(&l, "cert_serial", ti.serial);
			log_int(&l, "cert_not_after", ti.not_after);
		}
		log_int(&l, "policies", (int64_t)w.ps->n);
		log_str(&l, "policy_source", cfg->n_policy_paths ? cfg->policy_paths[0] : "built-in");
		log_str(&l, "version", pt_version);
		log_int(&l, "startup_us", (int64_t)((now_ns() - t0) / 1000));
		log_end(&l);
	}
	if (cfg->ready_file)
		write_ready_file(cfg->ready_file, httpd_port(w.srv));

	for (;;) {
		struct timespec ts = {.tv_sec = interval / 1000, .tv_nsec = (long)(interval % 1000) * 1000000};

		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (cfg->n_policy_paths && watch_changed(&pol_watch))
			reload_policies(&w);
		if (watch_changed(&tls_watch))
			reload_tls(&w);
	}

	/* Fail readiness first and keep serving for a moment, so that the
	 * endpoints controller drops this replica before it stops answering.
	 * The apiserver's connections are kept alive and pinned to this pod
	 * whatever the endpoints say, so responses now close them: the
	 * apiserver reconnects through the Service, to another replica. */
	atomic_store(&w.draining, true);
	httpd_drain(w.srv);
	if (log_begin(&l, LOG_INFO, "shutting down")) {
		log_str(&l, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
		log_int(&l, "delay_ms", cfg->shutdown_delay_ms);
		log_end(&l);
	}
	if (cfg->shutdown_delay_ms) {
		struct timespec d = {.tv_sec = cfg->shutdown_delay_ms / 1000,
				     .tv_nsec = (long)(cfg->shutdown_delay_ms % 1000) * 1000000};
		/* A second signal cuts the delay short. */
		(void)sigtimedwait(&sigs, NULL, &d);
	}
	if (httpd_stop(w.srv, cfg->grace_ms ? cfg->grace_ms : 10000) != PT_OK)
		log_msg(LOG_WARN, "some requests were cut at the end of the grace period");
	w.srv = NULL;
	log_msg(LOG_INFO, "stopped");
	status = 0;
out:
	if (w.srv)
		(void)httpd_stop(w.srv, 0);
	policy_set_unref(w.ps);
	metrics_free(w.m);
	if (w.scratch_key)
		pthread_key_delete(w.scratch); /* the server threads have ended */
	pthread_mutex_destroy(&w.mu);
	pthread_mutex_destroy(&w.stats_mu);
	return status;
}
