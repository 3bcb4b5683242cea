#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `podtuner test`: the example policy tests pass, and a file of wrong
# expectations fails with one located message per wrong expectation.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
pt=${PODTUNER:-build/rel/podtuner}
fail=0

out=$("$pt" test examples/policy-tests 2>&1)
rc=$?
echo "$out"
if [ "$rc" = 0 ] && echo "$out" | grep -q '^5 passed, 0 failed$'; then
	echo "PASS examples pass"
else
	echo "FAIL examples: exit $rc"
	fail=1
fi

out=$("$pt" test tests/fixtures/policytest-failing 2>&1)
rc=$?
echo "$out"
f=tests/fixtures/policytest-failing/podtuner-test.yaml
for want in "$f:12:23: GOMAXPROCS is '2', want '3'" "$f:15:17: GOMEMLIMIT is '460MiB', want it unset" \
	"$f:18:13: app: policy is 'default-go', want 'some-other-policy'" "$f:19:15: no resource named 'no-such-pod'" \
	"^0 passed, 4 failed$"; do
	if echo "$out" | grep -q -- "$want"; then
		echo "PASS reports: $want"
	else
		echo "FAIL missing: $want"
		fail=1
	fi
done
[ "$rc" = 1 ] && echo "PASS exit status 1" || { echo "FAIL exit status $rc, want 1"; fail=1; }

"$pt" test /nonexistent >/dev/null 2>&1
[ $? = 1 ] && echo "PASS missing dir is an error" || { echo "FAIL missing dir"; fail=1; }
exit $fail
