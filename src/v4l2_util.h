/* V4L2 helpers for the v4l2-decoder backend: the system calls it makes (behind a
 * table tests replace), fourcc <-> virtio-video format tables, the colour-plane
 * layout of raw formats, and capabilities built from the device's enumeration.
 *
 * Capabilities (v4l2u_build_caps), on one open fd of a mem2mem decoder:
 *  - INPUT descriptors: ENUM_FMT on the OUTPUT queue, formats flagged COMPRESSED whose
 *    fourcc maps to a virtio-video coded format (one descriptor per virtio format).
 *    Frame sizes: ENUM_FRAMESIZES of that fourcc; rates: ENUM_FRAMEINTERVALS at the
 *    largest size (none when the driver does not enumerate them).
 *  - OUTPUT descriptors: for each coded format, S_FMT on OUTPUT with it, then ENUM_FMT on
 *    CAPTURE: the mapped raw formats found, in order of first appearance, one descriptor
 *    per virtio format. Frame sizes from ENUM_FRAMESIZES of the raw fourcc, or else those
 *    of the first coded format it pairs with.
 *  - masks: bit j of INPUT descriptor i (and bit i of OUTPUT descriptor j) is set when
 *    raw format j was enumerated on CAPTURE while coded format i was set on OUTPUT.
 * The result always fits VV_CAPS_BUDGET bytes once encoded (rates, then frame ranges
 * past the first of a format, are dropped when it would not). */
#ifndef V4L2_UTIL_H
#define V4L2_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/videodev2.h>

#include "vv_wire.h"

/* The device's max_caps_length: a reply must fit it. */
#define VV_CAPS_BUDGET 4096u
/* Limits of one enumeration (a driver listing more is cut short). */
#define V4L2U_MAX_SIZES 16u   /* frame size entries per format */
#define V4L2U_MAX_RATES 16u   /* frame interval entries per frame size */
#define V4L2U_MAX_ENUM 128u   /* ENUM_FMT indexes tried per queue */

/* The system calls the backend makes; tests replace them with a scripted device. Each
 * returns what the libc call returns (-1 with errno set on failure). */
struct v4l2_io {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long request, void *arg);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
	int (*munmap)(void *addr, size_t len);
};

extern const struct v4l2_io v4l2_sys_io;

/* ioctl through io, retried on EINTR: 0 or -errno. */
int v4l2u_ioctl(const struct v4l2_io *io, int fd, unsigned long request, void *arg);

/* ---- formats ------------------------------------------------------------------------------ */

/* virtio-video format of a fourcc, 0 when it has none. */
uint32_t v4l2u_fourcc_to_vv(uint32_t fourcc);
/* The idx-th fourcc (0 = preferred) carrying a virtio-video format, 0 past the last. */
uint32_t v4l2u_vv_to_fourcc(uint32_t vv_format, unsigned idx);
bool v4l2u_vv_is_coded(uint32_t vv_format);
/* Memory planes of a fourcc in the multi-planar API (1 for contiguous formats), 0 unknown. */
unsigned v4l2u_fourcc_mem_planes(uint32_t fourcc);
/* Colour planes of a raw virtio-video format, 0 for a coded or unknown one. */
unsigned v4l2u_vv_color_planes(uint32_t vv_format);
/* "FWHT", "NV12"... into buf (at least 5 bytes). */
const char *v4l2u_fourcc_str(uint32_t fourcc, char *buf);

/* A V4L2 format, whichever API (single- or multi-planar) carried it. */
struct v4l2u_pix {
	uint32_t fourcc;
	uint32_t width, height;
	unsigned num_planes; /* memory planes, 1..VIDEO_MAX_PLANES */
	uint32_t bytesperline[VIDEO_MAX_PLANES];
	uint32_t sizeimage[VIDEO_MAX_PLANES];
};

/* Buffer type of a queue in the API in use. */
uint32_t v4l2u_buf_type(bool mplane, bool capture);
void v4l2u_pix_from_format(const struct v4l2_format *f, bool mplane, struct v4l2u_pix *pix);
/* Fills f (zeroed first) for S_FMT/TRY_FMT from pix; sizeimage 0 lets the driver choose. */
void v4l2u_format_from_pix(struct v4l2_format *f, bool mplane, bool capture,
			   const struct v4l2u_pix *pix);

/* Colour planes of a decoded picture in the V4L2 layout of pix, as virtio-video params
 * (num_planes and plane_formats of p). One memory plane: the colour planes follow one
 * another (Y, then U/V or UV), rows of bytesperline (halved for 4:2:0 chroma), and any
 * slack up to sizeimage goes to the last plane so the planes add up to the buffer.
 * Several memory planes: one colour plane each. -EINVAL when pix does not describe
 * vv_format (unknown format, plane count mismatch, sizes that do not fit sizeimage). */
int v4l2u_raw_planes(const struct v4l2u_pix *pix, uint32_t vv_format,
		     struct vv_stream_params *p);

/* ---- timestamps ------------------------------------------------------------------------------ */

/* A 64-bit ticket in a struct timeval that survives the kernel's round trip through
 * nanoseconds (tv_usec < 10^6, tv_sec far below KTIME_SEC_MAX for any ticket < 2^52). */
void v4l2u_ticket_to_timeval(uint64_t ticket, struct timeval *tv);
/* The ticket back, or 0 when tv cannot be one (negative, usec out of range). */
uint64_t v4l2u_timeval_to_ticket(const struct timeval *tv);

/* ---- capabilities ------------------------------------------------------------------------- */

struct v4l2u_caps {
	struct vv_caps in, out;
	struct vv_caps_format in_descs[VV_MAX_FORMAT_DESCS];
	struct vv_caps_format out_descs[VV_MAX_FORMAT_DESCS];
	uint32_t in_fourcc[VV_MAX_FORMAT_DESCS];  /* the V4L2 fourcc of each descriptor */
	uint32_t out_fourcc[VV_MAX_FORMAT_DESCS];
	unsigned compressed_seen; /* COMPRESSED OUTPUT formats, mapped or not */
};

/* Builds caps (see the top of this file). 0; -ENOENT when the OUTPUT queue lists no
 * compressed format; -ENOTSUP when none of them maps to a virtio-video format or no raw
 * format pairs with them; -ENOMEM. On failure nothing is left allocated. */
int v4l2u_build_caps(const struct v4l2_io *io, int fd, bool mplane, struct v4l2u_caps *c);
void v4l2u_caps_free(struct v4l2u_caps *c);
/* Index of a virtio-video format among the descriptors, -1 when absent. */
int v4l2u_caps_find(const struct vv_caps *caps, uint32_t vv_format);

/* ---- test hooks of the v4l2-decoder backend (backend_v4l2_dec.c) -------------------------- */

struct backend_session;

/* System calls of backends opened from now on (NULL: the real ones). */
void v4l2_dec_set_io(const struct v4l2_io *io);
/* What the event loop calls when the session's V4L2 fd is ready (events: EPOLL*). */
void v4l2_dec_dispatch(struct backend_session *s, uint32_t events);
/* The epoll events the session currently watches its V4L2 fd for. */
uint32_t v4l2_dec_watch_events(const struct backend_session *s);

#endif
