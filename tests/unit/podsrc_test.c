/* SPDX-License-Identifier: Apache-2.0 */
/* rebalancer/podsrc: the file source (change detection, atomic replace,
 * bad versions keep the last good state, positions in errors) and the
 * Kubernetes source against tests/integration/fake_apiserver.py over real
 * TLS (list pagination, watch add/modify/delete, bookmarks, 410 as event
 * and status, a cut stream, a restart, malformed and oversize lines, 401
 * and 403, queue overflow, prompt stop). Run from the worktree root. */
#include "../../core/base64.h"
#include "../../core/certgen.h"
#include "../../core/http_client.h"
#include "../../core/json.h"
#include "../../core/kube.h"
#include "../../core/log.h"
#include "../../rebalancer/podsrc.h"
#include "fake_api.h"
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static char dir[64];

static void setup(void)
{
	test_mkdtemp(dir, sizeof dir, "podsrc_test");
	json_init();
	log_threshold = getenv("PODSRC_TEST_LOG") ? LOG_DEBUG : LOG_OFF;
}

/* ---- what the agent would keep: pods by uid ------------------------- */

#define MAX_MODEL 64

struct mpod {
	char uid[64];
	char name[64];
	char label[32]; /* metadata.labels.v, "" if none */
	bool seen;      /* in the current resync */
};

struct model {
	struct mpod pods[MAX_MODEL];
	int n;
	int resyncs, upserts, deletes, resync_pods;
	bool in_resync;
	bool bad; /* the contract was broken */
};

static int find(struct model *m, const char *uid)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->pods[i].uid, uid) == 0)
			return i;
	return -1;
}

static void on_event(void *ctx, const struct podsrc_event *ev)
{
	struct model *m = ctx;
	const char *label;
	int i;

	switch (ev->type) {
	case PODSRC_RESYNC_BEGIN:
		if (m->in_resync)
			m->bad = true;
		m->in_resync = true;
		m->resync_pods = 0;
		for (i = 0; i < m->n; i++)
			m->pods[i].seen = false;
		break;
	case PODSRC_RESYNC_END:
		if (!m->in_resync)
			m->bad = true;
		m->in_resync = false;
		m->resyncs++;
		for (i = 0; i < m->n;) {
			if (!m->pods[i].seen)
				m->pods[i] = m->pods[--m->n];
			else
				i++;
		}
		break;
	case PODSRC_UPSERT:
		if (!ev->pod || !ev->uid || !ev->uid[0] || !ev->name || !ev->namespace ||
		    json_path(ev->pod, "metadata", "managedFields", NULL))
			m->bad = true;
		m->upserts++;
		if (m->in_resync)
			m->resync_pods++;
		i = find(m, ev->uid);
		if (i < 0) {
			if (m->n == MAX_MODEL) {
				m->bad = true;
				return;
			}
			i = m->n++;
			snprintf(m->pods[i].uid, sizeof m->pods[i].uid, "%s", ev->uid);
		}
		snprintf(m->pods[i].name, sizeof m->pods[i].name, "%s", ev->name);
		label = json_get_str(json_path(ev->pod, "metadata", "labels", NULL), "v");
		snprintf(m->pods[i].label, sizeof m->pods[i].label, "%s", label ? label : "");
		m->pods[i].seen = true;
		break;
	case PODSRC_DELETE:
		if (m->in_resync || !ev->uid || !ev->name)
			m->bad = true;
		m->deletes++;
		i = find(m, ev->uid);
		if (i >= 0)
			m->pods[i] = m->pods[--m->n];
		break;
	}
}

static struct mpod *by_name(struct model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->pods[i].name, name) == 0)
			return &m->pods[i];
	return NULL;
}

/* ---- the file source -------------------------------------------------- */

static const char *pod_json(char *out, size_t len, const char *name, const char *uid, const char *label)
{
	snprintf(out, len,
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"%s\",\"labels\":{\"v\":\"%s\"},"
		 "\"managedFields\":[{\"manager\":\"kubectl\"}]},\"spec\":{\"nodeName\":\"n1\"},"
		 "\"status\":{\"phase\":\"Pending\"}}",
		 name, uid, label);
	return out;
}

static void write_list(const char *name, int n, const char *label)
{
	char text[8192], pod[512];
	size_t len;

	len = (size_t)snprintf(text, sizeof text, "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":[\n");
	for (int i = 0; i < n; i++) {
		char pname[32], uid[32];

		snprintf(pname, sizeof pname, "pod-%d", i);
		snprintf(uid, sizeof uid, "uid-%d", i);
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%s\n", i ? "," : "",
					pod_json(pod, sizeof pod, pname, uid, label));
	}
	snprintf(text + len, sizeof text - len, "]}\n");
	test_put_file(dir, name, text);
}

/* Replace pods.json atomically (rename over it), as kubectl cp or a
 * ConfigMap volume would. */
static void replace_atomic(const char *text)
{
	char tmp[256], path[256];

	test_put_file(dir, "pods.tmp", text);
	snprintf(tmp, sizeof tmp, "%s/pods.tmp", dir);
	snprintf(path, sizeof path, "%s/pods.json", dir);
	if (rename(tmp, path) != 0)
		exit(2);
}

static void test_file_source(void)
{
	struct model m = {0};
	struct podsrc_stats st;
	struct pt_error e = {0};
	struct podsrc *src;
	char path[256];

	snprintf(path, sizeof path, "%s/pods.json", dir);
	write_list("pods.json", 3, "a");
	src = podsrc_file_new(path, &e);
	CHECK(src != NULL);
	if (!src)
		return;
	/* The first poll is a resync of the whole file; managedFields gone. */
	CHECK_INT(podsrc_poll(src, on_event, &m), 5);
	CHECK_INT(m.resyncs, 1);
	CHECK_INT(m.n, 3);
	CHECK(!m.bad);
	CHECK_INT(podsrc_poll(src, on_event, &m), 0); /* unchanged: nothing */

	/* Rewritten in place with other content. */
	write_list("pods.json", 2, "b");
	CHECK_INT(podsrc_poll(src, on_event, &m), 4);
	CHECK_INT(m.n, 2);
	CHECK(by_name(&m, "pod-0") && strcmp(by_name(&m, "pod-0")->label, "b") == 0);

	/* Atomic replace with the same size: the inode tells. */
	write_list("pods.tmp", 2, "c");
	{
		char tmp[256];

		snprintf(tmp, sizeof tmp, "%s/pods.tmp", dir);
		CHECK_INT(rename(tmp, path), 0);
	}
	CHECK_INT(podsrc_poll(src, on_event, &m), 4);
	CHECK(by_name(&m, "pod-1") && strcmp(by_name(&m, "pod-1")->label, "c") == 0);

	/* A malformed version: nothing delivered, the last good state stays,
	 * the error has a position and is counted once. */
	replace_atomic("{\"kind\":\"PodList\",\n\"items\":[\n{\"metadata\": }\n]}\n");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_INT(st.file_errors, 1);
	CHECK_CONTAINS(st.last_error, "pods.json:3:");
	CHECK_CONTAINS(st.last_error, "cannot parse pods file");
	CHECK_CONTAINS(st.last_error, "line 3, column");
	CHECK_INT(m.n, 2);

	/* A pod without a uid names the item; duplicate uids are refused. */
	replace_atomic("{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"}},"
		       "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"}}]}");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "items[1] ('n/b') needs a non-empty metadata.uid");
	replace_atomic("{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"}},"
		       "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"uid\":\"u\"}}]}");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "items[1] repeats uid 'u' of items[0]");
	replace_atomic("{\"kind\":\"ConfigMap\",\"items\":[]}");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "kind is 'ConfigMap', expected 'PodList' or 'List'");
	CHECK_INT(st.file_errors, 4);
	CHECK_INT(m.n, 2);

	/* YAML, as kubectl get -o yaml writes it; then a YAML error. */
	replace_atomic("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n"
		       "    name: pod-y\n    namespace: ns\n    uid: uid-y\n  status:\n    phase: Running\n");
	CHECK_INT(podsrc_poll(src, on_event, &m), 3);
	CHECK_INT(m.n, 1);
	CHECK(by_name(&m, "pod-y") != NULL);
	/* go-yaml v2 reads a plain y as true: a pod named y has no name. */
	replace_atomic("kind: PodList\nitems:\n- metadata: {name: y, namespace: ns, uid: u1}\n");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "items[0] ('ns/') needs a non-empty metadata.uid");
	replace_atomic("kind: PodList\nitems:\n- metadata: {name: [\n");
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "pods.json:");
	CHECK_CONTAINS(st.last_error, "cannot parse pods file");

	/* The file goes away: the state stays; it comes back: a resync. */
	CHECK_INT(unlink(path), 0);
	CHECK_INT(podsrc_poll(src, on_event, &m), 0);
	CHECK_INT(m.n, 1);
	write_list("pods.json", 0, "z");
	CHECK_INT(podsrc_poll(src, on_event, &m), 2);
	CHECK_INT(m.n, 0);
	CHECK(!m.bad);
	podsrc_get_stats(src, &st);
	CHECK(st.synced);
	CHECK_INT(st.file_loads, 5);
	podsrc_free(src);
	podsrc_free(NULL);

	/* A bad file at start is an error, with its position. */
	test_put_file(dir, "bad.json", "{\"items\": [\n  {\"metadata\": {\"name\": \"a\",}}\n]}");
	snprintf(path, sizeof path, "%s/bad.json", dir);
	CHECK(podsrc_file_new(path, &e) == NULL);
	CHECK_INT(e.code, PT_SYNTAX);
	CHECK_INT(e.line, 2);
	CHECK_CONTAINS(e.file, "bad.json");
	snprintf(path, sizeof path, "%s/none.json", dir);
	CHECK(podsrc_file_new(path, &e) == NULL);
	CHECK_INT(e.code, PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot stat pods file '");
}

/* ---- the fake apiserver ------------------------------------------------ */

static struct fake_api fake;

static void start_fake(void)
{
	static const char *const args[] = {"--bookmark-interval", "0", "--seed", "7", NULL};

	fake_api_start(&fake, dir, args);
}

static struct kube_config *make_config(void)
{
	test_put_file(dir, "token", FAKE_API_TOKEN "\n");
	return fake_api_config(&fake, dir, fake.port, "{\"tokenFile\":\"token\"}");
}

static void create_pod(const char *name, const char *node)
{
	char body[512];

	snprintf(body, sizeof body,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"managedFields\":"
		 "[{\"manager\":\"kubelet\"}]},\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\"}]}}",
		 name, node);
	CHECK_INT(fake_api_call(&fake, "POST", "/api/v1/namespaces/ns/pods", body, NULL), 201);
}

/* A number from /fake/stats, by JSON path. */
static double fake_stat(const char *a, const char *b)
{
	struct buf out;
	cJSON *root, *v;
	double d = -1;

	buf_init(&out, 1 << 20);
	if (fake_api_call(&fake, "GET", "/fake/stats", NULL, &out) == 200 && (root = cJSON_Parse(out.data))) {
		v = b ? json_path(root, a, b, NULL) : json_get(root, a);
		if (cJSON_IsNumber(v))
			d = v->valuedouble;
		cJSON_Delete(root);
	}
	buf_release(&out);
	return d;
}

typedef bool (*pred_fn)(struct model *m, const struct podsrc_stats *st, const void *arg);

/* Poll like the agent (every 10 ms here) until pred holds or ms pass. */
static bool pump(struct podsrc *src, struct model *m, pred_fn pred, const void *arg, long ms, const char *what)
{
	struct podsrc_stats st;
	uint64_t end = test_now_ms() + (uint64_t)ms;

	for (;;) {
		podsrc_poll(src, on_event, m);
		podsrc_get_stats(src, &st);
		if (pred(m, &st, arg))
			return true;
		if (test_now_ms() > end) {
			TFAIL("timed out after %ld ms waiting for %s (pods %d, resyncs %d, last error '%s')", ms, what,
			      m->n, m->resyncs, st.last_error);
			return false;
		}
		test_sleep_ms(10);
	}
}

static bool has_n_pods(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	(void)st;
	return m->n == *(const int *)arg && m->resyncs > 0;
}

static bool watch_open(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	(void)m, (void)st, (void)arg;
	return fake_stat("open_watches", NULL) >= 1;
}

static bool has_pod(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	(void)st;
	return by_name(m, arg) != NULL;
}

static bool no_pod(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	(void)st;
	return by_name(m, arg) == NULL;
}

static bool label_is(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	struct mpod *p = by_name(m, "p1");

	(void)st;
	return p && strcmp(p->label, arg) == 0;
}

/* Counters reached: arg is {offset of a uint64_t in podsrc_stats, value}. */
struct want {
	size_t off;
	uint64_t min;
};

static bool stat_at_least(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	const struct want *w = arg;

	(void)m;
	return *(const uint64_t *)((const char *)st + w->off) >= w->min;
}

#define WANT(field, v) (&(struct want){offsetof(struct podsrc_stats, field), (v)})

static bool error_has(struct model *m, const struct podsrc_stats *st, const void *arg)
{
	(void)m;
	return strstr(st->last_error, arg) != NULL;
}

/* Wait for an open watch and let a bookmark through it, so the watch has
 * had an event (a watch closed within a second with none is a failure,
 * as in client-go, and takes another path). */
static void settle(struct podsrc *src, struct model *m)
{
	struct podsrc_stats st;

	pump(src, m, watch_open, NULL, 5000, "the watch");
	podsrc_get_stats(src, &st);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=bookmark", "", NULL), 200);
	pump(src, m, stat_at_least, WANT(bookmarks, st.bookmarks + 1), 5000, "a bookmark");
}

static struct podsrc *kube_source(struct kube_config *cfg, unsigned page, size_t queue_max)
{
	struct podsrc_kube_opts o = {0};
	struct pt_error e = {0};
	struct podsrc *src;

	o.cfg = cfg;
	o.node_name = "n1";
	o.page_limit = page;
	o.watch_timeout_s = 60;
	o.backoff_initial_ms = 40;
	o.backoff_max_ms = 300;
	o.backoff_reset_ms = 5000;
	o.queue_max = queue_max;
	src = podsrc_kube_new(&o, &e);
	CHECK(src != NULL);
	if (!src)
		TFAIL("podsrc_kube_new: %s", e.msg);
	return src;
}

/* The queries of the fake's recent requests of one verb, joined by '|'. */
static void recent_queries(const char *verb, char *out, size_t len)
{
	struct buf b;
	cJSON *root, *r;
	size_t n = 0;

	out[0] = '\0';
	buf_init(&b, 1 << 20);
	if (fake_api_call(&fake, "GET", "/fake/stats", NULL, &b) == 200 && (root = cJSON_Parse(b.data))) {
		cJSON_ArrayForEach(r, json_get(root, "recent")) {
			const char *v = json_get_str(r, "verb"), *q = json_get_str(r, "query");

			if (v && q && strcmp(v, verb) == 0 && n < len)
				n += (size_t)snprintf(out + n, len - n, "%s|", q);
		}
		cJSON_Delete(root);
	}
	buf_release(&b);
}

static void test_kube_options(void)
{
	struct podsrc_kube_opts o = {0};
	struct pt_error e = {0};
	struct kube_config *cfg = make_config();

	o.cfg = cfg;
	o.node_name = "n1,metadata.name=x";
	CHECK(podsrc_kube_new(&o, &e) == NULL);
	CHECK_INT(e.code, PT_INVALID);
	CHECK_CONTAINS(e.msg, "invalid node name 'n1,metadata.name=x'");
	o.node_name = "";
	CHECK(podsrc_kube_new(&o, &e) == NULL);
	o.node_name = "Node-1";
	CHECK(podsrc_kube_new(&o, &e) == NULL);
	o.cfg = NULL;
	o.node_name = "n1";
	CHECK(podsrc_kube_new(&o, &e) == NULL);
	CHECK_CONTAINS(e.msg, "needs an API config");
	kube_config_free(cfg);
}

static void test_kube_source(void)
{
	struct kube_config *cfg = make_config();
	struct model m = {0};
	struct podsrc_stats st, before;
	struct podsrc *src;
	char q[4096], name[32];
	int want;
	uint64_t t0;

	/* 7 pods on n1, 2 elsewhere; pages of 3. */
	for (int i = 1; i <= 7; i++) {
		snprintf(name, sizeof name, "p%d", i);
		create_pod(name, "n1");
	}
	create_pod("other-1", "n2");
	create_pod("other-2", "n2");
	src = kube_source(cfg, 3, 0);
	if (!src)
		goto out;
	want = 7;
	pump(src, &m, has_n_pods, &want, 10000, "the first resync");
	CHECK_INT(m.resyncs, 1);
	CHECK_INT(m.resync_pods, 7);
	podsrc_get_stats(src, &st);
	CHECK_INT(st.list_pages, 3);
	CHECK_INT(st.lists, 1);
	recent_queries("list", q, sizeof q);
	/* resourceVersion=0 on the first page only; never next to continue */
	CHECK_CONTAINS(q, "fieldSelector=spec.nodeName%3Dn1&limit=3&resourceVersion=0|");
	CHECK_CONTAINS(q, "fieldSelector=spec.nodeName%3Dn1&limit=3&continue=");
	CHECK(strstr(strstr(q, "continue=") ? strstr(q, "continue=") : q, "resourceVersion") == NULL);

	/* The watch: add, modify, delete; a pod of another node is not seen. */
	pump(src, &m, watch_open, NULL, 5000, "the watch");
	recent_queries("watch", q, sizeof q);
	CHECK_CONTAINS(q, "allowWatchBookmarks=true&timeoutSeconds=");
	CHECK_CONTAINS(q, "&watch=true|");
	create_pod("p8", "n1");
	create_pod("other-3", "n2");
	pump(src, &m, has_pod, "p8", 5000, "ADDED p8");
	CHECK_INT(fake_api_call(&fake, "PATCH", "/api/v1/namespaces/ns/pods/p1", "{\"metadata\":{\"labels\":{\"v\":\"two\"}}}", NULL),
		  200);
	pump(src, &m, label_is, "two", 5000, "MODIFIED p1");
	CHECK_INT(fake_api_call(&fake, "DELETE", "/api/v1/namespaces/ns/pods/p2", NULL, NULL), 200);
	pump(src, &m, no_pod, "p2", 5000, "DELETED p2");
	CHECK_INT(m.n, 7);
	CHECK(by_name(&m, "other-3") == NULL);
	CHECK_INT(m.deletes, 1);
	CHECK_INT(m.resyncs, 1);

	/* A bookmark moves the resourceVersion, and nothing else. */
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=bookmark", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(bookmarks, before.bookmarks + 1), 5000, "a bookmark");
	podsrc_get_stats(src, &st);
	CHECK_INT(strtol(st.resource_version, NULL, 10), (long)fake_stat("rv", NULL));
	CHECK_INT(st.lists, before.lists);

	/* 410 as an ERROR event: a relist, a resync, the state intact. */
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/compact?mode=event", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(resyncs, before.resyncs + 1), 5000, "a resync after 410 event");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.gone, before.gone + 1);
	CHECK_INT(st.lists, before.lists + 1);
	CHECK_INT(m.n, 7);
	recent_queries("list", q, sizeof q);
	/* a relist asks for the last version seen; paged, because the first
	 * list came in pages (no watch cache: reflector.paginatedResult) */
	CHECK_CONTAINS(q, "fieldSelector=spec.nodeName%3Dn1&limit=3&resourceVersion=1");

	/* A continue token that expires between pages: one full list
	 * (pager.List's fallback), no limit, no continue. */
	settle(src, &m);
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/continue-expire?next=1", "", NULL), 200);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/compact?mode=event", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(resyncs, before.resyncs + 1), 5000, "a resync after an expired token");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.list_pages, before.list_pages + 3); /* page 1, expired page 2, full list */
	CHECK_INT(m.n, 7);
	recent_queries("list", q, sizeof q);
	{
		char tail[sizeof q];
		const char *p = q + strlen(q);
		int bars = 0;

		while (p > q && bars < 4) /* the last three queries */
			if (*--p == '|')
				bars++;
		snprintf(tail, sizeof tail, "%s", p == q ? p : p + 1);
		CHECK_CONTAINS(tail, "&limit=3&continue=");
		CHECK_CONTAINS(tail, "|fieldSelector=spec.nodeName%3Dn1&resourceVersion=1");
	}

	/* 410 as the HTTP status of the next watch. */
	settle(src, &m);
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/compact?mode=status", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(resyncs, before.resyncs + 1), 5000, "a resync after 410 status");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.gone, before.gone + 1);
	CHECK_INT(m.n, 7);
	CHECK(!m.bad);

	/* A stream cut mid-line: resumed from the last version, no relist. */
	settle(src, &m);
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=drop", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(watches, before.watches + 1), 5000, "a new watch after a cut");
	create_pod("p9", "n1");
	pump(src, &m, has_pod, "p9", 5000, "ADDED p9 after a cut");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.lists, before.lists);
	CHECK_INT(st.failures, before.failures + 1);
	CHECK_INT(st.malformed, before.malformed);

	/* A malformed line: counted, relisted. */
	pump(src, &m, watch_open, NULL, 5000, "the watch");
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=inject", "{\"type\":\"ADDED\",\"object\":{oops}\n", NULL), 200);
	pump(src, &m, stat_at_least, WANT(lists, before.lists + 1), 5000, "a relist after a malformed line");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.malformed, before.malformed + 1);
	CHECK_CONTAINS(st.last_error, "malformed watch event line (31 bytes, starts '{\"type\":\"ADDED\"");
	pump(src, &m, stat_at_least, WANT(resyncs, before.resyncs + 1), 5000, "the resync");
	CHECK_INT(m.n, 8);

	/* A line over PODSRC_MAX_EVENT_BYTES: counted, relisted. */
	pump(src, &m, watch_open, NULL, 5000, "the watch");
	podsrc_get_stats(src, &before);
	snprintf(q, sizeof q, "/fake/watch?action=oversize&bytes=%u", PODSRC_MAX_EVENT_BYTES + 4096);
	CHECK_INT(fake_api_call(&fake, "POST", q, "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(lists, before.lists + 1), 10000, "a relist after an oversize line");
	podsrc_get_stats(src, &st);
	CHECK_INT(st.oversize, before.oversize + 1);
	CHECK_CONTAINS(st.last_error, "a watch event line exceeds the limit of 8388608 bytes");

	/* The apiserver restarts (and compacts meanwhile): connections are
	 * refused for a while, the agent backs off, then relists. */
	settle(src, &m);
	podsrc_get_stats(src, &before);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/restart?down_ms=1200&compact=1", "", NULL), 200);
	pump(src, &m, stat_at_least, WANT(lists, before.lists + 1), 15000, "a relist after a restart");
	podsrc_get_stats(src, &st);
	CHECK(st.backoffs >= before.backoffs + 2);
	CHECK(st.failures >= before.failures + 2);
	CHECK_INT(st.gone, before.gone + 1);
	create_pod("p10", "n1");
	pump(src, &m, has_pod, "p10", 5000, "ADDED p10 after a restart");
	CHECK_INT(m.n, 9);

	/* 401: the token rotated on the server; the agent backs off until
	 * its token file is rotated too (core/kube re-reads it). */
	settle(src, &m);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/token?value=T2", "", NULL), 200);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=close", "", NULL), 200);
	pump(src, &m, error_has, "401 Unauthorized", 5000, "a 401");
	podsrc_get_stats(src, &st);
	{
		char tmp[256], path[256];

		test_put_file(dir, "token.new", "T2\n");
		snprintf(tmp, sizeof tmp, "%s/token.new", dir);
		snprintf(path, sizeof path, "%s/token", dir);
		CHECK_INT(rename(tmp, path), 0);
	}
	pump(src, &m, stat_at_least, WANT(resyncs, st.resyncs + 1), 5000, "recovery after the token rotated");

	/* 403: the message names the RBAC rule; fixing RBAC recovers. */
	settle(src, &m);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/forbid", "[\"watch:pods\"]", NULL), 200);
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/watch?action=close", "", NULL), 200);
	pump(src, &m, error_has, "403", 5000, "a 403");
	podsrc_get_stats(src, &st);
	CHECK_CONTAINS(st.last_error, "cannot watch pods on node 'n1': 403 Forbidden: pods is forbidden");
	CHECK_CONTAINS(st.last_error, "needs get, list and watch on pods");
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/forbid", "[]", NULL), 200);
	pump(src, &m, watch_open, NULL, 5000, "the watch after RBAC was fixed");
	create_pod("p11", "n1");
	pump(src, &m, has_pod, "p11", 5000, "ADDED p11 after 403");
	CHECK_INT(m.n, 10);
	CHECK(!m.bad);

	/* Stop is prompt while a watch is open. */
	t0 = test_now_ms();
	podsrc_free(src);
	t0 = test_now_ms() - t0;
	CHECK(t0 < 2500);
	fprintf(stderr, "  podsrc_free with a watch open took %llu ms\n", (unsigned long long)t0);
	src = NULL;

	/* A stalled agent: the queue (4 events here) overflows, the source
	 * relists, and the agent gets one resync with everything. */
	memset(&m, 0, sizeof m);
	src = kube_source(cfg, 0, 4);
	if (!src)
		goto out;
	want = 10;
	pump(src, &m, has_n_pods, &want, 10000, "the first resync");
	pump(src, &m, watch_open, NULL, 5000, "the watch");
	podsrc_get_stats(src, &before);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "burst-%d", i);
		create_pod(name, "n1");
	}
	t0 = test_now_ms();
	do { /* not polling: the agent is stalled */
		test_sleep_ms(20);
		podsrc_get_stats(src, &st);
	} while (st.lists == before.lists && test_now_ms() - t0 < 5000);
	CHECK(st.overflows >= 1);
	CHECK(st.lists >= before.lists + 1);
	want = 18;
	pump(src, &m, has_n_pods, &want, 5000, "everything after the overflow");
	CHECK(m.resyncs >= 2);
	CHECK(!m.bad);
out:
	podsrc_free(src);
	kube_config_free(cfg);
}

static void cleanup(void)
{
	char cmd[128];
	FILE *p;

	fake_api_stop(&fake);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p)
		CHECK_INT(pclose(p), 0);
}

TEST_MAIN(setup, test_file_source, start_fake, test_kube_options, test_kube_source, cleanup)
