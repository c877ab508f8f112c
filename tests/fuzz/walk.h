/* SPDX-License-Identifier: MIT */
/* tests/fuzz/walk.h -- a tiny bounded DNS message walker for the fuzz targets' invariants.
 *
 * Independent of the engine: it re-reads a response and checks that the header counts match
 * the records present, every name is made of plain labels and pointers, every pointer goes
 * strictly backwards (so no loop is possible) and lands on a label, every expanded name fits
 * 255 octets, every rdata stays inside the message, names inside NS/CNAME/PTR/DNAME/MX/SOA/
 * SRV rdata are well-formed and end exactly where they should, at most one OPT sits in the
 * additional section with the root owner, and no byte trails the last record.
 * Header-only (static functions), single-threaded, no allocation.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct walk {
	uint16_t qd, an, ns, ar;
	size_t qend; /* end of the question (12 when none) */
	bool opt;
	uint16_t opt_size;
	uint8_t opt_ext_rcode;
} walk_t;

static inline uint16_t walk_r16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Check the name at *pos. limit: end of the enclosing data (rdata or message) for the
 * uncompressed part; msglen: the message, for labels reached through pointers. */
static const char *walk_name(const uint8_t *m, size_t msglen, size_t limit, size_t *pos,
                             size_t *wire_len)
{
	size_t p = *pos, wire = 0, lowest = *pos;
	bool jumped = false;
	for (unsigned steps = 0;; steps++) {
		if (steps > 255)
			return "too many labels";
		if (p >= limit)
			return "name past the end";
		uint8_t l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > limit)
				return "pointer cut";
			size_t t = (size_t)(l & 0x3f) << 8 | m[p + 1];
			if (t >= lowest)
				return "pointer not backwards";
			if (t < 12)
				return "pointer into the header";
			if ((m[t] & 0xc0) == 0x40 || (m[t] & 0xc0) == 0x80)
				return "pointer to a bad label";
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			lowest = t;
			p = t;
			limit = msglen;
			continue;
		}
		if (l & 0xc0)
			return "extended label";
		wire += l + 1u;
		if (wire > 255)
			return "name over 255 octets";
		if (l == 0)
			break;
		if (p + 1 + l > limit)
			return "label past the end";
		p += l + 1u;
	}
	if (!jumped)
		*pos = p + 1;
	if (wire_len)
		*wire_len = wire;
	return NULL;
}

/* Offset of the first name in rdata of type t, or -1 if it carries none we check. */
static int walk_rdata_names(uint16_t t, int *count)
{
	*count = 1;
	switch (t) {
	case 2:
	case 5:
	case 12:
	case 39:
		return 0;
	case 6:
		*count = 2;
		return 0;
	case 15:
		return 2;
	case 33:
		return 6;
	default:
		return -1;
	}
}

static const char *walk_msg(const uint8_t *m, size_t len, walk_t *w)
{
	const char *e;
	if (len < 12)
		return "short header";
	w->qd = walk_r16(m + 4);
	w->an = walk_r16(m + 6);
	w->ns = walk_r16(m + 8);
	w->ar = walk_r16(m + 10);
	w->opt = false;
	size_t p = 12;
	if (w->qd > 1)
		return "QDCOUNT > 1";
	if (w->qd) {
		if ((e = walk_name(m, len, len, &p, NULL)))
			return e;
		if (p + 4 > len)
			return "question cut";
		p += 4;
	}
	w->qend = p;
	unsigned total = (unsigned)w->an + w->ns + w->ar;
	for (unsigned i = 0; i < total; i++) {
		if ((e = walk_name(m, len, len, &p, NULL)))
			return e;
		if (p + 10 > len)
			return "RR header cut";
		uint16_t type = walk_r16(m + p), cls = walk_r16(m + p + 2);
		uint16_t rdlen = walk_r16(m + p + 8);
		uint32_t ttl = (uint32_t)walk_r16(m + p + 4) << 16 | walk_r16(m + p + 6);
		p += 10;
		if (p + rdlen > len)
			return "rdata past the end";
		size_t end = p + rdlen;
		int cnt, off = walk_rdata_names(type, &cnt);
		if (off >= 0) {
			size_t q = p + (size_t)off;
			if (q > end)
				return "rdata too short";
			for (int k = 0; k < cnt; k++)
				if ((e = walk_name(m, len, end, &q, NULL)))
					return e;
			if (type == 6 ? q + 20 != end : q != end)
				return "rdata length does not match its names";
		}
		if (type == 41) {
			if (i < (unsigned)w->an + w->ns || w->opt)
				return "misplaced or second OPT";
			if (m[p - 11] != 0)
				return "OPT owner not root";
			w->opt = true;
			w->opt_size = cls;
			w->opt_ext_rcode = (uint8_t)(ttl >> 24);
		}
		p = end;
	}
	if (p != len)
		return "bytes after the last record";
	return NULL;
}

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s: ", #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
