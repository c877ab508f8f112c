/* SPDX-License-Identifier: MIT */
/* tests/unit/zone/zone_mem.c -- where a zone set's bytes go (docs/ARCHITECTURE.md "Memory").
 *
 * Builds every zone of a gatekeeperd config (as --check does) and sums, per structure, the
 * bytes the versions hold: the version itself, nodes, names, RRsets and rdata, compiled
 * answers (template headers, bodies, pointer fix-ups and RRset bounds, registrable-domain
 * references), the name tables, file records; and the arena bytes obtained from the system
 * (the difference is chunk slack). Built, not run by ctest. Usage: zone_mem CONFIG
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/config.h"
#include "zone/internal.h"

/* An arena allocation of n bytes costs n rounded up to 8 (common/arena.c). */
static size_t a8(size_t n)
{
	return n ? (n + 7) & ~(size_t)7 : 8;
}

struct acc {
	size_t zones, rrs, nodes, tmpls;
	size_t arena, version, node, name, rrset, rr, rdata, thead, tbody, tfix, tbound, tregs,
	    table, files;
};

/* Blobs already counted: templates share identical ones (compile.c). */
static const void **seen;
static size_t seen_mask, seen_n;

static bool first_time(const void *p)
{
	if ((seen_n + 1) * 2 > seen_mask + 1) {
		size_t sz = seen_mask ? (seen_mask + 1) * 2 : 1024;
		const void **ns = calloc(sz, sizeof(*ns));
		if (!ns)
			abort();
		for (size_t i = 0; seen && i <= seen_mask; i++)
			if (seen[i]) {
				size_t j = ((uintptr_t)seen[i] >> 4) & (sz - 1);
				while (ns[j])
					j = (j + 1) & (sz - 1);
				ns[j] = seen[i];
			}
		free(seen);
		seen = ns;
		seen_mask = sz - 1;
	}
	size_t i = ((uintptr_t)p >> 4) & seen_mask;
	for (; seen[i]; i = (i + 1) & seen_mask)
		if (seen[i] == p)
			return false;
	seen[i] = p;
	seen_n++;
	return true;
}

static void tmpl(struct acc *a, const gk_tmpl_t *t, bool head)
{
	if (!t)
		return;
	a->tmpls++;
	if (head)
		a->thead += sizeof(*t);
	if (!first_time(t->blob))
		return;
	/* one allocation: bounds, fix-ups, body, references (compile.c) */
	size_t fb = t->nfix * sizeof(uint16_t), bb = t->nbound * sizeof(gk_bound_t);
	size_t nrefs = (size_t)t->nregs + t->nhops;
	size_t rb = nrefs ? gk_zone_tmpl_refs_off(t->nbound, t->nfix, t->len) - fb - bb - t->len +
	                        nrefs * sizeof(gk_regref_t)
	                  : 0;
	size_t all = a8(fb + bb + t->len + rb);
	a->tfix += fb;
	a->tbound += bb;
	a->tregs += rb;
	a->tbody += all - fb - bb - rb;
}

static void each(void *ctx, const gk_zver_t *v)
{
	struct acc *a = ctx;
	a->zones++;
	a->rrs += v->nrr;
	a->arena += gk_arena_bytes(v->arena);
	a->version += sizeof(*v);
	a->table += (v->mask + 1) * sizeof(gk_zslot_t);
	a->files += v->nfiles * sizeof(gk_zfile_t);
	for (size_t i = 0; i < v->nfiles; i++)
		if (v->files[i].path)
			a->files += a8(strlen(v->files[i].path) + 1);
	tmpl(a, v->zone.nxdomain, true);
	tmpl(a, v->zone.nodata, true);
	for (size_t i = 0; i <= v->mask; i++) {
		const gk_node_t *n = v->table[i].node;
		if (!n)
			continue;
		a->nodes++;
		a->node += sizeof(*n); /* 64-aligned: the pad is in the slack row */
		a->name += a8(n->len);
		a->rrset += n->nrrsets ? a8(n->nrrsets * sizeof(gk_rrset_t)) : 0;
		for (unsigned r = 0; r < n->nrrsets; r++) {
			a->rr += a8(n->rrsets[r].count * sizeof(gk_rr_t));
			for (unsigned k = 0; k < n->rrsets[r].count; k++)
				a->rdata += a8(n->rrsets[r].rrs[k].rdlen);
		}
		for (unsigned k = 0; k < n->ntmpl; k++)
			tmpl(a, &n->tmpls[k], true);
		bool own = n->other && n->ntmpl && n->other == &n->tmpls[n->ntmpl];
		if (n->cut == n)
			own = true;
		if (n->other && (own || n->other == &n->tmpls[n->ntmpl]))
			tmpl(a, n->other, true);
	}
}

static void row(const char *what, size_t bytes, const struct acc *a)
{
	printf("%-28s %12zu  %7.1f B/zone  %6.1f B/RR  %5.1f%%\n", what, bytes,
	       (double)bytes / (double)a->zones, (double)bytes / (double)a->rrs,
	       100.0 * (double)bytes / (double)a->arena);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: zone_mem CONFIG\n");
		return 2;
	}
	char err[600];
	gk_config_t *cfg;
	if (gk_daemon_config_load(argv[1], &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	gk_zoneset_t *zs;
	if (gk_zone_store_build(cfg->zones, cfg->n_zones, NULL, &zs, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct acc a = {0};
	gk_zone_store_each(zs, each, &a);
	printf("%zu zones, %zu RRs, %zu names, %zu templates\n", a.zones, a.rrs, a.nodes, a.tmpls);
	row("arena bytes (from system)", a.arena, &a);
	row("  version (gk_zver_t)", a.version, &a);
	row("  nodes (96 B each)", a.node, &a);
	row("  owner names", a.name, &a);
	row("  RRset arrays", a.rrset, &a);
	row("  RR arrays", a.rr, &a);
	row("  rdata", a.rdata, &a);
	row("  template headers", a.thead, &a);
	row("  template bodies (+ rounding)", a.tbody, &a);
	row("  template fix-ups", a.tfix, &a);
	row("  template bounds", a.tbound, &a);
	row("  template regs/hops", a.tregs, &a);
	row("  name table", a.table, &a);
	row("  file records", a.files, &a);
	size_t sum = a.version + a.node + a.name + a.rrset + a.rr + a.rdata + a.thead + a.tbody +
	             a.tfix + a.tbound + a.tregs + a.table + a.files;
	row("  slack (chunk ends, align)", a.arena - sum, &a);
	gk_zone_store_free(zs);
	gk_daemon_config_free(cfg);
	return 0;
}
