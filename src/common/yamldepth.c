/* SPDX-License-Identifier: MIT */
/* src/common/yamldepth.c -- bound the nesting depth of a YAML document (yamldepth.h). */
#include <yaml.h>
#include "common/yamldepth.h"

int gk_yamldepth_check(const char *text, size_t len, FILE *f, unsigned max_depth, size_t *line)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return GK_ENOMEM;
	if (text != NULL)
		yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	else
		yaml_parser_set_input_file(&p, f);
	int rc = 0;
	unsigned depth = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			/* malformed: the loader reports it with its own line */
			if (p.error == YAML_MEMORY_ERROR)
				rc = GK_ENOMEM;
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
			if (++depth > max_depth) {
				*line = ev.start_mark.line + 1;
				rc = GK_ESYNTAX;
			}
		} else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc != 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}
