/* SPDX-License-Identifier: MIT */
/* bench/timing.h -- what the in-process timing tools (polc, stlook) share: a monotonic clock
 * in seconds and the order for sorting round times before taking their median. */
#pragma once
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}
