/* SPDX-License-Identifier: Apache-2.0 */
/* Reading objects and policies for the CLI. */
#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/fileio.h"
#include "../core/json.h"
#include "../core/yaml.h"

enum pt_code input_read_objects(const char *path, cJSON **docs, struct pt_error *e)
{
	struct buf in;
	char *data;
	size_t len, i = 0;
	struct ystream *ys = NULL;
	cJSON *arr = NULL, *one;
	enum pt_code rc;

	buf_init(&in, INPUT_MAX_BYTES);
	if ((rc = fileio_read(path, INPUT_MAX_BYTES, &in, e)))
		return rc;
	data = in.data ? in.data : (char *)"";
	len = in.len;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
		i++;
	if (!(arr = cJSON_CreateArray())) {
		rc = pt_error_set(e, PT_NOMEM, "out of memory");
		goto out;
	}
	if (i < len && (data[i] == '{' || data[i] == '[')) {
		if (!(one = json_parse(data, len, e))) {
			pt_error_at(e, path, e ? e->line : 0, e ? e->col : 0);
			rc = PT_SYNTAX;
			goto out;
		}
		cJSON_AddItemToArray(arr, one);
	} else {
		if ((rc = yaml_parse(path, data, len, &ys, e)))
			goto out;
		for (size_t d = 0; d < ys->n_docs; d++) {
			if (!ys->docs[d].root)
				continue;
			if (!(one = yaml_to_json(ys->docs[d].root, e))) {
				rc = e ? e->code : PT_INVALID;
				goto out;
			}
			cJSON_AddItemToArray(arr, one);
		}
	}
	*docs = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	yaml_stream_free(ys);
	buf_release(&in);
	return rc;
}

struct policy_set *input_load_policies(const char *const *paths, size_t n)
{
	struct policy_source src[POLICY_MAX_FILES];
	struct policy_diags d = {0};
	struct policy_set *set = NULL;
	enum pt_code rc;
	char line[1024];

	if (n > POLICY_MAX_FILES) {
		fprintf(stderr, "podtuner: too many policy paths (at most %d)\n", POLICY_MAX_FILES);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		src[i] = (struct policy_source){.path = paths[i]};
	rc = n ? policy_set_load(src, n, &set, &d) : policy_set_load_embedded(&set, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", pt_error_format(&d.v[i], line, sizeof line));
	if (d.dropped)
		fprintf(stderr, "... and %zu more errors\n", d.dropped);
	if (rc && !d.n)
		fprintf(stderr, "podtuner: cannot load policies: %s\n", pt_strerror(rc));
	policy_diags_release(&d);
	return rc ? NULL : set;
}

cJSON *input_pod_template(cJSON *obj, const char **prefix)
{
	const char *kind = json_get_str(obj, "kind");
	static const char *const workloads[] = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
						"Job", "ReplicationController"};

	if (!kind || strcmp(kind, "Pod") == 0) {
		*prefix = "";
		return obj;
	}
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
		if (strcmp(kind, workloads[i]) == 0) {
			*prefix = "/spec/template";
			return json_path(obj, "spec", "template", NULL);
		}
	}
	if (strcmp(kind, "CronJob") == 0) {
		*prefix = "/spec/jobTemplate/spec/template";
		return json_path(obj, "spec", "jobTemplate", "spec", "template", NULL);
	}
	return NULL;
}
