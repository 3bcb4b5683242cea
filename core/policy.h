/* SPDX-License-Identifier: Apache-2.0 */
/* The policy language: TuningPolicy documents (apiVersion
 * podtuner.io/v1alpha1), loaded strictly from YAML into an immutable set.
 * A typo must never silently do nothing, so unknown fields, wrong types,
 * bad globs, durations, ratios and expressions, and duplicate names are all
 * errors, each reported at file:line:col. docs/policy.md is the reference.
 *
 * A set is immutable once loaded: a reload builds a new set and swaps one
 * pointer; readers keep the set they started with (see policy_set_ref). */
#ifndef PT_POLICY_H
#define PT_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "promql.h"
#include "rlimit.h"

#define POLICY_API_VERSION "podtuner.io/v1alpha1"
#define POLICY_KIND "TuningPolicy"
#define POLICY_MAX_FILES 256
#define POLICY_MAX_POLICIES 1024
#define POLICY_MAX_DIAGS 100 /* further errors are counted, not kept */

enum policy_runtime { POLICY_RT_ANY, POLICY_RT_GO, POLICY_RT_JAVA, POLICY_RT_WASM };

/* How a CPU limit becomes a processor count. UNSET leaves the variable or
 * flag alone (for Go >= 1.25, which sizes GOMAXPROCS from the cgroup quota
 * itself unless GOMAXPROCS is set). */
enum policy_round { POLICY_ROUND_FLOOR, POLICY_ROUND_CEIL, POLICY_ROUND_UNSET };

enum policy_grant { POLICY_GRANT_CPU, POLICY_GRANT_MEMORY };

struct policy_strlist {
	char **v;
	size_t n;
};

struct policy_label {
	char *key;   /* exact label key */
	char *value; /* glob */
};

/* Every non-empty field must match; empty means "any". */
struct policy_match {
	struct policy_strlist namespaces;         /* globs; empty = all */
	struct policy_strlist exclude_namespaces; /* globs */
	struct policy_label *pod_labels;
	size_t n_pod_labels;
	struct policy_strlist containers;          /* globs on container names */
	struct policy_strlist images;              /* globs on images */
	struct policy_strlist runtime_class_names; /* globs */
};

struct policy_go {
	bool present;
	enum policy_round gomaxprocs; /* default FLOOR */
	int gomaxprocs_min;           /* default 1 */
	int gomaxprocs_max;           /* 0: no maximum */
	bool gomemlimit;              /* default true */
	uint32_t gomemlimit_ratio_ppm; /* default 900000 (0.9), in (0, 1e6] */
	char *gogc;                   /* NULL: leave GOGC alone; "off" or digits */
};

struct policy_java {
	bool present;
	enum policy_round active_processor_count; /* default CEIL */
	uint32_t max_ram_pct_milli;     /* 75.0% -> 75000; 0: leave alone */
	uint32_t initial_ram_pct_milli; /* 0: leave alone */
	struct policy_strlist options;  /* extra flags, e.g. -XX:+ExitOnOutOfMemoryError */
};

struct policy_env {
	char *name;
	char *value;
};

struct policy_tune {
	struct policy_go go;
	struct policy_java java;
	struct policy_env *env;
	size_t n_env;
	struct rlimit_spec *rlimits;
	char **rlimit_src; /* the spec as written, per rlimit ("65536:1048576") */
	size_t n_rlimits;
	bool override; /* replace values that the user set */
};

struct policy_trigger {
	char *name;
	struct promql_expr *expr;
	uint64_t for_ms;
	enum policy_grant grant;
	int line, col; /* of expr, for messages at run time */
};

struct policy_rebalance {
	bool present;
	char *pool;
	double cpu_min_factor;  /* default 0.5, in (0, 1] */
	double cpu_max_factor;  /* default 4, in [1, 100] */
	double cpu_step;        /* default 0.5: the most a weight moves per change, x baseline */
	uint32_t mem_throttling_ppm; /* KEP-2570 factor, default 900000 */
	int64_t mem_headroom;   /* bytes kept above memory.current, default 64 MiB */
	double mem_step;        /* default 0.25: fraction of (max - high) per widening */
	uint16_t scrape_port;   /* 0: from prometheus.io/port */
	char *scrape_path;      /* NULL: from prometheus.io/path, else /metrics */
	uint64_t scrape_timeout_ms; /* default 500 */
	uint64_t scrape_interval_ms; /* 0 (default): every tick of the agent */
	struct policy_trigger *triggers;
	size_t n_triggers;
	uint64_t cooldown_ms; /* default 30 s */
	uint64_t decay_ms;    /* default 2 min */
};

struct policy {
	char *name;
	char *file;
	int line; /* of the document */
	int priority;
	enum policy_runtime runtime;
	struct policy_match match;
	struct policy_tune tune;
	struct policy_rebalance rebalance;
};

struct policy_set {
	struct policy *v; /* sorted: priority descending, then name ascending */
	size_t n;
	uint64_t hash;          /* FNV-1a over file names and contents */
	uint64_t max_window_ms; /* the longest range + for: of any trigger */
	atomic_int refs;
	void *mem;              /* private: the loader's allocations */
};

/* Where policies come from: a file or directory (data == NULL), or an
 * in-memory buffer labelled path (data != NULL). Directories contribute
 * their *.yaml and *.yml files in name order, skipping names that start
 * with '.' (a ConfigMap volume's ..data and timestamped dirs). */
struct policy_source {
	const char *path;
	const char *data;
	size_t len;
};

/* All the errors one load found, each with file:line:col. */
struct policy_diags {
	struct pt_error *v;
	size_t n;
	size_t dropped; /* beyond POLICY_MAX_DIAGS */
};

/* Load and validate every source into one set. On success *out holds one
 * reference that is yours (policy_set_unref). If any error is found,
 * returns PT_INVALID (or PT_NOMEM / PT_IO when memory ran out or a source
 * could not be read), appends every error to diags (which may be NULL),
 * in file order and, within a file, line order, and leaves *out untouched.
 * diags must be zeroed or filled by an earlier load; release it with
 * policy_diags_release. An empty set (no documents) is valid. */
enum pt_code policy_set_load(const struct policy_source *src, size_t n_src, struct policy_set **out,
			     struct policy_diags *diags) PT_WUR;

/* The set compiled into the binary from policies/ (core/embedded.h). */
enum pt_code policy_set_load_embedded(struct policy_set **out, struct policy_diags *diags) PT_WUR;

/* Take and drop references. The set is freed when the last one goes;
 * unref(NULL) is a no-op. */
struct policy_set *policy_set_ref(struct policy_set *s);
void policy_set_unref(struct policy_set *s);

void policy_diags_release(struct policy_diags *d);

/* "go", "java", "wasm", "any" and back. parse returns false if unknown. */
const char *policy_runtime_name(enum policy_runtime rt);
bool policy_runtime_parse(const char *s, enum policy_runtime *out);

#endif
