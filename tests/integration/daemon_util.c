#include "daemon_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const char *daemon_binary(void)
{
	const char *p = getenv("VUV_DAEMON");

	return p ? p : "./vhost-user-video";
}

int daemon_start(struct daemon_proc *d, const char *const *extra)
{
	const char *argv[32];
	unsigned n = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/vuv-test-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/video.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	argv[n++] = daemon_binary();
	argv[n++] = "--socket-path";
	argv[n++] = d->sock;
	argv[n++] = "--backend";
	argv[n++] = "null";
	for (unsigned i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;

		if (stat(d->sock, &st) == 0)
			return 0;
		if (!daemon_alive(d))
			return -1;
		sleep_ms(10);
	}
	return -1;
}

void daemon_cleanup(struct daemon_proc *d)
{
	if (getenv("VUV_KEEP_LOGS")) {
		fprintf(stderr, "daemon log kept: %s\n", d->log);
		return;
	}
	unlink(d->log);
	unlink(d->sock);
	rmdir(d->dir);
}

bool daemon_alive(const struct daemon_proc *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

int daemon_stop(struct daemon_proc *d)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		sleep_ms(10);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
	return -1;
}

int daemon_fd_count(const struct daemon_proc *d)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int daemon_wait_fd_count(const struct daemon_proc *d, int want, int timeout_ms)
{
	int n = -1;

	for (int t = 0; t <= timeout_ms; t += 5) {
		n = daemon_fd_count(d);
		if (n == want)
			break;
		sleep_ms(5);
	}
	return n;
}

static void drain_into(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t r;

	if (*len + 1 >= cap) {
		char junk[256];

		r = read(fd, junk, sizeof(junk));
		(void)r;
		return;
	}
	r = read(fd, buf + *len, cap - 1 - *len);
	if (r > 0)
		*len += (size_t)r;
	buf[*len] = 0;
}

int run_capture(const char *const *args, char *out, size_t out_cap, char *err, size_t err_cap,
		int timeout_ms)
{
	int po[2], pe[2], status;
	const char *argv[32];
	unsigned n = 0;
	size_t olen = 0, elen = 0;
	pid_t pid;

	argv[n++] = daemon_binary();
	for (unsigned i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	out[0] = err[0] = 0;
	if (pipe(po) < 0 || pipe(pe) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (int waited = 0;;) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		int r = poll(p, 2, 50);

		if (r > 0) {
			if (p[0].revents)
				drain_into(po[0], out, out_cap, &olen);
			if (p[1].revents)
				drain_into(pe[0], err, err_cap, &elen);
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		waited += 50;
		if (waited > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
	}
	/* Whatever is still buffered in the pipes. */
	for (int i = 0; i < 64; i++) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };

		if (poll(p, 2, 0) <= 0)
			break;
		if (p[0].revents & POLLIN)
			drain_into(po[0], out, out_cap, &olen);
		if (p[1].revents & POLLIN)
			drain_into(pe[0], err, err_cap, &elen);
		if (!(p[0].revents & POLLIN) && !(p[1].revents & POLLIN))
			break;
	}
	close(po[0]);
	close(pe[0]);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
