/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_ipfeed.c -- libFuzzer target: arbitrary bytes as an IP filing feed (no Redis).
 *
 * The input goes through gk_sync_ipfeed_parse and the IP lint. Invariants on success: count == n,
 * every range has first <= last, its canonical text parses back to the same range, removals
 * only in deltas and without a provider, additions with a non-empty provider, and the overlap
 * check passes again on the parsed ranges; every added range's stored form (canonical text,
 * gk_sync_ipfeed_value) goes back into an attribution table (gk_sync_iptab_add_stored) and its
 * first address is attributed. The raw input is also read as gkctl report reads Redis: up to the
 * first newline a stored range, the rest its stored value (gk_sync_iptab_add_stored), and every
 * space-separated token a served address (gk_sync_ip_addr_parse, gk_sync_ip_special). LeakSanitizer
 * checks every path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sync/ipfeed.h"
#include "sync/iptab.h"
#include "sync/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		gk_sync_feed_global_init();
		init = 1;
	}
	const char *text = (const char *)data;
	char err[512];
	gk_ipfeed_t *f = NULL;
	int rc = gk_sync_ipfeed_parse("fuzz", text, size, &f, err, sizeof(err));
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
			size_t l = gk_sync_ip_range_format(r->first, r->last, r->v4, t);
			if (gk_sync_ip_range_parse(t, l, a, b, &v4, &why) ||
			    memcmp(a, r->first, 16) || memcmp(b, r->last, 16) || v4 != r->v4)
				abort();
			if (r->remove && (f->kind != GK_FEED_DELTA || r->provider))
				abort();
			if (!r->remove && (!r->provider || !r->provider[0]))
				abort();
			if (!r->remove) {
				char *v = gk_sync_ipfeed_value(r);
				if (!v)
					abort();
				free(v);
			}
		}
		gk_iptab_t *t = NULL;
		if (gk_sync_iptab_new(&t))
			abort();
		for (size_t i = 0; i < f->n; i++) {
			const gk_ip_range_t *r = &f->r[i];
			if (r->remove)
				continue;
			char txt[GK_IP_RANGE_TEXT];
			size_t l = gk_sync_ip_range_format(r->first, r->last, r->v4, txt);
			char *v = gk_sync_ipfeed_value(r);
			if (!v || gk_sync_iptab_add_stored(t, txt, l, v, strlen(v)))
				abort();
			free(v);
		}
		if (gk_sync_iptab_build(t))
			abort();
		for (size_t i = 0; i < f->n; i++)
			if (!f->r[i].remove && !gk_sync_iptab_lookup(t, f->r[i].first, f->r[i].v4))
				abort();
		gk_sync_iptab_free(t);
		size_t nn;
		if (gk_sync_ipfeed_check("fuzz", f->r, f->n, &nn, NULL, NULL, err, sizeof(err)) ||
		    nn != f->n_nested)
			abort();
		gk_sync_ipfeed_free(f);
	}
	/* as gkctl report reads gk:ip:ranges and gk:site values */
	const char *nl = memchr(text, '\n', size);
	size_t rl = nl ? (size_t)(nl - text) : size;
	gk_iptab_t *t = NULL;
	if (gk_sync_iptab_new(&t) == 0) {
		int arc = gk_sync_iptab_add_stored(t, text, rl, nl ? nl + 1 : text + size,
		                                   nl ? size - rl - 1 : 0);
		if (arc != 0 && arc != GK_EINVAL && arc != GK_ENOMEM)
			abort();
		if (gk_sync_iptab_build(t) == 0) {
			for (size_t i = 0; i < size;) {
				size_t n = 0;
				while (i + n < size && text[i + n] != ' ')
					n++;
				uint8_t a[16];
				int v4;
				if (n && gk_sync_ip_addr_parse(text + i, n, a, &v4) == 0) {
					(void)gk_sync_ip_special(a, v4);
					(void)gk_sync_iptab_lookup(t, a, v4);
				}
				i += n + 1;
			}
		}
		gk_sync_iptab_free(t);
	}
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		size_t findings = 0;
		(void)gk_sync_ip_lint("fuzz", text, size, devnull, &findings, err, sizeof(err));
		fclose(devnull);
	}
	return 0;
}
