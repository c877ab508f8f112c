/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_backend.c -- backend answers into the front end's packet cache.
 *
 * Whatever a backend sends is checked against the outstanding query (front/relay.h), then
 * walked by the cache (front/cache.h): the TTL rules, the put and, on a hit, the TTL
 * decrement; then relayed (the client's ID; when too large for the client, TC and cut to
 * the question and at most its OPT), and its OPT made the client's (removed, or our buffer
 * size). The names it carries listed and, with every registrable domain but the question's
 * refused, left out (front/filter.h): the rewrite is a message the walk accepts, never larger
 * than it may be, with no more records than the answer had; with none refused no authority
 * or additional record is left out. The same bytes read as a client query:
 * its own ECS option checked, forwarded (cut) and echoed back. Invariants: nothing
 * is read or written out of bounds; a put that succeeds comes back on the next get of the same key
 * with the same length and header; an answer the walk rejects is never stored.
 */
#include <stdint.h>
#include <string.h>
#include "front/cache.h"
#include "front/filter.h"
#include "front/relay.h"
#include "common/psl.h"
#include "gk/errors.h"

static bool refuse_all(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	(void)ctx, (void)reg, (void)rlen, (void)hash;
	return true;
}

static bool refuse_none(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	(void)ctx, (void)reg, (void)rlen, (void)hash;
	return false;
}

/* The filter over data as an answer for www.example.cn (registrable example.cn). */
static void filter(const uint8_t *data, size_t size)
{
	static gk_psl_t *psl;
	if (psl == NULL && gk_psl_open(NULL, &psl) != 0)
		__builtin_trap();
	static const uint8_t qn[] = "\3www\7example\2cn";
	gk_ffilter_q_t q = {.qname = qn, .qlen = sizeof(qn), .reg_off = 4, .psl = psl};
	gk_ffilter_regs_t regs;
	int rc = gk_front_filter_regs(&q, data, size, &regs);
	if ((rc != 0) != regs.walk && rc != 0)
		__builtin_trap();
	if (regs.used > sizeof(regs.names))
		__builtin_trap();
	static uint8_t out[65536], again[65536];
	unsigned gone = 0;
	size_t m = gk_front_filter_apply(&q, data, size, refuse_all, NULL, out, sizeof(out), &gone);
	if (m > sizeof(out))
		__builtin_trap();
	if (m) {
		gk_ffilter_regs_t r2;
		/* the rewrite walks; filtered again, nothing more goes */
		if (gk_front_filter_regs(&q, out, m, &r2) != 0)
			__builtin_trap();
		unsigned gone2 = 0;
		size_t m2 = gk_front_filter_apply(&q, out, m, refuse_all, NULL, again,
		                                  sizeof(again), &gone2);
		if (m2 == 0 || gone2 != 0 || (out[6] << 8 | out[7]) > (data[6] << 8 | data[7]))
			__builtin_trap();
	}
	/* none refused: only answer records off the question's chain may go (a message whose
	 * question is not q's has none on it) */
	m = gk_front_filter_apply(&q, data, size, refuse_none, NULL, out, sizeof(out), &gone);
	if (m && memcmp(out + 8, data + 8, 4) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gk_fcache_t *cache; /* one per input: what a get returns is this input's put */
	if (gk_front_cache_new(16 * 1024, 86400, &cache) != 0)
		__builtin_trap();
	static const uint8_t name[] = "\3www\7example\2cn";
	gk_fcache_key_t k = {.name = name, .nlen = sizeof(name), .type = 1, .cls = 1};
	if (size > 0)
		k.type = data[0]; /* spread the keys a little */
	int64_t ttl = gk_front_cache_ttl(data, size, 86400);
	int rc = gk_front_cache_put(cache, &k, data, size, 1000);
	if ((ttl == GK_ESYNTAX) != (rc == GK_ESYNTAX))
		__builtin_trap();
	static uint8_t out[GK_FCACHE_SLOT];
	/* at once: a stored answer (TTL >= 1 s) is there, unchanged */
	size_t n = gk_front_cache_get(cache, &k, 1000, out, sizeof(out));
	if (rc == 0 && (n != size || memcmp(out, data, size) != 0))
		__builtin_trap();
	/* later: TTLs decremented in place, or expired */
	n = gk_front_cache_get(cache, &k, 3500, out, sizeof(out));
	if (n != 0 && (rc != 0 || n != size || memcmp(out, data, 12) != 0))
		__builtin_trap();
	gk_front_cache_free(cache);
	filter(data, size);
	/* the outstanding query: www.example.cn A, ID 0xabcd */
	static const uint8_t sent[] = {0xab, 0xcd, 1,   0,   0,   1, 0,   0,   0,   0,   0,
	                               0,    3,    'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p',
	                               'l',  'e',  2,   'c', 'n', 0, 0,   1,   0,   1};
	gk_relay_q_t r = {.id = 0xabcd, .client_id = 7, .qend = sizeof(sent), .client_limit = 512};
	if (gk_front_relay_match(&r, sent, data, size) && size <= sizeof(out)) {
		memcpy(out, data, size);
		size_t m = gk_front_relay_answer(&r, out, size);
		if (m > size || m > 512 || out[0] != 0 || out[1] != 7)
			__builtin_trap();
		/* cut: the question, then nothing or one OPT (root owner) ending the message;
		 * or additional records left out, the rest as it was (no TC) */
		bool trimmed = memcmp(out + 2, data + 2, 8) == 0 &&
		               (out[10] << 8 | out[11]) < (data[10] << 8 | data[11]);
		if (size > 512 && !trimmed) {
			unsigned ar = (unsigned)out[10] << 8 | out[11];
			if ((out[2] & 0x02) == 0 || out[6] || out[7] || out[8] || out[9] ||
			    ar > 1 || memcmp(out + 12, data + 12, sizeof(sent) - 12) != 0)
				__builtin_trap();
			const uint8_t *o = out + sizeof(sent);
			if (ar == 0
			        ? m != sizeof(sent)
			        : m < sizeof(sent) + GK_RELAY_OPT_LEN || o[0] != 0 || o[1] != 0 ||
			              o[2] != 41 ||
			              m != sizeof(sent) + GK_RELAY_OPT_LEN + (o[9] << 8 | o[10]))
				__builtin_trap();
		}
	}
	/* the ECS scope of whatever came: a prefix length or none, never a read past the end */
	int scope = gk_front_relay_ecs_scope(data, size, sizeof(sent));
	if (scope < -1 || scope > 255)
		__builtin_trap();
	/* the OPT made the client's: removed (no EDNS) or our size without ECS; never longer,
	 * the header and question untouched */
	if (size <= sizeof(out) && size >= sizeof(sent)) {
		for (int edns = 0; edns < 2; edns++) {
			memcpy(out, data, size);
			bool has;
			size_t m =
			    gk_front_relay_fix_opt(out, size, sizeof(sent), edns, 1232, &has);
			if (m > size ||
			    (m && memcmp(out + 12, data + 12, sizeof(sent) - 12) != 0) ||
			    (m && gk_front_relay_ecs_scope(out, m, sizeof(sent)) >= 0) ||
			    (!m && has) || (!edns && has))
				__builtin_trap();
			/* an EDNS client's answer without an OPT gets ours: the answer then has one
			 */
			if (m && edns && !has) {
				size_t ko = gk_front_relay_echo_ecs(
				    out, m, sizeof(out), sizeof(sent), NULL, 0, 1232, false);
				if (ko > m + GK_RELAY_OPT_LEN ||
				    (ko && (gk_front_relay_fix_opt(out, ko, sizeof(sent), true,
				                                   1232, &has) != ko ||
				            !has)))
					__builtin_trap();
			}
		}
	}
	/* as a client's query: a valid ECS option is within its family's bounds, and goes out
	 * cut to the pool's prefix and comes back in an answer as it came */
	gk_relay_ecs_t e;
	int ce = gk_front_relay_client_ecs(data, size, sizeof(sent), &e);
	if (ce != 0 && ce != 1 && ce != GK_ESYNTAX)
		__builtin_trap();
	if (ce == 1) {
		if ((e.family != 1 && e.family != 2) || e.source > (e.family == 1 ? 32 : 128) ||
		    e.alen != (e.source + 7) / 8)
			__builtin_trap();
		static uint8_t q[sizeof(sent) + GK_RELAY_OPT_LEN + GK_RELAY_ECS_MAX];
		uint8_t key[GK_FCACHE_ECS_MAX];
		size_t kl, ql = gk_front_relay_query(sent, sizeof(sent), 1, false, 1232, q);
		size_t m = gk_front_relay_put_ecs(q, ql, &e, 24, 56, key, &kl);
		if (m > sizeof(q) || kl > GK_FCACHE_ECS_MAX || key[1] > e.source)
			__builtin_trap();
		gk_relay_ecs_t back;
		if (gk_front_relay_client_ecs(q, m, sizeof(sent), &back) != 1)
			__builtin_trap(); /* what we send is valid */
		static uint8_t ans[sizeof(q) + GK_RELAY_ECS_MAX];
		memcpy(ans, q, m);
		bool has;
		size_t al = gk_front_relay_fix_opt(ans, m, sizeof(sent), true, 1232, &has);
		al = al ? gk_front_relay_echo_ecs(ans, al, sizeof(ans), sizeof(sent), &e, 7, 1232,
		                                  false)
		        : 0;
		if (al == 0 || gk_front_relay_ecs_scope(ans, al, sizeof(sent)) != 7)
			__builtin_trap();
	}
	return 0;
}
