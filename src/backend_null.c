/* The null backend: a pretend decoder for developing and testing guest drivers.
 * It opens no file or device; it consumes bitstream buffers without looking at
 * them and writes a deterministic picture for each one.
 *
 * Capabilities: INPUT FWHT and H264, OUTPUT NV12 and YUV420, each pairing with
 * both formats of the other queue, one frame range: width 16..4096 and height
 * 16..2304, both in steps of 2 (4:2:0 chroma halves each dimension, and 1080
 * must be a valid height), frame rates 1..60.
 *
 * Parameters: set_params clamps width and height into those ranges, rounding
 * down to the step; a width or height of 0 on INPUT keeps the current size (a
 * guest that does not know the size yet leaves it to the stream header).
 * Setting an INPUT size also sets the OUTPUT size, as a stream header would,
 * and makes the next input report resolution_changed again. OUTPUT planes are
 * recomputed from the size, stride = row width:
 *   NV12:   Y = h rows of w bytes, UV = h/2 rows of w bytes
 *   YUV420: Y = h rows of w bytes, U and V = h/2 rows of w/2 bytes each
 * The INPUT plane size (bitstream buffer) is 1 MiB unless the guest asks for
 * another one, kept within 4 KiB..64 MiB. Crop is always the whole frame.
 *
 * Decoding is deferred: queue_* and drain append to FIFOs and signal an
 * eventfd; its callback does the work, so nothing is reported from inside a
 * call. The first input of a session (and the first after an INPUT size
 * change) reports resolution_changed before any picture. An input with data
 * is consumed only when an output buffer is free (back-pressure), and makes
 * one picture; an input without data is consumed and makes none.
 *
 * The picture pattern (the client tool and the tests check it): picture n,
 * counting from 0 in the session (one number per input with data, pictures
 * that did not fit included), fills every row r of plane p, the whole stride,
 * with the byte (n + r + 64 * p) & 0xff. An output resource with as many
 * planes as the format gets one picture plane per resource plane; a resource
 * with one plane gets the picture planes packed one after the other. Size =
 * the sum of the plane sizes, timestamp = the input's, flags 0. A buffer too
 * small (or with another plane count) comes back with the ERR flag, size 0.
 *
 * Drain: once every queued input is processed, the next free output buffer
 * comes back empty with the EOS flag (timestamp 0), then drain_done. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend.h"
#include "iov.h"
#include "log.h"
#include "raw_layout.h"

#define NULL_MIN_WIDTH 16u
#define NULL_MAX_WIDTH 4096u
#define NULL_MIN_HEIGHT 16u
#define NULL_MAX_HEIGHT 2304u
#define NULL_SIZE_STEP 2u
#define NULL_MIN_RATE 1u
#define NULL_MAX_RATE 60u

#define NULL_DEFAULT_WIDTH 640u
#define NULL_DEFAULT_HEIGHT 480u
#define NULL_DEFAULT_RATE 30u
#define NULL_DEFAULT_OUTPUT_FORMAT VV_FORMAT_NV12
#define NULL_BITSTREAM_SIZE (1u << 20)
#define NULL_MIN_BITSTREAM_SIZE (4u << 10)
#define NULL_MAX_BITSTREAM_SIZE (64u << 20)
#define NULL_MIN_BUFFERS 2u
#define NULL_MAX_BUFFERS 32u

/* The largest picture (YUV420 or NV12 at the largest size) fits the u32 plane sizes. */
_Static_assert((uint64_t)NULL_MAX_WIDTH * NULL_MAX_HEIGHT * 3 / 2 <= UINT32_MAX,
	       "picture size fits 32 bits");

static const uint32_t h264_profiles[] = {
	VV_PROFILE_H264_BASELINE, VV_PROFILE_H264_MAIN, VV_PROFILE_H264_HIGH,
};

static const uint32_t h264_levels[] = {
	VV_LEVEL_H264_1_0, VV_LEVEL_H264_1_1, VV_LEVEL_H264_1_2, VV_LEVEL_H264_1_3,
	VV_LEVEL_H264_2_0, VV_LEVEL_H264_2_1, VV_LEVEL_H264_2_2, VV_LEVEL_H264_3_0,
	VV_LEVEL_H264_3_1, VV_LEVEL_H264_3_2, VV_LEVEL_H264_4_0, VV_LEVEL_H264_4_1,
	VV_LEVEL_H264_4_2, VV_LEVEL_H264_5_0, VV_LEVEL_H264_5_1,
};

/* ---- capabilities ------------------------------------------------------------------------- */

static const struct vv_caps_range null_rates[] = {
	{ NULL_MIN_RATE, NULL_MAX_RATE, 1 },
};

static const struct vv_caps_frame null_frames[] = {
	{
		.width = { NULL_MIN_WIDTH, NULL_MAX_WIDTH, NULL_SIZE_STEP },
		.height = { NULL_MIN_HEIGHT, NULL_MAX_HEIGHT, NULL_SIZE_STEP },
		.rates = null_rates,
		.num_rates = 1,
	},
};

#define NULL_FORMAT(fmt)                                                                    \
	{                                                                                   \
		.mask = 0x3, .format = (fmt), .planes_layout = VV_PLANES_LAYOUT_SINGLE_BUFFER, \
		.plane_align = 1, .frames = null_frames, .num_frames = 1,                   \
	}

static const struct vv_caps_format null_input_formats[] = {
	NULL_FORMAT(VV_FORMAT_FWHT),
	NULL_FORMAT(VV_FORMAT_H264),
};

static const struct vv_caps_format null_output_formats[] = {
	NULL_FORMAT(VV_FORMAT_NV12),
	NULL_FORMAT(VV_FORMAT_YUV420),
};

static const struct vv_caps null_input_caps = { null_input_formats, 2 };
static const struct vv_caps null_output_caps = { null_output_formats, 2 };

static bool coded_format_known(uint32_t format)
{
	return format == VV_FORMAT_FWHT || format == VV_FORMAT_H264;
}

static bool raw_format_known(uint32_t format)
{
	return format == VV_FORMAT_NV12 || format == VV_FORMAT_YUV420;
}

/* ---- state -------------------------------------------------------------------------------- */

struct null_buf {
	struct null_buf *next;
	struct backend_buffer b; /* the segments stay the device's */
};

struct null_fifo {
	struct null_buf *head, *tail;
};

struct backend {
	struct event_loop *loop;
};

struct backend_session {
	struct backend *b;
	const struct backend_events *ev;
	void *stream;
	int efd;
	struct ev_handler *h;
	struct vv_stream_params in, out;
	struct null_fifo inputs, outputs;
	bool drain_pending;
	bool size_announced; /* resolution_changed sent for the current size */
	uint32_t pictures;   /* number of the next picture */
};

static void fifo_push(struct null_fifo *f, struct null_buf *nb)
{
	nb->next = NULL;
	if (f->tail)
		f->tail->next = nb;
	else
		f->head = nb;
	f->tail = nb;
}

static struct null_buf *fifo_pop(struct null_fifo *f)
{
	struct null_buf *nb = f->head;

	if (nb) {
		f->head = nb->next;
		if (!f->head)
			f->tail = NULL;
	}
	return nb;
}

static void fifo_clear(struct null_fifo *f)
{
	struct null_buf *nb;

	while ((nb = fifo_pop(f)))
		free(nb);
}

/* ---- parameters --------------------------------------------------------------------------- */

/* Frame and crop of p at width x height clamped into the caps (both dimensions then keep
 * every plane size within 32 bits, see the assert). */
static void set_frame(struct vv_stream_params *p, uint32_t width, uint32_t height)
{
	raw_set_frame(p, &null_frames[0], width, height);
}

static void default_params(struct backend_session *s, uint32_t coded_format)
{
	struct vv_stream_params *in = &s->in, *out = &s->out;

	memset(in, 0, sizeof(*in));
	in->queue_type = VV_QUEUE_TYPE_INPUT;
	in->format = coded_format;
	in->min_buffers = NULL_MIN_BUFFERS;
	in->max_buffers = NULL_MAX_BUFFERS;
	in->frame_rate = NULL_DEFAULT_RATE;
	in->num_planes = 1;
	in->plane_formats[0].plane_size = NULL_BITSTREAM_SIZE;
	set_frame(in, NULL_DEFAULT_WIDTH, NULL_DEFAULT_HEIGHT);

	*out = *in;
	out->queue_type = VV_QUEUE_TYPE_OUTPUT;
	out->format = NULL_DEFAULT_OUTPUT_FORMAT;
	raw_set_planes(out);
}

static int null_get_params(struct backend_session *s, uint32_t queue_type,
			   struct vv_stream_params *p)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT)
		*p = s->in;
	else if (queue_type == VV_QUEUE_TYPE_OUTPUT)
		*p = s->out;
	else
		return -EINVAL;
	return 0;
}

static void set_input_params(struct backend_session *s, const struct vv_stream_params *p)
{
	struct vv_stream_params *in = &s->in;

	in->format = p->format;
	if (p->frame_rate)
		in->frame_rate = raw_clamp_step(p->frame_rate, NULL_MIN_RATE, NULL_MAX_RATE, 1);
	if (p->num_planes >= 1 && p->plane_formats[0].plane_size)
		in->plane_formats[0].plane_size =
			raw_clamp_step(p->plane_formats[0].plane_size, NULL_MIN_BITSTREAM_SIZE,
				       NULL_MAX_BITSTREAM_SIZE, 1);
	if (!p->frame_width || !p->frame_height)
		return;
	set_frame(in, p->frame_width, p->frame_height);
	if (in->frame_width == s->out.frame_width && in->frame_height == s->out.frame_height)
		return;
	/* The pretend stream header now says this size: the output follows. */
	set_frame(&s->out, in->frame_width, in->frame_height);
	raw_set_planes(&s->out);
	s->out.frame_rate = in->frame_rate;
	s->size_announced = false;
}

static int null_set_params(struct backend_session *s, const struct vv_stream_params *p)
{
	if (p->queue_type == VV_QUEUE_TYPE_INPUT) {
		if (!coded_format_known(p->format))
			return -EINVAL;
		set_input_params(s, p);
		return 0;
	}
	if (p->queue_type == VV_QUEUE_TYPE_OUTPUT) {
		if (!raw_format_known(p->format))
			return -EINVAL;
		s->out.format = p->format;
		set_frame(&s->out, p->frame_width, p->frame_height);
		if (p->frame_rate)
			s->out.frame_rate = raw_clamp_step(p->frame_rate, NULL_MIN_RATE,
							   NULL_MAX_RATE, 1);
		raw_set_planes(&s->out);
		return 0;
	}
	return -EINVAL;
}

/* ---- pictures ----------------------------------------------------------------------------- */

/* Writes picture n into out; false when out cannot hold it. */
static bool write_picture(const struct vv_stream_params *p, const struct backend_buffer *out,
			  uint32_t n, uint32_t *size)
{
	bool packed = out->num_planes == 1 && p->num_planes > 1;
	uint64_t total = 0;
	struct iov_cursor c = { .segs = NULL };

	if (!packed && out->num_planes != p->num_planes)
		return false;
	for (unsigned pl = 0; pl < p->num_planes; pl++) {
		total += p->plane_formats[pl].plane_size;
		if (!packed && out->planes[pl].len < p->plane_formats[pl].plane_size)
			return false;
	}
	if (packed && out->planes[0].len < total)
		return false;

	for (unsigned pl = 0; pl < p->num_planes; pl++) {
		uint32_t stride = p->plane_formats[pl].stride;
		uint32_t rows = stride ? p->plane_formats[pl].plane_size / stride : 0;

		if (!packed || pl == 0) {
			const struct backend_plane *dst = &out->planes[packed ? 0 : pl];

			iov_cursor_init(&c, dst->segs, dst->nsegs, 0);
		}
		for (uint32_t r = 0; r < rows; r++)
			iov_cursor_fill(&c, (uint8_t)((n + r + 64u * pl) & 0xff), stride);
	}
	*size = (uint32_t)total;
	return true;
}

static uint64_t input_data_size(const struct backend_buffer *b)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < b->num_planes && i < VV_MAX_PLANES; i++)
		sum += b->data_sizes[i];
	return sum;
}

/* Decodes one input into one output. */
static void decode_one(struct backend_session *s, struct null_buf *in, struct null_buf *out)
{
	uint32_t n = s->pictures++, size = 0;
	bool ok = write_picture(&s->out, &out->b, n, &size);

	if (!ok)
		log_warn("null: output buffer %u cannot hold a %ux%u picture", out->b.resource_id,
			 s->out.frame_width, s->out.frame_height);
	s->ev->input_done(s->stream, in->b.resource_id, false);
	s->ev->picture_ready(s->stream, out->b.resource_id, in->b.timestamp,
			     ok ? 0 : VV_BUFFER_FLAG_ERR, ok ? size : 0);
}

/* Everything that can be done with the buffers at hand. */
static void null_run(struct backend_session *s)
{
	for (;;) {
		struct null_buf *in = s->inputs.head, *out;

		if (in) {
			if (!s->size_announced) {
				s->size_announced = true;
				s->ev->resolution_changed(s->stream);
			}
			if (input_data_size(&in->b) == 0) {
				fifo_pop(&s->inputs);
				s->ev->input_done(s->stream, in->b.resource_id, false);
				free(in);
				continue;
			}
			if (!s->outputs.head)
				return; /* back-pressure: the input waits for a picture buffer */
			fifo_pop(&s->inputs);
			out = fifo_pop(&s->outputs);
			decode_one(s, in, out);
			free(in);
			free(out);
			continue;
		}
		if (s->drain_pending && s->outputs.head) {
			out = fifo_pop(&s->outputs);
			s->drain_pending = false;
			s->ev->picture_ready(s->stream, out->b.resource_id, 0, VV_BUFFER_FLAG_EOS,
					     0);
			s->ev->drain_done(s->stream, false);
			free(out);
			continue;
		}
		return;
	}
}

static void null_on_work(void *opaque, uint32_t events)
{
	struct backend_session *s = opaque;
	eventfd_t count;

	(void)events;
	if (eventfd_read(s->efd, &count) < 0 && errno != EAGAIN)
		log_debug("null: eventfd read: %s", strerror(errno));
	null_run(s);
}

static void schedule(struct backend_session *s)
{
	if (eventfd_write(s->efd, 1) < 0)
		log_err("null: cannot schedule work: %s", strerror(errno));
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int null_open(struct backend **out, const struct backend_config *cfg,
		     struct event_loop *loop)
{
	struct backend *b;

	(void)cfg;
	*out = NULL;
	if (!loop)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b) {
		log_err("null: out of memory");
		return -ENOMEM;
	}
	b->loop = loop;
	*out = b;
	return 0;
}

static void null_close(struct backend *b)
{
	free(b);
}

static const struct vv_caps *null_caps(struct backend *b, uint32_t queue_type)
{
	(void)b;
	if (queue_type == VV_QUEUE_TYPE_INPUT)
		return &null_input_caps;
	if (queue_type == VV_QUEUE_TYPE_OUTPUT)
		return &null_output_caps;
	return NULL;
}

static int null_session_new(struct backend *b, uint32_t coded_format,
			    const struct backend_events *ev, void *stream,
			    struct backend_session **out)
{
	struct backend_session *s;
	int err;

	*out = NULL;
	if (!coded_format_known(coded_format))
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->b = b;
	s->ev = ev;
	s->stream = stream;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		err = -errno;
		goto fail;
	}
	s->h = ev_add(b->loop, s->efd, EPOLLIN, null_on_work, s);
	if (!s->h) {
		err = -errno;
		goto fail_fd;
	}
	default_params(s, coded_format);
	*out = s;
	return 0;

fail_fd:
	close(s->efd);
fail:
	free(s);
	log_warn("null: cannot create a session: %s", strerror(-err));
	return err == -ENOMEM ? -ENOMEM : -EIO;
}

static void null_session_free(struct backend_session *s)
{
	if (!s)
		return;
	ev_del(s->b->loop, s->h);
	close(s->efd);
	fifo_clear(&s->inputs);
	fifo_clear(&s->outputs);
	free(s);
}

static int null_queue(struct backend_session *s, struct null_fifo *f,
		      const struct backend_buffer *buf)
{
	struct null_buf *nb = malloc(sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	nb->b = *buf;
	fifo_push(f, nb);
	schedule(s);
	return 0;
}

static int null_queue_input(struct backend_session *s, const struct backend_buffer *buf)
{
	return null_queue(s, &s->inputs, buf);
}

static int null_queue_output(struct backend_session *s, const struct backend_buffer *buf)
{
	return null_queue(s, &s->outputs, buf);
}

static int null_drain(struct backend_session *s)
{
	if (s->drain_pending)
		return -EBUSY;
	s->drain_pending = true;
	schedule(s);
	return 0;
}

static int null_clear(struct backend_session *s, uint32_t queue_type)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT) {
		fifo_clear(&s->inputs);
		s->drain_pending = false;
	} else if (queue_type == VV_QUEUE_TYPE_OUTPUT) {
		fifo_clear(&s->outputs);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int null_query_control(struct backend *b, uint32_t control, uint32_t format,
			      uint32_t *values, uint32_t *num)
{
	const uint32_t *list;
	uint32_t count;

	(void)b;
	if (control != VV_CONTROL_PROFILE && control != VV_CONTROL_LEVEL)
		return -ENOTSUP;
	if (format == VV_FORMAT_FWHT)
		return -ENOTSUP; /* FWHT has neither profiles nor levels */
	if (format != VV_FORMAT_H264)
		return -EINVAL;
	if (control == VV_CONTROL_PROFILE) {
		list = h264_profiles;
		count = sizeof(h264_profiles) / sizeof(h264_profiles[0]);
	} else {
		list = h264_levels;
		count = sizeof(h264_levels) / sizeof(h264_levels[0]);
	}
	if (count > *num)
		count = *num;
	memcpy(values, list, count * sizeof(*values));
	*num = count;
	return 0;
}

static int null_get_control(struct backend_session *s, uint32_t control, uint32_t *value)
{
	if (s->in.format != VV_FORMAT_H264)
		return -ENOTSUP;
	if (control == VV_CONTROL_PROFILE)
		*value = VV_PROFILE_H264_HIGH;
	else if (control == VV_CONTROL_LEVEL)
		*value = VV_LEVEL_H264_4_1;
	else
		return -ENOTSUP;
	return 0;
}

static int null_set_control(struct backend_session *s, uint32_t control, uint32_t value)
{
	(void)s;
	(void)control;
	(void)value;
	return -ENOTSUP;
}

const struct backend_ops backend_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.caps = null_caps,
	.session_new = null_session_new,
	.session_free = null_session_free,
	.get_params = null_get_params,
	.set_params = null_set_params,
	.queue_input = null_queue_input,
	.queue_output = null_queue_output,
	.drain = null_drain,
	.clear = null_clear,
	.query_control = null_query_control,
	.get_control = null_get_control,
	.set_control = null_set_control,
};
