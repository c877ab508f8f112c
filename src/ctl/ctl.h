/* SPDX-License-Identifier: MIT */
/* src/ctl/ctl.h -- gkctl, the operator's tool: fleet policy, fleet status, lookups.
 *
 * src/bin/gkctl/main.c parses the command line into a gk_ctl_opts_t and calls one verb.
 * Every verb writes its report to out and its errors (one line each, "gkctl: ...", naming
 * file:line for policy errors) to errf, and returns the process exit status:
 * GK_CTL_OK, GK_CTL_REJECT (policy invalid, an instance lags, a signature fails),
 * GK_CTL_USAGE (bad arguments or unusable key/config), GK_CTL_IO (Redis or I/O error).
 * Synchronous hiredis; one connection per run. Main thread of a short-lived process.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { GK_CTL_OK = 0, GK_CTL_REJECT = 1, GK_CTL_USAGE = 2, GK_CTL_IO = 3 };

#define GK_CTL_PUBKEYS_MAX 16

typedef struct gk_ctl_opts {
	const char *redis;   /* "HOST:PORT" | "[V6]:PORT" | "unix:PATH"; NULL: the config's
	                        redis.address, else 127.0.0.1:6379 */
	const char *key;     /* operator private key (push, rollback) */
	const char *message; /* push/rollback message, or NULL */
	const char *config;  /* gatekeeperd config (lookup; status/show take redis and keys) */
	const char *control; /* control socket (--control); NULL: the config's control.socket */
	const char *pubkeys[GK_CTL_PUBKEYS_MAX]; /* public keys to verify with (show) */
	size_t n_pubkeys;
	const char *file;    /* show: print only this file of the bundle */
	const char *qtype;   /* lookup: query type (default A) */
	bool tcp;            /* lookup: as if asked over TCP */
	bool dry_run;        /* push: validate, show the diff to the current version, push
	                        nothing (no key needed) */
	unsigned timeout_ms; /* Redis connect timeout */
	/* AUTH (the gkctl ACL user; --redis-user, --redis-password-file or GK_REDIS_PASSWORD);
	 * NULL: none. Never the config's credentials, which are gatekeeperd's. */
	const struct gk_redis_auth *auth;
} gk_ctl_opts_t;

int gk_ctl_policy_push(const gk_ctl_opts_t *o, const char *path, FILE *out, FILE *errf);
/* version 0: the current one. */
int gk_ctl_policy_show(const gk_ctl_opts_t *o, uint64_t version, FILE *out, FILE *errf);
int gk_ctl_policy_history(const gk_ctl_opts_t *o, FILE *out, FILE *errf);
int gk_ctl_policy_diff(const gk_ctl_opts_t *o, uint64_t a, uint64_t b, FILE *out, FILE *errf);
int gk_ctl_policy_rollback(const gk_ctl_opts_t *o, uint64_t version, FILE *out, FILE *errf);
/* Print the key id of a PEM key file (private or public). */
int gk_ctl_policy_keyid(const char *path, FILE *out, FILE *errf);

/* Every live gatekeeperd; GK_CTL_REJECT when one lags, is not ready, is stale (no Redis
 * reply for filing.stale_after_ms) or diverged (its store went below the serial it
 * applied), none is live, or a heartbeat is old. */
int gk_ctl_status(const gk_ctl_opts_t *o, FILE *out, FILE *errf);

/* Registrable domain, filing status and record, the policy rule, and the answer
 * gatekeeperd would give (gk_pkt_process on a synthesized query). */
int gk_ctl_lookup(const gk_ctl_opts_t *o, const char *name, FILE *out, FILE *errf);

/* A control-channel request (docs/CONTROL.md): words[0..n) as given on the command line
 * ("zone add NAME FILE", "zone status", "reload", "stats", "loglevel info", ...), sent to
 * o->control or the config's control.socket; a relative zone file is made absolute.
 * Prints the answer; GK_CTL_OK, GK_CTL_REJECT (the daemon answered with an error),
 * GK_CTL_USAGE (bad request, no socket configured) or GK_CTL_IO (cannot connect, answer
 * cut short). */
int gk_ctl_control(const gk_ctl_opts_t *o, char **words, int n, FILE *out, FILE *errf);
