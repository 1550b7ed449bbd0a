/* The virtio-video device against the real daemon binary (null backend),
 * through the front-end library: the guest driver's whole sequence in every
 * descriptor layout with scattered multi-entry resources, and hostile
 * commands (hostile-input items 14-19).
 *
 * Every command chain a test queues must get exactly one response: each test
 * counts the chains it sent and the responses it reaped and compares them at
 * its end (duplicates would show up as used entries for idle heads). After
 * each test the daemon must serve a fresh session and hold its idle fd count.
 * Commands and expected responses are written out here byte by byte from the
 * fact sheet; the device's own encoders are never used. */
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "vv_wire.h"

static struct daemon_proc d;
static int baseline_fds;

/* Guest RAM: two GPA-contiguous regions of 32 MiB. At connect time the tests
 * take [16 MiB, 64 MiB) away from the library's allocator and place resource
 * memory there themselves, so entries can be put across the region boundary
 * and scattered at will. Command and response buffers stay below 16 MiB. */
#define MIB (1ull << 20)
#define RAM_SIZE (64 * MIB)
#define BOUNDARY (32 * MIB)
#define POOL_LO_START (16 * MIB)
#define POOL_LO_END (BOUNDARY - MIB)
#define POOL_HI_START (BOUNDARY + MIB)
#define POOL_HI_END RAM_SIZE
#define PAGE 4096u

#define RESP_CAP 256u /* writable bytes of synchronous commands */
#define RQ_CAP 32u    /* RESOURCE_QUEUE: more than the 24 the answer takes */
#define WAIT_MS 5000

/* 320x240 NV12 after SET_PARAMS in the guest-driver sequence. */
#define W 320u
#define H 240u
#define Y_SIZE (W * H)
#define UV_SIZE (W * H / 2)
#define PIC_SIZE (Y_SIZE + UV_SIZE)

#define TS1 0x1122334455667788ull
#define TS2 0x8877665544332211ull
#define TS3 0x0123456789abcdefull
#define TS4 0xfedcba9876543210ull
#define TS5 0x00000000deadbeefull
#define TS6 0xc0ffee0000c0ffeeull

/* ---- one connection per test ------------------------------------------------------------- */

struct creq {
	struct vuf_req r;
	struct creq *next;
	unsigned order; /* completion number in this test, 0 while pending */
};

struct conn {
	bool open;
	struct vuf f;
	enum vuf_layout layout;  /* for the chains queued next */
	unsigned sent, answered; /* command chains queued / completed */
	unsigned events;         /* event buffers completed */
	unsigned completions;
	uint64_t lo_next, hi_next; /* pool bump pointers */
	struct creq *reqs;         /* every request of the test, freed at its end */
};

static struct conn C;

static void on_complete(struct vuf_vq *vq, struct vuf_req *req)
{
	struct creq *q = req->cookie;

	if (!q)
		return;
	q->order = ++C.completions;
	if (vq->index == VV_QUEUE_COMMAND)
		C.answered++;
	else
		C.events++;
}

static void free_reqs(void)
{
	while (C.reqs) {
		struct creq *q = C.reqs;

		C.reqs = q->next;
		vuf_req_fini(&q->r);
		free(q);
	}
}

static bool conn_open_opts(const struct vuf_opts *o)
{
	memset(&C, 0, sizeof(C));
	C.layout = VUF_LAYOUT_SINGLE;
	if (vuf_connect(&C.f, d.sock, 2000) < 0) {
		vuf_close(&C.f);
		return false;
	}
	C.open = true;
	if (vuf_start(&C.f, o) < 0)
		return false;
	C.f.vq[VV_QUEUE_COMMAND].on_complete = on_complete;
	C.f.vq[VV_QUEUE_EVENT].on_complete = on_complete;
	return true;
}

static void ram_opts(struct vuf_opts *o)
{
	vuf_opts_default(o);
	o->ram_size = RAM_SIZE;
	o->nregions = 2;
	/* Direct SPLIT chains take up to ~200 descriptors each. */
	o->queue_size[VV_QUEUE_COMMAND] = 1024;
}

/* The standard connection: GPA-contiguous regions, pool reserved. */
static bool conn_open(void)
{
	struct vuf_opts o;

	ram_opts(&o);
	if (!conn_open_opts(&o))
		return false;
	/* First fit: the top half of region 0, then all of region 1. */
	if (vuf_ram_alloc(&C.f.ram, BOUNDARY - POOL_LO_START, BOUNDARY - POOL_LO_START) !=
		    POOL_LO_START ||
	    vuf_ram_alloc(&C.f.ram, RAM_SIZE - BOUNDARY, RAM_SIZE - BOUNDARY) != BOUNDARY)
		return false;
	C.lo_next = POOL_LO_START;
	C.hi_next = POOL_HI_START;
	return true;
}

/* Reaps what is there after the daemon had time to do everything it owes. */
static void settle(void)
{
	sleep_ms(50);
	vuf_vq_reap(&C.f.vq[VV_QUEUE_COMMAND]);
	vuf_vq_reap(&C.f.vq[VV_QUEUE_EVENT]);
}

/* End of a test: one response per command, nothing left, daemon fine. */
static void conn_finish(void)
{
	struct vuf_vq *cq = &C.f.vq[VV_QUEUE_COMMAND];

	settle();
	CHECK_EQ(C.answered, C.sent);
	CHECK_EQ(cq->inflight, 0);
	CHECK_EQ(cq->bad_used, 0);
	CHECK_EQ(C.f.vq[VV_QUEUE_EVENT].bad_used, 0);
	CHECK(!cq->broken);
	vuf_close(&C.f);
	free_reqs();
	C.open = false;
	CHECK(daemon_alive(&d));
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

/* After a test that stopped early (REQUIRE): close what it left open. */
static void conn_abort(void)
{
	if (!C.open)
		return;
	vuf_close(&C.f);
	free_reqs();
	C.open = false;
}

#define RUN(fn)                      \
	do {                         \
		RUN_TEST(fn);        \
		conn_abort();        \
	} while (0)

static uint64_t pool_take(uint64_t *next, uint64_t end, uint64_t len)
{
	uint64_t gpa = *next;

	len = (len + PAGE - 1) / PAGE * PAGE;
	if (gpa + len > end)
		return 0;
	*next += len;
	return gpa;
}

static uint64_t pool_lo(uint64_t len)
{
	return pool_take(&C.lo_next, POOL_LO_END, len);
}

static uint64_t pool_hi(uint64_t len)
{
	return pool_take(&C.hi_next, POOL_HI_END, len);
}

/* ---- command chains ---------------------------------------------------------------------- */

static struct creq *new_req(void)
{
	struct creq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->r.cookie = q;
	q->next = C.reqs;
	C.reqs = q;
	return q;
}

/* Queues one command chain with the given layout; kicks unless told not to. */
static struct creq *submit_ex(const void *cmd, size_t len, size_t cap, enum vuf_layout layout,
			      bool kick)
{
	struct vuf_vq *vq = &C.f.vq[VV_QUEUE_COMMAND];
	size_t big = len > cap ? len : cap;
	struct creq *q = new_req();
	int ret;

	if (!q)
		return NULL;
	/* 7-byte pieces, fields straddling descriptors; long parts in at most 100
	 * pieces so a chain stays inside the device's 256 segments. */
	vq->split_piece = big > 100 * VUF_DEFAULT_SPLIT_PIECE ? (big + 99) / 100
							      : VUF_DEFAULT_SPLIT_PIECE;
	ret = vuf_vq_add(vq, &q->r, cmd, len, cap, layout);
	if (ret < 0) {
		fprintf(stderr, "vuf_vq_add(%zu, %zu): %s\n", len, cap, strerror(-ret));
		return NULL;
	}
	C.sent++;
	if (kick && vuf_vq_kick(vq) < 0)
		fprintf(stderr, "kick failed\n");
	return q;
}

static struct creq *submit(const void *cmd, size_t len, size_t cap)
{
	return submit_ex(cmd, len, cap, C.layout, true);
}

static bool wait_req(struct creq *q)
{
	return q && vuf_vq_wait(&C.f.vq[VV_QUEUE_COMMAND], &q->r, WAIT_MS) == 0;
}

static struct creq *waited(struct creq *q)
{
	wait_req(q);
	return q;
}

static struct creq *sync_cmd(const void *cmd, size_t len, size_t cap)
{
	return waited(submit(cmd, len, cap));
}

static bool pending(const struct creq *q)
{
	return q && !q->r.done;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	wr32(b + off, v);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	wr32(b + off, (uint32_t)v);
	wr32(b + off + 4, (uint32_t)(v >> 32));
}

/* The response type, 0 when there is none. */
static uint32_t resp_type(const struct creq *q)
{
	return q && q->r.done && q->r.resp && q->r.used_len >= 8 ? rd32(q->r.resp) : 0;
}

static bool resp_present(const struct creq *q, int line)
{
	if (!q) {
		fprintf(stderr, "line %d: the command was not queued\n", line);
		return false;
	}
	if (!q->r.done) {
		fprintf(stderr, "line %d: no response\n", line);
		return false;
	}
	return true;
}

/* A header-only response: exactly 8 bytes written, this type and stream. */
static bool hdr_ok(const struct creq *q, uint32_t type, uint32_t sid, int line)
{
	if (!resp_present(q, line))
		return false;
	if (q->r.used_len != 8 || !q->r.resp || rd32(q->r.resp) != type ||
	    rd32(q->r.resp + 4) != sid) {
		fprintf(stderr, "line %d: got used %u type 0x%x stream %u; want 8 0x%x %u\n", line,
			q->r.used_len, q->r.resp ? rd32(q->r.resp) : 0,
			q->r.resp ? rd32(q->r.resp + 4) : 0, type, sid);
		return false;
	}
	return true;
}

/* OK_RESOURCE_QUEUE: 24 bytes, and nothing written past them. */
static bool buf_ok(const struct creq *q, uint32_t sid, uint64_t ts, uint32_t flags,
		   uint32_t size, int line)
{
	const uint8_t *r;

	if (!resp_present(q, line))
		return false;
	r = q->r.resp;
	if (q->r.used_len != 24 || !r || q->r.resp_cap < 24 ||
	    rd32(r) != VV_RESP_OK_RESOURCE_QUEUE || rd32(r + 4) != sid || rd64(r + 8) != ts ||
	    rd32(r + 16) != flags || rd32(r + 20) != size) {
		fprintf(stderr,
			"line %d: got used %u type 0x%x stream %u ts 0x%llx flags 0x%x size %u; "
			"want 24 0x202 %u 0x%llx 0x%x %u\n",
			line, q->r.used_len, r ? rd32(r) : 0, r ? rd32(r + 4) : 0,
			r ? (unsigned long long)rd64(r + 8) : 0ull, r ? rd32(r + 16) : 0,
			r ? rd32(r + 20) : 0, sid, (unsigned long long)ts, flags, size);
		return false;
	}
	for (size_t i = 24; i < q->r.resp_cap; i++)
		if (r[i]) {
			fprintf(stderr, "line %d: byte %zu written past the response\n", line, i);
			return false;
		}
	return true;
}

/* Returned with nothing written at all. */
static bool empty_ok(const struct creq *q, int line)
{
	if (!resp_present(q, line))
		return false;
	for (size_t i = 0; q->r.resp && i < q->r.resp_cap; i++)
		if (q->r.resp[i]) {
			fprintf(stderr, "line %d: byte %zu written\n", line, i);
			return false;
		}
	if (q->r.used_len != 0) {
		fprintf(stderr, "line %d: used %u, want 0\n", line, q->r.used_len);
		return false;
	}
	return true;
}

/* A response with a body: used_len and every byte as expected. */
static bool bytes_ok(const struct creq *q, const uint8_t *want, size_t len, int line)
{
	if (!resp_present(q, line))
		return false;
	if (q->r.used_len != len || !q->r.resp || q->r.resp_cap < len) {
		fprintf(stderr, "line %d: used %u (type 0x%x), want %zu\n", line, q->r.used_len,
			q->r.resp ? rd32(q->r.resp) : 0, len);
		return false;
	}
	for (size_t i = 0; i < len; i++)
		if (q->r.resp[i] != want[i]) {
			fprintf(stderr, "line %d: byte %zu is 0x%02x, want 0x%02x\n", line, i,
				q->r.resp[i], want[i]);
			return false;
		}
	return true;
}

#define CHECK_HDR(q, type, sid) CHECK(hdr_ok((q), (type), (sid), __LINE__))
#define CHECK_BUF(q, sid, ts, flags, size) \
	CHECK(buf_ok((q), (sid), (ts), (flags), (size), __LINE__))
#define CHECK_EMPTY(q) CHECK(empty_ok((q), __LINE__))
#define CHECK_BYTES(q, want, len) CHECK(bytes_ok((q), (want), (len), __LINE__))
/* a answered strictly before b (used-ring order). */
#define CHECK_BEFORE(a, b) CHECK((a) && (b) && (a)->order && (b)->order && (a)->order < (b)->order)

/* ---- commands, byte by byte -------------------------------------------------------------- */

static struct creq *send_hdr(uint32_t type, uint32_t sid)
{
	uint8_t b[8];

	put32(b, 0, type);
	put32(b, 4, sid);
	return sync_cmd(b, sizeof(b), RESP_CAP);
}

/* {type, stream, queue_type, pad4}: QUERY_CAPABILITY, QUEUE_CLEAR, GET_PARAMS(_EXT), ... */
static struct creq *send_queue_cap(uint32_t type, uint32_t sid, uint32_t qt, size_t cap)
{
	uint8_t b[16] = { 0 };

	put32(b, 0, type);
	put32(b, 4, sid);
	put32(b, 8, qt);
	return sync_cmd(b, sizeof(b), cap);
}

static struct creq *send_queue(uint32_t type, uint32_t sid, uint32_t qt)
{
	return send_queue_cap(type, sid, qt, RESP_CAP);
}

static size_t mk_stream_create(uint8_t *b, uint32_t sid, uint32_t fmt, uint32_t in_mem,
			       uint32_t out_mem)
{
	static const char tag[] = "devit stream";

	memset(b, 0, 88);
	put32(b, 0, VV_CMD_STREAM_CREATE);
	put32(b, 4, sid);
	put32(b, 8, in_mem);
	put32(b, 12, out_mem);
	put32(b, 16, fmt);
	memcpy(b + 24, tag, sizeof(tag));
	return 88;
}

static struct creq *stream_create(uint32_t sid, uint32_t fmt)
{
	uint8_t b[88];

	return sync_cmd(b, mk_stream_create(b, sid, fmt, 0, 0), RESP_CAP);
}

static size_t mk_resource_queue(uint8_t *b, uint32_t sid, uint32_t qt, uint32_t rid, uint64_t ts,
				uint32_t nsizes, uint32_t size0)
{
	memset(b, 0, 64);
	put32(b, 0, VV_CMD_RESOURCE_QUEUE);
	put32(b, 4, sid);
	put32(b, 8, qt);
	put32(b, 12, rid);
	put64(b, 16, ts);
	put32(b, 24, nsizes);
	put32(b, 28, size0);
	return 64;
}

/* RESOURCE_QUEUE, not waited for (it completes when the buffer comes back). */
static struct creq *queue_buf_cap(uint32_t sid, uint32_t qt, uint32_t rid, uint64_t ts,
				  uint32_t nsizes, uint32_t size0, size_t cap)
{
	uint8_t b[64];

	return submit(b, mk_resource_queue(b, sid, qt, rid, ts, nsizes, size0), cap);
}

static struct creq *queue_out(uint32_t sid, uint32_t rid)
{
	return queue_buf_cap(sid, VV_QUEUE_TYPE_OUTPUT, rid, 0, 0, 0, RQ_CAP);
}

static struct creq *queue_in(uint32_t sid, uint32_t rid, uint64_t ts, uint32_t data_size)
{
	return queue_buf_cap(sid, VV_QUEUE_TYPE_INPUT, rid, ts, 1, data_size, RQ_CAP);
}

static struct creq *drain_async(uint32_t sid)
{
	uint8_t b[8];

	put32(b, 0, VV_CMD_STREAM_DRAIN);
	put32(b, 4, sid);
	return submit(b, sizeof(b), RESP_CAP);
}

struct ent {
	uint64_t gpa;
	uint32_t len;
};

/* RESOURCE_CREATE with n entries; the counts are sent as given (maybe absurd). */
static uint8_t *mk_resource_create(uint32_t sid, uint32_t qt, uint32_t rid, uint32_t layout,
				   uint32_t nplanes, const uint32_t *offsets,
				   const uint32_t *nentries, const struct ent *e, unsigned n,
				   size_t *len)
{
	uint8_t *b = calloc(1, 88 + 16 * (size_t)n);

	if (!b)
		return NULL;
	put32(b, 0, VV_CMD_RESOURCE_CREATE);
	put32(b, 4, sid);
	put32(b, 8, qt);
	put32(b, 12, rid);
	put32(b, 16, layout);
	put32(b, 20, nplanes);
	for (unsigned p = 0; p < nplanes && p < 8; p++) {
		put32(b, 24 + 4 * p, offsets ? offsets[p] : 0);
		put32(b, 56 + 4 * p, nentries[p]);
	}
	for (unsigned i = 0; i < n; i++) {
		put64(b, 88 + 16 * i, e[i].gpa);
		put32(b, 88 + 16 * i + 8, e[i].len);
	}
	*len = 88 + 16 * (size_t)n;
	return b;
}

static struct creq *res_create(uint32_t sid, uint32_t qt, uint32_t rid, uint32_t layout,
			       uint32_t nplanes, const uint32_t *offsets, const uint32_t *nentries,
			       const struct ent *e, unsigned n)
{
	size_t len;
	uint8_t *b = mk_resource_create(sid, qt, rid, layout, nplanes, offsets, nentries, e, n,
					&len);
	struct creq *q;

	if (!b)
		return NULL;
	q = sync_cmd(b, len, RESP_CAP);
	free(b);
	return q;
}

/* One plane, one entry. */
static struct creq *res_simple(uint32_t sid, uint32_t qt, uint32_t rid, uint64_t gpa, uint32_t len)
{
	const uint32_t one = 1;
	const struct ent e = { gpa, len };

	return res_create(sid, qt, rid, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL, &one, &e, 1);
}

/* Stream parameters as the wire has them (host-endian here). */
struct prm {
	uint32_t qt, fmt, w, h, min_bufs, max_bufs, crop[4], rate, nplanes;
	uint32_t psize[8], stride[8];
	uint32_t rtype;
};

/* params (112 bytes), or params_ext (120) with ext, at b. */
static void put_params(uint8_t *b, const struct prm *p, bool ext)
{
	memset(b, 0, ext ? 120 : 112);
	put32(b, 0, p->qt);
	put32(b, 4, p->fmt);
	put32(b, 8, p->w);
	put32(b, 12, p->h);
	put32(b, 16, p->min_bufs);
	put32(b, 20, p->max_bufs);
	for (unsigned i = 0; i < 4; i++)
		put32(b, 24 + 4 * i, p->crop[i]);
	put32(b, 40, p->rate);
	put32(b, 44, p->nplanes);
	for (unsigned i = 0; i < 8; i++) {
		put32(b, 48 + 8 * i, p->psize[i]);
		put32(b, 52 + 8 * i, p->stride[i]);
	}
	if (ext)
		put32(b, 112, p->rtype);
}

static struct creq *set_params(uint32_t sid, bool ext, const struct prm *p)
{
	uint8_t b[128];

	put32(b, 0, ext ? VV_CMD_SET_PARAMS_EXT : VV_CMD_SET_PARAMS);
	put32(b, 4, sid);
	put_params(b + 8, p, ext);
	return sync_cmd(b, ext ? 128 : 120, RESP_CAP);
}

/* The OK_GET_PARAMS a stream must answer. */
static size_t expect_params(uint8_t *b, uint32_t sid, const struct prm *p, bool ext)
{
	put32(b, 0, VV_RESP_OK_GET_PARAMS);
	put32(b, 4, sid);
	put_params(b + 8, p, ext);
	return ext ? 128 : 120;
}

/* What the null backend reports: a coded INPUT queue of w x h. */
static struct prm input_prm(uint32_t fmt, uint32_t w, uint32_t h, uint32_t bitstream)
{
	return (struct prm){
		.qt = VV_QUEUE_TYPE_INPUT, .fmt = fmt, .w = w, .h = h, .min_bufs = 2,
		.max_bufs = 32, .crop = { 0, 0, w, h }, .rate = 30, .nplanes = 1,
		.psize = { bitstream }, .stride = { 0 },
	};
}

/* ... and its NV12 or YUV420 OUTPUT queue (stride = row width). */
static struct prm output_prm(uint32_t fmt, uint32_t w, uint32_t h)
{
	struct prm p = {
		.qt = VV_QUEUE_TYPE_OUTPUT, .fmt = fmt, .w = w, .h = h, .min_bufs = 2,
		.max_bufs = 32, .crop = { 0, 0, w, h }, .rate = 30,
	};

	p.psize[0] = w * h;
	p.stride[0] = w;
	if (fmt == VV_FORMAT_NV12) {
		p.nplanes = 2;
		p.psize[1] = w * (h / 2);
		p.stride[1] = w;
	} else {
		p.nplanes = 3;
		for (unsigned i = 1; i < 3; i++) {
			p.psize[i] = (w / 2) * (h / 2);
			p.stride[i] = w / 2;
		}
	}
	return p;
}

/* The OK_QUERY_CAPABILITY of the null backend: two formats pairing with both of the
 * other queue's, SINGLE_BUFFER, align 1, one frame 16..4096 x 16..2304 step 2, rates
 * 1..60. */
static size_t expect_caps(uint8_t *b, uint32_t sid, uint32_t f0, uint32_t f1)
{
	const uint32_t fmts[2] = { f0, f1 };
	size_t off = 16;

	memset(b, 0, 176);
	put32(b, 0, VV_RESP_OK_QUERY_CAPABILITY);
	put32(b, 4, sid);
	put32(b, 8, 2);
	for (unsigned i = 0; i < 2; i++) {
		put64(b, off, 0x3);
		put32(b, off + 8, fmts[i]);
		put32(b, off + 12, VV_PLANES_LAYOUT_SINGLE_BUFFER);
		put32(b, off + 16, 1);
		put32(b, off + 20, 1);
		off += 24;
		put32(b, off, 16);
		put32(b, off + 4, 4096);
		put32(b, off + 8, 2);
		put32(b, off + 16, 16);
		put32(b, off + 20, 2304);
		put32(b, off + 24, 2);
		put32(b, off + 32, 1);
		off += 40;
		put32(b, off, 1);
		put32(b, off + 4, 60);
		put32(b, off + 8, 1);
		off += 16;
	}
	return off;
}

/* ---- events ------------------------------------------------------------------------------ */

static struct creq *post_event(size_t cap)
{
	struct vuf_vq *vq = &C.f.vq[VV_QUEUE_EVENT];
	struct creq *q = new_req();

	if (!q)
		return NULL;
	vq->split_piece = VUF_DEFAULT_SPLIT_PIECE;
	if (vuf_vq_add(vq, &q->r, NULL, 0, cap, C.layout) < 0)
		return NULL;
	vuf_vq_kick(vq);
	return q;
}

static bool event_ok(struct creq *q, uint32_t type, uint32_t sid, bool wait, int line)
{
	if (q && wait)
		vuf_vq_wait(&C.f.vq[VV_QUEUE_EVENT], &q->r, WAIT_MS);
	return hdr_ok(q, type, sid, line);
}

#define CHECK_EVENT(q, type, sid) CHECK(event_ok((q), (type), (sid), true, __LINE__))

/* ---- guest memory ------------------------------------------------------------------------ */

/* Bytes [off, off + len) of the concatenation of entries e[0 .. n). */
static bool gather(const struct ent *e, unsigned n, uint64_t off, uint8_t *dst, size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t chunk;

		if (off >= e[i].len) {
			off -= e[i].len;
			continue;
		}
		chunk = e[i].len - off < len ? (size_t)(e[i].len - off) : len;
		if (vuf_ram_read(&C.f.ram, e[i].gpa + off, dst, chunk) < 0)
			return false;
		dst += chunk;
		len -= chunk;
		off = 0;
	}
	return len == 0;
}

/* Bytes of plane `plane` of picture `pic` that differ from the null backend's pattern:
 * row r filled with (pic + r + 64 * plane) & 0xff, the whole stride. */
static size_t plane_errors(const struct ent *e, unsigned n, uint64_t off, uint32_t stride,
			   uint32_t rows, unsigned pic, unsigned plane)
{
	uint8_t *row = malloc(stride);
	size_t bad = 0;

	if (!row)
		return SIZE_MAX;
	for (uint32_t r = 0; r < rows; r++) {
		uint8_t want = (uint8_t)((pic + r + 64u * plane) & 0xff);

		if (!gather(e, n, off + (uint64_t)r * stride, row, stride)) {
			bad = SIZE_MAX;
			break;
		}
		for (uint32_t x = 0; x < stride; x++)
			bad += row[x] != want;
	}
	free(row);
	return bad;
}

/* True when guest memory [gpa, gpa + len) holds zeros only. */
static bool zero_bytes(uint64_t gpa, size_t len)
{
	uint8_t chunk[4096];

	while (len) {
		size_t n = len < sizeof(chunk) ? len : sizeof(chunk);

		if (vuf_ram_read(&C.f.ram, gpa, chunk, n) < 0)
			return false;
		for (size_t i = 0; i < n; i++)
			if (chunk[i])
				return false;
		gpa += n;
		len -= n;
	}
	return true;
}

/* ---- the guest driver's sequence --------------------------------------------------------- */

/* Resources of the sequence, all multi-entry and scattered:
 *  in1   SINGLE_BUFFER, 3 pages in reverse order;
 *  in2   one 8 KiB entry in region 1;
 *  outA  PER_PLANE NV12: Y = 19 pages in reverse order (the last entry 3072 bytes),
 *        UV = one entry across the region boundary, then every other page of region 1
 *        in reverse order (the last 1536 bytes);
 *  outB  SINGLE_BUFFER NV12: 4 entries of uneven lengths at odd addresses, out of
 *        order; the UV plane starts inside the third entry. */
struct seq_res {
	struct ent in1[3], in2[1], a[29], b[4];
};

static bool seq_alloc(struct seq_res *s)
{
	uint64_t in1 = pool_lo(3 * PAGE), in2 = pool_hi(2 * PAGE);
	uint64_t y = pool_lo(19 * PAGE), uv = pool_hi(18 * PAGE), slots = pool_lo(4 * 12 * PAGE);
	static const uint32_t b_len[4] = { 30000, 25000, 40000, 20200 };
	static const uint32_t b_slot[4] = { 3, 1, 2, 0 }, b_off[4] = { 100, 7, 4000, 1 };

	if (!in1 || !in2 || !y || !uv || !slots)
		return false;
	for (unsigned i = 0; i < 3; i++)
		s->in1[i] = (struct ent){ in1 + (2 - i) * PAGE, PAGE };
	s->in2[0] = (struct ent){ in2, 2 * PAGE };
	for (unsigned i = 0; i < 19; i++)
		s->a[i] = (struct ent){ y + (18 - i) * PAGE, i < 18 ? PAGE : Y_SIZE - 18 * PAGE };
	s->a[19] = (struct ent){ BOUNDARY - PAGE / 2, PAGE };
	for (unsigned i = 0; i < 9; i++)
		s->a[20 + i] = (struct ent){ uv + 2 * (8 - i) * PAGE,
					     i < 8 ? PAGE : UV_SIZE - 9 * PAGE };
	for (unsigned i = 0; i < 4; i++)
		s->b[i] = (struct ent){ slots + b_slot[i] * 12 * PAGE + b_off[i], b_len[i] };
	return true;
}

static void check_out_a(const struct seq_res *s, unsigned pic)
{
	CHECK_EQ(plane_errors(s->a, 19, 0, W, H, pic, 0), 0);
	CHECK_EQ(plane_errors(&s->a[19], 10, 0, W, H / 2, pic, 1), 0);
}

static void check_out_b(const struct seq_res *s, unsigned pic)
{
	CHECK_EQ(plane_errors(s->b, 4, 0, W, H, pic, 0), 0);
	CHECK_EQ(plane_errors(s->b, 4, Y_SIZE, W, H / 2, pic, 1), 0);
}

static void run_sequence(enum vuf_layout layout)
{
	const uint32_t sid = 0x5100 + (uint32_t)layout;
	const uint32_t n1 = 1, n3 = 3, a_n[2] = { 19, 10 }, b_n[2] = { 4, 0 };
	const uint32_t b_off[2] = { 0, Y_SIZE };
	struct prm in_p = input_prm(VV_FORMAT_H264, 640, 480, 1u << 20);
	struct prm out_p = output_prm(VV_FORMAT_NV12, 640, 480);
	struct creq *ev0, *ev1, *q, *i1, *i2, *i3, *oa, *ob, *dr, *clr;
	struct seq_res s;
	uint8_t want[256];
	size_t len;

	REQUIRE(conn_open());
	C.layout = layout;
	REQUIRE(seq_alloc(&s));
	ev0 = post_event(8);
	ev1 = post_event(8);
	REQUIRE(ev0 && ev1);

	/* Probe: capabilities of both queues, byte for byte. */
	q = send_queue_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_INPUT, 512);
	len = expect_caps(want, 0, VV_FORMAT_FWHT, VV_FORMAT_H264);
	CHECK_EQ(len, 176);
	CHECK_BYTES(q, want, len);
	q = send_queue_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_OUTPUT, 512);
	CHECK_BYTES(q, want, expect_caps(want, 0, VV_FORMAT_NV12, VV_FORMAT_YUV420));

	CHECK_HDR(stream_create(sid, VV_FORMAT_H264), VV_RESP_OK_NODATA, sid);

	/* Parameters in both numberings: 128-byte params_ext and 120-byte params. */
	q = send_queue(VV_CMD_GET_PARAMS_EXT, sid, VV_QUEUE_TYPE_INPUT);
	CHECK_BYTES(q, want, expect_params(want, sid, &in_p, true));
	q = send_queue(VV_CMD_GET_PARAMS, sid, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BYTES(q, want, expect_params(want, sid, &out_p, false));
	/* The stream header's size (INPUT) decides the OUTPUT size. */
	in_p = input_prm(VV_FORMAT_H264, W, H, 0);
	CHECK_HDR(set_params(sid, true, &in_p), VV_RESP_OK_NODATA, sid);
	in_p.psize[0] = 1u << 20; /* 0 asked for: unchanged */
	q = send_queue(VV_CMD_GET_PARAMS, sid, VV_QUEUE_TYPE_INPUT);
	CHECK_BYTES(q, want, expect_params(want, sid, &in_p, false));
	out_p = output_prm(VV_FORMAT_NV12, W, H);
	q = send_queue(VV_CMD_GET_PARAMS_EXT, sid, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BYTES(q, want, expect_params(want, sid, &out_p, true));
	CHECK_HDR(set_params(sid, false, &out_p), VV_RESP_OK_NODATA, sid);
	q = send_queue(VV_CMD_GET_PARAMS_EXT, sid, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BYTES(q, want, expect_params(want, sid, &out_p, true));

	/* Resources (the same ids on both queues are different resources). */
	CHECK_HDR(res_create(sid, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n3, s.in1, 3), VV_RESP_OK_NODATA, sid);
	CHECK_HDR(res_create(sid, VV_QUEUE_TYPE_INPUT, 2, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
			     &n1, s.in2, 1), VV_RESP_OK_NODATA, sid);
	CHECK_HDR(res_create(sid, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL,
			     a_n, s.a, 29), VV_RESP_OK_NODATA, sid);
	CHECK_HDR(res_create(sid, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2, b_off,
			     b_n, s.b, 4), VV_RESP_OK_NODATA, sid);

	/* Outputs first: held by the codec until pictures come. */
	oa = queue_out(sid, 1);
	ob = queue_out(sid, 2);
	settle();
	CHECK(pending(oa) && pending(ob));
	CHECK(pending(ev0));
	i1 = queue_in(sid, 1, TS1, 100);
	i2 = queue_in(sid, 2, TS2, 200);
	CHECK(wait_req(oa));
	/* The initial format was announced before the first picture: its event is in the
	 * event queue's used ring by the time the picture is in the command queue's. */
	vuf_vq_reap(&C.f.vq[VV_QUEUE_EVENT]);
	CHECK(event_ok(ev0, VV_EVENT_DECODER_RESOLUTION_CHANGED, sid, false, __LINE__));
	CHECK(wait_req(ob));
	CHECK_BUF(i1, sid, TS1, 0, 0);
	CHECK_BUF(oa, sid, TS1, 0, PIC_SIZE);
	CHECK_BUF(i2, sid, TS2, 0, 0);
	CHECK_BUF(ob, sid, TS2, 0, PIC_SIZE);
	/* Each input is done before its picture. */
	CHECK_BEFORE(i1, oa);
	CHECK_BEFORE(oa, i2);
	CHECK_BEFORE(i2, ob);
	check_out_a(&s, 0);
	check_out_b(&s, 1);

	/* Drain: the input waits for a picture buffer; a second drain and new input are
	 * refused meanwhile; the picture, then the EOS buffer, then the drain. */
	i3 = queue_in(sid, 1, TS3, 1);
	dr = drain_async(sid);
	settle();
	CHECK(pending(i3) && pending(dr));
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DRAIN, sid), VV_RESP_ERR_INVALID_OPERATION, sid);
	CHECK_HDR(waited(queue_in(sid, 2, TS4, 1)), VV_RESP_ERR_INVALID_OPERATION, sid);
	oa = queue_out(sid, 1);
	CHECK(wait_req(oa));
	CHECK_BUF(i3, sid, TS3, 0, 0);
	CHECK_BUF(oa, sid, TS3, 0, PIC_SIZE);
	CHECK_BEFORE(i3, oa);
	check_out_a(&s, 2);
	settle();
	CHECK(pending(dr));
	ob = queue_out(sid, 2);
	CHECK(wait_req(dr));
	CHECK_BUF(ob, sid, 0, VV_BUFFER_FLAG_EOS, 0);
	CHECK_HDR(dr, VV_RESP_OK_NODATA, sid);
	CHECK_BEFORE(ob, dr);
	/* Inputs are welcome again; one without data makes no picture. */
	CHECK_BUF(waited(queue_in(sid, 2, TS4, 0)), sid, TS4, 0, 0);

	/* Clear OUTPUT with both buffers held: each back with ERR, then the clear. */
	oa = queue_out(sid, 1);
	ob = queue_out(sid, 2);
	settle();
	CHECK(pending(oa) && pending(ob));
	clr = send_queue(VV_CMD_QUEUE_CLEAR, sid, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BUF(oa, sid, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(ob, sid, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, sid);
	CHECK_BEFORE(oa, clr);
	CHECK_BEFORE(ob, clr);
	/* Clear INPUT with an input and a drain pending. */
	i1 = queue_in(sid, 1, TS5, 50);
	dr = drain_async(sid);
	settle();
	CHECK(pending(i1) && pending(dr));
	clr = send_queue(VV_CMD_QUEUE_CLEAR, sid, VV_QUEUE_TYPE_INPUT);
	CHECK_BUF(i1, sid, TS5, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, sid);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, sid);
	CHECK_BEFORE(i1, clr);
	CHECK_BEFORE(dr, clr);

	/* Destroy with an input and a drain pending: both answered, then the destroy. */
	i1 = queue_in(sid, 1, TS6, 10);
	dr = drain_async(sid);
	settle();
	CHECK(pending(i1) && pending(dr));
	q = send_hdr(VV_CMD_STREAM_DESTROY, sid);
	CHECK_BUF(i1, sid, TS6, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, sid);
	CHECK_HDR(q, VV_RESP_OK_NODATA, sid);
	CHECK_BEFORE(i1, q);
	CHECK_BEFORE(dr, q);
	/* Gone for every command. */
	CHECK_HDR(send_queue(VV_CMD_GET_PARAMS_EXT, sid, VV_QUEUE_TYPE_OUTPUT),
		  VV_RESP_ERR_INVALID_STREAM_ID, sid);
	CHECK_HDR(waited(queue_out(sid, 1)), VV_RESP_ERR_INVALID_STREAM_ID, sid);
	/* One event in all. */
	settle();
	CHECK(pending(ev1));
	CHECK_EQ(C.events, 1);
	conn_finish();
}

static void t_sequence_single(void)
{
	run_sequence(VUF_LAYOUT_SINGLE);
}

static void t_sequence_split(void)
{
	run_sequence(VUF_LAYOUT_SPLIT);
}

static void t_sequence_indirect(void)
{
	run_sequence(VUF_LAYOUT_INDIRECT);
}

/* ---- item 14: short commands, unknown types, small response buffers ---------------------- */

static const enum vuf_layout all_layouts[3] = { VUF_LAYOUT_SINGLE, VUF_LAYOUT_SPLIT,
						VUF_LAYOUT_INDIRECT };

static void t_item14_shorter_than_header(void)
{
	uint8_t b[8];

	REQUIRE(conn_open());
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	put32(b, 0, VV_CMD_STREAM_DESTROY);
	put32(b, 4, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		/* No stream id to echo: 0. Nothing readable at all, 4 and 7 bytes. */
		CHECK_HDR(sync_cmd(NULL, 0, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
		CHECK_HDR(sync_cmd(b, 4, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
		CHECK_HDR(sync_cmd(b, 7, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 0);
		/* Not even room for the error. */
		CHECK_EMPTY(sync_cmd(b, 4, 7));
		/* The 7-byte STREAM_DESTROY did not destroy stream 1. */
		CHECK_EQ(resp_type(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT)),
			 VV_RESP_OK_GET_PARAMS);
	}
	C.layout = VUF_LAYOUT_SINGLE;
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

static void t_item14_shorter_than_body(void)
{
	struct {
		uint32_t type, control;
		size_t len;
	} cases[] = {
		{ VV_CMD_QUERY_CAPABILITY, 0, 15 },    { VV_CMD_QUERY_CAPABILITY, 0, 12 },
		{ VV_CMD_STREAM_CREATE, 0, 87 },       { VV_CMD_STREAM_CREATE, 0, 20 },
		{ VV_CMD_RESOURCE_CREATE, 0, 87 },     { VV_CMD_RESOURCE_QUEUE, 0, 63 },
		{ VV_CMD_RESOURCE_QUEUE, 0, 24 },      { VV_CMD_RESOURCE_DESTROY_ALL, 0, 15 },
		{ VV_CMD_QUEUE_CLEAR, 0, 12 },         { VV_CMD_GET_PARAMS, 0, 15 },
		{ VV_CMD_GET_PARAMS_EXT, 0, 8 },       { VV_CMD_SET_PARAMS, 0, 119 },
		{ VV_CMD_SET_PARAMS_EXT, 0, 127 },     { VV_CMD_SET_PARAMS_EXT, 0, 120 },
		{ VV_CMD_QUERY_CONTROL, VV_CONTROL_PROFILE, 16 },
		{ VV_CMD_QUERY_CONTROL, VV_CONTROL_LEVEL, 23 },
		{ VV_CMD_QUERY_CONTROL, 0, 12 },       { VV_CMD_GET_CONTROL, 0, 12 },
		{ VV_CMD_SET_CONTROL, VV_CONTROL_PROFILE, 16 },
		{ VV_CMD_SET_CONTROL, VV_CONTROL_BITRATE, 23 },
	};
	const uint32_t two = 2;
	struct ent e[1];
	uint8_t b[128];
	uint8_t *rc;
	size_t len;
	uint64_t buf;

	REQUIRE(conn_open());
	buf = pool_lo(PAGE);
	e[0] = (struct ent){ buf, PAGE };
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			/* A body that would be valid if it were complete. */
			memset(b, 0, sizeof(b));
			put32(b, 0, cases[i].type);
			put32(b, 4, 2);
			put32(b, 8, cases[i].control ? cases[i].control : VV_QUEUE_TYPE_INPUT);
			put32(b, 16, VV_FORMAT_H264);
			CHECK_HDR(sync_cmd(b, cases[i].len, RESP_CAP),
				  VV_RESP_ERR_INVALID_PARAMETER, 2);
			if (tl_cur_failed)
				fprintf(stderr, "  (case %u, layout %u)\n", i, l);
		}
		/* RESOURCE_CREATE announcing two entries and carrying one. */
		rc = mk_resource_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER,
					1, NULL, &two, e, 1, &len);
		REQUIRE(rc);
		CHECK_HDR(sync_cmd(rc, len, RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
		free(rc);
	}
	/* Nothing came of them: stream 2 does not exist, resource 1 can be created. */
	C.layout = VUF_LAYOUT_SINGLE;
	CHECK_HDR(send_queue(VV_CMD_GET_PARAMS, 2, VV_QUEUE_TYPE_INPUT),
		  VV_RESP_ERR_INVALID_STREAM_ID, 2);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, buf, PAGE), VV_RESP_OK_NODATA, 1);
	/* Trailing bytes after a complete command are tolerated. */
	memset(b, 0xee, sizeof(b));
	put32(b, 0, VV_CMD_GET_PARAMS_EXT);
	put32(b, 4, 1);
	put32(b, 8, VV_QUEUE_TYPE_INPUT);
	put32(b, 12, 0);
	CHECK_EQ(resp_type(sync_cmd(b, sizeof(b), RESP_CAP)), VV_RESP_OK_GET_PARAMS);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

static void t_item14_unknown_type(void)
{
	static const uint32_t types[] = { 0, 0x00ff, 0x010f, 0x0110, 0x0200, 0x0202, 0x0300,
					  0x1000, 0xffffffffu };
	uint8_t b[16] = { 0 };

	REQUIRE(conn_open());
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			put32(b, 0, types[i]);
			put32(b, 4, 7);
			put32(b, 8, VV_QUEUE_TYPE_INPUT);
			CHECK_HDR(sync_cmd(b, 16, RESP_CAP), VV_RESP_ERR_INVALID_OPERATION, 7);
			/* A header alone. */
			CHECK_HDR(sync_cmd(b, 8, RESP_CAP), VV_RESP_ERR_INVALID_OPERATION, 7);
		}
	}
	conn_finish();
}

static void t_item14_small_response_buffer(void)
{
	uint8_t want[256];
	struct creq *q, *o, *dr;
	uint64_t in, out;

	REQUIRE(conn_open());
	in = pool_lo(PAGE);
	out = pool_lo(640 * 480 * 3 / 2);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, out, 640 * 480 * 3 / 2),
		  VV_RESP_OK_NODATA, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		/* Room for a header but not the answer: ERR_INVALID_PARAMETER. */
		CHECK_HDR(send_queue_cap(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_INPUT, 127),
			  VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(send_queue_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 119),
			  VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(send_queue_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 8),
			  VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(send_queue_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_OUTPUT, 175),
			  VV_RESP_ERR_INVALID_PARAMETER, 0);
		/* Exactly enough. */
		q = send_queue_cap(VV_CMD_QUERY_CAPABILITY, 0, VV_QUEUE_TYPE_OUTPUT, 176);
		CHECK_BYTES(q, want, expect_caps(want, 0, VV_FORMAT_NV12, VV_FORMAT_YUV420));
		/* Not even a header fits: returned with nothing written. */
		CHECK_EMPTY(send_queue_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 7));
		CHECK_EMPTY(send_queue_cap(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_INPUT, 1));
		CHECK_EMPTY(send_queue_cap(VV_CMD_GET_PARAMS_EXT, 9, VV_QUEUE_TYPE_INPUT, 7));
		CHECK_EMPTY(send_queue_cap(0x1234, 1, VV_QUEUE_TYPE_INPUT, 4));
		/* No writable part at all. */
		CHECK_EMPTY(send_queue_cap(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT, 0));
		/* RESOURCE_QUEUE whose completion would not fit: answered at once, not kept. */
		CHECK_HDR(waited(queue_buf_cap(1, VV_QUEUE_TYPE_INPUT, 1, 5, 1, 0, 23)),
			  VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_EMPTY(waited(queue_buf_cap(1, VV_QUEUE_TYPE_INPUT, 1, 5, 1, 0, 4)));
		CHECK_EMPTY(waited(queue_buf_cap(1, VV_QUEUE_TYPE_OUTPUT, 1, 0, 0, 0, 0)));
		q = waited(queue_buf_cap(1, VV_QUEUE_TYPE_INPUT, 1, TS1, 1, 0, 24));
		CHECK_BUF(q, 1, TS1, 0, 0);
		/* A drain with no room for its answer still completes, writing nothing. */
		dr = submit((uint8_t[8]){ 0x03, 0x01, 0, 0, 1, 0, 0, 0 }, 8, 4);
		settle();
		CHECK(pending(dr));
		o = queue_out(1, 1);
		CHECK(wait_req(dr));
		CHECK_BUF(o, 1, 0, VV_BUFFER_FLAG_EOS, 0);
		CHECK_EMPTY(dr);
		CHECK_BEFORE(o, dr);
	}
	C.layout = VUF_LAYOUT_SINGLE;
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* ---- item 15: counts over their limits, offsets beyond the resource, absurd sizes -------- */

static void t_item15_counts(void)
{
	const uint32_t n9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, n4097 = 4097, n0 = 0;
	const uint32_t split[2] = { 2048, 2049 }, huge[2] = { 0xffffffffu, 2 };
	uint32_t n4096 = 4096;
	struct ent e[2], *many;
	uint64_t buf, blk;
	uint8_t b[64];

	REQUIRE(conn_open());
	buf = pool_lo(PAGE);
	blk = pool_lo(4096 * 16);
	e[0] = (struct ent){ buf, 1000 };
	e[1] = (struct ent){ buf + 2000, 1000 };
	many = calloc(4096, sizeof(*many));
	REQUIRE(many);
	/* 4096 entries of 16 bytes, in reverse order: the most a resource may have. */
	for (unsigned i = 0; i < 4096; i++)
		many[i] = (struct ent){ blk + 16ull * (4095 - i), 16 };
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		/* num_planes 0 and 9. */
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 0,
				     NULL, &n0, e, 1), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 9,
				     NULL, n9, many, 9), VV_RESP_ERR_INVALID_PARAMETER, 1);
		/* Entries over 4096: one plane, spread over planes, wrapping counts. */
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
				     NULL, &n4097, many, 1), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 2,
				     NULL, split, many, 4096), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_PER_PLANE, 2,
				     NULL, huge, many, 2), VV_RESP_ERR_INVALID_PARAMETER, 1);
		/* Exactly 4096 (the largest command there is) is fine and can be queued. */
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 9, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
				     NULL, &n4096, many, 4096), VV_RESP_OK_NODATA, 1);
		CHECK_BUF(waited(queue_in(1, 9, 0x4096, 0)), 1, 0x4096, 0, 0);
		CHECK_HDR(send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 1, VV_QUEUE_TYPE_INPUT),
			  VV_RESP_OK_NODATA, 1);
		/* num_data_sizes 9; more sizes than planes; sizes larger than the plane. */
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
				     NULL, (const uint32_t[]){ 2 }, e, 2), VV_RESP_OK_NODATA, 1);
		mk_resource_queue(b, 1, VV_QUEUE_TYPE_INPUT, 1, 0, 9, 1);
		CHECK_HDR(sync_cmd(b, 64, RQ_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
		mk_resource_queue(b, 1, VV_QUEUE_TYPE_INPUT, 1, 0, 0xffffffffu, 1);
		CHECK_HDR(sync_cmd(b, 64, RQ_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
		mk_resource_queue(b, 1, VV_QUEUE_TYPE_INPUT, 1, 0, 2, 1);
		CHECK_HDR(sync_cmd(b, 64, RQ_CAP), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(waited(queue_in(1, 1, 0, 2001)), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(waited(queue_in(1, 1, 0, 0xffffffffu)), VV_RESP_ERR_INVALID_PARAMETER, 1);
		CHECK_HDR(send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 1, VV_QUEUE_TYPE_INPUT),
			  VV_RESP_OK_NODATA, 1);
	}
	free(many);
	C.layout = VUF_LAYOUT_SINGLE;
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

static void t_item15_plane_offsets(void)
{
	static const uint32_t bad_single[][2] = {
		{ 0, 2000 }, { 0, 0xffffffffu }, { 100, 50 }, { 50, 50 }, { 2000, 2001 },
	};
	const uint32_t one[2] = { 1, 1 }, two_in_one[2] = { 2, 0 };
	struct ent e[2];
	uint64_t buf;
	struct creq *q;

	REQUIRE(conn_open());
	buf = pool_lo(PAGE);
	e[0] = (struct ent){ buf, 1000 };
	e[1] = (struct ent){ buf + 2000, 1000 };
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	/* SINGLE_BUFFER (2000 bytes): a plane starting at or past the end, planes out of
	 * order or empty. */
	for (unsigned i = 0; i < sizeof(bad_single) / sizeof(bad_single[0]); i++)
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2,
				     bad_single[i], two_in_one, e, 2),
			  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
			     (const uint32_t[]){ 2000 }, two_in_one, e, 2),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* PER_PLANE (1000 bytes each): an offset at the end of its plane. */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2,
			     (const uint32_t[]){ 0, 1000 }, one, e, 2),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2,
			     (const uint32_t[]){ 0xfffffff0u, 0 }, one, e, 2),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* A PER_PLANE plane without entries; an unknown layout. */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 3, VV_PLANES_LAYOUT_PER_PLANE, 2, NULL,
			     two_in_one, e, 2), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 3, 3, 1, NULL, one, e, 1),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* The limits themselves are fine: last byte of the buffer, of the plane. */
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 2,
			     (const uint32_t[]){ 0, 1999 }, two_in_one, e, 2),
		  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 2, VV_PLANES_LAYOUT_PER_PLANE, 2,
			     (const uint32_t[]){ 0, 999 }, one, e, 2), VV_RESP_OK_NODATA, 1);
	/* Such tiny pictures buffers come back with ERR when a picture is due. */
	q = queue_out(1, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_BUF(waited(queue_in(1, 1, TS2, 16)), 1, TS2, 0, 0);
	CHECK(wait_req(q));
	CHECK_BUF(q, 1, TS2, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

static void t_item15_absurd_params(void)
{
	uint8_t want[128], b[128];
	struct prm p;
	struct creq *q;

	REQUIRE(conn_open());
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	/* Absurd OUTPUT sizes are clamped; plane sizes cannot overflow 32 bits. */
	p = output_prm(VV_FORMAT_NV12, 0xffffffffu, 0xffffffffu);
	p.nplanes = 8;
	for (unsigned i = 0; i < 8; i++)
		p.psize[i] = p.stride[i] = 0xffffffffu;
	CHECK_HDR(set_params(1, false, &p), VV_RESP_OK_NODATA, 1);
	p = output_prm(VV_FORMAT_NV12, 4096, 2304);
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT), want,
		    expect_params(want, 1, &p, false));
	p = output_prm(VV_FORMAT_YUV420, 0x10000, 0x10000);
	CHECK_HDR(set_params(1, true, &p), VV_RESP_OK_NODATA, 1);
	p = output_prm(VV_FORMAT_YUV420, 4096, 2304);
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT), want,
		    expect_params(want, 1, &p, true));
	p = output_prm(VV_FORMAT_YUV420, 1921, 1081);
	CHECK_HDR(set_params(1, true, &p), VV_RESP_OK_NODATA, 1);
	p = output_prm(VV_FORMAT_YUV420, 1920, 1080);
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_OUTPUT), want,
		    expect_params(want, 1, &p, true));
	p = output_prm(VV_FORMAT_NV12, 0, 1);
	CHECK_HDR(set_params(1, false, &p), VV_RESP_OK_NODATA, 1);
	p = output_prm(VV_FORMAT_NV12, 16, 16);
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT), want,
		    expect_params(want, 1, &p, false));
	/* An absurd INPUT size: clamped, and the OUTPUT follows; a bitstream buffer size
	 * far too large is kept within 64 MiB, the frame rate within 60. */
	p = input_prm(VV_FORMAT_H264, 0xfffffffeu, 0x7fffffffu, 0xffffffffu);
	p.rate = 0xffffffffu;
	CHECK_HDR(set_params(1, true, &p), VV_RESP_OK_NODATA, 1);
	p = input_prm(VV_FORMAT_H264, 4096, 2304, 64u << 20);
	p.rate = 60;
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_INPUT), want,
		    expect_params(want, 1, &p, true));
	p = output_prm(VV_FORMAT_NV12, 4096, 2304);
	p.rate = 60;
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT), want,
		    expect_params(want, 1, &p, false));
	/* Refused: params num_planes 9, wrong-queue and unknown formats, an unknown queue
	 * type, object memory or an unknown resource type. */
	p = input_prm(VV_FORMAT_H264, 64, 64, 4096);
	p.nplanes = 9;
	CHECK_HDR(set_params(1, false, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(set_params(1, true, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p = output_prm(VV_FORMAT_H264, 64, 64);
	CHECK_HDR(set_params(1, false, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p = input_prm(VV_FORMAT_NV12, 64, 64, 4096);
	CHECK_HDR(set_params(1, false, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p = input_prm(0x7777, 64, 64, 4096);
	CHECK_HDR(set_params(1, true, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p = input_prm(VV_FORMAT_H264, 64, 64, 4096);
	p.qt = 0x99;
	CHECK_HDR(set_params(1, false, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p.qt = VV_QUEUE_TYPE_INPUT;
	p.rtype = VV_MEM_TYPE_VIRTIO_OBJECT;
	CHECK_HDR(set_params(1, true, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	p.rtype = 7;
	CHECK_HDR(set_params(1, true, &p), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* None of the refused ones changed anything. */
	p = input_prm(VV_FORMAT_H264, 4096, 2304, 64u << 20);
	p.rate = 60;
	CHECK_BYTES(send_queue(VV_CMD_GET_PARAMS_EXT, 1, VV_QUEUE_TYPE_INPUT), want,
		    expect_params(want, 1, &p, true));
	/* Bad queue types and mem types elsewhere. */
	CHECK_HDR(send_queue(VV_CMD_GET_PARAMS, 1, 0x102), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(send_queue(VV_CMD_QUEUE_CLEAR, 1, 0), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(send_queue(VV_CMD_QUERY_CAPABILITY, 1, 0xffffffffu),
		  VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(sync_cmd(b, mk_stream_create(b, 2, VV_FORMAT_H264, VV_MEM_TYPE_VIRTIO_OBJECT, 0),
			   RESP_CAP), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(sync_cmd(b, mk_stream_create(b, 2, VV_FORMAT_H264, 0, 2), RESP_CAP),
		  VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(stream_create(2, VV_FORMAT_VP9), VV_RESP_ERR_INVALID_PARAMETER, 2);
	CHECK_HDR(stream_create(2, VV_FORMAT_NV12), VV_RESP_ERR_INVALID_PARAMETER, 2);
	q = send_queue(VV_CMD_GET_PARAMS, 2, VV_QUEUE_TYPE_INPUT);
	CHECK_HDR(q, VV_RESP_ERR_INVALID_STREAM_ID, 2);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* ---- item 16: ids and table caps --------------------------------------------------------- */

static void t_item16_unknown_and_duplicate_ids(void)
{
	static const uint32_t stream_cmds[] = {
		VV_CMD_STREAM_DESTROY,       VV_CMD_STREAM_DRAIN,  VV_CMD_RESOURCE_CREATE,
		VV_CMD_RESOURCE_QUEUE,       VV_CMD_GET_PARAMS,    VV_CMD_SET_PARAMS,
		VV_CMD_RESOURCE_DESTROY_ALL, VV_CMD_QUEUE_CLEAR,   VV_CMD_GET_CONTROL,
		VV_CMD_SET_CONTROL,          VV_CMD_GET_PARAMS_EXT, VV_CMD_SET_PARAMS_EXT,
	};
	uint8_t *b;
	uint64_t buf;
	struct creq *o;

	REQUIRE(conn_open());
	buf = pool_lo(PAGE);
	b = calloc(1, 256);
	REQUIRE(b);
	/* Every stream command, each with a valid body, on a stream that does not exist. */
	for (unsigned i = 0; i < sizeof(stream_cmds) / sizeof(stream_cmds[0]); i++) {
		memset(b, 0, 256);
		put32(b, 0, stream_cmds[i]);
		put32(b, 4, 99);
		put32(b, 8, VV_QUEUE_TYPE_INPUT);
		put32(b, 16, VV_PLANES_LAYOUT_SINGLE_BUFFER);
		put32(b, 20, 1);
		put32(b, 56, 1);
		put64(b, 88, buf);
		put32(b, 96, 16);
		if (stream_cmds[i] == VV_CMD_GET_CONTROL || stream_cmds[i] == VV_CMD_SET_CONTROL)
			put32(b, 8, VV_CONTROL_PROFILE);
		CHECK_HDR(sync_cmd(b, 256, RESP_CAP), VV_RESP_ERR_INVALID_STREAM_ID, 99);
		if (tl_cur_failed)
			fprintf(stderr, "  (command 0x%x)\n", stream_cmds[i]);
	}
	free(b);
	/* Duplicate stream id. */
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(1, VV_FORMAT_FWHT), VV_RESP_ERR_INVALID_STREAM_ID, 1);
	/* Duplicate and unknown resource ids; the same id on the other queue is another
	 * resource. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 5, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 5, buf, 16), VV_RESP_ERR_INVALID_RESOURCE_ID,
		  1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 5, buf, 16), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(waited(queue_out(1, 6)), VV_RESP_ERR_INVALID_RESOURCE_ID, 1);
	CHECK_HDR(waited(queue_in(1, 6, 1, 1)), VV_RESP_ERR_INVALID_RESOURCE_ID, 1);
	/* Queued twice: the second is refused, the first stays with the codec. */
	o = queue_out(1, 5);
	CHECK_HDR(waited(queue_out(1, 5)), VV_RESP_ERR_INVALID_OPERATION, 1);
	settle();
	CHECK(pending(o));
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_BUF(o, 1, 0, VV_BUFFER_FLAG_ERR, 0);
	conn_finish();
}

static void t_item16_table_caps(void)
{
	const uint32_t sid = 0x80000000u;
	uint64_t buf;
	struct creq *o, *da;

	REQUIRE(conn_open());
	buf = pool_lo(129 * 16);
	/* 32 streams (ids need not be small); the 33rd is refused. */
	for (uint32_t i = 0; i < 32; i++)
		CHECK_HDR(stream_create(0x80000000u + i, i & 1 ? VV_FORMAT_FWHT : VV_FORMAT_H264),
			  VV_RESP_OK_NODATA, 0x80000000u + i);
	CHECK_HDR(stream_create(7, VV_FORMAT_H264), VV_RESP_ERR_OUT_OF_MEMORY, 7);
	CHECK_HDR(stream_create(0x80000000u, VV_FORMAT_H264), VV_RESP_ERR_INVALID_STREAM_ID,
		  0x80000000u);
	for (uint32_t i = 1; i < 32; i++)
		CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 0x80000000u + i), VV_RESP_OK_NODATA,
			  0x80000000u + i);
	/* A slot is free again. */
	CHECK_HDR(stream_create(7, VV_FORMAT_H264), VV_RESP_OK_NODATA, 7);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 7), VV_RESP_OK_NODATA, 7);

	/* 128 resources per queue; the 129th is refused; the other queue has its own. */
	for (uint32_t i = 0; i < 128; i++)
		CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_OUTPUT, 100 + i, buf + 16 * i, 16),
			  VV_RESP_OK_NODATA, sid);
	CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_OUTPUT, 1000, buf + 16 * 128, 16),
		  VV_RESP_ERR_OUT_OF_MEMORY, sid);
	CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_INPUT, 1000, buf, 16), VV_RESP_OK_NODATA, sid);
	/* RESOURCE_DESTROY_ALL with one of them held: it comes back first. */
	o = queue_out(sid, 127);
	settle();
	CHECK(pending(o));
	da = send_queue(VV_CMD_RESOURCE_DESTROY_ALL, sid, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BUF(o, sid, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(da, VV_RESP_OK_NODATA, sid);
	CHECK_BEFORE(o, da);
	/* The table is empty again. */
	for (uint32_t i = 0; i < 128; i++)
		CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_OUTPUT, 200 + i, buf + 16 * i, 16),
			  VV_RESP_OK_NODATA, sid);
	CHECK_HDR(res_simple(sid, VV_QUEUE_TYPE_OUTPUT, 1000, buf, 16), VV_RESP_ERR_OUT_OF_MEMORY,
		  sid);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, sid), VV_RESP_OK_NODATA, sid);
	conn_finish();
}

/* The device holds at most 2^20 mem entries over all resources: 256 resources of 4096
 * entries reach it exactly, one entry more is refused, freeing makes room again. */
static void t_item16_total_entries_cap(void)
{
	const uint32_t n4096 = 4096;
	struct ent *many;
	uint64_t blk;
	uint8_t *rc;
	size_t len;
	unsigned ok = 0;

	REQUIRE(conn_open());
	blk = pool_lo(4096 * 16);
	many = calloc(4096, sizeof(*many));
	REQUIRE(many);
	for (unsigned i = 0; i < 4096; i++)
		many[i] = (struct ent){ blk + 16ull * ((i * 7) % 4096), 16 };
	rc = mk_resource_create(1, VV_QUEUE_TYPE_INPUT, 0, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL,
				&n4096, many, 4096, &len);
	free(many);
	REQUIRE(rc);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_H264), VV_RESP_OK_NODATA, 2);
	for (uint32_t i = 0; i < 256; i++) {
		put32(rc, 8, i < 128 ? VV_QUEUE_TYPE_INPUT : VV_QUEUE_TYPE_OUTPUT);
		put32(rc, 12, i % 128);
		ok += hdr_ok(sync_cmd(rc, len, RESP_CAP), VV_RESP_OK_NODATA, 1, __LINE__);
	}
	free(rc);
	CHECK_EQ(ok, 256);
	CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_INPUT, 1, blk, 16), VV_RESP_ERR_OUT_OF_MEMORY, 2);
	CHECK_HDR(send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 1, VV_QUEUE_TYPE_INPUT),
		  VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_INPUT, 1, blk, 16), VV_RESP_OK_NODATA, 2);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 2), VV_RESP_OK_NODATA, 2);
	conn_finish();
}

/* ---- item 17: memory entries ------------------------------------------------------------- */

static void t_item17_entries_outside_ram(void)
{
	const struct ent bad[] = {
		{ RAM_SIZE, 16 },                     /* just past RAM */
		{ RAM_SIZE + 0x100000, 16 },          /* beyond */
		{ RAM_SIZE - 0x100, 0x200 },          /* runs off the end */
		{ 0xfffffffffffff000ull, 0x2000 },    /* wraps */
		{ 0x8000000000000000ull, PAGE },      /* far away */
		{ POOL_LO_START, 0 },                 /* empty */
	};
	const uint32_t n1 = 1, n2 = 2;
	struct ent two[2];
	uint64_t buf;

	REQUIRE(conn_open());
	buf = pool_lo(PAGE);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1,
					     VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, NULL, &n1, &bad[i],
					     1), VV_RESP_ERR_INVALID_PARAMETER, 1);
			/* A bad entry after a good one. */
			two[0] = (struct ent){ buf, 64 };
			two[1] = bad[i];
			CHECK_HDR(res_create(1, VV_QUEUE_TYPE_OUTPUT, 1,
					     VV_PLANES_LAYOUT_PER_PLANE, 1, NULL, &n2, two, 2),
				  VV_RESP_ERR_INVALID_PARAMETER, 1);
			if (tl_cur_failed)
				fprintf(stderr, "  (entry %u, layout %u)\n", i, l);
		}
	}
	/* Nothing was kept: the ids are free. */
	C.layout = VUF_LAYOUT_SINGLE;
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, buf, 64), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, buf, 64), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* An entry spanning two GPA-contiguous regions is one buffer; the picture lands
 * across the boundary. */
static void t_item17_entry_spans_regions(void)
{
	const uint32_t pic = 640 * 480 * 3 / 2;
	const struct ent out = { BOUNDARY - 0x10000, pic }, in = { BOUNDARY - PAGE / 2, PAGE };
	struct creq *o, *i1;

	REQUIRE(conn_open());
	CHECK_HDR(stream_create(1, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in.gpa, in.len), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, out.gpa, out.len), VV_RESP_OK_NODATA, 1);
	o = queue_out(1, 1);
	i1 = queue_in(1, 1, TS3, PAGE);
	CHECK(wait_req(o));
	CHECK_BUF(i1, 1, TS3, 0, 0);
	CHECK_BUF(o, 1, TS3, 0, pic);
	CHECK_EQ(plane_errors(&out, 1, 0, 640, 480, 0, 0), 0);
	CHECK_EQ(plane_errors(&out, 1, 640 * 480, 640, 240, 0, 1), 0);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* Regions with a hole between them: an entry in the hole, or across it, is refused. */
static void t_item17_gpa_hole(void)
{
	struct vuf_opts o;
	const uint64_t hole = BOUNDARY, r1 = BOUNDARY + MIB;
	const uint32_t n1 = 1;
	const struct ent bad[] = {
		{ hole, 16 }, { hole + 0x1000, PAGE }, { hole - PAGE / 2, PAGE },
		{ r1 - 8, 16 }, { hole - PAGE, (uint32_t)MIB + 2 * PAGE },
	};

	ram_opts(&o);
	o.gpa_gap = MIB;
	REQUIRE(conn_open_opts(&o));
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_HDR(res_create(1, VV_QUEUE_TYPE_INPUT, 1, VV_PLANES_LAYOUT_SINGLE_BUFFER, 1,
				     NULL, &n1, &bad[i], 1), VV_RESP_ERR_INVALID_PARAMETER, 1);
	/* Each side of the hole is fine. */
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, hole - PAGE, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 2, r1, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* Entries are translated again at each RESOURCE_QUEUE: a region removed after
 * RESOURCE_CREATE makes the queue fail, and it works again once the region is back.
 * A buffer already held by the codec when its region goes keeps its memory until it
 * comes back. */
static void t_item17_region_removed(void)
{
	struct vuf_opts o;
	const uint32_t pic = 640 * 480 * 3 / 2;
	uint64_t in, out;
	struct creq *ob, *i1;

	ram_opts(&o);
	o.use_add_mem_reg = true;
	REQUIRE(conn_open_opts(&o));
	in = vuf_ram_alloc(&C.f.ram, PAGE, PAGE);
	/* The output in region 1 (the rings and commands live in region 0). */
	out = vuf_ram_alloc(&C.f.ram, RAM_SIZE - BOUNDARY, BOUNDARY);
	REQUIRE(in && out == BOUNDARY);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, out, pic), VV_RESP_OK_NODATA, 1);
	/* Held by the codec while region 1 goes: the buffer still comes back, once, with
	 * the ERR flag and no size (the picture went to the scratch pages the daemon puts
	 * in place of a removed range), and nothing reaches memory the front-end took back. */
	ob = queue_out(1, 1);
	settle();
	CHECK(pending(ob));
	CHECK_EQ(vuf_rem_mem_reg(&C.f, 1), 0);
	i1 = queue_in(1, 1, TS3, 1);
	CHECK(wait_req(ob));
	CHECK_BUF(i1, 1, TS3, 0, 0);
	CHECK_BUF(ob, 1, TS3, VV_BUFFER_FLAG_ERR, 0);
	CHECK(zero_bytes(out, pic));
	/* Gone now for new work. */
	CHECK_HDR(waited(queue_out(1, 1)), VV_RESP_ERR_INVALID_PARAMETER, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 2, out, pic), VV_RESP_ERR_INVALID_PARAMETER,
		  1);
	CHECK_EQ(vuf_add_mem_reg(&C.f, 1), 0);
	ob = queue_out(1, 1);
	i1 = queue_in(1, 1, TS4, 1);
	CHECK(wait_req(ob));
	CHECK_BUF(i1, 1, TS4, 0, 0);
	CHECK_BUF(ob, 1, TS4, 0, pic);
	CHECK_EQ(plane_errors(&(struct ent){ out, pic }, 1, 0, 640, 480, 1, 0), 0);
	CHECK_EQ(plane_errors(&(struct ent){ out, pic }, 1, 640 * 480, 640, 240, 1, 1), 0);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* ---- item 18: exactly one response per command ------------------------------------------- */

/* A burst of good and bad chains in every layout, published before a single kick. */
static void t_item18_burst_one_response_each(void)
{
	enum { N = 60 };
	struct creq *q[N];
	uint8_t b[16] = { 0 };
	unsigned good = 0;

	REQUIRE(conn_open());
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	for (unsigned i = 0; i < N; i++) {
		size_t len = 16, cap = 136;

		put32(b, 0, VV_CMD_GET_PARAMS_EXT);
		put32(b, 4, 1);
		put32(b, 8, VV_QUEUE_TYPE_INPUT);
		switch (i % 5) {
		case 1:
			put32(b, 0, 0x1ff);
			break;
		case 2:
			len = 4;
			break;
		case 3:
			put32(b, 4, 999);
			break;
		case 4:
			cap = 4;
			break;
		}
		q[i] = submit_ex(b, len, cap, all_layouts[i % 3], false);
		REQUIRE(q[i]);
	}
	CHECK_EQ(vuf_vq_kick(&C.f.vq[VV_QUEUE_COMMAND]), 0);
	CHECK(wait_req(q[N - 1]));
	settle();
	for (unsigned i = 0; i < N; i++) {
		bool ok = false;

		if (!q[i]->r.done)
			continue;
		switch (i % 5) {
		case 0:
			ok = q[i]->r.used_len == 128 && resp_type(q[i]) == VV_RESP_OK_GET_PARAMS;
			break;
		case 1:
			ok = hdr_ok(q[i], VV_RESP_ERR_INVALID_OPERATION, 1, __LINE__);
			break;
		case 2:
			ok = hdr_ok(q[i], VV_RESP_ERR_INVALID_PARAMETER, 0, __LINE__);
			break;
		case 3:
			ok = hdr_ok(q[i], VV_RESP_ERR_INVALID_STREAM_ID, 999, __LINE__);
			break;
		case 4:
			ok = empty_ok(q[i], __LINE__);
			break;
		}
		good += ok;
	}
	CHECK_EQ(good, N);
	/* Answered in the order they were queued (all synchronous). */
	for (unsigned i = 1; i < N; i++)
		CHECK_BEFORE(q[i - 1], q[i]);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

/* The command ring stopped (GET_VRING_BASE) with commands still owed: every one is
 * answered before the base comes back, and the base counts every chain. */
static void t_item18_ring_stop_answers_everything(void)
{
	uint64_t in, out;
	struct creq *o[2], *i1, *dr;
	int base;

	REQUIRE(conn_open());
	in = pool_lo(PAGE);
	out = pool_lo(2 * PAGE);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 2);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, out, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 2, out + PAGE, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 2);
	o[0] = queue_out(1, 1);
	o[1] = queue_out(1, 2);
	i1 = queue_in(2, 1, TS5, 8);
	dr = drain_async(2);
	settle();
	CHECK(pending(o[0]) && pending(o[1]) && pending(i1) && pending(dr));
	base = vuf_stop_ring(&C.f, VV_QUEUE_COMMAND);
	CHECK_EQ(base, (int)C.sent);
	vuf_vq_reap(&C.f.vq[VV_QUEUE_COMMAND]);
	CHECK_BUF(o[0], 1, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 1, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(i1, 2, TS5, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, 2);
	conn_finish();
}

/* ---- item 19: drains, clears and destroys racing with buffers; events -------------------- */

static void t_item19_drain_twice_and_input_during_drain(void)
{
	uint64_t in, out;
	struct creq *dr, *o, *i1;

	REQUIRE(conn_open());
	in = pool_lo(PAGE);
	out = pool_lo(640 * 480 * 3 / 2);
	CHECK_HDR(stream_create(1, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_OUTPUT, 1, out, 640 * 480 * 3 / 2),
		  VV_RESP_OK_NODATA, 1);
	for (unsigned l = 0; l < 3; l++) {
		C.layout = all_layouts[l];
		/* A drain with nothing queued waits for an output buffer to carry the EOS. */
		dr = drain_async(1);
		settle();
		CHECK(pending(dr));
		CHECK_HDR(send_hdr(VV_CMD_STREAM_DRAIN, 1), VV_RESP_ERR_INVALID_OPERATION, 1);
		CHECK_HDR(send_hdr(VV_CMD_STREAM_DRAIN, 1), VV_RESP_ERR_INVALID_OPERATION, 1);
		CHECK_HDR(waited(queue_in(1, 1, TS1, 1)), VV_RESP_ERR_INVALID_OPERATION, 1);
		CHECK_HDR(waited(queue_in(1, 1, TS1, 0)), VV_RESP_ERR_INVALID_OPERATION, 1);
		/* Other commands carry on during a drain. */
		CHECK_EQ(resp_type(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_OUTPUT)),
			 VV_RESP_OK_GET_PARAMS);
		settle();
		CHECK(pending(dr));
		o = queue_out(1, 1);
		CHECK(wait_req(dr));
		CHECK_BUF(o, 1, 0, VV_BUFFER_FLAG_EOS, 0);
		CHECK_HDR(dr, VV_RESP_OK_NODATA, 1);
		CHECK_BEFORE(o, dr);
		/* Welcome again afterwards. */
		i1 = waited(queue_in(1, 1, TS2, 0));
		CHECK_BUF(i1, 1, TS2, 0, 0);
	}
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	conn_finish();
}

static void t_item19_queue_clear_with_pending(void)
{
	uint64_t in, out;
	struct creq *o[3], *i1, *dr, *clr, *q;

	REQUIRE(conn_open());
	in = pool_lo(PAGE);
	out = pool_lo(3 * (640 * 480 * 3 / 2));
	CHECK_HDR(stream_create(3, VV_FORMAT_H264), VV_RESP_OK_NODATA, 3);
	CHECK_HDR(res_simple(3, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 3);
	for (uint32_t i = 0; i < 3; i++)
		CHECK_HDR(res_simple(3, VV_QUEUE_TYPE_OUTPUT, 10 + i, out + i * 460800ull, 460800),
			  VV_RESP_OK_NODATA, 3);
	/* Three outputs held by the codec: each back with ERR, then the clear. */
	for (uint32_t i = 0; i < 3; i++)
		o[i] = queue_out(3, 10 + i);
	settle();
	clr = send_queue(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_OUTPUT);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_BUF(o[i], 3, 0, VV_BUFFER_FLAG_ERR, 0);
		CHECK_BEFORE(o[i], clr);
	}
	CHECK_HDR(clr, VV_RESP_OK_NODATA, 3);
	/* Clearing an empty queue answers just the clear. */
	CHECK_HDR(send_queue(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_OUTPUT), VV_RESP_OK_NODATA, 3);
	CHECK_HDR(send_queue(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_INPUT), VV_RESP_OK_NODATA, 3);
	/* A drain survives an OUTPUT clear (it needs the input queue only). */
	dr = drain_async(3);
	o[0] = queue_out(3, 10);
	CHECK(wait_req(dr));
	CHECK_BUF(o[0], 3, 0, VV_BUFFER_FLAG_EOS, 0);
	CHECK_HDR(dr, VV_RESP_OK_NODATA, 3);
	i1 = queue_in(3, 1, TS1, 10);
	dr = drain_async(3);
	settle();
	CHECK(pending(i1) && pending(dr));
	clr = send_queue(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_OUTPUT);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, 3);
	settle();
	CHECK(pending(i1) && pending(dr));
	/* INPUT cleared with an input and the drain pending. */
	clr = send_queue(VV_CMD_QUEUE_CLEAR, 3, VV_QUEUE_TYPE_INPUT);
	CHECK_BUF(i1, 3, TS1, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, 3);
	CHECK_HDR(clr, VV_RESP_OK_NODATA, 3);
	CHECK_BEFORE(i1, clr);
	CHECK_BEFORE(dr, clr);
	/* Nothing of it comes back later; the stream decodes on. Picture numbers count
	 * every input with data: this is picture 0, none was made before. */
	o[1] = queue_out(3, 11);
	q = queue_in(3, 1, TS2, 10);
	CHECK(wait_req(o[1]));
	CHECK_BUF(q, 3, TS2, 0, 0);
	CHECK_BUF(o[1], 3, TS2, 0, 460800);
	CHECK_EQ(plane_errors(&(struct ent){ out + 460800, 460800 }, 1, 0, 640, 480, 0, 0), 0);
	CHECK_EQ(plane_errors(&(struct ent){ out + 460800, 460800 }, 1, 640 * 480, 640, 240, 0,
			      1), 0);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 3), VV_RESP_OK_NODATA, 3);
	conn_finish();
}

static void t_item19_stream_destroy_with_pending(void)
{
	uint64_t in, out;
	struct creq *in1[2], *dr, *o[2], *d1, *d2;

	REQUIRE(conn_open());
	in = pool_lo(2 * PAGE);
	out = pool_lo(2 * PAGE);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_H264), VV_RESP_OK_NODATA, 2);
	for (uint32_t i = 0; i < 2; i++) {
		CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, i, in + i * PAGE, PAGE),
			  VV_RESP_OK_NODATA, 1);
		CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_OUTPUT, i, out + i * PAGE, PAGE),
			  VV_RESP_OK_NODATA, 2);
	}
	in1[0] = queue_in(1, 0, TS1, 100);
	in1[1] = queue_in(1, 1, TS2, 100);
	dr = drain_async(1);
	o[0] = queue_out(2, 0);
	o[1] = queue_out(2, 1);
	settle();
	CHECK(pending(in1[0]) && pending(in1[1]) && pending(dr) && pending(o[0]) &&
	      pending(o[1]));
	/* Stream 1's owed answers, then its destroy; stream 2 untouched. */
	d1 = send_hdr(VV_CMD_STREAM_DESTROY, 1);
	CHECK_BUF(in1[0], 1, TS1, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(in1[1], 1, TS2, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, 1);
	CHECK_HDR(d1, VV_RESP_OK_NODATA, 1);
	CHECK_BEFORE(in1[0], d1);
	CHECK_BEFORE(in1[1], d1);
	CHECK_BEFORE(dr, d1);
	settle();
	CHECK(pending(o[0]) && pending(o[1]));
	d2 = send_hdr(VV_CMD_STREAM_DESTROY, 2);
	CHECK_BUF(o[0], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 2, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(d2, VV_RESP_OK_NODATA, 2);
	CHECK_BEFORE(o[0], d2);
	CHECK_BEFORE(o[1], d2);
	CHECK_HDR(send_queue(VV_CMD_GET_PARAMS, 1, VV_QUEUE_TYPE_INPUT),
		  VV_RESP_ERR_INVALID_STREAM_ID, 1);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 2), VV_RESP_ERR_INVALID_STREAM_ID, 2);
	conn_finish();
}

static void t_item19_resource_destroy_all_with_pending(void)
{
	uint64_t in, out;
	struct creq *o[2], *i1, *dr, *da;

	REQUIRE(conn_open());
	in = pool_lo(PAGE);
	out = pool_lo(2 * PAGE);
	CHECK_HDR(stream_create(4, VV_FORMAT_H264), VV_RESP_OK_NODATA, 4);
	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_OUTPUT, 10, out, PAGE), VV_RESP_OK_NODATA, 4);
	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_OUTPUT, 11, out + PAGE, PAGE), VV_RESP_OK_NODATA, 4);
	o[0] = queue_out(4, 10);
	o[1] = queue_out(4, 11);
	settle();
	da = send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_OUTPUT);
	CHECK_BUF(o[0], 4, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_BUF(o[1], 4, 0, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(da, VV_RESP_OK_NODATA, 4);
	CHECK_BEFORE(o[0], da);
	CHECK_BEFORE(o[1], da);
	/* Gone: queueing fails, the id can be created again. */
	CHECK_HDR(waited(queue_out(4, 10)), VV_RESP_ERR_INVALID_RESOURCE_ID, 4);
	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_OUTPUT, 10, out, PAGE), VV_RESP_OK_NODATA, 4);
	/* INPUT with an input and a drain pending. */
	CHECK_HDR(res_simple(4, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 4);
	CHECK_HDR(send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_OUTPUT),
		  VV_RESP_OK_NODATA, 4);
	i1 = queue_in(4, 1, TS6, 100);
	dr = drain_async(4);
	settle();
	CHECK(pending(i1) && pending(dr));
	da = send_queue(VV_CMD_RESOURCE_DESTROY_ALL, 4, VV_QUEUE_TYPE_INPUT);
	CHECK_BUF(i1, 4, TS6, VV_BUFFER_FLAG_ERR, 0);
	CHECK_HDR(dr, VV_RESP_ERR_INVALID_OPERATION, 4);
	CHECK_HDR(da, VV_RESP_OK_NODATA, 4);
	CHECK_BEFORE(i1, da);
	CHECK_BEFORE(dr, da);
	CHECK_HDR(waited(queue_in(4, 1, TS6, 100)), VV_RESP_ERR_INVALID_RESOURCE_ID, 4);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 4), VV_RESP_OK_NODATA, 4);
	conn_finish();
}

/* An event with no event buffer posted waits for one; buffers too small to hold it
 * come back empty; a destroyed stream's events are never delivered. */
static void t_item19_event_waits_for_buffer(void)
{
	uint64_t in;
	struct creq *small, *ev, *ev2;
	struct prm p = input_prm(VV_FORMAT_H264, 1280, 720, 0);

	REQUIRE(conn_open());
	C.layout = VUF_LAYOUT_SPLIT;
	in = pool_lo(2 * PAGE);
	CHECK_HDR(stream_create(6, VV_FORMAT_H264), VV_RESP_OK_NODATA, 6);
	CHECK_HDR(res_simple(6, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 6);
	/* An input without data is consumed and announces the format: nowhere to put it. */
	CHECK_BUF(waited(queue_in(6, 1, TS1, 0)), 6, TS1, 0, 0);
	settle();
	CHECK_EQ(C.events, 0);
	small = post_event(4);
	CHECK(small && vuf_vq_wait(&C.f.vq[VV_QUEUE_EVENT], &small->r, WAIT_MS) == 0);
	CHECK_EMPTY(small);
	ev = post_event(8);
	CHECK_EVENT(ev, VV_EVENT_DECODER_RESOLUTION_CHANGED, 6);
	/* Nothing more to say: the next buffer stays with the device... */
	ev = post_event(8);
	settle();
	CHECK(pending(ev));
	/* ... until a size change is announced. */
	CHECK_HDR(set_params(6, false, &p), VV_RESP_OK_NODATA, 6);
	settle();
	CHECK(pending(ev));
	CHECK_BUF(waited(queue_in(6, 1, TS2, 0)), 6, TS2, 0, 0);
	CHECK_EVENT(ev, VV_EVENT_DECODER_RESOLUTION_CHANGED, 6);
	/* Stream 7 announces with no buffer posted, then goes: its event is dropped. */
	CHECK_HDR(stream_create(7, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 7);
	CHECK_HDR(res_simple(7, VV_QUEUE_TYPE_INPUT, 1, in + PAGE, PAGE), VV_RESP_OK_NODATA, 7);
	CHECK_BUF(waited(queue_in(7, 1, TS3, 0)), 7, TS3, 0, 0);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 7), VV_RESP_OK_NODATA, 7);
	ev2 = post_event(8);
	settle();
	CHECK(pending(ev2));
	CHECK_EQ(C.events, 3);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 6), VV_RESP_OK_NODATA, 6);
	conn_finish();
}

/* Events wait in a FIFO of 64 per device; past that the oldest is dropped, so the
 * newest 64 are delivered once buffers come. */
static void t_item19_event_fifo_keeps_newest(void)
{
	struct creq *ev[65];
	uint64_t in;
	unsigned stream2 = 0;

	REQUIRE(conn_open());
	in = pool_lo(2 * PAGE);
	CHECK_HDR(stream_create(1, VV_FORMAT_H264), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(stream_create(2, VV_FORMAT_FWHT), VV_RESP_OK_NODATA, 2);
	CHECK_HDR(res_simple(1, VV_QUEUE_TYPE_INPUT, 1, in, PAGE), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(res_simple(2, VV_QUEUE_TYPE_INPUT, 1, in + PAGE, PAGE), VV_RESP_OK_NODATA, 2);
	CHECK_BUF(waited(queue_in(1, 1, 1, 0)), 1, 1, 0, 0);
	fprintf(stderr, "(the daemon logs a dropped event: expected)\n");
	for (uint32_t i = 0; i < 64; i++) {
		struct prm p = input_prm(VV_FORMAT_FWHT, 320 + 2 * (i % 2), 240, 0);

		if (i)
			CHECK_HDR(set_params(2, true, &p), VV_RESP_OK_NODATA, 2);
		CHECK_BUF(waited(queue_in(2, 1, 100 + i, 0)), 2, 100 + i, 0, 0);
	}
	settle();
	CHECK_EQ(C.events, 0);
	for (unsigned i = 0; i < 65; i++)
		REQUIRE((ev[i] = post_event(8)) != NULL);
	CHECK(vuf_vq_wait(&C.f.vq[VV_QUEUE_EVENT], &ev[63]->r, WAIT_MS) == 0);
	settle();
	for (unsigned i = 0; i < 64; i++)
		stream2 += hdr_ok(ev[i], VV_EVENT_DECODER_RESOLUTION_CHANGED, 2, __LINE__);
	CHECK_EQ(stream2, 64);
	CHECK(pending(ev[64]));
	CHECK_EQ(C.events, 64);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 1), VV_RESP_OK_NODATA, 1);
	CHECK_HDR(send_hdr(VV_CMD_STREAM_DESTROY, 2), VV_RESP_OK_NODATA, 2);
	conn_finish();
}

static void t_clean_exit(void)
{
	CHECK_EQ(daemon_stop(&d), 0);
	daemon_cleanup(&d);
}

int main(void)
{
	test_begin("device");
	signal(SIGPIPE, SIG_IGN);
	if (daemon_start(&d, NULL) < 0) {
		fprintf(stderr, "cannot start %s\n", daemon_binary());
		return 1;
	}
	/* Settle the daemon's idle fd count after one full session. */
	if (!it_fresh_session_works(d.sock)) {
		fprintf(stderr, "the daemon does not serve a plain session\n");
		daemon_stop(&d);
		daemon_cleanup(&d);
		return 1;
	}
	sleep_ms(100);
	baseline_fds = daemon_fd_count(&d);
	RUN(t_sequence_single);
	RUN(t_sequence_split);
	RUN(t_sequence_indirect);
	RUN(t_item14_shorter_than_header);
	RUN(t_item14_shorter_than_body);
	RUN(t_item14_unknown_type);
	RUN(t_item14_small_response_buffer);
	RUN(t_item15_counts);
	RUN(t_item15_plane_offsets);
	RUN(t_item15_absurd_params);
	RUN(t_item16_unknown_and_duplicate_ids);
	RUN(t_item16_table_caps);
	RUN(t_item16_total_entries_cap);
	RUN(t_item17_entries_outside_ram);
	RUN(t_item17_entry_spans_regions);
	RUN(t_item17_gpa_hole);
	RUN(t_item17_region_removed);
	RUN(t_item18_burst_one_response_each);
	RUN(t_item18_ring_stop_answers_everything);
	RUN(t_item19_drain_twice_and_input_during_drain);
	RUN(t_item19_queue_clear_with_pending);
	RUN(t_item19_stream_destroy_with_pending);
	RUN(t_item19_resource_destroy_all_with_pending);
	RUN(t_item19_event_waits_for_buffer);
	RUN(t_item19_event_fifo_keeps_newest);
	RUN(t_clean_exit);
	return test_summary();
}
