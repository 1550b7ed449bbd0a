/* Input formats of the fuzz targets, shared by the targets and by gen_corpus.c
 * (which writes the seed corpora from the same templates). Every multi-byte
 * field of an input is little-endian. Changing anything here invalidates the
 * committed corpora: regenerate them with gen_corpus. */
#ifndef FUZZ_FORMATS_H
#define FUZZ_FORMATS_H

/* ---- fuzz_vu_msg ------------------------------------------------------------------------------
 * A sequence of records, each one vhost-user message:
 *   u8 request, u8 flags, u16 size (the header's payload size, may lie),
 *   u8 nfds (low 4 bits, capped at VU_MAX_FDS), nfds x u8 fd kind,
 *   then min(size, VU_MAX_PAYLOAD, bytes left) payload bytes (the rest reads as zero). */
#define VUMSG_FD_MEMFD_MAX 0x7f   /* 0x00-0x7f: memfd of (kind) pages of 4 KiB (0: empty) */
#define VUMSG_FD_EVENTFD 0x80     /* 0x80-0xbf: eventfd */
#define VUMSG_FD_DUP_MEMFD 0xc0   /* 0xc0-0xff: dup of the input's last memfd (same inode) */
#define VUMSG_PAGE 4096u

/* ---- fuzz_virtq -------------------------------------------------------------------------------
 * Guest memory: regions A and B GPA-contiguous (B from a file offset), a gap, then C.
 * Input: u8 cfg, u8 hold, u16 base (last_avail_idx), u16 used_idx (initial used->idx),
 * u16 reserved, then num x 16 bytes of descriptor table, then the avail ring
 * (4 + 2 * num + 2 bytes, used_event included), then the data area (indirect tables,
 * buffer contents), which straddles the A/B boundary. */
#define VQF_GPA_A 0x100000ull
#define VQF_SIZE_A 0x10000ull
#define VQF_GPA_B (VQF_GPA_A + VQF_SIZE_A)
#define VQF_SIZE_B 0x10000ull
#define VQF_OFFSET_B 0x3000ull          /* region B's mmap_offset in its memfd */
#define VQF_GPA_C 0x200000ull           /* after a gap */
#define VQF_SIZE_C 0x4000ull
#define VQF_UVA_A 0x7f0000000000ull
#define VQF_UVA_B 0x7e0000000000ull     /* not contiguous with A in front-end space */
#define VQF_UVA_C 0x7d0000000000ull
#define VQF_DESC_GPA VQF_GPA_A          /* up to 16 KiB (1024 entries) */
#define VQF_AVAIL_GPA (VQF_GPA_A + 0x4000)
#define VQF_USED_GPA (VQF_GPA_A + 0x5000)
#define VQF_DATA_GPA (VQF_GPA_B - 0x400) /* 64 KiB starting 1 KiB before the A/B boundary */
#define VQF_DATA_SIZE 0x10000u
#define VQF_HDR_SIZE 8u

#define VQF_CFG_EVENT_IDX 0x01
#define VQF_CFG_INDIRECT 0x02
#define VQF_CFG_LOG2_SHIFT 2     /* bits 2-5: log2(num) modulo 11 */
#define VQF_CFG_NO_INTERRUPT 0x40 /* avail->flags |= NO_INTERRUPT before the run */
#define VQF_CFG_SECOND_PASS 0x80 /* after the first drain, append the same heads again */

/* ---- fuzz_vv_device ---------------------------------------------------------------------------
 * Guest RAM: one memfd of 1 MiB as two GPA-contiguous regions of 512 KiB.
 * Input: u8 features (VVD_F_*), u8 ring sizes (low nibble: command queue, high nibble:
 * event queue, each 4 << (n % 5) entries), then operations until the input ends:
 * u8 opcode (modulo VVD_OP_COUNT) followed by its operands. */
#define VVD_RAM_GPA 0x100000ull
#define VVD_REGION_SIZE 0x80000ull
#define VVD_RAM_SIZE (2 * VVD_REGION_SIZE)
#define VVD_BOUNDARY (VVD_RAM_GPA + VVD_REGION_SIZE)
#define VVD_RAM_END (VVD_RAM_GPA + VVD_RAM_SIZE)
#define VVD_UVA 0x7f0000000000ull
/* Rings and the driver's command/response pool: the device may only write response
 * bytes there, so resource entries are kept out of it (checked by the harness). */
#define VVD_CMDQ_GPA VVD_RAM_GPA               /* desc; avail +0x1000; used +0x2000 */
#define VVD_EVQ_GPA (VVD_RAM_GPA + 0x4000)
#define VVD_POOL_GPA (VVD_RAM_GPA + 0x8000)
#define VVD_PROTECTED_END (VVD_BOUNDARY - 0x4000)
/* Free for all (pictures, commands crossing the boundary). */
#define VVD_CROSS_GPA (VVD_BOUNDARY - 0x4000)
#define VVD_PIC_GPA VVD_BOUNDARY
#define VVD_PIC_SIZE VVD_REGION_SIZE

#define VVD_F_EVENT_IDX 0x01
#define VVD_F_INDIRECT 0x02
#define VVD_F_NON_CONTIG 0x04
/* The front-end disconnects after the input (the daemon is freed and made anew for the
 * next one); without it the daemon and its connection are kept for the next input. */
#define VVD_F_DISCONNECT 0x80

enum vvd_op {
	VVD_OP_CMD = 0,        /* u8 template, operands of the template, u8 chain shape */
	VVD_OP_CMD2,           /* same (weights commands higher) */
	VVD_OP_CMD3,
	VVD_OP_EVENT_BUF,      /* u8 capacity selector: post one event buffer */
	VVD_OP_KICK,           /* u8 ring bit: write the kick eventfd, run the loop once */
	VVD_OP_RUN,            /* run the loop once (non-blocking) */
	VVD_OP_MEM_REMOVE,     /* u8: bit0 region, bit1 re-add at once */
	VVD_OP_MEM_READD,      /* re-add every removed region */
	VVD_OP_STOP_START,     /* u8: bit0 ring, bit1 restart (GET_VRING_BASE, then
				* SET_VRING_BASE and a new KICK) */
	VVD_OP_STATUS_RESET,   /* SET_STATUS 0 (driver reset), then both rings set up again */
	VVD_OP_BREAK,          /* u8: bit0 ring: avail->idx jumps num + 1 ahead, kick */
	VVD_OP_DEVICE_RESET,   /* RESET_DEVICE, features and both rings set up again */
	VVD_OP_COUNT,
};

/* Command templates (u8 modulo VVD_T_COUNT). Operand legend:
 * sid: u8 (0x00-0x7f: sid & 7, else the value itself), qt: u8 (bit0: INPUT/OUTPUT;
 * 0xf8-0xff: an invalid queue type), fmt: u8 (index into a fixed list), rid: u8
 * (0x00-0x7f: rid & 15, else the value itself). */
enum vvd_template {
	VVD_T_QUERY_CAPS = 0,  /* qt */
	VVD_T_STREAM_CREATE,   /* sid, fmt, u8 mem types */
	VVD_T_STREAM_DESTROY,  /* sid */
	VVD_T_STREAM_DRAIN,    /* sid */
	VVD_T_RES_CREATE,      /* sid, qt, rid, u8 layout, u8 nplanes, per plane u16 offset and
				* u8 entries (& 3), per entry u8 addr kind, u16 a, u16 len */
	VVD_T_RES_QUEUE,       /* sid, qt, rid, u8 ts, u8 nsizes, u16 size0 */
	VVD_T_DESTROY_ALL,     /* sid, qt */
	VVD_T_QUEUE_CLEAR,     /* sid, qt */
	VVD_T_GET_PARAMS,      /* sid, qt, u8 ext */
	VVD_T_SET_PARAMS,      /* sid, qt, u8 ext, fmt, u16 w, u16 h, u8 nplanes, u16 psize,
				* u8 rt */
	VVD_T_QUERY_CONTROL,   /* u8 control, fmt */
	VVD_T_GET_CONTROL,     /* sid, u8 control */
	VVD_T_SET_CONTROL,     /* sid, u8 control, u32 value */
	VVD_T_RAW,             /* u8 len, len bytes */
	VVD_T_RES_SIMPLE,      /* sid, qt, rid, u16 picture slot, u16 len: one plane, one entry */
	VVD_T_COUNT,
};

/* Entry address kinds of VVD_T_RES_CREATE (u8 & 3; bits 2-3: len shift x2). */
enum vvd_addr_kind {
	VVD_ADDR_PICTURE = 0, /* VVD_PIC_GPA + (a * 16) % VVD_PIC_SIZE */
	VVD_ADDR_CROSS,       /* VVD_CROSS_GPA + a: may span the two regions */
	VVD_ADDR_OUTSIDE,     /* VVD_RAM_END + a, or just below RAM when a is odd */
	VVD_ADDR_RAW,         /* a + u32 << 16 (one more u32 operand) */
};

/* Chain shape (u8): bits 0-2 response capacity index, bits 3-4 command placement,
 * bit 5 response in two descriptors, bit 6 no kick (batch), bit 7 hostile order
 * (writable descriptor before the command: the ring rejects the chain). */
#define VVD_SHAPE_CAP_MASK 0x07
#define VVD_SHAPE_PLACE_SHIFT 3
#define VVD_SHAPE_SPLIT_RESP 0x20
#define VVD_SHAPE_NO_KICK 0x40
#define VVD_SHAPE_BAD_ORDER 0x80

enum vvd_place {
	VVD_PLACE_ONE = 0,  /* one descriptor */
	VVD_PLACE_TWO,      /* cut in two descriptors */
	VVD_PLACE_CROSS,    /* one descriptor spanning the two regions */
	VVD_PLACE_INDIRECT, /* whole chain in an indirect table (when negotiated) */
};

/* Response capacities by index; event buffers use the same list. */
#define VVD_CAPS_LIST { 0, 4, 8, 16, 24, 64, 256, 4096 }

#endif
