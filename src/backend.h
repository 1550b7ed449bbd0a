/* The backend interface: what a video backend (null, v4l2-decoder, ...) offers
 * the device layer. Backends never see guest addresses: buffers arrive as host
 * memory segments that the device has validated, and stay valid until the
 * backend reports the buffer done (or the queue is cleared / session freed).
 *
 * Rules every backend follows:
 *  - Calls into the backend never call back into the device synchronously;
 *    completions are reported later, from the backend's own fds (registered on
 *    the event loop it was given at open) or deferred work.
 *  - After clear(queue) returns, every buffer of that queue counts as returned
 *    and no callback names it; after session_free(), no callback comes at all.
 *    The device answers those buffers itself.
 *  - Errors are -errno: -EINVAL (bad parameter), -ENOMEM, -ENOTSUP (unsupported
 *    control or format), -EBUSY (wrong state), anything else = invalid operation. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "event_loop.h"
#include "vv_wire.h"

struct backend;         /* one per daemon */
struct backend_session; /* one per stream */

struct backend_config {
	const char *device_path; /* v4l2-decoder: the video node */
	/* Software decoders (ffmpeg): codec threads per stream (0 = as many as the
	 * machine has cores, capped) and whether frame threading may be used (more
	 * throughput, a few frames more latency). */
	unsigned decode_threads;
	bool frame_threading;
};

/* Where one host segment comes from: the guest-memory file and the offset of the segment's
 * first byte in it, so that a backend can map the same pages again (the v4l2-decoder maps
 * scattered guest pages back to back for a driver that wants one virtual range). fd is the
 * device's: use it only during the call that handed it over (e.g. to mmap); -1 = unknown. */
struct backend_seg_src {
	int fd;
	uint64_t offset;
};

/* One plane: host segments (owned by the device) and their total length. srcs, when not
 * NULL, has nsegs entries parallel to segs. */
struct backend_plane {
	const struct iovec *segs;
	const struct backend_seg_src *srcs;
	unsigned nsegs;
	size_t len;
};

struct backend_buffer {
	uint32_t resource_id;
	unsigned num_planes;
	struct backend_plane planes[VV_MAX_PLANES];
	/* Input buffers: bytes of bitstream per plane and the guest's timestamp. */
	uint32_t data_sizes[VV_MAX_PLANES];
	uint64_t timestamp;
};

/* Reports from a session; stream is the opaque pointer given to session_new. */
struct backend_events {
	/* An input buffer was consumed (error: it could not be). */
	void (*input_done)(void *stream, uint32_t resource_id, bool error);
	/* An output buffer holds a picture (or is returned empty with EOS/ERR):
	 * flags are VV_BUFFER_FLAG_*, size the bytes of picture data written. */
	void (*picture_ready)(void *stream, uint32_t resource_id, uint64_t timestamp,
			      uint32_t flags, uint32_t size);
	/* The drain asked for has completed (after the EOS picture). */
	void (*drain_done)(void *stream, bool error);
	/* The output format changed (also the first time it is known): the device
	 * tells the guest, which reads the OUTPUT params again. */
	void (*resolution_changed)(void *stream);
	/* The stream cannot go on (e.g. a corrupt bitstream). */
	void (*stream_error)(void *stream);
};

struct backend_ops {
	const char *name;
	/* Start-up: checks the device and says why on failure (one log line). */
	int (*open)(struct backend **out, const struct backend_config *cfg,
		    struct event_loop *loop);
	void (*close)(struct backend *b);
	/* Capabilities of one queue (VV_QUEUE_TYPE_INPUT/OUTPUT); valid while b lives. */
	const struct vv_caps *(*caps)(struct backend *b, uint32_t queue_type);

	int (*session_new)(struct backend *b, uint32_t coded_format,
			   const struct backend_events *ev, void *stream,
			   struct backend_session **out);
	void (*session_free)(struct backend_session *s);

	int (*get_params)(struct backend_session *s, uint32_t queue_type,
			  struct vv_stream_params *p);
	/* May adjust what it cannot do; the device reads back with get_params. */
	int (*set_params)(struct backend_session *s, const struct vv_stream_params *p);

	int (*queue_input)(struct backend_session *s, const struct backend_buffer *buf);
	int (*queue_output)(struct backend_session *s, const struct backend_buffer *buf);
	int (*drain)(struct backend_session *s);
	int (*clear)(struct backend_session *s, uint32_t queue_type);

	/* Controls: QUERY fills up to *num values (in: capacity, out: count). */
	int (*query_control)(struct backend *b, uint32_t control, uint32_t format,
			     uint32_t *values, uint32_t *num);
	int (*get_control)(struct backend_session *s, uint32_t control, uint32_t *value);
	int (*set_control)(struct backend_session *s, uint32_t control, uint32_t value);

	/* Optional (NULL: the backend never copies frame data): bytes of bitstream and
	 * pictures copied between guest memory and the codec since open, over all sessions
	 * (0 when every buffer was used in place). For logs and benchmarks. */
	uint64_t (*bytes_copied)(struct backend *b);
};

/* Registered backends, by --backend name. */
const struct backend_ops *backend_find(const char *name);
/* "null, v4l2-decoder, ...": for help and error messages. */
const char *backend_names(void);

extern const struct backend_ops backend_null_ops;
extern const struct backend_ops backend_v4l2_dec_ops;
#ifdef VUV_HAVE_FFMPEG
extern const struct backend_ops backend_ffmpeg_ops;
#endif

#endif
