# shellcheck shell=dash
# SPDX-License-Identifier: Apache-2.0
# Guest half of cgroup_test.sh (busybox ash, cwd /work): builds the kubelet
# layout, checks the values the runtime writes, throttles one container,
# then runs cgroup_probe (rebalancer/cgroup.c on the real kernel) and the
# podtuner binary. Exit status: the number of failed steps (0 = pass).
set -u
. ./kubelet.sh
fail=0
say() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then echo "  ok   $d"; else echo "  FAIL $d"; fail=$((fail + 1)); fi
}
eq() { [ "$1" = "$2" ] || { echo "    got '$1', want '$2'" >&2; return 1; }; }

say "kernel $(uname -r), $(nproc) vCPUs; cgroup2 mount: $(grep cgroup2 /proc/mounts | cut -d' ' -f4)"
check "cgroup2 mounted with nsdelegate,memory_recursiveprot" \
	grep -q 'cgroup2 .*nsdelegate.*memory_recursiveprot' /proc/mounts

kp_init
kp_pod web burstable uid=8d3f2a1c-5b6e-4f70-9a81-b2c3d4e5f607 label=app=web \
	annotation=prometheus.io/scrape=true annotation=prometheus.io/port=9100
kp_container web app cpu_request=500m cpu_limit=1 memory_limit=256Mi
kp_container web sidecar cpu_request=100m cpu_limit=100m memory_limit=64Mi
kp_pod batch besteffort
kp_container batch job
kp_pod db guaranteed
kp_container db pg cpu_limit=1 memory_limit=128Mi
kp_pod legacy burstable controllers=memory,pids,io
kp_container legacy old memory_limit=64Mi
kp_container web ephemeral cpu_request=100m

CG=/sys/fs/cgroup
KP=$CG/kubepods.slice
BU=$KP/kubepods-burstable.slice
say "layout:"
find "$KP" -type d | sed "s|^$CG/|  |"

# What runc and the kubelet would have written (KP_WEIGHTS=new).
APP=$(kp_path web app)
check "scope name and nesting" eq "$APP" \
	"$BU/kubepods-burstable-pod8d3f2a1c_5b6e_4f70_9a81_b2c3d4e5f607.slice/cri-containerd-$(kp_get web app id).scope"
check "500m -> cpu.weight 59" eq "$(cat "$APP/cpu.weight")" 59
check "1 CPU limit -> cpu.max" eq "$(cat "$APP/cpu.max")" "100000 100000"
check "256Mi -> memory.max" eq "$(cat "$APP/memory.max")" 268435456
check "memory.high untouched" eq "$(cat "$APP/memory.high")" max
check "container scope has cpu, io, memory, pids" \
	eq "$(tr ' ' '\n' <"$APP/cgroup.controllers" | grep -xE 'cpu|io|memory|pids' | tr '\n' ' ')" "cpu io memory pids "
# The kubelet writes the pod slice with its own linear map (getCPUWeight).
check "pod slice: 700m of requests -> cpu.weight 28 (the kubelet's map)" eq "$(cat "$(kp_path web)/cpu.weight")" 28
check "pod slice: no cpu.max (ephemeral has no limit)" eq "$(cat "$(kp_path web)/cpu.max")" "max 100000"
check "Guaranteed pod under kubepods.slice with 1 CPU" eq "$(cat "$(kp_path db)/cpu.max")" "100000 100000"
check "Guaranteed container weight 100" eq "$(cat "$(kp_path db pg)/cpu.weight")" 100
check "BestEffort slice and container weight 1" \
	eq "$(cat "$KP/kubepods-besteffort.slice/cpu.weight") $(cat "$(kp_path batch job)/cpu.weight")" "1 1"
check "legacy pod's container has no cpu.weight" test ! -e "$(kp_path legacy old)/cpu.weight"
check "vmtool weight matches runc's table (2,3,1024,262143 shares)" \
	eq "$(vmtool weight 1) $(vmtool weight 3) $(vmtool weight 1000) $(vmtool weight 256000)" "1 2 100 10000"
check "classic formula: 1 CPU -> 39" eq "$(vmtool weight --classic 1000)" 39

# The sidecar (100m limit) spins for 0.6 s: about 6 periods, 5 throttled.
SIDE=$(kp_path web sidecar)
kp_exec "$SIDE" vmtool spin 600
check "sidecar was throttled" test "$(kp_stat "$SIDE/cpu.stat" nr_throttled)" -gt 0

# A metrics endpoint inside the app's scope, its values set by the test.
kp_metrics_set web app 'app_requests_total 42'
kp_metrics_serve web app 9100
srv=$!
sleep 0.3
check "metrics endpoint serves the set text" \
	eq "$(wget -q -O - http://127.0.0.1:9100/metrics)" "app_requests_total 42"
kp_metrics_set web app 'app_requests_total 43'
check "metrics endpoint serves a change" \
	eq "$(wget -q -O - http://127.0.0.1:9100/metrics)" "app_requests_total 43"
check "the endpoint runs in the app's scope" grep -qx "$srv" "$APP/cgroup.procs"
kp_kill "$APP"

row() { # row KIND POD CONTAINER
	printf '%s %s %s %s %s %s %s\n' "$1" "$(kp_qos_class "$(kp_get "$2" qos)")" "$(kp_get "$2" uid)" \
		"$(kp_get "$2" "$3" id)" "$(kp_path "$2" "$3")" "$(cat "$(kp_path "$2" "$3")/cpu.weight" 2>/dev/null || echo -)" \
		"$(cat "$(kp_path "$2" "$3")/memory.max")"
}
{
	row plain web app
	row throttled web sidecar
	row plain batch job
	row plain db pg
	row nocpu legacy old
	row gone web ephemeral
} >/tmp/expect
say "cgroup_probe:"
check "cgroup_probe (rebalancer/cgroup.c on this kernel)" cgroup_probe /tmp/expect

kp_podlist >/out/pods.json
cp /tmp/expect /out/expect

say "podtuner in the VM:"
if out=$(podtuner version 2>&1); then
	echo "  $out"
	check "podtuner runs (its shared libraries came along)" eq "${out%% *}" podtuner
else
	echo "  $out"
	check "podtuner runs (its shared libraries came along)" false
fi
say "done, $fail failed"
exit "$fail"
