/* SPDX-License-Identifier: MIT */
/* src/polstore/diff.c -- what changed between two policy bundles, for operators and audit.
 *
 * Three views: the rules as the compiler sees them (mode and the three status rules, from
 * compiling both bundles), the policy YAML as lines (a longest-common-subsequence diff that
 * prints only the changed lines), and each list file as a multiset of entries (sorted and
 * merged, so a reordered list shows no change). A list whose lines are single names is read
 * as a plain list (the name before any '#', lowercase, no trailing dot); anything else as
 * RPZ (records with ';' comments dropped and whitespace collapsed).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "decide/decide.h" /* gk_decide_action_name */
#include "polstore/polstore.h"

#define SHOW_MAX  200        /* entries printed per file and direction */
#define LCS_CELLS (4u << 20) /* larger YAML diffs fall back to the multiset view */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int lines_add(struct lines *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, nc * sizeof(*nv));
		if (nv == NULL)
			return GK_ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	char *c = malloc(len + 1);
	if (c == NULL)
		return GK_ENOMEM;
	memcpy(c, s, len);
	c[len] = 0;
	l->v[l->n++] = c;
	return 0;
}

/* Every line of text, as written (no newline). */
static int split_raw(const gk_polstore_file_t *f, struct lines *out)
{
	const char *p = f ? (const char *)f->data : "", *end = f ? p + f->len : p;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t len = (size_t)(e - p);
		if (len && p[len - 1] == '\r')
			len--;
		if (lines_add(out, p, len) != 0)
			return GK_ENOMEM;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static bool plain_list(const gk_polstore_file_t *f)
{
	const char *p = (const char *)f->data, *end = p + f->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if (p < e && (*p == ';' || *p == '$'))
			return false;
		const char *q = p;
		while (q < e && !isspace((unsigned char)*q) && *q != '#')
			q++;
		while (q < e && isspace((unsigned char)*q))
			q++;
		if (q < e && *q != '#')
			return false; /* a second token: not a name-per-line list */
		p = nl ? nl + 1 : end;
	}
	return true;
}

/* The entries of a list file, normalised (see the file comment). */
static int split_entries(const gk_polstore_file_t *f, struct lines *out)
{
	if (f == NULL)
		return 0;
	bool plain = plain_list(f);
	const char *p = (const char *)f->data, *end = p + f->len;
	char buf[4096];
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t o = 0;
		bool quoted = false, space = false;
		for (const char *c = p; c < e && o < sizeof(buf) - 1; c++) {
			unsigned char ch = (unsigned char)*c;
			if (!quoted && ((plain && ch == '#') || (!plain && ch == ';')))
				break;
			if (ch == '"')
				quoted = !quoted;
			if (isspace(ch) && !quoted) {
				space = o > 0;
				continue;
			}
			if (space)
				buf[o++] = ' ';
			space = false;
			buf[o++] = quoted ? (char)ch : (char)tolower(ch);
		}
		if (plain && o > 1 && buf[o - 1] == '.')
			o--;
		if (o > 0 && lines_add(out, buf, o) != 0)
			return GK_ENOMEM;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Multiset difference: calls out for each removed (sign '-') and added ('+') entry. */
struct sink {
	FILE *f;
	const char *indent;
	size_t added, removed, shown;
};

static void emit(struct sink *s, char sign, const char *line)
{
	if (sign == '+')
		s->added++;
	else
		s->removed++;
	if (s->f && s->shown++ < SHOW_MAX)
		fprintf(s->f, "%s%c %s\n", s->indent, sign, line);
}

static void set_diff(struct lines *a, struct lines *b, struct sink *s)
{
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(char *), cmp_str);
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(char *), cmp_str);
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
		if (c == 0)
			i++, j++;
		else if (c < 0)
			emit(s, '-', a->v[i++]);
		else
			emit(s, '+', b->v[j++]);
	}
}

/* Changed lines in order (LCS); falls back to set_diff for very large inputs. */
static int line_diff(struct lines *a, struct lines *b, struct sink *s)
{
	size_t n = a->n, m = b->n;
	if (n && m && (n + 1) * (m + 1) > LCS_CELLS) {
		set_diff(a, b, s);
		return 0;
	}
	uint32_t *t = calloc((n + 1) * (m + 1), sizeof(*t));
	if (t == NULL)
		return GK_ENOMEM;
#define T(i, j) t[(i) * (m + 1) + (j)]
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			T(i, j) = strcmp(a->v[i], b->v[j]) == 0
			              ? T(i + 1, j + 1) + 1
			              : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
	size_t i = 0, j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && strcmp(a->v[i], b->v[j]) == 0)
			i++, j++;
		else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1)))
			emit(s, '-', a->v[i++]);
		else
			emit(s, '+', b->v[j++]);
	}
#undef T
	free(t);
	return 0;
}

/* ---- rules -------------------------------------------------------------------------------- */

static const char *act_name(gk_action_t a)
{
	return gk_decide_action_name(a);
}

static void rule_text(const gk_policy_t *p, gk_policy_status_t st, char *out, size_t cap)
{
	const gk_policy_hit_t *h = p ? gk_policy_status(p, st) : NULL;
	if (h == NULL)
		snprintf(out, cap, "(none)");
	else if (h->verdict != GK_POLICY_BLOCK || h->action == NULL)
		snprintf(out, cap, "resolve");
	else
		snprintf(out, cap, "%s (ede %u \"%.*s\")",
		         h->local ? "redirect" : act_name(h->action->action),
		         (unsigned)h->action->ede_code, (int)h->action->text_len, h->action->text);
}

static int add_str(json_t *arr, const char *s)
{
	return json_array_append_new(arr, json_string(s)) ? GK_ENOMEM : 0;
}

static int rules_diff(const gk_polstore_bundle_t *from, const gk_policy_t *cfrom,
                      const gk_polstore_bundle_t *to, const gk_policy_t *cto, FILE *f, json_t *sum,
                      size_t *changes)
{
	static const char *const names[GK_POLICY_NSTATUS] = {"unfiled", "revoked", "unknown",
	                                                     "no_registrable"};
	gk_policy_t *ca = NULL, *cb = NULL; /* compiled here, freed here */
	char err[64];
	/* mode and status rules live in the policy YAML alone: the same YAML, the same rules
	 * (saves compiling a large previous version when only lists changed) */
	if (from && strcmp(from->policy.sha256, to->policy.sha256) == 0)
		return json_object_set_new(sum, "rules", json_array()) ? GK_ENOMEM : 0;
	if (from && !cfrom && gk_polstore_bundle_compile(from, &ca, err, sizeof(err)) != 0)
		ca = NULL;
	if (!cto && gk_polstore_bundle_compile(to, &cb, err, sizeof(err)) != 0)
		cb = NULL;
	const gk_policy_t *pa = cfrom ? cfrom : ca, *pb = cto ? cto : cb;
	json_t *rules = json_array();
	int rc = rules ? 0 : GK_ENOMEM;
	if (rc == 0 && json_object_set_new(sum, "rules", rules))
		rc = GK_ENOMEM;
	const char *ma =
	    pa ? (gk_policy_mode(pa) == GK_POLICY_MONITOR ? "monitor" : "enforce") : "(none)";
	const char *mb =
	    pb ? (gk_policy_mode(pb) == GK_POLICY_MONITOR ? "monitor" : "enforce") : "(none)";
	if (rc == 0 && strcmp(ma, mb) != 0) {
		char line[64];
		snprintf(line, sizeof(line), "%s -> %s", ma, mb);
		(*changes)++;
		if (f)
			fprintf(f, "mode: %s\n", line);
		if (json_object_set_new(sum, "mode", json_string(line)))
			rc = GK_ENOMEM;
	}
	for (int i = 0; i < GK_POLICY_NSTATUS && rc == 0; i++) {
		char ra[128], rb[128], line[300];
		rule_text(pa, (gk_policy_status_t)i, ra, sizeof(ra));
		rule_text(pb, (gk_policy_status_t)i, rb, sizeof(rb));
		if (strcmp(ra, rb) == 0)
			continue;
		snprintf(line, sizeof(line), "%s: %s -> %s", names[i], ra, rb);
		(*changes)++;
		if (f)
			fprintf(f, "%s\n", line);
		rc = add_str(rules, line);
	}
	gk_policy_free(ca);
	gk_policy_free(cb);
	return rc;
}

/* ---- files -------------------------------------------------------------------------------- */

static int counts(json_t *obj, const char *key, size_t added, size_t removed)
{
	json_t *c = json_pack("{sIsI}", "added", (json_int_t)added, "removed", (json_int_t)removed);
	return c == NULL || json_object_set_new(obj, key, c) ? GK_ENOMEM : 0;
}

static int policy_diff(const gk_polstore_bundle_t *from, const gk_polstore_bundle_t *to, FILE *f,
                       json_t *sum, size_t *changes)
{
	struct lines a = {0}, b = {0};
	struct sink s = {.f = NULL, .indent = "  "};
	int rc = split_raw(from ? &from->policy : NULL, &a);
	if (rc == 0)
		rc = split_raw(&to->policy, &b);
	if (rc == 0 && from && strcmp(from->policy.sha256, to->policy.sha256) != 0) {
		/* count first, print after the header */
		struct sink cnt = s;
		if ((rc = line_diff(&a, &b, &cnt)) == 0 && f) {
			fprintf(f, "%s: %zu lines added, %zu removed\n", to->policy.name, cnt.added,
			        cnt.removed);
			s.f = f;
			lines_free(&a);
			lines_free(&b);
			if ((rc = split_raw(&from->policy, &a)) == 0 &&
			    (rc = split_raw(&to->policy, &b)) == 0)
				rc = line_diff(&a, &b, &s);
		}
		s = cnt;
	} else if (rc == 0 && !from) {
		s.added = b.n;
		if (f)
			fprintf(f, "%s: new (%zu lines)\n", to->policy.name, b.n);
	}
	*changes += s.added + s.removed;
	if (rc == 0 && (s.added || s.removed))
		rc = counts(sum, "policy_lines", s.added, s.removed);
	lines_free(&a);
	lines_free(&b);
	return rc;
}

static int lists_diff(const gk_polstore_bundle_t *from, const gk_polstore_bundle_t *to, FILE *f,
                      json_t *sum, size_t *changes)
{
	json_t *lists = json_object(), *fa = json_array(), *fr = json_array();
	if (lists == NULL || fa == NULL || fr == NULL || json_object_set_new(sum, "lists", lists) ||
	    json_object_set_new(sum, "files_added", fa) ||
	    json_object_set_new(sum, "files_removed", fr))
		return GK_ENOMEM;
	int rc = 0;
	size_t na = from ? from->nfiles : 0, i = 0, j = 0;
	while (rc == 0 && (i < na || j < to->nfiles)) {
		const gk_polstore_file_t *x = i < na ? &from->files[i] : NULL;
		const gk_polstore_file_t *y = j < to->nfiles ? &to->files[j] : NULL;
		int c = !x ? 1 : !y ? -1 : strcmp(x->name, y->name);
		if (c < 0)
			y = NULL, i++;
		else if (c > 0)
			x = NULL, j++;
		else
			i++, j++;
		const char *name = x ? x->name : y->name;
		if (x && y && strcmp(x->sha256, y->sha256) == 0)
			continue;
		struct lines a = {0}, b = {0};
		struct sink s = {.f = NULL, .indent = "  "};
		if ((rc = split_entries(x, &a)) == 0 && (rc = split_entries(y, &b)) == 0) {
			struct sink cnt = s;
			set_diff(&a, &b, &cnt);
			if (f) {
				fprintf(f, "%s: %s%zu entries added, %zu removed\n", name,
				        !x   ? "new file, "
				        : !y ? "file removed, "
				             : "",
				        cnt.added, cnt.removed);
				s.f = f;
				set_diff(&a, &b, &s);
				if (s.shown > SHOW_MAX)
					fprintf(f, "  ... and %zu more\n", s.shown - SHOW_MAX);
			}
			s = cnt;
		}
		lines_free(&a);
		lines_free(&b);
		*changes += s.added + s.removed + (!x || !y);
		if (rc == 0 && !x)
			rc = add_str(fa, name);
		if (rc == 0 && !y)
			rc = add_str(fr, name);
		if (rc == 0)
			rc = counts(lists, name, s.added, s.removed);
	}
	return rc;
}

int gk_polstore_diff(const gk_polstore_bundle_t *from, const gk_polstore_bundle_t *to, FILE *f,
                     json_t **summary, size_t *changes)
{
	return gk_polstore_diff_compiled(from, NULL, to, NULL, f, summary, changes);
}

int gk_polstore_diff_compiled(const gk_polstore_bundle_t *from, const gk_policy_t *pfrom,
                              const gk_polstore_bundle_t *to, const gk_policy_t *pto, FILE *f,
                              json_t **summary, size_t *changes)
{
	size_t n = 0;
	json_t *sum = json_object();
	if (sum == NULL)
		return GK_ENOMEM;
	int rc = rules_diff(from, pfrom, to, pto, f, sum, &n);
	if (rc == 0)
		rc = policy_diff(from, to, f, sum, &n);
	if (rc == 0)
		rc = lists_diff(from, to, f, sum, &n);
	if (rc == 0 && n == 0 && f)
		fprintf(f, "no changes\n");
	if (rc != 0 || summary == NULL)
		json_decref(sum);
	else
		*summary = sum;
	if (changes)
		*changes = n;
	return rc;
}
