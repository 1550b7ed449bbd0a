/* The ffmpeg backend: software decoding with libavcodec, one worker thread per stream.
 *
 * Capabilities: the coded formats whose decoder this libavcodec has (H.264, HEVC, VP8, VP9,
 * MPEG-2, MPEG-4 part 2), each pairing with NV12 and YUV420 (I420); one frame range for
 * all: width 16..8192, height 16..4352 (8K DCI), both in steps of 2 (4:2:0 chroma halves
 * each dimension), frame rates 1..120. Bigger pictures are a stream error.
 *
 * Parameters: as the null backend. OUTPUT planes follow the picture size with stride = row
 * width (NV12: Y w*h, UV w*(h/2); YUV420: Y w*h, U and V (w/2)*(h/2)). The frame size is the
 * decoded size rounded up to the step (at least 16); crop is the decoded (visible) size, and
 * the bytes outside it are filled (luma 16, chroma 128). Before the first picture the size
 * is the one the guest set (INPUT or OUTPUT), afterwards the decoder's. The INPUT plane
 * (bitstream buffer) is 2 MiB unless the guest asks for another size (4 KiB..64 MiB).
 *
 * Threads: session_new starts the stream's worker. The protocol loop only queues work
 * (inputs, picture buffers, drain, clear) under the session's mutex and signals work_cond.
 * The worker copies bitstream out of guest memory, runs parser and decoder, writes pictures
 * into the guest's picture buffers, and posts completion records on a list; an eventfd
 * watched by the loop makes the loop report them through backend_events, so every callback
 * runs on the loop thread. libavcodec may add its own threads (decode_threads,
 * frame_threading).
 *
 * clear and session_free: each queue has a generation, bumped by its clear and stamped on
 * every buffer; records whose buffer belongs to an older generation are dropped, never
 * reported. The worker marks when it touches guest memory of a queue (busy_in while copying
 * a bitstream buffer, busy_out while writing a picture) and clear waits until it stops:
 * after clear returns, no byte of those buffers is read or written. session_free stops and
 * joins the worker (it checks between codec calls, so the wait is at most one packet's
 * decode).
 *
 * Bitstream: H.264, HEVC, MPEG-2 and MPEG-4 come in arbitrary chunks and go through
 * libavcodec's parser, which finds the frame boundaries. VP8 and VP9 have no start codes:
 * each input buffer holds exactly one frame (as V4L2's VP8/VP9 formats define it) and is one
 * packet. An input's bytes are copied once out of guest memory (into a padded staging
 * buffer, or the packet itself for VP8/VP9): the parser and decoder never read guest memory,
 * which the guest could change under them. A parsed input is reported done when the parser
 * has consumed all of it and the decoder has accepted the packets it produced; a VP8/VP9
 * input once copied into its packet (the guest may refill it while the frame decodes).
 *
 * Timestamps: every packet gets a ticket (a session counter) that travels as its pts
 * through the decoder's reordering; the picture's ticket finds the guest's exact u64 in a
 * ring of recent packets. A VP8/VP9 packet carries its input's timestamp; a parsed frame
 * the timestamp of the input that holds its first byte (as V4L2 decoders do), which the
 * backend finds from the parser's byte offsets, however small the inputs are. A picture
 * whose ticket is unknown (none, or too old) gets the last timestamp given out.
 *
 * Pictures: copied from the AVFrame into the guest's segments row by row when the decoder's
 * format is the one asked for (yuv420p/yuvj420p for YUV420, nv12 for NV12); otherwise
 * converted with libswscale, straight into guest memory when each destination plane is one
 * contiguous segment and the source is 4:2:0, through a per-stream scratch buffer otherwise.
 * A buffer too small for the picture comes back with ERR and the picture waits for the
 * next one.
 *
 * Resolution changes: the first picture, and any picture of another size, is held back and
 * resolution_changed reported with the new OUTPUT params. The held picture goes out once the
 * guest has acted (get_params or set_params(OUTPUT), or queue_output) and, when it had
 * picture buffers queued at the change (not the first one), once it has cleared its OUTPUT
 * queue: until then it may still requeue buffers of the old size.
 *
 * Drain: when every input is consumed, the parser is flushed, then the decoder (a NULL
 * packet); the remaining pictures come out, then the next picture buffer comes back empty
 * with EOS (timestamp 0) and drain_done follows (before any picture, when the guest may have
 * no picture buffer, drain_done comes at once and the EOS goes to the next buffer, as the
 * v4l2-decoder does). The decoder is then reset (flush_buffers)
 * and takes input again. clear(INPUT) is a seek: pending inputs are dropped, the parser and
 * decoder reset, a held picture dropped. clear(OUTPUT) returns the picture buffers; a held
 * picture stays for the next buffer.
 *
 * Corrupt bitstream: an error from the decoder before the first picture is tolerated up to
 * FF_ERRORS_BEFORE_PICTURE in a row (decoders complain about slices before their parameter
 * sets); after a picture, FF_ERRORS_AFTER_PICTURE errors in a row, or any error that is not
 * AVERROR_INVALIDDATA, put the stream in error: stream_error, the input at hand done with
 * error, and nothing more is decoded (queue_* and drain answer -EIO). A drain that ends
 * with no picture ever decoded after the decoder refused some of the input (junk, another
 * format, a cut header) reports stream_error too, but the stream goes on. Other streams are
 * never affected. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/cpu.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "backend.h"
#include "iov.h"
#include "log.h"
#include "raw_layout.h"

#define FF_MIN_WIDTH 16u
#define FF_MAX_WIDTH 8192u
#define FF_MIN_HEIGHT 16u
#define FF_MAX_HEIGHT 4352u
#define FF_SIZE_STEP 2u
#define FF_MIN_RATE 1u
#define FF_MAX_RATE 120u

#define FF_DEFAULT_WIDTH 640u
#define FF_DEFAULT_HEIGHT 480u
#define FF_DEFAULT_RATE 30u
#define FF_BITSTREAM_SIZE (2u << 20)
#define FF_MIN_BITSTREAM_SIZE (4u << 10)
#define FF_MAX_BITSTREAM_SIZE (64u << 20)
#define FF_MIN_BUFFERS 2u
#define FF_MAX_BUFFERS 32u
#define FF_MAX_AUTO_THREADS 16u
#define FF_TS_RING 1024u
#define FF_RECENT_INPUTS 8u /* a start code (at most 4 bytes) spans at most 4 inputs */
#define FF_ERRORS_BEFORE_PICTURE 64u
#define FF_ERRORS_AFTER_PICTURE 3u
#define FF_LUMA_PAD 16u
#define FF_CHROMA_PAD 128u

_Static_assert((uint64_t)FF_MAX_WIDTH * FF_MAX_HEIGHT * 3 / 2 <= UINT32_MAX,
	       "picture size fits 32 bits");

/* ---- formats ------------------------------------------------------------------------------ */

struct ff_codec {
	uint32_t vv;
	enum AVCodecID id;
	bool parser; /* start codes: arbitrary chunks through av_parser */
};

static const struct ff_codec ff_codecs[] = {
	{ VV_FORMAT_H264, AV_CODEC_ID_H264, true },
	{ VV_FORMAT_HEVC, AV_CODEC_ID_HEVC, true },
	{ VV_FORMAT_VP8, AV_CODEC_ID_VP8, false },
	{ VV_FORMAT_VP9, AV_CODEC_ID_VP9, false },
	{ VV_FORMAT_MPEG2, AV_CODEC_ID_MPEG2VIDEO, true },
	{ VV_FORMAT_MPEG4, AV_CODEC_ID_MPEG4, true },
};
#define FF_NUM_CODECS (sizeof(ff_codecs) / sizeof(ff_codecs[0]))

static const struct ff_codec *codec_by_vv(uint32_t vv)
{
	for (unsigned i = 0; i < FF_NUM_CODECS; i++)
		if (ff_codecs[i].vv == vv)
			return &ff_codecs[i];
	return NULL;
}

static const uint32_t h264_profiles[] = {
	VV_PROFILE_H264_BASELINE, VV_PROFILE_H264_MAIN, VV_PROFILE_H264_EXTENDED,
	VV_PROFILE_H264_HIGH, VV_PROFILE_H264_HIGH10, VV_PROFILE_H264_HIGH422,
	VV_PROFILE_H264_HIGH444_PREDICTIVE,
};
static const uint32_t h264_levels[] = {
	VV_LEVEL_H264_1_0, VV_LEVEL_H264_1_1, VV_LEVEL_H264_1_2, VV_LEVEL_H264_1_3,
	VV_LEVEL_H264_2_0, VV_LEVEL_H264_2_1, VV_LEVEL_H264_2_2, VV_LEVEL_H264_3_0,
	VV_LEVEL_H264_3_1, VV_LEVEL_H264_3_2, VV_LEVEL_H264_4_0, VV_LEVEL_H264_4_1,
	VV_LEVEL_H264_4_2, VV_LEVEL_H264_5_0, VV_LEVEL_H264_5_1,
};
/* libavcodec's level_idc of each entry of h264_levels. */
static const int h264_level_idc[] = { 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51 };
static const uint32_t hevc_profiles[] = {
	VV_PROFILE_HEVC_MAIN, VV_PROFILE_HEVC_MAIN10, VV_PROFILE_HEVC_MAIN_STILL_PICTURE,
};
static const uint32_t vp8_profiles[] = {
	VV_PROFILE_VP8_PROFILE0, VV_PROFILE_VP8_PROFILE1, VV_PROFILE_VP8_PROFILE2,
	VV_PROFILE_VP8_PROFILE3,
};
static const uint32_t vp9_profiles[] = {
	VV_PROFILE_VP9_PROFILE0, VV_PROFILE_VP9_PROFILE1, VV_PROFILE_VP9_PROFILE2,
	VV_PROFILE_VP9_PROFILE3,
};

static const struct vv_caps_range ff_rates[] = {
	{ FF_MIN_RATE, FF_MAX_RATE, 1 },
};

static const struct vv_caps_frame ff_frames[] = {
	{
		.width = { FF_MIN_WIDTH, FF_MAX_WIDTH, FF_SIZE_STEP },
		.height = { FF_MIN_HEIGHT, FF_MAX_HEIGHT, FF_SIZE_STEP },
		.rates = ff_rates,
		.num_rates = 1,
	},
};

/* ---- state -------------------------------------------------------------------------------- */

enum ff_kind {
	REC_INPUT,    /* a bitstream buffer (queued, then its completion) */
	REC_PICTURE,  /* a picture buffer (queued, then its completion) */
	REC_RES,      /* resolution_changed */
	REC_DRAIN,    /* drain_done */
	REC_ERROR,    /* stream_error */
};

/* A guest buffer lent to the session, later its completion record; also the records of
 * session events. */
struct ff_node {
	struct ff_node *next;
	enum ff_kind kind;
	uint64_t gen; /* the queue's generation when queued (REC_DRAIN: the input's) */
	struct backend_buffer b;
	bool error;
	uint32_t flags, size;
	uint64_t timestamp;
};

struct ff_list {
	struct ff_node *head, *tail;
};

struct ts_entry {
	uint64_t ticket, timestamp;
};

enum drain_phase {
	DRAIN_NONE,
	DRAIN_PARSER_FLUSHED, /* the parser's last packet is out: the NULL packet comes next */
	DRAIN_SENT,           /* the decoder is draining */
	DRAIN_EOS,            /* all pictures out: the EOS buffer and drain_done are owed */
};

/* What only the worker touches (and session_free once the worker is joined). */
struct ff_worker {
	AVCodecContext *ctx;
	AVCodecContext *pctx; /* the parser's own context: it writes into it */
	AVCodecParserContext *parser;
	AVPacket *pkt;
	bool pkt_pending;     /* pkt waits to be accepted by the decoder */
	AVFrame *frame;
	bool have_frame;      /* frame is a decoded picture waiting for a buffer */
	uint64_t frame_ts;
	uint32_t frame_flags;

	struct ff_node *cur_in; /* the input being parsed (bytes in stage) */
	uint8_t *stage;
	size_t stage_cap, stage_len, stage_pos;
	uint64_t cur_ticket;
	/* Parsed codecs: where the last inputs began, in the parser's byte count, so that the
	 * frame the parser finds gets the timestamp of the input holding its first byte, even
	 * when a frame spans thousands of inputs (the parser itself keeps only 4). */
	struct {
		int64_t start;
		uint64_t timestamp;
	} recent[FF_RECENT_INPUTS];
	unsigned n_recent;
	uint64_t parse_ts;   /* timestamp of the frame the parser is gathering */
	bool parse_ts_known;

	enum drain_phase phase;
	uint64_t drain_gen;
	bool eos_owed;        /* a drain completed before any picture: the next buffer is EOS */

	uint64_t next_ticket;
	struct ts_entry ring[FF_TS_RING];
	uint64_t last_ts;

	unsigned err_run;
	uint64_t errors;   /* decode errors since the last reset (drain end or seek) */
	uint64_t pictures;

	struct SwsContext *sws;
	uint8_t *scratch;
	size_t scratch_cap;
};

struct backend {
	struct event_loop *loop;
	unsigned threads;      /* per codec context, 0 never (resolved at open) */
	bool frame_threading;
	_Atomic uint64_t bytes_copied;
	struct vv_caps_format in_descs[FF_NUM_CODECS], out_descs[2];
	struct vv_caps in_caps, out_caps;
};

struct backend_session {
	struct backend *b;
	const struct ff_codec *codec; /* the coded format the worker decodes */
	const struct backend_events *ev;
	void *stream;
	int efd;
	struct ev_handler *h;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t work_cond; /* the worker has something to look at */
	/* Bumped with every work_cond signal: the worker drops the lock inside a step, so a
	 * signal can come while it is not waiting; it waits only when none came. */
	unsigned wake_seq;
	pthread_cond_t idle_cond; /* the worker let go of guest memory */
	/* Below: under lock. */
	struct vv_stream_params in, out;
	struct ff_list in_q, out_q, done;
	uint64_t gen_in, gen_out;
	bool busy_in, busy_out;
	bool quit, flush_pending, drain_pending, broken;
	bool started;       /* the decoder is open: the coded format is fixed */
	bool announced;     /* a picture size was reported */
	bool armed;         /* the guest acted on the last report */
	bool await_clear;   /* ... and must clear its OUTPUT queue first */
	bool out_queued;    /* picture buffers queued since the last clear(OUTPUT) */
	bool owed_res, owed_drain, owed_err; /* records that could not be allocated */
	uint64_t owed_drain_gen;
	int profile, level; /* of the stream, once decoded (FF_PROFILE_UNKNOWN before) */

	struct ff_worker w;
};

/* ---- lists -------------------------------------------------------------------------------- */

static void list_push(struct ff_list *l, struct ff_node *n)
{
	n->next = NULL;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static struct ff_node *list_pop(struct ff_list *l)
{
	struct ff_node *n = l->head;

	if (n) {
		l->head = n->next;
		if (!l->head)
			l->tail = NULL;
	}
	return n;
}

static void list_free(struct ff_list *l)
{
	struct ff_node *n;

	while ((n = list_pop(l)))
		free(n);
}

static void count_copied(struct backend *b, uint64_t n)
{
	atomic_fetch_add_explicit(&b->bytes_copied, n, memory_order_relaxed);
}

/* ---- parameters --------------------------------------------------------------------------- */

/* Smallest frame dimension in the caps that holds v visible pixels (v within the max). */
static uint32_t frame_dim(uint32_t v, uint32_t min)
{
	v = (v + FF_SIZE_STEP - 1) / FF_SIZE_STEP * FF_SIZE_STEP;
	return v < min ? min : v;
}

/* Frame and crop of p for a picture of width x height visible pixels (within the caps). */
static void set_picture_size(struct vv_stream_params *p, uint32_t width, uint32_t height)
{
	p->frame_width = frame_dim(width, FF_MIN_WIDTH);
	p->frame_height = frame_dim(height, FF_MIN_HEIGHT);
	p->crop.left = 0;
	p->crop.top = 0;
	p->crop.width = width;
	p->crop.height = height;
}

/* Limits on the step: a clamped dimension is one set_picture_size would not round. */
_Static_assert(FF_MIN_WIDTH % FF_SIZE_STEP == 0 && FF_MAX_WIDTH % FF_SIZE_STEP == 0 &&
		       FF_MIN_HEIGHT % FF_SIZE_STEP == 0 && FF_MAX_HEIGHT % FF_SIZE_STEP == 0,
	       "frame limits on the step");

/* A size the guest set: clamped into the caps, a whole frame (set_picture_size of the
 * clamped size). */
static void set_guest_size(struct vv_stream_params *p, uint32_t width, uint32_t height)
{
	raw_set_frame(p, &ff_frames[0], width, height);
}

static void default_params(struct backend_session *s, uint32_t coded_format)
{
	struct vv_stream_params *in = &s->in, *out = &s->out;

	memset(in, 0, sizeof(*in));
	in->queue_type = VV_QUEUE_TYPE_INPUT;
	in->format = coded_format;
	in->min_buffers = FF_MIN_BUFFERS;
	in->max_buffers = FF_MAX_BUFFERS;
	in->frame_rate = FF_DEFAULT_RATE;
	in->num_planes = 1;
	in->plane_formats[0].plane_size = FF_BITSTREAM_SIZE;
	set_guest_size(in, FF_DEFAULT_WIDTH, FF_DEFAULT_HEIGHT);

	*out = *in;
	out->queue_type = VV_QUEUE_TYPE_OUTPUT;
	out->format = VV_FORMAT_NV12;
	raw_set_planes(out);
}

/* ---- records (worker side, lock held) ----------------------------------------------------- */

static void notify_loop(struct backend_session *s)
{
	if (eventfd_write(s->efd, 1) < 0)
		log_err("ffmpeg: cannot signal completions: %s", strerror(errno));
}

static void post(struct backend_session *s, struct ff_node *n)
{
	list_push(&s->done, n);
	notify_loop(s);
}

static void post_buffer(struct backend_session *s, struct ff_node *n, bool error, uint32_t flags,
			uint32_t size, uint64_t timestamp)
{
	n->error = error;
	n->flags = flags | (error && n->kind == REC_PICTURE ? VV_BUFFER_FLAG_ERR : 0);
	n->size = error ? 0 : size;
	n->timestamp = timestamp;
	post(s, n);
}

/* A session event; a failed allocation leaves a flag reported after the list. */
static void post_event(struct backend_session *s, enum ff_kind kind, uint64_t gen)
{
	struct ff_node *n = calloc(1, sizeof(*n));

	if (!n) {
		if (kind == REC_RES)
			s->owed_res = true;
		else if (kind == REC_DRAIN) {
			s->owed_drain = true;
			s->owed_drain_gen = gen;
		} else
			s->owed_err = true;
		notify_loop(s);
		return;
	}
	n->kind = kind;
	n->gen = gen;
	post(s, n);
}

/* The stream cannot go on: report it once; the input at hand is done with an error. */
static void fail_stream(struct backend_session *s, const char *what, int err)
{
	struct ff_worker *w = &s->w;
	char msg[AV_ERROR_MAX_STRING_SIZE] = "";

	if (s->broken)
		return;
	if (err)
		av_strerror(err, msg, sizeof(msg));
	log_warn("ffmpeg: %s%s%s: the stream is in error", what, err ? ": " : "", msg);
	s->broken = true;
	if (w->cur_in) {
		post_buffer(s, w->cur_in, true, 0, 0, w->cur_in->b.timestamp);
		w->cur_in = NULL;
	}
	post_event(s, REC_ERROR, 0);
}

static void decode_error(struct backend_session *s, int err)
{
	struct ff_worker *w = &s->w;
	unsigned limit = w->pictures ? FF_ERRORS_AFTER_PICTURE : FF_ERRORS_BEFORE_PICTURE;

	w->err_run++;
	w->errors++;
	log_debug("ffmpeg: decode error %d (%u in a row)", err, w->err_run);
	if (err != AVERROR_INVALIDDATA || w->err_run >= limit)
		fail_stream(s, "decoding failed", err);
}

/* ---- timestamps (worker) ------------------------------------------------------------------ */

static uint64_t ts_ticket(struct ff_worker *w, uint64_t timestamp)
{
	uint64_t t = ++w->next_ticket;

	w->ring[t % FF_TS_RING] = (struct ts_entry){ t, timestamp };
	w->last_ts = timestamp;
	return t;
}

static uint64_t ts_lookup(struct ff_worker *w, int64_t pts)
{
	const struct ts_entry *e;

	if (pts <= 0)
		return w->last_ts;
	e = &w->ring[(uint64_t)pts % FF_TS_RING];
	if (e->ticket != (uint64_t)pts)
		return w->last_ts;
	w->last_ts = e->timestamp;
	return e->timestamp;
}

/* ---- writing pictures into guest segments ------------------------------------------------- */

/* Where destination plane i of a picture lies in a guest buffer. */
struct dst_plane {
	const struct backend_plane *pl;
	size_t off;
	uint32_t size, stride, rows;
	uint32_t cols, vis_rows; /* bytes of picture per row, rows of picture */
	uint8_t pad;
};

/* Maps the planes of p onto buf: one guest plane per picture plane, or all of them packed
 * into one. false when buf cannot hold the picture. */
static bool map_planes(const struct vv_stream_params *p, const struct backend_buffer *buf,
		       struct dst_plane *d)
{
	bool packed = buf->num_planes == 1 && p->num_planes > 1;
	uint64_t off = 0;

	if (p->num_planes == 0 || p->num_planes > 3 || buf->num_planes > VV_MAX_PLANES ||
	    (!packed && buf->num_planes != p->num_planes))
		return false;
	for (unsigned i = 0; i < p->num_planes; i++) {
		uint32_t size = p->plane_formats[i].plane_size;
		uint32_t stride = p->plane_formats[i].stride;
		const struct backend_plane *pl = &buf->planes[packed ? 0 : i];
		uint64_t start = packed ? off : 0;
		uint32_t vis_w = p->crop.width, vis_h = p->crop.height;

		if (stride == 0 || start + size > pl->len)
			return false;
		d[i] = (struct dst_plane){ .pl = pl, .off = (size_t)start, .size = size,
					   .stride = stride, .rows = size / stride };
		if (i == 0) {
			d[i].cols = vis_w;
			d[i].vis_rows = vis_h;
			d[i].pad = FF_LUMA_PAD;
		} else {
			d[i].cols = p->format == VV_FORMAT_NV12 ? 2 * ((vis_w + 1) / 2)
								 : (vis_w + 1) / 2;
			d[i].vis_rows = (vis_h + 1) / 2;
			d[i].pad = FF_CHROMA_PAD;
		}
		if (d[i].cols > stride || d[i].vis_rows > d[i].rows)
			return false;
		off += size;
	}
	return true;
}

/* Copies a plane of cols x vis_rows bytes (rows linesize apart) into d, filling the rest. */
static void write_plane(const struct dst_plane *d, const uint8_t *src, ptrdiff_t linesize)
{
	struct iov_cursor c;

	/* The plane lengths were checked: every write below fits. */
	iov_cursor_init(&c, d->pl->segs, d->pl->nsegs, d->off);
	for (uint32_t r = 0; r < d->rows; r++) {
		if (r < d->vis_rows) {
			iov_cursor_write(&c, src + (ptrdiff_t)r * linesize, d->cols);
			if (d->stride > d->cols)
				iov_cursor_fill(&c, d->pad, d->stride - d->cols);
		} else {
			iov_cursor_fill(&c, d->pad, d->stride);
		}
	}
}

/* The plane's bytes as one host range, or NULL when they span segments. */
static uint8_t *plane_contiguous(const struct dst_plane *d)
{
	size_t pos = 0;

	for (unsigned i = 0; i < d->pl->nsegs; i++) {
		size_t len = d->pl->segs[i].iov_len;

		if (d->off >= pos && d->off - pos < len)
			return len - (d->off - pos) >= d->size
				       ? (uint8_t *)d->pl->segs[i].iov_base + (d->off - pos)
				       : NULL;
		pos += len;
	}
	return NULL;
}

/* The bytes outside the picture in a plane written in place. */
static void pad_plane(const struct dst_plane *d, uint8_t *base)
{
	for (uint32_t r = 0; r < d->rows; r++) {
		uint8_t *row = base + (size_t)r * d->stride;

		if (r >= d->vis_rows)
			memset(row, d->pad, d->stride);
		else if (d->stride > d->cols)
			memset(row + d->cols, d->pad, d->stride - d->cols);
	}
}

static bool direct_match(enum AVPixelFormat src, uint32_t want)
{
	if (want == VV_FORMAT_NV12)
		return src == AV_PIX_FMT_NV12;
	return src == AV_PIX_FMT_YUV420P || src == AV_PIX_FMT_YUVJ420P;
}

/* Converts the frame with libswscale into d. 0 or a negative AVERROR. */
static int convert_picture(struct backend_session *s, const AVFrame *f,
			   const struct vv_stream_params *p, const struct dst_plane *d)
{
	struct ff_worker *w = &s->w;
	enum AVPixelFormat src_fmt = f->format, dst_fmt;
	const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(src_fmt);
	uint8_t *dst[4] = { NULL };
	int dst_stride[4] = { 0 };
	bool in_place = desc && desc->log2_chroma_w == 1 && desc->log2_chroma_h == 1;
	size_t total = 0;
	int ret;

	/* The full-range variant has the same bytes: no range conversion for it. */
	if (src_fmt == AV_PIX_FMT_YUVJ420P)
		src_fmt = AV_PIX_FMT_YUV420P;
	dst_fmt = p->format == VV_FORMAT_NV12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
	w->sws = sws_getCachedContext(w->sws, f->width, f->height, src_fmt, f->width, f->height,
				      dst_fmt, SWS_BICUBIC, NULL, NULL, NULL);
	if (!w->sws)
		return AVERROR(ENOTSUP);
	for (unsigned i = 0; i < p->num_planes; i++) {
		dst[i] = plane_contiguous(&d[i]);
		dst_stride[i] = (int)d[i].stride;
		in_place = in_place && dst[i];
		total += d[i].size;
	}
	if (!in_place) {
		/* Scattered guest pages (or a source swscale scales): through scratch. */
		size_t need = total + AV_INPUT_BUFFER_PADDING_SIZE, off = 0;

		if (w->scratch_cap < need) {
			uint8_t *m = av_malloc(need);

			if (!m)
				return AVERROR(ENOMEM);
			av_free(w->scratch);
			w->scratch = m;
			w->scratch_cap = need;
		}
		for (unsigned i = 0; i < p->num_planes; i++) {
			dst[i] = w->scratch + off;
			off += d[i].size;
		}
	}
	ret = sws_scale(w->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
			dst, dst_stride);
	if (ret <= 0)
		return ret < 0 ? ret : AVERROR(EINVAL);
	for (unsigned i = 0; i < p->num_planes; i++) {
		if (in_place)
			pad_plane(&d[i], dst[i]);
		else
			write_plane(&d[i], dst[i], d[i].stride);
	}
	return 0;
}

enum write_result { WRITE_OK, WRITE_NO_FIT, WRITE_FAILED };

/* Writes the held picture into buf, laid out as p says. */
static enum write_result write_picture(struct backend_session *s, const AVFrame *f,
				       const struct vv_stream_params *p,
				       const struct backend_buffer *buf, uint32_t *size, int *err)
{
	struct dst_plane d[3];

	*size = 0;
	*err = 0;
	if (!map_planes(p, buf, d) || (uint32_t)f->width != p->crop.width ||
	    (uint32_t)f->height != p->crop.height)
		return WRITE_NO_FIT;
	if (direct_match(f->format, p->format)) {
		for (unsigned i = 0; i < p->num_planes; i++)
			if (!f->data[i] || f->linesize[i] < (int)d[i].cols)
				return WRITE_FAILED;
		for (unsigned i = 0; i < p->num_planes; i++)
			write_plane(&d[i], f->data[i], f->linesize[i]);
	} else {
		*err = convert_picture(s, f, p, d);
		if (*err < 0)
			return WRITE_FAILED;
	}
	for (unsigned i = 0; i < p->num_planes; i++)
		*size += d[i].size;
	count_copied(s->b, *size);
	return WRITE_OK;
}

/* ---- the worker --------------------------------------------------------------------------- */

static void lock(struct backend_session *s)
{
	pthread_mutex_lock(&s->lock);
}

static void unlock(struct backend_session *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* Something for the worker (lock held). */
static void wake_worker(struct backend_session *s)
{
	s->wake_seq++;
	pthread_cond_signal(&s->work_cond);
}

static int parser_reset(struct backend_session *s)
{
	struct ff_worker *w = &s->w;

	if (!s->codec->parser)
		return 0;
	if (w->parser)
		av_parser_close(w->parser);
	w->parser = av_parser_init(s->codec->id);
	w->n_recent = 0;
	w->parse_ts_known = false;
	return w->parser ? 0 : AVERROR(ENOMEM);
}

/* Opens the decoder for the session's coded format (lock not held). */
static int open_decoder(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	const AVCodec *codec = avcodec_find_decoder(s->codec->id);
	int ret;

	if (!codec)
		return AVERROR_DECODER_NOT_FOUND;
	w->ctx = avcodec_alloc_context3(codec);
	w->pkt = av_packet_alloc();
	w->frame = av_frame_alloc();
	if (!w->ctx || !w->pkt || !w->frame)
		return AVERROR(ENOMEM);
	/* A hostile header asking for more than the caps is refused before any allocation. */
	w->ctx->max_pixels = (int64_t)FF_MAX_WIDTH * FF_MAX_HEIGHT;
	w->ctx->thread_count = (int)s->b->threads;
	w->ctx->thread_type = s->b->frame_threading ? FF_THREAD_FRAME | FF_THREAD_SLICE
						    : FF_THREAD_SLICE;
	ret = avcodec_open2(w->ctx, codec, NULL);
	if (ret < 0)
		return ret;
	if (s->codec->parser) {
		w->pctx = avcodec_alloc_context3(NULL);
		if (!w->pctx)
			return AVERROR(ENOMEM);
		w->pctx->codec_type = AVMEDIA_TYPE_VIDEO;
		w->pctx->codec_id = s->codec->id;
		ret = parser_reset(s);
		if (ret < 0)
			return ret;
	}
	log_debug("ffmpeg: %s decoder open, %d threads (%s)", codec->name, w->ctx->thread_count,
		  w->ctx->active_thread_type == FF_THREAD_FRAME ? "frame" : "slice");
	return 0;
}

/* A seek or the end of a drain: nothing of the old bitstream stays (lock not held). */
static void reset_decoder(struct backend_session *s)
{
	struct ff_worker *w = &s->w;

	if (w->ctx)
		avcodec_flush_buffers(w->ctx);
	if (w->ctx && parser_reset(s) < 0) {
		lock(s);
		fail_stream(s, "cannot create the parser", AVERROR(ENOMEM));
		unlock(s);
	}
	if (w->pkt)
		av_packet_unref(w->pkt);
	w->pkt_pending = false;
	w->phase = DRAIN_NONE;
	w->err_run = 0;
	w->errors = 0;
}

/* clear(INPUT) happened: drop the input at hand and everything decoded from it. */
static void worker_flush(struct backend_session *s)
{
	struct ff_worker *w = &s->w;

	free(w->cur_in);
	w->cur_in = NULL;
	w->stage_len = w->stage_pos = 0;
	w->eos_owed = false;
	if (w->have_frame)
		av_frame_unref(w->frame);
	w->have_frame = false;
	reset_decoder(s);
}

/* Publishes a new picture size and asks the guest to act on it (lock held). */
static void announce(struct backend_session *s, uint32_t width, uint32_t height)
{
	bool first = !s->announced;

	set_picture_size(&s->out, width, height);
	raw_set_planes(&s->out);
	s->announced = true;
	s->armed = false;
	if (!first && s->out_queued)
		s->await_clear = true;
	if (s->w.ctx) {
		s->profile = s->w.ctx->profile;
		s->level = s->w.ctx->level;
	}
	log_debug("ffmpeg: picture size %ux%u (frame %ux%u)", width, height, s->out.frame_width,
		  s->out.frame_height);
	post_event(s, REC_RES, 0);
}

/* A decoded picture waits: announce its size, or write it into the next buffer. false when
 * it has to wait for the guest (lock held). */
static bool deliver_picture(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	struct vv_stream_params p;
	struct ff_node *n;
	enum write_result res;
	uint64_t gen;
	uint32_t size;
	int err;

	if (!s->announced || (uint32_t)w->frame->width != s->out.crop.width ||
	    (uint32_t)w->frame->height != s->out.crop.height) {
		announce(s, (uint32_t)w->frame->width, (uint32_t)w->frame->height);
		return true;
	}
	if (s->await_clear || !s->armed || !s->out_q.head)
		return false;
	n = list_pop(&s->out_q);
	p = s->out;
	gen = s->gen_out;
	s->busy_out = true;
	unlock(s);
	res = write_picture(s, w->frame, &p, &n->b, &size, &err);
	lock(s);
	s->busy_out = false;
	pthread_cond_broadcast(&s->idle_cond);
	if (gen != s->gen_out || n->gen != gen) {
		free(n); /* cleared while written: the picture goes to the next buffer */
		return true;
	}
	if (res == WRITE_NO_FIT) {
		log_debug("ffmpeg: picture buffer %u cannot hold a %ux%u picture",
			  n->b.resource_id, p.frame_width, p.frame_height);
		post_buffer(s, n, true, 0, 0, w->frame_ts);
		return true;
	}
	if (res == WRITE_FAILED) {
		post_buffer(s, n, true, 0, 0, w->frame_ts);
		fail_stream(s, "the picture cannot be converted", err);
		return true;
	}
	post_buffer(s, n, false, w->frame_flags, size, w->frame_ts);
	av_frame_unref(w->frame);
	w->have_frame = false;
	return true;
}

/* The EOS buffer and drain_done, then the decoder takes input again (lock held). Before
 * any picture the guest may have no picture buffer at all: the drain completes at once and
 * the EOS goes to the next buffer. */
static bool deliver_eos(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	struct ff_node *n;

	/* The whole bitstream was drained, the decoder refused parts of it and never gave a
	 * picture: without an ERROR event the guest would wait for a resolution change that
	 * cannot come. The stream itself goes on (the guest may feed a good bitstream next),
	 * and the drain completes as usual. */
	if (!w->pictures && w->errors) {
		log_warn("ffmpeg: no picture decodes from the bitstream drained");
		post_event(s, REC_ERROR, 0);
	}
	n = list_pop(&s->out_q);
	if (!n && s->announced)
		return false;
	if (n)
		post_buffer(s, n, false, VV_BUFFER_FLAG_EOS, 0, 0);
	else
		w->eos_owed = true;
	post_event(s, REC_DRAIN, w->drain_gen);
	s->drain_pending = false;
	unlock(s);
	reset_decoder(s);
	lock(s);
	return true;
}

static bool picture_usable(const AVFrame *f)
{
	return f->width > 0 && f->height > 0 && (unsigned)f->width <= FF_MAX_WIDTH &&
	       (unsigned)f->height <= FF_MAX_HEIGHT &&
	       (f->format == AV_PIX_FMT_NV12 || f->format == AV_PIX_FMT_YUV420P ||
		f->format == AV_PIX_FMT_YUVJ420P || sws_isSupportedInput(f->format));
}

static uint32_t picture_flags(const AVFrame *f)
{
	if (f->key_frame || f->pict_type == AV_PICTURE_TYPE_I)
		return VV_BUFFER_FLAG_IFRAME;
	if (f->pict_type == AV_PICTURE_TYPE_P)
		return VV_BUFFER_FLAG_PFRAME;
	if (f->pict_type == AV_PICTURE_TYPE_B)
		return VV_BUFFER_FLAG_BFRAME;
	return 0;
}

/* Asks the decoder for a picture. true when something changed (lock held). */
static bool receive_picture(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	int ret;

	unlock(s);
	ret = avcodec_receive_frame(w->ctx, w->frame);
	lock(s);
	if (ret == AVERROR(EAGAIN))
		return false;
	if (ret == AVERROR_EOF) {
		if (w->phase == DRAIN_SENT)
			w->phase = DRAIN_EOS;
		else
			fail_stream(s, "the decoder ended unasked", ret);
		return true;
	}
	if (ret < 0) {
		decode_error(s, ret);
		return true;
	}
	if (!picture_usable(w->frame)) {
		log_warn("ffmpeg: decoded picture %dx%d of format %s cannot be output",
			 w->frame->width, w->frame->height,
			 av_get_pix_fmt_name(w->frame->format) ? av_get_pix_fmt_name(w->frame->format)
							       : "?");
		av_frame_unref(w->frame);
		fail_stream(s, "unusable picture", 0);
		return true;
	}
	w->err_run = 0;
	w->pictures++;
	w->frame_ts = ts_lookup(w, w->frame->pts);
	w->frame_flags = picture_flags(w->frame);
	w->have_frame = true;
	return true;
}

/* Hands the pending packet (or, with pkt NULL, the end of stream) to the decoder. */
static void send_packet(struct backend_session *s, AVPacket *pkt)
{
	struct ff_worker *w = &s->w;
	int ret;

	unlock(s);
	ret = avcodec_send_packet(w->ctx, pkt);
	lock(s);
	if (pkt) {
		av_packet_unref(w->pkt);
		w->pkt_pending = false;
	}
	/* receive_frame said EAGAIN just before: EAGAIN here is a decoder bug, not a wait. */
	if (ret < 0 && ret != AVERROR_EOF)
		decode_error(s, ret);
}

/* An input goes to the parser: its first byte is the parser's next one. */
static void note_input_start(struct ff_worker *w, uint64_t timestamp)
{
	unsigned i = w->n_recent++ % FF_RECENT_INPUTS;

	w->recent[i].start = w->parser ? w->parser->cur_offset : 0;
	w->recent[i].timestamp = timestamp;
	w->last_ts = timestamp;
	if (!w->parse_ts_known) { /* the first frame since the reset starts here */
		w->parse_ts = timestamp;
		w->parse_ts_known = true;
	}
}

/* The timestamp of the recent input that holds stream byte offset (the newest input that
 * began at or before it; the oldest kept when none did). */
static uint64_t input_ts_at(const struct ff_worker *w, int64_t offset)
{
	unsigned kept = w->n_recent < FF_RECENT_INPUTS ? w->n_recent : FF_RECENT_INPUTS;
	uint64_t ts = w->last_ts;

	for (unsigned k = 1; k <= kept; k++) {
		unsigned i = (w->n_recent - k) % FF_RECENT_INPUTS;

		ts = w->recent[i].timestamp;
		if (w->recent[i].start <= offset)
			break;
	}
	return ts;
}

/* A frame the parser completed becomes the pending packet; it points into the parser's
 * buffer, valid until the next parser call, which comes only after it was sent. The
 * parser completes a frame when it sees the next one begin: that first byte
 * (next_frame_offset) was fed just now, or in the few inputs before when a start code is
 * cut, so its input is still among the recent ones. */
static void take_parsed(struct ff_worker *w, uint8_t *out, int out_size)
{
	if (out_size <= 0)
		return;
	av_packet_unref(w->pkt);
	w->pkt->data = out;
	w->pkt->size = out_size;
	w->pkt->pts = (int64_t)ts_ticket(w, w->parse_ts);
	w->pkt_pending = true;
	w->parse_ts = input_ts_at(w, w->parser->next_frame_offset);
}

/* One parser step over the staged input (lock held). */
static void parse_some(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	uint8_t *out = NULL;
	int out_size = 0, used;
	size_t left = w->stage_len - w->stage_pos;
	int chunk = left > INT32_MAX / 2 ? INT32_MAX / 2 : (int)left;

	unlock(s);
	used = av_parser_parse2(w->parser, w->pctx, &out, &out_size, w->stage + w->stage_pos,
				chunk, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
	lock(s);
	if (used < 0 || used > chunk) {
		fail_stream(s, "the parser failed", used < 0 ? used : AVERROR_BUG);
		return;
	}
	/* A parser that neither consumes nor produces would spin: the rest is dropped. */
	w->stage_pos += used || out_size ? (size_t)used : left;
	take_parsed(w, out, out_size);
}

/* Copies the next input out of guest memory (lock held). */
static void take_input(struct backend_session *s)
{
	struct ff_worker *w = &s->w;
	struct ff_node *n = list_pop(&s->in_q);
	uint64_t total = 0, copied = 0;
	uint8_t *dst;
	int ret = 0;

	for (unsigned i = 0; i < n->b.num_planes && i < VV_MAX_PLANES; i++)
		total += n->b.data_sizes[i] < n->b.planes[i].len ? n->b.data_sizes[i]
								  : n->b.planes[i].len;
	if (total == 0) {
		post_buffer(s, n, false, 0, 0, n->b.timestamp);
		return;
	}
	if (total > FF_MAX_BITSTREAM_SIZE) {
		post_buffer(s, n, true, 0, 0, n->b.timestamp);
		return;
	}
	if (!s->codec->parser)
		w->cur_ticket = ts_ticket(w, n->b.timestamp);
	/* Staging (parser) or the packet itself, zero-padded as libavcodec wants. */
	if (s->codec->parser) {
		size_t need = (size_t)total + AV_INPUT_BUFFER_PADDING_SIZE;

		if (w->stage_cap < need) {
			uint8_t *m = av_realloc(w->stage, need);

			if (!m)
				ret = AVERROR(ENOMEM);
			else {
				w->stage = m;
				w->stage_cap = need;
			}
		}
		dst = w->stage;
	} else {
		av_packet_unref(w->pkt);
		ret = av_new_packet(w->pkt, (int)total);
		dst = w->pkt->data;
	}
	if (ret < 0) {
		post_buffer(s, n, true, 0, 0, n->b.timestamp);
		fail_stream(s, "no memory for the bitstream", ret);
		return;
	}
	s->busy_in = true;
	unlock(s);
	for (unsigned i = 0; i < n->b.num_planes && i < VV_MAX_PLANES; i++) {
		size_t len = n->b.data_sizes[i] < n->b.planes[i].len ? n->b.data_sizes[i]
								     : n->b.planes[i].len;

		copied += iov_copy(n->b.planes[i].segs, n->b.planes[i].nsegs, 0, dst + copied,
				   len, false);
	}
	memset(dst + copied, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	count_copied(s->b, copied);
	lock(s);
	s->busy_in = false;
	pthread_cond_broadcast(&s->idle_cond);
	if (n->gen != s->gen_in) {
		free(n); /* cleared while copied */
		return;
	}
	if (s->codec->parser) {
		w->cur_in = n;
		w->stage_len = (size_t)copied;
		w->stage_pos = 0;
		note_input_start(w, n->b.timestamp);
		return;
	}
	/* One frame per buffer: the packet is ready, the buffer done. */
	w->pkt->size = (int)copied;
	w->pkt->pts = (int64_t)w->cur_ticket;
	w->pkt_pending = true;
	post_buffer(s, n, false, 0, 0, n->b.timestamp);
}

/* Starts or advances a drain (lock held). */
static bool drain_step(struct backend_session *s)
{
	struct ff_worker *w = &s->w;

	if (w->phase == DRAIN_NONE) {
		w->drain_gen = s->gen_in;
		if (!w->ctx) {
			w->phase = DRAIN_EOS; /* nothing was ever decoded */
			return true;
		}
		if (w->parser) {
			uint8_t *out = NULL;
			int out_size = 0;

			unlock(s);
			av_parser_parse2(w->parser, w->pctx, &out, &out_size, NULL, 0,
					 AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
			lock(s);
			take_parsed(w, out, out_size);
		}
		w->phase = DRAIN_PARSER_FLUSHED;
		return true;
	}
	if (w->phase == DRAIN_PARSER_FLUSHED) {
		w->phase = DRAIN_SENT;
		send_packet(s, NULL);
		return true;
	}
	return false;
}

/* One piece of work, in order of priority. false when there is nothing to do until the
 * guest or the loop gives more (lock held). */
static bool worker_step(struct backend_session *s)
{
	struct ff_worker *w = &s->w;

	if (w->eos_owed && s->out_q.head) {
		w->eos_owed = false;
		post_buffer(s, list_pop(&s->out_q), false, VV_BUFFER_FLAG_EOS, 0, 0);
		return true;
	}
	if (w->have_frame)
		return deliver_picture(s);
	if (w->phase == DRAIN_EOS)
		return deliver_eos(s);
	if (!w->ctx) {
		int ret;

		if (!s->in_q.head)
			return s->drain_pending ? drain_step(s) : false;
		s->started = true;
		unlock(s);
		ret = open_decoder(s);
		lock(s);
		if (ret < 0)
			fail_stream(s, "cannot open the decoder", ret);
		return true;
	}
	if (receive_picture(s))
		return true;
	if (w->pkt_pending) {
		send_packet(s, w->pkt);
		return true;
	}
	if (w->cur_in) {
		if (w->stage_pos < w->stage_len) {
			parse_some(s);
		} else {
			struct ff_node *n = w->cur_in;

			w->cur_in = NULL;
			post_buffer(s, n, false, 0, 0, n->b.timestamp);
		}
		return true;
	}
	if (s->in_q.head) {
		take_input(s);
		return true;
	}
	if (s->drain_pending)
		return drain_step(s);
	return false;
}

static void *worker_main(void *arg)
{
	struct backend_session *s = arg;

	lock(s);
	while (!s->quit) {
		unsigned seen = s->wake_seq;

		if (s->flush_pending) {
			s->flush_pending = false;
			unlock(s);
			worker_flush(s);
			lock(s);
			continue;
		}
		if (!s->broken && worker_step(s))
			continue;
		if (s->wake_seq == seen)
			pthread_cond_wait(&s->work_cond, &s->lock);
	}
	unlock(s);
	return NULL;
}

/* ---- the loop side ------------------------------------------------------------------------ */

static void report(struct backend_session *s, struct ff_node *n)
{
	switch (n->kind) {
	case REC_INPUT:
		if (n->gen == s->gen_in)
			s->ev->input_done(s->stream, n->b.resource_id, n->error);
		break;
	case REC_PICTURE:
		if (n->gen == s->gen_out)
			s->ev->picture_ready(s->stream, n->b.resource_id, n->timestamp, n->flags,
					     n->size);
		break;
	case REC_RES:
		s->ev->resolution_changed(s->stream);
		break;
	case REC_DRAIN:
		if (n->gen == s->gen_in)
			s->ev->drain_done(s->stream, false);
		break;
	case REC_ERROR:
		s->ev->stream_error(s->stream);
		break;
	}
}

/* The worker posted completions: report them, in order, on the loop thread. */
static void on_done(void *opaque, uint32_t events)
{
	struct backend_session *s = opaque;
	struct ff_list todo;
	bool res, drain, err;
	uint64_t drain_gen;
	struct ff_node *n;
	eventfd_t count;

	(void)events;
	if (eventfd_read(s->efd, &count) < 0 && errno != EAGAIN)
		log_debug("ffmpeg: eventfd read: %s", strerror(errno));
	lock(s);
	todo = s->done;
	s->done = (struct ff_list){ NULL, NULL };
	res = s->owed_res;
	drain = s->owed_drain;
	drain_gen = s->owed_drain_gen;
	err = s->owed_err;
	s->owed_res = s->owed_drain = s->owed_err = false;
	unlock(s);
	/* gen_in and gen_out only change on this thread: no lock needed to read them. */
	while ((n = list_pop(&todo))) {
		report(s, n);
		free(n);
	}
	if (res)
		s->ev->resolution_changed(s->stream);
	if (drain && drain_gen == s->gen_in)
		s->ev->drain_done(s->stream, false);
	if (err)
		s->ev->stream_error(s->stream);
}

static void ff_log_level(void)
{
	av_log_set_level(log_verbosity >= LOG_DEBUG ? AV_LOG_WARNING : AV_LOG_QUIET);
}

static int ff_open(struct backend **out, const struct backend_config *cfg,
		   struct event_loop *loop)
{
	struct backend *b;
	unsigned nin = 0;

	*out = NULL;
	if (!loop)
		return -EINVAL;
	ff_log_level();
	b = calloc(1, sizeof(*b));
	if (!b) {
		log_err("ffmpeg: out of memory");
		return -ENOMEM;
	}
	b->loop = loop;
	atomic_init(&b->bytes_copied, 0);
	b->frame_threading = cfg ? cfg->frame_threading : true;
	b->threads = cfg ? cfg->decode_threads : 0;
	if (b->threads == 0) {
		/* Counted here, before any sandbox: one per core the daemon may run on. */
		int cpus = av_cpu_count();

		b->threads = cpus < 1 ? 1 : (unsigned)cpus;
		if (b->threads > FF_MAX_AUTO_THREADS)
			b->threads = FF_MAX_AUTO_THREADS;
	}
	for (unsigned i = 0; i < FF_NUM_CODECS; i++) {
		if (!avcodec_find_decoder(ff_codecs[i].id))
			continue;
		b->in_descs[nin++] = (struct vv_caps_format){
			.mask = 0x3, .format = ff_codecs[i].vv,
			.planes_layout = VV_PLANES_LAYOUT_SINGLE_BUFFER, .plane_align = 1,
			.frames = ff_frames, .num_frames = 1,
		};
	}
	if (nin == 0) {
		log_err("ffmpeg: this libavcodec has none of the H.264, HEVC, VP8, VP9, MPEG-2 "
			"and MPEG-4 decoders");
		free(b);
		return -ENODEV;
	}
	for (unsigned i = 0; i < 2; i++)
		b->out_descs[i] = (struct vv_caps_format){
			.mask = (1ull << nin) - 1, .format = i ? VV_FORMAT_YUV420 : VV_FORMAT_NV12,
			.planes_layout = VV_PLANES_LAYOUT_SINGLE_BUFFER, .plane_align = 1,
			.frames = ff_frames, .num_frames = 1,
		};
	b->in_caps = (struct vv_caps){ b->in_descs, nin };
	b->out_caps = (struct vv_caps){ b->out_descs, 2 };
	log_info("ffmpeg: libavcodec %s, %u coded formats, %u threads per stream (%s threading)",
		 AV_STRINGIFY(LIBAVCODEC_VERSION), nin, b->threads,
		 b->frame_threading ? "frame and slice" : "slice");
	*out = b;
	return 0;
}

static void ff_close(struct backend *b)
{
	if (!b)
		return;
	log_info("ffmpeg: %llu bytes of frame data copied",
		 (unsigned long long)atomic_load(&b->bytes_copied));
	free(b);
}

static const struct vv_caps *ff_caps(struct backend *b, uint32_t queue_type)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT)
		return &b->in_caps;
	if (queue_type == VV_QUEUE_TYPE_OUTPUT)
		return &b->out_caps;
	return NULL;
}

static bool coded_in_caps(const struct backend *b, uint32_t format)
{
	for (unsigned i = 0; i < b->in_caps.num_descs; i++)
		if (b->in_descs[i].format == format)
			return true;
	return false;
}

static void worker_free(struct ff_worker *w)
{
	free(w->cur_in);
	av_parser_close(w->parser);
	avcodec_free_context(&w->pctx);
	avcodec_free_context(&w->ctx);
	av_packet_free(&w->pkt);
	av_frame_free(&w->frame);
	sws_freeContext(w->sws);
	av_free(w->stage);
	av_free(w->scratch);
}

static void session_destroy(struct backend_session *s)
{
	if (s->thread_started) {
		lock(s);
		s->quit = true;
		wake_worker(s);
		unlock(s);
		pthread_join(s->thread, NULL);
	}
	worker_free(&s->w);
	list_free(&s->in_q);
	list_free(&s->out_q);
	list_free(&s->done);
	pthread_cond_destroy(&s->idle_cond);
	pthread_cond_destroy(&s->work_cond);
	pthread_mutex_destroy(&s->lock);
	if (s->efd >= 0)
		close(s->efd);
	free(s);
}

static int ff_session_new(struct backend *b, uint32_t coded_format,
			  const struct backend_events *ev, void *stream,
			  struct backend_session **out)
{
	struct backend_session *s;
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!coded_in_caps(b, coded_format))
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->b = b;
	s->codec = codec_by_vv(coded_format);
	s->ev = ev;
	s->stream = stream;
	s->profile = FF_PROFILE_UNKNOWN;
	s->level = FF_LEVEL_UNKNOWN;
	default_params(s, coded_format);
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return -ENOMEM;
	}
	pthread_cond_init(&s->work_cond, NULL);
	pthread_cond_init(&s->idle_cond, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		err = -errno;
		goto fail;
	}
	/* Signals stay with the loop thread (the daemon reads them from a signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&s->thread, NULL, worker_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	s->thread_started = true;
	s->h = ev_add(b->loop, s->efd, EPOLLIN, on_done, s);
	if (!s->h) {
		err = -errno;
		goto fail;
	}
	*out = s;
	return 0;

fail:
	log_warn("ffmpeg: cannot create a session: %s", strerror(-err));
	session_destroy(s);
	return err == -ENOMEM ? -ENOMEM : -EIO;
}

static void ff_session_free(struct backend_session *s)
{
	if (!s)
		return;
	ev_del(s->b->loop, s->h);
	session_destroy(s);
}

static int ff_get_params(struct backend_session *s, uint32_t queue_type,
			 struct vv_stream_params *p)
{
	if (queue_type != VV_QUEUE_TYPE_INPUT && queue_type != VV_QUEUE_TYPE_OUTPUT)
		return -EINVAL;
	lock(s);
	if (queue_type == VV_QUEUE_TYPE_INPUT) {
		*p = s->in;
	} else {
		*p = s->out;
		/* The guest reads the new format: it is acting on the change. */
		if (s->announced && !s->armed) {
			s->armed = true;
			wake_worker(s);
		}
	}
	unlock(s);
	return 0;
}

static int set_input_params(struct backend_session *s, const struct vv_stream_params *p)
{
	struct vv_stream_params *in = &s->in;

	if (!coded_in_caps(s->b, p->format))
		return -EINVAL;
	if (p->format != in->format) {
		if (s->started)
			return -EBUSY; /* the decoder for the first one is open */
		in->format = p->format;
		s->codec = codec_by_vv(p->format);
	}
	if (p->frame_rate)
		in->frame_rate = raw_clamp_step(p->frame_rate, FF_MIN_RATE, FF_MAX_RATE, 1);
	if (p->num_planes >= 1 && p->plane_formats[0].plane_size)
		in->plane_formats[0].plane_size =
			raw_clamp_step(p->plane_formats[0].plane_size, FF_MIN_BITSTREAM_SIZE,
				       FF_MAX_BITSTREAM_SIZE, 1);
	if (!p->frame_width || !p->frame_height)
		return 0;
	set_guest_size(in, p->frame_width, p->frame_height);
	/* Until the decoder says otherwise, the pictures have the size the guest expects. */
	if (!s->announced) {
		set_guest_size(&s->out, p->frame_width, p->frame_height);
		raw_set_planes(&s->out);
	}
	return 0;
}

static int set_output_params(struct backend_session *s, const struct vv_stream_params *p)
{
	if (p->format != VV_FORMAT_NV12 && p->format != VV_FORMAT_YUV420)
		return -EINVAL;
	s->out.format = p->format;
	if (p->frame_rate)
		s->out.frame_rate = raw_clamp_step(p->frame_rate, FF_MIN_RATE, FF_MAX_RATE, 1);
	/* The decoded size wins once known; before, the guest's is kept. */
	if (!s->announced && p->frame_width && p->frame_height)
		set_guest_size(&s->out, p->frame_width, p->frame_height);
	raw_set_planes(&s->out);
	if (s->announced && !s->armed)
		s->armed = true;
	wake_worker(s);
	return 0;
}

static int ff_set_params(struct backend_session *s, const struct vv_stream_params *p)
{
	int ret;

	if (p->queue_type != VV_QUEUE_TYPE_INPUT && p->queue_type != VV_QUEUE_TYPE_OUTPUT)
		return -EINVAL;
	lock(s);
	if (s->broken)
		ret = -EIO;
	else if (p->queue_type == VV_QUEUE_TYPE_INPUT)
		ret = set_input_params(s, p);
	else
		ret = set_output_params(s, p);
	unlock(s);
	return ret;
}

static int enqueue(struct backend_session *s, const struct backend_buffer *buf, bool input)
{
	struct ff_node *n;

	if (buf->num_planes == 0 || buf->num_planes > VV_MAX_PLANES)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->kind = input ? REC_INPUT : REC_PICTURE;
	n->b = *buf;
	lock(s);
	if (s->broken) {
		unlock(s);
		free(n);
		return -EIO;
	}
	if (input) {
		n->gen = s->gen_in;
		list_push(&s->in_q, n);
	} else {
		n->gen = s->gen_out;
		list_push(&s->out_q, n);
		s->out_queued = true;
		/* The guest queues pictures: it acts on the change. */
		if (s->announced && !s->armed)
			s->armed = true;
	}
	wake_worker(s);
	unlock(s);
	return 0;
}

static int ff_queue_input(struct backend_session *s, const struct backend_buffer *buf)
{
	return enqueue(s, buf, true);
}

static int ff_queue_output(struct backend_session *s, const struct backend_buffer *buf)
{
	return enqueue(s, buf, false);
}

static int ff_drain(struct backend_session *s)
{
	int ret = 0;

	lock(s);
	if (s->broken)
		ret = -EIO;
	else if (s->drain_pending)
		ret = -EBUSY;
	else
		s->drain_pending = true;
	wake_worker(s);
	unlock(s);
	return ret;
}

static int ff_clear(struct backend_session *s, uint32_t queue_type)
{
	if (queue_type != VV_QUEUE_TYPE_INPUT && queue_type != VV_QUEUE_TYPE_OUTPUT)
		return -EINVAL;
	lock(s);
	if (queue_type == VV_QUEUE_TYPE_INPUT) {
		/* A seek: the worker drops what it has of the old bitstream. */
		s->gen_in++;
		list_free(&s->in_q);
		s->drain_pending = false;
		s->flush_pending = true;
		while (s->busy_in)
			pthread_cond_wait(&s->idle_cond, &s->lock);
	} else {
		s->gen_out++;
		list_free(&s->out_q);
		s->out_queued = false;
		if (s->await_clear) {
			/* The old picture buffers are gone: what comes now is new. */
			s->await_clear = false;
			s->armed = true;
		}
		while (s->busy_out)
			pthread_cond_wait(&s->idle_cond, &s->lock);
	}
	wake_worker(s);
	unlock(s);
	return 0;
}

/* ---- controls ----------------------------------------------------------------------------- */

static int ff_query_control(struct backend *b, uint32_t control, uint32_t format,
			    uint32_t *values, uint32_t *num)
{
	const uint32_t *list = NULL;
	uint32_t count = 0;

	if (!coded_in_caps(b, format))
		return -EINVAL;
	if (control == VV_CONTROL_PROFILE) {
		if (format == VV_FORMAT_H264) {
			list = h264_profiles;
			count = sizeof(h264_profiles) / sizeof(h264_profiles[0]);
		} else if (format == VV_FORMAT_HEVC) {
			list = hevc_profiles;
			count = sizeof(hevc_profiles) / sizeof(hevc_profiles[0]);
		} else if (format == VV_FORMAT_VP8) {
			list = vp8_profiles;
			count = sizeof(vp8_profiles) / sizeof(vp8_profiles[0]);
		} else if (format == VV_FORMAT_VP9) {
			list = vp9_profiles;
			count = sizeof(vp9_profiles) / sizeof(vp9_profiles[0]);
		}
	} else if (control == VV_CONTROL_LEVEL && format == VV_FORMAT_H264) {
		list = h264_levels;
		count = sizeof(h264_levels) / sizeof(h264_levels[0]);
	}
	if (!list)
		return -ENOTSUP; /* no virtio-video values for it */
	if (count > *num)
		count = *num;
	memcpy(values, list, count * sizeof(*values));
	*num = count;
	return 0;
}

static int h264_profile(int p)
{
	switch (p & ~(FF_PROFILE_H264_CONSTRAINED | FF_PROFILE_H264_INTRA)) {
	case FF_PROFILE_H264_BASELINE: return VV_PROFILE_H264_BASELINE;
	case FF_PROFILE_H264_MAIN: return VV_PROFILE_H264_MAIN;
	case FF_PROFILE_H264_EXTENDED: return VV_PROFILE_H264_EXTENDED;
	case FF_PROFILE_H264_HIGH: return VV_PROFILE_H264_HIGH;
	case FF_PROFILE_H264_HIGH_10: return VV_PROFILE_H264_HIGH10;
	case FF_PROFILE_H264_HIGH_422: return VV_PROFILE_H264_HIGH422;
	case FF_PROFILE_H264_HIGH_444_PREDICTIVE: return VV_PROFILE_H264_HIGH444_PREDICTIVE;
	default: return -1;
	}
}

/* The profile or level of the stream being decoded (known after its first picture). */
static int stream_control(uint32_t format, uint32_t control, int profile, int level)
{
	if (control == VV_CONTROL_LEVEL) {
		if (format != VV_FORMAT_H264)
			return -1;
		for (unsigned i = 0; i < sizeof(h264_level_idc) / sizeof(h264_level_idc[0]); i++)
			if (h264_level_idc[i] == level)
				return (int)h264_levels[i];
		return -1;
	}
	if (profile == FF_PROFILE_UNKNOWN || profile < 0)
		return -1;
	switch (format) {
	case VV_FORMAT_H264:
		return h264_profile(profile);
	case VV_FORMAT_HEVC:
		if (profile == FF_PROFILE_HEVC_MAIN)
			return VV_PROFILE_HEVC_MAIN;
		if (profile == FF_PROFILE_HEVC_MAIN_10)
			return VV_PROFILE_HEVC_MAIN10;
		if (profile == FF_PROFILE_HEVC_MAIN_STILL_PICTURE)
			return VV_PROFILE_HEVC_MAIN_STILL_PICTURE;
		return -1;
	case VV_FORMAT_VP8:
		return profile <= 3 ? (int)VV_PROFILE_VP8_PROFILE0 + profile : -1;
	case VV_FORMAT_VP9:
		return profile <= 3 ? (int)VV_PROFILE_VP9_PROFILE0 + profile : -1;
	default:
		return -1;
	}
}

static int ff_get_control(struct backend_session *s, uint32_t control, uint32_t *value)
{
	int v;

	if (control != VV_CONTROL_PROFILE && control != VV_CONTROL_LEVEL)
		return -ENOTSUP;
	lock(s);
	v = stream_control(s->in.format, control, s->profile, s->level);
	unlock(s);
	if (v < 0)
		return -ENOTSUP; /* not known (yet), or no virtio-video value for it */
	*value = (uint32_t)v;
	return 0;
}

static int ff_set_control(struct backend_session *s, uint32_t control, uint32_t value)
{
	(void)s;
	(void)control;
	(void)value;
	return -ENOTSUP;
}

static uint64_t ff_bytes_copied(struct backend *b)
{
	return atomic_load_explicit(&b->bytes_copied, memory_order_relaxed);
}

const struct backend_ops backend_ffmpeg_ops = {
	.name = "ffmpeg",
	.open = ff_open,
	.close = ff_close,
	.caps = ff_caps,
	.session_new = ff_session_new,
	.session_free = ff_session_free,
	.get_params = ff_get_params,
	.set_params = ff_set_params,
	.queue_input = ff_queue_input,
	.queue_output = ff_queue_output,
	.drain = ff_drain,
	.clear = ff_clear,
	.query_control = ff_query_control,
	.get_control = ff_get_control,
	.set_control = ff_set_control,
	.bytes_copied = ff_bytes_copied,
};
