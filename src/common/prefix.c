/* SPDX-License-Identifier: MIT */
/* src/common/prefix.c -- prefix parsing (inet_pton plus a length) and a linear match. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "common/prefix.h"

int gk_prefix_parse(const char *s, gk_prefix_t *out)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(host))
		return GK_EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return GK_EINVAL;
	}
	unsigned len = max;
	if (slash) {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return GK_EINVAL;
		len = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return GK_EINVAL;
			len = len * 10 + (unsigned)(*p - '0');
		}
		if (len > max)
			return GK_EINVAL;
	}
	out->len = (uint8_t)len;
	for (unsigned b = len; b < max; b++)
		if (out->addr[b / 8] & (0x80u >> (b % 8)))
			return GK_EINVAL;
	return 0;
}

bool gk_prefix_match(const gk_prefix_t *list, unsigned n, const struct sockaddr *sa)
{
	if (n == 0)
		return false;
	const uint8_t *a;
	uint8_t fam;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a = s6->sin6_addr.s6_addr + 12;
			fam = AF_INET;
		} else {
			a = s6->sin6_addr.s6_addr;
			fam = AF_INET6;
		}
	} else if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		fam = AF_INET;
	} else {
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		const gk_prefix_t *p = &list[i];
		if (p->family != fam)
			continue;
		unsigned whole = p->len / 8, rest = p->len % 8;
		if (memcmp(a, p->addr, whole) != 0)
			continue;
		if (rest && ((a[whole] ^ p->addr[whole]) & (uint8_t)(0xff00u >> rest)))
			continue;
		return true;
	}
	return false;
}
