/* Helpers shared by the fuzz targets: a reader over the fuzzer's bytes, fd and
 * memfd helpers, and the invariant check that turns a violation into a crash
 * libFuzzer reports. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A violated invariant: print where, then trap so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                          \
	do {                                                                      \
		if (!(cond))                                                      \
			fuzz_fail(__FILE__, __LINE__, #cond);                     \
	} while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Consumes the input front to back; reads past the end yield zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

void fin_init(struct fuzz_in *in, const uint8_t *data, size_t size);
bool fin_empty(const struct fuzz_in *in);
uint8_t fin_u8(struct fuzz_in *in);
uint16_t fin_u16(struct fuzz_in *in);
uint32_t fin_u32(struct fuzz_in *in);
uint64_t fin_u64(struct fuzz_in *in);
/* Copies up to len bytes into dst (zero-filling the rest); returns bytes taken. */
size_t fin_bytes(struct fuzz_in *in, void *dst, size_t len);

/* Silences the daemon's logs unless FUZZ_VERBOSE is set (stderr writes would
 * dominate the run time). */
void fuzz_quiet_logs(void);

/* Open fds of the process (for leak checks). */
unsigned fuzz_count_fds(void);
/* Mappings of fuzz_memfd() files ("/memfd:fuzz-guest") still in the address space. */
unsigned fuzz_count_guest_maps(void);

/* A memfd of size bytes, or -1. */
int fuzz_memfd(size_t size);

/* Little-endian stores into a byte buffer. */
void put_le16(uint8_t *b, uint16_t v);
void put_le32(uint8_t *b, uint32_t v);
void put_le64(uint8_t *b, uint64_t v);
uint16_t get_le16(const uint8_t *b);
uint32_t get_le32(const uint8_t *b);

#endif
