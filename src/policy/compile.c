/* SPDX-License-Identifier: MIT */
/* src/policy/compile.c -- policy YAML to an immutable gk_policy_t.
 *
 * The document is loaded with libyaml's document API (nodes carry start marks, so every
 * message names a line) and walked once, in a fixed order: mode, redirect, the status
 * rules, then the lists in the order written (list order breaks ties between lists). The
 * first error wins and is reported as "file:line: message", naming the policy file or the
 * list file at fault. Nothing is published on failure: the caller keeps its running policy.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "common/file.h"
#include "common/yamldepth.h"
#include "common/yamlwalk.h"
#include "policy/internal.h"

#define MAX_FILE_SIZE (1u << 30)
#define REDIRECT_MAX  16

struct ctx {
	gk_yaml_t y; /* first: the visit callbacks get &c->y; path: the policy's name in messages */
	gk_policy_builder_t b;
	gk_policy_t *p;
	char *dir; /* directory of the policy file ("" in memory or without one) */
	const gk_policy_file_t *files;
	size_t nfiles;
	bool mem;
	gk_policy_local_t *redirect; /* NULL without a redirect section */
	size_t redirect_line;
	bool allow_outside; /* allow_outside_paths: true */
	char *realdir;      /* realpath of dir, computed at the first list (disk only) */
};

struct rule {
	gk_policy_act_t act;
	gk_refusal_t r;
	size_t act_line;
};

/* The walk's errors go to the builder, where the lists' errors go too (first one wins). */
static int sink(gk_yaml_t *y, int code, size_t line, const char *msg)
{
	return gk_policy_fail(&((struct ctx *)y)->b, code, y->path, line, "%s", msg);
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->y.doc, id);
}

/* ---- refusals --------------------------------------------------------------------------- */

struct rule_arg {
	const char *what;
	struct rule *r;
	bool allow_resolve;
	bool list; /* a list entry: other keys are the list's */
};

/* action, ede, text: returns 1 when key is none of them. */
static int rule_key(struct ctx *c, const char *key, yaml_node_t *v, struct rule_arg *a)
{
	int rc = gk_policy_refusal_key(&c->y, a->what, key, v, true, a->allow_resolve, &a->r->r,
	                               &a->r->act);
	if (rc == 0 && strcmp(key, "action") == 0)
		a->r->act_line = gk_yaml_line(v);
	return rc;
}

static int visit_rule(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct rule_arg *a = arg;
	int rc = rule_key(c, key, v, a);
	if (rc <= 0)
		return rc;
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "%s: unknown key '%s' (expected action, ede, text)", a->what, key);
}

static void rule_default(struct rule *r, gk_policy_act_t act, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->act = act;
	r->r.ede_code = 15; /* Blocked */
	r->r.text_len = (uint8_t)strlen(text);
	memcpy(r->r.text, text, r->r.text_len);
}

/* The hit for a rule (list is 0 for status rules). */
static int rule_hit(struct ctx *c, const char *what, const struct rule *r, uint16_t list,
                    gk_policy_hit_t *h)
{
	static const gk_action_t map[] = {GK_ACT_REFUSE, GK_ACT_NXDOMAIN, GK_ACT_NODATA,
	                                  GK_ACT_DROP,   GK_ACT_NODATA,   GK_ACT_RESOLVE};
	*h = (gk_policy_hit_t){.verdict = GK_POLICY_BLOCK, .list = list};
	if (r->act == GK_POLICY_ACT_RESOLVE) {
		h->verdict = GK_POLICY_ALLOW;
		return 0;
	}
	if (r->act == GK_POLICY_ACT_REDIRECT) {
		if (!c->redirect)
			return gk_yaml_fail(&c->y, GK_ECONFIG, r->act_line,
			                    "%s: action redirect needs a 'redirect' section", what);
		h->local = c->redirect;
	}
	gk_refusal_t *ref = gk_arena_dup(c->b.arena, &r->r, sizeof(r->r));
	if (!ref)
		return c->b.rc = GK_ENOMEM;
	ref->action = map[r->act];
	h->action = ref;
	return 0;
}

/* ---- redirect --------------------------------------------------------------------------- */

struct redir {
	uint8_t a[REDIRECT_MAX][4], aaaa[REDIRECT_MAX][16];
	unsigned na, naaaa, ttl;
};

static int addresses(struct ctx *c, const char *key, yaml_node_t *v, struct redir *rd, int af)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "redirect.%s: expected a list, got %s", key,
		                    gk_yaml_type_name(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *n = node(c, *it);
		const char *s = NULL;
		if (gk_yaml_string(&c->y, key, n, &s) != 0)
			return c->b.rc;
		unsigned *cnt = af == AF_INET ? &rd->na : &rd->naaaa;
		if (*cnt == REDIRECT_MAX)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
			                    "redirect.%s: more than %d addresses", key,
			                    REDIRECT_MAX);
		void *dst = af == AF_INET ? (void *)rd->a[*cnt] : (void *)rd->aaaa[*cnt];
		if (inet_pton(af, s, dst) != 1)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
			                    "redirect.%s: '%s' is not an %s address", key, s,
			                    af == AF_INET ? "IPv4" : "IPv6");
		(*cnt)++;
	}
	return 0;
}

static int visit_redirect(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct redir *rd = arg;
	if (strcmp(key, "a") == 0)
		return addresses(c, "a", v, rd, AF_INET);
	if (strcmp(key, "aaaa") == 0)
		return addresses(c, "aaaa", v, rd, AF_INET6);
	if (strcmp(key, "ttl") == 0)
		return gk_yaml_uint(&c->y, "redirect.ttl", v, 0, 0x7fffffff, &rd->ttl);
	return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
	                    "redirect: unknown key '%s' (expected a, aaaa, ttl)", key);
}

static int parse_redirect(struct ctx *c, yaml_node_t *v)
{
	struct redir rd = {.ttl = 300};
	if (gk_yaml_walk_map(&c->y, "redirect", v, visit_redirect, &rd) != 0)
		return c->b.rc;
	if (rd.na + rd.naaaa == 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "redirect: no address (give a or aaaa)");
	gk_policy_local_t *loc = gk_arena_alloc(c->b.arena, sizeof(*loc));
	gk_policy_rr_t *rr = gk_arena_alloc(c->b.arena, (rd.na + rd.naaaa) * sizeof(*rr));
	uint8_t *data = gk_arena_alloc(c->b.arena, rd.na * 4 + rd.naaaa * 16 + 1);
	if (!loc || !rr || !data)
		return c->b.rc = GK_ENOMEM;
	unsigned k = 0;
	for (unsigned i = 0; i < rd.na; i++, k++) {
		memcpy(data, rd.a[i], 4);
		rr[k] = (gk_policy_rr_t){.type = 1, .rdlen = 4, .ttl = rd.ttl, .rdata = data};
		data += 4;
	}
	for (unsigned i = 0; i < rd.naaaa; i++, k++) {
		memcpy(data, rd.aaaa[i], 16);
		rr[k] = (gk_policy_rr_t){.type = 28, .rdlen = 16, .ttl = rd.ttl, .rdata = data};
		data += 16;
	}
	loc->n = k;
	loc->rr = rr;
	c->redirect = loc;
	return 0;
}

/* ---- lists ------------------------------------------------------------------------------ */

struct list_arg {
	struct rule rule;
	struct rule_arg ra;
	const char *file, *format, *kind, *zone;
	size_t file_line, kind_line, format_line, zone_line;
	bool has_rule_keys;
	size_t rule_line;
};

static int visit_list(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct list_arg *l = arg;
	struct {
		const char *key;
		const char **val;
		size_t *line;
	} strs[] = {{"file", &l->file, &l->file_line},
	            {"format", &l->format, &l->format_line},
	            {"kind", &l->kind, &l->kind_line},
	            {"zone", &l->zone, &l->zone_line}};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strcmp(key, strs[i].key) == 0) {
			*strs[i].line = gk_yaml_line(v);
			return gk_yaml_string(&c->y, l->ra.what, v, strs[i].val);
		}
	int rc = rule_key(c, key, v, &l->ra);
	if (rc <= 0) {
		if (!l->has_rule_keys && strcmp(key, "action") == 0)
			l->rule_line = gk_yaml_line(k);
		l->has_rule_keys |= strcmp(key, "action") == 0;
		return rc;
	}
	return gk_yaml_fail(
	    &c->y, GK_ECONFIG, gk_yaml_line(k),
	    "%s: unknown key '%s' (expected file, format, kind, zone, action, ede, text)",
	    l->ra.what, key);
}

static int read_whole(const char *path, char **out, size_t *len)
{
	return gk_file_read(path, MAX_FILE_SIZE, out, len);
}

/* A list file named as written: absolute, or with a ".." component? (in memory: a bundle
 * carries names only, so this is all that can be checked) */
static bool escapes_lexically(const char *name)
{
	if (name[0] == '/')
		return true;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += *p == '/';
	}
	return false;
}

/* Unless allow_outside_paths, a list file must be inside the policy file's directory: on
 * disk after every symlink is resolved (realpath), in memory by its name. A file that does
 * not exist is left to the read, which says so. */
static int check_inside(struct ctx *c, const char *what, size_t line, const char *file,
                        const char *path)
{
	if (c->allow_outside)
		return 0;
	const char *hint = "; list files stay in the policy's directory unless the policy says "
	                   "allow_outside_paths: true";
	if (c->mem) {
		if (escapes_lexically(file))
			return gk_yaml_fail(&c->y, GK_ECONFIG, line,
			                    "%s.file: '%s' is outside the policy's "
			                    "directory%s",
			                    what, file, hint);
		return 0;
	}
	if (!c->realdir && !(c->realdir = realpath(c->dir[0] ? c->dir : ".", NULL)))
		return gk_yaml_fail(&c->y, GK_EIO, line,
		                    "%s.file: cannot resolve the policy's directory: %s", what,
		                    strerror(errno));
	char *real = realpath(path, NULL);
	if (!real)
		return errno == ENOMEM ? (c->b.rc = GK_ENOMEM) : 0;
	size_t dl = strlen(c->realdir);
	bool inside = strncmp(real, c->realdir, dl) == 0 &&
	              (real[dl] == '/' || (dl == 1 && c->realdir[0] == '/'));
	if (!inside)
		gk_yaml_fail(&c->y, GK_ECONFIG, line,
		             "%s.file: '%s' is outside the policy's directory %s (it is "
		             "%s)%s",
		             what, file, c->realdir, real, hint);
	free(real);
	return inside ? 0 : c->b.rc;
}

static int one_list(struct ctx *c, yaml_node_t *n, unsigned idx, const char **names)
{
	char what[32];
	snprintf(what, sizeof(what), "lists[%u]", idx - 1);
	struct list_arg l = {.ra = {.what = what, .list = true}};
	l.ra.r = &l.rule;
	rule_default(&l.rule, GK_POLICY_ACT_REFUSE, "blocked by policy");
	if (gk_yaml_walk_map(&c->y, what, n, visit_list, &l) != 0)
		return c->b.rc;
	if (!l.file)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n), "%s: no 'file'", what);
	bool rpz = false;
	if (l.format && strcmp(l.format, "rpz") == 0)
		rpz = true;
	else if (l.format && strcmp(l.format, "plain") != 0)
		return gk_yaml_fail(&c->y, GK_ECONFIG, l.format_line,
		                    "%s.format: '%s' is not one of plain, rpz", what, l.format);
	bool allow = false;
	if (rpz) {
		if (l.kind)
			return gk_yaml_fail(&c->y, GK_ECONFIG, l.kind_line,
			                    "%s.kind: an RPZ zone carries its own actions", what);
		if (l.has_rule_keys)
			return gk_yaml_fail(&c->y, GK_ECONFIG, l.rule_line,
			                    "%s.action: an RPZ zone carries its own actions", what);
	} else {
		if (!l.kind)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(n),
			                    "%s: no 'kind' (block or allow)", what);
		if (strcmp(l.kind, "allow") == 0)
			allow = true;
		else if (strcmp(l.kind, "block") != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, l.kind_line,
			                    "%s.kind: '%s' is not one of block, allow", what,
			                    l.kind);
		if (allow && l.has_rule_keys)
			return gk_yaml_fail(&c->y, GK_ECONFIG, l.rule_line,
			                    "%s.action: an allow list has no action", what);
		if (l.zone)
			return gk_yaml_fail(&c->y, GK_ECONFIG, l.zone_line,
			                    "%s.zone: only for format rpz", what);
	}
	names[idx] = gk_arena_dup(c->b.arena, l.file, strlen(l.file) + 1);
	if (!names[idx])
		return c->b.rc = GK_ENOMEM;

	gk_policy_list_ctx_t lc = {.list = (uint16_t)idx, .refusal = l.rule.r, .zone = l.zone};
	if (!rpz) {
		gk_policy_hit_t h;
		if (allow)
			h = (gk_policy_hit_t){.verdict = GK_POLICY_ALLOW, .list = (uint16_t)idx};
		else if (rule_hit(c, what, &l.rule, (uint16_t)idx, &h) != 0)
			return c->b.rc;
		if (!(lc.hit = gk_policy_hit_add(&c->b, &h)))
			return c->b.rc = GK_ENOMEM;
	}

	/* the text: from memory, or the file relative to the policy's directory */
	const char *text = NULL;
	size_t len = 0;
	char *buf = NULL, path[4096];
	if (c->mem) {
		for (size_t i = 0; i < c->nfiles && !text; i++)
			if (strcmp(c->files[i].name, l.file) == 0) {
				text = c->files[i].text ? c->files[i].text : "";
				len = c->files[i].len;
			}
		if (!text)
			return gk_yaml_fail(&c->y, GK_EIO, l.file_line, "%s.file: cannot read '%s'",
			                    what, l.file);
		snprintf(path, sizeof(path), "%s", l.file);
		if (check_inside(c, what, l.file_line, l.file, path) != 0)
			return c->b.rc;
	} else {
		if (l.file[0] == '/' || !c->dir[0])
			snprintf(path, sizeof(path), "%s", l.file);
		else
			snprintf(path, sizeof(path), "%s/%s", c->dir, l.file);
		if (check_inside(c, what, l.file_line, l.file, path) != 0)
			return c->b.rc;
		if (!rpz) {
			int rc = read_whole(path, &buf, &len);
			if (rc < 0)
				return gk_yaml_fail(&c->y, rc == GK_ENOMEM ? GK_ENOMEM : GK_EIO,
				                    l.file_line, "%s.file: cannot read '%s': %s",
				                    what, path, gk_strerror(rc));
			text = buf;
		}
	}
	int rc = rpz ? gk_policy_read_rpz(&c->b, &lc, path, text, len)
	             : gk_policy_read_plain(&c->b, &lc, path, text, len);
	free(buf);
	if (rc < 0 && !c->b.rc)
		c->b.rc = rc;
	return c->b.rc;
}

static int parse_lists(struct ctx *c, yaml_node_t *v)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v),
		                    "lists: expected a list, got %s", gk_yaml_type_name(v));
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > GK_POLICY_LISTS_MAX)
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(v), "lists: more than %d lists",
		                    GK_POLICY_LISTS_MAX);
	const char **names = gk_arena_alloc(c->b.arena, (n + 1) * sizeof(*names));
	if (!names)
		return c->b.rc = GK_ENOMEM;
	names[0] = NULL;
	c->p->list_names = names;
	for (size_t i = 0; i < n; i++) {
		if (one_list(c, node(c, v->data.sequence.items.start[i]), (unsigned)i + 1, names))
			return c->b.rc;
		c->p->nlists = (unsigned)i + 1;
	}
	return 0;
}

/* ---- the document ----------------------------------------------------------------------- */

struct top {
	yaml_node_t *mode, *redirect, *lists, *status[GK_POLICY_NSTATUS], *outside;
};

static const char *const status_keys[GK_POLICY_NSTATUS] = {"unfiled", "revoked", "unknown",
                                                           "no_registrable"};

static int visit_top(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct ctx *c = (struct ctx *)y;
	struct top *t = arg;
	if (strcmp(key, "mode") == 0)
		t->mode = v;
	else if (strcmp(key, "redirect") == 0)
		t->redirect = v;
	else if (strcmp(key, "lists") == 0)
		t->lists = v;
	else if (strcmp(key, "allow_outside_paths") == 0)
		t->outside = v;
	else {
		for (int i = 0; i < GK_POLICY_NSTATUS; i++)
			if (strcmp(key, status_keys[i]) == 0) {
				t->status[i] = v;
				return 0;
			}
		return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(k),
		                    "unknown key '%s' (expected mode, unfiled, revoked, unknown, "
		                    "no_registrable, redirect, lists, allow_outside_paths)",
		                    key);
	}
	return 0;
}

static int walk_doc(struct ctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(c->y.doc);
	struct top t = {0};
	/* an empty document takes every default */
	if (root && gk_yaml_walk_map(&c->y, "policy", root, visit_top, &t) != 0)
		return c->b.rc;
	if (t.mode) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "mode", t.mode, &s) != 0)
			return c->b.rc;
		if (strcmp(s, "enforce") == 0)
			c->p->mode = GK_POLICY_ENFORCE;
		else if (strcmp(s, "monitor") == 0)
			c->p->mode = GK_POLICY_MONITOR;
		else
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(t.mode),
			                    "mode: '%s' is not one of enforce, monitor", s);
	}
	if (t.redirect && parse_redirect(c, t.redirect) != 0)
		return c->b.rc;
	static const char *const texts[GK_POLICY_NSTATUS] = {
	    "ICP filing required", "ICP filing revoked", "ICP filing status unavailable",
	    "ICP filing required"};
	static const gk_policy_act_t acts[GK_POLICY_NSTATUS] = {
	    GK_POLICY_ACT_REFUSE, GK_POLICY_ACT_NXDOMAIN, GK_POLICY_ACT_REFUSE,
	    GK_POLICY_ACT_RESOLVE};
	for (int i = 0; i < GK_POLICY_NSTATUS; i++) {
		struct rule r;
		rule_default(&r, acts[i], texts[i]);
		struct rule_arg a = {.what = status_keys[i],
		                     .r = &r,
		                     .allow_resolve =
		                         i == GK_POLICY_UNKNOWN || i == GK_POLICY_NOREG};
		if (t.status[i] &&
		    gk_yaml_walk_map(&c->y, status_keys[i], t.status[i], visit_rule, &a) != 0)
			return c->b.rc;
		if (rule_hit(c, status_keys[i], &r, 0, &c->p->status[i]) != 0)
			return c->b.rc;
	}
	if (t.outside) {
		const char *s = NULL;
		if (gk_yaml_string(&c->y, "allow_outside_paths", t.outside, &s) != 0)
			return c->b.rc;
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return gk_yaml_fail(&c->y, GK_ECONFIG, gk_yaml_line(t.outside),
			                    "allow_outside_paths: '%s' is not one of true, false",
			                    s);
		c->allow_outside = strcmp(s, "true") == 0;
	}
	if (t.lists && parse_lists(c, t.lists) != 0)
		return c->b.rc;
	return 0;
}

static int build(struct ctx *c, const char *text, size_t len, gk_policy_t **out)
{
	yaml_document_t doc;
	bool have_doc = false;
	yaml_parser_t parser;
	if (gk_policy_builder_init(&c->b) < 0)
		return GK_ENOMEM;
	c->p = gk_arena_alloc(c->b.arena, sizeof(*c->p));
	if (!c->p || !yaml_parser_initialize(&parser)) {
		gk_policy_builder_clear(&c->b);
		return GK_ENOMEM;
	}
	memset(c->p, 0, sizeof(*c->p));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	size_t deep = 0;
	int drc = gk_yamldepth_check(text, len, NULL, GK_YAML_MAX_DEPTH, &deep);
	if (drc == GK_ESYNTAX)
		gk_yaml_fail(&c->y, GK_ESYNTAX, deep, "nested deeper than %d levels",
		             GK_YAML_MAX_DEPTH);
	else if (drc != 0)
		c->b.rc = drc;
	else if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error == YAML_MEMORY_ERROR)
			c->b.rc = GK_ENOMEM;
		else
			gk_yaml_fail(&c->y, GK_ESYNTAX, parser.problem_mark.line + 1,
			             "YAML syntax error: %s%s%s",
			             parser.problem ? parser.problem : "unknown",
			             parser.context ? " " : "",
			             parser.context ? parser.context : "");
	} else {
		have_doc = true;
		c->y.doc = &doc;
		walk_doc(c);
	}
	yaml_parser_delete(&parser);
	if (have_doc)
		yaml_document_delete(&doc);
	if (!c->b.rc)
		c->b.rc = gk_policy_finish(&c->b, c->p);
	if (c->b.rc) {
		int rc = c->b.rc;
		if (c->b.errlen && !c->b.err[0])
			snprintf(c->b.err, c->b.errlen, "%s: %s", c->y.path, gk_strerror(rc));
		gk_policy_builder_clear(&c->b);
		return rc;
	}
	c->p->arena = c->b.arena;
	c->b.arena = NULL;
	gk_policy_builder_clear(&c->b);
	*out = c->p;
	return 0;
}

int gk_policy_build(const char *path, gk_policy_t **out, char *err, size_t errlen)
{
	struct ctx c = {.y = {.path = path, .sink = sink}};
	c.b.err = err;
	c.b.errlen = errlen;
	if (errlen)
		err[0] = 0;
	char *text;
	size_t len;
	int rc = read_whole(path, &text, &len);
	if (rc < 0) {
		if (errlen)
			snprintf(err, errlen, "%s:0: cannot read: %s", path, gk_strerror(rc));
		return rc == GK_ENOMEM ? GK_ENOMEM : GK_EIO;
	}
	c.dir = strdup(path);
	if (!c.dir) {
		free(text);
		return GK_ENOMEM;
	}
	char *slash = strrchr(c.dir, '/');
	if (slash)
		*slash = 0;
	else
		c.dir[0] = 0;
	rc = build(&c, text, len, out);
	free(c.realdir);
	free(c.dir);
	free(text);
	return rc;
}

int gk_policy_build_mem(const char *name, const char *text, size_t len,
                        const gk_policy_file_t *files, size_t nfiles, gk_policy_t **out, char *err,
                        size_t errlen)
{
	struct ctx c = {.y = {.path = name, .sink = sink},
	                .files = files,
	                .nfiles = nfiles,
	                .mem = true,
	                .dir = ""};
	c.b.err = err;
	c.b.errlen = errlen;
	if (errlen)
		err[0] = 0;
	return build(&c, text, len, out);
}

int gk_policy_from_rules(const gk_refusal_t rules[GK_POLICY_NSTATUS], gk_policy_t **out)
{
	gk_policy_builder_t b = {0};
	if (gk_policy_builder_init(&b) < 0)
		return GK_ENOMEM;
	gk_policy_t *p = gk_arena_alloc(b.arena, sizeof(*p));
	int rc = p ? 0 : GK_ENOMEM;
	if (p)
		memset(p, 0, sizeof(*p));
	for (int i = 0; rc == 0 && i < GK_POLICY_NSTATUS; i++) {
		p->status[i] = (gk_policy_hit_t){.verdict = GK_POLICY_ALLOW};
		if (rules[i].action == GK_ACT_RESOLVE)
			continue;
		gk_refusal_t *r = gk_arena_dup(b.arena, &rules[i], sizeof(rules[i]));
		if (r == NULL) {
			rc = GK_ENOMEM;
			break;
		}
		p->status[i] = (gk_policy_hit_t){.verdict = GK_POLICY_BLOCK, .action = r};
	}
	if (rc == 0)
		rc = gk_policy_finish(&b, p);
	if (rc != 0) {
		gk_policy_builder_clear(&b);
		return rc;
	}
	p->mode = GK_POLICY_ENFORCE;
	p->arena = b.arena;
	b.arena = NULL;
	gk_policy_builder_clear(&b);
	*out = p;
	return 0;
}
