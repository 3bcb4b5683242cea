#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: podtuner's main job on its built-in defaults. It checks the
# shipped policies, shows what they do to a Go Deployment, a Java Pod and a
# WASM Pod from examples/ (offline, as the webhook would), then runs the
# webhook over real TLS on loopback and sends it an AdmissionReview.
set -eu
O=${O:-build/rel}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pt=$O/podtuner

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "podtuner validate policies/   (the built-in set)"
$pt validate policies/

for f in examples/go-deployment.yaml examples/java-pod.yaml examples/wasm-pod.yaml; do
	step "podtuner mutate -o explain $f"
	$pt mutate -o explain "$f"
done

step "the mutated Go pod template (podtuner mutate -o pod), env and annotations"
$pt mutate -o pod examples/go-deployment.yaml | sed -n '/"annotations"/,/}/p;/"env"/,/]/p'

# The webhook for real: certificates from podtuner certgen, HTTPS on
# loopback, a request verified against the CA by the service's DNS name.
step "podtuner certgen + podtuner webhook, then POST /mutate with curl --cacert"
tmp=$(mktemp -d /tmp/podtuner-demo.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
$pt certgen --service podtuner --namespace podtuner --ip 127.0.0.1 --out-dir "$tmp/tls" >/dev/null
$pt webhook --listen 127.0.0.1:0 --tls-cert "$tmp/tls/tls.crt" --tls-key "$tmp/tls/tls.key" \
	--shutdown-delay 0 --ready-file "$tmp/port" 2>"$tmp/webhook.log" &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port")
url=https://podtuner.podtuner.svc:$port
curl -sS --max-time 5 --cacert "$tmp/tls/ca.crt" --resolve "podtuner.podtuner.svc:$port:127.0.0.1" \
	-H 'Content-Type: application/json' --data-binary @examples/admission-review.json \
	-o "$tmp/resp.json" -w 'POST /mutate -> HTTP %{http_code}, %{size_download} bytes, TLS verified by name\n' \
	"$url/mutate?timeout=10s"
echo "response:"
sed 's/"patch":"[^"]*"/"patch":"<base64>"/' "$tmp/resp.json"
echo
echo "the patch, decoded:"
sed 's/.*"patch":"\([^"]*\)".*/\1/' "$tmp/resp.json" | base64 -d | sed 's/},{/},\n {/g'
echo
echo "the admission log line:"
grep '"admission"' "$tmp/webhook.log" | tail -1
echo "a few metrics:"
curl -sS --max-time 5 --cacert "$tmp/tls/ca.crt" --resolve "podtuner.podtuner.svc:$port:127.0.0.1" \
	"$url/metrics" | grep -E '^podtuner_webhook_requests_total|^podtuner_tls_cert_not_after|^podtuner_build_info'
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
echo "stopped on SIGTERM:"
grep -E '"shutting down"|"stopped"' "$tmp/webhook.log"
