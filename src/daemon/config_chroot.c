/* SPDX-License-Identifier: MIT */
/* src/daemon/config_chroot.c -- `chroot:`: every path the daemon reads after the chroot
 * must lie inside it (checked at start, as NSD does), and is rewritten without the chroot
 * directory once the root has changed.
 */
#include <stdio.h>
#include <string.h>
#include "common/chroot.h"
#include "daemon/config_internal.h"
#include "xfr/conf.h"

typedef int (*path_fn)(void *ctx, const char *key, char *path, const char *file, size_t line);

/* Every path of cfg that is read or written after start-up, with the place it was set. */
static int each_path(gk_config_t *cfg, path_fn fn, void *ctx)
{
	const char *cf = cfg->path;
	size_t cl = cfg->chroot_line;
	int rc = 0;
#define P(key, p)                                                                                  \
	do {                                                                                       \
		if ((p) != NULL && (rc = fn(ctx, key, (p), cf, cl)) != 0)                          \
			return rc;                                                                 \
	} while (0)
	P("config file", cfg->path);
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const gk_config_zone_origin_t *o = &cfg->zone_origin[i];
		if ((rc = fn(ctx, "zone file", (char *)cfg->zones[i].file, o->file ? o->file : cf,
		             o->file ? o->line : cl)) != 0)
			return rc;
	}
	P("zone_list", cfg->zone_list);
	for (size_t i = 0; i < cfg->n_zdirs; i++)
		P("zones_dir.path", cfg->zdirs[i].path);
	P("control.socket", cfg->control.socket);
	P("control.state_file", cfg->control.state_file);
	P("redis.password_file", cfg->redis.password_file);
	P("redis.sentinel_password_file", cfg->redis.sentinel_password_file);
	P("filing.psl_file", cfg->filing.psl_file);
	P("policy.file", cfg->policy.file);
	P("policy.state_dir", cfg->policy.state_dir);
	for (size_t i = 0; i < cfg->policy.n_operator_keys; i++)
		P("policy.operator_keys", cfg->policy.operator_keys[i]);
	P("dnstap.file", cfg->dnstap.file);
	P("dnstap.socket", cfg->dnstap.unix_path);
	if (cfg->secondary)
		P("secondary.directory", cfg->secondary->directory);
	for (size_t i = 0; i < cfg->n_tls; i++) {
		P("tls.certificate", cfg->tls[i].certificate);
		P("tls.key", cfg->tls[i].key);
	}
#undef P
	return 0;
}

struct check {
	const char *dir;
	char *err;
	size_t errlen;
};

static int check_one(void *ctx, const char *key, char *path, const char *file, size_t line)
{
	struct check *c = ctx;
	if (gk_chroot_under(c->dir, path))
		return 0;
	if (c->errlen > 0)
		snprintf(c->err, c->errlen, "%s:%zu: %s %s is outside chroot %s%s", file, line, key,
		         path, c->dir,
		         path[0] == '/' ? "" : " (relative: give the config file's absolute path)");
	return GK_ECONFIG;
}

int gk_daemon_config_chroot_check(const gk_config_t *cfg, char *err, size_t errlen)
{
	struct check c = {.dir = cfg->chroot, .err = err, .errlen = errlen};
	if (cfg->chroot == NULL)
		return 0;
	return each_path((gk_config_t *)cfg, check_one, &c);
}

static int strip_one(void *ctx, const char *key, char *path, const char *file, size_t line)
{
	(void)ctx, (void)key, (void)file, (void)line;
	const char *in = gk_chroot_strip(path);
	if (in != path)
		memmove(path, in, strlen(in) + 1);
	return 0;
}

void gk_daemon_config_chroot_strip(gk_config_t *cfg)
{
	if (cfg != NULL)
		(void)each_path(cfg, strip_one, NULL);
}
