#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_verbosity = LOG_WARN;

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if ((int)level > log_verbosity)
		return;
	fprintf(stderr, "vhost-user-video: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
