#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The engine end to end through `podtuner mutate -o review`, with every
# response checked the way the kube-apiserver checks it and its patch
# applied by an independent RFC 6902 implementation (python3-jsonpatch via
# ../shared/tools/check-response.py); results compared with golden files;
# then reinvocation: the mutated pod must yield no operations.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$top/tests/integration/engine_check.py" "$@"
