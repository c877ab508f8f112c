/* SPDX-License-Identifier: MIT */
/* include/gk/filing_status.h -- the Redis contract: filing status set, serial, change stream,
 * instance heartbeats.
 *
 * Writers: gk-sync (status set, serial, stream) and gkctl (policy, later). Readers: every
 * gatekeeperd (status loop) and gkctl. All keys live under the prefix "gk:". Redis 7.0 or
 * later (XINFO STREAM reports max-deleted-entry-id, used to detect a trimmed stream).
 *
 * Status set
 *   GK_KEY_STATUS_BUCKET "gk:st:%04x"   HASH, 65536 buckets; bucket = gk_fs_bucket(domain).
 *       field: the registrable domain, lowercase A-labels, no trailing dot ("foo.com.cn")
 *       value: the decimal integer gk_fs_pack(status, provider_id) -- Redis keeps small
 *              integers inside the listpack as integers, so a bucket of ~150 domains (10M
 *              domains) stays a compact listpack (hash-max-listpack-entries 512).
 *       A domain absent from its bucket is unfiled.
 *   GK_KEY_RECORD_BUCKET "gk:rec:%04x"  HASH, same buckets: domain -> the feed record as
 *       compact JSON (licence, sponsor, nature, provider, update time, optional fields).
 *       For gkctl and reports only; gatekeeperd never loads it.
 *   GK_KEY_PROVIDERS "gk:providers"     HASH: provider id (decimal) -> provider name.
 *
 * Serial
 *   GK_KEY_SERIAL "gk:serial"           STRING: the registry serial fully applied (decimal).
 *       Advances only after every change of a feed is in the status set and the stream.
 *
 * Change stream
 *   GK_KEY_STREAM "gk:changes"          STREAM, capped with XADD MAXLEN ~ GK_STREAM_MAXLEN.
 *       One entry per status change:  k=st  d=<domain>  v=<packed value, or "" = removed>
 *                                     s=<serial of the feed>
 *       One entry per policy change:  k=pol v=<policy version>
 *       One entry per completed feed: k=serial s=<serial>
 *       Every entry carries the full new value, so replaying an entry twice is harmless.
 *       A reader keeps the id of the last entry it applied and resumes after it. Redis
 *       7.0's XTRIM and XADD MAXLEN do not move max-deleted-entry-id (only XDEL does), so
 *       a gap is detected by counting: XINFO STREAM's entries-added minus length is how many
 *       entries have left the stream; when that exceeds the entries-added the reader had
 *       seen at its load plus those it applied since, an entry it never applied is gone
 *       and it must reload the whole status set. Positions are taken from XINFO's
 *       last-generated-id (an emptied stream keeps counting).
 *
 * Instance heartbeats
 *   GK_KEY_INSTANCE "gk:inst:%s"        HASH per gatekeeperd (id = host:pid or configured):
 *       serial, stream_id, table_size, state (starting|ready|stale|failed), redis
 *       (connected|disconnected), policy_version, updated (unix ms), version.
 *       Refreshed every GK_HEARTBEAT_MS with PEXPIRE of 3 intervals.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define GK_KEY_PREFIX "gk:"
#define GK_KEY_STATUS_BUCKET "gk:st:%04x"
#define GK_KEY_RECORD_BUCKET "gk:rec:%04x"
#define GK_KEY_PROVIDERS "gk:providers"
#define GK_KEY_SERIAL "gk:serial"
#define GK_KEY_STREAM "gk:changes"
#define GK_KEY_INSTANCE "gk:inst:%s"

#define GK_FS_BUCKETS 65536u
#define GK_STREAM_MAXLEN 2000000u
#define GK_HEARTBEAT_MS 1000u

/* Filing status of a registrable domain. GK_FS_UNFILED is never stored (absence means it). */
typedef enum gk_fs_status {
	GK_FS_UNFILED = 0,
	GK_FS_FILED = 1,
	GK_FS_REVOKED = 2,
} gk_fs_status_t;

/* Bucket of a domain (lowercase, no trailing dot): FNV-1a 32 of its bytes, low 16 bits. */
static inline unsigned gk_fs_bucket(const char *domain, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)domain[i];
		h *= 16777619u;
	}
	return h & (GK_FS_BUCKETS - 1);
}

/* The stored value: status in the low 2 bits, access provider id (0 = unknown) above. */
static inline uint32_t gk_fs_pack(gk_fs_status_t status, uint32_t provider_id)
{
	return (provider_id << 2) | (uint32_t)status;
}

static inline gk_fs_status_t gk_fs_unpack_status(uint32_t v)
{
	return (gk_fs_status_t)(v & 3u);
}

static inline uint32_t gk_fs_unpack_provider(uint32_t v)
{
	return v >> 2;
}
