#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The install manifests, offline:
# - `kubectl kustomize` renders the root kustomization, both overlays and the
#   rollout example (no cluster needed: kustomize is built into kubectl);
# - manifests_check.py checks every rendering against podtuner's rules and
#   the Kubernetes OpenAPI schema, and runs `podtuner validate` on the
#   policy ConfigMap's files;
# - each tests/fixtures/manifests/broken-*.yaml (a patch that breaks one
#   rule) must make the checker fail with the rule it names;
# - the rendered certgen Job's own command runs against the fake
#   kube-apiserver holding the rendered webhook configuration, and every
#   request it makes must be allowed by the rendered RBAC.
# Run from the repository root. PODTUNER is the binary (default
# build/rel/podtuner).
set -u

PODTUNER=${PODTUNER:-build/rel/podtuner}
PY=/usr/bin/python3 # Debian's, which sees python3-yaml, -kubernetes, -jsonpatch
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CHECK=$HERE/manifests_check.py
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
it_init manifests

command -v kubectl >/dev/null || { echo "kubectl is required (kustomize is built into it)" >&2; exit 1; }
$PY -c 'import yaml, kubernetes.client.models, jsonpatch' 2>/dev/null ||
	{ echo "python3-yaml, python3-kubernetes and python3-jsonpatch are required (make deps)" >&2; exit 1; }
[ -x "$PODTUNER" ] || { echo "no podtuner binary at '$PODTUNER' (build it, or set PODTUNER)" >&2; exit 1; }
PODTUNER=$(cd "$(dirname "$PODTUNER")" && pwd)/$(basename "$PODTUNER")
cd "$TOP" || exit 1

# render NAME DIR: kubectl kustomize DIR > $T/NAME.yaml
render() {
	if kubectl kustomize "$2" >"$T/$1.yaml" 2>"$T/$1.err"; then
		ok "kubectl kustomize $2"
		return 0
	fi
	bad "kubectl kustomize $2" "$T/$1.err"
	return 1
}

# check NAME LABEL checker-args...: the rules hold on $T/NAME.yaml
check() {
	local name=$1 label=$2
	shift 2
	if $PY "$CHECK" --policies policies --podtuner "$PODTUNER" "$@" "$T/$name.yaml" >"$T/$name.check" 2>&1; then
		ok "$label: $(tail -n 1 "$T/$name.check")"
		[ "${VERBOSE:-0}" = 1 ] && sed 's/^/     > /' "$T/$name.check"
	else
		bad "$label" "$T/$name.check"
	fi
}

# --- the shipped manifests ----------------------------------------------------
render root . && check root "root kustomization (certgen)" --tls certgen
render certgen manifests/overlays/certgen && check certgen "overlay certgen" --tls certgen
render cert-manager manifests/overlays/cert-manager && check cert-manager "overlay cert-manager" --tls cert-manager
render one-ns manifests/examples/one-namespace &&
	check one-ns "example one-namespace" --tls certgen --opt-in podtuner.io/enabled=true
if cmp -s "$T/root.yaml" "$T/certgen.yaml"; then
	ok "kubectl apply -k . is the certgen overlay"
else
	diff "$T/certgen.yaml" "$T/root.yaml" >"$T/diff"
	bad "the root kustomization differs from the certgen overlay" "$T/diff"
fi
grep -q '^note: podtuner validate on the ConfigMap: ok' "$T/certgen.check" &&
	ok "podtuner validate passes on the ConfigMap's files: $(sed -n 's/^note: podtuner validate on the ConfigMap: //p' "$T/certgen.check")" ||
	bad "podtuner validate did not report on the ConfigMap" "$T/certgen.check"
# Without the --opt-in expectation the default overlay must fail the opt-in
# rule: the example really differs where it should.
if $PY "$CHECK" --no-schema --opt-in podtuner.io/enabled=true "$T/certgen.yaml" >"$T/x" 2>&1; then
	bad "the default overlay passes the opt-in rule, which would make that rule vacuous" "$T/x"
else
	grep -q '^webhook.optIn:' "$T/x" && ok "the default overlay tunes every namespace (opt-in rule fails on it)" ||
		bad "opt-in rule" "$T/x"
fi

# --- broken manifests must fail, each with its rule ----------------------------
n=0
for fx in tests/fixtures/manifests/broken-*.yaml; do
	name=$(basename "$fx" .yaml)
	n=$((n + 1))
	d=$T/fixtures/$name
	mkdir -p "$d"
	cp "$fx" "$d/patch.yaml"
	# kustomize refuses absolute paths to bases: reach the overlay relatively.
	base=$(realpath --relative-to="$d" "$TOP/manifests/overlays/certgen")
	printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\npatches:\n  - path: patch.yaml\n' \
		"$base" >"$d/kustomization.yaml"
	if ! kubectl kustomize "$d" >"$d/rendered.yaml" 2>"$d/err"; then
		bad "$name: does not render" "$d/err"
		continue
	fi
	rules=$(sed -n 's/^# expect: *//p' "$fx")
	[ -n "$rules" ] || { bad "$name: no '# expect: RULE' line"; continue; }
	$PY "$CHECK" --policies policies --podtuner "$PODTUNER" "$d/rendered.yaml" >"$d/out" 2>&1
	rc=$?
	missing=""
	for r in $rules; do
		grep -q "^$r: " "$d/out" || missing="$missing $r"
	done
	if [ "$rc" = 1 ] && [ -z "$missing" ]; then
		ok "$name fails: $(grep -m1 "^${rules%% *}: " "$d/out" | cut -c1-150)"
	else
		echo "exit $rc (want 1); rules not reported:${missing:- none}" >>"$d/out"
		bad "$name" "$d/out"
	fi
done
[ "$n" -ge 5 ] && ok "$n broken fixtures" || bad "only $n broken fixtures"

# --- the certgen Job against the fake apiserver ------------------------------
fake_api_cert || { echo "cannot make the fake apiserver's certificate" >&2; exit 1; }

# The fake starts with what `kubectl apply -k` would have created before the
# Job runs: the rendered webhook configuration (no caBundle yet).
$PY - "$T/certgen.yaml" "$T/state.json" "$T/job.args" <<'EOF'
import json, sys, yaml
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
json.dump([o for o in objs if o["kind"] == "MutatingWebhookConfiguration"], open(sys.argv[2], "w"))
job = next(o for o in objs if o["kind"] == "Job")
ctr = job["spec"]["template"]["spec"]["containers"][0]
ns = job["metadata"]["namespace"]
# The kubelet expands $(VAR) from the container's env; POD_NAMESPACE is the
# downward API's metadata.namespace.
env = {e["name"]: ns for e in ctr.get("env", []) if e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace"}
args = []
for a in ctr["args"]:
    for k, v in env.items():
        a = a.replace("$(%s)" % k, v)
    args.append(a)
open(sys.argv[3], "w").write("\n".join(args) + "\n")
EOF
mapfile -t JOB_ARGS <"$T/job.args"
TOKEN=manifests-test-token-$$
rm -f "$T/api.port"
$PY "$HERE/fake_apiserver.py" --cert "$T/api.crt" --key "$T/api.key" --token "$TOKEN" \
	--port-file "$T/api.port" --log "$T/api.log" --state "$T/state.json" 2>"$T/api.stderr" &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	[ -s "$T/api.port" ] && break
	sleep 0.05
done
if [ ! -s "$T/api.port" ]; then
	bad "the fake apiserver did not start" "$T/api.stderr"
else
	SERVER=https://127.0.0.1:$(cat "$T/api.port")
	cat >"$T/kc" <<EOF
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {cluster: fake, user: certgen}
clusters:
- name: fake
  cluster: {server: "$SERVER", certificate-authority-data: $(base64 -w0 "$T/api-ca.crt")}
users:
- name: certgen
  user: {token: $TOKEN}
EOF
	api_get() { curl -sS --max-time 5 --cacert "$T/api-ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER$1"; }

	if "$PODTUNER" "${JOB_ARGS[@]}" --kubeconfig "$T/kc" >"$T/job.out" 2>&1; then
		ok "the Job's command: ${JOB_ARGS[*]}"
	else
		bad "the Job's command: ${JOB_ARGS[*]}" "$T/job.out"
	fi
	secret=$(sed -n 's/^--secret-name=//p' "$T/job.args")
	ns=$(sed -n 's/^--namespace=//p' "$T/job.args")
	api_get "/api/v1/namespaces/$ns/secrets/$secret" >"$T/secret.json"
	api_get "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podtuner" >"$T/mwc.json"
	if $PY - "$T/secret.json" "$T/mwc.json" "$T" >"$T/tls.check" 2>&1 <<'EOF'
import base64, json, sys
s = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
assert s.get("type") == "kubernetes.io/tls", "Secret type %r" % s.get("type")
for k in ("ca.crt", "tls.crt", "tls.key"):
    open("%s/%s" % (sys.argv[3], k), "wb").write(base64.b64decode(s["data"][k]))
ca = s["data"]["ca.crt"]
got = [w["clientConfig"].get("caBundle") for w in m["webhooks"]]
assert got and all(g == ca for g in got), "caBundle %r, want the Secret's ca.crt" % got
print("Secret %s/%s (kubernetes.io/tls) and caBundle = its ca.crt" % (s["metadata"]["namespace"], s["metadata"]["name"]))
EOF
	then
		ok "$(cat "$T/tls.check")"
	else
		bad "Secret and caBundle" "$T/tls.check"
	fi
	if openssl verify -CAfile "$T/ca.crt" "$T/tls.crt" >"$T/verify" 2>&1 &&
		openssl x509 -in "$T/tls.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:podtuner.$ns.svc\(,\|$\)"; then
		ok "the serving certificate verifies and has the SAN podtuner.$ns.svc"
	else
		openssl x509 -in "$T/tls.crt" -noout -text >>"$T/verify" 2>&1
		bad "serving certificate" "$T/verify"
	fi
	# The CronJob runs the same command daily: nothing to do, nothing written.
	writes=$(grep -c '"method": "\(PUT\|PATCH\|POST\)"' "$T/api.log")
	if "$PODTUNER" "${JOB_ARGS[@]}" --kubeconfig "$T/kc" >"$T/job2.out" 2>&1 &&
		[ "$(grep -c '"method": "\(PUT\|PATCH\|POST\)"' "$T/api.log")" = "$writes" ]; then
		ok "a second run (the daily CronJob) keeps everything and writes nothing"
	else
		bad "second run" "$T/job2.out"
	fi
	if $PY "$CHECK" --rbac-log "$T/api.log" --service-account podtuner-certgen "$T/certgen.yaml" >"$T/rbac" 2>&1; then
		ok "the rendered RBAC allows every request certgen made: $(tail -n 1 "$T/rbac")"
	else
		bad "certgen made requests its RBAC does not allow" "$T/rbac"
	fi
	# The same log against the webhook's account, which has no role, must
	# be refused: the RBAC evaluator can say no.
	if $PY "$CHECK" --rbac-log "$T/api.log" --service-account podtuner-webhook "$T/certgen.yaml" >"$T/rbac2" 2>&1; then
		bad "the webhook's ServiceAccount may do what certgen does" "$T/rbac2"
	else
		ok "the webhook's ServiceAccount may not: $(tail -n 1 "$T/rbac2")"
	fi
fi

it_done
