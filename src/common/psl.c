/* SPDX-License-Identifier: MIT */
/* src/common/psl.c -- ICANN-only registrable domain: the longest public suffix plus a label. */
#include <libpsl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/psl.h"

struct gk_psl {
	psl_ctx_t *ctx;
	int owned;
};

int gk_psl_open(const char *path, gk_psl_t **out)
{
	gk_psl_t *p = calloc(1, sizeof(*p));
	if (!p)
		return GK_ENOMEM;
	/* a context loaded from the .dat file answers ~3x faster than the DAFSA ones */
	p->ctx = psl_load_file(path ? path : GK_PSL_DEFAULT_FILE);
	p->owned = p->ctx != NULL;
	if (!p->ctx && !path)
		p->ctx = (psl_ctx_t *)psl_builtin();
	if (!p->ctx) {
		free(p);
		return GK_EIO;
	}
	*out = p;
	return 0;
}

void gk_psl_close(gk_psl_t *psl)
{
	if (!psl)
		return;
	if (psl->owned)
		psl_free(psl->ctx);
	free(psl);
}

const char *gk_psl_registrable(const gk_psl_t *psl, const char *name)
{
	const char *starts[128];
	unsigned n = 0;
	if (!*name)
		return NULL;
	for (const char *p = name; n < 128;) {
		starts[n++] = p;
		p = strchr(p, '.');
		if (!p)
			break;
		p++;
	}
	/* the longest public suffix decides (exception rules make it non-monotonic, so every
	 * suffix is asked); the registrable domain is it plus one label */
	int longest = -1;
	for (int k = (int)n - 1; k >= 0; k--)
		if (psl_is_public_suffix2(psl->ctx, starts[k], PSL_TYPE_ICANN))
			longest = k;
	if (longest <= 0)
		return longest == 0 ? NULL : starts[n - 1];
	return starts[longest - 1];
}

/* Bytes that cannot be in a PSL rule's label stand for themselves in no rule: each becomes
 * 0x01 in the text libpsl sees, so a label that holds one matches only wildcard rules, and a
 * '.' byte inside a label can never split it. */
static bool rule_byte(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '.';
}

int gk_psl_registrable_wire(const gk_psl_t *psl, const unsigned char *name, size_t len)
{
	char buf[256];
	int starts[128];
	unsigned n = 0;
	size_t o = 0;
	if (len < 2 || len > 255)
		return -1;
	/* the labels, joined by '.' in buf; the text of label k starts at tstart[k] */
	unsigned tstart[128];
	for (size_t p = 0; p < len && name[p]; p += name[p] + 1u) {
		if (n == 128 || p + 1u + name[p] >= len)
			return -1;
		starts[n] = (int)p;
		if (o)
			buf[o++] = '.';
		tstart[n++] = (unsigned)o;
		for (unsigned i = 1; i <= name[p]; i++)
			buf[o++] = rule_byte(name[p + i]) ? (char)name[p + i] : '\x01';
	}
	buf[o] = 0;
	const char *r = gk_psl_registrable(psl, buf);
	if (!r)
		return -1;
	/* the text position back to its label: no '.' inside a label is left in buf */
	for (unsigned k = 0; k < n; k++)
		if (tstart[k] == (unsigned)(r - buf))
			return starts[k];
	return -1;
}

bool gk_psl_below_wire(const gk_psl_t *psl, const unsigned char *name, size_t len, size_t rlen)
{
	char buf[256];
	unsigned tstart[128], n = 0;
	size_t o = 0, p = 0;
	if (len < 2 || len > 255 || rlen > len)
		return false;
	for (; p < len && name[p]; p += name[p] + 1u) {
		if (n == 128 || p + 1u + name[p] >= len)
			return false;
		if (o)
			buf[o++] = '.';
		tstart[n++] = p < len - rlen ? (unsigned)o : UINT32_MAX;
		for (unsigned i = 1; i <= name[p]; i++)
			buf[o++] = rule_byte(name[p + i]) ? (char)name[p + i] : '\x01';
	}
	buf[o] = 0;
	/* the suffixes longer than the last rlen octets: the labels that start before them */
	for (unsigned k = 0; k < n && tstart[k] != UINT32_MAX; k++)
		if (psl_is_public_suffix2(psl->ctx, buf + tstart[k], PSL_TYPE_ICANN))
			return false;
	return true;
}
