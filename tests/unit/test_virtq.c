/* Unit tests for the split virtqueue: every hostile-input case of items 10-13
 * (and ring set-up items 5-7), written by hand into rings that live in real
 * memfd-backed guest memory. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"
#include "testlib.h"
#include "virtq.h"

#define UVA_OFF 0x7f0000000000ull
#define RAM 0x100000ull /* first guest-physical byte of every layout */
#define DESC_GPA (RAM + 0x0)
#define AVAIL_GPA (RAM + 0x8000)
#define USED_GPA (RAM + 0x9000)
#define BUF_GPA (RAM + 0x10000)

struct env {
	struct guest_mem mem;
	struct virtq vq;
	uint16_t avail_idx; /* driver's shadow */
};

static int env_add_region(struct env *e, uint64_t gpa, uint64_t size, uint64_t off)
{
	struct vu_mem_region r = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = gpa + UVA_OFF, .mmap_offset = off,
	};
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(off + size)) < 0) {
		close(fd);
		return -errno;
	}
	rc = guest_mem_add(&e->mem, &r, &fd);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	guest_mem_init(&e->mem);
	vq_init(&e->vq, 0, &e->mem);
}

static void env_fini(struct env *e)
{
	vq_reset(&e->vq);
	guest_mem_clear(&e->mem);
}

/* Maps the rings at the standard addresses and starts the queue. */
static int env_rings(struct env *e, unsigned num)
{
	int rc = vq_set_num(&e->vq, num);

	if (rc == 0)
		rc = vq_set_addr(&e->vq, DESC_GPA + UVA_OFF, AVAIL_GPA + UVA_OFF,
				 USED_GPA + UVA_OFF);
	vq_set_base(&e->vq, 0);
	e->vq.started = true;
	e->vq.enabled = true;
	return rc;
}

/* One region of 1 MiB holding rings and buffers. */
static int env_simple(struct env *e, unsigned num)
{
	env_init(e);
	if (env_add_region(e, RAM, 0x100000, 0) < 0)
		return -1;
	return env_rings(e, num);
}

/* Two memfds, contiguous in GPA (and UVA) at RAM + 0x80000; the second with
 * a file offset. */
#define SPLIT (RAM + 0x80000)
static int env_two_regions(struct env *e, unsigned num)
{
	env_init(e);
	if (env_add_region(e, RAM, 0x80000, 0) < 0 || env_add_region(e, SPLIT, 0x80000, 0x1000) < 0)
		return -1;
	return env_rings(e, num);
}

static uint8_t *gptr(struct env *e, uint64_t gpa)
{
	return guest_mem_translate_contig(&e->mem, gpa, 1);
}

/* Writes bytes into guest memory, across regions if need be. */
static void guest_write(struct env *e, uint64_t gpa, const void *src, size_t len)
{
	struct iovec segs[4];
	int n = guest_mem_translate(&e->mem, gpa, len, segs, 4);
	const uint8_t *p = src;

	for (int i = 0; i < n; i++) {
		memcpy(segs[i].iov_base, p, segs[i].iov_len);
		p += segs[i].iov_len;
	}
}

static void put_desc(struct env *e, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc *d = &e->vq.desc[i];

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* A descriptor of an indirect table at table_gpa (possibly spanning regions). */
static void put_idesc(struct env *e, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};

	guest_write(e, table_gpa + 16ull * i, &d, sizeof(d));
}

static void avail_push(struct env *e, uint16_t head)
{
	e->vq.avail->ring[e->avail_idx % e->vq.num] = htole16(head);
	e->avail_idx++;
	e->vq.avail->idx = htole16(e->avail_idx);
}

static uint16_t used_idx(struct env *e)
{
	return le16toh(e->vq.used->idx);
}

static uint32_t used_id(struct env *e, unsigned slot)
{
	return le32toh(e->vq.used->ring[slot % e->vq.num].id);
}

static uint32_t used_len(struct env *e, unsigned slot)
{
	return le32toh(e->vq.used->ring[slot % e->vq.num].len);
}

/* A rejected chain: exact code, counted, returned to the driver with 0 bytes,
 * ring still usable. */
static void check_rejected(struct env *e, struct vq_chain *c, int expect, uint16_t head)
{
	uint64_t bad = e->vq.bad_chains;
	uint16_t before = used_idx(e);

	CHECK_EQ(vq_pop_chain(&e->vq, c), expect);
	CHECK_EQ(e->vq.bad_chains, bad + 1);
	CHECK_EQ(used_idx(e), (uint16_t)(before + 1));
	CHECK_EQ(used_id(e, before), head);
	CHECK_EQ(used_len(e, before), 0);
	CHECK_EQ(e->vq.inflight, 0);
	CHECK(!e->vq.broken);
	CHECK(vq_is_ready(&e->vq));
	CHECK_EQ(vq_pop_chain(&e->vq, c), 0);
}

static struct vq_chain chain; /* large: keep it off the stack */

static void t_item5_set_num(void)
{
	struct virtq vq;
	struct guest_mem mem;

	guest_mem_init(&mem);
	vq_init(&vq, 3, &mem);
	CHECK_EQ(vq_set_num(&vq, 0), -EINVAL);
	CHECK_EQ(vq_set_num(&vq, 3), -EINVAL);
	CHECK_EQ(vq_set_num(&vq, 2048), -EINVAL);
	CHECK_EQ(vq_set_num(&vq, 1000), -EINVAL);
	CHECK_EQ(vq_set_num(&vq, 65536), -EINVAL);
	CHECK_EQ(vq.num, 0);
	CHECK_EQ(vq_set_num(&vq, 1), 0);
	CHECK_EQ(vq.num, 1);
	CHECK_EQ(vq_set_num(&vq, VQ_MAX_SIZE), 0);
	CHECK_EQ(vq.num, VQ_MAX_SIZE);
	CHECK_EQ(vq_set_num(&vq, 256), 0);
	CHECK_EQ(vq.num, 256);
	CHECK_EQ(vq.index, 3);
}

static void t_item6_set_addr(void)
{
	struct env e;
	struct virtq *vq = &e.vq;
	const uint64_t U = UVA_OFF;

	REQUIRE(env_two_regions(&e, 256) == 0);
	CHECK(vq->addr_set);

	/* Ring size not set yet. */
	vq_init(vq, 0, &e.mem);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, AVAIL_GPA + U, USED_GPA + U), -EINVAL);
	REQUIRE(vq_set_num(vq, 256) == 0);

	/* Misaligned: desc 16, avail 2, used 4. */
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U + 8, AVAIL_GPA + U, USED_GPA + U), -EINVAL);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, AVAIL_GPA + U + 1, USED_GPA + U), -EINVAL);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, AVAIL_GPA + U, USED_GPA + U + 2), -EINVAL);
	CHECK(!vq->addr_set);
	CHECK(vq->desc == NULL);

	/* Unmapped. */
	CHECK_EQ(vq_set_addr(vq, 0x1000, AVAIL_GPA + U, USED_GPA + U), -EFAULT);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, U + RAM + 0x100000, USED_GPA + U), -EFAULT);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, AVAIL_GPA + U, UINT64_MAX - 3), -EFAULT);

	/* Start inside, end beyond the last region (desc 4 KiB, used 4 + 8 * 256 + 2). */
	CHECK_EQ(vq_set_addr(vq, U + RAM + 0x100000 - 0x800, AVAIL_GPA + U, USED_GPA + U),
		 -EFAULT);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, AVAIL_GPA + U, U + RAM + 0x100000 - 0x804),
		 -EFAULT);
	/* Crossing into the next region, even though it follows on in both spaces. */
	CHECK_EQ(vq_set_addr(vq, U + SPLIT - 0x800, AVAIL_GPA + U, USED_GPA + U), -EFAULT);
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U, U + SPLIT - 0x100, USED_GPA + U), -EFAULT);
	CHECK(!vq->addr_set);

	/* Ending exactly at the region end is fine. */
	CHECK_EQ(vq_set_addr(vq, U + SPLIT - 0x1000, AVAIL_GPA + U, USED_GPA + U), 0);
	CHECK(vq->addr_set);
	CHECK(vq->desc == (void *)gptr(&e, SPLIT - 0x1000));
	CHECK(vq->avail == (void *)gptr(&e, AVAIL_GPA));
	CHECK(vq->used == (void *)gptr(&e, USED_GPA));

	/* A failed set leaves no stale mapping. */
	CHECK_EQ(vq_set_addr(vq, DESC_GPA + U + 8, AVAIL_GPA + U, USED_GPA + U), -EINVAL);
	CHECK(!vq->addr_set);
	CHECK(vq->desc == NULL);
	env_fini(&e);
}

/* Aligned front-end addresses, but a region whose file offset is not: the host
 * pointers would be misaligned for the ring's atomic accesses. */
static void t_item6_set_addr_host_misaligned(void)
{
	struct env e;
	const uint64_t U = UVA_OFF;

	env_init(&e);
	REQUIRE(env_add_region(&e, RAM, 0x10000, 2) == 0);
	REQUIRE(vq_set_num(&e.vq, 8) == 0);
	CHECK_EQ(vq_set_addr(&e.vq, U + RAM, U + RAM + 0x1000, U + RAM + 0x2000), -EINVAL);
	CHECK(!e.vq.addr_set);
	env_fini(&e);

	env_init(&e);
	REQUIRE(env_add_region(&e, RAM, 0x10000, 16) == 0);
	REQUIRE(vq_set_num(&e.vq, 8) == 0);
	CHECK_EQ(vq_set_addr(&e.vq, U + RAM, U + RAM + 0x1000, U + RAM + 0x2000), 0);
	env_fini(&e);
}

static void t_item6_set_addr_loads_used_idx(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	((struct vring_used *)gptr(&e, USED_GPA))->idx = htole16(5);
	REQUIRE(vq_set_addr(&e.vq, DESC_GPA + UVA_OFF, AVAIL_GPA + UVA_OFF,
			    USED_GPA + UVA_OFF) == 0);
	CHECK_EQ(e.vq.used_idx, 5);
	vq_set_base(&e.vq, 7);
	CHECK_EQ(e.vq.last_avail_idx, 7);
	env_fini(&e);
}

/* Set-num after set-addr: the rings are checked again for the new size. */
static void t_item6_set_num_after_addr(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 16) == 0);
	REQUIRE(vq_set_addr(&e.vq, UVA_OFF + SPLIT - 0x100, AVAIL_GPA + UVA_OFF,
			    USED_GPA + UVA_OFF) == 0);
	CHECK(vq_is_ready(&e.vq));
	/* 16 * 32 bytes would cross into the next region. */
	CHECK_EQ(vq_set_num(&e.vq, 32), 0);
	CHECK(e.vq.desc == NULL);
	CHECK(!vq_is_ready(&e.vq));
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	env_fini(&e);
}

static void t_basic_pop_push(void)
{
	struct env e;
	uint8_t req[12], rsp[4] = { 1, 2, 3, 4 };

	REQUIRE(env_simple(&e, 8) == 0);
	guest_write(&e, BUF_GPA, "hello ", 6);
	guest_write(&e, BUF_GPA + 0x100, "world!", 6);
	put_desc(&e, 2, BUF_GPA, 6, VRING_DESC_F_NEXT, 5);
	put_desc(&e, 5, BUF_GPA + 0x100, 6, VRING_DESC_F_NEXT, 7);
	put_desc(&e, 7, BUF_GPA + 0x200, 4, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 2);

	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.head, 2);
	CHECK_EQ(chain.n_read, 2);
	CHECK_EQ(chain.n_write, 1);
	CHECK_EQ(chain.read_len, 12);
	CHECK_EQ(chain.write_len, 4);
	CHECK(chain.seg[0].iov_base == (void *)gptr(&e, BUF_GPA));
	CHECK_EQ(chain.seg[0].iov_len, 6);
	CHECK(chain.seg[2].iov_base == (void *)gptr(&e, BUF_GPA + 0x200));
	CHECK_EQ(e.vq.inflight, 1);
	CHECK_EQ(e.vq.last_avail_idx, 1);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);

	CHECK_EQ(vq_chain_read(&chain, 0, req, sizeof(req)), 12);
	CHECK_MEM(req, "hello world!", 12);
	CHECK_EQ(vq_chain_write(&chain, 0, rsp, sizeof(rsp)), 4);
	CHECK_MEM(gptr(&e, BUF_GPA + 0x200), rsp, 4);

	vq_push_used(&e.vq, chain.head, 4);
	CHECK_EQ(used_idx(&e), 1);
	CHECK_EQ(e.vq.used_idx, 1);
	CHECK_EQ(used_id(&e, 0), 2);
	CHECK_EQ(used_len(&e, 0), 4);
	CHECK_EQ(e.vq.inflight, 0);
	/* inflight never goes below 0. */
	vq_push_used(&e.vq, 2, 0);
	CHECK_EQ(e.vq.inflight, 0);
	CHECK_EQ(used_idx(&e), 2);
	env_fini(&e);
}

static void t_item12_split_across_descriptors(void)
{
	struct env e;
	uint8_t out[16];
	const char *msg = "0123456789abcdef";

	REQUIRE(env_simple(&e, 8) == 0);
	/* Readable 3 + 0 + 5 + 8 bytes, writable 2 + 0 + 6 bytes. */
	guest_write(&e, BUF_GPA, msg, 3);
	guest_write(&e, BUF_GPA + 0x100, msg + 3, 5);
	guest_write(&e, BUF_GPA + 0x200, msg + 8, 8);
	put_desc(&e, 0, BUF_GPA, 3, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA + 0x800, 0, VRING_DESC_F_NEXT, 2);
	put_desc(&e, 2, BUF_GPA + 0x100, 5, VRING_DESC_F_NEXT, 3);
	put_desc(&e, 3, BUF_GPA + 0x200, 8, VRING_DESC_F_NEXT, 4);
	put_desc(&e, 4, BUF_GPA + 0x300, 2, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	put_desc(&e, 5, BUF_GPA + 0x900, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 6);
	put_desc(&e, 6, BUF_GPA + 0x400, 6, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);

	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.n_read, 3);
	CHECK_EQ(chain.n_write, 2);
	CHECK_EQ(chain.read_len, 16);
	CHECK_EQ(chain.write_len, 8);

	memset(out, 0, sizeof(out));
	CHECK_EQ(vq_chain_read(&chain, 2, out, 10), 10);
	CHECK_MEM(out, "23456789ab", 10);
	CHECK_EQ(vq_chain_read(&chain, 8, out, 16), 8);
	CHECK_MEM(out, "89abcdef", 8);
	CHECK_EQ(vq_chain_read(&chain, 16, out, 4), 0);
	CHECK_EQ(vq_chain_read(&chain, 1000, out, 4), 0);

	CHECK_EQ(vq_chain_write(&chain, 1, "WXYZ", 4), 4);
	CHECK_MEM(gptr(&e, BUF_GPA + 0x300), "\0W", 2);
	CHECK_MEM(gptr(&e, BUF_GPA + 0x400), "XYZ", 3);
	CHECK_EQ(vq_chain_write(&chain, 5, "abcdef", 6), 3);
	CHECK_MEM(gptr(&e, BUF_GPA + 0x400), "XYZabc", 6);
	CHECK_EQ(vq_chain_write(&chain, 8, "q", 1), 0);
	/* The readable part is not writable through the chain. */
	CHECK_MEM(gptr(&e, BUF_GPA), "012", 3);
	env_fini(&e);
}

static void t_item12_buffer_crosses_region(void)
{
	struct env e;
	uint8_t out[8];

	REQUIRE(env_two_regions(&e, 8) == 0);
	guest_write(&e, SPLIT - 4, "ABCDEFGH", 8);
	put_desc(&e, 0, SPLIT - 4, 8, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, SPLIT - 2, 4, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);

	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.n_read, 2);
	CHECK_EQ(chain.n_write, 2);
	CHECK(chain.seg[0].iov_base == (void *)gptr(&e, SPLIT - 4));
	CHECK_EQ(chain.seg[0].iov_len, 4);
	CHECK(chain.seg[1].iov_base == (void *)gptr(&e, SPLIT));
	CHECK_EQ(chain.seg[1].iov_len, 4);
	CHECK_EQ(chain.seg[2].iov_len, 2);
	CHECK_EQ(chain.seg[3].iov_len, 2);
	CHECK_EQ(vq_chain_read(&chain, 0, out, 8), 8);
	CHECK_MEM(out, "ABCDEFGH", 8);
	CHECK_EQ(vq_chain_write(&chain, 0, "wxyz", 4), 4);
	CHECK_MEM(gptr(&e, SPLIT - 2), "wx", 2);
	CHECK_MEM(gptr(&e, SPLIT), "yz", 2);
	env_fini(&e);
}

static void t_item12_buffer_outside_ram(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	/* Wholly outside, straddling the end of RAM, and wrapping. */
	put_desc(&e, 3, 0x1000, 16, 0, 0);
	avail_push(&e, 3);
	check_rejected(&e, &chain, -EFAULT, 3);

	put_desc(&e, 4, BUF_GPA, 16, VRING_DESC_F_NEXT, 5);
	put_desc(&e, 5, RAM + 0x100000 - 8, 16, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 4);
	check_rejected(&e, &chain, -EFAULT, 4);

	put_desc(&e, 6, UINT64_MAX - 7, 16, 0, 0);
	avail_push(&e, 6);
	check_rejected(&e, &chain, -EFAULT, 6);
	CHECK_EQ(e.vq.bad_chains, 3);
	env_fini(&e);
}

static void t_item10_avail_idx_too_far(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.avail->idx = htole16(9);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), -EIO);
	CHECK(e.vq.broken);
	CHECK(!vq_is_ready(&e.vq));
	CHECK_EQ(e.vq.last_avail_idx, 0);
	CHECK_EQ(used_idx(&e), 0);
	/* Nothing more until reset, even once the index looks sane again. */
	e.vq.avail->idx = htole16(1);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	CHECK_EQ(e.vq.last_avail_idx, 0);
	env_fini(&e);

	/* Backwards (0xffff ahead) is just as broken. */
	REQUIRE(env_simple(&e, 8) == 0);
	vq_set_base(&e.vq, 5);
	e.vq.avail->idx = htole16(4);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), -EIO);
	CHECK(e.vq.broken);
	env_fini(&e);
}

static void t_item10_exactly_num_ahead(void)
{
	struct env e;
	int n = 0, rc;

	REQUIRE(env_simple(&e, 4) == 0);
	/* Index wrap-around on the way: start near 0xffff. */
	vq_set_base(&e.vq, 0xfffe);
	e.avail_idx = 0xfffe;
	for (uint16_t i = 0; i < 4; i++) {
		put_desc(&e, i, BUF_GPA + 0x10u * i, 0x10, VRING_DESC_F_WRITE, 0);
		avail_push(&e, i);
	}
	while ((rc = vq_pop_chain(&e.vq, &chain)) == 1) {
		CHECK_EQ(chain.head, n);
		n++;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(n, 4);
	CHECK(!e.vq.broken);
	CHECK_EQ(e.vq.inflight, 4);
	CHECK_EQ(e.vq.last_avail_idx, 2);
	env_fini(&e);
}

static void t_item11_head_out_of_range(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	avail_push(&e, 8);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), -EIO);
	CHECK(e.vq.broken);
	CHECK_EQ(used_idx(&e), 0);
	CHECK_EQ(e.vq.bad_chains, 0);
	CHECK_EQ(e.vq.inflight, 0);
	env_fini(&e);
}

static void t_item11_next_out_of_range(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	put_desc(&e, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 8);
	avail_push(&e, 1);
	check_rejected(&e, &chain, -EINVAL, 1);
	put_desc(&e, 2, BUF_GPA, 4, VRING_DESC_F_NEXT, 0xffff);
	avail_push(&e, 2);
	check_rejected(&e, &chain, -EINVAL, 2);
	env_fini(&e);
}

static void t_item11_loop(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 4) == 0);
	/* Self loop, then a longer one back to the head. */
	put_desc(&e, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	put_desc(&e, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 2);
	put_desc(&e, 2, BUF_GPA, 4, VRING_DESC_F_NEXT, 3);
	put_desc(&e, 3, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	avail_push(&e, 1);
	check_rejected(&e, &chain, -EINVAL, 1);

	/* A chain using every descriptor once is not a loop. */
	put_desc(&e, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 2);
	put_desc(&e, 2, BUF_GPA, 4, VRING_DESC_F_NEXT, 3);
	put_desc(&e, 3, BUF_GPA, 4, 0, 0);
	avail_push(&e, 0);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK_EQ(chain.n_read, 4);
	CHECK_EQ(chain.read_len, 16);
	env_fini(&e);
}

static void t_item11_read_after_write(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	put_desc(&e, 0, BUF_GPA, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(&e, 1, BUF_GPA + 0x10, 4, 0, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	/* Also when the readable one is empty. */
	put_desc(&e, 0, BUF_GPA, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(&e, 1, BUF_GPA + 0x10, 0, 0, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	env_fini(&e);
}

static void t_item11_zero_length(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	/* Zero-length buffers anywhere, even at an unmapped address: no segment. */
	put_desc(&e, 0, 0x10, 0, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	put_desc(&e, 2, UINT64_MAX, 0, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);
	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.n_read, 0);
	CHECK_EQ(chain.n_write, 1);
	CHECK_EQ(chain.read_len, 0);
	CHECK_EQ(chain.write_len, 8);
	CHECK_EQ(chain.seg[0].iov_len, 8);
	env_fini(&e);
}

static void t_item11_total_len_over_4g(void)
{
	struct env e;
	const uint64_t big = 0x80000000ull;

	/* Sparse 2 GiB + 1 MiB of guest RAM: nothing is touched beyond the rings. */
	env_init(&e);
	REQUIRE(env_add_region(&e, RAM, big + 0x100000, 0) == 0);
	REQUIRE(env_rings(&e, 8) == 0);

	put_desc(&e, 0, BUF_GPA, (uint32_t)big, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, (uint32_t)big, 0, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);

	put_desc(&e, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, (uint32_t)big, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	put_desc(&e, 2, BUF_GPA, (uint32_t)big, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);

	/* Exactly UINT32_MAX in total is allowed. */
	put_desc(&e, 0, BUF_GPA, (uint32_t)big, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, (uint32_t)(big - 1), 0, 0);
	avail_push(&e, 0);
	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.read_len, UINT32_MAX);
	CHECK_EQ(chain.n_read, 2);
	env_fini(&e);
}

static void t_item11_too_many_segments(void)
{
	struct env e;
	const unsigned num = 512;

	REQUIRE(env_simple(&e, num) == 0);
	/* VQ_MAX_CHAIN_SEGS descriptors fit... */
	for (unsigned i = 0; i < VQ_MAX_CHAIN_SEGS; i++)
		put_desc(&e, i, BUF_GPA + i, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	put_desc(&e, VQ_MAX_CHAIN_SEGS - 1, BUF_GPA, 1, 0, 0);
	avail_push(&e, 0);
	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.n_read, VQ_MAX_CHAIN_SEGS);
	vq_push_used(&e.vq, 0, 0);

	/* ...one more does not. */
	put_desc(&e, VQ_MAX_CHAIN_SEGS - 1, BUF_GPA, 1, VRING_DESC_F_NEXT, VQ_MAX_CHAIN_SEGS);
	put_desc(&e, VQ_MAX_CHAIN_SEGS, BUF_GPA, 1, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -E2BIG, 0);
	env_fini(&e);
}

/* Two regions, the last buffer crossing the boundary: 256 descriptors, 257 segments. */
static void t_item12_too_many_segments_after_split(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 256) == 0);
	for (unsigned i = 0; i < 255; i++)
		put_desc(&e, i, BUF_GPA + i, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	put_desc(&e, 255, SPLIT - 1, 2, 0, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -E2BIG, 0);
	env_fini(&e);
}

static void t_item13_inflight_over_ring_size(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 4) == 0);
	for (uint16_t i = 0; i < 4; i++) {
		put_desc(&e, i, BUF_GPA, 4, VRING_DESC_F_WRITE, 0);
		avail_push(&e, i);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK_EQ(e.vq.inflight, 4);
	/* The driver re-offers a head that we still hold. */
	avail_push(&e, 0);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), -EIO);
	CHECK(e.vq.broken);
	CHECK_EQ(e.vq.inflight, 4);
	CHECK_EQ(e.vq.last_avail_idx, 4);
	env_fini(&e);

	/* Answering one first makes room again. */
	REQUIRE(env_simple(&e, 4) == 0);
	for (uint16_t i = 0; i < 4; i++) {
		put_desc(&e, i, BUF_GPA, 4, VRING_DESC_F_WRITE, 0);
		avail_push(&e, i);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	vq_push_used(&e.vq, 2, 0);
	avail_push(&e, 2);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK_EQ(chain.head, 2);
	CHECK(!e.vq.broken);
	env_fini(&e);
}

#define ITABLE (SPLIT - 0x20) /* an indirect table spanning the two regions */

static void t_item11_indirect_ok(void)
{
	struct env e;
	uint8_t out[10];

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	guest_write(&e, BUF_GPA, "abcdef", 6);
	guest_write(&e, BUF_GPA + 0x100, "ghij", 4);
	/* Entries 0 and 1 in the first region, 2 and 3 in the second; walk 0 -> 2 -> 3. */
	put_idesc(&e, ITABLE, 0, BUF_GPA, 6, VRING_DESC_F_NEXT, 2);
	put_idesc(&e, ITABLE, 1, 0xdead0000, 99, VRING_DESC_F_NEXT, 1);
	put_idesc(&e, ITABLE, 2, BUF_GPA + 0x100, 4, VRING_DESC_F_NEXT, 3);
	put_idesc(&e, ITABLE, 3, BUF_GPA + 0x200, 32, VRING_DESC_F_WRITE, 0);
	/* The WRITE flag on the indirect descriptor itself is ignored. */
	put_desc(&e, 6, ITABLE, 4 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	avail_push(&e, 6);

	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.head, 6);
	CHECK_EQ(chain.n_read, 2);
	CHECK_EQ(chain.n_write, 1);
	CHECK_EQ(chain.read_len, 10);
	CHECK_EQ(chain.write_len, 32);
	CHECK_EQ(vq_chain_read(&chain, 0, out, sizeof(out)), 10);
	CHECK_MEM(out, "abcdefghij", 10);
	CHECK(chain.seg[2].iov_base == (void *)gptr(&e, BUF_GPA + 0x200));

	/* Direct descriptors followed by an indirect one. */
	put_desc(&e, 0, BUF_GPA + 0x300, 2, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, ITABLE + 0x30, 16, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);
	CHECK_EQ(chain.n_read, 1);
	CHECK_EQ(chain.n_write, 1);
	CHECK_EQ(chain.read_len, 2);
	CHECK_EQ(chain.write_len, 32);
	CHECK(chain.seg[1].iov_base == (void *)gptr(&e, BUF_GPA + 0x200));
	env_fini(&e);
}

static void t_item11_indirect_not_negotiated(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	put_idesc(&e, ITABLE, 0, BUF_GPA, 6, 0, 0);
	put_desc(&e, 0, ITABLE, 16, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	env_fini(&e);
}

static void t_item11_indirect_bad_length(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	for (unsigned i = 0; i <= VQ_MAX_INDIRECT; i++)
		put_idesc(&e, BUF_GPA, i, BUF_GPA, 1, 0, 0);

	put_desc(&e, 0, BUF_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	put_desc(&e, 0, BUF_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	put_desc(&e, 0, BUF_GPA, 15, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	put_desc(&e, 0, BUF_GPA, (VQ_MAX_INDIRECT + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	put_desc(&e, 0, BUF_GPA, 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	/* The largest table is accepted (entries are single-entry chains). */
	put_desc(&e, 0, BUF_GPA, VQ_MAX_INDIRECT * 16, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK_EQ(chain.read_len, 1);
	env_fini(&e);
}

static void t_item11_indirect_nested(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	put_idesc(&e, ITABLE, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	put_idesc(&e, ITABLE, 1, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(&e, 0, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	env_fini(&e);
}

static void t_item11_indirect_with_next(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	put_idesc(&e, ITABLE, 0, BUF_GPA, 4, 0, 0);
	put_desc(&e, 0, ITABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put_desc(&e, 1, BUF_GPA, 4, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	env_fini(&e);
}

static void t_item11_indirect_loop_and_next(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	/* 0 -> 1 -> 0 ... */
	put_idesc(&e, ITABLE, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	put_idesc(&e, ITABLE, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 0);
	put_desc(&e, 0, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	/* next beyond the table (but < num); what follows the table would parse. */
	put_idesc(&e, ITABLE, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 2);
	put_idesc(&e, ITABLE, 2, BUF_GPA, 4, 0, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EINVAL, 0);
	env_fini(&e);
}

static void t_item12_indirect_table_outside_ram(void)
{
	struct env e;

	REQUIRE(env_two_regions(&e, 8) == 0);
	e.vq.indirect = true;
	put_desc(&e, 0, 0x1000, 32, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EFAULT, 0);
	/* Table running past the end of RAM, used entries past it. */
	put_idesc(&e, RAM + 0x100000 - 16, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	put_desc(&e, 0, RAM + 0x100000 - 16, 32, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EFAULT, 0);
	/* Table wrapping the address space. */
	put_desc(&e, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -EFAULT, 0);
	env_fini(&e);
}

static void t_item11_indirect_too_many_segments(void)
{
	struct env e;
	const uint64_t table = BUF_GPA + 0x10000;

	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.indirect = true;
	for (unsigned i = 0; i < VQ_MAX_CHAIN_SEGS; i++)
		put_idesc(&e, table, i, BUF_GPA + i, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	put_idesc(&e, table, VQ_MAX_CHAIN_SEGS, BUF_GPA, 1, 0, 0);
	put_desc(&e, 0, table, (VQ_MAX_CHAIN_SEGS + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	avail_push(&e, 0);
	check_rejected(&e, &chain, -E2BIG, 0);
	env_fini(&e);
}

static void t_not_ready(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	put_desc(&e, 0, BUF_GPA, 4, 0, 0);
	avail_push(&e, 0);

	e.vq.enabled = false;
	CHECK(!vq_is_ready(&e.vq));
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	e.vq.enabled = true;
	e.vq.started = false;
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	e.vq.started = true;

	/* Memory changed, remap not yet done. */
	REQUIRE(env_add_region(&e, 0x10000000, 0x1000, 0) == 0);
	CHECK(!vq_is_ready(&e.vq));
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	CHECK_EQ(vq_remap(&e.vq), 0);
	CHECK(vq_is_ready(&e.vq));
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK_EQ(e.vq.last_avail_idx, 1);
	env_fini(&e);
}

static void t_item7_remap_after_ring_region_removed(void)
{
	struct env e;
	struct vu_mem_region r = {
		.guest_phys_addr = 0x200000, .memory_size = 0x10000,
		.userspace_addr = 0x200000 + UVA_OFF, .mmap_offset = 0,
	};

	env_init(&e);
	REQUIRE(env_add_region(&e, RAM, 0x10000, 0) == 0);
	REQUIRE(env_add_region(&e, 0x200000, 0x10000, 0) == 0);
	REQUIRE(vq_set_num(&e.vq, 8) == 0);
	REQUIRE(vq_set_addr(&e.vq, 0x200000 + UVA_OFF, 0x201000 + UVA_OFF,
			    0x202000 + UVA_OFF) == 0);
	e.vq.started = e.vq.enabled = true;
	put_desc(&e, 0, RAM, 4, VRING_DESC_F_WRITE, 0);
	avail_push(&e, 0);
	REQUIRE(vq_pop_chain(&e.vq, &chain) == 1);

	REQUIRE(guest_mem_remove(&e.mem, &r) == 0);
	CHECK_EQ(vq_remap(&e.vq), -EFAULT);
	CHECK(!vq_is_ready(&e.vq));
	CHECK(e.vq.desc == NULL && e.vq.avail == NULL && e.vq.used == NULL);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	/* Late completion and notifications are dropped, not written anywhere. */
	vq_push_used(&e.vq, 0, 4);
	CHECK_EQ(e.vq.inflight, 0);
	CHECK_EQ(e.vq.used_idx, 0);
	vq_notify(&e.vq);
	CHECK(!vq_enable_notify(&e.vq));

	/* The ring memory comes back (same addresses): remap works again. */
	REQUIRE(env_add_region(&e, 0x200000, 0x10000, 0) == 0);
	CHECK_EQ(vq_remap(&e.vq), 0);
	CHECK(vq_is_ready(&e.vq));
	guest_mem_release_retired(&e.mem);
	env_fini(&e);
}

static uint64_t eventfd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void t_event_idx_notify(void)
{
	struct env e;
	uint16_t *used_event;

	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.event_idx = true;
	e.vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	REQUIRE(e.vq.call_fd >= 0);
	used_event = &e.vq.avail->ring[8];
	*used_event = htole16(5);

	/* First call after set-up always signals, whatever used_event says. */
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1);
	CHECK_EQ(e.vq.signalled_used, 1);

	/* Driver wants an interrupt once used->idx passes 5. */
	*used_event = htole16(5);
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 0);
	for (int i = 0; i < 3; i++)
		vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 0); /* used idx 5: event 5 not yet passed */
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1); /* 5 -> 6 */
	CHECK_EQ(e.vq.signalled_used, 6);

	/* Nothing new: no signal even though the event index is behind. */
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 0);

	/* Several pushes passing the event index at once: one signal. */
	*used_event = htole16(7);
	for (int i = 0; i < 4; i++)
		vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1);

	/* EVENT_IDX ignores NO_INTERRUPT. */
	e.vq.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	*used_event = htole16(10);
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1);

	/* Without a call fd nothing is written, but the state moves on. */
	close(e.vq.call_fd);
	e.vq.call_fd = -1;
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(e.vq.signalled_used, 12);
	env_fini(&e);
}

static void t_no_interrupt(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	REQUIRE(e.vq.call_fd >= 0);

	e.vq.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 0);

	e.vq.avail->flags = 0;
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1);
	/* Nothing pushed since: no signal. */
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 0);
	/* used_event is ignored without EVENT_IDX. */
	e.vq.avail->ring[8] = htole16(100);
	vq_push_used(&e.vq, 0, 0);
	vq_notify(&e.vq);
	CHECK_EQ(eventfd_count(e.vq.call_fd), 1);
	env_fini(&e);
}

static void t_enable_notify(void)
{
	struct env e;

	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.event_idx = true;
	vq_set_base(&e.vq, 3);
	e.avail_idx = 3;
	e.vq.avail->idx = htole16(3);
	CHECK(!vq_enable_notify(&e.vq));
	CHECK_EQ(le16toh(*(uint16_t *)&e.vq.used->ring[8]), 3);
	/* A chain arrived meanwhile: caller must look again. */
	put_desc(&e, 0, BUF_GPA, 4, 0, 0);
	avail_push(&e, 0);
	CHECK(vq_enable_notify(&e.vq));
	CHECK_EQ(le16toh(*(uint16_t *)&e.vq.used->ring[8]), 3);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 1);
	CHECK(!vq_enable_notify(&e.vq));
	CHECK_EQ(le16toh(*(uint16_t *)&e.vq.used->ring[8]), 4);
	env_fini(&e);

	/* Without EVENT_IDX: NO_NOTIFY is cleared, other bits kept. */
	REQUIRE(env_simple(&e, 8) == 0);
	e.vq.used->flags = htole16(VRING_USED_F_NO_NOTIFY | 0x8000);
	CHECK(!vq_enable_notify(&e.vq));
	CHECK_EQ(le16toh(e.vq.used->flags), 0x8000);
	CHECK_EQ(le16toh(*(uint16_t *)&e.vq.used->ring[8]), 0);
	avail_push(&e, 0);
	CHECK(vq_enable_notify(&e.vq));
	env_fini(&e);
}

static void t_reset(void)
{
	struct env e;
	int kick, call, err;

	REQUIRE(env_simple(&e, 8) == 0);
	kick = e.vq.kick_fd = eventfd(0, EFD_CLOEXEC);
	call = e.vq.call_fd = eventfd(0, EFD_CLOEXEC);
	err = e.vq.err_fd = eventfd(0, EFD_CLOEXEC);
	REQUIRE(kick >= 0 && call >= 0 && err >= 0);
	e.vq.index = 1;
	e.vq.broken = true;
	e.vq.bad_chains = 3;
	vq_reset(&e.vq);
	CHECK_EQ(e.vq.kick_fd, -1);
	CHECK_EQ(e.vq.call_fd, -1);
	CHECK_EQ(e.vq.err_fd, -1);
	CHECK(fcntl(kick, F_GETFD) == -1 && fcntl(call, F_GETFD) == -1 &&
	      fcntl(err, F_GETFD) == -1);
	CHECK_EQ(e.vq.index, 1);
	CHECK(e.vq.mem == &e.mem);
	CHECK_EQ(e.vq.num, 0);
	CHECK(!e.vq.broken && !e.vq.addr_set && !e.vq.started && !e.vq.enabled);
	CHECK(e.vq.desc == NULL);
	CHECK_EQ(e.vq.bad_chains, 0);
	CHECK_EQ(e.vq.last_avail_idx, 0);
	CHECK_EQ(vq_pop_chain(&e.vq, &chain), 0);
	env_fini(&e);
}

int main(void)
{
	log_verbosity = -1; /* the rejections below are expected */
	test_begin("virtq");
	RUN_TEST(t_item5_set_num);
	RUN_TEST(t_item6_set_addr);
	RUN_TEST(t_item6_set_addr_host_misaligned);
	RUN_TEST(t_item6_set_addr_loads_used_idx);
	RUN_TEST(t_item6_set_num_after_addr);
	RUN_TEST(t_basic_pop_push);
	RUN_TEST(t_item12_split_across_descriptors);
	RUN_TEST(t_item12_buffer_crosses_region);
	RUN_TEST(t_item12_buffer_outside_ram);
	RUN_TEST(t_item10_avail_idx_too_far);
	RUN_TEST(t_item10_exactly_num_ahead);
	RUN_TEST(t_item11_head_out_of_range);
	RUN_TEST(t_item11_next_out_of_range);
	RUN_TEST(t_item11_loop);
	RUN_TEST(t_item11_read_after_write);
	RUN_TEST(t_item11_zero_length);
	RUN_TEST(t_item11_total_len_over_4g);
	RUN_TEST(t_item11_too_many_segments);
	RUN_TEST(t_item12_too_many_segments_after_split);
	RUN_TEST(t_item13_inflight_over_ring_size);
	RUN_TEST(t_item11_indirect_ok);
	RUN_TEST(t_item11_indirect_not_negotiated);
	RUN_TEST(t_item11_indirect_bad_length);
	RUN_TEST(t_item11_indirect_nested);
	RUN_TEST(t_item11_indirect_with_next);
	RUN_TEST(t_item11_indirect_loop_and_next);
	RUN_TEST(t_item12_indirect_table_outside_ram);
	RUN_TEST(t_item11_indirect_too_many_segments);
	RUN_TEST(t_not_ready);
	RUN_TEST(t_item7_remap_after_ring_region_removed);
	RUN_TEST(t_event_idx_notify);
	RUN_TEST(t_no_interrupt);
	RUN_TEST(t_enable_notify);
	RUN_TEST(t_reset);
	return test_summary();
}
