/* vuf_video: the virtio-video guest-driver model (see vuf_video.h). Commands
 * are built byte by byte in little-endian; responses are copied out of guest
 * RAM once by the ring layer (req->resp) and every field is read from that
 * copy after its length has been checked. */
#include "vuf_video.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- little-endian helpers ------------------------------------------------ */

static void wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void wr64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
}

/* ---- names ------------------------------------------------------------------ */

struct format_name {
	uint32_t format;
	const char *name, *fourcc;
};

static const struct format_name format_names[] = {
	{ VV_FORMAT_ARGB8888, "ARGB8888", "AR24" },
	{ VV_FORMAT_BGRA8888, "BGRA8888", "BA24" },
	{ VV_FORMAT_NV12, "NV12", "NV12" },
	{ VV_FORMAT_YUV420, "YUV420", "YU12" },
	{ VV_FORMAT_YVU420, "YVU420", "YV12" },
	{ VV_FORMAT_MPEG2, "MPEG2", "MPG2" },
	{ VV_FORMAT_MPEG4, "MPEG4", "MPG4" },
	{ VV_FORMAT_H264, "H264", "H264" },
	{ VV_FORMAT_HEVC, "HEVC", "HEVC" },
	{ VV_FORMAT_VP8, "VP8", "VP80" },
	{ VV_FORMAT_VP9, "VP9", "VP90" },
	{ VV_FORMAT_FWHT, "FWHT", "FWHT" },
};

const char *vuf_video_format_name(uint32_t format)
{
	for (size_t i = 0; i < ARRAY_SIZE(format_names); i++)
		if (format_names[i].format == format)
			return format_names[i].name;
	return NULL;
}

const char *vuf_video_format_fourcc(uint32_t format)
{
	for (size_t i = 0; i < ARRAY_SIZE(format_names); i++)
		if (format_names[i].format == format)
			return format_names[i].fourcc;
	return NULL;
}

const char *vuf_video_resp_name(uint32_t type)
{
	switch (type) {
	case VV_RESP_OK_NODATA: return "OK_NODATA";
	case VV_RESP_OK_QUERY_CAPABILITY: return "OK_QUERY_CAPABILITY";
	case VV_RESP_OK_RESOURCE_QUEUE: return "OK_RESOURCE_QUEUE";
	case VV_RESP_OK_GET_PARAMS: return "OK_GET_PARAMS";
	case VV_RESP_OK_QUERY_CONTROL: return "OK_QUERY_CONTROL";
	case VV_RESP_OK_GET_CONTROL: return "OK_GET_CONTROL";
	case VV_RESP_ERR_INVALID_OPERATION: return "ERR_INVALID_OPERATION";
	case VV_RESP_ERR_OUT_OF_MEMORY: return "ERR_OUT_OF_MEMORY";
	case VV_RESP_ERR_INVALID_STREAM_ID: return "ERR_INVALID_STREAM_ID";
	case VV_RESP_ERR_INVALID_RESOURCE_ID: return "ERR_INVALID_RESOURCE_ID";
	case VV_RESP_ERR_INVALID_PARAMETER: return "ERR_INVALID_PARAMETER";
	case VV_RESP_ERR_UNSUPPORTED_CONTROL: return "ERR_UNSUPPORTED_CONTROL";
	default: return "?";
	}
}

static bool resp_is_error(uint32_t type)
{
	return type >= VV_RESP_ERR_INVALID_OPERATION && type <= VV_RESP_ERR_UNSUPPORTED_CONTROL;
}

/* ---- capabilities ---------------------------------------------------------- */

void vuf_video_caps_free(struct vuf_video_caps *caps)
{
	if (!caps)
		return;
	for (uint32_t i = 0; caps->formats && i < caps->num_formats; i++) {
		struct vuf_video_format *fmt = &caps->formats[i];

		for (uint32_t k = 0; fmt->frames && k < fmt->num_frames; k++)
			free(fmt->frames[k].rates);
		free(fmt->frames);
	}
	free(caps->formats);
	memset(caps, 0, sizeof(*caps));
}

static void read_range(const uint8_t *p, struct vuf_video_range *r)
{
	r->min = rd32(p + offsetof(struct vv_format_range, min));
	r->max = rd32(p + offsetof(struct vv_format_range, max));
	r->step = rd32(p + offsetof(struct vv_format_range, step));
}

int vuf_video_parse_caps(const void *buf, size_t len, struct vuf_video_caps *caps)
{
	const uint8_t *p = buf;
	size_t off = sizeof(struct vv_resp_query_capability);
	uint32_t num;

	memset(caps, 0, sizeof(*caps));
	if (!buf || len < off)
		return -EPROTO;
	num = rd32(p + offsetof(struct vv_resp_query_capability, num_descs));
	/* Every descriptor needs 24 bytes: a count the bytes cannot hold is a lie. */
	if (num > VV_MAX_FORMAT_DESCS || num > (len - off) / sizeof(struct vv_format_desc))
		return -EPROTO;
	if (num == 0)
		return 0;
	caps->formats = calloc(num, sizeof(*caps->formats));
	if (!caps->formats)
		return -ENOMEM;
	caps->num_formats = num;

	for (uint32_t i = 0; i < num; i++) {
		struct vuf_video_format *fmt = &caps->formats[i];
		const uint8_t *d;
		uint32_t nframes;

		if (len - off < sizeof(struct vv_format_desc))
			goto malformed;
		d = p + off;
		fmt->mask = rd64(d + offsetof(struct vv_format_desc, mask));
		fmt->format = rd32(d + offsetof(struct vv_format_desc, format));
		fmt->planes_layout = rd32(d + offsetof(struct vv_format_desc, planes_layout));
		fmt->plane_align = rd32(d + offsetof(struct vv_format_desc, plane_align));
		nframes = rd32(d + offsetof(struct vv_format_desc, num_frames));
		off += sizeof(struct vv_format_desc);
		if (nframes > (len - off) / sizeof(struct vv_format_frame))
			goto malformed;
		if (nframes == 0)
			continue;
		fmt->frames = calloc(nframes, sizeof(*fmt->frames));
		if (!fmt->frames)
			goto nomem;
		fmt->num_frames = nframes;

		for (uint32_t k = 0; k < nframes; k++) {
			struct vuf_video_frame *fr = &fmt->frames[k];
			const uint8_t *q;
			uint32_t nrates;

			if (len - off < sizeof(struct vv_format_frame))
				goto malformed;
			q = p + off;
			read_range(q + offsetof(struct vv_format_frame, width), &fr->width);
			read_range(q + offsetof(struct vv_format_frame, height), &fr->height);
			nrates = rd32(q + offsetof(struct vv_format_frame, num_rates));
			off += sizeof(struct vv_format_frame);
			if (nrates > (len - off) / sizeof(struct vv_format_range))
				goto malformed;
			if (nrates == 0)
				continue;
			fr->rates = calloc(nrates, sizeof(*fr->rates));
			if (!fr->rates)
				goto nomem;
			fr->num_rates = nrates;
			for (uint32_t r = 0; r < nrates; r++) {
				read_range(p + off, &fr->rates[r]);
				off += sizeof(struct vv_format_range);
			}
		}
	}
	return 0;

malformed:
	vuf_video_caps_free(caps);
	return -EPROTO;
nomem:
	vuf_video_caps_free(caps);
	return -ENOMEM;
}

/* ---- completions ------------------------------------------------------------ */

/* Reads the response of r out of its private copy: the header must echo the
 * stream and be the expected OK type (with all its bytes) or a known error. */
static void parse_response(struct vuf_video_req *r)
{
	const uint8_t *p = r->vreq.resp;
	uint32_t used = r->vreq.used_len;
	uint32_t type;

	r->done = true;
	r->resp_type = 0;
	/* A device claiming more bytes than the buffer holds is not believed at all. */
	if (!p || used < sizeof(struct vv_resp_hdr) || used > r->vreq.resp_cap) {
		r->status = -EPROTO;
		return;
	}
	type = rd32(p + offsetof(struct vv_resp_hdr, type));
	r->resp_type = type;
	if (rd32(p + offsetof(struct vv_resp_hdr, stream_id)) != r->stream_id) {
		r->status = -EPROTO;
		return;
	}
	if (resp_is_error(type)) {
		r->status = (int)type;
		return;
	}
	if (type != r->expect_type || used < r->expect_len) {
		r->status = -EPROTO;
		return;
	}
	r->status = 0;
	if (type == VV_RESP_OK_RESOURCE_QUEUE) {
		r->timestamp = rd64(p + offsetof(struct vv_resp_resource_queue, timestamp));
		r->flags = rd32(p + offsetof(struct vv_resp_resource_queue, flags));
		r->size = rd32(p + offsetof(struct vv_resp_resource_queue, size));
	}
}

static void cmd_complete(struct vuf_vq *vq, struct vuf_req *vreq)
{
	struct vuf_video_req *r = vreq->cookie;
	struct vuf_video *v;

	(void)vq;
	if (!r || !r->owner)
		return;
	v = r->owner;
	parse_response(r);
	if (r->sync || r->orphan)
		return; /* the waiter parses the body itself; orphans are freed at fini */
	vuf_req_fini(&r->vreq);
	r->next = NULL;
	if (v->done_tail)
		v->done_tail->next = r;
	else
		v->done_head = r;
	v->done_tail = r;
}

static int post_event_buf(struct vuf_video *v, struct vuf_video_evbuf *eb)
{
	int ret;

	memset(&eb->vreq, 0, sizeof(eb->vreq));
	eb->vreq.cookie = eb;
	eb->owner = v;
	ret = vuf_vq_add(&v->f->vq[VV_QUEUE_EVENT], &eb->vreq, NULL, 0, sizeof(struct vv_event),
			 v->layout);
	if (ret)
		return ret;
	eb->posted = true;
	v->ev_posted++;
	v->ev_need_kick = true;
	return 0;
}

/* Keeps as many buffers posted as the event FIFO can still take, so a device
 * that sends a burst never finds the FIFO full. */
static int repost_events(struct vuf_video *v)
{
	for (unsigned i = 0; i < VUF_VIDEO_EVENT_BUFS; i++) {
		struct vuf_video_evbuf *eb = &v->evbufs[i];
		int ret;

		if (eb->posted)
			continue;
		if (v->ev_posted + v->ev_count >= VUF_VIDEO_EVENT_FIFO)
			break;
		ret = post_event_buf(v, eb);
		if (ret)
			return ret;
	}
	return 0;
}

static void event_complete(struct vuf_vq *vq, struct vuf_req *vreq)
{
	struct vuf_video_evbuf *eb = vreq->cookie;
	struct vuf_video *v;

	(void)vq;
	if (!eb || !eb->owner)
		return;
	v = eb->owner;
	eb->posted = false;
	v->ev_posted--;
	if (vreq->resp && vreq->used_len >= sizeof(struct vv_event) &&
	    vreq->used_len <= vreq->resp_cap && v->ev_count < VUF_VIDEO_EVENT_FIFO) {
		struct vuf_video_event *ev =
			&v->evq[(v->ev_head + v->ev_count) % VUF_VIDEO_EVENT_FIFO];

		ev->type = rd32(vreq->resp + offsetof(struct vv_event, event_type));
		ev->stream_id = rd32(vreq->resp + offsetof(struct vv_event, stream_id));
		v->ev_count++;
		v->events_received++;
	} else {
		v->bad_events++;
	}
	vuf_req_fini(vreq);
	/* Re-posting from inside the reap is allowed; the kick follows the reap. */
	if (repost_events(v) < 0)
		v->bad_events++;
}

/* ---- waiting ------------------------------------------------------------------ */

static int go_dead(struct vuf_video *v, int err)
{
	if (!v->dead)
		v->dead = err;
	return err;
}

/* Collects completions of both rings: events first, so an event the device
 * sent before a completion is seen before it. */
static int process(struct vuf_video *v)
{
	int ret;

	if (v->dead)
		return v->dead;
	ret = vuf_vq_reap(&v->f->vq[VV_QUEUE_EVENT]);
	if (ret < 0)
		return go_dead(v, ret);
	ret = vuf_vq_reap(&v->f->vq[VV_QUEUE_COMMAND]);
	if (ret < 0)
		return go_dead(v, ret);
	if (v->ev_need_kick) {
		v->ev_need_kick = false;
		ret = vuf_vq_kick(&v->f->vq[VV_QUEUE_EVENT]);
		if (ret < 0)
			return go_dead(v, ret);
	}
	return 0;
}

static void drain_eventfd(struct vuf_vq *vq)
{
	uint64_t count;

	if (read(vq->call_fd, &count, sizeof(count)) == sizeof(count))
		vq->calls += count;
}

/* Sleeps until either ring interrupts, the back-end hangs up, or deadline.
 * 0, -ETIMEDOUT, -ECONNRESET or -errno. */
static int wait_activity(struct vuf_video *v, int64_t deadline)
{
	struct vuf *f = v->f;
	struct pollfd pfd[3] = {
		{ .fd = f->vq[VV_QUEUE_COMMAND].call_fd, .events = POLLIN },
		{ .fd = f->vq[VV_QUEUE_EVENT].call_fd, .events = POLLIN },
		{ .fd = f->sock, .events = POLLIN | POLLRDHUP },
	};
	int r;

	for (;;) {
		int timeout = -1;

		if (deadline != INT64_MAX) {
			int64_t left = deadline - now_ms();

			timeout = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(pfd, ARRAY_SIZE(pfd), timeout);
		if (r > 0)
			break;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	if (pfd[2].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))
		return go_dead(v, -ECONNRESET);
	if (pfd[2].revents & POLLIN) {
		char c;
		ssize_t n = recv(f->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n == 0)
			return go_dead(v, -ECONNRESET);
		if (n > 0) {
			/* Nothing is due on this socket now: read and drop the message so
			 * poll does not spin on it. */
			struct vu_msg_hdr hdr;
			static uint8_t junk[4096];

			if (vuf_recv(f, &hdr, junk, sizeof(junk)) < 0)
				return go_dead(v, -ECONNRESET);
		}
	}
	if (pfd[0].revents & POLLIN)
		drain_eventfd(&f->vq[VV_QUEUE_COMMAND]);
	if (pfd[1].revents & POLLIN)
		drain_eventfd(&f->vq[VV_QUEUE_EVENT]);
	return 0;
}

int vuf_video_poll(struct vuf_video *v)
{
	return process(v);
}

int vuf_video_wait(struct vuf_video *v, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms < 0 ? v->timeout_ms : timeout_ms);

	for (;;) {
		int ret = process(v);

		if (ret)
			return ret;
		if (v->ev_count || v->done_head)
			return 0;
		ret = wait_activity(v, deadline);
		if (ret)
			return ret;
	}
}

bool vuf_video_has_event(const struct vuf_video *v, uint32_t type, uint32_t stream_id)
{
	for (unsigned i = 0; i < v->ev_count; i++) {
		const struct vuf_video_event *ev = &v->evq[(v->ev_head + i) % VUF_VIDEO_EVENT_FIFO];

		if (ev->type == type && ev->stream_id == stream_id)
			return true;
	}
	return false;
}

bool vuf_video_next_event(struct vuf_video *v, struct vuf_video_event *ev)
{
	if (!v->ev_count)
		return false;
	*ev = v->evq[v->ev_head];
	v->ev_head = (v->ev_head + 1) % VUF_VIDEO_EVENT_FIFO;
	v->ev_count--;
	/* Room again: the buffers held back by a full FIFO can go out. */
	if (!v->dead && repost_events(v) == 0 && v->ev_need_kick) {
		v->ev_need_kick = false;
		if (vuf_vq_kick(&v->f->vq[VV_QUEUE_EVENT]) < 0)
			go_dead(v, -EIO);
	}
	return true;
}

struct vuf_video_req *vuf_video_next_done(struct vuf_video *v)
{
	struct vuf_video_req *r = v->done_head;

	if (r) {
		v->done_head = r->next;
		if (!v->done_head)
			v->done_tail = NULL;
		r->next = NULL;
	}
	return r;
}

/* ---- set-up ------------------------------------------------------------------- */

int vuf_video_init(struct vuf_video *v, struct vuf *f)
{
	uint8_t cfg[VV_CONFIG_SIZE];
	uint32_t version, caps_len, resp_len;
	int ret;

	memset(v, 0, sizeof(*v));
	v->f = f;
	v->layout = VUF_LAYOUT_SINGLE;
	v->timeout_ms = VUF_VIDEO_DEFAULT_TIMEOUT_MS;
	if (!f || f->sock < 0 || !f->vq[VV_QUEUE_COMMAND].ram || !f->vq[VV_QUEUE_EVENT].ram)
		return -EINVAL;
	/* The guest driver refuses to probe a device it cannot give guest pages to. */
	if (!(f->acked_features & (1ull << VV_F_RESOURCE_GUEST_PAGES)))
		return -ENOTSUP;

	/* The 6.1-based guest reads 44 bytes; a device with the spec's 12 is fine too. */
	memset(cfg, 0, sizeof(cfg));
	ret = vuf_get_config(f, 0, cfg, VV_CONFIG_SIZE);
	if (ret == -EIO || ret == -EPROTO) {
		memset(cfg, 0, sizeof(cfg));
		ret = vuf_get_config(f, 0, cfg, VV_CONFIG_SPEC_SIZE);
	}
	if (ret)
		return ret;
	version = rd32(cfg + offsetof(struct vv_config, version));
	caps_len = rd32(cfg + offsetof(struct vv_config, max_caps_length));
	resp_len = rd32(cfg + offsetof(struct vv_config, max_resp_length));
	if (version != 0 || caps_len == 0 || resp_len == 0)
		return -EPROTO;
	v->max_caps_length = caps_len < VUF_VIDEO_MAX_CAPS_LENGTH ? caps_len
								 : VUF_VIDEO_MAX_CAPS_LENGTH;
	v->max_resp_length = resp_len < VUF_VIDEO_MAX_CAPS_LENGTH ? resp_len
								  : VUF_VIDEO_MAX_CAPS_LENGTH;
	for (size_t i = 0; i < VV_DEVICE_NAME_SIZE; i++) {
		uint8_t c = cfg[offsetof(struct vv_config, device_name) + i];

		if (c == 0)
			break;
		v->device_name[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}

	f->vq[VV_QUEUE_COMMAND].on_complete = cmd_complete;
	f->vq[VV_QUEUE_EVENT].on_complete = event_complete;
	ret = repost_events(v);
	if (ret)
		return ret;
	return process(v);
}

void vuf_video_fini(struct vuf_video *v)
{
	struct vuf_video_req *r = v->orphans;

	while (r) {
		struct vuf_video_req *next = r->next;

		vuf_req_fini(&r->vreq);
		free(r);
		r = next;
	}
	v->orphans = NULL;
	for (unsigned i = 0; i < VUF_VIDEO_EVENT_BUFS; i++)
		vuf_req_fini(&v->evbufs[i].vreq);
	v->done_head = v->done_tail = NULL;
}

/* ---- submitting commands ----------------------------------------------------------- */

static size_t div_round_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
}

/* Queues r's chain and kicks. SPLIT/INDIRECT pieces grow past split_piece when
 * a long command or response would need more than VUF_VIDEO_MAX_CHAIN_DESCS
 * descriptors. A full ring is waited out until deadline. */
static int submit(struct vuf_video *v, struct vuf_video_req *r, const struct iovec *iov,
		  unsigned iovcnt, size_t resp_cap, int64_t deadline)
{
	struct vuf_vq *vq = &v->f->vq[VV_QUEUE_COMMAND];
	size_t saved_piece = vq->split_piece, out_len = 0, piece, half;
	int ret;

	if (v->dead)
		return v->dead;
	for (unsigned i = 0; i < iovcnt; i++)
		out_len += iov[i].iov_len;
	half = VUF_VIDEO_MAX_CHAIN_DESCS / 2;
	if (half > vq->num / 4)
		half = vq->num / 4 ? vq->num / 4 : 1;
	piece = saved_piece ? saved_piece : VUF_DEFAULT_SPLIT_PIECE;
	if (div_round_up(out_len, piece) > half)
		piece = div_round_up(out_len, half);
	if (div_round_up(resp_cap, piece) > half)
		piece = div_round_up(resp_cap, half);

	memset(&r->vreq, 0, sizeof(r->vreq));
	r->vreq.cookie = r;
	r->owner = v;
	r->done = false;
	for (;;) {
		vq->split_piece = piece;
		ret = vuf_vq_addv(vq, &r->vreq, iov, iovcnt, resp_cap, v->layout);
		vq->split_piece = saved_piece;
		if (ret != -ENOSPC)
			break;
		/* Descriptors come back only as the device answers. */
		unsigned before = vq->num_free;

		ret = process(v);
		if (ret)
			return ret;
		if (vq->num_free > before)
			continue;
		ret = wait_activity(v, deadline);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	v->commands++;
	ret = vuf_vq_kick(vq);
	return ret < 0 ? go_dead(v, ret) : 0;
}

static void req_prepare(struct vuf_video_req *r, uint32_t cmd_type, uint32_t stream_id,
			uint32_t expect_type, uint32_t expect_len)
{
	void *cookie = r->cookie;

	memset(r, 0, sizeof(*r));
	r->cookie = cookie;
	r->cmd_type = cmd_type;
	r->stream_id = stream_id;
	r->expect_type = expect_type;
	r->expect_len = expect_len;
}

static void sync_req_free(struct vuf_video_req *r)
{
	if (r) {
		vuf_req_fini(&r->vreq);
		free(r);
	}
}

/* Sends a command and waits for its answer. On success *out is the finished
 * request (free with sync_req_free) and the return value its status. A
 * request that gets no answer stays with the ring: it is parked as an orphan
 * and the model goes dead. */
static int sync_cmd(struct vuf_video *v, const struct iovec *iov, unsigned iovcnt,
		    uint32_t cmd_type, uint32_t stream_id, uint32_t expect_type,
		    uint32_t expect_len, size_t resp_cap, struct vuf_video_req **out)
{
	int64_t deadline = deadline_after(v->timeout_ms);
	struct vuf_video_req *r;
	int ret;

	if (out)
		*out = NULL;
	if (v->dead)
		return v->dead;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	req_prepare(r, cmd_type, stream_id, expect_type, expect_len);
	r->sync = true;
	ret = submit(v, r, iov, iovcnt, resp_cap, deadline);
	if (ret) {
		free(r);
		return ret;
	}
	while (!r->done) {
		ret = process(v);
		if (ret || r->done)
			break;
		ret = wait_activity(v, deadline);
		if (ret)
			break;
	}
	if (!r->done) {
		r->sync = false;
		r->orphan = true;
		r->next = v->orphans;
		v->orphans = r;
		return go_dead(v, ret ? ret : -EIO);
	}
	ret = r->status;
	if (out)
		*out = r;
	else
		sync_req_free(r);
	return ret;
}

static int simple_cmd(struct vuf_video *v, const uint8_t *cmd, size_t len)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)cmd, .iov_len = len };

	return sync_cmd(v, &iov, 1, rd32(cmd), rd32(cmd + 4), VV_RESP_OK_NODATA,
			sizeof(struct vv_resp_hdr), sizeof(struct vv_resp_hdr), NULL);
}

static void put_hdr(uint8_t *cmd, uint32_t type, uint32_t stream_id)
{
	wr32(cmd + offsetof(struct vv_cmd_hdr, type), type);
	wr32(cmd + offsetof(struct vv_cmd_hdr, stream_id), stream_id);
}

static bool queue_type_valid(uint32_t queue_type)
{
	return queue_type == VV_QUEUE_TYPE_INPUT || queue_type == VV_QUEUE_TYPE_OUTPUT;
}

/* ---- commands ------------------------------------------------------------------ */

int vuf_video_query_caps(struct vuf_video *v, uint32_t queue_type, struct vuf_video_caps *caps)
{
	uint8_t cmd[sizeof(struct vv_query_capability)] = { 0 };
	struct iovec iov = { .iov_base = cmd, .iov_len = sizeof(cmd) };
	struct vuf_video_req *r;
	int ret;

	memset(caps, 0, sizeof(*caps));
	put_hdr(cmd, VV_CMD_QUERY_CAPABILITY, 0);
	wr32(cmd + offsetof(struct vv_query_capability, queue_type), queue_type);
	ret = sync_cmd(v, &iov, 1, VV_CMD_QUERY_CAPABILITY, 0, VV_RESP_OK_QUERY_CAPABILITY,
		       sizeof(struct vv_resp_query_capability), v->max_caps_length, &r);
	if (ret == 0) {
		ret = vuf_video_parse_caps(r->vreq.resp, r->vreq.used_len, caps);
		caps->queue_type = queue_type;
	}
	sync_req_free(r);
	return ret;
}

int vuf_video_stream_create(struct vuf_video *v, uint32_t stream_id, uint32_t coded_format,
			    const char *tag)
{
	uint8_t cmd[sizeof(struct vv_stream_create)] = { 0 };

	put_hdr(cmd, VV_CMD_STREAM_CREATE, stream_id);
	wr32(cmd + offsetof(struct vv_stream_create, in_mem_type), VV_MEM_TYPE_GUEST_PAGES);
	wr32(cmd + offsetof(struct vv_stream_create, out_mem_type), VV_MEM_TYPE_GUEST_PAGES);
	wr32(cmd + offsetof(struct vv_stream_create, coded_format), coded_format);
	if (tag) {
		size_t n = strnlen(tag, VV_TAG_SIZE - 1);

		memcpy(cmd + offsetof(struct vv_stream_create, tag), tag, n);
	}
	return simple_cmd(v, cmd, sizeof(cmd));
}

int vuf_video_stream_destroy(struct vuf_video *v, uint32_t stream_id)
{
	uint8_t cmd[sizeof(struct vv_stream_destroy)] = { 0 };

	put_hdr(cmd, VV_CMD_STREAM_DESTROY, stream_id);
	return simple_cmd(v, cmd, sizeof(cmd));
}

static int queue_cmd(struct vuf_video *v, uint32_t type, uint32_t stream_id, uint32_t queue_type)
{
	uint8_t cmd[sizeof(struct vv_queue_cmd)] = { 0 };

	if (!queue_type_valid(queue_type))
		return -EINVAL;
	put_hdr(cmd, type, stream_id);
	wr32(cmd + offsetof(struct vv_queue_cmd, queue_type), queue_type);
	return simple_cmd(v, cmd, sizeof(cmd));
}

int vuf_video_queue_clear(struct vuf_video *v, uint32_t stream_id, uint32_t queue_type)
{
	return queue_cmd(v, VV_CMD_QUEUE_CLEAR, stream_id, queue_type);
}

int vuf_video_resource_destroy_all(struct vuf_video *v, uint32_t stream_id, uint32_t queue_type)
{
	return queue_cmd(v, VV_CMD_RESOURCE_DESTROY_ALL, stream_id, queue_type);
}

/* Queues an asynchronous command; its completion lands in the done FIFO. */
static int async_cmd(struct vuf_video *v, struct vuf_video_req *req, const uint8_t *cmd,
		     size_t len, uint32_t expect_type, uint32_t expect_len)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)cmd, .iov_len = len };
	uint32_t queue_type = req->queue_type, resource_id = req->resource_id;
	int ret;

	if (v->dead)
		return v->dead;
	if (req->owner && !req->done)
		return -EBUSY; /* still in flight */
	req_prepare(req, rd32(cmd), rd32(cmd + 4), expect_type, expect_len);
	req->queue_type = queue_type;
	req->resource_id = resource_id;
	ret = submit(v, req, &iov, 1, expect_len, deadline_after(v->timeout_ms));
	if (ret)
		req->owner = NULL;
	return ret;
}

int vuf_video_stream_drain(struct vuf_video *v, uint32_t stream_id, struct vuf_video_req *req)
{
	uint8_t cmd[sizeof(struct vv_stream_drain)] = { 0 };

	if (!req)
		return -EINVAL;
	put_hdr(cmd, VV_CMD_STREAM_DRAIN, stream_id);
	req->queue_type = 0;
	req->resource_id = 0;
	return async_cmd(v, req, cmd, sizeof(cmd), VV_RESP_OK_NODATA, sizeof(struct vv_resp_hdr));
}

/* params <-> bytes (the same 112 bytes in both numberings; _EXT appends 8). */
static void put_params(uint8_t *b, const struct vv_stream_params *p, bool ext)
{
	wr32(b + offsetof(struct vv_params, queue_type), p->queue_type);
	wr32(b + offsetof(struct vv_params, format), p->format);
	wr32(b + offsetof(struct vv_params, frame_width), p->frame_width);
	wr32(b + offsetof(struct vv_params, frame_height), p->frame_height);
	wr32(b + offsetof(struct vv_params, min_buffers), p->min_buffers);
	wr32(b + offsetof(struct vv_params, max_buffers), p->max_buffers);
	wr32(b + offsetof(struct vv_params, crop.left), p->crop.left);
	wr32(b + offsetof(struct vv_params, crop.top), p->crop.top);
	wr32(b + offsetof(struct vv_params, crop.width), p->crop.width);
	wr32(b + offsetof(struct vv_params, crop.height), p->crop.height);
	wr32(b + offsetof(struct vv_params, frame_rate), p->frame_rate);
	wr32(b + offsetof(struct vv_params, num_planes), p->num_planes);
	for (unsigned i = 0; i < VV_MAX_PLANES && i < p->num_planes; i++) {
		uint8_t *pf = b + offsetof(struct vv_params, plane_formats) +
			      i * sizeof(struct vv_plane_format);

		wr32(pf + offsetof(struct vv_plane_format, plane_size),
		     p->plane_formats[i].plane_size);
		wr32(pf + offsetof(struct vv_plane_format, stride), p->plane_formats[i].stride);
	}
	if (ext)
		wr32(b + offsetof(struct vv_params_ext, resource_type), p->resource_type);
}

static void get_params_bytes(const uint8_t *b, struct vv_stream_params *p, bool ext)
{
	memset(p, 0, sizeof(*p));
	p->queue_type = rd32(b + offsetof(struct vv_params, queue_type));
	p->format = rd32(b + offsetof(struct vv_params, format));
	p->frame_width = rd32(b + offsetof(struct vv_params, frame_width));
	p->frame_height = rd32(b + offsetof(struct vv_params, frame_height));
	p->min_buffers = rd32(b + offsetof(struct vv_params, min_buffers));
	p->max_buffers = rd32(b + offsetof(struct vv_params, max_buffers));
	p->crop.left = rd32(b + offsetof(struct vv_params, crop.left));
	p->crop.top = rd32(b + offsetof(struct vv_params, crop.top));
	p->crop.width = rd32(b + offsetof(struct vv_params, crop.width));
	p->crop.height = rd32(b + offsetof(struct vv_params, crop.height));
	p->frame_rate = rd32(b + offsetof(struct vv_params, frame_rate));
	p->num_planes = rd32(b + offsetof(struct vv_params, num_planes));
	/* Slots beyond the count are left zero (num_planes is checked by the caller). */
	for (unsigned i = 0; i < VV_MAX_PLANES && i < p->num_planes; i++) {
		const uint8_t *pf = b + offsetof(struct vv_params, plane_formats) +
				    i * sizeof(struct vv_plane_format);

		p->plane_formats[i].plane_size =
			rd32(pf + offsetof(struct vv_plane_format, plane_size));
		p->plane_formats[i].stride = rd32(pf + offsetof(struct vv_plane_format, stride));
	}
	if (ext)
		p->resource_type = rd32(b + offsetof(struct vv_params_ext, resource_type));
}

int vuf_video_get_params(struct vuf_video *v, uint32_t stream_id, uint32_t queue_type,
			 struct vv_stream_params *p)
{
	bool ext = !v->legacy_params;
	uint8_t cmd[sizeof(struct vv_queue_cmd)] = { 0 };
	struct iovec iov = { .iov_base = cmd, .iov_len = sizeof(cmd) };
	uint32_t type = ext ? VV_CMD_GET_PARAMS_EXT : VV_CMD_GET_PARAMS;
	uint32_t resp_len = ext ? sizeof(struct vv_resp_get_params_ext)
				: sizeof(struct vv_resp_get_params);
	struct vuf_video_req *r;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!queue_type_valid(queue_type))
		return -EINVAL;
	put_hdr(cmd, type, stream_id);
	wr32(cmd + offsetof(struct vv_queue_cmd, queue_type), queue_type);
	ret = sync_cmd(v, &iov, 1, type, stream_id, VV_RESP_OK_GET_PARAMS, resp_len, resp_len, &r);
	if (ret == 0) {
		const uint8_t *b = r->vreq.resp + sizeof(struct vv_resp_hdr);
		uint32_t nplanes = rd32(b + offsetof(struct vv_params, num_planes));

		if (rd32(b + offsetof(struct vv_params, queue_type)) != queue_type ||
		    nplanes > VV_MAX_PLANES)
			ret = -EPROTO;
		else
			get_params_bytes(b, p, ext);
	}
	sync_req_free(r);
	return ret;
}

int vuf_video_set_params(struct vuf_video *v, uint32_t stream_id,
			 const struct vv_stream_params *p)
{
	bool ext = !v->legacy_params;
	uint8_t cmd[sizeof(struct vv_set_params_ext)] = { 0 };
	size_t len = ext ? sizeof(struct vv_set_params_ext) : sizeof(struct vv_set_params);

	if (!queue_type_valid(p->queue_type) || p->num_planes > VV_MAX_PLANES)
		return -EINVAL;
	put_hdr(cmd, ext ? VV_CMD_SET_PARAMS_EXT : VV_CMD_SET_PARAMS, stream_id);
	put_params(cmd + sizeof(struct vv_cmd_hdr), p, ext);
	return simple_cmd(v, cmd, len);
}

/* ---- resources ------------------------------------------------------------------- */

void vuf_video_resource_free(struct vuf_video *v, struct vuf_video_resource *r)
{
	for (unsigned i = 0; i < r->nblocks && i < VV_MAX_PLANES; i++)
		vuf_ram_release(&v->f->ram, r->blocks[i]);
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

/* A small deterministic generator: scattered layouts are reproducible. */
static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* slot[i] = which unit of the block backs entry i. Shuffled, and no entry may
 * start where the previous one ends (that would make them one piece). */
static void scatter_order(unsigned *slot, unsigned n, uint32_t seed)
{
	uint32_t s = seed * 2654435761u + 1;

	if (!s)
		s = 1;
	for (unsigned attempt = 0; attempt < 64; attempt++) {
		bool adjacent = false;

		for (unsigned i = 0; i < n; i++)
			slot[i] = i;
		for (unsigned i = n; i > 1; i--) {
			unsigned j = xorshift32(&s) % i, t = slot[i - 1];

			slot[i - 1] = slot[j];
			slot[j] = t;
		}
		for (unsigned i = 0; i + 1 < n && !adjacent; i++)
			adjacent = slot[i + 1] == slot[i] + 1;
		if (!adjacent)
			return;
	}
	/* Unlucky (always for n == 2): descending order is never adjacent. */
	for (unsigned i = 0; i < n; i++)
		slot[i] = n - 1 - i;
}

int vuf_video_resource_alloc(struct vuf_video *v, struct vuf_video_resource *r,
			     uint32_t queue_type, uint32_t id, uint32_t planes_layout,
			     unsigned num_planes, const uint32_t *plane_size, bool scattered)
{
	uint64_t list_len[VV_MAX_PLANES], total = 0, total_pages = 0, unit = 0;
	unsigned nlists, slots[VV_MAX_MEM_ENTRIES];
	int ret = -ENOMEM;

	memset(r, 0, sizeof(*r));
	if (!queue_type_valid(queue_type) || num_planes == 0 || num_planes > VV_MAX_PLANES ||
	    !plane_size ||
	    (planes_layout != VV_PLANES_LAYOUT_SINGLE_BUFFER &&
	     planes_layout != VV_PLANES_LAYOUT_PER_PLANE))
		return -EINVAL;
	if (scattered && !(v->f->acked_features & (1ull << VV_F_RESOURCE_NON_CONTIG)))
		return -ENOTSUP;
	r->id = id;
	r->queue_type = queue_type;
	r->planes_layout = planes_layout;
	r->num_planes = num_planes;
	r->scattered = scattered;
	for (unsigned p = 0; p < num_planes; p++) {
		if (plane_size[p] == 0)
			return -EINVAL;
		r->plane_size[p] = plane_size[p];
		r->plane_base[p] = total;
		total += plane_size[p];
	}
	/* plane_offsets are 32-bit on the wire. */
	if (total > UINT32_MAX)
		return -EINVAL;
	r->total_len = total;

	if (planes_layout == VV_PLANES_LAYOUT_SINGLE_BUFFER) {
		nlists = 1;
		list_len[0] = total;
		for (unsigned p = 0; p < num_planes; p++)
			r->plane_offsets[p] = (uint32_t)r->plane_base[p];
	} else {
		nlists = num_planes;
		for (unsigned p = 0; p < num_planes; p++)
			list_len[p] = plane_size[p];
	}

	if (scattered) {
		uint64_t grain;

		for (unsigned l = 0; l < nlists; l++)
			total_pages += div_round_up(list_len[l], VUF_PAGE_SIZE);
		/* Each list may end in a partial entry: leave one spare entry per list. */
		grain = div_round_up(total_pages, VV_MAX_MEM_ENTRIES - VV_MAX_PLANES);
		unit = (grain ? grain : 1) * VUF_PAGE_SIZE;
		for (unsigned l = 0; l < nlists; l++)
			r->nentries += div_round_up(list_len[l], unit);
	} else {
		r->nentries = nlists;
	}
	r->entries = calloc(r->nentries, sizeof(*r->entries));
	if (!r->entries)
		return -ENOMEM;

	for (unsigned l = 0, e = 0; l < nlists; l++) {
		uint64_t alloc_len = scattered ? div_round_up(list_len[l], unit) * unit
					       : list_len[l];
		uint64_t gpa = vuf_ram_alloc(&v->f->ram, alloc_len, VUF_PAGE_SIZE);
		uint8_t *host;
		unsigned n;

		if (!gpa)
			goto fail;
		r->blocks[r->nblocks++] = gpa;
		host = vuf_ram_ptr(&v->f->ram, gpa, alloc_len);
		if (!host)
			goto fail;
		memset(host, 0, alloc_len);
		if (!scattered) {
			r->entries[e++] = (struct vuf_video_entry){ gpa, (uint32_t)list_len[l] };
			r->num_entries[l] = 1;
			continue;
		}
		n = (unsigned)div_round_up(list_len[l], unit);
		scatter_order(slots, n, id * 131u + l);
		for (unsigned i = 0; i < n; i++) {
			uint64_t left = list_len[l] - (uint64_t)i * unit;

			r->entries[e++] = (struct vuf_video_entry){
				.gpa = gpa + slots[i] * unit,
				.len = (uint32_t)(left < unit ? left : unit),
			};
		}
		r->num_entries[l] = n;
	}
	return 0;

fail:
	vuf_video_resource_free(v, r);
	return ret;
}

int vuf_video_resource_create(struct vuf_video *v, uint32_t stream_id,
			      const struct vuf_video_resource *r)
{
	uint8_t cmd[sizeof(struct vv_resource_create)] = { 0 };
	struct iovec iov[2];
	uint8_t *ents;
	int ret;

	if (!r->entries || r->nentries == 0 || r->nentries > VV_MAX_MEM_ENTRIES)
		return -EINVAL;
	put_hdr(cmd, VV_CMD_RESOURCE_CREATE, stream_id);
	wr32(cmd + offsetof(struct vv_resource_create, queue_type), r->queue_type);
	wr32(cmd + offsetof(struct vv_resource_create, resource_id), r->id);
	wr32(cmd + offsetof(struct vv_resource_create, planes_layout), r->planes_layout);
	wr32(cmd + offsetof(struct vv_resource_create, num_planes), r->num_planes);
	for (unsigned p = 0; p < r->num_planes && p < VV_MAX_PLANES; p++) {
		wr32(cmd + offsetof(struct vv_resource_create, plane_offsets) + 4 * p,
		     r->plane_offsets[p]);
		wr32(cmd + offsetof(struct vv_resource_create, num_entries) + 4 * p,
		     r->num_entries[p]);
	}
	ents = calloc(r->nentries, sizeof(struct vv_mem_entry));
	if (!ents)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nentries; i++) {
		uint8_t *e = ents + i * sizeof(struct vv_mem_entry);

		wr64(e + offsetof(struct vv_mem_entry, addr), r->entries[i].gpa);
		wr32(e + offsetof(struct vv_mem_entry, length), r->entries[i].len);
	}
	iov[0] = (struct iovec){ .iov_base = cmd, .iov_len = sizeof(cmd) };
	iov[1] = (struct iovec){ .iov_base = ents,
				 .iov_len = r->nentries * sizeof(struct vv_mem_entry) };
	ret = sync_cmd(v, iov, 2, VV_CMD_RESOURCE_CREATE, stream_id, VV_RESP_OK_NODATA,
		       sizeof(struct vv_resp_hdr), sizeof(struct vv_resp_hdr), NULL);
	free(ents);
	return ret;
}

/* Copies len bytes at offset off of the entries' concatenation. */
static int resource_copy(struct vuf_video *v, const struct vuf_video_resource *r,
			 unsigned plane, uint64_t off, void *buf, size_t len, bool to_guest)
{
	uint64_t pos, start = 0;
	uint8_t *b = buf;

	if (plane >= r->num_planes || plane >= VV_MAX_PLANES || off > r->plane_size[plane] ||
	    len > r->plane_size[plane] - off || (len && !buf))
		return -EINVAL;
	pos = r->plane_base[plane] + off;
	for (unsigned i = 0; i < r->nentries && len; i++) {
		const struct vuf_video_entry *e = &r->entries[i];
		uint64_t end = start + e->len;

		if (pos < end) {
			uint64_t in = pos - start;
			size_t n = e->len - in < len ? (size_t)(e->len - in) : len;
			int ret = to_guest ? vuf_ram_write(&v->f->ram, e->gpa + in, b, n)
					   : vuf_ram_read(&v->f->ram, e->gpa + in, b, n);

			if (ret)
				return ret;
			b += n;
			pos += n;
			len -= n;
		}
		start = end;
	}
	return len ? -EINVAL : 0;
}

int vuf_video_resource_write(struct vuf_video *v, const struct vuf_video_resource *r,
			     unsigned plane, uint64_t off, const void *src, size_t len)
{
	return resource_copy(v, r, plane, off, (void *)(uintptr_t)src, len, true);
}

int vuf_video_resource_read(struct vuf_video *v, const struct vuf_video_resource *r,
			    unsigned plane, uint64_t off, void *dst, size_t len)
{
	return resource_copy(v, r, plane, off, dst, len, false);
}

int vuf_video_resource_queue(struct vuf_video *v, uint32_t stream_id,
			     const struct vuf_video_resource *r, uint64_t timestamp,
			     const uint32_t *data_sizes, unsigned num_sizes,
			     struct vuf_video_req *req)
{
	uint8_t cmd[sizeof(struct vv_resource_queue)] = { 0 };

	if (!req || num_sizes > VV_MAX_DATA_SIZES || (num_sizes && !data_sizes))
		return -EINVAL;
	put_hdr(cmd, VV_CMD_RESOURCE_QUEUE, stream_id);
	wr32(cmd + offsetof(struct vv_resource_queue, queue_type), r->queue_type);
	wr32(cmd + offsetof(struct vv_resource_queue, resource_id), r->id);
	wr64(cmd + offsetof(struct vv_resource_queue, timestamp), timestamp);
	wr32(cmd + offsetof(struct vv_resource_queue, num_data_sizes), num_sizes);
	for (unsigned i = 0; i < num_sizes; i++)
		wr32(cmd + offsetof(struct vv_resource_queue, data_sizes) + 4 * i, data_sizes[i]);
	req->queue_type = r->queue_type;
	req->resource_id = r->id;
	return async_cmd(v, req, cmd, sizeof(cmd), VV_RESP_OK_RESOURCE_QUEUE,
			 sizeof(struct vv_resp_resource_queue));
}
