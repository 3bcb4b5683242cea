/* SPDX-License-Identifier: Apache-2.0 */
/* Pod source. The Kubernetes source runs list+watch in its own thread and
 * parses events there, so the agent's tick pays only for delivering them;
 * the two threads share one mutex-guarded queue that poll swaps out in
 * O(1). The queue holds at most one resync (a newer one supersedes
 * everything pending) followed by deltas, so it stays bounded. */
#include "podsrc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/fileio.h"
#include "../core/http_client.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/yaml.h"

#define STATUS_BODY_MAX (64u << 10)  /* a Status answered instead of a stream */
#define MAX_CONTINUE_LEN 4096        /* a list continue token */
#define SHORT_WATCH_MS 1000          /* client-go's "very short watch" */
#define WATCH_CLIENT_SLACK_S 30      /* client timeout beyond timeoutSeconds */
#define LIST_TIMEOUT_MS 60000        /* one list page */
#define LINE_KEEP_BYTES (1u << 20)   /* line buffer kept between watches */

enum item_type { ITEM_RESYNC, ITEM_UPSERT, ITEM_DELETE };

struct item {
	enum item_type type;
	cJSON *obj;   /* RESYNC: an array of pods; else a pod */
	size_t bytes; /* JSON bytes it came from (deltas only) */
};

struct queue {
	struct item *v;
	size_t n;
	size_t bytes;
};

/* Why the watch thread stopped a stream itself. */
enum watch_end { WE_NONE, WE_GONE, WE_MALFORMED, WE_OVERSIZE, WE_OVERFLOW, WE_ERROR_EVENT };

/* What the watch loop does next. */
enum next { NEXT_WATCH, NEXT_WATCH_BACKOFF, NEXT_RELIST, NEXT_STOP };

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

struct podsrc {
	bool is_file;
	pthread_mutex_t lock; /* guards q, st and the stop wake-up */
	pthread_cond_t wake;
	atomic_bool stop;
	struct queue q;       /* the producer's side */
	struct queue spare;   /* the consumer's side, swapped in by poll */
	size_t queue_max;
	struct podsrc_stats st;

	/* Kubernetes source; everything below is the thread's own. */
	pthread_t thread;
	bool started;
	struct kube_config *cfg;
	char node[PODSRC_MAX_NODE_NAME + 1];
	unsigned page_limit, watch_timeout_s;
	unsigned bo_initial, bo_max, bo_reset;
	size_t max_event;
	struct http_client *http;
	char rv[PODSRC_MAX_RV_LEN + 1];
	bool rv_unavailable; /* the last list at rv was refused: quorum-read */
	bool paginated;      /* a resourceVersion=0 list came in pages */
	uint64_t bo_cur, bo_last;
	uint64_t rng;
	struct buf line;          /* a partial event line */
	struct buf status_body;   /* a non-200 watch answer */
	long status;
	enum watch_end end;
	uint64_t w_events;
	char w_msg[400];

	/* File source. */
	char *path;
	struct file_id fid;  /* of the version last tried */
	bool fid_valid;
	bool missing;        /* the file is absent (logged once) */
	cJSON *pending;      /* a loaded version not delivered yet */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift64*: jitter only, not security. */
static uint64_t rnd(struct podsrc *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

#define STAT_ADD(s, field, n)                   \
	do {                                    \
		pthread_mutex_lock(&(s)->lock); \
		(s)->st.field += (n);           \
		pthread_mutex_unlock(&(s)->lock); \
	} while (0)

/* Log a message with an optional error text; warnings and errors also
 * become last_error. */
static void note(struct podsrc *s, enum log_level level, const char *msg, const char *err)
{
	struct log_line l;

	if (level >= LOG_WARN && err) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->st.last_error, sizeof s->st.last_error, "%s", err);
		pthread_mutex_unlock(&s->lock);
	}
	if (log_begin(&l, level, msg)) {
		log_str(&l, "source", s->is_file ? "file" : "kube");
		if (s->is_file)
			log_str(&l, "path", s->path);
		else
			log_str(&l, "node", s->node);
		if (err)
			log_str(&l, "error", err);
		log_end(&l);
	}
}

static bool stopping(struct podsrc *s)
{
	return atomic_load(&s->stop);
}

/* Sleep up to ms, waking at once on stop. Returns true when stopping. */
static bool sleep_ms(struct podsrc *s, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!stopping(s) && pthread_cond_timedwait(&s->wake, &s->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
	return stopping(s);
}

/* Wait out the next back-off step: exponential from bo_initial to bo_max,
 * restarting from bo_initial after bo_reset ms without a back-off (as
 * apimachinery's exponentialBackoffManagerImpl), with the wait drawn from
 * [step/2, step] so that a fleet of agents does not relist in step. */
static bool backoff(struct podsrc *s)
{
	uint64_t now = now_ms(), wait;

	if (s->bo_cur == 0 || now - s->bo_last > s->bo_reset)
		s->bo_cur = s->bo_initial;
	else if (s->bo_cur < s->bo_max)
		s->bo_cur = s->bo_cur * 2 > s->bo_max ? s->bo_max : s->bo_cur * 2;
	wait = s->bo_cur / 2 + rnd(s) % (s->bo_cur / 2 + 1);
	STAT_ADD(s, backoffs, 1);
	if (sleep_ms(s, wait))
		return true;
	s->bo_last = now_ms();
	return false;
}

static void queue_clear(struct queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		cJSON_Delete(q->v[i].obj);
	q->n = 0;
	q->bytes = 0;
}

/* Take obj into the queue. A resync replaces whatever is pending. A delta
 * that does not fit empties the queue and returns false: the caller
 * relists, which queues a resync in its place. */
static bool enqueue(struct podsrc *s, enum item_type type, cJSON *obj, size_t bytes)
{
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	if (type == ITEM_RESYNC) {
		queue_clear(&s->q);
		bytes = 0;
	} else if (s->q.n >= s->queue_max || s->q.bytes + bytes > PODSRC_QUEUE_MAX_BYTES) {
		queue_clear(&s->q);
		s->st.overflows++;
		ok = false;
	}
	if (ok) {
		s->q.v[s->q.n].type = type;
		s->q.v[s->q.n].obj = obj;
		s->q.v[s->q.n].bytes = bytes;
		s->q.n++;
		s->q.bytes += bytes;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		cJSON_Delete(obj);
	return ok;
}

static bool nonempty(const char *s)
{
	return s && s[0];
}

/* The identity of a pod, or false when it has none. */
static bool pod_ids(const cJSON *pod, const char **uid, const char **ns, const char **name)
{
	const cJSON *meta = json_get(pod, "metadata");

	*uid = json_get_str(meta, "uid");
	*ns = json_get_str(meta, "namespace");
	*name = json_get_str(meta, "name");
	return nonempty(*uid) && nonempty(*ns) && nonempty(*name);
}

static void strip(cJSON *pod)
{
	cJSON *meta = json_get(pod, "metadata");

	if (meta)
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
}

static void deliver_pod(enum podsrc_event_type type, const cJSON *pod, podsrc_handler h, void *ctx)
{
	struct podsrc_event ev = {.type = type, .pod = pod};

	pod_ids(pod, &ev.uid, &ev.namespace, &ev.name); /* checked when queued */
	h(ctx, &ev);
}

static size_t deliver_resync(const cJSON *pods, podsrc_handler h, void *ctx)
{
	struct podsrc_event ev = {.type = PODSRC_RESYNC_BEGIN};
	const cJSON *pod;
	size_t n = 2;

	h(ctx, &ev);
	cJSON_ArrayForEach(pod, pods) {
		deliver_pod(PODSRC_UPSERT, pod, h, ctx);
		n++;
	}
	ev.type = PODSRC_RESYNC_END;
	h(ctx, &ev);
	return n;
}

/* ---- the Kubernetes source ------------------------------------------ */

/* Kubernetes node names are DNS-1123 subdomains; this also keeps ',' and
 * '=' out of the field selector, where they would add terms. */
static bool valid_node_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > PODSRC_MAX_NODE_NAME || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789.-") != len)
		return false;
	return n[0] != '-' && n[0] != '.' && n[len - 1] != '-' && n[len - 1] != '.';
}

/* "/api/v1/pods?fieldSelector=spec.nodeName%3D<node>" */
static enum pt_code pods_path(struct podsrc *s, struct buf *b, struct pt_error *e)
{
	char sel[PODSRC_MAX_NODE_NAME + 32];
	enum pt_code rc;

	snprintf(sel, sizeof sel, "spec.nodeName=%s", s->node);
	if ((rc = kube_path(b, "/api/v1", NULL, "pods", NULL, NULL, e)))
		return rc;
	return kube_query(b, "fieldSelector", sel, e);
}

static enum pt_code query_uint(struct buf *b, const char *key, unsigned long v, struct pt_error *e)
{
	char num[24];

	snprintf(num, sizeof num, "%lu", v);
	return kube_query(b, key, num, e);
}

/* A Status body's message, reason and code, as far as they are there. */
static void status_fields(const char *body, size_t len, char *msg, size_t msg_len, char *reason,
			  size_t reason_len, long *code)
{
	cJSON *st = len ? json_parse(body, len, NULL) : NULL;
	const cJSON *c = json_get(st, "code");

	snprintf(msg, msg_len, "%s", nonempty(json_get_str(st, "message")) ? json_get_str(st, "message") : "");
	snprintf(reason, reason_len, "%s", nonempty(json_get_str(st, "reason")) ? json_get_str(st, "reason") : "");
	if (cJSON_IsNumber(c))
		*code = (long)c->valuedouble;
	cJSON_Delete(st);
}

/* Whether a Status carries the cause the apiserver gives for a
 * resourceVersion newer than it has (metav1.CauseTypeResourceVersionTooLarge). */
static bool too_large_rv(const char *body, size_t len)
{
	cJSON *st = len ? json_parse(body, len, NULL) : NULL;
	const cJSON *cause;
	bool found = false;

	cJSON_ArrayForEach(cause, json_path(st, "details", "causes", NULL)) {
		const char *r = json_get_str(cause, "reason");

		if (r && strcmp(r, "ResourceVersionTooLarge") == 0)
			found = true;
	}
	cJSON_Delete(st);
	return found;
}

static void rbac_hint(struct podsrc *s, const char *what, const char *err)
{
	char msg[1200];

	snprintf(msg, sizeof msg,
		 "%.600s; the agent's ServiceAccount needs get, list and watch on pods in the core API group "
		 "(apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"get\", \"list\", \"watch\"]) in a "
		 "ClusterRole bound to it by a ClusterRoleBinding",
		 err);
	note(s, LOG_ERROR, what, msg);
}

/* One list page: parse it, move its pods into all, return its
 * resourceVersion and continue token. */
static enum pt_code take_page(struct podsrc *s, const struct buf *body, cJSON *all, size_t *count, char *rv,
			      char *cont, struct pt_error *e)
{
	struct pt_error pe = {0};
	cJSON *root = json_parse(body->data, body->len, &pe);
	const char *page_rv, *token;
	cJSON *items, *pod;
	enum pt_code rc = PT_OK;

	if (!root)
		return pt_error_set(e, PT_SYNTAX, "cannot decode the pod list: %s", pe.msg);
	items = json_get(root, "items");
	page_rv = json_get_str(json_get(root, "metadata"), "resourceVersion");
	token = json_get_str(json_get(root, "metadata"), "continue");
	if (!cJSON_IsObject(root) || !(cJSON_IsArray(items) || cJSON_IsNull(items) || !items)) {
		rc = pt_error_set(e, PT_SYNTAX, "cannot decode the pod list: not a PodList with an 'items' array");
		goto out;
	}
	if (!nonempty(page_rv) || strlen(page_rv) > PODSRC_MAX_RV_LEN) {
		rc = pt_error_set(e, PT_SYNTAX, "cannot decode the pod list: metadata.resourceVersion is missing or "
				  "longer than %d bytes", PODSRC_MAX_RV_LEN);
		goto out;
	}
	if (token && strlen(token) > MAX_CONTINUE_LEN) {
		rc = pt_error_set(e, PT_LIMIT, "cannot decode the pod list: the continue token exceeds %d bytes",
				  MAX_CONTINUE_LEN);
		goto out;
	}
	snprintf(rv, PODSRC_MAX_RV_LEN + 1, "%s", page_rv);
	snprintf(cont, MAX_CONTINUE_LEN + 1, "%s", token ? token : "");
	while (items && (pod = cJSON_DetachItemFromArray(items, 0))) {
		const char *uid, *ns, *name;

		strip(pod);
		if (!pod_ids(pod, &uid, &ns, &name)) {
			STAT_ADD(s, invalid, 1);
			note(s, LOG_WARN, "pod source: dropping a listed pod without metadata.uid, namespace or name",
			     NULL);
			cJSON_Delete(pod);
			continue;
		}
		if (*count >= PODSRC_MAX_PODS) {
			cJSON_Delete(pod);
			rc = pt_error_set(e, PT_LIMIT, "cannot list pods: more than %d pods on node '%s'",
					  PODSRC_MAX_PODS, s->node);
			goto out;
		}
		cJSON_AddItemToArray(all, pod);
		(*count)++;
	}
out:
	cJSON_Delete(root);
	return rc;
}

/* List the node's pods the way client-go's reflector and pager do, and
 * queue them as a resync. */
static enum pt_code do_list(struct podsrc *s)
{
	struct pt_error e = {0};
	struct http_response resp;
	struct buf path;
	char list_rv[PODSRC_MAX_RV_LEN + 1], page_rv[PODSRC_MAX_RV_LEN + 1] = "";
	char *cont = NULL;
	cJSON *all = cJSON_CreateArray();
	unsigned limit;
	size_t count = 0;
	bool first = true, fell_back = false, retried_quorum = false;
	enum pt_code rc;

	http_response_init(&resp, PODSRC_MAX_PAGE_BYTES);
	buf_init(&path, KUBE_MAX_PATH_LEN);
	cont = malloc(MAX_CONTINUE_LEN + 1);
	if (!all || !cont) {
		rc = pt_error_set(&e, PT_NOMEM, "cannot list pods: out of memory");
		goto out;
	}
	cont[0] = '\0';
restart:
	/* reflector.relistResourceVersion: "0" first (the watch cache), then
	 * the last seen version, "" (quorum) once that was refused. */
	snprintf(list_rv, sizeof list_rv, "%s", s->rv_unavailable ? "" : s->rv[0] ? s->rv : "0");
	/* reflector.list: no paging at a specific version, so the watch cache
	 * can serve it, unless the server showed it pages (no watch cache). */
	limit = list_rv[0] && strcmp(list_rv, "0") != 0 && !s->paginated ? 0 : s->page_limit;
	for (;;) {
		buf_reset(&path);
		if ((rc = pods_path(s, &path, &e)) || (limit && (rc = query_uint(&path, "limit", limit, &e))) ||
		    (cont[0] && (rc = kube_query(&path, "continue", cont, &e))) ||
		    /* the apiserver refuses a resourceVersion next to continue */
		    (!cont[0] && list_rv[0] && (rc = kube_query(&path, "resourceVersion", list_rv, &e))))
			goto out;
		struct kube_call call = {.path = path.data, .timeout_ms = LIST_TIMEOUT_MS,
					 .max_response = PODSRC_MAX_PAGE_BYTES, .stop = &s->stop};
		STAT_ADD(s, list_pages, 1);
		rc = kube_request(s->cfg, s->http, &call, &resp, &e);
		if (rc && stopping(s))
			goto out;
		if (rc == PT_GONE && cont[0] && !fell_back) {
			/* pager.List: an expired continue token falls back to
			 * one full list at the requested version. */
			note(s, LOG_INFO, "pod source: list continue token expired, listing without pages", e.msg);
			fell_back = true;
			limit = 0;
			cont[0] = '\0';
			count = 0;
			cJSON_Delete(all);
			all = cJSON_CreateArray();
			if (!all) {
				rc = pt_error_set(&e, PT_NOMEM, "cannot list pods: out of memory");
				goto out;
			}
			continue;
		}
		if (rc && !cont[0] && list_rv[0] && !retried_quorum &&
		    (rc == PT_GONE || too_large_rv(resp.body.data, resp.body.len))) {
			/* reflector.list: an expired or too new version is
			 * retried at once as a quorum read. */
			note(s, LOG_INFO, "pod source: list at the last resourceVersion refused, listing from etcd",
			     e.msg);
			retried_quorum = true;
			s->rv_unavailable = true;
			first = true;
			count = 0;
			cJSON_Delete(all);
			all = cJSON_CreateArray();
			if (!all) {
				rc = pt_error_set(&e, PT_NOMEM, "cannot list pods: out of memory");
				goto out;
			}
			goto restart;
		}
		if (rc)
			goto out;
		if ((rc = take_page(s, &resp.body, all, &count, page_rv, cont, &e)))
			goto out;
		if (first && strcmp(list_rv, "0") == 0 && cont[0])
			s->paginated = true;
		first = false;
		if (!cont[0])
			break;
	}
	snprintf(s->rv, sizeof s->rv, "%s", page_rv);
	s->rv_unavailable = false;
	pthread_mutex_lock(&s->lock);
	s->st.lists++;
	snprintf(s->st.resource_version, sizeof s->st.resource_version, "%s", s->rv);
	pthread_mutex_unlock(&s->lock);
	{
		struct log_line l;

		if (log_begin(&l, LOG_INFO, "pod source: listed pods")) {
			log_str(&l, "node", s->node);
			log_int(&l, "pods", (int64_t)count);
			log_str(&l, "resourceVersion", s->rv);
			log_end(&l);
		}
	}
	enqueue(s, ITEM_RESYNC, all, 0);
	all = NULL;
out:
	if (rc && !stopping(s)) {
		STAT_ADD(s, failures, 1);
		if (resp.status == 403)
			rbac_hint(s, "pod source: cannot list pods", e.msg);
		else
			note(s, LOG_WARN, "pod source: cannot list pods, retrying after a back-off", e.msg);
	}
	cJSON_Delete(all);
	free(cont);
	buf_release(&path);
	http_response_release(&resp);
	return rc;
}

/* Stop the stream, for the reason end, with a message for the log. */
PT_PRINTF(4, 5)
static enum pt_code end_watch(struct podsrc *s, enum watch_end end, enum pt_code rc, const char *fmt, ...)
{
	va_list ap;

	s->end = end;
	va_start(ap, fmt);
	vsnprintf(s->w_msg, sizeof s->w_msg, fmt, ap);
	va_end(ap);
	return rc;
}

/* One event line: {"type": ..., "object": {...}}. */
static enum pt_code handle_line(struct podsrc *s, const char *p, size_t n)
{
	struct pt_error pe = {0};
	const char *type, *rv, *uid, *ns, *name;
	cJSON *ev, *obj;
	enum item_type it;

	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return PT_OK;
	s->w_events++;
	STAT_ADD(s, events, 1);
	ev = json_parse(p, n, &pe);
	if (!ev) {
		STAT_ADD(s, malformed, 1);
		return end_watch(s, WE_MALFORMED, PT_SYNTAX, "malformed watch event line (%zu bytes, starts '%.*s'): %s",
				 n, (int)(n < 40 ? n : 40), p, pe.msg);
	}
	type = json_get_str(ev, "type");
	obj = json_get(ev, "object");
	if (!type || !cJSON_IsObject(obj)) {
		cJSON_Delete(ev);
		STAT_ADD(s, malformed, 1);
		return end_watch(s, WE_MALFORMED, PT_SYNTAX,
				 "malformed watch event (%zu bytes): no string 'type' and object 'object'", n);
	}
	if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = json_get(obj, "code");
		const char *reason = json_get_str(obj, "reason"), *msg = json_get_str(obj, "message");
		long c = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
		/* reflector.isExpiredError: 410 with reason Expired (or Gone
		 * before Kubernetes 1.18). */
		bool gone = c == 410 || (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0));

		end_watch(s, gone ? WE_GONE : WE_ERROR_EVENT, gone ? PT_GONE : PT_HTTP,
			  "the watch sent an ERROR event: %ld %s: %.300s", c, reason ? reason : "",
			  msg ? msg : "");
		cJSON_Delete(ev);
		return gone ? PT_GONE : PT_HTTP;
	}
	rv = json_get_str(json_get(obj, "metadata"), "resourceVersion");
	if (!nonempty(rv) || strlen(rv) > PODSRC_MAX_RV_LEN) {
		cJSON_Delete(ev);
		STAT_ADD(s, malformed, 1);
		return end_watch(s, WE_MALFORMED, PT_SYNTAX,
				 "malformed %.20s watch event: metadata.resourceVersion is missing or too long", type);
	}
	if (strcmp(type, "BOOKMARK") == 0) {
		snprintf(s->rv, sizeof s->rv, "%s", rv);
		pthread_mutex_lock(&s->lock);
		s->st.bookmarks++;
		snprintf(s->st.resource_version, sizeof s->st.resource_version, "%s", s->rv);
		pthread_mutex_unlock(&s->lock);
		cJSON_Delete(ev);
		return PT_OK;
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		it = ITEM_UPSERT;
	} else if (strcmp(type, "DELETED") == 0) {
		it = ITEM_DELETE;
	} else {
		STAT_ADD(s, malformed, 1);
		end_watch(s, WE_MALFORMED, PT_SYNTAX, "malformed watch event: unknown type '%.40s'", type);
		cJSON_Delete(ev);
		return PT_SYNTAX;
	}
	/* The version is the event's, whatever becomes of its object. */
	snprintf(s->rv, sizeof s->rv, "%s", rv);
	pthread_mutex_lock(&s->lock);
	snprintf(s->st.resource_version, sizeof s->st.resource_version, "%s", s->rv);
	pthread_mutex_unlock(&s->lock);
	obj = cJSON_DetachItemFromObjectCaseSensitive(ev, "object");
	cJSON_Delete(ev);
	strip(obj);
	if (!pod_ids(obj, &uid, &ns, &name)) {
		STAT_ADD(s, invalid, 1);
		note(s, LOG_WARN, "pod source: dropping a watched pod without metadata.uid, namespace or name", NULL);
		cJSON_Delete(obj);
		return PT_OK;
	}
	if (!enqueue(s, it, obj, n))
		return end_watch(s, WE_OVERFLOW, PT_LIMIT,
				 "the agent has not taken %zu pending pod events: dropped them to relist",
				 s->queue_max);
	return PT_OK;
}

/* Receives the watch body as the network delivers it: split into lines,
 * which may span chunks or share one. */
static enum pt_code on_watch_chunk(void *ud, long status, const char *data, size_t len, struct pt_error *e)
{
	struct podsrc *s = ud;
	enum pt_code rc;

	(void)e; /* the reason is kept in s->end and s->w_msg */
	s->status = status;
	if (status != 200) {
		size_t room = STATUS_BODY_MAX - s->status_body.len;

		if (len > room)
			len = room;
		return len && buf_append(&s->status_body, data, len) ? PT_NOMEM : PT_OK;
	}
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (take > s->max_event - s->line.len) {
			STAT_ADD(s, oversize, 1);
			return end_watch(s, WE_OVERSIZE, PT_LIMIT,
					 "a watch event line exceeds the limit of %zu bytes", s->max_event);
		}
		if (nl && s->line.len == 0) {
			rc = handle_line(s, data, take); /* whole in this chunk: no copy */
		} else {
			if (take && buf_append(&s->line, data, take))
				return end_watch(s, WE_OVERSIZE, PT_NOMEM, "cannot buffer a watch event line: out of memory");
			if (!nl)
				break;
			rc = handle_line(s, s->line.data, s->line.len);
			buf_reset(&s->line);
		}
		if (rc)
			return rc;
		data += take + 1;
		len -= take + 1;
	}
	return PT_OK;
}

static bool refused(const struct pt_error *e)
{
	return strstr(e->msg, "(CURLE_COULDNT_CONNECT)") != NULL;
}

/* One watch request, from s->rv to its end. */
static enum next do_watch(struct podsrc *s)
{
	struct pt_error e = {0};
	struct http_response resp;
	struct buf path;
	unsigned timeout = s->watch_timeout_s + (unsigned)(rnd(s) % (s->watch_timeout_s + 1u));
	char err[1024], smsg[KUBE_MAX_STATUS_MESSAGE], reason[64];
	long scode = 0;
	uint64_t start, dur;
	enum pt_code rc;
	enum next next = NEXT_RELIST;

	http_response_init(&resp, 1);
	buf_init(&path, KUBE_MAX_PATH_LEN);
	buf_reset(&s->line);
	buf_reset(&s->status_body);
	s->status = 0;
	s->end = WE_NONE;
	s->w_events = 0;
	s->w_msg[0] = '\0';
	if ((rc = pods_path(s, &path, &e)) || (rc = kube_query(&path, "resourceVersion", s->rv, &e)) ||
	    (rc = kube_query(&path, "allowWatchBookmarks", "true", &e)) ||
	    (rc = query_uint(&path, "timeoutSeconds", timeout, &e)) || (rc = kube_query(&path, "watch", "true", &e))) {
		note(s, LOG_ERROR, "pod source: cannot build the watch request", e.msg);
		goto out;
	}
	struct kube_call call = {.path = path.data, .timeout_ms = (long)(timeout + WATCH_CLIENT_SLACK_S) * 1000,
				 .on_chunk = on_watch_chunk, .ud = s, .stop = &s->stop};
	STAT_ADD(s, watches, 1);
	start = now_ms();
	rc = kube_request(s->cfg, s->http, &call, &resp, &e);
	dur = now_ms() - start;
	if (stopping(s)) {
		next = NEXT_STOP;
		goto out;
	}
	switch (s->end) {
	case WE_GONE:
		STAT_ADD(s, gone, 1);
		note(s, LOG_INFO, "pod source: watch expired, relisting", s->w_msg);
		goto out;
	case WE_MALFORMED: case WE_OVERSIZE: case WE_OVERFLOW:
		STAT_ADD(s, failures, 1);
		note(s, LOG_WARN, "pod source: relisting after a bad watch stream", s->w_msg);
		goto out;
	case WE_ERROR_EVENT:
		STAT_ADD(s, failures, 1);
		note(s, LOG_WARN, "pod source: watch failed, relisting after a back-off", s->w_msg);
		goto out;
	case WE_NONE:
		break;
	}
	if (rc == PT_OK || s->status == 200) {
		/* The stream ended: the server's timeout, or a connection
		 * lost mid-stream. Either way resume from the last version
		 * (reflector.watchHandler), unless it ended at once. */
		if (dur < SHORT_WATCH_MS && s->w_events == 0) {
			STAT_ADD(s, failures, 1);
			snprintf(err, sizeof err, "very short watch: it lasted %llu ms with no event%s%s",
				 (unsigned long long)dur, rc ? ": " : "", rc ? e.msg : "");
			note(s, LOG_WARN, "pod source: watch failed, relisting after a back-off", err);
			goto out;
		}
		if (rc) {
			STAT_ADD(s, failures, 1);
			note(s, LOG_INFO, "pod source: watch stream broken, resuming", e.msg);
		}
		next = NEXT_WATCH;
		goto out;
	}
	STAT_ADD(s, failures, 1);
	if (s->status) {
		status_fields(s->status_body.data, s->status_body.len, smsg, sizeof smsg, reason, sizeof reason,
			      &scode);
		snprintf(err, sizeof err, "cannot watch pods on node '%s': %ld %s%s%.400s", s->node, s->status,
			 reason[0] ? reason : "error", smsg[0] ? ": " : "", smsg);
	} else {
		snprintf(err, sizeof err, "%.512s", e.msg);
	}
	if (s->status == 410) {
		STAT_ADD(s, gone, 1);
		note(s, LOG_INFO, "pod source: watch expired, relisting", err);
	} else if (s->status == 429 || (s->status == 0 && refused(&e))) {
		/* reflector.watch: the apiserver is most likely restarting;
		 * the watch can resume where it was. */
		note(s, LOG_WARN, "pod source: cannot watch, retrying after a back-off", err);
		next = NEXT_WATCH_BACKOFF;
	} else if (s->status == 401) {
		note(s, LOG_WARN, "pod source: the API server rejected the token (rotated or expired?); the token "
				  "file is re-read on the next request", err);
	} else if (s->status == 403) {
		rbac_hint(s, "pod source: cannot watch pods", err);
	} else {
		note(s, LOG_WARN, "pod source: watch failed, relisting after a back-off", err);
	}
out:
	if (s->line.cap > LINE_KEEP_BYTES)
		buf_release(&s->line);
	buf_release(&path);
	http_response_release(&resp);
	return next;
}

static void *kube_main(void *arg)
{
	struct podsrc *s = arg;
	bool need_list = true;

	json_use_arena(NULL);
	while (!stopping(s)) {
		if (need_list) {
			if (do_list(s)) {
				if (stopping(s) || backoff(s))
					break;
				continue;
			}
			need_list = false;
		}
		switch (do_watch(s)) {
		case NEXT_WATCH:
			break;
		case NEXT_WATCH_BACKOFF:
			if (backoff(s))
				return NULL;
			break;
		case NEXT_RELIST:
			need_list = true;
			/* reflector.Run: every ListAndWatch is spaced by the
			 * back-off manager, so relists cannot storm. */
			if (backoff(s))
				return NULL;
			break;
		case NEXT_STOP:
			return NULL;
		}
	}
	return NULL;
}

static struct podsrc *src_alloc(size_t queue_max, struct pt_error *e)
{
	struct podsrc *s = calloc(1, sizeof *s);
	pthread_condattr_t ca;

	if (!s) {
		pt_error_set(e, PT_NOMEM, "cannot create a pod source: out of memory");
		return NULL;
	}
	s->queue_max = queue_max;
	s->q.v = calloc(queue_max + 1, sizeof *s->q.v);
	s->spare.v = calloc(queue_max + 1, sizeof *s->spare.v);
	if (!s->q.v || !s->spare.v) {
		free(s->q.v);
		free(s->spare.v);
		free(s);
		pt_error_set(e, PT_NOMEM, "cannot create a pod source: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->stop, false);
	s->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)s ^ (uint64_t)getpid();
	if (!s->rng)
		s->rng = 1;
	return s;
}

struct podsrc *podsrc_kube_new(const struct podsrc_kube_opts *o, struct pt_error *e)
{
	struct podsrc *s;
	int err;

	if (!o || !o->cfg)
		return pt_error_set(e, PT_INVALID, "a Kubernetes pod source needs an API config"), NULL;
	if (!o->node_name || !valid_node_name(o->node_name))
		return pt_error_set(e, PT_INVALID, "invalid node name '%.*s': it must be a DNS-1123 subdomain "
				    "(set NODE_NAME from spec.nodeName with the downward API)",
				    PODSRC_MAX_NODE_NAME, o->node_name ? o->node_name : ""), NULL;
	if (!(s = src_alloc(o->queue_max ? o->queue_max : PODSRC_QUEUE_MAX, e)))
		return NULL;
	s->cfg = o->cfg;
	snprintf(s->node, sizeof s->node, "%s", o->node_name);
	s->page_limit = o->page_limit ? o->page_limit : PODSRC_DEFAULT_PAGE_LIMIT;
	s->watch_timeout_s = o->watch_timeout_s ? o->watch_timeout_s : PODSRC_DEFAULT_WATCH_TIMEOUT_S;
	s->bo_initial = o->backoff_initial_ms ? o->backoff_initial_ms : PODSRC_DEFAULT_BACKOFF_INITIAL_MS;
	s->bo_max = o->backoff_max_ms ? o->backoff_max_ms : PODSRC_DEFAULT_BACKOFF_MAX_MS;
	s->bo_reset = o->backoff_reset_ms ? o->backoff_reset_ms : PODSRC_DEFAULT_BACKOFF_RESET_MS;
	if (s->bo_initial < 2)
		s->bo_initial = 2;
	if (s->bo_max < s->bo_initial)
		s->bo_max = s->bo_initial;
	s->max_event = o->max_event_bytes ? o->max_event_bytes : PODSRC_MAX_EVENT_BYTES;
	buf_init(&s->line, s->max_event);
	buf_init(&s->status_body, STATUS_BODY_MAX);
	if (!(s->http = http_client_new(e))) {
		podsrc_free(s);
		return NULL;
	}
	if ((err = pthread_create(&s->thread, NULL, kube_main, s))) {
		pt_error_sys(e, err, "cannot start the pod watch thread (pthread_create)");
		podsrc_free(s);
		return NULL;
	}
	s->started = true;
	return s;
}

/* ---- the file source -------------------------------------------------- */

static void file_id_of(const struct stat *st, struct file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

struct uid_at {
	const char *uid;
	size_t index;
};

static int cmp_uid(const void *a, const void *b)
{
	const struct uid_at *x = a, *y = b;
	int c = strcmp(x->uid, y->uid);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The items of a parsed PodList, checked, detached into a new array. */
static enum pt_code file_items(const char *path, cJSON *root, cJSON **out, struct pt_error *e)
{
	const char *kind = json_get_str(root, "kind");
	cJSON *items = json_get(root, "items"), *all, *pod;
	struct uid_at *ids = NULL;
	enum pt_code rc = PT_OK;
	size_t i = 0, n;

	if (!cJSON_IsObject(root))
		return pt_error_set(e, PT_INVALID, "pods file '%s': expected a PodList object", path);
	if (kind && strcmp(kind, "PodList") != 0 && strcmp(kind, "List") != 0)
		return pt_error_set(e, PT_INVALID, "pods file '%s': kind is '%.64s', expected 'PodList' or 'List'",
				    path, kind);
	if (items && !cJSON_IsArray(items) && !cJSON_IsNull(items))
		return pt_error_set(e, PT_INVALID, "pods file '%s': 'items' must be an array", path);
	if (cJSON_GetArraySize(items) > PODSRC_MAX_PODS)
		return pt_error_set(e, PT_LIMIT, "pods file '%s': %d items exceed the limit of %d", path,
				    cJSON_GetArraySize(items), PODSRC_MAX_PODS);
	n = (size_t)cJSON_GetArraySize(items);
	if (n && !(ids = calloc(n, sizeof *ids)))
		return pt_error_set(e, PT_NOMEM, "pods file '%s': out of memory", path);
	cJSON_ArrayForEach(pod, (cJSON_IsArray(items) ? items : NULL)) {
		const char *uid, *ns, *name, *pk = json_get_str(pod, "kind");

		if (!cJSON_IsObject(pod) || (pk && strcmp(pk, "Pod") != 0)) {
			rc = pt_error_set(e, PT_INVALID, "pods file '%s': items[%zu] is not a Pod", path, i);
			goto out;
		}
		if (!pod_ids(pod, &uid, &ns, &name)) {
			rc = pt_error_set(e, PT_INVALID,
					  "pods file '%s': items[%zu] ('%.64s/%.64s') needs a non-empty "
					  "metadata.uid, metadata.namespace and metadata.name",
					  path, i, ns ? ns : "", name ? name : "");
			goto out;
		}
		ids[i].uid = uid;
		ids[i].index = i;
		i++;
	}
	/* Sorted by uid, then by position: a repeat follows its first. */
	if (n > 1)
		qsort(ids, n, sizeof *ids, cmp_uid);
	for (i = 1; i < n; i++) {
		if (strcmp(ids[i].uid, ids[i - 1].uid) == 0) {
			rc = pt_error_set(e, PT_INVALID, "pods file '%s': items[%zu] repeats uid '%.64s' of items[%zu]",
					  path, ids[i].index, ids[i].uid, ids[i - 1].index);
			goto out;
		}
	}
	if (!(all = cJSON_CreateArray())) {
		rc = pt_error_set(e, PT_NOMEM, "pods file '%s': out of memory", path);
		goto out;
	}
	while (cJSON_IsArray(items) && (pod = cJSON_DetachItemFromArray(items, 0))) {
		strip(pod);
		cJSON_AddItemToArray(all, pod);
	}
	*out = all;
out:
	free(ids);
	return rc;
}

/* Read and check a pods file. Errors carry file:line:col where known. */
static enum pt_code file_load(const char *path, cJSON **out, struct pt_error *e)
{
	struct pt_error pe = {0};
	struct ystream *ys = NULL;
	struct arena *prev = json_use_arena(NULL); /* our trees outlive any tick */
	cJSON *root = NULL;
	struct buf b;
	enum pt_code rc;
	size_t i = 0;

	buf_init(&b, PODSRC_MAX_FILE_BYTES);
	if ((rc = fileio_read(path, PODSRC_MAX_FILE_BYTES, &b, e)))
		goto out;
	while (i < b.len && strchr(" \t\r\n", b.data[i]))
		i++;
	if (i < b.len && b.data[i] == '{') {
		if (!(root = json_parse(b.data, b.len, &pe))) {
			rc = pt_error_set(e, PT_SYNTAX, "cannot parse pods file '%s': %s", path, pe.msg);
			pt_error_at(e, path, pe.line, pe.col);
			goto out;
		}
	} else {
		if ((rc = yaml_parse(path, b.data, b.len, &ys, &pe))) {
			if (e) {
				*e = pe;
				snprintf(e->msg, sizeof e->msg, "cannot parse pods file '%.200s': %.280s", path, pe.msg);
			}
			goto out;
		}
		if (ys->n_docs != 1 || !ys->docs[0].root) {
			rc = pt_error_set(e, PT_INVALID, "pods file '%s': expected one YAML document, found %zu", path,
					  ys->n_docs);
			goto out;
		}
		if (!(root = yaml_to_json(ys->docs[0].root, &pe))) {
			rc = pe.code ? pe.code : PT_INVALID;
			if (e) {
				*e = pe;
				snprintf(e->msg, sizeof e->msg, "pods file '%.200s': %.280s", path, pe.msg);
			}
			goto out;
		}
	}
	rc = file_items(path, root, out, e);
out:
	cJSON_Delete(root);
	yaml_stream_free(ys);
	buf_release(&b);
	json_use_arena(prev);
	return rc;
}

static void file_error(struct podsrc *s, const struct pt_error *e)
{
	char text[sizeof e->msg + sizeof e->file + 32];

	pt_error_format(e, text, sizeof text);
	STAT_ADD(s, file_errors, 1);
	note(s, LOG_ERROR, "pod source: ignoring a bad pods file, keeping the last good state", text);
}

/* Load the file if it changed since the version last tried. */
static void file_check(struct podsrc *s)
{
	struct pt_error e = {0};
	struct file_id before, after;
	struct stat st;
	cJSON *pods = NULL;

	if (stat(s->path, &st) < 0) {
		if (!s->missing) {
			char err[PATH_MAX + 128];

			snprintf(err, sizeof err, "cannot stat '%s': %s (%s)", s->path, strerror(errno),
				 pt_errno_name(errno));
			note(s, LOG_WARN, "pod source: the pods file is gone, keeping the last state", err);
		}
		s->missing = true;
		s->fid_valid = false;
		return;
	}
	s->missing = false;
	file_id_of(&st, &before);
	if (s->fid_valid && file_id_eq(&before, &s->fid))
		return;
	s->fid = before;
	s->fid_valid = true;
	if (file_load(s->path, &pods, &e)) {
		file_error(s, &e);
	} else {
		cJSON_Delete(s->pending);
		s->pending = pods;
		STAT_ADD(s, file_loads, 1);
	}
	/* Written in place while we read: look again next poll. */
	if (stat(s->path, &st) == 0) {
		file_id_of(&st, &after);
		if (!file_id_eq(&before, &after))
			s->fid_valid = false;
	}
}

struct podsrc *podsrc_file_new(const char *path, struct pt_error *e)
{
	struct podsrc *s;
	struct stat st;
	cJSON *pods = NULL;

	if (!path || !path[0] || strlen(path) >= PATH_MAX)
		return pt_error_set(e, PT_INVALID, "invalid pods file path"), NULL;
	if (stat(path, &st) < 0)
		return pt_error_sys(e, errno, "cannot stat pods file '%s'", path), NULL;
	if (file_load(path, &pods, e))
		return NULL;
	if (!(s = src_alloc(1, e))) {
		cJSON_Delete(pods);
		return NULL;
	}
	s->is_file = true;
	s->path = strdup(path);
	if (!s->path) {
		cJSON_Delete(pods);
		podsrc_free(s);
		return pt_error_set(e, PT_NOMEM, "cannot create a pod source: out of memory"), NULL;
	}
	file_id_of(&st, &s->fid);
	s->fid_valid = true;
	s->pending = pods;
	s->st.file_loads = 1;
	return s;
}

/* ---- common ----------------------------------------------------------- */

size_t podsrc_poll(struct podsrc *src, podsrc_handler h, void *ctx)
{
	struct arena *prev = json_use_arena(NULL);
	uint64_t resyncs = 0, deltas = 0;
	size_t n = 0;

	if (src->is_file) {
		file_check(src);
		if (src->pending) {
			n += deliver_resync(src->pending, h, ctx);
			cJSON_Delete(src->pending);
			src->pending = NULL;
			resyncs++;
		}
	} else {
		struct queue tmp;

		pthread_mutex_lock(&src->lock);
		tmp = src->q;
		src->q = src->spare;
		src->spare = tmp;
		pthread_mutex_unlock(&src->lock);
		for (size_t i = 0; i < src->spare.n; i++) {
			struct item *it = &src->spare.v[i];

			if (it->type == ITEM_RESYNC) {
				n += deliver_resync(it->obj, h, ctx);
				resyncs++;
			} else {
				deliver_pod(it->type == ITEM_UPSERT ? PODSRC_UPSERT : PODSRC_DELETE, it->obj, h, ctx);
				n++;
				deltas++;
			}
		}
		queue_clear(&src->spare);
	}
	pthread_mutex_lock(&src->lock);
	src->st.resyncs += resyncs;
	src->st.deltas += deltas;
	if (resyncs)
		src->st.synced = true;
	pthread_mutex_unlock(&src->lock);
	json_use_arena(prev);
	return n;
}

void podsrc_get_stats(struct podsrc *src, struct podsrc_stats *out)
{
	pthread_mutex_lock(&src->lock);
	*out = src->st;
	pthread_mutex_unlock(&src->lock);
}

void podsrc_stop(struct podsrc *src)
{
	pthread_mutex_lock(&src->lock);
	atomic_store(&src->stop, true);
	pthread_cond_broadcast(&src->wake);
	pthread_mutex_unlock(&src->lock);
}

void podsrc_free(struct podsrc *src)
{
	if (!src)
		return;
	podsrc_stop(src);
	if (src->started)
		pthread_join(src->thread, NULL);
	http_client_free(src->http);
	queue_clear(&src->q);
	queue_clear(&src->spare);
	free(src->q.v);
	free(src->spare.v);
	buf_release(&src->line);
	buf_release(&src->status_body);
	cJSON_Delete(src->pending);
	free(src->path);
	pthread_cond_destroy(&src->wake);
	pthread_mutex_destroy(&src->lock);
	free(src);
}
