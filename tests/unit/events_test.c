/* SPDX-License-Identifier: Apache-2.0 */
/* rebalancer/events: the Event JSON (names, fields, escaping, limits), and
 * the poster against tests/integration/fake_apiserver.py over real TLS:
 * Events created, a refusal counted, a full queue dropping, and an
 * apiserver that never answers neither blocking events_emit nor
 * events_free. Run from the worktree root. */
#include "../../core/base64.h"
#include "../../core/certgen.h"
#include "../../core/http_client.h"
#include "../../core/json.h"
#include "../../core/kube.h"
#include "../../rebalancer/events.h"
#include "fake_api.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static char dir[64];
static struct fake_api fake;

static struct events_item item(const char *pod, const char *container, const char *reason, const char *msg)
{
	struct events_item it = {.type = EVENTS_NORMAL, .time_ms = 1700000000123};

	snprintf(it.namespace, sizeof it.namespace, "shop");
	snprintf(it.pod, sizeof it.pod, "%s", pod);
	snprintf(it.uid, sizeof it.uid, "0b5a7e52-1111-2222-3333-444455556666");
	snprintf(it.container, sizeof it.container, "%s", container);
	snprintf(it.reason, sizeof it.reason, "%s", reason);
	snprintf(it.message, sizeof it.message, "%s", msg);
	return it;
}

static void test_encode(void)
{
	struct events_item it = item("web-1", "app", "CPUWeightRebalanced", "cpu.weight \"app\": 200 -> 300\n");
	struct pt_error e = {0};
	struct buf b;
	cJSON *root;
	char big[300];

	buf_init(&b, 1 << 16);
	CHECK_INT(events_encode(&it, "node-1", 0x1234abcd, &b, &e), PT_OK);
	root = cJSON_Parse(b.data);
	CHECK(root != NULL);
	CHECK_STR(json_get_str(root, "apiVersion"), "v1");
	CHECK_STR(json_get_str(root, "kind"), "Event");
	CHECK_STR(json_get_str(json_get(root, "metadata"), "name"), "web-1.1234abcd");
	CHECK_STR(json_get_str(json_get(root, "metadata"), "namespace"), "shop");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "kind"), "Pod");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "apiVersion"), "v1");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "name"), "web-1");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "namespace"), "shop");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "uid"), "0b5a7e52-1111-2222-3333-444455556666");
	CHECK_STR(json_get_str(json_get(root, "involvedObject"), "fieldPath"), "spec.containers{app}");
	CHECK_STR(json_get_str(root, "reason"), "CPUWeightRebalanced");
	CHECK_STR(json_get_str(root, "message"), "cpu.weight \"app\": 200 -> 300\n");
	CHECK_STR(json_get_str(root, "type"), "Normal");
	CHECK_STR(json_get_str(json_get(root, "source"), "component"), EVENTS_COMPONENT);
	CHECK_STR(json_get_str(json_get(root, "source"), "host"), "node-1");
	CHECK_STR(json_get_str(root, "firstTimestamp"), "2023-11-14T22:13:20Z");
	CHECK_STR(json_get_str(root, "lastTimestamp"), "2023-11-14T22:13:20Z");
	CHECK_INT(json_get(root, "count") ? json_get(root, "count")->valueint : -1, 1);
	CHECK_STR(json_get_str(root, "reportingComponent"), EVENTS_CONTROLLER);
	CHECK_STR(json_get_str(root, "reportingInstance"), "node-1");
	CHECK(json_get(root, "eventTime") == NULL);
	cJSON_Delete(root);

	/* A whole-pod Event has no fieldPath; a Warning says so. */
	it = item("web-1", "", "X", "m");
	it.type = EVENTS_WARNING;
	buf_reset(&b);
	CHECK_INT(events_encode(&it, "node-1", 1, &b, &e), PT_OK);
	root = cJSON_Parse(b.data);
	CHECK(json_get(json_get(root, "involvedObject"), "fieldPath") == NULL);
	CHECK_STR(json_get_str(root, "type"), "Warning");
	cJSON_Delete(root);

	/* The longest pod name still gives a name within 253 bytes. */
	memset(big, 'a', 253);
	big[253] = '\0';
	it = item(big, "app", "X", "m");
	buf_reset(&b);
	CHECK_INT(events_encode(&it, "node-1", (int64_t)0x7fffffffffffffff, &b, &e), PT_OK);
	root = cJSON_Parse(b.data);
	CHECK(strlen(json_get_str(json_get(root, "metadata"), "name")) <= EVENTS_NAME_MAX);
	CHECK_CONTAINS(json_get_str(json_get(root, "metadata"), "name"), ".7fffffffffffffff");
	CHECK_INT(strlen(json_get_str(json_get(root, "involvedObject"), "name")), 253);
	cJSON_Delete(root);

	/* What the apiserver needs is required. */
	it = item("web-1", "app", "", "m");
	buf_reset(&b);
	CHECK_INT(events_encode(&it, "node-1", 1, &b, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "needs a namespace, a pod and a reason");
	it = item("", "app", "X", "m");
	CHECK_INT(events_encode(&it, "node-1", 1, &b, &e), PT_INVALID);

	/* A buffer too small is PT_LIMIT, not a crash. */
	buf_release(&b);
	buf_init(&b, 64);
	it = item("web-1", "app", "X", "m");
	CHECK_INT(events_encode(&it, "node-1", 1, &b, &e), PT_LIMIT);
	buf_release(&b);
}

/* client-go's spam filter: 25 at once per pod, then one per 5 minutes;
 * pods apart; bounded memory with many pods. */
static void test_spam(void)
{
	static struct events_spam sp; /* 24 KiB: not on the stack */
	struct events_item a = item("web-1", "app", "CPUWeightRebalanced", "m"), b = a, x = a;
	int64_t t0 = a.time_ms;
	int n = 0;

	memset(&sp, 0, sizeof sp);
	snprintf(b.uid, sizeof b.uid, "other-uid");
	for (int i = 0; i < 40; i++)
		n += events_spam_allow(&sp, &a);
	CHECK_INT(n, EVENTS_SPAM_BURST);
	CHECK(events_spam_allow(&sp, &b)); /* another pod has its own bucket */
	a.time_ms = t0 + EVENTS_SPAM_REFILL_MS - 1000;
	CHECK(!events_spam_allow(&sp, &a));
	a.time_ms = t0 + EVENTS_SPAM_REFILL_MS;
	CHECK(events_spam_allow(&sp, &a)); /* one token back after 5 minutes */
	CHECK(!events_spam_allow(&sp, &a));
	a.time_ms = t0 - 60000; /* a clock step back refills nothing */
	CHECK(!events_spam_allow(&sp, &a));
	/* No uid: namespace and name are the key. */
	x.uid[0] = '\0';
	for (int i = 0; i < EVENTS_SPAM_BURST; i++)
		CHECK(events_spam_allow(&sp, &x));
	CHECK(!events_spam_allow(&sp, &x));
	/* Many more pods than tracked: nothing breaks, the table stays bounded,
	 * and a pod whose bucket refilled is forgotten to make room. */
	for (int i = 0; i < 3 * EVENTS_SPAM_PODS; i++) {
		snprintf(x.uid, sizeof x.uid, "pod-%d", i);
		x.time_ms = t0 + EVENTS_SPAM_REFILL_MS;
		CHECK(events_spam_allow(&sp, &x));
	}
	CHECK(sp.n <= EVENTS_SPAM_PODS);
	x.time_ms = t0 + 100 * (int64_t)EVENTS_SPAM_REFILL_MS;
	snprintf(x.uid, sizeof x.uid, "late");
	CHECK(events_spam_allow(&sp, &x));
	CHECK(sp.n <= EVENTS_SPAM_PODS);
}

static void test_options(void)
{
	struct events_opts o = {0};
	struct pt_error e = {0};
	char long_name[200];

	CHECK(events_new(&o, &e) == NULL);
	CHECK_INT(e.code, PT_INVALID);
	o.cfg = (struct kube_config *)1; /* never used: refused first */
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	o.instance = long_name;
	CHECK(events_new(&o, &e) == NULL);
	CHECK_CONTAINS(e.msg, "longer than 128 bytes");
	CHECK(!events_emit(NULL, NULL));
	events_free(NULL);
}

/* ---- against the fake apiserver --------------------------------------- */

static struct kube_config *make_config(int port)
{
	return fake_api_config(&fake, dir, port, "{\"token\":\"" FAKE_API_TOKEN "\"}");
}

static void setup(void)
{
	test_mkdtemp(dir, sizeof dir, "events_test");
	fake_api_start(&fake, dir, NULL);
}

static void cleanup(void)
{
	fake_api_stop(&fake);
	test_rm_rf(dir);
}

/* Wait until pred(stats) holds, at most ms. */
static bool wait_stats(struct events *ev, uint64_t posted, uint64_t failed, long ms)
{
	struct events_stats st;
	uint64_t end = test_now_ms() + (uint64_t)ms;

	do {
		events_get_stats(ev, &st);
		if (st.posted >= posted && st.failed >= failed)
			return true;
		test_sleep_ms(20);
	} while (test_now_ms() < end);
	TFAIL("stats: posted %llu (want %llu), failed %llu (want %llu), last error '%s'",
	      (unsigned long long)st.posted, (unsigned long long)posted, (unsigned long long)st.failed,
	      (unsigned long long)failed, st.last_error);
	return false;
}

static void test_post(void)
{
	struct kube_config *cfg = make_config(fake.port);
	struct events_opts o = {.cfg = cfg, .instance = "node-1"};
	struct pt_error e = {0};
	struct events_item it;
	struct events_stats st;
	struct events *ev = events_new(&o, &e);
	struct buf out;
	cJSON *root, *items, *x;
	int n = 0;

	CHECK(ev != NULL);
	if (!ev)
		return;
	for (int i = 0; i < 3; i++) {
		char m[64];

		snprintf(m, sizeof m, "change %d", i);
		it = item("web-1", "app", "CPUWeightRebalanced", m);
		CHECK(events_emit(ev, &it));
	}
	wait_stats(ev, 3, 0, 10000);

	buf_init(&out, 1 << 20);
	CHECK_INT(fake_api_call(&fake, "GET", "/api/v1/namespaces/shop/events", NULL, &out), 200);
	root = cJSON_Parse(out.data);
	items = json_get(root, "items");
	cJSON_ArrayForEach(x, items) {
		CHECK_STR(json_get_str(x, "reason"), "CPUWeightRebalanced");
		CHECK_STR(json_get_str(json_get(x, "involvedObject"), "name"), "web-1");
		CHECK_STR(json_get_str(json_get(x, "involvedObject"), "fieldPath"), "spec.containers{app}");
		CHECK_CONTAINS(json_get_str(x, "message"), "change ");
		n++;
	}
	CHECK_INT(n, 3); /* three distinct names: none collided */
	cJSON_Delete(root);
	buf_release(&out);

	/* Refused (RBAC): counted as failed, the poster goes on. */
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/forbid", "[\"create:events\"]", NULL), 200);
	it = item("web-2", "app", "CPUWeightRebalanced", "refused");
	CHECK(events_emit(ev, &it));
	wait_stats(ev, 3, 1, 10000);
	events_get_stats(ev, &st);
	CHECK_CONTAINS(st.last_error, "403");
	CHECK_INT(fake_api_call(&fake, "POST", "/fake/forbid", "[]", NULL), 200);
	it = item("web-2", "app", "CPUWeightRebalanced", "accepted again");
	CHECK(events_emit(ev, &it));
	wait_stats(ev, 4, 1, 10000);
	events_free(ev);
	kube_config_free(cfg);
}

/* An apiserver that accepts connections and never answers (the kernel
 * completes the handshake for a listening socket nobody accepts on). */
static void test_hung_apiserver(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct kube_config *cfg;
	struct events_opts o = {.instance = "node-1", .queue_max = 4, .timeout_ms = 30000};
	struct events_stats st;
	struct events_item it = item("web-1", "app", "CPUWeightRebalanced", "m");
	struct pt_error e = {0};
	struct events *ev;
	uint64_t t0, worst = 0;
	int accepted = 0;

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 16) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	o.cfg = cfg = make_config(ntohs(a.sin_port));
	ev = events_new(&o, &e);
	CHECK(ev != NULL);
	if (!ev)
		goto out;
	/* The first is taken by the thread, which then hangs in its POST. */
	CHECK(events_emit(ev, &it));
	test_sleep_ms(200);
	for (int i = 0; i < 20; i++) {
		t0 = test_now_ms();
		accepted += events_emit(ev, &it);
		if (test_now_ms() - t0 > worst)
			worst = test_now_ms() - t0;
	}
	CHECK_INT(accepted, 4); /* the queue's size */
	CHECK(worst < 50);
	events_get_stats(ev, &st);
	CHECK_INT(st.dropped, 16);
	CHECK_INT(st.posted, 0);
	t0 = test_now_ms();
	events_free(ev); /* abandons the hung POST and drops the queued four */
	CHECK(test_now_ms() - t0 < 3000);
out:
	kube_config_free(cfg);
	close(fd);
}

TEST_MAIN(test_encode, test_spam, test_options, setup, test_post, test_hung_apiserver, cleanup)
