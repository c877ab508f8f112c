/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_control.c -- libFuzzer target: arbitrary bytes as control-channel requests.
 *
 * The input is split at newlines as the control socket splits it, and each line goes to
 * gk_control_parse. A parse that succeeds must give a known command, a valid zone name when
 * it has one, an absolute NUL-terminated zone file for zone add, and a log level in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "control/control.h"
#include "zonelist/zonelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gk_control_cmd_t cmd;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len < GK_CONTROL_LINE_MAX) {
			char err[256];
			if (gk_control_parse(p, len, &cmd, err, sizeof(err)) == 0) {
				if (cmd.op < GK_CONTROL_ZONE_ADD ||
				    cmd.op > GK_CONTROL_ZONE_REFRESH)
					abort();
				if (cmd.has_name &&
				    !gk_zonelist_name_ok(cmd.name, strlen(cmd.name)))
					abort();
				if ((cmd.op == GK_CONTROL_ZONE_ADD ||
				     cmd.op == GK_CONTROL_ZONE_REMOVE ||
				     cmd.op == GK_CONTROL_ZONE_REFRESH) &&
				    !cmd.has_name)
					abort();
				if (cmd.op == GK_CONTROL_ZONE_ADD &&
				    (cmd.file[0] != '/' || strlen(cmd.file) >= len))
					abort();
				if (cmd.op == GK_CONTROL_LOGLEVEL &&
				    (cmd.level < 0 || cmd.level > 3))
					abort();
			} else if (err[0] == '\0') {
				abort(); /* an error always says why */
			}
		}
		p += len + 1;
	}
	return 0;
}
