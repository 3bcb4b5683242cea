#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make lint`: calls the conventions ban (curl's checksrc style), then
# cppcheck over the sources. Exits non-zero on any finding.
set -u
cd "$(dirname "$0")/.."
status=0
src=$(git ls-files 'core/*.[ch]' 'webhook/*.[ch]' 'rebalancer/*.[ch]' 'cli/*.[ch]' 'tests/*.[ch]' 2>/dev/null)

# String literals are blanked first, so "file system (EROFS)" is no call.
banned=$(for f in $src; do
	sed -E 's/"([^"\\]|\\.)*"/""/g' "$f" | grep -nE '(^|[^a-z_])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets|system)[[:space:]]*\(' |
		sed "s|^|$f:|"
done)
if [ -n "$banned" ]; then
	echo "lint: banned calls (use snprintf, bounded copies, strtol, no shell):"
	echo "$banned"
	status=1
fi

# varFuncNullUB: NULL ends our key lists, and va_arg may read a void * as
# a char pointer (C11 7.16.1.1p2). ctuuninitvar: output parameters.
if command -v cppcheck >/dev/null; then
	if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB --suppress=ctuuninitvar -D_GNU_SOURCE \
		--include=scripts/cppcheck-defs.h \
		-I core core webhook rebalancer cli; then
		status=1
	fi
else
	echo "lint: cppcheck is missing (make deps installs it)"
	status=1
fi
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
