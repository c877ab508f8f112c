/* SPDX-License-Identifier: MIT */
/* src/policy/refusal.c -- a refusal written in YAML (action + ede + text), for the config's
 * filing section and the policy file's status rules and lists alike. Load time only. */
#include <stdio.h>
#include <string.h>
#include "common/yamlwalk.h"
#include "policy/policy.h"

static const char *const act_names[] = {"refuse", "nxdomain", "nodata",
                                        "drop",   "redirect", "resolve"};
static const gk_action_t act_action[] = {GK_ACT_REFUSE, GK_ACT_NXDOMAIN, GK_ACT_NODATA,
                                         GK_ACT_DROP,   GK_ACT_NODATA,   GK_ACT_RESOLVE};

static bool allowed(gk_policy_act_t a, bool allow_redirect, bool allow_resolve)
{
	return (a != GK_POLICY_ACT_REDIRECT || allow_redirect) &&
	       (a != GK_POLICY_ACT_RESOLVE || allow_resolve);
}

static int set_action(gk_yaml_t *y, const char *name, yaml_node_t *v, bool allow_redirect,
                      bool allow_resolve, gk_refusal_t *r, gk_policy_act_t *act)
{
	const char *s = NULL;
	int rc = gk_yaml_string(y, name, v, &s);
	if (rc != 0)
		return rc;
	for (int i = 0; i <= GK_POLICY_ACT_RESOLVE; i++)
		if (strcmp(s, act_names[i]) == 0 &&
		    allowed((gk_policy_act_t)i, allow_redirect, allow_resolve)) {
			r->action = act_action[i];
			if (act)
				*act = (gk_policy_act_t)i;
			return 0;
		}
	char list[80] = "";
	for (int i = 0; i <= GK_POLICY_ACT_RESOLVE; i++)
		if (allowed((gk_policy_act_t)i, allow_redirect, allow_resolve))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			         *list ? ", " : "", act_names[i]);
	return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(v), "%s: '%s' is not one of %s", name, s,
	                    list);
}

int gk_policy_refusal_key(struct gk_yaml *y, const char *what, const char *key,
                          struct yaml_node_s *v, bool allow_redirect, bool allow_resolve,
                          gk_refusal_t *r, gk_policy_act_t *act)
{
	char name[80];
	snprintf(name, sizeof(name), "%s.%s", what, key);
	if (strcmp(key, "action") == 0)
		return set_action(y, name, v, allow_redirect, allow_resolve, r, act);
	if (strcmp(key, "ede") == 0) {
		unsigned u;
		int rc = gk_yaml_uint(y, name, v, 0, 65535, &u);
		if (rc != 0)
			return rc;
		r->ede_code = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "text") == 0) {
		if (v->type != YAML_SCALAR_NODE)
			return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(v),
			                    "%s: expected a string, got %s", name,
			                    gk_yaml_type_name(v));
		size_t n = v->data.scalar.length;
		if (n > sizeof(r->text))
			return gk_yaml_fail(y, GK_ECONFIG, gk_yaml_line(v),
			                    "%s: %zu bytes, at most %zu", name, n, sizeof(r->text));
		memcpy(r->text, gk_yaml_scalar(v), n);
		r->text_len = (uint8_t)n;
		return 0;
	}
	return 1;
}
