/* SPDX-License-Identifier: Apache-2.0 */
/* An RFC 6902 JSON Patch writer that streams operations into a buffer.
 * Errors are sticky (the first one is kept and later calls do nothing), so
 * a builder can emit many operations and check once at patch_end.
 *
 *   patch_begin(&p, out);
 *   patch_op(&p, "add", &path);    then the value through patch_json_* calls
 *   patch_op_end(&p);
 *   rc = patch_end(&p);
 */
#ifndef PT_PATCH_H
#define PT_PATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

#define PATCH_PATH_MAX 1024

/* A JSON Pointer (RFC 6901) under construction. */
struct patch_path {
	char s[PATCH_PATH_MAX];
	size_t len;
	bool overflow;
};

/* Start a path with an already-escaped prefix ("" or "/spec/template"). */
void patch_path_init(struct patch_path *pp, const char *prefix);

/* Append "/<key>" with '~' -> "~0" and '/' -> "~1", as RFC 6901 requires. */
void patch_path_key(struct patch_path *pp, const char *key);

/* Append "/<index>". */
void patch_path_index(struct patch_path *pp, size_t index);

struct patch {
	struct buf *out; /* borrowed */
	size_t start;    /* out->len at patch_begin, restored on failure */
	size_t n_ops;
	bool in_op;
	enum pt_code err;
};

/* Start an array of operations at the end of out. */
void patch_begin(struct patch *p, struct buf *out);

/* Open an operation ("add", "replace", "remove", "test") at path. For ops
 * that carry a value, write it next with the patch_json_* calls; then
 * close with patch_op_end. */
void patch_op(struct patch *p, const char *op, const struct patch_path *path);
void patch_op_end(struct patch *p);

/* Value writers, appended verbatim after `"value":`, or inside a value. */
void patch_json_raw(struct patch *p, const char *json);
void patch_json_str(struct patch *p, const char *s);

/* Close the array. Returns the first error; on error out is cut back to its
 * length at patch_begin. */
enum pt_code patch_end(struct patch *p) PT_WUR;

/* Apply a JSON Patch (len bytes of JSON text) to doc in place, with the
 * semantics of evanphx/json-patch for add, remove, replace and test (an
 * add under a missing parent, or a remove of a missing path, fails). For
 * the CLI's offline preview; the tests check patches with an independent
 * implementation. On failure doc may be partly patched: apply to a copy
 * if that matters. */
enum pt_code patch_apply(cJSON *doc, const char *patch, size_t len, struct pt_error *e) PT_WUR;

#endif
