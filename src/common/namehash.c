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
	uint64_t h = 0, p = 1;
	size_t o = 0;
	if (len >= 8) {
		/* every label's first word is readable in place or from the name's last eight */
		for (; o < len && n[o]; o += n[o] + 1u) {
			uint64_t g;
			if (__builtin_expect(n[o] < 8, 1)) {
				uint64_t w = o + 8 <= len ? gk_namehash_le64(n + o)
				                          : gk_namehash_le64(n + len - 8) >>
				                                (8 * (o + 8 - len));
				g = gk_namehash_word(gk_namehash_seed, w);
			} else {
				g = gk_namehash_label(n, len, o);
			}
			h += p * g;
			p *= GK_NAMEHASH_M;
		}
	} else {
		for (; o < len && n[o]; o += n[o] + 1u) {
			h += p * gk_namehash_label(n, len, o);
			p *= GK_NAMEHASH_M;
		}
	}
	return gk_namehash_fin(h + p * gk_namehash_root());
}
