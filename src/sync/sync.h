/* SPDX-License-Identifier: MIT */
/* src/sync/sync.h -- apply a validated feed to Redis; watch a directory of feeds.
 *
 * gk_sync_apply is the only writer of the status set, record buckets, providers, serial and
 * the status entries of the change stream (include/gk/filing_status.h). It talks to Redis
 * with synchronous hiredis, pipelined a window of buckets at a time.
 *
 * Write order (why an interrupted apply converges):
 *   0. Take the apply lock (gk:sync:lock, include/gk/filing_status.h): SET NX PX with a
 *      random owner token, waiting up to lock_wait_ms while another apply holds it. Every
 *      write below is a script that first checks the lock is still this apply's (fencing),
 *      so two applies never write the same instance at once, and one that lost its lock
 *      (expired while stalled) writes nothing more and leaves the serial where it was.
 *   1. GET gk:serial and check the feed's serial rules. Nothing is written before this, so
 *      a rejected feed leaves Redis as it was.
 *   2. New provider names get ids (HSET gk:providers). Ids only grow and a name keeps its id,
 *      so providers written by an interrupted run are reused, not duplicated.
 *   3. Per bucket, one fenced script (atomic, as MULTI/EXEC): record bucket writes, status
 *      bucket writes and one XADD per GK_STREAM_BATCH status changes. A bucket's status change and
 * its stream entry land together or not at all, so a reader tailing the stream never misses a value
 * that is in a bucket. The diff is against what is in Redis now, so a re-run writes exactly what an
 *      interrupted run did not.
 *   4. MULTI: the fenced SET gk:serial and XADD k=serial, under WATCH gk:serial. Only this step
 * makes the feed count as applied; until then the old serial stays, and the same feed (snapshot:
 *      serial still newer; delta: base still equal) is accepted again.
 * A reader may see a mix of old and new values while a feed is being applied (as with any
 * incremental apply); the k=serial entry marks the point where the set equals the feed.
 *
 * The lock is renewed every third of its ttl between windows and deleted at the end if
 * still ours. Single-threaded; one call at a time per process.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "common/psl.h"
#include "gk/errors.h"
#include "redis/redis.h"
#include "sync/feed.h"
#include "sync/ipfeed.h"

typedef struct gk_sync_opts {
	gk_redis_addr_t redis; /* the status Redis (src/redis/redis.h) */
	int no_records;        /* 1: leave the record buckets (gk:rec:*) alone */
	bool has_records;      /* records on another instance: records_redis */
	gk_redis_addr_t records_redis;
	const gk_redis_auth_t *auth; /* AUTH on both (the gk-sync ACL user); NULL: none */
	/* Sentinel discovery of the status Redis instead of redis (NULL or n == 0: redis):
	 * every apply asks the sentinels again and writes to the master they name */
	const gk_redis_sentinel_t *sentinel;
	unsigned window; /* buckets per pipeline round; 0: 256 */
#ifdef GK_TEST_HOOKS
	long abort_after; /* test hook: _exit(70) after this many bucket transactions; 0: off */
#endif
	unsigned timeout_ms;   /* connect and per-reply timeout; 0: 60000 */
	unsigned lock_wait_ms; /* wait this long for another apply's lock; 0: fail at once */
	unsigned lock_ttl_ms;  /* the lock's expiry, renewed every third of it; 0: 30000 */
} gk_sync_opts_t;

typedef struct gk_sync_stats {
	uint64_t serial_before;           /* gk:serial before (0: none) */
	uint64_t added, changed, removed; /* status set changes (each one stream entry) */
	uint64_t records_written;         /* record bucket fields written or deleted */
	uint64_t unchanged;
	uint64_t buckets_written; /* bucket scripts (one atomic write per changed bucket) */
	uint64_t new_providers;
	double seconds;       /* wall time inside gk_sync_apply */
	bool already_applied; /* a delta whose serial is gk:serial: nothing written */
} gk_sync_stats_t;

/* Apply feed (already parsed, validated and signature-checked) to Redis.
 * Returns 0 when applied (gk:serial == feed->serial afterwards), also for a delta whose
 *               serial already is gk:serial (a retry of an apply that succeeded: nothing is
 *               written and stats->already_applied is set);
 *   GK_ESYNTAX  rejected by the serial rules (not newer / delta base differs / a delta older
 *               than gk:serial), nothing written;
 *   GK_EAGAIN   a delta whose base is newer than gk:serial (an earlier delta is missing),
 *               nothing written;
 *   GK_EBUSY    another apply holds the lock (still after lock_wait_ms), nothing written;
 *               or this apply lost its lock part-way (nothing written after that, serial
 *               not advanced: re-apply);
 *   GK_EIO      Redis unreachable or a command failed (possibly part-way: re-apply);
 *   GK_ENOMEM.
 * err gets "name:1: reason" for the serial rules, a plain message otherwise. */
GK_MUST_CHECK int gk_sync_apply(const gk_sync_opts_t *opts, const gk_feed_t *feed, const char *name,
                                gk_sync_stats_t *stats, char *err, size_t errlen);

/* Read gk:serial: 0 and *serial (0 when absent), or GK_EIO with err. */
GK_MUST_CHECK int gk_sync_read_serial(const gk_sync_opts_t *opts, uint64_t *serial, char *err,
                                      size_t errlen);

struct stat;

/* Open path read-only as a regular file: O_NOFOLLOW (a symlink is refused, not followed),
 * O_NONBLOCK (a FIFO is refused at once, not waited on), then fstat into *st: anything but a
 * regular file is refused. Returns the descriptor (O_CLOEXEC, blocking again), or GK_ESYNTAX
 * (a symlink or not a regular file) / a negative errno, with why naming path and the reason. */
GK_MUST_CHECK int gk_sync_open_regular(const char *path, struct stat *st, char *why, size_t whylen);

/* Test hook: when set, gk_sync_load calls it with the feed's path after the signature is
 * verified and before the first line is parsed. Tests change the file there. NULL outside
 * tests. */
extern void (*gk_sync_load_hook)(const char *path);

/* Everything a feed file goes through before Redis: read FILE (or stdin for "-") and its
 * signature (sig_path, or FILE.sig) into private memory, verify with pubkey, parse that same
 * copy (the file changing afterwards changes nothing). FILE and the signature must be regular
 * files, opened without following a symlink or waiting on a FIFO (gk_sync_open_regular);
 * the signature file is at most GK_SIG_FILE_MAX bytes. On success *feed is set.
 * Returns 0; GK_ESYNTAX (feed rejected: err is "FILE:LINE: reason", or "FILE is a symbolic
 * link ..." / "FILE is not a regular file (a FIFO)"); GK_EIO (unreadable, or changed while
 * being read: try again) / GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_load(const char *path, const char *sig_path, const char *pubkey,
                               const gk_psl_t *psl, unsigned threads, unsigned flags,
                               gk_feed_t **feed, char *err, size_t errlen);

typedef struct gk_watch_opts {
	const char *dir;
	const char *pubkey;
	unsigned interval_ms; /* poll interval; 0: 1000 */
	unsigned threads;
	volatile int *stop; /* set to nonzero (e.g. from SIGTERM) to return */
} gk_watch_opts_t;

/* Poll dir for feeds (any entry not starting with '.', not ending in .sig, .reason or .tmp,
 * other than done and rejected, with a NAME.sig entry beside it), apply them lowest serial
 * first, and move each with its .sig to dir/done/ or dir/rejected/ (plus NAME.reason holding
 * the message). An entry that is not a regular file, or whose .sig is not one (a symlink, a
 * FIFO, /dev/zero) or is too large, is rejected like a bad feed and the others go on. A
 * delta whose base is ahead of gk:serial waits; Redis errors leave the file for the next
 * round. Returns 0 when *stop becomes nonzero, GK_EIO if the directories cannot be used
 * (done/ or rejected/ not a directory of dir's own, e.g. a symlink). */
GK_MUST_CHECK int gk_sync_watch(const gk_sync_opts_t *opts, const gk_watch_opts_t *w,
                                const gk_psl_t *psl);

/* Sign the file at path with the PEM private key; write the signature to sig_out (NULL:
 * path + ".sig") as 64 raw bytes, or base64 text plus newline when base64 is set. The file
 * appears by rename, whole. Returns 0, GK_EIO / GK_EINVAL with err. */
GK_MUST_CHECK int gk_sync_sign_file(const char *key, const char *path, const char *sig_out,
                                    int base64, char *err, size_t errlen);

/* gk_sync_lint_feed over a file ("-": stdin). Returns 0, GK_ESYNTAX (invalid JSON), GK_EIO. */
GK_MUST_CHECK int gk_sync_lint_file(const char *path, const gk_psl_t *psl, FILE *out,
                                    size_t *findings, char *err, size_t errlen);

/* --- the IP filing feed (src/sync/ipapply.c; docs/FEED.md "IP filing feed") ------------ */

typedef struct gk_sync_ip_stats {
	uint64_t serial_before; /* gk:ip:serial before (0: none) */
	uint64_t set, removed;  /* ranges written, ranges removed (delta) */
	double seconds;         /* wall time inside gk_sync_ip_apply */
	int already_applied;    /* a delta whose serial is gk:ip:serial: nothing written */
} gk_sync_ip_stats_t;

/* gk_sync_load for an IP filing feed: read, verify, parse (gk_sync_ipfeed_parse). Same results. */
GK_MUST_CHECK int gk_sync_load_ip(const char *path, const char *sig_path, const char *pubkey,
                                  gk_ipfeed_t **feed, char *err, size_t errlen);

/* Apply a validated IP filing feed to the status Redis (gk:ip:ranges, gk:ip:serial) under
 * the apply lock. The serial rules are the domain feed's, against gk:ip:serial. A snapshot
 * replaces the table at once (RENAME in one MULTI with the serial); a delta is checked
 * against the stored table (a range it would leave overlapping another without nesting is
 * GK_ESYNTAX, "stored" naming the other) and written in one MULTI. Returns as gk_sync_apply
 * (0, GK_ESYNTAX, GK_EAGAIN, GK_EBUSY, GK_EIO, GK_ENOMEM); nothing is applied unless 0. */
GK_MUST_CHECK int gk_sync_ip_apply(const gk_sync_opts_t *opts, const gk_ipfeed_t *feed,
                                   const char *name, gk_sync_ip_stats_t *stats, char *err,
                                   size_t errlen);

/* gk-sync lint of an IP filing feed held in data: the parse verdict, then one warning per
 * range nested inside another ("most specific wins"). Returns 0 (findings counted), or
 * GK_ESYNTAX with err. */
GK_MUST_CHECK int gk_sync_ip_lint(const char *name, const char *data, size_t len, FILE *out,
                                  size_t *findings, char *err, size_t errlen);
