/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_ipfeed.c -- libFuzzer target: arbitrary bytes as an IP filing feed (no Redis).
 *
 * The input goes through gk_ipfeed_parse and the IP lint. Invariants on success: count == n,
 * every range has first <= last, its canonical text parses back to the same range, removals
 * only in deltas and without a provider, additions with a non-empty provider, and the overlap
 * check passes again on the parsed ranges. LeakSanitizer checks both paths.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sync/ipfeed.h"
#include "sync/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		gk_feed_global_init();
		init = 1;
	}
	const char *text = (const char *)data;
	char err[512];
	gk_ipfeed_t *f = NULL;
	int rc = gk_ipfeed_parse("fuzz", text, size, &f, err, sizeof(err));
	if (rc) {
		if (strncmp(err, "fuzz:", 5))
			abort();
	} else {
		if (f->n != f->count)
			abort();
		for (size_t i = 0; i < f->n; i++) {
			const gk_ip_range_t *r = &f->r[i];
			char t[GK_IP_RANGE_TEXT];
			uint8_t a[16], b[16];
			int v4;
			const char *why;
			if (memcmp(r->first, r->last, 16) > 0)
				abort();
			size_t l = gk_ip_range_format(r->first, r->last, r->v4, t);
			if (gk_ip_range_parse(t, l, a, b, &v4, &why) || memcmp(a, r->first, 16) ||
			    memcmp(b, r->last, 16) || v4 != r->v4)
				abort();
			if (r->remove && (f->kind != GK_FEED_DELTA || r->provider))
				abort();
			if (!r->remove && (!r->provider || !r->provider[0]))
				abort();
			if (!r->remove) {
				char *v = gk_ipfeed_value(r);
				if (!v)
					abort();
				free(v);
			}
		}
		size_t nn;
		if (gk_ipfeed_check("fuzz", f->r, f->n, &nn, NULL, NULL, err, sizeof(err)) ||
		    nn != f->n_nested)
			abort();
		gk_ipfeed_free(f);
	}
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		size_t findings = 0;
		(void)gk_sync_ip_lint("fuzz", text, size, devnull, &findings, err, sizeof(err));
		fclose(devnull);
	}
	return 0;
}
