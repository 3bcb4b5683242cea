/* SPDX-License-Identifier: Apache-2.0 */
/* The policy loader: YAML documents -> validated, immutable policy sets.
 * Every error in every file is collected with its file:line:col before the
 * load fails; a set is only built when there are none. Everything a set
 * holds lives in one arena (plus the parsed trigger expressions), freed
 * when the last reference goes. */
#include "policy.h"

#include "fileio.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "arena.h"
#include "duration.h"
#include "embedded.h"
#include "glob.h"
#include "quantity.h"
#include "yaml.h"

/* Named limits on what one policy may hold, beyond the YAML limits. */
#define POLICY_MAX_TRIGGERS 32
#define POLICY_MAX_DURATION_MS (24ULL * 3600 * 1000)
#define POLICY_MAX_HEADROOM (1LL << 40) /* 1 TiB */
#define POLICY_MAX_PATH_LEN 1024        /* scrape.path */
#define POLICY_MAX_SCRAPE_INTERVAL_MS (10ULL * 60 * 1000)
#define POLICY_ARENA_CHUNK (64u << 10)
#define POLICY_MAX_ARENA (256u << 20)
#define MAX_DIR_ENTRIES 4096 /* entries looked at in one directory */

struct policy_mem {
	struct arena arena;
	struct promql_expr **exprs;
	size_t n_exprs, cap_exprs;
};

struct name_pos {
	int line, col; /* of metadata.name */
};

struct loader {
	struct policy_mem *mem;
	struct policy_diags *diags;
	size_t n_errors;
	bool nomem, io;
	struct policy *v; /* every policy seen, good or not */
	struct name_pos *pos;
	size_t n, cap;
	uint64_t hash;
	size_t n_files;
	bool too_many;
};

/* One document being read. */
struct doc {
	struct loader *L;
	const char *file;
	int line;
};

enum got { GOT_NONE, GOT_OK, GOT_BAD };

/* ---- diagnostics ---- */

static void diag_add(struct loader *L, enum pt_code code, const char *file, int line, int col, const char *msg)
{
	struct pt_error *e;

	L->n_errors++;
	if (code == PT_NOMEM)
		L->nomem = true;
	if (!L->diags)
		return;
	if (L->diags->n >= POLICY_MAX_DIAGS) {
		L->diags->dropped++;
		return;
	}
	/* Only this module allocates v, always with room for them all. */
	if (!L->diags->v) {
		L->diags->v = calloc(POLICY_MAX_DIAGS, sizeof *L->diags->v);
		if (!L->diags->v) {
			L->nomem = true;
			L->diags->dropped++;
			return;
		}
	}
	e = &L->diags->v[L->diags->n++];
	memset(e, 0, sizeof *e);
	e->code = code;
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	pt_error_at(e, file, line, col);
}

static void diag_err(struct loader *L, const struct pt_error *e)
{
	diag_add(L, e->code, e->file, e->line, e->col, e->msg[0] ? e->msg : pt_strerror(e->code));
}

static void verr(struct doc *d, const struct ynode *at, const char *fmt, ...) PT_PRINTF(3, 4);
static void verr_at(struct doc *d, int line, int col, const char *fmt, ...) PT_PRINTF(4, 5);

static void verr_at(struct doc *d, int line, int col, const char *fmt, ...)
{
	char msg[sizeof ((struct pt_error *)0)->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_add(d->L, PT_INVALID, d->file, line, col, msg);
}

/* An error in the document, at a node (or at the document's start). */
static void verr(struct doc *d, const struct ynode *at, const char *fmt, ...)
{
	char msg[sizeof ((struct pt_error *)0)->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at)
		diag_add(d->L, PT_INVALID, d->file, at->line, at->col, msg);
	else
		diag_add(d->L, PT_INVALID, d->file, d->line, 1, msg);
}

static void nomem(struct doc *d)
{
	diag_add(d->L, PT_NOMEM, d->file, 0, 0, "out of memory loading policies");
}

/* ---- small helpers ---- */

static const char *kind_name(const struct ynode *n)
{
	return n->kind == YNODE_MAP ? "mapping" : n->kind == YNODE_SEQ ? "list" : "scalar";
}

/* How a value was written, for "..., not <value>". */
static const char *shown(const struct ynode *n, char *buf, size_t size)
{
	char t[72];

	if (n->kind != YNODE_SCALAR)
		snprintf(buf, size, "a %s", kind_name(n));
	else
		snprintf(buf, size, "'%s'", text_quote(n->str, n->len, 60, t, sizeof t));
	return buf;
}

static const char *path_key(char *buf, size_t size, const char *path, const char *key)
{
	snprintf(buf, size, "%s%s%s", path, path[0] ? "." : "", key);
	return buf;
}

static const char *path_index(char *buf, size_t size, const char *path, size_t i)
{
	snprintf(buf, size, "%s[%zu]", path, i);
	return buf;
}

static char *mem_strdup(struct doc *d, const char *s)
{
	char *p = arena_strndup(&d->L->mem->arena, s, strlen(s));

	if (!p)
		nomem(d);
	return p;
}

static void *mem_alloc(struct doc *d, size_t n)
{
	void *p = arena_alloc(&d->L->mem->arena, n ? n : 1);

	if (!p)
		nomem(d);
	else
		memset(p, 0, n ? n : 1);
	return p;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool is_dns_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* DNS-1123 subdomain: dot-separated labels, at most 253 in all
 * (k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain). */
static bool is_dns_subdomain(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!is_dns_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* A label key: [prefix/]name, name ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
 * of at most 63, prefix a DNS-1123 subdomain (IsQualifiedName). */
static bool is_label_key(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	const char *name = slash ? slash + 1 : s;
	size_t n = len - (size_t)(name - s);

	if (slash && !is_dns_subdomain(s, (size_t)(slash - s)))
		return false;
	if (n == 0 || n > 63 || !is_alnum(name[0]) || !is_alnum(name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

/* An env var name as every apiserver version accepts it: the classic
 * IsEnvVarName ([-._a-zA-Z][-._a-zA-Z0-9]*, not '.', '..' or '..*').
 * Kubernetes 1.34 relaxed this to printable ASCII but '=' (KEP-4369);
 * older clusters would reject the patch. */
static const char *env_name_problem(const char *s, size_t len)
{
	if (len == 0)
		return "must not be empty";
	if (s[0] >= '0' && s[0] <= '9')
		return "must not start with a digit";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return "must consist of letters, digits, '_', '-' or '.'";
	if (len >= 2 && s[0] == '.' && s[1] == '.')
		return "must not start with '..'";
	if (len == 1 && s[0] == '.')
		return "must not be '.'";
	return NULL;
}

/* ---- unknown fields, with a suggestion ---- */

/* Fields of a child block that people put one level too high. */
struct hint {
	const char *child;
	const char *const *keys;
};

static const char *const match_keys[] = {"namespaces", "excludeNamespaces", "podLabels", "containers",
					 "images", "runtimeClassNames", NULL};
static const char *const go_keys[] = {"gomaxprocs", "gomaxprocsMin", "gomaxprocsMax", "gomemlimit",
				      "gomemlimitRatio", "gogc", NULL};
static const char *const java_keys[] = {"activeProcessorCount", "maxRAMPercentage", "initialRAMPercentage",
					"options", NULL};
static const char *const tune_keys[] = {"go", "java", "env", "rlimits", "override", NULL};
static const char *const cpu_keys[] = {"minFactor", "maxFactor", "step", NULL};
static const char *const memory_keys[] = {"throttlingFactor", "headroom", "step", NULL};
static const char *const scrape_keys[] = {"port", "path", "timeout", "interval", NULL};
static const char *const rebalance_keys[] = {"pool", "cpu", "memory", "scrape", "triggers", "cooldown", "decay", NULL};
static const char *const spec_keys[] = {"priority", "runtime", "match", "tune", "rebalance", NULL};
static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
static const char *const meta_keys[] = {"name", "labels", "annotations", NULL};
static const char *const env_keys[] = {"name", "value", NULL};
static const char *const trigger_keys[] = {"name", "expr", "for", "grant", NULL};

static const struct hint spec_hints[] = {{"match", match_keys}, {"tune", tune_keys}, {"rebalance", rebalance_keys},
					 {NULL, NULL}};
static const struct hint tune_hints[] = {{"go", go_keys}, {"java", java_keys}, {NULL, NULL}};
static const struct hint rebalance_hints[] = {{"cpu", cpu_keys}, {"memory", memory_keys}, {"scrape", scrape_keys},
					      {NULL, NULL}};

static void check_keys(struct doc *d, const struct ynode *map, const char *path, const char *const *known,
		       const struct hint *hints)
{
	char kb[80], sug[96];

	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;
		size_t best = SIZE_MAX;
		const char *guess = NULL;
		bool found = false;

		for (const char *const *p = known; *p; p++) {
			size_t l = strlen(*p), dist;

			if (l == k->len && memcmp(*p, k->str, l) == 0) {
				found = true;
				break;
			}
			if (l == k->len && strncasecmp(*p, k->str, l) == 0 && memchr(k->str, '\0', l) == NULL) {
				dist = 0;
			} else {
				dist = text_edit_distance(k->str, k->len, *p, l);
				/* A likely typo: one or two edits, and
				 * fewer than a third of the word. */
				if (dist > 2 || dist * 3 > l)
					dist = SIZE_MAX;
			}
			if (dist < best) {
				best = dist;
				guess = *p;
			}
		}
		if (found)
			continue;
		sug[0] = '\0';
		if (guess) {
			snprintf(sug, sizeof sug, " (did you mean '%s'?)", guess);
		} else {
			for (const struct hint *h = hints; h && h->child && !sug[0]; h++)
				for (const char *const *p = h->keys; *p; p++)
					if (strlen(*p) == k->len && memcmp(*p, k->str, k->len) == 0) {
						snprintf(sug, sizeof sug, " (did you mean '%s.%s'?)", h->child, *p);
						break;
					}
		}
		if (path[0])
			verr(d, k, "unknown field '%s' in '%s'%s", text_quote(k->str, k->len, 60, kb, 64), path, sug);
		else
			verr(d, k, "unknown field '%s'%s", text_quote(k->str, k->len, 60, kb, 64), sug);
	}
}

/* ---- typed getters: GOT_NONE for absent or null, GOT_BAD reported ---- */

static enum got get_map(struct doc *d, const struct ynode *n, const char *path)
{
	if (ynode_is_null(n))
		return GOT_NONE;
	if (n->kind != YNODE_MAP) {
		char vb[80];

		verr(d, n, "'%s' must be a mapping, not %s", path, shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	return GOT_OK;
}

static enum got get_seq(struct doc *d, const struct ynode *n, const char *path)
{
	if (ynode_is_null(n))
		return GOT_NONE;
	if (n->kind != YNODE_SEQ) {
		char vb[80];

		verr(d, n, "'%s' must be a list, not %s", path, shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	return GOT_OK;
}

/* Any scalar, as its text (a number or bool as written). */
static enum got get_text(struct doc *d, const struct ynode *n, const char *path, const char **out)
{
	if (ynode_is_null(n))
		return GOT_NONE;
	if (n->kind != YNODE_SCALAR) {
		verr(d, n, "'%s' must be a string, not a %s", path, kind_name(n));
		return GOT_BAD;
	}
	if (memchr(n->str, '\0', n->len)) {
		verr(d, n, "'%s' must not contain a NUL byte", path);
		return GOT_BAD;
	}
	*out = n->str;
	return GOT_OK;
}

static enum got get_bool(struct doc *d, const struct ynode *n, const char *path, bool *out)
{
	char vb[80];

	if (ynode_is_null(n))
		return GOT_NONE;
	if (!ynode_bool(n, out)) {
		verr(d, n, "'%s' must be true or false, not %s", path, shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	return GOT_OK;
}

static enum got get_int(struct doc *d, const struct ynode *n, const char *path, long long lo, long long hi,
			long long *out)
{
	char vb[80];
	long long v;

	if (ynode_is_null(n))
		return GOT_NONE;
	if (!ynode_int(n, &v)) {
		verr(d, n, "'%s' must be an integer, not %s", path, shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	if (v < lo || v > hi) {
		verr(d, n, "'%s' must be in [%lld, %lld], not %lld", path, lo, hi, v);
		return GOT_BAD;
	}
	*out = v;
	return GOT_OK;
}

/* A number in an interval; lo_open/hi_open make it open at that end. */
static enum got get_num(struct doc *d, const struct ynode *n, const char *path, double lo, bool lo_open,
			double hi, bool hi_open, double *out)
{
	char vb[80];
	double v;

	if (ynode_is_null(n))
		return GOT_NONE;
	if (!ynode_double(n, &v) || isnan(v)) {
		verr(d, n, "'%s' must be a number, not %s", path, shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	if ((lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
		verr(d, n, "'%s' must be in %c%g, %g%c, not %s", path, lo_open ? '(' : '[', lo, hi,
		     hi_open ? ')' : ']', shown(n, vb, sizeof vb));
		return GOT_BAD;
	}
	*out = v;
	return GOT_OK;
}

/* One of a fixed set of words; *out is its index. */
static enum got get_enum(struct doc *d, const struct ynode *n, const char *path, const char *const *words, int *out)
{
	const char *s;
	char list[128] = "", vb[80];
	enum got g = get_text(d, n, path, &s);

	if (g != GOT_OK)
		return g;
	for (int i = 0; words[i]; i++) {
		if (strcmp(words[i], s) == 0) {
			*out = i;
			return GOT_OK;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
	}
	verr(d, n, "'%s' must be one of %s, not %s", path, list, shown(n, vb, sizeof vb));
	return GOT_BAD;
}

static enum got get_duration(struct doc *d, const struct ynode *n, const char *path, uint64_t max, uint64_t *out)
{
	struct pt_error e = {0};
	const char *s;
	char db[32];
	uint64_t ms;
	enum got g = get_text(d, n, path, &s);

	if (g != GOT_OK)
		return g;
	if (duration_parse(s, n->len, &ms, &e) != PT_OK) {
		verr(d, n, "'%s': %s", path, e.msg);
		return GOT_BAD;
	}
	if (ms > max) {
		verr(d, n, "'%s' must be at most %s, not '%s'", path, duration_format(max, db, sizeof db), s);
		return GOT_BAD;
	}
	*out = ms;
	return GOT_OK;
}

/* A fraction in (0, 1], kept in parts per million. */
static enum got get_ppm(struct doc *d, const struct ynode *n, const char *path, uint32_t *out)
{
	double v;
	enum got g = get_num(d, n, path, 0, true, 1, false, &v);

	if (g != GOT_OK)
		return g;
	if (lround(v * 1e6) < 1) {
		verr(d, n, "'%s' must be at least 0.000001", path);
		return GOT_BAD;
	}
	*out = (uint32_t)lround(v * 1e6);
	return GOT_OK;
}

/* A percentage in (0, 100], kept in thousandths. */
static enum got get_pct(struct doc *d, const struct ynode *n, const char *path, uint32_t *out)
{
	double v;
	enum got g = get_num(d, n, path, 0, true, 100, false, &v);

	if (g != GOT_OK)
		return g;
	if (lround(v * 1000) < 1) {
		verr(d, n, "'%s' must be at least 0.001", path);
		return GOT_BAD;
	}
	*out = (uint32_t)lround(v * 1000);
	return GOT_OK;
}

/* A list of strings; check (optional) judges each one. */
static void get_strlist(struct doc *d, const struct ynode *n, const char *path, struct policy_strlist *out,
			bool (*check)(struct doc *d, const struct ynode *item, const char *path))
{
	char ib[128];

	if (get_seq(d, n, path) != GOT_OK || n->n == 0)
		return;
	out->v = mem_alloc(d, n->n * sizeof *out->v);
	if (!out->v)
		return;
	for (size_t i = 0; i < n->n; i++) {
		const char *s;

		path_index(ib, sizeof ib, path, i);
		if (get_text(d, n->items[i], ib, &s) != GOT_OK) {
			if (ynode_is_null(n->items[i]))
				verr(d, n->items[i], "'%s' must be a string, not null", ib);
			continue;
		}
		if (check && !check(d, n->items[i], ib))
			continue;
		out->v[out->n] = mem_strdup(d, s);
		if (!out->v[out->n])
			return;
		out->n++;
	}
}

static bool check_glob(struct doc *d, const struct ynode *n, const char *path)
{
	struct pt_error e = {0};

	if (glob_check(n->str, &e) != PT_OK) {
		verr(d, n, "'%s': %s", path, e.msg);
		return false;
	}
	return true;
}

/* A JVM flag: one word starting with '-', because JAVA_TOOL_OPTIONS is
 * split on white space. */
static bool check_jvm_option(struct doc *d, const struct ynode *n, const char *path)
{
	char vb[80];

	if (n->str[0] != '-') {
		verr(d, n, "'%s' must be a JVM option starting with '-', not %s", path, shown(n, vb, sizeof vb));
		return false;
	}
	for (size_t i = 0; i < n->len; i++)
		if (n->str[i] == ' ' || n->str[i] == '\t' || n->str[i] == '\n' || n->str[i] == '\r' ||
		    n->str[i] == '"' || n->str[i] == '\'') {
			verr(d, n, "'%s' must not contain white space or quotes (JAVA_TOOL_OPTIONS is split on white space), not %s",
			     path, shown(n, vb, sizeof vb));
			return false;
		}
	return true;
}

/* ---- the schema ---- */

static const char *const runtime_words[] = {"any", "go", "java", "wasm", NULL};
static const char *const round_words[] = {"floor", "ceil", "unset", NULL};
static const char *const grant_words[] = {"cpu", "memory", NULL};

static void load_match(struct doc *d, const struct ynode *m, struct policy_match *out)
{
	const struct ynode *labels;
	char pb[128], kb[80];

	check_keys(d, m, "spec.match", match_keys, NULL);
	get_strlist(d, ynode_get(m, "namespaces"), "spec.match.namespaces", &out->namespaces, check_glob);
	get_strlist(d, ynode_get(m, "excludeNamespaces"), "spec.match.excludeNamespaces", &out->exclude_namespaces,
		    check_glob);
	get_strlist(d, ynode_get(m, "containers"), "spec.match.containers", &out->containers, check_glob);
	get_strlist(d, ynode_get(m, "images"), "spec.match.images", &out->images, check_glob);
	get_strlist(d, ynode_get(m, "runtimeClassNames"), "spec.match.runtimeClassNames", &out->runtime_class_names,
		    check_glob);
	labels = ynode_get(m, "podLabels");
	if (get_map(d, labels, "spec.match.podLabels") != GOT_OK || labels->n == 0)
		return;
	out->pod_labels = mem_alloc(d, labels->n * sizeof *out->pod_labels);
	if (!out->pod_labels)
		return;
	for (size_t i = 0; i < labels->n; i++) {
		const struct ynode *k = labels->pairs[i].key, *v = labels->pairs[i].value;
		const char *s;

		snprintf(pb, sizeof pb, "spec.match.podLabels.%s", text_quote(k->str, k->len, 60, kb, 64));
		if (!is_label_key(k->str, k->len) || memchr(k->str, '\0', k->len)) {
			verr(d, k, "label key '%s' is not valid: want [prefix/]name, the name at most 63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit, the prefix a DNS-1123 subdomain",
			     kb);
			continue;
		}
		if (get_text(d, v, pb, &s) != GOT_OK) {
			if (ynode_is_null(v))
				verr(d, v ? v : k, "'%s' must be a glob; use '*' for any value", pb);
			continue;
		}
		if (!check_glob(d, v, pb))
			continue;
		out->pod_labels[out->n_pod_labels].key = mem_strdup(d, k->str);
		out->pod_labels[out->n_pod_labels].value = mem_strdup(d, s);
		out->n_pod_labels++;
	}
}

static void load_go(struct doc *d, const struct ynode *g, struct policy_go *out)
{
	const struct ynode *n;
	long long v;
	int r;
	bool min_set = false, max_set = false, ratio_set = false;

	check_keys(d, g, "spec.tune.go", go_keys, NULL);
	out->present = true;
	if (get_enum(d, ynode_get(g, "gomaxprocs"), "spec.tune.go.gomaxprocs", round_words, &r) == GOT_OK)
		out->gomaxprocs = (enum policy_round)r;
	if (get_int(d, ynode_get(g, "gomaxprocsMin"), "spec.tune.go.gomaxprocsMin", 1, 65535, &v) == GOT_OK) {
		out->gomaxprocs_min = (int)v;
		min_set = true;
	}
	if (get_int(d, ynode_get(g, "gomaxprocsMax"), "spec.tune.go.gomaxprocsMax", 0, 65535, &v) == GOT_OK) {
		out->gomaxprocs_max = (int)v;
		max_set = true;
	}
	get_bool(d, ynode_get(g, "gomemlimit"), "spec.tune.go.gomemlimit", &out->gomemlimit);
	if (get_ppm(d, ynode_get(g, "gomemlimitRatio"), "spec.tune.go.gomemlimitRatio", &out->gomemlimit_ratio_ppm) ==
	    GOT_OK)
		ratio_set = true;
	n = ynode_get(g, "gogc");
	if (!ynode_is_null(n)) {
		const char *s;
		char vb[80];
		bool ok = get_text(d, n, "spec.tune.go.gogc", &s) == GOT_OK;

		/* The runtime reads "off" or a decimal percentage; the
		 * plain word off is YAML 1.1's false, so take the text. */
		if (ok && strcmp(s, "off") != 0) {
			long long pct = 0;

			ok = n->len > 0 && n->len <= 9;
			for (size_t i = 0; ok && i < n->len; i++) {
				ok = s[i] >= '0' && s[i] <= '9';
				pct = pct * 10 + (s[i] - '0');
			}
			if (ok && pct < 1)
				ok = false;
			if (!ok) {
				verr(d, n, "'spec.tune.go.gogc' must be 'off' or a whole percentage from 1 to 999999999, not %s",
				     shown(n, vb, sizeof vb));
			} else {
				char num[24];

				snprintf(num, sizeof num, "%lld", pct);
				out->gogc = mem_strdup(d, num);
			}
		} else if (ok) {
			out->gogc = mem_strdup(d, "off");
		}
	}
	if (max_set && out->gomaxprocs_max && out->gomaxprocs_min > out->gomaxprocs_max)
		verr(d, ynode_get(g, "gomaxprocsMax"),
		     "'spec.tune.go.gomaxprocsMax' (%d) must not be below 'spec.tune.go.gomaxprocsMin' (%d)",
		     out->gomaxprocs_max, out->gomaxprocs_min);
	if (out->gomaxprocs == POLICY_ROUND_UNSET && (min_set || max_set))
		verr(d, ynode_get(g, min_set ? "gomaxprocsMin" : "gomaxprocsMax"),
		     "'spec.tune.go.%s' has no effect when 'gomaxprocs' is 'unset'", min_set ? "gomaxprocsMin" : "gomaxprocsMax");
	if (!out->gomemlimit && ratio_set)
		verr(d, ynode_get(g, "gomemlimitRatio"),
		     "'spec.tune.go.gomemlimitRatio' has no effect when 'gomemlimit' is false");
}

static void load_java(struct doc *d, const struct ynode *j, struct policy_java *out)
{
	static const struct {
		const char *flag;
		const char *field;
	} owned[] = {
		{"-XX:ActiveProcessorCount=", "activeProcessorCount"},
		{"-XX:MaxRAMPercentage=", "maxRAMPercentage"},
		{"-XX:InitialRAMPercentage=", "initialRAMPercentage"},
	};
	const struct ynode *opts;
	int r;

	check_keys(d, j, "spec.tune.java", java_keys, NULL);
	out->present = true;
	if (get_enum(d, ynode_get(j, "activeProcessorCount"), "spec.tune.java.activeProcessorCount", round_words, &r) ==
	    GOT_OK)
		out->active_processor_count = (enum policy_round)r;
	get_pct(d, ynode_get(j, "maxRAMPercentage"), "spec.tune.java.maxRAMPercentage", &out->max_ram_pct_milli);
	get_pct(d, ynode_get(j, "initialRAMPercentage"), "spec.tune.java.initialRAMPercentage",
		&out->initial_ram_pct_milli);
	if (out->max_ram_pct_milli && out->initial_ram_pct_milli > out->max_ram_pct_milli)
		verr(d, ynode_get(j, "initialRAMPercentage"),
		     "'spec.tune.java.initialRAMPercentage' must not be above 'maxRAMPercentage'");
	opts = ynode_get(j, "options");
	get_strlist(d, opts, "spec.tune.java.options", &out->options, check_jvm_option);
	/* A flag in options that a field also sets would make the result
	 * depend on the order the JVM reads them. */
	for (size_t i = 0; i < out->options.n; i++) {
		for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
			bool set = k == 0   ? out->active_processor_count != POLICY_ROUND_UNSET
				   : k == 1 ? out->max_ram_pct_milli != 0
					    : out->initial_ram_pct_milli != 0;

			if (set && strncmp(out->options.v[i], owned[k].flag, strlen(owned[k].flag)) == 0)
				verr(d, opts->items[i], "'spec.tune.java.options[%zu]' sets %.*s, which '%s' already sets",
				     i, (int)strlen(owned[k].flag) - 5, owned[k].flag + 4, owned[k].field);
		}
	}
}

/* The tune block field that sets an env var itself, or NULL. */
static const char *env_owner(const struct policy_tune *t, const char *name)
{
	const struct policy_go *g = &t->go;

	if (g->present && g->gomaxprocs != POLICY_ROUND_UNSET && strcmp(name, "GOMAXPROCS") == 0)
		return "spec.tune.go.gomaxprocs";
	if (g->present && g->gomemlimit && strcmp(name, "GOMEMLIMIT") == 0)
		return "spec.tune.go.gomemlimit";
	if (g->present && g->gogc && strcmp(name, "GOGC") == 0)
		return "spec.tune.go.gogc";
	if (t->java.present && strcmp(name, "JAVA_TOOL_OPTIONS") == 0)
		return "spec.tune.java";
	return NULL;
}

/* After go and java: an entry must not fight a variable they set. */
static void load_env(struct doc *d, const struct ynode *list, struct policy_tune *t)
{
	char pb[128], fb[160], vb[80];

	if (get_seq(d, list, "spec.tune.env") != GOT_OK || list->n == 0)
		return;
	t->env = mem_alloc(d, list->n * sizeof *t->env);
	if (!t->env)
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->items[i], *nn, *vn;
		const char *name, *value = "", *why;
		enum got g;

		path_index(pb, sizeof pb, "spec.tune.env", i);
		if (get_map(d, item, pb) != GOT_OK) {
			if (ynode_is_null(item))
				verr(d, item, "'%s' must be a mapping with name and value", pb);
			continue;
		}
		check_keys(d, item, pb, env_keys, NULL);
		nn = ynode_get(item, "name");
		g = get_text(d, nn, path_key(fb, sizeof fb, pb, "name"), &name);
		if (g == GOT_NONE)
			verr(d, item, "missing '%s.name'", pb);
		if (g != GOT_OK)
			continue;
		why = env_name_problem(name, nn->len);
		if (why) {
			verr(d, nn, "env name %s is not valid: %s", shown(nn, vb, sizeof vb), why);
			continue;
		}
		for (size_t k = 0; k < t->n_env; k++)
			if (strcmp(t->env[k].name, name) == 0) {
				verr(d, nn, "env '%s' is set twice in 'spec.tune.env'", name);
				name = NULL;
				break;
			}
		if (!name)
			continue;
		if (env_owner(t, name)) {
			verr(d, nn, "env '%s' conflicts with '%s', which sets it", name, env_owner(t, name));
			continue;
		}
		vn = ynode_get(item, "value");
		if (get_text(d, vn, path_key(fb, sizeof fb, pb, "value"), &value) == GOT_BAD)
			continue;
		t->env[t->n_env].name = mem_strdup(d, name);
		t->env[t->n_env].value = mem_strdup(d, value);
		t->n_env++;
	}
}

static void load_rlimits(struct doc *d, const struct ynode *m, struct policy_tune *t)
{
	char pb[128], kb[80];

	if (get_map(d, m, "spec.tune.rlimits") != GOT_OK || m->n == 0)
		return;
	t->rlimits = mem_alloc(d, m->n * sizeof *t->rlimits);
	t->rlimit_src = mem_alloc(d, m->n * sizeof *t->rlimit_src);
	if (!t->rlimits || !t->rlimit_src)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct ynode *k = m->pairs[i].key, *v = m->pairs[i].value;
		struct pt_error e = {0};
		const char *spec;
		enum got g;

		snprintf(pb, sizeof pb, "spec.tune.rlimits.%s", text_quote(k->str, k->len, 60, kb, 64));
		g = get_text(d, v, pb, &spec);
		if (g == GOT_NONE)
			verr(d, v ? v : k, "'%s' must be a limit such as \"1024\" or \"1024:4096\"", pb);
		if (g != GOT_OK)
			continue;
		if (memchr(k->str, '\0', k->len) ||
		    rlimit_parse(k->str, spec, &t->rlimits[t->n_rlimits], &e) != PT_OK) {
			verr(d, rlimit_resource(k->str) < 0 ? k : v, "'%s': %s", pb, e.msg[0] ? e.msg : "not valid");
			continue;
		}
		t->rlimit_src[t->n_rlimits] = mem_strdup(d, spec);
		t->n_rlimits++;
	}
}

static void load_tune(struct doc *d, const struct ynode *tn, struct policy *p, bool runtime_ok)
{
	const struct ynode *go = ynode_get(tn, "go"), *java = ynode_get(tn, "java");

	check_keys(d, tn, "spec.tune", tune_keys, tune_hints);
	if (get_map(d, go, "spec.tune.go") == GOT_OK) {
		if (runtime_ok && p->runtime != POLICY_RT_GO)
			verr(d, go, "'spec.tune.go' needs 'spec.runtime: go', not '%s'", policy_runtime_name(p->runtime));
		load_go(d, go, &p->tune.go);
	}
	if (get_map(d, java, "spec.tune.java") == GOT_OK) {
		if (runtime_ok && p->runtime != POLICY_RT_JAVA)
			verr(d, java, "'spec.tune.java' needs 'spec.runtime: java', not '%s'",
			     policy_runtime_name(p->runtime));
		load_java(d, java, &p->tune.java);
	}
	load_env(d, ynode_get(tn, "env"), &p->tune);
	load_rlimits(d, ynode_get(tn, "rlimits"), &p->tune);
	get_bool(d, ynode_get(tn, "override"), "spec.tune.override", &p->tune.override);

}

static bool load_trigger(struct doc *d, const struct ynode *tr, const char *pb, struct policy_trigger *out)
{
	const struct ynode *nn = ynode_get(tr, "name"), *xn = ynode_get(tr, "expr"), *gn = ynode_get(tr, "grant");
	struct promql_expr *x = NULL;
	struct pt_error e = {0};
	struct policy_mem *mem = d->L->mem;
	const char *name = NULL, *src = NULL;
	char fb[160], vb[80];
	bool ok = true;
	enum got g;
	int grant;

	check_keys(d, tr, pb, trigger_keys, NULL);
	g = get_text(d, nn, path_key(fb, sizeof fb, pb, "name"), &name);
	if (g == GOT_NONE)
		verr(d, tr, "missing '%s.name'", pb);
	else if (g == GOT_OK && !is_dns_label(name, nn->len))
		verr(d, nn, "'%s.name' must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit), not %s",
		     pb, shown(nn, vb, sizeof vb));
	else if (g == GOT_OK)
		out->name = mem_strdup(d, name);
	ok &= out->name != NULL;

	g = get_enum(d, gn, path_key(fb, sizeof fb, pb, "grant"), grant_words, &grant);
	if (g == GOT_NONE)
		verr(d, tr, "missing '%s.grant' (cpu or memory)", pb);
	ok &= g == GOT_OK;
	out->grant = g == GOT_OK ? (enum policy_grant)grant : POLICY_GRANT_CPU;
	ok &= get_duration(d, ynode_get(tr, "for"), path_key(fb, sizeof fb, pb, "for"), POLICY_MAX_DURATION_MS,
			   &out->for_ms) != GOT_BAD;

	g = get_text(d, xn, path_key(fb, sizeof fb, pb, "expr"), &src);
	if (g == GOT_NONE)
		verr(d, tr, "missing '%s.expr'", pb);
	if (g != GOT_OK)
		return false;
	out->line = xn->line;
	out->col = xn->col;
	if (promql_parse(src, &x, &e) != PT_OK) {
		int col = xn->col;
		bool one_line = xn->end_line == xn->line &&
				(xn->style == YSTYLE_PLAIN || xn->style == YSTYLE_SINGLE || xn->style == YSTYLE_DOUBLE);

		/* Map the expression's column into the file: exact for a
		 * one-line scalar (bar escapes), else named in the text. */
		if (one_line && e.col > 0) {
			col += (xn->style != YSTYLE_PLAIN) + e.col - 1;
			verr_at(d, xn->line, col, "'%s.expr': %s", pb, e.msg);
		} else if (e.col > 0) {
			verr(d, xn, "'%s.expr': %s (at column %d of the expression)", pb, e.msg, e.col);
		} else {
			verr(d, xn, "'%s.expr': %s", pb, e.msg);
		}
		return false;
	}
	if (mem->n_exprs == mem->cap_exprs) {
		size_t cap = mem->cap_exprs ? mem->cap_exprs * 2 : 16;
		struct promql_expr **v = realloc(mem->exprs, cap * sizeof *v);

		if (!v) {
			promql_free(x);
			nomem(d);
			return false;
		}
		mem->exprs = v;
		mem->cap_exprs = cap;
	}
	mem->exprs[mem->n_exprs++] = x;
	out->expr = x;
	return ok;
}

/* A range over a scraped metric must hold two scrapes, or rate() and
 * friends have nothing to work on (Prometheus' rule of thumb asks for four).
 * The agent's own series (cAdvisor's container_* names) are read every
 * tick, whatever the scrape interval. */
static void check_ranges(struct doc *d, const struct ynode *xn, const struct policy_rebalance *rb,
			 const struct policy_trigger *t)
{
	char a[32], b[32];

	for (const struct promql_node *nd = t->expr->root; rb->scrape_interval_ms && nd; nd = nd->arg)
		if (nd->kind == PROMQL_RANGE_FN && nd->sel.metric && strncmp(nd->sel.metric, "container_", 10) != 0 &&
		    nd->sel.range_ms < 2 * rb->scrape_interval_ms)
			verr(d, xn, "trigger '%s': the range [%s] over '%s' is shorter than two scrapes "
			     "(spec.rebalance.scrape.interval is %s), so it would hold one sample at most",
			     t->name, duration_format(nd->sel.range_ms, a, sizeof a), nd->sel.metric,
			     duration_format(rb->scrape_interval_ms, b, sizeof b));
}

static void load_rebalance(struct doc *d, const struct ynode *rb, struct policy_rebalance *out)
{
	const struct ynode *cpu = ynode_get(rb, "cpu"), *memn = ynode_get(rb, "memory");
	const struct ynode *scrape = ynode_get(rb, "scrape"), *trig = ynode_get(rb, "triggers");
	const char *s;
	char pb[128], vb[80];
	int name_line[POLICY_MAX_TRIGGERS];
	bool cpu_grant = false, mem_grant = false;
	enum got g;
	long long port;
	double step;

	check_keys(d, rb, "spec.rebalance", rebalance_keys, rebalance_hints);
	out->present = true;
	g = get_text(d, ynode_get(rb, "pool"), "spec.rebalance.pool", &s);
	if (g == GOT_NONE)
		verr(d, rb, "missing 'spec.rebalance.pool'");
	else if (g == GOT_OK && !is_dns_label(s, strlen(s)))
		verr(d, ynode_get(rb, "pool"),
		     "'spec.rebalance.pool' must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit), not %s",
		     shown(ynode_get(rb, "pool"), vb, sizeof vb));
	else if (g == GOT_OK)
		out->pool = mem_strdup(d, s);

	if (get_map(d, cpu, "spec.rebalance.cpu") == GOT_OK) {
		check_keys(d, cpu, "spec.rebalance.cpu", cpu_keys, NULL);
		get_num(d, ynode_get(cpu, "minFactor"), "spec.rebalance.cpu.minFactor", 0, true, 1, false,
			&out->cpu_min_factor);
		get_num(d, ynode_get(cpu, "maxFactor"), "spec.rebalance.cpu.maxFactor", 1, false, 100, false,
			&out->cpu_max_factor);
		if (get_num(d, ynode_get(cpu, "step"), "spec.rebalance.cpu.step", 0, true, 100, false, &step) == GOT_OK)
			out->cpu_step = step;
	}
	if (get_map(d, memn, "spec.rebalance.memory") == GOT_OK) {
		const struct ynode *h = ynode_get(memn, "headroom");

		check_keys(d, memn, "spec.rebalance.memory", memory_keys, NULL);
		get_ppm(d, ynode_get(memn, "throttlingFactor"), "spec.rebalance.memory.throttlingFactor",
			&out->mem_throttling_ppm);
		if (get_text(d, h, "spec.rebalance.memory.headroom", &s) == GOT_OK) {
			struct quantity q;
			struct pt_error e = {0};

			if (quantity_parse(s, h->len, &q, &e) != PT_OK)
				verr(d, h, "'spec.rebalance.memory.headroom': %s", e.msg);
			else if (q.nano < 0 || quantity_value(&q) > POLICY_MAX_HEADROOM)
				verr(d, h, "'spec.rebalance.memory.headroom' must be in [0, 1Ti], not %s",
				     shown(h, vb, sizeof vb));
			else
				out->mem_headroom = quantity_value(&q);
		}
		if (get_num(d, ynode_get(memn, "step"), "spec.rebalance.memory.step", 0, true, 1, false, &step) ==
		    GOT_OK)
			out->mem_step = step;
	}
	if (get_map(d, scrape, "spec.rebalance.scrape") == GOT_OK) {
		const struct ynode *pn = ynode_get(scrape, "path");

		check_keys(d, scrape, "spec.rebalance.scrape", scrape_keys, NULL);
		if (get_int(d, ynode_get(scrape, "port"), "spec.rebalance.scrape.port", 1, 65535, &port) == GOT_OK)
			out->scrape_port = (uint16_t)port;
		if (get_text(d, pn, "spec.rebalance.scrape.path", &s) == GOT_OK) {
			bool ok = s[0] == '/' && pn->len <= POLICY_MAX_PATH_LEN;

			for (size_t i = 0; ok && i < pn->len; i++)
				ok = (unsigned char)s[i] > 0x20 && s[i] != 0x7f;
			if (!ok)
				verr(d, pn, "'spec.rebalance.scrape.path' must be a URL path starting with '/', without spaces or control characters, at most %d bytes, not %s",
				     POLICY_MAX_PATH_LEN, shown(pn, vb, sizeof vb));
			else
				out->scrape_path = mem_strdup(d, s);
		}
		if (get_duration(d, ynode_get(scrape, "timeout"), "spec.rebalance.scrape.timeout", 60000,
				 &out->scrape_timeout_ms) == GOT_OK &&
		    out->scrape_timeout_ms == 0)
			verr(d, ynode_get(scrape, "timeout"), "'spec.rebalance.scrape.timeout' must be more than 0s");
		if (get_duration(d, ynode_get(scrape, "interval"), "spec.rebalance.scrape.interval",
				 POLICY_MAX_SCRAPE_INTERVAL_MS, &out->scrape_interval_ms) == GOT_OK &&
		    out->scrape_interval_ms == 0)
			verr(d, ynode_get(scrape, "interval"), "'spec.rebalance.scrape.interval' must be more than 0s");
	}
	get_duration(d, ynode_get(rb, "cooldown"), "spec.rebalance.cooldown", POLICY_MAX_DURATION_MS, &out->cooldown_ms);
	get_duration(d, ynode_get(rb, "decay"), "spec.rebalance.decay", POLICY_MAX_DURATION_MS, &out->decay_ms);

	g = get_seq(d, trig, "spec.rebalance.triggers");
	if (g == GOT_NONE || (g == GOT_OK && trig->n == 0)) {
		verr(d, trig && trig->kind == YNODE_SEQ ? trig : rb,
		     "'spec.rebalance.triggers' must list at least one trigger");
		return;
	}
	if (g != GOT_OK)
		return;
	if (trig->n > POLICY_MAX_TRIGGERS) {
		verr(d, trig, "'spec.rebalance.triggers' has %zu triggers, more than %d", trig->n, POLICY_MAX_TRIGGERS);
		return;
	}
	out->triggers = mem_alloc(d, trig->n * sizeof *out->triggers);
	if (!out->triggers)
		return;
	for (size_t i = 0; i < trig->n; i++) {
		struct policy_trigger *t = &out->triggers[out->n_triggers];
		bool dup = false;

		path_index(pb, sizeof pb, "spec.rebalance.triggers", i);
		if (get_map(d, trig->items[i], pb) != GOT_OK) {
			if (ynode_is_null(trig->items[i]))
				verr(d, trig->items[i], "'%s' must be a mapping with name, expr, for and grant", pb);
			continue;
		}
		memset(t, 0, sizeof *t);
		if (!load_trigger(d, trig->items[i], pb, t))
			continue;
		check_ranges(d, ynode_get(trig->items[i], "expr"), out, t);
		for (size_t k = 0; k < out->n_triggers; k++)
			if (strcmp(out->triggers[k].name, t->name) == 0) {
				verr(d, ynode_get(trig->items[i], "name"),
				     "trigger name '%s' is used twice in this policy (first at line %d)", t->name,
				     name_line[k]);
				dup = true;
			}
		if (dup)
			continue;
		name_line[out->n_triggers] = ynode_get(trig->items[i], "name")->line;
		cpu_grant |= t->grant == POLICY_GRANT_CPU;
		mem_grant |= t->grant == POLICY_GRANT_MEMORY;
		out->n_triggers++;
	}
	/* Settings that nothing would use are mistakes, not defaults. */
	if (out->n_triggers == trig->n) {
		if (!ynode_is_null(cpu) && !cpu_grant)
			verr(d, cpu, "'spec.rebalance.cpu' has no effect: no trigger grants cpu");
		if (!ynode_is_null(memn) && !mem_grant)
			verr(d, memn, "'spec.rebalance.memory' has no effect: no trigger grants memory");
	}
}

static void load_spec(struct doc *d, const struct ynode *spec, struct policy *p)
{
	const struct ynode *rt = ynode_get(spec, "runtime");
	const struct ynode *match = ynode_get(spec, "match"), *tune = ynode_get(spec, "tune");
	const struct ynode *rb = ynode_get(spec, "rebalance");
	long long prio;
	bool runtime_ok = false;
	int r;
	enum got g;

	check_keys(d, spec, "spec", spec_keys, spec_hints);
	if (get_int(d, ynode_get(spec, "priority"), "spec.priority", -1000000000, 1000000000, &prio) == GOT_OK)
		p->priority = (int)prio;
	g = get_enum(d, rt, "spec.runtime", runtime_words, &r);
	if (g == GOT_NONE)
		verr(d, spec, "missing 'spec.runtime' (go, java, wasm or any)");
	if (g == GOT_OK) {
		runtime_ok = true;
		p->runtime = (enum policy_runtime)r;
	}
	if (get_map(d, match, "spec.match") == GOT_OK)
		load_match(d, match, &p->match);
	if (get_map(d, tune, "spec.tune") == GOT_OK)
		load_tune(d, tune, p, runtime_ok);
	if (get_map(d, rb, "spec.rebalance") == GOT_OK)
		load_rebalance(d, rb, &p->rebalance);
}

static void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof *p);
	p->tune.go.gomaxprocs = POLICY_ROUND_FLOOR;
	p->tune.go.gomaxprocs_min = 1;
	p->tune.go.gomemlimit = true;
	p->tune.go.gomemlimit_ratio_ppm = 900000;
	p->tune.java.active_processor_count = POLICY_ROUND_CEIL;
	p->rebalance.cpu_min_factor = 0.5;
	p->rebalance.cpu_max_factor = 4;
	p->rebalance.cpu_step = 0.5;
	p->rebalance.mem_throttling_ppm = 900000;
	p->rebalance.mem_headroom = 64LL << 20;
	p->rebalance.mem_step = 0.25;
	p->rebalance.scrape_timeout_ms = 500;
	p->rebalance.cooldown_ms = 30000;
	p->rebalance.decay_ms = 120000;
}

static void load_metadata(struct doc *d, const struct ynode *md, struct policy *p, struct name_pos *pos)
{
	const struct ynode *nn = ynode_get(md, "name");
	const char *name;
	char vb[80];
	enum got g;

	check_keys(d, md, "metadata", meta_keys, NULL);
	/* labels and annotations are for people and tools; checked for
	 * shape only. */
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "annotations" : "labels";
		const struct ynode *m = ynode_get(md, key);
		char pb[64];

		path_key(pb, sizeof pb, "metadata", key);
		if (get_map(d, m, pb) != GOT_OK)
			continue;
		for (size_t k = 0; k < m->n; k++) {
			const struct ynode *v = m->pairs[k].value;

			if (v && v->kind != YNODE_SCALAR)
				verr(d, v, "'%s' values must be strings, not a %s", pb, kind_name(v));
		}
	}
	g = get_text(d, nn, "metadata.name", &name);
	if (g == GOT_NONE)
		verr(d, md, "missing 'metadata.name'");
	if (g != GOT_OK)
		return;
	if (!is_dns_subdomain(name, nn->len)) {
		verr(d, nn, "'metadata.name' must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters), not %s",
		     shown(nn, vb, sizeof vb));
		return;
	}
	p->name = mem_strdup(d, name);
	pos->line = nn->line;
	pos->col = nn->col;
}

static void load_doc(struct loader *L, const char *file, const struct ydoc *yd)
{
	struct doc d = {L, file, yd->line};
	const struct ynode *r = yd->root, *n;
	const char *s;
	char vb[80];
	struct policy *p;
	enum got g;

	if (!r)
		return; /* an empty document, as kubectl skips them */
	if (r->kind != YNODE_MAP) {
		verr(&d, r, "a policy must be a mapping with apiVersion, kind, metadata and spec, not %s",
		     shown(r, vb, sizeof vb));
		return;
	}
	if (L->n == POLICY_MAX_POLICIES) {
		if (!L->too_many)
			verr(&d, r, "more than %d policies", POLICY_MAX_POLICIES);
		L->too_many = true;
		return;
	}
	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 16;
		struct policy *v = realloc(L->v, cap * sizeof *v);
		struct name_pos *pv;

		if (!v) {
			nomem(&d);
			return;
		}
		L->v = v;
		pv = realloc(L->pos, cap * sizeof *pv);
		if (!pv) {
			nomem(&d);
			return;
		}
		L->pos = pv;
		L->cap = cap;
	}
	p = &L->v[L->n];
	policy_defaults(p);
	memset(&L->pos[L->n], 0, sizeof L->pos[L->n]);
	L->n++;
	p->file = (char *)file;
	p->line = yd->line;

	check_keys(&d, r, "", top_keys, NULL);
	n = ynode_get(r, "apiVersion");
	g = get_text(&d, n, "apiVersion", &s);
	if (g == GOT_NONE)
		verr(&d, r, "missing 'apiVersion' (want '%s')", POLICY_API_VERSION);
	else if (g == GOT_OK && strcmp(s, POLICY_API_VERSION) != 0)
		verr(&d, n, "'apiVersion' must be '%s', not %s", POLICY_API_VERSION, shown(n, vb, sizeof vb));
	n = ynode_get(r, "kind");
	g = get_text(&d, n, "kind", &s);
	if (g == GOT_NONE)
		verr(&d, r, "missing 'kind' (want '%s')", POLICY_KIND);
	else if (g == GOT_OK && strcmp(s, POLICY_KIND) != 0)
		verr(&d, n, "'kind' must be '%s', not %s", POLICY_KIND, shown(n, vb, sizeof vb));
	n = ynode_get(r, "metadata");
	g = get_map(&d, n, "metadata");
	if (g == GOT_NONE)
		verr(&d, r, "missing 'metadata'");
	else if (g == GOT_OK)
		load_metadata(&d, n, p, &L->pos[L->n - 1]);
	n = ynode_get(r, "spec");
	g = get_map(&d, n, "spec");
	if (g == GOT_NONE)
		verr(&d, r, "missing 'spec'");
	else if (g == GOT_OK)
		load_spec(&d, n, p);
}

/* ---- sources ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Put one file's errors in line order (insertion sort: stable, and there
 * are at most POLICY_MAX_DIAGS). */
static void sort_diags(struct policy_diags *dg, size_t from)
{
	for (size_t i = from + 1; i < dg->n; i++) {
		struct pt_error t = dg->v[i];
		size_t j = i;

		for (; j > from && (dg->v[j - 1].line > t.line ||
				    (dg->v[j - 1].line == t.line && dg->v[j - 1].col > t.col));
		     j--)
			dg->v[j] = dg->v[j - 1];
		dg->v[j] = t;
	}
}

/* One file's text, labelled path. */
static void load_text(struct loader *L, const char *path, const char *data, size_t len)
{
	struct ystream *ys = NULL;
	struct pt_error e = {0};
	const char *file;
	struct doc d = {L, path, 0};
	const char *base = base_name(path);
	size_t first;

	if (L->n_files++ >= POLICY_MAX_FILES) {
		char msg[64];

		snprintf(msg, sizeof msg, "more than %d policy files", POLICY_MAX_FILES);
		if (L->n_files == POLICY_MAX_FILES + 1)
			diag_add(L, PT_LIMIT, path, 0, 0, msg);
		return;
	}
	/* The hash covers base names, so that the same files mounted at
	 * another path hash the same. */
	L->hash = text_fnv1a(L->hash, base, strlen(base) + 1);
	L->hash = text_fnv1a(L->hash, data, len);
	L->hash = text_fnv1a(L->hash, "", 1);
	file = mem_strdup(&d, path);
	if (!file)
		return;
	if (yaml_parse(file, data, len, &ys, &e) != PT_OK) {
		diag_err(L, &e);
		return;
	}
	first = L->diags ? L->diags->n : 0;
	for (size_t i = 0; i < ys->n_docs; i++)
		load_doc(L, file, &ys->docs[i]);
	if (L->diags)
		sort_diags(L->diags, first);
	yaml_stream_free(ys);
}

static void load_file(struct loader *L, const char *path)
{
	struct pt_error e = {0};
	struct buf b;

	buf_init(&b, YAML_MAX_BYTES);
	if (fileio_read(path, YAML_MAX_BYTES, &b, &e) != PT_OK) {
		if (e.code != PT_NOMEM && e.code != PT_LIMIT)
			L->io = true;
		if (!e.file[0])
			pt_error_at(&e, path, 0, 0);
		diag_err(L, &e);
		return;
	}
	load_text(L, path, b.data ? b.data : "", b.len);
	buf_release(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_yaml_ext(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

/* The *.yaml and *.yml files of a directory, in name order. Names that
 * start with '.' are skipped: a ConfigMap volume keeps its data in
 * "..data" and timestamped "..2024_..." directories next to symlinks
 * with the key names (kubernetes/pkg/volume/util/atomic_writer.go). */
static void load_dir(struct loader *L, const char *dir)
{
	struct pt_error e = {0};
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (!dp) {
		pt_error_sys(&e, errno, "cannot open directory '%s'", dir);
		L->io = true;
		diag_add(L, e.code, dir, 0, 0, e.msg);
		return;
	}
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
			continue;
		if (n == MAX_DIR_ENTRIES) {
			char msg[64];

			snprintf(msg, sizeof msg, "more than %d policy files in the directory", MAX_DIR_ENTRIES);
			diag_add(L, PT_LIMIT, dir, 0, 0, msg);
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **v = realloc(names, ncap * sizeof *v);

			if (!v)
				goto nomem;
			names = v;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto nomem;
		n++;
	}
	closedir(dp);
	dp = NULL;
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;

		if ((size_t)snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
				     names[i]) >= sizeof path) {
			diag_add(L, PT_LIMIT, dir, 0, 0, "a path in the directory is too long");
			continue;
		}
		/* stat, not lstat: the ConfigMap's files are symlinks. */
		if (stat(path, &st) < 0) {
			pt_error_sys(&e, errno, "cannot stat '%s'", path);
			L->io = true;
			diag_add(L, e.code, path, 0, 0, e.msg);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			diag_add(L, PT_INVALID, path, 0, 0, "not a regular file");
			continue;
		}
		load_file(L, path);
	}
	goto out;
nomem:
	diag_add(L, PT_NOMEM, dir, 0, 0, "out of memory listing the directory");
out:
	if (dp)
		closedir(dp);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void load_source(struct loader *L, const struct policy_source *src)
{
	struct pt_error e = {0};
	struct stat st;

	if (src->data) {
		load_text(L, src->path, src->data, src->len);
		return;
	}
	if (stat(src->path, &st) < 0) {
		pt_error_sys(&e, errno, "cannot read policies from '%s'", src->path);
		L->io = true;
		diag_add(L, e.code, src->path, 0, 0, e.msg);
		return;
	}
	if (S_ISDIR(st.st_mode))
		load_dir(L, src->path);
	else
		load_file(L, src->path);
}

/* ---- the set ---- */

static int cmp_policy(const void *a, const void *b)
{
	const struct policy *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_index_by_name(const void *a, const void *b, void *arg)
{
	const struct policy *v = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(v[i].name, v[j].name);

	/* Equal names keep load order, so the later one is reported. */
	return c ? c : (i < j ? -1 : i > j);
}

static void check_duplicate_names(struct loader *L)
{
	size_t *idx = malloc((L->n ? L->n : 1) * sizeof *idx), m = 0;

	if (!idx) {
		diag_add(L, PT_NOMEM, "", 0, 0, "out of memory loading policies");
		return;
	}
	for (size_t i = 0; i < L->n; i++)
		if (L->v[i].name)
			idx[m++] = i;
	qsort_r(idx, m, sizeof *idx, cmp_index_by_name, L->v);
	for (size_t k = 1; k < m; k++) {
		const struct policy *first, *again;
		size_t f = k - 1;
		char msg[512];

		if (strcmp(L->v[idx[f]].name, L->v[idx[k]].name) != 0)
			continue;
		/* Report each repeat against the first definition. */
		while (f > 0 && strcmp(L->v[idx[f - 1]].name, L->v[idx[k]].name) == 0)
			f--;
		first = &L->v[idx[f]];
		again = &L->v[idx[k]];
		snprintf(msg, sizeof msg, "duplicate policy name '%s' (first defined at %s:%d:%d)", again->name,
			 first->file, L->pos[idx[f]].line, L->pos[idx[f]].col);
		diag_add(L, PT_INVALID, again->file, L->pos[idx[k]].line, L->pos[idx[k]].col, msg);
	}
	free(idx);
}

static void mem_free(struct policy_mem *mem)
{
	if (!mem)
		return;
	for (size_t i = 0; i < mem->n_exprs; i++)
		promql_free(mem->exprs[i]);
	free(mem->exprs);
	arena_release(&mem->arena);
	free(mem);
}

enum pt_code policy_set_load(const struct policy_source *src, size_t n_src, struct policy_set **out,
			     struct policy_diags *diags)
{
	struct loader L = {.diags = diags, .hash = TEXT_FNV_INIT};
	struct policy_set *set;
	enum pt_code rc = PT_OK;

	L.mem = calloc(1, sizeof *L.mem);
	if (!L.mem) {
		diag_add(&L, PT_NOMEM, "", 0, 0, "out of memory loading policies");
		return PT_NOMEM;
	}
	arena_init(&L.mem->arena, POLICY_ARENA_CHUNK, POLICY_MAX_ARENA);
	for (size_t i = 0; i < n_src; i++)
		load_source(&L, &src[i]);
	check_duplicate_names(&L);
	if (L.n_errors) {
		rc = L.nomem ? PT_NOMEM : L.io ? PT_IO : PT_INVALID;
		goto out;
	}
	set = arena_alloc(&L.mem->arena, sizeof *set);
	if (!set) {
		diag_add(&L, PT_NOMEM, "", 0, 0, "out of memory loading policies");
		rc = PT_NOMEM;
		goto out;
	}
	memset(set, 0, sizeof *set);
	if (L.n) {
		set->v = arena_alloc(&L.mem->arena, L.n * sizeof *set->v);
		if (!set->v) {
			diag_add(&L, PT_NOMEM, "", 0, 0, "out of memory loading policies");
			rc = PT_NOMEM;
			goto out;
		}
		memcpy(set->v, L.v, L.n * sizeof *set->v);
		qsort(set->v, L.n, sizeof *set->v, cmp_policy);
	}
	set->n = L.n;
	set->hash = L.hash;
	for (size_t i = 0; i < set->n; i++) {
		const struct policy_rebalance *rb = &set->v[i].rebalance;

		for (size_t k = 0; k < rb->n_triggers; k++) {
			uint64_t w = rb->triggers[k].expr->max_range_ms + rb->triggers[k].for_ms;

			if (w > set->max_window_ms)
				set->max_window_ms = w;
		}
	}
	atomic_init(&set->refs, 1);
	set->mem = L.mem;
	L.mem = NULL;
	*out = set;
out:
	mem_free(L.mem);
	free(L.v);
	free(L.pos);
	return rc;
}

enum pt_code policy_set_load_embedded(struct policy_set **out, struct policy_diags *diags)
{
	struct policy_source *src;
	size_t n = 0;
	enum pt_code rc;

	while (embedded_files[n].name)
		n++;
	src = calloc(n ? n : 1, sizeof *src);
	if (!src)
		return PT_NOMEM;
	for (size_t i = 0; i < n; i++)
		src[i] = (struct policy_source){embedded_files[i].name, embedded_files[i].data, embedded_files[i].len};
	rc = policy_set_load(src, n, out, diags);
	free(src);
	return rc;
}

struct policy_set *policy_set_ref(struct policy_set *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void policy_set_unref(struct policy_set *s)
{
	if (!s)
		return;
	/* acq_rel: the last owner sees every other owner's reads done. */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		mem_free(s->mem);
}

void policy_diags_release(struct policy_diags *d)
{
	if (!d)
		return;
	free(d->v);
	d->v = NULL;
	d->n = d->dropped = 0;
}

const char *policy_runtime_name(enum policy_runtime rt)
{
	switch (rt) {
	case POLICY_RT_ANY: return "any";
	case POLICY_RT_GO: return "go";
	case POLICY_RT_JAVA: return "java";
	case POLICY_RT_WASM: return "wasm";
	}
	return "?";
}

bool policy_runtime_parse(const char *s, enum policy_runtime *out)
{
	for (int i = 0; runtime_words[i]; i++)
		if (strcmp(s, runtime_words[i]) == 0) {
			*out = (enum policy_runtime)i;
			return true;
		}
	return false;
}
