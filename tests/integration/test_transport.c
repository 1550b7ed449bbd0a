/* The vhost-user transport against the real binary: handshake as QEMU does
 * it, config space, memory tables, rings, request round trips with every
 * descriptor layout. */
#include "common.h"

static struct daemon_proc d;

#define OFFERED_FEATURES                                                        \
	((1ull << 32) | (1ull << 28) | (1ull << 29) | (1ull << 30) | 1ull | 2ull)
#define OFFERED_PROTOCOL 0x1A209ull

static void t_handshake(void)
{
	struct vuf f;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	CHECK_EQ(vuf_start(&f, NULL), 0);
	CHECK_EQ(f.features, OFFERED_FEATURES);
	CHECK_EQ(f.protocol_features, OFFERED_PROTOCOL);
	CHECK_EQ(f.num_queues, 2);
	CHECK_EQ(f.max_mem_slots, 32);
	CHECK_EQ(f.acked_features, OFFERED_FEATURES);
	CHECK_EQ(f.stray_fds, 0);
	vuf_close(&f);
}

static void t_config_space(void)
{
	struct vuf f;
	uint8_t full[44], part[12], pieced[44];
	static const char name[] = "vhost-user-video";

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	CHECK_EQ(vuf_get_config(&f, 0, full, 44), 0);
	CHECK_EQ(rd32(full), 0);
	CHECK_EQ(rd32(full + 4), 4096);
	CHECK_EQ(rd32(full + 8), 4096);
	CHECK_MEM(full + 12, name, sizeof(name));
	for (unsigned i = 12 + sizeof(name); i < 44; i++)
		CHECK_EQ(full[i], 0);
	/* The spec's 12 bytes alone. */
	CHECK_EQ(vuf_get_config(&f, 0, part, 12), 0);
	CHECK_MEM(part, full, 12);
	/* QEMU reads 4 bytes at a time. */
	for (unsigned off = 0; off < 44; off += 4)
		CHECK_EQ(vuf_get_config(&f, off, pieced + off, 4), 0);
	CHECK_MEM(pieced, full, 44);
	/* Past the end: the failure reply of size 0. */
	CHECK_EQ(vuf_get_config(&f, 40, part, 8), -EIO);
	CHECK_EQ(vuf_get_config(&f, 44, part, 1), -EIO);
	/* And the connection goes on. */
	CHECK_EQ(vuf_get_config(&f, 4, part, 4), 0);
	CHECK_EQ(rd32(part), 4096);
	vuf_close(&f);
}

static void t_round_trip_every_layout(void)
{
	static const enum vuf_layout layouts[] = { VUF_LAYOUT_SINGLE, VUF_LAYOUT_SPLIT,
						   VUF_LAYOUT_INDIRECT };
	struct vuf f;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	for (unsigned i = 0; i < 3; i++) {
		uint32_t used = 0;

		CHECK_EQ(it_command(&f, CMD_GET_PARAMS_EXT, 77 + i, QUEUE_INPUT, layouts[i], &used),
			 RESP_ERR_INVALID_STREAM_ID);
		CHECK_EQ(used, 8);
		used = 0;
		CHECK_EQ(it_command(&f, CMD_QUERY_CAPABILITY, 0, QUEUE_INPUT, layouts[i], &used),
			 RESP_OK_QUERY_CAPABILITY);
		CHECK(used > 16);
	}
	/* GET_VRING_BASE returns how many chains the device consumed. */
	CHECK_EQ(vuf_stop_ring(&f, 0), 6);
	vuf_close(&f);
}

static void t_many_requests_in_flight(void)
{
	struct vuf f;
	struct vuf_opts o;
	struct vuf_req reqs[64];
	uint8_t cmd[16] = { 0 };
	unsigned done = 0;

	vuf_opts_default(&o);
	o.queue_size[0] = 64;
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, &o) == 0);
	wr32(cmd, CMD_GET_PARAMS_EXT);
	wr32(cmd + 8, QUEUE_INPUT);
	memset(reqs, 0, sizeof(reqs));
	/* 32 two-descriptor chains fill the 64-entry ring. */
	for (unsigned i = 0; i < 32; i++) {
		wr32(cmd + 4, 1000 + i);
		CHECK_EQ(vuf_vq_add(&f.vq[0], &reqs[i], cmd, sizeof(cmd), 64, VUF_LAYOUT_SINGLE), 0);
	}
	CHECK(vuf_vq_kick(&f.vq[0]) >= 0);
	for (unsigned i = 0; i < 32; i++) {
		if (vuf_vq_wait(&f.vq[0], &reqs[i], 5000) == 0 && reqs[i].used_len == 8 &&
		    rd32(reqs[i].resp) == RESP_ERR_INVALID_STREAM_ID &&
		    rd32(reqs[i].resp + 4) == 1000 + i)
			done++;
		vuf_req_fini(&reqs[i]);
	}
	CHECK_EQ(done, 32);
	vuf_close(&f);
}

static void t_memory_layouts(void)
{
	struct {
		unsigned nregions;
		uint64_t gap;
		bool add_mem_reg;
	} cases[] = {
		{ 1, 0, false }, { 4, 0, false }, { 4, 0x10000000, false }, { 8, 0x1000, false },
		{ 2, 0, true },  { 16, 0x200000, true },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vuf f;
		struct vuf_opts o;

		vuf_opts_default(&o);
		o.nregions = cases[i].nregions;
		o.gpa_gap = cases[i].gap;
		o.use_add_mem_reg = cases[i].add_mem_reg;
		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK_EQ(vuf_start(&f, &o), 0);
		for (unsigned l = 0; l < 3; l++)
			CHECK_EQ(it_command(&f, CMD_QUERY_CAPABILITY, 0, QUEUE_INPUT,
					    (enum vuf_layout)l, NULL),
				 RESP_OK_QUERY_CAPABILITY);
		vuf_close(&f);
	}
}

static void t_feature_variants(void)
{
	for (unsigned v = 0; v < 4; v++) {
		struct vuf f;
		struct vuf_opts o;

		vuf_opts_default(&o);
		o.event_idx = v & 1;
		o.indirect = v & 2;
		o.reply_ack = v != 0;
		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK_EQ(vuf_start(&f, &o), 0);
		CHECK_EQ(it_command(&f, CMD_GET_PARAMS_EXT, 5, QUEUE_INPUT, VUF_LAYOUT_SPLIT, NULL),
			 RESP_ERR_INVALID_STREAM_ID);
		if (o.indirect)
			CHECK_EQ(it_command(&f, CMD_GET_PARAMS_EXT, 5, QUEUE_INPUT,
					    VUF_LAYOUT_INDIRECT, NULL),
				 RESP_ERR_INVALID_STREAM_ID);
		vuf_close(&f);
	}
}

static void t_queue_sizes(void)
{
	static const unsigned sizes[] = { 1, 2, 1024 };

	for (unsigned i = 0; i < 3; i++) {
		struct vuf f;
		struct vuf_opts o;

		vuf_opts_default(&o);
		o.queue_size[0] = o.queue_size[1] = sizes[i];
		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK_EQ(vuf_start(&f, &o), 0);
		/* A 2-descriptor chain needs a ring of 2. */
		if (sizes[i] >= 2)
			CHECK_EQ(it_command(&f, CMD_GET_PARAMS_EXT, 1, QUEUE_INPUT,
					    VUF_LAYOUT_SINGLE, NULL),
				 RESP_ERR_INVALID_STREAM_ID);
		vuf_close(&f);
	}
	/* Too large for the device: the start-up fails at SET_VRING_NUM. */
	{
		struct vuf f;
		struct vuf_opts o;

		vuf_opts_default(&o);
		o.queue_size[0] = 2048;
		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK(vuf_start(&f, &o) < 0);
		vuf_close(&f);
	}
}

/* The memory table may change while rings run (QEMU re-sends it). */
static void t_memory_changes_while_running(void)
{
	struct vuf f;
	struct vuf_opts o;

	vuf_opts_default(&o);
	o.nregions = 4;
	o.use_add_mem_reg = true;
	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, &o) == 0);
	CHECK_EQ(it_command(&f, CMD_QUERY_CAPABILITY, 0, QUEUE_INPUT, VUF_LAYOUT_SINGLE, NULL),
		 RESP_OK_QUERY_CAPABILITY);
	/* Remove and re-add the last region (the rings live in the first). */
	CHECK_EQ(vuf_rem_mem_reg(&f, 3), 0);
	CHECK(vuf_rem_mem_reg(&f, 3) > 0);
	CHECK_EQ(vuf_add_mem_reg(&f, 3), 0);
	CHECK_EQ(it_command(&f, CMD_QUERY_CAPABILITY, 0, QUEUE_INPUT, VUF_LAYOUT_SINGLE, NULL),
		 RESP_OK_QUERY_CAPABILITY);
	/* Adding it twice overlaps. */
	CHECK(vuf_add_mem_reg(&f, 3) > 0);
	vuf_close(&f);
}

/* Guest RAM the daemon maps is marked MADV_DONTDUMP: a core dump of the daemon never holds
 * guest memory. Every mapping of the front-end's memfd shows "dd" in its VmFlags. */
static void t_guest_memory_not_dumped(void)
{
	struct vuf f;
	uint8_t cfg[44];
	char path[64], line[512];
	unsigned mappings = 0, dontdump = 0;
	bool in_guest_ram = false;
	FILE *smaps;

	REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	REQUIRE(vuf_get_config(&f, 0, cfg, sizeof(cfg)) == 0); /* the table was applied */
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)d.pid);
	smaps = fopen(path, "r");
	REQUIRE(smaps != NULL);
	while (fgets(line, sizeof(line), smaps)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ')) {
			in_guest_ram = strstr(line, "vuf-guest-ram") != NULL;
			mappings += in_guest_ram;
		} else if (in_guest_ram && strncmp(line, "VmFlags:", 8) == 0) {
			dontdump += strstr(line, " dd") != NULL;
		}
	}
	fclose(smaps);
	CHECK(mappings >= 1);
	CHECK_EQ(dontdump, mappings);
	vuf_close(&f);
}

static void t_daemon_exits_cleanly(void)
{
	it_daemon_clean_exit(&d);
}

int main(void)
{
	test_begin("transport");
	signal(SIGPIPE, SIG_IGN);
	if (daemon_start(&d, NULL) < 0) {
		fprintf(stderr, "cannot start %s\n", daemon_binary());
		return 1;
	}
	RUN_TEST(t_handshake);
	RUN_TEST(t_config_space);
	RUN_TEST(t_round_trip_every_layout);
	RUN_TEST(t_many_requests_in_flight);
	RUN_TEST(t_memory_layouts);
	RUN_TEST(t_feature_variants);
	RUN_TEST(t_queue_sizes);
	RUN_TEST(t_memory_changes_while_running);
	RUN_TEST(t_guest_memory_not_dumped);
	RUN_TEST(t_daemon_exits_cleanly);
	return test_summary();
}
