/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_snapshot.c -- publish/retire: grace periods, and a threaded stress
 * run where readers check every object they see is still alive (ASan catches a early free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "common/snapshot.h"

#define MAGIC 0x5eed5eedu

struct obj {
	unsigned magic;
	unsigned gen;
};

static int freed;

static void obj_free(void *p)
{
	struct obj *o = p;
	o->magic = 0;
	freed++;
	free(o);
}

static struct obj *obj_new(unsigned gen)
{
	struct obj *o = malloc(sizeof(*o));
	assert_non_null(o);
	o->magic = MAGIC;
	o->gen = gen;
	return o;
}

static void test_grace(void **state)
{
	(void)state;
	freed = 0;
	gk_snapshot_t *s;
	assert_int_equal(gk_snapshot_create(2, obj_new(0), obj_free, &s), 0);
	struct obj *o = gk_snapshot_read(s);
	assert_int_equal(o->gen, 0);
	assert_int_equal(gk_snapshot_publish(s, obj_new(1)), 0);
	assert_int_equal(((struct obj *)gk_snapshot_read(s))->gen, 1);
	assert_int_equal(gk_snapshot_reclaim(s), 1); /* nobody quiescent yet */
	gk_snapshot_quiescent(s, 0);
	assert_int_equal(gk_snapshot_reclaim(s), 1); /* reader 1 may still hold gen 0 */
	assert_int_equal(freed, 0);
	assert_int_equal(gk_snapshot_publish(s, obj_new(2)), 0);
	gk_snapshot_quiescent(s, 1);
	assert_int_equal(gk_snapshot_reclaim(s), 1); /* gen 0 freed; gen 1 waits for reader 0 */
	assert_int_equal(freed, 1);
	gk_snapshot_quiescent(s, 0);
	assert_int_equal(gk_snapshot_reclaim(s), 0);
	assert_int_equal(freed, 2);
	gk_snapshot_destroy(s); /* frees gen 2 */
	assert_int_equal(freed, 3);
}

static int other_freed;

static void other_free(void *p)
{
	other_freed++;
	free(p);
}

/* gk_snapshot_retire: an object unlinked elsewhere waits for every reader, with its own
 * free function, and is freed at destroy when still pending. */
static void test_retire(void **state)
{
	(void)state;
	freed = other_freed = 0;
	gk_snapshot_t *s;
	assert_int_equal(gk_snapshot_create(2, obj_new(0), obj_free, &s), 0);
	assert_int_equal(gk_snapshot_retire(s, malloc(16), other_free), 0);
	assert_int_equal(gk_snapshot_reclaim(s), 1);
	gk_snapshot_quiescent(s, 1);
	assert_int_equal(gk_snapshot_reclaim(s), 1); /* reader 0 may still hold it */
	assert_int_equal(other_freed, 0);
	gk_snapshot_quiescent(s, 0);
	assert_int_equal(gk_snapshot_reclaim(s), 0);
	assert_int_equal(other_freed, 1);
	assert_int_equal(freed, 0); /* the current object is untouched */
	assert_int_equal(gk_snapshot_retire(s, malloc(16), other_free), 0);
	gk_snapshot_destroy(s); /* pending: freed here, with the current object */
	assert_int_equal(other_freed, 2);
	assert_int_equal(freed, 1);
}

static void test_bad_args(void **state)
{
	(void)state;
	gk_snapshot_t *s;
	assert_int_equal(gk_snapshot_create(0, NULL, obj_free, &s), GK_EINVAL);
	assert_int_equal(gk_snapshot_create(1, NULL, NULL, &s), GK_EINVAL);
	gk_snapshot_destroy(NULL);
}

struct stress {
	gk_snapshot_t *s;
	unsigned id;
	atomic_int *stop;
	unsigned long reads;
};

static void *reader(void *arg)
{
	struct stress *st = arg;
	while (!atomic_load(st->stop)) {
		for (int i = 0; i < 16; i++) {
			const struct obj *o = gk_snapshot_read(st->s);
			if (o->magic != MAGIC)
				abort();
			st->reads++;
		}
		gk_snapshot_quiescent(st->s, st->id);
	}
	return NULL;
}

static void test_stress(void **state)
{
	(void)state;
	freed = 0;
	gk_snapshot_t *s;
	atomic_int stop = 0;
	assert_int_equal(gk_snapshot_create(3, obj_new(0), obj_free, &s), 0);
	pthread_t th[3];
	struct stress st[3];
	for (unsigned i = 0; i < 3; i++) {
		st[i] = (struct stress){.s = s, .id = i, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, reader, &st[i]), 0);
	}
	for (unsigned gen = 1; gen <= 2000; gen++) {
		assert_int_equal(gk_snapshot_publish(s, obj_new(gen)), 0);
		(void)gk_snapshot_reclaim(s);
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	gk_snapshot_destroy(s);
	assert_int_equal(freed, 2001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grace),
	    cmocka_unit_test(test_retire),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
