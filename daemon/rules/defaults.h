/*
 * The rules the engine runs: every enabled device's kind default rules
 * (from its plugin's default_rules), each overridden key by key by a site
 * rule of the same id and device, then the device's own site rules.  A
 * site rule with `enabled = false` drops the rule; one with another type
 * than the default's replaces it.
 *
 * A default applies only to a device that has every point it reads: in
 * its register map, the `_delta`/`_reset` of one of its counters, or a
 * point its kind derives from inputs the device has.  A kind names what
 * it derives in its text, each with the inputs it needs (all of them):
 *
 *   rules = ( { ... }, ... );
 *   derives = [ "chw_delta_t(chw_supply_temp, chw_return_temp)", "part_load_ratio", ... ];
 *
 * (a bare list "( ... )" declares nothing, and then any name may be
 * derived).  A default that does not apply is left out silently.
 */
#ifndef GW_RULES_DEFAULTS_H
#define GW_RULES_DEFAULTS_H

#include "config.h"
#include "plugin.h"

struct rule_set {
    struct gw_rule_cfg *rules;  /* each with its device_id */
    size_t n, cap;
    char **origins;             /* names of the kinds' default rule texts, for messages */
    size_t n_origins;
};

/* Build set (free with rule_set_free in every case).  kinds may be NULL.
 * Returns 0, -EINVAL (problems in diag) or -ENOMEM. */
int rules_resolve(const struct gw_config *cfg, const struct gw_kinds *kinds, struct gw_diag *diag,
                  struct rule_set *set);

void rule_set_free(struct rule_set *set);

#endif
