/* SPDX-License-Identifier: MIT */
/* src/front/relay.c -- backend query and answer checks (relay.h). */
#include <string.h>
#include "front/relay.h"

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t gk_relay_query(const uint8_t *q, size_t qend, uint16_t id, bool do_bit, uint16_t udp_max,
                      uint8_t *out)
{
	memcpy(out, q, qend);
	wr16(out, id);
	out[2] &= 0x01; /* QR 0, opcode QUERY, AA 0, TC 0; RD as the client's */
	out[3] &= 0x10; /* CD kept; Z, AD and rcode cleared */
	wr16(out + 4, 1);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, 1);
	uint8_t *o = out + qend;
	o[0] = 0; /* root owner */
	wr16(o + 1, 41);
	wr16(o + 3, udp_max);
	o[5] = 0;
	o[6] = 0;
	o[7] = do_bit ? 0x80 : 0;
	o[8] = 0;
	wr16(o + 9, 0);
	return qend + GK_RELAY_OPT_LEN;
}

bool gk_relay_match(const gk_relay_q_t *r, const uint8_t *sent, const uint8_t *a, size_t len)
{
	if (len < r->qend || r->qend < 12)
		return false;
	if ((a[2] & 0x80) == 0 || (a[2] & 0x78) != 0) /* a response to a QUERY */
		return false;
	if (((uint16_t)(a[0] << 8 | a[1])) != r->id || a[4] != 0 || a[5] != 1)
		return false;
	return memcmp(a + 12, sent + 12, r->qend - 12u) == 0;
}

size_t gk_relay_answer(const gk_relay_q_t *r, uint8_t *a, size_t len)
{
	wr16(a, r->client_id);
	if (len <= r->client_limit)
		return len;
	a[2] |= 0x02; /* TC */
	wr16(a + 6, 0);
	wr16(a + 8, 0);
	wr16(a + 10, 0);
	return r->qend;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The end of the name at m[off..len), or 0 when malformed. */
static size_t skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		uint8_t l = m[off];
		if (l == 0)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		off += 1u + l;
	}
	return 0;
}

size_t gk_relay_fix_opt(uint8_t *m, size_t len, size_t qend, bool edns, uint16_t udp_max)
{
	if (len < 12 || qend < 12 || qend > len)
		return 0;
	unsigned ar = rd16(m + 10), n = (unsigned)rd16(m + 6) + rd16(m + 8) + ar;
	size_t off = qend;
	for (unsigned i = 0; i < n; i++) {
		size_t start = off;
		if ((off = skip_name(m, len, off)) == 0 || off + 10 > len)
			return 0;
		uint16_t type = rd16(m + off);
		size_t end = off + 10u + rd16(m + off + 8);
		if (end > len)
			return 0;
		if (type == 41 && i >= n - ar) {
			if (edns) {
				wr16(m + off + 2, udp_max);
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
