/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_diff.c -- the feed diff (src/sync/diff.h) without Redis: a bucket's
 * wanted state against given fields, the writes and stream changes that come out, and the
 * totals. The end-to-end apply against a real redis-server is tests/integration/test_sync.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sync/diff.h"

#define S(x)        ((gk_sync_str_t){x, sizeof(x) - 1})
#define NONE        ((gk_sync_str_t){NULL, 0})
#define F(f, v)     ((gk_sync_field_t){S(f), S(v)})
#define W(d, v)     ((gk_sync_want_t){d, sizeof(d) - 1, v, sizeof(v) - 1, NULL, 0})
#define WR(d, v, r) ((gk_sync_want_t){d, sizeof(d) - 1, v, sizeof(v) - 1, r, sizeof(r) - 1})
#define WGONE(d)    ((gk_sync_want_t){d, sizeof(d) - 1, NULL, 0, NULL, 0})

/* the list as "a=b c" text: pairs joined by '=', items by ' ' (pairs: 1) */
static const char *text(const gk_sync_strs_t *l, int pairs)
{
	static char buf[4][512];
	static int k;
	char *out = buf[k++ & 3];
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *sep = i == 0 ? "" : pairs && i % 2 ? "=" : " ";
		n += (size_t)snprintf(out + n, 512 - n, "%s%.*s", sep, (int)l->l[i], l->v[i]);
	}
	return out;
}

/* snapshot: add, change, keep, remove; lists in domain order whatever the input order */
static void test_snapshot_status(void **state)
{
	(void)state;
	gk_sync_diff_t d = {0};
	gk_sync_want_t want[] = {W("d.cn", "5"), W("a.cn", "5"), W("b.cn", "6"), W("c.cn", "9")};
	gk_sync_field_t st[] = {F("e.cn", "5"), F("b.cn", "5"), F("c.cn", "9"), F("0.cn", "1")};
	assert_int_equal(gk_sync_diff_snapshot(&d, want, 4, st, 4, NULL, 0), 0);
	assert_string_equal(text(&d.st_set, 1), "a.cn=5 b.cn=6 d.cn=5");
	assert_string_equal(text(&d.st_del, 0), "0.cn e.cn");
	assert_int_equal(d.rec_set.n + d.rec_del.n, 0);
	assert_int_equal(d.added, 2);
	assert_int_equal(d.changed, 1);
	assert_int_equal(d.removed, 2);
	assert_int_equal(d.unchanged, 1);
	/* the same bucket again, now equal: nothing to write; totals accumulate */
	gk_sync_diff_reset(&d);
	gk_sync_field_t now[] = {F("a.cn", "5"), F("b.cn", "6"), F("c.cn", "9"), F("d.cn", "5")};
	assert_int_equal(gk_sync_diff_snapshot(&d, want, 4, now, 4, NULL, 0), 0);
	assert_int_equal(d.st_set.n + d.st_del.n, 0);
	assert_int_equal(d.unchanged, 5);
	assert_int_equal(d.added, 2);
	gk_sync_diff_free(&d);
}

/* byte order: a name that is a prefix of another sorts first; a value differing only in
 * length is a change; an empty bucket empties */
static void test_snapshot_edges(void **state)
{
	(void)state;
	gk_sync_diff_t d = {0};
	gk_sync_want_t want[] = {W("ab.cn", "1"), W("a.cn", "12")};
	gk_sync_field_t st[] = {F("a.cn", "1"), F("ab.cn", "1")};
	assert_int_equal(gk_sync_diff_snapshot(&d, want, 2, st, 2, NULL, 0), 0);
	assert_string_equal(text(&d.st_set, 1), "a.cn=12");
	assert_int_equal(d.st_del.n, 0);
	gk_sync_diff_reset(&d);
	assert_int_equal(gk_sync_diff_snapshot(&d, NULL, 0, st, 2, NULL, 0), 0);
	assert_string_equal(text(&d.st_del, 0), "a.cn ab.cn");
	assert_int_equal(d.removed, 2);
	gk_sync_diff_reset(&d);
	assert_int_equal(gk_sync_diff_snapshot(&d, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(d.st_set.n + d.st_del.n, 0);
	gk_sync_diff_free(&d);
}

/* records: written when different, deleted when the domain leaves, no stream entry for a
 * record-only change (records lists only); a stray record field (no status) is removed; ignored
 * when off */
static void test_snapshot_records(void **state)
{
	(void)state;
	gk_sync_diff_t d = {.records = 1};
	gk_sync_want_t want[] = {WR("a.cn", "5", "RA"), WR("b.cn", "5", "RB2"),
	                         WR("c.cn", "5", "RC")};
	gk_sync_field_t st[] = {F("a.cn", "5"), F("b.cn", "5"), F("x.cn", "5")};
	gk_sync_field_t rec[] = {F("x.cn", "RX"), F("b.cn", "RB"), F("a.cn", "RA"),
	                         F("y.cn", "RY")};
	assert_int_equal(gk_sync_diff_snapshot(&d, want, 3, st, 3, rec, 4), 0);
	assert_string_equal(text(&d.rec_set, 1), "b.cn=RB2 c.cn=RC");
	assert_string_equal(text(&d.rec_del, 0), "x.cn y.cn");
	assert_string_equal(text(&d.st_set, 1), "c.cn=5");
	assert_string_equal(text(&d.st_del, 0), "x.cn");
	assert_int_equal(d.records_written, 4);
	assert_int_equal(d.unchanged, 2);
	gk_sync_diff_free(&d);

	gk_sync_diff_t off = {0};
	gk_sync_want_t w2[] = {WR("a.cn", "5", "RA")};
	gk_sync_field_t r2[] = {F("z.cn", "RZ")};
	assert_int_equal(gk_sync_diff_snapshot(&off, w2, 1, NULL, 0, r2, 1), 0);
	assert_int_equal(off.rec_set.n + off.rec_del.n, 0);
	assert_string_equal(text(&off.st_set, 1), "a.cn=5");
	gk_sync_diff_free(&off);
}

/* delta: only the named domains, in feed order; a removal of an absent domain is nothing */
static void test_delta(void **state)
{
	(void)state;
	gk_sync_diff_t d = {.records = 1};
	gk_sync_want_t want[] = {WR("z.cn", "6", "RZ"), WGONE("b.cn"), W("c.cn", "5"),
	                         WGONE("gone.cn"), WR("a.cn", "5", "RA")};
	gk_sync_str_t cst[] = {S("5"), S("5"), S("5"), NONE, NONE};
	gk_sync_str_t crec[] = {S("RZ"), S("RB"), S("RC"), NONE, S("RA")};
	assert_int_equal(gk_sync_diff_delta(&d, want, 5, cst, crec), 0);
	assert_string_equal(text(&d.st_set, 1), "z.cn=6 a.cn=5");
	assert_string_equal(text(&d.st_del, 0), "b.cn");
	assert_string_equal(text(&d.rec_set, 0), "");
	/* c.cn is wanted without a record (status-only line): its record goes */
	assert_string_equal(text(&d.rec_del, 0), "b.cn c.cn");
	assert_int_equal(d.changed, 1);
	assert_int_equal(d.added, 1);
	assert_int_equal(d.removed, 1);
	assert_int_equal(d.unchanged, 1);
	gk_sync_diff_free(&d);
}

/* a bucket larger than the lists' first allocation, with an empty value present */
static void test_large(void **state)
{
	(void)state;
	enum { N = 1000 };
	static char names[N][16];
	static gk_sync_want_t want[N];
	static gk_sync_field_t st[N];
	for (int i = 0; i < N; i++) {
		int l = snprintf(names[i], sizeof(names[i]), "d%04d.cn", i);
		want[i] = (gk_sync_want_t){
		    .dom = names[i], .dl = (size_t)l, .val = i % 2 ? "1" : "", .vl = i % 2 ? 1 : 0};
		st[i] = (gk_sync_field_t){{names[N - 1 - i], (size_t)l}, {"1", 1}};
	}
	gk_sync_diff_t d = {0};
	assert_int_equal(gk_sync_diff_snapshot(&d, want, N, st, N, NULL, 0), 0);
	assert_int_equal(d.unchanged, N / 2);
	assert_int_equal(d.changed, N / 2);
	assert_int_equal(d.st_set.n, N);
	for (size_t i = 2; i < d.st_set.n; i += 2)
		assert_true(strcmp(d.st_set.v[i - 2], d.st_set.v[i]) < 0);
	gk_sync_diff_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot_status),
	    cmocka_unit_test(test_snapshot_edges),
	    cmocka_unit_test(test_snapshot_records),
	    cmocka_unit_test(test_delta),
	    cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
