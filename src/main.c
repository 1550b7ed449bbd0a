/* vhost-user-video: command line, signals and the accept/reconnect loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "event_loop.h"
#include "log.h"
#include "sandbox.h"
#include "vu_server.h"
#include "vv_device.h"

#define EXIT_USAGE 2

struct options {
	const char *socket_path;
	int fd;
	const char *v4l2_device;
	const char *backend;
	bool print_capabilities;
	int verbosity;
	unsigned decode_threads;
	bool frame_threading;
	enum sandbox_mode sandbox;
	bool sandbox_given;       /* --sandbox on must not fall back to off */
	mode_t socket_mode;
	bool socket_mode_given;
	const char *socket_group; /* NULL: the creator's group */
};

struct daemon {
	struct event_loop *loop;
	struct vu_server *server;
	int listen_fd;            /* -1 when serving a connected --fd */
	struct ev_handler *listen_h;
	int signal_fd;
	struct ev_handler *signal_h;
	bool stop;
	bool exit_after_close;    /* --fd was a connected socket */
	const char *socket_path;  /* to unlink at exit; NULL for --fd */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhost-user-video (--socket-path PATH | --fd FDNUM) --backend BACKEND [OPTIONS]\n"
		"\n"
		"A virtio-video (spec draft v3) decoder device served over the vhost-user protocol.\n"
		"\n"
		"Options:\n"
		"  -s, --socket-path PATH     unix socket to create and listen on for the hypervisor\n"
		"      --fd FDNUM             serve an already listening or connected socket instead\n"
		"  -b, --backend BACKEND      video backend [possible values: %s]\n"
		"  -d, --v4l2-device PATH     video device node for v4l2-decoder [default: /dev/video0]\n"
		"      --decode-threads N     software decoders: codec threads per stream, 0 = one\n"
		"                             per core, at most 16 [default: 0]\n"
		"      --frame-threading on|off  software decoders: decode several frames at once\n"
		"                             (throughput for a few frames of latency) [default: on]\n"
		"      --socket-mode MODE     permissions of the socket file, octal, no x bits\n"
		"                             [default: 0600]\n"
		"      --socket-group GROUP   group of the socket file (name or number)\n"
		"      --sandbox on|off|log   seccomp system-call allow-list after start-up: on kills\n"
		"                             the daemon on a call outside it, log lets the kernel\n"
		"                             log such calls [default: on where built with libseccomp]\n"
		"      --print-capabilities   print the vhost-user back-end capabilities (JSON) and exit\n"
		"  -v, --verbose              log more (repeat for debug messages)\n"
		"  -h, --help                 print this help and exit\n"
		"  -V, --version              print the version and exit\n",
		backend_names());
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vhost-user-video: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'vhost-user-video --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* Returns -1 to continue, or the exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_FD = 256, OPT_PRINT_CAPS, OPT_DECODE_THREADS, OPT_FRAME_THREADING, OPT_SANDBOX,
		OPT_SOCKET_MODE, OPT_SOCKET_GROUP,
	};
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "backend", required_argument, NULL, 'b' },
		{ "v4l2-device", required_argument, NULL, 'd' },
		{ "decode-threads", required_argument, NULL, OPT_DECODE_THREADS },
		{ "frame-threading", required_argument, NULL, OPT_FRAME_THREADING },
		{ "sandbox", required_argument, NULL, OPT_SANDBOX },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .fd = -1, .v4l2_device = "/dev/video0", .verbosity = LOG_WARN,
			       .frame_threading = true, .socket_mode = 0600,
			       .sandbox = sandbox_available() ? SANDBOX_ON : SANDBOX_OFF };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:b:d:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case OPT_FD: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 65535)
				return usage_error("--fd: '%s' is not a file descriptor number",
						   optarg);
			o->fd = (int)v;
			break;
		}
		case OPT_DECODE_THREADS: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 64)
				return usage_error("--decode-threads: '%s' is not a number from 0 to 64",
						   optarg);
			o->decode_threads = (unsigned)v;
			break;
		}
		case OPT_FRAME_THREADING:
			if (strcmp(optarg, "on") == 0)
				o->frame_threading = true;
			else if (strcmp(optarg, "off") == 0)
				o->frame_threading = false;
			else
				return usage_error("--frame-threading: '%s' is not one of on, off",
						   optarg);
			break;
		case OPT_SANDBOX:
			if (strcmp(optarg, "on") == 0)
				o->sandbox = SANDBOX_ON;
			else if (strcmp(optarg, "off") == 0)
				o->sandbox = SANDBOX_OFF;
			else if (strcmp(optarg, "log") == 0)
				o->sandbox = SANDBOX_LOG;
			else
				return usage_error("--sandbox: '%s' is not one of on, off, log",
						   optarg);
			o->sandbox_given = true;
			break;
		case OPT_SOCKET_MODE: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 8);
			/* Sockets need no x bit; set-id and sticky bits mean nothing here. */
			if (errno || *end || end == optarg || optarg[0] == '-' || optarg[0] == '+' ||
			    v < 0 || v > 0777 || (v & 0111))
				return usage_error("--socket-mode: '%s' is not an octal mode from 0 to "
						   "0666 without x bits", optarg);
			o->socket_mode = (mode_t)v;
			o->socket_mode_given = true;
			break;
		}
		case OPT_SOCKET_GROUP:
			if (!optarg[0])
				return usage_error("%s", "--socket-group: empty group name");
			o->socket_group = optarg;
			break;
		case 'b':
			o->backend = optarg;
			break;
		case 'd':
			o->v4l2_device = optarg;
			break;
		case OPT_PRINT_CAPS:
			o->print_capabilities = true;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vhost-user-video %s\n", VUV_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->print_capabilities)
		return -1;
	if (!o->backend) {
		return usage_error("--backend is required [possible values: %s]",
				   backend_names());
	}
	if (!backend_find(o->backend)) {
		return usage_error("--backend: unknown backend '%s' [possible values: %s]",
				   o->backend, backend_names());
	}
	if (!o->socket_path == (o->fd < 0))
		return usage_error("%s", "exactly one of --socket-path and --fd is required");
	if (!o->socket_path && (o->socket_group || o->socket_mode_given))
		return usage_error("%s", "--socket-mode and --socket-group need --socket-path");
	return -1;
}

static void print_capabilities(void)
{
	/* QEMU's vhost-user.json: the device type and its optional features. */
	printf("{\n  \"type\": \"video\",\n  \"features\": []\n}\n");
}

/* --socket-group: a number is taken as is (like chown), a name must exist. */
static int resolve_group(const char *name, gid_t *gid)
{
	const struct group *gr;
	char *end;
	unsigned long v;

	if (name[0] >= '0' && name[0] <= '9') {
		errno = 0;
		v = strtoul(name, &end, 10);
		if (!errno && !*end && v < (unsigned long)(gid_t)-1) {
			*gid = (gid_t)v;
			return 0;
		}
	}
	errno = 0;
	gr = getgrnam(name);
	if (!gr) {
		log_err("--socket-group: unknown group '%s'%s%s", name, errno ? ": " : "",
			errno ? strerror(errno) : "");
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* Creates the listening socket with the given permissions and group (gid -1:
 * the creator's). A stale socket file (nobody listening) is replaced; a live
 * one or any other file is not. */
static int create_listen_socket(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_err("socket path '%s' is too long (at most %zu bytes)", path,
			sizeof(addr.sun_path) - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("cannot create socket '%s': a file that is not a socket is there",
				path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			log_err("cannot create socket '%s': another process is listening on it",
				path);
			goto fail;
		}
		unlink(path);
	}
	/* The file is born with the owner's bits only, gets its group, and only
	 * then the group's and others' bits: nobody else can connect before the
	 * final mode, and the creator's own group never can. */
	old_umask = umask(0777 & ~(mode & 0700));
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret < 0) {
		log_err("cannot create socket '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (gid != (gid_t)-1 && lchown(path, (uid_t)-1, gid) < 0) {
		log_err("cannot give socket '%s' group %u: %s", path, (unsigned)gid,
			strerror(errno));
		unlink(path);
		goto fail;
	}
	if (chmod(path, mode) < 0) {
		log_err("cannot create socket '%s': chmod: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (listen(fd, 1) < 0) {
		log_err("listen on '%s': %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void on_listen(void *opaque, uint32_t events);

static void on_connection_closed(void *opaque)
{
	struct daemon *d = opaque;

	if (d->exit_after_close) {
		d->stop = true;
		return;
	}
	log_info("waiting for the next front-end");
	d->listen_h = ev_add(d->loop, d->listen_fd, EPOLLIN, on_listen, d);
	if (!d->listen_h) {
		log_err("cannot watch the listening socket: %s", strerror(errno));
		d->stop = true;
	}
}

static void on_listen(void *opaque, uint32_t events)
{
	struct daemon *d = opaque;
	int conn;

	(void)events;
	conn = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	log_info("front-end connected");
	/* One front-end at a time: stop accepting until it goes. */
	ev_del(d->loop, d->listen_h);
	d->listen_h = NULL;
	if (vu_server_attach(d->server, conn, on_connection_closed, d) < 0)
		on_connection_closed(d);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct daemon *d = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		log_info("signal %u: exiting", si.ssi_signo);
	d->stop = true;
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signal_fd < 0)
		return -1;
	d->signal_h = ev_add(d->loop, d->signal_fd, EPOLLIN, on_signal, d);
	return d->signal_h ? 0 : -1;
}

/* --fd: a listening socket is served like --socket-path; a connected one is
 * served once. */
static int adopt_fd(struct daemon *d, int fd)
{
	struct stat st;
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_err("--fd %d: not an open socket", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
		log_err("--fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (listening) {
		d->listen_fd = fd;
		return 0;
	}
	d->exit_after_close = true;
	return vu_server_attach(d->server, fd, on_connection_closed, d) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct daemon d = { .listen_fd = -1, .signal_fd = -1 };
	const struct backend_ops *bops;
	struct backend *backend = NULL;
	struct vv_device *dev = NULL;
	gid_t socket_gid = (gid_t)-1;
	unsigned nallowed;
	int status = 1;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	log_verbosity = o.verbosity;
	if (o.print_capabilities) {
		print_capabilities();
		return 0;
	}

	if (o.sandbox != SANDBOX_OFF && !sandbox_available()) {
		if (o.sandbox_given) {
			log_err("--sandbox %s: this build has no seccomp support (no libseccomp); "
				"use --sandbox off", o.sandbox == SANDBOX_ON ? "on" : "log");
			return 1;
		}
		o.sandbox = SANDBOX_OFF;
	}
	if (!sandbox_available())
		log_info("sandbox: not available in this build (no libseccomp)");
	if (o.socket_group && resolve_group(o.socket_group, &socket_gid) < 0)
		return 1;

	bops = backend_find(o.backend);
	d.loop = ev_loop_new();
	if (!d.loop) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	ret = bops->open(&backend,
			 &(struct backend_config){ .device_path = o.v4l2_device,
						   .decode_threads = o.decode_threads,
						   .frame_threading = o.frame_threading },
			 d.loop);
	if (ret < 0)
		goto out; /* the backend said why */
	dev = vv_device_new(d.loop, bops, backend);
	if (!dev) {
		log_err("cannot create the device");
		goto out;
	}
	d.server = vu_server_new(d.loop, vv_device_vu_ops(), dev);
	if (!d.server) {
		log_err("out of memory");
		goto out;
	}
	vv_device_set_server(dev, d.server);
	if (setup_signals(&d) < 0) {
		log_err("signals: %s", strerror(errno));
		goto out;
	}
	if (o.socket_path) {
		d.listen_fd = create_listen_socket(o.socket_path, o.socket_mode, socket_gid);
		if (d.listen_fd < 0)
			goto out;
		d.socket_path = o.socket_path;
	} else if (adopt_fd(&d, o.fd) < 0) {
		goto out;
	}
	if (d.listen_fd >= 0) {
		d.listen_h = ev_add(d.loop, d.listen_fd, EPOLLIN, on_listen, &d);
		if (!d.listen_h) {
			log_err("epoll: %s", strerror(errno));
			goto out;
		}
		log_info("listening on %s with backend %s", o.socket_path ? o.socket_path : "--fd",
			 bops->name);
	}
	/* Start-up is over: from here on only serving is left to do. */
	if (sandbox_install(o.sandbox, &nallowed) < 0)
		goto out;
	if (o.sandbox == SANDBOX_ON)
		log_info("sandbox: %u syscalls allowed; any other kills the daemon (SIGSYS): find "
			 "it in the kernel's audit log or run with --sandbox log", nallowed);
	else if (o.sandbox == SANDBOX_LOG)
		log_info("sandbox: %u syscalls allowed; the kernel logs any other", nallowed);
	else if (sandbox_available())
		log_info("sandbox: off");

	while (!d.stop) {
		ret = ev_loop_run_once(d.loop, -1);
		if (ret < 0) {
			log_err("epoll_wait: %s", strerror(-ret));
			goto out;
		}
	}
	status = 0;
out:
	if (d.server)
		vu_server_free(d.server);
	if (dev)
		vv_device_free(dev);
	if (backend)
		bops->close(backend);
	ev_del(d.loop, d.listen_h);
	ev_del(d.loop, d.signal_h);
	if (d.listen_fd >= 0)
		close(d.listen_fd);
	if (d.signal_fd >= 0)
		close(d.signal_fd);
	if (d.socket_path)
		unlink(d.socket_path);
	ev_loop_free(d.loop);
	return status;
}
