#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `podtuner rebalance` end to end on loopback: a fake cgroup v2 tree (the
# systemd driver's layout, 3 pods in one pool), real Prometheus pages
# served by agent_env.py (one pod's GC-pause histogram goes bad), the fake
# kube-apiserver (list, watch, a 410, a malformed event, Event POSTs), and
# an LD_PRELOAD shim (kernfs_shim.c) that fails or stalls chosen writes the
# way kernfs would. In order: the trigger fires only after for:; kill -9
# between a checkpointed intent and its write, then between a write and
# its record, and restarts that neither lose nor repeat anything; the
# pool's sum; a 410 and a malformed watch event; hung and garbage metric
# endpoints; EINVAL retried once per process, not per tick; --restore;
# decay after recovery; Events; then a pods file: bad PodLists, dry run,
# a corrupt checkpoint, a pod leaving, a cgroup vanishing. Run from the
# repository root; PODTUNER is the binary. One line per check; exit 1 if
# any failed. KEEP=1 keeps the temp dir.
set -u

PODTUNER=${PODTUNER:-build/rel/podtuner}
PY=/usr/bin/python3 # Debian's, which sees python3-jsonpatch
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SAMPLE=$ROOT/../shared/tools/metrics/metrics-go.txt # the real client_golang dump
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
IT_SIGNAL=KILL # agents here are killed as a node crash would
it_init agent_it
check() { # name log-to-show-on-failure cmd...
	local name=$1 log=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$log"; fi
}
# wait_for SECONDS 'condition': evaluate it every 0.1 s until it holds
wait_for() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -le $end ]; do
		eval "$2" && return 0
		sleep 0.1
	done
	return 1
}

for tool in openssl curl gcc; do
	command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
[ -x "$PODTUNER" ] || { echo "no podtuner binary at '$PODTUNER'" >&2; exit 1; }
[ -f "$SAMPLE" ] || { echo "no Go metrics sample at '$SAMPLE'" >&2; exit 1; }
$PY -c 'import jsonpatch' 2>/dev/null || { echo "python3-jsonpatch is required (make deps)" >&2; exit 1; }

# --- the world ---------------------------------------------------------

CG=$T/cg
$PY "$HERE/agent_env.py" tree --root "$CG" --pods 3 --weights 100,200,100 --podlist "$T/pods.json" \
	--state "$T/state.json" --scopes "$T/scopes" || exit 1
mapfile -t SCOPE <"$T/scopes"
# The pool spans three pods, so cpu.weight moves between their slices (the
# containers of different pods are not siblings); memory.high stays per
# container.
SLICE=("$(dirname "${SCOPE[0]}")" "$(dirname "${SCOPE[1]}")" "$(dirname "${SCOPE[2]}")")
weights() { cat "${SLICE[0]}/cpu.weight" "${SLICE[1]}/cpu.weight" "${SLICE[2]}/cpu.weight" | tr '\n' ' '; }
weight() { tr -d '\n' <"${SLICE[$1]}/cpu.weight"; }
ctr_weights() { cat "${SCOPE[0]}/cpu.weight" "${SCOPE[1]}/cpu.weight" "${SCOPE[2]}/cpu.weight" | tr '\n' ' '; }

$PY "$HERE/agent_env.py" serve --sample "$SAMPLE" --port 0 --pods 3 --port-file "$T/metrics.port" \
	>"$T/serve.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 '[ -s "$T/metrics.port" ]' || { echo "the metrics server did not start" >&2; cat "$T/serve.log"; exit 1; }
read -r CTL_PORT METRICS_PORT <"$T/metrics.port"
mode() { curl -sf "http://127.0.0.1:$CTL_PORT/mode?pod=$1&m=$2" >/dev/null; }

fake_api_cert || { echo "cannot make the fake apiserver's certificate" >&2; exit 1; }
TOKEN=agent-test-$$
$PY "$HERE/fake_apiserver.py" --cert "$T/api.crt" --key "$T/api.key" --token "$TOKEN" \
	--port-file "$T/api.port" --log "$T/api.log" --state "$T/state.json" --bookmark-interval 1 \
	2>"$T/api.stderr" &
PIDS="$PIDS $!"
wait_for 10 '[ -s "$T/api.port" ]' || { echo "the fake apiserver did not start" >&2; cat "$T/api.stderr"; exit 1; }
API=https://127.0.0.1:$(cat "$T/api.port")
api() { curl -sf --cacert "$T/api-ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }
cat >"$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {cluster: fake, user: agent}
clusters:
- name: fake
  cluster:
    server: $API
    certificate-authority-data: $(base64 -w0 "$T/api-ca.crt")
users:
- name: agent
  user: {token: $TOKEN}
EOF

# rate() over 2 s needs two scrapes; `for: 1s` then holds it a second.
cat >"$T/policy.yaml" <<EOF
apiVersion: podtuner.io/v1alpha1
kind: TuningPolicy
metadata:
  name: web
spec:
  priority: 100
  runtime: go
  match:
    namespaces: ["shop"]
    podLabels: {tier: web}
  rebalance:
    pool: web
    cpu: {minFactor: 0.5, maxFactor: 4, step: 0.5}
    memory: {throttlingFactor: 0.9, headroom: 64Mi}
    scrape: {port: $METRICS_PORT, path: /metrics, timeout: 300ms}
    triggers:
      - name: gc-pauses
        expr: histogram_quantile(0.99, rate(go_gc_pauses_seconds_bucket[2s])) > 0.008
        for: 1s
        grant: cpu
      - name: memory-pressure
        expr: rate(container_pressure_memory_waiting_seconds_total[2s]) > 0.1
        for: 1s
        grant: memory
    cooldown: 500ms
    decay: 2s
EOF

# The shim, built here with the system compiler. A sanitized podtuner needs
# its ASan runtime first in the preload list.
gcc -shared -fPIC -O2 -o "$T/shim.so" "$HERE/kernfs_shim.c" -ldl || exit 1
PRELOAD=$T/shim.so
if ldd "$PODTUNER" | grep -q libasan; then
	PRELOAD="$(gcc -print-file-name=libasan.so) $PRELOAD"
fi

# start_agent NAME [ENV=VALUE...] -- [args...]: in the background, waits for
# its ready file; sets AGENT_PID and MPORT.
N_STARTS=0
start_agent() {
	local name=$1
	shift
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	rm -f "$T/$name.ready"
	env LD_PRELOAD="$PRELOAD" PT_SHIM_COUNT="$T/einval.count" PT_SHIM_MARK="$T/$name.mark" "${envs[@]}" \
		"$PODTUNER" rebalance -p "${POLICY:-$T/policy.yaml}" --cgroup-root "$CG" --checkpoint "$T/ck.json" \
		--interval 200ms --listen 127.0.0.1:0 --ready-file "$T/$name.ready" --log-level debug "$@" \
		>"$T/$name.log" 2>&1 &
	AGENT_PID=$!
	PIDS="$PIDS $AGENT_PID"
	N_STARTS=$((N_STARTS + 1))
	if ! wait_for 15 '[ -s "$T/$name.ready" ]'; then
		echo "agent $name did not get ready" >&2
		tail -20 "$T/$name.log" >&2
		return 1
	fi
	MPORT=$(head -1 "$T/$name.ready")
}
kill9() { kill -9 "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }
metrics() { curl -sf "http://127.0.0.1:$MPORT/metrics"; }
has_metric() { metrics | grep -qF -- "$1"; }
metric() { metrics | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "none" }'; }
pages_in() { # SECS: "PAGES TICKS", the pages scraped and the ticks run in SECS seconds
	local s0 t0
	s0=$(metric 'podtuner_agent_scrapes_total{result="ok"}') t0=$(metric podtuner_agent_ticks_total)
	sleep "$1"
	echo "$(($(metric 'podtuner_agent_scrapes_total{result="ok"}') - s0)) $(($(metric podtuner_agent_ticks_total) - t0))"
}
ckpt() { # field of pod I's cpu.weight entry (its slice), or of its container's FILE
	local key
	if [ "${3:-cpu.weight}" = cpu.weight ]; then
		key=pod-$(basename "${SLICE[$1]}" .slice | sed 's/^kubepods-burstable-pod//; s/_/-/g')
	else
		key=$(basename "${SCOPE[$1]}" .scope | sed 's/^cri-containerd-//')
	fi
	$PY - "${CK:-$T/ck.json}" "$key" "$2" "${3:-cpu.weight}" <<'EOF'
import json, sys
ck = json.load(open(sys.argv[1]))
for e in ck["entries"]:
    if e["key"] == sys.argv[2] and e["file"] == sys.argv[4]:
        print(e[sys.argv[3]])
        break
else:
    print("absent")
EOF
}
# log_ms LOG jq-like-filter: ms timestamp of the first JSON line matching all
# key=value pairs
log_ms() {
	$PY - "$@" <<'EOF'
import datetime, json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if all(str(j.get(k)) == v for k, v in want.items()):
        t = datetime.datetime.strptime(j["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))
        break
else:
    print(-1)
EOF
}
# log_count LOG key=value...: how many JSON lines match all pairs
log_count() {
	$PY - "$@" <<'EOF'
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
n = 0
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    n += all(str(j.get(k)) == v for k, v in want.items())
print(n)
EOF
}
now_ms() { date +%s%3N; }
sum3() { local s=0; for w in $(weights); do s=$((s + w)); done; echo $s; }

# --- 1. the trigger, for:, a crash between intent and write ------------
# Web-1 goes bad. The first write of the rebalance is web-0's cpu.weight;
# the shim stalls it before it reaches the file, and the agent is killed
# there: its intent is on disk, the file unchanged.
start_agent a1 PT_SHIM_STALL_BEFORE="${SLICE[0]#"$T"}/cpu.weight" PT_SHIM_EINVAL="${SCOPE[0]#"$T"}/memory.high" \
	-- --kubeconfig "$T/kubeconfig" --node-name node-1 || exit 1
check "apiserver source: 3 pods tracked" "$T/a1.log" wait_for 5 '[ "$(metric podtuner_agent_containers)" = 3 ]'
t_bad=$(now_ms)
mode 1 bad
wait_for 15 '[ -s "$T/a1.mark" ]'
check "a1 stalled in web-0's cpu.weight write" "$T/a1.log" grep -q before "$T/a1.mark"
t_pend=$(log_ms "$T/a1.log" msg=trigger pod=web-1 trigger=gc-pauses phase=pending)
t_fire=$(log_ms "$T/a1.log" msg=trigger pod=web-1 trigger=gc-pauses phase=firing)
t_reb=$(log_ms "$T/a1.log" msg=rebalance file=cpu.weight)
check "trigger fires only after for: 1s (pending $t_pend, firing $t_fire)" "$T/a1.log" \
	test "$t_pend" -gt "$t_bad" -a "$t_fire" -ge $((t_pend + 1000))
check "no rebalance before firing" "$T/a1.log" test "$t_reb" = -1 -o "$t_reb" -ge "$t_fire"
kill9
check "killed between intent and write: intent on disk, file unchanged" "$T/a1.log" \
	test "$(ckpt 0 intent)" = 50 -a "$(weight 0)" = 100
check "memory.high: the KEP-2570 baseline written (473.6Mi, page-aligned)" "$T/a1.log" \
	test "$(cat "${SCOPE[1]}/memory.high")" = $(((128 << 20) + (384 << 20) * 9 / 10 / 4096 * 4096))
check "memory.high: EINVAL tried once, file left alone" "$T/a1.log" \
	test "$(wc -c <"$T/einval.count")" = 1 -a "$(cat "${SCOPE[0]}/memory.high")" = max

# --- 2. restart: the unapplied intent is dropped; crash after a write ---
start_agent a2 PT_SHIM_STALL_AFTER="${SLICE[1]#"$T"}/cpu.weight" PT_SHIM_EINVAL="${SCOPE[0]#"$T"}/memory.high" \
	-- --kubeconfig "$T/kubeconfig" --node-name node-1 || exit 1
wait_for 15 '[ -s "$T/a2.mark" ]'
check "a2 stalled after web-1's cpu.weight write" "$T/a2.log" grep -q after "$T/a2.mark"
# a1's intents were dropped as not applied (nothing adopted), and a2's own
# are on disk: one save before the tick's writes, applied values after.
check "a2 kept the baseline, adopted nothing, saved its intents first" "$T/a2.log" \
	test "$(ckpt 0 baseline)/$(ckpt 0 intent)/$(weight 0)/$(metric podtuner_agent_adopted_total)" = "100/50/50/0"
kill9
check "killed after the write: file written, intent on disk" "$T/a2.log" \
	test "$(weight 1)" = 300 -a "$(ckpt 1 intent)" = 300 -a "$(ckpt 1 applied)" = None

# --- 3. restart: the applied intent is recognised, nothing adopted ------
start_agent a3 PT_SHIM_EINVAL="${SCOPE[0]#"$T"}/memory.high" -- --kubeconfig "$T/kubeconfig" --node-name node-1 ||
	exit 1
check "a3: pool converges to 50 300 50" "$T/a3.log" wait_for 10 '[ "$(weights)" = "50 300 50 " ]'
check "a3: pool sum kept at the baselines' 400" "$T/a3.log" test "$(sum3)" = 400
check "a3: checkpoint baselines intact, no intent left" "$T/a3.log" \
	test "$(ckpt 0 baseline)/$(ckpt 1 baseline)/$(ckpt 2 baseline)/$(ckpt 1 intent)" = "100/200/100/None"
check "a3: nothing adopted as foreign" "$T/a3.log" test "$(metric podtuner_agent_adopted_total)" = 0
check "a3: the containers' own cpu.weight untouched (the pool spans pods)" "$T/a3.log" \
	test "$(ctr_weights)" = "100 200 100 "
check "a3: web-1's trigger firing (metric)" "$T/a3.log" \
	has_metric 'podtuner_agent_trigger_state{namespace="shop",pod="web-1",container="app",trigger="gc-pauses"} 2'

# The pool spans pods: the Event is about the pod (its slice), no container.
event_on_web1() {
	api "$API/api/v1/namespaces/shop/events" | $PY -c '
import json, sys
uid = sys.argv[1]
for e in json.load(sys.stdin)["items"]:
    o = e["involvedObject"]
    if (e["reason"] == "CPUWeightRebalanced" and e["type"] == "Normal" and o["kind"] == "Pod"
            and o["name"] == "web-1" and o["uid"] == uid and not o.get("fieldPath")
            and "200 -> 300" in e["message"] and e["source"]["component"] == "podtuner-agent"
            and e["reportingInstance"] == "node-1" and e["metadata"]["name"].startswith("web-1.")):
        sys.exit(0)
sys.exit(1)' "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[1]["metadata"]["uid"])' "$T/state.json")"
}

# --- 4. the apiserver misbehaves: 410, a malformed event ---------------
watches() { curl -sfk "$API/fake/stats" | $PY -c 'import json, sys; j = json.load(sys.stdin); print(j["counts"]["watch"], j["open_watches"])'; }
read -r w0 _ <<<"$(watches)"
curl -sfk -X POST "$API/fake/compact?mode=event" >/dev/null
check "410 Gone: relisted" "$T/a3.log" wait_for 5 'grep -q "watch expired, relisting" "$T/a3.log"'
check "410 Gone: watching again" "$T/a3.log" wait_for 5 'read -r w1 open <<<"$(watches)"; [ "$w1" -gt "$w0" -a "$open" = 1 ]'
curl -sfk -X POST --data-binary $'{"type":"MODIFIED","object":{"metadata":{"name":\n' \
	"$API/fake/watch?action=inject" >/dev/null
check "malformed watch event: logged and relisted" "$T/a3.log" \
	wait_for 5 'grep -q "relisting after a bad watch stream" "$T/a3.log"'
sleep 1
check "pods still tracked after both" "$T/a3.log" test "$(metric podtuner_agent_containers)" = 3
check "weights untouched by the relists" "$T/a3.log" test "$(weights)" = "50 300 50 "

# --- 5. a hung and a garbage endpoint do not stall ticks ---------------
# one snapshot of the metrics, so the figures agree with each other
snap() { metrics >"$T/snap"; }
sval() { awk -v k="$1" '$1 == k { print $2 }' "$T/snap"; }
snap
t0=$(sval podtuner_agent_ticks_total)
e0=$(sval 'podtuner_agent_scrapes_total{result="error"}')
fast0=$(sval 'podtuner_agent_tick_duration_seconds_bucket{le="1"}')
mode 0 hung
mode 2 garbage
sleep 3
snap
t1=$(sval podtuner_agent_ticks_total)
e1=$(sval 'podtuner_agent_scrapes_total{result="error"}')
fast1=$(sval 'podtuner_agent_tick_duration_seconds_bucket{le="1"}')
mode 0 normal
mode 2 normal
check "hung endpoint: ticks go on ($t0 -> $t1 in 3 s)" "$T/a3.log" test $((t1 - t0)) -ge 5
check "hung endpoint: scrapes time out ($e0 -> $e1 errors)" "$T/a3.log" test $((e1 - e0)) -ge 3
# A tick waits for the 300 ms scrape timeout, never for the endpoint
# (1 s leaves room for a loaded machine and a sanitized build).
check "no tick over 1 s meanwhile ($((fast1 - fast0)) of $((t1 - t0)) under)" "$T/a3.log" \
	test $((fast1 - fast0)) = $((t1 - t0))
check "garbage endpoint: no crash, bad lines counted" "$T/a3.log" \
	eval 'kill -0 $AGENT_PID && [ "$(metric podtuner_agent_scrape_bad_lines_total)" -gt 0 ]'
check "EINVAL: no retry storm ($(wc -c <"$T/einval.count") attempts in $N_STARTS agent runs)" "$T/a3.log" \
	test "$(wc -c <"$T/einval.count")" -le "$N_STARTS"

# --- 6. a crash at any moment, then --restore ---------------------------
before=$(weights)
kill9
check "--restore after kill -9" "$T/r1.log" eval '"$PODTUNER" rebalance --restore --checkpoint "$T/ck.json" >"$T/r1.log" 2>&1'
check "--restore: every baseline back (was $before)" "$T/a3.log" test "$(weights)" = "100 200 100 "
check "--restore: checkpoint emptied" "$T/a3.log" test "$(ckpt 0 baseline)" = absent
check "--restore: memory.high back to max" "$T/a3.log" test "$(cat "${SCOPE[1]}/memory.high")" = max

# --- 7. recovery: weights decay back -------------------------------------
start_agent a4 -- --kubeconfig "$T/kubeconfig" --node-name node-1 || exit 1
check "a4: web-1 granted again" "$T/a4.log" wait_for 10 '[ "$(weights)" = "50 300 50 " ]'
check "a Kubernetes Event on web-1 for its grant" "$T/a4.log" wait_for 5 event_on_web1
check "Events counted as posted" "$T/a4.log" \
	wait_for 5 '[ "$(metric '"'"'podtuner_agent_events_total{result="posted"}'"'"')" -ge 3 ]'
# A policy reload that leaves the trigger alone (here, a new cooldown)
# keeps its state and the series history: it stays firing, with no new
# pending phase (which a reset would log, and a reset history would cause:
# rate() needs two samples), and the grant stands.
pend() { log_count "$T/a4.log" msg=trigger pod=web-1 trigger=gc-pauses phase=pending; }
p0=$(pend)
sed -i 's/cooldown: 500ms/cooldown: 600ms/' "$T/policy.yaml"
check "policy file changed: reloaded" "$T/a4.log" wait_for 10 '[ "$(log_count "$T/a4.log" "msg=policies reloaded")" = 1 ]'
sleep 1
check "reload: the firing trigger stays firing (pending lines $p0 -> $(pend))" "$T/a4.log" \
	test "$(pend)" = "$p0" -a "$(weights)" = "50 300 50 "
check "reload: the history went over to the new store" "$T/a4.log" \
	$PY -c 'import json, sys
n = [json.loads(l) for l in open(sys.argv[1]) if "policies reloaded" in l]
sys.exit(not (n and n[0]["samples_carried"] > 0 and n[0]["samples_lost"] == 0))' "$T/a4.log"
mode 1 normal
# A reload while the decay waits (~1.3 s into its 2 s) must not restart
# the wait: the pool's quiet time goes over with the triggers.
wait_for 10 '[ "$(log_ms "$T/a4.log" msg=trigger pod=web-1 trigger=gc-pauses phase=inactive)" != -1 ]'
sleep 1.2
sed -i 's/cooldown: 600ms/cooldown: 700ms/' "$T/policy.yaml"
check "metrics recover: weights decay back to 100 200 100" "$T/a4.log" wait_for 15 '[ "$(weights)" = "100 200 100 " ]'
t_clear=$(log_ms "$T/a4.log" msg=trigger pod=web-1 trigger=gc-pauses phase=inactive)
t_decay=$(log_ms "$T/a4.log" msg=rebalance reason=decay)
t_reload=$($PY -c 'import datetime, json, sys
r = [json.loads(l)["ts"] for l in open(sys.argv[1]) if "policies reloaded" in l]
t = datetime.datetime.strptime(r[-1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) if len(r) == 2 else -1)' "$T/a4.log")
check "decay only after decay: 2s clear ($t_clear -> $t_decay)" "$T/a4.log" \
	test "$t_clear" -gt 0 -a "$t_decay" -ge $((t_clear + 2000))
check "a reload at $((t_reload - t_clear)) ms into the wait does not restart it (decay $((t_decay - t_clear)) ms after clear)" \
	"$T/a4.log" test "$t_reload" -gt 0 -a "$t_decay" -lt $((t_reload + 1500))
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
check "SIGTERM: clean exit" "$T/a4.log" test $? = 0

# --- 8. a pods file; bad input -----------------------------------------
# A malformed PodList at start is an error naming the position.
printf '{"kind": "PodList", "items": [\n  {"metadata": {,\n' >"$T/bad-pods.json"
"$PODTUNER" rebalance -p "$T/policy.yaml" --pods-file "$T/bad-pods.json" --cgroup-root "$CG" \
	--checkpoint "$T/ck-bad.json" --listen "" >"$T/p0.log" 2>&1
rc=$?
check "malformed PodList at start: exit 1 ($rc), file:line in the log" "$T/p0.log" \
	eval '[ $rc = 1 ] && grep -q "cannot start the pod source" "$T/p0.log" && grep -q "bad-pods.json.*line 2, column" "$T/p0.log"'

# Dry run: plans and logs, writes neither cgroup files nor a checkpoint.
mode 1 bad
start_agent p1 -- --pods-file "$T/pods.json" --checkpoint "$T/ck-dry.json" --dry-run || exit 1
check "dry run: would rebalance" "$T/p1.log" wait_for 10 'grep -q "would rebalance (dry run)" "$T/p1.log"'
check "dry run: files and checkpoint untouched" "$T/p1.log" \
	eval '[ "$(weights)" = "100 200 100 " ] && [ ! -e "$T/ck-dry.json" ] && [ "$(metric '"'"'podtuner_agent_writes_total{result="dry_run"}'"'"')" -ge 1 ]'
kill9

# Pages every 1 s at a 200 ms tick (scrape.interval): a fifth of the
# scrapes, and the trigger still fires on them (its [2s] range holds two).
sed 's/timeout: 300ms}/timeout: 300ms, interval: 1s}/' "$T/policy.yaml" >"$T/policy-1s.yaml"
POLICY=$T/policy-1s.yaml start_agent p3 -- --pods-file "$T/pods.json" --checkpoint "$T/ck-dry3.json" --dry-run || exit 1
check "scrape every 1 s: would rebalance (dry run)" "$T/p3.log" wait_for 10 'grep -q "would rebalance (dry run)" "$T/p3.log"'
read -r pages ticks <<<"$(pages_in 3)"
check "scrape every 1 s: $pages pages in $ticks ticks of 3 pods (a fifth: 3 per 5 ticks)" "$T/p3.log" \
	test $((5 * pages)) -ge $((2 * ticks)) -a $((5 * pages)) -le $((4 * ticks))
# A reload to every 100 ms, below the 200 ms tick: scraped every tick, said once.
sed 's/timeout: 300ms}/timeout: 300ms, interval: 100ms}/' "$T/policy.yaml" >"$T/policy-1s.tmp"
mv "$T/policy-1s.tmp" "$T/policy-1s.yaml"
check "scrape.interval below the tick: a warning" "$T/p3.log" \
	wait_for 10 'grep -q "scrape.interval is shorter than the tick" "$T/p3.log"'
# A reload to every 400 ms (two ticks) takes effect without a pod event.
sed 's/timeout: 300ms}/timeout: 300ms, interval: 400ms}/' "$T/policy.yaml" >"$T/policy-1s.tmp"
mv "$T/policy-1s.tmp" "$T/policy-1s.yaml"
check "scrape interval changed: reloaded" "$T/p3.log" wait_for 10 '[ "$(grep -c "policies reloaded" "$T/p3.log")" = 2 ]'
sleep 0.5
read -r pages ticks <<<"$(pages_in 3)"
check "scrape every 400 ms after the reload: $pages pages in $ticks ticks (3 per 2 ticks)" "$T/p3.log" \
	test $((5 * pages)) -ge $((6 * ticks)) -a $((5 * pages)) -le $((9 * ticks))
kill9

# A pod that stops being scraped (its IP gone from the pods file): its
# page series go stale in the next tick, as Prometheus marks a vanished
# target, not three scrape intervals (3 s here) later. An instant trigger
# on a gauge every page has shows it.
sed -e 's/timeout: 300ms}/timeout: 300ms, interval: 1s}/' -e 's/expr: histogram_quantile.*/expr: go_goroutines > 0/' \
	"$T/policy.yaml" >"$T/policy-inst.yaml"
cp "$T/pods.json" "$T/pods4.json"
POLICY=$T/policy-inst.yaml start_agent p4 -- --pods-file "$T/pods4.json" --checkpoint "$T/ck-dry4.json" --dry-run || exit 1
web0_trigger() { metric 'podtuner_agent_trigger_state{namespace="shop",pod="web-0",container="app",trigger="gc-pauses"}'; }
check "instant page trigger: firing" "$T/p4.log" wait_for 10 '[ "$(web0_trigger)" = 2 ]'
$PY -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["items"][0]["status"]["podIP"]; json.dump(d, open(sys.argv[2], "w"))' \
	"$T/pods.json" "$T/pods4.tmp"
t_gone=$(date +%s%3N)
mv "$T/pods4.tmp" "$T/pods4.json"
wait_for 5 '[ "$(web0_trigger)" = 0 ]'
t_clear=$(date +%s%3N)
check "a pod no longer scraped: its page series stale at once ($((t_clear - t_gone)) ms, not ~3 s)" "$T/p4.log" \
	test $((t_clear - t_gone)) -lt 1500
kill9

# An unreadable checkpoint: --restore refuses it; the agent moves it aside.
cp "$T/pods.json" "$T/pods2.json"
printf '{"version":1,"entries":[{"key":' >"$T/ck2.json"
"$PODTUNER" rebalance --restore --checkpoint "$T/ck2.json" >"$T/r2.log" 2>&1
rc=$?
check "--restore of a corrupt checkpoint: exit 1 ($rc), file kept" "$T/r2.log" \
	eval '[ $rc = 1 ] && grep -q "the checkpoint is unreadable" "$T/r2.log" && [ -s "$T/ck2.json" ]'
start_agent p2 -- --pods-file "$T/pods2.json" --checkpoint "$T/ck2.json" || exit 1
check "corrupt checkpoint: moved aside as .corrupt-<ts>, agent runs" "$T/p2.log" \
	eval 'grep -q "moved the bad checkpoint aside" "$T/p2.log" && ls "$T"/ck2.json.corrupt-* >/dev/null 2>&1'
check "pods file: 3 pods tracked, events off" "$T/p2.log" \
	eval '[ "$(metric podtuner_agent_containers)" = 3 ] && grep -q "\"events\":false" "$T/p2.log"'
check "pods file: web-1 granted" "$T/p2.log" wait_for 10 '[ "$(weights)" = "50 300 50 " ]'

# A bad version of the file is logged and ignored.
printf '{"kind": "PodList", "items": [' >"$T/pods2.tmp"
mv "$T/pods2.tmp" "$T/pods2.json"
check "malformed PodList later: logged, last good state kept" "$T/p2.log" \
	wait_for 5 'grep -q "ignoring a bad pods file" "$T/p2.log"'
check "malformed PodList later: still 3 pods, weights kept" "$T/p2.log" \
	eval '[ "$(metric podtuner_agent_containers)" = 3 ] && [ "$(weights)" = "50 300 50 " ]'

# web-2 leaves: its baseline comes back, the pool of two returns to its sum.
$PY -c 'import json, sys; d = json.load(open(sys.argv[1])); d["items"] = d["items"][:2]; json.dump(d, open(sys.argv[2], "w"))' \
	"$T/pods.json" "$T/pods2.tmp"
mv "$T/pods2.tmp" "$T/pods2.json"
check "a pod that leaves gets its baseline back" "$T/p2.log" wait_for 5 '[ "$(weight 2)" = 100 ]'
check "the pool of two returns to its baselines' sum (300)" "$T/p2.log" \
	wait_for 10 '[ $(($(weight 0) + $(weight 1))) = 300 ]'
check "its checkpoint entries are gone" "$T/p2.log" test "$(CK=$T/ck2.json ckpt 2 baseline)" = absent

# web-0's cgroup vanishes under the agent (kernfs: reads then fail ENODEV).
t0=$(metric podtuner_agent_ticks_total)
rm -rf "${SCOPE[0]}"
check "a vanished cgroup: logged" "$T/p2.log" wait_for 5 'grep -q "container cgroup gone" "$T/p2.log"'
sleep 1
check "a vanished cgroup: ticks go on, no crash" "$T/p2.log" \
	eval 'kill -0 $AGENT_PID && [ "$(metric podtuner_agent_ticks_total)" -gt $((t0 + 3)) ]'
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
check "SIGTERM: clean exit" "$T/p2.log" test $? = 0

# web-1 gets a sidecar tuned by another policy that scrapes every tick,
# while its app's policy scrapes every 1 s: the pod is scraped as often as
# the most frequent of them asks (every tick), the others every 1 s.
SIDE=$(printf side | sha256sum | cut -c1-64)
cp -r "${SCOPE[1]}" "$(dirname "${SCOPE[1]}")/cri-containerd-$SIDE.scope"
$PY - "$T/pods.json" "$T/pods5.json" "$SIDE" <<'EOF'
import copy, json, sys
d = json.load(open(sys.argv[1]))
p = d["items"][1]
side = copy.deepcopy(p["spec"]["containers"][0])
side["name"] = "side"
p["spec"]["containers"].append(side)
st = copy.deepcopy(p["status"]["containerStatuses"][0])
st["name"], st["containerID"] = "side", "containerd://" + sys.argv[3]
p["status"]["containerStatuses"].append(st)
json.dump(d, open(sys.argv[2], "w"))
EOF
{
	sed -e 's/timeout: 300ms}/timeout: 300ms, interval: 1s}/' -e 's/podLabels: {tier: web}/&\n    containers: ["app"]/' "$T/policy.yaml"
	echo ---
	sed -e 's/^  name: web$/  name: web-side/' -e 's/podLabels: {tier: web}/&\n    containers: ["side"]/' "$T/policy.yaml"
} >"$T/policy-two.yaml"
POLICY=$T/policy-two.yaml start_agent p5 -- --pods-file "$T/pods5.json" --checkpoint "$T/ck-dry5.json" --dry-run || exit 1
check "two policies on one pod: 4 containers tracked" "$T/p5.log" wait_for 5 '[ "$(metric podtuner_agent_containers)" = 4 ]'
sleep 1
read -r pages ticks <<<"$(pages_in 3)"
check "web-1 every tick, the others every 1 s: $pages pages in $ticks ticks (7 per 5)" "$T/p5.log" \
	test $((5 * pages)) -ge $((11 * ticks / 2)) -a $((5 * pages)) -le $((17 * ticks / 2))
kill9

# A sanitized build reports into the agents' logs (and exits non-zero).
check "no sanitizer report in any agent log" "" eval '! grep -l "Sanitizer\|runtime error:" "$T"/*.log'

it_done
