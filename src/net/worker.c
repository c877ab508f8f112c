/* SPDX-License-Identifier: MIT */
/* src/net/worker.c -- a worker: one thread, one libuv loop, its own sockets and pools.
 *
 * gk_net_worker_create() does everything that can fail on the control thread (bind, allocate,
 * initialise handles), so start-up errors are reported before any thread runs; the loop is
 * then handed to the worker thread, which is its only user until it ends. The quiescent
 * point for snapshots is a prepare handle: it runs once per loop iteration, outside every
 * I/O callback, just before the loop blocks. Each UDP socket is served by a thread of its own
 * (udp.c), started with the loop's thread and joined before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "net/internal.h"
#include "common/thread.h"
#include "front/fwd.h"
#include "obs/dnstap.h"
#include "obs/obs.h"

static void quiesce_cb(uv_prepare_t *p)
{
	struct gk_worker *w = p->data;
	gk_snapshot_quiescent(w->view, w->id);
}

static void wake_cb(uv_async_t *a)
{
	(void)a; /* the loop iteration itself is the point: quiesce_cb runs next */
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_cb(uv_async_t *a)
{
	struct gk_worker *w = a->data;
	w->stopped = true;
	gk_net_tcp_close_all(w); /* connections need their own close callback (pool) */
	gk_net_tls_close_all(w);
	uv_walk(&w->loop, close_walk_cb, NULL);
}

static void run(void *arg)
{
	struct gk_worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "gk-worker-%u", w->id);
	gk_thread_name(name);
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Close whatever was initialised, drain the loop, close fds libuv never took. Control
 * thread, worker not running. */
static void teardown(struct gk_worker *w)
{
	if (w->loop_ready) {
		w->stopped = true;
		gk_net_tcp_close_all(w);
		gk_net_tls_close_all(w);
		uv_walk(&w->loop, close_walk_cb, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&w->loop) != 0)
			gk_log(GK_LOG_ERR, "worker %u: loop still busy at close", w->id);
		w->loop_ready = false;
	}
	gk_net_udp_close_loops(w);
	for (size_t i = 0; i < w->n_addrs; i++) {
		if (w->udp != NULL && w->udp[i].fd >= 0)
			close(w->udp[i].fd);
		if (w->tcp != NULL && w->tcp[i].fd >= 0)
			close(w->tcp[i].fd);
	}
}

static void release(struct gk_worker *w)
{
	gk_net_udp_free(w);
	gk_net_tcp_free(w);
	gk_net_tls_free(w);
	gk_front_fwd_free(w->fwd);
	free(w->udp);
	free(w->tcp);
	free(w);
}

static int setup(struct gk_worker *w, const gk_net_params_t *p, char *err, size_t errlen)
{
	int rc;
	for (size_t i = 0; i < p->n_addrs && p->id == 0; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&p->addrs[i].addr;
		if ((rc = gk_net_probe(sa, p->addrs[i].addrlen, SOCK_DGRAM)) != 0 ||
		    (rc = gk_net_probe(sa, p->addrs[i].addrlen, SOCK_STREAM)) != 0) {
			snprintf(err, errlen, "%s: %s", p->addrs[i].text, gk_strerror(rc));
			return rc;
		}
	}
	for (size_t i = 0; i < p->n_addrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&p->addrs[i].addr;
		rc = gk_net_udp_socket(sa, p->addrs[i].addrlen);
		if (rc < 0) {
			snprintf(err, errlen, "udp %s: %s", p->addrs[i].text, gk_strerror(rc));
			return rc;
		}
		w->udp[i].fd = rc;
		rc = gk_net_tcp_socket(sa, p->addrs[i].addrlen);
		if (rc < 0) {
			snprintf(err, errlen, "tcp %s: %s", p->addrs[i].text, gk_strerror(rc));
			return rc;
		}
		w->tcp[i].fd = rc;
	}
	for (size_t i = 0; i < p->n_addrs; i++) {
		w->udp[i].reader = p->udp_reader0 + (unsigned)i;
		w->udp[i].obs = p->udp_obs ? p->udp_obs[i] : NULL;
		if (p->rrl_table_size && gk_rrl_new(p->rrl_table_size, &w->udp[i].rrl) != 0) {
			snprintf(err, errlen, "worker %u: out of memory", w->id);
			return GK_ENOMEM;
		}
	}
	if ((rc = gk_net_udp_init(w)) != 0) {
		snprintf(err, errlen, "worker %u: udp: %s", w->id, gk_strerror(rc));
		return rc;
	}
	if (gk_net_tcp_init(w) != 0) {
		snprintf(err, errlen, "worker %u: out of memory", w->id);
		return GK_ENOMEM;
	}
	if ((rc = uv_loop_init(&w->loop)) != 0)
		goto uverr;
	w->loop_ready = true;
	if ((rc = uv_async_init(&w->loop, &w->stop_async, stop_cb)) != 0 ||
	    (rc = uv_async_init(&w->loop, &w->wake_async, wake_cb)) != 0 ||
	    (rc = uv_prepare_init(&w->loop, &w->quiesce)) != 0 ||
	    (rc = uv_timer_init(&w->loop, &w->idle_timer)) != 0)
		goto uverr;
	w->stop_async.data = w->wake_async.data = w->quiesce.data = w->idle_timer.data = w;
	if ((rc = uv_prepare_start(&w->quiesce, quiesce_cb)) != 0)
		goto uverr;
	uint64_t tick = w->idle_ms / 4;
	tick = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
	if ((rc = uv_timer_start(&w->idle_timer, gk_net_tcp_idle_tick, tick, tick)) != 0)
		goto uverr;
	for (size_t i = 0; i < p->n_addrs; i++) {
		if ((rc = gk_net_tcp_start(w, &w->tcp[i])) != 0) {
			snprintf(err, errlen, "tcp %s: %s", p->addrs[i].text, uv_strerror(rc));
			return rc;
		}
	}
	uint16_t eum = p->edns_udp_max ? p->edns_udp_max : 1232;
	if (p->front != NULL) {
		if ((rc = gk_front_fwd_new(&w->loop, p->front, eum, p->front_cache_parts, 1,
		                           &w->fwd, err, errlen)) != 0)
			return rc;
		gk_net_fwd_tap_set(w->fwd, p->obs);
		gk_front_fwd_set_opts(w->fwd, gk_net_view_opts, w);
		if ((rc = gk_net_udp_front(w, p->front, eum, p->front_cache_parts, err, errlen)) !=
		    0)
			return rc;
	}
	if (p->n_tls > 0)
		return gk_net_tls_start(w, p, err, errlen);
	return 0;
uverr:
	snprintf(err, errlen, "worker %u: libuv: %s", w->id, uv_strerror(rc));
	return rc;
}

static bool fwd_tap(void *tap, unsigned ring, bool response, bool tcp,
                    const struct sockaddr *backend, const uint8_t *msg, size_t len, uint64_t rtt_us,
                    const char *pool, size_t pool_len)
{
	return gk_obs_tap_push_fwd(tap, ring, response, tcp, backend, msg, len, rtt_us, pool,
	                           pool_len);
}

const gk_pkt_opts_t *gk_net_view_opts(void *ctx)
{
	const gk_worker_t *w = ctx;
	const gk_net_view_t *v = gk_snapshot_read(w->view);
	return v ? &v->opts : NULL;
}

void gk_net_fwd_tap_set(struct gk_fwd *fwd, gk_obs_worker_t *obs)
{
	unsigned ring = 0;
	gk_tap_t *tap = gk_obs_worker_tap(obs, &ring);
	if (fwd != NULL && tap != NULL && gk_obs_tap_forwarded(tap))
		gk_front_fwd_set_tap(fwd, fwd_tap, tap, ring);
}

int gk_net_worker_create(const gk_net_params_t *p, gk_worker_t **out, char *err, size_t errlen)
{
	char dummy[1];
	if (errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (p->n_addrs == 0 || p->tcp_max_connections == 0 || p->tcp_max_pipelined == 0 ||
	    p->view == NULL)
		return GK_EINVAL;
	struct gk_worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return GK_ENOMEM;
	w->id = p->id;
	w->view = p->view;
	w->notify = p->notify;
	w->notify_ctx = p->notify_ctx;
	w->n_addrs = p->n_addrs;
	w->max_conns = p->tcp_max_connections;
	w->idle_ms = p->tcp_idle_timeout_ms;
	w->max_pipelined = p->tcp_max_pipelined;
	w->udp_linger_us = p->udp_linger_us;
	w->udp_priority = p->udp_priority;
	w->obs = p->obs;
	w->udp = calloc(p->n_addrs, sizeof(*w->udp));
	w->tcp = calloc(p->n_addrs, sizeof(*w->tcp));
	if (w->udp == NULL || w->tcp == NULL) {
		free(w->udp);
		free(w->tcp);
		free(w);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < p->n_addrs; i++)
		w->udp[i].fd = w->tcp[i].fd = -1;
	int rc = setup(w, p, err, errlen);
	if (rc != 0) {
		teardown(w);
		release(w);
		return rc;
	}
	*out = w;
	return 0;
}

int gk_net_worker_start(gk_worker_t *w)
{
	int rc = uv_thread_create(&w->thread, run, w);
	if (rc != 0)
		return rc;
	w->started = true;
	for (size_t i = 0; i < w->n_addrs; i++)
		if ((rc = gk_net_udp_start(&w->udp[i])) != 0)
			return rc; /* the caller frees the worker: gk_net_worker_stop joins what
			              runs */
	return 0;
}

size_t gk_net_worker_fwds(const gk_worker_t *w, struct gk_fwd **out, size_t max)
{
	size_t n = 0;
	if (w->fwd != NULL && n < max)
		out[n++] = w->fwd;
	for (size_t i = 0; i < w->n_addrs; i++)
		if (w->udp[i].fwd != NULL && n < max)
			out[n++] = w->udp[i].fwd;
	return n;
}

void gk_net_worker_wake(gk_worker_t *w)
{
	uv_async_send(&w->wake_async);
}

void gk_net_worker_stop(gk_worker_t *w)
{
	gk_net_udp_stop(w);
	if (!w->started)
		return;
	uv_async_send(&w->stop_async);
	uv_thread_join(&w->thread);
	w->started = false;
	if (uv_loop_close(&w->loop) != 0)
		gk_log(GK_LOG_ERR, "worker %u: loop still busy at close", w->id);
	w->loop_ready = false;
}

void gk_net_worker_free(gk_worker_t *w)
{
	if (w == NULL)
		return;
	gk_net_worker_stop(w);
	teardown(w);
	release(w);
}

_Static_assert(sizeof(gk_net_counters_t) % sizeof(uint64_t) == 0, "counters are uint64_t");
#define NET_NCTR (sizeof(gk_net_counters_t) / sizeof(uint64_t))

void gk_net_worker_counters_read(const gk_worker_t *w, gk_net_counters_t *sum)
{
	gk_counter_sum((const uint64_t *)&w->ctr, NET_NCTR, (uint64_t *)sum);
	for (size_t i = 0; i < w->n_addrs; i++)
		gk_counter_sum((const uint64_t *)&w->udp[i].ctr, NET_NCTR, (uint64_t *)sum);
}
