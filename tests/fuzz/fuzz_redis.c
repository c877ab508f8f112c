/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_redis.c -- libFuzzer target: Redis addresses (gk_redis_addr_parse) as
 * written in redis.address, --redis and --records-redis.
 *
 * Every input is parsed with and without GK_REDIS_ADDR_NUMERIC. A parse that succeeds must
 * give a TCP address (host and a port 1..65535) or an absolute unix path, never both, and
 * formatting it back must parse to the same address; a parse that fails must say why. The
 * input is also read as a sentinel list and a master name (gk_redis_sentinel_add_list,
 * gk_redis_sentinel_set_master).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis/redis.h"

/* An invariant that does not hold: the input and what went wrong, then a crash. */
static void must(int ok, const char *what, const char *input, const char *detail)
{
	if (ok)
		return;
	fprintf(stderr, "invariant failed: %s: '%s' %s\n", what, input, detail);
	abort();
}

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
			must(err[0] != 0, "a failed parse says why", s, "");
			continue;
		}
		if (a.path[0])
			must(a.path[0] == '/' && !a.host[0] && a.port == 0, "unix path only", s,
			     "");
		else
			must(a.host[0] && a.port >= 1, "host and port", s, "");
		gk_redis_addr_fmt(&a, back, sizeof(back));
		must(gk_redis_addr_parse(back, flags, &b, err, sizeof(err)) == 0,
		     "the formatted address parses", s, back);
		must(!strcmp(a.host, b.host) && a.port == b.port && !strcmp(a.path, b.path),
		     "the formatted address parses to the same", s, back);
	}
	/* the same input as a sentinel list (redis.sentinels, GK_REDIS_SENTINELS) and a master
	 * name: each accepted entry is a parsed address, a refusal says why */
	gk_redis_sentinel_t sl = {0};
	char err[512] = "";
	if (gk_redis_sentinel_add_list(&sl, s, 0, err, sizeof(err)) != 0)
		must(err[0] != 0, "a refused sentinel list says why", s, "");
	must(sl.n <= GK_REDIS_SENTINELS_MAX, "at most GK_REDIS_SENTINELS_MAX sentinels", s, "");
	for (size_t i = 0; i < sl.n; i++)
		must(sl.addr[i].path[0] || (sl.addr[i].host[0] && sl.addr[i].port),
		     "each sentinel is an address", s, "");
	if (gk_redis_sentinel_set_master(&sl, s, err, sizeof(err)) == 0)
		must(strcmp(sl.master, s) == 0 && !strpbrk(sl.master, " \t\r\n"),
		     "an accepted master name is the input without spaces", s, "");
	return 0;
}
