/* SPDX-License-Identifier: MIT */
/* src/daemon/notify.h -- telling systemd how the daemon is (sd_notify, Type=notify).
 *
 * Under a unit of Type=notify systemd passes NOTIFY_SOCKET; libsystemd's sd_notify writes
 * to it. The daemon says READY=1 once it serves everything it was configured with (zones,
 * the filing-status replica's first full load, the policy), RELOADING=1 and READY=1 around
 * each reload, STOPPING=1 when it stops, and a STATUS= line (zones, registry serial,
 * policy); with WatchdogSec= in the unit (WATCHDOG_USEC), WATCHDOG=1 from the main loop at
 * half the interval, so a main loop that hangs is restarted. Without NOTIFY_SOCKET nothing
 * is sent and no timer runs. Main loop thread only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "gk/errors.h"

typedef struct gk_notify gk_notify_t;

/* What the daemon reports: ready() returns whether everything is loaded and writes the
 * STATUS= text into status (statuslen octets). Called on the main loop. */
typedef bool (*gk_notify_ready_fn)(void *ctx, char *status, size_t statuslen);

/* Start on loop: polls ready() every 50 ms until it says yes (sending its STATUS= once a
 * second meanwhile: zones loading), then sends READY=1 with its STATUS= and refreshes
 * STATUS= every 5 s; runs the watchdog timer when systemd asks for
 * one. *out is NULL (and 0 returned) without NOTIFY_SOCKET. Returns 0 or a libuv error. */
GK_MUST_CHECK int gk_daemon_notify_start(uv_loop_t *loop, gk_notify_ready_fn ready, void *ctx,
                                         gk_notify_t **out);

/* RELOADING=1 before a reload; READY=1 and the STATUS= after it (only once READY=1 was
 * sent at start). NULL: nothing. */
void gk_daemon_notify_reloading(gk_notify_t *n);
void gk_daemon_notify_reloaded(gk_notify_t *n);

/* STOPPING=1 and close the timers (the loop can then end). NULL: nothing. */
void gk_daemon_notify_stopping(gk_notify_t *n);

/* Free after the loop has closed every handle (gk_daemon_notify_stopping, or a uv_walk closing
 * them all). NULL is ignored. */
void gk_daemon_notify_free(gk_notify_t *n);
