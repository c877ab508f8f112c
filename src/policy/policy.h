/* SPDX-License-Identifier: MIT */
/* src/policy/policy.h -- the operator policy: an immutable snapshot and its one lookup.
 *
 * A policy is built (gk_policy_build) from a YAML document (policy/README.md) and the block
 * and allow lists it names (plain name lists and RPZ master files), away from the packet
 * path, then published by pointer (common/snapshot.h) and freed with gk_policy_free once no
 * reader holds it. After gk_policy_build returns, nothing in it changes: any number of
 * threads may call the accessors and gk_policy_match at once, without locks. Everything a
 * policy owns lives in one arena, so every pointer returned by an accessor is valid until
 * gk_policy_free.
 *
 * Where it sits in the decision (DESIGN.md "The decision"): after the zone match, the
 * packet path calls gk_policy_match on the query name. A hit decides (block: its action;
 * allow / passthru: resolve without the filing check; tcp-only: see below). No hit: the
 * filing status decides, through gk_policy_status. In monitor mode the packet path resolves
 * every query, and counts and logs the refusal it would have sent.
 *
 * Lists, and precedence inside them (policy/README.md has a table of examples):
 *   - each entry covers a name exactly (GK_POLICY_EXACT) or the names strictly below it
 *     (GK_POLICY_BELOW); plain `.name` lines and RPZ `name` + `*.name` pairs cover both;
 *   - the most specific entry wins: an exact entry for the query name, else the below-entry
 *     of the nearest ancestor;
 *   - at the same name and scope, a block (any refusal, redirect or tcp-only) beats an allow
 *     (or RPZ passthru); among blocks, or among allows, the first list in policy order wins.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"
#include "gk/decision.h" /* gk_refusal_t, gk_action_t */

typedef struct gk_policy gk_policy_t;

/* What a list entry (or a status rule) says about a name. */
typedef enum gk_policy_verdict {
	GK_POLICY_BLOCK = 1,    /* refuse: hit->action says how (redirect: hit->local too) */
	GK_POLICY_ALLOW = 2,    /* resolve; the filing check is skipped */
	GK_POLICY_PASSTHRU = 3, /* RPZ rpz-passthru.: the same as ALLOW, reported apart in logs */
	GK_POLICY_TCP_ONLY = 4, /* RPZ rpz-tcp-only.: over UDP an empty response with TC set, over
	                        TCP as if no entry matched (the filing check still applies) */
} gk_policy_verdict_t;

typedef enum gk_policy_mode {
	GK_POLICY_ENFORCE = 0, /* send the refusals */
	GK_POLICY_MONITOR = 1, /* resolve everything; count and log what would have been refused */
} gk_policy_mode_t;

/* The filing statuses a policy has a rule for. */
typedef enum gk_policy_status {
	GK_POLICY_UNFILED = 0, /* no filing */
	GK_POLICY_REVOKED = 1, /* filing revoked */
	GK_POLICY_UNKNOWN = 2, /* status unknown: replica not ready or older than its bound */
	GK_POLICY_NOREG = 3,   /* a name that is itself a public suffix: no registrable domain (a
	                       registry's own apex and infrastructure); resolve by default */
} gk_policy_status_t;
#define GK_POLICY_NSTATUS 4

/* One record of local data (a redirect), rdata in uncompressed wire form. The owner is the
 * query name. Names inside rdata (CNAME) keep the case they were written in. */
typedef struct gk_policy_rr {
	uint16_t type;
	uint16_t rdlen;
	uint32_t ttl;
	const uint8_t *rdata;
} gk_policy_rr_t;

/* Local data of a redirect: the answer for qtype T is every record of type T; with none, a
 * CNAME record if there is one (answer the CNAME, nothing else); otherwise NODATA with the
 * hit's EDE. Records of one type are adjacent, in the order written. */
typedef struct gk_policy_local {
	unsigned n;
	const gk_policy_rr_t *rr;
} gk_policy_local_t;

/* The result of a match, or a status rule. */
typedef struct gk_policy_hit {
	uint8_t verdict; /* gk_policy_verdict_t */
	uint16_t list;   /* 1-based index of the list in the policy (gk_policy_list_name); 0 for
	                    status rules */
	/* GK_POLICY_BLOCK: what to send -- REFUSE, NXDOMAIN, NODATA or DROP, with its EDE (a
	 * redirect is NODATA plus local data). NULL for the other verdicts. */
	const gk_refusal_t *action;
	/* GK_POLICY_BLOCK only: non-NULL for a redirect (policy `redirect`, RPZ local data). */
	const gk_policy_local_t *local;
} gk_policy_hit_t;

/* Figures for reports and the bench. */
typedef struct gk_policy_stats {
	size_t entries;     /* distinct names in the table */
	size_t table_bytes; /* hash table */
	size_t name_bytes;  /* names */
	size_t arena_bytes; /* everything the policy owns (table and names included) */
	size_t lines;       /* list lines / RPZ records read */
	size_t rpz_skipped; /* RPZ records with triggers other than QNAME (rpz-ip, rpz-nsdname,
	                       rpz-nsip, rpz-client-ip): not enforced */
	unsigned lists;
} gk_policy_stats_t;

/* Build a policy from the YAML file at path; list files are relative to its directory.
 * On success *out is the new policy (caller owns it; gk_policy_free). On failure returns
 * GK_ESYNTAX (malformed YAML, list line or RPZ record), GK_ECONFIG (a value out of range, an
 * unknown key), GK_EIO (a file cannot be read) or GK_ENOMEM, writes "FILE:LINE: message"
 * (the policy file or the list file at fault) to err (errlen > 0: always NUL-terminated),
 * and leaves *out untouched -- a running policy stays as it is. Any thread but the packet
 * path's (it allocates and reads files). */
GK_MUST_CHECK int gk_policy_build(const char *path, gk_policy_t **out, char *err, size_t errlen);

/* An in-memory file for gk_policy_build_mem. */
typedef struct gk_policy_file {
	const char *name; /* as written in the policy's `file:` */
	const char *text;
	size_t len;
} gk_policy_file_t;

/* As gk_policy_build, from memory (tests, fuzzing): name is the policy's name in messages;
 * each list `file:` is looked up by exact name in files[0..nfiles) -- never on disk -- and
 * RPZ $INCLUDE is refused. */
GK_MUST_CHECK int gk_policy_build_mem(const char *name, const char *text, size_t len,
                                      const gk_policy_file_t *files, size_t nfiles,
                                      gk_policy_t **out, char *err, size_t errlen);

/* A policy without lists whose status rules are rules[GK_POLICY_UNFILED..GK_POLICY_NOREG] (a
 * refusal with GK_ACT_RESOLVE: GK_POLICY_ALLOW), mode enforce: the config's filing.* rules as
 * the default policy, so the status rules have one source (decide/decide.h). Returns 0 with
 * *out the new policy (caller owns it; gk_policy_free), or GK_ENOMEM. Any thread. */
GK_MUST_CHECK int gk_policy_from_rules(const gk_refusal_t rules[GK_POLICY_NSTATUS],
                                       gk_policy_t **out);

/* ---- a refusal written in YAML: action + ede + text (load time) ------------------------- */

/* The actions a refusal may name, as written ("refuse" ... "resolve"). */
typedef enum gk_policy_act {
	GK_POLICY_ACT_REFUSE,
	GK_POLICY_ACT_NXDOMAIN,
	GK_POLICY_ACT_NODATA,
	GK_POLICY_ACT_DROP,
	GK_POLICY_ACT_REDIRECT, /* the policy's redirect section answers (policy files only) */
	GK_POLICY_ACT_RESOLVE,  /* not a refusal: resolve unchecked */
} gk_policy_act_t;

struct gk_yaml;     /* common/yamlwalk.h */
struct yaml_node_s; /* <yaml.h> yaml_node_t */

/* One key of a refusal mapping ({action, ede, text}) named what in messages ("filing.unfiled",
 * "policy.unfiled"), read into r: action (one of the actions allowed: redirect only with
 * allow_redirect, resolve only with allow_resolve; sets r->action, a redirect as
 * GK_ACT_NODATA, and *act when act is not NULL), ede (0..65535) or text (at most
 * sizeof(r->text) bytes). Returns 0, 1 when key is none of the three (nothing read), or
 * GK_ECONFIG recorded in y ("WHAT.KEY: ..." at v's line). The config and the policy compiler
 * both read refusals with it. Load time; the walking thread. */
GK_MUST_CHECK int gk_policy_refusal_key(struct gk_yaml *y, const char *what, const char *key,
                                        struct yaml_node_s *v, bool allow_redirect,
                                        bool allow_resolve, gk_refusal_t *r, gk_policy_act_t *act);

/* Free a policy and everything it owns. NULL is ignored. Only once no reader holds it. */
void gk_policy_free(gk_policy_t *p);

/* The list entry that decides for qname, or NULL when none applies.
 * qname/len: the query name in lowercase uncompressed wire form (root label included);
 * label_offsets[0..labels): the offset of each label in qname (gk_query_t.loff), labels
 * not counting the root; states: qname's gk_namehash_states (the packet path's one pass,
 * gk_query_t.st), or NULL to make that pass here. Pure: no allocation, no lock, no syscall; any
 * thread. The hit is valid until gk_policy_free. p may be NULL (no policy: NULL). */
const gk_policy_hit_t *gk_policy_match(const gk_policy_t *p, const uint8_t *qname, size_t len,
                                       const uint8_t *label_offsets, unsigned labels,
                                       const uint64_t *states);

/* The rule for a filing status: verdict GK_POLICY_BLOCK with its action (and local data for a
 * redirect), or GK_POLICY_ALLOW (action NULL) for `unknown: {action: resolve}`. Never NULL for
 * a valid status. Any thread. */
const gk_policy_hit_t *gk_policy_status(const gk_policy_t *p, gk_policy_status_t s);

/* enforce or monitor. Any thread. */
gk_policy_mode_t gk_policy_mode(const gk_policy_t *p);

/* Name of list i (1-based, as gk_policy_hit_t.list) as written in the policy, for logs; NULL
 * when out of range. */
const char *gk_policy_list_name(const gk_policy_t *p, unsigned i);

/* Sizes and counts. Any thread. */
void gk_policy_stats(const gk_policy_t *p, gk_policy_stats_t *st);
