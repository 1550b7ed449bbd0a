/* virtio-video (spec draft v3) wire format: structures, constants, command
 * decoding and response/event/config encoding.
 *
 * This layer is pure: no I/O, no globals, no allocation, no logging. It is
 * meant to be fed bytes the device has already copied out of guest memory
 * (never a pointer into guest memory itself: the mem-entry accessor reads the
 * buffer again, which must not be a double fetch) and must never read or write
 * outside the buffers it is given, whatever the input; it is a fuzz target.
 *
 * Byte order: every multi-byte field of the structs named vv_* below (the wire
 * structs) holds a little-endian value, whatever the host. They document and
 * pin down the layout (_Static_assert on every size); the decoder and the
 * encoders convert field by field with le*toh / htole* and move bytes with
 * memcpy, so the buffers need no particular alignment. The typed command
 * (struct vv_cmd) and the host-side descriptions (struct vv_stream_params,
 * struct vv_caps, struct vv_config_info) are host-endian.
 *
 * Caps (the first three enforced by vv_cmd_decode, the last by the capability encoder):
 *   VV_MAX_PLANES        8     num_planes of RESOURCE_CREATE (1..8) and of params (0..8)
 *   VV_MAX_DATA_SIZES    8     num_data_sizes of RESOURCE_QUEUE (0..8)
 *   VV_MAX_MEM_ENTRIES   4096  Σ num_entries of one RESOURCE_CREATE; with 4 KiB pages that is
 *                              16 MiB even when every page is its own entry (a 3840x2160
 *                              NV12 picture is 12.4 MB), and it bounds the command at
 *                              VV_CMD_MAX_SIZE = 88 + 16 * 4096 bytes (64 KiB + 88)
 *   VV_MAX_FORMAT_DESCS  64    descriptors per queue in OK_QUERY_CAPABILITY (encoder side)
 *
 * Division of validation work:
 *   vv_wire (here; needs no state): the command is at least as long as its header, its
 *     body and its mem-entry array (trailing bytes are tolerated: guests may pad); the type
 *     is known; the counts above; each plane of a PER_PLANE resource has at least one entry
 *     and a SINGLE_BUFFER resource has at least one entry in all; enumerations whose value
 *     set the spec fixes: queue_type (wherever a command carries one), planes_layout,
 *     in/out mem_type of STREAM_CREATE and resource_type of params_ext. Array slots beyond
 *     a count (plane_offsets, num_entries, data_sizes, plane_formats) are ignored and
 *     zeroed in the typed command, so later code never sees guest garbage.
 *   vv_device (needs state, features or the backend): stream_id and resource_id (unknown,
 *     duplicate, over the table caps), resource queued twice, coded and raw formats,
 *     supported controls (ERR_UNSUPPORTED_CONTROL) and control values, mem_type against
 *     the offered features, one entry per plane unless RESOURCE_NON_CONTIG was negotiated,
 *     entry addresses and lengths (guest_mem translation, entry length 0), plane offsets
 *     and sizes against the resource, params values (dimensions, crop, the overflow of
 *     width * height * stride, plane sizes), and command order (e.g. during a drain).
 */
#ifndef VV_WIRE_H
#define VV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---------------------------------------------------------------------------------------------
 * Device identity, queues, features
 */

enum vv_device_id {
	VV_DEVICE_ID_ENCODER = 30,
	VV_DEVICE_ID_DECODER = 31,
};

enum vv_queue_index {
	VV_QUEUE_COMMAND = 0, /* guest → device requests, writable response part */
	VV_QUEUE_EVENT = 1,   /* guest pre-posts writable 8-byte buffers */
	VV_NUM_QUEUES = 2,
};

/* Feature bit numbers (not masks). */
enum vv_feature_bit {
	VV_F_RESOURCE_GUEST_PAGES = 0,
	VV_F_RESOURCE_NON_CONTIG = 1,
	VV_F_RESOURCE_VIRTIO_OBJECT = 2,
};

/* ---------------------------------------------------------------------------------------------
 * Enumerations
 */

enum vv_cmd_type {
	VV_CMD_QUERY_CAPABILITY = 0x0100,
	VV_CMD_STREAM_CREATE = 0x0101,
	VV_CMD_STREAM_DESTROY = 0x0102,
	VV_CMD_STREAM_DRAIN = 0x0103,
	VV_CMD_RESOURCE_CREATE = 0x0104,
	VV_CMD_RESOURCE_QUEUE = 0x0105,
	VV_CMD_RESOURCE_DESTROY_ALL = 0x0106,
	VV_CMD_QUEUE_CLEAR = 0x0107,
	VV_CMD_GET_PARAMS = 0x0108,     /* spec numbering, 112-byte params */
	VV_CMD_SET_PARAMS = 0x0109,
	VV_CMD_QUERY_CONTROL = 0x010A,
	VV_CMD_GET_CONTROL = 0x010B,
	VV_CMD_SET_CONTROL = 0x010C,
	VV_CMD_GET_PARAMS_EXT = 0x010D, /* 6.1-based guest driver, 120-byte params_ext */
	VV_CMD_SET_PARAMS_EXT = 0x010E,
};

/* Errors are 0x0300-0x0305: the guest driver only recognises errors >= 0x0300
 * (one device sends 0x0206+ instead; that is a bug). */
enum vv_resp_type {
	VV_RESP_OK_NODATA = 0x0200,
	VV_RESP_OK_QUERY_CAPABILITY = 0x0201,
	VV_RESP_OK_RESOURCE_QUEUE = 0x0202,
	VV_RESP_OK_GET_PARAMS = 0x0203,
	VV_RESP_OK_QUERY_CONTROL = 0x0204,
	VV_RESP_OK_GET_CONTROL = 0x0205,
	VV_RESP_ERR_INVALID_OPERATION = 0x0300,
	VV_RESP_ERR_OUT_OF_MEMORY = 0x0301,
	VV_RESP_ERR_INVALID_STREAM_ID = 0x0302,
	VV_RESP_ERR_INVALID_RESOURCE_ID = 0x0303,
	VV_RESP_ERR_INVALID_PARAMETER = 0x0304,
	VV_RESP_ERR_UNSUPPORTED_CONTROL = 0x0305,
};

enum vv_event_type {
	VV_EVENT_ERROR = 0x0100,
	VV_EVENT_DECODER_RESOLUTION_CHANGED = 0x0200,
};

enum vv_queue_type {
	VV_QUEUE_TYPE_INPUT = 0x100,  /* bitstream, for a decoder */
	VV_QUEUE_TYPE_OUTPUT = 0x101, /* decoded pictures */
};

enum vv_mem_type {
	VV_MEM_TYPE_GUEST_PAGES = 0,
	VV_MEM_TYPE_VIRTIO_OBJECT = 1,
};

enum vv_planes_layout {
	VV_PLANES_LAYOUT_SINGLE_BUFFER = 1,
	VV_PLANES_LAYOUT_PER_PLANE = 2,
};

enum vv_format {
	/* raw */
	VV_FORMAT_ARGB8888 = 1,
	VV_FORMAT_BGRA8888 = 2,
	VV_FORMAT_NV12 = 3,
	VV_FORMAT_YUV420 = 4,
	VV_FORMAT_YVU420 = 5,
	/* coded */
	VV_FORMAT_MPEG2 = 0x1000,
	VV_FORMAT_MPEG4 = 0x1001,
	VV_FORMAT_H264 = 0x1002,
	VV_FORMAT_HEVC = 0x1003,
	VV_FORMAT_VP8 = 0x1004,
	VV_FORMAT_VP9 = 0x1005,
	VV_FORMAT_FWHT = 0x1006, /* beyond the 2020 text; the 6.1-based guest has it (vicodec) */
};

/* Flags of OK_RESOURCE_QUEUE. */
enum vv_buffer_flag {
	VV_BUFFER_FLAG_ERR = 0x1,
	VV_BUFFER_FLAG_EOS = 0x2,
	VV_BUFFER_FLAG_IFRAME = 0x4,
	VV_BUFFER_FLAG_PFRAME = 0x8,
	VV_BUFFER_FLAG_BFRAME = 0x10,
};

enum vv_control {
	VV_CONTROL_BITRATE = 1,
	VV_CONTROL_PROFILE = 2,
	VV_CONTROL_LEVEL = 3,
	VV_CONTROL_FORCE_KEYFRAME = 4,
	VV_CONTROL_BITRATE_MODE = 5,
	VV_CONTROL_BITRATE_PEAK = 6,
	VV_CONTROL_PREPEND_SPSPPS_TO_IDR = 7,
};

enum vv_bitrate_mode {
	VV_BITRATE_MODE_VBR = 0,
	VV_BITRATE_MODE_CBR = 1,
};

enum vv_profile {
	VV_PROFILE_H264_BASELINE = 0x100,
	VV_PROFILE_H264_MAIN = 0x101,
	VV_PROFILE_H264_EXTENDED = 0x102,
	VV_PROFILE_H264_HIGH = 0x103,
	VV_PROFILE_H264_HIGH10 = 0x104,
	VV_PROFILE_H264_HIGH422 = 0x105,
	VV_PROFILE_H264_HIGH444_PREDICTIVE = 0x106,
	VV_PROFILE_H264_SCALABLE_BASELINE = 0x107,
	VV_PROFILE_H264_SCALABLE_HIGH = 0x108,
	VV_PROFILE_H264_STEREO_HIGH = 0x109,
	VV_PROFILE_H264_MULTIVIEW_HIGH = 0x10A,

	VV_PROFILE_HEVC_MAIN = 0x200,
	VV_PROFILE_HEVC_MAIN10 = 0x201,
	VV_PROFILE_HEVC_MAIN_STILL_PICTURE = 0x202,

	VV_PROFILE_VP8_PROFILE0 = 0x300,
	VV_PROFILE_VP8_PROFILE1 = 0x301,
	VV_PROFILE_VP8_PROFILE2 = 0x302,
	VV_PROFILE_VP8_PROFILE3 = 0x303,

	VV_PROFILE_VP9_PROFILE0 = 0x400,
	VV_PROFILE_VP9_PROFILE1 = 0x401,
	VV_PROFILE_VP9_PROFILE2 = 0x402,
	VV_PROFILE_VP9_PROFILE3 = 0x403,
};

enum vv_level {
	VV_LEVEL_H264_1_0 = 0x100,
	VV_LEVEL_H264_1_1 = 0x101,
	VV_LEVEL_H264_1_2 = 0x102,
	VV_LEVEL_H264_1_3 = 0x103,
	VV_LEVEL_H264_2_0 = 0x104,
	VV_LEVEL_H264_2_1 = 0x105,
	VV_LEVEL_H264_2_2 = 0x106,
	VV_LEVEL_H264_3_0 = 0x107,
	VV_LEVEL_H264_3_1 = 0x108,
	VV_LEVEL_H264_3_2 = 0x109,
	VV_LEVEL_H264_4_0 = 0x10A,
	VV_LEVEL_H264_4_1 = 0x10B,
	VV_LEVEL_H264_4_2 = 0x10C,
	VV_LEVEL_H264_5_0 = 0x10D,
	VV_LEVEL_H264_5_1 = 0x10E,
};

/* Limits (see the comment at the top). */
enum {
	VV_MAX_PLANES = 8,
	VV_MAX_DATA_SIZES = 8,
	VV_MAX_MEM_ENTRIES = 4096,
	VV_MAX_FORMAT_DESCS = 64,
	VV_TAG_SIZE = 64,
	VV_DEVICE_NAME_SIZE = 32,
};

/* ---------------------------------------------------------------------------------------------
 * Wire structures (all multi-byte fields little-endian; padN written as zero, ignored on read)
 */

typedef uint32_t vv_le32;
typedef uint64_t vv_le64;

struct vv_cmd_hdr {
	vv_le32 type;
	vv_le32 stream_id;
};

/* Responses and events share the header layout. */
struct vv_resp_hdr {
	vv_le32 type;
	vv_le32 stream_id;
};

struct vv_query_capability {
	struct vv_cmd_hdr hdr;
	vv_le32 queue_type;
	uint8_t pad[4];
};

struct vv_stream_create {
	struct vv_cmd_hdr hdr;
	vv_le32 in_mem_type;
	vv_le32 out_mem_type;
	vv_le32 coded_format;
	uint8_t pad[4];
	uint8_t tag[VV_TAG_SIZE];
};

struct vv_stream_destroy {
	struct vv_cmd_hdr hdr;
};

struct vv_stream_drain {
	struct vv_cmd_hdr hdr;
};

/* Followed by Σ num_entries[0 .. num_planes) struct vv_mem_entry. */
struct vv_resource_create {
	struct vv_cmd_hdr hdr;
	vv_le32 queue_type;
	vv_le32 resource_id;
	vv_le32 planes_layout;
	vv_le32 num_planes;
	vv_le32 plane_offsets[VV_MAX_PLANES];
	vv_le32 num_entries[VV_MAX_PLANES];
};

struct vv_mem_entry {
	vv_le64 addr; /* guest-physical */
	vv_le32 length;
	uint8_t pad[4];
};

struct vv_resource_queue {
	struct vv_cmd_hdr hdr;
	vv_le32 queue_type;
	vv_le32 resource_id;
	vv_le64 timestamp;
	vv_le32 num_data_sizes;
	vv_le32 data_sizes[VV_MAX_DATA_SIZES];
	uint8_t pad[4];
};

/* RESOURCE_DESTROY_ALL, QUEUE_CLEAR, GET_PARAMS and GET_PARAMS_EXT share this layout. */
struct vv_queue_cmd {
	struct vv_cmd_hdr hdr;
	vv_le32 queue_type;
	uint8_t pad[4];
};

struct vv_crop {
	vv_le32 left;
	vv_le32 top;
	vv_le32 width;
	vv_le32 height;
};

struct vv_plane_format {
	vv_le32 plane_size;
	vv_le32 stride;
};

struct vv_params {
	vv_le32 queue_type;
	vv_le32 format;
	vv_le32 frame_width;
	vv_le32 frame_height;
	vv_le32 min_buffers;
	vv_le32 max_buffers;
	struct vv_crop crop;
	vv_le32 frame_rate;
	vv_le32 num_planes;
	struct vv_plane_format plane_formats[VV_MAX_PLANES];
};

struct vv_params_ext {
	struct vv_params base;
	vv_le32 resource_type; /* a mem_type */
	uint8_t pad[4];
};

struct vv_set_params {
	struct vv_cmd_hdr hdr;
	struct vv_params params;
};

struct vv_set_params_ext {
	struct vv_cmd_hdr hdr;
	struct vv_params_ext params;
};

/* Followed by control-specific data: struct vv_control_format for PROFILE and LEVEL. */
struct vv_query_control {
	struct vv_cmd_hdr hdr;
	vv_le32 control;
	uint8_t pad[4];
};

struct vv_control_format {
	vv_le32 format;
	uint8_t pad[4];
};

struct vv_get_control {
	struct vv_cmd_hdr hdr;
	vv_le32 control;
	uint8_t pad[4];
};

struct vv_set_control {
	struct vv_cmd_hdr hdr;
	vv_le32 control;
	uint8_t pad[4];
	vv_le32 value;
	uint8_t pad2[4];
};

/* OK_QUERY_CAPABILITY: header, then num_descs × (desc, its frames, each frame's rates). */
struct vv_resp_query_capability {
	struct vv_resp_hdr hdr;
	vv_le32 num_descs;
	uint8_t pad[4];
};

struct vv_format_range {
	vv_le32 min;
	vv_le32 max;
	vv_le32 step;
	uint8_t pad[4];
};

/* Followed by num_rates struct vv_format_range. */
struct vv_format_frame {
	struct vv_format_range width;
	struct vv_format_range height;
	vv_le32 num_rates;
	uint8_t pad[4];
};

/* Followed by num_frames struct vv_format_frame. mask bit i: may pair with the i-th
 * descriptor of the other queue's list. */
struct vv_format_desc {
	vv_le64 mask;
	vv_le32 format;
	vv_le32 planes_layout;
	vv_le32 plane_align;
	vv_le32 num_frames;
};

struct vv_resp_resource_queue {
	struct vv_resp_hdr hdr;
	vv_le64 timestamp;
	vv_le32 flags;
	vv_le32 size;
};

struct vv_resp_get_params {
	struct vv_resp_hdr hdr;
	struct vv_params params;
};

struct vv_resp_get_params_ext {
	struct vv_resp_hdr hdr;
	struct vv_params_ext params;
};

/* Followed by num le32 values (profiles or levels). */
struct vv_resp_query_control {
	struct vv_resp_hdr hdr;
	vv_le32 num;
	uint8_t pad[4];
};

struct vv_resp_get_control {
	struct vv_resp_hdr hdr;
	vv_le32 value;
	uint8_t pad[4];
};

struct vv_event {
	vv_le32 event_type;
	vv_le32 stream_id;
};

/* Config space: the spec's 12 bytes, then the device name the 6.1-based guest reads. */
struct vv_config {
	vv_le32 version; /* must be 0 */
	vv_le32 max_caps_length;
	vv_le32 max_resp_length;
	uint8_t device_name[VV_DEVICE_NAME_SIZE];
};

_Static_assert(sizeof(struct vv_cmd_hdr) == 8, "cmd_hdr");
_Static_assert(sizeof(struct vv_resp_hdr) == 8, "resp_hdr");
_Static_assert(sizeof(struct vv_query_capability) == 16, "query_capability");
_Static_assert(sizeof(struct vv_stream_create) == 88, "stream_create");
_Static_assert(sizeof(struct vv_stream_destroy) == 8, "stream_destroy");
_Static_assert(sizeof(struct vv_stream_drain) == 8, "stream_drain");
_Static_assert(sizeof(struct vv_resource_create) == 88, "resource_create");
_Static_assert(sizeof(struct vv_mem_entry) == 16, "mem_entry");
_Static_assert(sizeof(struct vv_resource_queue) == 64, "resource_queue");
_Static_assert(offsetof(struct vv_resource_queue, timestamp) == 16, "resource_queue ts");
_Static_assert(sizeof(struct vv_queue_cmd) == 16, "queue_cmd");
_Static_assert(sizeof(struct vv_crop) == 16, "crop");
_Static_assert(sizeof(struct vv_plane_format) == 8, "plane_format");
_Static_assert(sizeof(struct vv_params) == 112, "params");
_Static_assert(offsetof(struct vv_params, plane_formats) == 48, "params plane_formats");
_Static_assert(sizeof(struct vv_params_ext) == 120, "params_ext");
_Static_assert(sizeof(struct vv_set_params) == 120, "set_params");
_Static_assert(sizeof(struct vv_set_params_ext) == 128, "set_params_ext");
_Static_assert(sizeof(struct vv_query_control) == 16, "query_control");
_Static_assert(sizeof(struct vv_control_format) == 8, "control_format");
_Static_assert(sizeof(struct vv_get_control) == 16, "get_control");
_Static_assert(sizeof(struct vv_set_control) == 24, "set_control");
_Static_assert(sizeof(struct vv_resp_query_capability) == 16, "resp_query_capability");
_Static_assert(sizeof(struct vv_format_range) == 16, "format_range");
_Static_assert(sizeof(struct vv_format_frame) == 40, "format_frame");
_Static_assert(sizeof(struct vv_format_desc) == 24, "format_desc");
_Static_assert(sizeof(struct vv_resp_resource_queue) == 24, "resp_resource_queue");
_Static_assert(sizeof(struct vv_resp_get_params) == 120, "resp_get_params");
_Static_assert(sizeof(struct vv_resp_get_params_ext) == 128, "resp_get_params_ext");
_Static_assert(sizeof(struct vv_resp_query_control) == 16, "resp_query_control");
_Static_assert(sizeof(struct vv_resp_get_control) == 16, "resp_get_control");
_Static_assert(sizeof(struct vv_event) == 8, "event");
_Static_assert(sizeof(struct vv_config) == 44, "config");
_Static_assert(offsetof(struct vv_config, device_name) == 12, "config spec part");

/* The spec's part of the config space (a 12-byte read must work). */
#define VV_CONFIG_SPEC_SIZE 12u
#define VV_CONFIG_SIZE ((uint32_t)sizeof(struct vv_config))

/* Largest command prefix the decoder can need: a device may copy at most this many bytes of
 * a longer chain without changing any decode result (trailing bytes are ignored anyway). */
#define VV_CMD_MAX_SIZE \
	(sizeof(struct vv_resource_create) + VV_MAX_MEM_ENTRIES * sizeof(struct vv_mem_entry))

/* ---------------------------------------------------------------------------------------------
 * Decoding (host-endian typed commands)
 */

/* A stream's parameters for one queue, host-endian. resource_type is carried by the
 * params_ext numbering only (0 = GUEST_PAGES otherwise). */
struct vv_stream_params {
	uint32_t queue_type;
	uint32_t format;
	uint32_t frame_width;
	uint32_t frame_height;
	uint32_t min_buffers;
	uint32_t max_buffers;
	struct {
		uint32_t left, top, width, height;
	} crop;
	uint32_t frame_rate;
	uint32_t num_planes; /* 0..VV_MAX_PLANES */
	struct {
		uint32_t plane_size;
		uint32_t stride;
	} plane_formats[VV_MAX_PLANES];
	uint32_t resource_type;
};

struct vv_cmd_query_capability {
	uint32_t queue_type;
};

struct vv_cmd_stream_create {
	uint32_t in_mem_type;  /* a valid enum vv_mem_type */
	uint32_t out_mem_type; /* a valid enum vv_mem_type */
	uint32_t coded_format; /* not checked here */
	uint8_t tag[VV_TAG_SIZE];
};

struct vv_cmd_resource_create {
	uint32_t queue_type;
	uint32_t resource_id;
	uint32_t planes_layout;               /* SINGLE_BUFFER or PER_PLANE (wire 0: PER_PLANE) */
	uint32_t num_planes;                  /* 1..VV_MAX_PLANES */
	uint32_t plane_offsets[VV_MAX_PLANES]; /* zero beyond num_planes */
	uint32_t num_entries[VV_MAX_PLANES];   /* zero beyond num_planes */
	uint32_t total_entries;               /* Σ num_entries, 1..VV_MAX_MEM_ENTRIES */
	/* The mem entries stay in the decoded buffer (which must outlive the command):
	 * read them with vv_mem_entry_get(). */
	const uint8_t *entries;
};

struct vv_cmd_resource_queue {
	uint32_t queue_type;
	uint32_t resource_id;
	uint64_t timestamp;
	uint32_t num_data_sizes;                /* 0..VV_MAX_DATA_SIZES */
	uint32_t data_sizes[VV_MAX_DATA_SIZES]; /* zero beyond num_data_sizes */
};

/* RESOURCE_DESTROY_ALL, QUEUE_CLEAR. */
struct vv_cmd_queue {
	uint32_t queue_type;
};

/* GET_PARAMS, GET_PARAMS_EXT. */
struct vv_cmd_get_params {
	uint32_t queue_type;
	bool ext; /* GET_PARAMS_EXT: answer with params_ext (128 bytes) */
};

struct vv_cmd_set_params {
	struct vv_stream_params params; /* params.queue_type is valid */
	bool ext;                       /* SET_PARAMS_EXT numbering */
};

struct vv_cmd_query_control {
	uint32_t control;
	bool has_format; /* PROFILE and LEVEL carry the coded format they ask about */
	uint32_t format;
};

struct vv_cmd_control {
	uint32_t control;
	uint32_t value; /* SET_CONTROL only; 0 for FORCE_KEYFRAME sent without a value */
};

struct vv_cmd {
	uint32_t type;      /* enum vv_cmd_type */
	uint32_t stream_id; /* echo it in the response header */
	union {
		struct vv_cmd_query_capability query_capability;
		struct vv_cmd_stream_create stream_create;
		struct vv_cmd_resource_create resource_create;
		struct vv_cmd_resource_queue resource_queue;
		struct vv_cmd_queue queue; /* RESOURCE_DESTROY_ALL, QUEUE_CLEAR */
		struct vv_cmd_get_params get_params;
		struct vv_cmd_set_params set_params;
		struct vv_cmd_query_control query_control;
		struct vv_cmd_control control; /* GET_CONTROL, SET_CONTROL */
	};
};

enum vv_decode_err {
	VV_DECODE_OK = 0,
	VV_DERR_SHORT_HEADER = -1,      /* fewer than 8 bytes */
	VV_DERR_UNKNOWN_TYPE = -2,      /* the only one answered with ERR_INVALID_OPERATION */
	VV_DERR_SHORT_BODY = -3,        /* fewer bytes than the fixed body (incl. control data) */
	VV_DERR_SHORT_ENTRIES = -4,     /* RESOURCE_CREATE: mem-entry array cut short */
	VV_DERR_QUEUE_TYPE = -5,        /* queue_type neither INPUT nor OUTPUT */
	VV_DERR_MEM_TYPE = -6,          /* mem_type / resource_type not a known value */
	VV_DERR_PLANES_LAYOUT = -7,     /* neither SINGLE_BUFFER nor PER_PLANE */
	VV_DERR_NUM_PLANES = -8,        /* RESOURCE_CREATE num_planes 0 or > 8 */
	VV_DERR_EMPTY_PLANE = -9,       /* PER_PLANE plane (or whole SINGLE_BUFFER) w/o entries */
	VV_DERR_TOO_MANY_ENTRIES = -10, /* Σ num_entries > VV_MAX_MEM_ENTRIES */
	VV_DERR_NUM_DATA_SIZES = -11,   /* > 8 */
	VV_DERR_PARAMS_NUM_PLANES = -12, /* params num_planes > 8 */
};

/* Decodes the device-readable bytes of a command chain (already copied out of guest
 * memory) into *out. Returns VV_DECODE_OK or a negative enum vv_decode_err. On error,
 * out->type and out->stream_id hold the header (both 0 when it is incomplete), so an
 * error response can still echo the stream id, and the rest of *out is zero. Never
 * reads outside buf[0 .. len). */
int vv_cmd_decode(const void *buf, size_t len, struct vv_cmd *out);

/* Response type the device sends for a decode error: ERR_INVALID_OPERATION for an unknown
 * command, ERR_INVALID_PARAMETER for everything else (VV_RESP_OK_NODATA for VV_DECODE_OK). */
uint32_t vv_decode_err_response(int err);

/* Short name of a decode error / command type, for logs ("?" when unknown). */
const char *vv_decode_err_str(int err);
const char *vv_cmd_type_str(uint32_t type);

/* Entry i (0 .. total_entries) of a decoded RESOURCE_CREATE, host-endian.
 * Returns 0, or -EINVAL when cmd is not a RESOURCE_CREATE or i is out of range. */
int vv_mem_entry_get(const struct vv_cmd *cmd, unsigned i, uint64_t *addr, uint32_t *len);

/* Index of the first entry of plane p (entries of plane p are
 * [first, first + num_entries[p])); total_entries for p >= num_planes. */
unsigned vv_resource_plane_first_entry(const struct vv_cmd *cmd, unsigned plane);

/* ---------------------------------------------------------------------------------------------
 * Encoding. Every encoder writes into buf[0 .. cap) and returns the number of bytes
 * written, -ENOSPC when the response does not fit (nothing is written then) or -EINVAL
 * for a description that cannot be encoded (nothing is written either).
 */

/* Header-only responses: OK_NODATA and the six errors (other types: -EINVAL). */
ssize_t vv_encode_hdr_resp(void *buf, size_t cap, uint32_t resp_type, uint32_t stream_id);

ssize_t vv_encode_resource_queue(void *buf, size_t cap, uint32_t stream_id, uint64_t timestamp,
				 uint32_t flags, uint32_t size);

/* OK_GET_PARAMS: 120 bytes (params) or, with ext, 128 bytes (params_ext), matching the
 * request's numbering. -EINVAL when p->num_planes > 8. */
ssize_t vv_encode_get_params(void *buf, size_t cap, uint32_t stream_id,
			     const struct vv_stream_params *p, bool ext);

/* OK_QUERY_CONTROL: u32 num, pad4, then num le32 values (16 + 4 * num bytes). */
ssize_t vv_encode_query_control(void *buf, size_t cap, uint32_t stream_id,
				const uint32_t *values, uint32_t num);

/* OK_GET_CONTROL: u32 value, pad4 (16 bytes). */
ssize_t vv_encode_get_control(void *buf, size_t cap, uint32_t stream_id, uint32_t value);

/* Host-side capability description for one queue; arrays owned by the caller. */
struct vv_caps_range {
	uint32_t min, max, step;
};

struct vv_caps_frame {
	struct vv_caps_range width, height;
	const struct vv_caps_range *rates;
	uint32_t num_rates;
};

struct vv_caps_format {
	uint64_t mask; /* bit i: pairs with descriptor i of the other queue */
	uint32_t format;
	uint32_t planes_layout;
	uint32_t plane_align;
	const struct vv_caps_frame *frames;
	uint32_t num_frames;
};

struct vv_caps {
	const struct vv_caps_format *descs;
	uint32_t num_descs; /* at most VV_MAX_FORMAT_DESCS */
};

/* Size of the OK_QUERY_CAPABILITY response for caps (header included), or 0 when caps
 * cannot be encoded (more than 64 descriptors, a NULL array with a count, or a size
 * that does not fit in 32 bits, the width of max_caps_length). */
size_t vv_caps_encoded_size(const struct vv_caps *caps);

/* OK_QUERY_CAPABILITY; cap is the guest's max_caps_length (or the writable length,
 * whichever is smaller). */
ssize_t vv_encode_query_capability(void *buf, size_t cap, uint32_t stream_id,
				   const struct vv_caps *caps);

/* One event (8 bytes). */
ssize_t vv_encode_event(void *buf, size_t cap, uint32_t event_type, uint32_t stream_id);

/* Host-side config space description. */
struct vv_config_info {
	uint32_t max_caps_length; /* both must be non-zero: the guest refuses to probe */
	uint32_t max_resp_length;
	const char *device_name;  /* NULL or a string; at most 31 bytes kept, NUL-padded */
};

/* The whole 44-byte config space (version 0). -EINVAL when a max length is 0. */
ssize_t vv_encode_config(void *buf, size_t cap, const struct vv_config_info *info);

/* A config-space read of [offset, offset + size): 0, or -EINVAL when the window is not
 * inside the 44 bytes (or the description is invalid, as for vv_encode_config). */
int vv_config_read(const struct vv_config_info *info, uint32_t offset, void *dst,
		   uint32_t size);

#endif
