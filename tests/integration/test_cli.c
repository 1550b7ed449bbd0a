/* The command line and process life cycle of the real binary. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_util.h"
#include "testlib.h"
#include "vuf.h"

static char out[8192], err[8192];

static int run(const char *const *args)
{
	return run_capture(args, out, sizeof(out), err, sizeof(err), 5000);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void t_help_and_version(void)
{
	CHECK_EQ(run((const char *[]){ "-h", NULL }), 0);
	CHECK(strstr(out, "--socket-path"));
	CHECK(strstr(out, "--backend"));
	CHECK(strstr(out, "null, v4l2-decoder"));
	CHECK(strstr(out, "--v4l2-device"));
	CHECK(strstr(out, "[default: /dev/video0]"));
	CHECK(strstr(out, "--fd"));
	CHECK(strstr(out, "--print-capabilities"));
	CHECK(strstr(out, "--sandbox on|off|log"));
	CHECK(strstr(out, "--socket-mode MODE"));
	CHECK(strstr(out, "[default: 0600]"));
	CHECK(strstr(out, "--socket-group GROUP"));
	CHECK_EQ(err[0], 0);
	CHECK_EQ(run((const char *[]){ "--help", NULL }), 0);
	CHECK_EQ(run((const char *[]){ "-V", NULL }), 0);
	CHECK(strcmp(out, "vhost-user-video " VUV_VERSION "\n") == 0);
	CHECK_EQ(run((const char *[]){ "--version", NULL }), 0);
	CHECK(strcmp(out, "vhost-user-video " VUV_VERSION "\n") == 0);
}

static void t_print_capabilities(void)
{
	CHECK_EQ(run((const char *[]){ "--print-capabilities", NULL }), 0);
	CHECK(strcmp(out, "{\n  \"type\": \"video\",\n  \"features\": []\n}\n") == 0);
	CHECK_EQ(err[0], 0);
}

/* Usage errors: exit 2, one line naming the problem, then the usage hint. */
static void expect_usage_error(const char *const *args, const char *needle)
{
	int st = run(args);

	CHECK_EQ(st, 2);
	CHECK(strstr(err, needle) != NULL);
	CHECK(strstr(err, "Try 'vhost-user-video --help'") != NULL);
	CHECK_EQ(count_lines(err), 2);
	CHECK_EQ(out[0], 0);
	if (st != 2 || !strstr(err, needle))
		fprintf(stderr, "  stderr was: %s\n", err);
}

static void t_usage_errors(void)
{
	expect_usage_error((const char *[]){ "--bogus", NULL }, "unknown option '--bogus'");
	expect_usage_error((const char *[]){ "-x", NULL }, "unknown option");
	expect_usage_error((const char *[]){ "--socket-path", NULL }, "'--socket-path' needs a value");
	expect_usage_error((const char *[]){ "-s", "/tmp/x.sock", NULL }, "--backend is required");
	expect_usage_error((const char *[]){ "-s", "/tmp/x.sock", "-b", "vaapi", NULL },
			   "unknown backend 'vaapi' [possible values: null, v4l2-decoder");
	expect_usage_error((const char *[]){ "-b", "null", NULL },
			   "exactly one of --socket-path and --fd");
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--fd", "3", NULL },
			   "exactly one of --socket-path and --fd");
	expect_usage_error((const char *[]){ "-b", "null", "--fd", "abc", NULL },
			   "--fd: 'abc' is not a file descriptor number");
	expect_usage_error((const char *[]){ "-b", "null", "--fd", "-1", NULL },
			   "is not a file descriptor number");
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "extra", NULL },
			   "unexpected argument 'extra'");
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--sandbox", "yes",
					     NULL },
			   "--sandbox: 'yes' is not one of on, off, log");
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--sandbox", "", NULL },
			   "--sandbox: '' is not one of on, off, log");
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--sandbox", NULL },
			   "'--sandbox' needs a value");
	/* Socket modes: octal, at most 0777, never an x bit. */
	static const char *const bad_modes[] = { "0755", "0700", "0601", "1666", "4600", "01000",
						  "777", "abc", "0x180", "", "-0600", "+0600",
						  "0600 ", "08" };
	for (unsigned i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "--socket-mode: '%s' is not an octal mode",
			 bad_modes[i]);
		expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--socket-mode",
						     bad_modes[i], NULL }, needle);
	}
	expect_usage_error((const char *[]){ "-b", "null", "-s", "/tmp/x", "--socket-group", "",
					     NULL },
			   "--socket-group: empty group name");
	/* They apply to a socket file the daemon creates, not to one passed in. */
	expect_usage_error((const char *[]){ "-b", "null", "--fd", "3", "--socket-mode", "0660",
					     NULL },
			   "--socket-mode and --socket-group need --socket-path");
	expect_usage_error((const char *[]){ "-b", "null", "--fd", "3", "--socket-group", "0",
					     NULL },
			   "--socket-mode and --socket-group need --socket-path");
}

/* Start-up errors: one line, non-zero exit. */
static void t_startup_errors(void)
{
	char longpath[200];

	CHECK_EQ(run((const char *[]){ "-b", "null", "-s", "/nonexistent-dir/x.sock", NULL }), 1);
	CHECK(strstr(err, "cannot create socket '/nonexistent-dir/x.sock'"));
	CHECK_EQ(count_lines(err), 1);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	CHECK_EQ(run((const char *[]){ "-b", "null", "-s", longpath, NULL }), 1);
	CHECK(strstr(err, "too long"));
	CHECK_EQ(count_lines(err), 1);
	/* A regular file at the socket path is not replaced. */
	{
		char path[] = "/tmp/vuv-cli-XXXXXX";
		int fd = mkstemp(path);
		struct stat st;

		CHECK(fd >= 0);
		close(fd);
		CHECK_EQ(run((const char *[]){ "-b", "null", "-s", path, NULL }), 1);
		CHECK(strstr(err, "not a socket"));
		CHECK_EQ(stat(path, &st), 0);
		CHECK(S_ISREG(st.st_mode));
		unlink(path);
	}
	/* --fd that is not a socket. */
	CHECK_EQ(run((const char *[]){ "-b", "null", "--fd", "2", NULL }), 1);
	CHECK(strstr(err, "--fd 2: not an open socket"));
	CHECK_EQ(run((const char *[]){ "-b", "null", "--fd", "999", NULL }), 1);
	CHECK_EQ(count_lines(err), 1);
	/* The v4l2 backend with a missing device. */
	CHECK(run((const char *[]){ "-b", "v4l2-decoder", "-d", "/nonexistent/video9", "-s",
				    "/tmp/vuv-never.sock", NULL }) != 0);
	CHECK_EQ(count_lines(err), 1);
	CHECK(access("/tmp/vuv-never.sock", F_OK) != 0);
	/* An unknown group name: nothing is left behind. */
	CHECK_EQ(run((const char *[]){ "-b", "null", "-s", "/tmp/vuv-never.sock", "--socket-group",
				       "vuv-no-such-group", NULL }), 1);
	CHECK(strstr(err, "--socket-group: unknown group 'vuv-no-such-group'"));
	CHECK_EQ(count_lines(err), 1);
	CHECK(access("/tmp/vuv-never.sock", F_OK) != 0);
}

/* A field of /proc/PID/status ("Seccomp:" ...) as a number, -1 if absent. */
static long proc_status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, flen) == 0) {
			v = strtol(line + flen, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static bool file_contains(const char *path, const char *needle)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

/* --sandbox off, log and on (and the default): the daemon starts, serves a
 * front-end and exits cleanly on SIGTERM (removing its socket from inside the
 * sandbox). Once it serves, the kernel shows its filter: mode 2 and one filter
 * more than this test process has, with no_new_privs set; "off" leaves both as
 * inherited. The kernel kills a filtered process for any call outside the list
 * (SCMP_ACT_KILL_PROCESS), which no request can trigger on purpose. */
#ifndef VUV_HAVE_SECCOMP
/* Without libseccomp: asking for the sandbox is a start-up error; the default
 * silently means off. */
static void t_sandbox_modes(void)
{
	static const char *const modes[] = { "on", "log" };
	struct daemon_proc d;
	struct vuf f;

	for (unsigned i = 0; i < 2; i++) {
		CHECK_EQ(run((const char *[]){ "-b", "null", "-s", "/tmp/vuv-never.sock", "--sandbox",
					       modes[i], NULL }), 1);
		CHECK(strstr(err, "this build has no seccomp support"));
		CHECK_EQ(count_lines(err), 1);
		CHECK(access("/tmp/vuv-never.sock", F_OK) != 0);
	}
	REQUIRE(daemon_start(&d, (const char *[]){ "-v", NULL }) == 0);
	CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
	CHECK_EQ(vuf_start(&f, NULL), 0);
	vuf_close(&f);
	CHECK_EQ(proc_status_field(d.pid, "Seccomp:"), proc_status_field(getpid(), "Seccomp:"));
	CHECK_EQ(daemon_stop(&d), 0);
	CHECK(file_contains(d.log, "sandbox: not available in this build"));
	daemon_cleanup(&d);
}
#else
static void t_sandbox_modes(void)
{
	static const char *const modes[] = { "off", "log", "on", NULL /* default */ };
	long own_filters = proc_status_field(getpid(), "Seccomp_filters:");
	long own_mode = proc_status_field(getpid(), "Seccomp:");
	long own_nnp = proc_status_field(getpid(), "NoNewPrivs:");

	REQUIRE(own_mode >= 0 && own_nnp >= 0 && own_filters >= 0);
	for (unsigned i = 0; i < 4; i++) {
		bool off = modes[i] && strcmp(modes[i], "off") == 0;
		const char *args[] = { "-v", modes[i] ? "--sandbox" : NULL, modes[i], NULL };
		struct daemon_proc d;
		struct vuf f;
		uint8_t cfg[12];

		REQUIRE(daemon_start(&d, args) == 0);
		/* Answers come from the loop, which runs only after the sandbox is in. */
		CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
		CHECK_EQ(vuf_start(&f, NULL), 0);
		CHECK_EQ(vuf_get_config(&f, 0, cfg, sizeof(cfg)), 0);
		CHECK_EQ(proc_status_field(d.pid, "Seccomp:"), off ? own_mode : 2);
		CHECK_EQ(proc_status_field(d.pid, "Seccomp_filters:"), own_filters + (off ? 0 : 1));
		CHECK_EQ(proc_status_field(d.pid, "NoNewPrivs:"), off ? own_nnp : 1);
		vuf_close(&f);
		/* Served again after the disconnect. */
		CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
		CHECK_EQ(vuf_start(&f, NULL), 0);
		CHECK_EQ(vuf_get_config(&f, 0, cfg, sizeof(cfg)), 0);
		vuf_close(&f);
		CHECK(daemon_alive(&d));
		CHECK_EQ(daemon_stop(&d), 0);
		CHECK(access(d.sock, F_OK) != 0);
		if (off)
			CHECK(file_contains(d.log, "sandbox: off"));
		else
			CHECK(file_contains(d.log, " syscalls allowed"));
		if (!modes[i] || strcmp(modes[i], "on") == 0)
			CHECK(file_contains(d.log, "any other kills the daemon"));
		daemon_cleanup(&d);
	}
}

/* Makes the running daemon call socket(AF_UNIX, SOCK_STREAM, 0), which no allow-list
 * entry covers: gdb attaches and calls libc's socket() in the daemon's main thread.
 * Returns gdb's exit status (-1 when it could not be run). */
static int make_daemon_call_socket(pid_t pid)
{
	char pidstr[16];
	pid_t gdb;
	int status;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	gdb = fork();
	if (gdb < 0)
		return -1;
	if (gdb == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("gdb", "gdb", "-nx", "-batch", "-p", pidstr, "-ex",
		       "call (int)socket(1, 1, 0)", (char *)NULL);
		_exit(127);
	}
	if (waitpid(gdb, &status, 0) != gdb)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The filter is enforced, not just installed: a system call off the list kills the whole
 * daemon with SIGSYS under `on`, and runs (the kernel logs it) under `log`. */
static void t_sandbox_kills_forbidden_syscall(void)
{
	static const char *const modes[] = { "on", "log" };

	for (unsigned i = 0; i < 2; i++) {
		const char *args[] = { "--sandbox", modes[i], NULL };
		struct daemon_proc d;
		struct vuf f;

		REQUIRE(daemon_start(&d, args) == 0);
		/* Once it answers, the loop runs: the sandbox is in. */
		CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
		CHECK_EQ(vuf_start(&f, NULL), 0);
		vuf_close(&f);
		REQUIRE(make_daemon_call_socket(d.pid) != 127); /* gdb is installed by deps.sh */
		if (i == 0) {
			int status = 0;
			pid_t r = 0;

			for (int t = 0; t < 100 && r == 0; t++) {
				r = waitpid(d.pid, &status, WNOHANG);
				if (r == 0)
					sleep_ms(20);
			}
			CHECK_EQ(r, d.pid);
			CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
			if (r == d.pid)
				d.pid = 0;
			else
				daemon_stop(&d);
		} else {
			CHECK(daemon_alive(&d));
			CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
			CHECK_EQ(vuf_start(&f, NULL), 0);
			vuf_close(&f);
			CHECK_EQ(daemon_stop(&d), 0);
		}
		daemon_cleanup(&d);
	}
}
#endif

/* Mode and group of the socket file: stat after start-up. */
static void expect_socket(const char *const *extra, mode_t mode, gid_t gid)
{
	struct daemon_proc d;
	struct stat st;
	struct vuf f;

	REQUIRE(daemon_start(&d, extra) == 0);
	/* The file appears at bind; once the daemon answers, it has its final mode. */
	CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
	CHECK_EQ(vuf_start(&f, NULL), 0);
	vuf_close(&f);
	CHECK_EQ(stat(d.sock, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, mode);
	CHECK_EQ(st.st_gid, gid);
	CHECK_EQ(st.st_uid, getuid());
	CHECK_EQ(daemon_stop(&d), 0);
	daemon_cleanup(&d);
}

static void t_socket_mode_and_group(void)
{
	char gid_arg[32];
	const struct group *gr = getgrgid(getegid());

	snprintf(gid_arg, sizeof(gid_arg), "%u", (unsigned)getegid());
	expect_socket(NULL, 0600, getegid());
	expect_socket((const char *[]){ "--socket-mode", "0660", NULL }, 0660, getegid());
	expect_socket((const char *[]){ "--socket-mode", "660", NULL }, 0660, getegid());
	expect_socket((const char *[]){ "--socket-mode", "0666", NULL }, 0666, getegid());
	expect_socket((const char *[]){ "--socket-mode", "0640", "--socket-group", gid_arg, NULL },
		      0640, getegid());
	expect_socket((const char *[]){ "--socket-group", gid_arg, NULL }, 0600, getegid());
	if (gr)
		expect_socket((const char *[]){ "--socket-group", gr->gr_name, "--socket-mode",
						"0660", NULL }, 0660, getegid());
	/* Root may give the socket any group; a number need not name one. */
	if (geteuid() == 0)
		expect_socket((const char *[]){ "--socket-group", "54321", "--socket-mode", "0660",
						NULL }, 0660, 54321);
}

static void t_sigterm_sigint_remove_socket(void)
{
	int sigs[2] = { SIGTERM, SIGINT };

	for (int i = 0; i < 2; i++) {
		struct daemon_proc d;
		struct stat st;
		int status;

		REQUIRE(daemon_start(&d, NULL) == 0);
		/* Owner-only permissions. */
		CHECK_EQ(stat(d.sock, &st), 0);
		CHECK(S_ISSOCK(st.st_mode));
		CHECK_EQ(st.st_mode & 0777, 0600);
		kill(d.pid, sigs[i]);
		for (int t = 0; t < 300 && waitpid(d.pid, &status, WNOHANG) == 0; t++)
			sleep_ms(10);
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), 0);
		CHECK(access(d.sock, F_OK) != 0);
		d.pid = 0;
		daemon_cleanup(&d);
	}
}

static void t_sigterm_while_connected(void)
{
	struct daemon_proc d;
	struct vuf f;

	REQUIRE(daemon_start(&d, NULL) == 0);
	CHECK_EQ(vuf_connect(&f, d.sock, 2000), 0);
	CHECK_EQ(vuf_start(&f, NULL), 0);
	CHECK_EQ(daemon_stop(&d), 0);
	CHECK(access(d.sock, F_OK) != 0);
	CHECK(vuf_wait_closed(&f, 1000));
	vuf_close(&f);
	daemon_cleanup(&d);
}

static void t_stale_and_live_socket(void)
{
	struct daemon_proc d;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;
	char path[128];

	/* A stale socket file (nobody listening) is replaced. */
	snprintf(path, sizeof(path), "/tmp/vuv-stale-%d.sock", (int)getpid());
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	{
		const char *args[] = { "-b", "null", "-s", path, NULL };
		pid_t pid = fork();

		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			execv(daemon_binary(), (char *const[]){ (char *)daemon_binary(),
				(char *)args[0], (char *)args[1], (char *)args[2], (char *)args[3],
				NULL });
			_exit(127);
		}
		d.pid = pid;
		/* It must be listening: a front-end can connect. */
		{
			struct vuf f;

			CHECK_EQ(vuf_connect(&f, path, 3000), 0);
			CHECK_EQ(vuf_start(&f, NULL), 0);
			vuf_close(&f);
		}
		/* A second daemon on the same live socket refuses to start. */
		CHECK_EQ(run(args), 1);
		CHECK(strstr(err, "another process is listening"));
		CHECK(daemon_alive(&d));
		CHECK_EQ(daemon_stop(&d), 0);
	}
	CHECK(access(path, F_OK) != 0);
}

/* --fd with a listening socket and with a connected one (socketpair). */
static void t_fd_option(void)
{
	int sv[2];
	pid_t pid;
	int status = -1;
	char fdarg[16];
	struct vuf f;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		execv(daemon_binary(), (char *const[]){ (char *)daemon_binary(), "-b", "null",
			"--fd", fdarg, NULL });
		_exit(127);
	}
	close(sv[1]);
	CHECK_EQ(vuf_attach(&f, sv[0]), 0);
	CHECK_EQ(vuf_start(&f, NULL), 0);
	{
		uint8_t cfg[12];

		CHECK_EQ(vuf_get_config(&f, 0, cfg, 12), 0);
		CHECK_EQ(cfg[0], 0); /* version */
	}
	/* A connected --fd is served once: the daemon exits when it goes. */
	vuf_close(&f);
	for (int t = 0; t < 300 && waitpid(pid, &status, WNOHANG) == 0; t++)
		sleep_ms(10);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);

	/* A listening --fd is served again and again. */
	{
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		char path[128];

		snprintf(path, sizeof(path), "/tmp/vuv-fd-%d.sock", (int)getpid());
		unlink(path);
		strcpy(addr.sun_path, path);
		CHECK_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
		CHECK_EQ(listen(lfd, 1), 0);
		snprintf(fdarg, sizeof(fdarg), "%d", lfd);
		pid = fork();
		if (pid == 0) {
			execv(daemon_binary(), (char *const[]){ (char *)daemon_binary(), "-b",
				"null", "--fd", fdarg, NULL });
			_exit(127);
		}
		close(lfd);
		for (int i = 0; i < 3; i++) {
			CHECK_EQ(vuf_connect(&f, path, 3000), 0);
			CHECK_EQ(vuf_start(&f, NULL), 0);
			vuf_close(&f);
		}
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), 0);
		unlink(path);
	}
}

int main(void)
{
	test_begin("cli");
	signal(SIGPIPE, SIG_IGN);
	RUN_TEST(t_help_and_version);
	RUN_TEST(t_print_capabilities);
	RUN_TEST(t_usage_errors);
	RUN_TEST(t_startup_errors);
	RUN_TEST(t_sigterm_sigint_remove_socket);
	RUN_TEST(t_sigterm_while_connected);
	RUN_TEST(t_stale_and_live_socket);
	RUN_TEST(t_fd_option);
	RUN_TEST(t_sandbox_modes);
#ifdef VUV_HAVE_SECCOMP
	RUN_TEST(t_sandbox_kills_forbidden_syscall);
#endif
	RUN_TEST(t_socket_mode_and_group);
	return test_summary();
}
