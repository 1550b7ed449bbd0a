/* The epoll loop: dispatch, removal from inside callbacks, counts. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event_loop.h"
#include "testlib.h"

struct ctx {
	struct event_loop *loop;
	struct ev_handler *self, *other;
	int fd;
	unsigned calls;
	bool remove_self, remove_other;
};

static void on_event(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;
	eventfd_t v;

	(void)events;
	c->calls++;
	eventfd_read(c->fd, &v);
	if (c->remove_self) {
		ev_del(c->loop, c->self);
		c->self = NULL;
	}
	if (c->remove_other) {
		ev_del(c->loop, c->other);
		c->other = NULL;
	}
}

static void t_dispatch_and_count(void)
{
	struct event_loop *loop = ev_loop_new();
	struct ctx c = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK) };

	REQUIRE(loop);
	c.self = ev_add(loop, c.fd, EPOLLIN, on_event, &c);
	REQUIRE(c.self);
	CHECK_EQ(ev_loop_count(loop), 1);
	CHECK_EQ(ev_loop_run_once(loop, 0), 0);
	CHECK_EQ(c.calls, 0);
	eventfd_write(c.fd, 1);
	CHECK_EQ(ev_loop_run_once(loop, 100), 1);
	CHECK_EQ(c.calls, 1);
	ev_del(loop, c.self);
	CHECK_EQ(ev_loop_count(loop), 0);
	eventfd_write(c.fd, 1);
	CHECK_EQ(ev_loop_run_once(loop, 0), 0);
	CHECK_EQ(c.calls, 1);
	/* Adding a bad fd fails cleanly. */
	CHECK(ev_add(loop, -1, EPOLLIN, on_event, &c) == NULL);
	CHECK_EQ(ev_loop_count(loop), 0);
	close(c.fd);
	ev_loop_free(loop);
}

/* Two handlers ready in one batch; the first removes the second: the second's
 * already fetched event must not be delivered (its owner may be gone). */
static void t_remove_other_in_same_batch(void)
{
	struct event_loop *loop = ev_loop_new();
	struct ctx a = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK) };
	struct ctx b = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK) };

	REQUIRE(loop);
	a.self = ev_add(loop, a.fd, EPOLLIN, on_event, &a);
	b.self = ev_add(loop, b.fd, EPOLLIN, on_event, &b);
	a.other = b.self;
	b.other = a.self;
	a.remove_other = b.remove_other = true;
	eventfd_write(a.fd, 1);
	eventfd_write(b.fd, 1);
	CHECK_EQ(ev_loop_run_once(loop, 100), 2);
	CHECK_EQ(a.calls + b.calls, 1);
	CHECK_EQ(ev_loop_count(loop), 1);
	close(a.fd);
	close(b.fd);
	ev_loop_free(loop);
}

static void t_remove_self(void)
{
	struct event_loop *loop = ev_loop_new();
	struct ctx c = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK), .remove_self = true };

	REQUIRE(loop);
	c.self = ev_add(loop, c.fd, EPOLLIN, on_event, &c);
	eventfd_write(c.fd, 1);
	CHECK_EQ(ev_loop_run_once(loop, 100), 1);
	CHECK(c.self == NULL);
	CHECK_EQ(ev_loop_count(loop), 0);
	eventfd_write(c.fd, 1);
	CHECK_EQ(ev_loop_run_once(loop, 0), 0);
	CHECK_EQ(c.calls, 1);
	close(c.fd);
	ev_loop_free(loop);
}

int main(void)
{
	test_begin("event_loop");
	RUN_TEST(t_dispatch_and_count);
	RUN_TEST(t_remove_other_in_same_batch);
	RUN_TEST(t_remove_self);
	return test_summary();
}
