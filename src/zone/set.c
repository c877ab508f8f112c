/* SPDX-License-Identifier: MIT */
/* src/zone/set.c -- a whole store built at once from a list of zones (tools, tests, --check).
 *
 * Each zone is built as its own version (build.c) and put in a store (store.c) that frees
 * retired objects at once: linear in the zones and their data. The daemon does not use
 * this; it builds and publishes zone by zone (daemon/server.c).
 */
#include <stdio.h>
#include "zone/internal.h"
#include "zone/zone.h"

int gk_zoneset_build(const gk_zone_spec_t *specs, size_t n, gk_zoneset_t **out, char *err,
                     size_t errlen)
{
	return gk_zoneset_build_ex(specs, n, NULL, out, err, errlen);
}

int gk_zoneset_build_ex(const gk_zone_spec_t *specs, size_t n, const struct gk_psl *psl,
                        gk_zoneset_t **out, char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	gk_zoneset_t *zs;
	int rc = gk_zoneset_create(NULL, NULL, &zs);
	if (rc < 0) {
		if (errlen)
			snprintf(err, errlen, "out of memory while loading zones");
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		gk_zver_t *v;
		rc = gk_zver_build(&specs[i], psl, &v, err, errlen);
		if (rc < 0)
			goto fail;
		if (gk_zoneset_get(zs, gk_zver_apex(v), v->apex_len)) {
			if (errlen)
				snprintf(err, errlen, "%s: zone %s is configured twice",
				         specs[i].file ? specs[i].file : "<text>", specs[i].name);
			gk_zver_free(v);
			rc = GK_EINVAL;
			goto fail;
		}
		rc = gk_zoneset_put(zs, v);
		if (rc < 0) {
			gk_zver_free(v);
			if (errlen)
				snprintf(err, errlen, "out of memory while loading zones");
			goto fail;
		}
	}
	*out = zs;
	return 0;
fail:
	gk_zoneset_free(zs);
	return rc;
}
