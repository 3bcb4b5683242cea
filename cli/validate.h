/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner validate`: check policy files. */
#ifndef PT_VALIDATE_H
#define PT_VALIDATE_H

/* Entry point; returns the exit status (0 valid, 1 errors, 2 usage). */
int validate_main(int argc, char **argv);

#endif
