/* SPDX-License-Identifier: MIT */
/* src/ctl/internal.h -- helpers shared by gkctl's verbs (policy.c, status.c, lookup.c). */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include "ctl/ctl.h"

/* Connect to o->redis (else the config's redis.address, else 127.0.0.1:6379). On failure
 * prints the reason to errf and returns GK_CTL_USAGE or GK_CTL_IO. */
int gk_ctl_connect(const gk_ctl_opts_t *o, void **redis, FILE *errf);

/* "2026-11-29T12:00:00Z" of unix ms. */
void gk_ctl_time(int64_t ms, char *out, size_t cap);

/* unix ms now. */
int64_t gk_ctl_now_ms(void);
