#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real-kernel agent test: one boot of the Debian kernel in qemu (2 vCPUs),
# the kubelet's systemd layout, real CPU-bound and memory-hungry workloads,
# and `podtuner rebalance --pods-file` moving cpu.weight (between the
# containers of one pod, and between the slices of pods in a pool that
# spans pods) and widening memory.high (agent_guest.sh says what is
# checked). Run by tests/run.sh with O and PODTUNER set; the sanitizer
# build's podtuner works too. No qemu, kernel or helper is a FAILURE, never
# a skip. About 35 s.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/vm/lib/vm.sh

PODTUNER=${PODTUNER:-$top/${O:-build/rel}/podtuner}
for f in build/vm/bin/vmtool "$PODTUNER"; do
	if [ ! -x "$f" ]; then
		echo "agent_test: FAIL: '$f' is not built (make test builds it; alone: make all vm-bin)" >&2
		exit 1
	fi
done
# A bad policy would cost a boot to find out.
"$PODTUNER" validate tests/vm/agent_policy.yaml >/dev/null ||
	{ echo "agent_test: FAIL: tests/vm/agent_policy.yaml does not validate" >&2; exit 1; }

start=$(date +%s.%N)
vm_new || exit
trap vm_cleanup EXIT
vm_add build/vm/bin/vmtool bin/
vm_add "$PODTUNER" bin/podtuner
vm_add tests/vm/agent_guest.sh
vm_add tests/vm/agent_policy.yaml
# 512 MiB holds the sanitizer build's libraries and the 104 MiB hog.
vm_run -t 150 agent_guest.sh
rc=$?
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "agent_test: VM run took ${VM_SECS:-?}s (/init at ${VM_BOOT_SECS:-?}s), ${secs}s in all" \
	"with $(basename "$(dirname "$PODTUNER")")/podtuner: $(vm_describe_rc $rc)"
if [ "$rc" != 0 ] && [ -s "$VM_OUT/agent.log" ]; then
	echo "agent_test: the agent's log (last 40 lines):"
	tail -n 40 "$VM_OUT/agent.log" | sed 's/^/    /'
fi
exit "$rc"
