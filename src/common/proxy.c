/* SPDX-License-Identifier: MIT */
/* src/common/proxy.c -- PROXY v2 headers: parsing (fixed offsets, one length check per field) and
 * writing (the front end's backends). */
#include <netinet/in.h>
#include <string.h>
#include "common/proxy.h"

static const uint8_t SIG[GK_PROXY_SIG_LEN] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                              0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

bool gk_proxy_maybe(const uint8_t *buf, size_t len)
{
	size_t n = len < GK_PROXY_SIG_LEN ? len : GK_PROXY_SIG_LEN;
	return n > 0 && memcmp(buf, SIG, n) == 0;
}

int gk_proxy_parse(const uint8_t *buf, size_t len, gk_proxy_t *out)
{
	if (len == 0)
		return 0;
	if (!gk_proxy_maybe(buf, len))
		return -1;
	if (len < GK_PROXY_HDR_MIN)
		return 0;
	uint8_t ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
	uint8_t fam = buf[13] >> 4, proto = buf[13] & 0x0f;
	size_t body = (size_t)buf[14] << 8 | buf[15], total = GK_PROXY_HDR_MIN + body;
	if (ver != 2 || cmd > 1 || fam > 3 || proto > 2 || total > GK_PROXY_HDR_MAX)
		return -1;
	static const size_t need[4] = {0, 12, 36, 216}; /* UNSPEC, INET, INET6, UNIX */
	if (cmd == 1 && body < need[fam])
		return -1;
	if (len < total)
		return 0;
	memset(out, 0, sizeof(*out));
	out->cmd = cmd == 1 ? GK_PROXY_PROXY : GK_PROXY_LOCAL;
	out->dgram = proto == 2;
	/* LOCAL: the balancer speaks for itself; the block, family included, is discarded */
	if (cmd == 0)
		return (int)total;
	const uint8_t *a = buf + GK_PROXY_HDR_MIN;
	if (fam == 1 && proto != 0) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		out->has_addr = true;
	} else if (fam == 2 && proto != 0) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		out->has_addr = true;
	}
	/* TLVs: each type, 16-bit length, value, within the body */
	size_t p = need[fam];
	while (p < body) {
		if (body - p < 3)
			return -1;
		size_t tl = (size_t)a[p + 1] << 8 | a[p + 2];
		if (body - p - 3 < tl)
			return -1;
		p += 3 + tl;
	}
	return (int)total;
}

int gk_proxy_write(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst,
                   bool dgram)
{
	int fam = src ? src->sa_family : AF_UNSPEC;
	size_t body = fam == AF_INET ? 12u : fam == AF_INET6 ? 36u : 0u;
	if (cap < GK_PROXY_HDR_MIN + body)
		return -1;
	memcpy(out, SIG, GK_PROXY_SIG_LEN);
	if (body == 0) {
		out[12] = 0x20; /* version 2, LOCAL */
		out[13] = 0x00; /* UNSPEC */
		out[14] = out[15] = 0;
		return (int)GK_PROXY_HDR_MIN;
	}
	bool same = dst != NULL && dst->sa_family == fam;
	out[12] = 0x21; /* version 2, PROXY */
	out[13] = (uint8_t)((fam == AF_INET ? 0x10 : 0x20) | (dgram ? 0x02 : 0x01));
	out[14] = 0;
	out[15] = (uint8_t)body;
	uint8_t *a = out + GK_PROXY_HDR_MIN;
	if (fam == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)src;
		const struct sockaddr_in *d = (const struct sockaddr_in *)dst;
		memcpy(a, &s->sin_addr, 4);
		memcpy(a + 8, &s->sin_port, 2);
		if (same) {
			memcpy(a + 4, &d->sin_addr, 4);
			memcpy(a + 10, &d->sin_port, 2);
		} else {
			memset(a + 4, 0, 4);
			memset(a + 10, 0, 2);
		}
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)src;
		const struct sockaddr_in6 *d = (const struct sockaddr_in6 *)dst;
		memcpy(a, &s->sin6_addr, 16);
		memcpy(a + 32, &s->sin6_port, 2);
		if (same) {
			memcpy(a + 16, &d->sin6_addr, 16);
			memcpy(a + 34, &d->sin6_port, 2);
		} else {
			memset(a + 16, 0, 16);
			memset(a + 34, 0, 2);
		}
	}
	return (int)(GK_PROXY_HDR_MIN + body);
}
