/* vuf: a vhost-user front-end library. It plays the hypervisor (QEMU) and the
 * guest driver's ring handling: guest RAM in a memfd split into regions,
 * the vhost-user handshake over a unix socket, eventfds, and driver-side split
 * rings with selectable descriptor layouts. Used by the integration tests,
 * the benchmarks and the vhost-user-video-client tool. */
#ifndef VUF_H
#define VUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio_ring.h"
#include "vu_proto.h"

/* Conventions: functions return 0 (or a count) on success and -errno on
 * failure; nothing here aborts. Every wait is bounded by a timeout, so a dead
 * or stuck back-end gives -ETIMEDOUT / -ECONNRESET / -EPIPE, never a hang.
 * No locking: use one struct vuf (or vuf_vq) from one thread at a time. */

/* ---- guest RAM ---------------------------------------------------------- */

#define VUF_MAX_REGIONS 32
#define VUF_PAGE_SIZE 4096u
/* Allocations are rounded up to and aligned on at least this many bytes. */
#define VUF_ALLOC_GRAIN 16u

struct vuf_ram_region {
	uint64_t gpa, size;
	uint64_t mmap_offset; /* offset in the memfd */
	uint8_t *host;        /* our mapping = the "userspace_addr" we announce */
};

struct vuf_block; /* allocator bookkeeping (private) */

struct vuf_ram {
	int fd;               /* one memfd backs every region */
	uint8_t *base;        /* whole memfd mapped here */
	uint64_t size;
	struct vuf_ram_region region[VUF_MAX_REGIONS];
	unsigned nregions;
	struct vuf_block *free_list; /* sorted by GPA, never spans two regions */
	struct vuf_block *used_list; /* live allocations (GPA -> length) */
};

/* Creates size bytes of guest RAM (a memfd) cut into nregions equal regions
 * (size must divide into page-multiple pieces). GPA of region i is
 * base_gpa + i * (region_size + gpa_gap): gpa_gap 0 gives GPA-contiguous
 * regions, so buffers can cross region boundaries. base_gpa and gpa_gap must
 * be page multiples, so GPA and host alignment agree up to a page.
 * Region i is the memfd slice at offset i * region_size (its mmap_offset).
 * base_gpa 0 is allowed (as in a real guest); the first page is then never
 * handed out by the allocator. On failure ram is left empty (fd -1).
 * 0 or -errno. */
int vuf_ram_init(struct vuf_ram *ram, uint64_t size, unsigned nregions,
		 uint64_t base_gpa, uint64_t gpa_gap);
/* Frees everything vuf_ram_init set up; safe on an empty (zeroed or failed) ram. */
void vuf_ram_free(struct vuf_ram *ram);

/* Allocates len bytes aligned to align (power of two) inside ONE region
 * (first fit). Returns the GPA, or 0 when out of memory or len/align are
 * invalid (len 0 included); GPA 0 is never handed out. The memory is not
 * cleared. */
uint64_t vuf_ram_alloc(struct vuf_ram *ram, uint64_t len, uint64_t align);
/* Returns an allocation to the free list (merging neighbours of the same
 * region). GPAs that are not live allocations are ignored. */
void vuf_ram_release(struct vuf_ram *ram, uint64_t gpa);
/* Bytes currently free for allocation (for leak checks in tests). */
uint64_t vuf_ram_free_bytes(const struct vuf_ram *ram);

/* Our pointer to [gpa, gpa+len) or NULL when not inside one region. */
void *vuf_ram_ptr(const struct vuf_ram *ram, uint64_t gpa, uint64_t len);
/* Copies between guest RAM and dst/src; the range may cross GPA-contiguous
 * regions. 0 or -EFAULT when any byte is not guest RAM. */
int vuf_ram_read(const struct vuf_ram *ram, uint64_t gpa, void *dst, size_t len);
int vuf_ram_write(struct vuf_ram *ram, uint64_t gpa, const void *src, size_t len);

/* The vhost-user description of region i (userspace_addr = our mapping). */
struct vu_mem_region vuf_ram_region_desc(const struct vuf_ram *ram, unsigned i);

/* ---- driver-side split ring --------------------------------------------- */

enum vuf_layout {
	VUF_LAYOUT_SINGLE,   /* one descriptor for the readable part, one for the writable */
	VUF_LAYOUT_SPLIT,    /* each part cut into several small descriptors */
	VUF_LAYOUT_INDIRECT, /* SPLIT, but through an indirect table */
};

#define VUF_VQ_MAX_SIZE 32768u
#define VUF_DEFAULT_SPLIT_PIECE 7u

/* A caller-described buffer for vuf_vq_add_raw. flags are OR-ed into the
 * descriptor verbatim (VRING_DESC_F_WRITE marks it device-writable; others,
 * e.g. INDIRECT, can be set to build malformed chains); NEXT and next are
 * managed by the library. */
struct vuf_seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* One request (descriptor chain) on a ring. Before vuf_vq_add* the struct must
 * be zeroed or finished with vuf_req_fini; add overwrites every field except
 * cookie. It must stay alive (and unmoved) until done. */
struct vuf_req {
	uint16_t head;
	bool done;
	uint32_t used_len;     /* bytes the device says it wrote (as reported, unclamped) */
	size_t resp_cap;
	/* malloc'd copy of all resp_cap writable bytes at completion (the writable
	 * area is zeroed when queued); NULL when resp_cap is 0 or malloc failed */
	uint8_t *resp;
	void *cookie;          /* caller's, untouched by the library */
	/* private: guest buffers to release on completion. Each request uses at
	 * most three (readable data, writable area, indirect table): the
	 * descriptors are cut from them, so this never runs out. */
	uint64_t gpas[64];
	unsigned ngpas;
	/* private */
	unsigned ndescs;             /* ring descriptors taken */
	uint64_t resp_gpa;           /* the writable area (vuf_vq_addv) */
	struct vuf_seg *raw_wsegs;   /* writable segments to copy back (vuf_vq_add_raw) */
	unsigned raw_nwsegs;
};

struct vuf_vq {
	unsigned index;
	unsigned num;
	struct vuf_ram *ram;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;     /* next avail idx we publish */
	uint16_t last_used_idx; /* next used entry we read */
	uint16_t free_head;
	unsigned num_free;
	bool event_idx;
	int kick_fd, call_fd;   /* our ends of the eventfds */
	struct vuf_req **pending; /* per head */
	/* Gather-list pieces are of this size in VUF_LAYOUT_SPLIT/INDIRECT (default 7,
	 * odd on purpose so fields straddle descriptors). */
	size_t split_piece;
	/* Kick on every vuf_vq_kick, ignoring avail_event / NO_NOTIFY (default false). */
	bool always_kick;
	/* Called from vuf_vq_reap for every request that completes (after done is
	 * set); it may queue new requests. NULL = none. */
	void (*on_complete)(struct vuf_vq *vq, struct vuf_req *req);

	/* Counters for tests and benchmarks. */
	uint64_t kicks;            /* eventfd writes */
	uint64_t kicks_suppressed; /* vuf_vq_kick calls the device asked us to skip */
	uint64_t calls;            /* interrupts seen on call_fd (eventfd counts summed) */
	uint64_t completed;
	uint64_t bad_used;         /* used entries with an invalid or idle id (skipped) */
	bool broken;               /* used->idx ran more than num ahead */
	unsigned inflight;         /* requests queued, not yet completed */

	/* private */
	uint16_t *desc_next;       /* our own copy of chain/free-list links */
	uint16_t kicked_avail_idx; /* avail_idx at the previous kick decision */
};

/* Allocates the three rings of a num-entry queue in ram (desc 16, avail 2,
 * used 4 byte aligned, zeroed), its kick/call eventfds (non-blocking) and
 * bookkeeping. num: power of two up to VUF_VQ_MAX_SIZE. event_idx: the
 * driver follows VIRTIO_F_RING_EVENT_IDX. Ring pointers are our mapping, so
 * their addresses are the UVAs announced in SET_VRING_ADDR. On failure vq is
 * left empty. 0 or -errno. */
int vuf_vq_setup(struct vuf_vq *vq, struct vuf_ram *ram, unsigned index, unsigned num,
		 bool event_idx);
/* Releases the rings, the guest buffers of requests still in flight (those
 * requests stay !done) and the eventfds. Safe on an empty (zeroed) vq. */
void vuf_vq_fini(struct vuf_vq *vq);

/* ---- the connection ----------------------------------------------------- */

#define VUF_DEFAULT_TIMEOUT_MS 5000
#define VUF_NUM_QUEUES 2

struct vuf_opts {
	uint64_t ram_size;        /* default 64 MiB */
	unsigned nregions;        /* default 1 (at most 8 with SET_MEM_TABLE) */
	uint64_t gpa_gap;         /* default 0 */
	uint64_t base_gpa;        /* GPA of region 0, default 0 (first page never allocated) */
	bool use_add_mem_reg;     /* ADD_MEM_REG per region instead of SET_MEM_TABLE */
	unsigned queue_size[2];   /* default 256 */
	bool event_idx;           /* negotiate EVENT_IDX (default per vuf_opts_default: true) */
	bool indirect;            /* negotiate INDIRECT_DESC (default true) */
	bool reply_ack;           /* negotiate REPLY_ACK and set NEED_REPLY (default true) */
	/* Device feature bits (0..23) acked when offered; default bits 0 and 1. */
	uint64_t device_features;
	/* When STATUS is negotiated, add FEATURES_OK after SET_FEATURES and
	 * ACKNOWLEDGE|DRIVER|DRIVER_OK at the end (GET_STATUS + SET_STATUS each),
	 * as QEMU does. Default true. */
	bool status;
	/* > 0: GET_CONFIG(0, config_size) right after SET_OWNER, as QEMU does at
	 * realize; the bytes land in vuf.config. Needs CONFIG. Default 0 (skip). */
	uint32_t config_size;
};

struct vuf {
	int sock;
	int timeout_ms;           /* for every wait (default 5000; < 0 = no limit) */
	uint64_t features;        /* offered by the back-end */
	uint64_t protocol_features; /* offered by the back-end */
	uint64_t acked_features, acked_protocol_features;
	unsigned num_queues;
	unsigned max_mem_slots;   /* GET_MAX_MEM_SLOTS answer, 0 when not asked */
	uint8_t status;           /* last device status we set (STATUS) */
	uint8_t config[VU_CONFIG_MAX_PAYLOAD]; /* see vuf_opts.config_size */
	unsigned stray_fds;       /* fds received (and closed) in replies */
	struct vuf_ram ram;
	struct vuf_vq vq[VUF_NUM_QUEUES];
	struct vuf_opts opts;
};

void vuf_opts_default(struct vuf_opts *o);

/* Puts f in the empty state (no socket, no RAM, no rings, default timeout);
 * vuf_close is then safe. vuf_connect and vuf_attach call it first. */
void vuf_init(struct vuf *f);
/* Connects to a listening back-end, retrying (ENOENT, ECONNREFUSED) until
 * timeout_ms. Initialises f entirely first, so call vuf_close even on
 * failure. f->timeout_ms is set to VUF_DEFAULT_TIMEOUT_MS. 0 or -errno. */
int vuf_connect(struct vuf *f, const char *socket_path, int timeout_ms);
/* Same with an already connected stream socket (e.g. one end of a
 * socketpair); f owns sock from then on, even on failure. 0 or -errno. */
int vuf_attach(struct vuf *f, int sock);
/* Frees rings, RAM and fds, closes the socket. Safe on a partly set-up f. */
void vuf_close(struct vuf *f);

#define VUF_MAX_SEND_FDS 64

/* Raw bytes plus fds (at most VUF_MAX_SEND_FDS) in one sendmsg (for
 * malformed-message tests); the fds ride with the first byte. len > 0.
 * 0, -EPIPE / -ECONNRESET when the peer is gone, -ETIMEDOUT. */
int vuf_send_raw(struct vuf *f, const void *buf, size_t len, const int *fds, unsigned nfds);
/* A well-formed message: version 1 is always set in the header; flags adds
 * the other bits (VU_FLAG_NEED_REPLY, ...). size <= VUF_MAX_MSG_PAYLOAD. */
#define VUF_MAX_MSG_PAYLOAD (1u << 20)
int vuf_send(struct vuf *f, uint32_t request, uint32_t flags, const void *payload,
	     uint32_t size, const int *fds, unsigned nfds);
/* Receives one message (header + payload up to max). Returns payload size,
 * -ETIMEDOUT, -ECONNRESET on EOF, -EPROTO when malformed (wrong version,
 * size > max, control data truncated). Any fds received are closed and
 * counted in stray_fds. */
int vuf_recv(struct vuf *f, struct vu_msg_hdr *hdr, void *payload, uint32_t max);
/* True when the back-end closed the connection within timeout_ms. */
bool vuf_wait_closed(struct vuf *f, int timeout_ms);

/* GET-style request: sends, receives the reply, checks its request code and
 * REPLY flag and that its size is exactly reply_size. 0 or -errno. */
int vuf_get(struct vuf *f, uint32_t request, const void *payload, uint32_t size,
	    void *reply, uint32_t reply_size);
/* SET-style request. When REPLY_ACK was negotiated, NEED_REPLY is set and the
 * acked u64 is returned (0 = success, positive = back-end's failure code);
 * otherwise returns 0 after sending. Negative = transport error. */
int vuf_set(struct vuf *f, uint32_t request, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds);
int vuf_set_u64(struct vuf *f, uint32_t request, uint64_t value);

/* ADD_MEM_REG (with the memfd) / REM_MEM_REG (no fd) for RAM region i,
 * through vuf_set (so the result convention is the same). */
int vuf_add_mem_reg(struct vuf *f, unsigned i);
int vuf_rem_mem_reg(struct vuf *f, unsigned i);

/* The whole start-up QEMU performs, in its order:
 *   GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES (acks MQ, CONFIG,
 *   CONFIGURE_MEM_SLOTS, RESET_DEVICE, STATUS and REPLY_ACK per opts, each only
 *   when offered; sent without NEED_REPLY), GET_QUEUE_NUM (with MQ; must be
 *   >= 2), GET_MAX_MEM_SLOTS (with CONFIGURE_MEM_SLOTS), SET_OWNER,
 *   [GET_CONFIG per opts.config_size], SET_FEATURES [+ GET/SET_STATUS
 *   FEATURES_OK], SET_MEM_TABLE (all regions, memfd per region) or ADD_MEM_REG
 *   per region, then per ring NUM, BASE 0, ADDR, KICK, CALL, ENABLE 1
 *   [+ GET/SET_STATUS DRIVER_OK].
 * The back-end must offer PROTOCOL_FEATURES and VERSION_1. With REPLY_ACK
 * every SET-type request carries NEED_REPLY and a non-zero ack fails (-EIO).
 * opts may be NULL for defaults. 0 or -errno; the failing step is logged to
 * stderr as "vuf: <step>: <reason>". Call vuf_close afterwards either way. */
int vuf_start(struct vuf *f, const struct vuf_opts *opts);
/* Stops a ring as QEMU does (ENABLE 0, GET_VRING_BASE); returns base or -errno
 * (-EIO when the ENABLE 0 ack is non-zero, -EPROTO when the reply names
 * another ring). */
int vuf_stop_ring(struct vuf *f, unsigned index);

/* GET_CONFIG(offset, size) into buf. 0 or -errno (-EIO when the back-end
 * answered with size 0). */
int vuf_get_config(struct vuf *f, uint32_t offset, void *buf, uint32_t size);

/* ---- requests on a ring --------------------------------------------------- */

/* Queues a request: out/out_len are copied into freshly allocated guest
 * buffers (device-readable), resp_cap bytes of device-writable space follow;
 * layout picks the descriptor shape. Does not kick. 0 or -errno (-ENOSPC when
 * the ring is full). The request must stay alive until done.
 * The readable bytes live in ONE guest buffer and the writable area in
 * another; descriptors are cut from them (VUF_LAYOUT_SPLIT/INDIRECT: pieces
 * of split_piece bytes). out_len 0 (writable-only, e.g. event buffers) or
 * resp_cap 0 (readable-only) are fine, not both (-EINVAL). Each part is at
 * most UINT32_MAX bytes. Errors: -EINVAL, -EMSGSIZE when the chain would be
 * longer than the ring (never fits), -ENOSPC when not enough descriptors are
 * free now, -ENOMEM when guest RAM is exhausted. INDIRECT is used whether or
 * not INDIRECT_DESC was negotiated (tests may want that). */
int vuf_vq_add(struct vuf_vq *vq, struct vuf_req *req, const void *out, size_t out_len,
	       size_t resp_cap, enum vuf_layout layout);
/* Same with explicit readable pieces (iov) for callers that build commands in parts. */
int vuf_vq_addv(struct vuf_vq *vq, struct vuf_req *req, const struct iovec *out,
		unsigned out_cnt, size_t resp_cap, enum vuf_layout layout);
/* Queues a chain made of caller-owned buffers exactly as described (any
 * order, any flags; through an allocated indirect table when indirect).
 * Nothing but the table is allocated or released. At completion the
 * writable segments (as far as they are guest RAM) are copied one after
 * another into req->resp (resp_cap = their total length). Same errors. */
int vuf_vq_add_raw(struct vuf_vq *vq, struct vuf_req *req, const struct vuf_seg *segs,
		   unsigned nsegs, bool indirect);
/* Notifies the device of what was queued, unless it asked not to be
 * (EVENT_IDX: avail_event; else VRING_USED_F_NO_NOTIFY) and !always_kick.
 * 0 (kicked or rightly suppressed: see the kicks / kicks_suppressed
 * counters) or -errno. */
int vuf_vq_kick(struct vuf_vq *vq);
/* Collects finished requests (copies responses, frees guest buffers, marks
 * done, calls on_complete). With EVENT_IDX it then publishes used_event =
 * last_used_idx so the device interrupts for the next completion. Returns
 * how many completed, or -EIO when used->idx is more than num ahead (the
 * ring is then marked broken). */
int vuf_vq_reap(struct vuf_vq *vq);
/* Waits on call_fd up to timeout_ms (< 0: no limit) until req is done.
 * 0, -ETIMEDOUT, or -EIO (broken ring). */
int vuf_vq_wait(struct vuf_vq *vq, struct vuf_req *req, int timeout_ms);
/* Waits on call_fd up to timeout_ms (< 0: no limit) until at least one
 * request completes. Returns how many did, -ETIMEDOUT or -EIO. */
int vuf_vq_wait_any(struct vuf_vq *vq, int timeout_ms);
/* Releases resp memory of a finished request (not a cancel: a request still
 * in flight stays owned by the ring). */
void vuf_req_fini(struct vuf_req *req);

#endif
