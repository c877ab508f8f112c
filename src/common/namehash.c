/* SPDX-License-Identifier: MIT */
/* src/common/namehash.c -- the name hash's per-process seed and its one-pass form for a name
 * without label offsets (common/namehash.h). */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "common/namehash.h"

uint64_t gk_namehash_seed;

/* Before main and before any table is built. getrandom blocks only before the kernel's pool
 * is initialised at boot; should it fail, the clock and the pid still differ per process. */
__attribute__((constructor)) static void namehash_seed_init(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = gk_dname_fmix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		                  ((uint64_t)getpid() << 48));
	}
	gk_namehash_seed = s;
}

uint64_t gk_namehash(const uint8_t *n, size_t len)
{
	uint8_t loff[GK_DNAME_LABELS_MAX];
	unsigned labels = 0;
	for (size_t o = 0; o < len && n[o] && labels < GK_DNAME_LABELS_MAX; o += n[o] + 1u)
		loff[labels++] = (uint8_t)o;
	uint64_t s = gk_namehash_root();
	for (unsigned i = labels; i-- > 0;)
		s = gk_namehash_step(s, n, len, loff[i]);
	return s;
}
