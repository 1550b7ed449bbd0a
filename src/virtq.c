/* Split virtqueue, device side. Everything read from the rings or from
 * descriptor tables is written by the driver and may change under us: each
 * value is loaded once into a local, validated, and only the local is used. */
#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"

/* One load of a little-endian ring field (no re-fetch by the compiler). */
static inline uint16_t ring_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void ring_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* used_event lives after the avail ring, avail_event after the used ring. */
static inline uint16_t *avail_used_event(const struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *used_avail_event(const struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vq_init(struct virtq *vq, unsigned index, const struct guest_mem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->mem = mem;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void vq_reset(struct virtq *vq)
{
	unsigned index = vq->index;
	const struct guest_mem *mem = vq->mem;

	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&vq->err_fd);
	vq_init(vq, index, mem);
}

static void unmap_rings(struct virtq *vq)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

/* Translates the three rings for the current num. Each ring must lie whole in
 * one region and be aligned both as a front-end address and as a host address
 * (a region's mmap_offset could misalign the latter). 0, -EINVAL or -EFAULT. */
static int map_rings(struct virtq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva)
{
	void *desc, *avail, *used;

	if ((desc_uva & 15) || (avail_uva & 1) || (used_uva & 3)) {
		log_warn("vq %u: misaligned ring address", vq->index);
		return -EINVAL;
	}
	desc = guest_mem_uva_to_host(vq->mem, desc_uva, vring_desc_size(vq->num));
	avail = guest_mem_uva_to_host(vq->mem, avail_uva, vring_avail_size(vq->num));
	used = guest_mem_uva_to_host(vq->mem, used_uva, vring_used_size(vq->num));
	if (desc == NULL || avail == NULL || used == NULL) {
		log_warn("vq %u: ring not inside one memory region", vq->index);
		return -EFAULT;
	}
	if (((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) || ((uintptr_t)used & 3)) {
		log_warn("vq %u: ring misaligned in host memory", vq->index);
		return -EINVAL;
	}
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->mapped_generation = vq->mem->generation;
	return 0;
}

int vq_set_num(struct virtq *vq, unsigned num)
{
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0) {
		log_warn("vq %u: bad ring size %u", vq->index, num);
		return -EINVAL;
	}
	vq->num = (uint16_t)num;
	/* Rings mapped for another size were checked for other lengths. */
	if (vq->addr_set)
		vq_remap(vq);
	return 0;
}

int vq_set_addr(struct virtq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva)
{
	int rc;

	unmap_rings(vq);
	vq->addr_set = false;
	if (vq->num == 0) {
		log_warn("vq %u: ring address before ring size", vq->index);
		return -EINVAL;
	}
	rc = map_rings(vq, desc_uva, avail_uva, used_uva);
	if (rc < 0)
		return rc;
	vq->desc_uva = desc_uva;
	vq->avail_uva = avail_uva;
	vq->used_uva = used_uva;
	vq->addr_set = true;
	vq->used_idx = ring_load16(&vq->used->idx);
	vq->signalled_used_valid = false;
	return 0;
}

void vq_set_base(struct virtq *vq, uint16_t base)
{
	vq->last_avail_idx = base;
	vq->signalled_used_valid = false;
}

int vq_remap(struct virtq *vq)
{
	unmap_rings(vq);
	if (!vq->addr_set || vq->num == 0) {
		vq->mapped_generation = vq->mem->generation;
		return 0;
	}
	if (map_rings(vq, vq->desc_uva, vq->avail_uva, vq->used_uva) < 0) {
		log_warn("vq %u: rings no longer mapped", vq->index);
		return -EFAULT;
	}
	return 0;
}

static bool vq_is_mapped(const struct virtq *vq)
{
	return vq->num != 0 && vq->desc != NULL && vq->avail != NULL && vq->used != NULL &&
	       vq->mem != NULL && vq->mapped_generation == vq->mem->generation;
}

bool vq_is_ready(const struct virtq *vq)
{
	return vq->started && vq->enabled && !vq->broken && vq_is_mapped(vq);
}

static void vq_mark_broken(struct virtq *vq, const char *why)
{
	log_err("vq %u: %s; ring stopped until reset", vq->index, why);
	vq->broken = true;
}

/* Chain-walk state shared by the direct and indirect parts of a chain. */
struct chain_walk {
	struct virtq *vq;
	struct vq_chain *c;
	uint64_t read_len, write_len;
	bool seen_write;
};

/* Adds one (already copied, host-endian) buffer descriptor to the chain. */
static int chain_add_buffer(struct chain_walk *w, const struct vring_desc *d)
{
	struct vq_chain *c = w->c;
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned used_segs = c->n_read + c->n_write;
	int n;

	if (writable) {
		w->seen_write = true;
		w->write_len += d->len;
		if (w->write_len > UINT32_MAX)
			return -EINVAL;
	} else {
		/* The device reads everything before it writes anything. */
		if (w->seen_write)
			return -EINVAL;
		w->read_len += d->len;
		if (w->read_len > UINT32_MAX)
			return -EINVAL;
	}
	if (d->len == 0)
		return 0;
	n = guest_mem_translate(w->vq->mem, d->addr, d->len, &c->seg[used_segs],
				VQ_MAX_CHAIN_SEGS - used_segs);
	if (n < 0)
		return n;
	if (writable)
		c->n_write += (unsigned)n;
	else
		c->n_read += (unsigned)n;
	return 0;
}

static int chain_walk_indirect(struct chain_walk *w, const struct vring_desc *ind)
{
	const struct guest_mem *mem = w->vq->mem;
	unsigned n_entries, walked = 0;
	uint16_t idx = 0;

	if (!w->vq->indirect || (ind->flags & VRING_DESC_F_NEXT))
		return -EINVAL;
	if (ind->len == 0 || ind->len % sizeof(struct vring_desc) != 0 ||
	    ind->len / sizeof(struct vring_desc) > VQ_MAX_INDIRECT)
		return -EINVAL;
	n_entries = ind->len / sizeof(struct vring_desc);
	/* Entry addresses below are table + 16 * idx: the table must not wrap. */
	if (ind->len - 1 > UINT64_MAX - ind->addr)
		return -EFAULT;

	for (;;) {
		struct vring_desc raw, d;
		int rc;

		if (walked == n_entries)
			return -EINVAL; /* loop */
		walked++;
		/* The table may span regions: copy the entry out, then use only the copy. */
		if (guest_mem_read(mem, ind->addr + (uint64_t)idx * sizeof(raw), &raw, sizeof(raw)) < 0)
			return -EFAULT;
		d.addr = le64toh(raw.addr);
		d.len = le32toh(raw.len);
		d.flags = le16toh(raw.flags);
		d.next = le16toh(raw.next);

		if (d.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL; /* nested */
		rc = chain_add_buffer(w, &d);
		if (rc < 0)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n_entries)
			return -EINVAL;
		idx = d.next;
	}
}

static int chain_walk(struct virtq *vq, uint16_t head, struct vq_chain *c)
{
	struct chain_walk w = { .vq = vq, .c = c };
	unsigned walked = 0;
	uint16_t idx = head;
	int rc;

	c->head = head;
	c->n_read = 0;
	c->n_write = 0;
	c->read_len = 0;
	c->write_len = 0;

	for (;;) {
		const struct vring_desc *src = &vq->desc[idx];
		struct vring_desc d;

		if (walked == vq->num)
			return -EINVAL; /* loop */
		walked++;
		d.addr = le64toh(__atomic_load_n(&src->addr, __ATOMIC_RELAXED));
		d.len = le32toh(__atomic_load_n(&src->len, __ATOMIC_RELAXED));
		d.flags = ring_load16(&src->flags);
		d.next = ring_load16(&src->next);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor cannot have NEXT: it ends the chain. */
			rc = chain_walk_indirect(&w, &d);
			if (rc < 0)
				return rc;
			break;
		}
		rc = chain_add_buffer(&w, &d);
		if (rc < 0)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= vq->num)
			return -EINVAL;
		idx = d.next;
	}
	c->read_len = (size_t)w.read_len;
	c->write_len = (size_t)w.write_len;
	return 0;
}

int vq_pop_chain(struct virtq *vq, struct vq_chain *c)
{
	uint16_t avail_idx, pending, head;
	int rc;

	if (!vq_is_ready(vq))
		return 0;

	/* Acquire: ring entries and descriptors are read after the index. */
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending > vq->num) {
		vq_mark_broken(vq, "avail index ran more than the ring size ahead");
		return -EIO;
	}
	if (pending == 0)
		return 0;
	if (vq->inflight >= vq->num) {
		vq_mark_broken(vq, "more requests in flight than the ring holds");
		return -EIO;
	}
	head = ring_load16(&vq->avail->ring[vq->last_avail_idx % vq->num]);
	if (head >= vq->num) {
		vq_mark_broken(vq, "head index out of range");
		return -EIO;
	}
	vq->last_avail_idx++;
	vq->inflight++;

	rc = chain_walk(vq, head, c);
	if (rc < 0) {
		log_debug("vq %u: malformed chain at head %u (%d)", vq->index, head, rc);
		vq->bad_chains++;
		vq_push_used(vq, head, 0);
		return rc;
	}
	return 1;
}

size_t vq_chain_read(const struct vq_chain *c, size_t offset, void *dst, size_t len)
{
	unsigned n_read = c->n_read < VQ_MAX_CHAIN_SEGS ? c->n_read : VQ_MAX_CHAIN_SEGS;

	return iov_copy(c->seg, n_read, offset, dst, len, false);
}

size_t vq_chain_write(const struct vq_chain *c, size_t offset, const void *src, size_t len)
{
	unsigned n_read = c->n_read, n_write = c->n_write;

	if (n_read > VQ_MAX_CHAIN_SEGS || n_write > VQ_MAX_CHAIN_SEGS - n_read)
		return 0;
	/* iov_copy only reads from buf when copying into the segments. */
	return iov_copy(&c->seg[n_read], n_write, offset, (uint8_t *)(uintptr_t)src, len, true);
}

void vq_push_used(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *elem;

	if (vq->inflight > 0)
		vq->inflight--;
	/* Pointers from before a memory change may reach retired memory only. */
	if (!vq_is_mapped(vq)) {
		log_debug("vq %u: completion of head %u dropped, ring not mapped", vq->index, head);
		return;
	}
	elem = &vq->used->ring[vq->used_idx % vq->num];
	elem->id = htole32(head);
	elem->len = htole32(written);
	vq->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

void vq_notify(struct virtq *vq)
{
	uint16_t new_idx = vq->used_idx, old_idx = vq->signalled_used;
	bool need;

	if (!vq_is_mapped(vq))
		return;
	if (vq->signalled_used_valid && new_idx == old_idx)
		return; /* nothing pushed since the last call */

	/* Our used->idx store must be visible before we read the driver's wishes,
	 * or we could miss an interrupt it asks for right now. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t used_event = ring_load16(avail_used_event(vq));

		need = !vq->signalled_used_valid || vring_need_event(used_event, new_idx, old_idx);
	} else {
		need = !(ring_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;

	if (need && vq->call_fd >= 0) {
		uint64_t one = 1;

		if (write(vq->call_fd, &one, sizeof(one)) < 0)
			log_debug("vq %u: call fd write failed", vq->index);
	}
}

bool vq_enable_notify(struct virtq *vq)
{
	uint16_t avail_idx;

	if (!vq_is_mapped(vq))
		return false;
	if (vq->event_idx) {
		ring_store16(used_avail_event(vq), vq->last_avail_idx);
	} else {
		uint16_t flags = ring_load16(&vq->used->flags);

		ring_store16(&vq->used->flags, flags & (uint16_t)~VRING_USED_F_NO_NOTIFY);
	}
	/* The driver checks our wish after publishing avail->idx; we check
	 * avail->idx after publishing our wish: one of us sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	return avail_idx != vq->last_avail_idx;
}
