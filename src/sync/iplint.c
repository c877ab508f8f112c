/* SPDX-License-Identifier: MIT */
/* src/sync/iplint.c -- gk-sync lint for an IP filing feed: nested ranges (most specific wins).
 */
#include <stdio.h>
#include "sync/sync.h"

typedef struct lint_ctx {
	const char *name;
	FILE *out;
	size_t n;
} lint_ctx_t;

static void on_nested(const gk_ip_range_t *in, const gk_ip_range_t *outer, void *arg)
{
	lint_ctx_t *c = arg;
	char a[GK_IP_RANGE_TEXT], b[GK_IP_RANGE_TEXT];
	gk_sync_ip_range_format(in->first, in->last, in->v4, a);
	gk_sync_ip_range_format(outer->first, outer->last, outer->v4, b);
	fprintf(c->out,
	        "%s:%u: warning: range %s (\"%s\") lies inside %s (\"%s\", line %u): addresses in "
	        "it are attributed to \"%s\" (most specific wins)\n",
	        c->name, in->line, a, in->provider, b, outer->provider, outer->line, in->provider);
	c->n++;
}

int gk_sync_ip_lint(const char *name, const char *data, size_t len, FILE *out, size_t *findings,
                    char *err, size_t errlen)
{
	gk_ipfeed_t *f = NULL;
	int rc = gk_sync_ipfeed_parse(name, data, len, &f, err, errlen);
	if (rc)
		return rc;
	lint_ctx_t c = {name, out, 0};
	rc = gk_sync_ipfeed_check(name, f->r, f->n, NULL, on_nested, &c, err, errlen);
	*findings = c.n;
	gk_sync_ipfeed_free(f);
	return rc;
}
