#!/usr/bin/env bash
# The ffmpeg backend end to end: the daemon (--backend ffmpeg) decodes test
# streams made by gen-streams.sh, fed by vhost-user-video-client, and every
# picture must be byte-identical to a direct libavcodec decode of the same
# file (avref), with the same frame count. Each case prints "ok NAME" or
# "FAIL NAME: reason"; the last line reads "ffmpeg: N passed, N failed", and
# any failure makes the exit status 1.
#
# Environment: VUV_DAEMON, VUV_CLIENT, VUV_AVREF (binaries), VUV_STREAMS (the
# cache directory for the streams), VUV_ONLY (a glob: run only matching cases).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
daemon=${VUV_DAEMON:?VUV_DAEMON is not set}
client=${VUV_CLIENT:?VUV_CLIENT is not set}
avref=${VUV_AVREF:?VUV_AVREF is not set}
streams=${VUV_STREAMS:?VUV_STREAMS is not set}
only=${VUV_ONLY:-*}

if ! "$here/gen-streams.sh" "$streams" "$avref"; then
	echo "FAIL gen-streams: could not make the test streams"
	echo "ffmpeg: 0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp -d /tmp/vuv-ffmpeg-XXXXXX)
sock=$tmp/video.sock
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
reason=

"$daemon" --socket-path "$sock" --backend ffmpeg 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do
	[ -S "$sock" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.05
done
if [ ! -S "$sock" ]; then
	echo "FAIL start: the daemon did not create its socket"
	sed 's/^/  daemon: /' "$tmp/daemon.log"
	echo "ffmpeg: 0 passed, 1 failed"
	exit 1
fi

# ---- helpers: each returns non-zero with $reason set -----------------------------

# dec NAME FILE CODEC PIXFMT W H [client options...]: decodes FILE through the
# daemon into $tmp/NAME.yuv, the frame log into $tmp/NAME.log, stdout into
# $tmp/NAME.out, stderr into $tmp/NAME.err.
dec() {
	local name=$1 file=$2 codec=$3 pix=$4 w=$5 h=$6
	shift 6
	timeout 120 "$client" --socket-path "$sock" --quiet --stream-from "$streams/$file" \
		--stream-to "$tmp/$name.yuv" --coded-format "$codec" --pixel-format "$pix" \
		--width "$w" --height "$h" --frame-log "$tmp/$name.log" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	local rc=$?
	if [ $rc -ne 0 ]; then
		reason="client exit $rc: $(tail -n1 "$tmp/$name.err")"
		return 1
	fi
}

# ref FILE PIXFMT [avref options...] > lines: the direct decode.
ref() {
	local file=$1 pix=$2
	shift 2
	"$avref" --format "$pix" "$@" "$streams/$file" 2>/dev/null
}

# got NAME PIXFMT [--pts] > lines: the client's output, frame by frame.
got() {
	local name=$1 pix=$2
	shift 2
	"$avref" --checksum-raw "$tmp/$name.yuv" --frame-log "$tmp/$name.log" --format "$pix" "$@"
}

# same NAME A B: the two frame lists (files) are equal, or reason names the first difference.
same() {
	local a=$2 b=$3 na nb line
	na=$(wc -l <"$a")
	nb=$(wc -l <"$b")
	if [ "$na" -eq 0 ]; then
		reason="$1: no frames"
		return 1
	fi
	if ! cmp -s "$a" "$b"; then
		line=$(diff "$a" "$b" | grep -m1 '^[<>]')
		reason="$1: $na frames through the daemon, $nb direct; first difference: $line"
		return 1
	fi
}

# exact NAME FILE CODEC PIXFMT W H [--pts] [client options...]: decode and compare.
exact() {
	local name=$1 file=$2 codec=$3 pix=$4 w=$5 h=$6 pts=
	shift 6
	if [ "${1:-}" = --pts ]; then
		pts=--pts
		shift
	fi
	dec "$name" "$file" "$codec" "$pix" "$w" "$h" "$@" || return 1
	ref "$file" "$pix" $pts >"$tmp/$name.want" || { reason="avref failed on $file"; return 1; }
	got "$name" "$pix" $pts >"$tmp/$name.got" || { reason="the client's output does not parse"; return 1; }
	same "$name" "$tmp/$name.got" "$tmp/$name.want"
}

daemon_alive() {
	kill -0 "$daemon_pid" 2>/dev/null
}

# case NAME FUNCTION [args...]
case_() {
	local name=$1
	shift
	# shellcheck disable=SC2053
	[[ $name == $only ]] || return 0
	reason=
	if ! daemon_alive; then
		echo "FAIL $name: the daemon is gone"
		failed=$((failed + 1))
		return
	fi
	if "$@" && daemon_alive; then
		echo "ok $name"
		passed=$((passed + 1))
	else
		daemon_alive || reason="${reason:+$reason; }the daemon died"
		echo "FAIL $name: ${reason:-failed}"
		failed=$((failed + 1))
	fi
}

# ---- cases ---------------------------------------------------------------------

S=320 T=240
# Whole streams, in the client's default 1 MiB chunks (each file fits in one).
case_ h264-yuv420 exact h264-yuv420 h264.h264 h264 yuv420 $S $T
case_ h264-nv12 exact h264-nv12 h264.h264 h264 nv12 $S $T
case_ h264-crop-200x120 exact h264-crop crop.h264 h264 yuv420 200 120
case_ hevc-yuv420 exact hevc-yuv420 hevc.hevc hevc yuv420 $S $T
case_ hevc-nv12 exact hevc-nv12 hevc.hevc hevc nv12 $S $T
case_ mpeg2-yuv420 exact mpeg2 mpeg2.m2v mpeg2 yuv420 $S $T
case_ mpeg4-yuv420 exact mpeg4 mpeg4.m4v mpeg4 yuv420 $S $T
# VP8/VP9: one IVF frame per buffer (found by the "DKIF" signature); every
# picture's timestamp must be that of the buffer it came from.
case_ vp8-ivf exact vp8 vp8.ivf vp8 yuv420 $S $T --pts
case_ vp9-ivf exact vp9 vp9.ivf vp9 yuv420 $S $T --pts
case_ vp9-ivf-nv12 exact vp9-nv12 vp9.ivf vp9 nv12 $S $T --pts

# Chunking: whole frames (the timestamps must follow each frame through
# B-frame reordering), 4 KiB, and single bytes.
case_ h264-whole-frames exact h264-frames h264.h264 h264 yuv420 $S $T --pts \
	--frame-sizes "$streams/h264.h264.sizes"
case_ hevc-whole-frames exact hevc-frames hevc.hevc hevc yuv420 $S $T --pts \
	--frame-sizes "$streams/hevc.hevc.sizes"
case_ mpeg2-whole-frames exact mpeg2-frames mpeg2.m2v mpeg2 yuv420 $S $T --pts \
	--frame-sizes "$streams/mpeg2.m2v.sizes"
case_ h264-4k-chunks exact h264-4k h264.h264 h264 nv12 $S $T --chunk-size 4K
case_ hevc-4k-chunks exact hevc-4k hevc.hevc hevc yuv420 $S $T --chunk-size 4K
case_ mpeg4-4k-chunks exact mpeg4-4k mpeg4.m4v mpeg4 yuv420 $S $T --chunk-size 4K
case_ h264-1-byte-chunks exact tiny-1 tiny.h264 h264 yuv420 64 48 --chunk-size 1
# Timestamps with 1-byte chunks: each picture carries the timestamp of the input that
# held its frame's first byte, i.e. (the client numbering its inputs) the frame's byte
# offset in the file: the sum of the sizes of the packets before it, which the direct
# decode names for each picture (--pts) through reordering.
ts_1byte_case() {
	dec tiny-ts tiny.h264 h264 yuv420 64 48 --chunk-size 1 || return 1
	"$avref" --packet-sizes "$streams/tiny.h264" >"$tmp/tiny.sizes" ||
		{ reason="avref --packet-sizes failed"; return 1; }
	ref tiny.h264 yuv420 --pts |
		awk 'NR == FNR { off[NR - 1] = sum + 0; sum += $1; next }
		     { k = $4; sub(/^pts=/, "", k); $4 = "pts=" off[k]; print }' \
			"$tmp/tiny.sizes" - >"$tmp/tiny-ts.want"
	got tiny-ts yuv420 --pts >"$tmp/tiny-ts.got" || return 1
	same tiny-ts "$tmp/tiny-ts.got" "$tmp/tiny-ts.want"
}
case_ h264-1-byte-chunks-timestamps ts_1byte_case
case_ h264-7-byte-chunks-scattered exact tiny-7 tiny.h264 h264 nv12 64 48 --chunk-size 7 \
	--scattered --layout indirect

# Mid-stream drain at a GOP boundary (packet 16 is an IDR, the GOP before it is
# closed): the EOS comes after 16 pictures and the output equals an
# uninterrupted decode.
drain_case() {
	exact drain h264.h264 h264 yuv420 $S $T --pts --frame-sizes "$streams/h264.h264.sizes" \
		--drain-after 16 || return 1
	grep -q 'the EOS came after 16 frames, then 32 more frames (fed on from an I frame)' \
		"$tmp/drain.out" || { reason="drain report: $(head -n1 "$tmp/drain.out")"; return 1; }
}
case_ h264-drain-after-16 drain_case
case_ vp8-drain-after-10 exact vp8-drain vp8.ivf vp8 yuv420 $S $T --pts --drain-after 10

# A seek: QUEUE_CLEAR of both queues after 5 buffers; the client resumes at the
# next IDR (packet 16). The pictures before the clear must be the stream's
# first ones, and those after it a fresh decode from packet 16.
clear_case() {
	local before resume
	dec clear h264.h264 h264 yuv420 $S $T --frame-sizes "$streams/h264.h264.sizes" \
		--clear-after 5 || return 1
	before=$(sed -n 's/^clear after 5 input buffers: \([0-9]*\) frames before it.*fed on from frame \([0-9]*\) .*/\1 \2/p' "$tmp/clear.out")
	if [ -z "$before" ]; then
		reason="clear report: $(head -n1 "$tmp/clear.out")"
		return 1
	fi
	resume=${before#* }
	before=${before% *}
	[ "$resume" -eq 16 ] || { reason="resumed at packet $resume, not 16"; return 1; }
	{
		ref h264.h264 yuv420 | head -n "$before" | cut -d' ' -f2-
		ref h264.h264 yuv420 --skip-packets 16 | cut -d' ' -f2-
	} >"$tmp/clear.want"
	got clear yuv420 | cut -d' ' -f2- >"$tmp/clear.got" || return 1
	same clear "$tmp/clear.got" "$tmp/clear.want"
}
case_ h264-clear-after-5 clear_case

# STREAM_DESTROY with buffers queued after 10 pictures: all answered, and the
# output is the first 10 pictures.
destroy_case() {
	dec destroy h264.h264 h264 yuv420 $S $T --chunk-size 4K --destroy-after 10 || return 1
	grep -q '^destroy after 10 frames: .* all answered' "$tmp/destroy.out" ||
		{ reason="destroy report: $(head -n1 "$tmp/destroy.out")"; return 1; }
	ref h264.h264 yuv420 | head -n 10 >"$tmp/destroy.want"
	got destroy yuv420 >"$tmp/destroy.got" || return 1
	same destroy "$tmp/destroy.got" "$tmp/destroy.want"
}
case_ h264-destroy-after-10 destroy_case

# Two streams on one connection, interleaved, each byte-exact (the second one
# at another size: its pictures follow its own DECODER_RESOLUTION_CHANGED).
streams_case() {
	dec two h264.h264 h264 yuv420 $S $T --chunk-size 4K \
		--stream-from "$streams/crop.h264" --stream-to "$tmp/two.yuv.2" || return 1
	ref h264.h264 yuv420 >"$tmp/two.want"
	got two yuv420 >"$tmp/two.got" || return 1
	same "stream 1" "$tmp/two.got" "$tmp/two.want" || return 1
	ref crop.h264 yuv420 >"$tmp/two2.want"
	"$avref" --checksum-raw "$tmp/two.yuv.2" --frame-log "$tmp/two.log.2" --format yuv420 \
		>"$tmp/two2.got" || return 1
	same "stream 2" "$tmp/two2.got" "$tmp/two2.want"
}
# The client pairs the n-th --stream-from with the n-th --stream-to: the second
# pair is given after dec's own.
case_ streams-2 streams_case

# A size change mid-stream: 20 pictures of 320x240, then 20 of 176x144, each
# part starting with an IDR; the client rebuilds its picture buffers on the
# DECODER_RESOLUTION_CHANGED event.
reschange_case() {
	local sizes
	exact reschange reschange.h264 h264 nv12 $S $T "$@" || return 1
	sizes=$(cut -d' ' -f2 "$tmp/reschange.log" | uniq -c | tr -s ' ' | tr '\n' ',')
	[ "$sizes" = " 20 320x240, 20 176x144," ] ||
		{ reason="picture sizes: $sizes"; return 1; }
}
case_ reschange-whole-file reschange_case
case_ reschange-4k-chunks reschange_case --chunk-size 4K
case_ reschange-whole-frames reschange_case --frame-sizes "$streams/reschange.h264.sizes"

# A stream cut off inside the IDR of packet 32: the 32 whole pictures before it
# decode as they do directly, then at most the damaged one; the stream ends
# with the drain's EOS, and the daemon keeps serving.
truncated_case() {
	local n
	dec truncated truncated.h264 h264 yuv420 $S $T --chunk-size 4K || return 1
	got truncated yuv420 >"$tmp/truncated.got" || return 1
	n=$(wc -l <"$tmp/truncated.got")
	if [ "$n" -ne 32 ] && [ "$n" -ne 33 ]; then
		reason="$n pictures, not 32 whole ones and at most one damaged"
		return 1
	fi
	ref h264.h264 yuv420 | head -n 32 >"$tmp/truncated.want"
	head -n 32 "$tmp/truncated.got" >"$tmp/truncated.got32"
	same truncated "$tmp/truncated.got32" "$tmp/truncated.want"
}
case_ truncated truncated_case

# Bytes overwritten in the middle: the device may report an error on the stream
# or decode around it; either way the next connection decodes byte-exact.
corrupt_case() {
	if ! dec corrupt corrupt.h264 h264 yuv420 $S $T --chunk-size 4K; then
		grep -q 'the device reported an error on the stream' "$tmp/corrupt.err" ||
			return 1
	fi
	exact after-corrupt h264.h264 h264 yuv420 $S $T --chunk-size 4K
}
case_ corrupt-then-clean corrupt_case

# Not a bitstream of the format at all (seeded random bytes): no picture can come, so the
# guest must get an ERROR event for the stream, not wait for a resolution change forever.
junk_case() {
	local codec=$1 ext=$2
	python3 -c 'import random, sys; random.seed(5); sys.stdout.buffer.write(random.randbytes(20000))' \
		>"$streams/junk.$ext"
	if dec "junk-$codec" "junk.$ext" "$codec" yuv420 $S $T --container raw --chunk-size 4K \
		--timeout 3000; then
		reason="junk decoded without an error"
		return 1
	fi
	grep -q 'the device reported an error on the stream' "$tmp/junk-$codec.err" || return 1
	exact "after-junk-$codec" h264.h264 h264 yuv420 $S $T --chunk-size 4K
}
case_ junk-h264-error-event junk_case h264 h264
case_ junk-vp9-error-event junk_case vp9 vp9raw

# ---- the daemon survived all of it and stops cleanly -----------------------------

# shellcheck disable=SC2053 # $only is a glob
if [[ sigterm == $only ]]; then
	status=0
	if daemon_alive; then
		kill -TERM "$daemon_pid"
		for _ in $(seq 100); do
			daemon_alive || break
			sleep 0.05
		done
		if daemon_alive; then
			echo "FAIL sigterm: the daemon did not exit within 5 s of SIGTERM"
			failed=$((failed + 1))
		else
			wait "$daemon_pid"
			status=$?
			daemon_pid=
			if [ $status -eq 0 ] && [ ! -e "$sock" ]; then
				echo "ok sigterm"
				passed=$((passed + 1))
			else
				echo "FAIL sigterm: exit status $status, socket left: $([ -e "$sock" ] && echo yes || echo no)"
				failed=$((failed + 1))
			fi
		fi
	else
		echo "FAIL sigterm: the daemon is gone"
		failed=$((failed + 1))
	fi
fi
if [ $failed -ne 0 ]; then
	echo "daemon log (last 20 lines):"
	tail -n 20 "$tmp/daemon.log" | sed 's/^/  /'
fi
echo "ffmpeg: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
