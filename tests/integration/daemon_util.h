/* Starting and watching the real daemon binary from integration tests. */
#ifndef DAEMON_UTIL_H
#define DAEMON_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon_proc {
	pid_t pid;
	char dir[64];        /* private temp dir */
	char sock[128];      /* socket path inside it */
	char log[128];       /* daemon stderr */
};

/* Path of the daemon binary ($VUV_DAEMON, set by meson). */
const char *daemon_binary(void);

/* Starts `daemon --socket-path <tmp> --backend null [extra args...]` (extra
 * is a NULL-terminated list or NULL) and waits until the socket exists.
 * 0 or -1. */
int daemon_start(struct daemon_proc *d, const char *const *extra);
/* SIGTERM, wait; returns the exit status (or 128+signal, -1 on timeout). */
int daemon_stop(struct daemon_proc *d);
/* Removes the temp dir and the daemon's log (kept, and its path printed,
 * when VUV_KEEP_LOGS is set). */
void daemon_cleanup(struct daemon_proc *d);
/* True while the process runs. */
bool daemon_alive(const struct daemon_proc *d);
/* Number of open fds of the daemon (/proc/pid/fd), -1 on error. */
int daemon_fd_count(const struct daemon_proc *d);
/* Waits until the fd count equals want (the daemon tears down asynchronously
 * after a disconnect); returns the last count seen. */
int daemon_wait_fd_count(const struct daemon_proc *d, int want, int timeout_ms);
/* Runs the daemon binary with args (NULL-terminated, argv[0] excluded),
 * capturing stdout and stderr into the buffers; returns the exit status,
 * 128+signal when killed, -1 on error. Kills it after timeout_ms. */
int run_capture(const char *const *args, char *out, size_t out_cap, char *err,
		size_t err_cap, int timeout_ms);
void sleep_ms(int ms);

#endif
