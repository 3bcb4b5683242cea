/* SPDX-License-Identifier: Apache-2.0 */
/* The Event poster: a FIFO of malloc'd items (memory only while Events
 * wait) under one lock, drained by one thread that owns the HTTP client.
 * Invariant: events_emit never waits for anything but the lock, which the
 * thread holds only to pop an item or count a result. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/http_client.h"
#include "../core/log.h"
#include "../core/text.h"

struct events_node {
	struct events_node *next;
	struct events_item it;
};

struct events {
	pthread_mutex_t lock; /* guards the queue, st, and the wake-up */
	pthread_cond_t wake;
	atomic_bool stop;
	struct events_node *head, *tail;
	size_t n, max;
	struct events_stats st;
	struct events_spam spam;

	/* The thread's own. */
	pthread_t thread;
	struct kube_config *cfg;
	struct http_client *http;
	char instance[EVENTS_INSTANCE_MAX + 1];
	long timeout_ms;
	int64_t last_ns;
	bool failing; /* the last POST failed: say so once, and once when it works again */
};

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* --- the JSON ------------------------------------------------------------ */

static enum pt_code put_field(struct buf *b, const char *key, const char *val)
{
	enum pt_code rc;

	if ((rc = buf_putc(b, '"')) || (rc = buf_puts(b, key)) || (rc = buf_puts(b, "\":")))
		return rc;
	return buf_put_json_str(b, val, strlen(val));
}

enum pt_code events_encode(const struct events_item *it, const char *instance, int64_t name_ns, struct buf *out,
			   struct pt_error *e)
{
	char name[EVENTS_NAME_MAX + 1], when[32], field[96];
	time_t secs = (time_t)(it->time_ms / 1000);
	struct tm tm;
	int pod_len;
	enum pt_code rc = PT_OK;

	if (!it->namespace[0] || !it->pod[0] || !it->reason[0])
		return pt_error_set(e, PT_INVALID, "an Event needs a namespace, a pod and a reason");
	/* client-go's recorder: fmt.Sprintf("%v.%x", ref.Name, t.UnixNano())
	 * (tools/record/event.go, makeEvent); 17 bytes for ".<hex>". */
	pod_len = (int)strnlen(it->pod, EVENTS_NAME_MAX - 17);
	snprintf(name, sizeof name, "%.*s.%llx", pod_len, it->pod, (unsigned long long)name_ns);
	gmtime_r(&secs, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (it->container[0])
		snprintf(field, sizeof field, "spec.containers{%s}", it->container);

	rc |= buf_puts(out, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{");
	rc |= put_field(out, "name", name);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "namespace", it->namespace);
	rc |= buf_puts(out, "},\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",");
	rc |= put_field(out, "namespace", it->namespace);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "name", it->pod);
	if (it->uid[0]) {
		rc |= buf_putc(out, ',');
		rc |= put_field(out, "uid", it->uid);
	}
	if (it->container[0]) {
		rc |= buf_putc(out, ',');
		rc |= put_field(out, "fieldPath", field);
	}
	rc |= buf_puts(out, "},");
	rc |= put_field(out, "reason", it->reason);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "message", it->message);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "type", it->type == EVENTS_WARNING ? "Warning" : "Normal");
	rc |= buf_puts(out, ",\"source\":{");
	rc |= put_field(out, "component", EVENTS_COMPONENT);
	if (instance && *instance) {
		rc |= buf_putc(out, ',');
		rc |= put_field(out, "host", instance);
	}
	rc |= buf_puts(out, "},");
	rc |= put_field(out, "firstTimestamp", when);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "lastTimestamp", when);
	rc |= buf_puts(out, ",\"count\":1,");
	rc |= put_field(out, "reportingComponent", EVENTS_CONTROLLER);
	rc |= buf_putc(out, ',');
	rc |= put_field(out, "reportingInstance", instance ? instance : "");
	rc |= buf_putc(out, '}');
	/* Only the buffer can fail (its cap, or memory): either way the
	 * Event cannot be built. */
	if (rc)
		return pt_error_set(e, PT_LIMIT, "cannot encode an Event for pod '%s': buffer full", it->pod);
	return PT_OK;
}

/* --- the spam filter ------------------------------------------------------ */

#define SPAM_CAP (sizeof ((struct events_spam *)0)->v / sizeof ((struct events_spam *)0)->v[0])
_Static_assert((SPAM_CAP & (SPAM_CAP - 1)) == 0 && SPAM_CAP > EVENTS_SPAM_PODS,
	       "the spam table is probed with a mask and always has a free slot");

/* The bucket at now: refilled for the time since at_ms, at most full. */
static double spam_tokens(const struct events_spam_slot *sl, int64_t now_ms)
{
	double t = sl->tokens;

	if (now_ms > sl->at_ms)
		t += (double)(now_ms - sl->at_ms) / EVENTS_SPAM_REFILL_MS;
	return t < EVENTS_SPAM_BURST ? t : EVENTS_SPAM_BURST;
}

static struct events_spam_slot *spam_find(struct events_spam *s, uint64_t h)
{
	size_t i = h & (SPAM_CAP - 1);

	while (s->v[i].h && s->v[i].h != h)
		i = (i + 1) & (SPAM_CAP - 1);
	return &s->v[i];
}

/* Forget the pods whose bucket is full again: rebuild without them. */
static void spam_sweep(struct events_spam *s, int64_t now_ms)
{
	struct events_spam_slot keep[SPAM_CAP];
	size_t n = 0;

	for (size_t i = 0; i < SPAM_CAP; i++)
		if (s->v[i].h && spam_tokens(&s->v[i], now_ms) < EVENTS_SPAM_BURST)
			keep[n++] = s->v[i];
	memset(s->v, 0, sizeof s->v);
	s->n = n;
	for (size_t i = 0; i < n; i++)
		*spam_find(s, keep[i].h) = keep[i];
}

bool events_spam_allow(struct events_spam *s, const struct events_item *it)
{
	uint64_t h = TEXT_FNV_INIT;
	struct events_spam_slot *sl;

	if (it->uid[0]) {
		h = text_fnv1a(h, it->uid, strlen(it->uid));
	} else {
		h = text_fnv1a(h, it->namespace, strlen(it->namespace) + 1);
		h = text_fnv1a(h, it->pod, strlen(it->pod));
	}
	h |= 1; /* 0 marks a free slot */
	sl = spam_find(s, h);
	if (!sl->h) {
		if (s->n >= EVENTS_SPAM_PODS) {
			spam_sweep(s, it->time_ms);
			sl = spam_find(s, h);
		}
		if (s->n >= EVENTS_SPAM_PODS)
			return true; /* every tracked pod is being throttled: let this one by */
		*sl = (struct events_spam_slot){.h = h, .at_ms = it->time_ms, .tokens = EVENTS_SPAM_BURST};
		s->n++;
	}
	sl->tokens = spam_tokens(sl, it->time_ms);
	if (it->time_ms > sl->at_ms)
		sl->at_ms = it->time_ms;
	if (sl->tokens < 1)
		return false;
	sl->tokens -= 1;
	return true;
}

/* --- the thread ---------------------------------------------------------- */

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void count(struct events *ev, bool ok, const struct pt_error *err)
{
	pthread_mutex_lock(&ev->lock);
	if (ok) {
		ev->st.posted++;
	} else {
		ev->st.failed++;
		copy_str(ev->st.last_error, sizeof ev->st.last_error, err->msg);
	}
	pthread_mutex_unlock(&ev->lock);
}

static void post(struct events *ev, const struct events_item *it)
{
	struct buf body, path;
	struct http_response resp;
	struct pt_error err = {0};
	int64_t ns = wall_ns();
	enum pt_code rc;

	/* Names must be unique: never reuse a nanosecond. */
	if (ns <= ev->last_ns)
		ns = ev->last_ns + 1;
	ev->last_ns = ns;
	buf_init(&body, EVENTS_MESSAGE_MAX + 4096);
	buf_init(&path, KUBE_MAX_PATH_LEN);
	http_response_init(&resp, EVENTS_MAX_RESPONSE);
	rc = events_encode(it, ev->instance, ns, &body, &err);
	if (!rc)
		rc = kube_path(&path, "/api/v1", it->namespace, "events", NULL, NULL, &err);
	if (!rc) {
		struct kube_call call = {.method = "POST", .path = path.data, .content_type = "application/json",
					 .body = body.data, .body_len = body.len, .timeout_ms = ev->timeout_ms,
					 .max_response = EVENTS_MAX_RESPONSE, .stop = &ev->stop};
		rc = kube_request(ev->cfg, ev->http, &call, &resp, &err);
	}
	count(ev, rc == PT_OK, &err);
	if (rc && !atomic_load(&ev->stop)) {
		struct log_line l;
		if (log_begin(&l, ev->failing ? LOG_DEBUG : LOG_WARN, "cannot post a Kubernetes Event; dropped")) {
			log_str(&l, "namespace", it->namespace);
			log_str(&l, "pod", it->pod);
			log_str(&l, "reason", it->reason);
			log_str(&l, "error", err.msg);
			log_end(&l);
		}
		ev->failing = true;
	} else if (!rc && ev->failing) {
		log_msg(LOG_INFO, "posting Kubernetes Events again");
		ev->failing = false;
	}
	http_response_release(&resp);
	buf_release(&path);
	buf_release(&body);
}

static void *events_main(void *arg)
{
	struct events *ev = arg;
	struct events_node *node;

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		while (!ev->head && !atomic_load(&ev->stop))
			pthread_cond_wait(&ev->wake, &ev->lock);
		if (atomic_load(&ev->stop))
			break;
		node = ev->head;
		ev->head = node->next;
		if (!ev->head)
			ev->tail = NULL;
		ev->n--;
		pthread_mutex_unlock(&ev->lock);
		post(ev, &node->it);
		free(node);
		pthread_mutex_lock(&ev->lock);
	}
	pthread_mutex_unlock(&ev->lock);
	return NULL;
}

/* --- the API ------------------------------------------------------------- */

struct events *events_new(const struct events_opts *opts, struct pt_error *e)
{
	struct events *ev;
	int err;

	if (!opts || !opts->cfg) {
		pt_error_set(e, PT_INVALID, "events need an apiserver configuration");
		return NULL;
	}
	if (opts->instance && strlen(opts->instance) > EVENTS_INSTANCE_MAX) {
		pt_error_set(e, PT_INVALID, "reporting instance '%.40s...' is longer than %d bytes", opts->instance,
			     EVENTS_INSTANCE_MAX);
		return NULL;
	}
	if (!(ev = calloc(1, sizeof *ev))) {
		pt_error_set(e, PT_NOMEM, "cannot start the Event poster: out of memory");
		return NULL;
	}
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->wake, NULL);
	atomic_init(&ev->stop, false);
	ev->cfg = opts->cfg;
	ev->max = opts->queue_max ? opts->queue_max : EVENTS_QUEUE_MAX;
	ev->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : EVENTS_TIMEOUT_MS;
	copy_str(ev->instance, sizeof ev->instance, opts->instance);
	if (!(ev->http = http_client_new(e)))
		goto fail;
	if ((err = pthread_create(&ev->thread, NULL, events_main, ev))) {
		pt_error_sys(e, err, "cannot start the Event poster thread (pthread_create)");
		goto fail;
	}
	return ev;
fail:
	http_client_free(ev->http);
	pthread_cond_destroy(&ev->wake);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
	return NULL;
}

bool events_emit(struct events *ev, const struct events_item *it)
{
	struct events_node *node;
	bool ok = false;

	if (!ev)
		return false;
	/* Allocate outside the lock; the item is copied whole. */
	node = malloc(sizeof *node);
	pthread_mutex_lock(&ev->lock);
	if (!events_spam_allow(&ev->spam, it)) {
		ev->st.throttled++;
	} else if (node && ev->n < ev->max && !atomic_load(&ev->stop)) {
		node->next = NULL;
		node->it = *it;
		if (ev->tail)
			ev->tail->next = node;
		else
			ev->head = node;
		ev->tail = node;
		ev->n++;
		ev->st.queued++;
		ok = true;
		pthread_cond_signal(&ev->wake);
	} else {
		ev->st.dropped++;
	}
	pthread_mutex_unlock(&ev->lock);
	if (!ok)
		free(node);
	return ok;
}

void events_get_stats(struct events *ev, struct events_stats *out)
{
	if (!ev) {
		memset(out, 0, sizeof *out);
		return;
	}
	pthread_mutex_lock(&ev->lock);
	*out = ev->st;
	pthread_mutex_unlock(&ev->lock);
}

void events_free(struct events *ev)
{
	struct events_node *node;

	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	atomic_store(&ev->stop, true);
	pthread_cond_signal(&ev->wake);
	pthread_mutex_unlock(&ev->lock);
	pthread_join(ev->thread, NULL);
	while ((node = ev->head)) {
		ev->head = node->next;
		ev->st.dropped++;
		free(node);
	}
	http_client_free(ev->http);
	pthread_cond_destroy(&ev->wake);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}
