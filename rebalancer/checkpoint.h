/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's durable state: for each (container, cgroup file) the
 * baseline found before the agent's first write, the last value written and
 * verified, and the value about to be written (the intent). The intent is
 * saved BEFORE each cgroup write, so after a crash the agent knows which
 * writes may or may not have happened, and --restore can put every baseline
 * back. Saved as versioned JSON, atomically (temp file, fsync, rename,
 * fsync of the directory); a bad file is reported, never guessed at. */
#ifndef PT_CHECKPOINT_H
#define PT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"

#define CHECKPOINT_VERSION 1

/* Limits on what a checkpoint holds and what a load accepts. */
#define CHECKPOINT_FILE_MAX (4u << 20) /* bytes of the file */
#define CHECKPOINT_ENTRIES_MAX 8192    /* ~250 containers x 2 files, with room */
#define CHECKPOINT_KEY_MAX 256         /* a container key, NUL included */
#define CHECKPOINT_DIR_MAX 512         /* a cgroup directory, NUL included */
#define CHECKPOINT_NAME_MAX 32         /* a cgroup file name, NUL included */

/* "max" (memory.high unlimited), as cgroup.h's CGROUP_UNLIMITED. Values
 * are stored as JSON strings ("max" or decimal digits), because a JSON
 * number is a double and loses bytes above 2^53. */
#define CHECKPOINT_MAX_VALUE UINT64_MAX

struct checkpoint_entry {
	char key[CHECKPOINT_KEY_MAX];   /* the caller's container key, e.g. "<pod uid>/<container>" */
	char dir[CHECKPOINT_DIR_MAX];   /* the container's cgroup directory */
	char file[CHECKPOINT_NAME_MAX]; /* "cpu.weight", "memory.high": [a-z0-9._] */
	uint64_t baseline;              /* the value before the agent touched it */
	bool has_applied;
	uint64_t applied; /* the last value written and read back */
	bool has_intent;
	uint64_t intent;    /* written to disk before the cgroup write */
	int64_t updated_ms; /* unix ms of the last change to this entry */
};

/* Entries in insertion order. Read cp->entries[0 .. cp->n) freely (that is
 * how --restore iterates); change them only through the functions below.
 * Pointers into entries are valid until the next checkpoint_track,
 * checkpoint_remove, checkpoint_load, checkpoint_decode or
 * checkpoint_release. Lookups go through a hash index of (key, file): the
 * agent consults the checkpoint for every container on every tick. */
struct checkpoint {
	struct checkpoint_entry *entries;
	size_t n;
	size_t cap;
	uint32_t *index;  /* private: open addressing, entry index + 1, 0 empty */
	size_t index_cap; /* a power of two, at least 2 x cap; 0 before the first entry */
};

/* An empty checkpoint; allocates nothing. */
void checkpoint_init(struct checkpoint *cp);

/* Free the entries; cp is empty and usable again. */
void checkpoint_release(struct checkpoint *cp);

/* The entry for (key, file), or NULL. */
struct checkpoint_entry *checkpoint_find(const struct checkpoint *cp, const char *key, const char *file);

/* The entry for (key, file), created with this baseline when it is new (a
 * baseline is taken once, from the cgroup file when the container is first
 * seen); an existing entry is returned unchanged. *out (if not NULL) gets
 * it. PT_INVALID for an empty or over-long key, dir or file, or a file
 * name outside [a-z0-9._]; PT_LIMIT beyond CHECKPOINT_ENTRIES_MAX;
 * PT_NOMEM. cp is unchanged on failure. */
enum pt_code checkpoint_track(struct checkpoint *cp, const char *key, const char *dir, const char *file,
			      uint64_t baseline, int64_t now_ms, struct checkpoint_entry **out,
			      struct pt_error *e) PT_WUR;

/* The life of one write, in order: checkpoint_intent, checkpoint_save,
 * the cgroup write, then checkpoint_applied (verified) or
 * checkpoint_abandon (the write failed and the file is as it was). Values
 * are exactly what is written: round memory.high to pages first. */
void checkpoint_intent(struct checkpoint_entry *en, uint64_t value, int64_t now_ms);
void checkpoint_applied(struct checkpoint_entry *en, uint64_t value, int64_t now_ms);
void checkpoint_abandon(struct checkpoint_entry *en, int64_t now_ms);

/* Someone else changed the file (an in-place resize, an operator): their
 * value becomes the baseline; applied and intent are dropped. */
void checkpoint_adopt(struct checkpoint_entry *en, uint64_t value, int64_t now_ms);

enum checkpoint_outcome {
	CHECKPOINT_CONSISTENT,  /* no intent, and the file holds what we expect */
	CHECKPOINT_APPLIED,     /* the pending write happened: now applied */
	CHECKPOINT_NOT_APPLIED, /* the pending write did not happen: intent dropped */
	CHECKPOINT_FOREIGN,     /* the file holds a value we never wrote: adopted */
};

/* Match an entry against the value the cgroup file holds now (after a
 * restart, or on any re-read): with an intent, current == intent means the
 * write happened and current == the expected value (applied, else
 * baseline) that it did not; anything else, with or without an intent, is
 * someone else's value and is adopted. Updates en accordingly. Pure. */
enum checkpoint_outcome checkpoint_reconcile(struct checkpoint_entry *en, uint64_t current, int64_t now_ms);

/* Remove (key, file), or every entry of key when file is NULL (the
 * container is gone, or --restore put it back). Returns how many went. */
size_t checkpoint_remove(struct checkpoint *cp, const char *key, const char *file);

/* Append cp as JSON to out (one entry per line):
 *   {"version":1,"saved_ms":N,"entries":[
 *   {"key":"..","dir":"..","file":"cpu.weight","baseline":"100","applied":"150","intent":null,"updated_ms":N}
 *   ]}
 * PT_LIMIT when out's cap (or CHECKPOINT_FILE_MAX) is reached, out then
 * holding a partial document. */
enum pt_code checkpoint_encode(const struct checkpoint *cp, int64_t now_ms, struct buf *out,
			       struct pt_error *e) PT_WUR;

/* Parse len bytes produced by checkpoint_encode into cp, replacing its
 * entries. Everything is checked: the version (another one is
 * PT_UNSUPPORTED), every field's type and limit, the values, duplicate
 * (key, file) pairs (PT_SYNTAX naming the entry and field), the entry
 * count (PT_LIMIT). cp is untouched on failure. */
enum pt_code checkpoint_decode(struct checkpoint *cp, const char *s, size_t len, struct pt_error *e) PT_WUR;

/* Write cp to path atomically: a temp file in the same directory, fsync,
 * rename over path, fsync of the directory. A crash leaves the old file or
 * the new one, never a mix. On failure the temp file is removed and path
 * is as it was. */
enum pt_code checkpoint_save(const struct checkpoint *cp, const char *path, int64_t now_ms,
			     struct pt_error *e) PT_WUR;

/* Read path into cp. A missing file is an empty state (PT_OK: the first
 * start). Unreadable, too large (PT_LIMIT), corrupt or truncated
 * (PT_SYNTAX), or of another version (PT_UNSUPPORTED): the message names
 * the path and the cause, cp is untouched, and the caller decides, e.g.
 * checkpoint_quarantine and start empty, or refuse to --restore. */
enum pt_code checkpoint_load(struct checkpoint *cp, const char *path, struct pt_error *e) PT_WUR;

/* Move a bad checkpoint aside as "<path>.corrupt-<now_s>" (".<n>" added if
 * that exists: nothing is overwritten), keeping it for inspection. The new
 * name goes to moved (len bytes) if not NULL. */
enum pt_code checkpoint_quarantine(const char *path, int64_t now_s, char *moved, size_t len,
				   struct pt_error *e) PT_WUR;

#endif
