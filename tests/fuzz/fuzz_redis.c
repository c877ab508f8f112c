/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_redis.c -- libFuzzer target: Redis addresses (gk_redis_addr_parse) as
 * written in redis.address, --redis and --records-redis.
 *
 * Every input is parsed with and without GK_REDIS_ADDR_NUMERIC. A parse that succeeds must
 * give a TCP address (host and a port 1..65535) or an absolute unix path, never both, and
 * formatting it back must parse to the same address; a parse that fails must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis/redis.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s: ", #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char s[1025];
	memcpy(s, data, size);
	s[size] = 0;
	for (unsigned flags = 0; flags <= GK_REDIS_ADDR_NUMERIC; flags++) {
		gk_redis_addr_t a, b;
		char err[512] = "", back[400];
		if (gk_redis_addr_parse(s, flags, &a, err, sizeof(err)) != 0) {
			FUZZ_CHECK(err[0] != 0, "no message for '%s'", s);
			continue;
		}
		if (a.path[0]) {
			FUZZ_CHECK(a.path[0] == '/' && !a.host[0] && a.port == 0, "'%s'", s);
		} else {
			FUZZ_CHECK(a.host[0] && a.port >= 1, "'%s'", s);
		}
		gk_redis_addr_fmt(&a, back, sizeof(back));
		FUZZ_CHECK(gk_redis_addr_parse(back, flags, &b, err, sizeof(err)) == 0,
		           "'%s' formats as '%s', which does not parse: %s", s, back, err);
		FUZZ_CHECK(!strcmp(a.host, b.host) && a.port == b.port && !strcmp(a.path, b.path),
		           "'%s' -> '%s' parses differently", s, back);
	}
	return 0;
}
