#!/usr/bin/env bash
# Makes the test streams of the ffmpeg-backend tests with the ffmpeg CLI, from
# lavfi's testsrc/testsrc2, into DIR (cached: made again only when this script
# changes), and beside each Annex B stream its packet sizes (FILE.sizes, from
# avref --packet-sizes) for the client's --frame-sizes.
#
#   tests/ffmpeg/gen-streams.sh DIR AVREF
#
# Streams: H.264 with B-frames and an IDR every 16 frames (320x240), a tiny one
# (64x48) for 1-byte chunks, one whose size is not a multiple of 16 (cropped),
# HEVC with B-frames, VP8 and VP9 in IVF, MPEG-2 and MPEG-4 part 2 with
# B-frames, a size change mid-stream (two H.264 streams back to back, each
# starting with an IDR), a truncated one and one with bytes overwritten in the
# middle.
set -euo pipefail
dir=$1
avref=$2
stamp="$dir/.made-by-$(sha1sum "$0" | cut -c1-12)"
[ -e "$stamp" ] && exit 0
command -v ffmpeg >/dev/null || { echo "gen-streams: the ffmpeg CLI is missing (apt-get install ffmpeg)" >&2; exit 1; }
mkdir -p "$dir"
rm -f "$dir"/.made-by-* "$dir"/*.h264 "$dir"/*.hevc "$dir"/*.ivf "$dir"/*.m2v "$dir"/*.m4v "$dir"/*.sizes

ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
src() { echo "testsrc2=size=$1:rate=30,format=yuv420p"; }
x264() { echo "keyint=16:min-keyint=16:scenecut=0:bframes=2:b-pyramid=0:threads=1"; }

ff -f lavfi -i "$(src 320x240)" -frames:v 48 -c:v libx264 -preset veryfast -x264-params "$(x264)" \
	-bsf:v h264_mp4toannexb -f h264 "$dir/h264.h264"
ff -f lavfi -i "$(src 64x48)" -frames:v 10 -c:v libx264 -preset veryfast -x264-params "$(x264)" \
	-f h264 "$dir/tiny.h264"
ff -f lavfi -i "$(src 200x120)" -frames:v 20 -c:v libx264 -preset veryfast -x264-params "$(x264)" \
	-f h264 "$dir/crop.h264"
ff -f lavfi -i "$(src 320x240)" -frames:v 30 -c:v libx265 -preset fast \
	-x265-params "log-level=error:keyint=16:min-keyint=16:scenecut=0:bframes=2:pools=1:frame-threads=1" \
	-f hevc "$dir/hevc.hevc"
ff -f lavfi -i "$(src 320x240)" -frames:v 30 -c:v libvpx -g 10 -b:v 400k -deadline realtime \
	-cpu-used 8 -f ivf "$dir/vp8.ivf"
ff -f lavfi -i "$(src 320x240)" -frames:v 30 -c:v libvpx-vp9 -g 10 -b:v 400k -deadline good \
	-cpu-used 8 -auto-alt-ref 1 -lag-in-frames 8 -f ivf "$dir/vp9.ivf"
ff -f lavfi -i "$(src 320x240)" -frames:v 30 -c:v mpeg2video -bf 2 -g 12 -q:v 4 \
	-f mpeg2video "$dir/mpeg2.m2v"
ff -f lavfi -i "$(src 320x240)" -frames:v 30 -c:v mpeg4 -bf 2 -g 12 -q:v 4 -f m4v "$dir/mpeg4.m4v"

# A size change: 320x240 then 176x144, each part opens with SPS, PPS and an IDR.
ff -f lavfi -i "$(src 320x240)" -frames:v 20 -c:v libx264 -preset veryfast -x264-params "$(x264)" \
	-f h264 "$dir/part1.tmp"
ff -f lavfi -i "$(src 176x144)" -frames:v 20 -c:v libx264 -preset veryfast -x264-params "$(x264)" \
	-f h264 "$dir/part2.tmp"
cat "$dir/part1.tmp" "$dir/part2.tmp" >"$dir/reschange.h264"
rm -f "$dir"/*.tmp

# Truncated inside the IDR that opens the third GOP (packet 32): the 32 pictures
# before it are whole and need nothing after the cut. (A cut elsewhere leaves
# frames concealed around the damage, and concealment differs between frame-
# and single-threaded decoding.) Corrupt: 3000 bytes of text over the middle.
"$avref" --packet-sizes "$dir/h264.h264" >"$dir/h264.h264.sizes"
cut_at=$(awk 'NR <= 32 { s += $1 } NR == 33 { s += int($1 / 2) } END { print s }' \
	"$dir/h264.h264.sizes")
head -c "$cut_at" "$dir/h264.h264" >"$dir/truncated.h264"
size=$(stat -c %s "$dir/h264.h264")
cp "$dir/h264.h264" "$dir/corrupt.h264"
printf 'corrupt bitstream %.0s' $(seq 180) | head -c 3000 |
	dd of="$dir/corrupt.h264" bs=1 seek=$((size / 2)) conv=notrunc status=none

for f in "$dir"/*.h264 "$dir"/*.hevc "$dir"/*.m2v "$dir"/*.m4v; do
	"$avref" --packet-sizes "$f" >"$f.sizes"
done
touch "$stamp"
