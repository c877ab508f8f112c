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

struct pc {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	int rc;
};

__attribute__((format(printf, 3, 4))) static int fail(struct pc *c, size_t line, const char *fmt,
                                                      ...)
{
	if (c->rc != 0)
		return c->rc;
	c->rc = GK_ECONFIG;
	int k = snprintf(c->err, c->errlen, "%s:%zu: ", c->path, line);
	if (k < 0 || (size_t)k >= c->errlen)
		return c->rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return c->rc;
}

static size_t line_of(const yaml_node_t *n)
{
	return n ? n->start_mark.line + 1 : 0;
}

static const char *str(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct pc *c, int i)
{
	return yaml_document_get_node(c->doc, i);
}

static int get_str(struct pc *c, const char *what, yaml_node_t *v, const char **out)
{
	const char *s = str(v);
	if (!s || !*s)
		return fail(c, line_of(v), "%s: expected a non-empty string", what);
	*out = s;
	return 0;
}

static int get_num(struct pc *c, const char *what, yaml_node_t *v, unsigned min, unsigned max,
                   unsigned *out)
{
	const char *s = str(v);
	char *end = NULL;
	if (!s || !isdigit((unsigned char)*s))
		return fail(c, line_of(v), "%s: expected an integer", what);
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || x < min || x > max)
		return fail(c, line_of(v), "%s: '%s' is out of range %u..%u", what, s, min, max);
	*out = (unsigned)x;
	return 0;
}

static int parse_backend(struct pc *c, yaml_node_t *v, gk_fbackend_conf_t *b)
{
	const char *addr = NULL;
	yaml_node_t *at = v;
	b->weight = 1;
	if (v->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top && c->rc == 0; p++) {
			yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
			const char *key = str(kn) ? str(kn) : "";
			if (!strcmp(key, "address")) {
				at = vn;
				get_str(c, "pools.backends.address", vn, &addr);
			} else if (!strcmp(key, "weight"))
				get_num(c, "pools.backends.weight", vn, 1, 1000, &b->weight);
			else
				fail(c, line_of(kn),
				     "pools.backends: unknown key '%s' (expected address, weight)",
				     key);
		}
		if (c->rc == 0 && !addr)
			fail(c, line_of(v), "pools.backends: entry has no 'address'");
	} else
		get_str(c, "pools.backends", v, &addr);
	if (c->rc)
		return c->rc;
	gk_sockaddr_t l;
	if (gk_sockaddr_parse(addr, &l) != 0)
		return fail(c, line_of(at),
		            "pools.backends: '%s' is not \"IPv4:PORT\" or \"[IPv6]:PORT\"", addr);
	b->addr = l.addr;
	b->addrlen = l.addrlen;
	snprintf(b->name, sizeof(b->name), "%s", addr);
	return 0;
}

static int parse_backends(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, line_of(v), "pools.backends: expected a list of addresses");
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > GK_FPOOL_BACKENDS_MAX)
		return fail(c, line_of(v), "pools.backends: %zu backends, expected 1..%u", n,
		            GK_FPOOL_BACKENDS_MAX);
	free(pl->backends);
	pl->backends = calloc(n, sizeof(*pl->backends));
	if (!pl->backends)
		return c->rc = GK_ENOMEM;
	pl->n_backends = n;
	for (size_t i = 0; i < n && c->rc == 0; i++)
		parse_backend(c, node(c, v->data.sequence.items.start[i]), &pl->backends[i]);
	for (size_t i = 0; i < n && c->rc == 0; i++)
		for (size_t j = 0; j < i; j++)
			if (pl->backends[i].addrlen == pl->backends[j].addrlen &&
			    !memcmp(&pl->backends[i].addr, &pl->backends[j].addr,
			            pl->backends[i].addrlen))
				return fail(c, line_of(node(c, v->data.sequence.items.start[i])),
				            "pools.backends: '%s' is listed twice",
				            pl->backends[i].name);
	return c->rc;
}

static int parse_check(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, line_of(v),
		            "pools.check: expected {name, interval_ms, down_after, up_after}");
	const char *name = NULL;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top && c->rc == 0; p++) {
		yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "name"))
			get_str(c, "pools.check.name", vn, &name);
		else if (!strcmp(key, "interval_ms"))
			get_num(c, "pools.check.interval_ms", vn, 100, 3600000,
			        &pl->check_interval_ms);
		else if (!strcmp(key, "down_after"))
			get_num(c, "pools.check.down_after", vn, 1, 100, &pl->health.down_after);
		else if (!strcmp(key, "up_after"))
			get_num(c, "pools.check.up_after", vn, 1, 100, &pl->health.up_after);
		else
			fail(c, line_of(kn),
			     "pools.check: unknown key '%s' (expected name, interval_ms, "
			     "down_after, up_after)",
			     key);
	}
	if (c->rc)
		return c->rc;
	if (!name)
		return fail(c, line_of(v), "pools.check: missing required key 'name'");
	if (strlen(name) > 253)
		return fail(c, line_of(v), "pools.check.name: longer than 253 octets");
	if (!(pl->check_name = strdup(name)))
		return c->rc = GK_ENOMEM;
	return 0;
}

/* ecs: {ipv4: 0..32, ipv6: 0..128} */
static int parse_ecs(struct pc *c, yaml_node_t *v, gk_front_pool_conf_t *pl)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, line_of(v), "pools.ecs: expected {ipv4, ipv6}");
	pl->ecs = true;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top && c->rc == 0; p++) {
		yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "ipv4"))
			get_num(c, "pools.ecs.ipv4", vn, 0, 32, &pl->ecs_v4);
		else if (!strcmp(key, "ipv6"))
			get_num(c, "pools.ecs.ipv6", vn, 0, 128, &pl->ecs_v6);
		else
			fail(c, line_of(kn), "pools.ecs: unknown key '%s' (expected ipv4, ipv6)",
			     key);
	}
	return c->rc;
}

static int visit_pool(struct pc *c, yaml_node_t *kn, yaml_node_t *vn, gk_front_pool_conf_t *pl,
                      bool *have_backends)
{
	const char *key = str(kn) ? str(kn) : "";
	const char *s = NULL;
	if (!strcmp(key, "name")) {
		if (get_str(c, "pools.name", vn, &s) == 0) {
			free(pl->name); /* a key given twice: the last one counts */
			if (!(pl->name = strdup(s)))
				c->rc = GK_ENOMEM;
		}
	} else if (!strcmp(key, "backends")) {
		*have_backends = true;
		parse_backends(c, vn, pl);
	} else if (!strcmp(key, "timeout_ms"))
		get_num(c, "pools.timeout_ms", vn, 100, 60000, &pl->timeout_ms);
	else if (!strcmp(key, "retries"))
		get_num(c, "pools.retries", vn, 0, 8, &pl->retries);
	else if (!strcmp(key, "max_outstanding"))
		get_num(c, "pools.max_outstanding", vn, 1, 65535, &pl->health.max_outstanding);
	else if (!strcmp(key, "check"))
		parse_check(c, vn, pl);
	else if (!strcmp(key, "cache_size"))
		get_num(c, "pools.cache_size", vn, 0, 16777216, &pl->cache_size);
	else if (!strcmp(key, "tc")) {
		if (get_str(c, "pools.tc", vn, &s) == 0) {
			if (!strcmp(s, "retry-tcp"))
				pl->tc = GK_FRONT_TC_RETRY_TCP;
			else if (!strcmp(s, "pass"))
				pl->tc = GK_FRONT_TC_PASS;
			else
				fail(c, line_of(vn), "pools.tc: '%s' is not one of retry-tcp, pass",
				     s);
		}
	} else if (!strcmp(key, "no_backend")) {
		if (get_str(c, "pools.no_backend", vn, &s) == 0 && strcmp(s, "servfail") != 0)
			fail(c, line_of(vn), "pools.no_backend: '%s' is not servfail", s);
	} else if (!strcmp(key, "ecs"))
		parse_ecs(c, vn, pl);
	else if (!strcmp(key, "proxy_protocol")) {
		if (get_str(c, "pools.proxy_protocol", vn, &s) == 0) {
			if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
				pl->proxy = true;
			else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
				pl->proxy = false;
			else
				fail(c, line_of(vn),
				     "pools.proxy_protocol: '%s' is not true or false", s);
		}
	} else
		fail(c, line_of(kn),
		     "pools: unknown key '%s' (expected name, backends, timeout_ms, retries, "
		     "max_outstanding, check, cache_size, tc, no_backend, ecs, proxy_protocol)",
		     key);
	return c->rc;
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
	struct pc c = {.path = path, .doc = doc, .err = err, .errlen = errlen};
	gk_front_conf_t *fc = conf_get(conf);
	if (!fc)
		return GK_ENOMEM;
	fc->pools_line = line_of(n);
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(&c, line_of(n), "pools: expected a list of {name, backends, ...}");
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > GK_FRONT_POOLS_MAX)
		return fail(&c, line_of(n), "pools: %zu pools, at most %u", cnt,
		            GK_FRONT_POOLS_MAX);
	if (fc->n_pools)
		return fail(&c, line_of(n), "pools: given twice");
	fc->pools = calloc(cnt ? cnt : 1, sizeof(*fc->pools));
	if (!fc->pools)
		return GK_ENOMEM;
	for (size_t i = 0; i < cnt && c.rc == 0; i++) {
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
		    .line = line_of(it),
		};
		if (it->type != YAML_MAPPING_NODE) {
			fail(&c, line_of(it), "pools: expected {name, backends, ...}");
			break;
		}
		bool have_backends = false;
		for (yaml_node_pair_t *p = it->data.mapping.pairs.start;
		     p < it->data.mapping.pairs.top && c.rc == 0; p++)
			visit_pool(&c, node(&c, p->key), node(&c, p->value), pl, &have_backends);
		if (c.rc)
			break;
		if (!pl->name)
			fail(&c, pl->line, "pools: entry has no 'name'");
		else if (!have_backends)
			fail(&c, pl->line, "pools: '%s' has no 'backends'", pl->name);
		for (size_t j = 0; j + 1 < fc->n_pools && c.rc == 0; j++)
			if (!strcmp(fc->pools[j].name, pl->name))
				fail(&c, pl->line,
				     "pools: '%s' is defined twice (first at line %zu)", pl->name,
				     fc->pools[j].line);
	}
	return c.rc;
}

int gk_front_conf_zone_add(gk_front_conf_t **conf, const char *name, const char *pool, size_t line)
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
	*z = (gk_front_zone_conf_t){.name = strdup(name), .pool_name = strdup(pool), .line = line};
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

int gk_front_conf_check(gk_front_conf_t *fc, const char *path, char *err, size_t errlen)
{
	struct pc c = {.path = path, .err = err, .errlen = errlen};
	if (!fc)
		return 0;
	for (size_t i = 0; i < fc->n_zones && c.rc == 0; i++) {
		gk_front_zone_conf_t *z = &fc->zones[i];
		size_t p = 0;
		while (p < fc->n_pools && strcmp(fc->pools[p].name, z->pool_name) != 0)
			p++;
		if (p == fc->n_pools)
			fail(&c, z->line, "zones.forward: no pool named '%s' in pools",
			     z->pool_name);
		z->pool = p;
		uint8_t wire[GK_DNAME_MAX];
		/* "" is the root, as "." is (gk_fzones_add) */
		if (c.rc == 0 && *z->name != '\0' &&
		    gk_dname_from_text(z->name, strlen(z->name), wire, 0) == 0)
			fail(&c, z->line, "zones: '%s' is not a domain name", z->name);
		for (size_t j = 0; j < i && c.rc == 0; j++)
			if (same_name(fc->zones[j].name, z->name))
				fail(&c, z->line,
				     "zones: '%s' is forwarded twice (first at line %zu)", z->name,
				     fc->zones[j].line);
	}
	return c.rc;
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
	int rc = gk_fzones_new(conf->n_zones, &t);
	for (size_t i = 0; i < conf->n_zones && rc == 0; i++)
		rc = gk_fzones_add(t, conf->zones[i].name, (uint16_t)conf->zones[i].pool);
	if (rc != 0) {
		gk_fzones_free(t);
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
	    a->proxy != b->proxy || a->ecs_v4 != b->ecs_v4 || a->ecs_v6 != b->ecs_v6)
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
	struct pc c = {.path = path, .err = err, .errlen = errlen};
	size_t nr = run && run->n_zones ? run->n_pools : 0;
	size_t nn = next && next->n_zones ? next->n_pools : 0;
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
