/* SPDX-License-Identifier: MIT */
/* include/gk/policy_store.h -- the Redis contract of fleet policy: signed versions, the
 * current pointer, history, audit, and the announcement on the change stream.
 *
 * Writer: gkctl (policy push / rollback) on the primary. Readers: every gatekeeperd
 * (src/polsync: the current version only) and gkctl (show, history, diff, status, lookup).
 * All keys live under "gk:pol:" beside the filing-status keys (include/gk/filing_status.h).
 *
 * Versions
 *   GK_KEY_POL_SEQ "gk:pol:seq"          STRING: the last version number handed out (INCR).
 *       Versions are 1, 2, 3 ... in push order; a push that fails after INCR leaves a gap.
 *       A version is written in decimal without leading zeros and is at most
 *       GK_POLICY_VERSION_MAX (2^53 - 1, exact in every JSON reader); anything else in
 *       gk:pol:current, gk:pol:seq or a bundle is not a version (gkctl and gatekeeperd say so
 *       and never act on it).
 *   GK_KEY_POL_VERSION "gk:pol:v:%llu"   HASH, one per version, never changed once written:
 *       bundle   the signed bytes (bundle format below)
 *       sig      base64 (88 characters) of the 64-byte Ed25519 signature over `bundle`,
 *                exactly those bytes (no canonicalisation on the reader's side)
 *       key_id   GK_POLICY_KEY_ID_LEN hex characters: the first 8 bytes of SHA-256 of the
 *                signer's raw 32-byte Ed25519 public key (`gkctl policy keyid KEY`)
 *       action   "push" | "rollback"
 *       from     rollback: the version whose content this is; push: the version that was
 *                current before it ("0": none)
 *       created  unix milliseconds, as in the bundle
 *       message  the operator's --message (may be empty), as in the bundle
 *   GK_KEY_POL_CURRENT "gk:pol:current"  STRING: the version every gatekeeperd enforces.
 *       Only ever moves forward: a rollback is a new version holding an older one's content.
 *   GK_KEY_POL_HISTORY "gk:pol:history"  LIST of version numbers, oldest first (RPUSH).
 *   GK_KEY_POL_AUDIT "gk:pol:audit"      LIST of audit records, oldest first (RPUSH), one per
 *       push and rollback, compact JSON:
 *         {"version":18,"action":"rollback","from":12,"previous":17,"key_id":"9f86d081884c7d65",
 *          "time":"2026-11-29T12:00:00Z","time_ms":1795953600000,"user":"ops@host",
 *          "message":"...","summary":{"mode":"enforce -> monitor",
 *          "rules":["unfiled: refuse (ede 15) -> nxdomain (ede 15)"],
 *          "lists":{"block.txt":{"added":2,"removed":1}},"files_added":[],
 *          "files_removed":[],"policy_lines":{"added":1,"removed":1}}}
 *       `previous` is the version that was current before; the summary compares with it.
 *   A push writes the version hash, the history entry, the current pointer, the audit record
 *   and the stream entry in one Lua script (EVAL), so a reader never sees a pointer to a
 *   version that is not complete, and the pointer never moves backwards.
 *
 * Bundle format v1: one compact JSON object, keys sorted (jansson JSON_COMPACT |
 * JSON_SORT_KEYS), UTF-8:
 *   {"created":<unix ms>,"files":[{"name":N,"sha256":H,"text":B}, ...],
 *    "format":"gk-policy/1","message":M,"policy":{"name":N,"sha256":H,"text":B},
 *    "version":<the version number>}
 *   policy  the policy YAML; name is its file name (messages say "policy.yaml:12: ...")
 *   files   every list file the policy names (plain and RPZ), once each, sorted by name;
 *           name exactly as written in the policy's `file:` (gk_policy_build_mem looks list
 *           files up by that name, never on disk; RPZ $INCLUDE is therefore refused)
 *   text    standard base64 (with padding) of the file's exact bytes; sha256 the hex
 *           SHA-256 of those bytes (for diff and show; checked on decode)
 *   version must equal the number in the key it is stored under; gatekeeperd refuses a
 *           bundle whose version differs from the pointer, or is below the version it runs
 *           (so an old signed bundle cannot be replayed to roll the fleet back).
 *
 * Announcement on the change stream GK_KEY_STREAM ("gk:changes"):
 *       k=pol  v=<version>  a=push|rollback
 *   Filing-status tailers skip these entries (they count them as applied, which keeps their
 *   trim accounting exact); src/polsync reads the current pointer when it sees one, and
 *   again after every reconnect, so an announcement lost while disconnected costs nothing.
 *
 * Heartbeat fields (GK_KEY_INSTANCE, include/gk/filing_status.h) written for policy:
 *   policy_version  the fleet version in force ("" when none: no policy, or a policy file)
 *   policy_state    off | file | waiting | ok | rejected | disconnected; rejected while
 *                   gk:pol:current names a version that failed verification (or holds no
 *                   version at all); a version kept on disk from the last run counts as
 *                   applied (policy.state_dir, src/polstore/state.c)
 *   policy_error    "<version>: <why>" of the newest rejected version, "0: <why>" when the
 *                   pointer is not a version ("" when none)
 */
#pragma once

#define GK_KEY_POL_SEQ     "gk:pol:seq"
#define GK_KEY_POL_VERSION "gk:pol:v:%llu"
#define GK_KEY_POL_CURRENT "gk:pol:current"
#define GK_KEY_POL_HISTORY "gk:pol:history"
#define GK_KEY_POL_AUDIT   "gk:pol:audit"

#define GK_POLICY_BUNDLE_FORMAT    "gk-policy/1"
#define GK_POLICY_KEY_ID_LEN       16 /* hex characters */
#define GK_POLICY_STREAM_KIND      "pol"
#define GK_POLICY_VERSION_MAX      9007199254740991ull /* 2^53 - 1 */
#define GK_POLICY_VERSION_MAX_TEXT "9007199254740991"
