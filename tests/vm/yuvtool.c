/* yuvtool: the small helper the VM decode tests run inside the guest (built static on the
 * host, so it needs nothing from the initramfs). Raw pictures are I420 (YU12: Y, then U and
 * V at half width and half height) or NV12 (Y, then interleaved UV at half height).
 *
 *   yuvtool gen W H N OUT            N frames of a moving I420 test picture
 *   yuvtool psnr W H A B MIN_DB      Y/U/V PSNR of two I420 files; fails unless both hold
 *                                    the same whole number of frames and Y >= MIN_DB
 *   yuvtool fwht-info FILE           walks the FWHT frames (vicodec's fwht_cframe_hdr) and
 *                                    prints "WxH COUNT" per run of equally sized frames
 *   yuvtool fwht-corrupt IN OUT K    copy of IN with frame K's header version set to 0,
 *                                    which vicodec's decoder rejects for that frame
 *   yuvtool nv12-to-i420 W H IN OUT  converts every frame
 *   yuvtool null-pattern W H N FILE  checks N I420 pictures of the null backend's pattern:
 *                                    row r of plane p of picture n is all (n + r + 64 p)
 *
 * Exit status: 0 on success, 1 when a check fails, 2 on usage or I/O errors. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* vicodec's struct fwht_cframe_hdr: 11 big-endian u32, the first 8 bytes a fixed magic. */
#define FWHT_HDR_SIZE 44u
#define FWHT_VERSION_OFF 8u
#define FWHT_WIDTH_OFF 12u
#define FWHT_HEIGHT_OFF 16u
#define FWHT_SIZE_OFF 40u
#define MAX_DIM 16384L

static const uint8_t fwht_magic[8] = { 0x4f, 0x4f, 0x4f, 0x4f, 0xff, 0xff, 0xff, 0xff };

static int io_error(const char *what, const char *path)
{
	fprintf(stderr, "yuvtool: %s %s: %s\n", what, path, strerror(errno));
	return 2;
}

/* Whole file into memory; the test files are a few MiB. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)size + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)size;
out:
	fclose(f);
	return buf;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return io_error("cannot create", path);
	if (fwrite(buf, 1, len, f) != len) {
		fclose(f);
		return io_error("cannot write", path);
	}
	if (fclose(f) != 0)
		return io_error("cannot write", path);
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Positive decimal within [1, max], or -1. */
static long parse_num(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	return v;
}

/* Width and height of 4:2:0 pictures must be even so the chroma planes are whole. */
static int parse_size(const char *ws, const char *hs, size_t *w, size_t *h)
{
	long wv = parse_num(ws, MAX_DIM), hv = parse_num(hs, MAX_DIM);

	if (wv < 2 || hv < 2 || wv % 2 || hv % 2) {
		fprintf(stderr, "yuvtool: bad size %sx%s (even, 2..%ld)\n", ws, hs, MAX_DIM);
		return -1;
	}
	*w = (size_t)wv;
	*h = (size_t)hv;
	return 0;
}

/* The test picture: diagonal ramps, a checkerboard that flips every 4 frames and a bright
 * square that moves across, so FWHT has both flat and busy blocks and P-frames have motion. */
static int gen(size_t w, size_t h, long n, const char *out)
{
	size_t ysz = w * h, csz = ysz / 4;
	uint8_t *pic = malloc(ysz + 2 * csz);
	FILE *f = fopen(out, "wb");
	int ret = 0;

	if (!pic || !f) {
		ret = io_error("cannot create", out);
		goto out;
	}
	for (long t = 0; t < n; t++) {
		size_t sq_x = (size_t)(t * 23) % (w - w / 8), sq_y = (size_t)(t * 11) % (h - h / 8);
		uint8_t *u = pic + ysz, *v = u + csz;

		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++) {
				unsigned val = (unsigned)(x + 2 * y + 3 * (size_t)t) & 0x7f;

				if (((x / 32 + y / 32 + (size_t)t / 4) & 1) != 0)
					val += 0x40;
				if (x >= sq_x && x < sq_x + w / 8 && y >= sq_y && y < sq_y + h / 8)
					val = 235;
				pic[y * w + x] = (uint8_t)val;
			}
		for (size_t y = 0; y < h / 2; y++)
			for (size_t x = 0; x < w / 2; x++) {
				u[y * (w / 2) + x] = (uint8_t)(96 + ((x + (size_t)t * 2) & 0x3f));
				v[y * (w / 2) + x] = (uint8_t)(96 + ((y + (size_t)t * 3) & 0x3f));
			}
		if (fwrite(pic, 1, ysz + 2 * csz, f) != ysz + 2 * csz) {
			ret = io_error("cannot write", out);
			goto out;
		}
	}
	if (fclose(f) != 0)
		ret = io_error("cannot write", out);
	f = NULL;
out:
	if (f)
		fclose(f);
	free(pic);
	return ret;
}

static int psnr(size_t w, size_t h, const char *a, const char *b, double min_db)
{
	size_t fsz = w * h * 3 / 2, ysz = w * h, csz = ysz / 4, la, lb;
	uint8_t *pa = read_file(a, &la), *pb = read_file(b, &lb);
	double se[3] = { 0, 0, 0 }, db[3];
	size_t cnt[3] = { 0, 0, 0 }, differing = 0;
	int ret = 1;

	if (!pa || !pb) {
		ret = io_error("cannot read", !pa ? a : b);
		goto out;
	}
	printf("frames: %s %zu (%zu bytes), %s %zu (%zu bytes)\n", a, la / fsz, la, b, lb / fsz,
	       lb);
	if (la % fsz || lb % fsz || la != lb || la == 0) {
		printf("not the same whole number of %zux%zu frames\n", w, h);
		goto out;
	}
	for (size_t i = 0; i < la; i++) {
		size_t in_frame = i % fsz;
		unsigned plane = in_frame < ysz ? 0 : in_frame < ysz + csz ? 1 : 2;
		int d = (int)pa[i] - (int)pb[i];

		se[plane] += (double)d * d;
		cnt[plane]++;
		differing += d != 0;
	}
	for (unsigned p = 0; p < 3; p++) {
		double mse = se[p] / (double)cnt[p];

		db[p] = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0;
	}
	printf("PSNR Y %.2f dB, U %.2f dB, V %.2f dB; %zu of %zu bytes differ\n", db[0], db[1],
	       db[2], differing, la);
	ret = db[0] >= min_db ? 0 : 1;
out:
	free(pa);
	free(pb);
	return ret;
}

static int fwht_info(const char *path)
{
	size_t len, off = 0, run = 0;
	uint8_t *buf = read_file(path, &len);
	uint32_t run_w = 0, run_h = 0;
	int ret = 0;

	if (!buf)
		return io_error("cannot read", path);
	while (off < len) {
		const uint8_t *hdr = buf + off;
		uint32_t w, h, payload;

		if (len - off < FWHT_HDR_SIZE || memcmp(hdr, fwht_magic, sizeof(fwht_magic))) {
			fprintf(stderr, "yuvtool: %s: no FWHT header at offset %zu\n", path, off);
			ret = 1;
			break;
		}
		w = be32(hdr + FWHT_WIDTH_OFF);
		h = be32(hdr + FWHT_HEIGHT_OFF);
		payload = be32(hdr + FWHT_SIZE_OFF);
		if (payload > len - off - FWHT_HDR_SIZE) {
			fprintf(stderr, "yuvtool: %s: frame at offset %zu is cut short\n", path,
				off);
			ret = 1;
			break;
		}
		if (run && (w != run_w || h != run_h)) {
			printf("%ux%u %zu\n", run_w, run_h, run);
			run = 0;
		}
		run_w = w;
		run_h = h;
		run++;
		off += FWHT_HDR_SIZE + payload;
	}
	if (run)
		printf("%ux%u %zu\n", run_w, run_h, run);
	free(buf);
	return ret;
}

static int fwht_corrupt(const char *in, const char *out, long k)
{
	size_t len, off = 0;
	uint8_t *buf = read_file(in, &len);
	int ret;

	if (!buf)
		return io_error("cannot read", in);
	for (long i = 0;; i++) {
		if (len - off < FWHT_HDR_SIZE ||
		    memcmp(buf + off, fwht_magic, sizeof(fwht_magic)) != 0) {
			fprintf(stderr, "yuvtool: %s: no FWHT frame %ld\n", in, k);
			free(buf);
			return 1;
		}
		if (i == k)
			break;
		off += FWHT_HDR_SIZE + (size_t)be32(buf + off + FWHT_SIZE_OFF);
		if (off > len)
			off = len;
	}
	/* Version 0 does not exist: vicodec drops the frame with an error and keeps going. */
	memset(buf + off + FWHT_VERSION_OFF, 0, 4);
	ret = write_file(out, buf, len);
	free(buf);
	return ret;
}

static int nv12_to_i420(size_t w, size_t h, const char *in, const char *out)
{
	size_t fsz = w * h * 3 / 2, ysz = w * h, len;
	uint8_t *src = read_file(in, &len), *dst = NULL;
	int ret;

	if (!src)
		return io_error("cannot read", in);
	if (len % fsz) {
		fprintf(stderr, "yuvtool: %s: %zu bytes is not a whole number of frames\n", in,
			len);
		free(src);
		return 1;
	}
	dst = malloc(len + 1);
	if (!dst) {
		free(src);
		return 2;
	}
	for (size_t f = 0; f < len; f += fsz) {
		const uint8_t *uv = src + f + ysz;
		uint8_t *u = dst + f + ysz, *v = u + ysz / 4;

		memcpy(dst + f, src + f, ysz);
		for (size_t i = 0; i < ysz / 4; i++) {
			u[i] = uv[2 * i];
			v[i] = uv[2 * i + 1];
		}
	}
	ret = write_file(out, dst, len);
	free(src);
	free(dst);
	return ret;
}

static int null_pattern(size_t w, size_t h, long n, const char *path)
{
	size_t len, pos = 0, bad = 0;
	uint8_t *buf = read_file(path, &len);

	if (!buf)
		return io_error("cannot read", path);
	if (len != (size_t)n * w * h * 3 / 2) {
		printf("%s: %zu bytes, want %ld frames of %zux%zu = %zu\n", path, len, n, w, h,
		       (size_t)n * w * h * 3 / 2);
		free(buf);
		return 1;
	}
	for (long f = 0; f < n; f++)
		for (unsigned p = 0; p < 3; p++) {
			size_t rows = p ? h / 2 : h, cols = p ? w / 2 : w;

			for (size_t r = 0; r < rows; r++) {
				uint8_t want = (uint8_t)(((size_t)f + r + 64 * p) & 0xff);

				for (size_t c = 0; c < cols; c++, pos++)
					if (buf[pos] != want && bad++ < 3)
						printf("frame %ld plane %u row %zu col %zu: "
						       "0x%02x, want 0x%02x\n",
						       f, p, r, c, buf[pos], want);
			}
		}
	free(buf);
	printf("%s: %ld frames, %zu bytes differ from the pattern\n", path, n, bad);
	return bad ? 1 : 0;
}

static int usage(void)
{
	fputs("usage: yuvtool gen W H N OUT | psnr W H A B MIN_DB | fwht-info FILE |\n"
	      "               fwht-corrupt IN OUT K | nv12-to-i420 W H IN OUT |\n"
	      "               null-pattern W H N FILE\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	size_t w, h;
	long n;

	if (!strcmp(cmd, "fwht-info") && argc == 3)
		return fwht_info(argv[2]);
	if (!strcmp(cmd, "fwht-corrupt") && argc == 5) {
		n = strcmp(argv[4], "0") ? parse_num(argv[4], 1L << 30) : 0;
		return n < 0 ? usage() : fwht_corrupt(argv[2], argv[3], n);
	}
	if (argc < 4 || parse_size(argv[2], argv[3], &w, &h))
		return usage();
	if (!strcmp(cmd, "gen") && argc == 6) {
		n = parse_num(argv[4], 100000);
		return n < 0 ? usage() : gen(w, h, n, argv[5]);
	}
	if (!strcmp(cmd, "psnr") && argc == 7) {
		char *end;
		double min_db = strtod(argv[6], &end);

		return *end || end == argv[6] ? usage() : psnr(w, h, argv[4], argv[5], min_db);
	}
	if (!strcmp(cmd, "nv12-to-i420") && argc == 6)
		return nv12_to_i420(w, h, argv[4], argv[5]);
	if (!strcmp(cmd, "null-pattern") && argc == 6) {
		n = parse_num(argv[4], 100000);
		return n < 0 ? usage() : null_pattern(w, h, n, argv[5]);
	}
	return usage();
}
