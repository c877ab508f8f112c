/* SPDX-License-Identifier: MIT */
/* src/xfr/secondary.h -- secondary zones: refresh, transfer, persist and publish.
 *
 * One transfer thread with its own libuv loop keeps every secondary zone of the config: SOA
 * refresh, retry and expire timers with jitter (RFC 1034 section 4.3.5), RFC 1982 serial
 * comparison (an older serial from a primary is logged, counted and ignored), IXFR with
 * fall-back to AXFR (xfr.h), at most max_transfers exchanges at once. A transferred zone is
 * compiled there (gk_zone_ver_build from its text: the same checks as a master file), saved
 * atomically in the configured directory (temporary file, fsync, rename, directory fsync)
 * and handed to the main loop, which publishes it with gk_zone_store_put: other zones and the
 * query threads never wait. A zone past its expire without a successful refresh is
 * republished answering SERVFAIL, and served again after the next successful refresh.
 *
 * NOTIFY (RFC 1996) arrives on the query threads: gk_xfr_secondary_notify answers it at once
 * (NOERROR + AA echoing the question, as NSD, TSIG-signed when the primary has a key;
 * REFUSED for an unknown zone, source or key, counted) and queues an immediate SOA check
 * through a bounded lock-free ring and a uv_async: it never blocks.
 *
 * At start (gk_xfr_secondary_create, main thread, before the first refresh) each zone's
 * persisted file is loaded and published, so a restart serves without asking any primary.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <uv.h>

#include "gk/errors.h"
#include "xfr/conf.h"
#include "zone/zone.h"

typedef struct gk_secondary gk_secondary_t;
struct gk_psl;
struct gk_fzones;

/* Set up the secondary zones of conf on the main loop main: load the persisted ones into zs
 * (their versions published at once) and prepare the transfer thread. published(ctx) runs
 * on the main loop after zone versions were put (or retired), so the caller can drive its
 * reclamation. conf, zs and psl must outlive the object. Returns 0, or GK_EIO (the
 * directory cannot be created) / GK_ENOMEM with err set. A persisted file that does not
 * load is logged and the zone waits for its first transfer. Main thread. */
GK_MUST_CHECK int gk_xfr_secondary_create(uv_loop_t *main, gk_zoneset_t *zs,
                                          const gk_xfr_conf_t *conf, const struct gk_psl *psl,
                                          void (*published)(void *ctx), void *ctx,
                                          gk_secondary_t **out, char *err, size_t errlen);

/* Start the transfer thread: every zone gets its first SOA check (at once for a zone
 * without data, within a jittered refresh interval otherwise). Returns 0 or a libuv error.
 * Main thread. */
GK_MUST_CHECK int gk_xfr_secondary_start(gk_secondary_t *s);

/* Answer a NOTIFY request msg[0..len) (opcode NOTIFY, QR clear) from from: the response
 * goes to out (cap octets), its length to *outlen (0: send nothing). Any thread, lock-free,
 * never blocks. A signed NOTIFY is checked and its answer signed with one of 64 TSIG
 * contexts made at creation (no OpenSSL fetch or context allocation here; OpenSSL 3.0's
 * HMAC still allocates its digest state internally); when all 64 are in use at once the
 * NOTIFY is dropped unanswered (counted; the primary sends it again). */
void gk_xfr_secondary_notify(gk_secondary_t *s, const uint8_t *msg, size_t len,
                             const struct sockaddr *from, uint8_t *out, size_t cap, size_t *outlen);

/* Force an SOA check of zone name (presentation form) now: queued to the transfer thread
 * like a NOTIFY (a check in progress is followed by another). Returns 0, GK_ENOENT (not a
 * secondary zone) or GK_EAGAIN (the queue is full: try again). Main thread. */
GK_MUST_CHECK int gk_xfr_secondary_refresh(gk_secondary_t *s, const char *name);

/* The number of secondary zones (0 for NULL), indexed 0..n-1 for gk_xfr_secondary_status_at. */
size_t gk_xfr_secondary_count(const gk_secondary_t *s);

/* The index of secondary zone name (presentation form, any case), or -1 (also for a NULL
 * s). Any thread. */
long gk_xfr_secondary_find(gk_secondary_t *s, const char *name);

/* Format zone i's state into buf (cap octets, truncated to fit) as blank-separated fields
 * for `gkctl zone status` (docs/CONTROL.md): primary=ADDR (the one asked last) serial=S
 * last_refresh=T last_transfer=KIND,OCTETS,T next_refresh=T expire=T [expired] checks=N
 * failures=N last_error=TEXT, times in UTC ISO 8601, "-" for none; last_error is last and
 * may hold blanks. Returns the zone's name. Main thread (reads under the state lock). */
const char *gk_xfr_secondary_status_at(gk_secondary_t *s, size_t i, char *buf, size_t cap);

/* Whether zone i is a forwarded catalog member (its status line then reads `pool=NAME
 * catalog=NAME`). Main thread. */
bool gk_xfr_secondary_forwarded_at(gk_secondary_t *s, size_t i);

/* Catalog members whose group's template forwards (`forward: POOL`, conf.h) are not
 * transferred: they are forwarded zones of their pool, as a zones entry with forward is.
 * This is the table of them (pkt/fzones.h, pool indexes of the config's pools) as of the
 * last catalog change handed to the main loop, or NULL when no member is forwarded (NULL
 * s too). Borrowed: valid until the next published(ctx) callback; take a reference
 * (gk_pkt_fzones_hold) to keep it. After each catalog change that adds, removes or
 * regroups a forwarded member, published(ctx) runs with a new table: the caller publishes
 * a view that forwards with it (config's forwarded zones first, then this, as
 * gk_pkt_fzones_stack joins them). A member that moves from a transferring group to a
 * forwarding one keeps its transferred version in the store until every query thread has
 * passed a quiescent point after that callback, so no query meets neither. At
 * gk_xfr_secondary_create the members the persisted catalogs forward are in it already.
 * Main thread. */
struct gk_fzones *gk_xfr_secondary_forwarded(const gk_secondary_t *s);

/* Append the Prometheus exposition of the secondary zones (docs/METRICS.md) to f. Main. */
void gk_xfr_secondary_metrics(gk_secondary_t *s, FILE *f);

/* Stop the thread (exchanges in flight are abandoned; their results are not published)
 * and free everything. The main loop must run afterwards so the async handle closes. NULL
 * ignored. Main thread. */
void gk_xfr_secondary_free(gk_secondary_t *s);
