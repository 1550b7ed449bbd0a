#!/usr/bin/env bash
# The ffmpeg backend's cost: the same 1280x720 H.264 clip (300 frames with
# B-frames and film-like noise so that it has a real bitrate, made once with
# the ffmpeg CLI and cached) decoded through the daemon
# (vhost-user-video-client, --quiet, pictures to /dev/null) and directly with
# libavcodec (tests/ffmpeg/avref --bench), with the same codec threads on both
# sides, runs interleaved, medians printed:
#   - frames per second of each and their ratio daemon / direct (target >= 0.97);
#   - CPU time per frame of the daemon (utime+stime from /proc/PID/stat, all its
#     threads) minus that of the direct decode: what the daemon spends per frame
#     outside libavcodec (copies into guest memory, the virtqueues, the protocol).
# Never part of the test suite; exits 0 unless it could not run at all.
#
#   bench/ffmpeg.sh [--build-dir DIR] [--no-build] [--reps N] [--threads N]
#                   [--frame-threading on|off]
#
# DIR defaults to build/bench-ffmpeg (a release tree, set up when missing);
# --no-build uses DIR as it is (for `ninja bench-ffmpeg`, which builds first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=build/bench-ffmpeg reps=5 threads=1 ft=off build=1
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) dir=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	--reps) reps=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--frame-threading) ft=$2; shift 2 ;;
	*) echo "usage: bench/ffmpeg.sh [--build-dir DIR] [--no-build] [--reps N] [--threads N]" \
		"[--frame-threading on|off]" >&2
	   exit 2 ;;
	esac
done

if [ $build = 1 ]; then
	if [ ! -f "$dir/build.ninja" ]; then
		. scripts/deps.sh
		vuv_install_deps
		echo "== bench: release build ($dir)" >&2
		vuv_setup "$dir" --buildtype=release -Dffmpeg=enabled
	fi
	ninja -C "$dir" vhost-user-video vhost-user-video-client tests/avref >/dev/null
fi
daemon=$dir/vhost-user-video client=$dir/vhost-user-video-client avref=$dir/tests/avref

clip=$dir/bench-ffmpeg/clip-1280x720-300-noise.h264
if [ ! -s "$clip" ]; then
	echo "== making $clip (once)" >&2
	mkdir -p "$(dirname "$clip")"
	ffmpeg -hide_banner -loglevel error -nostdin -y \
		-f lavfi -i "testsrc2=size=1280x720:rate=30" -vf "noise=alls=12:allf=t" -frames:v 300 -pix_fmt yuv420p \
		-c:v libx264 -preset veryfast -x264-params keyint=60:bframes=2 \
		-f h264 "$clip.tmp"
	mv "$clip.tmp" "$clip"
fi

tmp=$(mktemp -d /tmp/vuv-bench-ffmpeg-XXXXXX)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
sock=$tmp/video.sock
"$daemon" --socket-path "$sock" --backend ffmpeg --decode-threads "$threads" \
	--frame-threading "$ft" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do
	[ -S "$sock" ] && break
	sleep 0.05
done
[ -S "$sock" ] || { echo "ffmpeg-bench: the daemon did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }

tick=$(getconf CLK_TCK)
# utime + stime of the daemon in clock ticks (fields 14 and 15 after the "(comm)").
daemon_ticks() {
	sed 's/^.*) //' "/proc/$daemon_pid/stat" | awk '{ print $12 + $13 }'
}
median() {
	sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "== ffmpeg bench: $(basename "$clip"), $reps runs each, interleaved; codec threads $threads, frame threading $ft" >&2
: >"$tmp/d_fps" ; : >"$tmp/r_fps" ; : >"$tmp/d_cpu" ; : >"$tmp/r_cpu"
frames=0
for i in $(seq "$reps"); do
	t0=$(daemon_ticks)
	line=$("$client" --socket-path "$sock" --quiet --stream-from "$clip" --stream-to /dev/null \
		--coded-format h264 --width 1280 --height 720 --pixel-format yuv420 \
		--chunk-size 64K --timeout 60000)
	t1=$(daemon_ticks)
	frames=$(sed -n 's/^decoded \([0-9]*\) frames.*/\1/p' <<<"$line")
	fps=$(sed -n 's/.* s, \([0-9.]*\) fps;.*/\1/p' <<<"$line")
	echo "$fps" >>"$tmp/d_fps"
	awk -v a="$t0" -v b="$t1" -v t="$tick" -v n="$frames" \
		'BEGIN { printf "%.3f\n", (b - a) / t / n * 1e6 }' >>"$tmp/d_cpu"

	line=$("$avref" --bench --threads "$threads" --frame-threading "$ft" "$clip")
	rf=$(sed -n 's/^avref: \([0-9]*\) frames in \([0-9.]*\) s wall, \([0-9.]*\) s cpu/\1 \2 \3/p' <<<"$line")
	read -r rn rwall rcpu <<<"$rf"
	[ "$rn" = "$frames" ] || { echo "ffmpeg-bench: $frames frames through the daemon, $rn direct" >&2; exit 1; }
	awk -v n="$rn" -v w="$rwall" 'BEGIN { printf "%.1f\n", n / w }' >>"$tmp/r_fps"
	awk -v n="$rn" -v c="$rcpu" 'BEGIN { printf "%.3f\n", c / n * 1e6 }' >>"$tmp/r_cpu"
	echo "  run $i: daemon $fps fps, $(tail -n1 "$tmp/d_cpu") us cpu/frame; direct $(tail -n1 "$tmp/r_fps") fps, $(tail -n1 "$tmp/r_cpu") us cpu/frame" >&2
done
dfps=$(median <"$tmp/d_fps") rfps=$(median <"$tmp/r_fps")
dcpu=$(median <"$tmp/d_cpu") rcpu=$(median <"$tmp/r_cpu")
awk -v df="$dfps" -v rf="$rfps" -v dc="$dcpu" -v rc="$rcpu" -v n="$frames" 'BEGIN {
	printf "ffmpeg fps: daemon %.1f, direct libavcodec %.1f, ratio %.3f (target >= 0.97; %d frames 1280x720 H.264)\n", df, rf, df / rf, n
	printf "ffmpeg cpu per frame: daemon %.0f us, direct %.0f us, daemon outside libavcodec %.0f us\n", dc, rc, dc - rc
}'
