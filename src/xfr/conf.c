/* SPDX-License-Identifier: MIT */
/* src/xfr/conf.c -- parse the `secondary:` config section (conf.h).
 *
 * Keys come first (zones and templates name them), then templates, then zones, whatever
 * their order in the file. A secret file must be a regular file that group and others cannot
 * read, like ssh's private keys: a secret anyone on the host can read is no secret.
 */
#include "common/chroot.h"
#include "xfr/conf.h"

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

#include "common/file.h"
#include "common/sockaddr.h"

struct pc {
	const char *path, *dir;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	int rc;
	gk_xfr_conf_t *conf;
};

__attribute__((format(printf, 3, 4))) static int fail(struct pc *c, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
	if (c->rc != 0)
		return c->rc;
	c->rc = GK_ECONFIG;
	int k = snprintf(c->err, c->errlen, "%s:%zu: ", c->path, n ? n->start_mark.line + 1 : 0);
	if (k < 0 || (size_t)k >= c->errlen)
		return c->rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return c->rc;
}

static const char *str(yaml_node_t *n)
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
		return fail(c, v, "%s: expected a non-empty string", what);
	*out = s;
	return 0;
}

static int get_num(struct pc *c, const char *what, yaml_node_t *v, unsigned long long min,
                   unsigned long long max, unsigned long long *out)
{
	const char *s = str(v);
	char *end = NULL;
	if (!s || !isdigit((unsigned char)*s))
		return fail(c, v, "%s: expected an integer", what);
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || x < min || x > max)
		return fail(c, v, "%s: '%s' is out of range %llu..%llu", what, s, min, max);
	*out = x;
	return 0;
}

static char *resolve(struct pc *c, const char *p)
{
	if (p[0] == '/' || !c->dir[0])
		return strdup(gk_chroot_strip(p)); /* chrooted: DIR/x is /x (common/chroot.h) */
	char *r = NULL;
	return asprintf(&r, "%s/%s", c->dir, p) < 0 ? NULL : r;
}

static int parse_key(struct pc *c, yaml_node_t *m, gk_tsig_key_t *k)
{
	const char *name = NULL, *alg = NULL, *secret = NULL, *file = NULL;
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.tsig_keys: expected {name, algorithm, secret}");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "name"))
			get_str(c, "secondary.tsig_keys.name", v, &name);
		else if (!strcmp(key, "algorithm"))
			get_str(c, "secondary.tsig_keys.algorithm", v, &alg);
		else if (!strcmp(key, "secret"))
			get_str(c, "secondary.tsig_keys.secret", v, &secret);
		else if (!strcmp(key, "secret_file"))
			get_str(c, "secondary.tsig_keys.secret_file", v, &file);
		else
			return fail(
			    c, kn,
			    "secondary.tsig_keys: unknown key '%s' (expected name, algorithm, "
			    "secret, secret_file)",
			    key);
		if (c->rc)
			return c->rc;
	}
	if (!name || !alg || (!secret == !file))
		return fail(c, m,
		            "secondary.tsig_keys: needs name, algorithm and one of secret, "
		            "secret_file");
	char *buf = NULL;
	if (file) {
		char *fp = resolve(c, file);
		struct stat st;
		size_t len = 0;
		if (!fp)
			return c->rc = GK_ENOMEM;
		int e = stat(fp, &st) != 0 ? -errno : gk_read_file(fp, 1 << 20, &buf, &len);
		if (e != 0) {
			fail(c, m, "secondary.tsig_keys: %s: cannot read (%s)", fp, gk_strerror(e));
			free(fp);
			return c->rc = GK_EIO;
		}
		if (st.st_mode & 077) {
			fail(c, m,
			     "secondary.tsig_keys: %s: readable by group or others (chmod 600)",
			     fp);
			free(fp);
			free(buf);
			return c->rc;
		}
		free(fp);
		while (len > 0 && isspace((unsigned char)buf[len - 1]))
			buf[--len] = 0;
		secret = buf;
	}
	int rc = gk_tsig_key_init(k, name, alg, secret);
	if (buf) {
		memset(buf, 0, strlen(buf));
		free(buf);
	}
	if (rc != 0)
		return fail(c, m,
		            "secondary.tsig_keys: key '%s': bad name, unknown algorithm '%s' "
		            "(hmac-sha256, hmac-sha512, hmac-sha1) or secret not base64",
		            name, alg);
	for (size_t i = 0; i + 1 < c->conf->n_keys; i++)
		if (c->conf->keys[i].name_len == k->name_len &&
		    !memcmp(c->conf->keys[i].name, k->name, k->name_len))
			return fail(c, m, "secondary.tsig_keys: duplicate key '%s'", name);
	return 0;
}

static const gk_tsig_key_t *find_key(struct pc *c, const char *name)
{
	gk_tsig_key_t tmp;
	if (gk_tsig_key_init(&tmp, name, "hmac-sha256", "AAAA") != 0)
		return NULL;
	for (size_t i = 0; i < c->conf->n_keys; i++)
		if (c->conf->keys[i].name_len == tmp.name_len &&
		    !memcmp(c->conf->keys[i].name, tmp.name, tmp.name_len))
			return &c->conf->keys[i];
	return NULL;
}

static int parse_addr(const char *s, gk_xfr_primary_conf_t *p)
{
	gk_sockaddr_t l;
	char buf[80];
	if (gk_sockaddr_parse(s, &l) != 0) {
		/* no port: 53 */
		if (strchr(s, ':') && s[0] != '[')
			snprintf(buf, sizeof(buf), "[%s]:53", s);
		else
			snprintf(buf, sizeof(buf), "%s:53", s);
		if (gk_sockaddr_parse(buf, &l) != 0)
			return GK_EINVAL;
	}
	memcpy(&p->addr, &l.addr, sizeof(p->addr));
	snprintf(p->text, sizeof(p->text), "%s", l.text);
	return 0;
}

static int parse_primaries(struct pc *c, const char *what, yaml_node_t *v, gk_xfr_template_t *z)
{
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start)
		return fail(c, v, "%s.primaries: expected a list of addresses", what);
	z->n_primaries = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = node(c, *it);
		if (z->n_primaries == GK_XFR_PRIMARIES_MAX)
			return fail(c, e, "%s.primaries: at most %d", what, GK_XFR_PRIMARIES_MAX);
		gk_xfr_primary_conf_t *p = &z->primaries[z->n_primaries];
		memset(p, 0, sizeof(*p));
		const char *addr = str(e), *key = NULL;
		if (e->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *q = e->data.mapping.pairs.start;
			     q < e->data.mapping.pairs.top; q++) {
				const char *k = str(node(c, q->key));
				k = k ? k : "";
				if (!strcmp(k, "address"))
					addr = str(node(c, q->value));
				else if (!strcmp(k, "key"))
					key = str(node(c, q->value));
				else
					return fail(
					    c, node(c, q->key),
					    "%s.primaries: unknown key '%s' (expected address, "
					    "key)",
					    what, k);
			}
		}
		if (!addr || parse_addr(addr, p) != 0)
			return fail(c, e, "%s.primaries: '%s' is not ADDRESS[:PORT] ([IPv6]:PORT)",
			            what, addr ? addr : "");
		if (key && !(p->key = find_key(c, key)))
			return fail(c, e, "%s.primaries: no TSIG key '%s' in secondary.tsig_keys",
			            what, key);
		z->n_primaries++;
	}
	return 0;
}

static int parse_template(struct pc *c, yaml_node_t *m, gk_xfr_template_t *t)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.templates: expected {id, primaries}");
	bool have = false;
	const char *id = NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "id"))
			get_str(c, "secondary.templates.id", v, &id);
		else if (!strcmp(key, "primaries"))
			have = parse_primaries(c, "secondary.templates", v, t) == 0;
		else
			return fail(
			    c, kn, "secondary.templates: unknown key '%s' (expected id, primaries)",
			    key);
		if (c->rc)
			return c->rc;
	}
	if (!id || !have)
		return fail(c, m, "secondary.templates: needs id and primaries");
	for (size_t i = 0; i + 1 < c->conf->n_templates; i++)
		if (!strcmp(c->conf->templates[i].id, id))
			return fail(c, m, "secondary.templates: duplicate id '%s'", id);
	return (t->id = strdup(id)) ? 0 : (c->rc = GK_ENOMEM);
}

const gk_xfr_template_t *gk_xfr_conf_template(const gk_xfr_conf_t *c, const char *id)
{
	for (size_t i = 0; c && id && i < c->n_templates; i++)
		if (c->templates[i].id && !strcmp(c->templates[i].id, id))
			return &c->templates[i];
	return NULL;
}

/* Same domain name, case and a trailing dot aside. */
static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	la -= la > 1 && a[la - 1] == '.';
	lb -= lb > 1 && b[lb - 1] == '.';
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int parse_zone(struct pc *c, yaml_node_t *m, gk_xfr_zone_conf_t *z)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.zones: expected {name, primaries or template}");
	const char *name = NULL, *tid = NULL, *mtid = NULL, *cat = NULL;
	bool have = false;
	gk_xfr_template_t own = {0};
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "name"))
			get_str(c, "secondary.zones.name", v, &name);
		else if (!strcmp(key, "template"))
			get_str(c, "secondary.zones.template", v, &tid);
		else if (!strcmp(key, "member_template"))
			get_str(c, "secondary.zones.member_template", v, &mtid);
		else if (!strcmp(key, "catalog")) {
			if (get_str(c, "secondary.zones.catalog", v, &cat) == 0 &&
			    strcmp(cat, "true") && strcmp(cat, "false"))
				fail(c, v, "secondary.zones.catalog: expected true or false");
		} else if (!strcmp(key, "primaries"))
			have = parse_primaries(c, "secondary.zones", v, &own) == 0;
		else
			return fail(c, kn,
			            "secondary.zones: unknown key '%s' (expected name, primaries, "
			            "template, catalog, member_template)",
			            key);
		if (c->rc)
			return c->rc;
	}
	if (!name)
		return fail(c, m, "secondary.zones: entry has no 'name'");
	if (have == (tid != NULL))
		return fail(c, m, "secondary.zones: '%s' needs one of primaries, template", name);
	z->catalog = cat && !strcmp(cat, "true");
	if (mtid && !z->catalog)
		return fail(c, m, "secondary.zones: '%s': member_template without catalog: true",
		            name);
	if (mtid && !(z->member_template = gk_xfr_conf_template(c->conf, mtid)))
		return fail(c, m, "secondary.zones: '%s': no template '%s'", name, mtid);
	const gk_xfr_template_t *t = tid ? gk_xfr_conf_template(c->conf, tid) : &own;
	if (!t)
		return fail(c, m, "secondary.zones: '%s': no template '%s'", name, tid);
	memcpy(z->primaries, t->primaries, sizeof(z->primaries));
	z->n_primaries = t->n_primaries;
	gk_tsig_key_t probe; /* the name must be a domain name */
	if (gk_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return fail(c, m, "secondary.zones: '%s' is not a domain name", name);
	for (size_t i = 0; i + 1 < c->conf->n_zones; i++) {
		if (same_name(c->conf->zones[i].name, name))
			return fail(c, m, "secondary.zones: duplicate zone '%s'", name);
	}
	z->line = m->start_mark.line + 1;
	return (z->name = strdup(name)) ? 0 : (c->rc = GK_ENOMEM);
}

static yaml_node_t *seq(struct pc *c, yaml_node_t *v, const char *what, size_t *n)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		fail(c, v, "secondary.%s: expected a list", what);
		return NULL;
	}
	*n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	return v;
}

int gk_xfr_conf_parse(const char *path, const char *dir, yaml_document_t *doc, yaml_node_t *nd,
                      gk_xfr_conf_t **out, char *err, size_t errlen)
{
	struct pc c = {.path = path, .dir = dir, .doc = doc, .err = err, .errlen = errlen};
	yaml_node_t *keys = NULL, *tmpls = NULL, *zones = NULL;
	const char *directory = NULL;
	unsigned long long u;
	size_t nk = 0, nz = 0, nt = 0;
	if (!(c.conf = calloc(1, sizeof(*c.conf))))
		return GK_ENOMEM;
	gk_xfr_conf_t *x = c.conf;
	x->timeout_ms = 10000;
	x->max_transfers = 8;
	x->max_zone_bytes = 64u << 20;
	x->max_zone_records = 1000000;
	if (nd->type != YAML_MAPPING_NODE) {
		fail(&c, nd, "secondary: expected a mapping");
		goto done;
	}
	for (yaml_node_pair_t *p = nd->data.mapping.pairs.start;
	     p < nd->data.mapping.pairs.top && !c.rc; p++) {
		yaml_node_t *kn = node(&c, p->key), *v = node(&c, p->value);
		const char *key = str(kn) ? str(kn) : "";
		if (!strcmp(key, "directory"))
			get_str(&c, "secondary.directory", v, &directory);
		else if (!strcmp(key, "timeout_ms")) {
			if (get_num(&c, "secondary.timeout_ms", v, 100, 600000, &u) == 0)
				x->timeout_ms = (unsigned)u;
		} else if (!strcmp(key, "max_transfers")) {
			if (get_num(&c, "secondary.max_transfers", v, 1, 1024, &u) == 0)
				x->max_transfers = (unsigned)u;
		} else if (!strcmp(key, "max_zone_bytes")) {
			if (get_num(&c, "secondary.max_zone_bytes", v, 1024, 1ull << 34, &u) == 0)
				x->max_zone_bytes = (size_t)u;
		} else if (!strcmp(key, "max_zone_records")) {
			if (get_num(&c, "secondary.max_zone_records", v, 2, 100000000, &u) == 0)
				x->max_zone_records = (size_t)u;
		} else if (!strcmp(key, "tsig_keys"))
			keys = seq(&c, v, "tsig_keys", &nk);
		else if (!strcmp(key, "templates"))
			tmpls = seq(&c, v, "templates", &nt);
		else if (!strcmp(key, "zones"))
			zones = seq(&c, v, "zones", &nz);
		else
			fail(&c, kn,
			     "secondary: unknown key '%s' (expected directory, timeout_ms, "
			     "max_transfers, max_zone_bytes, max_zone_records, tsig_keys, "
			     "templates, "
			     "zones)",
			     key);
	}
	if (c.rc)
		goto done;
	if (!directory) {
		fail(&c, nd, "secondary: missing required key 'directory' (where zones are kept)");
		goto done;
	}
	x->keys = calloc(nk + 1, sizeof(*x->keys));
	x->zones = calloc(nz + 1, sizeof(*x->zones));
	x->templates = calloc(nt + 1, sizeof(*x->templates));
	if (!(x->directory = resolve(&c, directory)) || !x->keys || !x->zones || !x->templates) {
		c.rc = GK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < nk && !c.rc; i++) {
		x->n_keys++;
		parse_key(&c, node(&c, keys->data.sequence.items.start[i]), &x->keys[i]);
	}
	for (size_t i = 0; i < nt && !c.rc; i++) {
		x->n_templates++;
		parse_template(&c, node(&c, tmpls->data.sequence.items.start[i]), &x->templates[i]);
	}
	for (size_t i = 0; i < nz && !c.rc; i++) {
		x->n_zones++;
		parse_zone(&c, node(&c, zones->data.sequence.items.start[i]), &x->zones[i]);
	}
done:
	if (c.rc) {
		gk_xfr_conf_free(x);
		return c.rc;
	}
	*out = x;
	return 0;
}

void gk_xfr_conf_free(gk_xfr_conf_t *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n_zones; i++)
		free(x->zones[i].name);
	free(x->zones);
	for (size_t i = 0; i < x->n_templates; i++)
		free(x->templates[i].id);
	free(x->templates);
	if (x->keys)
		memset(x->keys, 0, x->n_keys * sizeof(*x->keys));
	free(x->keys);
	free(x->directory);
	free(x);
}

static bool same_key(const gk_tsig_key_t *a, const gk_tsig_key_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->name_len == b->name_len && !memcmp(a->name, b->name, a->name_len) &&
	       a->alg == b->alg && a->secret_len == b->secret_len &&
	       !memcmp(a->secret, b->secret, a->secret_len);
}

static bool same_primaries(const gk_xfr_primary_conf_t *a, size_t na,
                           const gk_xfr_primary_conf_t *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t k = 0; k < na; k++) {
		const gk_xfr_primary_conf_t *p = &a[k], *q = &b[k];
		size_t al = p->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
		                                         : sizeof(struct sockaddr_in6);
		if (p->addr.ss_family != q->addr.ss_family || memcmp(&p->addr, &q->addr, al) ||
		    !same_key(p->key, q->key))
			return false;
	}
	return true;
}

bool gk_xfr_conf_equal(const gk_xfr_conf_t *a, const gk_xfr_conf_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (strcmp(a->directory, b->directory) || a->timeout_ms != b->timeout_ms ||
	    a->max_transfers != b->max_transfers || a->max_zone_bytes != b->max_zone_bytes ||
	    a->max_zone_records != b->max_zone_records || a->n_keys != b->n_keys ||
	    a->n_zones != b->n_zones)
		return false;
	/* templates matter beyond the zones that name them only to catalogs' members */
	bool cats = false;
	for (size_t i = 0; i < a->n_zones; i++)
		cats = cats || a->zones[i].catalog || b->zones[i].catalog;
	if (cats && a->n_templates != b->n_templates)
		return false;
	for (size_t i = 0; cats && i < a->n_templates; i++)
		if (strcmp(a->templates[i].id, b->templates[i].id) ||
		    !same_primaries(a->templates[i].primaries, a->templates[i].n_primaries,
		                    b->templates[i].primaries, b->templates[i].n_primaries))
			return false;
	for (size_t i = 0; i < a->n_keys; i++)
		if (!same_key(&a->keys[i], &b->keys[i]))
			return false;
	for (size_t i = 0; i < a->n_zones; i++) {
		const gk_xfr_zone_conf_t *x = &a->zones[i], *y = &b->zones[i];
		const char *xm = x->member_template ? x->member_template->id : "";
		const char *ym = y->member_template ? y->member_template->id : "";
		if (strcmp(x->name, y->name) || x->catalog != y->catalog || strcmp(xm, ym) ||
		    !same_primaries(x->primaries, x->n_primaries, y->primaries, y->n_primaries))
			return false;
	}
	return true;
}
