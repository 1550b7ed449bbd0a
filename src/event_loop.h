/* Single-threaded epoll loop: register an fd with a callback. Handlers may
 * remove any handler (their own included) from inside a callback; events
 * already fetched for a removed handler are dropped. */
#ifndef EVENT_LOOP_H
#define EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;
struct ev_handler;

typedef void (*ev_callback)(void *opaque, uint32_t events);

struct event_loop *ev_loop_new(void);
void ev_loop_free(struct event_loop *loop);

/* Watches fd for events (EPOLLIN, ...). The fd stays owned by the caller and
 * must stay open until ev_del. Returns the handler or NULL (errno set). */
struct ev_handler *ev_add(struct event_loop *loop, int fd, uint32_t events,
			  ev_callback cb, void *opaque);
int ev_mod(struct event_loop *loop, struct ev_handler *h, uint32_t events);
/* Stops watching; NULL is accepted. */
void ev_del(struct event_loop *loop, struct ev_handler *h);

/* Waits up to timeout_ms (-1 = forever) and dispatches one batch of events.
 * Returns the number dispatched or -errno (EINTR is reported as 0). */
int ev_loop_run_once(struct event_loop *loop, int timeout_ms);

/* Runs batches until ev_loop_stop() or *stop_flag becomes true. */
void ev_loop_run(struct event_loop *loop, volatile bool *stop_flag);
void ev_loop_stop(struct event_loop *loop);

/* Handlers currently registered (for leak tests). */
unsigned ev_loop_count(const struct event_loop *loop);

#endif
