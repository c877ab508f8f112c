/* SPDX-License-Identifier: MIT */
/* src/redis/internal.h -- shared between addr.c and conn.c. */
#pragma once
#include <stddef.h>
#include "redis/redis.h"

/* printf into err[errlen] when err is not NULL and errlen is not 0. */
void gk_redis_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
