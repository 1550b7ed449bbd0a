#!/usr/bin/env bash
# The benchmarks in one command: installs what they need (Debian 12; valgrind for the
# instruction counts), builds a release tree in build/bench and runs bench/vuv-bench
# against the daemon built there. Prints a table of figures, each a ratio against a
# reference measured in the same run, and exits 0; never part of the test suite.
#
#   bench/run.sh [--no-vm] [--no-ffmpeg] [--json FILE] [--quick] [--reps N]
#                [--only 1,2,3,4,5] [--no-callgrind] [--keep-callgrind DIR]
#
# build/bench has no ffmpeg backend: figures 1-5 measure the protocol path (null
# backend), and valgrind (figure 3) cannot run a binary linked with Debian's libavcodec
# (its libhwy executes rdtscp at load). Figure 6, the ffmpeg backend against a direct
# libavcodec decode, comes from bench/ffmpeg.sh in its own tree (build/bench-ffmpeg;
# about 1 min; --no-ffmpeg leaves it out).
# All options but --no-vm and --no-ffmpeg go to vuv-bench (docs/performance.md); paths are relative to
# where you run it from. Figure 5 for the v4l2-decoder backend needs a real stateful
# decoder: after the table, the vicodec VM of tests/vm runs its perf-fps case (the same
# clip decoded with v4l2-ctl and through the daemon, in one boot) and its figures are
# printed as 5v4l2 (about 30 s more; --no-vm leaves it out).
set -euo pipefail
here=$PWD
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/deps.sh
vuv_install_deps valgrind

dir=build/bench
echo "== bench: release build ($dir)" >&2
vuv_setup "$dir" --buildtype=release -Dffmpeg=disabled
vm=1 ff=1
args=()
for a in "$@"; do
	case $a in
	--no-vm) vm=0 ;;
	--no-ffmpeg) ff=0 ;;
	*) args+=("$a") ;;
	esac
done
ninja -C "$dir" vhost-user-video vhost-user-video-client bench/vuv-bench >/dev/null
(cd "$here" && "$root/$dir/bench/vuv-bench" --daemon "$root/$dir/vhost-user-video" \
	${args[@]+"${args[@]}"}) || true
if [ $vm = 1 ]; then
	echo "== figure 5v4l2: vicodec in the VM (tests/vm/run.sh --only perf-fps)" >&2
	if ! tests/vm/run.sh --build-dir "$dir" --only perf-fps 2>/dev/null | grep '^perf:' |
		sort -u | sed 's/^perf: /5v4l2  /'; then
		echo "5v4l2  n/a: the VM run failed (tests/vm/run.sh --build-dir $dir --only perf-fps)"
	fi
fi
if [ $ff = 1 ]; then
	echo "== figure 6: the ffmpeg backend (bench/ffmpeg.sh --reps 5)" >&2
	if ! bench/ffmpeg.sh --reps 5 | sed 's/^/6  /'; then
		echo "6  n/a: bench/ffmpeg.sh failed"
	fi
fi
exit 0
