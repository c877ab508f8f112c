/* SPDX-License-Identifier: MIT */
/* src/front/rnd.c -- the front end's buffered kernel random bytes (rnd.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include "front/rnd.h"

void gk_front_rnd_init(gk_frnd_t *r)
{
	r->pos = GK_FRND_BUF;
	r->refills = 0;
}

void gk_front_rnd_refill(gk_frnd_t *r)
{
	size_t got = 0;
	while (got < GK_FRND_BUF) {
		ssize_t n = getrandom(r->buf + got, GK_FRND_BUF - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	if (got < GK_FRND_BUF)
		arc4random_buf(r->buf + got, GK_FRND_BUF - got);
	r->pos = 0;
	r->refills++;
}
