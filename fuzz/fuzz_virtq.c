/* The split-ring chain walker over a descriptor table and avail ring taken from
 * the input, in guest memory made of memfd regions: A and B GPA-contiguous (B at
 * a file offset, elsewhere in front-end address space), a gap, then C. The data
 * area, which indirect tables and buffers may use, straddles the A/B boundary.
 *
 * Chains are popped until vq_pop_chain returns 0, read and written whole (the
 * first 64 KiB and the last 4 KiB of each part), pushed (some held in flight
 * first), and notified; with the second-pass bit the driver re-publishes ring
 * slots and the device goes again.
 *
 * Oracles besides the sanitizers: every segment lies inside one mapped region;
 * the segment lengths add up to read_len / write_len; copies return exactly the
 * bytes the chain holds; each -errno other than -EIO counts one bad chain and one
 * used entry, -EIO means the ring is broken; the used ring holds exactly the
 * pushes made, in order, and used->idx matches the shadow; nothing stays in
 * flight; the walk always terminates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_formats.h"
#include "fuzz_util.h"
#include "guest_mem.h"
#include "virtq.h"

#define COPY_HEAD (64u << 10)
#define COPY_TAIL 4096u
#define MAX_PUSHES (4 * VQ_MAX_SIZE + 16)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct hregion {
	uint64_t gpa, size, offset, uva;
	uint8_t *view; /* our own mapping of the region (the "guest" side) */
};

static struct hregion hregions[3] = {
	{ VQF_GPA_A, VQF_SIZE_A, 0, VQF_UVA_A, NULL },
	{ VQF_GPA_B, VQF_SIZE_B, VQF_OFFSET_B, VQF_UVA_B, NULL },
	{ VQF_GPA_C, VQF_SIZE_C, 0, VQF_UVA_C, NULL },
};
static struct guest_mem mem;
static int call_fd = -1;
static uint8_t scratch[COPY_HEAD];

static void setup_memory(void)
{
	guest_mem_init(&mem);
	for (unsigned i = 0; i < 3; i++) {
		struct hregion *h = &hregions[i];
		struct vu_mem_region r = {
			.guest_phys_addr = h->gpa, .memory_size = h->size,
			.userspace_addr = h->uva, .mmap_offset = h->offset,
		};
		int fd = fuzz_memfd(h->offset + h->size);
		uint8_t *base;

		FUZZ_CHECK(fd >= 0);
		base = mmap(NULL, h->offset + h->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		FUZZ_CHECK(base != MAP_FAILED);
		h->view = base + h->offset;
		FUZZ_CHECK(guest_mem_add(&mem, &r, &fd) == 0);
		FUZZ_CHECK(fd == -1);
	}
	call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	FUZZ_CHECK(call_fd >= 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	setup_memory();
	return 0;
}

/* Our view of [gpa, gpa + len) when it lies in one region. */
static uint8_t *view(uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct hregion *h = &hregions[i];

		if (gpa >= h->gpa && gpa - h->gpa <= h->size && len <= h->size - (gpa - h->gpa))
			return h->view + (gpa - h->gpa);
	}
	return NULL;
}

/* Copies input bytes to guest memory at gpa, across regions. */
static void guest_fill(uint64_t gpa, const uint8_t *src, size_t len)
{
	while (len) {
		size_t chunk = len;
		uint8_t *p;

		/* The only range crossing regions is the data area (at the A/B boundary). */
		if (gpa < VQF_GPA_B && gpa + len > VQF_GPA_B)
			chunk = (size_t)(VQF_GPA_B - gpa);
		p = view(gpa, chunk);
		FUZZ_CHECK(p != NULL);
		memcpy(p, src, chunk);
		src += chunk;
		gpa += chunk;
		len -= chunk;
	}
}

/* A writable buffer overlapped the rings: the guest asked us to scribble over them,
 * so what they hold (or the avail index) proves nothing afterwards. */
static bool rings_clobbered;
static const uint8_t *rings_host; /* desc, avail and used: the first 32 KiB of A */
#define RINGS_LEN 0x8000u

static bool overlaps_rings(const struct iovec *s)
{
	const uint8_t *b = s->iov_base;

	return b < rings_host + RINGS_LEN && rings_host < b + s->iov_len;
}

static bool seg_in_guest(const struct iovec *s)
{
	const uint8_t *b = s->iov_base;

	for (unsigned i = 0; i < mem.nregions; i++) {
		const struct guest_mem_region *r = &mem.regions[i];

		if (b >= r->host && (uint64_t)(b - r->host) < r->size &&
		    s->iov_len <= r->size - (uint64_t)(b - r->host))
			return true;
	}
	return false;
}

/* Checks the chain's shape, reads the readable part and fills the writable part;
 * returns the bytes written. */
static uint32_t consume_chain(const struct vq_chain *c)
{
	uint64_t rsum = 0, wsum = 0;
	size_t n, want;

	FUZZ_CHECK(c->n_read <= VQ_MAX_CHAIN_SEGS && c->n_write <= VQ_MAX_CHAIN_SEGS - c->n_read);
	for (unsigned i = 0; i < c->n_read + c->n_write; i++) {
		FUZZ_CHECK(c->seg[i].iov_len > 0);
		FUZZ_CHECK(seg_in_guest(&c->seg[i]));
		if (i < c->n_read) {
			rsum += c->seg[i].iov_len;
		} else {
			wsum += c->seg[i].iov_len;
			if (overlaps_rings(&c->seg[i]))
				rings_clobbered = true;
		}
	}
	FUZZ_CHECK(rsum == c->read_len && wsum == c->write_len);
	FUZZ_CHECK(c->read_len <= UINT32_MAX && c->write_len <= UINT32_MAX);

	want = c->read_len < COPY_HEAD ? c->read_len : COPY_HEAD;
	FUZZ_CHECK(vq_chain_read(c, 0, scratch, COPY_HEAD) == want);
	if (c->read_len > COPY_TAIL)
		FUZZ_CHECK(vq_chain_read(c, c->read_len - COPY_TAIL, scratch, COPY_HEAD) ==
			   COPY_TAIL);
	FUZZ_CHECK(vq_chain_read(c, c->read_len, scratch, 16) == 0);

	memset(scratch, 0x5a, sizeof(scratch));
	want = c->write_len < COPY_HEAD ? c->write_len : COPY_HEAD;
	n = vq_chain_write(c, 0, scratch, COPY_HEAD);
	FUZZ_CHECK(n == want);
	if (c->write_len > COPY_TAIL)
		FUZZ_CHECK(vq_chain_write(c, c->write_len - COPY_TAIL, scratch, COPY_TAIL) ==
			   COPY_TAIL);
	FUZZ_CHECK(vq_chain_write(c, c->write_len, scratch, 16) == 0);
	return (uint32_t)c->write_len;
}

struct run {
	struct virtq vq;
	struct vq_chain chain;
	unsigned hold;                 /* chains to keep in flight before pushing */
	unsigned nheld;
	uint16_t held[VQ_MAX_SIZE];
	uint32_t held_len[VQ_MAX_SIZE];
	unsigned npush;                /* used entries we expect, in order */
	struct vring_used_elem pushes[MAX_PUSHES];
};

static struct run R;

static void expect_push(uint16_t head, uint32_t len)
{
	if (R.npush < MAX_PUSHES)
		R.pushes[R.npush] = (struct vring_used_elem){ head, len };
	R.npush++;
}

static void push_held(void)
{
	for (unsigned i = 0; i < R.nheld; i++) {
		vq_push_used(&R.vq, R.held[i], R.held_len[i]);
		expect_push(R.held[i], R.held_len[i]);
	}
	R.nheld = 0;
}

/* Pops until the ring is empty (or broken). */
static void drain(void)
{
	struct virtq *vq = &R.vq;
	unsigned limit = 4u * vq->num + 8; /* see below */

	for (unsigned iter = 0;; iter++) {
		uint64_t bad = vq->bad_chains;
		bool was_broken = vq->broken;
		int rc;

		/* At most num chains are available per value of avail->idx, and our writes
		 * into the rings (when the guest points buffers there) give it at most
		 * three values: anything longer is a livelock. */
		FUZZ_CHECK(iter <= limit);
		rc = vq_pop_chain(vq, &R.chain);
		if (rc == 0)
			break;
		if (rc < 0) {
			FUZZ_CHECK(!was_broken);
			if (rc == -EIO) {
				FUZZ_CHECK(vq->broken && vq->bad_chains == bad);
			} else {
				/* Returned to the driver with 0 bytes. */
				FUZZ_CHECK(!vq->broken && vq->bad_chains == bad + 1);
				expect_push(R.chain.head, 0);
			}
			continue;
		}
		FUZZ_CHECK(rc == 1 && R.chain.head < vq->num);
		{
			uint32_t written = consume_chain(&R.chain);

			if (R.nheld < R.hold && R.nheld < VQ_MAX_SIZE) {
				R.held[R.nheld] = R.chain.head;
				R.held_len[R.nheld++] = written;
			} else {
				vq_push_used(vq, R.chain.head, written);
				expect_push(R.chain.head, written);
			}
		}
	}
	vq_notify(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq *vq = &R.vq;
	struct fuzz_in in;
	uint8_t cfg;
	unsigned num;
	uint16_t base, used_start, advance;
	uint8_t *avail_view, *used_view;

	for (unsigned i = 0; i < 3; i++)
		memset(hregions[i].view, 0, hregions[i].size);
	fin_init(&in, data, size);
	cfg = fin_u8(&in);
	R.hold = fin_u8(&in);
	base = fin_u16(&in);
	used_start = fin_u16(&in);
	advance = fin_u16(&in);
	num = 1u << (((cfg >> VQF_CFG_LOG2_SHIFT) & 0xf) % 11);
	R.nheld = 0;
	R.npush = 0;
	rings_clobbered = false;

	/* Descriptor table, avail ring (with used_event), then the data area. */
	fin_bytes(&in, view(VQF_DESC_GPA, 16ull * num), 16ull * num);
	avail_view = view(VQF_AVAIL_GPA, vring_avail_size(num));
	used_view = view(VQF_USED_GPA, vring_used_size(num));
	fin_bytes(&in, avail_view, vring_avail_size(num));
	if (cfg & VQF_CFG_NO_INTERRUPT)
		avail_view[0] |= VRING_AVAIL_F_NO_INTERRUPT;
	put_le16(used_view + 2, used_start);
	{
		size_t rest = in.left < VQF_DATA_SIZE ? in.left : VQF_DATA_SIZE;

		guest_fill(VQF_DATA_GPA, in.p, rest);
	}

	vq_init(vq, 0, &mem);
	FUZZ_CHECK(vq_set_num(vq, num) == 0);
	FUZZ_CHECK(vq_set_addr(vq, VQF_UVA_A + (VQF_DESC_GPA - VQF_GPA_A),
			       VQF_UVA_A + (VQF_AVAIL_GPA - VQF_GPA_A),
			       VQF_UVA_A + (VQF_USED_GPA - VQF_GPA_A)) == 0);
	FUZZ_CHECK(vq->used_idx == used_start);
	vq_set_base(vq, base);
	vq->event_idx = cfg & VQF_CFG_EVENT_IDX;
	vq->indirect = cfg & VQF_CFG_INDIRECT;
	vq->started = true;
	vq->enabled = true;
	vq->call_fd = call_fd;
	FUZZ_CHECK(vq_is_ready(vq));
	rings_host = (const uint8_t *)vq->desc;

	drain();
	/* Asking for kicks again: nothing was added meanwhile unless the ring broke. */
	if (vq_enable_notify(vq))
		FUZZ_CHECK(vq->broken || rings_clobbered);
	push_held();
	vq_notify(vq);

	if (cfg & VQF_CFG_SECOND_PASS) {
		/* The driver makes advance more slots available (old ring entries again). */
		put_le16(avail_view + 2, (uint16_t)(get_le16(avail_view + 2) + advance));
		drain();
		push_held();
		vq_notify(vq);
	}

	FUZZ_CHECK(vq->inflight == 0 || vq->broken);
	/* The used ring holds exactly our pushes, in order (a broken ring accepts pushes
	 * too: only popping stops). */
	FUZZ_CHECK(vq->used_idx == (uint16_t)(used_start + R.npush));
	if (!rings_clobbered)
		FUZZ_CHECK(get_le16(used_view + 2) == vq->used_idx);
	for (unsigned i = R.npush > num ? R.npush - num : 0;
	     !rings_clobbered && i < R.npush && i < MAX_PUSHES; i++) {
		const uint8_t *e = used_view + 4 + 8 * ((uint16_t)(used_start + i) % num);

		FUZZ_CHECK(get_le32(e) == R.pushes[i].id);
		FUZZ_CHECK(get_le32(e + 4) == R.pushes[i].len);
	}

	/* The call fd is ours across inputs; keep the counter from filling up. */
	{
		eventfd_t v;

		vq->call_fd = -1;
		eventfd_read(call_fd, &v);
	}
	vq_reset(vq);
	return 0;
}
