#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Write the seed corpus of every fuzz target into OUT/<target>/, one input
# per file, from the repository's fixtures and ../shared/tools (read in
# place, never copied into the tree), plus a few hand-written inputs for
# the formats no fixture holds (kernel files, checkpoints, rlimit specs).
# Usage: tests/fuzz/seeds.sh OUT   (run from anywhere)
set -eu
out=${1:?usage: seeds.sh OUT}
top=$(cd "$(dirname "$0")/../.." && pwd)
shared=$top/../shared/tools
cd "$top"
rm -rf "$out"
for t in review promtext promql yaml policy quantity duration glob rlimit checkpoint base64 json series cgroup; do
	mkdir -p "$out/$t"
done

# Seeds are named by their checksum, since the loops below run in subshells.
put() { # target: stdin into a file
	f=$out/$1/.new
	cat >"$f"
	mv "$f" "$out/$1/s$(cksum <"$f" | cut -d' ' -f1)"
}
seed() { printf '%b' "$2" | put "$1"; } # target content (printf %b escapes)
pair() { printf '%s\000%s' "$2" "$3" | put "$1"; } # target a b: "a\0b"
files() { # target file...
	t=$1
	shift
	for f in "$@"; do
		[ -f "$f" ] && cp "$f" "$out/$t/$(echo "$f" | tr '/' '_')"
	done
	return 0
}

yamls=$(find policies examples docs/examples tests/fixtures tests/bench tests/vm manifests -name '*.yaml' -o -name '*.yml' | sort)
policies=$(find policies docs/examples tests/fixtures/policies tests/fixtures/engine/policies -name '*.yaml' -o -name '*.yml' | sort)
reviews="examples/admission-review.json $shared/fixtures/pod-create.json $shared/fixtures/pod-create-large.json"
pages=$(ls "$shared"/metrics/metrics-*.txt)

# shellcheck disable=SC2086
{
	files review $reviews
	files json $reviews tests/fixtures/engine/golden/*.json
	files yaml $yamls
	files policy $policies tests/bench/policy.yaml tests/vm/agent_policy.yaml
	files promtext $pages
	files series $pages
}

# Every Pod in the YAML fixtures, as an AdmissionReview (a Deployment as its
# template's Pod).
/usr/bin/python3 - "$out/review" examples/*.yaml tests/fixtures/pods/*.yaml <<'PY'
import json, sys, yaml
out = sys.argv[1]
for path in sys.argv[2:]:
    for i, doc in enumerate(d for d in yaml.safe_load_all(open(path)) if isinstance(d, dict)):
        if doc.get("kind") != "Pod":
            tpl = (doc.get("spec") or {}).get("template")
            if not tpl:
                continue
            doc = dict(tpl, apiVersion="v1", kind="Pod")
        meta = doc.get("metadata") or {}
        req = {"uid": "u-%d" % i, "kind": {"group": "", "version": "v1", "kind": "Pod"},
               "namespace": meta.get("namespace", "default"), "operation": "CREATE", "object": doc}
        name = "%s-%d.json" % (path.replace("/", "_"), i)
        with open("%s/%s" % (out, name), "w") as f:
            json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}, f)
PY

# Trigger expressions, as written in policies and the reference.
grep -h 'expr:' $yamls docs/policy.md | sed -E "s/^[^e]*expr: *//; s/^'(.*)'\$/\\1/; s/^\"(.*)\"\$/\\1/" |
	while IFS= read -r x; do seed promql "$x"; done
seed promql 'sum without (a, b) (max_over_time({__name__=~"x.*", y!~"\\\\d+"}[1h30m])) <= -0x1F'
seed promql "avg by (le,) (min_over_time(m{a='\\\\'', b=\`raw\`}[1w])) == Inf"

# Quantities as the pod fixtures write them, and apimachinery's odd forms.
cat $reviews | grep -oE '"(cpu|memory|ephemeral-storage)": *"[^"]*"' | sed -E 's/.*: *"(.*)"/\1/' | sort -u |
	while IFS= read -r q; do seed quantity "$q"; done
for q in 1.5Gi 123Mi 129M 1e3 .5 5. 3.001n +1 1.G 1E -0.1n 9Ei 0.5 100m e3 Ki 1E-3 12345678901234567890; do
	seed quantity "$q"
done

for d in 500ms 30s 5m 1h 1h30m 2m 90d 2w 1y 0 0s 292y 1d2h3m4s5ms; do seed duration "$d"; done

pair rlimit nofile 65536:1048576
pair rlimit nofile 1024:unlimited
pair rlimit nproc unlimited
pair rlimit core 0
pair rlimit memlock unlimited:unlimited
pair rlimit stack 8388608
pair rlimit rttime 1:2
pair rlimit msgqueue 819200

pair glob '*' ghcr.io/acme/app:1
pair glob 'ghcr.io/acme/*' ghcr.io/acme/x
pair glob 'kube-*' kube-system
pair glob '[a-z]?[!x]' ab9
pair glob '[]a]' ']'
pair glob '\*x' '*x'
pair glob '[!-]*' a-
pair glob 'a*b*c*d*e' aXbXcXdXe
pair glob '*[0-9]' v10

# base64 of a few fixtures, wrapped as kubeconfigs wrap it, and one unwrapped.
for f in policies/go.yaml examples/admission-review.json; do
	base64 "$f" | put base64
done
seed base64 'aGVsbG8='
seed base64 'YQ'

# The kernel's files as cgroup v2 writes them (Linux 6.1).
seed cgroup '100\n'
seed cgroup 'max\n'
seed cgroup '9223372036854771712\n'
seed cgroup 'usage_usec 25442435\nuser_usec 13538017\nsystem_usec 11904418\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n'
seed cgroup 'low 0\nhigh 12\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n'
seed cgroup 'some avg10=35.05 avg60=7.57 avg300=1.63 total=4963693\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'

# A checkpoint as checkpoint_encode writes it.
seed checkpoint '{"version":1,"saved_ms":1700000000000,"entries":[\n{"key":"0b3d6f4e-2c1a/app","dir":"/sys/fs/cgroup/kubepods.slice/x.scope","file":"cpu.weight","baseline":"100","applied":"150","intent":null,"updated_ms":1700000000000},\n{"key":"0b3d6f4e-2c1a/app","dir":"/sys/fs/cgroup/kubepods.slice/x.scope","file":"memory.high","baseline":"max","applied":null,"intent":"536870912","updated_ms":1}\n]}\n'
cp "$out"/checkpoint/* "$out/json/"

# Two scrapes a second apart, the second a failed one, then a third.
for p in $pages; do
	{ cat "$p"; printf '\f\f'; cat "$p"; } | put series
done
