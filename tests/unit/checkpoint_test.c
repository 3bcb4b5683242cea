/* SPDX-License-Identifier: Apache-2.0 */
/* checkpoint module: entry life cycle, reconcile after a crash, the JSON
 * round trip (values above 2^53, "max", awkward keys), every kind of bad
 * document, every truncation of a good one, atomic save, load of a missing,
 * truncated or oversized file, and moving a bad file aside. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../rebalancer/checkpoint.h"
#include "test.h"

#define KEY "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f1/app"
#define DIR "/sys/fs/cgroup/kubepods.slice/x.scope"

static char tmp_dir[64];

static void make_dir(void)
{
	test_mkdtemp(tmp_dir, sizeof tmp_dir, "pt-checkpoint");
}

static void rm_dir(void)
{
	test_rm_rf(tmp_dir);
}

static size_t count_files(const char *dir)
{
	char cmd[128];
	size_t n = 0;
	FILE *f;
	int ch;

	snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
	f = popen(cmd, "r");
	while (f && (ch = fgetc(f)) != EOF)
		n += ch == '\n';
	if (f)
		pclose(f);
	return n;
}

static void write_file(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(s, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "cannot write '%s'\n", path);
		exit(2);
	}
}

static void test_track(void)
{
	struct checkpoint cp;
	struct checkpoint_entry *en = NULL, *again = NULL;
	struct pt_error e = {0};
	char longkey[CHECKPOINT_KEY_MAX + 1];

	checkpoint_init(&cp);
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "cpu.weight", 100, 1000, &en, &e), PT_OK);
	CHECK(en != NULL);
	CHECK_STR(en->key, KEY);
	CHECK_STR(en->dir, DIR);
	CHECK_INT(en->baseline, 100);
	CHECK(!en->has_applied && !en->has_intent);
	CHECK_INT(en->updated_ms, 1000);
	/* A second sighting keeps the first baseline. */
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "cpu.weight", 555, 2000, &again, &e), PT_OK);
	CHECK(again == en);
	CHECK_INT(en->baseline, 100);
	CHECK_INT(cp.n, 1);

	checkpoint_intent(en, 150, 3000);
	CHECK(en->has_intent);
	CHECK_INT(en->intent, 150);
	CHECK(!en->has_applied);
	checkpoint_applied(en, 150, 4000);
	CHECK(en->has_applied && !en->has_intent);
	CHECK_INT(en->applied, 150);
	CHECK_INT(en->updated_ms, 4000);
	checkpoint_intent(en, 200, 5000);
	checkpoint_abandon(en, 6000);
	CHECK(!en->has_intent);
	CHECK_INT(en->applied, 150);
	checkpoint_adopt(en, 120, 7000);
	CHECK_INT(en->baseline, 120);
	CHECK(!en->has_applied && !en->has_intent);

	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "memory.high", CHECKPOINT_MAX_VALUE, 1, NULL, &e), PT_OK);
	CHECK_INT(checkpoint_track(&cp, "other/c", DIR, "cpu.weight", 39, 1, NULL, &e), PT_OK);
	CHECK(checkpoint_find(&cp, KEY, "memory.high") != NULL);
	CHECK(checkpoint_find(&cp, KEY, "memory.max") == NULL);
	CHECK(checkpoint_find(&cp, "nope", "cpu.weight") == NULL);

	/* Bad input: a precise error, nothing added. */
	CHECK_INT(checkpoint_track(&cp, "", DIR, "cpu.weight", 1, 1, NULL, &e), PT_INVALID);
	CHECK_STR(e.msg, "empty checkpoint key");
	CHECK_INT(checkpoint_track(&cp, KEY, NULL, "cpu.weight", 1, 1, NULL, &e), PT_INVALID);
	CHECK_STR(e.msg, "empty checkpoint dir");
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "../cpu.weight", 1, 1, NULL, &e), PT_INVALID);
	CHECK_STR(e.msg, "checkpoint file '../cpu.weight' has a character other than [a-z0-9._]");
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "CPU.weight", 1, 1, NULL, &e), PT_INVALID);
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	CHECK_INT(checkpoint_track(&cp, longkey, DIR, "cpu.weight", 1, 1, NULL, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "is longer than 255 bytes");
	longkey[CHECKPOINT_KEY_MAX - 1] = '\0'; /* 255: fits */
	CHECK_INT(checkpoint_track(&cp, longkey, DIR, "cpu.weight", 1, 1, NULL, &e), PT_OK);
	CHECK_INT(cp.n, 4);

	CHECK_INT(checkpoint_remove(&cp, KEY, "cpu.weight"), 1);
	CHECK_INT(cp.n, 3);
	CHECK(checkpoint_find(&cp, KEY, "memory.high") != NULL);
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "cpu.weight", 1, 1, NULL, &e), PT_OK);
	CHECK_INT(checkpoint_remove(&cp, KEY, NULL), 2);
	CHECK_INT(checkpoint_remove(&cp, KEY, NULL), 0);
	CHECK_INT(cp.n, 2);
	CHECK_STR(cp.entries[0].key, "other/c"); /* order kept */
	checkpoint_release(&cp);
	CHECK_INT(cp.n, 0);
	checkpoint_release(&cp);
}

/* The index: thousands of entries found, a removal re-indexes the rest,
 * and keys that share prefixes or swap between key and file stay apart. */
static void test_index(void)
{
	struct checkpoint cp, back;
	struct checkpoint_entry *en;
	struct pt_error e = {0};
	struct buf b;
	char key[64];
	size_t found = 0;

	checkpoint_init(&cp);
	CHECK(checkpoint_find(&cp, "k", "cpu.weight") == NULL);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "c%d", i);
		CHECK_INT(checkpoint_track(&cp, key, DIR, "cpu.weight", (uint64_t)i, 1, NULL, &e), PT_OK);
		CHECK_INT(checkpoint_track(&cp, key, DIR, "memory.high", (uint64_t)i + 1, 1, NULL, &e), PT_OK);
	}
	CHECK_INT(cp.n, 6000);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "c%d", i);
		en = checkpoint_find(&cp, key, "memory.high");
		found += en && en->baseline == (uint64_t)i + 1 && strcmp(en->key, key) == 0;
	}
	CHECK_INT(found, 3000);
	/* Remove every third container; the others move and are still found. */
	for (int i = 0; i < 3000; i += 3) {
		snprintf(key, sizeof key, "c%d", i);
		CHECK_INT(checkpoint_remove(&cp, key, NULL), 2);
	}
	CHECK_INT(cp.n, 4000);
	found = 0;
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "c%d", i);
		en = checkpoint_find(&cp, key, "cpu.weight");
		found += i % 3 ? en && en->baseline == (uint64_t)i : en == NULL;
	}
	CHECK_INT(found, 3000);
	/* A removed entry comes back as new. */
	CHECK_INT(checkpoint_track(&cp, "c0", DIR, "cpu.weight", 77, 1, &en, &e), PT_OK);
	CHECK_INT(en->baseline, 77);
	CHECK(checkpoint_find(&cp, "c0", "cpu.weight") == en);
	CHECK(checkpoint_find(&cp, "c0", "memory.high") == NULL);
	/* The key/file boundary is part of the hash and of the compare. */
	CHECK_INT(checkpoint_track(&cp, "ab", DIR, "c", 1, 1, NULL, &e), PT_OK);
	CHECK(checkpoint_find(&cp, "a", "bc") == NULL);
	/* A decoded checkpoint is indexed too. */
	buf_init(&b, CHECKPOINT_FILE_MAX);
	CHECK_INT(checkpoint_encode(&cp, 5, &b, &e), PT_OK);
	checkpoint_init(&back);
	CHECK_INT(checkpoint_decode(&back, b.data, b.len, &e), PT_OK);
	CHECK_INT(back.n, cp.n);
	en = checkpoint_find(&back, "c2999", "memory.high");
	CHECK(en && en->baseline == 3000);
	buf_release(&b);
	checkpoint_release(&back);
	checkpoint_release(&cp);
	CHECK(cp.index == NULL && cp.index_cap == 0);
}

static void test_limit(void)
{
	struct checkpoint cp;
	struct pt_error e = {0};
	char key[32];
	enum pt_code rc = PT_OK;

	checkpoint_init(&cp);
	for (int i = 0; i < CHECKPOINT_ENTRIES_MAX && rc == PT_OK; i++) {
		snprintf(key, sizeof key, "pod/%d", i);
		rc = checkpoint_track(&cp, key, DIR, "cpu.weight", 100, 1, NULL, &e);
	}
	CHECK_INT(rc, PT_OK);
	CHECK_INT(cp.n, CHECKPOINT_ENTRIES_MAX);
	CHECK_INT(checkpoint_track(&cp, "one/more", DIR, "cpu.weight", 100, 1, NULL, &e), PT_LIMIT);
	CHECK_STR(e.msg, "the checkpoint holds 8192 entries already");
	CHECK_INT(cp.n, CHECKPOINT_ENTRIES_MAX);
	/* An existing entry is still found at the limit. */
	CHECK_INT(checkpoint_track(&cp, "pod/17", DIR, "cpu.weight", 1, 1, NULL, &e), PT_OK);
	checkpoint_release(&cp);
}

static void test_reconcile(void)
{
	struct checkpoint_entry en;

	/* The write happened before the crash. */
	memset(&en, 0, sizeof en);
	en.baseline = 100;
	checkpoint_intent(&en, 150, 1);
	CHECK_INT(checkpoint_reconcile(&en, 150, 2), CHECKPOINT_APPLIED);
	CHECK(en.has_applied && !en.has_intent);
	CHECK_INT(en.applied, 150);
	CHECK_INT(en.updated_ms, 2);
	/* Then nothing changed. */
	CHECK_INT(checkpoint_reconcile(&en, 150, 3), CHECKPOINT_CONSISTENT);
	CHECK_INT(en.updated_ms, 2);

	/* The write did not happen: the file still holds the applied value. */
	checkpoint_intent(&en, 200, 4);
	CHECK_INT(checkpoint_reconcile(&en, 150, 5), CHECKPOINT_NOT_APPLIED);
	CHECK(!en.has_intent);
	CHECK_INT(en.applied, 150);

	/* ... or the baseline, when nothing was applied yet. */
	memset(&en, 0, sizeof en);
	en.baseline = CHECKPOINT_MAX_VALUE;
	checkpoint_intent(&en, 1 << 30, 6);
	CHECK_INT(checkpoint_reconcile(&en, CHECKPOINT_MAX_VALUE, 7), CHECKPOINT_NOT_APPLIED);
	CHECK(!en.has_applied);

	/* Someone else's value, with or without an intent: adopted. */
	checkpoint_intent(&en, 1 << 30, 8);
	CHECK_INT(checkpoint_reconcile(&en, 1 << 29, 9), CHECKPOINT_FOREIGN);
	CHECK_INT(en.baseline, 1 << 29);
	CHECK(!en.has_intent && !en.has_applied);
	checkpoint_applied(&en, 1 << 28, 10);
	CHECK_INT(checkpoint_reconcile(&en, 1 << 27, 11), CHECKPOINT_FOREIGN);
	CHECK_INT(en.baseline, 1 << 27);
	CHECK(!en.has_applied);
	/* An in-place resize changed the baseline of an untouched file. */
	CHECK_INT(checkpoint_reconcile(&en, 400, 12), CHECKPOINT_FOREIGN);
	CHECK_INT(en.baseline, 400);
}

static void fill(struct checkpoint *cp)
{
	struct checkpoint_entry *en;
	struct pt_error e = {0};

	checkpoint_init(cp);
	if (checkpoint_track(cp, KEY, DIR, "cpu.weight", 100, 1700000000000LL, &en, &e))
		exit(2);
	checkpoint_applied(en, 150, 1700000000001LL);
	checkpoint_intent(en, 200, 1700000000002LL);
	if (checkpoint_track(cp, KEY, DIR, "memory.high", CHECKPOINT_MAX_VALUE, 5, &en, &e))
		exit(2);
	/* Above 2^53: a double would lose the low bits. */
	checkpoint_applied(en, (1ULL << 62) + 4096, 6);
	if (checkpoint_track(cp, "we\"ird\\key/\xc3\xa9\n\x01", "/a b/\"c\"", "cpu.weight", 1, 0, &en, &e))
		exit(2);
	checkpoint_intent(en, 10000, 7);
}

static void check_same(const struct checkpoint *a, const struct checkpoint *b)
{
	CHECK_INT(a->n, b->n);
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		const struct checkpoint_entry *x = &a->entries[i], *y = &b->entries[i];

		CHECK_STR(x->key, y->key);
		CHECK_STR(x->dir, y->dir);
		CHECK_STR(x->file, y->file);
		CHECK(x->baseline == y->baseline);
		CHECK_INT(x->has_applied, y->has_applied);
		CHECK(x->applied == y->applied);
		CHECK_INT(x->has_intent, y->has_intent);
		CHECK(x->intent == y->intent);
		CHECK_INT(x->updated_ms, y->updated_ms);
	}
}

static void test_round_trip(void)
{
	struct checkpoint a, b;
	struct pt_error e = {0};
	struct buf out;

	fill(&a);
	buf_init(&out, CHECKPOINT_FILE_MAX);
	CHECK_INT(checkpoint_encode(&a, 42, &out, &e), PT_OK);
	CHECK_CONTAINS(out.data, "{\"version\":1,\"saved_ms\":42,\"entries\":[\n");
	CHECK_CONTAINS(out.data, "{\"key\":\"" KEY "\",\"dir\":\"" DIR "\",\"file\":\"cpu.weight\",\"baseline\":\"100\","
				 "\"applied\":\"150\",\"intent\":\"200\",\"updated_ms\":1700000000002}");
	CHECK_CONTAINS(out.data, "\"baseline\":\"max\",\"applied\":\"4611686018427392000\",\"intent\":null");
	checkpoint_init(&b);
	CHECK_INT(checkpoint_decode(&b, out.data, out.len, &e), PT_OK);
	check_same(&a, &b);
	CHECK(b.entries[1].applied == (1ULL << 62) + 4096);
	CHECK(b.entries[1].baseline == CHECKPOINT_MAX_VALUE);
	CHECK(!b.entries[2].has_applied);
	/* An empty checkpoint round-trips too. */
	checkpoint_release(&a);
	buf_reset(&out);
	CHECK_INT(checkpoint_encode(&a, 1, &out, &e), PT_OK);
	CHECK_STR(out.data, "{\"version\":1,\"saved_ms\":1,\"entries\":[\n]}\n");
	CHECK_INT(checkpoint_decode(&b, out.data, out.len, &e), PT_OK);
	CHECK_INT(b.n, 0);
	/* A small cap is PT_LIMIT, not a crash. */
	{
		struct buf tiny;

		fill(&a);
		buf_init(&tiny, 64);
		CHECK_INT(checkpoint_encode(&a, 1, &tiny, &e), PT_LIMIT);
		CHECK_STR(e.msg, "the checkpoint (3 entries) does not fit in 4194304 bytes");
		buf_release(&tiny);
	}
	checkpoint_release(&a);
	checkpoint_release(&b);
	buf_release(&out);
}

static void check_bad(const char *doc, enum pt_code code, const char *msg)
{
	struct checkpoint cp;
	struct pt_error e = {0};

	fill(&cp);
	CHECK_INT(checkpoint_decode(&cp, doc, strlen(doc), &e), code);
	CHECK_STR(e.msg, msg);
	CHECK_INT(cp.n, 3); /* untouched */
	CHECK_STR(cp.entries[0].key, KEY);
	checkpoint_release(&cp);
}

#define HEAD "{\"version\":1,\"saved_ms\":1,\"entries\":["
#define GOOD "\"key\":\"k\",\"dir\":\"/d\",\"file\":\"cpu.weight\""

static void test_decode_bad(void)
{
	check_bad("", PT_SYNTAX, "empty document");
	check_bad("[]", PT_SYNTAX, "the checkpoint is not a JSON object");
	check_bad("{}", PT_SYNTAX, "the checkpoint has no numeric 'version'");
	check_bad("{\"version\":\"1\"}", PT_SYNTAX, "the checkpoint has no numeric 'version'");
	check_bad("{\"version\":2,\"saved_ms\":1,\"entries\":[]}", PT_UNSUPPORTED,
		  "the checkpoint has version 2; this build reads version 1");
	check_bad("{\"version\":1,\"entries\":[]}", PT_SYNTAX, "the checkpoint has no whole-number 'saved_ms'");
	check_bad("{\"version\":1,\"saved_ms\":-1,\"entries\":[]}", PT_SYNTAX,
		  "the checkpoint has no whole-number 'saved_ms'");
	check_bad("{\"version\":1,\"saved_ms\":1}", PT_SYNTAX, "the checkpoint has no 'entries' array");
	check_bad("{\"version\":1,\"saved_ms\":1,\"entries\":{}}", PT_SYNTAX, "the checkpoint has no 'entries' array");
	check_bad(HEAD "1]}", PT_SYNTAX, "entry 1 is not an object");
	check_bad(HEAD "{}]}", PT_SYNTAX, "entry 1: 'key' is missing or not a string");
	check_bad(HEAD "{\"key\":5}]}", PT_SYNTAX, "entry 1: 'key' is missing or not a string");
	check_bad(HEAD "{\"key\":\"\"}]}", PT_SYNTAX, "entry 1: 'key' is empty or too long");
	check_bad(HEAD "{\"key\":\"k\",\"dir\":\"/d\",\"file\":\"../x\"}]}", PT_SYNTAX,
		  "entry 1: 'file' has a character other than [a-z0-9._]");
	check_bad(HEAD "{" GOOD "}]}", PT_SYNTAX, "entry 1: 'baseline' is not \"max\" or a decimal string");
	check_bad(HEAD "{" GOOD ",\"baseline\":100}]}", PT_SYNTAX,
		  "entry 1: 'baseline' is not \"max\" or a decimal string");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"-1\"}]}", PT_SYNTAX,
		  "entry 1: 'baseline' is not \"max\" or a decimal string");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"18446744073709551616\"}]}", PT_SYNTAX,
		  "entry 1: 'baseline' is not \"max\" or a decimal string");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"\"}]}", PT_SYNTAX,
		  "entry 1: 'baseline' is not \"max\" or a decimal string");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"1\",\"applied\":\"1x\"}]}", PT_SYNTAX,
		  "entry 1: 'applied' is not \"max\", a decimal string or null");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"1\",\"intent\":true}]}", PT_SYNTAX,
		  "entry 1: 'intent' is not \"max\", a decimal string or null");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"1\"}]}", PT_SYNTAX,
		  "entry 1: 'updated_ms' is not a whole number of milliseconds");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"1\",\"updated_ms\":1.5}]}", PT_SYNTAX,
		  "entry 1: 'updated_ms' is not a whole number of milliseconds");
	check_bad(HEAD "{" GOOD ",\"baseline\":\"1\",\"updated_ms\":1},{" GOOD ",\"baseline\":\"2\",\"updated_ms\":1}]}",
		  PT_SYNTAX, "entry 2: ('k', 'cpu.weight') appears twice");
	{
		const char *cut = HEAD "{" GOOD ",\"baseline\":\"1\",\"updated_ms\":1}]";
		struct checkpoint cp;
		struct pt_error e = {0};

		checkpoint_init(&cp);
		CHECK_INT(checkpoint_decode(&cp, cut, strlen(cut), &e), PT_SYNTAX);
		CHECK_CONTAINS(e.msg, "invalid JSON");
	}

	/* Absent and null applied/intent both mean none. */
	{
		const char *ok = HEAD "{" GOOD ",\"baseline\":\"max\",\"applied\":null,\"updated_ms\":0}]}";
		struct checkpoint cp;
		struct pt_error e = {0};

		checkpoint_init(&cp);
		CHECK_INT(checkpoint_decode(&cp, ok, strlen(ok), &e), PT_OK);
		CHECK_INT(cp.n, 1);
		CHECK(!cp.entries[0].has_applied && !cp.entries[0].has_intent);
		checkpoint_release(&cp);
	}
}

/* Crash safety: no prefix of a document is accepted. */
static void test_truncations(void)
{
	struct checkpoint a, b;
	struct pt_error e = {0};
	struct buf out;
	size_t end, accepted = 0;

	fill(&a);
	buf_init(&out, CHECKPOINT_FILE_MAX);
	CHECK_INT(checkpoint_encode(&a, 42, &out, &e), PT_OK);
	end = (size_t)(strrchr(out.data, '}') - out.data) + 1;
	checkpoint_init(&b);
	for (size_t n = 0; n < end; n++)
		if (checkpoint_decode(&b, out.data, n, &e) == PT_OK)
			accepted++;
	CHECK_INT(accepted, 0);
	CHECK_INT(b.n, 0);
	CHECK_INT(checkpoint_decode(&b, out.data, end, &e), PT_OK);
	CHECK_INT(b.n, 3);
	checkpoint_release(&a);
	checkpoint_release(&b);
	buf_release(&out);
}

static void test_too_many(void)
{
	struct checkpoint cp;
	struct pt_error e = {0};
	struct buf doc;
	enum pt_code rc;

	buf_init(&doc, CHECKPOINT_FILE_MAX);
	rc = buf_puts(&doc, HEAD);
	for (int i = 0; i <= CHECKPOINT_ENTRIES_MAX && !rc; i++)
		rc = buf_printf(&doc, "%s{\"key\":\"p/%d\",\"dir\":\"/d\",\"file\":\"cpu.weight\",\"baseline\":\"1\","
				      "\"updated_ms\":1}", i ? "," : "", i);
	if (!rc)
		rc = buf_puts(&doc, "]}");
	CHECK_INT(rc, PT_OK);
	checkpoint_init(&cp);
	CHECK_INT(checkpoint_decode(&cp, doc.data, doc.len, &e), PT_LIMIT);
	CHECK_STR(e.msg, "the checkpoint has more than 8192 entries");
	CHECK_INT(cp.n, 0);
	CHECK_INT(checkpoint_decode(&cp, doc.data, CHECKPOINT_FILE_MAX + 1, &e), PT_LIMIT);
	buf_release(&doc);
	checkpoint_release(&cp);
}

static void test_save_load(void)
{
	struct checkpoint a, b;
	struct pt_error e = {0};
	char path[PATH_MAX];
	struct stat st;

	make_dir();
	snprintf(path, sizeof path, "%s/state.json", tmp_dir);
	/* The first start: no file, an empty state. */
	fill(&b);
	CHECK_INT(checkpoint_load(&b, path, &e), PT_OK);
	CHECK_INT(b.n, 0);

	fill(&a);
	CHECK_INT(checkpoint_save(&a, path, 99, &e), PT_OK);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(count_files(tmp_dir), 1); /* no temp file left */
	CHECK_INT(checkpoint_load(&b, path, &e), PT_OK);
	check_same(&a, &b);

	/* A save replaces the file as a whole. */
	CHECK_INT(checkpoint_remove(&a, KEY, NULL), 2);
	CHECK_INT(checkpoint_save(&a, path, 100, &e), PT_OK);
	CHECK_INT(checkpoint_load(&b, path, &e), PT_OK);
	CHECK_INT(b.n, 1);
	check_same(&a, &b);
	checkpoint_release(&a);
	checkpoint_release(&b);
	rm_dir();
}

static void test_save_failures(void)
{
	struct checkpoint a;
	struct pt_error e = {0};
	char path[PATH_MAX];

	make_dir();
	fill(&a);
	snprintf(path, sizeof path, "%s/missing/state.json", tmp_dir);
	CHECK_INT(checkpoint_save(&a, path, 1, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot create a temporary file for '");
	CHECK_CONTAINS(e.msg, "/missing/state.json': No such file or directory (ENOENT)");
	/* The target is a directory: the rename fails and the temp file goes. */
	snprintf(path, sizeof path, "%s/state.json", tmp_dir);
	mkdir(path, 0700);
	CHECK_INT(checkpoint_save(&a, path, 1, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "cannot rename '");
	CHECK_CONTAINS(e.msg, "(EISDIR)");
	CHECK_INT(count_files(tmp_dir), 1);
	CHECK_INT(checkpoint_save(&a, "", 1, &e), PT_INVALID);
	/* A directory is no checkpoint either. */
	CHECK(checkpoint_load(&a, path, &e) != PT_OK);
	CHECK_CONTAINS(e.msg, "(EISDIR)");
	CHECK_INT(a.n, 3);
	checkpoint_release(&a);
	rm_dir();
}

static void test_bad_file(void)
{
	struct checkpoint a, b;
	struct pt_error e = {0};
	char path[256], moved[PATH_MAX], want[PATH_MAX + 128];
	struct buf out;
	char *kept;

	make_dir();
	snprintf(path, sizeof path, "%s/state.json", tmp_dir);
	fill(&a);
	buf_init(&out, CHECKPOINT_FILE_MAX);
	CHECK_INT(checkpoint_encode(&a, 1, &out, &e), PT_OK);

	/* Torn write (a file system that lost the tail): detected. */
	write_file(path, out.data, out.len / 2);
	fill(&b);
	CHECK_INT(checkpoint_load(&b, path, &e), PT_SYNTAX);
	snprintf(want, sizeof want, "checkpoint '%s': invalid JSON", path);
	CHECK_CONTAINS(e.msg, want);
	CHECK_INT(b.n, 3);

	/* Moved aside for inspection, twice in the same second. */
	CHECK_INT(checkpoint_quarantine(path, 1700000000, moved, sizeof moved, &e), PT_OK);
	snprintf(want, sizeof want, "%s.corrupt-1700000000", path);
	CHECK_STR(moved, want);
	CHECK(access(path, F_OK) != 0);
	kept = test_slurp(moved, NULL);
	CHECK_INT(strlen(kept), out.len / 2);
	free(kept);
	write_file(path, "{\"version\":7}", 13);
	CHECK_INT(checkpoint_load(&b, path, &e), PT_UNSUPPORTED);
	snprintf(want, sizeof want, "checkpoint '%s': the checkpoint has version 7; this build reads version 1", path);
	CHECK_STR(e.msg, want);
	CHECK_INT(checkpoint_quarantine(path, 1700000000, moved, sizeof moved, &e), PT_OK);
	snprintf(want, sizeof want, "%s.corrupt-1700000000.1", path);
	CHECK_STR(moved, want);
	CHECK_INT(count_files(tmp_dir), 2);
	/* Nothing there to move. */
	CHECK_INT(checkpoint_quarantine(path, 1700000001, moved, sizeof moved, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot move '");

	/* Too large: refused before reading. */
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		CHECK(fd >= 0 && ftruncate(fd, CHECKPOINT_FILE_MAX + 1) == 0);
		close(fd);
		CHECK_INT(checkpoint_load(&b, path, &e), PT_LIMIT);
		CHECK_CONTAINS(e.msg, "bytes exceed the limit of 4194304");
	}
	CHECK_INT(b.n, 3);
	checkpoint_release(&a);
	checkpoint_release(&b);
	buf_release(&out);
	rm_dir();
}

/* The agent's crash story, end to end: intent saved, crash, restart. */
static void test_resume(void)
{
	struct checkpoint cp;
	struct checkpoint_entry *en;
	struct pt_error e = {0};
	char path[PATH_MAX];

	make_dir();
	snprintf(path, sizeof path, "%s/state.json", tmp_dir);
	checkpoint_init(&cp);
	CHECK_INT(checkpoint_track(&cp, KEY, DIR, "cpu.weight", 100, 1, &en, &e), PT_OK);
	checkpoint_intent(en, 300, 2);
	CHECK_INT(checkpoint_save(&cp, path, 2, &e), PT_OK);
	/* crash: the in-memory state is lost */
	checkpoint_release(&cp);

	CHECK_INT(checkpoint_load(&cp, path, &e), PT_OK);
	en = checkpoint_find(&cp, KEY, "cpu.weight");
	CHECK(en && en->has_intent && en->intent == 300);
	if (en) {
		/* the file says 300: the write made it */
		CHECK_INT(checkpoint_reconcile(en, 300, 3), CHECKPOINT_APPLIED);
		CHECK_INT(en->applied, 300);
		/* --restore: every baseline, in order */
		for (size_t i = 0; i < cp.n; i++)
			CHECK_INT(cp.entries[i].baseline, 100);
	}
	checkpoint_release(&cp);
	rm_dir();
}

TEST_MAIN(test_track, test_index, test_limit, test_reconcile, test_round_trip, test_decode_bad, test_truncations, test_too_many,
	  test_save_load, test_save_failures, test_bad_file, test_resume)
