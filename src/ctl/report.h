/* SPDX-License-Identifier: MIT */
/* src/ctl/report.h -- gkctl report: discovery counters (include/gk/discovery.h) joined with
 * the status set and the feed records (include/gk/filing_status.h), in six formats.
 *
 * gk_ctl_report_collect reads Redis once (synchronous hiredis, pipelined): the day/reason hashes
 * and day totals of the period, the current status of every discovered domain (gk:st), its
 * record (gk:rec: provider, licence) and the provider names (gk:providers), the number
 * of filed domains (every gk:st bucket, values only), the filed address ranges (gk:ip:ranges,
 * into an iptab) and the served sites' addresses (every gk:site bucket) with the status and
 * record of each, for attribution and accuracy. The result is an immutable value that
 * gk_ctl_report_write renders. Definitions are in docs/REPORT.md. Tool code: any one thread,
 * blocking; never in gatekeeperd.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "gk/discovery.h"
#include "gk/errors.h"

struct gk_redis_auth;
struct gk_iptab;

enum gk_report_format {
	GK_REPORT_TABLE = 0,
	GK_REPORT_CSV,
	GK_REPORT_JSON,
	GK_REPORT_HTML,
	GK_REPORT_NOTICE,
	GK_REPORT_XLSX, /* a file only (--output): gk_ctl_report_write refuses it */
};

/* Current status of a discovered domain, at report time. */
enum gk_report_status { GK_REPORT_UNFILED = 0, GK_REPORT_FILED = 1, GK_REPORT_REVOKED = 2 };

typedef struct gk_report_domain {
	char *name;                /* field spelling of include/gk/discovery.h */
	uint64_t queries;          /* refused for this list's reason over the period */
	uint32_t first, last;      /* unix seconds */
	uint32_t first_day;        /* YYYYMMDD of the first period day it was counted */
	int status;                /* enum gk_report_status, now */
	uint32_t provider;         /* access provider id, 0 unknown */
	const char *provider_name; /* NULL when unknown */
	char licence[96];          /* from gk:rec, "" when none */
	bool also_unfiled;         /* revoked list: also in the unfiled list (counted there) */
	/* attribution (docs/REPORT.md "Attribution") */
	char *addrs; /* its site's served addresses (gk:site), NULL: not served */
	char *ips;   /* served filed domains: the record's ips, space-separated, or NULL */
	const char *attributed; /* provider whose filed range holds an address; NULL: none */
	bool special_only;      /* served addresses, every one private or reserved */
	const char *notice;     /* the notice table's provider: attributed, else provider_name */
} gk_report_domain_t;

/* Accuracy of one filed, served domain (docs/REPORT.md "Accuracy"). */
typedef struct gk_report_check {
	const gk_report_domain_t *d; /* name, addrs, ips, provider_name (filed), attributed */
	bool provider_ok;            /* the filed provider is the attributed one */
	bool ips_ok;                 /* every served address is in the record's ips (or no ips) */
} gk_report_check_t;

typedef struct gk_report_accuracy {
	const char *provider; /* the provider named in the filing record; NULL: none named */
	uint64_t checked;     /* filed, served, with a public address */
	uint64_t matched;     /* of which attributed to this provider */
	uint64_t ips_differ;  /* of the checked, served addresses missing from the record's ips */
} gk_report_accuracy_t;

typedef struct gk_report_day {
	uint32_t day; /* YYYYMMDD */
	uint64_t queries, resolved, monitored, noreg;
	uint64_t refused[GK_DISC_NREASONS], overflow[GK_DISC_NREASONS];
	uint64_t dropped[GK_DISC_NREASONS];
	uint64_t new_unhandled; /* unhandled sites first counted (in the period) this day */
	double rate_through;    /* filed / (filed + unhandled first counted up to this day) */
} gk_report_day_t;

typedef struct gk_report_provider {
	const char *name;   /* NULL when unknown (no filed range, no record naming one) */
	uint64_t accessed;  /* distinct unfiled sites accessed: discovered unfiled, or revoked
	                       and still queried */
	uint64_t unhandled; /* of which not filed now */
} gk_report_provider_t;

typedef struct gk_report {
	uint32_t from, to; /* YYYYMMDD, inclusive */
	int64_t generated; /* unix seconds */
	uint64_t filed;    /* domains filed in gk:st now */
	uint64_t handled, unhandled;
	double rate;                 /* filed / (filed + unhandled); 1.0 when both are 0 */
	gk_report_domain_t *unfiled; /* sorted by queries desc, then name */
	size_t n_unfiled;
	gk_report_domain_t *revoked; /* refused as revoked in the period */
	size_t n_revoked;
	gk_report_provider_t *providers; /* by accessed desc; unknown last */
	size_t n_providers;
	/* attribution and accuracy */
	size_t n_ranges;            /* filed address ranges (gk:ip:ranges) */
	uint64_t attributed;        /* sites accessed attributed by a filed range */
	gk_report_domain_t *served; /* every served site (gk:site), sorted by name */
	size_t n_served;
	uint64_t served_filed;     /* of which filed now */
	uint64_t not_checked;      /* filed and served, no public address: not checked */
	gk_report_check_t *checks; /* the filed served domains checked, by name */
	size_t n_checks;
	uint64_t checked, matched;      /* over every provider */
	gk_report_accuracy_t *accuracy; /* per filed provider, by checked desc; none named last */
	size_t n_accuracy;
	struct gk_iptab *iptab; /* owns the attributed provider names */
	gk_report_day_t *days;  /* every day from..to */
	size_t n_days;
	gk_report_day_t total; /* the sum over days (day = 0) */
	char **strings;        /* owned provider names (gk:providers) */
	uint32_t *string_ids;  /* their ids */
	size_t n_strings;
} gk_report_t;

/* Read the period [from, to] (YYYYMMDD) from Redis at redis ("HOST:PORT", "[v6]:PORT" or
 * "unix:/path"); records (gk:rec, gk:providers) from records_redis, or from redis when NULL.
 * auth: AUTH on both (NULL or no password: none; src/redis/redis.h).
 * now: unix seconds for "generated". On failure err holds one line. Returns 0, GK_EIO
 * (connection, AUTH, reply), GK_EINVAL (period, address), GK_ENOMEM. */
GK_MUST_CHECK int gk_ctl_report_collect(const char *redis, const char *records_redis,
                                        const struct gk_redis_auth *auth, uint32_t from,
                                        uint32_t to, int64_t now, gk_report_t **out, char *err,
                                        size_t errlen);
void gk_ctl_report_free(gk_report_t *r);

/* Render r in format f to out. Returns 0, GK_EIO (write error) or GK_EINVAL (xlsx: a file
 * only, src/ctl/report_internal.h). */
GK_MUST_CHECK int gk_ctl_report_write(const gk_report_t *r, enum gk_report_format f, FILE *out);

/* The `gkctl report` subcommand: argv[0] = "report", then
 *   [--redis ADDR] [--records-redis ADDR] [--from DATE] [--to DATE]
 *   [--format table|csv|json|html|notice|xlsx] [--output FILE] (xlsx needs --output)
 *   [--redis-user USER] [--redis-password-file FILE]
 * DATE: YYYY-MM-DD or YYYYMMDD (China Standard Time days); defaults: --to today, --from the
 * first day of --to's month; --redis: redis_default (gkctl's global --redis or GKCTL_REDIS),
 * else 127.0.0.1:6379; --redis-user/--redis-password-file: user_default/pwfile_default
 * (gkctl's global options; NULL: GK_REDIS_USER, and GK_REDIS_PASSWORD from the
 * environment). Writes to out (or FILE), messages to err. Returns gkctl's exit status
 * (src/ctl/ctl.h): 0, 2 usage, 3 Redis or I/O error. */
int gk_ctl_report_main(int argc, char **argv, const char *redis_default, const char *user_default,
                       const char *pwfile_default, FILE *out, FILE *err);

/* Parse a DATE as above into YYYYMMDD; 0 or GK_EINVAL (also for impossible dates). */
GK_MUST_CHECK int gk_ctl_report_parse_date(const char *s, uint32_t *day);
/* The day after / unix seconds of 00:00 CST of a YYYYMMDD. Pure. */
uint32_t gk_ctl_report_next_day(uint32_t day);
int64_t gk_ctl_report_day_start(uint32_t day);
