/* SPDX-License-Identifier: Apache-2.0 */
/* AdmissionReview decoding and the response. The response is written by
 * hand: only the patch is serialised, never the Pod (it is large and the
 * apiserver has it already). */
#include "review.h"

#include <stdio.h>
#include <string.h>

#include "../core/base64.h"
#include "../core/json.h"

const char *review_result_name(enum review_result r)
{
	switch (r) {
	case REVIEW_PATCHED: return "patched";
	case REVIEW_UNCHANGED: return "unchanged";
	case REVIEW_IGNORED: return "ignored";
	case REVIEW_FAILED: return "failed";
	}
	return "?";
}

enum pt_code review_parse(const char *body, size_t len, struct arena *a, struct review_request *out,
			  struct pt_error *e)
{
	struct arena *prev = json_use_arena(a);
	cJSON *root = json_parse(body, len, e);
	const cJSON *req, *kind, *dry;
	struct review_request r = {0};
	enum pt_code rc = PT_OK;

	json_use_arena(prev);
	if (!root)
		return PT_SYNTAX;
	r.api_version = json_get_str(root, "apiVersion");
	if (!r.api_version || (strcmp(r.api_version, "admission.k8s.io/v1") != 0 &&
			       strcmp(r.api_version, "admission.k8s.io/v1beta1") != 0)) {
		rc = pt_error_set(e, PT_INVALID, "apiVersion is not admission.k8s.io/v1");
		goto out;
	}
	if (!json_get_str(root, "kind") || strcmp(json_get_str(root, "kind"), "AdmissionReview") != 0) {
		rc = pt_error_set(e, PT_INVALID, "kind is not AdmissionReview");
		goto out;
	}
	req = json_get(root, "request");
	if (!cJSON_IsObject(req)) {
		rc = pt_error_set(e, PT_INVALID, "the AdmissionReview has no request");
		goto out;
	}
	r.uid = json_get_str(req, "uid");
	if (!r.uid || !*r.uid) {
		rc = pt_error_set(e, PT_INVALID, "request.uid is missing");
		goto out;
	}
	kind = json_get(req, "kind");
	r.group = json_get_str(kind, "group");
	r.kind = json_get_str(kind, "kind");
	r.operation = json_get_str(req, "operation");
	r.namespace = json_get_str(req, "namespace");
	r.name = json_get_str(req, "name");
	dry = json_get(req, "dryRun");
	r.dry_run = cJSON_IsTrue(dry);
	r.object = json_get(req, "object");
	*out = r;
out:
	/* Nodes live in the arena; nothing to free here. */
	return rc;
}

/* warnings: short strings the apiserver shows the user (kubectl prints
 * them as "Warning: ..."), so each says who is speaking. */
static enum pt_code put_warnings(struct buf *out, const char *const *w, size_t n)
{
	enum pt_code rc = PT_OK;
	char t[1024];

	if (!n)
		return PT_OK;
	rc |= buf_puts(out, ",\"warnings\":[");
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(t, sizeof t, "podtuner: %s", w[i]);
		if (len < 0)
			continue;
		if ((size_t)len >= sizeof t)
			len = sizeof t - 1;
		rc |= buf_puts(out, i ? "," : "");
		rc |= buf_put_json_str(out, t, (size_t)len);
	}
	rc |= buf_puts(out, "]");
	return rc ? PT_LIMIT : PT_OK;
}

enum pt_code review_respond(const struct review_request *rq, const struct policy_set *ps, struct arena *a,
			    struct buf *patch, struct buf *out, struct review_outcome *oc)
{
	struct tune_input in = {0};
	struct pt_error err;
	enum pt_code rc = PT_OK;
	const char *warn1[1];

	memset(oc, 0, sizeof *oc);
	oc->result = REVIEW_IGNORED;
	rc |= buf_puts(out, "{\"apiVersion\":");
	rc |= buf_put_json_str(out, rq->api_version, strlen(rq->api_version));
	rc |= buf_puts(out, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
	rc |= buf_put_json_str(out, rq->uid, strlen(rq->uid));
	rc |= buf_puts(out, ",\"allowed\":true");
	if (rc)
		return PT_LIMIT;

	/* Only Pod CREATE is tuned; everything else passes untouched. */
	if (!rq->kind || strcmp(rq->kind, "Pod") != 0 || (rq->group && *rq->group) || !rq->operation ||
	    strcmp(rq->operation, "CREATE") != 0 || !cJSON_IsObject(rq->object))
		goto done;

	in.pod = rq->object;
	in.namespace = rq->namespace;
	in.policies = ps;
	in.path_prefix = "";
	buf_reset(patch);
	if ((rc = tune_pod(&in, a, patch, &oc->tune, &err))) {
		if (rc == PT_NOMEM)
			return rc;
		oc->result = REVIEW_FAILED;
		oc->error = arena_printf(a, "%s", err.msg);
		warn1[0] = arena_printf(a, "cannot tune this pod: %s", err.msg);
		if (!warn1[0] || put_warnings(out, warn1, 1))
			return PT_LIMIT;
		goto done;
	}
	if (oc->tune.skipped)
		goto warnings;
	oc->result = oc->tune.n_ops ? REVIEW_PATCHED : REVIEW_UNCHANGED;
	if (oc->tune.n_ops) {
		/* patch and patchType come together, or not at all. */
		rc |= buf_puts(out, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
		rc |= base64_encode(out, patch->data, patch->len);
		rc |= buf_puts(out, "\"");
		if (rc)
			return PT_LIMIT;
	}
warnings:
	if (put_warnings(out, oc->tune.warnings, oc->tune.n_warnings))
		return PT_LIMIT;
done:
	return buf_puts(out, "}}") ? PT_LIMIT : PT_OK;
}
