/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_fwd.c -- the relays' packet caches (front/fwd.h): one per relay.
 *
 * A pool's cache_size is the whole process's: each relay (a thread) gets its share, whole
 * sets, at least one set, in a cache of its own (no lock on the query path), holding
 * exactly that many entries. A client's own ECS option through a relay and a backend socket
 * of the test's own: kept (cut) or replaced, echoed with the backend's scope, from the cache
 * too; an invalid one FORMERR with an Extended DNS Error saying so, nothing sent. The
 * relay's own SERVFAILs (backend unreachable, down, timed out, a malformed answer) with
 * their Extended DNS Errors, and the counters the metrics' reasons come from. The backend
 * sockets' source ports rotated (RFC 5452) with tries in flight: each answer read from the
 * socket it was sent from after that socket was replaced, no descriptor left behind.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <uv.h>
#include <unistd.h>
#include <sys/time.h>
#include <poll.h>

#include "front/cache.h"
#include "front/fwd.h"
#include "front/relay.h"

static void test_share(void **state)
{
	(void)state;
	assert_int_equal(gk_front_fwd_cache_share(65536, 4, 1), 16384);
	assert_int_equal(gk_front_fwd_cache_share(65536, 3, 1), 21845);
	assert_int_equal(gk_front_fwd_cache_share(65536, 1, 1), 65536);
	assert_int_equal(gk_front_fwd_cache_share(100, 0, 1), 100);
	assert_int_equal(gk_front_fwd_cache_share(10, 4, 1), 2);
	assert_int_equal(gk_front_fwd_cache_share(1, 4, 1), 1); /* at least one */
	assert_int_equal(gk_front_fwd_cache_share(1, 1, 1), 1);
	assert_int_equal(gk_front_fwd_cache_share(0, 4, 1), 0);
	for (unsigned r = 1; r <= 64; r++)
		assert_true(gk_front_fwd_cache_share(65536, r, 1) * r <= 65536);
	/* one worker, one UDP socket: the UDP thread's relay takes 8 of 9 parts, the loop's 1 */
	unsigned total = GK_FRONT_UDP_PARTS + 1;
	assert_int_equal(gk_front_fwd_cache_share(65536, total, GK_FRONT_UDP_PARTS), 58254);
	assert_int_equal(gk_front_fwd_cache_share(65536, total, 1), 7281);
	for (unsigned w = 1; w <= 8; w++)
		for (unsigned a = 1; a <= 4; a++) {
			unsigned t = w * (GK_FRONT_UDP_PARTS * a + 1);
			size_t sum =
			    w * (a * gk_front_fwd_cache_share(100000, t, GK_FRONT_UDP_PARTS) +
			         gk_front_fwd_cache_share(100000, t, 1));
			assert_true(sum <= 100000);
			assert_true(sum + w * (a + 1) > 100000); /* none wasted */
		}
}

static void close_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* n relays of one conf, each with a cache of its own of the relay's share. */
static void relays(unsigned cache_size, unsigned n, size_t want_slots)
{
	gk_fbackend_conf_t be;
	memset(&be, 0, sizeof(be));
	struct sockaddr_in *sin = (struct sockaddr_in *)&be.addr;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(9);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	be.addrlen = sizeof(*sin);
	be.weight = 1;
	snprintf(be.name, sizeof(be.name), "127.0.0.1:9");
	gk_front_pool_conf_t pc = {
	    .name = "p",
	    .backends = &be,
	    .n_backends = 1,
	    .health = {.max_outstanding = 16, .down_after = 3, .up_after = 2},
	    .timeout_ms = 1000,
	    .check_interval_ms = 1000,
	    .cache_size = cache_size};
	gk_front_conf_t conf = {.pools = &pc, .n_pools = 1};
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	gk_fwd_t *f[8] = {0};
	char err[256];
	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(
		    gk_front_fwd_new(&loop, &conf, 1232, n, 1, &f[i], err, sizeof(err)), 0);
	size_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		gk_fcache_stats_t st;
		gk_front_fwd_cache_stats(f[i], 0, &st);
		assert_int_equal(st.slots, want_slots);
		assert_true(st.bytes <= want_slots * gk_front_cache_entry_bytes() + 64);
		assert_int_equal(st.entries, 0);
		total += st.slots;
	}
	if (cache_size >= n)
		assert_true(total <= cache_size);
	uv_walk(&loop, close_cb, NULL);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	for (unsigned i = 0; i < n; i++)
		gk_front_fwd_free(f[i]);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_relay_caches(void **state)
{
	(void)state;
	relays(1024, 2, 512); /* the whole process holds cache_size entries, not each relay */
	relays(1000, 3, 333);
	relays(65536, 1, 65536);
	relays(4, 1, 4);
	relays(1, 3, 1); /* one entry each, not refused */
	relays(0, 2, 0); /* off */
}

/* ---- a client's own ECS option through a relay and a backend socket of the test's own ---- */

static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	*addr =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	socklen_t l = sizeof(*addr);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &l), 0);
	struct timeval tv = {.tv_sec = 10}; /* a missing message fails the test, not hangs it */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

/* Backend be at a, weight 1, named name. */
static void backend_at(gk_fbackend_conf_t *be, const struct sockaddr_in *a, const char *name)
{
	memset(be, 0, sizeof(*be));
	memcpy(&be->addr, a, sizeof(*a));
	be->addrlen = sizeof(*a);
	be->weight = 1;
	snprintf(be->name, sizeof(be->name), "%s", name);
}

/* The relay's loop initialised and a relay of conf on it (EDNS 1232, the process's only relay). */
static gk_fwd_t *relay_on(uv_loop_t *loop, const gk_front_conf_t *conf)
{
	assert_int_equal(uv_loop_init(loop), 0);
	gk_fwd_t *f = NULL;
	char err[256];
	assert_int_equal(gk_front_fwd_new(loop, conf, 1232, 1, 1, &f, err, sizeof(err)), 0);
	return f;
}

/* The relay f and its loop closed and freed, and the test's sockets closed. */
static void relay_done(uv_loop_t *loop, gk_fwd_t *f, int bfd, int lfd, int cfd)
{
	uv_walk(loop, close_cb, NULL);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	gk_front_fwd_free(f);
	assert_int_equal(uv_loop_close(loop), 0);
	close(bfd);
	close(lfd);
	close(cfd);
}

/* The client's answer on cfd: the relay's loop run until it is there. */
static size_t client_answer(uv_loop_t *loop, int cfd, uint8_t *m, size_t cap)
{
	struct pollfd p = {.fd = cfd, .events = POLLIN};
	for (int k = 0; k < 1000 && poll(&p, 1, 0) == 0; k++)
		uv_run(loop, UV_RUN_ONCE);
	ssize_t n = recv(cfd, m, cap, 0);
	assert_true(n > 12);
	return (size_t)n;
}

/* www.example.cn A from a resolver, RD, with an OPT holding ecs[0..el) (el 0: no option). */
static size_t ecs_query(uint8_t *q, const uint8_t *ecs, size_t el, size_t *qend)
{
	static const uint8_t hq[] = {0x12, 0x34, 0x01, 0,   0,   1, 0,   0,   0,   0,   0,
	                             1,    3,    'w',  'w', 'w', 7, 'e', 'x', 'a', 'm', 'p',
	                             'l',  'e',  2,    'c', 'n', 0, 0,   1,   0,   1};
	memcpy(q, hq, sizeof(hq));
	*qend = sizeof(hq);
	uint8_t *o = q + sizeof(hq);
	static const uint8_t oh[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0};
	memcpy(o, oh, sizeof(oh));
	o[9] = 0;
	o[10] = (uint8_t)el;
	if (el)
		memcpy(o + 11, ecs, el);
	return sizeof(hq) + 11 + el;
}

/* The ECS option of message m[0..len) (its OPT last, the option last in it): its bytes from
 * FAMILY on, or NULL. */
static const uint8_t *last_ecs(const uint8_t *m, size_t len, size_t *ol)
{
	for (size_t o = len >= 12 ? 12 : len; o + 4 <= len; o++)
		if (m[o] == 0 && m[o + 1] == 8 && o + 4u + m[o + 3] == len) {
			*ol = m[o + 3];
			return m + o + 4;
		}
	return NULL;
}

/* Read the query the relay sent to the backend socket bfd (waiting for it), answer it with
 * one A record and the ECS option it carried with SCOPE scope; returns the query's length
 * (copied to sent). */
static size_t backend_answer(int bfd, uint8_t scope, uint8_t *sent)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(bfd, sent, 512, 0, (struct sockaddr *)&from, &fl);
	assert_true(n > 12);
	size_t qend = 12;
	while (sent[qend])
		qend += 1u + sent[qend];
	qend += 5;
	uint8_t a[600];
	memcpy(a, sent, qend);
	a[2] |= 0x80;
	a[7] = 1; /* ANCOUNT */
	static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
	memcpy(a + qend, rr, sizeof(rr));
	size_t rest = (size_t)n - qend; /* the OPT as sent */
	memcpy(a + qend + sizeof(rr), sent + qend, rest);
	size_t len = qend + sizeof(rr) + rest, ol;
	uint8_t *e = (uint8_t *)last_ecs(a, len, &ol);
	if (e)
		e[3] = scope;
	assert_true(sendto(bfd, a, len, 0, (struct sockaddr *)&from, fl) == (ssize_t)len);
	return (size_t)n;
}

static void test_client_ecs(void **state)
{
	(void)state;
	struct sockaddr_in ba, la, ca;
	int bfd = udp_socket(&ba), lfd = udp_socket(&la), cfd = udp_socket(&ca);
	gk_fbackend_conf_t be;
	backend_at(&be, &ba, "backend");
	gk_front_pool_conf_t pc[2];
	for (int i = 0; i < 2; i++)
		pc[i] = (gk_front_pool_conf_t){
		    .name = i ? "replace" : "keep",
		    .backends = &be,
		    .n_backends = 1,
		    .health = {.max_outstanding = 16, .down_after = 3, .up_after = 2},
		    .timeout_ms = 10000,
		    .check_interval_ms = 1000,
		    .cache_size = 64,
		    .ecs = true,
		    .ecs_v4 = 24,
		    .ecs_v6 = 56,
		    .ecs_client = i ? GK_FRONT_ECS_REPLACE : GK_FRONT_ECS_KEEP};
	gk_front_conf_t conf = {.pools = pc, .n_pools = 2};
	uv_loop_t loop;
	gk_fwd_t *f = relay_on(&loop, &conf);
	/* the client as a load balancer named it (ours is made of it) */
	struct sockaddr_in real = {.sin_family = AF_INET};
	inet_pton(AF_INET, "203.0.113.5", &real.sin_addr);
#define ASK(pool_)                                                                                 \
	do {                                                                                       \
		res.qlen = (uint16_t)ql;                                                           \
		res.pool = (pool_);                                                                \
		gk_front_fwd_udp(f, q, &res, lfd, (struct sockaddr *)&ca, sizeof(ca),              \
		                 (struct sockaddr *)&real);                                        \
		gk_front_fwd_flush(f);                                                             \
	} while (0)

	/* keep: the client's 198.51.100.77/32 goes out as 198.51.100.0/24, the answer echoes
	 * the client's option with the backend's scope */
	static const uint8_t c77[] = {0, 8, 0, 8, 0, 1, 32, 0, 198, 51, 100, 77};
	uint8_t q[256], sent[512], a[1024];
	size_t qend, ql = ecs_query(q, c77, sizeof(c77), &qend), el, al;
	gk_pkt_result_t res = {.qend = (uint16_t)qend, .client_limit = 1232, .edns = true};
	ASK(0);
	size_t sl = backend_answer(bfd, 24, sent);
	const uint8_t *e = last_ecs(sent, sl, &el);
	static const uint8_t out24[] = {0, 1, 24, 0, 198, 51, 100};
	assert_non_null(e);
	assert_int_equal(el, sizeof(out24));
	assert_memory_equal(e, out24, sizeof(out24));
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[0] << 8 | a[1], 0x1234);
	assert_int_equal(a[3] & 15, 0);
	assert_int_equal(a[7], 1); /* the A record */
	e = last_ecs(a, al, &el);
	static const uint8_t echo77[] = {0, 1, 32, 24, 198, 51, 100, 77};
	assert_non_null(e);
	assert_memory_equal(e, echo77, sizeof(echo77));

	/* another client of the same /24: from the cache, its own option echoed */
	static const uint8_t c9[] = {0, 8, 0, 8, 0, 1, 32, 0, 198, 51, 100, 9};
	ql = ecs_query(q, c9, sizeof(c9), &qend);
	ASK(0);
	al = client_answer(&loop, cfd, a, sizeof(a));
	e = last_ecs(a, al, &el);
	static const uint8_t echo9[] = {0, 1, 32, 24, 198, 51, 100, 9};
	assert_non_null(e);
	assert_memory_equal(e, echo9, sizeof(echo9));

	/* invalid (a bit beyond /22): FORMERR, nothing sent, counted */
	static const uint8_t bad[] = {0, 8, 0, 7, 0, 1, 22, 0, 198, 51, 103};
	ql = ecs_query(q, bad, sizeof(bad), &qend);
	ASK(0);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 1); /* FORMERR */
	assert_null(last_ecs(a, al, &el));
	/* ... with our OPT holding an Extended DNS Error 0 that says why (RFC 8914) */
	static const char why[] = "invalid EDNS Client Subnet option";
	assert_int_equal(a[11], 1);
	assert_int_equal(al, qend + 11 + 6 + sizeof(why) - 1);
	assert_int_equal(a[qend + 2], 41);
	assert_int_equal(a[qend + 11] << 8 | a[qend + 12], 15);
	assert_int_equal(a[qend + 15] << 8 | a[qend + 16], 0);
	assert_memory_equal(a + qend + 17, why, sizeof(why) - 1);
	gk_fwd_counters_t ctr;
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.ecs_invalid, 1);
	assert_int_equal(ctr.cache_hits, 1);

	/* replace: ours from the client's address (203.0.113.0/24), the client's echoed */
	ql = ecs_query(q, c77, sizeof(c77), &qend);
	ASK(1);
	sl = backend_answer(bfd, 0, sent);
	e = last_ecs(sent, sl, &el);
	static const uint8_t ours[] = {0, 1, 24, 0, 203, 0, 113};
	assert_non_null(e);
	assert_memory_equal(e, ours, sizeof(ours));
	al = client_answer(&loop, cfd, a, sizeof(a));
	e = last_ecs(a, al, &el);
	static const uint8_t echo0[] = {0, 1, 32, 0, 198, 51, 100, 77};
	assert_non_null(e);
	assert_memory_equal(e, echo0, sizeof(echo0));

	/* a query without ECS: none in the answer (the cached scope-0 one) */
	ql = ecs_query(q, NULL, 0, &qend);
	ASK(1);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[7], 1);
	assert_null(last_ecs(a, al, &el));
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.cache_hits, 2);
#undef ASK

	relay_done(&loop, f, bfd, lfd, cfd);
}

/* ---- the relay's own answers: an Extended DNS Error for each cause ----------------------- */

/* The EDE of the relay's own answer m[0..len) to a query whose question ends at qend (our
 * OPT right behind it, the EDE its one option): INFO-CODE, with its EXTRA-TEXT compared to
 * text; -1 without one. */
static int own_ede(const uint8_t *m, size_t len, size_t qend, const char *text)
{
	if (len < qend + 17 || m[11] != 1 || m[qend + 2] != 41 || m[qend + 12] != 15)
		return -1;
	size_t tl = strlen(text);
	assert_int_equal(len, qend + 17 + tl);
	assert_memory_equal(m + qend + 17, text, tl);
	return m[qend + 15] << 8 | m[qend + 16];
}

/* A backend that answers an EDNS query without an OPT (it does not speak EDNS): the EDNS
 * client's answer carries ours all the same (RFC 6891 7), from the cache too. */
static void test_backend_without_opt(void **state)
{
	(void)state;
	struct sockaddr_in ba, la, ca;
	int bfd = udp_socket(&ba), lfd = udp_socket(&la), cfd = udp_socket(&ca);
	gk_fbackend_conf_t be;
	backend_at(&be, &ba, "backend");
	gk_front_pool_conf_t pc = {
	    .name = "plain",
	    .backends = &be,
	    .n_backends = 1,
	    .health = {.max_outstanding = 16, .down_after = 3, .up_after = 2},
	    .timeout_ms = 10000,
	    .check_interval_ms = 60000,
	    .cache_size = 64};
	gk_front_conf_t conf = {.pools = &pc, .n_pools = 1};
	uv_loop_t loop;
	gk_fwd_t *f = relay_on(&loop, &conf);
	uint8_t q[256], sent[512], a[1024];
	size_t qend, ql = ecs_query(q, NULL, 0, &qend);
	gk_pkt_result_t res = {.qend = (uint16_t)qend, .client_limit = 1232, .edns = true};
	for (int round = 0; round < 2; round++) {
		res.qlen = (uint16_t)ql;
		res.pool = 0;
		gk_front_fwd_udp(f, q, &res, lfd, (struct sockaddr *)&ca, sizeof(ca),
		                 (struct sockaddr *)&ca);
		gk_front_fwd_flush(f);
		if (round == 0) {
			/* the backend: header, question and one A record, no OPT */
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n =
			    recvfrom(bfd, sent, sizeof(sent), 0, (struct sockaddr *)&from, &fl);
			assert_true(n > (ssize_t)qend);
			uint8_t b[64];
			memcpy(b, sent, qend);
			b[2] |= 0x80;
			b[7] = 1;  /* ANCOUNT */
			b[11] = 0; /* ARCOUNT: no OPT */
			static const uint8_t rr[] = {0xc0, 12, 0, 1, 0,   1, 0, 0,
			                             1,    44, 0, 4, 192, 0, 2, 1};
			memcpy(b + qend, rr, sizeof(rr));
			assert_true(sendto(bfd, b, qend + sizeof(rr), 0, (struct sockaddr *)&from,
			                   fl) == (ssize_t)(qend + sizeof(rr)));
		}
		size_t al = client_answer(&loop, cfd, a, sizeof(a));
		assert_int_equal(al, qend + 16 + GK_RELAY_OPT_LEN);
		assert_int_equal(a[0] << 8 | a[1], 0x1234);
		assert_int_equal(a[7], 1);
		assert_int_equal(a[11], 1); /* ARCOUNT: our OPT */
		const uint8_t *o = a + qend + 16;
		assert_int_equal(o[0], 0);
		assert_int_equal(o[1] << 8 | o[2], 41);
		assert_int_equal(o[3] << 8 | o[4], 1232);
	}
	gk_fwd_counters_t ctr;
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.cache_hits, 1);
	relay_done(&loop, f, bfd, lfd, cfd);
}

static void test_own_errors(void **state)
{
	(void)state;
	/* pool 0: a backend whose port is closed (port unreachable); pool 1: one that answers
	 * only when the test says so (timeouts, a malformed answer, an oversized datagram) */
	struct sockaddr_in ga, ba, la, ca;
	int gfd = udp_socket(&ga), bfd = udp_socket(&ba), lfd = udp_socket(&la),
	    cfd = udp_socket(&ca);
	close(gfd);
	gk_fbackend_conf_t be[2];
	backend_at(&be[0], &ga, "backend0");
	backend_at(&be[1], &ba, "backend1");
	gk_front_pool_conf_t pc[2];
	for (int i = 0; i < 2; i++)
		pc[i] = (gk_front_pool_conf_t){
		    .name = i ? "mute" : "gone",
		    .backends = &be[i],
		    .n_backends = 1,
		    .health = {.max_outstanding = 16, .down_after = 3, .up_after = 2},
		    .timeout_ms = 100,
		    .retries = 0,
		    .check_interval_ms = 60000};
	gk_front_conf_t conf = {.pools = pc, .n_pools = 2};
	uv_loop_t loop;
	gk_fwd_t *f = relay_on(&loop, &conf);
	uint8_t q[256], sent[512], a[1024];
	size_t qend, ql = ecs_query(q, NULL, 0, &qend), al;
	gk_pkt_result_t res = {.qend = (uint16_t)qend, .client_limit = 1232, .edns = true};
#define ASK(pool_)                                                                                 \
	do {                                                                                       \
		res.qlen = (uint16_t)ql;                                                           \
		res.pool = (pool_);                                                                \
		gk_front_fwd_udp(f, q, &res, lfd, (struct sockaddr *)&ca, sizeof(ca), NULL);       \
		gk_front_fwd_flush(f);                                                             \
	} while (0)

	/* port unreachable and no other backend: 23 Network Error */
	ASK(0);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 2); /* SERVFAIL */
	assert_int_equal(own_ede(a, al, qend, "backend unreachable"), 23);
	/* the backend is down now: 22 No Reachable Authority, at once */
	ASK(0);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 2);
	assert_int_equal(own_ede(a, al, qend, "no backend available"), 22);
	/* a client without EDNS: the same SERVFAIL, no OPT */
	res.edns = false;
	ASK(0);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 2);
	assert_int_equal(al, qend);
	assert_int_equal(a[11], 0);
	res.edns = true;

	/* no answer within timeout_ms, no retry left: 22 */
	ASK(1);
	size_t sl = (size_t)recv(bfd, sent, sizeof(sent), 0);
	assert_true(sl > qend);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 2);
	assert_int_equal(own_ede(a, al, qend, "backend timeout"), 22);

	/* a datagram larger than we advertised (dropped, counted malformed, no SERVFAIL), then
	 * an answer whose records cannot be walked: SERVFAIL with 0 Other Error */
	ASK(1);
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	sl = (size_t)recvfrom(bfd, sent, sizeof(sent), 0, (struct sockaddr *)&from, &fl);
	assert_true(sl > qend);
	static uint8_t huge[5000];
	memcpy(huge, sent, sl);
	huge[2] |= 0x80;
	assert_true(sendto(bfd, huge, sizeof(huge), 0, (struct sockaddr *)&from, fl) ==
	            (ssize_t)sizeof(huge));
	sent[2] |= 0x80;
	sent[11] = 3; /* ARCOUNT 3: two records more than there are */
	assert_true(sendto(bfd, sent, sl, 0, (struct sockaddr *)&from, fl) == (ssize_t)sl);
	al = client_answer(&loop, cfd, a, sizeof(a));
	assert_int_equal(a[3] & 15, 2);
	assert_int_equal(own_ede(a, al, qend, "malformed backend answer"), 0);
	gk_fwd_counters_t ctr;
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.servfail, 5);
	assert_int_equal(ctr.no_backend, 3); /* unreachable, down, down */
	assert_int_equal(ctr.malformed, 2);  /* the oversized datagram and the walk */
	assert_int_equal(ctr.bad_answer, 1); /* ... of which one SERVFAIL: the metrics' reasons */
#undef ASK

	relay_done(&loop, f, bfd, lfd, cfd);
}

static unsigned rotations(const gk_fwd_t *f)
{
	gk_fwd_counters_t ctr;
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.rotate_errors, 0);
	return (unsigned)ctr.rotations;
}

/* The loop run until the relay has made n more rotations (the timer's events). */
static void rotate_by(uv_loop_t *loop, const gk_fwd_t *f, unsigned n)
{
	unsigned want = rotations(f) + n;
	for (int k = 0; k < 100000 && rotations(f) < want; k++)
		uv_run(loop, UV_RUN_ONCE);
	assert_true(rotations(f) >= want);
	/* a timer that fires at the end of a UV_RUN_ONCE turn has its closes run in the next */
	uv_run(loop, UV_RUN_NOWAIT);
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static bool has_port(const uint16_t *p, unsigned n, uint16_t port)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] == port)
			return true;
	return false;
}

static void test_port_rotation(void **state)
{
	(void)state;
	struct sockaddr_in ba, la, ca;
	int bfd = udp_socket(&ba), lfd = udp_socket(&la), cfd = udp_socket(&ca);
	gk_fbackend_conf_t be;
	backend_at(&be, &ba, "backend");
	gk_front_pool_conf_t pc = {
	    .name = "rotating",
	    .backends = &be,
	    .n_backends = 1,
	    .health = {.max_outstanding = 16, .down_after = 3, .up_after = 2},
	    .timeout_ms = 60000,
	    .check_interval_ms = 60000};
	gk_front_conf_t conf = {.pools = &pc, .n_pools = 1};
	uv_loop_t loop;
	gk_fwd_t *f = relay_on(&loop, &conf);
	unsigned fds0 = open_fds();
	uint16_t p0[8], p1[8], seen[16];
	assert_int_equal(gk_front_fwd_source_ports(f, AF_INET, p0, 8), 8);
	assert_int_equal(gk_front_fwd_source_ports(f, AF_INET6, p1, 8), 0); /* IPv4 pool only */
	gk_front_fwd_set_rotate(f, 5);
	uint8_t q[256], sent[512], a[1024];
	size_t qend, ql = ecs_query(q, NULL, 0, &qend);
	gk_pkt_result_t res = {.qend = (uint16_t)qend, .client_limit = 1232, .edns = true};
	unsigned rounds = 12;
	for (unsigned r = 0; r < rounds; r++) {
		q[0] = (uint8_t)r; /* the client's ID */
		res.qlen = (uint16_t)ql;
		res.pool = 0;
		gk_front_fwd_udp(f, q, &res, lfd, (struct sockaddr *)&ca, sizeof(ca), NULL);
		gk_front_fwd_flush(f);
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(bfd, sent, sizeof(sent), 0, (struct sockaddr *)&from, &fl);
		assert_true(n > (ssize_t)qend);
		uint16_t port = ntohs(from.sin_port);
		if (r < 16)
			seen[r] = port;
		/* every socket of the family replaced while the try is in flight: its answer
		 * comes to a draining socket */
		rotate_by(&loop, f, 9);
		uint16_t now[8];
		assert_int_equal(gk_front_fwd_source_ports(f, AF_INET, now, 8), 8);
		assert_false(has_port(now, 8, port));
		sent[2] |= 0x80;
		assert_true(sendto(bfd, sent, (size_t)n, 0, (struct sockaddr *)&from, fl) == n);
		size_t al = client_answer(&loop, cfd, a, sizeof(a));
		assert_true(al >= qend);
		assert_int_equal(a[0], r);
		assert_int_equal(a[3] & 15, 0);
	}
	/* the ports in use now are new ones (the kernel may pick a closed one again, rarely) */
	assert_int_equal(gk_front_fwd_source_ports(f, AF_INET, p1, 8), 8);
	unsigned same = 0, distinct = 0;
	for (unsigned i = 0; i < 8; i++)
		same += has_port(p0, 8, p1[i]);
	assert_true(same <= 2);
	for (unsigned r = 0; r < rounds; r++)
		distinct += !has_port(seen, r, seen[r]);
	assert_true(distinct >= rounds - 2);
	/* nothing in flight: a draining socket is closed at the next rotation */
	rotate_by(&loop, f, 3);
	assert_true(open_fds() <= fds0 + 1);
	gk_fwd_counters_t ctr;
	memset(&ctr, 0, sizeof(ctr));
	gk_front_fwd_counters_read(f, &ctr);
	assert_int_equal(ctr.answers, rounds);
	assert_int_equal(ctr.mismatched, 0);
	assert_int_equal(ctr.servfail, 0);
	relay_done(&loop, f, bfd, lfd, cfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share),      cmocka_unit_test(test_relay_caches),
	    cmocka_unit_test(test_client_ecs), cmocka_unit_test(test_backend_without_opt),
	    cmocka_unit_test(test_own_errors), cmocka_unit_test(test_port_rotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
