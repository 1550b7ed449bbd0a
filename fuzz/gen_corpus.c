/* Writes the seed corpora of the fuzz targets into OUTDIR/<target>/ (the
 * committed ones live in fuzz/corpus/):
 *
 *   build/fuzz/fuzz/gen_corpus fuzz/corpus
 *
 * Seeds follow the input formats of fuzz_formats.h and the sequences the unit
 * tests use: the vhost-user handshake and ring set-up of test_vu_server.c, the
 * ring layouts of test_virtq.c, the command templates and guest-driver sequences
 * of test_vv_device.c, and the hostile cases of docs/hostile-input.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_formats.h"
#include "fuzz_util.h"
#include "virtio_ring.h"
#include "vu_proto.h"
#include "vv_wire.h"

/* ---- a growing byte buffer ---------------------------------------------------------------- */

struct buf {
	uint8_t b[1 << 16];
	size_t len;
};

static void b_reset(struct buf *b)
{
	b->len = 0;
}

static void b_bytes(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > sizeof(b->b)) {
		fprintf(stderr, "gen_corpus: seed too large\n");
		exit(1);
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void b_u8(struct buf *b, uint8_t v)
{
	b_bytes(b, &v, 1);
}

static void b_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2];

	put_le16(t, v);
	b_bytes(b, t, 2);
}

static void b_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4];

	put_le32(t, v);
	b_bytes(b, t, 4);
}

static void b_u64(struct buf *b, uint64_t v)
{
	uint8_t t[8];

	put_le64(t, v);
	b_bytes(b, t, 8);
}

static void b_zero(struct buf *b, size_t n)
{
	static const uint8_t z[4096];

	while (n) {
		size_t c = n < sizeof(z) ? n : sizeof(z);

		b_bytes(b, z, c);
		n -= c;
	}
}

static const char *outdir;
static unsigned written;

static void save(const char *target, const char *name, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->b, 1, b->len, f) != b->len || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	written++;
}

/* ---- fuzz_vu_msg ---------------------------------------------------------------------------- */

#define ALL_PROTO                                                               \
	((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |       \
	 (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_RESET_DEVICE) | \
	 (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ull << VU_PROTOCOL_F_STATUS))
#define BASE_FEATURES                                                              \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |   \
	 (1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) | \
	 (1ull << VV_F_RESOURCE_GUEST_PAGES) | (1ull << VV_F_RESOURCE_NON_CONTIG))
#define NR (VU_VERSION | VU_FLAG_NEED_REPLY)

#define M_GPA 0x100000ull
#define M_SIZE 0x10000ull        /* 16 pages */
#define M_UVA 0x7f0000000000ull
#define M_PAGES 16

/* One record: header, fd kinds, payload (size given separately so it may lie). */
static void rec(struct buf *b, uint8_t req, uint8_t flags, uint16_t size, const void *payload,
		size_t plen, const uint8_t *fds, unsigned nfds)
{
	b_u8(b, req);
	b_u8(b, flags);
	b_u16(b, size);
	b_u8(b, (uint8_t)nfds);
	for (unsigned i = 0; i < nfds; i++)
		b_u8(b, fds[i]);
	if (plen)
		b_bytes(b, payload, plen);
}

static void rec_u64(struct buf *b, uint8_t req, uint64_t v, const uint8_t *fds, unsigned nfds)
{
	rec(b, req, NR, 8, &v, 8, fds, nfds);
}

static void rec_empty(struct buf *b, uint8_t req)
{
	rec(b, req, NR, 0, NULL, 0, NULL, 0);
}

static void rec_state(struct buf *b, uint8_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state st = { index, num };

	rec(b, req, NR, sizeof(st), &st, sizeof(st), NULL, 0);
}

static struct vu_mem_region m_region(unsigned i)
{
	return (struct vu_mem_region){
		.guest_phys_addr = M_GPA + i * M_SIZE, .memory_size = M_SIZE,
		.userspace_addr = M_UVA + i * M_SIZE, .mmap_offset = 0,
	};
}

static void rec_mem_table(struct buf *b, unsigned n, const uint8_t *fds)
{
	struct vu_mem_table t = { .nregions = n };

	for (unsigned i = 0; i < n; i++)
		t.regions[i] = m_region(i);
	rec(b, VU_SET_MEM_TABLE, NR, (uint16_t)(8 + 32 * n), &t, 8 + 32 * n, fds, n);
}

static void handshake(struct buf *b)
{
	rec_empty(b, VU_GET_FEATURES);
	rec_empty(b, VU_GET_PROTOCOL_FEATURES);
	rec_u64(b, VU_SET_PROTOCOL_FEATURES, ALL_PROTO, NULL, 0);
	rec_u64(b, VU_SET_FEATURES, BASE_FEATURES, NULL, 0);
	rec_empty(b, VU_SET_OWNER);
}

/* Rings of 16 entries inside region 0, as test_vu_server.c lays them out. */
static void ring_setup(struct buf *b, unsigned i, uint32_t base)
{
	static const uint8_t efd = VUMSG_FD_EVENTFD;
	struct vu_vring_addr a = {
		.index = i,
		.desc_user_addr = M_UVA + 0x1000 + i * 0x1000,
		.avail_user_addr = M_UVA + 0x1800 + i * 0x1000,
		.used_user_addr = M_UVA + 0x1c00 + i * 0x1000,
	};

	rec_state(b, VU_SET_VRING_NUM, i, 16);
	rec_state(b, VU_SET_VRING_BASE, i, base);
	rec(b, VU_SET_VRING_ADDR, NR, sizeof(a), &a, sizeof(a), NULL, 0);
	rec_u64(b, VU_SET_VRING_CALL, i, &efd, 1);
	rec_u64(b, VU_SET_VRING_ERR, i, &efd, 1);
	rec_u64(b, VU_SET_VRING_KICK, i, &efd, 1);
	rec_state(b, VU_SET_VRING_ENABLE, i, 1);
}

static void gen_vu_msg(void)
{
	static const uint8_t mem1[1] = { M_PAGES };
	static const uint8_t mem2[2] = { M_PAGES, M_PAGES };
	static const uint8_t dup1[1] = { VUMSG_FD_DUP_MEMFD };
	static const uint8_t dup2[2] = { VUMSG_FD_DUP_MEMFD, M_PAGES };
	static const uint8_t short1[1] = { M_PAGES - 1 };
	static const uint8_t efd = VUMSG_FD_EVENTFD;
	struct vu_config cfg = { .offset = 0, .size = 44 };
	struct vu_single_mem_region one = { .region = m_region(1) };
	struct buf b;

	b_reset(&b);
	handshake(&b);
	rec_empty(&b, VU_GET_QUEUE_NUM);
	rec_empty(&b, VU_GET_MAX_MEM_SLOTS);
	rec(&b, VU_GET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 44, &cfg, VU_CONFIG_HDR_SIZE + 44,
	    NULL, 0);
	cfg.offset = 4;
	cfg.size = 8;
	rec(&b, VU_GET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 8, &cfg, VU_CONFIG_HDR_SIZE + 8, NULL,
	    0);
	rec_u64(&b, VU_SET_STATUS, 0xf, NULL, 0);
	rec_empty(&b, VU_GET_STATUS);
	save("vu_msg", "handshake", &b);

	/* Memory, both rings, stop, reset. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	ring_setup(&b, 0, 0);
	ring_setup(&b, 1, 0);
	rec_state(&b, VU_GET_VRING_BASE, 0, 0);
	rec_state(&b, VU_GET_VRING_BASE, 1, 0);
	rec_empty(&b, VU_RESET_DEVICE);
	save("vu_msg", "rings", &b);

	/* SET_VRING_BASE one behind avail->idx (0): an all-zero chain is popped. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	ring_setup(&b, 0, 0xffff);
	rec_u64(&b, VU_SET_STATUS, 0, NULL, 0);
	save("vu_msg", "zero-chain", &b);

	/* The same table again with a dup of its memfd (the mapping is kept), then with a
	 * second region added, then a fresh memfd for region 0 (remapped). */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	ring_setup(&b, 0, 0);
	rec_mem_table(&b, 1, dup1);
	rec_mem_table(&b, 2, dup2);
	rec_mem_table(&b, 1, mem1);
	rec_mem_table(&b, 2, mem2);
	save("vu_msg", "mem-table-again", &b);

	/* Ring requests while the ring runs, SET_CONFIG, GET_CONFIG out of range. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	ring_setup(&b, 0, 0);
	rec_state(&b, VU_SET_VRING_NUM, 0, 32);
	rec_state(&b, VU_SET_VRING_BASE, 0, 5);
	{
		struct vu_vring_addr a = {
			.index = 0, .desc_user_addr = M_UVA + 0x4000,
			.avail_user_addr = M_UVA + 0x5000, .used_user_addr = M_UVA + 0x6000,
		};

		rec(&b, VU_SET_VRING_ADDR, NR, sizeof(a), &a, sizeof(a), NULL, 0);
	}
	rec_u64(&b, VU_SET_FEATURES, BASE_FEATURES & ~(1ull << VIRTIO_F_RING_EVENT_IDX), NULL,
		0);
	rec_state(&b, VU_SET_VRING_ENABLE, 0, 0);
	rec_state(&b, VU_SET_VRING_ENABLE, 0, 2);
	cfg.offset = 0;
	cfg.size = 4;
	rec(&b, VU_SET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 4, &cfg, VU_CONFIG_HDR_SIZE + 4, NULL,
	    0);
	cfg.offset = 40;
	cfg.size = 8;
	rec(&b, VU_GET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 8, &cfg, VU_CONFIG_HDR_SIZE + 8, NULL,
	    0);
	rec_u64(&b, VU_SET_STATUS, 0x100, NULL, 0);
	save("vu_msg", "ring-busy", &b);

	/* Slots: add, remove (with and without fd), remove again, ring in the removed one. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	rec(&b, VU_ADD_MEM_REG, NR, sizeof(one), &one, sizeof(one), mem1, 1);
	{
		struct vu_vring_addr a = {
			.index = 1, .desc_user_addr = M_UVA + M_SIZE,
			.avail_user_addr = M_UVA + M_SIZE + 0x800,
			.used_user_addr = M_UVA + M_SIZE + 0xc00,
		};

		rec_state(&b, VU_SET_VRING_NUM, 1, 16);
		rec(&b, VU_SET_VRING_ADDR, NR, sizeof(a), &a, sizeof(a), NULL, 0);
	}
	rec(&b, VU_REM_MEM_REG, NR, sizeof(one), &one, sizeof(one), NULL, 0);
	rec(&b, VU_REM_MEM_REG, NR, sizeof(one), &one, sizeof(one), &efd, 1);
	rec(&b, VU_ADD_MEM_REG, NR, sizeof(one), &one, sizeof(one), mem1, 1);
	rec_u64(&b, VU_SET_VRING_KICK, 1, &efd, 1);
	save("vu_msg", "mem-slots", &b);

	/* Hostile: short memfd, overlapping regions, too many fds, bad indexes. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, short1);
	{
		struct vu_mem_table t = { .nregions = 2 };

		t.regions[0] = m_region(0);
		t.regions[1] = m_region(0);
		t.regions[1].userspace_addr += 0x100000;
		rec(&b, VU_SET_MEM_TABLE, NR, 8 + 64, &t, 8 + 64, mem2, 2);
	}
	rec_mem_table(&b, 1, mem2); /* one region, two fds */
	rec_state(&b, VU_SET_VRING_NUM, 2, 16);
	rec_state(&b, VU_SET_VRING_NUM, 0, 17);
	rec_state(&b, VU_SET_VRING_BASE, 0x100, 0);
	rec_u64(&b, VU_SET_VRING_KICK, 0x100 | 0, NULL, 0);
	rec_u64(&b, VU_SET_VRING_CALL, 5, &efd, 1);
	rec_u64(&b, VU_SET_VRING_CALL, 0x200, &efd, 1);
	rec(&b, 99, NR, 0, NULL, 0, &efd, 1);
	save("vu_msg", "hostile-values", &b);

	/* Framing: wrong version (connection dropped), then a new connection. */
	b_reset(&b);
	handshake(&b);
	rec_mem_table(&b, 1, mem1);
	rec(&b, VU_GET_FEATURES, 0, 0, NULL, 0, NULL, 0);
	handshake(&b);
	rec(&b, VU_SET_FEATURES, NR, 4, "\x01\x00\x00\x00", 4, NULL, 0);
	rec(&b, VU_SET_FEATURES, NR, VU_MAX_PAYLOAD + 1, NULL, 0, NULL, 0);
	save("vu_msg", "framing", &b);

	/* Features without VERSION_1, not offered, changed while a ring runs. */
	b_reset(&b);
	rec_u64(&b, VU_SET_PROTOCOL_FEATURES, ALL_PROTO, NULL, 0);
	rec_u64(&b, VU_SET_FEATURES, 1ull << VHOST_USER_F_PROTOCOL_FEATURES, NULL, 0);
	rec_u64(&b, VU_SET_FEATURES, ~0ull, NULL, 0);
	rec_u64(&b, VU_SET_FEATURES, BASE_FEATURES, NULL, 0);
	rec_mem_table(&b, 1, mem1);
	ring_setup(&b, 0, 0);
	rec_u64(&b, VU_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1, NULL, 0);
	rec_empty(&b, VU_RESET_OWNER);
	save("vu_msg", "features", &b);

	/* Requests before their prerequisites. */
	b_reset(&b);
	rec_empty(&b, VU_GET_QUEUE_NUM);
	rec_u64(&b, VU_SET_VRING_KICK, 0, &efd, 1);
	rec_state(&b, VU_SET_VRING_NUM, 0, 16);
	rec_state(&b, VU_SET_VRING_ENABLE, 0, 1);
	rec(&b, VU_GET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 44, &cfg, VU_CONFIG_HDR_SIZE + 44,
	    NULL, 0);
	rec_empty(&b, VU_GET_VRING_BASE);
	save("vu_msg", "wrong-state", &b);
}

/* ---- fuzz_virtq ----------------------------------------------------------------------------- */

struct vq_seed {
	uint8_t cfg, hold;
	uint16_t base, used_idx, advance;
	unsigned num;
	struct vring_desc desc[64];
	uint16_t avail_flags, avail_idx, ring[64], used_event;
	uint8_t data[4096];
	size_t data_len;
};

static unsigned log2u(unsigned n)
{
	unsigned l = 0;

	while ((1u << l) < n)
		l++;
	return l;
}

static void vq_seed_init(struct vq_seed *s, unsigned num, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->num = num;
	s->cfg = (uint8_t)(flags | log2u(num) << VQF_CFG_LOG2_SHIFT);
}

static void vq_desc(struct vq_seed *s, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	s->desc[i] = (struct vring_desc){ addr, len, flags, next };
}

static void vq_avail(struct vq_seed *s, uint16_t head)
{
	s->ring[s->avail_idx % s->num] = head;
	s->avail_idx++;
}

/* An indirect table at data-area offset off. */
static void vq_idesc(struct vq_seed *s, size_t off, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *e = s->data + off + 16 * i;

	put_le64(e, addr);
	put_le32(e + 8, len);
	put_le16(e + 12, flags);
	put_le16(e + 14, next);
	if (off + 16 * (i + 1) > s->data_len)
		s->data_len = off + 16 * (i + 1);
}

static void vq_save(const struct vq_seed *s, const char *name)
{
	struct buf b;

	b_reset(&b);
	b_u8(&b, s->cfg);
	b_u8(&b, s->hold);
	b_u16(&b, s->base);
	b_u16(&b, s->used_idx);
	b_u16(&b, s->advance);
	for (unsigned i = 0; i < s->num; i++) {
		b_u64(&b, s->desc[i].addr);
		b_u32(&b, s->desc[i].len);
		b_u16(&b, s->desc[i].flags);
		b_u16(&b, s->desc[i].next);
	}
	b_u16(&b, s->avail_flags);
	b_u16(&b, s->avail_idx);
	for (unsigned i = 0; i < s->num; i++)
		b_u16(&b, s->ring[i]);
	b_u16(&b, s->used_event);
	b_bytes(&b, s->data, s->data_len);
	save("virtq", name, &b);
}

#define DATA VQF_DATA_GPA
#define BUF_A (VQF_GPA_A + 0x8000)

static void gen_virtq(void)
{
	const uint8_t both = VQF_CFG_EVENT_IDX | VQF_CFG_INDIRECT;
	struct vq_seed s;

	/* Request + response, the device's usual chain. */
	vq_seed_init(&s, 16, both);
	vq_desc(&s, 0, BUF_A, 64, VRING_DESC_F_NEXT, 1);
	vq_desc(&s, 1, BUF_A + 0x100, 64, VRING_DESC_F_WRITE, 0);
	vq_avail(&s, 0);
	vq_desc(&s, 2, BUF_A + 0x200, 16, 0, 0);
	vq_avail(&s, 2);
	vq_save(&s, "simple");

	/* Buffers crossing the A/B boundary, in C, in the gap, and zero-length ones. */
	vq_seed_init(&s, 8, 0);
	vq_desc(&s, 0, VQF_GPA_B - 32, 64, VRING_DESC_F_NEXT, 1);
	vq_desc(&s, 1, VQF_GPA_C, 128, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	vq_desc(&s, 2, VQF_GPA_B - 8, 0, VRING_DESC_F_WRITE, 0);
	vq_avail(&s, 0);
	vq_desc(&s, 3, VQF_GPA_B + VQF_SIZE_B - 16, 64, 0, 0); /* into the gap */
	vq_avail(&s, 3);
	vq_desc(&s, 4, VQF_GPA_C + VQF_SIZE_C - 8, 8, VRING_DESC_F_WRITE, 0);
	vq_avail(&s, 4);
	vq_save(&s, "regions");

	/* Indirect table spanning the boundary; one nested, one with NEXT, one of bad size. */
	vq_seed_init(&s, 8, both);
	vq_idesc(&s, 0x400 - 24, 0, BUF_A, 32, VRING_DESC_F_NEXT, 1);
	vq_idesc(&s, 0x400 - 24, 1, VQF_GPA_B - 16, 32, VRING_DESC_F_NEXT, 2);
	vq_idesc(&s, 0x400 - 24, 2, BUF_A + 0x400, 64, VRING_DESC_F_WRITE, 0);
	vq_desc(&s, 0, DATA + 0x400 - 24, 48, VRING_DESC_F_INDIRECT, 0);
	vq_avail(&s, 0);
	vq_idesc(&s, 0x100, 0, DATA + 0x400 - 24, 48, VRING_DESC_F_INDIRECT, 0);
	vq_desc(&s, 1, DATA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	vq_avail(&s, 1);
	vq_desc(&s, 2, DATA + 0x400 - 24, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 3);
	vq_avail(&s, 2);
	vq_desc(&s, 4, DATA + 0x400 - 24, 40, VRING_DESC_F_INDIRECT, 0);
	vq_avail(&s, 4);
	vq_save(&s, "indirect");

	/* Malformed chains: loop, next out of range, readable after writable. */
	vq_seed_init(&s, 4, VQF_CFG_EVENT_IDX);
	vq_desc(&s, 0, BUF_A, 8, VRING_DESC_F_NEXT, 0);
	vq_avail(&s, 0);
	vq_desc(&s, 1, BUF_A, 8, VRING_DESC_F_NEXT, 7);
	vq_avail(&s, 1);
	vq_desc(&s, 2, BUF_A, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	vq_desc(&s, 3, BUF_A, 8, 0, 0);
	vq_avail(&s, 2);
	s.used_event = 1;
	vq_save(&s, "malformed");

	/* avail->idx more than num ahead; head out of range. */
	vq_seed_init(&s, 4, 0);
	s.avail_idx = 9;
	vq_save(&s, "avail-ahead");
	vq_seed_init(&s, 4, 0);
	vq_avail(&s, 6);
	vq_save(&s, "head-range");

	/* Held in flight beyond the ring size, then a second pass reusing the slots. */
	vq_seed_init(&s, 4, VQF_CFG_SECOND_PASS | VQF_CFG_EVENT_IDX);
	for (unsigned i = 0; i < 4; i++) {
		vq_desc(&s, i, BUF_A + 0x100 * i, 32, VRING_DESC_F_WRITE, 0);
		vq_avail(&s, (uint16_t)i);
	}
	s.hold = 4;
	s.advance = 4;
	s.base = 0xfffe;
	s.avail_idx = 2; /* wraps: 4 available */
	s.used_idx = 0xfffd;
	vq_save(&s, "wrap-hold");

	/* A chain of 17 descriptors, and NO_INTERRUPT without EVENT_IDX. */
	vq_seed_init(&s, 32, VQF_CFG_NO_INTERRUPT);
	for (unsigned i = 0; i < 17; i++)
		vq_desc(&s, i, BUF_A + 64 * i, 64, (i >= 9 ? VRING_DESC_F_WRITE : 0) |
			(i < 16 ? VRING_DESC_F_NEXT : 0), (uint16_t)(i + 1));
	vq_avail(&s, 0);
	vq_save(&s, "long-chain");

	/* The largest ring, nearly empty. */
	{
		struct buf b;

		b_reset(&b);
		b_u8(&b, (uint8_t)(10 << VQF_CFG_LOG2_SHIFT | both));
		b_zero(&b, 7);
		b_u64(&b, BUF_A);
		b_u32(&b, 4096);
		b_u16(&b, VRING_DESC_F_WRITE);
		b_u16(&b, 0);
		b_zero(&b, 16 * 1023);
		b_u16(&b, 0);
		b_u16(&b, 1);
		save("virtq", "ring-1024", &b);
	}
}

/* ---- fuzz_vv_cmd ---------------------------------------------------------------------------- */

static void cmd_hdr(struct buf *b, uint32_t type, uint32_t sid)
{
	b_u32(b, type);
	b_u32(b, sid);
}

/* Trailing bytes: the encoders' values and, last, the response capacity. */
static void cmd_save(struct buf *b, const char *name, uint8_t cap)
{
	static const uint8_t tail[24] = { 2, 0x20, 0x00, 0x30, 1, 2, 3, 4, 5, 6, 7, 8,
					  9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0x80, 0 };

	b_bytes(b, tail, sizeof(tail));
	b_u8(b, cap);
	save("vv_cmd", name, b);
}

static void params(struct buf *b, uint32_t qt, uint32_t fmt, uint32_t w, uint32_t h,
		   uint32_t nplanes)
{
	b_u32(b, qt);
	b_u32(b, fmt);
	b_u32(b, w);
	b_u32(b, h);
	b_u32(b, 2);
	b_u32(b, 32);
	b_u32(b, 0);
	b_u32(b, 0);
	b_u32(b, w);
	b_u32(b, h);
	b_u32(b, 30);
	b_u32(b, nplanes);
	for (unsigned i = 0; i < 8; i++) {
		b_u32(b, i < nplanes ? w * h : 0);
		b_u32(b, i < nplanes ? w : 0);
	}
}

static void gen_vv_cmd(void)
{
	struct buf b;

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_QUERY_CAPABILITY, 0);
	b_u32(&b, VV_QUEUE_TYPE_INPUT);
	b_zero(&b, 4);
	cmd_save(&b, "query-caps", 200);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_STREAM_CREATE, 1);
	b_u32(&b, VV_MEM_TYPE_GUEST_PAGES);
	b_u32(&b, VV_MEM_TYPE_GUEST_PAGES);
	b_u32(&b, VV_FORMAT_H264);
	b_zero(&b, 4);
	b_bytes(&b, "test stream", 11);
	b_zero(&b, 64 - 11);
	cmd_save(&b, "stream-create", 8);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_STREAM_DRAIN, 1);
	cmd_save(&b, "stream-drain", 7);

	/* PER_PLANE, two planes of 2 and 1 entries. */
	b_reset(&b);
	cmd_hdr(&b, VV_CMD_RESOURCE_CREATE, 1);
	b_u32(&b, VV_QUEUE_TYPE_OUTPUT);
	b_u32(&b, 3);
	b_u32(&b, VV_PLANES_LAYOUT_PER_PLANE);
	b_u32(&b, 2);
	b_zero(&b, 32);
	b_u32(&b, 2);
	b_u32(&b, 1);
	b_zero(&b, 24);
	for (unsigned i = 0; i < 3; i++) {
		b_u64(&b, 0x200000 + 0x1000 * i);
		b_u32(&b, 0x1000);
		b_zero(&b, 4);
	}
	cmd_save(&b, "resource-create", 8);

	/* The 6.1 guest's planes_layout 0, and SINGLE_BUFFER with plane offsets. */
	b_reset(&b);
	cmd_hdr(&b, VV_CMD_RESOURCE_CREATE, 1);
	b_u32(&b, VV_QUEUE_TYPE_OUTPUT);
	b_u32(&b, 4);
	b_u32(&b, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	b_u32(&b, 2);
	b_u32(&b, 0);
	b_u32(&b, 76800);
	b_zero(&b, 24);
	b_u32(&b, 3);
	b_zero(&b, 28);
	for (unsigned i = 0; i < 3; i++) {
		b_u64(&b, 0x300000 + 0x10000 * i);
		b_u32(&b, 50000);
		b_zero(&b, 4);
	}
	cmd_save(&b, "resource-create-single", 30);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_RESOURCE_QUEUE, 1);
	b_u32(&b, VV_QUEUE_TYPE_INPUT);
	b_u32(&b, 1);
	b_u64(&b, 12345);
	b_u32(&b, 1);
	b_u32(&b, 1000);
	b_zero(&b, 28 + 4);
	cmd_save(&b, "resource-queue", 24);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_QUEUE_CLEAR, 1);
	b_u32(&b, VV_QUEUE_TYPE_OUTPUT);
	b_zero(&b, 4);
	cmd_save(&b, "queue-clear", 8);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_GET_PARAMS_EXT, 1);
	b_u32(&b, VV_QUEUE_TYPE_OUTPUT);
	b_zero(&b, 4);
	cmd_save(&b, "get-params-ext", 128);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_SET_PARAMS, 1);
	params(&b, VV_QUEUE_TYPE_OUTPUT, VV_FORMAT_NV12, 320, 240, 2);
	cmd_save(&b, "set-params", 8);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_SET_PARAMS_EXT, 1);
	params(&b, VV_QUEUE_TYPE_INPUT, VV_FORMAT_FWHT, 640, 480, 1);
	b_u32(&b, VV_MEM_TYPE_GUEST_PAGES);
	b_zero(&b, 4);
	cmd_save(&b, "set-params-ext", 8);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_QUERY_CONTROL, 0);
	b_u32(&b, VV_CONTROL_PROFILE);
	b_zero(&b, 4);
	b_u32(&b, VV_FORMAT_H264);
	b_zero(&b, 4);
	cmd_save(&b, "query-control", 40);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_SET_CONTROL, 1);
	b_u32(&b, VV_CONTROL_FORCE_KEYFRAME);
	b_zero(&b, 4);
	save("vv_cmd", "set-control-short", &b);

	b_reset(&b);
	cmd_hdr(&b, VV_CMD_GET_CONTROL, 1);
	b_u32(&b, VV_CONTROL_LEVEL);
	b_zero(&b, 4);
	cmd_save(&b, "get-control", 16);

	/* Hostile: unknown type, too many planes, entries cut short, short body. */
	b_reset(&b);
	cmd_hdr(&b, 0x01ff, 3);
	cmd_save(&b, "unknown", 8);
	b_reset(&b);
	cmd_hdr(&b, VV_CMD_RESOURCE_CREATE, 1);
	b_u32(&b, VV_QUEUE_TYPE_INPUT);
	b_u32(&b, 1);
	b_u32(&b, VV_PLANES_LAYOUT_PER_PLANE);
	b_u32(&b, 9);
	b_zero(&b, 64);
	save("vv_cmd", "nine-planes", &b);
	b_reset(&b);
	cmd_hdr(&b, VV_CMD_RESOURCE_CREATE, 1);
	b_u32(&b, VV_QUEUE_TYPE_INPUT);
	b_u32(&b, 1);
	b_u32(&b, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	b_u32(&b, 1);
	b_zero(&b, 32);
	b_u32(&b, 4096);
	b_zero(&b, 28);
	b_zero(&b, 16 * 3);
	save("vv_cmd", "entries-short", &b);
	b_reset(&b);
	cmd_hdr(&b, VV_CMD_SET_PARAMS_EXT, 1);
	b_zero(&b, 100);
	save("vv_cmd", "short-body", &b);
}

/* ---- fuzz_vv_device -------------------------------------------------------------------------- */

/* Operand helpers: sids 0..7 directly, queue types by bit, shapes. */
#define SID(n) ((uint8_t)(n))
#define QT_IN 0
#define QT_OUT 1
#define FMT_FWHT 0
#define FMT_H264 1
#define FMT_NV12 2
#define FMT_YUV420 3
#define SHAPE(cap_idx, place) ((uint8_t)((cap_idx) | (place) << VVD_SHAPE_PLACE_SHIFT))
#define SH_DEFAULT SHAPE(6, VVD_PLACE_TWO) /* 256 bytes, command cut in two */

static void op(struct buf *b, uint8_t code)
{
	b_u8(b, code);
}

static void t_cmd(struct buf *b, uint8_t t)
{
	op(b, VVD_OP_CMD);
	b_u8(b, t);
}

static void d_stream_create(struct buf *b, uint8_t sid, uint8_t fmt)
{
	t_cmd(b, VVD_T_STREAM_CREATE);
	b_u8(b, sid);
	b_u8(b, fmt);
	b_u8(b, 0);
	b_u8(b, SH_DEFAULT);
}

static void d_hdr_cmd(struct buf *b, uint8_t t, uint8_t sid, uint8_t shape)
{
	t_cmd(b, t);
	b_u8(b, sid);
	b_u8(b, shape);
}

static void d_queue_cmd(struct buf *b, uint8_t t, uint8_t sid, uint8_t qt)
{
	t_cmd(b, t);
	b_u8(b, sid);
	b_u8(b, qt);
	b_u8(b, SH_DEFAULT);
}

static void d_set_params(struct buf *b, uint8_t sid, uint8_t qt, bool ext, uint8_t fmt,
			 uint16_t w, uint16_t h)
{
	t_cmd(b, VVD_T_SET_PARAMS);
	b_u8(b, sid);
	b_u8(b, qt);
	b_u8(b, ext);
	b_u8(b, fmt);
	b_u16(b, w);
	b_u16(b, h);
	b_u8(b, 0);
	b_u16(b, 0);
	b_u8(b, 0);
	b_u8(b, SH_DEFAULT);
}

static void d_get_params(struct buf *b, uint8_t sid, uint8_t qt, bool ext)
{
	t_cmd(b, VVD_T_GET_PARAMS);
	b_u8(b, sid);
	b_u8(b, qt);
	b_u8(b, ext);
	b_u8(b, SH_DEFAULT);
}

static void d_res_simple(struct buf *b, uint8_t sid, uint8_t qt, uint8_t rid, uint16_t slot,
			 uint16_t len)
{
	t_cmd(b, VVD_T_RES_SIMPLE);
	b_u8(b, sid);
	b_u8(b, qt);
	b_u8(b, rid);
	b_u16(b, slot);
	b_u16(b, len);
	b_u8(b, SH_DEFAULT);
}

static void d_res_queue(struct buf *b, uint8_t sid, uint8_t qt, uint8_t rid, uint8_t ts,
			uint8_t nsizes, uint16_t size0)
{
	t_cmd(b, VVD_T_RES_QUEUE);
	b_u8(b, sid);
	b_u8(b, qt);
	b_u8(b, rid);
	b_u8(b, ts);
	b_u8(b, nsizes);
	b_u16(b, size0);
	b_u8(b, SH_DEFAULT);
}

static void d_event_bufs(struct buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		op(b, VVD_OP_EVENT_BUF);
		b_u8(b, 3); /* 16 bytes */
	}
}

static void d_run(struct buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		op(b, VVD_OP_RUN);
}

/* The decoding sequence of test_vv_device.c at 16x16 (384-byte NV12 pictures). */
static void d_decode_setup(struct buf *b, uint8_t fmt)
{
	d_stream_create(b, SID(1), fmt);
	d_set_params(b, SID(1), QT_IN, false, fmt, 16, 16);
	d_get_params(b, SID(1), QT_OUT, false);
	d_get_params(b, SID(1), QT_IN, true);
	d_event_bufs(b, 2);
	d_res_simple(b, SID(1), QT_IN, 1, 0, 4096);
	d_res_simple(b, SID(1), QT_IN, 2, 64, 4096);
	d_res_simple(b, SID(1), QT_OUT, 1, 128, 384);
	d_res_simple(b, SID(1), QT_OUT, 2, 192, 384);
}

static void d_begin(struct buf *b, uint8_t features, uint8_t sizes)
{
	b_reset(b);
	b_u8(b, features);
	b_u8(b, sizes);
}

static void gen_vv_device(void)
{
	const uint8_t all = VVD_F_EVENT_IDX | VVD_F_INDIRECT | VVD_F_NON_CONTIG;
	struct buf b;

	d_begin(&b, all, 0x44);
	t_cmd(&b, VVD_T_QUERY_CAPS);
	b_u8(&b, QT_IN);
	b_u8(&b, SHAPE(7, VVD_PLACE_ONE));
	t_cmd(&b, VVD_T_QUERY_CAPS);
	b_u8(&b, QT_OUT);
	b_u8(&b, SHAPE(6, VVD_PLACE_ONE)); /* 256 bytes: the 176-byte answer fits */
	t_cmd(&b, VVD_T_QUERY_CAPS);
	b_u8(&b, QT_OUT);
	b_u8(&b, SHAPE(5, VVD_PLACE_INDIRECT)); /* 64: too small */
	save("vv_device", "caps", &b);

	/* Decode two frames, drain, destroy. */
	d_begin(&b, all, 0x33);
	d_decode_setup(&b, FMT_FWHT);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_res_queue(&b, SID(1), QT_OUT, 2, 0, 0, 0);
	d_res_queue(&b, SID(1), QT_IN, 1, 10, 1, 100);
	d_res_queue(&b, SID(1), QT_IN, 2, 20, 1, 100);
	d_run(&b, 3);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_hdr_cmd(&b, VVD_T_STREAM_DRAIN, SID(1), SH_DEFAULT);
	d_run(&b, 3);
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(1), SH_DEFAULT);
	save("vv_device", "decode-drain", &b);

	/* Buffers queued, then clear, destroy-all, drain racing with them. */
	d_begin(&b, all, 0x22);
	d_decode_setup(&b, FMT_H264);
	d_res_queue(&b, SID(1), QT_IN, 1, 10, 1, 100);
	d_res_queue(&b, SID(1), QT_IN, 2, 20, 1, 100);
	d_hdr_cmd(&b, VVD_T_STREAM_DRAIN, SID(1), SH_DEFAULT);
	d_queue_cmd(&b, VVD_T_QUEUE_CLEAR, SID(1), QT_IN);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_queue_cmd(&b, VVD_T_DESTROY_ALL, SID(1), QT_OUT);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_run(&b, 2);
	save("vv_device", "clear-destroy", &b);

	/* Memory: the picture region goes while buffers are queued, comes back. */
	d_begin(&b, all, 0x33);
	d_decode_setup(&b, FMT_FWHT);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	op(&b, VVD_OP_MEM_REMOVE);
	b_u8(&b, 1);
	d_res_queue(&b, SID(1), QT_IN, 1, 10, 1, 100);
	d_res_queue(&b, SID(1), QT_OUT, 2, 0, 0, 0);
	d_run(&b, 2);
	op(&b, VVD_OP_MEM_READD);
	d_res_queue(&b, SID(1), QT_OUT, 2, 0, 0, 0);
	op(&b, VVD_OP_MEM_REMOVE);
	b_u8(&b, 0 | 2); /* the rings' region, re-added at once */
	op(&b, VVD_OP_KICK);
	b_u8(&b, 0);
	d_run(&b, 2);
	save("vv_device", "memory", &b);

	/* Ring stopped with buffers in flight, restarted; then a driver reset. */
	d_begin(&b, VVD_F_NON_CONTIG, 0x11);
	d_decode_setup(&b, FMT_FWHT);
	d_res_queue(&b, SID(1), QT_IN, 1, 10, 1, 100);
	op(&b, VVD_OP_STOP_START);
	b_u8(&b, 0 | 2);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	op(&b, VVD_OP_STOP_START);
	b_u8(&b, 1);
	d_res_queue(&b, SID(1), QT_IN, 2, 20, 1, 100);
	op(&b, VVD_OP_STATUS_RESET);
	d_stream_create(&b, SID(2), FMT_H264);
	save("vv_device", "stop-reset", &b);

	/* Controls, params of every kind, unknown stream. */
	d_begin(&b, 0, 0x00);
	d_stream_create(&b, SID(3), FMT_H264);
	t_cmd(&b, VVD_T_QUERY_CONTROL);
	b_u8(&b, VV_CONTROL_PROFILE);
	b_u8(&b, FMT_H264);
	b_u8(&b, SH_DEFAULT);
	t_cmd(&b, VVD_T_QUERY_CONTROL);
	b_u8(&b, VV_CONTROL_LEVEL);
	b_u8(&b, FMT_FWHT);
	b_u8(&b, SH_DEFAULT);
	t_cmd(&b, VVD_T_GET_CONTROL);
	b_u8(&b, SID(3));
	b_u8(&b, VV_CONTROL_PROFILE);
	b_u8(&b, SH_DEFAULT);
	t_cmd(&b, VVD_T_SET_CONTROL);
	b_u8(&b, SID(3));
	b_u8(&b, 0x82); /* FORCE_KEYFRAME (130 % 9), without its value part */
	b_u32(&b, 1);
	b_u8(&b, SH_DEFAULT);
	d_set_params(&b, SID(3), QT_OUT, true, FMT_YUV420, 64, 48);
	d_get_params(&b, SID(3), QT_OUT, true);
	d_get_params(&b, SID(5), QT_OUT, false);
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(3), SH_DEFAULT);
	save("vv_device", "controls-params", &b);

	/* PER_PLANE NV12 output over scattered entries (one across the regions). */
	d_begin(&b, all, 0x33);
	d_stream_create(&b, SID(1), FMT_FWHT);
	d_set_params(&b, SID(1), QT_IN, false, FMT_FWHT, 16, 16);
	t_cmd(&b, VVD_T_RES_CREATE);
	b_u8(&b, SID(1));
	b_u8(&b, QT_OUT);
	b_u8(&b, 3);
	b_u8(&b, 2); /* PER_PLANE */
	b_u8(&b, 1); /* two planes */
	b_u16(&b, 0);
	b_u8(&b, 2);
	b_u16(&b, 0);
	b_u8(&b, 1);
	b_u8(&b, VVD_ADDR_PICTURE);
	b_u16(&b, 0x100);
	b_u16(&b, 128);
	b_u8(&b, VVD_ADDR_CROSS);
	b_u16(&b, 0x4000 - 64);
	b_u16(&b, 128);
	b_u8(&b, VVD_ADDR_PICTURE);
	b_u16(&b, 0x200);
	b_u16(&b, 128);
	b_u8(&b, SH_DEFAULT);
	d_res_simple(&b, SID(1), QT_IN, 1, 0, 4096);
	d_event_bufs(&b, 1);
	d_res_queue(&b, SID(1), QT_OUT, 3, 0, 0, 0);
	d_res_queue(&b, SID(1), QT_IN, 1, 7, 1, 10);
	d_run(&b, 3);
	save("vv_device", "per-plane", &b);

	/* Chain shapes: indirect, across the regions, split response, bad order, tiny caps,
	 * batched without kicks, a raw garbage command. */
	d_begin(&b, all, 0x21);
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(2, VVD_PLACE_INDIRECT));
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(2, VVD_PLACE_CROSS));
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(4, VVD_PLACE_ONE) | VVD_SHAPE_SPLIT_RESP);
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(4, VVD_PLACE_TWO) | VVD_SHAPE_BAD_ORDER);
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(1, VVD_PLACE_ONE));
	d_hdr_cmd(&b, VVD_T_STREAM_DESTROY, SID(4), SHAPE(0, VVD_PLACE_ONE) | VVD_SHAPE_NO_KICK);
	d_hdr_cmd(&b, VVD_T_STREAM_DRAIN, SID(4), SHAPE(3, VVD_PLACE_ONE) | VVD_SHAPE_NO_KICK);
	t_cmd(&b, VVD_T_RAW);
	b_u8(&b, 12);
	b_bytes(&b, "\x04\x01\x00\x00\x01\x00\x00\x00garb", 12);
	b_u8(&b, SH_DEFAULT);
	op(&b, VVD_OP_KICK);
	b_u8(&b, 0);
	save("vv_device", "shapes", &b);

	/* More streams than the device takes (ids 0x80..). */
	d_begin(&b, 0, 0x44);
	for (unsigned i = 0; i < 34; i++) {
		t_cmd(&b, VVD_T_STREAM_CREATE);
		b_u8(&b, (uint8_t)(0x80 + i));
		b_u8(&b, FMT_FWHT);
		b_u8(&b, 0);
		b_u8(&b, SHAPE(2, VVD_PLACE_ONE));
	}
	save("vv_device", "many-streams", &b);

	/* The driver breaks the command queue: a driver reset, then RESET_DEVICE; then the
	 * event queue. */
	d_begin(&b, all, 0x11);
	d_stream_create(&b, SID(1), FMT_FWHT);
	op(&b, VVD_OP_BREAK);
	b_u8(&b, 0);
	op(&b, VVD_OP_STATUS_RESET);
	d_stream_create(&b, SID(2), FMT_FWHT);
	op(&b, VVD_OP_DEVICE_RESET);
	d_stream_create(&b, SID(3), FMT_H264);
	d_res_simple(&b, SID(3), QT_IN, 1, 0, 4096);
	d_res_queue(&b, SID(3), QT_IN, 1, 1, 1, 100);
	op(&b, VVD_OP_BREAK);
	b_u8(&b, 1);
	d_event_bufs(&b, 1);
	d_run(&b, 2);
	save("vv_device", "break-reset", &b);

	/* A resource queued twice, a drain with nothing queued, then a picture buffer
	 * (it comes back empty with EOS), params refused, entries refused. */
	d_begin(&b, VVD_F_EVENT_IDX, 0x22);
	d_decode_setup(&b, FMT_FWHT);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	d_hdr_cmd(&b, VVD_T_STREAM_DRAIN, SID(1), SH_DEFAULT);
	d_hdr_cmd(&b, VVD_T_STREAM_DRAIN, SID(1), SH_DEFAULT);
	d_run(&b, 2);
	d_set_params(&b, SID(1), QT_IN, true, FMT_NV12, 4096, 4096);
	d_set_params(&b, SID(1), QT_OUT, false, FMT_YUV420, 0xffff, 2);
	d_res_simple(&b, SID(1), QT_OUT, 5, 0xffff, 0xffff);
	d_res_simple(&b, SID(1), QT_OUT, 6, 0, 0);
	d_res_queue(&b, SID(1), QT_IN, 1, 3, 2, 100);
	d_res_queue(&b, SID(1), QT_IN, 9, 3, 1, 100);
	save("vv_device", "refusals", &b);

	/* More resources than a queue takes (ids 0x80.., one 16-byte entry each). */
	d_begin(&b, 0, 0x44);
	d_stream_create(&b, SID(1), FMT_FWHT);
	for (unsigned i = 0; i < 130; i++) {
		t_cmd(&b, VVD_T_RES_SIMPLE);
		b_u8(&b, SID(1));
		b_u8(&b, QT_OUT);
		b_u8(&b, (uint8_t)(0x80 + i));
		b_u16(&b, (uint16_t)i);
		b_u16(&b, 16);
		b_u8(&b, SHAPE(2, VVD_PLACE_ONE));
	}
	save("vv_device", "many-resources", &b);

	/* More events than the device keeps while no event buffer is posted: each input
	 * after an INPUT size change announces the size again. */
	d_begin(&b, 0, 0x44);
	d_stream_create(&b, SID(1), FMT_FWHT);
	d_res_simple(&b, SID(1), QT_IN, 1, 0, 4096);
	for (unsigned i = 0; i < 70; i++) {
		d_set_params(&b, SID(1), QT_IN, false, FMT_FWHT, (uint16_t)(16 + 2 * (i & 1)), 16);
		d_res_queue(&b, SID(1), QT_IN, 1, (uint8_t)i, 0, 0);
		d_run(&b, 1);
	}
	d_event_bufs(&b, 3);
	save("vv_device", "event-flood", &b);

	/* The rings' region goes and comes back while a picture buffer is with the backend
	 * (its own memory did not move), then the picture comes. */
	d_begin(&b, all, 0x33);
	d_decode_setup(&b, FMT_FWHT);
	d_res_queue(&b, SID(1), QT_OUT, 1, 0, 0, 0);
	op(&b, VVD_OP_MEM_REMOVE);
	b_u8(&b, 0 | 2);
	d_res_queue(&b, SID(1), QT_IN, 1, 10, 1, 100);
	d_run(&b, 3);
	save("vv_device", "memory-rings", &b);

	/* Events with no buffer, buffers too small, then enough. */
	d_begin(&b, VVD_F_EVENT_IDX, 0x00);
	d_stream_create(&b, SID(1), FMT_FWHT);
	d_res_simple(&b, SID(1), QT_IN, 1, 0, 4096);
	d_res_queue(&b, SID(1), QT_IN, 1, 1, 1, 100);
	d_run(&b, 2);
	op(&b, VVD_OP_EVENT_BUF);
	b_u8(&b, 1); /* 4 bytes */
	op(&b, VVD_OP_EVENT_BUF);
	b_u8(&b, 0); /* readable */
	op(&b, VVD_OP_EVENT_BUF);
	b_u8(&b, 2 | 8); /* 8 bytes in two descriptors */
	d_run(&b, 1);
	save("vv_device", "events", &b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	gen_vu_msg();
	gen_virtq();
	gen_vv_cmd();
	gen_vv_device();
	printf("gen_corpus: %u seeds written to %s\n", written, outdir);
	return 0;
}
