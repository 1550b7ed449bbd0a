/* Connection life cycle: many connect/handshake/disconnect cycles leave the
 * daemon's fd count where it was; front-ends that vanish with requests in
 * flight, or in the middle of a handshake, leave nothing behind. */
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static struct daemon_proc d;
static int baseline_fds;

static void t_200_cycles_fd_count_flat(void)
{
	unsigned ok = 0;
	int before, after;

	before = daemon_fd_count(&d);
	CHECK_EQ(before, baseline_fds);
	for (unsigned i = 0; i < 200; i++) {
		struct vuf f;
		struct vuf_opts o;

		vuf_opts_default(&o);
		o.ram_size = 4 << 20;
		o.nregions = 1u << (i % 4); /* 4 MiB cut into page-multiple regions */
		o.use_add_mem_reg = i % 2;
		if (vuf_connect(&f, d.sock, 2000) == 0 && vuf_start(&f, &o) == 0 &&
		    it_command(&f, CMD_GET_PARAMS_EXT, i, QUEUE_INPUT, (enum vuf_layout)(i % 3),
			       NULL) == RESP_ERR_INVALID_STREAM_ID)
			ok++;
		vuf_close(&f);
	}
	CHECK_EQ(ok, 200);
	after = daemon_wait_fd_count(&d, baseline_fds, 2000);
	CHECK_EQ(after, before);
	printf("    daemon fds: %d before, %d after 200 cycles\n", before, after);
}

static void t_vanish_with_requests_in_flight(void)
{
	for (unsigned round = 0; round < 20; round++) {
		struct vuf f;
		struct vuf_req reqs[16];
		uint8_t cmd[16] = { 0 };

		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		REQUIRE(vuf_start(&f, NULL) == 0);
		memset(reqs, 0, sizeof(reqs));
		wr32(cmd, CMD_QUERY_CAPABILITY);
		wr32(cmd + 8, QUEUE_INPUT);
		for (unsigned i = 0; i < 16; i++)
			vuf_vq_add(&f.vq[0], &reqs[i], cmd, sizeof(cmd), 4096,
				   (enum vuf_layout)(i % 3));
		vuf_vq_kick(&f.vq[0]);
		/* Gone without waiting for anything. */
		vuf_close(&f);
	}
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

/* Disconnect after each prefix of the QEMU start-up sequence. */
static void t_vanish_at_every_handshake_step(void)
{
	static const uint32_t steps[] = {
		VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
		VU_GET_QUEUE_NUM, VU_SET_OWNER, VU_SET_FEATURES,
	};

	for (unsigned n = 0; n <= 6; n++) {
		struct vuf f;
		uint64_t v = 0, feat = 0, pf = 0;

		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		for (unsigned i = 0; i < n; i++) {
			switch (steps[i]) {
			case VU_GET_FEATURES:
				vuf_get(&f, VU_GET_FEATURES, NULL, 0, &feat, 8);
				break;
			case VU_GET_PROTOCOL_FEATURES:
				vuf_get(&f, VU_GET_PROTOCOL_FEATURES, NULL, 0, &pf, 8);
				break;
			case VU_SET_PROTOCOL_FEATURES:
				vuf_send(&f, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
				break;
			case VU_GET_QUEUE_NUM:
				vuf_get(&f, VU_GET_QUEUE_NUM, NULL, 0, &v, 8);
				break;
			case VU_SET_OWNER:
				vuf_send(&f, VU_SET_OWNER, 0, NULL, 0, NULL, 0);
				break;
			default:
				vuf_send(&f, VU_SET_FEATURES, 0, &feat, 8, NULL, 0);
				break;
			}
		}
		vuf_close(&f);
	}
	/* And with memory and rings set up but no request ever sent. */
	{
		struct vuf f;

		REQUIRE(vuf_connect(&f, d.sock, 2000) == 0);
		CHECK_EQ(vuf_start(&f, NULL), 0);
		vuf_close(&f);
	}
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

/* A front-end process killed with SIGKILL mid-session. */
static void t_frontend_killed(void)
{
	for (unsigned round = 0; round < 5; round++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			struct vuf f;

			if (vuf_connect(&f, d.sock, 2000) == 0 && vuf_start(&f, NULL) == 0) {
				for (;;)
					it_command(&f, CMD_QUERY_CAPABILITY, 0, QUEUE_INPUT,
						   VUF_LAYOUT_SPLIT, NULL);
			}
			_exit(1);
		}
		sleep_ms(20 + 15 * (int)round);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status));
	}
	CHECK(daemon_alive(&d));
	CHECK(it_fresh_session_works(d.sock));
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

static void t_clean_exit(void)
{
	it_daemon_clean_exit(&d);
}

int main(void)
{
	test_begin("reconnect");
	baseline_fds = it_daemon_up(&d);
	if (baseline_fds < 0)
		return 1;
	RUN_TEST(t_200_cycles_fd_count_flat);
	RUN_TEST(t_vanish_with_requests_in_flight);
	RUN_TEST(t_vanish_at_every_handshake_step);
	RUN_TEST(t_frontend_killed);
	RUN_TEST(t_clean_exit);
	return test_summary();
}
