/* SPDX-License-Identifier: MIT */
/* src/net/conn.c -- what TCP (tcp.c) and TLS (tls_conn.c) connections share: the choice of
 * the connection to evict at the cap, and the peer address and PROXY check at accept. Loop
 * thread of the worker. */
#include "common/prefix.h"
#include "common/snapshot.h"
#include "net/internal.h"
#include "obs/obs.h"

#define EVICT_SCAN 64u

gk_net_link_t *gk_net_evict_pick(const gk_net_list_t *lru, bool (*idle)(const gk_net_link_t *))
{
	unsigned n = 0;
	for (gk_net_link_t *x = lru->head; x != NULL && n < EVICT_SCAN; x = x->next, n++)
		if (idle(x))
			return x;
	return lru->head;
}

bool gk_net_accept_peer(struct gk_worker *w, uv_tcp_t *h, struct sockaddr_storage *peer)
{
	peer->ss_family = 0;
	const gk_net_view_t *v = gk_snapshot_read(w->view);
	/* one syscall per connection, only with a log or PROXY headers to accept */
	if (gk_obs_wants_peer(w->obs) || v->proxy.n) {
		int plen = sizeof(*peer);
		if (uv_tcp_getpeername(h, (struct sockaddr *)peer, &plen) != 0)
			peer->ss_family = 0;
	}
	return v->proxy.n && peer->ss_family &&
	       gk_prefix_match(v->proxy.from, v->proxy.n, (const struct sockaddr *)peer);
}
