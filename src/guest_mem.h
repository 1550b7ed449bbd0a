/* Guest memory shared by the front-end: regions mapped from its fds and
 * bounded translation of guest-physical (GPA) and front-end virtual (UVA)
 * ranges to host pointers. Every length is checked against the region it
 * falls in; nothing here trusts a value from the front-end. */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vu_proto.h"

/* Slots offered through GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS). */
#define GUEST_MEM_MAX_REGIONS 32
/* Removed regions whose address range is kept reserved (see guest_mem_remove). */
#define GUEST_MEM_MAX_RETIRED 64

struct guest_mem_region {
	uint64_t gpa;         /* guest-physical start */
	uint64_t size;        /* bytes */
	uint64_t uva;         /* front-end virtual start */
	uint64_t mmap_offset; /* offset of the region in fd */
	uint8_t *host;        /* host address of gpa */
	void *map_base;       /* what mmap returned (covers mmap_offset + size) */
	size_t map_len;
	int fd;               /* owned; kept so backends can map pages again */
};

struct guest_mem_retired {
	void *map_base;
	size_t map_len;
};

struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned nregions;
	/* Bumped on every change of the region table (add, remove, clear), so
	 * holders of translations know to redo them. */
	uint64_t generation;
	struct guest_mem_retired retired[GUEST_MEM_MAX_RETIRED];
	unsigned nretired;
};

void guest_mem_init(struct guest_mem *mem);

/* Validates r against the existing regions (size 0, overflow of gpa+size,
 * uva+size and mmap_offset+size, overlap in GPA or UVA space, fd shorter than
 * mmap_offset+size, table full), then maps it. A region ending exactly at
 * 2^64 counts as an overflow, so region ends are always representable. On success the fd is owned by
 * mem and *fd is set to -1. On failure *fd is untouched (the caller closes it).
 * Returns 0 or -errno. */
int guest_mem_add(struct guest_mem *mem, const struct vu_mem_region *r, int *fd);

/* Removes the region matching r's gpa, size and uva. Its address range is not
 * unmapped but replaced by private anonymous memory and kept reserved until
 * guest_mem_release_retired(): a pointer someone still holds into it can then
 * never reach another mapping or the guest's memory. The guest fd is closed.
 * Returns 0, -ENOENT, or -ENOSPC when too many retired ranges are held. */
int guest_mem_remove(struct guest_mem *mem, const struct vu_mem_region *r);

/* Unmaps retired ranges; call only when no translation made before the
 * removal can still be used. Does not change the generation. */
void guest_mem_release_retired(struct guest_mem *mem);

/* Unmaps and closes everything (regions and retired ranges). */
void guest_mem_clear(struct guest_mem *mem);

/* Translates [gpa, gpa+len) into host segments, one per region crossed.
 * Returns the number of segments (0 when len == 0), -EFAULT when any byte is
 * not guest RAM or the range wraps, -E2BIG when more than max_segs are needed. */
int guest_mem_translate(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
			struct iovec *segs, unsigned max_segs);

/* Host pointer for [gpa, gpa+len) when it lies inside one region, else NULL. */
void *guest_mem_translate_contig(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Same for a front-end virtual address range (ring addresses). */
void *guest_mem_uva_to_host(const struct guest_mem *mem, uint64_t uva, uint64_t len);

/* Copies len bytes at gpa (possibly spanning regions) into dst. 0 or -EFAULT. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len);

/* Region fd and file offset backing gpa, with the bytes available in that
 * region from gpa. Returns 0 or -EFAULT. Used to map guest pages again. */
int guest_mem_locate(const struct guest_mem *mem, uint64_t gpa, int *fd,
		     uint64_t *file_offset, uint64_t *avail);

#endif
