/* SPDX-License-Identifier: MIT */
/* src/zone/site.c -- the addresses a zone's site resolves to (gk_zone_ver_site_addrs), read from
 * a built version at publish time for discovery's attribution (src/obs/disc_sites.c); never
 * on the packet path.
 */
#include <string.h>
#include "zone/internal.h"

static size_t add_rrset(const gk_rrset_t *rs, uint8_t (*addr)[16], int *v4, size_t n, size_t max)
{
	for (uint16_t i = 0; rs && i < rs->count && n < max; i++) {
		uint8_t a[16] = {0};
		int is4 = rs->type == GK_TYPE_A;
		if (is4 && rs->rrs[i].rdlen == 4) {
			a[10] = a[11] = 0xff;
			memcpy(a + 12, rs->rrs[i].rdata, 4);
		} else if (!is4 && rs->rrs[i].rdlen == 16) {
			memcpy(a, rs->rrs[i].rdata, 16);
		} else {
			continue;
		}
		size_t k = 0;
		while (k < n && (v4[k] != is4 || memcmp(addr[k], a, 16) != 0))
			k++;
		if (k < n)
			continue; /* the apex and www often share an address */
		memcpy(addr[n], a, 16);
		v4[n++] = is4;
	}
	return n;
}

int gk_zone_ver_site_addrs(const gk_zver_t *v, uint8_t (*addr)[16], int *v4, size_t max)
{
	if (gk_zone_ver_placeholder_p(v))
		return -1;
	const gk_node_t *apex = v->zone.apex;
	if (apex == NULL || apex->reg_off != 0) /* GK_REG_NONE/UNKNOWN, or below one */
		return -1;
	size_t n = 0;
	n = add_rrset(gk_zone_node_rrset(apex, GK_TYPE_A), addr, v4, n, max);
	n = add_rrset(gk_zone_node_rrset(apex, GK_TYPE_AAAA), addr, v4, n, max);
	uint8_t www[GK_DNAME_MAX + 1];
	if (apex->len + 4u <= GK_DNAME_MAX) {
		memcpy(www, "\x03www", 4);
		memcpy(www + 4, apex->name, apex->len);
		size_t len = apex->len + 4u;
		const gk_node_t *w = gk_zone_ver_find(v, www, len, gk_namehash(www, len));
		if (w == NULL)
			w = apex->wild; /* "*.apex" answers for www */
		if (w != NULL && !(w->flags & GK_NODE_DELEG)) {
			n = add_rrset(gk_zone_node_rrset(w, GK_TYPE_A), addr, v4, n, max);
			n = add_rrset(gk_zone_node_rrset(w, GK_TYPE_AAAA), addr, v4, n, max);
		}
	}
	return (int)n;
}
