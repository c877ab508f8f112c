/* SPDX-License-Identifier: MIT */
/* src/zone/set.c -- a whole store built at once from a list of zones (tools, tests, --check).
 *
 * Each zone is built as its own version (build.c) and put in a store (store.c) that frees
 * retired objects at once: linear in the zones and their data (tools, tests, --check);
 * and gk_zone_store_sync, which brings a live store in line with a configuration zone by
 * zone (the daemon's start and SIGHUP).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "zone/internal.h"
#include "zone/zone.h"

struct collect_all {
	gk_zver_t **vers;
	size_t first_fail; /* lowest index that failed to build (n: none) */
	int rc;
	char *err;
	size_t errlen;
	gk_zload_t *zl;
};

static void built(void *ctx, size_t i, gk_zver_t *v, int rc, const char *err)
{
	struct collect_all *c = ctx;
	if (rc == 0) {
		c->vers[i] = v;
		return;
	}
	if (i < c->first_fail) {
		c->first_fail = i;
		c->rc = rc;
		if (c->errlen)
			snprintf(c->err, c->errlen, "%s", err);
	}
	/* every zone before i was taken already and finishes: the first error is among them
	 * or is this one */
	gk_zone_build_cancel(c->zl);
}

int gk_zone_store_build(const gk_zone_spec_t *specs, size_t n, const struct gk_psl *psl,
                        gk_zoneset_t **out, char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	gk_zoneset_t *zs = NULL;
	struct collect_all c = {.first_fail = n, .err = err, .errlen = errlen};
	int rc = GK_ENOMEM;
	c.vers = calloc(n ? n : 1, sizeof(*c.vers));
	if (!c.vers || gk_zone_store_create(NULL, NULL, &zs) < 0)
		goto nomem;
	if (n) {
		rc = gk_zone_build_start(specs, n, psl, 0, NULL, NULL, &c.zl);
		if (rc < 0)
			goto nomem;
		while (gk_zone_build_take(c.zl, true, 0, built, &c) > 0)
			;
		gk_zone_build_free(c.zl);
	}
	/* in configuration order: the first error (a build failure or a zone configured twice)
	 * is the one reported, whatever order the threads finished in */
	for (size_t i = 0; i < n; i++) {
		if (i == c.first_fail) {
			rc = c.rc;
			goto fail;
		}
		gk_zver_t *v = c.vers[i];
		if (gk_zone_store_get(zs, gk_zone_ver_apex(v), v->apex_len)) {
			if (errlen)
				snprintf(err, errlen, "%s: zone %s is configured twice",
				         specs[i].file ? specs[i].file : "<text>", specs[i].name);
			rc = GK_EINVAL;
			goto fail;
		}
		rc = gk_zone_store_put(zs, v);
		if (rc < 0)
			goto nomem;
		c.vers[i] = NULL;
	}
	free(c.vers);
	*out = zs;
	return 0;
nomem:
	rc = GK_ENOMEM;
	if (errlen)
		snprintf(err, errlen, "out of memory while loading zones");
fail:
	if (c.vers)
		for (size_t i = 0; i < n; i++)
			gk_zone_ver_free(c.vers[i]);
	free(c.vers);
	gk_zone_store_free(zs);
	return rc;
}

/* The apex of a configured zone in lowercase wire form, or 0 (bad name). */
static size_t apex_wire(const char *name, uint8_t *out)
{
	return name ? gk_dname_from_text(name, strlen(name), out, GK_DNAME_TEXT_ESCAPES) : 0;
}

static bool unchanged(const gk_zver_t *v, const gk_zone_spec_t *spec)
{
	return spec->file && gk_zone_ver_files_current(v, spec->file);
}

struct sweep {
	uint32_t mark;
	const gk_zver_t **gone;
	size_t n, cap;
	bool nomem;
};

static void collect(void *ctx, const gk_zver_t *v)
{
	struct sweep *w = ctx;
	if (v->mark == w->mark || v->secondary)
		return;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		const gk_zver_t **ng = realloc(w->gone, nc * sizeof(*ng));
		if (!ng) {
			w->nomem = true;
			return;
		}
		w->gone = ng;
		w->cap = nc;
	}
	w->gone[w->n++] = v;
}

int gk_zone_store_sync(gk_zoneset_t *zs, const gk_zone_spec_t *specs, size_t n,
                       const struct gk_psl *psl, gk_zoneset_sync_stats_t *st,
                       gk_zoneset_fail_fn fail, void *ctx)
{
	return gk_zone_store_sync_changed(zs, specs, n, psl, st, fail, NULL, ctx);
}

int gk_zone_store_sync_changed(gk_zoneset_t *zs, const gk_zone_spec_t *specs, size_t n,
                               const struct gk_psl *psl, gk_zoneset_sync_stats_t *st,
                               gk_zoneset_fail_fn fail, gk_zoneset_changed_fn changed, void *ctx)
{
	static uint32_t passes; /* writer thread only */
	if (++passes == 0)
		passes = 1; /* a new version's mark is 0: never a pass */
	uint32_t mark = passes;
	memset(st, 0, sizeof(*st));
	char err[512];
	for (size_t i = 0; i < n; i++) {
		uint8_t apex[GK_DNAME_MAX + 1];
		size_t alen = apex_wire(specs[i].name, apex);
		gk_zver_t *cur = alen ? (gk_zver_t *)gk_zone_store_get(zs, apex, alen) : NULL;
		if (cur && cur->mark == mark)
			continue; /* configured twice (the config loader refuses that): first wins
			           */
		if (cur && unchanged(cur, &specs[i])) {
			cur->mark = mark;
			st->unchanged++;
			continue;
		}
		gk_zver_t *v;
		int rc = gk_zone_ver_build(&specs[i], psl, &v, err, sizeof(err));
		if (rc == 0) {
			v->mark = mark;
			rc = gk_zone_store_put(zs, v);
			if (rc < 0)
				gk_zone_ver_free(v);
		}
		if (rc == GK_ENOMEM)
			return rc;
		if (rc < 0) {
			if (cur)
				cur->mark = mark; /* keeps serving */
			st->failed++;
			if (fail)
				fail(ctx, &specs[i], rc, err);
			continue;
		}
		if (cur)
			st->rebuilt++;
		else
			st->added++;
		if (changed)
			changed(ctx, i);
	}
	struct sweep w = {.mark = mark};
	gk_zone_store_each(zs, collect, &w);
	if (w.nomem) {
		free(w.gone);
		return GK_ENOMEM;
	}
	/* copy the names first: removing retires (and may free) the version */
	for (size_t i = 0; i < w.n; i++) {
		uint8_t apex[GK_DNAME_MAX + 1];
		size_t alen = w.gone[i]->apex_len;
		memcpy(apex, gk_zone_ver_apex(w.gone[i]), alen);
		if (gk_zone_store_remove(zs, apex, alen) == 0)
			st->removed++;
	}
	free(w.gone);
	return 0;
}
