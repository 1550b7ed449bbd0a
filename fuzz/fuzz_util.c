#include "fuzz_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* Raw getdents64 rather than opendir/readdir: the sanitizers' interceptors made the
 * check cost ten times more, and it runs after every input. */
unsigned fuzz_count_fds(void)
{
	char buf[4096];
	unsigned n = 0;
	long len;
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < len;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);

			if (e->d_name[0] != '.')
				n++;
			off += e->d_reclen;
		}
	}
	close(fd);
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

/* One read() of the whole file into a static buffer rather than stdio line by line: runs
 * after every input. A file larger than the buffer is read on in pieces, a line cut
 * between two pieces being kept for the next. */
unsigned fuzz_count_guest_maps(void)
{
	static const char needle[] = "/memfd:fuzz-guest";
	static char buf[1 << 16];
	size_t have = 0;
	unsigned n = 0;
	ssize_t len;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((len = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)len;
		buf[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (strstr(line, needle))
				n++;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0; /* a line longer than the buffer: not one of ours */
	}
	close(fd);
	return n;
}
