/* SPDX-License-Identifier: MIT */
/* src/status/internal.h -- shared between the files of the status replica.
 *
 * Layers, each calling only the ones below it:
 *   status.c   the public verbs (status.h): create, lookups, info; wires the layers
 *   load.c, tail.c   following Redis: full load, resume, tail, trim checks, divergence
 *              (peers: a tail that finds a gap reloads, a load hands over to the tail)
 *   session.c  the status loop: its thread, the Redis session (src/redis/session.h) with
 *              its two links, heartbeat, staleness, info; it reaches the layer above only
 *              through gk_status_sync (up, down, step, beat)
 *   table.c    the layered table and name conversion (no Redis)
 * Every function shared between files is named gk_status_<...>.
 *
 * The replica is a layered open-addressing table (see table.c for the design): an immutable
 * base built by a full load or a merge, plus insert-only overlays that the single writer
 * fills in place. Readers reach all of it through one atomically published root. Retired
 * memory is handed to whoever owns the readers' grace periods (gk_status_retired_take).
 *
 * Threads: everything named gk_status_tab_* / gk_status_stage_* runs on the writer (the status
 * thread, or the one thread calling gk_status_put); gk_status_tab_get runs on any reader.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "redis/redis.h"
#include "redis/session.h"
#include "status/status.h"

/* One table: buckets of one cache line, each holding GK_TAB_WAYS entries with a 16-bit
 * fingerprint each (0 = empty, else from the hash), plus an arena of entries [len][len
 * bytes: the wire name without its root label]. A lookup reads one bucket (rarely the next
 * ones) and, when a fingerprint matches, one arena entry to confirm the key. */
#define GK_TAB_WAYS 6

struct tslot {
	uint32_t off;         /* entry offset in the arena; written before the fingerprint */
	_Atomic uint32_t val; /* packed value; 0 = removed (the key is then unfiled) */
};

struct tbkt {
	_Atomic uint16_t fp[GK_TAB_WAYS]; /* filled in order: after an empty one all are empty */
	_Atomic uint32_t ovf; /* non-zero: a key whose home is here (or before) lives after */
	struct tslot e[GK_TAB_WAYS];
};
_Static_assert(sizeof(struct tbkt) == 64, "a bucket is one cache line");

struct tbl {
	size_t nb;            /* buckets */
	size_t cap;           /* slots: nb * GK_TAB_WAYS */
	_Atomic size_t count; /* occupied slots; readers skip an empty overlay */
	struct tbkt *b;
	uint8_t *arena;
	size_t arena_used, arena_cap;
	size_t map_len;   /* bucket mapping */
	size_t arena_map; /* arena mapping length */
	/* one bit per key (a Bloom filter with one hash), set before the key's fingerprint:
	 * ~8 bits per key, so it stays in the last-level cache where the buckets cannot, and
	 * most absent keys cost no bucket miss; NULL in the empty table of tab_init */
	_Atomic uint64_t *filter;
	size_t filter_bits; /* a multiple of 64 */
};

/* What readers load: newest first. frozen is non-NULL only while a merge runs. */
struct root {
	struct tbl *ov;     /* current overlay: writer inserts and updates in place */
	struct tbl *frozen; /* overlay being merged into the next base (read-only) */
	struct tbl *base;   /* immutable key set; values updated in place when no merge runs */
};

/* Entries of a full load, in arrival order; the arena is handed over to the built base. */
struct stage {
	uint8_t *arena;
	size_t used, cap;
	uint64_t *ents; /* (offset << 32) | value */
	size_t n, ncap;
};

/* A base being built from a stage, in bounded steps. */
struct build {
	struct stage stage;
	struct tbl *t;
	size_t pos;
	size_t live;
};

/* A merge of base + frozen into next, in bounded steps. */
struct merge {
	struct tbl *next;
	int phase; /* 0: copy frozen, 1: copy base */
	size_t pos;
};

struct retired {
	struct retired *next;
	struct tbl *t;  /* or NULL */
	struct root *r; /* or NULL */
};

/* Writer-side state of the layered table. */
struct tab {
	_Atomic(struct root *) root; /* never NULL after tab_init */
	/* every query loads root (and gk_status's ready and stale just before it): the fields
	 * below change with every write, so they start on another cache line */
	char pad[64 - sizeof(void *)];
	size_t live; /* domains with a non-zero value */
	bool merging;
	struct merge m;
	size_t ov_limit; /* keys in an overlay before a merge starts */
	/* retired memory waiting for a grace period */
	uv_mutex_t lock;
	struct retired *retired;
	size_t retired_n;
	void (*on_retire)(void *ctx); /* gk_status_conf_t retired, called after each retire */
	void *on_retire_ctx;
};

/* Entries per bounded step (STYLE.md rule 14). */
#define GK_TAB_STEP 65536u

int gk_status_tab_init(struct tab *tb);
void gk_status_tab_destroy(
    struct tab *tb); /* frees everything, retired included: no readers left */
/* Reader: the slot for name, or NULL. */
/* Bumped (release) after every change of any table (tab_set) and every new root (a load,
 * a merge step). A reader that loads it (acquire) and then looks a key up sees every change
 * made before that value, so a result remembered with the value stays good until the value
 * moves (gk_status_get_memo). Starts at 1; 64 bits never wrap. */
extern _Atomic uint64_t gk_status_tab_gen;
const struct tslot *gk_status_tab_get(const struct root *r, const uint8_t *name, size_t len,
                                      uint64_t h);
/* Writer: set (v != 0) or remove (v == 0) one domain. GK_ENOMEM / GK_ENOSPC. */
int gk_status_tab_set(struct tab *tb, const uint8_t *name, size_t len, uint32_t v);
/* Writer: one bounded merge step if a merge runs. Returns true while more work remains. */
bool gk_status_tab_step(struct tab *tb);
/* Writer: replace everything with a built base (swap after a full load). */
void gk_status_tab_install(struct tab *tb, struct build *b);
size_t gk_status_tab_size(const struct tab *tb);
/* Resident bytes held by the current root's tables (buckets, used arena). */
size_t gk_status_tab_bytes(const struct tab *tb);

/* Full-load staging and the bounded base build. */
int gk_status_stage_add(struct stage *s, const uint8_t *name, size_t len, uint32_t v);
void gk_status_stage_free(struct stage *s);
int gk_status_build_begin(struct build *b); /* takes over b->stage */
bool gk_status_build_step(struct build *b); /* true while more work remains */
void gk_status_build_free(struct build *b);

/* A status key's domain ("foo.com.cn": labels joined by '.', no escapes, lowercased on the
 * way) to wire form in out[GK_DNAME_MAX]: the wire length, or 0 when not a name. */
#define GK_STATUS_NAME_FLAGS GK_DNAME_TEXT_NOROOT

gk_status_retired_t *gk_status_tab_retired_take(struct tab *tb);

/* --- session.c: the status loop --------------------------------------------------- */

struct gk_status;

/* What session.c calls in the layer above (tail.c defines gk_status_sync): up once the
 * session is ready (load or resume), down when it failed (failed true) or the loop stops,
 * step for bounded work (true while more remains), beat once per heartbeat interval while
 * connected. Status thread. */
struct gk_status_sync_ops {
	void (*up)(struct gk_status *st);
	void (*down)(struct gk_status *st, bool failed);
	bool (*step)(struct gk_status *st);
	void (*beat)(struct gk_status *st);
};
extern const struct gk_status_sync_ops gk_status_sync;

/* The XREAD BLOCK time, allowed on top of the reply timeout on the tail link (ms), and the
 * reminder period while stale or diverged. */
#define GK_STATUS_TAIL_BLOCK_MS 1000u
#define GK_STATUS_NAG_MS        60000u

/* The links of the status session (src/redis/session.h). */
#define GK_STATUS_LINK_CMD  0u /* full load, trim checks, PING, heartbeats */
#define GK_STATUS_LINK_TAIL 1u /* XREAD BLOCK only */

enum phase {
	PH_DOWN = 0,   /* no session; the session reconnects by itself */
	PH_CONNECTING, /* the session is connecting, or ready and deciding: load or resume */
	PH_RESUMING,   /* XINFO sent: resume or reload */
	PH_LOADING,    /* full load: HGETALL windows in flight */
	PH_BUILDING,   /* full load received: building the base in bounded steps */
	PH_TAILING,    /* XREAD BLOCK on the tail connection */
	PH_DIVERGED,   /* the store is behind what we applied: no tail, gk:serial polled */
};

struct sid {
	uint64_t ms, seq;
};

struct gk_status {
	gk_status_conf_t conf;
	const struct gk_status_sync_ops *sync; /* &gk_status_sync (status.c sets it) */
	char *host, *unix_path, *inst_id, *version, *inst_key;
	gk_redis_target_t target; /* host/port or unix_path, or conf.redis_sentinel copied */
	gk_redis_auth_t auth;     /* conf.redis_auth copied; points here after create */
	/* the heartbeat's own session to the primary (conf.heartbeat_to; redis.c) */
	bool hb_split;
	gk_redis_target_t hb_target;
	unsigned command_timeout_ms;

	_Atomic bool ready;
	_Atomic bool expired; /* past max_age_ms: readers answer GK_FS_UNKNOWN */
	struct tab tab;       /* right after the flags, which every reader loads with the root */

	/* info for other threads */
	uv_mutex_t info_lock;
	gk_status_info_t info;
	/* the policy in force, for the heartbeat (gk_status_set_policy); under info_lock */
	uint64_t pol_version;
	char pol_state[16];
	char pol_error[200];

	/* status loop, all below touched by the status thread only (after start) */
	bool started;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_timer_t tick;
	uv_idle_t work;
	bool stopping;
	gk_redis_session_t *rs;    /* the reading session (links: GK_STATUS_LINK_*) */
	gk_redis_session_t *hb_rs; /* the heartbeat's session (hb_split), or NULL */
	bool connected;            /* rs is READY */
	enum phase phase;
	bool load_failed;
	uint64_t last_contact_ms; /* the session's last reply (monotonic), or the start */
	uint64_t last_heartbeat_ms;
	/* freshness and divergence (redis.c); nag_ms: when the last reminder was logged */
	bool stale, diverged;
	uint64_t stale_nag_ms, diverged_nag_ms;
	uint64_t stale_since_ms; /* last reply before the replica went stale */
	uint64_t store_serial;   /* gk:serial last read */
	uint64_t serial;
	struct sid last;   /* last stream entry applied */
	uint64_t consumed; /* stream entries accounted for: entries-added at load + applied */
	bool need_reload;

	/* full load */
	struct build load;
	bool loading;
	struct sid load_id;
	uint64_t load_consumed;
	uint64_t load_serial;
	bool load_has_serial;
	uint64_t load_floor; /* serial applied when the load began: the store must hold >= */
	unsigned next_bucket, done_buckets;
	uint64_t load_start_ms;
	uint64_t bad_entries;

	/* tail */
	bool tail_out;        /* an XREAD is outstanding */
	unsigned tail_gen;    /* bumped on swap: replies of older XREADs are dropped */
	bool check_out;       /* a trim check (XINFO) is outstanding */
	uint64_t check_floor; /* serial applied when the check's GET gk:serial was sent */
};

/* Monotonic ms. */
uint64_t gk_status_now_ms(void);
/* Stream ids "ms-seq": parse (0 or GK_EINVAL), compare, format. */
int gk_status_sid_parse(const char *s, size_t len, struct sid *out);
int gk_status_sid_cmp(struct sid a, struct sid b);
void gk_status_sid_fmt(struct sid a, char *buf, size_t cap);
/* Copy the loop's state into the info other threads read (gk_status_info). */
void gk_status_publish_info(struct gk_status *st);
/* Send a command on a link of the status session; fn gets the reply (never NULL: a lost
 * connection drops the callback and fails the session). Returns 0 or GK_EIO/GK_ENOMEM. */
int gk_status_cmd(struct gk_status *st, unsigned link, gk_redis_reply_fn *fn, void *priv,
                  const char *fmt, ...);
int gk_status_cmdargv(struct gk_status *st, unsigned link, gk_redis_reply_fn *fn, void *priv,
                      int argc, const char **argv, const size_t *argvlen);
/* Fail the session (it reconnects after its backoff; sync->down runs). */
void gk_status_session_fail(struct gk_status *st, const char *why);
/* Make sure bounded work runs (sync->step, table merges) on the loop's idle handle. */
void gk_status_work_start(struct gk_status *st);
/* A session that loaded or resumed: the next reconnect starts at the minimum delay. */
void gk_status_backoff_reset(struct gk_status *st);
/* The stream carried a policy entry, or a load or resume may have skipped one: tell the
 * policy follower (conf.policy_changed). */
void gk_status_policy_changed(struct gk_status *st);

/* --- load.c, tail.c: following Redis ------------------------------------------------- */

/* tail.c: the store holds serial store (what: where it was seen) below the serial applied here:
 * keep the table, stop tailing, flag diverged (logged loudly once), poll until it holds
 * >= again, then reload the whole set (need_reload). */
void gk_status_diverge(struct gk_status *st, uint64_t store, const char *what);
/* A gk:serial reply: 0 and *out (0 for nil), or GK_EINVAL. */
int gk_status_serial_reply(const redisReply *r, uint64_t *out);
/* load.c */
struct xinfo {
	struct sid last, maxdel;
	uint64_t added, length;
};
int gk_status_xinfo_parse(const redisReply *r, struct xinfo *x);
bool gk_status_no_such_key(const redisReply *r);
int gk_status_parse_value(const char *s, size_t len, uint32_t *out);
void gk_status_load_begin(struct gk_status *st);
bool gk_status_load_step(struct gk_status *st);
void gk_status_load_abort(struct gk_status *st);
/* tail.c */
void gk_status_resume_begin(struct gk_status *st);
void gk_status_tail_begin(struct gk_status *st);
void gk_status_tail_check(struct gk_status *st);
int gk_status_apply_change(struct gk_status *st, const char *d, size_t dlen, const char *v,
                           size_t vlen);
