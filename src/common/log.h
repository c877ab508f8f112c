/* SPDX-License-Identifier: MIT */
/* src/common/log.h -- human log lines on stderr, or structured entries in the journal.
 *
 * One line per call, written with a single write(2) so lines from different threads do not
 * interleave. When stderr is systemd's journal stream (JOURNAL_STREAM names its device and
 * inode, as systemd sets it for a service), each message is sent to the journal as an entry
 * of its own with fields instead: MESSAGE, PRIORITY (3 error, 4 warning, 6 info, 7 debug),
 * GK_SUBSYSTEM (the message's leading "word:" -- reload, status, policy, rate_limit ... --
 * else "main") and SYSLOG_IDENTIFIER; should the journal refuse it, the line goes to stderr.
 * Never called on the per-query path. Any thread.
 */
#pragma once
#include <stdarg.h>

enum gk_log_level { GK_LOG_ERR = 0, GK_LOG_WARN, GK_LOG_INFO, GK_LOG_DEBUG };

/* Messages above this level are discarded. Default GK_LOG_INFO. */
void gk_log_set_level(enum gk_log_level level);
/* Parse "error|warning|info|debug"; returns 0 or GK_EINVAL. */
int gk_log_level_parse(const char *s, enum gk_log_level *out);
void gk_log(enum gk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
