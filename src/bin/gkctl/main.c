/* SPDX-License-Identifier: MIT */
/* src/bin/gkctl/main.c -- gkctl: the command line only; the verbs live in src/ctl/.
 *
 * Exit status: 0 done; 1 rejected (invalid policy, bad signature, an instance lags); 2 bad
 * usage or unusable key/config; 3 Redis or I/O error. GKCTL_REDIS stands in for --redis.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/ctl.h"
#include "gk/version.h"
#include "ctl/report.h"
#include "polstore/polstore.h"
#include "redis/redis.h"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: gkctl [-r|--redis HOST:PORT|unix:PATH] [-c|--config gatekeeperd.conf]\n"
	       "             [--redis-user USER] [--redis-password-file FILE] COMMAND\n"
	       "  (the password: that file's first line, else GK_REDIS_PASSWORD)\n"
	       "  instead of --redis: --sentinel HOST:PORT (repeatable) --master-name NAME\n"
	       "  (else GK_REDIS_SENTINELS, comma-separated, and GK_REDIS_MASTER); sentinels\n"
	       "  that want AUTH: --sentinel-user USER --sentinel-password-file FILE (else\n"
	       "  GK_REDIS_SENTINEL_USER, GK_REDIS_SENTINEL_PASSWORD)\n"
	       "  policy push PATH -k|--key OPERATOR_KEY [-m|--message TEXT] | --dry-run\n"
	       "  policy show [VERSION] [-p|--pubkey PUB.pem]... [-f|--file NAME]\n"
	       "  policy history\n"
	       "  policy diff A B\n"
	       "  policy rollback VERSION -k|--key OPERATOR_KEY [-m|--message TEXT]\n"
	       "  policy keyid KEY.pem\n"
	       "  status\n"
	       "  lookup NAME [-t|--type TYPE] [--tcp] [-c gatekeeperd.conf]\n"
	       "  zone add NAME FILE | zone remove NAME | zone reload [NAME] | zone status [NAME]\n"
	       "  zone refresh NAME (a secondary zone: SOA check now)\n"
	       "  reload | stats | loglevel error|warning|info|debug\n"
	       "    (control channel: --control SOCKET, else -c CONFIG's control.socket;\n"
	       "     exit 1 when gatekeeperd answers with an error; docs/CONTROL.md)\n"
	       "  report [--from DATE] [--to DATE] | [--month YYYY-MM]\n"
	       "         [--format table|csv|json|html|notice] [--output FILE]\n"
	       "         [--records-redis ADDR]   (docs/REPORT.md)\n"
	       "  --timeout MS       Redis connect timeout\n"
	       "  -V, --version      print the version\n"
	       "  -h, --help         this text\n"
	       "Exit: 0 ok, 1 rejected or lagging, 2 usage, 3 Redis/I/O error.\n"
	       "See policy/README.md (push, keys, history, rollback, audit) and README.md.\n");
}

static int version_arg(const char *s, uint64_t *v)
{
	if (gk_polstore_parse_version(s, strlen(s), v) != 0 || *v == 0) {
		fprintf(stderr, "gkctl: '%s' is not a version number (1..%llu)\n", s,
		        (unsigned long long)GK_POLICY_VERSION_MAX);
		return -1;
	}
	return 0;
}

/* A command line no verb accepted: name what is missing or extra, not the whole usage. */
static int bad_usage(char **a, int n)
{
	static const struct {
		const char *verb, *args; /* verb: "policy push", "status", ... */
		int n;                   /* words including the verb */
	} verbs[] = {
	    {"policy push", "PATH", 3},
	    {"policy show", "[VERSION]", 3},
	    {"policy history", "", 2},
	    {"policy diff", "A B (two versions)", 4},
	    {"policy rollback", "VERSION", 3},
	    {"policy keyid", "KEY.pem", 3},
	    {"status", "", 1},
	    {"lookup", "NAME", 2},
	};
	if (n == 0) {
		fprintf(stderr, "gkctl: missing COMMAND (policy, status, lookup, report, zone, "
		                "reload, stats, loglevel)\n");
		usage(stderr);
		return GK_CTL_USAGE;
	}
	char verb[64];
	snprintf(verb, sizeof(verb), "%s%s%s", a[0], n >= 2 && !strcmp(a[0], "policy") ? " " : "",
	         n >= 2 && !strcmp(a[0], "policy") ? a[1] : "");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i].verb))
			continue;
		if (n < verbs[i].n)
			fprintf(stderr, "gkctl %s: missing %s\n", verb, verbs[i].args);
		else
			fprintf(stderr, "gkctl %s: unexpected argument '%s'\n", verb,
			        a[verbs[i].n]);
		fprintf(stderr, "(gkctl --help lists every command and option)\n");
		return GK_CTL_USAGE;
	}
	if (!strcmp(a[0], "policy"))
		fprintf(
		    stderr, "gkctl policy: %s '%s' (push, show, history, diff, rollback, keyid)\n",
		    n == 1 ? "missing the verb after" : "unknown verb", n == 1 ? "policy" : a[1]);
	else
		fprintf(stderr,
		        "gkctl: unknown command '%s' (policy, status, lookup, report, zone, "
		        "reload, stats, loglevel)\n",
		        a[0]);
	fprintf(stderr, "(gkctl --help lists every command and option)\n");
	return GK_CTL_USAGE;
}

/* The sentinels' credentials (--sentinel-user, --sentinel-password-file, else the
 * environment) into s. 0, or 1 after a message. */
static int sentinel_auth(gk_redis_sentinel_t *s, const char *user, const char *pwfile)
{
	char err[600];
	if (gk_redis_sentinel_set_auth(s, user, pwfile, err, sizeof(err)) != 0) {
		fprintf(stderr, "gkctl: %s\n", err);
		return 1;
	}
	return 0;
}

/* --sentinel / --master-name (else GK_REDIS_SENTINELS / GK_REDIS_MASTER): ask the sentinels
 * for the primary now and use it as --redis. Returns 0 (nothing configured, or *redis set
 * to the primary's address), or an exit status after a message. */
static int use_sentinels(gk_redis_sentinel_t *s, const char *master, const char *ruser,
                         const char *rpwfile, const char **redis)
{
	static char addr[320];
	char err[800];
	const char *senv = getenv(GK_REDIS_SENTINELS_ENV);
	if (!master)
		master = getenv(GK_REDIS_MASTER_ENV);
	if (s->n == 0 && senv && senv[0] &&
	    gk_redis_sentinel_add_list(s, senv, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "gkctl: %s: %s\n", GK_REDIS_SENTINELS_ENV, err);
		return GK_CTL_USAGE;
	}
	if (s->n == 0 && (!master || !master[0]))
		return 0;
	if (s->n == 0 || !master || !master[0]) {
		fprintf(stderr,
		        "gkctl: Sentinel needs both --sentinel HOST:PORT and --master-name NAME "
		        "(or %s and %s)\n",
		        GK_REDIS_SENTINELS_ENV, GK_REDIS_MASTER_ENV);
		return GK_CTL_USAGE;
	}
	if (*redis) {
		fprintf(stderr, "gkctl: --redis and --sentinel are mutually exclusive (the "
		                "sentinels name the primary)\n");
		return GK_CTL_USAGE;
	}
	if (gk_redis_sentinel_set_master(s, master, err, sizeof(err)) != 0) {
		fprintf(stderr, "gkctl: --master-name: %s\n", err);
		return GK_CTL_USAGE;
	}
	gk_redis_auth_t auth;
	if (gk_redis_auth_load(&auth, ruser, rpwfile, err, sizeof(err)) != 0) {
		fprintf(stderr, "gkctl: %s\n", err);
		return GK_CTL_USAGE;
	}
	gk_redis_addr_t a;
	int rc = gk_redis_sentinel_resolve(s, &auth, 5000, &a, err, sizeof(err));
	gk_redis_auth_clear(&auth);
	if (rc) {
		fprintf(stderr, "gkctl: %s\n", err);
		return GK_CTL_IO;
	}
	gk_redis_addr_fmt(&a, addr, sizeof(addr));
	*redis = addr;
	return 0;
}

int main(int argc, char **argv)
{
	static gk_redis_sentinel_t sentinel;
	const char *master = NULL;
	char serr[600];
	gk_ctl_opts_t o = {.redis = getenv("GKCTL_REDIS")};
	if (o.redis && !o.redis[0])
		o.redis = NULL;
	/* report parses its own options (src/ctl/report.h); --redis may come before it */
	int ri = 1;
	const char *ruser = getenv("GK_REDIS_USER"), *rpwfile = NULL;
	const char *suser = getenv(GK_REDIS_SENTINEL_USER_ENV), *spwfile = NULL;
	for (;;) {
		if (ri + 1 < argc && (!strcmp(argv[ri], "--redis") || !strcmp(argv[ri], "-r")))
			o.redis = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--redis-user"))
			ruser = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--redis-password-file"))
			rpwfile = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--master-name"))
			master = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--sentinel-user"))
			suser = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--sentinel-password-file"))
			spwfile = argv[ri + 1], ri += 2;
		else if (ri + 1 < argc && !strcmp(argv[ri], "--sentinel")) {
			if (gk_redis_sentinel_add(&sentinel, argv[ri + 1], 0, serr, sizeof(serr))) {
				fprintf(stderr, "gkctl: --sentinel: %s\n", serr);
				return GK_CTL_USAGE;
			}
			ri += 2;
		} else
			break;
	}
	if (ri < argc && strcmp(argv[ri], "report") == 0) {
		if (sentinel_auth(&sentinel, suser, spwfile) != 0)
			return GK_CTL_USAGE;
		int src = use_sentinels(&sentinel, master, ruser, rpwfile, &o.redis);
		if (src)
			return src;
		return gk_ctl_report_main(argc - ri, argv + ri, o.redis, ruser, rpwfile, stdout,
		                          stderr);
	}
	sentinel = (gk_redis_sentinel_t){0}; /* the options are read again below */
	master = NULL;
	static const struct option lo[] = {{"redis", required_argument, NULL, 'r'},
	                                   {"config", required_argument, NULL, 'c'},
	                                   {"key", required_argument, NULL, 'k'},
	                                   {"message", required_argument, NULL, 'm'},
	                                   {"pubkey", required_argument, NULL, 'p'},
	                                   {"file", required_argument, NULL, 'f'},
	                                   {"type", required_argument, NULL, 't'},
	                                   {"tcp", no_argument, NULL, 'T'},
	                                   {"dry-run", no_argument, NULL, 'n'},
	                                   {"timeout", required_argument, NULL, 'o'},
	                                   {"redis-user", required_argument, NULL, 'u'},
	                                   {"redis-password-file", required_argument, NULL, 'W'},
	                                   {"sentinel", required_argument, NULL, 'S'},
	                                   {"master-name", required_argument, NULL, 'M'},
	                                   {"control", required_argument, NULL, 'C'},
	                                   {"sentinel-user", required_argument, NULL, 'E'},
	                                   {"sentinel-password-file", required_argument, NULL, 'F'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {"version", no_argument, NULL, 'V'},
	                                   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "r:c:k:m:p:f:t:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.redis = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'm':
			o.message = optarg;
			break;
		case 'p':
			if (o.n_pubkeys == GK_CTL_PUBKEYS_MAX) {
				fprintf(stderr, "gkctl: at most %d --pubkey\n", GK_CTL_PUBKEYS_MAX);
				return GK_CTL_USAGE;
			}
			o.pubkeys[o.n_pubkeys++] = optarg;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 't':
			o.qtype = optarg;
			break;
		case 'T':
			o.tcp = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'o':
			o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			ruser = optarg;
			break;
		case 'W':
			rpwfile = optarg;
			break;
		case 'S':
			if (gk_redis_sentinel_add(&sentinel, optarg, 0, serr, sizeof(serr))) {
				fprintf(stderr, "gkctl: --sentinel: %s\n", serr);
				return GK_CTL_USAGE;
			}
			break;
		case 'M':
			master = optarg;
			break;
		case 'C':
			o.control = optarg;
			break;
		case 'E':
			suser = optarg;
			break;
		case 'F':
			spwfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("gkctl %s\n", GK_VERSION);
			return 0;
		default:
			usage(stderr);
			return GK_CTL_USAGE;
		}
	}
	static gk_redis_auth_t auth;
	char aerr[600];
	if (gk_redis_auth_load(&auth, ruser, rpwfile, aerr, sizeof(aerr)) != 0) {
		fprintf(stderr, "gkctl: %s\n", aerr);
		return GK_CTL_USAGE;
	}
	o.auth = &auth;
	if (sentinel_auth(&sentinel, suser, spwfile) != 0)
		return GK_CTL_USAGE;
	o.sentinel_auth = &sentinel; /* also for the sentinels of a config (-c) */
	int src = use_sentinels(&sentinel, master, ruser, rpwfile, &o.redis);
	if (src)
		return src;
	char **a = argv + optind;
	int n = argc - optind;
	uint64_t v1 = 0, v2 = 0;
	if (n >= 1 && (!strcmp(a[0], "zone") || !strcmp(a[0], "reload") || !strcmp(a[0], "stats") ||
	               !strcmp(a[0], "loglevel")))
		return gk_ctl_control(&o, a, n, stdout, stderr);
	if (n >= 2 && strcmp(a[0], "policy") == 0) {
		const char *verb = a[1];
		if (strcmp(verb, "push") == 0 && n == 3)
			return gk_ctl_policy_push(&o, a[2], stdout, stderr);
		if (strcmp(verb, "show") == 0 && (n == 2 || n == 3)) {
			if (n == 3 && version_arg(a[2], &v1) != 0)
				return GK_CTL_USAGE;
			return gk_ctl_policy_show(&o, v1, stdout, stderr);
		}
		if (strcmp(verb, "history") == 0 && n == 2)
			return gk_ctl_policy_history(&o, stdout, stderr);
		if (strcmp(verb, "diff") == 0 && n == 4) {
			if (version_arg(a[2], &v1) != 0 || version_arg(a[3], &v2) != 0)
				return GK_CTL_USAGE;
			return gk_ctl_policy_diff(&o, v1, v2, stdout, stderr);
		}
		if (strcmp(verb, "rollback") == 0 && n == 3) {
			if (version_arg(a[2], &v1) != 0)
				return GK_CTL_USAGE;
			return gk_ctl_policy_rollback(&o, v1, stdout, stderr);
		}
		if (strcmp(verb, "keyid") == 0 && n == 3)
			return gk_ctl_policy_keyid(a[2], stdout, stderr);
	} else if (n == 1 && strcmp(a[0], "status") == 0) {
		return gk_ctl_status(&o, stdout, stderr);
	} else if (n == 2 && strcmp(a[0], "lookup") == 0) {
		return gk_ctl_lookup(&o, a[1], stdout, stderr);
	}
	return bad_usage(a, n);
}
