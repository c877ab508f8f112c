/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_tsig.c -- TSIG (RFC 8945) against messages signed by real tools:
 * kdig -y requests (hmac-sha1, -sha256, -sha512) and a four-message AXFR answered by NSD 4.6
 * with hmac-sha256 (fixtures/gen_tsig.py made them); then our own signing, checked by our
 * verifier in both roles, and the errors: BADKEY, BADSIG, BADTIME, a missing signature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xfr/tsig.h"

#define FIX "tests/unit/xfr/fixtures/"

static const struct {
	const char *alg, *name, *secret;
} keys[] = {
    {"hmac-sha256", "tsig256.example.", "c2VjcmV0LWtleS1mb3ItaG1hYy1zaGEyNTYtdGVzdHM="},
    {"hmac-sha512", "tsig512.example.",
     "bG9uZ2VyLXNlY3JldC1mb3ItaG1hYy1zaGE1MTItdGVzdHMtMDEyMzQ1Njc4OQ=="},
    {"hmac-sha1", "tsig1.example.", "b2xkLXNoYTEta2V5"},
};

typedef struct {
	uint8_t *buf;
	size_t n;
	uint8_t *msg[16];
	size_t len[16];
} frames_t;

static void load(const char *path, frames_t *f)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		fail_msg("%s: cannot open (run from the source tree)", path);
	f->buf = malloc(1 << 20);
	size_t got = fread(f->buf, 1, 1 << 20, fp);
	fclose(fp);
	f->n = 0;
	for (size_t o = 0; o + 2 <= got && f->n < 16;) {
		size_t l = (size_t)f->buf[o] << 8 | f->buf[o + 1];
		f->msg[f->n] = f->buf + o + 2;
		f->len[f->n++] = l;
		o += 2 + l;
	}
}

static uint64_t signed_at(const uint8_t *m, size_t l)
{
	gk_tsig_rr_t rr;
	assert_int_equal(gk_xfr_tsig_find(m, l, &rr), 1);
	return rr.time_signed;
}

static void key(gk_tsig_key_t *k, int i)
{
	assert_int_equal(gk_xfr_tsig_key_init(k, keys[i].name, keys[i].alg, keys[i].secret), 0);
}

static int verify1(const gk_tsig_key_t *k, const uint8_t *m, size_t l, uint64_t now)
{
	gk_tsig_ctx_t *c;
	assert_int_equal(gk_xfr_tsig_ctx_new(k, &c), 0);
	int rc = gk_xfr_tsig_verify(c, m, l, now, NULL);
	gk_xfr_tsig_ctx_free(c);
	return rc;
}

static void test_key_init(void **state)
{
	(void)state;
	gk_tsig_key_t k;
	assert_int_equal(gk_xfr_tsig_key_init(&k, "k.", "HMAC-SHA256.", "c2VjcmV0"), 0);
	assert_int_equal(k.alg, GK_TSIG_HMAC_SHA256);
	assert_int_equal(k.secret_len, 6);
	assert_memory_equal(k.secret, "secret", 6);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "K.Example", "hmac-sha1", "YQ=="), 0);
	assert_int_equal(k.secret_len, 1);
	assert_memory_equal(k.name,
	                    "\x01k\x07"
	                    "example\x00",
	                    11);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "k.", "hmac-md5", "c2VjcmV0"), GK_EINVAL);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "k.", "hmac-sha256", "c2VjcmV"), GK_EINVAL);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "k.", "hmac-sha256", "c2V*cmV0"), GK_EINVAL);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "k.", "hmac-sha256", ""), GK_EINVAL);
	assert_int_equal(gk_xfr_tsig_key_init(&k, "a..b", "hmac-sha256", "c2VjcmV0"), GK_EINVAL);
}

/* A request signed by kdig verifies with each algorithm; a changed octet, another secret,
 * another name and a stale time are told apart. */
static void test_kdig_requests(void **state)
{
	(void)state;
	const char *files[] = {FIX "kdig_hmac-sha256.bin", FIX "kdig_hmac-sha512.bin",
	                       FIX "kdig_hmac-sha1.bin"};
	for (int i = 0; i < 3; i++) {
		frames_t f;
		load(files[i], &f);
		assert_int_equal(f.n, 1);
		gk_tsig_key_t k;
		key(&k, i);
		uint64_t t = signed_at(f.msg[0], f.len[0]);
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t), GK_TSIG_NOERROR);
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t + GK_TSIG_FUDGE),
		                 GK_TSIG_NOERROR);
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t + GK_TSIG_FUDGE + 1),
		                 GK_TSIG_BADTIME);
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t - GK_TSIG_FUDGE - 1),
		                 GK_TSIG_BADTIME);
		f.msg[0][14]++; /* in the question */
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t), GK_TSIG_BADSIG);
		f.msg[0][14]--;
		k.secret[0] ^= 1;
		assert_int_equal(verify1(&k, f.msg[0], f.len[0], t), GK_TSIG_BADSIG);
		gk_tsig_key_t other;
		assert_int_equal(
		    gk_xfr_tsig_key_init(&other, "other.example.", keys[i].alg, keys[i].secret), 0);
		assert_int_equal(verify1(&other, f.msg[0], f.len[0], t), GK_TSIG_BADKEY);
		gk_tsig_key_t alg2;
		assert_int_equal(gk_xfr_tsig_key_init(&alg2, keys[i].name, keys[(i + 1) % 3].alg,
		                                      keys[i].secret),
		                 0);
		assert_int_equal(verify1(&alg2, f.msg[0], f.len[0], t), GK_TSIG_BADKEY);
		free(f.buf);
	}
}

/* NSD's four-message AXFR: each message's MAC chains on the previous one. */
static void test_nsd_axfr(void **state)
{
	(void)state;
	frames_t f;
	load(FIX "nsd_axfr_hmac-sha256.bin", &f);
	assert_true(f.n >= 4);
	gk_tsig_key_t k;
	key(&k, 0);
	uint64_t t = signed_at(f.msg[0], f.len[0]);
	gk_tsig_ctx_t *c;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k, &c), 0);
	for (size_t i = 0; i < f.n; i++)
		assert_int_equal(gk_xfr_tsig_verify(c, f.msg[i], f.len[i], t, NULL),
		                 GK_TSIG_NOERROR);
	assert_false(gk_xfr_tsig_ctx_pending(c));
	gk_xfr_tsig_ctx_free(c);

	/* out of order: the third message's MAC does not follow the first's */
	assert_int_equal(gk_xfr_tsig_ctx_new(&k, &c), 0);
	assert_int_equal(gk_xfr_tsig_verify(c, f.msg[0], f.len[0], t, NULL), GK_TSIG_NOERROR);
	assert_int_equal(gk_xfr_tsig_verify(c, f.msg[1], f.len[1], t, NULL), GK_TSIG_NOERROR);
	assert_int_equal(gk_xfr_tsig_verify(c, f.msg[3], f.len[3], t, NULL), GK_TSIG_BADSIG);
	gk_xfr_tsig_ctx_free(c);

	/* the first answer unsigned: refused; the last unsigned: pending */
	gk_tsig_rr_t rr;
	assert_int_equal(gk_xfr_tsig_find(f.msg[1], f.len[1], &rr), 1);
	uint8_t strip[65536];
	memcpy(strip, f.msg[1], rr.offset);
	strip[11]--;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k, &c), 0);
	assert_int_equal(gk_xfr_tsig_verify(c, f.msg[0], f.len[0], t, NULL), GK_TSIG_NOERROR);
	assert_int_equal(gk_xfr_tsig_verify(c, strip, rr.offset, t, NULL), GK_TSIG_BADKEY);
	gk_xfr_tsig_ctx_free(c);
	size_t last = f.n - 1;
	assert_int_equal(gk_xfr_tsig_find(f.msg[last], f.len[last], &rr), 1);
	memcpy(strip, f.msg[last], rr.offset);
	strip[11]--;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k, &c), 0);
	for (size_t i = 0; i < last; i++)
		assert_int_equal(gk_xfr_tsig_verify(c, f.msg[i], f.len[i], t, NULL),
		                 GK_TSIG_NOERROR);
	assert_int_equal(gk_xfr_tsig_verify(c, strip, rr.offset, t, NULL), GK_TSIG_NOERROR);
	assert_true(gk_xfr_tsig_ctx_pending(c));
	gk_xfr_tsig_ctx_free(c);
	free(f.buf);
}

/* Our signatures: a request, its answer and two later messages, each verified by the
 * other side; the peer's error field (BADKEY, no MAC) reaches the client. */
static void test_roundtrip(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		gk_tsig_key_t k;
		key(&k, i);
		gk_tsig_ctx_t *cli, *srv;
		assert_int_equal(gk_xfr_tsig_ctx_new(&k, &cli), 0);
		assert_int_equal(gk_xfr_tsig_ctx_new(&k, &srv), 0);
		uint8_t q[512] = {0x12, 0x34, 0, 0,   0,   1, 0, 0, 0, 0,
		                  0,    0,    2, 'c', 'n', 0, 0, 6, 0, 1};
		size_t ql = 20;
		assert_int_equal(gk_xfr_tsig_sign(cli, q, &ql, sizeof q, 1000000, 0), 0);
		assert_int_equal(q[11], 1);
		assert_int_equal(gk_xfr_tsig_verify(srv, q, ql, 1000010, NULL), GK_TSIG_NOERROR);
		for (int m = 0; m < 3; m++) {
			uint8_t a[512] = {0x12, 0x34, 0x84, 0,   0,   1, 0, 0, 0, 0,
			                  0,    0,    2,    'c', 'n', 0, 0, 6, 0, 1};
			a[17] = (uint8_t)(6 + m); /* each message differs */
			size_t al = 20;
			assert_int_equal(gk_xfr_tsig_sign(srv, a, &al, sizeof a, 1000020, 0), 0);
			assert_int_equal(gk_xfr_tsig_verify(cli, a, al, 1000030, NULL),
			                 GK_TSIG_NOERROR);
		}
		gk_xfr_tsig_ctx_free(cli);
		gk_xfr_tsig_ctx_free(srv);

		/* the server refuses the key: its BADKEY comes back, no MAC */
		assert_int_equal(gk_xfr_tsig_ctx_new(&k, &cli), 0);
		assert_int_equal(gk_xfr_tsig_ctx_new(&k, &srv), 0);
		ql = 20;
		assert_int_equal(gk_xfr_tsig_sign(cli, q, &ql, sizeof q, 1000000, 0), 0);
		uint8_t a[512] = {0x12, 0x34, 0x84, 9,   0,   1, 0, 0, 0, 0,
		                  0,    0,    2,    'c', 'n', 0, 0, 6, 0, 1};
		size_t al = 20;
		assert_int_equal(gk_xfr_tsig_sign(srv, a, &al, sizeof a, 1000000, GK_TSIG_BADKEY),
		                 0);
		uint16_t pe = 0;
		assert_int_equal(gk_xfr_tsig_verify(cli, a, al, 1000000, &pe), GK_TSIG_BADKEY);
		assert_int_equal(pe, GK_TSIG_BADKEY);
		gk_xfr_tsig_ctx_free(cli);
		gk_xfr_tsig_ctx_free(srv);
	}
	/* too small a buffer */
	gk_tsig_key_t k;
	key(&k, 0);
	gk_tsig_ctx_t *c;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k, &c), 0);
	uint8_t q[40] = {0};
	size_t ql = 12;
	assert_int_equal(gk_xfr_tsig_sign(c, q, &ql, sizeof q, 1, 0), GK_ENOSPC);
	gk_xfr_tsig_ctx_free(c);
}

/* OpenSSL's allocations, counted (CRYPTO_set_mem_functions, first thing in main). */
static long ossl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* One request verified and answered by srv; the client checks the answer. */
static void serve(gk_tsig_ctx_t *srv, const gk_tsig_key_t *k, uint64_t t)
{
	gk_tsig_ctx_t *cli;
	assert_int_equal(gk_xfr_tsig_ctx_new(k, &cli), 0);
	uint8_t q[512] = {0x12, 0x34, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'c', 'n', 0, 0, 6, 0, 1};
	size_t ql = 20;
	assert_int_equal(gk_xfr_tsig_sign(cli, q, &ql, sizeof q, t, 0), 0);
	assert_int_equal(gk_xfr_tsig_verify(srv, q, ql, t, NULL), GK_TSIG_NOERROR);
	uint8_t a[512];
	memcpy(a, q, 20);
	a[2] = 0xa4;
	a[11] = 0; /* the request's TSIG is not copied */
	size_t al = 20;
	assert_int_equal(gk_xfr_tsig_sign(srv, a, &al, sizeof a, t, 0), 0);
	assert_int_equal(gk_xfr_tsig_verify(cli, a, al, t, NULL), GK_TSIG_NOERROR);
	gk_xfr_tsig_ctx_free(cli);
}

/* A context reset for each exchange (the NOTIFY path's slots) answers as a new one, across
 * keys and algorithms, forgets the previous exchange's MAC, and spares the fetch and the
 * allocation of a new context. */
static void test_reset(void **state)
{
	(void)state;
	gk_tsig_key_t k[3];
	for (int i = 0; i < 3; i++)
		key(&k[i], i);
	gk_tsig_ctx_t *slot;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k[0], &slot), 0);
	for (int round = 0; round < 6; round++) {
		gk_xfr_tsig_ctx_reset(slot, &k[round % 3]);
		serve(slot, &k[round % 3], 1000000 + (uint64_t)round);
	}
	/* the same key again and again: a reset costs fewer of OpenSSL's allocations than a
	 * new context (no EVP_MAC_fetch, no EVP_MAC_CTX_new, the digest not fetched again) */
	gk_tsig_ctx_t *cli;
	assert_int_equal(gk_xfr_tsig_ctx_new(&k[0], &cli), 0);
	uint8_t q[512] = {0x12, 0x34, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'c', 'n', 0, 0, 6, 0, 1};
	size_t ql = 20;
	assert_int_equal(gk_xfr_tsig_sign(cli, q, &ql, sizeof q, 1000000, 0), 0);
	long fresh = 0, reused = 0;
	for (int i = 0; i < 4; i++) {
		long a0 = ossl_allocs;
		gk_tsig_ctx_t *c;
		assert_int_equal(gk_xfr_tsig_ctx_new(&k[0], &c), 0);
		assert_int_equal(gk_xfr_tsig_verify(c, q, ql, 1000000, NULL), GK_TSIG_NOERROR);
		gk_xfr_tsig_ctx_free(c);
		long a1 = ossl_allocs;
		gk_xfr_tsig_ctx_reset(slot, &k[0]);
		assert_int_equal(gk_xfr_tsig_verify(slot, q, ql, 1000000, NULL), GK_TSIG_NOERROR);
		long a2 = ossl_allocs;
		fresh = a1 - a0;
		reused = a2 - a1;
	}
	print_message("OpenSSL allocations per verified request: new context %ld, reset %ld\n",
	              fresh, reused);
	assert_true(fresh > 0);
	assert_true(reused < fresh);
	gk_xfr_tsig_ctx_free(cli);
	gk_xfr_tsig_ctx_free(slot);
}

/* Malformed: TSIG not last, truncated RR, compressed key name. */
static void test_find_malformed(void **state)
{
	(void)state;
	frames_t f;
	load(FIX "kdig_hmac-sha256.bin", &f);
	gk_tsig_rr_t rr;
	for (size_t l = 0; l < f.len[0]; l++)
		assert_true(gk_xfr_tsig_find(f.msg[0], l, &rr) < 0 || l == 0);
	uint8_t m[512];
	memcpy(m, f.msg[0], f.len[0]);
	m[f.len[0]] = 0; /* an extra octet after the TSIG RR */
	assert_int_equal(gk_xfr_tsig_find(m, f.len[0] + 1, &rr), GK_ESYNTAX);
	free(f.buf);
	uint8_t nots[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'c', 'n', 0, 0, 6, 0, 1};
	assert_int_equal(gk_xfr_tsig_find(nots, sizeof nots, &rr), 0);
	uint8_t loop[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'c', 'n', 0, 0, 6, 0, 1};
	assert_int_equal(gk_xfr_tsig_find(loop, sizeof loop, &rr), GK_ESYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_init),       cmocka_unit_test(test_kdig_requests),
	    cmocka_unit_test(test_nsd_axfr),       cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_find_malformed), cmocka_unit_test(test_reset),
	};
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		fail_msg("CRYPTO_set_mem_functions: OpenSSL allocated before main");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
