#include "defaults.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "rules.h"

/* A point a kind derives, and the points it derives it from (all needed;
 * none listed: it may derive it on any device). */
struct derived {
    char *name;
    char **needs;
    size_t n_needs;
};

/* One kind's default rules, parsed once. */
struct kind_rules {
    const char *kind;
    struct gw_rule_cfg *rules;
    size_t n;
    struct derived *derives;   /* the points the kind says it derives */
    size_t n_derives;
    bool declares;             /* it said (a `derives` list); else it may derive any name */
};

static void kind_rules_free(struct kind_rules *k)
{
    rules_config_free(k->rules, k->n);
    for (size_t i = 0; i < k->n_derives; i++) {
        free(k->derives[i].name);
        for (size_t j = 0; j < k->derives[i].n_needs; j++)
            free(k->derives[i].needs[j]);
        free(k->derives[i].needs);
    }
    free(k->derives);
}

/* One entry of `derives`: "name" or "name(input, input ...)".  Returns 0
 * or -ENOMEM. */
static int parse_derived(const char *text, struct derived *d)
{
    size_t len = strcspn(text, "( ");
    if (!(d->name = strndup(text, len)))
        return -ENOMEM;
    const char *p = text + len + strspn(text + len, " ");
    if (*p != '(')
        return 0;
    for (p++;;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,)");
        if (n == 0)
            return 0;
        char **grown = realloc(d->needs, (d->n_needs + 1) * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        d->needs = grown;
        if (!(d->needs[d->n_needs] = strndup(p, n)))
            return -ENOMEM;
        d->n_needs++;
        p += n;
    }
}

/* The `derives` list that may follow `rules = ( ... );` in a kind's text.
 * The text itself was checked by rules_config_parse_text, so one that does
 * not parse here declares nothing.  Returns 0 or -ENOMEM. */
static int parse_derives(const char *text, struct kind_rules *k)
{
    const char *t = text + strspn(text, " \t\r\n");
    if (strncmp(t, "rules", 5) != 0)
        return 0;  /* a bare list: nothing declared */
    config_t lc;
    config_init(&lc);
    int rc = 0;
    const config_setting_t *list = config_read_string(&lc, text) ? config_lookup(&lc, "derives") : NULL;
    int n = list && config_setting_is_array(list) ? config_setting_length(list) : 0;
    k->declares = list != NULL;
    if (n > 0 && !(k->derives = calloc((size_t)n, sizeof *k->derives)))
        rc = -ENOMEM;
    for (int i = 0; !rc && i < n; i++) {
        const char *entry = config_setting_get_string_elem(list, i);
        if (entry)
            rc = parse_derived(entry, &k->derives[k->n_derives++]);
    }
    config_destroy(&lc);
    return rc;
}

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
        if (r == -ENOMEM || parse_derives(p->default_rules, &out[i]) == -ENOMEM)
            return -ENOMEM;
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

static bool ends_with(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), m = strlen(suffix);
    *stem = n > m ? n - m : 0;
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* How deep a derived point's inputs are followed (cop from cooling_kw,
 * itself derived from flow and temperatures). */
#define DERIVED_DEPTH 3

/* Whether the device can supply point `name`: a point of its register map;
 * the interval delta or reset flag of one of its counters (every kind that
 * derives points derives those, docs/kinds.md); or a point its kind says
 * it derives, from inputs the device has.  A kind that declares nothing
 * may derive any name. */
static bool device_has_at(const struct gw_device_cfg *dev, const struct kind_rules *k, const char *name, int depth)
{
    if (!dev->profile || profile_find_point(dev->profile, name) >= 0)
        return true;  /* in the map (a device without one was reported broken) */
    size_t stem;
    if (ends_with(name, "_delta", &stem) || ends_with(name, "_reset", &stem)) {
        char base[GW_NAME_MAX];
        if (stem < sizeof base) {
            memcpy(base, name, stem);
            base[stem] = '\0';
            int i = profile_find_point(dev->profile, base);
            if (i >= 0 && dev->profile->points[i].counter)
                return true;
        }
    }
    if (!k->declares)
        return true;
    for (size_t i = 0; i < k->n_derives && depth < DERIVED_DEPTH; i++) {
        const struct derived *d = &k->derives[i];
        if (strcmp(d->name, name) != 0)
            continue;
        bool inputs = true;
        for (size_t j = 0; inputs && j < d->n_needs; j++)
            inputs = device_has_at(dev, k, d->needs[j], depth + 1);
        if (inputs)
            return true;
    }
    return false;
}

static bool device_has(const struct gw_device_cfg *dev, const struct kind_rules *k, const char *name)
{
    return device_has_at(dev, k, name, 0);
}

/* Whether every point an expression reads is the device's.  One that does
 * not compile is left to validation, which reports it. */
static bool expr_points_present(const char *text, const struct gw_device_cfg *dev, const struct kind_rules *k)
{
    struct gw_expr *e = NULL;
    if (!text || expr_compile(text, &e, NULL, NULL, 0))
        return true;
    const char *const *names;
    size_t n = expr_variables(e, &names);
    bool all = true;
    for (size_t i = 0; all && i < n; i++)
        all = device_has(dev, k, names[i]);
    expr_free(e);
    return all;
}

/* A default applies to a device that has every point it reads (its point,
 * expr and suppress_when): a kind's rule for a point the device lacks, such
 * as a command/status check on equipment without a command point, is not
 * the device's, and leaving it out is not an error. */
static bool default_applies(const struct gw_rule_cfg *r, const struct gw_device_cfg *dev, const struct kind_rules *k)
{
    return (!r->point || device_has(dev, k, r->point)) && expr_points_present(r->expr, dev, k) &&
           expr_points_present(r->suppress_when, dev, k);
}

/* The device's kind defaults, as its site rules override them: those that
 * apply to it (judged as overridden, since an override may change what the
 * rule reads). */
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
        struct gw_rule_cfg *added = &set->rules[set->n - 1];
        if (!default_applies(added, dev, k)) {
            rules_config_free_one(added);
            set->n--;
            continue;
        }
        if (over && rules_config_validate(added, dev, diag))
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
        kind_rules_free(&k[i]);
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
