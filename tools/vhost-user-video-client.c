/* vhost-user-video-client: plays QEMU (the vhost-user front-end: guest RAM,
 * rings, handshake) and the guest's virtio-video driver (vuf_video) against a
 * running vhost-user-video daemon: prints the device's capabilities and
 * decodes bitstream files into raw pictures, on one stream or on several
 * concurrent streams of one connection.
 *
 * Mid-stream operations (what a guest does on a pause, a seek or a close that
 * comes while buffers are queued), each checked against what the device owes:
 *   --drain-after N    STREAM_DRAIN after N input buffers; the EOS picture and
 *                      the drain's answer must come, then feeding goes on;
 *   --clear-after N    QUEUE_CLEAR of both queues after N input buffers, once
 *                      pictures come out; every pending buffer must come back
 *                      with ERR before the clear is answered; feeding goes on
 *                      from the next I frame;
 *   --destroy-after N  STREAM_DESTROY after N pictures with buffers queued;
 *                      every pending request must be answered first.
 * With --streams N, N decoders (one per stream id 1..N) share the connection;
 * completions and events are routed to the stream that owns them.
 *
 * FWHT framing (--frame-sizes-from-fwht), from vicodec's codec-fwht.h and
 * vicodec-core.c: every frame starts with struct fwht_cframe_hdr, 44 bytes =
 * 11 u32: magic1, magic2, version, width, height, flags, colorspace,
 * xfer_func, ycbcr_enc, quantization, size. The magics are FWHT_MAGIC1
 * 0x4f4f4f4f and FWHT_MAGIC2 0xffffffff, i.e. the bytes 4f 4f 4f 4f ff ff ff
 * ff (the stateful decoder scans for exactly these 8 bytes); the other fields
 * are big-endian. size is the number of compressed bytes that follow the
 * header, so a frame is 44 + size bytes and the next header follows it.
 * From version 3 on, flag 0x400 (FWHT_FL_I_FRAME) marks a frame the encoder
 * coded without reference to the previous one: the place to resume after a
 * seek.
 *
 * IVF framing (--container ivf, or a file that starts with "DKIF"): a 32-byte
 * file header of little-endian fields: "DKIF", u16 version, u16 header length,
 * fourcc, u16 width, u16 height, u32 rate, u32 scale, u32 frame count, u32
 * unused; the frames start at the header length, each a 12-byte header (u32
 * payload size, u64 pts) and the payload. One payload per input buffer, as
 * V4L2 defines VP8 and VP9 buffers.
 *
 * Where a seek may resume (--clear-after with --frame-sizes or IVF), read from
 * the first bytes of a frame: VP8 a key frame when bit 0 of byte 0 is 0; VP9
 * the uncompressed header's frame_type after the 2-bit frame marker, the
 * profile bits (one more reserved bit for profile 3) and show_existing_frame;
 * H.264 a NAL unit of type 5 (IDR) after a 00 00 01 start code; HEVC NAL types
 * 16-23 (IRAP); MPEG-2 a picture header (00 00 01 00) with coding type 1 (I);
 * MPEG-4 a VOP (00 00 01 b6) with coding type 0 (I). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vuf.h"
#include "vuf_video.h"

#define PROG "vhost-user-video-client"
#define EXIT_USAGE 2

#define FIRST_STREAM_ID 1u
#define MAX_STREAMS 8u
#define OUT_NAME_MAX 4096u
#define MAX_IN_BUFS 8u
#define MIN_IN_BUFS 4u
#define MAX_OUT_BUFS 32u
#define DEFAULT_CHUNK_SIZE (1u << 20)
#define MAX_CHUNK_SIZE (64u << 20)
#define MAX_DIMENSION 16384u
#define MAX_PICTURE_BYTES (1ull << 30)
#define CONNECT_TIMEOUT_MS 1000
#define FRAME_INTERVAL_NS 33333333ull /* timestamps as a 30 fps stream */

#define FWHT_HDR_SIZE 44u
#define FWHT_VERSION_OFFSET 8u
#define FWHT_FLAGS_OFFSET 20u
#define FWHT_SIZE_OFFSET 40u
#define FWHT_FL_I_FRAME 0x400u
#define FWHT_I_FRAME_VERSION 3u /* the first version with FWHT_FL_I_FRAME */

enum container {
	CONTAINER_AUTO, /* IVF when the file starts with "DKIF" and no framing is given */
	CONTAINER_RAW,
	CONTAINER_IVF,
};

struct options {
	const char *socket_path;
	bool info;
	/* Per stream, filled for all `streams` once parsed: the n-th pair given, or the
	 * first FILE and OUT.n for a stream without a pair. */
	const char *stream_from[MAX_STREAMS], *stream_to[MAX_STREAMS];
	unsigned n_from, n_to;   /* as given on the command line */
	unsigned streams;        /* 0 = decode nothing */
	uint32_t coded_format;
	uint32_t width, height;
	uint32_t pixel_format;
	const char *pixel_name;
	uint32_t chunk_size;
	bool chunk_size_set;
	bool fwht_frames;
	uint64_t max_frames; /* 0 = all */
	enum vuf_layout layout;
	bool scattered;
	uint32_t planes_layout; /* 0 = as the capabilities say */
	bool legacy_params;
	bool quiet;
	int timeout_ms;
	uint32_t drain_after, clear_after, destroy_after; /* 0 = off */
	const char *frame_sizes;  /* --frame-sizes FILE: one input buffer per listed size */
	enum container container;
	const char *png;          /* --png FILE: stream 1's picture png_frame as RGB */
	uint64_t png_frame;
	const char *frame_log;    /* --frame-log FILE: one line per picture */
};

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " --socket-path PATH [--info]\n"
		"         [--stream-from FILE --stream-to OUT --coded-format FMT\n"
		"          --width W --height H --pixel-format FMT\n"
		"          [--chunk-size N | --frame-sizes FILE | --frame-sizes-from-fwht]\n"
		"          [--container auto|raw|ivf] [--frames N] [--frame-log FILE]\n"
		"          [--png FILE [--png-frame N]]\n"
		"          [--drain-after N | --clear-after N | --destroy-after N]\n"
		"          [--streams N [--stream-from FILE --stream-to OUT]...]\n"
		"          [--layout single|split|indirect] [--scattered] [--quiet]]\n"
		"\n"
		"Connects to a vhost-user-video daemon as the hypervisor and the guest's\n"
		"virtio-video driver would, and prints the device's capabilities or decodes\n"
		"files through it.\n"
		"\n"
		"Options:\n"
		"  -s, --socket-path PATH     the daemon's vhost-user socket\n"
		"  -i, --info                 print the device's capabilities\n"
		"      --stream-from FILE     bitstream to decode\n"
		"      --stream-to OUT        raw pictures, planes back to back (visible area)\n"
		"      --coded-format FMT     fwht, h264, hevc, vp8, vp9, mpeg2 or mpeg4\n"
		"      --width W, --height H  coded size of the stream\n"
		"      --pixel-format FMT     nv12 or yuv420\n"
		"      --chunk-size N         bytes per input buffer (K/M suffixes) [default: 1M]\n"
		"      --frame-sizes-from-fwht  one FWHT frame per input buffer\n"
		"      --frame-sizes FILE     one input buffer per size listed in FILE (one\n"
		"                             decimal size a line; they must add up to the\n"
		"                             file's size), e.g. whole frames of an Annex B stream\n"
		"      --container C          auto, raw or ivf: ivf feeds one IVF frame payload\n"
		"                             per input buffer; auto takes a file starting with\n"
		"                             \"DKIF\" as IVF unless a framing option is given\n"
		"                             [default: auto]\n"
		"      --frame-log FILE       one line per picture written: index, WxH, bytes\n"
		"                             and the device's timestamp (streams 2.. : FILE.n)\n"
		"      --png FILE             write picture N of stream 1 as an 8-bit RGB PNG\n"
		"                             (BT.601 limited range)\n"
		"      --png-frame N          the picture for --png [default: 0]\n"
		"      --frames N             stop after N decoded frames\n"
		"      --layout LAYOUT        descriptor layout of the command chains:\n"
		"                             single, split or indirect [default: single]\n"
		"      --scattered            build buffers from shuffled single pages\n"
		"      --planes-layout L      single-buffer or per-plane\n"
		"                             [default: as the capabilities offer]\n"
		"      --legacy-params        GET/SET_PARAMS (0x108/0x109), not the _EXT ones\n"
		"      --timeout MS           longest wait for the device [default: 5000]\n"
		"  -q, --quiet                no progress line\n"
		"  -h, --help                 print this help and exit\n"
		"  -V, --version              print the version and exit\n"
		"\n"
		"Mid-stream operations (one of them; N >= 1; each prints a line saying what\n"
		"happened before the summary, and fails when it did not happen):\n"
		"      --drain-after N        after N input buffers, STREAM_DRAIN; wait for the\n"
		"                             EOS picture and the drain's answer, then feed the\n"
		"                             rest: the output equals an uninterrupted decode.\n"
		"                             N must be less than the number of input buffers\n"
		"      --clear-after N        after N input buffers (N must be less than their\n"
		"                             number), once a picture has come out, QUEUE_CLEAR\n"
		"                             the input then the output queue, as a seek does:\n"
		"                             every pending buffer must come back with ERR. The\n"
		"                             pictures decoded before stay; feeding goes on from\n"
		"                             the next I frame (--frame-sizes-from-fwht: FWHT\n"
		"                             flag 0x400, every frame before version 3), or\n"
		"                             with the next buffer when the input is chunked;\n"
		"                             with no I frame left, nothing more is fed\n"
		"      --destroy-after N      after N decoded frames, STREAM_DESTROY with\n"
		"                             buffers still queued: every pending request must\n"
		"                             be answered; says how many came back cancelled.\n"
		"                             OUT holds the first N frames\n"
		"\n"
		"Several streams:\n"
		"      --streams N            decode on N concurrent streams (1-%u, ids 1..N)\n"
		"                             of one connection, their buffers interleaved.\n"
		"                             The n-th --stream-from/--stream-to pair is stream\n"
		"                             n; a stream without a pair decodes the first FILE\n"
		"                             into OUT.n (OUT: the first --stream-to). The other\n"
		"                             options apply to every stream, and each stream\n"
		"                             gets its summary line, prefixed 'stream n: '\n"
		"                             [default: as many as --stream-from pairs]\n",
		MAX_STREAMS);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* Unsigned decimal with an optional K or M (binary) suffix when allowed. */
static bool parse_u64(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (suffix && (*end == 'k' || *end == 'K')) {
		if (v > UINT64_MAX >> 10)
			return false;
		v <<= 10;
		end++;
	} else if (suffix && (*end == 'm' || *end == 'M')) {
		if (v > UINT64_MAX >> 20)
			return false;
		v <<= 20;
		end++;
	}
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

struct name_value {
	const char *name;
	uint32_t value;
};

static const struct name_value coded_formats[] = {
	{ "fwht", VV_FORMAT_FWHT }, { "h264", VV_FORMAT_H264 }, { "hevc", VV_FORMAT_HEVC },
	{ "vp8", VV_FORMAT_VP8 },   { "vp9", VV_FORMAT_VP9 },   { "mpeg2", VV_FORMAT_MPEG2 },
	{ "mpeg4", VV_FORMAT_MPEG4 },
};

static const struct name_value pixel_formats[] = {
	{ "nv12", VV_FORMAT_NV12 },
	{ "yuv420", VV_FORMAT_YUV420 },
};

static const struct name_value containers[] = {
	{ "auto", CONTAINER_AUTO },
	{ "raw", CONTAINER_RAW },
	{ "ivf", CONTAINER_IVF },
};

static const struct name_value layouts[] = {
	{ "single", VUF_LAYOUT_SINGLE },
	{ "split", VUF_LAYOUT_SPLIT },
	{ "indirect", VUF_LAYOUT_INDIRECT },
};

static const struct name_value planes_layouts[] = {
	{ "single-buffer", VV_PLANES_LAYOUT_SINGLE_BUFFER },
	{ "per-plane", VV_PLANES_LAYOUT_PER_PLANE },
};

static const struct name_value *lookup(const struct name_value *tab, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(tab[i].name, s) == 0)
			return &tab[i];
	return NULL;
}

#define LOOKUP(tab, s) lookup((tab), sizeof(tab) / sizeof((tab)[0]), (s))

/* Names of the outputs of streams without a --stream-to of their own. */
static char generated_to[MAX_STREAMS][OUT_NAME_MAX];

/* Gives every stream beyond the pairs given the first FILE and OUT.n; no two
 * streams may write the same file. -1 or the usage exit status. */
static int name_streams(struct options *o)
{
	for (unsigned i = o->n_from; i < o->streams; i++) {
		int len = snprintf(generated_to[i], sizeof(generated_to[i]), "%s.%u",
				   o->stream_to[0], i + 1);

		if (len < 0 || (size_t)len >= sizeof(generated_to[i]))
			return usage_error("--stream-to: '%s' is too long a name", o->stream_to[0]);
		o->stream_from[i] = o->stream_from[0];
		o->stream_to[i] = generated_to[i];
	}
	for (unsigned i = 0; i < o->streams; i++)
		for (unsigned k = i + 1; k < o->streams; k++)
			if (strcmp(o->stream_to[i], o->stream_to[k]) == 0)
				return usage_error("streams %u and %u would both write %s", i + 1,
						   k + 1, o->stream_to[i]);
	return -1;
}

/* Returns -1 to go on, or the exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_FROM = 256, OPT_TO, OPT_CODED, OPT_WIDTH, OPT_HEIGHT, OPT_PIXEL, OPT_CHUNK,
		OPT_FWHT, OPT_FRAMES, OPT_LAYOUT, OPT_SCATTERED, OPT_PLANES, OPT_LEGACY,
		OPT_TIMEOUT, OPT_DRAIN_AFTER, OPT_CLEAR_AFTER, OPT_DESTROY_AFTER, OPT_STREAMS,
		OPT_FRAME_SIZES, OPT_CONTAINER, OPT_PNG, OPT_PNG_FRAME, OPT_FRAME_LOG,
	};
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "info", no_argument, NULL, 'i' },
		{ "stream-from", required_argument, NULL, OPT_FROM },
		{ "stream-to", required_argument, NULL, OPT_TO },
		{ "coded-format", required_argument, NULL, OPT_CODED },
		{ "width", required_argument, NULL, OPT_WIDTH },
		{ "height", required_argument, NULL, OPT_HEIGHT },
		{ "pixel-format", required_argument, NULL, OPT_PIXEL },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK },
		{ "frame-sizes-from-fwht", no_argument, NULL, OPT_FWHT },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "scattered", no_argument, NULL, OPT_SCATTERED },
		{ "planes-layout", required_argument, NULL, OPT_PLANES },
		{ "legacy-params", no_argument, NULL, OPT_LEGACY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "drain-after", required_argument, NULL, OPT_DRAIN_AFTER },
		{ "clear-after", required_argument, NULL, OPT_CLEAR_AFTER },
		{ "destroy-after", required_argument, NULL, OPT_DESTROY_AFTER },
		{ "streams", required_argument, NULL, OPT_STREAMS },
		{ "frame-sizes", required_argument, NULL, OPT_FRAME_SIZES },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "png", required_argument, NULL, OPT_PNG },
		{ "png-frame", required_argument, NULL, OPT_PNG_FRAME },
		{ "frame-log", required_argument, NULL, OPT_FRAME_LOG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool decode_opt = false, png_frame_set = false;
	const struct name_value *nv;
	uint64_t n;
	int c;

	*o = (struct options){ .chunk_size = DEFAULT_CHUNK_SIZE, .layout = VUF_LAYOUT_SINGLE,
			       .timeout_ms = VUF_VIDEO_DEFAULT_TIMEOUT_MS };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:iqhV", longopts, NULL)) != -1) {
		if (c >= OPT_TO && c != OPT_LAYOUT && c != OPT_TIMEOUT && c != OPT_LEGACY)
			decode_opt = true;
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'i':
			o->info = true;
			break;
		case OPT_FROM:
			if (o->n_from == MAX_STREAMS)
				return usage_error("--stream-from: at most %u files", MAX_STREAMS);
			o->stream_from[o->n_from++] = optarg;
			break;
		case OPT_TO:
			if (o->n_to == MAX_STREAMS)
				return usage_error("--stream-to: at most %u files", MAX_STREAMS);
			o->stream_to[o->n_to++] = optarg;
			break;
		case OPT_CODED:
			nv = LOOKUP(coded_formats, optarg);
			if (!nv)
				return usage_error("--coded-format: unknown format '%s' "
						   "[possible values: fwht, h264, hevc, vp8, "
						   "vp9, mpeg2, mpeg4]", optarg);
			o->coded_format = nv->value;
			break;
		case OPT_WIDTH:
		case OPT_HEIGHT:
			if (!parse_u64(optarg, false, 1, MAX_DIMENSION, &n))
				return usage_error("--%s: '%s' is not a size from 1 to %u",
						   c == OPT_WIDTH ? "width" : "height", optarg,
						   MAX_DIMENSION);
			if (c == OPT_WIDTH)
				o->width = (uint32_t)n;
			else
				o->height = (uint32_t)n;
			break;
		case OPT_PIXEL:
			nv = LOOKUP(pixel_formats, optarg);
			if (!nv)
				return usage_error("--pixel-format: unknown format '%s' [possible "
						   "values: nv12, yuv420]", optarg);
			o->pixel_format = nv->value;
			o->pixel_name = nv->name;
			break;
		case OPT_CHUNK:
			if (!parse_u64(optarg, true, 1, MAX_CHUNK_SIZE, &n))
				return usage_error("--chunk-size: '%s' is not a size from 1 to 64M",
						   optarg);
			o->chunk_size = (uint32_t)n;
			o->chunk_size_set = true;
			break;
		case OPT_FWHT:
			o->fwht_frames = true;
			break;
		case OPT_FRAMES:
			if (!parse_u64(optarg, false, 1, UINT32_MAX, &n))
				return usage_error("--frames: '%s' is not a positive number",
						   optarg);
			o->max_frames = n;
			break;
		case OPT_LAYOUT:
			nv = LOOKUP(layouts, optarg);
			if (!nv)
				return usage_error("--layout: unknown layout '%s' [possible "
						   "values: single, split, indirect]", optarg);
			o->layout = (enum vuf_layout)nv->value;
			break;
		case OPT_SCATTERED:
			o->scattered = true;
			break;
		case OPT_PLANES:
			nv = LOOKUP(planes_layouts, optarg);
			if (!nv)
				return usage_error("--planes-layout: unknown layout '%s' [possible "
						   "values: single-buffer, per-plane]", optarg);
			o->planes_layout = nv->value;
			break;
		case OPT_LEGACY:
			o->legacy_params = true;
			break;
		case OPT_TIMEOUT:
			if (!parse_u64(optarg, false, 1, 3600000, &n))
				return usage_error("--timeout: '%s' is not a number of "
						   "milliseconds from 1 to 3600000", optarg);
			o->timeout_ms = (int)n;
			break;
		case OPT_DRAIN_AFTER:
		case OPT_CLEAR_AFTER:
		case OPT_DESTROY_AFTER: {
			static const char *const names[] = { "drain-after", "clear-after",
							     "destroy-after" };
			uint32_t *const dst[] = { &o->drain_after, &o->clear_after,
						  &o->destroy_after };
			unsigned k = (unsigned)(c - OPT_DRAIN_AFTER);

			if (!parse_u64(optarg, false, 1, UINT32_MAX, &n))
				return usage_error("--%s: '%s' is not a positive number", names[k],
						   optarg);
			*dst[k] = (uint32_t)n;
			break;
		}
		case OPT_STREAMS:
			if (!parse_u64(optarg, false, 1, MAX_STREAMS, &n))
				return usage_error("--streams: '%s' is not a number from 1 to %u",
						   optarg, MAX_STREAMS);
			o->streams = (unsigned)n;
			break;
		case OPT_FRAME_SIZES:
			o->frame_sizes = optarg;
			break;
		case OPT_CONTAINER:
			nv = LOOKUP(containers, optarg);
			if (!nv)
				return usage_error("--container: unknown container '%s' [possible "
						   "values: auto, raw, ivf]", optarg);
			o->container = (enum container)nv->value;
			break;
		case OPT_PNG:
			o->png = optarg;
			break;
		case OPT_PNG_FRAME:
			if (!parse_u64(optarg, false, 0, UINT32_MAX, &n))
				return usage_error("--png-frame: '%s' is not a number", optarg);
			o->png_frame = n;
			png_frame_set = true;
			break;
		case OPT_FRAME_LOG:
			o->frame_log = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", VUV_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->socket_path)
		return usage_error("--socket-path is required");
	if (!o->info && !o->n_from)
		return usage_error("nothing to do: give --info and/or --stream-from FILE");
	if (!o->n_from) {
		if (decode_opt)
			return usage_error("decoding options need --stream-from FILE");
		return -1;
	}
	if (!o->n_to)
		return usage_error("--stream-from needs --stream-to OUT");
	if (o->n_to != o->n_from)
		return usage_error("each --stream-from needs its own --stream-to (%u FILEs, "
				   "%u OUTs)", o->n_from, o->n_to);
	if (!o->coded_format)
		return usage_error("--stream-from needs --coded-format");
	if (!o->width || !o->height)
		return usage_error("--stream-from needs --width and --height");
	if (!o->pixel_format)
		return usage_error("--stream-from needs --pixel-format");
	if (o->fwht_frames && o->chunk_size_set)
		return usage_error("--chunk-size and --frame-sizes-from-fwht exclude each other");
	if (o->fwht_frames && o->coded_format != VV_FORMAT_FWHT)
		return usage_error("--frame-sizes-from-fwht needs --coded-format fwht");
	if (o->frame_sizes && (o->chunk_size_set || o->fwht_frames))
		return usage_error("--frame-sizes excludes --chunk-size and "
				   "--frame-sizes-from-fwht");
	if (o->container == CONTAINER_IVF &&
	    (o->frame_sizes || o->chunk_size_set || o->fwht_frames))
		return usage_error("--container ivf frames the input itself: no --chunk-size, "
				   "--frame-sizes or --frame-sizes-from-fwht");
	if (png_frame_set && !o->png)
		return usage_error("--png-frame needs --png FILE");
	if ((o->drain_after != 0) + (o->clear_after != 0) + (o->destroy_after != 0) > 1)
		return usage_error("--drain-after, --clear-after and --destroy-after exclude "
				   "each other");
	if (!o->streams)
		o->streams = o->n_from;
	if (o->n_from > o->streams)
		return usage_error("--streams %u, but %u --stream-from FILEs", o->streams,
				   o->n_from);
	return name_streams(o);
}

/* ---- errors ------------------------------------------------------------------------- */

static char err_msg[512];
/* The stream whose work is under way, named in the error when several run (the
 * tool is single-threaded: one piece of work at a time). */
static uint32_t err_stream_id;
static bool several_streams;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records the first error (the one that explains the others) and returns -1. */
static int fail(const char *fmt, ...)
{
	va_list ap;
	int len = 0;

	if (err_msg[0])
		return -1;
	if (several_streams && err_stream_id)
		len = snprintf(err_msg, sizeof(err_msg), "stream %u: ", err_stream_id);
	va_start(ap, fmt);
	vsnprintf(err_msg + len, sizeof(err_msg) - (size_t)len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A command's result in words: the device's error type or the transport's errno. */
static const char *result_str(int ret, char *buf, size_t cap)
{
	if (ret > 0)
		snprintf(buf, cap, "the device answered %s", vuf_video_resp_name((uint32_t)ret));
	else if (ret == -ETIMEDOUT)
		snprintf(buf, cap, "no answer from the device in time");
	else if (ret == -ECONNRESET || ret == -EPIPE)
		snprintf(buf, cap, "the daemon closed the connection");
	else if (ret == -EPROTO)
		snprintf(buf, cap, "malformed answer from the device");
	else
		snprintf(buf, cap, "%s", strerror(-ret));
	return buf;
}

static int fail_cmd(const char *what, int ret)
{
	char buf[128];

	return fail("%s: %s", what, result_str(ret, buf, sizeof(buf)));
}

static const char *fmt_name(uint32_t format, char *buf, size_t cap)
{
	const char *n = vuf_video_format_name(format);

	if (n)
		return n;
	snprintf(buf, cap, "0x%x", format);
	return buf;
}

/* ---- --info --------------------------------------------------------------------------- */

static void range_str(const struct vuf_video_range *r, char *buf, size_t cap)
{
	if (r->min == r->max)
		snprintf(buf, cap, "%u", r->min);
	else if (r->step <= 1)
		snprintf(buf, cap, "%u-%u", r->min, r->max);
	else
		snprintf(buf, cap, "%u-%u step %u", r->min, r->max, r->step);
}

static void layout_str(uint32_t layout, char *buf, size_t cap)
{
	if (layout == VV_PLANES_LAYOUT_SINGLE_BUFFER)
		snprintf(buf, cap, "single-buffer");
	else if (layout == VV_PLANES_LAYOUT_PER_PLANE)
		snprintf(buf, cap, "per-plane");
	else if (layout == (VV_PLANES_LAYOUT_SINGLE_BUFFER | VV_PLANES_LAYOUT_PER_PLANE))
		snprintf(buf, cap, "both");
	else
		snprintf(buf, cap, "0x%x", layout);
}

/* One row of the --info table: #, format, fourcc, layout, align, width, height, fps, pairs. */
#define ROW_FMT "  %-2u  %-8s  %-6s  %-13s  %-5u  %-16s  %-16s  %-10s  %s\n"

static void print_queue_caps(const char *title, const struct vuf_video_caps *c,
			     const struct vuf_video_caps *other)
{
	printf("%s: %u format%s\n", title, c->num_formats, c->num_formats == 1 ? "" : "s");
	if (!c->num_formats)
		return;
	printf("  %-2s  %-8s  %-6s  %-13s  %-5s  %-16s  %-16s  %-10s  %s\n", "#", "format",
	       "fourcc", "layout", "align", "width", "height", "fps", "pairs with");
	for (uint32_t i = 0; i < c->num_formats; i++) {
		const struct vuf_video_format *f = &c->formats[i];
		const char *fourcc = vuf_video_format_fourcc(f->format);
		char namebuf[16], lay[24], pairs[256] = "", w[48], h[48], rates[64];
		const char *name = fmt_name(f->format, namebuf, sizeof(namebuf));
		size_t plen = 0;

		for (uint32_t k = 0; k < 64 && k < other->num_formats; k++) {
			char on[16];

			if (!(f->mask & (1ull << k)))
				continue;
			const char *other_name = fmt_name(other->formats[k].format, on, sizeof(on));

			plen += (size_t)snprintf(pairs + plen, sizeof(pairs) - plen, "%s%s",
						 plen ? " " : "", other_name);
			if (plen >= sizeof(pairs))
				break;
		}
		if (!pairs[0])
			snprintf(pairs, sizeof(pairs), "-");
		layout_str(f->planes_layout, lay, sizeof(lay));
		if (f->num_frames == 0) {
			printf(ROW_FMT, i, name, fourcc ? fourcc : "-", lay, f->plane_align, "-",
			       "-", "-", pairs);
			continue;
		}
		for (uint32_t k = 0; k < f->num_frames; k++) {
			const struct vuf_video_frame *fr = &f->frames[k];
			size_t rlen = 0;

			range_str(&fr->width, w, sizeof(w));
			range_str(&fr->height, h, sizeof(h));
			rates[0] = 0;
			for (uint32_t r = 0; r < fr->num_rates && rlen < sizeof(rates); r++) {
				char one[48];

				range_str(&fr->rates[r], one, sizeof(one));
				rlen += (size_t)snprintf(rates + rlen, sizeof(rates) - rlen, "%s%s",
							 rlen ? "," : "", one);
			}
			if (!rates[0])
				snprintf(rates, sizeof(rates), "-");
			if (k == 0)
				printf(ROW_FMT, i, name, fourcc ? fourcc : "-", lay,
				       f->plane_align, w, h, rates, pairs);
			else
				printf("  %-2s  %-8s  %-6s  %-13s  %-5s  %-16s  %-16s  %-10s\n", "",
				       "", "", "", "", w, h, rates);
		}
	}
}

static int print_info(struct vuf_video *v, const struct vuf_video_caps *in,
		      const struct vuf_video_caps *out)
{
	static const char *const feature_names[] = {
		"RESOURCE_GUEST_PAGES", "RESOURCE_NON_CONTIG", "RESOURCE_VIRTIO_OBJECT",
	};
	bool any = false;

	printf("device: %s (virtio-video v3), max_caps_length %u, max_resp_length %u\n",
	       v->device_name[0] ? v->device_name : "(no name)", v->max_caps_length,
	       v->max_resp_length);
	printf("features:");
	for (unsigned b = 0; b < 3; b++) {
		if (v->f->features & (1ull << b)) {
			printf(" %s", feature_names[b]);
			any = true;
		}
	}
	printf("%s\n\n", any ? "" : " (none)");
	print_queue_caps("INPUT (bitstream)", in, out);
	printf("\n");
	print_queue_caps("OUTPUT (pictures)", out, in);
	return fflush(stdout) == 0 ? 0 : fail("writing to stdout: %s", strerror(errno));
}

/* ---- decoding -------------------------------------------------------------------------- */

struct in_buf {
	struct vuf_video_resource res;
	struct vuf_video_req req;
	bool queued;
};

struct out_buf {
	struct vuf_video_resource res;
	struct vuf_video_req req;
	bool queued;
};

/* How to cut the visible picture out of the planes: rows of row_bytes every
 * stride bytes, starting at off, per plane. */
struct plane_copy {
	unsigned plane;
	uint64_t off;
	uint32_t stride, row_bytes, rows;
};

struct chunk {
	uint64_t off;
	uint32_t len;
	bool key; /* decodable on its own: where feeding may resume after a seek */
};

struct decode_set;

struct decoder {
	const struct options *o;
	struct vuf_video *v;
	struct decode_set *set;   /* every stream of the connection */
	uint32_t stream_id;
	const char *from, *to;
	int in_fd, out_fd;
	uint64_t file_size;

	struct chunk *chunks;     /* FWHT, IVF or listed frames, or NULL for fixed chunks */
	bool ivf;
	uint64_t nchunks, next_chunk;
	uint64_t next_off;        /* fixed chunks */
	uint64_t total_in_bufs;   /* what the whole input makes */
	uint32_t in_buf_size;
	uint8_t *chunk_data;

	struct in_buf in[MAX_IN_BUFS];
	unsigned n_in;
	uint32_t in_layout;
	struct out_buf out[MAX_OUT_BUFS];
	unsigned n_out;
	uint32_t out_layout;
	struct vv_stream_params out_params;
	struct plane_copy copy[VV_MAX_PLANES];
	unsigned ncopy;
	bool raw_copy;            /* unknown layout: `size` bytes, planes back to back */
	uint64_t frame_bytes;
	uint8_t *frame;
	uint64_t picture_bytes;   /* of the last picture written */
	FILE *log;                /* --frame-log */
	char log_name[OUT_NAME_MAX];
	bool png_done;
	uint32_t visible_w, visible_h;

	struct vuf_video_req drain_req;
	bool stream_created, drain_sent, drain_done, eos_seen, feeding_done;
	bool reconfiguring, tearing_down;
	bool finished;            /* stopped or destroyed: nothing more to do or expect */

	/* --drain-after: the drain in flight is the mid-stream one; it completed */
	bool mid_drain, mid_drain_done, resumed_at_key;
	uint64_t frames_at_eos;
	/* --clear-after */
	bool clearing, clear_done;
	uint64_t frames_before_clear, resume_chunk, skipped_chunks;
	/* --destroy-after: what was queued when STREAM_DESTROY went out */
	bool destroying, destroyed;
	unsigned pending_in, pending_out, pending_drain;
	/* buffers (and the drain) answered as cancelled during a clear or the destroy */
	unsigned cancelled_in, cancelled_out, cancelled_drain;

	uint64_t frames, in_bytes, in_buffers, out_bytes, chunks_sent;
	int64_t t_start_ns, t_end_ns, t_last_progress_ns;
	bool progress;
};

/* The streams of one connection: completions and events are routed to their owner. */
struct decode_set {
	struct decoder *dec[MAX_STREAMS];
	unsigned n;
	/* Completions and events handled so far: one stream's synchronous commands
	 * handle the others' completions too, which may leave work due for them. */
	uint64_t handled;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = pread(fd, b, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends one input buffer's worth of the file; the largest sets the buffer size. */
static int add_chunk(struct decoder *d, uint64_t *cap, uint64_t off, uint32_t len, bool key)
{
	if (d->nchunks == *cap) {
		struct chunk *c;

		*cap = *cap ? *cap * 2 : 256;
		c = realloc(d->chunks, *cap * sizeof(*c));
		if (!c)
			return fail("out of memory");
		d->chunks = c;
	}
	d->chunks[d->nchunks++] = (struct chunk){ off, len, key };
	if (len > d->in_buf_size)
		d->in_buf_size = len;
	return 0;
}

/* Indexes the FWHT frames of the input: each must start with the magic and
 * end inside the file. */
static int index_fwht(struct decoder *d)
{
	static const uint8_t magic[8] = { 0x4f, 0x4f, 0x4f, 0x4f, 0xff, 0xff, 0xff, 0xff };
	uint64_t off = 0, cap = 0;

	while (off < d->file_size) {
		uint8_t hdr[FWHT_HDR_SIZE];
		uint64_t len;
		bool key;
		int ret;

		if (d->file_size - off < FWHT_HDR_SIZE)
			return fail("%s: truncated FWHT frame header at offset %" PRIu64,
				    d->from, off);
		ret = read_full(d->in_fd, hdr, sizeof(hdr), off);
		if (ret)
			return fail("reading %s: %s", d->from,
				    ret == -ENODATA ? "file shrank" : strerror(-ret));
		if (memcmp(hdr, magic, sizeof(magic)) != 0)
			return fail("%s: no FWHT frame header (magic 4f4f4f4f ffffffff) at "
				    "offset %" PRIu64, d->from, off);
		len = FWHT_HDR_SIZE + (uint64_t)be32_at(hdr + FWHT_SIZE_OFFSET);
		if (len > MAX_CHUNK_SIZE)
			return fail("%s: FWHT frame at offset %" PRIu64 " claims %" PRIu64
				    " bytes (more than 64 MiB)", d->from, off, len);
		if (len > d->file_size - off)
			return fail("%s: FWHT frame at offset %" PRIu64 " is cut short (%" PRIu64
				    " of %" PRIu64 " bytes)", d->from, off,
				    d->file_size - off, len);
		/* Before version 3 nothing tells I frames from P frames: each counts as one. */
		key = be32_at(hdr + FWHT_VERSION_OFFSET) < FWHT_I_FRAME_VERSION ||
		      (be32_at(hdr + FWHT_FLAGS_OFFSET) & FWHT_FL_I_FRAME);
		if (add_chunk(d, &cap, off, (uint32_t)len, key))
			return -1;
		off += len;
		if (d->o->max_frames && d->nchunks == d->o->max_frames)
			break;
	}
	return 0;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Bit i of a big-endian bit string. */
static unsigned bit_at(const uint8_t *p, unsigned i)
{
	return (p[i / 8] >> (7 - i % 8)) & 1u;
}

/* Whether a frame of the coded format is decodable on its own, from its bytes
 * (the rules are in the comment at the top). Formats we cannot tell count as key. */
static bool frame_is_key(uint32_t format, const uint8_t *p, uint32_t len)
{
	switch (format) {
	case VV_FORMAT_VP8:
		return len >= 1 && !(p[0] & 1u);
	case VV_FORMAT_VP9: {
		unsigned pos = 4;

		if (len < 2 || (p[0] >> 6) != 2)
			return false;
		if (bit_at(p, 2) && bit_at(p, 3))
			pos++; /* profile 3: a reserved bit */
		if (bit_at(p, pos))
			return false; /* show_existing_frame */
		return bit_at(p, pos + 1) == 0;
	}
	case VV_FORMAT_H264:
	case VV_FORMAT_HEVC:
	case VV_FORMAT_MPEG2:
	case VV_FORMAT_MPEG4:
		for (uint32_t i = 0; len >= 6 && i <= len - 6; i++) {
			if (p[i] || p[i + 1] || p[i + 2] != 1)
				continue;
			if (format == VV_FORMAT_H264 && (p[i + 3] & 0x1f) == 5)
				return true;
			if (format == VV_FORMAT_HEVC && ((p[i + 3] >> 1) & 0x3f) >= 16 &&
			    ((p[i + 3] >> 1) & 0x3f) <= 23)
				return true;
			if (format == VV_FORMAT_MPEG2 && p[i + 3] == 0x00 &&
			    ((p[i + 5] >> 3) & 7) == 1)
				return true;
			if (format == VV_FORMAT_MPEG4 && p[i + 3] == 0xb6 && (p[i + 4] >> 6) == 0)
				return true;
		}
		return false;
	default:
		return true;
	}
}

/* Reads a frame's bytes to tell whether it is a key frame, then adds it. */
static int add_frame_chunk(struct decoder *d, uint64_t *cap, uint64_t off, uint32_t len)
{
	uint8_t *buf = malloc(len);
	int ret;

	if (!buf)
		return fail("out of memory");
	ret = read_full(d->in_fd, buf, len, off);
	if (ret) {
		free(buf);
		return fail("reading %s: %s", d->from,
			    ret == -ENODATA ? "file shrank" : strerror(-ret));
	}
	ret = add_chunk(d, cap, off, len, frame_is_key(d->o->coded_format, buf, len));
	free(buf);
	return ret;
}

#define IVF_FILE_HDR_SIZE 32u
#define IVF_FRAME_HDR_SIZE 12u

static bool starts_with_dkif(struct decoder *d)
{
	uint8_t sig[4];

	return d->file_size >= 4 && read_full(d->in_fd, sig, sizeof(sig), 0) == 0 &&
	       memcmp(sig, "DKIF", 4) == 0;
}

/* Indexes the IVF frames: every size is checked against the file. */
static int index_ivf(struct decoder *d)
{
	const char *want = vuf_video_format_fourcc(d->o->coded_format);
	uint8_t hdr[IVF_FILE_HDR_SIZE];
	uint64_t off, cap = 0;
	uint32_t hdr_len;
	int ret;

	if (d->file_size < IVF_FILE_HDR_SIZE)
		return fail("%s: shorter than an IVF file header (32 bytes)", d->from);
	ret = read_full(d->in_fd, hdr, sizeof(hdr), 0);
	if (ret)
		return fail("reading %s: %s", d->from,
			    ret == -ENODATA ? "file shrank" : strerror(-ret));
	if (memcmp(hdr, "DKIF", 4) != 0)
		return fail("%s: no IVF signature \"DKIF\"", d->from);
	hdr_len = (uint32_t)hdr[6] | (uint32_t)hdr[7] << 8;
	if (hdr_len < IVF_FILE_HDR_SIZE || hdr_len > d->file_size)
		return fail("%s: IVF header length %u (at least 32, within the file)", d->from,
			    hdr_len);
	if (want && memcmp(hdr + 8, want, 4) != 0)
		return fail("%s: the IVF file holds '%.4s', not %s ('%s')", d->from,
			    (const char *)(hdr + 8), vuf_video_format_name(d->o->coded_format),
			    want);
	for (off = hdr_len; off < d->file_size;) {
		uint8_t fh[IVF_FRAME_HDR_SIZE];
		uint32_t len;

		if (d->file_size - off < IVF_FRAME_HDR_SIZE)
			return fail("%s: IVF frame header at offset %" PRIu64 " is cut short",
				    d->from, off);
		ret = read_full(d->in_fd, fh, sizeof(fh), off);
		if (ret)
			return fail("reading %s: %s", d->from,
				    ret == -ENODATA ? "file shrank" : strerror(-ret));
		len = le32_at(fh);
		off += IVF_FRAME_HDR_SIZE;
		if (len == 0 || len > MAX_CHUNK_SIZE)
			return fail("%s: IVF frame %" PRIu64 " at offset %" PRIu64 " claims %u "
				    "bytes (1 to 64 MiB)", d->from, d->nchunks, off - 12, len);
		if (len > d->file_size - off)
			return fail("%s: IVF frame %" PRIu64 " at offset %" PRIu64 " is cut "
				    "short (%" PRIu64 " of %u bytes)", d->from, d->nchunks,
				    off - 12, d->file_size - off, len);
		if (add_frame_chunk(d, &cap, off, len))
			return -1;
		off += len;
	}
	if (!d->nchunks)
		return fail("%s: an IVF file without frames", d->from);
	return 0;
}

/* --frame-sizes: one input buffer per listed size; together they are the file. */
static int index_frame_sizes(struct decoder *d)
{
	FILE *f = fopen(d->o->frame_sizes, "re");
	char line[64];
	uint64_t off = 0, cap = 0, lineno = 0;
	int ret = 0;

	if (!f)
		return fail("cannot open %s: %s", d->o->frame_sizes, strerror(errno));
	while (!ret && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		uint64_t len;

		lineno++;
		if (line[n] == 0 && !feof(f)) {
			ret = fail("%s:%" PRIu64 ": line too long", d->o->frame_sizes, lineno);
			break;
		}
		line[n] = 0;
		if (n == 0)
			continue;
		if (!parse_u64(line, false, 1, MAX_CHUNK_SIZE, &len)) {
			ret = fail("%s:%" PRIu64 ": '%s' is not a size from 1 to 64M",
				   d->o->frame_sizes, lineno, line);
			break;
		}
		if (len > d->file_size - off) {
			ret = fail("%s:%" PRIu64 ": the sizes add up to more than %s (%" PRIu64
				   " bytes)", d->o->frame_sizes, lineno, d->from, d->file_size);
			break;
		}
		ret = add_frame_chunk(d, &cap, off, (uint32_t)len);
		off += len;
	}
	if (!ret && ferror(f))
		ret = fail("reading %s: %s", d->o->frame_sizes, strerror(errno));
	fclose(f);
	if (ret)
		return -1;
	if (off != d->file_size)
		return fail("%s: the sizes add up to %" PRIu64 " bytes, %s has %" PRIu64,
			    d->o->frame_sizes, off, d->from, d->file_size);
	return 0;
}

static bool more_input(const struct decoder *d)
{
	if (d->feeding_done)
		return false;
	if (d->chunks)
		return d->next_chunk < d->nchunks;
	return d->next_off < d->file_size;
}

static void show_progress(struct decoder *d, bool final)
{
	int64_t now = now_ns();
	double secs;

	if (!d->progress)
		return;
	if (final) {
		fprintf(stderr, "\r%60s\r", "");
		return;
	}
	if (now - d->t_last_progress_ns < 200000000)
		return;
	d->t_last_progress_ns = now;
	secs = (double)(now - d->t_start_ns) / 1e9;
	fprintf(stderr, "\rdecoding: %" PRIu64 " frames, %.1f fps   ", d->frames,
		secs > 0 ? (double)d->frames / secs : 0.0);
}

/* Fills a free input buffer with the next chunk and queues it. */
static int feed_one(struct decoder *d, struct in_buf *b)
{
	uint64_t off;
	uint32_t len;
	int ret;

	if (d->chunks) {
		off = d->chunks[d->next_chunk].off;
		len = d->chunks[d->next_chunk].len;
		d->next_chunk++;
	} else {
		uint64_t left = d->file_size - d->next_off;

		off = d->next_off;
		len = left < d->o->chunk_size ? (uint32_t)left : d->o->chunk_size;
		d->next_off += len;
	}
	ret = read_full(d->in_fd, d->chunk_data, len, off);
	if (ret)
		return fail("reading %s: %s", d->from,
			    ret == -ENODATA ? "file shrank while decoding" : strerror(-ret));
	ret = vuf_video_resource_write(d->v, &b->res, 0, 0, d->chunk_data, len);
	if (ret)
		return fail("copying input into guest memory: %s", strerror(-ret));
	b->req.cookie = b;
	ret = vuf_video_resource_queue(d->v, d->stream_id, &b->res,
				       d->chunks_sent * FRAME_INTERVAL_NS, &len, 1, &b->req);
	if (ret)
		return fail_cmd("queueing an input buffer", ret);
	b->queued = true;
	d->chunks_sent++;
	d->in_buffers++;
	d->in_bytes += len;
	return 0;
}

static int queue_output(struct decoder *d, struct out_buf *b)
{
	int ret;

	b->req.cookie = b;
	ret = vuf_video_resource_queue(d->v, d->stream_id, &b->res, 0, NULL, 0, &b->req);
	if (ret)
		return fail_cmd("queueing an output buffer", ret);
	b->queued = true;
	return 0;
}

static bool is_in_req(const struct decoder *d, const struct vuf_video_req *r)
{
	return r->cookie >= (const void *)&d->in[0] &&
	       r->cookie < (const void *)&d->in[MAX_IN_BUFS];
}

static bool is_out_req(const struct decoder *d, const struct vuf_video_req *r)
{
	return r->cookie >= (const void *)&d->out[0] &&
	       r->cookie < (const void *)&d->out[MAX_OUT_BUFS];
}

/* Works out what to copy per picture from the OUTPUT params: the visible
 * rectangle (crop, or the whole frame) of a known 4:2:0 format; anything else
 * is written as `size` raw bytes. */
static int plan_copy(struct decoder *d)
{
	const struct vv_stream_params *p = &d->out_params;
	uint32_t left = 0, top = 0, w = p->frame_width, h = p->frame_height;
	unsigned want_planes;

	d->ncopy = 0;
	d->raw_copy = true;
	d->frame_bytes = 0;
	for (unsigned i = 0; i < p->num_planes; i++)
		d->frame_bytes += p->plane_formats[i].plane_size;
	d->visible_w = w;
	d->visible_h = h;

	if (p->crop.width && p->crop.height) {
		if (p->crop.left > w || p->crop.width > w - p->crop.left || p->crop.top > h ||
		    p->crop.height > h - p->crop.top)
			return fail("the device's crop %ux%u+%u+%u lies outside its %ux%u frame",
				    p->crop.width, p->crop.height, p->crop.left, p->crop.top, w, h);
		left = p->crop.left;
		top = p->crop.top;
		w = p->crop.width;
		h = p->crop.height;
	}
	want_planes = p->format == VV_FORMAT_NV12 ? 2 : 3;
	if ((p->format != VV_FORMAT_NV12 && p->format != VV_FORMAT_YUV420 &&
	     p->format != VV_FORMAT_YVU420) || p->num_planes != want_planes)
		return 0;

	for (unsigned i = 0; i < want_planes; i++) {
		struct plane_copy *c = &d->copy[i];
		uint32_t stride = p->plane_formats[i].stride;
		uint32_t col, row, bytes, rows;
		uint64_t end;

		if (i == 0) {
			col = left;
			row = top;
			bytes = w;
			rows = h;
		} else if (p->format == VV_FORMAT_NV12) {
			/* Interleaved UV: pairs of bytes, half the rows. */
			col = left & ~1u;
			row = top / 2;
			bytes = (w + 1) & ~1u;
			rows = (h + 1) / 2;
		} else {
			col = left / 2;
			row = top / 2;
			bytes = (w + 1) / 2;
			rows = (h + 1) / 2;
		}
		end = (uint64_t)(row + rows - 1) * stride + col + bytes;
		if (stride < col + bytes || end > p->plane_formats[i].plane_size)
			return 0; /* does not describe the planes we know: raw bytes */
		*c = (struct plane_copy){ i, (uint64_t)row * stride + col, stride, bytes, rows };
	}
	d->ncopy = want_planes;
	d->raw_copy = false;
	d->frame_bytes = 0;
	for (unsigned i = 0; i < d->ncopy; i++)
		d->frame_bytes += (uint64_t)d->copy[i].row_bytes * d->copy[i].rows;
	d->visible_w = w;
	d->visible_h = h;
	return 0;
}

static int fail_read(int ret)
{
	return fail("reading a picture from guest memory: %s", strerror(-ret));
}

static int write_picture(struct decoder *d, struct out_buf *b, uint32_t size)
{
	uint64_t pos = 0;
	int ret;

	if (size > b->res.total_len)
		return fail("the device reports a %u-byte picture in a %" PRIu64 "-byte buffer",
			    size, b->res.total_len);
	if (d->raw_copy) {
		uint64_t left = size;

		for (unsigned p = 0; p < b->res.num_planes && left; p++) {
			uint32_t n = left < b->res.plane_size[p] ? (uint32_t)left
								 : b->res.plane_size[p];

			ret = vuf_video_resource_read(d->v, &b->res, p, 0, d->frame + pos, n);
			if (ret)
				return fail_read(ret);
			pos += n;
			left -= n;
		}
	} else {
		for (unsigned i = 0; i < d->ncopy; i++) {
			const struct plane_copy *c = &d->copy[i];

			if (c->stride == c->row_bytes) {
				uint64_t n = (uint64_t)c->row_bytes * c->rows;

				ret = vuf_video_resource_read(d->v, &b->res, c->plane, c->off,
							      d->frame + pos, n);
				pos += n;
			} else {
				ret = 0;
				for (uint32_t r = 0; r < c->rows && !ret; r++) {
					ret = vuf_video_resource_read(
						d->v, &b->res, c->plane,
						c->off + (uint64_t)r * c->stride, d->frame + pos,
						c->row_bytes);
					pos += c->row_bytes;
				}
			}
			if (ret)
				return fail_read(ret);
		}
	}
	ret = write_full(d->out_fd, d->frame, pos);
	if (ret)
		return fail("writing %s: %s", d->to, strerror(-ret));
	d->out_bytes += pos;
	d->picture_bytes = pos;
	return 0;
}

/* ---- PNG ------------------------------------------------------------------------------ */

/* A picture for a person to look at, with no image library: RGB rows in stored
 * (uncompressed) deflate blocks of a zlib stream (RFC 1950/1951), in the PNG
 * chunks IHDR, IDAT and IEND, each with its CRC-32 (RFC 2083). */
#define DEFLATE_STORED_MAX 65535u

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	static uint32_t table[256];
	static bool ready;

	if (!ready) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t c = n;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[n] = c;
		}
		ready = true;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC over type and data. */
static bool png_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
	uint8_t hdr[8], crc[4];

	put_be32(hdr, len);
	memcpy(hdr + 4, type, 4);
	put_be32(crc, crc32_update(crc32_update(0, hdr + 4, 4), data, len));
	return fwrite(hdr, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) &&
	       fwrite(crc, 1, 4, f) == 4;
}

static uint8_t clamp_u8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* RGB rows, each behind its filter byte 0, from a tightly packed 4:2:0 picture
 * (Y, then U and V or interleaved UV), BT.601 limited range. */
static void yuv_to_rgb_rows(const uint8_t *pic, uint32_t w, uint32_t h, bool nv12,
			    uint8_t *rows)
{
	const uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
	const uint8_t *y_plane = pic, *c_plane = pic + (uint64_t)w * h;

	for (uint32_t y = 0; y < h; y++) {
		uint8_t *o = rows + (uint64_t)y * (1 + 3ull * w);

		*o++ = 0;
		for (uint32_t x = 0; x < w; x++) {
			int u, v, c = 298 * (y_plane[(uint64_t)y * w + x] - 16);

			if (nv12) {
				const uint8_t *uv = c_plane + (uint64_t)(y / 2) * cw * 2 + (x / 2) * 2;

				u = uv[0] - 128;
				v = uv[1] - 128;
			} else {
				uint64_t i = (uint64_t)(y / 2) * cw + x / 2;

				u = c_plane[i] - 128;
				v = c_plane[(uint64_t)cw * ch + i] - 128;
			}
			*o++ = clamp_u8((c + 409 * v + 128) >> 8);
			*o++ = clamp_u8((c - 100 * u - 208 * v + 128) >> 8);
			*o++ = clamp_u8((c + 516 * u + 128) >> 8);
		}
	}
}

static int write_png(const char *path, const uint8_t *pic, uint32_t w, uint32_t h, bool nv12)
{
	static const uint8_t signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	uint64_t raw_len = (uint64_t)h * (1 + 3ull * w);
	uint64_t blocks = raw_len / DEFLATE_STORED_MAX + 1;
	uint64_t z_len = 2 + raw_len + 5 * blocks + 4;
	uint8_t ihdr[13], *raw = NULL, *z = NULL, *o;
	uint32_t a = 1, b = 0;
	FILE *f = NULL;
	int ret = -1;

	if (z_len > UINT32_MAX / 2)
		return fail("--png: a %ux%u picture is too big for one IDAT chunk", w, h);
	raw = malloc(raw_len);
	z = malloc(z_len);
	if (!raw || !z) {
		fail("out of memory");
		goto out;
	}
	yuv_to_rgb_rows(pic, w, h, nv12, raw);
	o = z;
	*o++ = 0x78; /* deflate, 32 KiB window */
	*o++ = 0x01; /* no dictionary, fastest; (0x78 << 8 | 0x01) % 31 == 0 */
	for (uint64_t off = 0; off < raw_len;) {
		uint32_t n = raw_len - off < DEFLATE_STORED_MAX ? (uint32_t)(raw_len - off)
								 : DEFLATE_STORED_MAX;

		*o++ = off + n == raw_len ? 1 : 0; /* BFINAL, BTYPE 00 (stored) */
		*o++ = (uint8_t)n;
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)~n;
		*o++ = (uint8_t)(~n >> 8);
		memcpy(o, raw + off, n);
		o += n;
		off += n;
	}
	for (uint64_t i = 0; i < raw_len; i++) { /* Adler-32 of the uncompressed bytes */
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	put_be32(o, b << 16 | a);
	o += 4;

	put_be32(ihdr, w);
	put_be32(ihdr + 4, h);
	ihdr[8] = 8;  /* bits per sample */
	ihdr[9] = 2;  /* colour type: RGB */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering, filter type per row */
	ihdr[12] = 0; /* not interlaced */
	f = fopen(path, "we");
	if (!f) {
		fail("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (fwrite(signature, 1, sizeof(signature), f) != sizeof(signature) ||
	    !png_chunk(f, "IHDR", ihdr, sizeof(ihdr)) ||
	    !png_chunk(f, "IDAT", z, (uint32_t)(o - z)) || !png_chunk(f, "IEND", NULL, 0)) {
		fail("writing %s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (f && fclose(f) != 0 && ret == 0)
		ret = fail("writing %s: %s", path, strerror(errno));
	free(raw);
	free(z);
	return ret;
}

/* --png: this picture of stream 1 is the one to show. */
static int maybe_write_png(struct decoder *d)
{
	const struct options *o = d->o;
	uint32_t fmt = d->out_params.format;

	if (!o->png || d->stream_id != FIRST_STREAM_ID || d->frames != o->png_frame)
		return 0;
	if (d->raw_copy || (fmt != VV_FORMAT_NV12 && fmt != VV_FORMAT_YUV420))
		return fail("--png: the pictures are not in a 4:2:0 layout this tool knows");
	if (write_png(o->png, d->frame, d->visible_w, d->visible_h, fmt == VV_FORMAT_NV12))
		return -1;
	d->png_done = true;
	return 0;
}

/* The device must carry each input buffer's timestamp to the pictures decoded
 * from it: a picture's timestamp must be one this client queued (k frame
 * intervals, k below the number of buffers sent). */
static int check_timestamp(const struct decoder *d, const struct out_buf *b)
{
	uint64_t ts = b->req.timestamp;

	if (ts % FRAME_INTERVAL_NS == 0 && ts / FRAME_INTERVAL_NS < d->chunks_sent)
		return 0;
	return fail("picture %" PRIu64 " (output buffer %u) has timestamp %" PRIu64 ", which "
		    "no input buffer carried (%" PRIu64 " sent, every %llu ns from 0)",
		    d->frames, b->res.id, ts, d->chunks_sent, FRAME_INTERVAL_NS);
}

static int log_frame(struct decoder *d, uint64_t timestamp)
{
	if (!d->log)
		return 0;
	if (fprintf(d->log, "%" PRIu64 " %ux%u %" PRIu64 " %" PRIu64 "\n", d->frames,
		    d->visible_w, d->visible_h, d->picture_bytes, timestamp) < 0)
		return fail("writing the frame log: %s", strerror(errno));
	return 0;
}

/* Pictures written at most: --frames, or --destroy-after (the destroy comes then). */
static uint64_t frame_limit(const struct options *o)
{
	uint64_t limit = o->max_frames;

	if (o->destroy_after && (!limit || o->destroy_after < limit))
		limit = o->destroy_after;
	return limit;
}

/* A clear or a destroy is under way: buffers come back cancelled (ERR). */
static bool cancelling(const struct decoder *d)
{
	return d->clearing || d->destroying;
}

/* A buffer the device failed outside a clear: a codec error is followed by an ERROR
 * event for the stream, so wait a moment for it and report the stream error, which
 * explains the failed buffer. */
static int fail_buffer(struct decoder *d, const char *what, uint32_t id)
{
	for (int t = 0; t < 40; t++) {
		if (vuf_video_has_event(d->v, VV_EVENT_ERROR, d->stream_id))
			return fail("the device reported an error on the stream (%s %u came back "
				    "with the ERR flag)", what, id);
		if (vuf_video_poll(d->v) < 0)
			break;
		usleep(25000);
	}
	return fail("the device returned %s %u with the ERR flag", what, id);
}

static int handle_output_done(struct decoder *d, struct out_buf *b)
{
	const struct vuf_video_req *r = &b->req;
	uint64_t limit = frame_limit(d->o);
	char buf[128];

	b->queued = false;
	if (r->status != 0)
		return fail("output buffer %u: %s", b->res.id,
			    result_str(r->status, buf, sizeof(buf)));
	if (r->flags & VV_BUFFER_FLAG_ERR) {
		/* Buffers given back by QUEUE_CLEAR or STREAM_DESTROY carry ERR: expected
		 * then (and never queued again by this handler). */
		if (cancelling(d)) {
			d->cancelled_out++;
			return 0;
		}
		if (d->reconfiguring || d->tearing_down)
			return 0;
		return fail_buffer(d, "output buffer", b->res.id);
	}
	if (r->size > 0 && check_timestamp(d, b))
		return -1;
	if (r->size > 0 && (!limit || d->frames < limit)) {
		if (write_picture(d, b, r->size) || log_frame(d, r->timestamp) ||
		    maybe_write_png(d))
			return -1;
		d->frames++;
		show_progress(d, false);
		if (d->o->max_frames && d->frames == d->o->max_frames)
			d->feeding_done = true;
	}
	if (r->flags & VV_BUFFER_FLAG_EOS)
		d->eos_seen = true;
	if (d->eos_seen || d->reconfiguring || d->tearing_down || cancelling(d))
		return 0;
	return queue_output(d, b);
}

static int handle_done(struct decoder *d, struct vuf_video_req *r)
{
	char buf[128];

	if (r == &d->drain_req) {
		if (r->status == VV_RESP_ERR_INVALID_OPERATION && cancelling(d)) {
			/* The device's answer to a drain that a clear or destroy cut short. */
			d->cancelled_drain++;
			return 0;
		}
		if (r->status != 0)
			return fail("drain: %s", result_str(r->status, buf, sizeof(buf)));
		d->drain_done = true;
		return 0;
	}
	if (is_in_req(d, r)) {
		struct in_buf *b = r->cookie;

		b->queued = false;
		if (r->status != 0)
			return fail("input buffer %u: %s", b->res.id,
				    result_str(r->status, buf, sizeof(buf)));
		if ((r->flags & VV_BUFFER_FLAG_ERR) && cancelling(d)) {
			d->cancelled_in++;
			return 0;
		}
		if ((r->flags & VV_BUFFER_FLAG_ERR) && !d->tearing_down)
			return fail_buffer(d, "input buffer", b->res.id);
		return 0;
	}
	if (is_out_req(d, r))
		return handle_output_done(d, r->cookie);
	return fail("completion of a request this client never made");
}

static struct decoder *req_owner(const struct decode_set *set, const struct vuf_video_req *r)
{
	for (unsigned i = 0; i < set->n; i++) {
		struct decoder *d = set->dec[i];

		if (r == &d->drain_req || is_in_req(d, r) || is_out_req(d, r))
			return d;
	}
	return NULL;
}

/* Every finished request of the connection, each to the stream that made it. */
static int handle_all_done(struct decode_set *set)
{
	uint32_t saved_err_stream = err_stream_id;
	struct vuf_video_req *r;
	int ret = 0;

	while (!ret && set->n && (r = vuf_video_next_done(set->dec[0]->v))) {
		struct decoder *d = req_owner(set, r);

		if (!d) {
			ret = fail("completion of a request this client never made");
			break;
		}
		err_stream_id = d->stream_id;
		set->handled++;
		ret = handle_done(d, r);
	}
	err_stream_id = saved_err_stream;
	return ret;
}

static void free_outputs(struct decoder *d)
{
	for (unsigned i = 0; i < d->n_out; i++)
		vuf_video_resource_free(d->v, &d->out[i].res);
	d->n_out = 0;
}

static int check_out_params(const struct vv_stream_params *p)
{
	uint64_t total = 0;

	if (p->num_planes == 0 || p->num_planes > VV_MAX_PLANES)
		return fail("the device's OUTPUT params have %u planes", p->num_planes);
	if (p->frame_width == 0 || p->frame_height == 0 || p->frame_width > MAX_DIMENSION ||
	    p->frame_height > MAX_DIMENSION)
		return fail("the device's OUTPUT size %ux%u is not usable", p->frame_width,
			    p->frame_height);
	for (unsigned i = 0; i < p->num_planes; i++) {
		if (p->plane_formats[i].plane_size == 0)
			return fail("the device's OUTPUT plane %u has size 0", i);
		total += p->plane_formats[i].plane_size;
	}
	if (total > MAX_PICTURE_BYTES)
		return fail("the device's OUTPUT pictures would need %" PRIu64 " bytes", total);
	return 0;
}

/* DECODER_RESOLUTION_CHANGED: read the OUTPUT params again and rebuild the
 * output buffers from them, as the guest driver does on a source change. */
static int on_resolution_changed(struct decoder *d)
{
	struct vv_stream_params p;
	uint32_t sizes[VV_MAX_PLANES];
	unsigned n;
	int ret;

	d->reconfiguring = true;
	if (d->n_out) {
		ret = vuf_video_queue_clear(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT);
		if (ret)
			return fail_cmd("QUEUE_CLEAR of the output queue", ret);
		/* Every cleared buffer was answered before QUEUE_CLEAR itself. */
		if (handle_all_done(d->set))
			return -1;
		for (unsigned i = 0; i < d->n_out; i++)
			if (d->out[i].queued)
				return fail("output buffer %u not returned by QUEUE_CLEAR",
					    d->out[i].res.id);
		ret = vuf_video_resource_destroy_all(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT);
		if (ret)
			return fail_cmd("RESOURCE_DESTROY_ALL of the output queue", ret);
		free_outputs(d);
	}

	ret = vuf_video_get_params(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT, &p);
	if (ret)
		return fail_cmd("GET_PARAMS (OUTPUT)", ret);
	if (p.format != d->o->pixel_format) {
		char a[16];

		p.format = d->o->pixel_format;
		ret = vuf_video_set_params(d->v, d->stream_id, &p);
		if (ret)
			return fail_cmd("SET_PARAMS (OUTPUT)", ret);
		ret = vuf_video_get_params(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT, &p);
		if (ret)
			return fail_cmd("GET_PARAMS (OUTPUT)", ret);
		if (p.format != d->o->pixel_format)
			return fail("the device decodes to %s, not %s",
				    fmt_name(p.format, a, sizeof(a)), d->o->pixel_name);
	}
	if (check_out_params(&p))
		return -1;
	d->out_params = p;
	if (plan_copy(d))
		return -1;
	free(d->frame);
	d->frame = malloc(d->frame_bytes ? d->frame_bytes : 1);
	if (!d->frame)
		return fail("out of memory");

	n = p.min_buffers ? p.min_buffers + 2 : 4;
	if (p.max_buffers && p.max_buffers >= p.min_buffers && n > p.max_buffers)
		n = p.max_buffers;
	if (n > MAX_OUT_BUFS)
		n = MAX_OUT_BUFS;
	if (n == 0)
		n = 1;
	for (unsigned i = 0; i < p.num_planes; i++)
		sizes[i] = p.plane_formats[i].plane_size;
	for (unsigned i = 0; i < n; i++) {
		struct out_buf *b = &d->out[i];

		ret = vuf_video_resource_alloc(d->v, &b->res, VV_QUEUE_TYPE_OUTPUT,
					       MAX_IN_BUFS + 1 + i, d->out_layout, p.num_planes,
					       sizes, d->o->scattered);
		if (ret)
			return fail("allocating output buffers in guest RAM: %s",
				    ret == -ENOMEM ? "out of guest RAM" : strerror(-ret));
		d->n_out = i + 1;
		ret = vuf_video_resource_create(d->v, d->stream_id, &b->res);
		if (ret)
			return fail_cmd("RESOURCE_CREATE (OUTPUT)", ret);
	}
	d->reconfiguring = false;
	for (unsigned i = 0; i < d->n_out; i++)
		if (queue_output(d, &d->out[i]))
			return -1;
	return 0;
}

/* Every event waiting, each to its stream; events of streams that are done (a
 * destroyed stream's last ones, say) are dropped. */
static int handle_events(struct decode_set *set)
{
	uint32_t saved_err_stream = err_stream_id;
	struct vuf_video_event ev;
	int ret = 0;

	while (!ret && set->n && vuf_video_next_event(set->dec[0]->v, &ev)) {
		struct decoder *d = NULL;

		for (unsigned i = 0; i < set->n; i++)
			if (set->dec[i]->stream_id == ev.stream_id)
				d = set->dec[i];
		if (!d || d->finished)
			continue; /* not ours: nothing to do */
		err_stream_id = d->stream_id;
		set->handled++;
		if (ev.type == VV_EVENT_ERROR)
			ret = fail("the device reported an error on the stream");
		else if (ev.type == VV_EVENT_DECODER_RESOLUTION_CHANGED)
			ret = on_resolution_changed(d);
	}
	err_stream_id = saved_err_stream;
	return ret;
}

/* Index of format in caps, or -1. */
static int caps_find(const struct vuf_video_caps *c, uint32_t format)
{
	for (uint32_t i = 0; i < c->num_formats; i++)
		if (c->formats[i].format == format)
			return (int)i;
	return -1;
}

static uint32_t pick_layout(uint32_t wanted, uint32_t offered)
{
	if (wanted)
		return wanted;
	if (offered & VV_PLANES_LAYOUT_SINGLE_BUFFER || !(offered & VV_PLANES_LAYOUT_PER_PLANE))
		return VV_PLANES_LAYOUT_SINGLE_BUFFER;
	return VV_PLANES_LAYOUT_PER_PLANE;
}

static int check_formats(struct decoder *d, const struct vuf_video_caps *in,
			 const struct vuf_video_caps *out)
{
	int ci = caps_find(in, d->o->coded_format), po = caps_find(out, d->o->pixel_format);
	char a[16];

	if (ci < 0)
		return fail("the device does not decode %s",
			    fmt_name(d->o->coded_format, a, sizeof(a)));
	if (po < 0)
		return fail("the device does not output %s", d->o->pixel_name);
	if (!(in->formats[ci].mask & (1ull << (po & 63))))
		return fail("the device does not decode %s to %s",
			    fmt_name(d->o->coded_format, a, sizeof(a)), d->o->pixel_name);
	d->in_layout = pick_layout(0, in->formats[ci].planes_layout);
	d->out_layout = pick_layout(d->o->planes_layout, out->formats[po].planes_layout);
	return 0;
}

/* Stream set-up: create, tell the device the bitstream's format and size, build
 * and fill the input buffers. */
static int start_stream(struct decoder *d)
{
	struct vv_stream_params p;
	uint32_t need = d->in_buf_size;
	int ret;

	ret = vuf_video_stream_create(d->v, d->stream_id, d->o->coded_format, PROG);
	if (ret)
		return fail_cmd("STREAM_CREATE", ret);
	d->stream_created = true;

	ret = vuf_video_get_params(d->v, d->stream_id, VV_QUEUE_TYPE_INPUT, &p);
	if (ret)
		return fail_cmd("GET_PARAMS (INPUT)", ret);
	p.format = d->o->coded_format;
	p.frame_width = d->o->width;
	p.frame_height = d->o->height;
	p.num_planes = 1;
	p.plane_formats[0].plane_size = need;
	p.plane_formats[0].stride = 0;
	ret = vuf_video_set_params(d->v, d->stream_id, &p);
	if (ret)
		return fail_cmd("SET_PARAMS (INPUT)", ret);
	ret = vuf_video_get_params(d->v, d->stream_id, VV_QUEUE_TYPE_INPUT, &p);
	if (ret)
		return fail_cmd("GET_PARAMS (INPUT)", ret);
	if (p.format != d->o->coded_format)
		return fail("the device did not accept the coded format");
	/* Ask for the picture format now too (the guest's S_FMT on the capture side);
	 * the device confirms it with DECODER_RESOLUTION_CHANGED. */
	{
		struct vv_stream_params q;

		ret = vuf_video_get_params(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT, &q);
		if (ret)
			return fail_cmd("GET_PARAMS (OUTPUT)", ret);
		q.format = d->o->pixel_format;
		q.frame_width = d->o->width;
		q.frame_height = d->o->height;
		ret = vuf_video_set_params(d->v, d->stream_id, &q);
		if (ret)
			return fail_cmd("SET_PARAMS (OUTPUT)", ret);
	}

	/* The device may want bigger bitstream buffers than our largest chunk. */
	if (p.num_planes >= 1 && p.plane_formats[0].plane_size > need &&
	    p.plane_formats[0].plane_size <= MAX_CHUNK_SIZE)
		need = p.plane_formats[0].plane_size;
	d->n_in = p.min_buffers > MIN_IN_BUFS ? p.min_buffers : MIN_IN_BUFS;
	if (p.max_buffers && d->n_in > p.max_buffers)
		d->n_in = p.max_buffers;
	if (d->n_in > MAX_IN_BUFS)
		d->n_in = MAX_IN_BUFS;
	if (d->n_in > d->total_in_bufs)
		d->n_in = (unsigned)d->total_in_bufs;
	if (d->n_in == 0)
		d->n_in = 1;
	for (unsigned i = 0; i < d->n_in; i++) {
		struct in_buf *b = &d->in[i];

		ret = vuf_video_resource_alloc(d->v, &b->res, VV_QUEUE_TYPE_INPUT, 1 + i,
					       d->in_layout, 1, &need, d->o->scattered);
		if (ret)
			return fail("allocating input buffers in guest RAM: %s",
				    ret == -ENOMEM ? "out of guest RAM" : strerror(-ret));
		ret = vuf_video_resource_create(d->v, d->stream_id, &b->res);
		if (ret)
			return fail_cmd("RESOURCE_CREATE (INPUT)", ret);
	}
	return 0;
}

/* Stream tear-down as the guest driver does it on close: stop both queues,
 * free the buffers, destroy the stream. */
static int stop_stream(struct decoder *d)
{
	int ret;

	d->tearing_down = true;
	ret = vuf_video_queue_clear(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT);
	if (ret)
		return fail_cmd("QUEUE_CLEAR of the output queue", ret);
	ret = vuf_video_queue_clear(d->v, d->stream_id, VV_QUEUE_TYPE_INPUT);
	if (ret)
		return fail_cmd("QUEUE_CLEAR of the input queue", ret);
	if (handle_all_done(d->set))
		return -1;
	ret = vuf_video_resource_destroy_all(d->v, d->stream_id, VV_QUEUE_TYPE_INPUT);
	if (ret)
		return fail_cmd("RESOURCE_DESTROY_ALL of the input queue", ret);
	ret = vuf_video_resource_destroy_all(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT);
	if (ret)
		return fail_cmd("RESOURCE_DESTROY_ALL of the output queue", ret);
	ret = vuf_video_stream_destroy(d->v, d->stream_id);
	if (ret)
		return fail_cmd("STREAM_DESTROY", ret);
	d->stream_created = false;
	for (unsigned i = 0; i < d->n_in; i++)
		if (d->in[i].queued)
			return fail("input buffer %u was never returned", d->in[i].res.id);
	for (unsigned i = 0; i < d->n_out; i++)
		if (d->out[i].queued)
			return fail("output buffer %u was never returned", d->out[i].res.id);
	return 0;
}

static const char *waiting_for(const struct decoder *d)
{
	if (!d->n_out)
		return "DECODER_RESOLUTION_CHANGED";
	if (d->drain_sent && !d->eos_seen)
		return d->mid_drain ? "the EOS picture of the mid-stream drain" : "the EOS picture";
	if (d->drain_sent)
		return d->mid_drain ? "the mid-stream drain to finish" : "the drain to finish";
	return "a decoded picture";
}

static unsigned count_queued_in(const struct decoder *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->n_in; i++)
		n += d->in[i].queued;
	return n;
}

static unsigned count_queued_out(const struct decoder *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->n_out; i++)
		n += d->out[i].queued;
	return n;
}

/* After a clear or a destroy: the device owed an answer for every buffer queued,
 * and all of them came before the command's own answer. */
static int check_all_answered(const struct decoder *d, const char *cmd)
{
	for (unsigned i = 0; i < d->n_in; i++)
		if (d->in[i].queued)
			return fail("input buffer %u still pending after %s", d->in[i].res.id,
				    cmd);
	for (unsigned i = 0; i < d->n_out; i++)
		if (d->out[i].queued)
			return fail("output buffer %u still pending after %s", d->out[i].res.id,
				    cmd);
	if (d->drain_sent && !d->drain_done && !d->cancelled_drain)
		return fail("the drain is still pending after %s", cmd);
	return 0;
}

/* Puts every output buffer that is back with us in the device's hands again. */
static int requeue_outputs(struct decoder *d)
{
	if (d->reconfiguring)
		return 0; /* the new buffers go out once they exist */
	for (unsigned i = 0; i < d->n_out; i++)
		if (!d->out[i].queued && queue_output(d, &d->out[i]))
			return -1;
	return 0;
}

/* A due or running --drain-after / --clear-after holds the input back. */
static bool mid_op_holds_input(const struct decoder *d)
{
	const struct options *o = d->o;

	if (o->drain_after && d->in_buffers >= o->drain_after && !d->mid_drain_done)
		return true;
	return o->clear_after && d->in_buffers >= o->clear_after && !d->clear_done;
}

static int send_drain(struct decoder *d, bool mid_stream)
{
	int ret;

	d->drain_req.cookie = NULL;
	ret = vuf_video_stream_drain(d->v, d->stream_id, &d->drain_req);
	if (ret)
		return fail_cmd(mid_stream ? "STREAM_DRAIN (mid-stream)" : "STREAM_DRAIN", ret);
	d->drain_sent = true;
	d->mid_drain = mid_stream;
	return 0;
}

/* The mid-stream drain delivered its EOS picture and its answer: the device must
 * take input again, and the EOS buffer goes back to it. */
static int finish_mid_drain(struct decoder *d)
{
	d->frames_at_eos = d->frames;
	/* Only a decoder that kept its reference across the drain decodes a P frame
	 * next as it would have without the drain: worth saying which one comes. */
	d->resumed_at_key = d->chunks && d->next_chunk < d->nchunks &&
			    d->chunks[d->next_chunk].key;
	d->mid_drain = false;
	d->mid_drain_done = true;
	d->drain_sent = d->drain_done = d->eos_seen = false;
	return requeue_outputs(d);
}

/* --clear-after: a seek. Both queues are cleared while buffers are pending; the
 * pictures already decoded stay; the input goes on from the next I frame. */
static int clear_midstream(struct decoder *d)
{
	int ret;

	d->clearing = true;
	ret = vuf_video_queue_clear(d->v, d->stream_id, VV_QUEUE_TYPE_INPUT);
	if (ret)
		return fail_cmd("QUEUE_CLEAR of the input queue (mid-stream)", ret);
	if (handle_all_done(d->set))
		return -1;
	ret = vuf_video_queue_clear(d->v, d->stream_id, VV_QUEUE_TYPE_OUTPUT);
	if (ret)
		return fail_cmd("QUEUE_CLEAR of the output queue (mid-stream)", ret);
	if (handle_all_done(d->set))
		return -1;
	d->clearing = false;
	if (check_all_answered(d, "QUEUE_CLEAR"))
		return -1;
	d->clear_done = true;
	d->frames_before_clear = d->frames;
	if (d->chunks) {
		/* A P frame needs the picture before it, which the seek skipped. */
		uint64_t i = d->next_chunk;

		while (i < d->nchunks && !d->chunks[i].key)
			i++;
		d->skipped_chunks = i - d->next_chunk;
		d->next_chunk = i;
	}
	d->resume_chunk = d->chunks ? d->next_chunk : d->in_buffers;
	return requeue_outputs(d);
}

/* --destroy-after: STREAM_DESTROY with buffers queued. The device must answer every
 * pending request before the destroy itself; what the stream was is gone then. */
static int destroy_midstream(struct decoder *d)
{
	int ret;

	d->pending_in = count_queued_in(d);
	d->pending_out = count_queued_out(d);
	d->pending_drain = d->drain_sent && !d->drain_done;
	d->destroying = true;
	ret = vuf_video_stream_destroy(d->v, d->stream_id);
	if (ret)
		return fail_cmd("STREAM_DESTROY (mid-stream)", ret);
	d->stream_created = false;
	if (handle_all_done(d->set))
		return -1;
	d->destroying = false;
	if (check_all_answered(d, "STREAM_DESTROY"))
		return -1;
	d->destroyed = true;
	d->finished = true;
	d->t_end_ns = now_ns();
	return 0;
}

/* The stream drained to its end: was every mid-stream operation asked for done? */
static int check_mid_ops_done(const struct decoder *d)
{
	const struct options *o = d->o;

	if (o->drain_after && !d->mid_drain_done)
		return fail("--drain-after %u: the stream ended after %" PRIu64 " input buffers",
			    o->drain_after, d->in_buffers);
	if (o->clear_after && !d->clear_done)
		return fail("--clear-after %u: the stream ended after %" PRIu64 " input buffers",
			    o->clear_after, d->in_buffers);
	if (o->destroy_after && !d->destroyed)
		return fail("--destroy-after %u: the stream ended after %" PRIu64 " frames",
			    o->destroy_after, d->frames);
	return 0;
}

/* One round of work on a stream: whatever is due, then feeding and the final drain. */
static int step(struct decoder *d)
{
	const struct options *o = d->o;

	if (o->destroy_after && d->frames >= o->destroy_after)
		return destroy_midstream(d);
	if (d->drain_sent && d->drain_done && d->eos_seen) {
		if (d->mid_drain) {
			if (finish_mid_drain(d))
				return -1;
		} else {
			if (check_mid_ops_done(d) || stop_stream(d))
				return -1;
			d->finished = true;
			d->t_end_ns = now_ns();
			return 0;
		}
	}
	/* The seek comes once the stream really decodes: a picture came out, or all the
	 * input given is back. */
	if (o->clear_after && !d->clear_done && !d->drain_sent &&
	    d->in_buffers >= o->clear_after && (d->frames > 0 || !count_queued_in(d))) {
		if (clear_midstream(d))
			return -1;
	}
	for (unsigned i = 0; i < d->n_in && more_input(d) && !mid_op_holds_input(d); i++)
		if (!d->in[i].queued && feed_one(d, &d->in[i]))
			return -1;
	if (d->drain_sent)
		return 0;
	if (o->drain_after && !d->mid_drain_done && d->in_buffers >= o->drain_after)
		return send_drain(d, true);
	if (!more_input(d) && !mid_op_holds_input(d))
		return send_drain(d, false);
	return 0;
}

static int decode_loop(struct decode_set *set)
{
	int ret;

	for (;;) {
		const struct decoder *busy = NULL;
		uint64_t handled_before = set->handled;

		for (unsigned i = 0; i < set->n; i++) {
			struct decoder *d = set->dec[i];

			if (d->finished)
				continue;
			err_stream_id = d->stream_id;
			if (step(d))
				return -1;
			if (!d->finished && !busy)
				busy = d;
		}
		err_stream_id = 0;
		if (!busy)
			return 0;
		/* A stream stepped before another one's commands handled its completions
		 * gets its turn again before anybody sleeps. */
		if (set->handled != handled_before)
			continue;
		ret = vuf_video_wait(busy->v, -1);
		if (ret == -ETIMEDOUT) {
			err_stream_id = busy->stream_id;
			return fail("no answer from the device within %d ms (waiting for %s)",
				    busy->o->timeout_ms, waiting_for(busy));
		}
		if (ret)
			return fail_cmd("waiting for the device", ret);
		if (handle_events(set) || handle_all_done(set))
			return -1;
	}
}

/* Opens and checks the input before anything talks to the daemon. */
static int prepare_input(struct decoder *d)
{
	const struct options *o = d->o;
	struct stat st;
	int ret;

	d->in_fd = open(d->from, O_RDONLY | O_CLOEXEC);
	if (d->in_fd < 0)
		return fail("cannot open %s: %s", d->from, strerror(errno));
	if (fstat(d->in_fd, &st) < 0)
		return fail("cannot read %s: %s", d->from, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail("%s is not a regular file", d->from);
	d->file_size = (uint64_t)st.st_size;
	if (d->file_size == 0)
		return fail("%s is empty", d->from);
	if (o->container == CONTAINER_AUTO && !o->fwht_frames && !o->frame_sizes &&
	    !o->chunk_size_set && starts_with_dkif(d))
		d->ivf = true;
	if (o->container == CONTAINER_IVF)
		d->ivf = true;
	if (o->fwht_frames || o->frame_sizes || d->ivf) {
		if (o->fwht_frames)
			ret = index_fwht(d);
		else if (o->frame_sizes)
			ret = index_frame_sizes(d);
		else
			ret = index_ivf(d);
		if (ret)
			return -1;
		d->total_in_bufs = d->nchunks;
	} else {
		d->in_buf_size = d->file_size < o->chunk_size ? (uint32_t)d->file_size
							      : o->chunk_size;
		d->total_in_bufs = d->file_size / o->chunk_size +
				   (d->file_size % o->chunk_size != 0);
	}
	/* A drain or a seek at the very end would test nothing mid-stream. */
	if (o->drain_after && o->drain_after >= d->total_in_bufs)
		return fail("--drain-after %u: %s makes only %" PRIu64 " input buffers, so "
			    "nothing would follow the drain", o->drain_after, d->from,
			    d->total_in_bufs);
	if (o->clear_after && o->clear_after >= d->total_in_bufs)
		return fail("--clear-after %u: %s makes only %" PRIu64 " input buffers, so "
			    "nothing would follow the clear", o->clear_after, d->from,
			    d->total_in_bufs);
	d->chunk_data = malloc(d->in_buf_size);
	if (!d->chunk_data)
		return fail("out of memory");
	return 0;
}

/* "stream n: " when several streams run, else nothing. */
static void print_stream_prefix(const struct decoder *d)
{
	if (several_streams)
		printf("stream %u: ", d->stream_id);
}

/* The line saying what the mid-stream operation did, then the summary line. */
static void print_report(const struct decoder *d)
{
	const struct options *o = d->o;
	double secs = (double)(d->t_end_ns - d->t_start_ns) / 1e9;

	if (o->drain_after) {
		print_stream_prefix(d);
		printf("drain after %u input buffers: the EOS came after %" PRIu64
		       " frames, then %" PRIu64 " more frames%s\n", o->drain_after,
		       d->frames_at_eos, d->frames - d->frames_at_eos,
		       !d->chunks ? "" : d->resumed_at_key ? " (fed on from an I frame)"
							   : " (fed on from a P frame)");
	}
	if (o->clear_after) {
		print_stream_prefix(d);
		printf("clear after %u input buffers: %" PRIu64 " frames before it; cancelled "
		       "%u input and %u output buffers%s; ", o->clear_after,
		       d->frames_before_clear, d->cancelled_in, d->cancelled_out,
		       d->cancelled_drain ? " and the drain" : "");
		if (!d->chunks)
			printf("fed on with the next buffer\n");
		else if (d->resume_chunk < d->nchunks)
			printf("fed on from frame %" PRIu64 " (the next I frame, %" PRIu64
			       " skipped)\n", d->resume_chunk, d->skipped_chunks);
		else
			printf("no I frame follows: nothing more fed (%" PRIu64 " skipped)\n",
			       d->skipped_chunks);
	}
	if (o->destroy_after) {
		unsigned pending = d->pending_in + d->pending_out + d->pending_drain;
		unsigned cancelled = d->cancelled_in + d->cancelled_out + d->cancelled_drain;

		print_stream_prefix(d);
		printf("destroy after %u frames: %u requests pending (%u input, %u output, "
		       "%u drain), all answered: %u cancelled (%u input, %u output, %u drain), "
		       "%u completed\n", o->destroy_after, pending, d->pending_in,
		       d->pending_out, d->pending_drain, cancelled, d->cancelled_in,
		       d->cancelled_out, d->cancelled_drain, pending - cancelled);
	}
	print_stream_prefix(d);
	printf("decoded %" PRIu64 " frames (%ux%u %s) in %.2f s, %.1f fps; input %" PRIu64
	       " bytes in %" PRIu64 " buffers; output %" PRIu64 " bytes\n",
	       d->frames, d->visible_w ? d->visible_w : o->width,
	       d->visible_h ? d->visible_h : o->height, o->pixel_name, secs,
	       secs > 0 ? (double)d->frames / secs : 0.0, d->in_bytes, d->in_buffers,
	       d->out_bytes);
}

/* --frame-log FILE for stream 1, FILE.n for stream n. */
static int open_frame_log(struct decoder *d)
{
	int len;

	if (d->stream_id == FIRST_STREAM_ID)
		len = snprintf(d->log_name, sizeof(d->log_name), "%s", d->o->frame_log);
	else
		len = snprintf(d->log_name, sizeof(d->log_name), "%s.%u", d->o->frame_log,
			       d->stream_id);
	if (len < 0 || (size_t)len >= sizeof(d->log_name))
		return fail("--frame-log: '%s' is too long a name", d->o->frame_log);
	d->log = fopen(d->log_name, "we");
	if (!d->log)
		return fail("cannot create %s: %s", d->log_name, strerror(errno));
	return 0;
}

static int decode(struct decode_set *set)
{
	struct decoder *first = set->dec[0];
	int ret = 0;

	for (unsigned i = 0; i < set->n; i++) {
		struct decoder *d = set->dec[i];

		d->out_fd = open(d->to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (d->out_fd < 0)
			return fail("cannot create %s: %s", d->to, strerror(errno));
		if (d->o->frame_log && open_frame_log(d))
			return -1;
	}
	/* One progress line: the first stream's. */
	first->progress = !first->o->quiet && isatty(STDERR_FILENO);
	for (unsigned i = 0; i < set->n && !ret; i++) {
		struct decoder *d = set->dec[i];

		err_stream_id = d->stream_id;
		d->t_start_ns = d->t_last_progress_ns = now_ns();
		ret = start_stream(d);
	}
	err_stream_id = 0;
	if (!ret)
		ret = decode_loop(set);
	show_progress(first, true);
	if (ret)
		return -1;
	for (unsigned i = 0; i < set->n; i++) {
		struct decoder *d = set->dec[i];

		err_stream_id = d->stream_id;
		if (fsync(d->out_fd) < 0 && errno != EINVAL && errno != EROFS)
			return fail("writing %s: %s", d->to, strerror(errno));
		if (d->log) {
			bool bad = fclose(d->log) != 0;

			d->log = NULL;
			if (bad)
				return fail("writing %s: %s", d->log_name, strerror(errno));
		}
	}
	if (first->o->png && !first->png_done)
		return fail("--png: stream 1 decoded %" PRIu64 " pictures, so there is no picture "
			    "%" PRIu64, first->frames, first->o->png_frame);
	err_stream_id = 0;
	for (unsigned i = 0; i < set->n; i++)
		print_report(set->dec[i]);
	return fflush(stdout) == 0 ? 0 : fail("writing to stdout: %s", strerror(errno));
}

/* Gives the buffers' guest memory and entry lists back (the RAM itself goes
 * with the connection). */
static void decoder_release_buffers(struct decoder *d)
{
	for (unsigned i = 0; i < d->n_in; i++)
		vuf_video_resource_free(d->v, &d->in[i].res);
	d->n_in = 0;
	free_outputs(d);
}

static void decoder_free(struct decoder *d)
{
	for (unsigned i = 0; i < MAX_IN_BUFS; i++)
		vuf_req_fini(&d->in[i].req.vreq);
	for (unsigned i = 0; i < MAX_OUT_BUFS; i++)
		vuf_req_fini(&d->out[i].req.vreq);
	vuf_req_fini(&d->drain_req.vreq);
	free(d->chunks);
	free(d->chunk_data);
	free(d->frame);
	if (d->in_fd >= 0)
		close(d->in_fd);
	if (d->out_fd >= 0)
		close(d->out_fd);
	if (d->log)
		fclose(d->log);
}

/* ---- main ----------------------------------------------------------------------------- */

/* Guest RAM for the rings, the commands and the buffers: per stream, the input
 * pool plus the largest output pool at 4 bytes per pixel, with room for a size
 * change. The memfd is sparse, so only what is touched costs memory. */
static uint64_t guest_ram_size(const struct options *o, uint32_t in_buf_size)
{
	uint64_t size = 64ull << 20, picture, chunk;

	if (!o->streams)
		return size;
	/* The device may ask for bigger bitstream buffers than our chunks. */
	chunk = in_buf_size > DEFAULT_CHUNK_SIZE ? in_buf_size : DEFAULT_CHUNK_SIZE;
	picture = (uint64_t)o->width * o->height * 4 + 2 * VUF_PAGE_SIZE;
	size += o->streams * MAX_IN_BUFS * (chunk + VUF_PAGE_SIZE);
	size += o->streams * 2 * (MAX_OUT_BUFS + 2) * picture;
	return (size + (1ull << 20) - 1) & ~((1ull << 20) - 1);
}

static int connect_device(const struct options *o, uint32_t in_buf_size, struct vuf *f)
{
	struct vuf_opts vo;
	struct stat st;
	int ret, connect_ms = o->timeout_ms < CONNECT_TIMEOUT_MS ? o->timeout_ms
								  : CONNECT_TIMEOUT_MS;

	ret = vuf_connect(f, o->socket_path, connect_ms);
	if (ret == -ETIMEDOUT || ret == -ENOENT || ret == -ECONNREFUSED) {
		if (stat(o->socket_path, &st) < 0)
			return fail("cannot connect to %s: no such socket (is vhost-user-video "
				    "running?)", o->socket_path);
		return fail("cannot connect to %s: nobody is listening (is vhost-user-video "
			    "running?)", o->socket_path);
	}
	if (ret)
		return fail("cannot connect to %s: %s", o->socket_path, strerror(-ret));
	f->timeout_ms = o->timeout_ms;
	vuf_opts_default(&vo);
	vo.ram_size = guest_ram_size(o, in_buf_size);
	vo.queue_size[VV_QUEUE_COMMAND] = 1024;
	vo.queue_size[VV_QUEUE_EVENT] = 64;
	ret = vuf_start(f, &vo);
	if (ret == -ETIMEDOUT)
		return fail("vhost-user set-up with %s failed: no answer within %d ms",
			    o->socket_path, o->timeout_ms);
	if (ret)
		return fail("vhost-user set-up with %s failed: %s", o->socket_path,
			    ret == -ECONNRESET || ret == -EPIPE ? "the daemon closed the connection"
								 : strerror(-ret));
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct vuf f;
	struct vuf_video v;
	struct vuf_video_caps in_caps = { 0 }, out_caps = { 0 };
	struct decode_set set = { .n = 0 };
	uint32_t largest_in_buf = 0;
	int status = 1, ret;

	ret = parse_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	vuf_init(&f);
	memset(&v, 0, sizeof(v));
	several_streams = o.streams > 1;
	for (unsigned i = 0; i < o.streams; i++) {
		struct decoder *d = calloc(1, sizeof(*d));

		if (!d) {
			fail("out of memory");
			goto out;
		}
		d->o = &o;
		d->v = &v;
		d->set = &set;
		d->stream_id = FIRST_STREAM_ID + i;
		d->from = o.stream_from[i];
		d->to = o.stream_to[i];
		d->in_fd = d->out_fd = -1;
		set.dec[set.n++] = d;
		err_stream_id = d->stream_id;
		if (prepare_input(d))
			goto out;
		if (d->in_buf_size > largest_in_buf)
			largest_in_buf = d->in_buf_size;
	}
	err_stream_id = 0;
	if (connect_device(&o, largest_in_buf, &f))
		goto out;
	ret = vuf_video_init(&v, &f);
	if (ret) {
		if (ret == -ENOTSUP)
			fail("the device does not offer RESOURCE_GUEST_PAGES");
		else
			fail("reading the device's configuration: %s",
			     ret == -EPROTO ? "unusable config space" : strerror(-ret));
		goto out;
	}
	v.layout = o.layout;
	v.legacy_params = o.legacy_params;
	v.timeout_ms = o.timeout_ms;

	ret = vuf_video_query_caps(&v, VV_QUEUE_TYPE_INPUT, &in_caps);
	if (ret) {
		fail_cmd("QUERY_CAPABILITY (INPUT)", ret);
		goto out;
	}
	ret = vuf_video_query_caps(&v, VV_QUEUE_TYPE_OUTPUT, &out_caps);
	if (ret) {
		fail_cmd("QUERY_CAPABILITY (OUTPUT)", ret);
		goto out;
	}
	if (o.info && print_info(&v, &in_caps, &out_caps))
		goto out;
	if (set.n) {
		if (o.info)
			printf("\n");
		for (unsigned i = 0; i < set.n; i++)
			if (check_formats(set.dec[i], &in_caps, &out_caps))
				goto out;
		if (decode(&set))
			goto out;
	}
	status = 0;
out:
	for (unsigned i = 0; i < set.n; i++)
		decoder_release_buffers(set.dec[i]);
	/* The rings may still point at our requests: close before freeing them. */
	vuf_close(&f);
	vuf_video_fini(&v);
	vuf_video_caps_free(&in_caps);
	vuf_video_caps_free(&out_caps);
	for (unsigned i = 0; i < set.n; i++) {
		decoder_free(set.dec[i]);
		free(set.dec[i]);
	}
	if (status && err_msg[0])
		fprintf(stderr, PROG ": %s\n", err_msg);
	else if (status)
		fprintf(stderr, PROG ": failed\n");
	return status;
}
