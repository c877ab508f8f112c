/* SPDX-License-Identifier: MIT */
/* src/ctl/lookup.c -- gkctl lookup NAME: what gatekeeperd would do with a query, and why.
 *
 * Computed by the daemon's own code, not re-implemented: the registrable domain by
 * common/psl, the filing status and record read from Redis (gk:st / gk:rec buckets), the
 * policy compiled by the policy compiler (the current Redis version, verified against the
 * operator keys, or the config's policy file), the zone set built from the config's zones,
 * and the answer from gk_pkt_process on a synthesized query, with a one-domain status
 * table (gk_status_put) standing in for the replica.
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/psl.h"
#include "ctl/internal.h"
#include "daemon/config.h"
#include "daemon/server.h"
#include "gk/filing_status.h"
#include "pkt/process.h"
#include "polstore/polstore.h"
#include "status/status.h"
#include "sync/record.h"
#include "zone/zone.h"

struct look {
	const gk_ctl_opts_t *o;
	FILE *out, *errf;
	gk_config_t *cfg;
	gk_psl_t *psl;
	void *redis;
	gk_policy_t *policy;
	char policy_src[300];
	gk_zoneset_t *zs;
	gk_status_t *st;
};

static const char *act_name(unsigned a)
{
	static const char *const n[] = {"resolve", "refuse",   "nxdomain", "nodata",
	                                "drop",    "redirect", "tcp-only"};
	return a < sizeof(n) / sizeof(n[0]) ? n[a] : "?";
}

static const char *why_name(unsigned w)
{
	static const char *const n[] = {"-",        "unfiled", "revoked", "unknown",
	                                "starting", "blocked", "allowed", "tcp-only"};
	return w < sizeof(n) / sizeof(n[0]) ? n[w] : "?";
}

static const char *provider_name(uint32_t id, void *ctx)
{
	static char name[256];
	redisContext *c = ctx;
	redisReply *r = redisCommand(c, "HGET %s %u", GK_KEY_PROVIDERS, id);
	const char *ret = NULL;
	if (r && r->type == REDIS_REPLY_STRING) {
		snprintf(name, sizeof(name), "%s", r->str);
		ret = name;
	}
	if (r)
		freeReplyObject(r);
	return ret;
}

/* Filing status value and record of the registrable domain reg. */
static int filing(struct look *l, const char *reg, uint32_t *value)
{
	redisContext *c = l->redis;
	unsigned bucket = gk_fs_bucket(reg, strlen(reg));
	*value = 0;
	redisReply *r = redisCommand(c, "HGET " GK_KEY_STATUS_BUCKET " %s", bucket, reg);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		fprintf(l->errf, "gkctl: redis: %s\n", r ? "unexpected reply" : c->errstr);
		if (r)
			freeReplyObject(r);
		return GK_CTL_IO;
	}
	if (r->type == REDIS_REPLY_STRING)
		*value = (uint32_t)strtoul(r->str, NULL, 10);
	freeReplyObject(r);
	const char *names[] = {"unfiled", "filed", "revoked", "?"};
	fprintf(l->out, "filing      %s", names[gk_fs_unpack_status(*value) & 3]);
	if (*value)
		fprintf(l->out, " (value %u, provider id %u)", *value,
		        gk_fs_unpack_provider(*value));
	fprintf(l->out, "\n");
	r = redisCommand(c, "HGET " GK_KEY_RECORD_BUCKET " %s", bucket, reg);
	if (r && r->type == REDIS_REPLY_STRING) {
		json_t *j = gk_rec_to_json(r->str, r->len, reg, provider_name, c);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		fprintf(l->out, "record      %s\n", s ? s : "(undecodable)");
		free(s);
		json_decref(j);
	} else {
		fprintf(l->out, "record      (none)\n");
	}
	if (r)
		freeReplyObject(r);
	return GK_CTL_OK;
}

/* The current Redis policy, verified with keys[0..n). */
static int redis_policy(struct look *l, const char *const *keys, size_t n)
{
	char err[1024];
	uint64_t cur = 0;
	gk_polstore_version_t ver = {0};
	gk_polstore_bundle_t *b = NULL;
	gk_polstore_keyring_t *kr = NULL;
	if (gk_polstore_current(l->redis, &cur, err, sizeof(err)) != 0) {
		fprintf(l->errf, "gkctl: %s\n", err);
		return GK_CTL_IO;
	}
	if (cur == 0) {
		snprintf(l->policy_src, sizeof(l->policy_src), "none (no version pushed yet)");
		return GK_CTL_OK;
	}
	int ret = GK_CTL_OK;
	if (gk_polstore_get(l->redis, cur, &ver, err, sizeof(err)) != 0 ||
	    gk_polstore_keyring_load(keys, n, &kr, err, sizeof(err)) != 0 ||
	    gk_polstore_verify(kr, ver.key_id, ver.bundle, ver.bundle_len, ver.sig, err,
	                       sizeof(err)) != 0 ||
	    gk_polstore_bundle_decode(ver.bundle, ver.bundle_len, &b, err, sizeof(err)) != 0 ||
	    gk_polstore_bundle_compile(b, &l->policy, err, sizeof(err)) != 0) {
		fprintf(l->out, "policy      version %llu NOT USABLE: %s\n",
		        (unsigned long long)cur, err);
		snprintf(l->policy_src, sizeof(l->policy_src), "none (version %llu rejected)",
		         (unsigned long long)cur);
		ret = GK_CTL_REJECT;
	} else {
		snprintf(l->policy_src, sizeof(l->policy_src),
		         "redis version %llu (key id %s, signature valid)", (unsigned long long)cur,
		         ver.key_id);
	}
	gk_polstore_keyring_free(kr);
	gk_polstore_bundle_free(b);
	gk_polstore_version_clear(&ver);
	return ret;
}

/* The policy gatekeeperd runs, as server.c picks it: with policy.redis the current Redis
 * version verified against the operator keys (the policy file until one is usable); else the
 * policy file. --pubkey overrides the keys (and works without a config). */
static int pick_policy(struct look *l)
{
	char err[1024];
	const gk_config_policy_t *cp = l->cfg ? &l->cfg->policy : NULL;
	int ret = GK_CTL_OK;
	snprintf(l->policy_src, sizeof(l->policy_src), "none");
	if (l->redis == NULL)
		; /* no Redis: the policy file */
	else if (l->o->n_pubkeys)
		ret = redis_policy(l, l->o->pubkeys, l->o->n_pubkeys);
	else if (cp && cp->redis)
		ret = redis_policy(l, (const char *const *)cp->operator_keys, cp->n_operator_keys);
	if (ret == GK_CTL_IO || l->policy != NULL || cp == NULL || cp->file == NULL)
		return ret;
	if (gk_policy_build(cp->file, &l->policy, err, sizeof(err)) != 0) {
		fprintf(l->out, "policy      file NOT USABLE: %s\n", err);
		return GK_CTL_REJECT;
	}
	snprintf(l->policy_src, sizeof(l->policy_src), "file %s%s", cp->file,
	         cp->redis ? " (no usable redis version)" : "");
	return ret;
}

static size_t to_wire(const char *name, uint8_t *wire, uint8_t *loff, unsigned *labels)
{
	size_t o = 0, len = strlen(name);
	unsigned n = 0;
	const char *p = name, *end = name + len;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t ll = (size_t)((dot ? dot : end) - p);
		if (ll == 0 || ll > 63 || o + ll + 2 > GK_DNAME_MAX || n >= GK_DNAME_MAX / 2)
			return 0;
		loff[n++] = (uint8_t)o;
		wire[o++] = (uint8_t)ll;
		memcpy(wire + o, p, ll);
		o += ll;
		p = dot ? dot + 1 : end;
	}
	wire[o++] = 0;
	*labels = n;
	return o;
}

static void rule(struct look *l, const uint8_t *wire, size_t len, const uint8_t *loff,
                 unsigned labels)
{
	fprintf(l->out, "policy      %s\n", l->policy_src);
	if (l->policy == NULL)
		return;
	const gk_pol_hit_t *h = gk_policy_match(l->policy, wire, len, loff, labels);
	static const char *const verdict[] = {"?", "block", "allow", "passthru", "tcp-only"};
	if (h == NULL) {
		fprintf(l->out, "rule        no list entry; the filing status decides (mode %s)\n",
		        gk_policy_mode(l->policy) == GK_POL_MONITOR ? "monitor" : "enforce");
		return;
	}
	fprintf(l->out, "rule        %s by list %u (%s)", verdict[h->verdict < 5 ? h->verdict : 0],
	        h->list, gk_policy_list_name(l->policy, h->list));
	if (h->action)
		fprintf(l->out, ": %s, ede %u \"%.*s\"",
		        h->local ? "redirect" : act_name(h->action->action), h->action->ede_code,
		        (int)h->action->text_len, h->action->text);
	fprintf(l->out, "\n");
}

static uint16_t qtype_of(const char *s)
{
	if (s == NULL)
		return LDNS_RR_TYPE_A;
	ldns_rr_type t = ldns_get_rr_type_by_name(s);
	return (uint16_t)t;
}

static void print_ede(struct look *l, ldns_pkt *p)
{
	ldns_rdf *d = ldns_pkt_edns_data(p);
	if (d == NULL)
		return;
	const uint8_t *b = ldns_rdf_data(d);
	size_t n = ldns_rdf_size(d), i = 0;
	while (i + 4 <= n) {
		unsigned code = (unsigned)(b[i] << 8 | b[i + 1]),
		         len = (unsigned)(b[i + 2] << 8 | b[i + 3]);
		if (i + 4 + len > n)
			break;
		if (code == 15 && len >= 2)
			fprintf(l->out, "ede         %u \"%.*s\"\n",
			        (unsigned)(b[i + 4] << 8 | b[i + 5]), (int)(len - 2),
			        (const char *)b + i + 6);
		i += 4 + len;
	}
}

static int decide(struct look *l, const char *name, const char *reg, uint32_t value)
{
	char err[1024];
	const gk_config_t *cfg = l->cfg;
	if (gk_zoneset_build_ex(cfg->zones, cfg->n_zones, l->psl, &l->zs, err, sizeof(err)) != 0) {
		fprintf(l->errf, "gkctl: %s\n", err);
		return GK_CTL_USAGE;
	}
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .instance_id = "gkctl"};
	if (gk_status_create(&sc, &l->st) != 0 ||
	    (reg && value && gk_status_put(l->st, reg, value) != 0)) {
		fprintf(l->errf, "gkctl: cannot build the status table\n");
		return GK_CTL_IO;
	}
	gk_status_set_ready(l->st);
	gk_pkt_opts_t opts;
	gk_server_pkt_opts(cfg, l->st, l->psl, l->policy, &opts);
	/* the query: RD off, EDNS 1232 so the EDE comes back */
	ldns_pkt *q = NULL;
	uint16_t qt = qtype_of(l->o->qtype);
	if (qt == 0) {
		fprintf(l->errf, "gkctl: unknown query type '%s'\n", l->o->qtype);
		return GK_CTL_USAGE;
	}
	if (ldns_pkt_query_new_frm_str(&q, name, qt, LDNS_RR_CLASS_IN, 0) != LDNS_STATUS_OK) {
		fprintf(l->errf, "gkctl: '%s' is not a domain name\n", name);
		return GK_CTL_USAGE;
	}
	ldns_pkt_set_id(q, 4242);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt_set_edns_do(q, false);
	uint8_t *qw = NULL;
	size_t qlen = 0;
	uint8_t *resp = malloc(GK_PKT_OUT_MAX);
	int ret = GK_CTL_IO;
	if (resp == NULL || ldns_pkt2wire(&qw, q, &qlen) != LDNS_STATUS_OK)
		goto out;
	gk_pkt_result_t res;
	gk_pkt_outcome_t oc =
	    gk_pkt_process(l->zs, &opts, l->o->tcp ? GK_PKT_TCP : GK_PKT_UDP, qw, qlen, resp, &res);
	char *tname = ldns_rr_type2str((ldns_rr_type)qt);
	fprintf(l->out, "query       %s %s over %s\n", name, tname ? tname : "?",
	        l->o->tcp ? "TCP" : "UDP");
	free(tname);
	if (oc == GK_PKT_DROP) {
		fprintf(l->out, "answer      none (dropped)\n");
	} else {
		ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, res.rcode);
		fprintf(l->out, "answer      %s%s, %zu bytes\n", rc ? rc->name : "?",
		        res.tc ? " TC" : "", res.len);
	}
	fprintf(l->out, "action      %s (why: %s%s%s)%s\n", act_name(res.action), why_name(res.why),
	        res.list && l->policy ? ", list " : "",
	        res.list && l->policy ? gk_policy_list_name(l->policy, res.list) : "",
	        res.monitor ? " -- monitor mode: logged, not sent" : "");
	ldns_pkt *a = NULL;
	if (oc != GK_PKT_DROP && ldns_wire2pkt(&a, resp, res.len) == LDNS_STATUS_OK) {
		print_ede(l, a);
		ldns_rr_list *ans = ldns_pkt_answer(a);
		for (size_t i = 0; ans && i < ldns_rr_list_rr_count(ans); i++) {
			char *s = ldns_rr2str(ldns_rr_list_rr(ans, i));
			if (s) {
				size_t sl = strlen(s);
				if (sl && s[sl - 1] == '\n')
					s[sl - 1] = 0;
				fprintf(l->out, "  %s\n", s);
			}
			free(s);
		}
		ldns_pkt_free(a);
	}
	ret = GK_CTL_OK;
out:
	free(resp);
	free(qw);
	ldns_pkt_free(q);
	return ret;
}

int gk_ctl_lookup(const gk_ctl_opts_t *o, const char *qname, FILE *out, FILE *errf)
{
	char err[1024], name[GK_DNAME_MAX * 4];
	struct look l = {.o = o, .out = out, .errf = errf};
	size_t n = strlen(qname);
	if (n >= sizeof(name) - 1 || n == 0) {
		fprintf(errf, "gkctl: bad name\n");
		return GK_CTL_USAGE;
	}
	for (size_t i = 0; i <= n; i++)
		name[i] = (char)gk_dname_lower[(uint8_t)qname[i]];
	if (n > 1 && name[n - 1] == '.')
		name[--n] = 0;
	int ret = GK_CTL_OK;
	if (o->config && gk_config_load(o->config, &l.cfg, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return GK_CTL_USAGE;
	}
	const char *psl_file = l.cfg ? l.cfg->filing.psl_file : NULL;
	if (gk_psl_open(psl_file, &l.psl) != 0) {
		fprintf(errf, "gkctl: cannot open the public suffix list %s\n",
		        psl_file ? psl_file : GK_PSL_DEFAULT_FILE);
		ret = GK_CTL_USAGE;
		goto out;
	}
	/* a config without redis (and no --redis): no filing status, the policy file only */
	bool no_redis = !o->redis && l.cfg && !l.cfg->redis.set;
	if (!no_redis && (ret = ctl_connect(o, &l.redis, errf)) != GK_CTL_OK)
		goto out;
	const char *reg = gk_psl_registrable(l.psl, name);
	fprintf(out, "name        %s\nregistrable %s\n", name,
	        reg ? reg : "(none: a public suffix; the unfiled rule applies)");
	uint32_t value = 0;
	if (no_redis)
		fprintf(out, "filing      not checked (no redis in %s)\n", o->config);
	else if (reg && (ret = filing(&l, reg, &value)) != GK_CTL_OK)
		goto out;
	int pr = pick_policy(&l);
	if (pr == GK_CTL_IO) {
		ret = pr;
		goto out;
	}
	uint8_t wire[GK_DNAME_MAX + 1], loff[GK_DNAME_MAX];
	unsigned labels = 0;
	size_t wl = strcmp(name, ".") == 0 ? (wire[0] = 0, 1) : to_wire(name, wire, loff, &labels);
	if (wl == 0) {
		fprintf(errf, "gkctl: '%s' is not a domain name\n", name);
		ret = GK_CTL_USAGE;
		goto out;
	}
	rule(&l, wire, wl, loff, labels);
	if (l.cfg == NULL)
		fprintf(out, "answer      (give -c gatekeeperd.conf for the decision)\n");
	else
		ret = decide(&l, name, reg, value);
	if (ret == GK_CTL_OK)
		ret = pr;
out:
	gk_status_free(l.st);
	gk_zoneset_free(l.zs);
	gk_policy_free(l.policy);
	gk_polstore_disconnect(l.redis);
	gk_psl_close(l.psl);
	gk_config_free(l.cfg);
	return ret;
}
