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

/* How a scalar was written. A quoted scalar's text starts one column
 * after the node's col. */
enum ynode_style { YSTYLE_PLAIN, YSTYLE_SINGLE, YSTYLE_DOUBLE, YSTYLE_LITERAL, YSTYLE_FOLDED };

struct ynode;

struct ypair {
	struct ynode *key;
	struct ynode *value;
};

struct ynode {
	enum ynode_kind kind;
	int line;     /* 1-based */
	int col;      /* 1-based, in characters */
	int end_line; /* where the node ends (a multi-line scalar ends later) */
	/* SCALAR: the text, NUL-terminated (len excludes the NUL; the text
	 * may hold a NUL written as "\0"). plain is true for an untagged
	 * plain scalar, or one tagged !!bool/!!int/!!float/!!null: only those
	 * are typed as null/bool/number; everything else is a string. */
	const char *str;
	size_t len;
	bool plain;
	enum ynode_style style;
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
 * *out is yours to yaml_stream_free. On failure returns PT_SYNTAX (with e's
 * file/line/col at the problem, message from libyaml), PT_LIMIT, or
 * PT_NOMEM, and *out is untouched. Duplicate mapping keys are PT_SYNTAX
 * ("duplicate key 'x'"), compared by their text; mapping keys must be
 * scalars. Aliases are resolved to the anchored node (shared, not copied):
 * the limits count nodes and depth as if every alias were expanded.
 * Merge keys ("<<: *base") are applied as go-yaml v2 applies them: in
 * document order, each assignment overriding earlier ones, earlier maps
 * of a merged sequence winning. Tags other than the core schema's are
 * PT_SYNTAX. A document with no content has root NULL. */
enum pt_code yaml_parse(const char *file, const char *data, size_t len, struct ystream **out,
			struct pt_error *e) PT_WUR;

/* Read and parse a file (at most YAML_MAX_BYTES). */
enum pt_code yaml_parse_file(const char *path, struct ystream **out, struct pt_error *e) PT_WUR;

/* Free a stream and every node in it. NULL is a no-op. (Not "yaml_free":
 * libyaml exports a function of that name, which ours would replace.) */
void yaml_stream_free(struct ystream *s);

/* The value for key in a MAP node, or NULL. */
struct ynode *ynode_get(const struct ynode *map, const char *key);

/* Typing of plain scalars, exactly as go-yaml v2 resolves them, because
 * kubectl and the apiserver convert YAML with sigs.k8s.io/yaml, which uses
 * it (YAML 1.1 flavour):
 *   null:  "" ~ null Null NULL
 *   bool:  true True TRUE false False FALSE yes Yes YES no No NO
 *          on On ON off Off OFF y Y n N
 *   int:   decimal, 0x hex, 0o or leading-0 octal, 0b binary, optional
 *          sign, '_' ignored ("1_000")
 *   float: [-+]?(.d+|d+(.d*)?)([eE][-+]?d+)?, .inf -.inf .nan (any of
 *          the three cases as above)
 * Anything else, and every quoted or block scalar, is a string. Timestamps
 * stay strings, as go-yaml v2 keeps them when decoding into interface{}.
 * Each function returns false, leaving *out alone, if n is not a scalar
 * of that type; ynode_double also takes integers; ynode_is_null(NULL) is
 * true (an absent value reads as null). */
bool ynode_is_null(const struct ynode *n);
bool ynode_bool(const struct ynode *n, bool *out);
bool ynode_int(const struct ynode *n, long long *out);
bool ynode_double(const struct ynode *n, double *out);

/* Convert to cJSON with the typing above (the way kubectl reads YAML):
 * keys become strings ("true", "16" for 0x10); integers become numbers
 * (exact up to 2^53, as cJSON keeps doubles). Returns NULL and fills e
 * (with position) for what JSON cannot hold (a null key, .inf/.nan, a NUL
 * in a string, two keys that convert to the same string), PT_LIMIT past
 * YAML_MAX_NODES (aliases expanded), or PT_NOMEM. n NULL converts to JSON
 * null. The result is allocated with cJSON's hooks (see core/json.h). */
cJSON *yaml_to_json(const struct ynode *n, struct pt_error *e);

#endif
