#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every fuzz target for about 3 s from its seeds alone, so `make test`
# notices a parser that now crashes, leaks or hangs on its own fixtures or
# on what a few thousand mutations of them reach. The targets are built
# with clang into build/fuzz whatever O says (make fuzz-bin); the long runs
# are `make fuzz`.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# Not a sub-make of the `make test` that runs this: no jobserver to join.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -j2 fuzz-bin >/dev/null
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
FUZZ_SECONDS=${FUZZ_SECONDS:-3} FUZZ_CORPUS=$corpus tests/fuzz/run.sh
