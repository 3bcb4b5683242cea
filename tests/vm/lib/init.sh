#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# PID 1 of the test VM (busybox ash; copied to /init by vm.sh). Mounts the
# kernel file systems and cgroup v2 the way systemd does, runs the guest
# script named in /etc/vm.conf, sends /out back as a tar on ttyS3 and its
# status on ttyS2, then powers off. It must never exit: PID 1 exiting panics.
export PATH=/work/bin:/bin HOME=/root TERM=dumb VM_OUT=/out
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
stty -F /dev/ttyS3 raw -echo
echo "B $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS2

# systemd mounts the unified hierarchy with "nsdelegate,memory_recursiveprot"
# (its mount table in src/shared/mount-setup.c) and enables the controllers
# for its children. The root's own cpu.weight does
# not exist; the kubelet's slices get their controllers from here.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
done
ip link set lo up

. /etc/vm.conf
cd /work
# shellcheck disable=SC2086 # VM_ARGS is a word list on purpose
/bin/sh "./$VM_SCRIPT" $VM_ARGS </dev/null >/dev/ttyS1 2>&1
rc=$?
# Closing a tty waits until its output has been sent (closing_wait), so
# everything written above is out before the status is.
tar -cf /dev/ttyS3 -C /out . 2>/dev/null
echo "X $rc" >/dev/ttyS2
poweroff -f
