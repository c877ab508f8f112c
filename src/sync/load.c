/* SPDX-License-Identifier: MIT */
/* src/sync/load.c -- a feed file from disk or stdin: bytes, signature check, parse.
 *
 * The signature is checked over the exact bytes before a single line is parsed, so an
 * unsigned feed never reaches the JSON parser. The bytes verified and parsed are one private
 * copy read into our own memory: a file mapping, even MAP_PRIVATE, shows later writes to the
 * file in every page not yet copied, so a same-length edit between verification and parsing
 * would be parsed unverified. Feeds and signatures are opened without following a symlink
 * and without blocking (a FIFO would hang the reader), and must be regular files; a
 * signature file is at most GK_SIG_FILE_MAX bytes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sync/ipfeed.h"
#include "sync/lint.h"
#include "sync/sig.h"
#include "sync/sync.h"

/* feeds this large are read into an anonymous mapping, whose parsed pages the parser can
 * give back (GK_FEED_DROP_PAGES); smaller ones into malloc'd memory */
#define MAP_MIN (1u << 20)

typedef struct bytes {
	char *p;
	size_t len;
	size_t map_len; /* > 0: p is an anonymous mapping of this many bytes */
} bytes_t;

void (*gk_sync_load_hook)(const char *path);

static int read_fd(int fd, bytes_t *b)
{
	size_t cap = 1 << 16;
	b->p = malloc(cap);
	b->len = 0;
	b->map_len = 0;
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

static const char *file_type(mode_t m)
{
	return S_ISFIFO(m)   ? "a FIFO"
	       : S_ISDIR(m)  ? "a directory"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISLNK(m)  ? "a symbolic link"
	                     : "not a plain file";
}

int gk_sync_open_regular(const char *path, struct stat *st, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		struct stat ls;
		if (e == ELOOP && !lstat(path, &ls) && S_ISLNK(ls.st_mode)) {
			snprintf(why, whylen, "%s is a symbolic link (not followed)", path);
			return GK_ESYNTAX;
		}
		if (e == ENXIO && !lstat(path, &ls)) { /* a socket, or a FIFO opened for writing */
			snprintf(why, whylen, "%s is not a regular file (%s)", path,
			         file_type(ls.st_mode));
			return GK_ESYNTAX;
		}
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, st)) {
		int e = errno;
		snprintf(why, whylen, "cannot stat %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "%s is not a regular file (%s)", path,
		         file_type(st->st_mode));
		close(fd);
		return GK_ESYNTAX;
	}
	/* a regular file never blocks; clear O_NONBLOCK anyway so reads mean what they say */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static void bytes_free(bytes_t *b)
{
	if (b->map_len)
		munmap(b->p, b->map_len);
	else
		free(b->p);
	b->p = NULL;
	b->len = b->map_len = 0;
}

/* Read the regular file at path, at most max bytes, into private memory. Returns 0;
 * GK_ESYNTAX (not a regular file, a symlink, larger than max), a negative errno or
 * GK_ENOMEM, with why set. A file that grows or shrinks while being read is an error
 * (GK_EAGAIN): what is verified and parsed must be one whole version of it. */
static int read_private(const char *path, size_t max, bytes_t *b, char *why, size_t whylen)
{
	struct stat st;
	int rc = 0;
	memset(b, 0, sizeof(*b));
	int fd = gk_sync_open_regular(path, &st, why, whylen);
	if (fd < 0)
		return fd;
	size_t size = (size_t)st.st_size;
	if ((uint64_t)st.st_size > max) {
		snprintf(why, whylen, "%s is larger than %zu bytes (%llu)", path, max,
		         (unsigned long long)st.st_size);
		rc = GK_ESYNTAX;
		goto out;
	}
	if (size >= MAP_MIN) {
		void *m =
		    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			b->p = m;
			b->map_len = size;
		}
	}
	if (!b->p && !(b->p = malloc(size ? size : 1))) {
		snprintf(why, whylen, "%s: out of memory", path);
		rc = GK_ENOMEM;
		goto out;
	}
	while (b->len < size) {
		ssize_t r = read(fd, b->p + b->len, size - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
	}
	char extra;
	ssize_t r;
	while ((r = read(fd, &extra, 1)) < 0 && errno == EINTR)
		;
	if (b->len != size || r != 0) {
		snprintf(why, whylen, "%s changed while it was being read", path);
		rc = GK_EAGAIN;
	}
	if (b->map_len && !rc)
		madvise(b->p, b->map_len, MADV_SEQUENTIAL);
out:
	close(fd);
	if (rc)
		bytes_free(b);
	return rc;
}

/* the feed: stdin, or a regular file; why gets the reason on failure */
static int read_feed(const char *path, bytes_t *b, char *why, size_t whylen)
{
	if (strcmp(path, "-"))
		return read_private(path, SIZE_MAX, b, why, whylen);
	int rc = read_fd(0, b);
	if (rc) {
		snprintf(why, whylen, "<stdin>: cannot read: %s", gk_strerror(rc));
		bytes_free(b);
	}
	return rc;
}

/* What is done with the verified bytes: the domain feed's parser or the IP feed's. */
typedef int (*parse_fn)(const char *name, const char *data, size_t len, unsigned flags, void *ctx,
                        char *err, size_t errlen);

/* Read path and its signature, verify, then hand the verified private copy to parse. */
static int load_verified(const char *path, const char *sig_path, const char *pubkey, unsigned flags,
                         parse_fn parse, void *ctx, char *err, size_t errlen)
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
	char why[512];
	rc = read_feed(path, &data, why, sizeof(why));
	if (rc) {
		/* not a regular file or a symlink: the input is wrong (rejected); anything else may
		 * pass (retry) */
		snprintf(err, errlen, "%s", why);
		rc = rc == GK_ESYNTAX || rc == GK_ENOMEM ? rc : GK_EIO;
		goto out;
	}
	rc = read_private(sig_path, GK_SIG_FILE_MAX, &sigb, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s:1: bad signature: %s", name, why);
		rc = GK_ESYNTAX;
		goto out;
	}
	if (gk_sync_sig_decode(sigb.p, sigb.len, sig)) {
		snprintf(err, errlen,
		         "%s:1: bad signature: %s is neither 64 raw bytes nor base64 of 64 bytes",
		         name, sig_path);
		rc = GK_ESYNTAX;
		goto out;
	}
	rc = gk_sync_sig_verify(pubkey, data.p, data.len, sig, why, sizeof(why));
	if (rc) {
		if (rc == GK_ESYNTAX)
			snprintf(err, errlen, "%s:1: bad signature (%s, key %s)", name, sig_path,
			         pubkey);
		else
			snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (gk_sync_load_hook && !is_stdin)
		gk_sync_load_hook(path);
	if (data.map_len)
		flags |= GK_FEED_DROP_PAGES;
	rc = parse(name, data.p, data.len, flags, ctx, err, errlen);
out:
	bytes_free(&data);
	bytes_free(&sigb);
	return rc;
}

typedef struct domain_ctx {
	const gk_psl_t *psl;
	unsigned threads;
	gk_feed_t **feed;
} domain_ctx_t;

static int parse_domain(const char *name, const char *data, size_t len, unsigned flags, void *ctx,
                        char *err, size_t errlen)
{
	domain_ctx_t *c = ctx;
	return gk_sync_feed_parse(name, data, len, c->psl, c->threads, flags, c->feed, err, errlen);
}

int gk_sync_load(const char *path, const char *sig_path, const char *pubkey, const gk_psl_t *psl,
                 unsigned threads, unsigned flags, gk_feed_t **feed, char *err, size_t errlen)
{
	domain_ctx_t c = {psl, threads, feed};
	return load_verified(path, sig_path, pubkey, flags, parse_domain, &c, err, errlen);
}

static int parse_ip(const char *name, const char *data, size_t len, unsigned flags, void *ctx,
                    char *err, size_t errlen)
{
	(void)flags;
	return gk_sync_ipfeed_parse(name, data, len, (gk_ipfeed_t **)ctx, err, errlen);
}

int gk_sync_load_ip(const char *path, const char *sig_path, const char *pubkey, gk_ipfeed_t **feed,
                    char *err, size_t errlen)
{
	return load_verified(path, sig_path, pubkey, 0, parse_ip, feed, err, errlen);
}

int gk_sync_sign_file(const char *key, const char *path, const char *sig_out, int base64, char *err,
                      size_t errlen)
{
	bytes_t data = {0};
	uint8_t sig[GK_SIG_LEN];
	char sp[4096];
	int rc = read_private(path, SIZE_MAX, &data, err, errlen);
	if (rc)
		return rc == GK_ENOMEM ? rc : GK_EIO;
	rc = gk_sync_sig_sign(key, data.p, data.len, sig, err, errlen);
	bytes_free(&data);
	if (rc)
		return rc;
	if (!sig_out) {
		snprintf(sp, sizeof(sp), "%s.sig", path);
		sig_out = sp;
	}
	/* written under a temporary name, then renamed: a watcher never sees half a .sig. The
	 * temporary is created new (O_EXCL, no symlink followed); a stale one is removed first. */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", sig_out);
	(void)unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *fp = fd < 0 ? NULL : fdopen(fd, "wb");
	if (!fp) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return GK_EIO;
	}
	if (base64) {
		unsigned char b64[GK_SIG_B64_LEN + 1];
		gk_sync_sig_encode_base64(sig, (char *)b64);
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
	int rc = read_feed(path, &data, err, errlen);
	if (rc)
		return rc == GK_ENOMEM ? rc : GK_EIO;
	const char *name = is_stdin ? "<stdin>" : path;
	gk_feed_header_t h;
	char e2[16];
	if (!gk_sync_feed_header_parse(name, data.p, data.len, &h, e2, sizeof(e2)) &&
	    h.type == GK_FEED_TYPE_IP)
		rc = gk_sync_ip_lint(name, data.p, data.len, out, findings, err, errlen);
	else
		rc = gk_sync_lint_feed(name, data.p, data.len, psl, out, findings, err, errlen);
	bytes_free(&data);
	return rc;
}
