/* SPDX-License-Identifier: MIT */
/* src/daemon/zones.c -- the zone catalogue and the control channel's commands.
 *
 * The catalogue knows every configured zone (from the config, a zone list, the zones
 * directory, or added at run time and kept in the state file): where it came from, when
 * its current version was loaded and the last error. It is rebuilt from the config at
 * start and on every reload (linear, one hash insert per zone), and changed one zone at a
 * time by the control commands. Main loop only (the zone store's writer).
 *
 * `zone add` and `zone reload NAME` build the zone on libuv's thread pool (uv_queue_work)
 * and publish it on the loop, so queries and other commands go on while a large zone
 * loads. While such a build runs, a reload (SIGHUP or `reload`) waits: a SIGHUP is run
 * when the last build is done, `reload` and `zone reload` without a name answer "busy".
 * Zones added at run time are written to the state file (atomically) before they are
 * published, and removed from it before they are unpublished, so a crash between the two
 * leaves the state the next start reads.
 */
#include <fcntl.h>
#include "common/dname.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/chroot.h"
#include "common/log.h"
#include "control/control.h"
#include "daemon/internal.h"
#include "daemon/zoneload.h"
#include "zonelist/zonelist.h"

#define TOMB UINT32_MAX

/* 48 bytes: a million zones hold one of these each (the file that names the zone follows
 * from src: zent_origin). */
struct zent {
	const char *name, *file; /* borrowed from s->cur, or owned (own) */
	const gk_zver_t *ver;    /* the version this entry last saw published, or NULL */
	char *err;               /* last error, or NULL */
	int64_t loaded_at;       /* unix seconds of ver's load, 0 when never loaded */
	uint32_t line;           /* in the naming file; 0 none; UINT32_MAX: at or past it */
	uint8_t src;             /* enum gk_config_zone_src */
	bool own : 1, busy : 1, dead : 1;
	bool adding : 1;  /* zone add in progress: not in the state file yet */
	bool loading : 1; /* start-up loading has not built it yet (its placeholder serves) */
};

_Static_assert(sizeof(struct zent) == 48, "a catalogue entry is 48 bytes");

struct gk_daemon_zcat {
	struct zent *e;
	size_t n, cap;
	uint32_t *slot; /* entry index + 1; 0 empty; TOMB removed */
	size_t mask, used;
};

static const char *src_name[] = {"config", "list", "dir", "control"};

static uint64_t name_hash(const char *s)
{
	size_t l = strlen(s);
	if (l > 1 && s[l - 1] == '.')
		l--;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s[i];
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static bool name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Index of the live entry named name, or -1. */
static long zcat_find(const struct gk_daemon_zcat *z, const char *name)
{
	if (z == NULL || z->slot == NULL)
		return -1;
	for (size_t i = name_hash(name) & z->mask;; i = (i + 1) & z->mask) {
		uint32_t s = z->slot[i];
		if (s == 0)
			return -1;
		if (s != TOMB && !z->e[s - 1].dead && name_eq(z->e[s - 1].name, name))
			return (long)(s - 1);
	}
}

static void slot_put(struct gk_daemon_zcat *z, size_t idx)
{
	size_t i = name_hash(z->e[idx].name) & z->mask;
	while (z->slot[i] != 0 && z->slot[i] != TOMB)
		i = (i + 1) & z->mask;
	if (z->slot[i] == 0)
		z->used++;
	z->slot[i] = (uint32_t)idx + 1;
}

/* Room for more entries (the entries array grown to exactly that when it must grow by more
 * than doubling: the catalogue built from a config of n zones holds n) and their slots: the
 * table at most 3/4 full, rebuilt at least twice the entries' size (8-9 bytes an entry at a
 * million, where four times cost 16-17). */
static int zcat_reserve(struct gk_daemon_zcat *z, size_t more)
{
	if (z->n + more > z->cap) {
		size_t nc = z->cap ? z->cap * 2 : 64;
		if (nc < z->n + more)
			nc = z->n + more;
		struct zent *e = realloc(z->e, nc * sizeof(*e));
		if (e == NULL)
			return GK_ENOMEM;
		z->e = e;
		z->cap = nc;
	}
	if ((z->used + more) * 4 > (z->mask + 1) * 3 || z->slot == NULL) {
		size_t ns = 128;
		while (ns < (z->n + more) * 2)
			ns *= 2;
		uint32_t *s = calloc(ns, sizeof(*s));
		if (s == NULL)
			return GK_ENOMEM;
		free(z->slot);
		z->slot = s;
		z->mask = ns - 1;
		z->used = 0;
		for (size_t i = 0; i < z->n; i++)
			if (!z->e[i].dead)
				slot_put(z, i);
	}
	return 0;
}

static void zent_clear(struct zent *e)
{
	free(e->err);
	if (e->own) {
		free((char *)e->name);
		free((char *)e->file);
	}
	memset(e, 0, sizeof(*e));
	e->dead = true;
}

static void zcat_delete(struct gk_daemon_zcat *z, size_t idx)
{
	for (size_t i = name_hash(z->e[idx].name) & z->mask;; i = (i + 1) & z->mask)
		if (z->slot[i] == idx + 1) {
			z->slot[i] = TOMB;
			break;
		}
	zent_clear(&z->e[idx]);
}

void gk_daemon_zones_free(struct gk_daemon_zcat *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++)
		if (!z->e[i].dead)
			zent_clear(&z->e[i]);
	free(z->e);
	free(z->slot);
	free(z);
}

/* The apex of a zone name in lowercase wire form, or 0 (a name the store cannot hold). */
static size_t apex_of(const char *name, uint8_t *out)
{
	return gk_dname_from_text(name, strlen(name), out, GK_DNAME_TEXT_ESCAPES);
}

/* The file that names e's zone: the config, its zone list, the zone file itself (zones
 * directory), the state file. */
static const char *zent_origin(const gk_server_t *s, const struct zent *e)
{
	switch (e->src) {
	case GK_CONFIG_ZSRC_CONFIG:
		return s->cur->path;
	case GK_CONFIG_ZSRC_LIST:
		return s->cur->zone_list ? s->cur->zone_list : "-";
	case GK_CONFIG_ZSRC_DIR:
		return e->file;
	default:
		return s->boot->control.state_file ? s->boot->control.state_file : "-";
	}
}

static const gk_zver_t *current(const gk_server_t *s, const char *name)
{
	uint8_t apex[256];
	size_t len = apex_of(name, apex);
	return len ? gk_zone_store_get(s->zs, apex, len) : NULL;
}

/* After a sync: what the store now holds for e, and err (taken) when its build failed. */
static void zent_update(const gk_server_t *s, struct zent *e, char *err, int64_t now)
{
	const gk_zver_t *v = current(s, e->name);
	if (v != e->ver) {
		e->ver = v;
		e->loaded_at = v && !gk_zone_ver_is_placeholder(v) ? now : 0;
		if (v != NULL && err == NULL) {
			free(e->err);
			e->err = NULL;
		}
	}
	if (err != NULL) {
		free(e->err);
		e->err = err;
	}
}

int gk_daemon_zones_adopt(gk_server_t *s, const gk_config_t *cfg, char **errs)
{
	struct gk_daemon_zcat *old = s->zcat, *z = calloc(1, sizeof(*z));
	int64_t now = (int64_t)time(NULL);
	int rc = z ? zcat_reserve(z, cfg->n_zones) : GK_ENOMEM;
	for (size_t i = 0; i < cfg->n_zones && rc == 0; i++) {
		struct zent *e = &z->e[z->n];
		size_t line = cfg->zone_origin[i].line;
		*e = (struct zent){.name = cfg->zones[i].name,
		                   .file = cfg->zones[i].file,
		                   .line = line < UINT32_MAX ? (uint32_t)line : UINT32_MAX,
		                   .src = (uint8_t)cfg->zone_origin[i].src};
		long o = zcat_find(old, e->name);
		if (o >= 0) {
			struct zent *p = &old->e[o];
			e->ver = p->ver;
			e->loaded_at = p->loaded_at;
			e->err = p->err;
			p->err = NULL;
		}
		zent_update(s, e, errs ? errs[i] : NULL, now);
		if (errs)
			errs[i] = NULL;
		/* at start the catalogue is adopted while the zones load */
		e->loading = e->ver && gk_zone_ver_is_placeholder(e->ver) && e->err == NULL &&
		             s->zload != NULL && !gk_daemon_zoneload_ready(s->zload);
		slot_put(z, z->n++);
	}
	if (rc != 0) {
		gk_daemon_zones_free(z);
		z = NULL;
		gk_log(GK_LOG_ERR, "zones: out of memory building the zone catalogue; control "
		                   "commands on zones fail until the next reload");
	}
	gk_daemon_zones_free(old);
	s->zcat = z;
	s->zcat_gen++;
	return rc;
}

int gk_daemon_zones_retake(gk_server_t *s, const gk_config_t *old, const gk_config_t *cfg,
                           const size_t *touched, size_t nt, char **errs)
{
	struct gk_daemon_zcat *z = s->zcat;
	(void)old; /* entries name no string of it but their zones' (given to cfg) */
	if (z == NULL)
		return GK_ENOENT;
	int64_t now = (int64_t)time(NULL);
	for (size_t k = 0; k < nt; k++) {
		size_t i = touched[k];
		long e = zcat_find(z, cfg->zones[i].name);
		if (e >= 0)
			zent_update(s, &z->e[e], errs ? errs[i] : NULL, now);
		else if (errs)
			free(errs[i]);
		if (errs)
			errs[i] = NULL;
	}
	return 0;
}

/* The journal is folded into the state file when it reaches this size or 8 bytes per zone
 * in the catalogue, whichever is larger. */
#define JOURNAL_MIN ((size_t)256 << 10)

/* ---- the state file ----------------------------------------------------------------- */

/* Write the state file with every live control-added zone, plus extra (an entry index to
 * add, or -1) and without skip (-1: none). */
static int write_state(gk_server_t *s, long extra, long skip, char *err, size_t errlen)
{
	struct gk_daemon_zcat *z = s->zcat;
	const char **names = malloc((z->n + 1) * sizeof(*names));
	const char **files = malloc((z->n + 1) * sizeof(*files));
	size_t n = 0;
	int rc = GK_ENOMEM;
	if (names != NULL && files != NULL) {
		for (size_t i = 0; i < z->n; i++) {
			const struct zent *e = &z->e[i];
			if (e->dead || (long)i == skip ||
			    (e->src != GK_CONFIG_ZSRC_STATE && (long)i != extra) ||
			    (e->adding && (long)i != extra))
				continue;
			names[n] = e->name;
			files[n++] = e->file;
		}
		/* chrooted: the file as written in the config's terms (DIR/x), read at the next
		 * start before the chroot as every other configured path */
		const char *root = gk_chroot_active() ? s->boot->chroot : NULL;
		size_t k = 0;
		for (; root && k < n; k++)
			if (files[k][0] == '/' &&
			    asprintf((char **)&files[k], "%s%s", root, files[k]) < 0)
				break;
		if (root && k < n)
			snprintf(err, errlen, "out of memory");
		else
			rc = gk_zonelist_write(s->boot->control.state_file, names, files, n, err,
			                       errlen);
		for (size_t i = 0; root && i < k; i++)
			if (files[i][0] == '/')
				free((char *)files[i]);
	} else {
		snprintf(err, errlen, "out of memory");
	}
	free(names);
	free(files);
	return rc;
}

/* One change to the state: appended to the state file's journal (durable on return); the
 * journal is folded into the state file once it outgrows a share of the catalogue, so a
 * change costs one short write and the whole file is rewritten once per many changes. */
static int journal_state(gk_server_t *s, size_t idx, bool add, char *err, size_t errlen)
{
	const struct zent *e = &s->zcat->e[idx];
	char *file = NULL;
	const char *root = gk_chroot_active() ? s->boot->chroot : NULL;
	if (add && root && e->file[0] == '/' && asprintf(&file, "%s%s", root, e->file) < 0) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	size_t jsize = 0;
	int rc = gk_zonelist_journal_append(s->boot->control.state_file, add, e->name,
	                                    file ? file : e->file, &jsize, err, errlen);
	free(file);
	if (rc != 0)
		return rc;
	size_t limit = s->zcat->n * 8;
	if (jsize >= (limit > JOURNAL_MIN ? limit : JOURNAL_MIN)) {
		char cerr[600];
		/* the entry being added is live from here; a removed one is skipped */
		if (write_state(s, add ? (long)idx : -1, add ? -1 : (long)idx, cerr,
		                sizeof(cerr)) != 0)
			gk_log(GK_LOG_WARN,
			       "control: folding the journal into the state file: %s "
			       "(the journal keeps every change)",
			       cerr);
	}
	return 0;
}

/* ---- commands ------------------------------------------------------------------------ */

struct zbuild {
	uv_work_t w;
	gk_server_t *s;
	gk_control_req_t *req;
	size_t idx;
	bool add;
	gk_zone_spec_t spec;
	gk_zver_t *v;
	int rc;
	char err[600];
};

static void build_work(uv_work_t *w)
{
	struct zbuild *b = w->data;
	b->rc = gk_zone_ver_build(&b->spec, b->s->psl, &b->v, b->err, sizeof(b->err));
}

void gk_daemon_zones_loaded(gk_server_t *s, const char *name, const char *err)
{
	long i = zcat_find(s->zcat, name);
	if (i < 0)
		return;
	struct zent *e = &s->zcat->e[i];
	e->loading = false;
	zent_update(s, e, err ? strdup(err) : NULL, (int64_t)time(NULL));
}

void gk_daemon_zones_build_done(gk_server_t *s)
{
	if (--s->zone_builds == 0 && s->reload_wanted && !s->stopping) {
		s->reload_wanted = false;
		char err[512];
		(void)gk_daemon_reload(s, err, sizeof(err));
	}
}

static void build_after(uv_work_t *w, int status)
{
	struct zbuild *b = w->data;
	gk_server_t *s = b->s;
	struct zent *e = s->zcat ? &s->zcat->e[b->idx] : NULL;
	char err[600];
	if (status != 0 && b->rc == 0) {
		b->rc = status;
		snprintf(b->err, sizeof(b->err), "%s", uv_strerror(status));
	}
	if (s->stopping || e == NULL) {
		gk_zone_ver_free(b->v);
		gk_control_reply(b->req, "error the server is stopping");
		goto done;
	}
	e->busy = false;
	if (b->rc != 0) {
		gk_control_reply(b->req, "error zone %s %s: %s", e->name,
		                 b->add ? "not added" : "not reloaded, its version keeps serving",
		                 b->err);
		gk_log(GK_LOG_ERR, "control: zone %s %s: %s", e->name,
		       b->add ? "not added" : "not reloaded", b->err);
		if (b->add)
			zcat_delete(s->zcat, b->idx);
		else {
			free(e->err);
			e->err = strdup(b->err);
		}
		goto done;
	}
	if (b->add && journal_state(s, b->idx, true, err, sizeof(err)) != 0) {
		gk_zone_ver_free(b->v);
		gk_control_reply(b->req, "error zone %s not added: %s", e->name, err);
		zcat_delete(s->zcat, b->idx);
		goto done;
	}
	if (gk_zone_store_put(s->zs, b->v) != 0) {
		gk_zone_ver_free(b->v);
		gk_control_reply(b->req, "error zone %s: out of memory, nothing changed", e->name);
		if (b->add) {
			if (journal_state(s, b->idx, false, err, sizeof(err)) != 0)
				gk_log(GK_LOG_ERR, "control: %s", err);
			zcat_delete(s->zcat, b->idx);
		}
		goto done;
	}
	e->adding = false; /* from now on a control-added zone kept in the state file */
	e->ver = b->v;
	e->loaded_at = (int64_t)time(NULL);
	free(e->err);
	e->err = NULL;
	gk_daemon_view_published(s); /* the replaced version (or grown index) is reclaimed */
	gk_log(GK_LOG_INFO, "control: zone %s %s from %s: serial %u, %zu RRs", e->name,
	       b->add ? "added" : "reloaded", e->file, gk_zone_ver_serial(b->v),
	       gk_zone_ver_rr_count(b->v));
	gk_control_reply(b->req, "ok zone %s %s (serial %u, %zu records)", e->name,
	                 b->add ? "added" : "reloaded", gk_zone_ver_serial(b->v),
	                 gk_zone_ver_rr_count(b->v));
done:
	gk_control_done(b->req);
	free(b);
	gk_daemon_zones_build_done(s);
}

static void queue_build(gk_server_t *s, gk_control_req_t *req, size_t idx, bool add)
{
	struct zbuild *b = calloc(1, sizeof(*b));
	struct zent *e = &s->zcat->e[idx];
	if (b == NULL) {
		gk_control_reply(req, "error out of memory");
		if (add)
			zcat_delete(s->zcat, idx);
		gk_control_done(req);
		return;
	}
	b->s = s;
	b->req = req;
	b->idx = idx;
	b->add = add;
	b->spec.name = e->name; /* stable: the catalogue is not rebuilt while a build runs */
	b->spec.file = e->file;
	b->w.data = b;
	e->busy = true;
	s->zone_builds++;
	int rc = uv_queue_work(&s->loop, &b->w, build_work, build_after);
	if (rc != 0) {
		e->busy = false;
		s->zone_builds--;
		free(b);
		gk_control_reply(req, "error %s", uv_strerror(rc));
		if (add)
			zcat_delete(s->zcat, idx);
		gk_control_done(req);
	}
}

/* A zone file must be a regular file we can open (a FIFO is refused without waiting). */
static int check_file(const char *file, char *err, size_t errlen)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	struct stat st;
	int rc = fstat(fd, &st);
	close(fd);
	if (rc != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", file);
		return -1;
	}
	return 0;
}

static void zone_add(gk_server_t *s, gk_control_req_t *req, const gk_control_cmd_t *cmd)
{
	struct gk_daemon_zcat *z = s->zcat;
	long i = zcat_find(z, cmd->name);
	char err[600];
	if (i >= 0) {
		const struct zent *e = &z->e[i];
		if (e->busy)
			gk_control_reply(req, "error zone %s: another command on it is in progress",
			                 cmd->name);
		else if (e->line)
			gk_control_reply(req, "error zone %s is already configured (%s %s:%zu)",
			                 cmd->name, src_name[e->src], zent_origin(s, e),
			                 (size_t)e->line);
		else
			gk_control_reply(req, "error zone %s is already configured (%s %s)",
			                 cmd->name, src_name[e->src], zent_origin(s, e));
		gk_control_done(req);
		return;
	}
	uint8_t apex[256];
	if (apex_of(cmd->name, apex) == 0) {
		gk_control_reply(req, "error '%s' is not a valid zone name", cmd->name);
		gk_control_done(req);
		return;
	}
	const char *cf = gk_chroot_strip(cmd->file); /* chrooted: DIR/x is /x */
	if (gk_chroot_active() && cf == cmd->file && cf[0] == '/')
		snprintf(err, sizeof(err), "%s is outside chroot %s", cf, s->boot->chroot);
	if ((gk_chroot_active() && cf == cmd->file && cf[0] == '/') ||
	    check_file(cf, err, sizeof(err)) != 0) {
		gk_control_reply(req, "error zone %s not added: %s", cmd->name, err);
		gk_control_done(req);
		return;
	}
	char *name = strdup(cmd->name), *file = strdup(cf);
	if (name == NULL || file == NULL || zcat_reserve(z, 1) != 0) {
		free(name);
		free(file);
		gk_control_reply(req, "error out of memory");
		gk_control_done(req);
		return;
	}
	/* until published it is not in the state: journal_state adds it */
	z->e[z->n] = (struct zent){
	    .name = name, .file = file, .own = true, .adding = true, .src = GK_CONFIG_ZSRC_STATE};
	size_t idx = z->n++;
	slot_put(z, idx);
	queue_build(s, req, idx, true);
}

static void zone_remove(gk_server_t *s, gk_control_req_t *req, const gk_control_cmd_t *cmd)
{
	struct gk_daemon_zcat *z = s->zcat;
	long i = zcat_find(z, cmd->name);
	char err[600];
	if (i < 0) {
		gk_control_reply(req, "error zone %s is not configured", cmd->name);
	} else if (z->e[i].busy) {
		gk_control_reply(req, "error zone %s: another command on it is in progress",
		                 cmd->name);
	} else if (z->e[i].loading) {
		gk_control_reply(req, "error zone %s is still loading (start-up), try again",
		                 cmd->name);
	} else if (z->e[i].src != GK_CONFIG_ZSRC_STATE) {
		const struct zent *e = &z->e[i];
		char where[600];
		snprintf(where, sizeof(where), e->line ? "%s:%zu" : "%s", zent_origin(s, e),
		         (size_t)e->line);
		gk_control_reply(req,
		                 "error zone %s is configured in %s (%s): remove it there and "
		                 "reload",
		                 cmd->name, where, src_name[e->src]);
	} else if (journal_state(s, (size_t)i, false, err, sizeof(err)) != 0) {
		gk_control_reply(req, "error zone %s not removed: %s", cmd->name, err);
	} else {
		uint8_t apex[256];
		size_t len = apex_of(z->e[i].name, apex);
		if (len && gk_zone_store_remove(s->zs, apex, len) == 0)
			gk_daemon_view_published(s);
		gk_log(GK_LOG_INFO, "control: zone %s removed", cmd->name);
		zcat_delete(z, (size_t)i);
		gk_control_reply(req, "ok zone %s removed", cmd->name);
	}
	gk_control_done(req);
}

static void sync_failed(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err)
{
	(void)rc;
	char **errs = ((char ***)ctx)[0];
	const gk_zone_spec_t *base = ((const gk_zone_spec_t **)ctx)[1];
	errs[spec - base] = strdup(err);
	gk_log(GK_LOG_ERR,
	       "zone reload: zone %s not loaded (its previous version keeps "
	       "serving): %s",
	       spec->name, err);
}

/* zone reload without a name: every zone whose files changed, on the loop. */
static void zone_reload_all(gk_server_t *s, gk_control_req_t *req)
{
	struct gk_daemon_zcat *z = s->zcat;
	gk_zone_spec_t *specs = calloc(z->n + 1, sizeof(*specs));
	size_t *of = calloc(z->n + 1, sizeof(*of));
	char **errs = calloc(z->n + 1, sizeof(*errs));
	size_t n = 0;
	if (specs == NULL || of == NULL || errs == NULL) {
		gk_control_reply(req, "error out of memory");
		goto out;
	}
	for (size_t i = 0; i < z->n; i++)
		if (!z->e[i].dead) {
			specs[n] = (gk_zone_spec_t){.name = z->e[i].name, .file = z->e[i].file};
			of[n++] = i;
		}
	void *ctx[2] = {errs, specs};
	gk_zoneset_sync_stats_t st;
	int rc = gk_zone_store_sync(s->zs, specs, n, s->psl, &st, sync_failed, ctx);
	int64_t now = (int64_t)time(NULL);
	for (size_t k = 0; k < n; k++) {
		zent_update(s, &z->e[of[k]], errs[k], now);
		errs[k] = NULL;
	}
	gk_daemon_view_published(s);
	if (rc != 0)
		gk_control_reply(req, "error out of memory while loading zones; the zones done so "
		                      "far are served");
	else if (st.failed)
		gk_control_reply(req,
		                 "error %zu zones failed to load and keep their previous version "
		                 "(zone status shows why); %zu rebuilt, %zu unchanged",
		                 st.failed, st.rebuilt, st.unchanged);
	else
		gk_control_reply(req, "ok zones reloaded: %zu rebuilt, %zu unchanged", st.rebuilt,
		                 st.unchanged);
out:
	for (size_t k = 0; errs && k < n; k++)
		free(errs[k]);
	free(errs);
	free(of);
	free(specs);
	gk_control_done(req);
}

/* The zone's DNSSEC state for `zone status`: "dnssec=unsigned", "dnssec=-" (no data), or
 * "dnssec=signed sig_expire=TIME dnssec_warnings=N" (the earliest RRSIG expiration and the
 * DNSSEC zone checks failed at load, as the metrics give them). */
static void dnssec_field(const gk_zver_t *v, char *out, size_t len)
{
	int64_t exp = 0;
	unsigned warn = 0;
	if (v == NULL || gk_zone_ver_is_placeholder(v)) {
		snprintf(out, len, "dnssec=-");
		return;
	}
	if (!gk_zone_ver_dnssec(v, &exp, &warn)) {
		snprintf(out, len, "dnssec=unsigned");
		return;
	}
	char when[32] = "-";
	if (exp > 0) {
		time_t t = (time_t)exp;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	snprintf(out, len, "dnssec=signed sig_expire=%s dnssec_warnings=%u", when, warn);
}

static void status_line(gk_server_t *s, gk_control_req_t *req, const struct zent *e)
{
	const gk_zver_t *v = current(s, e->name);
	char serial[16] = "-", loaded[32] = "-", where[600];
	const char *state = v == NULL                       ? "absent"
	                    : e->loading                    ? "loading"
	                    : gk_zone_ver_is_placeholder(v) ? "failed"
	                                                    : "loaded";
	if (v != NULL && !gk_zone_ver_is_placeholder(v))
		snprintf(serial, sizeof(serial), "%u", gk_zone_ver_serial(v));
	if (e->loaded_at) {
		time_t t = (time_t)e->loaded_at;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(loaded, sizeof(loaded), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	snprintf(where, sizeof(where), e->line ? "%s:%s:%zu" : "%s:%s", src_name[e->src],
	         zent_origin(s, e), (size_t)e->line);
	char sec[96];
	dnssec_field(v, sec, sizeof(sec));
	gk_control_reply(req,
	                 "ok zone %s source=%s file=%s serial=%s records=%zu loaded=%s state=%s%s "
	                 "%s last_error=%s",
	                 e->name, where, e->file, serial, v ? gk_zone_ver_rr_count(v) : 0, loaded,
	                 state, e->busy ? " busy" : "", sec, e->err ? e->err : "-");
}

/* A secondary zone (xfr/secondary.h): its transfer state after the served version's. */
static void sec_status_line(gk_server_t *s, gk_control_req_t *req, size_t i)
{
	char st[1024];
	const char *name = gk_xfr_secondary_status_at(s->sec, i, st, sizeof(st));
	const gk_zver_t *v = current(s, name);
	char sec[96];
	dnssec_field(v, sec, sizeof(sec));
	if (gk_xfr_secondary_forwarded_at(s->sec, i)) /* a catalog member sent to a pool */
		gk_control_reply(req, "ok zone %s source=forwarded %s", name, st);
	else
		gk_control_reply(req, "ok zone %s source=secondary records=%zu %s %s", name,
		                 v ? gk_zone_ver_rr_count(v) : 0, sec, st);
}

/* Listing every zone: STATUS_CHUNK lines per write, so a million zones never sit in one
 * buffer. The listing stops if the catalogue is rebuilt (a reload) in between. The
 * secondary zones follow the catalogue's, by position in the secondary module's current
 * index: catalog members that come or go during the listing may be missed or shown as
 * removed. */
#define STATUS_CHUNK 2000

struct listing {
	gk_server_t *s;
	size_t next, sec_next;
	uint64_t gen;
};

static void status_more(void *ctx, gk_control_req_t *req)
{
	struct listing *l = ctx;
	gk_server_t *s = l->s;
	if (s->stopping || s->zcat == NULL || s->zcat_gen != l->gen) {
		gk_control_reply(req, "error the zone list changed during the listing (a reload); "
		                      "run it again");
		goto end;
	}
	struct gk_daemon_zcat *z = s->zcat;
	for (size_t sent = 0; l->next < z->n; l->next++) {
		if (z->e[l->next].dead)
			continue;
		if (sent++ == STATUS_CHUNK) {
			if (gk_control_flush(req, status_more, l))
				return;
			goto end; /* the client has gone */
		}
		status_line(s, req, &z->e[l->next]);
	}
	for (size_t sent = 0; l->sec_next < gk_xfr_secondary_count(s->sec); l->sec_next++) {
		if (sent++ == STATUS_CHUNK) {
			if (gk_control_flush(req, status_more, l))
				return;
			goto end;
		}
		sec_status_line(s, req, l->sec_next);
	}
	gk_control_reply(req, "ok zones %zu served, %zu records", gk_zone_store_zone_count(s->zs),
	                 gk_zone_store_rr_count(s->zs));
end:
	free(l);
	gk_control_done(req);
}

static void zone_status(gk_server_t *s, gk_control_req_t *req, const gk_control_cmd_t *cmd)
{
	struct gk_daemon_zcat *z = s->zcat;
	if (!cmd->has_name) {
		struct listing *l = calloc(1, sizeof(*l));
		if (l == NULL) {
			gk_control_reply(req, "error out of memory");
			gk_control_done(req);
			return;
		}
		*l = (struct listing){.s = s, .gen = s->zcat_gen};
		status_more(l, req);
		return;
	}
	long i = zcat_find(z, cmd->name), si;
	if (i >= 0)
		status_line(s, req, &z->e[i]);
	else if ((si = gk_xfr_secondary_find(s->sec, cmd->name)) >= 0)
		sec_status_line(s, req, (size_t)si);
	else
		gk_control_reply(req, "error zone %s is not configured", cmd->name);
	gk_control_done(req);
}

static void zone_refresh(gk_server_t *s, gk_control_req_t *req, const gk_control_cmd_t *cmd)
{
	int rc = s->sec ? gk_xfr_secondary_refresh(s->sec, cmd->name) : GK_ENOENT;
	if (rc == 0)
		gk_control_reply(req, "ok zone %s: SOA check queued", cmd->name);
	else if (rc == GK_EAGAIN)
		gk_control_reply(req, "error zone %s: the check queue is full, try again",
		                 cmd->name);
	else
		gk_control_reply(req, "error zone %s is not a secondary zone", cmd->name);
	gk_control_done(req);
}

static void stats(gk_server_t *s, gk_control_req_t *req)
{
	gk_obs_counters_t *c = calloc(1, sizeof(*c));
	if (c == NULL || s->obs == NULL) {
		free(c);
		gk_control_reply(req, "error out of memory");
		gk_control_done(req);
		return;
	}
	gk_obs_sum(s->obs, c);
	uint64_t q = 0, r = 0, refused = 0, refusals = 0;
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned k = 0; k < GK_OBS_QT_N; k++)
			q += c->queries[t][k];
		for (unsigned k = 0; k < GK_OBS_RCODE_N; k++)
			r += c->responses[t][k];
		refused += c->responses[t][5];
	}
	for (unsigned st = 0; st < GK_OBS_STATUS_N; st++)
		for (unsigned a = 0; a < GK_OBS_ACTION_N; a++)
			for (unsigned w = 0; w < GK_OBS_WHY_N; w++)
				if (a != GK_ACT_RESOLVE)
					refusals += c->decisions[st][a][w][0];
	gk_control_reply(req, "ok queries %llu", (unsigned long long)q);
	gk_control_reply(req, "ok answers %llu", (unsigned long long)r);
	gk_control_reply(req, "ok answers_refused %llu", (unsigned long long)refused);
	gk_control_reply(req, "ok refusals %llu", (unsigned long long)refusals);
	gk_control_reply(req, "ok unanswered %llu",
	                 (unsigned long long)(c->unanswered[0] + c->unanswered[1]));
	gk_control_reply(req, "ok truncated %llu",
	                 (unsigned long long)(c->truncated[0] + c->truncated[1]));
	gk_control_reply(req, "ok zones %zu", gk_zone_store_zone_count(s->zs));
	gk_control_reply(req, "ok records %zu", gk_zone_store_rr_count(s->zs));
	gk_control_reply(req, "ok zone_builds %u", s->zone_builds);
	gk_daemon_front_stats(s, req); /* forwarded zones: the pools */
	free(c);
	gk_control_done(req);
}

static void on_request(void *ctx, gk_control_req_t *req, const gk_control_cmd_t *cmd)
{
	gk_server_t *s = ctx;
	static const char *levels[] = {"error", "warning", "info", "debug"};
	if (s->stopping) {
		gk_control_reply(req, "error the server is stopping");
		gk_control_done(req);
		return;
	}
	bool zone_cmd = cmd->op == GK_CONTROL_ZONE_ADD || cmd->op == GK_CONTROL_ZONE_REMOVE ||
	                cmd->op == GK_CONTROL_ZONE_RELOAD || cmd->op == GK_CONTROL_ZONE_STATUS;
	if (zone_cmd && s->zcat == NULL) {
		gk_control_reply(req, "error the zone catalogue is unavailable (out of memory at "
		                      "the last reload); reload to retry");
		gk_control_done(req);
		return;
	}
	char err[600];
	long i;
	switch (cmd->op) {
	case GK_CONTROL_ZONE_ADD:
		zone_add(s, req, cmd);
		return;
	case GK_CONTROL_ZONE_REMOVE:
		zone_remove(s, req, cmd);
		return;
	case GK_CONTROL_ZONE_RELOAD:
		if (!cmd->has_name) {
			if (s->zone_builds) {
				gk_control_reply(
				    req, "error busy: %u zone builds in progress, try again",
				    s->zone_builds);
				break;
			}
			zone_reload_all(s, req);
			return;
		}
		i = zcat_find(s->zcat, cmd->name);
		if (i < 0)
			gk_control_reply(req, "error zone %s is not configured", cmd->name);
		else if (s->zcat->e[i].busy)
			gk_control_reply(req, "error zone %s: another command on it is in progress",
			                 cmd->name);
		else if (s->zcat->e[i].loading)
			gk_control_reply(
			    req, "error zone %s is still loading (start-up), try again", cmd->name);
		else if (check_file(s->zcat->e[i].file, err, sizeof(err)) != 0)
			gk_control_reply(
			    req, "error zone %s not reloaded, its version keeps serving: %s",
			    cmd->name, err);
		else {
			queue_build(s, req, (size_t)i, false);
			return;
		}
		break;
	case GK_CONTROL_ZONE_STATUS:
		zone_status(s, req, cmd);
		return;
	case GK_CONTROL_ZONE_REFRESH:
		zone_refresh(s, req, cmd);
		return;
	case GK_CONTROL_RELOAD:
		if (s->zone_builds)
			gk_control_reply(req, "error busy: %u zone builds in progress, try again",
			                 s->zone_builds);
		else if (gk_daemon_reload(s, err, sizeof(err)) != 0)
			gk_control_reply(req, "error %s", err);
		else
			gk_control_reply(req, "ok reloaded %s: %zu zones, %zu records",
			                 s->boot->path, gk_zone_store_zone_count(s->zs),
			                 gk_zone_store_rr_count(s->zs));
		break;
	case GK_CONTROL_STATS:
		stats(s, req);
		return;
	case GK_CONTROL_LOGLEVEL:
		gk_log_set_level((enum gk_log_level)cmd->level);
		gk_log(GK_LOG_INFO, "control: log level %s", levels[cmd->level]);
		gk_control_reply(req, "ok log level %s", levels[cmd->level]);
		break;
	}
	gk_control_done(req);
}

int gk_daemon_control_start(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_control_t *c = &s->boot->control;
	if (!c->set)
		return 0;
	int rc = gk_control_open(&s->loop, c->socket, on_request, s, &s->control, err, errlen);
	if (rc == 0)
		gk_log(GK_LOG_INFO,
		       "control: listening on %s (mode 0600); zones added at run time "
		       "are kept in %s",
		       c->socket, c->state_file);
	return rc;
}

void gk_daemon_control_stop(gk_server_t *s)
{
	gk_control_close(s->control);
	s->control = NULL;
}
