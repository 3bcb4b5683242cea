# shellcheck shell=dash
# SPDX-License-Identifier: Apache-2.0
# Guest half of effect.sh (busybox ash, cwd /work): runs real Go and Java
# workloads in kubelet-style container scopes, untuned and with the
# environment podtuner computes, and writes one JSON line per run to
# /out/results.jsonl (raw program output goes to /out/*.txt).
#
#   effect_guest.sh PART RUNS      PART: go-cpu | go-mem | java
#
# /work/effect.env (written by effect.sh) holds the tuned settings:
#   GO_SVC_TUNED="GOMAXPROCS=1 GOMEMLIMIT=230MiB"  GO_HEAP_TUNED="..."
#   JAVA_TUNED="-XX:ActiveProcessorCount=1 ..."    and the knobs below.
# Every loop is bounded in count and time, and the only network is
# loopback.
set -u
. ./kubelet.sh
. ./effect.env
part=$1
runs=$2
R=/out/results.jsonl
say() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }

# cpu.stat of DIR as a JSON object of the counters the report uses.
cpu_json() {
	awk '$1 ~ /^(usage_usec|nr_periods|nr_throttled|throttled_usec)$/ {
		printf "%s\"%s\":%s", (n++ ? "," : "{"), $1, $2 } END { printf "}" }' "$1/cpu.stat"
}

# Wait (at most 10 s) until the service answers on loopback.
wait_http() {
	local i=0
	while ! wget -q -O /dev/null "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
}

kp_init
say "kernel $(uname -r), $(nproc) vCPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"

# ---- Go service under cpu.max = 1 CPU --------------------------------------
go_cpu() {
	local S L cost ok0 u0 u1 rate i v env stats load c0 c1 order util
	# As go-svc.yaml: requests = limits = 1 CPU, 256Mi (Guaranteed).
	kp_pod svc guaranteed
	kp_container svc svc cpu_limit=1 memory_limit=256Mi
	# The load generator: another pod, with no limit, on the same 2 vCPUs.
	kp_pod client burstable
	kp_container client load cpu_request=100m
	S=$(kp_path svc svc)
	L=$(kp_path client load)
	svc_args="-rounds $EFFECT_ROUNDS"

	# Calibrate: the CPU a request really costs, HTTP included, measured
	# warm at 20 req/s with the tuned settings; then load the service to each of
	# EFFECT_UTIL_PCTS percent of its 1-CPU limit.
	# shellcheck disable=SC2086
	kp_spawn "$S" env $GO_SVC_TUNED gosvc $svc_args 2>>/out/svc.txt
	wait_http http://127.0.0.1:8080/stats || { echo "the service did not start" >&2; return 1; }
	kp_exec "$L" goload -rate 20 -duration 2s -warmup 0s -seed 98 >/dev/null
	u0=$(kp_stat "$S/cpu.stat" usage_usec)
	load=$(kp_exec "$L" goload -rate 20 -duration 5s -warmup 0s -seed 99)
	u1=$(kp_stat "$S/cpu.stat" usage_usec)
	kp_kill "$S"
	ok0=$(echo "$load" | sed -E 's/.*"ok":([0-9]+).*/\1/')
	[ "$ok0" -gt 0 ] || { echo "calibration: no successful request: $load" >&2; return 1; }
	cost=$(((u1 - u0) / ok0))
	say "calibration: ${cost} us of CPU per request"
	echo "{\"part\":\"go-cpu\",\"calibration\":{\"cpu_usec_per_request\":$cost,\"rounds\":$EFFECT_ROUNDS}}" >>$R

	for util in $EFFECT_UTIL_PCTS; do
		rate=$((util * 10000 / cost))
		say "load: ${rate} req/s, ${util}% of the 1-CPU limit"
		i=1
		while [ $i -le "$runs" ]; do
			# ABBA order, so a drift in the host's load hits both alike.
			if [ $((i % 2)) = 1 ]; then order="untuned tuned"; else order="tuned untuned"; fi
			for v in $order; do
				if [ "$v" = tuned ]; then env=$GO_SVC_TUNED; else env=""; fi
				# shellcheck disable=SC2086
				kp_spawn "$S" env $env gosvc $svc_args 2>>/out/svc.txt
				wait_http http://127.0.0.1:8080/stats || { echo "the service did not start" >&2; return 1; }
				kp_exec "$L" goload -rate "$rate" -duration "${EFFECT_WARMUP_S}s" -warmup 0s -seed $((i + 1000)) >/dev/null
				c0=$(cpu_json "$S")
				load=$(kp_exec "$L" goload -rate "$rate" -duration "${EFFECT_DURATION_S}s" -warmup 0s -seed "$i")
				c1=$(cpu_json "$S")
				stats=$(wget -q -O - http://127.0.0.1:8080/stats)
				kp_kill "$S"
				echo "{\"part\":\"go-cpu\",\"util_pct\":$util,\"rate\":$rate,\"variant\":\"$v\",\"run\":$i,\"env\":\"$env\",\"load\":$load,\"cpu_before\":$c0,\"cpu_after\":$c1,\"svc\":$stats}" >>$R
				say "go-cpu ${util}% run $i $v: $load"
			done
			i=$((i + 1))
		done
	done
}

# ---- Go program with a growing live heap under memory.max = 256Mi -----------
go_mem() {
	local i v env H rc out ev
	# As go-heap.yaml: a memory limit and no CPU limit (Burstable).
	kp_pod heap burstable
	i=1
	while [ $i -le "$runs" ]; do
		if [ $((i % 2)) = 1 ]; then order="untuned tuned"; else order="tuned untuned"; fi
		for v in $order; do
			if [ "$v" = tuned ]; then env=$GO_HEAP_TUNED; else env=""; fi
			# A fresh scope per run, as a restarted container gets: its
			# memory.peak and memory.events start from zero.
			kp_container heap "heap-$i-$v" cpu_request=500m memory_limit=256Mi
			H=$(kp_path heap "heap-$i-$v")
			# shellcheck disable=SC2086
			out=$(kp_exec "$H" timeout "$EFFECT_HEAP_TIMEOUT_S" env $env goheap -live-mib "$EFFECT_HEAP_LIVE_MIB" 2>>/out/heap.txt)
			rc=$?
			echo "$out" >>/out/heap.txt
			ev=$(awk '{ printf "%s\"%s\":%s", (n++ ? "," : "{"), $1, $2 } END { printf "}" }' "$H/memory.events")
			echo "{\"part\":\"go-mem\",\"variant\":\"$v\",\"run\":$i,\"env\":\"$env\",\"exit\":$rc,\"memory_events\":$ev,\"memory_peak\":$(cat "$H/memory.peak"),\"cpu\":$(cpu_json "$H"),\"last\":$(echo "$out" | tail -n 1 | grep '^{' || echo null)}" >>$R
			say "go-mem run $i $v: exit $rc, oom_kill $(kp_stat "$H/memory.events" oom_kill), peak $(($(cat "$H/memory.peak") >> 20)) MiB"
			kp_container_remove heap "heap-$i-$v"
		done
		i=$((i + 1))
	done
}

# ---- JVM under memory.max = 512Mi, cpu.max = 1 CPU ----------------------------
java_run() { # java_run NAME VARIANT JAVA_ARGS...
	local name=$1 v=$2 J rc t0 t1 ev
	shift 2
	kp_container java "$name" cpu_limit=1 memory_limit=512Mi
	J=$(kp_path java "$name")
	t0=$(cut -d' ' -f1 /proc/uptime)
	if [ "$v" = tuned ]; then
		kp_exec "$J" timeout 300 env "JAVA_TOOL_OPTIONS=$JAVA_TUNED" /work/jdk/bin/java "$@" >"/out/java-$name.txt" 2>&1
	else
		kp_exec "$J" timeout 300 /work/jdk/bin/java "$@" >"/out/java-$name.txt" 2>&1
	fi
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	ev=$(awk '{ printf "%s\"%s\":%s", (n++ ? "," : "{"), $1, $2 } END { printf "}" }' "$J/memory.events")
	echo "{\"part\":\"java\",\"name\":\"$name\",\"variant\":\"$v\",\"exit\":$rc,\"seconds\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'),\"memory_events\":$ev,\"memory_peak\":$(cat "$J/memory.peak")}" >>$R
	say "java $name ($v): exit $rc"
	kp_container_remove java "$name"
}

java_part() {
	# As java.yaml: requests = limits = 1 CPU, 512Mi (Guaranteed).
	kp_pod java guaranteed
	for v in untuned tuned; do
		java_run "flags-$v" "$v" -XX:+PrintFlagsFinal -version
		# Only the last -XshowSettings option counts: the cgroup view alone.
		java_run "settings-$v" "$v" -XshowSettings:system -version
		java_run "heapfill-$v" "$v" -cp /work/java HeapFill "$EFFECT_JAVA_LIVE_MIB"
	done
}

case "$part" in
go-cpu) go_cpu ;;
go-mem) go_mem ;;
java) java_part ;;
*) echo "unknown part '$part'" >&2; exit 2 ;;
esac
rc=$?
say "$part done (status $rc)"
exit $rc
