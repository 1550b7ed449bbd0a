/* Split virtqueue, device side: chain walking with validation of everything
 * the driver wrote, byte-stream access to the readable and writable parts of
 * a chain, used-ring updates and notification (EVENT_IDX aware). */
#ifndef VIRTQ_H
#define VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"
#include "virtio_ring.h"

#define VQ_MAX_SIZE 1024
/* Segments of one chain after translation (readable + writable). */
#define VQ_MAX_CHAIN_SEGS 256
/* Entries of one indirect table. */
#define VQ_MAX_INDIRECT 1024

struct virtq {
	unsigned index;
	const struct guest_mem *mem;

	uint16_t num;          /* 0 = not set */
	uint64_t desc_uva, avail_uva, used_uva; /* as given, for remapping */
	bool addr_set;
	struct vring_desc *desc; /* host pointers, valid when mapped */
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t mapped_generation;

	uint16_t last_avail_idx; /* next avail entry to read */
	uint16_t used_idx;       /* shadow of used->idx */
	uint16_t signalled_used; /* used idx at the last call */
	bool signalled_used_valid;

	bool event_idx;  /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;   /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	bool enabled;    /* SET_VRING_ENABLE */
	bool started;    /* has a kick fd (or polling), between SET_VRING_KICK and GET_VRING_BASE */
	bool broken;     /* driver misbehaved; nothing more is processed until reset */

	int kick_fd, call_fd, err_fd; /* owned, -1 when absent */

	unsigned inflight; /* popped, not yet pushed */

	/* Counters, for tests and logs. */
	uint64_t bad_chains;
};

struct vq_chain {
	uint16_t head;
	unsigned n_read;  /* seg[0 .. n_read) device-readable */
	unsigned n_write; /* seg[n_read .. n_read + n_write) device-writable */
	size_t read_len, write_len;
	struct iovec seg[VQ_MAX_CHAIN_SEGS];
};

void vq_init(struct virtq *vq, unsigned index, const struct guest_mem *mem);

/* Closes fds and forgets everything except index and mem. */
void vq_reset(struct virtq *vq);

/* Size: power of two, 1..VQ_MAX_SIZE. 0 or -EINVAL. When ring addresses are
 * already set they are checked again for the new size (vq_remap); if they no
 * longer fit, the ring stays unmapped until the next vq_set_addr. */
int vq_set_num(struct virtq *vq, unsigned num);

/* Records ring addresses (front-end virtual) and maps them; checks alignment
 * (desc 16, avail 2, used 4) and that each whole ring lies in one region.
 * Needs num set. Loads the shadow used index from used->idx.
 * 0 or -EINVAL / -EFAULT. */
int vq_set_addr(struct virtq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva);

/* SET_VRING_BASE: next avail index to read. */
void vq_set_base(struct virtq *vq, uint16_t base);

/* Re-translates ring addresses after the memory table changed. When they are
 * no longer mapped the ring loses its pointers (and stops being processed).
 * 0 or -EFAULT. */
int vq_remap(struct virtq *vq);

/* True when the ring can be processed: started, enabled, mapped, not broken. */
bool vq_is_ready(const struct virtq *vq);

/* Pops the next available chain into *c.
 * Returns 1 when *c holds a chain, 0 when there is none (or the ring is not
 * ready or broken), -errno when the next chain was malformed: that chain has
 * already been returned to the driver with 0 bytes written, and the caller
 * may simply call again. When avail->idx runs more than num ahead or a head
 * index is out of range, or more chains are in flight than the ring holds,
 * the ring is marked broken and -EIO is returned. A rejected chain counts in
 * bad_chains; call vq_notify() after the loop as for chains pushed normally. */
int vq_pop_chain(struct virtq *vq, struct vq_chain *c);

/* Copies from the device-readable bytes of c, starting at offset.
 * Returns bytes copied (fewer than len when the chain is shorter). */
size_t vq_chain_read(const struct vq_chain *c, size_t offset, void *dst, size_t len);

/* Copies into the device-writable bytes of c, starting at offset.
 * Returns bytes copied (fewer than len when the chain is shorter). */
size_t vq_chain_write(const struct vq_chain *c, size_t offset, const void *src, size_t len);

/* Puts head into the used ring with the number of bytes written. When the
 * ring is not mapped for the current memory table the completion is dropped
 * (only the in-flight count goes down). */
void vq_push_used(struct virtq *vq, uint16_t head, uint32_t written);

/* Signals call_fd if the driver wants an interrupt for what was pushed since
 * the last call (EVENT_IDX or NO_INTERRUPT rules). */
void vq_notify(struct virtq *vq);

/* After the driver has been drained: ask for kicks again (avail_event with
 * EVENT_IDX, else clear NO_NOTIFY). Returns true when new chains arrived in
 * the meantime, so the caller must process the ring again. */
bool vq_enable_notify(struct virtq *vq);

#endif
