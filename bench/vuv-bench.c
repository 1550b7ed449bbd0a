/* vuv-bench: the daemon's figures, each against a reference measured in the same run, so
 * that a ratio means something on a noisy machine. It drives the real daemon binary with
 * the front-end library (frontend/vuf*.h), exactly as the integration tests do.
 *
 *   1  command round trip (null backend): GET_PARAMS_EXT with 1 and with 64 requests in
 *      flight, against an eventfd ping-pong between two processes
 *   2  decode throughput (null backend, 1920x1080 NV12 pictures), against filling as many
 *      pictures with the same pattern in this process; bytes of frame data copied (the
 *      daemon's "device stats" line at -v)
 *   3  instructions per command in the daemon, counted by callgrind as the difference
 *      between a base run and a run with N more commands of one kind (least of 2 runs)
 *   4  footprint: RSS idle / 1 stream / 16 streams against `sleep`; start-up time to a
 *      listening socket against `true`
 *   5  decode fps through the daemon / direct path (n/a while no host can run one)
 *
 * Timed figures interleave the reference and the daemon in repetitions and report medians;
 * the ratio is the median of the per-repetition ratios. docs/performance.md has the method.
 *
 * Benchmarks never fail a build: the program prints what it measured and exits 0 unless
 * its own options are wrong (2). A figure that cannot be measured says why. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vuf.h"
#include "vuf_video.h"
#include "vv_wire.h"

#ifndef VUV_BENCH_DAEMON
#define VUV_BENCH_DAEMON "vhost-user-video"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define STREAM_ID 1u
#define MAX_REPS 15
#define RT_MAX_DEPTH 64
#define PIC_W 1920u
#define PIC_H 1080u
#define DEC_IN_BUFS 4u
#define DEC_OUT_BUFS 6u
#define DEC_IN_SIZE 4096u  /* the null backend never reads the bitstream */
#define DEC_IN_DATA 1024u
#define FOOT_STREAMS 16u
#define CG_BASE_ITEMS 20u

/* ---- options and results -------------------------------------------------------------- */

struct opts {
	const char *daemon;
	const char *json;
	const char *valgrind;
	unsigned reps;
	double slice_s;       /* length of one timed slice */
	unsigned cg_items;    /* extra items per callgrind run */
	unsigned cg_reps;     /* callgrind runs per count (the least is kept) */
	bool quick;
	const char *only;     /* figure numbers to run ("1,3"), NULL = all */
	const char *cg_keep;  /* directory to keep callgrind's output files in */
};

struct figure {
	char id[8];
	char name[64];
	bool na;
	char na_why[128];
	double value;
	char unit[24];
	double ref;           /* < 0: no reference (absolute figure) */
	char ref_name[48];
	double ratio;         /* value / ref, or as defined per figure */
	char extra[200];      /* second numbers (e.g. us per request) */
};

#define MAX_FIGURES 32
static struct figure figures[MAX_FIGURES];
static unsigned nfigures;

static struct figure *fig_add(const char *id, const char *name)
{
	struct figure *f;

	if (nfigures == MAX_FIGURES)
		nfigures--; /* never happens with the fixed list below; stay in bounds */
	f = &figures[nfigures++];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->ref = -1;
	return f;
}

static void fig_na(struct figure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fig_na(struct figure *f, const char *fmt, ...)
{
	va_list ap;

	f->na = true;
	va_start(ap, fmt);
	vsnprintf(f->na_why, sizeof(f->na_why), fmt, ap);
	va_end(ap);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress on stderr, so stdout holds the table only. */
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vuv-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- small helpers -------------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double secs_since(int64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double s[MAX_REPS];

	if (n == 0)
		return 0;
	if (n > MAX_REPS)
		n = MAX_REPS;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* "12.3 k" style, for the table. */
static void fmt_num(char *buf, size_t cap, double v)
{
	if (v >= 1e9)
		snprintf(buf, cap, "%.2f G", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, cap, "%.2f M", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, cap, "%.1f k", v / 1e3);
	else if (v >= 100)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.2f", v);
}

/* ---- the daemon as a child process ------------------------------------------------------ */

struct proc {
	pid_t pid;
	char dir[64];
	char sock[96];
	char log[128];
	char cg_out[128];
};

/* Runs argv with stdout/stderr into log (or /dev/null). -1 or 0. */
static pid_t spawn(const char *const *argv, const char *log)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
}

static bool proc_alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/* SIGTERM, then SIGKILL after timeout_ms. Returns the exit status or -1. */
static int proc_stop(pid_t pid, int timeout_ms)
{
	int status;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (int t = 0; t < timeout_ms; t += 2) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_us(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* True once a connect() to path succeeds (the socket is listening). */
static bool try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Polls until the socket accepts a connection; 0, or -1 when the daemon died or timed out. */
static int wait_listening(const struct proc *p, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;

	while (now_ns() < deadline) {
		if (try_connect(p->sock))
			return 0;
		if (!proc_alive(p->pid))
			return -1;
		sleep_us(50);
	}
	return -1;
}

/* Starts the daemon (null backend) in a fresh temp dir; under callgrind when cg. */
static int daemon_start(const struct opts *o, struct proc *p, bool verbose, bool cg)
{
	const char *argv[16];
	char cg_arg[160];
	unsigned n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/vuv-bench-XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(p->sock, sizeof(p->sock), "%s/video.sock", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/daemon.log", p->dir);
	snprintf(p->cg_out, sizeof(p->cg_out), "%s/callgrind.out", p->dir);
	if (cg) {
		snprintf(cg_arg, sizeof(cg_arg), "--callgrind-out-file=%s", p->cg_out);
		argv[n++] = o->valgrind;
		argv[n++] = "--tool=callgrind";
		argv[n++] = cg_arg;
	}
	argv[n++] = o->daemon;
	argv[n++] = "--socket-path";
	argv[n++] = p->sock;
	argv[n++] = "--backend";
	argv[n++] = "null";
	/* valgrind's own system calls are not on the sandbox's allow-list. */
	if (cg)
		argv[n++] = "--sandbox=off";
	if (verbose)
		argv[n++] = "-v";
	argv[n] = NULL;
	p->pid = spawn(argv, p->log);
	if (p->pid < 0)
		return -1;
	if (wait_listening(p, cg ? 60000 : 5000) < 0) {
		say("the daemon did not come up (log: %s)", p->log);
		return -1;
	}
	return 0;
}

static void daemon_cleanup(struct proc *p)
{
	if (p->pid > 0)
		proc_stop(p->pid, 20000);
	p->pid = 0;
	unlink(p->log);
	unlink(p->sock);
	unlink(p->cg_out);
	rmdir(p->dir);
}

/* The number in a /proc/PID/status field (kB for sizes), -1 when missing. */
static long status_value(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Nanoseconds the process has run on a CPU (/proc/PID/schedstat), -1 when unknown. */
static int64_t cpu_ns(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

/* Notification counters: interrupts (call eventfd signals) and kicks on the command
 * queue as the front-end counts them, and the daemon's voluntary context switches (each
 * one a sleep in epoll_wait, so a wake-up). */
struct notif {
	uint64_t calls, kicks;
	long wakes;
};

static void notif_get(struct notif *n, const struct vuf *f, pid_t pid)
{
	n->calls = f->vq[VV_QUEUE_COMMAND].calls;
	n->kicks = f->vq[VV_QUEUE_COMMAND].kicks;
	n->wakes = status_value(pid, "voluntary_ctxt_switches");
}

static void notif_since(const struct notif *n0, const struct vuf *f, pid_t pid, uint64_t items,
			double *irq, double *kicks, double *wakes)
{
	struct notif n;

	notif_get(&n, f, pid);
	*irq = (double)(n.calls - n0->calls) / (double)items;
	*kicks = (double)(n.kicks - n0->kicks) / (double)items;
	*wakes = (double)(n.wakes - n0->wakes) / (double)items;
}

/* ---- a connected front-end with the guest-driver model ----------------------------------- */

struct client {
	struct vuf f;
	struct vuf_video v;
	bool video_up;
};

static int client_open(struct client *c, const char *sock, uint64_t ram, int timeout_ms)
{
	struct vuf_opts vo;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = vuf_connect(&c->f, sock, timeout_ms);
	if (ret)
		return ret;
	c->f.timeout_ms = timeout_ms;
	vuf_opts_default(&vo);
	vo.ram_size = ram;
	ret = vuf_start(&c->f, &vo);
	if (ret)
		return ret;
	ret = vuf_video_init(&c->v, &c->f);
	if (ret)
		return ret;
	c->v.timeout_ms = timeout_ms;
	c->video_up = true;
	return 0;
}

static void client_close(struct client *c)
{
	vuf_close(&c->f);
	if (c->video_up)
		vuf_video_fini(&c->v);
	c->video_up = false;
}

/* STREAM_CREATE (H.264) and both queues at width x height (NV12 pictures). */
static int stream_setup(struct vuf_video *v, uint32_t id, uint32_t w, uint32_t h,
			uint32_t in_size)
{
	struct vv_stream_params p;
	int ret;

	ret = vuf_video_stream_create(v, id, VV_FORMAT_H264, "vuv-bench");
	if (ret)
		return ret;
	ret = vuf_video_get_params(v, id, VV_QUEUE_TYPE_INPUT, &p);
	if (ret)
		return ret;
	p.frame_width = w;
	p.frame_height = h;
	p.num_planes = 1;
	p.plane_formats[0].plane_size = in_size;
	ret = vuf_video_set_params(v, id, &p);
	if (ret)
		return ret;
	ret = vuf_video_get_params(v, id, VV_QUEUE_TYPE_OUTPUT, &p);
	if (ret)
		return ret;
	p.format = VV_FORMAT_NV12;
	p.frame_width = w;
	p.frame_height = h;
	return vuf_video_set_params(v, id, &p);
}

/* Output resource sized from the device's OUTPUT params (planes in one buffer). */
static int output_resource(struct vuf_video *v, uint32_t stream_id, uint32_t res_id,
			   struct vuf_video_resource *r, uint64_t *picture_bytes)
{
	struct vv_stream_params p;
	uint32_t sizes[VV_MAX_PLANES];
	uint64_t total = 0;
	int ret = vuf_video_get_params(v, stream_id, VV_QUEUE_TYPE_OUTPUT, &p);

	if (ret)
		return ret;
	if (p.num_planes == 0 || p.num_planes > VV_MAX_PLANES)
		return -EPROTO;
	for (unsigned i = 0; i < p.num_planes; i++) {
		sizes[i] = p.plane_formats[i].plane_size;
		total += sizes[i];
	}
	if (picture_bytes)
		*picture_bytes = total;
	ret = vuf_video_resource_alloc(v, r, VV_QUEUE_TYPE_OUTPUT, res_id,
				       VV_PLANES_LAYOUT_SINGLE_BUFFER, p.num_planes, sizes, false);
	if (ret)
		return ret;
	return vuf_video_resource_create(v, stream_id, r);
}

static int input_resource(struct vuf_video *v, uint32_t stream_id, uint32_t res_id,
			  struct vuf_video_resource *r)
{
	uint32_t size = DEC_IN_SIZE;
	int ret = vuf_video_resource_alloc(v, r, VV_QUEUE_TYPE_INPUT, res_id,
					   VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, &size, false);

	if (ret)
		return ret;
	return vuf_video_resource_create(v, stream_id, r);
}

static const char *err_str(int ret)
{
	static char buf[64];

	if (ret > 0)
		return vuf_video_resp_name((uint32_t)ret);
	snprintf(buf, sizeof(buf), "%s", strerror(-ret));
	return buf;
}

/* ---- figure 1: command round trip ------------------------------------------------------- */

/* Round trips per second of a blocking eventfd ping-pong between two processes: the
 * floor of any vhost-user exchange (one kick, one call). */
static double pingpong_rate(double slice_s)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1, stop = 1000, val;
	double rate = 0;
	uint64_t n = 0;
	int64_t t0;
	pid_t pid;

	if (a < 0 || b < 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		for (;;) {
			if (read(a, &val, sizeof(val)) != sizeof(val) || val != 1)
				_exit(0);
			if (write(b, &one, sizeof(one)) != sizeof(one))
				_exit(1);
		}
	}
	t0 = now_ns();
	for (;;) {
		if (write(a, &one, sizeof(one)) != sizeof(one) ||
		    read(b, &val, sizeof(val)) != sizeof(val))
			break;
		n++;
		if ((n & 255) == 0 && secs_since(t0) >= slice_s)
			break;
	}
	rate = (double)n / secs_since(t0);
	if (write(a, &stop, sizeof(stop)) < 0)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rate;
}

/* Queues GET_PARAMS_EXT(OUTPUT) of the live stream on the command ring. The request's
 * cookie stays NULL, so the guest-driver model's completion hook leaves it alone. */
static int rt_queue(struct vuf_vq *vq, struct vuf_req *req)
{
	uint8_t cmd[sizeof(struct vv_queue_cmd)] = { 0 };

	wr32(cmd + offsetof(struct vv_cmd_hdr, type), VV_CMD_GET_PARAMS_EXT);
	wr32(cmd + offsetof(struct vv_cmd_hdr, stream_id), STREAM_ID);
	wr32(cmd + offsetof(struct vv_queue_cmd, queue_type), VV_QUEUE_TYPE_OUTPUT);
	req->cookie = NULL;
	return vuf_vq_add(vq, req, cmd, sizeof(cmd), sizeof(struct vv_resp_get_params_ext),
			  VUF_LAYOUT_SINGLE);
}

static bool rt_resp_ok(const struct vuf_req *req)
{
	return req->resp && req->used_len == sizeof(struct vv_resp_get_params_ext) &&
	       rd32(req->resp) == VV_RESP_OK_GET_PARAMS && rd32(req->resp + 4) == STREAM_ID;
}

/* Requests per second with depth requests kept in flight for about slice_s. */
static int rt_run(struct vuf *f, unsigned depth, double slice_s, double *rate)
{
	static struct vuf_req reqs[RT_MAX_DEPTH];
	struct vuf_vq *vq = &f->vq[VV_QUEUE_COMMAND];
	bool busy[RT_MAX_DEPTH] = { false };
	unsigned inflight = 0;
	uint64_t n = 0;
	bool timing = true;
	int64_t t0;
	int ret = 0;

	memset(reqs, 0, sizeof(reqs));
	t0 = now_ns();
	for (unsigned i = 0; i < depth; i++) {
		ret = rt_queue(vq, &reqs[i]);
		if (ret)
			return ret;
		busy[i] = true;
		inflight++;
	}
	if ((ret = vuf_vq_kick(vq)))
		return ret;
	while (inflight) {
		bool requeued = false;

		ret = vuf_vq_wait_any(vq, 5000);
		if (ret < 0)
			break;
		for (unsigned i = 0; i < depth; i++) {
			if (!busy[i] || !reqs[i].done)
				continue;
			busy[i] = false;
			inflight--;
			if (!rt_resp_ok(&reqs[i])) {
				vuf_req_fini(&reqs[i]);
				ret = -EPROTO;
				goto out;
			}
			vuf_req_fini(&reqs[i]);
			if (timing) {
				n++;
				if (rt_queue(vq, &reqs[i]) == 0) {
					busy[i] = true;
					inflight++;
					requeued = true;
				}
			}
		}
		if (timing && secs_since(t0) >= slice_s) {
			*rate = (double)n / secs_since(t0);
			timing = false; /* let the requests in flight come back */
		}
		if (requeued && (ret = vuf_vq_kick(vq)))
			break;
		ret = 0;
	}
out:
	for (unsigned i = 0; i < depth; i++)
		vuf_req_fini(&reqs[i]);
	return ret < 0 ? ret : 0;
}

static void figure_round_trip(const struct opts *o)
{
	struct figure *f1 = fig_add("1a", "round trip, 1 in flight (GET_PARAMS_EXT)");
	struct figure *f64 = fig_add("1b", "round trip, 64 in flight (GET_PARAMS_EXT)");
	double ref[MAX_REPS], d1[MAX_REPS], d64[MAX_REPS], r1[MAX_REPS], r64[MAX_REPS];
	double c1[MAX_REPS], c64[MAX_REPS]; /* daemon CPU per request, us */
	double irq64[MAX_REPS], kick64[MAX_REPS], wake64[MAX_REPS];
	struct client c;
	struct proc p;
	int ret;

	say("figure 1: command round trip");
	if (daemon_start(o, &p, false, false) < 0) {
		fig_na(f1, "daemon did not start");
		fig_na(f64, "daemon did not start");
		daemon_cleanup(&p);
		return;
	}
	ret = client_open(&c, p.sock, 64ull << 20, 5000);
	if (!ret)
		ret = stream_setup(&c.v, STREAM_ID, 640, 480, DEC_IN_SIZE);
	/* Warm-up: page faults, first-touch of the rings. */
	if (!ret)
		ret = rt_run(&c.f, RT_MAX_DEPTH, o->slice_s / 2, &d1[0]);
	for (unsigned r = 0; !ret && r < o->reps; r++) {
		int64_t cpu0, t0;
		struct notif n0;
		uint64_t n;

		ref[r] = pingpong_rate(o->slice_s);
		cpu0 = cpu_ns(p.pid);
		t0 = now_ns();
		ret = rt_run(&c.f, 1, o->slice_s, &d1[r]);
		c1[r] = (double)(cpu_ns(p.pid) - cpu0) / 1e3 / (d1[r] * secs_since(t0));
		notif_get(&n0, &c.f, p.pid);
		n = c.f.vq[VV_QUEUE_COMMAND].completed;
		cpu0 = cpu_ns(p.pid);
		t0 = now_ns();
		if (!ret)
			ret = rt_run(&c.f, RT_MAX_DEPTH, o->slice_s, &d64[r]);
		c64[r] = (double)(cpu_ns(p.pid) - cpu0) / 1e3 / (d64[r] * secs_since(t0));
		n = c.f.vq[VV_QUEUE_COMMAND].completed - n;
		notif_since(&n0, &c.f, p.pid, n ? n : 1, &irq64[r], &kick64[r], &wake64[r]);
		r1[r] = d1[r] / ref[r];
		r64[r] = d64[r] / ref[r];
	}
	client_close(&c);
	daemon_cleanup(&p);
	if (ret) {
		fig_na(f1, "failed: %s", err_str(ret));
		fig_na(f64, "failed: %s", err_str(ret));
		return;
	}
	f1->value = median(d1, o->reps);
	f64->value = median(d64, o->reps);
	f1->ref = f64->ref = median(ref, o->reps);
	snprintf(f1->unit, sizeof(f1->unit), "req/s");
	snprintf(f64->unit, sizeof(f64->unit), "req/s");
	snprintf(f1->ref_name, sizeof(f1->ref_name), "eventfd ping-pong, round trips/s");
	snprintf(f64->ref_name, sizeof(f64->ref_name), "eventfd ping-pong, round trips/s");
	f1->ratio = median(r1, o->reps);
	f64->ratio = median(r64, o->reps);
	snprintf(f1->extra, sizeof(f1->extra),
		 "%.2f us/req (ping-pong %.2f us); daemon CPU %.2f us/req", 1e6 / f1->value,
		 1e6 / f1->ref, median(c1, o->reps));
	snprintf(f64->extra, sizeof(f64->extra),
		 "%.2f us/req; daemon CPU %.2f us/req; per request: %.3f interrupts, %.3f kicks, "
		 "%.3f daemon wake-ups", 1e6 / f64->value, median(c64, o->reps),
		 median(irq64, o->reps), median(kick64, o->reps), median(wake64, o->reps));
}

/* ---- figure 2: decode throughput -------------------------------------------------------- */

/* What the null backend does for picture n: every row r of plane p gets (n + r + 64p). */
static void fill_picture(uint8_t *buf, uint32_t w, uint32_t h, uint32_t n)
{
	uint8_t *row = buf;

	for (uint32_t r = 0; r < h; r++, row += w)
		memset(row, (int)((n + r) & 0xff), w);
	for (uint32_t r = 0; r < h / 2; r++, row += w)
		memset(row, (int)((n + r + 64) & 0xff), w);
}

#define PIC_BYTES ((size_t)PIC_W * PIC_H * 3 / 2)

/* Pictures per second of fill_picture over DEC_OUT_BUFS buffers in turn (buf holds them
 * back to back), the same working set as the decoder's output buffers. */
static double fill_rate(uint8_t *buf, double slice_s)
{
	int64_t t0 = now_ns();
	uint32_t n = 0;

	do {
		for (unsigned k = 0; k < DEC_OUT_BUFS; k++, n++)
			fill_picture(buf + k * PIC_BYTES, PIC_W, PIC_H, n);
	} while (secs_since(t0) < slice_s);
	return (double)n / secs_since(t0);
}

struct decoder {
	struct vuf_video *v;
	struct vuf_video_resource in[DEC_IN_BUFS], out[DEC_OUT_BUFS];
	struct vuf_video_req in_req[DEC_IN_BUFS], out_req[DEC_OUT_BUFS];
	bool in_busy[DEC_IN_BUFS], out_busy[DEC_OUT_BUFS];
	uint64_t picture_bytes;
	uint64_t pictures, bad_pictures, inputs_sent;
};

/* The guest RAM goes with the connection: only the entry lists are ours to free. */
static void res_forget(struct vuf_video_resource *r)
{
	free(r->entries);
	r->entries = NULL;
}

static void dec_forget(struct decoder *d)
{
	for (unsigned i = 0; i < DEC_IN_BUFS; i++)
		res_forget(&d->in[i]);
	for (unsigned i = 0; i < DEC_OUT_BUFS; i++)
		res_forget(&d->out[i]);
}

static int dec_queue_out(struct decoder *d, unsigned i)
{
	int ret = vuf_video_resource_queue(d->v, STREAM_ID, &d->out[i], 0, NULL, 0,
					   &d->out_req[i]);

	d->out_busy[i] = ret == 0;
	return ret;
}

static int dec_queue_in(struct decoder *d, unsigned i)
{
	uint32_t size = DEC_IN_DATA;
	int ret = vuf_video_resource_queue(d->v, STREAM_ID, &d->in[i], d->inputs_sent, &size, 1,
					   &d->in_req[i]);

	d->in_busy[i] = ret == 0;
	if (!ret)
		d->inputs_sent++;
	return ret;
}

/* Decodes count pictures: feeds exactly count inputs, keeps every output buffer queued. */
static int dec_run(struct decoder *d, uint64_t count)
{
	uint64_t want = d->pictures + count, to_send = count;
	struct vuf_video_event ev;
	int ret;

	for (unsigned i = 0; i < DEC_IN_BUFS && to_send; i++) {
		if (d->in_busy[i])
			continue;
		if ((ret = dec_queue_in(d, i)))
			return ret;
		to_send--;
	}
	while (d->pictures < want) {
		struct vuf_video_req *r;

		ret = vuf_video_wait(d->v, -1);
		if (ret)
			return ret;
		while (vuf_video_next_event(d->v, &ev))
			; /* resolution changed: the buffers were sized for it already */
		while ((r = vuf_video_next_done(d->v))) {
			if (r->status)
				return r->status;
			if (r->queue_type == VV_QUEUE_TYPE_INPUT) {
				unsigned i = (unsigned)(r - d->in_req);

				d->in_busy[i] = false;
				if (to_send) {
					if ((ret = dec_queue_in(d, i)))
						return ret;
					to_send--;
				}
			} else {
				unsigned i = (unsigned)(r - d->out_req);

				d->out_busy[i] = false;
				d->pictures++;
				if (r->size != d->picture_bytes || r->flags)
					d->bad_pictures++;
				if ((ret = dec_queue_out(d, i)))
					return ret;
			}
		}
	}
	return 0;
}

/* The daemon's "device stats" line (logged at -v on reset): frame bytes copied. */
static int64_t log_frame_bytes(const char *log)
{
	char line[512];
	int64_t bytes = -1;
	FILE *f = fopen(log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *s = strstr(line, "device stats:");
		unsigned long long c, r, e, b;

		if (!s)
			continue;
		if (sscanf(s, "device stats: %llu commands, %llu responses, %llu events, %llu bytes",
			   &c, &r, &e, &b) == 4)
			bytes = (int64_t)b;
	}
	fclose(f);
	return bytes;
}

static void figure_decode(const struct opts *o)
{
	struct figure *fd = fig_add("2", "decode 1920x1080 NV12, null backend");
	double dec[MAX_REPS], ref[MAX_REPS], ratio[MAX_REPS], cpu[MAX_REPS];
	double irq[MAX_REPS], kicks[MAX_REPS], wakes[MAX_REPS];
	static struct decoder d;
	uint8_t *buf = NULL;
	struct client c;
	struct proc p;
	int64_t copied = -1;
	uint64_t batch;
	int64_t t0;
	int ret;

	say("figure 2: decode throughput");
	memset(&d, 0, sizeof(d));
	if (daemon_start(o, &p, true, false) < 0) {
		fig_na(fd, "daemon did not start");
		daemon_cleanup(&p);
		return;
	}
	buf = malloc(DEC_OUT_BUFS * PIC_BYTES);
	ret = buf ? 0 : -ENOMEM;
	if (!ret)
		ret = client_open(&c, p.sock, 128ull << 20, 5000);
	d.v = &c.v;
	if (!ret)
		ret = stream_setup(d.v, STREAM_ID, PIC_W, PIC_H, DEC_IN_SIZE);
	for (unsigned i = 0; !ret && i < DEC_OUT_BUFS; i++)
		ret = output_resource(d.v, STREAM_ID, 100 + i, &d.out[i], &d.picture_bytes);
	for (unsigned i = 0; !ret && i < DEC_IN_BUFS; i++)
		ret = input_resource(d.v, STREAM_ID, 1 + i, &d.in[i]);
	for (unsigned i = 0; !ret && i < DEC_OUT_BUFS; i++)
		ret = dec_queue_out(&d, i);
	/* Warm-up (the daemon's first touch of each guest page) and a batch size that
	 * takes about one slice. */
	t0 = now_ns();
	if (!ret)
		ret = dec_run(&d, 3 * DEC_OUT_BUFS);
	if (!ret)
		fill_rate(buf, o->slice_s / 4);
	batch = 3 * DEC_OUT_BUFS;
	if (!ret) {
		double warm = (double)batch / secs_since(t0);

		batch = (uint64_t)(warm * o->slice_s);
		if (batch < 20)
			batch = 20;
	}
	for (unsigned r = 0; !ret && r < o->reps; r++) {
		struct notif n0;
		int64_t cpu0;

		ref[r] = fill_rate(buf, o->slice_s);
		notif_get(&n0, &c.f, p.pid);
		cpu0 = cpu_ns(p.pid);
		t0 = now_ns();
		ret = dec_run(&d, batch);
		dec[r] = (double)batch / secs_since(t0);
		cpu[r] = (double)(cpu_ns(p.pid) - cpu0) / 1e3 / (double)batch;
		notif_since(&n0, &c.f, p.pid, batch, &irq[r], &kicks[r], &wakes[r]);
		ratio[r] = dec[r] / ref[r];
	}
	client_close(&c);
	/* The stats line comes with the reset that follows the hang-up. */
	for (int i = 0; i < 200 && (copied = log_frame_bytes(p.log)) < 0; i++)
		sleep_us(5000);
	daemon_cleanup(&p);
	free(buf);
	dec_forget(&d);
	if (ret) {
		fig_na(fd, "failed: %s", err_str(ret));
		return;
	}
	fd->value = median(dec, o->reps);
	snprintf(fd->unit, sizeof(fd->unit), "pictures/s");
	fd->ref = median(ref, o->reps);
	snprintf(fd->ref_name, sizeof(fd->ref_name), "same fill in-process, pictures/s");
	fd->ratio = median(ratio, o->reps);
	if (copied < 0)
		snprintf(fd->extra, sizeof(fd->extra), "copied: unknown (no stats line)");
	else
		snprintf(fd->extra, sizeof(fd->extra),
			 "%.0f bytes copied/picture; daemon CPU %.0f us/picture (fill %.0f us); "
			 "per picture: %.2f interrupts, %.2f kicks, %.2f daemon wake-ups%s",
			 (double)copied / (double)(d.pictures ? d.pictures : 1),
			 median(cpu, o->reps), 1e6 / fd->ref, median(irq, o->reps),
			 median(kicks, o->reps), median(wakes, o->reps),
			 d.bad_pictures ? " (BAD PICTURES)" : "");
}

/* ---- figure 3: instructions per command (callgrind) ------------------------------------- */

enum cg_kind {
	CG_GET_PARAMS_UNKNOWN,
	CG_GET_PARAMS,
	CG_SET_PARAMS,
	CG_QUERY_CAPS,
	CG_QUEUE_PAIR,
	CG_STREAM_PAIR,
	CG_KINDS,
};

static const struct {
	const char *id, *name;
	unsigned cmds; /* commands per item */
} cg_kinds[CG_KINDS] = {
	{ "3a", "GET_PARAMS_EXT, unknown stream (error)", 1 },
	{ "3b", "GET_PARAMS_EXT (OUTPUT)", 1 },
	{ "3c", "SET_PARAMS_EXT (INPUT, same values)", 1 },
	{ "3d", "QUERY_CAPABILITY (INPUT)", 1 },
	{ "3e", "RESOURCE_QUEUE in+out, 64x64 picture", 2 },
	{ "3f", "STREAM_CREATE + STREAM_DESTROY", 2 },
};

struct cg_ctx {
	struct vuf_video *v;
	struct vv_stream_params in_params;
	struct decoder dec;
};

static int cg_item(struct cg_ctx *x, enum cg_kind k)
{
	struct vv_stream_params p;
	struct vuf_video_caps caps;
	int ret;

	switch (k) {
	case CG_GET_PARAMS_UNKNOWN:
		ret = vuf_video_get_params(x->v, 4242, VV_QUEUE_TYPE_INPUT, &p);
		return ret == VV_RESP_ERR_INVALID_STREAM_ID ? 0 : ret ? ret : -EPROTO;
	case CG_GET_PARAMS:
		return vuf_video_get_params(x->v, STREAM_ID, VV_QUEUE_TYPE_OUTPUT, &p);
	case CG_SET_PARAMS:
		return vuf_video_set_params(x->v, STREAM_ID, &x->in_params);
	case CG_QUERY_CAPS:
		ret = vuf_video_query_caps(x->v, VV_QUEUE_TYPE_INPUT, &caps);
		vuf_video_caps_free(&caps);
		return ret;
	case CG_QUEUE_PAIR:
		return dec_run(&x->dec, 1);
	case CG_STREAM_PAIR:
		ret = vuf_video_stream_create(x->v, 77, VV_FORMAT_H264, NULL);
		return ret ? ret : vuf_video_stream_destroy(x->v, 77);
	default:
		return -EINVAL;
	}
}

/* Total instructions the daemon ran, from callgrind's output ("summary:" / "totals:"). */
static int64_t cg_total(const char *path)
{
	char line[256];
	int64_t total = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0)
			total = strtoll(strchr(line, ':') + 1, NULL, 10);
	}
	fclose(f);
	return total;
}

/* One daemon run under callgrind: set-up, CG_BASE_ITEMS of every kind, then extra items
 * of kind extra_kind (none when extra_kind == CG_KINDS). *ir = the daemon's total. */
static int cg_run(const struct opts *o, enum cg_kind extra_kind, unsigned extra, int64_t *ir)
{
	static struct cg_ctx x;
	struct client c;
	struct proc p;
	int ret;

	memset(&x, 0, sizeof(x));
	*ir = -1;
	if (daemon_start(o, &p, false, true) < 0) {
		daemon_cleanup(&p);
		return -ECHILD;
	}
	ret = client_open(&c, p.sock, 64ull << 20, 30000);
	x.v = &c.v;
	x.dec.v = &c.v;
	if (!ret)
		ret = stream_setup(x.v, STREAM_ID, 64, 64, DEC_IN_SIZE);
	if (!ret)
		ret = vuf_video_get_params(x.v, STREAM_ID, VV_QUEUE_TYPE_INPUT, &x.in_params);
	for (unsigned i = 0; !ret && i < 2; i++)
		ret = output_resource(x.v, STREAM_ID, 100 + i, &x.dec.out[i],
				      &x.dec.picture_bytes);
	for (unsigned i = 0; !ret && i < 2; i++)
		ret = input_resource(x.v, STREAM_ID, 1 + i, &x.dec.in[i]);
	/* One output buffer stays queued; each item feeds one input and requeues the output. */
	if (!ret)
		ret = dec_queue_out(&x.dec, 0);
	for (unsigned k = 0; !ret && k < CG_KINDS; k++)
		for (unsigned i = 0; !ret && i < CG_BASE_ITEMS; i++)
			ret = cg_item(&x, (enum cg_kind)k);
	for (unsigned i = 0; !ret && extra_kind < CG_KINDS && i < extra; i++)
		ret = cg_item(&x, extra_kind);
	client_close(&c);
	dec_forget(&x.dec);
	if (proc_stop(p.pid, 30000) == 0)
		*ir = cg_total(p.cg_out);
	if (o->cg_keep) {
		char keep[256];

		snprintf(keep, sizeof(keep), "%s/callgrind.%s.out", o->cg_keep,
			 extra_kind < CG_KINDS ? cg_kinds[extra_kind].id : "base");
		if (rename(p.cg_out, keep) < 0)
			say("cannot keep %s: %s", keep, strerror(errno));
	}
	p.pid = 0;
	daemon_cleanup(&p);
	if (!ret && *ir < 0)
		ret = -EIO;
	return ret;
}

/* Timing can only add work to a run (a spurious wake-up, one more pass over a ring), never
 * remove any: the least of cg_reps runs is the count. */
static int cg_run_min(const struct opts *o, enum cg_kind extra_kind, unsigned extra,
		      int64_t *ir)
{
	int ret = 0;

	*ir = -1;
	for (unsigned r = 0; !ret && r < o->cg_reps; r++) {
		int64_t one;

		ret = cg_run(o, extra_kind, extra, &one);
		if (!ret && (*ir < 0 || one < *ir))
			*ir = one;
	}
	return ret;
}

static bool valgrind_usable(const struct opts *o)
{
	const char *argv[] = { o->valgrind, "--version", NULL };
	pid_t pid = spawn(argv, NULL);
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void figure_instructions(const struct opts *o)
{
	struct figure *f[CG_KINDS];
	int64_t base, with;
	double ref = 0;
	int ret;

	for (unsigned k = 0; k < CG_KINDS; k++)
		f[k] = fig_add(cg_kinds[k].id, cg_kinds[k].name);
	if (!o->valgrind || !valgrind_usable(o)) {
		for (unsigned k = 0; k < CG_KINDS; k++)
			fig_na(f[k], "%s", o->valgrind ? "n/a: valgrind not found (bench/run.sh "
							  "installs it)"
						       : "skipped (--no-callgrind)");
		return;
	}
	say("figure 3: instructions per command (callgrind, %u daemon runs)",
	    (CG_KINDS + 1) * o->cg_reps);
	ret = cg_run_min(o, CG_KINDS, 0, &base);
	for (unsigned k = 0; k < CG_KINDS; k++) {
		if (!ret)
			ret = cg_run_min(o, (enum cg_kind)k, o->cg_items, &with);
		if (ret) {
			fig_na(f[k], "failed: %s", err_str(ret));
			continue;
		}
		f[k]->value = (double)(with - base) / (double)o->cg_items;
		snprintf(f[k]->unit, sizeof(f[k]->unit), "instr/item");
		if (k == CG_GET_PARAMS_UNKNOWN)
			ref = f[k]->value;
		f[k]->ref = ref;
		snprintf(f[k]->ref_name, sizeof(f[k]->ref_name), "3a (cheapest command)");
		f[k]->ratio = ref > 0 ? f[k]->value / ref : 0;
		snprintf(f[k]->extra, sizeof(f[k]->extra), "%.0f instr/command",
			 f[k]->value / cg_kinds[k].cmds);
	}
}

/* ---- figure 4: footprint and start-up ---------------------------------------------------- */

struct footprint {
	long rss_kb, anon_kb;
};

static struct footprint footprint_of(pid_t pid)
{
	return (struct footprint){ status_value(pid, "VmRSS"), status_value(pid, "RssAnon") };
}

static struct vuf_video_resource foot_res[FOOT_STREAMS][6];
static struct vuf_video_req foot_reqs[FOOT_STREAMS][4];

static void foot_forget(void)
{
	for (unsigned s = 0; s < FOOT_STREAMS; s++)
		for (unsigned i = 0; i < 6; i++)
			res_forget(&foot_res[s][i]);
}

/* Streams [first, first + n) with 2 input and 4 queued 1080p output buffers each. */
static int foot_streams(struct vuf_video *v, uint32_t first, unsigned n)
{
	struct vuf_video_resource (*res)[6] = foot_res;
	struct vuf_video_req (*reqs)[4] = foot_reqs;
	int ret = 0;

	for (uint32_t s = first; !ret && s < first + n && s < FOOT_STREAMS; s++) {
		ret = stream_setup(v, 10 + s, PIC_W, PIC_H, DEC_IN_SIZE);
		for (unsigned i = 0; !ret && i < 2; i++)
			ret = input_resource(v, 10 + s, 1 + i, &res[s][i]);
		for (unsigned i = 0; !ret && i < 4; i++) {
			ret = output_resource(v, 10 + s, 100 + i, &res[s][2 + i], NULL);
			if (!ret)
				ret = vuf_video_resource_queue(v, 10 + s, &res[s][2 + i], 0, NULL, 0,
							       &reqs[s][i]);
		}
	}
	return ret;
}

static double startup_daemon_ms(const struct opts *o)
{
	struct proc p;
	int64_t t0 = now_ns();
	double ms;

	memset(&p, 0, sizeof(p));
	snprintf(p.dir, sizeof(p.dir), "/tmp/vuv-bench-XXXXXX");
	if (!mkdtemp(p.dir))
		return -1;
	snprintf(p.sock, sizeof(p.sock), "%s/video.sock", p.dir);
	{
		const char *argv[] = { o->daemon, "--socket-path", p.sock, "--backend", "null",
				       NULL };

		t0 = now_ns();
		p.pid = spawn(argv, NULL);
	}
	if (p.pid < 0 || wait_listening(&p, 5000) < 0)
		ms = -1;
	else
		ms = (double)(now_ns() - t0) / 1e6;
	daemon_cleanup(&p);
	return ms;
}

static double startup_true_ms(void)
{
	const char *argv[] = { "true", NULL };
	int64_t t0 = now_ns();
	pid_t pid = spawn(argv, NULL);

	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		return -1;
	return (double)(now_ns() - t0) / 1e6;
}

static void figure_footprint(const struct opts *o)
{
	struct figure *fi = fig_add("4a", "RSS idle (listening)");
	struct figure *f1 = fig_add("4b", "RSS, 1 stream (4 queued 1080p outputs)");
	struct figure *f16 = fig_add("4c", "RSS, 16 streams");
	struct figure *fs = fig_add("4d", "start-up to listening socket");
	const char *sleep_argv[] = { "sleep", "30", NULL };
	struct footprint ref, idle, one, sixteen;
	struct {
		struct figure *f;
		struct footprint fp;
	} rows[] = { { fi, { 0, 0 } }, { f1, { 0, 0 } }, { f16, { 0, 0 } } };
	double tdm[MAX_REPS], ttr[MAX_REPS], tr[MAX_REPS];
	unsigned reps = o->reps * 2 + 1;
	struct client c;
	struct proc p;
	pid_t sl;
	int ret;

	say("figure 4: footprint and start-up");
	sl = spawn(sleep_argv, NULL);
	sleep_us(100000);
	ref = footprint_of(sl);
	proc_stop(sl, 2000);

	if (daemon_start(o, &p, false, false) < 0) {
		fig_na(fi, "daemon did not start");
		fig_na(f1, "daemon did not start");
		fig_na(f16, "daemon did not start");
		daemon_cleanup(&p);
	} else {
		sleep_us(100000);
		idle = footprint_of(p.pid);
		ret = client_open(&c, p.sock, 320ull << 20, 5000);
		if (!ret)
			ret = foot_streams(&c.v, 0, 1);
		sleep_us(50000);
		one = footprint_of(p.pid);
		if (!ret)
			ret = foot_streams(&c.v, 1, FOOT_STREAMS - 1);
		sleep_us(50000);
		sixteen = footprint_of(p.pid);
		client_close(&c);
		foot_forget();
		daemon_cleanup(&p);
		if (ret) {
			fig_na(f1, "failed: %s", err_str(ret));
			fig_na(f16, "failed: %s", err_str(ret));
		}
		rows[0].fp = idle;
		rows[1].fp = one;
		rows[2].fp = sixteen;
		for (unsigned i = 0; i < ARRAY_SIZE(rows); i++) {
			struct figure *f = rows[i].f;

			if (f->na)
				continue;
			f->value = (double)rows[i].fp.rss_kb / 1024.0;
			snprintf(f->unit, sizeof(f->unit), "MiB");
			f->ref = (double)ref.rss_kb / 1024.0;
			snprintf(f->ref_name, sizeof(f->ref_name), "RSS of `sleep`, MiB");
			f->ratio = ref.rss_kb > 0 ? (double)rows[i].fp.rss_kb / (double)ref.rss_kb : 0;
			snprintf(f->extra, sizeof(f->extra), "private (RssAnon) %.2f MiB",
				 (double)rows[i].fp.anon_kb / 1024.0);
		}
	}

	if (reps > MAX_REPS)
		reps = MAX_REPS;
	for (unsigned r = 0; r < reps; r++) {
		ttr[r] = startup_true_ms();
		tdm[r] = startup_daemon_ms(o);
		if (tdm[r] < 0 || ttr[r] <= 0) {
			fig_na(fs, "daemon did not start");
			return;
		}
		tr[r] = tdm[r] / ttr[r];
	}
	fs->value = median(tdm, reps);
	snprintf(fs->unit, sizeof(fs->unit), "ms");
	fs->ref = median(ttr, reps);
	snprintf(fs->ref_name, sizeof(fs->ref_name), "fork+exec+exit of `true`, ms");
	fs->ratio = median(tr, reps);
}

/* ---- figure 5: direct path ----------------------------------------------------------------- */

/* True when the host has a V4L2 video node at all. */
static bool have_video_node(void)
{
	DIR *dir = opendir("/dev");
	struct dirent *e;
	bool found = false;

	while (dir && !found && (e = readdir(dir)))
		found = strncmp(e->d_name, "video", 5) == 0;
	if (dir)
		closedir(dir);
	return found;
}

static void figure_direct(void)
{
	struct figure *f = fig_add("5", "decode fps via daemon / direct path");

	/* The v4l2-decoder backend needs a V4L2 stateful decoder: on a host with none, the
	 * only one is vicodec inside tests/vm's VM, which checks output but times nothing.
	 * The ffmpeg backend is figure 6 (bench/ffmpeg.sh). Nothing here is guessed. */
	if (!have_video_node())
		fig_na(f, "n/a on this host: no V4L2 decoder (bench/run.sh times vicodec in "
			  "the VM as 5v4l2, and the ffmpeg backend as 6)");
	else
		fig_na(f, "n/a: direct-path timing not written yet (clips: v4l2-decoder issue)");
}

/* ---- output ---------------------------------------------------------------------------------- */

static void machine_line(char *buf, size_t cap)
{
	char model[128] = "unknown CPU", line[256];
	struct utsname u;
	long mem_kb = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &mem_kb) == 1)
			break;
	if (f)
		fclose(f);
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(buf, cap, "%s, %ld cores, %.1f GiB RAM, Linux %s, gcc %s", model,
		 sysconf(_SC_NPROCESSORS_ONLN), (double)mem_kb / (1024.0 * 1024.0), u.release,
		 __VERSION__);
}

static void print_table(const char *machine)
{
	printf("\nvhost-user-video benchmarks\nmachine: %s\n\n", machine);
	printf("%-3s %-42s %14s %-11s %12s  %-33s %7s  %s\n", "#", "figure", "value", "unit",
	       "reference", "reference is", "ratio", "");
	for (unsigned i = 0; i < nfigures; i++) {
		const struct figure *f = &figures[i];
		char v[32], r[32];

		if (f->na) {
			printf("%-3s %-42s %s\n", f->id, f->name, f->na_why);
			continue;
		}
		fmt_num(v, sizeof(v), f->value);
		if (f->ref >= 0)
			fmt_num(r, sizeof(r), f->ref);
		else
			snprintf(r, sizeof(r), "-");
		printf("%-3s %-42s %14s %-11s %12s  %-33s %7.3f  %s\n", f->id, f->name, v, f->unit,
		       r, f->ref_name, f->ratio, f->extra);
	}
	fflush(stdout);
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static int write_json(const char *path, const char *machine, const struct opts *o)
{
	FILE *out = fopen(path, "w");
	time_t t = time(NULL);
	char when[32];

	if (!out)
		return -errno;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(out, "{\n  \"format\": \"vuv-bench/1\",\n  \"date\": \"%s\",\n  \"machine\": ",
		when);
	json_str(out, machine);
	fprintf(out, ",\n  \"daemon\": ");
	json_str(out, o->daemon);
	fprintf(out, ",\n  \"reps\": %u,\n  \"figures\": [\n", o->reps);
	for (unsigned i = 0; i < nfigures; i++) {
		const struct figure *f = &figures[i];

		fprintf(out, "    {\"id\": ");
		json_str(out, f->id);
		fprintf(out, ", \"name\": ");
		json_str(out, f->name);
		if (f->na) {
			fprintf(out, ", \"value\": null, \"na\": ");
			json_str(out, f->na_why);
		} else {
			fprintf(out, ", \"value\": %.6g, \"unit\": ", f->value);
			json_str(out, f->unit);
			if (f->ref >= 0) {
				fprintf(out, ", \"reference\": %.6g, \"reference_is\": ", f->ref);
				json_str(out, f->ref_name);
				fprintf(out, ", \"ratio\": %.6g", f->ratio);
			}
			if (f->extra[0]) {
				fprintf(out, ", \"note\": ");
				json_str(out, f->extra);
			}
		}
		fprintf(out, "}%s\n", i + 1 < nfigures ? "," : "");
	}
	fprintf(out, "  ]\n}\n");
	return fclose(out) == 0 ? 0 : -errno;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vuv-bench [--daemon PATH] [--json FILE] [--quick] [--reps N]\n"
		"                 [--valgrind PATH | --no-callgrind] [--keep-callgrind DIR]\n"
		"                 [--only 1,2,3,4,5]\n"
		"Runs the daemon's benchmarks and prints a table; every figure is a ratio\n"
		"against a reference measured in the same run. The daemon is --daemon,\n"
		"else $VUV_DAEMON, else the one this program was built with.\n");
}

static bool wanted(const struct opts *o, char figure)
{
	return !o->only || strchr(o->only, figure);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "daemon", required_argument, NULL, 'd' },
		{ "json", required_argument, NULL, 'j' },
		{ "valgrind", required_argument, NULL, 'g' },
		{ "no-callgrind", no_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "keep-callgrind", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.daemon = getenv("VUV_DAEMON") ? getenv("VUV_DAEMON") : VUV_BENCH_DAEMON,
		.valgrind = "valgrind",
		.reps = 5,
		.slice_s = 0.25,
		.cg_items = 1000,
		.cg_reps = 2,
	};
	char machine[512];
	int c;

	while ((c = getopt_long(argc, argv, "d:j:g:nr:qo:k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.daemon = optarg;
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'g':
			o.valgrind = optarg;
			break;
		case 'n':
			o.valgrind = NULL;
			break;
		case 'r':
			o.reps = (unsigned)strtoul(optarg, NULL, 10);
			if (o.reps < 1 || o.reps > MAX_REPS) {
				fprintf(stderr, "vuv-bench: --reps must be 1..%d\n", MAX_REPS);
				return 2;
			}
			break;
		case 'q':
			o.quick = true;
			break;
		case 'o':
			o.only = optarg;
			break;
		case 'k':
			o.cg_keep = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.quick) {
		o.reps = o.reps > 3 ? 3 : o.reps;
		o.slice_s = 0.1;
		o.cg_items = 200;
		o.cg_reps = 1;
	}
	if (access(o.daemon, X_OK) != 0) {
		fprintf(stderr, "vuv-bench: daemon %s: %s\n", o.daemon, strerror(errno));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	machine_line(machine, sizeof(machine));
	say("daemon %s; %u repetitions, medians reported", o.daemon, o.reps);

	if (wanted(&o, '1'))
		figure_round_trip(&o);
	if (wanted(&o, '2'))
		figure_decode(&o);
	if (wanted(&o, '3'))
		figure_instructions(&o);
	if (wanted(&o, '4'))
		figure_footprint(&o);
	if (wanted(&o, '5'))
		figure_direct();

	print_table(machine);
	if (o.json) {
		int ret = write_json(o.json, machine, &o);

		if (ret)
			say("cannot write %s: %s", o.json, strerror(-ret));
		else
			say("results written to %s", o.json);
	}
	return 0;
}
