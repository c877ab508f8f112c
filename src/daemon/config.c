/* SPDX-License-Identifier: MIT */
/* src/daemon/config.c -- YAML config via libyaml's document API, checked key by key.
 *
 * The whole file is loaded as a libyaml document (nodes carry start marks, so every message
 * can name a line), then walked once. The first error wins: later checks see ctx->failed and
 * return early, so the message always describes the earliest problem found in walk order.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "common/chroot.h"
#include "common/yamldepth.h"
#include "common/yamlwalk.h"
#include "daemon/config.h"
#include "daemon/config_internal.h"
#include "zonelist/zonelist.h"
#include "redis/redis.h"
#include "gk/discovery.h"
#include "xfr/conf.h"
#include "front/conf.h"
#include "policy/policy.h"

struct ctx {
	gk_yaml_t y; /* first: the visit callbacks get &c->y */
	gk_config_t *cfg;
	char *dir;         /* directory of the config file, "" when none */
	unsigned flags;    /* GK_CONFIG_NO_SECRETS, GK_CONFIG_NO_ZONE_LISTS */
	size_t zones_line; /* the zones key, 0 when absent */
};

static int parse_listen(struct ctx *c, yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
		                    "listen: expected a list of addresses, got %s",
		                    gk_yaml_type_name(n));
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt == 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
		                    "listen: at least one address is required");
	c->cfg->listen = calloc(cnt, sizeof(*c->cfg->listen));
	if (c->cfg->listen == NULL)
		return c->y.rc = GK_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = yaml_document_get_node(c->y.doc, n->data.sequence.items.start[i]);
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "listen", it, &s) != 0)
			return c->y.rc;
		gk_sockaddr_t *l = &c->cfg->listen[i];
		if (strlen(s) >= sizeof(l->text) || gk_sockaddr_parse(s, l) != 0)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(it),
			    "listen: '%s' is not ADDRESS:PORT (IPv4 a.b.c.d:port or IPv6 "
			    "[addr]:port, port 1..65535)",
			    s);
		for (size_t j = 0; j < i; j++)
			if (c->cfg->listen[j].addrlen == l->addrlen &&
			    memcmp(&c->cfg->listen[j].addr, &l->addr, l->addrlen) == 0)
				return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
				                    "listen: duplicate address '%s'", s);
		c->cfg->n_listen = i + 1;
	}
	return 0;
}

static int visit_tcp(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	(void)arg;
	gk_config_t *cfg = c->cfg;
	if (strcmp(key, "max_connections") == 0)
		return gk_yaml_uint(&c->y, "tcp.max_connections", v, 1, GK_CONFIG_TCP_CONNS_MAX,
		                    &cfg->tcp_max_connections);
	if (strcmp(key, "idle_timeout_ms") == 0)
		return gk_yaml_uint(&c->y, "tcp.idle_timeout_ms", v, GK_CONFIG_TCP_IDLE_MIN,
		                    GK_CONFIG_TCP_IDLE_MAX, &cfg->tcp_idle_timeout_ms);
	if (strcmp(key, "max_pipelined") == 0)
		return gk_yaml_uint(&c->y, "tcp.max_pipelined", v, 1, GK_CONFIG_TCP_PIPELINE_MAX,
		                    &cfg->tcp_max_pipelined);
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "tcp: unknown key '%s' (expected max_connections, idle_timeout_ms, "
	                    "max_pipelined)",
	                    key);
}

/* A list of prefixes (rate_limit.exempt, proxy_protocol.from) into out[0..max). */
static int get_prefixes(struct ctx *c, const char *key, yaml_node_t *v, gk_prefix_t *out,
                        unsigned max, unsigned *n)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "%s: expected a list of prefixes, got %s", key,
		                    gk_yaml_type_name(v));
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt > max)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "%s: more than %u prefixes",
		                    key, max);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = yaml_document_get_node(c->y.doc, v->data.sequence.items.start[i]);
		const char *s = NULL;
		if (gk_yaml_string(&c->y, key, it, &s) != 0)
			return c->y.rc;
		if (gk_prefix_parse(s, &out[i]) != 0)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(it),
			    "%s: '%s' is not ADDRESS or ADDRESS/LENGTH (no bits set past "
			    "LENGTH)",
			    key, s);
		*n = (unsigned)i + 1;
	}
	return 0;
}

/* rate_limit: (docs/CONFIG.md "rate_limit"); the settings are rrl/rrl.h's. */
static int visit_rrl(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	(void)arg;
	gk_rrl_config_t *r = &c->cfg->rrl;
	unsigned u;
	if (strcmp(key, "responses_per_second") == 0)
		return gk_yaml_uint(&c->y, "rate_limit.responses_per_second", v, 0, GK_RRL_RATE_MAX,
		                    &r->rate);
	if (strcmp(key, "slip") == 0)
		return gk_yaml_uint(&c->y, "rate_limit.slip", v, 0, GK_RRL_SLIP_MAX, &r->slip);
	if (strcmp(key, "window") == 0)
		return gk_yaml_uint(&c->y, "rate_limit.window", v, 1, GK_RRL_WINDOW_MAX,
		                    &r->window);
	if (strcmp(key, "table_size") == 0)
		return gk_yaml_uint(&c->y, "rate_limit.table_size", v, GK_RRL_TABLE_MIN,
		                    GK_RRL_TABLE_MAX, &r->table_size);
	if (strcmp(key, "ipv4_prefix") == 0 || strcmp(key, "ipv6_prefix") == 0) {
		bool v4 = key[3] == '4';
		if (gk_yaml_uint(&c->y, v4 ? "rate_limit.ipv4_prefix" : "rate_limit.ipv6_prefix", v,
		                 1, v4 ? 32 : 128, &u) != 0)
			return c->y.rc;
		*(v4 ? &r->v4_prefix : &r->v6_prefix) = (uint8_t)u;
		return 0;
	}
	if (strcmp(key, "exempt") == 0)
		return get_prefixes(c, "rate_limit.exempt", v, r->exempt, GK_RRL_EXEMPT_MAX,
		                    &r->n_exempt);
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "rate_limit: unknown key '%s' (expected responses_per_second, slip, window, "
	    "ipv4_prefix, ipv6_prefix, table_size, exempt)",
	    key);
}

static int visit_proxy(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	bool *have_from = arg;
	if (strcmp(key, "from") == 0) {
		*have_from = true;
		return get_prefixes(c, "proxy_protocol.from", v, c->cfg->proxy_from,
		                    GK_CONFIG_PROXY_MAX, &c->cfg->n_proxy_from);
	}
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "proxy_protocol: unknown key '%s' (expected from)", key);
}

static char *resolve(struct ctx *c, const char *file);

/* tls: a list of DNS-over-TLS listeners (docs/CONFIG.md "tls"). */
static int visit_tls(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	gk_config_tls_t *t = arg;
	const char *s = NULL;
	if (strcmp(key, "listen") == 0) {
		if (gk_yaml_string(&c->y, "tls.listen", v, &s) != 0)
			return c->y.rc;
		if (gk_sockaddr_parse(s, &t->listen) != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "tls.listen: '%s' is not ADDRESS:PORT", s);
		return 0;
	}
	if (strcmp(key, "certificate") == 0 || strcmp(key, "key") == 0) {
		char **dst = key[0] == 'c' ? &t->certificate : &t->key;
		if (gk_yaml_string(&c->y, key[0] == 'c' ? "tls.certificate" : "tls.key", v, &s) !=
		    0)
			return c->y.rc;
		free(*dst);
		return (*dst = resolve(c, s)) == NULL ? (c->y.rc = GK_ENOMEM) : 0;
	}
	if (strcmp(key, "min_version") == 0) {
		if (gk_yaml_string(&c->y, "tls.min_version", v, &s) != 0)
			return c->y.rc;
		if (strcmp(s, "1.2") != 0 && strcmp(s, "1.3") != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "tls.min_version: '%s' is not 1.2 or 1.3", s);
		t->min_version = s[2] == '2' ? 12 : 13;
		return 0;
	}
	if (strcmp(key, "idle_timeout_ms") == 0)
		return gk_yaml_uint(&c->y, "tls.idle_timeout_ms", v, 100, 3600000,
		                    &t->idle_timeout_ms);
	if (strcmp(key, "handshake_timeout_ms") == 0)
		return gk_yaml_uint(&c->y, "tls.handshake_timeout_ms", v, 100, 60000,
		                    &t->handshake_timeout_ms);
	if (strcmp(key, "max_connections") == 0)
		return gk_yaml_uint(&c->y, "tls.max_connections", v, 1, 1000000,
		                    &t->max_connections);
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "tls: unknown key '%s' (expected listen, certificate, key, min_version, "
	    "idle_timeout_ms, handshake_timeout_ms, max_connections)",
	    key);
}

static int parse_tls(struct ctx *c, yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
		                    "tls: expected a list of listeners, got %s",
		                    gk_yaml_type_name(n));
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt == 0 || cnt > GK_CONFIG_TLS_MAX)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
		                    "tls: between 1 and %u listeners", GK_CONFIG_TLS_MAX);
	if ((c->cfg->tls = calloc(cnt, sizeof(*c->cfg->tls))) == NULL)
		return c->y.rc = GK_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = yaml_document_get_node(c->y.doc, n->data.sequence.items.start[i]);
		gk_config_tls_t *t = &c->cfg->tls[i];
		*t = (gk_config_tls_t){.min_version = 12,
		                       .idle_timeout_ms = GK_CONFIG_TCP_IDLE_DEFAULT,
		                       .handshake_timeout_ms = GK_CONFIG_TLS_HANDSHAKE_MS,
		                       .max_connections = GK_CONFIG_TCP_CONNS_DEFAULT};
		c->cfg->n_tls = i + 1;
		if (gk_yaml_walk_map(&c->y, "tls", it, visit_tls, t) != 0)
			return c->y.rc;
		const char *miss = t->listen.addrlen == 0   ? "listen"
		                   : t->certificate == NULL ? "certificate"
		                   : t->key == NULL         ? "key"
		                                            : NULL;
		if (miss != NULL)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
			                    "tls: listener has no '%s'", miss);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->cfg->tls[j].listen.text, t->listen.text) == 0)
				return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
				                    "tls: '%s' listed twice", t->listen.text);
	}
	return 0;
}

struct zone_seen {
	const char *name;
	const char *file;
	const char *forward;
	size_t name_line;
	bool has_name, has_file, has_forward;
};

static int visit_zone(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct zone_seen *z = arg;
	if (strcmp(key, "name") == 0) {
		z->has_name = true;
		z->name_line = gk_yaml_line(v);
		return gk_yaml_string(&c->y, "zones.name", v, &z->name);
	}
	if (strcmp(key, "file") == 0) {
		z->has_file = true;
		return gk_yaml_string(&c->y, "zones.file", v, &z->file);
	}
	if (strcmp(key, "forward") == 0) {
		z->has_forward = true;
		return gk_yaml_string(&c->y, "zones.forward", v, &z->forward);
	}
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "zones: unknown key '%s' (expected name, file, forward)", key);
}

/* Zone names compared as the duplicate check does: case and one trailing dot aside. */
static int cmp_zone_name(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	size_t la = strlen(a), lb = strlen(b);
	la -= la > 1 && a[la - 1] == '.';
	lb -= lb > 1 && b[lb - 1] == '.';
	size_t l = la < lb ? la : lb;
	int r = strncasecmp(a, b, l);
	return r != 0 ? r : (la > lb) - (la < lb);
}

/* A zone is served from a file or by transfer, not both. */
static void check_secondary_overlap(struct ctx *c)
{
	const gk_xfr_conf_t *x = c->cfg->secondary;
	size_t n = c->cfg->n_zones;
	const char **names = calloc(n + 1, sizeof(*names));
	if (names == NULL) {
		c->y.rc = GK_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = c->cfg->zones[i].name;
	qsort(names, n, sizeof(*names), cmp_zone_name);
	for (size_t i = 0; i < x->n_zones && c->y.rc == 0; i++) {
		const char *k = x->zones[i].name;
		if (bsearch(&k, names, n, sizeof(*names), cmp_zone_name) != NULL)
			gk_yaml_fail(
			    &c->y, GK_ECONFIG, x->zones[i].line,
			    "secondary.zones: '%s' is also in zones (a zone has one source)", k);
	}
	free(names);
}

/* Forwarded zone z is also served from a file or by transfer (other: that zone's name
 * string): the error names both places. Cold path. */
static void forward_overlap(struct ctx *c, const gk_front_zone_conf_t *z, const char *other)
{
	const gk_config_t *cfg = c->cfg;
	char at[600] = "", here[600];
	for (size_t j = 0; j < cfg->n_zones && !at[0]; j++) {
		const gk_config_zone_origin_t *o = &cfg->zone_origin[j];
		if (cfg->zones[j].name != other)
			continue;
		if (o->line)
			snprintf(at, sizeof(at), "%s:%u", o->file, (unsigned)o->line);
		else
			snprintf(at, sizeof(at), "%s", o->file);
	}
	const gk_xfr_conf_t *x = cfg->secondary;
	for (size_t j = 0; x && j < x->n_zones && !at[0]; j++)
		if (x->zones[j].name == other)
			snprintf(at, sizeof(at), "%s:%zu", c->y.path, (size_t)x->zones[j].line);
	const char *zf = gk_front_zone_file(z, c->y.path);
	if (z->line)
		snprintf(here, sizeof(here), "%s:%zu", zf, z->line);
	else
		snprintf(here, sizeof(here), "%s", zf);
	c->y.rc = GK_ECONFIG;
	if (c->y.err == NULL || c->y.errlen == 0)
		return;
	snprintf(c->y.err, c->y.errlen,
	         "%s: zones: '%s' is forwarded and also served from a file or by transfer (at "
	         "%s; a zone has one source)",
	         here, z->name, at);
}

static int pool_find(void *ctx, const char *name)
{
	return gk_front_conf_pool_find(ctx, name);
}

/* Secondary templates with `forward: POOL` (catalog members forwarded): each names a pool
 * of pools:, which then runs even when no zone of the config is forwarded. */
static int bind_member_pools(gk_config_t *cfg, const char *path, char *err, size_t errlen)
{
	bool fwd = false;
	int rc =
	    gk_xfr_conf_bind_pools(cfg->secondary, pool_find, cfg->front, path, &fwd, err, errlen);
	if (rc == 0 && fwd && cfg->front)
		cfg->front->member_pools = true;
	return rc;
}

/* A zone is served from a file, by transfer or forwarded: one of them. */
static void check_forward_overlap(struct ctx *c)
{
	const gk_front_conf_t *fc = c->cfg->front;
	const gk_xfr_conf_t *x = c->cfg->secondary;
	size_t n = c->cfg->n_zones, nx = x ? x->n_zones : 0;
	const char **names = calloc(n + nx + 1, sizeof(*names));
	if (names == NULL) {
		c->y.rc = GK_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = c->cfg->zones[i].name;
	for (size_t i = 0; i < nx; i++)
		names[n + i] = x->zones[i].name;
	qsort(names, n + nx, sizeof(*names), cmp_zone_name);
	for (size_t i = 0; i < fc->n_zones && c->y.rc == 0; i++) {
		const char *k = fc->zones[i].name;
		const char **hit = bsearch(&k, names, n + nx, sizeof(*names), cmp_zone_name);
		if (hit != NULL)
			forward_overlap(c, &fc->zones[i], *hit);
	}
	free(names);
}

static char *resolve(struct ctx *c, const char *file)
{
	if (file[0] == '/' || c->dir[0] == '\0')
		return strdup(gk_chroot_strip(file)); /* chrooted: DIR/x is /x (common/chroot.h) */
	size_t len = strlen(c->dir) + 1 + strlen(file) + 1;
	char *p = malloc(len);
	if (p != NULL)
		snprintf(p, len, "%s/%s", c->dir, file);
	return p;
}

static int parse_zones(struct ctx *c, yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
		                    "zones: expected a list of {name, file}, got %s",
		                    gk_yaml_type_name(n));
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	c->zones_line = gk_yaml_line(n);
	for (size_t i = 0; i < cnt && c->y.rc == 0; i++) {
		yaml_node_t *it = yaml_document_get_node(c->y.doc, n->data.sequence.items.start[i]);
		struct zone_seen z = {0};
		if (gk_yaml_walk_map(&c->y, "zones", it, visit_zone, &z) != 0)
			break;
		if (!z.has_name) {
			gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
			             "zones: entry has no 'name'");
			break;
		}
		if (z.has_file && z.has_forward) {
			gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
			             "zones: entry '%s' has both 'file' and 'forward'", z.name);
			break;
		}
		if (z.has_forward) {
			if (gk_front_conf_zone_add(&c->cfg->front, z.name, z.forward, z.name_line))
				c->y.rc = GK_ENOMEM;
			continue;
		}
		if (!z.has_file) {
			gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
			             "zones: entry '%s' has no 'file' (or 'forward')", z.name);
			break;
		}
		if (gk_daemon_config_zone_add(c->cfg, z.name, strlen(z.name), resolve(c, z.file),
		                              GK_CONFIG_ZSRC_CONFIG, c->cfg->path,
		                              z.name_line) != 0)
			c->y.rc = GK_ENOMEM;
	}
	return c->y.rc;
}

/* zone_list: FILE -- one "NAME FILE" per line (src/zonelist/zonelist.h). */
static int parse_zone_list(struct ctx *c, yaml_node_t *v)
{
	const char *s = NULL;
	if (gk_yaml_string(&c->y, "zone_list", v, &s) != 0)
		return c->y.rc;
	c->cfg->zone_list_line = gk_yaml_line(v);
	if ((c->cfg->zone_list = resolve(c, s)) == NULL)
		return c->y.rc = GK_ENOMEM;
	return 0;
}

struct dir_seen {
	const char *path, *pattern, *forward;
};

static int visit_zones_dir(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct dir_seen *d = arg;
	if (strcmp(key, "path") == 0)
		return gk_yaml_string(&c->y, "zones_dir.path", v, &d->path);
	if (strcmp(key, "pattern") == 0) {
		if (gk_yaml_string(&c->y, "zones_dir.pattern", v, &d->pattern) != 0)
			return c->y.rc;
		if (!gk_zonelist_pattern_ok(d->pattern))
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "zones_dir.pattern: '%s' needs exactly one %%s, no other '%%' "
			    "and no '/'",
			    d->pattern);
		return 0;
	}
	if (strcmp(key, "forward") == 0) /* a pool name: checked once pools are read */
		return gk_yaml_string(&c->y, "zones_dir.forward", v, &d->forward);
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "zones_dir: unknown key '%s' (expected path, pattern, forward)", key);
}

/* One zones_dir mapping: {path: DIR, pattern: "%s.zone", forward: POOL}. */
static int parse_zones_dir_one(struct ctx *c, yaml_node_t *v)
{
	struct dir_seen d = {0};
	if (v->type != YAML_MAPPING_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "zones_dir: expected {path, pattern, forward}");
	if (gk_yaml_walk_map(&c->y, "zones_dir", v, visit_zones_dir, &d) != 0)
		return c->y.rc;
	if (d.path == NULL)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "zones_dir: missing required key 'path'");
	gk_config_t *cfg = c->cfg;
	gk_config_zdir_t *z = realloc(cfg->zdirs, (cfg->n_zdirs + 1) * sizeof(*z));
	if (z == NULL)
		return c->y.rc = GK_ENOMEM;
	cfg->zdirs = z;
	z = &cfg->zdirs[cfg->n_zdirs++];
	*z = (gk_config_zdir_t){.line = gk_yaml_line(v)};
	if ((z->path = resolve(c, d.path)) == NULL ||
	    (z->pattern = strdup(d.pattern ? d.pattern : "%s.zone")) == NULL ||
	    (d.forward && (z->forward = strdup(d.forward)) == NULL))
		return c->y.rc = GK_ENOMEM;
	return 0;
}

/* zones_dir: one mapping, or a list of them -- one zone per matching file. */
static int parse_zones_dir(struct ctx *c, yaml_node_t *v)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return parse_zones_dir_one(c, v);
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "zones_dir: an empty list (one mapping or more)");
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top && c->y.rc == 0; it++)
		parse_zones_dir_one(c, yaml_document_get_node(c->y.doc, *it));
	return c->y.rc;
}

struct control_seen {
	const char *socket, *state_file;
};

static int visit_control(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct control_seen *d = arg;
	if (strcmp(key, "socket") == 0)
		return gk_yaml_string(&c->y, "control.socket", v, &d->socket);
	if (strcmp(key, "state_file") == 0)
		return gk_yaml_string(&c->y, "control.state_file", v, &d->state_file);
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "control: unknown key '%s' (expected socket, state_file)", key);
}

/* control: {socket: PATH, state_file: PATH} (docs/CONTROL.md). */
static int parse_control(struct ctx *c, yaml_node_t *v)
{
	struct control_seen d = {0};
	if (gk_yaml_walk_map(&c->y, "control", v, visit_control, &d) != 0)
		return c->y.rc;
	if (d.socket == NULL)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "control: missing required key 'socket'");
	if (d.state_file == NULL)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "control: missing required key 'state_file'");
	gk_config_control_t *ct = &c->cfg->control;
	ct->line = gk_yaml_line(v);
	ct->set = true;
	if ((ct->socket = resolve(c, d.socket)) == NULL ||
	    (ct->state_file = resolve(c, d.state_file)) == NULL)
		return c->y.rc = GK_ENOMEM;
	if (strlen(ct->socket) >= 108)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "control.socket: path longer than 107 bytes");
	return 0;
}

/* --- redis and filing ------------------------------------------------------------- */

static int parse_redis_addr(struct ctx *c, yaml_node_t *v)
{
	gk_config_redis_t *r = &c->cfg->redis;
	const char *s = NULL;
	if (gk_yaml_string(&c->y, "redis.address", v, &s) != 0)
		return c->y.rc;
	if (strlen(s) >= sizeof(r->address))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "redis.address: too long");
	strcpy(r->address, s);
	/* numeric: a host name would block the status loop in getaddrinfo at each reconnect */
	gk_redis_addr_t a;
	char why[400] = "host too long";
	if (gk_redis_addr_parse(s, GK_REDIS_ADDR_NUMERIC, &a, why, sizeof(why)) != 0 ||
	    strlen(a.host) >= sizeof(r->host))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "redis.address: %s", why);
	free(r->unix_path);
	r->unix_path = NULL;
	if (a.path[0] && (r->unix_path = strdup(a.path)) == NULL)
		return c->y.rc = GK_ENOMEM;
	strcpy(r->host, a.host);
	r->port = a.port;
	return 0;
}

static struct gk_redis_sentinel *redis_sentinel(struct ctx *c)
{
	gk_config_redis_t *r = &c->cfg->redis;
	if (r->sentinel == NULL && (r->sentinel = calloc(1, sizeof(*r->sentinel))) == NULL)
		c->y.rc = GK_ENOMEM;
	return r->sentinel;
}

static int parse_redis_sentinels(struct ctx *c, yaml_node_t *v)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "redis.sentinels: expected a list of HOST:PORT, got %s",
		                    gk_yaml_type_name(v));
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "redis.sentinels: at least one sentinel is required");
	gk_redis_sentinel_t *s = redis_sentinel(c);
	if (s == NULL)
		return c->y.rc;
	c->cfg->redis.sentinel_line = gk_yaml_line(v);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = yaml_document_get_node(c->y.doc, v->data.sequence.items.start[i]);
		const char *str = NULL;
		char why[500];
		if (gk_yaml_string(&c->y, "redis.sentinels", it, &str) != 0)
			return c->y.rc;
		if (gk_redis_sentinel_add(s, str, GK_REDIS_ADDR_NUMERIC, why, sizeof(why)) != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
			                    "redis.sentinels: %s", why);
	}
	return 0;
}

static int parse_redis_primary(struct ctx *c, yaml_node_t *v)
{
	gk_config_redis_t *r = &c->cfg->redis;
	const char *s = NULL;
	if (gk_yaml_string(&c->y, "redis.primary", v, &s) != 0)
		return c->y.rc;
	if (strlen(s) >= sizeof(r->primary_text))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "redis.primary: too long");
	if (r->primary == NULL && (r->primary = calloc(1, sizeof(*r->primary))) == NULL)
		return c->y.rc = GK_ENOMEM;
	strcpy(r->primary_text, s);
	if (strcmp(s, "sentinel") == 0)
		return 0; /* filled from redis.sentinels once the section is read */
	char why[400];
	if (gk_redis_addr_parse(s, GK_REDIS_ADDR_NUMERIC, &r->primary->addr, why, sizeof(why)))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "redis.primary: %s (or \"sentinel\": the master "
		                    "found through redis.sentinels)",
		                    why);
	return 0;
}

/* redis.sentinel_user / redis.sentinel_password_file (read in load_redis_auth). */
static int parse_sentinel_auth(struct ctx *c, const char *key, yaml_node_t *v)
{
	gk_config_redis_t *r = &c->cfg->redis;
	char name[64];
	const char *s = NULL;
	snprintf(name, sizeof(name), "redis.%s", key);
	if (gk_yaml_string(&c->y, name, v, &s) != 0)
		return c->y.rc;
	if (!s[0])
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "%s: empty", name);
	char **dst = key[9] == 'u' ? &r->sentinel_user : &r->sentinel_password_file;
	free(*dst);
	if ((*dst = key[9] == 'u' ? strdup(s) : resolve(c, s)) == NULL)
		return c->y.rc = GK_ENOMEM;
	r->sentinel_auth_line = gk_yaml_line(v);
	return 0;
}

struct redis_seen {
	bool have_addr;
	size_t master_line, primary_line;
	const char *master;
};

static int visit_redis(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	gk_config_redis_t *r = &c->cfg->redis;
	struct redis_seen *seen = arg;
	if (strcmp(key, "address") == 0) {
		seen->have_addr = true;
		return parse_redis_addr(c, v);
	}
	if (strcmp(key, "sentinels") == 0)
		return parse_redis_sentinels(c, v);
	if (strcmp(key, "master_name") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "redis.master_name", v, &s) != 0)
			return c->y.rc;
		seen->master = s;
		seen->master_line = gk_yaml_line(v);
		return 0;
	}
	if (strcmp(key, "primary") == 0) {
		seen->primary_line = gk_yaml_line(v);
		return parse_redis_primary(c, v);
	}
	if (strcmp(key, "instance_id") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "redis.instance_id", v, &s) != 0)
			return c->y.rc;
		if (strlen(s) > 200)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "redis.instance_id: longer than 200 characters");
		free(r->instance_id);
		if ((r->instance_id = strdup(s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		return 0;
	}
	if (strcmp(key, "user") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "redis.user", v, &s) != 0)
			return c->y.rc;
		if (!s[0] || strlen(s) >= GK_REDIS_USER_MAX || strpbrk(s, " \t\r\n"))
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "redis.user: '%s': expected a user name of 1..%u characters "
			    "without spaces",
			    s, GK_REDIS_USER_MAX - 1);
		free(r->user);
		if ((r->user = strdup(s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		r->auth_line = gk_yaml_line(v);
		return 0;
	}
	if (strcmp(key, "password_file") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "redis.password_file", v, &s) != 0)
			return c->y.rc;
		if (!s[0])
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "redis.password_file: empty");
		free(r->password_file);
		if ((r->password_file = resolve(c, s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		r->auth_line = gk_yaml_line(v);
		return 0;
	}
	if (strcmp(key, "sentinel_user") == 0 || strcmp(key, "sentinel_password_file") == 0)
		return parse_sentinel_auth(c, key, v);
	if (strcmp(key, "connect_timeout_ms") == 0)
		return gk_yaml_uint(&c->y, "redis.connect_timeout_ms", v, 10, GK_CONFIG_TIMEOUT_MAX,
		                    &r->connect_timeout_ms);
	if (strcmp(key, "reconnect_max_ms") == 0)
		return gk_yaml_uint(&c->y, "redis.reconnect_max_ms", v, 100, GK_CONFIG_TIMEOUT_MAX,
		                    &r->reconnect_max_ms);
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "redis: unknown key '%s' (expected address or sentinels and master_name, "
	    "primary, instance_id, user, password_file, sentinel_user, "
	    "sentinel_password_file, connect_timeout_ms, reconnect_max_ms)",
	    key);
}

/* address xor sentinels + master_name; primary "sentinel" needs sentinels. */
static int check_redis_section(struct ctx *c, const struct redis_seen *rs, size_t line)
{
	gk_config_redis_t *r = &c->cfg->redis;
	bool primary_sentinel = r->primary && strcmp(r->primary_text, "sentinel") == 0;
	if (rs->have_addr && r->sentinel && !primary_sentinel)
		return gk_yaml_fail(
		    &c->y, GK_ECONFIG, r->sentinel_line,
		    "redis: address and sentinels are mutually exclusive (the sentinels "
		    "name the server to read from), unless primary is 'sentinel' (read "
		    "address, write to the master the sentinels name)");
	if (!rs->have_addr && !r->sentinel)
		return gk_yaml_fail(&c->y, GK_ECONFIG, line,
		                    "redis: missing required key 'address' (or 'sentinels' and "
		                    "'master_name')");
	if (r->sentinel && !rs->master)
		return gk_yaml_fail(&c->y, GK_ECONFIG, r->sentinel_line,
		                    "redis.sentinels: needs redis.master_name");
	if (!r->sentinel && rs->master)
		return gk_yaml_fail(&c->y, GK_ECONFIG, rs->master_line,
		                    "redis.master_name: needs redis.sentinels");
	char why[300];
	if (r->sentinel &&
	    gk_redis_sentinel_set_master(r->sentinel, rs->master, why, sizeof(why)) != 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, rs->master_line, "redis.master_name: %s",
		                    why);
	if (primary_sentinel) {
		if (!r->sentinel)
			return gk_yaml_fail(&c->y, GK_ECONFIG, rs->primary_line,
			                    "redis.primary: 'sentinel' needs redis.sentinels and "
			                    "redis.master_name");
		r->primary->sentinel = *r->sentinel;
	}
	if (r->sentinel && rs->have_addr) { /* the sentinels find the primary only */
		free(r->sentinel);
		r->sentinel = NULL;
	}
	if (r->sentinel)
		snprintf(r->address, sizeof(r->address), "sentinel:%s", r->sentinel->master);
	return 0;
}

/* The password is read at load, so a missing or unreadable file is a config error (with
 * its line) and a reload with a broken file keeps the running state. */
static int load_redis_auth(struct ctx *c, size_t section_line)
{
	gk_config_redis_t *r = &c->cfg->redis;
	if (c->flags & GK_CONFIG_NO_SECRETS)
		return 0;
	gk_redis_auth_t a;
	char why[400];
	int rc;
	gk_redis_sentinel_t *sl[2] = {
	    r->sentinel, r->primary && r->primary->sentinel.n ? &r->primary->sentinel : NULL};
	if ((r->sentinel_user || r->sentinel_password_file) && !sl[0] && !sl[1])
		return gk_yaml_fail(
		    &c->y, GK_ECONFIG, r->sentinel_auth_line,
		    "redis.sentinel_user/sentinel_password_file: no redis.sentinels");
	for (int i = 0; i < 2; i++) {
		if (sl[i] == NULL)
			continue;
		rc = gk_redis_sentinel_set_auth(sl[i], r->sentinel_user, r->sentinel_password_file,
		                                why, sizeof(why));
		if (rc == GK_ENOMEM)
			return c->y.rc = rc;
		if (rc != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG,
			                    r->sentinel_auth_line ? r->sentinel_auth_line
			                                          : section_line,
			                    "redis: %s", why);
	}
	rc = gk_redis_auth_load(&a, r->user, r->password_file, why, sizeof(why));
	if (rc == GK_ENOMEM)
		return c->y.rc = rc;
	if (rc != 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, r->auth_line ? r->auth_line : section_line,
		                    "redis: %s", why);
	if (a.password == NULL)
		return 0;
	if ((r->auth = malloc(sizeof(*r->auth))) == NULL) {
		gk_redis_auth_clear(&a);
		return c->y.rc = GK_ENOMEM;
	}
	*r->auth = a;
	return 0;
}

static int get_bool(struct ctx *c, const char *key, yaml_node_t *n, bool *out)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		const char *s = gk_yaml_scalar(n);
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0) {
			*out = false;
			return 0;
		}
	}
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n), "%s: expected true or false", key);
}

struct refusal_arg {
	const char *what; /* "filing.unfiled" */
	gk_refusal_t *r;
	bool allow_resolve;
};

static int visit_refusal(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct refusal_arg *a = arg;
	int rc = gk_policy_refusal_key(y, a->what, key, v, false, a->allow_resolve, a->r, NULL);
	if (rc <= 0)
		return rc;
	return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(k),
	                    "%s: unknown key '%s' (expected action, ede, text)", a->what, key);
}

static int visit_filing(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	gk_config_filing_t *f = &c->cfg->filing;
	bool *enforce_set = arg;
	if (strcmp(key, "enforce") == 0) {
		*enforce_set = true;
		return get_bool(c, "filing.enforce", v, &f->enforce);
	}
	if (strcmp(key, "startup") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "filing.startup", v, &s) != 0)
			return c->y.rc;
		if (strcmp(s, "refuse") == 0)
			f->startup = GK_STARTUP_REFUSE;
		else if (strcmp(s, "resolve") == 0)
			f->startup = GK_STARTUP_RESOLVE;
		else
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "filing.startup: '%s' is not one of refuse, resolve",
			                    s);
		return 0;
	}
	if (strcmp(key, "stale_after_ms") == 0)
		return gk_yaml_uint(&c->y, "filing.stale_after_ms", v, GK_CONFIG_FILING_AGE_MIN,
		                    GK_CONFIG_TIMEOUT_MAX, &f->stale_after_ms);
	if (strcmp(key, "max_age_ms") == 0) {
		/* the hard bound: "none" (or 0) keeps enforcing last-known-good without one */
		if (v->type == YAML_SCALAR_NODE &&
		    v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(gk_yaml_scalar(v), "none") == 0) {
			f->max_age_ms = 0;
			return 0;
		}
		if (gk_yaml_uint(&c->y, "filing.max_age_ms", v, 0, GK_CONFIG_FILING_MAX_AGE_MAX,
		                 &f->max_age_ms) != 0)
			return c->y.rc;
		if (f->max_age_ms != 0 && f->max_age_ms < GK_CONFIG_FILING_AGE_MIN)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "filing.max_age_ms: %u is out of range (none, 0 or %u..%u)",
			    f->max_age_ms, GK_CONFIG_FILING_AGE_MIN, GK_CONFIG_FILING_MAX_AGE_MAX);
		return 0;
	}
	if (strcmp(key, "psl_file") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "filing.psl_file", v, &s) != 0)
			return c->y.rc;
		free(f->psl_file);
		if ((f->psl_file = resolve(c, s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		return 0;
	}
	struct refusal_arg a = {.what = NULL};
	if (strcmp(key, "unfiled") == 0)
		a = (struct refusal_arg){"filing.unfiled", &f->unfiled, false};
	else if (strcmp(key, "revoked") == 0)
		a = (struct refusal_arg){"filing.revoked", &f->revoked, false};
	else if (strcmp(key, "unknown") == 0)
		a = (struct refusal_arg){"filing.unknown", &f->unknown, true};
	else if (strcmp(key, "no_registrable") == 0)
		a = (struct refusal_arg){"filing.no_registrable", &f->no_registrable, true};
	if (a.what != NULL)
		return gk_yaml_walk_map(&c->y, a.what, v, visit_refusal, &a);
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "filing: unknown key '%s' (expected enforce, startup, stale_after_ms, "
	                    "max_age_ms, psl_file, unfiled, revoked, unknown, no_registrable)",
	                    key);
}

static int visit_policy(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	(void)arg;
	gk_config_policy_t *pl = &c->cfg->policy;
	if (strcmp(key, "file") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "policy.file", v, &s) != 0)
			return c->y.rc;
		free(pl->file);
		if ((pl->file = resolve(c, s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		return 0;
	}
	if (strcmp(key, "redis") == 0)
		return get_bool(c, "policy.redis", v, &pl->redis);
	if (strcmp(key, "state_dir") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "policy.state_dir", v, &s) != 0)
			return c->y.rc;
		free(pl->state_dir);
		if ((pl->state_dir = resolve(c, s)) == NULL)
			return c->y.rc = GK_ENOMEM;
		return 0;
	}
	if (strcmp(key, "operator_keys") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "policy.operator_keys: expected a list of key files, got %s",
			    gk_yaml_type_name(v));
		if (pl->operator_keys != NULL)
			return c->y.rc; /* duplicate keys are caught by walk_map */
		size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (cnt == 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "policy.operator_keys: at least one key is required");
		if ((pl->operator_keys = calloc(cnt, sizeof(*pl->operator_keys))) == NULL)
			return c->y.rc = GK_ENOMEM;
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it =
			    yaml_document_get_node(c->y.doc, v->data.sequence.items.start[i]);
			const char *s = NULL;
			if (gk_yaml_string(&c->y, "policy.operator_keys", it, &s) != 0)
				return c->y.rc;
			if ((pl->operator_keys[i] = resolve(c, s)) == NULL)
				return c->y.rc = GK_ENOMEM;
			pl->n_operator_keys = i + 1;
			if (access(pl->operator_keys[i], R_OK) != 0)
				return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(it),
				                    "policy.operator_keys: %s: %s",
				                    pl->operator_keys[i], strerror(errno));
		}
		return 0;
	}
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "policy: unknown key '%s' (expected file, redis, operator_keys, state_dir)", key);
}

static int visit_discovery(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	gk_config_discovery_t *d = &c->cfg->discovery;
	(void)arg;
	if (strcmp(key, "enabled") == 0) {
		d->enabled_set = true;
		return get_bool(c, "discovery.enabled", v, &d->enabled);
	}
	if (strcmp(key, "table_size") == 0)
		return gk_yaml_uint(&c->y, "discovery.table_size", v, 16, 16777216, &d->table_size);
	if (strcmp(key, "flush_ms") == 0)
		return gk_yaml_uint(&c->y, "discovery.flush_ms", v, 10, 60000, &d->flush_ms);
	if (strcmp(key, "day_max") == 0)
		return gk_yaml_uint(&c->y, "discovery.day_max", v, 16, 1000000000, &d->day_max);
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "discovery: unknown key '%s' (expected enabled, table_size, flush_ms, day_max)", key);
}

static void refusal_default(gk_refusal_t *r, gk_action_t a, const char *text)
{
	r->action = a;
	r->ede_code = 15; /* Blocked */
	r->text_len = (uint8_t)strlen(text);
	memcpy(r->text, text, r->text_len);
}

/* --- metrics and dnstap ------------------------------------------------------------- */

static bool is_loopback(const gk_sockaddr_t *l)
{
	if (l->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&l->addr;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&l->addr;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

static int visit_metrics(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	bool *have_listen = arg;
	gk_config_metrics_t *m = &c->cfg->metrics;
	if (strcmp(key, "listen") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "metrics.listen", v, &s) != 0)
			return c->y.rc;
		if (strlen(s) >= sizeof(m->listen.text) || gk_sockaddr_parse(s, &m->listen) != 0)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "metrics.listen: '%s' is not ADDRESS:PORT (127.0.0.1:9153 or "
			    "[::1]:9153)",
			    s);
		if (!is_loopback(&m->listen))
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "metrics.listen: '%s' is not a loopback address (the endpoint "
			    "has no authentication: put a proxy in front to expose it)",
			    s);
		*have_listen = true;
		return 0;
	}
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "metrics: unknown key '%s' (expected listen)", key);
}

static int dnstap_string(struct ctx *c, const char *key, yaml_node_t *v, char **out, bool path)
{
	const char *s = NULL;
	if (gk_yaml_string(&c->y, key, v, &s) != 0)
		return c->y.rc;
	free(*out);
	if ((*out = path ? resolve(c, s) : strdup(s)) == NULL)
		return c->y.rc = GK_ENOMEM;
	return 0;
}

struct dnstap_seen {
	bool burst;
	yaml_node_t *file, *socket;
};

static int visit_dnstap(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct dnstap_seen *seen = arg;
	gk_config_dnstap_t *d = &c->cfg->dnstap;
	if (strcmp(key, "file") == 0) {
		seen->file = v;
		return dnstap_string(c, "dnstap.file", v, &d->file, true);
	}
	if (strcmp(key, "socket") == 0) {
		seen->socket = v;
		if (dnstap_string(c, "dnstap.socket", v, &d->unix_path, false) != 0)
			return c->y.rc;
		if (d->unix_path[0] != '/')
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "dnstap.socket: '%s': expected an absolute path",
			                    d->unix_path);
		return 0;
	}
	if (strcmp(key, "all_queries") == 0)
		return get_bool(c, "dnstap.all_queries", v, &d->all_queries);
	if (strcmp(key, "forwarded") == 0)
		return get_bool(c, "dnstap.forwarded", v, &d->forwarded);
	if (strcmp(key, "rate") == 0)
		return gk_yaml_uint(&c->y, "dnstap.rate", v, 1, 1000000, &d->rate);
	if (strcmp(key, "burst") == 0) {
		seen->burst = true;
		return gk_yaml_uint(&c->y, "dnstap.burst", v, 1, 1000000, &d->burst);
	}
	if (strcmp(key, "max_size_mb") == 0)
		return gk_yaml_uint(&c->y, "dnstap.max_size_mb", v, 1, 1048576, &d->max_size_mb);
	if (strcmp(key, "keep") == 0)
		return gk_yaml_uint(&c->y, "dnstap.keep", v, 0, 1000, &d->keep);
	if (strcmp(key, "identity") == 0) {
		if (dnstap_string(c, "dnstap.identity", v, &d->identity, false) != 0)
			return c->y.rc;
		if (strlen(d->identity) > 255)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "dnstap.identity: longer than 255 bytes");
		return 0;
	}
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "dnstap: unknown key '%s' (expected file, socket, all_queries, forwarded, rate, "
	    "burst, max_size_mb, keep, identity)",
	    key);
}

static int parse_dnstap(struct ctx *c, yaml_node_t *v)
{
	struct dnstap_seen seen = {0};
	gk_config_dnstap_t *d = &c->cfg->dnstap;
	if (gk_yaml_walk_map(&c->y, "dnstap", v, visit_dnstap, &seen) != 0)
		return c->y.rc;
	if ((seen.file == NULL) == (seen.socket == NULL))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(seen.socket ? seen.socket : v),
		                    "dnstap: give exactly one of 'file' and 'socket'");
	if (!seen.burst)
		d->burst = d->rate;
	d->set = true;
	return 0;
}

struct top_seen {
	bool listen, zones;
	bool filing_enforce_set;
	yaml_node_t *redis_node, *filing_node, *policy_node;
	yaml_node_t *user_node, *group_node;
};

/* user: and group: (daemon/privs.h), resolved now so that a typo names its line. */
static int check_privs(struct ctx *c, const struct top_seen *seen)
{
	const char *user = NULL, *group = NULL;
	char err[160];
	if (seen->group_node && !seen->user_node)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(seen->group_node),
		                    "group: needs user:");
	if (!seen->user_node)
		return 0;
	if (gk_yaml_string(&c->y, "user", seen->user_node, &user) != 0 ||
	    (seen->group_node && gk_yaml_string(&c->y, "group", seen->group_node, &group) != 0))
		return c->y.rc;
	if (gk_chroot_active()) {
		/* a reload inside the chroot: its passwd and group files are usually absent, and
		 * user:/group: take effect only at a restart; we run as the user already */
		gk_privs_t *p = &c->cfg->privs;
		*p = (gk_privs_t){.set = true, .uid = getuid(), .gid = getgid()};
		snprintf(p->user, sizeof(p->user), "%s", user);
		snprintf(p->group, sizeof(p->group), "%s", group ? group : "");
		return 0;
	}
	if (gk_daemon_privs_resolve(user, group, &c->cfg->privs, err, sizeof(err)) != 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG,
		                    gk_yaml_line(group && strstr(err, "group") ? seen->group_node
		                                                               : seen->user_node),
		                    "%s: %s", group && strstr(err, "group") ? "group" : "user",
		                    err);
	return 0;
}

/* chroot: an absolute directory; "" or "/" is no chroot (as NSD's chroot: ""). */
static int parse_chroot(struct ctx *c, yaml_node_t *v)
{
	const char *s = NULL;
	if (gk_yaml_string(&c->y, "chroot", v, &s) != 0)
		return c->y.rc;
	if (s[0] == '\0' || strcmp(s, "/") == 0)
		return 0;
	if (s[0] != '/')
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "chroot: '%s' is not an absolute path", s);
	struct stat st;
	if (!gk_chroot_active() && (stat(s, &st) != 0 || !S_ISDIR(st.st_mode)))
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "chroot: %s is not a directory", s);
	free(c->cfg->chroot);
	if ((c->cfg->chroot = strdup(s)) == NULL)
		return c->y.rc = GK_ENOMEM;
	size_t n = strlen(c->cfg->chroot);
	while (n > 1 && c->cfg->chroot[n - 1] == '/')
		c->cfg->chroot[--n] = '\0';
	c->cfg->chroot_line = gk_yaml_line(v);
	return 0;
}

static int visit_top(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct top_seen *seen = arg;
	gk_config_t *cfg = c->cfg;
	unsigned u;
	if (strcmp(key, "listen") == 0) {
		seen->listen = true;
		return parse_listen(c, v);
	}
	if (strcmp(key, "zones") == 0) {
		seen->zones = true;
		return parse_zones(c, v);
	}
	if (strcmp(key, "zone_list") == 0)
		return parse_zone_list(c, v);
	if (strcmp(key, "zones_dir") == 0)
		return parse_zones_dir(c, v);
	if (strcmp(key, "control") == 0)
		return parse_control(c, v);
	if (strcmp(key, "workers") == 0)
		return gk_yaml_uint(&c->y, "workers", v, 1, GK_CONFIG_WORKERS_MAX, &cfg->workers);
	if (strcmp(key, "edns_udp_max") == 0) {
		if (gk_yaml_uint(&c->y, "edns_udp_max", v, GK_CONFIG_EDNS_MIN, GK_CONFIG_EDNS_MAX,
		                 &u) != 0)
			return c->y.rc;
		cfg->edns_udp_max = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "udp_linger_us") == 0)
		return gk_yaml_uint(&c->y, "udp_linger_us", v, 0, GK_CONFIG_LINGER_MAX,
		                    &cfg->udp_linger_us);
	if (strcmp(key, "udp_priority") == 0)
		return gk_yaml_uint(&c->y, "udp_priority", v, 0, GK_CONFIG_UDP_PRIORITY_MAX,
		                    &cfg->udp_priority);
	if (strcmp(key, "tcp") == 0)
		return gk_yaml_walk_map(&c->y, "tcp", v, visit_tcp, NULL);
	if (strcmp(key, "redis") == 0) {
		struct redis_seen rs = {0};
		seen->redis_node = v;
		if (gk_yaml_walk_map(&c->y, "redis", v, visit_redis, &rs) == 0 &&
		    check_redis_section(c, &rs, gk_yaml_line(v)) == 0 &&
		    load_redis_auth(c, gk_yaml_line(v)) != 0)
			return c->y.rc;
		if (c->y.rc != 0)
			return c->y.rc;
		cfg->redis.set = true;
		return 0;
	}
	if (strcmp(key, "filing") == 0) {
		seen->filing_node = v;
		return gk_yaml_walk_map(&c->y, "filing", v, visit_filing,
		                        &seen->filing_enforce_set);
	}
	if (strcmp(key, "policy") == 0) {
		seen->policy_node = v;
		c->cfg->policy.line = gk_yaml_line(v);
		return gk_yaml_walk_map(&c->y, "policy", v, visit_policy, NULL);
	}
	if (strcmp(key, "metrics") == 0) {
		bool have_listen = false;
		if (gk_yaml_walk_map(&c->y, "metrics", v, visit_metrics, &have_listen) != 0)
			return c->y.rc;
		if (!have_listen)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
			                    "metrics: missing required key 'listen'");
		cfg->metrics.set = true;
		return 0;
	}
	if (strcmp(key, "dnstap") == 0)
		return parse_dnstap(c, v);
	if (strcmp(key, "secondary") == 0) {
		int rc = gk_xfr_conf_parse(c->y.path, c->dir, c->y.doc, v, &cfg->secondary,
		                           c->y.err, c->y.errlen);
		return rc ? (c->y.rc = rc) : 0;
	}
	if (strcmp(key, "pools") == 0) {
		int rc =
		    gk_front_conf_parse(c->y.path, c->y.doc, v, &cfg->front, c->y.err, c->y.errlen);
		return rc ? (c->y.rc = rc) : 0;
	}
	if (strcmp(key, "rate_limit") == 0)
		return gk_yaml_walk_map(&c->y, "rate_limit", v, visit_rrl, NULL);
	if (strcmp(key, "proxy_protocol") == 0) {
		bool have_from = false;
		if (gk_yaml_walk_map(&c->y, "proxy_protocol", v, visit_proxy, &have_from) != 0)
			return c->y.rc;
		if (!have_from || cfg->n_proxy_from == 0)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "proxy_protocol: 'from' must list the load balancers' addresses");
		return 0;
	}
	if (strcmp(key, "tls") == 0)
		return parse_tls(c, v);
	if (strcmp(key, "user") == 0 || strcmp(key, "group") == 0) {
		*(key[0] == 'u' ? &seen->user_node : &seen->group_node) = v;
		return 0;
	}
	if (strcmp(key, "chroot") == 0)
		return parse_chroot(c, v);
	if (strcmp(key, "discovery") == 0) {
		c->cfg->discovery.line = gk_yaml_line(v);
		return gk_yaml_walk_map(&c->y, "discovery", v, visit_discovery, NULL);
	}
	if (strcmp(key, "log_level") == 0) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "log_level", v, &s) != 0)
			return c->y.rc;
		if (gk_log_level_parse(s, &cfg->log_level) != 0)
			return gk_yaml_fail(
			    &c->y, GK_ECONFIG, gk_yaml_line(v),
			    "log_level: '%s' is not one of error, warning, info, debug", s);
		return 0;
	}
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "unknown key '%s' (expected listen, workers, edns_udp_max, udp_linger_us, "
	    "udp_priority, "
	    "tcp, zones, "
	    "zone_list, zones_dir, control, log_level, redis, filing, policy, metrics, "
	    "dnstap, discovery, secondary, pools, rate_limit, user, group, chroot, "
	    "proxy_protocol, tls)",
	    key);
}

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > (long)GK_CONFIG_WORKERS_MAX ? GK_CONFIG_WORKERS_MAX : (unsigned)n;
}

static int load_doc(struct ctx *c, FILE *f, yaml_document_t *doc)
{
	size_t deep = 0;
	int rc = gk_yamldepth_check(NULL, 0, f, GK_YAML_MAX_DEPTH, &deep);
	if (rc == GK_ESYNTAX) {
		gk_yaml_fail(&c->y, GK_ECONFIG, deep, "nested deeper than %d levels",
		             GK_YAML_MAX_DEPTH);
		return c->y.rc = GK_ESYNTAX;
	}
	if (rc != 0)
		return c->y.rc = rc;
	rewind(f);
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return c->y.rc = GK_ENOMEM;
	yaml_parser_set_input_file(&parser, f);
	int ok = yaml_parser_load(&parser, doc);
	if (!ok) {
		size_t line = parser.problem_mark.line + 1;
		if (parser.error == YAML_MEMORY_ERROR)
			c->y.rc = GK_ENOMEM;
		else {
			gk_yaml_fail(&c->y, GK_ECONFIG, line, "YAML syntax error: %s%s%s",
			             parser.problem ? parser.problem : "unknown",
			             parser.context ? " " : "",
			             parser.context ? parser.context : "");
			c->y.rc = GK_ESYNTAX;
		}
	}
	yaml_parser_delete(&parser);
	return ok ? 0 : c->y.rc;
}

int gk_daemon_config_load(const char *path, gk_config_t **out, char *err, size_t errlen)
{
	return gk_daemon_config_load_flags(path, 0, out, err, errlen);
}

int gk_daemon_config_load_flags(const char *path, unsigned flags, gk_config_t **out, char *err,
                                size_t errlen)
{
	struct ctx c = {.y = {.path = path, .err = err, .errlen = errlen}, .flags = flags};
	if (errlen > 0)
		err[0] = '\0';
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		if (errlen > 0)
			snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(e));
		return GK_EIO;
	}
	yaml_document_t doc;
	bool have_doc = false;
	c.cfg = calloc(1, sizeof(*c.cfg));
	c.dir = strdup(path);
	if (c.cfg == NULL || c.dir == NULL) {
		c.y.rc = GK_ENOMEM;
		goto finish;
	}
	char *slash = strrchr(c.dir, '/');
	if (slash == NULL)
		c.dir[0] = '\0';
	else if (slash == c.dir)
		c.dir[1] = '\0';
	else
		*slash = '\0';
	c.cfg->path = strdup(path);
	if (c.cfg->path == NULL) {
		c.y.rc = GK_ENOMEM;
		goto finish;
	}
	c.cfg->workers = default_workers();
	c.cfg->edns_udp_max = GK_CONFIG_EDNS_DEFAULT;
	c.cfg->udp_linger_us = GK_CONFIG_LINGER_DEFAULT;
	c.cfg->udp_priority = GK_CONFIG_UDP_PRIORITY_DEFAULT;
	c.cfg->tcp_max_connections = GK_CONFIG_TCP_CONNS_DEFAULT;
	c.cfg->tcp_idle_timeout_ms = GK_CONFIG_TCP_IDLE_DEFAULT;
	c.cfg->tcp_max_pipelined = GK_CONFIG_TCP_PIPELINE_DEFAULT;
	c.cfg->log_level = GK_LOG_INFO;
	c.cfg->redis.connect_timeout_ms = GK_CONFIG_REDIS_CONNECT_DEFAULT;
	c.cfg->redis.reconnect_max_ms = GK_CONFIG_REDIS_RECONNECT_DEFAULT;
	c.cfg->filing.stale_after_ms = GK_CONFIG_FILING_STALE_DEFAULT;
	c.cfg->filing.max_age_ms = GK_CONFIG_FILING_MAX_AGE_DEFAULT;
	c.cfg->filing.startup = GK_STARTUP_REFUSE;
	c.cfg->dnstap.rate = GK_CONFIG_DNSTAP_RATE_DEFAULT;
	c.cfg->dnstap.max_size_mb = GK_CONFIG_DNSTAP_SIZE_DEFAULT;
	c.cfg->dnstap.keep = GK_CONFIG_DNSTAP_KEEP_DEFAULT;
	gk_rrl_config_default(&c.cfg->rrl);
	refusal_default(&c.cfg->filing.unfiled, GK_ACT_REFUSE, "ICP filing required");
	refusal_default(&c.cfg->filing.revoked, GK_ACT_NXDOMAIN, "ICP filing revoked");
	refusal_default(&c.cfg->filing.unknown, GK_ACT_REFUSE, "ICP filing status unavailable");
	refusal_default(&c.cfg->filing.no_registrable, GK_ACT_RESOLVE, "ICP filing required");

	if (load_doc(&c, f, &doc) != 0)
		goto finish;
	have_doc = true;
	c.y.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		gk_yaml_fail(&c.y, GK_ECONFIG, 1,
		             "empty configuration (listen and zones are required)");
		goto finish;
	}
	struct top_seen seen = {0};
	if (gk_yaml_walk_map(&c.y, "configuration", root, visit_top, &seen) != 0)
		goto finish;
	if (check_privs(&c, &seen) != 0)
		goto finish;
	bool has_secondary = (c.cfg->secondary && c.cfg->secondary->n_zones > 0) ||
	                     (c.cfg->front && c.cfg->front->n_zones > 0);
	if (!seen.listen)
		gk_yaml_fail(&c.y, GK_ECONFIG, gk_yaml_line(root), "missing required key 'listen'");
	else if (!seen.zones && !c.cfg->zone_list && !c.cfg->n_zdirs && !c.cfg->control.set &&
	         !has_secondary)
		gk_yaml_fail(&c.y, GK_ECONFIG, gk_yaml_line(root),
		             "missing required key 'zones' (or zone_list, zones_dir, control, "
		             "secondary.zones)");
	else if (c.cfg->n_zones == 0 && !c.cfg->zone_list && !c.cfg->n_zdirs &&
	         !c.cfg->control.set && !has_secondary)
		gk_yaml_fail(&c.y, GK_ECONFIG, c.zones_line,
		             "zones: at least one zone is required");
	bool check_root = c.y.rc == 0 && c.cfg->chroot && !gk_chroot_active();
	if (check_root) /* before the lists are read: one outside the chroot is not opened */
		c.y.rc = gk_daemon_config_chroot_check(c.cfg, err, errlen);
	if (c.y.rc == 0 && (c.y.rc = gk_daemon_config_zones_extra(c.cfg, flags, err, errlen)) == 0)
		c.y.rc = gk_daemon_config_zones_dups(c.cfg, err, errlen);
	if (c.y.rc == 0 && c.cfg->secondary)
		check_secondary_overlap(&c);
	if (c.y.rc == 0 && c.cfg->front &&
	    (c.y.rc = gk_front_conf_check(c.cfg->front, c.y.path, err, errlen)) == 0)
		check_forward_overlap(&c);
	if (c.y.rc == 0 && c.cfg->secondary) /* catalog members forwarded by a template */
		c.y.rc = bind_member_pools(c.cfg, c.y.path, err, errlen);
	if (c.y.rc == 0 && check_root) /* and the zones the lists and directory name */
		c.y.rc = gk_daemon_config_chroot_check(c.cfg, err, errlen);
	if (c.y.rc == 0) {
		gk_config_filing_t *fl = &c.cfg->filing;
		if (!seen.filing_enforce_set)
			fl->enforce = c.cfg->redis.set;
		else if (fl->enforce && !c.cfg->redis.set)
			gk_yaml_fail(
			    &c.y, GK_ECONFIG, gk_yaml_line(seen.filing_node),
			    "filing.enforce: true needs a redis section (the status replica)");
		gk_config_policy_t *pl = &c.cfg->policy;
		if (c.y.rc == 0 && pl->redis && !c.cfg->redis.set)
			gk_yaml_fail(&c.y, GK_ECONFIG, pl->line,
			             "policy.redis: true needs a redis section");
		else if (c.y.rc == 0 && pl->redis && pl->n_operator_keys == 0)
			gk_yaml_fail(
			    &c.y, GK_ECONFIG, pl->line,
			    "policy.redis: true needs operator_keys (the keys pushes are signed "
			    "with)");
		else if (c.y.rc == 0 && pl->state_dir && !pl->redis)
			gk_yaml_fail(&c.y, GK_ECONFIG, pl->line,
			             "policy.state_dir: only with policy.redis: true");
		else if (c.y.rc == 0 && pl->redis && !pl->state_dir &&
		         !(pl->state_dir = resolve(&c, "state")))
			c.y.rc = GK_ENOMEM;
	}
	if (c.y.rc == 0) {
		gk_config_discovery_t *dc = &c.cfg->discovery;
		if (!dc->enabled_set)
			dc->enabled = c.cfg->redis.set;
		else if (dc->enabled && !c.cfg->redis.set)
			gk_yaml_fail(&c.y, GK_ECONFIG, dc->line,
			             "discovery.enabled: true needs a redis section");
		if (dc->table_size == 0)
			dc->table_size = GK_CONFIG_DISC_TABLE_DEFAULT;
		if (dc->flush_ms == 0)
			dc->flush_ms = GK_CONFIG_DISC_FLUSH_DEFAULT;
		if (dc->day_max == 0)
			dc->day_max = GK_DISC_DAY_MAX;
	}
finish:
	if (have_doc)
		yaml_document_delete(&doc);
	fclose(f);
	free(c.dir);
	if (c.y.rc != 0) {
		gk_daemon_config_free(c.cfg);
		return c.y.rc;
	}
	*out = c.cfg;
	return 0;
}

void gk_daemon_config_free(gk_config_t *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_zones; i++)
		gk_daemon_config_zone_strings_free(&cfg->zones[i], &cfg->zone_origin[i]);
	free(cfg->zones);
	free(cfg->zone_origin);
	free(cfg->zone_list);
	for (size_t i = 0; i < cfg->n_zdirs; i++) {
		free(cfg->zdirs[i].path);
		free(cfg->zdirs[i].pattern);
		free(cfg->zdirs[i].forward);
	}
	free(cfg->zdirs);
	free(cfg->control.socket);
	free(cfg->control.state_file);
	free(cfg->listen);
	free(cfg->redis.unix_path);
	free(cfg->redis.user);
	free(cfg->redis.password_file);
	free(cfg->redis.sentinel_user);
	free(cfg->redis.sentinel_password_file);
	gk_redis_auth_clear(cfg->redis.auth);
	free(cfg->redis.auth);
	if (cfg->redis.sentinel) /* the sentinels' password */
		explicit_bzero(cfg->redis.sentinel, sizeof(*cfg->redis.sentinel));
	if (cfg->redis.primary)
		explicit_bzero(cfg->redis.primary, sizeof(*cfg->redis.primary));
	free(cfg->redis.sentinel);
	free(cfg->redis.primary);
	free(cfg->redis.instance_id);
	free(cfg->filing.psl_file);
	free(cfg->policy.file);
	free(cfg->policy.state_dir);
	for (size_t i = 0; i < cfg->policy.n_operator_keys; i++)
		free(cfg->policy.operator_keys[i]);
	free(cfg->policy.operator_keys);
	free(cfg->dnstap.file);
	free(cfg->dnstap.unix_path);
	free(cfg->dnstap.identity);
	gk_xfr_conf_free(cfg->secondary);
	for (size_t i = 0; i < cfg->n_tls; i++) {
		free(cfg->tls[i].certificate);
		free(cfg->tls[i].key);
	}
	free(cfg->tls);
	gk_front_conf_free(cfg->front);
	free(cfg->chroot);
	free(cfg->path);
	free(cfg);
}
