#!/usr/bin/env bash
# The demo: installs what the build needs (Debian 12), builds a release, starts
# the daemon with the ffmpeg backend (software decoding with libavcodec) on a
# temporary socket, and lets our own front-end, vhost-user-video-client, print
# the device's capabilities and decode a real H.264 clip through it (made here
# with the ffmpeg CLI from its test pattern). Every picture is compared with a
# direct libavcodec decode of the same clip (tests/ffmpeg/avref), and one is
# written as a PNG under build/demo/ to look at. Ends by stopping the daemon
# with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
vuv_install_deps

build=build/demo
echo "== build ($build)"
vuv_setup "$build" --buildtype=release -Dffmpeg=enabled
ninja -C "$build" >/dev/null
daemon=$build/vhost-user-video
client=$build/vhost-user-video-client
avref=$build/tests/avref

tmp=$(mktemp -d /tmp/vuv-demo-XXXXXX)
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

echo "== start: $daemon --socket-path $sock --backend ffmpeg -v"
"$daemon" --socket-path "$sock" --backend ffmpeg -v 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do
	[ -S "$sock" ] && break
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		echo "the daemon exited at start-up:" >&2
		cat "$tmp/daemon.log" >&2
		exit 1
	fi
	sleep 0.05
done
[ -S "$sock" ] || { echo "the daemon did not create $sock" >&2; exit 1; }

echo "== $client --socket-path $sock --info"
"$client" --socket-path "$sock" --info

# Two seconds of ffmpeg's test pattern, 640x360, H.264 with B-frames, Annex B.
frames=60 width=640 height=360
clip=$build/demo.h264
echo
echo "== make the clip: ffmpeg -f lavfi -i testsrc ... -c:v libx264 $clip"
ffmpeg -hide_banner -loglevel error -nostdin -y \
	-f lavfi -i "testsrc=size=${width}x${height}:rate=30" -frames:v $frames \
	-pix_fmt yuv420p -c:v libx264 -preset veryfast -f h264 "$clip"
ls -l "$clip"

png=$build/demo-frame.png
echo
echo "== decode it through the daemon into ${width}x${height} YUV420 (picture 30 as PNG)"
"$client" --socket-path "$sock" --stream-from "$clip" --stream-to "$tmp/out.yuv" \
	--coded-format h264 --width "$width" --height "$height" --pixel-format yuv420 \
	--chunk-size 4K --frame-log "$tmp/out.log" --png "$png" --png-frame 30

echo
echo "== compare with a direct libavcodec decode ($avref)"
"$avref" --format yuv420 "$clip" >"$tmp/want"
"$avref" --checksum-raw "$tmp/out.yuv" --frame-log "$tmp/out.log" --format yuv420 >"$tmp/got"
if ! cmp -s "$tmp/got" "$tmp/want"; then
	echo "the daemon's pictures differ from the direct decode:" >&2
	diff "$tmp/got" "$tmp/want" | head -n 5 >&2
	exit 1
fi
n=$(wc -l <"$tmp/got")
[ "$n" -eq $frames ] || { echo "$n pictures, expected $frames" >&2; exit 1; }
echo "byte-exact: $n frames"
echo "picture 30 as PNG: $png"

echo
echo "== stop the daemon (SIGTERM)"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
echo "daemon exit status: $status"
sed 's/^/  log: /' "$tmp/daemon.log"
if [ -e "$sock" ]; then
	echo "the daemon left its socket behind" >&2
	exit 1
fi
echo "socket removed: $sock"
[ "$status" -eq 0 ] || exit 1
echo "demo: OK"
