/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/msg.c -- query encoder and strict response decoder (see msg.h). */
#include <stdio.h>
#include <string.h>
#include "msg.h"

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

size_t msg_name(uint8_t *out, const char *name)
{
	size_t n = 0;
	if (strcmp(name, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	/* presentation form with RFC 1035 5.1 escapes: \. and \\ are label data, \DDD a byte */
	const char *s = name;
	while (*s) {
		size_t lab = n++, l = 0;
		while (*s && *s != '.') {
			unsigned c = (unsigned char)*s++;
			if (c == '\\' && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
			    s[2] >= '0' && s[2] <= '9') {
				c = (unsigned)(s[0] - '0') * 100u + (unsigned)(s[1] - '0') * 10u +
				    (unsigned)(s[2] - '0');
				s += 3;
				if (c > 255)
					return 0;
			} else if (c == '\\') {
				if (!*s)
					return 0;
				c = (unsigned char)*s++;
			}
			if (l == 63 || n + 2 > 255)
				return 0;
			out[n++] = (uint8_t)c;
			l++;
		}
		if (l == 0)
			return 0;
		out[lab] = (uint8_t)l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	return n;
}

size_t msg_query(uint8_t *buf, const msg_q_t *q)
{
	memset(buf, 0, 12);
	w16(buf, q->id);
	w16(buf + 2, q->flags);
	w16(buf + 4, 1);
	w16(buf + 10, q->edns >= 0 ? 1 : 0);
	size_t n = 12 + msg_name(buf + 12, q->name);
	w16(buf + n, q->type);
	w16(buf + n + 2, q->cls ? q->cls : 1);
	n += 4;
	if (q->edns >= 0) {
		buf[n] = 0;
		w16(buf + n + 1, 41);
		w16(buf + n + 3, (uint16_t)q->edns);
		buf[n + 5] = 0;
		buf[n + 6] = q->edns_version;
		buf[n + 7] = q->do_bit ? 0x80 : 0;
		buf[n + 8] = 0;
		w16(buf + n + 9, 0);
		n += 11;
	}
	return n;
}

/* Read a possibly compressed name at *pos into text. Pointers must go strictly backwards
 * and land on a label; the expanded name must fit 255 octets. */
static const char *get_name(const uint8_t *m, size_t len, size_t *pos, char *text, unsigned *ptrs)
{
	size_t p = *pos, wire = 0, t = 0;
	bool jumped = false;
	size_t lowest = p; /* every pointer must go below the previous position */
	text[0] = 0;
	for (;;) {
		if (p >= len)
			return "name runs past the end";
		uint8_t l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return "pointer cut";
			size_t tgt = (size_t)((l & 0x3f) << 8 | m[p + 1]);
			if (tgt >= lowest)
				return "pointer not backwards";
			if (tgt < 12)
				return "pointer into the header";
			if ((m[tgt] & 0xc0) == 0x40 || (m[tgt] & 0xc0) == 0x80)
				return "pointer to a bad label";
			(*ptrs)++;
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			lowest = tgt;
			p = tgt;
			continue;
		}
		if (l & 0xc0)
			return "extended label type";
		wire += l + 1u;
		if (wire > 255)
			return "name longer than 255";
		if (l == 0)
			break;
		if (p + 1 + l > len)
			return "label runs past the end";
		for (unsigned i = 0; i < l; i++) {
			uint8_t c = m[p + 1 + i];
			if (c == '.' || c == '\\' || c < 0x21 || c > 0x7e)
				t += (size_t)snprintf(text + t, 8, "\\%03u", c);
			else
				text[t++] = (char)c;
		}
		text[t++] = '.';
		text[t] = 0;
		p += l + 1u;
	}
	if (t == 0) {
		text[0] = '.';
		text[1] = 0;
	}
	if (!jumped)
		*pos = p + 1;
	return NULL;
}

static bool has_name(uint16_t type, size_t *pre)
{
	*pre = 0;
	switch (type) {
	case 2:
	case 5:
	case 6:
	case 12:
	case 39:
		return true;
	case 15:
		*pre = 2;
		return true;
	case 33:
		*pre = 6;
		return true;
	default:
		return false;
	}
}

const char *msg_parse(const uint8_t *m, size_t len, msg_t *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 12)
		return "shorter than a header";
	out->id = r16(m);
	out->flags = r16(m + 2);
	out->rcode = m[3] & 0x0f;
	out->qd = r16(m + 4);
	out->an = r16(m + 6);
	out->ns = r16(m + 8);
	out->ar = r16(m + 10);
	size_t p = 12;
	const char *e;
	if (out->qd > 1)
		return "QDCOUNT > 1";
	if (out->qd == 1) {
		if ((e = get_name(m, len, &p, out->qname, &out->ptrs)))
			return e;
		if (out->ptrs)
			return "pointer in the question";
		if (p + 4 > len)
			return "question cut";
		out->qtype = r16(m + p);
		out->qclass = r16(m + p + 2);
		p += 4;
	}
	out->qend = p;
	unsigned total = (unsigned)out->an + out->ns + out->ar;
	for (unsigned i = 0; i < total; i++) {
		if (i >= MSG_MAX_RRS)
			return "too many records for the decoder";
		msg_rr_t *rr = &out->rr[i];
		rr->section = i < out->an ? 0 : i < (unsigned)out->an + out->ns ? 1 : 2;
		if ((e = get_name(m, len, &p, rr->owner, &out->ptrs)))
			return e;
		if (p + 10 > len)
			return "RR header cut";
		rr->type = r16(m + p);
		rr->cls = r16(m + p + 2);
		rr->ttl = (uint32_t)r16(m + p + 4) << 16 | r16(m + p + 6);
		rr->rdlen = r16(m + p + 8);
		p += 10;
		rr->rdoff = p;
		if (p + rr->rdlen > len)
			return "rdata runs past the end";
		size_t pre, q = p + 0;
		if (has_name(rr->type, &pre)) {
			if (rr->rdlen < pre + 1)
				return "rdata too short for its name";
			q = p + pre;
			if ((e = get_name(m, p + rr->rdlen, &q, rr->rdname, &out->ptrs)))
				return e;
			if (rr->type == 6) {
				char tmp[1024];
				if ((e = get_name(m, p + rr->rdlen, &q, tmp, &out->ptrs)))
					return e;
				if (q + 20 != p + rr->rdlen)
					return "SOA rdata length";
			} else if (rr->type != 33 && rr->type != 15 && q != p + rr->rdlen) {
				return "rdata longer than its name";
			} else if ((rr->type == 33 || rr->type == 15) && q != p + rr->rdlen) {
				return "MX/SRV rdata length";
			}
		}
		if (rr->type == 41) {
			if (rr->section != 2 || out->opt || strcmp(rr->owner, ".") != 0)
				return "misplaced OPT";
			out->opt = true;
			out->opt_size = rr->cls;
			out->opt_ext_rcode = (uint8_t)(rr->ttl >> 24);
			out->opt_version = (uint8_t)(rr->ttl >> 16);
			out->opt_do = (rr->ttl & 0x8000) != 0;
		}
		p += rr->rdlen;
		out->nrr++;
	}
	if (p != len)
		return "bytes after the last record";
	return NULL;
}
