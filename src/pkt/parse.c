/* SPDX-License-Identifier: MIT */
/* src/pkt/parse.c -- query header, question and OPT parse, every read bounds-checked. */
#include <string.h>
#include "pkt/parse.h"

#define TYPE_OPT 41

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Eight octets with 'A'-'Z' turned into 'a'-'z' and every other octet unchanged. Label
 * length octets (0-63) are never letters, so a whole wire name can go through this. */
static inline uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t h = x & (0x7f * ones);              /* each octet below 0x80: sums do not carry */
	uint64_t ge_a = h + (0x80 - 'A') * ones;     /* high bit: octet >= 'A' */
	uint64_t gt_z = h + (0x80 - 'Z' - 1) * ones; /* high bit: octet > 'Z' */
	uint64_t upper = ge_a & ~gt_z & ~x & (0x80 * ones);
	return x | (upper >> 2); /* 0x80 >> 2 == 0x20 */
}

/* dst[0..n) = lowercase of src[0..n); reads and writes only those octets. */
static void lower_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t n)
{
	uint64_t w;
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			dst[i] = gk_dname_lower[src[i]];
		return;
	}
	size_t i = 0;
	for (; i + 8 < n; i += 8) {
		memcpy(&w, src + i, 8);
		w = lower8(w);
		memcpy(dst + i, &w, 8);
	}
	memcpy(&w, src + n - 8, 8); /* the last eight, overlapping what is done */
	w = lower8(w);
	memcpy(dst + n - 8, &w, 8);
}

/* Skip a (possibly compressed) name starting at *pos. */
static bool skip_name(const uint8_t *q, size_t len, size_t *pos, bool *root)
{
	size_t p = *pos, total = 0;
	*root = p < len && q[p] == 0;
	while (p < len) {
		uint8_t l = q[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return false;
			*pos = p + 2;
			return true;
		}
		if (l & 0xc0)
			return false; /* extended label types are obsolete (RFC 6891 5) */
		total += l + 1u;
		if (total > GK_DNAME_MAX)
			return false;
		p += l + 1u;
		if (l == 0) {
			*pos = p;
			return true;
		}
	}
	return false;
}

/* The question name at q + 12: plain labels only, at most GK_DNAME_MAX octets, inside
 * q[0..len). Returns its wire length, or 0 when it is not one. loff (NULL: not wanted)
 * receives each label's offset, *labels their count, the root excluded, and *lens_or the
 * bitwise or of their lengths (gk_namehash_pstates). */
static inline size_t qname_walk(const uint8_t *q, size_t len, uint8_t *loff, unsigned *labels,
                                unsigned *lens_or)
{
	size_t n = 0;
	unsigned k = 0, o = 0;
	for (;;) {
		if (12 + n >= len)
			return 0;
		uint8_t l = q[12 + n];
		if ((l & 0xc0) || n + l + 1u > GK_DNAME_MAX || 12 + n + l + 1u > len)
			return 0;
		if (l == 0)
			break;
		if (loff)
			loff[k] = (uint8_t)n;
		k++;
		o |= l;
		n += l + 1u;
	}
	*labels = k;
	*lens_or = o;
	return n + 1u;
}

bool gk_pkt_parse_question_hash(const uint8_t *q, size_t len, uint64_t *hash, uint16_t *qtype)
{
	unsigned labels, lor;
	size_t n = len < 12 || (q[2] & 0x80) ? 0 : qname_walk(q, len, NULL, &labels, &lor);
	if (n == 0 || 12 + n + 2 > len)
		return false;
	uint8_t name[GK_DNAME_MAX + 1];
	lower_copy(name, q + 12, n);
	*hash = gk_namehash(name, n);
	*qtype = rd16(q + 12 + n);
	return true;
}

size_t gk_pkt_parse_question_name(const uint8_t *q, size_t len, uint8_t *name, uint8_t *loff,
                                  unsigned *labels)
{
	unsigned lor;
	size_t n = len < 12 || (q[2] & 0x80) ? 0 : qname_walk(q, len, loff, labels, &lor);
	if (n == 0 || 12 + n + 2 > len)
		return 0;
	lower_copy(name, q + 12, n);
	return n;
}

gk_parse_t gk_pkt_parse_query(const uint8_t *q, size_t len, gk_query_t *out)
{
	out->qend = 0;
	out->edns = false;
	out->do_bit = false; /* read by the answer (DO=1 templates), not only by OPT */
	out->qtype = 0;
	if (len < 12 || (q[2] & 0x80))
		return GK_PARSE_DROP;
	out->id = rd16(q);
	out->flags_hi = q[2];
	out->flags_lo = q[3];
	uint16_t qd = rd16(q + 4), an = rd16(q + 6), ns = rd16(q + 8), ar = rd16(q + 10);
	unsigned opcode = (q[2] >> 3) & 0x0f;
	if (qd != 1)
		return GK_PARSE_FORMERR;

	/* question name: the walk checks the labels and records their offsets, then the
	 * whole name is copied and lowercased eight octets at a time */
	size_t p = 12;
	unsigned labels;
	unsigned lor;
	size_t n = qname_walk(q, len, out->loff, &labels, &lor);
	if (n == 0)
		return GK_PARSE_FORMERR;
	lower_copy(out->qname, q + p, n);
	memset(out->qname + n, 0, GK_NAMEHASH_PAD);
	p += n;
	if (p + 4 > len)
		return GK_PARSE_FORMERR;
	out->qlen = (uint8_t)n;
	out->labels = (uint8_t)labels;
	out->lens_or = (uint8_t)lor;
	out->qtype = rd16(q + p);
	out->qclass = rd16(q + p + 2);
	p += 4;
	out->qend = p;
	if (opcode != 0)
		return GK_PARSE_NOTIMP;
	if (an || ns)
		return GK_PARSE_FORMERR;

	/* additional section: find the OPT record, skip anything else (e.g. TSIG) */
	for (unsigned i = 0; i < ar; i++) {
		bool root;
		if (!skip_name(q, len, &p, &root) || p + 10 > len)
			return GK_PARSE_FORMERR;
		uint16_t type = rd16(q + p), cls = rd16(q + p + 2), rdlen = rd16(q + p + 8);
		uint32_t ttl = ((uint32_t)rd16(q + p + 4) << 16) | rd16(q + p + 6);
		p += 10;
		if (p + rdlen > len)
			return GK_PARSE_FORMERR;
		if (type == TYPE_OPT) {
			if (out->edns || !root)
				return GK_PARSE_FORMERR; /* RFC 6891 6.1.1 */
			out->edns = true;
			out->edns_size = cls;
			out->edns_version = (uint8_t)(ttl >> 16);
			out->do_bit = (ttl & 0x8000) != 0;
			/* options must tile the rdata exactly */
			size_t o = p, end = p + rdlen;
			while (o < end) {
				if (o + 4 > end || o + 4u + rd16(q + o + 2) > end)
					return GK_PARSE_FORMERR;
				o += 4u + rd16(q + o + 2);
			}
		}
		p += rdlen;
	}
	if (p != len)
		return GK_PARSE_FORMERR; /* trailing garbage */
	if (out->edns && out->edns_version > 0)
		return GK_PARSE_BADVERS;
	return GK_PARSE_OK;
}
