# shellcheck shell=dash
# SPDX-License-Identifier: Apache-2.0
# Guest side of the VM test-bed (busybox ash; vm.sh puts it at
# /work/kubelet.sh): builds the cgroup tree that the kubelet's systemd
# driver and containerd's runc build on a node, writes the values they
# write, runs processes inside container scopes, and describes the pods as a
# v1 PodList whose UIDs and containerIDs match the scopes. Names start kp_.
#
#   . ./kubelet.sh
#   kp_init
#   kp_pod web burstable label=app=web annotation=prometheus.io/port=9100
#   kp_container web app cpu_request=500m cpu_limit=1 memory_limit=256Mi
#   kp_spawn "$(kp_path web app)" ./server     # pid in $!
#   kp_podlist > /out/pods.json
#
# Layout (kubelet cgroup_manager_linux.go, systemd driver; containerd's
# runc turns cgroupsPath "slice:cri-containerd:<id>" into a scope):
#   kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
#   kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/...
#   kubepods.slice/kubepods-pod<uid_>.slice/...              (Guaranteed)
# where <uid_> is the pod UID with '-' escaped to '_'.
#
# Values, per container (what runc writes from the CRI request):
#   cpu.weight  from the CPU request: shares = milli * 1024 / 1000 (min 2),
#               then KP_WEIGHTS=new (default): runc >= 1.3.2 / crun >= 1.23,
#               ceil(10^((l^2 + 125 l)/612 - 7/34)), l = log2(shares): 1 CPU
#               -> 100; or KP_WEIGHTS=classic: 1 + (shares-2)*9999/262142:
#               1 CPU -> 39 (runc < 1.3.2). vmtool weight computes both.
#   cpu.max     "<milli*100> 100000" for a CPU limit, else "max 100000"
#   memory.max  the memory limit, else max
# and per pod slice (kubelet ResourceConfigForPod): cpu.weight from the sum
# of requests, cpu.max and memory.max from the sums of limits when every
# container has one. The BestEffort slice gets shares 2 (weight 1). The
# kubelet converts a pod slice's shares with its own linear map, whatever
# the runtime does (pkg/kubelet/cm/cgroup_manager_linux.go getCPUWeight:
# 1 + (shares-2)*9999/262142), so a 500m pod's slice has 20 where runc
# >= 1.3.2 gives its container 59.
# memory.high is left at max: the kubelet sets it only with MemoryQoS.

CG=${CG:-/sys/fs/cgroup}
KP_WEIGHTS=${KP_WEIGHTS:-new}
KP_STATE=/run/kubelet
KP_PERIOD=100000 # CFS period in usec, the kubelet's default

kp_die() {
	echo "kubelet.sh: $*" >&2
	exit 99
}

# kp_w FILE VALUE: write a cgroup file, failing loudly (a test must not run
# on a half-built layout).
kp_w() {
	echo "$2" >"$1" 2>/dev/null || kp_die "cannot write '$2' to '$1'"
}

# kp_enable DIR [CONTROLLERS]: give DIR's children the controllers (default:
# all of DIR's own, as systemd does for slices with Delegate or resources).
kp_enable() {
	local dir=$1 list=${2:-} c
	[ -n "$list" ] || list=$(cat "$dir/cgroup.controllers")
	for c in $(echo "$list" | tr ',' ' '); do
		kp_w "$dir/cgroup.subtree_control" "+$c"
	done
}

kp_weight() { # kp_weight MILLICPU -> cpu.weight
	if [ "$KP_WEIGHTS" = classic ]; then vmtool weight --classic "$1"; else vmtool weight "$1"; fi
}

kp_milli() { # kp_milli QUANTITY -> millicores: 250m, 1, 2
	case "$1" in
	*m) echo "${1%m}" ;;
	*) echo $(($1 * 1000)) ;;
	esac
}

kp_bytes() { # kp_bytes QUANTITY -> bytes: 128Mi, 1Gi, 64Ki, 1000000
	case "$1" in
	*Ki) echo $((${1%Ki} * 1024)) ;;
	*Mi) echo $((${1%Mi} * 1048576)) ;;
	*Gi) echo $((${1%Gi} * 1073741824)) ;;
	*) echo $(($1)) ;;
	esac
}

kp_init() {
	[ -f "$CG/cgroup.subtree_control" ] || kp_die "no cgroup v2 at '$CG'"
	mkdir -p "$KP_STATE/pods"
	mkdir -p "$CG/kubepods.slice" || kp_die "mkdir kubepods.slice"
	kp_enable "$CG/kubepods.slice"
	for q in burstable besteffort; do
		mkdir -p "$CG/kubepods.slice/kubepods-$q.slice"
		kp_enable "$CG/kubepods.slice/kubepods-$q.slice"
	done
	kp_w "$CG/kubepods.slice/kubepods-besteffort.slice/cpu.weight" 1
}

kp_uid() { # kp_uid NAME -> a stable UUID-shaped UID made from the name
	echo "$1" | md5sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/'
}

# kp_pod NAME QOS [uid=UID] [namespace=NS] [ip=IP] [label=K=V]...
#        [annotation=K=V]... [controllers=cpu,memory,...]
# QOS: guaranteed | burstable | besteffort. ip= is the pod IP (status.podIP,
# where the agent scrapes; default 127.0.0.1; any 127.0.0.0/8 address is on
# lo). controllers= narrows what the pod slice enables for its containers
# (to test a missing controller).
kp_pod() {
	local name=$1 qos=$2 uid="" ns=default ip=127.0.0.1 ctrls="" dir parent u a
	shift 2
	case "$qos" in guaranteed | burstable | besteffort) ;; *) kp_die "bad QoS '$qos'" ;; esac
	[ ! -d "$KP_STATE/pods/$name" ] || kp_die "pod '$name' exists"
	mkdir -p "$KP_STATE/pods/$name/containers"
	: >"$KP_STATE/pods/$name/labels"
	: >"$KP_STATE/pods/$name/annotations"
	for a in "$@"; do
		case "$a" in
		*\"* | *\\*) kp_die "no quotes or backslashes in '$a'" ;;
		uid=*) uid=${a#uid=} ;;
		namespace=*) ns=${a#namespace=} ;;
		ip=*) ip=${a#ip=} ;;
		label=*) echo "${a#label=}" >>"$KP_STATE/pods/$name/labels" ;;
		annotation=*) echo "${a#annotation=}" >>"$KP_STATE/pods/$name/annotations" ;;
		controllers=*) ctrls=${a#controllers=} ;;
		*) kp_die "kp_pod: unknown option '$a'" ;;
		esac
	done
	[ -n "$uid" ] || uid=$(kp_uid "$ns/$name")
	u=$(echo "$uid" | tr '-' '_')
	if [ "$qos" = guaranteed ]; then
		parent=$CG/kubepods.slice
		dir=$parent/kubepods-pod$u.slice
	else
		parent=$CG/kubepods.slice/kubepods-$qos.slice
		dir=$parent/kubepods-$qos-pod$u.slice
	fi
	mkdir "$dir" || kp_die "mkdir '$dir'"
	kp_enable "$dir" "$ctrls"
	echo "$uid" >"$KP_STATE/pods/$name/uid"
	echo "$ns" >"$KP_STATE/pods/$name/namespace"
	echo "$ip" >"$KP_STATE/pods/$name/ip"
	echo "$qos" >"$KP_STATE/pods/$name/qos"
	echo "$dir" >"$KP_STATE/pods/$name/path"
}

kp_get() { # kp_get POD [CONTAINER] KEY -> a recorded value
	if [ $# = 2 ]; then cat "$KP_STATE/pods/$1/$2"; else cat "$KP_STATE/pods/$1/containers/$2/$3"; fi
}

kp_path() { # kp_path POD [CONTAINER] -> cgroup directory
	if [ $# = 1 ]; then kp_get "$1" path; else kp_get "$1" "$2" path; fi
}

# Write $2 to file $1 only if the controller file exists: a pod made with
# controllers= lacks some, as a node whose runtime lacks them would.
kp_wmaybe() {
	[ -e "$1" ] && kp_w "$1" "$2"
	return 0
}

# Recompute the pod slice's values from its containers, as the kubelet does
# when a container is added.
kp_pod_resources() {
	local pod=$1 dir req=0 cpul=0 meml=0 all_cpu=1 all_mem=1 n=0 c v
	dir=$(kp_path "$pod")
	for c in "$KP_STATE/pods/$pod/containers"/*; do
		[ -d "$c" ] || continue
		n=$((n + 1))
		v=$(cat "$c/cpu_request")
		req=$((req + v))
		v=$(cat "$c/cpu_limit")
		[ "$v" = 0 ] && all_cpu=0
		cpul=$((cpul + v))
		v=$(cat "$c/memory_limit")
		[ "$v" = 0 ] && all_mem=0
		meml=$((meml + v))
	done
	[ $n -gt 0 ] || return 0
	kp_wmaybe "$dir/cpu.weight" "$(vmtool weight --classic "$req")" # the kubelet's map, not the runtime's
	if [ $all_cpu = 1 ]; then
		kp_wmaybe "$dir/cpu.max" "$((cpul * KP_PERIOD / 1000)) $KP_PERIOD"
	else
		kp_wmaybe "$dir/cpu.max" "max $KP_PERIOD"
	fi
	if [ $all_mem = 1 ]; then kp_wmaybe "$dir/memory.max" "$meml"; else kp_wmaybe "$dir/memory.max" max; fi
}

# kp_container POD NAME [id=64HEX] [cpu_request=Q] [cpu_limit=Q]
#               [memory_request=Q] [memory_limit=Q] [image=IMAGE]
# Creates the container's scope and writes what runc writes. The ID
# defaults to sha256(pod/name).
kp_container() {
	local pod=$1 name=$2 id="" creq=0 clim=0 mreq=0 mlim=0 image=busybox:latest a dir st
	shift 2
	[ -d "$KP_STATE/pods/$pod" ] || kp_die "no pod '$pod'"
	for a in "$@"; do
		case "$a" in
		id=*) id=${a#id=} ;;
		cpu_request=*) creq=$(kp_milli "${a#cpu_request=}") ;;
		cpu_limit=*) clim=$(kp_milli "${a#cpu_limit=}") ;;
		memory_request=*) mreq=$(kp_bytes "${a#memory_request=}") ;;
		memory_limit=*) mlim=$(kp_bytes "${a#memory_limit=}") ;;
		image=*) image=${a#image=} ;;
		*) kp_die "kp_container: unknown option '$a'" ;;
		esac
	done
	# The API server defaults a missing request to the limit.
	[ "$creq" = 0 ] && creq=$clim
	[ "$mreq" = 0 ] && mreq=$mlim
	[ -n "$id" ] || id=$(echo "$pod/$name" | sha256sum | cut -c1-64)
	echo "$id" | grep -qE '^[0-9a-f]{64}$' || kp_die "container ID '$id' is not 64 hex digits"
	dir=$(kp_path "$pod")/cri-containerd-$id.scope
	mkdir "$dir" || kp_die "mkdir '$dir'"
	kp_wmaybe "$dir/cpu.weight" "$(kp_weight "$creq")"
	if [ "$clim" != 0 ]; then
		kp_wmaybe "$dir/cpu.max" "$((clim * KP_PERIOD / 1000)) $KP_PERIOD"
	fi
	if [ "$mlim" != 0 ]; then kp_wmaybe "$dir/memory.max" "$mlim"; fi
	st=$KP_STATE/pods/$pod/containers/$name
	mkdir -p "$st"
	echo "$id" >"$st/id"
	echo "$dir" >"$st/path"
	echo "$creq" >"$st/cpu_request"
	echo "$clim" >"$st/cpu_limit"
	echo "$mreq" >"$st/memory_request"
	echo "$mlim" >"$st/memory_limit"
	echo "$image" >"$st/image"
	kp_pod_resources "$pod"
}

# kp_container_remove POD NAME: kill the container's processes, remove its
# scope and forget it, as when a container exits and is deleted; the pod
# slice's sums are recomputed. A restarted container gets a new ID: add it
# again under another name or id=.
kp_container_remove() {
	local dir
	dir=$(kp_path "$1" "$2") || kp_die "no container '$1/$2'"
	kp_kill "$dir"
	rmdir "$dir" || kp_die "cannot remove '$dir'"
	rm -rf "$KP_STATE/pods/$1/containers/$2"
	kp_pod_resources "$1"
}

# kp_exec CGROUP CMD...: run CMD inside CGROUP in the foreground.
# kp_spawn CGROUP CMD...: the same in the background; its pid is in $!.
# The shell moves itself in and then execs, as runc's init does, so every
# thread and child of CMD is charged to CGROUP from the start. Busybox runs
# its own applet of the same name before anything on PATH (svc, load, ...):
# give test programs other names, or full paths.
kp_exec() {
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' kp_exec "$@"
}
kp_spawn() {
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' kp_spawn "$@" &
}

# kp_kill CGROUP: SIGKILL everything in it and wait (at most 5 s) until it
# is empty.
kp_kill() {
	local i=0
	echo 1 >"$1/cgroup.kill"
	while grep -q '^populated 1' "$1/cgroup.events" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

kp_stat() { # kp_stat FILE KEY -> the value of "KEY value" in FILE
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# kp_metrics_serve POD CONTAINER PORT: a metrics endpoint inside the
# container's scope on the pod's IP, <ip>:PORT/metrics, serving the text
# last given to kp_metrics_set (pid in $!).
kp_metrics_file() { echo "$KP_STATE/metrics/$1-$2.prom"; }
kp_metrics_serve() {
	mkdir -p "$KP_STATE/metrics"
	[ -f "$(kp_metrics_file "$1" "$2")" ] || : >"$(kp_metrics_file "$1" "$2")"
	kp_spawn "$(kp_path "$1" "$2")" vmtool serve "$(kp_get "$1" ip):$3" "$(kp_metrics_file "$1" "$2")"
}
# kp_metrics_set POD CONTAINER TEXT: replace the served text atomically.
kp_metrics_set() {
	local f
	f=$(kp_metrics_file "$1" "$2")
	mkdir -p "$KP_STATE/metrics"
	printf '%s\n' "$3" >"$f.tmp" && mv "$f.tmp" "$f"
}

kp_json_map() { # kp_json_map FILE -> {"k":"v",...} from K=V lines
	awk 'BEGIN { printf "{"; n = 0 }
	     { i = index($0, "="); if (i == 0) next
	       printf "%s\"%s\":\"%s\"", (n++ ? "," : ""), substr($0, 1, i - 1), substr($0, i + 1) }
	     END { printf "}" }' "$1"
}

kp_qos_class() {
	case "$1" in guaranteed) echo Guaranteed ;; burstable) echo Burstable ;; *) echo BestEffort ;; esac
}

kp_resources_json() { # kp_resources_json CONTAINER_STATE_DIR
	local c=$1 r="" l=""
	[ "$(cat "$c/cpu_request")" != 0 ] && r="\"cpu\":\"$(cat "$c/cpu_request")m\""
	[ "$(cat "$c/memory_request")" != 0 ] && r="$r${r:+,}\"memory\":\"$(cat "$c/memory_request")\""
	[ "$(cat "$c/cpu_limit")" != 0 ] && l="\"cpu\":\"$(cat "$c/cpu_limit")m\""
	[ "$(cat "$c/memory_limit")" != 0 ] && l="$l${l:+,}\"memory\":\"$(cat "$c/memory_limit")\""
	printf '{"requests":{%s},"limits":{%s}}' "$r" "$l"
}

# kp_podlist: the pods as `kubectl get pods -o json` shows them on this
# node, each Running with its podIP, every container running
# (state.running, which the agent requires) with containerStatuses[].
# containerID "containerd://<id>" matching the scopes.
kp_podlist() {
	local p c name first=1 cfirst
	printf '{"apiVersion":"v1","kind":"PodList","metadata":{},"items":['
	for p in "$KP_STATE/pods"/*; do
		[ -d "$p" ] || continue
		name=${p##*/}
		[ $first = 1 ] || printf ','
		first=0
		printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"%s","uid":"%s","labels":%s,"annotations":%s},' \
			"$name" "$(cat "$p/namespace")" "$(cat "$p/uid")" "$(kp_json_map "$p/labels")" \
			"$(kp_json_map "$p/annotations")"
		printf '"spec":{"nodeName":"vm","containers":['
		cfirst=1
		for c in "$p/containers"/*; do
			[ -d "$c" ] || continue
			[ $cfirst = 1 ] || printf ','
			cfirst=0
			printf '{"name":"%s","image":"%s","resources":%s}' "${c##*/}" "$(cat "$c/image")" \
				"$(kp_resources_json "$c")"
		done
		printf ']},"status":{"phase":"Running","qosClass":"%s","podIP":"%s","podIPs":[{"ip":"%s"}],' \
			"$(kp_qos_class "$(cat "$p/qos")")" "$(cat "$p/ip")" "$(cat "$p/ip")"
		printf '"containerStatuses":['
		cfirst=1
		for c in "$p/containers"/*; do
			[ -d "$c" ] || continue
			[ $cfirst = 1 ] || printf ','
			cfirst=0
			printf '{"name":"%s","ready":true,"state":{"running":{"startedAt":"2025-01-01T00:00:00Z"}},' "${c##*/}"
			printf '"containerID":"containerd://%s"}' "$(cat "$c/id")"
		done
		printf ']}}'
	done
	printf ']}\n'
}
