#include "raw_layout.h"

#include <string.h>

uint32_t raw_clamp_step(uint32_t v, uint32_t min, uint32_t max, uint32_t step)
{
	if (v <= min)
		return min;
	if (v >= max)
		return max;
	if (step == 0)
		step = 1; /* no division by zero whatever a caller passes */
	return min + (v - min) / step * step;
}

void raw_set_frame(struct vv_stream_params *p, const struct vv_caps_frame *range,
		   uint32_t width, uint32_t height)
{
	p->frame_width = raw_clamp_step(width, range->width.min, range->width.max,
					range->width.step);
	p->frame_height = raw_clamp_step(height, range->height.min, range->height.max,
					 range->height.step);
	p->crop.left = 0;
	p->crop.top = 0;
	p->crop.width = p->frame_width;
	p->crop.height = p->frame_height;
}

void raw_set_planes(struct vv_stream_params *p)
{
	uint64_t w = p->frame_width, h = p->frame_height;

	memset(p->plane_formats, 0, sizeof(p->plane_formats));
	p->plane_formats[0].plane_size = (uint32_t)(w * h);
	p->plane_formats[0].stride = (uint32_t)w;
	if (p->format == VV_FORMAT_NV12) {
		p->num_planes = 2;
		p->plane_formats[1].plane_size = (uint32_t)(w * (h / 2));
		p->plane_formats[1].stride = (uint32_t)w;
	} else {
		p->num_planes = 3;
		for (unsigned i = 1; i < 3; i++) {
			p->plane_formats[i].plane_size = (uint32_t)((w / 2) * (h / 2));
			p->plane_formats[i].stride = (uint32_t)(w / 2);
		}
	}
}
