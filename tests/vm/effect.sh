#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make bench-effect: the measured effect of podtuner's admission tuning on
# real Go and Java workloads, each in a kubelet-style container scope of a
# 2-vCPU qemu VM running the Debian kernel. Untuned = the program as is;
# tuned = the environment `podtuner mutate -o pod` gives the same container
# (tests/vm/effect/pods/*.yaml). Writes docs/effect.md; raw results stay in
# build/vm/effect/. Takes about 10 minutes with the defaults.
#
# Knobs (environment): EFFECT_RUNS (5), EFFECT_DURATION_S (12),
# EFFECT_PARTS ("go-cpu go-mem java"), EFFECT_REPORT (docs/effect.md).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/vm/lib/vm.sh

: "${EFFECT_RUNS:=5}"
: "${EFFECT_DURATION_S:=12}"
: "${EFFECT_WARMUP_S:=3}"
: "${EFFECT_UTIL_PCTS:=50 75 90}"   # loads, as shares of the 1-CPU limit (%)
: "${EFFECT_ROUNDS:=20}"         # SHA-256 rounds per request in the service
: "${EFFECT_HEAP_LIVE_MIB:=160}" # live heap the Go program grows to (limit 256Mi)
: "${EFFECT_HEAP_TIMEOUT_S:=150}"
: "${EFFECT_JAVA_LIVE_MIB:=300}" # live data the JVM must hold (limit 512Mi)
: "${EFFECT_PARTS:=go-cpu go-mem java}"
: "${EFFECT_REPORT:=docs/effect.md}"
PODTUNER=${PODTUNER:-$top/${O:-build/rel}/podtuner}
JDK_HOME=${JDK_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
W=build/vm/effect
die() {
	echo "effect: $*" >&2
	exit 1
}

# ---- build the workloads ----------------------------------------------------
mkdir -p "$W/bin" "$W/java" "$W/out"
command -v go >/dev/null || die "go not found (make deps installs golang-go)"
[ -x "$JDK_HOME/bin/jlink" ] || die "no jlink in '$JDK_HOME' (make deps installs openjdk-17-jdk-headless)"
[ -x build/vm/bin/vmtool ] || die "build/vm/bin/vmtool is not built (make vm-bin)"
for p in svc load heap; do
	# Static: the guest has no libc for Go binaries to link against.
	(cd tests/vm/effect && CGO_ENABLED=0 go build -trimpath -o "$top/$W/bin/go$p" "./$p") ||
		die "cannot build tests/vm/effect/$p"
done
"$JDK_HOME/bin/javac" -d "$W/java" tests/vm/effect/java/HeapFill.java || die "javac HeapFill"
# The JDK does not fit a quick initramfs whole (260 MB): jlink a runtime of
# java.base alone (~45 MB with its CDS archive, which keeps startup under
# TCG bearable), once.
if [ ! -x build/vm/jdk/bin/java ]; then
	rm -rf build/vm/jdk
	"$JDK_HOME/bin/jlink" --add-modules java.base --strip-debug --no-header-files --no-man-pages \
		--compress=2 --generate-cds-archive --output build/vm/jdk >/dev/null 2>&1 ||
		die "jlink failed"
	# Heaps here are far below 32 GiB: compressed oops, so one archive.
	rm -f build/vm/jdk/lib/server/classes_nocoops.jsa
fi

# ---- the tuned settings: podtuner's own, or its documented rules ------------
# shellcheck disable=SC2016
mutate_env() { # mutate_env POD_YAML NAMES... -> NAME=VALUE lines from podtuner mutate
	local f=$1
	shift
	"$PODTUNER" mutate -o pod "$f" 2>"$W/mutate.err" | /usr/bin/python3 -c '
import json, sys
want = sys.argv[1:]
text = sys.stdin.read()
obj, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
for e in obj["spec"]["containers"][0].get("env", []):
    if e.get("name") in want and "value" in e:
        print("%s=%s" % (e["name"], e["value"]))
' "$@"
}
env_source="podtuner mutate -o pod (${PODTUNER#"$top"/})"
if [ -x "$PODTUNER" ] &&
	svc_env=$(mutate_env tests/vm/effect/pods/go-svc.yaml GOMAXPROCS GOMEMLIMIT GOGC) && [ -n "$svc_env" ] &&
	heap_env=$(mutate_env tests/vm/effect/pods/go-heap.yaml GOMAXPROCS GOMEMLIMIT GOGC) && [ -n "$heap_env" ] &&
	java_env=$(mutate_env tests/vm/effect/pods/java.yaml JAVA_TOOL_OPTIONS) && [ -n "$java_env" ]; then
	GO_SVC_TUNED=$(echo "$svc_env" | tr '\n' ' ' | sed 's/ $//')
	GO_HEAP_TUNED=$(echo "$heap_env" | tr '\n' ' ' | sed 's/ $//')
	JAVA_TUNED=${java_env#JAVA_TOOL_OPTIONS=}
else
	# TODO: drop this branch once `podtuner mutate` links on main (the
	# engine is merged but the policy loader is not): the same values by
	# the rules of policies/go.yaml and policies/java.yaml for the limits
	# in pods/*.yaml (cpu 1, memory 256Mi; cpu 1, memory 512Mi):
	# GOMAXPROCS = max(1, floor(cpu)); GOMEMLIMIT = floor(0.9 x memory) in
	# whole MiB; ActiveProcessorCount = ceil(cpu), MaxRAMPercentage 75.
	if [ -x "$PODTUNER" ]; then
		why="podtuner mutate failed: $(head -c 200 "$W/mutate.err" 2>/dev/null | tr '\n' ' ')"
	else
		why="no podtuner binary at ${PODTUNER#"$top"/}"
	fi
	env_source="the documented rules ($why)"
	GO_SVC_TUNED="GOMAXPROCS=1 GOMEMLIMIT=$((256 * 9 / 10))MiB"
	GO_HEAP_TUNED="GOMEMLIMIT=$((256 * 9 / 10))MiB"
	JAVA_TUNED="-XX:ActiveProcessorCount=1 -XX:MaxRAMPercentage=75.0 -XX:+ExitOnOutOfMemoryError"
fi
echo "effect: tuned settings from $env_source"
echo "effect:   go-svc:  $GO_SVC_TUNED"
echo "effect:   go-heap: $GO_HEAP_TUNED"
echo "effect:   java:    JAVA_TOOL_OPTIONS=$JAVA_TUNED"
cat >"$W/effect.env" <<EOF
GO_SVC_TUNED="$GO_SVC_TUNED"
GO_HEAP_TUNED="$GO_HEAP_TUNED"
JAVA_TUNED="$JAVA_TUNED"
EFFECT_DURATION_S=$EFFECT_DURATION_S
EFFECT_WARMUP_S=$EFFECT_WARMUP_S
EFFECT_UTIL_PCTS="$EFFECT_UTIL_PCTS"
EFFECT_ROUNDS=$EFFECT_ROUNDS
EFFECT_HEAP_LIVE_MIB=$EFFECT_HEAP_LIVE_MIB
EFFECT_HEAP_TIMEOUT_S=$EFFECT_HEAP_TIMEOUT_S
EFFECT_JAVA_LIVE_MIB=$EFFECT_JAVA_LIVE_MIB
EOF

# ---- run ----------------------------------------------------------------------
started=$(date +%s)
rm -f "$W"/out/*
meta=$W/out/meta.jsonl
{
	printf '{"env_source":"%s","go_svc_tuned":"%s","go_heap_tuned":"%s","java_tuned":"%s",' \
		"$(echo "$env_source" | tr -d '"\\')" "$GO_SVC_TUNED" "$GO_HEAP_TUNED" "$JAVA_TUNED"
	printf '"runs":%s,"duration_s":%s,"warmup_s":%s,"util_pcts":"%s","heap_live_mib":%s,"heap_timeout_s":%s,"java_live_mib":%s,' \
		"$EFFECT_RUNS" "$EFFECT_DURATION_S" "$EFFECT_WARMUP_S" "$EFFECT_UTIL_PCTS" "$EFFECT_HEAP_LIVE_MIB" \
		"$EFFECT_HEAP_TIMEOUT_S" "$EFFECT_JAVA_LIVE_MIB"
	printf '"host_cpus":%s,"kernel":"%s","go":"%s","java":"%s"}\n' "$(nproc)" "$(basename "$(ls build/vm/kernel/boot/vmlinuz-* | tail -n 1)")" \
		"$(go version | cut -d' ' -f3)" "$("$JDK_HOME/bin/java" -version 2>&1 | head -n 1 | tr -d '"')"
} >"$meta"

# boot cost: an empty VM, the Go payload, the JDK payload (initramfs sizes differ)
boot() { # boot LABEL GUEST_SCRIPT PART MEM TIMEOUT [FILES...]
	local label=$1 script=$2 part=$3 mem=$4 t=$5 rc load0
	shift 5
	vm_new || exit
	vm_add tests/vm/effect_guest.sh
	vm_add "$W/effect.env"
	vm_add build/vm/bin/vmtool bin/
	while [ $# -gt 0 ]; do
		vm_add "$1" "$2"
		shift 2
	done
	echo "effect: === $label: $script $part ($mem MiB RAM) ==="
	# The guest's vCPUs are host threads: other work on the host shows up
	# in the guest as slower CPUs and as latency. Record how busy it was.
	load0=$(cut -d' ' -f1 /proc/loadavg)
	vm_run -t "$t" -m "$mem" "$script" "$part" "$EFFECT_RUNS" > >(tee "$W/out/$label.log") 2>&1
	rc=$?
	cp -a "$VM_OUT/." "$W/out/" 2>/dev/null
	[ -f "$VM_OUT/results.jsonl" ] && mv "$W/out/results.jsonl" "$W/out/$label.jsonl"
	printf '{"vm":"%s","initramfs_mib":%s,"mem_mib":%s,"host_load_before":%s,"host_load_after":%s,"status":"%s","seconds":%s,"init_uptime_s":%s}\n' \
		"$label" "${VM_INITRD_MIB:-null}" "$mem" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" "$(vm_describe_rc "$rc")" "${VM_SECS:-null}" "${VM_BOOT_SECS:-null}" >>"$meta"
	vm_cleanup
	[ "$rc" = 0 ] || echo "effect: $label: $(vm_describe_rc "$rc")" >&2
	return "$rc"
}
fail=0
echo 'exit 0' >"$W/empty.sh"
for i in 1 2 3; do
	boot "empty-$i" empty.sh none 512 60 "$W/empty.sh" empty.sh || fail=1
done
for p in $EFFECT_PARTS; do
	case "$p" in
	go-cpu)
		t=$(($(echo "$EFFECT_UTIL_PCTS" | wc -w) * EFFECT_RUNS * 2 * (EFFECT_DURATION_S + EFFECT_WARMUP_S + 15) + 120))
		boot go-cpu effect_guest.sh go-cpu 1024 "$t" "$W/bin/gosvc" bin/ "$W/bin/goload" bin/ || fail=1
		;;
	go-mem)
		t=$((EFFECT_RUNS * 2 * (EFFECT_HEAP_TIMEOUT_S + 5) + 60))
		boot go-mem effect_guest.sh go-mem 1024 "$t" "$W/bin/goheap" bin/ || fail=1
		;;
	java)
		boot java effect_guest.sh java 1536 1500 build/vm/jdk jdk "$W/java/HeapFill.class" java/ || fail=1
		;;
	*) die "unknown part '$p'" ;;
	esac
done
echo "{\"total_s\":$(($(date +%s) - started))}" >>"$meta"

/usr/bin/python3 tests/vm/effect_report.py "$W/out" "$EFFECT_REPORT" || fail=1
echo "effect: wrote $EFFECT_REPORT in $(($(date +%s) - started)) s"
exit $fail
