/* The front-end library (frontend/vuf) against the daemon's device side, in
 * one process: driver rings built by vuf_vq_* in vuf_ram are served by
 * guest_mem + virtq mapped from the same memfd, the way the daemon maps them.
 * Also the message layer over a socketpair and vuf_start against a scripted
 * back-end in a child process (exact request order and payloads). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_mem.h"
#include "testlib.h"
#include "virtq.h"
#include "vuf.h"

#define MIB (1024ull * 1024ull)
#define BIT(n) (1ull << (n))

/* ---- fixture: driver ring + device view of it ---------------------------- */

struct fx {
	struct vuf_ram ram;
	struct vuf_vq vq;
	struct guest_mem mem;
	struct virtq dq; /* the daemon's view of the same ring */
};

static int fx_setup(struct fx *x, uint64_t size, unsigned nregions, uint64_t gap, unsigned num,
		    bool event_idx)
{
	int ret;

	memset(x, 0, sizeof(*x));
	guest_mem_init(&x->mem);
	vq_init(&x->dq, 0, &x->mem);
	ret = vuf_ram_init(&x->ram, size, nregions, 0, gap);
	if (ret)
		return ret;
	ret = vuf_vq_setup(&x->vq, &x->ram, 0, num, event_idx);
	if (ret)
		return ret;
	/* What the daemon does with SET_MEM_TABLE: its own mapping of each slice. */
	for (unsigned i = 0; i < x->ram.nregions; i++) {
		struct vu_mem_region r = vuf_ram_region_desc(&x->ram, i);
		int fd = dup(x->ram.fd);

		ret = guest_mem_add(&x->mem, &r, &fd);
		if (fd >= 0)
			close(fd);
		if (ret)
			return ret;
	}
	ret = vq_set_num(&x->dq, num);
	if (ret)
		return ret;
	ret = vq_set_addr(&x->dq, (uint64_t)(uintptr_t)x->vq.desc,
			  (uint64_t)(uintptr_t)x->vq.avail, (uint64_t)(uintptr_t)x->vq.used);
	if (ret)
		return ret;
	vq_set_base(&x->dq, 0);
	x->dq.event_idx = event_idx;
	x->dq.indirect = true;
	x->dq.started = true;
	x->dq.enabled = true;
	x->dq.kick_fd = dup(x->vq.kick_fd);
	x->dq.call_fd = dup(x->vq.call_fd);
	return x->dq.kick_fd >= 0 && x->dq.call_fd >= 0 ? 0 : -errno;
}

static void fx_fini(struct fx *x)
{
	vq_reset(&x->dq);
	guest_mem_clear(&x->mem);
	vuf_vq_fini(&x->vq);
	vuf_ram_free(&x->ram);
}

/* Current eventfd count (0 when none); the eventfds are non-blocking. */
static uint64_t take_events(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* vuf_vq_kick, reporting whether an eventfd write happened (1), it was
 * suppressed (0), or the error. */
static int kick(struct vuf_vq *vq)
{
	uint64_t before = vq->kicks, suppressed = vq->kicks_suppressed;
	int ret = vuf_vq_kick(vq);

	if (ret)
		return ret;
	if (vq->kicks == before + 1 && vq->kicks_suppressed == suppressed)
		return 1;
	if (vq->kicks == before && vq->kicks_suppressed == suppressed + 1)
		return 0;
	return -1000; /* counters inconsistent */
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* One request through the whole path: add, kick, pop and check on the device
 * side, respond, notify, wait and check on the driver side. */
static void roundtrip(struct fx *x, enum vuf_layout layout, size_t cmd_len, size_t resp_cap,
		      size_t resp_len, unsigned want_rsegs, unsigned want_wsegs)
{
	uint8_t cmd[512], resp[512], got[600];
	uint64_t free_before = vuf_ram_free_bytes(&x->ram);
	struct vuf_req req = { 0 };
	struct vq_chain c;

	REQUIRE(cmd_len <= sizeof(cmd) && resp_len <= sizeof(resp) && resp_len <= resp_cap);
	fill_pattern(cmd, cmd_len, 3);
	fill_pattern(resp, resp_len, 101);

	CHECK_EQ(vuf_vq_add(&x->vq, &req, cmd, cmd_len, resp_cap, layout), 0);
	CHECK_EQ(x->vq.inflight, 1);
	CHECK_EQ(kick(&x->vq), 1);
	CHECK_EQ(take_events(x->dq.kick_fd), 1);

	REQUIRE(vq_pop_chain(&x->dq, &c) == 1);
	CHECK_EQ(c.head, req.head);
	CHECK_EQ(c.read_len, cmd_len);
	CHECK_EQ(c.write_len, resp_cap);
	CHECK_EQ(c.n_read, want_rsegs);
	CHECK_EQ(c.n_write, want_wsegs);
	CHECK_EQ(vq_chain_read(&c, 0, got, sizeof(got)), cmd_len);
	CHECK_MEM(got, cmd, cmd_len);
	CHECK_EQ(vq_chain_write(&c, 0, resp, resp_len), resp_len);
	CHECK(!vq_enable_notify(&x->dq));
	vq_push_used(&x->dq, c.head, (uint32_t)resp_len);
	vq_notify(&x->dq);

	CHECK_EQ(vuf_vq_wait(&x->vq, &req, 1000), 0);
	CHECK(req.done);
	CHECK_EQ(req.used_len, resp_len);
	CHECK_EQ(req.resp_cap, resp_cap);
	if (resp_cap) {
		REQUIRE(req.resp != NULL);
		CHECK_MEM(req.resp, resp, resp_len);
		CHECK(all_zero(req.resp + resp_len, resp_cap - resp_len));
	} else {
		CHECK(req.resp == NULL);
	}
	CHECK_EQ(x->vq.inflight, 0);
	CHECK_EQ(x->vq.num_free, x->vq.num);
	CHECK_EQ(x->vq.bad_used, 0);
	/* Buffers and any indirect table went back to the allocator. */
	CHECK_EQ(vuf_ram_free_bytes(&x->ram), free_before);
	vuf_req_fini(&req);
	CHECK(req.resp == NULL);
}

/* ---- guest RAM ----------------------------------------------------------- */

static void t_ram_layout(void)
{
	struct vuf_ram ram;
	struct vu_mem_region d;

	REQUIRE(vuf_ram_init(&ram, 4 * MIB, 4, 0, 2 * MIB) == 0);
	CHECK(ram.fd >= 0);
	CHECK_EQ(ram.nregions, 4);
	for (unsigned i = 0; i < 4; i++) {
		d = vuf_ram_region_desc(&ram, i);
		CHECK_EQ(d.guest_phys_addr, i * 3 * MIB);
		CHECK_EQ(d.memory_size, MIB);
		CHECK_EQ(d.mmap_offset, i * MIB);
		CHECK_EQ(d.userspace_addr, (uint64_t)(uintptr_t)(ram.base + i * MIB));
	}
	d = vuf_ram_region_desc(&ram, 4);
	CHECK_EQ(d.memory_size, 0);
	/* The first page (GPA 0) is never handed out. */
	CHECK_EQ(vuf_ram_free_bytes(&ram), 4 * MIB - VUF_PAGE_SIZE);
	CHECK(vuf_ram_ptr(&ram, 0, 16) == ram.base);
	CHECK(vuf_ram_ptr(&ram, MIB - 16, 16) == ram.base + MIB - 16);
	CHECK(vuf_ram_ptr(&ram, MIB - 16, 17) == NULL); /* runs into the gap */
	CHECK(vuf_ram_ptr(&ram, MIB, 1) == NULL);       /* in the gap */
	CHECK(vuf_ram_ptr(&ram, 3 * MIB, 1) == ram.base + MIB);
	CHECK(vuf_ram_ptr(&ram, UINT64_MAX, 2) == NULL);
	vuf_ram_free(&ram);
	CHECK_EQ(ram.fd, -1);
	vuf_ram_free(&ram); /* twice is harmless */

	CHECK_EQ(vuf_ram_init(&ram, 0, 1, 0, 0), -EINVAL);
	CHECK_EQ(vuf_ram_init(&ram, MIB, 0, 0, 0), -EINVAL);
	CHECK_EQ(vuf_ram_init(&ram, MIB, VUF_MAX_REGIONS + 1, 0, 0), -EINVAL);
	CHECK_EQ(vuf_ram_init(&ram, 3 * 4096, 2, 0, 0), -EINVAL);   /* not page pieces */
	CHECK_EQ(vuf_ram_init(&ram, MIB, 1, 100, 0), -EINVAL);      /* base not a page */
	CHECK_EQ(vuf_ram_init(&ram, MIB, 2, 0, 512), -EINVAL);      /* gap not a page */
	CHECK_EQ(vuf_ram_init(&ram, MIB, 2, UINT64_MAX - 4095, 0), -EINVAL); /* wraps */
	CHECK_EQ(ram.fd, -1);
	vuf_ram_free(&ram);
}

static void t_ram_alloc(void)
{
	struct vuf_ram ram;
	uint64_t a, b, c, d, total;

	REQUIRE(vuf_ram_init(&ram, 2 * 64 * 1024, 2, 0, 0) == 0);
	total = vuf_ram_free_bytes(&ram);
	CHECK_EQ(total, 2 * 64 * 1024 - 4096);

	CHECK_EQ(vuf_ram_alloc(&ram, 0, 8), 0);
	CHECK_EQ(vuf_ram_alloc(&ram, 8, 3), 0);
	CHECK_EQ(vuf_ram_alloc(&ram, 8, 0), 0);

	a = vuf_ram_alloc(&ram, 1, 1);
	CHECK_EQ(a, 4096); /* first fit after the reserved page */
	b = vuf_ram_alloc(&ram, 100, 256);
	CHECK_EQ(b, 4096 + 256);
	CHECK_EQ(b % 256, 0);
	/* The hole between a and b is used first. */
	c = vuf_ram_alloc(&ram, 16, 16);
	CHECK_EQ(c, 4096 + 16);
	CHECK_EQ(vuf_ram_free_bytes(&ram), total - 16 - 112 - 16);

	/* Never across the region boundary at 64 KiB, even though GPA-contiguous. */
	CHECK_EQ(vuf_ram_alloc(&ram, 64 * 1024 + 16, 16), 0);
	d = vuf_ram_alloc(&ram, 64 * 1024 - 8192, 16);
	CHECK(d >= 4096 + 368 && d + 64 * 1024 - 8192 <= 64 * 1024);
	/* 8192 left below 64 KiB minus what a/b/c took: 12 KiB must come from region 1. */
	uint64_t e = vuf_ram_alloc(&ram, 12 * 1024, 16);
	CHECK_EQ(e, 64 * 1024);

	/* Release in a scattered order: everything coalesces back. */
	vuf_ram_release(&ram, b);
	vuf_ram_release(&ram, e);
	vuf_ram_release(&ram, a);
	vuf_ram_release(&ram, 12345); /* not an allocation: ignored */
	vuf_ram_release(&ram, 0);
	vuf_ram_release(&ram, d);
	vuf_ram_release(&ram, c);
	vuf_ram_release(&ram, c); /* double release: ignored */
	CHECK_EQ(vuf_ram_free_bytes(&ram), total);
	/* Coalesced per region: a whole region's free span is allocatable again,
	 * but not more than one region. */
	a = vuf_ram_alloc(&ram, 64 * 1024, 16);
	CHECK_EQ(a, 64 * 1024);
	b = vuf_ram_alloc(&ram, 60 * 1024, 16);
	CHECK_EQ(b, 4096);
	CHECK_EQ(vuf_ram_free_bytes(&ram), 0);
	CHECK_EQ(vuf_ram_alloc(&ram, 16, 16), 0);
	vuf_ram_free(&ram);
}

static void t_ram_copy_across_regions(void)
{
	struct vuf_ram ram;
	uint8_t in[64], out[64];

	REQUIRE(vuf_ram_init(&ram, 2 * 64 * 1024, 2, 0x100000, 0) == 0);
	fill_pattern(in, sizeof(in), 9);
	CHECK_EQ(vuf_ram_write(&ram, 0x100000 + 64 * 1024 - 20, in, sizeof(in)), 0);
	CHECK_MEM(ram.base + 64 * 1024 - 20, in, sizeof(in)); /* one memfd, two slices */
	CHECK_EQ(vuf_ram_read(&ram, 0x100000 + 64 * 1024 - 20, out, sizeof(out)), 0);
	CHECK_MEM(out, in, sizeof(out));
	CHECK_EQ(vuf_ram_read(&ram, 0x100000 + 128 * 1024 - 20, out, sizeof(out)), -EFAULT);
	CHECK_EQ(vuf_ram_read(&ram, 0x100000 - 1, out, 2), -EFAULT);
	CHECK_EQ(vuf_ram_read(&ram, UINT64_MAX - 2, out, 8), -EFAULT);
	/* A base above 0: the first page is allocatable. */
	CHECK_EQ(vuf_ram_alloc(&ram, 16, 16), 0x100000);
	vuf_ram_free(&ram);
}

/* ---- layouts ---------------------------------------------------------------- */

static void t_layout_single(void)
{
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 16, true) == 0);
	roundtrip(&x, VUF_LAYOUT_SINGLE, 40, 64, 24, 1, 1);
	roundtrip(&x, VUF_LAYOUT_SINGLE, 1, 1, 1, 1, 1);
	roundtrip(&x, VUF_LAYOUT_SINGLE, 300, 500, 500, 1, 1);
	fx_fini(&x);
}

static void t_layout_split(void)
{
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 64, true) == 0);
	CHECK_EQ(x.vq.split_piece, 7);
	roundtrip(&x, VUF_LAYOUT_SPLIT, 40, 64, 24, 6, 10);
	roundtrip(&x, VUF_LAYOUT_SPLIT, 7, 14, 14, 1, 2);
	x.vq.split_piece = 100;
	roundtrip(&x, VUF_LAYOUT_SPLIT, 300, 250, 201, 3, 3);
	fx_fini(&x);
}

static void t_layout_indirect(void)
{
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 64, true) == 0);
	roundtrip(&x, VUF_LAYOUT_INDIRECT, 40, 64, 24, 6, 10);
	roundtrip(&x, VUF_LAYOUT_INDIRECT, 1, 1, 0, 1, 1);
	x.vq.split_piece = 1;
	roundtrip(&x, VUF_LAYOUT_INDIRECT, 20, 30, 30, 20, 30);
	fx_fini(&x);
}

static void t_zero_parts(void)
{
	static const enum vuf_layout layouts[] = {
		VUF_LAYOUT_SINGLE, VUF_LAYOUT_SPLIT, VUF_LAYOUT_INDIRECT,
	};
	struct vuf_req req = { 0 };
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 32, false) == 0);
	for (unsigned i = 0; i < 3; i++) {
		bool one = layouts[i] == VUF_LAYOUT_SINGLE;

		/* Writable only (event buffers), readable only (fire and forget). */
		roundtrip(&x, layouts[i], 0, 48, 48, 0, one ? 1 : 7);
		roundtrip(&x, layouts[i], 30, 0, 0, one ? 1 : 5, 0);
	}
	CHECK_EQ(vuf_vq_add(&x.vq, &req, NULL, 0, 0, VUF_LAYOUT_SINGLE), -EINVAL);
	CHECK_EQ(vuf_vq_add(&x.vq, &req, "x", 1, 1, (enum vuf_layout)7), -EINVAL);
	CHECK_EQ(vuf_vq_add(&x.vq, &req, NULL, 5, 1, VUF_LAYOUT_SINGLE), -EINVAL);
	CHECK_EQ(x.vq.inflight, 0);
	CHECK_EQ(x.vq.num_free, 32);
	fx_fini(&x);
}

static void t_addv_gathers(void)
{
	struct iovec iov[3] = {
		{ .iov_base = "head", .iov_len = 4 },
		{ .iov_base = "", .iov_len = 0 },
		{ .iov_base = "-body-bytes", .iov_len = 11 },
	};
	struct vuf_req req = { 0 };
	struct vq_chain c;
	char got[32] = { 0 };
	struct fx x;
	int cookie;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 32, true) == 0);
	req.cookie = &cookie;
	CHECK_EQ(vuf_vq_addv(&x.vq, &req, iov, 3, 8, VUF_LAYOUT_SPLIT), 0);
	CHECK(req.cookie == &cookie);
	CHECK_EQ(req.ngpas, 2); /* one readable buffer, one writable: pieces are slices */
	REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
	CHECK_EQ(c.read_len, 15);
	CHECK_EQ(vq_chain_read(&c, 0, got, sizeof(got)), 15);
	CHECK_MEM(got, "head-body-bytes", 15);
	vq_push_used(&x.dq, c.head, 8);
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait(&x.vq, &req, 1000), 0);
	CHECK(req.cookie == &cookie);
	vuf_req_fini(&req);
	fx_fini(&x);
}

/* ---- ring capacity ---------------------------------------------------------- */

static void complete_all(struct fx *x, unsigned expect, bool reverse)
{
	struct vq_chain c;
	uint16_t heads[256];
	unsigned n = 0;

	while (n < 256 && vq_pop_chain(&x->dq, &c) == 1)
		heads[n++] = c.head;
	CHECK_EQ(n, expect);
	for (unsigned i = 0; i < n; i++)
		vq_push_used(&x->dq, heads[reverse ? n - 1 - i : i], 0);
	vq_notify(&x->dq);
	CHECK_EQ(vuf_vq_reap(&x->vq), (int)expect);
}

static void t_ring_full(void)
{
	struct vuf_req req[10] = { 0 };
	uint8_t cmd[100] = { 0 };
	uint64_t free_before;
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 8, true) == 0);
	free_before = vuf_ram_free_bytes(&x.ram);

	/* SPLIT: 10 + 7 bytes = 3 descriptors each. */
	CHECK_EQ(vuf_vq_add(&x.vq, &req[0], cmd, 10, 7, VUF_LAYOUT_SPLIT), 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[1], cmd, 10, 7, VUF_LAYOUT_SPLIT), 0);
	CHECK_EQ(x.vq.num_free, 2);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[2], cmd, 10, 7, VUF_LAYOUT_SPLIT), -ENOSPC);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[2], cmd, 7, 7, VUF_LAYOUT_SPLIT), 0);
	CHECK_EQ(x.vq.num_free, 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[3], cmd, 1, 1, VUF_LAYOUT_SINGLE), -ENOSPC);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[3], cmd, 1, 1, VUF_LAYOUT_INDIRECT), -ENOSPC);
	/* Longer than the ring: can never fit. */
	CHECK_EQ(vuf_vq_add(&x.vq, &req[3], cmd, 100, 0, VUF_LAYOUT_SPLIT), -EMSGSIZE);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[3], cmd, 100, 0, VUF_LAYOUT_INDIRECT), -EMSGSIZE);
	CHECK_EQ(x.vq.inflight, 3);
	CHECK_EQ(kick(&x.vq), 1);
	complete_all(&x, 3, true);
	for (unsigned i = 0; i < 3; i++) {
		CHECK(req[i].done);
		vuf_req_fini(&req[i]);
	}
	CHECK_EQ(x.vq.num_free, 8);

	/* INDIRECT: one ring descriptor per request, however many pieces. */
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(vuf_vq_add(&x.vq, &req[i], cmd, 20, 20, VUF_LAYOUT_INDIRECT), 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[8], cmd, 1, 1, VUF_LAYOUT_INDIRECT), -ENOSPC);
	complete_all(&x, 8, false);
	for (unsigned i = 0; i < 8; i++)
		vuf_req_fini(&req[i]);

	/* SINGLE: two descriptors per request. */
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(vuf_vq_add(&x.vq, &req[i], cmd, 20, 20, VUF_LAYOUT_SINGLE), 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[4], cmd, 20, 20, VUF_LAYOUT_SINGLE), -ENOSPC);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[4], NULL, 0, 20, VUF_LAYOUT_SINGLE), -ENOSPC);
	complete_all(&x, 4, true);
	for (unsigned i = 0; i < 4; i++)
		vuf_req_fini(&req[i]);
	CHECK_EQ(x.vq.num_free, 8);
	CHECK_EQ(x.vq.inflight, 0);
	CHECK_EQ(vuf_ram_free_bytes(&x.ram), free_before);
	fx_fini(&x);
}

/* Many requests in flight on a 256-entry ring, each with its own command,
 * answered out of order. */
static void t_many_in_flight(void)
{
	static struct vuf_req req[256];
	static struct vq_chain c[256];
	struct fx x;
	unsigned n;

	REQUIRE(fx_setup(&x, 4 * MIB, 1, 0, 256, true) == 0);
	memset(req, 0, sizeof(req));
	for (n = 0; n < 256; n++) {
		uint32_t cmd[4] = { n, n * 3, ~n, 0xabcd0000u | n };

		if (vuf_vq_add(&x.vq, &req[n], cmd, sizeof(cmd), 16, VUF_LAYOUT_INDIRECT))
			break;
	}
	CHECK_EQ(n, 256);
	CHECK_EQ(vuf_vq_add(&x.vq, &req[0], "x", 1, 0, VUF_LAYOUT_INDIRECT), -ENOSPC);
	CHECK_EQ(x.vq.inflight, 256);
	CHECK_EQ(kick(&x.vq), 1);
	CHECK_EQ(take_events(x.dq.kick_fd), 1);

	for (n = 0; n < 256; n++) {
		uint32_t cmd[4];

		if (vq_pop_chain(&x.dq, &c[n]) != 1)
			break;
		CHECK_EQ(vq_chain_read(&c[n], 0, cmd, sizeof(cmd)), sizeof(cmd));
		CHECK_EQ(cmd[0], n);
		CHECK_EQ(cmd[3], 0xabcd0000u | n);
		CHECK_EQ(c[n].head, req[n].head);
	}
	CHECK_EQ(n, 256);
	CHECK_EQ(vq_pop_chain(&x.dq, &c[0]), 0);
	/* Answer odd ones first, then even ones. */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 1 - pass; i < 256; i += 2) {
			uint32_t answer[4] = { i, i, i, i };

			vq_chain_write(&c[i], 0, answer, sizeof(answer));
			vq_push_used(&x.dq, c[i].head, (uint32_t)(4 + i % 13));
		}
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait(&x.vq, &req[0], 1000), 0);
	for (n = 0; n < 256; n++) {
		CHECK(req[n].done);
		CHECK_EQ(req[n].used_len, 4 + n % 13);
		if (req[n].resp)
			CHECK_EQ(((uint32_t *)(void *)req[n].resp)[2], n);
		vuf_req_fini(&req[n]);
	}
	CHECK_EQ(x.vq.completed, 256);
	CHECK_EQ(x.vq.num_free, 256);
	fx_fini(&x);
}

/* 16-bit index wrap on both sides, on a small ring. */
static void t_index_wrap(void)
{
	struct vuf_req req = { 0 };
	struct vq_chain c;
	struct fx x;
	unsigned i, ok = 0;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 4, true) == 0);
	for (i = 0; i < 70000; i++) {
		uint32_t v = i, back = 0;

		if (vuf_vq_add(&x.vq, &req, &v, sizeof(v), sizeof(v), VUF_LAYOUT_SINGLE))
			break;
		if (vq_pop_chain(&x.dq, &c) != 1)
			break;
		vq_chain_read(&c, 0, &back, sizeof(back));
		vq_chain_write(&c, 0, &back, sizeof(back));
		vq_push_used(&x.dq, c.head, sizeof(back));
		if (vuf_vq_reap(&x.vq) != 1 || !req.done || memcmp(req.resp, &v, 4))
			break;
		vuf_req_fini(&req);
		ok++;
	}
	CHECK_EQ(ok, 70000);
	CHECK_EQ(x.vq.avail_idx, (uint16_t)70000);
	CHECK_EQ(x.vq.last_used_idx, (uint16_t)70000);
	vuf_req_fini(&req);
	fx_fini(&x);
}

/* ---- notifications ------------------------------------------------------------ */

static void t_event_idx_suppression(void)
{
	struct vuf_req r[4] = { 0 };
	struct vq_chain c[4];
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 16, true) == 0);

	/* Kicks: the device re-arms avail_event only when it has drained. */
	CHECK_EQ(vuf_vq_add(&x.vq, &r[0], "a", 1, 4, VUF_LAYOUT_SINGLE), 0);
	CHECK_EQ(kick(&x.vq), 1);
	REQUIRE(vq_pop_chain(&x.dq, &c[0]) == 1);
	CHECK_EQ(vuf_vq_add(&x.vq, &r[1], "b", 1, 4, VUF_LAYOUT_SINGLE), 0);
	CHECK_EQ(kick(&x.vq), 0); /* device still busy: no kick wanted */
	CHECK_EQ(vuf_vq_add(&x.vq, &r[2], "c", 1, 4, VUF_LAYOUT_SINGLE), 0);
	CHECK_EQ(kick(&x.vq), 0);
	CHECK_EQ(kick(&x.vq), 0); /* nothing new */
	REQUIRE(vq_pop_chain(&x.dq, &c[1]) == 1);
	REQUIRE(vq_pop_chain(&x.dq, &c[2]) == 1);
	CHECK(!vq_enable_notify(&x.dq));
	CHECK_EQ(vuf_vq_add(&x.vq, &r[3], "d", 1, 4, VUF_LAYOUT_SINGLE), 0);
	CHECK_EQ(kick(&x.vq), 1);
	REQUIRE(vq_pop_chain(&x.dq, &c[3]) == 1);
	CHECK_EQ(take_events(x.dq.kick_fd), 2);
	CHECK_EQ(x.vq.kicks, 2);
	CHECK_EQ(x.vq.kicks_suppressed, 3);

	/* Calls: used_event is republished by the driver after each reap. */
	CHECK_EQ(vuf_vq_reap(&x.vq), 0); /* publishes used_event = 0 */
	vq_push_used(&x.dq, c[0].head, 1);
	vq_notify(&x.dq);
	vq_push_used(&x.dq, c[1].head, 1);
	vq_notify(&x.dq); /* driver has not reaped: suppressed */
	CHECK_EQ(take_events(x.vq.call_fd), 1);
	CHECK_EQ(vuf_vq_reap(&x.vq), 2);
	CHECK_EQ(le16toh(x.vq.avail->ring[x.vq.num]), 2); /* used_event */
	vq_push_used(&x.dq, c[2].head, 1);
	vq_notify(&x.dq);
	vq_push_used(&x.dq, c[3].head, 1);
	vq_notify(&x.dq);
	CHECK_EQ(take_events(x.vq.call_fd), 1);
	CHECK_EQ(vuf_vq_reap(&x.vq), 2);
	for (unsigned i = 0; i < 4; i++) {
		CHECK(r[i].done);
		vuf_req_fini(&r[i]);
	}

	/* always_kick overrides the device's wish. */
	x.vq.always_kick = true;
	CHECK_EQ(kick(&x.vq), 1);
	CHECK_EQ(take_events(x.dq.kick_fd), 1);
	fx_fini(&x);
}

static void t_no_event_idx_flags(void)
{
	struct vuf_req r = { 0 };
	struct vq_chain c;
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 16, false) == 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &r, "a", 1, 4, VUF_LAYOUT_SINGLE), 0);
	x.dq.used->flags = htole16(VRING_USED_F_NO_NOTIFY); /* device polling */
	CHECK_EQ(kick(&x.vq), 0);
	CHECK(vq_enable_notify(&x.dq)); /* clears NO_NOTIFY; sees the pending chain */
	CHECK_EQ(kick(&x.vq), 1);
	CHECK_EQ(kick(&x.vq), 1); /* without EVENT_IDX every kick goes out */
	CHECK_EQ(take_events(x.dq.kick_fd), 2);
	REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
	vq_push_used(&x.dq, c.head, 0);
	vq_notify(&x.dq);
	CHECK_EQ(take_events(x.vq.call_fd), 1); /* no used_event: every notify calls */
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 1000), 0);
	CHECK_EQ(x.vq.avail->flags, 0); /* we always want interrupts */
	vuf_req_fini(&r);
	fx_fini(&x);
}

static int completions;

static void count_completion(struct vuf_vq *vq, struct vuf_req *req)
{
	(void)vq;
	if (req->done && req->cookie == &completions)
		completions++;
}

static void t_wait_timeout_and_callback(void)
{
	struct vuf_req r = { 0 };
	struct vq_chain c;
	struct timespec t0, t1;
	long ms;
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 16, true) == 0);
	x.vq.on_complete = count_completion;
	r.cookie = &completions;
	CHECK_EQ(vuf_vq_add(&x.vq, &r, "a", 1, 4, VUF_LAYOUT_SPLIT), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 50), -ETIMEDOUT);
	CHECK_EQ(vuf_vq_wait_any(&x.vq, 20), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 65 && ms < 1000);
	CHECK(!r.done);

	/* A device that completes without interrupting is not waited for forever,
	 * and a completion it did signal is picked up by wait_any. */
	REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
	vq_push_used(&x.dq, c.head, 3);
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait_any(&x.vq, 1000), 1);
	CHECK(r.done);
	CHECK_EQ(r.used_len, 3);
	CHECK_EQ(completions, 1);
	vuf_req_fini(&r);
	fx_fini(&x);
}

/* ---- hostile device ------------------------------------------------------------- */

static void t_bad_used_entries(void)
{
	struct vuf_req r = { 0 };
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 8, true) == 0);
	CHECK_EQ(vuf_vq_add(&x.vq, &r, "a", 1, 4, VUF_LAYOUT_SINGLE), 0);
	/* Ids that are out of range or not in flight are skipped, not trusted. */
	x.vq.used->ring[0].id = htole32(7);
	x.vq.used->ring[1].id = htole32(1000);
	x.vq.used->ring[2].id = htole32(r.head);
	x.vq.used->ring[2].len = htole32(0xffffffffu); /* more than the buffer */
	__atomic_store_n(&x.vq.used->idx, htole16(3), __ATOMIC_RELEASE);
	CHECK_EQ(vuf_vq_reap(&x.vq), 1);
	CHECK_EQ(x.vq.bad_used, 2);
	CHECK(r.done);
	CHECK_EQ(r.used_len, 0xffffffffu); /* reported as given, copy bounded by resp_cap */
	CHECK(r.resp != NULL && all_zero(r.resp, 4));
	vuf_req_fini(&r);
	/* A used index running away marks the ring broken. */
	__atomic_store_n(&x.vq.used->idx, htole16(3 + 9), __ATOMIC_RELEASE);
	CHECK_EQ(vuf_vq_reap(&x.vq), -EIO);
	CHECK(x.vq.broken);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 10), -EIO);
	fx_fini(&x);
}

/* ---- buffers crossing regions ------------------------------------------------------ */

static void t_region_crossing(void)
{
	const uint64_t boundary = MIB; /* region 1 starts here, right after region 0 */
	uint8_t cmd[40], answer[24], got[64];
	struct vuf_req r = { 0 };
	struct vuf_seg segs[2];
	struct vq_chain c;
	struct fx x;

	REQUIRE(fx_setup(&x, 2 * MIB, 2, 0, 16, true) == 0);
	fill_pattern(cmd, sizeof(cmd), 17);
	fill_pattern(answer, sizeof(answer), 77);
	CHECK_EQ(vuf_ram_write(&x.ram, boundary - 13, cmd, sizeof(cmd)), 0);

	/* Readable bytes straddle the boundary; the writable area does too, via
	 * an indirect table. */
	segs[0] = (struct vuf_seg){ .gpa = boundary - 13, .len = 40, .flags = 0 };
	segs[1] = (struct vuf_seg){ .gpa = boundary + 4096 - 10, .len = 4, .flags = 0 };
	CHECK_EQ(vuf_vq_add_raw(&x.vq, &r, segs, 2, false), 0);
	REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
	CHECK_EQ(c.n_read, 3); /* 13 + 27 bytes, then 4 more */
	CHECK_EQ(c.read_len, 44);
	CHECK_EQ(vq_chain_read(&c, 0, got, 40), 40);
	CHECK_MEM(got, cmd, 40);
	vq_push_used(&x.dq, c.head, 0);
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 1000), 0);
	CHECK_EQ(r.resp_cap, 0);
	vuf_req_fini(&r);

	segs[0] = (struct vuf_seg){ .gpa = boundary - 300, .len = 8, .flags = 0 };
	segs[1] = (struct vuf_seg){ .gpa = boundary - 9, .len = 24, .flags = VRING_DESC_F_WRITE };
	CHECK_EQ(vuf_vq_add_raw(&x.vq, &r, segs, 2, true), 0);
	CHECK_EQ(r.resp_cap, 24);
	REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
	CHECK_EQ(c.n_write, 2);
	CHECK_EQ(c.write_len, 24);
	CHECK_EQ(vq_chain_write(&c, 0, answer, sizeof(answer)), 24);
	vq_push_used(&x.dq, c.head, 24);
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 1000), 0);
	REQUIRE(r.resp != NULL);
	CHECK_MEM(r.resp, answer, 24);
	CHECK_EQ(r.used_len, 24);
	vuf_req_fini(&r);

	/* Allocated buffers never straddle: fill region 0, the next comes from region 1. */
	{
		struct vuf_req big = { 0 };
		/* What is free in region 0 = total free minus region 1's (all of it). */
		uint64_t left0 = vuf_ram_free_bytes(&x.ram) - MIB;

		CHECK_EQ(vuf_vq_add(&x.vq, &big, NULL, 0, left0 + 16, VUF_LAYOUT_SINGLE), 0);
		REQUIRE(vq_pop_chain(&x.dq, &c) == 1);
		CHECK_EQ(c.n_write, 1); /* one region: one segment */
		CHECK(big.resp_gpa >= boundary);
		vq_push_used(&x.dq, c.head, 0);
		vq_notify(&x.dq);
		CHECK_EQ(vuf_vq_wait(&x.vq, &big, 1000), 0);
		vuf_req_fini(&big);
	}
	fx_fini(&x);
}

static void t_buffer_into_gap(void)
{
	struct vuf_req r = { 0 };
	struct vuf_seg seg = { .gpa = MIB - 8, .len = 16, .flags = VRING_DESC_F_WRITE };
	struct vq_chain c;
	struct fx x;

	/* Regions 1 MiB apart: a buffer running off region 0 is not guest RAM. */
	REQUIRE(fx_setup(&x, 2 * MIB, 2, MIB, 16, true) == 0);
	CHECK_EQ(vuf_vq_add_raw(&x.vq, &r, &seg, 1, false), 0);
	CHECK_EQ(vq_pop_chain(&x.dq, &c), -EFAULT); /* answered with 0 bytes by virtq */
	vq_notify(&x.dq);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r, 1000), 0);
	CHECK_EQ(r.used_len, 0);
	CHECK_EQ(r.resp_cap, 16);
	CHECK(r.resp != NULL && all_zero(r.resp, 16));
	CHECK_EQ(x.dq.bad_chains, 1);
	vuf_req_fini(&r);
	fx_fini(&x);
}

static void t_fini_with_requests_in_flight(void)
{
	struct vuf_req r[3] = { 0 };
	uint64_t free_before;
	struct fx x;

	REQUIRE(fx_setup(&x, MIB, 1, 0, 16, true) == 0);
	vq_reset(&x.dq);
	free_before = vuf_ram_free_bytes(&x.ram);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(vuf_vq_add(&x.vq, &r[i], "abc", 3, 64, VUF_LAYOUT_INDIRECT), 0);
	CHECK(vuf_ram_free_bytes(&x.ram) < free_before);
	vuf_vq_fini(&x.vq);
	CHECK_EQ(x.vq.kick_fd, -1);
	/* Rings and all request buffers are back. */
	CHECK_EQ(vuf_ram_free_bytes(&x.ram), x.ram.size - VUF_PAGE_SIZE);
	CHECK(!r[0].done);
	vuf_vq_fini(&x.vq); /* twice is harmless */
	/* An empty ring refuses work instead of touching NULL rings. */
	CHECK_EQ(vuf_vq_kick(&x.vq), -EINVAL);
	CHECK_EQ(vuf_vq_reap(&x.vq), -EINVAL);
	CHECK_EQ(vuf_vq_add(&x.vq, &r[0], "a", 1, 1, VUF_LAYOUT_SINGLE), -EINVAL);
	CHECK_EQ(vuf_vq_wait(&x.vq, &r[0], 10), -EINVAL);
	CHECK_EQ(vuf_vq_setup(&x.vq, &x.ram, 0, 12, true), -EINVAL);
	CHECK_EQ(vuf_vq_setup(&x.vq, &x.ram, 0, 0, true), -EINVAL);
	CHECK_EQ(vuf_vq_setup(&x.vq, &x.ram, 0, 65536, true), -EINVAL);
	CHECK_EQ(x.vq.kick_fd, -1);
	fx_fini(&x);
}

/* ---- messages over a socketpair --------------------------------------------------- */

static int make_pair(struct vuf *f, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	*peer = sv[1];
	return vuf_attach(f, sv[0]);
}

/* Queues a reply on the peer end before the request is even sent. */
static void queue_reply(int peer, uint32_t request, uint32_t flags, const void *payload,
			uint32_t size, int fd)
{
	struct {
		struct vu_msg_hdr h;
		uint8_t p[300];
	} __attribute__((packed)) m = { .h = { request, flags, size } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m.h) + size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (size)
		memcpy(m.p, payload, size);
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(peer, &msg, 0) != (ssize_t)iov.iov_len)
		fprintf(stderr, "queue_reply: sendmsg failed\n");
}

/* Reads one message on the peer end; returns payload size or -1. */
static int peer_read(int peer, struct vu_msg_hdr *h, void *payload, size_t max, int *fds,
		     unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUF_MAX_SEND_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	size_t got = 0;

	*nfds = 0;
	if (recvmsg(peer, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC) != sizeof(*h))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		unsigned n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds + *nfds, CMSG_DATA(c), n * sizeof(int));
		*nfds += n;
	}
	if (h->size > max)
		return -1;
	while (got < h->size) {
		ssize_t r = read(peer, (uint8_t *)payload + got, h->size - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return (int)h->size;
}

static unsigned count_open_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void t_msg_send_format(void)
{
	struct vuf f;
	struct vu_msg_hdr h;
	uint64_t payload = 0, v = 0x0102030405060708ull, one = 1;
	int peer = -1, fds[VUF_MAX_SEND_FDS], efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	unsigned nfds;

	REQUIRE(efd >= 0);
	REQUIRE(make_pair(&f, &peer) == 0);
	CHECK_EQ(f.timeout_ms, VUF_DEFAULT_TIMEOUT_MS);
	/* Version bits in flags are replaced by version 1. */
	CHECK_EQ(vuf_send(&f, VU_SET_VRING_KICK, VU_FLAG_NEED_REPLY | 3, &v, 8, &efd, 1), 0);
	REQUIRE(peer_read(peer, &h, &payload, sizeof(payload), fds, &nfds) == 8);
	CHECK_EQ(h.request, VU_SET_VRING_KICK);
	CHECK_EQ(h.flags, VU_VERSION | VU_FLAG_NEED_REPLY);
	CHECK_EQ(payload, v);
	REQUIRE(nfds == 1);
	/* The peer got a working duplicate of our eventfd. */
	CHECK_EQ(write(fds[0], &one, 8), 8);
	CHECK_EQ(take_events(efd), 1);
	close(fds[0]);

	/* Raw: arbitrary bytes, many fds. */
	{
		int many[12];
		uint8_t junk[3] = { 1, 2, 3 };

		for (unsigned i = 0; i < 12; i++)
			many[i] = efd;
		CHECK_EQ(vuf_send_raw(&f, junk, 3, many, 12), 0);
		CHECK_EQ(vuf_send_raw(&f, junk, 0, NULL, 0), -EINVAL);
		CHECK_EQ(vuf_send_raw(&f, junk, 1, many, VUF_MAX_SEND_FDS + 1), -EINVAL);
	}
	CHECK_EQ(vuf_send(&f, 1, 0, NULL, VUF_MAX_MSG_PAYLOAD + 1, NULL, 0), -EINVAL);
	close(peer);
	/* Peer gone: an error, not SIGPIPE. */
	CHECK_EQ(vuf_send(&f, VU_SET_OWNER, 0, NULL, 0, NULL, 0), -EPIPE);
	vuf_close(&f);
	CHECK_EQ(f.sock, -1);
	close(efd);
}

/* Reads the next message the front-end sent and checks its code and flags. */
static void expect_sent(int peer, uint32_t request, uint32_t flags)
{
	struct vu_msg_hdr h;
	uint8_t p[512];
	int fds[VUF_MAX_SEND_FDS];
	unsigned nfds;

	CHECK(peer_read(peer, &h, p, sizeof(p), fds, &nfds) >= 0);
	CHECK_EQ(h.request, request);
	CHECK_EQ(h.flags, flags);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

static void t_msg_get_and_set(void)
{
	const uint32_t rf = VU_VERSION | VU_FLAG_REPLY;
	uint64_t val = 0x1234, v = 0, zero = 0, seven = 7;
	unsigned fds_before = count_open_fds();
	uint8_t big[16] = { 0 };
	struct timespec t0, t1;
	struct vuf f;
	int peer = -1, efd;
	long ms;

	REQUIRE(make_pair(&f, &peer) == 0);
	f.timeout_ms = 200;

	queue_reply(peer, VU_GET_FEATURES, rf, &val, 8, -1);
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), 0);
	CHECK_EQ(v, 0x1234);
	expect_sent(peer, VU_GET_FEATURES, VU_VERSION);

	queue_reply(peer, VU_GET_PROTOCOL_FEATURES, rf, &val, 8, -1); /* wrong code */
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -EPROTO);
	queue_reply(peer, VU_GET_FEATURES, VU_VERSION, &val, 8, -1); /* no REPLY flag */
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -EPROTO);
	queue_reply(peer, VU_GET_FEATURES, rf, &val, 4, -1); /* short */
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -EPROTO);
	queue_reply(peer, VU_GET_FEATURES, rf, big, 16, -1); /* too long */
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -EPROTO);
	queue_reply(peer, VU_GET_FEATURES, 2 | VU_FLAG_REPLY, &val, 8, -1); /* version 2 */
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -EPROTO);
	/* Malformed replies were consumed whole: the stream is still in step. */
	val = 99;
	queue_reply(peer, VU_GET_FEATURES, rf, &val, 8, -1);
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), 0);
	CHECK_EQ(v, 99);
	for (unsigned i = 0; i < 6; i++)
		expect_sent(peer, VU_GET_FEATURES, VU_VERSION);

	/* An fd riding on a reply is closed, not leaked. */
	efd = eventfd(0, EFD_CLOEXEC);
	queue_reply(peer, VU_GET_FEATURES, rf, &val, 8, efd);
	close(efd);
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), 0);
	CHECK_EQ(f.stray_fds, 1);
	expect_sent(peer, VU_GET_FEATURES, VU_VERSION);

	/* SET without REPLY_ACK: no NEED_REPLY, nothing awaited. */
	CHECK_EQ(vuf_set_u64(&f, VU_SET_FEATURES, 5), 0);
	expect_sent(peer, VU_SET_FEATURES, VU_VERSION);
	/* With REPLY_ACK: NEED_REPLY, the ack is returned. */
	f.acked_protocol_features = BIT(VU_PROTOCOL_F_REPLY_ACK);
	queue_reply(peer, VU_SET_FEATURES, rf, &zero, 8, -1);
	CHECK_EQ(vuf_set_u64(&f, VU_SET_FEATURES, 5), 0);
	queue_reply(peer, VU_SET_OWNER, rf, &seven, 8, -1);
	CHECK_EQ(vuf_set(&f, VU_SET_OWNER, NULL, 0, NULL, 0), 7);
	queue_reply(peer, VU_SET_OWNER, rf, &zero, 8, -1); /* ack for another request */
	CHECK_EQ(vuf_set_u64(&f, VU_SET_FEATURES, 5), -EPROTO);
	expect_sent(peer, VU_SET_FEATURES, VU_VERSION | VU_FLAG_NEED_REPLY);
	expect_sent(peer, VU_SET_OWNER, VU_VERSION | VU_FLAG_NEED_REPLY);
	expect_sent(peer, VU_SET_FEATURES, VU_VERSION | VU_FLAG_NEED_REPLY);

	/* No answer: bounded by timeout_ms. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &v, 8), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 190 && ms < 2000);
	CHECK(!vuf_wait_closed(&f, 30));

	/* Back-end gone: errors, not hangs. */
	close(peer);
	CHECK_EQ(vuf_recv(&f, &(struct vu_msg_hdr){ 0 }, NULL, 0), -ECONNRESET);
	CHECK(vuf_wait_closed(&f, 1000));
	vuf_close(&f);
	CHECK_EQ(count_open_fds(), fds_before);
}

static void t_get_config(void)
{
	const uint32_t rf = VU_VERSION | VU_FLAG_REPLY;
	struct vu_config cfg = { .offset = 8, .size = 4 }, sent;
	struct vu_msg_hdr h;
	uint8_t buf[VU_CONFIG_MAX_PAYLOAD + 1] = { 0 };
	int fds[VUF_MAX_SEND_FDS];
	unsigned nfds;
	struct vuf f;
	int peer = -1;

	REQUIRE(make_pair(&f, &peer) == 0);
	memcpy(cfg.payload, "wxyz", 4);
	queue_reply(peer, VU_GET_CONFIG, rf, &cfg, VU_CONFIG_HDR_SIZE + 4, -1);
	CHECK_EQ(vuf_get_config(&f, 8, buf, 4), 0);
	CHECK_MEM(buf, "wxyz", 4);
	CHECK_EQ(peer_read(peer, &h, &sent, sizeof(sent), fds, &nfds), VU_CONFIG_HDR_SIZE + 4);
	CHECK_EQ(h.request, VU_GET_CONFIG);
	CHECK_EQ(sent.offset, 8);
	CHECK_EQ(sent.size, 4);
	CHECK_EQ(sent.flags, 0);

	queue_reply(peer, VU_GET_CONFIG, rf, NULL, 0, -1); /* the back-end's failure */
	CHECK_EQ(vuf_get_config(&f, 8, buf, 4), -EIO);
	cfg.size = 2;
	queue_reply(peer, VU_GET_CONFIG, rf, &cfg, VU_CONFIG_HDR_SIZE + 4, -1);
	CHECK_EQ(vuf_get_config(&f, 8, buf, 4), -EPROTO);
	queue_reply(peer, VU_GET_CONFIG, rf, &cfg, VU_CONFIG_HDR_SIZE + 2, -1);
	CHECK_EQ(vuf_get_config(&f, 8, buf, 4), -EPROTO);
	CHECK_EQ(vuf_get_config(&f, 0, buf, 0), -EINVAL);
	CHECK_EQ(vuf_get_config(&f, 0, buf, VU_CONFIG_MAX_PAYLOAD + 1), -EINVAL);
	close(peer);
	vuf_close(&f);
}

static void t_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char path[108], longpath[200];
	struct timespec t0, t1;
	struct vuf f;
	int lfd, cfd;
	long ms;

	snprintf(path, sizeof(path), "/tmp/vuf-test-%d.sock", (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(vuf_connect(&f, path, 100), -ETIMEDOUT); /* nobody listening yet */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 90 && ms < 2000);
	vuf_close(&f);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	CHECK_EQ(vuf_connect(&f, longpath, 10), -ENAMETOOLONG);
	vuf_close(&f);

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(lfd >= 0);
	unlink(path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	REQUIRE(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	REQUIRE(listen(lfd, 4) == 0);
	CHECK_EQ(vuf_connect(&f, path, 1000), 0);
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);
	close(cfd);
	CHECK(vuf_wait_closed(&f, 1000));
	vuf_close(&f);
	close(lfd);
	unlink(path);
}

/* ---- vuf_start against a scripted back-end (child process) ------------------ */

struct rec {
	uint32_t request, flags, size, nfds;
	uint8_t payload[48];
};

struct script {
	uint64_t features, protocol_features, queue_num;
	uint32_t fail_request; /* acked with 1 */
	uint32_t die_after;    /* exits on receiving it */
	uint32_t mute_on;      /* never answers it */
};

static void script_default(struct script *s)
{
	memset(s, 0, sizeof(*s));
	s->features = BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |
		      BIT(VIRTIO_F_RING_EVENT_IDX) | BIT(VIRTIO_F_RING_INDIRECT_DESC) |
		      BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | BIT(0) | BIT(2);
	s->protocol_features = BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_LOG_SHMFD) |
			       BIT(VU_PROTOCOL_F_REPLY_ACK) | BIT(VU_PROTOCOL_F_BACKEND_REQ) |
			       BIT(VU_PROTOCOL_F_CONFIG) | BIT(VU_PROTOCOL_F_RESET_DEVICE) |
			       BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | BIT(VU_PROTOCOL_F_STATUS);
	s->queue_num = 2;
}

static void backend_child(int sock, int rec_fd, const struct script *s)
{
	const uint32_t rf = VU_VERSION | VU_FLAG_REPLY;
	uint64_t status = 0;

	for (;;) {
		struct vu_msg_hdr h;
		uint8_t p[512];
		int fds[VUF_MAX_SEND_FDS];
		unsigned nfds;
		struct rec r = { 0 };
		uint64_t v = 0;
		bool get = true;
		int n = peer_read(sock, &h, p, sizeof(p), fds, &nfds);

		if (n < 0)
			_exit(0);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		r.request = h.request;
		r.flags = h.flags;
		r.size = h.size;
		r.nfds = nfds;
		memcpy(r.payload, p, (size_t)n < sizeof(r.payload) ? (size_t)n : sizeof(r.payload));
		if (write(rec_fd, &r, sizeof(r)) != sizeof(r))
			_exit(2);
		if (h.request == s->die_after)
			_exit(0);
		if (h.request == s->mute_on)
			continue;
		switch (h.request) {
		case VU_GET_FEATURES: v = s->features; break;
		case VU_GET_PROTOCOL_FEATURES: v = s->protocol_features; break;
		case VU_GET_QUEUE_NUM: v = s->queue_num; break;
		case VU_GET_MAX_MEM_SLOTS: v = 32; break;
		case VU_GET_STATUS: v = status; break;
		case VU_GET_CONFIG: {
			struct vu_config cfg;

			memcpy(&cfg, p, (size_t)n);
			for (uint32_t i = 0; i < cfg.size && i < VU_CONFIG_MAX_PAYLOAD; i++)
				cfg.payload[i] = (uint8_t)(0x40 + i);
			queue_reply(sock, VU_GET_CONFIG, rf, &cfg, (uint32_t)n, -1);
			continue;
		}
		default:
			get = false;
		}
		if (h.request == VU_SET_STATUS)
			memcpy(&status, p, sizeof(status));
		if (get) {
			queue_reply(sock, h.request, rf, &v, sizeof(v), -1);
		} else if (h.flags & VU_FLAG_NEED_REPLY) {
			v = h.request == s->fail_request;
			queue_reply(sock, h.request, rf, &v, sizeof(v), -1);
		}
	}
}

/* Runs vuf_start against the script; f stays set up for inspection (the
 * caller closes it). Returns vuf_start's result; recs get what was sent. */
static int run_start(const struct script *s, const struct vuf_opts *opts, int timeout_ms,
		     struct vuf *f, struct rec *recs, unsigned max, unsigned *nrecs)
{
	int sv[2], pfd[2], ret, wstatus;
	pid_t pid;

	*nrecs = 0;
	vuf_init(f);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe(pfd) < 0)
		return -999;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -999;
	if (pid == 0) {
		close(sv[0]);
		close(pfd[0]);
		backend_child(sv[1], pfd[1], s);
		_exit(0);
	}
	close(sv[1]);
	close(pfd[1]);
	vuf_attach(f, sv[0]);
	f->timeout_ms = timeout_ms;
	ret = vuf_start(f, opts);
	shutdown(f->sock, SHUT_RDWR); /* the child sees EOF and exits */
	while (*nrecs < max && read(pfd[0], &recs[*nrecs], sizeof(*recs)) == sizeof(*recs))
		(*nrecs)++;
	close(pfd[0]);
	waitpid(pid, &wstatus, 0);
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		return -998;
	return ret;
}

static uint64_t rec_u64(const struct rec *r)
{
	uint64_t v;

	memcpy(&v, r->payload, sizeof(v));
	return v;
}

static void check_ring_msgs(const struct rec *r, const struct vuf *f, unsigned i, uint32_t nr)
{
	struct vu_vring_state st;
	struct vu_vring_addr a;

	CHECK_EQ(r[0].request, VU_SET_VRING_NUM);
	memcpy(&st, r[0].payload, sizeof(st));
	CHECK_EQ(st.index, i);
	CHECK_EQ(st.num, f->opts.queue_size[i]);
	CHECK_EQ(r[1].request, VU_SET_VRING_BASE);
	memcpy(&st, r[1].payload, sizeof(st));
	CHECK_EQ(st.index, i);
	CHECK_EQ(st.num, 0);
	CHECK_EQ(r[2].request, VU_SET_VRING_ADDR);
	CHECK_EQ(r[2].size, sizeof(a));
	memcpy(&a, r[2].payload, sizeof(a) < sizeof(r[2].payload) ? sizeof(a) : sizeof(r[2].payload));
	CHECK_EQ(a.index, i);
	CHECK_EQ(a.flags, 0);
	CHECK_EQ(a.desc_user_addr, (uint64_t)(uintptr_t)f->vq[i].desc);
	CHECK_EQ(a.used_user_addr, (uint64_t)(uintptr_t)f->vq[i].used);
	CHECK_EQ(a.avail_user_addr, (uint64_t)(uintptr_t)f->vq[i].avail);
	CHECK_EQ(a.desc_user_addr % 16, 0);
	CHECK_EQ(r[3].request, VU_SET_VRING_KICK);
	CHECK_EQ(rec_u64(&r[3]), i);
	CHECK_EQ(r[3].nfds, 1);
	CHECK_EQ(r[4].request, VU_SET_VRING_CALL);
	CHECK_EQ(rec_u64(&r[4]), i);
	CHECK_EQ(r[4].nfds, 1);
	CHECK_EQ(r[5].request, VU_SET_VRING_ENABLE);
	memcpy(&st, r[5].payload, sizeof(st));
	CHECK_EQ(st.index, i);
	CHECK_EQ(st.num, 1);
	for (unsigned k = 0; k < 6; k++)
		CHECK_EQ(r[k].flags, VU_VERSION | nr);
	for (unsigned k = 0; k < 3; k++)
		CHECK_EQ(r[k].nfds, 0);
}

static void t_start_qemu_order(void)
{
	static const uint32_t want[] = {
		VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
		VU_GET_QUEUE_NUM, VU_GET_MAX_MEM_SLOTS, VU_SET_OWNER, VU_GET_CONFIG,
		VU_SET_FEATURES, VU_GET_STATUS, VU_SET_STATUS, VU_SET_MEM_TABLE,
	};
	const uint32_t nr = VU_FLAG_NEED_REPLY;
	unsigned fds_before = count_open_fds(), n;
	struct vu_mem_region reg;
	struct vuf_opts o;
	struct script s;
	struct rec r[64];
	struct vuf f;

	script_default(&s);
	vuf_opts_default(&o);
	o.config_size = 44;
	CHECK_EQ(run_start(&s, &o, 2000, &f, r, 64, &n), 0);
	REQUIRE(n == 11 + 12 + 2);
	for (unsigned i = 0; i < 11; i++)
		CHECK_EQ(r[i].request, want[i]);
	/* GETs and SET_PROTOCOL_FEATURES go without NEED_REPLY, the rest with it. */
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(r[i].flags, VU_VERSION);
	CHECK_EQ(r[5].flags, VU_VERSION | nr);
	CHECK_EQ(r[6].flags, VU_VERSION);
	CHECK_EQ(r[7].flags, VU_VERSION | nr);
	CHECK_EQ(r[8].flags, VU_VERSION);
	CHECK_EQ(r[9].flags, VU_VERSION | nr);
	CHECK_EQ(r[10].flags, VU_VERSION | nr);

	CHECK_EQ(rec_u64(&r[2]), BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_REPLY_ACK) |
				 BIT(VU_PROTOCOL_F_CONFIG) | BIT(VU_PROTOCOL_F_RESET_DEVICE) |
				 BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
				 BIT(VU_PROTOCOL_F_STATUS));
	CHECK_EQ(r[6].size, VU_CONFIG_HDR_SIZE + 44);
	CHECK_EQ(rec_u64(&r[7]), BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |
				 BIT(VIRTIO_F_RING_EVENT_IDX) |
				 BIT(VIRTIO_F_RING_INDIRECT_DESC) | BIT(0));
	CHECK_EQ(rec_u64(&r[9]), 8); /* FEATURES_OK */
	CHECK_EQ(r[10].size, 8 + sizeof(struct vu_mem_region));
	CHECK_EQ(r[10].nfds, 1);
	CHECK_EQ(rec_u64(&r[10]) & 0xffffffffu, 1);
	memcpy(&reg, r[10].payload + 8, sizeof(reg));
	CHECK_EQ(reg.guest_phys_addr, 0);
	CHECK_EQ(reg.memory_size, 64 * MIB);
	CHECK_EQ(reg.userspace_addr, (uint64_t)(uintptr_t)f.ram.base);
	CHECK_EQ(reg.mmap_offset, 0);
	check_ring_msgs(&r[11], &f, 0, nr);
	check_ring_msgs(&r[17], &f, 1, nr);
	CHECK_EQ(r[23].request, VU_GET_STATUS);
	CHECK_EQ(r[24].request, VU_SET_STATUS);
	CHECK_EQ(rec_u64(&r[24]), 15);

	CHECK_EQ(f.status, 15);
	CHECK_EQ(f.num_queues, 2);
	CHECK_EQ(f.max_mem_slots, 32);
	CHECK_EQ(f.config[0], 0x40);
	CHECK_EQ(f.config[43], 0x40 + 43);
	CHECK(f.vq[0].event_idx && f.vq[1].event_idx);
	CHECK_EQ(f.vq[1].num, 256);
	vuf_close(&f);
	CHECK_EQ(count_open_fds(), fds_before);
}

static void t_start_add_mem_reg_no_ack(void)
{
	unsigned fds_before = count_open_fds(), n;
	struct vu_mem_region reg;
	struct vuf_opts o;
	struct script s;
	struct rec r[64];
	struct vuf f;

	script_default(&s);
	vuf_opts_default(&o);
	o.reply_ack = false;
	o.use_add_mem_reg = true;
	o.nregions = 2;
	o.ram_size = 4 * MIB;
	o.base_gpa = 0x100000;
	o.event_idx = false;
	o.status = false;
	o.queue_size[0] = 64;
	o.queue_size[1] = 16;
	CHECK_EQ(run_start(&s, &o, 2000, &f, r, 64, &n), 0);
	REQUIRE(n == 7 + 2 + 12);
	CHECK_EQ(r[5].request, VU_SET_OWNER);
	CHECK_EQ(rec_u64(&r[2]), BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_CONFIG) |
				 BIT(VU_PROTOCOL_F_RESET_DEVICE) |
				 BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
				 BIT(VU_PROTOCOL_F_STATUS));
	CHECK_EQ(r[6].request, VU_SET_FEATURES);
	CHECK_EQ(rec_u64(&r[6]), BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |
				 BIT(VIRTIO_F_RING_INDIRECT_DESC) | BIT(0));
	for (unsigned i = 0; i < 2; i++) {
		const struct rec *m = &r[7 + i];

		CHECK_EQ(m->request, VU_ADD_MEM_REG);
		CHECK_EQ(m->size, sizeof(struct vu_single_mem_region));
		CHECK_EQ(m->nfds, 1);
		memcpy(&reg, m->payload + 8, sizeof(reg));
		CHECK_EQ(reg.guest_phys_addr, 0x100000 + i * 2 * MIB);
		CHECK_EQ(reg.memory_size, 2 * MIB);
		CHECK_EQ(reg.mmap_offset, i * 2 * MIB);
		CHECK_EQ(reg.userspace_addr, (uint64_t)(uintptr_t)(f.ram.base + i * 2 * MIB));
	}
	check_ring_msgs(&r[9], &f, 0, 0);
	check_ring_msgs(&r[15], &f, 1, 0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(r[i].flags, VU_VERSION);
	CHECK(!f.vq[0].event_idx);
	vuf_close(&f);
	CHECK_EQ(count_open_fds(), fds_before);
}

static void t_start_failures(void)
{
	unsigned fds_before = count_open_fds(), n;
	struct timespec t0, t1;
	struct vuf_opts o;
	struct script s;
	struct rec r[64];
	struct vuf f;
	long ms;
	int ret;

	/* A refused memory table fails the start at that step. */
	script_default(&s);
	s.fail_request = VU_SET_MEM_TABLE;
	CHECK_EQ(run_start(&s, NULL, 2000, &f, r, 64, &n), -EIO);
	CHECK(n > 0 && r[n - 1].request == VU_SET_MEM_TABLE);
	vuf_close(&f);

	/* Without PROTOCOL_FEATURES (or VERSION_1) we do not go on. */
	script_default(&s);
	s.features &= ~BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	CHECK_EQ(run_start(&s, NULL, 2000, &f, r, 64, &n), -ENOTSUP);
	CHECK_EQ(n, 1);
	vuf_close(&f);
	script_default(&s);
	s.features &= ~BIT(VIRTIO_F_VERSION_1);
	CHECK_EQ(run_start(&s, NULL, 2000, &f, r, 64, &n), -ENOTSUP);
	vuf_close(&f);

	/* One queue is not enough. */
	script_default(&s);
	s.queue_num = 1;
	CHECK_EQ(run_start(&s, NULL, 2000, &f, r, 64, &n), -EPROTO);
	CHECK_EQ(n, 4);
	vuf_close(&f);

	/* Too many regions for SET_MEM_TABLE. */
	script_default(&s);
	vuf_opts_default(&o);
	o.nregions = 9;
	o.ram_size = 9 * MIB;
	CHECK_EQ(run_start(&s, &o, 2000, &f, r, 64, &n), -E2BIG);
	vuf_close(&f);

	/* A back-end that never answers: bounded by timeout_ms. */
	script_default(&s);
	s.mute_on = VU_GET_FEATURES;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(run_start(&s, NULL, 100, &f, r, 64, &n), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 90 && ms < 2000);
	vuf_close(&f);

	/* A back-end that dies mid-way: an error at once. */
	script_default(&s);
	s.die_after = VU_SET_PROTOCOL_FEATURES;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = run_start(&s, NULL, 5000, &f, r, 64, &n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ret == -ECONNRESET || ret == -EPIPE);
	CHECK(ms < 2000);
	CHECK_EQ(n, 3);
	vuf_close(&f);

	/* Bad options never reach the socket. */
	script_default(&s);
	vuf_opts_default(&o);
	o.queue_size[1] = 100;
	CHECK_EQ(run_start(&s, &o, 2000, &f, r, 64, &n), -EINVAL);
	CHECK_EQ(n, 0);
	vuf_close(&f);
	CHECK_EQ(count_open_fds(), fds_before);
}

static void t_stop_ring(void)
{
	const uint32_t rf = VU_VERSION | VU_FLAG_REPLY;
	struct vu_vring_state base = { .index = 1, .num = 77 };
	uint64_t zero = 0;
	struct vuf f;
	int peer = -1;

	REQUIRE(make_pair(&f, &peer) == 0);
	f.acked_protocol_features = BIT(VU_PROTOCOL_F_REPLY_ACK);
	queue_reply(peer, VU_SET_VRING_ENABLE, rf, &zero, 8, -1);
	queue_reply(peer, VU_GET_VRING_BASE, rf, &base, sizeof(base), -1);
	CHECK_EQ(vuf_stop_ring(&f, 1), 77);
	expect_sent(peer, VU_SET_VRING_ENABLE, VU_VERSION | VU_FLAG_NEED_REPLY);
	expect_sent(peer, VU_GET_VRING_BASE, VU_VERSION);
	base.index = 0; /* answer for another ring */
	queue_reply(peer, VU_SET_VRING_ENABLE, rf, &zero, 8, -1);
	queue_reply(peer, VU_GET_VRING_BASE, rf, &base, sizeof(base), -1);
	CHECK_EQ(vuf_stop_ring(&f, 1), -EPROTO);
	close(peer);
	vuf_close(&f);
}

int main(void)
{
	test_begin("frontend_ring");
	RUN_TEST(t_ram_layout);
	RUN_TEST(t_ram_alloc);
	RUN_TEST(t_ram_copy_across_regions);
	RUN_TEST(t_layout_single);
	RUN_TEST(t_layout_split);
	RUN_TEST(t_layout_indirect);
	RUN_TEST(t_zero_parts);
	RUN_TEST(t_addv_gathers);
	RUN_TEST(t_ring_full);
	RUN_TEST(t_many_in_flight);
	RUN_TEST(t_index_wrap);
	RUN_TEST(t_event_idx_suppression);
	RUN_TEST(t_no_event_idx_flags);
	RUN_TEST(t_wait_timeout_and_callback);
	RUN_TEST(t_bad_used_entries);
	RUN_TEST(t_region_crossing);
	RUN_TEST(t_buffer_into_gap);
	RUN_TEST(t_fini_with_requests_in_flight);
	RUN_TEST(t_msg_send_format);
	RUN_TEST(t_msg_get_and_set);
	RUN_TEST(t_get_config);
	RUN_TEST(t_connect);
	RUN_TEST(t_start_qemu_order);
	RUN_TEST(t_start_add_mem_reg_no_ack);
	RUN_TEST(t_start_failures);
	RUN_TEST(t_stop_ring);
	return test_summary();
}
