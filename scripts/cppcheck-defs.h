/* SPDX-License-Identifier: Apache-2.0 */
/* Definitions cppcheck needs from system headers it is not given. */
#define cJSON_ArrayForEach(e, a) for ((e) = (a) ? (a)->child : 0; (e); (e) = (e)->next)
