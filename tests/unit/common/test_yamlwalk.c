/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_yamlwalk.c -- the YAML walker the config and the policy compiler
 * share: mappings (scalar, unique keys), strings, integers, first error wins, the sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "common/yamlwalk.h"

static yaml_document_t doc;

static yaml_node_t *load(const char *text)
{
	yaml_parser_t p;
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	assert_true(yaml_parser_load(&p, &doc));
	yaml_parser_delete(&p);
	return yaml_document_get_root_node(&doc);
}

struct seen {
	char keys[64];
	unsigned n;
};

static int visit(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	(void)k;
	struct seen *s = arg;
	strcat(s->keys, key);
	if (strcmp(key, "n") == 0)
		return gk_yaml_uint(y, "m.n", v, 1, 10, &s->n);
	return 0;
}

static void test_walk(void **state)
{
	(void)state;
	char err[200] = "";
	gk_yaml_t y = {.path = "f.yaml", .err = err, .errlen = sizeof(err)};
	struct seen s = {0};
	y.doc = &doc;
	yaml_node_t *root = load("a: x\nb: y\nn: 7\n");
	assert_int_equal(gk_yaml_walk_map(&y, "m", root, visit, &s), 0);
	assert_string_equal(s.keys, "abn");
	assert_int_equal(s.n, 7);
	yaml_document_delete(&doc);

	root = load("a: x\nn: 11\na: z\n");
	memset(&s, 0, sizeof(s));
	assert_int_equal(gk_yaml_walk_map(&y, "m", root, visit, &s), GK_ECONFIG);
	assert_string_equal(err, "f.yaml:2: m.n: 11 is out of range 1..10");
	/* the first error wins */
	assert_int_equal(gk_yaml_fail(&y, GK_EIO, 9, "later"), GK_ECONFIG);
	assert_string_equal(err, "f.yaml:2: m.n: 11 is out of range 1..10");
	yaml_document_delete(&doc);

	y.rc = 0;
	root = load("a: x\nb: y\na: z\n");
	memset(&s, 0, sizeof(s));
	assert_int_equal(gk_yaml_walk_map(&y, "m", root, visit, &s), GK_ECONFIG);
	assert_string_equal(err, "f.yaml:3: m: duplicate key 'a' (first at line 1)");
	yaml_document_delete(&doc);

	y.rc = 0;
	root = load("[1, 2]\n");
	assert_int_equal(gk_yaml_walk_map(&y, "m", root, visit, &s), GK_ECONFIG);
	assert_string_equal(err, "f.yaml:1: m: expected a mapping, got a list");
	yaml_document_delete(&doc);
}

static void test_scalars(void **state)
{
	(void)state;
	char err[200] = "";
	gk_yaml_t y = {.path = "f", .err = err, .errlen = sizeof(err), .doc = &doc};
	yaml_node_t *root = load("s: ''\nq: '5'\nt: [x]\n");
	yaml_node_pair_t *p = root->data.mapping.pairs.start;
	const char *out = NULL;
	unsigned u;
	assert_int_equal(gk_yaml_string(&y, "s", yaml_document_get_node(&doc, p[0].value), &out),
	                 GK_ECONFIG);
	assert_string_equal(err, "f:1: s: expected a non-empty string");
	y.rc = 0;
	assert_int_equal(gk_yaml_uint(&y, "q", yaml_document_get_node(&doc, p[1].value), 0, 9, &u),
	                 GK_ECONFIG);
	assert_string_equal(err, "f:2: q: expected an integer, got a quoted string");
	y.rc = 0;
	assert_int_equal(gk_yaml_string(&y, "t", yaml_document_get_node(&doc, p[2].value), &out),
	                 GK_ECONFIG);
	assert_string_equal(err, "f:3: t: expected a string, got a list");
	yaml_document_delete(&doc);
}

/* 64-bit values: above 2^32, at the top of the range, and past UINT64_MAX (no wrap-around). */
static void test_u64(void **state)
{
	(void)state;
	char err[200] = "";
	gk_yaml_t y = {.path = "f", .err = err, .errlen = sizeof(err), .doc = &doc};
	yaml_node_t *root = load("a: 17179869184\nb: 18446744073709551615\n"
	                         "c: 18446744073709551616\nd: 4294967296\n");
	yaml_node_pair_t *p = root->data.mapping.pairs.start;
	uint64_t v = 0;
	unsigned u = 7;
	assert_int_equal(
	    gk_yaml_u64(&y, "a", yaml_document_get_node(&doc, p[0].value), 1024, 1ull << 34, &v),
	    0);
	assert_true(v == 1ull << 34);
	assert_int_equal(
	    gk_yaml_u64(&y, "b", yaml_document_get_node(&doc, p[1].value), 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(
	    gk_yaml_u64(&y, "c", yaml_document_get_node(&doc, p[2].value), 0, UINT64_MAX, &v),
	    GK_ECONFIG);
	assert_string_equal(err,
	                    "f:3: c: 18446744073709551616 is out of range 0..18446744073709551615");
	y.rc = 0;
	/* the 32-bit form: 2^32 is out of its range, not 0 */
	assert_int_equal(
	    gk_yaml_uint(&y, "d", yaml_document_get_node(&doc, p[3].value), 0, 0xffffffffu, &u),
	    GK_ECONFIG);
	assert_string_equal(err, "f:4: d: 4294967296 is out of range 0..4294967295");
	assert_int_equal(u, 7);
	yaml_document_delete(&doc);
}

static int sunk;
static int sink(gk_yaml_t *y, int code, size_t line, const char *msg)
{
	(void)y;
	sunk++;
	assert_int_equal(line, 1);
	assert_string_equal(msg, "k: expected an integer, got 'x'");
	return code;
}

/* With a sink, errors go there (the policy builder's error state), not to err. */
static void test_sink(void **state)
{
	(void)state;
	gk_yaml_t y = {.path = "f", .doc = &doc, .sink = sink};
	yaml_node_t *root = load("x\n");
	unsigned u;
	assert_int_equal(gk_yaml_uint(&y, "k", root, 0, 9, &u), GK_ECONFIG);
	assert_int_equal(sunk, 1);
	yaml_document_delete(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_scalars),
	    cmocka_unit_test(test_u64),
	    cmocka_unit_test(test_sink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
