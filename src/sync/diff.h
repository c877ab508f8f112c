/* SPDX-License-Identifier: MIT */
/* src/sync/diff.h -- the feed diff: one bucket's wanted state against what Redis holds.
 *
 * A pure function of its inputs (no Redis, no I/O): the apply driver (publish.c) reads a
 * bucket, hands its fields and the feed's wanted entries here, and turns the result into
 * the bucket's writes. A snapshot makes the bucket equal to the feed's records in it (fields
 * the feed does not name are removed); a delta touches only the domains it names. The status
 * writes (added, changed, removed) are also the bucket's stream changes; record-only changes
 * touch only the record lists. Byte strings are compared byte for byte: record values are canonical
 * (record.h).
 *
 * Nothing is copied: every pointer in the output points into the caller's inputs and is
 * valid as long as they are. Single-threaded per gk_sync_diff_t.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

/* A byte string; p NULL: absent (an empty string present has p non-NULL, n 0). */
typedef struct gk_sync_str {
	const char *p;
	size_t n;
} gk_sync_str_t;

/* A growable list of byte strings (pointers and lengths, not copies). */
typedef struct gk_sync_strs {
	const char **v;
	size_t *l;
	size_t n, cap;
} gk_sync_strs_t;

/* Append s[0..l) to the list. Returns 0 or GK_ENOMEM (the list is unchanged). */
GK_MUST_CHECK int gk_sync_strs_push(gk_sync_strs_t *s, const char *p, size_t l);
void gk_sync_strs_free(gk_sync_strs_t *s);

/* The desired state of one domain. val NULL: absent (unfiled: its status field goes).
 * rec NULL: no record (its record field goes, when records are diffed). */
typedef struct gk_sync_want {
	const char *dom;
	size_t dl;
	const char *val; /* the status value (decimal gk_fs_pack) */
	size_t vl;
	const char *rec; /* the stored record (gk_sync_rec_finish) */
	size_t rl;
} gk_sync_want_t;

/* One hash field as read from Redis (HGETALL). */
typedef struct gk_sync_field {
	gk_sync_str_t f, v;
} gk_sync_field_t;

/* The writes one bucket needs, and running totals over every bucket diffed. */
typedef struct gk_sync_diff {
	int records; /* set by the caller: 1 = record buckets are diffed too */
	/* this bucket (emptied by gk_sync_diff_reset) */
	gk_sync_strs_t rec_set; /* field, value, field, value ... (HSET gk:rec:B) */
	gk_sync_strs_t rec_del; /* fields (HDEL gk:rec:B) */
	gk_sync_strs_t st_set;  /* field, value ... (HSET gk:st:B) */
	gk_sync_strs_t st_del;  /* fields (HDEL gk:st:B) */
	/* totals (never reset) */
	uint64_t added, changed, removed; /* status fields */
	uint64_t unchanged;               /* wanted present and already equal */
	uint64_t records_written;         /* record fields set or deleted */
} gk_sync_diff_t;

/* Empty the bucket's lists; the totals stay. */
void gk_sync_diff_reset(gk_sync_diff_t *d);
/* Free the lists (the struct itself is the caller's). */
void gk_sync_diff_free(gk_sync_diff_t *d);

/* Snapshot bucket: make it equal to want[0..n). st[0..nst) and rec[0..nrec) are the status
 * and record hashes' fields as they are now (rec ignored unless d->records). want, st and rec
 * are reordered (sorted by domain / field); each list comes out in domain order. Domains in
 * want must be distinct. Returns 0 or GK_ENOMEM (the bucket's lists are then partial). */
GK_MUST_CHECK int gk_sync_diff_snapshot(gk_sync_diff_t *d, gk_sync_want_t *want, size_t n,
                                        gk_sync_field_t *st, size_t nst, gk_sync_field_t *rec,
                                        size_t nrec);

/* Delta bucket: only the domains in want[0..n). cur_st[i] / cur_rec[i] are the current status
 * and record values of want[i] (HMGET order; p NULL: absent); cur_rec is ignored unless
 * d->records. Each list comes out in want order. Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_diff_delta(gk_sync_diff_t *d, const gk_sync_want_t *want, size_t n,
                                     const gk_sync_str_t *cur_st, const gk_sync_str_t *cur_rec);
