/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner test`: policy test cases for CI in policy repositories. */
#ifndef PT_POLICYTEST_H
#define PT_POLICYTEST_H

/* Entry point; returns the exit status (0 all passed, 1 failures, 2 usage). */
int policytest_main(int argc, char **argv);

#endif
