#!/usr/bin/env bash
# The demo: installs what the build needs (Debian 12), builds a release, starts
# the daemon with the null backend on a temporary socket, and lets our own
# front-end, vhost-user-video-client, print the device's capabilities and
# decode a small file through it. Ends by stopping the daemon with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
vuv_install_deps

build=build/demo
echo "== build ($build)"
vuv_setup "$build" --buildtype=release
ninja -C "$build" >/dev/null
daemon=$build/vhost-user-video
client=$build/vhost-user-video-client

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

echo "== start: $daemon --socket-path $sock --backend null -v"
"$daemon" --socket-path "$sock" --backend null -v 2>"$tmp/daemon.log" &
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

# With the null backend the bitstream's content does not matter.
frames=30 width=640 height=480
head -c $((frames * 4096)) /dev/urandom >"$tmp/demo.fwht"
echo
echo "== decode $frames chunks of 4 KiB as FWHT into ${width}x${height} YUV420"
"$client" --socket-path "$sock" --stream-from "$tmp/demo.fwht" --stream-to "$tmp/out.yuv" \
	--coded-format fwht --width "$width" --height "$height" --pixel-format yuv420 \
	--chunk-size 4096
want=$((frames * width * height * 3 / 2))
got=$(stat -c %s "$tmp/out.yuv")
echo "output size: $got bytes (expected $frames * ${width}*${height}*3/2 = $want)"
[ "$got" -eq "$want" ] || { echo "wrong output size" >&2; exit 1; }
echo "first bytes (picture 0: row r of the Y plane is filled with byte r):"
od -A d -t x1 -N $((3 * width)) "$tmp/out.yuv"

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
