/* Raw picture layout shared by the software backends: the frame size a guest may set
 * (clamped into a capability range) and the OUTPUT planes of NV12 and YUV420 at that size. */
#ifndef RAW_LAYOUT_H
#define RAW_LAYOUT_H

#include <stdint.h>

#include "vv_wire.h"

/* v within min..max: below min gives min, above max gives max, in between is rounded down
 * to min plus a whole number of steps (a step of 0 counts as 1). */
uint32_t raw_clamp_step(uint32_t v, uint32_t min, uint32_t max, uint32_t step);

/* Sets p's frame to width x height clamped into range's width and height (raw_clamp_step),
 * and its crop to the whole frame. */
void raw_set_frame(struct vv_stream_params *p, const struct vv_caps_frame *range,
		   uint32_t width, uint32_t height);

/* Sets p's planes for its format at its frame size w x h, stride = row width, sizes
 * rounded down (odd dimensions lose the last chroma row/column):
 *   NV12:            2 planes, Y w*h stride w, UV w*(h/2) stride w
 *   any other (I420): 3 planes, Y w*h stride w, U and V (w/2)*(h/2) stride w/2
 * The unused plane entries are zeroed. The caller keeps w*h*3/2 within 32 bits. */
void raw_set_planes(struct vv_stream_params *p);

#endif
