/* The ffmpeg backend driven directly on an event loop, the way the device drives it.
 * Streams are made by the ffmpeg CLI (a required dependency: the test fails when it is
 * missing) and every picture is compared byte for byte with the CLI's own decode. Guest
 * memory is plain heap memory here; picture buffers are split into two segments at an odd
 * offset so that rows cross segment boundaries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "event_loop.h"
#include "testlib.h"

#define MAX_PICS 256u
#define MAX_BUFS 16384u

static char tmpdir[64];

/* ---- files made by the ffmpeg CLI --------------------------------------------------------- */

struct blob {
	uint8_t *data;
	size_t len;
};

static bool read_file(const char *path, struct blob *b)
{
	FILE *f = fopen(path, "rb");
	long n;

	b->data = NULL;
	b->len = 0;
	if (!f)
		return false;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return false;
	}
	b->data = malloc((size_t)n);
	if (b->data && fread(b->data, 1, (size_t)n, f) == (size_t)n)
		b->len = (size_t)n;
	fclose(f);
	return b->len > 0;
}

static bool run(const char *cmd)
{
	int ret = system(cmd);

	if (ret != 0)
		fprintf(stderr, "command failed (%d): %s\n", ret, cmd);
	return ret == 0;
}

/* An H.264 (or other) stream and its reference decode, made once per name. */
static bool make_stream(const char *name, const char *encode, const char *pix_fmt,
			struct blob *stream, struct blob *ref)
{
	char cmd[1024], path[128], refpath[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	snprintf(refpath, sizeof(refpath), "%s/%s.%s.yuv", tmpdir, name, pix_fmt);
	if (access(path, R_OK) != 0) {
		snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -loglevel error -y %s %s", encode,
			 path);
		if (!run(cmd))
			return false;
	}
	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -nostdin -loglevel error -y -threads 1 -i %s -f rawvideo -pix_fmt %s %s",
		 path, pix_fmt, refpath);
	if (!run(cmd))
		return false;
	return read_file(path, stream) && read_file(refpath, ref);
}

#define H264_G5 "-f lavfi -i testsrc=size=64x48:rate=10 -frames:v 20 -c:v libx264 " \
		"-g 5 -bf 2 -pix_fmt yuv420p -f h264"
#define H264_SMALL "-f lavfi -i testsrc=size=32x32:rate=10 -frames:v 6 -c:v libx264 " \
		   "-g 3 -pix_fmt yuv420p -f h264"
#define H264_BIG "-f lavfi -i testsrc=size=96x64:rate=10 -frames:v 6 -c:v libx264 " \
		 "-g 3 -pix_fmt yuv420p -f h264"

/* Byte offsets of the packets in decode order and of the frames in display order (both
 * as ffprobe sees them), to know which input each picture comes from. */
static unsigned probe_offsets(const char *name, const char *what, long *out, unsigned cap)
{
	char cmd[512], line[128];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "ffprobe -v error -threads 1 -show_entries %s=%s -of csv=p=0 %s/%s", what,
		 strcmp(what, "frame") == 0 ? "pkt_pos" : "pos", tmpdir, name);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p) && n < cap) {
		char *end;
		long v = strtol(line, &end, 10);

		if (end != line)
			out[n++] = v;
	}
	pclose(p);
	return n;
}

/* ---- the fake device ---------------------------------------------------------------------- */

struct pic {
	uint32_t id;
	uint64_t ts;
	uint32_t flags, size;
};

struct out_buf {
	uint8_t *mem;
	size_t len;
	struct iovec segs[2];
	bool queued;
};

struct in_buf {
	uint8_t *mem;
	size_t len;
	struct iovec seg;
	uint64_t ts;
	bool queued;
};

static struct dev {
	const struct backend_ops *ops;
	struct backend *b;
	struct event_loop *loop;
	struct backend_session *s;
	struct in_buf in[MAX_BUFS];
	unsigned nin;
	struct out_buf out[16];
	unsigned nout;
	/* results */
	struct pic pics[MAX_PICS];
	unsigned npics, inputs_done, input_errors, drains, res_changes, errors, callbacks;
	uint8_t *frames; /* picture bytes in the order they came */
	size_t frames_len, frames_cap;
	bool requeue;    /* put picture buffers back as soon as they come */
	bool ack_res;    /* read the OUTPUT params on resolution_changed, as a guest does */
	bool stray;      /* a callback named a buffer that was not queued */
} dv;

static void ev_input_done(void *stream, uint32_t id, bool error)
{
	(void)stream;
	dv.callbacks++;
	if (id >= dv.nin || !dv.in[id].queued) {
		dv.stray = true;
		return;
	}
	dv.in[id].queued = false;
	dv.inputs_done++;
	dv.input_errors += error;
}

static void queue_out(unsigned i);

static void ev_picture_ready(void *stream, uint32_t id, uint64_t ts, uint32_t flags,
			     uint32_t size)
{
	uint32_t i = id - 1000;

	(void)stream;
	dv.callbacks++;
	if (i >= dv.nout || !dv.out[i].queued) {
		dv.stray = true;
		return;
	}
	dv.out[i].queued = false;
	if (dv.npics < MAX_PICS)
		dv.pics[dv.npics++] = (struct pic){ id, ts, flags, size };
	if (size && size <= dv.out[i].len) {
		if (dv.frames_len + size > dv.frames_cap) {
			size_t cap = (dv.frames_cap + size) * 2;
			uint8_t *m = realloc(dv.frames, cap);

			if (!m) {
				dv.stray = true;
				return;
			}
			dv.frames = m;
			dv.frames_cap = cap;
		}
		memcpy(dv.frames + dv.frames_len, dv.out[i].mem, size);
		dv.frames_len += size;
	}
	if (dv.requeue && !(flags & VV_BUFFER_FLAG_EOS))
		queue_out(i);
}

static void ev_drain_done(void *stream, bool error)
{
	(void)stream;
	dv.callbacks++;
	dv.drains += !error;
	dv.errors += error;
}

static void ev_resolution_changed(void *stream)
{
	(void)stream;
	dv.callbacks++;
	dv.res_changes++;
	if (dv.ack_res) {
		struct vv_stream_params p;

		if (dv.ops->get_params(dv.s, VV_QUEUE_TYPE_OUTPUT, &p) != 0)
			dv.stray = true;
	}
}

static void ev_stream_error(void *stream)
{
	(void)stream;
	dv.callbacks++;
	dv.errors++;
}

static const struct backend_events events = {
	.input_done = ev_input_done,
	.picture_ready = ev_picture_ready,
	.drain_done = ev_drain_done,
	.resolution_changed = ev_resolution_changed,
	.stream_error = ev_stream_error,
};

static bool dev_open(unsigned threads, bool frame_threading)
{
	struct backend_config cfg = { .decode_threads = threads,
				      .frame_threading = frame_threading };

	memset(&dv, 0, sizeof(dv));
	dv.ops = backend_find("ffmpeg");
	dv.loop = ev_loop_new();
	if (!dv.ops || !dv.loop)
		return false;
	return dv.ops->open(&dv.b, &cfg, dv.loop) == 0;
}

static void dev_close(void)
{
	if (dv.s)
		dv.ops->session_free(dv.s);
	if (dv.b)
		dv.ops->close(dv.b);
	if (dv.loop)
		ev_loop_free(dv.loop);
	for (unsigned i = 0; i < dv.nin; i++)
		free(dv.in[i].mem);
	for (unsigned i = 0; i < dv.nout; i++)
		free(dv.out[i].mem);
	free(dv.frames);
	memset(&dv, 0, sizeof(dv));
}

static bool session(uint32_t format, uint32_t pixel, uint32_t w, uint32_t h)
{
	struct vv_stream_params p;

	if (dv.ops->session_new(dv.b, format, &events, &dv, &dv.s) != 0)
		return false;
	if (dv.ops->get_params(dv.s, VV_QUEUE_TYPE_OUTPUT, &p) != 0)
		return false;
	p.format = pixel;
	p.frame_width = w;
	p.frame_height = h;
	return dv.ops->set_params(dv.s, &p) == 0;
}

/* Picture buffers of size bytes, split at an odd offset into two segments. */
static void add_outputs(unsigned n, size_t size)
{
	for (unsigned k = 0; k < n && dv.nout < 16; k++) {
		struct out_buf *o = &dv.out[dv.nout++];
		size_t cut = size / 3 | 1;

		o->mem = malloc(size);
		o->len = size;
		memset(o->mem, 0xEE, size);
		o->segs[0] = (struct iovec){ o->mem, cut };
		o->segs[1] = (struct iovec){ o->mem + cut, size - cut };
	}
}

static void queue_out(unsigned i)
{
	struct backend_buffer b = { .resource_id = 1000 + i, .num_planes = 1 };
	struct out_buf *o = &dv.out[i];

	b.planes[0] = (struct backend_plane){ .segs = o->segs, .nsegs = 2, .len = o->len };
	o->queued = true;
	if (dv.ops->queue_output(dv.s, &b) != 0) {
		o->queued = false;
		dv.stray = true;
	}
}

static void queue_all_outputs(void)
{
	for (unsigned i = 0; i < dv.nout; i++)
		if (!dv.out[i].queued)
			queue_out(i);
}

/* Input i: len bytes of data, timestamp ts. */
static int queue_in(const uint8_t *data, size_t len, uint64_t ts)
{
	struct backend_buffer b = { .resource_id = dv.nin, .num_planes = 1 };
	struct in_buf *in;
	int ret;

	if (dv.nin >= MAX_BUFS)
		return -ENOSPC;
	in = &dv.in[dv.nin];
	in->mem = malloc(len ? len : 1);
	memcpy(in->mem, data, len);
	in->len = len;
	in->seg = (struct iovec){ in->mem, len };
	in->ts = ts;
	b.planes[0] = (struct backend_plane){ .segs = &in->seg, .nsegs = 1, .len = len };
	b.data_sizes[0] = (uint32_t)len;
	b.timestamp = ts;
	in->queued = true;
	dv.nin++;
	ret = dv.ops->queue_input(dv.s, &b);
	if (ret)
		in->queued = false;
	return ret;
}

static void feed_chunks(const struct blob *s, size_t chunk, uint64_t ts0)
{
	for (size_t off = 0, i = 0; off < s->len; off += chunk, i++)
		queue_in(s->data + off, s->len - off < chunk ? s->len - off : chunk, ts0 + i);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Runs the loop until cond() holds or ms pass; true when it held. */
static bool run_loop_until(bool (*cond)(void), unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (!cond()) {
		if (now_ms() >= end)
			return false;
		ev_loop_run_once(dv.loop, 20);
	}
	return true;
}

static void run_loop_for(unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		ev_loop_run_once(dv.loop, 10);
}

static unsigned want_pics, want_inputs, want_res;

static bool have_pics(void)
{
	return dv.npics >= want_pics;
}

static bool have_inputs(void)
{
	return dv.inputs_done >= want_inputs;
}

static bool have_drain(void)
{
	return dv.drains > 0;
}

static bool have_res(void)
{
	return dv.res_changes >= want_res;
}

/* The OUTPUT params after a resolution change; the guest reading them acts on it. */
static size_t picture_bytes(struct vv_stream_params *p)
{
	size_t total = 0;

	if (dv.ops->get_params(dv.s, VV_QUEUE_TYPE_OUTPUT, p) != 0)
		return 0;
	for (unsigned i = 0; i < p->num_planes; i++)
		total += p->plane_formats[i].plane_size;
	return total;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void t_caps(void)
{
	const struct vv_caps *in, *out;
	uint32_t vals[64], num = 64;

	REQUIRE(dev_open(0, true));
	in = dv.ops->caps(dv.b, VV_QUEUE_TYPE_INPUT);
	out = dv.ops->caps(dv.b, VV_QUEUE_TYPE_OUTPUT);
	REQUIRE(in && out);
	/* Debian's libavcodec has all six decoders. */
	CHECK_EQ(in->num_descs, 6);
	CHECK_EQ(out->num_descs, 2);
	CHECK_EQ(out->descs[0].format, VV_FORMAT_NV12);
	CHECK_EQ(out->descs[1].format, VV_FORMAT_YUV420);
	CHECK_EQ(out->descs[0].mask, 0x3f);
	CHECK_EQ(in->descs[0].format, VV_FORMAT_H264);
	CHECK_EQ(in->descs[0].frames[0].width.max, 8192);
	CHECK_EQ(in->descs[0].frames[0].height.max, 4352);
	CHECK_EQ(dv.ops->query_control(dv.b, VV_CONTROL_PROFILE, VV_FORMAT_H264, vals, &num), 0);
	CHECK_EQ(num, 7);
	CHECK_EQ(vals[0], VV_PROFILE_H264_BASELINE);
	num = 64;
	CHECK_EQ(dv.ops->query_control(dv.b, VV_CONTROL_LEVEL, VV_FORMAT_MPEG2, vals, &num),
		 -ENOTSUP);
	CHECK_EQ(dv.ops->query_control(dv.b, VV_CONTROL_PROFILE, VV_FORMAT_FWHT, vals, &num),
		 -EINVAL);
	{
		struct backend_session *s = NULL;

		CHECK_EQ(dv.ops->session_new(dv.b, VV_FORMAT_FWHT, &events, &dv, &s), -ENOTSUP);
		CHECK(s == NULL);
	}
	dev_close();
}

static void t_params(void)
{
	struct vv_stream_params p;

	REQUIRE(dev_open(1, false));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_YUV420, 99, 61));
	REQUIRE(dv.ops->get_params(dv.s, VV_QUEUE_TYPE_OUTPUT, &p) == 0);
	/* The guest's size, clamped to the step; planes follow it. */
	CHECK_EQ(p.frame_width, 98);
	CHECK_EQ(p.frame_height, 60);
	CHECK_EQ(p.num_planes, 3);
	CHECK_EQ(p.plane_formats[0].plane_size, 98 * 60);
	CHECK_EQ(p.plane_formats[1].stride, 49);
	CHECK_EQ(p.plane_formats[2].plane_size, 49 * 30);
	p.format = VV_FORMAT_NV12;
	REQUIRE(dv.ops->set_params(dv.s, &p) == 0);
	REQUIRE(dv.ops->get_params(dv.s, VV_QUEUE_TYPE_OUTPUT, &p) == 0);
	CHECK_EQ(p.num_planes, 2);
	CHECK_EQ(p.plane_formats[1].plane_size, 98 * 30);
	CHECK_EQ(p.plane_formats[1].stride, 98);
	p.format = VV_FORMAT_H264;
	CHECK_EQ(dv.ops->set_params(dv.s, &p), -EINVAL);
	REQUIRE(dv.ops->get_params(dv.s, VV_QUEUE_TYPE_INPUT, &p) == 0);
	CHECK_EQ(p.plane_formats[0].plane_size, 2u << 20);
	CHECK_EQ(p.min_buffers, 2);
	p.format = VV_FORMAT_VP9; /* nothing decoded yet: the format may still change */
	p.plane_formats[0].plane_size = 100;
	CHECK_EQ(dv.ops->set_params(dv.s, &p), 0);
	REQUIRE(dv.ops->get_params(dv.s, VV_QUEUE_TYPE_INPUT, &p) == 0);
	CHECK_EQ(p.format, VV_FORMAT_VP9);
	CHECK_EQ(p.plane_formats[0].plane_size, 4096);
	dev_close();
}

/* One access unit per input: every picture carries the exact u64 of its input, through
 * B-frame reordering and frame threading; pictures are byte-exact. */
static void t_timestamps_exact(void)
{
	struct blob s, ref;
	long pkt_pos[64], frm_pos[64];
	unsigned npkt, nfrm;
	struct vv_stream_params p;
	size_t pic;

	REQUIRE(make_stream("g5.h264", H264_G5, "yuv420p", &s, &ref));
	npkt = probe_offsets("g5.h264", "packet", pkt_pos, 64);
	nfrm = probe_offsets("g5.h264", "frame", frm_pos, 64);
	REQUIRE(npkt == 20 && nfrm == 20);
	REQUIRE(dev_open(2, true));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_YUV420, 64, 48));
	for (unsigned i = 0; i < npkt; i++) {
		size_t end = i + 1 < npkt ? (size_t)pkt_pos[i + 1] : s.len;

		/* High bits set: a value that survives no int64/double round trip. */
		CHECK_EQ(queue_in(s.data + pkt_pos[i], end - (size_t)pkt_pos[i],
				  0xFEDCBA9876543000ull + 17 * i), 0);
	}
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 5000));
	pic = picture_bytes(&p);
	CHECK_EQ(p.frame_width, 64);
	CHECK_EQ(p.frame_height, 48);
	CHECK_EQ(p.crop.width, 64);
	CHECK_EQ(pic, 64 * 48 * 3 / 2);
	add_outputs(4, pic);
	dv.requeue = true;
	queue_all_outputs();
	want_inputs = npkt;
	REQUIRE(run_loop_until(have_inputs, 5000));
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	CHECK_EQ(dv.ops->drain(dv.s), -EBUSY);
	REQUIRE(run_loop_until(have_drain, 5000));
	REQUIRE(dv.npics == nfrm + 1);
	for (unsigned j = 0; j < nfrm; j++) {
		unsigned k = 0;

		while (k < npkt && pkt_pos[k] != frm_pos[j])
			k++;
		REQUIRE(k < npkt);
		CHECK_EQ(dv.pics[j].ts, 0xFEDCBA9876543000ull + 17 * k);
		CHECK_EQ(dv.pics[j].size, pic);
		CHECK(!(dv.pics[j].flags & (VV_BUFFER_FLAG_ERR | VV_BUFFER_FLAG_EOS)));
	}
	CHECK_EQ(dv.pics[0].flags, VV_BUFFER_FLAG_IFRAME);
	CHECK_EQ(dv.pics[nfrm].flags, VV_BUFFER_FLAG_EOS);
	CHECK_EQ(dv.pics[nfrm].size, 0);
	CHECK_EQ(dv.frames_len, ref.len);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	CHECK_EQ(dv.input_errors, 0);
	CHECK_EQ(dv.errors, 0);
	CHECK_EQ(dv.res_changes, 1);
	CHECK(!dv.stray);
	{
		uint32_t v = 0;

		CHECK_EQ(dv.ops->get_control(dv.s, VV_CONTROL_PROFILE, &v), 0);
		CHECK_EQ(v, VV_PROFILE_H264_HIGH);
	}
	CHECK(dv.ops->bytes_copied(dv.b) >= s.len + ref.len);
	dev_close();
	free(s.data);
	free(ref.data);
}

/* Arbitrary chunks (1 byte, 7 bytes, 4 KiB), NV12 through swscale, a drain, then the
 * stream again after it. */
static void decode_chunks(size_t chunk, unsigned threads, bool frame_threading)
{
	struct blob s, ref;
	struct vv_stream_params p;
	size_t pic;

	REQUIRE(make_stream("g5.h264", H264_G5, "nv12", &s, &ref));
	REQUIRE(dev_open(threads, frame_threading));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_NV12, 64, 48));
	feed_chunks(&s, chunk, 1);
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 10000));
	pic = picture_bytes(&p);
	REQUIRE(pic == 64 * 48 * 3 / 2);
	add_outputs(3, pic);
	dv.requeue = true;
	queue_all_outputs();
	want_inputs = dv.nin;
	REQUIRE(run_loop_until(have_inputs, 20000));
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	REQUIRE(run_loop_until(have_drain, 5000));
	CHECK_EQ(dv.npics, 21);
	CHECK_EQ(dv.pics[20].flags, VV_BUFFER_FLAG_EOS);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	/* The stream goes on after the drain: the same bytes decode again. */
	dv.drains = 0;
	dv.frames_len = 0;
	queue_all_outputs();
	feed_chunks(&s, chunk, 1000);
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	want_inputs = dv.nin;
	REQUIRE(run_loop_until(have_drain, 20000));
	CHECK_EQ(dv.npics, 42);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	CHECK_EQ(dv.inputs_done, dv.nin);
	CHECK_EQ(dv.errors, 0);
	CHECK_EQ(dv.res_changes, 1);
	CHECK(!dv.stray);
	dev_close();
	free(s.data);
	free(ref.data);
}

static void t_chunks_1_byte(void)
{
	decode_chunks(1, 2, true);
}

static void t_chunks_7_bytes_slice_threads(void)
{
	decode_chunks(7, 2, false);
}

static void t_chunks_4k_auto_threads(void)
{
	decode_chunks(4096, 0, true);
}

/* A drain with nothing decoded completes at once (the guest has no picture buffer before
 * the first format); the next picture buffer comes back with EOS, and the stream goes on. */
static void t_drain_empty(void)
{
	struct blob s, ref;

	REQUIRE(make_stream("g5.h264", H264_G5, "nv12", &s, &ref));
	REQUIRE(dev_open(1, true));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_NV12, 64, 48));
	queue_in(s.data, 10, 1); /* not even a whole parameter set */
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	REQUIRE(run_loop_until(have_drain, 2000));
	CHECK_EQ(dv.npics, 0);
	CHECK_EQ(dv.inputs_done, 1);
	/* Nothing decoded from what the decoder refused: an error event, the stream goes on. */
	CHECK_EQ(dv.errors, 1);
	add_outputs(2, 4608);
	dv.requeue = true;
	dv.ack_res = true;
	queue_all_outputs();
	want_pics = 1;
	REQUIRE(run_loop_until(have_pics, 2000));
	CHECK_EQ(dv.pics[0].flags, VV_BUFFER_FLAG_EOS);
	CHECK_EQ(dv.pics[0].size, 0);
	dv.frames_len = 0;
	feed_chunks(&s, 1000, 10);
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	want_pics = 22;
	REQUIRE(run_loop_until(have_pics, 5000));
	CHECK_EQ(dv.drains, 2);
	CHECK_EQ(dv.errors, 1);
	CHECK_EQ(dv.pics[21].flags, VV_BUFFER_FLAG_EOS);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	CHECK(!dv.stray);
	dev_close();
	free(s.data);
	free(ref.data);
}

/* Two sizes in one stream: the second is reported, the old buffers (queued at the change)
 * are not written until the guest clears them, and no picture is lost. */
static void t_resolution_change(void)
{
	struct blob a, ra, b, rb, s;
	struct vv_stream_params p;
	size_t pic;
	unsigned before;

	REQUIRE(make_stream("small.h264", H264_SMALL, "yuv420p", &a, &ra));
	REQUIRE(make_stream("big.h264", H264_BIG, "yuv420p", &b, &rb));
	s.len = a.len + b.len;
	s.data = malloc(s.len);
	memcpy(s.data, a.data, a.len);
	memcpy(s.data + a.len, b.data, b.len);
	REQUIRE(dev_open(2, true));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_YUV420, 32, 32));
	feed_chunks(&s, 500, 1);
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 5000));
	pic = picture_bytes(&p);
	REQUIRE(pic == 32 * 32 * 3 / 2);
	add_outputs(2, pic);
	dv.requeue = true;
	queue_all_outputs();
	want_res = 2;
	REQUIRE(run_loop_until(have_res, 5000));
	CHECK_EQ(dv.npics, 6);
	pic = picture_bytes(&p);
	CHECK_EQ(p.frame_width, 96);
	CHECK_EQ(p.frame_height, 64);
	CHECK_EQ(pic, 96 * 64 * 3 / 2);
	/* The old buffers are still queued: nothing is written into them. */
	before = dv.npics;
	run_loop_for(200);
	CHECK_EQ(dv.npics, before);
	CHECK_EQ(dv.ops->clear(dv.s, VV_QUEUE_TYPE_OUTPUT), 0);
	for (unsigned i = 0; i < dv.nout; i++)
		dv.out[i].queued = false;
	for (unsigned i = 0; i < dv.nout; i++)
		free(dv.out[i].mem);
	dv.nout = 0;
	add_outputs(3, pic);
	queue_all_outputs();
	want_inputs = dv.nin;
	REQUIRE(run_loop_until(have_inputs, 5000));
	CHECK_EQ(dv.ops->drain(dv.s), 0);
	REQUIRE(run_loop_until(have_drain, 5000));
	CHECK_EQ(dv.npics, 13);
	CHECK_EQ(dv.frames_len, ra.len + rb.len);
	CHECK(dv.frames_len == ra.len + rb.len && memcmp(dv.frames, ra.data, ra.len) == 0 &&
	      memcmp(dv.frames + ra.len, rb.data, rb.len) == 0);
	CHECK_EQ(dv.res_changes, 2);
	CHECK(!dv.stray);
	dev_close();
	free(s.data);
	free(a.data);
	free(ra.data);
	free(b.data);
	free(rb.data);
}

/* A picture buffer too small: back with ERR, the picture waits for the next buffer. */
static void t_small_buffer(void)
{
	struct blob s, ref;
	struct vv_stream_params p;
	size_t pic;

	REQUIRE(make_stream("g5.h264", H264_G5, "yuv420p", &s, &ref));
	REQUIRE(dev_open(1, false));
	REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_YUV420, 64, 48));
	feed_chunks(&s, s.len, 1);
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 5000));
	pic = picture_bytes(&p);
	add_outputs(1, pic - 1);
	add_outputs(1, pic);
	queue_all_outputs();
	want_pics = 2;
	REQUIRE(run_loop_until(have_pics, 5000));
	CHECK_EQ(dv.pics[0].id, 1000);
	CHECK_EQ(dv.pics[0].flags, VV_BUFFER_FLAG_ERR);
	CHECK_EQ(dv.pics[0].size, 0);
	CHECK_EQ(dv.pics[1].id, 1001);
	CHECK_EQ(dv.pics[1].size, pic);
	CHECK(dv.frames_len == pic && memcmp(dv.frames, ref.data, pic) == 0);
	dev_close();
	free(s.data);
	free(ref.data);
}

/* clear and session_free mid-stream: once they return, no callback names a buffer of the
 * cleared queue, and after session_free none comes at all. Repeated at different points
 * to catch the worker at different steps. */
static void t_clear_and_free_midstream(void)
{
	struct blob s, ref;
	size_t pic = 64 * 48 * 3 / 2;

	REQUIRE(make_stream("g5.h264", H264_G5, "yuv420p", &s, &ref));
	for (unsigned round = 0; round < 12; round++) {
		unsigned first_out, cb;

		REQUIRE(dev_open(2, round % 2 == 0));
		REQUIRE(session(VV_FORMAT_H264, VV_FORMAT_YUV420, 64, 48));
		add_outputs(4, pic);
		dv.requeue = true;
		dv.ack_res = true;
		queue_all_outputs();
		feed_chunks(&s, 64 + round * 40, 1);
		run_loop_for(round * 3);
		/* Seek: the input queue goes, and every buffer of it counts as returned. */
		CHECK_EQ(dv.ops->clear(dv.s, VV_QUEUE_TYPE_INPUT), 0);
		for (unsigned i = 0; i < dv.nin; i++)
			dv.in[i].queued = false;
		run_loop_for(round);
		CHECK_EQ(dv.ops->clear(dv.s, VV_QUEUE_TYPE_OUTPUT), 0);
		for (unsigned i = 0; i < dv.nout; i++)
			dv.out[i].queued = false;
		run_loop_for(30);
		CHECK(!dv.stray); /* a callback for a cleared buffer would be stray */
		/* Again from the start: it decodes. */
		first_out = dv.npics;
		dv.requeue = true;
		queue_all_outputs();
		feed_chunks(&s, 500, 100);
		want_pics = first_out + 2;
		CHECK(run_loop_until(have_pics, 5000));
		/* Free with work queued and the worker busy. */
		feed_chunks(&s, 300, 200);
		cb = dv.callbacks;
		dv.ops->session_free(dv.s);
		dv.s = NULL;
		run_loop_for(30);
		CHECK_EQ(dv.callbacks, cb);
		CHECK_EQ(ev_loop_count(dv.loop), 0);
		CHECK(!dv.stray);
		CHECK_EQ(dv.errors, 0);
		dev_close();
	}
	free(s.data);
	free(ref.data);
}

/* VP8 input: one frame per buffer. Garbage before the first picture is tolerated; after
 * pictures, three undecodable frames in a row put the stream in error, and only it. */
/* Queues the frames of an IVF file (32-byte header, then a 12-byte header per frame: u32 LE
 * size, u64 pts) one per input, timestamps ts0, ts0 + 1, ...; returns how many. */
static unsigned queue_ivf_frames(const struct blob *ivf, uint64_t ts0)
{
	unsigned frames = 0;

	for (size_t off = 32; off + 12 <= ivf->len;) {
		const uint8_t *h = ivf->data + off;
		uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
			     (uint32_t)h[3] << 24;

		if (n > ivf->len - off - 12)
			break;
		queue_in(h + 12, n, ts0 + frames++);
		off += 12 + n;
	}
	return frames;
}

static void t_corrupt_vp8(void)
{
	struct blob ivf, ref;
	uint8_t junk[64];
	struct vv_stream_params p;
	size_t pic;

	REQUIRE(make_stream("v.ivf",
			    "-f lavfi -i testsrc=size=64x48:rate=10 -frames:v 6 -c:v libvpx "
			    "-f ivf", "yuv420p", &ivf, &ref));
	REQUIRE(ivf.len > 32 && memcmp(ivf.data, "DKIF", 4) == 0);
	/* A key frame tag whose start code is wrong: every decoder refuses it. */
	memset(junk, 0x5a, sizeof(junk));
	junk[0] = 0x10;
	junk[3] = 0x00;
	REQUIRE(dev_open(1, true));
	REQUIRE(session(VV_FORMAT_VP8, VV_FORMAT_YUV420, 64, 48));
	for (unsigned i = 0; i < 5; i++)
		queue_in(junk, sizeof(junk), 50 + i);
	REQUIRE(queue_ivf_frames(&ivf, 100) == 6);
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 5000));
	pic = picture_bytes(&p);
	add_outputs(2, pic);
	dv.requeue = true;
	queue_all_outputs();
	want_pics = 6;
	REQUIRE(run_loop_until(have_pics, 5000));
	CHECK_EQ(dv.errors, 0);
	CHECK_EQ(dv.pics[0].ts, 100);
	CHECK_EQ(dv.pics[5].ts, 105);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	for (unsigned i = 0; i < 3; i++)
		queue_in(junk, sizeof(junk), 200 + i);
	want_inputs = dv.nin;
	REQUIRE(run_loop_until(have_inputs, 5000));
	run_loop_for(50);
	CHECK_EQ(dv.errors, 1);
	CHECK_EQ(dv.input_errors, 0); /* done once copied into their packet */
	CHECK_EQ(queue_in(junk, sizeof(junk), 300), -EIO);
	CHECK_EQ(dv.ops->drain(dv.s), -EIO);
	CHECK(!dv.stray);
	dev_close();
	free(ivf.data);
	free(ref.data);
}

/* A second stream of the same backend, fed only junk: its own counters. */
static struct {
	unsigned inputs, drains, errors, other;
} s2v;

static void s2_input_done(void *stream, uint32_t id, bool error)
{
	(void)stream, (void)id, (void)error;
	s2v.inputs++;
}

static void s2_picture_ready(void *stream, uint32_t id, uint64_t ts, uint32_t flags,
			     uint32_t size)
{
	(void)stream, (void)id, (void)ts, (void)flags, (void)size;
	s2v.other++;
}

static void s2_drain_done(void *stream, bool error)
{
	(void)stream;
	if (error)
		s2v.other++;
	else
		s2v.drains++;
}

static void s2_resolution_changed(void *stream)
{
	(void)stream;
	s2v.other++;
}

static void s2_stream_error(void *stream)
{
	(void)stream;
	s2v.errors++;
}

static const struct backend_events s2_events = {
	.input_done = s2_input_done,
	.picture_ready = s2_picture_ready,
	.drain_done = s2_drain_done,
	.resolution_changed = s2_resolution_changed,
	.stream_error = s2_stream_error,
};

static bool s2_error_and_drain(void)
{
	return s2v.errors >= 1 && s2v.drains >= 1;
}

/* Junk on one stream is an ERROR event for that stream only: another stream of the same
 * backend, decoding at the same time, gets no event and decodes byte-exact. */
static void t_error_stays_in_its_stream(void)
{
	static uint8_t junk[64];
	struct iovec junk_seg = { junk, sizeof(junk) };
	struct backend_session *s2 = NULL;
	struct blob ivf, ref;
	struct vv_stream_params p;
	size_t pic;

	REQUIRE(make_stream("v2.ivf",
			    "-f lavfi -i testsrc=size=64x48:rate=10 -frames:v 6 -c:v libvpx "
			    "-f ivf", "yuv420p", &ivf, &ref));
	REQUIRE(ivf.len > 32 && memcmp(ivf.data, "DKIF", 4) == 0);
	memset(junk, 0x5a, sizeof(junk));
	junk[0] = 0x10; /* a key frame tag with a wrong start code */
	junk[3] = 0x00;
	memset(&s2v, 0, sizeof(s2v));
	REQUIRE(dev_open(1, true));
	REQUIRE(session(VV_FORMAT_VP8, VV_FORMAT_YUV420, 64, 48));
	REQUIRE(dv.ops->session_new(dv.b, VV_FORMAT_VP8, &s2_events, &s2v, &s2) == 0);
	for (uint32_t i = 0; i < 3; i++) {
		struct backend_buffer b = { .resource_id = i, .num_planes = 1,
					    .data_sizes = { sizeof(junk) }, .timestamp = i };

		b.planes[0] = (struct backend_plane){ .segs = &junk_seg, .nsegs = 1,
						      .len = sizeof(junk) };
		CHECK_EQ(dv.ops->queue_input(s2, &b), 0);
	}
	CHECK_EQ(dv.ops->drain(s2), 0);
	REQUIRE(queue_ivf_frames(&ivf, 100) == 6);
	want_res = 1;
	REQUIRE(run_loop_until(have_res, 5000));
	pic = picture_bytes(&p);
	add_outputs(2, pic);
	dv.requeue = true;
	queue_all_outputs();
	want_pics = 6;
	REQUIRE(run_loop_until(have_pics, 5000));
	REQUIRE(run_loop_until(s2_error_and_drain, 5000));
	CHECK_EQ(s2v.errors, 1);
	CHECK_EQ(s2v.drains, 1);
	CHECK_EQ(s2v.inputs, 3);
	CHECK_EQ(s2v.other, 0);
	CHECK_EQ(dv.errors, 0);
	CHECK(dv.frames_len == ref.len && memcmp(dv.frames, ref.data, ref.len) == 0);
	CHECK(!dv.stray);
	dv.ops->session_free(s2);
	dev_close();
	free(ivf.data);
	free(ref.data);
}

int main(void)
{
	test_begin("unit_ffmpeg_dec");
	if (system("ffmpeg -version >/dev/null 2>&1") != 0 ||
	    system("ffprobe -version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "the ffmpeg and ffprobe programs are needed (scripts/deps.sh "
				"installs them)\n");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vuv-ffmpeg-dec-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(t_caps);
	RUN_TEST(t_params);
	RUN_TEST(t_timestamps_exact);
	RUN_TEST(t_chunks_1_byte);
	RUN_TEST(t_chunks_7_bytes_slice_threads);
	RUN_TEST(t_chunks_4k_auto_threads);
	RUN_TEST(t_drain_empty);
	RUN_TEST(t_resolution_change);
	RUN_TEST(t_small_buffer);
	RUN_TEST(t_clear_and_free_midstream);
	RUN_TEST(t_corrupt_vp8);
	RUN_TEST(t_error_stays_in_its_stream);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return test_summary();
}
