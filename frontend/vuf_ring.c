/* vuf_ring: the guest driver's half of a split virtqueue. Rings and buffers
 * live in vuf_ram; ring memory is little-endian; avail->idx is published with
 * a release store and used->idx read with an acquire load. The device can
 * write the used ring only, so our bookkeeping (free list, chain links) is
 * kept privately and every used entry is checked before it is believed. */
#include "vuf.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* used_event sits after the avail ring, avail_event after the used ring. */
static uint16_t *used_event_ptr(struct vuf_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event_ptr(struct vuf_vq *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->num];
}

static void write_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Guest buffers and private copies owned by an in-flight request. */
static void release_req_buffers(struct vuf_vq *vq, struct vuf_req *req)
{
	for (unsigned i = 0; i < req->ngpas && i < ARRAY_SIZE(req->gpas); i++)
		vuf_ram_release(vq->ram, req->gpas[i]);
	req->ngpas = 0;
	free(req->raw_wsegs);
	req->raw_wsegs = NULL;
	req->raw_nwsegs = 0;
}

int vuf_vq_setup(struct vuf_vq *vq, struct vuf_ram *ram, unsigned index, unsigned num,
		 bool event_idx)
{
	int ret = -ENOMEM;

	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	if (!ram || !ram->size || num == 0 || num > VUF_VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	vq->ram = ram;
	vq->index = index;
	vq->num = num;
	vq->event_idx = event_idx;
	vq->split_piece = VUF_DEFAULT_SPLIT_PIECE;

	vq->desc_gpa = vuf_ram_alloc(ram, vring_desc_size(num), 16);
	vq->avail_gpa = vuf_ram_alloc(ram, vring_avail_size(num), 2);
	vq->used_gpa = vuf_ram_alloc(ram, vring_used_size(num), 4);
	if (!vq->desc_gpa || !vq->avail_gpa || !vq->used_gpa)
		goto fail;
	vq->desc = vuf_ram_ptr(ram, vq->desc_gpa, vring_desc_size(num));
	vq->avail = vuf_ram_ptr(ram, vq->avail_gpa, vring_avail_size(num));
	vq->used = vuf_ram_ptr(ram, vq->used_gpa, vring_used_size(num));
	memset(vq->desc, 0, vring_desc_size(num));
	memset(vq->avail, 0, vring_avail_size(num));
	memset(vq->used, 0, vring_used_size(num));

	vq->pending = calloc(num, sizeof(*vq->pending));
	vq->desc_next = calloc(num, sizeof(*vq->desc_next));
	if (!vq->pending || !vq->desc_next)
		goto fail;
	for (unsigned i = 0; i < num; i++)
		vq->desc_next[i] = (uint16_t)((i + 1) % num);
	vq->free_head = 0;
	vq->num_free = num;

	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0) {
		ret = -errno;
		goto fail;
	}
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->call_fd < 0) {
		ret = -errno;
		goto fail;
	}
	return 0;

fail:
	vuf_vq_fini(vq);
	return ret;
}

void vuf_vq_fini(struct vuf_vq *vq)
{
	if (vq->ram) {
		for (unsigned i = 0; vq->pending && i < vq->num; i++)
			if (vq->pending[i])
				release_req_buffers(vq, vq->pending[i]);
		vuf_ram_release(vq->ram, vq->desc_gpa);
		vuf_ram_release(vq->ram, vq->avail_gpa);
		vuf_ram_release(vq->ram, vq->used_gpa);
		if (vq->kick_fd >= 0)
			close(vq->kick_fd);
		if (vq->call_fd >= 0)
			close(vq->call_fd);
	}
	free(vq->pending);
	free(vq->desc_next);
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
}

/* Writes segs as one chain, straight into the ring or through the indirect
 * table at table_gpa, and makes it available. The caller checked that enough
 * descriptors are free and that the table holds n entries. */
static void publish_chain(struct vuf_vq *vq, struct vuf_req *req, const struct vuf_seg *segs,
			  unsigned n, uint64_t table_gpa)
{
	uint16_t head = vq->free_head, idx = head;
	unsigned ndescs;

	if (table_gpa) {
		struct vring_desc *table = vuf_ram_ptr(vq->ram, table_gpa, vring_desc_size(n));

		for (unsigned k = 0; k < n; k++) {
			bool more = k + 1 < n;

			write_desc(&table[k], segs[k].gpa, segs[k].len,
				   segs[k].flags | (more ? VRING_DESC_F_NEXT : 0),
				   more ? (uint16_t)(k + 1) : 0);
		}
		write_desc(&vq->desc[idx], table_gpa, (uint32_t)vring_desc_size(n),
			   VRING_DESC_F_INDIRECT, 0);
		idx = vq->desc_next[idx];
		ndescs = 1;
	} else {
		/* The free list is taken in order, so desc_next already links the chain. */
		for (unsigned k = 0; k < n; k++) {
			uint16_t next = vq->desc_next[idx];
			bool more = k + 1 < n;

			write_desc(&vq->desc[idx], segs[k].gpa, segs[k].len,
				   segs[k].flags | (more ? VRING_DESC_F_NEXT : 0), more ? next : 0);
			idx = next;
		}
		ndescs = n;
	}
	vq->free_head = idx;
	vq->num_free -= ndescs;

	req->head = head;
	req->ndescs = ndescs;
	req->done = false;
	vq->pending[head] = req;
	vq->inflight++;

	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	/* The descriptors and the ring entry must be visible before the index. */
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

static void reset_req(struct vuf_req *req)
{
	void *cookie = req->cookie;

	memset(req, 0, sizeof(*req));
	req->cookie = cookie;
}

static uint64_t pieces_of(size_t len, size_t piece)
{
	return len / piece + (len % piece != 0);
}

int vuf_vq_addv(struct vuf_vq *vq, struct vuf_req *req, const struct iovec *out,
		unsigned out_cnt, size_t resp_cap, enum vuf_layout layout)
{
	struct vuf_seg stack_segs[64], *segs = stack_segs;
	uint64_t out_gpa = 0, in_gpa = 0, table_gpa = 0;
	uint64_t n_out, n_in, npieces;
	size_t out_len = 0, piece, out_piece, in_piece;
	uint8_t *dst;
	int ret;

	if (!vq->ram || !req || (out_cnt && !out))
		return -EINVAL;
	for (unsigned i = 0; i < out_cnt; i++) {
		if (out[i].iov_len && !out[i].iov_base)
			return -EINVAL;
		if (__builtin_add_overflow(out_len, out[i].iov_len, &out_len))
			return -EINVAL;
	}
	if ((out_len == 0 && resp_cap == 0) || out_len > UINT32_MAX || resp_cap > UINT32_MAX)
		return -EINVAL;

	piece = vq->split_piece ? vq->split_piece : VUF_DEFAULT_SPLIT_PIECE;
	if (piece > UINT32_MAX)
		piece = UINT32_MAX;
	switch (layout) {
	case VUF_LAYOUT_SINGLE:
		out_piece = out_len;
		in_piece = resp_cap;
		n_out = out_len != 0;
		n_in = resp_cap != 0;
		break;
	case VUF_LAYOUT_SPLIT:
	case VUF_LAYOUT_INDIRECT:
		out_piece = in_piece = piece;
		n_out = pieces_of(out_len, piece);
		n_in = pieces_of(resp_cap, piece);
		break;
	default:
		return -EINVAL;
	}
	npieces = n_out + n_in;
	/* A chain may not be longer than the ring (direct or indirect). */
	if (npieces > vq->num)
		return -EMSGSIZE;
	if ((layout == VUF_LAYOUT_INDIRECT ? 1 : npieces) > vq->num_free)
		return -ENOSPC;
	if (npieces > ARRAY_SIZE(stack_segs)) {
		segs = malloc(sizeof(*segs) * npieces);
		if (!segs)
			return -ENOMEM;
	}

	/* One buffer per part; descriptors are cut from them below. */
	ret = -ENOMEM;
	if (out_len) {
		out_gpa = vuf_ram_alloc(vq->ram, out_len, 8);
		if (!out_gpa)
			goto fail;
		dst = vuf_ram_ptr(vq->ram, out_gpa, out_len);
		for (unsigned i = 0; i < out_cnt; i++) {
			if (!out[i].iov_len)
				continue;
			memcpy(dst, out[i].iov_base, out[i].iov_len);
			dst += out[i].iov_len;
		}
	}
	if (resp_cap) {
		in_gpa = vuf_ram_alloc(vq->ram, resp_cap, 8);
		if (!in_gpa)
			goto fail;
		memset(vuf_ram_ptr(vq->ram, in_gpa, resp_cap), 0, resp_cap);
	}
	if (layout == VUF_LAYOUT_INDIRECT) {
		table_gpa = vuf_ram_alloc(vq->ram, vring_desc_size((unsigned)npieces), 16);
		if (!table_gpa)
			goto fail;
	}

	for (uint64_t k = 0; k < npieces; k++) {
		bool writable = k >= n_out;
		uint64_t base = writable ? in_gpa : out_gpa;
		size_t part_len = writable ? resp_cap : out_len;
		size_t part_piece = writable ? in_piece : out_piece;
		size_t off = (size_t)(writable ? k - n_out : k) * part_piece;
		size_t len = part_len - off < part_piece ? part_len - off : part_piece;

		segs[k] = (struct vuf_seg){
			.gpa = base + off,
			.len = (uint32_t)len,
			.flags = writable ? VRING_DESC_F_WRITE : 0,
		};
	}

	reset_req(req);
	req->resp_cap = resp_cap;
	req->resp_gpa = in_gpa;
	if (out_gpa)
		req->gpas[req->ngpas++] = out_gpa;
	if (in_gpa)
		req->gpas[req->ngpas++] = in_gpa;
	if (table_gpa)
		req->gpas[req->ngpas++] = table_gpa;
	publish_chain(vq, req, segs, (unsigned)npieces, table_gpa);
	if (segs != stack_segs)
		free(segs);
	return 0;

fail:
	vuf_ram_release(vq->ram, out_gpa);
	vuf_ram_release(vq->ram, in_gpa);
	vuf_ram_release(vq->ram, table_gpa);
	if (segs != stack_segs)
		free(segs);
	return ret;
}

int vuf_vq_add(struct vuf_vq *vq, struct vuf_req *req, const void *out, size_t out_len,
	       size_t resp_cap, enum vuf_layout layout)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)out, .iov_len = out_len };

	return vuf_vq_addv(vq, req, out_len ? &iov : NULL, out_len ? 1 : 0, resp_cap, layout);
}

int vuf_vq_add_raw(struct vuf_vq *vq, struct vuf_req *req, const struct vuf_seg *segs,
		   unsigned nsegs, bool indirect)
{
	struct vuf_seg *wsegs = NULL;
	uint64_t table_gpa = 0;
	unsigned nw = 0;
	size_t resp_cap = 0;

	if (!vq->ram || !req || !segs || nsegs == 0)
		return -EINVAL;
	if (nsegs > vq->num)
		return -EMSGSIZE;
	if ((indirect ? 1 : nsegs) > vq->num_free)
		return -ENOSPC;
	for (unsigned i = 0; i < nsegs; i++)
		if (segs[i].flags & VRING_DESC_F_WRITE)
			nw++;
	if (nw) {
		wsegs = malloc(sizeof(*wsegs) * nw);
		if (!wsegs)
			return -ENOMEM;
		nw = 0;
		for (unsigned i = 0; i < nsegs; i++) {
			if (!(segs[i].flags & VRING_DESC_F_WRITE))
				continue;
			wsegs[nw++] = segs[i];
			resp_cap += segs[i].len;
		}
	}
	if (indirect) {
		table_gpa = vuf_ram_alloc(vq->ram, vring_desc_size(nsegs), 16);
		if (!table_gpa) {
			free(wsegs);
			return -ENOMEM;
		}
	}

	reset_req(req);
	req->resp_cap = resp_cap;
	req->raw_wsegs = wsegs;
	req->raw_nwsegs = nw;
	if (table_gpa)
		req->gpas[req->ngpas++] = table_gpa;
	publish_chain(vq, req, segs, nsegs, table_gpa);
	return 0;
}

int vuf_vq_kick(struct vuf_vq *vq)
{
	uint16_t old = vq->kicked_avail_idx, new_idx = vq->avail_idx;
	uint64_t one = 1;
	bool need;

	if (!vq->ram)
		return -EINVAL;
	/* Our avail->idx store must be visible before we read the device's hint,
	 * or we could skip a kick the device is about to wait for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->always_kick) {
		need = true;
	} else if (vq->event_idx) {
		uint16_t event = le16toh(__atomic_load_n(avail_event_ptr(vq), __ATOMIC_RELAXED));

		need = vring_need_event(event, new_idx, old);
	} else {
		need = !(le16toh(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	}
	vq->kicked_avail_idx = new_idx;
	if (!need) {
		vq->kicks_suppressed++;
		return 0;
	}
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one)) {
		/* EAGAIN: the counter is saturated, the device has a kick pending anyway. */
		if (errno != EAGAIN)
			return -errno;
	}
	vq->kicks++;
	return 0;
}

static void complete_req(struct vuf_vq *vq, uint16_t head, uint32_t len)
{
	struct vuf_req *req = vq->pending[head];
	uint16_t last = head;

	vq->pending[head] = NULL;
	vq->inflight--;
	/* Give the chain's descriptors back (our links, not the device-visible ones). */
	for (unsigned i = 1; i < req->ndescs; i++)
		last = vq->desc_next[last];
	vq->desc_next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += req->ndescs;

	req->used_len = len;
	req->resp = NULL;
	if (req->resp_cap) {
		req->resp = calloc(1, req->resp_cap);
		if (req->resp && req->raw_wsegs) {
			size_t off = 0;

			/* Segments outside guest RAM stay zero. */
			for (unsigned i = 0; i < req->raw_nwsegs; i++) {
				vuf_ram_read(vq->ram, req->raw_wsegs[i].gpa, req->resp + off,
					     req->raw_wsegs[i].len);
				off += req->raw_wsegs[i].len;
			}
		} else if (req->resp) {
			memcpy(req->resp, vuf_ram_ptr(vq->ram, req->resp_gpa, req->resp_cap),
			       req->resp_cap);
		}
	}
	release_req_buffers(vq, req);
	req->done = true;
	vq->completed++;
	if (vq->on_complete)
		vq->on_complete(vq, req);
}

int vuf_vq_reap(struct vuf_vq *vq)
{
	int done = 0;

	if (!vq->ram)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	for (;;) {
		uint16_t used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
		uint16_t ready = (uint16_t)(used_idx - vq->last_used_idx);

		if (ready > vq->num) {
			vq->broken = true;
			return -EIO;
		}
		if (ready == 0) {
			if (!vq->event_idx)
				break;
			/* Ask for an interrupt at the next used entry, then look
			 * again: the device may have pushed before it saw this. */
			__atomic_store_n(used_event_ptr(vq), htole16(vq->last_used_idx),
					 __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) ==
			    vq->last_used_idx)
				break;
			continue;
		}
		while (vq->last_used_idx != used_idx) {
			const struct vring_used_elem *e =
				&vq->used->ring[vq->last_used_idx & (vq->num - 1)];
			uint32_t id = le32toh(e->id), len = le32toh(e->len);

			vq->last_used_idx++;
			if (id >= vq->num || !vq->pending[id]) {
				vq->bad_used++;
				continue;
			}
			complete_req(vq, (uint16_t)id, len);
			if (done < INT_MAX)
				done++;
		}
	}
	return done;
}

static int64_t ring_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for call_fd until deadline (INT64_MAX: forever) and consumes it. */
static int wait_call(struct vuf_vq *vq, int64_t deadline)
{
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };
	uint64_t count;

	for (;;) {
		int timeout = -1, r;

		if (deadline != INT64_MAX) {
			int64_t left = deadline - ring_now_ms();

			timeout = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&p, 1, timeout);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		break;
	}
	if (read(vq->call_fd, &count, sizeof(count)) == sizeof(count))
		vq->calls += count;
	return 0;
}

int vuf_vq_wait(struct vuf_vq *vq, struct vuf_req *req, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : ring_now_ms() + timeout_ms;

	for (;;) {
		int ret = vuf_vq_reap(vq);

		if (ret < 0)
			return ret;
		if (req->done)
			return 0;
		ret = wait_call(vq, deadline);
		if (ret)
			return ret;
	}
}

int vuf_vq_wait_any(struct vuf_vq *vq, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : ring_now_ms() + timeout_ms;

	for (;;) {
		int ret = vuf_vq_reap(vq);

		if (ret != 0)
			return ret;
		ret = wait_call(vq, deadline);
		if (ret)
			return ret;
	}
}

void vuf_req_fini(struct vuf_req *req)
{
	free(req->resp);
	req->resp = NULL;
}
