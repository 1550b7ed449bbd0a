#!/usr/bin/env bash
# Real-device tests: the kernel's vicodec driver (a virtual FWHT codec with a real V4L2
# stateful decoder) inside a QEMU VM, so they run on any Debian 12 machine: no /dev/video*
# and no module loading on the host, and no KVM needed (QEMU TCG).
#
# Usage: tests/vm/run.sh [--build-dir DIR] [--keep] [--shell] [--timeout S] [--only GLOB]
#                        [--repeat N]
#   --build-dir DIR  the VM's daemon and client are built in DIR-vm (default: build/check, so
#                    build/check-vm), set up if missing with DIR's buildtype, -Dffmpeg=disabled
#                    (libavcodec's libraries would add ~100 MB to the initramfs) and
#                    -Dseccomp=enabled (the guest's daemon runs with its sandbox on); the two
#                    binaries are brought up to date with ninja
#   --keep           keep this run's initramfs and console log (the path is printed)
#   --shell          an interactive shell in the VM after the tests (console on this terminal)
#   --timeout S      stop the VM after S seconds (default 300, times the --repeat count)
#   --only GLOB      run only the guest cases whose name matches GLOB, e.g. 'daemon-*'
#   --repeat N       run the cases N times over in one boot (round k > 1 reports NAME.k), to
#                    catch races; the default time limit grows with N
#
# Steps: installs the missing Debian packages; once per kernel version, fetches the guest
# kernel from the machine's apt sources, builds vicodec.ko + v4l2-mem2mem.ko against the
# matching headers and keeps the result under the cache directory; then, every run, builds an
# initramfs (busybox, the modules, v4l2-ctl, our daemon and client from DIR-vm, a static yuvtool and
# guest/decode-tests.sh), boots it and counts the guest's "ok/FAIL/skip NAME" lines.
# Measurement cases (perf-*) print "perf: ..." lines; they are repeated, together, just before
# the last line, which is "vm: N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vhost-user-video/vm
FLAVOUR=amd64

BUILD_DIR=$REPO/build/check
KEEP=0 SHELL_MODE=0 TIMEOUT='' ONLY='' REPEAT=1
T_START=$EPOCHREALTIME

log() { printf 'vm: %s\n' "$*" >&2; }
# Set-up failures count as one failed test, so the closing line is always there.
die() {
	log "error: $*"
	echo "vm: 0 passed, 1 failed"
	exit 1
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
usage() { sed -n '/^# Usage:/,/^#  *catch races/s/^# \{0,1\}//p' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir)
		[ $# -ge 2 ] || die "--build-dir needs a value"
		BUILD_DIR=$(realpath -m "$2"); shift 2;;
	--keep) KEEP=1; shift;;
	--shell) SHELL_MODE=1; shift;;
	--timeout)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a number of seconds"
		TIMEOUT=$2; shift 2;;
	--only)
		[[ ${2:-} =~ ^[][A-Za-z0-9*?_.-]+$ ]] || die "--only needs a glob of case names"
		ONLY=$2; shift 2;;
	--repeat)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a count"
		REPEAT=$2; shift 2;;
	-h | --help) usage; exit 0;;
	*) usage >&2; die "unknown option '$1'";;
	esac
done
[ -n "$TIMEOUT" ] || TIMEOUT=$((300 * REPEAT))

# ---- host packages ------------------------------------------------------------------------

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
install_missing() {  # PACKAGE...
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
}
install_missing qemu-system-x86 busybox-static v4l-utils cpio gcc libc6-dev meson ninja-build \
	pkg-config libseccomp-dev ||
	die "could not install the host packages"

# ---- guest kernel and modules, cached per kernel version -------------------------------------

# The kernel: the ABI Debian's linux-image-amd64 points at, at its candidate version. Once
# prepared it is remembered in $CACHE/current, so warm runs need neither apt nor the network
# (VUV_VM_KABI=6.1.0-NN picks another ABI; deleting $CACHE starts afresh).
mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"  # runs may overlap; the kernel preparation must not
flock 9
KREL='' KVER=''
if [ -z "${VUV_VM_KABI:-}" ] && [ -s "$CACHE/current" ]; then
	read -r KREL KVER < "$CACHE/current"
	[ -f "$CACHE/$KREL-$KVER/.complete" ] || KREL=
fi
if [ -z "$KREL" ]; then
	kabi=${VUV_VM_KABI:-$(apt-cache depends linux-image-$FLAVOUR 2>/dev/null |
		sed -n "s/.*Depends: linux-image-\([0-9.]*-[0-9]*\)-$FLAVOUR\$/\1/p" | head -n 1)}
	[ -n "$kabi" ] || die "apt knows no linux-image-$FLAVOUR (apt-get update?)"
	KREL=$kabi-$FLAVOUR
	KVER=$(apt-cache policy "linux-image-$KREL" | sed -n 's/^ *Candidate: //p')
	case $KVER in "" | "(none)") die "apt has no linux-image-$KREL";; esac
fi
KDIR=$CACHE/$KREL-$KVER      # vmlinux, modules/*.ko + modules.load, src/, modbuild/

# vmlinuz is a compressed bzImage (XZ in Debian). Decompressing it inside a TCG guest takes
# longer than the whole boot, so we unpack the ELF vmlinux on the host and QEMU boots that
# through its PVH entry point. Debian does not ship scripts/extract-vmlinux: find the
# compressed payload by its magic and keep the first candidate that unpacks to an ELF file.
extract_vmlinux() {  # BZIMAGE OUT
	local magic tool off
	for magic in 'xz -dcq --single-stream:\xfd\x37\x7a\x58\x5a\x00' \
		'zstd -dcq:\x28\xb5\x2f\xfd' 'lz4 -dc:\x02\x21\x4c\x18' 'gzip -dcq:\x1f\x8b\x08'; do
		tool=${magic%%:*}
		command -v "${tool%% *}" > /dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "${magic#*:}" "$1" | cut -d: -f1 | head -n 4); do
			tail -c +$((off + 1)) "$1" | $tool > "$2.tmp" 2> /dev/null || true
			if [ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				mv "$2.tmp" "$2"
				return 0
			fi
		done
	done
	rm -f "$2.tmp"
	return 1
}

prepare_kernel() {
	local t0=$EPOCHREALTIME tmp out=$KDIR.tmp major hdrs=/usr/src/linux-headers-$KREL
	local sandbox=() ko name
	trap 'rm -rf "$tmp" "$out"' EXIT
	log "preparing kernel $KREL $KVER in $KDIR (once per kernel version)"
	install_missing "linux-headers-$KREL" make kmod xz-utils ||
		die "could not install the kernel headers"
	[ "$(dpkg-query -W -f='${Version}' "linux-headers-$KREL")" = "$KVER" ] ||
		log "warning: linux-headers-$KREL is not at $KVER; the modules may not load"
	major=$(echo "$KREL" | cut -d. -f1-2)
	tmp=$(mktemp -d "$CACHE/prepare.XXXXXX")
	rm -rf "$out"
	mkdir -p "$out/modules" "$out/src"
	# apt-get download fetches from the machine's own apt sources (root: no _apt sandbox).
	[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
	log "downloading linux-image-$KREL and linux-source-$major (about 210 MB)"
	(cd "$tmp" && apt-get "${sandbox[@]}" download -qq "linux-image-$KREL=$KVER" \
		"linux-source-$major=$KVER" >&2) ||
		die "apt-get download of the kernel packages failed"

	dpkg-deb -x "$tmp"/linux-image-"$KREL"_*.deb "$tmp/image"
	extract_vmlinux "$tmp/image/boot/vmlinuz-$KREL" "$out/vmlinux" ||
		die "could not unpack vmlinux from vmlinuz-$KREL"

	# Only vicodec and v4l2-mem2mem (not built by Debian) are needed from the 139 MB source;
	# stream them out of the tarball inside the deb.
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-"$major"_*.deb |
		tar -xOf - "./usr/src/linux-source-$major.tar.xz" |
		tar -xJf - -C "$out/src" --strip-components=1 --wildcards \
			"linux-source-$major/drivers/media/v4l2-core/v4l2-mem2mem.c" \
			"linux-source-$major/drivers/media/test-drivers/vicodec/*" ||
		die "could not extract the vicodec sources"

	# Both modules in one M= directory, so vicodec's symbol CRCs for v4l2_m2m_* come from
	# our own Module.symvers and the rest from the headers'.
	mkdir -p "$out/modbuild"
	cp "$out/src/drivers/media/v4l2-core/v4l2-mem2mem.c" \
		"$out"/src/drivers/media/test-drivers/vicodec/*.[ch] "$out/modbuild/"
	printf '%s\n' 'obj-m += v4l2-mem2mem.o vicodec.o' \
		'vicodec-objs := vicodec-core.o codec-fwht.o codec-v4l2-fwht.o' \
		> "$out/modbuild/Kbuild"
	make -s -C "$hdrs" M="$out/modbuild" -j"$(nproc)" modules 2>&1 |
		grep -v 'Skipping BTF generation' >&2 || true
	for name in v4l2-mem2mem vicodec; do
		[ -f "$out/modbuild/$name.ko" ] || die "building $name.ko failed"
		case $(modinfo -F vermagic "$out/modbuild/$name.ko") in
		"$KREL "*) ;;
		*) die "$name.ko was built for another kernel";;
		esac
	done

	# Load order: depmod over Debian's modules plus ours, then modprobe --show-depends.
	mkdir -p "$tmp/tree/lib/modules"
	mv "$tmp/image/lib/modules/$KREL" "$tmp/tree/lib/modules/"
	mkdir -p "$tmp/tree/lib/modules/$KREL/extra"
	cp "$out/modbuild/v4l2-mem2mem.ko" "$out/modbuild/vicodec.ko" \
		"$tmp/tree/lib/modules/$KREL/extra/"
	depmod -b "$tmp/tree" "$KREL"
	modprobe -d "$tmp/tree" -S "$KREL" --show-depends vicodec |
		awk '$1 == "insmod" { print $2 }' > "$tmp/order"
	[ -s "$tmp/order" ] || die "could not resolve the modules vicodec needs"
	: > "$out/modules.load"
	while read -r ko; do
		name=$(basename "$ko")
		case $name in
		*.ko.xz) xz -dc "$ko" > "$out/modules/${name%.xz}"; name=${name%.xz};;
		*.ko) cp "$ko" "$out/modules/";;
		*) die "unexpected module file $ko";;
		esac
		echo "$name" >> "$out/modules.load"
	done < "$tmp/order"

	rm -rf "$tmp" "$KDIR"
	touch "$out/.complete"
	mv "$out" "$KDIR"
	trap - EXIT
	log "kernel $KREL ready in $(since "$t0") s: $(tr '\n' ' ' < "$KDIR/modules.load")"
}
T_PREP=$EPOCHREALTIME
[ -f "$KDIR/.complete" ] || prepare_kernel
echo "$KREL $KVER" > "$CACHE/current"
flock -u 9

# ---- our binaries --------------------------------------------------------------------------

# A build of their own, next to DIR: the same buildtype (bench/ measures a release build),
# without the ffmpeg backend, with the sandbox.
VM_BUILD=$BUILD_DIR-vm
if [ ! -f "$VM_BUILD/build.ninja" ]; then
	[ ! -e "$VM_BUILD" ] || [ -z "$(ls -A "$VM_BUILD")" ] ||
		die "$VM_BUILD exists but is not a meson build directory"
	buildtype=debugoptimized
	if [ -f "$BUILD_DIR/build.ninja" ]; then
		buildtype=$(meson introspect --buildoptions "$BUILD_DIR" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))') ||
			die "cannot read the buildtype of $BUILD_DIR"
	fi
	log "meson setup $VM_BUILD (buildtype $buildtype, no ffmpeg, seccomp)"
	meson setup "$VM_BUILD" "$REPO" -Dbuildtype="$buildtype" -Dffmpeg=disabled \
		-Dseccomp=enabled > "$CACHE/meson.log" 2>&1 ||
		{ tail -n 20 "$CACHE/meson.log" >&2; die "meson setup $VM_BUILD failed"; }
fi
if ! ninja -C "$VM_BUILD" vhost-user-video vhost-user-video-client > "$CACHE/ninja.log" 2>&1; then
	tail -n 20 "$CACHE/ninja.log" >&2
	die "building the daemon and the client in $VM_BUILD failed"
fi

# yuvtool: static, so it needs nothing in the guest; cached by the hash of its source.
YUVTOOL=$CACHE/yuvtool-$(sha256sum "$VM_DIR/yuvtool.c" | cut -c1-16)
if [ ! -x "$YUVTOOL" ]; then
	gcc -std=c17 -O2 -static -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
		-Werror -o "$YUVTOOL.tmp" "$VM_DIR/yuvtool.c" -lm || die "building yuvtool failed"
	mv "$YUVTOOL.tmp" "$YUVTOOL"
fi
log "kernel, modules and tools ready in $(since "$T_PREP") s"

# ---- initramfs (every run: our binaries change) ------------------------------------------------

T_INITRD=$EPOCHREALTIME
RUN_DIR=$(mktemp -d "$CACHE/run.XXXXXX")
QEMU_PID=
cleanup() {
	[ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2> /dev/null || true
	if [ "$KEEP" = 1 ]; then
		rm -rf "$RUN_DIR/root"
	else
		[ ! -f "$RUN_DIR/console.log" ] ||
			cp "$RUN_DIR/console.log" "$CACHE/last-console.log"
		rm -rf "$RUN_DIR"
	fi
}
trap cleanup EXIT
ROOT=$RUN_DIR/root
mkdir -p "$ROOT"/{usr/bin,usr/lib/x86_64-linux-gnu,usr/lib64,usr/lib/modules,etc,proc,sys,dev,tmp}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done   # merged /usr, like the host
ln -s bin "$ROOT/usr/sbin"

cp /bin/busybox "$ROOT/usr/bin/"
/bin/busybox --install -s "$ROOT/usr/bin"   # links to /usr/bin/busybox

# An ELF file with the shared libraries ldd finds for it, at the same paths.
add_elf() {  # FILE
	local lib dst
	cp "$1" "$ROOT/usr/bin/"
	ldd "$1" 2> /dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' |
		while read -r lib; do
			dst=$ROOT/usr/lib/x86_64-linux-gnu/$(basename "$lib")
			case $lib in */ld-linux*) dst=$ROOT/usr/lib64/$(basename "$lib");; esac
			[ -e "$dst" ] || cp -L "$lib" "$dst"
		done
}
for f in vhost-user-video vhost-user-video-client; do
	[ -x "$VM_BUILD/$f" ] || die "no $VM_BUILD/$f"
	add_elf "$VM_BUILD/$f"
done
add_elf "$(command -v v4l2-ctl)"
cp "$YUVTOOL" "$ROOT/usr/bin/yuvtool"
cp "$KDIR"/modules/*.ko "$ROOT/usr/lib/modules/"
cp "$KDIR/modules.load" "$ROOT/etc/"
install -m 755 "$VM_DIR/guest/init" "$ROOT/init"
install -m 755 "$VM_DIR/guest/decode-tests.sh" "$ROOT/usr/bin/"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$RUN_DIR/initramfs.cpio"
rm -rf "$ROOT"
log "initramfs $(du -h "$RUN_DIR/initramfs.cpio" | cut -f1) in $(since "$T_INITRD") s"

# ---- boot -----------------------------------------------------------------------------------

# TCG with the plain qemu64 CPU was the fastest here; KVM when the host offers it.
ACCEL=(-accel tcg -cpu qemu64)
[ -r /dev/kvm ] && [ -w /dev/kvm ] && ACCEL=(-accel kvm -cpu host)
# A kernel oops (vicodec has had some) ends the VM at once instead of hanging the tests.
# Boot-time savers under TCG: no crypto self-tests, no TSC calibration checks, no audit.
APPEND="console=ttyS0 quiet panic=-1 oops=panic"
APPEND+=" cryptomgr.notests tsc=reliable no_timer_check audit=0 mitigations=off"
[ -z "$ONLY" ] || APPEND+=" vm.only=$ONLY"
[ "$REPEAT" = 1 ] || APPEND+=" vm.repeat=$REPEAT"
[ "$SHELL_MODE" = 0 ] || APPEND+=" vm.shell=1"
QEMU=(qemu-system-x86_64 "${ACCEL[@]}" -smp 2 -m 1G -nodefaults -no-user-config -nographic
	-serial stdio -no-reboot -net none -kernel "$KDIR/vmlinux" -initrd "$RUN_DIR/initramfs.cpio"
	-append "$APPEND")
LOG=$RUN_DIR/console.log
T_VM=$EPOCHREALTIME
log "booting: ${QEMU[*]}"
if [ "$SHELL_MODE" = 1 ]; then
	"${QEMU[@]}" | tee "$LOG" || true
	sed -i 's/\r$//' "$LOG"
else
	# The console lines end in \r; the guest's result lines are copied out as they come.
	set +e
	timeout -k 5 "$TIMEOUT" "${QEMU[@]}" < /dev/null 2>&1 | tr -d '\r' | tee "$LOG"
	qemu_status=${PIPESTATUS[0]}
	set -e
	[ "$qemu_status" -ne 124 ] || log "the VM was stopped after $TIMEOUT s"
fi
log "VM ran $(since "$T_VM") s"

# ---- results --------------------------------------------------------------------------------

passed=$(grep -c '^ok [A-Za-z0-9._-]*$' "$LOG" || true)
failed=$(grep -c '^FAIL [A-Za-z0-9._-]*:' "$LOG" || true)
skipped=$(grep -c '^skip [A-Za-z0-9._-]*:' "$LOG" || true)
if ! grep -q '^vm-guest: done: ' "$LOG"; then
	# Name what stopped it: a kernel crash (oops=panic ends the VM) or the time limit.
	why=$(grep -a -m 1 -E 'BUG:|Oops:|Kernel panic' "$LOG" | sed 's/^\[[ 0-9.]*\] //' || true)
	[ -n "$why" ] || why="no end marker (timeout or crash; console: $LOG)"
	after=$(grep -E '^(ok|FAIL|skip) ' "$LOG" | tail -n 1 | cut -d' ' -f2 | tr -d : || true)
	echo "FAIL vm-guest: the tests stopped after case ${after:-(none)}: $why"
	failed=$((failed + 1))
fi
skipped_names=$(sed -n 's/^skip \([^:]*\):.*/\1/p' "$LOG" | tr '\n' ' ')
[ "$skipped" -eq 0 ] || log "skipped (not counted as passed): $skipped_names"
[ "$KEEP" = 0 ] || log "kept $RUN_DIR (initramfs.cpio, console.log)"
log "total $(since "$T_START") s"
grep -a '^perf: ' "$LOG" || true
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
