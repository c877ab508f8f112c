/* SPDX-License-Identifier: MIT */
/* src/pkt/ede.c -- the Extended DNS Error option writer (ede.h). */
#include <string.h>
#include "pkt/ede.h"

size_t gk_pkt_ede_put(uint8_t *p, uint16_t code, const char *text, size_t text_len)
{
	size_t ol = 2u + text_len; /* OPTION-LENGTH: INFO-CODE and EXTRA-TEXT */
	p[0] = 0;
	p[1] = GK_PKT_EDE_OPTION;
	p[2] = (uint8_t)(ol >> 8);
	p[3] = (uint8_t)ol;
	p[4] = (uint8_t)(code >> 8);
	p[5] = (uint8_t)code;
	if (text_len)
		memcpy(p + 6, text, text_len);
	return GK_PKT_EDE_LEN(text_len);
}
