/* SPDX-License-Identifier: MIT */
/* src/daemon/tls.c -- the daemon's DNS-over-TLS listeners: certificates at start and on
 * SIGHUP (net/tls.h). Main thread.
 *
 * The private key is read at start, before the privilege drop, so it may stay readable by
 * root only; a reload after the drop reads the files as the configured user, and a file it
 * cannot read (or a bad certificate) is logged by name while the loaded one keeps serving.
 * Listener addresses and limits are fixed at start (a change is reported, as for listen).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "daemon/internal.h"
#include "net/tls.h"

int gk_daemon_tls_create(gk_server_t *s, gk_net_tls_t **tls_out, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	*tls_out = NULL;
	if (cfg->n_tls == 0)
		return 0;
	s->tls = calloc(cfg->n_tls, sizeof(*s->tls));
	gk_net_tls_t *nt = calloc(cfg->n_tls, sizeof(*nt));
	if (s->tls == NULL || nt == NULL) {
		free(nt);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_tls; i++) {
		const gk_config_tls_t *t = &cfg->tls[i];
		char why[400];
		int rc = gk_net_tls_ctx_new(t->certificate, t->key, t->min_version, &s->tls[i], why,
		                            sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "tls %s: %s", t->listen.text, why);
			free(nt);
			return rc;
		}
		nt[i].addr.addr = t->listen.addr;
		nt[i].addr.addrlen = t->listen.addrlen;
		nt[i].addr.text = t->listen.text;
		nt[i].ctx = s->tls[i];
		nt[i].max_connections = (t->max_connections + cfg->workers - 1) / cfg->workers;
		nt[i].idle_timeout_ms = t->idle_timeout_ms;
		nt[i].handshake_timeout_ms = t->handshake_timeout_ms;
	}
	*tls_out = nt;
	return 0;
}

int gk_daemon_tls_check(const gk_config_t *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->n_tls; i++) {
		const gk_config_tls_t *t = &cfg->tls[i];
		gk_tls_ctx_t *ctx;
		char why[400];
		int rc = gk_net_tls_ctx_new(t->certificate, t->key, t->min_version, &ctx, why,
		                            sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "%s: tls %s: %s", cfg->path, t->listen.text, why);
			return rc;
		}
		gk_net_tls_ctx_free(ctx);
	}
	return 0;
}

void gk_daemon_tls_reload(gk_server_t *s, const gk_config_t *next)
{
	const gk_config_t *boot = s->boot;
	bool same = boot->n_tls == next->n_tls;
	for (size_t i = 0; same && i < boot->n_tls; i++)
		same = strcmp(boot->tls[i].listen.text, next->tls[i].listen.text) == 0 &&
		       boot->tls[i].min_version == next->tls[i].min_version &&
		       boot->tls[i].idle_timeout_ms == next->tls[i].idle_timeout_ms &&
		       boot->tls[i].handshake_timeout_ms == next->tls[i].handshake_timeout_ms &&
		       boot->tls[i].max_connections == next->tls[i].max_connections;
	if (!same)
		gk_log(GK_LOG_WARN, "reload: tls listeners or their settings changed: takes "
		                    "effect after restart (certificates of unchanged addresses "
		                    "are reloaded)");
	for (size_t i = 0; i < boot->n_tls && s->tls != NULL; i++) {
		const gk_config_tls_t *t = NULL;
		for (size_t j = 0; j < next->n_tls && t == NULL; j++)
			if (strcmp(next->tls[j].listen.text, boot->tls[i].listen.text) == 0)
				t = &next->tls[j];
		if (t == NULL)
			continue;
		char why[400];
		if (gk_net_tls_ctx_reload(s->tls[i], t->certificate, t->key, why, sizeof(why)) != 0)
			gk_log(GK_LOG_ERR,
			       "reload: tls %s: %s (the certificate loaded before keeps serving)",
			       t->listen.text, why);
		else
			gk_log(GK_LOG_INFO, "reload: tls %s: certificate %s reloaded",
			       t->listen.text, t->certificate);
	}
}

void gk_daemon_tls_free(gk_server_t *s)
{
	if (s->tls == NULL)
		return;
	for (size_t i = 0; i < s->boot->n_tls; i++)
		gk_net_tls_ctx_free(s->tls[i]);
	free(s->tls);
	s->tls = NULL;
}
