/* SPDX-License-Identifier: MIT */
/* src/status/status.c -- the replica object: create/free, the reader entry point, info,
 * and the Redis-free writer API used by tests and benchmarks.
 *
 * gk_status_get is the only function workers call: two relaxed flag loads, one acquire
 * load of the root and up to three probes (overlay, frozen overlay, base). The flags are
 * written by the status thread: ready after the first full load, expired when the last
 * Redis reply is older than the configured hard bound max_age_ms (checked from a 100 ms
 * timer, so the read path needs no clock). Merely stale (past stale_after_ms) is not a
 * reader's concern: the last-known-good table keeps answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "common/dname.h"
#include "status/internal.h"

int gk_status_get(const gk_status_t *st, const uint8_t *name, size_t len, uint64_t hash,
                  uint32_t *value)
{
	if (value != NULL)
		*value = 0;
	if (!atomic_load_explicit(&st->ready, memory_order_acquire))
		return GK_FS_STARTING;
	if (atomic_load_explicit(&st->expired, memory_order_relaxed))
		return GK_FS_UNKNOWN;
	const struct root *r =
	    atomic_load_explicit(&((gk_status_t *)st)->tab.root, memory_order_acquire);
	const struct tslot *s = gk_status_tab_get(r, name, len, hash);
	if (s == NULL)
		return GK_FS_UNFILED;
	uint32_t v = atomic_load_explicit(&((struct tslot *)s)->val, memory_order_relaxed);
	if (value != NULL)
		*value = v;
	return v == 0 ? GK_FS_UNFILED : (int)gk_fs_unpack_status(v);
}

int gk_status_get_memo(const gk_status_t *st, const uint8_t *name, size_t len, uint64_t hash,
                       _Atomic uint64_t *memo)
{
	if (!atomic_load_explicit(&st->ready, memory_order_acquire))
		return GK_FS_STARTING;
	if (atomic_load_explicit(&st->expired, memory_order_relaxed))
		return GK_FS_UNKNOWN;
	/* the generation first: the lookup below then sees every change made before it */
	uint64_t g = atomic_load_explicit(&gk_status_tab_gen, memory_order_acquire);
	uint64_t m = atomic_load_explicit(memo, memory_order_relaxed);
	if (m >> 8 == g)
		return (int)(m & 0xff);
	int fs = gk_status_get(st, name, len, hash, NULL);
	if (fs >= 0) /* not STARTING or STALE, which the flags decide, not the table */
		atomic_store_explicit(memo, g << 8 | (uint64_t)fs, memory_order_relaxed);
	return fs;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int gk_status_create(const gk_status_conf_t *conf, gk_status_t **out)
{
	if (conf == NULL || out == NULL || (conf->redis_host == NULL && conf->redis_unix == NULL))
		return GK_EINVAL;
	gk_status_t *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return GK_ENOMEM;
	st->conf = *conf;
	st->sync = &gk_status_sync;
	st->host = dup_or_null(conf->redis_host);
	st->unix_path = dup_or_null(conf->redis_unix);
	st->version = strdup(conf->version != NULL ? conf->version : "");
	if (conf->instance_id != NULL) {
		st->inst_id = strdup(conf->instance_id);
	} else {
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = 0;
		size_t n = strlen(host) + 24;
		st->inst_id = malloc(n);
		if (st->inst_id != NULL)
			snprintf(st->inst_id, n, "%s:%ld", host, (long)getpid());
	}
	if (st->inst_id != NULL) {
		size_t n = strlen(st->inst_id) + sizeof(GK_KEY_INSTANCE);
		st->inst_key = malloc(n);
		if (st->inst_key != NULL)
			snprintf(st->inst_key, n, GK_KEY_INSTANCE, st->inst_id);
	}
	if ((conf->redis_host != NULL && st->host == NULL) ||
	    (conf->redis_unix != NULL && st->unix_path == NULL) || st->version == NULL ||
	    st->inst_id == NULL || st->inst_key == NULL)
		goto nomem;
	if (gk_redis_auth_copy(&st->auth, conf->redis_auth) != 0)
		goto nomem;
	st->conf.redis_auth = &st->auth;
	if (conf->redis_sentinel)
		st->target.sentinel = *conf->redis_sentinel;
	st->conf.redis_sentinel = NULL;
	if (conf->heartbeat_to) {
		st->hb_split = true;
		st->hb_target = *conf->heartbeat_to;
	}
	st->conf.heartbeat_to = NULL;
	gk_redis_addr_set(&st->target.addr, st->host, conf->redis_port, st->unix_path);
	st->conf.redis_host = st->host;
	st->conf.redis_unix = st->unix_path;
	st->conf.instance_id = st->inst_id;
	st->conf.version = st->version;
	if (st->conf.connect_timeout_ms == 0)
		st->conf.connect_timeout_ms = 1000;
	if (st->conf.reconnect_max_ms == 0)
		st->conf.reconnect_max_ms = 5000;
	if (st->conf.stale_after_ms == 0)
		st->conf.stale_after_ms = 30000;
	/* flagged stale no later than it stops answering */
	if (st->conf.max_age_ms != 0 && st->conf.stale_after_ms > st->conf.max_age_ms)
		st->conf.stale_after_ms = st->conf.max_age_ms;
	st->command_timeout_ms = 5000;
	if (uv_mutex_init(&st->info_lock) != 0)
		goto nomem;
	if (gk_status_tab_init(&st->tab) != 0) {
		uv_mutex_destroy(&st->info_lock);
		goto nomem;
	}
	st->tab.on_retire = conf->retired;
	st->tab.on_retire_ctx = conf->retired_ctx;
	strcpy(st->info.stream_id, "0-0");
	strcpy(st->pol_state, "off");
	*out = st;
	return 0;
nomem:
	gk_redis_auth_clear(&st->auth);
	free(st->host);
	free(st->unix_path);
	free(st->version);
	free(st->inst_id);
	free(st->inst_key);
	free(st);
	return GK_ENOMEM;
}

void gk_status_free(gk_status_t *st)
{
	if (st == NULL)
		return;
	gk_status_stop(st);
	gk_status_build_free(&st->load);
	gk_status_tab_destroy(&st->tab);
	uv_mutex_destroy(&st->info_lock);
	gk_redis_auth_clear(&st->auth);
	free(st->host);
	free(st->unix_path);
	free(st->version);
	free(st->inst_id);
	free(st->inst_key);
	free(st);
}

void gk_status_info(const gk_status_t *st, gk_status_info_t *info)
{
	gk_status_t *m = (gk_status_t *)st;
	uv_mutex_lock(&m->info_lock);
	*info = m->info;
	uv_mutex_unlock(&m->info_lock);
}

int gk_status_put(gk_status_t *st, const char *domain, uint32_t value)
{
	uint8_t wire[GK_DNAME_MAX + 1];
	size_t len = gk_dname_from_text(domain, strlen(domain), wire, GK_STATUS_NAME_FLAGS);
	if (len == 0)
		return GK_EINVAL;
	int rc = gk_status_tab_set(&st->tab, wire, len, value);
	gk_status_tab_step(&st->tab); /* a running merge advances one bounded step per change */
	uv_mutex_lock(&st->info_lock);
	st->info.table_size = gk_status_tab_size(&st->tab);
	uv_mutex_unlock(&st->info_lock);
	return rc;
}

void gk_status_set_ready(gk_status_t *st)
{
	atomic_store_explicit(&st->ready, true, memory_order_release);
	gk_status_publish_info(st);
}

void gk_status_set_policy(gk_status_t *st, uint64_t version, const char *state)
{
	uv_mutex_lock(&st->info_lock);
	st->pol_version = version;
	snprintf(st->pol_state, sizeof(st->pol_state), "%s", state ? state : "");
	uv_mutex_unlock(&st->info_lock);
}

void gk_status_set_policy_error(gk_status_t *st, uint64_t version, const char *why)
{
	uv_mutex_lock(&st->info_lock);
	if (version == 0 && why == NULL)
		st->pol_error[0] = 0;
	else
		snprintf(st->pol_error, sizeof(st->pol_error), "%llu: %s",
		         (unsigned long long)version, why ? why : "");
	uv_mutex_unlock(&st->info_lock);
}

gk_status_retired_t *gk_status_retired_take(gk_status_t *st)
{
	return gk_status_tab_retired_take(&st->tab);
}

size_t gk_status_table_bytes(const gk_status_t *st)
{
	return gk_status_tab_bytes(&st->tab);
}

/* --- stream ids -------------------------------------------------------------------- */
