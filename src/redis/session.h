/* SPDX-License-Identifier: MIT */
/* src/redis/session.h -- one asynchronous Redis session on a libuv loop: connect, AUTH,
 * ready, timeouts, reconnect with backoff and jitter, Sentinel re-discovery.
 *
 * gatekeeperd's Redis users (the status replica, its heartbeat writer, the policy follower,
 * the discovery writer) each own one session and keep only their own protocol. A session is
 * one to GK_REDIS_SESSION_LINKS_MAX connections ("links") to the same server that live and
 * die together: the status replica uses two (commands, and a blocking XREAD).
 *
 * States: DOWN (a reconnect is scheduled after the backoff) -> CONNECTING (the sentinels
 * were asked, every link is opened and sends AUTH, or PING without credentials) -> READY
 * (every link's first command was answered) -> DOWN. READY therefore means the server
 * answered, never only that a TCP handshake completed: a frozen (SIGSTOPped) server still
 * completes handshakes from its listen backlog. A session fails as a whole on a transport
 * error, a refused AUTH, the connect timeout, a reply timeout on any link (commands
 * outstanding and no reply for command_timeout_ms plus the allowance of the commands
 * waiting), or the owner's gk_redis_session_fail; the links are freed from a zero-delay
 * timer (never inside a hiredis callback) and the next attempt starts after the backoff,
 * asking the sentinels again when the target names them.
 *
 * Threads: every verb runs on the loop's thread. Callbacks run on it too, possibly from
 * inside a hiredis callback: they may send commands and call gk_redis_session_fail, never
 * gk_redis_session_close.
 */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "redis/redis.h"

#define GK_REDIS_SESSION_LINKS_MAX 2u

typedef struct gk_redis_session gk_redis_session_t;

typedef enum gk_redis_session_state {
	GK_REDIS_SESSION_DOWN = 0,   /* not connected; the next attempt is scheduled */
	GK_REDIS_SESSION_CONNECTING, /* links opened, first replies awaited */
	GK_REDIS_SESSION_READY,      /* every link authenticated (or PING answered) */
} gk_redis_session_state_t;

/* A reply to a command of the current session; r is valid until the callback returns and is
 * never NULL (a command whose connection went away has its callback dropped: the session is
 * failing and the owner hears of it through on_state). Error replies arrive here. */
typedef void gk_redis_reply_fn(gk_redis_session_t *s, redisReply *r, void *priv);

typedef struct gk_redis_session_conf {
	const char *who;                 /* names the owner in logs ("status"); static string */
	const gk_redis_target_t *target; /* copied: an address or sentinels */
	const gk_redis_auth_t *auth;     /* copied; NULL or no password: PING instead of AUTH */
	unsigned links;                  /* 1..GK_REDIS_SESSION_LINKS_MAX; 0: 1 */
	unsigned connect_timeout_ms;     /* from opening to READY (after the sentinels); 0: 1000 */
	unsigned command_timeout_ms;     /* a link with commands out and no reply; 0: 5000 */
	unsigned backoff_min_ms;         /* first delay; 0: 100 */
	unsigned reconnect_max_ms;       /* largest delay; 0: 5000 */
	/* true: the backoff is reset only by gk_redis_session_backoff_reset (an owner whose
	 * session can fail right after READY, e.g. a load that fails, so failing sessions do
	 * not reconnect at the minimum delay); false: reset on every READY */
	bool hold_backoff;
	bool lost_quiet; /* "lost connection" after READY at info level (another owner warns) */
	/* Every state change (s, new state, why: the failure for DOWN, else NULL). Optional. */
	void (*on_state)(gk_redis_session_t *s, gk_redis_session_state_t state, const char *why,
	                 void *ctx);
	/* READONLY hook: called when gk_redis_session_check_write sees a write refused because
	 * the server is a read-only replica (readonly true, errstr Redis's words) after one that
	 * was not, and when a write succeeds again (false, NULL). Optional. */
	void (*on_readonly)(gk_redis_session_t *s, bool readonly, const char *errstr, void *ctx);
	void *ctx;
} gk_redis_session_conf_t;

/* Create a session on loop (DOWN; nothing happens before gk_redis_session_start). The
 * strings and structures of conf are copied. Returns 0 and *out, GK_EINVAL (links out of
 * range, no target) or GK_ENOMEM. Loop thread. */
GK_MUST_CHECK int gk_redis_session_create(uv_loop_t *loop, const gk_redis_session_conf_t *conf,
                                          gk_redis_session_t **out);
/* First attempt now (later ones after the backoff). Loop thread. */
void gk_redis_session_start(gk_redis_session_t *s);
/* Close the links (pending callbacks are dropped, on_state is not called) and free the
 * session once its timers are closed (the loop must run for that). NULL is fine. Never
 * from inside a session callback. */
void gk_redis_session_close(gk_redis_session_t *s);

/* Send a command on link (0..links-1) of a READY or CONNECTING session (commands sent
 * while CONNECTING follow the AUTH). extra_ms adds to command_timeout_ms while this command
 * waits (a blocking XREAD's block time). fn gets the reply (see gk_redis_reply_fn); NULL:
 * the reply is only counted (a reply within MULTI, say).
 * Returns 0, GK_EIO (no connection: the session is DOWN) or GK_ENOMEM. */
GK_MUST_CHECK int gk_redis_session_cmd(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn,
                                       void *priv, unsigned extra_ms, const char *fmt, ...);
/* gk_redis_session_cmd with a va_list. */
GK_MUST_CHECK int gk_redis_session_vcmd(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn,
                                        void *priv, unsigned extra_ms, const char *fmt, va_list ap);
GK_MUST_CHECK int gk_redis_session_cmdargv(gk_redis_session_t *s, unsigned link,
                                           gk_redis_reply_fn *fn, void *priv, unsigned extra_ms,
                                           int argc, const char **argv, const size_t *argvlen);
/* Fail the session (why is logged and given to on_state) and reconnect after the backoff.
 * Nothing when already DOWN. */
void gk_redis_session_fail(gk_redis_session_t *s, const char *why);
/* Reset the backoff (see hold_backoff). */
void gk_redis_session_backoff_reset(gk_redis_session_t *s);
/* The owner did long local work inside a reply callback: restart the reply clocks of the
 * links, so that time is not counted as the server's. */
void gk_redis_session_touch(gk_redis_session_t *s);
/* Look at the reply to a write (an error, or an EXEC array holding errors) for READONLY;
 * report transitions through on_readonly. Returns true when it was refused as READONLY. */
bool gk_redis_session_check_write(gk_redis_session_t *s, const redisReply *r);

gk_redis_session_state_t gk_redis_session_state(const gk_redis_session_t *s);
/* conf.ctx. */
void *gk_redis_session_ctx(const gk_redis_session_t *s);
/* Monotonic ms (gk_redis_session_now_ms) of the last reply of any link, AUTH and PING
 * replies included; 0 before the first. A connect alone never moves it. */
uint64_t gk_redis_session_last_reply_ms(const gk_redis_session_t *s);
/* The address of the current (or last) attempt. */
const gk_redis_addr_t *gk_redis_session_addr(const gk_redis_session_t *s);
/* Attempts to connect after the first one (reconnects), successful or not. */
uint64_t gk_redis_session_reconnects(const gk_redis_session_t *s);
/* The clock of the session (CLOCK_MONOTONIC, ms). */
uint64_t gk_redis_session_now_ms(void);
