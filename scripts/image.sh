#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the container image with whichever builder works here: docker (with
# a running engine), podman, or buildah. Without one, print the command to
# run elsewhere and exit 1, since no image was built.
#   scripts/image.sh IMAGE VERSION
set -eu
image=${1:?usage: scripts/image.sh IMAGE VERSION}
version=${2:-dev}
cd "$(dirname "$0")/.."

# `docker --version` answers without an engine; `docker info` needs one.
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	exec docker build --build-arg VERSION="$version" -t "$image" .
elif command -v podman >/dev/null 2>&1; then
	exec podman build --build-arg VERSION="$version" -t "$image" .
elif command -v buildah >/dev/null 2>&1; then
	exec buildah build --build-arg VERSION="$version" -t "$image" .
fi
cat >&2 <<MSG
image: no container builder works here (docker with a running engine, podman
or buildah). On a machine that has one, from this directory:

    docker build --build-arg VERSION=$version -t $image .

then push it and set it in the overlay you apply (docs/operations.md).
MSG
exit 1
