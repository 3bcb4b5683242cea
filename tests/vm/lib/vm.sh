# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Host side of the VM test-bed: boot a stock Debian kernel in qemu from an
# initramfs holding busybox, tests/vm/lib/init.sh as PID 1 and the files a
# test adds, run one guest script, and bring back its output and results.
# Sourced by bash scripts; every name it defines starts with vm_ / VM_.
#
#   . tests/vm/lib/vm.sh
#   vm_new || exit                   # staging dir, requirement checks
#   trap vm_cleanup EXIT
#   vm_add build/rel/podtuner bin/   # -> /work/bin/podtuner in the guest
#   vm_add tests/vm/my_guest.sh
#   vm_run -t 60 my_guest.sh ARG...  # output streamed; results in $VM_OUT
#
# Serial ports (no drivers needed: the 8250 is built into Debian kernels and
# CONFIG_SERIAL_8250_RUNTIME_UARTS=4 gives ttyS0..3):
#   ttyS0  kernel console          -> $VM_DIR/console.log
#   ttyS1  guest script's stdout+stderr, raw -> our stdout
#   ttyS2  control: "B <uptime>" when /init starts, "X <status>" at the end
#   ttyS3  results: a tar of the guest's /out -> extracted into $VM_OUT
#
# vm_run's exit status says what happened, and a line on stderr says it too:
#   0..99  the guest script's status (a status above 99 is reported as 99)
#   100    setup failed on the host (qemu, busybox, cpio or the kernel missing)
#   101    the VM did not boot: /init never reported (bad kernel, hang)
#   102    timeout: /init started but the script did not finish in time
#   103    the VM died after booting without a status (panic, qemu crash)
# so a broken VM can never be mistaken for a passing test.

VM_RC_GUEST_MAX=99
VM_RC_SETUP=100
VM_RC_BOOT=101
VM_RC_TIMEOUT=102
VM_RC_DIED=103

VM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_TOP=$(cd "$VM_LIB/../../.." && pwd)
: "${VM_KERNEL:=}"      # kernel image; default: newest build/vm/kernel/boot/vmlinuz-*
: "${VM_MEM:=512}"      # guest RAM, MiB (the initramfs lives in it)
: "${VM_CPUS:=2}"       # vCPUs
: "${VM_TIMEOUT:=120}"  # seconds for a whole run, boot included
: "${VM_ACCEL:=auto}"   # auto | kvm | tcg
: "${VM_VERBOSE:=0}"    # 1: timings and the kernel log on stderr
VM_DIR=""
VM_OUT=""
VM_ROOT=""
VM_SECS=""      # wall time of the last vm_run
VM_BOOT_SECS="" # guest uptime when /init started, last vm_run
VM_INITRD_MIB="" # size of the last initramfs

vm_log() { echo "vm: $*" >&2; }

vm_setup_failed() {
	vm_log "SETUP FAILED: $*"
	return "$VM_RC_SETUP"
}

# vm_check: are qemu, a static busybox, cpio and a kernel here? Prints what
# is missing and how to get it; status VM_RC_SETUP then.
vm_check() {
	local bb
	command -v qemu-system-x86_64 >/dev/null ||
		{ vm_setup_failed "qemu-system-x86_64 not found (make deps installs qemu-system-x86)"; return; }
	command -v cpio >/dev/null || { vm_setup_failed "cpio not found (make deps installs it)"; return; }
	bb=$(command -v busybox || true)
	[ -n "$bb" ] || { vm_setup_failed "busybox not found (make deps installs busybox-static)"; return; }
	if readelf -l "$bb" 2>/dev/null | grep -q 'program interpreter'; then
		vm_setup_failed "$bb is dynamically linked: the guest needs busybox-static"
		return
	fi
	if [ -n "$VM_KERNEL" ]; then
		[ -r "$VM_KERNEL" ] || { vm_setup_failed "VM_KERNEL '$VM_KERNEL' is not a readable file"; return; }
		return 0
	fi
	VM_KERNEL=$(ls "$VM_TOP"/build/vm/kernel/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$VM_KERNEL" ] ||
		{ vm_setup_failed "no kernel image in build/vm/kernel (make deps runs tests/vm/fetch-kernel.sh)"; return; }
	return 0
}

# vm_new: check the requirements and start an empty guest tree in a fresh
# $VM_DIR. Call vm_cleanup (e.g. from a trap) to remove it.
vm_new() {
	local bb a
	VM_DIR="" VM_ROOT="" VM_OUT=""
	vm_check || return
	VM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/podtuner-vm.XXXXXX") || { vm_setup_failed "mktemp"; return; }
	VM_ROOT=$VM_DIR/root
	VM_OUT=$VM_DIR/out
	mkdir -p "$VM_ROOT"/bin "$VM_ROOT"/dev "$VM_ROOT"/proc "$VM_ROOT"/sys "$VM_ROOT"/tmp \
		"$VM_ROOT"/run "$VM_ROOT"/etc "$VM_ROOT"/work/bin "$VM_ROOT"/out "$VM_ROOT"/usr "$VM_OUT"
	bb=$(command -v busybox)
	cp "$bb" "$VM_ROOT/bin/busybox"
	for a in $("$bb" --list); do
		[ -e "$VM_ROOT/bin/$a" ] || ln -s busybox "$VM_ROOT/bin/$a"
	done
	ln -s bin "$VM_ROOT/sbin"
	ln -s ../bin "$VM_ROOT/usr/bin"
	ln -s ../bin "$VM_ROOT/usr/sbin"
	cp "$VM_LIB/init.sh" "$VM_ROOT/init"
	cp "$VM_LIB/kubelet.sh" "$VM_ROOT/work/kubelet.sh"
	chmod 0755 "$VM_ROOT/init"
}

vm_cleanup() {
	if [ -n "$VM_DIR" ] && [ "${VM_KEEP:-0}" != 1 ]; then
		rm -rf "$VM_DIR"
	elif [ -n "$VM_DIR" ]; then
		vm_log "kept $VM_DIR"
	fi
	VM_DIR=""
}

# vm_add SRC [DEST]: copy a file or directory into the guest's /work.
# DEST is relative to /work; ending in / means "into this directory".
vm_add() {
	local src=$1 dest=${2:-} to
	[ -n "$VM_ROOT" ] || { vm_setup_failed "vm_add before vm_new"; return; }
	[ -e "$src" ] || { vm_setup_failed "cannot add '$src': no such file"; return; }
	case "$dest" in
	"") to=$VM_ROOT/work/$(basename "$src") ;;
	*/) mkdir -p "$VM_ROOT/work/$dest" && to=$VM_ROOT/work/$dest$(basename "$src") ;;
	*) mkdir -p "$(dirname "$VM_ROOT/work/$dest")" && to=$VM_ROOT/work/$dest ;;
	esac
	cp -a "$src" "$to" || { vm_setup_failed "cannot copy '$src' to '$to'"; return; }
}

# Copy the loader and libraries of every dynamically linked ELF file in the
# guest tree (executables and shared objects: a JVM dlopen()s libjvm.so,
# which ldd on bin/java does not show) from the host, at the same paths.
vm_add_libs() {
	local f lib
	while IFS= read -r -d '' f; do
		case "$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" in
		177ELF) ;;
		*) continue ;;
		esac
		readelf -d "$f" 2>/dev/null | grep -q '(NEEDED)' || continue
		for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+'); do
			# A library found next to the file (libjli.so beside
			# bin/java, through its RUNPATH) is already in the tree.
			case "$lib" in "$VM_ROOT"/*) continue ;; esac
			[ -e "$VM_ROOT$lib" ] && continue
			mkdir -p "$VM_ROOT$(dirname "$lib")"
			cp -L "$lib" "$VM_ROOT$lib" || { vm_setup_failed "cannot copy library '$lib'"; return; }
		done
	done < <(find "$VM_ROOT/work" -type f \( -perm -u+x -o -name '*.so*' \) -print0)
}

vm_accel() {
	case "$VM_ACCEL" in
	kvm) echo kvm ;;
	tcg) echo tcg ;;
	*)
		# Only a hardware-backed /dev/kvm boots a stock kernel: on the
		# sandboxes this runs on it is kvm_pvm, which needs PVM guests
		# (../shared/tools/vm/README.md), and the kernel hangs after
		# "Probing EDD".
		if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
			echo kvm
		else
			echo tcg
		fi
		;;
	esac
}

# vm_run [-t SECS] [-m MIB] [-c CPUS] [-a KERNEL_ARGS] SCRIPT [ARG...]
# Pack the guest tree and boot it; /init runs `sh /work/SCRIPT ARG...` with
# cwd /work, PATH=/work/bin:/bin and VM_OUT=/out. Streams the script's
# output to stdout, extracts /out into $VM_OUT, and returns as described
# at the top. Arguments must not contain quotes or newlines.
vm_run() {
	local timeout=$VM_TIMEOUT mem=$VM_MEM cpus=$VM_CPUS append="" script accel rc status start
	local -a accel_args
	VM_SECS="" VM_BOOT_SECS="" VM_INITRD_MIB=""
	while [ $# -gt 0 ]; do
		case "$1" in
		-t) timeout=$2; shift 2 ;;
		-m) mem=$2; shift 2 ;;
		-c) cpus=$2; shift 2 ;;
		-a) append=$2; shift 2 ;;
		*) break ;;
		esac
	done
	script=$1
	shift
	[ -n "$VM_DIR" ] || { vm_setup_failed "vm_run before vm_new"; return; }
	[ -f "$VM_ROOT/work/$script" ] || { vm_setup_failed "no guest script '$script' (vm_add it first)"; return; }
	vm_add_libs || return
	{
		echo "VM_SCRIPT='$script'"
		printf 'VM_ARGS='\''%s'\''\n' "$*"
	} >"$VM_ROOT/etc/vm.conf"
	(cd "$VM_ROOT" && find . -print0 | cpio --null -o -H newc --owner 0:0 --quiet) >"$VM_DIR/initrd.cpio" ||
		{ vm_setup_failed "cannot pack the initramfs"; return; }
	VM_INITRD_MIB=$(($(stat -c %s "$VM_DIR/initrd.cpio") >> 20))

	accel=$(vm_accel)
	if [ "$accel" = kvm ]; then
		accel_args=(-accel kvm -cpu host)
	else
		# shellcheck disable=SC2054 # qemu option values, not array elements
		accel_args=(-accel tcg,thread=multi -cpu max)
		# TCG's TSC follows the host clock and agrees across vCPUs; without
		# this the guest falls back to the slow-to-read HPET.
		append="tsc=reliable $append"
	fi
	[ "$VM_VERBOSE" = 1 ] && vm_log "booting ${VM_KERNEL##*/} ($accel, $cpus vCPUs, $mem MiB, initramfs $VM_INITRD_MIB MiB)"
	: >"$VM_DIR/ctl"
	: >"$VM_DIR/results.tar"
	: >"$VM_DIR/console.log"
	start=$(date +%s.%N)
	timeout -k 5 "$timeout" qemu-system-x86_64 \
		-nodefaults -no-user-config -display none -no-reboot \
		-machine pc "${accel_args[@]}" -m "$mem" -smp "$cpus" \
		-kernel "$VM_KERNEL" -initrd "$VM_DIR/initrd.cpio" \
		-append "console=ttyS0 quiet panic=-1 cryptomgr.notests rdinit=/init $append" \
		-serial "file:$VM_DIR/console.log" \
		-serial stdio \
		-serial "file:$VM_DIR/ctl" \
		-serial "file:$VM_DIR/results.tar" \
		</dev/null
	rc=$?
	VM_SECS=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	VM_BOOT_SECS=$(awk '$1 == "B" { print $2; exit }' "$VM_DIR/ctl" | tr -dc '0-9.')
	status=$(awk '$1 == "X" { print $2; exit }' "$VM_DIR/ctl" | tr -dc '0-9')
	[ "$VM_VERBOSE" = 1 ] && {
		vm_log "qemu ran ${VM_SECS}s (rc $rc), /init started at ${VM_BOOT_SECS:-?}s guest uptime"
		echo "----- kernel console -----" >&2
		cat "$VM_DIR/console.log" >&2
	}
	if [ -s "$VM_DIR/results.tar" ]; then
		tar -xf "$VM_DIR/results.tar" -C "$VM_OUT" 2>/dev/null ||
			vm_log "warning: the results archive from ttyS3 is damaged"
	fi
	if [ -z "$VM_BOOT_SECS" ]; then
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			vm_log "BOOT FAILED: /init had not started after ${timeout}s (timed out); kernel console tail:"
		else
			vm_log "BOOT FAILED: /init never reported (qemu status $rc after ${VM_SECS}s); kernel console tail:"
		fi
		tail -n 25 "$VM_DIR/console.log" >&2
		return "$VM_RC_BOOT"
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		vm_log "TIMEOUT: '$script' did not finish within ${timeout}s; kernel console tail:"
		tail -n 25 "$VM_DIR/console.log" >&2
		return "$VM_RC_TIMEOUT"
	fi
	if [ -z "$status" ]; then
		vm_log "VM DIED: booted, but stopped without a status (qemu status $rc); kernel console tail:"
		tail -n 25 "$VM_DIR/console.log" >&2
		return "$VM_RC_DIED"
	fi
	[ "$VM_VERBOSE" = 1 ] && vm_log "'$script' exited $status"
	if [ "$status" -gt "$VM_RC_GUEST_MAX" ]; then
		vm_log "'$script' exited $status (reported as $VM_RC_GUEST_MAX)"
		return "$VM_RC_GUEST_MAX"
	fi
	return "$status"
}

# vm_describe_rc RC: one word for a vm_run status, for reports.
vm_describe_rc() {
	case "$1" in
	0) echo pass ;;
	"$VM_RC_SETUP") echo "setup-failed" ;;
	"$VM_RC_BOOT") echo "boot-failed" ;;
	"$VM_RC_TIMEOUT") echo "timeout" ;;
	"$VM_RC_DIED") echo "vm-died" ;;
	*) echo "guest-failed($1)" ;;
	esac
}
