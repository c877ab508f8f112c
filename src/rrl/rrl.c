/* SPDX-License-Identifier: MIT */
/* src/rrl/rrl.c -- the rate limiter's table: 4-way sets of credit counters, one per key.
 *
 * A key (class, client prefix, source name) hashes with the table's random 64-bit seed to
 * a set of four entries, one 64-byte-aligned block of 96 bytes. A key not present takes an
 * empty entry or the one of its set least recently used, and starts with a full second of
 * credit: a collision or an eviction can only let a flood through a little longer, never
 * limit a client that did not go over (Knot's slow start plays the same part). The hash is
 * keyed so that a client cannot pick names that all land in one set and push out the
 * entries of the keys it floods.
 *
 * Credit (as BIND's RRL, which NSD and Knot follow): each second a key earns `rate`
 * responses, banking at most `rate`; each response spends one; below zero the response is
 * limited, down to a debt of rate x window, so a key that went over is answered again once
 * its rate over the window is back under the limit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "rrl/rrl.h"

#define WAYS 4u

struct entry {
	uint64_t key;     /* 0: empty */
	int64_t credit;   /* responses left in this second (negative: limited) */
	uint32_t stamp;   /* second of the last refill */
	uint32_t limited; /* limited responses so far (slip counter) */
};

struct gk_rrl {
	uint64_t seed;
	uint64_t mask;   /* sets - 1 */
	struct entry *e; /* sets x WAYS */
};

void gk_rrl_config_default(gk_rrl_config_t *c)
{
	memset(c, 0, sizeof(*c));
	c->rate = GK_RRL_RATE_DEFAULT;
	c->slip = GK_RRL_SLIP_DEFAULT;
	c->window = GK_RRL_WINDOW_DEFAULT;
	c->v4_prefix = GK_RRL_V4_DEFAULT;
	c->v6_prefix = GK_RRL_V6_DEFAULT;
	c->table_size = GK_RRL_TABLE_DEFAULT;
}

int gk_rrl_new(unsigned entries, gk_rrl_t **out)
{
	uint64_t n = GK_RRL_TABLE_MIN;
	while (n < entries && n < GK_RRL_TABLE_MAX)
		n <<= 1;
	gk_rrl_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return GK_ENOMEM;
	/* large and zeroed: calloc maps fresh pages, resident only once a key touches them */
	t->e = calloc(n, sizeof(struct entry));
	if (t->e == NULL) {
		free(t);
		return GK_ENOMEM;
	}
	t->mask = n / WAYS - 1;
	if (getrandom(&t->seed, sizeof(t->seed), 0) != (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	*out = t;
	return 0;
}

void gk_rrl_free(gk_rrl_t *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

/* The prefix of sa (family, masked address) as up to 16 octets; returns its length. An
 * IPv4-mapped IPv6 address counts as IPv4. */
static size_t prefix_of(const gk_rrl_config_t *c, const struct sockaddr *sa, uint8_t out[17])
{
	const uint8_t *a;
	unsigned bits, n;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a = s6->sin6_addr.s6_addr + 12;
			bits = c->v4_prefix;
			n = 4;
			out[0] = 4;
		} else {
			a = s6->sin6_addr.s6_addr;
			bits = c->v6_prefix;
			n = 16;
			out[0] = 6;
		}
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		bits = c->v4_prefix;
		n = 4;
		out[0] = 4;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
		out[1 + i] = (uint8_t)(a[i] & (uint8_t)(0xff00u >> keep));
	}
	return 1 + n;
}

bool gk_rrl_exempt(const gk_rrl_config_t *cfg, const struct sockaddr *sa)
{
	return gk_prefix_match(cfg->exempt, cfg->n_exempt, sa);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	return h;
}

/* Keyed hash of (class, prefix, lowercased name); never 0. */
static uint64_t key_of(const gk_rrl_t *t, const gk_rrl_config_t *c, const struct sockaddr *sa,
                       gk_rrl_class_t cls, const uint8_t *name, size_t len)
{
	uint8_t pfx[17];
	size_t pl = prefix_of(c, sa, pfx);
	uint64_t h = mix(t->seed, (uint64_t)cls << 56 | (uint64_t)pl);
	for (size_t i = 0; i < pl; i += 8) {
		uint64_t v = 0;
		memcpy(&v, pfx + i, pl - i < 8 ? pl - i : 8);
		h = mix(h, v);
	}
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = 0;
		size_t k = len - i < 8 ? len - i : 8;
		for (size_t j = 0; j < k; j++) {
			uint8_t ch = name[i + j];
			if (ch >= 'A' && ch <= 'Z') /* label length octets are < 64: never folded */
				ch = (uint8_t)(ch + 32);
			v |= (uint64_t)ch << (8 * j);
		}
		h = mix(h, v);
	}
	h = mix(h, len);
	h ^= h >> 29;
	return h ? h : 1;
}

gk_rrl_verdict_t gk_rrl_check(gk_rrl_t *t, const gk_rrl_config_t *cfg, const struct sockaddr *sa,
                              gk_rrl_class_t cls, const uint8_t *name, size_t name_len,
                              uint32_t now_s)
{
	static const uint8_t root = 0;
	if (name == NULL || name_len == 0) {
		name = &root;
		name_len = 1;
	}
	uint64_t key = key_of(t, cfg, sa, cls, name, name_len);
	struct entry *set = t->e + (size_t)((key >> 7) & t->mask) * WAYS, *e = NULL, *old = set;
	int64_t rate = cfg->rate;
	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			e = &set[i];
			break;
		}
		if (set[i].key == 0 || (old->key != 0 && (int32_t)(set[i].stamp - old->stamp) < 0))
			old = &set[i];
	}
	if (e == NULL) {
		e = old;
		e->key = key;
		e->credit = rate;
		e->stamp = now_s;
		e->limited = 0;
	} else if (e->stamp != now_s) {
		uint32_t dt = now_s - e->stamp;
		if (dt > cfg->window + 1u)
			e->credit = rate;
		else
			e->credit = e->credit + rate * (int64_t)dt > rate
			                ? rate
			                : e->credit + rate * (int64_t)dt;
		e->stamp = now_s;
	}
	int64_t floor = -rate * (int64_t)cfg->window;
	if (e->credit > floor)
		e->credit--;
	if (e->credit >= 0)
		return GK_RRL_PASS;
	e->limited++;
	if (cfg->slip != 0 && e->limited % cfg->slip == 0)
		return GK_RRL_SLIP;
	return GK_RRL_DROP;
}

size_t gk_rrl_truncate(uint8_t *msg, size_t len, size_t qend)
{
	if (qend < 12 || qend > len)
		qend = 12;
	msg[2] |= 0x02; /* TC */
	memset(msg + 6, 0, 6);
	msg[4] = 0;
	msg[5] = qend > 12 ? 1 : 0;
	return qend;
}
