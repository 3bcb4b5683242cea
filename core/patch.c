/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Patch writer. Only the patch is serialised on the webhook's path,
 * never the Pod, so this is written for small outputs and no allocation
 * beyond the caller's (reused) buffer. */
#include "patch.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

#include "json.h"

static void pp_put(struct patch_path *pp, const char *s, size_t n)
{
	if (pp->overflow || n >= sizeof pp->s - pp->len) {
		pp->overflow = true;
		return;
	}
	memcpy(pp->s + pp->len, s, n);
	pp->len += n;
	pp->s[pp->len] = '\0';
}

void patch_path_init(struct patch_path *pp, const char *prefix)
{
	pp->len = 0;
	pp->overflow = false;
	pp->s[0] = '\0';
	pp_put(pp, prefix, strlen(prefix));
}

void patch_path_key(struct patch_path *pp, const char *key)
{
	const char *run = key, *k;

	pp_put(pp, "/", 1);
	for (k = key; *k; k++) {
		if (*k != '~' && *k != '/')
			continue;
		pp_put(pp, run, (size_t)(k - run));
		pp_put(pp, *k == '~' ? "~0" : "~1", 2);
		run = k + 1;
	}
	pp_put(pp, run, (size_t)(k - run));
}

void patch_path_index(struct patch_path *pp, size_t index)
{
	char t[24];
	int n = snprintf(t, sizeof t, "/%zu", index);

	pp_put(pp, t, (size_t)n);
}

static void put(struct patch *p, const char *s, size_t n)
{
	if (!p->err)
		p->err = buf_append(p->out, s, n);
}

void patch_begin(struct patch *p, struct buf *out)
{
	p->out = out;
	p->start = out->len;
	p->n_ops = 0;
	p->in_op = false;
	p->err = PT_OK;
	put(p, "[", 1);
}

void patch_op(struct patch *p, const char *op, const struct patch_path *path)
{
	if (path->overflow && !p->err)
		p->err = PT_LIMIT;
	if (p->n_ops++)
		put(p, ",", 1);
	put(p, "{\"op\":\"", 7);
	put(p, op, strlen(op));
	put(p, "\",\"path\":", 9);
	if (!p->err)
		p->err = buf_put_json_str(p->out, path->s, path->len);
	if (strcmp(op, "remove") != 0) {
		put(p, ",\"value\":", 9);
	}
	p->in_op = true;
}

void patch_op_end(struct patch *p)
{
	put(p, "}", 1);
	p->in_op = false;
}

void patch_json_raw(struct patch *p, const char *json)
{
	put(p, json, strlen(json));
}

void patch_json_str(struct patch *p, const char *s)
{
	if (!p->err)
		p->err = buf_put_json_str(p->out, s, strlen(s));
}

enum pt_code patch_end(struct patch *p)
{
	put(p, "]", 1);
	if (p->err) {
		p->out->len = p->start;
		if (p->out->data)
			p->out->data[p->start] = '\0';
	}
	return p->err;
}

/* --- applying ---------------------------------------------------------- */

/* Unescape one reference token (RFC 6901 §4) into out. */
static bool token(const char *s, size_t n, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '~') {
			if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))
				return false;
			c = s[++i] == '0' ? '~' : '/';
		}
		if (j + 1 >= cap)
			return false;
		out[j++] = c;
	}
	out[j] = '\0';
	return true;
}

static bool array_index(const char *t, cJSON *arr, bool allow_end, int *idx)
{
	int n = cJSON_GetArraySize(arr);
	char *end;
	long v;

	if (allow_end && strcmp(t, "-") == 0) {
		*idx = n;
		return true;
	}
	if (!*t || (t[0] == '0' && t[1]) || t[0] < '0' || t[0] > '9')
		return false;
	v = strtol(t, &end, 10);
	if (*end || v > n || (!allow_end && v == n))
		return false;
	*idx = (int)v;
	return true;
}

static enum pt_code apply_one(cJSON *doc, const cJSON *op, struct pt_error *e)
{
	const char *name = json_get_str(op, "op"), *path = json_get_str(op, "path");
	const cJSON *value = json_get(op, "value");
	char tok[PATCH_PATH_MAX];
	cJSON *parent = doc, *target;
	const char *p, *last;
	int idx;

	if (!name || !path)
		return pt_error_set(e, PT_INVALID, "operation lacks 'op' or 'path'");
	if (path[0] != '/')
		return pt_error_set(e, PT_UNSUPPORTED, "path '%s' is not supported", path);
	last = strrchr(path, '/');
	for (p = path; p < last;) {
		const char *q = strchr(p + 1, '/');
		if (!token(p + 1, (size_t)(q - p - 1), tok, sizeof tok))
			return pt_error_set(e, PT_INVALID, "bad pointer '%s'", path);
		if (cJSON_IsArray(parent)) {
			if (!array_index(tok, parent, false, &idx))
				return pt_error_set(e, PT_NOTFOUND, "'%s': no such index", path);
			parent = cJSON_GetArrayItem(parent, idx);
		} else {
			parent = json_get(parent, tok);
		}
		if (!parent)
			return pt_error_set(e, PT_NOTFOUND, "'%s': parent does not exist", path);
		p = q;
	}
	if (!token(last + 1, strlen(last + 1), tok, sizeof tok))
		return pt_error_set(e, PT_INVALID, "bad pointer '%s'", path);
	if (!cJSON_IsArray(parent) && !cJSON_IsObject(parent))
		return pt_error_set(e, PT_INVALID, "'%s': parent is not a container", path);

	if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0) {
		bool add = name[0] == 'a';
		cJSON *v;

		if (!value)
			return pt_error_set(e, PT_INVALID, "'%s' %s lacks a value", path, name);
		if (!(v = cJSON_Duplicate(value, true)))
			return pt_error_set(e, PT_NOMEM, "out of memory");
		if (cJSON_IsArray(parent)) {
			if (!array_index(tok, parent, add, &idx)) {
				cJSON_Delete(v);
				return pt_error_set(e, PT_NOTFOUND, "'%s': index out of range", path);
			}
			if (!add)
				cJSON_ReplaceItemInArray(parent, idx, v);
			else if (idx == cJSON_GetArraySize(parent))
				cJSON_AddItemToArray(parent, v);
			else
				cJSON_InsertItemInArray(parent, idx, v);
			return PT_OK;
		}
		if (json_get(parent, tok)) {
			cJSON_ReplaceItemInObjectCaseSensitive(parent, tok, v);
			return PT_OK;
		}
		if (!add) {
			cJSON_Delete(v);
			return pt_error_set(e, PT_NOTFOUND, "replace: '%s' does not exist", path);
		}
		cJSON_AddItemToObject(parent, tok, v);
		return PT_OK;
	}
	if (cJSON_IsArray(parent)) {
		if (!array_index(tok, parent, false, &idx))
			return pt_error_set(e, PT_NOTFOUND, "'%s': index out of range", path);
		target = cJSON_GetArrayItem(parent, idx);
	} else {
		target = json_get(parent, tok);
	}
	if (!target)
		return pt_error_set(e, PT_NOTFOUND, "%s: '%s' does not exist", name, path);
	if (strcmp(name, "remove") == 0) {
		cJSON_Delete(cJSON_DetachItemViaPointer(parent, target));
		return PT_OK;
	}
	if (strcmp(name, "test") == 0) {
		if (!value || !cJSON_Compare(target, value, true))
			return pt_error_set(e, PT_INVALID, "test: '%s' differs", path);
		return PT_OK;
	}
	return pt_error_set(e, PT_UNSUPPORTED, "operation '%s' is not supported", name);
}

enum pt_code patch_apply(cJSON *doc, const char *patch, size_t len, struct pt_error *e)
{
	cJSON *ops = json_parse(patch, len, e), *op;
	enum pt_code rc = PT_OK;
	int i = 0;

	if (!ops)
		return PT_SYNTAX;
	if (!cJSON_IsArray(ops)) {
		rc = pt_error_set(e, PT_INVALID, "a JSON Patch must be an array");
		goto out;
	}
	cJSON_ArrayForEach(op, ops) {
		if ((rc = apply_one(doc, op, e))) {
			if (e) {
				char m[sizeof e->msg];
				snprintf(m, sizeof m, "patch[%d]: %.400s", i, e->msg);
				memcpy(e->msg, m, sizeof m);
			}
			goto out;
		}
		i++;
	}
out:
	cJSON_Delete(ops);
	return rc;
}
