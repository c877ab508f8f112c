/* SPDX-License-Identifier: MIT */
/* tests/unit/status/test_table.c -- the status table without Redis (gk_status_put).
 *
 * Exact answers (names stored, no false positives), removals, STARTING before ready, the
 * memory bound, and reader threads racing a writer that applies millions of changes and
 * several merges: every read must give one of the values the writer ever stored for that
 * key, or absence, never anything else. Retired memory is freed through a common/snapshot
 * cell whose readers are the reader threads, as the daemon does with its view cell (under
 * ASan a premature free shows up as a use-after-free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>
#include "common/dname.h"
#include "common/namehash.h"
#include "common/snapshot.h"
#include "status/status.h"

static gk_status_conf_t conf = {.redis_host = "127.0.0.1", .redis_port = 1, .version = "test"};

/* "k<i>.<tld>" in wire form; returns the length. */
static size_t key_wire(unsigned i, uint8_t *out)
{
	char s[32];
	int n = snprintf(s, sizeof(s), "%x", i * 2654435761u);
	out[0] = (uint8_t)(n + 1);
	out[1] = 'k';
	memcpy(out + 2, s, (size_t)n);
	size_t o = (size_t)n + 2;
	memcpy(out + o, "\3com\2cn", 7);
	o += 7;
	out[o++] = 0;
	return o;
}

static void key_text(unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "k%x.com.cn", i * 2654435761u);
}

static int get(gk_status_t *st, const uint8_t *w, size_t len, uint32_t *v)
{
	return gk_status_get(st, w, len, gk_namehash(w, len), v);
}

static size_t text_wire(const char *d, uint8_t *w)
{
	size_t o = 0, lab = 0;
	w[o++] = 0;
	for (const char *p = d; *p; p++) {
		if (*p == '.') {
			lab = o++;
			w[lab] = 0;
		} else {
			w[lab]++;
			w[o++] = (uint8_t)*p;
		}
	}
	w[o++] = 0;
	return o;
}

static int get_text(gk_status_t *st, const char *d, uint32_t *v)
{
	uint8_t w[256];
	return get(st, w, text_wire(d, w), v);
}

static void test_basic(void **state)
{
	(void)state;
	gk_status_t *st;
	assert_int_equal(gk_status_create(&conf, &st), 0);
	uint32_t v = 99;
	assert_int_equal(get_text(st, "foo.com.cn", &v), GK_FS_STARTING);
	assert_int_equal(gk_status_put(st, "foo.com.cn", gk_fs_pack(GK_FS_FILED, 7)), 0);
	assert_int_equal(gk_status_put(st, "Bar.COM.cn", gk_fs_pack(GK_FS_REVOKED, 0)), 0);
	assert_int_equal(get_text(st, "foo.com.cn", &v), GK_FS_STARTING);
	gk_status_set_ready(st);
	assert_int_equal(get_text(st, "foo.com.cn", &v), GK_FS_FILED);
	assert_int_equal(gk_fs_unpack_provider(v), 7);
	assert_int_equal(get_text(st, "bar.com.cn", &v), GK_FS_REVOKED);
	assert_int_equal(get_text(st, "baz.com.cn", &v), GK_FS_UNFILED);
	assert_int_equal(v, 0);
	/* a prefix or suffix of a stored name is not that name */
	assert_int_equal(get_text(st, "oo.com.cn", &v), GK_FS_UNFILED);
	assert_int_equal(get_text(st, "com.cn", &v), GK_FS_UNFILED);
	assert_int_equal(gk_status_put(st, "foo.com.cn", 0), 0);
	assert_int_equal(get_text(st, "foo.com.cn", &v), GK_FS_UNFILED);
	assert_int_equal(gk_status_put(st, "nothere.cn", 0), 0);
	gk_status_info_t info;
	gk_status_info(st, &info);
	assert_true(info.ready);
	assert_int_equal(info.table_size, 1);
	assert_int_equal(gk_status_put(st, "bad..name", 1), GK_EINVAL);
	assert_int_equal(gk_status_put(st, "", 1), GK_EINVAL);
	gk_status_free(st);
}

static int get_memo_text(gk_status_t *st, const char *d, _Atomic uint64_t *memo)
{
	uint8_t w[256];
	size_t len = text_wire(d, w);
	return gk_status_get_memo(st, w, len, gk_namehash(w, len), memo);
}

/* A remembered status answers until the table changes, and never after. */
static void test_memo(void **state)
{
	(void)state;
	gk_status_t *st;
	assert_int_equal(gk_status_create(&conf, &st), 0);
	_Atomic uint64_t memo = 0;
	assert_int_equal(gk_status_put(st, "foo.com.cn", gk_fs_pack(GK_FS_FILED, 7)), 0);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_STARTING);
	assert_int_equal(memo, 0); /* nothing remembered before the first load */
	gk_status_set_ready(st);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_FILED);
	assert_int_not_equal(memo, 0);
	/* the second read comes from the memo: prove it by planting another status under the
	 * same generation tag */
	uint64_t m = memo;
	memo = (m & ~(uint64_t)0xff) | GK_FS_REVOKED;
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_REVOKED);
	memo = m;
	/* any change moves the generation: the memo is read again */
	assert_int_equal(gk_status_put(st, "foo.com.cn", gk_fs_pack(GK_FS_REVOKED, 7)), 0);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_REVOKED);
	assert_int_equal(gk_status_put(st, "other.com.cn", gk_fs_pack(GK_FS_FILED, 1)), 0);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_REVOKED);
	assert_int_equal(gk_status_put(st, "foo.com.cn", 0), 0);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_UNFILED);
	assert_int_equal(gk_status_put(st, "foo.com.cn", gk_fs_pack(GK_FS_FILED, 2)), 0);
	assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), GK_FS_FILED);
	/* many changes (merges among them): the memo follows every one */
	char d[64];
	for (unsigned i = 0; i < 200000; i++) {
		key_text(i, d, sizeof(d));
		assert_int_equal(gk_status_put(st, d, gk_fs_pack(GK_FS_FILED, 1)), 0);
		if (i % 50000 == 0) {
			int want = (i / 50000) % 2 ? GK_FS_FILED : GK_FS_REVOKED;
			assert_int_equal(gk_status_put(st, "foo.com.cn", gk_fs_pack(want, 2)), 0);
			assert_int_equal(get_memo_text(st, "foo.com.cn", &memo), want);
		}
	}
	gk_status_free(st);
}

/* Many keys through several merges: every key answers exactly, absent keys do not. */
static void test_many_and_memory(void **state)
{
	(void)state;
	gk_status_t *st;
	assert_int_equal(gk_status_create(&conf, &st), 0);
	gk_status_set_ready(st);
	const unsigned n = 1000000;
	char d[64];
	for (unsigned i = 0; i < n; i++) {
		key_text(i, d, sizeof(d));
		assert_int_equal(gk_status_put(st, d, gk_fs_pack(GK_FS_FILED, i & 0xffff)), 0);
	}
	/* remove every 7th */
	for (unsigned i = 0; i < n; i += 7) {
		key_text(i, d, sizeof(d));
		assert_int_equal(gk_status_put(st, d, 0), 0);
	}
	uint8_t w[64];
	uint32_t v;
	for (unsigned i = 0; i < n + 100000; i++) {
		size_t len = key_wire(i, w);
		int s = get(st, w, len, &v);
		if (i >= n || i % 7 == 0) {
			assert_int_equal(s, GK_FS_UNFILED);
		} else {
			assert_int_equal(s, GK_FS_FILED);
			assert_int_equal(gk_fs_unpack_provider(v), i & 0xffff);
		}
	}
	gk_status_info_t info;
	gk_status_info(st, &info);
	size_t live = n - (n + 6) / 7;
	size_t bytes = gk_status_table_bytes(st);
	printf("# %zu domains, %zu table bytes, %.1f bytes per domain\n", live, bytes,
	       (double)bytes / (double)live);
	assert_true(bytes / live <= 48);
	gk_status_retired_free(gk_status_retired_take(st));
	gk_status_free(st);
}

/* --- concurrent readers ------------------------------------------------------------ */

#define KEYS    100000u
#define READERS 3

struct race {
	gk_status_t *st;
	gk_snapshot_t *cell;
	volatile int stop;
	unsigned long long reads[READERS], bad[READERS];
	_Atomic uint64_t memo[KEYS + KEYS / 10]; /* shared by the readers, as zones' memos are */
};

struct reader_arg {
	struct race *r;
	unsigned id;
};

/* The only values the writer ever stores for key i. */
static int value_ok(unsigned i, int s, uint32_t v)
{
	if (s == GK_FS_UNFILED)
		return v == 0;
	if (s != GK_FS_FILED && s != GK_FS_REVOKED)
		return 0;
	return gk_fs_unpack_provider(v) == (i % 1000) + 1 && gk_fs_unpack_status(v) == (unsigned)s;
}

static void reader_main(void *p)
{
	struct reader_arg *a = p;
	struct race *r = a->r;
	uint64_t x = 88172645463325252ull + a->id;
	uint8_t w[64];
	while (!r->stop) {
		for (int k = 0; k < 256; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			unsigned i = (unsigned)(x % (KEYS + KEYS / 10));
			size_t len = key_wire(i, w);
			uint32_t v;
			int s, ok;
			if (k & 1) {
				s = gk_status_get_memo(r->st, w, len, gk_namehash(w, len),
				                       &r->memo[i]);
				ok = s == GK_FS_UNFILED ||
				     (i < KEYS && (s == GK_FS_FILED || s == GK_FS_REVOKED));
			} else {
				s = get(r->st, w, len, &v);
				ok = i < KEYS ? value_ok(i, s, v) : s == GK_FS_UNFILED;
			}
			if (!ok)
				r->bad[a->id]++;
			r->reads[a->id]++;
		}
		gk_snapshot_quiescent(r->cell, a->id);
	}
}

static void free_retired(void *p)
{
	gk_status_retired_free(p);
}

static void test_concurrent(void **state)
{
	(void)state;
	static struct race r; /* ~1 MB of memos: not on the stack */
	assert_int_equal(gk_status_create(&conf, &r.st), 0);
	assert_int_equal(gk_snapshot_create(READERS, NULL, free_retired, &r.cell), 0);
	char d[64];
	for (unsigned i = 0; i < KEYS; i += 2) {
		key_text(i, d, sizeof(d));
		assert_int_equal(gk_status_put(r.st, d, gk_fs_pack(GK_FS_FILED, i % 1000 + 1)), 0);
	}
	gk_status_set_ready(r.st);
	uv_thread_t th[READERS];
	struct reader_arg args[READERS];
	for (unsigned i = 0; i < READERS; i++) {
		args[i] = (struct reader_arg){&r, i};
		assert_int_equal(uv_thread_create(&th[i], reader_main, &args[i]), 0);
	}
	const unsigned changes = 3000000;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	unsigned published = 0;
	for (unsigned c = 0; c < changes; c++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned i = (unsigned)(x % KEYS);
		unsigned what = (unsigned)(x >> 40) % 3;
		uint32_t v =
		    what == 0 ? 0
		              : gk_fs_pack(what == 1 ? GK_FS_FILED : GK_FS_REVOKED, i % 1000 + 1);
		key_text(i, d, sizeof(d));
		assert_int_equal(gk_status_put(r.st, d, v), 0);
		if (c % 4096 == 0) {
			gk_status_retired_t *rt = gk_status_retired_take(r.st);
			if (rt != NULL) {
				assert_int_equal(gk_snapshot_publish(r.cell, rt), 0);
				published++;
			}
			gk_snapshot_reclaim(r.cell);
		}
	}
	r.stop = 1;
	for (unsigned i = 0; i < READERS; i++)
		uv_thread_join(&th[i]);
	unsigned long long reads = 0, bad = 0;
	for (unsigned i = 0; i < READERS; i++) {
		reads += r.reads[i];
		bad += r.bad[i];
	}
	printf("# %u changes, %u retirement batches, %llu reads, %llu bad\n", changes, published,
	       reads, bad);
	assert_true(published >= 3); /* several merges happened during the race */
	assert_int_equal(bad, 0);
	/* every memo the race left behind answers as the table does now */
	uint8_t w[64];
	for (unsigned i = 0; i < KEYS + KEYS / 10; i++) {
		size_t len = key_wire(i, w);
		int s = gk_status_get_memo(r.st, w, len, gk_namehash(w, len), &r.memo[i]);
		assert_int_equal(s, get(r.st, w, len, NULL));
	}
	gk_snapshot_destroy(r.cell);
	gk_status_free(r.st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_memo),
	    cmocka_unit_test(test_many_and_memory),
	    cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
