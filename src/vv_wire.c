/* virtio-video v3 wire format: command decoding and response encoding.
 * Pure functions over caller buffers; see vv_wire.h for the division of
 * validation work between this file and the device. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vv_wire.h"

/* ---------------------------------------------------------------------------------------------
 * Value sets fixed by the spec
 */

static bool queue_type_valid(uint32_t queue_type)
{
	return queue_type == VV_QUEUE_TYPE_INPUT || queue_type == VV_QUEUE_TYPE_OUTPUT;
}

static bool mem_type_valid(uint32_t mem_type)
{
	return mem_type == VV_MEM_TYPE_GUEST_PAGES || mem_type == VV_MEM_TYPE_VIRTIO_OBJECT;
}

static bool planes_layout_valid(uint32_t layout)
{
	return layout == VV_PLANES_LAYOUT_SINGLE_BUFFER || layout == VV_PLANES_LAYOUT_PER_PLANE;
}

/* ---------------------------------------------------------------------------------------------
 * Decoding. Each decoder gets the whole command (header included) and the number of bytes
 * available; it checks the length before copying the fixed part into a local wire struct,
 * then converts and validates the copy.
 */

static int decode_query_capability(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_query_capability w;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	cmd->query_capability.queue_type = le32toh(w.queue_type);
	if (!queue_type_valid(cmd->query_capability.queue_type))
		return VV_DERR_QUEUE_TYPE;
	return VV_DECODE_OK;
}

static int decode_stream_create(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_cmd_stream_create *sc = &cmd->stream_create;
	struct vv_stream_create w;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	sc->in_mem_type = le32toh(w.in_mem_type);
	sc->out_mem_type = le32toh(w.out_mem_type);
	sc->coded_format = le32toh(w.coded_format);
	memcpy(sc->tag, w.tag, sizeof(sc->tag));
	if (!mem_type_valid(sc->in_mem_type) || !mem_type_valid(sc->out_mem_type))
		return VV_DERR_MEM_TYPE;
	return VV_DECODE_OK;
}

static int decode_resource_create(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_cmd_resource_create *rc = &cmd->resource_create;
	struct vv_resource_create w;
	uint64_t total = 0; /* 8 × u32 cannot overflow 64 bits */
	size_t needed;
	unsigned i;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	rc->queue_type = le32toh(w.queue_type);
	rc->resource_id = le32toh(w.resource_id);
	rc->planes_layout = le32toh(w.planes_layout);
	rc->num_planes = le32toh(w.num_planes);
	/* The 6.1-based v3 guest driver never fills planes_layout (it stays 0)
	 * and gives every vb2 plane its own entries: that is PER_PLANE. */
	if (rc->planes_layout == 0)
		rc->planes_layout = VV_PLANES_LAYOUT_PER_PLANE;

	if (!queue_type_valid(rc->queue_type))
		return VV_DERR_QUEUE_TYPE;
	if (!planes_layout_valid(rc->planes_layout))
		return VV_DERR_PLANES_LAYOUT;
	if (rc->num_planes == 0 || rc->num_planes > VV_MAX_PLANES)
		return VV_DERR_NUM_PLANES;

	/* Slots beyond num_planes are not part of the command; they stay zero. */
	for (i = 0; i < rc->num_planes; i++) {
		rc->plane_offsets[i] = le32toh(w.plane_offsets[i]);
		rc->num_entries[i] = le32toh(w.num_entries[i]);
		/* Planes of a PER_PLANE resource are separate buffers: each needs memory. */
		if (rc->planes_layout == VV_PLANES_LAYOUT_PER_PLANE && rc->num_entries[i] == 0)
			return VV_DERR_EMPTY_PLANE;
		total += rc->num_entries[i];
	}
	/* A SINGLE_BUFFER resource is one buffer described by all entries together. */
	if (total == 0)
		return VV_DERR_EMPTY_PLANE;
	/* Checked before any multiplication: 16 * total cannot overflow afterwards. */
	if (total > VV_MAX_MEM_ENTRIES)
		return VV_DERR_TOO_MANY_ENTRIES;

	needed = sizeof(w) + (size_t)total * sizeof(struct vv_mem_entry);
	if (len < needed)
		return VV_DERR_SHORT_ENTRIES;

	rc->total_entries = (uint32_t)total;
	rc->entries = bytes + sizeof(w);
	return VV_DECODE_OK;
}

static int decode_resource_queue(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_cmd_resource_queue *rq = &cmd->resource_queue;
	struct vv_resource_queue w;
	unsigned i;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	rq->queue_type = le32toh(w.queue_type);
	rq->resource_id = le32toh(w.resource_id);
	rq->timestamp = le64toh(w.timestamp);
	rq->num_data_sizes = le32toh(w.num_data_sizes);

	if (!queue_type_valid(rq->queue_type))
		return VV_DERR_QUEUE_TYPE;
	if (rq->num_data_sizes > VV_MAX_DATA_SIZES)
		return VV_DERR_NUM_DATA_SIZES;
	for (i = 0; i < rq->num_data_sizes; i++)
		rq->data_sizes[i] = le32toh(w.data_sizes[i]);
	return VV_DECODE_OK;
}

/* RESOURCE_DESTROY_ALL, QUEUE_CLEAR, GET_PARAMS and GET_PARAMS_EXT: {queue_type, pad4}. */
static int decode_queue_type(const uint8_t *bytes, size_t len, uint32_t *queue_type)
{
	struct vv_queue_cmd w;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	*queue_type = le32toh(w.queue_type);
	if (!queue_type_valid(*queue_type))
		return VV_DERR_QUEUE_TYPE;
	return VV_DECODE_OK;
}

static int params_from_wire(const struct vv_params *w, struct vv_stream_params *p)
{
	unsigned i;

	p->queue_type = le32toh(w->queue_type);
	p->format = le32toh(w->format);
	p->frame_width = le32toh(w->frame_width);
	p->frame_height = le32toh(w->frame_height);
	p->min_buffers = le32toh(w->min_buffers);
	p->max_buffers = le32toh(w->max_buffers);
	p->crop.left = le32toh(w->crop.left);
	p->crop.top = le32toh(w->crop.top);
	p->crop.width = le32toh(w->crop.width);
	p->crop.height = le32toh(w->crop.height);
	p->frame_rate = le32toh(w->frame_rate);
	p->num_planes = le32toh(w->num_planes);

	if (!queue_type_valid(p->queue_type))
		return VV_DERR_QUEUE_TYPE;
	if (p->num_planes > VV_MAX_PLANES)
		return VV_DERR_PARAMS_NUM_PLANES;
	for (i = 0; i < p->num_planes; i++) {
		p->plane_formats[i].plane_size = le32toh(w->plane_formats[i].plane_size);
		p->plane_formats[i].stride = le32toh(w->plane_formats[i].stride);
	}
	return VV_DECODE_OK;
}

static int decode_set_params(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_set_params w;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	cmd->set_params.ext = false;
	return params_from_wire(&w.params, &cmd->set_params.params);
}

static int decode_set_params_ext(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_stream_params *p = &cmd->set_params.params;
	struct vv_set_params_ext w;
	int err;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));

	cmd->set_params.ext = true;
	err = params_from_wire(&w.params.base, p);
	if (err)
		return err;
	p->resource_type = le32toh(w.params.resource_type);
	if (!mem_type_valid(p->resource_type))
		return VV_DERR_MEM_TYPE;
	return VV_DECODE_OK;
}

static int decode_query_control(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_cmd_query_control *qc = &cmd->query_control;
	struct vv_query_control w;
	struct vv_control_format data;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));
	qc->control = le32toh(w.control);

	/* Other controls carry no data here; whether they are supported is the device's call. */
	if (qc->control != VV_CONTROL_PROFILE && qc->control != VV_CONTROL_LEVEL)
		return VV_DECODE_OK;

	if (len < sizeof(w) + sizeof(data))
		return VV_DERR_SHORT_BODY;
	memcpy(&data, bytes + sizeof(w), sizeof(data));
	qc->has_format = true;
	qc->format = le32toh(data.format);
	return VV_DECODE_OK;
}

static int decode_get_control(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_get_control w;

	if (len < sizeof(w))
		return VV_DERR_SHORT_BODY;
	memcpy(&w, bytes, sizeof(w));
	cmd->control.control = le32toh(w.control);
	return VV_DECODE_OK;
}

static int decode_set_control(const uint8_t *bytes, size_t len, struct vv_cmd *cmd)
{
	struct vv_set_control w;

	/* The control id comes first: FORCE_KEYFRAME is a trigger and some guests send it
	 * without the value part, so only it may stop after {control, pad4}. */
	if (len < offsetof(struct vv_set_control, value))
		return VV_DERR_SHORT_BODY;
	memset(&w, 0, sizeof(w));
	memcpy(&w, bytes, len < sizeof(w) ? len : sizeof(w));
	cmd->control.control = le32toh(w.control);

	if (len < sizeof(w) && cmd->control.control != VV_CONTROL_FORCE_KEYFRAME)
		return VV_DERR_SHORT_BODY;
	cmd->control.value = le32toh(w.value);
	return VV_DECODE_OK;
}

int vv_cmd_decode(const void *buf, size_t len, struct vv_cmd *out)
{
	const uint8_t *bytes = buf;
	struct vv_cmd_hdr hdr;
	struct vv_cmd cmd;
	int err;

	memset(out, 0, sizeof(*out));
	if (bytes == NULL)
		len = 0;
	if (len < sizeof(hdr))
		return VV_DERR_SHORT_HEADER;

	memcpy(&hdr, bytes, sizeof(hdr));
	/* Decode into a local copy so that *out is all-zero past the header on error. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = le32toh(hdr.type);
	cmd.stream_id = le32toh(hdr.stream_id);
	out->type = cmd.type;
	out->stream_id = cmd.stream_id;

	switch (cmd.type) {
	case VV_CMD_QUERY_CAPABILITY:
		err = decode_query_capability(bytes, len, &cmd);
		break;
	case VV_CMD_STREAM_CREATE:
		err = decode_stream_create(bytes, len, &cmd);
		break;
	case VV_CMD_STREAM_DESTROY:
	case VV_CMD_STREAM_DRAIN:
		err = VV_DECODE_OK; /* header only */
		break;
	case VV_CMD_RESOURCE_CREATE:
		err = decode_resource_create(bytes, len, &cmd);
		break;
	case VV_CMD_RESOURCE_QUEUE:
		err = decode_resource_queue(bytes, len, &cmd);
		break;
	case VV_CMD_RESOURCE_DESTROY_ALL:
	case VV_CMD_QUEUE_CLEAR:
		err = decode_queue_type(bytes, len, &cmd.queue.queue_type);
		break;
	case VV_CMD_GET_PARAMS:
	case VV_CMD_GET_PARAMS_EXT:
		cmd.get_params.ext = cmd.type == VV_CMD_GET_PARAMS_EXT;
		err = decode_queue_type(bytes, len, &cmd.get_params.queue_type);
		break;
	case VV_CMD_SET_PARAMS:
		err = decode_set_params(bytes, len, &cmd);
		break;
	case VV_CMD_SET_PARAMS_EXT:
		err = decode_set_params_ext(bytes, len, &cmd);
		break;
	case VV_CMD_QUERY_CONTROL:
		err = decode_query_control(bytes, len, &cmd);
		break;
	case VV_CMD_GET_CONTROL:
		err = decode_get_control(bytes, len, &cmd);
		break;
	case VV_CMD_SET_CONTROL:
		err = decode_set_control(bytes, len, &cmd);
		break;
	default:
		err = VV_DERR_UNKNOWN_TYPE;
		break;
	}

	/* memcpy, not assignment: padding stays zero too (the fuzzer compares images). */
	if (err == VV_DECODE_OK)
		memcpy(out, &cmd, sizeof(cmd));
	return err;
}

uint32_t vv_decode_err_response(int err)
{
	switch (err) {
	case VV_DECODE_OK:
		return VV_RESP_OK_NODATA;
	case VV_DERR_UNKNOWN_TYPE:
		return VV_RESP_ERR_INVALID_OPERATION;
	default:
		return VV_RESP_ERR_INVALID_PARAMETER;
	}
}

const char *vv_decode_err_str(int err)
{
	switch (err) {
	case VV_DECODE_OK:
		return "ok";
	case VV_DERR_SHORT_HEADER:
		return "command shorter than its header";
	case VV_DERR_UNKNOWN_TYPE:
		return "unknown command type";
	case VV_DERR_SHORT_BODY:
		return "command shorter than its body";
	case VV_DERR_SHORT_ENTRIES:
		return "mem-entry array cut short";
	case VV_DERR_QUEUE_TYPE:
		return "invalid queue_type";
	case VV_DERR_MEM_TYPE:
		return "invalid mem_type";
	case VV_DERR_PLANES_LAYOUT:
		return "invalid planes_layout";
	case VV_DERR_NUM_PLANES:
		return "num_planes 0 or above 8";
	case VV_DERR_EMPTY_PLANE:
		return "plane without mem entries";
	case VV_DERR_TOO_MANY_ENTRIES:
		return "too many mem entries";
	case VV_DERR_NUM_DATA_SIZES:
		return "num_data_sizes above 8";
	case VV_DERR_PARAMS_NUM_PLANES:
		return "params num_planes above 8";
	default:
		return "?";
	}
}

const char *vv_cmd_type_str(uint32_t type)
{
	switch (type) {
	case VV_CMD_QUERY_CAPABILITY:
		return "QUERY_CAPABILITY";
	case VV_CMD_STREAM_CREATE:
		return "STREAM_CREATE";
	case VV_CMD_STREAM_DESTROY:
		return "STREAM_DESTROY";
	case VV_CMD_STREAM_DRAIN:
		return "STREAM_DRAIN";
	case VV_CMD_RESOURCE_CREATE:
		return "RESOURCE_CREATE";
	case VV_CMD_RESOURCE_QUEUE:
		return "RESOURCE_QUEUE";
	case VV_CMD_RESOURCE_DESTROY_ALL:
		return "RESOURCE_DESTROY_ALL";
	case VV_CMD_QUEUE_CLEAR:
		return "QUEUE_CLEAR";
	case VV_CMD_GET_PARAMS:
		return "GET_PARAMS";
	case VV_CMD_SET_PARAMS:
		return "SET_PARAMS";
	case VV_CMD_QUERY_CONTROL:
		return "QUERY_CONTROL";
	case VV_CMD_GET_CONTROL:
		return "GET_CONTROL";
	case VV_CMD_SET_CONTROL:
		return "SET_CONTROL";
	case VV_CMD_GET_PARAMS_EXT:
		return "GET_PARAMS_EXT";
	case VV_CMD_SET_PARAMS_EXT:
		return "SET_PARAMS_EXT";
	default:
		return "?";
	}
}

int vv_mem_entry_get(const struct vv_cmd *cmd, unsigned i, uint64_t *addr, uint32_t *len)
{
	const struct vv_cmd_resource_create *rc = &cmd->resource_create;
	struct vv_mem_entry e;

	if (cmd->type != VV_CMD_RESOURCE_CREATE || rc->entries == NULL || i >= rc->total_entries)
		return -EINVAL;
	/* i < total_entries, and the decoder checked that all of them are in the buffer. */
	memcpy(&e, rc->entries + (size_t)i * sizeof(e), sizeof(e));
	*addr = le64toh(e.addr);
	*len = le32toh(e.length);
	return 0;
}

unsigned vv_resource_plane_first_entry(const struct vv_cmd *cmd, unsigned plane)
{
	const struct vv_cmd_resource_create *rc = &cmd->resource_create;
	unsigned first = 0;
	unsigned i;

	if (cmd->type != VV_CMD_RESOURCE_CREATE)
		return 0;
	for (i = 0; i < plane && i < rc->num_planes && i < VV_MAX_PLANES; i++)
		first += rc->num_entries[i];
	return first;
}

/* ---------------------------------------------------------------------------------------------
 * Encoding. Sizes are computed and checked against cap before the first byte is written.
 */

static struct vv_resp_hdr resp_hdr(uint32_t type, uint32_t stream_id)
{
	struct vv_resp_hdr h = {
		.type = htole32(type),
		.stream_id = htole32(stream_id),
	};

	return h;
}

ssize_t vv_encode_hdr_resp(void *buf, size_t cap, uint32_t resp_type, uint32_t stream_id)
{
	struct vv_resp_hdr h;

	if (resp_type != VV_RESP_OK_NODATA &&
	    (resp_type < VV_RESP_ERR_INVALID_OPERATION ||
	     resp_type > VV_RESP_ERR_UNSUPPORTED_CONTROL))
		return -EINVAL;
	if (cap < sizeof(h))
		return -ENOSPC;

	h = resp_hdr(resp_type, stream_id);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

ssize_t vv_encode_resource_queue(void *buf, size_t cap, uint32_t stream_id, uint64_t timestamp,
				 uint32_t flags, uint32_t size)
{
	struct vv_resp_resource_queue w;

	if (cap < sizeof(w))
		return -ENOSPC;

	memset(&w, 0, sizeof(w));
	w.hdr = resp_hdr(VV_RESP_OK_RESOURCE_QUEUE, stream_id);
	w.timestamp = htole64(timestamp);
	w.flags = htole32(flags);
	w.size = htole32(size);
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

static void params_to_wire(const struct vv_stream_params *p, struct vv_params *w)
{
	unsigned i;

	w->queue_type = htole32(p->queue_type);
	w->format = htole32(p->format);
	w->frame_width = htole32(p->frame_width);
	w->frame_height = htole32(p->frame_height);
	w->min_buffers = htole32(p->min_buffers);
	w->max_buffers = htole32(p->max_buffers);
	w->crop.left = htole32(p->crop.left);
	w->crop.top = htole32(p->crop.top);
	w->crop.width = htole32(p->crop.width);
	w->crop.height = htole32(p->crop.height);
	w->frame_rate = htole32(p->frame_rate);
	w->num_planes = htole32(p->num_planes);
	/* Slots beyond num_planes stay zero (w is zeroed by the caller). */
	for (i = 0; i < p->num_planes; i++) {
		w->plane_formats[i].plane_size = htole32(p->plane_formats[i].plane_size);
		w->plane_formats[i].stride = htole32(p->plane_formats[i].stride);
	}
}

ssize_t vv_encode_get_params(void *buf, size_t cap, uint32_t stream_id,
			     const struct vv_stream_params *p, bool ext)
{
	struct vv_resp_get_params_ext w;
	size_t size = ext ? sizeof(struct vv_resp_get_params_ext)
			  : sizeof(struct vv_resp_get_params);

	_Static_assert(offsetof(struct vv_resp_get_params_ext, params.base) ==
		       offsetof(struct vv_resp_get_params, params),
		       "params is a prefix of params_ext");

	if (p == NULL || p->num_planes > VV_MAX_PLANES)
		return -EINVAL;
	if (cap < size)
		return -ENOSPC;

	memset(&w, 0, sizeof(w));
	w.hdr = resp_hdr(VV_RESP_OK_GET_PARAMS, stream_id);
	params_to_wire(p, &w.params.base);
	if (ext)
		w.params.resource_type = htole32(p->resource_type);
	/* The spec numbering is the first 120 bytes of the ext layout. */
	memcpy(buf, &w, size);
	return (ssize_t)size;
}

ssize_t vv_encode_query_control(void *buf, size_t cap, uint32_t stream_id,
				const uint32_t *values, uint32_t num)
{
	struct vv_resp_query_control w;
	uint64_t size = sizeof(w) + (uint64_t)num * sizeof(vv_le32);
	uint8_t *out = buf;
	uint32_t i;

	if (values == NULL && num != 0)
		return -EINVAL;
	if (size > cap)
		return -ENOSPC;

	memset(&w, 0, sizeof(w));
	w.hdr = resp_hdr(VV_RESP_OK_QUERY_CONTROL, stream_id);
	w.num = htole32(num);
	memcpy(out, &w, sizeof(w));
	for (i = 0; i < num; i++) {
		vv_le32 v = htole32(values[i]);

		memcpy(out + sizeof(w) + (size_t)i * sizeof(v), &v, sizeof(v));
	}
	return (ssize_t)size;
}

ssize_t vv_encode_get_control(void *buf, size_t cap, uint32_t stream_id, uint32_t value)
{
	struct vv_resp_get_control w;

	if (cap < sizeof(w))
		return -ENOSPC;

	memset(&w, 0, sizeof(w));
	w.hdr = resp_hdr(VV_RESP_OK_GET_CONTROL, stream_id);
	w.value = htole32(value);
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

size_t vv_caps_encoded_size(const struct vv_caps *caps)
{
	uint64_t size = sizeof(struct vv_resp_query_capability);
	uint32_t d, f;

	if (caps == NULL || caps->num_descs > VV_MAX_FORMAT_DESCS ||
	    (caps->descs == NULL && caps->num_descs != 0))
		return 0;

	for (d = 0; d < caps->num_descs; d++) {
		const struct vv_caps_format *desc = &caps->descs[d];

		if (desc->frames == NULL && desc->num_frames != 0)
			return 0;
		size += sizeof(struct vv_format_desc);
		/* Stopping once past 32 bits also bounds the walk over a bogus count. */
		for (f = 0; f < desc->num_frames && size <= UINT32_MAX; f++) {
			const struct vv_caps_frame *frame = &desc->frames[f];

			if (frame->rates == NULL && frame->num_rates != 0)
				return 0;
			size += sizeof(struct vv_format_frame) +
				(uint64_t)frame->num_rates * sizeof(struct vv_format_range);
		}
		if (size > UINT32_MAX)
			return 0;
	}
	return (size_t)size;
}

static struct vv_format_range range_to_wire(const struct vv_caps_range *r)
{
	struct vv_format_range w;

	memset(&w, 0, sizeof(w));
	w.min = htole32(r->min);
	w.max = htole32(r->max);
	w.step = htole32(r->step);
	return w;
}

ssize_t vv_encode_query_capability(void *buf, size_t cap, uint32_t stream_id,
				   const struct vv_caps *caps)
{
	size_t size = vv_caps_encoded_size(caps);
	struct vv_resp_query_capability head;
	uint8_t *out = buf;
	size_t off = 0;
	uint32_t d, f, r;

	if (size == 0)
		return -EINVAL;
	if (size > cap)
		return -ENOSPC;

	memset(&head, 0, sizeof(head));
	head.hdr = resp_hdr(VV_RESP_OK_QUERY_CAPABILITY, stream_id);
	head.num_descs = htole32(caps->num_descs);
	memcpy(out + off, &head, sizeof(head));
	off += sizeof(head);

	for (d = 0; d < caps->num_descs; d++) {
		const struct vv_caps_format *desc = &caps->descs[d];
		struct vv_format_desc wd;

		memset(&wd, 0, sizeof(wd));
		wd.mask = htole64(desc->mask);
		wd.format = htole32(desc->format);
		wd.planes_layout = htole32(desc->planes_layout);
		wd.plane_align = htole32(desc->plane_align);
		wd.num_frames = htole32(desc->num_frames);
		memcpy(out + off, &wd, sizeof(wd));
		off += sizeof(wd);

		for (f = 0; f < desc->num_frames; f++) {
			const struct vv_caps_frame *frame = &desc->frames[f];
			struct vv_format_frame wf;

			memset(&wf, 0, sizeof(wf));
			wf.width = range_to_wire(&frame->width);
			wf.height = range_to_wire(&frame->height);
			wf.num_rates = htole32(frame->num_rates);
			memcpy(out + off, &wf, sizeof(wf));
			off += sizeof(wf);

			for (r = 0; r < frame->num_rates; r++) {
				struct vv_format_range wr = range_to_wire(&frame->rates[r]);

				memcpy(out + off, &wr, sizeof(wr));
				off += sizeof(wr);
			}
		}
	}
	return (ssize_t)off;
}

ssize_t vv_encode_event(void *buf, size_t cap, uint32_t event_type, uint32_t stream_id)
{
	struct vv_event w;

	if (event_type != VV_EVENT_ERROR && event_type != VV_EVENT_DECODER_RESOLUTION_CHANGED)
		return -EINVAL;
	if (cap < sizeof(w))
		return -ENOSPC;

	w.event_type = htole32(event_type);
	w.stream_id = htole32(stream_id);
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

ssize_t vv_encode_config(void *buf, size_t cap, const struct vv_config_info *info)
{
	struct vv_config w;

	if (info == NULL || info->max_caps_length == 0 || info->max_resp_length == 0)
		return -EINVAL;
	if (cap < sizeof(w))
		return -ENOSPC;

	memset(&w, 0, sizeof(w));
	w.version = htole32(0);
	w.max_caps_length = htole32(info->max_caps_length);
	w.max_resp_length = htole32(info->max_resp_length);
	/* Keep a terminating NUL inside the 32 bytes for the guest's string handling. */
	if (info->device_name != NULL)
		memcpy(w.device_name, info->device_name,
		       strnlen(info->device_name, sizeof(w.device_name) - 1));
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

int vv_config_read(const struct vv_config_info *info, uint32_t offset, void *dst,
		   uint32_t size)
{
	uint8_t space[sizeof(struct vv_config)];
	ssize_t n;

	if (offset > sizeof(space) || size > sizeof(space) - offset ||
	    (dst == NULL && size != 0))
		return -EINVAL;
	n = vv_encode_config(space, sizeof(space), info);
	if (n < 0)
		return (int)n;
	if (size != 0)
		memcpy(dst, space + offset, size);
	return 0;
}
