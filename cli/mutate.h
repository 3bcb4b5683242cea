/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner mutate`: what the policies do to a Pod, offline. */
#ifndef PT_MUTATE_H
#define PT_MUTATE_H

/* Entry point; returns the process exit status (0 ok, 1 failure, 2 usage). */
int mutate_main(int argc, char **argv);

#endif
