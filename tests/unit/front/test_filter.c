/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_filter.c -- the other names a backend's answer carries
 * (front/filter.h), with the Public Suffix List of the machine (libpsl).
 *
 * Answers built by hand for www.example.cn (registrable example.cn): the registrable domains
 * listed (the question's own left aside, a public suffix flagged, too many to keep: walk),
 * the rewrite without a refused domain (the chain cut before it, NXDOMAIN made NOERROR, no
 * authority or additional then; glue of a refused owner left out otherwise; a kept record
 * whose name pointed into a left-out one written whole), malformed answers, and the packet
 * cache keeping the list with its entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/dname.h"
#include "common/psl.h"
#include "front/cache.h"
#include "front/filter.h"
#include "gk/errors.h"

static gk_psl_t *psl;
static const uint8_t qn[] = "\3www\7example\2cn";

struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put16(struct msg *m, uint16_t v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

/* Header (rcode, counts) and the question www.example.cn A. */
static void start(struct msg *m, uint8_t rcode, uint16_t an, uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, 0xabcd);
	m->b[m->n++] = 0x84;
	m->b[m->n++] = rcode;
	put16(m, 1);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
	memcpy(m->b + m->n, qn, sizeof(qn));
	m->n += sizeof(qn);
	put16(m, 1);
	put16(m, 1);
}

/* A record: owner (wire bytes, may end in a pointer), type, rdata. */
static void rr(struct msg *m, const void *owner, size_t olen, uint16_t type, const void *rd,
               size_t rdl)
{
	memcpy(m->b + m->n, owner, olen);
	m->n += olen;
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, (uint16_t)rdl);
	memcpy(m->b + m->n, rd, rdl);
	m->n += rdl;
}

static const uint8_t a4[] = {192, 0, 2, 1};
static const uint8_t q_ptr[] = {0xc0, 12}; /* the question name */

static bool refuse_unfiled(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	(void)ctx, (void)hash;
	static const uint8_t unfiled[] = "\7unfiled\2cn";
	return reg && rlen == sizeof(unfiled) && memcmp(reg, unfiled, rlen) == 0;
}

static gk_ffilter_q_t question(void)
{
	return (gk_ffilter_q_t){.qname = qn, .qlen = sizeof(qn), .reg_off = 4, .psl = psl};
}

/* www.example.cn CNAME www.unfiled.cn; www.unfiled.cn A; unfiled.cn NS (authority) with
 * ns1.unfiled.cn A (additional), rcode given. */
static void chain_into_unfiled(struct msg *m, uint8_t rcode)
{
	static const uint8_t target[] = "\3www\7unfiled\2cn";
	start(m, rcode, 2, 1, 1);
	rr(m, q_ptr, 2, 5, target, sizeof(target));
	size_t tpos = m->n - sizeof(target); /* the target's name in the CNAME's rdata */
	uint8_t tp[2] = {(uint8_t)(0xc0 | tpos >> 8), (uint8_t)tpos};
	rr(m, tp, 2, 1, a4, 4);
	uint8_t zp[2] = {(uint8_t)(0xc0 | (tpos + 4) >> 8), (uint8_t)(tpos + 4)}; /* unfiled.cn */
	static const uint8_t ns[] = {3, 'n', 's', '1', 0xc0, 0}; /* patched below */
	uint8_t nsd[sizeof(ns)];
	memcpy(nsd, ns, sizeof(ns));
	nsd[5] = (uint8_t)(tpos + 4);
	rr(m, zp, 2, 2, nsd, sizeof(nsd));
	size_t npos = m->n - sizeof(nsd);
	uint8_t np[2] = {(uint8_t)(0xc0 | npos >> 8), (uint8_t)npos};
	rr(m, np, 2, 1, a4, 4);
}

static void test_regs(void **state)
{
	(void)state;
	struct msg m;
	gk_ffilter_q_t q = question();
	gk_ffilter_regs_t r;
	chain_into_unfiled(&m, 0);
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	assert_int_equal(r.n, 1);
	assert_false(r.none);
	assert_false(r.walk);
	assert_int_equal(r.used, 12);
	assert_memory_equal(r.names, "\7unfiled\2cn", 12);
	assert_true(gk_front_filter_refused(&r, refuse_unfiled, NULL));

	/* the question's own domain: the question, its zone, glue under it: nothing listed */
	static const uint8_t ns1[] = "\3ns1\7example\2cn";
	start(&m, 0, 1, 1, 1);
	rr(&m, q_ptr, 2, 1, a4, 4);
	static const uint8_t apex[] = {0xc0, 16};
	rr(&m, apex, 2, 2, ns1, sizeof(ns1));
	rr(&m, ns1, sizeof(ns1), 1, a4, 4);
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	assert_int_equal(r.n, 0);
	assert_false(r.none || r.walk);
	assert_false(gk_front_filter_refused(&r, refuse_unfiled, NULL));

	/* a public suffix as an owner (com.cn's SOA): flagged */
	static const uint8_t comcn[] = "\3com\2cn";
	start(&m, 3, 0, 1, 0);
	uint8_t soa[22] = {0};
	rr(&m, comcn, sizeof(comcn), 6, soa, sizeof(soa));
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	assert_true(r.none);
	assert_int_equal(r.n, 0);

	/* more domains than an entry keeps: walk */
	start(&m, 0, 0, 0, 8);
	for (int i = 0; i < 8; i++) {
		uint8_t o[] = "\3www\20domain-number-0X\2cn";
		o[20] = (uint8_t)('0' + i);
		rr(&m, o, sizeof(o), 1, a4, 4);
	}
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	assert_true(r.walk);
	assert_true(gk_front_filter_refused(&r, refuse_unfiled, NULL));

	/* malformed: a record past the end, a pointer forward */
	chain_into_unfiled(&m, 0);
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n - 1, &r), GK_ESYNTAX);
	assert_true(r.walk);
	uint8_t out[4096];
	assert_int_equal(
	    gk_front_filter_apply(&q, m.b, m.n - 1, refuse_unfiled, NULL, out, sizeof(out), NULL),
	    0);
	size_t o = 12 + sizeof(qn) + 4; /* the CNAME's owner: a pointer to itself */
	m.b[o] = 0xc0;
	m.b[o + 1] = (uint8_t)o;
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), GK_ESYNTAX);
	/* no PSL: nothing listed */
	q.psl = NULL;
	chain_into_unfiled(&m, 0);
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	assert_false(r.n || r.none || r.walk);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_apply_chain(void **state)
{
	(void)state;
	struct msg m;
	uint8_t out[4096];
	gk_ffilter_q_t q = question();
	unsigned gone = 0;
	chain_into_unfiled(&m, 3); /* NXDOMAIN: about the refused name */
	size_t n =
	    gk_front_filter_apply(&q, m.b, m.n, refuse_unfiled, NULL, out, sizeof(out), &gone);
	assert_true(n > 0);
	assert_int_equal(gone, 3);
	assert_int_equal(get16(out + 6), 1); /* the CNAME alone */
	assert_int_equal(get16(out + 8), 0);
	assert_int_equal(get16(out + 10), 0);
	assert_int_equal(out[3] & 0x0f, 0); /* NOERROR */
	size_t r = 12 + sizeof(qn) + 4;
	assert_memory_equal(out + r, qn, sizeof(qn)); /* owner written whole */
	assert_int_equal(get16(out + r + sizeof(qn)), 5);
	assert_memory_equal(out + r + sizeof(qn) + 10, "\3www\7unfiled\2cn", 16);
	assert_int_equal(n, r + sizeof(qn) + 10 + 16);
	/* nothing refused: nothing left out */
	n = gk_front_filter_apply(&q, out, n, refuse_unfiled, NULL, m.b, sizeof(m.b), &gone);
	assert_int_equal(gone, 0);
	assert_int_equal(get16(m.b + 6), 1);
}

/* Glue of a refused owner in an answer that is not cut: only it goes; a kept record whose
 * rdata pointed into the left-out one is written whole. */
static void test_apply_additional(void **state)
{
	(void)state;
	struct msg m;
	uint8_t out[4096];
	gk_ffilter_q_t q = question();
	static const uint8_t mx_unf[] = "\2mx\7unfiled\2cn";
	start(&m, 0, 1, 0, 2);
	rr(&m, q_ptr, 2, 1, a4, 4);
	rr(&m, mx_unf, sizeof(mx_unf), 1, a4, 4); /* additional: refused owner */
	size_t p = m.n - 10 - 4 - sizeof(mx_unf);
	uint8_t mxrd[4] = {0, 10, (uint8_t)(0xc0 | p >> 8), (uint8_t)p}; /* MX 10 -> its name */
	static const uint8_t ns1[] = "\3ns1\7example\2cn";
	rr(&m, ns1, sizeof(ns1), 15, mxrd, sizeof(mxrd));
	unsigned gone = 0;
	size_t n =
	    gk_front_filter_apply(&q, m.b, m.n, refuse_unfiled, NULL, out, sizeof(out), &gone);
	assert_true(n > 0);
	assert_int_equal(gone, 1);
	assert_int_equal(get16(out + 6), 1);
	assert_int_equal(get16(out + 10), 1);
	size_t r = n - (sizeof(ns1) + 10 + 2 + sizeof(mx_unf));
	assert_memory_equal(out + r, ns1, sizeof(ns1));
	assert_int_equal(get16(out + r + sizeof(ns1)), 15);
	assert_int_equal(get16(out + r + sizeof(ns1) + 8), 2 + sizeof(mx_unf));
	assert_memory_equal(out + r + sizeof(ns1) + 12, mx_unf, sizeof(mx_unf));
	/* too small an output: 0, never a part */
	assert_int_equal(
	    gk_front_filter_apply(&q, m.b, m.n, refuse_unfiled, NULL, out, n - 1, &gone), 0);
}

/* DNAME: the DNAME (owner an ancestor of the question) and the synthesized CNAME stay, the
 * refused target's data goes. */
static void test_apply_dname(void **state)
{
	(void)state;
	struct msg m;
	uint8_t out[4096];
	gk_ffilter_q_t q = question();
	static const uint8_t unf[] = "\7unfiled\2cn", tgt[] = "\3www\7unfiled\2cn";
	static const uint8_t apex[] = {0xc0, 16};
	start(&m, 0, 3, 0, 0);
	rr(&m, apex, 2, 39, unf, sizeof(unf));
	rr(&m, q_ptr, 2, 5, tgt, sizeof(tgt));
	rr(&m, tgt, sizeof(tgt), 1, a4, 4);
	unsigned gone = 0;
	size_t n =
	    gk_front_filter_apply(&q, m.b, m.n, refuse_unfiled, NULL, out, sizeof(out), &gone);
	assert_true(n > 0);
	assert_int_equal(gone, 1);
	assert_int_equal(get16(out + 6), 2);
	assert_int_equal(get16(out + 12 + sizeof(qn) + 4 + 12), 39); /* example.cn DNAME */
}

/* The cache keeps an entry's list and gives it back with a hit. */
static void test_cache_keeps_regs(void **state)
{
	(void)state;
	gk_fcache_t *c;
	assert_int_equal(gk_front_cache_new(64 * gk_front_cache_entry_bytes(), 3600, &c), 0);
	struct msg m;
	gk_ffilter_q_t q = question();
	gk_ffilter_regs_t r, got;
	chain_into_unfiled(&m, 0);
	assert_int_equal(gk_front_filter_regs(&q, m.b, m.n, &r), 0);
	gk_fcache_key_t k = {.name = qn, .nlen = sizeof(qn), .type = 1, .cls = 1};
	assert_int_equal(gk_front_cache_put_regs(c, &k, m.b, m.n, 1000, &r), 0);
	uint8_t out[GK_FCACHE_SLOT];
	memset(&got, 0xff, sizeof(got));
	assert_int_equal(gk_front_cache_get_regs(c, &k, 1500, out, sizeof(out), &got), m.n);
	assert_int_equal(got.n, 1);
	assert_false(got.none || got.walk);
	assert_memory_equal(got.names, "\7unfiled\2cn", 12);
	/* put without a list: a hit lists nothing */
	assert_int_equal(gk_front_cache_put(c, &k, m.b, m.n, 1000), 0);
	assert_int_equal(gk_front_cache_get_regs(c, &k, 1500, out, sizeof(out), &got), m.n);
	assert_false(got.n || got.none || got.walk);
	gk_front_cache_free(c);
}

static int setup(void **state)
{
	(void)state;
	return gk_psl_open(NULL, &psl);
}

static int teardown(void **state)
{
	(void)state;
	gk_psl_close(psl);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regs),
	    cmocka_unit_test(test_apply_chain),
	    cmocka_unit_test(test_apply_additional),
	    cmocka_unit_test(test_apply_dname),
	    cmocka_unit_test(test_cache_keeps_regs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
