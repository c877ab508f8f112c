/* SPDX-License-Identifier: MIT */
/* src/xfr/save.c -- persisted files written in batches with one flush each (save.h).
 *
 * The loop thread appends jobs to a queue under mu and signals cv; the saver thread takes the
 * whole queue as one batch, writes it, flushes, renames, and hands the finished jobs back
 * under mu, waking the loop with an async send. Nothing else is shared.
 */
/* syncfs(2): _GNU_SOURCE comes from the build */
#include "xfr/save.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/thread.h"

struct job {
	char *path, *data;
	size_t len;
	void *tag;
	int rc;
	struct job *next;
};

struct gk_xfr_saver {
	uv_loop_t *loop;
	const char *dir;
	gk_xfr_saved_fn done;
	void *ctx;
	uv_async_t async;
	uv_thread_t thr;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct job *todo, **todo_tail; /* queued by the loop */
	struct job *fin, **fin_tail;   /* finished, for the loop */
	bool stop;
};

static void job_free(struct job *j)
{
	free(j->path);
	free(j->data);
	free(j);
}

static int write_all(int fd, const char *p, size_t len)
{
	for (size_t o = 0; o < len;) {
		ssize_t w = write(fd, p + o, len - o);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		o += (size_t)w;
	}
	return 0;
}

/* Write every job's temporary file, flush them all, rename them into place. */
static void run_batch(gk_xfr_saver_t *sv, struct job *batch)
{
	char tmp[PATH_MAX + 8];
	int flushfd = -1;
	for (struct job *j = batch; j; j = j->next) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			j->rc = -errno;
			continue;
		}
		j->rc = write_all(fd, j->data, j->len);
		if (close(fd) != 0 && j->rc == 0)
			j->rc = -errno;
		if (j->rc != 0)
			unlink(tmp);
	}
	/* every temporary file's data on disk with one flush of the file system */
	int dfd = open(sv->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	flushfd = dfd;
	int frc = dfd >= 0 && syncfs(dfd) == 0 ? 0 : -errno;
	for (struct job *j = batch; j; j = j->next) {
		if (j->rc != 0)
			continue;
		snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
		if (frc != 0 || rename(tmp, j->path) != 0) {
			j->rc = frc ? frc : -errno;
			unlink(tmp);
		}
	}
	if (flushfd >= 0) {
		(void)fsync(flushfd); /* the renames */
		close(flushfd);
	}
}

static void thread_main(void *arg)
{
	gk_xfr_saver_t *sv = arg;
	gk_thread_name("gk-xfr-save");
	uv_mutex_lock(&sv->mu);
	for (;;) {
		while (!sv->todo && !sv->stop)
			uv_cond_wait(&sv->cv, &sv->mu);
		if (sv->stop)
			break;
		struct job *batch = sv->todo;
		sv->todo = NULL;
		sv->todo_tail = &sv->todo;
		uv_mutex_unlock(&sv->mu);
		run_batch(sv, batch);
		uv_mutex_lock(&sv->mu);
		struct job *last = batch;
		while (last->next)
			last = last->next;
		*sv->fin_tail = batch;
		sv->fin_tail = &last->next;
		uv_mutex_unlock(&sv->mu);
		uv_async_send(&sv->async);
		uv_mutex_lock(&sv->mu);
	}
	uv_mutex_unlock(&sv->mu);
}

static void closed(uv_handle_t *h);

static void async_cb(uv_async_t *a)
{
	gk_xfr_saver_t *sv = a->data;
	uv_mutex_lock(&sv->mu);
	struct job *j = sv->fin;
	sv->fin = NULL;
	sv->fin_tail = &sv->fin;
	uv_mutex_unlock(&sv->mu);
	while (j) {
		struct job *next = j->next;
		sv->done(sv->ctx, j->tag, j->rc, j->path);
		job_free(j);
		j = next;
	}
}

int gk_xfr_saver_create(uv_loop_t *loop, const char *dir, gk_xfr_saved_fn done, void *ctx,
                        gk_xfr_saver_t **out)
{
	gk_xfr_saver_t *sv = calloc(1, sizeof(*sv));
	if (!sv)
		return GK_ENOMEM;
	sv->loop = loop;
	sv->dir = dir;
	sv->done = done;
	sv->ctx = ctx;
	sv->todo_tail = &sv->todo;
	sv->fin_tail = &sv->fin;
	int rc = uv_mutex_init(&sv->mu);
	if (rc != 0) {
		free(sv);
		return rc;
	}
	if ((rc = uv_cond_init(&sv->cv)) != 0) {
		uv_mutex_destroy(&sv->mu);
		free(sv);
		return rc;
	}
	if ((rc = uv_async_init(loop, &sv->async, async_cb)) != 0) {
		uv_cond_destroy(&sv->cv);
		uv_mutex_destroy(&sv->mu);
		free(sv);
		return rc;
	}
	sv->async.data = sv;
	if ((rc = uv_thread_create(&sv->thr, thread_main, sv)) != 0) {
		/* freed when the handle has closed: the caller runs the loop */
		uv_close((uv_handle_t *)&sv->async, closed);
		return rc;
	}
	*out = sv;
	return 0;
}

int gk_xfr_saver_put(gk_xfr_saver_t *sv, const char *path, char *data, size_t len, void *tag)
{
	struct job *j = calloc(1, sizeof(*j));
	char *p = strdup(path);
	if (!j || !p) {
		free(j);
		free(p);
		free(data);
		return GK_ENOMEM;
	}
	*j = (struct job){.path = p, .data = data, .len = len, .tag = tag};
	uv_mutex_lock(&sv->mu);
	*sv->todo_tail = j;
	sv->todo_tail = &j->next;
	uv_cond_signal(&sv->cv);
	uv_mutex_unlock(&sv->mu);
	return 0;
}

static void closed(uv_handle_t *h)
{
	gk_xfr_saver_t *sv = h->data;
	uv_cond_destroy(&sv->cv);
	uv_mutex_destroy(&sv->mu);
	free(sv);
}

void gk_xfr_saver_close(gk_xfr_saver_t *sv)
{
	if (!sv)
		return;
	uv_mutex_lock(&sv->mu);
	sv->stop = true;
	uv_cond_signal(&sv->cv);
	uv_mutex_unlock(&sv->mu);
	uv_thread_join(&sv->thr);
	struct job *lists[2] = {sv->todo, sv->fin};
	for (int i = 0; i < 2; i++)
		while (lists[i]) {
			struct job *n = lists[i]->next;
			job_free(lists[i]);
			lists[i] = n;
		}
	sv->todo = sv->fin = NULL;
	uv_close((uv_handle_t *)&sv->async, closed);
}
