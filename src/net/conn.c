/* SPDX-License-Identifier: MIT */
/* src/net/conn.c -- what TCP (tcp.c) and TLS (tls_conn.c) connections share: the
 * connection core (pool, listeners, accept, activity list, close, eviction at the cap; see
 * internal.h), and the peer address and PROXY check at accept. Loop thread of the worker. */
#include "common/log.h"
#include "common/prefix.h"
#include "common/snapshot.h"
#include "net/internal.h"
#include "obs/obs.h"

#define EVICT_SCAN 64u

/* The connection to close at the cap: among the first EVICT_SCAN on the activity list,
 * the least recently active one that the kind says is idle (nothing queued or buffered),
 * else the head (NULL when none is open). */
static gk_net_conn_t *evict_pick(const gk_net_pool_t *p)
{
	unsigned n = 0;
	for (gk_net_link_t *x = p->lru.head; x != NULL && n < EVICT_SCAN; x = x->next, n++)
		if (p->ops->idle(GK_NET_ENTRY(x, gk_net_conn_t, lru)))
			return GK_NET_ENTRY(x, gk_net_conn_t, lru);
	return p->lru.head ? GK_NET_ENTRY(p->lru.head, gk_net_conn_t, lru) : NULL;
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

/* ---- the connection core ---------------------------------------------------------------- */

void gk_net_pool_init(gk_net_pool_t *p, struct gk_worker *w, const gk_net_pool_ops_t *ops,
                      const char *what, uint64_t *accepted, uint64_t *evicted)
{
	*p = (gk_net_pool_t){
	    .w = w, .ops = ops, .what = what, .accepted = accepted, .evicted = evicted};
}

void gk_net_pool_add(gk_net_pool_t *p, gk_net_conn_t *c)
{
	c->pool = p;
	c->next_free = p->free;
	p->free = c;
}

void gk_net_conn_touch(gk_net_conn_t *c)
{
	gk_net_pool_t *p = c->pool;
	c->last_active = uv_now(&p->w->loop);
	gk_net_list_remove(&p->lru, &c->lru);
	gk_net_list_append(&p->lru, &c->lru);
}

static void accept_one(gk_net_listener_t *l);

static void close_cb(uv_handle_t *h)
{
	gk_net_conn_t *c = h->data;
	gk_net_pool_t *p = c->pool;
	p->ops->closed(c);
	c->closing = false;
	gk_net_pool_add(p, c);
	p->n_open--;
	p->n_closing--;
	if (p->w->stopped)
		return;
	for (gk_net_listener_t *l = p->listeners; l != NULL && p->free != NULL; l = l->next) {
		if (l->pending) {
			l->pending = false;
			accept_one(l);
		}
	}
}

void gk_net_conn_close(gk_net_conn_t *c)
{
	if (c->closing)
		return;
	gk_net_pool_t *p = c->pool;
	c->closing = true;
	p->n_closing++;
	gk_net_list_remove(&p->lru, &c->lru);
	p->ops->closing(c);
	uv_close((uv_handle_t *)&c->h, close_cb);
}

void gk_net_pool_close_all(gk_net_pool_t *p)
{
	while (p->lru.head != NULL)
		gk_net_conn_close(GK_NET_ENTRY(p->lru.head, gk_net_conn_t, lru));
}

/* At the cap: close the least recently active connection that has nothing queued (or the
 * least recently active one) unless enough closes are already under way. */
static void evict_one(gk_net_pool_t *p)
{
	unsigned pending = 0;
	for (const gk_net_listener_t *l = p->listeners; l != NULL; l = l->next)
		pending += l->pending;
	if (p->n_closing >= pending)
		return; /* enough connections are closing already */
	gk_net_conn_t *victim = evict_pick(p);
	if (victim == NULL)
		return;
	gk_counter_inc(p->evicted);
	gk_net_conn_close(victim);
}

static void accept_one(gk_net_listener_t *l)
{
	gk_net_pool_t *p = l->pool;
	struct gk_worker *w = p->w;
	gk_net_conn_t *c = p->free;
	if (c == NULL) {
		l->pending = true;
		evict_one(p);
		return;
	}
	if (uv_tcp_init(&w->loop, &c->h) != 0)
		return;
	p->free = c->next_free;
	c->h.data = c;
	c->next_free = NULL;
	c->lru.prev = c->lru.next = NULL;
	c->closing = c->proxy_wait = false;
	c->peer.ss_family = 0;
	c->gen++;
	c->last_active = uv_now(&w->loop);
	gk_net_list_append(&p->lru, &c->lru);
	p->n_open++;
	if (uv_accept((uv_stream_t *)&l->h, (uv_stream_t *)&c->h) != 0) {
		gk_net_conn_close(c);
		return;
	}
	gk_counter_inc(p->accepted);
	c->proxy_wait = gk_net_accept_peer(w, &c->h, &c->peer);
	uv_tcp_nodelay(&c->h, 1);
	p->ops->accepted(c, l);
}

static void on_connection(uv_stream_t *server, int status)
{
	gk_net_listener_t *l = server->data;
	if (status < 0) {
		gk_log(GK_LOG_DEBUG, "worker %u: %s accept: %s", l->pool->w->id, l->pool->what,
		       uv_strerror(status));
		return;
	}
	accept_one(l);
}

int gk_net_listener_start(gk_net_pool_t *p, gk_net_listener_t *l)
{
	l->pool = p;
	int rc = uv_tcp_init(&p->w->loop, &l->h);
	if (rc != 0)
		return rc;
	l->h.data = l;
	rc = uv_tcp_open(&l->h, l->fd);
	if (rc != 0)
		return rc;
	l->fd = -1;
	gk_net_listener_t **at = &p->listeners; /* in the order started */
	while (*at != NULL)
		at = &(*at)->next;
	l->next = NULL;
	*at = l;
	return uv_listen((uv_stream_t *)&l->h, 1024, on_connection);
}
