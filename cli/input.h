/* SPDX-License-Identifier: Apache-2.0 */
/* What the offline subcommands share: reading Kubernetes objects from YAML
 * or JSON files, and loading a policy set with its errors printed. */
#ifndef PT_INPUT_H
#define PT_INPUT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "../core/err.h"
#include "../core/policy.h"

#define INPUT_MAX_BYTES (8u << 20)

/* Read every document of path ("-" = stdin), YAML or JSON (a JSON file
 * starts with '{' or '['), into a cJSON array that is yours to
 * cJSON_Delete. Empty documents are dropped. */
enum pt_code input_read_objects(const char *path, cJSON **docs, struct pt_error *e) PT_WUR;

/* Load the policies at paths (n == 0: the embedded defaults). Every error
 * is printed to stderr as file:line:col: message. Returns NULL on error. */
struct policy_set *input_load_policies(const char *const *paths, size_t n);

/* The pod template inside a workload object and the JSON pointer to it:
 * a Pod is itself (""), a Deployment/StatefulSet/DaemonSet/ReplicaSet/Job
 * uses spec.template, a CronJob spec.jobTemplate.spec.template. Returns
 * NULL for other kinds. */
cJSON *input_pod_template(cJSON *obj, const char **prefix);

#endif
