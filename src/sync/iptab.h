/* SPDX-License-Identifier: MIT */
/* src/sync/iptab.h -- attribution lookups over the filed address ranges (gk:ip:ranges).
 *
 * A table is built once from ranges (typically the IP filing feed's table read from Redis) and
 * then answers "which provider filed the range that holds this address" in O(log n): the
 * ranges are flattened into disjoint segments, each carrying the provider of the most specific
 * (smallest) range that covers it, so the lookup is the longest match the IP filing feed
 * documents (docs/FEED.md). IPv4 and IPv6 are kept apart (an IPv6 range never holds an IPv4
 * address). Ranges are expected not to cross (the feed rejects that); if they do, where two
 * cross the later-starting one wins. Build on one thread; lookups from any thread afterwards.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

/* The longest canonical range text: two IPv6 addresses and a dash. */
#define GK_IP_RANGE_TEXT 96

/* Parse "ADDR/LEN" (no host bits set) or "FIRST-LAST" (same family, FIRST <= LAST; spaces
 * around the dash allowed). Returns 0, or GK_EINVAL with *why a static explanation. */
GK_MUST_CHECK int gk_sync_ip_range_parse(const char *s, size_t len, uint8_t first[16],
                                         uint8_t last[16], int *v4, const char **why);

/* Canonical text of a range: "ADDR/LEN" when it is exactly one prefix, else "FIRST-LAST"
 * (inet_ntop forms). out holds GK_IP_RANGE_TEXT bytes. Returns the length. */
size_t gk_sync_ip_range_format(const uint8_t first[16], const uint8_t last[16], int v4, char *out);

typedef struct gk_iptab gk_iptab_t;

GK_MUST_CHECK int gk_sync_iptab_new(gk_iptab_t **out);
void gk_sync_iptab_free(gk_iptab_t *t);

/* Add a range (addresses as in src/sync/ipfeed.h: IPv4 as ::ffff:a.b.c.d, v4 set). provider
 * is copied (interned). Returns 0 or GK_ENOMEM. Not after gk_sync_iptab_build. */
GK_MUST_CHECK int gk_sync_iptab_add(gk_iptab_t *t, const uint8_t first[16], const uint8_t last[16],
                                    int v4, const char *provider);

/* Add a range given as stored: the canonical range text and the JSON value of gk:ip:ranges.
 * Returns 0, GK_EINVAL (not a range, or the value has no "provider" string), GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_iptab_add_stored(gk_iptab_t *t, const char *range, size_t range_len,
                                           const char *value, size_t value_len);

/* Flatten into lookup segments. Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_iptab_build(gk_iptab_t *t);

/* Ranges added. */
size_t gk_sync_iptab_size(const gk_iptab_t *t);

/* The provider whose most specific range holds addr (v4: an IPv4 address as ::ffff:a.b.c.d),
 * or NULL when no range does. */
const char *gk_sync_iptab_lookup(const gk_iptab_t *t, const uint8_t addr[16], int v4);

/* Parse an IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1") into addr (IPv4 as
 * ::ffff:a.b.c.d) and *v4. Returns 0 or GK_EINVAL. */
GK_MUST_CHECK int gk_sync_ip_addr_parse(const char *s, size_t len, uint8_t addr[16], int *v4);

/* When addr is private or reserved (RFC 6890 special-purpose: private, shared, loopback,
 * link-local, documentation, benchmarking, multicast, reserved, unique-local ...), a short
 * name of its block ("private", "loopback", ...); NULL for a global address. Such addresses
 * are reported, never attributed to a provider. */
const char *gk_sync_ip_special(const uint8_t addr[16], int v4);
