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
#include "common/yamlwalk.h"

struct pc {
	gk_yaml_t y; /* the document, the file named in messages, the first error */
	const char *dir;
	gk_xfr_conf_t *conf;
};

__attribute__((format(printf, 3, 4))) static int fail(struct pc *c, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return gk_yaml_fail(&c->y, GK_ECONFIG, n ? gk_yaml_line(n) : 0, "%s", msg);
}

static yaml_node_t *node(struct pc *c, int i)
{
	return yaml_document_get_node(c->y.doc, i);
}

static char *resolve(const struct pc *c, const char *p)
{
	if (p[0] == '/' || !c->dir[0])
		return strdup(gk_chroot_strip(p)); /* chrooted: DIR/x is /x (common/chroot.h) */
	char *r = NULL;
	return asprintf(&r, "%s/%s", c->dir, p) < 0 ? NULL : r;
}

struct key_in {
	struct pc *c;
	const char *name, *alg, *secret, *file;
};

static int visit_key(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct key_in *k = arg;
	if (!strcmp(key, "name"))
		return gk_yaml_string(y, "secondary.tsig_keys.name", v, &k->name);
	if (!strcmp(key, "algorithm"))
		return gk_yaml_string(y, "secondary.tsig_keys.algorithm", v, &k->alg);
	if (!strcmp(key, "secret"))
		return gk_yaml_string(y, "secondary.tsig_keys.secret", v, &k->secret);
	if (!strcmp(key, "secret_file"))
		return gk_yaml_string(y, "secondary.tsig_keys.secret_file", v, &k->file);
	return fail(k->c, kn,
	            "secondary.tsig_keys: unknown key '%s' (expected name, algorithm, secret, "
	            "secret_file)",
	            key);
}

static int parse_key(struct pc *c, yaml_node_t *m, gk_tsig_key_t *k)
{
	struct key_in in = {.c = c};
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.tsig_keys: expected {name, algorithm, secret}");
	if (gk_yaml_walk_map(&c->y, "secondary.tsig_keys", m, visit_key, &in) != 0)
		return c->y.rc;
	const char *name = in.name, *alg = in.alg, *secret = in.secret, *file = in.file;
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
			return c->y.rc = GK_ENOMEM;
		int e = stat(fp, &st) != 0 ? -errno : gk_file_read(fp, 1 << 20, &buf, &len);
		if (e != 0) {
			gk_yaml_fail(&c->y, GK_EIO, gk_yaml_line(m),
			             "secondary.tsig_keys: %s: cannot read (%s)", fp,
			             gk_strerror(e));
			free(fp);
			return c->y.rc;
		}
		if (st.st_mode & 077) {
			fail(c, m,
			     "secondary.tsig_keys: %s: readable by group or others (chmod 600)",
			     fp);
			free(fp);
			free(buf);
			return c->y.rc;
		}
		free(fp);
		while (len > 0 && isspace((unsigned char)buf[len - 1]))
			buf[--len] = 0;
		secret = buf;
	}
	int rc = gk_xfr_tsig_key_init(k, name, alg, secret);
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
	if (gk_xfr_tsig_key_init(&tmp, name, "hmac-sha256", "AAAA") != 0)
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

struct primary_in {
	struct pc *c;
	const char *what, *addr, *key;
};

static int visit_primary(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct primary_in *p = arg;
	char what[64];
	snprintf(what, sizeof(what), "%s.primaries.%s", p->what, key);
	if (!strcmp(key, "address"))
		return gk_yaml_string(y, what, v, &p->addr);
	if (!strcmp(key, "key"))
		return gk_yaml_string(y, what, v, &p->key);
	return fail(p->c, kn, "%s.primaries: unknown key '%s' (expected address, key)", p->what,
	            key);
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
		struct primary_in in = {.c = c, .what = what};
		if (e->type == YAML_MAPPING_NODE) {
			if (gk_yaml_walk_map(&c->y, what, e, visit_primary, &in) != 0)
				return c->y.rc;
		} else if (e->type == YAML_SCALAR_NODE) {
			in.addr = gk_yaml_scalar(e);
		}
		if (!in.addr || parse_addr(in.addr, p) != 0)
			return fail(c, e, "%s.primaries: '%s' is not ADDRESS[:PORT] ([IPv6]:PORT)",
			            what, in.addr ? in.addr : "");
		if (in.key && !(p->key = find_key(c, in.key)))
			return fail(c, e, "%s.primaries: no TSIG key '%s' in secondary.tsig_keys",
			            what, in.key);
		z->n_primaries++;
	}
	return 0;
}

struct tmpl_in {
	struct pc *c;
	gk_xfr_template_t *t;
	const char *id, *forward;
	bool have;
};

static int visit_template(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct tmpl_in *in = arg;
	if (!strcmp(key, "id"))
		return gk_yaml_string(y, "secondary.templates.id", v, &in->id);
	if (!strcmp(key, "primaries")) {
		int rc = parse_primaries(in->c, "secondary.templates", v, in->t);
		in->have = rc == 0;
		return rc;
	}
	if (!strcmp(key, "forward"))
		return gk_yaml_string(y, "secondary.templates.forward", v, &in->forward);
	return fail(in->c, kn,
	            "secondary.templates: unknown key '%s' (expected id, primaries, forward)", key);
}

static int parse_template(struct pc *c, yaml_node_t *m, gk_xfr_template_t *t)
{
	t->pool = -1;
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.templates: expected {id, primaries or forward}");
	struct tmpl_in in = {.c = c, .t = t};
	if (gk_yaml_walk_map(&c->y, "secondary.templates", m, visit_template, &in) != 0)
		return c->y.rc;
	if (!in.id)
		return fail(c, m, "secondary.templates: needs id and one of primaries, forward");
	if (in.have == (in.forward != NULL))
		return fail(c, m,
		            "secondary.templates: '%s' needs one of primaries, forward (a pool of "
		            "pools:): it has %s",
		            in.id, in.have ? "both" : "neither");
	for (size_t i = 0; i + 1 < c->conf->n_templates; i++)
		if (!strcmp(c->conf->templates[i].id, in.id))
			return fail(c, m, "secondary.templates: duplicate id '%s'", in.id);
	t->line = gk_yaml_line(m);
	if (in.forward && !(t->forward = strdup(in.forward)))
		return c->y.rc = GK_ENOMEM;
	return (t->id = strdup(in.id)) ? 0 : (c->y.rc = GK_ENOMEM);
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

struct zone_in {
	struct pc *c;
	const char *name, *tid, *mtid, *cat;
	bool have;
	gk_xfr_template_t own;
};

static int visit_zone(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct zone_in *in = arg;
	if (!strcmp(key, "name"))
		return gk_yaml_string(y, "secondary.zones.name", v, &in->name);
	if (!strcmp(key, "template"))
		return gk_yaml_string(y, "secondary.zones.template", v, &in->tid);
	if (!strcmp(key, "member_template"))
		return gk_yaml_string(y, "secondary.zones.member_template", v, &in->mtid);
	if (!strcmp(key, "catalog")) {
		int rc = gk_yaml_string(y, "secondary.zones.catalog", v, &in->cat);
		if (rc == 0 && strcmp(in->cat, "true") && strcmp(in->cat, "false"))
			rc = fail(in->c, v, "secondary.zones.catalog: expected true or false");
		return rc;
	}
	if (!strcmp(key, "primaries")) {
		int rc = parse_primaries(in->c, "secondary.zones", v, &in->own);
		in->have = rc == 0;
		return rc;
	}
	return fail(in->c, kn,
	            "secondary.zones: unknown key '%s' (expected name, primaries, template, "
	            "catalog, member_template)",
	            key);
}

static int parse_zone(struct pc *c, yaml_node_t *m, gk_xfr_zone_conf_t *z)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "secondary.zones: expected {name, primaries or template}");
	struct zone_in in = {.c = c};
	if (gk_yaml_walk_map(&c->y, "secondary.zones", m, visit_zone, &in) != 0)
		return c->y.rc;
	const char *name = in.name, *tid = in.tid, *mtid = in.mtid;
	if (!name)
		return fail(c, m, "secondary.zones: entry has no 'name'");
	if (in.have == (tid != NULL))
		return fail(c, m, "secondary.zones: '%s' needs one of primaries, template", name);
	z->catalog = in.cat && !strcmp(in.cat, "true");
	if (mtid && !z->catalog)
		return fail(c, m, "secondary.zones: '%s': member_template without catalog: true",
		            name);
	if (mtid && !(z->member_template = gk_xfr_conf_template(c->conf, mtid)))
		return fail(c, m, "secondary.zones: '%s': no template '%s'", name, mtid);
	const gk_xfr_template_t *t = tid ? gk_xfr_conf_template(c->conf, tid) : &in.own;
	if (!t)
		return fail(c, m, "secondary.zones: '%s': no template '%s'", name, tid);
	/* a zone of its own is transferred: forwarding is for a catalog's members (a zone
	 * to forward is a zones entry with forward) */
	if (t->forward)
		return fail(c, m,
		            "secondary.zones: '%s': template '%s' forwards (forward: %s): a "
		            "%s is transferred from primaries; only catalog members can be "
		            "forwarded (member_template, or a member's group)",
		            name, tid, t->forward, z->catalog ? "catalog" : "secondary zone");
	memcpy(z->primaries, t->primaries, sizeof(z->primaries));
	z->n_primaries = t->n_primaries;
	gk_tsig_key_t probe; /* the name must be a domain name */
	if (gk_xfr_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return fail(c, m, "secondary.zones: '%s' is not a domain name", name);
	for (size_t i = 0; i + 1 < c->conf->n_zones; i++) {
		if (same_name(c->conf->zones[i].name, name))
			return fail(c, m, "secondary.zones: duplicate zone '%s'", name);
	}
	z->line = gk_yaml_line(m);
	return (z->name = strdup(name)) ? 0 : (c->y.rc = GK_ENOMEM);
}

/* The top level's keys; the lists are parsed after it, keys before templates before zones. */
struct top_in {
	struct pc *c;
	const char *directory;
	yaml_node_t *keys, *tmpls, *zones;
};

static int list(struct pc *c, yaml_node_t *v, const char *what, yaml_node_t **out)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, v, "secondary.%s: expected a list", what);
	*out = v;
	return 0;
}

static size_t items(const yaml_node_t *v)
{
	return v ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;
}

static int visit_top(gk_yaml_t *y, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
	struct top_in *in = arg;
	gk_xfr_conf_t *x = in->c->conf;
	uint64_t u;
	int rc;
	if (!strcmp(key, "directory"))
		return gk_yaml_string(y, "secondary.directory", v, &in->directory);
	if (!strcmp(key, "timeout_ms")) {
		if ((rc = gk_yaml_u64(y, "secondary.timeout_ms", v, 100, 600000, &u)) == 0)
			x->timeout_ms = (unsigned)u;
		return rc;
	}
	if (!strcmp(key, "max_transfers")) {
		if ((rc = gk_yaml_u64(y, "secondary.max_transfers", v, 1, 1024, &u)) == 0)
			x->max_transfers = (unsigned)u;
		return rc;
	}
	if (!strcmp(key, "max_zone_bytes")) {
		if ((rc = gk_yaml_u64(y, "secondary.max_zone_bytes", v, 1024, 1ull << 34, &u)) == 0)
			x->max_zone_bytes = (size_t)u;
		return rc;
	}
	if (!strcmp(key, "max_zone_records")) {
		if ((rc = gk_yaml_u64(y, "secondary.max_zone_records", v, 2, 100000000, &u)) == 0)
			x->max_zone_records = (size_t)u;
		return rc;
	}
	if (!strcmp(key, "tsig_keys"))
		return list(in->c, v, "tsig_keys", &in->keys);
	if (!strcmp(key, "templates"))
		return list(in->c, v, "templates", &in->tmpls);
	if (!strcmp(key, "zones"))
		return list(in->c, v, "zones", &in->zones);
	return fail(in->c, kn,
	            "secondary: unknown key '%s' (expected directory, timeout_ms, max_transfers, "
	            "max_zone_bytes, max_zone_records, tsig_keys, templates, zones)",
	            key);
}

int gk_xfr_conf_parse(const char *path, const char *dir, yaml_document_t *doc, yaml_node_t *nd,
                      gk_xfr_conf_t **out, char *err, size_t errlen)
{
	struct pc c = {.y = {.doc = doc, .path = path, .err = err, .errlen = errlen}, .dir = dir};
	struct top_in in = {.c = &c};
	if (!(c.conf = calloc(1, sizeof(*c.conf))))
		return GK_ENOMEM;
	gk_xfr_conf_t *x = c.conf;
	x->timeout_ms = 10000;
	x->max_transfers = 8;
	x->max_zone_bytes = 64u << 20;
	x->max_zone_records = 1000000;
	if (gk_yaml_walk_map(&c.y, "secondary", nd, visit_top, &in) != 0)
		goto done;
	if (!in.directory) {
		fail(&c, nd, "secondary: missing required key 'directory' (where zones are kept)");
		goto done;
	}
	size_t nk = items(in.keys), nt = items(in.tmpls), nz = items(in.zones);
	x->keys = calloc(nk + 1, sizeof(*x->keys));
	x->zones = calloc(nz + 1, sizeof(*x->zones));
	x->templates = calloc(nt + 1, sizeof(*x->templates));
	if (!(x->directory = resolve(&c, in.directory)) || !x->keys || !x->zones || !x->templates) {
		c.y.rc = GK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < nk && !c.y.rc; i++) {
		x->n_keys++;
		parse_key(&c, node(&c, in.keys->data.sequence.items.start[i]), &x->keys[i]);
	}
	for (size_t i = 0; i < nt && !c.y.rc; i++) {
		x->n_templates++;
		parse_template(&c, node(&c, in.tmpls->data.sequence.items.start[i]),
		               &x->templates[i]);
	}
	for (size_t i = 0; i < nz && !c.y.rc; i++) {
		x->n_zones++;
		parse_zone(&c, node(&c, in.zones->data.sequence.items.start[i]), &x->zones[i]);
	}
done:
	if (c.y.rc) {
		gk_xfr_conf_free(x);
		return c.y.rc;
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
	for (size_t i = 0; i < x->n_templates; i++) {
		free(x->templates[i].id);
		free(x->templates[i].forward);
	}
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
		    strcmp(a->templates[i].forward ? a->templates[i].forward : "",
		           b->templates[i].forward ? b->templates[i].forward : "") ||
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

int gk_xfr_conf_bind_pools(gk_xfr_conf_t *c, int (*find)(void *ctx, const char *name), void *ctx,
                           const char *path, bool *forwards, char *err, size_t errlen)
{
	struct pc pc = {.y = {.path = path, .err = err, .errlen = errlen}};
	bool any = false;
	for (size_t i = 0; c && i < c->n_templates && pc.y.rc == 0; i++) {
		gk_xfr_template_t *t = &c->templates[i];
		if (!t->forward)
			continue;
		any = true;
		t->pool = find(ctx, t->forward);
		if (t->pool < 0)
			gk_yaml_fail(
			    &pc.y, GK_ECONFIG, t->line,
			    "secondary.templates: '%s': forward: no pool named '%s' in pools",
			    t->id, t->forward);
	}
	if (forwards)
		*forwards = any;
	return pc.y.rc;
}
