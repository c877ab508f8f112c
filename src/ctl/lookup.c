/* SPDX-License-Identifier: MIT */
/* src/ctl/lookup.c -- gkctl lookup NAME: what gatekeeperd would do with a query, and why.
 *
 * Computed by the daemon's own code, not re-implemented: the name is parsed from
 * presentation form (escapes such as \. \\ \065 included) into a lowercase wire name, the
 * query is answered by gk_pkt_process with the zone set, policy and filing options the
 * daemon builds from the config, and every line of the report is read from that call's
 * result (gk_pkt_result_t) in the order the decision is made (DESIGN.md "The decision, in
 * order"): a name outside every served zone stops at step 1, a list entry at steps 3-4,
 * only then the filing status. The status table is a private one (gk_status_put) holding
 * the Redis status of exactly the registrable domains the answer depends on: the query's
 * own (as the packet path derived it) and those of the names in the answer (CNAME targets,
 * additional data), fetched until no new one appears.
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
#include "gk/filing_status.h"
#include "pkt/process.h"
#include "polstore/polstore.h"
#include "status/status.h"
#include "sync/record.h"
#include "zone/zone.h"

/* Registrable domains an answer may depend on (the query's, CNAME targets, additional
 * data), fetched from Redis into the private status table; and rounds of gk_pkt_process. */
#define LOOK_REGS_MAX   64
#define LOOK_ROUNDS_MAX 8

struct look {
	const gk_ctl_opts_t *o;
	FILE *out, *errf;
	gk_config_t *cfg;
	gk_psl_t *psl;
	void *redis;
	gk_policy_t *policy;
	gk_policy_t *defpol; /* no policy: the config's filing.* rules, as gatekeeperd */
	char policy_src[300];
	gk_zoneset_t *zs;
	gk_status_t *st;
	gk_pkt_opts_t opts;
	/* the query, as gk_pkt_process receives it */
	uint8_t q[12 + GK_DNAME_MAX + 4 + 11];
	size_t qlen;
	/* registrable domains whose status is in st (fetched once each) */
	uint8_t fetched[LOOK_REGS_MAX][GK_DNAME_MAX + 1];
	unsigned n_fetched;
	/* what Redis says about the query's own registrable domain */
	uint32_t value;
	bool reg_fetched, reg_unnamed;
	char *record; /* the decoded record as compact JSON, or NULL */
};

static const char *act_name(unsigned a)
{
	return gk_decide_action_name(a);
}

static const char *why_name(unsigned w)
{
	return gk_decide_why_name(w);
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

/* The Redis field gk-sync writes for the registrable domain reg (lowercase wire name):
 * its labels joined by '.', which the daemon's loader (gk_dname_from_text) splits back
 * into the same wire name. 0 when no field can name it: a label holds a '.' byte (the split
 * would make other labels; the feed's domains are host names, so such a domain is always
 * unfiled) or a NUL byte. */
static size_t status_field(const uint8_t *reg, char *out)
{
	size_t o = 0;
	for (const uint8_t *p = reg; *p; p += *p + 1) {
		if (memchr(p + 1, '.', *p) || memchr(p + 1, 0, *p))
			return 0;
		if (o)
			out[o++] = '.';
		memcpy(out + o, p + 1, *p);
		o += *p;
	}
	out[o] = 0;
	return o;
}

/* Fetch the status of the registrable domain reg (wire, len octets) into the private table
 * once; own: it is the query's, so keep its value and record for the report. Returns 1 when
 * it was new, 0 when already fetched (or the list is full), GK_CTL_IO on a Redis error. */
static int fetch(struct look *l, const uint8_t *reg, size_t len, bool own)
{
	for (unsigned i = 0; i < l->n_fetched; i++)
		if (memcmp(l->fetched[i], reg, len) == 0 && gk_dname_len(l->fetched[i]) == len)
			return 0;
	if (l->n_fetched == LOOK_REGS_MAX)
		return 0;
	memcpy(l->fetched[l->n_fetched++], reg, len);
	char field[GK_DNAME_MAX + 1];
	size_t fl = status_field(reg, field);
	if (own)
		l->reg_fetched = true, l->reg_unnamed = fl == 0;
	if (fl == 0 || l->redis == NULL)
		return 1; /* unfiled: absent from the table */
	redisContext *c = l->redis;
	unsigned bucket = gk_fs_bucket(field, fl);
	uint32_t value = 0;
	redisReply *r = redisCommand(c, "HGET " GK_KEY_STATUS_BUCKET " %b", bucket, field, fl);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		fprintf(l->errf, "gkctl: redis: %s\n", r ? "unexpected reply" : c->errstr);
		if (r)
			freeReplyObject(r);
		return GK_CTL_IO;
	}
	if (r->type == REDIS_REPLY_STRING)
		value = (uint32_t)strtoul(r->str, NULL, 10);
	freeReplyObject(r);
	if (value && gk_status_put(l->st, field, value) != 0) {
		fprintf(l->errf, "gkctl: cannot build the status table\n");
		return GK_CTL_IO;
	}
	if (!own)
		return 1;
	l->value = value;
	r = redisCommand(c, "HGET " GK_KEY_RECORD_BUCKET " %b", bucket, field, fl);
	if (r && r->type == REDIS_REPLY_STRING) {
		json_t *j = gk_sync_rec_to_json(r->str, r->len, field, provider_name, c);
		l->record = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (l->record == NULL)
			l->record = strdup("(undecodable)");
		json_decref(j);
	}
	if (r)
		freeReplyObject(r);
	return 1;
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

static uint16_t qtype_of(const char *s)
{
	if (s == NULL)
		return LDNS_RR_TYPE_A;
	return (uint16_t)ldns_get_rr_type_by_name(s);
}

/* The Extended DNS Errors (RFC 8914, option 15) of an answer. */
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

/* Presentation form (escapes allowed, trailing dot optional) to a lowercase wire name in
 * wire[0..*len). Returns 0, or -1 when s is not a domain name. */
static int parse_name(const char *s, uint8_t *wire, size_t *len)
{
	*len = gk_dname_from_text(s, strlen(s), wire, GK_DNAME_TEXT_ESCAPES);
	return *len ? 0 : -1;
}

/* A query as a stub resolver sends it: RD off, EDNS with 1232 octets so the EDE comes back. */
static void make_query(struct look *l, const uint8_t *name, size_t len, uint16_t qt)
{
	static const uint8_t hdr[12] = {0x10, 0x92, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
	static const uint8_t opt[11] = {0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0};
	uint8_t *p = l->q;
	memcpy(p, hdr, 12);
	memcpy(p + 12, name, len);
	p += 12 + len;
	*p++ = (uint8_t)(qt >> 8);
	*p++ = (uint8_t)qt;
	*p++ = 0;
	*p++ = 1; /* IN */
	memcpy(p, opt, sizeof(opt));
	l->qlen = 12 + len + 4 + sizeof(opt);
}

/* The query name's registrable domain as the packet path found it (wire, in l->q). */
static const uint8_t *res_reg(const struct look *l, const gk_pkt_result_t *r)
{
	return r->reg_len ? l->q + r->reg_off : NULL;
}

/* Step 1 said no: the core refused the query before any list or filing step (the result
 * shows no list, no filing check and no action, and still REFUSED). */
static bool unserved(gk_pkt_outcome_t oc, const gk_pkt_result_t *r)
{
	return oc == GK_PKT_ANSWER && r->rcode == LDNS_RCODE_REFUSED && r->list == 0 &&
	       r->why == GK_WHY_NONE && r->action == GK_ACT_RESOLVE && r->filing == GK_PKT_NOCHECK;
}

/* Fetch the registrable domain of every name in the answer (owners and RDATA names), so a
 * CNAME into another served domain or additional data is judged as the daemon judges it.
 * Returns how many were new, or GK_CTL_IO. */
static int fetch_answer_names(struct look *l, const uint8_t *resp, size_t len)
{
	ldns_pkt *a = NULL;
	int added = 0;
	if (ldns_wire2pkt(&a, resp, len) != LDNS_STATUS_OK)
		return 0;
	ldns_rr_list *secs[] = {ldns_pkt_answer(a), ldns_pkt_authority(a), ldns_pkt_additional(a)};
	for (size_t s = 0; s < 3; s++) {
		for (size_t i = 0; secs[s] && i < ldns_rr_list_rr_count(secs[s]); i++) {
			ldns_rr *rr = ldns_rr_list_rr(secs[s], i);
			for (size_t k = 0; k <= ldns_rr_rd_count(rr); k++) {
				ldns_rdf *d = k == 0 ? ldns_rr_owner(rr) : ldns_rr_rdf(rr, k - 1);
				if (d == NULL || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME ||
				    ldns_rdf_size(d) > GK_DNAME_MAX)
					continue;
				uint8_t w[GK_DNAME_MAX + 1];
				size_t n = ldns_rdf_size(d);
				for (size_t j = 0; j < n; j++)
					w[j] = gk_dname_lower[ldns_rdf_data(d)[j]];
				/* length octets are < 64, so lowering left them alone */
				int off = gk_psl_registrable_wire(l->psl, w, n);
				int rc = off < 0 ? 0 : fetch(l, w + off, n - (size_t)off, false);
				if (rc < 0) {
					ldns_pkt_free(a);
					return rc;
				}
				added += rc;
			}
		}
	}
	ldns_pkt_free(a);
	return added;
}

/* Answer the query until the statuses it depends on are all in the table. */
static int answer(struct look *l, uint8_t *resp, gk_pkt_result_t *res, gk_pkt_outcome_t *oc)
{
	for (unsigned round = 0; round < LOOK_ROUNDS_MAX; round++) {
		*oc = gk_pkt_process(l->zs, &l->opts, l->o->tcp ? GK_PKT_TCP : GK_PKT_UDP, l->q,
		                     l->qlen, resp, res);
		if (l->opts.status == NULL || unserved(*oc, res))
			return GK_CTL_OK;
		int added = 0;
		const uint8_t *reg = res_reg(l, res);
		if (reg && (added = fetch(l, reg, res->reg_len, true)) < 0)
			return added;
		int more = *oc == GK_PKT_ANSWER ? fetch_answer_names(l, resp, res->len) : 0;
		if (more < 0)
			return more;
		if (added + more == 0)
			return GK_CTL_OK;
	}
	return GK_CTL_OK;
}

static void print_name(FILE *f, const char *label, const uint8_t *wire)
{
	char buf[GK_DNAME_MAX * 4 + 2];
	fprintf(f, "%-12s%s\n", label, gk_dname_to_str(wire, buf, sizeof(buf)));
}

/* The deepest zone of the config that holds name: the zone that answers it. */
static void print_zone(struct look *l, const uint8_t *name, size_t len)
{
	uint8_t best[GK_DNAME_MAX + 1];
	size_t best_len = 0;
	for (size_t i = 0; i < l->cfg->n_zones; i++) {
		uint8_t z[GK_DNAME_MAX + 1];
		size_t zl;
		if (parse_name(l->cfg->zones[i].name, z, &zl) == 0 && zl > best_len &&
		    gk_dname_is_subdomain(name, len, z, zl))
			memcpy(best, z, zl), best_len = zl;
	}
	if (best_len)
		print_name(l->out, "zone", best);
}

static void print_answer(struct look *l, gk_pkt_outcome_t oc, const gk_pkt_result_t *res,
                         const uint8_t *resp)
{
	if (oc == GK_PKT_DROP) {
		fprintf(l->out, "answer      none (dropped)\n");
		return;
	}
	ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, res->rcode);
	fprintf(l->out, "answer      %s%s, %zu bytes\n", rc ? rc->name : "?", res->tc ? " TC" : "",
	        res->len);
	ldns_pkt *a = NULL;
	if (ldns_wire2pkt(&a, resp, res->len) != LDNS_STATUS_OK)
		return;
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

/* Steps 3 and 4 (DESIGN.md "The decision, in order"): the list entry the packet path
 * reported, if any. True when it decided (no filing check ran). */
static bool print_rule(struct look *l, const gk_pkt_result_t *res)
{
	const char *list = l->policy && res->list ? gk_policy_list_name(l->policy, res->list) : "";
	if (res->list == 0) {
		if (l->policy)
			fprintf(l->out,
			        "rule        no list entry; the filing status decides (mode %s)\n",
			        gk_policy_mode(l->policy) == GK_POLICY_MONITOR ? "monitor"
			                                                       : "enforce");
		return false;
	}
	switch (res->why) {
	case GK_WHY_BLOCKED:
		fprintf(l->out, "rule        block by list %u (%s): the block action\n", res->list,
		        list);
		return true;
	case GK_WHY_ALLOWED:
		fprintf(l->out,
		        "rule        allow by list %u (%s): resolved without the filing check\n",
		        res->list, list);
		return true;
	case GK_WHY_TCP_ONLY:
		fprintf(l->out,
		        "rule        tcp-only by list %u (%s): over UDP, an empty answer with TC\n",
		        res->list, list);
		return true;
	default:
		fprintf(
		    l->out,
		    "rule        tcp-only by list %u (%s): asked over TCP, no effect; the filing "
		    "status decides\n",
		    res->list, list);
		return false;
	}
}

/* Step 5: the filing status the packet path found for the query's registrable domain. */
static void print_filing(struct look *l, const gk_pkt_result_t *res, bool listed)
{
	static const char *const names[] = {"unfiled", "filed", "revoked"};
	if (l->opts.status == NULL) {
		fprintf(l->out, "filing      not checked (no filing check: %s)\n",
		        l->cfg->redis.set ? "filing.enforce is false" : "no redis in the config");
		return;
	}
	if (listed) {
		fprintf(l->out, "filing      not checked: the list decided\n");
		return;
	}
	int fs = res->filing;
	if (fs == GK_FS_STARTING || fs == GK_FS_UNKNOWN) {
		fprintf(l->out, "filing      %s\n",
		        fs == GK_FS_UNKNOWN
		            ? "unknown (expired: no redis reply within filing.max_age_ms)"
		            : "starting");
		return;
	}
	if (fs < 0 || fs > 2) {
		fprintf(l->out, "filing      not checked\n");
		return;
	}
	fprintf(l->out, "filing      %s", names[fs]);
	if (res->reg_len == 0)
		fprintf(l->out, " (no registrable domain)");
	else if (l->reg_unnamed)
		fprintf(l->out, " (no registry record can name it: a label holds a '.' or NUL "
		                "byte, and the feed's domains are host names)");
	else if (l->redis == NULL)
		fprintf(l->out, " (not in Redis: none given)");
	else if (l->value)
		fprintf(l->out, " (value %u, provider id %u)", l->value,
		        gk_fs_unpack_provider(l->value));
	fprintf(l->out, "\n");
	if (l->reg_fetched && !l->reg_unnamed && l->redis)
		fprintf(l->out, "record      %s\n", l->record ? l->record : "(none)");
}

static int decide(struct look *l, const uint8_t *name, size_t len)
{
	char err[1024];
	const gk_config_t *cfg = l->cfg;
	int rc = gk_zone_store_build(cfg->zones, cfg->n_zones, l->psl, &l->zs, err, sizeof(err));
	if (rc != 0) {
		fprintf(l->errf, "gkctl: %s\n", err);
		return rc == GK_EIO ? GK_CTL_IO : GK_CTL_USAGE;
	}
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .instance_id = "gkctl"};
	if (gk_status_create(&sc, &l->st) != 0) {
		fprintf(l->errf, "gkctl: cannot build the status table\n");
		return GK_CTL_IO;
	}
	gk_status_set_ready(l->st);
	if (l->policy == NULL && gk_daemon_config_default_policy(cfg, &l->defpol) != 0) {
		fprintf(l->errf, "gkctl: out of memory\n");
		return GK_CTL_IO;
	}
	gk_daemon_config_pkt_opts(cfg, l->st, l->psl, l->policy ? l->policy : l->defpol, &l->opts);
	uint16_t qt = qtype_of(l->o->qtype);
	if (qt == 0) {
		fprintf(l->errf, "gkctl: unknown query type '%s'\n", l->o->qtype);
		return GK_CTL_USAGE;
	}
	make_query(l, name, len, qt);
	char *tname = ldns_rr_type2str((ldns_rr_type)qt);
	char nbuf[GK_DNAME_MAX * 4 + 2];
	fprintf(l->out, "query       %s %s over %s\n", gk_dname_to_str(name, nbuf, sizeof(nbuf)),
	        tname ? tname : "?", l->o->tcp ? "TCP" : "UDP");
	free(tname);
	uint8_t *resp = malloc(GK_PKT_OUT_MAX);
	if (resp == NULL)
		return GK_CTL_IO;
	gk_pkt_result_t res;
	gk_pkt_outcome_t oc;
	int ret = answer(l, resp, &res, &oc);
	if (ret != GK_CTL_OK)
		goto out;
	/* step 1 */
	if (unserved(oc, &res)) {
		if (qt == LDNS_RR_TYPE_AXFR || qt == LDNS_RR_TYPE_IXFR)
			fprintf(l->out, "zone        zone transfers are not answered → REFUSED\n");
		else
			fprintf(l->out, "zone        not a served zone → REFUSED (no filing check, "
			                "no list lookup)\n");
		print_answer(l, oc, &res, resp);
		goto out;
	}
	print_zone(l, name, len);
	/* step 2 */
	const uint8_t *reg = res_reg(l, &res);
	if (reg)
		print_name(l->out, "registrable", reg);
	else if (l->opts.status == NULL && l->policy == NULL) {
		/* the packet path derives none: say what it would be */
		int off = gk_psl_registrable_wire(l->psl, name, len);
		char buf[GK_DNAME_MAX * 4 + 2];
		fprintf(l->out, "registrable %s (not used: no filing check and no policy)\n",
		        off >= 0 ? gk_dname_to_str(name + off, buf, sizeof(buf)) : "none");
	} else
		fprintf(l->out, "registrable none: the name is a public suffix\n");
	/* steps 3 and 4, then 5 and 6 */
	fprintf(l->out, "policy      %s\n", l->policy_src);
	bool listed = print_rule(l, &res);
	print_filing(l, &res, listed);
	fprintf(l->out, "action      %s (why: %s%s%s)%s\n", act_name(res.action), why_name(res.why),
	        res.list && l->policy ? ", list " : "",
	        res.list && l->policy ? gk_policy_list_name(l->policy, res.list) : "",
	        res.monitor ? " -- monitor mode: logged, not sent" : "");
	print_answer(l, oc, &res, resp);
out:
	free(resp);
	return ret;
}

int gk_ctl_lookup(const gk_ctl_opts_t *o, const char *qname, FILE *out, FILE *errf)
{
	char err[1024];
	struct look l = {.o = o, .out = out, .errf = errf};
	uint8_t name[GK_DNAME_MAX + 1];
	size_t len = 0;
	if (parse_name(qname, name, &len) != 0) {
		fprintf(errf, "gkctl: '%s' is not a domain name\n", qname);
		return GK_CTL_USAGE;
	}
	int ret = GK_CTL_OK;
	if (o->config && (ret = gk_daemon_config_load_flags(o->config, GK_CONFIG_NO_SECRETS, &l.cfg,
	                                                    err, sizeof(err))) != 0) {
		fprintf(errf, "gkctl: %s\n", err);
		return ret == GK_EIO ? GK_CTL_IO : GK_CTL_USAGE;
	}
	const char *psl_file = l.cfg ? l.cfg->filing.psl_file : NULL;
	if (gk_psl_open(psl_file, &l.psl) != 0) {
		fprintf(errf, "gkctl: cannot open the public suffix list %s\n",
		        psl_file ? psl_file : GK_PSL_DEFAULT_FILE);
		ret = GK_CTL_IO;
		goto out;
	}
	/* a config without redis (and no --redis): no filing status, the policy file only */
	bool no_redis = !o->redis && l.cfg && !l.cfg->redis.set;
	if (!no_redis && (ret = gk_ctl_connect(o, &l.redis, errf)) != GK_CTL_OK)
		goto out;
	print_name(out, "name", name);
	int pr = pick_policy(&l);
	if (pr == GK_CTL_IO) {
		ret = pr;
		goto out;
	}
	if (l.cfg == NULL) {
		/* without a config there is no zone set: only the name's own facts */
		int off = gk_psl_registrable_wire(l.psl, name, len);
		if (off >= 0)
			print_name(out, "registrable", name + off);
		else
			fprintf(out, "registrable none: the name is a public suffix\n");
		fprintf(out, "answer      (give -c gatekeeperd.conf for the decision)\n");
	} else {
		ret = decide(&l, name, len);
	}
	if (ret == GK_CTL_OK)
		ret = pr;
out:
	free(l.record);
	gk_status_free(l.st);
	gk_zone_store_free(l.zs);
	gk_policy_free(l.policy);
	gk_policy_free(l.defpol);
	gk_polstore_disconnect(l.redis);
	gk_psl_close(l.psl);
	gk_daemon_config_free(l.cfg);
	return ret;
}
