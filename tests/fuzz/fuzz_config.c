/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_config.c -- libFuzzer target: arbitrary bytes as gatekeeperd's YAML config.
 *
 * Each input is written as gatekeeperd.conf in a private directory that also holds a zone
 * list, a zones directory and a password file, so relative paths (zone_list, zones_dir,
 * redis.password_file, control.state_file...) resolve there and reach the sections parsed
 * in their own files. The loader reads only regular files (a FIFO or a device named by an
 * absolute path is refused, not opened for a blocking read). A config that loads must hold
 * consistent zones and every forwarded zone on an existing pool of 1..64 backends that
 * gk_front_conf_lookup finds; an error must name the config or the file it read, and the
 * loader frees everything (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/config.h"
#include "front/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char conf[96];

static void put(const char *name, const char *text)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%.40s/gkfuzzcfg.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf, sizeof(conf), "%s/gatekeeperd.conf", dir);
	char zd[96];
	snprintf(zd, sizeof(zd), "%s/zones", dir);
	if (mkdir(zd, 0700) != 0)
		abort();
	put("zones.list", "example.com example.com.zone\nexample.net /nonexistent/example.net\n");
	put("zones/example.org.zone", "");
	put("zones.state", "example.info example.info.zone\n");
	put("redis.pass", "secret\n");
	put("example.com.zone", "");
}

static void check_front(const gk_front_conf_t *fc)
{
	if (!fc)
		return;
	for (size_t i = 0; i < fc->n_pools; i++)
		if (fc->pools[i].n_backends < 1 ||
		    fc->pools[i].n_backends > GK_FPOOL_BACKENDS_MAX || fc->pools[i].name == NULL)
			abort();
	for (size_t i = 0; i < fc->n_zones; i++) {
		if (fc->zones[i].pool >= fc->n_pools)
			abort();
		if (gk_front_conf_lookup(fc, fc->zones[i].name) == NULL)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0')
		setup();
	FILE *f = fopen(conf, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	gk_config_t *cfg = NULL;
	char err[1024] = "";
	int rc = gk_daemon_config_load(conf, &cfg, err, sizeof(err));
	if (rc == 0) {
		if (cfg == NULL || cfg->n_listen == 0)
			abort();
		for (size_t i = 0; i < cfg->n_zones; i++)
			if (cfg->zones[i].name == NULL || cfg->zones[i].file == NULL)
				abort();
		check_front(cfg->front);
		gk_daemon_config_free(cfg);
	} else if (rc != GK_ENOMEM && err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	return 0;
}
