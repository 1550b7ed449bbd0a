/* v4l2_util: format tables both ways, raw plane layouts, timestamp tickets, format
 * conversions, and capabilities built from a scripted enumeration. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "v4l2_util.h"

/* ---- formats ------------------------------------------------------------------------------ */

static void t_fourcc_to_vv(void)
{
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_FWHT), VV_FORMAT_FWHT);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_H264), VV_FORMAT_H264);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_HEVC), VV_FORMAT_HEVC);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_VP8), VV_FORMAT_VP8);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_VP9), VV_FORMAT_VP9);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_MPEG2), VV_FORMAT_MPEG2);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_MPEG4), VV_FORMAT_MPEG4);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_NV12), VV_FORMAT_NV12);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_NV12M), VV_FORMAT_NV12);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_YUV420), VV_FORMAT_YUV420);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_YUV420M), VV_FORMAT_YUV420);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_YVU420), VV_FORMAT_YVU420);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_YVU420M), VV_FORMAT_YVU420);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_ARGB32), VV_FORMAT_ARGB8888);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_ABGR32), VV_FORMAT_BGRA8888);
	/* Not mappable: stateless FWHT, H.264 without start codes, packed YUYV, 0. */
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_FWHT_STATELESS), 0);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_H264_NO_SC), 0);
	CHECK_EQ(v4l2u_fourcc_to_vv(V4L2_PIX_FMT_YUYV), 0);
	CHECK_EQ(v4l2u_fourcc_to_vv(0), 0);
}

static void t_vv_to_fourcc(void)
{
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_FWHT, 0), V4L2_PIX_FMT_FWHT);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_FWHT, 1), 0);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_H264, 0), V4L2_PIX_FMT_H264);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_NV12, 0), V4L2_PIX_FMT_NV12);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_NV12, 1), V4L2_PIX_FMT_NV12M);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_NV12, 2), 0);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_YUV420, 0), V4L2_PIX_FMT_YUV420);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_YUV420, 1), V4L2_PIX_FMT_YUV420M);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_YVU420, 0), V4L2_PIX_FMT_YVU420);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_ARGB8888, 0), V4L2_PIX_FMT_ARGB32);
	CHECK_EQ(v4l2u_vv_to_fourcc(VV_FORMAT_BGRA8888, 0), V4L2_PIX_FMT_ABGR32);
	CHECK_EQ(v4l2u_vv_to_fourcc(0x7777, 0), 0);
	/* Every fourcc a format gives maps back to that format. */
	for (uint32_t vv = 1; vv <= VV_FORMAT_FWHT; vv++)
		for (unsigned i = 0; v4l2u_vv_to_fourcc(vv, i); i++)
			CHECK_EQ(v4l2u_fourcc_to_vv(v4l2u_vv_to_fourcc(vv, i)), vv);
}

static void t_format_properties(void)
{
	char buf[5];

	CHECK(v4l2u_vv_is_coded(VV_FORMAT_FWHT));
	CHECK(v4l2u_vv_is_coded(VV_FORMAT_VP9));
	CHECK(!v4l2u_vv_is_coded(VV_FORMAT_NV12));
	CHECK(!v4l2u_vv_is_coded(0x9999));
	CHECK_EQ(v4l2u_fourcc_mem_planes(V4L2_PIX_FMT_NV12), 1);
	CHECK_EQ(v4l2u_fourcc_mem_planes(V4L2_PIX_FMT_NV12M), 2);
	CHECK_EQ(v4l2u_fourcc_mem_planes(V4L2_PIX_FMT_YUV420M), 3);
	CHECK_EQ(v4l2u_fourcc_mem_planes(V4L2_PIX_FMT_YUYV), 0);
	CHECK_EQ(v4l2u_vv_color_planes(VV_FORMAT_NV12), 2);
	CHECK_EQ(v4l2u_vv_color_planes(VV_FORMAT_YUV420), 3);
	CHECK_EQ(v4l2u_vv_color_planes(VV_FORMAT_ARGB8888), 1);
	CHECK_EQ(v4l2u_vv_color_planes(VV_FORMAT_H264), 0);
	CHECK(strcmp(v4l2u_fourcc_str(V4L2_PIX_FMT_FWHT, buf), "FWHT") == 0);
	CHECK(strcmp(v4l2u_fourcc_str(0x01020341, buf), "A...") == 0);
}

static void t_raw_planes_contiguous(void)
{
	struct v4l2u_pix pix = { V4L2_PIX_FMT_YUV420, 640, 480, 1, { 640 }, { 460800 } };
	struct vv_stream_params p;

	memset(&p, 0xee, sizeof(p));
	REQUIRE(v4l2u_raw_planes(&pix, VV_FORMAT_YUV420, &p) == 0);
	CHECK_EQ(p.num_planes, 3);
	CHECK_EQ(p.plane_formats[0].plane_size, 307200);
	CHECK_EQ(p.plane_formats[0].stride, 640);
	CHECK_EQ(p.plane_formats[1].plane_size, 76800);
	CHECK_EQ(p.plane_formats[1].stride, 320);
	CHECK_EQ(p.plane_formats[2].plane_size, 76800);
	CHECK_EQ(p.plane_formats[2].stride, 320);
	CHECK_EQ(p.plane_formats[3].plane_size, 0); /* cleared past num_planes */

	/* NV12 with padding: the slack goes to the last plane, the planes add up. */
	pix = (struct v4l2u_pix){ V4L2_PIX_FMT_NV12, 1920, 1088, 1, { 2048 },
				  { 2048 * 1088 * 3 / 2 + 4096 } };
	REQUIRE(v4l2u_raw_planes(&pix, VV_FORMAT_NV12, &p) == 0);
	CHECK_EQ(p.num_planes, 2);
	CHECK_EQ(p.plane_formats[0].plane_size, 2048 * 1088);
	CHECK_EQ(p.plane_formats[0].stride, 2048);
	CHECK_EQ(p.plane_formats[1].plane_size, 2048 * 544 + 4096);
	CHECK_EQ(p.plane_formats[1].stride, 2048);

	/* Odd height: chroma rows round up. */
	pix = (struct v4l2u_pix){ V4L2_PIX_FMT_YUV420, 16, 9, 1, { 16 }, { 16 * 9 + 2 * 8 * 5 } };
	REQUIRE(v4l2u_raw_planes(&pix, VV_FORMAT_YUV420, &p) == 0);
	CHECK_EQ(p.plane_formats[1].plane_size, 40);
	CHECK_EQ(p.plane_formats[2].plane_size, 40);

	/* ARGB: one plane. */
	pix = (struct v4l2u_pix){ V4L2_PIX_FMT_ARGB32, 64, 32, 1, { 256 }, { 256 * 32 } };
	REQUIRE(v4l2u_raw_planes(&pix, VV_FORMAT_ARGB8888, &p) == 0);
	CHECK_EQ(p.num_planes, 1);
	CHECK_EQ(p.plane_formats[0].plane_size, 8192);
	CHECK_EQ(p.plane_formats[0].stride, 256);
}

static void t_raw_planes_multi_and_errors(void)
{
	struct v4l2u_pix pix = { V4L2_PIX_FMT_NV12M, 640, 480, 2, { 640, 640 },
				 { 307200, 153600 } };
	struct vv_stream_params p;

	REQUIRE(v4l2u_raw_planes(&pix, VV_FORMAT_NV12, &p) == 0);
	CHECK_EQ(p.num_planes, 2);
	CHECK_EQ(p.plane_formats[0].plane_size, 307200);
	CHECK_EQ(p.plane_formats[1].plane_size, 153600);
	CHECK_EQ(p.plane_formats[1].stride, 640);
	/* Two memory planes cannot carry three colour planes. */
	CHECK_EQ(v4l2u_raw_planes(&pix, VV_FORMAT_YUV420, &p), -EINVAL);
	/* sizeimage smaller than the planes. */
	pix = (struct v4l2u_pix){ V4L2_PIX_FMT_YUV420, 640, 480, 1, { 640 }, { 460799 } };
	CHECK_EQ(v4l2u_raw_planes(&pix, VV_FORMAT_YUV420, &p), -EINVAL);
	/* Coded or unknown formats have no colour planes. */
	pix.sizeimage[0] = 460800;
	CHECK_EQ(v4l2u_raw_planes(&pix, VV_FORMAT_H264, &p), -EINVAL);
	CHECK_EQ(v4l2u_raw_planes(&pix, 0x4444, &p), -EINVAL);
	/* A zero stride from a driver. */
	pix.bytesperline[0] = 0;
	CHECK_EQ(v4l2u_raw_planes(&pix, VV_FORMAT_YUV420, &p), -EINVAL);
}

/* The kernel keeps a buffer timestamp as signed nanoseconds: timeval in, timeval out. */
static void kernel_round_trip(struct timeval *tv)
{
	int64_t ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;

	tv->tv_sec = ns / 1000000000;
	tv->tv_usec = (ns % 1000000000) / 1000;
}

static void t_ticket_round_trip(void)
{
	static const uint64_t tickets[] = {
		1, 2, 999999, 1000000, 1000001, 33333333, 123456789012345ull,
		(1ull << 52) - 1,
	};
	struct timeval tv;

	for (size_t i = 0; i < sizeof(tickets) / sizeof(tickets[0]); i++) {
		v4l2u_ticket_to_timeval(tickets[i], &tv);
		CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
		kernel_round_trip(&tv);
		CHECK_EQ(v4l2u_timeval_to_ticket(&tv), tickets[i]);
	}
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	CHECK_EQ(v4l2u_timeval_to_ticket(&tv), 0);
	tv.tv_sec = 1;
	tv.tv_usec = 1000000;
	CHECK_EQ(v4l2u_timeval_to_ticket(&tv), 0);
}

static void t_format_conversions(void)
{
	struct v4l2u_pix pix = { V4L2_PIX_FMT_NV12M, 320, 240, 2, { 320, 320 }, { 76800, 38400 } };
	struct v4l2u_pix back;
	struct v4l2_format f;

	v4l2u_format_from_pix(&f, true, true, &pix);
	CHECK_EQ(f.type, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE);
	CHECK_EQ(f.fmt.pix_mp.num_planes, 2);
	CHECK_EQ(f.fmt.pix_mp.plane_fmt[1].sizeimage, 38400);
	v4l2u_pix_from_format(&f, true, &back);
	CHECK_MEM(&back, &pix, sizeof(pix));

	pix = (struct v4l2u_pix){ V4L2_PIX_FMT_FWHT, 640, 480, 1, { 0 }, { 460900 } };
	v4l2u_format_from_pix(&f, false, false, &pix);
	CHECK_EQ(f.type, V4L2_BUF_TYPE_VIDEO_OUTPUT);
	CHECK_EQ(f.fmt.pix.pixelformat, V4L2_PIX_FMT_FWHT);
	CHECK_EQ(f.fmt.pix.sizeimage, 460900);
	v4l2u_pix_from_format(&f, false, &back);
	CHECK_MEM(&back, &pix, sizeof(pix));

	/* A driver claiming 0 or 99 planes is clamped. */
	memset(&f, 0, sizeof(f));
	f.fmt.pix_mp.num_planes = 99;
	v4l2u_pix_from_format(&f, true, &back);
	CHECK_EQ(back.num_planes, VIDEO_MAX_PLANES);
	f.fmt.pix_mp.num_planes = 0;
	v4l2u_pix_from_format(&f, true, &back);
	CHECK_EQ(back.num_planes, 1);
	CHECK_EQ(v4l2u_buf_type(false, true), V4L2_BUF_TYPE_VIDEO_CAPTURE);
	CHECK_EQ(v4l2u_buf_type(true, false), V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE);
}

/* ---- scripted enumeration ----------------------------------------------------------------- */

struct script_fmt {
	uint32_t fourcc, flags;
};

static struct {
	bool mplane;
	const struct script_fmt *out_fmts;
	unsigned n_out;
	uint32_t cur_out;       /* set by S_FMT(OUTPUT) */
	unsigned s_fmt_calls;
	unsigned many_sizes;    /* H264: this many discrete sizes */
	unsigned many_rates;    /* and this many intervals each */
} sc;

static int script_ioctl(int fd, unsigned long req, void *arg)
{
	(void)fd;
	if (req == VIDIOC_ENUM_FMT) {
		struct v4l2_fmtdesc *d = arg;
		bool cap = d->type == V4L2_BUF_TYPE_VIDEO_CAPTURE ||
			   d->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
		bool mp = d->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE ||
			  d->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;

		if (mp != sc.mplane)
			goto einval;
		if (!cap) {
			if (d->index >= sc.n_out)
				goto einval;
			d->pixelformat = sc.out_fmts[d->index].fourcc;
			d->flags = sc.out_fmts[d->index].flags;
			return 0;
		}
		/* CAPTURE formats depend on the coded format set. */
		if (sc.cur_out == V4L2_PIX_FMT_FWHT) {
			static const uint32_t l[] = { V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_NV12,
						      V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_YVU420 };

			if (d->index >= 4)
				goto einval;
			d->pixelformat = l[d->index];
		} else if (sc.cur_out == V4L2_PIX_FMT_H264) {
			if (d->index >= 1)
				goto einval;
			d->pixelformat = V4L2_PIX_FMT_NV12;
		} else {
			goto einval;
		}
		d->flags = 0;
		return 0;
	}
	if (req == VIDIOC_S_FMT) {
		struct v4l2_format *f = arg;

		sc.s_fmt_calls++;
		if (f->type != (sc.mplane ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
					  : V4L2_BUF_TYPE_VIDEO_OUTPUT))
			goto einval;
		sc.cur_out = sc.mplane ? f->fmt.pix_mp.pixelformat : f->fmt.pix.pixelformat;
		return 0;
	}
	if (req == VIDIOC_ENUM_FRAMESIZES) {
		struct v4l2_frmsizeenum *fs = arg;

		if (fs->pixel_format == V4L2_PIX_FMT_FWHT ||
		    fs->pixel_format == V4L2_PIX_FMT_NV12) {
			if (fs->index)
				goto einval;
			fs->type = V4L2_FRMSIZE_TYPE_STEPWISE;
			fs->stepwise = (struct v4l2_frmsize_stepwise){ 640, 4096, 8, 360, 2160, 8 };
			return 0;
		}
		if (fs->pixel_format == V4L2_PIX_FMT_H264) {
			unsigned n = sc.many_sizes ? sc.many_sizes : 2;

			if (fs->index >= n)
				goto einval;
			fs->type = V4L2_FRMSIZE_TYPE_DISCRETE;
			fs->discrete.width = fs->index == 0 ? 1280 : 1920 + fs->index;
			fs->discrete.height = fs->index == 0 ? 720 : 1080;
			return 0;
		}
		goto einval;
	}
	if (req == VIDIOC_ENUM_FRAMEINTERVALS) {
		struct v4l2_frmivalenum *fi = arg;
		unsigned n = sc.many_rates ? sc.many_rates : 2;

		if (fi->pixel_format != V4L2_PIX_FMT_H264 || fi->index >= n)
			goto einval;
		fi->type = V4L2_FRMIVAL_TYPE_DISCRETE;
		fi->discrete.numerator = 1;
		fi->discrete.denominator = fi->index == 0 ? 30 : 60 + fi->index;
		return 0;
	}
einval:
	errno = EINVAL;
	return -1;
}

static const struct v4l2_io script_io = { .ioctl = script_ioctl };

static void script_reset(const struct script_fmt *f, unsigned n, bool mplane)
{
	memset(&sc, 0, sizeof(sc));
	sc.out_fmts = f;
	sc.n_out = n;
	sc.mplane = mplane;
}

static void t_caps_pairing(void)
{
	static const struct script_fmt outs[] = {
		{ V4L2_PIX_FMT_FWHT, V4L2_FMT_FLAG_COMPRESSED },
		{ v4l2_fourcc('X', 'X', 'X', 'X'), V4L2_FMT_FLAG_COMPRESSED }, /* unmapped */
		{ V4L2_PIX_FMT_H264, V4L2_FMT_FLAG_COMPRESSED },
		{ V4L2_PIX_FMT_VP8, V4L2_FMT_FLAG_COMPRESSED }, /* pairs with nothing */
		{ V4L2_PIX_FMT_NV12, 0 },                       /* not compressed */
	};
	struct v4l2u_caps c;
	const struct vv_caps_format *d;

	script_reset(outs, 5, false);
	REQUIRE(v4l2u_build_caps(&script_io, 3, false, &c) == 0);
	CHECK_EQ(c.compressed_seen, 4);
	/* INPUT: FWHT, H264 (VP8 dropped: nothing to decode it to). */
	REQUIRE(c.in.num_descs == 2);
	CHECK_EQ(c.in.descs[0].format, VV_FORMAT_FWHT);
	CHECK_EQ(c.in_fourcc[0], V4L2_PIX_FMT_FWHT);
	CHECK_EQ(c.in.descs[1].format, VV_FORMAT_H264);
	/* OUTPUT: YUV420, NV12, YVU420 in order of appearance (RGB24 unmapped). */
	REQUIRE(c.out.num_descs == 3);
	CHECK_EQ(c.out.descs[0].format, VV_FORMAT_YUV420);
	CHECK_EQ(c.out.descs[1].format, VV_FORMAT_NV12);
	CHECK_EQ(c.out.descs[2].format, VV_FORMAT_YVU420);
	CHECK_EQ(c.out_fourcc[1], V4L2_PIX_FMT_NV12);
	/* Masks both ways. */
	CHECK_EQ(c.in.descs[0].mask, 0x7);
	CHECK_EQ(c.in.descs[1].mask, 0x2);
	CHECK_EQ(c.out.descs[0].mask, 0x1);
	CHECK_EQ(c.out.descs[1].mask, 0x3);
	CHECK_EQ(c.out.descs[2].mask, 0x1);
	CHECK_EQ(c.in.descs[0].planes_layout, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	CHECK_EQ(c.out.descs[0].planes_layout, VV_PLANES_LAYOUT_SINGLE_BUFFER);
	CHECK_EQ(c.out.descs[0].plane_align, 1);
	/* Three coded formats were set on OUTPUT to list their raw formats. */
	CHECK_EQ(sc.s_fmt_calls, 3);

	/* Frames: FWHT stepwise, no rates. */
	d = &c.in.descs[0];
	REQUIRE(d->num_frames == 1);
	CHECK_EQ(d->frames[0].width.min, 640);
	CHECK_EQ(d->frames[0].width.max, 4096);
	CHECK_EQ(d->frames[0].width.step, 8);
	CHECK_EQ(d->frames[0].height.min, 360);
	CHECK_EQ(d->frames[0].height.max, 2160);
	CHECK_EQ(d->frames[0].num_rates, 0);
	/* H264: two discrete sizes, two rates each (30, 61). */
	d = &c.in.descs[1];
	REQUIRE(d->num_frames == 2);
	CHECK_EQ(d->frames[0].width.min, 1280);
	CHECK_EQ(d->frames[0].width.max, 1280);
	CHECK_EQ(d->frames[1].width.min, 1921);
	CHECK_EQ(d->frames[1].height.max, 1080);
	REQUIRE(d->frames[1].num_rates == 2);
	CHECK_EQ(d->frames[1].rates[0].min, 30);
	CHECK_EQ(d->frames[1].rates[0].max, 30);
	CHECK_EQ(d->frames[1].rates[1].min, 61);
	/* YUV420 has no sizes of its own: FWHT's. NV12 has its own. */
	d = &c.out.descs[0];
	REQUIRE(d->num_frames == 1);
	CHECK_EQ(d->frames[0].width.max, 4096);
	CHECK(d->frames != c.in.descs[0].frames); /* a copy, freed on its own */
	d = &c.out.descs[1];
	REQUIRE(d->num_frames == 1);
	CHECK_EQ(d->frames[0].height.min, 360);
	CHECK(vv_caps_encoded_size(&c.in) <= VV_CAPS_BUDGET);
	CHECK_EQ(v4l2u_caps_find(&c.out, VV_FORMAT_NV12), 1);
	CHECK_EQ(v4l2u_caps_find(&c.out, VV_FORMAT_ARGB8888), -1);
	v4l2u_caps_free(&c);
	CHECK_EQ(c.in.num_descs, 0);
}

static void t_caps_mplane(void)
{
	static const struct script_fmt outs[] = {
		{ V4L2_PIX_FMT_FWHT, V4L2_FMT_FLAG_COMPRESSED },
	};
	struct v4l2u_caps c;

	script_reset(outs, 1, true);
	REQUIRE(v4l2u_build_caps(&script_io, 3, true, &c) == 0);
	CHECK_EQ(c.in.num_descs, 1);
	CHECK_EQ(c.out.num_descs, 3);
	v4l2u_caps_free(&c);
	/* The single-planar enumeration on a multi-planar device finds nothing. */
	CHECK_EQ(v4l2u_build_caps(&script_io, 3, false, &c), -ENOENT);
}

static void t_caps_failures(void)
{
	static const struct script_fmt raw_only[] = { { V4L2_PIX_FMT_NV12, 0 } };
	static const struct script_fmt unmapped[] = {
		{ v4l2_fourcc('X', 'X', 'X', 'X'), V4L2_FMT_FLAG_COMPRESSED },
		{ V4L2_PIX_FMT_FWHT_STATELESS, V4L2_FMT_FLAG_COMPRESSED },
	};
	struct v4l2u_caps c;

	script_reset(raw_only, 1, false);
	CHECK_EQ(v4l2u_build_caps(&script_io, 3, false, &c), -ENOENT);
	CHECK_EQ(c.in.num_descs, 0);
	script_reset(unmapped, 2, false);
	CHECK_EQ(v4l2u_build_caps(&script_io, 3, false, &c), -ENOTSUP);
	CHECK_EQ(c.out.num_descs, 0);
}

static void t_caps_budget(void)
{
	static const struct script_fmt outs[] = {
		{ V4L2_PIX_FMT_H264, V4L2_FMT_FLAG_COMPRESSED },
	};
	struct v4l2u_caps c;

	script_reset(outs, 1, false);
	sc.many_sizes = V4L2U_MAX_SIZES + 4; /* cut at the enumeration limit */
	sc.many_rates = V4L2U_MAX_RATES;
	REQUIRE(v4l2u_build_caps(&script_io, 3, false, &c) == 0);
	/* 16 frames x 16 rates = 40 + 16 * (40 + 256) bytes: over 4096, so rates go. */
	CHECK(vv_caps_encoded_size(&c.in) <= VV_CAPS_BUDGET);
	CHECK(vv_caps_encoded_size(&c.out) <= VV_CAPS_BUDGET);
	CHECK_EQ(c.in.descs[0].num_frames, V4L2U_MAX_SIZES);
	CHECK_EQ(c.in.descs[0].frames[0].num_rates, 0);
	v4l2u_caps_free(&c);
}

int main(void)
{
	test_begin("v4l2_util");
	RUN_TEST(t_fourcc_to_vv);
	RUN_TEST(t_vv_to_fourcc);
	RUN_TEST(t_format_properties);
	RUN_TEST(t_raw_planes_contiguous);
	RUN_TEST(t_raw_planes_multi_and_errors);
	RUN_TEST(t_ticket_round_trip);
	RUN_TEST(t_format_conversions);
	RUN_TEST(t_caps_pairing);
	RUN_TEST(t_caps_mplane);
	RUN_TEST(t_caps_failures);
	RUN_TEST(t_caps_budget);
	return test_summary();
}
