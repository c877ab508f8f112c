/* SPDX-License-Identifier: MIT */
/* src/daemon/front.c -- the front end's pools in the control channel's `stats` answer.
 *
 * Main loop. The workers' relays (front/fwd.h: each worker's loop's and its UDP threads')
 * are read with relaxed loads: a moment old,
 * never torn.
 */
#include <stdlib.h>
#include "control/control.h"
#include "daemon/internal.h"
#include "front/conf.h"
#include "front/fwd.h"

gk_fwd_t **gk_daemon_fwds(gk_server_t *s, size_t *n)
{
	size_t max = (size_t)s->n_workers * (1u + s->boot->n_listen), k = 0;
	gk_fwd_t **fw = calloc(max ? max : 1, sizeof(*fw));
	if (fw == NULL)
		return NULL;
	for (unsigned i = 0; i < s->n_workers; i++)
		k += gk_net_worker_fwds(s->workers[i], fw + k, max - k);
	*n = k;
	return fw;
}

void gk_daemon_front_stats(gk_server_t *s, gk_control_req_t *req)
{
	const gk_front_conf_t *fc = s->boot->front;
	if (!gk_front_conf_forwards(fc) || s->n_workers == 0)
		return;
	size_t n = 0;
	gk_fwd_t **fw = gk_daemon_fwds(s, &n);
	if (fw == NULL)
		return;
	gk_fwd_counters_t c = {0};
	for (size_t i = 0; i < n; i++)
		gk_front_fwd_counters_read(fw[i], &c);
	gk_control_reply(req, "ok forwarded_queries %llu", (unsigned long long)c.queries);
	gk_control_reply(req, "ok forwarded_cache_hits %llu", (unsigned long long)c.cache_hits);
	gk_control_reply(req, "ok forwarded_servfail %llu", (unsigned long long)c.servfail);
	gk_control_reply(req, "ok forwarded_filtered %llu %llu", (unsigned long long)c.filtered,
	                 (unsigned long long)c.filtered_records);
	for (unsigned i = 0; i <= GK_FWD_RCODES_NAMED; i++)
		gk_control_reply(req, "ok forwarded_answers %s %llu", gk_front_fwd_rcode_name(i),
		                 (unsigned long long)c.rcode[i]);
	for (size_t p = 0; p < fc->n_pools; p++) {
		const gk_front_pool_conf_t *pc = &fc->pools[p];
		size_t up = 0;
		for (size_t b = 0; b < pc->n_backends; b++) {
			gk_fbackend_stats_t st;
			unsigned in;
			gk_front_fwd_backend_sum(fw, n, p, b, &st, &in);
			up += in == n;
			gk_control_reply(
			    req,
			    "ok pool %s backend %s %s queries %llu answers %llu timeouts %llu "
			    "servfails %llu mismatched %llu outstanding %u",
			    pc->name, pc->backends[b].name,
			    in == n   ? "up"
			    : in == 0 ? "down"
			              : "partly-up",
			    (unsigned long long)st.queries, (unsigned long long)st.answers,
			    (unsigned long long)st.timeouts, (unsigned long long)st.servfails,
			    (unsigned long long)st.mismatches, st.outstanding);
		}
		gk_control_reply(req, "ok pool %s %s backends_up %zu/%zu", pc->name,
		                 up ? "up" : "down", up, pc->n_backends);
	}
	free(fw);
}
