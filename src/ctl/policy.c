/* SPDX-License-Identifier: MIT */
/* src/ctl/policy.c -- gkctl policy push | show | history | diff | rollback | keyid.
 *
 * A push validates the files with the daemon's compiler (gk_polstore_bundle_load: nothing
 * reaches Redis unless the bundle compiles from memory exactly as every gatekeeperd will
 * compile it), takes the next version number (INCR), signs the canonical bundle carrying
 * that number, and stores version, history, audit record, current pointer and the stream
 * announcement in one Lua script (include/gk/policy_store.h). A rollback is a push of an
 * older version's content under a new number, audited as a rollback.
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "ctl/internal.h"
#include "daemon/config.h"
#include "redis/redis.h"
#include "gk/filing_status.h"
#include "polstore/polstore.h"

/* KEYS: current, version hash, history, audit, stream.
 * ARGV: version, bundle, sig, key_id, action, from, created, message, audit, maxlen, and the
 * pointer value gkctl found corrupt and replaces ("" when it was sound): a pointer that is
 * not a version may only be replaced if it still holds exactly that value. */
static const char store_lua[] =
    "local raw = redis.call('GET', KEYS[1])\n"
    "local cur = 0\n"
    "if raw then\n"
    "  if ARGV[11] ~= '' and raw == ARGV[11] then\n"
    "    cur = 0\n"
    "  elseif string.match(raw, '^[1-9][0-9]*$') and #raw <= 16 and\n"
    "         tonumber(raw) <= " GK_POLICY_VERSION_MAX_TEXT " then\n"
    "    cur = tonumber(raw)\n"
    "  else\n"
    "    return redis.error_reply('" GK_KEY_POL_CURRENT " changed to a value that is not a "
    "version during the push')\n"
    "  end\n"
    "end\n"
    "if tonumber(ARGV[1]) <= cur then\n"
    "  return redis.error_reply('version ' .. ARGV[1] .. ' is not above the current version ' "
    ".. raw)\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  return redis.error_reply('version ' .. ARGV[1] .. ' exists already')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'bundle', ARGV[2], 'sig', ARGV[3], 'key_id', ARGV[4],\n"
    "  'action', ARGV[5], 'from', ARGV[6], 'created', ARGV[7], 'message', ARGV[8])\n"
    "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
    "redis.call('RPUSH', KEYS[4], ARGV[9])\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "return redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[10], '*', 'k', 'pol', 'v', "
    "ARGV[1], 'a', ARGV[5])\n";

/* The current pointer as gkctl found it: a version (cur, 0 when none), or corrupt (not a
 * version, or naming a version that is not stored: raw holds its value). */
struct pointer {
	uint64_t cur;
	bool corrupt;
	char *raw; /* corrupt: the value (rawlen bytes, malloc'd), else NULL */
	size_t rawlen;
};

int64_t gk_ctl_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void gk_ctl_time(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int gk_ctl_connect(const gk_ctl_opts_t *o, void **redis, FILE *errf)
{
	char err[512], addr[300] = "127.0.0.1:6379";
	if (o->redis) {
		snprintf(addr, sizeof(addr), "%s", o->redis);
	} else if (o->config) {
		gk_config_t *cfg;
		int rc = gk_daemon_config_load_flags(o->config, GK_CONFIG_NO_SECRETS, &cfg, err,
		                                     sizeof(err));
		if (rc != 0) {
			fprintf(errf, "gkctl: %s\n", err);
			return rc == GK_EIO ? GK_CTL_IO : GK_CTL_USAGE;
		}
		/* gkctl writes (policy): the primary, by redis.primary, else where gatekeeperd
		 * reads (redis.address, or the master of redis.sentinels) */
		const gk_redis_target_t *pt = cfg->redis.primary;
		gk_redis_target_t t = {0};
		if (pt)
			t = *pt;
		else if (cfg->redis.sentinel)
			t.sentinel = *cfg->redis.sentinel;
		if (o->sentinel_auth) { /* the config's are gatekeeperd's, and not read */
			memcpy(t.sentinel.user, o->sentinel_auth->user, sizeof(t.sentinel.user));
			memcpy(t.sentinel.password, o->sentinel_auth->password,
			       sizeof(t.sentinel.password));
		}
		if (cfg->redis.set && (pt || cfg->redis.sentinel)) {
			gk_redis_addr_t a;
			rc = gk_redis_target_resolve(&t, o->auth, 2000, &a, err, sizeof(err));
			if (rc != 0) {
				gk_daemon_config_free(cfg);
				fprintf(errf, "gkctl: %s\n", err);
				return GK_CTL_IO;
			}
			gk_redis_addr_fmt(&a, addr, sizeof(addr));
		} else if (cfg->redis.set) {
			snprintf(addr, sizeof(addr), "%s", cfg->redis.address);
		}
		gk_daemon_config_free(cfg);
	}
	int rc = gk_polstore_connect(addr, o->auth, o->timeout_ms ? o->timeout_ms : 2000, redis,
	                             err, sizeof(err));
	if (rc != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return rc == GK_EINVAL ? GK_CTL_USAGE : GK_CTL_IO;
	}
	return GK_CTL_OK;
}

static void user_name(char *out, size_t cap)
{
	char host[128] = "localhost";
	const char *u = getenv("SUDO_USER");
	struct passwd *pw = u ? NULL : getpwuid(getuid());
	if (!u)
		u = pw ? pw->pw_name : "unknown";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(out, cap, "%s@%s", u, host);
}

/* Read and decode version v (0: the current one; *v then gets its number). */
static int load_version(void *redis, uint64_t *v, gk_polstore_version_t *ver,
                        gk_polstore_bundle_t **b, FILE *errf)
{
	char err[512];
	if (*v == 0) {
		if (gk_polstore_current(redis, v, err, sizeof(err)) != 0) {
			fprintf(errf, "gkctl: %s\n", err);
			return GK_CTL_IO;
		}
		if (*v == 0) {
			fprintf(errf, "gkctl: no policy has been pushed yet\n");
			return GK_CTL_REJECT;
		}
	}
	int rc = gk_polstore_get(redis, *v, ver, err, sizeof(err));
	if (rc != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return rc == GK_ENOENT ? GK_CTL_REJECT : GK_CTL_IO;
	}
	if (b &&
	    gk_polstore_bundle_decode(ver->bundle, ver->bundle_len, b, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: version %llu: %s\n", (unsigned long long)*v, err);
		gk_polstore_version_clear(ver);
		return GK_CTL_REJECT;
	}
	return GK_CTL_OK;
}

/* Sign b (its version set here) and store it as the next version. prev: the current version
 * before (0: none) and its bundle (may be NULL). */
static int next_version(redisContext *c, const struct pointer *pt, uint64_t *out, FILE *errf);

static int store(void *redis, const gk_ctl_opts_t *o, gk_polstore_bundle_t *b,
                 const gk_policy_t *pb, const char *action, uint64_t from, const struct pointer *pt,
                 const gk_polstore_bundle_t *prevb, FILE *out, FILE *errf)
{
	uint64_t prev = pt->cur;
	char *dtext = NULL;
	size_t dlen = 0;
	FILE *dmem = NULL;
	char err[512], sig[GK_POLSTORE_SIG_B64_LEN + 1], kid[GK_POLICY_KEY_ID_LEN + 1];
	redisContext *c = redis;
	int ret = GK_CTL_IO;
	char *bytes = NULL, *audit = NULL;
	json_t *summary = NULL, *rec = NULL;
	size_t changes = 0, blen = 0;
	redisReply *r = NULL;
	if (gk_polstore_key_id(o->key, kid, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return GK_CTL_USAGE;
	}
	if ((ret = next_version(c, pt, &b->version, errf)) != GK_CTL_OK)
		goto out;
	ret = GK_CTL_IO;
	/* the diff once: its summary goes into the audit record, its text is printed after */
	if (gk_polstore_bundle_encode(b, &bytes, &blen) != 0 ||
	    !(dmem = open_memstream(&dtext, &dlen)) ||
	    gk_polstore_diff_compiled(prevb, NULL, b, pb, dmem, &summary, &changes) != 0 ||
	    fclose(dmem) != 0) {
		dmem = NULL;
		fprintf(errf, "gkctl: out of memory\n");
		goto out;
	}
	dmem = NULL;
	if (gk_polstore_sign(o->key, bytes, blen, sig, kid, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		ret = GK_CTL_USAGE;
		goto out;
	}
	char when[32], user[200];
	gk_ctl_time(b->created_ms, when, sizeof(when));
	user_name(user, sizeof(user));
	rec = json_pack("{sIsssIsIsssssssIsssO}", "version", (json_int_t)b->version, "action",
	                action, "from", (json_int_t)from, "previous", (json_int_t)prev, "key_id",
	                kid, "time", when, "user", user, "time_ms", (json_int_t)b->created_ms,
	                "message", b->message, "summary", summary);
	if (rec != NULL)
		json_object_set_new(rec, "changes", json_integer((json_int_t)changes));
	if (rec == NULL || !(audit = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS))) {
		fprintf(errf, "gkctl: cannot build the audit record\n");
		goto out;
	}
	char vkey[64], vs[24], fs[24], cs[24], ml[24];
	snprintf(vkey, sizeof(vkey), GK_KEY_POL_VERSION, (unsigned long long)b->version);
	snprintf(vs, sizeof(vs), "%llu", (unsigned long long)b->version);
	snprintf(fs, sizeof(fs), "%llu", (unsigned long long)from);
	snprintf(cs, sizeof(cs), "%lld", (long long)b->created_ms);
	snprintf(ml, sizeof(ml), "%u", GK_STREAM_MAXLEN);
	const char *argv[] = {"EVAL",
	                      store_lua,
	                      "5",
	                      GK_KEY_POL_CURRENT,
	                      vkey,
	                      GK_KEY_POL_HISTORY,
	                      GK_KEY_POL_AUDIT,
	                      GK_KEY_STREAM,
	                      vs,
	                      bytes,
	                      sig,
	                      kid,
	                      action,
	                      fs,
	                      cs,
	                      b->message,
	                      audit,
	                      ml,
	                      pt->corrupt ? pt->raw : ""};
	size_t n = sizeof(argv) / sizeof(argv[0]), lens[sizeof(argv) / sizeof(argv[0])];
	for (size_t i = 0; i < n; i++)
		lens[i] = argv[i] == bytes ? blen : strlen(argv[i]);
	lens[n - 1] = pt->corrupt ? pt->rawlen : 0;
	r = redisCommandArgv(c, (int)n, argv, lens);
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		fprintf(errf, "gkctl: redis: storing version %s: %s\n", vs,
		        r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
		          : c->errstr);
		goto out;
	}
	fprintf(out, "%s: version %s (key id %s, %zu bytes, stream entry %s)", action, vs, kid,
	        blen, r->str);
	if (from && strcmp(action, "rollback") == 0)
		fprintf(out, ", content of version %llu", (unsigned long long)from);
	fprintf(out, "\n");
	if (prevb)
		fprintf(out, "changes from version %llu:\n", (unsigned long long)prev);
	fwrite(dtext, 1, dlen, out);
	ret = GK_CTL_OK;
out:
	if (dmem)
		fclose(dmem);
	free(dtext);
	if (r)
		freeReplyObject(r);
	json_decref(rec);
	json_decref(summary);
	free(audit);
	free(bytes);
	return ret;
}

/* Read the current pointer. A value that is not a version, or a version that is not stored,
 * is corrupt: said loudly here, replaced by the push (store_lua checks it is unchanged). */
static int read_pointer(void *redis, struct pointer *pt, FILE *errf)
{
	redisContext *c = redis;
	memset(pt, 0, sizeof(*pt));
	redisReply *r = redisCommand(c, "GET %s", GK_KEY_POL_CURRENT);
	if (r == NULL || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING)) {
		fprintf(errf, "gkctl: redis: GET %s: %s\n", GK_KEY_POL_CURRENT,
		        r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
		          : c->errstr);
		if (r)
			freeReplyObject(r);
		return GK_CTL_IO;
	}
	const char *why = NULL;
	if (r->type == REDIS_REPLY_STRING) {
		if (gk_polstore_parse_version(r->str, r->len, &pt->cur) != 0 || pt->cur == 0) {
			why = "is not a version (1.." GK_POLICY_VERSION_MAX_TEXT ")";
		} else {
			redisReply *e = redisCommand(c, "EXISTS " GK_KEY_POL_VERSION,
			                             (unsigned long long)pt->cur);
			if (e == NULL || e->type != REDIS_REPLY_INTEGER) {
				fprintf(errf, "gkctl: redis: EXISTS: %s\n",
				        e && e->type == REDIS_REPLY_ERROR ? e->str : c->errstr);
				if (e)
					freeReplyObject(e);
				freeReplyObject(r);
				return GK_CTL_IO;
			}
			if (e->integer == 0)
				why = "names a version that is not stored";
			freeReplyObject(e);
		}
	}
	if (why) {
		pt->corrupt = true;
		pt->cur = 0;
		pt->rawlen = r->len;
		if ((pt->raw = malloc(r->len + 1)) == NULL) {
			freeReplyObject(r);
			fprintf(errf, "gkctl: out of memory\n");
			return GK_CTL_IO;
		}
		memcpy(pt->raw, r->str, r->len);
		pt->raw[r->len] = 0;
		fprintf(errf,
		        "gkctl: warning: %s holds '%.40s', which %s: something other than gkctl "
		        "wrote it (check who can write Redis). gatekeeperd instances reject it and "
		        "keep their last verified version; this push replaces it with a version "
		        "numbered after %s.\n",
		        GK_KEY_POL_CURRENT, r->str, why, GK_KEY_POL_HISTORY);
	}
	freeReplyObject(r);
	return GK_CTL_OK;
}

/* The current version and its bundle (NULL when none or undecodable: warned). */
static int current_bundle(void *redis, struct pointer *pt, gk_polstore_bundle_t **b, FILE *errf)
{
	*b = NULL;
	int rc = read_pointer(redis, pt, errf);
	if (rc != GK_CTL_OK || pt->cur == 0)
		return rc;
	gk_polstore_version_t ver;
	uint64_t v = pt->cur;
	rc = load_version(redis, &v, &ver, b, errf);
	if (rc == GK_CTL_IO)
		return rc;
	if (rc == GK_CTL_OK)
		gk_polstore_version_clear(&ver);
	else
		fprintf(errf,
		        "gkctl: warning: the current version %llu is unreadable; the change "
		        "summary compares with nothing\n",
		        (unsigned long long)pt->cur);
	return GK_CTL_OK;
}

/* The newest version in the history that is a version and is stored (0: none). */
static int history_top(redisContext *c, uint64_t *top, FILE *errf)
{
	*top = 0;
	redisReply *r = redisCommand(c, "LRANGE %s 0 -1", GK_KEY_POL_HISTORY);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		fprintf(errf, "gkctl: redis: LRANGE %s: %s\n", GK_KEY_POL_HISTORY,
		        r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		return GK_CTL_IO;
	}
	int ret = GK_CTL_OK;
	for (size_t i = 0; i < r->elements && ret == GK_CTL_OK; i++) {
		const redisReply *e = r->element[i];
		uint64_t v;
		if (e->type != REDIS_REPLY_STRING ||
		    gk_polstore_parse_version(e->str, e->len, &v) || v <= *top)
			continue;
		redisReply *x =
		    redisCommand(c, "EXISTS " GK_KEY_POL_VERSION, (unsigned long long)v);
		if (x == NULL || x->type != REDIS_REPLY_INTEGER)
			ret = GK_CTL_IO;
		else if (x->integer == 1)
			*top = v;
		if (x)
			freeReplyObject(x);
	}
	if (ret != GK_CTL_OK)
		fprintf(errf, "gkctl: redis: %s\n", c->errstr[0] ? c->errstr : "EXISTS failed");
	freeReplyObject(r);
	return ret;
}

/* The next version number: INCR of the sequence, unless the sequence is not a version, is at
 * the end of the range or not above the current version; then one more than the newest
 * stored version of the history (and the current one), and the sequence is set to it. */
static int next_version(redisContext *c, const struct pointer *pt, uint64_t *out, FILE *errf)
{
	redisReply *r = redisCommand(c, "INCR %s", GK_KEY_POL_SEQ);
	if (r == NULL) {
		fprintf(errf, "gkctl: redis: INCR %s: %s\n", GK_KEY_POL_SEQ, c->errstr);
		return GK_CTL_IO;
	}
	uint64_t n = 0;
	if (r->type == REDIS_REPLY_INTEGER && r->integer > 0 &&
	    (uint64_t)r->integer <= GK_POLICY_VERSION_MAX && (uint64_t)r->integer > pt->cur)
		n = (uint64_t)r->integer;
	freeReplyObject(r);
	if (n) {
		*out = n;
		return GK_CTL_OK;
	}
	uint64_t top;
	int ret = history_top(c, &top, errf);
	if (ret != GK_CTL_OK)
		return ret;
	if (pt->cur > top)
		top = pt->cur;
	if (top >= GK_POLICY_VERSION_MAX) {
		fprintf(
		    errf,
		    "gkctl: no version number is left (the history reaches %llu, the largest is "
		    "%llu)\n",
		    (unsigned long long)top, (unsigned long long)GK_POLICY_VERSION_MAX);
		return GK_CTL_REJECT;
	}
	n = top + 1;
	fprintf(errf,
	        "gkctl: warning: %s is not a usable version counter (not a number in "
	        "1.." GK_POLICY_VERSION_MAX_TEXT
	        ", or not above the current version); this push is numbered %llu, after %s, "
	        "and the counter is reset to it\n",
	        GK_KEY_POL_SEQ, (unsigned long long)n, GK_KEY_POL_HISTORY);
	r = redisCommand(c, "SET %s %llu", GK_KEY_POL_SEQ, (unsigned long long)n);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(errf, "gkctl: redis: SET %s: %s\n", GK_KEY_POL_SEQ, r ? r->str : c->errstr);
		ret = GK_CTL_IO;
	}
	if (r)
		freeReplyObject(r);
	*out = n;
	return ret;
}

int gk_ctl_policy_push(const gk_ctl_opts_t *o, const char *path, FILE *out, FILE *errf)
{
	char err[1024];
	gk_polstore_bundle_t *b = NULL, *prevb = NULL;
	gk_policy_t *pb = NULL;
	void *redis = NULL;
	struct pointer pt = {0};
	if (!o->key && !o->dry_run) {
		fprintf(errf, "gkctl: policy push needs --key OPERATOR_KEY (or --dry-run)\n");
		return GK_CTL_USAGE;
	}
	if (gk_polstore_bundle_load(path, &b, &pb, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\ngkctl: nothing pushed\n", err);
		return GK_CTL_REJECT;
	}
	int ret = gk_polstore_bundle_set_message(b, o->message) != 0 ? GK_CTL_IO : GK_CTL_OK;
	if (ret == GK_CTL_OK)
		ret = gk_ctl_connect(o, &redis, errf);
	if (ret == GK_CTL_OK)
		ret = current_bundle(redis, &pt, &prevb, errf);
	if (ret == GK_CTL_OK && o->dry_run) {
		gk_policy_stats_t st;
		gk_policy_stats(pb, &st);
		fprintf(out,
		        "dry run: %s compiles (%zu entries in %u lists, %zu files); changes from "
		        "version %llu:\n",
		        path, st.entries, st.lists, b->nfiles + 1, (unsigned long long)pt.cur);
		if (gk_polstore_diff_compiled(prevb, NULL, b, pb, out, NULL, NULL) != 0)
			ret = GK_CTL_IO;
		fprintf(out, "dry run: nothing pushed\n");
	} else if (ret == GK_CTL_OK) {
		ret = store(redis, o, b, pb, "push", pt.cur, &pt, prevb, out, errf);
	}
	if (ret != GK_CTL_OK && ret != GK_CTL_USAGE)
		fprintf(errf, "gkctl: nothing pushed\n");
	free(pt.raw);
	gk_policy_free(pb);
	gk_polstore_disconnect(redis);
	gk_polstore_bundle_free(b);
	gk_polstore_bundle_free(prevb);
	return ret;
}

int gk_ctl_policy_rollback(const gk_ctl_opts_t *o, uint64_t version, FILE *out, FILE *errf)
{
	char err[1024];
	gk_polstore_bundle_t *old = NULL, *prevb = NULL, *b = NULL;
	gk_policy_t *pold = NULL;
	gk_polstore_version_t ver = {0};
	void *redis = NULL;
	struct pointer pt = {0};
	uint64_t v = version;
	if (!o->key) {
		fprintf(errf, "gkctl: policy rollback needs --key OPERATOR_KEY\n");
		return GK_CTL_USAGE;
	}
	int ret = gk_ctl_connect(o, &redis, errf);
	if (ret == GK_CTL_OK)
		ret = load_version(redis, &v, &ver, &old, errf);
	if (ret == GK_CTL_OK && gk_polstore_bundle_compile(old, &pold, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: version %llu does not compile: %s\n",
		        (unsigned long long)version, err);
		ret = GK_CTL_REJECT;
	}
	if (ret == GK_CTL_OK)
		ret = current_bundle(redis, &pt, &prevb, errf);
	if (ret == GK_CTL_OK && !(b = gk_polstore_bundle_dup(old)))
		ret = GK_CTL_IO;
	if (ret == GK_CTL_OK) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "rollback to version %llu%s%s",
		         (unsigned long long)version, o->message ? ": " : "",
		         o->message ? o->message : "");
		b->created_ms = gk_ctl_now_ms();
		if (gk_polstore_bundle_set_message(b, msg) != 0)
			ret = GK_CTL_IO;
	}
	if (ret == GK_CTL_OK)
		ret = store(redis, o, b, pold, "rollback", version, &pt, prevb, out, errf);
	if (ret != GK_CTL_OK && ret != GK_CTL_USAGE)
		fprintf(errf, "gkctl: nothing rolled back\n");
	free(pt.raw);
	gk_policy_free(pold);
	gk_polstore_version_clear(&ver);
	gk_polstore_disconnect(redis);
	gk_polstore_bundle_free(old);
	gk_polstore_bundle_free(prevb);
	gk_polstore_bundle_free(b);
	return ret;
}

int gk_ctl_policy_show(const gk_ctl_opts_t *o, uint64_t version, FILE *out, FILE *errf)
{
	char err[512], when[32];
	gk_polstore_bundle_t *b = NULL;
	gk_polstore_version_t ver = {0};
	void *redis = NULL;
	uint64_t v = version, cur = 0;
	int ret = gk_ctl_connect(o, &redis, errf);
	if (ret == GK_CTL_OK && gk_polstore_current(redis, &cur, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		ret = GK_CTL_IO;
	}
	if (ret == GK_CTL_OK)
		ret = load_version(redis, &v, &ver, &b, errf);
	if (ret != GK_CTL_OK)
		goto out;
	if (o->file) {
		const gk_polstore_file_t *f = gk_polstore_bundle_file(b, o->file);
		if (f == NULL) {
			fprintf(errf, "gkctl: version %llu has no file '%s'\n",
			        (unsigned long long)v, o->file);
			ret = GK_CTL_REJECT;
		} else {
			fwrite(f->data, 1, f->len, out);
		}
		goto out;
	}
	gk_ctl_time(ver.created_ms, when, sizeof(when));
	fprintf(out, "version   %llu%s\n", (unsigned long long)v, v == cur ? " (current)" : "");
	fprintf(out, "action    %s", ver.action);
	if (strcmp(ver.action, "rollback") == 0)
		fprintf(out, " (content of version %llu)", (unsigned long long)ver.from);
	fprintf(out, "\ncreated   %s\nkey id    %s\nmessage   %s\n", when, ver.key_id, ver.message);
	if (b->version != v)
		fprintf(out, "WARNING   the bundle says version %llu\n",
		        (unsigned long long)b->version);
	if (o->n_pubkeys) {
		gk_polstore_keyring_t *kr;
		if (gk_polstore_keyring_load(o->pubkeys, o->n_pubkeys, &kr, err, sizeof(err)) !=
		    0) {
			fprintf(errf, "gkctl: %s\n", err);
			ret = GK_CTL_USAGE;
			goto out;
		}
		int vr = gk_polstore_verify(kr, ver.key_id, ver.bundle, ver.bundle_len, ver.sig,
		                            err, sizeof(err));
		gk_polstore_keyring_free(kr);
		fprintf(out, "signature %s\n", vr == 0 ? "valid" : err);
		if (vr != 0)
			ret = GK_CTL_REJECT;
	} else {
		fprintf(out, "signature not checked (give --pubkey)\n");
	}
	gk_policy_t *p = NULL;
	if (gk_polstore_bundle_compile(b, &p, err, sizeof(err)) != 0) {
		fprintf(out, "compile   FAILS: %s\n", err);
		ret = GK_CTL_REJECT;
	} else {
		gk_policy_stats_t st;
		gk_policy_stats(p, &st);
		fprintf(out, "compiles  %zu entries in %u lists, mode %s\n", st.entries, st.lists,
		        gk_policy_mode(p) == GK_POLICY_MONITOR ? "monitor" : "enforce");
		gk_policy_free(p);
	}
	fprintf(out, "files\n  %-24s %9zu bytes  sha256 %.16s\n", b->policy.name, b->policy.len,
	        b->policy.sha256);
	for (size_t i = 0; i < b->nfiles; i++)
		fprintf(out, "  %-24s %9zu bytes  sha256 %.16s\n", b->files[i].name,
		        b->files[i].len, b->files[i].sha256);
	fprintf(out, "--- %s\n", b->policy.name);
	fwrite(b->policy.data, 1, b->policy.len, out);
	if (b->policy.len && b->policy.data[b->policy.len - 1] != '\n')
		fputc('\n', out);
out:
	gk_polstore_version_clear(&ver);
	gk_polstore_bundle_free(b);
	gk_polstore_disconnect(redis);
	return ret;
}

/* One line of a summary: "+2/-1 block.txt, unfiled: ..." */
static void summary_line(const json_t *s, FILE *out)
{
	const char *key;
	json_t *val;
	const char *sep = "";
	const json_t *mode = json_object_get(s, "mode");
	if (json_is_string(mode)) {
		fprintf(out, "%smode %s", sep, json_string_value(mode));
		sep = "; ";
	}
	size_t i;
	json_array_foreach(json_object_get(s, "rules"), i, val)
	{
		fprintf(out, "%s%s", sep, json_string_value(val));
		sep = "; ";
	}
	const json_t *pl = json_object_get(s, "policy_lines");
	if (pl) {
		fprintf(out, "%spolicy +%lld/-%lld lines", sep,
		        (long long)json_integer_value(json_object_get(pl, "added")),
		        (long long)json_integer_value(json_object_get(pl, "removed")));
		sep = "; ";
	}
	json_object_foreach((json_t *)json_object_get(s, "lists"), key, val)
	{
		fprintf(out, "%s%s +%lld/-%lld", sep, key,
		        (long long)json_integer_value(json_object_get(val, "added")),
		        (long long)json_integer_value(json_object_get(val, "removed")));
		sep = "; ";
	}
	if (!sep[0])
		fprintf(out, "no changes");
}

int gk_ctl_policy_history(const gk_ctl_opts_t *o, FILE *out, FILE *errf)
{
	void *redis = NULL;
	char err[512];
	uint64_t cur = 0;
	int ret = gk_ctl_connect(o, &redis, errf);
	if (ret != GK_CTL_OK)
		return ret;
	redisContext *c = redis;
	redisReply *r = NULL;
	if (gk_polstore_current(redis, &cur, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		ret = GK_CTL_IO;
		goto out;
	}
	r = redisCommand(c, "LRANGE %s 0 -1", GK_KEY_POL_AUDIT);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		fprintf(errf, "gkctl: redis: %s\n",
		        r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		ret = GK_CTL_IO;
		goto out;
	}
	if (r->elements == 0)
		fprintf(out, "no policy has been pushed yet\n");
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		json_t *a =
		    e->type == REDIS_REPLY_STRING ? json_loadb(e->str, e->len, 0, NULL) : NULL;
		if (!json_is_object(a)) {
			fprintf(out, "  (unreadable audit record %zu)\n", i);
			json_decref(a);
			continue;
		}
		uint64_t v = (uint64_t)json_integer_value(json_object_get(a, "version"));
		const char *act = json_string_value(json_object_get(a, "action"));
		fprintf(out, "%c %-5llu %s  %-8s key %s  %s", v == cur ? '*' : ' ',
		        (unsigned long long)v, json_string_value(json_object_get(a, "time")),
		        act ? act : "?", json_string_value(json_object_get(a, "key_id")),
		        json_string_value(json_object_get(a, "user")));
		if (act && strcmp(act, "rollback") == 0)
			fprintf(out, "  (content of %lld)",
			        (long long)json_integer_value(json_object_get(a, "from")));
		const char *msg = json_string_value(json_object_get(a, "message"));
		if (msg && msg[0])
			fprintf(out, "  \"%s\"", msg);
		fprintf(out, "\n          ");
		summary_line(json_object_get(a, "summary"), out);
		fprintf(out, "\n");
		json_decref(a);
	}
out:
	if (r)
		freeReplyObject(r);
	gk_polstore_disconnect(redis);
	return ret;
}

int gk_ctl_policy_diff(const gk_ctl_opts_t *o, uint64_t a, uint64_t b, FILE *out, FILE *errf)
{
	void *redis = NULL;
	gk_polstore_version_t va = {0}, vb = {0};
	gk_polstore_bundle_t *ba = NULL, *bb = NULL;
	int ret = gk_ctl_connect(o, &redis, errf);
	if (ret == GK_CTL_OK)
		ret = load_version(redis, &a, &va, &ba, errf);
	if (ret == GK_CTL_OK)
		ret = load_version(redis, &b, &vb, &bb, errf);
	if (ret == GK_CTL_OK) {
		fprintf(out, "policy diff %llu -> %llu\n", (unsigned long long)a,
		        (unsigned long long)b);
		if (gk_polstore_diff(ba, bb, out, NULL, NULL) != 0)
			ret = GK_CTL_IO;
	}
	gk_polstore_version_clear(&va);
	gk_polstore_version_clear(&vb);
	gk_polstore_bundle_free(ba);
	gk_polstore_bundle_free(bb);
	gk_polstore_disconnect(redis);
	return ret;
}

int gk_ctl_policy_keyid(const char *path, FILE *out, FILE *errf)
{
	char id[GK_POLICY_KEY_ID_LEN + 1], err[512];
	if (gk_polstore_key_id(path, id, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return GK_CTL_USAGE;
	}
	fprintf(out, "%s\n", id);
	return GK_CTL_OK;
}
