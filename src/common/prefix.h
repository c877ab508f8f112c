/* SPDX-License-Identifier: MIT */
/* src/common/prefix.h -- IP address prefixes ("192.0.2.0/24", "2001:db8::/32") and matching.
 *
 * Used for the addresses rate limiting exempts and the load balancers PROXY headers are
 * accepted from. An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer)
 * matches as the IPv4 address. Pure; any thread.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "gk/errors.h"

typedef struct gk_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;    /* prefix length in bits */
	uint8_t addr[16];
} gk_prefix_t;

/* Parse "192.0.2.0/24", "2001:db8::/32" or a single address (a /32 or /128) into *out.
 * Returns 0 or GK_EINVAL (bad address, bad length, or bits set beyond the length: most
 * likely a typo for a narrower entry). */
GK_MUST_CHECK int gk_prefix_parse(const char *s, gk_prefix_t *out);

/* Whether sa (AF_INET or AF_INET6) falls in one of list[0..n). */
bool gk_prefix_match(const gk_prefix_t *list, unsigned n, const struct sockaddr *sa);
