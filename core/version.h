/* SPDX-License-Identifier: Apache-2.0 */
/* The build's version (`git describe`, or "dev"). It is defined in one
 * generated file that the Makefile rewrites only when the version changes
 * ($(O)/gen/version.c), so a rebuild after a commit relinks the new version
 * into every subcommand without recompiling anything else. */
#ifndef PT_VERSION_H
#define PT_VERSION_H

extern const char pt_version[];

#endif
