/* Guest memory regions: mapping, removal with address-range retirement and
 * bounded translation. Region values come from the front-end and are checked
 * before anything is mapped; translations never compute an end address that
 * could wrap. */
#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

void guest_mem_init(struct guest_mem *mem)
{
	memset(mem, 0, sizeof(*mem));
}

/* [a, a + a_len) and [b, b + b_len) intersect; both ends are known not to wrap. */
static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
	return a < b + b_len && b < a + a_len;
}

/* Region holding gpa, or NULL. Regions are kept sorted by gpa and never
 * overlap, so a binary search finds the only candidate. */
static const struct guest_mem_region *find_region(const struct guest_mem *mem, uint64_t gpa)
{
	unsigned lo = 0, hi = mem->nregions;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (mem->regions[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct guest_mem_region *r = &mem->regions[lo - 1];

	return gpa - r->gpa < r->size ? r : NULL;
}

static int check_new_region(const struct guest_mem *mem, const struct vu_mem_region *r)
{
	uint64_t size = r->memory_size;

	if (size == 0) {
		log_warn("memory region: size 0");
		return -EINVAL;
	}
	/* An end of exactly 2^64 is refused too: ends are then always representable. */
	if (size > UINT64_MAX - r->guest_phys_addr || size > UINT64_MAX - r->userspace_addr ||
	    size > UINT64_MAX - r->mmap_offset) {
		log_warn("memory region: address + size overflows");
		return -EINVAL;
	}
	if (r->mmap_offset + size > SIZE_MAX || r->mmap_offset + size > (uint64_t)INT64_MAX) {
		log_warn("memory region: too large to map");
		return -EINVAL;
	}
	if (mem->nregions >= GUEST_MEM_MAX_REGIONS) {
		log_warn("memory region: table full (%u regions)", mem->nregions);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *o = &mem->regions[i];

		if (ranges_overlap(r->guest_phys_addr, size, o->gpa, o->size)) {
			log_warn("memory region: overlaps another in guest-physical space");
			return -EINVAL;
		}
		if (ranges_overlap(r->userspace_addr, size, o->uva, o->size)) {
			log_warn("memory region: overlaps another in front-end address space");
			return -EINVAL;
		}
	}
	return 0;
}

int guest_mem_add(struct guest_mem *mem, const struct vu_mem_region *r, int *fd)
{
	struct stat st;
	uint64_t map_end;
	void *base;
	unsigned pos;
	int rc;

	rc = check_new_region(mem, r);
	if (rc < 0)
		return rc;
	map_end = r->mmap_offset + r->memory_size;

	/* Touching a page beyond the end of a short file raises SIGBUS: refuse it now. */
	if (fstat(*fd, &st) < 0) {
		rc = -errno;
		log_warn("memory region: fstat: %s", strerror(errno));
		return rc;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size < map_end) {
		log_warn("memory region: fd holds %lld bytes, region needs %llu",
			 (long long)st.st_size, (unsigned long long)map_end);
		return -EINVAL;
	}

	/* Mapped from file offset 0 so that mmap_offset need not be page aligned. */
	base = mmap(NULL, (size_t)map_end, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		log_warn("memory region: mmap: %s", strerror(errno));
		return rc;
	}
	/* Guest RAM has no place in a core dump; failing to say so is not fatal. */
	if (madvise(base, (size_t)map_end, MADV_DONTDUMP) < 0)
		log_debug("memory region: madvise(DONTDUMP): %s", strerror(errno));

	for (pos = 0; pos < mem->nregions; pos++)
		if (mem->regions[pos].gpa > r->guest_phys_addr)
			break;
	memmove(&mem->regions[pos + 1], &mem->regions[pos],
		(mem->nregions - pos) * sizeof(mem->regions[0]));
	mem->regions[pos] = (struct guest_mem_region){
		.gpa = r->guest_phys_addr,
		.size = r->memory_size,
		.uva = r->userspace_addr,
		.mmap_offset = r->mmap_offset,
		.host = (uint8_t *)base + r->mmap_offset,
		.map_base = base,
		.map_len = (size_t)map_end,
		.fd = *fd,
	};
	*fd = -1;
	mem->nregions++;
	mem->generation++;
	return 0;
}

static void drop_region_slot(struct guest_mem *mem, unsigned i)
{
	memmove(&mem->regions[i], &mem->regions[i + 1],
		(mem->nregions - i - 1) * sizeof(mem->regions[0]));
	mem->nregions--;
	memset(&mem->regions[mem->nregions], 0, sizeof(mem->regions[0]));
}

int guest_mem_remove(struct guest_mem *mem, const struct vu_mem_region *r)
{
	struct guest_mem_region *reg;
	unsigned i;
	void *p;

	for (i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *cand = &mem->regions[i];

		if (cand->gpa == r->guest_phys_addr && cand->size == r->memory_size &&
		    cand->uva == r->userspace_addr)
			break;
	}
	if (i == mem->nregions)
		return -ENOENT;
	reg = &mem->regions[i];
	if (mem->nretired >= GUEST_MEM_MAX_RETIRED) {
		log_warn("memory region: too many removed regions still reserved");
		return -ENOSPC;
	}

	/* Swap the guest pages for private zero pages at the same address: late
	 * accesses through old pointers land there, not in the guest or in a
	 * mapping that later reuses the range. */
	p = mmap(reg->map_base, reg->map_len, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;

		log_err("memory region: cannot retire mapping: %s", strerror(errno));
		return rc;
	}
	mem->retired[mem->nretired++] = (struct guest_mem_retired){
		.map_base = reg->map_base,
		.map_len = reg->map_len,
	};
	close(reg->fd);
	drop_region_slot(mem, i);
	mem->generation++;
	return 0;
}

void guest_mem_release_retired(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nretired; i++) {
		munmap(mem->retired[i].map_base, mem->retired[i].map_len);
		mem->retired[i] = (struct guest_mem_retired){ 0 };
	}
	mem->nretired = 0;
}

void guest_mem_clear(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		struct guest_mem_region *reg = &mem->regions[i];

		munmap(reg->map_base, reg->map_len);
		if (reg->fd >= 0)
			close(reg->fd);
		memset(reg, 0, sizeof(*reg));
	}
	mem->nregions = 0;
	guest_mem_release_retired(mem);
	mem->generation++;
}

/* Validates that [gpa, gpa + len) does not wrap and lies in guest RAM.
 * Calls visit() for each per-region piece (unless NULL) and returns the number
 * of pieces, or -EFAULT. Bounded by nregions: every piece but the last ends a
 * region. */
typedef void (*piece_fn)(uint8_t *host, uint64_t len, unsigned index, void *ctx);

static int walk_range(const struct guest_mem *mem, uint64_t gpa, uint64_t len, piece_fn visit,
		      void *ctx)
{
	unsigned pieces = 0;

	if (len == 0)
		return 0;
	if (len - 1 > UINT64_MAX - gpa)
		return -EFAULT;
	while (len > 0) {
		const struct guest_mem_region *r = find_region(mem, gpa);
		uint64_t off, chunk;

		if (r == NULL)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		if (visit)
			visit(r->host + off, chunk, pieces, ctx);
		pieces++;
		len -= chunk;
		/* Cannot wrap: the range end was checked above. */
		gpa += chunk;
	}
	return (int)pieces;
}

struct seg_ctx {
	struct iovec *segs;
	unsigned max_segs;
};

static void store_seg(uint8_t *host, uint64_t len, unsigned index, void *ctx)
{
	struct seg_ctx *sc = ctx;

	if (index < sc->max_segs)
		sc->segs[index] = (struct iovec){ .iov_base = host, .iov_len = (size_t)len };
}

int guest_mem_translate(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
			struct iovec *segs, unsigned max_segs)
{
	struct seg_ctx sc = { .segs = segs, .max_segs = max_segs };
	int n;

	/* The whole range is checked first, so a fault wins over too many segments. */
	n = walk_range(mem, gpa, len, store_seg, &sc);
	if (n < 0)
		return n;
	if ((unsigned)n > max_segs)
		return -E2BIG;
	return n;
}

void *guest_mem_translate_contig(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct guest_mem_region *r = find_region(mem, gpa);

	if (r == NULL || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

void *guest_mem_uva_to_host(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (uva < r->uva || uva - r->uva >= r->size)
			continue;
		if (len > r->size - (uva - r->uva))
			return NULL;
		return r->host + (uva - r->uva);
	}
	return NULL;
}

struct copy_ctx {
	uint8_t *dst;
};

static void copy_piece(uint8_t *host, uint64_t len, unsigned index, void *ctx)
{
	struct copy_ctx *cc = ctx;

	(void)index;
	memcpy(cc->dst, host, (size_t)len);
	cc->dst += len;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len)
{
	struct copy_ctx cc = { .dst = dst };
	int n;

	/* Validate the whole range before copying anything. */
	n = walk_range(mem, gpa, len, NULL, NULL);
	if (n < 0)
		return n;
	walk_range(mem, gpa, len, copy_piece, &cc);
	return 0;
}

int guest_mem_locate(const struct guest_mem *mem, uint64_t gpa, int *fd,
		     uint64_t *file_offset, uint64_t *avail)
{
	const struct guest_mem_region *r = find_region(mem, gpa);

	if (r == NULL)
		return -EFAULT;
	*fd = r->fd;
	*file_offset = r->mmap_offset + (gpa - r->gpa);
	*avail = r->size - (gpa - r->gpa);
	return 0;
}
