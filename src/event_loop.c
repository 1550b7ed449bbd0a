#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_BATCH 32

struct ev_handler {
	int fd;
	ev_callback cb;
	void *opaque;
	bool dead;
	struct ev_handler *prev, *next; /* live handlers */
	struct ev_handler *next_dead;
};

struct event_loop {
	int epfd;
	unsigned count;
	bool stop;
	bool dispatching;
	struct ev_handler *live;
	/* Handlers removed while a batch is dispatched; freed after it. */
	struct ev_handler *dead;
};

struct event_loop *ev_loop_new(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

static void free_dead(struct event_loop *loop)
{
	while (loop->dead) {
		struct ev_handler *h = loop->dead;

		loop->dead = h->next_dead;
		free(h);
	}
}

void ev_loop_free(struct event_loop *loop)
{
	if (!loop)
		return;
	/* Handlers the owner forgot to remove go with the loop. */
	while (loop->live) {
		struct ev_handler *h = loop->live;

		loop->live = h->next;
		free(h);
	}
	free_dead(loop);
	close(loop->epfd);
	free(loop);
}

struct ev_handler *ev_add(struct event_loop *loop, int fd, uint32_t events,
			  ev_callback cb, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct ev_handler *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd = fd;
	h->cb = cb;
	h->opaque = opaque;
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(h);
		errno = err;
		return NULL;
	}
	h->next = loop->live;
	if (loop->live)
		loop->live->prev = h;
	loop->live = h;
	loop->count++;
	return h;
}

int ev_mod(struct event_loop *loop, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
		return -errno;
	return 0;
}

void ev_del(struct event_loop *loop, struct ev_handler *h)
{
	if (!h || h->dead)
		return;
	/* The fd may already be closed by a careless caller; the epoll entry then
	 * went away with it, so an error here is harmless. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->dead = true;
	if (h->prev)
		h->prev->next = h->next;
	else
		loop->live = h->next;
	if (h->next)
		h->next->prev = h->prev;
	loop->count--;
	if (loop->dispatching) {
		h->next_dead = loop->dead;
		loop->dead = h;
	} else {
		free(h);
	}
}

int ev_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = epoll_wait(loop->epfd, evs, EV_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = evs[i].data.ptr;

		if (!h->dead)
			h->cb(h->opaque, evs[i].events);
	}
	loop->dispatching = false;
	free_dead(loop);
	return n;
}

void ev_loop_run(struct event_loop *loop, volatile bool *stop_flag)
{
	loop->stop = false;
	while (!loop->stop && !(stop_flag && *stop_flag)) {
		if (ev_loop_run_once(loop, -1) < 0)
			break;
	}
}

void ev_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}

unsigned ev_loop_count(const struct event_loop *loop)
{
	return loop->count;
}
