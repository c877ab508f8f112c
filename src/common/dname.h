/* SPDX-License-Identifier: MIT */
/* src/common/dname.h -- domain names in uncompressed wire form.
 *
 * A wire name is a sequence of length-prefixed labels ending with the root label (0), at
 * most GK_DNAME_MAX octets. Names stored by the zone store are lowercase, so comparison is
 * memcmp. Pure functions; any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GK_DNAME_MAX        255
#define GK_DNAME_LABELS_MAX 127

/* ASCII lowercase table (other octets unchanged). */
extern const uint8_t gk_dname_lower[256];

/* Length of the well-formed uncompressed name at n (including the root label). The name
 * must already be validated. */
size_t gk_dname_len(const uint8_t *n);

/* Number of labels, not counting the root. */
unsigned gk_dname_labels(const uint8_t *n);

/* Hash of a lowercase wire name of length len. */
static inline uint64_t gk_dname_hash(const uint8_t *n, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= n[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

/* True when name a (length alen) equals b or lies below it. Both lowercase. */
bool gk_dname_is_subdomain(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Presentation form of n into buf (always NUL-terminated, truncated to cap). Returns buf.
 * For logs and error messages only. */
char *gk_dname_to_str(const uint8_t *n, char *buf, size_t cap);
