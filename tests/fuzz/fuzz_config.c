/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_config.c -- libFuzzer target: arbitrary bytes as gatekeeperd's config file.
 *
 * The input is written to a private temporary file and loaded without secrets or zone lists
 * (nothing else is read). A failure must name the file at the start of its message; a
 * success must leave every forwarded zone on an existing pool with 1..64 backends, and
 * gk_front_conf_lookup must find each forwarded apex's pool. Leaks show under ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/config.h"
#include "front/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_path(void)
{
	unlink(path);
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
	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/gk-fuzz-config-XXXXXX");
		int fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(remove_path);
	}
	FILE *f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	char err[512] = "";
	gk_config_t *cfg = NULL;
	int rc = gk_config_load_flags(path, GK_CONFIG_NO_SECRETS | GK_CONFIG_NO_ZONE_LISTS, &cfg,
	                              err, sizeof(err));
	if (rc != 0) {
		if (cfg != NULL || strncmp(err, path, strlen(path)) != 0)
			abort();
		return 0;
	}
	check_front(cfg->front);
	gk_config_free(cfg);
	return 0;
}
