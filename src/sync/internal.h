/* SPDX-License-Identifier: MIT */
/* src/sync/internal.h -- gk-sync's synchronous Redis connection and RESP formatting, shared
 * by the files of src/sync/ that talk to Redis (conn.c, publish.c). Not for other modules.
 *
 * A connection is blocking hiredis with a timeout on connect and on every reply. Writes are
 * pipelined: a caller queues commands (gk_sync_conn_send*, gk_sync_resp_send), counts the
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

/* Connect to host:port with o->timeout_ms (0: 60 s) on connect and every reply.
 * Returns 0 or GK_EIO (message in err). */
GK_MUST_CHECK int gk_sync_conn_open(gk_sync_conn_t *cn, const char *host, int port,
                                    unsigned timeout_ms);
void gk_sync_conn_close(gk_sync_conn_t *cn);

/* Read one reply. An error reply is a failure (GK_EIO, message "redis: ..."); *r is owned by
 * the caller (freeReplyObject). */
GK_MUST_CHECK int gk_sync_conn_reply(gk_sync_conn_t *cn, redisReply **r);

/* Read cn->pending replies of writes; an EXEC reply must be an array without errors (nil:
 * "redis: transaction aborted"). Returns 0 or GK_EIO; pending is 0 afterwards on success. */
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

/* RESP text built by hand: one bucket's commands are formatted into one buffer and handed to
 * hiredis in one redisAppendFormattedCommand (per-argument formatting in hiredis was a large
 * share of the client's CPU with ~20 million arguments in a 10M snapshot). Out of memory is
 * remembered (oom) and reported by gk_sync_resp_send. */
typedef struct gk_sync_resp {
	char *p;
	size_t n, cap;
	int oom;
} gk_sync_resp_t;

void gk_sync_resp_num(gk_sync_resp_t *b, char type, size_t v); /* "*3\r\n", "$5\r\n" */
void gk_sync_resp_raw(gk_sync_resp_t *b, const char *s, size_t l);
void gk_sync_resp_bulk(gk_sync_resp_t *b, const char *s, size_t l);
/* one command: "*N", then each string of a as a bulk string */
void gk_sync_resp_strs(gk_sync_resp_t *b, const gk_sync_strs_t *a);
/* Queue everything formatted in b on cn as it is, then empty b. 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_resp_send(gk_sync_conn_t *cn, gk_sync_resp_t *b);
