/* SPDX-License-Identifier: MIT */
/* src/common/thread.h -- thread names, so top -H, perf and /proc/PID/task/TID/comm tell a
 * worker from the status loop or the discovery merger. */
#pragma once
#include <pthread.h>
#include <stdio.h>

/* Name the calling thread (at most 15 octets; longer names are cut). */
static inline void gk_thread_name(const char *name)
{
	char buf[16]; /* the kernel's limit, NUL included: longer names get ERANGE */
	snprintf(buf, sizeof(buf), "%s", name);
	(void)pthread_setname_np(pthread_self(), buf);
}
