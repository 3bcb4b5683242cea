/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's checkpoint: entries in memory, versioned JSON on disk.
 * Invariant: the file on disk is always one complete document, the old or
 * the new one (temp file + fsync + rename + directory fsync), and a load
 * accepts only a document that passes every check. */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../core/json.h"

void checkpoint_init(struct checkpoint *cp)
{
	cp->entries = NULL;
	cp->n = cp->cap = 0;
	cp->index = NULL;
	cp->index_cap = 0;
}

void checkpoint_release(struct checkpoint *cp)
{
	free(cp->entries);
	free(cp->index);
	checkpoint_init(cp);
}

/* ---- the index: (key, file) -> entry ---------------------------------- */

static uint64_t entry_hash(const char *key, const char *file)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211u;
	h = (h ^ 0) * 1099511628211u; /* the separator: ("ab", "c") != ("a", "bc") */
	for (; *file; file++)
		h = (h ^ (unsigned char)*file) * 1099511628211u;
	return h;
}

/* The slot holding (key, file), or the empty slot where it would go. */
static size_t index_slot(const struct checkpoint *cp, const char *key, const char *file)
{
	size_t mask = cp->index_cap - 1, i = (size_t)entry_hash(key, file) & mask;

	while (cp->index[i]) {
		const struct checkpoint_entry *en = &cp->entries[cp->index[i] - 1];

		if (strcmp(en->key, key) == 0 && strcmp(en->file, file) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

/* Re-insert every entry (after a removal moved them). The table keeps its
 * size, which is at least twice the entries it holds. */
static void index_rebuild(struct checkpoint *cp)
{
	if (!cp->index)
		return;
	memset(cp->index, 0, cp->index_cap * sizeof *cp->index);
	for (size_t i = 0; i < cp->n; i++)
		cp->index[index_slot(cp, cp->entries[i].key, cp->entries[i].file)] = (uint32_t)i + 1;
}

/* Make the table at least twice cp->cap, rebuilt if it grew. */
static enum pt_code index_fit(struct checkpoint *cp, struct pt_error *e)
{
	size_t want = 32;
	uint32_t *p;

	while (want < 2 * cp->cap)
		want *= 2;
	if (want <= cp->index_cap)
		return PT_OK;
	if (!(p = calloc(want, sizeof *p)))
		return pt_error_set(e, PT_NOMEM, "cannot grow the checkpoint index to %zu slots", want);
	free(cp->index);
	cp->index = p;
	cp->index_cap = want;
	index_rebuild(cp);
	return PT_OK;
}

struct checkpoint_entry *checkpoint_find(const struct checkpoint *cp, const char *key, const char *file)
{
	uint32_t at;

	if (!cp->n || !cp->index)
		return NULL;
	at = cp->index[index_slot(cp, key, file)];
	return at ? &cp->entries[at - 1] : NULL;
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_'))
			return false;
	return true;
}

/* Check one string field against its limit; "what" names it. */
static enum pt_code field_ok(const char *s, size_t max, const char *what, struct pt_error *e)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		return pt_error_set(e, PT_INVALID, "empty checkpoint %s", what);
	if (n >= max)
		return pt_error_set(e, PT_INVALID, "checkpoint %s '%.40s...' is longer than %zu bytes", what, s,
				    max - 1);
	return PT_OK;
}

static enum pt_code entry_fields_ok(const char *key, const char *dir, const char *file, struct pt_error *e)
{
	enum pt_code rc;

	if ((rc = field_ok(key, CHECKPOINT_KEY_MAX, "key", e)) || (rc = field_ok(dir, CHECKPOINT_DIR_MAX, "dir", e)) ||
	    (rc = field_ok(file, CHECKPOINT_NAME_MAX, "file", e)))
		return rc;
	if (!name_ok(file))
		return pt_error_set(e, PT_INVALID, "checkpoint file '%s' has a character other than [a-z0-9._]", file);
	return PT_OK;
}

static enum pt_code grow(struct checkpoint *cp, size_t want, struct pt_error *e)
{
	struct checkpoint_entry *p;
	size_t cap;

	if (want <= cp->cap)
		return index_fit(cp, e); /* a no-op unless an earlier fit failed */
	cap = cp->cap ? cp->cap * 2 : 16;
	if (cap < want)
		cap = want;
	if (cap > CHECKPOINT_ENTRIES_MAX)
		cap = CHECKPOINT_ENTRIES_MAX;
	p = realloc(cp->entries, cap * sizeof *p);
	if (!p)
		return pt_error_set(e, PT_NOMEM, "cannot grow the checkpoint to %zu entries", cap);
	cp->entries = p;
	cp->cap = cap;
	return index_fit(cp, e);
}

/* Append en (not present yet) after grow() made room. */
static void append(struct checkpoint *cp, const struct checkpoint_entry *en)
{
	cp->entries[cp->n] = *en;
	cp->index[index_slot(cp, en->key, en->file)] = (uint32_t)cp->n + 1;
	cp->n++;
}

enum pt_code checkpoint_track(struct checkpoint *cp, const char *key, const char *dir, const char *file,
			      uint64_t baseline, int64_t now_ms, struct checkpoint_entry **out,
			      struct pt_error *e)
{
	struct checkpoint_entry *en;
	enum pt_code rc;

	rc = entry_fields_ok(key, dir, file, e);
	if (rc)
		return rc;
	en = checkpoint_find(cp, key, file);
	if (!en) {
		if (cp->n >= CHECKPOINT_ENTRIES_MAX)
			return pt_error_set(e, PT_LIMIT, "the checkpoint holds %d entries already",
					    CHECKPOINT_ENTRIES_MAX);
		struct checkpoint_entry fresh;

		rc = grow(cp, cp->n + 1, e);
		if (rc)
			return rc;
		memset(&fresh, 0, sizeof fresh);
		snprintf(fresh.key, sizeof fresh.key, "%s", key);
		snprintf(fresh.dir, sizeof fresh.dir, "%s", dir);
		snprintf(fresh.file, sizeof fresh.file, "%s", file);
		fresh.baseline = baseline;
		fresh.updated_ms = now_ms;
		append(cp, &fresh);
		en = &cp->entries[cp->n - 1];
	}
	if (out)
		*out = en;
	return PT_OK;
}

void checkpoint_intent(struct checkpoint_entry *en, uint64_t value, int64_t now_ms)
{
	en->has_intent = true;
	en->intent = value;
	en->updated_ms = now_ms;
}

void checkpoint_applied(struct checkpoint_entry *en, uint64_t value, int64_t now_ms)
{
	en->has_applied = true;
	en->applied = value;
	en->has_intent = false;
	en->intent = 0;
	en->updated_ms = now_ms;
}

void checkpoint_abandon(struct checkpoint_entry *en, int64_t now_ms)
{
	en->has_intent = false;
	en->intent = 0;
	en->updated_ms = now_ms;
}

void checkpoint_adopt(struct checkpoint_entry *en, uint64_t value, int64_t now_ms)
{
	en->baseline = value;
	en->has_applied = en->has_intent = false;
	en->applied = en->intent = 0;
	en->updated_ms = now_ms;
}

enum checkpoint_outcome checkpoint_reconcile(struct checkpoint_entry *en, uint64_t current, int64_t now_ms)
{
	uint64_t expected = en->has_applied ? en->applied : en->baseline;

	if (en->has_intent && current == en->intent) {
		checkpoint_applied(en, current, now_ms);
		return CHECKPOINT_APPLIED;
	}
	if (current == expected) {
		if (!en->has_intent)
			return CHECKPOINT_CONSISTENT;
		checkpoint_abandon(en, now_ms);
		return CHECKPOINT_NOT_APPLIED;
	}
	checkpoint_adopt(en, current, now_ms);
	return CHECKPOINT_FOREIGN;
}

size_t checkpoint_remove(struct checkpoint *cp, const char *key, const char *file)
{
	size_t w = 0, gone;

	for (size_t r = 0; r < cp->n; r++) {
		const struct checkpoint_entry *en = &cp->entries[r];

		if (strcmp(en->key, key) == 0 && (!file || strcmp(en->file, file) == 0))
			continue;
		if (w != r)
			cp->entries[w] = *en;
		w++;
	}
	gone = cp->n - w;
	cp->n = w;
	if (gone)
		index_rebuild(cp);
	return gone;
}

/* ---- encoding ----------------------------------------------------------- */

static enum pt_code put_value(struct buf *b, const char *name, bool has, uint64_t v)
{
	enum pt_code rc = buf_printf(b, ",\"%s\":", name);

	if (rc)
		return rc;
	if (!has)
		return buf_puts(b, "null");
	if (v == CHECKPOINT_MAX_VALUE)
		return buf_puts(b, "\"max\"");
	return buf_printf(b, "\"%llu\"", (unsigned long long)v);
}

enum pt_code checkpoint_encode(const struct checkpoint *cp, int64_t now_ms, struct buf *out, struct pt_error *e)
{
	enum pt_code rc;

	rc = buf_printf(out, "{\"version\":%d,\"saved_ms\":%lld,\"entries\":[", CHECKPOINT_VERSION,
			(long long)now_ms);
	for (size_t i = 0; !rc && i < cp->n; i++) {
		const struct checkpoint_entry *en = &cp->entries[i];

		if (!rc)
			rc = buf_puts(out, i ? ",\n{\"key\":" : "\n{\"key\":");
		if (!rc)
			rc = buf_put_json_str(out, en->key, strlen(en->key));
		if (!rc)
			rc = buf_puts(out, ",\"dir\":");
		if (!rc)
			rc = buf_put_json_str(out, en->dir, strlen(en->dir));
		if (!rc)
			rc = buf_puts(out, ",\"file\":");
		if (!rc)
			rc = buf_put_json_str(out, en->file, strlen(en->file));
		if (!rc)
			rc = put_value(out, "baseline", true, en->baseline);
		if (!rc)
			rc = put_value(out, "applied", en->has_applied, en->applied);
		if (!rc)
			rc = put_value(out, "intent", en->has_intent, en->intent);
		if (!rc)
			rc = buf_printf(out, ",\"updated_ms\":%lld}", (long long)en->updated_ms);
	}
	if (!rc)
		rc = buf_puts(out, "\n]}\n");
	if (!rc && out->len > CHECKPOINT_FILE_MAX)
		rc = PT_LIMIT;
	if (rc == PT_LIMIT)
		return pt_error_set(e, PT_LIMIT, "the checkpoint (%zu entries) does not fit in %u bytes", cp->n,
				    CHECKPOINT_FILE_MAX);
	if (rc)
		return pt_error_set(e, rc, "cannot encode the checkpoint: %s", pt_strerror(rc));
	return PT_OK;
}

/* ---- decoding ----------------------------------------------------------- */

/* "max" or 1..20 decimal digits without overflow. */
static bool value_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (strcmp(s, "max") == 0) {
		*out = CHECKPOINT_MAX_VALUE;
		return true;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* An exact integer a double can hold, for the *_ms fields. */
static bool ms_parse(const cJSON *v, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d)
		return false;
	*out = (int64_t)d;
	return true;
}

static enum pt_code bad_entry(struct pt_error *e, size_t i, const char *field, const char *why)
{
	return pt_error_set(e, PT_SYNTAX, "entry %zu: '%s' %s", i + 1, field, why);
}

/* An optional value field: absent or null means none. */
static enum pt_code opt_value(const cJSON *o, const char *name, size_t i, bool *has, uint64_t *v,
			      struct pt_error *e)
{
	const cJSON *f = json_get(o, name);

	*has = false;
	*v = 0;
	if (!f || cJSON_IsNull(f))
		return PT_OK;
	if (!cJSON_IsString(f) || !value_parse(f->valuestring, v))
		return bad_entry(e, i, name, "is not \"max\", a decimal string or null");
	*has = true;
	return PT_OK;
}

static enum pt_code decode_entry(const cJSON *o, size_t i, struct checkpoint_entry *en, struct pt_error *e)
{
	static const struct {
		const char *name;
		size_t max;
		size_t off;
	} strs[] = {
		{"key", CHECKPOINT_KEY_MAX, offsetof(struct checkpoint_entry, key)},
		{"dir", CHECKPOINT_DIR_MAX, offsetof(struct checkpoint_entry, dir)},
		{"file", CHECKPOINT_NAME_MAX, offsetof(struct checkpoint_entry, file)},
	};
	const char *base;
	enum pt_code rc;

	if (!cJSON_IsObject(o))
		return pt_error_set(e, PT_SYNTAX, "entry %zu is not an object", i + 1);
	memset(en, 0, sizeof *en);
	for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
		const char *s = json_get_str(o, strs[k].name);
		size_t n;

		if (!s)
			return bad_entry(e, i, strs[k].name, "is missing or not a string");
		n = strlen(s);
		if (n == 0 || n >= strs[k].max)
			return bad_entry(e, i, strs[k].name, "is empty or too long");
		memcpy((char *)en + strs[k].off, s, n + 1);
	}
	if (!name_ok(en->file))
		return bad_entry(e, i, "file", "has a character other than [a-z0-9._]");
	base = json_get_str(o, "baseline");
	if (!base || !value_parse(base, &en->baseline))
		return bad_entry(e, i, "baseline", "is not \"max\" or a decimal string");
	if ((rc = opt_value(o, "applied", i, &en->has_applied, &en->applied, e)) ||
	    (rc = opt_value(o, "intent", i, &en->has_intent, &en->intent, e)))
		return rc;
	if (!ms_parse(json_get(o, "updated_ms"), &en->updated_ms))
		return bad_entry(e, i, "updated_ms", "is not a whole number of milliseconds");
	return PT_OK;
}

enum pt_code checkpoint_decode(struct checkpoint *cp, const char *s, size_t len, struct pt_error *e)
{
	struct checkpoint out;
	struct arena *prev = json_use_arena(NULL);
	cJSON *root = NULL;
	const cJSON *v, *list, *item;
	enum pt_code rc = PT_OK;
	size_t i = 0;
	int64_t ms;

	checkpoint_init(&out);
	if (len > CHECKPOINT_FILE_MAX) {
		rc = pt_error_set(e, PT_LIMIT, "the checkpoint is larger than %u bytes", CHECKPOINT_FILE_MAX);
		goto out;
	}
	root = json_parse(s, len, e);
	if (!root) {
		rc = PT_SYNTAX;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		rc = pt_error_set(e, PT_SYNTAX, "the checkpoint is not a JSON object");
		goto out;
	}
	v = json_get(root, "version");
	if (!cJSON_IsNumber(v)) {
		rc = pt_error_set(e, PT_SYNTAX, "the checkpoint has no numeric 'version'");
		goto out;
	}
	if (v->valuedouble != CHECKPOINT_VERSION) {
		rc = pt_error_set(e, PT_UNSUPPORTED, "the checkpoint has version %g; this build reads version %d",
				  v->valuedouble, CHECKPOINT_VERSION);
		goto out;
	}
	if (!ms_parse(json_get(root, "saved_ms"), &ms)) {
		rc = pt_error_set(e, PT_SYNTAX, "the checkpoint has no whole-number 'saved_ms'");
		goto out;
	}
	list = json_get(root, "entries");
	if (!cJSON_IsArray(list)) {
		rc = pt_error_set(e, PT_SYNTAX, "the checkpoint has no 'entries' array");
		goto out;
	}
	cJSON_ArrayForEach(item, list) {
		struct checkpoint_entry en;

		if (i >= CHECKPOINT_ENTRIES_MAX) {
			rc = pt_error_set(e, PT_LIMIT, "the checkpoint has more than %d entries", CHECKPOINT_ENTRIES_MAX);
			goto out;
		}
		rc = decode_entry(item, i, &en, e);
		if (rc)
			goto out;
		if (checkpoint_find(&out, en.key, en.file)) {
			rc = pt_error_set(e, PT_SYNTAX, "entry %zu: ('%s', '%s') appears twice", i + 1, en.key,
					  en.file);
			goto out;
		}
		rc = grow(&out, out.n + 1, e);
		if (rc)
			goto out;
		append(&out, &en);
		i++;
	}
	checkpoint_release(cp);
	*cp = out;
	checkpoint_init(&out);
out:
	cJSON_Delete(root);
	json_use_arena(prev);
	checkpoint_release(&out);
	return rc;
}

/* ---- files -------------------------------------------------------------- */

enum pt_code checkpoint_save(const struct checkpoint *cp, const char *path, int64_t now_ms, struct pt_error *e)
{
	struct buf b;
	enum pt_code rc;

	if (!path || !*path)
		return pt_error_set(e, PT_INVALID, "empty checkpoint path");
	buf_init(&b, CHECKPOINT_FILE_MAX);
	/* A temporary file next to path, fsync'd, renamed over it, and the
	 * directory fsync'd: readers see the old or the new checkpoint, and
	 * the rename survives a power cut. */
	rc = checkpoint_encode(cp, now_ms, &b, e);
	if (!rc)
		rc = fileio_write_atomic(path, b.data, b.len, 0600, e);
	buf_release(&b);
	return rc;
}

enum pt_code checkpoint_load(struct checkpoint *cp, const char *path, struct pt_error *e)
{
	struct buf b;
	enum pt_code rc;

	if (!path || !*path)
		return pt_error_set(e, PT_INVALID, "empty checkpoint path");
	buf_init(&b, CHECKPOINT_FILE_MAX + 1);
	rc = fileio_read(path, CHECKPOINT_FILE_MAX, &b, e);
	if (rc == PT_NOTFOUND) {
		/* The first start: nothing was ever changed. */
		checkpoint_release(cp);
		rc = PT_OK;
	} else if (rc == PT_OK && (rc = checkpoint_decode(cp, b.data, b.len, e)) && e) {
		char msg[sizeof e->msg];

		snprintf(msg, sizeof msg, "%s", e->msg);
		pt_error_set(e, rc, "checkpoint '%s': %s", path, msg);
	}
	buf_release(&b);
	return rc;
}

enum pt_code checkpoint_quarantine(const char *path, int64_t now_s, char *moved, size_t len, struct pt_error *e)
{
	char to[PATH_MAX];
	int err = 0;

	if (!path || !*path)
		return pt_error_set(e, PT_INVALID, "empty checkpoint path");
	for (int n = 0; n < 100; n++) {
		int w = n ? snprintf(to, sizeof to, "%s.corrupt-%lld.%d", path, (long long)now_s, n)
			  : snprintf(to, sizeof to, "%s.corrupt-%lld", path, (long long)now_s);

		if (w < 0 || (size_t)w >= sizeof to)
			return pt_error_set(e, PT_LIMIT, "checkpoint path '%.80s...' is too long", path);
		/* link() fails with EEXIST instead of replacing: an older
		 * corrupt copy is never lost. */
		if (link(path, to) == 0) {
			if (unlink(path) != 0) {
				err = errno;
				unlink(to);
				return pt_error_sys(e, err, "cannot remove '%s'", path);
			}
			if (moved && len)
				snprintf(moved, len, "%s", to);
			return fileio_fsync_dir(path, e);
		}
		err = errno;
		if (err != EEXIST)
			return pt_error_sys(e, err, "cannot move '%s' to '%s'", path, to);
	}
	return pt_error_sys(e, err, "cannot move '%s' aside: 100 corrupt copies exist", path);
}
