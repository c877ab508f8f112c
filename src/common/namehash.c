/* SPDX-License-Identifier: MIT */
/* src/common/namehash.c -- the name hash's per-process seed (common/namehash.h). */
#include <stdint.h>
#include <sys/random.h>
#include <string.h>
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

/* n[0..len) into b, followed by at least GK_NAMEHASH_PAD zero octets (b holds len rounded
 * up to eight, plus sixteen), a word at a time: never reads past n's end. */
static void pad_copy(uint8_t *b, const uint8_t *n, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = gk_dname_load64(n + i);
		memcpy(b + i, &w, 8);
	}
	/* the tail: gk_namehash_load's word (zeros past len) in memory order */
	uint64_t t = i < len ? gk_namehash_load(n, len, i) : 0;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	t = __builtin_bswap64(t);
#endif
	memcpy(b + i, &t, 8);
	memset(b + i + 8, 0, 8);
}

/* Longest name the padded copy takes; longer input (not a wire name) is hashed in place. */
#define PAD_MAX (GK_DNAME_MAX + 1u)

void gk_namehash_states(const uint8_t *n, size_t len, const uint8_t *loff, unsigned labels,
                        uint64_t *s)
{
	if (len > PAD_MAX) {
		uint64_t st = gk_namehash_root();
		s[labels] = st;
		for (unsigned i = labels; i-- > 0;)
			s[i] = st = gk_namehash_step(st, n, len, loff[i]);
		return;
	}
	uint8_t b[PAD_MAX + 16] __attribute__((aligned(8)));
	pad_copy(b, n, len);
	gk_namehash_pstates(b, loff, labels, s);
}

uint64_t gk_namehash(const uint8_t *n, size_t len)
{
	uint8_t loff[GK_DNAME_LABELS_MAX];
	unsigned labels = 0;
	for (size_t o = 0; o < len && n[o] && labels < GK_DNAME_LABELS_MAX; o += n[o] + 1u)
		loff[labels++] = (uint8_t)o;
	uint64_t st = gk_namehash_root();
	if (len > PAD_MAX) {
		while (labels-- > 0)
			st = gk_namehash_step(st, n, len, loff[labels]);
		return gk_namehash_fin(st);
	}
	uint8_t b[PAD_MAX + 16] __attribute__((aligned(8)));
	pad_copy(b, n, len);
	while (labels-- > 0)
		st = gk_namehash_pstep(st, b, loff[labels]);
	return gk_namehash_fin(st);
}
