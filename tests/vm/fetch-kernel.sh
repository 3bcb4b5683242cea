#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetch a Debian cloud kernel for the VM tests into build/vm/kernel, by
# `apt-get download` + `dpkg-deb -x` (no install: that would pull in
# initramfs-tools and a systemd upgrade on the host). No-op once present.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$top/build/vm
if ls "$dir"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
	exit 0
fi
mkdir -p "$dir"
cd "$dir"
# The metapackage names the current ABI, e.g. linux-image-6.1.0-41-cloud-amd64.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot find the Debian cloud kernel package" >&2; exit 1; }
echo "fetch-kernel: downloading $pkg" >&2
rm -f ./*.deb
apt-get download "$pkg" >/dev/null
dpkg-deb -x ./*.deb kernel
rm -f ./*.deb
ls kernel/boot/vmlinuz-* >/dev/null
