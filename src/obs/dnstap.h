/* SPDX-License-Identifier: MIT */
/* src/obs/dnstap.h -- the decision log: refusals (or every query) as dnstap, off the packet path.
 *
 * Each logged query becomes two dnstap messages, AUTH_QUERY (the query as received) and
 * AUTH_RESPONSE (the response sent; absent for the drop action); with conf.forwarded, the
 * front end's relays add a FORWARDER_QUERY for each query sent to a backend and a
 * FORWARDER_RESPONSE for each answer matched (gk_obs_tap_push_fwd), on the same rings, framed with
 * Frame Streams (content type "protobuf:dnstap.Dnstap") into a file or onto a unix socket, so
 * dnstap-ldns, fstrm_capture, dnstap-read and other dnstap tools read it. The Dnstap "extra" field
 * carries the decision as text: "status=unfiled action=refuse reason=unfiled
 * domain=foo.cn" (monitor mode adds "monitor=1").
 *
 * Path of an entry: the worker copies the query, the response and the client address into
 * a slot of its own single-producer single-consumer ring (fixed slots, allocated at
 * create: no allocation, lock or syscall on the worker), after a per-worker token bucket
 * admits it (gk_obs_query in obs.c; rate and burst from the config, drops counted). The
 * log thread drains every ring every GK_TAP_DRAIN_MS, encodes with protobuf-c and writes
 * the frames with one fstrm writev per drain. A file is rotated when it passes max_bytes
 * (FILE -> FILE.1 -> ... -> FILE.keep, the oldest removed; each file is a complete Frame
 * Streams file with its own start and stop frames). A unix socket that is not there or
 * goes away is retried every second; entries meanwhile are counted as lost, never queued
 * without bound.
 *
 * Threads: create/start/stop/free and gk_obs_tap_stats on the main thread; gk_obs_tap_push from
 * worker i on ring i only; everything else on the log thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "gk/errors.h"
#include "pkt/process.h"

#define GK_TAP_DRAIN_MS          20u
#define GK_TAP_RING_SLOTS        1024u /* per worker, a power of two */
#define GK_TAP_MSG_MAX           1232u /* messages longer than this are logged without bytes */
#define GK_TAP_RATE_DEFAULT      1000u /* entries per second per worker */
#define GK_TAP_MAX_BYTES_DEFAULT (100ull << 20)
#define GK_TAP_KEEP_DEFAULT      5u

typedef struct gk_tap_conf {
	const char *file;      /* write to this file (rotated), or */
	const char *unix_path; /* to this unix socket (a dnstap collector); exactly one set */
	bool all_queries;      /* log every query, not only refusals (and monitor-mode ones) */
	bool forwarded;        /* also what the front end's relays send to and get from backends */
	unsigned rate;         /* token bucket: entries per second per worker (>= 1) */
	unsigned burst;        /* bucket depth (>= 1) */
	uint64_t max_bytes;    /* file: rotate beyond this size (>= 64 KiB) */
	unsigned keep;         /* file: rotated files kept (0: truncate in place) */
	const char *identity;  /* Dnstap identity, or NULL (hostname) */
	const char *version;   /* Dnstap version, or NULL */
} gk_tap_conf_t;

typedef struct gk_tap gk_tap_t;

/* The log thread's own figures. */
typedef struct gk_obs_tap_stats {
	uint64_t written;   /* entries written (each as its dnstap messages) */
	uint64_t lost;      /* entries taken from a ring but not written (I/O error,
	                       socket not connected) */
	uint64_t rotations; /* file rotations */
	uint64_t bytes;     /* frame bytes written since start */
	bool connected;     /* the output is open */
} gk_tap_stats_t;

/* Create the log for n_workers rings. conf strings are copied. The output is opened here
 * (a file that cannot be created is an error; an absent unix socket is not: it is retried),
 * so configuration mistakes show at start. On failure err holds one line. Returns 0,
 * GK_EINVAL, GK_ENOMEM or GK_EIO. Main thread. */
GK_MUST_CHECK int gk_obs_tap_create(const gk_tap_conf_t *conf, unsigned n_workers, gk_tap_t **out,
                                    char *err, size_t errlen);

/* Start the log thread. Returns 0 or -errno. */
GK_MUST_CHECK int gk_obs_tap_start(gk_tap_t *t);

/* Stop the thread after a last drain (workers must have stopped first for nothing to be
 * left behind), close the output. Idempotent. */
void gk_obs_tap_stop(gk_tap_t *t);

/* Free a stopped (or never started) log. NULL is ignored. */
void gk_obs_tap_free(gk_tap_t *t);

/* Read-only settings for the workers' side (fixed after create). */
bool gk_obs_tap_all_queries(const gk_tap_t *t);
void gk_obs_tap_rate(const gk_tap_t *t, unsigned *rate, unsigned *burst);

/* Worker `worker` queues one entry: the query q/qlen, the response r/rlen (r NULL: none
 * sent), the client address peer (NULL: unknown), the transport and what the packet path
 * decided (res). Copies everything. Returns true, or false when the ring is full (the
 * caller counts it). Worker thread `worker` only; no allocation, lock or syscall except a
 * vDSO clock read for the timestamp. */
bool gk_obs_tap_push(gk_tap_t *t, unsigned worker, enum gk_pkt_transport transport,
                     const struct sockaddr *peer, const uint8_t *q, size_t qlen, const uint8_t *r,
                     size_t rlen, const gk_pkt_result_t *res);

/* Whether the relays log their backend traffic (conf.forwarded). */
bool gk_obs_tap_forwarded(const gk_tap_t *t);

/* A relay on the thread that owns ring `ring` queues one message to or from a backend: a
 * FORWARDER_QUERY (response false: msg the query sent) or a FORWARDER_RESPONSE (msg the
 * backend's answer; rtt_us since the query was sent gives its query time), backend the
 * backend's address, tcp its transport, pool[0..pool_len) the pool's name (in the Dnstap
 * extra field as "pool=NAME", cut at 255). Not rate-limited: conf.forwarded logs every
 * one. Same contract as gk_obs_tap_push (copies; false when the ring is full). */
bool gk_obs_tap_push_fwd(gk_tap_t *t, unsigned ring, bool response, bool tcp,
                         const struct sockaddr *backend, const uint8_t *msg, size_t len,
                         uint64_t rtt_us, const char *pool, size_t pool_len);

/* Figures of the log thread (a moment old). Any thread. */
void gk_obs_tap_stats(const gk_tap_t *t, gk_tap_stats_t *out);
