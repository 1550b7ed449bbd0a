#include "iov.h"

#include <string.h>

size_t iov_copy(const struct iovec *segs, unsigned nsegs, size_t offset, uint8_t *buf,
		size_t len, bool into_segs)
{
	size_t done = 0;

	for (unsigned i = 0; i < nsegs && done < len; i++) {
		size_t seg_len = segs[i].iov_len, chunk;
		uint8_t *seg = segs[i].iov_base;

		if (offset >= seg_len) {
			offset -= seg_len;
			continue;
		}
		chunk = seg_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		if (into_segs)
			memcpy(seg + offset, buf + done, chunk);
		else
			memcpy(buf + done, seg + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}
