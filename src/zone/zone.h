/* SPDX-License-Identifier: MIT */
/* src/zone/zone.h -- the zone store: per-zone immutable versions behind a lock-free index.
 *
 * A zone version is one zone built from its master file away from the packet path: parsed
 * with ldns (our own line reader handles $INCLUDE and keeps file and line), checked, and
 * compiled into wire-form answers from its own data alone (build.c). The store
 * (gk_zoneset_t, store.c) maps each apex to the current version of its zone: any number of
 * query threads read it without locks; one writer thread (the daemon's main loop) adds,
 * replaces and removes one zone at a time. A replaced or removed version is handed to the
 * store's retire function and freed once no reader can still hold it (common/snapshot.h).
 * Nothing a writer does costs more than the zone it changes (and, rarely, a rebuilt index).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

/* One zone to serve. Exactly one of file or text is set. */
typedef struct gk_zone_spec {
	const char *name; /* apex, presentation form, trailing dot optional */
	const char *file; /* master file path (relative paths are used as given) */
	const char *text; /* or: master file contents in memory (tests, fuzzing) */
	size_t text_len;  /* length of text */
	/* or: wire_count records in uncompressed wire form (owner, type, class, TTL, RDLENGTH,
	 * RDATA, as in a message's answer section), wire_len octets -- a persisted secondary
	 * zone (src/xfr), read without text parsing; messages name file (or the zone) and the
	 * record's index as the line */
	const uint8_t *wire;
	size_t wire_len;
	uint32_t wire_count; /* 32 bits: a config holds a spec per zone (56 bytes, not 64) */
	/* A secondary zone (src/xfr): its versions come from transfers, published by the
	 * secondary module on the writer thread; gk_zone_store_sync leaves them alone. */
	bool secondary;
} gk_zone_spec_t;

typedef struct gk_zoneset gk_zoneset_t; /* the store */
typedef struct gk_zver gk_zver_t;       /* one version of one zone */
struct gk_psl;

/* ---- versions (build.c) --------------------------------------------------------------- */

/* Build one version of spec's zone. With psl (may be NULL) the registrable domain (Public
 * Suffix List, ICANN section) of every name is recorded, so the filing check needs no PSL
 * lookup on the packet path for names in zones at or below a registrable domain. On success
 * *out owns the new version (free it with gk_zone_ver_free unless the store took it). On
 * failure nothing is allocated and err (if errlen > 0) holds one line naming the file and
 * line ("zones/a.zone:12: CNAME and other data at www.a."). Returns GK_ESYNTAX (parse),
 * GK_EZONE (semantic check), GK_EIO or GK_ENOTREG (file), GK_ENOMEM, GK_EINVAL (bad zone
 * name). Any thread; blocking (reads files); psl must outlive the call only. */
GK_MUST_CHECK int gk_zone_ver_build(const gk_zone_spec_t *spec, const struct gk_psl *psl,
                                    gk_zver_t **out, char *err, size_t errlen);

/* ---- versions (zver.c) ---------------------------------------------------------------- */

/* A placeholder version of spec's zone (spec->name, presentation form; spec->secondary is
 * kept, the rest is ignored): no data, published like any version (gk_zone_store_put) where a
 * zone has nothing to serve yet or any more -- not loaded yet at start, failed to load, a
 * secondary zone never transferred or past its SOA expire (src/xfr). This is the one
 * SERVFAIL mechanism of the store: queries for names at or below its apex get SERVFAIL (as
 * NSD and Knot answer for a zone they have not loaded or that expired), except names inside
 * another served zone below it (the deepest zone holds a name); a CNAME chain of another
 * zone that reaches it stops there. Its record count is 0 and it is never "current"
 * (gk_zone_ver_files_current), so gk_zone_store_sync rebuilds a configured one; a secondary one is
 * left alone like any secondary version. About 300 bytes. Returns 0 (*out owned by the
 * caller until published), GK_EINVAL (bad name) or GK_ENOMEM. Any thread. */
GK_MUST_CHECK int gk_zone_ver_placeholder(const gk_zone_spec_t *spec, gk_zver_t **out);

/* n placeholders at once, of specs[0..n) into out[0..n), as gk_zone_ver_placeholder makes them
 * but in one allocation, given back when the last of them is freed (gk_zone_ver_free): the
 * start-up's placeholders all go once the zones are loaded, and nothing allocated meanwhile
 * (a zone's memo cell) holds their pages. Returns 0, GK_ENOMEM, or GK_EINVAL with *bad the
 * index of the first bad name; on error nothing is allocated. n 0: nothing. Any thread. */
GK_MUST_CHECK int gk_zone_ver_placeholders(const gk_zone_spec_t *specs, size_t n, gk_zver_t **out,
                                           size_t *bad);

/* True for a placeholder. */
bool gk_zone_ver_is_placeholder(const gk_zver_t *v);

/* The zone's name into buf (cap bytes; GK_ZVER_NAME_MAX hold any name): its apex in
 * presentation form (gk_dname_to_str's escapes), lowercase, without the trailing dot ("."
 * for the root). Returns buf. The version keeps no copy of the name as configured, nor of
 * the zone file's path: the spec holds both. */
#define GK_ZVER_NAME_MAX 1024
const char *gk_zone_ver_name(const gk_zver_t *v, char *buf, size_t cap);

/* Free a version that no store holds (never published, or retired). NULL is ignored. */
void gk_zone_ver_free(gk_zver_t *v);

/* The version's apex in lowercase wire form (len octets in *len). Valid with the version. */
const uint8_t *gk_zone_ver_apex_wire(const gk_zver_t *v, size_t *len);
size_t gk_zone_ver_rr_count(const gk_zver_t *v);
/* DNSSEC state of a version (src/zone/dnssec.c): false for an unsigned zone; else true with
 * *expire the earliest expiration of its RRSIGs (seconds since 1970; 0: none) and *warnings
 * the DNSSEC zone checks it failed when it loaded. */
bool gk_zone_ver_dnssec(const gk_zver_t *v, int64_t *expire, unsigned *warnings);

/* The serial of the version's SOA record (every served zone has one). */
uint32_t gk_zone_ver_serial(const gk_zver_t *v);

/* True when the version was read from the zone file named file (the spec's, the same path)
 * and every file it was read from (that file and its $INCLUDEs) still has the device,
 * inode, size and modification time it had when read. A version built from text, or with
 * file NULL, is never current. Writer thread; one stat() per file. */
bool gk_zone_ver_files_current(const gk_zver_t *v, const char *file);

/* ---- the store (store.c) ------------------------------------------------------------- */

/* Hands a replaced or removed object to the reclamation scheme: free_fn(obj) must run once
 * every reader has passed a quiescent point (e.g. gk_snapshot_retire). */
typedef void (*gk_zoneset_retire_fn)(void *ctx, void *obj, void (*free_fn)(void *));

/* An empty store. retire NULL: objects are freed at once (only when no reader runs
 * concurrently: tools and tests). Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_zone_store_create(gk_zoneset_retire_fn retire, void *ctx, gk_zoneset_t **out);

/* Publish v as its zone's current version: added, or replacing the one with the same apex
 * (retired). The store owns v from a 0 return; on error v still belongs to the caller.
 * Queries see the old or the new version, never a mix. Returns 0 or GK_ENOMEM. Writer. */
GK_MUST_CHECK int gk_zone_store_put(gk_zoneset_t *zs, gk_zver_t *v);

/* Called by gk_zone_store_put on the writer thread once v is published (v valid until the
 * writer changes that zone again). Must not change the store; keep it short (no I/O). */
typedef void (*gk_zoneset_publish_fn)(void *ctx, const gk_zver_t *v);
/* Set (or, fn NULL, clear) the publish hook. Writer thread. */
void gk_zone_store_on_publish(gk_zoneset_t *zs, gk_zoneset_publish_fn fn, void *ctx);

/* The addresses of the site of a zone whose apex is a registrable domain (Public Suffix
 * List, ICANN section, as recorded at build time): the A and AAAA records of the apex and
 * of "www" below it (a CNAME at either is not followed), at most max, duplicates removed,
 * in addr (IPv4 as ::ffff:a.b.c.d with v4[i] set). Returns the count (0: none), or -1 when
 * the version is a placeholder, was built without a PSL, or its apex is not a registrable
 * domain (no site of its own). Any thread while v is valid; pure. (site.c) */
int gk_zone_ver_site_addrs(const gk_zver_t *v, uint8_t (*addr)[16], int *v4, size_t max);

/* Remove the zone with this apex (lowercase wire form); its version is retired.
 * Returns 0 or GK_ENOENT. Writer thread. */
GK_MUST_CHECK int gk_zone_store_remove(gk_zoneset_t *zs, const uint8_t *apex, size_t len);

/* The current version of the zone with this apex (lowercase wire form), or NULL. Writer
 * thread (valid until it changes the zone), or a reader (until its quiescent point). */
const gk_zver_t *gk_zone_store_get(const gk_zoneset_t *zs, const uint8_t *apex, size_t len);

/* Call fn for every current version (in no particular order). Writer thread; fn must not
 * change the store. */
void gk_zone_store_each(const gk_zoneset_t *zs, void (*fn)(void *ctx, const gk_zver_t *v),
                        void *ctx);

/* Hand obj, which the caller made unreachable for readers starting after this call, to the
 * store's retire function: free_fn(obj) runs once no reader can hold it (at once without a
 * retire function). Lets a module publish its own read-mostly tables beside the store's
 * versions with the same grace periods (the secondary's NOTIFY index). Writer thread. */
void gk_zone_store_retire(gk_zoneset_t *zs, void *obj, void (*free_fn)(void *));

/* True for a version of a secondary zone (spec->secondary). */
bool gk_zone_ver_is_secondary(const gk_zver_t *v);

/* Number of zones and of resource records in the store (for logs and metrics). Writer. */
size_t gk_zone_store_zone_count(const gk_zoneset_t *zs);
size_t gk_zone_store_rr_count(const gk_zoneset_t *zs);
/* Zones whose current version is a placeholder (gk_zone_ver_placeholder). Writer. */
size_t gk_zone_store_placeholder_count(const gk_zoneset_t *zs);

/* Free the store and every version in it. Only once no reader runs. NULL is ignored. */
void gk_zone_store_free(gk_zoneset_t *zs);

/* ---- a whole set at once (set.c) ------------------------------------------------------ */

/* What gk_zone_store_sync did. */
typedef struct gk_zoneset_sync_stats {
	size_t rebuilt;   /* configured before, a file changed: new version published */
	size_t unchanged; /* same zone file, every file as it was: nothing done */
	size_t added;     /* newly configured, built and published */
	size_t removed;   /* no longer configured: retired */
	size_t failed;    /* did not build: the previous version (if any) keeps serving */
} gk_zoneset_sync_stats_t;

/* Called for each zone that fails to build; err names the file and line. */
typedef void (*gk_zoneset_fail_fn)(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err);

/* Make the store serve exactly specs[0..n): a zone whose name and file path match the
 * version in the store and whose files (the zone file and its $INCLUDEs: device, inode,
 * size, modification time) are unchanged is left alone; a changed one is rebuilt and
 * replaces its version; a new one is added; a zone the store holds that specs do not name
 * is removed. A zone that fails to build is reported through fail (may be NULL) and keeps
 * its previous version. Costs one stat() per file of unchanged zones plus the zones that
 * changed. Counts go to *st. Returns 0, or GK_ENOMEM (the zones done so far stay done).
 * Writer thread; blocking (reads files). */
GK_MUST_CHECK int gk_zone_store_sync(gk_zoneset_t *zs, const gk_zone_spec_t *specs, size_t n,
                                     const struct gk_psl *psl, gk_zoneset_sync_stats_t *st,
                                     gk_zoneset_fail_fn fail, void *ctx);

/* Called for specs[i] whose zone was rebuilt or added (a new version published). */
typedef void (*gk_zoneset_changed_fn)(void *ctx, size_t i);

/* gk_zone_store_sync that also calls changed (may be NULL) for each zone it published, so a
 * caller that keeps per-zone state (the daemon's catalogue) updates those entries alone. */
GK_MUST_CHECK int gk_zone_store_sync_changed(gk_zoneset_t *zs, const gk_zone_spec_t *specs,
                                             size_t n, const struct gk_psl *psl,
                                             gk_zoneset_sync_stats_t *st, gk_zoneset_fail_fn fail,
                                             gk_zoneset_changed_fn changed, void *ctx);

/* Tools, tests, --check: every zone of specs[0..n) into a new store. */

/* Build every zone of specs[0..n) into a new store whose retire frees at once, with psl
 * for the zones' registrable domains (NULL: none). On failure nothing is allocated and err
 * names the file and line of the first error; a zone configured twice is GK_EINVAL naming
 * the later file. Any thread; blocking. */
GK_MUST_CHECK int gk_zone_store_build(const gk_zone_spec_t *specs, size_t n,
                                      const struct gk_psl *psl, gk_zoneset_t **out, char *err,
                                      size_t errlen);

/* ---- parallel building (loader.c) ------------------------------------------------------ */

/* Builds many zones on a pool of threads, each zone with gk_zone_ver_build, taking them in the
 * order given; the caller takes the versions as they are done and publishes them (the
 * store has one writer). Used at start-up (the daemon's main loop publishes each version
 * as it arrives, queries to the zones not loaded yet get SERVFAIL from placeholders) and
 * by gk_zone_store_build (--check). */
typedef struct gk_zload gk_zload_t;

/* The cores this process may run on (sched_getaffinity), at least 1. */
unsigned gk_zone_build_cpus(void);

/* Results queued before notify is called (see gk_zone_build_start). */
#define GK_ZONE_BUILD_NOTIFY_BATCH 256

/* Start building specs[0..n) on threads threads (0: gk_zone_build_cpus()). specs (and the
 * strings they point at) and psl (may be NULL) must outlive the loader. notify (may be
 * NULL) is called on a loader thread when GK_ZONE_BUILD_NOTIFY_BATCH results are queued, a
 * zone failed, or the last zone is done, and not again until the next gk_zone_build_take
 * (uv_async_send fits). Between those, a caller that wants results sooner polls with
 * gk_zone_build_take. Returns 0 or GK_ENOMEM / GK_EAGAIN (no thread could start); nothing
 * runs on error. */
GK_MUST_CHECK int gk_zone_build_start(const gk_zone_spec_t *specs, size_t n,
                                      const struct gk_psl *psl, unsigned threads,
                                      void (*notify)(void *ctx), void *ctx, gk_zload_t **out);

/* One finished zone: specs[index] built into v (the callee owns it from here), or failed
 * with rc < 0 and err (one line naming the file and line; valid during the call). */
typedef void (*gk_zload_fn)(void *ctx, size_t index, gk_zver_t *v, int rc, const char *err);

/* Hand every zone finished since the last call to fn, in the order they finished, at most
 * max of them (0: no limit). wait: block until at least one is there (or every zone has
 * been handed over). Returns how many were handed over. One thread at a time. */
size_t gk_zone_build_take(gk_zload_t *zl, bool wait, size_t max, gk_zload_fn fn, void *ctx);

/* True once every zone has been handed over by gk_zone_build_take. */
bool gk_zone_build_done(const gk_zload_t *zl);

/* Stop taking new zones: the ones being built finish; the rest are never built (nor
 * handed over: gk_zone_build_done stays false). Any thread. */
void gk_zone_build_cancel(gk_zload_t *zl);

/* Cancel, join the threads and free everything, versions not taken included. NULL is
 * ignored. */
void gk_zone_build_free(gk_zload_t *zl);
