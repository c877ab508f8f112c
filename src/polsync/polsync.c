/* SPDX-License-Identifier: MIT */
/* src/polsync/polsync.c -- follow the fleet policy in Redis: announce, fetch, verify, compile.
 *
 * One thread, one libuv loop, one hiredis async connection per session (GET / HMGET of the
 * policy keys). The change stream is read once per daemon, by the status replica's tail:
 * a policy entry (k=pol) there reaches gk_polsync_notify, which only re-reads the pointer.
 * A push stores the version, moves the pointer and appends its entry in one script, so a
 * pointer read after the entry was seen names that version or a newer one. Nothing is
 * missed across start-up or a reconnect: every session starts by reading the pointer, and
 * the replica notifies after each of its own full loads and resumes (entries it may have
 * skipped while down). The replica does not tail before its first full load (no status set
 * yet) nor while diverged, so the pointer is also re-read every POLL_MS (one GET): a push
 * is followed at once through the stream, and within POLL_MS when the replica cannot tell.
 * Checks are coalesced (one in flight, one more queued).
 *
 * A version is applied when: the pointer names it, it is above the version in force, its
 * key id is one of the operator keys and the Ed25519 signature over the stored bundle bytes
 * verifies, the bundle decodes and claims that version, and it compiles. Otherwise it is
 * rejected once (logged, on_reject, info, heartbeat) and the running policy stays; a
 * rejected version is not retried until the pointer moves.
 *
 * The connection is a gk_redis_session (src/redis/session.h): AUTH, the connect and reply
 * timeouts, reconnects with backoff and jitter and Sentinel re-discovery live there; an
 * error reply to GET or HMGET fails the session as a lost connection would.
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include "common/log.h"
#include "gk/filing_status.h"
#include "polstore/polstore.h"
#include "polsync/polsync.h"
#include "redis/redis.h"
#include "redis/session.h"
#include "status/status.h"
#include "common/thread.h"

#define TICK_MS        100u
#define BACKOFF_MIN_MS 100u
#define CMD_TIMEOUT_MS 5000u
#define POLL_MS        5000u /* pointer re-read when no announcement came */

struct gk_polsync {
	gk_polsync_conf_t conf;
	char *host, *unix_path;
	gk_redis_target_t target; /* an address, or conf.redis_sentinel copied */
	gk_redis_auth_t auth;
	gk_polstore_keyring_t *keys;

	uv_mutex_t info_lock;
	gk_polsync_info_t info;

	/* the loop; everything below is the polsync thread's after start */
	bool started;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop_async, notify_async;
	uv_timer_t tick;
	bool stopping;
	gk_redis_session_t *rs;
	uint64_t last_check_ms; /* when the pointer was last asked for */
	bool check_out, check_again;
	uint64_t applied, rejected;
	uint64_t from_state;  /* the version loaded from the state file (0: none) */
	bool cur_rejected;    /* the pointer names a rejected version (or no version) */
	char bad_pointer[48]; /* the last pointer value that was not a version (reported once) */
	char *state_dir;      /* or NULL */
};

static bool ready(const gk_polsync_t *ps)
{
	return ps->rs != NULL && gk_redis_session_state(ps->rs) == GK_REDIS_SESSION_READY;
}

/* --- heartbeat and info ------------------------------------------------------------ */

static void report(gk_polsync_t *ps, const char *state)
{
	uv_mutex_lock(&ps->info_lock);
	ps->info.applied = ps->applied;
	ps->info.connected = ready(ps);
	uv_mutex_unlock(&ps->info_lock);
	if (ps->conf.status)
		gk_status_set_policy(ps->conf.status, ps->applied, state);
}

/* "rejected" while the pointer names a version that was rejected (a newer version applied,
 * or the pointer back at the version in force, ends it). */
static const char *steady_state(const gk_polsync_t *ps)
{
	if (!ready(ps))
		return "disconnected";
	if (ps->cur_rejected)
		return "rejected";
	return ps->applied ? "ok" : "waiting";
}

/* What is in force, for messages: "version 17 (from the state file)", "the policy file". */
static void in_force(const gk_polsync_t *ps, char *out, size_t cap)
{
	if (ps->applied)
		snprintf(out, cap, "version %llu%s", (unsigned long long)ps->applied,
		         ps->applied == ps->from_state ? " (from the state file)" : "");
	else
		snprintf(out, cap, "the policy in force (no fleet version yet)");
}

/* v: the version rejected, 0 when the pointer holds no version at all. */
static void reject(gk_polsync_t *ps, uint64_t v, const char *why)
{
	char keep[96];
	in_force(ps, keep, sizeof(keep));
	if (v)
		gk_log(GK_LOG_ERR, "policy: version %llu rejected, keeping %s: %s",
		       (unsigned long long)v, keep, why);
	else
		gk_log(GK_LOG_ERR, "policy: %s rejected, keeping %s: %s", GK_KEY_POL_CURRENT, keep,
		       why);
	ps->rejected = v;
	ps->cur_rejected = true;
	uv_mutex_lock(&ps->info_lock);
	ps->info.rejected = v;
	snprintf(ps->info.reject_why, sizeof(ps->info.reject_why), "%s", why);
	uv_mutex_unlock(&ps->info_lock);
	if (ps->conf.status)
		gk_status_set_policy_error(ps->conf.status, v, why);
	report(ps, steady_state(ps));
	if (ps->conf.on_reject)
		ps->conf.on_reject(ps->conf.ctx, v, why);
}

/* --- checking the current version ----------------------------------------------------- */

static void check(gk_polsync_t *ps);

static void check_done(gk_polsync_t *ps)
{
	ps->check_out = false;
	if (ps->check_again) {
		ps->check_again = false;
		check(ps);
	}
}

/* Verify, decode and compile a stored version v (from Redis or the state file): the key id
 * must be an operator key, the signature over the exact bytes valid, the bundle must decode
 * and claim v, and compile. 0 and *out, or non-zero with why. */
static int verify_compile(gk_polsync_t *ps, uint64_t v, const char *b, size_t blen, const char *sig,
                          const char *kid, gk_policy_t **out, char *why, size_t whylen)
{
	if (gk_polstore_verify(ps->keys, kid, b, blen, sig, why, whylen))
		return GK_ESYNTAX;
	gk_polstore_bundle_t *bundle = NULL;
	if (gk_polstore_bundle_decode(b, blen, &bundle, why, whylen) != 0)
		return GK_ESYNTAX;
	if (bundle->version != v) {
		snprintf(why, whylen, "the signed bundle is version %llu, not %llu (replayed?)",
		         (unsigned long long)bundle->version, (unsigned long long)v);
		gk_polstore_bundle_free(bundle);
		return GK_ESYNTAX;
	}
	int rc = gk_polstore_bundle_compile(bundle, out, why, whylen);
	gk_polstore_bundle_free(bundle);
	return rc;
}

/* Keep the version just applied on disk, for the next start. A failure is logged: the
 * version is in force all the same, but a restart would not find it. */
static void save_state(gk_polsync_t *ps, uint64_t v, const redisReply *b, const redisReply *sig,
                       const redisReply *kid)
{
	if (ps->state_dir == NULL)
		return;
	char err[512];
	gk_polstore_version_t sv = {.version = v, .bundle = b->str, .bundle_len = b->len};
	if (sig->len >= sizeof(sv.sig) || kid->len >= sizeof(sv.key_id)) {
		gk_log(GK_LOG_ERR,
		       "policy: version %llu is in force but not kept on disk: its "
		       "signature field is %zu bytes",
		       (unsigned long long)v, sig->len);
		return;
	}
	snprintf(sv.sig, sizeof(sv.sig), "%s", sig->str);
	snprintf(sv.key_id, sizeof(sv.key_id), "%s", kid->str);
	if (gk_polstore_state_save(ps->state_dir, &sv, err, sizeof(err)) != 0)
		gk_log(GK_LOG_ERR,
		       "policy: version %llu is in force but cannot be kept on disk: %s; a restart "
		       "without Redis would not find it (policy.state_dir)",
		       (unsigned long long)v, err);
}

/* Verify, decode and compile version v from its HMGET reply [bundle, sig, key_id]. */
static void apply(gk_polsync_t *ps, uint64_t v, const redisReply *r)
{
	char why[512];
	const redisReply *b = r->element[0], *sig = r->element[1], *kid = r->element[2];
	if (b->type != REDIS_REPLY_STRING) {
		reject(ps, v, "the current pointer names a version that is not stored");
		return;
	}
	if (sig->type != REDIS_REPLY_STRING || kid->type != REDIS_REPLY_STRING) {
		reject(ps, v, "no signature or key id stored with the bundle");
		return;
	}
	gk_policy_t *p = NULL;
	int rc = verify_compile(ps, v, b->str, b->len, sig->str, kid->str, &p, why, sizeof(why));
	/* a long compile must not count against the connection's reply timeout */
	gk_redis_session_touch(ps->rs);
	if (rc != 0) {
		reject(ps, v, why);
		return;
	}
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	gk_log(GK_LOG_INFO, "policy: version %llu applied (key id %s): %zu entries in %u lists",
	       (unsigned long long)v, kid->str, st.entries, st.lists);
	ps->applied = v;
	ps->cur_rejected = false;
	if (ps->conf.status && ps->rejected)
		gk_status_set_policy_error(ps->conf.status, 0, NULL);
	report(ps, steady_state(ps));
	ps->conf.on_policy(ps->conf.ctx, p, v, kid->str);
	save_state(ps, v, b, sig, kid);
	gk_redis_session_touch(ps->rs); /* an fsync may take a while */
}

static void on_version(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	gk_polsync_t *ps = gk_redis_session_ctx(rs);
	uint64_t v = (uint64_t)(uintptr_t)priv;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		gk_redis_session_fail(rs,
		                      r->type == REDIS_REPLY_ERROR ? r->str : "bad HMGET reply");
		return;
	}
	apply(ps, v, r);
	check_done(ps);
}

static void on_current(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	gk_polsync_t *ps = gk_redis_session_ctx(rs);
	(void)priv;
	uint64_t v = 0;
	if ((r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING) ||
	    (r->type == REDIS_REPLY_STRING &&
	     (gk_polstore_parse_version(r->str, r->len, &v) != 0 || v == 0))) {
		char shown[48], why[200];
		snprintf(shown, sizeof(shown), "%.40s",
		         r->type == REDIS_REPLY_STRING ? r->str : "");
		if (!ps->cur_rejected || ps->rejected != 0 || strcmp(shown, ps->bad_pointer) != 0) {
			snprintf(ps->bad_pointer, sizeof(ps->bad_pointer), "%s", shown);
			snprintf(why, sizeof(why),
			         "%s holds '%s', not a version (1.." GK_POLICY_VERSION_MAX_TEXT
			         "): written by something other than gkctl",
			         GK_KEY_POL_CURRENT, shown);
			reject(ps, 0, why);
		}
		check_done(ps);
		return;
	}
	if (v != 0 && v == ps->applied && ps->cur_rejected) {
		/* the pointer is back at the version in force: nothing is rejected any more */
		ps->cur_rejected = false;
		if (ps->conf.status)
			gk_status_set_policy_error(ps->conf.status, 0, NULL);
	} else if (v != 0 && v != ps->applied && v == ps->rejected) {
		ps->cur_rejected =
		    true; /* named again (e.g. after a bad pointer): still rejected */
	}
	if (v == 0 || v == ps->applied || v == ps->rejected) {
		report(ps, steady_state(ps));
		check_done(ps);
		return;
	}
	if (v < ps->applied) {
		char why[160];
		snprintf(why, sizeof(why),
		         "below the version in force (%llu): the pointer went back (Redis restored "
		         "from an old copy, or a replay)",
		         (unsigned long long)ps->applied);
		reject(ps, v, why);
		check_done(ps);
		return;
	}
	if (gk_redis_session_cmd(rs, 0, on_version, (void *)(uintptr_t)v, 0,
	                         "HMGET " GK_KEY_POL_VERSION " bundle sig key_id",
	                         (unsigned long long)v) != 0)
		gk_redis_session_fail(rs, "cannot send HMGET");
}

static void check(gk_polsync_t *ps)
{
	if (ps->check_out) {
		ps->check_again = true;
		return;
	}
	if (gk_redis_session_cmd(ps->rs, 0, on_current, NULL, 0, "GET %s", GK_KEY_POL_CURRENT) !=
	    0) {
		gk_redis_session_fail(ps->rs, "cannot send GET");
		return;
	}
	ps->check_out = true;
	ps->last_check_ms = gk_redis_session_now_ms();
}

/* --- announcements (the status replica's tail) ---------------------------------------- */

static void notify_cb(uv_async_t *a)
{
	gk_polsync_t *ps = a->data;
	if (ready(ps))
		check(ps);
	/* not connected: the next session starts with a check */
}

void gk_polsync_notify(gk_polsync_t *ps)
{
	if (ps != NULL && ps->started)
		uv_async_send(&ps->notify_async);
}

static void on_state(gk_redis_session_t *rs, gk_redis_session_state_t state, const char *why,
                     void *ctx)
{
	(void)why;
	gk_polsync_t *ps = ctx;
	uv_mutex_lock(&ps->info_lock);
	ps->info.reconnects = gk_redis_session_reconnects(rs);
	uv_mutex_unlock(&ps->info_lock);
	if (state == GK_REDIS_SESSION_READY) {
		char name[300];
		gk_redis_addr_fmt(gk_redis_session_addr(rs), name, sizeof(name));
		gk_log(GK_LOG_INFO, "policy: following %s on redis %s", GK_KEY_POL_CURRENT, name);
		ps->check_out = ps->check_again = false;
		check(ps);
		report(ps, steady_state(ps));
	} else if (state == GK_REDIS_SESSION_DOWN) {
		ps->check_out = ps->check_again = false;
		report(ps, "disconnected");
	}
}

static void tick_cb(uv_timer_t *t)
{
	gk_polsync_t *ps = t->data;
	if (ready(ps) && gk_redis_session_now_ms() - ps->last_check_ms >= POLL_MS)
		check(ps); /* the replica does not tail before its first load, nor while diverged */
}

/* --- thread and lifecycle --------------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_cb(uv_async_t *a)
{
	gk_polsync_t *ps = a->data;
	ps->stopping = true;
	gk_redis_session_close(ps->rs);
	ps->rs = NULL;
	uv_close((uv_handle_t *)&ps->stop_async, NULL);
	uv_close((uv_handle_t *)&ps->notify_async, NULL);
	uv_close((uv_handle_t *)&ps->tick, NULL);
}

static void thread_main(void *arg)
{
	gk_polsync_t *ps = arg;
	gk_thread_name("gk-policy");
	uv_run(&ps->loop, UV_RUN_DEFAULT);
	uv_walk(&ps->loop, close_walk, NULL);
	uv_run(&ps->loop, UV_RUN_DEFAULT);
}

int gk_polsync_create(const gk_polsync_conf_t *conf, gk_polsync_t **out, char *err, size_t errlen)
{
	if (conf == NULL || out == NULL || conf->on_policy == NULL ||
	    (conf->redis_host == NULL && conf->redis_unix == NULL)) {
		snprintf(err, errlen, "policy: no redis address or no callback");
		return GK_EINVAL;
	}
	if (conf->n_operator_keys == 0) {
		snprintf(err, errlen, "policy: following redis needs operator_keys");
		return GK_EINVAL;
	}
	gk_polsync_t *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	ps->conf = *conf;
	int rc = gk_polstore_keyring_load((const char *const *)conf->operator_keys,
	                                  conf->n_operator_keys, &ps->keys, err, errlen);
	if (rc != 0) {
		free(ps);
		return rc;
	}
	ps->host = conf->redis_host ? strdup(conf->redis_host) : NULL;
	ps->unix_path = conf->redis_unix ? strdup(conf->redis_unix) : NULL;
	ps->state_dir = conf->state_dir ? strdup(conf->state_dir) : NULL;
	if ((conf->redis_host && !ps->host) || (conf->redis_unix && !ps->unix_path) ||
	    (conf->state_dir && !ps->state_dir) ||
	    gk_redis_auth_copy(&ps->auth, conf->redis_auth) != 0 ||
	    uv_mutex_init(&ps->info_lock) != 0) {
		gk_redis_auth_clear(&ps->auth);
		gk_polstore_keyring_free(ps->keys);
		free(ps->host);
		free(ps->unix_path);
		free(ps->state_dir);
		free(ps);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	ps->conf.redis_host = ps->host;
	ps->conf.redis_unix = ps->unix_path;
	ps->conf.redis_auth = &ps->auth;
	gk_redis_addr_set(&ps->target.addr, ps->host, conf->redis_port, ps->unix_path);
	if (conf->redis_sentinel)
		ps->target.sentinel = *conf->redis_sentinel;
	ps->conf.redis_sentinel = NULL;
	ps->conf.state_dir = ps->state_dir;
	ps->conf.operator_keys = NULL; /* read: the keyring holds them */
	if (ps->conf.connect_timeout_ms == 0)
		ps->conf.connect_timeout_ms = 1000;
	if (ps->conf.reconnect_max_ms == 0)
		ps->conf.reconnect_max_ms = 5000;
	if (ps->conf.reconnect_max_ms < BACKOFF_MIN_MS)
		ps->conf.reconnect_max_ms = BACKOFF_MIN_MS;
	*out = ps;
	return 0;
}

int gk_polsync_load_state(gk_polsync_t *ps, gk_policy_t **out, uint64_t *version, char *err,
                          size_t errlen)
{
	if (ps->started || ps->applied)
		return GK_EINVAL;
	if (ps->state_dir == NULL)
		return GK_ENOENT;
	gk_polstore_version_t sv;
	char why[512];
	int rc = gk_polstore_state_load(ps->state_dir, &sv, err, errlen);
	if (rc != 0)
		return rc;
	rc = verify_compile(ps, sv.version, sv.bundle, sv.bundle_len, sv.sig, sv.key_id, out, why,
	                    sizeof(why));
	if (rc != 0) {
		snprintf(err, errlen, "%s/%s: version %llu: %s", ps->state_dir,
		         GK_POLSTORE_STATE_FILE, (unsigned long long)sv.version, why);
		gk_polstore_version_clear(&sv);
		return rc == GK_ENOMEM ? GK_ENOMEM : GK_ESYNTAX;
	}
	gk_log(GK_LOG_INFO,
	       "policy: version %llu (key id %s) from %s/%s, verified: in force until Redis "
	       "offers a newer version that verifies",
	       (unsigned long long)sv.version, sv.key_id, ps->state_dir, GK_POLSTORE_STATE_FILE);
	ps->applied = ps->from_state = sv.version;
	*version = sv.version;
	uv_mutex_lock(&ps->info_lock);
	ps->info.applied = sv.version;
	uv_mutex_unlock(&ps->info_lock);
	gk_polstore_version_clear(&sv);
	return 0;
}

int gk_polsync_start(gk_polsync_t *ps)
{
	if (ps->started)
		return GK_EINVAL;
	int rc = uv_loop_init(&ps->loop);
	if (rc != 0)
		return rc;
	uv_async_init(&ps->loop, &ps->stop_async, stop_cb);
	uv_async_init(&ps->loop, &ps->notify_async, notify_cb);
	uv_timer_init(&ps->loop, &ps->tick);
	ps->stop_async.data = ps->notify_async.data = ps->tick.data = ps;
	gk_redis_session_conf_t sc = {.who = "policy",
	                              .target = &ps->target,
	                              .auth = &ps->auth,
	                              .connect_timeout_ms = ps->conf.connect_timeout_ms,
	                              .command_timeout_ms = CMD_TIMEOUT_MS,
	                              .backoff_min_ms = BACKOFF_MIN_MS,
	                              .reconnect_max_ms = ps->conf.reconnect_max_ms,
	                              .on_state = on_state,
	                              .ctx = ps};
	if ((rc = gk_redis_session_create(&ps->loop, &sc, &ps->rs)) != 0) {
		uv_walk(&ps->loop, close_walk, NULL);
		uv_run(&ps->loop, UV_RUN_DEFAULT);
		uv_loop_close(&ps->loop);
		return rc;
	}
	if (ps->conf.status)
		gk_status_set_policy(ps->conf.status, ps->applied, "waiting");
	uv_timer_start(&ps->tick, tick_cb, TICK_MS, TICK_MS);
	gk_redis_session_start(ps->rs);
	if ((rc = uv_thread_create(&ps->thread, thread_main, ps)) != 0) {
		gk_redis_session_close(ps->rs);
		ps->rs = NULL;
		uv_walk(&ps->loop, close_walk, NULL);
		uv_run(&ps->loop, UV_RUN_DEFAULT);
		uv_loop_close(&ps->loop);
		return rc;
	}
	ps->started = true;
	return 0;
}

void gk_polsync_stop(gk_polsync_t *ps)
{
	if (ps == NULL || !ps->started)
		return;
	uv_async_send(&ps->stop_async);
	uv_thread_join(&ps->thread);
	if (uv_loop_close(&ps->loop) != 0)
		gk_log(GK_LOG_ERR, "policy: loop still busy at close");
	ps->started = false;
}

void gk_polsync_free(gk_polsync_t *ps)
{
	if (ps == NULL)
		return;
	gk_polsync_stop(ps);
	gk_polstore_keyring_free(ps->keys);
	uv_mutex_destroy(&ps->info_lock);
	gk_redis_auth_clear(&ps->auth);
	free(ps->host);
	free(ps->unix_path);
	free(ps->state_dir);
	free(ps);
}

void gk_polsync_info(const gk_polsync_t *ps, gk_polsync_info_t *info)
{
	gk_polsync_t *m = (gk_polsync_t *)ps;
	uv_mutex_lock(&m->info_lock);
	*info = m->info;
	uv_mutex_unlock(&m->info_lock);
}
