#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/webhook.sh (part of `make bench`): the webhook against the Go peer in one run, both
# pinned to CPU 1 with the load generator on CPU 0, on both shared fixtures
# (../shared/tools/bench-webhook.sh: wrk closed loop, then h2load at half
# the server's own peak), REPS times each, interleaved; memory (RSS, PSS,
# USS) idle and sampled under load; ready time (exec to the first 200);
# the in-process engine benchmark. Prints a table (tests/bench/summarize.py)
# and keeps everything in $O/bench/. About 4-5 minutes.
#
# Knobs: REPS=3 DURATION=5 WARMUP=2 WAIT_QUIET=4 READY_RUNS=10 KEEP=0
set -euo pipefail
O=${O:-build/rel}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
PODTUNER=$top/$O/podtuner
ENGINE=$top/$O/tests/bench/engine_bench
POLICY=$top/tests/bench/policy.yaml
SHARED=$top/../shared/tools
PY=/usr/bin/python3
REPS=${REPS:-3}
READY_RUNS=${READY_RUNS:-10}
export DURATION=${DURATION:-5} WARMUP=${WARMUP:-2} WAIT_QUIET=${WAIT_QUIET:-4} H2=0 PIN=1
OUT=$top/$O/bench
W=$(mktemp -d /tmp/podtuner-bench.XXXXXX)
SRV=""
SAMPLER=""

cleanup() {
	for p in $SAMPLER $SRV; do kill "$p" 2>/dev/null || true; done
	for p in $SAMPLER $SRV; do wait "$p" 2>/dev/null || true; done
	[ "${KEEP:-0}" = 1 ] && echo "work dir kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$PODTUNER" "$ENGINE"; do
	[ -x "$f" ] || { echo "bench: no '$f' (make bench builds it)" >&2; exit 1; }
done
[ -x "$SHARED/bench-webhook.sh" ] || { echo "bench: no $SHARED/bench-webhook.sh" >&2; exit 1; }
command -v go >/dev/null || { echo "bench: go is required (make deps)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 CPUs (server on 1, load on 0)" >&2; exit 1; }

# The kit writes next to itself (results/, .run/): work on a copy.
cp -r "$SHARED" "$W/tools"
KIT=$W/tools
RES=$W/results
mkdir -p "$RES"
rm -rf "$OUT"
mkdir -p "$OUT"
log() { echo "bench: $*" >&2; }

log "engine micro-benchmark (CPU 1)"
taskset -c 1 "$ENGINE" "$POLICY" "$KIT/fixtures/pod-create.json" "$KIT/fixtures/pod-create-large.json" \
	| tee "$RES/engine.txt" >&2

log "building the Go peer"
[ -n "${GOCACHE:-}" ] || [ -n "${HOME:-}" ] || export GOCACHE=$W/gocache
(cd "$KIT/webhook-go" && go build -o webhook-go .)
GO_PEER=$KIT/webhook-go/webhook-go

"$PODTUNER" certgen --service podtuner --namespace podtuner --ip 127.0.0.1 --out-dir "$W/certs" >/dev/null 2>&1
CA=$W/certs/ca.crt

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# server_cmd LABEL PORT: the command line of a server (both on one certificate).
server_cmd() {
	case $1 in
	podtuner) echo "$PODTUNER webhook --listen 127.0.0.1:$2 --tls-cert $W/certs/tls.crt" \
		"--tls-key $W/certs/tls.key -p $POLICY --shutdown-delay 0s --log-level info" ;;
	webhook-go) echo "$GO_PEER -addr 127.0.0.1:$2 -tls-cert $W/certs/tls.crt -tls-key $W/certs/tls.key" ;;
	esac
}

log "ready time, $READY_RUNS runs each"
for s in podtuner webhook-go; do
	# shellcheck disable=SC2046
	$PY "$top/tests/bench/ready.py" "$READY_RUNS" "$CA" "$KIT/fixtures/pod-create.json" 1 -- \
		$(server_cmd "$s" '{port}') |
		$PY -c "import json,sys; d=json.load(sys.stdin); d['label']='$s'; print(json.dumps(d))" \
			>"$RES/ready-$s.json"
	log "  $s: $(cat "$RES/ready-$s.json")"
done

# smaps LABEL PID: "rss pss uss" in KiB
smaps() {
	awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_Clean:/{c=$2} /^Private_Dirty:/{d=$2}
	     END{print r, p, c + d}' "/proc/$1/smaps_rollup"
}

for rep in $(seq "$REPS"); do
	for fx in pod-create pod-create-large; do
		for s in podtuner webhook-go; do
			port=$(free_port)
			# shellcheck disable=SC2046
			taskset -c 1 $(server_cmd "$s" "$port") >"$W/$s.log" 2>&1 &
			SRV=$!
			for _ in $(seq 100); do
				curl -sk -o /dev/null "https://127.0.0.1:$port/healthz" && break
				sleep 0.05
			done
			sleep 0.5
			read -r irss ipss iuss < <(smaps "$SRV")
			# Sample memory under load on CPU 0 (with the load generator).
			(
				prss=0; ppss=0; puss=0
				while kill -0 "$SRV" 2>/dev/null && [ ! -f "$W/stop-sampler" ]; do
					read -r a b c < <(smaps "$SRV" 2>/dev/null || echo "0 0 0")
					[ "$a" -gt "$prss" ] && prss=$a
					[ "$b" -gt "$ppss" ] && ppss=$b
					[ "$c" -gt "$puss" ] && puss=$c
					echo "$prss $ppss $puss" >"$W/peak"
					sleep 0.5
				done
			) &
			SAMPLER=$!
			log "rep $rep/$REPS: $s, $fx"
			LABEL=$s RESULTS_DIR=$RES SERVER_PID=$SRV "$KIT/bench-webhook.sh" \
				"https://127.0.0.1:$port/mutate" "$KIT/fixtures/$fx.json" >"$W/last.txt" 2>&1 ||
				{ cat "$W/last.txt" >&2; exit 1; }
			sed 's/^/    /' "$W/last.txt" | grep -E 'wrk |fixed rate|RSS|background' >&2 || true
			touch "$W/stop-sampler"
			wait "$SAMPLER" 2>/dev/null || true
			SAMPLER=""
			rm -f "$W/stop-sampler"
			read -r prss ppss puss <"$W/peak"
			printf '{"label":"%s","fixture":"%s","rep":%d,"idle_rss":%d,"idle_pss":%d,"idle_uss":%d,"peak_rss":%d,"peak_pss":%d,"peak_uss":%d}\n' \
				"$s" "$fx" "$rep" "$irss" "$ipss" "$iuss" "$prss" "$ppss" "$puss" \
				>"$RES/mem-$s-$fx-$rep.json"
			kill "$SRV"
			wait "$SRV" 2>/dev/null || true
			SRV=""
		done
	done
done

cp -r "$RES"/. "$OUT"/
$PY "$top/tests/bench/summarize.py" "$RES" | tee "$OUT/summary.md"
echo
echo "results: $OUT (machine: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ))"
