/* SPDX-License-Identifier: MIT */
/* src/common/yamlwalk.c -- walking a libyaml document with errors that name file and line. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common/yamlwalk.h"

int gk_yaml_fail(gk_yaml_t *y, int code, size_t line, const char *fmt, ...)
{
	if (y->sink) {
		char msg[400];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		return y->sink(y, code, line, msg);
	}
	if (y->rc != 0)
		return y->rc;
	y->rc = code;
	if (y->err == NULL || y->errlen == 0)
		return y->rc;
	int n = snprintf(y->err, y->errlen, "%s:%zu: ", y->path, line);
	if (n < 0 || (size_t)n >= y->errlen)
		return y->rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(y->err + n, y->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return y->rc;
}

const char *gk_yaml_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

int gk_yaml_string(gk_yaml_t *y, const char *key, yaml_node_t *n, const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(n), "%s: expected a string, got %s",
		                    key, gk_yaml_type_name(n));
	if (n->data.scalar.length == 0 || strlen(gk_yaml_scalar(n)) != n->data.scalar.length)
		return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(n),
		                    "%s: expected a non-empty string", key);
	*out = gk_yaml_scalar(n);
	return 0;
}

int gk_yaml_u64(gk_yaml_t *y, const char *key, yaml_node_t *n, uint64_t min, uint64_t max,
                uint64_t *out)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return gk_yaml_fail(
		    y, GK_ECONFIG, gk_yaml_line(n), "%s: expected an integer, got %s", key,
		    n->type == YAML_SCALAR_NODE ? "a quoted string" : gk_yaml_type_name(n));
	const char *s = gk_yaml_scalar(n);
	if (*s == '\0')
		return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(n),
		                    "%s: expected an integer, got nothing", key);
	uint64_t v = 0;
	bool over = false;
	for (const char *p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(n),
			                    "%s: expected an integer, got '%s'", key, s);
		unsigned d = (unsigned)(*p - '0');
		over = over || v > (UINT64_MAX - d) / 10;
		v = over ? UINT64_MAX : v * 10 + d;
	}
	if (over || v < min || v > max)
		return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(n),
		                    "%s: %s is out of range %" PRIu64 "..%" PRIu64, key, s, min,
		                    max);
	*out = v;
	return 0;
}

int gk_yaml_uint(gk_yaml_t *y, const char *key, yaml_node_t *n, unsigned min, unsigned max,
                 unsigned *out)
{
	uint64_t v = 0; /* gk_yaml_u64 sets it when it returns 0 (gcc -O3 cannot tell) */
	int rc = gk_yaml_u64(y, key, n, min, max, &v);
	if (rc == 0)
		*out = (unsigned)v;
	return rc;
}

int gk_yaml_walk_map(gk_yaml_t *y, const char *what, yaml_node_t *map, gk_yaml_visit_fn visit,
                     void *arg)
{
	if (map->type != YAML_MAPPING_NODE)
		return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(map),
		                    "%s: expected a mapping, got %s", what, gk_yaml_type_name(map));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
		if (k->type != YAML_SCALAR_NODE)
			return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(k),
			                    "%s: keys must be scalars", what);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(y->doc, q->key);
			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp(gk_yaml_scalar(k2), gk_yaml_scalar(k)) == 0)
				return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(k),
				                    "%s: duplicate key '%s' (first at line %zu)",
				                    what, gk_yaml_scalar(k), gk_yaml_line(k2));
		}
		int rc = visit(y, gk_yaml_scalar(k), k, v, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}
