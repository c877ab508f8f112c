/* SPDX-License-Identifier: MIT */
/* src/common/dname.c -- wire-name helpers for load-time code and the packet path. */
#include <stdio.h>
#include <string.h>
#include "common/dname.h"

const uint8_t gk_dname_lower[256] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

size_t gk_dname_len(const uint8_t *n)
{
	const uint8_t *p = n;
	while (*p)
		p += *p + 1;
	return (size_t)(p - n) + 1;
}

unsigned gk_dname_labels(const uint8_t *n)
{
	unsigned c = 0;
	while (*n) {
		n += *n + 1;
		c++;
	}
	return c;
}

bool gk_dname_is_subdomain(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen < blen)
		return false;
	/* walk a's labels until the remaining suffix has b's length */
	size_t off = 0;
	while (alen - off > blen)
		off += a[off] + 1u;
	return alen - off == blen && memcmp(a + off, b, blen) == 0;
}

size_t gk_dname_unpack(const uint8_t *m, size_t len, size_t off, uint8_t *out, size_t *next)
{
	size_t o = 0, end = 0, lim = off; /* a pointer must point before lim */
	bool jumped = false;
	for (;;) {
		if (off >= len)
			return 0;
		uint8_t l = m[off];
		if ((l & 0xc0) == 0xc0) {
			if (off + 2 > len)
				return 0;
			size_t to = (size_t)(l & 0x3f) << 8 | m[off + 1];
			if (!jumped) {
				end = off + 2;
				jumped = true;
			}
			if (to >= lim)
				return 0;
			lim = to;
			off = to;
			continue;
		}
		if (l & 0xc0)
			return 0;
		if (o + 1u + l > GK_DNAME_MAX || off + 1u + l > len)
			return 0;
		out[o++] = l;
		if (l == 0)
			break;
		for (unsigned i = 1; i <= l; i++)
			out[o++] = gk_dname_lower[m[off + i]];
		off += 1u + l;
	}
	if (next)
		*next = jumped ? end : off + 1;
	return o;
}

char *gk_dname_to_str(const uint8_t *n, char *buf, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return buf;
	if (!*n) {
		snprintf(buf, cap, ".");
		return buf;
	}
	/* each piece is written whole or not at all, so the result is a prefix */
	for (; *n; n += *n + 1) {
		for (unsigned i = 1; i <= *n; i++) {
			uint8_t c = n[i];
			char piece[5];
			int pl;
			/* as dig (BIND's dns_name_totext): the separator, the escape and the
			 * characters special in master files get a backslash; space, controls
			 * and non-ASCII octets are \DDD */
			if (strchr(".\\\"();@$", c) != NULL && c != 0)
				pl = snprintf(piece, sizeof piece, "\\%c", c);
			else if (c <= 32 || c >= 127)
				pl = snprintf(piece, sizeof piece, "\\%03u", c);
			else
				pl = snprintf(piece, sizeof piece, "%c", c);
			if (o + (size_t)pl >= cap)
				goto done;
			memcpy(buf + o, piece, (size_t)pl);
			o += (size_t)pl;
		}
		if (o + 1 >= cap)
			goto done;
		buf[o++] = '.';
	}
done:
	buf[o] = 0;
	return buf;
}

/* One label octet from s[*i] (an escape moves *i past it); -1 for a bad escape. */
static int text_octet(const char *s, size_t slen, size_t *i, unsigned flags)
{
	uint8_t c = (uint8_t)s[*i];
	if (c != '\\' || !(flags & GK_DNAME_TEXT_ESCAPES))
		return c;
	if (*i + 1 >= slen)
		return -1;
	uint8_t d1 = (uint8_t)s[*i + 1];
	if (d1 < '0' || d1 > '9') {
		*i += 1;
		return d1;
	}
	if (*i + 3 >= slen)
		return -1;
	uint8_t d2 = (uint8_t)s[*i + 2], d3 = (uint8_t)s[*i + 3];
	if (d2 < '0' || d2 > '9' || d3 < '0' || d3 > '9')
		return -1;
	unsigned v = (d1 - '0') * 100u + (d2 - '0') * 10u + (d3 - '0');
	if (v > 255)
		return -1;
	*i += 3;
	return (int)v;
}

size_t gk_dname_from_text(const char *s, size_t slen, uint8_t *out, unsigned flags)
{
	if (slen == 1 && s[0] == '.') {
		if (flags & GK_DNAME_TEXT_NOROOT)
			return 0;
		out[0] = 0;
		return 1;
	}
	if (slen == 0)
		return 0;
	size_t o = 1, lab = 0;
	out[0] = 0;
	for (size_t i = 0; i < slen; i++) {
		if (s[i] == '.') {
			if (out[lab] == 0)
				return 0; /* an empty label */
			if (i + 1 == slen)
				break; /* the trailing dot */
			if (o >= GK_DNAME_MAX - 1)
				return 0;
			lab = o++;
			out[lab] = 0;
			continue;
		}
		int c = text_octet(s, slen, &i, flags);
		if (c < 0 || out[lab] == 63 || o >= GK_DNAME_MAX - 1)
			return 0;
		out[lab]++;
		out[o++] = gk_dname_lower[c];
	}
	if (out[lab] == 0)
		return 0;
	out[o++] = 0;
	return o;
}
