/* The v4l2-decoder backend: a V4L2 mem2mem STATEFUL decoder (the kernel's
 * dev-decoder interface; reference device: vicodec) behind backend.h.
 *
 * Naming: the guest's INPUT queue (bitstream) is the V4L2 OUTPUT queue, called "bit"
 * below; the guest's OUTPUT queue (pictures) is the V4L2 CAPTURE queue, called "pic".
 *
 * One V4L2 fd per session, watched by the daemon's epoll loop: EPOLLPRI always (events),
 * EPOLLOUT only while the bit queue streams with buffers in the driver, EPOLLIN only while
 * the pic queue does. m2m poll reports EPOLLERR when neither queue streams with buffers,
 * and epoll reports it whatever the mask; asking for IN/OUT only in those states keeps it
 * from firing, and a few fruitless EPOLLERR wake-ups in a row end the stream rather than
 * spin. A session that failed (broken) is watched for nothing.
 *
 * Sequence (dev-decoder):
 *  - session_new: open the node, S_FMT(OUTPUT, coded format), SUBSCRIBE_EVENT
 *    (SOURCE_CHANGE, EOS).
 *  - first queue_input: REQBUFS(OUTPUT), QBUF, STREAMON(OUTPUT).
 *  - SOURCE_CHANGE while the pic queue does not stream: G_FMT(CAPTURE) (then S_FMT to the
 *    raw format the guest asked for, if another one), G_SELECTION(COMPOSE), MIN_BUFFERS
 *    control; resolution_changed. Capture is set up (REQBUFS, QBUF, STREAMON CAPTURE) once
 *    the guest has acted on it: a later queue_output, get_params or set_params(OUTPUT),
 *    with at least one picture buffer at hand.
 *  - SOURCE_CHANGE while it streams: pictures keep coming until the buffer flagged LAST;
 *    then STREAMOFF(CAPTURE), REQBUFS(CAPTURE, 0), the format is read again and reported
 *    as above. Buffers still held go back to the waiting list.
 *  - After a change reported while the guest had picture buffers with us, the capture
 *    queue stays down until the guest clears its OUTPUT queue (QUEUE_CLEAR or
 *    RESOURCE_DESTROY_ALL): until then it may still queue old buffers again (it requeues
 *    the pictures it got before it reads the event; Linux's driver even reads the params
 *    from its event handler), and a picture of the new size decoded into one of them
 *    would be thrown away by that clear: a lost frame.
 *  - drain: V4L2_DEC_CMD_STOP once both queues stream (deferred until then); the LAST
 *    buffer comes back with EOS, then drain_done; then DEC_CMD_START so decoding can go
 *    on, and if the pic queue still answers EPIPE (vicodec keeps its "last buffer
 *    dequeued" state), STREAMOFF/STREAMON(CAPTURE). (vicodec then also drops its reference
 *    frame: P frames up to the next I frame decode wrong; nothing here can prevent that.)
 *    A drain with nothing decodable (no stream header found, no bitstream left in the
 *    driver) completes at once, the EOS going to the next picture buffer.
 *  - clear(INPUT): STREAMOFF(OUTPUT) (a seek); clear(OUTPUT): STREAMOFF(CAPTURE); the next
 *    queue_* streams again. A LAST nobody asked for (a drain cut short) restarts the
 *    decoder the same way as after a drain.
 *
 * Buffers: the guest's pages are used in place with V4L2_MEMORY_USERPTR. A plane made of
 * one host segment is passed as is; scattered segments are mapped again, back to back,
 * into one reserved range (MAP_FIXED | MAP_SHARED of the guest-memory file), when every
 * inner boundary is page-aligned. Otherwise (or when the guest's layout differs from the
 * driver's, or a bitstream buffer is smaller than the driver wants) the buffer goes through
 * a bounce buffer and the bytes are counted (bytes_copied). E.g. a PER_PLANE YUV420
 * resource for a driver whose YU12 keeps the planes back to back: the U plane (w*h/4
 * bytes) ends inside a page, so V cannot be mapped right after it. A picture buffer too
 * small for the picture is returned with ERR without reaching the driver. A driver refusing
 * USERPTR gets MMAP buffers and every byte is copied. vb2 reuses its pinned pages when a
 * buffer index is queued again with the same pointer and length, so a slot (V4L2 index)
 * keeps its mapping while the same pages come back, and gets a new address when they change.
 *
 * Timestamps: each input gets a ticket (a session counter) carried in the V4L2 timeval,
 * which the kernel turns into nanoseconds and back exactly; the picture's ticket gives
 * back the guest's exact u64 from a ring of recent ones.
 *
 * Completions found inside a call (an input without data, a buffer the driver refused)
 * are reported from the session's eventfd, never from inside the call. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "iov.h"
#include "log.h"
#include "v4l2_util.h"

#define VD_MAX_SLOTS 32u    /* V4L2 buffers per queue (VIDEO_MAX_FRAME) */
#define VD_MMAP_SLOTS 8u    /* when the driver only does MMAP: each one costs kernel memory */
#define VD_TS_RING 256u     /* inputs whose timestamps a picture can still name */
#define VD_MAX_EVENTS 64u   /* DQEVENT per wake-up */
#define VD_ERR_SPINS 3u     /* fruitless EPOLLERR wake-ups before giving up */
#define VD_DEFAULT_WIDTH 640u
#define VD_DEFAULT_HEIGHT 480u
#define VD_DEFAULT_RATE 30u

static const struct v4l2_io *io_override;

void v4l2_dec_set_io(const struct v4l2_io *io)
{
	io_override = io;
}

/* ---- state -------------------------------------------------------------------------------- */

/* A guest buffer the device lent us, and its result once done. */
struct vd_buf {
	struct vd_buf *next;
	struct backend_buffer b; /* segments stay the device's */
	bool input;
	bool error;
	uint32_t flags, size;
	uint64_t timestamp;
};

struct vd_list {
	struct vd_buf *head, *tail;
	unsigned count;
};

/* One host segment with its origin. */
struct vd_seg {
	uint8_t *base;
	size_t len;
	int fd;
	uint64_t off;
};

struct vd_plane_bind {
	uint8_t *uptr;     /* USERPTR handed to the driver */
	size_t len;
	void *resv;        /* our back-to-back mapping, if any */
	size_t resv_len;
	uint8_t *bounce;   /* copy path: malloc'ed (USERPTR) or the MMAP buffer */
	size_t bounce_len;
};

struct vd_slot {
	struct vd_buf *buf;  /* non-NULL while the driver has it */
	bool copy;           /* this buffer's data goes through bounce */
	struct vd_plane_bind pl[VIDEO_MAX_PLANES];
	/* What the pointers in pl were made from (in place / remapped only). */
	bool bound;
	struct vd_seg *sig;
	unsigned nsig;
};

struct vd_queue {
	bool capture;
	uint32_t type;
	uint32_t memory;     /* 0: no buffers allocated */
	bool userptr_refused;
	unsigned nslots;
	unsigned nplanes;    /* memory planes at REQBUFS */
	uint32_t need[VIDEO_MAX_PLANES]; /* minimum length of each plane */
	struct vd_slot slots[VD_MAX_SLOTS];
	unsigned in_driver;
	bool streaming;
	struct vd_list wait; /* guest buffers waiting for a slot or for set-up */
};

enum pic_state {
	PIC_NO_FORMAT,  /* no stream header seen yet */
	PIC_NEED_SETUP, /* format known and reported; waiting for the guest */
	PIC_RUNNING,    /* allocated and streaming */
	PIC_STOPPED,    /* allocated, streamed off by a clear */
	PIC_WAIT_LAST,  /* a resolution change: waiting for the LAST buffer */
};

enum drain_state {
	DRAIN_NONE,
	DRAIN_PENDING,  /* asked for; V4L2_DEC_CMD_STOP not sent yet */
	DRAIN_ISSUED,
};

struct backend {
	struct event_loop *loop;
	const struct v4l2_io *io;
	char *path;
	bool mplane;
	size_t page;
	struct v4l2u_caps caps;
	uint64_t bytes_copied;
};

struct ts_entry {
	uint64_t ticket, timestamp;
};

struct backend_session {
	struct backend *b;
	const struct v4l2_io *io;
	const struct backend_events *ev;
	void *stream;
	int fd;
	struct ev_handler *h;
	uint32_t watch;
	int work_fd;
	struct ev_handler *work_h;

	struct vd_queue bit, pic;
	struct v4l2u_pix bit_pix, pic_pix;
	struct vv_stream_params in, out;
	uint32_t want_raw;  /* raw format the guest asked for, 0 = none yet */

	enum pic_state pic_state;
	bool setup_armed;
	bool pic_queued;    /* picture buffers queued since the guest's last clear(OUTPUT) */
	bool await_clear;   /* no capture set-up before the guest's next clear(OUTPUT) */
	enum drain_state drain;
	bool eos_owed;      /* the next picture buffer ends a drain */
	bool broken;
	unsigned err_spins;

	struct vd_list done; /* completed buffers, reported in order */
	bool res_change_owed, drain_done_owed, drain_error, error_owed;

	uint64_t next_ticket;
	struct ts_entry ts_ring[VD_TS_RING];
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void list_push(struct vd_list *l, struct vd_buf *vb)
{
	vb->next = NULL;
	if (l->tail)
		l->tail->next = vb;
	else
		l->head = vb;
	l->tail = vb;
	l->count++;
}

static void list_push_front(struct vd_list *l, struct vd_buf *vb)
{
	vb->next = l->head;
	l->head = vb;
	if (!l->tail)
		l->tail = vb;
	l->count++;
}

static struct vd_buf *list_pop(struct vd_list *l)
{
	struct vd_buf *vb = l->head;

	if (vb) {
		l->head = vb->next;
		if (!l->head)
			l->tail = NULL;
		l->count--;
	}
	return vb;
}

/* Frees the entries of l for which input == which (all with drop_all). */
static void list_drop(struct vd_list *l, bool drop_all, bool which)
{
	struct vd_list keep = { 0 };
	struct vd_buf *vb;

	while ((vb = list_pop(l))) {
		if (drop_all || vb->input == which)
			free(vb);
		else
			list_push(&keep, vb);
	}
	*l = keep;
}

static int vd_ioctl(struct backend_session *s, unsigned long req, void *arg)
{
	return v4l2u_ioctl(s->io, s->fd, req, arg);
}

static void schedule(struct backend_session *s)
{
	if (eventfd_write(s->work_fd, 1) < 0)
		log_err("v4l2-decoder: cannot schedule work: %s", strerror(errno));
}

/* The stream cannot go on: report it once, stop watching the device. */
static void fail_stream(struct backend_session *s, const char *what, int err)
{
	if (!s->broken)
		log_warn("v4l2-decoder: %s: %s", what, strerror(err < 0 ? -err : err));
	s->broken = true;
	s->error_owed = true;
	schedule(s);
}

static size_t page_up(const struct backend_session *s, size_t v)
{
	return (v + s->b->page - 1) & ~(s->b->page - 1);
}

static uint64_t input_bytes(const struct backend_buffer *b)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < b->num_planes && i < VV_MAX_PLANES; i++)
		sum += b->data_sizes[i];
	return sum;
}

static void complete(struct backend_session *s, struct vd_buf *vb, bool error, uint32_t flags,
		     uint32_t size, uint64_t timestamp)
{
	vb->error = error;
	vb->flags = flags | (error && !vb->input ? VV_BUFFER_FLAG_ERR : 0);
	vb->size = error ? 0 : size;
	vb->timestamp = timestamp;
	list_push(&s->done, vb);
}

/* ---- timestamps --------------------------------------------------------------------------- */

static uint64_t ts_ticket(struct backend_session *s, uint64_t timestamp)
{
	uint64_t t = ++s->next_ticket;

	s->ts_ring[t % VD_TS_RING] = (struct ts_entry){ t, timestamp };
	return t;
}

static uint64_t ts_lookup(const struct backend_session *s, uint64_t ticket)
{
	const struct ts_entry *e = &s->ts_ring[ticket % VD_TS_RING];

	if (ticket && e->ticket == ticket)
		return e->timestamp;
	log_debug("v4l2-decoder: picture with unknown timestamp ticket %llu",
		  (unsigned long long)ticket);
	return 0;
}

/* ---- slots: binding guest memory to V4L2 buffers ------------------------------------------ */

static void unbind_plane(struct backend_session *s, struct vd_queue *q, struct vd_plane_bind *pl)
{
	if (pl->resv)
		s->io->munmap(pl->resv, pl->resv_len);
	if (pl->bounce) {
		if (q->memory == V4L2_MEMORY_MMAP)
			s->io->munmap(pl->bounce, pl->bounce_len);
		else
			free(pl->bounce);
	}
	*pl = (struct vd_plane_bind){ 0 };
}

static void slot_forget_sig(struct vd_slot *sl)
{
	free(sl->sig);
	sl->sig = NULL;
	sl->nsig = 0;
	sl->bound = false;
}

static void slot_release(struct backend_session *s, struct vd_queue *q, struct vd_slot *sl)
{
	for (unsigned k = 0; k < VIDEO_MAX_PLANES; k++)
		unbind_plane(s, q, &sl->pl[k]);
	slot_forget_sig(sl);
	sl->copy = false;
}

/* A guest buffer: where each V4L2 plane lies in the concatenation of its planes, when the
 * driver's layout can use the guest's memory as it is. */
struct vd_plan {
	bool in_place;
	size_t start[VIDEO_MAX_PLANES], len[VIDEO_MAX_PLANES];
};

static void plan_buffer(const struct backend_session *s, const struct vd_queue *q,
			const struct backend_buffer *b, struct vd_plan *pl)
{
	unsigned np = b->num_planes, mem = q->nplanes;
	size_t cum = 0;

	memset(pl, 0, sizeof(*pl));
	if (np == 0 || np > VV_MAX_PLANES || mem == 0)
		return;
	if (!q->capture) {
		/* Bitstream: one guest plane, one V4L2 plane. */
		if (np != 1 || mem != 1)
			return;
		pl->len[0] = b->planes[0].len;
		pl->in_place = true;
		return;
	}
	{
		unsigned n = s->out.num_planes;

		if (mem == 1) {
			size_t total = 0;

			if (np != 1 && np != n)
				return;
			/* Colour planes must start where the driver puts them. */
			for (unsigned i = 0; i < np; i++) {
				if (np > 1 && i + 1 < np &&
				    b->planes[i].len != s->out.plane_formats[i].plane_size)
					return;
				total += b->planes[i].len;
			}
			pl->len[0] = total;
			pl->in_place = true;
			return;
		}
		if (mem != n)
			return;
		if (np == n) {
			for (unsigned k = 0; k < mem; k++) {
				pl->start[k] = cum;
				pl->len[k] = b->planes[k].len;
				cum += b->planes[k].len;
			}
			pl->in_place = true;
			return;
		}
		if (np != 1)
			return;
		for (unsigned k = 0; k < mem; k++) {
			size_t want = s->out.plane_formats[k].plane_size;

			if (cum + want > b->planes[0].len)
				return;
			pl->start[k] = cum;
			pl->len[k] = k + 1 < mem ? want : b->planes[0].len - cum;
			cum += want;
		}
		pl->in_place = true;
	}
}

/* The host segments of bytes [start, start + len) of the guest planes put end to end,
 * neighbours that touch in host memory merged. NULL when out of memory or out of range. */
static struct vd_seg *slice_segs(const struct backend_buffer *b, size_t start, size_t len,
				 unsigned *count)
{
	unsigned total = 0, n = 0;
	struct vd_seg *out;
	size_t pos = 0;

	for (unsigned p = 0; p < b->num_planes; p++)
		total += b->planes[p].nsegs;
	out = calloc(total ? total : 1, sizeof(*out));
	if (!out)
		return NULL;
	for (unsigned p = 0; p < b->num_planes && len; p++) {
		const struct backend_plane *bp = &b->planes[p];

		for (unsigned i = 0; i < bp->nsegs && len; i++) {
			size_t sl = bp->segs[i].iov_len, skip = 0, take;
			uint8_t *base = bp->segs[i].iov_base;

			if (pos + sl <= start) {
				pos += sl;
				continue;
			}
			if (start > pos)
				skip = start - pos;
			take = sl - skip < len ? sl - skip : len;
			if (n && out[n - 1].base + out[n - 1].len == base + skip &&
			    ((out[n - 1].fd < 0 && !(bp->srcs && bp->srcs[i].fd >= 0)) ||
			     (bp->srcs && out[n - 1].fd == bp->srcs[i].fd &&
			      out[n - 1].off + out[n - 1].len == bp->srcs[i].offset + skip))) {
				out[n - 1].len += take;
			} else {
				out[n] = (struct vd_seg){
					.base = base + skip,
					.len = take,
					.fd = bp->srcs ? bp->srcs[i].fd : -1,
					.off = bp->srcs ? bp->srcs[i].offset + skip : 0,
				};
				n++;
			}
			pos += sl;
			start += take;
			len -= take;
		}
	}
	if (len) {
		free(out);
		return NULL;
	}
	*count = n;
	return out;
}

/* Maps segs back to back into one fresh reserved range. 0, or -1 when the segments do not
 * allow it (unknown file, an inner boundary not page-aligned) or mmap fails. */
static int remap_segs(struct backend_session *s, const struct vd_seg *segs, unsigned n,
		      struct vd_plane_bind *pl)
{
	size_t page = s->b->page, lead, total = 0, pos = 0;
	uint8_t *resv;

	if (n == 0)
		return -1;
	lead = segs[0].off & (page - 1);
	for (unsigned i = 0; i < n; i++) {
		bool first = i == 0, last = i + 1 == n;

		if (segs[i].fd < 0 ||
		    (segs[i].off & (page - 1)) != ((uintptr_t)segs[i].base & (page - 1)))
			return -1;
		if (!first && (segs[i].off & (page - 1)))
			return -1;
		if (!last && ((segs[i].off + segs[i].len) & (page - 1)))
			return -1;
		total += segs[i].len;
	}
	pl->resv_len = page_up(s, lead + total);
	resv = s->io->mmap(NULL, pl->resv_len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED) {
		pl->resv_len = 0;
		return -1;
	}
	pl->resv = resv;
	for (unsigned i = 0; i < n; i++) {
		uint64_t aligned = segs[i].off & ~(uint64_t)(page - 1);
		size_t map_len = page_up(s, (size_t)(segs[i].off - aligned) + segs[i].len);
		void *at = s->io->mmap(resv + pos, map_len, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, segs[i].fd, (off_t)aligned);

		if (at != resv + pos) {
			s->io->munmap(resv, pl->resv_len);
			pl->resv = NULL;
			pl->resv_len = 0;
			return -1;
		}
		pos += map_len;
	}
	/* Guest memory stays out of core dumps, as the daemon's own mapping of it does. */
	madvise(resv, pl->resv_len, MADV_DONTDUMP);
	pl->uptr = resv + lead;
	pl->len = total;
	return 0;
}

static bool same_segs(const struct vd_seg *a, unsigned na, const struct vd_seg *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (a[i].base != b[i].base || a[i].len != b[i].len || a[i].fd != b[i].fd ||
		    a[i].off != b[i].off)
			return false;
	return true;
}

/* Points the planes of slot sl at the guest's memory (USERPTR). 0, or -1 when the buffer
 * must go through the copy path. */
static int bind_in_place(struct backend_session *s, struct vd_queue *q, struct vd_slot *sl,
			 const struct backend_buffer *b, const struct vd_plan *plan)
{
	struct vd_seg *all = NULL, *segs[VIDEO_MAX_PLANES] = { NULL };
	unsigned nsegs[VIDEO_MAX_PLANES] = { 0 }, nall = 0;
	struct vd_plane_bind fresh[VIDEO_MAX_PLANES];
	int ret = -1;

	memset(fresh, 0, sizeof(fresh));
	for (unsigned k = 0; k < q->nplanes; k++) {
		if (plan->len[k] < q->need[k])
			goto out; /* smaller than the driver wants: copy into a big enough one */
		segs[k] = slice_segs(b, plan->start[k], plan->len[k], &nsegs[k]);
		if (!segs[k] || nsegs[k] == 0)
			goto out;
		nall += nsegs[k];
	}
	all = malloc(nall * sizeof(*all));
	if (!all)
		goto out;
	nall = 0;
	for (unsigned k = 0; k < q->nplanes; k++) {
		memcpy(&all[nall], segs[k], nsegs[k] * sizeof(*all));
		nall += nsegs[k];
	}
	/* The same pages as last time: vb2 reuses what it pinned for the same pointer. */
	if (sl->bound && same_segs(sl->sig, sl->nsig, all, nall)) {
		ret = 0;
		goto out;
	}
	for (unsigned k = 0; k < q->nplanes; k++) {
		bool again = sl->bound && sl->pl[k].uptr == segs[k][0].base;

		/* One segment is used in place, unless that pointer named other pages before
		 * (vb2 would keep the old ones): then it is mapped again at a fresh address. */
		if (nsegs[k] == 1 && !again) {
			fresh[k].uptr = segs[k][0].base;
			fresh[k].len = segs[k][0].len;
		} else if (remap_segs(s, segs[k], nsegs[k], &fresh[k]) < 0) {
			for (unsigned j = 0; j <= k; j++)
				if (fresh[j].resv)
					s->io->munmap(fresh[j].resv, fresh[j].resv_len);
			goto out;
		}
	}
	/* The new mappings exist before the old go, so their addresses differ. */
	for (unsigned k = 0; k < VIDEO_MAX_PLANES; k++) {
		if (sl->pl[k].resv)
			s->io->munmap(sl->pl[k].resv, sl->pl[k].resv_len);
		sl->pl[k].resv = NULL;
		sl->pl[k].resv_len = 0;
		sl->pl[k].uptr = fresh[k].uptr;
		sl->pl[k].len = fresh[k].len;
		sl->pl[k].resv = fresh[k].resv;
		sl->pl[k].resv_len = fresh[k].resv_len;
	}
	slot_forget_sig(sl);
	sl->sig = all;
	sl->nsig = nall;
	sl->bound = true;
	all = NULL;
	ret = 0;
out:
	for (unsigned k = 0; k < VIDEO_MAX_PLANES; k++)
		free(segs[k]);
	free(all);
	return ret;
}

/* Copy-path buffers of at least the driver's size (USERPTR), page-aligned. */
static int ensure_bounce(struct backend_session *s, struct vd_queue *q, struct vd_slot *sl)
{
	for (unsigned k = 0; k < q->nplanes; k++) {
		struct vd_plane_bind *pl = &sl->pl[k];
		size_t want = page_up(s, q->need[k] ? q->need[k] : 1);
		void *mem;

		if (q->memory == V4L2_MEMORY_MMAP)
			continue; /* the MMAP buffer is the bounce */
		if (!pl->bounce || pl->bounce_len < want) {
			if (posix_memalign(&mem, s->b->page, want) != 0)
				return -ENOMEM;
			free(pl->bounce);
			pl->bounce = mem;
			pl->bounce_len = want;
		}
	}
	return 0;
}

/* Copies between a plane's host segments and a flat buffer; returns bytes moved. */
static size_t segs_copy(const struct backend_plane *bp, size_t off, uint8_t *flat, size_t len,
			bool to_guest)
{
	return iov_copy(bp->segs, bp->nsegs, off, flat, len, to_guest);
}

/* Bitstream into the bounce buffer: the data of each guest plane, end to end. */
static int copy_in(struct backend_session *s, struct vd_slot *sl, const struct backend_buffer *b,
		   uint32_t *bytesused)
{
	struct vd_plane_bind *pl = &sl->pl[0];
	size_t pos = 0;

	for (unsigned i = 0; i < b->num_planes && i < VV_MAX_PLANES; i++) {
		size_t n = b->data_sizes[i];

		if (n > pl->bounce_len - pos)
			return -E2BIG;
		pos += segs_copy(&b->planes[i], 0, pl->bounce + pos, n, false);
	}
	s->b->bytes_copied += pos;
	*bytesused = (uint32_t)pos;
	return 0;
}

/* A decoded picture from the bounce buffers into the guest planes. false when it does not
 * fit the guest's buffer (or its planes cannot be matched to the picture's). */
static bool copy_out(struct backend_session *s, struct vd_queue *q, struct vd_slot *sl,
		     const struct backend_buffer *b, const uint32_t *bytesused)
{
	unsigned np = b->num_planes, mem = q->nplanes, n = s->out.num_planes;
	uint64_t moved = 0;
	bool fit = true;

	if (mem == 1 && np > 1 && np == n) {
		size_t off = 0;

		for (unsigned i = 0; i < np; i++) {
			size_t want = s->out.plane_formats[i].plane_size, avail;

			avail = off < bytesused[0] ? bytesused[0] - off : 0;
			if (want > avail)
				want = avail;
			if (want > b->planes[i].len) {
				want = b->planes[i].len;
				fit = false;
			}
			moved += segs_copy(&b->planes[i], 0, sl->pl[0].bounce + off, want, true);
			off += s->out.plane_formats[i].plane_size;
		}
	} else if (mem > 1 && np == 1) {
		size_t off = 0;

		for (unsigned k = 0; k < mem; k++) {
			size_t want = bytesused[k];

			if (off + want > b->planes[0].len) {
				want = off < b->planes[0].len ? b->planes[0].len - off : 0;
				fit = false;
			}
			moved += segs_copy(&b->planes[0], off, sl->pl[k].bounce, want, true);
			off += s->out.plane_formats[k].plane_size;
		}
	} else if (np == mem) {
		for (unsigned k = 0; k < mem; k++) {
			size_t want = bytesused[k];

			if (want > b->planes[k].len) {
				want = b->planes[k].len;
				fit = false;
			}
			moved += segs_copy(&b->planes[k], 0, sl->pl[k].bounce, want, true);
		}
	} else if (np == 1 && mem == 1) {
		size_t want = bytesused[0];

		if (want > b->planes[0].len) {
			want = b->planes[0].len;
			fit = false;
		}
		moved += segs_copy(&b->planes[0], 0, sl->pl[0].bounce, want, true);
	} else {
		fit = false;
	}
	s->b->bytes_copied += moved;
	return fit;
}

/* ---- queues ------------------------------------------------------------------------------- */

static void queue_init(struct vd_queue *q, bool mplane, bool capture)
{
	memset(q, 0, sizeof(*q));
	q->capture = capture;
	q->type = v4l2u_buf_type(mplane, capture);
}

static int reqbufs(struct backend_session *s, struct vd_queue *q, uint32_t memory,
		   uint32_t count)
{
	struct v4l2_requestbuffers rb = { .count = count, .type = q->type, .memory = memory };
	int ret = vd_ioctl(s, VIDIOC_REQBUFS, &rb);

	if (ret < 0)
		return ret;
	if (count && rb.count == 0)
		return -ENOMEM;
	q->nslots = rb.count < VD_MAX_SLOTS ? rb.count : VD_MAX_SLOTS;
	return 0;
}

/* MMAP mode: the driver's buffers mapped into ours, used as bounce buffers. */
static int map_mmap_buffers(struct backend_session *s, struct vd_queue *q)
{
	for (unsigned i = 0; i < q->nslots; i++) {
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		struct v4l2_buffer vb = { .index = i, .type = q->type, .memory = V4L2_MEMORY_MMAP };
		int ret;

		memset(planes, 0, sizeof(planes));
		if (V4L2_TYPE_IS_MULTIPLANAR(q->type)) {
			vb.m.planes = planes;
			vb.length = q->nplanes;
		}
		ret = vd_ioctl(s, VIDIOC_QUERYBUF, &vb);
		if (ret < 0)
			return ret;
		for (unsigned k = 0; k < q->nplanes; k++) {
			bool mp = V4L2_TYPE_IS_MULTIPLANAR(q->type);
			size_t len = mp ? planes[k].length : vb.length;
			off_t off = mp ? (off_t)planes[k].m.mem_offset : (off_t)vb.m.offset;
			void *p;

			if (len < q->need[k])
				q->need[k] = (uint32_t)len; /* never copy past what exists */
			p = s->io->mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, off);
			if (p == MAP_FAILED)
				return -errno;
			q->slots[i].pl[k].bounce = p;
			q->slots[i].pl[k].bounce_len = len;
		}
	}
	return 0;
}

/* Buffers for q in the current format: USERPTR, or MMAP when the driver refuses it. */
static int queue_alloc(struct backend_session *s, struct vd_queue *q, const struct v4l2u_pix *pix,
		       unsigned min_count)
{
	int ret;

	q->nplanes = pix->num_planes;
	for (unsigned k = 0; k < VIDEO_MAX_PLANES; k++)
		q->need[k] = k < pix->num_planes ? pix->sizeimage[k] : 0;
	if (!q->userptr_refused) {
		ret = reqbufs(s, q, V4L2_MEMORY_USERPTR, VD_MAX_SLOTS);
		if (ret == 0) {
			q->memory = V4L2_MEMORY_USERPTR;
			return 0;
		}
		if (ret != -EINVAL)
			return ret;
		q->userptr_refused = true;
		log_info("v4l2-decoder: %s queue refuses USERPTR: MMAP buffers, data copied",
			 q->capture ? "CAPTURE" : "OUTPUT");
	}
	if (min_count < VD_MMAP_SLOTS)
		min_count = VD_MMAP_SLOTS;
	ret = reqbufs(s, q, V4L2_MEMORY_MMAP, min_count);
	if (ret < 0)
		return ret;
	q->memory = V4L2_MEMORY_MMAP;
	ret = map_mmap_buffers(s, q);
	if (ret < 0) {
		for (unsigned i = 0; i < q->nslots; i++)
			slot_release(s, q, &q->slots[i]);
		reqbufs(s, q, V4L2_MEMORY_MMAP, 0);
		q->memory = 0;
		q->nslots = 0;
	}
	return ret;
}

/* Lets go of every buffer (none may be in the driver: stream off first). */
static void queue_free(struct backend_session *s, struct vd_queue *q)
{
	uint32_t memory = q->memory;

	if (!memory)
		return;
	for (unsigned i = 0; i < VD_MAX_SLOTS; i++)
		slot_release(s, q, &q->slots[i]);
	q->memory = 0;
	/* Unpins USERPTR pages and frees MMAP memory. */
	reqbufs(s, q, memory, 0);
	q->nslots = 0;
}

static int queue_streamon(struct backend_session *s, struct vd_queue *q)
{
	uint32_t type = q->type;
	int ret;

	if (q->streaming)
		return 0;
	ret = vd_ioctl(s, VIDIOC_STREAMON, &type);
	if (ret == 0)
		q->streaming = true;
	return ret;
}

/* STREAMOFF: the driver hands every buffer back. requeue puts them at the front of the
 * waiting list (in slot order); otherwise they count as returned (a clear) and go. */
static void queue_streamoff(struct backend_session *s, struct vd_queue *q, bool requeue)
{
	uint32_t type = q->type;
	struct vd_list back = { 0 };
	int ret;

	if (q->streaming) {
		ret = vd_ioctl(s, VIDIOC_STREAMOFF, &type);
		if (ret < 0)
			log_warn("v4l2-decoder: STREAMOFF(%s): %s",
				 q->capture ? "CAPTURE" : "OUTPUT", strerror(-ret));
	}
	q->streaming = false;
	for (unsigned i = 0; i < VD_MAX_SLOTS; i++) {
		struct vd_slot *sl = &q->slots[i];

		if (!sl->buf)
			continue;
		if (requeue)
			list_push(&back, sl->buf);
		else
			free(sl->buf);
		sl->buf = NULL;
	}
	q->in_driver = 0;
	/* Put the returned ones before those that were already waiting. */
	if (back.head) {
		back.tail->next = q->wait.head;
		if (!q->wait.tail)
			q->wait.tail = back.tail;
		q->wait.head = back.head;
		q->wait.count += back.count;
	}
}

/* A free slot: one never bound first, so that the pages another resource left bound to a
 * slot stay there for its next turn (vb2 reuses what it pinned for the same pointer). */
static int pick_slot(const struct vd_queue *q)
{
	int any = -1;

	for (unsigned i = 0; i < q->nslots; i++) {
		const struct vd_slot *sl = &q->slots[i];

		if (sl->buf)
			continue;
		if (!sl->bound)
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	return any;
}

/* Slot last bound to these exact pages, if free. */
static int pick_slot_for(struct backend_session *s, struct vd_queue *q, const struct vd_buf *vb)
{
	struct vd_plan plan;

	if (q->memory == V4L2_MEMORY_USERPTR) {
		plan_buffer(s, q, &vb->b, &plan);
		if (plan.in_place && q->nplanes >= 1) {
			unsigned n;
			struct vd_seg *first = slice_segs(&vb->b, plan.start[0], plan.len[0], &n);

			for (unsigned i = 0; first && n && i < q->nslots; i++) {
				const struct vd_slot *sl = &q->slots[i];

				if (!sl->buf && sl->bound && sl->nsig &&
				    sl->sig[0].base == first[0].base &&
				    sl->sig[0].fd == first[0].fd &&
				    sl->sig[0].off == first[0].off) {
					free(first);
					return (int)i;
				}
			}
			free(first);
		}
	}
	return pick_slot(q);
}

static int qbuf(struct backend_session *s, struct vd_queue *q, unsigned idx,
		const uint32_t *bytesused, uint64_t ticket)
{
	struct vd_slot *sl = &q->slots[idx];
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer vb = {
		.index = idx, .type = q->type, .memory = q->memory, .field = V4L2_FIELD_NONE,
	};

	memset(planes, 0, sizeof(planes));
	if (!q->capture)
		v4l2u_ticket_to_timeval(ticket, &vb.timestamp);
	if (V4L2_TYPE_IS_MULTIPLANAR(q->type)) {
		vb.m.planes = planes;
		vb.length = q->nplanes;
		for (unsigned k = 0; k < q->nplanes; k++) {
			planes[k].bytesused = bytesused[k];
			if (q->memory == V4L2_MEMORY_USERPTR) {
				planes[k].m.userptr = (unsigned long)sl->pl[k].uptr;
				planes[k].length = (uint32_t)sl->pl[k].len;
			}
		}
	} else {
		vb.bytesused = bytesused[0];
		if (q->memory == V4L2_MEMORY_USERPTR) {
			vb.m.userptr = (unsigned long)sl->pl[0].uptr;
			vb.length = (uint32_t)sl->pl[0].len;
		}
	}
	return vd_ioctl(s, VIDIOC_QBUF, &vb);
}

/* Hands one guest buffer to the driver in slot idx. On failure the buffer is completed
 * with an error (reported from the loop). */
static void submit(struct backend_session *s, struct vd_queue *q, unsigned idx, struct vd_buf *vb)
{
	struct vd_slot *sl = &q->slots[idx];
	uint32_t bytesused[VIDEO_MAX_PLANES] = { 0 };
	uint64_t ticket = 0;
	struct vd_plan plan;
	int ret = -EINVAL;

	if (q->capture) {
		uint64_t have = 0, need = 0;

		/* A picture buffer that cannot hold a picture goes back now, not after decoding
		 * into a bounce buffer for nothing. */
		for (unsigned i = 0; i < vb->b.num_planes; i++)
			have += vb->b.planes[i].len;
		for (unsigned k = 0; k < q->nplanes; k++)
			need += q->need[k];
		if (have < need) {
			log_debug("v4l2-decoder: picture buffer %u: %llu bytes, %llu needed",
				  vb->b.resource_id, (unsigned long long)have,
				  (unsigned long long)need);
			complete(s, vb, true, 0, 0, 0);
			schedule(s);
			return;
		}
	} else {
		ticket = ts_ticket(s, vb->b.timestamp);
	}
	plan_buffer(s, q, &vb->b, &plan);
	sl->copy = true;
	if (q->memory == V4L2_MEMORY_USERPTR && plan.in_place &&
	    bind_in_place(s, q, sl, &vb->b, &plan) == 0) {
		sl->copy = false;
		if (!q->capture)
			bytesused[0] = vb->b.data_sizes[0];
		ret = qbuf(s, q, idx, bytesused, ticket);
		if (ret == -EFAULT || ret == -EINVAL || ret == -ENOMEM) {
			/* Some memory the driver cannot pin: forget it, try the copy path. */
			log_debug("v4l2-decoder: QBUF of guest memory refused (%s): copying",
				  strerror(-ret));
			slot_release(s, q, sl);
			sl->copy = true;
		} else if (ret < 0) {
			slot_release(s, q, sl);
		}
	}
	if (sl->copy) {
		if (q->memory == V4L2_MEMORY_USERPTR) {
			ret = ensure_bounce(s, q, sl);
			for (unsigned k = 0; ret == 0 && k < q->nplanes; k++) {
				/* The bounce pointer replaces any in-place one for this index. */
				if (sl->pl[k].resv)
					s->io->munmap(sl->pl[k].resv, sl->pl[k].resv_len);
				sl->pl[k].resv = NULL;
				sl->pl[k].resv_len = 0;
				sl->pl[k].uptr = sl->pl[k].bounce;
				sl->pl[k].len = sl->pl[k].bounce_len;
			}
			slot_forget_sig(sl);
		} else {
			ret = 0;
		}
		if (ret == 0 && !q->capture)
			ret = copy_in(s, sl, &vb->b, &bytesused[0]);
		if (ret == 0)
			ret = qbuf(s, q, idx, bytesused, ticket);
	}
	if (ret < 0) {
		log_warn("v4l2-decoder: %s buffer %u refused by the driver: %s",
			 q->capture ? "picture" : "bitstream", vb->b.resource_id, strerror(-ret));
		complete(s, vb, true, 0, 0, vb->b.timestamp);
		schedule(s);
		return;
	}
	sl->buf = vb;
	q->in_driver++;
}

/* Queues waiting buffers while slots are free. */
static void fill_slots(struct backend_session *s, struct vd_queue *q)
{
	while (q->wait.head) {
		int idx = pick_slot_for(s, q, q->wait.head);

		if (idx < 0)
			return;
		submit(s, q, (unsigned)idx, list_pop(&q->wait));
	}
}

/* ---- formats and parameters --------------------------------------------------------------- */

static uint32_t ctrl_value(struct backend_session *s, uint32_t id, uint32_t fallback)
{
	struct v4l2_control c = { .id = id };

	if (vd_ioctl(s, VIDIOC_G_CTRL, &c) < 0 || c.value <= 0)
		return fallback;
	return (uint32_t)c.value;
}

static void input_params_from_pix(struct backend_session *s)
{
	struct vv_stream_params *in = &s->in;

	in->queue_type = VV_QUEUE_TYPE_INPUT;
	in->format = v4l2u_fourcc_to_vv(s->bit_pix.fourcc);
	in->frame_width = s->bit_pix.width;
	in->frame_height = s->bit_pix.height;
	in->min_buffers = ctrl_value(s, V4L2_CID_MIN_BUFFERS_FOR_OUTPUT, 1);
	in->max_buffers = VD_MAX_SLOTS;
	in->crop.left = 0;
	in->crop.top = 0;
	in->crop.width = in->frame_width;
	in->crop.height = in->frame_height;
	if (!in->frame_rate)
		in->frame_rate = VD_DEFAULT_RATE;
	in->num_planes = 1;
	memset(in->plane_formats, 0, sizeof(in->plane_formats));
	in->plane_formats[0].plane_size = s->bit_pix.sizeimage[0];
	in->plane_formats[0].stride = s->bit_pix.bytesperline[0];
}

/* The raw formats that pair with the session's coded format, by virtio format. */
static bool raw_pairs(const struct backend_session *s, uint32_t raw, int *out_idx)
{
	const struct v4l2u_caps *c = &s->b->caps;
	int ci = v4l2u_caps_find(&c->in, s->in.format);
	int ri = v4l2u_caps_find(&c->out, raw);

	if (ci < 0 || ri < 0 || !(c->in_descs[ci].mask & (1ull << ri)))
		return false;
	if (out_idx)
		*out_idx = ri;
	return true;
}

/* Before any stream header: what the guest asked for, at the bitstream's size. */
static void provisional_output_params(struct backend_session *s)
{
	const struct v4l2u_caps *c = &s->b->caps;
	struct vv_stream_params *o = &s->out;
	struct v4l2u_pix pix = { .num_planes = 1 };
	uint32_t raw = s->want_raw;
	int ci = v4l2u_caps_find(&c->in, s->in.format);
	uint64_t w = s->in.frame_width, h = s->in.frame_height;

	if (!raw && ci >= 0)
		for (unsigned j = 0; j < c->out.num_descs && !raw; j++)
			if (c->in_descs[ci].mask & (1ull << j))
				raw = c->out_descs[j].format;
	o->queue_type = VV_QUEUE_TYPE_OUTPUT;
	o->format = raw;
	o->frame_width = (uint32_t)w;
	o->frame_height = (uint32_t)h;
	o->min_buffers = 1;
	o->max_buffers = VD_MAX_SLOTS;
	o->crop.left = o->crop.top = 0;
	o->crop.width = o->frame_width;
	o->crop.height = o->frame_height;
	o->frame_rate = s->in.frame_rate;
	pix.width = (uint32_t)w;
	pix.height = (uint32_t)h;
	pix.bytesperline[0] = (uint32_t)(raw == VV_FORMAT_ARGB8888 || raw == VV_FORMAT_BGRA8888
					 ? w * 4 : w);
	pix.sizeimage[0] = (uint32_t)(v4l2u_vv_color_planes(raw) == 1
				      ? pix.bytesperline[0] * h
				      : w * h + 2 * (((w + 1) / 2) * ((h + 1) / 2)));
	if (v4l2u_raw_planes(&pix, raw, o) < 0)
		o->num_planes = 0;
}

/* The capture format the guest wants (or, failing that, one we can name) set on the driver,
 * and the OUTPUT params derived from it. */
static int read_capture_format(struct backend_session *s)
{
	struct v4l2_format f = { .type = s->pic.type };
	struct v4l2_selection sel = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .target = V4L2_SEL_TGT_COMPOSE,
	};
	struct vv_stream_params *o = &s->out;
	uint32_t vv;
	int ret;

	ret = vd_ioctl(s, VIDIOC_G_FMT, &f);
	if (ret < 0)
		return ret;
	v4l2u_pix_from_format(&f, s->b->mplane, &s->pic_pix);
	vv = v4l2u_fourcc_to_vv(s->pic_pix.fourcc);
	if ((s->want_raw && vv != s->want_raw) || !vv || !raw_pairs(s, vv, NULL)) {
		uint32_t target = s->want_raw && raw_pairs(s, s->want_raw, NULL) ? s->want_raw : 0;

		/* Ask for the wanted format, else the first one the guest can name. */
		for (uint32_t idx = 0; !target && idx < V4L2U_MAX_ENUM; idx++) {
			struct v4l2_fmtdesc d = { .index = idx, .type = s->pic.type };
			uint32_t cand;

			if (vd_ioctl(s, VIDIOC_ENUM_FMT, &d) < 0)
				break;
			cand = v4l2u_fourcc_to_vv(d.pixelformat);
			if (cand && !v4l2u_vv_is_coded(cand) && raw_pairs(s, cand, NULL))
				target = cand;
		}
		if (!target)
			return -ENOTSUP;
		if (target != vv) {
			int ri = -1;
			struct v4l2u_pix want = s->pic_pix;

			/* target was chosen because it pairs: this finds its index again. */
			if (!raw_pairs(s, target, &ri) || ri < 0)
				return -ENOTSUP;
			want.fourcc = s->b->caps.out_fourcc[ri];
			want.num_planes = v4l2u_fourcc_mem_planes(want.fourcc);
			memset(want.bytesperline, 0, sizeof(want.bytesperline));
			memset(want.sizeimage, 0, sizeof(want.sizeimage));
			v4l2u_format_from_pix(&f, s->b->mplane, true, &want);
			ret = vd_ioctl(s, VIDIOC_S_FMT, &f);
			if (ret < 0)
				return ret;
			v4l2u_pix_from_format(&f, s->b->mplane, &s->pic_pix);
			vv = v4l2u_fourcc_to_vv(s->pic_pix.fourcc);
			if (!vv || v4l2u_vv_is_coded(vv))
				return -ENOTSUP;
		}
	}
	o->queue_type = VV_QUEUE_TYPE_OUTPUT;
	o->format = vv;
	o->frame_width = s->pic_pix.width;
	o->frame_height = s->pic_pix.height;
	if (vd_ioctl(s, VIDIOC_G_SELECTION, &sel) == 0 && sel.r.width && sel.r.height &&
	    sel.r.left >= 0 && sel.r.top >= 0 && (uint32_t)sel.r.left <= o->frame_width &&
	    sel.r.width <= o->frame_width - (uint32_t)sel.r.left &&
	    (uint32_t)sel.r.top <= o->frame_height &&
	    sel.r.height <= o->frame_height - (uint32_t)sel.r.top) {
		o->crop.left = (uint32_t)sel.r.left;
		o->crop.top = (uint32_t)sel.r.top;
		o->crop.width = sel.r.width;
		o->crop.height = sel.r.height;
	} else {
		o->crop.left = o->crop.top = 0;
		o->crop.width = o->frame_width;
		o->crop.height = o->frame_height;
	}
	o->min_buffers = ctrl_value(s, V4L2_CID_MIN_BUFFERS_FOR_CAPTURE, 1);
	o->max_buffers = VD_MAX_SLOTS;
	o->frame_rate = s->in.frame_rate;
	return v4l2u_raw_planes(&s->pic_pix, vv, o);
}

/* A new capture format is known: tell the guest, wait for it to act. */
static void report_format(struct backend_session *s)
{
	int ret = read_capture_format(s);

	if (ret < 0) {
		fail_stream(s, "the decoded format cannot be used", ret);
		return;
	}
	/* Not the first format, and the guest holds picture buffers of the old one: they are
	 * not ours to decode into until the guest has cleared them. */
	if (s->pic_state != PIC_NO_FORMAT && s->pic_queued)
		s->await_clear = true;
	s->pic_state = PIC_NEED_SETUP;
	s->setup_armed = false;
	s->res_change_owed = true;
	log_debug("v4l2-decoder: picture format %ux%u (crop %ux%u+%u+%u), %u planes",
		  s->out.frame_width, s->out.frame_height, s->out.crop.width, s->out.crop.height,
		  s->out.crop.left, s->out.crop.top, s->out.num_planes);
}

/* The LAST buffer of a resolution change has come: release the old buffers, report. */
static void finish_res_change(struct backend_session *s)
{
	queue_streamoff(s, &s->pic, true);
	queue_free(s, &s->pic);
	/* STREAMOFF(CAPTURE) forgets a drain in progress: it is sent again later. */
	if (s->drain == DRAIN_ISSUED)
		s->drain = DRAIN_PENDING;
	report_format(s);
}

/* The driver's capture format and visible rectangle are still those the buffers were made
 * for. */
static bool capture_format_unchanged(struct backend_session *s)
{
	struct v4l2_format f = { .type = s->pic.type };
	struct v4l2_selection sel = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .target = V4L2_SEL_TGT_COMPOSE,
	};
	const struct v4l2u_pix *cur = &s->pic_pix;
	struct v4l2u_pix now;

	if (vd_ioctl(s, VIDIOC_G_FMT, &f) < 0)
		return false;
	v4l2u_pix_from_format(&f, s->b->mplane, &now);
	if (now.fourcc != cur->fourcc || now.width != cur->width || now.height != cur->height ||
	    now.num_planes != cur->num_planes)
		return false;
	for (unsigned k = 0; k < now.num_planes && k < VIDEO_MAX_PLANES; k++)
		if (now.bytesperline[k] != cur->bytesperline[k] ||
		    now.sizeimage[k] != cur->sizeimage[k])
			return false;
	if (vd_ioctl(s, VIDIOC_G_SELECTION, &sel) < 0)
		return true; /* no rectangle to compare: the format decides */
	return sel.r.left >= 0 && sel.r.top >= 0 && (uint32_t)sel.r.left == s->out.crop.left &&
	       (uint32_t)sel.r.top == s->out.crop.top && sel.r.width == s->out.crop.width &&
	       sel.r.height == s->out.crop.height;
}

static void on_source_change(struct backend_session *s)
{
	switch (s->pic_state) {
	case PIC_NO_FORMAT:
	case PIC_NEED_SETUP:
		report_format(s);
		break;
	case PIC_STOPPED:
	case PIC_RUNNING:
		/* vicodec announces the format again, with no LAST buffer, when its bitstream
		 * queue streams on while the capture queue does not (as after a seek's two
		 * clears, when the bitstream comes first); by the time the event is read the
		 * capture queue may stream again. Nothing changed: nothing to wait for. A
		 * LAST that comes anyway restarts the decoder like any unasked-for LAST. */
		if (capture_format_unchanged(s)) {
			log_debug("v4l2-decoder: source change to the same format: nothing to do");
			break;
		}
		if (s->pic_state == PIC_RUNNING) {
			s->pic_state = PIC_WAIT_LAST;
			break;
		}
		queue_free(s, &s->pic);
		report_format(s);
		break;
	case PIC_WAIT_LAST:
		break;
	}
}

/* Dequeues pending events; true when there was one. */
static bool handle_events(struct backend_session *s)
{
	bool any = false;

	for (unsigned n = 0; n < VD_MAX_EVENTS && !s->broken; n++) {
		struct v4l2_event e;

		memset(&e, 0, sizeof(e));
		if (vd_ioctl(s, VIDIOC_DQEVENT, &e) < 0)
			break;
		any = true;
		if (e.type == V4L2_EVENT_SOURCE_CHANGE) {
			log_debug("v4l2-decoder: source change 0x%x", e.u.src_change.changes);
			on_source_change(s);
		} else if (e.type == V4L2_EVENT_EOS) {
			log_debug("v4l2-decoder: EOS event");
		}
	}
	return any;
}

/* ---- the pic queue: set-up and restarts --------------------------------------------------- */

static int pic_setup(struct backend_session *s)
{
	int ret = queue_alloc(s, &s->pic, &s->pic_pix, s->out.min_buffers + 1);

	if (ret < 0)
		return ret;
	fill_slots(s, &s->pic);
	ret = queue_streamon(s, &s->pic);
	if (ret < 0)
		return ret;
	s->pic_state = PIC_RUNNING;
	log_debug("v4l2-decoder: capture streaming, %u slots (%s)", s->pic.nslots,
		  s->pic.memory == V4L2_MEMORY_USERPTR ? "USERPTR" : "MMAP");
	return 0;
}

/* Back to decoding after a LAST: STREAMOFF/STREAMON(CAPTURE), the buffers queued again. */
static void pic_restream(struct backend_session *s)
{
	int ret;

	queue_streamoff(s, &s->pic, true);
	ret = queue_streamon(s, &s->pic);
	if (ret < 0)
		fail_stream(s, "STREAMON(CAPTURE)", ret);
}

static bool dequeue_picture(struct backend_session *s, bool probing);

/* The decoder stopped at a LAST buffer: DEC_CMD_START, and if the capture queue still
 * refuses with EPIPE, a STREAMOFF/STREAMON of it. */
static void restart_decoder(struct backend_session *s)
{
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_START };

	if (!s->pic.streaming)
		return;
	if (vd_ioctl(s, VIDIOC_DECODER_CMD, &dc) < 0) {
		pic_restream(s);
		return;
	}
	dequeue_picture(s, true);
}

/* ---- dequeueing --------------------------------------------------------------------------- */

struct dq_result {
	unsigned index;
	uint32_t flags;
	uint32_t bytesused[VIDEO_MAX_PLANES];
	uint64_t ticket;
};

static int dqbuf(struct backend_session *s, struct vd_queue *q, struct dq_result *r)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer vb = { .type = q->type, .memory = q->memory };
	int ret;

	memset(planes, 0, sizeof(planes));
	memset(r, 0, sizeof(*r));
	if (V4L2_TYPE_IS_MULTIPLANAR(q->type)) {
		vb.m.planes = planes;
		vb.length = q->nplanes;
	}
	ret = vd_ioctl(s, VIDIOC_DQBUF, &vb);
	if (ret < 0)
		return ret;
	if (vb.index >= q->nslots || !q->slots[vb.index].buf) {
		log_warn("v4l2-decoder: the driver returned %s buffer %u it does not hold",
			 q->capture ? "CAPTURE" : "OUTPUT", vb.index);
		return -EIO;
	}
	r->index = vb.index;
	r->flags = vb.flags;
	r->ticket = v4l2u_timeval_to_ticket(&vb.timestamp);
	for (unsigned k = 0; k < q->nplanes; k++) {
		uint32_t used = V4L2_TYPE_IS_MULTIPLANAR(q->type) ? planes[k].bytesused
								 : vb.bytesused;
		uint32_t cap = q->slots[vb.index].pl[k].len;

		if (q->memory == V4L2_MEMORY_MMAP)
			cap = (uint32_t)q->slots[vb.index].pl[k].bounce_len;
		r->bytesused[k] = used > cap ? cap : used; /* never trust a size past the buffer */
	}
	q->in_driver--;
	return 0;
}

static bool dequeue_inputs(struct backend_session *s)
{
	struct vd_queue *q = &s->bit;
	bool any = false;

	while (q->streaming && q->in_driver && !s->broken) {
		struct dq_result r;
		struct vd_buf *vb;
		int ret = dqbuf(s, q, &r);

		if (ret == -EAGAIN)
			break;
		if (ret < 0) {
			fail_stream(s, "DQBUF(OUTPUT)", ret);
			break;
		}
		any = true;
		vb = q->slots[r.index].buf;
		q->slots[r.index].buf = NULL;
		complete(s, vb, r.flags & V4L2_BUF_FLAG_ERROR, 0, 0, vb->b.timestamp);
	}
	return any;
}

static uint32_t picture_flags(uint32_t v4l2_flags)
{
	uint32_t f = 0;

	if (v4l2_flags & V4L2_BUF_FLAG_KEYFRAME)
		f |= VV_BUFFER_FLAG_IFRAME;
	if (v4l2_flags & V4L2_BUF_FLAG_PFRAME)
		f |= VV_BUFFER_FLAG_PFRAME;
	if (v4l2_flags & V4L2_BUF_FLAG_BFRAME)
		f |= VV_BUFFER_FLAG_BFRAME;
	return f;
}

/* A LAST buffer: the end of a resolution change, of a drain, or of nothing we asked for. */
static void on_last(struct backend_session *s, struct vd_buf *vb, uint32_t flags, uint32_t size,
		    uint64_t ts)
{
	log_debug("v4l2-decoder: LAST buffer %u (%u bytes), state %d, drain %d",
		  vb->b.resource_id, size, s->pic_state, s->drain);
	/* A SOURCE_CHANGE queued with this LAST may not have been read yet (the wake-up was
	 * for the buffer): a resolution change's LAST must not pass for the drain's. */
	if (s->pic_state != PIC_WAIT_LAST)
		handle_events(s);
	if (s->pic_state == PIC_WAIT_LAST) {
		if (size)
			complete(s, vb, false, flags, size, ts);
		else
			list_push_front(&s->pic.wait, vb); /* unused: keep it for later */
		finish_res_change(s);
		return;
	}
	if (s->drain == DRAIN_ISSUED) {
		complete(s, vb, false, flags | VV_BUFFER_FLAG_EOS, size, ts);
		s->drain = DRAIN_NONE;
		s->drain_done_owed = true;
		s->drain_error = false;
		restart_decoder(s);
		return;
	}
	if (size)
		complete(s, vb, false, flags, size, ts);
	else
		list_push_front(&s->pic.wait, vb);
	restart_decoder(s);
}

/* Dequeues one picture; true when one came. probing: right after DEC_CMD_START, to see
 * whether the queue still answers EPIPE (a LAST then is not acted on again). */
static bool dequeue_picture(struct backend_session *s, bool probing)
{
	struct vd_queue *q = &s->pic;
	struct dq_result r;
	struct vd_slot *sl;
	struct vd_buf *vb;
	uint32_t size = 0, flags;
	uint64_t ts;
	bool fit = true;
	int ret = dqbuf(s, q, &r);

	if (ret == -EAGAIN)
		return false;
	if (ret == -EPIPE) {
		/* The last buffer was dequeued before: nothing more until a restart. */
		if (s->pic_state == PIC_WAIT_LAST)
			finish_res_change(s);
		else
			pic_restream(s);
		return false;
	}
	if (ret < 0) {
		fail_stream(s, "DQBUF(CAPTURE)", ret);
		return false;
	}
	sl = &q->slots[r.index];
	vb = sl->buf;
	sl->buf = NULL;
	for (unsigned k = 0; k < q->nplanes; k++)
		size += r.bytesused[k];
	if (sl->copy && size && !(r.flags & V4L2_BUF_FLAG_ERROR))
		fit = copy_out(s, q, sl, &vb->b, r.bytesused);
	ts = ts_lookup(s, r.ticket);
	flags = picture_flags(r.flags);
	if ((r.flags & V4L2_BUF_FLAG_ERROR) || !fit) {
		log_debug("v4l2-decoder: picture buffer %u: %s", vb->b.resource_id,
			  fit ? "decode error" : "too small for the picture");
		complete(s, vb, true, flags, 0, ts);
		if (r.flags & V4L2_BUF_FLAG_ERROR)
			s->error_owed = true; /* a corrupt bitstream: the stream is in error */
		return true;
	}
	if ((r.flags & V4L2_BUF_FLAG_LAST) && !probing) {
		on_last(s, vb, flags, size, ts);
		return true;
	}
	complete(s, vb, false, flags, size, ts);
	return true;
}

static bool dequeue_pictures(struct backend_session *s)
{
	bool any = false;

	while (s->pic.streaming && s->pic.in_driver && !s->broken)
		if (!dequeue_picture(s, false))
			break;
		else
			any = true;
	return any;
}

/* ---- the engine --------------------------------------------------------------------------- */

static void drain_now_empty(struct backend_session *s)
{
	/* Nothing will ever be decoded from what was given: the drain is complete. */
	s->drain = DRAIN_NONE;
	s->eos_owed = true;
	s->drain_done_owed = true;
	s->drain_error = false;
}

/* Everything that can be done with what is at hand. */
static void pump(struct backend_session *s)
{
	struct vd_queue *bit = &s->bit, *pic = &s->pic;
	int ret;

	if (s->broken)
		return;

	/* Bitstream: inputs without data complete at once (V4L2 would read 0 as "all"). */
	while (bit->wait.head) {
		struct vd_buf *vb = bit->wait.head;

		if (input_bytes(&vb->b) == 0) {
			complete(s, list_pop(&bit->wait), false, 0, 0, vb->b.timestamp);
			continue;
		}
		if (!bit->memory) {
			ret = queue_alloc(s, bit, &s->bit_pix, s->in.min_buffers);
			if (ret < 0) {
				fail_stream(s, "REQBUFS(OUTPUT)", ret);
				return;
			}
		}
		{
			int idx = pick_slot_for(s, bit, vb);

			if (idx < 0)
				break;
			submit(s, bit, (unsigned)idx, list_pop(&bit->wait));
		}
	}
	if (bit->memory && !bit->streaming && (bit->in_driver || s->drain == DRAIN_PENDING)) {
		ret = queue_streamon(s, bit);
		if (ret < 0) {
			fail_stream(s, "STREAMON(OUTPUT)", ret);
			return;
		}
	}

	/* Pictures. */
	if (s->eos_owed && s->pic_state == PIC_NO_FORMAT && pic->wait.head) {
		complete(s, list_pop(&pic->wait), false, VV_BUFFER_FLAG_EOS, 0, 0);
		s->eos_owed = false;
	}
	if (s->pic_state == PIC_STOPPED && pic->wait.head) {
		ret = queue_streamon(s, pic);
		if (ret < 0) {
			fail_stream(s, "STREAMON(CAPTURE)", ret);
			return;
		}
		s->pic_state = PIC_RUNNING;
	}
	if (s->pic_state == PIC_NEED_SETUP && s->setup_armed && !s->await_clear &&
	    pic->wait.head) {
		ret = pic_setup(s);
		if (ret < 0) {
			fail_stream(s, "capture set-up", ret);
			return;
		}
	}
	if (s->pic_state == PIC_RUNNING || s->pic_state == PIC_WAIT_LAST)
		fill_slots(s, pic);

	/* Drain. */
	if (s->drain == DRAIN_PENDING) {
		if (s->pic_state == PIC_RUNNING && pic->streaming && bit->memory) {
			struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };

			ret = bit->streaming ? 0 : queue_streamon(s, bit);
			if (ret == 0)
				ret = vd_ioctl(s, VIDIOC_DECODER_CMD, &dc);
			if (ret < 0) {
				log_warn("v4l2-decoder: V4L2_DEC_CMD_STOP: %s", strerror(-ret));
				s->drain = DRAIN_NONE;
				s->drain_done_owed = true;
				s->drain_error = true;
			} else {
				s->drain = DRAIN_ISSUED;
				log_debug("v4l2-decoder: V4L2_DEC_CMD_STOP sent");
			}
		} else if (s->pic_state == PIC_NO_FORMAT && !bit->in_driver && !bit->wait.head) {
			drain_now_empty(s);
			if (pic->wait.head) {
				complete(s, list_pop(&pic->wait), false, VV_BUFFER_FLAG_EOS, 0, 0);
				s->eos_owed = false;
			}
		}
	}
}

static void update_watch(struct backend_session *s)
{
	uint32_t want = EPOLLPRI;

	if (s->bit.streaming && s->bit.in_driver)
		want |= EPOLLOUT;
	if (s->pic.streaming && s->pic.in_driver)
		want |= EPOLLIN;
	if (s->broken)
		want = 0; /* nothing more is read from a broken stream */
	if (want == s->watch)
		return;
	if (ev_mod(s->b->loop, s->h, want) < 0) {
		log_warn("v4l2-decoder: cannot watch the device: %s", strerror(errno));
		return;
	}
	s->watch = want;
}

/* Reports what completed, in order: buffers, then the format change, the drain, errors. */
static void flush(struct backend_session *s)
{
	struct vd_buf *vb;

	while ((vb = list_pop(&s->done))) {
		if (vb->input)
			s->ev->input_done(s->stream, vb->b.resource_id, vb->error);
		else
			s->ev->picture_ready(s->stream, vb->b.resource_id, vb->timestamp,
					     vb->flags, vb->size);
		free(vb);
	}
	if (s->res_change_owed) {
		s->res_change_owed = false;
		s->ev->resolution_changed(s->stream);
	}
	if (s->drain_done_owed) {
		s->drain_done_owed = false;
		s->ev->drain_done(s->stream, s->drain_error);
	}
	if (s->error_owed) {
		s->error_owed = false;
		s->ev->stream_error(s->stream);
	}
}

/* What the loop calls for the V4L2 fd (tests call it with the events they simulate). */
void v4l2_dec_dispatch(struct backend_session *s, uint32_t events)
{
	bool progress = false;

	if (!s->broken) {
		if (events & (EPOLLPRI | EPOLLERR))
			progress |= handle_events(s);
		if (events & (EPOLLOUT | EPOLLERR))
			progress |= dequeue_inputs(s);
		if (events & (EPOLLIN | EPOLLERR))
			progress |= dequeue_pictures(s);
		if ((events & EPOLLERR) && !progress) {
			if (++s->err_spins >= VD_ERR_SPINS)
				fail_stream(s, "the device keeps reporting an error", EIO);
		} else {
			s->err_spins = 0;
		}
		pump(s);
	}
	flush(s);
	update_watch(s);
}

uint32_t v4l2_dec_watch_events(const struct backend_session *s)
{
	return s->watch;
}

static void on_device(void *opaque, uint32_t events)
{
	v4l2_dec_dispatch(opaque, events);
}

static void on_work(void *opaque, uint32_t events)
{
	struct backend_session *s = opaque;
	eventfd_t count;

	(void)events;
	if (eventfd_read(s->work_fd, &count) < 0 && errno != EAGAIN)
		log_debug("v4l2-decoder: eventfd read: %s", strerror(errno));
	pump(s);
	flush(s);
	update_watch(s);
}

/* ---- ops ---------------------------------------------------------------------------------- */

static const char *caps_names(const struct v4l2u_caps *c, bool out, char *buf, size_t cap)
{
	const struct vv_caps *q = out ? &c->out : &c->in;
	const uint32_t *fcc = out ? c->out_fourcc : c->in_fourcc;
	size_t pos = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < q->num_descs && pos + 6 < cap; i++) {
		char f[5];

		pos += (size_t)snprintf(buf + pos, cap - pos, "%s%s", i ? " " : "",
					v4l2u_fourcc_str(fcc[i], f));
	}
	return buf;
}

static int v4l2_dec_open(struct backend **out, const struct backend_config *cfg,
			 struct event_loop *loop)
{
	const struct v4l2_io *io = io_override ? io_override : &v4l2_sys_io;
	const char *path = cfg && cfg->device_path ? cfg->device_path : "/dev/video0";
	struct v4l2_capability vcap;
	struct backend *b = NULL;
	uint32_t caps;
	char in_names[128], out_names[256];
	long page;
	int fd, ret;

	*out = NULL;
	if (!loop)
		return -EINVAL;
	fd = io->open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("v4l2-decoder: cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	memset(&vcap, 0, sizeof(vcap));
	ret = v4l2u_ioctl(io, fd, VIDIOC_QUERYCAP, &vcap);
	if (ret < 0) {
		log_err("v4l2-decoder: %s is not a V4L2 device (VIDIOC_QUERYCAP: %s)", path,
			strerror(-ret));
		goto fail;
	}
	caps = (vcap.capabilities & V4L2_CAP_DEVICE_CAPS) ? vcap.device_caps : vcap.capabilities;
	if (!(caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE)) ||
	    !(caps & V4L2_CAP_STREAMING)) {
		log_err("v4l2-decoder: %s (%.32s) is not a streaming mem2mem device "
			"(capabilities 0x%08x)", path, (const char *)vcap.driver, caps);
		ret = -ENODEV;
		goto fail;
	}
	b = calloc(1, sizeof(*b));
	page = sysconf(_SC_PAGESIZE);
	if (!b || !(b->path = strdup(path))) {
		log_err("v4l2-decoder: out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	b->loop = loop;
	b->io = io;
	b->page = page > 0 ? (size_t)page : 4096;
	b->mplane = (caps & V4L2_CAP_VIDEO_M2M_MPLANE) != 0;
	ret = v4l2u_build_caps(io, fd, b->mplane, &b->caps);
	if (ret == -ENOENT) {
		log_err("v4l2-decoder: %s (%.32s) has no compressed OUTPUT format: not a decoder",
			path, (const char *)vcap.driver);
		goto fail;
	}
	if (ret == -ENOTSUP) {
		log_err("v4l2-decoder: %s (%.32s): none of its coded formats maps to a "
			"virtio-video format that decodes to NV12, YUV420, YVU420 or RGB", path,
			(const char *)vcap.driver);
		goto fail;
	}
	if (ret < 0) {
		log_err("v4l2-decoder: %s: cannot enumerate formats: %s", path, strerror(-ret));
		goto fail;
	}
	io->close(fd);
	log_info("v4l2-decoder: %s (%.32s, %s): coded %s; raw %s", path,
		 (const char *)vcap.driver, b->mplane ? "multi-planar" : "single-planar",
		 caps_names(&b->caps, false, in_names, sizeof(in_names)),
		 caps_names(&b->caps, true, out_names, sizeof(out_names)));
	*out = b;
	return 0;

fail:
	io->close(fd);
	if (b) {
		v4l2u_caps_free(&b->caps);
		free(b->path);
		free(b);
	}
	return ret == -ENOMEM ? -ENOMEM : (ret < 0 ? ret : -ENODEV);
}

static void v4l2_dec_close(struct backend *b)
{
	if (!b)
		return;
	if (b->bytes_copied)
		log_info("v4l2-decoder: %llu bytes of frame data copied",
			 (unsigned long long)b->bytes_copied);
	v4l2u_caps_free(&b->caps);
	free(b->path);
	free(b);
}

static const struct vv_caps *v4l2_dec_caps(struct backend *b, uint32_t queue_type)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT)
		return &b->caps.in;
	if (queue_type == VV_QUEUE_TYPE_OUTPUT)
		return &b->caps.out;
	return NULL;
}

static uint64_t v4l2_dec_bytes_copied(struct backend *b)
{
	return b->bytes_copied;
}

/* S_FMT(OUTPUT) with the coded format at a size (0 keeps the current one). */
static int set_bitstream_format(struct backend_session *s, uint32_t fourcc, uint32_t width,
				uint32_t height, uint32_t sizeimage)
{
	struct v4l2u_pix pix = { .fourcc = fourcc, .num_planes = 1 };
	struct v4l2_format f;
	int ret;

	pix.width = width ? width : s->bit_pix.width;
	pix.height = height ? height : s->bit_pix.height;
	pix.sizeimage[0] = sizeimage;
	v4l2u_format_from_pix(&f, s->b->mplane, false, &pix);
	ret = vd_ioctl(s, VIDIOC_S_FMT, &f);
	if (ret < 0)
		return ret;
	v4l2u_pix_from_format(&f, s->b->mplane, &s->bit_pix);
	if (s->bit_pix.fourcc != fourcc)
		return -EINVAL;
	input_params_from_pix(s);
	return 0;
}

static int v4l2_dec_session_new(struct backend *b, uint32_t coded_format,
				const struct backend_events *ev, void *stream,
				struct backend_session **out)
{
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_SOURCE_CHANGE };
	struct backend_session *s;
	uint32_t width = VD_DEFAULT_WIDTH, height = VD_DEFAULT_HEIGHT;
	int ci = v4l2u_caps_find(&b->caps.in, coded_format);
	int ret;

	*out = NULL;
	if (ci < 0)
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->b = b;
	s->io = b->io;
	s->ev = ev;
	s->stream = stream;
	s->work_fd = -1;
	queue_init(&s->bit, b->mplane, false);
	queue_init(&s->pic, b->mplane, true);
	s->fd = b->io->open(b->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		ret = -errno;
		log_warn("v4l2-decoder: cannot open %s: %s", b->path, strerror(errno));
		goto fail;
	}
	if (b->caps.in_descs[ci].num_frames) {
		const struct vv_caps_frame *fr = &b->caps.in_descs[ci].frames[0];

		if (width < fr->width.min || width > fr->width.max)
			width = fr->width.min;
		if (height < fr->height.min || height > fr->height.max)
			height = fr->height.min;
	}
	s->in.frame_rate = VD_DEFAULT_RATE;
	ret = set_bitstream_format(s, b->caps.in_fourcc[ci], width, height, 0);
	if (ret < 0) {
		log_warn("v4l2-decoder: S_FMT(OUTPUT): %s", strerror(-ret));
		goto fail_fd;
	}
	ret = v4l2u_ioctl(s->io, s->fd, VIDIOC_SUBSCRIBE_EVENT, &sub);
	if (ret < 0) {
		log_warn("v4l2-decoder: SUBSCRIBE_EVENT(SOURCE_CHANGE): %s", strerror(-ret));
		goto fail_fd;
	}
	sub.type = V4L2_EVENT_EOS;
	v4l2u_ioctl(s->io, s->fd, VIDIOC_SUBSCRIBE_EVENT, &sub); /* optional */
	provisional_output_params(s);

	s->work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->work_fd < 0) {
		ret = -errno;
		goto fail_fd;
	}
	s->work_h = ev_add(b->loop, s->work_fd, EPOLLIN, on_work, s);
	if (!s->work_h) {
		ret = -errno;
		goto fail_fd;
	}
	s->watch = EPOLLPRI;
	s->h = ev_add(b->loop, s->fd, s->watch, on_device, s);
	if (!s->h) {
		ret = -errno;
		goto fail_fd;
	}
	*out = s;
	return 0;

fail_fd:
	ev_del(b->loop, s->work_h);
	if (s->work_fd >= 0)
		close(s->work_fd);
	s->io->close(s->fd);
fail:
	free(s);
	return ret == -ENOMEM ? -ENOMEM : -EIO;
}

static void v4l2_dec_session_free(struct backend_session *s)
{
	if (!s)
		return;
	ev_del(s->b->loop, s->h);
	ev_del(s->b->loop, s->work_h);
	queue_streamoff(s, &s->bit, false);
	queue_streamoff(s, &s->pic, false);
	list_drop(&s->bit.wait, true, false);
	list_drop(&s->pic.wait, true, false);
	list_drop(&s->done, true, false);
	queue_free(s, &s->bit);
	queue_free(s, &s->pic);
	s->io->close(s->fd);
	close(s->work_fd);
	free(s);
}

static int v4l2_dec_get_params(struct backend_session *s, uint32_t queue_type,
			       struct vv_stream_params *p)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT) {
		*p = s->in;
		return 0;
	}
	if (queue_type != VV_QUEUE_TYPE_OUTPUT)
		return -EINVAL;
	*p = s->out;
	/* The guest reads the new format: it is acting on the change. */
	if (s->pic_state == PIC_NEED_SETUP && !s->setup_armed) {
		s->setup_armed = true;
		schedule(s);
	}
	return 0;
}

static int set_input_params(struct backend_session *s, const struct vv_stream_params *p)
{
	const struct v4l2u_caps *c = &s->b->caps;
	int ci = v4l2u_caps_find(&c->in, p->format);
	uint32_t fourcc, w, h, size = 0;
	int ret;

	if (ci < 0 || !v4l2u_vv_is_coded(p->format))
		return -EINVAL;
	fourcc = c->in_fourcc[ci];
	w = p->frame_width ? p->frame_width : s->bit_pix.width;
	h = p->frame_height ? p->frame_height : s->bit_pix.height;
	if (p->num_planes >= 1)
		size = p->plane_formats[0].plane_size;
	if (p->frame_rate)
		s->in.frame_rate = p->frame_rate;
	if (fourcc == s->bit_pix.fourcc && w == s->bit_pix.width && h == s->bit_pix.height &&
	    (size == 0 || size <= s->bit_pix.sizeimage[0]))
		return 0;
	if (s->bit.memory) {
		/* The driver refuses a new format while it has buffers: only when idle. */
		if (s->bit.in_driver || s->bit.wait.head)
			return -EBUSY;
		queue_streamoff(s, &s->bit, false);
		queue_free(s, &s->bit);
	}
	ret = set_bitstream_format(s, fourcc, w, h, size);
	if (ret < 0)
		return ret == -EBUSY ? -EBUSY : -EINVAL;
	if (s->pic_state == PIC_NO_FORMAT)
		provisional_output_params(s);
	return 0;
}

static int set_output_params(struct backend_session *s, const struct vv_stream_params *p)
{
	int ret;

	if (v4l2u_vv_is_coded(p->format) || !raw_pairs(s, p->format, NULL))
		return -EINVAL;
	s->want_raw = p->format;
	if (s->pic_state == PIC_NO_FORMAT) {
		provisional_output_params(s);
		return 0;
	}
	if (p->format == s->out.format) {
		if (s->pic_state == PIC_NEED_SETUP && !s->setup_armed) {
			s->setup_armed = true;
			schedule(s);
		}
		return 0;
	}
	/* Another picture format: the capture queue starts over with it. */
	if (s->pic_state == PIC_WAIT_LAST)
		finish_res_change(s); /* still owes the guest its report */
	queue_streamoff(s, &s->pic, true);
	queue_free(s, &s->pic);
	ret = read_capture_format(s);
	if (ret < 0) {
		fail_stream(s, "the requested picture format cannot be used", ret);
		return -EINVAL;
	}
	if (s->drain == DRAIN_ISSUED)
		s->drain = DRAIN_PENDING;
	s->pic_state = PIC_NEED_SETUP;
	s->setup_armed = true;
	schedule(s);
	return 0;
}

static int v4l2_dec_set_params(struct backend_session *s, const struct vv_stream_params *p)
{
	if (s->broken)
		return -EIO;
	if (p->queue_type == VV_QUEUE_TYPE_INPUT)
		return set_input_params(s, p);
	if (p->queue_type == VV_QUEUE_TYPE_OUTPUT)
		return set_output_params(s, p);
	return -EINVAL;
}

static int enqueue(struct backend_session *s, struct vd_queue *q, const struct backend_buffer *buf,
		   bool input)
{
	struct vd_buf *vb;

	if (s->broken)
		return -EIO;
	if (buf->num_planes == 0 || buf->num_planes > VV_MAX_PLANES)
		return -EINVAL;
	vb = calloc(1, sizeof(*vb));
	if (!vb)
		return -ENOMEM;
	vb->b = *buf;
	vb->input = input;
	list_push(&q->wait, vb);
	if (!input) {
		s->pic_queued = true;
		if (s->pic_state == PIC_NEED_SETUP)
			s->setup_armed = true; /* the guest queues pictures: it acts on the change */
	}
	schedule(s);
	return 0;
}

static int v4l2_dec_queue_input(struct backend_session *s, const struct backend_buffer *buf)
{
	return enqueue(s, &s->bit, buf, true);
}

static int v4l2_dec_queue_output(struct backend_session *s, const struct backend_buffer *buf)
{
	return enqueue(s, &s->pic, buf, false);
}

static int v4l2_dec_drain(struct backend_session *s)
{
	if (s->broken)
		return -EIO;
	if (s->drain != DRAIN_NONE || s->drain_done_owed)
		return -EBUSY;
	s->drain = DRAIN_PENDING;
	schedule(s);
	return 0;
}

static int v4l2_dec_clear(struct backend_session *s, uint32_t queue_type)
{
	if (queue_type == VV_QUEUE_TYPE_INPUT) {
		/* A seek: the driver drops the bitstream it holds. */
		queue_streamoff(s, &s->bit, false);
		list_drop(&s->bit.wait, true, false);
		list_drop(&s->done, false, true);
		/* The device cancels the drain; a LAST it leaves behind restarts the decoder. */
		s->drain = DRAIN_NONE;
		s->drain_done_owed = false;
		s->eos_owed = false;
		update_watch(s);
		return 0;
	}
	if (queue_type != VV_QUEUE_TYPE_OUTPUT)
		return -EINVAL;
	queue_streamoff(s, &s->pic, false);
	list_drop(&s->pic.wait, true, false);
	list_drop(&s->done, false, false);
	s->pic_queued = false;
	if (s->await_clear) {
		/* The guest let go of its old picture buffers: what it queues now is new. */
		s->await_clear = false;
		s->setup_armed = true;
		schedule(s);
	}
	if (s->drain == DRAIN_ISSUED)
		s->drain = DRAIN_PENDING; /* STREAMOFF(CAPTURE) forgot it: sent again later */
	if (s->pic_state == PIC_RUNNING) {
		s->pic_state = PIC_STOPPED;
	} else if (s->pic_state == PIC_WAIT_LAST) {
		/* The LAST cannot come any more: the change completes here. */
		queue_free(s, &s->pic);
		report_format(s);
		schedule(s);
	}
	update_watch(s);
	return 0;
}

static int v4l2_dec_query_control(struct backend *b, uint32_t control, uint32_t format,
				  uint32_t *values, uint32_t *num)
{
	(void)values;
	(void)num;
	if (v4l2u_caps_find(&b->caps.in, format) < 0)
		return -EINVAL;
	(void)control;
	return -ENOTSUP;
}

static int v4l2_dec_get_control(struct backend_session *s, uint32_t control, uint32_t *value)
{
	(void)s;
	(void)control;
	(void)value;
	return -ENOTSUP;
}

static int v4l2_dec_set_control(struct backend_session *s, uint32_t control, uint32_t value)
{
	(void)s;
	(void)control;
	(void)value;
	return -ENOTSUP;
}

const struct backend_ops backend_v4l2_dec_ops = {
	.name = "v4l2-decoder",
	.open = v4l2_dec_open,
	.close = v4l2_dec_close,
	.caps = v4l2_dec_caps,
	.session_new = v4l2_dec_session_new,
	.session_free = v4l2_dec_session_free,
	.get_params = v4l2_dec_get_params,
	.set_params = v4l2_dec_set_params,
	.queue_input = v4l2_dec_queue_input,
	.queue_output = v4l2_dec_queue_output,
	.drain = v4l2_dec_drain,
	.clear = v4l2_dec_clear,
	.query_control = v4l2_dec_query_control,
	.get_control = v4l2_dec_get_control,
	.set_control = v4l2_dec_set_control,
	.bytes_copied = v4l2_dec_bytes_copied,
};
