/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning engine: (Pod, policy set) -> the changes to make, each with
 * its reason, and an RFC 6902 patch that the kube-apiserver can apply.
 *
 * Pure: no I/O, no clock, no globals. Everything it returns lives in the
 * caller's arena, and the patch is appended to the caller's buffer, so the
 * webhook allocates nothing per request once warm. The patch is built
 * against the object as received (the apiserver applies it to exactly
 * that), and running the engine on its own output yields no operations,
 * because the apiserver may reinvoke the webhook (reinvocationPolicy). */
#ifndef PT_TUNE_H
#define PT_TUNE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "policy.h"

/* Annotations and labels the engine reads and writes. */
#define TUNE_ANN_TUNED "podtuner.io/tuned"     /* what was applied, by which policy */
#define TUNE_ANN_RLIMITS "podtuner.io/rlimits" /* wanted rlimits, for the node agent */
#define TUNE_ANN_SKIP "podtuner.io/skip"       /* "true" on a pod: leave it alone */
#define TUNE_LABEL_RUNTIME "podtuner.io/runtime"
#define TUNE_ANN_RUNTIME_PREFIX "podtuner.io/runtime." /* + container name */
#define TUNE_ANN_MIRROR "kubernetes.io/config.mirror"

enum tune_action {
	TUNE_SET,  /* the patch sets it */
	TUNE_KEEP, /* already has the wanted value */
	TUNE_SKIP, /* not set; reason says why */
};

struct tune_change {
	const char *knob;   /* "GOMAXPROCS", "JAVA_TOOL_OPTIONS", "rlimit nofile", env name */
	const char *value;  /* wanted value (NULL when skipped before one was computed) */
	enum tune_action action;
	const char *reason; /* "floor(2500m cpu limit)", "no memory limit", ... */
};

struct tune_container {
	const char *name;
	int index;     /* in spec.containers or spec.initContainers */
	bool init;     /* an initContainer */
	enum policy_runtime runtime; /* as detected (ANY = undeclared) */
	const char *runtime_source;  /* "label", "annotation", "runtimeClassName", ... */
	const struct policy *policy; /* the winner, NULL if none matched */
	const char *why;             /* explain: why the policy matched, or why none did */
	struct tune_change *changes;
	size_t n_changes;
};

struct tune_result {
	const char *skipped; /* non-NULL: the whole pod was skipped, and why */
	struct tune_container *containers;
	size_t n_containers;
	size_t n_tuned;   /* containers with at least one knob SET or KEEP */
	size_t n_ops;     /* operations in the patch */
	const char **warnings; /* for AdmissionReview response.warnings */
	size_t n_warnings;
};

struct tune_input {
	const cJSON *pod;                 /* borrowed; a Pod object */
	const char *namespace;            /* the request's namespace; NULL: pod's own */
	const struct policy_set *policies; /* borrowed */
	const char *path_prefix;          /* "" for a Pod, "/spec/template" for a workload */
	bool explain;                     /* fill `why` for every container */
};

/* Run the engine. On success fills *out (memory from a) and appends a JSON
 * array of operations to patch ("[]" when there is nothing to do). Fails
 * with PT_INVALID when the object is not a Pod-shaped JSON object (message
 * says which field is wrong), PT_LIMIT when the pod exceeds the engine's
 * limits, or PT_NOMEM; then *out is untouched and patch is restored to its
 * original length. */
enum pt_code tune_pod(const struct tune_input *in, struct arena *a, struct buf *patch,
		      struct tune_result *out, struct pt_error *e) PT_WUR;

/* The policy that wins for the container named `container` of in->pod
 * (containers and initContainers), decided exactly as tune_pod decides it,
 * including the pod-level skips (mirror pods, opt-out). NULL when none
 * matches, the pod is skipped, or there is no such container. a holds
 * scratch memory for the call. Used by the node agent, which must agree
 * with the webhook on which policy owns a container. */
const struct policy *tune_match(const struct tune_input *in, const char *container, struct arena *a);

const char *tune_action_name(enum tune_action a);

#endif
