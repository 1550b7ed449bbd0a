/* V4L2 helpers: system calls, format tables, raw plane layout, capabilities. */
#include "v4l2_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- system calls ------------------------------------------------------------------------- */

static int sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

const struct v4l2_io v4l2_sys_io = {
	.open = sys_open,
	.close = close,
	.ioctl = sys_ioctl,
	.mmap = mmap,
	.munmap = munmap,
};

int v4l2u_ioctl(const struct v4l2_io *io, int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = io->ioctl(fd, request, arg);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- formats ------------------------------------------------------------------------------ */

struct fmt_entry {
	uint32_t vv_format;
	uint32_t fourcc;
	uint8_t mem_planes;   /* in the multi-planar API */
	uint8_t color_planes; /* 0: coded */
};

/* Per virtio-video format, the preferred fourcc first. ARGB8888 and BGRA8888 follow the
 * guest driver's mapping, so the guest's V4L2 view names the bytes we hand back. */
static const struct fmt_entry fmt_table[] = {
	{ VV_FORMAT_MPEG2, V4L2_PIX_FMT_MPEG2, 1, 0 },
	{ VV_FORMAT_MPEG4, V4L2_PIX_FMT_MPEG4, 1, 0 },
	{ VV_FORMAT_H264, V4L2_PIX_FMT_H264, 1, 0 },
	{ VV_FORMAT_HEVC, V4L2_PIX_FMT_HEVC, 1, 0 },
	{ VV_FORMAT_VP8, V4L2_PIX_FMT_VP8, 1, 0 },
	{ VV_FORMAT_VP9, V4L2_PIX_FMT_VP9, 1, 0 },
	{ VV_FORMAT_FWHT, V4L2_PIX_FMT_FWHT, 1, 0 },
	{ VV_FORMAT_NV12, V4L2_PIX_FMT_NV12, 1, 2 },
	{ VV_FORMAT_NV12, V4L2_PIX_FMT_NV12M, 2, 2 },
	{ VV_FORMAT_YUV420, V4L2_PIX_FMT_YUV420, 1, 3 },
	{ VV_FORMAT_YUV420, V4L2_PIX_FMT_YUV420M, 3, 3 },
	{ VV_FORMAT_YVU420, V4L2_PIX_FMT_YVU420, 1, 3 },
	{ VV_FORMAT_YVU420, V4L2_PIX_FMT_YVU420M, 3, 3 },
	{ VV_FORMAT_ARGB8888, V4L2_PIX_FMT_ARGB32, 1, 1 },
	{ VV_FORMAT_BGRA8888, V4L2_PIX_FMT_ABGR32, 1, 1 },
};

#define FMT_COUNT (sizeof(fmt_table) / sizeof(fmt_table[0]))

static const struct fmt_entry *fmt_by_fourcc(uint32_t fourcc)
{
	for (size_t i = 0; i < FMT_COUNT; i++)
		if (fmt_table[i].fourcc == fourcc)
			return &fmt_table[i];
	return NULL;
}

static const struct fmt_entry *fmt_by_vv(uint32_t vv_format)
{
	for (size_t i = 0; i < FMT_COUNT; i++)
		if (fmt_table[i].vv_format == vv_format)
			return &fmt_table[i];
	return NULL;
}

uint32_t v4l2u_fourcc_to_vv(uint32_t fourcc)
{
	const struct fmt_entry *e = fmt_by_fourcc(fourcc);

	return e ? e->vv_format : 0;
}

uint32_t v4l2u_vv_to_fourcc(uint32_t vv_format, unsigned idx)
{
	for (size_t i = 0; i < FMT_COUNT; i++)
		if (fmt_table[i].vv_format == vv_format && idx-- == 0)
			return fmt_table[i].fourcc;
	return 0;
}

bool v4l2u_vv_is_coded(uint32_t vv_format)
{
	const struct fmt_entry *e = fmt_by_vv(vv_format);

	return e && e->color_planes == 0;
}

unsigned v4l2u_fourcc_mem_planes(uint32_t fourcc)
{
	const struct fmt_entry *e = fmt_by_fourcc(fourcc);

	return e ? e->mem_planes : 0;
}

unsigned v4l2u_vv_color_planes(uint32_t vv_format)
{
	const struct fmt_entry *e = fmt_by_vv(vv_format);

	return e ? e->color_planes : 0;
}

const char *v4l2u_fourcc_str(uint32_t fourcc, char *buf)
{
	for (unsigned i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);

		buf[i] = (c >= 0x20 && c < 0x7f) ? c : '.';
	}
	buf[4] = '\0';
	return buf;
}

uint32_t v4l2u_buf_type(bool mplane, bool capture)
{
	if (mplane)
		return capture ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
			       : V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	return capture ? V4L2_BUF_TYPE_VIDEO_CAPTURE : V4L2_BUF_TYPE_VIDEO_OUTPUT;
}

void v4l2u_pix_from_format(const struct v4l2_format *f, bool mplane, struct v4l2u_pix *pix)
{
	memset(pix, 0, sizeof(*pix));
	if (mplane) {
		const struct v4l2_pix_format_mplane *mp = &f->fmt.pix_mp;
		unsigned n = mp->num_planes;

		/* A driver answering 0 or too many planes is clamped, not trusted. */
		if (n == 0)
			n = 1;
		if (n > VIDEO_MAX_PLANES)
			n = VIDEO_MAX_PLANES;
		pix->fourcc = mp->pixelformat;
		pix->width = mp->width;
		pix->height = mp->height;
		pix->num_planes = n;
		for (unsigned i = 0; i < n; i++) {
			pix->bytesperline[i] = mp->plane_fmt[i].bytesperline;
			pix->sizeimage[i] = mp->plane_fmt[i].sizeimage;
		}
	} else {
		pix->fourcc = f->fmt.pix.pixelformat;
		pix->width = f->fmt.pix.width;
		pix->height = f->fmt.pix.height;
		pix->num_planes = 1;
		pix->bytesperline[0] = f->fmt.pix.bytesperline;
		pix->sizeimage[0] = f->fmt.pix.sizeimage;
	}
}

void v4l2u_format_from_pix(struct v4l2_format *f, bool mplane, bool capture,
			   const struct v4l2u_pix *pix)
{
	memset(f, 0, sizeof(*f));
	f->type = v4l2u_buf_type(mplane, capture);
	if (mplane) {
		struct v4l2_pix_format_mplane *mp = &f->fmt.pix_mp;
		unsigned n = pix->num_planes ? pix->num_planes : 1;

		if (n > VIDEO_MAX_PLANES)
			n = VIDEO_MAX_PLANES;
		mp->pixelformat = pix->fourcc;
		mp->width = pix->width;
		mp->height = pix->height;
		mp->field = V4L2_FIELD_NONE;
		mp->num_planes = (uint8_t)n;
		for (unsigned i = 0; i < n; i++) {
			mp->plane_fmt[i].bytesperline = pix->bytesperline[i];
			mp->plane_fmt[i].sizeimage = pix->sizeimage[i];
		}
	} else {
		f->fmt.pix.pixelformat = pix->fourcc;
		f->fmt.pix.width = pix->width;
		f->fmt.pix.height = pix->height;
		f->fmt.pix.field = V4L2_FIELD_NONE;
		f->fmt.pix.bytesperline = pix->bytesperline[0];
		f->fmt.pix.sizeimage = pix->sizeimage[0];
	}
}

int v4l2u_raw_planes(const struct v4l2u_pix *pix, uint32_t vv_format,
		     struct vv_stream_params *p)
{
	unsigned n = v4l2u_vv_color_planes(vv_format);
	uint64_t h = pix->height, half_h = (h + 1) / 2, bpl = pix->bytesperline[0];
	uint64_t size[3] = { 0 }, stride[3] = { 0 }, sum = 0;

	if (n == 0 || pix->num_planes == 0)
		return -EINVAL;
	memset(p->plane_formats, 0, sizeof(p->plane_formats));
	if (pix->num_planes > 1) {
		if (pix->num_planes != n)
			return -EINVAL;
		for (unsigned i = 0; i < n; i++) {
			if (pix->sizeimage[i] == 0)
				return -EINVAL;
			p->plane_formats[i].plane_size = pix->sizeimage[i];
			p->plane_formats[i].stride = pix->bytesperline[i];
		}
		p->num_planes = n;
		return 0;
	}

	/* One memory plane: the colour planes back to back. */
	size[0] = bpl * h;
	stride[0] = bpl;
	if (vv_format == VV_FORMAT_NV12) {
		stride[1] = bpl;
		size[1] = bpl * half_h;
	} else if (n == 3) {
		stride[1] = stride[2] = (bpl + 1) / 2;
		size[1] = size[2] = stride[1] * half_h;
	}
	for (unsigned i = 0; i < n; i++)
		sum += size[i];
	if (bpl == 0 || h == 0 || sum > pix->sizeimage[0])
		return -EINVAL;
	size[n - 1] += pix->sizeimage[0] - sum;
	for (unsigned i = 0; i < n; i++) {
		p->plane_formats[i].plane_size = (uint32_t)size[i];
		p->plane_formats[i].stride = (uint32_t)stride[i];
	}
	p->num_planes = n;
	return 0;
}

/* ---- timestamps --------------------------------------------------------------------------- */

void v4l2u_ticket_to_timeval(uint64_t ticket, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ticket / 1000000u);
	tv->tv_usec = (suseconds_t)(ticket % 1000000u);
}

uint64_t v4l2u_timeval_to_ticket(const struct timeval *tv)
{
	if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
		return 0;
	return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

/* ---- capabilities ------------------------------------------------------------------------- */

/* Frame sizes of a fourcc: one vv_caps_frame per discrete size or one stepwise range.
 * 0 frames when the driver does not enumerate them. */
static int enum_sizes(const struct v4l2_io *io, int fd, uint32_t fourcc,
		      struct vv_caps_frame **out, uint32_t *count)
{
	struct vv_caps_frame *frames = calloc(V4L2U_MAX_SIZES, sizeof(*frames));
	uint32_t n = 0;

	*out = NULL;
	*count = 0;
	if (!frames)
		return -ENOMEM;
	for (uint32_t idx = 0; idx < V4L2U_MAX_SIZES; idx++) {
		struct v4l2_frmsizeenum fs = { .index = idx, .pixel_format = fourcc };

		if (v4l2u_ioctl(io, fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
			break;
		if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
			if (!fs.discrete.width || !fs.discrete.height)
				continue;
			frames[n].width = (struct vv_caps_range){ fs.discrete.width,
								  fs.discrete.width, 1 };
			frames[n].height = (struct vv_caps_range){ fs.discrete.height,
								   fs.discrete.height, 1 };
			n++;
			continue;
		}
		/* STEPWISE or CONTINUOUS: one range, and the list ends there. */
		if (fs.stepwise.min_width > fs.stepwise.max_width ||
		    fs.stepwise.min_height > fs.stepwise.max_height || !fs.stepwise.max_width ||
		    !fs.stepwise.max_height)
			break;
		frames[n].width = (struct vv_caps_range){
			fs.stepwise.min_width, fs.stepwise.max_width,
			fs.type == V4L2_FRMSIZE_TYPE_CONTINUOUS || !fs.stepwise.step_width
				? 1 : fs.stepwise.step_width };
		frames[n].height = (struct vv_caps_range){
			fs.stepwise.min_height, fs.stepwise.max_height,
			fs.type == V4L2_FRMSIZE_TYPE_CONTINUOUS || !fs.stepwise.step_height
				? 1 : fs.stepwise.step_height };
		n++;
		break;
	}
	if (n == 0) {
		free(frames);
		return 0;
	}
	*out = frames;
	*count = n;
	return 0;
}

/* Frames per second of an interval, rounded, at least 1. */
static uint32_t interval_fps(const struct v4l2_fract *f)
{
	uint64_t fps;

	if (f->numerator == 0)
		return 0;
	fps = ((uint64_t)f->denominator + f->numerator / 2) / f->numerator;
	return fps ? (uint32_t)(fps > UINT32_MAX ? UINT32_MAX : fps) : 1;
}

/* Frame rates of a fourcc at one size (its largest): discrete intervals become one rate
 * each, a stepwise interval one range. None when the driver does not enumerate them. */
static int enum_rates(const struct v4l2_io *io, int fd, uint32_t fourcc,
		      struct vv_caps_frame *frame)
{
	struct vv_caps_range *rates = calloc(V4L2U_MAX_RATES, sizeof(*rates));
	uint32_t n = 0;

	if (!rates)
		return -ENOMEM;
	for (uint32_t idx = 0; idx < V4L2U_MAX_RATES; idx++) {
		struct v4l2_frmivalenum fi = {
			.index = idx,
			.pixel_format = fourcc,
			.width = frame->width.max,
			.height = frame->height.max,
		};
		uint32_t lo, hi;

		if (v4l2u_ioctl(io, fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
			break;
		if (fi.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			lo = interval_fps(&fi.discrete);
			if (lo)
				rates[n++] = (struct vv_caps_range){ lo, lo, 1 };
			continue;
		}
		/* The longest interval is the lowest rate. */
		lo = interval_fps(&fi.stepwise.max);
		hi = interval_fps(&fi.stepwise.min);
		if (lo && hi && lo <= hi)
			rates[n++] = (struct vv_caps_range){ lo, hi, 1 };
		break;
	}
	if (n == 0) {
		free(rates);
		return 0;
	}
	frame->rates = rates;
	frame->num_rates = n;
	return 0;
}

static void free_frames(struct vv_caps_format *d)
{
	struct vv_caps_frame *frames = (struct vv_caps_frame *)d->frames;

	for (uint32_t i = 0; frames && i < d->num_frames; i++)
		free((void *)frames[i].rates);
	free(frames);
	d->frames = NULL;
	d->num_frames = 0;
}

/* Frames (with rates) of a fourcc into desc; a format the driver gives no sizes for keeps
 * 0 frames here (the caller fills them in). */
static int desc_frames(const struct v4l2_io *io, int fd, uint32_t fourcc,
		       struct vv_caps_format *desc)
{
	struct vv_caps_frame *frames;
	uint32_t n;
	int ret = enum_sizes(io, fd, fourcc, &frames, &n);

	if (ret < 0)
		return ret;
	desc->frames = frames;
	desc->num_frames = n;
	for (uint32_t i = 0; i < n; i++) {
		ret = enum_rates(io, fd, fourcc, &frames[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Deep copy of the frames of src into dst (used for raw formats without sizes of their own). */
static int copy_frames(struct vv_caps_format *dst, const struct vv_caps_format *src)
{
	struct vv_caps_frame *frames;

	if (!src->num_frames)
		return 0;
	frames = calloc(src->num_frames, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	dst->frames = frames;
	dst->num_frames = src->num_frames;
	for (uint32_t i = 0; i < src->num_frames; i++) {
		frames[i] = src->frames[i];
		frames[i].rates = NULL;
		frames[i].num_rates = 0;
		if (!src->frames[i].num_rates)
			continue;
		frames[i].rates = malloc(src->frames[i].num_rates * sizeof(*frames[i].rates));
		if (!frames[i].rates)
			return -ENOMEM;
		memcpy((void *)frames[i].rates, src->frames[i].rates,
		       src->frames[i].num_rates * sizeof(*frames[i].rates));
		frames[i].num_rates = src->frames[i].num_rates;
	}
	return 0;
}

/* A format nothing told us the sizes of: any size the guest asks for, the driver adjusts. */
static int default_frames(struct vv_caps_format *d)
{
	struct vv_caps_frame *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->width = (struct vv_caps_range){ 1, 8192, 1 };
	f->height = (struct vv_caps_range){ 1, 8192, 1 };
	d->frames = f;
	d->num_frames = 1;
	return 0;
}

static bool within_budget(const struct v4l2u_caps *c)
{
	size_t a = vv_caps_encoded_size(&c->in), b = vv_caps_encoded_size(&c->out);

	return a && b && a <= VV_CAPS_BUDGET && b <= VV_CAPS_BUDGET;
}

/* Drops the rates of a descriptor (pass 0), or its frame ranges past the first (pass 1). */
static void trim_desc(struct vv_caps_format *d, int pass)
{
	struct vv_caps_frame *frames = (struct vv_caps_frame *)d->frames;

	for (uint32_t f = pass == 0 ? 0 : 1; f < d->num_frames; f++) {
		free((void *)frames[f].rates);
		frames[f].rates = NULL;
		frames[f].num_rates = 0;
	}
	if (pass == 1 && d->num_frames > 1)
		d->num_frames = 1; /* the array itself is freed whole */
}

/* Keeps the encoded caps within the budget: rates go first, then extra frame ranges. */
static void fit_budget(struct v4l2u_caps *c)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int q = 0; q < 2; q++) {
			struct vv_caps_format *descs = q ? c->out_descs : c->in_descs;
			uint32_t n = q ? c->out.num_descs : c->in.num_descs;

			for (uint32_t i = 0; i < n; i++) {
				if (within_budget(c))
					return;
				trim_desc(&descs[i], pass);
			}
		}
	}
}

void v4l2u_caps_free(struct v4l2u_caps *c)
{
	for (uint32_t i = 0; i < VV_MAX_FORMAT_DESCS; i++) {
		free_frames(&c->in_descs[i]);
		free_frames(&c->out_descs[i]);
	}
	memset(c, 0, sizeof(*c));
}

int v4l2u_caps_find(const struct vv_caps *caps, uint32_t vv_format)
{
	for (uint32_t i = 0; caps && i < caps->num_descs; i++)
		if (caps->descs[i].format == vv_format)
			return (int)i;
	return -1;
}

/* The mapped raw formats enumerated on CAPTURE while coded fourcc is set on OUTPUT. */
static int pair_raw_formats(const struct v4l2_io *io, int fd, bool mplane, struct v4l2u_caps *c,
			    unsigned coded_idx)
{
	struct v4l2u_pix pix = {
		.fourcc = c->in_fourcc[coded_idx], .width = 1280, .height = 720, .num_planes = 1,
	};
	struct v4l2_format f;
	int ret;

	/* A size the format allows, so that S_FMT is not refused for it. */
	if (c->in_descs[coded_idx].num_frames) {
		const struct vv_caps_frame *fr = &c->in_descs[coded_idx].frames[0];

		if (pix.width < fr->width.min || pix.width > fr->width.max)
			pix.width = fr->width.min;
		if (pix.height < fr->height.min || pix.height > fr->height.max)
			pix.height = fr->height.min;
	}
	v4l2u_format_from_pix(&f, mplane, false, &pix);
	ret = v4l2u_ioctl(io, fd, VIDIOC_S_FMT, &f);
	if (ret < 0)
		return 0; /* this coded format pairs with nothing we can name */

	for (uint32_t idx = 0; idx < V4L2U_MAX_ENUM; idx++) {
		struct v4l2_fmtdesc d = { .index = idx, .type = v4l2u_buf_type(mplane, true) };
		uint32_t vv;
		int j;

		if (v4l2u_ioctl(io, fd, VIDIOC_ENUM_FMT, &d) < 0)
			break;
		vv = v4l2u_fourcc_to_vv(d.pixelformat);
		if (!vv || v4l2u_vv_is_coded(vv) || (d.flags & V4L2_FMT_FLAG_COMPRESSED))
			continue;
		j = v4l2u_caps_find(&c->out, vv);
		if (j < 0) {
			if (c->out.num_descs == VV_MAX_FORMAT_DESCS)
				continue;
			j = (int)c->out.num_descs++;
			c->out_descs[j].format = vv;
			c->out_descs[j].planes_layout =
				v4l2u_fourcc_mem_planes(d.pixelformat) > 1
					? VV_PLANES_LAYOUT_PER_PLANE
					: VV_PLANES_LAYOUT_SINGLE_BUFFER;
			c->out_descs[j].plane_align = 1;
			c->out_fourcc[j] = d.pixelformat;
			ret = desc_frames(io, fd, d.pixelformat, &c->out_descs[j]);
			if (ret < 0)
				return ret;
			if (!c->out_descs[j].num_frames) {
				ret = copy_frames(&c->out_descs[j], &c->in_descs[coded_idx]);
				if (ret < 0)
					return ret;
			}
		}
		c->in_descs[coded_idx].mask |= 1ull << j;
		c->out_descs[j].mask |= 1ull << coded_idx;
	}
	return 0;
}

int v4l2u_build_caps(const struct v4l2_io *io, int fd, bool mplane, struct v4l2u_caps *c)
{
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->in.descs = c->in_descs;
	c->out.descs = c->out_descs;

	for (uint32_t idx = 0; idx < V4L2U_MAX_ENUM; idx++) {
		struct v4l2_fmtdesc d = { .index = idx, .type = v4l2u_buf_type(mplane, false) };
		uint32_t vv;
		struct vv_caps_format *desc;

		if (v4l2u_ioctl(io, fd, VIDIOC_ENUM_FMT, &d) < 0)
			break;
		if (!(d.flags & V4L2_FMT_FLAG_COMPRESSED))
			continue;
		c->compressed_seen++;
		vv = v4l2u_fourcc_to_vv(d.pixelformat);
		if (!vv || !v4l2u_vv_is_coded(vv) || v4l2u_caps_find(&c->in, vv) >= 0 ||
		    c->in.num_descs == VV_MAX_FORMAT_DESCS)
			continue;
		desc = &c->in_descs[c->in.num_descs];
		desc->format = vv;
		desc->planes_layout = VV_PLANES_LAYOUT_SINGLE_BUFFER;
		desc->plane_align = 1;
		c->in_fourcc[c->in.num_descs] = d.pixelformat;
		c->in.num_descs++;
		ret = desc_frames(io, fd, d.pixelformat, desc);
		if (ret == 0 && !desc->num_frames)
			ret = default_frames(desc);
		if (ret < 0)
			goto fail;
	}
	if (c->compressed_seen == 0) {
		ret = -ENOENT;
		goto fail;
	}
	for (unsigned i = 0; i < c->in.num_descs; i++) {
		ret = pair_raw_formats(io, fd, mplane, c, i);
		if (ret < 0)
			goto fail;
	}

	/* A coded format nothing pairs with cannot be decoded to anything: leave it out. */
	{
		unsigned kept = 0;

		for (unsigned i = 0; i < c->in.num_descs; i++) {
			if (!c->in_descs[i].mask) {
				free_frames(&c->in_descs[i]);
				continue;
			}
			if (kept != i) {
				uint64_t bit_old = 1ull << i, bit_new = 1ull << kept;

				c->in_descs[kept] = c->in_descs[i];
				c->in_fourcc[kept] = c->in_fourcc[i];
				memset(&c->in_descs[i], 0, sizeof(c->in_descs[i]));
				for (unsigned j = 0; j < c->out.num_descs; j++)
					if (c->out_descs[j].mask & bit_old)
						c->out_descs[j].mask =
							(c->out_descs[j].mask & ~bit_old) | bit_new;
			}
			kept++;
		}
		c->in.num_descs = kept;
	}
	if (c->in.num_descs == 0 || c->out.num_descs == 0) {
		ret = -ENOTSUP;
		goto fail;
	}
	fit_budget(c);
	return 0;

fail:
	v4l2u_caps_free(c);
	return ret;
}
