/* raw_layout (clamp to range and step, guest frame size, NV12/YUV420 planes) and the
 * iov cursor (forward-only writes and fills across segments). */
#include <string.h>

#include "iov.h"
#include "raw_layout.h"
#include "testlib.h"

/* ---- raw_clamp_step ----------------------------------------------------------------------- */

static void t_clamp_step(void)
{
	CHECK_EQ(raw_clamp_step(0, 16, 4096, 2), 16);
	CHECK_EQ(raw_clamp_step(16, 16, 4096, 2), 16);
	CHECK_EQ(raw_clamp_step(17, 16, 4096, 2), 16);
	CHECK_EQ(raw_clamp_step(1081, 16, 4096, 2), 1080);
	CHECK_EQ(raw_clamp_step(4095, 16, 4096, 2), 4094);
	CHECK_EQ(raw_clamp_step(4096, 16, 4096, 2), 4096);
	CHECK_EQ(raw_clamp_step(UINT32_MAX, 16, 4096, 2), 4096);
	/* Steps count from min, not from 0. */
	CHECK_EQ(raw_clamp_step(10, 3, 100, 4), 7);
	CHECK_EQ(raw_clamp_step(99, 3, 100, 4), 99);
	/* A max off the step is still reached by values at or above it. */
	CHECK_EQ(raw_clamp_step(101, 3, 100, 4), 100);
	/* Step 1 is a plain clamp; step 0 counts as 1. */
	CHECK_EQ(raw_clamp_step(12345, 4096, 1u << 26, 1), 12345);
	CHECK_EQ(raw_clamp_step(10, 3, 100, 0), 10);
}

/* ---- raw_set_frame ------------------------------------------------------------------------ */

static const struct vv_caps_frame range = {
	.width = { 16, 4096, 2 },
	.height = { 16, 2304, 2 },
};

static void t_set_frame(void)
{
	struct vv_stream_params p;

	memset(&p, 0xa5, sizeof(p));
	raw_set_frame(&p, &range, 1921, 1081);
	CHECK_EQ(p.frame_width, 1920);
	CHECK_EQ(p.frame_height, 1080);
	CHECK_EQ(p.crop.left, 0);
	CHECK_EQ(p.crop.top, 0);
	CHECK_EQ(p.crop.width, 1920);
	CHECK_EQ(p.crop.height, 1080);
	/* Only frame and crop change. */
	CHECK_EQ(p.format, 0xa5a5a5a5u);
	CHECK_EQ(p.plane_formats[0].plane_size, 0xa5a5a5a5u);

	raw_set_frame(&p, &range, 0, 0);
	CHECK_EQ(p.frame_width, 16);
	CHECK_EQ(p.frame_height, 16);
	CHECK_EQ(p.crop.width, 16);
	CHECK_EQ(p.crop.height, 16);

	raw_set_frame(&p, &range, 100000, 100000);
	CHECK_EQ(p.frame_width, 4096);
	CHECK_EQ(p.frame_height, 2304);
	CHECK_EQ(p.crop.width, 4096);
	CHECK_EQ(p.crop.height, 2304);
}

/* ---- raw_set_planes ----------------------------------------------------------------------- */

/* One layout, exactly: plane sizes and strides, unused entries zero. */
struct layout_case {
	uint32_t format, width, height;
	uint32_t num_planes;
	uint32_t size[3], stride[3];
};

static const struct layout_case layout_cases[] = {
	{ VV_FORMAT_NV12, 1920, 1080, 2, { 2073600, 1036800 }, { 1920, 1920 } },
	/* Odd height: the chroma plane has h/2 rows, rounded down. */
	{ VV_FORMAT_NV12, 17, 15, 2, { 255, 119 }, { 17, 17 } },
	{ VV_FORMAT_YUV420, 1920, 1080, 3, { 2073600, 518400, 518400 }, { 1920, 960, 960 } },
	/* Odd width and height: (w/2)*(h/2), both rounded down. */
	{ VV_FORMAT_YUV420, 17, 15, 3, { 255, 56, 56 }, { 17, 8, 8 } },
	/* The largest ffmpeg frame: no product overflows on the way. */
	{ VV_FORMAT_YUV420, 8192, 4352, 3, { 35651584, 8912896, 8912896 }, { 8192, 4096, 4096 } },
	/* Every format but NV12 gets the three-plane layout (the backends check the format). */
	{ VV_FORMAT_YVU420, 64, 32, 3, { 2048, 512, 512 }, { 64, 32, 32 } },
};

static void t_set_planes(void)
{
	for (unsigned c = 0; c < sizeof(layout_cases) / sizeof(layout_cases[0]); c++) {
		const struct layout_case *lc = &layout_cases[c];
		struct vv_stream_params p;

		memset(&p, 0xa5, sizeof(p)); /* stale planes and counts must be overwritten */
		p.format = lc->format;
		p.frame_width = lc->width;
		p.frame_height = lc->height;
		raw_set_planes(&p);
		if (p.num_planes != lc->num_planes)
			fprintf(stderr, "layout case %u\n", c);
		CHECK_EQ(p.num_planes, lc->num_planes);
		for (unsigned i = 0; i < VV_MAX_PLANES; i++) {
			uint32_t size = i < 3 ? lc->size[i] : 0, stride = i < 3 ? lc->stride[i] : 0;

			if (p.plane_formats[i].plane_size != size || p.plane_formats[i].stride != stride)
				fprintf(stderr, "layout case %u, plane %u\n", c, i);
			CHECK_EQ(p.plane_formats[i].plane_size, size);
			CHECK_EQ(p.plane_formats[i].stride, stride);
		}
		/* The size is read, not changed. */
		CHECK_EQ(p.frame_width, lc->width);
		CHECK_EQ(p.frame_height, lc->height);
	}
}

/* ---- iov_cursor --------------------------------------------------------------------------- */

/* Segments of 3, 0, 5 and 2 bytes (a 10-byte stream) cut out of mem, with guard bytes
 * between them. */
struct seg_fixture {
	uint8_t mem[32];
	struct iovec segs[4];
};

static void fixture_init(struct seg_fixture *f)
{
	memset(f->mem, 0x55, sizeof(f->mem));
	f->segs[0] = (struct iovec){ f->mem + 1, 3 };
	f->segs[1] = (struct iovec){ f->mem + 6, 0 };
	f->segs[2] = (struct iovec){ f->mem + 8, 5 };
	f->segs[3] = (struct iovec){ f->mem + 20, 2 };
}

/* The stream's bytes, gathered. */
static void fixture_stream(const struct seg_fixture *f, uint8_t out[10])
{
	memcpy(out, f->mem + 1, 3);
	memcpy(out + 3, f->mem + 8, 5);
	memcpy(out + 8, f->mem + 20, 2);
}

static void check_guards(const struct seg_fixture *f)
{
	for (unsigned i = 0; i < sizeof(f->mem); i++) {
		bool in_seg = (i >= 1 && i < 4) || (i >= 8 && i < 13) || (i >= 20 && i < 22);

		if (!in_seg)
			CHECK_EQ(f->mem[i], 0x55);
	}
}

static void t_cursor_write_across(void)
{
	struct seg_fixture f;
	struct iov_cursor c;
	uint8_t got[10];

	fixture_init(&f);
	iov_cursor_init(&c, f.segs, 4, 0);
	CHECK_EQ(c.pos, 0);
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"ABCDEFG", 7), 7);
	CHECK_EQ(c.pos, 7);
	/* Across the empty segment: 3 bytes in the first, 4 in the third. */
	CHECK_MEM(f.mem + 1, "ABC", 3);
	CHECK_MEM(f.mem + 8, "DEFG", 4);
	CHECK_EQ(f.mem[12], 0x55);

	CHECK_EQ(iov_cursor_fill(&c, 0xee, 2), 2);
	CHECK_EQ(c.pos, 9);
	/* Past the end: only what fits is written, the position stops at the end. */
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"xyz", 3), 1);
	CHECK_EQ(c.pos, 10);
	CHECK_EQ(iov_cursor_fill(&c, 0x11, 4), 0);
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"q", 1), 0);
	CHECK_EQ(c.pos, 10);

	fixture_stream(&f, got);
	CHECK_MEM(got, "ABCDEFG\xee\xeex", 10);
	check_guards(&f);
}

static void t_cursor_start_offset(void)
{
	struct seg_fixture f;
	struct iov_cursor c;
	uint8_t got[10];

	/* Starting in the middle of the third segment (stream offset 4). */
	fixture_init(&f);
	iov_cursor_init(&c, f.segs, 4, 4);
	CHECK_EQ(iov_cursor_fill(&c, 0x80, 3), 3);
	CHECK_EQ(c.pos, 7);
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"rst", 3), 3);
	CHECK_EQ(c.pos, 10);
	fixture_stream(&f, got);
	CHECK_MEM(got, "\x55\x55\x55\x55\x80\x80\x80rst", 10);
	check_guards(&f);

	/* Starting exactly at a segment boundary (offset 3 = the start of the third). */
	fixture_init(&f);
	iov_cursor_init(&c, f.segs, 4, 3);
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"12345678", 8), 7);
	CHECK_EQ(c.pos, 10);
	fixture_stream(&f, got);
	CHECK_MEM(got, "\x55\x55\x55" "1234567", 10);
	check_guards(&f);
}

static void t_cursor_empty_and_past_end(void)
{
	struct seg_fixture f;
	struct iov_cursor c;

	fixture_init(&f);
	/* A start beyond the stream writes nothing and keeps its position. */
	iov_cursor_init(&c, f.segs, 4, 12);
	CHECK_EQ(iov_cursor_fill(&c, 0, 5), 0);
	CHECK_EQ(iov_cursor_write(&c, (const uint8_t *)"abc", 3), 0);
	CHECK_EQ(c.pos, 12);
	/* Zero lengths, no segments, and a NULL source write nothing. */
	iov_cursor_init(&c, f.segs, 4, 0);
	CHECK_EQ(iov_cursor_fill(&c, 0, 0), 0);
	CHECK_EQ(iov_cursor_write(&c, NULL, 4), 0);
	CHECK_EQ(c.pos, 0);
	iov_cursor_init(&c, NULL, 0, 0);
	CHECK_EQ(iov_cursor_fill(&c, 0, 4), 0);
	CHECK_EQ(c.pos, 0);
	for (unsigned i = 0; i < sizeof(f.mem); i++)
		CHECK_EQ(f.mem[i], 0x55);
}

static void t_cursor_rows(void)
{
	struct seg_fixture f;
	struct iov_cursor c;
	uint8_t got[10];

	/* Rows of 4 as the backends write them: picture bytes, then a fill to the stride. */
	fixture_init(&f);
	iov_cursor_init(&c, f.segs, 4, 0);
	for (unsigned r = 0; r < 3; r++) {
		uint8_t row[3] = { (uint8_t)('a' + r), (uint8_t)('a' + r), (uint8_t)('a' + r) };

		iov_cursor_write(&c, row, 3);
		iov_cursor_fill(&c, (uint8_t)('0' + r), 1);
	}
	CHECK_EQ(c.pos, 10);
	fixture_stream(&f, got);
	CHECK_MEM(got, "aaa0bbb1cc", 10);
	check_guards(&f);
}

int main(void)
{
	test_begin("raw_layout");
	RUN_TEST(t_clamp_step);
	RUN_TEST(t_set_frame);
	RUN_TEST(t_set_planes);
	RUN_TEST(t_cursor_write_across);
	RUN_TEST(t_cursor_start_offset);
	RUN_TEST(t_cursor_empty_and_past_end);
	RUN_TEST(t_cursor_rows);
	return test_summary();
}
