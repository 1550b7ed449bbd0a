/* Unit tests for vv_wire: decoding of every virtio-video v3 command from
 * hand-written little-endian byte vectors (written out literally here, never
 * produced by the wire structs), every truncation point of every command, the
 * structural limits (hostile-input items 14-15), and byte-exact encoding of
 * every response, the event and the config space. Truncated commands are
 * decoded from heap copies of exactly their length so that ASan flags any
 * read past the end. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "testlib.h"
#include "vv_wire.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Eight zero bytes, to keep long vectors readable. */
#define Z8 0, 0, 0, 0, 0, 0, 0, 0

/* ---------------------------------------------------------------------------------------------
 * Command vectors
 */

static const uint8_t v_query_capability[] = {
	0x00, 0x01, 0x00, 0x00, /* type QUERY_CAPABILITY */
	0x07, 0x00, 0x00, 0x00, /* stream_id 7 */
	0x01, 0x01, 0x00, 0x00, /* queue_type OUTPUT */
	0xaa, 0xbb, 0xcc, 0xdd, /* pad, ignored */
};

static const uint8_t v_stream_create[] = {
	0x01, 0x01, 0x00, 0x00, /* type STREAM_CREATE */
	0x03, 0x00, 0x00, 0x00, /* stream_id 3 */
	0x00, 0x00, 0x00, 0x00, /* in_mem_type GUEST_PAGES */
	0x01, 0x00, 0x00, 0x00, /* out_mem_type VIRTIO_OBJECT */
	0x06, 0x10, 0x00, 0x00, /* coded_format FWHT */
	0x00, 0x00, 0x00, 0x00, /* pad */
	'v', 'i', 'd', '0', 0, 0, 0, 0, /* tag[64] */
	Z8, Z8, Z8, Z8, Z8, Z8,
	0, 0, 0, 0, 0, 0, 0, 0x7e,
};

static const uint8_t v_stream_destroy[] = {
	0x02, 0x01, 0x00, 0x00, /* type STREAM_DESTROY */
	0x09, 0x00, 0x00, 0x00, /* stream_id 9 */
};

static const uint8_t v_stream_drain[] = {
	0x03, 0x01, 0x00, 0x00, /* type STREAM_DRAIN */
	0x0a, 0x00, 0x00, 0x00, /* stream_id 10 */
};

/* PER_PLANE, 2 planes with 2 + 1 entries; slots 2..7 hold garbage that must be ignored. */
static const uint8_t v_resource_create[] = {
	0x04, 0x01, 0x00, 0x00, /* type RESOURCE_CREATE */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x01, 0x01, 0x00, 0x00, /* queue_type OUTPUT */
	0x2a, 0x00, 0x00, 0x00, /* resource_id 42 */
	0x02, 0x00, 0x00, 0x00, /* planes_layout PER_PLANE */
	0x02, 0x00, 0x00, 0x00, /* num_planes 2 */
	0x00, 0x00, 0x00, 0x00, /* plane_offsets[0] 0 */
	0x00, 0x10, 0x00, 0x00, /* plane_offsets[1] 0x1000 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* plane_offsets[2..7], ignored */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x02, 0x00, 0x00, 0x00, /* num_entries[0] 2 */
	0x01, 0x00, 0x00, 0x00, /* num_entries[1] 1 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* num_entries[2..7], ignored */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	/* entry 0: addr 0x100002000, length 0x1000 */
	0x00, 0x20, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0,
	/* entry 1: addr 0x345000, length 0x800, pad not zero (ignored) */
	0x00, 0x50, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0xee, 0xee, 0xee,
	0xee,
	/* entry 2: addr 0x123456789abcdef0, length 0x10 */
	0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x10, 0x00, 0x00, 0x00, 0, 0, 0, 0,
};

/* Offsets inside RESOURCE_CREATE. */
enum {
	RC_QUEUE_TYPE = 8,
	RC_PLANES_LAYOUT = 16,
	RC_NUM_PLANES = 20,
	RC_PLANE_OFFSETS = 24,
	RC_NUM_ENTRIES = 56,
	RC_ENTRIES = 88,
};

static const uint8_t v_resource_queue[] = {
	0x05, 0x01, 0x00, 0x00, /* type RESOURCE_QUEUE */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x00, 0x01, 0x00, 0x00, /* queue_type INPUT */
	0x2a, 0x00, 0x00, 0x00, /* resource_id 42 */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* timestamp 0x0102030405060708 */
	0x02, 0x00, 0x00, 0x00, /* num_data_sizes 2 */
	0x34, 0x12, 0x00, 0x00, /* data_sizes[0] 0x1234 */
	0x00, 0x00, 0x01, 0x00, /* data_sizes[1] 0x10000 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* data_sizes[2..7], ignored */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x00, 0x00, 0x00, 0x00, /* pad */
};

enum { RQ_NUM_DATA_SIZES = 24, RQ_DATA_SIZES = 28 };

static const uint8_t v_resource_destroy_all[] = {
	0x06, 0x01, 0x00, 0x00, /* type RESOURCE_DESTROY_ALL */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x01, 0x01, 0x00, 0x00, /* queue_type OUTPUT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_queue_clear[] = {
	0x07, 0x01, 0x00, 0x00, /* type QUEUE_CLEAR */
	0x06, 0x00, 0x00, 0x00, /* stream_id 6 */
	0x00, 0x01, 0x00, 0x00, /* queue_type INPUT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_get_params[] = {
	0x08, 0x01, 0x00, 0x00, /* type GET_PARAMS */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x01, 0x01, 0x00, 0x00, /* queue_type OUTPUT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_get_params_ext[] = {
	0x0d, 0x01, 0x00, 0x00, /* type GET_PARAMS_EXT */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x00, 0x01, 0x00, 0x00, /* queue_type INPUT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

/* 112-byte params: OUTPUT, NV12 640x480, 2 planes. */
#define PARAMS_OUTPUT_NV12                                                                   \
	0x01, 0x01, 0x00, 0x00, /* queue_type OUTPUT */                                      \
	0x03, 0x00, 0x00, 0x00, /* format NV12 */                                            \
	0x80, 0x02, 0x00, 0x00, /* frame_width 640 */                                        \
	0xe0, 0x01, 0x00, 0x00, /* frame_height 480 */                                       \
	0x02, 0x00, 0x00, 0x00, /* min_buffers 2 */                                          \
	0x20, 0x00, 0x00, 0x00, /* max_buffers 32 */                                         \
	0x00, 0x00, 0x00, 0x00, /* crop.left 0 */                                            \
	0x08, 0x00, 0x00, 0x00, /* crop.top 8 */                                             \
	0x80, 0x02, 0x00, 0x00, /* crop.width 640 */                                         \
	0xd0, 0x01, 0x00, 0x00, /* crop.height 464 */                                        \
	0x1e, 0x00, 0x00, 0x00, /* frame_rate 30 */                                          \
	0x02, 0x00, 0x00, 0x00, /* num_planes 2 */                                           \
	0x00, 0xb0, 0x04, 0x00, 0x80, 0x02, 0x00, 0x00, /* plane 0: size 307200, stride 640 */ \
	0x00, 0x58, 0x02, 0x00, 0x80, 0x02, 0x00, 0x00, /* plane 1: size 153600, stride 640 */ \
	Z8, Z8, Z8, Z8, Z8, Z8 /* planes 2..7 */

static const uint8_t v_set_params[] = {
	0x09, 0x01, 0x00, 0x00, /* type SET_PARAMS */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	PARAMS_OUTPUT_NV12,
};

static const uint8_t v_set_params_ext[] = {
	0x0e, 0x01, 0x00, 0x00, /* type SET_PARAMS_EXT */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	PARAMS_OUTPUT_NV12,
	0x01, 0x00, 0x00, 0x00, /* resource_type VIRTIO_OBJECT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

enum { SP_NUM_PLANES = 8 + 44, SPX_RESOURCE_TYPE = 8 + 112 };

static const uint8_t v_query_control_profile[] = {
	0x0a, 0x01, 0x00, 0x00, /* type QUERY_CONTROL */
	0x00, 0x00, 0x00, 0x00, /* stream_id 0 */
	0x02, 0x00, 0x00, 0x00, /* control PROFILE */
	0x00, 0x00, 0x00, 0x00, /* pad */
	0x02, 0x10, 0x00, 0x00, /* format H264 */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_query_control_level[] = {
	0x0a, 0x01, 0x00, 0x00, /* type QUERY_CONTROL */
	0x01, 0x00, 0x00, 0x00, /* stream_id 1 */
	0x03, 0x00, 0x00, 0x00, /* control LEVEL */
	0x00, 0x00, 0x00, 0x00, /* pad */
	0x03, 0x10, 0x00, 0x00, /* format HEVC */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_query_control_bitrate[] = {
	0x0a, 0x01, 0x00, 0x00, /* type QUERY_CONTROL */
	0x00, 0x00, 0x00, 0x00, /* stream_id 0 */
	0x01, 0x00, 0x00, 0x00, /* control BITRATE: no control data */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_get_control[] = {
	0x0b, 0x01, 0x00, 0x00, /* type GET_CONTROL */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x02, 0x00, 0x00, 0x00, /* control PROFILE */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_set_control[] = {
	0x0c, 0x01, 0x00, 0x00, /* type SET_CONTROL */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x01, 0x00, 0x00, 0x00, /* control BITRATE */
	0x00, 0x00, 0x00, 0x00, /* pad */
	0x40, 0x42, 0x0f, 0x00, /* value 1000000 */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static const uint8_t v_set_control_keyframe[] = {
	0x0c, 0x01, 0x00, 0x00, /* type SET_CONTROL */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	0x04, 0x00, 0x00, 0x00, /* control FORCE_KEYFRAME, sent without a value */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

struct cmd_vector {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	size_t body_len; /* shorter: SHORT_BODY; from body_len to len: SHORT_ENTRIES */
	bool has_queue_type; /* at offset 8 */
};

#define VEC(arr, body, qt) { #arr, arr, sizeof(arr), body, qt }

static const struct cmd_vector vectors[] = {
	VEC(v_query_capability, 16, true),
	VEC(v_stream_create, 88, false),
	VEC(v_stream_destroy, 8, false),
	VEC(v_stream_drain, 8, false),
	VEC(v_resource_create, 88, true),
	VEC(v_resource_queue, 64, true),
	VEC(v_resource_destroy_all, 16, true),
	VEC(v_queue_clear, 16, true),
	VEC(v_get_params, 16, true),
	VEC(v_get_params_ext, 16, true),
	VEC(v_set_params, 120, true),
	VEC(v_set_params_ext, 128, true),
	VEC(v_query_control_profile, 24, false),
	VEC(v_query_control_level, 24, false),
	VEC(v_query_control_bitrate, 16, false),
	VEC(v_get_control, 16, false),
	VEC(v_set_control, 24, false),
	VEC(v_set_control_keyframe, 16, false),
};

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

/* Decodes exactly len bytes from a heap copy, so ASan sees any read past the end.
 * Only for checks that do not read mem entries afterwards (the copy is freed). */
static int decode_exact(const uint8_t *src, size_t len, struct vv_cmd *cmd)
{
	uint8_t *copy = NULL;
	int rc;

	if (len != 0) {
		copy = malloc(len);
		if (copy == NULL)
			return 1000;
		memcpy(copy, src, len);
	}
	rc = vv_cmd_decode(copy, len, cmd);
	free(copy);
	return rc;
}

/* Writes v little-endian at b + off, byte by byte (independent of the code under test). */
static void put32(uint8_t *b, size_t off, uint32_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
	b[off + 2] = (uint8_t)(v >> 16);
	b[off + 3] = (uint8_t)(v >> 24);
}

static bool all_bytes(const uint8_t *b, size_t n, uint8_t value)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != value)
			return false;
	return true;
}

/* True when everything in *cmd past type and stream_id is zero. */
static bool cmd_rest_zero(const struct vv_cmd *cmd)
{
	struct vv_cmd zero;

	memset(&zero, 0, sizeof(zero));
	zero.type = cmd->type;
	zero.stream_id = cmd->stream_id;
	return memcmp(&zero, cmd, sizeof(zero)) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Layout
 */

static void t_layout_offsets(void)
{
	CHECK_EQ(offsetof(struct vv_stream_create, tag), 24);
	CHECK_EQ(offsetof(struct vv_resource_create, plane_offsets), RC_PLANE_OFFSETS);
	CHECK_EQ(offsetof(struct vv_resource_create, num_entries), RC_NUM_ENTRIES);
	CHECK_EQ(offsetof(struct vv_resource_queue, num_data_sizes), RQ_NUM_DATA_SIZES);
	CHECK_EQ(offsetof(struct vv_resource_queue, data_sizes), RQ_DATA_SIZES);
	CHECK_EQ(offsetof(struct vv_params, crop), 24);
	CHECK_EQ(offsetof(struct vv_params, frame_rate), 40);
	CHECK_EQ(offsetof(struct vv_params, num_planes), 44);
	CHECK_EQ(offsetof(struct vv_params_ext, resource_type), 112);
	CHECK_EQ(offsetof(struct vv_set_control, value), 16);
	CHECK_EQ(offsetof(struct vv_format_frame, height), 16);
	CHECK_EQ(offsetof(struct vv_format_frame, num_rates), 32);
	CHECK_EQ(offsetof(struct vv_format_desc, format), 8);
	CHECK_EQ(offsetof(struct vv_format_desc, num_frames), 20);
	CHECK_EQ(offsetof(struct vv_resp_resource_queue, flags), 16);
	CHECK_EQ(offsetof(struct vv_resp_resource_queue, size), 20);
	CHECK_EQ(VV_CONFIG_SIZE, 44);
	CHECK_EQ(VV_CONFIG_SPEC_SIZE, 12);
	CHECK_EQ(VV_CMD_MAX_SIZE, 88 + 16 * 4096);
	/* Errors are 0x0300+, never 0x0206+. */
	CHECK_EQ(VV_RESP_ERR_INVALID_OPERATION, 0x0300);
	CHECK_EQ(VV_RESP_ERR_UNSUPPORTED_CONTROL, 0x0305);
}

/* ---------------------------------------------------------------------------------------------
 * Decoding, command by command
 */

static void t_decode_query_capability(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_query_capability, sizeof(v_query_capability), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_QUERY_CAPABILITY);
	CHECK_EQ(cmd.stream_id, 7);
	CHECK_EQ(cmd.query_capability.queue_type, VV_QUEUE_TYPE_OUTPUT);
}

static void t_decode_stream_create(void)
{
	static const uint8_t tag[64] = { 'v', 'i', 'd', '0', [63] = 0x7e };
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_stream_create, sizeof(v_stream_create), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_STREAM_CREATE);
	CHECK_EQ(cmd.stream_id, 3);
	CHECK_EQ(cmd.stream_create.in_mem_type, VV_MEM_TYPE_GUEST_PAGES);
	CHECK_EQ(cmd.stream_create.out_mem_type, VV_MEM_TYPE_VIRTIO_OBJECT);
	CHECK_EQ(cmd.stream_create.coded_format, VV_FORMAT_FWHT);
	CHECK_MEM(cmd.stream_create.tag, tag, sizeof(tag));
}

static void t_decode_stream_create_bad_mem_type(void)
{
	uint8_t b[sizeof(v_stream_create)];
	struct vv_cmd cmd;

	memcpy(b, v_stream_create, sizeof(b));
	put32(b, 8, 2);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_MEM_TYPE);
	CHECK_EQ(cmd.type, VV_CMD_STREAM_CREATE);
	CHECK_EQ(cmd.stream_id, 3);
	CHECK(cmd_rest_zero(&cmd));

	memcpy(b, v_stream_create, sizeof(b));
	put32(b, 12, 0xffffffff);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_MEM_TYPE);
}

static void t_decode_stream_destroy_drain(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_stream_destroy, sizeof(v_stream_destroy), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_STREAM_DESTROY);
	CHECK_EQ(cmd.stream_id, 9);
	CHECK(cmd_rest_zero(&cmd));

	CHECK_EQ(decode_exact(v_stream_drain, sizeof(v_stream_drain), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_STREAM_DRAIN);
	CHECK_EQ(cmd.stream_id, 10);
}

static void t_decode_resource_create(void)
{
	struct vv_cmd cmd;
	uint64_t addr = 0;
	uint32_t len = 0;

	/* Decoded in place: the entries are read from the vector afterwards. */
	REQUIRE(vv_cmd_decode(v_resource_create, sizeof(v_resource_create), &cmd) ==
		VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_RESOURCE_CREATE);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK_EQ(cmd.resource_create.queue_type, VV_QUEUE_TYPE_OUTPUT);
	CHECK_EQ(cmd.resource_create.resource_id, 42);
	CHECK_EQ(cmd.resource_create.planes_layout, VV_PLANES_LAYOUT_PER_PLANE);
	CHECK_EQ(cmd.resource_create.num_planes, 2);
	CHECK_EQ(cmd.resource_create.plane_offsets[0], 0);
	CHECK_EQ(cmd.resource_create.plane_offsets[1], 0x1000);
	CHECK_EQ(cmd.resource_create.num_entries[0], 2);
	CHECK_EQ(cmd.resource_create.num_entries[1], 1);
	for (unsigned i = 2; i < VV_MAX_PLANES; i++) {
		CHECK_EQ(cmd.resource_create.plane_offsets[i], 0);
		CHECK_EQ(cmd.resource_create.num_entries[i], 0);
	}
	CHECK_EQ(cmd.resource_create.total_entries, 3);
	CHECK(cmd.resource_create.entries == v_resource_create + RC_ENTRIES);

	CHECK_EQ(vv_mem_entry_get(&cmd, 0, &addr, &len), 0);
	CHECK_EQ(addr, 0x100002000ull);
	CHECK_EQ(len, 0x1000);
	CHECK_EQ(vv_mem_entry_get(&cmd, 1, &addr, &len), 0);
	CHECK_EQ(addr, 0x345000);
	CHECK_EQ(len, 0x800);
	CHECK_EQ(vv_mem_entry_get(&cmd, 2, &addr, &len), 0);
	CHECK(addr == 0x123456789abcdef0ull);
	CHECK_EQ(len, 0x10);
	addr = 1;
	len = 1;
	CHECK_EQ(vv_mem_entry_get(&cmd, 3, &addr, &len), -EINVAL);
	CHECK_EQ(vv_mem_entry_get(&cmd, 0xffffffffu, &addr, &len), -EINVAL);
	CHECK_EQ(addr, 1);
	CHECK_EQ(len, 1);

	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 0), 0);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 1), 2);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 2), 3);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 100), 3);
}

static void t_mem_entry_get_wrong_command(void)
{
	struct vv_cmd cmd;
	uint64_t addr;
	uint32_t len;

	REQUIRE(vv_cmd_decode(v_resource_queue, sizeof(v_resource_queue), &cmd) == VV_DECODE_OK);
	CHECK_EQ(vv_mem_entry_get(&cmd, 0, &addr, &len), -EINVAL);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 1), 0);
}

static void t_decode_resource_create_single_buffer(void)
{
	/* SINGLE_BUFFER NV12 as one buffer: 2 planes, all 3 entries counted on plane 0. */
	uint8_t b[sizeof(v_resource_create)];
	struct vv_cmd cmd;
	uint64_t addr;
	uint32_t len;

	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_PLANES_LAYOUT, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	put32(b, RC_NUM_ENTRIES, 3);
	put32(b, RC_NUM_ENTRIES + 4, 0);
	REQUIRE(vv_cmd_decode(b, sizeof(b), &cmd) == VV_DECODE_OK);
	CHECK_EQ(cmd.resource_create.planes_layout, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	CHECK_EQ(cmd.resource_create.total_entries, 3);
	CHECK_EQ(cmd.resource_create.num_entries[1], 0);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 1), 3);
	CHECK_EQ(vv_mem_entry_get(&cmd, 2, &addr, &len), 0);
	CHECK(addr == 0x123456789abcdef0ull);

	/* ... but it needs at least one entry. */
	put32(b, RC_NUM_ENTRIES, 0);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_EMPTY_PLANE);
}

static void t_decode_resource_queue(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_resource_queue, sizeof(v_resource_queue), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_RESOURCE_QUEUE);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK_EQ(cmd.resource_queue.queue_type, VV_QUEUE_TYPE_INPUT);
	CHECK_EQ(cmd.resource_queue.resource_id, 42);
	CHECK(cmd.resource_queue.timestamp == 0x0102030405060708ull);
	CHECK_EQ(cmd.resource_queue.num_data_sizes, 2);
	CHECK_EQ(cmd.resource_queue.data_sizes[0], 0x1234);
	CHECK_EQ(cmd.resource_queue.data_sizes[1], 0x10000);
	for (unsigned i = 2; i < VV_MAX_DATA_SIZES; i++)
		CHECK_EQ(cmd.resource_queue.data_sizes[i], 0);
}

static void t_decode_queue_commands(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_resource_destroy_all, sizeof(v_resource_destroy_all), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_RESOURCE_DESTROY_ALL);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK_EQ(cmd.queue.queue_type, VV_QUEUE_TYPE_OUTPUT);

	CHECK_EQ(decode_exact(v_queue_clear, sizeof(v_queue_clear), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_QUEUE_CLEAR);
	CHECK_EQ(cmd.stream_id, 6);
	CHECK_EQ(cmd.queue.queue_type, VV_QUEUE_TYPE_INPUT);
}

static void t_decode_get_params_both_numberings(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_get_params, sizeof(v_get_params), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_GET_PARAMS);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK_EQ(cmd.get_params.queue_type, VV_QUEUE_TYPE_OUTPUT);
	CHECK(!cmd.get_params.ext);

	CHECK_EQ(decode_exact(v_get_params_ext, sizeof(v_get_params_ext), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_GET_PARAMS_EXT);
	CHECK_EQ(cmd.get_params.queue_type, VV_QUEUE_TYPE_INPUT);
	CHECK(cmd.get_params.ext);
}

static void check_nv12_params(const struct vv_stream_params *p)
{
	CHECK_EQ(p->queue_type, VV_QUEUE_TYPE_OUTPUT);
	CHECK_EQ(p->format, VV_FORMAT_NV12);
	CHECK_EQ(p->frame_width, 640);
	CHECK_EQ(p->frame_height, 480);
	CHECK_EQ(p->min_buffers, 2);
	CHECK_EQ(p->max_buffers, 32);
	CHECK_EQ(p->crop.left, 0);
	CHECK_EQ(p->crop.top, 8);
	CHECK_EQ(p->crop.width, 640);
	CHECK_EQ(p->crop.height, 464);
	CHECK_EQ(p->frame_rate, 30);
	CHECK_EQ(p->num_planes, 2);
	CHECK_EQ(p->plane_formats[0].plane_size, 307200);
	CHECK_EQ(p->plane_formats[0].stride, 640);
	CHECK_EQ(p->plane_formats[1].plane_size, 153600);
	CHECK_EQ(p->plane_formats[1].stride, 640);
}

static void t_decode_set_params(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_set_params, sizeof(v_set_params), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_SET_PARAMS);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK(!cmd.set_params.ext);
	check_nv12_params(&cmd.set_params.params);
	CHECK_EQ(cmd.set_params.params.resource_type, 0);
}

static void t_decode_set_params_ext(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_set_params_ext, sizeof(v_set_params_ext), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_SET_PARAMS_EXT);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK(cmd.set_params.ext);
	check_nv12_params(&cmd.set_params.params);
	CHECK_EQ(cmd.set_params.params.resource_type, VV_MEM_TYPE_VIRTIO_OBJECT);
}

static void t_decode_query_control(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_query_control_profile, sizeof(v_query_control_profile), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_QUERY_CONTROL);
	CHECK_EQ(cmd.stream_id, 0);
	CHECK_EQ(cmd.query_control.control, VV_CONTROL_PROFILE);
	CHECK(cmd.query_control.has_format);
	CHECK_EQ(cmd.query_control.format, VV_FORMAT_H264);

	CHECK_EQ(decode_exact(v_query_control_level, sizeof(v_query_control_level), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.stream_id, 1);
	CHECK_EQ(cmd.query_control.control, VV_CONTROL_LEVEL);
	CHECK(cmd.query_control.has_format);
	CHECK_EQ(cmd.query_control.format, VV_FORMAT_HEVC);

	CHECK_EQ(decode_exact(v_query_control_bitrate, sizeof(v_query_control_bitrate), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.query_control.control, VV_CONTROL_BITRATE);
	CHECK(!cmd.query_control.has_format);
	CHECK_EQ(cmd.query_control.format, 0);

	/* An unknown control is structurally fine: the device answers UNSUPPORTED_CONTROL. */
	uint8_t b[sizeof(v_query_control_bitrate)];

	memcpy(b, v_query_control_bitrate, sizeof(b));
	put32(b, 8, 0x77);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.query_control.control, 0x77);
}

static void t_decode_get_set_control(void)
{
	struct vv_cmd cmd;

	CHECK_EQ(decode_exact(v_get_control, sizeof(v_get_control), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_GET_CONTROL);
	CHECK_EQ(cmd.stream_id, 5);
	CHECK_EQ(cmd.control.control, VV_CONTROL_PROFILE);
	CHECK_EQ(cmd.control.value, 0);

	CHECK_EQ(decode_exact(v_set_control, sizeof(v_set_control), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.type, VV_CMD_SET_CONTROL);
	CHECK_EQ(cmd.control.control, VV_CONTROL_BITRATE);
	CHECK_EQ(cmd.control.value, 1000000);

	CHECK_EQ(decode_exact(v_set_control_keyframe, sizeof(v_set_control_keyframe), &cmd),
		 VV_DECODE_OK);
	CHECK_EQ(cmd.control.control, VV_CONTROL_FORCE_KEYFRAME);
	CHECK_EQ(cmd.control.value, 0);

	/* FORCE_KEYFRAME with a value: read as sent. */
	uint8_t b[24];

	memcpy(b, v_set_control, sizeof(b));
	put32(b, 8, VV_CONTROL_FORCE_KEYFRAME);
	put32(b, 16, 1);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.control.value, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Decoding: lengths, types, limits
 */

static void t_decode_every_truncation(void)
{
	for (size_t v = 0; v < ARRAY_SIZE(vectors); v++) {
		const struct cmd_vector *vec = &vectors[v];
		struct vv_cmd cmd;

		CHECK_EQ(decode_exact(vec->bytes, vec->len, &cmd), VV_DECODE_OK);
		for (size_t len = 0; len < vec->len; len++) {
			int expected = len < 8 ? VV_DERR_SHORT_HEADER
				     : len < vec->body_len ? VV_DERR_SHORT_BODY
				     : VV_DERR_SHORT_ENTRIES;
			int rc;

			memset(&cmd, 0x5a, sizeof(cmd));
			rc = decode_exact(vec->bytes, len, &cmd);
			if (rc != expected)
				fprintf(stderr, "%s truncated to %zu\n", vec->name, len);
			CHECK_EQ(rc, expected);
			/* The header is echoed once complete, nothing else is left behind. */
			CHECK_EQ(cmd.type, len < 8 ? 0 : (uint32_t)vec->bytes[0] |
						 (uint32_t)vec->bytes[1] << 8);
			CHECK_EQ(cmd.stream_id, len < 8 ? 0 : vec->bytes[4]);
			CHECK(cmd_rest_zero(&cmd));
		}
	}
	/* NULL buffer. */
	struct vv_cmd cmd;

	CHECK_EQ(vv_cmd_decode(NULL, 0, &cmd), VV_DERR_SHORT_HEADER);
	CHECK_EQ(vv_cmd_decode(NULL, 100, &cmd), VV_DERR_SHORT_HEADER);
}

static void t_decode_trailing_bytes_tolerated(void)
{
	uint8_t b[sizeof(v_resource_create) + 37];

	for (size_t v = 0; v < ARRAY_SIZE(vectors); v++) {
		const struct cmd_vector *vec = &vectors[v];
		struct vv_cmd cmd;

		memset(b, 0xc3, sizeof(b));
		memcpy(b, vec->bytes, vec->len);
		CHECK_EQ(decode_exact(b, vec->len + 37, &cmd), VV_DECODE_OK);
		CHECK_EQ(cmd.type, (uint32_t)vec->bytes[0] | (uint32_t)vec->bytes[1] << 8);
	}
}

static void t_decode_unknown_type(void)
{
	static const uint32_t types[] = {
		0, 0x00ff, 0x0200, 0x010f, 0x0110, 0x0300, 0x1000104, 0xffffffff,
	};
	uint8_t b[16] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct vv_cmd cmd;
		int rc;

		put32(b, 0, types[i]);
		put32(b, 4, 0x11223344);
		rc = decode_exact(b, 8, &cmd);
		CHECK_EQ(rc, VV_DERR_UNKNOWN_TYPE);
		CHECK_EQ(cmd.type, types[i]);
		CHECK_EQ(cmd.stream_id, 0x11223344);
		CHECK_EQ(vv_decode_err_response(rc), VV_RESP_ERR_INVALID_OPERATION);
		CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_UNKNOWN_TYPE);
		/* Short header wins over the type. */
		CHECK_EQ(decode_exact(b, 7, &cmd), VV_DERR_SHORT_HEADER);
	}
}

static void t_decode_bad_queue_type(void)
{
	static const uint32_t bad[] = { 0, 0xff, 0x102, 0x100100, 0xffffffff };
	uint8_t b[256];

	for (size_t v = 0; v < ARRAY_SIZE(vectors); v++) {
		const struct cmd_vector *vec = &vectors[v];

		if (!vec->has_queue_type)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			struct vv_cmd cmd;

			memcpy(b, vec->bytes, vec->len);
			put32(b, 8, bad[i]);
			CHECK_EQ(decode_exact(b, vec->len, &cmd), VV_DERR_QUEUE_TYPE);
			CHECK(cmd_rest_zero(&cmd));
		}
		/* Both valid values pass. */
		struct vv_cmd cmd;

		memcpy(b, vec->bytes, vec->len);
		put32(b, 8, VV_QUEUE_TYPE_INPUT);
		CHECK_EQ(decode_exact(b, vec->len, &cmd), VV_DECODE_OK);
		put32(b, 8, VV_QUEUE_TYPE_OUTPUT);
		CHECK_EQ(decode_exact(b, vec->len, &cmd), VV_DECODE_OK);
	}
}

static void t_decode_resource_create_limits(void)
{
	uint8_t b[sizeof(v_resource_create)];
	struct vv_cmd cmd;

	/* num_planes 0 and 9. */
	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_NUM_PLANES, 0);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_NUM_PLANES);
	put32(b, RC_NUM_PLANES, 9);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_NUM_PLANES);
	put32(b, RC_NUM_PLANES, 0xffffffff);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_NUM_PLANES);

	/* planes_layout 0 (left unset by the 6.1-based guest driver) reads as PER_PLANE. */
	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_PLANES_LAYOUT, 0);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.resource_create.planes_layout, VV_PLANES_LAYOUT_PER_PLANE);
	/* Other values than 1 and 2 (also 3 = both bits). */
	put32(b, RC_PLANES_LAYOUT, 3);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_PLANES_LAYOUT);

	/* A PER_PLANE plane without entries. */
	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_NUM_ENTRIES, 3);
	put32(b, RC_NUM_ENTRIES + 4, 0);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_EMPTY_PLANE);

	/* The entry array one byte short, then one entry short. */
	CHECK_EQ(decode_exact(v_resource_create, sizeof(v_resource_create) - 1, &cmd),
		 VV_DERR_SHORT_ENTRIES);
	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_NUM_ENTRIES + 4, 2);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_SHORT_ENTRIES);

	/* 16 * 0x10000001 wraps to 0x10 in 32 bits: a naive check would accept 104 bytes. */
	memcpy(b, v_resource_create, sizeof(b));
	put32(b, RC_NUM_PLANES, 1);
	put32(b, RC_NUM_ENTRIES, 0x10000001);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_TOO_MANY_ENTRIES);
	/* Two planes whose counts sum to 2^32 (0 in 32 bits). */
	put32(b, RC_NUM_PLANES, 2);
	put32(b, RC_NUM_ENTRIES, 0x80000000);
	put32(b, RC_NUM_ENTRIES + 4, 0x80000000);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_TOO_MANY_ENTRIES);
	/* Eight planes of 0xffffffff. */
	put32(b, RC_NUM_PLANES, 8);
	for (unsigned i = 0; i < 8; i++)
		put32(b, RC_NUM_ENTRIES + 4 * i, 0xffffffff);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_TOO_MANY_ENTRIES);
	CHECK(cmd_rest_zero(&cmd));
}

static void t_decode_resource_create_entry_cap(void)
{
	size_t full = RC_ENTRIES + 16 * (size_t)(VV_MAX_MEM_ENTRIES + 1);
	uint8_t *b = calloc(1, full);
	struct vv_cmd cmd;
	uint64_t addr;
	uint32_t len;

	REQUIRE(b != NULL);
	memcpy(b, v_resource_create, RC_ENTRIES);
	/* Last of 4096 entries: addr 0xabc000, length 4096. */
	put32(b, RC_ENTRIES + 16 * (VV_MAX_MEM_ENTRIES - 1), 0xabc000);
	put32(b, RC_ENTRIES + 16 * (VV_MAX_MEM_ENTRIES - 1) + 8, 4096);

	/* Exactly the cap, in a buffer of exactly the needed size. */
	put32(b, RC_NUM_ENTRIES, VV_MAX_MEM_ENTRIES - 1);
	put32(b, RC_NUM_ENTRIES + 4, 1);
	CHECK_EQ(vv_cmd_decode(b, full - 16, &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.resource_create.total_entries, VV_MAX_MEM_ENTRIES);
	CHECK_EQ(vv_mem_entry_get(&cmd, VV_MAX_MEM_ENTRIES - 1, &addr, &len), 0);
	CHECK_EQ(addr, 0xabc000);
	CHECK_EQ(len, 4096);
	CHECK_EQ(vv_mem_entry_get(&cmd, VV_MAX_MEM_ENTRIES, &addr, &len), -EINVAL);
	CHECK_EQ(vv_resource_plane_first_entry(&cmd, 1), VV_MAX_MEM_ENTRIES - 1);
	CHECK_EQ(decode_exact(b, full - 17, &cmd), VV_DERR_SHORT_ENTRIES);

	/* One above the cap fails although the buffer holds all the entries. */
	put32(b, RC_NUM_ENTRIES, VV_MAX_MEM_ENTRIES);
	CHECK_EQ(vv_cmd_decode(b, full, &cmd), VV_DERR_TOO_MANY_ENTRIES);
	free(b);
}

static void t_decode_resource_queue_limits(void)
{
	uint8_t b[sizeof(v_resource_queue)];
	struct vv_cmd cmd;

	memcpy(b, v_resource_queue, sizeof(b));
	put32(b, RQ_NUM_DATA_SIZES, 9);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_NUM_DATA_SIZES);
	put32(b, RQ_NUM_DATA_SIZES, 0xffffffff);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DERR_NUM_DATA_SIZES);
	CHECK(cmd_rest_zero(&cmd));

	put32(b, RQ_NUM_DATA_SIZES, 8);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.resource_queue.num_data_sizes, 8);
	CHECK_EQ(cmd.resource_queue.data_sizes[1], 0x10000);
	CHECK_EQ(cmd.resource_queue.data_sizes[7], 0xffffffff);

	/* Output buffers may carry no data sizes at all. */
	put32(b, RQ_NUM_DATA_SIZES, 0);
	CHECK_EQ(decode_exact(b, sizeof(b), &cmd), VV_DECODE_OK);
	CHECK_EQ(cmd.resource_queue.num_data_sizes, 0);
	CHECK_EQ(cmd.resource_queue.data_sizes[0], 0);
}

static void t_decode_params_limits(void)
{
	uint8_t b[sizeof(v_set_params_ext)];
	struct vv_cmd cmd;

	memcpy(b, v_set_params, sizeof(v_set_params));
	put32(b, SP_NUM_PLANES, 9);
	CHECK_EQ(decode_exact(b, sizeof(v_set_params), &cmd), VV_DERR_PARAMS_NUM_PLANES);
	put32(b, SP_NUM_PLANES, 8);
	CHECK_EQ(decode_exact(b, sizeof(v_set_params), &cmd), VV_DECODE_OK);
	put32(b, SP_NUM_PLANES, 0);
	CHECK_EQ(decode_exact(b, sizeof(v_set_params), &cmd), VV_DECODE_OK);
	/* Plane slots beyond num_planes are not taken over. */
	CHECK_EQ(cmd.set_params.params.plane_formats[0].plane_size, 0);

	memcpy(b, v_set_params_ext, sizeof(v_set_params_ext));
	put32(b, SP_NUM_PLANES, 9);
	CHECK_EQ(decode_exact(b, sizeof(v_set_params_ext), &cmd), VV_DERR_PARAMS_NUM_PLANES);

	memcpy(b, v_set_params_ext, sizeof(v_set_params_ext));
	put32(b, SPX_RESOURCE_TYPE, 2);
	CHECK_EQ(decode_exact(b, sizeof(v_set_params_ext), &cmd), VV_DERR_MEM_TYPE);
	CHECK(cmd_rest_zero(&cmd));
}

static void t_decode_err_response_mapping(void)
{
	static const int param_errors[] = {
		VV_DERR_SHORT_HEADER, VV_DERR_SHORT_BODY, VV_DERR_SHORT_ENTRIES,
		VV_DERR_QUEUE_TYPE, VV_DERR_MEM_TYPE, VV_DERR_PLANES_LAYOUT,
		VV_DERR_NUM_PLANES, VV_DERR_EMPTY_PLANE, VV_DERR_TOO_MANY_ENTRIES,
		VV_DERR_NUM_DATA_SIZES, VV_DERR_PARAMS_NUM_PLANES,
	};

	CHECK_EQ(vv_decode_err_response(VV_DECODE_OK), VV_RESP_OK_NODATA);
	CHECK_EQ(vv_decode_err_response(VV_DERR_UNKNOWN_TYPE), VV_RESP_ERR_INVALID_OPERATION);
	for (size_t i = 0; i < ARRAY_SIZE(param_errors); i++) {
		CHECK_EQ(vv_decode_err_response(param_errors[i]), VV_RESP_ERR_INVALID_PARAMETER);
		CHECK(strcmp(vv_decode_err_str(param_errors[i]), "?") != 0);
	}
	CHECK(strcmp(vv_decode_err_str(-99), "?") == 0);
	CHECK(strcmp(vv_cmd_type_str(VV_CMD_SET_PARAMS_EXT), "SET_PARAMS_EXT") == 0);
	CHECK(strcmp(vv_cmd_type_str(0x0200), "?") == 0);
}

/* Deterministic random commands: the decoder's invariants hold for each result. */
static void t_decode_random_invariants(void)
{
	uint32_t seed = 12345;
	uint8_t b[400];
	unsigned ok = 0;

	for (unsigned iter = 0; iter < 50000; iter++) {
		struct vv_cmd cmd;
		size_t len;
		int rc;

		for (size_t i = 0; i < sizeof(b); i++) {
			seed = seed * 1103515245u + 12345u;
			b[i] = (uint8_t)(seed >> 16);
		}
		/* Mostly valid types and small counts so that success paths are reached. */
		put32(b, 0, 0x0100 + (b[1] % 16));
		if (b[2] & 1)
			put32(b, 8, 0x100 + (b[3] & 1));
		put32(b, RC_PLANES_LAYOUT, 1 + (b[5] & 1));
		put32(b, RC_NUM_PLANES, b[6] % 10);
		for (unsigned p = 0; p < 8; p++)
			put32(b, RC_NUM_ENTRIES + 4 * p, b[RC_NUM_ENTRIES + 4 * p] % 4);
		put32(b, RQ_NUM_DATA_SIZES, b[7] % 10);
		put32(b, SP_NUM_PLANES, b[9] % 10);
		len = seed % sizeof(b);

		rc = decode_exact(b, len, &cmd);
		CHECK(rc <= 0 && rc >= VV_DERR_PARAMS_NUM_PLANES);
		if (rc != VV_DECODE_OK) {
			CHECK(cmd_rest_zero(&cmd));
			continue;
		}
		ok++;
		if (cmd.type == VV_CMD_RESOURCE_CREATE) {
			const struct vv_cmd_resource_create *rc_cmd = &cmd.resource_create;

			CHECK(rc_cmd->num_planes >= 1 && rc_cmd->num_planes <= 8);
			CHECK(rc_cmd->total_entries >= 1);
			CHECK(88 + 16 * (size_t)rc_cmd->total_entries <= len);
		}
		if (cmd.type == VV_CMD_RESOURCE_QUEUE)
			CHECK(cmd.resource_queue.num_data_sizes <= 8);
	}
	CHECK(ok > 1000);
}

/* ---------------------------------------------------------------------------------------------
 * Encoding
 */

static void t_encode_hdr_responses(void)
{
	static const uint8_t nodata[] = { 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00 };
	static const uint8_t errors[6][8] = {
		{ 0x00, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
		{ 0x01, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
		{ 0x02, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
		{ 0x03, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
		{ 0x04, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
		{ 0x05, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00 },
	};
	uint8_t out[16];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_hdr_resp(out, sizeof(out), VV_RESP_OK_NODATA, 5), 8);
	CHECK_MEM(out, nodata, 8);
	CHECK(all_bytes(out + 8, 8, 0xee));

	for (uint32_t i = 0; i < 6; i++) {
		CHECK_EQ(vv_encode_hdr_resp(out, 8, VV_RESP_ERR_INVALID_OPERATION + i, 42), 8);
		CHECK_MEM(out, errors[i], 8);
	}

	/* Types with a body, and the 0x0206+ numbers some device used, are refused. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_hdr_resp(out, 8, VV_RESP_OK_QUERY_CAPABILITY, 5), -EINVAL);
	CHECK_EQ(vv_encode_hdr_resp(out, 8, 0x0206, 5), -EINVAL);
	CHECK_EQ(vv_encode_hdr_resp(out, 8, 0x0306, 5), -EINVAL);
	CHECK_EQ(vv_encode_hdr_resp(out, 7, VV_RESP_ERR_INVALID_PARAMETER, 5), -ENOSPC);
	CHECK_EQ(vv_encode_hdr_resp(NULL, 0, VV_RESP_OK_NODATA, 5), -ENOSPC);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_encode_resource_queue(void)
{
	static const uint8_t expected[] = {
		0x02, 0x02, 0x00, 0x00, /* OK_RESOURCE_QUEUE */
		0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* timestamp */
		0x03, 0x00, 0x00, 0x00, /* flags ERR | EOS */
		0x45, 0x23, 0x01, 0x00, /* size 0x12345 */
	};
	uint8_t out[32];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_resource_queue(out, sizeof(out), 5, 0x1122334455667788ull,
					  VV_BUFFER_FLAG_ERR | VV_BUFFER_FLAG_EOS, 0x12345), 24);
	CHECK_MEM(out, expected, sizeof(expected));
	CHECK(all_bytes(out + 24, 8, 0xee));

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_resource_queue(out, 23, 5, 1, 0, 0), -ENOSPC);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static const uint8_t expected_get_params_ext[] = {
	0x03, 0x02, 0x00, 0x00, /* OK_GET_PARAMS */
	0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
	PARAMS_OUTPUT_NV12,
	0x01, 0x00, 0x00, 0x00, /* resource_type VIRTIO_OBJECT */
	0x00, 0x00, 0x00, 0x00, /* pad */
};

static struct vv_stream_params nv12_params(void)
{
	struct vv_stream_params p;

	memset(&p, 0, sizeof(p));
	p.queue_type = VV_QUEUE_TYPE_OUTPUT;
	p.format = VV_FORMAT_NV12;
	p.frame_width = 640;
	p.frame_height = 480;
	p.min_buffers = 2;
	p.max_buffers = 32;
	p.crop.top = 8;
	p.crop.width = 640;
	p.crop.height = 464;
	p.frame_rate = 30;
	p.num_planes = 2;
	p.plane_formats[0].plane_size = 307200;
	p.plane_formats[0].stride = 640;
	p.plane_formats[1].plane_size = 153600;
	p.plane_formats[1].stride = 640;
	/* Garbage beyond num_planes is not sent. */
	p.plane_formats[2].plane_size = 0xdeadbeef;
	p.plane_formats[7].stride = 0xdeadbeef;
	p.resource_type = VV_MEM_TYPE_VIRTIO_OBJECT;
	return p;
}

static void t_encode_get_params(void)
{
	struct vv_stream_params p = nv12_params();
	uint8_t out[136];

	_Static_assert(sizeof(expected_get_params_ext) == 128, "vector size");

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_get_params(out, sizeof(out), 5, &p, true), 128);
	CHECK_MEM(out, expected_get_params_ext, 128);
	CHECK(all_bytes(out + 128, 8, 0xee));

	/* Spec numbering: the same bytes without resource_type and pad. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_get_params(out, 120, 5, &p, false), 120);
	CHECK_MEM(out, expected_get_params_ext, 120);
	CHECK(all_bytes(out + 120, 16, 0xee));

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_get_params(out, 119, 5, &p, false), -ENOSPC);
	CHECK_EQ(vv_encode_get_params(out, 127, 5, &p, true), -ENOSPC);
	p.num_planes = 9;
	CHECK_EQ(vv_encode_get_params(out, sizeof(out), 5, &p, true), -EINVAL);
	CHECK_EQ(vv_encode_get_params(out, sizeof(out), 5, NULL, true), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_params_round_trip(void)
{
	struct vv_cmd cmd;
	uint8_t out[128];

	/* SET_PARAMS → host params → OK_GET_PARAMS carries the same 112 bytes. */
	REQUIRE(decode_exact(v_set_params, sizeof(v_set_params), &cmd) == VV_DECODE_OK);
	CHECK_EQ(vv_encode_get_params(out, sizeof(out), cmd.stream_id, &cmd.set_params.params,
				      cmd.set_params.ext), 120);
	CHECK_MEM(out, "\x03\x02\x00\x00\x05\x00\x00\x00", 8);
	CHECK_MEM(out + 8, v_set_params + 8, 112);

	REQUIRE(decode_exact(v_set_params_ext, sizeof(v_set_params_ext), &cmd) == VV_DECODE_OK);
	CHECK_EQ(vv_encode_get_params(out, sizeof(out), cmd.stream_id, &cmd.set_params.params,
				      cmd.set_params.ext), 128);
	CHECK_MEM(out, "\x03\x02\x00\x00\x05\x00\x00\x00", 8);
	CHECK_MEM(out + 8, v_set_params_ext + 8, 120);

	/* And encoded host params decode back to the same values. */
	struct vv_stream_params p = nv12_params();
	uint8_t cmd_bytes[128];

	REQUIRE(vv_encode_get_params(cmd_bytes, sizeof(cmd_bytes), 5, &p, true) == 128);
	put32(cmd_bytes, 0, VV_CMD_SET_PARAMS_EXT);
	REQUIRE(decode_exact(cmd_bytes, sizeof(cmd_bytes), &cmd) == VV_DECODE_OK);
	p.plane_formats[2].plane_size = 0;
	p.plane_formats[7].stride = 0;
	CHECK_MEM(&cmd.set_params.params, &p, sizeof(p));
}

static void t_encode_query_control(void)
{
	static const uint8_t expected[] = {
		0x04, 0x02, 0x00, 0x00, /* OK_QUERY_CONTROL */
		0x00, 0x00, 0x00, 0x00, /* stream_id 0 */
		0x03, 0x00, 0x00, 0x00, /* num 3 */
		0x00, 0x00, 0x00, 0x00, /* pad */
		0x00, 0x01, 0x00, 0x00, /* H264 BASELINE */
		0x01, 0x01, 0x00, 0x00, /* H264 MAIN */
		0x03, 0x01, 0x00, 0x00, /* H264 HIGH */
	};
	static const uint8_t expected_empty[] = {
		0x04, 0x02, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	const uint32_t profiles[] = {
		VV_PROFILE_H264_BASELINE, VV_PROFILE_H264_MAIN, VV_PROFILE_H264_HIGH,
	};
	uint8_t out[32];

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_query_control(out, sizeof(out), 0, profiles, 3), 28);
	CHECK_MEM(out, expected, sizeof(expected));
	CHECK(all_bytes(out + 28, 4, 0xee));

	CHECK_EQ(vv_encode_query_control(out, 16, 7, NULL, 0), 16);
	CHECK_MEM(out, expected_empty, sizeof(expected_empty));

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_query_control(out, 27, 0, profiles, 3), -ENOSPC);
	/* A count that cannot fit is refused before any value is read. */
	CHECK_EQ(vv_encode_query_control(out, sizeof(out), 0, profiles, 0xffffffffu), -ENOSPC);
	CHECK_EQ(vv_encode_query_control(out, sizeof(out), 0, NULL, 1), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_encode_get_control(void)
{
	static const uint8_t expected[] = {
		0x05, 0x02, 0x00, 0x00, /* OK_GET_CONTROL */
		0x05, 0x00, 0x00, 0x00, /* stream_id 5 */
		0x03, 0x01, 0x00, 0x00, /* value H264 HIGH */
		0x00, 0x00, 0x00, 0x00, /* pad */
	};
	uint8_t out[16];

	CHECK_EQ(vv_encode_get_control(out, sizeof(out), 5, VV_PROFILE_H264_HIGH), 16);
	CHECK_MEM(out, expected, sizeof(expected));
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_get_control(out, 15, 5, 1), -ENOSPC);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

/* The nested example: H264 (1 frame size, 2 rates) and FWHT (2 frame sizes, 0 and 1 rate). */
static const struct vv_caps_range h264_rates[] = { { 1, 30, 1 }, { 50, 60, 10 } };
static const struct vv_caps_frame h264_frames[] = {
	{ { 16, 1920, 16 }, { 16, 1088, 16 }, h264_rates, 2 },
};
static const struct vv_caps_range fwht_rates[] = { { 30, 30, 1 } };
static const struct vv_caps_frame fwht_frames[] = {
	{ { 640, 640, 0 }, { 480, 480, 0 }, NULL, 0 },
	{ { 1, 0x10000, 2 }, { 2, 4096, 2 }, fwht_rates, 1 },
};
static const struct vv_caps_format example_descs[] = {
	{ 0x3, VV_FORMAT_H264, VV_PLANES_LAYOUT_SINGLE_BUFFER, 0, h264_frames, 1 },
	{ 0x8000000000000001ull, VV_FORMAT_FWHT, VV_PLANES_LAYOUT_SINGLE_BUFFER, 4, fwht_frames,
	  2 },
};

static const uint8_t expected_caps[] = {
	0x01, 0x02, 0x00, 0x00, /* OK_QUERY_CAPABILITY */
	0x09, 0x00, 0x00, 0x00, /* stream_id 9 */
	0x02, 0x00, 0x00, 0x00, /* num_descs 2 */
	0x00, 0x00, 0x00, 0x00, /* pad */
	/* desc 0 */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* mask 0x3 */
	0x02, 0x10, 0x00, 0x00, /* format H264 */
	0x01, 0x00, 0x00, 0x00, /* planes_layout SINGLE_BUFFER */
	0x00, 0x00, 0x00, 0x00, /* plane_align 0 */
	0x01, 0x00, 0x00, 0x00, /* num_frames 1 */
	/* desc 0 frame 0 */
	0x10, 0x00, 0x00, 0x00, 0x80, 0x07, 0x00, 0x00, /* width min 16, max 1920 */
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 16, pad */
	0x10, 0x00, 0x00, 0x00, 0x40, 0x04, 0x00, 0x00, /* height min 16, max 1088 */
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 16, pad */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* num_rates 2, pad */
	0x01, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, /* rate 1..30 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 1, pad */
	0x32, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, /* rate 50..60 */
	0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 10, pad */
	/* desc 1 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, /* mask bits 0 and 63 */
	0x06, 0x10, 0x00, 0x00, /* format FWHT */
	0x01, 0x00, 0x00, 0x00, /* planes_layout SINGLE_BUFFER */
	0x04, 0x00, 0x00, 0x00, /* plane_align 4 */
	0x02, 0x00, 0x00, 0x00, /* num_frames 2 */
	/* desc 1 frame 0 */
	0x80, 0x02, 0x00, 0x00, 0x80, 0x02, 0x00, 0x00, /* width 640..640 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 0, pad */
	0xe0, 0x01, 0x00, 0x00, 0xe0, 0x01, 0x00, 0x00, /* height 480..480 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 0, pad */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* num_rates 0, pad */
	/* desc 1 frame 1 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* width 1..65536 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 2, pad */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, /* height 2..4096 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 2, pad */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* num_rates 1, pad */
	0x1e, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, /* rate 30..30 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* step 1, pad */
};

static void t_encode_query_capability_nested(void)
{
	const struct vv_caps caps = { example_descs, 2 };
	uint8_t out[4096];

	_Static_assert(sizeof(expected_caps) == 232, "16 + (24 + 40 + 32) + (24 + 40 + 56)");
	CHECK_EQ(vv_caps_encoded_size(&caps), 232);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 9, &caps), 232);
	CHECK_MEM(out, expected_caps, sizeof(expected_caps));
	for (size_t i = 0; i < sizeof(expected_caps); i++) {
		if (out[i] != expected_caps[i]) {
			fprintf(stderr, "caps byte %zu: %#x, expected %#x\n", i, out[i],
				expected_caps[i]);
			break;
		}
	}
	CHECK(all_bytes(out + 232, sizeof(out) - 232, 0xee));

	/* Exactly enough room works; every smaller capacity fails and writes nothing. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_query_capability(out, 232, 9, &caps), 232);
	CHECK_MEM(out, expected_caps, sizeof(expected_caps));
	memset(out, 0xee, sizeof(out));
	for (size_t cap = 0; cap < 232; cap++)
		CHECK_EQ(vv_encode_query_capability(out, cap, 9, &caps), -ENOSPC);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_encode_query_capability_invalid(void)
{
	static const uint8_t expected_empty[] = {
		0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct vv_caps_format many[VV_MAX_FORMAT_DESCS + 1];
	struct vv_caps_frame huge_frame = { { 1, 1, 1 }, { 1, 1, 1 }, fwht_rates, 0xffffffffu };
	struct vv_caps_format bad_desc = { 0, VV_FORMAT_FWHT, 1, 0, NULL, 1 };
	struct vv_caps_frame bad_frame = { { 1, 1, 1 }, { 1, 1, 1 }, NULL, 2 };
	struct vv_caps_format desc = { 0, VV_FORMAT_FWHT, 1, 0, &bad_frame, 1 };
	struct vv_caps caps;
	uint8_t out[64];

	/* No descriptors at all: just the header and a zero count. */
	caps = (struct vv_caps){ NULL, 0 };
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), 16);
	CHECK_MEM(out, expected_empty, sizeof(expected_empty));

	memset(out, 0xee, sizeof(out));
	memset(many, 0, sizeof(many));
	caps = (struct vv_caps){ many, VV_MAX_FORMAT_DESCS };
	CHECK_EQ(vv_caps_encoded_size(&caps), 16 + 24 * VV_MAX_FORMAT_DESCS);
	caps.num_descs = VV_MAX_FORMAT_DESCS + 1;
	CHECK_EQ(vv_caps_encoded_size(&caps), 0);
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), -EINVAL);
	caps = (struct vv_caps){ NULL, 1 };
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), -EINVAL);
	caps = (struct vv_caps){ &bad_desc, 1 };
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), -EINVAL);
	caps = (struct vv_caps){ &desc, 1 };
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), -EINVAL);
	/* 40 + 16 * (2^32 - 1) does not fit max_caps_length's 32 bits; rates are not read. */
	desc.frames = &huge_frame;
	CHECK_EQ(vv_caps_encoded_size(&caps), 0);
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, &caps), -EINVAL);
	CHECK_EQ(vv_encode_query_capability(out, sizeof(out), 0, NULL), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_encode_event(void)
{
	static const uint8_t resolution[] = { 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00 };
	static const uint8_t error[] = { 0x00, 0x01, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01 };
	uint8_t out[8];

	CHECK_EQ(vv_encode_event(out, 8, VV_EVENT_DECODER_RESOLUTION_CHANGED, 3), 8);
	CHECK_MEM(out, resolution, 8);
	CHECK_EQ(vv_encode_event(out, 8, VV_EVENT_ERROR, 0x01020304), 8);
	CHECK_MEM(out, error, 8);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_event(out, 7, VV_EVENT_ERROR, 1), -ENOSPC);
	CHECK_EQ(vv_encode_event(out, 8, 0x0300, 1), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static const uint8_t expected_config[] = {
	0x00, 0x00, 0x00, 0x00, /* version 0 */
	0x00, 0x10, 0x00, 0x00, /* max_caps_length 4096 */
	0x00, 0x04, 0x00, 0x00, /* max_resp_length 1024 */
	'v', 'h', 'o', 's', 't', '-', 'u', 's', 'e', 'r', '-', 'v', 'i', 'd', 'e', 'o',
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void t_encode_config(void)
{
	struct vv_config_info info = { 4096, 1024, "vhost-user-video" };
	uint8_t out[48];

	_Static_assert(sizeof(expected_config) == 44, "config size");
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_config(out, sizeof(out), &info), 44);
	CHECK_MEM(out, expected_config, 44);
	CHECK(all_bytes(out + 44, 4, 0xee));

	/* A long name keeps its first 31 bytes and a NUL. */
	info.device_name = "0123456789abcdef0123456789abcdefXYZ";
	CHECK_EQ(vv_encode_config(out, 44, &info), 44);
	CHECK_MEM(out + 12, "0123456789abcdef0123456789abcde", 31);
	CHECK_EQ(out[43], 0);

	info.device_name = NULL;
	CHECK_EQ(vv_encode_config(out, 44, &info), 44);
	CHECK(all_bytes(out + 12, 32, 0));

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_encode_config(out, 43, &info), -ENOSPC);
	info.max_caps_length = 0;
	CHECK_EQ(vv_encode_config(out, 44, &info), -EINVAL);
	info.max_caps_length = 4096;
	info.max_resp_length = 0;
	CHECK_EQ(vv_encode_config(out, 44, &info), -EINVAL);
	CHECK_EQ(vv_encode_config(out, 44, NULL), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

static void t_config_read_windows(void)
{
	const struct vv_config_info info = { 4096, 1024, "vhost-user-video" };
	uint8_t out[44];

	/* The spec's 12 bytes, the whole 44, and windows inside. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_config_read(&info, 0, out, 12), 0);
	CHECK_MEM(out, expected_config, 12);
	CHECK(all_bytes(out + 12, 32, 0xee));
	CHECK_EQ(vv_config_read(&info, 0, out, 44), 0);
	CHECK_MEM(out, expected_config, 44);
	CHECK_EQ(vv_config_read(&info, 4, out, 4), 0);
	CHECK_MEM(out, "\x00\x10\x00\x00", 4);
	CHECK_EQ(vv_config_read(&info, 12, out, 32), 0);
	CHECK_MEM(out, expected_config + 12, 32);
	CHECK_EQ(vv_config_read(&info, 40, out, 4), 0);
	CHECK_EQ(vv_config_read(&info, 44, out, 0), 0);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(vv_config_read(&info, 41, out, 4), -EINVAL);
	CHECK_EQ(vv_config_read(&info, 0, out, 45), -EINVAL);
	CHECK_EQ(vv_config_read(&info, 45, out, 0), -EINVAL);
	CHECK_EQ(vv_config_read(&info, 0xffffffffu, out, 2), -EINVAL);
	CHECK_EQ(vv_config_read(&info, 2, out, 0xffffffffu), -EINVAL);
	CHECK_EQ(vv_config_read(&info, 0, NULL, 4), -EINVAL);
	CHECK(all_bytes(out, sizeof(out), 0xee));
}

int main(void)
{
	test_begin("vv_wire");
	RUN_TEST(t_layout_offsets);
	RUN_TEST(t_decode_query_capability);
	RUN_TEST(t_decode_stream_create);
	RUN_TEST(t_decode_stream_create_bad_mem_type);
	RUN_TEST(t_decode_stream_destroy_drain);
	RUN_TEST(t_decode_resource_create);
	RUN_TEST(t_mem_entry_get_wrong_command);
	RUN_TEST(t_decode_resource_create_single_buffer);
	RUN_TEST(t_decode_resource_queue);
	RUN_TEST(t_decode_queue_commands);
	RUN_TEST(t_decode_get_params_both_numberings);
	RUN_TEST(t_decode_set_params);
	RUN_TEST(t_decode_set_params_ext);
	RUN_TEST(t_decode_query_control);
	RUN_TEST(t_decode_get_set_control);
	RUN_TEST(t_decode_every_truncation);
	RUN_TEST(t_decode_trailing_bytes_tolerated);
	RUN_TEST(t_decode_unknown_type);
	RUN_TEST(t_decode_bad_queue_type);
	RUN_TEST(t_decode_resource_create_limits);
	RUN_TEST(t_decode_resource_create_entry_cap);
	RUN_TEST(t_decode_resource_queue_limits);
	RUN_TEST(t_decode_params_limits);
	RUN_TEST(t_decode_err_response_mapping);
	RUN_TEST(t_decode_random_invariants);
	RUN_TEST(t_encode_hdr_responses);
	RUN_TEST(t_encode_resource_queue);
	RUN_TEST(t_encode_get_params);
	RUN_TEST(t_params_round_trip);
	RUN_TEST(t_encode_query_control);
	RUN_TEST(t_encode_get_control);
	RUN_TEST(t_encode_query_capability_nested);
	RUN_TEST(t_encode_query_capability_invalid);
	RUN_TEST(t_encode_event);
	RUN_TEST(t_encode_config);
	RUN_TEST(t_config_read_windows);
	return test_summary();
}
