/* vhost-user-video: command line, signals and the accept/reconnect loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
	enum { OPT_FD = 256, OPT_PRINT_CAPS };
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "backend", required_argument, NULL, 'b' },
		{ "v4l2-device", required_argument, NULL, 'd' },
		{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .fd = -1, .v4l2_device = "/dev/video0", .verbosity = LOG_WARN };
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
	return -1;
}

static void print_capabilities(void)
{
	/* QEMU's vhost-user.json: the device type and its optional features. */
	printf("{\n  \"type\": \"video\",\n  \"features\": []\n}\n");
}

/* Creates the listening socket with owner-only permissions. A stale socket
 * file (nobody listening) is replaced; a live one or any other file is not. */
static int create_listen_socket(const char *path)
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
	old_umask = umask(0077);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	/* umask kept others out while binding; sockets need no x bit. */
	if (ret < 0 || chmod(path, 0600) < 0) {
		log_err("cannot create socket '%s': %s", path, strerror(errno));
		if (ret == 0)
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

	bops = backend_find(o.backend);
	d.loop = ev_loop_new();
	if (!d.loop) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	ret = bops->open(&backend, &(struct backend_config){ .device_path = o.v4l2_device },
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
		d.listen_fd = create_listen_socket(o.socket_path);
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
