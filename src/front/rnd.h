/* SPDX-License-Identifier: MIT */
/* src/front/rnd.h -- random numbers for the front end's backend queries (RFC 5452: IDs and
 * the choice of source socket), without a system call per query.
 *
 * glibc 2.36 (Debian 12) implements arc4random with one getrandom(2) call each time: two
 * system calls per forwarded query. A gk_frnd_t holds GK_FRND_BUF bytes from getrandom and
 * hands them out 4 at a time, each byte once, refilling with one call when spent: the same
 * kernel CSPRNG, 1 call per 1024 numbers. One per worker (not thread-safe); the bytes stay in
 * the process, as arc4random's userspace state did in other libcs.
 */
#pragma once
#include <stdint.h>
#include <string.h>

#define GK_FRND_BUF 4096u

typedef struct gk_frnd {
	uint32_t pos;     /* next unused byte; GK_FRND_BUF: empty */
	uint64_t refills; /* getrandom calls made */
	uint8_t buf[GK_FRND_BUF];
} gk_frnd_t;

/* Empty: the first number refills. */
void gk_front_rnd_init(gk_frnd_t *r);

/* Refill buf from getrandom(2) (arc4random_buf if that fails); pos 0. */
void gk_front_rnd_refill(gk_frnd_t *r);

/* A uniformly random 32-bit number. */
static inline uint32_t gk_front_rnd_u32(gk_frnd_t *r)
{
	if (r->pos > GK_FRND_BUF - 4u)
		gk_front_rnd_refill(r);
	uint32_t v;
	memcpy(&v, r->buf + r->pos, 4);
	r->pos += 4u;
	return v;
}

/* A random number below n (n > 0), without modulo bias (rejection of the top remainder). */
static inline uint32_t gk_front_rnd_below(gk_frnd_t *r, uint32_t n)
{
	uint32_t lim = (uint32_t)(-n) % n; /* 2^32 mod n */
	for (;;) {
		uint32_t v = gk_front_rnd_u32(r);
		if (v >= lim)
			return v % n;
	}
}
