/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning engine. For each container it detects the runtime, picks the
 * highest-priority matching policy, computes the wanted env values, settles
 * them against what the container already has, and writes the patch.
 * Invariant: a value the user set is never changed unless the policy says
 * override, and a second pass over the patched Pod emits nothing. */
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "json.h"
#include "patch.h"
#include "quantity.h"

/* Named limits: a Pod bigger than this is refused, not half-tuned. */
#define TUNE_MAX_CONTAINERS 1024
#define TUNE_MAX_WARNINGS 16
#define TUNE_MAX_ANN_BYTES (64u << 10)
#define MIB (1024LL * 1024)

/* RuntimeClass names of the WASM shims: SpinKube and containerd-wasm-shims
 * (DESIGN.md §4). Any other class whose name contains "wasm" counts too. */
static const char *const wasm_classes[] = {
	"wasmtime-spin-v2", "wasmtime-spin", "wasmtime-slight", "wasmtime-wws", "wasmtime-lunatic",
};

struct want {
	const char *name;   /* env var */
	const char *value;
	const char *reason;
	struct tune_change *change; /* where the outcome is recorded */
	bool merged;                /* JAVA_TOOL_OPTIONS: user flags already merged in */
};

enum env_op { ENV_NONE, ENV_ADD, ENV_REPLACE_VALUE, ENV_ADD_VALUE, ENV_REPLACE_ENTRY };

struct resources {
	bool cpu_limit, mem_limit;
	int64_t cpu_limit_m; /* milli-CPU */
	int64_t mem_limit_b; /* bytes */
	const char *cpu_limit_s, *mem_limit_s;
};

struct ctx {
	const struct tune_input *in;
	struct arena *a;
	struct pt_error *e;
	struct patch patch;
	const char *ns;
	const cJSON *labels;
	const cJSON *annotations;
	const char *runtime_class;
	struct tune_result *res;
	struct buf tuned;   /* podtuner.io/tuned value under construction */
	struct buf rlimits; /* podtuner.io/rlimits value under construction */
	bool oom;
};

static const char *const runtime_names[] = {"any", "go", "java", "wasm"};

const char *tune_action_name(enum tune_action act)
{
	switch (act) {
	case TUNE_SET: return "set";
	case TUNE_KEEP: return "keep";
	case TUNE_SKIP: return "skip";
	}
	return "?";
}

/* Formatting into the arena; an allocation failure is remembered and
 * reported once at the end, so the callers stay straight-line. */
#define AFMT(c, ...) afmt_check((c), arena_printf((c)->a, __VA_ARGS__))

static const char *afmt_check(struct ctx *c, const char *s)
{
	if (!s) {
		c->oom = true;
		return "";
	}
	return s;
}

static void warn(struct ctx *c, const char *msg)
{
	struct tune_result *r = c->res;

	if (!r->warnings) {
		r->warnings = arena_alloc(c->a, TUNE_MAX_WARNINGS * sizeof *r->warnings);
		if (!r->warnings) {
			c->oom = true;
			return;
		}
	}
	if (r->n_warnings < TUNE_MAX_WARNINGS)
		r->warnings[r->n_warnings++] = msg;
}

static const char *map_str(const cJSON *map, const char *key)
{
	return json_get_str(map, key);
}

static bool any_glob(const struct policy_strlist *l, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < l->n; i++)
		if (glob_match(l->v[i], s, n))
			return true;
	return false;
}

/* --- runtime detection ------------------------------------------------ */

static bool is_wasm_class(const char *rc)
{
	for (size_t i = 0; i < sizeof wasm_classes / sizeof wasm_classes[0]; i++)
		if (strcmp(rc, wasm_classes[i]) == 0)
			return true;
	return strstr(rc, "wasm") != NULL;
}

static enum policy_runtime detect_runtime(struct ctx *c, const char *container, const char **src)
{
	enum policy_runtime rt;
	char key[320];
	const char *v;

	snprintf(key, sizeof key, "%s%s", TUNE_ANN_RUNTIME_PREFIX, container);
	if ((v = map_str(c->annotations, key))) {
		if (policy_runtime_parse(v, &rt) && rt != POLICY_RT_ANY) {
			*src = "annotation";
			return rt;
		}
		warn(c, AFMT(c, "annotation '%s' has unknown runtime '%s' (want go, java or wasm); ignored", key, v));
	}
	if ((v = map_str(c->labels, TUNE_LABEL_RUNTIME))) {
		if (policy_runtime_parse(v, &rt) && rt != POLICY_RT_ANY) {
			*src = "label";
			return rt;
		}
		warn(c, AFMT(c, "label '%s' has unknown runtime '%s' (want go, java or wasm); ignored",
			     TUNE_LABEL_RUNTIME, v));
	}
	if (c->runtime_class && is_wasm_class(c->runtime_class)) {
		*src = "runtimeClassName";
		return POLICY_RT_WASM;
	}
	/* crun runs WASM when these annotations are present (crun docs). */
	if (((v = map_str(c->annotations, "run.oci.handler")) && strcmp(v, "wasm") == 0) ||
	    ((v = map_str(c->annotations, "module.wasm.image/variant")) &&
	     (strcmp(v, "compat") == 0 || strcmp(v, "compat-smart") == 0))) {
		*src = "crun annotation";
		return POLICY_RT_WASM;
	}
	*src = "undeclared";
	return POLICY_RT_ANY;
}

/* --- matching ---------------------------------------------------------- */

/* NULL when the policy matches; otherwise why not. The reason text is
 * only formatted when explaining; otherwise a constant stands in. */
static const char *mismatch(struct ctx *c, const struct policy *p, const char *name, const char *image,
			    enum policy_runtime rt)
{
	const struct policy_match *m = &p->match;
	bool ex = c->in->explain;

	if (m->namespaces.n && !any_glob(&m->namespaces, c->ns))
		return ex ? AFMT(c, "namespace '%s' is not in match.namespaces", c->ns) : "-";
	if (m->exclude_namespaces.n && any_glob(&m->exclude_namespaces, c->ns))
		return ex ? AFMT(c, "namespace '%s' is in match.excludeNamespaces", c->ns) : "-";
	for (size_t i = 0; i < m->n_pod_labels; i++) {
		const char *v = map_str(c->labels, m->pod_labels[i].key);

		if (!v || !glob_match(m->pod_labels[i].value, v, strlen(v)))
			return ex ? AFMT(c, "pod label '%s' %s '%s'", m->pod_labels[i].key,
					 v ? "does not match" : "is absent, want", m->pod_labels[i].value)
				  : "-";
	}
	if (m->containers.n && !any_glob(&m->containers, name))
		return ex ? AFMT(c, "container name '%s' is not in match.containers", name) : "-";
	if (m->images.n && !any_glob(&m->images, image))
		return ex ? AFMT(c, "image '%s' is not in match.images", image) : "-";
	if (m->runtime_class_names.n && (!c->runtime_class || !any_glob(&m->runtime_class_names, c->runtime_class)))
		return ex ? AFMT(c, "runtimeClassName '%s' is not in match.runtimeClassNames",
				 c->runtime_class ? c->runtime_class : "")
			  : "-";
	if (p->runtime == POLICY_RT_ANY || p->runtime == rt)
		return NULL;
	/* An undeclared container may be claimed by a policy that picked it
	 * explicitly by image or RuntimeClass (the convenience of DESIGN §7). */
	if (rt == POLICY_RT_ANY && (m->images.n || m->runtime_class_names.n))
		return NULL;
	if (!ex)
		return "-";
	if (rt == POLICY_RT_ANY)
		return AFMT(c, "runtime is undeclared (no '%s' label), the policy is for %s", TUNE_LABEL_RUNTIME,
			    runtime_names[p->runtime]);
	return AFMT(c, "runtime is %s, the policy is for %s", runtime_names[rt], runtime_names[p->runtime]);
}

static const struct policy *choose(struct ctx *c, struct tune_container *tc, const char *image)
{
	const struct policy_set *set = c->in->policies;
	struct buf why;
	const struct policy *win = NULL;

	buf_init(&why, 4096);
	for (size_t i = 0; set && i < set->n; i++) {
		const struct policy *p = &set->v[i];
		const char *r = mismatch(c, p, tc->name, image, tc->runtime);

		if (!r) {
			win = p;
			break;
		}
		/* A full explanation buffer only shortens the text. */
		if (c->in->explain && buf_printf(&why, "%s%s: %s", why.len ? "; " : "", p->name, r))
			continue;
	}
	if (c->in->explain) {
		if (win)
			tc->why = AFMT(c, "policy '%s' (priority %d, %s:%d) matches; runtime %s (%s)", win->name,
				       win->priority, win->file, win->line, runtime_names[tc->runtime],
				       tc->runtime_source);
		else if (!set || set->n == 0)
			tc->why = "no policies are loaded";
		else
			tc->why = AFMT(c, "no policy matches: %s", why.data ? why.data : "");
	}
	buf_release(&why);
	return win;
}

/* --- resources --------------------------------------------------------- */

static void read_quantity(struct ctx *c, const cJSON *limits, const char *res, const char *container,
			  bool *has, int64_t *val, const char **src, bool milli)
{
	const cJSON *q = json_get(limits, res);
	struct quantity qty;
	struct pt_error err;

	*has = false;
	if (!q)
		return;
	if (!cJSON_IsString(q) && !cJSON_IsNumber(q)) {
		warn(c, AFMT(c, "container '%s': limits.%s is not a quantity; ignored", container, res));
		return;
	}
	/* The apiserver sends strings; a number can come from hand-written
	 * YAML read by `podtuner mutate`. */
	const char *s = cJSON_IsString(q) ? q->valuestring : AFMT(c, "%.17g", q->valuedouble);
	if (quantity_parse(s, strlen(s), &qty, &err) != PT_OK) {
		warn(c, AFMT(c, "container '%s': limits.%s: %s; ignored", container, res, err.msg));
		return;
	}
	*val = milli ? quantity_milli(&qty) : quantity_value(&qty);
	if (*val <= 0) {
		warn(c, AFMT(c, "container '%s': limits.%s '%s' is not positive; ignored", container, res, s));
		return;
	}
	*has = true;
	*src = s;
}

static void read_resources(struct ctx *c, const cJSON *container, const char *name, struct resources *r)
{
	const cJSON *limits = json_path(container, "resources", "limits", NULL);

	memset(r, 0, sizeof *r);
	read_quantity(c, limits, "cpu", name, &r->cpu_limit, &r->cpu_limit_m, &r->cpu_limit_s, true);
	read_quantity(c, limits, "memory", name, &r->mem_limit, &r->mem_limit_b, &r->mem_limit_s, false);
}

/* --- wanted values ----------------------------------------------------- */

struct plan {
	struct want *w;
	size_t n, cap;
	struct tune_change *ch;
	size_t n_ch, cap_ch;
};

static struct tune_change *change(struct ctx *c, struct plan *pl, const char *knob, const char *value,
				  enum tune_action act, const char *reason)
{
	struct tune_change *ch;

	if (pl->n_ch == pl->cap_ch) {
		c->oom = true; /* cap computed from the policy; cannot happen */
		return NULL;
	}
	ch = &pl->ch[pl->n_ch++];
	ch->knob = knob;
	ch->value = value;
	ch->action = act;
	ch->reason = reason;
	return ch;
}

static void want(struct ctx *c, struct plan *pl, const char *name, const char *value, const char *reason)
{
	struct tune_change *ch;

	for (size_t i = 0; i < pl->n; i++) {
		if (strcmp(pl->w[i].name, name) == 0) {
			/* The first source wins (runtime knobs before tune.env). */
			change(c, pl, name, value, TUNE_SKIP,
			       c->in->explain ? AFMT(c, "also set by an earlier knob of the policy") : "");
			return;
		}
	}
	if (pl->n == pl->cap || !(ch = change(c, pl, name, value, TUNE_SET, reason))) {
		c->oom = true;
		return;
	}
	pl->w[pl->n++] = (struct want){.name = name, .value = value, .reason = reason, .change = ch};
}

static int64_t cpus(int64_t milli, enum policy_round round)
{
	return round == POLICY_ROUND_CEIL ? (milli + 999) / 1000 : milli / 1000;
}

/* GOMEMLIMIT must match ^[0-9]+(([KMGT]i)?B)?$ or the Go runtime aborts at
 * start (runtime/debug: parseByteCount); Kubernetes' "512Mi" is invalid. */
static bool go_bytes_valid(const char *s)
{
	const char *p = s;

	if (strcmp(s, "off") == 0)
		return true;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return false;
	if (*p == '\0' || strcmp(p, "B") == 0)
		return true;
	return strchr("KMGT", p[0]) && p[0] && p[1] == 'i' && p[2] == 'B' && p[3] == '\0';
}

static void plan_go(struct ctx *c, struct plan *pl, const struct policy_go *g, const struct resources *r)
{
	bool ex = c->in->explain;

	if (g->gomaxprocs == POLICY_ROUND_UNSET) {
		change(c, pl, "GOMAXPROCS", NULL, TUNE_SKIP, "gomaxprocs: unset leaves it to the Go runtime");
	} else if (!r->cpu_limit) {
		change(c, pl, "GOMAXPROCS", NULL, TUNE_SKIP, "no cpu limit, so no CFS throttling to avoid");
	} else {
		int64_t n = cpus(r->cpu_limit_m, g->gomaxprocs);
		const char *note = "";

		if (n < g->gomaxprocs_min) {
			n = g->gomaxprocs_min;
			note = ", raised to gomaxprocsMin";
		}
		if (g->gomaxprocs_max > 0 && n > g->gomaxprocs_max) {
			n = g->gomaxprocs_max;
			note = ", lowered to gomaxprocsMax";
		}
		want(c, pl, "GOMAXPROCS", AFMT(c, "%lld", (long long)n),
		     ex ? AFMT(c, "%s(cpu limit %s)%s", g->gomaxprocs == POLICY_ROUND_CEIL ? "ceil" : "floor",
			       r->cpu_limit_s, note)
			: "");
	}
	if (!g->gomemlimit) {
		/* nothing: the policy turned GOMEMLIMIT off */
	} else if (!r->mem_limit) {
		change(c, pl, "GOMEMLIMIT", NULL, TUNE_SKIP, "no memory limit, so no OOM kill to avoid");
	} else {
		__int128 v = (__int128)r->mem_limit_b * g->gomemlimit_ratio_ppm / 1000000;
		const char *val;

		if (v >= 16 * MIB)
			val = AFMT(c, "%lldMiB", (long long)(v / MIB));
		else
			val = AFMT(c, "%lld", (long long)v);
		if (v <= 0)
			change(c, pl, "GOMEMLIMIT", NULL, TUNE_SKIP, "memory limit too small");
		else
			want(c, pl, "GOMEMLIMIT", val,
			     ex ? AFMT(c, "%g x memory limit %s%s", g->gomemlimit_ratio_ppm / 1e6, r->mem_limit_s,
				       v >= 16 * MIB ? ", rounded down to MiB" : "")
				: "");
	}
	if (g->gogc)
		want(c, pl, "GOGC", g->gogc, "policy sets gogc");
}

/* --- Java: JAVA_TOOL_OPTIONS merge ------------------------------------ */

/* The identity of a JVM flag, so a user's flag and ours are recognised as
 * the same knob: -XX:[+-]Name and -XX:Name=v -> "-XX:Name"; -Dp=v -> "-Dp";
 * -Xmx512m -> "-Xmx" (likewise -Xms -Xss -Xmn); anything else up to '='. */
static size_t flag_key(const char *f, size_t n, const char **key)
{
	size_t i;

	*key = f;
	if (n > 5 && strncmp(f, "-XX:", 4) == 0 && (f[4] == '+' || f[4] == '-')) {
		*key = f + 5; /* caller compares the name part */
		return n - 5;
	}
	if (n >= 4 && (strncmp(f, "-Xmx", 4) == 0 || strncmp(f, "-Xms", 4) == 0 ||
		       strncmp(f, "-Xss", 4) == 0 || strncmp(f, "-Xmn", 4) == 0))
		return 4;
	for (i = 0; i < n && f[i] != '='; i++)
		;
	if (strncmp(f, "-XX:", 4) == 0 && i > 4) {
		*key = f + 4;
		return i - 4;
	}
	return i;
}

static bool same_flag(const char *a, size_t na, const char *b, size_t nb)
{
	const char *ka, *kb;
	size_t la = flag_key(a, na, &ka), lb = flag_key(b, nb, &kb);
	bool xa = na > 4 && strncmp(a, "-XX:", 4) == 0, xb = nb > 4 && strncmp(b, "-XX:", 4) == 0;

	return xa == xb && la == lb && memcmp(ka, kb, la) == 0;
}

/* Find a whitespace-separated token of opts that is the same flag as f. */
static const char *find_flag(const char *opts, const char *f, size_t *tlen)
{
	size_t nf = strlen(f);

	for (const char *p = opts; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		const char *s = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (p > s && same_flag(s, (size_t)(p - s), f, nf)) {
			*tlen = (size_t)(p - s);
			return s;
		}
	}
	return NULL;
}

static const char *pct(struct ctx *c, uint32_t milli)
{
	if (milli % 1000 == 0)
		return AFMT(c, "%u.0", milli / 1000);
	char *s = (char *)AFMT(c, "%u.%03u", milli / 1000, milli % 1000);
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '0')
		s[--n] = '\0';
	return s;
}

static const char *env_value(const cJSON *env, const char *name, bool *from, int *idx);

static void plan_java(struct ctx *c, struct plan *pl, const struct policy_java *j, const struct resources *r,
		      const cJSON *env, bool override)
{
	const char *flags[64];
	const char *fknob[64];
	size_t nf = 0;
	bool from = false;
	int idx;
	const char *user = env_value(env, "JAVA_TOOL_OPTIONS", &from, &idx);
	struct buf out;
	size_t tlen;

	if (j->active_processor_count == POLICY_ROUND_UNSET)
		change(c, pl, "-XX:ActiveProcessorCount", NULL, TUNE_SKIP, "activeProcessorCount: unset");
	else if (!r->cpu_limit)
		change(c, pl, "-XX:ActiveProcessorCount", NULL, TUNE_SKIP, "no cpu limit");
	else {
		int64_t n = cpus(r->cpu_limit_m, j->active_processor_count);
		fknob[nf] = "-XX:ActiveProcessorCount";
		flags[nf++] = AFMT(c, "-XX:ActiveProcessorCount=%lld", (long long)(n < 1 ? 1 : n));
	}
	if (j->max_ram_pct_milli) {
		const char *t;
		if (!r->mem_limit)
			change(c, pl, "-XX:MaxRAMPercentage", NULL, TUNE_SKIP,
			       "no memory limit: a percentage would be of the node's memory");
		else if (user && ((t = find_flag(user, "-Xmx1", &tlen)) || (t = find_flag(user, "-XX:MaxRAM=1", &tlen))))
			change(c, pl, "-XX:MaxRAMPercentage", NULL, TUNE_SKIP,
			       AFMT(c, "the user's %.*s takes precedence", (int)tlen, t));
		else {
			fknob[nf] = "-XX:MaxRAMPercentage";
			flags[nf++] = AFMT(c, "-XX:MaxRAMPercentage=%s", pct(c, j->max_ram_pct_milli));
		}
	}
	if (j->initial_ram_pct_milli && r->mem_limit) {
		fknob[nf] = "-XX:InitialRAMPercentage";
		flags[nf++] = AFMT(c, "-XX:InitialRAMPercentage=%s", pct(c, j->initial_ram_pct_milli));
	}
	for (size_t i = 0; i < j->options.n && nf < sizeof flags / sizeof flags[0]; i++) {
		fknob[nf] = j->options.v[i];
		flags[nf++] = j->options.v[i];
	}
	if (nf == 0)
		return;
	if (from) {
		for (size_t i = 0; i < nf; i++)
			change(c, pl, fknob[i], flags[i], TUNE_SKIP, "JAVA_TOOL_OPTIONS is set from valueFrom");
		return;
	}

	/* Merge: keep every user flag; ours are appended, or replace the
	 * user's only under override. Never two copies of one flag. */
	buf_init(&out, 16384);
	if (user && buf_puts(&out, user))
		c->oom = true;
	for (size_t i = 0; i < nf; i++) {
		const char *t = out.data ? find_flag(out.data, flags[i], &tlen) : NULL;

		if (t && tlen == strlen(flags[i]) && memcmp(t, flags[i], tlen) == 0) {
			change(c, pl, fknob[i], flags[i], TUNE_KEEP, "already in JAVA_TOOL_OPTIONS");
		} else if (t && !override) {
			change(c, pl, fknob[i], flags[i], TUNE_SKIP,
			       AFMT(c, "the user sets %.*s (override: false)", (int)tlen, t));
		} else if (t) {
			size_t off = (size_t)(t - out.data), rest = out.len - off - tlen;
			struct buf nb;

			buf_init(&nb, 16384);
			if (buf_append(&nb, out.data, off) || buf_puts(&nb, flags[i]) ||
			    buf_append(&nb, out.data + off + tlen, rest))
				c->oom = true;
			buf_release(&out);
			out = nb;
			change(c, pl, fknob[i], flags[i], TUNE_SET, "replaces the user's value (override: true)");
		} else {
			if ((out.len && buf_putc(&out, ' ')) || buf_puts(&out, flags[i]))
				c->oom = true;
			change(c, pl, fknob[i], flags[i], TUNE_SET, "added to JAVA_TOOL_OPTIONS");
		}
	}
	if (!user || strcmp(user, out.data ? out.data : "") != 0) {
		struct tune_change *ch;
		if (pl->n < pl->cap && (ch = change(c, pl, "JAVA_TOOL_OPTIONS", NULL, TUNE_SET, "merged JVM flags"))) {
			ch->value = arena_strndup(c->a, out.data ? out.data : "", out.len);
			if (!ch->value)
				c->oom = true;
			pl->w[pl->n++] = (struct want){.name = "JAVA_TOOL_OPTIONS", .value = ch->value,
						       .reason = ch->reason, .change = ch, .merged = true};
		} else {
			c->oom = true;
		}
	} else {
		change(c, pl, "JAVA_TOOL_OPTIONS", user, TUNE_KEEP, "has every flag already");
	}
	buf_release(&out);
}

/* --- env settlement ---------------------------------------------------- */

/* The value the container gives name (the last definition wins, as in the
 * kubelet), or NULL when it does not define it. *from is set for
 * valueFrom; *idx to the entry's index. */
/* The value of an env entry: "" with *from set for valueFrom. */
static const char *entry_value(const cJSON *hit, bool *from)
{
	*from = false;
	if (!hit)
		return NULL;
	if (json_get(hit, "valueFrom")) {
		*from = true;
		return "";
	}
	const char *v = json_get_str(hit, "value");
	return v ? v : "";
}

static const char *env_value(const cJSON *env, const char *name, bool *from, int *idx)
{
	const cJSON *e, *hit = NULL;
	int i = 0;

	*idx = -1;
	cJSON_ArrayForEach(e, env) {
		const char *n = json_get_str(e, "name");
		if (n && strcmp(n, name) == 0) {
			hit = e;
			*idx = i;
		}
		i++;
	}
	return entry_value(hit, from);
}

/* env_value for every wanted name at once: one pass over env, which
 * reads each entry's name once (pods carry dozens of variables and the
 * plan a handful; name by name, this was 8% of a 60 KB pod's time). */
static void env_find(const cJSON *env, const struct plan *pl, const cJSON **hit, int *idx)
{
	const cJSON *e;
	int i = 0;

	for (size_t k = 0; k < pl->n; k++) {
		hit[k] = NULL;
		idx[k] = -1;
	}
	cJSON_ArrayForEach(e, env) {
		const char *n = json_get_str(e, "name");

		for (size_t k = 0; n && k < pl->n; k++) {
			if (strcmp(n, pl->w[k].name) == 0) {
				hit[k] = e; /* the last definition wins */
				idx[k] = i;
			}
		}
		i++;
	}
}

static void write_env_entry(struct patch *p, const char *name, const char *value)
{
	patch_json_raw(p, "{\"name\":");
	patch_json_str(p, name);
	patch_json_raw(p, ",\"value\":");
	patch_json_str(p, value);
	patch_json_raw(p, "}");
}

static void settle_env(struct ctx *c, struct plan *pl, const cJSON *env, bool override, const char *cname,
		       const struct patch_path *cpath)
{
	enum env_op *ops = arena_alloc(c->a, (pl->n + 1) * sizeof *ops);
	int *idx = arena_alloc(c->a, (pl->n + 1) * sizeof *idx);
	const cJSON **hit = arena_alloc(c->a, (pl->n + 1) * sizeof *hit);
	bool have_env = cJSON_IsArray(env);
	size_t n_add = 0;
	struct patch_path pp;

	if (!ops || !idx || !hit) {
		c->oom = true;
		return;
	}
	env_find(have_env ? env : NULL, pl, hit, idx);
	for (size_t i = 0; i < pl->n; i++) {
		struct want *w = &pl->w[i];
		bool from;
		const char *cur = entry_value(hit[i], &from);

		ops[i] = ENV_NONE;
		if (!cur) {
			ops[i] = ENV_ADD;
			n_add++;
			continue;
		}
		if (strcmp(w->name, "GOMEMLIMIT") == 0 && !from && !go_bytes_valid(cur) &&
		    !(override && strcmp(cur, w->value) != 0))
			warn(c, AFMT(c, "container '%s': GOMEMLIMIT '%s' is not Go syntax and makes the Go "
					"runtime abort at start; write bytes or e.g. 512MiB", cname, cur));
		if (!from && strcmp(cur, w->value) == 0) {
			w->change->action = TUNE_KEEP;
			w->change->reason = "already set to this value";
		} else if (from && (override || w->merged)) {
			ops[i] = ENV_REPLACE_ENTRY;
		} else if (override || w->merged) {
			const cJSON *ent = cJSON_GetArrayItem(env, idx[i]);
			ops[i] = json_get(ent, "value") ? ENV_REPLACE_VALUE : ENV_ADD_VALUE;
			if (!w->merged)
				w->change->reason = AFMT(c, "replaces the user's '%s' (override: true)", cur);
		} else {
			w->change->action = TUNE_SKIP;
			w->change->reason = from ? "set by the user from valueFrom (override: false)"
						 : AFMT(c, "set by the user to '%s' (override: false)", cur);
		}
	}

	/* No env array: one op adds it whole (appending with /- to a missing
	 * array fails in evanphx/json-patch, and the apiserver then rejects
	 * the pod whatever the failurePolicy). */
	if (n_add && !have_env) {
		bool first = true;

		pp = *cpath;
		patch_path_key(&pp, "env");
		patch_op(&c->patch, "add", &pp);
		patch_json_raw(&c->patch, "[");
		for (size_t i = 0; i < pl->n; i++) {
			if (ops[i] != ENV_ADD)
				continue;
			if (!first)
				patch_json_raw(&c->patch, ",");
			first = false;
			write_env_entry(&c->patch, pl->w[i].name, pl->w[i].value);
		}
		patch_json_raw(&c->patch, "]");
		patch_op_end(&c->patch);
	}
	for (size_t i = 0; i < pl->n; i++) {
		const struct want *w = &pl->w[i];

		pp = *cpath;
		patch_path_key(&pp, "env");
		switch (ops[i]) {
		case ENV_NONE:
			continue;
		case ENV_ADD:
			if (!have_env)
				continue;
			patch_path_key(&pp, "-");
			patch_op(&c->patch, "add", &pp);
			write_env_entry(&c->patch, w->name, w->value);
			break;
		case ENV_REPLACE_VALUE:
		case ENV_ADD_VALUE:
			patch_path_index(&pp, (size_t)idx[i]);
			patch_path_key(&pp, "value");
			patch_op(&c->patch, ops[i] == ENV_ADD_VALUE ? "add" : "replace", &pp);
			patch_json_str(&c->patch, w->value);
			break;
		case ENV_REPLACE_ENTRY:
			patch_path_index(&pp, (size_t)idx[i]);
			patch_op(&c->patch, "replace", &pp);
			write_env_entry(&c->patch, w->name, w->value);
			break;
		}
		patch_op_end(&c->patch);
	}
}

/* --- per container ----------------------------------------------------- */

static bool container_done(const struct plan *pl)
{
	for (size_t i = 0; i < pl->n_ch; i++)
		if (pl->ch[i].action != TUNE_SKIP)
			return true;
	return false;
}

static void record_tuned(struct ctx *c, const struct tune_container *tc, const struct plan *pl)
{
	struct buf *b = &c->tuned;
	bool first = true;
	enum pt_code rc = PT_OK;

	rc |= buf_puts(b, b->len ? "," : "{");
	rc |= buf_put_json_str(b, tc->name, strlen(tc->name));
	rc |= buf_puts(b, ":{\"policy\":");
	rc |= buf_put_json_str(b, tc->policy->name, strlen(tc->policy->name));
	rc |= buf_puts(b, ",\"applied\":[");
	/* Env vars and rlimits; JVM flags are covered by JAVA_TOOL_OPTIONS. */
	for (size_t i = 0; i < pl->n_ch; i++) {
		const struct tune_change *ch = &pl->ch[i];
		if (ch->action == TUNE_SKIP || ch->knob[0] == '-')
			continue;
		rc |= buf_puts(b, first ? "" : ",");
		rc |= buf_put_json_str(b, ch->knob, strlen(ch->knob));
		first = false;
	}
	rc |= buf_puts(b, "]}");
	if (rc)
		c->oom = true;
}

static void plan_rlimits(struct ctx *c, struct plan *pl, const struct tune_container *tc, const struct policy_tune *t)
{
	struct buf *b = &c->rlimits;
	enum pt_code rc = PT_OK;

	if (!t->n_rlimits)
		return;
	rc |= buf_puts(b, b->len ? "," : "{");
	rc |= buf_put_json_str(b, tc->name, strlen(tc->name));
	rc |= buf_puts(b, ":{");
	for (size_t i = 0; i < t->n_rlimits; i++) {
		const char *name = rlimit_name(t->rlimits[i].resource);

		rc |= buf_puts(b, i ? "," : "");
		rc |= buf_put_json_str(b, name, strlen(name));
		rc |= buf_putc(b, ':');
		rc |= buf_put_json_str(b, t->rlimit_src[i], strlen(t->rlimit_src[i]));
		change(c, pl, AFMT(c, "rlimit %s", name), t->rlimit_src[i], TUNE_SET,
		       "recorded in the podtuner.io/rlimits annotation for the node agent");
	}
	rc |= buf_putc(b, '}');
	if (rc)
		c->oom = true;
}

static enum pt_code do_container(struct ctx *c, const cJSON *ct, int index, bool init, struct tune_container *tc)
{
	const char *image;
	const struct policy *p;
	const cJSON *env;
	struct resources r;
	struct plan pl = {0};
	struct patch_path cpath;

	if (!cJSON_IsObject(ct) || !(tc->name = json_get_str(ct, "name")) || !*tc->name)
		return pt_error_set(c->e, PT_INVALID, "spec.%s[%d] has no name", init ? "initContainers" : "containers",
				    index);
	tc->index = index;
	tc->init = init;
	image = json_get_str(ct, "image");
	if (!image)
		image = "";
	tc->runtime = detect_runtime(c, tc->name, &tc->runtime_source);
	p = choose(c, tc, image);
	tc->policy = p;
	if (!p)
		return PT_OK;

	env = json_get(ct, "env");
	if (env && !cJSON_IsArray(env) && !cJSON_IsNull(env))
		return pt_error_set(c->e, PT_INVALID, "container '%s': env is not an array", tc->name);
	read_resources(c, ct, tc->name, &r);

	pl.cap = 8 + p->tune.n_env + p->tune.java.options.n;
	pl.cap_ch = 2 * pl.cap + p->tune.n_rlimits + 8;
	pl.w = arena_alloc(c->a, pl.cap * sizeof *pl.w);
	pl.ch = arena_alloc(c->a, pl.cap_ch * sizeof *pl.ch);
	if (!pl.w || !pl.ch)
		return pt_error_set(c->e, PT_NOMEM, "out of memory tuning container '%s'", tc->name);

	if (p->tune.go.present)
		plan_go(c, &pl, &p->tune.go, &r);
	if (p->tune.java.present)
		plan_java(c, &pl, &p->tune.java, &r, env, p->tune.override);
	for (size_t i = 0; i < p->tune.n_env; i++)
		want(c, &pl, p->tune.env[i].name, p->tune.env[i].value, "policy env");

	patch_path_init(&cpath, c->in->path_prefix);
	patch_path_key(&cpath, "spec");
	patch_path_key(&cpath, init ? "initContainers" : "containers");
	patch_path_index(&cpath, (size_t)index);
	settle_env(c, &pl, env, p->tune.override, tc->name, &cpath);
	plan_rlimits(c, &pl, tc, &p->tune);

	tc->changes = pl.ch;
	tc->n_changes = pl.n_ch;
	if (container_done(&pl)) {
		c->res->n_tuned++;
		record_tuned(c, tc, &pl);
	}
	return PT_OK;
}

/* --- annotations ------------------------------------------------------- */

static void settle_annotations(struct ctx *c)
{
	static const char *const keys[2] = {TUNE_ANN_TUNED, TUNE_ANN_RLIMITS};
	struct buf *vals[2] = {&c->tuned, &c->rlimits};
	const char *want_v[2];
	bool meta = cJSON_IsObject(json_get(c->in->pod, "metadata"));
	struct patch_path pp;

	for (int i = 0; i < 2; i++) {
		if (vals[i]->len && buf_putc(vals[i], '}'))
			c->oom = true;
		want_v[i] = vals[i]->len ? vals[i]->data : NULL;
	}
	patch_path_init(&pp, c->in->path_prefix);
	patch_path_key(&pp, "metadata");
	if (!cJSON_IsObject(c->annotations)) {
		/* No annotations map: add it whole, with every key, because
		 * adding a key under a missing map fails to apply (DESIGN §3). */
		if (!want_v[0] && !want_v[1])
			return;
		if (meta)
			patch_path_key(&pp, "annotations");
		patch_op(&c->patch, "add", &pp);
		patch_json_raw(&c->patch, meta ? "{" : "{\"annotations\":{");
		for (int i = 0, n = 0; i < 2; i++) {
			if (!want_v[i])
				continue;
			if (n++)
				patch_json_raw(&c->patch, ",");
			patch_json_str(&c->patch, keys[i]);
			patch_json_raw(&c->patch, ":");
			patch_json_str(&c->patch, want_v[i]);
		}
		patch_json_raw(&c->patch, meta ? "}" : "}}");
		patch_op_end(&c->patch);
		return;
	}
	patch_path_key(&pp, "annotations");
	for (int i = 0; i < 2; i++) {
		const char *cur = map_str(c->annotations, keys[i]);
		struct patch_path kp = pp;

		if ((!cur && !want_v[i]) || (cur && want_v[i] && strcmp(cur, want_v[i]) == 0))
			continue;
		patch_path_key(&kp, keys[i]);
		if (!want_v[i]) {
			/* A stale record (a pod copied from a tuned one). */
			if (json_get(c->annotations, keys[i])) {
				patch_op(&c->patch, "remove", &kp);
				patch_op_end(&c->patch);
			}
			continue;
		}
		/* add on an existing member replaces it (RFC 6902 4.1). */
		patch_op(&c->patch, "add", &kp);
		patch_json_str(&c->patch, want_v[i]);
		patch_op_end(&c->patch);
	}
}

/* --- entry point ------------------------------------------------------- */

static const char *truthy(const char *v)
{
	return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) ? v : NULL;
}

/* Pod-level facts every container decision needs. */
static void pod_context(struct ctx *c)
{
	const struct tune_input *in = c->in;

	c->labels = json_path(in->pod, "metadata", "labels", NULL);
	c->annotations = json_path(in->pod, "metadata", "annotations", NULL);
	c->ns = in->namespace && *in->namespace ? in->namespace : json_get_str(json_get(in->pod, "metadata"), "namespace");
	if (!c->ns || !*c->ns)
		c->ns = "default";
	c->runtime_class = json_get_str(json_get(in->pod, "spec"), "runtimeClassName");
}

static const char *pod_skipped(const struct ctx *c)
{
	if (map_str(c->annotations, TUNE_ANN_MIRROR))
		return "mirror pod (static pods cannot be changed through the API)";
	if (truthy(map_str(c->annotations, TUNE_ANN_SKIP)) || truthy(map_str(c->labels, TUNE_ANN_SKIP)))
		return "opted out with " TUNE_ANN_SKIP "=true";
	return NULL;
}

const struct policy *tune_match(const struct tune_input *in, const char *container, struct arena *a)
{
	static const char *const lists[] = {"containers", "initContainers"};
	struct tune_result res = {0};
	struct ctx c = {.in = in, .a = a, .res = &res};
	struct tune_input quiet = *in;
	const cJSON *ct;

	quiet.explain = false;
	c.in = &quiet;
	if (!cJSON_IsObject(in->pod))
		return NULL;
	pod_context(&c);
	if (pod_skipped(&c))
		return NULL;
	for (int l = 0; l < 2; l++) {
		cJSON_ArrayForEach(ct, json_path(in->pod, "spec", lists[l], NULL)) {
			struct tune_container tc = {0};
			const char *image = json_get_str(ct, "image");

			tc.name = json_get_str(ct, "name");
			if (!tc.name || strcmp(tc.name, container) != 0)
				continue;
			tc.runtime = detect_runtime(&c, tc.name, &tc.runtime_source);
			return choose(&c, &tc, image ? image : "");
		}
	}
	return NULL;
}

enum pt_code tune_pod(const struct tune_input *in, struct arena *a, struct buf *patch, struct tune_result *out,
		      struct pt_error *e)
{
	struct ctx c = {.in = in, .a = a, .e = e};
	struct tune_result res = {0};
	const cJSON *spec, *lists[2];
	size_t n_total, k = 0;
	enum pt_code rc = PT_OK;

	c.res = &res;
	if (!cJSON_IsObject(in->pod))
		return pt_error_set(e, PT_INVALID, "the object is not a JSON object");
	pod_context(&c);
	spec = json_get(in->pod, "spec");
	if (!cJSON_IsObject(spec))
		return pt_error_set(e, PT_INVALID, "the Pod has no spec object");
	lists[0] = json_get(spec, "containers");
	lists[1] = json_get(spec, "initContainers");
	if (!cJSON_IsArray(lists[0]))
		return pt_error_set(e, PT_INVALID, "spec.containers is %s", lists[0] ? "not an array" : "missing");
	if (lists[1] && !cJSON_IsArray(lists[1]) && !cJSON_IsNull(lists[1]))
		return pt_error_set(e, PT_INVALID, "spec.initContainers is not an array");
	n_total = (size_t)cJSON_GetArraySize(lists[0]) + (size_t)cJSON_GetArraySize(lists[1]);
	if (n_total > TUNE_MAX_CONTAINERS)
		return pt_error_set(e, PT_LIMIT, "the Pod has %zu containers, more than the limit of %d", n_total,
				    TUNE_MAX_CONTAINERS);

	patch_begin(&c.patch, patch);
	buf_init(&c.tuned, TUNE_MAX_ANN_BYTES);
	buf_init(&c.rlimits, TUNE_MAX_ANN_BYTES);

	if ((res.skipped = pod_skipped(&c)))
		goto finish;

	res.containers = arena_alloc(a, (n_total ? n_total : 1) * sizeof *res.containers);
	if (!res.containers) {
		rc = pt_error_set(e, PT_NOMEM, "out of memory");
		goto out;
	}
	memset(res.containers, 0, (n_total ? n_total : 1) * sizeof *res.containers);
	for (int l = 0; l < 2; l++) {
		const cJSON *ct;
		int i = 0;

		cJSON_ArrayForEach(ct, lists[l]) {
			if ((rc = do_container(&c, ct, i++, l == 1, &res.containers[k++])))
				goto out;
		}
	}
	res.n_containers = k;
	settle_annotations(&c);

finish:
	if (c.oom) {
		rc = pt_error_set(e, PT_NOMEM, "out of memory building the patch");
		goto out;
	}
	if ((rc = patch_end(&c.patch))) {
		pt_error_set(e, rc, "cannot build the patch: %s", pt_strerror(rc));
		goto out_restored;
	}
	res.n_ops = c.patch.n_ops;
	*out = res;
out_restored:
	buf_release(&c.tuned);
	buf_release(&c.rlimits);
	return rc;
out:
	/* Mark the patch failed so patch_end cuts the buffer back. */
	c.patch.err = c.patch.err ? c.patch.err : rc;
	if (patch_end(&c.patch) == PT_OK)
		rc = PT_NOMEM; /* unreachable: err was set */
	goto out_restored;
}
