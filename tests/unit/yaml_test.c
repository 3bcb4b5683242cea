/* SPDX-License-Identifier: Apache-2.0 */
/* core/yaml: the tree and its positions, libyaml's errors as
 * file:line:col, duplicate keys, aliases and merges, the limits (billion
 * laughs, depth, size), go-yaml v2 typing and the conversion to JSON. */
#include "../../core/yaml.h"
#include "test.h"

#include <limits.h>
#include <unistd.h>

static struct ystream *parse_ok(const char *text)
{
	struct ystream *s = NULL;
	struct pt_error e = {0};
	char b[800];
	enum pt_code rc = yaml_parse("t.yaml", text, strlen(text), &s, &e);

	if (rc != PT_OK)
		TFAIL("parse of \"%s\" failed: %s", text, pt_error_format(&e, b, sizeof b));
	return s;
}

/* Parse text that must fail; return the formatted error. */
static const char *parse_err(const char *text, enum pt_code want, char *b, size_t len)
{
	struct ystream *s = (struct ystream *)(uintptr_t)1;
	struct pt_error e = {0};
	enum pt_code rc = yaml_parse("t.yaml", text, strlen(text), &s, &e);

	CHECK_INT(rc, want);
	CHECK(s == (struct ystream *)(uintptr_t)1); /* untouched */
	return pt_error_format(&e, b, len);
}

/* Parse one document and print it as JSON (heap string, or the error). */
static char *to_json_text(const char *text)
{
	struct ystream *s = parse_ok(text);
	struct pt_error e = {0};
	char b[800], *out;
	cJSON *j;

	if (!s)
		return strdup("(parse failed)");
	CHECK_INT(s->n_docs, 1);
	j = yaml_to_json(s->n_docs ? s->docs[0].root : NULL, &e);
	if (j) {
		out = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
	} else {
		pt_error_at(&e, s->file, e.line, e.col);
		out = strdup(pt_error_format(&e, b, sizeof b));
	}
	yaml_stream_free(s);
	return out;
}

#define CHECK_JSON(yaml, want)                   \
	do {                                     \
		char *got_ = to_json_text(yaml); \
		CHECK_STR(got_, want);           \
		free(got_);                      \
	} while (0)

static void test_tree_and_positions(void)
{
	const char *text = "apiVersion: v1\n"
			   "kind: Pod\n"
			   "spec:\n"
			   "  containers:\n"
			   "    - name: app\n"
			   "      args: ['a', \"b\", c]\n"
			   "      cmd: |\n"
			   "        one\n"
			   "        two\n";
	struct ystream *s = parse_ok(text);
	struct ynode *root, *c0, *args, *cmd;

	if (!s)
		return;
	CHECK_STR(s->file, "t.yaml");
	CHECK_INT(s->n_docs, 1);
	CHECK_INT(s->docs[0].line, 1);
	root = s->docs[0].root;
	CHECK_INT(root->kind, YNODE_MAP);
	CHECK_INT(root->n, 3);
	CHECK_STR(root->pairs[1].key->str, "kind");
	CHECK_INT(root->pairs[1].key->line, 2);
	CHECK_INT(root->pairs[1].key->col, 1);
	CHECK_STR(ynode_get(root, "kind")->str, "Pod");
	CHECK_INT(ynode_get(root, "kind")->col, 7);
	CHECK(ynode_get(root, "nope") == NULL);
	CHECK(ynode_get(ynode_get(root, "kind"), "x") == NULL);
	c0 = ynode_get(ynode_get(root, "spec"), "containers")->items[0];
	CHECK_INT(c0->kind, YNODE_MAP);
	CHECK_INT(c0->line, 5);
	CHECK_INT(c0->col, 7);
	args = ynode_get(c0, "args");
	CHECK_INT(args->kind, YNODE_SEQ);
	CHECK_INT(args->n, 3);
	CHECK_INT(args->items[0]->style, YSTYLE_SINGLE);
	CHECK_INT(args->items[0]->col, 14);
	CHECK(!args->items[0]->plain);
	CHECK_INT(args->items[1]->style, YSTYLE_DOUBLE);
	CHECK_INT(args->items[2]->style, YSTYLE_PLAIN);
	CHECK(args->items[2]->plain);
	cmd = ynode_get(c0, "cmd");
	CHECK_INT(cmd->style, YSTYLE_LITERAL);
	CHECK_STR(cmd->str, "one\ntwo\n");
	CHECK_INT(cmd->len, 8);
	CHECK_INT(cmd->line, 7);
	CHECK(cmd->end_line > cmd->line);
	CHECK_INT(args->items[0]->end_line, 6);
	yaml_stream_free(s);
}

static void test_documents(void)
{
	struct ystream *s;

	s = parse_ok("# nothing but a comment\n");
	if (s)
		CHECK_INT(s->n_docs, 0);
	yaml_stream_free(s);
	s = parse_ok("");
	if (s)
		CHECK_INT(s->n_docs, 0);
	yaml_stream_free(s);
	s = parse_ok("a: 1\n---\n---\n# empty\n---\nb: 2\n...\n--- ''\n");
	if (!s)
		return;
	CHECK_INT(s->n_docs, 5);
	if (s->n_docs != 5)
		goto out;
	CHECK_INT(s->docs[0].line, 1);
	CHECK(s->docs[0].root != NULL);
	CHECK(s->docs[1].root == NULL);
	CHECK_INT(s->docs[1].line, 2);
	CHECK(s->docs[2].root == NULL);
	CHECK_INT(s->docs[2].line, 3);
	CHECK_INT(s->docs[3].line, 5);
	CHECK_STR(ynode_get(s->docs[3].root, "b")->str, "2");
	/* A quoted empty string is content. */
	CHECK(s->docs[4].root != NULL);
	CHECK_INT(s->docs[4].line, 8);
out:
	yaml_stream_free(s);
	yaml_stream_free(NULL);
}

static void test_syntax_errors(void)
{
	char b[800];

	CHECK_STR(parse_err("a: 1\nb: [x, y\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 4)");
	CHECK_STR(parse_err("a: 1\n  b: 2\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:2:4: mapping values are not allowed in this context");
	CHECK_STR(parse_err("a:\n\t- x\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:2:1: found character that cannot start any token (while scanning for the next token at line 2, column 1)");
	CHECK_STR(parse_err("a: 'open\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)");
	/* Reader errors carry a byte offset, turned into line:col. */
	CHECK_STR(parse_err("a: 1\nb: x\xff\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:2:5: invalid leading UTF-8 octet (byte or code point 0xff)");
}

static void test_duplicates(void)
{
	char b[800];
	char big[4096];
	size_t o = 0;

	CHECK_STR(parse_err("a: 1\nb: 2\na: 3\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:3:1: duplicate key 'a' (first at line 1)");
	CHECK_STR(parse_err("x:\n  - {k: 1, \"k\": 2}\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:2:12: duplicate key 'k' (first at line 2)");
	/* Large mappings use the hash index. */
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "key%d: %d\n", i, i);
	snprintf(big + o, sizeof big - o, "key17: again\n");
	CHECK_STR(parse_err(big, PT_SYNTAX, b, sizeof b), "t.yaml:41:1: duplicate key 'key17' (first at line 18)");
	CHECK_STR(parse_err("? [a]\n: 1\n", PT_SYNTAX, b, sizeof b), "t.yaml:1:3: mapping key must be a scalar");
}

static void test_aliases_and_merges(void)
{
	char b[800];
	struct ystream *s;

	s = parse_ok("base: &b {x: 1, y: 2}\nuse: *b\nlist: &l [1, 2]\nagain: *l\n");
	if (s) {
		struct ynode *r = s->docs[0].root;

		/* Shared, not copied. */
		CHECK(ynode_get(r, "use") == ynode_get(r, "base"));
		CHECK(ynode_get(r, "again") == ynode_get(r, "list"));
	}
	yaml_stream_free(s);
	CHECK_STR(parse_err("a: *nope\n", PT_SYNTAX, b, sizeof b), "t.yaml:1:4: unknown anchor 'nope' referenced");
	CHECK_STR(parse_err("a: &x [1, *x]\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:1:11: anchor 'x' value contains itself");
	/* Anchors do not cross documents. */
	CHECK_STR(parse_err("a: &x 1\n---\nb: *x\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:3:4: unknown anchor 'x' referenced");
	/* A re-defined anchor: later aliases see the latest. */
	CHECK_JSON("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "{\"a\":1,\"b\":1,\"c\":2,\"d\":2}");

	/* Merge keys, go-yaml v2 order: later assignments override. */
	CHECK_JSON("base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\n  r: 4\n",
		   "{\"base\":{\"p\":1,\"q\":2},\"m\":{\"p\":1,\"q\":3,\"r\":4}}");
	/* In a merged sequence the earlier map wins. */
	CHECK_JSON("b1: &b1 {p: 1}\nb2: &b2 {p: 2, q: 2}\nm: {<<: [*b1, *b2]}\n",
		   "{\"b1\":{\"p\":1},\"b2\":{\"p\":2,\"q\":2},\"m\":{\"p\":1,\"q\":2}}");
	/* A YAML 1.1 surprise kept for fidelity: the key y is the bool true. */
	CHECK_JSON("{y: 1}\n", "{\"true\":1}");
	CHECK_JSON("b: &b {x: 1}\nm: {x: 0, <<: *b}\n", "{\"b\":{\"x\":1},\"m\":{\"x\":1}}");
	/* A quoted "<<" is an ordinary key. */
	CHECK_JSON("m: {\"<<\": 1}\n", "{\"m\":{\"<<\":1}}");
	CHECK_STR(parse_err("m: {<<: 1}\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:1:9: map merge requires map or sequence of maps as the value");
	CHECK_STR(parse_err("m: {<<: [{a: 1}, 2]}\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:1:18: map merge requires map or sequence of maps as the value");
}

static void test_limits(void)
{
	char b[800], *text;
	size_t o = 0;
	struct ystream *s = NULL;
	struct pt_error e = {0};

	/* Billion laughs: 10^10 nodes once expanded, a few hundred written. */
	text = malloc(4096);
	o += (size_t)snprintf(text + o, 4096 - o, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++) {
		o += (size_t)snprintf(text + o, 4096 - o, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			o += (size_t)snprintf(text + o, 4096 - o, "%s*a%d", j ? ", " : "", i - 1);
		o += (size_t)snprintf(text + o, 4096 - o, "]\n");
	}
	CHECK_STR(parse_err(text, PT_LIMIT, b, sizeof b), "t.yaml:6:10: more than 200000 nodes (aliases expanded)");
	free(text);

	/* 64 nested collections are fine, 65 are not. */
	text = malloc(300);
	memset(text, '[', 64);
	memset(text + 64, ']', 64);
	text[128] = '\0';
	s = parse_ok(text);
	yaml_stream_free(s);
	memset(text, '[', 65);
	memset(text + 65, ']', 65);
	text[130] = '\0';
	CHECK_STR(parse_err(text, PT_LIMIT, b, sizeof b), "t.yaml:1:65: nesting deeper than 64 levels");
	/* ...also when an alias puts a deep node deeper. */
	o = 0;
	o += (size_t)snprintf(text + o, 300 - o, "a: &a ");
	for (int i = 0; i < 40; i++)
		text[o++] = '[';
	for (int i = 0; i < 40; i++)
		text[o++] = ']';
	o += (size_t)snprintf(text + o, 300 - o, "\nb: ");
	for (int i = 0; i < 30; i++)
		text[o++] = '[';
	o += (size_t)snprintf(text + o, 300 - o, "*a");
	for (int i = 0; i < 30; i++)
		text[o++] = ']';
	text[o] = '\0';
	CHECK_STR(parse_err(text, PT_LIMIT, b, sizeof b),
		  "t.yaml:2:34: nesting deeper than 64 levels (aliases expanded)");
	free(text);

	/* Size: one byte over YAML_MAX_BYTES. */
	text = malloc(YAML_MAX_BYTES + 2);
	memset(text, '#', YAML_MAX_BYTES + 1);
	text[YAML_MAX_BYTES + 1] = '\0';
	CHECK_INT(yaml_parse("big.yaml", text, YAML_MAX_BYTES + 1, &s, &e), PT_LIMIT);
	CHECK_STR(pt_error_format(&e, b, sizeof b), "big.yaml: input is larger than 4194304 bytes");
	/* Exactly at the limit is fine (a comment). */
	text[0] = '#';
	s = NULL;
	CHECK_INT(yaml_parse("big.yaml", text, YAML_MAX_BYTES, &s, &e), PT_OK);
	yaml_stream_free(s);
	free(text);

	/* Too many plain nodes, no aliases. */
	text = malloc(3 * (YAML_MAX_NODES + 10) + 8);
	o = 0;
	text[o++] = '[';
	for (int i = 0; i < YAML_MAX_NODES + 5; i++) {
		text[o++] = '1';
		text[o++] = ',';
	}
	text[o++] = ']';
	text[o] = '\0';
	CHECK_STR(parse_err(text, PT_LIMIT, b, sizeof b), "t.yaml:1:400000: more than 200000 nodes (aliases expanded)");
	free(text);
}

static void test_typing(void)
{
	static const struct {
		const char *in;
		const char *json; /* how the scalar converts */
	} cases[] = {
		/* null */
		{"~", "null"}, {"null", "null"}, {"Null", "null"}, {"NULL", "null"}, {"nULL", "\"nULL\""},
		{"''", "\"\""},
		/* YAML 1.1 bools, as go-yaml v2 (and so kubectl) reads them */
		{"true", "true"}, {"True", "true"}, {"TRUE", "true"}, {"tRUE", "\"tRUE\""},
		{"yes", "true"}, {"Yes", "true"}, {"YES", "true"}, {"y", "true"}, {"Y", "true"},
		{"on", "true"}, {"On", "true"}, {"ON", "true"}, {"oN", "\"oN\""},
		{"false", "false"}, {"no", "false"}, {"NO", "false"}, {"n", "false"}, {"off", "false"},
		{"OFF", "false"}, {"'yes'", "\"yes\""}, {"\"true\"", "\"true\""},
		/* integers */
		{"0", "0"}, {"-0", "0"}, {"+5", "5"}, {"1_000", "1000"}, {"0x1F", "31"}, {"0X1f", "31"},
		{"0o17", "15"}, {"017", "15"}, {"0b11", "3"}, {"-0b11", "-3"}, {"-42", "-42"},
		{"4294967296", "4294967296"},
		/* floats; "08" is not octal, so go-yaml falls through to float */
		{"08", "8"}, {"1.5", "1.5"}, {"1.", "1"}, {".5", "0.5"}, {"-.5", "-0.5"}, {"1.5e3", "1500"},
		{"1e-400", "0"}, {"1e400", "\"1e400\""}, {"1_0.5", "10.5"},
		/* strings */
		{"0x", "\"0x\""}, {"1e", "\"1e\""}, {"+", "\"+\""}, {"-x", "\"-x\""}, {".", "\".\""},
		{".NaN2", "\".NaN2\""}, {"2001-12-14", "\"2001-12-14\""}, {"12:30", "\"12:30\""},
		{"512Mi", "\"512Mi\""}, {"1.5.5", "\"1.5.5\""}, {"_1", "\"_1\""},
		/* tags */
		{"!!str 12", "\"12\""}, {"! 12", "\"12\""}, {"!!int \"0x10\"", "16"}, {"!!float 1", "1"},
		{"!!bool yes", "true"}, {"!!null ''", "null"},
	};
	char text[128], want[160];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "v: %s\n", cases[i].in);
		snprintf(want, sizeof want, "{\"v\":%s}", cases[i].json);
		CHECK_JSON(text, want);
	}
}

static void test_typed_accessors(void)
{
	struct ystream *s = parse_ok("a: yes\nb: '5'\nc: 0x10\nd: 2.5\ne: ~\nf: 18446744073709551615\ng: [1]\n"
					 "h: 9223372036854775807\ni: -9223372036854775808\n");
	struct ynode *r;
	bool bv = false;
	long long iv = -1;
	double dv = -1;

	if (!s)
		return;
	r = s->docs[0].root;
	CHECK(ynode_bool(ynode_get(r, "a"), &bv) && bv);
	CHECK(!ynode_int(ynode_get(r, "a"), &iv));
	CHECK_INT(iv, -1); /* untouched */
	CHECK(!ynode_int(ynode_get(r, "b"), &iv)); /* quoted: a string */
	CHECK(ynode_int(ynode_get(r, "c"), &iv));
	CHECK_INT(iv, 16);
	CHECK(ynode_double(ynode_get(r, "c"), &dv));
	CHECK_DBL(dv, 16, 0);
	CHECK(!ynode_int(ynode_get(r, "d"), &iv));
	CHECK(ynode_double(ynode_get(r, "d"), &dv));
	CHECK_DBL(dv, 2.5, 0);
	CHECK(ynode_is_null(ynode_get(r, "e")));
	CHECK(ynode_is_null(NULL));
	CHECK(!ynode_is_null(ynode_get(r, "b")));
	CHECK(!ynode_is_null(ynode_get(r, "g")));
	/* Past int64: not an int, but a number. */
	CHECK(!ynode_int(ynode_get(r, "f"), &iv));
	CHECK(ynode_double(ynode_get(r, "f"), &dv));
	CHECK_DBL(dv, 18446744073709551615.0, 1);
	CHECK(!ynode_bool(ynode_get(r, "g"), &bv));
	CHECK(ynode_int(ynode_get(r, "h"), &iv));
	CHECK(iv == LLONG_MAX);
	CHECK(ynode_int(ynode_get(r, "i"), &iv));
	CHECK(iv == LLONG_MIN);
	CHECK(!ynode_double(NULL, &dv));
	yaml_stream_free(s);
}

static void test_tag_errors(void)
{
	char b[800];

	CHECK_STR(parse_err("x: !!int abc\n", PT_SYNTAX, b, sizeof b), "t.yaml:1:4: cannot decode 'abc' as !!int");
	CHECK_STR(parse_err("x: !!bool 1\n", PT_SYNTAX, b, sizeof b), "t.yaml:1:4: cannot decode '1' as !!bool");
	CHECK_STR(parse_err("x: !foo bar\n", PT_SYNTAX, b, sizeof b), "t.yaml:1:4: unsupported tag '!foo'");
	CHECK_STR(parse_err("x: !!binary aGVsbG8=\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:1:4: unsupported tag 'tag:yaml.org,2002:binary'");
	CHECK_STR(parse_err("x: !!seq {a: 1}\n", PT_SYNTAX, b, sizeof b),
		  "t.yaml:1:4: unsupported tag 'tag:yaml.org,2002:seq'");
	CHECK_JSON("x: !!map {a: 1}\n", "{\"x\":{\"a\":1}}");
}

static void test_to_json(void)
{
	/* Keys become strings the way sigs.k8s.io/yaml makes them. */
	CHECK_JSON("{yes: 1, 0x10: 2, 1.5: 3, 1e6: 4, 1234567.0: 5, 0.0001: 6, 0.00001: 7, 1.0: 8}",
		   "{\"true\":1,\"16\":2,\"1.5\":3,\"1e+06\":4,\"1.234567e+06\":5,\"0.0001\":6,\"1e-05\":7,\"1\":8}");
	CHECK_JSON("env:\n- name: A\n  value: yes\n- name: B\n  value: \"yes\"\n- {name: C, value: 08}\n",
		   "{\"env\":[{\"name\":\"A\",\"value\":true},{\"name\":\"B\",\"value\":\"yes\"},"
		   "{\"name\":\"C\",\"value\":8}]}");
	CHECK_JSON("a: [1, [], {}, '', ~]\n", "{\"a\":[1,[],{},\"\",null]}");
	CHECK_JSON("s: \"caf\\u00e9 \\\"q\\\"\"\n", "{\"s\":\"caf\xc3\xa9 \\\"q\\\"\"}");
	/* What JSON cannot hold. */
	CHECK_JSON("a: .inf\n", "t.yaml:1:4: cannot convert '.inf' to JSON: JSON has no infinity or NaN");
	CHECK_JSON("a: -.Inf\n", "t.yaml:1:4: cannot convert '-.Inf' to JSON: JSON has no infinity or NaN");
	CHECK_JSON("a: .nan\n", "t.yaml:1:4: cannot convert '.nan' to JSON: JSON has no infinity or NaN");
	CHECK_JSON("{~: 1}\n", "t.yaml:1:2: cannot convert a null key to JSON");
	CHECK_JSON("k: \"a\\0b\"\n", "t.yaml:1:4: cannot convert 'a\\x00b' to JSON: it holds a NUL byte");
	CHECK_JSON("{1: a, 01: b}\n", "t.yaml:1:8: duplicate key '1'");
	CHECK_JSON("{true: a, yes: b}\n", "t.yaml:1:11: duplicate key 'true'");

	/* A NULL node is JSON null. */
	{
		struct pt_error e = {0};
		cJSON *j = yaml_to_json(NULL, &e);

		CHECK(cJSON_IsNull(j));
		cJSON_Delete(j);
	}
}

static void test_to_json_limit(void)
{
	/* yaml_parse never builds these, but yaml_to_json counts on its own:
	 * a hand-made tree sharing one 1000-item node 1000 times, and one
	 * that contains itself. */
	static struct ynode leaf = {.kind = YNODE_SCALAR, .str = "x", .len = 1, .plain = true, .line = 1, .col = 1};
	static struct ynode *leaves[1000], *mids[1000];
	static struct ynode mid = {.kind = YNODE_SEQ, .items = leaves, .n = 1000, .line = 2, .col = 1};
	static struct ynode top = {.kind = YNODE_SEQ, .items = mids, .n = 1000, .line = 3, .col = 1};
	static struct ynode *selfv[1];
	static struct ynode self = {.kind = YNODE_SEQ, .items = selfv, .n = 1, .line = 4, .col = 7};
	struct pt_error e = {0};
	char b[800];

	for (int i = 0; i < 1000; i++) {
		leaves[i] = &leaf;
		mids[i] = &mid;
	}
	CHECK(yaml_to_json(&top, &e) == NULL);
	CHECK_INT(e.code, PT_LIMIT);
	CHECK_STR(pt_error_format(&e, b, sizeof b), "more than 200000 nodes (aliases expanded)");
	selfv[0] = &self;
	CHECK(yaml_to_json(&self, &e) == NULL);
	CHECK_INT(e.code, PT_LIMIT);
	CHECK_STR(e.msg, "nesting deeper than 64 levels");
	CHECK_INT(e.line, 4);
	/* Without an error record too. */
	CHECK(yaml_to_json(&self, NULL) == NULL);
}

static void test_files(void)
{
	char path[] = "/tmp/yaml_test_XXXXXX";
	int fd = mkstemp(path);
	struct ystream *s = NULL;
	struct pt_error e = {0};
	char b[800];

	CHECK(fd >= 0);
	CHECK(write(fd, "a: 1\nb: [\n", 10) == 10);
	close(fd);
	CHECK_INT(yaml_parse_file(path, &s, &e), PT_SYNTAX);
	CHECK(s == NULL);
	CHECK_STR(e.file, path);
	CHECK_INT(e.line, 3);
	unlink(path);

	CHECK_INT(yaml_parse_file("/nonexistent/x.yaml", &s, &e), PT_NOTFOUND);
	CHECK_STR(pt_error_format(&e, b, sizeof b),
		  "cannot open '/nonexistent/x.yaml': No such file or directory (ENOENT)");
	CHECK_INT(yaml_parse_file("/tmp", &s, &e), PT_IO);
	CHECK_STR(pt_error_format(&e, b, sizeof b), "cannot read '/tmp': Is a directory (EISDIR)");

	CHECK_INT(yaml_parse_file("tests/unit/yaml_test.c", &s, &e), PT_SYNTAX);

	/* One byte past the limit is refused before parsing. */
	{
		char big[] = "/tmp/yaml_test_big_XXXXXX";
		int bfd = mkstemp(big);

		s = NULL;
		CHECK(bfd >= 0 && ftruncate(bfd, YAML_MAX_BYTES + 1) == 0);
		close(bfd);
		CHECK_INT(yaml_parse_file(big, &s, &e), PT_LIMIT);
		CHECK_CONTAINS(e.msg, "exceed the limit of 4194304");
		CHECK(s == NULL);
		unlink(big);
	}
}

TEST_MAIN(test_tree_and_positions, test_documents, test_syntax_errors, test_duplicates, test_aliases_and_merges,
	  test_limits, test_typing, test_typed_accessors, test_tag_errors, test_to_json, test_to_json_limit,
	  test_files)
