/* vuf_video: a virtio-video (spec draft v3) guest-driver model on top of vuf.
 * It behaves like the Linux virtio-video v3 driver as far as the device can
 * tell: commands on queue 0 with a selectable descriptor layout, event
 * buffers pre-posted on queue 1 and re-posted after each event, resources
 * built from guest pages (contiguous or deliberately scattered), and
 * RESOURCE_QUEUE / STREAM_DRAIN completing asynchronously.
 *
 * The device is untrusted here too: every response is length-checked before
 * it is parsed, and a response that does not fit its command is reported as
 * -EPROTO, never believed.
 *
 * Return convention of the command functions:
 *   0      the device answered OK (the expected OK_* type)
 *   > 0    the device answered with this error type (VV_RESP_ERR_*, 0x0300...)
 *   < 0    -errno: -ETIMEDOUT (no answer in time), -ECONNRESET (back-end gone),
 *          -EPROTO (malformed answer), -EIO (broken ring), -ENOMEM (guest RAM),
 *          -EINVAL (bad argument).
 * A timeout or transport error is sticky: the model then refuses every further
 * command with the same error (the ring may still hold requests the device
 * never answered), and the caller is expected to close the connection.
 *
 * Lifetimes: the rings point at the model's event buffers and at caller-owned
 * requests (struct vuf_video_req) while they are in flight. Tear down in this
 * order: vuf_close(f), then vuf_video_fini(v), then free the requests. */
#ifndef VUF_VIDEO_H
#define VUF_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuf.h"
#include "vv_wire.h"

#define VUF_VIDEO_DEFAULT_TIMEOUT_MS 5000
#define VUF_VIDEO_EVENT_BUFS 16   /* event buffers kept posted */
#define VUF_VIDEO_EVENT_FIFO 64   /* events waiting for the caller (>= EVENT_BUFS) */
/* Largest caps / response buffer we agree to post, whatever the config says. */
#define VUF_VIDEO_MAX_CAPS_LENGTH (1u << 20)
/* Chains on the command queue are cut into at most this many descriptors in
 * VUF_LAYOUT_SPLIT/INDIRECT (pieces grow beyond split_piece when needed). */
#define VUF_VIDEO_MAX_CHAIN_DESCS 64u

/* ---- capabilities ------------------------------------------------------- */

struct vuf_video_range {
	uint32_t min, max, step;
};

struct vuf_video_frame {
	struct vuf_video_range width, height;
	uint32_t num_rates;
	struct vuf_video_range *rates;
};

struct vuf_video_format {
	uint64_t mask;         /* bit i: pairs with format i of the other queue */
	uint32_t format;       /* enum vv_format */
	uint32_t planes_layout; /* VV_PLANES_LAYOUT_* bits */
	uint32_t plane_align;
	uint32_t num_frames;
	struct vuf_video_frame *frames;
};

struct vuf_video_caps {
	uint32_t queue_type;
	uint32_t num_formats;
	struct vuf_video_format *formats;
};

/* Parses an OK_QUERY_CAPABILITY response (header included) of len bytes.
 * Every count is checked against the bytes present (at most
 * VV_MAX_FORMAT_DESCS formats). 0, -EPROTO (malformed) or -ENOMEM; on error
 * caps is left empty. Trailing bytes are ignored. */
int vuf_video_parse_caps(const void *buf, size_t len, struct vuf_video_caps *caps);
void vuf_video_caps_free(struct vuf_video_caps *caps);

/* ---- requests and events ------------------------------------------------- */

struct vuf_video;

/* An asynchronous command (RESOURCE_QUEUE, STREAM_DRAIN), owned by the caller.
 * It must stay alive and unmoved until it is done (or until vuf_close). */
struct vuf_video_req {
	void *cookie;          /* the caller's, untouched */
	/* set at submission */
	uint32_t cmd_type, stream_id, queue_type, resource_id;
	/* valid once done */
	bool done;
	int status;            /* 0, > 0 device error type, < 0 -EPROTO (malformed) */
	uint32_t resp_type;    /* as received (0 when shorter than a header) */
	uint64_t timestamp;    /* OK_RESOURCE_QUEUE fields */
	uint32_t flags, size;
	/* private */
	struct vuf_req vreq;
	struct vuf_video *owner;
	struct vuf_video_req *next;
	uint32_t expect_type, expect_len;
	bool sync, orphan;
};

struct vuf_video_event {
	uint32_t type;         /* VV_EVENT_* as received */
	uint32_t stream_id;
};

/* Private: one posted event buffer. */
struct vuf_video_evbuf {
	struct vuf_req vreq;
	struct vuf_video *owner;
	bool posted;
};

struct vuf_video {
	struct vuf *f;                 /* a started connection, not owned */
	enum vuf_layout layout;        /* for every chain we queue (default SINGLE) */
	bool legacy_params;            /* GET/SET_PARAMS 0x108/0x109 instead of _EXT */
	int timeout_ms;                /* every wait (default 5000) */
	uint32_t max_caps_length;      /* from config, clamped */
	uint32_t max_resp_length;
	char device_name[VV_DEVICE_NAME_SIZE + 1]; /* from config, printable ASCII only */

	/* counters */
	uint64_t events_received;
	uint64_t bad_events;           /* event buffers returned with < 8 bytes */
	uint64_t commands;             /* chains queued on the command queue */

	/* private */
	int dead;                      /* sticky -errno */
	struct vuf_video_evbuf evbufs[VUF_VIDEO_EVENT_BUFS];
	struct vuf_video_event evq[VUF_VIDEO_EVENT_FIFO];
	unsigned ev_head, ev_count, ev_posted;
	bool ev_need_kick;
	struct vuf_video_req *done_head, *done_tail;
	struct vuf_video_req *orphans;  /* sync requests given up on (freed at fini) */
};

/* Binds the model to a started connection: checks that RESOURCE_GUEST_PAGES
 * was negotiated and reads the config space (version 0, non-zero max lengths),
 * as the guest driver insists; installs the completion hooks on both rings
 * and posts VUF_VIDEO_EVENT_BUFS event buffers. 0 or -errno (-ENOTSUP without
 * GUEST_PAGES, -EPROTO for an unusable config). */
int vuf_video_init(struct vuf_video *v, struct vuf *f);
/* Frees what the model allocated. Call after vuf_close(f). */
void vuf_video_fini(struct vuf_video *v);

/* Waits up to timeout_ms (< 0: v->timeout_ms) until an event or a finished
 * asynchronous request is waiting for the caller. 0 or -errno (-ETIMEDOUT,
 * -ECONNRESET, -EIO). */
int vuf_video_wait(struct vuf_video *v, int timeout_ms);
/* Processes whatever completed, without waiting. 0 or -errno. */
int vuf_video_poll(struct vuf_video *v);
/* Next event in the order the device sent them: true and *ev filled, or false. */
bool vuf_video_next_event(struct vuf_video *v, struct vuf_video_event *ev);
/* True when an event of type for stream_id waits in the FIFO (it stays there). */
bool vuf_video_has_event(const struct vuf_video *v, uint32_t type, uint32_t stream_id);
/* Next finished asynchronous request in completion order, or NULL. */
struct vuf_video_req *vuf_video_next_done(struct vuf_video *v);

/* ---- commands ------------------------------------------------------------ */

/* QUERY_CAPABILITY for queue_type into caps (free with vuf_video_caps_free). */
int vuf_video_query_caps(struct vuf_video *v, uint32_t queue_type, struct vuf_video_caps *caps);

/* STREAM_CREATE with guest-pages memory on both queues; tag may be NULL. */
int vuf_video_stream_create(struct vuf_video *v, uint32_t stream_id, uint32_t coded_format,
			    const char *tag);
int vuf_video_stream_destroy(struct vuf_video *v, uint32_t stream_id);
/* STREAM_DRAIN, asynchronous: the answer comes after the EOS picture. */
int vuf_video_stream_drain(struct vuf_video *v, uint32_t stream_id, struct vuf_video_req *req);
int vuf_video_queue_clear(struct vuf_video *v, uint32_t stream_id, uint32_t queue_type);
int vuf_video_resource_destroy_all(struct vuf_video *v, uint32_t stream_id,
				   uint32_t queue_type);

/* GET_PARAMS(_EXT) for queue_type: the answer must name that queue and at
 * most 8 planes. resource_type is 0 with the legacy numbering. */
int vuf_video_get_params(struct vuf_video *v, uint32_t stream_id, uint32_t queue_type,
			 struct vv_stream_params *p);
/* SET_PARAMS(_EXT) with p (p->queue_type names the queue; num_planes <= 8). */
int vuf_video_set_params(struct vuf_video *v, uint32_t stream_id,
			 const struct vv_stream_params *p);

/* ---- resources ----------------------------------------------------------- */

struct vuf_video_entry {
	uint64_t gpa;
	uint32_t len;
};

/* A buffer in guest RAM and its mem-entry lists, as RESOURCE_CREATE sends them. */
struct vuf_video_resource {
	uint32_t id, queue_type, planes_layout, num_planes;
	uint32_t plane_size[VV_MAX_PLANES];
	uint32_t plane_offsets[VV_MAX_PLANES]; /* as sent (see vuf_video_resource_alloc) */
	uint32_t num_entries[VV_MAX_PLANES];   /* as sent */
	struct vuf_video_entry *entries;       /* all planes' entries, in order */
	unsigned nentries;
	bool scattered;
	/* private */
	uint64_t plane_base[VV_MAX_PLANES];    /* offset of each plane in the entry bytes */
	uint64_t total_len;
	uint64_t blocks[VV_MAX_PLANES];        /* guest allocations backing the entries */
	unsigned nblocks;
};

/* Allocates a resource's memory in guest RAM. planes_layout:
 *   SINGLE_BUFFER  one entry list for the whole buffer; the planes sit back to
 *                  back in it and plane_offsets[p] is where plane p starts;
 *   PER_PLANE      one entry list per plane, plane_offsets all 0.
 * scattered: the buffer is cut into page-sized entries whose order is
 * shuffled so that no entry is GPA-adjacent to the one before it (needs
 * RESOURCE_NON_CONTIG; entries grow to several pages past VV_MAX_MEM_ENTRIES);
 * otherwise one entry per list. The memory is zeroed. 0 or -errno. */
int vuf_video_resource_alloc(struct vuf_video *v, struct vuf_video_resource *r,
			     uint32_t queue_type, uint32_t id, uint32_t planes_layout,
			     unsigned num_planes, const uint32_t *plane_size, bool scattered);
/* Gives the guest memory back (safe on a zeroed or freed resource). */
void vuf_video_resource_free(struct vuf_video *v, struct vuf_video_resource *r);
/* RESOURCE_CREATE for r on stream_id. */
int vuf_video_resource_create(struct vuf_video *v, uint32_t stream_id,
			      const struct vuf_video_resource *r);
/* Copies into / out of plane p at offset off, through the entries.
 * 0 or -EINVAL when the range is outside the plane. */
int vuf_video_resource_write(struct vuf_video *v, const struct vuf_video_resource *r,
			     unsigned plane, uint64_t off, const void *src, size_t len);
int vuf_video_resource_read(struct vuf_video *v, const struct vuf_video_resource *r,
			    unsigned plane, uint64_t off, void *dst, size_t len);
/* RESOURCE_QUEUE, asynchronous. Input buffers carry num_sizes data sizes (one
 * per plane, at most 8); output buffers usually none. The completion gives
 * timestamp, flags and size (req->status 0) or the device's error. */
int vuf_video_resource_queue(struct vuf_video *v, uint32_t stream_id,
			     const struct vuf_video_resource *r, uint64_t timestamp,
			     const uint32_t *data_sizes, unsigned num_sizes,
			     struct vuf_video_req *req);

/* ---- names --------------------------------------------------------------- */

/* "NV12", "FWHT", ... or NULL when unknown. */
const char *vuf_video_format_name(uint32_t format);
/* V4L2 fourcc ("YU12", "H264", ...) or NULL. */
const char *vuf_video_format_fourcc(uint32_t format);
/* "OK_NODATA", "ERR_INVALID_PARAMETER", ... or "?". */
const char *vuf_video_resp_name(uint32_t type);

#endif
