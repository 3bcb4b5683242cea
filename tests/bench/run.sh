#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make bench`: every part of the benchmark is its own script here
# (tests/bench/<part>.sh); this runs them all, or the parts named:
# tests/bench/run.sh agent. O names the build directory.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
O=${O:-build/rel}
export PODTUNER="$top/$O/podtuner"
parts=${*:-$(for f in tests/bench/*.sh; do b=$(basename "$f" .sh); [ "$b" = run ] || echo "$b"; done)}
rc=0
for p in $parts; do
	echo "== $p"
	tests/bench/"$p".sh || rc=1
done
exit $rc
