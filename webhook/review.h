/* SPDX-License-Identifier: Apache-2.0 */
/* AdmissionReview in, AdmissionReview out: the one module that knows the
 * shape of admission.k8s.io/v1 (DESIGN.md §3). It fails open: anything it
 * cannot tune is allowed unchanged, with a warning, because a webhook
 * error must never block a user's pod. */
#ifndef PT_REVIEW_H
#define PT_REVIEW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/err.h"
#include "../core/policy.h"
#include "../core/tune.h"

struct review_request {
	const char *api_version; /* echoed: the apiserver wants its own version back */
	const char *uid;
	const char *group;       /* request.kind.group */
	const char *kind;        /* request.kind.kind */
	const char *operation;   /* CREATE, UPDATE, ... */
	const char *namespace;
	const char *name;        /* may be empty on CREATE (generateName) */
	bool dry_run;
	const cJSON *object;
};

enum review_result {
	REVIEW_PATCHED,   /* allowed with a patch */
	REVIEW_UNCHANGED, /* a Pod CREATE that needed nothing */
	REVIEW_IGNORED,   /* not a Pod CREATE, or the pod opted out */
	REVIEW_FAILED,    /* the engine could not read the Pod: allowed, with a warning */
};

struct review_outcome {
	enum review_result result;
	struct tune_result tune;
	const char *error; /* REVIEW_FAILED: why */
};

/* Parse len bytes of body. JSON nodes are allocated in a (the caller's
 * per-request arena). Fails with PT_SYNTAX for bad JSON and PT_INVALID for
 * JSON that is not an AdmissionReview v1/v1beta1 with a request and a uid;
 * e->msg is a short reason fit for a 400 response. */
enum pt_code review_parse(const char *body, size_t len, struct arena *a, struct review_request *out,
			  struct pt_error *e) PT_WUR;

/* Decide and write the response AdmissionReview to out. patch is scratch
 * space for the JSON Patch before it is base64-encoded. Only PT_NOMEM or
 * PT_LIMIT (out's cap) can fail it: every other problem is answered with
 * allowed=true. *oc says what happened. */
enum pt_code review_respond(const struct review_request *rq, const struct policy_set *ps, struct arena *a,
			    struct buf *patch, struct buf *out, struct review_outcome *oc) PT_WUR;

const char *review_result_name(enum review_result r);

#endif
