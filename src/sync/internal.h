/* SPDX-License-Identifier: MIT */
/* src/sync/internal.h -- gk-sync's synchronous Redis connection, command arguments and the
 * apply lock, shared by the files of src/sync/ that talk to Redis (conn.c, lock.c,
 * publish.c). Not for other modules.
 *
 * A connection is blocking hiredis with a timeout on connect and on every reply. Writes are
 * pipelined: a caller queues commands (gk_sync_conn_send*, gk_sync_args_send), counts the
 * replies it expects in pending, and reads them later with gk_sync_conn_drain. Errors are
 * written once into the connection's err buffer, which the caller passes up unchanged.
 * Single-threaded per connection.
 */
#pragma once
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include "sync/diff.h"
#include "sync/sync.h"

typedef struct gk_sync_conn {
	redisContext *c;
	size_t pending; /* write replies not read yet */
	char *err;      /* the caller's message buffer (may be NULL) */
	size_t errlen;
} gk_sync_conn_t;

/* Write a message into cn->err (printf format). */
void gk_sync_conn_err(gk_sync_conn_t *cn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connect to a with timeout_ms (0: 60 s) on connect and every reply, and AUTH with auth
 * (NULL or no password: none) through src/redis. Returns 0 or GK_EIO (message in err:
 * "redis ADDR: WHY", "redis ADDR: AUTH failed for user U: ..."). */
GK_MUST_CHECK int gk_sync_conn_open(gk_sync_conn_t *cn, const gk_redis_addr_t *a,
                                    const gk_redis_auth_t *auth, unsigned timeout_ms);
/* Connect to the status Redis of o: o->redis, or with o->sentinel the master the
 * sentinels name now (confirmed with ROLE); *addr receives the address used. Same results
 * as gk_sync_conn_open; a failed discovery's err names the sentinels and the last reason. */
GK_MUST_CHECK int gk_sync_conn_open_status(gk_sync_conn_t *cn, const gk_sync_opts_t *o,
                                           gk_redis_addr_t *addr);
void gk_sync_conn_close(gk_sync_conn_t *cn);

/* Read one reply. An error reply is a failure (GK_EIO, message "redis: ..."; GK_EBUSY with
 * its own message for the fence script's GK_SYNC_LOCK_ERR); *r is owned by the caller
 * (freeReplyObject). */
GK_MUST_CHECK int gk_sync_conn_reply(gk_sync_conn_t *cn, redisReply **r);

/* Read cn->pending replies of writes; an EXEC reply must be an array without errors (nil:
 * "redis: transaction aborted"). Returns 0, GK_EIO or GK_EBUSY (the lock was lost); pending
 * is 0 afterwards on success. */
GK_MUST_CHECK int gk_sync_conn_drain(gk_sync_conn_t *cn);

/* Queue one command: argv[0..argc) as NUL-terminated strings, or a list. */
GK_MUST_CHECK int gk_sync_conn_send(gk_sync_conn_t *cn, int argc, const char **argv);
GK_MUST_CHECK int gk_sync_conn_send_strs(gk_sync_conn_t *cn, const gk_sync_strs_t *a);

/* Queue one command and read its reply (which the caller frees). */
GK_MUST_CHECK int gk_sync_conn_command(gk_sync_conn_t *cn, redisReply **out, int argc,
                                       const char **argv);

/* Hand Redis everything queued now rather than at the next blocking read. */
GK_MUST_CHECK int gk_sync_conn_flush(gk_sync_conn_t *cn);

/* A GET gk:serial reply to *serial (nil: 0). GK_EIO when it is not a decimal. */
GK_MUST_CHECK int gk_sync_conn_serial(gk_sync_conn_t *cn, const redisReply *r, uint64_t *serial);

/* A list that starts a command: cmd, key. */
GK_MUST_CHECK int gk_sync_strs_start(gk_sync_strs_t *a, const char *cmd, const char *key);

/* One command's arguments, collected in pieces (a fenced script's head, then its body) and
 * queued with hiredis's own formatting (redisAppendCommandArgv). An argument is borrowed
 * (gk_sync_args_add: it must stay valid until gk_sync_args_send) or copied (..._copy,
 * ..._num: short strings such as counts). Out of memory is remembered (oom) and reported
 * by gk_sync_args_send. Reused across commands: send empties it and keeps its memory. */
typedef struct gk_sync_args {
	const char **v; /* NULL: a copy, at own + off[i] */
	size_t *l, *off;
	size_t n, cap;
	char *own;
	size_t own_n, own_cap;
	int oom;
} gk_sync_args_t;

void gk_sync_args_add(gk_sync_args_t *b, const char *s, size_t l);
void gk_sync_args_copy(gk_sync_args_t *b, const char *s, size_t l);
void gk_sync_args_num(gk_sync_args_t *b, size_t v); /* its decimal text, copied */
/* Append every argument of src (copies are copied again; borrowed stay borrowed). */
void gk_sync_args_cat(gk_sync_args_t *b, const gk_sync_args_t *src);
/* Forget the arguments, keep the memory. */
void gk_sync_args_reset(gk_sync_args_t *b);
void gk_sync_args_free(gk_sync_args_t *b);
/* Queue b as one command on cn (redisAppendCommandArgv), then empty b. 0 or GK_ENOMEM
 * (also when an earlier add ran out of memory), with cn->err. */
GK_MUST_CHECK int gk_sync_args_send(gk_sync_conn_t *cn, gk_sync_args_t *b);

/* --- the apply lock (lock.c; the key and its rules: include/gk/filing_status.h) --------- */

#define GK_SYNC_LOCK_TTL_MS 30000u   /* default ttl; renewed every third of it */
#define GK_SYNC_LOCK_ERR    "GKLOCK" /* error code of the fence script when not held */
#define GK_SYNC_FENCE_MAX   1024u    /* most strings of one fenced command (Lua's unpack) */

typedef struct gk_sync_lock {
	gk_sync_conn_t *cn;
	char value[256];     /* token owner since */
	char sha[41];        /* the fence script, loaded on cn */
	char bucket_sha[41]; /* the bucket script, loaded on cn */
	unsigned ttl_ms;
	double renewed; /* CLOCK_MONOTONIC seconds of the last SET or renewal queued */
	int held;
} gk_sync_lock_t;

/* A new lock value: 128 random bits (OpenSSL RAND_bytes) in hex, host:pid, the time now.
 * Returns 0, GK_EIO (no randomness) or GK_ERANGE (cap too small). */
GK_MUST_CHECK int gk_sync_lock_value(char *out, size_t cap);

/* Take GK_KEY_SYNC_LOCK on cn with value and ttl_ms (0: GK_SYNC_LOCK_TTL_MS), polling for up
 * to wait_ms while another holds it (logged once), then load the fence script on cn. Nothing
 * is written before it returns 0. GK_EBUSY: still held by another, err says since when and
 * by whom; GK_EIO. */
GK_MUST_CHECK int gk_sync_lock_acquire(gk_sync_lock_t *l, gk_sync_conn_t *cn, const char *value,
                                       unsigned ttl_ms, unsigned wait_ms);

/* A fenced script: "EVALSHA sha 1 lock value" then the strings that the caller appends:
 * per command gk_sync_lock_fence_cmd (its argument count), then its GK_SYNC_FENCE_MAX
 * arguments at most. One reply: 1, or an error (GK_EBUSY when the lock is
 * not held: nothing of the script was written). */
void gk_sync_lock_fence_head(const gk_sync_lock_t *l, gk_sync_args_t *b);
void gk_sync_lock_fence_cmd(gk_sync_args_t *body, size_t argc);

/* A bucket script: "EVALSHA bucket_sha 4 lock stk rck stream value serial maxlen batch n0 n1
 * n2 n3", to be followed by the caller's n[0] record HSET strings (field, value ...), n[1]
 * record HDEL fields, n[2] status HSET strings, n[3] status HDEL fields. The script writes
 * them and one stream entry per GK_STREAM_BATCH status changes (sets, then removals), after
 * checking the lock. One reply, as for gk_sync_lock_fence_head. */
void gk_sync_lock_bucket_head(const gk_sync_lock_t *l, gk_sync_args_t *b, const char *stk,
                              const char *rck, const char *serial, const size_t n[4]);

/* One fenced command, synchronously (no replies may be pending on the connection).
 * Returns 0, GK_EBUSY (lock lost, nothing written), GK_EIO, GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_lock_run(gk_sync_lock_t *l, const gk_sync_strs_t *cmd);

/* Queue a fenced PEXPIRE when a third of the ttl has passed since the last one (one more
 * pending reply on the connection; it fails with GK_EBUSY if the lock was lost). */
GK_MUST_CHECK int gk_sync_lock_renew(gk_sync_lock_t *l);

/* Delete the lock if it still holds our value, over a connection of its own to a.
 * Returns 0, GK_ENOENT (not ours any more), GK_EIO; a lock not held is 0. */
int gk_sync_lock_release(gk_sync_lock_t *l, const gk_redis_addr_t *a, const gk_redis_auth_t *auth,
                         unsigned timeout_ms);
