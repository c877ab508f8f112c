/* SPDX-License-Identifier: MIT */
/* src/daemon/service.c -- running as a service: the privilege drop, systemd readiness.
 *
 * Called once at the end of start-up, when the sockets, the metrics listener and the dnstap
 * file are open: the root changes to chroot: (NSD's semantics), root is dropped
 * (daemon/privs.h) and systemd is told (daemon/notify.h)
 * READY=1 as soon as everything configured is loaded -- every zone loaded or failed
 * (start-up loading, daemon/zoneload.h, runs on the loop: STATUS= shows its progress until
 * then), the filing-status replica's first full load, and with policy.redis a verified
 * fleet policy -- with a STATUS= line an operator sees in `systemctl status`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/chroot.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "daemon/privs.h"
#include "daemon/zoneload.h"

static bool notify_ready(void *ctx, char *status, size_t len)
{
	gk_server_t *s = ctx;
	const gk_config_t *cfg = s->cur;
	gk_status_info_t si = {0};
	if (s->status != NULL)
		gk_status_info(s->status, &si);
	bool status_ok = s->status == NULL || si.ready;
	bool policy_ok = !s->boot->policy.redis || s->pol_fleet;
	char pol[48] = "none";
	if (s->pol != NULL && s->pol_fleet)
		snprintf(pol, sizeof(pol), "fleet version %llu",
		         (unsigned long long)s->pol->version);
	else if (s->pol != NULL)
		snprintf(pol, sizeof(pol), "file");
	else if (s->boot->policy.redis)
		snprintf(pol, sizeof(pol), "waiting for the fleet's");
	char serial[48] = "no filing check";
	if (s->status != NULL && si.ready)
		snprintf(serial, sizeof(serial), "registry serial %llu",
		         (unsigned long long)si.serial);
	else if (s->status != NULL)
		snprintf(serial, sizeof(serial), "loading the filing status");
	gk_obs_zones_t zf;
	gk_daemon_zoneload_figures(s->zload, &zf);
	bool zones_ok = gk_daemon_zoneload_ready(s->zload);
	char zones[96];
	if (!zones_ok)
		snprintf(zones, sizeof(zones), "loading zones: %llu of %llu loaded, %llu failed",
		         (unsigned long long)(zf.configured - zf.loading - zf.failed),
		         (unsigned long long)zf.configured, (unsigned long long)zf.failed);
	else if (zf.failed)
		snprintf(zones, sizeof(zones), "%zu zones (%llu failed: SERVFAIL)",
		         gk_zone_store_zone_count(s->zs), (unsigned long long)zf.failed);
	else
		snprintf(zones, sizeof(zones), "%zu zones", gk_zone_store_zone_count(s->zs));
	snprintf(status, len, "%s, %s, policy %s%s", zones, serial, pol,
	         cfg && cfg->rrl.rate ? "" : ", rate_limit off");
	return zones_ok && status_ok && policy_ok;
}

/* chroot: (NSD's semantics). Everything opened at start is open; the root changes to the
 * directory, then the privileges drop. Every path read later (reloads, zone add, the state
 * file, dnstap rotation, secondary zones) is the configured one without the directory.
 * libsystemd addresses its sockets by path on every message (sd_notify opens a socket and
 * sends to $NOTIFY_SOCKET each call; sd_journal_send sends to /run/systemd/journal/socket),
 * which a chroot hides: under systemd, RootDirectory= (with BindReadOnlyPaths= for those
 * sockets) confines the daemon instead, so chroot: with NOTIFY_SOCKET or JOURNAL_STREAM set
 * is refused. */
static int enter_chroot(gk_server_t *s, char *err, size_t errlen)
{
	const char *dir = s->boot->chroot;
	if (dir == NULL)
		return 0;
	const char *env = getenv("NOTIFY_SOCKET")    ? "NOTIFY_SOCKET"
	                  : getenv("JOURNAL_STREAM") ? "JOURNAL_STREAM"
	                                             : NULL;
	if (env != NULL) {
		snprintf(err, errlen,
		         "%s:%zu: chroot %s: refused under systemd (%s is set: sd_notify and the "
		         "journal are reached by path, which a chroot hides); use the unit's "
		         "RootDirectory= instead",
		         s->boot->path, s->boot->chroot_line, dir, env);
		return GK_ECONFIG;
	}
	if (chroot(dir) != 0 || chdir("/") != 0) {
		int e = errno;
		snprintf(err, errlen, "%s:%zu: chroot %s: %s", s->boot->path, s->boot->chroot_line,
		         dir, strerror(e));
		return -e;
	}
	gk_chroot_set(dir);
	gk_log(GK_LOG_INFO, "chroot: %s (configured paths under it are read without it)", dir);
	gk_daemon_config_chroot_strip(s->boot);
	if (s->cur != s->boot)
		gk_daemon_config_chroot_strip(s->cur);
	return 0;
}

int gk_daemon_service_start(gk_server_t *s, char *err, size_t errlen)
{
	const gk_rrl_config_t *rl = &s->boot->rrl;
	if (rl->rate)
		gk_log(GK_LOG_INFO,
		       "rate_limit: %u responses/s per key and UDP thread, slip %u, window %u s, "
		       "/%u IPv4, /%u IPv6, %u exempt prefixes",
		       rl->rate, rl->slip, rl->window, rl->v4_prefix, rl->v6_prefix, rl->n_exempt);
	else
		gk_log(GK_LOG_INFO, "rate_limit: off");
	int rc = enter_chroot(s, err, errlen);
	if (rc != 0)
		return rc;
	rc = gk_daemon_privs_drop(&s->boot->privs, err, errlen);
	if (rc != 0)
		return rc;
	if ((rc = gk_daemon_notify_start(&s->loop, notify_ready, s, &s->notify)) != 0) {
		snprintf(err, errlen, "systemd notify: %s", uv_strerror(rc));
		return rc;
	}
	return 0;
}
