#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `podtuner webhook` end to end on loopback with real TLS, against issue 3's
# acceptance criteria: certificates from `podtuner certgen`, every answer
# checked as the apiserver checks it (../shared/tools/check-response.py,
# which applies the patch with python3-jsonpatch), bad input, slow clients,
# certificate and policy hot reload under load, probes, metrics and a
# graceful SIGTERM. Run from the repository root; PODTUNER is the binary.
# Prints PASS/FAIL per case; exits 1 on any failure. About 30 s. KEEP=1
# keeps the work directory (server log, requests, answers).
set -u

PODTUNER=${PODTUNER:-build/rel/podtuner}
PY=/usr/bin/python3 # Debian's, which sees python3-jsonpatch
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT=$HERE/webhook_client.py
TOOLS=$HERE/../../../shared/tools
CHECK=$TOOLS/check-response.py
SMALL=$TOOLS/fixtures/pod-create.json
LARGE=$TOOLS/fixtures/pod-create-large.json
SVC=podtuner.podtuner.svc
SHUTDOWN_DELAY_MS=1000
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
it_init webhook_it
SRV=""
it_on_exit() {
	for p in $SRV; do kill "$p" 2>/dev/null; done
	for p in $SRV; do wait "$p" 2>/dev/null; done
	if [ "$fail" != 0 ] && [ -f "$T/server.log" ]; then
		echo "--- server log (last 30 lines)"
		tail -n 30 "$T/server.log"
	fi
}
now() { date +%s.%N; }
elapsed() { echo "$(now) $1" | awk '{printf "%.2f", $1 - $2}'; }

for f in "$CHECK" "$SMALL" "$LARGE"; do
	[ -r "$f" ] || { echo "missing $f (the shared test aids)" >&2; exit 1; }
done
[ -x "$PODTUNER" ] || { echo "no podtuner binary at '$PODTUNER'" >&2; exit 1; }
$PY -c 'import jsonpatch' 2>/dev/null || { echo "python3-jsonpatch is required (make deps)" >&2; exit 1; }
command -v openssl >/dev/null && command -v curl >/dev/null || { echo "openssl and curl are required" >&2; exit 1; }

# --- certificates, laid out as a Secret volume ---------------------------------
# kubelet's AtomicWriter: files in a timestamped dir, `..data` -> that dir,
# and each key a symlink through `..data`; an update makes a new dir and
# renames a new `..data` symlink over the old one.
mkdir -p "$T/tls" "$T/pol" "$T/req" "$T/r"
swap() { # DIR TARGET: what kubelet does to a Secret or ConfigMap volume
	ln -s "$2" "$1/..data_tmp" && mv -T "$1/..data_tmp" "$1/..data"
}
if ! "$PODTUNER" certgen --service podtuner --namespace podtuner --ip 127.0.0.1 --out-dir "$T/certs1" \
	>"$T/certgen.log" 2>&1; then
	bad "certgen: first pair" "$T/certgen.log"
	exit 1
fi
# The rotated pair: --force on a valid existing pair makes a new one.
cp -r "$T/certs1" "$T/certs2"
if ! "$PODTUNER" certgen --service podtuner --namespace podtuner --ip 127.0.0.1 --out-dir "$T/certs2" --force \
	>"$T/certgen.log" 2>&1 || cmp -s "$T/certs1/tls.crt" "$T/certs2/tls.crt"; then
	bad "certgen --force: a new pair" "$T/certgen.log"
	exit 1
fi
ok "certgen: CA and serving cert, and a forced new pair"
# A client that trusts both CAs, as a caBundle does during a rotation.
cat "$T/certs1/ca.crt" "$T/certs2/ca.crt" >"$T/bundle.crt"
CA=$T/bundle.crt
cp -r "$T/certs1" "$T/tls/..2024_01_01"
mkdir "$T/tls/..garbage"
echo "not a certificate" >"$T/tls/..garbage/tls.crt"
cp "$T/certs2/tls.key" "$T/tls/..garbage/tls.key"
cp -r "$T/certs2" "$T/tls/..2024_02_01"
swap "$T/tls" ..2024_01_01
ln -s ..data/tls.crt "$T/tls/tls.crt"
ln -s ..data/tls.key "$T/tls/tls.key"
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
SERIAL1=$(serial_of "$T/certs1/tls.crt")
SERIAL2=$(serial_of "$T/certs2/tls.crt")

# --- policies, laid out as a ConfigMap volume ------------------------------------
policy_go() { # GOGC
	cat <<EOF
apiVersion: podtuner.io/v1alpha1
kind: TuningPolicy
metadata:
  name: test-go
spec:
  runtime: go
  match:
    images: ["*"]
  tune:
    go: {gomaxprocs: floor, gogc: "$1"}
EOF
}
mkdir "$T/pol/..v1" "$T/pol/..v2" "$T/pol/..v3"
policy_go 100 >"$T/pol/..v1/go.yaml"
cat >"$T/pol/..v1/java.yaml" <<'EOF'
apiVersion: podtuner.io/v1alpha1
kind: TuningPolicy
metadata:
  name: test-java
spec:
  runtime: java
  tune:
    java: {activeProcessorCount: ceil, maxRAMPercentage: 75}
EOF
# v2: a typo at line 10, column 10 ('gomaxproc').
policy_go 100 | sed 's/gomaxprocs:/gomaxproc:/' >"$T/pol/..v2/go.yaml"
cp "$T/pol/..v1/java.yaml" "$T/pol/..v2/java.yaml"
policy_go 200 >"$T/pol/..v3/go.yaml"
cp "$T/pol/..v1/java.yaml" "$T/pol/..v3/java.yaml"
swap "$T/pol" ..v1
ln -s ..data/go.yaml "$T/pol/go.yaml"
ln -s ..data/java.yaml "$T/pol/java.yaml"

$PY "$CLIENT" gen "$T/req" || { bad "generate the request cases"; exit 1; }

# --- the server ------------------------------------------------------------------
"$PODTUNER" webhook --listen 127.0.0.1:0 --tls-cert "$T/tls/tls.crt" --tls-key "$T/tls/tls.key" \
	-p "$T/pol" --reload-interval 100ms --shutdown-delay ${SHUTDOWN_DELAY_MS}ms --grace 5s \
	--ready-file "$T/port" >"$T/server.log" 2>&1 &
SRV=$!
t0=$(now)
for _ in $(seq 200); do
	[ -s "$T/port" ] && break
	kill -0 "$SRV" 2>/dev/null || break
	sleep 0.05
done
if [ ! -s "$T/port" ]; then
	bad "the server starts" "$T/server.log"
	exit 1
fi
PORT=$(cat "$T/port")
URL=https://$SVC:$PORT
ok "the server starts" "port $PORT, ready file after $(elapsed "$t0") s"

# The slow clients run in the background while the rest goes on: the
# request deadline (10 s, the apiserver's default webhook timeout) cuts them.
$PY "$CLIENT" slow "$PORT" "$CA" "$T/slow.json" 2>"$T/slow.err" &
SLOW=$!
PIDS="$PIDS $SLOW"

# req NAME METHOD PATH [BODY-FILE [CONTENT-TYPE [curl args...]]]: sets CODE;
# body in $T/r/NAME.out, headers in $T/r/NAME.hdr.
req() {
	local name=$1 method=$2 path=$3 body=${4:-} ctype=${5-application/json}
	LAST=$name
	shift 5 2>/dev/null || shift $#
	local args=(-sS -o "$T/r/$name.out" -D "$T/r/$name.hdr" -w '%{http_code}' --max-time 20
		--cacert "$CA" --resolve "$SVC:$PORT:127.0.0.1" -X "$method")
	[ -n "$body" ] && args+=(--data-binary "@$body")
	[ -n "$body" ] && [ -n "$ctype" ] && args+=(-H "Content-Type: $ctype")
	[ -n "$body" ] && [ -z "$ctype" ] && args+=(-H "Content-Type:")
	CODE=$(curl "${args[@]}" "$@" "$URL$path" 2>"$T/r/$name.err")
}

# mutate NAME REQ [EXPECT]: POST REQ, check the answer as the apiserver
# does and, with EXPECT, what the patch did. Sets OPS (patch length).
mutate() {
	local name=$1 rq=$2 exp=${3:-}
	req "$name" POST "/mutate?timeout=10s" "$rq"
	if [ "$CODE" != 200 ]; then
		echo "status $CODE" >>"$T/r/$name.err"
		cat "$T/r/$name.out" >>"$T/r/$name.err" 2>/dev/null
		bad "$name" "$T/r/$name.err"
		return 1
	fi
	if ! $PY "$CHECK" "$rq" "$T/r/$name.out" >"$T/r/$name.mutated" 2>"$T/r/$name.check"; then
		bad "$name: the apiserver would reject the answer" "$T/r/$name.check"
		return 1
	fi
	OPS=$($PY -c 'import base64,json,sys; r=json.load(open(sys.argv[1]))["response"]
print(len(json.loads(base64.b64decode(r["patch"]))) if "patch" in r else 0)' "$T/r/$name.out")
	if [ -n "$exp" ]; then
		if ! $PY "$CLIENT" expect "$exp" "$rq" "$T/r/$name.mutated" >"$T/r/$name.exp" 2>&1; then
			bad "$name: the patch does not do what the policy says" "$T/r/$name.exp"
			return 1
		fi
	fi
	return 0
}

# nopatch NAME REQ: allowed, with no patch at all.
nopatch() {
	mutate "$1" "$2" || return 0
	if grep -q '"patch' "$T/r/$1.out"; then
		bad "$1: want no patch" "$T/r/$1.out"
	else
		ok "$1" "allowed, no patch"
	fi
}

# serves AFTER: the server still answers a real review correctly.
serves() {
	if mutate "serves" "$SMALL" "$GO_EXPECT"; then
		ok "  still serves after $1"
	fi
}

# After each bad request: the same check, counted, reported by serves_all.
SERVED=0
served() {
	local saved=$LAST
	if mutate "served" "$SMALL" "$GO_EXPECT"; then
		SERVED=$((SERVED + 1))
	else
		bad "  the server stopped serving correctly after: $1"
	fi
	LAST=$saved
}
serves_all() {
	ok "  served a real review correctly after each of the $SERVED $1"
	SERVED=0
}

GO_EXPECT=go # what the go policy in force does (v3 sets GOGC=200)
# --- admission cases -----------------------------------------------------------------
mutate fixture-10k "$SMALL" go && ok "fixture pod-create.json (10 KB)" "$OPS ops; $(cat "$T/r/fixture-10k.exp")"
mutate fixture-60k "$LARGE" go && ok "fixture pod-create-large.json (60 KB)" \
	"$OPS ops; $(cut -c1-60 "$T/r/fixture-60k.exp")..."
mutate java "$T/req/java.json" java && ok "java pod (label podtuner.io/runtime: java)" "$(cat "$T/r/java.exp")"
# Requests on new connections (as after the drain's Connection: close) are
# answered in milliseconds: no Nagle stall behind the session ticket.
ms=$($PY "$CLIENT" fresh "$PORT" "$CA" "$SMALL" 11 2>&1)
if awk -v m="$ms" 'BEGIN{exit !(m + 0 > 0 && m + 0 < 25)}'; then
	ok "new TLS connections answer without a stall" "median $ms ms"
else
	bad "new TLS connections: median $ms ms, want < 25 ms"
fi
for c in env-ann noenv-noann env-noann noenv-ann empty-env-ann init; do
	mutate "$c" "$T/req/$c.json" go && ok "pod $c" "$OPS ops"
done
# dryRun: the same answer as without it (sideEffects: None).
if mutate dryrun "$T/req/dryrun.json" go; then
	a=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["response"]; print(r.get("patch"))' "$T/r/dryrun.out")
	b=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["response"]; print(r.get("patch"))' "$T/r/fixture-10k.out")
	[ "$a" = "$b" ] && ok "dryRun: the same patch" || bad "dryRun: a different patch" "$T/r/dryrun.out"
fi
for c in configmap deployment delete update connect skip mirror; do
	nopatch "$c" "$T/req/$c.json"
done
# Reinvocation (reinvocationPolicy: IfNeeded): the mutated pod again.
for f in fixture-10k fixture-60k java init noenv-noann; do
	rq=$T/req/$f.json
	[ "$f" = fixture-10k ] && rq=$SMALL
	[ "$f" = fixture-60k ] && rq=$LARGE
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); r["request"]["object"]=json.load(open(sys.argv[2]))
json.dump(r, open(sys.argv[3], "w"))' "$rq" "$T/r/$f.mutated" "$T/req/again-$f.json"
	nopatch "reinvocation of $f" "$T/req/again-$f.json"
done
# v1beta1: the apiserver wants its own version back. check-response.py
# knows v1 only, so the rest of the answer is checked as v1.
req v1beta1 POST /mutate "$T/req/v1beta1.json"
v=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("apiVersion"))' "$T/r/v1beta1.out" 2>/dev/null)
sed 's#admission.k8s.io/v1beta1#admission.k8s.io/v1#' "$T/r/v1beta1.out" >"$T/r/v1beta1.as-v1"
sed 's#admission.k8s.io/v1beta1#admission.k8s.io/v1#' "$T/req/v1beta1.json" >"$T/req/v1beta1.as-v1"
if [ "$CODE" = 200 ] && [ "$v" = admission.k8s.io/v1beta1 ] &&
	$PY "$CHECK" "$T/req/v1beta1.as-v1" "$T/r/v1beta1.as-v1" >/dev/null 2>"$T/r/v1beta1.check"; then
	ok "v1beta1 review: answered as v1beta1"
else
	bad "v1beta1 review: status $CODE apiVersion $v" "$T/r/v1beta1.check"
fi
# A Pod CREATE the engine cannot read: allowed (fail open), with a warning.
if mutate bad-object "$T/req/bad-object.json"; then
	if grep -q '"warnings":\["podtuner: ' "$T/r/bad-object.out" && ! grep -q '"patch' "$T/r/bad-object.out"; then
		ok "malformed pod object: allowed, no patch, a warning"
	else
		bad "malformed pod object: want a warning and no patch" "$T/r/bad-object.out"
	fi
fi

# --- bad input ------------------------------------------------------------------------
# status LABEL WANT [grep-pattern]: check CODE and the body of the last req.
status() {
	local f=$T/r/$LAST
	if [ "$CODE" != "$2" ]; then
		{ echo "status $CODE, want $2"; cat "$f.out" "$f.err"; } >"$f.why" 2>/dev/null
		bad "$1" "$f.why"
		return 1
	fi
	if [ -n "${3:-}" ] && ! grep -qiE -- "$3" "$f.out"; then
		{ echo "body lacks /$3/:"; cat "$f.out"; } >"$f.why"
		bad "$1" "$f.why"
		return 1
	fi
	ok "$1" "$CODE $(head -c 100 "$f.out" | tr -d '\n')"
}

while read -r name word <&3; do
	req "bad-$name" POST /mutate "$T/req/bad/$name.json"
	status "400 for $name" 400 "$word"
	served "400 for $name"
done 3<"$T/req/bad/index.txt"
serves_all "bad bodies"

req cap POST /mutate "$T/req/cap.json"
[ "$CODE" = 200 ] && $PY "$CHECK" "$T/req/cap.json" "$T/r/cap.out" >/dev/null 2>"$T/r/cap.check" &&
	ok "a body of exactly 3 MiB is served" || bad "a body of exactly 3 MiB: status $CODE" "$T/r/cap.check"
req over POST /mutate "$T/req/cap-plus-1.json"
status "413 for 3 MiB + 1 (Expect: 100-continue)" 413 "exceeds" || true
served "413"
req over2 POST /mutate "$T/req/cap-plus-1.json" application/json -H "Expect:"
if [ "$CODE" = 413 ] || grep -qiE "reset|broken pipe|send failure" "$T/r/over2.err"; then
	ok "3 MiB + 1 sent without waiting: 413 or the connection closed" "status $CODE"
else
	bad "3 MiB + 1 sent at once: status $CODE" "$T/r/over2.err"
fi
served "3 MiB + 1 sent at once"
req over3 POST /mutate "$T/req/cap-plus-1.json" application/json -H "Transfer-Encoding: chunked" -H "Expect:"
if [ "$CODE" = 413 ] || grep -qiE "reset|broken pipe|send failure" "$T/r/over3.err"; then
	ok "3 MiB + 1 chunked: 413 or the connection closed" "status $CODE"
else
	bad "3 MiB + 1 chunked: status $CODE" "$T/r/over3.err"
fi
served "3 MiB + 1 chunked"
serves_all "oversized bodies"

req ctype POST /mutate "$SMALL" text/plain
status "415 for Content-Type text/plain" 415 "application/json"
served "415"
req noctype POST /mutate "$SMALL" ""
status "415 without a Content-Type" 415
served "415 without a Content-Type"
req ctype-params POST /mutate "$SMALL" "Application/JSON; charset=utf-8"
status "Content-Type with parameters and capitals is accepted" 200 '"allowed":true'
req get GET /mutate
status "405 for GET /mutate" 405 && grep -qi '^Allow: POST' "$T/r/get.hdr" &&
	ok "  405 names the allowed method" || bad "  405 without 'Allow: POST'" "$T/r/get.hdr"
served "405 for GET"
req put PUT /mutate "$SMALL"
status "405 for PUT /mutate" 405
served "405 for PUT"
req post-healthz POST /healthz "$SMALL"
status "405 for POST /healthz" 405
served "405 for POST /healthz"
req nf POST /validate "$SMALL"
status "404 for POST /validate" 404
served "404 for POST /validate"
req nf2 GET /mutate/x
status "404 for GET /mutate/x" 404
served "404 for GET /mutate/x"
req nf3 POST "/mutate%00x" "$SMALL"
status "404 for /mutate%00x" 404
served "404 for /mutate%00x"
serves_all "bad methods, paths and content types"

# --- probes and metrics -------------------------------------------------------------------
req healthz GET /healthz
status "/healthz" 200
req readyz GET /readyz
status "/readyz while ready" 200
metrics() { # FILE: fetch /metrics and parse it into FILE.json
	curl -sS --max-time 10 --cacert "$CA" --resolve "$SVC:$PORT:127.0.0.1" "$URL/metrics" -o "$1" &&
		$PY "$CLIENT" metrics "$1" >"$1.json"
}
metric() { # FILE SERIES: the value, or "none"
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples"].get(sys.argv[2], "none"))' "$1" "$2"
}
if metrics "$T/m1" 2>"$T/m1.err"; then
	missing=""
	for s in 'podtuner_webhook_requests_total{result="patched"}' 'podtuner_webhook_requests_total{result="invalid"}' \
		'podtuner_webhook_request_duration_seconds_bucket{le="+Inf"}' 'podtuner_webhook_request_duration_seconds_count' \
		'podtuner_webhook_patches_total' 'podtuner_webhook_patch_operations_total' \
		'podtuner_policy_reloads_total{result="failure"}' 'podtuner_tls_cert_not_after_seconds' \
		'podtuner_ready' 'podtuner_http_rejected_total{reason="too_large"}'; do
		[ "$(metric "$T/m1.json" "$s")" = none ] && missing="$missing $s"
	done
	grep -q '^podtuner_build_info{version="[^"]*"} 1$' "$T/m1" || missing="$missing podtuner_build_info"
	[ -z "$missing" ] && ok "/metrics parses and has the expected series" || bad "/metrics lacks:$missing" "$T/m1"
	want=$(date -d "$(openssl x509 -noout -enddate -in "$T/certs1/tls.crt" | cut -d= -f2)" +%s)
	got=$(metric "$T/m1.json" podtuner_tls_cert_not_after_seconds | cut -d. -f1)
	[ "$got" = "$want" ] && ok "  cert expiry metric = the certificate's notAfter" || bad "  cert expiry $got, want $want"
	inv=$(metric "$T/m1.json" 'podtuner_webhook_requests_total{result="invalid"}' | cut -d. -f1)
	[ "$inv" -ge 14 ] 2>/dev/null && ok "  invalid requests counted" "$inv" || bad "  invalid requests: $inv, want >= 14"
else
	bad "/metrics" "$T/m1.err"
fi

# --- hot reloads under load ----------------------------------------------------------------
LOAD=$T/load.json
$PY "$CLIENT" load "$PORT" "$CA" "$SMALL" "$LOAD" 2>"$T/load.err" &
LOADPID=$!
PIDS="$PIDS $LOADPID"
for _ in $(seq 100); do [ -f "$LOAD.started" ] && break; sleep 0.05; done
sleep 0.5
served_serial() {
	openssl s_client -connect "127.0.0.1:$PORT" -servername "$SVC" -CAfile "$CA" -verify_return_error \
		-showcerts </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
wait_for() { # SECONDS CMD...: poll CMD until it succeeds
	local end
	end=$(echo "$(now) $1" | awk '{printf "%.3f", $1 + $2}')
	shift
	while :; do
		"$@" && return 0
		awk -v a="$(now)" -v b="$end" 'BEGIN{exit !(a > b)}' && return 1
		sleep 0.1
	done
}
metric_is() { metrics "$T/mx" 2>/dev/null && [ "$(metric "$T/mx.json" "$1" | cut -d. -f1)" = "$2" ]; }

s=$(served_serial)
[ "$s" = "$SERIAL1" ] && ok "serves the first certificate" "serial $s" || bad "serial $s, want $SERIAL1"
# A broken pair: the reload fails and the old pair stays.
swap "$T/tls" ..garbage
if wait_for 5 metric_is 'podtuner_tls_reloads_total{result="failure"}' 1; then
	s=$(served_serial)
	[ "$s" = "$SERIAL1" ] && ok "a broken certificate is refused; the old one is still served" ||
		bad "after a broken certificate: serial $s, want $SERIAL1"
else
	bad "a broken certificate: no tls reload failure counted" "$T/mx"
fi
# The rotation.
t_rot=$(now)
swap "$T/tls" ..2024_02_01
check_serial2() { [ "$(served_serial)" = "$SERIAL2" ]; }
if wait_for 5 check_serial2; then
	ok "certificate rotated by a ..data swap" "serial $SERIAL2 seen $(elapsed "$t_rot") s after the swap"
else
	bad "after the rotation the server still serves serial $(served_serial), want $SERIAL2"
fi
metrics "$T/m2" 2>/dev/null
want=$(date -d "$(openssl x509 -noout -enddate -in "$T/certs2/tls.crt" | cut -d= -f2)" +%s)
[ "$(metric "$T/m2.json" podtuner_tls_cert_not_after_seconds | cut -d. -f1)" = "$want" ] &&
	[ "$(metric "$T/m2.json" 'podtuner_tls_reloads_total{result="success"}')" = 1.0 ] &&
	ok "  metrics: one successful cert reload, the new expiry" || bad "  metrics after the rotation" "$T/m2"
grep -q "\"certificate reloaded\".*\"serial\":\"$SERIAL2\"" "$T/server.log" &&
	ok "  logged with the new serial" || bad "  no 'certificate reloaded' log with serial $SERIAL2"

# A bad policy: the old set keeps serving.
cp "$T/r/fixture-10k.out" "$T/r/before-bad.out"
t_bad=$(now)
swap "$T/pol" ..v2
if wait_for 5 metric_is 'podtuner_policy_reloads_total{result="failure"}' 1; then
	t_bad_seen=$(now)
	ok "a bad policy: reload failure counted" "$(elapsed "$t_bad") s after the swap"
	[ "$(metric "$T/mx.json" podtuner_policy_last_reload_successful)" = 0.0 ] &&
		ok "  podtuner_policy_last_reload_successful 0" || bad "  podtuner_policy_last_reload_successful not 0" "$T/mx"
else
	t_bad_seen=$(now)
	bad "a bad policy: no reload failure counted" "$T/mx"
fi
if grep '"invalid policy"' "$T/server.log" | grep -q 'go.yaml:10:10: unknown field '"'"'gomaxproc'"'"; then
	ok "  the log has file:line:col" "$(grep -o 'go.yaml:10:10[^"]*' "$T/server.log" | head -1)"
else
	bad "  no 'go.yaml:10:10' in the log" "$T/server.log"
fi
sleep 0.5
if mutate fixture-10k "$SMALL" go && cmp -s "$T/r/fixture-10k.out" "$T/r/before-bad.out"; then
	ok "  the old set still serves: the same answer byte for byte"
else
	bad "  after a bad policy the answer changed" "$T/r/fixture-10k.out"
fi
# A good new policy: new behaviour.
t_good=$(now)
swap "$T/pol" ..v3
if wait_for 5 eval 'req probe POST /mutate "$SMALL" && grep -q "\"patch\"" "$T/r/probe.out" && ! cmp -s "$T/r/probe.out" "$T/r/before-bad.out"'; then
	t_good_seen=$(now)
	if mutate gogc200 "$SMALL" gogc=200; then
		ok "a good new policy is served" "GOGC=200 $(elapsed "$t_good") s after the swap"
		GO_EXPECT=gogc=200
	fi
	metric_is 'podtuner_policy_reloads_total{result="success"}' 1 &&
		[ "$(metric "$T/mx.json" podtuner_policy_last_reload_successful)" = 1.0 ] &&
		ok "  metrics: one successful reload" || bad "  metrics after the good reload" "$T/mx"
else
	t_good_seen=$(now)
	bad "the new policy never shows" "$T/r/probe.out"
fi
sleep 0.5
touch "$LOAD.stop"
wait "$LOADPID"
if [ ! -s "$LOAD" ]; then
	bad "the load client" "$T/load.err"
else
	$PY - "$LOAD" "$SERIAL1" "$SERIAL2" "$t_rot" "$t_bad_seen" "$t_good" >"$T/load.verdict" 2>&1 <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
s1, s2 = int(sys.argv[2], 16), int(sys.argv[3], 16)
t_rot, t_bad_seen, t_good = map(float, sys.argv[4:7])
serials = {int(k, 16): v for k, v in st["serials"].items()}
pat = sorted(st["patches"].values(), key=lambda p: p["first"])
problems = []
if st["failures"]:
    problems.append(f"{st['failures']} failed requests: {st['errors']}")
if set(serials) != {s1, s2}:
    problems.append(f"serials seen by new connections: {list(st['serials'])}")
elif serials[s2]["first"] < t_rot or serials[s1]["last"] > t_rot + 5:
    problems.append("the serials changed at the wrong time")
if len(pat) != 2:
    problems.append(f"{len(pat)} different patches seen, want 2 (old and new policy)")
else:
    old, new = pat
    if old["last"] < t_bad_seen:
        problems.append("the old policy was not seen after the bad policy was refused")
    if new["first"] < t_good:
        problems.append("the new policy was seen before it was written")
print(f"{st['requests']} requests, {st['failures']} failed; serials {[(k, v['count']) for k, v in st['serials'].items()]}; "
      f"patches {[p['count'] for p in pat]}")
for p in problems:
    print("problem:", p)
sys.exit(1 if problems else 0)
EOF
	if [ $? = 0 ]; then
		ok "under load: zero failed requests, both serials, old set kept, new set served" "$(cat "$T/load.verdict")"
	else
		bad "under load" "$T/load.verdict"
	fi
fi

# --- slow clients -------------------------------------------------------------------------
wait "$SLOW"
if [ -s "$T/slow.json" ]; then
	$PY - "$T/slow.json" >"$T/slow.verdict" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
bad = 0
for k, (secs, how) in sorted(res.items()):
    good = secs is not None and 9.0 <= secs <= 14.0
    bad += not good
    print(f"{'ok' if good else 'BAD'} {k}: cut after {secs if secs is None else round(secs, 1)} s ({how})")
sys.exit(1 if bad or len(res) != 4 else 0)
EOF
	if [ $? = 0 ]; then
		ok "slowloris clients cut at the request deadline (10 s)" "$(tr '\n' ';' <"$T/slow.verdict")"
	else
		bad "slowloris clients" "$T/slow.verdict"
	fi
else
	bad "slowloris client" "$T/slow.err"
fi
serves "slowloris clients"
metrics "$T/m3" 2>/dev/null
to=$(metric "$T/m3.json" 'podtuner_http_rejected_total{reason="timed_out"}' | cut -d. -f1)
[ "$to" -ge 4 ] 2>/dev/null && ok "  timed-out connections counted" "$to" || bad "  timed_out counter $to, want >= 4"

# --- graceful shutdown ----------------------------------------------------------------------
mkdir "$T/inflight"
$PY "$CLIENT" inflight "$PORT" "$CA" "$SMALL" "$T/inflight" 2>"$T/inflight.err" &
INF=$!
PIDS="$PIDS $INF"
$PY "$CLIENT" rollover "$PORT" "$CA" "$SMALL" "$T/rollover.json" 2>"$T/rollover.err" &
ROLL=$!
PIDS="$PIDS $ROLL"
for _ in $(seq 100); do [ -f "$T/inflight/sent" ] && [ -f "$T/rollover.json.started" ] && break; sleep 0.05; done
sleep 0.2
t_term=$(now)
kill -TERM "$SRV"
sleep 0.3
req readyz-term GET /readyz
status "/readyz 503 during the shutdown delay" 503 "shutting down"
grep -qi '^Connection: close' "$T/r/readyz-term.hdr" &&
	ok "  responses during the delay carry Connection: close" || bad "  no Connection: close during the delay" "$T/r/readyz-term.hdr"
req healthz-term GET /healthz
status "/healthz still 200 during the shutdown delay" 200
# Past the delay the listener is closed: new connections are refused.
sleep "$(echo "$SHUTDOWN_DELAY_MS" | awk '{print $1 / 1000 + 0.3}')"
req refused GET /healthz
[ "$CODE" = 000 ] && grep -qE "refused|reset|Couldn't connect" "$T/r/refused.err" &&
	ok "new connections refused while draining" || bad "while draining a new connection got status $CODE" "$T/r/refused.err"
kill -0 "$SRV" 2>/dev/null && ok "still draining the request in flight" "$(elapsed "$t_term") s after SIGTERM" ||
	bad "the server exited with a request in flight"
touch "$T/inflight/go"
wait "$INF"
if head -1 "$T/inflight/status" 2>/dev/null | grep -q '^HTTP/1.1 200' &&
	$PY "$CHECK" "$SMALL" "$T/inflight/resp.json" >/dev/null 2>"$T/inflight.check"; then
	ok "the request in flight at SIGTERM completes" "$(grep -i '^connection:' "$T/inflight/status" | tr -d '\r')"
else
	cat "$T/inflight/status" "$T/inflight.err" "$T/inflight.check" >"$T/inflight.why" 2>/dev/null
	bad "the request in flight at SIGTERM" "$T/inflight.why"
fi
wait "$SRV"
rc=$?
secs=$(elapsed "$t_term")
SRV=""
if [ "$rc" = 0 ] && awk -v s="$secs" -v d="$SHUTDOWN_DELAY_MS" 'BEGIN{exit !(s < d / 1000 + 2.5)}'; then
	ok "graceful exit" "status 0, ${secs} s after SIGTERM (delay $((SHUTDOWN_DELAY_MS / 1000)) s)"
else
	bad "exit status $rc after ${secs} s" "$T/server.log"
fi
grep -q '"msg":"stopped"' "$T/server.log" && ok "  logged 'stopped'" || bad "  no 'stopped' log line"
wait "$ROLL"
if $PY -c 'import json,sys; st=json.load(open(sys.argv[1])); print(st)
sys.exit(0 if st["ok"] > 0 and st["closes"] > 0 and not st["cut"] and st["refused"] else 1)' \
	"$T/rollover.json" >"$T/rollover.verdict" 2>&1; then
	ok "a kept-alive client across SIGTERM: told to reconnect, no request cut" "$(cat "$T/rollover.verdict")"
else
	cat "$T/rollover.err" >>"$T/rollover.verdict"
	bad "a kept-alive client across SIGTERM" "$T/rollover.verdict"
fi

# --- the log ----------------------------------------------------------------------------------
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/server.log"; then
	grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/server.log" >"$T/san.log"
	bad "sanitizer reports in the server log" "$T/san.log"
fi
if $PY -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert {"ts", "level", "msg"} <= d.keys(), line
    if d["msg"] == "admission":
        assert {"uid", "namespace", "pod", "containers_tuned", "duration_us"} <= d.keys(), line
        n += 1
assert n > 50, n
print(n)' "$T/server.log" >"$T/logcheck" 2>&1; then
	ok "the log is JSON lines, one per admission decision with uid, namespace, pod, containers, duration" \
		"$(cat "$T/logcheck") decisions"
else
	bad "the log" "$T/logcheck"
fi

it_done
