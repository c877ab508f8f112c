/* SPDX-License-Identifier: MIT */
/* src/daemon/config_opts.c -- the packet options a config answers with.
 *
 * The one place gk_pkt_opts_t is made from a config, so gatekeeperd and gkctl lookup decide
 * exactly alike; and the one place the config's filing.* rules become status rules (a
 * default policy: decide/decide.h reads status rules from the policy alone).
 */
#include <string.h>
#include "daemon/config.h"
#include "policy/policy.h"

void gk_daemon_config_pkt_opts(const gk_config_t *cfg, struct gk_status *status,
                               const struct gk_psl *psl, const struct gk_policy *policy,
                               gk_pkt_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->edns_udp_max = cfg->edns_udp_max;
	o->policy = policy;
	if (!cfg->filing.enforce || status == NULL)
		return;
	o->status = status;
	o->psl = psl;
	o->starting = cfg->filing.unknown;
	if (cfg->filing.startup == GK_STARTUP_RESOLVE) {
		memset(&o->starting, 0, sizeof(o->starting));
		o->starting.action = GK_ACT_RESOLVE;
	}
}

int gk_daemon_config_default_policy(const gk_config_t *cfg, struct gk_policy **out)
{
	*out = NULL;
	if (!cfg->filing.enforce)
		return 0;
	gk_refusal_t rules[GK_POLICY_NSTATUS];
	rules[GK_POLICY_UNFILED] = cfg->filing.unfiled;
	rules[GK_POLICY_REVOKED] = cfg->filing.revoked;
	rules[GK_POLICY_UNKNOWN] = cfg->filing.unknown;
	rules[GK_POLICY_NOREG] = cfg->filing.no_registrable;
	return gk_policy_from_rules(rules, out);
}
