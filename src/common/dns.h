/* SPDX-License-Identifier: MIT */
/* src/common/dns.h -- DNS numbers (RR types, classes, response codes) shared by the zone
 * store and the packet path, and where a type's rdata holds domain names. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define GK_TYPE_A          1
#define GK_TYPE_NS         2
#define GK_TYPE_CNAME      5
#define GK_TYPE_SOA        6
#define GK_TYPE_PTR        12
#define GK_TYPE_MX         15
#define GK_TYPE_TXT        16
#define GK_TYPE_AAAA       28
#define GK_TYPE_SRV        33
#define GK_TYPE_DNAME      39
#define GK_TYPE_OPT        41
#define GK_TYPE_DS         43
#define GK_TYPE_RRSIG      46
#define GK_TYPE_NSEC       47
#define GK_TYPE_DNSKEY     48
#define GK_TYPE_NSEC3      50
#define GK_TYPE_NSEC3PARAM 51
#define GK_TYPE_IXFR       251
#define GK_TYPE_AXFR       252
#define GK_TYPE_ANY        255
#define GK_CLASS_IN        1
#define GK_CLASS_ANY       255

#define GK_RCODE_NOERROR  0
#define GK_RCODE_FORMERR  1
#define GK_RCODE_SERVFAIL 2
#define GK_RCODE_NXDOMAIN 3
#define GK_RCODE_NOTIMP   4
#define GK_RCODE_REFUSED  5
#define GK_RCODE_YXDOMAIN 6
#define GK_RCODE_BADVERS  16

/* Where the domain names are in rdata of type: *pre octets, then *names names, then the rest
 * as it is; false for a type whose names are never compressed (its rdata is opaque here).
 * received false: the RFC 1035 types, whose names a server may compress when it writes
 * (RFC 3597 4); true: also the types whose names a receiver decompresses because some
 * servers compress them (RP, AFSDB, RT, PX, SRV, KX, and DNAME). */
static inline bool gk_dns_rdata_names(uint16_t type, bool received, unsigned *pre, unsigned *names)
{
	*pre = 0;
	*names = 1;
	switch (type) {
	case 2:  /* NS */
	case 3:  /* MD */
	case 4:  /* MF */
	case 5:  /* CNAME */
	case 7:  /* MB */
	case 8:  /* MG */
	case 9:  /* MR */
	case 12: /* PTR */
		return true;
	case 6:  /* SOA */
	case 14: /* MINFO */
		*names = 2;
		return true;
	case 15: /* MX */
		*pre = 2;
		return true;
	case 17: /* RP */
		*names = 2;
		return received;
	case 18: /* AFSDB */
	case 21: /* RT */
	case 36: /* KX */
		*pre = 2;
		return received;
	case 26: /* PX */
		*pre = 2;
		*names = 2;
		return received;
	case 33: /* SRV */
		*pre = 6;
		return received;
	case 39: /* DNAME */
		return received;
	default:
		*names = 0;
		return false;
	}
}
