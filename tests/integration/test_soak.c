/* Soak tests against the real daemon binary (null backend), through the front-end
 * library and the virtio-video driver model (vuf_video):
 *  - 1000 connect / handshake / stream / disconnect cycles, some ending with a clean
 *    STREAM_DESTROY, some dropping the connection with buffers still queued;
 *  - continuous decoding on 4 streams of one connection, every queued buffer answered
 *    exactly once (tracked per resource);
 *  - front-end processes SIGKILLed at random points (seeded; VUV_SOAK_SEED=N replays).
 * Each prints one figure line ("soak: ...") with the daemon's open fds (/proc/PID/fd)
 * and resident memory (VmRSS) at the start and the end. The fd counts must match
 * exactly; RSS growth must stay under a bound, except in sanitizer builds or with the
 * daemon under valgrind, where quarantined memory makes RSS meaningless (the figures are
 * still printed). */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "vuf_video.h"

#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED false
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED true
#endif

/* Measured without sanitizers: the daemon's RSS was the same page count before and after
 * every run (1.6-1.8 MiB). 64 bytes lost per cycle (a pending record, a stream, a
 * resource's entries all take more) grow the heap past 64 KiB over 1000 cycles; a guest
 * mapping left behind costs far more. */
#define RSS_GROWTH_MAX_KIB 64

#define CYCLES 1000
#define WARMUP_CYCLES 10
#define DECODE_STREAMS 4
#define DECODE_PICTURES 5000 /* per stream */
#define CRASH_ROUNDS 50

#define NBUF 4     /* input and output resources per stream */
#define WIDTH 64u
#define HEIGHT 48u
#define IN_SIZE 4096u
#define DATA_SIZE 100u
#define WAIT_MS 5000

static struct daemon_proc d;
static int baseline_fds;

static long daemon_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when the daemon's process is the daemon binary itself, not a program running it
 * (scripts/valgrind.sh points VUV_DAEMON at a wrapper that execs valgrind). */
static bool daemon_runs_natively(void)
{
	char path[64], exe[512];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)d.pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	return strncmp(base, "vhost-user-video", strlen("vhost-user-video")) == 0;
}

/* RSS means something only for the plain daemon: sanitizers and valgrind keep freed
 * memory in quarantine. */
static void check_rss(long before, long after)
{
	CHECK(before > 0 && after > 0);
	if (!RSS_CHECKED)
		printf("    (sanitizer build: RSS bound not checked)\n");
	else if (!daemon_runs_natively())
		printf("    (the daemon runs under another program: RSS bound not checked)\n");
	else
		CHECK(after - before < RSS_GROWTH_MAX_KIB);
}

/* ---- one decoding stream ---------------------------------------------------------------- */

struct sstream {
	uint32_t sid;
	struct vuf_video_resource in[NBUF], out[NBUF];
	struct vuf_video_req qin[NBUF], qout[NBUF];
	bool in_busy[NBUF], out_busy[NBUF]; /* queued, answer not seen yet */
	uint32_t pic_size;
	uint64_t inputs_sent, outputs_sent, inputs_done, pictures, cancelled;
	uint64_t next_ts;      /* timestamp the next picture must carry */
	unsigned duplicates;   /* answers for buffers that were not queued */
	unsigned bad;          /* wrong status, size or timestamp */
};

static void sstream_free(struct vuf_video *v, struct sstream *s)
{
	for (unsigned i = 0; i < NBUF; i++) {
		vuf_video_resource_free(v, &s->in[i]);
		vuf_video_resource_free(v, &s->out[i]);
	}
}

/* STREAM_CREATE, a WIDTHxHEIGHT NV12 format, NBUF resources per queue. 0, or the failing
 * command's result. */
static int sstream_setup(struct vuf_video *v, struct sstream *s, uint32_t sid)
{
	struct vv_stream_params p;
	uint32_t sizes[VV_MAX_PLANES], in_size = IN_SIZE;
	int ret;

	memset(s, 0, sizeof(*s));
	s->sid = sid;
	s->next_ts = 1;
	ret = vuf_video_stream_create(v, sid, VV_FORMAT_FWHT, "soak");
	if (!ret)
		ret = vuf_video_get_params(v, sid, VV_QUEUE_TYPE_INPUT, &p);
	if (ret)
		return ret;
	p.frame_width = WIDTH;
	p.frame_height = HEIGHT;
	p.plane_formats[0].plane_size = IN_SIZE;
	ret = vuf_video_set_params(v, sid, &p);
	if (!ret)
		ret = vuf_video_get_params(v, sid, VV_QUEUE_TYPE_OUTPUT, &p);
	if (ret)
		return ret;
	if (p.num_planes != 2 || p.frame_width != WIDTH || p.frame_height != HEIGHT)
		return -EPROTO;
	s->pic_size = 0;
	for (unsigned i = 0; i < p.num_planes; i++) {
		sizes[i] = p.plane_formats[i].plane_size;
		s->pic_size += sizes[i];
	}
	for (unsigned i = 0; i < NBUF && !ret; i++) {
		ret = vuf_video_resource_alloc(v, &s->in[i], VV_QUEUE_TYPE_INPUT, 1 + i,
					       VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, &in_size, false);
		if (!ret)
			ret = vuf_video_resource_create(v, sid, &s->in[i]);
		if (!ret)
			ret = vuf_video_resource_alloc(v, &s->out[i], VV_QUEUE_TYPE_OUTPUT, 100 + i,
						       VV_PLANES_LAYOUT_PER_PLANE, p.num_planes,
						       sizes, i % 2);
		if (!ret)
			ret = vuf_video_resource_create(v, sid, &s->out[i]);
	}
	return ret;
}

static int queue_input(struct vuf_video *v, struct sstream *s, unsigned i)
{
	uint32_t size = DATA_SIZE;
	int ret;

	if (s->in_busy[i])
		return -EBUSY;
	/* Timestamps count from 1, so that 0 (cancelled outputs) never matches. */
	ret = vuf_video_resource_queue(v, s->sid, &s->in[i], s->inputs_sent + 1, &size, 1,
				       &s->qin[i]);
	if (!ret) {
		s->in_busy[i] = true;
		s->inputs_sent++;
	}
	return ret;
}

static int queue_output(struct vuf_video *v, struct sstream *s, unsigned i)
{
	int ret;

	if (s->out_busy[i])
		return -EBUSY;
	ret = vuf_video_resource_queue(v, s->sid, &s->out[i], 0, NULL, 0, &s->qout[i]);
	if (!ret) {
		s->out_busy[i] = true;
		s->outputs_sent++;
	}
	return ret;
}

/* Picture n (from 0 in the session) of the null backend: row r of plane p is filled
 * with (n + r + 64 p) & 0xff. Checks the first byte of two rows of each plane. */
static bool picture_ok(struct vuf_video *v, const struct sstream *s, unsigned i, uint64_t n)
{
	for (unsigned p = 0; p < 2; p++) {
		uint32_t rows = p ? HEIGHT / 2 : HEIGHT;

		for (uint32_t r = 0; r < rows; r += rows - 1) {
			uint8_t b = 0;

			if (vuf_video_resource_read(v, &s->out[i], p, (uint64_t)r * WIDTH, &b, 1) < 0 ||
			    b != (uint8_t)(n + r + 64 * p))
				return false;
		}
	}
	return true;
}

/* Books one finished request of s; false when it is not one of s's. Outputs that carry a
 * picture are checked against the order of the inputs (the null backend keeps it). */
static bool sstream_take(struct vuf_video *v, struct sstream *s, struct vuf_video_req *r,
			 bool check_pattern)
{
	if (r >= s->qin && r < s->qin + NBUF) {
		unsigned i = (unsigned)(r - s->qin);

		if (!s->in_busy[i])
			s->duplicates++;
		s->in_busy[i] = false;
		if (r->status != 0)
			s->bad++;
		s->inputs_done++;
		return true;
	}
	if (r >= s->qout && r < s->qout + NBUF) {
		unsigned i = (unsigned)(r - s->qout);

		if (!s->out_busy[i])
			s->duplicates++;
		s->out_busy[i] = false;
		if (r->status != 0) {
			s->bad++;
		} else if (r->flags & VV_BUFFER_FLAG_ERR) {
			s->cancelled++; /* returned by QUEUE_CLEAR / STREAM_DESTROY */
		} else if (r->size != s->pic_size || r->timestamp != s->next_ts ||
			   (check_pattern && !picture_ok(v, s, i, s->pictures))) {
			s->bad++;
		} else {
			s->pictures++;
			s->next_ts++;
		}
		return true;
	}
	return false;
}

static unsigned outputs_busy(const struct sstream *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NBUF; i++)
		n += s->out_busy[i];
	return n;
}

static unsigned busy_count(const struct sstream *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NBUF; i++)
		n += s->in_busy[i] + s->out_busy[i];
	return n;
}

/* Waits for one round of completions and books them; -errno on a transport failure or
 * an answer nobody asked for. *events_bad counts events other than a resolution change. */
static int collect(struct vuf_video *v, struct sstream *ss, unsigned n, bool check_pattern,
		   unsigned *events_bad)
{
	struct vuf_video_event ev;
	struct vuf_video_req *r;
	int ret = vuf_video_wait(v, WAIT_MS);

	if (ret)
		return ret;
	while (vuf_video_next_event(v, &ev))
		if (ev.type != VV_EVENT_DECODER_RESOLUTION_CHANGED && events_bad)
			(*events_bad)++;
	while ((r = vuf_video_next_done(v))) {
		bool mine = false;

		for (unsigned k = 0; k < n && !mine; k++)
			mine = sstream_take(v, &ss[k], r, check_pattern);
		if (!mine)
			return -EPROTO;
	}
	return 0;
}

/* A session on a fresh connection that decodes two pictures, checked byte by byte. */
static bool fresh_session_decodes(void)
{
	struct vuf f;
	struct vuf_video v;
	struct sstream s;
	bool ok = false;
	int ret;

	memset(&v, 0, sizeof(v));
	memset(&s, 0, sizeof(s));
	if (vuf_connect(&f, d.sock, 3000) < 0 || vuf_start(&f, NULL) < 0 ||
	    vuf_video_init(&v, &f) < 0 || sstream_setup(&v, &s, 1) != 0)
		goto out;
	for (unsigned i = 0; i < 2; i++)
		if (queue_output(&v, &s, i) || queue_input(&v, &s, i))
			goto out;
	while (s.pictures < 2 || busy_count(&s) > 0) {
		ret = collect(&v, &s, 1, true, NULL);
		if (ret || s.bad || s.duplicates)
			goto out;
	}
	ok = s.inputs_done == 2 && vuf_video_stream_destroy(&v, 1) == 0;
out:
	sstream_free(&v, &s);
	vuf_close(&f);
	vuf_video_fini(&v);
	return ok;
}

/* ---- 1. connection cycles ----------------------------------------------------------------- */

/* One cycle; how it ends depends on i: 0 STREAM_DESTROY after everything was answered,
 * 1 close with outputs queued (no input to fill them), 2 close with inputs and outputs
 * just queued, 3 QUEUE_CLEAR of both queues, then close with the stream alive. */
static bool one_cycle(unsigned i)
{
	struct vuf f;
	struct vuf_video v;
	struct vuf_opts o;
	struct sstream s;
	bool ok = false;

	memset(&v, 0, sizeof(v));
	memset(&s, 0, sizeof(s));
	vuf_opts_default(&o);
	o.ram_size = 4 << 20;
	o.nregions = 1u << (i % 3);
	o.use_add_mem_reg = (i / 3) % 2;
	if (vuf_connect(&f, d.sock, 3000) < 0 || vuf_start(&f, &o) < 0 ||
	    vuf_video_init(&v, &f) < 0 || sstream_setup(&v, &s, 1 + i % 7) != 0)
		goto out;
	v.layout = (enum vuf_layout)(i % 3);
	for (unsigned k = 0; k < 2; k++)
		if (queue_output(&v, &s, k) || queue_input(&v, &s, k))
			goto out;
	while (s.pictures < 2 || busy_count(&s) > 0)
		if (collect(&v, &s, 1, false, NULL) || s.bad || s.duplicates)
			goto out;
	switch (i % 4) {
	case 0:
		ok = vuf_video_stream_destroy(&v, s.sid) == 0;
		break;
	case 1:
		ok = queue_output(&v, &s, 2) == 0 && queue_output(&v, &s, 3) == 0;
		break;
	case 2:
		ok = queue_input(&v, &s, 2) == 0 && queue_output(&v, &s, 2) == 0 &&
		     queue_input(&v, &s, 3) == 0;
		break;
	default:
		ok = queue_output(&v, &s, 3) == 0 &&
		     vuf_video_queue_clear(&v, s.sid, VV_QUEUE_TYPE_OUTPUT) == 0 &&
		     vuf_video_queue_clear(&v, s.sid, VV_QUEUE_TYPE_INPUT) == 0;
		break;
	}
out:
	sstream_free(&v, &s);
	vuf_close(&f);
	vuf_video_fini(&v);
	return ok;
}

static void t_connection_cycles(void)
{
	unsigned ok = 0;
	int fds0, fds1;
	long rss0, rss1;
	double t0;

	for (unsigned i = 0; i < WARMUP_CYCLES; i++)
		CHECK(one_cycle(i));
	fds0 = daemon_wait_fd_count(&d, baseline_fds, 2000);
	CHECK_EQ(fds0, baseline_fds);
	rss0 = daemon_rss_kib();
	t0 = now_s();
	for (unsigned i = 0; i < CYCLES; i++)
		ok += one_cycle(i);
	CHECK_EQ(ok, CYCLES);
	fds1 = daemon_wait_fd_count(&d, fds0, 2000);
	sleep_ms(50); /* the last teardown is done (fds), let it free the rest */
	rss1 = daemon_rss_kib();
	printf("soak: %u cycles in %.1f s, fds %d -> %d, RSS %ld KiB -> %ld KiB\n", CYCLES,
	       now_s() - t0, fds0, fds1, rss0, rss1);
	CHECK_EQ(fds1, fds0);
	check_rss(rss0, rss1);
	CHECK(daemon_alive(&d));
}

/* ---- 2. continuous decoding on 4 streams -------------------------------------------------- */

static void t_continuous_decode(void)
{
	struct sstream *ss = calloc(DECODE_STREAMS, sizeof(*ss));
	struct vuf f;
	struct vuf_video v;
	struct vuf_opts o;
	uint64_t queued = 0, answered = 0, pictures = 0;
	unsigned events_bad = 0, duplicates = 0, bad = 0, missing = 0;
	int fds_mid = -1, fds_end, ret = 0;
	long rss_mid = -1, rss_end;
	bool done = false;
	double t0 = now_s();

	memset(&v, 0, sizeof(v));
	REQUIRE(ss != NULL);
	vuf_opts_default(&o);
	o.ram_size = 16 << 20;
	REQUIRE(vuf_connect(&f, d.sock, 3000) == 0);
	REQUIRE(vuf_start(&f, &o) == 0);
	REQUIRE(vuf_video_init(&v, &f) == 0);
	for (unsigned k = 0; k < DECODE_STREAMS; k++) {
		REQUIRE(sstream_setup(&v, &ss[k], 10 + k) == 0);
		for (unsigned i = 0; i < NBUF; i++) {
			REQUIRE(queue_output(&v, &ss[k], i) == 0);
			REQUIRE(queue_input(&v, &ss[k], i) == 0);
		}
	}
	while (!done && !ret) {
		ret = collect(&v, ss, DECODE_STREAMS, false, &events_bad);
		done = true;
		for (unsigned k = 0; k < DECODE_STREAMS && !ret; k++) {
			struct sstream *s = &ss[k];

			/* Every buffer goes straight back, as a driver keeps its queues full, but
			 * no output is queued that no input would fill. */
			for (unsigned i = 0; i < NBUF && !ret; i++) {
				if (!s->out_busy[i] && s->pictures + outputs_busy(s) < DECODE_PICTURES)
					ret = queue_output(&v, s, i);
				if (!ret && !s->in_busy[i] && s->inputs_sent < DECODE_PICTURES)
					ret = queue_input(&v, s, i);
			}
			done &= s->pictures == DECODE_PICTURES && busy_count(s) == 0;
			if (s->bad || s->duplicates)
				ret = -EPROTO;
		}
		/* The connection's steady state, 10% in. */
		if (rss_mid < 0 && ss[0].pictures >= DECODE_PICTURES / 10) {
			fds_mid = daemon_fd_count(&d);
			rss_mid = daemon_rss_kib();
		}
	}
	CHECK_EQ(ret, 0);
	fds_end = daemon_fd_count(&d);
	rss_end = daemon_rss_kib();
	for (unsigned k = 0; k < DECODE_STREAMS; k++) {
		struct sstream *s = &ss[k];

		CHECK_EQ(vuf_video_stream_destroy(&v, s->sid), 0);
		queued += s->inputs_sent + s->outputs_sent;
		answered += s->inputs_done + s->pictures + s->cancelled;
		pictures += s->pictures;
		duplicates += s->duplicates;
		bad += s->bad;
		missing += busy_count(s);
		CHECK_EQ(s->pictures, DECODE_PICTURES);
		CHECK_EQ(s->inputs_done, DECODE_PICTURES);
	}
	CHECK_EQ(answered, queued);
	CHECK_EQ(duplicates, 0);
	CHECK_EQ(missing, 0);
	CHECK_EQ(bad, 0);
	CHECK_EQ(events_bad, 0);
	CHECK(vuf_video_next_done(&v) == NULL);
	CHECK_EQ(v.bad_events, 0);
	CHECK_EQ(f.vq[VV_QUEUE_COMMAND].bad_used, 0);
	for (unsigned k = 0; k < DECODE_STREAMS; k++)
		sstream_free(&v, &ss[k]);
	vuf_close(&f);
	vuf_video_fini(&v);
	free(ss);
	printf("soak: %u streams x %u pictures (%llu buffers, each answered once) in %.1f s, "
	       "fds %d -> %d, RSS %ld KiB -> %ld KiB\n", DECODE_STREAMS, DECODE_PICTURES,
	       (unsigned long long)queued, now_s() - t0, fds_mid, fds_end, rss_mid, rss_end);
	CHECK_EQ(pictures, (uint64_t)DECODE_STREAMS * DECODE_PICTURES);
	CHECK_EQ(fds_end, fds_mid);
	check_rss(rss_mid, rss_end);
	CHECK_EQ(daemon_wait_fd_count(&d, baseline_fds, 2000), baseline_fds);
}

/* ---- 3. front-ends killed at random points ------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* The child: a decoding session that ends with SIGKILL at step die_at (each connect,
 * handshake, stream set-up and queued buffer is a step), or runs until the parent kills
 * it when die_at is 0. */
static void crash_child(unsigned die_at, unsigned nstreams)
{
	struct sstream ss[2];
	struct vuf f;
	struct vuf_video v;
	unsigned step = 0;

#define STEP()                                   \
	do {                                     \
		if (++step == die_at)            \
			raise(SIGKILL);          \
	} while (0)

	memset(&v, 0, sizeof(v));
	if (vuf_connect(&f, d.sock, 3000) < 0)
		_exit(2);
	STEP();
	if (vuf_start(&f, NULL) < 0 || vuf_video_init(&v, &f) < 0)
		_exit(2);
	STEP();
	for (unsigned k = 0; k < nstreams; k++) {
		if (sstream_setup(&v, &ss[k], 1 + k) != 0)
			_exit(2);
		STEP();
	}
	for (;;) {
		for (unsigned k = 0; k < nstreams; k++) {
			for (unsigned i = 0; i < NBUF; i++) {
				if (!ss[k].out_busy[i]) {
					if (queue_output(&v, &ss[k], i))
						_exit(2);
					STEP();
				}
				if (!ss[k].in_busy[i]) {
					if (queue_input(&v, &ss[k], i))
						_exit(2);
					STEP();
				}
			}
		}
		if (collect(&v, ss, nstreams, false, NULL))
			_exit(2);
	}
#undef STEP
}

static void t_frontend_killed_at_random(void)
{
	const char *env = getenv("VUV_SOAK_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	unsigned by_step = 0, by_timer = 0, served = 0;
	int fds;
	long rss0, rss1;
	double t0 = now_s();

	rng_state = seed ? seed : 1;
	printf("    seed %llu (VUV_SOAK_SEED=%llu replays it)\n", (unsigned long long)seed,
	       (unsigned long long)seed);
	rss0 = daemon_rss_kib();
	for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
		unsigned nstreams = 1 + rng() % 2;
		/* Half the rounds die at a chosen step (up to ~5 rounds of buffers), the others
		 * when a timer of up to 40 ms runs out, wherever the child is then. */
		unsigned die_at = round % 2 ? 1 + rng() % (2 + nstreams * (1 + 10 * NBUF)) : 0;
		int delay = (int)(rng() % 40);
		pid_t pid;
		int status = 0;

		fflush(stdout);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			crash_child(die_at, nstreams);
			_exit(3);
		}
		if (!die_at) {
			sleep_ms(delay);
			kill(pid, SIGKILL);
		}
		REQUIRE(waitpid(pid, &status, 0) == pid);
		/* Killed, not failed: a child that gave up would not test anything. */
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fprintf(stderr, "round %u (step %u, delay %d ms): child status 0x%x\n", round,
				die_at, delay, status);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		by_step += die_at != 0;
		by_timer += die_at == 0;
		REQUIRE(daemon_alive(&d));
		if (fresh_session_decodes())
			served++;
		else
			fprintf(stderr, "round %u (step %u, delay %d ms): the next session failed\n",
				round, die_at, delay);
	}
	CHECK_EQ(served, CRASH_ROUNDS);
	fds = daemon_wait_fd_count(&d, baseline_fds, 2000);
	rss1 = daemon_rss_kib();
	printf("soak: %u front-ends killed (%u at a step, %u by timer) in %.1f s, each followed "
	       "by a good session, fds %d -> %d, RSS %ld KiB -> %ld KiB\n", CRASH_ROUNDS, by_step,
	       by_timer, now_s() - t0, baseline_fds, fds, rss0, rss1);
	CHECK_EQ(fds, baseline_fds);
}

static void t_clean_exit(void)
{
	it_daemon_clean_exit(&d);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_begin("soak");
	baseline_fds = it_daemon_up(&d);
	if (baseline_fds < 0)
		return 1;
	RUN_TEST(t_connection_cycles);
	RUN_TEST(t_continuous_decode);
	RUN_TEST(t_frontend_killed_at_random);
	RUN_TEST(t_clean_exit);
	return test_summary();
}
