/* SPDX-License-Identifier: MIT */
/* tests/unit/redis/test_session.c -- the asynchronous Redis session (src/redis/session.h)
 * against a private redis-server started here on a free loopback port (GK_REDIS_SERVER),
 * stopped, frozen and restarted by its PID.
 *
 * The state machine: READY only once the server answered (AUTH, or PING without
 * credentials); a refused AUTH reported to on_state; a reply timeout on a frozen
 * (SIGSTOPped) server, whose age counts from the last reply, not from the reconnects its
 * kernel still accepts; a blocking command allowed its block time; a reconnect after the
 * server restarts; the READONLY hook on a replica. Every wait is on an event of the loop,
 * with a generous bound that only turns a hang into a failure.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "redis/session.h"

#define BOUND_MS 30000u /* a hang fails the test after this */

static char dir[] = "/tmp/gk-test-session-XXXXXX";

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &l) != 0)
		return -1;
	close(s);
	return ntohs(a.sin_port);
}

/* Start redis-server on port with extra arguments (NULL-terminated); wait until it answers
 * PING (with password when given). Returns its PID. */
static pid_t redis_start(int port, const char *password, ...)
{
	const char *bin = getenv("GK_REDIS_SERVER");
	if (bin == NULL || access(bin, X_OK) != 0)
		fail_msg("GK_REDIS_SERVER (redis-server) is not set or not executable: %s",
		         bin ? bin : "(unset)");
	const char *argv[32];
	int n = 0;
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	argv[n++] = bin;
	argv[n++] = "--port";
	argv[n++] = p;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = dir;
	va_list ap;
	va_start(ap, password);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 30;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	for (int i = 0; i < 1000; i++) {
		redisContext *c = redisConnect("127.0.0.1", port);
		bool ok = false;
		if (c && !c->err) {
			redisReply *r = password ? redisCommand(c, "AUTH %s", password) : NULL;
			if (r)
				freeReplyObject(r);
			r = redisCommand(c, "PING");
			ok = r && r->type == REDIS_REPLY_STATUS;
			if (r)
				freeReplyObject(r);
		}
		if (c)
			redisFree(c);
		if (ok)
			return pid;
		assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* it did not exit */
		usleep(10000);
	}
	fail_msg("redis-server on port %d did not answer", port);
	return -1;
}

static void redis_stop(pid_t pid)
{
	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* --- a session and what it reported ------------------------------------------------------ */

struct obs {
	gk_redis_session_state_t state;
	unsigned ready, down, connecting;
	char why[700];
	unsigned replies;
	redisReply last; /* type and integer of the last reply */
	int ro_calls;
	bool ro;
};

static void on_state(gk_redis_session_t *s, gk_redis_session_state_t st, const char *why, void *ctx)
{
	(void)s;
	struct obs *o = ctx;
	o->state = st;
	if (st == GK_REDIS_SESSION_READY)
		o->ready++;
	else if (st == GK_REDIS_SESSION_DOWN)
		o->down++;
	else
		o->connecting++;
	if (why)
		snprintf(o->why, sizeof(o->why), "%s", why);
}

static void on_readonly(gk_redis_session_t *s, bool ro, const char *errstr, void *ctx)
{
	(void)s;
	(void)errstr;
	struct obs *o = ctx;
	o->ro_calls++;
	o->ro = ro;
}

static void on_reply(gk_redis_session_t *s, redisReply *r, void *priv)
{
	(void)priv;
	struct obs *o = gk_redis_session_ctx(s);
	o->replies++;
	o->last.type = r->type;
	o->last.integer = r->integer;
}

static void on_write(gk_redis_session_t *s, redisReply *r, void *priv)
{
	on_reply(s, r, priv);
	gk_redis_session_check_write(s, r);
}

static uv_loop_t loop;

/* Run the loop until pred(o) holds; fails after BOUND_MS. */
static void run_until(struct obs *o, bool (*pred)(const struct obs *), const char *what)
{
	uint64_t t0 = gk_redis_session_now_ms();
	while (!pred(o)) {
		if (gk_redis_session_now_ms() - t0 > BOUND_MS)
			fail_msg("timed out waiting for %s (state %d, why '%s')", what, o->state,
			         o->why);
		uv_run(&loop, UV_RUN_ONCE);
	}
}

static bool is_ready(const struct obs *o)
{
	return o->state == GK_REDIS_SESSION_READY;
}
static bool is_down(const struct obs *o)
{
	return o->state == GK_REDIS_SESSION_DOWN && o->down > 0;
}
static unsigned want_replies, want_down;
static bool has_replies(const struct obs *o)
{
	return o->replies >= want_replies;
}
static bool has_downs(const struct obs *o)
{
	return o->down >= want_down;
}

static gk_redis_session_t *session(struct obs *o, int port, const char *password, unsigned links,
                                   unsigned cmd_ms)
{
	memset(o, 0, sizeof(*o));
	gk_redis_target_t t = {0};
	gk_redis_addr_set(&t.addr, "127.0.0.1", (uint16_t)port, NULL);
	gk_redis_auth_t auth = {0};
	if (password)
		assert_int_equal(gk_redis_auth_set(&auth, NULL, password), 0);
	gk_redis_session_conf_t c = {.who = "test",
	                             .target = &t,
	                             .auth = &auth,
	                             .links = links,
	                             .connect_timeout_ms = 300,
	                             .command_timeout_ms = cmd_ms,
	                             .backoff_min_ms = 20,
	                             .reconnect_max_ms = 100,
	                             .on_state = on_state,
	                             .on_readonly = on_readonly,
	                             .ctx = o};
	gk_redis_session_t *s = NULL;
	assert_int_equal(gk_redis_session_create(&loop, &c, &s), 0);
	gk_redis_auth_clear(&auth);
	gk_redis_session_start(s);
	return s;
}

static void done(gk_redis_session_t *s)
{
	gk_redis_session_close(s);
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
		;
}

/* --- tests ------------------------------------------------------------------------------- */

/* READY after AUTH; a refused AUTH is reported (why names the user and WRONGPASS) and the
 * session keeps retrying, never READY. */
static void test_auth(void **state)
{
	(void)state;
	int port = free_port();
	pid_t pid = redis_start(port, "sesame", "--requirepass", "sesame", NULL);
	struct obs o;
	gk_redis_session_t *s = session(&o, port, "sesame", 1, 1000);
	run_until(&o, is_ready, "READY with the right password");
	assert_true(gk_redis_session_last_reply_ms(s) > 0); /* the AUTH reply */
	assert_int_equal(gk_redis_session_cmd(s, 0, on_reply, NULL, 0, "INCR k"), 0);
	want_replies = 1;
	run_until(&o, has_replies, "INCR's reply");
	assert_int_equal(o.last.type, REDIS_REPLY_INTEGER);
	done(s);

	s = session(&o, port, "wrong", 1, 1000);
	want_down = 2;
	run_until(&o, has_downs, "two refused AUTHs");
	assert_int_equal(o.ready, 0);
	assert_non_null(strstr(o.why, "AUTH failed for user default"));
	assert_non_null(strstr(o.why, "WRONGPASS"));
	assert_true(gk_redis_session_reconnects(s) >= 1);
	done(s);

	/* no credentials against a server that wants them: the PING is refused (NOAUTH) */
	s = session(&o, port, NULL, 1, 1000);
	run_until(&o, is_down, "PING refused");
	assert_non_null(strstr(o.why, "NOAUTH"));
	assert_int_equal(o.ready, 0);
	done(s);
	redis_stop(pid);
}

static uint64_t frozen_reply_ms;
static bool connect_attempt_failed(const struct obs *o)
{
	return o->down >= want_down && o->state == GK_REDIS_SESSION_DOWN;
}

/* A frozen server: the outstanding command times out (the link is declared dead), the
 * reconnects its kernel still accepts never make the session READY, and the last reply's
 * time does not move until the server answers again. */
static void test_frozen(void **state)
{
	(void)state;
	int port = free_port();
	pid_t pid = redis_start(port, NULL, NULL);
	struct obs o;
	gk_redis_session_t *s = session(&o, port, NULL, 1, 400);
	run_until(&o, is_ready, "READY");
	assert_int_equal(gk_redis_session_cmd(s, 0, on_reply, NULL, 0, "PING"), 0);
	want_replies = 1;
	run_until(&o, has_replies, "PING's reply");
	uint64_t last = gk_redis_session_last_reply_ms(s);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	uint64_t t0 = gk_redis_session_now_ms();
	assert_int_equal(gk_redis_session_cmd(s, 0, on_reply, NULL, 0, "PING"), 0);
	run_until(&o, is_down, "the reply timeout");
	assert_true(gk_redis_session_now_ms() - t0 >= 400);
	assert_non_null(strstr(o.why, "command timeout"));
	assert_int_equal(o.replies, 1);
	/* three more attempts: TCP connects complete from the backlog, AUTH/PING never
	 * answered: connect timeouts, never READY, no reply */
	want_down = o.down + 3;
	run_until(&o, connect_attempt_failed, "three connect attempts to the frozen server");
	assert_int_equal(o.ready, 1);
	assert_non_null(strstr(o.why, "connect timeout"));
	frozen_reply_ms = gk_redis_session_last_reply_ms(s);
	assert_true(frozen_reply_ms == last);
	assert_int_equal(kill(pid, SIGCONT), 0);
	run_until(&o, is_ready, "READY after the thaw");
	assert_true(gk_redis_session_last_reply_ms(s) > last);
	done(s);
	redis_stop(pid);
}

/* A blocking command on its own link is allowed its block time on top of the timeout. */
static void test_blocking(void **state)
{
	(void)state;
	int port = free_port();
	pid_t pid = redis_start(port, NULL, NULL);
	struct obs o;
	gk_redis_session_t *s = session(&o, port, NULL, 2, 300);
	run_until(&o, is_ready, "READY (two links)");
	uint64_t t0 = gk_redis_session_now_ms();
	assert_int_equal(gk_redis_session_cmd(s, 1, on_reply, NULL, 1000, "BLPOP nothing 0.8"), 0);
	want_replies = 1;
	run_until(&o, has_replies, "BLPOP's nil after its block time");
	assert_true(gk_redis_session_now_ms() - t0 >= 700);
	assert_int_equal(o.last.type, REDIS_REPLY_NIL);
	assert_int_equal(o.down, 0);
	/* the same without the allowance: the link is declared dead */
	assert_int_equal(gk_redis_session_cmd(s, 1, on_reply, NULL, 0, "BLPOP nothing 2"), 0);
	run_until(&o, is_down, "the reply timeout of an unallowed block");
	assert_non_null(strstr(o.why, "command timeout"));
	run_until(&o, is_ready, "READY again");
	done(s);
	redis_stop(pid);
}

/* The server restarts: the session goes DOWN and comes back by itself. */
static void test_restart(void **state)
{
	(void)state;
	int port = free_port();
	pid_t pid = redis_start(port, NULL, NULL);
	struct obs o;
	gk_redis_session_t *s = session(&o, port, NULL, 2, 1000);
	run_until(&o, is_ready, "READY");
	redis_stop(pid);
	run_until(&o, is_down, "DOWN after the server stopped");
	assert_int_equal(gk_redis_session_cmd(s, 0, on_reply, NULL, 0, "PING"), GK_EIO);
	want_down = o.down + 2;
	run_until(&o, has_downs, "failed attempts while the server is away");
	assert_non_null(strstr(o.why, "connect"));
	pid = redis_start(port, NULL, NULL);
	run_until(&o, is_ready, "READY after the restart");
	assert_int_equal(o.ready, 2);
	assert_true(gk_redis_session_reconnects(s) >= 3);
	assert_int_equal(gk_redis_session_cmd(s, 0, on_reply, NULL, 0, "PING"), 0);
	want_replies = o.replies + 1;
	run_until(&o, has_replies, "PING after the restart");
	done(s);
	redis_stop(pid);
}

/* A replica refuses writes: the READONLY hook is called once per transition. */
static void test_readonly(void **state)
{
	(void)state;
	int port = free_port(), rport = free_port();
	pid_t pid = redis_start(port, NULL, NULL);
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	pid_t rpid = redis_start(rport, NULL, "--replicaof", "127.0.0.1", ps, NULL);
	struct obs o;
	gk_redis_session_t *s = session(&o, rport, NULL, 1, 1000);
	run_until(&o, is_ready, "READY on the replica");
	for (int i = 0; i < 2; i++)
		assert_int_equal(gk_redis_session_cmd(s, 0, on_write, NULL, 0, "SET k v"), 0);
	want_replies = 2;
	run_until(&o, has_replies, "two refused writes");
	assert_int_equal(o.last.type, REDIS_REPLY_ERROR);
	assert_int_equal(o.ro_calls, 1);
	assert_true(o.ro);
	assert_int_equal(o.down, 0); /* an error reply is the owner's to judge */
	done(s);
	s = session(&o, port, NULL, 1, 1000);
	run_until(&o, is_ready, "READY on the primary");
	assert_int_equal(gk_redis_session_cmd(s, 0, on_write, NULL, 0, "SET k v"), 0);
	want_replies = 1;
	run_until(&o, has_replies, "the write");
	assert_int_equal(o.ro_calls, 0); /* a new session starts writable */
	done(s);
	redis_stop(rpid);
	redis_stop(pid);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return -1;
	return uv_loop_init(&loop);
}

static int teardown(void **state)
{
	(void)state;
	uv_loop_close(&loop);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth),     cmocka_unit_test(test_frozen),
	    cmocka_unit_test(test_blocking), cmocka_unit_test(test_restart),
	    cmocka_unit_test(test_readonly),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
