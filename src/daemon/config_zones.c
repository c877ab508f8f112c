/* SPDX-License-Identifier: MIT */
/* src/daemon/config_zones.c -- zones from zone list files, a zones directory and the state
 * file, and the duplicate check across every source.
 *
 * A million entries cost one read and one pass per source, then one sort of (pointer,
 * length, index) triples for the duplicate check: n log n, no per-entry allocation beyond
 * the name and file strings the config keeps.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "common/chroot.h"
#include "daemon/config_internal.h"
#include "front/conf.h"
#include "zonelist/zonelist.h"

/* Append zone nm with file (both taken: freed on failure; nm inside file's allocation when
 * joint). */
static int zone_append(gk_config_t *cfg, char *nm, char *file, bool joint,
                       enum gk_config_zone_src src, const char *origin, size_t line)
{
	if (cfg->n_zones == cfg->zones_cap) {
		size_t nc = cfg->zones_cap ? cfg->zones_cap * 2 : 16;
		gk_zone_spec_t *z = realloc(cfg->zones, nc * sizeof(*z));
		if (z != NULL)
			cfg->zones = z;
		gk_config_zone_origin_t *o =
		    z != NULL ? realloc(cfg->zone_origin, nc * sizeof(*o)) : NULL;
		if (o == NULL) {
			if (!joint)
				free(nm);
			free(file);
			return GK_ENOMEM;
		}
		cfg->zone_origin = o;
		cfg->zones_cap = nc;
	}
	cfg->zones[cfg->n_zones] = (gk_zone_spec_t){.name = nm, .file = file};
	cfg->zone_origin[cfg->n_zones] =
	    (gk_config_zone_origin_t){.file = origin,
	                              .line = line < UINT32_MAX ? (uint32_t)line : UINT32_MAX,
	                              .src = (uint8_t)src,
	                              .joint = joint};
	cfg->n_zones++;
	return 0;
}

int gk_daemon_config_zone_add(gk_config_t *cfg, const char *name, size_t nl, char *file,
                              enum gk_config_zone_src src, const char *origin, size_t line)
{
	if (file == NULL)
		return GK_ENOMEM;
	char *nm = strndup(name, nl);
	if (nm == NULL) {
		free(file);
		return GK_ENOMEM;
	}
	return zone_append(cfg, nm, file, false, src, origin, line);
}

void gk_daemon_config_zone_strings_free(gk_zone_spec_t *z, const gk_config_zone_origin_t *o)
{
	if (!o->joint)
		free((char *)z->name);
	free((char *)z->file);
}

struct add_ctx {
	gk_config_t *cfg;
	enum gk_config_zone_src src;
	const char *origin; /* cfg-owned; NULL: each entry's own file (zones directory) */
	const char *dir;    /* relative files resolve against this; NULL: as given */
	size_t dirlen;
	const char *forward; /* a zones directory's pool: its files name forwarded zones */
};

/* An entry's file path and name in one allocation (path, NUL, name, NUL): a million entries
 * save a malloc header and a rounding each (16 bytes a zone). */
static int add_entry(void *arg, const char *name, size_t nl, const char *file, size_t fl,
                     size_t line)
{
	struct add_ctx *a = arg;
	const char *pool;
	size_t pol;
	if (a->src == GK_CONFIG_ZSRC_LIST && gk_zonelist_forward(file, fl, &pool, &pol))
		return gk_front_conf_zone_add_from(&a->cfg->front, name, nl, pool, pol, a->origin,
		                                   line); /* checked with the config's forwards */
	if (a->forward != NULL) /* the file names the zone; its contents are not read */
		return gk_front_conf_zone_add_file(&a->cfg->front, name, nl, a->forward,
		                                   strlen(a->forward), file, fl);
	bool rel = file[0] != '/' && a->dir != NULL;
	size_t pl = rel ? a->dirlen + 1 + fl : fl;
	char *path = malloc(pl + 1 + nl + 1);
	if (path == NULL)
		return GK_ENOMEM;
	char *nm = path + pl + 1;
	memcpy(nm, name, nl);
	nm[nl] = '\0';
	if (!rel) {
		memcpy(path, file, fl);
		path[fl] = '\0';
		const char *in = gk_chroot_strip(path); /* chrooted: DIR/x is /x */
		if (in != path)
			memmove(path, in, strlen(in) + 1);
	} else {
		memcpy(path, a->dir, a->dirlen);
		path[a->dirlen] = '/';
		memcpy(path + a->dirlen + 1, file, fl);
		path[pl] = '\0';
	}
	return zone_append(a->cfg, nm, path, true, a->src, a->origin ? a->origin : path, line);
}

/* The directory part of path, or NULL when it has none ("." semantics: relative to the
 * working directory, as the file itself). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return NULL;
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int read_list(gk_config_t *cfg, const char *path, enum gk_config_zone_src src,
                     bool missing_ok, char *err, size_t errlen)
{
	char *dir = dir_of(path);
	struct add_ctx a = {
	    .cfg = cfg, .src = src, .origin = path, .dir = dir, .dirlen = dir ? strlen(dir) : 0};
	int rc = src == GK_CONFIG_ZSRC_STATE
	             ? gk_zonelist_read_state(path, add_entry, &a, err, errlen)
	             : gk_zonelist_read(path, missing_ok, add_entry, &a, err, errlen);
	free(dir);
	if (rc == GK_ENOENT && missing_ok)
		return 0;
	if (rc == GK_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	return rc == GK_ESYNTAX ? GK_ECONFIG : rc;
}

/* What stat() says of path now (before it is read: a change after it shows at the next
 * reload). */
static void zsig_take(gk_config_zsig_t *z, const char *path)
{
	struct stat st;
	memset(z, 0, sizeof(*z));
	z->read = true;
	if (stat(path, &st) != 0) {
		z->missing = true;
		return;
	}
	z->dev = (uint64_t)st.st_dev;
	z->ino = (uint64_t)st.st_ino;
	z->size = (int64_t)st.st_size;
	z->mtime_sec = (int64_t)st.st_mtim.tv_sec;
	z->mtime_nsec = (int64_t)st.st_mtim.tv_nsec;
	z->ctime_sec = (int64_t)st.st_ctim.tv_sec;
	z->ctime_nsec = (int64_t)st.st_ctim.tv_nsec;
}

static bool zsig_current(const gk_config_zsig_t *z, const char *path)
{
	if (path == NULL)
		return !z->read;
	if (!z->read)
		return false;
	gk_config_zsig_t now;
	zsig_take(&now, path);
	return memcmp(&now, z, sizeof(now)) == 0;
}

static void journal_take(gk_config_t *cfg)
{
	char jp[GK_ZONELIST_PATH_MAX + 16];
	if (gk_zonelist_journal_path(cfg->control.state_file, jp, sizeof(jp)) == 0)
		zsig_take(&cfg->zsig[GK_CONFIG_ZSIG_JOURNAL], jp);
}

static bool journal_current(const gk_config_t *cur)
{
	char jp[GK_ZONELIST_PATH_MAX + 16];
	if (cur->control.state_file == NULL)
		return zsig_current(&cur->zsig[GK_CONFIG_ZSIG_JOURNAL], NULL);
	return gk_zonelist_journal_path(cur->control.state_file, jp, sizeof(jp)) == 0 &&
	       zsig_current(&cur->zsig[GK_CONFIG_ZSIG_JOURNAL], jp);
}

static bool str_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

bool gk_daemon_config_zones_same(const gk_config_t *cur, const gk_config_t *next)
{
	/* zones a zone list forwards are in cur->front: read the list again */
	for (size_t i = 0; cur->front && i < cur->front->n_zones; i++)
		if (cur->front->zones[i].file != NULL)
			return false;
	if (!str_same(cur->zone_list, next->zone_list) || cur->n_zdirs != next->n_zdirs ||
	    !str_same(cur->control.state_file, next->control.state_file))
		return false;
	for (size_t i = 0; i < cur->n_zdirs; i++) {
		const gk_config_zdir_t *a = &cur->zdirs[i], *b = &next->zdirs[i];
		if (!str_same(a->path, b->path) || !str_same(a->pattern, b->pattern) ||
		    !str_same(a->forward, b->forward) || !zsig_current(&a->zsig, a->path))
			return false;
	}
	/* the `zones:` entries come first in cur (gk_config_t.zones) */
	size_t k = 0;
	while (k < cur->n_zones && cur->zone_origin[k].src == GK_CONFIG_ZSRC_CONFIG)
		k++;
	if (k != next->n_zones)
		return false;
	for (size_t i = 0; i < k; i++)
		if (strcmp(cur->zones[i].name, next->zones[i].name) != 0 ||
		    !str_same(cur->zones[i].file, next->zones[i].file) ||
		    cur->zone_origin[i].line != next->zone_origin[i].line)
			return false;
	return zsig_current(&cur->zsig[GK_CONFIG_ZSIG_LIST], cur->zone_list) &&
	       zsig_current(&cur->zsig[GK_CONFIG_ZSIG_STATE], cur->control.state_file) &&
	       journal_current(cur);
}

void gk_daemon_config_zones_take(gk_config_t *next, gk_config_t *cur)
{
	for (size_t i = 0; i < next->n_zones; i++)
		gk_daemon_config_zone_strings_free(&next->zones[i], &next->zone_origin[i]);
	free(next->zones);
	free(next->zone_origin);
	next->zones = cur->zones;
	next->zone_origin = cur->zone_origin;
	next->n_zones = cur->n_zones;
	next->zones_cap = cur->zones_cap;
	memcpy(next->zsig, cur->zsig, sizeof(next->zsig));
	for (size_t i = 0; i < next->n_zdirs && i < cur->n_zdirs; i++)
		next->zdirs[i].zsig = cur->zdirs[i].zsig; /* the same directories (zones_same) */
	for (size_t i = 0; i < next->n_zones; i++) {
		const char **o = &next->zone_origin[i].file;
		if (*o == cur->path)
			*o = next->path;
		else if (*o == cur->zone_list)
			*o = next->zone_list;
		else if (*o == cur->control.state_file)
			*o = next->control.state_file;
	}
	cur->zones = NULL;
	cur->zone_origin = NULL;
	cur->n_zones = cur->zones_cap = 0;
}

static bool has_pool(const gk_config_t *cfg, const char *name)
{
	for (size_t i = 0; cfg->front && i < cfg->front->n_pools; i++)
		if (strcmp(cfg->front->pools[i].name, name) == 0)
			return true;
	return false;
}

int gk_daemon_config_zones_extra(gk_config_t *cfg, unsigned flags, char *err, size_t errlen)
{
	if (flags & GK_CONFIG_NO_ZONE_LISTS)
		return 0;
	int rc = 0;
	if (cfg->zone_list != NULL)
		zsig_take(&cfg->zsig[GK_CONFIG_ZSIG_LIST], cfg->zone_list);
	for (size_t i = 0; i < cfg->n_zdirs; i++)
		zsig_take(&cfg->zdirs[i].zsig, cfg->zdirs[i].path);
	if (cfg->control.state_file != NULL) {
		zsig_take(&cfg->zsig[GK_CONFIG_ZSIG_STATE], cfg->control.state_file);
		journal_take(cfg);
	}
	if (cfg->zone_list != NULL &&
	    (rc = read_list(cfg, cfg->zone_list, GK_CONFIG_ZSRC_LIST, false, err, errlen)) != 0)
		return rc;
	for (size_t i = 0; i < cfg->n_zdirs; i++) {
		const gk_config_zdir_t *d = &cfg->zdirs[i];
		if (d->forward && !has_pool(cfg, d->forward)) {
			snprintf(err, errlen,
			         "%s:%zu: zones_dir.forward: no pool named '%s' in pools",
			         cfg->path, d->line, d->forward);
			return GK_ECONFIG;
		}
		struct add_ctx a = {.cfg = cfg, .src = GK_CONFIG_ZSRC_DIR, .forward = d->forward};
		rc = gk_zonelist_scan_dir(d->path, d->pattern, add_entry, &a, err, errlen);
		if (rc == GK_ENOMEM)
			snprintf(err, errlen, "%s: out of memory", d->path);
		if (rc != 0)
			return rc == GK_ESYNTAX || rc == GK_EINVAL ? GK_ECONFIG : rc;
	}
	if (cfg->control.state_file != NULL)
		rc = read_list(cfg, cfg->control.state_file, GK_CONFIG_ZSRC_STATE, true, err,
		               errlen);
	return rc;
}

struct dkey {
	const char *name;
	uint32_t len; /* without one trailing dot */
	uint32_t i;
};

static int cmp_dkey(const void *a, const void *b)
{
	const struct dkey *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	for (uint32_t k = 0; k < n; k++) {
		int d = tolower((unsigned char)x->name[k]) - tolower((unsigned char)y->name[k]);
		if (d != 0)
			return d;
	}
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->i < y->i ? -1 : 1;
}

static int where(char *buf, size_t len, const gk_config_zone_origin_t *o)
{
	return o->line ? snprintf(buf, len, "%s:%u", o->file, (unsigned)o->line)
	               : snprintf(buf, len, "%s", o->file);
}

int gk_daemon_config_zones_dups(const gk_config_t *cfg, char *err, size_t errlen)
{
	size_t n = cfg->n_zones;
	if (n < 2)
		return 0;
	struct dkey *v = malloc(n * sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(cfg->zones[i].name);
		if (l > 1 && cfg->zones[i].name[l - 1] == '.')
			l--;
		v[i] =
		    (struct dkey){.name = cfg->zones[i].name, .len = (uint32_t)l, .i = (uint32_t)i};
	}
	qsort(v, n, sizeof(*v), cmp_dkey);
	size_t dup = n, first = 0;
	for (size_t k = 1; k < n; k++) {
		const struct dkey *a = &v[k - 1], *b = &v[k];
		if (a->len == b->len && strncasecmp(a->name, b->name, a->len) == 0 && b->i < dup) {
			dup = b->i;
			first = a->i;
		}
	}
	free(v);
	if (dup == n)
		return 0;
	const gk_config_zone_origin_t *d = &cfg->zone_origin[dup], *f = &cfg->zone_origin[first];
	if (d->src == GK_CONFIG_ZSRC_CONFIG && f->src == GK_CONFIG_ZSRC_CONFIG) {
		snprintf(err, errlen, "%s:%u: zones: duplicate zone '%s' (first at line %u)",
		         d->file, (unsigned)d->line, cfg->zones[dup].name, (unsigned)f->line);
	} else {
		char a[512], b[512];
		where(a, sizeof(a), d);
		where(b, sizeof(b), f);
		snprintf(err, errlen, "%s: zone '%s' is configured twice (first at %s)", a,
		         cfg->zones[dup].name, b);
	}
	return GK_ECONFIG;
}
