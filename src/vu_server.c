/* vhost-user back-end transport.
 *
 * Framing errors (bad version, oversized payload, short read, EOF) drop the
 * connection: the byte stream can no longer be trusted. Content errors (wrong
 * payload size for the request, wrong fd count, bad values, wrong state) get
 * an error reply and the connection keeps going:
 *  - requests that always reply (GET_*) answer with a header of size 0;
 *  - other requests answer a non-zero u64 when NEED_REPLY was set
 *    (REPLY_ACK), and are only logged otherwise. */
#include "vu_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "log.h"

#define PROTOCOL_FEATURES_OFFERED                                               \
	((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |       \
	 (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_RESET_DEVICE) | \
	 (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ull << VU_PROTOCOL_F_STATUS))

#define TRANSPORT_FEATURES                                                      \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) | \
	 (1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES))

struct vu_server {
	struct event_loop *loop;
	const struct vu_device_ops *ops;
	void *dev;

	int conn_fd;
	struct ev_handler *conn_h;
	void (*on_close)(void *opaque);
	void *on_close_opaque;

	uint64_t acked_features;
	bool features_set;
	uint64_t acked_protocol_features;
	bool protocol_features_set;
	uint8_t status;

	struct guest_mem mem;
	struct virtq vq[VU_MAX_QUEUES];
	struct ev_handler *kick_h[VU_MAX_QUEUES];
	/* What a kick callback needs to find its ring. */
	struct vu_kick_ctx {
		struct vu_server *s;
		unsigned index;
	} kick_ctx[VU_MAX_QUEUES];
	bool err_signalled[VU_MAX_QUEUES];
};

/* ---- helpers ------------------------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void close_msg_fds(struct vu_msg *msg)
{
	for (unsigned i = 0; i < msg->nfds; i++)
		close_fd(&msg->fds[i]);
	msg->nfds = 0;
}

/* Eventfds shared with the front-end: neither a reader on its side (kick)
 * nor a counter it filled up (call, err) may block our single thread. */
static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Takes fd slot i out of the message. */
static int take_fd(struct vu_msg *msg, unsigned i)
{
	int fd = msg->fds[i];

	msg->fds[i] = -1;
	return fd;
}

static bool has_protocol_feature(const struct vu_server *s, unsigned bit)
{
	return s->protocol_features_set && (s->acked_protocol_features & (1ull << bit));
}

static bool any_ring_started(const struct vu_server *s)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		if (s->vq[i].started)
			return true;
	return false;
}

uint64_t vu_server_offered_features(const struct vu_server *s)
{
	return TRANSPORT_FEATURES | s->ops->device_features;
}

uint64_t vu_server_offered_protocol_features(void)
{
	return PROTOCOL_FEATURES_OFFERED;
}

struct virtq *vu_server_vq(struct vu_server *s, unsigned index)
{
	return index < VU_MAX_QUEUES ? &s->vq[index] : NULL;
}

const struct guest_mem *vu_server_mem(const struct vu_server *s)
{
	return &s->mem;
}

uint64_t vu_server_features(const struct vu_server *s)
{
	return s->acked_features;
}

bool vu_server_connected(const struct vu_server *s)
{
	return s->conn_fd >= 0;
}

static void reply_u64(struct vu_reply *reply, uint64_t v)
{
	reply->send = true;
	reply->hdr.size = sizeof(uint64_t);
	reply->payload.u64 = v;
}

/* ---- ring activity -------------------------------------------------------- */

static void signal_broken(struct vu_server *s, unsigned i)
{
	struct virtq *vq = &s->vq[i];

	if (!vq->broken || s->err_signalled[i])
		return;
	s->err_signalled[i] = true;
	log_warn("queue %u: the driver broke the ring; it is stopped until reset", i);
	if (vq->err_fd >= 0)
		eventfd_write(vq->err_fd, 1);
}

static void kick_device(struct vu_server *s, unsigned i)
{
	if (!vq_is_ready(&s->vq[i]))
		return;
	s->ops->queue_kick(s->dev, &s->vq[i]);
	signal_broken(s, i);
}

static void on_kick(void *opaque, uint32_t events)
{
	const struct vu_kick_ctx *k = opaque;
	struct vu_server *s = k->s;
	struct virtq *vq = &s->vq[k->index];

	(void)events;
	/* The kick fd is watched edge-triggered, so its counter is never read: that read was
	 * one of three syscalls per request (bench/, figure 1). Each write to the eventfd is
	 * a new edge; the counter would need 2^64 kicks to fill. */
	kick_device(s, vq->index);
}

/* Stops processing ring i: the device finishes what it holds, the kick fd
 * goes away. Call fd and addresses stay for a later restart. */
static void stop_ring(struct vu_server *s, unsigned i)
{
	struct virtq *vq = &s->vq[i];

	if (vq->started || vq->inflight)
		s->ops->queue_stop(s->dev, vq);
	ev_del(s->loop, s->kick_h[i]);
	s->kick_h[i] = NULL;
	close_fd(&vq->kick_fd);
	vq->started = false;
}

static void reset_rings(struct vu_server *s)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		stop_ring(s, i);
		vq_reset(&s->vq[i]);
		s->err_signalled[i] = false;
	}
}

/* After the memory table changed: rings follow, and retired mappings go once
 * nobody can hold a pointer into them. */
static void memory_changed(struct vu_server *s)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		if (s->vq[i].addr_set && vq_remap(&s->vq[i]) < 0)
			log_warn("queue %u: ring no longer in guest memory", i);
	}
}

static void release_retired_if_idle(struct vu_server *s)
{
	if (s->mem.nretired && !s->ops->mem_in_use(s->dev))
		guest_mem_release_retired(&s->mem);
}

static void apply_ring_features(struct vu_server *s)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		s->vq[i].event_idx = s->acked_features & (1ull << VIRTIO_F_RING_EVENT_IDX);
		s->vq[i].indirect = s->acked_features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);
	}
}

/* ---- request handlers ----------------------------------------------------- */

/* Handlers return 0 on success, a positive errno for a request-level failure
 * (error reply, connection kept), or -EPROTO to drop the connection. */
typedef int (*vu_handler)(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply);

static int h_get_features(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)msg;
	reply_u64(reply, vu_server_offered_features(s));
	return 0;
}

static int h_set_features(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	uint64_t f = msg->payload.u64;

	(void)reply;
	if (f & ~vu_server_offered_features(s)) {
		log_warn("SET_FEATURES: 0x%llx has bits not offered", (unsigned long long)f);
		return EINVAL;
	}
	if (!(f & (1ull << VIRTIO_F_VERSION_1))) {
		log_warn("SET_FEATURES: VERSION_1 missing (legacy devices are not served)");
		return EINVAL;
	}
	if (s->features_set && f != s->acked_features && any_ring_started(s)) {
		log_warn("SET_FEATURES: features changed while rings run");
		return EBUSY;
	}
	s->acked_features = f;
	s->features_set = true;
	apply_ring_features(s);
	return 0;
}

static int h_set_owner(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)s;
	(void)msg;
	(void)reply;
	return 0;
}

static void reset_device_state(struct vu_server *s)
{
	reset_rings(s);
	s->ops->reset(s->dev);
	s->acked_features = 0;
	s->features_set = false;
	s->status = 0;
	release_retired_if_idle(s);
}

static int h_reset(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)msg;
	(void)reply;
	reset_device_state(s);
	return 0;
}

/* Same region, same backing file: kept mapped across a new SET_MEM_TABLE so
 * translations in flight stay valid. */
static bool region_matches(const struct guest_mem_region *have, const struct vu_mem_region *r,
			   int fd)
{
	struct stat a, b;

	if (have->gpa != r->guest_phys_addr || have->size != r->memory_size ||
	    have->uva != r->userspace_addr || have->mmap_offset != r->mmap_offset)
		return false;
	if (fstat(have->fd, &a) < 0 || fstat(fd, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int h_set_mem_table(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	const struct vu_mem_table *t = &msg->payload.mem;
	bool keep[GUEST_MEM_MAX_REGIONS] = { false };
	bool in_new[VU_MEM_TABLE_MAX_REGIONS] = { false };
	uint32_t n = t->nregions;
	int ret;

	(void)reply;
	if (n == 0 || n > VU_MEM_TABLE_MAX_REGIONS) {
		log_warn("SET_MEM_TABLE: %u regions (1..%u)", n, VU_MEM_TABLE_MAX_REGIONS);
		return EINVAL;
	}
	if (msg->hdr.size != 8 + n * sizeof(struct vu_mem_region) || msg->nfds != n) {
		log_warn("SET_MEM_TABLE: size %u / %u fds for %u regions", msg->hdr.size,
			 msg->nfds, n);
		return EINVAL;
	}
	/* Which current regions appear unchanged in the new table. */
	for (unsigned i = 0; i < s->mem.nregions; i++) {
		for (unsigned j = 0; j < n; j++) {
			if (!in_new[j] &&
			    region_matches(&s->mem.regions[i], &t->regions[j], msg->fds[j])) {
				keep[i] = true;
				in_new[j] = true;
				break;
			}
		}
	}
	for (unsigned i = s->mem.nregions; i-- > 0;) {
		struct guest_mem_region *r = &s->mem.regions[i];
		struct vu_mem_region d = {
			.guest_phys_addr = r->gpa, .memory_size = r->size,
			.userspace_addr = r->uva, .mmap_offset = r->mmap_offset,
		};

		if (keep[i])
			continue;
		ret = guest_mem_remove(&s->mem, &d);
		if (ret < 0) {
			/* Retired space exhausted: a front-end churning the table. */
			log_err("SET_MEM_TABLE: cannot retire a region: %s", strerror(-ret));
			return -EPROTO;
		}
		/* Removal shifts the table; keep[] past i is not read again. */
	}
	for (unsigned j = 0; j < n; j++) {
		if (in_new[j])
			continue;
		ret = guest_mem_add(&s->mem, &t->regions[j], &msg->fds[j]);
		if (ret < 0) {
			log_warn("SET_MEM_TABLE: region %u rejected: %s", j, strerror(-ret));
			/* No half-applied table: drop what this request added. */
			for (unsigned k = 0; k < j; k++)
				if (!in_new[k])
					guest_mem_remove(&s->mem, &t->regions[k]);
			memory_changed(s);
			release_retired_if_idle(s);
			return -ret;
		}
	}
	memory_changed(s);
	release_retired_if_idle(s);
	return 0;
}

static int h_add_mem_reg(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	int ret;

	(void)reply;
	ret = guest_mem_add(&s->mem, &msg->payload.mem_reg.region, &msg->fds[0]);
	if (ret < 0) {
		log_warn("ADD_MEM_REG: rejected: %s", strerror(-ret));
		return -ret;
	}
	memory_changed(s);
	return 0;
}

static int h_rem_mem_reg(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	int ret;

	(void)reply;
	ret = guest_mem_remove(&s->mem, &msg->payload.mem_reg.region);
	if (ret < 0) {
		log_warn("REM_MEM_REG: %s", strerror(-ret));
		return -ret;
	}
	memory_changed(s);
	release_retired_if_idle(s);
	return 0;
}

static int h_get_max_mem_slots(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)s;
	(void)msg;
	reply_u64(reply, GUEST_MEM_MAX_REGIONS);
	return 0;
}

/* Ring index check shared by every vring request (first u32 of the payload
 * for state/addr, bits 0-7 of the u64 for KICK/CALL/ERR). */
static struct virtq *ring_of(struct vu_server *s, uint64_t index, const char *what)
{
	if (index >= VU_MAX_QUEUES) {
		log_warn("%s: ring index %llu (device has %u)", what,
			 (unsigned long long)index, VU_MAX_QUEUES);
		return NULL;
	}
	return &s->vq[index];
}

static int h_set_vring_num(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	struct virtq *vq = ring_of(s, msg->payload.state.index, "SET_VRING_NUM");

	(void)reply;
	if (!vq)
		return EINVAL;
	if (vq->started)
		return EBUSY;
	if (vq_set_num(vq, msg->payload.state.num) < 0) {
		log_warn("SET_VRING_NUM: size %u (power of two, 1..%u)", msg->payload.state.num,
			 VQ_MAX_SIZE);
		return EINVAL;
	}
	return 0;
}

static int h_set_vring_base(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	struct virtq *vq = ring_of(s, msg->payload.state.index, "SET_VRING_BASE");

	(void)reply;
	if (!vq)
		return EINVAL;
	if (vq->started)
		return EBUSY;
	if (msg->payload.state.num > UINT16_MAX)
		return EINVAL;
	vq_set_base(vq, (uint16_t)msg->payload.state.num);
	return 0;
}

static int h_get_vring_base(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	struct virtq *vq = ring_of(s, msg->payload.state.index, "GET_VRING_BASE");

	if (!vq)
		return EINVAL;
	stop_ring(s, vq->index);
	reply->send = true;
	reply->hdr.size = sizeof(struct vu_vring_state);
	reply->payload.state.index = vq->index;
	reply->payload.state.num = vq->last_avail_idx;
	release_retired_if_idle(s);
	return 0;
}

static int h_set_vring_addr(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	const struct vu_vring_addr *a = &msg->payload.addr;
	struct virtq *vq = ring_of(s, a->index, "SET_VRING_ADDR");
	int ret;

	(void)reply;
	if (!vq)
		return EINVAL;
	if (s->mem.nregions == 0) {
		log_warn("SET_VRING_ADDR before any memory table");
		return EINVAL;
	}
	if (vq->started)
		return EBUSY;
	ret = vq_set_addr(vq, a->desc_user_addr, a->avail_user_addr, a->used_user_addr);
	if (ret < 0) {
		log_warn("SET_VRING_ADDR: ring %u: %s", a->index, strerror(-ret));
		return -ret;
	}
	return 0;
}

/* KICK/CALL/ERR payload: index in bits 0-7, "no fd" in bit 8, nothing above. */
static struct virtq *ring_of_fd_msg(struct vu_server *s, struct vu_msg *msg, const char *what,
				    bool *nofd)
{
	uint64_t v = msg->payload.u64;

	if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK)) {
		log_warn("%s: reserved bits set in 0x%llx", what, (unsigned long long)v);
		return NULL;
	}
	*nofd = v & VU_VRING_NOFD_MASK;
	if (msg->nfds != (*nofd ? 0u : 1u)) {
		log_warn("%s: %u fds with no-fd flag %d", what, msg->nfds, *nofd);
		return NULL;
	}
	return ring_of(s, v & VU_VRING_IDX_MASK, what);
}

static int h_set_vring_kick(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	bool nofd;
	struct virtq *vq = ring_of_fd_msg(s, msg, "SET_VRING_KICK", &nofd);
	unsigned i;

	(void)reply;
	if (!vq)
		return EINVAL;
	if (nofd) {
		/* Polling rings would need a busy thread; not offered. */
		log_warn("SET_VRING_KICK: polling mode is not supported");
		return EINVAL;
	}
	if (s->mem.nregions == 0 || !vq->addr_set || vq->num == 0) {
		log_warn("SET_VRING_KICK: ring %u has no memory, size or address yet", vq->index);
		return EINVAL;
	}
	i = vq->index;
	ev_del(s->loop, s->kick_h[i]);
	s->kick_h[i] = NULL;
	close_fd(&vq->kick_fd);
	vq->kick_fd = take_fd(msg, 0);
	set_nonblocking(vq->kick_fd);
	s->kick_h[i] = ev_add(s->loop, vq->kick_fd, EPOLLIN | EPOLLET, on_kick, &s->kick_ctx[i]);
	if (!s->kick_h[i]) {
		log_err("SET_VRING_KICK: cannot watch the kick fd: %s", strerror(errno));
		close_fd(&vq->kick_fd);
		return ENOMEM;
	}
	vq->started = true;
	/* A ring set up again (after GET_VRING_BASE or a driver reset) starts clean:
	 * a broken flag from its previous life would keep it dead until reconnect. */
	vq->broken = false;
	s->err_signalled[i] = false;
	/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: start = enable. */
	if (!(s->acked_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		vq->enabled = true;
	/* Buffers may already be waiting. */
	kick_device(s, i);
	return 0;
}

static int h_set_vring_call_err(struct vu_server *s, struct vu_msg *msg, bool is_err)
{
	const char *what = is_err ? "SET_VRING_ERR" : "SET_VRING_CALL";
	bool nofd;
	struct virtq *vq = ring_of_fd_msg(s, msg, what, &nofd);
	int *slot;

	if (!vq)
		return EINVAL;
	slot = is_err ? &vq->err_fd : &vq->call_fd;
	close_fd(slot);
	if (!nofd) {
		*slot = take_fd(msg, 0);
		set_nonblocking(*slot);
	}
	if (!is_err)
		vq->signalled_used_valid = false; /* a new listener: never skip its first call */
	return 0;
}

static int h_set_vring_call(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)reply;
	return h_set_vring_call_err(s, msg, false);
}

static int h_set_vring_err(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)reply;
	return h_set_vring_call_err(s, msg, true);
}

static int h_set_vring_enable(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	struct virtq *vq = ring_of(s, msg->payload.state.index, "SET_VRING_ENABLE");

	(void)reply;
	if (!vq)
		return EINVAL;
	if (!(s->acked_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		log_warn("SET_VRING_ENABLE without PROTOCOL_FEATURES negotiated");
		return EINVAL;
	}
	if (msg->payload.state.num > 1)
		return EINVAL;
	vq->enabled = msg->payload.state.num == 1;
	if (vq->enabled)
		kick_device(s, vq->index);
	return 0;
}

static int h_get_protocol_features(struct vu_server *s, struct vu_msg *msg,
				   struct vu_reply *reply)
{
	(void)s;
	(void)msg;
	reply_u64(reply, PROTOCOL_FEATURES_OFFERED);
	return 0;
}

static int h_set_protocol_features(struct vu_server *s, struct vu_msg *msg,
				   struct vu_reply *reply)
{
	uint64_t f = msg->payload.u64;

	(void)reply;
	if (f & ~PROTOCOL_FEATURES_OFFERED) {
		log_warn("SET_PROTOCOL_FEATURES: 0x%llx has bits not offered",
			 (unsigned long long)f);
		return EINVAL;
	}
	s->acked_protocol_features = f;
	s->protocol_features_set = true;
	return 0;
}

static int h_get_queue_num(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)msg;
	if (!has_protocol_feature(s, VU_PROTOCOL_F_MQ)) {
		log_warn("GET_QUEUE_NUM before MQ was negotiated");
		return EINVAL;
	}
	reply_u64(reply, VU_MAX_QUEUES);
	return 0;
}

static int h_get_config(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	const struct vu_config *c = &msg->payload.config;
	uint8_t space[VU_CONFIG_MAX_PAYLOAD];
	uint32_t cfg_size = s->ops->config_size;

	if (c->size == 0 || c->size > VU_CONFIG_MAX_PAYLOAD ||
	    msg->hdr.size != VU_CONFIG_HDR_SIZE + c->size || c->offset > cfg_size ||
	    c->size > cfg_size - c->offset) {
		log_warn("GET_CONFIG: offset %u size %u (config space is %u bytes)", c->offset,
			 c->size, cfg_size);
		return EINVAL;
	}
	if (cfg_size > sizeof(space) || s->ops->get_config(s->dev, space) < 0)
		return EIO;
	reply->send = true;
	reply->hdr.size = VU_CONFIG_HDR_SIZE + c->size;
	reply->payload.config.offset = c->offset;
	reply->payload.config.size = c->size;
	reply->payload.config.flags = c->flags;
	memcpy(reply->payload.config.payload, space + c->offset, c->size);
	return 0;
}

static int h_set_config(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)s;
	(void)msg;
	(void)reply;
	/* virtio-video's config space is read-only. */
	log_warn("SET_CONFIG: the config space is read-only");
	return EPERM;
}

static int h_set_status(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)reply;
	if (msg->payload.u64 > UINT8_MAX)
		return EINVAL;
	s->status = (uint8_t)msg->payload.u64;
	/* Writing 0 is a device reset by the driver: rings stop first, so
	 * everything in flight is answered before the device forgets it. */
	if (s->status == 0) {
		for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
			stop_ring(s, i);
		s->ops->reset(s->dev);
		release_retired_if_idle(s);
	}
	return 0;
}

static int h_get_status(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	(void)msg;
	reply_u64(reply, s->status);
	return 0;
}

/* Every request we know: payload size bounds, fd count bounds, whether it
 * always replies, and what must have been negotiated. Requests not listed (or
 * with a NULL handler) get an error. */
struct vu_request_desc {
	const char *name;
	vu_handler handler;
	uint32_t size_min, size_max;
	uint8_t fds_min, fds_max;
	bool always_replies;
	int needs_protocol_feature; /* bit number, -1 when none */
};

#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vu_vring_state)
#define REQ(code, h, smin, smax, fmin, fmax, rep, pf) \
	[code] = { &(#code)[3], h, smin, smax, fmin, fmax, rep, pf }

static const struct vu_request_desc requests[VU_REQUEST_MAX] = {
	REQ(VU_GET_FEATURES, h_get_features, 0, 0, 0, 0, true, -1),
	REQ(VU_SET_FEATURES, h_set_features, U64, U64, 0, 0, false, -1),
	REQ(VU_SET_OWNER, h_set_owner, 0, 0, 0, 0, false, -1),
	REQ(VU_RESET_OWNER, h_reset, 0, 0, 0, 0, false, -1),
	REQ(VU_SET_MEM_TABLE, h_set_mem_table, 8 + sizeof(struct vu_mem_region),
	    sizeof(struct vu_mem_table), 1, VU_MEM_TABLE_MAX_REGIONS, false, -1),
	REQ(VU_SET_VRING_NUM, h_set_vring_num, STATE, STATE, 0, 0, false, -1),
	REQ(VU_SET_VRING_ADDR, h_set_vring_addr, sizeof(struct vu_vring_addr),
	    sizeof(struct vu_vring_addr), 0, 0, false, -1),
	REQ(VU_SET_VRING_BASE, h_set_vring_base, STATE, STATE, 0, 0, false, -1),
	REQ(VU_GET_VRING_BASE, h_get_vring_base, STATE, STATE, 0, 0, true, -1),
	REQ(VU_SET_VRING_KICK, h_set_vring_kick, U64, U64, 0, 1, false, -1),
	REQ(VU_SET_VRING_CALL, h_set_vring_call, U64, U64, 0, 1, false, -1),
	REQ(VU_SET_VRING_ERR, h_set_vring_err, U64, U64, 0, 1, false, -1),
	REQ(VU_GET_PROTOCOL_FEATURES, h_get_protocol_features, 0, 0, 0, 0, true, -1),
	REQ(VU_SET_PROTOCOL_FEATURES, h_set_protocol_features, U64, U64, 0, 0, false, -1),
	REQ(VU_GET_QUEUE_NUM, h_get_queue_num, 0, 0, 0, 0, true, -1),
	REQ(VU_SET_VRING_ENABLE, h_set_vring_enable, STATE, STATE, 0, 0, false, -1),
	REQ(VU_GET_CONFIG, h_get_config, VU_CONFIG_HDR_SIZE,
	    VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX_PAYLOAD, 0, 0, true, VU_PROTOCOL_F_CONFIG),
	REQ(VU_SET_CONFIG, h_set_config, VU_CONFIG_HDR_SIZE,
	    VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX_PAYLOAD, 0, 0, false, VU_PROTOCOL_F_CONFIG),
	REQ(VU_RESET_DEVICE, h_reset, 0, 0, 0, 0, false, VU_PROTOCOL_F_RESET_DEVICE),
	REQ(VU_GET_MAX_MEM_SLOTS, h_get_max_mem_slots, 0, 0, 0, 0, true,
	    VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
	REQ(VU_ADD_MEM_REG, h_add_mem_reg, sizeof(struct vu_single_mem_region),
	    sizeof(struct vu_single_mem_region), 1, 1, false, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
	/* QEMU versions differ on whether REM_MEM_REG carries the region's fd. */
	REQ(VU_REM_MEM_REG, h_rem_mem_reg, sizeof(struct vu_single_mem_region),
	    sizeof(struct vu_single_mem_region), 0, 1, false, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
	REQ(VU_SET_STATUS, h_set_status, U64, U64, 0, 0, false, VU_PROTOCOL_F_STATUS),
	REQ(VU_GET_STATUS, h_get_status, 0, 0, 0, 0, true, VU_PROTOCOL_F_STATUS),
};

static const char *request_name(uint32_t code)
{
	/* Requests of the protocol this device does not serve, for the logs. */
	static const char *const unserved[VU_REQUEST_MAX] = {
		[VU_SET_LOG_BASE] = "SET_LOG_BASE",
		[VU_SET_LOG_FD] = "SET_LOG_FD",
		[VU_SEND_RARP] = "SEND_RARP",
		[VU_NET_SET_MTU] = "NET_SET_MTU",
		[VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VU_IOTLB_MSG] = "IOTLB_MSG",
		[VU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
		[VU_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
		[VU_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
		[VU_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
		[VU_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
		[VU_POSTCOPY_END] = "POSTCOPY_END",
		[VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
		[VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
		[VU_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
		[VU_VRING_KICK] = "VRING_KICK",
	};

	if (code < VU_REQUEST_MAX && requests[code].name)
		return requests[code].name;
	if (code < VU_REQUEST_MAX && unserved[code])
		return unserved[code];
	return "unknown request";
}

int vu_server_handle_msg(struct vu_server *s, struct vu_msg *msg, struct vu_reply *reply)
{
	uint32_t code = msg->hdr.request;
	const struct vu_request_desc *d = code < VU_REQUEST_MAX ? &requests[code] : NULL;
	bool need_reply = msg->hdr.flags & VU_FLAG_NEED_REPLY;
	int ret;

	memset(&reply->hdr, 0, sizeof(reply->hdr));
	reply->send = false;
	reply->hdr.request = code;
	reply->hdr.flags = VU_VERSION | VU_FLAG_REPLY;

	if ((msg->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION) {
		log_err("message with protocol version %u", msg->hdr.flags & VU_FLAG_VERSION_MASK);
		ret = -EPROTO;
		goto out;
	}
	if (msg->hdr.size > VU_MAX_PAYLOAD) {
		ret = -EPROTO;
		goto out;
	}
	if (!d || !d->handler) {
		log_warn("%s (%u) is not supported", request_name(code), code);
		ret = ENOSYS;
		goto out;
	}
	log_debug("request %s size %u fds %u flags 0x%x", d->name, msg->hdr.size, msg->nfds,
		  msg->hdr.flags);
	if (msg->hdr.size < d->size_min || msg->hdr.size > d->size_max) {
		log_warn("%s: payload of %u bytes (expected %u..%u)", d->name, msg->hdr.size,
			 d->size_min, d->size_max);
		ret = EINVAL;
		goto out;
	}
	if (msg->nfds < d->fds_min || msg->nfds > d->fds_max) {
		log_warn("%s: %u fds (expected %u..%u)", d->name, msg->nfds, d->fds_min,
			 d->fds_max);
		ret = EINVAL;
		goto out;
	}
	if (d->needs_protocol_feature >= 0 &&
	    !has_protocol_feature(s, (unsigned)d->needs_protocol_feature)) {
		log_warn("%s: protocol feature %d not negotiated", d->name,
			 d->needs_protocol_feature);
		ret = EINVAL;
		goto out;
	}
	ret = d->handler(s, msg, reply);

out:
	close_msg_fds(msg);
	if (ret < 0) {
		reply->send = false;
		return -EPROTO;
	}
	if (ret > 0) {
		if (d && d->always_replies) {
			/* A GET with nothing to give: a reply of size 0. */
			reply->send = true;
			reply->hdr.size = 0;
		} else if (need_reply && has_protocol_feature(s, VU_PROTOCOL_F_REPLY_ACK)) {
			reply_u64(reply, (uint64_t)ret);
		}
		return 0;
	}
	if (!reply->send && need_reply && has_protocol_feature(s, VU_PROTOCOL_F_REPLY_ACK))
		reply_u64(reply, 0);
	return 0;
}

/* ---- socket I/O ------------------------------------------------------------ */

/* Reads exactly len bytes, waiting at most VU_MSG_TIMEOUT_MS for each part. */
static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr = poll(&pfd, 1, VU_MSG_TIMEOUT_MS);

		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0)
			return -errno;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one message: the header with its fds, then the payload. Framing
 * errors return -errno and the connection is dropped by the caller. */
static int recv_msg(int fd, struct vu_msg *msg)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &msg->hdr, .iov_len = sizeof(msg->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int ret;

	msg->nfds = 0;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (msg->nfds < VU_MAX_FDS)
				msg->fds[msg->nfds++] = rfd;
			else
				close(rfd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		/* More fds than any request takes: the front-end is broken. */
		log_err("message carried more than %d fds", VU_MAX_FDS);
		ret = -EPROTO;
		goto fail;
	}
	if ((size_t)n < sizeof(msg->hdr)) {
		ret = read_full(fd, (uint8_t *)&msg->hdr + n, sizeof(msg->hdr) - (size_t)n);
		if (ret < 0)
			goto fail;
	}
	if ((msg->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION) {
		log_err("message with protocol version %u", msg->hdr.flags & VU_FLAG_VERSION_MASK);
		ret = -EPROTO;
		goto fail;
	}
	if (msg->hdr.size > VU_MAX_PAYLOAD) {
		log_err("request %u with a payload of %u bytes (at most %u)", msg->hdr.request,
			msg->hdr.size, VU_MAX_PAYLOAD);
		ret = -EPROTO;
		goto fail;
	}
	ret = read_full(fd, msg->payload.bytes, msg->hdr.size);
	if (ret < 0)
		goto fail;
	return 0;

fail:
	close_msg_fds(msg);
	return ret;
}

static int send_reply(int fd, const struct vu_reply *reply)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)&reply->hdr, .iov_len = sizeof(reply->hdr) },
		{ .iov_base = (void *)reply->payload.bytes, .iov_len = reply->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = sizeof(reply->hdr) + reply->hdr.size;
	ssize_t n;

	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Replies are tiny; a short send on a unix socket means it is gone. */
	return (size_t)n == total ? 0 : -EIO;
}

static void on_conn(void *opaque, uint32_t events)
{
	struct vu_server *s = opaque;
	struct vu_msg msg;
	struct vu_reply reply;
	int ret;

	if (events & (EPOLLIN)) {
		ret = recv_msg(s->conn_fd, &msg);
		if (ret == -EAGAIN)
			return;
		if (ret < 0) {
			if (ret == -ECONNRESET)
				log_info("front-end disconnected");
			else
				log_warn("dropping the connection: %s", strerror(-ret));
			vu_server_detach(s);
			return;
		}
		ret = vu_server_handle_msg(s, &msg, &reply);
		if (ret < 0) {
			log_warn("protocol error in %s: dropping the connection",
				 request_name(msg.hdr.request));
			vu_server_detach(s);
			return;
		}
		if (reply.send && send_reply(s->conn_fd, &reply) < 0) {
			log_warn("cannot send a reply: dropping the connection");
			vu_server_detach(s);
		}
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		log_info("front-end hung up");
		vu_server_detach(s);
	}
}

/* ---- life cycle ------------------------------------------------------------ */

struct vu_server *vu_server_new(struct event_loop *loop, const struct vu_device_ops *ops,
				void *dev)
{
	struct vu_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->ops = ops;
	s->dev = dev;
	s->conn_fd = -1;
	guest_mem_init(&s->mem);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		vq_init(&s->vq[i], i, &s->mem);
		s->kick_ctx[i] = (struct vu_kick_ctx){ s, i };
	}
	return s;
}

int vu_server_attach(struct vu_server *s, int conn_fd, void (*on_close)(void *opaque),
		     void *opaque)
{
	if (s->conn_fd >= 0) {
		close(conn_fd);
		return -EBUSY;
	}
	s->conn_h = ev_add(s->loop, conn_fd, EPOLLIN, on_conn, s);
	if (!s->conn_h) {
		int err = errno;

		close(conn_fd);
		return -err;
	}
	s->conn_fd = conn_fd;
	s->on_close = on_close;
	s->on_close_opaque = opaque;
	return 0;
}

void vu_server_detach(struct vu_server *s)
{
	void (*on_close)(void *opaque) = s->on_close;

	if (s->conn_fd < 0)
		return;
	ev_del(s->loop, s->conn_h);
	s->conn_h = NULL;
	close_fd(&s->conn_fd);
	/* The front-end is gone: nothing can be answered, everything is dropped. */
	reset_rings(s);
	s->ops->reset(s->dev);
	guest_mem_clear(&s->mem);
	s->acked_features = 0;
	s->features_set = false;
	s->acked_protocol_features = 0;
	s->protocol_features_set = false;
	s->status = 0;
	s->on_close = NULL;
	if (on_close)
		on_close(s->on_close_opaque);
}

void vu_server_free(struct vu_server *s)
{
	if (!s)
		return;
	s->on_close = NULL;
	vu_server_detach(s);
	free(s);
}
