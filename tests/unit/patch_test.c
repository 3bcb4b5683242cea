/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON Patch writer (RFC 6901 escaping, sticky errors that cut the
 * output back) and the applier the CLI previews with (RFC 6902 add,
 * remove, replace, test as evanphx/json-patch applies them), each against
 * hand-written expectations; the engine's patches are also checked with
 * python3-jsonpatch in the integration tests. */
#include "../../core/json.h"
#include "../../core/patch.h"
#include "test.h"

static void test_paths(void)
{
	struct patch_path pp;
	char key[PATCH_PATH_MAX];

	patch_path_init(&pp, "/spec");
	patch_path_key(&pp, "containers");
	patch_path_index(&pp, 12);
	patch_path_key(&pp, "podtuner.io/tuned~x");
	CHECK_STR(pp.s, "/spec/containers/12/podtuner.io~1tuned~0x");
	CHECK(!pp.overflow);
	patch_path_init(&pp, "");
	patch_path_key(&pp, "");
	CHECK_STR(pp.s, "/");
	/* Too long: marked, never written past the end. */
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	patch_path_init(&pp, "");
	patch_path_key(&pp, key);
	CHECK(pp.overflow);
	CHECK(pp.len < sizeof pp.s);
}

static void test_writer(void)
{
	struct patch_path pp;
	struct patch p;
	struct buf out;

	buf_init(&out, 1 << 16);
	CHECK_INT(buf_puts(&out, "prefix:"), PT_OK);
	patch_begin(&p, &out);
	CHECK_INT(patch_end(&p), PT_OK);
	CHECK_STR(out.data, "prefix:[]");

	buf_reset(&out);
	patch_begin(&p, &out);
	patch_path_init(&pp, "/metadata/annotations");
	patch_path_key(&pp, "a/b");
	patch_op(&p, "add", &pp);
	patch_json_str(&p, "say \"hi\"\n");
	patch_op_end(&p);
	patch_path_init(&pp, "/spec/containers/0/env");
	patch_op(&p, "replace", &pp);
	patch_json_raw(&p, "[{\"name\":\"GOGC\",\"value\":\"100\"}]");
	patch_op_end(&p);
	patch_path_init(&pp, "/x");
	patch_op(&p, "remove", &pp);
	patch_op_end(&p);
	CHECK_INT(patch_end(&p), PT_OK);
	CHECK_STR(out.data, "[{\"op\":\"add\",\"path\":\"/metadata/annotations/a~1b\",\"value\":\"say \\\"hi\\\"\\n\"},"
			    "{\"op\":\"replace\",\"path\":\"/spec/containers/0/env\","
			    "\"value\":[{\"name\":\"GOGC\",\"value\":\"100\"}]},"
			    "{\"op\":\"remove\",\"path\":\"/x\"}]");
	CHECK_INT(p.n_ops, 3);

	/* The first error sticks and the output is cut back to where the
	 * patch began: here a path that overflowed. */
	buf_reset(&out);
	CHECK_INT(buf_puts(&out, "keep"), PT_OK);
	patch_begin(&p, &out);
	pp.overflow = true;
	patch_op(&p, "add", &pp);
	patch_json_str(&p, "v");
	patch_op_end(&p);
	CHECK_INT(patch_end(&p), PT_LIMIT);
	CHECK_STR(out.data, "keep");
	/* And a buffer cap. */
	buf_release(&out);
	buf_init(&out, 16);
	patch_begin(&p, &out);
	patch_path_init(&pp, "/a-long-enough-path");
	patch_op(&p, "add", &pp);
	patch_json_raw(&p, "1");
	patch_op_end(&p);
	CHECK(patch_end(&p) != PT_OK);
	CHECK_INT(out.len, 0);
	buf_release(&out);
}

/* Apply patch to doc and return the result printed, or "ERR <code>: msg". */
static char *applied(const char *doc, const char *patch)
{
	static char res[4096];
	struct pt_error e = {0};
	cJSON *d = cJSON_Parse(doc);
	enum pt_code rc = patch_apply(d, patch, strlen(patch), &e);

	if (rc) {
		snprintf(res, sizeof res, "ERR %d: %s", (int)rc, e.msg);
	} else {
		char *s = cJSON_PrintUnformatted(d);

		snprintf(res, sizeof res, "%s", s);
		free(s);
	}
	cJSON_Delete(d);
	return res;
}

static void test_apply(void)
{
	const char *doc = "{\"a\":{\"b~/c\":1},\"l\":[1,2,3]}";

	/* add: a new member, a replaced member, array insert and append */
	CHECK_STR(applied(doc, "[{\"op\":\"add\",\"path\":\"/a/n\",\"value\":{\"x\":[true,null]}}]"),
		  "{\"a\":{\"b~/c\":1,\"n\":{\"x\":[true,null]}},\"l\":[1,2,3]}");
	CHECK_STR(applied(doc, "[{\"op\":\"add\",\"path\":\"/a/b~0~1c\",\"value\":2}]"),
		  "{\"a\":{\"b~/c\":2},\"l\":[1,2,3]}");
	CHECK_STR(applied(doc, "[{\"op\":\"add\",\"path\":\"/l/0\",\"value\":0},"
			       "{\"op\":\"add\",\"path\":\"/l/-\",\"value\":4},"
			       "{\"op\":\"add\",\"path\":\"/l/5\",\"value\":5}]"),
		  "{\"a\":{\"b~/c\":1},\"l\":[0,1,2,3,4,5]}");
	/* replace, remove, test */
	CHECK_STR(applied(doc, "[{\"op\":\"replace\",\"path\":\"/l/1\",\"value\":\"two\"},"
			       "{\"op\":\"remove\",\"path\":\"/l/0\"},"
			       "{\"op\":\"test\",\"path\":\"/l/0\",\"value\":\"two\"},"
			       "{\"op\":\"remove\",\"path\":\"/a\"}]"),
		  "{\"l\":[\"two\",3]}");
	CHECK_STR(applied(doc, "[]"), "{\"a\":{\"b~/c\":1},\"l\":[1,2,3]}");

	/* what the apiserver's patcher refuses is refused here, naming the
	 * operation */
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/no/such\",\"value\":1}]"),
		       "patch[0]: '/no/such': parent does not exist");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"remove\",\"path\":\"/a/x\"}]"), "remove: '/a/x' does not exist");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"replace\",\"path\":\"/a/x\",\"value\":1}]"),
		       "replace: '/a/x' does not exist");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"test\",\"path\":\"/l/0\",\"value\":2}]"), "test: '/l/0' differs");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/l/4\",\"value\":1}]"), "index out of range");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/l/01\",\"value\":1}]"), "index out of range");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"replace\",\"path\":\"/l/-\",\"value\":1}]"), "index out of range");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"remove\",\"path\":\"/l/3\"}]"), "index out of range");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/a/b~2\",\"value\":1}]"), "bad pointer");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]"), "is not supported");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"move\",\"path\":\"/a\",\"from\":\"/l\"}]"),
		       "operation 'move' is not supported");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/a/z\"}]"), "lacks a value");
	CHECK_CONTAINS(applied(doc, "[{\"path\":\"/a\"}]"), "lacks 'op' or 'path'");
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"add\",\"path\":\"/a/b~0~1c/d\",\"value\":1}]"),
		       "parent is not a container");
	CHECK_CONTAINS(applied(doc, "{\"op\":\"add\"}"), "must be an array");
	CHECK_CONTAINS(applied(doc, "[{\"op\":"), "ERR");
	/* the second operation fails: its index is named */
	CHECK_CONTAINS(applied(doc, "[{\"op\":\"remove\",\"path\":\"/a\"},{\"op\":\"remove\",\"path\":\"/a\"}]"),
		       "patch[1]:");
}

/* What the writer makes, the applier takes. */
static void test_round_trip(void)
{
	struct patch_path pp;
	struct patch p;
	struct buf out;

	buf_init(&out, 1 << 16);
	patch_begin(&p, &out);
	patch_path_init(&pp, "/metadata/annotations");
	patch_path_key(&pp, "podtuner.io/tuned");
	patch_op(&p, "add", &pp);
	patch_json_str(&p, "{\"app\":1}");
	patch_op_end(&p);
	CHECK_INT(patch_end(&p), PT_OK);
	CHECK_STR(applied("{\"metadata\":{\"annotations\":{}}}", out.data),
		  "{\"metadata\":{\"annotations\":{\"podtuner.io/tuned\":\"{\\\"app\\\":1}\"}}}");
	buf_release(&out);
}

static void setup(void)
{
	json_init();
}

TEST_MAIN(setup, test_paths, test_writer, test_apply, test_round_trip)
