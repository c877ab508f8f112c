/* SPDX-License-Identifier: MIT */
/* src/common/dns.h -- DNS numbers (RR types, classes, response codes) shared by the zone
 * store and the packet path. Constants only. */
#pragma once

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
