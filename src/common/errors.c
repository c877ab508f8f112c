/* SPDX-License-Identifier: MIT */
/* src/common/errors.c -- gk_strerror: text for the GK_E* error space. */
#include <string.h>
#include "gk/errors.h"

const char *gk_strerror(int code)
{
	switch (code) {
	case GK_OK:
		return "success";
	case GK_ESYNTAX:
		return "syntax error";
	case GK_EZONE:
		return "invalid zone content";
	case GK_ECONFIG:
		return "invalid configuration";
	case GK_ENOTREG:
		return "not a regular file";
	default:
		if (code < 0 && code > -1000)
			return strerror(-code);
		return "unknown error";
	}
}
