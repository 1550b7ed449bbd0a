/* vuf: guest RAM (memfd + allocator), the vhost-user socket (messages with
 * SCM_RIGHTS fds, bounded waits), the QEMU-order handshake and config reads.
 * The driver-side rings live in vuf_ring.c. */
#include "vuf.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- guest RAM ---------------------------------------------------------- */

struct vuf_block {
	uint64_t gpa, len;
	unsigned region;
	struct vuf_block *next;
};

static void free_block_list(struct vuf_block *b)
{
	while (b) {
		struct vuf_block *next = b->next;

		free(b);
		b = next;
	}
}

/* Appends a free block to the (GPA-sorted) free list; regions are laid out in
 * ascending GPA order, so appending keeps it sorted. */
static int append_free_block(struct vuf_block ***tail, uint64_t gpa, uint64_t len,
			     unsigned region)
{
	struct vuf_block *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->gpa = gpa;
	b->len = len;
	b->region = region;
	**tail = b;
	*tail = &b->next;
	return 0;
}

int vuf_ram_init(struct vuf_ram *ram, uint64_t size, unsigned nregions,
		 uint64_t base_gpa, uint64_t gpa_gap)
{
	struct vuf_block **tail;
	uint64_t region_size, stride, last_gpa, last_end;
	void *map;
	int fd, ret;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	if (nregions == 0 || nregions > VUF_MAX_REGIONS || size == 0 || size % nregions)
		return -EINVAL;
	region_size = size / nregions;
	if (region_size % VUF_PAGE_SIZE || base_gpa % VUF_PAGE_SIZE || gpa_gap % VUF_PAGE_SIZE)
		return -EINVAL;
	if (size > SIZE_MAX || size > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* The whole GPA layout must fit in 64 bits. */
	if (__builtin_add_overflow(region_size, gpa_gap, &stride) ||
	    __builtin_mul_overflow(stride, (uint64_t)(nregions - 1), &last_gpa) ||
	    __builtin_add_overflow(last_gpa, base_gpa, &last_gpa) ||
	    __builtin_add_overflow(last_gpa, region_size, &last_end))
		return -EINVAL;

	fd = memfd_create("vuf-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	ram->fd = fd;
	ram->base = map;
	ram->size = size;
	ram->nregions = nregions;

	tail = &ram->free_list;
	for (unsigned i = 0; i < nregions; i++) {
		struct vuf_ram_region *r = &ram->region[i];
		uint64_t start;

		r->gpa = base_gpa + i * stride;
		r->size = region_size;
		r->mmap_offset = i * region_size;
		r->host = ram->base + r->mmap_offset;

		/* GPA 0 doubles as the allocation failure value: keep the page
		 * at GPA 0 out of the allocator. */
		start = r->gpa < VUF_PAGE_SIZE ? VUF_PAGE_SIZE : r->gpa;
		if (start - r->gpa >= r->size)
			continue;
		ret = append_free_block(&tail, start, r->size - (start - r->gpa), i);
		if (ret)
			goto err_free;
	}
	return 0;

err_free:
	vuf_ram_free(ram);
	return ret;
err_close:
	close(fd);
	return ret;
}

void vuf_ram_free(struct vuf_ram *ram)
{
	if (ram->size == 0)
		return; /* empty: never set up, failed, or freed already */
	free_block_list(ram->free_list);
	free_block_list(ram->used_list);
	if (ram->base)
		munmap(ram->base, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
}

uint64_t vuf_ram_alloc(struct vuf_ram *ram, uint64_t len, uint64_t align)
{
	struct vuf_block **link, *b;

	if (len == 0 || align == 0 || (align & (align - 1)) ||
	    len > UINT64_MAX - VUF_ALLOC_GRAIN)
		return 0;
	if (align < VUF_ALLOC_GRAIN)
		align = VUF_ALLOC_GRAIN;
	len = (len + VUF_ALLOC_GRAIN - 1) & ~(uint64_t)(VUF_ALLOC_GRAIN - 1);

	for (link = &ram->free_list; (b = *link) != NULL; link = &b->next) {
		uint64_t end = b->gpa + b->len;
		uint64_t start = (b->gpa + align - 1) & ~(align - 1);
		struct vuf_block *used, *tail = NULL;
		unsigned region = b->region;
		bool has_head, has_tail;

		if (start < b->gpa || start >= end || end - start < len)
			continue;
		has_head = start > b->gpa;
		has_tail = end - start > len;
		/* Take every node we may need before changing the lists. */
		used = malloc(sizeof(*used));
		if (has_head && has_tail)
			tail = malloc(sizeof(*tail));
		if (!used || (has_head && has_tail && !tail)) {
			free(used);
			free(tail);
			return 0;
		}
		if (has_head && has_tail) {
			tail->gpa = start + len;
			tail->len = end - tail->gpa;
			tail->region = region;
			tail->next = b->next;
			b->len = start - b->gpa;
			b->next = tail;
		} else if (has_head) {
			b->len = start - b->gpa;
		} else if (has_tail) {
			b->gpa = start + len;
			b->len = end - b->gpa;
		} else {
			*link = b->next;
			free(b);
		}
		used->gpa = start;
		used->len = len;
		used->region = region;
		used->next = ram->used_list;
		ram->used_list = used;
		return start;
	}
	return 0;
}

void vuf_ram_release(struct vuf_ram *ram, uint64_t gpa)
{
	struct vuf_block **link, *b, *prev, *next;

	if (gpa == 0)
		return;
	for (link = &ram->used_list; (b = *link) != NULL; link = &b->next)
		if (b->gpa == gpa)
			break;
	if (!b)
		return;
	*link = b->next;

	prev = NULL;
	for (next = ram->free_list; next && next->gpa < gpa; next = next->next)
		prev = next;
	b->next = next;
	if (prev)
		prev->next = b;
	else
		ram->free_list = b;

	/* Merge only within a region, so no allocation can span two. */
	if (next && next->region == b->region && b->gpa + b->len == next->gpa) {
		b->len += next->len;
		b->next = next->next;
		free(next);
	}
	if (prev && prev->region == b->region && prev->gpa + prev->len == b->gpa) {
		prev->len += b->len;
		prev->next = b->next;
		free(b);
	}
}

uint64_t vuf_ram_free_bytes(const struct vuf_ram *ram)
{
	uint64_t total = 0;

	for (const struct vuf_block *b = ram->free_list; b; b = b->next)
		total += b->len;
	return total;
}

static const struct vuf_ram_region *ram_region_of(const struct vuf_ram *ram, uint64_t gpa)
{
	for (unsigned i = 0; i < ram->nregions; i++) {
		const struct vuf_ram_region *r = &ram->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *vuf_ram_ptr(const struct vuf_ram *ram, uint64_t gpa, uint64_t len)
{
	const struct vuf_ram_region *r = ram_region_of(ram, gpa);
	uint64_t off;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	if (len > r->size - off)
		return NULL;
	return r->host + off;
}

/* Walks [gpa, gpa+len) region by region; copies into guest RAM when to_guest. */
static int ram_copy(const struct vuf_ram *ram, uint64_t gpa, void *buf, size_t len,
		    bool to_guest)
{
	uint8_t *p = buf;

	if (len > UINT64_MAX - gpa)
		return -EFAULT;
	while (len) {
		const struct vuf_ram_region *r = ram_region_of(ram, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = r->size - off < len ? r->size - off : len;
		if (to_guest)
			memcpy(r->host + off, p, chunk);
		else
			memcpy(p, r->host + off, chunk);
		p += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int vuf_ram_read(const struct vuf_ram *ram, uint64_t gpa, void *dst, size_t len)
{
	return ram_copy(ram, gpa, dst, len, false);
}

int vuf_ram_write(struct vuf_ram *ram, uint64_t gpa, const void *src, size_t len)
{
	/* ram_copy only reads from src in this direction. */
	return ram_copy(ram, gpa, (void *)(uintptr_t)src, len, true);
}

struct vu_mem_region vuf_ram_region_desc(const struct vuf_ram *ram, unsigned i)
{
	struct vu_mem_region d = { 0 };

	if (i >= ram->nregions)
		return d;
	d.guest_phys_addr = ram->region[i].gpa;
	d.memory_size = ram->region[i].size;
	d.userspace_addr = (uint64_t)(uintptr_t)ram->region[i].host;
	d.mmap_offset = ram->region[i].mmap_offset;
	return d;
}

/* ---- bounded waits ------------------------------------------------------ */

#define NO_DEADLINE INT64_MAX

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? NO_DEADLINE : now_ms() + timeout_ms;
}

static int ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline == NO_DEADLINE)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* 0 when fd is ready for events (or has an error/hang-up the next call will
 * report), -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, ms_left(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- messages ----------------------------------------------------------- */

void vuf_opts_default(struct vuf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ram_size = 64ull << 20;
	o->nregions = 1;
	o->gpa_gap = 0;
	o->base_gpa = 0;
	o->use_add_mem_reg = false;
	o->queue_size[0] = 256;
	o->queue_size[1] = 256;
	o->event_idx = true;
	o->indirect = true;
	o->reply_ack = true;
	o->device_features = (1ull << 0) | (1ull << 1);
	o->status = true;
	o->config_size = 0;
}

void vuf_init(struct vuf *f)
{
	memset(f, 0, sizeof(*f));
	f->sock = -1;
	f->timeout_ms = VUF_DEFAULT_TIMEOUT_MS;
	f->ram.fd = -1;
	for (unsigned i = 0; i < VUF_NUM_QUEUES; i++) {
		f->vq[i].kick_fd = -1;
		f->vq[i].call_fd = -1;
	}
	vuf_opts_default(&f->opts);
}

int vuf_connect(struct vuf *f, const char *socket_path, int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int64_t deadline = deadline_after(timeout_ms);

	vuf_init(f);
	if (!socket_path || strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);

	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int left = ms_left(deadline);
		struct timeval tv;
		int err;

		if (fd < 0)
			return -errno;
		/* Bounds a connect() that blocks on a full listen backlog. */
		if (left >= 0) {
			tv.tv_sec = left / 1000;
			tv.tv_usec = (left % 1000) * 1000 + (left == 0 ? 1000 : 0);
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			f->sock = fd;
			return 0;
		}
		err = errno;
		close(fd);
		if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN && err != EINTR &&
		    err != EINPROGRESS)
			return -err;
		if (ms_left(deadline) == 0)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

int vuf_attach(struct vuf *f, int sock)
{
	vuf_init(f);
	if (sock < 0)
		return -EBADF;
	f->sock = sock;
	return 0;
}

void vuf_close(struct vuf *f)
{
	for (unsigned i = 0; i < VUF_NUM_QUEUES; i++)
		vuf_vq_fini(&f->vq[i]);
	vuf_ram_free(&f->ram);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
}

int vuf_send_raw(struct vuf *f, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUF_MAX_SEND_FDS)];
		struct cmsghdr align;
	} ctl;
	int64_t deadline = deadline_after(f->timeout_ms);
	const uint8_t *p = buf;
	size_t off = 0;

	if (f->sock < 0)
		return -ENOTCONN;
	if (len == 0 || !buf || nfds > VUF_MAX_SEND_FDS || (nfds && !fds))
		return -EINVAL;

	while (off < len) {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)(p + off), .iov_len = len - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		/* The fds travel with the first byte only. */
		if (off == 0 && nfds) {
			struct cmsghdr *cmsg;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
		}
		r = sendmsg(f->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			ret = wait_fd(f->sock, POLLOUT, deadline);
			if (ret)
				return ret;
			continue;
		}
		off += (size_t)r;
	}
	return 0;
}

int vuf_send(struct vuf *f, uint32_t request, uint32_t flags, const void *payload,
	     uint32_t size, const int *fds, unsigned nfds)
{
	struct vu_msg_hdr hdr = {
		.request = request,
		.flags = (flags & ~VU_FLAG_VERSION_MASK) | VU_VERSION,
		.size = size,
	};
	uint8_t small[sizeof(hdr) + 512];
	uint8_t *buf = small;
	int ret;

	if (size > VUF_MAX_MSG_PAYLOAD || (size && !payload))
		return -EINVAL;
	if (sizeof(hdr) + size > sizeof(small)) {
		buf = malloc(sizeof(hdr) + size);
		if (!buf)
			return -ENOMEM;
	}
	memcpy(buf, &hdr, sizeof(hdr));
	if (size)
		memcpy(buf + sizeof(hdr), payload, size);
	ret = vuf_send_raw(f, buf, sizeof(hdr) + size, fds, nfds);
	if (buf != small)
		free(buf);
	return ret;
}

/* Closes every fd carried by msg's control data (replies carry none we use). */
static void close_received_fds(struct vuf *f, struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd >= 0)
				close(fd);
			f->stray_fds++;
		}
	}
}

/* Receives exactly len bytes (len 0: nothing). 0, -ETIMEDOUT, -ECONNRESET on
 * EOF, -EPROTO when control data was truncated, -errno. */
static int recv_exact(struct vuf *f, void *buf, size_t len, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	uint8_t *p = buf;
	size_t got = 0;
	int ret = 0;

	while (got < len) {
		struct iovec iov = { .iov_base = p + got, .iov_len = len - got };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t r = recvmsg(f->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int w = wait_fd(f->sock, POLLIN, deadline);

				if (w)
					return w;
				continue;
			}
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		}
		close_received_fds(f, &msg);
		if (msg.msg_flags & MSG_CTRUNC)
			ret = -EPROTO; /* keep the stream in step, report at the end */
		if (r == 0)
			return -ECONNRESET;
		got += (size_t)r;
	}
	return ret;
}

/* Largest payload we read and drop to stay in step after a malformed header. */
#define VUF_MAX_DISCARD 65536u

int vuf_recv(struct vuf *f, struct vu_msg_hdr *hdr, void *payload, uint32_t max)
{
	int64_t deadline = deadline_after(f->timeout_ms);
	int ret;

	if (f->sock < 0)
		return -ENOTCONN;
	if (max > INT_MAX || (max && !payload))
		return -EINVAL;
	ret = recv_exact(f, hdr, sizeof(*hdr), deadline);
	if (ret)
		return ret;
	if ((hdr->flags & VU_FLAG_VERSION_MASK) != VU_VERSION || hdr->size > max) {
		if (hdr->size <= VUF_MAX_DISCARD) {
			void *junk = malloc(hdr->size ? hdr->size : 1);

			if (junk) {
				recv_exact(f, junk, hdr->size, deadline);
				free(junk);
			}
		}
		return -EPROTO;
	}
	ret = recv_exact(f, payload, hdr->size, deadline);
	if (ret)
		return ret;
	return (int)hdr->size;
}

bool vuf_wait_closed(struct vuf *f, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	uint8_t junk[4096];

	if (f->sock < 0)
		return true;
	for (;;) {
		struct iovec iov = { .iov_base = junk, .iov_len = sizeof(junk) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t r;

		if (wait_fd(f->sock, POLLIN, deadline))
			return false;
		r = recvmsg(f->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r == 0)
			return true;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return true; /* ECONNRESET and friends: gone */
		}
		close_received_fds(f, &msg); /* replies still in flight are dropped */
	}
}

int vuf_get(struct vuf *f, uint32_t request, const void *payload, uint32_t size,
	    void *reply, uint32_t reply_size)
{
	struct vu_msg_hdr hdr;
	int ret;

	ret = vuf_send(f, request, 0, payload, size, NULL, 0);
	if (ret)
		return ret;
	ret = vuf_recv(f, &hdr, reply, reply_size);
	if (ret < 0)
		return ret;
	if (hdr.request != request || !(hdr.flags & VU_FLAG_REPLY) || (uint32_t)ret != reply_size)
		return -EPROTO;
	return 0;
}

static bool reply_ack_on(const struct vuf *f)
{
	return f->acked_protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK);
}

int vuf_set(struct vuf *f, uint32_t request, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds)
{
	struct vu_msg_hdr hdr;
	uint64_t ack;
	int ret;

	ret = vuf_send(f, request, reply_ack_on(f) ? VU_FLAG_NEED_REPLY : 0, payload, size,
		       fds, nfds);
	if (ret || !reply_ack_on(f))
		return ret;
	ret = vuf_recv(f, &hdr, &ack, sizeof(ack));
	if (ret < 0)
		return ret;
	if (hdr.request != request || !(hdr.flags & VU_FLAG_REPLY) || ret != sizeof(ack))
		return -EPROTO;
	if (ack == 0)
		return 0;
	return ack > INT_MAX ? INT_MAX : (int)ack;
}

int vuf_set_u64(struct vuf *f, uint32_t request, uint64_t value)
{
	return vuf_set(f, request, &value, sizeof(value), NULL, 0);
}

int vuf_add_mem_reg(struct vuf *f, unsigned i)
{
	struct vu_single_mem_region m = { 0 };

	if (i >= f->ram.nregions)
		return -EINVAL;
	m.region = vuf_ram_region_desc(&f->ram, i);
	return vuf_set(f, VU_ADD_MEM_REG, &m, sizeof(m), &f->ram.fd, 1);
}

int vuf_rem_mem_reg(struct vuf *f, unsigned i)
{
	struct vu_single_mem_region m = { 0 };

	if (i >= f->ram.nregions)
		return -EINVAL;
	m.region = vuf_ram_region_desc(&f->ram, i);
	return vuf_set(f, VU_REM_MEM_REG, &m, sizeof(m), NULL, 0);
}

int vuf_get_config(struct vuf *f, uint32_t offset, void *buf, uint32_t size)
{
	struct vu_config cfg = { .offset = offset, .size = size, .flags = 0 };
	struct vu_msg_hdr hdr;
	int ret;

	if (size == 0 || size > VU_CONFIG_MAX_PAYLOAD || !buf)
		return -EINVAL;
	ret = vuf_send(f, VU_GET_CONFIG, 0, &cfg, VU_CONFIG_HDR_SIZE + size, NULL, 0);
	if (ret)
		return ret;
	ret = vuf_recv(f, &hdr, &cfg, sizeof(cfg));
	if (ret < 0)
		return ret;
	if (hdr.request != VU_GET_CONFIG || !(hdr.flags & VU_FLAG_REPLY))
		return -EPROTO;
	if (ret == 0)
		return -EIO; /* the back-end's way of saying it failed */
	if ((uint32_t)ret != VU_CONFIG_HDR_SIZE + size)
		return -EPROTO;
	if (cfg.size == 0)
		return -EIO;
	if (cfg.size != size)
		return -EPROTO;
	memcpy(buf, cfg.payload, size);
	return 0;
}

/* ---- start-up ----------------------------------------------------------- */

#define BIT(n) (1ull << (n))

/* Virtio device status bits. */
#define VUF_S_ACKNOWLEDGE 1u
#define VUF_S_DRIVER 2u
#define VUF_S_DRIVER_OK 4u
#define VUF_S_FEATURES_OK 8u

static int step_failed(const char *step, int err)
{
	fprintf(stderr, "vuf: %s: %s\n", step, strerror(-err));
	return err;
}

/* vuf_set that also turns a non-zero ack into -EIO, logging the step. */
static int set_step(struct vuf *f, const char *step, uint32_t request, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	int ret = vuf_set(f, request, payload, size, fds, nfds);

	if (ret > 0) {
		fprintf(stderr, "vuf: %s: back-end acked with failure %d\n", step, ret);
		return -EIO;
	}
	if (ret < 0)
		return step_failed(step, ret);
	return 0;
}

static int get_u64_step(struct vuf *f, const char *step, uint32_t request, uint64_t *value)
{
	int ret = vuf_get(f, request, NULL, 0, value, sizeof(*value));

	if (ret)
		return step_failed(step, ret);
	return 0;
}

/* QEMU's vhost_user_add_status: read the status, OR bits in, write it back. */
static int add_status(struct vuf *f, uint8_t bits)
{
	uint64_t s;
	int ret;

	ret = get_u64_step(f, "GET_STATUS", VU_GET_STATUS, &s);
	if (ret)
		return ret;
	if (s > 0xff)
		return step_failed("GET_STATUS (value above 0xff)", -EPROTO);
	if ((s & bits) == bits) {
		f->status = (uint8_t)s;
		return 0;
	}
	s |= bits;
	ret = set_step(f, "SET_STATUS", VU_SET_STATUS, &s, sizeof(s), NULL, 0);
	if (ret)
		return ret;
	f->status = (uint8_t)s;
	return 0;
}

static bool queue_size_ok(unsigned n)
{
	return n && n <= VUF_VQ_MAX_SIZE && !(n & (n - 1));
}

static int negotiate(struct vuf *f)
{
	const struct vuf_opts *o = &f->opts;
	uint64_t want, features;
	int ret;

	ret = get_u64_step(f, "GET_FEATURES", VU_GET_FEATURES, &f->features);
	if (ret)
		return ret;
	if (!(f->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		return step_failed("GET_FEATURES (PROTOCOL_FEATURES not offered)", -ENOTSUP);
	if (!(f->features & BIT(VIRTIO_F_VERSION_1)))
		return step_failed("GET_FEATURES (VERSION_1 not offered)", -ENOTSUP);

	ret = get_u64_step(f, "GET_PROTOCOL_FEATURES", VU_GET_PROTOCOL_FEATURES,
			   &f->protocol_features);
	if (ret)
		return ret;
	want = BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_CONFIG) |
	       BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | BIT(VU_PROTOCOL_F_RESET_DEVICE) |
	       BIT(VU_PROTOCOL_F_STATUS);
	if (o->reply_ack)
		want |= BIT(VU_PROTOCOL_F_REPLY_ACK);
	want &= f->protocol_features;
	/* Sent before REPLY_ACK is in force, so without NEED_REPLY (as QEMU). */
	ret = vuf_send(f, VU_SET_PROTOCOL_FEATURES, 0, &want, sizeof(want), NULL, 0);
	if (ret)
		return step_failed("SET_PROTOCOL_FEATURES", ret);
	f->acked_protocol_features = want;

	if (want & BIT(VU_PROTOCOL_F_MQ)) {
		uint64_t n;

		ret = get_u64_step(f, "GET_QUEUE_NUM", VU_GET_QUEUE_NUM, &n);
		if (ret)
			return ret;
		if (n < VUF_NUM_QUEUES) {
			fprintf(stderr, "vuf: GET_QUEUE_NUM: %llu queues, need %u\n",
				(unsigned long long)n, VUF_NUM_QUEUES);
			return -EPROTO;
		}
		f->num_queues = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	} else {
		f->num_queues = VUF_NUM_QUEUES; /* what the device model says */
	}

	if (want & BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		uint64_t slots;

		ret = get_u64_step(f, "GET_MAX_MEM_SLOTS", VU_GET_MAX_MEM_SLOTS, &slots);
		if (ret)
			return ret;
		if (slots == 0) {
			fprintf(stderr, "vuf: GET_MAX_MEM_SLOTS: back-end offers 0 slots\n");
			return -EPROTO;
		}
		f->max_mem_slots = slots > UINT_MAX ? UINT_MAX : (unsigned)slots;
	}

	ret = set_step(f, "SET_OWNER", VU_SET_OWNER, NULL, 0, NULL, 0);
	if (ret)
		return ret;

	if (o->config_size) {
		if (!(want & BIT(VU_PROTOCOL_F_CONFIG)))
			return step_failed("GET_CONFIG (CONFIG not offered)", -ENOTSUP);
		ret = vuf_get_config(f, 0, f->config, o->config_size);
		if (ret)
			return step_failed("GET_CONFIG", ret);
	}

	features = BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	if (o->event_idx)
		features |= BIT(VIRTIO_F_RING_EVENT_IDX);
	if (o->indirect)
		features |= BIT(VIRTIO_F_RING_INDIRECT_DESC);
	features |= o->device_features & 0xffffffull;
	features &= f->features;
	ret = set_step(f, "SET_FEATURES", VU_SET_FEATURES, &features, sizeof(features), NULL, 0);
	if (ret)
		return ret;
	f->acked_features = features;

	if (o->status && (want & BIT(VU_PROTOCOL_F_STATUS)))
		return add_status(f, VUF_S_FEATURES_OK);
	return 0;
}

static int set_memory(struct vuf *f)
{
	const struct vuf_opts *o = &f->opts;
	int ret;

	ret = vuf_ram_init(&f->ram, o->ram_size, o->nregions, o->base_gpa, o->gpa_gap);
	if (ret)
		return step_failed("guest RAM", ret);

	if (o->use_add_mem_reg) {
		if (!(f->acked_protocol_features & BIT(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
			return step_failed("ADD_MEM_REG (CONFIGURE_MEM_SLOTS not offered)",
					   -ENOTSUP);
		if (f->ram.nregions > f->max_mem_slots)
			return step_failed("ADD_MEM_REG (more regions than slots)", -E2BIG);
		for (unsigned i = 0; i < f->ram.nregions; i++) {
			struct vu_single_mem_region m = { .region = vuf_ram_region_desc(&f->ram, i) };

			ret = set_step(f, "ADD_MEM_REG", VU_ADD_MEM_REG, &m, sizeof(m),
				       &f->ram.fd, 1);
			if (ret)
				return ret;
		}
		return 0;
	}

	{
		struct vu_mem_table table = { .nregions = f->ram.nregions };
		int fds[VU_MEM_TABLE_MAX_REGIONS];

		if (f->ram.nregions > VU_MEM_TABLE_MAX_REGIONS)
			return step_failed("SET_MEM_TABLE (more than 8 regions)", -E2BIG);
		for (unsigned i = 0; i < f->ram.nregions; i++) {
			table.regions[i] = vuf_ram_region_desc(&f->ram, i);
			fds[i] = f->ram.fd; /* every region is a slice of the one memfd */
		}
		return set_step(f, "SET_MEM_TABLE", VU_SET_MEM_TABLE, &table,
				(uint32_t)(8 + sizeof(struct vu_mem_region) * f->ram.nregions),
				fds, f->ram.nregions);
	}
}

static int start_ring(struct vuf *f, unsigned index)
{
	struct vuf_vq *vq = &f->vq[index];
	struct vu_vring_state st;
	struct vu_vring_addr addr;
	uint64_t u64;
	int ret;

	ret = vuf_vq_setup(vq, &f->ram, index, f->opts.queue_size[index],
			   f->acked_features & BIT(VIRTIO_F_RING_EVENT_IDX));
	if (ret)
		return step_failed("ring setup", ret);

	st = (struct vu_vring_state){ .index = index, .num = vq->num };
	ret = set_step(f, "SET_VRING_NUM", VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	if (ret)
		return ret;
	st = (struct vu_vring_state){ .index = index, .num = 0 };
	ret = set_step(f, "SET_VRING_BASE", VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
	if (ret)
		return ret;
	addr = (struct vu_vring_addr){
		.index = index,
		.flags = 0,
		.desc_user_addr = (uint64_t)(uintptr_t)vq->desc,
		.used_user_addr = (uint64_t)(uintptr_t)vq->used,
		.avail_user_addr = (uint64_t)(uintptr_t)vq->avail,
		.log_guest_addr = 0,
	};
	ret = set_step(f, "SET_VRING_ADDR", VU_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
	if (ret)
		return ret;
	u64 = index;
	ret = set_step(f, "SET_VRING_KICK", VU_SET_VRING_KICK, &u64, sizeof(u64), &vq->kick_fd, 1);
	if (ret)
		return ret;
	ret = set_step(f, "SET_VRING_CALL", VU_SET_VRING_CALL, &u64, sizeof(u64), &vq->call_fd, 1);
	if (ret)
		return ret;
	st = (struct vu_vring_state){ .index = index, .num = 1 };
	return set_step(f, "SET_VRING_ENABLE", VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

int vuf_start(struct vuf *f, const struct vuf_opts *opts)
{
	const struct vuf_opts *o;
	int ret;

	if (opts)
		f->opts = *opts;
	else
		vuf_opts_default(&f->opts);
	o = &f->opts;
	if (f->sock < 0)
		return step_failed("start", -ENOTCONN);
	if (f->ram.size || f->vq[0].ram || f->vq[1].ram)
		return step_failed("start (already started)", -EBUSY);
	if (!queue_size_ok(o->queue_size[0]) || !queue_size_ok(o->queue_size[1]) ||
	    o->config_size > VU_CONFIG_MAX_PAYLOAD)
		return step_failed("options", -EINVAL);

	ret = negotiate(f);
	if (ret)
		return ret;
	ret = set_memory(f);
	if (ret)
		return ret;
	for (unsigned i = 0; i < VUF_NUM_QUEUES; i++) {
		ret = start_ring(f, i);
		if (ret)
			return ret;
	}
	if (o->status && (f->acked_protocol_features & BIT(VU_PROTOCOL_F_STATUS)))
		return add_status(f, VUF_S_ACKNOWLEDGE | VUF_S_DRIVER | VUF_S_DRIVER_OK);
	return 0;
}

int vuf_stop_ring(struct vuf *f, unsigned index)
{
	struct vu_vring_state st = { .index = index, .num = 0 }, reply;
	int ret;

	ret = vuf_set(f, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
	if (ret > 0)
		return -EIO;
	if (ret < 0)
		return ret;
	ret = vuf_get(f, VU_GET_VRING_BASE, &st, sizeof(st), &reply, sizeof(reply));
	if (ret)
		return ret;
	if (reply.index != index || reply.num > INT_MAX)
		return -EPROTO;
	return (int)reply.num;
}
