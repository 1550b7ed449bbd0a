#!/usr/bin/env bash
# The ffmpeg backend's cost: the same 1280x720 H.264 clip (300 frames with
# B-frames and film-like noise so that it has a real bitrate, made once with
# the ffmpeg CLI and cached) decoded through the daemon
# (vhost-user-video-client, --quiet, pictures to /dev/null) and directly with
# libavcodec (tests/ffmpeg/avref --bench), with the same codec threads on both
# sides, runs interleaved, medians printed:
#   - frames per second of each, and the ratio daemon / direct as the median of the
#     per-pair ratios (target >= 0.97);
#   - CPU time per frame of the daemon (utime+stime from /proc/PID/stat, all its
#     threads) minus that of the direct decode: what the daemon spends per frame
#     outside libavcodec (copies into guest memory, the virtqueues, the protocol).
#   - where the daemon's CPU time goes, from one more run sampled with
#     `perf record -e cpu-clock` (software clock: works without hardware counters):
#     the share in the codec libraries, in libc (the picture copies), in the
#     daemon's own code and in the kernel, against the same split of a direct
#     decode: the difference of the shares outside the codec is what the daemon
#     adds, printed in % and in us per frame. (The difference of the two CPU times
#     above is within the run-to-run noise; the split within one run is not.)
#     Left out when perf is missing or cannot sample.
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
: >"$tmp/d_fps" ; : >"$tmp/r_fps" ; : >"$tmp/d_cpu" ; : >"$tmp/r_cpu" ; : >"$tmp/pair"
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
	awk -v d="$fps" -v r="$(tail -n1 "$tmp/r_fps")" 'BEGIN { printf "%.4f\n", d / r }' >>"$tmp/pair"
	echo "  run $i: daemon $fps fps, $(tail -n1 "$tmp/d_cpu") us cpu/frame; direct $(tail -n1 "$tmp/r_fps") fps, $(tail -n1 "$tmp/r_cpu") us cpu/frame" >&2
done
dfps=$(median <"$tmp/d_fps") rfps=$(median <"$tmp/r_fps")
dcpu=$(median <"$tmp/d_cpu") rcpu=$(median <"$tmp/r_cpu") pair=$(median <"$tmp/pair")
cdiff=$(paste "$tmp/d_cpu" "$tmp/r_cpu" | awk '{ print $1 - $2 }' | median)
# The ratio is the median of the per-pair ratios: the two runs of a pair follow each other,
# so a machine whose speed drifts (a shared VM) moves both.
awk -v df="$dfps" -v rf="$rfps" -v dc="$dcpu" -v rc="$rcpu" -v n="$frames" -v pr="$pair" -v k="$reps" -v cd="$cdiff" 'BEGIN {
	printf "ffmpeg fps: daemon %.1f, direct libavcodec %.1f (medians); ratio %.3f (median of %d interleaved pairs; target >= 0.97; %d frames 1280x720 H.264)\n", df, rf, pr, k, n
	printf "ffmpeg cpu per frame: daemon %.0f us, direct %.0f us (medians); difference %.0f us (median of the pairs; within the noise of this figure, see the profile below)\n", dc, rc, cd
}'

# ---- where the daemon's time goes (perf, one more run) -------------------------------
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$tmp/probe.data" true >/dev/null 2>&1; then
	perf record -q -e cpu-clock -F 2000 -p "$daemon_pid" -o "$tmp/perf.data" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.5
	t0=$(daemon_ticks)
	"$client" --socket-path "$sock" --quiet --stream-from "$clip" --stream-to /dev/null \
		--coded-format h264 --width 1280 --height 720 --pixel-format yuv420 \
		--chunk-size 64K --timeout 60000 >/dev/null
	t1=$(daemon_ticks)
	kill -INT "$perf_pid" 2>/dev/null
	wait "$perf_pid" 2>/dev/null || true
	d_us=$(awk -v a="$t0" -v b="$t1" -v t="$tick" -v n="$frames" 'BEGIN { print (b - a) / t / n * 1e6 }')
	# The direct decode, sampled the same way: libc and the kernel also run inside it
	# (libavcodec's own memsets, page faults, the hypervisor's timer on a VM).
	line=$(perf record -q -e cpu-clock -F 2000 -o "$tmp/perf-direct.data" \
		"$avref" --bench --threads "$threads" --frame-threading "$ft" "$clip" 2>/dev/null)
	r_us=$(sed -n 's/^avref: \([0-9]*\) frames in [0-9.]* s wall, \([0-9.]*\) s cpu/\1 \2/p' <<<"$line" |
		awk '{ print $2 / $1 * 1e6 }')
	profile() { # FILE US LABEL
		perf report -i "$1" --sort dso --stdio 2>/dev/null |
		awk -v us="$2" -v label="$3" '
		/^ *[0-9.]+%/ {
			pct = $1; sub(/%/, "", pct); dso = $2
			if (dso ~ /^lib(avcodec|avutil|swscale|avformat)/) codec += pct
			else if (dso ~ /^libc\./) libc += pct
			else if (dso ~ /kernel/) kern += pct
			else if (dso == "vhost-user-video") own += pct
			else other += pct
		}
		END {
			out = libc + kern + own
			printf "ffmpeg profile %s (perf cpu-clock, %.0f us cpu/frame): codec libraries %.1f%%, libc %.1f%%, own code %.1f%%, kernel %.1f%%, other (loader) %.1f%%\n", label, us, codec, libc, own, kern, other
			print out >"/dev/stderr"
		}'
	}
	{ profile "$tmp/perf.data" "$d_us" "daemon" 2>"$tmp/d_out"
	  profile "$tmp/perf-direct.data" "$r_us" "direct" 2>"$tmp/r_out"; }
	# Shares, not absolute times: the CPU time per frame of two runs differs by more than
	# what is being measured, the split within one run does not.
	awk -v d="$(cat "$tmp/d_out")" -v r="$(cat "$tmp/r_out")" -v us="$d_us" 'BEGIN {
		printf "ffmpeg cpu the daemon adds outside the codec (libc + own code + kernel: %.1f%% of its cpu vs %.1f%% direct): %.1f%% = %.0f us per frame\n", d, r, d - r, (d - r) * us / 100 }'
else
	echo "ffmpeg profile: left out (perf missing or cannot sample here)"
fi
