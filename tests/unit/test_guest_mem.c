/* Unit tests for guest_mem: region validation (hostile-input item 7), bounded
 * translation across and between regions (items 12 and 17), removal with
 * retired address ranges, generation, locate. Regions are real memfds. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"
#include "testlib.h"

#define UVA_OFF 0x7f0000000000ull

/* A memfd of file_size bytes filled with byte fill. */
static int make_memfd(uint64_t file_size, uint8_t fill)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)file_size) < 0) {
		close(fd);
		return -1;
	}
	if (fill != 0 && file_size <= (1u << 20)) {
		uint8_t buf[4096];

		memset(buf, fill, sizeof(buf));
		for (uint64_t off = 0; off < file_size; off += sizeof(buf)) {
			size_t n = file_size - off < sizeof(buf) ? file_size - off : sizeof(buf);

			if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
				close(fd);
				return -1;
			}
		}
	}
	return fd;
}

static struct vu_mem_region region(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	return (struct vu_mem_region){
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = uva, .mmap_offset = off,
	};
}

/* Adds a region backed by a new memfd of file_size bytes (fill pattern);
 * *keep receives a duplicate of the memfd for checking its contents later. */
static int add_memfd_region(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint64_t off,
			    uint64_t file_size, uint8_t fill, int *keep)
{
	struct vu_mem_region r = region(gpa, size, gpa + UVA_OFF, off);
	int fd = make_memfd(file_size, fill);
	int rc;

	if (fd < 0)
		return -errno;
	if (keep)
		*keep = dup(fd);
	rc = guest_mem_add(mem, &r, &fd);
	if (fd >= 0)
		close(fd);
	return rc;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void t_item7_region_edges(void)
{
	struct guest_mem mem;
	int keep = -1;
	uint8_t *first, *last;
	uint8_t byte = 0;

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x4000, 0, 0x4000, 0, &keep) == 0);
	CHECK_EQ(mem.nregions, 1);

	first = guest_mem_translate_contig(&mem, 0x10000, 1);
	last = guest_mem_translate_contig(&mem, 0x13fff, 1);
	CHECK(first != NULL);
	CHECK(last == first + 0x3fff);
	CHECK(guest_mem_translate_contig(&mem, 0x10000, 0x4000) == first);
	CHECK(guest_mem_translate_contig(&mem, 0x10000, 0x4001) == NULL);
	CHECK(guest_mem_translate_contig(&mem, 0x13fff, 2) == NULL);
	CHECK(guest_mem_translate_contig(&mem, 0x14000, 1) == NULL);
	CHECK(guest_mem_translate_contig(&mem, 0xffff, 1) == NULL);
	CHECK(guest_mem_translate_contig(&mem, 0xffff, 2) == NULL);

	/* The mapping is the guest's memory: a write shows up in the memfd. */
	REQUIRE(last != NULL);
	*last = 0x5a;
	CHECK_EQ(pread(keep, &byte, 1, 0x3fff), 1);
	CHECK_EQ(byte, 0x5a);

	/* Same edges through the front-end address space. */
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x10000, 0x4000) == first);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x13fff, 1) == last);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x13fff, 2) == NULL);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x14000, 1) == NULL);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0xffff, 1) == NULL);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x10000, UINT64_MAX) == NULL);

	guest_mem_clear(&mem);
	close(keep);
}

static void t_item7_unaligned_mmap_offset(void)
{
	struct guest_mem mem;
	int keep = -1;
	uint8_t *p;
	uint8_t byte = 0;

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x20000, 0x1000, 100, 0x2000, 0, &keep) == 0);
	p = guest_mem_translate_contig(&mem, 0x20000, 1);
	REQUIRE(p != NULL);
	*p = 0xa7;
	CHECK_EQ(pread(keep, &byte, 1, 100), 1);
	CHECK_EQ(byte, 0xa7);
	CHECK_EQ(mem.regions[0].map_len, 100 + 0x1000);
	guest_mem_clear(&mem);
	close(keep);
}

static void t_item12_span_contiguous_regions(void)
{
	struct guest_mem mem;
	struct iovec segs[4];
	uint8_t buf[0x3000];
	uint8_t *a, *b, *c;
	int rc;

	guest_mem_init(&mem);
	/* Added out of order; GPA contiguous 0x10000 .. 0x14000 over three memfds. */
	REQUIRE(add_memfd_region(&mem, 0x11000, 0x2000, 0, 0x2000, 0xbb, NULL) == 0);
	REQUIRE(add_memfd_region(&mem, 0x13000, 0x1000, 0x1000, 0x2000, 0xcc, NULL) == 0);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0xaa, NULL) == 0);
	CHECK_EQ(mem.nregions, 3);
	CHECK_EQ(mem.regions[0].gpa, 0x10000);
	CHECK_EQ(mem.regions[1].gpa, 0x11000);
	CHECK_EQ(mem.regions[2].gpa, 0x13000);

	a = guest_mem_translate_contig(&mem, 0x10800, 1);
	b = guest_mem_translate_contig(&mem, 0x11000, 1);
	c = guest_mem_translate_contig(&mem, 0x13000, 1);
	REQUIRE(a && b && c);

	rc = guest_mem_translate(&mem, 0x10800, 0x3000, segs, 4);
	CHECK_EQ(rc, 3);
	CHECK(segs[0].iov_base == a);
	CHECK_EQ(segs[0].iov_len, 0x800);
	CHECK(segs[1].iov_base == b);
	CHECK_EQ(segs[1].iov_len, 0x2000);
	CHECK(segs[2].iov_base == c);
	CHECK_EQ(segs[2].iov_len, 0x800);

	/* Exactly enough segments, then one too few. */
	CHECK_EQ(guest_mem_translate(&mem, 0x10800, 0x3000, segs, 3), 3);
	CHECK_EQ(guest_mem_translate(&mem, 0x10800, 0x3000, segs, 2), -E2BIG);
	CHECK_EQ(guest_mem_translate(&mem, 0x10fff, 2, segs, 1), -E2BIG);
	CHECK_EQ(guest_mem_translate(&mem, 0x10fff, 2, segs, 2), 2);
	/* A single-region range needs one segment; a contiguous one is refused across regions. */
	CHECK_EQ(guest_mem_translate(&mem, 0x11000, 0x2000, segs, 1), 1);
	CHECK(guest_mem_translate_contig(&mem, 0x10fff, 2) == NULL);
	/* The whole span, to its last byte, and one byte more. */
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0x4000, segs, 4), 3);
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0x4001, segs, 4), -EFAULT);

	memset(buf, 0, sizeof(buf));
	CHECK_EQ(guest_mem_read(&mem, 0x10800, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[0], 0xaa);
	CHECK_EQ(buf[0x7ff], 0xaa);
	CHECK_EQ(buf[0x800], 0xbb);
	CHECK_EQ(buf[0x27ff], 0xbb);
	CHECK_EQ(buf[0x2800], 0xcc);
	CHECK_EQ(buf[0x2fff], 0xcc);
	guest_mem_clear(&mem);
}

static void t_item12_gap_between_regions(void)
{
	struct guest_mem mem;
	struct iovec segs[4];
	uint8_t buf[0x200];

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0x11, NULL) == 0);
	REQUIRE(add_memfd_region(&mem, 0x12000, 0x1000, 0, 0x1000, 0x22, NULL) == 0);

	CHECK_EQ(guest_mem_translate(&mem, 0x10f00, 0x100, segs, 4), 1);
	CHECK_EQ(guest_mem_translate(&mem, 0x10f00, 0x101, segs, 4), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, 0x11000, 1, segs, 4), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, 0x11fff, 2, segs, 4), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0x3000, segs, 4), -EFAULT);
	/* A fault is reported even when the segment budget is also exceeded. */
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0x3000, segs, 0), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, 0x0, 0x10, segs, 4), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, 0x13000, 0x10, segs, 4), -EFAULT);

	memset(buf, 0x77, sizeof(buf));
	CHECK_EQ(guest_mem_read(&mem, 0x10f00, buf, sizeof(buf)), -EFAULT);
	/* Nothing was copied before the fault was found. */
	CHECK_EQ(buf[0], 0x77);
	CHECK_EQ(guest_mem_read(&mem, 0x12f00, buf, 0x100), 0);
	CHECK_EQ(buf[0], 0x22);
	guest_mem_clear(&mem);
}

static void t_item12_overflow(void)
{
	struct guest_mem mem;
	struct iovec segs[2];
	uint8_t buf[8];
	const uint64_t high = UINT64_MAX - 0x1fff; /* region [high, high + 0x1000) */

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0, NULL) == 0);
	{
		struct vu_mem_region r = region(high, 0x1000, 0x100000000ull, 0);
		int fd = make_memfd(0x1000, 0);

		REQUIRE(fd >= 0);
		REQUIRE(guest_mem_add(&mem, &r, &fd) == 0);
	}

	CHECK_EQ(guest_mem_translate(&mem, UINT64_MAX - 1, 4, segs, 2), -EFAULT);
	CHECK(guest_mem_translate_contig(&mem, UINT64_MAX - 1, 4) == NULL);
	CHECK_EQ(guest_mem_read(&mem, UINT64_MAX - 1, buf, 4), -EFAULT);
	/* Lengths that would wrap gpa + len back into a mapped region. */
	CHECK_EQ(guest_mem_translate(&mem, high + 0x10, UINT64_MAX, segs, 2), -EFAULT);
	CHECK_EQ(guest_mem_translate(&mem, high + 0x10, UINT64_MAX - high - 0xf, segs, 2),
		 -EFAULT);
	CHECK(guest_mem_translate_contig(&mem, high + 0x10, UINT64_MAX) == NULL);
	CHECK(guest_mem_translate_contig(&mem, 0x10010, UINT64_MAX - 0x10) == NULL);
	CHECK_EQ(guest_mem_translate(&mem, 0x10010, UINT64_MAX - 0x10, segs, 2), -EFAULT);
	/* The high region's own edges. */
	CHECK_EQ(guest_mem_translate(&mem, high, 0x1000, segs, 2), 1);
	CHECK(guest_mem_translate_contig(&mem, high + 0xfff, 1) != NULL);
	CHECK(guest_mem_translate_contig(&mem, high + 0x1000, 1) == NULL);
	guest_mem_clear(&mem);
}

static void t_item12_len0(void)
{
	struct guest_mem mem;
	struct iovec segs[1] = { { .iov_base = NULL, .iov_len = 99 } };
	uint8_t buf[1] = { 0x33 };

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0, NULL) == 0);
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0, segs, 1), 0);
	CHECK_EQ(guest_mem_translate(&mem, 0x5, 0, segs, 0), 0);
	CHECK_EQ(segs[0].iov_len, 99);
	CHECK_EQ(guest_mem_read(&mem, 0x10000, buf, 0), 0);
	CHECK_EQ(buf[0], 0x33);
	CHECK(guest_mem_translate_contig(&mem, 0x10000, 0) != NULL);
	guest_mem_clear(&mem);
}

/* Each validation failure: -errno, *fd untouched and still open, table unchanged. */
static void check_add_fails(struct guest_mem *mem, struct vu_mem_region r, uint64_t file_size,
			    int expect)
{
	uint64_t gen = mem->generation;
	unsigned n = mem->nregions;
	int fd = make_memfd(file_size, 0);
	int orig = fd;

	REQUIRE(fd >= 0);
	CHECK_EQ(guest_mem_add(mem, &r, &fd), expect);
	CHECK_EQ(fd, orig);
	CHECK(fd_is_open(fd));
	CHECK_EQ(mem->generation, gen);
	CHECK_EQ(mem->nregions, n);
	close(fd);
}

static void t_item7_add_validation(void)
{
	struct guest_mem mem;

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x100000, 0x10000, 0, 0x10000, 0, NULL) == 0);

	/* size 0 */
	check_add_fails(&mem, region(0x200000, 0, 0x9000000, 0), 0x1000, -EINVAL);
	/* gpa + size overflows, and ends exactly at 2^64 */
	check_add_fails(&mem, region(UINT64_MAX - 0xfff, 0x2000, 0x9000000, 0), 0x2000, -EINVAL);
	check_add_fails(&mem, region(UINT64_MAX - 0xfff, 0x1000, 0x9000000, 0), 0x1000, -EINVAL);
	/* uva + size overflows */
	check_add_fails(&mem, region(0x200000, 0x2000, UINT64_MAX - 0xfff, 0), 0x2000, -EINVAL);
	/* mmap_offset + size overflows */
	check_add_fails(&mem, region(0x200000, 0x2000, 0x9000000, UINT64_MAX - 0xfff), 0x2000,
			-EINVAL);
	/* GPA overlap: tail, head, inside, around */
	check_add_fails(&mem, region(0x10f000, 0x2000, 0x9000000, 0), 0x2000, -EINVAL);
	check_add_fails(&mem, region(0x0ff000, 0x2000, 0x9000000, 0), 0x2000, -EINVAL);
	check_add_fails(&mem, region(0x104000, 0x1000, 0x9000000, 0), 0x1000, -EINVAL);
	check_add_fails(&mem, region(0x0f0000, 0x30000, 0x9000000, 0), 0x30000, -EINVAL);
	/* UVA overlap with disjoint GPA */
	check_add_fails(&mem, region(0x200000, 0x2000, UVA_OFF + 0x10f000, 0), 0x2000, -EINVAL);
	check_add_fails(&mem, region(0x200000, 0x2000, UVA_OFF + 0x0ff000, 0), 0x2000, -EINVAL);
	/* fd shorter than mmap_offset + size (would SIGBUS on access) */
	check_add_fails(&mem, region(0x200000, 0x1000, 0x9000000, 0x100), 0x1000, -EINVAL);
	check_add_fails(&mem, region(0x200000, 0x2000, 0x9000000, 0), 0x1fff, -EINVAL);

	/* Touching regions (no overlap) are fine, in both spaces. */
	CHECK_EQ(add_memfd_region(&mem, 0x110000, 0x1000, 0, 0x1000, 0, NULL), 0);
	CHECK_EQ(add_memfd_region(&mem, 0x0ff000, 0x1000, 0, 0x1000, 0, NULL), 0);
	CHECK_EQ(mem.nregions, 3);

	/* A bad fd: fstat's error comes back. */
	{
		struct vu_mem_region r = region(0x300000, 0x1000, 0x9000000, 0);
		int fd = -1;

		CHECK_EQ(guest_mem_add(&mem, &r, &fd), -EBADF);
		CHECK_EQ(fd, -1);
	}
	guest_mem_clear(&mem);
}

static void t_item7_table_full(void)
{
	struct guest_mem mem;
	int rc = 0;

	guest_mem_init(&mem);
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS && rc == 0; i++)
		rc = add_memfd_region(&mem, 0x100000 + 0x10000ull * i, 0x1000, 0, 0x1000, 0, NULL);
	CHECK_EQ(rc, 0);
	CHECK_EQ(mem.nregions, GUEST_MEM_MAX_REGIONS);
	check_add_fails(&mem, region(0x8000000, 0x1000, 0x9000000, 0), 0x1000, -ENOSPC);
	guest_mem_clear(&mem);
	CHECK_EQ(mem.nregions, 0);
}

static void t_item7_remove_region_in_use(void)
{
	struct guest_mem mem;
	struct vu_mem_region r = region(0x20000, 0x2000, UVA_OFF + 0x20000, 0);
	struct iovec segs[2];
	uint8_t before[16], after[16];
	uint8_t *stale;
	int keep = -1, region_fd;
	uint64_t gen;

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0x01, NULL) == 0);
	REQUIRE(add_memfd_region(&mem, 0x20000, 0x2000, 0, 0x2000, 0x02, &keep) == 0);
	REQUIRE(keep >= 0);
	stale = guest_mem_translate_contig(&mem, 0x20100, 16);
	REQUIRE(stale != NULL);
	region_fd = mem.regions[1].fd;
	CHECK(fd_is_open(region_fd));
	CHECK_EQ(pread(keep, before, sizeof(before), 0x100), (ssize_t)sizeof(before));

	/* Matching needs gpa, size and uva. */
	{
		struct vu_mem_region wrong = r;

		wrong.memory_size = 0x1000;
		CHECK_EQ(guest_mem_remove(&mem, &wrong), -ENOENT);
		wrong = r;
		wrong.userspace_addr += 0x1000;
		CHECK_EQ(guest_mem_remove(&mem, &wrong), -ENOENT);
	}

	gen = mem.generation;
	CHECK_EQ(guest_mem_remove(&mem, &r), 0);
	CHECK_EQ(mem.generation, gen + 1);
	CHECK_EQ(mem.nregions, 1);
	CHECK_EQ(mem.nretired, 1);
	CHECK(!fd_is_open(region_fd));
	CHECK_EQ(guest_mem_translate(&mem, 0x20100, 16, segs, 2), -EFAULT);
	CHECK(guest_mem_translate_contig(&mem, 0x20100, 16) == NULL);
	CHECK(guest_mem_uva_to_host(&mem, UVA_OFF + 0x20100, 16) == NULL);
	/* The other region is untouched. */
	CHECK_EQ(guest_mem_translate(&mem, 0x10000, 0x1000, segs, 2), 1);

	/* A late write through an old pointer neither crashes nor reaches the guest. */
	memset(stale, 0xee, 16);
	CHECK_EQ(stale[15], 0xee);
	CHECK_EQ(pread(keep, after, sizeof(after), 0x100), (ssize_t)sizeof(after));
	CHECK_MEM(before, after, sizeof(before));
	CHECK_EQ(after[0], 0x02);

	CHECK_EQ(guest_mem_remove(&mem, &r), -ENOENT);
	CHECK_EQ(mem.generation, gen + 1);

	guest_mem_release_retired(&mem);
	CHECK_EQ(mem.nretired, 0);
	guest_mem_clear(&mem);
	close(keep);
}

static void t_item7_retired_full(void)
{
	struct guest_mem mem;
	struct vu_mem_region r;
	int rc = 0;

	guest_mem_init(&mem);
	for (unsigned i = 0; i < GUEST_MEM_MAX_RETIRED && rc == 0; i++) {
		r = region(0x10000, 0x1000, UVA_OFF + 0x10000, 0);
		rc = add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0, NULL);
		if (rc == 0)
			rc = guest_mem_remove(&mem, &r);
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(mem.nretired, GUEST_MEM_MAX_RETIRED);

	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0x44, NULL) == 0);
	r = region(0x10000, 0x1000, UVA_OFF + 0x10000, 0);
	CHECK_EQ(guest_mem_remove(&mem, &r), -ENOSPC);
	/* Not removed: still translatable, still the guest's memory. */
	CHECK_EQ(mem.nregions, 1);
	{
		uint8_t *p = guest_mem_translate_contig(&mem, 0x10000, 1);

		CHECK(p != NULL);
		if (p)
			CHECK_EQ(*p, 0x44);
	}

	guest_mem_release_retired(&mem);
	CHECK_EQ(mem.nretired, 0);
	CHECK_EQ(guest_mem_remove(&mem, &r), 0);
	CHECK_EQ(mem.nregions, 0);
	CHECK_EQ(mem.nretired, 1);
	guest_mem_clear(&mem);
	CHECK_EQ(mem.nretired, 0);
}

static void t_generation(void)
{
	struct guest_mem mem;
	struct vu_mem_region r = region(0x10000, 0x1000, UVA_OFF + 0x10000, 0);
	uint64_t g;

	guest_mem_init(&mem);
	g = mem.generation;
	REQUIRE(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0, NULL) == 0);
	CHECK_EQ(mem.generation, g + 1);
	/* Failed changes are no changes. */
	CHECK_EQ(add_memfd_region(&mem, 0x10000, 0x1000, 0, 0x1000, 0, NULL), -EINVAL);
	CHECK_EQ(mem.generation, g + 1);
	REQUIRE(add_memfd_region(&mem, 0x20000, 0x1000, 0, 0x1000, 0, NULL) == 0);
	CHECK_EQ(mem.generation, g + 2);
	CHECK_EQ(guest_mem_remove(&mem, &r), 0);
	CHECK_EQ(mem.generation, g + 3);
	guest_mem_clear(&mem);
	CHECK_EQ(mem.generation, g + 4);
	CHECK_EQ(mem.nregions, 0);
	CHECK_EQ(mem.nretired, 0);
	CHECK(guest_mem_translate_contig(&mem, 0x20000, 1) == NULL);
}

static void t_item17_locate(void)
{
	struct guest_mem mem;
	int fd = -2;
	uint64_t file_offset = 0, avail = 0;

	guest_mem_init(&mem);
	REQUIRE(add_memfd_region(&mem, 0x40000, 0x3000, 0x200, 0x4000, 0, NULL) == 0);
	CHECK_EQ(guest_mem_locate(&mem, 0x40010, &fd, &file_offset, &avail), 0);
	CHECK_EQ(fd, mem.regions[0].fd);
	CHECK_EQ(file_offset, 0x210);
	CHECK_EQ(avail, 0x2ff0);
	CHECK_EQ(guest_mem_locate(&mem, 0x42fff, &fd, &file_offset, &avail), 0);
	CHECK_EQ(file_offset, 0x31ff);
	CHECK_EQ(avail, 1);

	fd = -2;
	CHECK_EQ(guest_mem_locate(&mem, 0x43000, &fd, &file_offset, &avail), -EFAULT);
	CHECK_EQ(guest_mem_locate(&mem, 0x3ffff, &fd, &file_offset, &avail), -EFAULT);
	CHECK_EQ(guest_mem_locate(&mem, UINT64_MAX, &fd, &file_offset, &avail), -EFAULT);
	CHECK_EQ(fd, -2);
	guest_mem_clear(&mem);
}

int main(void)
{
	log_verbosity = -1; /* the rejections below are expected */
	test_begin("guest_mem");
	RUN_TEST(t_item7_region_edges);
	RUN_TEST(t_item7_unaligned_mmap_offset);
	RUN_TEST(t_item12_span_contiguous_regions);
	RUN_TEST(t_item12_gap_between_regions);
	RUN_TEST(t_item12_overflow);
	RUN_TEST(t_item12_len0);
	RUN_TEST(t_item7_add_validation);
	RUN_TEST(t_item7_table_full);
	RUN_TEST(t_item7_remove_region_in_use);
	RUN_TEST(t_item7_retired_full);
	RUN_TEST(t_generation);
	RUN_TEST(t_item17_locate);
	return test_summary();
}
