/* SPDX-License-Identifier: MIT */
/* tests/integration/xfr_fetch.c -- one SOA query, AXFR or IXFR through src/xfr/transfer.c,
 * for test_xfr.py to run against NSD and Knot.
 *
 * xfr_fetch ADDR PORT ZONE soa|axfr|ixfr [-s SERIAL -c CURRENT_FILE] [-k NAME:ALG:SECRET]
 *           [-t TIMEOUT_MS] [-r MAX_RRS] [-b MAX_BYTES] [-o OUT_FILE]
 * prints "rc=.. kind=.. serial=.. uptodate=.. fell_back=.. msgs=.. rrs=.. bytes=.. err=.."
 * on stdout and writes the new zone's text to OUT_FILE (CURRENT_FILE is text too: both are
 * turned into and from the records in wire form the module takes and gives). Exit 0 when rc
 * is 0.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "xfr/internal.h"

static const char *out_file;
static int exit_rc = 2;

static void done(void *ctx, gk_xfr_result_t *r)
{
	(void)ctx;
	static const char *kinds[] = {"soa", "axfr", "ixfr"};
	printf(
	    "rc=%d kind=%s serial=%u uptodate=%d fell_back=%d msgs=%zu rrs=%zu bytes=%zu err=%s\n",
	    r->rc, kinds[r->kind], r->serial, r->uptodate, r->fell_back, r->msgs, r->rrs, r->bytes,
	    r->rc ? r->err : (r->err[0] ? r->err : "-"));
	if (r->wire && out_file) {
		ldns_rr_list *l = NULL;
		char *text = NULL, err[256];
		size_t len = 0;
		if (gk_xfr_wire_parse(r->wire, r->wire_len, r->count, &l, err, sizeof err) != 0 ||
		    gk_xfr_zone_text(l, NULL, &text, &len) != 0) {
			fprintf(stderr, "result: %s\n", err);
			ldns_rr_list_deep_free(l);
			return;
		}
		ldns_rr_list_deep_free(l);
		FILE *f = fopen(out_file, "w");
		if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
			perror(out_file);
			free(text);
			return;
		}
		free(text);
	}
	exit_rc = r->rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	gk_xfr_request_t req = {.lim = {.max_bytes = 256u << 20, .max_rrs = 10000000},
	                        .timeout_ms = 5000};
	gk_tsig_key_t key;
	uint8_t *curw = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "s:c:k:t:r:b:o:")) != -1) {
		switch (opt) {
		case 's':
			req.serial = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c': {
			FILE *f = fopen(optarg, "r");
			if (!f) {
				perror(optarg);
				return 2;
			}
			/* a master file ($ORIGIN, relative names): ldns's zone reader */
			ldns_zone *zn = NULL;
			ldns_status st = ldns_zone_new_frm_fp(&zn, f, NULL, 0, LDNS_RR_CLASS_IN);
			fclose(f);
			ldns_rr_list *l = ldns_rr_list_new();
			if (st != LDNS_STATUS_OK || !l || !ldns_zone_soa(zn) ||
			    !ldns_rr_list_push_rr(l, ldns_zone_soa(zn)) ||
			    !ldns_rr_list_push_rr_list(l, ldns_zone_rrs(zn)) ||
			    gk_xfr_zone_wire(l, &curw, &req.cur_len) != 0) {
				fprintf(stderr, "%s: %s\n", optarg, ldns_get_errorstr_by_id(st));
				return 2;
			}
			req.cur_count = ldns_rr_list_rr_count(l);
			req.cur = curw;
			ldns_rr_list_free(l); /* the records are the zone's */
			ldns_zone_deep_free(zn);
			break;
		}
		case 'k': {
			char *a = strchr(optarg, ':'), *b = a ? strchr(a + 1, ':') : NULL;
			if (!b)
				return 2;
			*a = *b = 0;
			if (gk_xfr_tsig_key_init(&key, optarg, a + 1, b + 1) != 0) {
				fprintf(stderr, "bad key\n");
				return 2;
			}
			req.key = &key;
			break;
		}
		case 't':
			req.timeout_ms = (uint32_t)atoi(optarg);
			break;
		case 'r':
			req.lim.max_rrs = (size_t)atol(optarg);
			break;
		case 'b':
			req.lim.max_bytes = (size_t)atol(optarg);
			break;
		case 'o':
			out_file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 4)
		return 2;
	struct sockaddr_storage ss;
	int port = atoi(argv[optind + 1]);
	if (uv_ip4_addr(argv[optind], port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(argv[optind], port, (struct sockaddr_in6 *)&ss) != 0)
		return 2;
	req.addr = (struct sockaddr *)&ss;
	req.zone = argv[optind + 2];
	const char *k = argv[optind + 3];
	req.kind = !strcmp(k, "soa") ? GK_XFR_SOA : !strcmp(k, "axfr") ? GK_XFR_AXFR : GK_XFR_IXFR;
	uv_loop_t loop;
	loop.data = NULL; /* uv_loop_init keeps it; transfer.c keeps its exchanges there */
	uv_loop_init(&loop);
	if (gk_xfr_start(&loop, &req, done, NULL) != 0)
		return 2;
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(curw);
	return exit_rc;
}
