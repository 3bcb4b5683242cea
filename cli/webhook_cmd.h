/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner webhook`: flags to webhook_run. */
#ifndef PT_WEBHOOK_CMD_H
#define PT_WEBHOOK_CMD_H

/* Entry point; returns the exit status (0 clean stop, 1 failure, 2 usage). */
int webhook_cmd_main(int argc, char **argv);

#endif
