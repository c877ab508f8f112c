/* SPDX-License-Identifier: MIT */
/* src/daemon/config_opts.c -- the packet options a config answers with.
 *
 * The one place gk_pkt_opts_t is made from a config, so gatekeeperd and gkctl lookup decide
 * exactly alike.
 */
#include <string.h>
#include "daemon/config.h"

void gk_config_pkt_opts(const gk_config_t *cfg, struct gk_status *status, const struct gk_psl *psl,
                        const struct gk_policy *policy, gk_pkt_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->edns_udp_max = cfg->edns_udp_max;
	o->policy = policy;
	if (!cfg->filing.enforce || status == NULL)
		return;
	o->status = status;
	o->psl = psl;
	o->unfiled = cfg->filing.unfiled;
	o->revoked = cfg->filing.revoked;
	o->unknown = cfg->filing.unknown;
	o->no_registrable = cfg->filing.no_registrable;
	o->starting = cfg->filing.unknown;
	if (cfg->filing.startup == GK_STARTUP_RESOLVE) {
		memset(&o->starting, 0, sizeof(o->starting));
		o->starting.action = GK_ACT_RESOLVE;
	}
}
