/* The virtio-video device: command dispatch over the command queue, stream
 * and resource tables, asynchronous completions with exactly one response per
 * command, and the event queue. Sits between the transport (vu_server) and a
 * backend (backend.h). */
#ifndef VV_DEVICE_H
#define VV_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "event_loop.h"
#include "vu_server.h"

/* Fixed caps (a hostile guest cannot grow our memory past them). */
#define VV_DEV_MAX_STREAMS 32
#define VV_DEV_MAX_RESOURCES 128      /* per queue of a stream */
#define VV_DEV_MAX_PENDING_EVENTS 64  /* per device, waiting for event buffers */
#define VV_DEV_MAX_CAPS_LENGTH 4096   /* config max_caps_length */
#define VV_DEV_MAX_RESP_LENGTH 4096   /* config max_resp_length */
/* Guest memory entries held by all resources of the device together: 2^20 entries of
 * 4 KiB pages describe 4 GiB of buffers, and cost us 16 MiB at most. */
#define VV_DEV_MAX_TOTAL_ENTRIES (1u << 20)

/* Queue indexes. */
#define VV_DEV_CMDQ 0
#define VV_DEV_EVENTQ 1

struct vv_device;

struct vv_device *vv_device_new(struct event_loop *loop, const struct backend_ops *ops,
				struct backend *backend);
void vv_device_free(struct vv_device *d);
/* The transport the device talks through (rings and guest memory). */
void vv_device_set_server(struct vv_device *d, struct vu_server *s);
/* The vu_device_ops to register with vu_server_new (dev = the vv_device). */
const struct vu_device_ops *vv_device_vu_ops(void);

/* Counters for tests and logs. */
struct vv_device_stats {
	uint64_t commands;   /* popped command chains */
	uint64_t responses;  /* responses pushed to the used ring */
	uint64_t events;     /* events delivered */
	unsigned streams;    /* live streams */
	unsigned pending;    /* commands awaiting an asynchronous response */
	/* Bytes of bitstream and pictures copied between guest memory and the codec since
	 * start (backend_ops.bytes_copied; 0 when buffers are used in place). The device
	 * itself copies only commands and responses. Logged at -v on every reset, e.g.
	 * when the front-end goes away, so benchmarks can read it. */
	uint64_t frame_bytes_copied;
};
void vv_device_get_stats(const struct vv_device *d, struct vv_device_stats *st);

#endif
