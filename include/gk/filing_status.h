/* SPDX-License-Identifier: MIT */
/* include/gk/filing_status.h -- the Redis contract: filing status set, serial, change stream,
 * instance heartbeats.
 *
 * Writers: gk-sync (status set, serial, stream) and gkctl (policy: include/gk/policy_store.h).
 * Readers: every gatekeeperd (status loop) and gkctl. All keys live under the prefix "gk:".
 * Redis 7.0 or later (XINFO STREAM reports max-deleted-entry-id, used to detect a trimmed stream).
 *
 * Status set
 *   GK_KEY_STATUS_BUCKET "gk:st:%04x"   HASH, 65536 buckets; bucket = gk_fs_bucket(domain).
 *       field: the registrable domain, lowercase A-labels, no trailing dot ("foo.com.cn")
 *       value: the decimal integer gk_fs_pack(status, provider_id) -- Redis keeps small
 *              integers inside the listpack as integers, so a bucket of ~150 domains (10M
 *              domains) stays a compact listpack (hash-max-listpack-entries 512).
 *       A domain absent from its bucket is unfiled.
 *   GK_KEY_RECORD_BUCKET "gk:rec:%04x"  HASH, same buckets: domain -> the feed record in the
 *       compact encoding below. For gkctl and reports only; gatekeeperd never loads it. They
 *       may live on another instance (gk-sync --records-redis; production: a records instance
 *       on the primary side, so site replicas replicate only the status set), which then also
 *       holds gk:providers (same ids) and gk:serial (the serial its records belong to).
 *       Decode with gk_sync_rec_decode / gk_sync_rec_to_json (src/sync/record.h).
 *   GK_KEY_PROVIDERS "gk:providers"     HASH: provider id (decimal) -> provider name.
 *
 * Record encoding v1 (binary string, usually 45-60 bytes: under hash-max-listpack-value 64)
 *   byte 0      0x10 | status (1 filed, 2 revoked); the high nibble is the version (1)
 *   bytes 1..3  24-bit little-endian "forms": 2 bits per field i at bits 2i..2i+1
 *               (0 absent, 1 text form, 2 compact form, 3 invalid); bit 22: extras follow
 *   then, for each present field in this order, its bytes:
 *     0 provider   compact: varint Redis provider id (gk:providers); text: varint 0 = ""
 *     1 licence    compact: 6 bytes: b0 = province index (0..30 in 京津冀晋蒙辽吉黑沪苏浙皖闽
 *                  赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新) | kind << 5 (0 "ICP备" + 8 digits,
 *                  1 "ICP证" + 6 digits), b1..b4 the digits' value (u32 LE, zero-padded
 *                  back), b5 = N of a "-N" suffix (1..255, 0 none); then "号" between
 *     2 sponsor, 5 site_name, 8 phone, 9 person, 10 address: text form only
 *     3 nature     compact: 1 byte: 0 企业, 1 个人, 2 事业单位, 3 政府机关, 4 社会团体
 *     4 updated    compact: u32 LE seconds since 2000-01-01T00:00:00 of a
 *                  "YYYY-MM-DDTHH:MM:SS+08:00" string (that offset, years 2000..2135)
 *     6 home_url   compact: 1 byte: the URL is "http://www." / "https://www." / "http://" /
 *                  "https://" (0..3) + the domain (the hash field) + "/"
 *     7 ips        varint count, then compact: 4 bytes per IPv4 address (every entry a
 *                  canonical dotted quad); text form: one text string per entry
 *   extras (bit 22): varint length + compact JSON object (sorted keys) of the feed keys not
 *   listed here (domain, status and op excluded).
 *   varint: 7 bits per byte, least significant group first, high bit = more.
 *   Text form: varint byte length, then packed text: a byte < 0x80 is itself; U+4E00..U+9FFF
 *   is two bytes 0x80 + (c - 0x4E00) / 256, (c - 0x4E00) % 256 (first byte 0x80..0xD1);
 *   U+3000..U+30FF is 0xD2, c % 256; U+FF00..U+FFFF is 0xD3, c % 256; any other character
 *   is 0xD4 followed by its UTF-8 bytes.
 *   The encoding is canonical (a record always encodes to the same bytes); the compact form
 *   is used whenever the value has that exact shape, the text form otherwise.
 *
 * Serial
 *   GK_KEY_SERIAL "gk:serial"           STRING: the registry serial fully applied (decimal).
 *       Advances only after every change of a feed is in the status set and the stream.
 *
 * Apply lock
 *   GK_KEY_SYNC_LOCK "gk:sync:lock"     STRING with an expiry (PX): held by the gk-sync apply
 *       that writes this instance now; value "<32 hex random token> <host>:<pid> <since,
 *       UTC ISO 8601>". Taken with SET NX PX before the first write, renewed (PEXPIRE) every
 *       third of its ttl while the apply runs, deleted at the end only if the value is still
 *       the apply's own. Every write of an apply (providers, buckets, stream entries,
 *       serial) is one EVALSHA of a script that first checks the value is still its own
 *       (fencing): an apply that lost the lock (expired while it stalled, or deleted by an
 *       operator) writes nothing more and does not advance the serial. A records instance
 *       (gk-sync --records-redis) holds its own lock with the same value.
 *
 * Change stream
 *   GK_KEY_STREAM "gk:changes"          STREAM, capped with XADD MAXLEN ~ GK_STREAM_MAXLEN
 *                                       entries (at most GK_STREAM_MAXLEN * GK_STREAM_BATCH
 *                                       changes, ~80 MB).
 *       Status changes:  k=st  s=<serial of the feed>  then 1 to GK_STREAM_BATCH pairs
 *                        d=<domain> v=<packed value, or "" = removed>, in order (field
 *                        names repeat). gk-sync writes each bucket's changes in the same
 *                        atomic script as the bucket (sets, then removals),
 *                        GK_STREAM_BATCH per entry: one XADD per change cost Redis ~2 us
 *                        each, 20 s of a 10M-domain snapshot.
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
 * Discovery counters (gk:disc:*): include/gk/discovery.h.
 *
 * Instance heartbeats
 *   GK_KEY_INSTANCE "gk:inst:%s"        HASH per gatekeeperd (id = host:pid or configured):
 *       serial (applied), store_serial (gk:serial as last read), stream_id, table_size,
 *       state (starting|failed|ready|stale|diverged: stale = no reply for
 *       filing.stale_after_ms, still enforcing; diverged = store_serial < serial, nothing
 *       applied until the store catches up), redis (connected|disconnected),
 *       policy_version, policy_state, policy_error (see include/gk/policy_store.h),
 *       updated (unix ms), version.
 *       Refreshed every GK_HEARTBEAT_MS with PEXPIRE of 3 intervals.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define GK_KEY_PREFIX        "gk:"
#define GK_KEY_STATUS_BUCKET "gk:st:%04x"
#define GK_KEY_RECORD_BUCKET "gk:rec:%04x"
#define GK_KEY_PROVIDERS     "gk:providers"
#define GK_KEY_SERIAL        "gk:serial"
#define GK_KEY_STREAM        "gk:changes"
#define GK_KEY_SYNC_LOCK     "gk:sync:lock"
#define GK_KEY_INSTANCE      "gk:inst:%s"

#define GK_FS_BUCKETS    65536u
#define GK_STREAM_MAXLEN 200000u
#define GK_STREAM_BATCH  16u
#define GK_HEARTBEAT_MS  1000u

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
