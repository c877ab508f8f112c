/* SPDX-License-Identifier: MIT */
/* src/status/load.c -- full load of the status set: every bucket, pipelined in windows.
 *
 * Order matters: the stream position is recorded first (XINFO STREAM last-generated-id),
 * then gk:serial, then the 65536 buckets; the tail then resumes from the recorded id, so
 * every change made during the load is replayed (entries carry full values, so replaying
 * one that the load already saw is harmless). last-generated-id rather than XREVRANGE's
 * last entry: after XTRIM MAXLEN 0 the stream is empty but its ids go on, and resuming
 * from 0-0 would look like a gap forever. entries-added at that moment is how many entries
 * the table accounts for (see the gap check in tail.c).
 *
 * Replies are staged (names in one arena that becomes the new base's arena), then the base
 * is built GK_TAB_STEP entries per loop turn and swapped in; the live table keeps serving
 * meanwhile. A bucket that is not a hash fails the load (the live table stays).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/log.h"
#include "status/internal.h"

#define LOAD_WINDOW 512u

static void send_bucket(gk_status_t *st);

/* last-generated-id, max-deleted-entry-id, entries-added and length from an XINFO STREAM
 * reply (Redis >= 7.0). */
int gk_status_xinfo_parse(const redisReply *r, struct xinfo *x)
{
	memset(x, 0, sizeof(*x));
	if (r->type != REDIS_REPLY_ARRAY)
		return GK_EINVAL;
	bool have_added = false;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
			continue;
		if (v->type == REDIS_REPLY_INTEGER && strcmp(k->str, "entries-added") == 0) {
			x->added = (uint64_t)v->integer;
			have_added = true;
		}
		if (v->type == REDIS_REPLY_INTEGER && strcmp(k->str, "length") == 0)
			x->length = (uint64_t)v->integer;
		if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
			continue;
		if (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_STATUS)
			continue;
		if (strcmp(k->str, "last-generated-id") == 0 &&
		    gk_status_sid_parse(v->str, v->len, &x->last) != 0)
			return GK_EINVAL;
		if (strcmp(k->str, "max-deleted-entry-id") == 0 &&
		    gk_status_sid_parse(v->str, v->len, &x->maxdel) != 0)
			return GK_EINVAL;
	}
	return have_added && x->added >= x->length ? 0 : GK_EINVAL;
}

bool gk_status_no_such_key(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key") != NULL;
}

static void on_xinfo(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	struct xinfo x;
	if (st->phase != PH_LOADING)
		return;
	if (gk_status_no_such_key(r)) {
		st->load_id = (struct sid){0, 0};
		st->load_consumed = 0;
		return;
	}
	if (gk_status_xinfo_parse(r, &x) != 0) {
		gk_status_session_fail(st, r->type == REDIS_REPLY_ERROR ? r->str
		                                                        : "bad XINFO STREAM reply");
		return;
	}
	st->load_id = x.last;
	st->load_consumed = x.added;
}

static void on_serial(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	if (st->phase != PH_LOADING)
		return;
	uint64_t v;
	if (gk_status_serial_reply(r, &v) != 0) {
		gk_status_session_fail(st, r->type == REDIS_REPLY_ERROR ? r->str : "bad gk:serial");
		return;
	}
	st->load_has_serial = r->type != REDIS_REPLY_NIL;
	st->load_serial = v;
	st->store_serial = v;
	/* a live table never goes back to an older serial: that would un-revoke what the newer
	 * feeds revoked (the bucket replies still in flight are ignored) */
	if (atomic_load(&st->ready) && v < st->load_floor)
		gk_status_diverge(st, v, "gk:serial at a full load");
}

/* Strict decimal uint32 ("" is not a value here). */
int gk_status_parse_value(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 10)
		return GK_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GK_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return GK_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void bad_entry(gk_status_t *st, const char *where, const char *d, size_t dlen)
{
	if (st->bad_entries++ < 10)
		gk_log(GK_LOG_WARN, "status: %s: skipping malformed entry \"%.*s\"", where,
		       (int)(dlen > 80 ? 80 : dlen), d);
}

static void on_bucket(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	gk_status_t *st = gk_redis_session_ctx(rs);
	unsigned b = (unsigned)(uintptr_t)priv;
	char key[16];
	if (st->phase != PH_LOADING)
		return; /* the load was given up (diverged) */
	snprintf(key, sizeof(key), GK_KEY_STATUS_BUCKET, b);
	if (r->type != REDIS_REPLY_ARRAY) {
		char why[256];
		snprintf(why, sizeof(why), "full load: %s: %s", key,
		         r->type == REDIS_REPLY_ERROR ? r->str : "not a hash");
		gk_log(GK_LOG_ERR, "status: %s", why);
		gk_status_session_fail(st, why);
		return;
	}
	uint8_t wire[GK_DNAME_MAX + 1];
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		uint32_t val;
		size_t len;
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    (len = gk_dname_from_text(f->str, f->len, wire, GK_STATUS_NAME_FLAGS)) == 0 ||
		    gk_status_parse_value(v->str, v->len, &val) != 0) {
			bad_entry(st, key, f->type == REDIS_REPLY_STRING ? f->str : "?",
			          f->type == REDIS_REPLY_STRING ? f->len : 1);
			continue;
		}
		if (val == 0)
			continue;
		int rc = gk_status_stage_add(&st->load.stage, wire, len, val);
		if (rc != 0) {
			gk_log(GK_LOG_ERR, "status: full load: %s", gk_strerror(rc));
			gk_status_session_fail(st, "full load: out of memory");
			return;
		}
	}
	st->done_buckets++;
	if (st->next_bucket < GK_FS_BUCKETS) {
		send_bucket(st);
		return;
	}
	if (st->done_buckets < GK_FS_BUCKETS)
		return;
	/* gk-sync writes gk:serial last: without it (a feed is still being applied to an
	 * empty Redis) or below the serial we hold (a Redis that lost data), the buckets are
	 * a partial set. Installing them would refuse filed domains: keep what we have (or
	 * stay "starting") and retry. */
	bool live = atomic_load(&st->ready);
	if (!st->load_has_serial || (live && st->load_serial < st->load_floor)) {
		gk_log(GK_LOG_ERR,
		       "status: redis holds %s %llu%s: not installing a partial status set "
		       "(%zu domains), %s, retrying",
		       GK_KEY_SERIAL, (unsigned long long)st->load_serial,
		       st->load_has_serial ? "" : " (not set)", st->load.stage.n,
		       live ? "keeping the live table" : "still starting");
		gk_status_session_fail(st, "incomplete status set");
		return;
	}
	if (gk_status_build_begin(&st->load) != 0) {
		gk_status_session_fail(st, "full load: out of memory");
		return;
	}
	st->phase = PH_BUILDING;
	gk_status_work_start(st);
}

static void send_bucket(gk_status_t *st)
{
	unsigned b = st->next_bucket++;
	if (gk_status_cmd(st, GK_STATUS_LINK_CMD, on_bucket, (void *)(uintptr_t)b,
	                  "HGETALL " GK_KEY_STATUS_BUCKET, b) != 0)
		gk_status_session_fail(st, "cannot send HGETALL");
}

void gk_status_load_begin(gk_status_t *st)
{
	gk_status_load_abort(st);
	st->phase = PH_LOADING;
	st->load_start_ms = gk_status_now_ms();
	st->load_has_serial = false;
	st->load_serial = 0;
	st->next_bucket = st->done_buckets = 0;
	st->bad_entries = 0;
	st->load_floor = st->serial;
	if (gk_status_cmd(st, GK_STATUS_LINK_CMD, on_xinfo, NULL, "XINFO STREAM %s",
	                  GK_KEY_STREAM) != 0 ||
	    gk_status_cmd(st, GK_STATUS_LINK_CMD, on_serial, NULL, "GET %s", GK_KEY_SERIAL) != 0) {
		gk_status_session_fail(st, "cannot send the load commands");
		return;
	}
	for (unsigned i = 0; i < LOAD_WINDOW && st->phase == PH_LOADING; i++)
		send_bucket(st);
}

void gk_status_load_abort(gk_status_t *st)
{
	gk_status_build_free(&st->load);
	memset(&st->load, 0, sizeof(st->load));
}

bool gk_status_load_step(gk_status_t *st)
{
	if (gk_status_build_step(&st->load))
		return true;
	bool first = !atomic_load(&st->ready);
	size_t n = st->load.live;
	gk_status_tab_install(&st->tab, &st->load);
	if (st->load.t != NULL) { /* out of memory: keep the live table, retry later */
		gk_status_load_abort(st);
		gk_status_session_fail(st, "cannot install the loaded table");
		return false;
	}
	gk_status_load_abort(st);
	st->last = st->load_id;
	st->consumed = st->load_consumed;
	if (st->load_has_serial)
		st->serial = st->load_serial;
	st->need_reload = false;
	st->load_failed = false;
	if (st->diverged) {
		gk_log(GK_LOG_WARN,
		       "status: no longer diverged: following redis again at serial %llu",
		       (unsigned long long)st->serial);
		st->diverged = false;
	}
	atomic_store_explicit(&st->ready, true, memory_order_release);
	uv_mutex_lock(&st->info_lock);
	st->info.full_loads++;
	uv_mutex_unlock(&st->info_lock);
	char sid[48];
	gk_status_sid_fmt(st->last, sid, sizeof(sid));
	gk_log(GK_LOG_INFO, "status: %s %zu domains in %llu ms (serial %llu, stream %s)",
	       first ? "loaded" : "reloaded", n,
	       (unsigned long long)(gk_status_now_ms() - st->load_start_ms),
	       (unsigned long long)st->serial, sid);
	gk_status_backoff_reset(st);
	gk_status_policy_changed(st); /* the entries the load covered are not read */
	st->tail_gen++;
	gk_status_tail_begin(st);
	gk_status_publish_info(st);
	return false;
}
