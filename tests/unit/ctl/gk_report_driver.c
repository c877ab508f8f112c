/* SPDX-License-Identifier: MIT */
/* tests/unit/ctl/gk_report_driver.c -- `gk_report_driver report ARGS...` runs gkctl's report
 * subcommand (src/ctl/report.h) on its own, for tests. */
#include <stdio.h>
#include "ctl/report.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gk_report_driver report [options]\n");
		return 2;
	}
	return gk_report_main(argc - 1, argv + 1, stdout, stderr);
}
