/* Registry of the video backends, by --backend name. */
#include "backend.h"

#include <errno.h>
#include <string.h>

#include "log.h"

/* Placeholder until the V4L2 stateful decoder backend is written: it is listed so that
 * the command line knows the name, and says plainly that it cannot start. */
static int v4l2_dec_stub_open(struct backend **out, const struct backend_config *cfg,
			      struct event_loop *loop)
{
	(void)cfg;
	(void)loop;
	*out = NULL;
	log_err("v4l2-decoder: backend not built yet");
	return -ENOTSUP;
}

static void v4l2_dec_stub_close(struct backend *b)
{
	(void)b;
}

static const struct backend_ops backend_v4l2_dec_stub_ops = {
	.name = "v4l2-decoder",
	.open = v4l2_dec_stub_open,
	.close = v4l2_dec_stub_close,
};

static const struct backend_ops *const backends[] = {
	&backend_null_ops,
	&backend_v4l2_dec_stub_ops,
};

const struct backend_ops *backend_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *backend_names(void)
{
	return "null, v4l2-decoder";
}
