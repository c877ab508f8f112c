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
	int rc = gk_read_file(path, LIST_MAX, &buf, &len);
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
	if (rc == 0)
		(void)fsync_dir(path); /* best effort: the rename is done */
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, gk_strerror(rc));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
