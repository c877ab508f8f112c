/* SPDX-License-Identifier: MIT */
/* src/front/relay.c -- backend query and answer checks (relay.h). */
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "common/dname.h"
#include "common/dns.h"
#include "front/relay.h"
#include "gk/errors.h"
#include "pkt/ede.h"

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Our OPT record at o (GK_RELAY_OPT_LEN octets): root owner, udp_max, DO as asked, RDLENGTH
 * rdlen (its options follow it). */
static void put_opt(uint8_t *o, uint16_t udp_max, bool do_bit, uint16_t rdlen)
{
	o[0] = 0; /* root owner */
	wr16(o + 1, 41);
	wr16(o + 3, udp_max);
	o[5] = 0;
	o[6] = 0;
	o[7] = do_bit ? 0x80 : 0;
	o[8] = 0;
	wr16(o + 9, rdlen);
}

size_t gk_front_relay_query(const uint8_t *q, size_t qend, uint16_t id, bool do_bit,
                            uint16_t udp_max, uint8_t *out)
{
	memcpy(out, q, qend);
	wr16(out, id);
	out[2] &= 0x01; /* QR 0, opcode QUERY, AA 0, TC 0; RD as the client's */
	out[3] &= 0x10; /* CD kept; Z, AD and rcode cleared */
	wr16(out + 4, 1);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, 1);
	put_opt(out + qend, udp_max, do_bit, 0);
	return qend + GK_RELAY_OPT_LEN;
}

bool gk_front_relay_match(const gk_relay_q_t *r, const uint8_t *sent, const uint8_t *a, size_t len)
{
	if (len < r->qend || r->qend < 12)
		return false;
	if ((a[2] & 0x80) == 0 || (a[2] & 0x78) != 0) /* a response to a QUERY */
		return false;
	if (((uint16_t)(a[0] << 8 | a[1])) != r->id || a[4] != 0 || a[5] != 1)
		return false;
	return memcmp(a + 12, sent + 12, r->qend - 12u) == 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The first OPT record of m's additional section (the records start at qend): 1 with *rd its
 * RDATA's offset (its RDLENGTH at *rd - 2) and *end the octet after it; 0 without one, *end
 * then the end of the last record; -1 when a record runs past len. */
static int opt_find(const uint8_t *m, size_t len, size_t qend, size_t *rd, size_t *end)
{
	unsigned ar = rd16(m + 10), n = (unsigned)rd16(m + 6) + rd16(m + 8) + ar;
	size_t off = qend;
	for (unsigned i = 0; i < n; i++) {
		if ((off = gk_dname_skip(m, len, off)) == 0 || off + 10 > len)
			return -1;
		size_t e = off + 10u + rd16(m + off + 8);
		if (e > len)
			return -1;
		if (rd16(m + off) == 41 && i >= n - ar) {
			*rd = off + 10;
			*end = e;
			return 1;
		}
		off = e;
	}
	*end = off;
	return 0;
}

/* Answer a[0..len) cut to limit by leaving out additional records (RFC 2181 9: not a
 * truncation): the longest run of them from the first that fits with the OPT record, when
 * the OPT is the last record (or there is none), so that no kept record can point into a left
 * out one. Not for a referral, whose glue may be needed (RFC 9471): there the caller
 * truncates. Returns the new length, or 0 when that does not make it fit. */
static size_t trim_additional(uint8_t *a, size_t len, size_t qend, size_t limit)
{
	unsigned an = rd16(a + 6), ns = rd16(a + 8), ar = rd16(a + 10);
	if (ar == 0 || (an == 0 && ns > 0 && !(a[2] & 0x04)))
		return 0; /* nothing to leave out, or a referral */
	size_t off = qend;
	for (unsigned i = 0; i < an + ns; i++) {
		if ((off = gk_dname_skip(a, len, off)) == 0 || off + 10 > len)
			return 0;
		off += 10u + rd16(a + off + 8);
		if (off > len)
			return 0;
	}
	size_t adds = off, opt = 0, opt_len = 0;
	for (unsigned i = 0; i < ar; i++) {
		size_t start = off;
		if ((off = gk_dname_skip(a, len, off)) == 0 || off + 10 > len)
			return 0;
		bool is_opt = rd16(a + off) == 41;
		off += 10u + rd16(a + off + 8);
		if (off > len)
			return 0;
		if (is_opt && i != ar - 1u)
			return 0; /* an OPT before other records: not moved (see above) */
		if (is_opt) {
			opt = start;
			opt_len = off - start;
		}
	}
	if (off != len || adds + opt_len > limit)
		return 0; /* octets behind the last record: not an answer to trim */
	/* the records from the first on, in place, while they fit beside the OPT */
	size_t keep = adds;
	unsigned kept = 0, others = opt_len ? ar - 1u : ar;
	off = adds;
	for (unsigned i = 0; i < others; i++) {
		size_t e = gk_dname_skip(a, len, off); /* walked above */
		e += 10u + rd16(a + e + 8);
		if (e + opt_len > limit)
			break;
		keep = off = e;
		kept++;
	}
	if (opt_len) {
		memmove(a + keep, a + opt, opt_len);
		kept++;
	}
	wr16(a + 10, (uint16_t)kept);
	return keep + opt_len;
}

size_t gk_front_relay_answer(const gk_relay_q_t *r, uint8_t *a, size_t len)
{
	wr16(a, r->client_id);
	if (len <= r->client_limit)
		return len;
	size_t t =
	    r->qend >= 12 && r->qend <= len ? trim_additional(a, len, r->qend, r->client_limit) : 0;
	if (t != 0)
		return t;
	a[2] |= 0x02; /* TC */
	size_t out = r->qend, rd, end;
	uint16_t ar = 0;
	/* the OPT record stays (RFC 6891 7), and with it the client's ECS echo (RFC 7871
	 * 7.2.2): moved up behind the question, its owner written as the root, when it fits */
	if (r->qend >= 12 && r->qend <= len && opt_find(a, len, r->qend, &rd, &end) == 1 &&
	    r->qend + 1u + (end - (rd - 10u)) <= r->client_limit) {
		size_t n = end - (rd - 10u); /* TYPE to the end of its RDATA */
		memmove(a + out + 1, a + rd - 10u, n);
		a[out] = 0;
		out += 1u + n;
		ar = 1;
	}
	wr16(a + 6, 0);
	wr16(a + 8, 0);
	wr16(a + 10, ar);
	return out;
}

static size_t fix_opt(uint8_t *m, size_t len, size_t qend, bool edns, uint16_t udp_max,
                      bool *has_opt)
{
	if (len < 12 || qend < 12 || qend > len)
		return 0;
	unsigned ar = rd16(m + 10), n = (unsigned)rd16(m + 6) + rd16(m + 8) + ar;
	size_t off = qend;
	for (unsigned i = 0; i < n; i++) {
		size_t start = off;
		if ((off = gk_dname_skip(m, len, off)) == 0 || off + 10 > len)
			return 0;
		uint16_t type = rd16(m + off);
		size_t end = off + 10u + rd16(m + off + 8);
		if (end > len)
			return 0;
		if (type == 41 && i >= n - ar) {
			if (edns) {
				*has_opt = true;
				wr16(m + off + 2, udp_max);
				/* the backend's Client Subnet answers ours, not the client's
				 * (RFC 7871 7.2.2): it goes */
				size_t rd = off + 10, o = rd;
				while (o + 4 <= end) {
					size_t ol = 4u + rd16(m + o + 2);
					if (o + ol > end)
						return 0;
					if (rd16(m + o) != 8) {
						o += ol;
						continue;
					}
					memmove(m + o, m + o + ol, len - (o + ol));
					len -= ol;
					end -= ol;
					wr16(m + off + 8, (uint16_t)(rd16(m + off + 8) - ol));
				}
			} else {
				/* removed: the records behind it move up */
				memmove(m + start, m + end, len - end);
				len -= end - start;
				wr16(m + 10, (uint16_t)(rd16(m + 10) - 1));
				n--;
				ar--;
				i--;
				off = start;
				continue;
			}
		}
		off = end;
	}
	return len;
}

size_t gk_front_relay_fix_opt(uint8_t *m, size_t len, size_t qend, bool edns, uint16_t udp_max,
                              bool *has_opt)
{
	*has_opt = false;
	size_t r = fix_opt(m, len, qend, edns, udp_max, has_opt);
	if (r == 0)
		*has_opt = false; /* an answer that cannot be walked keeps nothing */
	return r;
}

/* The last octet of an address cut to bits: the bits beyond the prefix. */
static uint8_t tail_mask(unsigned bits)
{
	return bits % 8 ? (uint8_t)(0xff << (8 - bits % 8)) : 0xff;
}

size_t gk_front_relay_put_ecs(uint8_t *q, size_t len, const gk_relay_ecs_t *e, unsigned v4,
                              unsigned v6, uint8_t *key, size_t *key_len)
{
	*key_len = 0;
	if (len < 12 + GK_RELAY_OPT_LEN || (e->family != 1 && e->family != 2))
		return len;
	unsigned max = e->family == 1 ? 32 : 128, cut = e->family == 1 ? v4 : v6;
	unsigned bits = e->source;
	if (bits > max)
		bits = max;
	if (bits > cut)
		bits = cut;
	size_t n = (bits + 7) / 8;
	if (n > e->alen) /* cannot be: e->alen covers e->source */
		return len;
	uint8_t *o = q + len;
	wr16(o, 8); /* OPTION-CODE: ECS */
	wr16(o + 2, (uint16_t)(4 + n));
	wr16(o + 4, e->family);
	o[6] = (uint8_t)bits;
	o[7] = 0; /* SCOPE: 0 in queries */
	memcpy(o + 8, e->addr, n);
	if (n)
		o[8 + n - 1] &= tail_mask(bits); /* the bits beyond the prefix: 0 */
	/* our OPT is the last record: its RDLENGTH grows */
	uint8_t *rdlen = q + len - 2;
	wr16(rdlen, (uint16_t)(rd16(rdlen) + 8 + n));
	key[0] = e->family;
	key[1] = (uint8_t)bits;
	memcpy(key + 2, o + 8, n);
	*key_len = 2 + n;
	return len + 8 + n;
}

size_t gk_front_relay_add_ecs(uint8_t *q, size_t len, const struct sockaddr *client, unsigned v4,
                              unsigned v6, uint8_t *key, size_t *key_len)
{
	*key_len = 0;
	gk_relay_ecs_t e;
	if (client == NULL)
		return len;
	if (client->sa_family == AF_INET) {
		e = (gk_relay_ecs_t){.family = 1, .source = 32, .alen = 4, .addr = {0}};
		memcpy(e.addr, &((const struct sockaddr_in *)(const void *)client)->sin_addr, 4);
	} else if (client->sa_family == AF_INET6) {
		e = (gk_relay_ecs_t){.family = 2, .source = 128, .alen = 16, .addr = {0}};
		memcpy(e.addr,
		       ((const struct sockaddr_in6 *)(const void *)client)->sin6_addr.s6_addr, 16);
	} else {
		return len;
	}
	return gk_front_relay_put_ecs(q, len, &e, v4, v6, key, key_len);
}

/* One ECS option's data d[0..ol) checked into *e (RFC 7871 6, 7.1.1). */
static int ecs_read(const uint8_t *d, size_t ol, gk_relay_ecs_t *e)
{
	if (ol < 4)
		return GK_ESYNTAX;
	uint16_t family = rd16(d);
	unsigned source = d[2], max = family == 1 ? 32 : family == 2 ? 128 : 0;
	if (max == 0 || source > max || d[3] != 0) /* unknown family, prefix, SCOPE in a query */
		return GK_ESYNTAX;
	size_t n = (source + 7) / 8;
	if (ol - 4 != n) /* too few or too many ADDRESS octets */
		return GK_ESYNTAX;
	if (n && (d[4 + n - 1] & (uint8_t)~tail_mask(source)) != 0)
		return GK_ESYNTAX; /* bits set beyond the prefix */
	e->family = (uint8_t)family;
	e->source = (uint8_t)source;
	e->alen = (uint8_t)n;
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, d + 4, n);
	return 1;
}

int gk_front_relay_client_ecs(const uint8_t *q, size_t len, size_t qend, gk_relay_ecs_t *e)
{
	if (len < 12 || qend < 12 || qend > len)
		return GK_ESYNTAX;
	/* one OPT: a query with two is FORMERR before it gets here (pkt/parse.c) */
	size_t rd, end;
	int found = opt_find(q, len, qend, &rd, &end);
	if (found <= 0)
		return found < 0 ? GK_ESYNTAX : 0;
	found = 0;
	for (size_t o = rd; o < end;) {
		if (o + 4 > end)
			return GK_ESYNTAX;
		uint16_t code = rd16(q + o), ol = rd16(q + o + 2);
		if (o + 4u + ol > end)
			return GK_ESYNTAX;
		if (code == 8) {
			if (found) /* two ECS options */
				return GK_ESYNTAX;
			if ((found = ecs_read(q + o + 4, ol, e)) < 0)
				return found;
		}
		o += 4u + ol;
	}
	return found;
}

size_t gk_front_relay_echo_ecs(uint8_t *a, size_t len, size_t cap, size_t qend,
                               const gk_relay_ecs_t *e, uint8_t scope, uint16_t udp_max,
                               bool do_bit)
{
	if (len < 12 || qend < 12 || qend > len || (e != NULL && e->alen > 16))
		return 0;
	if (cap > 65535)
		cap = 65535;
	size_t ol = e != NULL ? 8u + e->alen : 0;
	uint8_t opt[8 + 16] = {0};
	if (e != NULL) {
		wr16(opt, 8);
		wr16(opt + 2, (uint16_t)(4 + e->alen));
		wr16(opt + 4, e->family);
		opt[6] = e->source;
		opt[7] = scope;
		memcpy(opt + 8, e->addr, e->alen);
	}
	unsigned ar = rd16(a + 10);
	size_t rd, end;
	int found = opt_find(a, len, qend, &rd, &end);
	if (found < 0)
		return 0;
	if (found) {
		if (ol == 0)
			return len;
		if (len + ol > cap || rd16(a + rd - 2) + ol > 65535)
			return 0;
		memmove(a + end + ol, a + end, len - end);
		memcpy(a + end, opt, ol);
		wr16(a + rd - 2, (uint16_t)(rd16(a + rd - 2) + ol));
		return len + ol;
	}
	/* no OPT: ours, holding the option, as the last record (past the records: anything
	 * trailing them goes) */
	len = end;
	if (len + GK_RELAY_OPT_LEN + ol > cap || ar == 0xffff)
		return 0;
	put_opt(a + len, udp_max, do_bit, (uint16_t)ol);
	memcpy(a + len + GK_RELAY_OPT_LEN, opt, ol);
	wr16(a + 10, (uint16_t)(ar + 1));
	return len + GK_RELAY_OPT_LEN + ol;
}

int gk_front_relay_ecs_scope(const uint8_t *a, size_t len, size_t qend)
{
	if (len < 12 || qend < 12 || qend > len)
		return -1;
	size_t rd, end;
	if (opt_find(a, len, qend, &rd, &end) <= 0)
		return -1;
	for (size_t o = rd; o + 4 <= end;) {
		uint16_t code = rd16(a + o), ol = rd16(a + o + 2);
		if (o + 4u + ol > end)
			return -1;
		if (code == 8 && ol >= 4)
			return a[o + 7];
		o += 4u + ol;
	}
	return -1;
}

/* The relay's own answers: rcode, EDE INFO-CODE (RFC 8914 4) and EXTRA-TEXT per cause. */
static const struct {
	uint8_t rcode;
	uint16_t code;
	const char *text;
} errs[GK_RELAY_ERR_N] = {
    [GK_RELAY_ERR_NO_BACKEND] = {GK_RCODE_SERVFAIL, 22, "no backend available"},
    [GK_RELAY_ERR_TIMEOUT] = {GK_RCODE_SERVFAIL, 22, "backend timeout"},
    [GK_RELAY_ERR_UNREACHABLE] = {GK_RCODE_SERVFAIL, 23, "backend unreachable"},
    [GK_RELAY_ERR_TABLE_FULL] = {GK_RCODE_SERVFAIL, 0, "outstanding query table full"},
    [GK_RELAY_ERR_MALFORMED] = {GK_RCODE_SERVFAIL, 0, "malformed backend answer"},
    [GK_RELAY_ERR_ECS] = {GK_RCODE_FORMERR, 0, "invalid EDNS Client Subnet option"},
    [GK_RELAY_ERR_CONN] = {GK_RCODE_SERVFAIL, 23, "backend connection failed"},
};

uint8_t gk_front_relay_error_rcode(gk_relay_err_t why)
{
	return (unsigned)why < GK_RELAY_ERR_N ? errs[why].rcode : GK_RCODE_SERVFAIL;
}

size_t gk_front_relay_error(const uint8_t *q, size_t qend, uint16_t client_id, gk_relay_err_t why,
                            bool edns, bool do_bit, uint16_t udp_max, uint8_t *out)
{
	if ((unsigned)why >= GK_RELAY_ERR_N)
		why = GK_RELAY_ERR_NO_BACKEND;
	memcpy(out, q, qend);
	wr16(out, client_id);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79));   /* QR; opcode and RD as asked */
	out[3] = (uint8_t)(0x80 | errs[why].rcode); /* RA: we stand for recursion as well */
	wr16(out + 4, 1);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, edns ? 1 : 0);
	if (!edns)
		return qend;
	size_t tl = strlen(errs[why].text);
	size_t n =
	    gk_pkt_ede_put(out + qend + GK_RELAY_OPT_LEN, errs[why].code, errs[why].text, tl);
	put_opt(out + qend, udp_max, do_bit, (uint16_t)n);
	return qend + GK_RELAY_OPT_LEN + n;
}
