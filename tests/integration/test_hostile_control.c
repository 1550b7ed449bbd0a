/* Hostile front-ends on the control path (hostile-input items 1-9) against
 * the real binary. After every case the daemon must serve a fresh connection
 * that works, and hold no more fds than before. */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static struct daemon_proc d;
static int baseline_fds;

enum outcome {
	DROPPED, /* the daemon closed the connection */
	KEPT,    /* error reported, connection usable */
};

/* Connects and negotiates features (REPLY_ACK on), without memory or rings. */
static bool connect_negotiated(struct vuf *f)
{
	uint64_t feat, pf;

	if (vuf_connect(f, d.sock, 2000) < 0)
		return false;
	if (vuf_get(f, VU_GET_FEATURES, NULL, 0, &feat, 8) < 0 ||
	    vuf_get(f, VU_GET_PROTOCOL_FEATURES, NULL, 0, &pf, 8) < 0)
		return false;
	if (vuf_send(f, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0) < 0)
		return false;
	f->acked_protocol_features = pf;
	return vuf_set_u64(f, VU_SET_FEATURES, feat) == 0;
}

/* The connection still answers GET_FEATURES. */
static bool still_serving(struct vuf *f)
{
	uint64_t feat = 0;

	return vuf_get(f, VU_GET_FEATURES, NULL, 0, &feat, 8) == 0 && feat != 0;
}

static void after_case(struct vuf *f, enum outcome expect, const char *name)
{
	if (expect == DROPPED) {
		CHECK(vuf_wait_closed(f, 3000));
	} else {
		CHECK(still_serving(f));
	}
	vuf_close(f);
	CHECK(daemon_alive(&d));
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
	if (tl_cur_failed)
		fprintf(stderr, "  (in case '%s')\n", name);
}

static uint8_t hdr_bytes[12];

static const void *raw_hdr(uint32_t req, uint32_t flags, uint32_t size)
{
	struct vu_msg_hdr h = { req, flags, size };

	memcpy(hdr_bytes, &h, 12);
	return hdr_bytes;
}

/* ---- item 1: framing ---------------------------------------------------- */

static void t_item1_bad_version(void)
{
	static const uint32_t versions[] = { 0, 2, 3 };

	for (unsigned i = 0; i < 3; i++) {
		struct vuf f;

		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_GET_FEATURES, versions[i], 0), 12, NULL, 0), 0);
		after_case(&f, DROPPED, "bad version");
	}
}

static void t_item1_oversized_payload(void)
{
	struct vuf f;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_SET_FEATURES, 1, 0x100000), 12, NULL, 0), 0);
	after_case(&f, DROPPED, "oversized");
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_SET_MEM_TABLE, 1, 0xffffffffu), 12, NULL, 0), 0);
	after_case(&f, DROPPED, "size 4G");
}

static void t_item1_wrong_size_for_request(void)
{
	struct vuf f;
	uint8_t junk[64] = { 0 };
	uint64_t feat = 0;

	REQUIRE(connect_negotiated(&f));
	CHECK(vuf_set(&f, VU_SET_FEATURES, junk, 4, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_NUM, junk, 12, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, junk, 64, NULL, 0) > 0);
	/* A GET with a payload: the reply has size 0, so vuf_get sees a mismatch. */
	CHECK(vuf_get(&f, VU_GET_FEATURES, junk, 8, &feat, 8) < 0);
	after_case(&f, KEPT, "wrong size");
}

/* ---- item 2: short reads and EOF ----------------------------------------- */

static void t_item2_eof_inside_message(void)
{
	struct vuf f;

	/* EOF inside the header. */
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_SET_FEATURES, 1, 8), 5, NULL, 0), 0);
	vuf_close(&f);
	CHECK(it_fresh_session_works(d.sock));
	/* EOF inside the payload. */
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_SET_FEATURES, 1, 8), 12, NULL, 0), 0);
	CHECK_EQ(vuf_send_raw(&f, "abc", 3, NULL, 0), 0);
	vuf_close(&f);
	CHECK(it_fresh_session_works(d.sock));
	/* EOF right after a memory table was sent, fds in flight. */
	REQUIRE(connect_negotiated(&f));
	{
		struct vu_mem_table t = { .nregions = 1 };
		int memfd = memfd_create("g", 0);

		CHECK_EQ(ftruncate(memfd, 1 << 20), 0);
		t.regions[0] = (struct vu_mem_region){ 0, 1 << 20, 0x7f0000000000ull, 0 };
		CHECK_EQ(vuf_send(&f, VU_SET_MEM_TABLE, 0, &t, 40, &memfd, 1), 0);
		close(memfd);
	}
	vuf_close(&f);
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

static void t_item2_stalled_payload(void)
{
	struct vuf f;

	/* A header announcing 8 bytes that never come: the daemon gives up after
	 * its message timeout instead of hanging. */
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_SET_FEATURES, 1, 8), 12, NULL, 0), 0);
	CHECK(vuf_wait_closed(&f, 8000));
	after_case(&f, DROPPED, "stalled");
}

/* ---- item 3: fds --------------------------------------------------------- */

static void t_item3_too_many_fds(void)
{
	struct vuf f;
	int fds[12];

	for (unsigned i = 0; i < 12; i++)
		fds[i] = eventfd(0, 0);
	/* More than 8: the control data is truncated (MSG_CTRUNC). */
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_send_raw(&f, raw_hdr(VU_GET_FEATURES, 1, 0), 12, fds, 12), 0);
	after_case(&f, DROPPED, "12 fds");
	for (unsigned i = 0; i < 12; i++)
		close(fds[i]);
}

static void t_item3_fds_where_none_belong(void)
{
	struct vuf f;
	int fds[3];
	uint64_t v = 0;

	for (unsigned i = 0; i < 3; i++)
		fds[i] = eventfd(0, 0);
	REQUIRE(connect_negotiated(&f));
	CHECK(vuf_set(&f, VU_SET_OWNER, NULL, 0, fds, 3) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 8 }, 8, fds, 1) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_CALL, &v, 8, fds, 2) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_KICK, &v, 8, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &(struct vu_mem_table){ .nregions = 2 }, 8 + 64, fds,
		      1) > 0);
	/* While connected, the daemon holds no more than its own fds plus the
	 * connection (the rejected ones were closed). */
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds + 1, 2000), baseline_fds + 1);
	after_case(&f, KEPT, "fds where none belong");
	for (unsigned i = 0; i < 3; i++)
		close(fds[i]);
}

/* ---- items 4-9 ------------------------------------------------------------ */

/* A negotiated connection with 1 MiB of memory at uva 0x7f00_0000_0000. */
#define FAKE_UVA 0x7f0000000000ull
static bool connect_with_memory(struct vuf *f, int *memfd_out)
{
	struct vu_mem_table t = { .nregions = 1 };
	int memfd = memfd_create("g", 0);
	bool ok;

	if (memfd < 0 || ftruncate(memfd, 1 << 20) < 0 || !connect_negotiated(f))
		return false;
	t.regions[0] = (struct vu_mem_region){ 0x100000, 1 << 20, FAKE_UVA, 0 };
	ok = vuf_set(f, VU_SET_MEM_TABLE, &t, 40, &memfd, 1) == 0;
	if (memfd_out)
		*memfd_out = memfd;
	else
		close(memfd);
	return ok;
}

static void t_item4_ring_index(void)
{
	struct vuf f;
	int efd = eventfd(0, 0);
	uint64_t idx;
	struct vu_vring_state st;

	REQUIRE(connect_with_memory(&f, NULL));
	CHECK(vuf_set(&f, VU_SET_VRING_NUM, &(struct vu_vring_state){ 2, 8 }, 8, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_BASE, &(struct vu_vring_state){ 200, 0 }, 8, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_ENABLE, &(struct vu_vring_state){ 2, 1 }, 8, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR,
		      &(struct vu_vring_addr){ .index = 7, .desc_user_addr = FAKE_UVA },
		      sizeof(struct vu_vring_addr), NULL, 0) > 0);
	for (uint32_t req = VU_SET_VRING_KICK; req <= VU_SET_VRING_ERR; req++) {
		idx = 2;
		CHECK(vuf_set(&f, req, &idx, 8, &efd, 1) > 0);
		idx = 0xff;
		CHECK(vuf_set(&f, req, &idx, 8, &efd, 1) > 0);
	}
	/* GET_VRING_BASE on a ring that does not exist: a reply of size 0. */
	CHECK(vuf_get(&f, VU_GET_VRING_BASE, &(struct vu_vring_state){ 9, 0 }, 8, &st, 8) < 0);
	close(efd);
	after_case(&f, KEPT, "ring index");
}

static void t_item5_ring_size(void)
{
	struct vuf f;
	static const uint32_t sizes[] = { 0, 3, 100, 2048, 32768, 65536 };

	REQUIRE(connect_negotiated(&f));
	for (unsigned i = 0; i < 6; i++)
		CHECK(vuf_set(&f, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, sizes[i] }, 8, NULL,
			      0) > 0);
	CHECK_EQ(vuf_set(&f, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 256 }, 8, NULL, 0), 0);
	after_case(&f, KEPT, "ring size");
}

static void t_item6_ring_addresses(void)
{
	struct vuf f;
	struct vu_vring_addr a = { .index = 0 };

	REQUIRE(connect_with_memory(&f, NULL));
	CHECK_EQ(vuf_set(&f, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 256 }, 8, NULL, 0), 0);
	/* Unmapped. */
	a.desc_user_addr = 0x1000;
	a.avail_user_addr = FAKE_UVA + 0x1000;
	a.used_user_addr = FAKE_UVA + 0x2000;
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0);
	/* Misaligned. */
	a.desc_user_addr = FAKE_UVA + 8;
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0);
	a.desc_user_addr = FAKE_UVA;
	a.avail_user_addr = FAKE_UVA + 0x1001;
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0);
	a.avail_user_addr = FAKE_UVA + 0x1000;
	a.used_user_addr = FAKE_UVA + 0x2002;
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0);
	/* The used ring crosses the end of the region. */
	a.used_user_addr = FAKE_UVA + (1 << 20) - 64;
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0);
	/* All good. */
	a.used_user_addr = FAKE_UVA + 0x2000;
	CHECK_EQ(vuf_set(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	after_case(&f, KEPT, "ring addresses");
}

static void t_item7_memory_tables(void)
{
	struct vuf f;
	int memfd = memfd_create("g", 0);
	int small = memfd_create("s", 0);
	struct vu_mem_table t = { .nregions = 1 };
	struct vu_mem_region good = { 0x100000, 1 << 20, FAKE_UVA, 0 };
	int two[2];

	REQUIRE(memfd >= 0 && small >= 0);
	REQUIRE(ftruncate(memfd, 2 << 20) == 0 && ftruncate(small, 4096) == 0);
	REQUIRE(connect_negotiated(&f));
	/* Size 0. */
	t.regions[0] = good;
	t.regions[0].memory_size = 0;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 40, &memfd, 1) > 0);
	/* gpa + size and mmap_offset + size overflow. */
	t.regions[0] = good;
	t.regions[0].guest_phys_addr = UINT64_MAX - 4095;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 40, &memfd, 1) > 0);
	t.regions[0] = good;
	t.regions[0].mmap_offset = UINT64_MAX - 4095;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 40, &memfd, 1) > 0);
	/* An fd shorter than offset + size (a SIGBUS waiting to happen). */
	t.regions[0] = good;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 40, &small, 1) > 0);
	t.regions[0].mmap_offset = (2 << 20) - 4096;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 40, &memfd, 1) > 0);
	/* Overlapping regions. */
	t.nregions = 2;
	t.regions[0] = good;
	t.regions[1] = good;
	t.regions[1].guest_phys_addr += 4096;
	t.regions[1].userspace_addr += 2 << 20;
	two[0] = two[1] = memfd;
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 72, two, 2) > 0);
	/* Region count != fd count. */
	t.regions[1].guest_phys_addr = good.guest_phys_addr + (1 << 20);
	CHECK(vuf_set(&f, VU_SET_MEM_TABLE, &t, 72, &memfd, 1) > 0);
	/* More regions than ADD_MEM_REG slots: 33 adds. */
	{
		unsigned ok = 0, refused = 0;

		for (unsigned i = 0; i < 33; i++) {
			struct vu_single_mem_region r = {
				.region = { 0x100000 + i * 0x10000ull, 0x10000,
					    FAKE_UVA + i * 0x10000ull, i * 0x10000ull },
			};
			int ret = vuf_set(&f, VU_ADD_MEM_REG, &r, sizeof(r), &memfd, 1);

			ok += ret == 0;
			refused += ret > 0;
		}
		CHECK_EQ(ok, 32);
		CHECK_EQ(refused, 1);
	}
	close(memfd);
	close(small);
	after_case(&f, KEPT, "memory tables");
}

static void t_item8_features(void)
{
	struct vuf f;
	uint64_t feat, pf;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_get(&f, VU_GET_FEATURES, NULL, 0, &feat, 8) == 0);
	REQUIRE(vuf_get(&f, VU_GET_PROTOCOL_FEATURES, NULL, 0, &pf, 8) == 0);
	CHECK(vuf_set_u64(&f, VU_SET_PROTOCOL_FEATURES, pf | (1ull << 1)) >= 0);
	REQUIRE(vuf_send(&f, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0) == 0);
	f.acked_protocol_features = pf;
	CHECK(vuf_set_u64(&f, VU_SET_FEATURES, feat | (1ull << 24)) > 0);
	CHECK(vuf_set_u64(&f, VU_SET_FEATURES, feat & ~(1ull << 32)) > 0);
	CHECK(vuf_set_u64(&f, VU_SET_FEATURES, 1ull << 63) > 0);
	CHECK_EQ(vuf_set_u64(&f, VU_SET_FEATURES, feat), 0);
	after_case(&f, KEPT, "features");
}

static void t_item8_features_change_while_running(void)
{
	struct vuf f;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	CHECK(vuf_set_u64(&f, VU_SET_FEATURES, f.acked_features & ~(1ull << 29)) > 0);
	CHECK_EQ(vuf_set_u64(&f, VU_SET_FEATURES, f.acked_features), 0);
	CHECK_EQ(it_command(&f, CMD_GET_PARAMS_EXT, 3, QUEUE_INPUT, VUF_LAYOUT_SINGLE, NULL),
		 RESP_ERR_INVALID_STREAM_ID);
	after_case(&f, KEPT, "features while running");
}

static void t_item9_unknown_and_out_of_state(void)
{
	struct vuf f;
	int efd = eventfd(0, 0);
	uint64_t v = 0, q;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	/* GET_QUEUE_NUM before protocol features: size-0 reply. */
	CHECK(vuf_get(&f, VU_GET_QUEUE_NUM, NULL, 0, &q, 8) < 0);
	vuf_close(&f);
	REQUIRE(connect_negotiated(&f));
	/* Kick and ring address before any memory table. */
	CHECK(vuf_set(&f, VU_SET_VRING_KICK, &v, 8, &efd, 1) > 0);
	CHECK(vuf_set(&f, VU_SET_VRING_ADDR, &(struct vu_vring_addr){ 0 },
		      sizeof(struct vu_vring_addr), NULL, 0) > 0);
	/* Unknown and unsupported requests. */
	CHECK(vuf_set(&f, 200, NULL, 0, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_LOG_BASE, &v, 8, NULL, 0) > 0);
	CHECK(vuf_set(&f, VU_SET_INFLIGHT_FD, &v, 8, &efd, 1) > 0);
	CHECK(vuf_set(&f, VU_SET_BACKEND_REQ_FD, NULL, 0, &efd, 1) > 0);
	CHECK(vuf_set(&f, VU_SET_CONFIG, &(struct vu_config){ .size = 4 }, 16, NULL, 0) > 0);
	/* Without NEED_REPLY nothing comes back, and nothing breaks. */
	CHECK_EQ(vuf_send(&f, 201, 0, NULL, 0, NULL, 0), 0);
	close(efd);
	after_case(&f, KEPT, "unknown / out of state");
}

/* A call eventfd whose counter the front-end filled to the maximum: the
 * daemon's notification write would block forever if it were blocking. */
static void t_call_eventfd_full(void)
{
	struct vuf f;
	struct vuf_req req;
	uint8_t cmd[16] = { 0 };

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	{
		/* A blocking eventfd (the flag is shared with the daemon's copy). */
		int blk = eventfd(0, EFD_CLOEXEC);
		uint64_t idx = 0;

		CHECK_EQ(eventfd_write(blk, 0xfffffffffffffffeull), 0);
		CHECK_EQ(vuf_set(&f, VU_SET_VRING_CALL, &idx, 8, &blk, 1), 0);
		close(blk);
	}
	memset(&req, 0, sizeof(req));
	wr32(cmd, CMD_GET_PARAMS_EXT);
	wr32(cmd + 8, QUEUE_INPUT);
	CHECK_EQ(vuf_vq_add(&f.vq[0], &req, cmd, sizeof(cmd), 64, VUF_LAYOUT_SINGLE), 0);
	CHECK(vuf_vq_kick(&f.vq[0]) >= 0);
	/* The response lands in the used ring even though no call can be sent. */
	for (int t = 0; t < 200 && !req.done; t++) {
		vuf_vq_reap(&f.vq[0]);
		if (!req.done)
			sleep_ms(10);
	}
	CHECK(req.done);
	CHECK_EQ(req.used_len, 8);
	vuf_req_fini(&req);
	after_case(&f, KEPT, "call eventfd full");
}

/* A driver that publishes more chains than the ring holds: the ring is
 * broken, the front-end hears it on the err eventfd, others serve on. */
static void t_item10_broken_ring_signals_err(void)
{
	struct vuf f;
	int errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t idx = 0;
	eventfd_t v = 0;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	CHECK_EQ(vuf_set(&f, VU_SET_VRING_ERR, &idx, 8, &errfd, 1), 0);
	__atomic_store_n(&f.vq[0].avail->idx, htole16((uint16_t)(f.vq[0].num + 5)),
			 __ATOMIC_RELEASE);
	CHECK_EQ(eventfd_write(f.vq[0].kick_fd, 1), 0);
	for (int t = 0; t < 200 && eventfd_read(errfd, &v) < 0; t++)
		sleep_ms(10);
	CHECK_EQ(v, 1);
	/* Nothing was answered. */
	CHECK_EQ(le16toh(__atomic_load_n(&f.vq[0].used->idx, __ATOMIC_ACQUIRE)), 0);
	close(errfd);
	after_case(&f, KEPT, "broken ring");
}

static void t_clean_exit(void)
{
	it_daemon_clean_exit(&d);
}

int main(void)
{
	test_begin("hostile_control");
	baseline_fds = it_daemon_up(&d);
	if (baseline_fds < 0)
		return 1;
	RUN_TEST(t_item1_bad_version);
	RUN_TEST(t_item1_oversized_payload);
	RUN_TEST(t_item1_wrong_size_for_request);
	RUN_TEST(t_item2_eof_inside_message);
	RUN_TEST(t_item2_stalled_payload);
	RUN_TEST(t_item3_too_many_fds);
	RUN_TEST(t_item3_fds_where_none_belong);
	RUN_TEST(t_item4_ring_index);
	RUN_TEST(t_item5_ring_size);
	RUN_TEST(t_item6_ring_addresses);
	RUN_TEST(t_item7_memory_tables);
	RUN_TEST(t_item8_features);
	RUN_TEST(t_item8_features_change_while_running);
	RUN_TEST(t_item9_unknown_and_out_of_state);
	RUN_TEST(t_call_eventfd_full);
	RUN_TEST(t_item10_broken_ring_signals_err);
	RUN_TEST(t_clean_exit);
	return test_summary();
}
