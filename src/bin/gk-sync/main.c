/* SPDX-License-Identifier: MIT */
/* src/bin/gk-sync/main.c -- gk-sync: apply the registry's signed feed to Redis.
 *
 * Subcommands: keygen, sign, verify, apply, watch, lint, verify-ip, apply-ip (docs/FEED.md).
 * Everything but argument parsing lives in the modules (gk_sync, src/sync/). Exit status: 0 done; 1
 * feed rejected (apply, verify) or invalid JSON (lint); 2 bad usage or unusable key/config; 3 Redis
 * or I/O error; 4 another apply holds the lock (gk:sync:lock), or this apply lost it part-way.
 * Environment: GK_SYNC_REDIS (or GK_REDIS_SENTINELS and GK_REDIS_MASTER), GK_SYNC_RECORDS_REDIS,
 * GK_SYNC_PUBKEY and GK_REDIS_USER stand in for --redis, --records-redis, --pubkey and
 * --redis-user; GK_REDIS_PASSWORD holds the Redis password when no --redis-password-file is given
 * (never a command-line value). In test builds only (cmake -DGK_TEST_HOOKS=ON, the default
 * with the tests), GK_SYNC_TEST_ABORT_AFTER=N makes apply exit(70) after N bucket transactions.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "common/psl.h"
#include "gk/version.h"
#include "sync/feed.h"
#include "sync/sig.h"
#include "sync/sync.h"

enum { EX_REJECT = 1, EX_USAGE = 2, EX_IO = 3, EX_LOCK = 4 };

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: gk-sync keygen [--force] PRIV.pem PUB.pem\n"
	    "       gk-sync sign --key PRIV.pem [--base64] [--out SIG] FEED\n"
	    "       gk-sync verify --pubkey PUB.pem [--sig SIG] FEED|-\n"
	    "       gk-sync apply --redis ADDR --pubkey PUB.pem [--sig SIG]\n"
	    "                     [--records-redis HOST:PORT | --no-records] [--threads N]\n"
	    "                     [--psl FILE] [--lock-wait MS] [--lock-ttl MS]\n"
	    "                     [--window BUCKETS] FEED|-\n"
	    "       gk-sync watch --redis ADDR --pubkey PUB.pem [--records-redis ADDR |\n"
	    "                     --no-records] [--interval MS] [--lock-wait MS] [--lock-ttl MS] "
	    "DIR\n"
	    "       gk-sync verify-ip --pubkey PUB.pem [--sig SIG] IPFEED|-\n"
	    "       gk-sync apply-ip --redis ADDR --pubkey PUB.pem [--sig SIG] [--lock-wait MS]\n"
	    "                     [--lock-ttl MS] IPFEED|-\n"
	    "       gk-sync lint [--psl FILE] FEED|IPFEED|-\n"
	    "IPFEED: the IP filing feed (header \"feed\":\"ip\"), applied to gk:ip:ranges.\n"
	    "ADDR: HOST:PORT, [IPv6]:PORT or unix:/path. Instead of --redis, apply and watch\n"
	    "take --sentinel ADDR (repeatable) --master-name NAME (else GK_REDIS_SENTINELS,\n"
	    "comma-separated, and GK_REDIS_MASTER): the primary is asked of the sentinels;\n"
	    "sentinels that want AUTH: --sentinel-user USER --sentinel-password-file FILE\n"
	    "(else GK_REDIS_SENTINEL_USER, GK_REDIS_SENTINEL_PASSWORD).\n"
	    "apply and watch also take\n"
	    "[--redis-user USER] [--redis-password-file FILE] (else GK_REDIS_PASSWORD).\n"
	    "FEED.sig beside FEED holds the Ed25519 signature (64 raw bytes or base64).\n"
	    "       gk-sync -V|--version    print the version\n"
	    "       gk-sync -h|--help       this text\n"
	    "Exit: 0 ok, 1 rejected, 2 usage, 3 Redis/I/O error, 4 lock held by another apply.\n"
	    "See docs/FEED.md.\n");
}

static volatile int stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* A command line no subcommand accepted: name what is missing or extra, not the whole usage. */
static int bad_usage(const char *cmd, int nargs, const char *key, const char *pubkey)
{
	const struct {
		const char *cmd, *opt, *have, *args;
		int nargs;
	} cmds[] = {
	    {"keygen", NULL, NULL, "PRIV.pem PUB.pem", 2},
	    {"sign", "--key PRIV.pem", key, "FEED", 1},
	    {"verify", "--pubkey PUB.pem (or GK_SYNC_PUBKEY)", pubkey, "FEED", 1},
	    {"apply", "--pubkey PUB.pem (or GK_SYNC_PUBKEY)", pubkey, "FEED", 1},
	    {"verify-ip", "--pubkey PUB.pem (or GK_SYNC_PUBKEY)", pubkey, "IPFEED", 1},
	    {"apply-ip", "--pubkey PUB.pem (or GK_SYNC_PUBKEY)", pubkey, "IPFEED", 1},
	    {"watch", "--pubkey PUB.pem (or GK_SYNC_PUBKEY)", pubkey, "DIR", 1},
	    {"lint", NULL, NULL, "FEED", 1},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].cmd))
			continue;
		if (cmds[i].opt && !cmds[i].have)
			fprintf(stderr, "gk-sync %s: missing required option %s\n", cmd,
			        cmds[i].opt);
		else
			fprintf(stderr, "gk-sync %s: expected %s, got %d argument%s\n", cmd,
			        cmds[i].args, nargs, nargs == 1 ? "" : "s");
		fprintf(stderr, "(gk-sync --help lists every option)\n");
		return EX_USAGE;
	}
	fprintf(stderr, "gk-sync: unknown command '%s'\n", cmd);
	usage(stderr);
	return EX_USAGE;
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

static int cmd_apply_or_verify(int verify_only, const char *feed_path, const char *sig,
                               const char *pubkey, const char *psl_path, unsigned threads,
                               const gk_sync_opts_t *o)
{
	gk_psl_t *psl = NULL;
	gk_feed_t *feed = NULL;
	char err[1024] = "";
	int ex = 0;
	if (gk_psl_open(psl_path, &psl)) {
		fprintf(stderr, "gk-sync: cannot open the public suffix list %s\n",
		        psl_path ? psl_path : GK_PSL_DEFAULT_FILE);
		return EX_USAGE;
	}
	int rc = gk_sync_load(feed_path, sig, pubkey, psl, threads,
	                      o->no_records ? GK_FEED_NO_RECORDS : 0, &feed, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "gk-sync: %s%s\n", rc == GK_ESYNTAX ? "rejected: " : "", err);
		ex = rc == GK_ESYNTAX ? EX_REJECT : rc == GK_EINVAL ? EX_USAGE : EX_IO;
		goto out;
	}
	if (verify_only) {
		printf("%s: ok: %s serial %llu, %zu records\n", feed_path,
		       feed->kind == GK_FEED_SNAPSHOT ? "snapshot" : "delta",
		       (unsigned long long)feed->serial, feed->n);
		goto out;
	}
	gk_sync_stats_t st;
	rc = gk_sync_apply(o, feed, strcmp(feed_path, "-") ? feed_path : "<stdin>", &st, err,
	                   sizeof(err));
	if (rc) {
		int rej = rc == GK_ESYNTAX || rc == GK_EAGAIN;
		fprintf(stderr, "gk-sync: %s%s\n", rej ? "rejected: " : "", err);
		ex = rej ? EX_REJECT : rc == GK_EBUSY ? EX_LOCK : EX_IO;
		goto out;
	}
	if (st.already_applied) {
		printf("already applied: gk:serial is %llu, the serial of this delta; nothing "
		       "written\n",
		       (unsigned long long)feed->serial);
		goto out;
	}
	printf("applied %s serial %llu (was %llu): %llu added, %llu changed, %llu removed, "
	       "%llu unchanged, %llu record fields, %llu buckets, %llu new providers, %.2f s\n",
	       feed->kind == GK_FEED_SNAPSHOT ? "snapshot" : "delta",
	       (unsigned long long)feed->serial, (unsigned long long)st.serial_before,
	       (unsigned long long)st.added, (unsigned long long)st.changed,
	       (unsigned long long)st.removed, (unsigned long long)st.unchanged,
	       (unsigned long long)st.records_written, (unsigned long long)st.buckets_written,
	       (unsigned long long)st.new_providers, st.seconds);
out:
	gk_sync_feed_free(feed);
	gk_psl_close(psl);
	return ex;
}

static int cmd_ip(int verify_only, const char *feed_path, const char *sig, const char *pubkey,
                  const gk_sync_opts_t *o)
{
	gk_ipfeed_t *feed = NULL;
	char err[1024] = "";
	int ex = 0;
	int rc = gk_sync_load_ip(feed_path, sig, pubkey, &feed, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "gk-sync: %s%s\n", rc == GK_ESYNTAX ? "rejected: " : "", err);
		return rc == GK_ESYNTAX ? EX_REJECT : rc == GK_EINVAL ? EX_USAGE : EX_IO;
	}
	const char *kind = feed->kind == GK_FEED_SNAPSHOT ? "snapshot" : "delta";
	if (verify_only) {
		printf("%s: ok: IP %s serial %llu, %zu ranges (%zu nested)\n", feed_path, kind,
		       (unsigned long long)feed->serial, feed->n, feed->n_nested);
		goto out;
	}
	gk_sync_ip_stats_t st;
	rc = gk_sync_ip_apply(o, feed, strcmp(feed_path, "-") ? feed_path : "<stdin>", &st, err,
	                      sizeof(err));
	if (rc) {
		int rej = rc == GK_ESYNTAX || rc == GK_EAGAIN;
		fprintf(stderr, "gk-sync: %s%s\n", rej ? "rejected: " : "", err);
		ex = rej ? EX_REJECT : rc == GK_EBUSY ? EX_LOCK : EX_IO;
		goto out;
	}
	if (st.already_applied)
		printf("already applied: gk:ip:serial is %llu, the serial of this delta; nothing "
		       "written\n",
		       (unsigned long long)feed->serial);
	else
		printf("applied IP %s serial %llu (was %llu): %llu ranges written, %llu removed, "
		       "%.2f s\n",
		       kind, (unsigned long long)feed->serial, (unsigned long long)st.serial_before,
		       (unsigned long long)st.set, (unsigned long long)st.removed, st.seconds);
out:
	gk_sync_ipfeed_free(feed);
	return ex;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"redis", required_argument, NULL, 'r'},
	    {"pubkey", required_argument, NULL, 'p'},
	    {"sig", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"base64", no_argument, NULL, 'b'},
	    {"no-records", no_argument, NULL, 'n'},
	    {"threads", required_argument, NULL, 't'},
	    {"psl", required_argument, NULL, 'P'},
	    {"interval", required_argument, NULL, 'i'},
	    {"window", required_argument, NULL, 'w'},
	    {"version", no_argument, NULL, 'V'},
	    {"records-redis", required_argument, NULL, 'R'},
	    {"redis-user", required_argument, NULL, 'U'},
	    {"redis-password-file", required_argument, NULL, 'W'},
	    {"force", no_argument, NULL, 'f'},
	    {"lock-wait", required_argument, NULL, 'L'},
	    {"lock-ttl", required_argument, NULL, 'T'},
	    {"sentinel", required_argument, NULL, 'S'},
	    {"master-name", required_argument, NULL, 'M'},
	    {"sentinel-user", required_argument, NULL, 'E'},
	    {"sentinel-password-file", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("gk-sync %s\n", GK_VERSION);
		return 0;
	}
	const char *redis = getenv("GK_SYNC_REDIS"), *pubkey = getenv("GK_SYNC_PUBKEY");
	const char *records_redis = getenv("GK_SYNC_RECORDS_REDIS");
	const char *redis_user = getenv("GK_REDIS_USER"), *redis_pwfile = NULL;
	const char *sig = NULL, *key = NULL, *out = NULL, *psl_path = NULL;
	int base64 = 0, force = 0, ch;
	char err0[600] = "";
	unsigned threads = default_threads(), interval = 1000;
	static gk_redis_auth_t auth; /* wiped at exit by the OS; one per process */
	static gk_redis_sentinel_t sentinel;
	const char *master = getenv(GK_REDIS_MASTER_ENV);
	const char *suser = getenv(GK_REDIS_SENTINEL_USER_ENV), *spwfile = NULL;
	int sentinel_err = 0;
	gk_sync_opts_t o = {0};
#ifdef GK_TEST_HOOKS
	const char *abort_after = getenv("GK_SYNC_TEST_ABORT_AFTER");
	o.abort_after = abort_after ? atol(abort_after) : 0;
#endif
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			redis = optarg;
			break;
		case 'p':
			pubkey = optarg;
			break;
		case 's':
			sig = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			base64 = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'n':
			o.no_records = 1;
			break;
		case 'R':
			records_redis = optarg;
			break;
		case 'U':
			redis_user = optarg;
			break;
		case 'W':
			redis_pwfile = optarg;
			break;
		case 't':
			threads = (unsigned)atoi(optarg);
			break;
		case 'P':
			psl_path = optarg;
			break;
		case 'i':
			interval = (unsigned)atoi(optarg);
			break;
		case 'w':
			o.window = (unsigned)atoi(optarg);
			break;
		case 'L':
			o.lock_wait_ms = (unsigned)atoi(optarg);
			break;
		case 'T':
			o.lock_ttl_ms = (unsigned)atoi(optarg);
			break;
		case 'S':
			if (!sentinel_err &&
			    gk_redis_sentinel_add(&sentinel, optarg, 0, err0, sizeof(err0)) != 0)
				sentinel_err = 1;
			break;
		case 'M':
			master = optarg;
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
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (sentinel_err) {
		fprintf(stderr, "gk-sync: --sentinel: %s\n", err0);
		return EX_USAGE;
	}
	const char *senv = getenv(GK_REDIS_SENTINELS_ENV);
	if (sentinel.n == 0 && senv && senv[0] &&
	    gk_redis_sentinel_add_list(&sentinel, senv, 0, err0, sizeof(err0)) != 0) {
		fprintf(stderr, "gk-sync: %s: %s\n", GK_REDIS_SENTINELS_ENV, err0);
		return EX_USAGE;
	}
	if (sentinel.n || (master && master[0])) {
		if (!sentinel.n || !master || !master[0]) {
			fprintf(stderr,
			        "gk-sync: Sentinel needs both --sentinel HOST:PORT and "
			        "--master-name NAME (or %s and %s)\n",
			        GK_REDIS_SENTINELS_ENV, GK_REDIS_MASTER_ENV);
			return EX_USAGE;
		}
		if (redis) {
			fprintf(stderr,
			        "gk-sync: --redis and --sentinel are mutually exclusive (the "
			        "sentinels name the primary)\n");
			return EX_USAGE;
		}
		if (gk_redis_sentinel_set_master(&sentinel, master, err0, sizeof(err0)) != 0) {
			fprintf(stderr, "gk-sync: --master-name: %s\n", err0);
			return EX_USAGE;
		}
		if (gk_redis_sentinel_set_auth(&sentinel, suser, spwfile, err0, sizeof(err0)) !=
		    0) {
			fprintf(stderr, "gk-sync: %s\n", err0);
			return EX_USAGE;
		}
		o.sentinel = &sentinel;
	}
	int nargs = argc - optind;
	char **args = argv + optind;
	char err[1024] = "";
	gk_sync_feed_global_init();

	if (!strcmp(cmd, "keygen") && nargs == 2) {
		int rc = gk_sync_sig_keygen(args[0], args[1], force ? GK_SIG_KEYGEN_FORCE : 0, err,
		                            sizeof(err));
		if (rc) {
			fprintf(stderr, "gk-sync: %s\n", err);
			return rc == GK_EEXIST ? EX_USAGE : EX_IO;
		}
		return 0;
	}
	if (!strcmp(cmd, "sign") && nargs == 1 && key) {
		int rc = gk_sync_sign_file(key, args[0], out, base64, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "gk-sync: %s\n", err);
			return rc == GK_EINVAL ? EX_USAGE : EX_IO;
		}
		if (out)
			printf("signed %s: wrote %s (Ed25519, %s)\n", args[0], out,
			       base64 ? "base64" : "64 raw bytes");
		else
			printf("signed %s: wrote %s.sig (Ed25519, %s)\n", args[0], args[0],
			       base64 ? "base64" : "64 raw bytes");
		return 0;
	}
	if (!strcmp(cmd, "lint") && nargs == 1) {
		gk_psl_t *psl;
		size_t findings = 0;
		if (gk_psl_open(psl_path, &psl)) {
			fprintf(stderr, "gk-sync: cannot open the public suffix list\n");
			return EX_USAGE;
		}
		int rc = gk_sync_lint_file(args[0], psl, stdout, &findings, err, sizeof(err));
		gk_psl_close(psl);
		if (rc) {
			fprintf(stderr, "gk-sync: %s\n", err);
			return 1;
		}
		fprintf(stderr, "gk-sync: lint: %zu finding%s\n", findings,
		        findings == 1 ? "" : "s");
		return 0;
	}
	int ip = !strcmp(cmd, "verify-ip") || !strcmp(cmd, "apply-ip");
	if ((!strcmp(cmd, "verify") || !strcmp(cmd, "apply") || !strcmp(cmd, "watch") || ip) &&
	    nargs == 1 && pubkey) {
		int verify = !strcmp(cmd, "verify") || !strcmp(cmd, "verify-ip");
		if (!verify && !redis && !o.sentinel) {
			fprintf(stderr,
			        "gk-sync: %s needs --redis HOST:PORT (or --sentinel HOST:PORT "
			        "--master-name NAME)\n",
			        cmd);
			return EX_USAGE;
		}
		if (!verify && redis && gk_redis_addr_parse(redis, 0, &o.redis, err, sizeof(err))) {
			fprintf(stderr, "gk-sync: --redis: %s\n", err);
			return EX_USAGE;
		}
		if (!verify && records_redis && !o.no_records) {
			if (gk_redis_addr_parse(records_redis, 0, &o.records_redis, err,
			                        sizeof(err))) {
				fprintf(stderr, "gk-sync: --records-redis: %s\n", err);
				return EX_USAGE;
			}
			o.has_records = true;
		}
		if (!verify) {
			int rc =
			    gk_redis_auth_load(&auth, redis_user, redis_pwfile, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "gk-sync: %s\n", err);
				return EX_USAGE;
			}
			o.auth = &auth;
		}
		if (access(pubkey, R_OK)) {
			fprintf(stderr, "gk-sync: cannot read public key %s\n", pubkey);
			return EX_USAGE;
		}
		if (ip)
			return cmd_ip(verify, args[0], sig, pubkey, &o);
		if (strcmp(cmd, "watch"))
			return cmd_apply_or_verify(verify, args[0], sig, pubkey, psl_path, threads,
			                           &o);
		gk_psl_t *psl;
		if (gk_psl_open(psl_path, &psl)) {
			fprintf(stderr, "gk-sync: cannot open the public suffix list\n");
			return EX_USAGE;
		}
		struct sigaction sa = {.sa_handler = on_term};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		gk_watch_opts_t w = {.dir = args[0],
		                     .pubkey = pubkey,
		                     .interval_ms = interval,
		                     .threads = threads,
		                     .stop = &stop};
		int rc = gk_sync_watch(&o, &w, psl);
		gk_psl_close(psl);
		return rc ? EX_IO : 0;
	}
	return bad_usage(cmd, nargs, key, pubkey);
}
