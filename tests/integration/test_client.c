/* vhost-user-video-client against the real daemon (null backend): --info, decodes in
 * several sizes, formats and layouts checked byte for byte against the null backend's
 * picture pattern, mid-stream drain, clear and destroy, several streams on one
 * connection, usage errors and a daemon that is not there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "vuf_video.h"

static struct daemon_proc dp;
static bool daemon_up;
static char out[65536], err[65536];
static char in_path[160], out_path[160];

static const char *client_binary(void)
{
	const char *p = getenv("VUV_CLIENT");

	return p ? p : "./vhost-user-video-client";
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;

	buf[0] = 0;
	if (fd < 0)
		return;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	close(fd);
}

/* Runs the client with args (argv[0] excluded, NULL-terminated); stdout and
 * stderr land in out/err. Returns the exit status, 128+signal, or -1 (also
 * when it ran longer than timeout_ms: it is killed then). *elapsed_ms gets
 * the run time when not NULL. */
static int run_client(const char *const *args, int timeout_ms, int64_t *elapsed_ms)
{
	char out_file[192], err_file[192];
	const char *argv[48];
	unsigned n = 0;
	int64_t start = mono_ms();
	int status = 0;
	pid_t pid;

	snprintf(out_file, sizeof(out_file), "%s/client.out", dp.dir);
	snprintf(err_file, sizeof(err_file), "%s/client.err", dp.dir);
	argv[n++] = client_binary();
	for (unsigned i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fo = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (mono_ms() - start > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
		sleep_ms(5);
	}
	if (elapsed_ms)
		*elapsed_ms = mono_ms() - start;
	slurp(out_file, out, sizeof(out));
	slurp(err_file, err, sizeof(err));
	unlink(out_file);
	unlink(err_file);
	if (status == -1)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0;

	while (ok && len) {
		ssize_t n = write(fd, data, len);

		ok = n > 0;
		if (ok) {
			data += n;
			len -= (size_t)n;
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A file of len pseudo-random bytes (the null backend ignores the content). */
static bool make_input(size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len ? len : 1);
	bool ok;

	if (!b)
		return false;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	ok = write_file(in_path, b, len);
	free(b);
	return ok;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The bytes of FWHT frame i as make_fwht writes it. */
static size_t fwht_frame_len(unsigned i)
{
	return 44 + 100 + (size_t)i * 997;
}

/* nframes vicodec-style FWHT frames: the 44-byte fwht_cframe_hdr (magic bytes
 * 4f4f4f4f ffffffff, then big-endian version, width, height, flags, colorspace,
 * xfer_func, ycbcr_enc, quantization, size) and size payload bytes. With gop > 0,
 * every gop-th frame from frame 0 has the I-frame flag 0x400 (version 3), the
 * others are P frames. The last frame loses cut bytes when cut > 0. Returns the
 * file size (0 on failure). */
static size_t make_fwht_gop(unsigned nframes, uint32_t w, uint32_t h, size_t cut, unsigned gop)
{
	size_t cap = 0, len = 0;
	uint8_t *b = NULL;
	bool ok;

	for (unsigned i = 0; i < nframes; i++)
		cap += 44 + 100 + i * 997;
	b = calloc(1, cap);
	if (!b)
		return 0;
	for (unsigned i = 0; i < nframes; i++) {
		uint32_t size = 100 + i * 997;
		uint8_t *f = b + len;

		memset(f, 0x4f, 4);
		memset(f + 4, 0xff, 4);
		put_be32(f + 8, 3);
		put_be32(f + 12, w);
		put_be32(f + 16, h);
		put_be32(f + 20, gop && i % gop == 0 ? 0x400 : 0);
		put_be32(f + 40, size);
		for (uint32_t k = 0; k < size; k++)
			f[44 + k] = (uint8_t)(k * 7 + i);
		len += 44 + size;
	}
	len -= cut < len ? cut : 0;
	ok = write_file(in_path, b, len);
	free(b);
	return ok ? len : 0;
}

static size_t make_fwht(unsigned nframes, uint32_t w, uint32_t h, size_t cut)
{
	return make_fwht_gop(nframes, w, h, cut, 0);
}

static uint8_t *read_all(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !(b = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return b;
}

/* The null backend's picture n: row r of plane p is all (n + r + 64 p) & 0xff. NV12
 * has Y (h rows of w) and UV (h/2 rows of w); YUV420 has Y, U and V (h/2 rows of w/2). */
static void check_pattern_at(const char *path, unsigned frames, uint32_t w, uint32_t h,
			     bool nv12)
{
	uint64_t frame_size = (uint64_t)w * h * 3 / 2;
	size_t len, bad = 0, pos = 0;
	uint8_t *b = read_all(path, &len);

	REQUIRE(b != NULL);
	CHECK_EQ(len, frames * frame_size);
	if (len != frames * frame_size) {
		free(b);
		return;
	}
	for (unsigned n = 0; n < frames; n++) {
		unsigned nplanes = nv12 ? 2 : 3;

		for (unsigned p = 0; p < nplanes; p++) {
			uint32_t rows = p ? h / 2 : h, cols = p && !nv12 ? w / 2 : w;

			for (uint32_t r = 0; r < rows; r++) {
				uint8_t want = (uint8_t)((n + r + 64 * p) & 0xff);

				for (uint32_t c = 0; c < cols; c++, pos++)
					if (b[pos] != want && bad++ < 3)
						fprintf(stderr, "  frame %u plane %u row %u "
							"col %u: 0x%02x, want 0x%02x\n", n, p,
							r, c, b[pos], want);
			}
		}
	}
	CHECK_EQ(pos, len);
	CHECK_EQ(bad, 0);
	free(b);
}

static void check_pattern(unsigned frames, uint32_t w, uint32_t h, bool nv12)
{
	check_pattern_at(out_path, frames, w, h, nv12);
}

/* Line n (from 0) of s into buf, newline included; "" past the end. */
static const char *nth_line(const char *s, unsigned n, char *buf, size_t cap)
{
	const char *e;
	size_t len;

	for (; n && *s; n--) {
		e = strchr(s, '\n');
		s = e ? e + 1 : s + strlen(s);
	}
	e = strchr(s, '\n');
	len = e ? (size_t)(e - s + 1) : strlen(s);
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, s, len);
	buf[len] = 0;
	return buf;
}

/* line is "[PREFIX]decoded N frames (WxH FMT) in S s, F fps; input B bytes in K buffers;
 * output O bytes\n". */
static void check_summary_line(const char *line, const char *prefix, unsigned frames,
			       uint32_t w, uint32_t h, const char *fmt, uint64_t in_bytes,
			       unsigned in_bufs)
{
	char head[160], tail[160];
	bool ok;

	snprintf(head, sizeof(head), "%sdecoded %u frames (%ux%u %s) in ", prefix, frames, w, h,
		 fmt);
	snprintf(tail, sizeof(tail), " fps; input %llu bytes in %u buffers; output %llu bytes\n",
		 (unsigned long long)in_bytes, in_bufs,
		 (unsigned long long)frames * w * h * 3 / 2);
	ok = strncmp(line, head, strlen(head)) == 0 && strlen(line) > strlen(tail) &&
	     strcmp(line + strlen(line) - strlen(tail), tail) == 0;
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "  want: %s...%s  line: %s  stdout: %s  stderr: %s\n", head, tail,
			line, out, err);
}

/* "decoded N frames (WxH FMT) in S s, F fps; input B bytes in K buffers; output O bytes" */
static void check_summary(unsigned frames, uint32_t w, uint32_t h, const char *fmt,
			  uint64_t in_bytes, unsigned in_bufs)
{
	check_summary_line(out, "", frames, w, h, fmt, in_bytes, in_bufs);
	CHECK_EQ(count_lines(out), 1);
}

/* Decodes in_path with extra client options; checks exit 0, the summary, that one
 * input buffer made one picture, and every byte of the output. */
static void decode_and_check(const char *coded, uint32_t w, uint32_t h, const char *pix,
			     unsigned frames, uint64_t in_bytes, const char *const *extra)
{
	char ws[16], hs[16];
	const char *args[40] = { "--socket-path", dp.sock, "--stream-from", in_path,
				 "--stream-to", out_path, "--coded-format", coded,
				 "--width", ws, "--height", hs, "--pixel-format", pix };
	unsigned n = 14;
	int st;

	snprintf(ws, sizeof(ws), "%u", w);
	snprintf(hs, sizeof(hs), "%u", h);
	for (unsigned i = 0; extra && extra[i] && n < 39; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	unlink(out_path);
	st = run_client(args, 60000, NULL);
	CHECK_EQ(st, 0);
	if (st != 0)
		fprintf(stderr, "  stderr was: %s\n", err);
	CHECK_EQ(err[0], 0); /* stderr is not a tty: no progress line */
	check_summary(frames, w, h, pix, in_bytes, frames);
	check_pattern(frames, w, h, strcmp(pix, "nv12") == 0);
}

static void t_help_and_version(void)
{
	CHECK_EQ(run_client((const char *[]){ "-h", NULL }, 5000, NULL), 0);
	CHECK(strstr(out, "--socket-path") != NULL);
	CHECK(strstr(out, "--frame-sizes-from-fwht") != NULL);
	CHECK(strstr(out, "--layout") != NULL);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(run_client((const char *[]){ "-V", NULL }, 5000, NULL), 0);
	CHECK(strcmp(out, "vhost-user-video-client " VUV_VERSION "\n") == 0);
}

static void t_info(void)
{
	const char *args[] = { "--socket-path", dp.sock, "--info", NULL };

	CHECK_EQ(run_client(args, 10000, NULL), 0);
	CHECK_EQ(err[0], 0);
	CHECK(strstr(out, "max_caps_length 4096") != NULL);
	CHECK(strstr(out, "RESOURCE_GUEST_PAGES") != NULL);
	CHECK(strstr(out, "RESOURCE_NON_CONTIG") != NULL);
	CHECK(strstr(out, "INPUT (bitstream): 2 formats") != NULL);
	CHECK(strstr(out, "OUTPUT (pictures): 2 formats") != NULL);
	CHECK(strstr(out, "  0   FWHT      FWHT    single-buffer  1      16-4096 step 2    "
			  "16-2304 step 2    1-60        NV12 YUV420\n") != NULL);
	CHECK(strstr(out, "  1   H264      H264") != NULL);
	CHECK(strstr(out, "  0   NV12      NV12") != NULL);
	CHECK(strstr(out, "  1   YUV420    YU12    single-buffer  1      16-4096 step 2    "
			  "16-2304 step 2    1-60        FWHT H264\n") != NULL);
	if (!strstr(out, "FWHT H264"))
		fprintf(stderr, "  stdout was:\n%s", out);
}

static void t_decode_yuv420_640x480(void)
{
	REQUIRE(make_input(30 * 4096, 1));
	decode_and_check("fwht", 640, 480, "yuv420", 30, 30 * 4096,
			 (const char *[]){ "--chunk-size", "4096", NULL });
}

static void t_decode_nv12_1280x720_scattered(void)
{
	/* The last chunk is short: 7 chunks of 1000 bytes and one of 500. */
	REQUIRE(make_input(7500, 2));
	decode_and_check("h264", 1280, 720, "nv12", 8, 7500,
			 (const char *[]){ "--chunk-size", "1000", "--scattered", NULL });
}

static void t_decode_split_per_plane(void)
{
	REQUIRE(make_input(6 * 3000, 3));
	decode_and_check("fwht", 640, 480, "yuv420", 6, 6 * 3000,
			 (const char *[]){ "--chunk-size", "3000", "--layout", "split",
					   "--planes-layout", "per-plane", NULL });
}

static void t_decode_split_scattered_nv12(void)
{
	REQUIRE(make_input(5 * 4096, 4));
	decode_and_check("h264", 352, 288, "nv12", 5, 5 * 4096,
			 (const char *[]){ "--chunk-size", "4K", "--layout", "split",
					   "--scattered", "-q", NULL });
}

static void t_decode_indirect_legacy_params(void)
{
	REQUIRE(make_input(4 * 512, 5));
	decode_and_check("fwht", 320, 240, "yuv420", 4, 4 * 512,
			 (const char *[]){ "--chunk-size", "512", "--layout", "indirect",
					   "--legacy-params", "--scattered", "--planes-layout",
					   "per-plane", NULL });
}

static void t_decode_fwht_frames(void)
{
	size_t len = make_fwht(9, 640, 480, 0);

	REQUIRE(len > 0);
	/* One input buffer per FWHT frame, however large each is. */
	decode_and_check("fwht", 640, 480, "nv12", 9, len,
			 (const char *[]){ "--frame-sizes-from-fwht", NULL });
}

static void t_decode_frames_limit(void)
{
	size_t len = make_fwht(9, 640, 480, 0), first4 = 0;

	REQUIRE(len > 0);
	for (unsigned i = 0; i < 4; i++)
		first4 += 44 + 100 + i * 997;
	decode_and_check("fwht", 640, 480, "yuv420", 4, first4,
			 (const char *[]){ "--frame-sizes-from-fwht", "--frames", "4", NULL });
}

/* ---- the library (vuf_video) in-process ------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	wr32(p, v);
}

/* OK_QUERY_CAPABILITY with one format, one frame, nrates rates; returns its length. */
static size_t build_caps(uint8_t *b, uint32_t num_descs, uint32_t num_frames, uint32_t nrates)
{
	size_t off = 16;

	memset(b, 0, 512);
	put32(b, VV_RESP_OK_QUERY_CAPABILITY);
	put32(b + 8, num_descs);
	put32(b + off, 0x3); /* mask */
	put32(b + off + 8, VV_FORMAT_FWHT);
	put32(b + off + 12, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	put32(b + off + 16, 1);
	put32(b + off + 20, num_frames);
	off += 24;
	put32(b + off, 16);
	put32(b + off + 4, 4096);
	put32(b + off + 8, 2);
	put32(b + off + 16, 16);
	put32(b + off + 20, 2304);
	put32(b + off + 24, 2);
	put32(b + off + 32, nrates);
	off += 40;
	for (uint32_t i = 0; i < 2; i++, off += 16) {
		put32(b + off, 1 + i);
		put32(b + off + 4, 30 + i);
		put32(b + off + 8, 1);
	}
	return off;
}

static void t_caps_parser(void)
{
	uint8_t b[512];
	struct vuf_video_caps c;
	size_t len = build_caps(b, 1, 1, 2);

	CHECK_EQ(len, 16 + 24 + 40 + 32);
	REQUIRE(vuf_video_parse_caps(b, len, &c) == 0);
	REQUIRE(c.num_formats == 1 && c.formats[0].num_frames == 1);
	CHECK_EQ(c.formats[0].mask, 3);
	CHECK_EQ(c.formats[0].format, VV_FORMAT_FWHT);
	CHECK_EQ(c.formats[0].frames[0].width.max, 4096);
	CHECK_EQ(c.formats[0].frames[0].height.max, 2304);
	REQUIRE(c.formats[0].frames[0].num_rates == 2);
	CHECK_EQ(c.formats[0].frames[0].rates[1].min, 2);
	CHECK_EQ(c.formats[0].frames[0].rates[1].max, 31);
	vuf_video_caps_free(&c);
	CHECK_EQ(c.num_formats, 0);

	/* Counts the bytes cannot hold, and every truncation, are refused. */
	for (size_t cut = 0; cut < len; cut++) {
		CHECK_EQ(vuf_video_parse_caps(b, cut, &c), -EPROTO);
		CHECK(c.formats == NULL);
	}
	build_caps(b, 2, 1, 2);
	CHECK_EQ(vuf_video_parse_caps(b, len, &c), -EPROTO);
	build_caps(b, 65, 1, 2);
	CHECK_EQ(vuf_video_parse_caps(b, sizeof(b), &c), -EPROTO);
	build_caps(b, 1, 0x40000000u, 2);
	CHECK_EQ(vuf_video_parse_caps(b, len, &c), -EPROTO);
	build_caps(b, 1, 1, 0xffffffffu);
	CHECK_EQ(vuf_video_parse_caps(b, len, &c), -EPROTO);
	build_caps(b, 1, 1, 3);
	CHECK_EQ(vuf_video_parse_caps(b, len, &c), -EPROTO);
	/* Trailing bytes are fine. */
	build_caps(b, 1, 1, 2);
	CHECK_EQ(vuf_video_parse_caps(b, sizeof(b), &c), 0);
	vuf_video_caps_free(&c);
	/* No formats at all is a valid (empty) answer. */
	build_caps(b, 0, 0, 0);
	CHECK_EQ(vuf_video_parse_caps(b, 16, &c), 0);
	CHECK_EQ(c.num_formats, 0);
}

static void t_scattered_resources(void)
{
	static const uint32_t sizes[3] = { 640 * 480, 320 * 240, 320 * 240 + 5 };
	struct vuf f;
	struct vuf_video v;
	struct vuf_video_resource r;
	uint64_t free0;
	uint8_t *pat, *back;

	vuf_init(&f);
	REQUIRE(vuf_ram_init(&f.ram, 16u << 20, 1, 0, 0) == 0);
	memset(&v, 0, sizeof(v));
	v.f = &f;
	free0 = vuf_ram_free_bytes(&f.ram);
	pat = malloc(sizes[0]);
	back = malloc(sizes[0]);
	REQUIRE(pat && back);
	for (uint32_t i = 0; i < sizes[0]; i++)
		pat[i] = (uint8_t)(i * 31 + (i >> 12));

	/* Without RESOURCE_NON_CONTIG there is no scattering. */
	f.acked_features = 1ull << VV_F_RESOURCE_GUEST_PAGES;
	CHECK_EQ(vuf_video_resource_alloc(&v, &r, VV_QUEUE_TYPE_OUTPUT, 1,
					  VV_PLANES_LAYOUT_PER_PLANE, 3, sizes, true), -ENOTSUP);
	f.acked_features |= 1ull << VV_F_RESOURCE_NON_CONTIG;

	for (uint32_t layout = 1; layout <= 2; layout++) {
		uint64_t total = 0;
		unsigned lists = layout == VV_PLANES_LAYOUT_PER_PLANE ? 3 : 1, e = 0;

		REQUIRE(vuf_video_resource_alloc(&v, &r, VV_QUEUE_TYPE_OUTPUT, 7, layout, 3, sizes,
						 true) == 0);
		CHECK_EQ(r.num_planes, 3);
		for (unsigned l = 0; l < lists; l++) {
			uint64_t list_len = 0;

			for (unsigned k = 0; k < r.num_entries[l]; k++, e++) {
				const struct vuf_video_entry *en = &r.entries[e];

				CHECK_EQ(en->gpa % VUF_PAGE_SIZE, 0);
				if (k + 1 < r.num_entries[l]) {
					CHECK_EQ(en->len, VUF_PAGE_SIZE);
					/* never the continuation of the previous entry */
					CHECK(r.entries[e + 1].gpa != en->gpa + en->len);
				}
				list_len += en->len;
			}
			if (layout == VV_PLANES_LAYOUT_PER_PLANE)
				CHECK_EQ(list_len, sizes[l]);
			total += list_len;
		}
		CHECK_EQ(e, r.nentries);
		CHECK_EQ(total, sizes[0] + sizes[1] + sizes[2]);
		if (layout == VV_PLANES_LAYOUT_SINGLE_BUFFER) {
			CHECK_EQ(r.num_entries[1], 0);
			CHECK_EQ(r.plane_offsets[1], sizes[0]);
			CHECK_EQ(r.plane_offsets[2], sizes[0] + sizes[1]);
		} else {
			CHECK_EQ(r.plane_offsets[2], 0);
			CHECK_EQ(r.num_entries[2], (sizes[2] + VUF_PAGE_SIZE - 1) / VUF_PAGE_SIZE);
		}
		/* Plane bytes go through the shuffled pages and come back in order. */
		for (unsigned p = 0; p < 3; p++) {
			CHECK_EQ(vuf_video_resource_write(&v, &r, p, 0, pat, sizes[p]), 0);
			memset(back, 0, sizes[p]);
			CHECK_EQ(vuf_video_resource_read(&v, &r, p, 0, back, sizes[p]), 0);
			CHECK_MEM(back, pat, sizes[p]);
		}
		CHECK_EQ(vuf_video_resource_read(&v, &r, 1, 100, back, 1000), 0);
		CHECK_MEM(back, pat + 100, 1000);
		CHECK_EQ(vuf_video_resource_read(&v, &r, 1, 1, back, sizes[1]), -EINVAL);
		CHECK_EQ(vuf_video_resource_read(&v, &r, 3, 0, back, 1), -EINVAL);
		vuf_video_resource_free(&v, &r);
	}
	/* Contiguous: one entry per list. */
	REQUIRE(vuf_video_resource_alloc(&v, &r, VV_QUEUE_TYPE_INPUT, 2,
					 VV_PLANES_LAYOUT_PER_PLANE, 3, sizes, false) == 0);
	CHECK_EQ(r.nentries, 3);
	CHECK_EQ(r.entries[2].len, sizes[2]);
	vuf_video_resource_free(&v, &r);
	CHECK_EQ(vuf_ram_free_bytes(&f.ram), free0);
	free(pat);
	free(back);
	vuf_ram_free(&f.ram);
}

/* The model's API straight against the daemon: answers, errors, ordering. */
static void t_library_session(void)
{
	struct vuf f;
	struct vuf_video v;
	struct vuf_video_caps caps;
	struct vv_stream_params ext, legacy;
	struct vuf_video_resource in, outb[2];
	struct vuf_video_req qin, qout[2], drain, *r;
	struct vuf_video_event ev;
	uint32_t sizes[3], one = 1000;
	bool saw_event = false, eos = false, drained = false;
	unsigned pictures = 0;
	int ret;

	memset(&qin, 0, sizeof(qin));
	memset(qout, 0, sizeof(qout));
	memset(&drain, 0, sizeof(drain));
	memset(&v, 0, sizeof(v));
	REQUIRE(vuf_connect(&f, dp.sock, 3000) == 0);
	REQUIRE(vuf_start(&f, NULL) == 0);
	REQUIRE(vuf_video_init(&v, &f) == 0);
	v.layout = VUF_LAYOUT_INDIRECT;
	CHECK_EQ(v.max_caps_length, 4096);

	CHECK_EQ(vuf_video_query_caps(&v, VV_QUEUE_TYPE_OUTPUT, &caps), 0);
	CHECK_EQ(caps.num_formats, 2);
	if (caps.num_formats == 2) {
		CHECK_EQ(caps.formats[0].format, VV_FORMAT_NV12);
		CHECK_EQ(caps.formats[1].format, VV_FORMAT_YUV420);
	}
	vuf_video_caps_free(&caps);

	/* Device errors come back as the positive response type. */
	CHECK_EQ(vuf_video_get_params(&v, 77, VV_QUEUE_TYPE_INPUT, &ext),
		 VV_RESP_ERR_INVALID_STREAM_ID);
	CHECK_EQ(vuf_video_stream_destroy(&v, 77), VV_RESP_ERR_INVALID_STREAM_ID);

	REQUIRE(vuf_video_stream_create(&v, 5, VV_FORMAT_H264, "it_client") == 0);
	CHECK_EQ(vuf_video_stream_create(&v, 5, VV_FORMAT_H264, NULL),
		 VV_RESP_ERR_INVALID_STREAM_ID);
	REQUIRE(vuf_video_get_params(&v, 5, VV_QUEUE_TYPE_INPUT, &ext) == 0);
	ext.frame_width = 320;
	ext.frame_height = 240;
	CHECK_EQ(vuf_video_set_params(&v, 5, &ext), 0);
	REQUIRE(vuf_video_get_params(&v, 5, VV_QUEUE_TYPE_OUTPUT, &ext) == 0);
	ext.format = VV_FORMAT_YUV420;
	CHECK_EQ(vuf_video_set_params(&v, 5, &ext), 0);
	REQUIRE(vuf_video_get_params(&v, 5, VV_QUEUE_TYPE_OUTPUT, &ext) == 0);
	v.legacy_params = true;
	REQUIRE(vuf_video_get_params(&v, 5, VV_QUEUE_TYPE_OUTPUT, &legacy) == 0);
	v.legacy_params = false;
	/* Both numberings describe the same stream. */
	CHECK_EQ(ext.format, VV_FORMAT_YUV420);
	CHECK_EQ(legacy.format, VV_FORMAT_YUV420);
	CHECK_EQ(ext.frame_width, 320);
	CHECK_EQ(legacy.frame_height, 240);
	REQUIRE(ext.num_planes == 3 && legacy.num_planes == 3);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(ext.plane_formats[i].plane_size, legacy.plane_formats[i].plane_size);
		sizes[i] = ext.plane_formats[i].plane_size;
	}
	CHECK_EQ(sizes[0], 320 * 240);
	CHECK_EQ(sizes[1], 160 * 120);

	REQUIRE(vuf_video_resource_alloc(&v, &in, VV_QUEUE_TYPE_INPUT, 1,
					 VV_PLANES_LAYOUT_SINGLE_BUFFER, 1, &one, false) == 0);
	CHECK_EQ(vuf_video_resource_create(&v, 5, &in), 0);
	CHECK_EQ(vuf_video_resource_create(&v, 5, &in), VV_RESP_ERR_INVALID_RESOURCE_ID);
	for (unsigned i = 0; i < 2; i++) {
		REQUIRE(vuf_video_resource_alloc(&v, &outb[i], VV_QUEUE_TYPE_OUTPUT, 10 + i,
						 VV_PLANES_LAYOUT_PER_PLANE, 3, sizes, true) == 0);
		CHECK_EQ(vuf_video_resource_create(&v, 5, &outb[i]), 0);
	}

	/* One input, then the drain; outputs only after the resolution event. */
	CHECK_EQ(vuf_video_resource_queue(&v, 5, &in, 4242, &one, 1, &qin), 0);
	CHECK_EQ(vuf_video_resource_queue(&v, 5, &in, 4243, &one, 1, &qin), -EBUSY);
	CHECK_EQ(vuf_video_stream_drain(&v, 5, &drain), 0);
	while (!(eos && drained)) {
		ret = vuf_video_wait(&v, 3000);
		CHECK_EQ(ret, 0);
		if (ret)
			break;
		while (vuf_video_next_event(&v, &ev)) {
			CHECK_EQ(ev.type, VV_EVENT_DECODER_RESOLUTION_CHANGED);
			CHECK_EQ(ev.stream_id, 5);
			CHECK_EQ(pictures, 0); /* before the first picture */
			saw_event = true;
			for (unsigned i = 0; i < 2; i++)
				CHECK_EQ(vuf_video_resource_queue(&v, 5, &outb[i], 0, NULL, 0,
								  &qout[i]), 0);
		}
		while ((r = vuf_video_next_done(&v))) {
			CHECK_EQ(r->status, 0);
			if (r == &qout[0] || r == &qout[1]) {
				if (r->flags & VV_BUFFER_FLAG_EOS) {
					CHECK_EQ(r->size, 0);
					eos = true;
				} else {
					uint8_t row[160];
					struct vuf_video_resource *res = &outb[r - qout];

					CHECK_EQ(r->timestamp, 4242);
					CHECK_EQ(r->size, sizes[0] + sizes[1] + sizes[2]);
					/* picture 0, plane 2, row 3: (0 + 3 + 128) */
					CHECK_EQ(vuf_video_resource_read(&v, res, 2, 3 * 160, row,
									 160), 0);
					CHECK_EQ(row[0], 131);
					CHECK_EQ(row[159], 131);
					pictures++;
					/* back to the device, as a driver does */
					CHECK_EQ(vuf_video_resource_queue(&v, 5, res, 0, NULL, 0,
									  r), 0);
				}
			} else if (r == &drain) {
				CHECK(eos); /* the drain answers after the EOS picture */
				drained = true;
			} else {
				CHECK(r == &qin);
			}
		}
	}
	CHECK(saw_event);
	CHECK_EQ(pictures, 1);
	CHECK(qin.done);
	/* The output still queued comes back (ERR) before QUEUE_CLEAR's own answer. */
	CHECK_EQ(vuf_video_queue_clear(&v, 5, VV_QUEUE_TYPE_OUTPUT), 0);
	r = vuf_video_next_done(&v);
	CHECK(r != NULL);
	if (r)
		CHECK(r->flags & VV_BUFFER_FLAG_ERR);
	CHECK(vuf_video_next_done(&v) == NULL);
	CHECK_EQ(vuf_video_resource_destroy_all(&v, 5, VV_QUEUE_TYPE_OUTPUT), 0);
	CHECK_EQ(vuf_video_stream_destroy(&v, 5), 0);
	CHECK_EQ(vuf_video_stream_destroy(&v, 5), VV_RESP_ERR_INVALID_STREAM_ID);
	CHECK_EQ(v.bad_events, 0);

	vuf_video_resource_free(&v, &in);
	vuf_video_resource_free(&v, &outb[0]);
	vuf_video_resource_free(&v, &outb[1]);
	vuf_close(&f);
	vuf_video_fini(&v);
	vuf_req_fini(&qin.vreq);
	vuf_req_fini(&drain.vreq);
}

/* Runtime errors: exit 1, exactly one line naming the problem, nothing on stdout. */
static void expect_runtime_error(const char *const *args, const char *needle)
{
	int st = run_client(args, 20000, NULL);

	CHECK_EQ(st, 1);
	CHECK(strncmp(err, "vhost-user-video-client: ", 25) == 0);
	CHECK(strstr(err, needle) != NULL);
	CHECK_EQ(count_lines(err), 1);
	CHECK_EQ(out[0], 0);
	if (st != 1 || !strstr(err, needle) || count_lines(err) != 1)
		fprintf(stderr, "  status %d, stderr was: %s\n", st, err);
}

static void t_bad_fwht_input(void)
{
	const char *args[] = { "--socket-path", dp.sock, "--stream-from", in_path,
			       "--stream-to", out_path, "--coded-format", "fwht", "--width", "640",
			       "--height", "480", "--pixel-format", "yuv420",
			       "--frame-sizes-from-fwht", NULL };

	REQUIRE(make_input(5000, 6));
	expect_runtime_error(args, "no FWHT frame header (magic 4f4f4f4f ffffffff) at offset 0");
	REQUIRE(make_fwht(3, 640, 480, 10) > 0);
	expect_runtime_error(args, "is cut short");
	REQUIRE(make_input(0, 7));
	expect_runtime_error(args, "is empty");
}

static void t_unsupported_format(void)
{
	REQUIRE(make_input(4096, 8));
	expect_runtime_error((const char *[]){ "--socket-path", dp.sock, "--stream-from", in_path,
					       "--stream-to", out_path, "--coded-format", "vp9",
					       "--width", "640", "--height", "480",
					       "--pixel-format", "nv12", NULL },
			     "the device does not decode VP9");
}

/* Usage errors: exit 2, one line naming the problem plus the usage hint. */
static void expect_usage_error(const char *const *args, const char *needle)
{
	int st = run_client(args, 5000, NULL);

	CHECK_EQ(st, 2);
	CHECK(strstr(err, needle) != NULL);
	CHECK(strstr(err, "Try 'vhost-user-video-client --help'") != NULL);
	CHECK_EQ(count_lines(err), 2);
	CHECK_EQ(out[0], 0);
	if (st != 2 || !strstr(err, needle))
		fprintf(stderr, "  status %d, stderr was: %s\n", st, err);
}

static void t_usage_errors(void)
{
	expect_usage_error((const char *[]){ NULL }, "--socket-path is required");
	expect_usage_error((const char *[]){ "--bogus", NULL }, "unknown option '--bogus'");
	expect_usage_error((const char *[]){ "-s", "/x.sock", NULL }, "nothing to do");
	expect_usage_error((const char *[]){ "-s", NULL }, "option '-s' needs a value");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", NULL },
			   "--stream-from needs --stream-to OUT");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "av1", NULL },
			   "--coded-format: unknown format 'av1'");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "fwht", "--width", "0", NULL },
			   "--width: '0' is not a size");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--pixel-format", "rgb", NULL },
			   "--pixel-format: unknown format 'rgb'");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "--layout", "zigzag",
					     NULL },
			   "--layout: unknown layout 'zigzag'");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "--width", "64", NULL },
			   "decoding options need --stream-from FILE");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "fwht", "--width", "64",
					     "--height", "64", "--pixel-format", "nv12",
					     "--chunk-size", "4096", "--frame-sizes-from-fwht",
					     NULL },
			   "exclude each other");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "h264", "--width", "64",
					     "--height", "64", "--pixel-format", "nv12",
					     "--frame-sizes-from-fwht", NULL },
			   "--frame-sizes-from-fwht needs --coded-format fwht");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "--chunk-size", "1G",
					     NULL },
			   "--chunk-size: '1G' is not a size");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "extra", NULL },
			   "unexpected argument 'extra'");
}

static void t_daemon_not_running(void)
{
	char path[192];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int64_t ms = 0;
	int fd;

	/* No socket file at all. */
	snprintf(path, sizeof(path), "%s/absent.sock", dp.dir);
	CHECK_EQ(run_client((const char *[]){ "-s", path, "--info", NULL }, 10000, &ms), 1);
	CHECK(strstr(err, "cannot connect to ") != NULL);
	CHECK(strstr(err, "no such socket (is vhost-user-video running?)") != NULL);
	CHECK_EQ(count_lines(err), 1);
	CHECK_EQ(out[0], 0);
	CHECK(ms < 3000);

	/* A socket file nobody listens on (a daemon that died). */
	snprintf(path, sizeof(path), "%s/dead.sock", dp.dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(fd >= 0);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	REQUIRE(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(fd);
	CHECK_EQ(run_client((const char *[]){ "-s", path, "--info", NULL }, 10000, &ms), 1);
	CHECK(strstr(err, "nobody is listening (is vhost-user-video running?)") != NULL);
	CHECK_EQ(count_lines(err), 1);
	CHECK(ms < 3000);
	unlink(path);
}

/* ---- mid-stream operations and several streams ------------------------------------ */

/* Runs a 640x480 FWHT decode of in_path into out_path with extra options; returns the
 * exit status (and shows stderr when it is not 0 or stderr is not empty). */
static int run_decode(const char *pix, const char *const *extra)
{
	const char *args[44] = { "--socket-path", dp.sock, "--stream-from", in_path,
				 "--stream-to", out_path, "--coded-format", "fwht",
				 "--width", "640", "--height", "480", "--pixel-format", pix };
	unsigned n = 14;
	int st;

	for (unsigned i = 0; extra && extra[i] && n < 43; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	unlink(out_path);
	st = run_client(args, 60000, NULL);
	if (st != 0 || err[0])
		fprintf(stderr, "  status %d, stderr was: %s\n", st, err);
	return st;
}

static void t_help_lists_midstream_options(void)
{
	/* The VM tests switch their cases on when --help names these options. */
	CHECK_EQ(run_client((const char *[]){ "--help", NULL }, 5000, NULL), 0);
	CHECK(strstr(out, "--drain-after N") != NULL);
	CHECK(strstr(out, "--clear-after N") != NULL);
	CHECK(strstr(out, "--destroy-after N") != NULL);
	CHECK(strstr(out, "--streams N") != NULL);
}

/* DRAIN after 5 of 12 buffers, EOS, then the other 7: the null backend numbers its
 * pictures per session, so the output is exactly an uninterrupted decode. */
static void t_drain_then_continue(void)
{
	char line[256];

	REQUIRE(make_input(12 * 4096, 11));
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--chunk-size", "4096",
							  "--drain-after", "5", NULL }), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(count_lines(out), 2);
	CHECK(strcmp(nth_line(out, 0, line, sizeof(line)),
		     "drain after 5 input buffers: the EOS came after 5 frames, then 7 more "
		     "frames\n") == 0);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", 12, 640, 480, "yuv420",
			   12 * 4096, 12);
	check_pattern(12, 640, 480, false);
}

/* The same with one FWHT frame per buffer, split chains and scattered NV12 buffers;
 * the line says whether the frame fed after the drain is an I frame (GOP 3: 0, 3, 6). */
static void t_drain_then_continue_fwht_split(void)
{
	size_t len = make_fwht_gop(9, 640, 480, 0, 3);
	char line[256];

	REQUIRE(len > 0);
	CHECK_EQ(run_decode("nv12", (const char *[]){ "--frame-sizes-from-fwht", "--drain-after",
							"3", "--layout", "split", "--scattered",
							NULL }), 0);
	CHECK_EQ(count_lines(out), 2);
	CHECK(strcmp(nth_line(out, 0, line, sizeof(line)),
		     "drain after 3 input buffers: the EOS came after 3 frames, then 6 more "
		     "frames (fed on from an I frame)\n") == 0);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", 9, 640, 480, "nv12", len, 9);
	check_pattern(9, 640, 480, true);

	CHECK_EQ(run_decode("nv12", (const char *[]){ "--frame-sizes-from-fwht", "--drain-after",
							"4", "--layout", "split", NULL }), 0);
	CHECK_EQ(count_lines(out), 2);
	CHECK(strcmp(nth_line(out, 0, line, sizeof(line)),
		     "drain after 4 input buffers: the EOS came after 4 frames, then 5 more "
		     "frames (fed on from a P frame)\n") == 0);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", 9, 640, 480, "nv12", len, 9);
	check_pattern(9, 640, 480, true);
}

/* "clear after N input buffers: B frames before it; cancelled I input and O output
 * buffers; REST": B, I and O, or false when the line is not there. */
static bool parse_clear_line(const char *line, unsigned n, unsigned *before, unsigned *in,
			     unsigned *outb, const char *rest)
{
	unsigned got_n = 0;
	int used = 0;

	if (sscanf(line, "clear after %u input buffers: %u frames before it; cancelled %u input "
		   "and %u output buffers; %n", &got_n, before, in, outb, &used) != 4 ||
	    used == 0 || got_n != n) {
		fprintf(stderr, "  not a clear line for %u: %s", n, line);
		return false;
	}
	if (strcmp(line + used, rest) != 0) {
		fprintf(stderr, "  clear line ends '%s', want '%s'\n", line + used, rest);
		return false;
	}
	return true;
}

/* QUEUE_CLEAR of both queues after 5 of 12 chunks, once pictures come out. Each of the
 * 5 inputs was either decoded (one picture) or came back cancelled; the 7 chunks after
 * are decoded; the pictures keep the session's numbering. */
static void t_clear_midstream_chunks(void)
{
	unsigned before = 0, cin = 0, cout = 0;
	char line[256];

	REQUIRE(make_input(12 * 4096, 12));
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--chunk-size", "4096",
							  "--clear-after", "5", NULL }), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(count_lines(out), 2);
	REQUIRE(parse_clear_line(nth_line(out, 0, line, sizeof(line)), 5, &before, &cin, &cout,
				 "fed on with the next buffer\n"));
	CHECK(before >= 1);
	CHECK_EQ(before + cin, 5);
	CHECK(cout <= 4); /* the null backend's 2 + 2 output buffers at most */
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", before + 7, 640, 480,
			   "yuv420", 12 * 4096, 12);
	check_pattern(before + 7, 640, 480, false);
}

/* With FWHT frames the feeding resumes at the next I frame: GOP 4 puts them at 0, 4
 * and 8, so a clear after 5 skips frames 5-7; after 9 there is none left. */
static void t_clear_midstream_fwht_next_i_frame(void)
{
	unsigned before = 0, cin = 0, cout = 0;
	size_t first5 = 0, last4 = 0, first9 = 0;
	char line[256];

	REQUIRE(make_fwht_gop(12, 640, 480, 0, 4) > 0);
	for (unsigned i = 0; i < 12; i++) {
		first5 += i < 5 ? fwht_frame_len(i) : 0;
		first9 += i < 9 ? fwht_frame_len(i) : 0;
		last4 += i >= 8 ? fwht_frame_len(i) : 0;
	}
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--frame-sizes-from-fwht",
							  "--clear-after", "5", NULL }), 0);
	CHECK_EQ(count_lines(out), 2);
	REQUIRE(parse_clear_line(nth_line(out, 0, line, sizeof(line)), 5, &before, &cin, &cout,
				 "fed on from frame 8 (the next I frame, 3 skipped)\n"));
	CHECK(before >= 1);
	CHECK_EQ(before + cin, 5);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", before + 4, 640, 480,
			   "yuv420", first5 + last4, 9);
	check_pattern(before + 4, 640, 480, false);

	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--frame-sizes-from-fwht",
							  "--clear-after", "9", NULL }), 0);
	CHECK_EQ(count_lines(out), 2);
	REQUIRE(parse_clear_line(nth_line(out, 0, line, sizeof(line)), 9, &before, &cin, &cout,
				 "no I frame follows: nothing more fed (3 skipped)\n"));
	CHECK(before >= 1);
	CHECK_EQ(before + cin, 9);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "", before, 640, 480, "yuv420",
			   first9, 9);
	check_pattern(before, 640, 480, false);
}

/* STREAM_DESTROY after 5 of 20 pictures, buffers queued: every pending request answered
 * (the client checks), the counts add up, the output is the first 5 pictures, and the
 * daemon serves the next decode. */
static void t_destroy_midstream(void)
{
	unsigned pend, pin, pout, pdrain, canc, cin, cout, cdrain, done, bufs;
	unsigned long long bytes;
	char line[256];
	int n;

	REQUIRE(make_input(20 * 4096, 13));
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--chunk-size", "4096",
							  "--destroy-after", "5", NULL }), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(count_lines(out), 2);
	n = sscanf(nth_line(out, 0, line, sizeof(line)),
		   "destroy after 5 frames: %u requests pending (%u input, %u output, %u drain), "
		   "all answered: %u cancelled (%u input, %u output, %u drain), %u completed\n",
		   &pend, &pin, &pout, &pdrain, &canc, &cin, &cout, &cdrain, &done);
	CHECK_EQ(n, 9);
	if (n == 9) {
		CHECK_EQ(pend, pin + pout + pdrain);
		CHECK_EQ(canc, cin + cout + cdrain);
		CHECK_EQ(done, pend - canc);
		CHECK(cin <= pin);
		CHECK(cout <= pout);
		CHECK_EQ(pout, 4); /* every output buffer is queued again at once */
		CHECK_EQ(pdrain, 0); /* 15 chunks were still to come */
		CHECK_EQ(cdrain, 0);
		CHECK(canc >= 1);
	}
	/* Only 5 pictures written; the inputs fed are between 5 and 5 + 4 in flight. */
	nth_line(out, 1, line, sizeof(line));
	n = sscanf(line, "decoded 5 frames (640x480 yuv420) in %*f s, %*f fps; input %llu bytes "
		   "in %u buffers; output 2304000 bytes\n", &bytes, &bufs);
	CHECK_EQ(n, 2);
	CHECK(bufs >= 5 && bufs <= 9);
	CHECK_EQ(bytes, (unsigned long long)bufs * 4096);
	check_pattern(5, 640, 480, false);

	CHECK(daemon_alive(&dp));
	CHECK(it_fresh_session_works(dp.sock));
	REQUIRE(make_input(6 * 4096, 14));
	decode_and_check("fwht", 640, 480, "yuv420", 6, 6 * 4096,
			 (const char *[]){ "--chunk-size", "4096", NULL });
}

/* Two streams of one connection decode the same input: OUT and OUT.2, both exact. */
static void t_two_streams_same_input(void)
{
	char out2[192], line[256];

	snprintf(out2, sizeof(out2), "%s.2", out_path);
	unlink(out2);
	REQUIRE(make_input(8 * 4096, 15));
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--chunk-size", "4096", "--streams",
							  "2", NULL }), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(count_lines(out), 2);
	check_summary_line(nth_line(out, 0, line, sizeof(line)), "stream 1: ", 8, 640, 480,
			   "yuv420", 8 * 4096, 8);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "stream 2: ", 8, 640, 480,
			   "yuv420", 8 * 4096, 8);
	check_pattern(8, 640, 480, false);
	check_pattern_at(out2, 8, 640, 480, false);
	unlink(out2);
}

/* The n-th --stream-from/--stream-to pair is stream n: different inputs, different
 * lengths, indirect chains; each output equals a single-stream decode of its input. */
static void t_two_streams_own_inputs(void)
{
	char in2[192], out2[192], line[256];
	const char *args[] = { "--socket-path", dp.sock, "--stream-from", in_path, "--stream-to",
			       out_path, "--coded-format", "h264", "--width", "320", "--height",
			       "240", "--pixel-format", "nv12", "--chunk-size", "3000",
			       "--layout", "indirect", "--streams", "2", "--stream-from", in2,
			       "--stream-to", out2, NULL };
	uint8_t junk[11 * 3000];
	int st;

	snprintf(in2, sizeof(in2), "%s/input2.bin", dp.dir);
	snprintf(out2, sizeof(out2), "%s/output2.yuv", dp.dir);
	memset(junk, 0x5a, sizeof(junk));
	REQUIRE(write_file(in2, junk, sizeof(junk)));
	REQUIRE(make_input(6 * 3000, 16));
	unlink(out_path);
	unlink(out2);
	st = run_client(args, 60000, NULL);
	CHECK_EQ(st, 0);
	if (st != 0)
		fprintf(stderr, "  stderr was: %s\n", err);
	CHECK_EQ(count_lines(out), 2);
	check_summary_line(nth_line(out, 0, line, sizeof(line)), "stream 1: ", 6, 320, 240,
			   "nv12", 6 * 3000, 6);
	check_summary_line(nth_line(out, 1, line, sizeof(line)), "stream 2: ", 11, 320, 240,
			   "nv12", 11 * 3000, 11);
	check_pattern_at(out_path, 6, 320, 240, true);
	check_pattern_at(out2, 11, 320, 240, true);
	unlink(in2);
	unlink(out2);
}

/* Three streams, each draining mid-stream: every stream its own drain and EOS. */
static void t_three_streams_drain(void)
{
	char outn[192], line[256];

	REQUIRE(make_input(6 * 4096, 17));
	CHECK_EQ(run_decode("yuv420", (const char *[]){ "--chunk-size", "4096", "--streams",
							  "3", "--drain-after", "2", NULL }), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(count_lines(out), 6);
	for (unsigned i = 0; i < 3; i++) {
		char want[160], prefix[16];

		snprintf(prefix, sizeof(prefix), "stream %u: ", i + 1);
		snprintf(want, sizeof(want), "%sdrain after 2 input buffers: the EOS came after "
			 "2 frames, then 4 more frames\n", prefix);
		CHECK(strcmp(nth_line(out, 2 * i, line, sizeof(line)), want) == 0);
		check_summary_line(nth_line(out, 2 * i + 1, line, sizeof(line)), prefix, 6, 640,
				   480, "yuv420", 6 * 4096, 6);
		if (i == 0) {
			check_pattern(6, 640, 480, false);
		} else {
			snprintf(outn, sizeof(outn), "%s.%u", out_path, i + 1);
			check_pattern_at(outn, 6, 640, 480, false);
			unlink(outn);
		}
	}
}

/* Two streams each destroyed mid-stream, then the daemon serves on. */
static void t_two_streams_destroy(void)
{
	char out2[192];
	unsigned pend, canc;

	snprintf(out2, sizeof(out2), "%s.2", out_path);
	REQUIRE(make_input(16 * 4096, 18));
	CHECK_EQ(run_decode("nv12", (const char *[]){ "--chunk-size", "4096", "--streams", "2",
							"--destroy-after", "3", NULL }), 0);
	CHECK_EQ(count_lines(out), 4);
	CHECK_EQ(sscanf(out, "stream 1: destroy after 3 frames: %u requests pending (%*u input, "
			"%*u output, %*u drain), all answered: %u cancelled", &pend, &canc), 2);
	CHECK(strstr(out, "\nstream 2: destroy after 3 frames: ") != NULL);
	CHECK(strstr(out, "\nstream 2: decoded 3 frames (640x480 nv12) in ") != NULL);
	check_pattern(3, 640, 480, true);
	check_pattern_at(out2, 3, 640, 480, true);
	unlink(out2);
	CHECK(daemon_alive(&dp));
	CHECK(it_fresh_session_works(dp.sock));
}

/* A mid-stream operation that the input leaves no room for is an error, not a pass. */
static void t_midstream_runtime_errors(void)
{
	const char *base[] = { "--socket-path", dp.sock, "--stream-from", in_path,
			       "--stream-to", out_path, "--coded-format", "fwht", "--width",
			       "640", "--height", "480", "--pixel-format", "yuv420",
			       "--chunk-size", "4096", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	char empty[192];

	REQUIRE(make_input(12 * 4096, 19));
	base[16] = "--drain-after";
	base[17] = "12";
	expect_runtime_error(base, "--drain-after 12: ");
	CHECK(strstr(err, "makes only 12 input buffers, so nothing would follow the drain") !=
	      NULL);
	base[16] = "--clear-after";
	base[17] = "40";
	expect_runtime_error(base, "makes only 12 input buffers, so nothing would follow the "
			     "clear");
	base[16] = "--destroy-after";
	base[17] = "13";
	expect_runtime_error(base, "--destroy-after 13: the stream ended after 12 frames");
	/* The stream that failed is named when several run. */
	snprintf(empty, sizeof(empty), "%s/empty.bin", dp.dir);
	REQUIRE(write_file(empty, (const uint8_t *)"", 0));
	base[16] = "--streams";
	base[17] = "2";
	base[18] = "--stream-from";
	base[19] = empty;
	base[20] = "--stream-to";
	base[21] = "/nonexistent-dir/x.yuv"; /* never created: the input check comes first */
	expect_runtime_error(base, "stream 2: ");
	CHECK(strstr(err, "empty.bin is empty") != NULL);
	unlink(empty);
}

static void t_midstream_usage_errors(void)
{
	const char *nine[40] = { "-s", "/x.sock" };
	unsigned n = 2;

	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--drain-after", "0", NULL },
			   "--drain-after: '0' is not a positive number");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--clear-after", "x", NULL },
			   "--clear-after: 'x' is not a positive number");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--destroy-after", "-1", NULL },
			   "--destroy-after: '-1' is not a positive number");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--destroy-after", "4294967296",
					     NULL },
			   "--destroy-after: '4294967296' is not a positive number");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--streams", "0", NULL },
			   "--streams: '0' is not a number from 1 to 8");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--streams", "9", NULL },
			   "--streams: '9' is not a number from 1 to 8");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "--drain-after", "3",
					     NULL },
			   "decoding options need --stream-from FILE");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--info", "--streams", "2", NULL },
			   "decoding options need --stream-from FILE");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "fwht", "--width", "64",
					     "--height", "64", "--pixel-format", "nv12",
					     "--drain-after", "2", "--clear-after", "3", NULL },
			   "--drain-after, --clear-after and --destroy-after exclude each other");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--coded-format", "fwht", "--width", "64",
					     "--height", "64", "--pixel-format", "nv12",
					     "--destroy-after", "2", "--clear-after", "3", NULL },
			   "exclude each other");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--stream-from", "c", "--coded-format", "fwht",
					     NULL },
			   "each --stream-from needs its own --stream-to (2 FILEs, 1 OUTs)");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--stream-from", "c", "--stream-to", "d",
					     "--coded-format", "fwht", "--width", "64", "--height",
					     "64", "--pixel-format", "nv12", "--streams", "1",
					     NULL },
			   "--streams 1, but 2 --stream-from FILEs");
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "b", "--stream-from", "c", "--stream-to", "b",
					     "--coded-format", "fwht", "--width", "64", "--height",
					     "64", "--pixel-format", "nv12", NULL },
			   "streams 1 and 2 would both write b");
	/* A generated OUT.n may not collide with a name given either. */
	expect_usage_error((const char *[]){ "-s", "/x.sock", "--stream-from", "a", "--stream-to",
					     "o", "--stream-from", "c", "--stream-to", "o.3",
					     "--coded-format", "fwht", "--width", "64", "--height",
					     "64", "--pixel-format", "nv12", "--streams", "3",
					     NULL },
			   "streams 2 and 3 would both write o.3");
	for (unsigned i = 0; i < 9; i++) {
		nine[n++] = "--stream-from";
		nine[n++] = "a";
	}
	nine[n] = NULL;
	expect_usage_error(nine, "--stream-from: at most 8 files");
}

/* After every client above (each one a full session), the daemon serves the next. */
static void t_daemon_still_serves(void)
{
	CHECK(daemon_alive(&dp));
	CHECK(it_fresh_session_works(dp.sock));
}

static void t_daemon_stops_cleanly(void)
{
	CHECK_EQ(daemon_stop(&dp), 0);
	CHECK(access(dp.sock, F_OK) != 0);
}

int main(void)
{
	test_begin("it_client");
	signal(SIGPIPE, SIG_IGN);
	if (daemon_start(&dp, NULL) == 0) {
		daemon_up = true;
		snprintf(in_path, sizeof(in_path), "%s/input.bin", dp.dir);
		snprintf(out_path, sizeof(out_path), "%s/output.yuv", dp.dir);
	} else {
		fprintf(stderr, "cannot start the daemon (%s)\n", daemon_binary());
	}
	if (daemon_up) {
		RUN_TEST(t_caps_parser);
		RUN_TEST(t_scattered_resources);
		RUN_TEST(t_library_session);
		RUN_TEST(t_help_and_version);
		RUN_TEST(t_info);
		RUN_TEST(t_decode_yuv420_640x480);
		RUN_TEST(t_decode_nv12_1280x720_scattered);
		RUN_TEST(t_decode_split_per_plane);
		RUN_TEST(t_decode_split_scattered_nv12);
		RUN_TEST(t_decode_indirect_legacy_params);
		RUN_TEST(t_decode_fwht_frames);
		RUN_TEST(t_decode_frames_limit);
		RUN_TEST(t_bad_fwht_input);
		RUN_TEST(t_unsupported_format);
		RUN_TEST(t_usage_errors);
		RUN_TEST(t_daemon_not_running);
		RUN_TEST(t_help_lists_midstream_options);
		RUN_TEST(t_drain_then_continue);
		RUN_TEST(t_drain_then_continue_fwht_split);
		RUN_TEST(t_clear_midstream_chunks);
		RUN_TEST(t_clear_midstream_fwht_next_i_frame);
		RUN_TEST(t_destroy_midstream);
		RUN_TEST(t_two_streams_same_input);
		RUN_TEST(t_two_streams_own_inputs);
		RUN_TEST(t_three_streams_drain);
		RUN_TEST(t_two_streams_destroy);
		RUN_TEST(t_midstream_runtime_errors);
		RUN_TEST(t_midstream_usage_errors);
		RUN_TEST(t_daemon_still_serves);
		RUN_TEST(t_daemon_stops_cleanly);
		unlink(in_path);
		unlink(out_path);
		daemon_cleanup(&dp);
	} else {
		tl_failed++;
	}
	return test_summary();
}
