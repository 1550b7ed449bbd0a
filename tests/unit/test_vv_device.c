/* The virtio-video device with the null backend, driven in-process: a vu_server
 * set up through vu_server_handle_msg() (memfd RAM in two GPA-contiguous
 * regions, eventfds), and a guest driver written here that builds split-ring
 * chains by hand, kicks, runs the event loop and reads the used rings.
 * Covers the guest-driver sequence and hostile-input items 14-19. Every test
 * ends with every command answered exactly once (commands == responses) and
 * no device write past a response buffer. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "testlib.h"
#include "vu_server.h"
#include "vv_device.h"
#include "vv_wire.h"

/* ---- guest RAM: one memfd, two GPA-contiguous regions, mapped whole here -------------------- */

#define RAM_GPA 0x100000ull
#define REGION_SIZE (8ull << 20)
#define RAM_SIZE (2 * REGION_SIZE)
#define BOUNDARY (RAM_GPA + REGION_SIZE)      /* first byte of region 1 */
#define POOL0_START (RAM_GPA + 0x10000)       /* commands, responses, small buffers */
#define POOL0_END (BOUNDARY - 0x100000)
#define CROSS_GPA (BOUNDARY - 0x800)          /* reserved: entries spanning the regions */
#define POOL1_START (BOUNDARY + 0x100000)     /* pictures */
#define POOL1_END (RAM_GPA + RAM_SIZE)
#define CANARY 16

static int ram_fd = -1;
static uint8_t *ram;

static uint8_t *gp(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	v = htole64(v);
	memcpy(b + off, &v, 8);
}

static uint32_t get32(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return le64toh(v);
}

/* ---- driver-side split rings ---------------------------------------------------------------- */

#define RING_NUM 64
#define MAX_REQS 4096

struct req {
	bool done;
	uint32_t used_len;
	unsigned order;      /* completion order over both rings */
	uint64_t resp_gpa;
	uint32_t resp_cap;
};

struct gring {
	unsigned index;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_seen;
	uint16_t free_desc[RING_NUM];
	unsigned nfree;
	struct req *by_head[RING_NUM];
	int kick_fd; /* ours; the daemon owns a dup */
	unsigned submitted;
};

struct env {
	struct event_loop *loop;
	struct backend *backend;
	struct vv_device *dev;
	struct vu_server *srv;
	int peer_fd;
	int call_fd[2];
	struct gring cmdq, evq;
	uint64_t pool0, pool1;
	struct req reqs[MAX_REQS];
	unsigned nreqs, completions;
};

static struct env E;
/* The backend under the device: the null backend, or a spy around it. */
static const struct backend_ops *env_ops = &backend_null_ops;

static uint64_t alloc0(uint64_t len)
{
	uint64_t gpa = (E.pool0 + 63) & ~63ull;

	if (gpa + len > POOL0_END)
		return 0;
	E.pool0 = gpa + len;
	return gpa;
}

static uint64_t alloc1(uint64_t len)
{
	uint64_t gpa = (E.pool1 + 4095) & ~4095ull;

	if (gpa + len > POOL1_END)
		return 0;
	E.pool1 = gpa + len;
	return gpa;
}

static void ring_init(struct gring *r, unsigned index, uint64_t base)
{
	memset(r, 0, sizeof(*r));
	r->index = index;
	r->desc_gpa = base;
	r->avail_gpa = base + 0x1000;
	r->used_gpa = base + 0x2000;
	r->desc = (struct vring_desc *)gp(r->desc_gpa);
	r->avail = (struct vring_avail *)gp(r->avail_gpa);
	r->used = (struct vring_used *)gp(r->used_gpa);
	for (unsigned i = 0; i < RING_NUM; i++)
		r->free_desc[r->nfree++] = (uint16_t)(RING_NUM - 1 - i);
	r->kick_fd = -1;
}

struct part {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* Queues a chain: cmd (readable) then a response area of cap bytes (writable), followed by a
 * canary the device must not touch. On the command queue each part is cut in two
 * descriptors (the device must not assume any layout); event buffers take one. */
static struct req *submit(struct gring *r, const void *cmd, size_t len, uint32_t cap)
{
	bool split = r == &E.cmdq;
	struct part parts[4];
	unsigned n = 0;
	uint16_t head = 0, prev = 0;
	struct req *q;
	uint64_t cmd_gpa = 0;

	if (E.nreqs == MAX_REQS)
		return NULL;
	q = &E.reqs[E.nreqs++];
	memset(q, 0, sizeof(*q));
	if (len) {
		cmd_gpa = alloc0(len);
		if (!cmd_gpa)
			return NULL;
		memcpy(gp(cmd_gpa), cmd, len);
	}
	q->resp_gpa = alloc0(cap + CANARY);
	if (!q->resp_gpa)
		return NULL;
	q->resp_cap = cap;
	memset(gp(q->resp_gpa), 0xee, cap + CANARY);

	if (len >= 2 && split) {
		parts[n++] = (struct part){ cmd_gpa, (uint32_t)(len / 2), 0 };
		parts[n++] = (struct part){ cmd_gpa + len / 2, (uint32_t)(len - len / 2), 0 };
	} else if (len) {
		parts[n++] = (struct part){ cmd_gpa, (uint32_t)len, 0 };
	}
	if (cap >= 2 && split) {
		parts[n++] = (struct part){ q->resp_gpa, cap / 2, VRING_DESC_F_WRITE };
		parts[n++] = (struct part){ q->resp_gpa + cap / 2, cap - cap / 2,
					    VRING_DESC_F_WRITE };
	} else if (cap) {
		parts[n++] = (struct part){ q->resp_gpa, cap, VRING_DESC_F_WRITE };
	}
	if (n == 0 || r->nfree < n)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = r->free_desc[--r->nfree];
		struct vring_desc *d = &r->desc[idx];

		d->addr = htole64(parts[i].gpa);
		d->len = htole32(parts[i].len);
		d->flags = htole16(parts[i].flags);
		d->next = 0;
		if (i == 0)
			head = idx;
		else {
			r->desc[prev].flags |= htole16(VRING_DESC_F_NEXT);
			r->desc[prev].next = htole16(idx);
		}
		prev = idx;
	}
	r->by_head[head] = q;
	r->avail->ring[r->avail_idx % RING_NUM] = htole16(head);
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
	r->submitted++;
	return q;
}

/* Collects completions; checks the device stayed inside each response buffer. */
static void reap(struct gring *r)
{
	uint16_t used_idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));

	while (r->used_seen != used_idx) {
		struct vring_used_elem *e = &r->used->ring[r->used_seen % RING_NUM];
		uint32_t head = le32toh(e->id);
		struct req *q = head < RING_NUM ? r->by_head[head] : NULL;
		uint16_t idx;

		r->used_seen++;
		CHECK(q != NULL);
		if (!q)
			continue;
		CHECK(!q->done);
		q->done = true;
		q->used_len = le32toh(e->len);
		q->order = ++E.completions;
		CHECK(q->used_len <= q->resp_cap);
		for (unsigned i = 0; i < CANARY; i++)
			CHECK_EQ(gp(q->resp_gpa)[q->resp_cap + i], 0xee);
		r->by_head[head] = NULL;
		idx = (uint16_t)head;
		for (;;) {
			uint16_t flags = le16toh(r->desc[idx].flags);

			r->free_desc[r->nfree++] = idx;
			if (!(flags & VRING_DESC_F_NEXT))
				break;
			idx = le16toh(r->desc[idx].next);
		}
	}
}

/* Runs the loop (kicks, backend work) until nothing is left to do. */
static void pump(void)
{
	for (int i = 0; i < 10000; i++)
		if (ev_loop_run_once(E.loop, 0) <= 0)
			break;
	reap(&E.cmdq);
	reap(&E.evq);
}

static void kick(struct gring *r)
{
	CHECK_EQ(eventfd_write(r->kick_fd, 1), 0);
	pump();
}

/* EVENT_IDX: the avail index at which the device wants the next kick. */
static uint16_t avail_event(const struct gring *r)
{
	return le16toh(*(const uint16_t *)&r->used->ring[RING_NUM]);
}

/* One command: queued, kicked, loop run. Asynchronous ones may still be pending. */
static struct req *cmd(const void *c, size_t len, uint32_t cap)
{
	struct req *q = submit(&E.cmdq, c, len, cap);

	if (q) {
		kick(&E.cmdq);
		/* Having emptied the ring, the device asks for a kick on the next chain. */
		CHECK_EQ(avail_event(&E.cmdq), E.cmdq.avail_idx);
	}
	return q;
}

static struct req *post_event_buffer(uint32_t cap)
{
	struct req *q = submit(&E.evq, NULL, 0, cap);

	if (q)
		kick(&E.evq);
	return q;
}

static uint32_t rtype(const struct req *q)
{
	return get32(gp(q->resp_gpa), 0);
}

static uint32_t rsid(const struct req *q)
{
	return get32(gp(q->resp_gpa), 4);
}

static const uint8_t *rbytes(const struct req *q)
{
	return gp(q->resp_gpa);
}

static struct vv_device_stats stats(void)
{
	struct vv_device_stats st;

	vv_device_get_stats(E.dev, &st);
	return st;
}

/* A header-only response of this type for this stream. */
#define CHECK_HDR(q, type, sid)                                  \
	do {                                                     \
		const struct req *q_ = (q);                      \
		REQUIRE(q_ != NULL);                             \
		CHECK(q_->done);                                 \
		CHECK_EQ(q_->used_len, 8);                       \
		CHECK_EQ(rtype(q_), (type));                     \
		CHECK_EQ(rsid(q_), (sid));                       \
	} while (0)

/* An OK_RESOURCE_QUEUE response. */
#define CHECK_BUF(q, sid, ts, flags, size)                       \
	do {                                                     \
		const struct req *q_ = (q);                      \
		REQUIRE(q_ != NULL);                             \
		CHECK(q_->done);                                 \
		CHECK_EQ(q_->used_len, 24);                      \
		CHECK_EQ(rtype(q_), VV_RESP_OK_RESOURCE_QUEUE);  \
		CHECK_EQ(rsid(q_), (sid));                       \
		CHECK_EQ(get64(rbytes(q_), 8), (ts));            \
		CHECK_EQ(get32(rbytes(q_), 16), (flags));        \
		CHECK_EQ(get32(rbytes(q_), 20), (size));         \
	} while (0)

#define CHECK_EVENT(q, type, sid)                                \
	do {                                                     \
		const struct req *q_ = (q);                      \
		REQUIRE(q_ != NULL);                             \
		CHECK(q_->done);                                 \
		CHECK_EQ(q_->used_len, 8);                       \
		CHECK_EQ(get32(rbytes(q_), 0), (type));          \
		CHECK_EQ(get32(rbytes(q_), 4), (sid));           \
	} while (0)

/* ---- vhost-user set-up ---------------------------------------------------------------------- */

#define DEV_FEATURES ((1ull << VV_F_RESOURCE_GUEST_PAGES) | (1ull << VV_F_RESOURCE_NON_CONTIG))
#define TRANSPORT_FEATURES                                                          \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |    \
	 (1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VIRTIO_F_RING_INDIRECT_DESC))

static int msg(uint32_t request, const void *payload, uint32_t size, const int *fds,
	       unsigned nfds, struct vu_reply *reply)
{
	struct vu_msg m;
	struct vu_reply dummy;

	memset(&m, 0, sizeof(m));
	m.hdr.request = request;
	m.hdr.flags = VU_VERSION | VU_FLAG_NEED_REPLY;
	m.hdr.size = size;
	if (size)
		memcpy(m.payload.bytes, payload, size);
	for (unsigned i = 0; i < nfds; i++)
		m.fds[i] = fds[i];
	m.nfds = nfds;
	return vu_server_handle_msg(E.srv, &m, reply ? reply : &dummy);
}

/* A SET request: 0 when acked with 0. */
static long long set_msg(uint32_t request, const void *payload, uint32_t size, const int *fds,
			 unsigned nfds)
{
	struct vu_reply r;

	if (msg(request, payload, size, fds, nfds, &r) < 0)
		return -2;
	if (!r.send || r.hdr.size != 8)
		return -1;
	return (long long)r.payload.u64;
}

static long long set_u64(uint32_t request, uint64_t v)
{
	return set_msg(request, &v, 8, NULL, 0);
}

static long long vring_state(uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vring_state st = { index, num };

	return set_msg(request, &st, sizeof(st), NULL, 0);
}

/* Memory table: region 0, and region 1 unless only_first. */
static long long set_mem_table(bool only_first)
{
	struct vu_mem_table t = { .nregions = only_first ? 1 : 2 };
	int fds[2];

	for (unsigned i = 0; i < t.nregions; i++) {
		t.regions[i] = (struct vu_mem_region){
			.guest_phys_addr = RAM_GPA + i * REGION_SIZE,
			.memory_size = REGION_SIZE,
			.userspace_addr = (uint64_t)(uintptr_t)(ram + i * REGION_SIZE),
			.mmap_offset = i * REGION_SIZE,
		};
		fds[i] = dup(ram_fd);
	}
	return set_msg(VU_SET_MEM_TABLE, &t, 8 + 32 * t.nregions, fds, t.nregions);
}

/* SET_VRING_KICK with a fresh eventfd; the ring keeps our end. */
static long long start_ring(struct gring *r)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int theirs = dup(fd);

	if (r->kick_fd >= 0)
		close(r->kick_fd);
	r->kick_fd = fd;
	return set_msg(VU_SET_VRING_KICK, &(uint64_t){ r->index }, 8, &theirs, 1);
}

static bool setup_ring(struct gring *r, unsigned index, uint64_t base)
{
	struct vu_vring_addr a;
	int call;

	ring_init(r, index, base);
	a = (struct vu_vring_addr){
		.index = index,
		.desc_user_addr = (uint64_t)(uintptr_t)r->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)r->avail,
		.used_user_addr = (uint64_t)(uintptr_t)r->used,
	};
	CHECK_EQ(vring_state(VU_SET_VRING_NUM, index, RING_NUM), 0);
	CHECK_EQ(vring_state(VU_SET_VRING_BASE, index, 0), 0);
	CHECK_EQ(set_msg(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	E.call_fd[index] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	call = dup(E.call_fd[index]);
	CHECK_EQ(set_msg(VU_SET_VRING_CALL, &(uint64_t){ index }, 8, &call, 1), 0);
	CHECK_EQ(start_ring(r), 0);
	CHECK_EQ(vring_state(VU_SET_VRING_ENABLE, index, 1), 0);
	return vq_is_ready(vu_server_vq(E.srv, index));
}

/* Guest buffers a test allocates before env_up() stay its own: pools reset at env_down(). */
static void pools_reset(void)
{
	E.pool0 = POOL0_START;
	E.pool1 = POOL1_START;
}

static bool env_up(uint64_t dev_features)
{
	uint64_t pool0 = E.pool0, pool1 = E.pool1;
	int sv[2];
	uint64_t pf;

	memset(&E, 0, sizeof(E));
	memset(ram, 0, RAM_SIZE);
	E.pool0 = pool0;
	E.pool1 = pool1;
	E.loop = ev_loop_new();
	if (!E.loop)
		return false;
	if (env_ops->open(&E.backend, &(struct backend_config){ 0 }, E.loop) < 0)
		return false;
	E.dev = vv_device_new(E.loop, env_ops, E.backend);
	E.srv = vu_server_new(E.loop, vv_device_vu_ops(), E.dev);
	if (!E.dev || !E.srv)
		return false;
	vv_device_set_server(E.dev, E.srv);
	/* A connection nobody writes to: detaching it at the end releases everything. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	E.peer_fd = sv[1];
	if (vu_server_attach(E.srv, sv[0], NULL, NULL) < 0)
		return false;

	pf = vu_server_offered_protocol_features();
	CHECK_EQ(set_u64(VU_SET_PROTOCOL_FEATURES, pf), 0);
	CHECK_EQ(set_u64(VU_SET_FEATURES, TRANSPORT_FEATURES | dev_features), 0);
	CHECK_EQ(set_mem_table(false), 0);
	return setup_ring(&E.cmdq, VV_DEV_CMDQ, RAM_GPA) &&
	       setup_ring(&E.evq, VV_DEV_EVENTQ, RAM_GPA + 0x4000);
}

/* all_answered: every command chain got its one response and nothing is pending. */
static void env_down(bool all_answered)
{
	struct vv_device_stats st = stats();

	if (all_answered) {
		CHECK_EQ(st.commands, E.cmdq.submitted);
		CHECK_EQ(st.responses, st.commands);
		CHECK_EQ(st.pending, 0);
		for (unsigned i = 0; i < RING_NUM; i++)
			CHECK(E.cmdq.by_head[i] == NULL);
	}
	vu_server_free(E.srv);
	vv_device_free(E.dev);
	env_ops->close(E.backend);
	/* Connection, kicks and backend sessions are all gone from the loop. */
	CHECK_EQ(ev_loop_count(E.loop), 0);
	ev_loop_free(E.loop);
	close(E.peer_fd);
	for (unsigned i = 0; i < 2; i++)
		close(E.call_fd[i]);
	close(E.cmdq.kick_fd);
	close(E.evq.kick_fd);
	pools_reset();
}

/* ---- commands ------------------------------------------------------------------------------- */

#define RESP_CAP 256

static struct req *hdr_cmd(uint32_t type, uint32_t sid)
{
	uint8_t c[8];

	put32(c, 0, type);
	put32(c, 4, sid);
	return cmd(c, sizeof(c), RESP_CAP);
}

/* QUERY_CAPABILITY, RESOURCE_DESTROY_ALL, QUEUE_CLEAR, GET_PARAMS(_EXT). */
static struct req *queue_cmd_cap(uint32_t type, uint32_t sid, uint32_t qt, uint32_t cap)
{
	uint8_t c[16] = { 0 };

	put32(c, 0, type);
	put32(c, 4, sid);
	put32(c, 8, qt);
	return cmd(c, sizeof(c), cap);
}

static struct req *queue_cmd(uint32_t type, uint32_t sid, uint32_t qt)
{
	return queue_cmd_cap(type, sid, qt, RESP_CAP);
}

static struct req *stream_create_mem(uint32_t sid, uint32_t fmt, uint32_t in_mem,
				     uint32_t out_mem)
{
	uint8_t c[88] = { 0 };

	put32(c, 0, VV_CMD_STREAM_CREATE);
	put32(c, 4, sid);
	put32(c, 8, in_mem);
	put32(c, 12, out_mem);
	put32(c, 16, fmt);
	memcpy(c + 24, "test stream", 11);
	return cmd(c, sizeof(c), RESP_CAP);
}

static struct req *stream_create(uint32_t sid, uint32_t fmt)
{
	return stream_create_mem(sid, fmt, VV_MEM_TYPE_GUEST_PAGES, VV_MEM_TYPE_GUEST_PAGES);
}

struct ent {
	uint64_t gpa;
	uint32_t len;
};

static struct req *res_create(uint32_t sid, uint32_t qt, uint32_t rid, uint32_t layout,
			      uint32_t nplanes, const uint32_t *offsets, const uint32_t *nent,
			      const struct ent *e)
{
	unsigned total = 0;
	size_t len;
	uint8_t *c;
	struct req *q;

	for (unsigned i = 0; i < nplanes && i < VV_MAX_PLANES; i++)
		total += nent[i];
	len = 88 + 16 * (size_t)total;
	c = calloc(1, len);
	if (!c)
		return NULL;
	put32(c, 0, VV_CMD_RESOURCE_CREATE);
	put32(c, 4, sid);
	put32(c, 8, qt);
	put32(c, 12, rid);
	put32(c, 16, layout);
	put32(c, 20, nplanes);
	for (unsigned i = 0; i < nplanes && i < VV_MAX_PLANES; i++) {
		put32(c, 24 + 4 * i, offsets ? offsets[i] : 0);
		put32(c, 56 + 4 * i, nent[i]);
	}
	for (unsigned j = 0; j < total; j++) {
		put64(c, 88 + 16 * j, e[j].gpa);
		put32(c, 88 + 16 * j + 8, e[j].len);
	}
	q = cmd(c, len, RESP_CAP);
	free(c);
	return q;
}

/* One plane, one entry. */
static struct req *res_simple(uint32_t sid, uint32_t qt, uint32_t rid, uint64_t gpa,
			      uint32_t len)
{
	struct ent e = { gpa, len };
	uint32_t n = 1;

	return res_create(sid, qt, rid, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL, &n, &e);
}

static struct req *res_queue_cap(uint32_t sid, uint32_t qt, uint32_t rid, uint64_t ts,
				 uint32_t nsizes, uint32_t size0, uint32_t cap)
{
	uint8_t c[64] = { 0 };

	put32(c, 0, VV_CMD_RESOURCE_QUEUE);
	put32(c, 4, sid);
	put32(c, 8, qt);
	put32(c, 12, rid);
	put64(c, 16, ts);
	put32(c, 24, nsizes);
	put32(c, 28, size0);
	return cmd(c, sizeof(c), cap);
}

static struct req *res_queue(uint32_t sid, uint32_t qt, uint32_t rid, uint64_t ts,
			     uint32_t size0)
{
	return res_queue_cap(sid, qt, rid, ts, qt == VV_QUEUE_TYPE_INPUT ? 1 : 0, size0, 64);
}

/* SET_PARAMS / SET_PARAMS_EXT with the fields a guest driver sets. */
static struct req *set_params_rt(uint32_t sid, bool ext, uint32_t qt, uint32_t fmt, uint32_t w,
				 uint32_t h, uint32_t nplanes, uint32_t plane_size0,
				 uint32_t resource_type)
{
	uint8_t c[128] = { 0 };

	put32(c, 0, ext ? VV_CMD_SET_PARAMS_EXT : VV_CMD_SET_PARAMS);
	put32(c, 4, sid);
	put32(c, 8 + 0, qt);
	put32(c, 8 + 4, fmt);
	put32(c, 8 + 8, w);
	put32(c, 8 + 12, h);
	put32(c, 8 + 40, 30);
	put32(c, 8 + 44, nplanes);
	put32(c, 8 + 48, plane_size0);
	if (ext)
		put32(c, 8 + 112, resource_type);
	return cmd(c, ext ? 128 : 120, RESP_CAP);
}

static struct req *set_params(uint32_t sid, bool ext, uint32_t qt, uint32_t fmt, uint32_t w,
			      uint32_t h)
{
	return set_params_rt(sid, ext, qt, fmt, w, h, 0, 0, VV_MEM_TYPE_GUEST_PAGES);
}

/* Checks a GET_PARAMS response's size fields. */
static void check_params(const struct req *q, bool ext, uint32_t sid, uint32_t qt, uint32_t fmt,
			 uint32_t w, uint32_t h, uint32_t nplanes, const uint32_t *sizes,
			 const uint32_t *strides)
{
	const uint8_t *b = rbytes(q);

	CHECK(q->done);
	CHECK_EQ(q->used_len, ext ? 128 : 120);
	CHECK_EQ(get32(b, 0), VV_RESP_OK_GET_PARAMS);
	CHECK_EQ(get32(b, 4), sid);
	CHECK_EQ(get32(b, 8 + 0), qt);
	CHECK_EQ(get32(b, 8 + 4), fmt);
	CHECK_EQ(get32(b, 8 + 8), w);
	CHECK_EQ(get32(b, 8 + 12), h);
	CHECK_EQ(get32(b, 8 + 24), 0);  /* crop */
	CHECK_EQ(get32(b, 8 + 28), 0);
	CHECK_EQ(get32(b, 8 + 32), w);
	CHECK_EQ(get32(b, 8 + 36), h);
	CHECK_EQ(get32(b, 8 + 44), nplanes);
	for (unsigned i = 0; i < VV_MAX_PLANES; i++) {
		CHECK_EQ(get32(b, 8 + 48 + 8 * i), i < nplanes ? sizes[i] : 0);
		CHECK_EQ(get32(b, 8 + 52 + 8 * i), i < nplanes ? strides[i] : 0);
	}
	if (ext)
		CHECK_EQ(get32(b, 8 + 112), VV_MEM_TYPE_GUEST_PAGES);
}

/* ---- pictures ------------------------------------------------------------------------------- */

/* Copies bytes [off, off + len) of the concatenated entries. */
static void gather(const struct ent *e, unsigned n, uint64_t off, uint8_t *dst, size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t chunk;

		if (off >= e[i].len) {
			off -= e[i].len;
			continue;
		}
		chunk = e[i].len - off;
		if (chunk > len)
			chunk = len;
		memcpy(dst, gp(e[i].gpa + off), chunk);
		dst += chunk;
		len -= chunk;
		off = 0;
	}
}

/* Bytes of a plane that differ from the null backend's pattern for picture n. */
static size_t pattern_errors(const uint8_t *plane, uint32_t stride, uint32_t rows, unsigned n,
			     unsigned p)
{
	size_t bad = 0;

	for (uint32_t r = 0; r < rows; r++) {
		uint8_t want = (uint8_t)((n + r + 64 * p) & 0xff);

		for (uint32_t x = 0; x < stride; x++)
			bad += plane[(size_t)r * stride + x] != want;
	}
	return bad;
}

/* Checks a plane stored at [off, off + stride * rows) of the entries. */
static size_t plane_errors(const struct ent *e, unsigned ne, uint64_t off, uint32_t stride,
			   uint32_t rows, unsigned n, unsigned p)
{
	size_t len = (size_t)stride * rows, bad;
	uint8_t *buf = malloc(len);

	if (!buf)
		return (size_t)-1;
	gather(e, ne, off, buf, len);
	bad = pattern_errors(buf, stride, rows, n, p);
	free(buf);
	return bad;
}

/* ---- expected capabilities ------------------------------------------------------------------ */

static size_t expected_caps(uint8_t *b, uint32_t sid, uint32_t f0, uint32_t f1)
{
	const uint32_t formats[2] = { f0, f1 };
	size_t off = 16;

	memset(b, 0, 176);
	put32(b, 0, VV_RESP_OK_QUERY_CAPABILITY);
	put32(b, 4, sid);
	put32(b, 8, 2);
	for (unsigned i = 0; i < 2; i++) {
		put64(b, off, 0x3);              /* pairs with both of the other queue */
		put32(b, off + 8, formats[i]);
		put32(b, off + 12, VV_PLANES_LAYOUT_SINGLE_BUFFER);
		put32(b, off + 16, 1);           /* plane_align */
		put32(b, off + 20, 1);           /* num_frames */
		off += 24;
		put32(b, off + 0, 16);           /* width 16..4096 step 2 */
		put32(b, off + 4, 4096);
		put32(b, off + 8, 2);
		put32(b, off + 16, 16);          /* height 16..2304 step 2 */
		put32(b, off + 20, 2304);
		put32(b, off + 24, 2);
		put32(b, off + 32, 1);           /* num_rates */
		off += 40;
		put32(b, off + 0, 1);            /* 1..60 step 1 */
		put32(b, off + 4, 60);
		put32(b, off + 8, 1);
		off += 16;
	}
	return off;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void t_backend_registry(void)
{
	const struct backend_ops *v4l2 = backend_find("v4l2-decoder");
	struct backend *b = (struct backend *)&b;

	CHECK(backend_find("null") == &backend_null_ops);
	CHECK(backend_find("nope") == NULL);
	CHECK(backend_find(NULL) == NULL);
#ifdef VUV_HAVE_FFMPEG
	CHECK(strcmp(backend_names(), "null, v4l2-decoder, ffmpeg") == 0);
	CHECK(backend_find("ffmpeg") == &backend_ffmpeg_ops);
#else
	CHECK(strcmp(backend_names(), "null, v4l2-decoder") == 0);
	CHECK(backend_find("ffmpeg") == NULL);
#endif
	REQUIRE(v4l2 != NULL);
	CHECK(strcmp(v4l2->name, "v4l2-decoder") == 0);
	CHECK(v4l2 == &backend_v4l2_dec_ops);
	/* A node that does not exist: the open fails with its errno, nothing is made. */
	{
		struct event_loop *l = ev_loop_new();

		REQUIRE(l);
		fprintf(stderr, "(an error line about v4l2-decoder follows, as expected)\n");
		CHECK_EQ(v4l2->open(&b,
				    &(struct backend_config){ .device_path = "/nonexistent/video9" },
				    l),
			 -ENOENT);
		CHECK_EQ(ev_loop_count(l), 0);
		ev_loop_free(l);
	}
}

static void t_config_and_features(void)
{
	struct vu_reply r;
	struct vu_config c = { .offset = 0, .size = 44 };
	uint8_t name[32] = "vhost-user-video";

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_EQ(msg(VU_GET_FEATURES, NULL, 0, NULL, 0, &r), 0);
	CHECK_EQ(r.payload.u64 & 0xff, DEV_FEATURES);
	CHECK_EQ(msg(VU_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 44, NULL, 0, &r), 0);
	REQUIRE(r.send && r.hdr.size == VU_CONFIG_HDR_SIZE + 44);
	CHECK_EQ(get32(r.payload.config.payload, 0), 0);
	CHECK_EQ(get32(r.payload.config.payload, 4), VV_DEV_MAX_CAPS_LENGTH);
	CHECK_EQ(get32(r.payload.config.payload, 8), VV_DEV_MAX_RESP_LENGTH);
	CHECK_MEM(r.payload.config.payload + 12, name, sizeof(name));
	/* The spec's 12 bytes alone. */
	c.size = 12;
	CHECK_EQ(msg(VU_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 12, NULL, 0, &r), 0);
	REQUIRE(r.send && r.hdr.size == VU_CONFIG_HDR_SIZE + 12);
	CHECK_EQ(get32(r.payload.config.payload, 4), 4096);
	CHECK(!vv_device_vu_ops()->mem_in_use(E.dev));
	env_down(true);
}

static void t_capabilities_byte_exact(void)
{
	uint8_t want[176];
	struct req *q;

	REQUIRE(env_up(DEV_FEATURES));
	/* The guest's probe: INPUT then OUTPUT, max_caps_length bytes each. */
	q = queue_cmd_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_INPUT, 4096);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, expected_caps(want, 0, VV_FORMAT_FWHT, VV_FORMAT_H264));
	CHECK_MEM(rbytes(q), want, sizeof(want));
	q = queue_cmd_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_OUTPUT, 4096);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, expected_caps(want, 0, VV_FORMAT_NV12, VV_FORMAT_YUV420));
	CHECK_MEM(rbytes(q), want, sizeof(want));
	/* The stream id is echoed even though none is needed. */
	q = queue_cmd_cap(VV_CMD_QUERY_CAPABILITY, 5, VV_QUEUE_TYPE_OUTPUT, 176);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, expected_caps(want, 5, VV_FORMAT_NV12, VV_FORMAT_YUV420));
	CHECK_MEM(rbytes(q), want, sizeof(want));
	/* One byte short: an error where one fits, nothing where it does not. */
	CHECK_HDR(queue_cmd_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_INPUT, 175),
		  VV_RESP_ERR_INVALID_PARAMETER, 0);
	q = queue_cmd_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_INPUT, 7);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, 0);
	CHECK_HDR(queue_cmd(VV_CMD_QUERY_CAPABILITY, 0, 0x102), VV_RESP_ERR_INVALID_PARAMETER, 0);
	env_down(true);
}

/* Output resource 1 for 320x240 NV12: PER_PLANE, scattered 4 KiB pages in reverse order for
 * Y, and for UV an entry spanning the two memory regions plus every other page. */
#define W 320
#define H 240
static struct ent out1_e[32];
static const uint32_t out1_n[2] = { 19, 10 };

static void make_out1(void)
{
	uint64_t y = alloc1(19 * 4096), uv = alloc1(20 * 4096);

	for (unsigned i = 0; i < 19; i++)
		out1_e[i] = (struct ent){ y + (18 - i) * 4096ull, 4096 };
	out1_e[19] = (struct ent){ CROSS_GPA, 4096 };
	for (unsigned i = 0; i < 9; i++)
		out1_e[20 + i] = (struct ent){ uv + 2 * i * 4096ull, 4096 };
}

/* Output resource 2: SINGLE_BUFFER with three uneven entries; UV starts inside entry 1. */
static struct ent out2_e[3];
static const uint32_t out2_n[2] = { 3, 0 };
static const uint32_t out2_off[2] = { 0, W * H };

static void make_out2(void)
{
	out2_e[0] = (struct ent){ alloc1(50000 + 4096), 50000 };
	out2_e[1] = (struct ent){ alloc1(50000 + 4096), 50000 };
	out2_e[2] = (struct ent){ alloc1(15200), 15200 };
}

static void check_out1(unsigned n)
{
	CHECK_EQ(plane_errors(out1_e, 19, 0, W, H, n, 0), 0);
	CHECK_EQ(plane_errors(&out1_e[19], 10, 0, W, H / 2, n, 1), 0);
}

static void check_out2(unsigned n)
{
	CHECK_EQ(plane_errors(out2_e, 3, 0, W, H, n, 0), 0);
	CHECK_EQ(plane_errors(out2_e, 3, W * H, W, H / 2, n, 1), 0);
}

static void t_guest_driver_sequence(void)
{
	const uint32_t in_size[1] = { 1u << 20 }, in_stride[1] = { 0 };
	const uint32_t nv12_640[2] = { 640 * 480, 640 * 240 }, str_640[2] = { 640, 640 };
	const uint32_t nv12_320[2] = { W * H, W * H / 2 }, str_320[2] = { W, W };
	struct req *ev[4], *o1, *o2, *i1, *i2, *i3, *drain, *q;
	uint64_t in_gpa = alloc0(3 * 65536);

	REQUIRE(env_up(DEV_FEATURES));
	for (unsigned i = 0; i < 4; i++)
		ev[i] = post_event_buffer(8);
	CHECK(!ev[0]->done);

	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_EQ(stats().streams, 1);
	/* Both numberings: 120-byte params and 128-byte params_ext. */
	q = queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT);
	check_params(q, false, 1, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 640, 480, 1, in_size,
		     in_stride);
	CHECK_EQ(get32(rbytes(q), 8 + 16), 2);   /* min_buffers */
	CHECK_EQ(get32(rbytes(q), 8 + 20), 32);  /* max_buffers */
	CHECK_EQ(get32(rbytes(q), 8 + 40), 30);  /* frame_rate */
	q = queue_cmd(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, true, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 640, 480, 2, nv12_640,
		     str_640);
	/* The stream header (INPUT size) decides the OUTPUT size. */
	CHECK_HDR(set_params(1, true, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, W, H),
		  VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, false, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, W, H, 2, nv12_320,
		     str_320);
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, W, H),
		  VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, true, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, W, H, 2, nv12_320,
		     str_320);

	for (uint32_t i = 0; i < 3; i++)
		CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, i + 1, in_gpa + i * 65536, 65536),
			  VV_RESP_OK_NODATA, 1);
	make_out1();
	make_out2();
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL,
			     out1_n, out1_e), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2,
			     out2_off, out2_n, out2_e), VV_RESP_OK_NODATA, 1);

	o1 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0);
	o2 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	CHECK(!o1->done && !o2->done);
	CHECK_EQ(stats().pending, 2);
	CHECK(vv_device_vu_ops()->mem_in_use(E.dev));
	i1 = res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 1000, 100);
	i2 = res_queue(1, VV_QUEUE_TYPE_INPUT, 2, 2000, 200);
	i3 = res_queue(1, VV_QUEUE_TYPE_INPUT, 3, 3000, 300);

	/* The initial format is announced once, before the pictures. */
	CHECK_EVENT(ev[0], VV_EVENT_DECODER_RESOLUTION_CHANGED, 1);
	CHECK(!ev[1]->done);
	CHECK_EQ(stats().events, 1);
	CHECK_BUF(i1, 1, 1000, 0, 0);
	CHECK_BUF(i2, 1, 2000, 0, 0);
	CHECK_BUF(o1, 1, 1000, 0, W * H * 3 / 2);
	CHECK_BUF(o2, 1, 2000, 0, W * H * 3 / 2);
	check_out1(0);
	check_out2(1);
	/* No free output: the third input waits. */
	CHECK(!i3->done);
	CHECK_EQ(stats().pending, 1);
	o1 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0);
	CHECK_BUF(i3, 1, 3000, 0, 0);
	CHECK_BUF(o1, 1, 3000, 0, W * H * 3 / 2);
	check_out1(2);

	/* Drain: the EOS picture needs an output buffer, then the drain completes. */
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 1);
	CHECK(!drain->done);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DRAIN, 1), VV_RESP_ERR_INVALID_OPERATION, 1);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 4000, 10), VV_RESP_ERR_INVALID_OPERATION,
		  1);
	o2 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	CHECK_BUF(o2, 1, 0, VV_BUFFER_FLAG_EOS, 0);
	CHECK_HDR(drain, VV_RESP_OK_NODATA, 1);
	CHECK(o2->order < drain->order);
	/* Inputs are welcome again after the drain. */
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 5000, 0), 1, 5000, 0, 0);

	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_EQ(stats().streams, 0);
	CHECK(!vv_device_vu_ops()->mem_in_use(E.dev));
	env_down(true);
}

/* A 640x480 NV12 output buffer (one plane, the picture packed in it). */
static uint64_t out_gpa_640[4];

static void make_outputs_640(uint32_t sid, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		out_gpa_640[i] = alloc1(640 * 480 * 3 / 2);
		CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_OUTPUT, 10 + i, out_gpa_640[i],
				     640 * 480 * 3 / 2), VV_RESP_OK_NODATA, sid);
	}
}

static void t_queue_clear_with_pending(void)
{
	struct req *o[2], *in, *drain, *clr, *q;
	uint64_t in_gpa = alloc0(65536);

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(3, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 3);
	make_outputs_640(3, 2);
	CHECK_HDR(res_simple(3, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 65536), VV_RESP_OK_NODATA, 3);

	/* Outputs held by the codec, then cleared: each comes back with ERR, then the clear. */
	o[0] = res_queue(3, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	o[1] = res_queue(3, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	CHECK(!o[0]->done && !o[1]->done);
	clr = queue_cmd(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BUF(o[0], 3, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 3, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, 3);
	CHECK(o[0]->order < clr->order && o[1]->order < clr->order);
	CHECK_EQ(stats().pending, 0);

	/* An input inside the codec (no picture buffer) and a drain, then INPUT cleared. */
	in = res_queue(3, VV_QUEUE_TYPE_INPUT, 1, 77, 500);
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 3);
	CHECK(!in->done && !drain->done);
	clr = queue_cmd(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_INPUT);
	CHECK_BUF(in, 3, 77, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(drain, VV_RESP_ERR_INVALID_OPERATION, 3);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, 3);
	CHECK(in->order < clr->order && drain->order < clr->order);

	/* Nothing of it comes back later; the stream works on. */
	o[0] = res_queue(3, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	CHECK(!o[0]->done);
	q = res_queue(3, VV_QUEUE_TYPE_INPUT, 1, 78, 500);
	CHECK_BUF(q, 3, 78, 0, 0);
	CHECK_BUF(o[0], 3, 78, 0, 640 * 480 * 3 / 2);
	/* Picture numbers count on across clears: this is picture 0 (none came before). */
	CHECK_EQ(plane_errors(&(struct ent){ out_gpa_640[0], 640 * 480 * 3 / 2 }, 1, 0, 640, 480,
			      0, 0), 0);
	CHECK_EQ(plane_errors(&(struct ent){ out_gpa_640[0], 640 * 480 * 3 / 2 }, 1, 640 * 480, 640,
			      240, 0, 1), 0);
	/* A drain with nothing queued completes on the next output buffer. */
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 3);
	CHECK(!drain->done);
	o[1] = res_queue(3, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	CHECK_BUF(o[1], 3, 0, VV_BUFFER_FLAG_EOS, 0);
	CHECK_HDR(drain, VV_RESP_OK_NODATA, 3);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 3), VV_RESP_OK_NODATA, 3);
	env_down(true);
}

static void t_stream_destroy_with_pending(void)
{
	struct req *in[2], *drain, *o[2], *d1, *d2;
	uint64_t in_gpa = alloc0(2 * 4096);

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_H264), VV_RESP_OK_NODATA, 2);
	for (uint32_t i = 0; i < 2; i++)
		CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, i, in_gpa + i * 4096, 4096),
			  VV_RESP_OK_NODATA, 1);
	make_outputs_640(2, 2);
	in[0] = res_queue(1, VV_QUEUE_TYPE_INPUT, 0, 11, 100);
	in[1] = res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 12, 100);
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 1);
	o[0] = res_queue(2, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	o[1] = res_queue(2, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	CHECK_EQ(stats().pending, 5);
	CHECK(vv_device_vu_ops()->mem_in_use(E.dev));

	d1 = hdr_cmd(VV_CMD_STREAM_DESTROY, 1);
	CHECK_BUF(in[0], 1, 11, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(in[1], 1, 12, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(drain, VV_RESP_ERR_INVALID_OPERATION, 1);
	CHECK_HDR(d1, VV_RESP_OK_NODATA, 1);
	CHECK(in[0]->order < d1->order && in[1]->order < d1->order && drain->order < d1->order);
	CHECK(!o[0]->done && !o[1]->done);
	d2 = hdr_cmd(VV_CMD_STREAM_DESTROY, 2);
	CHECK_BUF(o[0], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(d2, VV_RESP_OK_NODATA, 2);
	CHECK_EQ(stats().pending, 0);
	CHECK_EQ(stats().streams, 0);
	CHECK(!vv_device_vu_ops()->mem_in_use(E.dev));
	/* The stream is gone for every command, GET_PARAMS included. */
	CHECK_HDR(queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT),
		  VV_RESP_ERR_INVALID_STREAM_ID, 1);
	env_down(true);
}

static void t_resource_destroy_all(void)
{
	struct req *o[2], *in, *drain, *da;
	uint64_t in_gpa = alloc0(4096);

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(4, VV_FORMAT_H264), VV_RESP_OK_NODATA, 4);
	make_outputs_640(4, 2);
	o[0] = res_queue(4, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	o[1] = res_queue(4, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	da = queue_cmd(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BUF(o[0], 4, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 4, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(da, VV_RESP_OK_NODATA, 4);
	CHECK(o[0]->order < da->order && o[1]->order < da->order);
	/* Gone: queueing fails, creating the same id again works. */
	CHECK_HDR(res_queue(4, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0), VV_RESP_ERR_INVALID_RESOURCE_ID, 4);
	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_OUTPUT, 10, out_gpa_640[0], 640 * 480 * 3 / 2),
		  VV_RESP_OK_NODATA, 4);

	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 4);
	CHECK_HDR(queue_cmd(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_OUTPUT),
		  VV_RESP_OK_NODATA, 4);
	in = res_queue(4, VV_QUEUE_TYPE_INPUT, 1, 9, 100);
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 4);
	da = queue_cmd(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_INPUT);
	CHECK_BUF(in, 4, 9, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(drain, VV_RESP_ERR_INVALID_OPERATION, 4);
	CHECK_HDR(da, VV_RESP_OK_NODATA, 4);
	CHECK_HDR(res_queue(4, VV_QUEUE_TYPE_INPUT, 1, 9, 100), VV_RESP_ERR_INVALID_RESOURCE_ID, 4);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 4), VV_RESP_OK_NODATA, 4);
	env_down(true);
}

/* Item 14: short commands, unknown types, response buffers too small. */
static void t_item14_short_unknown_small(void)
{
	uint8_t c[128] = { 0 }, *big;
	size_t big_len = VV_CMD_MAX_SIZE + 1000;
	struct req *q;
	uint8_t want[176];

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	/* Shorter than a header: no stream id to echo. */
	put32(c, 0, VV_CMD_STREAM_DESTROY);
	put32(c, 4, 1);
	CHECK_HDR(cmd(c, 4, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
	CHECK_HDR(cmd(c, 7, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
	CHECK_HDR(cmd(NULL, 0, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
	CHECK_EQ(stats().streams, 1);
	/* Unknown types, a response type among them. */
	put32(c, 0, 0x0199);
	put32(c, 4, 7);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_INVALID_OPERATION, 7);
	put32(c, 0, VV_RESP_OK_NODATA);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_INVALID_OPERATION, 7);
	put32(c, 0, 0);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_INVALID_OPERATION, 7);
	/* Bodies cut short. */
	put32(c, 0, VV_CMD_STREAM_CREATE);
	put32(c, 4, 2);
	put32(c, 16, VV_FORMAT_H264);
	CHECK_HDR(cmd(c, 87, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_EQ(stats().streams, 1);
	put32(c, 0, VV_CMD_GET_PARAMS);
	put32(c, 4, 1);
	put32(c, 8, VV_QUEUE_TYPE_INPUT);
	CHECK_HDR(cmd(c, 12, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	put32(c, 0, VV_CMD_SET_PARAMS_EXT);
	CHECK_HDR(cmd(c, 120, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	put32(c, 0, VV_CMD_QUERY_CONTROL);
	put32(c, 8, VV_CONTROL_PROFILE);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* RESOURCE_CREATE announcing two entries and carrying one. */
	memset(c, 0, sizeof(c));
	put32(c, 0, VV_CMD_RESOURCE_CREATE);
	put32(c, 4, 1);
	put32(c, 8, VV_QUEUE_TYPE_INPUT);
	put32(c, 12, 1);
	put32(c, 16, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	put32(c, 20, 1);
	put32(c, 56, 2);
	put64(c, 88, POOL0_START);
	put32(c, 96, 4096);
	CHECK_HDR(cmd(c, 104, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* Response buffers too small for the answer: an error if 8 bytes fit, else nothing. */
	CHECK_HDR(queue_cmd_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 119),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(queue_cmd_cap(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_INPUT, 127),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	q = queue_cmd_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 4);
	REQUIRE(q);
	CHECK(q->done);
	CHECK_EQ(q->used_len, 0);
	/* No writable part at all: still returned, with nothing written. */
	put32(c, 0, VV_CMD_GET_PARAMS);
	put32(c, 4, 1);
	put32(c, 8, VV_QUEUE_TYPE_INPUT);
	q = cmd(c, 16, 0);
	REQUIRE(q);
	CHECK(q->done);
	CHECK_EQ(q->used_len, 0);
	/* Longer than any command: only the prefix matters. */
	big = calloc(1, big_len);
	REQUIRE(big);
	put32(big, 0, VV_CMD_QUERY_CAPABILITY);
	put32(big, 8, VV_QUEUE_TYPE_INPUT);
	memset(big + 16, 0xab, big_len - 16);
	q = cmd(big, big_len, 4096);
	free(big);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, expected_caps(want, 0, VV_FORMAT_FWHT, VV_FORMAT_H264));
	CHECK_MEM(rbytes(q), want, sizeof(want));
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

static void t_item14_resource_queue_small_response(void)
{
	uint64_t in_gpa = alloc0(4096);
	struct req *q;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	/* Answered at once (the completion would not fit), and not left queued. */
	CHECK_HDR(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 5, 1, 0, 23),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	q = res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 5, 1, 0, 4);
	REQUIRE(q);
	CHECK(q->done);
	CHECK_EQ(q->used_len, 0);
	CHECK_EQ(stats().pending, 0);
	CHECK_BUF(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 5, 1, 0, 24), 1, 5, 0, 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Item 15: counts above their limits, offsets and sizes beyond the resource, absurd sizes. */
static void t_item15_limits(void)
{
	uint8_t c[128] = { 0 };
	uint64_t buf = alloc0(65536), many = alloc0(4096 * 16);
	struct ent e2[2] = { { buf, 1000 }, { buf + 2000, 1000 } }, *e4096;
	const uint32_t one[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, two[1] = { 2 };
	const uint32_t s4k[2] = { 4096 * 2304, 4096 * 1152 }, st4k[2] = { 4096, 4096 };
	const uint32_t s1080[3] = { 1920 * 1080, 960 * 540, 960 * 540 };
	const uint32_t st1080[3] = { 1920, 960, 960 };
	uint32_t n4096 = 4096, off[2];
	struct req *q;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	/* num_planes 0 and 9. */
	put32(c, 0, VV_CMD_RESOURCE_CREATE);
	put32(c, 4, 1);
	put32(c, 8, VV_QUEUE_TYPE_OUTPUT);
	put32(c, 12, 1);
	put32(c, 16, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	put32(c, 56, 1);
	put64(c, 88, buf);
	put32(c, 96, 4096);
	put32(c, 20, 0);
	CHECK_HDR(cmd(c, 104, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	put32(c, 20, 9);
	CHECK_HDR(cmd(c, 104, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* 4097 entries. */
	put32(c, 20, 1);
	put32(c, 56, 4097);
	CHECK_HDR(cmd(c, 104, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* Exactly 4096 entries (the largest command) is fine, and can be queued. */
	e4096 = calloc(4096, sizeof(*e4096));
	REQUIRE(e4096);
	for (unsigned i = 0; i < 4096; i++)
		e4096[i] = (struct ent){ many + 16ull * (4095 - i), 16 };
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 9, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n4096, e4096), VV_RESP_OK_NODATA, 1);
	free(e4096);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 9, 1, 0), 1, 1, 0, 0);
	CHECK_HDR(queue_cmd(VV_CMD_RESOURCE_DESTROY_ALL, 1, VV_QUEUE_TYPE_INPUT),
		  VV_RESP_OK_NODATA, 1);

	/* Single-buffer plane offsets: past the end, decreasing, equal; last byte is fine. */
	off[0] = 0;
	off[1] = 2000;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2, off,
			     (uint32_t[]){ 2, 0 }, e2), VV_RESP_ERR_INVALID_PARAMETER, 1);
	off[0] = 100;
	off[1] = 50;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2, off,
			     (uint32_t[]){ 2, 0 }, e2), VV_RESP_ERR_INVALID_PARAMETER, 1);
	off[0] = 50;
	off[1] = 50;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2, off,
			     (uint32_t[]){ 2, 0 }, e2), VV_RESP_ERR_INVALID_PARAMETER, 1);
	off[0] = 0;
	off[1] = 1999;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2, off,
			     (uint32_t[]){ 2, 0 }, e2), VV_RESP_OK_NODATA, 1);
	/* Per-plane offsets inside their own plane. */
	off[0] = 0;
	off[1] = 1000;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2, off, one,
			     e2), VV_RESP_ERR_INVALID_PARAMETER, 1);
	off[1] = 999;
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2, off, one,
			     e2), VV_RESP_OK_NODATA, 1);
	/* Per-plane with a plane without entries. */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 3, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL,
			     (uint32_t[]){ 2, 0 }, e2), VV_RESP_ERR_INVALID_PARAMETER, 1);

	/* Data sizes: count above 8, above the plane count, larger than the plane. */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     two, e2), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 0, 9, 1, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 0, 2, 1, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 0, 1, 2001, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 0, 1, 0xffffffff, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_EQ(stats().pending, 0);
	/* A full plane is fine (consumed once an output comes: clear it instead). */
	q = res_queue_cap(1, VV_QUEUE_TYPE_INPUT, 1, 0, 1, 2000, 64);
	CHECK(!q->done);
	CHECK_HDR(queue_cmd(VV_CMD_QUEUE_CLEAR, 1, VV_QUEUE_TYPE_INPUT), VV_RESP_OK_NODATA, 1);
	CHECK_BUF(q, 1, 0, VV_BUFFER_FLAG_ERR, 0);

	/* Absurd dimensions are clamped; plane sizes cannot overflow. */
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 0xffffffff,
			     0xffffffff), VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, false, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 4096, 2304, 2, s4k, st4k);
	CHECK_HDR(set_params(1, true, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_YUV420, 1921, 1081),
		  VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, true, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_YUV420, 1920, 1080, 3, s1080,
		     st1080);
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 0, 1),
		  VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT);
	check_params(q, false, 1, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 16, 16, 2,
		     (uint32_t[]){ 256, 128 }, (uint32_t[]){ 16, 16 });
	/* Formats of the wrong queue, unknown formats, params num_planes 9, object memory. */
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_H264, 64, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_INPUT, VV_FORMAT_NV12, 64, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params(1, true, VV_QUEUE_TYPE_INPUT, 0x7777, 64, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params_rt(1, false, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 64, 64, 9, 0, 0),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params_rt(1, true, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 64, 64, 1, 0,
				VV_MEM_TYPE_VIRTIO_OBJECT), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params_rt(1, true, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 64, 64, 1, 0, 7),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params(1, false, 0x99, VV_FORMAT_H264, 64, 64),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* A bitstream buffer size the guest asks for is kept within bounds. */
	CHECK_HDR(set_params_rt(1, false, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 0, 0, 1, 1, 0),
		  VV_RESP_OK_NODATA, 1);
	q = queue_cmd(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT);
	CHECK_EQ(get32(rbytes(q), 8 + 48), 4096);
	CHECK_EQ(get32(rbytes(q), 8 + 8), 640); /* size 0: unchanged */
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Item 16 (and 18): unknown and duplicate ids, tables full. */
static void t_item16_ids_and_caps(void)
{
	static const uint32_t stream_cmds[] = {
		VV_CMD_STREAM_DESTROY, VV_CMD_STREAM_DRAIN, VV_CMD_RESOURCE_CREATE,
		VV_CMD_RESOURCE_QUEUE, VV_CMD_RESOURCE_DESTROY_ALL, VV_CMD_QUEUE_CLEAR,
		VV_CMD_GET_PARAMS, VV_CMD_SET_PARAMS, VV_CMD_GET_CONTROL, VV_CMD_SET_CONTROL,
		VV_CMD_GET_PARAMS_EXT, VV_CMD_SET_PARAMS_EXT,
	};
	uint64_t buf = alloc0(129 * 16);
	struct req *o;
	uint8_t *c;

	REQUIRE(env_up(DEV_FEATURES));
	/* Every stream command on a stream that does not exist, each with a valid body. */
	c = calloc(1, 256);
	REQUIRE(c);
	for (unsigned i = 0; i < sizeof(stream_cmds) / sizeof(stream_cmds[0]); i++) {
		memset(c, 0, 256);
		put32(c, 0, stream_cmds[i]);
		put32(c, 4, 99);
		put32(c, 8, VV_QUEUE_TYPE_INPUT);         /* queue_type of every kind */
		put32(c, 16, VV_PLANES_LAYOUT_SINGLE_BUFFER);
		put32(c, 20, 1);                          /* RESOURCE_CREATE: 1 plane, */
		put32(c, 56, 1);                          /* 1 entry */
		put64(c, 88, buf);
		put32(c, 96, 16);
		if (stream_cmds[i] == VV_CMD_GET_CONTROL || stream_cmds[i] == VV_CMD_SET_CONTROL)
			put32(c, 8, VV_CONTROL_PROFILE);
		CHECK_HDR(cmd(c, 256, RESP_CAP), VV_RESP_ERR_INVALID_STREAM_ID, 99);
	}
	free(c);

	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(1, VV_FORMAT_FWHT), VV_RESP_ERR_INVALID_STREAM_ID, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_VP9), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(stream_create(2, VV_FORMAT_NV12), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(stream_create_mem(2, VV_FORMAT_H264, VV_MEM_TYPE_VIRTIO_OBJECT,
				    VV_MEM_TYPE_GUEST_PAGES), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(stream_create_mem(2, VV_FORMAT_H264, VV_MEM_TYPE_GUEST_PAGES, 5),
		  VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_EQ(stats().streams, 1);
	/* The stream table is full at VV_DEV_MAX_STREAMS (ids need not be small). */
	for (uint32_t i = 1; i < VV_DEV_MAX_STREAMS; i++)
		CHECK_HDR(stream_create(0x80000000u + i, VV_FORMAT_FWHT), VV_RESP_OK_NODATA,
			  0x80000000u + i);
	CHECK_EQ(stats().streams, VV_DEV_MAX_STREAMS);
	CHECK_HDR(stream_create(7, VV_FORMAT_FWHT), VV_RESP_ERR_OUT_OF_MEMORY, 7);
	for (uint32_t i = 1; i < VV_DEV_MAX_STREAMS; i++)
		CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 0x80000000u + i), VV_RESP_OK_NODATA,
			  0x80000000u + i);
	CHECK_EQ(stats().streams, 1);

	/* Resources: duplicate, unknown, queued twice, table full. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 5, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 5, buf, 16), VV_RESP_ERR_INVALID_RESOURCE_ID,
		  1);
	/* The same id on the other queue is another resource. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 5, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_OUTPUT, 6, 0, 0), VV_RESP_ERR_INVALID_RESOURCE_ID, 1);
	o = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 5, 0, 0);
	CHECK(!o->done);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_OUTPUT, 5, 0, 0), VV_RESP_ERR_INVALID_OPERATION, 1);
	for (uint32_t i = 1; i < VV_DEV_MAX_RESOURCES; i++)
		CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 100 + i, buf + 16 * i, 16),
			  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1000, buf + 16 * 128, 16),
		  VV_RESP_ERR_OUT_OF_MEMORY, 1);
	/* A too-small output buffer still completes, with ERR. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 6, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 6, 42, 16), 1, 42, 0, 0);
	CHECK_BUF(o, 1, 42, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Item 17: memory entries outside guest RAM, or spanning regions. */
#define SPAN_OUT (BOUNDARY - 0x40000) /* a 640x480 NV12 picture whose Y plane spans regions */
static void t_item17_mem_entries(void)
{
	struct ent bad[] = {
		{ 0x1000, 16 },                             /* below RAM */
		{ RAM_GPA + RAM_SIZE - 0x100, 0x200 },      /* runs off the end */
		{ RAM_GPA + RAM_SIZE + 0x1000, 16 },        /* after RAM */
		{ 0xfffffffffffff000ull, 0x2000 },          /* wraps */
		{ POOL0_START, 0 },                         /* empty */
	};
	struct ent cross = { CROSS_GPA, 0x1000 }, mixed[2] = { { POOL0_START, 64 }, { 0x10, 64 } };
	struct ent empty_second[2] = { { POOL0_START, 64 }, { POOL0_START + 64, 0 } };
	uint32_t n1 = 1, n2 = 2;
	uint64_t hi = alloc1(4096), out = alloc1(640 * 480 * 3 / 2);
	struct req *o;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
				     NULL, &n1, &bad[i]), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n2, mixed), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n2, empty_second), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* Spanning the two regions: fine, and the picture lands across them (over the input
	 * buffer, which the null backend never reads). */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n1, &cross), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, SPAN_OUT, 640 * 480 * 3 / 2),
		  VV_RESP_OK_NODATA, 1);
	o = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 3, 4096), 1, 3, 0, 0);
	CHECK_BUF(o, 1, 3, 0, 640 * 480 * 3 / 2);
	CHECK_EQ(plane_errors(&(struct ent){ SPAN_OUT, 640 * 480 * 3 / 2 }, 1, 0, 640, 480, 0, 0),
		 0);
	CHECK_EQ(plane_errors(&(struct ent){ SPAN_OUT, 640 * 480 * 3 / 2 }, 1, 640 * 480, 640, 240,
			      0, 1), 0);

	/* Translated again at each queue: region 1 removed after RESOURCE_CREATE. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 2, hi, 4096), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 2, out, 640 * 480 * 3 / 2),
		  VV_RESP_OK_NODATA, 1);
	CHECK_EQ(set_mem_table(true), 0);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_INPUT, 2, 0, 1), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 0, 1), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 3, hi, 4096), VV_RESP_ERR_INVALID_PARAMETER,
		  1);
	/* ... and back. */
	CHECK_EQ(set_mem_table(false), 0);
	o = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	CHECK(!o->done);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 2, 4, 1), 1, 4, 0, 0);
	CHECK_BUF(o, 1, 4, 0, 640 * 480 * 3 / 2);
	CHECK_EQ(plane_errors(&(struct ent){ out, 640 * 480 * 3 / 2 }, 1, 0, 640, 480, 1, 0), 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Without RESOURCE_NON_CONTIG, one entry per plane (one per buffer for SINGLE_BUFFER). */
static void t_item17_without_non_contig(void)
{
	uint64_t buf = alloc0(8192);
	struct ent e[2] = { { buf, 4096 }, { buf + 4096, 4096 } };
	const uint32_t one[2] = { 1, 1 };

	REQUIRE(env_up(1ull << VV_F_RESOURCE_GUEST_PAGES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 1, NULL,
			     (uint32_t[]){ 2 }, e), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2,
			     (uint32_t[]){ 0, 4096 }, one, e), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL, one,
			     e), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2,
			     (uint32_t[]){ 0, 4096 }, (uint32_t[]){ 1, 0 },
			     &(struct ent){ buf, 8192 }), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Item 17: a region removed and added back (REM_MEM_REG + ADD_MEM_REG of the same range)
 * while commands wait for their answers: the answers must reach the guest's buffers in the
 * new mapping, not the retired one (fuzz finding vv_device-response-lost-after-region-readd). */
static void t_item17_response_after_region_readd(void)
{
	struct vu_single_mem_region r0 = {
		.region = {
			.guest_phys_addr = RAM_GPA,
			.memory_size = REGION_SIZE,
			.userspace_addr = (uint64_t)(uintptr_t)ram,
			.mmap_offset = 0,
		},
	};
	uint64_t in_gpa = alloc1(4096), out_gpa[2] = { alloc1(640 * 480 * 3 / 2),
						       alloc1(640 * 480 * 3 / 2) };
	struct req *o[2], *in, *destroy;
	int fd;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	for (uint32_t i = 0; i < 2; i++)
		CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 10 + i, out_gpa[i],
				     640 * 480 * 3 / 2), VV_RESP_OK_NODATA, 1);
	o[0] = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	o[1] = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	REQUIRE(o[0] && o[1]);
	CHECK(!o[0]->done && !o[1]->done);

	/* Region 0 holds the rings and both response buffers. */
	CHECK_EQ(set_msg(VU_REM_MEM_REG, &r0, sizeof(r0), NULL, 0), 0);
	fd = dup(ram_fd);
	CHECK_EQ(set_msg(VU_ADD_MEM_REG, &r0, sizeof(r0), &fd, 1), 0);

	/* Completed by the backend: a picture (its buffer is in region 1, untouched). */
	in = res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 9, 100);
	CHECK_BUF(in, 1, 9, 0, 0);
	CHECK_BUF(o[0], 1, 9, 0, 640 * 480 * 3 / 2);
	CHECK_EQ(plane_errors(&(struct ent){ out_gpa[0], 640 * 480 * 3 / 2 }, 1, 0, 640, 480, 0, 0),
		 0);
	/* Cancelled by the device: the ERR answer of the stream's destruction. */
	CHECK(!o[1]->done);
	destroy = hdr_cmd(VV_CMD_STREAM_DESTROY, 1);
	CHECK_BUF(o[1], 1, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(destroy, VV_RESP_OK_NODATA, 1);
	CHECK(o[1]->order < destroy->order);
	env_down(true);
}

/* Item 19: events wait for event buffers; buffers too small are skipped. */
static void t_item19_event_waits_for_buffer(void)
{
	uint64_t in_gpa = alloc0(4096);
	struct req *small, *ro, *ev;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(6, VV_FORMAT_H264), VV_RESP_OK_NODATA, 6);
	CHECK_HDR(res_simple(6, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 6);
	/* An input without data is consumed, and announces the format: nowhere to put it. */
	CHECK_BUF(res_queue(6, VV_QUEUE_TYPE_INPUT, 1, 1, 0), 6, 1, 0, 0);
	CHECK_EQ(stats().events, 0);
	/* Buffers that cannot hold an event come back empty; the next one gets it. */
	small = post_event_buffer(4);
	CHECK(small->done);
	CHECK_EQ(small->used_len, 0);
	CHECK_EQ(stats().events, 0);
	ro = submit(&E.evq, "x", 1, 0); /* readable only */
	REQUIRE(ro);
	kick(&E.evq);
	CHECK(ro->done);
	CHECK_EQ(ro->used_len, 0);
	/* Still holding an event, with the ring empty: it asks for a kick on the next buffer. */
	CHECK_EQ(avail_event(&E.evq), 2);
	ev = post_event_buffer(64);
	CHECK_EVENT(ev, VV_EVENT_DECODER_RESOLUTION_CHANGED, 6);
	CHECK_EQ(stats().events, 1);
	/* Nothing more to say: the next buffer stays with us. */
	ev = post_event_buffer(8);
	CHECK(!ev->done);
	/* A size change is announced again, into the buffer already posted. */
	CHECK_HDR(set_params(6, false, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264, 1280, 720),
		  VV_RESP_OK_NODATA, 6);
	CHECK(!ev->done);
	CHECK_BUF(res_queue(6, VV_QUEUE_TYPE_INPUT, 1, 2, 0), 6, 2, 0, 0);
	CHECK_EVENT(ev, VV_EVENT_DECODER_RESOLUTION_CHANGED, 6);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 6), VV_RESP_OK_NODATA, 6);
	env_down(true);
}

/* The event FIFO keeps the newest VV_DEV_MAX_PENDING_EVENTS. */
static void t_item19_event_fifo_overflow(void)
{
	uint64_t in_gpa = alloc0(8192);
	struct req *ev[VV_DEV_MAX_PENDING_EVENTS + 1];

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_H264), VV_RESP_OK_NODATA, 2);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_INPUT, 1, in_gpa + 4096, 4096), VV_RESP_OK_NODATA,
		  2);
	/* One event for stream 1, then 64 for stream 2: the oldest is dropped. */
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 0, 0), 1, 0, 0, 0);
	fprintf(stderr, "(a warning about a dropped event follows, as expected)\n");
	for (unsigned i = 0; i < VV_DEV_MAX_PENDING_EVENTS; i++) {
		if (i)
			CHECK_HDR(set_params(2, true, VV_QUEUE_TYPE_INPUT, VV_FORMAT_H264,
					     320 + 2 * (i % 2), 240), VV_RESP_OK_NODATA, 2);
		CHECK_BUF(res_queue(2, VV_QUEUE_TYPE_INPUT, 1, i, 0), 2, i, 0, 0);
	}
	CHECK_EQ(stats().events, 0);
	for (unsigned i = 0; i < VV_DEV_MAX_PENDING_EVENTS; i++)
		REQUIRE((ev[i] = submit(&E.evq, NULL, 0, 8)) != NULL);
	kick(&E.evq);
	for (unsigned i = 0; i < VV_DEV_MAX_PENDING_EVENTS; i++)
		CHECK_EVENT(ev[i], VV_EVENT_DECODER_RESOLUTION_CHANGED, 2);
	CHECK_EQ(stats().events, VV_DEV_MAX_PENDING_EVENTS);
	ev[0] = post_event_buffer(8);
	CHECK(!ev[0]->done);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 2), VV_RESP_OK_NODATA, 2);
	env_down(true);
}

/* Events of a destroyed stream are not delivered to whoever reuses its id. */
static void t_item19_events_of_destroyed_stream(void)
{
	uint64_t in_gpa = alloc0(4096);
	struct req *ev;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 0, 0), 1, 0, 0, 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	ev = post_event_buffer(8);
	CHECK(!ev->done);
	CHECK_EQ(stats().events, 0);
	env_down(true);
}

static void t_controls(void)
{
	uint8_t c[24] = { 0 };
	struct req *q;

	REQUIRE(env_up(DEV_FEATURES));
	/* QUERY_CONTROL needs no stream (the guest asks at probe time). */
	put32(c, 0, VV_CMD_QUERY_CONTROL);
	put32(c, 8, VV_CONTROL_PROFILE);
	put32(c, 16, VV_FORMAT_H264);
	q = cmd(c, 24, RESP_CAP);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, 16 + 3 * 4);
	CHECK_EQ(rtype(q), VV_RESP_OK_QUERY_CONTROL);
	CHECK_EQ(get32(rbytes(q), 8), 3);
	CHECK_EQ(get32(rbytes(q), 16), VV_PROFILE_H264_BASELINE);
	CHECK_EQ(get32(rbytes(q), 20), VV_PROFILE_H264_MAIN);
	CHECK_EQ(get32(rbytes(q), 24), VV_PROFILE_H264_HIGH);
	put32(c, 8, VV_CONTROL_LEVEL);
	q = cmd(c, 24, RESP_CAP);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, 16 + 15 * 4);
	CHECK_EQ(get32(rbytes(q), 8), 15);
	CHECK_EQ(get32(rbytes(q), 16), VV_LEVEL_H264_1_0);
	CHECK_EQ(get32(rbytes(q), 16 + 14 * 4), VV_LEVEL_H264_5_1);
	/* Too small for the list. */
	CHECK_HDR(cmd(c, 24, 40), VV_RESP_ERR_INVALID_PARAMETER, 0);
	put32(c, 16, VV_FORMAT_FWHT);
	CHECK_HDR(cmd(c, 24, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 0);
	put32(c, 16, VV_FORMAT_VP8);
	CHECK_HDR(cmd(c, 24, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
	put32(c, 8, VV_CONTROL_BITRATE);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 0);

	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 2);
	memset(c, 0, sizeof(c));
	put32(c, 0, VV_CMD_GET_CONTROL);
	put32(c, 4, 1);
	put32(c, 8, VV_CONTROL_PROFILE);
	q = cmd(c, 16, RESP_CAP);
	REQUIRE(q && q->done);
	CHECK_EQ(q->used_len, 16);
	CHECK_EQ(rtype(q), VV_RESP_OK_GET_CONTROL);
	CHECK_EQ(rsid(q), 1);
	CHECK_EQ(get32(rbytes(q), 8), VV_PROFILE_H264_HIGH);
	put32(c, 8, VV_CONTROL_LEVEL);
	q = cmd(c, 16, RESP_CAP);
	REQUIRE(q && q->done);
	CHECK_EQ(get32(rbytes(q), 8), VV_LEVEL_H264_4_1);
	put32(c, 8, VV_CONTROL_BITRATE);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 1);
	put32(c, 4, 2);
	put32(c, 8, VV_CONTROL_PROFILE);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 2);
	put32(c, 0, VV_CMD_SET_CONTROL);
	put32(c, 4, 1);
	put32(c, 16, VV_PROFILE_H264_MAIN);
	CHECK_HDR(cmd(c, 24, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 1);
	put32(c, 8, VV_CONTROL_FORCE_KEYFRAME);
	CHECK_HDR(cmd(c, 16, RESP_CAP), VV_RESP_ERR_UNSUPPORTED_CONTROL, 1);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 2), VV_RESP_OK_NODATA, 2);
	env_down(true);
}

/* YUV420 at 1920x1080 into a three-plane single buffer and a one-plane buffer (packed). */
static void t_null_yuv420_1080p(void)
{
	const uint32_t y = 1920 * 1080, c = 960 * 540, total = y + 2 * c;
	uint64_t a = alloc1(total + 8192), b = alloc1(total);
	struct ent ea[2] = { { a, 2u << 20 }, { a + (2u << 20) + 8192, total - (2u << 20) } };
	struct ent eb = { b, total };
	struct req *oa, *ob;
	struct timespec t0, t1;
	double ms;

	REQUIRE(a && b);
	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_INPUT, VV_FORMAT_FWHT, 1920, 1080),
		  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_YUV420, 1920, 1080),
		  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 3,
			     (uint32_t[]){ 0, y, y + c }, (uint32_t[]){ 2, 0, 0 }, ea),
		  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 2, b, total), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, alloc0(4096), 4096), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 2, alloc0(4096), 4096), VV_RESP_OK_NODATA, 1);
	oa = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0);
	ob = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 111, 1), 1, 111, 0, 0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 2, 222, 1), 1, 222, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms < 1000.0);
	CHECK_BUF(oa, 1, 111, 0, total);
	CHECK_BUF(ob, 1, 222, 0, total);
	CHECK_EQ(plane_errors(ea, 2, 0, 1920, 1080, 0, 0), 0);
	CHECK_EQ(plane_errors(ea, 2, y, 960, 540, 0, 1), 0);
	CHECK_EQ(plane_errors(ea, 2, y + c, 960, 540, 0, 2), 0);
	CHECK_EQ(plane_errors(&eb, 1, 0, 1920, 1080, 1, 0), 0);
	CHECK_EQ(plane_errors(&eb, 1, y, 960, 540, 1, 1), 0);
	CHECK_EQ(plane_errors(&eb, 1, y + c, 960, 540, 1, 2), 0);
	/* The gap between the two entries of buffer a is not written. */
	CHECK_EQ(gp(a + (2u << 20))[0], 0);
	CHECK_EQ(gp(a + (2u << 20) + 8191)[0], 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* Output buffers that cannot hold the picture come back with ERR; numbering goes on. */
static void t_null_picture_does_not_fit(void)
{
	uint64_t small = alloc1(640 * 480), ok = alloc1(640 * 480 * 3 / 2);
	struct ent two[2] = { { ok, 640 * 480 }, { ok + 640 * 480, 640 * 240 } };
	struct req *o1, *o2, *o3;

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, alloc0(4096), 4096), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, small, 640 * 480), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL,
			     (uint32_t[]){ 1, 1 }, two), VV_RESP_OK_NODATA, 1);
	o1 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 7, 10), 1, 7, 0, 0);
	CHECK_BUF(o1, 1, 7, VV_BUFFER_FLAG_ERR, 0);
	CHECK_EQ(gp(small)[0], 0);
	/* Three YUV420 planes do not go into two resource planes either. */
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_YUV420, 640, 480),
		  VV_RESP_OK_NODATA, 1);
	o2 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 8, 10), 1, 8, 0, 0);
	CHECK_BUF(o2, 1, 8, VV_BUFFER_FLAG_ERR, 0);
	/* NV12 again: two planes into two resource planes; this is picture 2. */
	CHECK_HDR(set_params(1, false, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 640, 480),
		  VV_RESP_OK_NODATA, 1);
	o3 = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 2, 0, 0);
	CHECK_BUF(res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 9, 10), 1, 9, 0, 0);
	CHECK_BUF(o3, 1, 9, 0, 640 * 480 * 3 / 2);
	CHECK_EQ(plane_errors(&two[0], 1, 0, 640, 480, 2, 0), 0);
	CHECK_EQ(plane_errors(&two[1], 1, 0, 640, 240, 2, 1), 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	env_down(true);
}

/* A backend whose reports the test can forge: the null backend, with the device's callbacks
 * captured at session_new. */
static const struct backend_events *spy_ev;
static void *spy_stream;

static int spy_session_new(struct backend *b, uint32_t coded_format,
			   const struct backend_events *ev, void *stream,
			   struct backend_session **out)
{
	spy_ev = ev;
	spy_stream = stream;
	return backend_null_ops.session_new(b, coded_format, ev, stream, out);
}

/* A buggy backend naming buffers that are not queued is ignored; a stream error becomes an
 * ERROR event. */
static void t_backend_reports_checked(void)
{
	struct backend_ops spy = backend_null_ops;
	struct req *o, *ev;
	struct vv_device_stats before;

	spy.session_new = spy_session_new;
	env_ops = &spy;
	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(3, VV_FORMAT_H264), VV_RESP_OK_NODATA, 3);
	REQUIRE(spy_ev && spy_stream);
	make_outputs_640(3, 1);
	o = res_queue(3, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	CHECK(!o->done);
	before = stats();
	fprintf(stderr, "(four warnings about bogus backend reports follow, as expected)\n");
	spy_ev->picture_ready(spy_stream, 77, 1, 0, 100);      /* unknown resource */
	spy_ev->input_done(spy_stream, 10, false);             /* 10 is an OUTPUT resource */
	spy_ev->drain_done(spy_stream, false);                 /* no drain asked for */
	pump();
	CHECK_EQ(stats().responses, before.responses);
	CHECK(!o->done);
	/* A real completion, then the same one again. */
	spy_ev->picture_ready(spy_stream, 10, 1234, VV_BUFFER_FLAG_IFRAME, 99);
	spy_ev->picture_ready(spy_stream, 10, 1234, 0, 99);
	pump();
	CHECK_BUF(o, 3, 1234, VV_BUFFER_FLAG_IFRAME, 99);
	CHECK_EQ(stats().responses, before.responses + 1);
	/* Stream errors are events, waiting for a buffer like any other. */
	spy_ev->stream_error(spy_stream);
	ev = post_event_buffer(8);
	CHECK_EVENT(ev, VV_EVENT_ERROR, 3);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 3), VV_RESP_OK_NODATA, 3);
	env_down(true);
	env_ops = &backend_null_ops;
}

/* The command queue stopping (GET_VRING_BASE) answers everything; streams stay. */
static void t_queue_stop_answers_everything(void)
{
	struct req *in, *drain, *o[2];
	struct vu_reply r;
	uint64_t in_gpa = alloc0(4096);

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_H264), VV_RESP_OK_NODATA, 2);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	make_outputs_640(2, 2);
	in = res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 5, 10);
	drain = hdr_cmd(VV_CMD_STREAM_DRAIN, 1);
	o[0] = res_queue(2, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	o[1] = res_queue(2, VV_QUEUE_TYPE_OUTPUT, 11, 0, 0);
	CHECK_EQ(stats().pending, 4);

	CHECK_EQ(msg(VU_GET_VRING_BASE, &(struct vu_vring_state){ VV_DEV_CMDQ, 0 }, 8, NULL, 0,
		     &r), 0);
	CHECK(r.send);
	CHECK_EQ(r.payload.state.num, E.cmdq.submitted);
	reap(&E.cmdq);
	CHECK_BUF(in, 1, 5, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(drain, VV_RESP_ERR_INVALID_OPERATION, 1);
	CHECK_BUF(o[0], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_EQ(stats().pending, 0);
	CHECK_EQ(stats().streams, 2);
	CHECK(!vv_device_vu_ops()->mem_in_use(E.dev));
	/* Nothing comes from the backend afterwards. */
	pump();
	CHECK_EQ(stats().responses, stats().commands);

	/* Restarted, the streams are still there. */
	CHECK_EQ(start_ring(&E.cmdq), 0);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(hdr_cmd(VV_CMD_STREAM_DESTROY, 2), VV_RESP_OK_NODATA, 2);
	env_down(true);
}

/* Reset (connection gone): everything dropped, nothing written to guest memory. */
static void t_reset_drops_without_writing(void)
{
	struct req *in, *o;
	uint64_t in_gpa = alloc0(4096);
	uint16_t used_before;
	struct vv_device_stats st;
	uint8_t untouched[24];

	REQUIRE(env_up(DEV_FEATURES));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in_gpa, 4096), VV_RESP_OK_NODATA, 1);
	make_outputs_640(1, 1);
	in = res_queue(1, VV_QUEUE_TYPE_INPUT, 1, 5, 0);
	CHECK_BUF(in, 1, 5, 0, 0);
	o = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	in = hdr_cmd(VV_CMD_STREAM_DRAIN, 1);
	CHECK_BUF(o, 1, 0, VV_BUFFER_FLAG_EOS, 0);
	CHECK_HDR(in, VV_RESP_OK_NODATA, 1);
	o = res_queue(1, VV_QUEUE_TYPE_OUTPUT, 10, 0, 0);
	CHECK(!o->done);
	used_before = E.cmdq.used->idx;

	vv_device_vu_ops()->reset(E.dev);
	st = stats();
	CHECK_EQ(st.streams, 0);
	CHECK_EQ(st.pending, 0);
	CHECK_EQ(st.commands, st.responses + 1);
	CHECK(!vv_device_vu_ops()->mem_in_use(E.dev));
	CHECK_EQ(E.cmdq.used->idx, used_before);
	memset(untouched, 0xee, sizeof(untouched));
	CHECK_MEM(gp(o->resp_gpa), untouched, sizeof(untouched));
	pump();
	CHECK(!o->done);
	/* The stream is gone. */
	CHECK_HDR(queue_cmd(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT),
		  VV_RESP_ERR_INVALID_STREAM_ID, 1);
	env_down(false);
}

int main(void)
{
	test_begin("vv_device");
	pools_reset();
	ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (ram_fd < 0 || ftruncate(ram_fd, (off_t)RAM_SIZE) < 0)
		return 1;
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	if (ram == MAP_FAILED)
		return 1;

	RUN_TEST(t_backend_registry);
	RUN_TEST(t_config_and_features);
	RUN_TEST(t_capabilities_byte_exact);
	RUN_TEST(t_guest_driver_sequence);
	RUN_TEST(t_queue_clear_with_pending);
	RUN_TEST(t_stream_destroy_with_pending);
	RUN_TEST(t_resource_destroy_all);
	RUN_TEST(t_item14_short_unknown_small);
	RUN_TEST(t_item14_resource_queue_small_response);
	RUN_TEST(t_item15_limits);
	RUN_TEST(t_item16_ids_and_caps);
	RUN_TEST(t_item17_mem_entries);
	RUN_TEST(t_item17_without_non_contig);
	RUN_TEST(t_item17_response_after_region_readd);
	RUN_TEST(t_item19_event_waits_for_buffer);
	RUN_TEST(t_item19_event_fifo_overflow);
	RUN_TEST(t_item19_events_of_destroyed_stream);
	RUN_TEST(t_controls);
	RUN_TEST(t_null_yuv420_1080p);
	RUN_TEST(t_null_picture_does_not_fit);
	RUN_TEST(t_backend_reports_checked);
	RUN_TEST(t_queue_stop_answers_everything);
	RUN_TEST(t_reset_drops_without_writing);

	munmap(ram, RAM_SIZE);
	close(ram_fd);
	return test_summary();
}
