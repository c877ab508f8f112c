/* SPDX-License-Identifier: MIT */
/* tests/unit/polsync/test_polsync.c -- polsync and gkctl's policy verbs against a private
 * redis-server (started here on a free loopback port, stopped by its PID).
 *
 * A push is handed over (and the version reported); a bundle tampered with in Redis, a push
 * signed by a key the daemon does not trust, a signed but uncompilable bundle and a pointer
 * moved back to an older version are each rejected with their reason while the policy in
 * force stays; a rollback is a new version handed over; a version pushed before polsync
 * starts is picked up at start. As in gatekeeperd, the change stream is read by a status
 * replica (gk_status) whose tail tells the follower of each policy entry (gk_polsync_notify).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ctl/ctl.h"
#include "polstore/polstore.h"
#include "polsync/polsync.h"
#include "status/status.h"
#include "sync/sig.h"

static pid_t redis_pid;
static int redis_port;
static char dir[] = "/tmp/gk-test-polsync-XXXXXX";
static char addr[64], k1[128], p1[128], k2[128], p2[128], pol[128];
static _Atomic uint64_t got_version, got_reject;
static char reject_why[512];

/* Every wait here is for an event (a callback, a server answering); WAIT_MS only bounds a
 * failure (a loaded machine under the sanitizers is slow): nothing is proved by it. */
#define WAIT_MS 120000u

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &l) != 0)
		return -1;
	close(s);
	return ntohs(a.sin_port);
}

static redisContext *rconn(void)
{
	redisContext *c = redisConnect("127.0.0.1", redis_port);
	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	const char *bin = getenv("GK_REDIS_SERVER");
	if (bin == NULL || access(bin, X_OK) != 0) {
		fprintf(stderr,
		        "GK_REDIS_SERVER (redis-server: Debian package redis-server, "
		        "scripts/deps.sh) is not set or not executable: %s\n",
		        bin ? bin : "(unset)");
		return -1;
	}
	if (!mkdtemp(dir) || (redis_port = free_port()) < 0)
		return -1;
	char port[16];
	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
		      "no", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end;) {
		redisContext *c = redisConnect("127.0.0.1", redis_port);
		if (c && !c->err) {
			redisReply *r = redisCommand(c, "PING");
			bool ok = r && r->type == REDIS_REPLY_STATUS;
			if (r)
				freeReplyObject(r);
			redisFree(c);
			if (ok)
				break;
		} else if (c) {
			redisFree(c);
		}
		usleep(10000);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", redis_port);
	snprintf(k1, sizeof(k1), "%s/op1.key", dir);
	snprintf(p1, sizeof(p1), "%s/op1.pub", dir);
	snprintf(k2, sizeof(k2), "%s/op2.key", dir);
	snprintf(p2, sizeof(p2), "%s/op2.pub", dir);
	snprintf(pol, sizeof(pol), "%s/policy.yaml", dir);
	char err[512];
	if (gk_sync_sig_keygen(k1, p1, 0, err, sizeof(err)) ||
	    gk_sync_sig_keygen(k2, p2, 0, err, sizeof(err)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	const char *files[] = {"op1.key",     "op1.pub",   "op2.key",  "op2.pub",
	                       "policy.yaml", "block.txt", "bad.json", "bad.sig"};
	char path[256];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

static void on_policy(void *ctx, gk_policy_t *p, uint64_t version, const char *key_id)
{
	(void)ctx;
	(void)key_id;
	gk_policy_free(p);
	atomic_store(&got_version, version);
}

static void on_reject(void *ctx, uint64_t version, const char *why)
{
	(void)ctx;
	snprintf(reject_why, sizeof(reject_why), "%s", why);
	atomic_store(&got_reject, version);
}

/* Wait until *what == v: an event, not a time. */
static bool wait_for(_Atomic uint64_t *what, uint64_t v)
{
	uint64_t end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		if (atomic_load(what) == v)
			return true;
		usleep(1000);
	}
	return atomic_load(what) == v;
}

static int push(const char *key, const char *block)
{
	write_file("block.txt", block);
	gk_ctl_opts_t o = {.redis = addr, .key = key, .message = "test"};
	FILE *null = fopen("/dev/null", "w");
	int rc = gk_ctl_policy_push(&o, pol, null, stderr);
	fclose(null);
	return rc;
}

static void announce(redisContext *c, uint64_t v)
{
	redisReply *r = redisCommand(c, "SET gk:pol:current %llu", (unsigned long long)v);
	freeReplyObject(r);
	r = redisCommand(c, "XADD gk:changes * k pol v %llu a push", (unsigned long long)v);
	freeReplyObject(r);
}

/* The daemon's wiring: the replica's tail reads the change stream and notifies ps. */
static gk_status_t *tail_st;

static void tail_notify(void *ctx)
{
	gk_polsync_notify(ctx);
}

static void tail_start(gk_polsync_t *ps)
{
	/* a replica tails once it has loaded a status set: give it one (empty, serial 1) */
	redisContext *c = rconn();
	freeReplyObject(redisCommand(c, "SET gk:serial 1 NX"));
	redisFree(c);
	gk_status_conf_t sc = {.redis_host = "127.0.0.1",
	                       .redis_port = (uint16_t)redis_port,
	                       .instance_id = "test-polsync",
	                       .connect_timeout_ms = 500,
	                       .reconnect_max_ms = 300,
	                       .policy_changed = tail_notify,
	                       .policy_ctx = ps};
	assert_int_equal(gk_status_create(&sc, &tail_st), 0);
	assert_int_equal(gk_status_start(tail_st), 0);
	/* announcements come from its tail: wait until it loaded and tails (a full load of
	 * every bucket takes a while under the sanitizers) */
	gk_status_info_t in = {0};
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; usleep(1000)) {
		gk_status_info(tail_st, &in);
		if (in.ready)
			break;
	}
	assert_true(in.ready);
}

static void tail_stop(void)
{
	gk_status_free(tail_st); /* stops its thread first */
	tail_st = NULL;
	redisContext *c = rconn(); /* its heartbeat is no instance for gkctl status */
	freeReplyObject(redisCommand(c, "DEL gk:inst:test-polsync"));
	redisFree(c);
}

static void test_follow(void **state)
{
	(void)state;
	char err[512];
	write_file("policy.yaml", "lists:\n  - {file: block.txt, format: plain, kind: block}\n");
	/* version 1 exists before polsync starts */
	assert_int_equal(push(k1, "one.cn\n"), GK_CTL_OK);
	const char *keys[] = {p1};
	gk_polsync_conf_t conf = {.redis_host = "127.0.0.1",
	                          .redis_port = (uint16_t)redis_port,
	                          .operator_keys = keys,
	                          .n_operator_keys = 1,
	                          .connect_timeout_ms = 500,
	                          .reconnect_max_ms = 300,
	                          .on_policy = on_policy,
	                          .on_reject = on_reject};
	gk_polsync_t *ps = NULL;
	assert_int_equal(gk_polsync_create(&conf, &ps, err, sizeof(err)), 0);
	assert_int_equal(gk_polsync_start(ps), 0);
	tail_start(ps);
	assert_true(wait_for(&got_version, 1));

	/* a push is handed over quickly */
	uint64_t t0 = now_ms();
	assert_int_equal(push(k1, "two.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_version, 2));
	print_message("push -> handed over: %llu ms\n", (unsigned long long)(now_ms() - t0));

	/* tampered: version 2's signature over other bytes */
	redisContext *c = rconn();
	redisReply *r = redisCommand(c, "HGETALL gk:pol:v:2");
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	freeReplyObject(r);
	r = redisCommand(c, "HMGET gk:pol:v:2 bundle sig key_id");
	char *b = strndup(r->element[0]->str, r->element[0]->len);
	char *two = strstr(b, "\"version\":2");
	assert_non_null(two);
	two[10] = '3';
	redisReply *w = redisCommand(c, "HSET gk:pol:v:3 bundle %s sig %s key_id %s action push", b,
	                             r->element[1]->str, r->element[2]->str);
	freeReplyObject(w);
	freeReplyObject(r);
	free(b);
	w = redisCommand(c, "SET gk:pol:seq 3");
	freeReplyObject(w);
	announce(c, 3);
	assert_true(wait_for(&got_reject, 3));
	assert_non_null(strstr(reject_why, "bad signature"));
	gk_polsync_info_t info;
	gk_polsync_info(ps, &info);
	assert_int_equal(info.applied, 2);
	assert_int_equal(info.rejected, 3);

	/* signed by a key the daemon does not trust */
	assert_int_equal(push(k2, "four.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_reject, 4));
	assert_non_null(strstr(reject_why, "unknown key"));
	assert_int_equal(atomic_load(&got_version), 2);

	/* signed, but does not compile: the compiler's file:line comes back */
	const char enc_c[] =
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":"
	    "\"\",\"policy\":{\"name\":\"policy.yaml\",\"sha256\":"
	    "\"721e6ead4884ece4b07f1925b729cca56974bbd84b505368d0ca55324d4299fb\","
	    "\"text\":\"bW9kZTogc2lkZXdheXMK\"},\"version\":5}"; /* mode: sideways */
	gk_polstore_bundle_t *bad = NULL;
	assert_int_equal(gk_polstore_bundle_decode(enc_c, strlen(enc_c), &bad, err, sizeof(err)),
	                 0);
	gk_polstore_bundle_free(bad);
	char *enc = strdup(enc_c);
	size_t len = strlen(enc);
	char sig[GK_POLSTORE_SIG_B64_LEN + 1], kid[GK_POLICY_KEY_ID_LEN + 1];
	assert_int_equal(gk_polstore_sign(k1, enc, len, sig, kid, err, sizeof(err)), 0);
	w = redisCommand(c, "HSET gk:pol:v:5 bundle %b sig %s key_id %s action push", enc, len, sig,
	                 kid);
	freeReplyObject(w);
	free(enc);
	w = redisCommand(c, "SET gk:pol:seq 5");
	freeReplyObject(w);
	announce(c, 5);
	assert_true(wait_for(&got_reject, 5));
	assert_non_null(strstr(reject_why, "policy.yaml:1:"));
	assert_int_equal(atomic_load(&got_version), 2);

	/* a good push after rejections; then the pointer moved back: rejected as a replay */
	assert_int_equal(push(k1, "six.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_version, 6));
	announce(c, 1);
	assert_true(wait_for(&got_reject, 1));
	assert_non_null(strstr(reject_why, "below the version in force"));

	/* rollback: version 7 with version 1's content */
	gk_ctl_opts_t o = {.redis = addr, .key = k1};
	FILE *null = fopen("/dev/null", "w");
	w = redisCommand(c, "SET gk:pol:current 6");
	freeReplyObject(w);
	assert_int_equal(gk_ctl_policy_rollback(&o, 1, null, stderr), GK_CTL_OK);
	fclose(null);
	assert_true(wait_for(&got_version, 7));
	gk_polsync_info(ps, &info);
	assert_int_equal(info.applied, 7);
	assert_true(info.connected);
	redisFree(c);

	tail_stop();
	gk_polsync_stop(ps);
	gk_polsync_free(ps);
}

static redisReply *rcmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
	return r;
}

static gk_polsync_t *follower(const char *sdir, uint64_t *kept)
{
	static const char *keys[1];
	keys[0] = p1;
	gk_polsync_conf_t conf = {.redis_host = "127.0.0.1",
	                          .redis_port = (uint16_t)redis_port,
	                          .operator_keys = keys,
	                          .n_operator_keys = 1,
	                          .connect_timeout_ms = 500,
	                          .reconnect_max_ms = 300,
	                          .on_policy = on_policy,
	                          .on_reject = on_reject,
	                          .state_dir = sdir};
	gk_polsync_t *ps = NULL;
	char err[512];
	assert_int_equal(gk_polsync_create(&conf, &ps, err, sizeof(err)), 0);
	gk_policy_t *p = NULL;
	*kept = 0;
	int rc = gk_polsync_load_state(ps, &p, kept, err, sizeof(err));
	assert_true(rc == 0 || rc == GK_ENOENT);
	assert_true((rc == 0) == (p != NULL));
	gk_policy_free(p);
	atomic_store(&got_version, 0);
	atomic_store(&got_reject, 999);
	assert_int_equal(gk_polsync_start(ps), 0);
	tail_start(ps);
	return ps;
}

static void done(gk_polsync_t *ps)
{
	tail_stop();
	gk_polsync_stop(ps);
	gk_polsync_free(ps);
}

/* Restarts: the last verified version is kept on disk and used at start when Redis offers
 * nothing newer that verifies (a restart with an unverifiable pointer fell back to the
 * policy file); a pointer or counter that is not a version is reported and does not stop
 * gkctl push; a state file that fails verification is not used. */
static void test_state(void **state)
{
	(void)state;
	char sdir[300], spath[400], err[512];
	uint64_t kept;
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	snprintf(spath, sizeof(spath), "%s/" GK_POLSTORE_STATE_FILE, sdir);
	redisContext *c = rconn();
	redisReply *r = rcmd(c, "GET gk:pol:current");
	uint64_t cur = strtoull(r->str, NULL, 10);
	freeReplyObject(r);

	/* the version in Redis is applied and kept */
	gk_polsync_t *ps = follower(sdir, &kept);
	assert_int_equal(kept, 0);
	assert_true(wait_for(&got_version, cur));
	done(ps);
	assert_int_equal(access(spath, R_OK), 0);

	/* an unverifiable version in Redis: cur's signature over a bundle claiming cur + 1 */
	r = rcmd(c, "HMGET gk:pol:v:%llu bundle sig key_id", (unsigned long long)cur);
	char *b = strndup(r->element[0]->str, r->element[0]->len), want[40], next[40];
	snprintf(want, sizeof(want), "\"version\":%llu}", (unsigned long long)cur);
	snprintf(next, sizeof(next), "\"version\":%llu}", (unsigned long long)cur + 1);
	char *at = strstr(b, want);
	assert_non_null(at);
	assert_int_equal(strlen(want), strlen(next));
	memcpy(at, next, strlen(next));
	freeReplyObject(rcmd(c, "HSET gk:pol:v:%llu bundle %s sig %s key_id %s action push",
	                     (unsigned long long)cur + 1, b, r->element[1]->str,
	                     r->element[2]->str));
	freeReplyObject(r);
	free(b);
	freeReplyObject(rcmd(c, "SET gk:pol:seq %llu", (unsigned long long)cur + 1));
	announce(c, cur + 1);
	ps = follower(sdir, &kept);
	assert_int_equal(kept, cur); /* in force before the first query */
	assert_true(wait_for(&got_reject, cur + 1));
	assert_non_null(strstr(reject_why, "bad signature"));
	gk_polsync_info_t info;
	gk_polsync_info(ps, &info);
	assert_int_equal(info.applied, cur);
	assert_int_equal(atomic_load(&got_version), 0);
	done(ps);

	/* a pointer that is not a version (2^63-1): reported as a rejection, the kept version
	 * stays; gkctl push replaces the pointer with the next version after the history */
	freeReplyObject(rcmd(c, "SET gk:pol:current 9223372036854775807"));
	announce(c, 9223372036854775807ull);
	ps = follower(sdir, &kept);
	assert_int_equal(kept, cur);
	assert_true(wait_for(&got_reject, 0));
	assert_non_null(strstr(reject_why, "not a version"));
	write_file("policy.yaml", "lists:\n  - {file: block.txt, format: plain, kind: block}\n");
	assert_int_equal(push(k1, "after.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_version, cur + 2));
	r = rcmd(c, "GET gk:pol:current");
	assert_int_equal(strtoull(r->str, NULL, 10), cur + 2);
	freeReplyObject(r);
	/* a counter that is not a version: the next number comes from the history */
	freeReplyObject(rcmd(c, "SET gk:pol:seq 9223372036854775807"));
	assert_int_equal(push(k1, "again.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_version, cur + 3));
	r = rcmd(c, "GET gk:pol:seq");
	assert_int_equal(strtoull(r->str, NULL, 10), cur + 3);
	freeReplyObject(r);
	/* a pointer naming a version that is not stored (the largest one) */
	freeReplyObject(rcmd(c, "SET gk:pol:current 9007199254740991"));
	assert_int_equal(push(k1, "third.cn\n"), GK_CTL_OK);
	assert_true(wait_for(&got_version, cur + 4));
	done(ps);

	/* a state file whose signature does not verify is not used */
	FILE *f = fopen(spath, "r+");
	assert_non_null(f);
	char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	char *sig = strstr(text, "\"sig\":\"");
	assert_non_null(sig);
	sig[8] = sig[8] == 'A' ? 'B' : 'A';
	rewind(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
	static const char *keys[1];
	keys[0] = p1;
	gk_polsync_conf_t conf = {.redis_host = "127.0.0.1",
	                          .redis_port = (uint16_t)redis_port,
	                          .operator_keys = keys,
	                          .n_operator_keys = 1,
	                          .on_policy = on_policy,
	                          .state_dir = sdir};
	assert_int_equal(gk_polsync_create(&conf, &ps, err, sizeof(err)), 0);
	gk_policy_t *p = NULL;
	assert_int_equal(gk_polsync_load_state(ps, &p, &kept, err, sizeof(err)), GK_ESYNTAX);
	assert_null(p);
	assert_non_null(strstr(err, spath));
	assert_non_null(strstr(err, "bad signature"));
	gk_polsync_free(ps);
	redisFree(c);
	unlink(spath);
	rmdir(sdir);
}

/* gkctl status: an instance on its policy file (or none) after a fleet push is flagged
 * policy-file / policy-off, one whose Redis offers a version that fails verification
 * policy-rejected: distinct states, exit 1; the fleet's instances on the current version
 * are ok. */
static void test_status_policy(void **state)
{
	(void)state;
	redisContext *c = rconn();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long now = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	freeReplyObject(rcmd(c, "SET gk:pol:current 12"));
	freeReplyObject(rcmd(c, "SET gk:serial 0"));
	static const struct {
		const char *id, *ver, *pstate, *perr, *want;
	} cases[] = {
	    {"i-ok", "12", "ok", "", "  ok"},
	    {"i-file", "", "file", "", "policy-file(not following fleet version 12)"},
	    {"i-off", "", "off", "", "policy-off(not following fleet version 12)"},
	    {"i-rej", "11", "rejected", "12: bad signature", "policy-rejected(12: bad signature)"},
	    {"i-ptr", "11", "rejected", "0: gk:pol:current holds 'x'", "policy-rejected(0: "},
	    {"i-lag", "11", "ok", "", "policy-lag"},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++)
		freeReplyObject(
		    rcmd(c,
		         "HSET gk:inst:%s serial 0 state ready redis connected "
		         "policy_version %s policy_state %s policy_error %s updated %llu",
		         cases[i].id, cases[i].ver, cases[i].pstate, cases[i].perr, now));
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	gk_ctl_opts_t o = {.redis = addr};
	assert_int_equal(gk_ctl_status(&o, out, stderr), GK_CTL_REJECT);
	fclose(out);
	print_message("%s", text);
	for (size_t i = 0; i < n; i++) {
		char *line = strstr(text, cases[i].id);
		assert_non_null(line);
		char *end = strchr(line, '\n');
		assert_non_null(end);
		*end = 0;
		if (!strstr(line, cases[i].want))
			fail_msg("%s: '%s' lacks '%s'", cases[i].id, line, cases[i].want);
		*end = '\n';
	}
	assert_non_null(strstr(text, "5 of 6 instances need attention"));
	free(text);
	/* only the instance on the current version left: ok, exit 0 */
	for (size_t i = 1; i < n; i++)
		freeReplyObject(rcmd(c, "DEL gk:inst:%s", cases[i].id));
	out = fopen("/dev/null", "w");
	assert_int_equal(gk_ctl_status(&o, out, stderr), GK_CTL_OK);
	fclose(out);
	freeReplyObject(rcmd(c, "DEL gk:inst:i-ok"));
	redisFree(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_follow),
	    cmocka_unit_test(test_state),
	    cmocka_unit_test(test_status_policy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
