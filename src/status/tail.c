/* SPDX-License-Identifier: MIT */
/* src/status/tail.c -- the change stream: resume, XREAD BLOCK, apply, trimmed-stream checks.
 *
 * The tail connection carries one XREAD BLOCK at a time, from the last applied id, at most
 * TAIL_COUNT entries per reply (so one reply is one bounded batch of table writes). Replies
 * of an XREAD sent before a table swap carry tail_gen of that time and are dropped: after a
 * full load the tail restarts from the id recorded before the load.
 *
 * Gaps: on resume, and once per heartbeat while tailing, XINFO STREAM is checked. Redis 7.0
 * raises max-deleted-entry-id on XDEL but NOT on XTRIM / XADD MAXLEN (measured on 7.0.15),
 * so trimming is detected by counting: entries-added - length entries have left the front
 * of the stream; if that exceeds the entries we account for (entries-added when the table
 * was loaded, plus every entry applied since), an entry we never applied is gone. Either
 * condition reloads the whole set beside the live table. A stream that vanished after we had
 * applied entries (Redis restarted without its data) also forces a reload.
 *
 * Divergence: every status entry carries the serial of its feed (s=), and a feed's entries
 * come before its k=serial entry, so an entry of a feed older than the serial applied here,
 * or a gk:serial below it (checked on resume and with every trim check), means the store
 * went backwards (replaced, restored from an old dump, flushed and refilled). Nothing from
 * it is applied: status_diverge keeps the table and waits for the store to catch up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/log.h"
#include "status/internal.h"

#define TAIL_COUNT 1000

static void send_xread(gk_status_t *st);

int gk_status_apply_change(gk_status_t *st, const char *d, size_t dlen, const char *v, size_t vlen)
{
	uint8_t wire[GK_DNAME_MAX + 1];
	size_t len = gk_dname_from_text(d, dlen, wire, GK_STATUS_NAME_FLAGS);
	uint32_t val = 0;
	if (len == 0 || (vlen > 0 && gk_status_parse_value(v, vlen, &val) != 0))
		return GK_EINVAL;
	return gk_status_tab_set(&st->tab, wire, len, val);
}

static const redisReply *field(const redisReply *kv, const char *name)
{
	for (size_t i = 0; i + 1 < kv->elements; i += 2)
		if (kv->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(kv->element[i]->str, name) == 0 &&
		    kv->element[i + 1]->type == REDIS_REPLY_STRING)
			return kv->element[i + 1];
	return NULL;
}

/* The s= of an entry, if it has a decimal one. */
static bool entry_serial(const redisReply *kv, uint64_t *out)
{
	const redisReply *s = field(kv, "s");
	char *end;
	if (s == NULL)
		return false;
	*out = strtoull(s->str, &end, 10);
	return end != s->str && *end == 0;
}

#define ENTRY_OLDER 1 /* apply_entry: an entry of a feed older than the serial applied */

/* One stream entry [id, [k, v, ...]]. Returns 0, ENTRY_OLDER (nothing applied, *older is
 * its serial), or GK_EINVAL for a malformed id. */
static int apply_entry(gk_status_t *st, const redisReply *e, uint64_t *older)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return GK_EINVAL;
	struct sid id;
	if (gk_status_sid_parse(e->element[0]->str, e->element[0]->len, &id) != 0)
		return GK_EINVAL;
	const redisReply *kv = e->element[1];
	uint64_t es;
	if (kv->type == REDIS_REPLY_ARRAY) {
		const redisReply *k = field(kv, "k");
		if (k != NULL && (strcmp(k->str, "st") == 0 || strcmp(k->str, "serial") == 0) &&
		    entry_serial(kv, &es) && es < st->serial) {
			*older = es;
			return ENTRY_OLDER;
		}
		if (k != NULL && strcmp(k->str, "st") == 0) {
			/* one or more (d, v) pairs, in order (include/gk/filing_status.h) */
			const redisReply *d = NULL;
			unsigned changes = 0;
			int rc = 0;
			for (size_t i = 0; i + 1 < kv->elements && rc != GK_EINVAL; i += 2) {
				const redisReply *f = kv->element[i], *x = kv->element[i + 1];
				if (f->type != REDIS_REPLY_STRING || x->type != REDIS_REPLY_STRING)
					continue;
				if (strcmp(f->str, "d") == 0) {
					rc = d != NULL ? GK_EINVAL : 0; /* a d without its v */
					d = x;
				} else if (strcmp(f->str, "v") == 0) {
					rc = d != NULL ? gk_status_apply_change(st, d->str, d->len,
					                                        x->str, x->len)
					               : GK_EINVAL;
					if (rc != 0 && rc != GK_EINVAL)
						gk_log(GK_LOG_ERR, "status: stream entry %s: %s",
						       e->element[0]->str, gk_strerror(rc));
					d = NULL;
					changes++;
				}
			}
			if ((rc == GK_EINVAL || d != NULL || changes == 0) &&
			    st->bad_entries++ < 10)
				gk_log(GK_LOG_WARN, "status: stream entry %s: malformed change",
				       e->element[0]->str);
		} else if (k != NULL && strcmp(k->str, "serial") == 0) {
			if (entry_serial(kv, &es))
				st->serial = es; /* not below: checked above */
		} else if (k != NULL && strcmp(k->str, "pol") == 0) {
			/* fleet policy (include/gk/policy_store.h): handed to src/polsync, which
			 * re-reads the pointer; counted as applied so the trim accounting stays
			 * exact */
			gk_log(GK_LOG_DEBUG, "status: policy change in stream entry %s",
			       e->element[0]->str);
			gk_status_policy_changed(st);
		}
	}
	st->last = id;
	st->consumed++;
	return 0;
}

static void on_xread(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	gk_status_t *st = gk_redis_session_ctx(rs);
	st->tail_out = false;
	if (r->type == REDIS_REPLY_ERROR) {
		char why[200];
		snprintf(why, sizeof(why), "XREAD: %s", r->str);
		gk_log(GK_LOG_ERR, "status: %s", why);
		gk_status_session_fail(st, why);
		return;
	}
	if ((unsigned)(uintptr_t)priv == st->tail_gen && r->type == REDIS_REPLY_ARRAY) {
		for (size_t s = 0; s < r->elements; s++) {
			const redisReply *sr = r->element[s];
			if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
			    sr->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			const redisReply *es = sr->element[1];
			for (size_t i = 0; i < es->elements && st->phase == PH_TAILING; i++) {
				uint64_t older = 0;
				int rc = apply_entry(st, es->element[i], &older);
				if (rc == ENTRY_OLDER) {
					char what[96];
					snprintf(what, sizeof(what),
					         "stream entry %s is of an older feed",
					         es->element[i]->element[0]->str);
					gk_status_diverge(st, older, what);
				} else if (rc != 0) {
					gk_log(GK_LOG_WARN,
					       "status: malformed stream entry skipped");
				}
			}
		}
		gk_status_publish_info(st);
		gk_status_work_start(st); /* a merge may have started */
	}
	if (st->phase == PH_TAILING)
		send_xread(st);
}

static void send_xread(gk_status_t *st)
{
	if (st->tail_out)
		return;
	char id[48];
	gk_status_sid_fmt(st->last, id, sizeof(id));
	if (gk_status_cmd(st, GK_STATUS_LINK_TAIL, on_xread, (void *)(uintptr_t)st->tail_gen,
	                  "XREAD COUNT %d BLOCK %d STREAMS %s %s", TAIL_COUNT,
	                  GK_STATUS_TAIL_BLOCK_MS, GK_KEY_STREAM, id) != 0) {
		gk_status_session_fail(st, "cannot send XREAD");
		return;
	}
	st->tail_out = true;
}

void gk_status_tail_begin(gk_status_t *st)
{
	st->phase = PH_TAILING;
	send_xread(st);
}

/* Decide from an XINFO STREAM reply whether entries we never applied are gone. */
static bool gap(gk_status_t *st, const redisReply *r, const char **why)
{
	struct sid zero = {0, 0};
	struct xinfo x;
	if (gk_status_no_such_key(r)) {
		*why = "the change stream is gone";
		return gk_status_sid_cmp(st->last, zero) != 0;
	}
	if (gk_status_xinfo_parse(r, &x) != 0) {
		*why = "bad XINFO STREAM reply";
		return true;
	}
	if (x.added - x.length > st->consumed) {
		*why = "entries not yet applied were trimmed from the change stream";
		return true;
	}
	*why = "entries not yet applied were deleted from the change stream";
	return gk_status_sid_cmp(x.maxdel, st->last) > 0;
}

static void reload(gk_status_t *st, const char *why)
{
	char sid[48];
	gk_status_sid_fmt(st->last, sid, sizeof(sid));
	gk_log(GK_LOG_WARN, "status: reloading after trim: %s (last applied %s)", why, sid);
	st->need_reload = true;
	gk_status_load_begin(st);
}

/* gk:serial on resume and with each trim check: below the serial applied when it was sent
 * (floor; the tail may apply newer entries meanwhile), the store went backwards. */
static void check_serial(gk_status_t *st, const redisReply *r, uint64_t floor, const char *what)
{
	uint64_t store;
	if (gk_status_serial_reply(r, &store) != 0) {
		gk_status_session_fail(st, r->type == REDIS_REPLY_ERROR ? r->str : "bad gk:serial");
		return;
	}
	st->store_serial = store;
	if (store < floor)
		gk_status_diverge(st, store, what);
}

static void on_resume_serial(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	if (st->phase == PH_RESUMING)
		check_serial(st, r, st->serial, "gk:serial on reconnect");
}

static void on_resume(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	const char *why;
	if (st->phase != PH_RESUMING)
		return; /* diverged (on_resume_serial) or failed */
	if (r->type == REDIS_REPLY_ERROR && !gk_status_no_such_key(r)) {
		gk_status_session_fail(st, r->str);
		return;
	}
	if (st->need_reload) {
		gk_log(GK_LOG_INFO, "status: reloading the whole set (a reload was pending)");
		gk_status_load_begin(st);
		return;
	}
	if (gap(st, r, &why)) {
		reload(st, why);
		return;
	}
	char sid[48];
	gk_status_sid_fmt(st->last, sid, sizeof(sid));
	gk_log(GK_LOG_INFO, "status: resuming the change stream after %s", sid);
	gk_status_backoff_reset(st);
	gk_status_policy_changed(st); /* while down, a policy may have been pushed */
	gk_status_tail_begin(st);
}

void gk_status_resume_begin(gk_status_t *st)
{
	st->phase = PH_RESUMING;
	if (gk_status_cmd(st, GK_STATUS_LINK_CMD, on_resume_serial, NULL, "GET %s",
	                  GK_KEY_SERIAL) != 0 ||
	    gk_status_cmd(st, GK_STATUS_LINK_CMD, on_resume, NULL, "XINFO STREAM %s",
	                  GK_KEY_STREAM) != 0)
		gk_status_session_fail(st, "cannot send XINFO");
}

static void on_check(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	st->check_out = false;
	const char *why;
	if (r->type == REDIS_REPLY_ERROR && !gk_status_no_such_key(r)) {
		gk_log(GK_LOG_WARN, "status: XINFO STREAM: %s", r->str);
		return;
	}
	if (st->phase == PH_TAILING && gap(st, r, &why))
		reload(st, why);
}

static void on_check_serial(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	if (st->phase == PH_TAILING)
		check_serial(st, r, st->check_floor, "gk:serial while following");
}

void gk_status_tail_check(gk_status_t *st)
{
	if (st->check_out)
		return;
	st->check_floor = st->serial;
	if (gk_status_cmd(st, GK_STATUS_LINK_CMD, on_check_serial, NULL, "GET %s", GK_KEY_SERIAL) !=
	        0 ||
	    gk_status_cmd(st, GK_STATUS_LINK_CMD, on_check, NULL, "XINFO STREAM %s",
	                  GK_KEY_STREAM) != 0) {
		gk_status_session_fail(st, "cannot send XINFO");
		return;
	}
	st->check_out = true;
}

/* --- divergence: the store went behind what was applied ----------------------------- */

int gk_status_serial_reply(const redisReply *r, uint64_t *out)
{
	*out = 0;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING)
		return GK_EINVAL;
	char *end;
	*out = strtoull(r->str, &end, 10);
	return end != r->str && *end == 0 ? 0 : GK_EINVAL;
}

void gk_status_diverge(gk_status_t *st, uint64_t store, const char *what)
{
	uint64_t now = gk_status_now_ms();
	st->store_serial = store;
	st->need_reload = true; /* changes were skipped: only a full load can follow again */
	if (!st->diverged) {
		gk_log(GK_LOG_ERR,
		       "status: DIVERGED (%s): redis is at serial %llu, behind the serial %llu "
		       "applied here; keeping the last-known-good set (%zu domains) and applying "
		       "nothing from this store until its %s is >= %llu (resynchronise: re-apply "
		       "the latest snapshot with gk-sync; docs/STATUS.md)",
		       what, (unsigned long long)store, (unsigned long long)st->serial,
		       gk_status_tab_size(&st->tab), GK_KEY_SERIAL, (unsigned long long)st->serial);
		st->diverged = true;
		st->diverged_nag_ms = now;
	}
	if (st->phase == PH_LOADING || st->phase == PH_BUILDING)
		gk_status_load_abort(st);
	st->phase = PH_DIVERGED;
	st->tail_gen++; /* an XREAD still outstanding is dropped when it returns */
	gk_status_publish_info(st);
}

static void on_poll(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = gk_redis_session_ctx(rs);
	uint64_t floor = st->serial, store; /* constant while diverged: nothing is applied */
	if (st->phase != PH_DIVERGED)
		return;
	if (gk_status_serial_reply(r, &store) != 0) {
		gk_status_session_fail(st, r->type == REDIS_REPLY_ERROR ? r->str : "bad gk:serial");
		return;
	}
	st->store_serial = store;
	uint64_t now = gk_status_now_ms();
	if (store < floor) {
		if (now - st->diverged_nag_ms >= GK_STATUS_NAG_MS) {
			gk_log(GK_LOG_ERR,
			       "status: still diverged: redis holds %s %llu, %llu applied here",
			       GK_KEY_SERIAL, (unsigned long long)store, (unsigned long long)floor);
			st->diverged_nag_ms = now;
		}
		gk_status_publish_info(st);
		return;
	}
	gk_log(GK_LOG_WARN,
	       "status: redis holds %s %llu again (>= %llu applied here): reloading the whole set",
	       GK_KEY_SERIAL, (unsigned long long)store, (unsigned long long)floor);
	gk_status_load_begin(st); /* clears diverged once the set is installed */
}

/* --- the layer as the session sees it (gk_status_sync) ------------------------------ */

static void sync_up(gk_status_t *st)
{
	st->phase = PH_CONNECTING;
	if (!atomic_load(&st->ready))
		gk_status_load_begin(st);
	else
		gk_status_resume_begin(st); /* checks gk:serial first, then resumes or reloads */
}

static void sync_down(gk_status_t *st, bool failed)
{
	if (st->phase == PH_LOADING || st->phase == PH_BUILDING) {
		gk_status_load_abort(st);
		if (failed)
			st->load_failed = true;
	}
	st->phase = PH_DOWN;
	st->tail_out = false;
	st->check_out = false;
}

static bool sync_step(gk_status_t *st)
{
	return st->phase == PH_BUILDING && gk_status_load_step(st);
}

/* Once per heartbeat interval while connected: the divergence poll, or the trim check. */
static void sync_beat(gk_status_t *st)
{
	if (st->phase == PH_DIVERGED) {
		if (gk_status_cmd(st, GK_STATUS_LINK_CMD, on_poll, NULL, "GET %s", GK_KEY_SERIAL) !=
		    0)
			gk_status_session_fail(st, "cannot send GET");
	} else if (st->phase == PH_TAILING) {
		gk_status_tail_check(st);
	}
}

const struct gk_status_sync_ops gk_status_sync = {
    .up = sync_up, .down = sync_down, .step = sync_step, .beat = sync_beat};
