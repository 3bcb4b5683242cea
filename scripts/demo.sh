#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: podtuner's main job on its built-in defaults. It checks the
# shipped policies, then shows what they do to a Go Deployment, a Java Pod
# and a WASM Pod from examples/, offline, as the webhook would.
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
