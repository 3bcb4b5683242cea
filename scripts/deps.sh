#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages that the build, the tests, the demo and the
# benchmarks need. Idempotent: when everything is present it does nothing,
# not even `apt-get update`.
set -eu

# build: compiler, pkg-config and the fixed library set
BUILD="gcc make pkg-config libmicrohttpd-dev libgnutls28-dev libcjson-dev libyaml-dev
libcurl4-openssl-dev libssl-dev zlib1g-dev"
# tests: real TLS client, the independent RFC 6902 checker, real Go and Java
# runtimes for workloads, and the VM test-bed
TEST="curl openssl ca-certificates python3 python3-jsonpatch python3-yaml golang-go
openjdk-17-jdk-headless qemu-system-x86 qemu-utils busybox-static cpio iproute2 procps"
# benchmarks and lint
BENCH="wrk nghttp2-client cppcheck"
# fuzzing (tests/fuzz, also smoke-run by `make test`): clang and its
# runtime, which holds libFuzzer and the sanitizers
FUZZ="clang libclang-rt-14-dev"
# manifest tests (tests/integration/manifests.sh): YAML, and the Kubernetes
# OpenAPI types as python3-kubernetes generated them. kubectl itself (for its
# built-in kustomize) comes with the machine image: Debian 12's
# kubernetes-client is 1.20, whose kustomize v2 cannot render the manifests.
MANIFESTS="python3-yaml python3-kubernetes"

missing=""
for p in $BUILD $TEST $BENCH $FUZZ $MANIFESTS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing" >&2
		echo "deps: run 'make deps' as root, or: apt-get install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The VM tests boot a stock Debian cloud kernel taken from its package.
exec "$(dirname "$0")/../tests/vm/fetch-kernel.sh"
