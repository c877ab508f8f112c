/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_proxy.c -- libFuzzer target: arbitrary bytes through the PROXY v2 parser.
 *
 * Invariants: the parser reads nothing beyond the input (ASan, with the input copied to a
 * buffer of exactly its size); a header it accepts lies within the input and within
 * GK_PROXY_HDR_MAX, starts with the signature, and its addresses are of the family the
 * header names; every prefix of an accepted input is "incomplete" (0) or the same header,
 * as a TCP stream delivers it; and a result of "incomplete" never comes for an input of
 * GK_PROXY_HDR_MAX octets or more (a stream must not wait for ever).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	if (b == NULL)
		return 0;
	memcpy(b, data, size);
	gk_proxy_t p;
	int r = gk_proxy_parse(b, size, &p);
	if (r > 0) {
		if ((size_t)r > size || (size_t)r > GK_PROXY_HDR_MAX || r < 16 ||
		    !gk_proxy_maybe(b, 12))
			abort();
		uint8_t fam = b[13] >> 4;
		if (p.has_addr &&
		    !((fam == 1 && p.src.ss_family == AF_INET && p.dst.ss_family == AF_INET) ||
		      (fam == 2 && p.src.ss_family == AF_INET6 && p.dst.ss_family == AF_INET6)))
			abort();
		if (p.has_addr && p.cmd != GK_PROXY_PROXY)
			abort();
		/* a stream cut anywhere: incomplete until the header is all there */
		for (size_t cut = 0; cut < (size_t)r; cut++) {
			gk_proxy_t q;
			if (gk_proxy_parse(b, cut, &q) != 0)
				abort();
		}
	} else if (r == 0 && size >= GK_PROXY_HDR_MAX) {
		abort();
	} else if (r < -1) {
		abort();
	}
	free(b);
	return 0;
}
