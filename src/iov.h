/* Byte streams made of host memory segments (struct iovec). */
#ifndef IOV_H
#define IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Copies len bytes between buf and the stream formed by segs[0 .. nsegs),
 * starting offset bytes into the stream: into the segments when into_segs,
 * out of them otherwise. Returns the bytes copied (fewer when the stream is
 * shorter). */
size_t iov_copy(const struct iovec *segs, unsigned nsegs, size_t offset, uint8_t *buf,
		size_t len, bool into_segs);

/* A forward-only write position in the stream formed by segs[0 .. nsegs). */
struct iov_cursor {
	const struct iovec *segs;
	unsigned nsegs, i; /* i: the segment holding pos, once found */
	size_t seg_start;  /* stream offset of segs[i] */
	size_t pos;        /* stream offset of the next byte written */
};

/* A cursor at stream offset pos. */
void iov_cursor_init(struct iov_cursor *c, const struct iovec *segs, unsigned nsegs,
		     size_t pos);
/* Copies len bytes of src at the cursor and moves past them; stops at the end of the
 * stream. Returns the bytes written. */
size_t iov_cursor_write(struct iov_cursor *c, const uint8_t *src, size_t len);
/* Writes len bytes of value at the cursor, as iov_cursor_write. */
size_t iov_cursor_fill(struct iov_cursor *c, uint8_t value, size_t len);

#endif
