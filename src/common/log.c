/* SPDX-License-Identifier: MIT */
/* src/common/log.c -- stderr logger: timestamp, level, message, one write per line; or the
 * journal's native protocol (libsystemd's sd_journal_send) under systemd. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
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

/* 0: not looked yet, 1: stderr is the journal's stream, 2: it is not */
static int journal_state;

static int journal(void)
{
	int st = __atomic_load_n(&journal_state, __ATOMIC_RELAXED);
	if (st != 0)
		return st == 1;
	st = 2;
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &sb) == 0 &&
	    (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino)
		st = 1;
	__atomic_store_n(&journal_state, st, __ATOMIC_RELAXED);
	return st == 1;
}

/* The message's subsystem: its leading "word: " (letters, digits, _ . -), else "main". */
static int subsystem(const char *msg, const char **out)
{
	int n = 0;
	while (n < 32 && msg[n] != '\0' &&
	       ((msg[n] >= 'a' && msg[n] <= 'z') || (msg[n] >= 'A' && msg[n] <= 'Z') ||
	        (msg[n] >= '0' && msg[n] <= '9') || msg[n] == '_' || msg[n] == '.' ||
	        msg[n] == '-'))
		n++;
	if (n > 0 && msg[n] == ':' && msg[n + 1] == ' ') {
		*out = msg;
		return n;
	}
	*out = "main";
	return 4;
}

static bool to_journal(enum gk_log_level level, const char *msg)
{
	static const int prio[] = {3, 4, 6, 7};
	const char *sub;
	int sl = subsystem(msg, &sub);
	return sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio[level], "GK_SUBSYSTEM=%.*s",
	                       sl, sub, "SYSLOG_IDENTIFIER=%s", program_invocation_short_name,
	                       NULL) >= 0;
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
	if (journal() && m >= 0 && to_journal(level, line + n))
		return;
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
