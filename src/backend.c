/* Registry of the video backends, by --backend name. */
#include "backend.h"

#include <string.h>

static const struct backend_ops *const backends[] = {
	&backend_null_ops,
	&backend_v4l2_dec_ops,
#ifdef VUV_HAVE_FFMPEG
	&backend_ffmpeg_ops,
#endif
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
#ifdef VUV_HAVE_FFMPEG
	return "null, v4l2-decoder, ffmpeg";
#else
	return "null, v4l2-decoder";
#endif
}
