#include "defaults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rules.h"

/* One kind's default rules, parsed once. */
struct kind_rules {
    const char *kind;
    struct gw_rule_cfg *rules;
    size_t n;
};

static int append(struct rule_set *set, const struct gw_rule_cfg *rule, const struct gw_rule_cfg *over,
                  const char *device_id)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        struct gw_rule_cfg *grown = realloc(set->rules, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        set->rules = grown;
        set->cap = cap;
    }
    struct gw_rule_cfg *r = &set->rules[set->n];
    int rc = rules_config_copy(r, rule);
    if (!rc && over)
        rc = rules_config_merge(r, over);
    if (!rc && device_id && !r->device_id && !(r->device_id = strdup(device_id)))
        rc = -ENOMEM;
    set->n++;  /* freed with the set even if incomplete */
    return rc;
}

static int add_origin(struct rule_set *set, const char *kind, const char **origin)
{
    char **grown = realloc(set->origins, (set->n_origins + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    set->origins = grown;
    if (asprintf(&grown[set->n_origins], "kind '%s' default rules", kind) < 0)
        return -ENOMEM;
    *origin = grown[set->n_origins++];
    return 0;
}

/* Parse and check every loaded kind's default rules. */
static int parse_kinds(const struct gw_kinds *kinds, struct rule_set *set, struct kind_rules *out,
                       struct gw_diag *diag)
{
    int rc = 0;
    for (size_t i = 0; kinds && i < kinds->n; i++) {
        const struct gw_plugin *p = kinds->items[i].plugin;
        out[i].kind = kinds->items[i].name;
        if (!p || !p->default_rules)
            continue;
        const char *origin;
        if (add_origin(set, out[i].kind, &origin))
            return -ENOMEM;
        int r = rules_config_parse_text(p->default_rules, origin, &out[i].rules, &out[i].n, diag);
        if (r == -ENOMEM)
            return r;
        for (size_t j = 0; !r && j < out[i].n; j++)
            if (rules_config_validate(&out[i].rules[j], NULL, diag))
                r = -EINVAL;
        if (r)
            rc = -EINVAL;
    }
    return rc;
}

static const struct kind_rules *find_kind(const struct kind_rules *k, size_t n, const char *kind)
{
    for (size_t i = 0; i < n; i++)
        if (k[i].kind && strcmp(k[i].kind, kind) == 0)
            return &k[i];
    return NULL;
}

static const struct gw_rule_cfg *find_site_rule(const struct gw_config *cfg, const char *device, const char *id)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct gw_rule_cfg *r = &cfg->rules[i];
        if (r->id && r->device_id && strcmp(r->id, id) == 0 && strcmp(r->device_id, device) == 0)
            return r;
    }
    return NULL;
}

static const struct gw_rule_cfg *find_default(const struct kind_rules *k, const char *id)
{
    for (size_t i = 0; k && i < k->n; i++)
        if (k->rules[i].id && strcmp(k->rules[i].id, id) == 0)
            return &k->rules[i];
    return NULL;
}

/* The device's kind defaults, as its site rules override them. */
static int device_defaults(const struct gw_config *cfg, const struct gw_device_cfg *dev, const struct kind_rules *k,
                           struct rule_set *set, struct gw_diag *diag, int *rc)
{
    for (size_t i = 0; k && i < k->n; i++) {
        const struct gw_rule_cfg *def = &k->rules[i];
        const struct gw_rule_cfg *over = find_site_rule(cfg, dev->id, def->id);
        if (over && over->type >= 0 && over->type != def->type)
            continue;  /* replaced: added with the site rules */
        bool enabled = over && (over->present & rules_config_key_bit("enabled")) ? over->enabled : def->enabled;
        if (!enabled)
            continue;
        if (append(set, def, over, dev->id))
            return -ENOMEM;
        if (over && rules_config_validate(&set->rules[set->n - 1], dev, diag))
            *rc = -EINVAL;
    }
    return 0;
}

/* The device's own site rules: those that are not overrides. */
static int device_site_rules(const struct gw_config *cfg, const struct gw_device_cfg *dev, const struct kind_rules *k,
                             struct rule_set *set, struct gw_diag *diag, int *rc)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct gw_rule_cfg *r = &cfg->rules[i];
        if (!r->id || !r->device_id || strcmp(r->device_id, dev->id) != 0)
            continue;
        const struct gw_rule_cfg *def = find_default(k, r->id);
        if (r->type < 0) {
            if (!def) {
                diag_add(diag, r->file, r->line,
                         "rule '%s': no type given, and kind '%s' of device '%s' has no default rule '%s' to override",
                         r->id, dev->kind, dev->id, r->id);
                *rc = -EINVAL;
            }
            continue;
        }
        if (def && def->type == r->type)
            continue;  /* merged into the default */
        if (r->enabled && append(set, r, NULL, NULL))
            return -ENOMEM;
    }
    return 0;
}

int rules_resolve(const struct gw_config *cfg, const struct gw_kinds *kinds, struct gw_diag *diag,
                  struct rule_set *set)
{
    memset(set, 0, sizeof *set);
    size_t n_kinds = kinds ? kinds->n : 0;
    struct kind_rules *k = calloc(n_kinds + 1, sizeof *k);
    if (!k)
        return -ENOMEM;
    int rc = parse_kinds(kinds, set, k, diag);
    for (size_t i = 0; rc != -ENOMEM && i < cfg->n_devices; i++) {
        const struct gw_device_cfg *dev = &cfg->devices[i];
        if (!dev->id || !dev->enabled)
            continue;
        const struct kind_rules *kr = dev->kind ? find_kind(k, n_kinds, dev->kind) : NULL;
        if (device_defaults(cfg, dev, kr, set, diag, &rc) || device_site_rules(cfg, dev, kr, set, diag, &rc))
            rc = -ENOMEM;
    }
    for (size_t i = 0; i < n_kinds; i++)
        rules_config_free(k[i].rules, k[i].n);
    free(k);
    return rc;
}

void rule_set_free(struct rule_set *set)
{
    rules_config_free(set->rules, set->n);
    for (size_t i = 0; i < set->n_origins; i++)
        free(set->origins[i]);
    free(set->origins);
    memset(set, 0, sizeof *set);
}
