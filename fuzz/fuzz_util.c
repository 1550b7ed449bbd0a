#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "FUZZ INVARIANT VIOLATED at %s:%d: %s\n", file, line, what);
	__builtin_trap();
}

void fin_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
	in->p = data;
	in->left = data ? size : 0;
}

bool fin_empty(const struct fuzz_in *in)
{
	return in->left == 0;
}

size_t fin_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	if (n)
		memcpy(dst, in->p, n);
	if (len > n)
		memset((uint8_t *)dst + n, 0, len - n);
	in->p += n;
	in->left -= n;
	return n;
}

uint8_t fin_u8(struct fuzz_in *in)
{
	uint8_t v;

	fin_bytes(in, &v, 1);
	return v;
}

uint16_t fin_u16(struct fuzz_in *in)
{
	uint8_t b[2];

	fin_bytes(in, b, 2);
	return get_le16(b);
}

uint32_t fin_u32(struct fuzz_in *in)
{
	uint8_t b[4];

	fin_bytes(in, b, 4);
	return get_le32(b);
}

uint64_t fin_u64(struct fuzz_in *in)
{
	uint64_t lo = fin_u32(in);

	return lo | (uint64_t)fin_u32(in) << 32;
}

void fuzz_quiet_logs(void)
{
	if (!getenv("FUZZ_VERBOSE"))
		log_verbosity = -1;
}

unsigned fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int fuzz_memfd(size_t size)
{
	int fd = memfd_create("fuzz-guest", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void put_le16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

void put_le32(uint8_t *b, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

void put_le64(uint8_t *b, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

uint16_t get_le16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t get_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

unsigned fuzz_count_guest_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:fuzz-guest"))
			n++;
	fclose(f);
	return n;
}
