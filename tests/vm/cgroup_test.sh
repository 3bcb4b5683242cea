#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real-kernel smoke test: boot the Debian kernel in qemu, build the
# kubelet's systemd cgroup layout, and check podtuner's cgroup code
# (build/vm/bin/cgroup_probe, built from rebalancer/cgroup.c) and the
# podtuner binary against it. Run by tests/run.sh with O and PODTUNER set.
# No qemu, kernel or helper is a FAILURE, never a skip. About 10 s.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/vm/lib/vm.sh

PODTUNER=${PODTUNER:-$top/${O:-build/rel}/podtuner}
for f in build/vm/bin/vmtool build/vm/bin/cgroup_probe "$PODTUNER"; do
	if [ ! -x "$f" ]; then
		echo "cgroup_test: FAIL: '$f' is not built (make test builds it; alone: make all vm-bin)" >&2
		exit 1
	fi
done

vm_new || exit
trap vm_cleanup EXIT
vm_add build/vm/bin/vmtool bin/
vm_add build/vm/bin/cgroup_probe bin/
vm_add "$PODTUNER" bin/podtuner
vm_add tests/vm/cgroup_guest.sh
vm_run -t 90 cgroup_guest.sh
rc=$?
echo "cgroup_test: VM run took ${VM_SECS}s (/init at ${VM_BOOT_SECS:-?}s): $(vm_describe_rc $rc)"
[ "$rc" = 0 ] || exit "$rc"

# The PodList the guest wrote must be what the agent will read: valid JSON
# whose UIDs, QoS classes and containerIDs name the scopes that were built.
/usr/bin/python3 - "$VM_OUT/pods.json" "$VM_OUT/expect" <<'EOF' || exit 1
import json, sys
pods = json.load(open(sys.argv[1]))
assert pods["kind"] == "PodList", pods.get("kind")
seen = {}
for p in pods["items"]:
    for s in p["status"]["containerStatuses"]:
        seen[s["containerID"]] = (p["status"]["qosClass"], p["metadata"]["uid"])
bad = 0
for line in open(sys.argv[2]):
    kind, qos, uid, cid, path, *_ = line.split()
    got = seen.get("containerd://" + cid)
    if got != (qos, uid):
        print(f"pods.json: container {cid}: got {got}, want {(qos, uid)}")
        bad += 1
web = next(p for p in pods["items"] if p["metadata"]["name"] == "web")
assert web["metadata"]["annotations"]["prometheus.io/port"] == "9100"
assert web["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1000m"
print(f"pods.json: {len(pods['items'])} pods, {len(seen)} containers match the layout")
sys.exit(1 if bad else 0)
EOF
