/* Split virtqueue layout (virtio 1.x). Ring memory is little-endian. */
#ifndef VIRTIO_RING_H
#define VIRTIO_RING_H

#include <stdint.h>

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vring_desc) == 16, "descriptor");

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then u16 used_event */
};
_Static_assert(sizeof(struct vring_avail) == 4, "avail header");

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct vring_used_elem) == 8, "used element");

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* num entries, then u16 avail_event */
};
_Static_assert(sizeof(struct vring_used) == 4, "used header");

static inline uint64_t vring_desc_size(unsigned num) { return 16ull * num; }
static inline uint64_t vring_avail_size(unsigned num) { return 4 + 2ull * num + 2; }
static inline uint64_t vring_used_size(unsigned num) { return 4 + 8ull * num + 2; }

/* True when an index moving from old to new_idx passed event (EVENT_IDX rule). */
static inline int vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif
