/* A tiny test runner: each test binary defines test functions, runs them with
 * RUN_TEST and ends with test_summary(), which prints
 * "<binary>: N passed, N failed" and returns the exit status. A test passes
 * when none of its checks failed. */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tl_passed, tl_failed, tl_cur_failed;
static const char *tl_name = "test";

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,  \
				__LINE__, #cond);                               \
			tl_cur_failed++;                                        \
		}                                                               \
	} while (0)

#define CHECK_EQ(a, b)                                                          \
	do {                                                                    \
		long long tl_a = (long long)(a), tl_b = (long long)(b);         \
		if (tl_a != tl_b) {                                             \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
				__FILE__, __LINE__, #a, tl_a, #b, tl_b);        \
			tl_cur_failed++;                                        \
		}                                                               \
	} while (0)

#define CHECK_MEM(a, b, n)                                                      \
	do {                                                                    \
		if (memcmp((a), (b), (n)) != 0) {                               \
			fprintf(stderr, "%s:%d: CHECK_MEM failed: %s vs %s (%zu bytes)\n", \
				__FILE__, __LINE__, #a, #b, (size_t)(n));       \
			tl_cur_failed++;                                        \
		}                                                               \
	} while (0)

/* Stops the current test (for checks later steps depend on). */
#define REQUIRE(cond)                                                           \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, \
				__LINE__, #cond);                               \
			tl_cur_failed++;                                        \
			return;                                                 \
		}                                                               \
	} while (0)

#define RUN_TEST(fn)                                                            \
	do {                                                                    \
		tl_cur_failed = 0;                                              \
		fn();                                                           \
		if (tl_cur_failed) {                                            \
			tl_failed++;                                            \
			fprintf(stderr, "FAIL %s\n", #fn);                      \
		} else {                                                        \
			tl_passed++;                                            \
			printf("ok   %s\n", #fn);                               \
		}                                                               \
	} while (0)

static inline void test_begin(const char *name) { tl_name = name; }

static inline int test_summary(void)
{
	printf("%s: %d passed, %d failed\n", tl_name, tl_passed, tl_failed);
	fflush(stdout);
	return tl_failed ? 1 : 0;
}

#endif
