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

void iov_cursor_init(struct iov_cursor *c, const struct iovec *segs, unsigned nsegs,
		     size_t pos)
{
	*c = (struct iov_cursor){ .segs = segs, .nsegs = nsegs, .pos = pos };
}

/* The host bytes at c->pos and how many follow in that segment; NULL past the end. */
static uint8_t *cursor_at(struct iov_cursor *c, size_t *room)
{
	while (c->i < c->nsegs && c->pos - c->seg_start >= c->segs[c->i].iov_len) {
		c->seg_start += c->segs[c->i].iov_len;
		c->i++;
	}
	if (c->i >= c->nsegs)
		return NULL;
	*room = c->segs[c->i].iov_len - (c->pos - c->seg_start);
	return (uint8_t *)c->segs[c->i].iov_base + (c->pos - c->seg_start);
}

/* The one loop of write and fill: bytes from src, or of value when src is NULL. */
static size_t cursor_put(struct iov_cursor *c, const uint8_t *src, uint8_t value, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t room, n;
		uint8_t *dst = cursor_at(c, &room);

		if (!dst)
			break;
		n = len - done < room ? len - done : room;
		if (src)
			memcpy(dst, src + done, n);
		else
			memset(dst, value, n);
		c->pos += n;
		done += n;
	}
	return done;
}

size_t iov_cursor_write(struct iov_cursor *c, const uint8_t *src, size_t len)
{
	return src ? cursor_put(c, src, 0, len) : 0;
}

size_t iov_cursor_fill(struct iov_cursor *c, uint8_t value, size_t len)
{
	return cursor_put(c, NULL, value, len);
}
