/* SPDX-License-Identifier: MIT */
/* src/ctl/status.c -- gkctl status: the fleet from its heartbeats.
 *
 * Every gk:inst:* hash (include/gk/filing_status.h) is a live gatekeeperd (they expire
 * after three missed beats). An instance is flagged when its registry serial is below
 * gk:serial, when it follows Redis policy and runs another version than gk:pol:current,
 * when its newest policy was rejected, when it runs a policy file (or none) while a fleet
 * version exists (policy_flag), when it is not ready, when its replica is stale (no Redis
 * reply for filing.stale_after_ms) or diverged (its store held a serial below the one it
 * applied: it enforces its last-known-good set and follows nothing until resynchronised;
 * replica_flag), or when its heartbeat is older than two intervals. Any flag makes the exit
 * status GK_CTL_REJECT, so scripts can wait on `gkctl status` for a rollout.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/internal.h"
#include "gk/filing_status.h"
#include "gk/policy_store.h"
#include "polstore/polstore.h"

#define STALE_MS (2 * GK_HEARTBEAT_MS + 500)

struct inst {
	char id[128];
	char state[16], redis[16], serial[24], pver[24], pstate[16], size[24], perr[200];
	char store[24]; /* store_serial: gk:serial as the instance last read it */
	int64_t updated;
};

static const char *field(const redisReply *h, const char *name)
{
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(h->element[i]->str, name) == 0 &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			return h->element[i + 1]->str;
	return "";
}

static int cmp_inst(const void *a, const void *b)
{
	return strcmp(((const struct inst *)a)->id, ((const struct inst *)b)->id);
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* Redis's words for the last error reply (NOAUTH, NOPERM, ...), for the one error line. */
static char reply_error[256];

/* Fails (GK_EIO) for no reply or a reply not of the type wanted; frees an error reply after
 * keeping its text. */
static int bad_reply(redisReply *r)
{
	if (r && r->type == REDIS_REPLY_ERROR)
		snprintf(reply_error, sizeof(reply_error), "%s", r->str);
	if (r)
		freeReplyObject(r);
	return GK_EIO;
}

/* GET a decimal key; 0 when absent. */
static int get_num(redisContext *c, const char *key, uint64_t *out)
{
	redisReply *r = redisCommand(c, "GET %s", key);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return bad_reply(r);
	*out = r->type == REDIS_REPLY_STRING ? num(r->str) : 0;
	freeReplyObject(r);
	return 0;
}

/* Every instance key (SCAN), then HGETALL each. */
static int collect(redisContext *c, struct inst **out, size_t *n)
{
	char cursor[32] = "0";
	struct inst *v = NULL;
	size_t cnt = 0, cap = 0;
	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH gk:inst:* COUNT 1000", cursor);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			free(v);
			return bad_reply(r);
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		const redisReply *keys = r->element[1];
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *h = redisCommand(c, "HGETALL %b", keys->element[i]->str,
			                             keys->element[i]->len);
			if (h == NULL || h->type == REDIS_REPLY_ERROR) {
				freeReplyObject(r);
				free(v);
				return bad_reply(h);
			}
			if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
				if (cnt == cap) {
					cap = cap ? cap * 2 : 16;
					struct inst *nv = realloc(v, cap * sizeof(*nv));
					if (nv == NULL) {
						freeReplyObject(h);
						freeReplyObject(r);
						free(v);
						return GK_ENOMEM;
					}
					v = nv;
				}
				struct inst *s = &v[cnt++];
				memset(s, 0, sizeof(*s));
				snprintf(s->id, sizeof(s->id), "%s",
				         keys->element[i]->str + strlen("gk:inst:"));
				snprintf(s->state, sizeof(s->state), "%s", field(h, "state"));
				snprintf(s->redis, sizeof(s->redis), "%s", field(h, "redis"));
				snprintf(s->serial, sizeof(s->serial), "%s", field(h, "serial"));
				snprintf(s->store, sizeof(s->store), "%s",
				         field(h, "store_serial"));
				snprintf(s->pver, sizeof(s->pver), "%s",
				         field(h, "policy_version"));
				snprintf(s->pstate, sizeof(s->pstate), "%s",
				         field(h, "policy_state"));
				snprintf(s->perr, sizeof(s->perr), "%s", field(h, "policy_error"));
				snprintf(s->size, sizeof(s->size), "%s", field(h, "table_size"));
				s->updated = (int64_t)num(field(h, "updated"));
			}
			freeReplyObject(h);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_inst);
	*out = v;
	*n = cnt;
	return 0;
}

/* The policy flag of one instance, or false when its policy is as it should be. pol is the
 * fleet's current version (0: none pushed, or the pointer is not a version). Distinct states:
 *   policy-file(...)      runs its policy file (no policy.redis) while a fleet version exists:
 *                         it will never apply a push
 *   policy-off(...)       runs no policy at all while a fleet version exists
 *   policy-rejected(...)  follows the fleet, and the version Redis offers failed verification
 *                         (or the pointer is not a version): it keeps its last verified one
 *   policy-lag            follows the fleet, not yet on the current version */
static bool policy_flag(const struct inst *s, uint64_t pol, char *out, size_t cap)
{
	if (strcmp(s->pstate, "file") == 0 || strcmp(s->pstate, "off") == 0) {
		if (!pol)
			return false;
		snprintf(out, cap, "policy-%s(not following fleet version %llu)", s->pstate,
		         (unsigned long long)pol);
		return true;
	}
	if (!s->pstate[0])
		return false;
	if (strcmp(s->pstate, "rejected") == 0 || (s->perr[0] && num(s->perr) >= num(s->pver))) {
		snprintf(out, cap, "policy-rejected(%s)", s->perr[0] ? s->perr : "?");
		return true;
	}
	if (pol && num(s->pver) != pol) {
		snprintf(out, cap, "policy-lag");
		return true;
	}
	return false;
}

/* gk:pol:current as a version; 0 when absent or not a version (*bad set). */
static int get_pointer(redisContext *c, uint64_t *out, bool *bad)
{
	redisReply *r = redisCommand(c, "GET %s", GK_KEY_POL_CURRENT);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return bad_reply(r);
	*out = 0;
	*bad = r->type == REDIS_REPLY_STRING && gk_polstore_parse_version(r->str, r->len, out) != 0;
	freeReplyObject(r);
	return 0;
}

/* The replica's own state as a flag: "stale" (still enforcing last-known-good),
 * "diverged(store S < applied A)", or not-ready(starting|failed|...). Nothing when ready.
 * Returns what snprintf would have written. */
static int replica_flag(const struct inst *s, char *buf, size_t cap, const char *sep)
{
	if (strcmp(s->state, "ready") == 0)
		return 0;
	if (strcmp(s->state, "stale") == 0)
		return snprintf(buf, cap, "%sstale", sep);
	if (strcmp(s->state, "diverged") == 0)
		return snprintf(buf, cap, "%sdiverged(store %s < applied %s)", sep,
		                s->store[0] ? s->store : "?", s->serial);
	return snprintf(buf, cap, "%snot-ready(%s)", sep, s->state);
}

int gk_ctl_status(const gk_ctl_opts_t *o, FILE *out, FILE *errf)
{
	void *redis = NULL;
	int ret = gk_ctl_connect(o, &redis, errf);
	if (ret != GK_CTL_OK)
		return ret;
	redisContext *c = redis;
	uint64_t serial = 0, pol = 0;
	bool pol_bad = false;
	struct inst *v = NULL;
	size_t n = 0, lagging = 0;
	if (get_num(c, GK_KEY_SERIAL, &serial) != 0 || get_pointer(c, &pol, &pol_bad) != 0 ||
	    collect(c, &v, &n) != 0) {
		fprintf(errf, "gkctl: redis: %s\n",
		        c->err           ? c->errstr
		        : reply_error[0] ? reply_error
		                         : "unexpected reply");
		gk_polstore_disconnect(redis);
		return GK_CTL_IO;
	}
	int64_t now = gk_ctl_now_ms();
	if (pol_bad)
		fprintf(out,
		        "registry serial %llu, policy version INVALID (%s is not a version: see "
		        "gkctl policy push), %zu live instance%s\n",
		        (unsigned long long)serial, GK_KEY_POL_CURRENT, n, n == 1 ? "" : "s");
	else
		fprintf(out, "registry serial %llu, policy version %llu, %zu live instance%s\n",
		        (unsigned long long)serial, (unsigned long long)pol, n, n == 1 ? "" : "s");
	fprintf(out, "%-24s %-9s %10s %8s %-12s %10s %7s  %s\n", "INSTANCE", "STATE", "SERIAL",
	        "POLICY", "POLICY-STATE", "DOMAINS", "AGE-MS", "FLAGS");
	for (size_t i = 0; i < n; i++) {
		const struct inst *s = &v[i];
		char flags[400] = "";
		size_t fl = 0;
		int64_t age = now - s->updated;
#define FLAG(...)                                                                                  \
	fl += (size_t)snprintf(flags + fl, fl < sizeof(flags) ? sizeof(flags) - fl : 0, __VA_ARGS__)
		fl += (size_t)replica_flag(
		    s, flags + fl, fl < sizeof(flags) ? sizeof(flags) - fl : 0, fl ? "," : "");
		if (num(s->serial) < serial)
			FLAG("%sserial-lag(%llu)", fl ? "," : "",
			     (unsigned long long)(serial - num(s->serial)));
		char pflag[300];
		if (policy_flag(s, pol, pflag, sizeof(pflag)))
			FLAG("%s%s", fl ? "," : "", pflag);
		if (age > (int64_t)STALE_MS)
			FLAG("%sstale-heartbeat", fl ? "," : "");
#undef FLAG
		if (fl >= sizeof(flags))
			flags[sizeof(flags) - 1] = 0;
		if (fl)
			lagging++;
		fprintf(out, "%-24s %-9s %10s %8s %-12s %10s %7lld  %s\n", s->id, s->state,
		        s->serial, s->pver[0] ? s->pver : "-", s->pstate[0] ? s->pstate : "-",
		        s->size, (long long)age, fl ? flags : "ok");
	}
	if (n == 0)
		fprintf(out, "no live gatekeeperd\n");
	else if (lagging)
		fprintf(out, "%zu of %zu instances need attention\n", lagging, n);
	free(v);
	gk_polstore_disconnect(redis);
	return n == 0 || lagging ? GK_CTL_REJECT : GK_CTL_OK;
}
