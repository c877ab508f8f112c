/* SPDX-License-Identifier: MIT */
/* src/sync/load.c -- a feed file from disk or stdin: bytes, signature check, parse.
 *
 * The signature is checked over the exact bytes before a single line is parsed, so an
 * unsigned feed never reaches the JSON parser. Regular files are mapped, not copied.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sync/lint.h"
#include "sync/sig.h"
#include "sync/sync.h"

typedef struct bytes {
	char *p;
	size_t len;
	int mapped;
} bytes_t;

static int read_fd(int fd, bytes_t *b)
{
	size_t cap = 1 << 16;
	b->p = malloc(cap);
	b->len = 0;
	b->mapped = 0;
	if (!b->p)
		return GK_ENOMEM;
	for (;;) {
		if (b->len == cap) {
			char *n = realloc(b->p, cap * 2);
			if (!n)
				return GK_ENOMEM;
			b->p = n;
			cap *= 2;
		}
		ssize_t r = read(fd, b->p + b->len, cap - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		b->len += (size_t)r;
	}
}

static int read_path(const char *path, bytes_t *b, int map)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (map && !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
			b->p = p;
			b->len = (size_t)st.st_size;
			b->mapped = 1;
			close(fd);
			return 0;
		}
	}
	rc = read_fd(fd, b);
	close(fd);
	return rc;
}

static void bytes_free(bytes_t *b)
{
	if (b->mapped)
		munmap(b->p, b->len);
	else
		free(b->p);
	b->p = NULL;
}

int gk_sync_load(const char *path, const char *sig_path, const char *pubkey, const gk_psl_t *psl,
                 unsigned threads, unsigned flags, gk_feed_t **feed, char *err, size_t errlen)
{
	bytes_t data = {0}, sigb = {0};
	uint8_t sig[GK_SIG_LEN];
	char sp[4096];
	int is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "<stdin>" : path;
	int rc;
	if (!sig_path) {
		if (is_stdin) {
			snprintf(err, errlen, "%s: reading from stdin needs --sig FILE", name);
			return GK_EINVAL;
		}
		snprintf(sp, sizeof(sp), "%s.sig", path);
		sig_path = sp;
	}
	rc = is_stdin ? read_fd(0, &data) : read_path(path, &data, 1);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", name, gk_strerror(rc));
		rc = rc == GK_ENOMEM ? rc : GK_EIO;
		goto out;
	}
	rc = read_path(sig_path, &sigb, 0);
	if (rc) {
		snprintf(err, errlen, "%s:1: bad signature: cannot read %s: %s", name, sig_path,
		         gk_strerror(rc));
		rc = GK_ESYNTAX;
		goto out;
	}
	if (gk_sig_decode(sigb.p, sigb.len, sig)) {
		snprintf(err, errlen,
		         "%s:1: bad signature: %s is neither 64 raw bytes nor base64 of 64 bytes",
		         name, sig_path);
		rc = GK_ESYNTAX;
		goto out;
	}
	char why[512];
	rc = gk_sig_verify(pubkey, data.p, data.len, sig, why, sizeof(why));
	if (rc) {
		if (rc == GK_ESYNTAX)
			snprintf(err, errlen, "%s:1: bad signature (%s, key %s)", name, sig_path,
			         pubkey);
		else
			snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (data.mapped)
		flags |= GK_FEED_DROP_PAGES;
	rc = gk_feed_parse(name, data.p, data.len, psl, threads, flags, feed, err, errlen);
out:
	bytes_free(&data);
	bytes_free(&sigb);
	return rc;
}

int gk_sync_sign_file(const char *key, const char *path, const char *sig_out, int base64, char *err,
                      size_t errlen)
{
	bytes_t data = {0};
	uint8_t sig[GK_SIG_LEN];
	char sp[4096];
	int rc = read_path(path, &data, 1);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, gk_strerror(rc));
		return GK_EIO;
	}
	rc = gk_sig_sign(key, data.p, data.len, sig, err, errlen);
	bytes_free(&data);
	if (rc)
		return rc;
	if (!sig_out) {
		snprintf(sp, sizeof(sp), "%s.sig", path);
		sig_out = sp;
	}
	/* written under a temporary name, then renamed: a watcher never sees half a .sig */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", sig_out);
	FILE *fp = fopen(tmp, "wb");
	if (!fp) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		return GK_EIO;
	}
	if (base64) {
		unsigned char b64[GK_SIG_B64_LEN + 1];
		gk_sig_encode_base64(sig, (char *)b64);
		fprintf(fp, "%s\n", b64);
	} else {
		fwrite(sig, 1, GK_SIG_LEN, fp);
	}
	if (fclose(fp) || rename(tmp, sig_out)) {
		snprintf(err, errlen, "cannot write %s: %s", sig_out, strerror(errno));
		unlink(tmp);
		return GK_EIO;
	}
	return 0;
}

int gk_sync_lint_file(const char *path, const gk_psl_t *psl, FILE *out, size_t *findings, char *err,
                      size_t errlen)
{
	bytes_t data = {0};
	int is_stdin = !strcmp(path, "-");
	int rc = is_stdin ? read_fd(0, &data) : read_path(path, &data, 1);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, gk_strerror(rc));
		bytes_free(&data);
		return GK_EIO;
	}
	rc = gk_lint_feed(is_stdin ? "<stdin>" : path, data.p, data.len, psl, out, findings, err,
	                  errlen);
	bytes_free(&data);
	return rc;
}
