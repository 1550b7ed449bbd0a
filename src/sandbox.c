/* The seccomp allow-list. docs/security.md explains each entry; keep the two
 * in step. Everything runs before the first front-end connects, so a failure
 * here is a start-up error, never a guest-reachable one. */
#include "sandbox.h"

#include <errno.h>

#include "log.h"

#ifdef VUV_HAVE_SECCOMP

#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Sanitizer runtimes (ASan's LeakSanitizer at exit, reports) need calls the
 * daemon itself never makes; only such builds get them. */
#if defined(__SANITIZE_ADDRESS__)
#define VUV_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define VUV_SANITIZER_BUILD 1
#endif
#endif

#define MAX_LISTED 96

struct allow_list {
	scmp_filter_ctx ctx;
	int listed[MAX_LISTED]; /* distinct system calls allowed (in some form) */
	unsigned nlisted;
	int err;                /* the first failure; later rules are skipped */
};

static void note_allowed(struct allow_list *l, int nr)
{
	for (unsigned i = 0; i < l->nlisted; i++)
		if (l->listed[i] == nr)
			return;
	if (l->nlisted == MAX_LISTED) {
		l->err = -ENOSPC;
		log_err("sandbox: more than %d system calls listed", MAX_LISTED);
		return;
	}
	l->listed[l->nlisted++] = nr;
}

static void add_rule(struct allow_list *l, uint32_t action, int nr, const char *name,
		     unsigned ncmp, const struct scmp_arg_cmp *cmp)
{
	int rc;

	if (l->err)
		return;
	rc = seccomp_rule_add_array(l->ctx, action, nr, ncmp, cmp);
	if (rc < 0) {
		l->err = rc;
		log_err("sandbox: cannot add the rule for %s: %s", name, strerror(-rc));
		return;
	}
	if (action == SCMP_ACT_ALLOW)
		note_allowed(l, nr);
}

/* The low 32 bits of argument n (an int: the upper half is not defined) equal
 * v. Spelled as a masked compare: libseccomp's one-datum form leaves a field
 * uninitialised, which clang warns about. */
#define ARG32_EQ(n, v) SCMP_CMP64(n, SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)(v))

#define CMPS(...) ((const struct scmp_arg_cmp[]){ __VA_ARGS__ })
#define NCMPS(...) (unsigned)(sizeof(CMPS(__VA_ARGS__)) / sizeof(struct scmp_arg_cmp))
#define ALLOW(l, name) add_rule(l, SCMP_ACT_ALLOW, SCMP_SYS(name), #name, 0, NULL)
/* Allowed when every comparison holds. */
#define ALLOW_IF(l, name, ...) \
	add_rule(l, SCMP_ACT_ALLOW, SCMP_SYS(name), #name, NCMPS(__VA_ARGS__), CMPS(__VA_ARGS__))
#define FAIL(l, err_no, name) \
	add_rule(l, SCMP_ACT_ERRNO(err_no), SCMP_SYS(name), #name, 0, NULL)
#define FAIL_IF(l, err_no, name, ...) \
	add_rule(l, SCMP_ACT_ERRNO(err_no), SCMP_SYS(name), #name, NCMPS(__VA_ARGS__), \
		 CMPS(__VA_ARGS__))

/* Memory: malloc (brk, mmap, mremap for large reallocs, madvise and munmap
 * when freeing), guest memory and V4L2 buffers (mmap with MAP_FIXED into a
 * reservation), thread stacks and arenas (mprotect of guard pages and of
 * arena growth). No executable memory is ever made after start-up. */
static void allow_memory(struct allow_list *l)
{
	ALLOW(l, brk);
	ALLOW_IF(l, mmap, SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW_IF(l, mprotect, SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW(l, munmap);
	ALLOW(l, mremap);
	ALLOW(l, madvise);
}

/* File descriptors: the vhost-user socket, eventfds, the signalfd, guest
 * memory files and the V4L2 device. */
static void allow_files(struct allow_list *l)
{
	ALLOW(l, read);
	ALLOW(l, write);
	ALLOW(l, readv);
	ALLOW(l, writev);
	ALLOW(l, close);
	ALLOW(l, fstat);
	ALLOW(l, newfstatat);
	ALLOW(l, lseek);
	ALLOW(l, fcntl);
	/* v4l2-decoder opens its device node (O_RDWR) per stream; glibc reads
	 * /sys/devices/system/cpu/online for the number of cores. Nothing is
	 * created, truncated or opened for appending or writing only. */
	ALLOW_IF(l, openat,
		 SCMP_A2_32(SCMP_CMP_MASKED_EQ,
			    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY), 0));
	/* V4L2 requests only (ioctl type 'V'). Terminal requests (type 'T': TCGETS
	 * from isatty(), but also TIOCSTI) fail with ENOTTY instead of killing;
	 * any other request is outside the list. */
	ALLOW_IF(l, ioctl, SCMP_A1_32(SCMP_CMP_MASKED_EQ, 0xff00, 'V' << 8));
	FAIL_IF(l, ENOTTY, ioctl, SCMP_A1_32(SCMP_CMP_MASKED_EQ, 0xff00, 'T' << 8));
	/* Removing the socket file at exit. */
	ALLOW(l, unlink);
	ALLOW(l, unlinkat);
}

/* The event loop and the vhost-user connection. No socket() or connect():
 * the only sockets are the listening one and those it accepts. */
static void allow_events(struct allow_list *l)
{
	ALLOW(l, epoll_wait);
	ALLOW(l, epoll_pwait);
	ALLOW(l, epoll_ctl);
	ALLOW(l, poll);
	ALLOW(l, ppoll);
	ALLOW(l, eventfd2);
	ALLOW(l, accept4);
	ALLOW(l, recvmsg);
	ALLOW(l, recvfrom);
	ALLOW(l, sendmsg);
	ALLOW(l, sendto);
}

/* Threads (the ffmpeg backend's workers and libavcodec's own), time and
 * process basics. clone3 passes its flags in memory, which seccomp cannot
 * read: it fails with ENOSYS, so glibc falls back to clone, whose flags are
 * checked to make threads only (no new process). */
static void allow_threads(struct allow_list *l)
{
	const uint32_t thread_flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;

	ALLOW_IF(l, clone, SCMP_A0_32(SCMP_CMP_MASKED_EQ, thread_flags, thread_flags));
	FAIL(l, ENOSYS, clone3);
	ALLOW(l, futex);
	ALLOW(l, set_robust_list);
	ALLOW(l, rseq);
	ALLOW(l, sched_getaffinity);
	ALLOW(l, sched_yield);
	ALLOW(l, getrandom);
	ALLOW(l, sysinfo);
	ALLOW_IF(l, prctl, ARG32_EQ(0, PR_SET_NAME));
	ALLOW_IF(l, prctl, ARG32_EQ(0, PR_GET_NAME));
	ALLOW(l, rt_sigprocmask);
	ALLOW(l, rt_sigaction);
	ALLOW(l, rt_sigreturn);
	/* abort() and raise(): signals to this process only. */
	ALLOW_IF(l, tgkill, ARG32_EQ(0, getpid()));
	ALLOW(l, getpid);
	ALLOW(l, gettid);
	ALLOW(l, clock_gettime);
	ALLOW(l, clock_nanosleep);
	ALLOW(l, nanosleep);
	ALLOW(l, gettimeofday);
	ALLOW(l, restart_syscall);
	ALLOW(l, exit);
	ALLOW(l, exit_group);
}

#ifdef VUV_SANITIZER_BUILD
/* LeakSanitizer stops the world at exit: a tracer task made with clone
 * (CLONE_VM without CLONE_THREAD) ptrace-attaches every thread, lists them in
 * /proc/self/task and reads /proc/self/maps. Reports read the binary for
 * symbols. */
static void allow_sanitizer_runtime(struct allow_list *l)
{
	ALLOW_IF(l, clone, SCMP_A0_32(SCMP_CMP_MASKED_EQ, CLONE_VM | CLONE_THREAD, CLONE_VM));
	ALLOW(l, ptrace);
	ALLOW(l, wait4);
	ALLOW(l, prctl);
	ALLOW(l, getppid);
	ALLOW(l, sigaltstack);
	ALLOW(l, open);
	ALLOW(l, getdents);
	ALLOW(l, getdents64);
	ALLOW(l, readlink);
	ALLOW(l, readlinkat);
	ALLOW(l, kill);
	ALLOW(l, tgkill);
	ALLOW(l, pread64);
}
#endif

bool sandbox_available(void)
{
	return true;
}

int sandbox_install(enum sandbox_mode mode, unsigned *nallowed)
{
	struct allow_list l = { 0 };
	uint32_t deflt;
	int rc;

	*nallowed = 0;
	if (mode == SANDBOX_OFF)
		return 0;
	/* KILL_PROCESS and LOG need API level 3 (libseccomp and kernel 4.14). */
	if (seccomp_api_get() < 3) {
		log_err("sandbox: the kernel or libseccomp is too old (seccomp API level %u, "
			"need 3); use --sandbox off", seccomp_api_get());
		return -ENOTSUP;
	}
	deflt = mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	l.ctx = seccomp_init(deflt);
	if (!l.ctx) {
		log_err("sandbox: seccomp_init failed");
		return -ENOMEM;
	}
	/* All threads get the filter. Kills reach the kernel's log anyway;
	 * SCMP_FLTATR_CTL_LOG would add every refused clone3 and terminal ioctl. */
	rc = seccomp_attr_set(l.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		log_err("sandbox: seccomp attributes: %s", strerror(-rc));
		goto out;
	}
	allow_memory(&l);
	allow_files(&l);
	allow_events(&l);
	allow_threads(&l);
#ifdef VUV_SANITIZER_BUILD
	allow_sanitizer_runtime(&l);
#endif
	rc = l.err;
	if (rc < 0)
		goto out;
	/* Said explicitly, though seccomp_load sets it too: no exec can gain
	 * privileges from here on. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		log_err("sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto out;
	}
	rc = seccomp_load(l.ctx);
	if (rc < 0) {
		log_err("sandbox: loading the filter: %s", strerror(-rc));
		goto out;
	}
	*nallowed = l.nlisted;
out:
	seccomp_release(l.ctx);
	return rc;
}

#else /* !VUV_HAVE_SECCOMP */

bool sandbox_available(void)
{
	return false;
}

int sandbox_install(enum sandbox_mode mode, unsigned *nallowed)
{
	*nallowed = 0;
	if (mode == SANDBOX_OFF)
		return 0;
	log_err("sandbox: this build has no seccomp support (built without libseccomp); "
		"use --sandbox off");
	return -ENOSYS;
}

#endif
