/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_feed.c -- libFuzzer target: arbitrary bytes as a registry feed (no Redis).
 *
 * The input goes through gk_sync_feed_parse (one thread, then two, which must agree on the
 * verdict and the message), gk_sync_feed_peek_header and gk_sync lint. Invariants on success:
 * count == n, every domain normalises to itself and is its own registrable domain, removals
 * only in deltas, every provider index is in range. LeakSanitizer checks both paths.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk/filing_status.h"
#include "sync/feed.h"
#include "sync/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gk_psl_t *psl;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!psl) {
		gk_sync_feed_global_init();
		if (gk_psl_open(NULL, &psl))
			abort();
	}
	const char *text = (const char *)data;
	char e1[512], e2[512];
	gk_feed_t *f1 = NULL, *f2 = NULL;
	int r1 = gk_sync_feed_parse("fuzz", text, size, psl, 1, 0, &f1, e1, sizeof(e1));
	int r2 = gk_sync_feed_parse("fuzz", text, size, psl, 2, 0, &f2, e2, sizeof(e2));
	if (r1 != r2 || (r1 && strcmp(e1, e2)))
		abort();
	if (!r1) {
		if (f1->n != f1->count || f1->n != f2->n)
			abort();
		for (size_t i = 0; i < f1->n; i++) {
			const gk_feed_rec_t *r = &f1->recs[i];
			char norm[256];
			const char *why;
			if (gk_sync_feed_domain_normalise(r->domain, r->domain_len, norm, &why) !=
			        (int)r->domain_len ||
			    strcmp(norm, r->domain) ||
			    gk_psl_registrable(psl, r->domain) != r->domain)
				abort();
			if (r->status == GK_FS_UNFILED && (f1->kind != GK_FEED_DELTA || r->record))
				abort();
			if (r->provider > f1->n_providers ||
			    r->bucket != gk_fs_bucket(r->domain, r->domain_len))
				abort();
			if (strcmp(r->domain, f2->recs[i].domain))
				abort();
		}
	}
	gk_sync_feed_free(f1);
	gk_sync_feed_free(f2);
	gk_feed_kind_t k;
	uint64_t s, b;
	(void)gk_sync_feed_peek_header("fuzz", text, size, &k, &s, &b, e1, sizeof(e1));
	FILE *devnull = fopen("/dev/null", "w");
	size_t findings;
	if (devnull) {
		(void)gk_sync_lint_feed("fuzz", text, size, psl, devnull, &findings, e1,
		                        sizeof(e1));
		fclose(devnull);
	}
	return 0;
}
