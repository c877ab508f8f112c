/* SPDX-License-Identifier: MIT */
/* src/control/conn.c -- the control socket: listener, connections, request framing.
 *
 * A connection reads until a newline, hands the line to the handler and stops reading
 * until the handler's answer is done; then it goes on with what it already buffered. Its
 * memory is freed once its two handles are closed and no answer is outstanding, so a
 * handler that finishes after the client left writes to nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/log.h"
#include "control/control.h"

struct gk_control {
	uv_loop_t *loop;
	uv_pipe_t listen;
	char *path;
	gk_control_handler_fn fn;
	void *ctx;
	unsigned n_conns;
	struct conn *conns; /* open connections (doubly linked) */
	bool closing;
};

struct gk_control_req {
	char *out; /* answer so far */
	size_t len, cap;
	bool nomem;
	gk_control_more_fn more; /* after a flush: called once it is written */
	void *more_ctx;
};

struct conn {
	uv_pipe_t h;
	uv_timer_t idle;
	gk_control_t *c;
	struct conn *prev, *next;
	char in[GK_CONTROL_LINE_MAX];
	size_t in_len;
	unsigned open_handles;
	bool busy;        /* a request is with the handler */
	bool closing;     /* handles closing (or closed) */
	bool close_after; /* close once the pending write is done */
	bool in_process;  /* inside process(): it goes on by itself */
	gk_control_req_t req;
};

static void conn_maybe_free(struct conn *k)
{
	if (k->open_handles == 0 && !k->busy && !k->in_process) {
		free(k->req.out);
		free(k);
	}
}

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *k = h->data;
	k->open_handles--;
	conn_maybe_free(k);
}

static void conn_close(struct conn *k)
{
	if (k->closing)
		return;
	k->closing = true;
	gk_control_t *c = k->c;
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->n_conns--;
	uv_close((uv_handle_t *)&k->h, on_conn_closed);
	uv_close((uv_handle_t *)&k->idle, on_conn_closed);
}

struct wreq {
	uv_write_t w;
	struct conn *k; /* NULL: do not touch the connection */
	char *buf;
	bool flush; /* part of an answer: call the handler's more() once written */
};

static void process(struct conn *k);

static void on_written(uv_write_t *w, int status)
{
	struct wreq *r = (struct wreq *)w;
	free(r->buf);
	struct conn *k = r->k;
	bool flush = r->flush;
	free(r);
	if (flush) { /* the request is still open (busy): k lives until it is done */
		if (status != 0)
			conn_close(k);
		k->req.more(k->req.more_ctx, &k->req);
		return;
	}
	if (k == NULL || k->closing)
		return;
	if (status != 0 || k->close_after)
		conn_close(k);
}

/* Send buf[0..len) (taken). */
static void send_buf(struct conn *k, char *buf, size_t len)
{
	struct wreq *r = malloc(sizeof(*r));
	if (r == NULL) {
		free(buf);
		conn_close(k);
		return;
	}
	r->k = k;
	r->buf = buf;
	r->flush = false;
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	if (uv_write(&r->w, (uv_stream_t *)&k->h, &b, 1, on_written) != 0) {
		free(buf);
		free(r);
		conn_close(k);
	}
}

static void send_text(struct conn *k, const char *text)
{
	char *b = strdup(text);
	if (b == NULL)
		conn_close(k);
	else
		send_buf(k, b, strlen(b));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *k = h->data;
	(void)suggested;
	buf->base = k->in + k->in_len;
	buf->len = sizeof(k->in) - k->in_len;
}

static void on_idle(uv_timer_t *t)
{
	struct conn *k = t->data;
	gk_log(GK_LOG_DEBUG, "control: connection idle for %u ms, closed", GK_CONTROL_IDLE_MS);
	conn_close(k);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *k = s->data;
	(void)buf;
	if (n < 0) { /* EOF or error: an unfinished line is dropped, never executed */
		conn_close(k);
		return;
	}
	k->in_len += (size_t)n;
	process(k);
}

/* Run the complete requests in the buffer, one at a time; then read on. A handler that
 * answers at once ends its request inside the loop (in_process), not by recursion, so a
 * client's pipelined burst costs no stack. */
static void process(struct conn *k)
{
	if (k->in_process)
		return;
	k->in_process = true;
	while (!k->closing && !k->busy) {
		char *nl = memchr(k->in, '\n', k->in_len);
		if (nl == NULL) {
			if (k->in_len == sizeof(k->in)) {
				uv_read_stop((uv_stream_t *)&k->h);
				uv_timer_stop(&k->idle);
				k->close_after = true;
				char msg[96];
				snprintf(msg, sizeof(msg),
				         "error request line longer than %u bytes\n.\n",
				         GK_CONTROL_LINE_MAX);
				send_text(k, msg);
				break;
			}
			uv_read_start((uv_stream_t *)&k->h, on_alloc, on_read);
			/* the deadline runs from the end of the last answer, not the last byte */
			if (!uv_is_active((uv_handle_t *)&k->idle))
				uv_timer_start(&k->idle, on_idle, GK_CONTROL_IDLE_MS, 0);
			break;
		}
		uv_read_stop((uv_stream_t *)&k->h);
		uv_timer_stop(&k->idle);
		size_t ll = (size_t)(nl - k->in);
		gk_control_cmd_t *cmd = malloc(sizeof(*cmd));
		char err[256];
		k->busy = true;
		k->req.len = 0;
		k->req.nomem = false;
		int rc = cmd ? gk_control_parse(k->in, ll, cmd, err, sizeof(err)) : GK_ENOMEM;
		memmove(k->in, nl + 1, k->in_len - ll - 1);
		k->in_len -= ll + 1;
		if (rc == 0)
			k->c->fn(k->c->ctx, &k->req, cmd); /* ends with gk_control_done */
		else {
			gk_control_reply(&k->req, "error %s", cmd ? err : "out of memory");
			gk_control_done(&k->req);
		}
		free(cmd);
	}
	k->in_process = false;
	conn_maybe_free(k);
}

void gk_control_reply(gk_control_req_t *req, const char *fmt, ...)
{
	if (req->nomem)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t need = req->len + (size_t)n + 4; /* line, '\n', room for ".\n" and NUL */
	if (need > req->cap) {
		size_t nc = req->cap ? req->cap : 256;
		while (nc < need)
			nc *= 2;
		char *o = realloc(req->out, nc);
		if (o == NULL) {
			req->nomem = true;
			return;
		}
		req->out = o;
		req->cap = nc;
	}
	va_start(ap, fmt);
	vsnprintf(req->out + req->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	for (int i = 0; i < n; i++)
		if (req->out[req->len + (size_t)i] == '\n' ||
		    req->out[req->len + (size_t)i] == '\r')
			req->out[req->len + (size_t)i] = ' ';
	req->len += (size_t)n;
	req->out[req->len++] = '\n';
}

bool gk_control_flush(gk_control_req_t *req, gk_control_more_fn more, void *ctx)
{
	struct conn *k = (struct conn *)((char *)req - offsetof(struct conn, req));
	if (k->closing || req->nomem || req->len == 0)
		return false;
	struct wreq *r = malloc(sizeof(*r));
	if (r == NULL) {
		conn_close(k);
		return false;
	}
	r->k = k;
	r->buf = req->out;
	r->flush = true;
	uv_buf_t b = uv_buf_init(req->out, (unsigned)req->len);
	req->out = NULL;
	req->len = req->cap = 0;
	req->more = more;
	req->more_ctx = ctx;
	if (uv_write(&r->w, (uv_stream_t *)&k->h, &b, 1, on_written) != 0) {
		free(r->buf);
		free(r);
		conn_close(k);
		return false;
	}
	return true;
}

void gk_control_done(gk_control_req_t *req)
{
	struct conn *k = (struct conn *)((char *)req - offsetof(struct conn, req));
	k->busy = false;
	if (k->closing) {
		conn_maybe_free(k);
		return;
	}
	if (req->nomem) {
		req->len = 0;
		req->nomem = false;
		gk_control_reply(req, "error out of memory");
	}
	gk_control_reply(req, ".");
	if (req->nomem) {
		conn_close(k);
		return;
	}
	char *buf = req->out;
	size_t len = req->len;
	req->out = NULL;
	req->len = req->cap = 0;
	send_buf(k, buf, len);
	process(k);
}

static void on_connection(uv_stream_t *server, int status)
{
	gk_control_t *c = server->data;
	if (status != 0)
		return;
	struct conn *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return;
	k->c = c;
	uv_pipe_init(c->loop, &k->h, 0);
	uv_timer_init(c->loop, &k->idle);
	k->h.data = k->idle.data = k;
	k->open_handles = 2;
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	c->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&k->h) != 0) {
		conn_close(k);
		return;
	}
	/* owner only: the socket's mode says so, the peer's credentials confirm it */
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&k->h, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 ||
	    (cr.uid != geteuid() && cr.uid != 0)) {
		gk_log(GK_LOG_WARN, "control: connection from another user refused");
		k->close_after = true;
		send_text(k, "error permission denied\n.\n");
		return;
	}
	if (c->n_conns > GK_CONTROL_CONN_MAX) {
		gk_log(GK_LOG_WARN, "control: more than %u connections, one refused",
		       GK_CONTROL_CONN_MAX);
		k->close_after = true;
		send_text(k, "error too many control connections\n.\n");
		return;
	}
	process(k);
}

/* 0 when path is free (absent, or a stale socket now removed). */
static int clear_path(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(err, errlen, "control.socket %s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control.socket %s: exists and is not a socket; not touched",
		         path);
		return GK_EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "control.socket: %s", strerror(e));
		return -e;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (r == 0) {
		snprintf(err, errlen,
		         "control.socket %s: another process is listening on it (is gatekeeperd "
		         "already running?)",
		         path);
		return GK_EBUSY;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "control.socket %s: %s", path, strerror(e));
		return -e;
	}
	if (unlink(path) != 0) {
		e = errno;
		snprintf(err, errlen, "control.socket %s: cannot remove the stale socket: %s", path,
		         strerror(e));
		return -e;
	}
	gk_log(GK_LOG_INFO, "control: removed the stale socket %s", path);
	return 0;
}

static void on_listen_closed(uv_handle_t *h)
{
	gk_control_t *c = h->data;
	free(c->path);
	free(c);
}

int gk_control_open(uv_loop_t *loop, const char *path, gk_control_handler_fn fn, void *ctx,
                    gk_control_t **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control.socket %s: path too long", path);
		return GK_EINVAL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int rc = clear_path(path, err, errlen);
	if (rc != 0)
		return rc;
	gk_control_t *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->path = strdup(path)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* The node bind() creates takes the socket's mode (less the umask): 0600 from the
	 * start, no window with a wider one. */
	if (fd < 0 || fchmod(fd, 0600) != 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0) {
		rc = -errno;
		snprintf(err, errlen, "control.socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(c->path);
		free(c);
		return rc;
	}
	c->loop = loop;
	c->fn = fn;
	c->ctx = ctx;
	uv_pipe_init(loop, &c->listen, 0);
	c->listen.data = c;
	if ((rc = uv_pipe_open(&c->listen, fd)) != 0)
		close(fd);
	else
		rc = uv_listen((uv_stream_t *)&c->listen, 16, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "control.socket %s: %s", path, uv_strerror(rc));
		unlink(path);
		uv_close((uv_handle_t *)&c->listen, on_listen_closed);
		return rc;
	}
	*out = c;
	return 0;
}

void gk_control_close(gk_control_t *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = true;
	while (c->conns != NULL)
		conn_close(c->conns);
	unlink(c->path);
	uv_close((uv_handle_t *)&c->listen, on_listen_closed);
}
