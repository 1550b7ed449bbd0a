/* The virtio-video device: command queue dispatch, stream and resource tables,
 * asynchronous completions and the event queue.
 *
 * Exactly one response per command chain, always. Every response goes through
 * answer(); a command either gets it before its handler returns or is kept as a
 * pending record (RESOURCE_QUEUE, STREAM_DRAIN) that holds the chain's writable
 * segments until the backend completes it or the device cancels it.
 *
 * Responses chosen for cancellations (QUEUE_CLEAR, RESOURCE_DESTROY_ALL,
 * STREAM_DESTROY, the command queue stopping):
 *  - a pending RESOURCE_QUEUE gets OK_RESOURCE_QUEUE with flags ERR and size 0,
 *    timestamp = the guest's for an INPUT buffer, 0 for an OUTPUT buffer (no
 *    picture came). The guest driver returns such a buffer to V4L2 in error,
 *    which is what a cancelled buffer is; an error response type would instead
 *    look like a command that failed.
 *  - a pending STREAM_DRAIN gets ERR_INVALID_OPERATION (the drain never completed).
 *  - then the cancelling command itself gets OK_NODATA.
 * On reset (the front-end is gone) nothing is written: records are dropped.
 *
 * Chains vq_pop_chain() rejected were already returned by virtq.c and are not
 * counted: stats.commands / stats.responses count chains this file answers. */
#include "vv_device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "log.h"
#include "vv_wire.h"

/* Host segments over all entries of one resource: each entry may run into the next
 * regions. Planes cut out of a single buffer split at most num_planes - 1 more. */
#define RES_MAX_ENTRY_SEGS (VV_MAX_MEM_ENTRIES + GUEST_MEM_MAX_REGIONS)
#define RES_MAX_SEGS (RES_MAX_ENTRY_SEGS + VV_MAX_PLANES)

/* Rounds of draining the command queue per kick before yielding to the loop. */
#define CMDQ_MAX_ROUNDS 4

/* Handler result: the response is owed later (a pending record holds the chain). */
#define ANSWER_LATER 0u

#define DEVICE_NAME "vhost-user-video"

struct vv_gpa_entry {
	uint64_t addr;
	uint32_t len;
};

/* Where a response goes: a chain's writable part, now or later. */
struct reply_target {
	uint16_t head;
	const struct iovec *segs;
	/* Later only: the same segments as guest-physical ranges (NULL when some segment
	 * could not be placed), and the memory table segs were translated under. When the
	 * table changed meanwhile, segs may point into a retired mapping: the ranges are
	 * translated again instead. */
	const struct vv_gpa_entry *gpas;
	uint64_t mem_generation;
	unsigned nsegs;
	size_t cap; /* writable bytes */
};

/* A command answered asynchronously (RESOURCE_QUEUE or STREAM_DRAIN). The record and its
 * arrays (wsegs, wgpas, segs, srcs) are one allocation: a queued buffer costs one
 * malloc/free pair, not five (measured with bench/, figure 3e). */
struct vv_pending {
	uint16_t head;
	uint32_t stream_id;
	size_t resp_cap;
	unsigned n_wsegs;
	struct iovec *wsegs;  /* the chain's writable segments, exact count */
	/* The same as guest-physical ranges (NULL when one was not in guest memory): the
	 * response is written through them when the memory table changed meanwhile. */
	struct vv_gpa_entry *wgpas;
	struct iovec *segs;   /* RESOURCE_QUEUE: host segments lent to the backend */
	struct backend_seg_src *srcs; /* and where each comes from (file, offset) */
	unsigned nsegs;
	uint64_t mem_generation; /* guest memory when wsegs and segs were translated */
	uint64_t timestamp;   /* RESOURCE_QUEUE on INPUT: the guest's */
};

/* Where a plane lies: bytes [offset, offset + len) of the concatenation of entries
 * [first_entry, first_entry + num_entries). */
struct vv_plane_layout {
	unsigned first_entry, num_entries;
	uint64_t offset, len;
};

struct vv_resource {
	uint32_t id;
	unsigned num_planes;
	struct vv_plane_layout planes[VV_MAX_PLANES];
	unsigned num_entries;
	struct vv_gpa_entry *entries; /* guest-physical, translated again at each queue */
	struct vv_pending *queued;    /* non-NULL while the backend holds the buffer */
};

struct vv_res_queue {
	uint32_t type;
	struct vv_resource *res[VV_DEV_MAX_RESOURCES];
	unsigned nres;
};

enum { QI_INPUT = 0, QI_OUTPUT = 1, QI_COUNT = 2 };

struct vv_stream {
	struct vv_device *dev;
	uint32_t id;
	uint32_t coded_format;
	struct backend_session *session;
	struct vv_res_queue queues[QI_COUNT];
	struct vv_pending *drain;
};

struct vv_event_rec {
	uint32_t type;
	uint32_t stream_id;
};

struct vv_device {
	struct event_loop *loop;
	const struct backend_ops *ops;
	struct backend *backend;
	struct vu_server *server;

	struct vv_stream *streams[VV_DEV_MAX_STREAMS];
	unsigned nstreams;
	unsigned total_entries; /* GPA entries held by all resources */

	struct vv_event_rec events[VV_DEV_MAX_PENDING_EVENTS]; /* FIFO */
	unsigned ev_first, ev_count;

	struct vv_device_stats stats;

	/* Scratch, kept here rather than on the stack. */
	struct vq_chain chain;        /* command being handled */
	struct vq_chain ev_chain;     /* event buffer being filled */
	uint8_t cmd_buf[VV_CMD_MAX_SIZE];
	uint8_t resp[VV_DEV_MAX_CAPS_LENGTH];
	size_t resp_len;
	struct iovec segs[RES_MAX_SEGS];
	struct backend_seg_src srcs[RES_MAX_SEGS]; /* parallel to segs */
};

static const struct backend_events stream_events;

/* ---- helpers ------------------------------------------------------------------------------ */

static unsigned queue_index(uint32_t queue_type)
{
	/* queue_type was validated by the decoder. */
	return queue_type == VV_QUEUE_TYPE_INPUT ? QI_INPUT : QI_OUTPUT;
}

static struct virtq *cmd_vq(struct vv_device *d)
{
	return d->server ? vu_server_vq(d->server, VV_DEV_CMDQ) : NULL;
}

static const struct guest_mem *dev_mem(struct vv_device *d)
{
	return d->server ? vu_server_mem(d->server) : NULL;
}

static bool feature_acked(struct vv_device *d, unsigned bit)
{
	return d->server && (vu_server_features(d->server) & (1ull << bit));
}

/* Backend -errno (backend.h) to a response type. */
static uint32_t backend_err_resp(int err)
{
	switch (err) {
	case -EINVAL:
	case -ENOTSUP:
		return VV_RESP_ERR_INVALID_PARAMETER;
	case -ENOMEM:
		return VV_RESP_ERR_OUT_OF_MEMORY;
	default:
		return VV_RESP_ERR_INVALID_OPERATION;
	}
}

static uint32_t backend_control_err_resp(int err)
{
	return err == -ENOTSUP ? VV_RESP_ERR_UNSUPPORTED_CONTROL : backend_err_resp(err);
}

static bool resp_is_header_only(uint32_t type)
{
	return type == VV_RESP_OK_NODATA || type >= VV_RESP_ERR_INVALID_OPERATION;
}

static size_t segs_write(const struct iovec *segs, unsigned nsegs, const void *src, size_t len)
{
	const uint8_t *p = src;
	size_t done = 0;

	for (unsigned i = 0; i < nsegs && done < len; i++) {
		size_t chunk = segs[i].iov_len;

		if (chunk > len - done)
			chunk = len - done;
		memcpy(segs[i].iov_base, p + done, chunk);
		done += chunk;
	}
	return done;
}

/* Writes src through guest-physical ranges translated now (each range may have moved to
 * another mapping, or across regions). Bytes written, or -errno when a byte to write is no
 * longer guest memory (the bytes before it may have been written). */
static ssize_t gpas_write(const struct guest_mem *mem, const struct vv_gpa_entry *gpas,
			  unsigned n, const void *src, size_t len)
{
	const uint8_t *p = src;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		struct iovec segs[GUEST_MEM_MAX_REGIONS];
		size_t chunk = gpas[i].len;
		int nsegs;

		if (chunk > len - done)
			chunk = len - done;
		nsegs = guest_mem_translate(mem, gpas[i].addr, chunk, segs, GUEST_MEM_MAX_REGIONS);
		if (nsegs < 0)
			return nsegs;
		done += segs_write(segs, (unsigned)nsegs, p + done, chunk);
	}
	return (ssize_t)done;
}

/* The guest-physical range behind host segment seg, which a translation under the current
 * memory table produced (so it lies in one region). false when no region holds it. */
static bool seg_to_gpa(const struct guest_mem *mem, const struct iovec *seg,
		       struct vv_gpa_entry *out)
{
	const uint8_t *base = seg->iov_base;

	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (base >= r->host && base < r->host + r->size &&
		    seg->iov_len <= (uint64_t)(r->host + r->size - base)) {
			*out = (struct vv_gpa_entry){
				.addr = r->gpa + (uint64_t)(base - r->host),
				.len = (uint32_t)seg->iov_len,
			};
			return true;
		}
	}
	return false;
}

/* ---- responses ---------------------------------------------------------------------------- */

/* Writes len bytes of src at the start of the target's writable part: through the host
 * segments while the memory table is the one they were translated under, else through
 * the guest-physical ranges translated again. Bytes written, or -errno when the response
 * buffer is no longer guest memory. */
static ssize_t target_write(struct vv_device *d, const struct reply_target *t, const void *src,
			    size_t len)
{
	const struct guest_mem *mem = dev_mem(d);

	if (!mem || mem->generation == t->mem_generation)
		return (ssize_t)segs_write(t->segs, t->nsegs, src, len);
	if (!t->gpas)
		return -EFAULT;
	return gpas_write(mem, t->gpas, t->nsegs, src, len);
}

/* The one place a response reaches the guest: writes resp into the target's writable
 * segments (an ERR_INVALID_PARAMETER header instead when it does not fit, nothing when
 * not even that fits) and returns the chain through the used ring. */
static void answer(struct vv_device *d, const struct reply_target *t, uint32_t stream_id,
		   const void *resp, size_t len)
{
	struct virtq *vq = cmd_vq(d);
	uint8_t err_hdr[sizeof(struct vv_resp_hdr)];
	ssize_t ret = 0;
	size_t written;

	if (len <= t->cap) {
		ret = target_write(d, t, resp, len);
	} else if (t->cap >= sizeof(err_hdr)) {
		log_debug("response of %zu bytes does not fit in %zu", len, t->cap);
		vv_encode_hdr_resp(err_hdr, sizeof(err_hdr), VV_RESP_ERR_INVALID_PARAMETER,
				   stream_id);
		ret = target_write(d, t, err_hdr, sizeof(err_hdr));
	} else {
		log_debug("no room for a response (%zu writable bytes)", t->cap);
	}
	if (ret < 0)
		log_warn("response buffer of stream %u is not in guest memory any more: "
			 "returned empty", stream_id);
	written = ret < 0 ? 0 : (size_t)ret;
	if (vq)
		vq_push_used(vq, t->head, (uint32_t)written);
	d->stats.responses++;
}

static void answer_hdr(struct vv_device *d, const struct reply_target *t, uint32_t stream_id,
		       uint32_t resp_type)
{
	uint8_t hdr[sizeof(struct vv_resp_hdr)];

	vv_encode_hdr_resp(hdr, sizeof(hdr), resp_type, stream_id);
	answer(d, t, stream_id, hdr, sizeof(hdr));
}

/* A chain answered before its handler returns: the memory table cannot have changed. */
static struct reply_target chain_target(struct vv_device *d, const struct vq_chain *c)
{
	const struct guest_mem *mem = dev_mem(d);

	return (struct reply_target){
		.head = c->head,
		.segs = &c->seg[c->n_read],
		.mem_generation = mem ? mem->generation : 0,
		.nsegs = c->n_write,
		.cap = c->write_len,
	};
}

/* The arrays follow the record in its allocation: each must start aligned. */
_Static_assert(sizeof(struct vv_pending) % _Alignof(struct iovec) == 0 &&
		       sizeof(struct iovec) % _Alignof(struct vv_gpa_entry) == 0 &&
		       sizeof(struct vv_gpa_entry) % _Alignof(struct iovec) == 0 &&
		       sizeof(struct iovec) % _Alignof(struct backend_seg_src) == 0,
	       "pending record arrays stay aligned");

/* Keeps what answering the chain later needs, with room for nsegs host segments (and their
 * sources) lent to the backend: p->segs and p->srcs, nsegs entries each (RESOURCE_QUEUE;
 * 0 otherwise). NULL when out of memory. */
static struct vv_pending *pending_new(struct vv_device *d, const struct vq_chain *c,
				      uint32_t stream_id, unsigned nsegs)
{
	/* Both counts are capped (VQ_MAX_CHAIN_SEGS, RES_MAX_SEGS): the size cannot wrap. */
	size_t size = sizeof(struct vv_pending) +
		      c->n_write * (sizeof(struct iovec) + sizeof(struct vv_gpa_entry)) +
		      nsegs * (sizeof(struct iovec) + sizeof(struct backend_seg_src));
	const struct guest_mem *mem = dev_mem(d);
	struct vv_pending *p = malloc(size);
	uint8_t *tail;

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	tail = (uint8_t *)(p + 1);
	if (c->n_write) {
		p->wsegs = (struct iovec *)tail;
		memcpy(p->wsegs, &c->seg[c->n_read], c->n_write * sizeof(*p->wsegs));
		tail += c->n_write * sizeof(*p->wsegs);
		/* The host pointers are good only while the memory table stays: keep where
		 * the response goes in guest terms too. */
		p->wgpas = (struct vv_gpa_entry *)tail;
		tail += c->n_write * sizeof(*p->wgpas);
		for (unsigned i = 0; mem && i < c->n_write; i++) {
			if (!seg_to_gpa(mem, &p->wsegs[i], &p->wgpas[i])) {
				p->wgpas = NULL;
				break;
			}
		}
	}
	p->mem_generation = mem ? mem->generation : 0;
	p->segs = (struct iovec *)tail;
	p->srcs = (struct backend_seg_src *)(tail + nsegs * sizeof(*p->segs));
	p->n_wsegs = c->n_write;
	p->head = c->head;
	p->stream_id = stream_id;
	p->resp_cap = c->write_len;
	d->stats.pending++;
	return p;
}

/* Frees a record without answering (the guest is gone, or it was never handed out). */
static void pending_drop(struct vv_device *d, struct vv_pending *p)
{
	if (!p)
		return;
	free(p); /* the arrays live in the same allocation */
	d->stats.pending--;
}

static void pending_answer(struct vv_device *d, struct vv_pending *p, const void *resp,
			   size_t len)
{
	struct reply_target t = {
		.head = p->head, .segs = p->wsegs, .gpas = p->wgpas,
		.mem_generation = p->mem_generation, .nsegs = p->n_wsegs, .cap = p->resp_cap,
	};

	answer(d, &t, p->stream_id, resp, len);
	pending_drop(d, p);
}

static void pending_answer_hdr(struct vv_device *d, struct vv_pending *p, uint32_t resp_type)
{
	uint8_t hdr[sizeof(struct vv_resp_hdr)];

	vv_encode_hdr_resp(hdr, sizeof(hdr), resp_type, p->stream_id);
	pending_answer(d, p, hdr, sizeof(hdr));
}

static void pending_answer_buffer(struct vv_device *d, struct vv_pending *p,
				  uint64_t timestamp, uint32_t flags, uint32_t size)
{
	uint8_t resp[sizeof(struct vv_resp_resource_queue)];

	vv_encode_resource_queue(resp, sizeof(resp), p->stream_id, timestamp, flags, size);
	pending_answer(d, p, resp, sizeof(resp));
}

static void notify_cmdq(struct vv_device *d)
{
	struct virtq *vq = cmd_vq(d);

	if (vq)
		vq_notify(vq);
}

/* ---- events ------------------------------------------------------------------------------- */

/* Delivers queued events, one per event buffer, while both last. */
static void flush_events(struct vv_device *d)
{
	struct virtq *vq = d->server ? vu_server_vq(d->server, VV_DEV_EVENTQ) : NULL;
	struct vq_chain *c = &d->ev_chain;
	bool pushed = false;
	unsigned budget;

	if (!vq || !d->ev_count)
		return;
	/* A guest re-posting useless buffers cannot keep us here. */
	budget = 2u * (vq->num ? vq->num : 1u);
	while (d->ev_count && budget--) {
		const struct vv_event_rec *e = &d->events[d->ev_first];
		uint8_t buf[sizeof(struct vv_event)];
		int ret = vq_pop_chain(vq, c);

		if (ret < 0) {
			if (vq->broken)
				break;
			continue;
		}
		if (ret == 0) {
			/* Out of buffers: ask for a kick, unless some came meanwhile. */
			if (!vq_enable_notify(vq))
				break;
			continue;
		}
		pushed = true;
		if (c->write_len < sizeof(buf)) {
			log_debug("event buffer of %zu bytes: returned unused", c->write_len);
			vq_push_used(vq, c->head, 0);
			continue;
		}
		vv_encode_event(buf, sizeof(buf), e->type, e->stream_id);
		vq_push_used(vq, c->head, (uint32_t)vq_chain_write(c, 0, buf, sizeof(buf)));
		d->ev_first = (d->ev_first + 1) % VV_DEV_MAX_PENDING_EVENTS;
		d->ev_count--;
		d->stats.events++;
	}
	if (pushed)
		vq_notify(vq);
}

static void queue_event(struct vv_device *d, uint32_t type, uint32_t stream_id)
{
	unsigned slot;

	if (d->ev_count == VV_DEV_MAX_PENDING_EVENTS) {
		const struct vv_event_rec *old = &d->events[d->ev_first];

		log_warn("event queue full: dropping event 0x%x of stream %u", old->type,
			 old->stream_id);
		d->ev_first = (d->ev_first + 1) % VV_DEV_MAX_PENDING_EVENTS;
		d->ev_count--;
	}
	slot = (d->ev_first + d->ev_count) % VV_DEV_MAX_PENDING_EVENTS;
	d->events[slot] = (struct vv_event_rec){ .type = type, .stream_id = stream_id };
	d->ev_count++;
	flush_events(d);
}

/* Events of a destroyed stream must not reach a new stream with the same id. */
static void purge_events(struct vv_device *d, uint32_t stream_id)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < d->ev_count; i++) {
		struct vv_event_rec e = d->events[(d->ev_first + i) % VV_DEV_MAX_PENDING_EVENTS];

		if (e.stream_id != stream_id)
			d->events[(d->ev_first + kept++) % VV_DEV_MAX_PENDING_EVENTS] = e;
	}
	d->ev_count = kept;
}

/* ---- streams and resources ---------------------------------------------------------------- */

static struct vv_stream *stream_find(struct vv_device *d, uint32_t id)
{
	for (unsigned i = 0; i < VV_DEV_MAX_STREAMS; i++)
		if (d->streams[i] && d->streams[i]->id == id)
			return d->streams[i];
	return NULL;
}

static struct vv_resource *resource_find(struct vv_res_queue *q, uint32_t id)
{
	for (unsigned i = 0; i < q->nres; i++)
		if (q->res[i]->id == id)
			return q->res[i];
	return NULL;
}

static void resource_free(struct vv_device *d, struct vv_resource *r)
{
	/* Queued buffers are answered before their resource goes. */
	if (r->queued) {
		log_err("resource %u freed while queued", r->id);
		pending_drop(d, r->queued);
	}
	d->total_entries -= r->num_entries;
	free(r->entries);
	free(r);
}

static void drop_resources(struct vv_device *d, struct vv_res_queue *q)
{
	for (unsigned i = 0; i < q->nres; i++) {
		resource_free(d, q->res[i]);
		q->res[i] = NULL;
	}
	q->nres = 0;
}

/* Answers every pending RESOURCE_QUEUE of one queue as cancelled. */
static void cancel_buffers(struct vv_device *d, struct vv_stream *st, unsigned qi)
{
	struct vv_res_queue *q = &st->queues[qi];

	for (unsigned i = 0; i < q->nres; i++) {
		struct vv_resource *r = q->res[i];
		struct vv_pending *p = r->queued;

		if (!p)
			continue;
		r->queued = NULL;
		pending_answer_buffer(d, p, qi == QI_INPUT ? p->timestamp : 0,
				      VV_BUFFER_FLAG_ERR, 0);
	}
}

static void cancel_drain(struct vv_device *d, struct vv_stream *st)
{
	struct vv_pending *p = st->drain;

	if (!p)
		return;
	st->drain = NULL;
	pending_answer_hdr(d, p, VV_RESP_ERR_INVALID_OPERATION);
}

/* QUEUE_CLEAR semantics: the backend lets go of the queue's buffers, then the guest gets
 * every one of them back (and the drain, which needs the input queue, fails). */
static void clear_queue(struct vv_device *d, struct vv_stream *st, uint32_t queue_type)
{
	unsigned qi = queue_index(queue_type);
	int ret = d->ops->clear(st->session, queue_type);

	if (ret < 0)
		log_warn("stream %u: backend clear of queue 0x%x: %s", st->id, queue_type,
			 strerror(-ret));
	cancel_buffers(d, st, qi);
	if (qi == QI_INPUT)
		cancel_drain(d, st);
}

/* Frees a stream. With answer, pending commands are answered as cancelled; without,
 * they are dropped unanswered (reset: nobody is listening). */
static void stream_free(struct vv_device *d, struct vv_stream *st, bool answer_pending)
{
	/* After session_free no callback names the stream or its buffers. */
	d->ops->session_free(st->session);
	st->session = NULL;
	for (unsigned qi = 0; qi < QI_COUNT; qi++) {
		if (answer_pending) {
			cancel_buffers(d, st, qi);
		} else {
			struct vv_res_queue *q = &st->queues[qi];

			for (unsigned i = 0; i < q->nres; i++) {
				pending_drop(d, q->res[i]->queued);
				q->res[i]->queued = NULL;
			}
		}
		drop_resources(d, &st->queues[qi]);
	}
	if (answer_pending)
		cancel_drain(d, st);
	pending_drop(d, st->drain);
	st->drain = NULL;
	purge_events(d, st->id);
	for (unsigned i = 0; i < VV_DEV_MAX_STREAMS; i++)
		if (d->streams[i] == st)
			d->streams[i] = NULL;
	d->nstreams--;
	d->stats.streams = d->nstreams;
	free(st);
}

/* Appends to segs[*nsegs ..) the host segments of bytes [off, off + len) of the
 * concatenated entries e[0 .. n), and to srcs the file and offset behind each (for
 * backends that map guest pages again). 0, or -errno (not guest RAM, too many segments,
 * or the entries are shorter than off + len). */
static int map_range(const struct guest_mem *mem, const struct vv_gpa_entry *e, unsigned n,
		     uint64_t off, uint64_t len, struct iovec *segs,
		     struct backend_seg_src *srcs, unsigned cap, unsigned *nsegs)
{
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t chunk;
		int ret;

		if (off >= e[i].len) {
			off -= e[i].len;
			continue;
		}
		chunk = e[i].len - off;
		if (chunk > len)
			chunk = len;
		ret = guest_mem_translate(mem, e[i].addr + off, chunk, &segs[*nsegs],
					  cap - *nsegs);
		if (ret < 0)
			return ret;
		for (uint64_t gpa = e[i].addr + off, k = 0; k < (unsigned)ret; k++) {
			struct backend_seg_src *src = &srcs[*nsegs + k];
			uint64_t avail;

			/* Each segment lies in one region: translate just said so. */
			if (guest_mem_locate(mem, gpa, &src->fd, &src->offset, &avail) < 0)
				*src = (struct backend_seg_src){ .fd = -1 };
			gpa += segs[*nsegs + k].iov_len;
		}
		*nsegs += (unsigned)ret;
		len -= chunk;
		off = 0;
	}
	return len ? -EINVAL : 0;
}

/* Translates the planes of r into segs[0 .. cap) and describes them in buf. */
static int map_resource(const struct guest_mem *mem, const struct vv_resource *r,
			struct iovec *segs, struct backend_seg_src *srcs, unsigned cap,
			struct backend_buffer *buf, unsigned *nsegs)
{
	*nsegs = 0;
	buf->resource_id = r->id;
	buf->num_planes = r->num_planes;
	for (unsigned p = 0; p < r->num_planes; p++) {
		const struct vv_plane_layout *pl = &r->planes[p];
		unsigned first = *nsegs;
		int ret = map_range(mem, &r->entries[pl->first_entry], pl->num_entries,
				    pl->offset, pl->len, segs, srcs, cap, nsegs);

		if (ret < 0)
			return ret;
		buf->planes[p].segs = &segs[first];
		buf->planes[p].srcs = &srcs[first];
		buf->planes[p].nsegs = *nsegs - first;
		buf->planes[p].len = (size_t)pl->len;
	}
	return 0;
}

/* ---- command handlers --------------------------------------------------------------------- */

struct cmd_ctx {
	const struct vv_cmd *cmd;
	struct vv_stream *st;       /* for commands that name a stream */
	const struct vq_chain *chain;
};

/* A handler returns the response type to send now (with a body in d->resp for the types
 * that have one) or ANSWER_LATER when a pending record took the chain. */
typedef uint32_t (*cmd_handler)(struct vv_device *d, const struct cmd_ctx *x);

static uint32_t h_query_capability(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_caps *caps = d->ops->caps(d->backend, x->cmd->query_capability.queue_type);
	size_t cap = x->chain->write_len;
	ssize_t n;

	if (!caps)
		return VV_RESP_ERR_INVALID_OPERATION;
	if (cap > VV_DEV_MAX_CAPS_LENGTH)
		cap = VV_DEV_MAX_CAPS_LENGTH;
	n = vv_encode_query_capability(d->resp, cap, x->cmd->stream_id, caps);
	if (n == -ENOSPC)
		return VV_RESP_ERR_INVALID_PARAMETER;
	if (n < 0) {
		log_err("backend %s: capabilities cannot be encoded", d->ops->name);
		return VV_RESP_ERR_INVALID_OPERATION;
	}
	d->resp_len = (size_t)n;
	return VV_RESP_OK_QUERY_CAPABILITY;
}

static bool coded_format_supported(struct vv_device *d, uint32_t format)
{
	const struct vv_caps *caps = d->ops->caps(d->backend, VV_QUEUE_TYPE_INPUT);

	for (uint32_t i = 0; caps && i < caps->num_descs; i++)
		if (caps->descs[i].format == format)
			return true;
	return false;
}

static uint32_t h_stream_create(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_stream_create *sc = &x->cmd->stream_create;
	uint32_t id = x->cmd->stream_id;
	struct vv_stream *st;
	unsigned slot;
	int ret;

	if (stream_find(d, id))
		return VV_RESP_ERR_INVALID_STREAM_ID;
	for (slot = 0; slot < VV_DEV_MAX_STREAMS && d->streams[slot]; slot++)
		;
	if (slot == VV_DEV_MAX_STREAMS)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	if (sc->in_mem_type != VV_MEM_TYPE_GUEST_PAGES ||
	    sc->out_mem_type != VV_MEM_TYPE_GUEST_PAGES)
		return VV_RESP_ERR_INVALID_PARAMETER;
	if (!coded_format_supported(d, sc->coded_format))
		return VV_RESP_ERR_INVALID_PARAMETER;

	st = calloc(1, sizeof(*st));
	if (!st)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	st->dev = d;
	st->id = id;
	st->coded_format = sc->coded_format;
	st->queues[QI_INPUT].type = VV_QUEUE_TYPE_INPUT;
	st->queues[QI_OUTPUT].type = VV_QUEUE_TYPE_OUTPUT;
	ret = d->ops->session_new(d->backend, sc->coded_format, &stream_events, st, &st->session);
	if (ret < 0) {
		free(st);
		return backend_err_resp(ret);
	}
	d->streams[slot] = st;
	d->nstreams++;
	d->stats.streams = d->nstreams;
	return VV_RESP_OK_NODATA;
}

static uint32_t h_stream_destroy(struct vv_device *d, const struct cmd_ctx *x)
{
	stream_free(d, x->st, true);
	return VV_RESP_OK_NODATA;
}

static uint32_t h_stream_drain(struct vv_device *d, const struct cmd_ctx *x)
{
	struct vv_stream *st = x->st;
	struct vv_pending *p;
	int ret;

	if (st->drain)
		return VV_RESP_ERR_INVALID_OPERATION;
	p = pending_new(d, x->chain, st->id, 0);
	if (!p)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	ret = d->ops->drain(st->session);
	if (ret < 0) {
		pending_drop(d, p);
		return backend_err_resp(ret);
	}
	st->drain = p;
	return ANSWER_LATER;
}

/* Checks the entries against guest memory and the feature set, and copies them. */
static uint32_t resource_take_entries(struct vv_device *d, const struct vv_cmd *cmd,
				      struct vv_resource *r)
{
	const struct vv_cmd_resource_create *rc = &cmd->resource_create;
	const struct guest_mem *mem = dev_mem(d);
	unsigned nsegs = 0;

	if (!mem)
		return VV_RESP_ERR_INVALID_OPERATION;
	if (!feature_acked(d, VV_F_RESOURCE_NON_CONTIG)) {
		/* One contiguous piece per plane (per buffer for SINGLE_BUFFER). */
		for (unsigned p = 0; p < rc->num_planes; p++)
			if (rc->num_entries[p] > 1)
				return VV_RESP_ERR_INVALID_PARAMETER;
		if (rc->planes_layout == VV_PLANES_LAYOUT_SINGLE_BUFFER && rc->total_entries > 1)
			return VV_RESP_ERR_INVALID_PARAMETER;
	}
	if (rc->total_entries > VV_DEV_MAX_TOTAL_ENTRIES - d->total_entries)
		return VV_RESP_ERR_OUT_OF_MEMORY;

	r->entries = malloc(rc->total_entries * sizeof(*r->entries));
	if (!r->entries)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	r->num_entries = rc->total_entries;
	for (unsigned i = 0; i < rc->total_entries; i++) {
		struct vv_gpa_entry *e = &r->entries[i];
		int n;

		if (vv_mem_entry_get(cmd, i, &e->addr, &e->len) < 0 || e->len == 0)
			return VV_RESP_ERR_INVALID_PARAMETER;
		/* Only the count matters here; the translation is redone at each queue. */
		n = guest_mem_translate(mem, e->addr, e->len, d->segs, RES_MAX_ENTRY_SEGS - nsegs);
		if (n < 0) {
			log_debug("resource %u: entry %u (0x%llx+%u): %s", rc->resource_id, i,
				  (unsigned long long)e->addr, e->len, strerror(-n));
			return VV_RESP_ERR_INVALID_PARAMETER;
		}
		nsegs += (unsigned)n;
	}
	return VV_RESP_OK_NODATA;
}

static uint64_t entries_len(const struct vv_gpa_entry *e, unsigned n)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += e[i].len;
	return len;
}

/* Plane slices: SINGLE_BUFFER planes cut one buffer at increasing offsets; a PER_PLANE
 * plane is its own entries, starting at its offset. Every plane is non-empty. */
static uint32_t resource_layout(const struct vv_cmd_resource_create *rc, struct vv_resource *r)
{
	unsigned first = 0;

	r->num_planes = rc->num_planes;
	for (unsigned p = 0; p < rc->num_planes; p++) {
		struct vv_plane_layout *pl = &r->planes[p];
		uint64_t off = rc->plane_offsets[p], end;

		if (rc->planes_layout == VV_PLANES_LAYOUT_SINGLE_BUFFER) {
			uint64_t total = entries_len(r->entries, r->num_entries);

			end = p + 1 < rc->num_planes ? rc->plane_offsets[p + 1] : total;
			if (off >= end || end > total)
				return VV_RESP_ERR_INVALID_PARAMETER;
			*pl = (struct vv_plane_layout){ 0, r->num_entries, off, end - off };
		} else {
			end = entries_len(&r->entries[first], rc->num_entries[p]);
			if (off >= end)
				return VV_RESP_ERR_INVALID_PARAMETER;
			*pl = (struct vv_plane_layout){ first, rc->num_entries[p], off, end - off };
			first += rc->num_entries[p];
		}
	}
	return VV_RESP_OK_NODATA;
}

static uint32_t h_resource_create(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_resource_create *rc = &x->cmd->resource_create;
	struct vv_res_queue *q = &x->st->queues[queue_index(rc->queue_type)];
	struct vv_resource *r;
	uint32_t resp;

	if (resource_find(q, rc->resource_id))
		return VV_RESP_ERR_INVALID_RESOURCE_ID;
	if (q->nres == VV_DEV_MAX_RESOURCES)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	r = calloc(1, sizeof(*r));
	if (!r)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	r->id = rc->resource_id;
	resp = resource_take_entries(d, x->cmd, r);
	if (resp == VV_RESP_OK_NODATA)
		resp = resource_layout(rc, r);
	if (resp != VV_RESP_OK_NODATA) {
		free(r->entries);
		free(r);
		return resp;
	}
	d->total_entries += r->num_entries;
	q->res[q->nres++] = r;
	return VV_RESP_OK_NODATA;
}

/* Bitstream sizes must fit the planes they describe. */
static bool input_sizes_valid(const struct vv_cmd_resource_queue *rq, const struct vv_resource *r)
{
	if (rq->num_data_sizes > r->num_planes)
		return false;
	for (unsigned i = 0; i < rq->num_data_sizes; i++)
		if (rq->data_sizes[i] > r->planes[i].len)
			return false;
	return true;
}

static uint32_t h_resource_queue(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_resource_queue *rq = &x->cmd->resource_queue;
	struct vv_stream *st = x->st;
	bool input = rq->queue_type == VV_QUEUE_TYPE_INPUT;
	struct vv_resource *r = resource_find(&st->queues[queue_index(rq->queue_type)],
					      rq->resource_id);
	struct backend_buffer buf;
	struct vv_pending *p;
	unsigned nsegs;
	int ret;

	if (!r)
		return VV_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->queued)
		return VV_RESP_ERR_INVALID_OPERATION;
	if (x->chain->write_len < sizeof(struct vv_resp_resource_queue))
		return VV_RESP_ERR_INVALID_PARAMETER;
	if (input && !input_sizes_valid(rq, r))
		return VV_RESP_ERR_INVALID_PARAMETER;
	if (input && st->drain)
		return VV_RESP_ERR_INVALID_OPERATION;

	/* Guest memory may have changed since RESOURCE_CREATE: translate now. */
	memset(&buf, 0, sizeof(buf));
	ret = map_resource(dev_mem(d), r, d->segs, d->srcs, RES_MAX_SEGS, &buf, &nsegs);
	if (ret < 0) {
		log_debug("stream %u resource %u: not in guest memory any more: %s", st->id,
			  r->id, strerror(-ret));
		return VV_RESP_ERR_INVALID_PARAMETER;
	}
	/* The backend keeps the segments until the buffer is done: the record holds them. */
	p = pending_new(d, x->chain, st->id, nsegs);
	if (!p)
		return VV_RESP_ERR_OUT_OF_MEMORY;
	memcpy(p->segs, d->segs, nsegs * sizeof(*p->segs));
	memcpy(p->srcs, d->srcs, nsegs * sizeof(*p->srcs));
	p->nsegs = nsegs;
	for (unsigned i = 0; i < buf.num_planes; i++) {
		buf.planes[i].srcs = p->srcs + (buf.planes[i].segs - d->segs);
		buf.planes[i].segs = p->segs + (buf.planes[i].segs - d->segs);
	}
	if (input) {
		memcpy(buf.data_sizes, rq->data_sizes, sizeof(buf.data_sizes));
		buf.timestamp = rq->timestamp;
		p->timestamp = rq->timestamp;
		ret = d->ops->queue_input(st->session, &buf);
	} else {
		ret = d->ops->queue_output(st->session, &buf);
	}
	if (ret < 0) {
		pending_drop(d, p);
		return backend_err_resp(ret);
	}
	r->queued = p;
	return ANSWER_LATER;
}

static uint32_t h_resource_destroy_all(struct vv_device *d, const struct cmd_ctx *x)
{
	uint32_t queue_type = x->cmd->queue.queue_type;

	clear_queue(d, x->st, queue_type);
	drop_resources(d, &x->st->queues[queue_index(queue_type)]);
	return VV_RESP_OK_NODATA;
}

static uint32_t h_queue_clear(struct vv_device *d, const struct cmd_ctx *x)
{
	clear_queue(d, x->st, x->cmd->queue.queue_type);
	return VV_RESP_OK_NODATA;
}

static uint32_t h_get_params(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_get_params *gp = &x->cmd->get_params;
	struct vv_stream_params params;
	ssize_t n;
	int ret;

	memset(&params, 0, sizeof(params));
	ret = d->ops->get_params(x->st->session, gp->queue_type, &params);
	if (ret < 0)
		return backend_err_resp(ret);
	params.queue_type = gp->queue_type;
	params.resource_type = VV_MEM_TYPE_GUEST_PAGES;
	n = vv_encode_get_params(d->resp, sizeof(d->resp), x->st->id, &params, gp->ext);
	if (n < 0) {
		log_err("backend %s: stream parameters cannot be encoded", d->ops->name);
		return VV_RESP_ERR_INVALID_OPERATION;
	}
	d->resp_len = (size_t)n;
	return VV_RESP_OK_GET_PARAMS;
}

static uint32_t h_set_params(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_set_params *sp = &x->cmd->set_params;
	int ret;

	/* Only guest pages are offered. */
	if (sp->ext && sp->params.resource_type != VV_MEM_TYPE_GUEST_PAGES)
		return VV_RESP_ERR_INVALID_PARAMETER;
	ret = d->ops->set_params(x->st->session, &sp->params);
	return ret < 0 ? backend_err_resp(ret) : VV_RESP_OK_NODATA;
}

/* Profiles or levels a coded format supports; other controls have no list. */
static uint32_t h_query_control(struct vv_device *d, const struct cmd_ctx *x)
{
	const struct vv_cmd_query_control *qc = &x->cmd->query_control;
	uint32_t values[64], num = 64;
	ssize_t n;
	int ret;

	if (!qc->has_format)
		return VV_RESP_ERR_UNSUPPORTED_CONTROL;
	ret = d->ops->query_control(d->backend, qc->control, qc->format, values, &num);
	if (ret < 0)
		return backend_control_err_resp(ret);
	if (num > 64)
		num = 64;
	n = vv_encode_query_control(d->resp, sizeof(d->resp), x->cmd->stream_id, values, num);
	if (n < 0)
		return VV_RESP_ERR_INVALID_OPERATION;
	d->resp_len = (size_t)n;
	return VV_RESP_OK_QUERY_CONTROL;
}

static uint32_t h_get_control(struct vv_device *d, const struct cmd_ctx *x)
{
	uint32_t value = 0;
	ssize_t n;
	int ret;

	ret = d->ops->get_control(x->st->session, x->cmd->control.control, &value);
	if (ret < 0)
		return backend_control_err_resp(ret);
	n = vv_encode_get_control(d->resp, sizeof(d->resp), x->st->id, value);
	if (n < 0)
		return VV_RESP_ERR_INVALID_OPERATION;
	d->resp_len = (size_t)n;
	return VV_RESP_OK_GET_CONTROL;
}

static uint32_t h_set_control(struct vv_device *d, const struct cmd_ctx *x)
{
	int ret = d->ops->set_control(x->st->session, x->cmd->control.control,
				      x->cmd->control.value);

	return ret < 0 ? backend_control_err_resp(ret) : VV_RESP_OK_NODATA;
}

struct cmd_desc {
	cmd_handler handler;
	bool needs_stream; /* an unknown stream_id is answered ERR_INVALID_STREAM_ID */
};

#define CMD(type, h, stream) [(type) - VV_CMD_QUERY_CAPABILITY] = { h, stream }

static const struct cmd_desc cmd_table[] = {
	CMD(VV_CMD_QUERY_CAPABILITY, h_query_capability, false),
	CMD(VV_CMD_STREAM_CREATE, h_stream_create, false),
	CMD(VV_CMD_STREAM_DESTROY, h_stream_destroy, true),
	CMD(VV_CMD_STREAM_DRAIN, h_stream_drain, true),
	CMD(VV_CMD_RESOURCE_CREATE, h_resource_create, true),
	CMD(VV_CMD_RESOURCE_QUEUE, h_resource_queue, true),
	CMD(VV_CMD_RESOURCE_DESTROY_ALL, h_resource_destroy_all, true),
	CMD(VV_CMD_QUEUE_CLEAR, h_queue_clear, true),
	CMD(VV_CMD_GET_PARAMS, h_get_params, true),
	CMD(VV_CMD_SET_PARAMS, h_set_params, true),
	CMD(VV_CMD_QUERY_CONTROL, h_query_control, false),
	CMD(VV_CMD_GET_CONTROL, h_get_control, true),
	CMD(VV_CMD_SET_CONTROL, h_set_control, true),
	CMD(VV_CMD_GET_PARAMS_EXT, h_get_params, true),
	CMD(VV_CMD_SET_PARAMS_EXT, h_set_params, true),
};

static uint32_t dispatch(struct vv_device *d, const struct vv_cmd *cmd, const struct vq_chain *c)
{
	uint32_t i = cmd->type - VV_CMD_QUERY_CAPABILITY;
	struct cmd_ctx x = { .cmd = cmd, .chain = c };

	/* The decoder only lets known types through; the check keeps the table safe. */
	if (cmd->type < VV_CMD_QUERY_CAPABILITY ||
	    i >= sizeof(cmd_table) / sizeof(cmd_table[0]) || !cmd_table[i].handler)
		return VV_RESP_ERR_INVALID_OPERATION;
	if (cmd_table[i].needs_stream) {
		x.st = stream_find(d, cmd->stream_id);
		if (!x.st) {
			log_debug("%s: unknown stream %u", vv_cmd_type_str(cmd->type),
				  cmd->stream_id);
			return VV_RESP_ERR_INVALID_STREAM_ID;
		}
	}
	return cmd_table[i].handler(d, &x);
}

/* One command chain: copy the command out of guest memory once, decode, dispatch. */
static void handle_chain(struct vv_device *d, const struct vq_chain *c)
{
	struct reply_target t = chain_target(d, c);
	size_t len = c->read_len < VV_CMD_MAX_SIZE ? c->read_len : VV_CMD_MAX_SIZE;
	struct vv_cmd cmd;
	uint32_t resp;
	int rc;

	d->stats.commands++;
	len = vq_chain_read(c, 0, d->cmd_buf, len);
	rc = vv_cmd_decode(d->cmd_buf, len, &cmd);
	if (rc != VV_DECODE_OK) {
		log_debug("command 0x%x (%zu bytes): %s", cmd.type, len, vv_decode_err_str(rc));
		resp = vv_decode_err_response(rc);
	} else {
		resp = dispatch(d, &cmd, c);
	}
	if (resp == ANSWER_LATER)
		return;
	if (resp_is_header_only(resp))
		answer_hdr(d, &t, cmd.stream_id, resp);
	else
		answer(d, &t, cmd.stream_id, d->resp, d->resp_len);
}

static void process_cmdq(struct vv_device *d, struct virtq *vq)
{
	for (unsigned round = 0; round < CMDQ_MAX_ROUNDS; round++) {
		/* At most a ring's worth per round: a guest adding chains as fast as we
		 * answer them cannot keep us here. */
		for (unsigned n = 0; n < vq->num; n++) {
			int ret = vq_pop_chain(vq, &d->chain);

			if (ret == 0)
				break;
			if (ret < 0) {
				if (vq->broken)
					return;
				continue;
			}
			handle_chain(d, &d->chain);
		}
		vq_notify(vq);
		if (vq->broken || !vq_enable_notify(vq))
			return;
	}
	/* Still more: come back after the other fds had their turn. */
	if (vq->kick_fd >= 0 && eventfd_write(vq->kick_fd, 1) < 0)
		log_warn("command queue: cannot re-arm the kick: %s", strerror(errno));
}

/* ---- backend reports ---------------------------------------------------------------------- */

/* The pending buffer a callback names, taken off its resource; NULL (logged) when the
 * backend names something that is not queued. */
static struct vv_pending *take_queued(struct vv_stream *st, unsigned qi, uint32_t resource_id,
				      const char *what)
{
	struct vv_resource *r = resource_find(&st->queues[qi], resource_id);
	struct vv_pending *p;

	if (!r || !r->queued) {
		log_warn("backend %s: %s for stream %u resource %u that is not queued",
			 st->dev->ops->name, what, st->id, resource_id);
		return NULL;
	}
	p = r->queued;
	r->queued = NULL;
	return p;
}

static void ev_input_done(void *stream, uint32_t resource_id, bool error)
{
	struct vv_stream *st = stream;
	struct vv_device *d = st->dev;
	struct vv_pending *p = take_queued(st, QI_INPUT, resource_id, "input done");

	if (!p)
		return;
	pending_answer_buffer(d, p, p->timestamp, error ? VV_BUFFER_FLAG_ERR : 0, 0);
	notify_cmdq(d);
}

/* True when the memory a picture was written to is no longer where the resource's guest
 * pages are: a region was removed (the writes went to the scratch pages that replace it)
 * or remapped while the backend held the buffer. */
static bool picture_memory_moved(struct vv_device *d, struct vv_stream *st,
				 const struct vv_pending *p, uint32_t resource_id)
{
	const struct guest_mem *mem = dev_mem(d);
	struct vv_resource *r = resource_find(&st->queues[QI_OUTPUT], resource_id);
	struct backend_buffer buf;
	unsigned nsegs;

	if (mem->generation == p->mem_generation)
		return false;
	memset(&buf, 0, sizeof(buf));
	if (!r || map_resource(mem, r, d->segs, d->srcs, RES_MAX_SEGS, &buf, &nsegs) < 0 ||
	    nsegs != p->nsegs)
		return true;
	for (unsigned i = 0; i < nsegs; i++)
		if (d->segs[i].iov_base != p->segs[i].iov_base ||
		    d->segs[i].iov_len != p->segs[i].iov_len)
			return true;
	return false;
}

static void ev_picture_ready(void *stream, uint32_t resource_id, uint64_t timestamp,
			     uint32_t flags, uint32_t size)
{
	struct vv_stream *st = stream;
	struct vv_device *d = st->dev;
	struct vv_pending *p = take_queued(st, QI_OUTPUT, resource_id, "picture");

	if (!p)
		return;
	if (picture_memory_moved(d, st, p, resource_id)) {
		log_warn("stream %u resource %u: guest memory changed under the picture",
			 st->id, resource_id);
		flags |= VV_BUFFER_FLAG_ERR;
		size = 0;
	}
	pending_answer_buffer(d, p, timestamp, flags, size);
	notify_cmdq(d);
}

static void ev_drain_done(void *stream, bool error)
{
	struct vv_stream *st = stream;
	struct vv_device *d = st->dev;
	struct vv_pending *p = st->drain;

	if (!p) {
		log_warn("backend %s: drain done for stream %u without a drain", d->ops->name,
			 st->id);
		return;
	}
	st->drain = NULL;
	pending_answer_hdr(d, p, error ? VV_RESP_ERR_INVALID_OPERATION : VV_RESP_OK_NODATA);
	notify_cmdq(d);
}

static void ev_resolution_changed(void *stream)
{
	struct vv_stream *st = stream;

	queue_event(st->dev, VV_EVENT_DECODER_RESOLUTION_CHANGED, st->id);
}

static void ev_stream_error(void *stream)
{
	struct vv_stream *st = stream;

	log_warn("stream %u: backend error", st->id);
	queue_event(st->dev, VV_EVENT_ERROR, st->id);
}

static const struct backend_events stream_events = {
	.input_done = ev_input_done,
	.picture_ready = ev_picture_ready,
	.drain_done = ev_drain_done,
	.resolution_changed = ev_resolution_changed,
	.stream_error = ev_stream_error,
};

/* ---- transport callbacks ------------------------------------------------------------------ */

static const struct vv_config_info config_info = {
	.max_caps_length = VV_DEV_MAX_CAPS_LENGTH,
	.max_resp_length = VV_DEV_MAX_RESP_LENGTH,
	.device_name = DEVICE_NAME,
};

static int vu_get_config(void *dev, uint8_t *buf)
{
	(void)dev;
	return vv_encode_config(buf, VV_CONFIG_SIZE, &config_info) < 0 ? -EINVAL : 0;
}

static void vu_queue_kick(void *dev, struct virtq *vq)
{
	struct vv_device *d = dev;

	if (vq->index == VV_DEV_CMDQ)
		process_cmdq(d, vq);
	else if (vq->index == VV_DEV_EVENTQ)
		flush_events(d);
}

/* The command queue stops: answer everything, as clearing both queues of every stream
 * would, so that no chain stays with us. */
static void vu_queue_stop(void *dev, struct virtq *vq)
{
	struct vv_device *d = dev;

	if (vq->index != VV_DEV_CMDQ)
		return; /* event buffers are only taken with an event to put in them */
	for (unsigned i = 0; i < VV_DEV_MAX_STREAMS; i++) {
		struct vv_stream *st = d->streams[i];

		if (!st)
			continue;
		clear_queue(d, st, VV_QUEUE_TYPE_INPUT);
		clear_queue(d, st, VV_QUEUE_TYPE_OUTPUT);
	}
	vq_notify(vq);
}

/* One line per reset (front-end gone, RESET_OWNER/RESET_DEVICE, exit): totals since start,
 * for logs and benchmarks (bench/ reads the frame-copy count from it). */
static void log_stats(const struct vv_device *d)
{
	struct vv_device_stats st;

	vv_device_get_stats(d, &st);
	log_info("device stats: %llu commands, %llu responses, %llu events, "
		 "%llu bytes of frame data copied",
		 (unsigned long long)st.commands, (unsigned long long)st.responses,
		 (unsigned long long)st.events, (unsigned long long)st.frame_bytes_copied);
}

static void device_reset(struct vv_device *d)
{
	log_stats(d);
	for (unsigned i = 0; i < VV_DEV_MAX_STREAMS; i++)
		if (d->streams[i])
			stream_free(d, d->streams[i], false);
	d->ev_first = 0;
	d->ev_count = 0;
}

static void vu_reset(void *dev)
{
	device_reset(dev);
}

static bool vu_mem_in_use(void *dev)
{
	const struct vv_device *d = dev;

	return d->stats.pending > 0;
}

static const struct vu_device_ops vv_vu_ops = {
	.device_features = (1ull << VV_F_RESOURCE_GUEST_PAGES) |
			   (1ull << VV_F_RESOURCE_NON_CONTIG),
	.config_size = VV_CONFIG_SIZE,
	.get_config = vu_get_config,
	.queue_kick = vu_queue_kick,
	.queue_stop = vu_queue_stop,
	.reset = vu_reset,
	.mem_in_use = vu_mem_in_use,
};

const struct vu_device_ops *vv_device_vu_ops(void)
{
	return &vv_vu_ops;
}

/* ---- life cycle --------------------------------------------------------------------------- */

struct vv_device *vv_device_new(struct event_loop *loop, const struct backend_ops *ops,
				struct backend *backend)
{
	struct vv_device *d;

	if (!ops || !backend)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = loop;
	d->ops = ops;
	d->backend = backend;
	return d;
}

void vv_device_free(struct vv_device *d)
{
	if (!d)
		return;
	device_reset(d);
	free(d);
}

void vv_device_set_server(struct vv_device *d, struct vu_server *s)
{
	d->server = s;
}

void vv_device_get_stats(const struct vv_device *d, struct vv_device_stats *st)
{
	*st = d->stats;
	st->frame_bytes_copied = d->ops->bytes_copied ? d->ops->bytes_copied(d->backend) : 0;
}
