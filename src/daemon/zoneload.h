/* SPDX-License-Identifier: MIT */
/* src/daemon/zoneload.h -- start-up zone loading: parallel, served from the first moment.
 *
 * At start every configured zone gets a placeholder in the store (zone/zone.h
 * gk_zone_ver_placeholder: its names answer SERVFAIL, as Knot answers for a zone it has not
 * loaded), so queries are answered as soon as the listeners are up. A pool of loader
 * threads (one per available core, gk_zload) builds the zones in configuration order; the
 * main loop publishes each version as it arrives (the store's single writer), a zone at a
 * time, so every zone answers as soon as it is loaded and no zone waits for the slowest.
 * A zone that fails to load is logged with file and line and keeps its placeholder
 * (SERVFAIL; counted as failed in the metrics) until a reload loads it. Progress (loaded,
 * rate, remaining, failed) is logged every PROGRESS seconds; readiness (no zone left
 * loading) is one log line ("ready: loaded N zones ...") and gatekeeper_zones_ready.
 *
 * Threads: everything on the main loop's thread, except what runs on the loader threads
 * inside (building only).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "gk/errors.h"
#include "obs/obs.h"
#include "zone/zone.h"

struct gk_psl;
typedef struct gk_zoneload gk_zoneload_t;

/* Called on the main loop: after each batch of versions published (wake the readers so
 * the placeholders they replaced are reclaimed), and once when loading is over. */
typedef struct gk_zoneload_cbs {
	void (*published)(void *ctx);
	void (*ready)(void *ctx);
	/* One zone is done: published (err NULL) or failed (err: one line, valid during the
	 * call; its placeholder stays). May be NULL. */
	void (*zone)(void *ctx, const gk_zone_spec_t *spec, const char *err);
	void *ctx;
} gk_zoneload_cbs_t;

/* Publish a placeholder for each of specs[0..n) in zs; gk_daemon_zoneload_run starts building
 * them. specs, psl and zs must outlive the loader (until gk_daemon_zoneload_close); specs' paths
 * may be rewritten in place until gk_daemon_zoneload_run (chroot:, daemon/service.c). source names
 * the config for the log lines (copied). Versions are published on loop's thread once it
 * runs. Returns 0, GK_EINVAL (a bad zone name; err names it) or GK_ENOMEM / GK_EAGAIN; on
 * error nothing is running (placeholders published so far stay in zs). Main thread. */
GK_MUST_CHECK int gk_daemon_zoneload_start(uv_loop_t *loop, gk_zoneset_t *zs,
                                           const gk_zone_spec_t *specs, size_t n,
                                           const struct gk_psl *psl, const char *source,
                                           const gk_zoneload_cbs_t *cbs, gk_zoneload_t **out,
                                           char *err, size_t errlen);

/* Start the loader threads (once; later calls do nothing). Returns 0, or an error with err
 * set (then no zone will load: the caller stops the start). Main thread. */
GK_MUST_CHECK int gk_daemon_zoneload_run(gk_zoneload_t *zl, char *err, size_t errlen);

/* True once no zone is left loading (every one loaded or failed). NULL: true. */
bool gk_daemon_zoneload_ready(const gk_zoneload_t *zl);

/* The figures gatekeeper_zones* report (obs/obs.h gk_obs_zones_fn; arg is the loader). */
void gk_daemon_zoneload_figures(void *zl, gk_obs_zones_t *z);

/* Stop the loader threads (a zone being built is finished and dropped), close the loader's
 * handles; its memory goes in their close callbacks, so the loop must run afterwards.
 * NULL is ignored. Main thread. */
void gk_daemon_zoneload_close(gk_zoneload_t *zl);
