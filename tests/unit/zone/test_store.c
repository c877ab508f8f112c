/* SPDX-License-Identifier: MIT */
/* tests/unit/zone/test_store.c -- the zone store: per-zone publish, replace and remove, the
 * deepest served zone for a name, reclamation of replaced versions while readers hold them,
 * index growth through tombstones, gk_zone_store_sync's file-change detection, placeholders
 * (SERVFAIL until a zone has data) and the parallel loader.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/arena.h"
#include "common/snapshot.h"
#include "zone/answer.h"
#include "zone/internal.h"
#include "common/psl.h"
#include "zone/zone.h"
#include "pkt/process.h"

static char *zone_text(const char *apex, const char *addr, unsigned serial)
{
	static char buf[4096];
	snprintf(buf, sizeof buf,
	         "$ORIGIN %s.\n@ 300 IN SOA ns1 hostmaster %u 7200 900 1209600 300\n"
	         "@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\nwww 300 IN A %s\n",
	         apex, serial, addr);
	return buf;
}

static gk_zver_t *build(const char *apex, const char *addr, unsigned serial)
{
	const char *t = zone_text(apex, addr, serial);
	gk_zone_spec_t spec = {.name = apex, .text = t, .text_len = strlen(t)};
	gk_zver_t *v = NULL;
	char err[256];
	int rc = gk_zone_ver_build(&spec, NULL, &v, err, sizeof err);
	if (rc != 0)
		fail_msg("%s: %s", apex, err);
	return v;
}

/* Wire form of a presentation name (no escapes), lowercase. */
static size_t wire(const char *s, uint8_t *out)
{
	size_t o = 0;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		out[o++] = (uint8_t)l;
		memcpy(out + o, s, l);
		o += l;
		s += l + (dot ? 1 : 0);
	}
	out[o++] = 0;
	return o;
}

static const gk_zver_t *zone_of(const gk_zoneset_t *zs, const char *name)
{
	uint8_t w[256];
	size_t l = wire(name, w);
	return gk_zone_store_zone_of(zs, w, l, gk_namehash(w, l), NULL, 0);
}

static const char *apex_of(const gk_zver_t *v)
{
	static char buf[GK_ZVER_NAME_MAX];
	return v ? gk_zone_ver_name(v, buf, sizeof buf) : "(none)";
}

/* The A record a query for name gets through the packet path's find (template body). */
static gk_zone_src_t find(const gk_zoneset_t *zs, const char *name, gk_zone_hit_t *h)
{
	uint8_t w[256], loff[127];
	size_t l = wire(name, w);
	unsigned labels = 0;
	for (size_t p = 0; w[p]; p += w[p] + 1u)
		loff[labels++] = (uint8_t)p;
	gk_zone_src_t src = gk_zone_find(zs, w, l, loff, labels, NULL, GK_TYPE_A, NULL, h);
	/* the same through the prefetch stages' hint */
	gk_zone_hint_t hint;
	gk_zone_prefetch_name(zs, w, l, loff, labels, &hint);
	/* stage 0's pass over the name is the query's (pkt/process.c takes the states) */
	uint64_t want[128];
	gk_namehash_states(w, l, loff, labels, want);
	assert_int_equal(hint.labels, labels);
	assert_int_equal(hint.qlen, l);
	assert_memory_equal(hint.st, want, (labels + 1u) * sizeof want[0]);
	for (unsigned st = 1; st < GK_ZONE_PREFETCH_STAGES; st++)
		gk_zone_prefetch(zs, st, &hint);
	gk_zone_hit_t h2;
	assert_int_equal(gk_zone_find(zs, w, l, loff, labels, NULL, GK_TYPE_A, &hint, &h2), src);
	if (src != GK_ZONE_REFUSED) {
		assert_ptr_equal(h2.ver, h->ver);
		assert_ptr_equal(h2.node, h->node);
	}
	return src;
}

static void test_nested(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	assert_int_equal(gk_zone_store_put(zs, build("example.cn", "192.0.2.10", 1)), 0);
	assert_int_equal(gk_zone_store_put(zs, build("a.b.example.cn", "192.0.2.20", 1)), 0);
	assert_int_equal(gk_zone_store_put(zs, build("cn", "192.0.2.30", 1)), 0);
	assert_int_equal(gk_zone_store_zone_count(zs), 3);
	assert_string_equal(apex_of(zone_of(zs, "www.example.cn")), "example.cn");
	assert_string_equal(apex_of(zone_of(zs, "b.example.cn")), "example.cn");
	assert_string_equal(apex_of(zone_of(zs, "x.y.a.b.example.cn")), "a.b.example.cn");
	assert_string_equal(apex_of(zone_of(zs, "a.b.example.cn")), "a.b.example.cn");
	assert_string_equal(apex_of(zone_of(zs, "other.cn")), "cn");
	assert_null(zone_of(zs, "example.com"));
	assert_null(zone_of(zs, ""));
	gk_zone_hit_t h;
	assert_int_equal(find(zs, "www.a.b.example.cn", &h), GK_ZONE_TMPL);
	assert_ptr_equal(h.ver, zone_of(zs, "a.b.example.cn"));
	assert_int_equal(find(zs, "example.com", &h), GK_ZONE_REFUSED);
	static const char *const names[] = {
	    "www.example.cn",   "example.cn", "b.example.cn", "x.b.example.cn", "a.b.example.cn",
	    "q.a.b.example.cn", "cn",         "www.other.cn", "a.b.c.d.e.cn"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		assert_int_not_equal(find(zs, names[i], &h), GK_ZONE_REFUSED);
		assert_ptr_equal(h.ver, zone_of(zs, names[i]));
	}
	/* remove the middle zone: its names fall back to the enclosing one */
	uint8_t w[256];
	size_t l = wire("example.cn", w);
	assert_int_equal(gk_zone_store_remove(zs, w, l), 0);
	assert_int_equal(gk_zone_store_remove(zs, w, l), GK_ENOENT);
	assert_string_equal(apex_of(zone_of(zs, "www.example.cn")), "cn");
	assert_string_equal(apex_of(zone_of(zs, "www.a.b.example.cn")), "a.b.example.cn");
	assert_int_equal(gk_zone_store_zone_count(zs), 2);
	gk_zone_store_free(zs);
}

/* ---- reclamation: two readers on a snapshot cell -------------------------------------- */

static int wrapped_freed;

struct wrap {
	void *obj;
	void (*fn)(void *);
};

static void wrap_free(void *p)
{
	struct wrap *w = p;
	wrapped_freed++;
	w->fn(w->obj);
	free(w);
}

static void retire_on_cell(void *ctx, void *obj, void (*fn)(void *))
{
	struct wrap *w = malloc(sizeof(*w));
	assert_non_null(w);
	*w = (struct wrap){obj, fn};
	assert_int_equal(gk_snapshot_retire(ctx, w, wrap_free), 0);
}

static void nop_free(void *p)
{
	(void)p;
}

static void test_readers_hold(void **state)
{
	(void)state;
	static int dummy;
	gk_snapshot_t *cell;
	assert_int_equal(gk_snapshot_create(2, &dummy, nop_free, &cell), 0);
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(retire_on_cell, cell, &zs), 0);
	wrapped_freed = 0;
	assert_int_equal(gk_zone_store_put(zs, build("example.cn", "192.0.2.10", 1)), 0);
	assert_int_equal(wrapped_freed, 0);
	/* both readers take the current version (reader 1 through the packet path's find) */
	const gk_zver_t *r0 = zone_of(zs, "www.example.cn");
	gk_zone_hit_t h1;
	assert_int_equal(find(zs, "www.example.cn", &h1), GK_ZONE_TMPL);
	assert_ptr_equal(r0, h1.ver);
	/* replace it */
	assert_int_equal(gk_zone_store_put(zs, build("example.cn", "192.0.2.11", 2)), 0);
	assert_ptr_not_equal(zone_of(zs, "www.example.cn"), r0);
	assert_int_equal(gk_snapshot_reclaim(cell), 1);
	gk_snapshot_quiescent(cell, 0);
	assert_int_equal(gk_snapshot_reclaim(cell), 1); /* reader 1 still holds it */
	assert_int_equal(wrapped_freed, 0);
	/* reader 1 still reads the old version's data (ASan: not freed) */
	gk_zone_out_t o;
	uint8_t body[512];
	gk_zone_put_tmpl(&h1, body, 15, sizeof body, &o);
	assert_int_equal(o.cnt[0], 1);
	bool old_addr = false; /* www A 192.0.2.10, not the replacement's .11 */
	for (size_t i = 0; i + 4 <= o.body; i++)
		old_addr |= memcmp(body + i, "\xc0\x00\x02\x0a", 4) == 0;
	assert_true(old_addr);
	gk_snapshot_quiescent(cell, 1);
	assert_int_equal(gk_snapshot_reclaim(cell), 0);
	assert_int_equal(wrapped_freed, 1);
	/* remove: the last version goes the same way */
	uint8_t w[256];
	size_t l = wire("example.cn", w);
	assert_int_equal(gk_zone_store_remove(zs, w, l), 0);
	assert_null(zone_of(zs, "www.example.cn"));
	assert_int_equal(gk_snapshot_reclaim(cell), 1);
	gk_snapshot_quiescent(cell, 0);
	gk_snapshot_quiescent(cell, 1);
	assert_int_equal(gk_snapshot_reclaim(cell), 0);
	assert_int_equal(wrapped_freed, 2);
	gk_snapshot_destroy(cell);
	gk_zone_store_free(zs);
}

/* Growth and tombstones: many adds, most removed, re-added; every lookup stays right. */
static void test_churn(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	char name[64];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 600; i++) {
			snprintf(name, sizeof name, "z%d.example", i);
			assert_int_equal(gk_zone_store_put(zs, build(name, "192.0.2.1", 1)), 0);
		}
		assert_int_equal(gk_zone_store_zone_count(zs), 600);
		for (int i = 0; i < 600; i++) {
			snprintf(name, sizeof name, "www.z%d.example", i);
			const gk_zver_t *v = zone_of(zs, name);
			assert_non_null(v);
			assert_string_equal(apex_of(v), name + 4);
		}
		for (int i = 0; i < 600; i++) {
			if (i % 10 == 0)
				continue;
			uint8_t w[256];
			snprintf(name, sizeof name, "z%d.example", i);
			assert_int_equal(gk_zone_store_remove(zs, w, wire(name, w)), 0);
		}
		assert_int_equal(gk_zone_store_zone_count(zs), 60);
		for (int i = 0; i < 600; i++) {
			snprintf(name, sizeof name, "www.z%d.example", i);
			assert_true((zone_of(zs, name) != NULL) == (i % 10 == 0));
		}
	}
	assert_int_equal(gk_zone_store_rr_count(zs), 60 * 4);
	gk_zone_store_free(zs);
}

/* ---- gk_zone_store_sync ------------------------------------------------------------------ */

static char dir[] = "/tmp/gk-test-store-XXXXXX";

static void write_zone(const char *file, const char *apex, const char *addr, unsigned serial,
                       const char *extra)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(zone_text(apex, addr, serial), f);
	if (extra)
		fputs(extra, f);
	fclose(f);
}

static int failed_calls;
static char failed_err[512];

static void on_fail(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err)
{
	(void)ctx;
	(void)spec;
	(void)rc;
	failed_calls++;
	snprintf(failed_err, sizeof failed_err, "%s", err);
}

static void test_sync(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	char paths[4][256];
	gk_zone_spec_t specs[4];
	const char *names[4] = {"a.example", "b.example", "c.example", "d.example"};
	for (int i = 0; i < 4; i++) {
		char f[32];
		snprintf(f, sizeof f, "%s.zone", names[i]);
		write_zone(f, names[i], "192.0.2.1", 1, NULL);
		snprintf(paths[i], sizeof paths[i], "%s/%s", dir, f);
		specs[i] = (gk_zone_spec_t){.name = names[i], .file = paths[i]};
	}
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	gk_zoneset_sync_stats_t st;
	assert_int_equal(gk_zone_store_sync(zs, specs, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.added, 3);
	/* nothing changed */
	assert_int_equal(gk_zone_store_sync(zs, specs, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.unchanged, 3);
	assert_int_equal(st.rebuilt + st.added + st.removed + st.failed, 0);
	/* one file changed (size), an $INCLUDEd file of another changed */
	const gk_zver_t *before = zone_of(zs, "www.a.example");
	write_zone("b.example.zone", "b.example", "192.0.2.200", 2, NULL);
	write_zone("inc.zone", "c.example", "192.0.2.1", 1, NULL);
	{
		char path[256];
		snprintf(path, sizeof path, "%s/inc.part", dir);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs("extra 300 IN A 192.0.2.7\n", f);
		fclose(f);
	}
	write_zone("c.example.zone", "c.example", "192.0.2.1", 1, "$INCLUDE inc.part\n");
	assert_int_equal(gk_zone_store_sync(zs, specs, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.rebuilt, 2);
	assert_int_equal(st.unchanged, 1);
	assert_ptr_equal(zone_of(zs, "www.a.example"), before); /* untouched */
	{
		char path[256];
		snprintf(path, sizeof path, "%s/inc.part", dir);
		FILE *f = fopen(path, "a");
		assert_non_null(f);
		fputs("more 300 IN A 192.0.2.8\n", f);
		fclose(f);
	}
	assert_int_equal(gk_zone_store_sync(zs, specs, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.rebuilt, 1); /* only the include changed */
	/* a broken file: reported with file:line, previous version kept */
	const gk_zver_t *b = zone_of(zs, "www.b.example");
	write_zone("b.example.zone", "b.example", "192.0.2.201", 3, "bad IN A 192.0.2.999\n");
	failed_calls = 0;
	assert_int_equal(gk_zone_store_sync(zs, specs, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.failed, 1);
	assert_int_equal(failed_calls, 1);
	assert_non_null(strstr(failed_err, "b.example.zone:6"));
	assert_ptr_equal(zone_of(zs, "www.b.example"), b);
	/* one added (d), one removed (a) */
	assert_int_equal(gk_zone_store_sync(zs, specs + 1, 3, NULL, &st, on_fail, NULL), 0);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.failed, 1); /* b is still broken */
	assert_null(zone_of(zs, "www.a.example"));
	assert_non_null(zone_of(zs, "www.d.example"));
	assert_int_equal(gk_zone_store_zone_count(zs), 3);
	gk_zone_store_free(zs);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* rcode and answer count of (name, A) through the packet path */
static int ask(const gk_zoneset_t *zs, const char *name, unsigned *an)
{
	uint8_t q[300], out[GK_PKT_OUT_MAX];
	memset(q, 0, sizeof q);
	q[1] = 7;
	q[5] = 1; /* QDCOUNT */
	size_t l = wire(name, q + 12);
	q[12 + l + 1] = 1; /* A */
	q[12 + l + 3] = 1; /* IN */
	gk_pkt_opts_t o = {.edns_udp_max = 1232};
	gk_pkt_result_t res;
	assert_int_equal(gk_pkt_process(zs, &o, GK_PKT_UDP, q, 12 + l + 4, out, &res),
	                 GK_PKT_ANSWER);
	*an = (unsigned)(out[6] << 8 | out[7]);
	return res.rcode;
}

static gk_zver_t *placeholder(const char *name)
{
	gk_zver_t *v = NULL;
	assert_int_equal(gk_zone_ver_placeholder(&(gk_zone_spec_t){.name = name}, &v), 0);
	assert_true(gk_zone_ver_is_placeholder(v));
	assert_int_equal(gk_zone_ver_rr_count(v), 0);
	assert_false(gk_zone_ver_files_current(v, "cn.zone"));
	return v;
}

static void test_placeholder(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	unsigned an;
	gk_zone_hit_t h;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	const char *cn = "$ORIGIN cn.\n@ 300 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
	                 "@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n"
	                 "alias 300 IN CNAME www.example.cn.\n";
	gk_zone_spec_t spec = {.name = "cn", .text = cn, .text_len = strlen(cn)};
	gk_zver_t *v;
	char err[256];
	assert_int_equal(gk_zone_ver_build(&spec, NULL, &v, err, sizeof err), 0);
	assert_int_equal(gk_zone_store_put(zs, v), 0);
	assert_int_equal(gk_zone_store_put(zs, placeholder("example.cn")), 0);
	assert_int_equal(gk_zone_store_put(zs, build("a.b.example.cn", "192.0.2.20", 1)), 0);
	/* a name longer than fits inline in the version */
	static const char *const longname =
	    "a-rather-long-label-of-forty-characters.another-long-label-here.example.cn";
	assert_int_equal(gk_zone_store_put(zs, placeholder(longname)), 0);
	assert_int_equal(gk_zone_store_placeholder_count(zs), 2);
	assert_int_equal(gk_zone_store_zone_count(zs), 4);
	assert_string_equal(apex_of(zone_of(zs, "www.example.cn")), "example.cn");
	assert_string_equal(apex_of(zone_of(zs, "x.a-rather-long-label-of-forty-characters."
	                                        "another-long-label-here.example.cn")),
	                    longname);
	/* at and below the placeholder's apex: SERVFAIL; inside a loaded zone below it and in
	 * the loaded zone above it: answers */
	assert_int_equal(find(zs, "www.example.cn", &h), GK_ZONE_SERVFAIL);
	assert_int_equal(find(zs, "example.cn", &h), GK_ZONE_SERVFAIL);
	assert_int_equal(ask(zs, "www.example.cn", &an), GK_RCODE_SERVFAIL);
	assert_int_equal(an, 0);
	assert_int_equal(ask(zs, "nothing.here.example.cn", &an), GK_RCODE_SERVFAIL);
	assert_int_equal(ask(zs, "www.a.b.example.cn", &an), GK_RCODE_NOERROR);
	assert_int_equal(an, 1);
	assert_int_equal(ask(zs, "ns1.cn", &an), GK_RCODE_NOERROR);
	assert_int_equal(an, 1);
	/* a CNAME chain into it stops before it (the resolver asks for the target itself) */
	assert_int_equal(ask(zs, "alias.cn", &an), GK_RCODE_NOERROR);
	assert_int_equal(an, 1);
	/* the zone's data arrives: it answers */
	assert_int_equal(gk_zone_store_put(zs, build("example.cn", "192.0.2.10", 1)), 0);
	assert_int_equal(gk_zone_store_placeholder_count(zs), 1);
	assert_int_equal(ask(zs, "www.example.cn", &an), GK_RCODE_NOERROR);
	assert_int_equal(an, 1);
	assert_int_equal(ask(zs, "alias.cn", &an), GK_RCODE_NOERROR);
	assert_int_equal(an, 2);
	/* and can become a placeholder again (an expired secondary) */
	assert_int_equal(gk_zone_store_put(zs, placeholder("example.cn")), 0);
	assert_int_equal(ask(zs, "www.example.cn", &an), GK_RCODE_SERVFAIL);
	assert_int_equal(gk_zone_store_rr_count(zs), 4 + 4); /* cn, a.b.example.cn */
	gk_zver_t *bad;
	assert_int_equal(gk_zone_ver_placeholder(&(gk_zone_spec_t){.name = "bad..name"}, &bad),
	                 GK_EINVAL);
	gk_zone_store_free(zs);
}

/* The start-up's placeholders in one block: each answers SERVFAIL, each replaced in turn,
 * the block freed with the last (ASan: once, and not before); a bad name allocates
 * nothing and names its index. */
static void test_placeholder_block(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	unsigned an;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	const char *names[3] = {"example.cn",
	                        "a-name-longer-than-fits-inline-in-the-version.example.com",
	                        "example.net."};
	gk_zone_spec_t specs[3] = {{.name = names[0]}, {.name = names[1]}, {.name = names[2]}};
	gk_zver_t *ph[3];
	size_t bad = 99;
	specs[1].name = "bad..name";
	assert_int_equal(gk_zone_ver_placeholders(specs, 3, ph, &bad), GK_EINVAL);
	assert_int_equal(bad, 1);
	specs[1].name = names[1];
	assert_int_equal(gk_zone_ver_placeholders(specs, 3, ph, &bad), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(gk_zone_ver_is_placeholder(ph[i]));
		/* the name from the apex: lowercase, no trailing dot */
		assert_string_equal(apex_of(ph[i]), i == 2 ? "example.net" : names[i]);
		assert_int_equal(gk_zone_store_put(zs, ph[i]), 0);
	}
	assert_int_equal(gk_zone_store_placeholder_count(zs), 3);
	char www[128];
	for (int i = 0; i < 3; i++) {
		snprintf(www, sizeof www, "www.%s", names[i]);
		assert_int_equal(ask(zs, www, &an), GK_RCODE_SERVFAIL);
	}
	/* replaced one by one: the block outlives the first two */
	const char *apex[3] = {"example.cn", names[1], "example.net"};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gk_zone_store_put(zs, build(apex[i], "192.0.2.10", 1)), 0);
		for (int j = i + 1; j < 3; j++) {
			snprintf(www, sizeof www, "www.%s", apex[j]);
			assert_int_equal(ask(zs, www, &an), GK_RCODE_SERVFAIL);
		}
	}
	assert_int_equal(gk_zone_store_placeholder_count(zs), 0);
	gk_zone_store_free(zs);
}

/* ANY has no compiled answer (RFC 8482's one RRset is built at query time); the other
 * types of the name keep theirs. */
static void test_any_runtime(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	assert_int_equal(gk_zone_store_put(zs, build("example.cn", "192.0.2.10", 1)), 0);
	uint8_t w[256], loff[127];
	size_t l = wire("www.example.cn", w);
	unsigned labels = 0;
	for (size_t p = 0; w[p]; p += w[p] + 1u)
		loff[labels++] = (uint8_t)p;
	gk_zone_hit_t h;
	assert_int_equal(gk_zone_find(zs, w, l, loff, labels, NULL, GK_TYPE_A, NULL, &h),
	                 GK_ZONE_TMPL);
	assert_int_equal(gk_zone_find(zs, w, l, loff, labels, NULL, GK_TYPE_AAAA, NULL, &h),
	                 GK_ZONE_TMPL);
	assert_int_equal(gk_zone_find(zs, w, l, loff, labels, NULL, GK_TYPE_ANY, NULL, &h),
	                 GK_ZONE_RUNTIME);
	gk_zone_store_free(zs);
}

#define NLOAD 64
static char load_text[NLOAD][4200];
static char load_name[NLOAD][32];
static size_t notified;
static void on_notify(void *ctx)
{
	(void)ctx;
	__atomic_fetch_add(&notified, 1, __ATOMIC_RELAXED);
}

struct took {
	gk_zver_t *v[NLOAD];
	int rc[NLOAD];
	char err[NLOAD][128];
	size_t n;
};

static void took(void *ctx, size_t i, gk_zver_t *v, int rc, const char *err)
{
	struct took *t = ctx;
	assert_true(i < NLOAD);
	assert_null(t->v[i]);
	t->v[i] = v;
	t->rc[i] = rc;
	snprintf(t->err[i], sizeof t->err[i], "%s", err);
	t->n++;
}

/* The caller is woken per GK_ZONE_BUILD_NOTIFY_BATCH zones and at the end, not per zone
 * (each wake-up is a context switch on a server pinned to one core). */
#define NBATCH (2 * GK_ZONE_BUILD_NOTIFY_BATCH + 88)
static char batch_text[NBATCH][1200];
static char batch_name[NBATCH][32];
static size_t batch_seen;
static void count_taken(void *ctx, size_t i, gk_zver_t *v, int rc, const char *err)
{
	(void)ctx;
	(void)i;
	(void)err;
	assert_int_equal(rc, 0);
	gk_zone_ver_free(v);
	batch_seen++;
}

static void test_loader_batches_wakeups(void **state)
{
	(void)state;
	static gk_zone_spec_t specs[NBATCH];
	for (int i = 0; i < NBATCH; i++) {
		char nm[32];
		snprintf(nm, sizeof nm, "b%d.example", i);
		memcpy(batch_name[i], nm, sizeof nm);
		const char *zt = zone_text(nm, "192.0.2.1", 1);
		assert_true(strlen(zt) < sizeof batch_text[i]);
		memcpy(batch_text[i], zt, strlen(zt) + 1);
		specs[i] = (gk_zone_spec_t){.name = batch_name[i],
		                            .text = batch_text[i],
		                            .text_len = strlen(batch_text[i])};
	}
	notified = 0;
	batch_seen = 0;
	gk_zload_t *zl;
	assert_int_equal(gk_zone_build_start(specs, NBATCH, NULL, 1, on_notify, NULL, &zl), 0);
	/* taken as soon as anything is there: a wake-up per zone would count hundreds */
	while (gk_zone_build_take(zl, true, 0, count_taken, NULL) > 0)
		;
	gk_zone_build_free(zl);
	assert_int_equal(batch_seen, NBATCH);
	assert_true(notified >= 1); /* the last zone's, at least */
	assert_true(notified <= NBATCH / GK_ZONE_BUILD_NOTIFY_BATCH + 1);
}

static void test_loader(void **state)
{
	(void)state;
	gk_zone_spec_t specs[NLOAD];
	for (int i = 0; i < NLOAD; i++) {
		snprintf(load_name[i], sizeof load_name[i], "z%d.example", i);
		const char *zt = zone_text(load_name[i], "192.0.2.1", 1);
		assert_true(strlen(zt) < 4000);
		memcpy(load_text[i], zt, strlen(zt) + 1);
		if (i == 41) /* a broken zone: CNAME and other data */
			strcat(load_text[i], "www 300 IN CNAME ns1\n");
		specs[i] = (gk_zone_spec_t){
		    .name = load_name[i], .text = load_text[i], .text_len = strlen(load_text[i])};
	}
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	for (int i = 0; i < NLOAD; i++)
		assert_int_equal(gk_zone_store_put(zs, placeholder(load_name[i])), 0);
	gk_zload_t *zl;
	struct took t = {0};
	assert_int_equal(gk_zone_build_start(specs, NLOAD, NULL, 3, on_notify, NULL, &zl), 0);
	while (gk_zone_build_take(zl, true, 5, took, &t) > 0) {
		/* built or not, nothing is published until the writer puts it: SERVFAIL */
		unsigned an;
		assert_int_equal(ask(zs, "www.z7.example", &an), GK_RCODE_SERVFAIL);
	}
	assert_true(gk_zone_build_done(zl));
	assert_true(notified >= 1);
	gk_zone_build_free(zl);
	assert_int_equal(t.n, NLOAD);
	for (int i = 0; i < NLOAD; i++) {
		if (i == 41) {
			assert_int_equal(t.rc[i], GK_EZONE);
			assert_non_null(strstr(t.err[i], "<text>:"));
			continue;
		}
		assert_int_equal(t.rc[i], 0);
		assert_int_equal(gk_zone_store_put(zs, t.v[i]), 0);
	}
	unsigned an;
	assert_int_equal(ask(zs, "www.z7.example", &an), GK_RCODE_NOERROR);
	assert_int_equal(ask(zs, "www.z41.example", &an), GK_RCODE_SERVFAIL);
	assert_int_equal(gk_zone_store_placeholder_count(zs), 1);
	gk_zone_store_free(zs);

	/* cancelled: what was built is handed over or freed, never leaked */
	assert_int_equal(gk_zone_build_start(specs, NLOAD, NULL, 2, NULL, NULL, &zl), 0);
	gk_zone_build_cancel(zl);
	gk_zone_build_free(zl);

	/* gk_zone_store_build: the first error in configuration order, whichever thread
	 * finished first */
	char err[256];
	assert_int_equal(gk_zone_store_build(specs, NLOAD, NULL, &zs, err, sizeof err), GK_EZONE);
	assert_non_null(strstr(err, "CNAME and other data at www.z41.example"));
	specs[40] = specs[3]; /* configured twice, before the broken zone */
	assert_int_equal(gk_zone_store_build(specs, NLOAD, NULL, &zs, err, sizeof err), GK_EINVAL);
	assert_non_null(strstr(err, "zone z3.example is configured twice"));
	specs[40] = specs[39];
	specs[41] = specs[2]; /* only the duplicate */
	assert_int_equal(gk_zone_store_build(specs, NLOAD, NULL, &zs, err, sizeof err), GK_EINVAL);
}

/* A secondary zone's version: its data, or (servfail) its placeholder, as src/xfr
 * publishes one for a zone never transferred or expired. */
static gk_zver_t *build_flags(const char *apex, bool secondary, bool servfail)
{
	const char *t = zone_text(apex, "192.0.2.20", 5);
	gk_zone_spec_t spec = {
	    .name = apex, .text = t, .text_len = strlen(t), .secondary = secondary};
	gk_zver_t *v = NULL;
	char err[256];
	if (servfail) {
		assert_int_equal(gk_zone_ver_placeholder(&spec, &v), 0);
		return v;
	}
	if (gk_zone_ver_build(&spec, NULL, &v, err, sizeof err) != 0)
		fail_msg("%s: %s", apex, err);
	return v;
}

/* Secondary zones: gk_zone_store_sync (SIGHUP) leaves them alone; an expired one (servfail)
 * answers SERVFAIL for its names, and a nested zone under it still answers. */
/* The site addresses of a version (gk_zone_ver_site_addrs: apex and www A/AAAA, the wildcard
 * for a missing www, duplicates once; -1 without a site of its own) and the publish hook. */
struct pub {
	int calls;
	const gk_zver_t *last;
};

static void on_pub(void *ctx, const gk_zver_t *v)
{
	struct pub *p = ctx;
	p->calls++;
	p->last = v;
}

static gk_zver_t *site_zone(const gk_psl_t *psl, const char *apex, const char *body)
{
	char t[2048];
	snprintf(t, sizeof t,
	         "$ORIGIN %s.\n$TTL 300\n@ SOA ns1 h 1 7200 900 1209600 300\n@ NS ns1\nns1 A "
	         "192.0.2.53\n%s",
	         apex, body);
	gk_zone_spec_t spec = {.name = apex, .text = t, .text_len = strlen(t)};
	gk_zver_t *v = NULL;
	char err[256];
	assert_int_equal(gk_zone_ver_build(&spec, (const struct gk_psl *)psl, &v, err, sizeof err),
	                 0);
	return v;
}

static void test_site_addrs(void **state)
{
	(void)state;
	gk_psl_t *psl;
	assert_int_equal(gk_psl_open(NULL, &psl), 0);
	uint8_t a[4][16];
	int v4[4];
	gk_zver_t *v = site_zone(
	    psl, "site.cn", "@ A 47.96.1.1\n@ AAAA 240e::1\nwww A 47.96.1.1\nwww A 47.96.1.2\n");
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 4), 3);
	assert_true(v4[0] && a[0][12] == 47 && a[0][15] == 1);
	assert_true(!v4[1] && a[1][0] == 0x24 && a[1][1] == 0x0e);
	assert_true(v4[2] && a[2][15] == 2);
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 2), 2); /* at most max */
	gk_zone_ver_free(v);
	v = site_zone(psl, "wild.cn", "* A 119.28.0.9\n");
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 4), 1);
	assert_true(v4[0] && a[0][12] == 119);
	gk_zone_ver_free(v);
	v = site_zone(psl, "none.cn", "mail A 10.0.0.1\n");
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 4), 0);
	gk_zone_ver_free(v);
	v = site_zone(psl, "shop.site.cn", "@ A 47.96.1.3\n"); /* below its registrable domain */
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 4), -1);
	gk_zone_ver_free(v);
	v = site_zone(psl, "com.cn", "@ A 47.96.1.4\n"); /* a public suffix */
	assert_int_equal(gk_zone_ver_site_addrs(v, a, v4, 4), -1);
	/* the hook sees every put, new zone or replacement */
	gk_zoneset_t *zs;
	struct pub p = {0};
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	gk_zone_store_on_publish(zs, on_pub, &p);
	assert_int_equal(gk_zone_store_put(zs, v), 0);
	assert_int_equal(p.calls, 1);
	assert_ptr_equal(p.last, v);
	gk_zver_t *w = site_zone(psl, "com.cn", "@ A 47.96.1.5\n");
	assert_int_equal(gk_zone_store_put(zs, w), 0);
	assert_int_equal(p.calls, 2);
	assert_ptr_equal(p.last, w);
	gk_zone_store_free(zs);
	gk_psl_close(psl);
}

static void test_secondary_versions(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	assert_int_equal(gk_zone_store_put(zs, build_flags("sec.cn", true, false)), 0);
	assert_int_equal(gk_zone_store_put(zs, build("file.cn", "192.0.2.1", 1)), 0);
	gk_zoneset_sync_stats_t st;
	assert_int_equal(gk_zone_store_sync(zs, NULL, 0, NULL, &st, NULL, NULL), 0);
	assert_int_equal(st.removed, 1); /* file.cn: no longer configured */
	assert_string_equal(apex_of(zone_of(zs, "www.sec.cn")), "sec.cn");
	gk_zone_hit_t h;
	assert_int_equal(find(zs, "www.sec.cn", &h), GK_ZONE_TMPL);
	assert_int_equal(gk_zone_store_put(zs, build_flags("sec.cn", true, true)), 0);
	assert_int_equal(find(zs, "www.sec.cn", &h), GK_ZONE_SERVFAIL);
	assert_int_equal(find(zs, "sec.cn", &h), GK_ZONE_SERVFAIL);
	assert_int_equal(find(zs, "nothing.sec.cn", &h), GK_ZONE_SERVFAIL);
	assert_int_equal(gk_zone_store_put(zs, build("sub.sec.cn", "192.0.2.30", 1)), 0);
	assert_int_equal(find(zs, "www.sub.sec.cn", &h), GK_ZONE_TMPL);
	assert_int_equal(gk_zone_store_put(zs, build_flags("sec.cn", true, false)), 0);
	assert_int_equal(find(zs, "www.sec.cn", &h), GK_ZONE_TMPL);
	/* a placeholder of a secondary zone is not gk_zone_store_sync's either */
	assert_int_equal(gk_zone_store_put(zs, build_flags("sec.cn", true, true)), 0);
	assert_int_equal(gk_zone_store_sync(zs, NULL, 0, NULL, &st, NULL, NULL), 0);
	assert_int_equal(st.removed, 1); /* sub.sec.cn, not configured */
	assert_int_equal(find(zs, "www.sec.cn", &h), GK_ZONE_SERVFAIL);
	gk_zone_store_free(zs);
}

/* A small zone's version holds about the bytes it uses (the bench generator's shape: SOA, two
 * NS, apex A/AAAA/MX/TXT, www and mail A): its arena is grown in place and trimmed once
 * built, not a chain of power-of-two chunks (8 KiB for this zone before; 4.3 KiB now). */
static void test_small_version_bytes(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* chunks are malloc'd under AddressSanitizer: nothing is trimmed */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	skip();
#endif
#endif
	static const char text[] =
	    "$ORIGIN an-88.cn.\n$TTL 3600\n"
	    "@ IN SOA ns1.gkdns.cn. hostmaster.an-88.cn. ( 2024010192 7200 3600 1209600 300 )\n"
	    "@ IN NS ns1.gkdns.cn.\n@ IN NS ns2.gkdns.net.\n@ IN A 198.19.19.176\n"
	    "@ IN AAAA 2001:db8:0:2276::1\n@ IN MX 10 mail\n"
	    "@ IN TXT \"v=spf1 mx ip4:198.19.19.176 -all\"\n"
	    "www IN A 198.19.19.177\nmail IN A 198.19.19.178\n";
	for (int i = 0; i < 50; i++) {
		gk_zone_spec_t spec = {.name = "an-88.cn", .text = text, .text_len = strlen(text)};
		gk_zver_t *v = NULL;
		char err[256];
		assert_int_equal(gk_zone_ver_build(&spec, NULL, &v, err, sizeof err), 0);
		size_t bytes = gk_arena_bytes(v->arena);
		if (bytes > 4608)
			fail_msg("a bench-shaped zone holds %zu arena bytes (want <= 4608)", bytes);
		gk_zone_ver_free(v);
	}
}

/* The zone file is kept as one stamp (path and stat hashed), its $INCLUDEs as records: a
 * change to either, or another path, makes the version not current; the zone file has no
 * record of its own. */
static void test_file_stamp(void **state)
{
	(void)state;
	char d[] = "/tmp/gk-zstamp-XXXXXX";
	assert_non_null(mkdtemp(d));
	char zf[256], inc[256], other[256];
	snprintf(zf, sizeof zf, "%s/s.zone", d);
	snprintf(inc, sizeof inc, "%s/inc.zone", d);
	snprintf(other, sizeof other, "%s/./s.zone", d);
	FILE *f = fopen(inc, "w");
	assert_non_null(f);
	fputs("mail 300 IN A 192.0.2.9\n", f);
	fclose(f);
	f = fopen(zf, "w");
	assert_non_null(f);
	fprintf(f, "%s$INCLUDE %s\n", zone_text("s.example", "192.0.2.1", 1), inc);
	fclose(f);
	gk_zone_spec_t spec = {.name = "s.example", .file = zf};
	gk_zver_t *v = NULL;
	char err[256];
	assert_int_equal(gk_zone_ver_build(&spec, NULL, &v, err, sizeof err), 0);
	assert_int_equal(v->nfiles, 1); /* the $INCLUDE only */
	assert_string_equal(v->files[0].path, inc);
	assert_true(v->file_stamp != 0);
	assert_true(gk_zone_ver_files_current(v, zf));
	assert_false(gk_zone_ver_files_current(v, other)); /* the same file named otherwise */
	/* the $INCLUDE changes */
	f = fopen(inc, "a");
	assert_non_null(f);
	fputs("ftp 300 IN A 192.0.2.10\n", f);
	fclose(f);
	assert_false(gk_zone_ver_files_current(v, zf));
	gk_zone_ver_free(v);
	assert_int_equal(gk_zone_ver_build(&spec, NULL, &v, err, sizeof err), 0);
	assert_true(gk_zone_ver_files_current(v, zf));
	/* the zone file changes */
	f = fopen(zf, "a");
	assert_non_null(f);
	fputs("ftp2 300 IN A 192.0.2.11\n", f);
	fclose(f);
	assert_false(gk_zone_ver_files_current(v, zf));
	gk_zone_ver_free(v);
	/* a zone from text has no stamp: never current */
	const char *t = zone_text("t.example", "192.0.2.1", 1);
	gk_zone_spec_t ts = {.name = "t.example", .text = t, .text_len = strlen(t)};
	assert_int_equal(gk_zone_ver_build(&ts, NULL, &v, err, sizeof err), 0);
	assert_int_equal(v->file_stamp, 0);
	assert_false(gk_zone_ver_files_current(v, zf));
	gk_zone_ver_free(v);
	/* the stamp takes every field */
	uint64_t s0 = gk_zone_file_stamp("a", 1, 2, 3, 4);
	assert_true(s0 != gk_zone_file_stamp("b", 1, 2, 3, 4));
	assert_true(s0 != gk_zone_file_stamp("a", 9, 2, 3, 4));
	assert_true(s0 != gk_zone_file_stamp("a", 1, 9, 3, 4));
	assert_true(s0 != gk_zone_file_stamp("a", 1, 2, 9, 4));
	assert_true(s0 != gk_zone_file_stamp("a", 1, 2, 3, 9));
	unlink(zf);
	unlink(inc);
	rmdir(d);
}

/* Memo cells come from a pool: a removed zone's cell goes back, the next zone added gets it
 * cleared (a memo left over would be another zone's filing status), and the pool counts
 * the cells in use. */
static void test_memo_pool(void **state)
{
	(void)state;
	gk_zoneset_t *zs;
	size_t live0, live, bytes;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	gk_zone_ver_memo_stats(&live0, &bytes);
	gk_zver_t *a = build("a.example", "192.0.2.1", 1), *b = build("b.example", "192.0.2.2", 1);
	assert_int_equal(gk_zone_store_put(zs, a), 0);
	assert_int_equal(gk_zone_store_put(zs, b), 0);
	gk_zone_ver_memo_stats(&live, &bytes);
	assert_int_equal(live, live0 + 2);
	assert_true(bytes >= 2 * sizeof(uint64_t));
	_Atomic uint64_t *ma = a->zone.memo;
	assert_non_null(ma);
	assert_ptr_not_equal(ma, b->zone.memo);
	/* a new version of a zone keeps its cell */
	atomic_store(ma, 12345);
	gk_zver_t *a2 = build("a.example", "192.0.2.3", 2);
	assert_int_equal(gk_zone_store_put(zs, a2), 0);
	assert_ptr_equal(a2->zone.memo, ma);
	assert_int_equal(atomic_load(ma), 12345);
	uint8_t w[64];
	size_t l = wire("a.example", w);
	assert_int_equal(gk_zone_store_remove(zs, w, l), 0); /* no retire hook: freed now */
	gk_zone_ver_memo_stats(&live, &bytes);
	assert_int_equal(live, live0 + 1);
	gk_zver_t *c = build("c.example", "192.0.2.4", 1);
	assert_int_equal(gk_zone_store_put(zs, c), 0);
	assert_ptr_equal(c->zone.memo, ma); /* the freed cell, cleared */
	assert_int_equal(atomic_load(c->zone.memo), 0);
	gk_zone_store_free(zs);
	gk_zone_ver_memo_stats(&live, &bytes);
	assert_int_equal(live, live0);
}

/* A version is three lines and keeps no name string: an apex too long to sit inline is
 * reached through the pointer in apex_short (built and placeholder alike), and the name
 * is written from the apex, lowercase and without the trailing dot. */
static void test_version_layout(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "Example.CN", "a-rather-long-label-of-forty-characters.another-long-label.example.cn",
	    "b-rather-long-label-of-forty-characters.another-long-label.example.cn"};
	gk_zoneset_t *zs;
	assert_int_equal(gk_zone_store_create(NULL, NULL, &zs), 0);
	assert_int_equal(sizeof(gk_zver_t), 192);
	assert_int_equal(sizeof(gk_zone_spec_t), 56); /* one per configured zone */
	gk_zver_t *v[3] = {build(names[0], "192.0.2.1", 1), build(names[1], "192.0.2.2", 1)};
	gk_zone_spec_t ps = {.name = names[2]};
	assert_int_equal(gk_zone_ver_placeholder(&ps, &v[2]), 0);
	for (int i = 0; i < 3; i++) {
		uint8_t w[256];
		char buf[GK_ZVER_NAME_MAX];
		size_t l = wire(i ? names[i] : "example.cn", w), al;
		const uint8_t *apex = gk_zone_ver_apex_wire(v[i], &al);
		assert_int_equal(al, l);
		assert_memory_equal(apex, w, l);
		assert_true((l > GK_ZVER_INLINE) == (apex != v[i]->apex_short));
		assert_string_equal(gk_zone_ver_name(v[i], buf, sizeof buf),
		                    i ? names[i] : "example.cn");
		assert_int_equal(gk_zone_store_put(zs, v[i]), 0);
	}
	assert_ptr_equal(zone_of(zs, "www.example.cn"), v[0]);
	assert_ptr_equal(zone_of(zs, "www.a-rather-long-label-of-forty-characters.another-long-"
	                             "label.example.cn"),
	                 v[1]);
	assert_ptr_equal(zone_of(zs, "www.b-rather-long-label-of-forty-characters.another-long-"
	                             "label.example.cn"),
	                 v[2]);
	char buf[8];
	assert_string_equal(gk_zone_ver_name_of((const uint8_t *)"", buf, sizeof buf), ".");
	gk_zone_store_free(zs);
}

/* A version keeps no copy of its zone file's path (the loader, the build and the file
 * records held three, ~100 bytes each at the bench's paths): the same zone read from a
 * 200-character path holds the bytes it holds from a short one. The version stays current
 * for its own path only. */
static void test_version_keeps_no_path(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* chunks are malloc'd under AddressSanitizer: nothing is trimmed */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	skip();
#endif
#endif
	char d[] = "/tmp/gk-zpath-XXXXXX";
	assert_non_null(mkdtemp(d));
	char lng[1024], shrt[512], sub[512];
	snprintf(sub, sizeof sub, "%s/%0200d", d, 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(shrt, sizeof shrt, "%s/p.zone", d);
	snprintf(lng, sizeof lng, "%s/p.zone", sub);
	size_t bytes[2];
	const char *paths[2] = {shrt, lng};
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "w");
		assert_non_null(f);
		fputs(zone_text("p.example", "192.0.2.1", 1), f);
		fclose(f);
		gk_zone_spec_t spec = {.name = "p.example", .file = paths[i]};
		gk_zver_t *v = NULL;
		char err[256];
		assert_int_equal(gk_zone_ver_build(&spec, NULL, &v, err, sizeof err), 0);
		bytes[i] = gk_arena_bytes(v->arena);
		assert_true(gk_zone_ver_files_current(v, paths[i]));
		assert_false(gk_zone_ver_files_current(v, paths[1 - i]));
		assert_false(gk_zone_ver_files_current(v, NULL));
		gk_zone_ver_free(v);
	}
	if (bytes[1] != bytes[0])
		fail_msg("a 200-character longer path costs %zu arena bytes (want 0)",
		         bytes[1] - bytes[0]);
	unlink(lng);
	unlink(shrt);
	rmdir(sub);
	rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_readers_hold),
	    cmocka_unit_test(test_churn),
	    cmocka_unit_test(test_sync),
	    cmocka_unit_test(test_placeholder),
	    cmocka_unit_test(test_loader),
	    cmocka_unit_test(test_loader_batches_wakeups),
	    cmocka_unit_test(test_secondary_versions),
	    cmocka_unit_test(test_small_version_bytes),
	    cmocka_unit_test(test_version_keeps_no_path),
	    cmocka_unit_test(test_version_layout),
	    cmocka_unit_test(test_memo_pool),
	    cmocka_unit_test(test_file_stamp),
	    cmocka_unit_test(test_site_addrs),
	    cmocka_unit_test(test_placeholder_block),
	    cmocka_unit_test(test_any_runtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
