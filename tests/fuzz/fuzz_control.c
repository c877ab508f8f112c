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
#include "common/dname.h"
#include "control/control.h"
#include "zonelist/zonelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gk_control_cmd_t cmd;

static void name_round_trip(const char *p, size_t len, unsigned flags)
{
	uint8_t w[GK_DNAME_MAX], w2[GK_DNAME_MAX];
	char text[4 * GK_DNAME_MAX + 2];
	size_t n = gk_dname_from_text(p, len, w, flags);
	if (n == 0)
		return;
	if (n > GK_DNAME_MAX || gk_dname_len(w) != n)
		abort();
	gk_dname_to_str(w, text, sizeof(text));
	size_t n2 = gk_dname_from_text(text, strlen(text), w2, GK_DNAME_TEXT_ESCAPES);
	if (n2 != n || memcmp(w, w2, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		name_round_trip(p, len, GK_DNAME_TEXT_ESCAPES);
		name_round_trip(p, len, 0);
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
