/* SPDX-License-Identifier: MIT */
/* src/control/control.h -- the control channel: a unix socket speaking a line protocol.
 *
 * Like nsd-control and knotc: the daemon listens on a unix socket (mode 0600, and only the
 * daemon's own user or root may talk to it: SO_PEERCRED), never on TCP. A client sends one
 * request per line; the daemon answers with lines that each start with "ok" or "error"
 * and ends every answer with a line holding a single "." (docs/CONTROL.md). Requests on
 * one connection are answered in order, one at a time.
 *
 * Limits: a request line is at most GK_CONTROL_LINE_MAX bytes with its newline (longer:
 * an error, then the connection is closed); a connection that sends no complete request
 * for GK_CONTROL_IDLE_MS is closed; at most GK_CONTROL_CONN_MAX connections at once (one
 * more is told so and closed). A line without its newline when the client closes is never
 * executed.
 *
 * The parser (gk_control_parse) is pure and runs on any thread; everything else runs on
 * the loop given to gk_control_open (the daemon's main loop, the zone store's writer).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "gk/errors.h"

#define GK_CONTROL_LINE_MAX 4096u  /* request line, newline included */
#define GK_CONTROL_IDLE_MS  10000u /* no complete request this long: closed */
#define GK_CONTROL_CONN_MAX 16u    /* connections at once */
#define GK_CONTROL_NAME_MAX 254u   /* zone name text, trailing dot included */

enum gk_control_op {
	GK_CONTROL_ZONE_ADD = 1, /* zone add NAME FILE */
	GK_CONTROL_ZONE_REMOVE,  /* zone remove NAME */
	GK_CONTROL_ZONE_RELOAD,  /* zone reload [NAME] */
	GK_CONTROL_ZONE_STATUS,  /* zone status [NAME] */
	GK_CONTROL_RELOAD,       /* reload */
	GK_CONTROL_STATS,        /* stats */
	GK_CONTROL_LOGLEVEL,     /* loglevel LEVEL */
	GK_CONTROL_ZONE_REFRESH, /* zone refresh NAME (a secondary zone) */
};

/* A parsed request. Strings are NUL-terminated copies. */
typedef struct gk_control_cmd {
	enum gk_control_op op;
	bool has_name;                      /* name given (always for add and remove) */
	char name[GK_CONTROL_NAME_MAX + 1]; /* a valid zone name (zonelist/zonelist.h) */
	char file[GK_CONTROL_LINE_MAX];     /* zone add: an absolute path */
	int level;                          /* loglevel: a gk_log_level */
} gk_control_cmd_t;

/* Parse one request line[0..len) (without its newline; a trailing '\r' is ignored). Words
 * are separated by blanks. Returns 0 with *cmd filled, or GK_ESYNTAX with err holding the
 * reason (unknown command, wrong number of words, bad zone name, relative file, unknown
 * log level, NUL byte). Pure; any thread. */
GK_MUST_CHECK int gk_control_parse(const char *line, size_t len, gk_control_cmd_t *cmd, char *err,
                                   size_t errlen);

typedef struct gk_control gk_control_t;
typedef struct gk_control_req gk_control_req_t;

/* Called on the loop for each request. The handler answers with gk_control_reply (any
 * number of lines) and ends with gk_control_done, now or later (after work off the loop);
 * until then the connection reads no further request. cmd is valid until the handler
 * returns. */
typedef void (*gk_control_handler_fn)(void *ctx, gk_control_req_t *req,
                                      const gk_control_cmd_t *cmd);

/* Listen on the unix socket at path. A path that exists must be a socket nobody listens
 * on (a stale one from a crash: removed); anything else (a file, a directory, a live
 * socket) is an error and nothing is touched. The socket is created with mode 0600.
 * Returns 0 or an error with err naming the path. Loop thread. */
GK_MUST_CHECK int gk_control_open(uv_loop_t *loop, const char *path, gk_control_handler_fn fn,
                                  void *ctx, gk_control_t **out, char *err, size_t errlen);

/* Append one answer line (printf format, without the newline; newlines inside are
 * replaced by blanks). The line should start with "ok" or "error". Loop thread. */
__attribute__((format(printf, 2, 3))) void gk_control_reply(gk_control_req_t *req, const char *fmt,
                                                            ...);

typedef void (*gk_control_more_fn)(void *ctx, gk_control_req_t *req);

/* Send the lines replied so far (at least one) without ending the answer, for answers too
 * long to hold at once; more(ctx, req) is called on the loop once they are written, to
 * reply the next part and flush again or end with gk_control_done. Returns false when the
 * client has gone (or a line could not be stored): nothing is sent, more will not be
 * called, and the handler ends with gk_control_done at once. If the client goes while a
 * part is in flight, more is still called; its next flush returns false. Loop thread. */
bool gk_control_flush(gk_control_req_t *req, gk_control_more_fn more, void *ctx);

/* End the answer (the "." line is added) and send it. req is invalid afterwards. When the
 * client has gone, the answer is dropped. Loop thread. */
void gk_control_done(gk_control_req_t *req);

/* Stop listening, close every connection (answers still pending are dropped when their
 * handler calls gk_control_done) and remove the socket file. The memory goes once the
 * handles are closed (the loop must run). NULL is ignored. Loop thread. */
void gk_control_close(gk_control_t *c);
