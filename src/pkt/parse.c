/* SPDX-License-Identifier: MIT */
/* src/pkt/parse.c -- query header, question and OPT parse, every read bounds-checked. */
#include <string.h>
#include "pkt/parse.h"

#define TYPE_OPT 41

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
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

gk_parse_t gk_parse_query(const uint8_t *q, size_t len, gk_query_t *out)
{
	out->qend = 0;
	out->edns = false;
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

	/* question name: plain labels only, lowercased into out->qname */
	size_t p = 12, n = 0;
	unsigned labels = 0;
	for (;;) {
		if (p >= len)
			return GK_PARSE_FORMERR;
		uint8_t l = q[p];
		if (l & 0xc0)
			return GK_PARSE_FORMERR;
		if (n + l + 1u > GK_DNAME_MAX || p + l + 1u > len)
			return GK_PARSE_FORMERR;
		out->qname[n] = l;
		if (l == 0) {
			n++;
			p++;
			break;
		}
		out->loff[labels++] = (uint8_t)n;
		for (unsigned i = 1; i <= l; i++)
			out->qname[n + i] = gk_dname_lower[q[p + i]];
		n += l + 1u;
		p += l + 1u;
	}
	if (p + 4 > len)
		return GK_PARSE_FORMERR;
	out->qlen = (uint8_t)n;
	out->labels = (uint8_t)labels;
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
