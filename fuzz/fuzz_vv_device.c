/* The virtio-video device with the null backend, driven through sequences of
 * guest-driver operations (fuzz_formats.h): commands built from typed templates
 * whose fields come from the input (so that create stream -> resources -> queue
 * -> drain / clear / destroy sequences are reachable), event buffers, kicks, event
 * loop runs, memory regions removed and re-added, rings stopped and restarted,
 * driver resets. The transport is driven through vu_server_handle_msg() over guest
 * RAM made of one memfd mapped as two GPA-contiguous regions; each input starts with
 * the driver's negotiation and ring set-up on a daemon kept from the previous input
 * after a RESET_DEVICE (see env_up), or made anew.
 *
 * Oracles besides the sanitizers, checked as the driver reaps the used rings:
 * every used id is a chain we have outstanding, its length fits the writable
 * part, the canary after each response buffer is intact, response and event
 * types are valid. After the input (streams destroyed, command ring stopped):
 * commands == responses with nothing pending, the driver saw exactly one
 * completion per response or rejected chain (when the ring stayed mapped); after the
 * reset, the daemon holds exactly the loop handlers, fds and mappings it held before
 * the input (none once it is freed). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "event_loop.h"
#include "fuzz_formats.h"
#include "fuzz_util.h"
#include "vu_server.h"
#include "vv_device.h"
#include "vv_wire.h"

#define MAX_RING 64
#define MAX_PARTS 5
#define CANARY 16
#define CANARY_BYTE 0xee
#define MAX_CMD 1024
#define MAX_TRACKED_SIDS 64
#define PUMP_LIMIT 256

#define POOL_CMD_START VVD_POOL_GPA
#define POOL_CMD_END (VVD_RAM_GPA + 0x60000)
#define POOL_EV_START POOL_CMD_END
#define POOL_EV_END VVD_PROTECTED_END

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t caps_list[8] = VVD_CAPS_LIST;

/* FUZZ_STRICT_RESET=1: a driver reset (SET_STATUS 0, then SET_VRING_NUM/BASE/ADDR/KICK)
 * must make a ring the driver broke usable again. The daemon keeps such a ring stopped
 * until RESET_DEVICE, RESET_OWNER or a reconnection (reported); off by default so that
 * the fuzzer does not stop at it. */
static bool strict_reset;

/* FUZZ_STRICT_REMAP=1: a command answered after the region holding its response buffer
 * was removed and added again must have its response in guest memory (read and checked
 * like any other). Fixed in the daemon (fuzz/findings/README); off by default, where such
 * responses are only checked for length and canary. */
static bool strict_remap;

static int ram_fd = -1;
static uint8_t *ram; /* the driver's view of guest RAM */

static uint8_t *gp(uint64_t gpa)
{
	return ram + (gpa - VVD_RAM_GPA);
}

/* ---- driver-side rings ------------------------------------------------------------------ */

struct req {
	bool live;
	/* Its buffers were in a region removed while it was outstanding: the device's
	 * late writes go to the retired mapping, not to what we read (by design, see
	 * guest_mem_remove), so only lengths and canaries prove anything. */
	bool stale;
	uint64_t resp_gpa;
	uint32_t resp_cap;
	unsigned ndesc;
	uint16_t descs[MAX_PARTS];
};

struct gring {
	unsigned index, num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_seen;
	uint16_t free_desc[MAX_RING];
	unsigned nfree, outstanding;
	struct req reqs[MAX_RING]; /* by head */
	uint64_t pool, pool_start, pool_end;
	uint64_t completions;
	int kick_fd; /* ours; the server holds a dup */
	int call_fd, err_fd;
	bool started;
};

struct part {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* What outlives an input (see env_up): the daemon's objects and the connection. */
static struct {
	bool alive;
	struct event_loop *loop;
	struct backend *backend;
	struct vv_device *dev;
	struct vu_server *srv;
	int peer_fd;
	unsigned idle_handlers;     /* on the loop between inputs */
	/* fds and guest mappings the daemon holds between inputs */
	unsigned idle_fds, idle_maps;
} P = { .peer_fd = -1 };

/* The driver's state during one input. */
static struct {
	uint8_t features;
	struct gring ring[2];
	bool removed[2];
	bool ring_unmapped_ever;
	bool broken[2];     /* we broke the ring and no RESET_DEVICE came since */
	bool broken_ever;
	uint64_t bad_chains_before_reset; /* command queue, counted before RESET_DEVICE */
	struct vv_device_stats st0;       /* the device's counters when the input started */
	uint32_t sids[MAX_TRACKED_SIDS];
	unsigned nsids;
} E;

static void ring_init(struct gring *r, unsigned index, unsigned num, uint64_t base,
		      uint64_t pool_start, uint64_t pool_end)
{
	int kick = r->kick_fd, call = r->call_fd, err = r->err_fd;
	uint64_t completions = r->completions; /* over the whole input */

	memset(r, 0, sizeof(*r));
	r->kick_fd = kick;
	r->call_fd = call;
	r->err_fd = err;
	r->completions = completions;
	r->index = index;
	r->num = num;
	r->desc_gpa = base;
	r->avail_gpa = base + 0x1000;
	r->used_gpa = base + 0x2000;
	r->desc = (struct vring_desc *)gp(r->desc_gpa);
	r->avail = (struct vring_avail *)gp(r->avail_gpa);
	r->used = (struct vring_used *)gp(r->used_gpa);
	memset(r->desc, 0, 0x3000);
	for (unsigned i = 0; i < num; i++)
		r->free_desc[r->nfree++] = (uint16_t)(num - 1 - i);
	r->pool = r->pool_start = pool_start;
	r->pool_end = pool_end;
}

/* Called before allocating for a new chain: when nothing of ours is with the
 * device, the whole pool is free again. */
static void pool_recycle(struct gring *r)
{
	if (r->outstanding == 0)
		r->pool = r->pool_start;
}

static uint64_t pool_alloc(struct gring *r, uint64_t len, uint64_t align)
{
	uint64_t gpa;

	gpa = (r->pool + align - 1) & ~(align - 1);
	if (gpa + len > r->pool_end)
		return 0;
	r->pool = gpa + len;
	return gpa;
}

static bool resp_type_valid(uint32_t t)
{
	return (t >= VV_RESP_OK_NODATA && t <= VV_RESP_OK_GET_CONTROL) ||
	       (t >= VV_RESP_ERR_INVALID_OPERATION && t <= VV_RESP_ERR_UNSUPPORTED_CONTROL);
}

static void reap(struct gring *r)
{
	uint16_t used_idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));

	/* The device cannot complete more than we gave it. */
	FUZZ_CHECK((uint16_t)(used_idx - r->used_seen) <= r->outstanding);
	while (r->used_seen != used_idx) {
		const struct vring_used_elem *e = &r->used->ring[r->used_seen % r->num];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);
		struct req *q;

		r->used_seen++;
		FUZZ_CHECK(id < r->num && r->reqs[id].live);
		q = &r->reqs[id];
		FUZZ_CHECK(len <= q->resp_cap);
		for (unsigned i = 0; i < CANARY; i++)
			FUZZ_CHECK(gp(q->resp_gpa)[q->resp_cap + i] == CANARY_BYTE);
		if (q->stale) {
			/* nothing to read */
		} else if (r->index == VV_DEV_CMDQ) {
			if (len >= 8)
				FUZZ_CHECK(resp_type_valid(get_le32(gp(q->resp_gpa))));
		} else {
			FUZZ_CHECK(len == 0 || len == 8);
			if (len == 8) {
				uint32_t t = get_le32(gp(q->resp_gpa));

				FUZZ_CHECK(t == VV_EVENT_ERROR ||
					   t == VV_EVENT_DECODER_RESOLUTION_CHANGED);
			}
		}
		for (unsigned i = 0; i < q->ndesc; i++)
			r->free_desc[r->nfree++] = q->descs[i];
		q->live = false;
		r->outstanding--;
		r->completions++;
	}
}

static void reap_all(void)
{
	reap(&E.ring[0]);
	reap(&E.ring[1]);
}

/* Publishes a chain of parts (through an indirect table when asked and negotiated). */
static bool submit(struct gring *r, const struct part *parts, unsigned n, bool indirect,
		   uint64_t resp_gpa, uint32_t resp_cap)
{
	unsigned need = indirect ? 1 : n;
	uint16_t head, prev = 0;
	struct req *q;

	if (n == 0 || n > MAX_PARTS)
		return false;
	if (r->nfree < need)
		reap(r);
	if (r->nfree < need)
		return false;
	if (indirect) {
		uint64_t table = pool_alloc(r, 16ull * n, 16);
		struct vring_desc *t;

		if (!table)
			return false;
		t = (struct vring_desc *)gp(table);
		for (unsigned i = 0; i < n; i++) {
			t[i].addr = htole64(parts[i].gpa);
			t[i].len = htole32(parts[i].len);
			t[i].flags = htole16(parts[i].flags |
					     (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[i].next = htole16((uint16_t)(i + 1 < n ? i + 1 : 0));
		}
		head = r->free_desc[--r->nfree];
		r->desc[head] = (struct vring_desc){
			.addr = htole64(table), .len = htole32(16 * n),
			.flags = htole16(VRING_DESC_F_INDIRECT),
		};
		q = &r->reqs[head];
		q->ndesc = 1;
		q->descs[0] = head;
	} else {
		head = r->free_desc[r->nfree - 1];
		q = &r->reqs[head];
		q->ndesc = 0;
		for (unsigned i = 0; i < n; i++) {
			uint16_t idx = r->free_desc[--r->nfree];

			r->desc[idx] = (struct vring_desc){
				.addr = htole64(parts[i].gpa), .len = htole32(parts[i].len),
				.flags = htole16(parts[i].flags),
			};
			if (i > 0) {
				r->desc[prev].flags |= htole16(VRING_DESC_F_NEXT);
				r->desc[prev].next = htole16(idx);
			}
			q->descs[q->ndesc++] = idx;
			prev = idx;
		}
	}
	FUZZ_CHECK(!q->live);
	q->live = true;
	q->stale = false;
	q->resp_gpa = resp_gpa;
	q->resp_cap = resp_cap;
	r->outstanding++;
	r->avail->ring[r->avail_idx % r->num] = htole16(head);
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
	return true;
}

static void run_once(void)
{
	ev_loop_run_once(P.loop, 0);
	reap_all();
}

static void kick(unsigned ring)
{
	if (E.ring[ring].kick_fd >= 0)
		eventfd_write(E.ring[ring].kick_fd, 1);
	run_once();
}

static void pump(void)
{
	for (unsigned i = 0; i < PUMP_LIMIT; i++)
		if (ev_loop_run_once(P.loop, 0) <= 0)
			break;
	reap_all();
}

/* ---- vhost-user messages ----------------------------------------------------------------- */

/* A request with NEED_REPLY: the acked value (or the reply payload's first u64), -1 when
 * no reply came. The connection must never be dropped: everything we send is sane. */
static long long vu_msg(uint32_t request, const void *payload, uint32_t size, int fd,
			struct vu_reply *out)
{
	struct vu_msg m;
	struct vu_reply r;
	int ret;

	memset(&m, 0, sizeof(m));
	m.hdr.request = request;
	m.hdr.flags = VU_VERSION | VU_FLAG_NEED_REPLY;
	m.hdr.size = size;
	if (size)
		memcpy(m.payload.bytes, payload, size);
	for (unsigned i = 0; i < VU_MAX_FDS; i++)
		m.fds[i] = -1;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	ret = vu_server_handle_msg(P.srv, &m, &r);
	FUZZ_CHECK(ret == 0);
	if (out)
		*out = r;
	if (!r.send || r.hdr.size != 8)
		return -1;
	return (long long)r.payload.u64;
}

static long long vu_u64(uint32_t request, uint64_t v)
{
	return vu_msg(request, &v, 8, -1, NULL);
}

static long long vu_u64_fd(uint32_t request, uint64_t v, int fd)
{
	return vu_msg(request, &v, 8, fd, NULL);
}

static long long vu_state(uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vring_state st = { index, num };

	return vu_msg(request, &st, sizeof(st), -1, NULL);
}

static struct vu_mem_region region_desc(unsigned i)
{
	return (struct vu_mem_region){
		.guest_phys_addr = VVD_RAM_GPA + i * VVD_REGION_SIZE,
		.memory_size = VVD_REGION_SIZE,
		.userspace_addr = VVD_UVA + i * VVD_REGION_SIZE,
		.mmap_offset = i * VVD_REGION_SIZE,
	};
}

static uint64_t uva_of(uint64_t gpa)
{
	return VVD_UVA + (gpa - VVD_RAM_GPA);
}

static void set_mem_table(void)
{
	struct vu_mem_table t = { .nregions = 2 };
	struct vu_msg m;
	struct vu_reply r;

	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < 2; i++) {
		t.regions[i] = region_desc(i);
		m.fds[i] = dup(ram_fd);
		FUZZ_CHECK(m.fds[i] >= 0);
	}
	m.nfds = 2;
	m.hdr.request = VU_SET_MEM_TABLE;
	m.hdr.flags = VU_VERSION | VU_FLAG_NEED_REPLY;
	m.hdr.size = 8 + 2 * sizeof(struct vu_mem_region);
	memcpy(m.payload.bytes, &t, m.hdr.size);
	FUZZ_CHECK(vu_server_handle_msg(P.srv, &m, &r) == 0);
	FUZZ_CHECK(r.send && r.hdr.size == 8 && r.payload.u64 == 0);
}

static long long mem_region_msg(uint32_t request, unsigned i)
{
	struct vu_single_mem_region m = { .region = region_desc(i) };
	int fd = -1;

	if (request == VU_ADD_MEM_REG) {
		fd = dup(ram_fd);
		FUZZ_CHECK(fd >= 0);
	}
	return vu_msg(request, &m, sizeof(m), fd, NULL);
}

static void readd_regions(void)
{
	for (unsigned i = 0; i < 2; i++) {
		if (!E.removed[i])
			continue;
		FUZZ_CHECK(mem_region_msg(VU_ADD_MEM_REG, i) == 0);
		E.removed[i] = false;
	}
}

/* SET_VRING_KICK with a fresh eventfd (the ring starts). */
static void start_ring(struct gring *r)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), theirs;

	FUZZ_CHECK(fd >= 0);
	theirs = dup(fd);
	FUZZ_CHECK(theirs >= 0);
	if (r->kick_fd >= 0)
		close(r->kick_fd);
	r->kick_fd = fd;
	/* Refused (and the fd closed) only while no memory region is left at all. */
	r->started = vu_u64_fd(VU_SET_VRING_KICK, r->index, theirs) == 0;
	FUZZ_CHECK(r->started || E.removed[0] || E.removed[1]);
}

static void setup_ring(struct gring *r)
{
	struct vu_vring_addr a = {
		.index = r->index,
		.desc_user_addr = uva_of(r->desc_gpa),
		.avail_user_addr = uva_of(r->avail_gpa),
		.used_user_addr = uva_of(r->used_gpa),
	};

	FUZZ_CHECK(vu_state(VU_SET_VRING_NUM, r->index, r->num) == 0);
	FUZZ_CHECK(vu_state(VU_SET_VRING_BASE, r->index, 0) == 0);
	FUZZ_CHECK(vu_msg(VU_SET_VRING_ADDR, &a, sizeof(a), -1, NULL) == 0);
	if (r->call_fd < 0) {
		r->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		FUZZ_CHECK(r->call_fd >= 0);
	}
	if (r->err_fd < 0) {
		r->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		FUZZ_CHECK(r->err_fd >= 0);
	}
	FUZZ_CHECK(vu_u64_fd(VU_SET_VRING_CALL, r->index, dup(r->call_fd)) == 0);
	FUZZ_CHECK(vu_u64_fd(VU_SET_VRING_ERR, r->index, dup(r->err_fd)) == 0);
	start_ring(r);
	FUZZ_CHECK(r->started);
	FUZZ_CHECK(vu_state(VU_SET_VRING_ENABLE, r->index, 1) == 0);
	/* A ring the driver broke stays stopped across a driver reset (SET_STATUS 0 and a
	 * new ring set-up): see strict_reset. */
	if (!strict_reset && E.broken[r->index])
		return;
	FUZZ_CHECK(vq_is_ready(vu_server_vq(P.srv, r->index)));
}

static void stop_ring(struct gring *r, bool restart)
{
	struct vu_vring_state st = { r->index, 0 };
	struct vu_reply rep;

	vu_msg(VU_GET_VRING_BASE, &st, sizeof(st), -1, &rep);
	FUZZ_CHECK(rep.send && rep.hdr.size == sizeof(struct vu_vring_state));
	r->started = false;
	reap_all();
	if (restart) {
		FUZZ_CHECK(vu_state(VU_SET_VRING_BASE, r->index, rep.payload.state.num) == 0);
		start_ring(r);
	}
}

/* The daemon's objects and a connection that has negotiated its protocol features. */
static void daemon_up(void)
{
	int sv[2];

	P.loop = ev_loop_new();
	FUZZ_CHECK(P.loop != NULL);
	FUZZ_CHECK(backend_null_ops.open(&P.backend, &(struct backend_config){ 0 }, P.loop) == 0);
	P.dev = vv_device_new(P.loop, &backend_null_ops, P.backend);
	P.srv = vu_server_new(P.loop, vv_device_vu_ops(), P.dev);
	FUZZ_CHECK(P.dev && P.srv);
	vv_device_set_server(P.dev, P.srv);
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	P.peer_fd = sv[1];
	FUZZ_CHECK(vu_server_attach(P.srv, sv[0], NULL, NULL) == 0);
	FUZZ_CHECK(vu_u64(VU_SET_PROTOCOL_FEATURES, vu_server_offered_protocol_features()) == 0);
	P.alive = true;
}

static void daemon_down(void)
{
	vu_server_free(P.srv);
	vv_device_free(P.dev);
	backend_null_ops.close(P.backend);
	FUZZ_CHECK(ev_loop_count(P.loop) == 0);
	ev_loop_free(P.loop);
	close(P.peer_fd);
	P.peer_fd = -1;
	P.alive = false;
}

/* A driver start: features, the memory table, both rings.
 *
 * The daemon and its connection are kept from one input to the next (made anew when the
 * input sets VVD_F_DISCONNECT, or for every input with FUZZ_FRESH=1). That spares each input the set-up and above all the mapping and
 * unmapping of guest RAM (a TLB flush per munmap: the largest cost of a short input in a
 * VM). Between inputs the driver resets the device (RESET_DEVICE: rings, features,
 * streams and events forgotten) and then sends the same memory table again, which the
 * daemon keeps mapped (same file, same ranges). An input so meets the state a new
 * connection has after the same messages; env_down() keeps the daemon only when it is
 * in that state (no stream, nothing pending, the two regions, no retired mapping, the
 * loop's handlers, fds and guest mappings as after the first set-up). */
static void env_up(uint8_t features, uint8_t sizes)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
		     (1ull << VV_F_RESOURCE_GUEST_PAGES);
	bool fresh = !P.alive;

	memset(&E, 0, sizeof(E));
	for (unsigned i = 0; i < 2; i++) {
		E.ring[i].kick_fd = -1;
		E.ring[i].call_fd = -1;
		E.ring[i].err_fd = -1;
	}
	E.features = features;
	if (features & VVD_F_EVENT_IDX)
		f |= 1ull << VIRTIO_F_RING_EVENT_IDX;
	if (features & VVD_F_INDIRECT)
		f |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
	if (features & VVD_F_NON_CONTIG)
		f |= 1ull << VV_F_RESOURCE_NON_CONTIG;

	if (fresh) {
		unsigned fds = fuzz_count_fds(), maps = fuzz_count_guest_maps();

		daemon_up();
		FUZZ_CHECK(vu_u64(VU_SET_FEATURES, f) == 0);
		set_mem_table();
		/* What the daemon holds between inputs, before any input ran. */
		P.idle_handlers = ev_loop_count(P.loop);
		P.idle_fds = fuzz_count_fds() - fds;
		P.idle_maps = fuzz_count_guest_maps() - maps;
	} else {
		FUZZ_CHECK(vu_u64(VU_SET_FEATURES, f) == 0);
		set_mem_table();
	}
	vv_device_get_stats(P.dev, &E.st0);
	ring_init(&E.ring[0], VV_DEV_CMDQ, 4u << ((sizes & 0xf) % 5), VVD_CMDQ_GPA,
		  POOL_CMD_START, POOL_CMD_END);
	ring_init(&E.ring[1], VV_DEV_EVENTQ, 4u << ((sizes >> 4) % 5), VVD_EVQ_GPA,
		  POOL_EV_START, POOL_EV_END);
	setup_ring(&E.ring[0]);
	setup_ring(&E.ring[1]);
}

/* ---- command templates -------------------------------------------------------------------- */

static uint32_t op_sid(struct fuzz_in *in)
{
	uint8_t v = fin_u8(in);

	return v < 0x80 ? v & 7u : v;
}

/* Mostly a few ids (so that queue and create meet), but enough distinct ones to
 * reach the per-queue cap of VV_DEV_MAX_RESOURCES. */
static uint32_t op_rid(struct fuzz_in *in)
{
	uint8_t v = fin_u8(in);

	return v < 0x80 ? v & 15u : v;
}

static uint32_t op_qt(struct fuzz_in *in)
{
	uint8_t v = fin_u8(in);

	if (v >= 0xf8)
		return v & 1 ? 0 : 0x102;
	return v & 1 ? VV_QUEUE_TYPE_OUTPUT : VV_QUEUE_TYPE_INPUT;
}

static uint32_t op_fmt(struct fuzz_in *in)
{
	static const uint32_t fmts[8] = {
		VV_FORMAT_FWHT, VV_FORMAT_H264, VV_FORMAT_NV12, VV_FORMAT_YUV420,
		VV_FORMAT_HEVC, 0, 0xffffffffu, VV_FORMAT_VP8,
	};

	return fmts[fin_u8(in) & 7];
}

/* Entry ranges that are all guest RAM may not reach the rings or the driver's pool:
 * the device would legitimately write pictures there and our oracles would lie.
 * Ranges partly outside RAM stay: the device must refuse them whole. */
static bool entry_allowed(uint64_t addr, uint32_t len)
{
	uint64_t end = addr + len;

	if (end < addr || addr < VVD_RAM_GPA || end > VVD_RAM_END)
		return true;
	return !(addr < VVD_PROTECTED_END && end > VVD_RAM_GPA);
}

static void put_entry(uint8_t *c, unsigned j, uint64_t addr, uint32_t len)
{
	if (!entry_allowed(addr, len))
		addr = VVD_PIC_GPA;
	put_le64(c + 88 + 16 * j, addr);
	put_le32(c + 88 + 16 * j + 8, len);
}

static size_t t_res_create(uint8_t *c, struct fuzz_in *in)
{
	static const uint32_t layouts[4] = {
		0, VV_PLANES_LAYOUT_SINGLE_BUFFER, VV_PLANES_LAYOUT_PER_PLANE, 3,
	};
	unsigned nplanes, total = 0, n;
	uint8_t v;

	put_le32(c, VV_CMD_RESOURCE_CREATE);
	put_le32(c + 4, op_sid(in));
	put_le32(c + 8, op_qt(in));
	put_le32(c + 12, op_rid(in));
	put_le32(c + 16, layouts[fin_u8(in) & 3]);
	v = fin_u8(in);
	nplanes = v < 0xf0 ? 1 + v % 3u : v & 0xfu;
	put_le32(c + 20, nplanes);
	n = nplanes < VV_MAX_PLANES ? nplanes : VV_MAX_PLANES;
	for (unsigned p = 0; p < n; p++) {
		unsigned ne;

		put_le32(c + 24 + 4 * p, fin_u16(in));
		ne = fin_u8(in) & 3;
		put_le32(c + 56 + 4 * p, ne);
		total += ne;
	}
	for (unsigned j = 0; j < total; j++) {
		uint8_t kind = fin_u8(in);
		uint16_t a = fin_u16(in);
		uint32_t len = (uint32_t)fin_u16(in) << (2 * ((kind >> 2) & 3));
		uint64_t addr;

		switch (kind & 3) {
		case VVD_ADDR_PICTURE:
			addr = VVD_PIC_GPA + (16ull * a) % VVD_PIC_SIZE;
			break;
		case VVD_ADDR_CROSS:
			addr = VVD_CROSS_GPA + a;
			break;
		case VVD_ADDR_OUTSIDE:
			addr = a & 1 ? VVD_RAM_GPA - 1 - (a >> 1) : VVD_RAM_END + a;
			break;
		default:
			addr = a | (uint64_t)fin_u32(in) << 16;
			break;
		}
		put_entry(c, j, addr, len);
	}
	return 88 + 16 * (size_t)total;
}

static size_t t_res_simple(uint8_t *c, struct fuzz_in *in)
{
	memset(c, 0, 88 + 16);
	put_le32(c, VV_CMD_RESOURCE_CREATE);
	put_le32(c + 4, op_sid(in));
	put_le32(c + 8, op_qt(in));
	put_le32(c + 12, op_rid(in));
	put_le32(c + 16, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	put_le32(c + 20, 1);
	put_le32(c + 56, 1);
	{
		uint64_t addr = VVD_PIC_GPA + (64ull * fin_u16(in)) % VVD_PIC_SIZE;

		put_entry(c, 0, addr, fin_u16(in));
	}
	return 88 + 16;
}

/* Builds the command of template t in c; returns its length, -1 when there is
 * nothing to send. */
static ssize_t build_cmd(uint8_t *c, unsigned t, struct fuzz_in *in)
{
	uint32_t sid;

	memset(c, 0, MAX_CMD);
	switch (t) {
	case VVD_T_QUERY_CAPS:
		put_le32(c, VV_CMD_QUERY_CAPABILITY);
		put_le32(c + 8, op_qt(in));
		return 16;
	case VVD_T_STREAM_CREATE: {
		uint8_t mem;

		sid = op_sid(in);
		put_le32(c, VV_CMD_STREAM_CREATE);
		put_le32(c + 4, sid);
		put_le32(c + 16, op_fmt(in));
		mem = fin_u8(in);
		put_le32(c + 8, (mem & 3) == 3 ? VV_MEM_TYPE_VIRTIO_OBJECT :
				(mem & 0x30) == 0x30 ? 7 : VV_MEM_TYPE_GUEST_PAGES);
		put_le32(c + 12, (mem & 0xc) == 0xc ? VV_MEM_TYPE_VIRTIO_OBJECT
						     : VV_MEM_TYPE_GUEST_PAGES);
		memcpy(c + 24, "fuzz stream", 11);
		if (E.nsids < MAX_TRACKED_SIDS)
			E.sids[E.nsids++] = sid;
		return 88;
	}
	case VVD_T_STREAM_DESTROY:
	case VVD_T_STREAM_DRAIN:
		put_le32(c, t == VVD_T_STREAM_DESTROY ? VV_CMD_STREAM_DESTROY
						      : VV_CMD_STREAM_DRAIN);
		put_le32(c + 4, op_sid(in));
		return 8;
	case VVD_T_RES_CREATE:
		return t_res_create(c, in);
	case VVD_T_RES_SIMPLE:
		return t_res_simple(c, in);
	case VVD_T_RES_QUEUE: {
		uint8_t v;

		put_le32(c, VV_CMD_RESOURCE_QUEUE);
		put_le32(c + 4, op_sid(in));
		put_le32(c + 8, op_qt(in));
		put_le32(c + 12, op_rid(in));
		put_le64(c + 16, fin_u8(in));
		v = fin_u8(in);
		put_le32(c + 24, v < 0xf0 ? v % 2u : v & 0xfu);
		put_le32(c + 28, fin_u16(in));
		return 64;
	}
	case VVD_T_DESTROY_ALL:
	case VVD_T_QUEUE_CLEAR:
		put_le32(c, t == VVD_T_DESTROY_ALL ? VV_CMD_RESOURCE_DESTROY_ALL
						   : VV_CMD_QUEUE_CLEAR);
		put_le32(c + 4, op_sid(in));
		put_le32(c + 8, op_qt(in));
		return 16;
	case VVD_T_GET_PARAMS:
		sid = op_sid(in);
		put_le32(c + 8, op_qt(in));
		put_le32(c, fin_u8(in) & 1 ? VV_CMD_GET_PARAMS_EXT : VV_CMD_GET_PARAMS);
		put_le32(c + 4, sid);
		return 16;
	case VVD_T_SET_PARAMS: {
		bool ext;
		uint8_t v;

		put_le32(c + 4, op_sid(in));
		put_le32(c + 8, op_qt(in));
		ext = fin_u8(in) & 1;
		put_le32(c, ext ? VV_CMD_SET_PARAMS_EXT : VV_CMD_SET_PARAMS);
		put_le32(c + 8 + 4, op_fmt(in));
		put_le32(c + 8 + 8, fin_u16(in));
		put_le32(c + 8 + 12, fin_u16(in));
		put_le32(c + 8 + 40, 30);
		put_le32(c + 8 + 44, fin_u8(in) % 10u);
		put_le32(c + 8 + 48, (uint32_t)fin_u16(in) << 4);
		v = fin_u8(in);
		put_le32(c + 8 + 112, v & 0x80 ? 5 : v & 1 ? VV_MEM_TYPE_VIRTIO_OBJECT
							   : VV_MEM_TYPE_GUEST_PAGES);
		return ext ? 128 : 120;
	}
	case VVD_T_QUERY_CONTROL:
		put_le32(c, VV_CMD_QUERY_CONTROL);
		put_le32(c + 8, fin_u8(in) % 9u);
		put_le32(c + 16, op_fmt(in));
		return 24;
	case VVD_T_GET_CONTROL:
		put_le32(c, VV_CMD_GET_CONTROL);
		put_le32(c + 4, op_sid(in));
		put_le32(c + 8, fin_u8(in) % 9u);
		return 16;
	case VVD_T_SET_CONTROL: {
		uint8_t v;

		put_le32(c, VV_CMD_SET_CONTROL);
		put_le32(c + 4, op_sid(in));
		v = fin_u8(in);
		put_le32(c + 8, v % 9u);
		put_le32(c + 16, fin_u32(in));
		return v & 0x80 ? 16 : 24;
	}
	case VVD_T_RAW: {
		size_t len = fin_u8(in);
		struct vv_cmd cmd;

		fin_bytes(in, c, len);
		/* A raw RESOURCE_CREATE obeys the same rule as the templates. */
		if (vv_cmd_decode(c, len, &cmd) == VV_DECODE_OK &&
		    cmd.type == VV_CMD_RESOURCE_CREATE) {
			for (unsigned i = 0; i < cmd.resource_create.total_entries; i++) {
				uint64_t addr;
				uint32_t elen;

				if (vv_mem_entry_get(&cmd, i, &addr, &elen) == 0 &&
				    !entry_allowed(addr, elen))
					return -1;
			}
		}
		return (ssize_t)len; /* 0: a chain with no readable part */
	}
	default:
		return -1;
	}
}

/* Puts the command and a response buffer in guest memory and publishes the chain. */
static void send_cmd(const uint8_t *cmd, size_t len, uint8_t shape)
{
	struct gring *r = &E.ring[0];
	uint32_t cap = caps_list[shape & VVD_SHAPE_CAP_MASK];
	unsigned place = (shape >> VVD_SHAPE_PLACE_SHIFT) & 3, n = 0;
	bool indirect = place == VVD_PLACE_INDIRECT && (E.features & VVD_F_INDIRECT);
	struct part cparts[2], rparts[2], parts[MAX_PARTS];
	unsigned nc = 0, nr = 0;
	uint64_t cmd_gpa = 0, resp_gpa;

	pool_recycle(r);
	resp_gpa = pool_alloc(r, cap + CANARY, 64);
	if (!resp_gpa)
		return;
	memset(gp(resp_gpa), CANARY_BYTE, cap + CANARY);
	if (len) {
		if (place == VVD_PLACE_CROSS) {
			cmd_gpa = VVD_BOUNDARY - len / 2;
		} else {
			cmd_gpa = pool_alloc(r, len, 8);
			if (!cmd_gpa)
				return;
		}
		memcpy(gp(cmd_gpa), cmd, len);
		if (place == VVD_PLACE_ONE || place == VVD_PLACE_CROSS || len < 2) {
			cparts[nc++] = (struct part){ cmd_gpa, (uint32_t)len, 0 };
		} else {
			cparts[nc++] = (struct part){ cmd_gpa, (uint32_t)(len / 2), 0 };
			cparts[nc++] = (struct part){ cmd_gpa + len / 2, (uint32_t)(len - len / 2),
						      0 };
		}
	}
	if (cap >= 2 && (shape & VVD_SHAPE_SPLIT_RESP)) {
		rparts[nr++] = (struct part){ resp_gpa, cap / 2, VRING_DESC_F_WRITE };
		rparts[nr++] = (struct part){ resp_gpa + cap / 2, cap - cap / 2,
					      VRING_DESC_F_WRITE };
	} else if (cap) {
		rparts[nr++] = (struct part){ resp_gpa, cap, VRING_DESC_F_WRITE };
	}
	if (shape & VVD_SHAPE_BAD_ORDER) {
		for (unsigned i = 0; i < nr; i++)
			parts[n++] = rparts[i];
		for (unsigned i = 0; i < nc; i++)
			parts[n++] = cparts[i];
	} else {
		for (unsigned i = 0; i < nc; i++)
			parts[n++] = cparts[i];
		for (unsigned i = 0; i < nr; i++)
			parts[n++] = rparts[i];
	}
	if (!submit(r, parts, n, indirect, resp_gpa, cap))
		return;
	if (!(shape & VVD_SHAPE_NO_KICK))
		kick(VV_DEV_CMDQ);
}

static void op_cmd(struct fuzz_in *in)
{
	static uint8_t cmd[MAX_CMD];
	unsigned t = fin_u8(in) % VVD_T_COUNT;
	ssize_t len = build_cmd(cmd, t, in);
	uint8_t shape = fin_u8(in);

	if (len >= 0)
		send_cmd(cmd, (size_t)len, shape);
}

static void op_event_buf(struct fuzz_in *in)
{
	struct gring *r = &E.ring[1];
	uint8_t v = fin_u8(in);
	uint32_t cap = caps_list[v & 7];
	struct part parts[2];
	unsigned n = 0;
	uint64_t gpa;

	pool_recycle(r);
	gpa = pool_alloc(r, cap + CANARY, 8);
	if (!gpa)
		return;
	memset(gp(gpa), CANARY_BYTE, cap + CANARY);
	if (cap >= 2 && (v & 8)) {
		parts[n++] = (struct part){ gpa, cap / 2, VRING_DESC_F_WRITE };
		parts[n++] = (struct part){ gpa + cap / 2, cap - cap / 2, VRING_DESC_F_WRITE };
	} else if (cap) {
		parts[n++] = (struct part){ gpa, cap, VRING_DESC_F_WRITE };
	} else {
		/* A device-readable buffer on the event queue: useless, returned empty. */
		parts[n++] = (struct part){ gpa, 8, 0 };
	}
	if (!submit(r, parts, n, false, gpa, cap))
		return;
	if (!(v & 0x40))
		kick(VV_DEV_EVENTQ);
}

static void op_mem_remove(struct fuzz_in *in)
{
	uint8_t v = fin_u8(in);
	unsigned i = v & 1;

	if (!E.removed[i] && mem_region_msg(VU_REM_MEM_REG, i) == 0) {
		E.removed[i] = true;
		if (i == 0) {
			E.ring_unmapped_ever = true; /* completions meanwhile are dropped */
			/* Every response and event buffer lives in region 0. */
			for (unsigned k = 0; k < 2 && !strict_remap; k++)
				for (unsigned h = 0; h < E.ring[k].num; h++)
					E.ring[k].reqs[h].stale = E.ring[k].reqs[h].live;
		}
	}
	if (v & 2)
		readd_regions();
	reap_all();
}

/* A driver reset: the device answers what it holds, forgets everything, and the
 * driver sets its rings up again from scratch. */
static void op_status_reset(void)
{
	readd_regions();
	FUZZ_CHECK(vu_u64(VU_SET_STATUS, 0) == 0);
	reap_all();
	{
		struct vv_device_stats st;

		vv_device_get_stats(P.dev, &st);
		FUZZ_CHECK(st.pending == 0 && st.streams == 0);
	}
	FUZZ_CHECK(vu_u64(VU_SET_STATUS, 0xf) == 0);
	for (unsigned i = 0; i < 2; i++) {
		struct gring *r = &E.ring[i];

		/* Chains never popped (or lost while the ring was unmapped) are
		 * forgotten with the old ring. */
		ring_init(r, r->index, r->num, r->desc_gpa, r->pool_start, r->pool_end);
		setup_ring(r);
	}
}

/* The driver publishes more chains than the ring holds: the device must stop the ring
 * (and say so on the err eventfd) rather than process garbage. */
static void op_break(struct fuzz_in *in)
{
	struct gring *r = &E.ring[fin_u8(in) & 1];
	const struct virtq *vq = vu_server_vq(P.srv, r->index);
	bool was_broken = vq->broken;
	eventfd_t v = 0;

	r->avail_idx = (uint16_t)(r->avail_idx + r->num + 1);
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
	kick(r->index);
	E.broken[r->index] = true;
	E.broken_ever = true;
	/* A running command queue notices at once (the event queue is only popped with an
	 * event to deliver), and says so on the err eventfd once. */
	if (r->index == VV_DEV_CMDQ && r->started && !E.removed[0] && !was_broken) {
		FUZZ_CHECK(vq->broken);
		FUZZ_CHECK(eventfd_read(r->err_fd, &v) == 0 && v >= 1);
	}
}

/* RESET_DEVICE: everything in flight is answered, the rings and the features are
 * forgotten; the driver negotiates and sets both rings up again. */
static void op_device_reset(void)
{
	uint64_t f;

	readd_regions();
	f = vu_server_features(P.srv);
	E.bad_chains_before_reset += vu_server_vq(P.srv, VV_DEV_CMDQ)->bad_chains;
	FUZZ_CHECK(vu_msg(VU_RESET_DEVICE, NULL, 0, -1, NULL) == 0);
	reap_all();
	{
		struct vv_device_stats st;

		vv_device_get_stats(P.dev, &st);
		FUZZ_CHECK(st.pending == 0 && st.streams == 0);
	}
	FUZZ_CHECK(vu_u64(VU_SET_FEATURES, f) == 0);
	for (unsigned i = 0; i < 2; i++) {
		struct gring *r = &E.ring[i];

		E.broken[i] = false;
		ring_init(r, r->index, r->num, r->desc_gpa, r->pool_start, r->pool_end);
		setup_ring(r);
	}
}

/* ---- the run ------------------------------------------------------------------------------ */

static void run_ops(struct fuzz_in *in)
{
	while (!fin_empty(in)) {
		switch (fin_u8(in) % VVD_OP_COUNT) {
		case VVD_OP_CMD:
		case VVD_OP_CMD2:
		case VVD_OP_CMD3:
			op_cmd(in);
			break;
		case VVD_OP_EVENT_BUF:
			op_event_buf(in);
			break;
		case VVD_OP_KICK:
			kick(fin_u8(in) & 1);
			break;
		case VVD_OP_RUN:
			run_once();
			break;
		case VVD_OP_MEM_REMOVE:
			op_mem_remove(in);
			break;
		case VVD_OP_MEM_READD:
			readd_regions();
			reap_all();
			break;
		case VVD_OP_STOP_START: {
			uint8_t v = fin_u8(in);

			stop_ring(&E.ring[v & 1], v & 2);
			break;
		}
		case VVD_OP_STATUS_RESET:
			op_status_reset();
			break;
		case VVD_OP_BREAK:
			op_break(in);
			break;
		case VVD_OP_DEVICE_RESET:
			op_device_reset();
			break;
		}
	}
}

/* Everything back in place, every stream destroyed, the command ring stopped: then
 * every command must have had its one response. */
static void finish(void)
{
	struct gring *cq = &E.ring[0];
	struct vv_device_stats st;
	static uint8_t cmd[8];

	readd_regions();
	for (unsigned i = 0; i < 2; i++)
		if (!E.ring[i].started)
			stop_ring(&E.ring[i], true);
	kick(VV_DEV_CMDQ);
	pump();
	for (unsigned i = 0; i < E.nsids; i++) {
		bool seen = false;

		for (unsigned j = 0; j < i; j++)
			seen |= E.sids[j] == E.sids[i];
		if (seen)
			continue;
		put_le32(cmd, VV_CMD_STREAM_DESTROY);
		put_le32(cmd + 4, E.sids[i]);
		send_cmd(cmd, sizeof(cmd), 5 /* 64 bytes, one descriptor */);
		pump();
	}
	stop_ring(cq, false);

	/* The device's counters run on across inputs: this input's share. */
	vv_device_get_stats(P.dev, &st);
	FUZZ_CHECK(st.pending == 0);
	FUZZ_CHECK(st.commands - E.st0.commands == st.responses - E.st0.responses);
	if (!E.ring_unmapped_ever && !E.broken_ever) {
		const struct virtq *vq = vu_server_vq(P.srv, VV_DEV_CMDQ);

		FUZZ_CHECK(cq->outstanding == 0);
		FUZZ_CHECK(cq->completions == st.responses - E.st0.responses + vq->bad_chains +
						      E.bad_chains_before_reset);
	}
}

/* True when the daemon, between inputs, is as after the first set-up (see env_up). */
static bool daemon_idle_as_new(void)
{
	const struct guest_mem *mem = vu_server_mem(P.srv);
	struct vv_device_stats st;

	vv_device_get_stats(P.dev, &st);
	if (st.pending || st.streams || mem->nregions != 2 || mem->nretired ||
	    !vu_server_connected(P.srv))
		return false;
	for (unsigned i = 0; i < 2; i++) {
		struct vu_mem_region want = region_desc(i);
		bool found = false;

		for (unsigned k = 0; k < mem->nregions; k++)
			found |= mem->regions[k].gpa == want.guest_phys_addr &&
				 mem->regions[k].size == want.memory_size &&
				 mem->regions[k].uva == want.userspace_addr &&
				 mem->regions[k].mmap_offset == want.mmap_offset;
		if (!found)
			return false;
	}
	return true;
}

/* The driver lets go of its eventfds and resets the device. The daemon is kept for the
 * next input when it is as new; otherwise, or when the input asks for a disconnection
 * (VVD_F_DISCONNECT), it is freed. */
static void env_down(void)
{
	for (unsigned i = 0; i < 2; i++) {
		if (E.ring[i].kick_fd >= 0)
			close(E.ring[i].kick_fd);
		if (E.ring[i].call_fd >= 0)
			close(E.ring[i].call_fd);
		if (E.ring[i].err_fd >= 0)
			close(E.ring[i].err_fd);
	}
	FUZZ_CHECK(vu_msg(VU_RESET_DEVICE, NULL, 0, -1, NULL) == 0);
	if (!(E.features & VVD_F_DISCONNECT) && !getenv("FUZZ_FRESH") && daemon_idle_as_new()) {
		FUZZ_CHECK(ev_loop_count(P.loop) == P.idle_handlers);
		return;
	}
	daemon_down();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	strict_reset = getenv("FUZZ_STRICT_RESET") != NULL;
	strict_remap = getenv("FUZZ_STRICT_REMAP") != NULL;
	ram_fd = fuzz_memfd(VVD_RAM_SIZE);
	FUZZ_CHECK(ram_fd >= 0);
	ram = mmap(NULL, VVD_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	FUZZ_CHECK(ram != MAP_FAILED);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Counted before each input (libFuzzer may open fds of its own between inputs, the
	 * symbolizer's pipes): after it, the process holds the same plus what a kept daemon
	 * holds between inputs, exactly. */
	unsigned fds = fuzz_count_fds(), maps = fuzz_count_guest_maps();
	struct fuzz_in in;
	uint8_t features, sizes;

	if (P.alive) {
		fds -= P.idle_fds;
		maps -= P.idle_maps;
	}
	fin_init(&in, data, size);
	features = fin_u8(&in);
	sizes = fin_u8(&in);
	memset(ram, 0, VVD_RAM_SIZE);
	env_up(features, sizes);
	run_ops(&in);
	finish();
	env_down();
	FUZZ_CHECK(fuzz_count_fds() == fds + (P.alive ? P.idle_fds : 0));
	FUZZ_CHECK(fuzz_count_guest_maps() == maps + (P.alive ? P.idle_maps : 0));
	return 0;
}
