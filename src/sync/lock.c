/* SPDX-License-Identifier: MIT */
/* src/sync/lock.c -- the apply lock (GK_KEY_SYNC_LOCK) and fenced writes (internal.h).
 *
 * One apply at a time writes a Redis instance: SET NX PX with a random owner token before
 * the first write, renewed while the apply runs, deleted at the end only if still ours.
 * Expiry alone would not be enough (an apply stalled past its ttl could wake up and write
 * beside the next one), so every write goes through a script (FENCE_LUA, or BUCKET_LUA for
 * a bucket) that checks the token and performs the writes atomically: an apply that lost
 * the lock writes nothing more.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "gk/filing_status.h"
#include "sync/internal.h"

/* KEYS[1] the lock; ARGV[1] this apply's lock value; then commands, each as its argument
 * count followed by its arguments. unpack() is bounded by Lua's C stack (8000 values): no
 * command here has more than GK_SYNC_FENCE_MAX_ARGS. */
static const char FENCE_LUA[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then\n"
    "  return redis.error_reply('" GK_SYNC_LOCK_ERR " ' .. KEYS[1] .. ' is not held by this "
    "apply')\n"
    "end\n"
    "local i, n = 2, #ARGV\n"
    "while i <= n do\n"
    "  local c = tonumber(ARGV[i])\n"
    "  redis.call(unpack(ARGV, i + 1, i + c))\n"
    "  i = i + c + 1\n"
    "end\n"
    "return 1\n";

/* One bucket's writes, fenced. KEYS: the lock, the status bucket, the record bucket, the
 * stream. ARGV: the lock value, the feed's serial, the stream's MAXLEN, changes per entry,
 * then the lengths of four lists and the lists: record HSET pairs, record HDEL fields,
 * status HSET pairs, status HDEL fields. The stream entries are made here from the status
 * lists (sets, then removals as v ""), so each change crosses the wire once, not twice: the
 * bucket costs Redis about what the same MULTI/EXEC did. */
static const char BUCKET_LUA[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then\n"
    "  return redis.error_reply('" GK_SYNC_LOCK_ERR " ' .. KEYS[1] .. ' is not held by this "
    "apply')\n"
    "end\n"
    "local i = 9\n"
    "local function write(cmd, key, n)\n"
    "  local j, e = i, i + n - 1\n"
    "  while j <= e do\n"
    "    local k = math.min(j + 999, e)\n"
    "    redis.call(cmd, key, unpack(ARGV, j, k))\n"
    "    j = k + 1\n"
    "  end\n"
    "  i = i + n\n"
    "end\n"
    "write('HSET', KEYS[3], tonumber(ARGV[5]))\n"
    "write('HDEL', KEYS[3], tonumber(ARGV[6]))\n"
    "local s, ns = i, tonumber(ARGV[7])\n"
    "write('HSET', KEYS[2], ns)\n"
    "local r, nr = i, tonumber(ARGV[8])\n"
    "write('HDEL', KEYS[2], nr)\n"
    "local batch, x, m = tonumber(ARGV[4]), nil, 0\n"
    "local function add(d, v)\n"
    "  if m == 0 then\n"
    "    x = {'XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'k', 'st', 's', ARGV[2]}\n"
    "  end\n"
    "  local n = #x\n"
    "  x[n + 1] = 'd'; x[n + 2] = d; x[n + 3] = 'v'; x[n + 4] = v\n"
    "  m = m + 1\n"
    "  if m == batch then redis.call(unpack(x)); m = 0 end\n"
    "end\n"
    "for j = s, s + ns - 1, 2 do add(ARGV[j], ARGV[j + 1]) end\n"
    "for j = r, r + nr - 1 do add(ARGV[j], '') end\n"
    "if m > 0 then redis.call(unpack(x)) end\n"
    "return 1\n";

static const char RELEASE_LUA[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  return redis.call('DEL', KEYS[1])\n"
                                  "end\n"
                                  "return 0\n";

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int gk_sync_lock_value(char *out, size_t cap)
{
	unsigned char tok[16];
	char host[64] = "", since[32];
	if (RAND_bytes(tok, sizeof(tok)) != 1)
		return GK_EIO;
	if (gethostname(host, sizeof(host) - 1) || !host[0])
		strcpy(host, "unknown");
	for (char *p = host; *p; p++)
		if (*p == ' ')
			*p = '_';
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char hex[33];
	for (size_t i = 0; i < sizeof(tok); i++)
		snprintf(hex + 2 * i, 3, "%02x", tok[i]);
	int n = snprintf(out, cap, "%s %s:%ld %s", hex, host, (long)getpid(), since);
	return n > 0 && (size_t)n < cap ? 0 : GK_ERANGE;
}

/* "another apply holds the lock KEY since T, owner O (...)" from the holder's value
 * (token owner since) */
static void describe(char *out, size_t cap, const char *val, long long pttl)
{
	char tok[64] = "", owner[128] = "", since[64] = "", exp[64];
	if (sscanf(val, "%63s %127s %63s", tok, owner, since) != 3) {
		snprintf(owner, sizeof(owner), "unknown (value \"%.60s\")", val);
		snprintf(since, sizeof(since), "an unknown time");
	}
	if (pttl >= 0)
		snprintf(exp, sizeof(exp), "expires in %lld ms unless renewed", pttl);
	else
		snprintf(exp, sizeof(exp), "no expiry: delete it if no apply runs");
	snprintf(out, cap, "another apply holds the lock %s since %s, owner %s (%s)",
	         GK_KEY_SYNC_LOCK, since, owner, exp);
}

static int load(gk_sync_conn_t *cn, const char *script, char sha[41])
{
	redisReply *r = NULL;
	const char *cmd[] = {"SCRIPT", "LOAD", script};
	int rc = gk_sync_conn_command(cn, &r, 3, cmd);
	if (!rc && (r->type != REDIS_REPLY_STRING || r->len != 40)) {
		gk_sync_conn_err(cn, "redis: SCRIPT LOAD: unexpected reply");
		rc = GK_EIO;
	}
	if (!rc)
		memcpy(sha, r->str, 41);
	freeReplyObject(r);
	return rc;
}

int gk_sync_lock_acquire(gk_sync_lock_t *l, gk_sync_conn_t *cn, const char *value, unsigned ttl_ms,
                         unsigned wait_ms)
{
	char ttl[16];
	double t0 = mono();
	int said = 0;
	*l = (gk_sync_lock_t){.cn = cn, .ttl_ms = ttl_ms ? ttl_ms : GK_SYNC_LOCK_TTL_MS};
	snprintf(l->value, sizeof(l->value), "%s", value);
	snprintf(ttl, sizeof(ttl), "%u", l->ttl_ms);
	for (;;) {
		redisReply *r = NULL, *g = NULL, *p = NULL;
		const char *set[] = {"SET", GK_KEY_SYNC_LOCK, l->value, "NX", "PX", ttl};
		double at = mono();
		int rc = gk_sync_conn_command(cn, &r, 6, set);
		if (rc)
			return rc;
		int got = r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (got) {
			l->held = 1;
			l->renewed = at;
			break;
		}
		const char *get[] = {"GET", GK_KEY_SYNC_LOCK}, *pttl[] = {"PTTL", GK_KEY_SYNC_LOCK};
		rc = gk_sync_conn_command(cn, &g, 2, get);
		if (!rc)
			rc = gk_sync_conn_command(cn, &p, 2, pttl);
		if (rc) {
			freeReplyObject(g);
			return rc;
		}
		double waited = mono() - t0;
		char who[400];
		if (g->type == REDIS_REPLY_STRING)
			describe(who, sizeof(who), g->str,
			         p->type == REDIS_REPLY_INTEGER ? p->integer : -1);
		else /* released between SET and GET: try again at once */
			who[0] = 0;
		if (who[0] && waited * 1000 >= wait_ms) {
			if (wait_ms)
				gk_sync_conn_err(cn,
				                 "%s; gave up after %.1f s (--lock-wait %u ms); "
				                 "nothing written",
				                 who, waited, wait_ms);
			else
				gk_sync_conn_err(
				    cn, "%s; nothing written (--lock-wait MS waits for it)", who);
			freeReplyObject(g);
			freeReplyObject(p);
			return GK_EBUSY;
		}
		if (who[0] && !said++)
			gk_log(GK_LOG_WARN, "%s: waiting up to %u ms (--lock-wait)", who, wait_ms);
		freeReplyObject(g);
		freeReplyObject(p);
		if (!who[0])
			continue;
		/* poll: the holder's DEL is not announced (a 50 ms step costs nothing next to an
		 * apply) */
		double left = wait_ms / 1000.0 - waited;
		struct timespec ts = {0, (long)((left < 0.05 ? left : 0.05) * 1e9)};
		nanosleep(&ts, NULL);
	}
	/* the scripts, loaded once per connection */
	int rc = load(cn, FENCE_LUA, l->sha);
	return rc ? rc : load(cn, BUCKET_LUA, l->bucket_sha);
}

void gk_sync_lock_fence_head(const gk_sync_lock_t *l, gk_sync_args_t *b)
{
	gk_sync_args_add(b, "EVALSHA", 7);
	gk_sync_args_add(b, l->sha, 40);
	gk_sync_args_add(b, "1", 1);
	gk_sync_args_add(b, GK_KEY_SYNC_LOCK, sizeof(GK_KEY_SYNC_LOCK) - 1);
	gk_sync_args_add(b, l->value, strlen(l->value));
}

/* one command of a fenced script's body: its argument count, then (by the caller) its
 * arguments; *nbody counts the body's strings */
void gk_sync_lock_bucket_head(const gk_sync_lock_t *l, gk_sync_args_t *b, const char *stk,
                              const char *rck, const char *serial, const size_t n[4])
{
	gk_sync_args_add(b, "EVALSHA", 7);
	gk_sync_args_add(b, l->bucket_sha, 40);
	gk_sync_args_add(b, "4", 1);
	gk_sync_args_add(b, GK_KEY_SYNC_LOCK, sizeof(GK_KEY_SYNC_LOCK) - 1);
	gk_sync_args_copy(b, stk, strlen(stk));
	gk_sync_args_copy(b, rck, strlen(rck));
	gk_sync_args_add(b, GK_KEY_STREAM, sizeof(GK_KEY_STREAM) - 1);
	gk_sync_args_add(b, l->value, strlen(l->value));
	gk_sync_args_copy(b, serial, strlen(serial));
	gk_sync_args_num(b, GK_STREAM_MAXLEN);
	gk_sync_args_num(b, GK_STREAM_BATCH);
	for (int i = 0; i < 4; i++)
		gk_sync_args_num(b, n[i]);
}

void gk_sync_lock_fence_cmd(gk_sync_args_t *body, size_t argc)
{
	gk_sync_args_num(body, argc);
}

int gk_sync_lock_run(gk_sync_lock_t *l, const gk_sync_strs_t *cmd)
{
	gk_sync_args_t b = {0};
	redisReply *r = NULL;
	gk_sync_lock_fence_head(l, &b);
	gk_sync_lock_fence_cmd(&b, cmd->n);
	for (size_t i = 0; i < cmd->n; i++)
		gk_sync_args_add(&b, cmd->v[i], cmd->l[i]);
	int rc = gk_sync_args_send(l->cn, &b);
	if (!rc)
		rc = gk_sync_conn_reply(l->cn, &r);
	freeReplyObject(r);
	gk_sync_args_free(&b);
	return rc;
}

int gk_sync_lock_renew(gk_sync_lock_t *l)
{
	double t = mono();
	if (!l->held || (t - l->renewed) * 1000 < l->ttl_ms / 3.0)
		return 0;
	char ttl[16];
	gk_sync_args_t b = {0};
	snprintf(ttl, sizeof(ttl), "%u", l->ttl_ms);
	gk_sync_lock_fence_head(l, &b);
	gk_sync_args_add(&b, "3", 1);
	gk_sync_args_add(&b, "PEXPIRE", 7);
	gk_sync_args_add(&b, GK_KEY_SYNC_LOCK, sizeof(GK_KEY_SYNC_LOCK) - 1);
	gk_sync_args_add(&b, ttl, strlen(ttl));
	int rc = gk_sync_args_send(l->cn, &b);
	gk_sync_args_free(&b);
	if (rc)
		return rc;
	l->cn->pending++;
	l->renewed = t;
	return 0;
}

int gk_sync_lock_release(gk_sync_lock_t *l, const gk_redis_addr_t *a, const gk_redis_auth_t *auth,
                         unsigned timeout_ms)
{
	if (!l->held)
		return 0;
	l->held = 0;
	/* a connection of its own: the apply's may hold unread replies after a failure */
	gk_sync_conn_t cn = {0};
	redisReply *r = NULL;
	const char *del[] = {"EVAL", RELEASE_LUA, "1", GK_KEY_SYNC_LOCK, l->value};
	int rc = gk_sync_conn_open(&cn, a, auth, timeout_ms);
	if (!rc)
		rc = gk_sync_conn_command(&cn, &r, 5, del);
	if (!rc)
		rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 0 : GK_ENOENT;
	freeReplyObject(r);
	gk_sync_conn_close(&cn);
	return rc;
}
