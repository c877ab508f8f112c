/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_fwd.c -- the relays' packet caches (front/fwd.h): one per relay.
 *
 * A pool's cache_size is the whole process's: each relay (a thread) gets its share, whole
 * sets, at least one set, in a cache of its own (no lock on the query path), holding
 * exactly that many entries.
 */
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

#include "front/cache.h"
#include "front/fwd.h"

static void test_share(void **state)
{
	(void)state;
	assert_int_equal(gk_front_fwd_cache_share(65536, 4, 1), 16384);
	assert_int_equal(gk_front_fwd_cache_share(65536, 3, 1), 21844); /* 21845 to whole sets */
	assert_int_equal(gk_front_fwd_cache_share(65536, 1, 1), 65536);
	assert_int_equal(gk_front_fwd_cache_share(100, 0, 1), 100);
	assert_int_equal(gk_front_fwd_cache_share(10, 4, 1), GK_FCACHE_WAYS); /* at least one set */
	assert_int_equal(gk_front_fwd_cache_share(1, 1, 1), GK_FCACHE_WAYS);
	assert_int_equal(gk_front_fwd_cache_share(0, 4, 1), 0);
	for (unsigned r = 1; r <= 64; r++)
		assert_true(gk_front_fwd_cache_share(65536, r, 1) * r <= 65536);
	/* one worker, one UDP socket: the UDP thread's relay takes 8 of 9 parts, the loop's 1 */
	unsigned total = GK_FRONT_UDP_PARTS + 1;
	assert_int_equal(gk_front_fwd_cache_share(65536, total, GK_FRONT_UDP_PARTS), 58252);
	assert_int_equal(gk_front_fwd_cache_share(65536, total, 1), 7280);
	for (unsigned w = 1; w <= 8; w++)
		for (unsigned a = 1; a <= 4; a++) {
			unsigned t = w * (GK_FRONT_UDP_PARTS * a + 1);
			size_t sum =
			    w * (a * gk_front_fwd_cache_share(100000, t, GK_FRONT_UDP_PARTS) +
			         gk_front_fwd_cache_share(100000, t, 1));
			assert_true(sum <= 100000);
			assert_true(sum + w * (a + 1) * GK_FCACHE_WAYS > 100000); /* none wasted */
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
		assert_int_equal(st.bytes, want_slots * gk_front_cache_entry_bytes());
		assert_int_equal(st.entries, 0);
		total += st.slots;
	}
	if (cache_size >= GK_FCACHE_WAYS * n)
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
	relays(1000, 3, 332);
	relays(65536, 1, 65536);
	relays(4, 1, 4); /* a one-set cache is one set, not refused */
	relays(1, 3, 4);
	relays(0, 2, 0); /* off */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share),
	    cmocka_unit_test(test_relay_caches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
