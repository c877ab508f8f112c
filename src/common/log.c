/* SPDX-License-Identifier: MIT */
/* src/common/log.c -- stderr logger: timestamp, level, message, one write per line. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "gk/errors.h"

static enum gk_log_level current = GK_LOG_INFO;
static const char *const names[] = {"error", "warning", "info", "debug"};

/* Set on reload by the main loop while workers may log: relaxed atomic accesses. */
void gk_log_set_level(enum gk_log_level level)
{
	__atomic_store_n(&current, level, __ATOMIC_RELAXED);
}

int gk_log_level_parse(const char *s, enum gk_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum gk_log_level)i;
			return 0;
		}
	}
	return GK_EINVAL;
}

void gk_log(enum gk_log_level level, const char *fmt, ...)
{
		if (level > __atomic_load_n(&current, __ATOMIC_RELAXED))
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000, names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
