/* vhost-user back-end transport: one front-end connection at a time.
 * Reads and validates every message, owns received fds, guest memory and the
 * virtqueues, and hands ring activity to the device through vu_device_ops. */
#ifndef VU_SERVER_H
#define VU_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "event_loop.h"
#include "guest_mem.h"
#include "virtq.h"
#include "vu_proto.h"

#define VU_MAX_QUEUES 2
/* A stalled front-end cannot hold the loop longer than this inside one message. */
#define VU_MSG_TIMEOUT_MS 5000

struct vu_device_ops {
	uint64_t device_features;  /* device-specific virtio feature bits offered */
	uint32_t config_size;      /* bytes of config space */
	/* Fills the whole config space (config_size bytes). 0 or -errno. */
	int (*get_config)(void *dev, uint8_t *buf);
	/* New buffers may be available on vq (kick, enable or start). */
	void (*queue_kick)(void *dev, struct virtq *vq);
	/* vq is about to stop (GET_VRING_BASE, reset): the device must answer or
	 * drop everything it holds from that ring; the ring is not touched after. */
	void (*queue_stop)(void *dev, struct virtq *vq);
	/* Drops all device state (disconnect, RESET_DEVICE, RESET_OWNER, status 0). */
	void (*reset)(void *dev);
	/* True while the device still holds host pointers into guest memory. */
	bool (*mem_in_use)(void *dev);
};

struct vu_server;

struct vu_server *vu_server_new(struct event_loop *loop, const struct vu_device_ops *ops,
				void *dev);
void vu_server_free(struct vu_server *s);

/* Serves conn_fd (ownership taken). on_close runs after the connection was
 * dropped and all its state released. 0 or -errno (fd closed on error). */
int vu_server_attach(struct vu_server *s, int conn_fd,
		     void (*on_close)(void *opaque), void *opaque);
/* Drops the connection and every piece of state that came with it. */
void vu_server_detach(struct vu_server *s);
bool vu_server_connected(const struct vu_server *s);

/* One decoded message as the dispatcher sees it; fds are owned by the
 * message until a handler takes one (and sets its slot to -1). */
struct vu_msg {
	struct vu_msg_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_single_mem_region mem_reg;
		struct vu_config config;
		uint8_t bytes[VU_MAX_PAYLOAD];
	} payload;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

struct vu_reply {
	bool send;              /* a reply message is due */
	struct vu_msg_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_config config;
		uint8_t bytes[VU_MAX_PAYLOAD];
	} payload;
};

/* Handles one message (exposed for unit tests and fuzzing). Closes every fd
 * not taken. Returns 0 (a reply may be due in *reply) or -EPROTO when the
 * connection must be dropped. */
int vu_server_handle_msg(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply);

/* State for tests and the device. */
struct virtq *vu_server_vq(struct vu_server *s, unsigned index);
const struct guest_mem *vu_server_mem(const struct vu_server *s);
uint64_t vu_server_features(const struct vu_server *s); /* acked */

/* Offered feature sets. */
uint64_t vu_server_offered_features(const struct vu_server *s);
uint64_t vu_server_offered_protocol_features(void);

#endif
