/* The vhost-user message handler fed whole message sequences, with the real
 * virtio-video device and the null backend behind it. Each record of the input
 * (fuzz_formats.h) becomes one vu_msg whose fds are fresh memfds (of a size the
 * input picks, often too short on purpose), eventfds or dups of a memfd. A
 * protocol error drops the connection as the daemon does, and the sequence goes
 * on with a new one.
 *
 * Oracles besides the sanitizers: a reply is well-formed; after the sequence,
 * vu_server_free leaves no handler on the loop, the process has exactly the fds
 * it had before the input (none kept, none closed that was not the server's),
 * and no mapping of our memfds remains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "event_loop.h"
#include "fuzz_formats.h"
#include "fuzz_util.h"
#include "vu_server.h"
#include "vv_device.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}


struct harness {
	struct event_loop *loop;
	struct backend *backend;
	struct vv_device *dev;
	struct vu_server *srv;
	int peer_fd; /* our end of the (silent) connection */
	int last_memfd;
};

/* A new connection: a socketpair nobody writes to, so that detach (on a protocol
 * error, or vu_server_free) releases everything that came with it. */
static bool connect_peer(struct harness *h)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	if (vu_server_attach(h->srv, sv[0], NULL, NULL) < 0) {
		close(sv[1]);
		return false;
	}
	h->peer_fd = sv[1];
	return true;
}

static int make_fd(struct harness *h, uint8_t kind)
{
	int fd;

	if (kind <= VUMSG_FD_MEMFD_MAX) {
		fd = fuzz_memfd((size_t)kind * VUMSG_PAGE);
		if (fd >= 0) {
			if (h->last_memfd >= 0)
				close(h->last_memfd);
			h->last_memfd = dup(fd);
		}
		return fd;
	}
	if (kind >= VUMSG_FD_DUP_MEMFD && h->last_memfd >= 0)
		return dup(h->last_memfd);
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void check_reply(const struct vu_msg_hdr *req, const struct vu_reply *r)
{
	if (!r->send)
		return;
	FUZZ_CHECK(r->hdr.request == req->request);
	FUZZ_CHECK(r->hdr.flags == (VU_VERSION | VU_FLAG_REPLY));
	FUZZ_CHECK(r->hdr.size <= VU_MAX_PAYLOAD);
}

/* One record; false when the input is used up. */
static bool one_message(struct harness *h, struct fuzz_in *in)
{
	struct vu_msg msg;
	struct vu_reply reply;
	unsigned nfds;
	size_t take;
	int ret;

	if (fin_empty(in))
		return false;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = fin_u8(in);
	msg.hdr.flags = fin_u8(in);
	msg.hdr.size = fin_u16(in);
	nfds = fin_u8(in) & 0x0f;
	if (nfds > VU_MAX_FDS)
		nfds = VU_MAX_FDS;
	for (unsigned i = 0; i < nfds; i++) {
		int fd = make_fd(h, fin_u8(in));

		if (fd < 0)
			break; /* out of fds or memory: send what we have */
		msg.fds[msg.nfds++] = fd;
	}
	for (unsigned i = msg.nfds; i < VU_MAX_FDS; i++)
		msg.fds[i] = -1;
	take = msg.hdr.size < VU_MAX_PAYLOAD ? msg.hdr.size : VU_MAX_PAYLOAD;
	fin_bytes(in, msg.payload.bytes, take);

	ret = vu_server_handle_msg(h->srv, &msg, &reply);
	FUZZ_CHECK(ret == 0 || ret == -EPROTO);
	/* Every fd was taken or closed. */
	FUZZ_CHECK(msg.nfds == 0);
	if (ret < 0) {
		FUZZ_CHECK(!reply.send);
		/* The daemon drops the connection; the next front-end starts afresh. */
		vu_server_detach(h->srv);
		FUZZ_CHECK(!vu_server_connected(h->srv));
		FUZZ_CHECK(vu_server_mem(h->srv)->nregions == 0);
		close(h->peer_fd);
		h->peer_fd = -1;
		return connect_peer(h);
	}
	check_reply(&msg.hdr, &reply);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Counted before each input: libFuzzer may open fds of its own between inputs (the
	 * symbolizer's pipes). */
	unsigned fds_before = fuzz_count_fds();
	unsigned maps_before = fuzz_count_guest_maps();
	struct harness h = { .peer_fd = -1, .last_memfd = -1 };
	struct vv_device_stats st;
	struct fuzz_in in;

	fin_init(&in, data, size);
	h.loop = ev_loop_new();
	FUZZ_CHECK(h.loop != NULL);
	FUZZ_CHECK(backend_null_ops.open(&h.backend, &(struct backend_config){ 0 }, h.loop) == 0);
	h.dev = vv_device_new(h.loop, &backend_null_ops, h.backend);
	h.srv = vu_server_new(h.loop, vv_device_vu_ops(), h.dev);
	FUZZ_CHECK(h.dev != NULL && h.srv != NULL);
	vv_device_set_server(h.dev, h.srv);
	FUZZ_CHECK(connect_peer(&h));

	while (one_message(&h, &in))
		;

	/* Rings in fresh memfds read as zeros, but SET_VRING_BASE can still make empty
	 * chains "available": whatever was popped was answered or is pending. */
	vv_device_get_stats(h.dev, &st);
	FUZZ_CHECK(st.commands == st.responses + st.pending);

	vu_server_free(h.srv);
	vv_device_free(h.dev);
	backend_null_ops.close(h.backend);
	FUZZ_CHECK(ev_loop_count(h.loop) == 0);
	ev_loop_free(h.loop);
	if (h.peer_fd >= 0)
		close(h.peer_fd);
	if (h.last_memfd >= 0)
		close(h.last_memfd);

	FUZZ_CHECK(fuzz_count_fds() == fds_before);
	FUZZ_CHECK(fuzz_count_guest_maps() == maps_before);
	return 0;
}
