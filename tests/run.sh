#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run the whole suite: every unit test binary, then the integration and VM
# tests, each as its own process under a timeout. Prints one line per test
# and, last, "N passed, N failed" for CI. O names the build directory.
set -u
O=${O:-build/rel}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export O PODTUNER="$top/$O/podtuner" TOP="$top"
pass=0
fail=0
failed=""
logdir=$top/$O/test-logs
mkdir -p "$logdir"

run() { # name timeout cmd...
	name=$1
	limit=$2
	shift 2
	log=$logdir/$(echo "$name" | tr '/' '_').log
	start=$(date +%s.%N)
	if timeout -k 5 "$limit" "$@" >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	secs=$(echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}')
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "PASS $name (${secs}s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		[ "$rc" = 124 ] && echo "FAIL $name: timed out after ${limit}s" || echo "FAIL $name (exit $rc, ${secs}s)"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
}

for t in "$O"/tests/unit/*_test; do
	[ -x "$t" ] || continue
	run "unit/$(basename "$t")" 120 "$t"
done
for t in tests/integration/*.sh; do
	[ -x "$t" ] || continue
	run "integration/$(basename "$t" .sh)" 300 "$t"
done
if [ "${SKIP_VM:-0}" != 1 ]; then
	for t in tests/vm/*_test.sh; do
		[ -x "$t" ] || continue
		run "vm/$(basename "$t" .sh)" 300 "$t"
	done
fi

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
