/* SPDX-License-Identifier: MIT */
/* src/zone/load.c -- logical-record splitter, $ORIGIN/$TTL/$INCLUDE, ldns per record.
 *
 * A logical record runs to the end of a line, or across lines while parentheses are open.
 * Comments start at an unquoted ';'. Backslash escapes are copied verbatim for ldns. The
 * first line of a record is the one reported in errors.
 */
#include <ctype.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "common/dname.h"
#include "common/file.h"
#include "common/log.h"
#include "gk/errors.h"
#include "zone/load.h"

#define MAX_INCLUDE_DEPTH 8
#define MAX_FILE_SIZE     (1u << 30)

struct state {
	gk_loader_t *L;
	const char *file;
	ldns_rdf *origin;
	uint32_t ttl;
	ldns_rdf *prev;
	int depth;
};

static int fail(gk_loader_t *L, int code, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(gk_loader_t *L, int code, const char *file, unsigned line, const char *fmt, ...)
{
	if (L->errlen) {
		int n = line ? snprintf(L->err, L->errlen, "%s:%u: ", file, line)
		             : snprintf(L->err, L->errlen, "%s: ", file);
		if (n > 0 && (size_t)n < L->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

/* Read a file, and record what it was (its fstat before the read: a change after it is seen
 * by the next reload, at worst as a rebuild that finds the same content) under rec: an
 * $INCLUDE's arena string, or NULL for the zone file itself (its path is the caller's: no
 * copy). */
static int read_file(gk_loader_t *L, const char *path, const char *rec, char **out, size_t *len)
{
	struct stat st;
	if (L->nfiles == L->fcap) {
		size_t nc = L->fcap ? L->fcap * 2 : 4;
		gk_loaded_file_t *nf = realloc(L->files, nc * sizeof(*nf));
		if (!nf)
			return GK_ENOMEM;
		L->files = nf;
		L->fcap = nc;
	}
	int rc = gk_file_read_stat(path, MAX_FILE_SIZE, out, len, &st);
	if (rc != 0)
		return rc;
	L->files[L->nfiles++] = (gk_loaded_file_t){
	    .path = rec,
	    .dev = (uint64_t)st.st_dev,
	    .ino = (uint64_t)st.st_ino,
	    .size = (int64_t)st.st_size,
	    .mtime_sec = (int64_t)st.st_mtim.tv_sec,
	    .mtime_nsec = (int64_t)st.st_mtim.tv_nsec,
	};
	return 0;
}

static int push_rr(gk_loader_t *L, ldns_rr *rr, const char *file, unsigned line)
{
	if (L->n == L->cap) {
		size_t nc = L->cap ? L->cap * 2 : 256;
		gk_loaded_rr_t *nr = realloc(L->rrs, nc * sizeof(*nr));
		if (!nr)
			return GK_ENOMEM;
		L->rrs = nr;
		L->cap = nc;
	}
	L->rrs[L->n++] = (gk_loaded_rr_t){.rr = rr, .file = file, .line = line};
	return 0;
}

/* Split "word rest" at whitespace: returns the first word (NUL-terminated in place) and
 * sets *rest to what follows, leading blanks skipped. */
static char *next_word(char *s, char **rest)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	char *w = s;
	while (*s && !isspace((unsigned char)*s))
		s++;
	if (*s)
		*s++ = 0;
	while (*s && isspace((unsigned char)*s))
		s++;
	*rest = s;
	return w;
}

/* A name relative to the current origin, as ldns does for owners. */
static ldns_rdf *name_rel(const char *s, const ldns_rdf *origin)
{
	ldns_rdf *d = NULL;
	if (strcmp(s, "@") == 0)
		return ldns_rdf_clone(origin);
	if (ldns_str2rdf_dname(&d, s) != LDNS_STATUS_OK)
		return NULL;
	size_t sl = strlen(s);
	if (sl && s[sl - 1] != '.' && origin) {
		if (ldns_dname_cat(d, origin) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(d);
			return NULL;
		}
	}
	return d;
}

static int read_text(struct state *S, const char *text, size_t len);

static int do_include(struct state *S, char *args, unsigned line)
{
	gk_loader_t *L = S->L;
	if (S->depth >= MAX_INCLUDE_DEPTH)
		return fail(L, GK_ESYNTAX, S->file, line, "$INCLUDE nested deeper than %d",
		            MAX_INCLUDE_DEPTH);
	char *rest;
	char *fname = next_word(args, &rest);
	if (!*fname)
		return fail(L, GK_ESYNTAX, S->file, line, "$INCLUDE without a file name");
	if (S->depth < 0)
		return fail(L, GK_ESYNTAX, S->file, line, "$INCLUDE is not allowed here");
	char *oname = next_word(rest, &rest);
	if (*rest)
		return fail(L, GK_ESYNTAX, S->file, line, "trailing text after $INCLUDE");
	/* relative paths resolve against the including file's directory */
	char path[4096];
	const char *slash = strrchr(S->file, '/');
	if (fname[0] != '/' && slash)
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - S->file), S->file, fname);
	else
		snprintf(path, sizeof(path), "%s", fname);

	struct state sub = *S;
	sub.file = gk_arena_dup(L->arena, path, strlen(path) + 1);
	sub.depth = S->depth + 1;
	sub.prev = NULL;
	sub.origin = *oname ? name_rel(oname, S->origin) : ldns_rdf_clone(S->origin);
	if (!sub.file || !sub.origin)
		return fail(L, GK_ESYNTAX, S->file, line, "bad $INCLUDE origin '%s'", oname);
	char *buf;
	size_t blen;
	int rc = read_file(L, path, sub.file, &buf, &blen);
	if (rc < 0) {
		ldns_rdf_deep_free(sub.origin);
		return fail(L, GK_EIO, S->file, line, "$INCLUDE %s: %s", path, gk_strerror(rc));
	}
	rc = read_text(&sub, buf, blen);
	free(buf);
	/* RFC 1035 5.1: origin (and owner) revert after the included file */
	ldns_rdf_deep_free(sub.origin);
	if (sub.prev)
		ldns_rdf_deep_free(sub.prev);
	S->ttl = sub.ttl;
	return rc;
}

static int directive(struct state *S, char *entry, unsigned line)
{
	gk_loader_t *L = S->L;
	char *rest;
	char *word = next_word(entry, &rest);
	if (strcmp(word, "$ORIGIN") == 0) {
		char *name = next_word(rest, &rest);
		ldns_rdf *o = *name ? name_rel(name, S->origin) : NULL;
		if (!o || *rest) {
			if (o)
				ldns_rdf_deep_free(o);
			return fail(L, GK_ESYNTAX, S->file, line, "bad $ORIGIN");
		}
		ldns_rdf_deep_free(S->origin);
		S->origin = o;
		return 0;
	}
	if (strcmp(word, "$TTL") == 0) {
		char *v = next_word(rest, &rest);
		const char *end = NULL;
		uint32_t t = ldns_str2period(v, &end);
		if (!*v || *end || *rest)
			return fail(L, GK_ESYNTAX, S->file, line, "bad $TTL value '%s'", v);
		S->ttl = t;
		return 0;
	}
	if (strcmp(word, "$INCLUDE") == 0)
		return do_include(S, rest, line);
	return fail(L, GK_ESYNTAX, S->file, line, "unknown directive %s", word);
}

/* What a record must be to be served, whichever way it came (master file, persisted or
 * transferred wire): ldns accepts the RFC 3597 generic form ("\\# 4 0a000001") in place of
 * the last RDATA fields of a known type and fills the record with whatever fields it makes
 * of it ("SRV 1 \\# 4 0a000001": fields missing), and from wire a record of a known type
 * with no RDATA at all (RDLENGTH 0: a CNAME without its target); the record would go out
 * without what its type promises, so a known type's fields must all be there, no more of
 * them than it has, each of its own type. And ldns appends $ORIGIN to a relative name
 * without checking the result's length: an owner or RDATA name over 255 octets (RFC 1035
 * 3.1) would go out in answers. Returns 0, or the error recorded (rr freed). */
static int check_rr(gk_loader_t *L, ldns_rr *rr, const char *file, unsigned line)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));
	size_t got = ldns_rr_rd_count(rr), bad = 0;
	if (d != NULL) {
		size_t max = ldns_rr_descriptor_maximum(d); /* 65535 for a variable tail */
		for (size_t i = 0; i < got && !bad; i++)
			if (i >= max || ldns_rdf_get_type(ldns_rr_rdf(rr, i)) !=
			                    ldns_rr_descriptor_field_type(d, i))
				bad = i + 1;
	}
	if (d != NULL && (got < ldns_rr_descriptor_minimum(d) || bad)) {
		char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
		size_t want = ldns_rr_descriptor_minimum(d);
		ldns_rr_free(rr);
		int rc = bad ? fail(L, GK_ESYNTAX, file, line,
		                    "%s record with RDATA field %zu not of the type %s gives it",
		                    t ? t : "a", bad, t ? t : "its type")
		             : fail(L, GK_ESYNTAX, file, line,
		                    "%s record with %zu of its %zu RDATA fields", t ? t : "a", got,
		                    want);
		free(t);
		return rc;
	}
	bool long_name = ldns_rdf_size(ldns_rr_owner(rr)) > GK_DNAME_MAX;
	for (size_t i = 0; i < ldns_rr_rd_count(rr) && !long_name; i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		long_name =
		    ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && ldns_rdf_size(f) > GK_DNAME_MAX;
	}
	if (long_name) {
		ldns_rr_free(rr);
		return fail(L, GK_ESYNTAX, file, line, "a name longer than %u octets",
		            (unsigned)GK_DNAME_MAX);
	}
	return 0;
}

static int record(struct state *S, char *entry, unsigned line)
{
	gk_loader_t *L = S->L;
	const char *p = entry;
	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return 0;
	if (*p == '$' && p == entry)
		return directive(S, entry, line);
	if (isspace((unsigned char)entry[0]) && !S->prev)
		return fail(L, GK_ESYNTAX, S->file, line, "record without an owner name");
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, entry, S->ttl, S->origin, &S->prev);
	if (st != LDNS_STATUS_OK)
		return fail(L, GK_ESYNTAX, S->file, line, "%s", ldns_get_errorstr_by_id(st));
	int vrc = check_rr(L, rr, S->file, line);
	if (vrc != 0)
		return vrc;
	if (push_rr(L, rr, S->file, line) < 0) {
		ldns_rr_free(rr);
		return fail(L, GK_ENOMEM, S->file, line, "out of memory");
	}
	return 0;
}

static int read_text(struct state *S, const char *text, size_t len)
{
	gk_loader_t *L = S->L;
	size_t cap = 4096, n = 0;
	char *e = malloc(cap);
	if (!e)
		return GK_ENOMEM;
	unsigned line = 1, start = 1;
	int paren = 0, quote = 0, rc = 0;
	unsigned paren_line = 0;
	for (size_t i = 0; i <= len && rc == 0; i++) {
		char c = i < len ? text[i] : '\n';
		if (c == 0) {
			rc = fail(L, GK_ESYNTAX, S->file, line, "NUL byte in zone file");
			break;
		}
		if (n + 4 >= cap) {
			if (cap >= (1u << 20)) {
				rc = fail(L, GK_ESYNTAX, S->file, start, "record too long");
				break;
			}
			char *ne = realloc(e, cap * 2);
			if (!ne) {
				rc = GK_ENOMEM;
				break;
			}
			e = ne;
			cap *= 2;
		}
		if (c == '\\' && i + 1 < len && text[i + 1] != '\n') {
			e[n++] = c;
			e[n++] = text[++i];
			continue;
		}
		if (quote) {
			if (c == '"')
				quote = 0;
			if (c == '\n') {
				rc = fail(L, GK_ESYNTAX, S->file, line,
				          "unterminated quoted string");
				break;
			}
			e[n++] = c;
			continue;
		}
		if (c == ';') {
			while (i + 1 < len && text[i + 1] != '\n')
				i++;
			continue;
		}
		if (c == '"') {
			quote = 1;
			e[n++] = c;
			continue;
		}
		if (c == '(') {
			if (paren++ == 0)
				paren_line = line;
			e[n++] = ' ';
			continue;
		}
		if (c == ')') {
			if (--paren < 0) {
				rc = fail(L, GK_ESYNTAX, S->file, line, "')' without '('");
				break;
			}
			e[n++] = ' ';
			continue;
		}
		if (c == '\n') {
			if (i < len)
				line++;
			if (paren) {
				if (i == len) {
					rc = fail(L, GK_ESYNTAX, S->file, paren_line,
					          "'(' not closed");
					break;
				}
				e[n++] = ' ';
				continue;
			}
			while (n && isspace((unsigned char)e[n - 1]))
				n--;
			e[n] = 0;
			rc = record(S, e, start);
			n = 0;
			start = line;
			continue;
		}
		if (c == '\r')
			c = ' ';
		e[n++] = c;
	}
	free(e);
	return rc;
}

int gk_zone_loader_read(gk_loader_t *L, const char *file, const char *text, size_t text_len,
                        const ldns_rdf *origin)
{
	struct state S = {.L = L, .ttl = 3600, .depth = text ? -1 : 0};
	S.file = file; /* the caller's: valid while L is (load.h) */
	S.origin = ldns_rdf_clone(origin);
	if (!S.origin)
		return GK_ENOMEM;
	/* ldns takes three 64 KiB scratch buffers from the top of the heap for every record and
	 * frees them again; above the trim threshold each free gave the top back to the kernel
	 * and the next record took it back (1M RPZ records: 258k brk calls, ~0.8 s of system
	 * time, measured). Keep a pad at the top while the file is read, then return to glibc's
	 * default of 128 KiB. (Process-wide: loaders running at once only lose some of it.) */
	mallopt(M_TOP_PAD, 64 << 20);
	int rc;
	if (text) {
		rc = read_text(&S, text, text_len);
	} else {
		char *buf;
		size_t blen;
		rc = read_file(L, file, NULL, &buf, &blen);
		if (rc < 0) {
			rc = fail(L, GK_EIO, file, 0, "cannot read: %s", gk_strerror(rc));
		} else {
			rc = read_text(&S, buf, blen);
			free(buf);
		}
	}
	mallopt(M_TOP_PAD, 128 << 10);
	ldns_rdf_deep_free(S.origin);
	if (S.prev)
		ldns_rdf_deep_free(S.prev);
	return rc;
}

int gk_zone_loader_read_wire(gk_loader_t *L, const char *file, const uint8_t *wire, size_t len,
                             size_t count)
{
	const char *f = file; /* the caller's: valid while L is (load.h) */
	size_t pos = 0;
	for (size_t i = 0; i < count; i++) {
		ldns_rr *rr = NULL;
		if (pos >= len)
			return fail(L, GK_ESYNTAX, f, (unsigned)(i + 1), "%zu records of %zu", i,
			            count);
		ldns_status st = ldns_wire2rr(&rr, wire, len, &pos, LDNS_SECTION_ANSWER);
		if (st != LDNS_STATUS_OK)
			return fail(L, st == LDNS_STATUS_MEM_ERR ? GK_ENOMEM : GK_ESYNTAX, f,
			            (unsigned)(i + 1), "record does not parse: %s",
			            ldns_get_errorstr_by_id(st));
		int rc = check_rr(L, rr, f, (unsigned)(i + 1));
		if (rc != 0)
			return rc;
		if ((rc = push_rr(L, rr, f, (unsigned)(i + 1))) < 0) {
			ldns_rr_free(rr);
			return rc;
		}
	}
	if (pos != len)
		return fail(L, GK_ESYNTAX, f, (unsigned)count, "%zu octets after the last record",
		            len - pos);
	return 0;
}

void gk_zone_loader_clear(gk_loader_t *L)
{
	for (size_t i = 0; i < L->n; i++)
		ldns_rr_free(L->rrs[i].rr);
	free(L->rrs);
	L->rrs = NULL;
	L->n = L->cap = 0;
	free(L->files);
	L->files = NULL;
	L->nfiles = L->fcap = 0;
}
