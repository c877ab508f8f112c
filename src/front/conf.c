/* SPDX-License-Identifier: MIT */
/* src/front/conf.c -- parse the `pools:` config section and the forwarded zones (conf.h). */
#include "front/conf.h"
#include "common/dname.h"
#include "pkt/fzones.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sockaddr.h"
#include "common/yamlwalk.h"

struct pc {
	gk_yaml_t y; /* the document, the file named in messages, the first error */
};

__attribute__((format(printf, 3, 4))) static int fail(struct pc *c, size_t line, const char *fmt,
                                                      ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return gk_yaml_fail(&c->y, GK_ECONFIG, line, "%s", msg);
}

static yaml_node_t *node(struct pc *c, int i)
{
	return yaml_document_get_node(c->y.doc, i);
}

/* The walk's visitors get the gk_yaml_t; struct pc is it and nothing more. */
static struct pc *pc_of(gk_yaml_t *y)
{
	return (struct pc *)y;
}

struct backend_in {
	gk_fbackend_conf_t *b;
	const char *addr;
	yaml_node_t *at;
};

static int visit_backend(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct backend_in *in = arg;
	if (!strcmp(key, "address")) {
		in->at = v;
		return gk_yaml_string(y, "pools.backends.address", v, &in->addr);
	}
	if (!strcmp(key, "weight"))
		return gk_yaml_uint(y, "pools.backends.weight", v, 1, 1000, &in->b->weight);
	return fail(pc_of(y), gk_yaml_line(kn),
	            "pools.backends: unknown key '%s' (expected address, weight)", key);
}

static int parse_backend(struct pc *c, yaml_node_t *v, gk_fbackend_conf_t *b)
{
	struct backend_in in = {.b = b, .at = v};
	b->weight = 1;
	if (v->type == YAML_MAPPING_NODE) {
		if (gk_yaml_walk_map(&c->y, "pools.backends", v, visit_backend, &in) != 0)
			return c->y.rc;
		if (!in.addr)
			return fail(c, gk_yaml_line(v), "pools.backends: entry has no 'address'");
	} else if (gk_yaml_string(&c->y, "pools.backends", v, &in.addr) != 0)
		return c->y.rc;
	gk_sockaddr_t l;
	if (gk_sockaddr_parse(in.addr, &l) != 0)
		return fail(c, gk_yaml_line(in.at),
		            "pools.backends: '%s' is not \"IPv4:PORT\" or \"[IPv6]:PORT\"",
		            in.addr);
	b->addr = l.addr;
	b->addrlen = l.addrlen;
	snprintf(b->name, sizeof(b->name), "%s", in.addr);
	return 0;
}

static int parse_backends(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, gk_yaml_line(v), "pools.backends: expected a list of addresses");
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > GK_FPOOL_BACKENDS_MAX)
		return fail(c, gk_yaml_line(v), "pools.backends: %zu backends, expected 1..%u", n,
		            GK_FPOOL_BACKENDS_MAX);
	free(pl->backends);
	pl->backends = calloc(n, sizeof(*pl->backends));
	if (!pl->backends)
		return c->y.rc = GK_ENOMEM;
	pl->n_backends = n;
	for (size_t i = 0; i < n && c->y.rc == 0; i++)
		parse_backend(c, node(c, v->data.sequence.items.start[i]), &pl->backends[i]);
	for (size_t i = 0; i < n && c->y.rc == 0; i++)
		for (size_t j = 0; j < i; j++)
			if (pl->backends[i].addrlen == pl->backends[j].addrlen &&
			    !memcmp(&pl->backends[i].addr, &pl->backends[j].addr,
			            pl->backends[i].addrlen))
				return fail(
				    c, gk_yaml_line(node(c, v->data.sequence.items.start[i])),
				    "pools.backends: '%s' is listed twice", pl->backends[i].name);
	return c->y.rc;
}

struct check_in {
	gk_front_pool_conf_t *pl;
	const char *name;
};

static int visit_check(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct check_in *in = arg;
	gk_front_pool_conf_t *pl = in->pl;
	if (!strcmp(key, "name"))
		return gk_yaml_string(y, "pools.check.name", v, &in->name);
	if (!strcmp(key, "interval_ms"))
		return gk_yaml_uint(y, "pools.check.interval_ms", v, 100, 3600000,
		                    &pl->check_interval_ms);
	if (!strcmp(key, "down_after"))
		return gk_yaml_uint(y, "pools.check.down_after", v, 1, 100, &pl->health.down_after);
	if (!strcmp(key, "up_after"))
		return gk_yaml_uint(y, "pools.check.up_after", v, 1, 100, &pl->health.up_after);
	return fail(pc_of(y), gk_yaml_line(kn),
	            "pools.check: unknown key '%s' (expected name, interval_ms, down_after, "
	            "up_after)",
	            key);
}

static int parse_check(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, gk_yaml_line(v),
		            "pools.check: expected {name, interval_ms, down_after, up_after}");
	struct check_in in = {.pl = pl};
	if (gk_yaml_walk_map(&c->y, "pools.check", v, visit_check, &in) != 0)
		return c->y.rc;
	if (!in.name)
		return fail(c, gk_yaml_line(v), "pools.check: missing required key 'name'");
	if (strlen(in.name) > 253)
		return fail(c, gk_yaml_line(v), "pools.check.name: longer than 253 octets");
	if (!(pl->check_name = strdup(in.name)))
		return c->y.rc = GK_ENOMEM;
	return 0;
}

/* ecs: {ipv4: 0..32, ipv6: 0..128, client: keep|replace} */
static int visit_ecs(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	gk_front_pool_conf_t *pl = arg;
	if (!strcmp(key, "ipv4"))
		return gk_yaml_uint(y, "pools.ecs.ipv4", v, 0, 32, &pl->ecs_v4);
	if (!strcmp(key, "ipv6"))
		return gk_yaml_uint(y, "pools.ecs.ipv6", v, 0, 128, &pl->ecs_v6);
	if (!strcmp(key, "client")) {
		const char *m = NULL;
		if (gk_yaml_string(y, "pools.ecs.client", v, &m) != 0)
			return y->rc;
		if (!strcmp(m, "keep"))
			pl->ecs_client = GK_FRONT_ECS_KEEP;
		else if (!strcmp(m, "replace"))
			pl->ecs_client = GK_FRONT_ECS_REPLACE;
		else
			return fail(pc_of(y), gk_yaml_line(v),
			            "pools.ecs.client: '%s' is not one of keep, replace", m);
		return 0;
	}
	return fail(pc_of(y), gk_yaml_line(kn),
	            "pools.ecs: unknown key '%s' (expected ipv4, ipv6, client)", key);
}

static int parse_ecs(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, gk_yaml_line(v), "pools.ecs: expected {ipv4, ipv6, client}");
	pl->ecs = true;
	return gk_yaml_walk_map(&c->y, "pools.ecs", v, visit_ecs, pl);
}

struct pool_in {
	gk_front_pool_conf_t *pl;
	bool have_backends;
};

static int visit_pool(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *vn, void *arg)
{
	struct pool_in *in = arg;
	struct pc *c = pc_of(y);
	gk_front_pool_conf_t *pl = in->pl;
	const char *s = NULL;
	if (!strcmp(key, "name")) {
		if (gk_yaml_string(y, "pools.name", vn, &s) == 0 && !(pl->name = strdup(s)))
			c->y.rc = GK_ENOMEM;
	} else if (!strcmp(key, "backends")) {
		in->have_backends = true;
		parse_backends(c, vn, pl);
	} else if (!strcmp(key, "timeout_ms"))
		return gk_yaml_uint(y, "pools.timeout_ms", vn, 100, 60000, &pl->timeout_ms);
	else if (!strcmp(key, "retries"))
		return gk_yaml_uint(y, "pools.retries", vn, 0, 8, &pl->retries);
	else if (!strcmp(key, "max_outstanding"))
		return gk_yaml_uint(y, "pools.max_outstanding", vn, 1, 65535,
		                    &pl->health.max_outstanding);
	else if (!strcmp(key, "check"))
		parse_check(c, vn, pl);
	else if (!strcmp(key, "cache_size"))
		return gk_yaml_uint(y, "pools.cache_size", vn, 0, 16777216, &pl->cache_size);
	else if (!strcmp(key, "tc")) {
		if (gk_yaml_string(y, "pools.tc", vn, &s) == 0) {
			if (!strcmp(s, "retry-tcp"))
				pl->tc = GK_FRONT_TC_RETRY_TCP;
			else if (!strcmp(s, "pass"))
				pl->tc = GK_FRONT_TC_PASS;
			else
				fail(c, gk_yaml_line(vn),
				     "pools.tc: '%s' is not one of retry-tcp, pass", s);
		}
	} else if (!strcmp(key, "no_backend")) {
		if (gk_yaml_string(y, "pools.no_backend", vn, &s) == 0 &&
		    strcmp(s, "servfail") != 0)
			fail(c, gk_yaml_line(vn), "pools.no_backend: '%s' is not servfail", s);
	} else if (!strcmp(key, "ecs"))
		parse_ecs(c, vn, pl);
	else if (!strcmp(key, "proxy_protocol")) {
		if (gk_yaml_string(y, "pools.proxy_protocol", vn, &s) == 0) {
			if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
				pl->proxy = true;
			else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
				pl->proxy = false;
			else
				fail(c, gk_yaml_line(vn),
				     "pools.proxy_protocol: '%s' is not true or false", s);
		}
	} else
		fail(c, gk_yaml_line(kn),
		     "pools: unknown key '%s' (expected name, backends, timeout_ms, retries, "
		     "max_outstanding, check, cache_size, tc, no_backend, ecs, proxy_protocol)",
		     key);
	return c->y.rc;
}

static void pool_free(gk_front_pool_conf_t *pl)
{
	free(pl->name);
	free(pl->backends);
	free(pl->check_name);
}

static gk_front_conf_t *conf_get(gk_front_conf_t **conf)
{
	if (!*conf)
		*conf = calloc(1, sizeof(**conf));
	return *conf;
}

int gk_front_conf_parse(const char *path, yaml_document_t *doc, yaml_node_t *n,
                        gk_front_conf_t **conf, char *err, size_t errlen)
{
	struct pc c = {.y = {.doc = doc, .path = path, .err = err, .errlen = errlen}};
	gk_front_conf_t *fc = conf_get(conf);
	if (!fc)
		return GK_ENOMEM;
	fc->pools_line = gk_yaml_line(n);
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(&c, gk_yaml_line(n), "pools: expected a list of {name, backends, ...}");
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > GK_FRONT_POOLS_MAX)
		return fail(&c, gk_yaml_line(n), "pools: %zu pools, at most %u", cnt,
		            GK_FRONT_POOLS_MAX);
	if (fc->n_pools)
		return fail(&c, gk_yaml_line(n), "pools: given twice");
	fc->pools = calloc(cnt ? cnt : 1, sizeof(*fc->pools));
	if (!fc->pools)
		return GK_ENOMEM;
	for (size_t i = 0; i < cnt && c.y.rc == 0; i++) {
		yaml_node_t *it = node(&c, n->data.sequence.items.start[i]);
		gk_front_pool_conf_t *pl = &fc->pools[fc->n_pools++];
		*pl = (gk_front_pool_conf_t){
		    .health = {.max_outstanding = GK_FRONT_OUTSTANDING_DEFAULT,
		               .down_after = GK_FRONT_DOWN_AFTER_DEFAULT,
		               .up_after = GK_FRONT_UP_AFTER_DEFAULT},
		    .timeout_ms = GK_FRONT_TIMEOUT_DEFAULT,
		    .retries = GK_FRONT_RETRIES_DEFAULT,
		    .check_interval_ms = GK_FRONT_INTERVAL_DEFAULT,
		    .cache_size = GK_FRONT_CACHE_DEFAULT,
		    .ecs_v4 = 24,
		    .ecs_v6 = 56,
		    .line = gk_yaml_line(it),
		};
		if (it->type != YAML_MAPPING_NODE) {
			fail(&c, gk_yaml_line(it), "pools: expected {name, backends, ...}");
			break;
		}
		struct pool_in in = {.pl = pl};
		if (gk_yaml_walk_map(&c.y, "pools", it, visit_pool, &in) != 0)
			break;
		if (!pl->name)
			fail(&c, pl->line, "pools: entry has no 'name'");
		else if (!in.have_backends)
			fail(&c, pl->line, "pools: '%s' has no 'backends'", pl->name);
		for (size_t j = 0; j + 1 < fc->n_pools && c.y.rc == 0; j++)
			if (!strcmp(fc->pools[j].name, pl->name))
				fail(&c, pl->line,
				     "pools: '%s' is defined twice (first at line %zu)", pl->name,
				     fc->pools[j].line);
	}
	return c.y.rc;
}

int gk_front_conf_zone_add(gk_front_conf_t **conf, const char *name, const char *pool, size_t line)
{
	return gk_front_conf_zone_add_from(conf, name, strlen(name), pool, strlen(pool), NULL,
	                                   line);
}

int gk_front_conf_zone_add_file(gk_front_conf_t **conf, const char *name, size_t nl,
                                const char *pool, size_t pl, const char *file, size_t fl)
{
	char *f = strndup(file, fl);
	if (f == NULL)
		return GK_ENOMEM;
	int rc = gk_front_conf_zone_add_from(conf, name, nl, pool, pl, f, 0);
	if (rc != 0) {
		free(f);
		return rc;
	}
	(*conf)->zones[(*conf)->n_zones - 1].file_owned = true;
	return 0;
}

const char *gk_front_zone_file(const gk_front_zone_conf_t *z, const char *path)
{
	return z->file ? z->file : path;
}

int gk_front_conf_zone_add_from(gk_front_conf_t **conf, const char *name, size_t nl,
                                const char *pool, size_t pl, const char *file, size_t line)
{
	gk_front_conf_t *fc = conf_get(conf);
	if (!fc)
		return GK_ENOMEM;
	if (fc->n_zones == fc->zones_cap) {
		size_t cap = fc->zones_cap ? 2 * fc->zones_cap : 8;
		gk_front_zone_conf_t *z = realloc(fc->zones, cap * sizeof(*z));
		if (!z)
			return GK_ENOMEM;
		fc->zones = z;
		fc->zones_cap = cap;
	}
	gk_front_zone_conf_t *z = &fc->zones[fc->n_zones];
	*z = (gk_front_zone_conf_t){
	    .name = strndup(name, nl), .pool_name = strndup(pool, pl), .line = line, .file = file};
	if (!z->name || !z->pool_name) {
		free(z->name);
		free(z->pool_name);
		return GK_ENOMEM;
	}
	fc->n_zones++;
	return 0;
}

/* name without one trailing dot (the root "." stays). */
static size_t bare_len(const char *s)
{
	size_t l = strlen(s);
	return l > 1 && s[l - 1] == '.' ? l - 1 : l;
}

static bool same_name(const char *a, const char *b)
{
	size_t la = bare_len(a), lb = bare_len(b);
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int cmp_zone_at(const void *a, const void *b, void *arg)
{
	const gk_front_zone_conf_t *z = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const char *x = z[i].name, *y = z[j].name;
	size_t lx = bare_len(x), ly = bare_len(y);
	int r = strncasecmp(x, y, lx < ly ? lx : ly);
	if (r == 0)
		r = lx < ly ? -1 : lx > ly;
	return r ? r : i < j ? -1 : i > j; /* equal names: the first named first */
}

int gk_front_conf_check(gk_front_conf_t *fc, const char *path, char *err, size_t errlen)
{
	struct pc c = {.y = {.path = path, .err = err, .errlen = errlen}};
	if (!fc)
		return 0;
	for (size_t i = 0; i < fc->n_zones && c.y.rc == 0; i++) {
		gk_front_zone_conf_t *z = &fc->zones[i];
		c.y.path = gk_front_zone_file(z, path);
		size_t p = 0;
		while (p < fc->n_pools && strcmp(fc->pools[p].name, z->pool_name) != 0)
			p++;
		if (p == fc->n_pools)
			fail(&c, z->line, "zones.forward: no pool named '%s' in pools",
			     z->pool_name);
		z->pool = p;
		uint8_t wire[GK_DNAME_MAX];
		/* "" is the root, as "." is (gk_pkt_fzones_add) */
		if (c.y.rc == 0 && *z->name != '\0' &&
		    gk_dname_from_text(z->name, strlen(z->name), wire, 0) == 0)
			fail(&c, z->line, "zones: '%s' is not a domain name", z->name);
	}
	c.y.path = path;
	if (c.y.rc != 0 || fc->n_zones < 2)
		return c.y.rc;
	/* forwarded twice: sorted by name, then by order named */
	size_t *ix = malloc(fc->n_zones * sizeof(*ix));
	if (ix == NULL)
		return GK_ENOMEM;
	for (size_t i = 0; i < fc->n_zones; i++)
		ix[i] = i;
	qsort_r(ix, fc->n_zones, sizeof(*ix), cmp_zone_at, fc->zones);
	size_t dup = 0, first = 0; /* dup 0: none (a second naming is never the first zone) */
	for (size_t k = 1; k < fc->n_zones; k++)
		if (same_name(fc->zones[ix[k - 1]].name, fc->zones[ix[k]].name) &&
		    (dup == 0 || ix[k] < dup))
			dup = ix[k]; /* the earliest second naming, as a scan in order finds it */
	if (dup != 0) {
		/* the first time the name was named */
		for (size_t i = 0; i < dup; i++)
			if (same_name(fc->zones[i].name, fc->zones[dup].name)) {
				first = i;
				break;
			}
		const gk_front_zone_conf_t *z = &fc->zones[dup], *f = &fc->zones[first];
		const char *zf = gk_front_zone_file(z, path), *ff = gk_front_zone_file(f, path);
		c.y.path = zf;
		char at[600];
		if (f->line)
			snprintf(at, sizeof(at), "%s:%zu", ff, f->line);
		else
			snprintf(at, sizeof(at), "%s", ff);
		if (z->line == 0) { /* a zones directory's file: no line */
			snprintf(err, errlen, "%s: zones: '%s' is forwarded twice (first at %s)",
			         zf, z->name, at);
			c.y.rc = GK_ECONFIG;
		} else if (f->line == 0)
			fail(&c, z->line, "zones: '%s' is forwarded twice (first at %s)", z->name,
			     at);
		else if (zf == ff || strcmp(zf, ff) == 0)
			fail(&c, z->line, "zones: '%s' is forwarded twice (first at line %zu)",
			     z->name, f->line);
		else
			fail(&c, z->line, "zones: '%s' is forwarded twice (first at %s:%zu)",
			     z->name, ff, f->line);
	}
	free(ix);
	return c.y.rc;
}

int gk_front_conf_pool_find(const gk_front_conf_t *fc, const char *name)
{
	for (size_t p = 0; fc != NULL && name != NULL && p < fc->n_pools; p++)
		if (strcmp(fc->pools[p].name, name) == 0)
			return (int)p;
	return -1;
}

const gk_front_pool_conf_t *gk_front_conf_lookup(const gk_front_conf_t *fc, const char *name)
{
	if (!fc)
		return NULL;
	const gk_front_zone_conf_t *best = NULL;
	size_t best_len = 0, nl = bare_len(name);
	for (size_t i = 0; i < fc->n_zones; i++) {
		const char *z = fc->zones[i].name;
		size_t zl = bare_len(z);
		if (zl == 1 && z[0] == '.')
			zl = 0; /* the root holds every name */
		bool under = zl == 0 || (zl == nl && strncasecmp(name, z, zl) == 0) ||
		             (zl < nl && name[nl - zl - 1] == '.' &&
		              strncasecmp(name + nl - zl, z, zl) == 0);
		if (under && (!best || zl > best_len)) {
			best = &fc->zones[i];
			best_len = zl;
		}
	}
	return best && best->pool < fc->n_pools ? &fc->pools[best->pool] : NULL;
}

int gk_front_conf_fzones(const gk_front_conf_t *conf, gk_fzones_t **out)
{
	*out = NULL;
	if (conf == NULL || conf->n_zones == 0)
		return 0;
	gk_fzones_t *t = NULL;
	int rc = gk_pkt_fzones_new(conf->n_zones, &t);
	for (size_t i = 0; i < conf->n_zones && rc == 0; i++)
		rc = gk_pkt_fzones_add(t, conf->zones[i].name, (uint16_t)conf->zones[i].pool);
	if (rc != 0) {
		gk_pkt_fzones_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void gk_front_conf_free(gk_front_conf_t *fc)
{
	if (!fc)
		return;
	for (size_t i = 0; i < fc->n_pools; i++)
		pool_free(&fc->pools[i]);
	free(fc->pools);
	for (size_t i = 0; i < fc->n_zones; i++) {
		free(fc->zones[i].name);
		free(fc->zones[i].pool_name);
		if (fc->zones[i].file_owned)
			free((char *)fc->zones[i].file);
	}
	free(fc->zones);
	free(fc);
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool pool_eq(const gk_front_pool_conf_t *a, const gk_front_pool_conf_t *b)
{
	if (!str_eq(a->name, b->name) || a->n_backends != b->n_backends ||
	    a->health.max_outstanding != b->health.max_outstanding ||
	    a->health.down_after != b->health.down_after ||
	    a->health.up_after != b->health.up_after || a->timeout_ms != b->timeout_ms ||
	    a->retries != b->retries || !str_eq(a->check_name, b->check_name) ||
	    a->check_interval_ms != b->check_interval_ms || a->cache_size != b->cache_size ||
	    a->tc != b->tc || a->no_backend != b->no_backend || a->ecs != b->ecs ||
	    a->proxy != b->proxy || a->ecs_v4 != b->ecs_v4 || a->ecs_v6 != b->ecs_v6 ||
	    a->ecs_client != b->ecs_client)
		return false;
	for (size_t i = 0; i < a->n_backends; i++)
		if (strcmp(a->backends[i].name, b->backends[i].name) != 0 ||
		    a->backends[i].weight != b->backends[i].weight)
			return false;
	return true;
}

int gk_front_conf_same_pools(const gk_front_conf_t *run, const gk_front_conf_t *next,
                             const char *path, char *err, size_t errlen)
{
	struct pc c = {.y = {.path = path, .err = err, .errlen = errlen}};
	size_t nr = gk_front_conf_forwards(run) ? run->n_pools : 0;
	size_t nn = gk_front_conf_forwards(next) ? next->n_pools : 0;
	bool same = nr == nn;
	for (size_t i = 0; same && i < nn; i++)
		same = pool_eq(&run->pools[i], &next->pools[i]);
	if (same)
		return 0;
	return fail(&c, next && next->pools_line ? next->pools_line : 1,
	            "pools: %s since start: backend pools (and forwarding itself) change with a "
	            "restart; the running configuration is kept",
	            nn ? "changed" : "removed");
}
