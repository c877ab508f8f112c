/* SPDX-License-Identifier: MIT */
/* src/daemon/front.c -- the front end's pools in the control channel's `stats` answer.
 *
 * Main loop. The workers' relays (front/fwd.h) are read with relaxed loads: a moment old,
 * never torn.
 */
#include <stdlib.h>
#include "control/control.h"
#include "daemon/internal.h"
#include "front/conf.h"
#include "front/fwd.h"

void gk_daemon_front_stats(gk_server_t *s, gk_control_req_t *req)
{
	const gk_front_conf_t *fc = s->boot->front;
	if (fc == NULL || fc->n_zones == 0 || s->n_workers == 0)
		return;
	gk_fwd_t **fw = calloc(s->n_workers, sizeof(*fw));
	if (fw == NULL)
		return;
	for (unsigned i = 0; i < s->n_workers; i++)
		fw[i] = gk_worker_fwd(s->workers[i]);
	gk_fwd_counters_t c = {0};
	for (unsigned i = 0; i < s->n_workers; i++)
		if (fw[i])
			gk_fwd_counters_read(fw[i], &c);
	gk_control_reply(req, "ok forwarded_queries %llu", (unsigned long long)c.queries);
	gk_control_reply(req, "ok forwarded_cache_hits %llu", (unsigned long long)c.cache_hits);
	gk_control_reply(req, "ok forwarded_servfail %llu", (unsigned long long)c.servfail);
	for (size_t p = 0; p < fc->n_pools; p++) {
		const gk_front_pool_conf_t *pc = &fc->pools[p];
		size_t up = 0;
		for (size_t b = 0; b < pc->n_backends; b++) {
			gk_fbackend_stats_t st;
			unsigned in;
			gk_fwd_backend_sum(fw, s->n_workers, p, b, &st, &in);
			up += in == s->n_workers;
			gk_control_reply(
			    req,
			    "ok pool %s backend %s %s queries %llu answers %llu timeouts %llu "
			    "servfails %llu mismatched %llu outstanding %u",
			    pc->name, pc->backends[b].name,
			    in == s->n_workers ? "up"
			    : in == 0          ? "down"
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
