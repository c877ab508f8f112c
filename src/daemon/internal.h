/* SPDX-License-Identifier: MIT */
/* src/daemon/internal.h -- the server's state and what its source files share.
 *
 * server.c starts and stops the daemon (gk_daemon_server_create/run/free, start_* / stop_*);
 * view.c owns the published view (build, copy, publish, reclamation of old views, zone
 * versions and status memory); policy.c the policy references and the fleet-policy
 * hand-off; reload.c SIGHUP (config, policy, zones) and the report of settings that need a
 * restart. Everything here runs on the main loop unless a comment says otherwise.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "common/psl.h"
#include "common/snapshot.h"
#include "daemon/config.h"
#include "daemon/notify.h"
#include "daemon/server.h"
#include "net/net.h"
#include "obs/discovery.h"
#include "obs/dnstap.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "policy/policy.h"
#include "polsync/polsync.h"
#include "status/status.h"
#include "xfr/secondary.h"

/* A policy shared by consecutive views; counted on the main thread only. */
struct gk_daemon_polref {
	gk_policy_t *p;
	unsigned refs;
	uint64_t version; /* fleet version (gkctl push), 0 for a policy file */
};

/* What the view cell publishes: net reads the gk_net_view_t at its start. */
struct gk_daemon_view {
	gk_net_view_t v;              /* v.zs: the server's store (borrowed) */
	struct gk_daemon_polref *pol; /* or NULL: no policy */
	gk_status_retired_t *retired; /* status memory freed with this view */
	struct gk_daemon_fzref *fz;   /* v.opts.fwd's owner (shared by copies), or NULL */
};

struct gk_server {
	uv_loop_t loop;
	bool loop_ready, stopping;
	uv_signal_t sighup, sigterm, sigint;
	uv_timer_t reclaim;
	gk_config_t *boot; /* config the sockets and pools were built from */
	gk_config_t *cur;  /* latest config loaded successfully (may be boot) */
	gk_snapshot_t *view;
	gk_zoneset_t *zs;          /* the zone store, shared by every view */
	struct gk_zoneload *zload; /* start-up loading (daemon/zoneload.h) */
	gk_worker_t **workers;
	unsigned n_workers;
	gk_status_t *status;                 /* NULL without redis */
	gk_disc_t *disc;                     /* discovery counting, NULL when off */
	gk_psl_t *psl;                       /* opened once when the filing check is on */
	uv_timer_t retire;                   /* one-shot, armed through retire_async */
	uv_async_t retire_async;             /* the status thread retired memory */
	uv_async_t polnote_async;            /* the status tail saw a policy entry: tell polsync */
	gk_status_retired_t *retire_pending; /* taken but not yet attached (publish failed) */
	struct gk_daemon_polref *pol; /* the policy in force (a reference of its own), or NULL */
	bool pol_fleet; /* pol came from the fleet (Redis): policy.file no longer applies */
	gk_obs_t *obs;  /* per-worker counters (obs/obs.h) */
	gk_tap_t *tap;  /* decision log, or NULL */
	gk_metrics_http_t *metrics; /* Prometheus endpoint, or NULL */
	/* fleet policy (policy.redis): the polsync thread hands versions over through here */
	gk_polsync_t *polsync;
	gk_notify_t *notify; /* systemd notifications (daemon/notify.h), NULL when not under it */
	uv_async_t pol_async;
	uv_mutex_t pol_mu;
	bool pol_mu_ready;
	gk_policy_t *pol_next; /* under pol_mu */
	uint64_t pol_next_version;
	char pol_next_key[80];
	gk_secondary_t *sec;     /* secondary zones (xfr/secondary.h), or NULL */
	struct gk_tls_ctx **tls; /* per boot->tls listener (daemon/tls.c), or NULL */
	/* zones and the control channel (zones.c) */
	struct gk_daemon_zcat *zcat; /* the zone catalogue, NULL only after out of memory */
	uint64_t zcat_gen;           /* catalogue rebuilds so far */
	struct gk_control *control;  /* or NULL: no control section */
	/* zone builds not yet published: on the thread pool, plus one for start-up loading */
	unsigned zone_builds;
	bool reload_wanted; /* a SIGHUP came while zone_builds > 0 */
};

/* tls.c: DNS-over-TLS certificates. create reads boot->tls's certificates and keys (as
 * root, before the privilege drop) into s->tls and fills p's tls listeners (*tls_out,
 * freed by the caller with free()); reload re-reads next's files into the running
 * listeners (logging, per file, what failed: the old certificate keeps serving); free
 * after the workers stopped. */
int gk_daemon_tls_create(gk_server_t *s, gk_net_tls_t **tls_out, char *err, size_t errlen);
void gk_daemon_tls_reload(gk_server_t *s, const gk_config_t *next);
void gk_daemon_tls_free(gk_server_t *s);
/* --check: every tls listener's certificate and key load and match. 0 or an error, err
 * naming the listener and the file. */
int gk_daemon_tls_check(const gk_config_t *cfg, char *err, size_t errlen);

struct gk_daemon_sync_report {
	const char *what;
	char first[600];             /* the first error, for a failed start */
	const gk_zone_spec_t *specs; /* the specs synced, and per spec its error (strdup'ed) */
	char **errs;                 /* or NULL */
};

/* ---- policy.c ---------------------------------------------------------------------- */

/* A new reference-counted policy holding p (taken) with one reference; NULL when out of
 * memory (p is then still the caller's). */
struct gk_daemon_polref *gk_daemon_polref_new(gk_policy_t *p, uint64_t version);

/* Drop one reference; the last one frees the policy. NULL is ignored. */
void gk_daemon_polref_put(struct gk_daemon_polref *r);

/* Compile cfg's policy file into *out (NULL when cfg has none). Returns 0 or an error with
 * err naming the file. */
GK_MUST_CHECK int gk_daemon_policy_load_file(const gk_config_t *cfg, struct gk_daemon_polref **out,
                                             char *err, size_t errlen);

/* Log one line describing policy r ("<what> policy <src>: mode, lists, entries, bytes"). */
void gk_daemon_policy_log(const char *what, const struct gk_daemon_polref *r, const char *src);

/* policy.redis: create the follower and take the version it kept on disk (s->pol,
 * s->pol_fleet). Before the first view. Returns 0 or an error in err. */
GK_MUST_CHECK int gk_daemon_polsync_create(gk_server_t *s, char *err, size_t errlen);

/* Start the follower created above (nothing when there is none). */
GK_MUST_CHECK int gk_daemon_polsync_start(gk_server_t *s, char *err, size_t errlen);

/* ---- view.c ------------------------------------------------------------------------ */

/* A new view of store zs with cfg's packet options and a reference to pol (NULL: none, and
 * with a replica the default policy of cfg's filing.* rules, gk_daemon_config_default_policy).
 * It forwards cfg's forwarded zones and then members (the secondary's forwarded catalog
 * members, gk_xfr_secondary_forwarded; NULL: none; a reference is taken).
 * Returns 0 or GK_ENOMEM (err set). */
GK_MUST_CHECK int gk_daemon_view_build(gk_zoneset_t *zs, const gk_config_t *cfg,
                                       gk_status_t *status, const gk_psl_t *psl,
                                       struct gk_daemon_polref *pol, struct gk_fzones *members,
                                       struct gk_daemon_view **out, char *err, size_t errlen);

/* The secondary's forwarded catalog members changed (gk_xfr_secondary_forwarded): publish a
 * copy of the current view forwarding with the new table (the config's forwarded zones
 * kept). Nothing when the view has it already. Main loop. */
void gk_daemon_view_members(gk_server_t *s);

/* A copy of cur sharing its zone set and policy (references taken), without its retired
 * memory; NULL when out of memory. gk_daemon_view_free() undoes it. */
struct gk_daemon_view *gk_daemon_view_copy(const struct gk_daemon_view *cur);

/* Free a view (the snapshot cell's free function). */
void gk_daemon_view_free(void *p);

/* A view was published (or zone versions retired): wake the workers so each passes a
 * quiescent point, and reclaim what waits once they all have. */
void gk_daemon_view_published(gk_server_t *s);

/* The zone store's retire function (ctx: the server): obj waits on the view cell for
 * every reader's quiescent point; freed at once before the cell exists. */
void gk_daemon_zone_retire(void *ctx, void *obj, void (*free_fn)(void *));

/* Status thread: table memory was retired / a policy change was announced (they wake the
 * main loop through retire_async / polnote_async). */
void gk_daemon_on_status_retired(void *ctx);
void gk_daemon_on_status_policy(void *ctx);

/* Main loop: the callbacks of retire_async and polnote_async. */
void gk_daemon_retire_async_cb(uv_async_t *a);
void gk_daemon_polnote_async_cb(uv_async_t *a);

/* ---- service.c --------------------------------------------------------------------- */

/* Once every socket, listener and log file is open: drop root (user:/group:, daemon/
 * privs.h), start telling systemd (daemon/notify.h), log the rate-limiting settings.
 * Returns 0 or an error with err set. */
GK_MUST_CHECK int gk_daemon_service_start(gk_server_t *s, char *err, size_t errlen);

/* ---- reload.c ---------------------------------------------------------------------- */

/* gk_zone_store_sync's failure callback (ctx: a struct gk_daemon_sync_report): logs the zone
 * and keeps the first error. */
void gk_daemon_zone_failed(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err);

/* SIGHUP and the control channel's reload: re-read the config, the policy file and the
 * changed zones, publish a new view. Returns 0, or an error (err: one line) after which the
 * running state stays as it was; a zone that fails keeps its version and is reported in
 * the log and the zone catalogue, not here. */
int gk_daemon_reload(gk_server_t *s, char *err, size_t errlen);

/* ---- zones.c ------------------------------------------------------------------------ */

struct gk_daemon_zcat;

/* Rebuild the zone catalogue from cfg after the store was synced with cfg's zones: errs
 * (NULL, or cfg->n_zones entries, taken) holds each zone's build error. The catalogue
 * borrows cfg's strings: cfg must stay until the next adopt. Returns 0 or GK_ENOMEM (the
 * catalogue is then empty and zone commands fail until the next reload). */
int gk_daemon_zones_adopt(gk_server_t *s, const gk_config_t *cfg, char **errs);

/* The catalogue after a reload that kept the zones (gk_daemon_config_zones_take from old into cfg):
 * every entry's origin that named old's config, list or state file names cfg's; the
 * entries of cfg->zones[touched[0..nt)] (rebuilt or failed) and their errs (taken) are
 * updated; nothing else is rebuilt. Returns 0, or GK_ENOENT without a catalogue (then
 * adopt). Loop thread. */
int gk_daemon_zones_retake(gk_server_t *s, const gk_config_t *old, const gk_config_t *cfg,
                           const size_t *touched, size_t nt, char **errs);

/* Free a catalogue. NULL is ignored. */
void gk_daemon_zones_free(struct gk_daemon_zcat *z);

/* Start-up loading (zoneload.h) finished zone name: published, or failed with err (kept
 * for zone status). */
void gk_daemon_zones_loaded(gk_server_t *s, const char *name, const char *err);

/* A zone build (or start-up loading as a whole) is over: zone_builds goes down, and a
 * SIGHUP that waited for the last one runs. */
void gk_daemon_zones_build_done(gk_server_t *s);

/* Open the control socket (control section) on the main loop; 0 when there is none. */
GK_MUST_CHECK int gk_daemon_control_start(gk_server_t *s, char *err, size_t errlen);

/* Close the control socket and its connections (answers in progress are dropped). */
void gk_daemon_control_stop(gk_server_t *s);

/* front.c: the `stats` lines of the front end (forwarded queries, each pool and backend:
 * health, queries, timeouts); nothing without forwarded zones. Main loop. */
struct gk_control_req;
void gk_daemon_front_stats(gk_server_t *s, struct gk_control_req *req);
/* Every relay of the workers (front/fwd.h), allocated (the caller frees), *n of them; NULL
 * when out of memory. Main thread. */
struct gk_fwd **gk_daemon_fwds(gk_server_t *s, size_t *n);
