#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `podtuner certgen` against a fake kube-apiserver (fake_apiserver.py) on
# loopback with real TLS: caBundle patching (and its idempotency, retry on
# a concurrent change, 401/403/404 and transport errors), Secret output and
# Secret apply, kubeconfig variants. Run from the repository root.
# PODTUNER is the binary (default build/rel/podtuner).
set -u

PODTUNER=${PODTUNER:-build/rel/podtuner}
PY=/usr/bin/python3 # Debian's, which sees python3-jsonpatch
HERE=$(cd "$(dirname "$0")" && pwd)
FAKE=$HERE/fake_apiserver.py
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
it_init certgen_api

# expect NAME WANT_EXIT [grep-pattern-in-stderr]... -- cmd...
expect() {
	local name=$1 want=$2
	shift 2
	local pats=()
	while [ "$1" != "--" ]; do pats+=("$1"); shift; done
	shift
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		echo "exit $rc, want $want" >>"$T/err"
		bad "$name" "$T/err"
		return
	fi
	for p in "${pats[@]}"; do
		if ! grep -qF -- "$p" "$T/err"; then
			echo "stderr lacks: $p" >>"$T/err"
			bad "$name" "$T/err"
			return
		fi
	done
	ok "$name"
	[ "${VERBOSE:-0}" = 1 ] && sed 's/^/     > /' "$T/err"
	return 0
}

# count METHOD PATH-substring: requests so far in the fake's log
count() { grep -c "\"method\": \"$1\", \"path\": \"[^\"]*$2" "$T/api.log" 2>/dev/null || true; }

if [ ! -x "$PODTUNER" ]; then
	echo "no podtuner binary at '$PODTUNER' (build it, or set PODTUNER)" >&2
	exit 1
fi
for tool in openssl curl; do
	command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
$PY -c 'import jsonpatch' 2>/dev/null || { echo "python3-jsonpatch is required (make deps)" >&2; exit 1; }

fake_api_cert || { echo "cannot make the fake apiserver's certificate" >&2; exit 1; }

# Starting objects: webhook 0 has a stale caBundle, webhook 1 none at all.
webhook_config() { # name
	cat <<EOF
  {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
   "metadata": {"name": "$1", "labels": {"app": "podtuner"}},
   "webhooks": [
    {"name": "pods.podtuner.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
     "failurePolicy": "Ignore", "timeoutSeconds": 5,
     "clientConfig": {"service": {"name": "podtuner", "namespace": "podtuner", "path": "/mutate", "port": 443},
                      "caBundle": "$(printf old | base64)"},
     "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]},
    {"name": "pods-again.podtuner.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
     "clientConfig": {"service": {"name": "podtuner", "namespace": "podtuner", "path": "/mutate"}},
     "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}
   ]}
EOF
}
{
	echo "["
	webhook_config podtuner
	echo ","
	webhook_config locked
	echo ","
	webhook_config racy
	echo ","
	echo '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "opaque", "namespace": "podtuner"}, "type": "Opaque", "data": {}}'
	echo "]"
} >"$T/state.json"

TOKEN=podtuner-test-token-$$
start_fake() { # name extra-args...
	local name=$1
	shift
	rm -f "$T/$name.port"
	$PY "$FAKE" --cert "$T/api.crt" --key "$T/api.key" --token "$TOKEN" --port-file "$T/$name.port" \
		--log "$T/$name.log" "$@" 2>"$T/$name.stderr" &
	PIDS="$PIDS $!"
	eval "${name}_pid=$!"
	for _ in $(seq 100); do
		[ -s "$T/$name.port" ] && return 0
		sleep 0.05
	done
	echo "the fake apiserver '$name' did not start:" >&2
	cat "$T/$name.stderr" >&2
	exit 1
}

start_fake api --state "$T/state.json" --forbid patch:mutatingwebhookconfigurations:locked \
	--fault race-once:mutatingwebhookconfigurations/racy
PORT=$(cat "$T/api.port")
SERVER=https://127.0.0.1:$PORT

kubeconfig() { # file token ca-base64 [extra user yaml]
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context:
    cluster: fake
    user: certgen
    namespace: podtuner
clusters:
- name: fake
  cluster:
    server: $SERVER/
    certificate-authority-data: $3
users:
- name: certgen
  user:
    token: $2
${4:-}
EOF
}
CA_B64=$(base64 -w0 "$T/api-ca.crt")
kubeconfig "$T/kc" "$TOKEN" "$CA_B64"

api_get() { # path -> stdout
	curl -sS --max-time 5 --cacert "$T/api-ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER$1"
}
cabundles() { # name -> the caBundle of each webhook, one per line
	api_get "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/$1" |
		$PY -c 'import json,sys; [print(w["clientConfig"].get("caBundle","")) for w in json.load(sys.stdin)["webhooks"]]'
}

CG=("$PODTUNER" certgen --service podtuner --namespace podtuner --ip 127.0.0.1)

# --- the fake behaves like the apiserver where it matters -------------------
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/api-ca.crt" -H "Authorization: Bearer $TOKEN" \
	-X PATCH -H 'Content-Type: text/plain' --data 'x' \
	"$SERVER/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podtuner")
[ "$code" = 415 ] && ok "fake: PATCH with an unknown media type is 415" || bad "fake: 415 (got $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/api-ca.crt" \
	"$SERVER/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podtuner")
[ "$code" = 401 ] && ok "fake: no token is 401" || bad "fake: 401 (got $code)"

# --- patch the webhook with a kubeconfig (token + CA data) -----------------
expect "first run writes certs and patches both webhooks" 0 \
	"wrote new certificates" "patched caBundle: 2 of 2 webhooks of 'podtuner'" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc"
want=$(base64 -w0 "$T/certs/ca.crt")
got=$(cabundles podtuner | sort -u)
[ "$got" = "$want" ] && ok "both caBundles equal base64(ca.crt)" || bad "caBundles: got '$got' want '$want'"
patch_body=$(grep '"method": "PATCH"' "$T/api.log" | tail -n 1)
if echo "$patch_body" | grep -q '"content_type": "application/json-patch+json"' &&
	echo "$patch_body" | grep -qF '{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\"' &&
	echo "$patch_body" | grep -qF '{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\"' &&
	echo "$patch_body" | grep -qF '{\"op\":\"add\",\"path\":\"/webhooks/1/clientConfig/caBundle\"'; then
	ok "the PATCH is a JSON patch: test resourceVersion, replace webhook 0, add webhook 1"
else
	echo "$patch_body" >"$T/tmp"
	bad "PATCH body" "$T/tmp"
fi
if grep -q '"user_agent": "podtuner/' "$T/api.log"; then ok "User-Agent is podtuner/<version>"; else bad "User-Agent"; fi
openssl verify -CAfile "$T/certs/ca.crt" "$T/certs/tls.crt" >/dev/null 2>&1 && ok "written pair verifies" || bad "pair verify"

patches=$(count PATCH /podtuner)
gets=$(count GET /podtuner)
expect "second run keeps the certificates and sends no PATCH" 0 \
	"keeping the existing certificates" "already trust this CA" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc"
[ "$(count PATCH /podtuner)" = "$patches" ] && [ "$(count GET /podtuner)" = $((gets + 1)) ] &&
	ok "second run: one GET, no PATCH" || bad "second run requests: PATCH $(count PATCH /podtuner) GET $(count GET /podtuner)"

# Renewal: the webhook's pods serve the old pair until the kubelet refreshes
# their Secret volume, so the caBundle must trust the new CA and the old one.
cp "$T/certs/ca.crt" "$T/old-ca.crt"
cp "$T/certs/tls.crt" "$T/old-tls.crt"
expect "--force makes a new CA and patches it in" 0 "patched caBundle: 2 of 2" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc" --force
want=$(cat "$T/certs/ca.crt" "$T/old-ca.crt" | base64 -w0)
got=$(cabundles podtuner | sort -u)
[ "$got" = "$want" ] && ! cmp -s "$T/certs/ca.crt" "$T/old-ca.crt" &&
	ok "caBundles: the new CA, then the one it replaces" || bad "caBundles after --force"
cabundles podtuner | head -1 | base64 -d >"$T/bundle.pem"
openssl verify -CAfile "$T/bundle.pem" "$T/old-tls.crt" >/dev/null 2>&1 &&
	openssl verify -CAfile "$T/bundle.pem" "$T/certs/tls.crt" >/dev/null 2>&1 &&
	ok "no x509 window: the old and the new serving certificate both verify" || bad "a pair does not verify against the caBundle"
patches=$(count PATCH /podtuner)
expect "a run soon after the renewal keeps the old CA" 0 "already trust this CA" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc"
[ "$(count PATCH /podtuner)" = "$patches" ] && ok "after renewal: no PATCH" || bad "after renewal: PATCHed"
cp "$T/certs/ca.crt" "$T/mid-ca.crt"
expect "the next renewal drops the oldest CA" 0 "patched caBundle: 2 of 2" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc" --force
[ "$(cabundles podtuner | sort -u)" = "$(cat "$T/certs/ca.crt" "$T/mid-ca.crt" | base64 -w0)" ] &&
	ok "caBundles: at most two CAs" || bad "caBundles after the second renewal"
expect "--drop-old-ca trusts only the current CA at once" 0 "patched caBundle: 2 of 2" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc" --drop-old-ca
[ "$(cabundles podtuner | sort -u)" = "$(base64 -w0 "$T/certs/ca.crt")" ] &&
	ok "--drop-old-ca: caBundle is ca.crt alone" || bad "caBundles after --drop-old-ca"

# tokenFile and certificate-authority as paths relative to the kubeconfig
mkdir -p "$T/kcdir/creds"
cp "$T/api-ca.crt" "$T/kcdir/creds/ca.crt"
printf '%s\n' "$TOKEN" >"$T/kcdir/creds/token"
sed -e "s|certificate-authority-data: .*|certificate-authority: creds/ca.crt|" \
	-e "s|token: .*|tokenFile: creds/token|" "$T/kc" >"$T/kcdir/config"
expect "kubeconfig with relative tokenFile and certificate-authority" 0 "already trust this CA" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kcdir/config"
expect "KUBECONFIG is used when --kubeconfig is absent" 0 "already trust this CA" -- \
	env KUBECONFIG="$T/kcdir/config" "${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner

# --- a concurrent change between GET and PATCH ------------------------------
expect "a concurrent change fails the test op (422) and is retried" 0 \
	"changed while patching, retrying" "testing value /metadata/resourceVersion failed" \
	"patched caBundle: 2 of 2 webhooks of 'racy'" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook racy --kubeconfig "$T/kc"
seq=$(grep '/mutatingwebhookconfigurations/racy' "$T/api.log" | $PY -c '
import json,sys
print(" ".join("%s:%s" % (e["method"], e["status"]) for e in map(json.loads, sys.stdin)))')
[ "$seq" = "GET:200 PATCH:422 GET:200 PATCH:200" ] && ok "retry sequence GET PATCH(422) GET PATCH" ||
	bad "retry sequence: $seq"

# --- errors ------------------------------------------------------------------
kubeconfig "$T/kc-badtoken" "wrong-token" "$CA_B64"
expect "401 gives a clear error and exit 1" 1 "401 Unauthorized" \
	"hint: the API server rejected the credentials of kubeconfig '$T/kc-badtoken' context 'test'" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc-badtoken"
expect "404 names the missing configuration and exits 1" 1 \
	"MutatingWebhookConfiguration 'absent' does not exist" \
	'mutatingwebhookconfigurations.admissionregistration.k8s.io "absent" not found' -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook absent --kubeconfig "$T/kc"
expect "403 explains the RBAC needed and exits 1" 1 "403 Forbidden" \
	'cannot patch resource "mutatingwebhookconfigurations"' \
	"resources: [mutatingwebhookconfigurations], verbs: [get, patch], resourceNames: [locked]" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook locked --kubeconfig "$T/kc"
kubeconfig "$T/kc-wrongca" "$TOKEN" "$(base64 -w0 "$T/certs/ca.crt")"
expect "an untrusted apiserver certificate fails verification" 1 \
	"SSL certificate problem" "(CURLE_PEER_FAILED_VERIFICATION)" "cannot GET '$SERVER/apis/" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc-wrongca"
kubeconfig "$T/kc-exec" "$TOKEN" "$CA_B64" "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}"
sed -i '/^    token: /d' "$T/kc-exec"
expect "an exec plugin is refused clearly" 1 "uses 'exec'" "exec credential plugins are not run" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc-exec"
expect "a missing kubeconfig is an error, not a crash" 1 "cannot open '$T/nope'" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/nope"

# --- Secrets -----------------------------------------------------------------
"${CG[@]}" --secret-name podtuner-tls >"$T/secret.yaml" 2>"$T/err"
rc=$?
if [ "$rc" = 0 ] && grep -qx 'type: kubernetes.io/tls' "$T/secret.yaml" && grep -qx '  namespace: podtuner' "$T/secret.yaml"; then
	for k in ca.crt tls.crt tls.key; do
		sed -n "s/^  $k: //p" "$T/secret.yaml" | base64 -d >"$T/m-$k"
	done
	openssl verify -CAfile "$T/m-ca.crt" "$T/m-tls.crt" >/dev/null 2>&1 &&
		openssl pkey -in "$T/m-tls.key" -noout 2>/dev/null && ok "--secret-name prints a usable kubernetes.io/tls manifest" ||
		bad "manifest contents" "$T/secret.yaml"
else
	bad "--secret-name (exit $rc)" "$T/err"
fi

secret_field() { # name field
	api_get "/api/v1/namespaces/podtuner/secrets/$1" | $PY -c "
import json,sys,base64
o=json.load(sys.stdin)
f='$2'
sys.stdout.write(o.get('type') if f=='type' else o['metadata']['resourceVersion'] if f=='rv' else base64.b64decode(o['data'][f]).decode())"
}
expect "--secret-apply creates the Secret and patches the webhook" 0 "created Secret: podtuner/podtuner-tls" \
	"patched caBundle: 2 of 2" -- \
	"${CG[@]}" --secret-name podtuner-tls --secret-apply --patch-webhook podtuner --kubeconfig "$T/kc"
secret_field podtuner-tls ca.crt >"$T/s-ca.crt"
secret_field podtuner-tls tls.crt >"$T/s-tls.crt"
[ "$(secret_field podtuner-tls type)" = kubernetes.io/tls ] &&
	openssl verify -CAfile "$T/s-ca.crt" "$T/s-tls.crt" >/dev/null 2>&1 &&
	[ "$(cabundles podtuner | sort -u | base64 -d | sed -n '1,/END CERTIFICATE/p')" = "$(cat "$T/s-ca.crt")" ] &&
	ok "the Secret holds a verifying pair whose CA is in the webhook" || bad "Secret contents"
rv=$(secret_field podtuner-tls rv)
expect "--secret-apply again keeps the Secret" 0 "keeping the existing certificates" "already trust this CA" -- \
	"${CG[@]}" --secret-name podtuner-tls --secret-apply --patch-webhook podtuner --kubeconfig "$T/kc"
[ "$(secret_field podtuner-tls rv)" = "$rv" ] && [ "$(count PUT /secrets/)" = 0 ] &&
	ok "kept Secret: same resourceVersion, no PUT" || bad "Secret was rewritten"
expect "--secret-apply --force replaces the data" 0 "updated Secret: podtuner/podtuner-tls (--force)" -- \
	"${CG[@]}" --secret-name podtuner-tls --secret-apply --force --kubeconfig "$T/kc"
[ "$(secret_field podtuner-tls rv)" != "$rv" ] && ok "--force: new resourceVersion" || bad "--force Secret rv"
expect "an Opaque Secret of that name is refused" 1 "has type 'Opaque', not kubernetes.io/tls" -- \
	"${CG[@]}" --secret-name opaque --secret-apply --kubeconfig "$T/kc"

# --- an apiserver that hangs, then one that is gone ---------------------------
start_fake hang --fault hang
HPORT=$(cat "$T/hang.port")
sed "s|$SERVER/|https://127.0.0.1:$HPORT/|" "$T/kc" >"$T/kc-hang"
start=$(date +%s)
expect "a hanging apiserver times out with exit 1" 1 "timed out" "(CURLE_OPERATION_TIMEDOUT)" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc-hang" --timeout 2s
took=$(($(date +%s) - start))
[ "$took" -le 6 ] && ok "timeout honoured (${took}s for --timeout 2s)" || bad "timeout took ${took}s"

kill "$api_pid"
wait "$api_pid" 2>/dev/null
start=$(date +%s)
expect "an apiserver that went away gives exit 1" 1 "cannot GET '$SERVER/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podtuner'" \
	"(CURLE_COULDNT_CONNECT)" -- \
	"${CG[@]}" --out-dir "$T/certs" --patch-webhook podtuner --kubeconfig "$T/kc" --timeout 3s
took=$(($(date +%s) - start))
[ "$took" -le 4 ] && ok "connection refused reported in ${took}s" || bad "gone apiserver took ${took}s"

it_done
