/* vv_cmd_decode over arbitrary bytes (the whole input is one command as copied
 * out of a chain), then every mem entry of a decoded RESOURCE_CREATE, then a
 * response of the decoded type encoded into a small exact-size heap buffer.
 *
 * Oracles besides the sanitizers: on a decode error *out is zero past the
 * header; decoded counts respect the caps; an encoder writes exactly the size it
 * returns and nothing on failure; SET_PARAMS(_EXT) survives an encode/decode
 * round trip; a capability response is exactly vv_caps_encoded_size bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vv_wire.h"

#define POISON 0xa5

static const uint32_t hdr_types[] = {
	VV_RESP_OK_NODATA, VV_RESP_OK_QUERY_CAPABILITY, VV_RESP_OK_GET_CONTROL,
	VV_RESP_ERR_INVALID_OPERATION, VV_RESP_ERR_OUT_OF_MEMORY, VV_RESP_ERR_INVALID_STREAM_ID,
	VV_RESP_ERR_INVALID_RESOURCE_ID, VV_RESP_ERR_INVALID_PARAMETER,
	VV_RESP_ERR_UNSUPPORTED_CONTROL, VV_RESP_ERR_UNSUPPORTED_CONTROL + 1, 0,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* A heap buffer of exactly cap bytes (ASan catches any write past it), poisoned so
 * that bytes an encoder did not claim to write can be checked. */
struct out_buf {
	uint8_t *b;
	size_t cap;
};

static struct out_buf out_new(size_t cap)
{
	struct out_buf o = { malloc(cap ? cap : 1), cap };

	FUZZ_CHECK(o.b != NULL);
	memset(o.b, POISON, cap);
	return o;
}

/* n is what the encoder returned for a response of want bytes. */
static void out_check(const struct out_buf *o, ssize_t n, size_t want)
{
	size_t from;

	if (want > o->cap) {
		FUZZ_CHECK(n == -ENOSPC);
		from = 0;
	} else {
		FUZZ_CHECK(n == (ssize_t)want);
		from = want;
	}
	for (size_t i = from; i < o->cap; i++)
		FUZZ_CHECK(o->b[i] == POISON);
}

/* An encoder refused the description (-EINVAL): nothing may have been written. */
static void out_check_refused(const struct out_buf *o, ssize_t n)
{
	FUZZ_CHECK(n == -EINVAL);
	for (size_t i = 0; i < o->cap; i++)
		FUZZ_CHECK(o->b[i] == POISON);
}

static void out_free(struct out_buf *o)
{
	free(o->b);
	o->b = NULL;
}

static void check_resp_hdr(const struct out_buf *o, ssize_t n, uint32_t type, uint32_t sid)
{
	if (n < 8)
		return;
	FUZZ_CHECK(get_le32(o->b) == type);
	FUZZ_CHECK(get_le32(o->b + 4) == sid);
}

/* Capability description built from the input bytes: up to 4 descriptors, 3 frames
 * each, 3 rates per frame (the arrays are the input's, so it stays small). */
struct caps_store {
	struct vv_caps caps;
	struct vv_caps_format descs[4];
	struct vv_caps_frame frames[4][3];
	struct vv_caps_range rates[4][3][3];
};

static void caps_from_input(struct caps_store *s, struct fuzz_in *in)
{
	memset(s, 0, sizeof(*s));
	s->caps.descs = s->descs;
	s->caps.num_descs = fin_u8(in) % 5;
	for (unsigned d = 0; d < s->caps.num_descs; d++) {
		struct vv_caps_format *f = &s->descs[d];

		f->mask = fin_u8(in);
		f->format = fin_u16(in);
		f->planes_layout = fin_u8(in);
		f->plane_align = fin_u8(in);
		f->num_frames = fin_u8(in) % 4;
		f->frames = s->frames[d];
		for (unsigned i = 0; i < f->num_frames; i++) {
			struct vv_caps_frame *fr = &s->frames[d][i];

			/* One read per statement: initializer order is unspecified. */
			fr->width.min = fin_u16(in);
			fr->width.max = fin_u16(in);
			fr->width.step = fin_u8(in);
			fr->height.min = fin_u16(in);
			fr->height.max = fin_u16(in);
			fr->height.step = fin_u8(in);
			fr->num_rates = fin_u8(in) % 4;
			fr->rates = s->rates[d][i];
			for (unsigned r = 0; r < fr->num_rates; r++) {
				struct vv_caps_range *rate = &s->rates[d][i][r];

				rate->min = fin_u8(in);
				rate->max = fin_u8(in);
				rate->step = 1;
			}
		}
	}
}

static size_t caps_expected_size(const struct vv_caps *c)
{
	size_t size = 16;

	for (unsigned d = 0; d < c->num_descs; d++) {
		size += 24;
		for (unsigned f = 0; f < c->descs[d].num_frames; f++)
			size += 40 + 16 * (size_t)c->descs[d].frames[f].num_rates;
	}
	return size;
}

static void check_decoded(const struct vv_cmd *cmd, size_t size)
{
	switch (cmd->type) {
	case VV_CMD_RESOURCE_CREATE: {
		const struct vv_cmd_resource_create *rc = &cmd->resource_create;
		uint64_t sum = 0;

		FUZZ_CHECK(rc->num_planes >= 1 && rc->num_planes <= VV_MAX_PLANES);
		FUZZ_CHECK(rc->queue_type == VV_QUEUE_TYPE_INPUT ||
			   rc->queue_type == VV_QUEUE_TYPE_OUTPUT);
		for (unsigned p = 0; p < VV_MAX_PLANES; p++) {
			if (p >= rc->num_planes) {
				FUZZ_CHECK(rc->num_entries[p] == 0 && rc->plane_offsets[p] == 0);
				continue;
			}
			FUZZ_CHECK(vv_resource_plane_first_entry(cmd, p) == sum);
			sum += rc->num_entries[p];
		}
		FUZZ_CHECK(sum == rc->total_entries);
		FUZZ_CHECK(vv_resource_plane_first_entry(cmd, rc->num_planes) == sum);
		FUZZ_CHECK(rc->total_entries >= 1 && rc->total_entries <= VV_MAX_MEM_ENTRIES);
		FUZZ_CHECK(sizeof(struct vv_resource_create) +
			   16 * (size_t)rc->total_entries <= size);
		/* Every entry is readable (inside the input: ASan watches), one past is not. */
		for (unsigned i = 0; i < rc->total_entries; i++) {
			uint64_t addr;
			uint32_t len;

			FUZZ_CHECK(vv_mem_entry_get(cmd, i, &addr, &len) == 0);
		}
		{
			uint64_t addr = 0;
			uint32_t len = 0;

			FUZZ_CHECK(vv_mem_entry_get(cmd, rc->total_entries, &addr, &len) ==
				   -EINVAL);
		}
		break;
	}
	case VV_CMD_RESOURCE_QUEUE:
		FUZZ_CHECK(cmd->resource_queue.num_data_sizes <= VV_MAX_DATA_SIZES);
		for (unsigned i = cmd->resource_queue.num_data_sizes; i < VV_MAX_DATA_SIZES; i++)
			FUZZ_CHECK(cmd->resource_queue.data_sizes[i] == 0);
		break;
	case VV_CMD_SET_PARAMS:
	case VV_CMD_SET_PARAMS_EXT: {
		const struct vv_stream_params *p = &cmd->set_params.params;

		FUZZ_CHECK(p->num_planes <= VV_MAX_PLANES);
		for (unsigned i = p->num_planes; i < VV_MAX_PLANES; i++)
			FUZZ_CHECK(p->plane_formats[i].plane_size == 0 &&
				   p->plane_formats[i].stride == 0);
		FUZZ_CHECK(cmd->set_params.ext == (cmd->type == VV_CMD_SET_PARAMS_EXT));
		break;
	}
	default:
		break;
	}
	{
		uint64_t addr;
		uint32_t len;

		if (cmd->type != VV_CMD_RESOURCE_CREATE)
			FUZZ_CHECK(vv_mem_entry_get(cmd, 0, &addr, &len) == -EINVAL);
	}
}

/* SET_PARAMS(_EXT): encode the decoded params as a GET_PARAMS answer, put the request
 * header back, and the decoder must give the same command again. */
static void params_round_trip(const struct vv_cmd *cmd)
{
	bool ext = cmd->set_params.ext;
	uint8_t buf[sizeof(struct vv_resp_get_params_ext)];
	struct vv_cmd again;
	ssize_t n;

	n = vv_encode_get_params(buf, sizeof(buf), cmd->stream_id, &cmd->set_params.params, ext);
	FUZZ_CHECK(n == (ext ? 128 : 120));
	put_le32(buf, cmd->type);
	FUZZ_CHECK(vv_cmd_decode(buf, (size_t)n, &again) == VV_DECODE_OK);
	FUZZ_CHECK(memcmp(&again, cmd, sizeof(again)) == 0);
}

static void encode_response(const struct vv_cmd *cmd, struct fuzz_in *in, size_t cap)
{
	struct out_buf o = out_new(cap);
	uint32_t sid = cmd->stream_id;
	ssize_t n;

	switch (cmd->type) {
	case VV_CMD_QUERY_CAPABILITY: {
		struct caps_store s;
		size_t want;

		caps_from_input(&s, in);
		want = caps_expected_size(&s.caps);
		FUZZ_CHECK(vv_caps_encoded_size(&s.caps) == want);
		n = vv_encode_query_capability(o.b, o.cap, sid, &s.caps);
		out_check(&o, n, want);
		check_resp_hdr(&o, n, VV_RESP_OK_QUERY_CAPABILITY, sid);
		break;
	}
	case VV_CMD_RESOURCE_QUEUE:
		n = vv_encode_resource_queue(o.b, o.cap, sid, cmd->resource_queue.timestamp,
					     cmd->resource_queue.data_sizes[0],
					     cmd->resource_queue.resource_id);
		out_check(&o, n, 24);
		check_resp_hdr(&o, n, VV_RESP_OK_RESOURCE_QUEUE, sid);
		break;
	case VV_CMD_GET_PARAMS:
	case VV_CMD_GET_PARAMS_EXT: {
		struct vv_stream_params p;
		bool ext = cmd->get_params.ext;

		fin_bytes(in, &p, sizeof(p));
		p.queue_type = cmd->get_params.queue_type;
		n = vv_encode_get_params(o.b, o.cap, sid, &p, ext);
		if (p.num_planes > VV_MAX_PLANES) {
			out_check_refused(&o, n);
		} else {
			out_check(&o, n, ext ? 128 : 120);
			check_resp_hdr(&o, n, VV_RESP_OK_GET_PARAMS, sid);
		}
		break;
	}
	case VV_CMD_SET_PARAMS:
	case VV_CMD_SET_PARAMS_EXT:
		params_round_trip(cmd);
		n = vv_encode_hdr_resp(o.b, o.cap, VV_RESP_OK_NODATA, sid);
		out_check(&o, n, 8);
		break;
	case VV_CMD_QUERY_CONTROL: {
		uint32_t values[80];
		uint32_t num = fin_u8(in) % 81;

		fin_bytes(in, values, sizeof(values));
		n = vv_encode_query_control(o.b, o.cap, sid, values, num);
		out_check(&o, n, 16 + 4 * (size_t)num);
		check_resp_hdr(&o, n, VV_RESP_OK_QUERY_CONTROL, sid);
		if (n > 0) {
			FUZZ_CHECK(get_le32(o.b + 8) == num);
			for (uint32_t i = 0; i < num; i++)
				FUZZ_CHECK(get_le32(o.b + 16 + 4 * i) == values[i]);
		}
		break;
	}
	case VV_CMD_GET_CONTROL:
		n = vv_encode_get_control(o.b, o.cap, sid, cmd->control.control);
		out_check(&o, n, 16);
		check_resp_hdr(&o, n, VV_RESP_OK_GET_CONTROL, sid);
		break;
	default:
		/* Header-only answers of every type, and types that are not header-only. */
		for (unsigned i = 0; i < sizeof(hdr_types) / sizeof(hdr_types[0]); i++) {
			uint32_t t = hdr_types[i];
			bool valid = t == VV_RESP_OK_NODATA ||
				     (t >= VV_RESP_ERR_INVALID_OPERATION &&
				      t <= VV_RESP_ERR_UNSUPPORTED_CONTROL);

			memset(o.b, POISON, o.cap);
			n = vv_encode_hdr_resp(o.b, o.cap, t, sid);
			if (!valid) {
				out_check_refused(&o, n);
			} else {
				out_check(&o, n, 8);
				check_resp_hdr(&o, n, t, sid);
			}
		}
		break;
	}
	out_free(&o);
}

/* Event and config-space encoders, with values from the input. */
static void encode_misc(struct fuzz_in *in, size_t cap)
{
	struct out_buf o = out_new(cap);
	uint32_t ev = fin_u8(in) & 1 ? VV_EVENT_ERROR : VV_EVENT_DECODER_RESOLUTION_CHANGED;
	struct vv_config_info info = { 4096, 4096, "fuzz-device-name-longer-than-32-bytes" };
	uint32_t off = fin_u8(in), len = fin_u8(in);
	uint8_t space[64];
	ssize_t n;
	int rc;

	if (fin_u8(in) & 1)
		ev = fin_u32(in);
	n = vv_encode_event(o.b, o.cap, ev, 7);
	if (ev != VV_EVENT_ERROR && ev != VV_EVENT_DECODER_RESOLUTION_CHANGED) {
		out_check_refused(&o, n);
	} else {
		out_check(&o, n, 8);
	}

	memset(space, POISON, sizeof(space));
	rc = vv_config_read(&info, off, space, len);
	if ((uint64_t)off + len > VV_CONFIG_SIZE) {
		FUZZ_CHECK(rc == -EINVAL);
	} else {
		FUZZ_CHECK(rc == 0);
		for (size_t i = len; i < sizeof(space); i++)
			FUZZ_CHECK(space[i] == POISON);
		/* The name keeps a NUL inside its 32 bytes. */
		if (off <= 43 && off + len > 43)
			FUZZ_CHECK(space[43 - off] == 0);
	}
	out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_cmd cmd, zero;
	struct fuzz_in in;
	size_t cap;
	int rc;

	rc = vv_cmd_decode(data, size, &cmd);
	FUZZ_CHECK(rc <= 0 && rc >= VV_DERR_PARAMS_NUM_PLANES);
	FUZZ_CHECK(vv_decode_err_str(rc) != NULL && strcmp(vv_decode_err_str(rc), "?") != 0);
	FUZZ_CHECK(vv_cmd_type_str(cmd.type) != NULL);

	/* The input's tail chooses the encoders' values (it is also part of the command;
	 * trailing bytes are legal there). */
	fin_init(&in, data, size);
	if (size > 8) {
		in.p += size / 2;
		in.left -= size / 2;
	}
	cap = size ? data[size - 1] : 0;
	if (size > 1 && (data[size - 2] & 0x80))
		cap += 4096 - 256; /* capability answers need more */

	if (rc != VV_DECODE_OK) {
		struct out_buf o = out_new(cap);
		ssize_t n;

		/* Nothing but the header survives a failed decode. */
		memset(&zero, 0, sizeof(zero));
		zero.type = cmd.type;
		zero.stream_id = cmd.stream_id;
		FUZZ_CHECK(memcmp(&zero, &cmd, sizeof(cmd)) == 0);
		if (size < 8)
			FUZZ_CHECK(cmd.type == 0 && cmd.stream_id == 0);
		FUZZ_CHECK(vv_decode_err_response(rc) ==
			   (rc == VV_DERR_UNKNOWN_TYPE ? VV_RESP_ERR_INVALID_OPERATION
						       : VV_RESP_ERR_INVALID_PARAMETER));
		n = vv_encode_hdr_resp(o.b, o.cap, vv_decode_err_response(rc), cmd.stream_id);
		out_check(&o, n, 8);
		out_free(&o);
	} else {
		FUZZ_CHECK(size >= 8);
		FUZZ_CHECK(strcmp(vv_cmd_type_str(cmd.type), "?") != 0);
		FUZZ_CHECK(cmd.type == get_le32(data) && cmd.stream_id == get_le32(data + 4));
		check_decoded(&cmd, size);
		encode_response(&cmd, &in, cap);
	}
	encode_misc(&in, cap);
	return 0;
}
