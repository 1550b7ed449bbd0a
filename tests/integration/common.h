/* Shared pieces of the integration tests: a daemon per test binary and a
 * command round trip on the command queue. */
#ifndef IT_COMMON_H
#define IT_COMMON_H

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon_util.h"
#include "testlib.h"
#include "vuf.h"

#define CMD_QUERY_CAPABILITY 0x0100u
#define CMD_GET_PARAMS_EXT 0x010Du
#define RESP_OK_QUERY_CAPABILITY 0x0201u
#define RESP_ERR_INVALID_STREAM_ID 0x0302u
#define QUEUE_INPUT 0x100u

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Sends {type, stream_id, queue_type, 0} on the command queue and waits for
 * the response; returns the response type (0 on failure), *used the bytes
 * the device wrote. */
static inline uint32_t it_command(struct vuf *f, uint32_t type, uint32_t stream_id,
				  uint32_t queue_type, enum vuf_layout layout, uint32_t *used)
{
	uint8_t cmd[16] = { 0 };
	struct vuf_req req;
	uint32_t resp = 0;

	memset(&req, 0, sizeof(req));
	wr32(cmd, type);
	wr32(cmd + 4, stream_id);
	wr32(cmd + 8, queue_type);
	/* Split layouts cut the response area into 7-byte descriptors: keep it
	 * small enough for a 256-entry ring. */
	if (vuf_vq_add(&f->vq[0], &req, cmd, sizeof(cmd),
		       layout == VUF_LAYOUT_SINGLE ? 4096 : 512, layout) < 0)
		return 0;
	if (vuf_vq_kick(&f->vq[0]) < 0)
		return 0;
	if (vuf_vq_wait(&f->vq[0], &req, 5000) < 0)
		return 0;
	if (used)
		*used = req.used_len;
	if (req.used_len >= 8 && req.resp && rd32(req.resp + 4) == stream_id)
		resp = rd32(req.resp);
	vuf_req_fini(&req);
	return resp;
}

/* A full session on a fresh connection: handshake plus one command that the
 * device must answer (unknown stream -> ERR_INVALID_STREAM_ID). */
static inline bool it_fresh_session_works(const char *sock)
{
	struct vuf f;
	uint32_t used = 0;
	bool ok;

	if (vuf_connect(&f, sock, 3000) < 0) {
		vuf_close(&f);
		return false;
	}
	ok = vuf_start(&f, NULL) == 0 &&
	     it_command(&f, CMD_GET_PARAMS_EXT, 4242, QUEUE_INPUT, VUF_LAYOUT_SINGLE, &used) ==
		     RESP_ERR_INVALID_STREAM_ID &&
	     used == 8;
	vuf_close(&f);
	return ok;
}

/* Starts the daemon for a test binary, checks it serves a plain session and
 * returns its idle fd count (the baseline every case must come back to), or
 * -1 after saying what went wrong. */
static inline int it_daemon_up(struct daemon_proc *d)
{
	signal(SIGPIPE, SIG_IGN);
	if (daemon_start(d, NULL) < 0) {
		fprintf(stderr, "cannot start %s\n", daemon_binary());
		return -1;
	}
	if (!it_fresh_session_works(d->sock)) {
		fprintf(stderr, "the daemon does not serve a plain session\n");
		return -1;
	}
	sleep_ms(100); /* let it finish tearing that session down */
	return daemon_fd_count(d);
}

/* The last test of every binary: SIGTERM, exit status 0, socket removed. */
static inline void it_daemon_clean_exit(struct daemon_proc *d)
{
	CHECK_EQ(daemon_stop(d), 0);
	CHECK(access(d->sock, F_OK) != 0);
	daemon_cleanup(d);
}

#endif
