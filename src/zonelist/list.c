/* SPDX-License-Identifier: MIT */
/* src/zonelist/list.c -- the zone list parser, the zones directory scan, the state file.
 *
 * One pass over the bytes: a million-line list costs one read and one walk. The parser
 * copies nothing; the caller keeps what it needs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/file.h"
#include "zonelist/zonelist.h"

/* A list file larger than this is refused (about 40 million entries). */
#define LIST_MAX ((size_t)4 << 30)

bool gk_zonelist_name_ok(const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return true;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > GK_ZONELIST_NAME_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int gk_zonelist_parse(const char *buf, size_t len, const char *path, gk_zonelist_fn fn, void *ctx,
                      char *err, size_t errlen)
{
	size_t line = 0, pos = 0;
	while (pos < len) {
		line++;
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		if (memchr(s, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%zu: NUL byte in the line", path, line);
			return GK_ESYNTAX;
		}
		/* fields: up to three, to report an extra one; a '#' after a blank (or first)
		 * starts a comment */
		const char *f[3];
		size_t fl[3], nf = 0, i = 0;
		while (i < n) {
			while (i < n && blank(s[i]))
				i++;
			if (i == n || s[i] == '#')
				break;
			size_t b = i;
			while (i < n && !blank(s[i]))
				i++;
			if (nf == 3)
				break;
			f[nf] = s + b;
			fl[nf++] = i - b;
		}
		if (nf == 0)
			continue;
		if (nf == 1) {
			snprintf(err, errlen,
			         "%s:%zu: zone '%.*s' has no file (expected NAME FILE)", path, line,
			         (int)(fl[0] > 255 ? 255 : fl[0]), f[0]);
			return GK_ESYNTAX;
		}
		if (nf == 3) {
			snprintf(err, errlen,
			         "%s:%zu: extra field '%.*s' (expected NAME FILE; '#' starts a "
			         "comment)",
			         path, line, (int)(fl[2] > 255 ? 255 : fl[2]), f[2]);
			return GK_ESYNTAX;
		}
		if (!gk_zonelist_name_ok(f[0], fl[0])) {
			snprintf(err, errlen, "%s:%zu: '%.*s' is not a valid zone name", path, line,
			         (int)(fl[0] > 255 ? 255 : fl[0]), f[0]);
			return GK_ESYNTAX;
		}
		if (fl[1] > GK_ZONELIST_PATH_MAX) {
			snprintf(err, errlen, "%s:%zu: file name longer than %d bytes", path, line,
			         GK_ZONELIST_PATH_MAX);
			return GK_ESYNTAX;
		}
		int rc = fn(ctx, f[0], fl[0], f[1], fl[1], line);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int gk_zonelist_read(const char *path, bool missing_ok, gk_zonelist_fn fn, void *ctx, char *err,
                     size_t errlen)
{
	char *buf;
	size_t len;
	int rc = gk_file_read(path, LIST_MAX, &buf, &len);
	if (rc == -ENOENT && missing_ok)
		return GK_ENOENT;
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot read zone list: %s", path,
		         rc == GK_ENOTREG ? "not a regular file" : gk_strerror(rc));
		return rc;
	}
	rc = gk_zonelist_parse(buf, len, path, fn, ctx, err, errlen);
	free(buf);
	return rc;
}

bool gk_zonelist_forward(const char *file, size_t file_len, const char **pool, size_t *pool_len)
{
	size_t k = sizeof(GK_ZONELIST_FORWARD) - 1;
	if (file_len <= k || memcmp(file, GK_ZONELIST_FORWARD, k) != 0)
		return false;
	*pool = file + k;
	*pool_len = file_len - k;
	return true;
}

bool gk_zonelist_pattern_ok(const char *pattern)
{
	const char *p = strstr(pattern, "%s");
	if (p == NULL || strchr(pattern, '/') != NULL)
		return false;
	for (const char *q = pattern; *q; q++)
		if (*q == '%' && q != p)
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int gk_zonelist_scan_dir(const char *dir, const char *pattern, gk_zonelist_fn fn, void *ctx,
                         char *err, size_t errlen)
{
	if (!gk_zonelist_pattern_ok(pattern)) {
		snprintf(err, errlen, "zones_dir pattern '%s': needs exactly one %%s and no '/'",
		         pattern);
		return GK_EINVAL;
	}
	const char *pct = strstr(pattern, "%s");
	size_t pre = (size_t)(pct - pattern), suf = strlen(pct + 2);
	DIR *d = opendir(dir);
	if (d == NULL) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open zones directory: %s", dir, strerror(e));
		return -e;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t l = strlen(nm);
		if (nm[0] == '.' || l <= pre + suf || memcmp(nm, pattern, pre) != 0 ||
		    memcmp(nm + l - suf, pct + 2, suf) != 0)
			continue;
		if (de->d_type == DT_DIR)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd(d), nm, &st, 0) == 0 && S_ISDIR(st.st_mode))
				continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **nn = realloc(names, nc * sizeof(*nn));
			if (nn == NULL) {
				rc = GK_ENOMEM;
				break;
			}
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(nm)) == NULL) {
			rc = GK_ENOMEM;
			break;
		}
		n++;
	}
	if (rc == 0 && errno != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read zones directory: %s", dir, strerror(-rc));
	}
	closedir(d);
	if (rc == GK_ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc == 0 && n > 1) /* names is NULL when nothing matched */
		qsort(names, n, sizeof(*names), cmp_str);
	size_t dl = strlen(dir);
	char *file = rc == 0 ? malloc(dl + 1 + 256) : NULL;
	if (rc == 0 && file == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = GK_ENOMEM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t l = strlen(names[i]);
		int fl = snprintf(file, dl + 1 + 256, "%s/%s", dir, names[i]);
		if (!gk_zonelist_name_ok(names[i] + pre, l - pre - suf)) {
			snprintf(err, errlen,
			         "%s: '%.*s' (from the file name) is not a valid zone name", file,
			         (int)(l - pre - suf), names[i] + pre);
			rc = GK_ESYNTAX;
			break;
		}
		rc = fn(ctx, names[i] + pre, l - pre - suf, file, (size_t)fl, 0);
	}
	free(file);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int fsync_dir(const char *path)
{
	char *dir = strdup(path);
	if (dir == NULL)
		return GK_ENOMEM;
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) != 0 ? -errno : 0;
	close(fd);
	return rc;
}

int gk_zonelist_write(const char *path, const char *const *names, const char *const *files,
                      size_t n, char *err, size_t errlen)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + 5);
	if (tmp == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", 5);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(-rc));
		free(tmp);
		return rc;
	}
	fputs("# Zones added through the control channel (gatekeeperd writes this file).\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %s\n", names[i], files[i]);
	if (fflush(f) != 0 || ferror(f) || fsync(fd) != 0)
		rc = errno ? -errno : GK_EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0) {
		/* the journal is folded in: remove it (a crash before that replays it onto the
		 * new file, which changes nothing) */
		char jp[GK_ZONELIST_PATH_MAX + 16];
		if (gk_zonelist_journal_path(path, jp, sizeof(jp)) == 0 && unlink(jp) != 0 &&
		    errno != ENOENT)
			rc = -errno;
		(void)fsync_dir(path); /* best effort: the rename is done */
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, gk_strerror(rc));
		(void)unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* ---- the journal ---------------------------------------------------------------------- */

int gk_zonelist_journal_path(const char *path, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, "%s.journal", path);
	return n < 0 || (size_t)n >= buflen ? GK_EINVAL : 0;
}

int gk_zonelist_journal_append(const char *path, bool add, const char *name, const char *file,
                               size_t *jsize, char *err, size_t errlen)
{
	char jp[GK_ZONELIST_PATH_MAX + 16];
	if (gk_zonelist_journal_path(path, jp, sizeof(jp)) != 0) {
		snprintf(err, errlen, "%s: path too long for its journal", path);
		return GK_EINVAL;
	}
	size_t nl = strlen(name), fl = add ? strlen(file) : 0;
	if (!gk_zonelist_name_ok(name, nl) ||
	    (add && (fl == 0 || fl > GK_ZONELIST_PATH_MAX || strpbrk(file, " \t\r\n") != NULL))) {
		snprintf(err, errlen, "%s: cannot journal '%s': bad name or file", jp, name);
		return GK_EINVAL;
	}
	char line[GK_ZONELIST_NAME_MAX + GK_ZONELIST_PATH_MAX + 8];
	int ll = add ? snprintf(line, sizeof(line), "+ %s %s\n", name, file)
	             : snprintf(line, sizeof(line), "- %s\n", name);
	bool created = access(jp, F_OK) != 0;
	int fd = open(jp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot append: %s", jp, strerror(e));
		return -e;
	}
	int rc = 0;
	ssize_t w = write(fd, line, (size_t)ll);
	if (w != ll)
		rc = w < 0 ? -errno : GK_EIO;
	off_t end = rc == 0 ? lseek(fd, 0, SEEK_CUR) : 0;
	if (jsize != NULL)
		*jsize = end > 0 ? (size_t)end : 0;
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && created)
		rc = fsync_dir(jp);
	if (rc != 0)
		snprintf(err, errlen, "%s: cannot append: %s", jp, gk_strerror(rc));
	return rc;
}

int gk_zonelist_journal_parse(const char *buf, size_t len, const char *path, gk_zonelist_jfn fn,
                              void *ctx, char *err, size_t errlen)
{
	size_t line = 0, pos = 0;
	while (pos < len) {
		line++;
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		if (nl == NULL)
			break; /* an append cut short: never acknowledged */
		size_t n = (size_t)(nl - s);
		pos += n + 1;
		if (memchr(s, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%zu: NUL byte in the line", path, line);
			return GK_ESYNTAX;
		}
		const char *f[4];
		size_t fl[4], nf = 0, i = 0;
		while (i < n && nf < 4) {
			while (i < n && blank(s[i]))
				i++;
			if (i == n)
				break;
			size_t b = i;
			while (i < n && !blank(s[i]))
				i++;
			f[nf] = s + b;
			fl[nf++] = i - b;
		}
		if (nf == 0)
			continue;
		bool add = fl[0] == 1 && f[0][0] == '+';
		if (!add && !(fl[0] == 1 && f[0][0] == '-')) {
			snprintf(err, errlen, "%s:%zu: expected '+ NAME FILE' or '- NAME'", path,
			         line);
			return GK_ESYNTAX;
		}
		if (nf != (add ? 3u : 2u)) {
			snprintf(err, errlen, "%s:%zu: expected '%s'", path, line,
			         add ? "+ NAME FILE" : "- NAME");
			return GK_ESYNTAX;
		}
		if (!gk_zonelist_name_ok(f[1], fl[1])) {
			snprintf(err, errlen, "%s:%zu: '%.*s' is not a valid zone name", path, line,
			         (int)(fl[1] > 255 ? 255 : fl[1]), f[1]);
			return GK_ESYNTAX;
		}
		if (add && fl[2] > GK_ZONELIST_PATH_MAX) {
			snprintf(err, errlen, "%s:%zu: file name longer than %d bytes", path, line,
			         GK_ZONELIST_PATH_MAX);
			return GK_ESYNTAX;
		}
		int rc = fn(ctx, add, f[1], fl[1], add ? f[2] : NULL, add ? fl[2] : 0, line);
		if (rc != 0)
			return rc;
	}
	return 0;
}

struct sent {
	const char *name, *file;
	size_t nl, fl, line;
	bool add;
};

struct sacc {
	struct sent *e;
	size_t n, cap;
};

static int sacc_push(struct sacc *a, bool add, const char *name, size_t nl, const char *file,
                     size_t fl, size_t line)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		struct sent *ne = realloc(a->e, nc * sizeof(*ne));
		if (ne == NULL)
			return GK_ENOMEM;
		a->e = ne;
		a->cap = nc;
	}
	if (nl > 1 && name[nl - 1] == '.')
		nl--; /* "a.test." and "a.test" are one zone */
	a->e[a->n++] = (struct sent){name, file, nl, fl, line, add};
	return 0;
}

static int sacc_list(void *ctx, const char *name, size_t nl, const char *file, size_t fl,
                     size_t line)
{
	return sacc_push(ctx, true, name, nl, file, fl, line);
}

static int sacc_journal(void *ctx, bool add, const char *name, size_t nl, const char *file,
                        size_t fl, size_t line)
{
	return sacc_push(ctx, add, name, nl, file, fl, line);
}

static const struct sent *sort_base;

static int cmp_sent(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct sent *x = &sort_base[i], *y = &sort_base[j];
	size_t l = x->nl < y->nl ? x->nl : y->nl;
	int c = strncasecmp(x->name, y->name, l);
	if (c == 0 && x->nl != y->nl)
		c = x->nl < y->nl ? -1 : 1;
	if (c == 0)
		c = i < j ? -1 : i > j;
	return c;
}

int gk_zonelist_read_state(const char *path, gk_zonelist_fn fn, void *ctx, char *err, size_t errlen)
{
	char jp[GK_ZONELIST_PATH_MAX + 16];
	if (gk_zonelist_journal_path(path, jp, sizeof(jp)) != 0) {
		snprintf(err, errlen, "%s: path too long for its journal", path);
		return GK_EINVAL;
	}
	char *jbuf = NULL;
	size_t jlen = 0;
	int jrc = gk_file_read(jp, LIST_MAX, &jbuf, &jlen);
	if (jrc != 0 && jrc != -ENOENT) {
		snprintf(err, errlen, "%s: cannot read the state journal: %s", jp,
		         jrc == GK_ENOTREG ? "not a regular file" : gk_strerror(jrc));
		return jrc;
	}
	if (jrc == -ENOENT) /* the common case: the state file alone, read as it streams */
		return gk_zonelist_read(path, true, fn, ctx, err, errlen);
	char *buf = NULL;
	size_t len = 0;
	int rc = gk_file_read(path, LIST_MAX, &buf, &len);
	if (rc == -ENOENT) {
		rc = 0;
	} else if (rc != 0) {
		snprintf(err, errlen, "%s: cannot read zone list: %s", path,
		         rc == GK_ENOTREG ? "not a regular file" : gk_strerror(rc));
		free(jbuf);
		return rc;
	}
	struct sacc a = {0};
	size_t *ix = NULL;
	bool *keep = NULL;
	if (buf != NULL)
		rc = gk_zonelist_parse(buf, len, path, sacc_list, &a, err, errlen);
	if (rc == 0)
		rc = gk_zonelist_journal_parse(jbuf, jlen, jp, sacc_journal, &a, err, errlen);
	if (rc == 0 && a.n > 0) {
		ix = malloc(a.n * sizeof(*ix));
		keep = calloc(a.n, sizeof(*keep));
		if (ix == NULL || keep == NULL)
			rc = GK_ENOMEM;
	}
	if (rc == 0 && a.n > 0) {
		/* one sort by (name, position): the last line of each name decides */
		for (size_t i = 0; i < a.n; i++)
			ix[i] = i;
		sort_base = a.e;
		qsort(ix, a.n, sizeof(*ix), cmp_sent);
		for (size_t k = 0; k < a.n; k++) {
			const struct sent *x = &a.e[ix[k]],
			                  *y = k + 1 < a.n ? &a.e[ix[k + 1]] : NULL;
			bool last =
			    y == NULL || x->nl != y->nl || strncasecmp(x->name, y->name, x->nl);
			keep[ix[k]] = last && x->add;
		}
		for (size_t i = 0; i < a.n && rc == 0; i++)
			if (keep[i])
				rc = fn(ctx, a.e[i].name, a.e[i].nl, a.e[i].file, a.e[i].fl,
				        a.e[i].line);
	}
	if (rc == GK_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	free(ix);
	free(keep);
	free(a.e);
	free(buf);
	free(jbuf);
	return rc;
}
