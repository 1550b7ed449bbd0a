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

#endif
