/* SPDX-License-Identifier: MIT */
/* src/sync/watch.c -- apply feeds dropped into a directory, lowest serial first.
 *
 * Polling, not inotify: a poll every second is cheap next to a feed apply, works on every
 * file system (NFS drop directories included) and needs no event bookkeeping. A producer
 * must make a feed appear whole: write it (and its .sig) under a dot-name or *.tmp, then
 * rename. A feed without its .sig is not looked at yet.
 *
 * Nothing in the directory is trusted: an entry that is not a regular file (a symlink, a
 * FIFO, a directory) is never opened through, a FIFO never waited on, and a bad entry is
 * moved to rejected/ with its reason so the feeds after it are still applied.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "sync/sync.h"

typedef struct cand {
	char name[256];
	uint64_t serial;
	gk_feed_kind_t kind;
	int bad; /* header unreadable: reject with reason */
	char reason[512];
} cand_t;

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

static int cmp_cand(const void *a, const void *b)
{
	const cand_t *x = a, *y = b;
	if (x->bad != y->bad)
		return y->bad - x->bad; /* bad headers first: they only get moved away */
	if (x->serial != y->serial)
		return x->serial < y->serial ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void peek(const char *dir, cand_t *c)
{
	char path[4096], buf[65536];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, c->name);
	int fd = gk_sync_open_regular(path, &st, c->reason, sizeof(c->reason));
	if (fd == GK_ESYNTAX) { /* a symlink or not a regular file: reason set */
		c->bad = 1;
		return;
	}
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	uint64_t base;
	if (n < 0) {
		c->bad = 1;
		snprintf(c->reason, sizeof(c->reason), "%.400s: cannot read", c->name);
	} else if (gk_sync_feed_peek_header(path, buf, (size_t)n, &c->kind, &c->serial, &base,
	                                    c->reason, sizeof(c->reason))) {
		c->bad = 1;
	}
}

static void move_to(const char *dir, const char *name, const char *sub, const char *reason)
{
	char from[4096], to[4096];
	const char *suffixes[] = {"", ".sig"};
	for (int i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s%s", dir, name, suffixes[i]);
		snprintf(to, sizeof(to), "%s/%s/%s%s", dir, sub, name, suffixes[i]);
		if (rename(from, to) && i == 0)
			gk_log(GK_LOG_ERR, "watch: cannot move %s to %s: %s", from, to,
			       strerror(errno));
	}
	if (reason) {
		snprintf(to, sizeof(to), "%s/%s/%s.reason", dir, sub, name);
		int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		FILE *fp = fd < 0 ? NULL : fdopen(fd, "w");
		if (fp) {
			fprintf(fp, "%s\n", reason);
			fclose(fp);
		} else if (fd >= 0) {
			close(fd);
		}
	}
}

static size_t scan(const char *dir, cand_t **out)
{
	DIR *d = opendir(dir);
	size_t n = 0, cap = 0;
	cand_t *c = NULL;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		const char *nm = e->d_name;
		if (nm[0] == '.' || ends_with(nm, ".sig") || ends_with(nm, ".reason") ||
		    ends_with(nm, ".tmp") || strlen(nm) >= sizeof(c->name) || !strcmp(nm, "done") ||
		    !strcmp(nm, "rejected"))
			continue;
		/* lstat: a .sig that is a symlink or FIFO still makes NAME a candidate, so that it
		 * is rejected with a reason instead of lying in the spool */
		snprintf(path, sizeof(path), "%s/%s.sig", dir, nm);
		if (lstat(path, &st))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (lstat(path, &st))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			cand_t *nc = realloc(c, cap * sizeof(*nc));
			if (!nc)
				break;
			c = nc;
		}
		memset(&c[n], 0, sizeof(c[n]));
		snprintf(c[n].name, sizeof(c[n].name), "%s", nm);
		peek(dir, &c[n]);
		n++;
	}
	closedir(d);
	if (n)
		qsort(c, n, sizeof(*c), cmp_cand);
	*out = c;
	return n;
}

/* One round over the directory. Returns after the first feed that has to wait. */
static void round_once(const gk_sync_opts_t *o, const gk_watch_opts_t *w, const gk_psl_t *psl)
{
	cand_t *c = NULL;
	size_t n = scan(w->dir, &c);
	for (size_t i = 0; i < n && !*w->stop; i++) {
		char path[4096], err[1024];
		gk_feed_t *feed = NULL;
		if (c[i].bad) {
			gk_log(GK_LOG_WARN, "watch: rejected %s", c[i].reason);
			move_to(w->dir, c[i].name, "rejected", c[i].reason);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", w->dir, c[i].name);
		int rc =
		    gk_sync_load(path, NULL, w->pubkey, psl, w->threads,
		                 o->no_records ? GK_FEED_NO_RECORDS : 0, &feed, err, sizeof(err));
		if (rc == GK_ESYNTAX) {
			gk_log(GK_LOG_WARN, "watch: rejected %s", err);
			move_to(w->dir, c[i].name, "rejected", err);
			continue;
		}
		if (rc) {
			gk_log(GK_LOG_ERR, "watch: %s: %s (will retry)", c[i].name, err);
			break;
		}
		gk_sync_stats_t st;
		rc = gk_sync_apply(o, feed, path, &st, err, sizeof(err));
		gk_sync_feed_free(feed);
		if (rc == 0 && st.already_applied) {
			gk_log(GK_LOG_INFO,
			       "watch: %s serial %llu was already applied: nothing written",
			       c[i].name, (unsigned long long)c[i].serial);
			move_to(w->dir, c[i].name, "done", NULL);
		} else if (rc == 0) {
			gk_log(GK_LOG_INFO,
			       "watch: applied %s serial %llu: +%llu ~%llu -%llu in %.2f s",
			       c[i].name, (unsigned long long)c[i].serial,
			       (unsigned long long)st.added, (unsigned long long)st.changed,
			       (unsigned long long)st.removed, st.seconds);
			move_to(w->dir, c[i].name, "done", NULL);
		} else if (rc == GK_ESYNTAX) {
			gk_log(GK_LOG_WARN, "watch: rejected %s", err);
			move_to(w->dir, c[i].name, "rejected", err);
		} else if (rc == GK_EAGAIN) {
			gk_log(GK_LOG_DEBUG, "watch: waiting: %s", err);
			break;
		} else {
			gk_log(GK_LOG_ERR, "watch: %s: %s (will retry)", c[i].name, err);
			break;
		}
	}
	free(c);
}

int gk_sync_watch(const gk_sync_opts_t *o, const gk_watch_opts_t *w, const gk_psl_t *psl)
{
	const char *subs[] = {"done", "rejected"};
	for (int i = 0; i < 2; i++) {
		char p[4096];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", w->dir, subs[i]);
		if (mkdir(p, 0755) && errno != EEXIST) {
			gk_log(GK_LOG_ERR, "watch: cannot create %s: %s", p, strerror(errno));
			return GK_EIO;
		}
		if (lstat(p, &st) || !S_ISDIR(st.st_mode)) { /* not a symlink to elsewhere */
			gk_log(GK_LOG_ERR, "watch: %s is not a directory", p);
			return GK_EIO;
		}
	}
	unsigned interval = w->interval_ms ? w->interval_ms : 1000;
	gk_log(GK_LOG_INFO, "watch: %s every %u ms", w->dir, interval);
	while (!*w->stop) {
		round_once(o, w, psl);
		for (unsigned slept = 0; slept < interval && !*w->stop; slept += 50) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	gk_log(GK_LOG_INFO, "watch: stopping");
	return 0;
}
