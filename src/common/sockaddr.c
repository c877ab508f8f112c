/* SPDX-License-Identifier: MIT */
/* src/common/sockaddr.c -- "address:port" text to a socket address (inet_pton, a strict port). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "common/sockaddr.h"

int gk_sockaddr_parse(const char *s, gk_sockaddr_t *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return GK_EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return GK_EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	unsigned long p = 0;
	if (*port == '\0' || strlen(port) > 5)
		return GK_EINVAL;
	for (const char *q = port; *q != '\0'; q++) {
		if (!isdigit((unsigned char)*q))
			return GK_EINVAL;
		p = p * 10 + (unsigned)(*q - '0');
	}
	if (p == 0 || p > 65535)
		return GK_EINVAL;
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return GK_EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		out->addrlen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return GK_EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		out->addrlen = sizeof(*a4);
	}
	snprintf(out->text, sizeof(out->text), "%s", s);
	return 0;
}
