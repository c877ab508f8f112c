/* SPDX-License-Identifier: MIT */
/* include/gk/discovery.h -- the Redis contract of discovery: what gatekeeperd refused, per day.
 *
 * Writers: every gatekeeperd (its discovery merger, src/obs/discovery.c), once per flush
 * interval (discovery.flush_ms, default 1000), in one MULTI/EXEC pipeline of Lua scripts
 * (EVAL: Redis caches the compiled script by its SHA1). Reader: gkctl
 * report (src/ctl/report.c). Counts from every instance of a fleet add up in the same keys.
 *
 * Day: the calendar date in China Standard Time (UTC+8, no daylight saving), written
 * YYYYMMDD. A count belongs to the day of the second it was first seen in its flush
 * interval (an interval that spans midnight puts its counts on the earlier day).
 *
 * Per-domain counters
 *   GK_KEY_DISC_DOMAINS "gk:disc:%08u:%s"   HASH per day and reason (GK_DISC_REASON_NAMES):
 *       field: the registrable domain, lowercase A-labels, no trailing dot (the same form as
 *              the status set's fields, so gk_fs_bucket(field) finds its status); octets
 *              outside [a-z0-9-_] appear as \DDD (decimal), '.' inside a label as "\.".
 *       value: "<queries> <first> <last>": decimal queries refused for that reason that day,
 *              first and last seen as unix seconds (whole seconds; min and max over every
 *              instance: the merge is a Lua script, GK_DISC_LUA_MERGE, so concurrent writers
 *              cannot lose an update or a minimum).
 *       One field per domain per reason per day: ~110 bytes per domain-day in Redis 7.0
 *       (measured: 298813 fields, 32.6 MB). At most discovery.day_max fields per hash
 *       (default GK_DISC_DAY_MAX): a flood of random registrable domains (a zone at a
 *       public suffix) counts its new domains beyond that as overflow:<reason>, so Redis
 *       memory stays bounded too.
 *       Monitor-mode refusals (policy action log: resolved, counted as if refused) are
 *       counted here too. Queries whose name has no registrable domain are only in totals.
 *   GK_KEY_DISC_TOTALS "gk:disc:%08u:tot"  HASH per day, HINCRBY counters:
 *       queries              queries that reached the filing check or the policy (every
 *                            query of a zone we serve; not queries refused as not ours)
 *       resolved             of those, answered normally (monitor-mode ones included)
 *       refused:<reason>     refused for <reason> (monitor-mode included)
 *       monitored            of the refused, how many were in monitor mode (not enforced)
 *       noreg                refused, name without a registrable domain (in refused:*)
 *       overflow:<reason>    refused but not counted per domain: a worker's table was full,
 *                            or the day's hash held day_max domains (a random-domain
 *                            flood); in refused:<reason>
 *       dropped:<reason>     counted per domain by a worker but dropped by the merger: Redis
 *                            unreachable long enough that its bounded backlog filled
 *   Every key of a day gets EXPIRE GK_DISC_TTL_S at each write.
 *
 * Write ids (exactly once)
 *   GK_KEY_DISC_WRITE "gk:disc:w:<instance token>"  STRING, EX 3600: "<seq> <attempt>", the
 *       write sequence and attempt nonce of the last write of that instance that was
 *       applied (GK_DISC_LUA_ONCE). An instance sends one write at a time, in sequence; a
 *       write whose reply was lost is re-sent with the same sequence and a new attempt until
 *       one attempt is confirmed, so a count is neither lost nor doubled by a lost
 *       connection. One key per running instance, whatever its write rate.
 *
 * Site addresses (attribution and accuracy, docs/REPORT.md)
 *   GK_KEY_DISC_SITE "gk:site:%04x"  HASH, 65536 buckets; bucket = gk_fs_bucket(domain)
 *       (include/gk/filing_status.h), so each stays small enough for listpack encoding.
 *       field: a registrable domain that is the apex of a served zone (field spelling above).
 *       value: the addresses its site resolves to in the served zone data: the A and AAAA
 *              records of the apex and of www (or the apex's wildcard), duplicates removed,
 *              IPv4 first then by value, canonical inet_ntop text separated by one space; ""
 *              when the zone has none. At most 16.
 *       Written by gatekeeperd's discovery writer (the same session and primary as the
 *       counters) each time a zone version is published -- start, reload, zone add,
 *       transfer -- as pipelined HSETs of up to 1024 fields, off the query path. A removed
 *       zone keeps its last entry (a report of an earlier month still attributes its
 *       domains). No expiry: one field per served zone.
 *
 * Derived (gkctl report, docs/REPORT.md)
 *   discovered unfiled: distinct fields of gk:disc:<day>:unfiled over the period's days.
 *   sites accessed: discovered unfiled, plus revoked domains still queried (fields of
 *   gk:disc:<day>:revoked) not also discovered unfiled. handled: sites accessed whose status
 *   in gk:st is filed at report time; unhandled: the others (one definition for every
 *   figure and format). filed: domains with status filed in gk:st at report time.
 *   filing rate = filed / (filed + unhandled)  (a handled domain is already in filed, so it
 *   is not counted twice).
 */
#pragma once
#include <stdint.h>

#define GK_KEY_DISC_PREFIX  "gk:disc:"
#define GK_KEY_DISC_DOMAINS "gk:disc:%08u:%s"
#define GK_KEY_DISC_TOTALS  "gk:disc:%08u:tot"
#define GK_KEY_DISC_WRITE   "gk:disc:w:%s"
#define GK_KEY_DISC_SITE    "gk:site:%04x"

#define GK_DISC_TTL_S       (400u * 86400u) /* about 13 months: a year of monthly notices */
#define GK_DISC_DAY_MAX     1000000u        /* default most domains per day and reason */
#define GK_DISC_TZ_OFFSET_S (8 * 3600)      /* China Standard Time */

/* Why a query was counted. */
typedef enum gk_disc_reason {
	GK_DISC_UNFILED = 0, /* no filing (absent from the status set) */
	GK_DISC_REVOKED,     /* filing revoked */
	GK_DISC_UNKNOWN,     /* status unknown: replica stale (Redis unreachable too long) */
	GK_DISC_STARTING,    /* before the replica's first full load */
	GK_DISC_BLOCKED,     /* operator block list */
	GK_DISC_TCP_ONLY,    /* RPZ rpz-tcp-only over UDP */
	GK_DISC_NREASONS
} gk_disc_reason_t;

/* Key and field spelling of each reason, indexed by gk_disc_reason_t. */
#define GK_DISC_REASON_NAMES                                                                       \
	{                                                                                          \
		"unfiled", "revoked", "unknown", "starting", "blocked", "tcponly"                  \
	}

/* Exactly once: every script of a write (one MULTI/EXEC) carries the instance's id key,
 * GK_KEY_DISC_WRITE, and its nonce "<seq> <attempt>". The first script of an attempt sets the
 * key to its nonce; the later scripts of that attempt find it there and run. A write whose
 * sequence is not above the key's, under another attempt, was applied already (MULTI/EXEC:
 * all or nothing): every script of it does nothing and returns -1. */
#define GK_DISC_LUA_ONCE(idkey, nonce)                                                             \
	"local v, w = redis.call('GET', " idkey "), " nonce "\n"                                   \
	"if v and v ~= w then\n"                                                                   \
	"  local s0, s = tonumber(string.match(v, '^%d+')), tonumber(string.match(w, '^%d+'))\n"   \
	"  if not s or (s0 and s0 >= s) then return -1 end\n"                                      \
	"end\n"                                                                                    \
	"if v ~= w then redis.call('SET', " idkey ", w, 'EX', 3600) end\n"

/* The merge of one day/reason hash: KEYS[1] the hash, KEYS[2] the day's totals, KEYS[3] the
 * write's id; ARGV[1] the TTL in seconds, ARGV[2] the most fields the hash may hold (a new
 * domain beyond it is counted in KEYS[2]'s field ARGV[3], "overflow:<reason>", instead),
 * ARGV[4] the nonce, then groups of four: domain, queries, first, last. Adds queries, keeps
 * min(first), max(last). Returns the queries that overflowed (-1: already applied). */
#define GK_DISC_LUA_MERGE                                                                          \
	GK_DISC_LUA_ONCE("KEYS[3]", "ARGV[4]")                                                     \
	"local ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2])\n"                                  \
	"local n, over = redis.call('HLEN', KEYS[1]), 0\n"                                         \
	"for i = 5, #ARGV, 4 do\n"                                                                 \
	"  local d = ARGV[i]\n"                                                                    \
	"  local c, f, l = tonumber(ARGV[i+1]), tonumber(ARGV[i+2]), tonumber(ARGV[i+3])\n"        \
	"  local v = redis.call('HGET', KEYS[1], d)\n"                                             \
	"  if v then\n"                                                                            \
	"    local c0, f0, l0 = string.match(v, '^(%d+) (%d+) (%d+)$')\n"                          \
	"    if c0 then\n"                                                                         \
	"      c = c + tonumber(c0)\n"                                                             \
	"      if tonumber(f0) < f then f = tonumber(f0) end\n"                                    \
	"      if tonumber(l0) > l then l = tonumber(l0) end\n"                                    \
	"    end\n"                                                                                \
	"  end\n"                                                                                  \
	"  if v or n < cap then\n"                                                                 \
	"    if not v then n = n + 1 end\n"                                                        \
	"    redis.call('HSET', KEYS[1], d, string.format('%d %d %d', c, f, l))\n"                 \
	"  else\n"                                                                                 \
	"    over = over + c\n"                                                                    \
	"  end\n"                                                                                  \
	"end\n"                                                                                    \
	"if over > 0 then\n"                                                                       \
	"  redis.call('HINCRBY', KEYS[2], ARGV[3], over)\n"                                        \
	"  redis.call('EXPIRE', KEYS[2], ttl)\n"                                                   \
	"end\n"                                                                                    \
	"if n > 0 then redis.call('EXPIRE', KEYS[1], ttl) end\n"                                   \
	"return over\n"

/* A day's totals: KEYS[1] the totals hash, KEYS[2] the write's id; ARGV[1] the TTL, ARGV[2]
 * the nonce, then pairs field, increment. */
#define GK_DISC_LUA_TOTALS                                                                         \
	GK_DISC_LUA_ONCE("KEYS[2]", "ARGV[2]")                                                     \
	"for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i+1]) end\n"          \
	"redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))\n"                                       \
	"return 0\n"

/* Day (YYYYMMDD, China Standard Time) of a unix time in seconds. Pure. */
static inline uint32_t gk_disc_day(int64_t unix_s)
{
	int64_t z = (unix_s + GK_DISC_TZ_OFFSET_S) / 86400;
	/* civil_from_days (H. Hinnant), for days since 1970-01-01 */
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return (uint32_t)y * 10000u + m * 100u + d;
}
