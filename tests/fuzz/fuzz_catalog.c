/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_catalog.c -- libFuzzer target for the catalog zone interpretation
 * (RFC 9432 version 2).
 *
 * Input: the catalog's text, as a transfer's result or a persisted file holds it. It is
 * interpreted as catalog cat.example; an accepted catalog is checked (members sorted and
 * unique, each found by name, none at or below the catalog) and compared with itself and
 * with an empty catalog. Nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/catalog.h"

static int count(void *ctx, gk_catalog_change_t ch, const gk_catalog_member_t *o,
                 const gk_catalog_member_t *n)
{
	(void)o;
	(void)n;
	size_t *c = ctx;
	c[ch]++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gk_catalog_t c;
	char err[256];
	if (gk_xfr_catalog_interpret("cat.example", (const char *)data, size, &c, NULL, NULL, err,
	                             sizeof err) != 0)
		return 0;
	for (size_t i = 0; i < c.n; i++) {
		if (i > 0 && strcmp(c.m[i - 1].zone, c.m[i].zone) >= 0)
			abort();
		if (gk_xfr_catalog_find(&c, c.m[i].zone) != &c.m[i])
			abort();
		if (c.m[i].zone[0] == '\0' || strcmp(c.m[i].zone, "cat.example") == 0)
			abort();
	}
	size_t n[8] = {0};
	gk_catalog_t empty = {0};
	if (gk_xfr_catalog_diff(&c, &c, count, n) != 0 || n[GK_CATALOG_SAME] != c.n)
		abort();
	memset(n, 0, sizeof n);
	if (gk_xfr_catalog_diff(&c, &empty, count, n) != 0 || n[GK_CATALOG_REMOVED] != c.n)
		abort();
	gk_xfr_catalog_free(&c);
	return 0;
}
