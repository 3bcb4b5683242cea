/* SPDX-License-Identifier: Apache-2.0 */
/* YAML, read with libyaml into a small tree that remembers where every
 * node came from (line and column), so that policy errors can point to
 * file:line:col. This is the only file that includes <yaml.h>. */
#ifndef PT_YAML_H
#define PT_YAML_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

/* Named limits on one input. */
#define YAML_MAX_BYTES (4u << 20)  /* one file or buffer */
#define YAML_MAX_NODES 200000      /* after alias resolution */
#define YAML_MAX_DEPTH 64

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode;

struct ypair {
	struct ynode *key;
	struct ynode *value;
};

struct ynode {
	enum ynode_kind kind;
	int line; /* 1-based */
	int col;  /* 1-based */
	/* SCALAR: the text, NUL-terminated; plain is true for an unquoted,
	 * non-block scalar (only those are typed as null/bool/number). */
	const char *str;
	size_t len;
	bool plain;
	/* MAP: pairs in document order (keys are scalars). SEQ: items. */
	struct ypair *pairs;
	struct ynode **items;
	size_t n;
};

struct ydoc {
	struct ynode *root; /* NULL for an empty document */
	int line;           /* where the document starts */
};

struct ystream {
	struct arena arena; /* owns every node and string */
	const char *file;   /* label used in messages */
	struct ydoc *docs;
	size_t n_docs;
};

/* Parse a whole stream (all documents). file labels messages. On success
 * *out is yours to yaml_free. On failure returns PT_SYNTAX (with e's
 * file/line/col at the problem, message from libyaml), PT_LIMIT, or
 * PT_NOMEM, and *out is untouched. Duplicate mapping keys are PT_SYNTAX
 * ("duplicate key 'x'"). Aliases are resolved to the anchored node. */
enum pt_code yaml_parse(const char *file, const char *data, size_t len, struct ystream **out,
			struct pt_error *e) PT_WUR;

/* Read and parse a file (at most YAML_MAX_BYTES). */
enum pt_code yaml_parse_file(const char *path, struct ystream **out, struct pt_error *e) PT_WUR;

void yaml_free(struct ystream *s);

/* The value for key in a MAP node, or NULL. */
struct ynode *ynode_get(const struct ynode *map, const char *key);

/* Typing of plain scalars, YAML 1.2 core schema: null ("", "~", "null"),
 * bool ("true"/"false", any case as in Kubernetes' yaml), integers and
 * floats. Quoted scalars are always strings. */
bool ynode_is_null(const struct ynode *n);
bool ynode_bool(const struct ynode *n, bool *out);
bool ynode_int(const struct ynode *n, long long *out);
bool ynode_double(const struct ynode *n, double *out);

/* Convert to cJSON with the typing above (the way kubectl reads YAML).
 * Returns NULL and fills e (with position) on an unrepresentable node
 * (a non-scalar key) or PT_NOMEM. The result is allocated with cJSON's
 * hooks (see core/json.h). */
cJSON *yaml_to_json(const struct ynode *n, struct pt_error *e);

#endif
