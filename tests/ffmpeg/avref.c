/* avref: the reference side of the ffmpeg-backend tests. It decodes a file
 * directly with libavcodec (demuxed by libavformat) and prints one line per
 * frame, "INDEX WxH MD5", where MD5 covers the visible picture in the asked
 * format (nv12 or yuv420), planes back to back and rows tightly packed: the
 * bytes the client writes with --stream-to. The decoder's own format is used
 * as it is when it is the asked one; otherwise swscale converts, as the
 * backend does.
 *
 *   avref [OPTIONS] FILE                     decode, one line per frame
 *   avref --packet-sizes FILE                the demuxer's packet sizes, one a line
 *                                            (for the client's --frame-sizes)
 *   avref --checksum-raw RAW (--size WxH | --frame-log LOG) [--format F]
 *                                            the same lines for the client's output
 *
 * --pts appends " pts=K": for a decode, K is the index (in decode order) of the
 * packet the frame came from; for a raw file, the client's timestamp divided by
 * its frame interval, which is the index of the input buffer it queued. With
 * one packet per input buffer the two must agree.
 * --bench prints "avref: N frames in W s wall, C s cpu" and no frame lines. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/md5.h>
#include <libswscale/swscale.h>

#define CLIENT_FRAME_INTERVAL_NS 33333333ull /* the client's timestamps: 30 fps */
#define MAX_DIMENSION 16384u

struct opts {
	enum AVPixelFormat format;
	const char *format_name;
	int threads;
	bool frame_threading;
	bool pts;
	bool bench;
	bool packet_sizes;
	const char *raw_out;
	const char *input_format;
	uint64_t skip_packets;
	const char *checksum_raw;
	uint32_t width, height;
	const char *frame_log;
	const char *file;
};

struct picture {
	uint8_t *buf;
	size_t cap, len;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: avref [--format nv12|yuv420] [--threads N] [--frame-threading on|off]\n"
		"             [--pts] [--raw-out FILE] [--skip-packets K] [--input-format NAME]\n"
		"             [--bench] FILE\n"
		"       avref --packet-sizes [--input-format NAME] FILE\n"
		"       avref --checksum-raw RAW (--size WxH | --frame-log LOG) [--format F] [--pts]\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Bytes of a tightly packed w x h 4:2:0 picture. */
static size_t picture_size(uint32_t w, uint32_t h)
{
	return (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
}

static void print_line(uint64_t index, uint32_t w, uint32_t h, const uint8_t *pic, size_t len,
		       bool with_pts, int64_t pts)
{
	uint8_t digest[16];

	av_md5_sum(digest, pic, (int)len);
	printf("%" PRIu64 " %ux%u ", index, w, h);
	for (int i = 0; i < 16; i++)
		printf("%02x", digest[i]);
	if (with_pts)
		printf(" pts=%" PRId64, pts);
	printf("\n");
}

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	unsigned a, b;
	char tail;

	if (sscanf(s, "%ux%u%c", &a, &b, &tail) != 2 || !a || !b || a > MAX_DIMENSION ||
	    b > MAX_DIMENSION)
		return false;
	*w = a;
	*h = b;
	return true;
}

/* ---- raw files from the client ----------------------------------------------------- */

static int checksum_raw(const struct opts *o)
{
	FILE *raw = fopen(o->checksum_raw, "rb"), *log = NULL;
	uint8_t *pic = NULL;
	uint64_t index = 0;
	int ret = 1;

	if (!raw) {
		fprintf(stderr, "avref: cannot open %s: %s\n", o->checksum_raw, strerror(errno));
		return 1;
	}
	if (o->frame_log && !(log = fopen(o->frame_log, "r"))) {
		fprintf(stderr, "avref: cannot open %s: %s\n", o->frame_log, strerror(errno));
		goto out;
	}
	for (;;) {
		uint32_t w = o->width, h = o->height;
		uint64_t ts = 0;
		size_t len;

		if (log) {
			char line[256], size[64];
			uint64_t idx, bytes;

			if (!fgets(line, sizeof(line), log))
				break;
			if (sscanf(line, "%" SCNu64 " %63s %" SCNu64 " %" SCNu64, &idx, size,
				   &bytes, &ts) != 4 || idx != index || !parse_size(size, &w, &h) ||
			    bytes != picture_size(w, h)) {
				fprintf(stderr, "avref: %s: bad line %" PRIu64 ": %s", o->frame_log,
					index + 1, line);
				goto out;
			}
		}
		len = picture_size(w, h);
		free(pic);
		pic = malloc(len);
		if (!pic) {
			fprintf(stderr, "avref: out of memory\n");
			goto out;
		}
		size_t got = fread(pic, 1, len, raw);

		if (got == 0 && !log && feof(raw))
			break;
		if (got != len) {
			fprintf(stderr, "avref: %s: frame %" PRIu64 " is cut short (%zu of %zu "
				"bytes)\n", o->checksum_raw, index, got, len);
			goto out;
		}
		print_line(index, w, h, pic, len, o->pts && log,
			   (int64_t)(ts / CLIENT_FRAME_INTERVAL_NS));
		index++;
	}
	if (fgetc(raw) != EOF) {
		fprintf(stderr, "avref: %s: bytes left after %" PRIu64 " frames\n",
			o->checksum_raw, index);
		goto out;
	}
	ret = 0;
out:
	free(pic);
	if (log)
		fclose(log);
	fclose(raw);
	return ret;
}

/* ---- direct decode ---------------------------------------------------------------- */

struct decode {
	const struct opts *o;
	AVCodecContext *ctx;
	struct SwsContext *sws;
	AVFrame *frame, *conv;
	struct picture pic;
	FILE *raw_out;
	uint64_t frames;
};

/* The visible picture in the asked format, tightly packed, into d->pic. */
static int pack_frame(struct decode *d, const AVFrame *f)
{
	const AVFrame *src = f;
	size_t need = picture_size((uint32_t)f->width, (uint32_t)f->height);
	int ret;

	if (f->format != d->o->format) {
		d->sws = sws_getCachedContext(d->sws, f->width, f->height, f->format, f->width,
					      f->height, d->o->format, SWS_BILINEAR, NULL, NULL,
					      NULL);
		if (!d->sws) {
			fprintf(stderr, "avref: swscale cannot convert %s to %s\n",
				av_get_pix_fmt_name(f->format), d->o->format_name);
			return -1;
		}
		av_frame_unref(d->conv);
		d->conv->format = d->o->format;
		d->conv->width = f->width;
		d->conv->height = f->height;
		if (av_frame_get_buffer(d->conv, 0) < 0)
			return -1;
		sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
			  d->conv->data, d->conv->linesize);
		src = d->conv;
	}
	if (need > d->pic.cap) {
		free(d->pic.buf);
		d->pic.buf = malloc(need);
		d->pic.cap = d->pic.buf ? need : 0;
		if (!d->pic.buf)
			return -1;
	}
	ret = av_image_copy_to_buffer(d->pic.buf, (int)need,
				      (const uint8_t *const *)src->data, src->linesize,
				      d->o->format, src->width, src->height, 1);
	if (ret < 0 || (size_t)ret != need) {
		fprintf(stderr, "avref: packing a %dx%d %s picture failed\n", src->width,
			src->height, d->o->format_name);
		return -1;
	}
	d->pic.len = need;
	return 0;
}

static int receive_frames(struct decode *d)
{
	for (;;) {
		int ret = avcodec_receive_frame(d->ctx, d->frame);

		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0) {
			fprintf(stderr, "avref: decoding: %s\n", av_err2str(ret));
			return 0; /* a damaged frame: the decoder goes on, so do we */
		}
		if (!d->o->bench) {
			if (pack_frame(d, d->frame))
				return -1;
			print_line(d->frames, (uint32_t)d->frame->width, (uint32_t)d->frame->height,
				   d->pic.buf, d->pic.len, d->o->pts, d->frame->pts);
			if (d->raw_out && fwrite(d->pic.buf, 1, d->pic.len, d->raw_out) !=
						  d->pic.len) {
				fprintf(stderr, "avref: writing %s: %s\n", d->o->raw_out,
					strerror(errno));
				return -1;
			}
		}
		d->frames++;
		av_frame_unref(d->frame);
	}
}

static int decode_file(const struct opts *o)
{
	const AVInputFormat *ifmt = NULL;
	AVFormatContext *fmt = NULL;
	const AVCodec *codec;
	AVPacket *pkt = av_packet_alloc();
	struct decode d = { .o = o };
	double t0 = now_s(), c0 = cpu_s();
	uint64_t packet_index = 0;
	int stream, ret = 1;

	d.frame = av_frame_alloc();
	d.conv = av_frame_alloc();
	if (!pkt || !d.frame || !d.conv)
		goto out;
	if (o->input_format && !(ifmt = av_find_input_format(o->input_format))) {
		fprintf(stderr, "avref: unknown input format %s\n", o->input_format);
		goto out;
	}
	if (avformat_open_input(&fmt, o->file, ifmt, NULL) < 0) {
		fprintf(stderr, "avref: cannot open %s\n", o->file);
		goto out;
	}
	if (avformat_find_stream_info(fmt, NULL) < 0) {
		fprintf(stderr, "avref: %s: no stream info\n", o->file);
		goto out;
	}
	stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (stream < 0) {
		fprintf(stderr, "avref: %s: no video stream with a decoder\n", o->file);
		goto out;
	}
	if (!o->packet_sizes) {
		d.ctx = avcodec_alloc_context3(codec);
		if (!d.ctx ||
		    avcodec_parameters_to_context(d.ctx, fmt->streams[stream]->codecpar) < 0)
			goto out;
		d.ctx->thread_count = o->threads;
		d.ctx->thread_type = o->frame_threading ? FF_THREAD_FRAME | FF_THREAD_SLICE
							: FF_THREAD_SLICE;
		if (avcodec_open2(d.ctx, codec, NULL) < 0) {
			fprintf(stderr, "avref: cannot open the %s decoder\n", codec->name);
			goto out;
		}
	}
	if (o->raw_out && !(d.raw_out = fopen(o->raw_out, "wb"))) {
		fprintf(stderr, "avref: cannot create %s: %s\n", o->raw_out, strerror(errno));
		goto out;
	}
	while (av_read_frame(fmt, pkt) >= 0) {
		if (pkt->stream_index != stream) {
			av_packet_unref(pkt);
			continue;
		}
		if (o->packet_sizes) {
			printf("%d\n", pkt->size);
		} else if (packet_index >= o->skip_packets) {
			/* The packet's index rides through reordering as its pts. */
			pkt->pts = (int64_t)packet_index;
			pkt->dts = AV_NOPTS_VALUE;
			ret = avcodec_send_packet(d.ctx, pkt);
			if (ret < 0 && ret != AVERROR(EAGAIN))
				fprintf(stderr, "avref: packet %" PRIu64 ": %s\n", packet_index,
					av_err2str(ret));
			ret = 1;
			if (receive_frames(&d))
				goto out;
		}
		packet_index++;
		av_packet_unref(pkt);
	}
	if (!o->packet_sizes) {
		avcodec_send_packet(d.ctx, NULL);
		if (receive_frames(&d))
			goto out;
	}
	if (o->bench)
		printf("avref: %" PRIu64 " frames in %.3f s wall, %.3f s cpu\n", d.frames,
		       now_s() - t0, cpu_s() - c0);
	ret = 0;
out:
	if (d.raw_out && fclose(d.raw_out) != 0 && ret == 0) {
		fprintf(stderr, "avref: writing %s: %s\n", o->raw_out, strerror(errno));
		ret = 1;
	}
	free(d.pic.buf);
	sws_freeContext(d.sws);
	av_frame_free(&d.frame);
	av_frame_free(&d.conv);
	av_packet_free(&pkt);
	avcodec_free_context(&d.ctx);
	avformat_close_input(&fmt);
	return ret;
}

int main(int argc, char **argv)
{
	enum { OPT_FORMAT = 256, OPT_THREADS, OPT_FT, OPT_PTS, OPT_BENCH, OPT_SIZES, OPT_RAW_OUT,
	       OPT_SKIP, OPT_IFMT, OPT_CHECKSUM_RAW, OPT_SIZE, OPT_LOG };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "frame-threading", required_argument, NULL, OPT_FT },
		{ "pts", no_argument, NULL, OPT_PTS },
		{ "bench", no_argument, NULL, OPT_BENCH },
		{ "packet-sizes", no_argument, NULL, OPT_SIZES },
		{ "raw-out", required_argument, NULL, OPT_RAW_OUT },
		{ "skip-packets", required_argument, NULL, OPT_SKIP },
		{ "input-format", required_argument, NULL, OPT_IFMT },
		{ "checksum-raw", required_argument, NULL, OPT_CHECKSUM_RAW },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "frame-log", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .format = AV_PIX_FMT_YUV420P, .format_name = "yuv420",
			  .threads = 1, .frame_threading = false };
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			if (strcmp(optarg, "nv12") == 0)
				o.format = AV_PIX_FMT_NV12;
			else if (strcmp(optarg, "yuv420") == 0)
				o.format = AV_PIX_FMT_YUV420P;
			else
				goto bad;
			o.format_name = optarg;
			break;
		case OPT_THREADS:
			o.threads = atoi(optarg);
			if (o.threads < 0 || o.threads > 64)
				goto bad;
			break;
		case OPT_FT:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				goto bad;
			o.frame_threading = strcmp(optarg, "on") == 0;
			break;
		case OPT_PTS:
			o.pts = true;
			break;
		case OPT_BENCH:
			o.bench = true;
			break;
		case OPT_SIZES:
			o.packet_sizes = true;
			break;
		case OPT_RAW_OUT:
			o.raw_out = optarg;
			break;
		case OPT_SKIP:
			o.skip_packets = strtoull(optarg, NULL, 10);
			break;
		case OPT_IFMT:
			o.input_format = optarg;
			break;
		case OPT_CHECKSUM_RAW:
			o.checksum_raw = optarg;
			break;
		case OPT_SIZE:
			if (!parse_size(optarg, &o.width, &o.height))
				goto bad;
			break;
		case OPT_LOG:
			o.frame_log = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (o.checksum_raw) {
		if (optind != argc || (o.width != 0) == (o.frame_log != NULL))
			goto bad;
		return checksum_raw(&o);
	}
	if (optind + 1 != argc)
		goto bad;
	o.file = argv[optind];
	av_log_set_level(AV_LOG_ERROR);
	return decode_file(&o);
bad:
	usage(stderr);
	return 2;
}
