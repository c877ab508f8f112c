/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_pool.c -- backend selection and health (front/pool.h).
 *
 * Least-outstanding by weight, turns among equals, the per-backend bound, a retry never on
 * the backend it comes from, down after consecutive timeouts or SERVFAILs, no healthy
 * backend (GK_ENOENT, the caller's SERVFAIL) and recovery by successful checks, latency
 * buckets and counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "front/pool.h"

static gk_fpool_t *make(unsigned n, const unsigned *weights, unsigned max_out)
{
	gk_fbackend_conf_t b[8];
	memset(b, 0, sizeof(b));
	for (unsigned i = 0; i < n; i++) {
		snprintf(b[i].name, sizeof(b[i].name), "127.0.0.1:%u", 5300 + i);
		b[i].weight = weights ? weights[i] : 1;
	}
	gk_fpool_conf_t c = {.max_outstanding = max_out, .down_after = 3, .up_after = 2};
	gk_fpool_t *p = NULL;
	assert_int_equal(gk_front_pool_new(&c, "t", b, n, &p), 0);
	return p;
}

static void test_least_outstanding(void **state)
{
	(void)state;
	gk_fpool_t *p = make(3, NULL, 100);
	/* a quiet pool: the backends take turns */
	int seen[3] = {0};
	for (int k = 0; k < 30; k++) {
		int i = gk_front_pool_pick(p, -1);
		assert_true(i >= 0 && i < 3);
		seen[i]++;
		gk_front_pool_sent(p, (unsigned)i);
		gk_front_pool_done(p, (unsigned)i, GK_FPOOL_OK, 300);
	}
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 10);
	/* a backend with queries in flight is avoided */
	gk_front_pool_sent(p, 0);
	gk_front_pool_sent(p, 0);
	gk_front_pool_sent(p, 1);
	assert_int_equal(gk_front_pool_pick(p, -1), 2);
	gk_front_pool_sent(p, 2);
	assert_int_equal(gk_front_pool_pick(p, -1), 1); /* 1 and 2 at 1, 0 at 2 */
	gk_front_pool_free(p);
}

static void test_weights(void **state)
{
	(void)state;
	static const unsigned w[2] = {3, 1};
	gk_fpool_t *p = make(2, w, 1000);
	int seen[2] = {0};
	for (int k = 0; k < 400; k++) { /* nothing answers: outstanding grows as sent */
		int i = gk_front_pool_pick(p, -1);
		seen[i]++;
		gk_front_pool_sent(p, (unsigned)i);
	}
	assert_int_equal(seen[0], 300);
	assert_int_equal(seen[1], 100);
	gk_front_pool_free(p);
}

static void test_bound_and_retry(void **state)
{
	(void)state;
	gk_fpool_t *p = make(2, NULL, 2);
	for (int k = 0; k < 4; k++)
		gk_front_pool_sent(p, (unsigned)gk_front_pool_pick(p, -1));
	assert_int_equal(gk_front_pool_pick(p, -1), GK_EBUSY); /* both at their bound */
	gk_front_pool_done(p, 1, GK_FPOOL_TIMEOUT, 0);
	assert_int_equal(gk_front_pool_pick(p, -1), 1);
	assert_int_equal(gk_front_pool_pick(p, 1), GK_EBUSY); /* a retry from 1 never goes to 1 */
	gk_front_pool_done(p, 0, GK_FPOOL_OK, 100);
	assert_int_equal(gk_front_pool_pick(p, 1), 0);
	gk_front_pool_free(p);
}

static void test_health(void **state)
{
	(void)state;
	gk_fpool_t *p = make(2, NULL, 100);
	/* three timeouts in a row take backend 0 down; an answer between resets the run */
	for (int k = 0; k < 2; k++) {
		gk_front_pool_sent(p, 0);
		gk_front_pool_done(p, 0, GK_FPOOL_TIMEOUT, 0);
	}
	gk_front_pool_sent(p, 0);
	gk_front_pool_done(p, 0, GK_FPOOL_OK, 1500);
	for (int k = 0; k < 2; k++) {
		gk_front_pool_sent(p, 0);
		gk_front_pool_done(p, 0, GK_FPOOL_TIMEOUT, 0);
	}
	assert_int_equal(gk_front_pool_up(p), 2);
	gk_front_pool_sent(p, 0);
	gk_front_pool_done(p, 0, GK_FPOOL_SERVFAIL, 800);
	assert_int_equal(gk_front_pool_up(p), 1);
	for (int k = 0; k < 10; k++)
		assert_int_equal(gk_front_pool_pick(p, -1), 1);
	/* backend 1 fails its checks: no healthy backend */
	for (int k = 0; k < 3; k++)
		gk_front_pool_checked(p, 1, false, GK_FPOOL_TIMEOUT);
	assert_int_equal(gk_front_pool_up(p), 0);
	assert_int_equal(gk_front_pool_pick(p, -1), GK_ENOENT);
	/* recovery: two good checks in a row */
	gk_front_pool_checked(p, 0, true, GK_FPOOL_OK);
	assert_int_equal(gk_front_pool_pick(p, -1), GK_ENOENT);
	gk_front_pool_checked(p, 0, true, GK_FPOOL_OK);
	assert_int_equal(gk_front_pool_pick(p, -1), 0);
	gk_fbackend_stats_t st;
	gk_front_pool_stats(p, 0, &st);
	assert_int_equal(st.queries, 6);
	assert_int_equal(st.timeouts, 4);
	assert_int_equal(st.servfails, 1);
	assert_int_equal(st.answers, 2);
	assert_int_equal(st.lat[1], 1); /* 1.5 ms: the 2 ms bucket */
	assert_int_equal(st.lat[0], 1); /* 0.8 ms: the 1 ms bucket */
	assert_int_equal(st.outstanding, 0);
	assert_true(st.up);
	gk_front_pool_free(p);
}

/* Failover: a port unreachable takes a backend down at once; timeouts of client queries
 * never take down the last backend up (its checks can); transitions are counted. */
static void test_failover(void **state)
{
	(void)state;
	gk_fpool_t *p = make(2, NULL, 100);
	gk_front_pool_sent(p, 0);
	gk_front_pool_done(p, 0, GK_FPOOL_REFUSED, 0);
	assert_int_equal(gk_front_pool_up(p), 1);
	assert_false(gk_front_pool_is_up(p, 0));
	assert_true(gk_front_pool_is_up(p, 1));
	for (int k = 0; k < 10; k++)
		assert_int_equal(gk_front_pool_pick(p, -1), 1);
	/* the last backend up times out (an overload): still picked */
	for (int k = 0; k < 10; k++) {
		gk_front_pool_sent(p, 1);
		gk_front_pool_done(p, 1, GK_FPOOL_TIMEOUT, 0);
	}
	assert_int_equal(gk_front_pool_up(p), 1);
	assert_int_equal(gk_front_pool_pick(p, -1), 1);
	/* backend 0 is back: up after two good checks, then the other may go down */
	gk_front_pool_checked(p, 0, true, GK_FPOOL_OK);
	gk_front_pool_checked(p, 0, true, GK_FPOOL_OK);
	assert_int_equal(gk_front_pool_up(p), 2);
	gk_front_pool_sent(p, 1);
	gk_front_pool_done(p, 1, GK_FPOOL_TIMEOUT, 0);
	assert_int_equal(gk_front_pool_up(p), 1);
	assert_false(gk_front_pool_is_up(p, 1));
	/* the last one's checks fail: the pool is down */
	gk_front_pool_unreachable(p, 0);
	assert_int_equal(gk_front_pool_up(p), 0);
	assert_int_equal(gk_front_pool_pick(p, -1), GK_ENOENT);
	gk_fbackend_stats_t st;
	gk_front_pool_stats(p, 0, &st);
	assert_int_equal(st.downs, 2);
	assert_int_equal(st.ups, 1);
	assert_int_equal(st.unreachable, 2);
	assert_int_equal(st.timeouts, 0);
	gk_front_pool_stats(p, 1, &st);
	assert_int_equal(st.downs, 1);
	assert_int_equal(st.timeouts, 11);
	gk_front_pool_free(p);
}

static void test_bad_conf(void **state)
{
	(void)state;
	gk_fbackend_conf_t b = {.weight = 0};
	gk_fpool_conf_t c = {.max_outstanding = 1, .down_after = 1, .up_after = 1};
	gk_fpool_t *p;
	assert_int_equal(gk_front_pool_new(&c, "t", &b, 1, &p), GK_EINVAL);
	b.weight = 1;
	assert_int_equal(gk_front_pool_new(&c, "t", &b, 0, &p), GK_EINVAL);
	c.max_outstanding = 0;
	assert_int_equal(gk_front_pool_new(&c, "t", &b, 1, &p), GK_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_least_outstanding), cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_bound_and_retry),   cmocka_unit_test(test_health),
	    cmocka_unit_test(test_failover),          cmocka_unit_test(test_bad_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
