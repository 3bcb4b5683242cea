/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner rebalance`: flags to the node agent. */
#ifndef PT_REBALANCE_H
#define PT_REBALANCE_H

/* Entry point; returns the exit status (0 ok, 1 failure, 2 usage). */
int rebalance_main(int argc, char **argv);

#endif
