/* vhost-user protocol: request codes, flags and message payload layouts.
 * Shared by the daemon and by our front-end library (frontend/).
 * Multi-byte fields travel in the front-end's native byte order (the
 * protocol is host-local), so no byte swapping is done here. */
#ifndef VU_PROTO_H
#define VU_PROTO_H

#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_IOTLB_MSG = 22,
	VU_SET_VRING_ENDIAN = 23,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_CREATE_CRYPTO_SESSION = 26,
	VU_CLOSE_CRYPTO_SESSION = 27,
	VU_POSTCOPY_ADVISE = 28,
	VU_POSTCOPY_LISTEN = 29,
	VU_POSTCOPY_END = 30,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_GPU_SET_SOCKET = 33,
	VU_RESET_DEVICE = 34,
	VU_VRING_KICK = 35,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
	VU_REQUEST_MAX = 41,
};

#define VU_FLAG_VERSION_MASK 0x3u
#define VU_VERSION 0x1u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VU_MAX_FDS 8

/* Virtio feature bits this transport deals with. */
#define VIRTIO_F_NOTIFY_ON_EMPTY 24
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

/* Protocol feature bits. */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_LOG_SHMFD 1
#define VU_PROTOCOL_F_RARP 2
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_MTU 4
#define VU_PROTOCOL_F_BACKEND_REQ 5
#define VU_PROTOCOL_F_CROSS_ENDIAN 6
#define VU_PROTOCOL_F_CRYPTO_SESSION 7
#define VU_PROTOCOL_F_PAGEFAULT 8
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_BACKEND_SEND_FD 10
#define VU_PROTOCOL_F_HOST_NOTIFIER 11
#define VU_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VU_PROTOCOL_F_RESET_DEVICE 13
#define VU_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VU_PROTOCOL_F_STATUS 16

/* KICK/CALL/ERR payload: bits 0-7 ring index, bit 8 "no fd". */
#define VU_VRING_IDX_MASK 0xffull
#define VU_VRING_NOFD_MASK (1ull << 8)

struct vu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));
_Static_assert(sizeof(struct vu_msg_hdr) == 12, "vhost-user header");

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state");

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr");

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region");

#define VU_MEM_TABLE_MAX_REGIONS 8

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MEM_TABLE_MAX_REGIONS];
};
_Static_assert(sizeof(struct vu_mem_table) == 8 + 8 * 32, "memory table");

struct vu_single_mem_region {
	uint64_t padding;
	struct vu_mem_region region;
};
_Static_assert(sizeof(struct vu_single_mem_region) == 40, "single region");

#define VU_CONFIG_HDR_SIZE 12
#define VU_CONFIG_MAX_PAYLOAD 256

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VU_CONFIG_MAX_PAYLOAD];
};
_Static_assert(sizeof(struct vu_config) == VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX_PAYLOAD, "config");

/* Largest payload any request we handle carries. */
#define VU_MAX_PAYLOAD ((uint32_t)sizeof(struct vu_config))

#endif
