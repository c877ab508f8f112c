/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_notify.c -- libFuzzer target for the NOTIFY answer of secondary zones
 * (gk_xfr_secondary_notify: question parsing, zone lookup, source check, TSIG verification and
 * signing). The input is one message, from 127.0.0.1 (a primary of every zone) or, with the
 * first octet odd, from 192.0.2.7 (no primary). Two zones: f.cn unsigned, k.cn keyed.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "xfr/secondary.h"

static gk_secondary_t *sec;
static char dir[] = "/tmp/gk-fuzz-notify-XXXXXX";

static void cleanup(void)
{
	rmdir(dir); /* empty: nothing is ever transferred */
}

static void setup(void)
{
	static uv_loop_t loop;
	static gk_zoneset_t *zs;
	static gk_xfr_conf_t conf;
	static gk_xfr_zone_conf_t zones[2];
	static gk_tsig_key_t key;
	char err[256];
	if (!mkdtemp(dir) || uv_loop_init(&loop) != 0 ||
	    gk_zone_store_create(NULL, NULL, &zs) != 0 ||
	    gk_xfr_tsig_key_init(&key, "k.", "hmac-sha256", "c2VjcmV0") != 0)
		abort();
	atexit(cleanup);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&zones[i].primaries[0].addr;
		a->sin_family = AF_INET;
		a->sin_port = htons(53);
		a->sin_addr.s_addr = htonl(0x7f000001);
		zones[i].n_primaries = 1;
	}
	zones[0].name = "f.cn";
	zones[1].name = "k.cn";
	zones[1].primaries[0].key = &key;
	conf = (gk_xfr_conf_t){.directory = dir,
	                       .timeout_ms = 1000,
	                       .max_transfers = 1,
	                       .max_zone_bytes = 1 << 20,
	                       .max_zone_records = 1000,
	                       .keys = &key,
	                       .n_keys = 1,
	                       .zones = zones,
	                       .n_zones = 2};
	if (gk_xfr_secondary_create(&loop, zs, &conf, NULL, NULL, NULL, &sec, err, sizeof err) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sec)
		setup();
	if (size < 1)
		return 0;
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(5353)};
	from.sin_addr.s_addr = htonl((data[0] & 1) ? 0xc0000207 : 0x7f000001);
	static uint8_t out[65535];
	size_t ol = 0;
	gk_xfr_secondary_notify(sec, data + 1, size - 1, (const struct sockaddr *)&from, out,
	                        sizeof out, &ol);
	if (ol > sizeof out)
		abort();
	return 0;
}
