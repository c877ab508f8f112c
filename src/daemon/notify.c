/* SPDX-License-Identifier: MIT */
/* src/daemon/notify.c -- sd_notify messages and the watchdog timer on the main loop.
 *
 * Readiness is polled (ready() reads a few fields the main loop owns) rather than signalled
 * from each subsystem: the status replica's first load completes on its own thread, and a
 * 50 ms poll until then costs nothing next to the load itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include "common/log.h"
#include "daemon/notify.h"

#define POLL_MS     50u
#define STATUS_MS   5000u
#define PROGRESS_MS 1000u /* STATUS= while not ready yet (zones loading) */

struct gk_notify {
	uv_timer_t poll, dog;
	bool dog_on, ready_sent, closed;
	uint64_t progress_at; /* uv_now of the last STATUS= before READY=1 (0: none yet) */
	gk_notify_ready_fn ready;
	void *ctx;
};

static void send_status(gk_notify_t *n, const char *prefix)
{
	char status[256] = "";
	bool ok = n->ready(n->ctx, status, sizeof(status));
	(void)ok;
	int r = sd_notifyf(0, "%sSTATUS=%s", prefix, status);
	if (r < 0)
		gk_log(GK_LOG_WARN, "sd_notify: %s", strerror(-r));
}

static void poll_cb(uv_timer_t *t)
{
	gk_notify_t *n = t->data;
	char status[256] = "";
	if (!n->ready_sent) {
		if (!n->ready(n->ctx, status, sizeof(status))) {
			uint64_t now = uv_now(t->loop);
			if (n->progress_at == 0 || now - n->progress_at >= PROGRESS_MS) {
				n->progress_at = now ? now : 1;
				(void)sd_notifyf(0, "STATUS=%s", status);
			}
			return;
		}
		n->ready_sent = true;
		int r = sd_notifyf(0, "READY=1\nSTATUS=%s", status);
		if (r < 0)
			gk_log(GK_LOG_WARN, "sd_notify READY=1: %s", strerror(-r));
		else
			gk_log(GK_LOG_INFO, "systemd: READY=1 (%s)", status);
		uv_timer_set_repeat(t, STATUS_MS);
		return;
	}
	send_status(n, "");
}

static void dog_cb(uv_timer_t *t)
{
	(void)t;
	(void)sd_notify(0, "WATCHDOG=1");
}

int gk_daemon_notify_start(uv_loop_t *loop, gk_notify_ready_fn ready, void *ctx, gk_notify_t **out)
{
	*out = NULL;
	const char *sock = getenv("NOTIFY_SOCKET");
	if (sock == NULL || *sock == '\0')
		return 0;
	gk_notify_t *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return UV_ENOMEM;
	n->ready = ready;
	n->ctx = ctx;
	uv_timer_init(loop, &n->poll);
	uv_timer_init(loop, &n->dog);
	n->poll.data = n->dog.data = n;
	int rc = uv_timer_start(&n->poll, poll_cb, 0, POLL_MS);
	uint64_t usec = 0;
	if (rc == 0 && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		uint64_t ms = usec / 2000u;
		rc = uv_timer_start(&n->dog, dog_cb, 0, ms ? ms : 1);
		n->dog_on = rc == 0;
		if (rc == 0)
			gk_log(GK_LOG_INFO, "systemd: watchdog every %llu ms",
			       (unsigned long long)(ms ? ms : 1));
	}
	*out = n;
	return rc;
}

void gk_daemon_notify_reloading(gk_notify_t *n)
{
	if (n == NULL || n->closed)
		return;
	uint64_t mono = uv_hrtime() / 1000u;
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	                 (unsigned long long)mono);
}

void gk_daemon_notify_reloaded(gk_notify_t *n)
{
	if (n == NULL || n->closed)
		return;
	send_status(n, n->ready_sent ? "READY=1\n" : "");
}

void gk_daemon_notify_stopping(gk_notify_t *n)
{
	if (n == NULL || n->closed)
		return;
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	n->closed = true;
	uv_close((uv_handle_t *)&n->poll, NULL);
	uv_close((uv_handle_t *)&n->dog, NULL);
}

void gk_daemon_notify_free(gk_notify_t *n)
{
	free(n);
}
