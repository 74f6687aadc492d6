#include "rules_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "expr.h"
#include "profile.h"
#include "schema.h"

#define N(a) (sizeof(a) / sizeof(*(a)))
#define B(k) (1ull << (k))

const char *const gw_severity_names[4] = { "critical", "high", "medium", "low" };
const char *const gw_rule_type_names[GW_RULE_TYPE_COUNT] = {
    "limit", "state", "comm_loss", "stale", "rate", "spike", "flatline",
    "schedule", "maintenance", "expression", "baseline",
};
static const char *const measure_names[] = { "counter", "run_hours", "starts" };
static const char *const direction_names[] = { "both", "above", "below" };

/* ---- the key table ------------------------------------------------------ */

/* In the order of rule_keys[]: the bit of a key in gw_rule_cfg.present. */
enum rule_key {
    K_ID, K_DEVICE, K_TYPE, K_POINT, K_HIGH, K_LOW, K_DEADBAND, K_ON_DELAY, K_OFF_DELAY,
    K_SEVERITY, K_STATES, K_MESSAGE, K_ENABLED, K_LATCHING, K_SUPPRESS_WHEN, K_EXPR,
    K_INTERVALS, K_RATE, K_JUMP, K_SAMPLES, K_TOLERANCE, K_WINDOW, K_DAYS, K_START, K_END,
    K_GRACE, K_MEASURE, K_INTERVAL, K_REMIND_AT, K_SIGMA, K_PERCENT, K_WEEKS, K_DIRECTION,
    K_MIN_COVERAGE, K_MIN_DEVIATION, K_DESCRIPTION, K_COUNT
};

static int parse_states(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_days(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_start(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_end(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_expr(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_suppress_when(const config_setting_t *s, void *target, struct schema_ctx *ctx);

#define RULE(f) SCHEMA_FIELD(struct gw_rule_cfg, f)
#define WEEK_S 604800
static const struct schema_key rule_keys[] = {
    [K_ID] = { .name = "id", .type = SCHEMA_STRING, RULE(id), .required = true,
               .doc = "letters, digits, `-`, `_`, `.`; unique per device (part of MQTT topics)" },
    [K_DEVICE] = { .name = "device", .type = SCHEMA_STRING, RULE(device_id),
                   .doc = "the device watched",
                   .doc_default = "— (required in site rules; kind default rules have none)" },
    [K_TYPE] = { .name = "type", .type = SCHEMA_ENUM, RULE(type), .def_num = -1,
                 .choices = gw_rule_type_names, .n_choices = GW_RULE_TYPE_COUNT,
                 .doc = "the rule type ([rules.md](rules.md))",
                 .doc_default = "— (required, except in an override of a kind default)" },
    [K_POINT] = { .name = "point", .type = SCHEMA_STRING, RULE(point),
                  .doc = "the point watched (all types but `comm_loss`, `expression`; `schedule`: or `expr`)" },
    [K_HIGH] = { .name = "high", .type = SCHEMA_FLOAT, RULE(high), SCHEMA_PRESENT(struct gw_rule_cfg, has_high),
                 .doc = "limit: the high limit; `high` and/or `low`", .doc_default = "—" },
    [K_LOW] = { .name = "low", .type = SCHEMA_FLOAT, RULE(low), SCHEMA_PRESENT(struct gw_rule_cfg, has_low),
                .doc = "limit: the low limit, below `high`", .doc_default = "—" },
    [K_DEADBAND] = { .name = "deadband", .type = SCHEMA_FLOAT, RULE(deadband), .ranged = true, .min = 0, .max = 1e12,
                     .doc = "limit: how far back inside a limit the value must come to return" },
    [K_ON_DELAY] = { .name = "on_delay_s", .type = SCHEMA_FLOAT, RULE(on_delay_s), .ranged = true, .min = 0, .max = WEEK_S,
                     .doc = "the condition must hold this long before the alarm is raised" },
    [K_OFF_DELAY] = { .name = "off_delay_s", .type = SCHEMA_FLOAT, RULE(off_delay_s), .ranged = true, .min = 0, .max = WEEK_S,
                      .doc = "the condition must stay clear this long before the alarm returns" },
    [K_SEVERITY] = { .name = "severity", .type = SCHEMA_ENUM, RULE(severity), .def_num = GW_SEVERITY_MEDIUM,
                     .choices = gw_severity_names, .n_choices = 4,
                     .doc = "the alarm's severity" },
    [K_STATES] = { .name = "states", .type = SCHEMA_CUSTOM, .parse = parse_states,
                   .doc = "state (required): values meaning \"in alarm\"", .doc_type = "list of numbers" },
    [K_MESSAGE] = { .name = "message", .type = SCHEMA_STRING, RULE(message),
                    .doc = "what the on-call engineer reads", .doc_default = "generated from the values" },
    [K_ENABLED] = { .name = "enabled", .type = SCHEMA_BOOL, RULE(enabled), .def_num = 1,
                    .doc = "false drops the rule (or a kind default for this device)" },
    [K_LATCHING] = { .name = "latching", .type = SCHEMA_BOOL, RULE(latching),
                     .doc = "once active, stays active until acknowledged even if the condition clears" },
    [K_SUPPRESS_WHEN] = { .name = "suppress_when", .type = SCHEMA_CUSTOM, .parse = parse_suppress_when,
                          .doc = "while true, the alarm is suppressed (e.g. `\"running == 0\"`)",
                          .doc_type = "expression (string)" },
    [K_EXPR] = { .name = "expr", .type = SCHEMA_CUSTOM, .parse = parse_expr,
                 .doc = "expression (required), schedule (or `point`): the condition",
                 .doc_type = "expression (string)" },
    [K_INTERVALS] = { .name = "intervals", .type = SCHEMA_FLOAT, RULE(intervals), .def_num = 3,
                      .ranged = true, .min = 1, .max = 10000,
                      .doc = "comm_loss, stale: polling intervals without a good value" },
    [K_RATE] = { .name = "rate_per_min", .type = SCHEMA_FLOAT, RULE(rate_per_min), .ranged = true, .min = 0, .max = 1e12,
                 .doc = "rate (required): change per minute beyond which the alarm is raised, either way",
                 .doc_default = "—" },
    [K_JUMP] = { .name = "jump", .type = SCHEMA_FLOAT, RULE(jump), .ranged = true, .min = 0, .max = 1e12,
                 .doc = "spike (required): how far the value jumps from its level", .doc_default = "—" },
    [K_SAMPLES] = { .name = "samples", .type = SCHEMA_INT, RULE(samples), .def_num = 3, .ranged = true, .min = 1, .max = 100,
                    .doc = "spike: most samples before it comes back" },
    [K_TOLERANCE] = { .name = "tolerance", .type = SCHEMA_FLOAT, RULE(tolerance), .ranged = true, .min = 0, .max = 1e12,
                      .doc = "spike: how near its level the value must come back; flatline: the band the value "
                             "stays in",
                      .doc_default = "spike: `jump / 2`; flatline: 0" },
    [K_WINDOW] = { .name = "window_s", .type = SCHEMA_FLOAT, RULE(window_s), .ranged = true, .min = 0, .max = 31 * 86400,
                   .doc = "flatline (required): how long the value stays within `tolerance`", .doc_default = "—" },
    [K_DAYS] = { .name = "days", .type = SCHEMA_CUSTOM, .parse = parse_days,
                 .doc = "schedule: `mon` … `sun`, `workdays`, `weekends`, `daily`",
                 .doc_type = "string or list of strings",
                 .doc_default = "`\"daily\"`" },
    [K_START] = { .name = "start", .type = SCHEMA_CUSTOM, .parse = parse_start,
                  .doc = "schedule (required): start of the allowed window, site local time",
                  .doc_type = "string `\"HH:MM\"`" },
    [K_END] = { .name = "end", .type = SCHEMA_CUSTOM, .parse = parse_end,
                .doc = "schedule (required): its end, `\"24:00\"` allowed; at or before `start`: the next day",
                .doc_type = "string `\"HH:MM\"`" },
    [K_GRACE] = { .name = "grace_s", .type = SCHEMA_FLOAT, RULE(grace_s), .ranged = true, .min = 0, .max = 86400,
                  .doc = "schedule: widens the window at both ends" },
    [K_MEASURE] = { .name = "measure", .type = SCHEMA_ENUM, RULE(measure), .def_num = GW_MEASURE_COUNTER,
                    .choices = measure_names, .n_choices = N(measure_names),
                    .doc = "maintenance: what is counted: a counter's increase, hours `point` is not 0, or its "
                           "starts" },
    [K_INTERVAL] = { .name = "interval", .type = SCHEMA_FLOAT, RULE(interval), .ranged = true, .min = 0, .max = 1e12,
                     .doc = "maintenance (required): service interval, in hours, starts or the counter's unit",
                     .doc_default = "—" },
    [K_REMIND_AT] = { .name = "remind_at", .type = SCHEMA_FLOAT, RULE(remind_at), .def_num = 0.8,
                      .ranged = true, .min = 0, .max = 0.99,
                      .doc = "maintenance: fraction of `interval` at which a reminder is raised; 0: none" },
    [K_SIGMA] = { .name = "sigma", .type = SCHEMA_FLOAT, RULE(sigma), .ranged = true, .min = 0.1, .max = 100,
                  .doc = "baseline: standard deviations from the usual days; `sigma` and/or `percent`",
                  .doc_default = "—" },
    [K_PERCENT] = { .name = "percent", .type = SCHEMA_FLOAT, RULE(percent), .ranged = true, .min = 0.1, .max = 10000,
                    .doc = "baseline: percent away from the usual days' mean; `sigma` and/or `percent`",
                    .doc_default = "—" },
    [K_WEEKS] = { .name = "weeks", .type = SCHEMA_INT, RULE(weeks), .def_num = 4, .ranged = true, .min = 1, .max = 8,
                  .doc = "baseline: weeks of history (the same weekday)" },
    [K_DIRECTION] = { .name = "direction", .type = SCHEMA_ENUM, RULE(direction), .def_num = GW_DIRECTION_BOTH,
                      .choices = direction_names, .n_choices = N(direction_names),
                      .doc = "baseline: which deviations count" },
    [K_MIN_COVERAGE] = { .name = "min_coverage", .type = SCHEMA_FLOAT, RULE(min_coverage), .def_num = 0.9,
                         .ranged = true, .min = 0, .max = 1,
                         .doc = "baseline: least fraction of a day read for it to be judged or used as history" },
    [K_MIN_DEVIATION] = { .name = "min_deviation", .type = SCHEMA_FLOAT, RULE(min_deviation), .def_num = 0,
                          .ranged = true, .min = 0, .max = 1e12,
                          .doc = "baseline: the least deviation from the usual days' mean that counts, in the "
                                 "point's unit (a day of use after days of none is judged against this)" },
    [K_DESCRIPTION] = { .name = "description", .type = SCHEMA_IGNORE,
                        .doc = "free text, ignored", .doc_type = "string" },
};
_Static_assert(N(rule_keys) == K_COUNT && K_COUNT <= 64, "a bit per key");

/* What each type needs and accepts besides the keys every rule has. */
#define COMMON (B(K_ID) | B(K_DEVICE) | B(K_TYPE) | B(K_SEVERITY) | B(K_MESSAGE) | B(K_ENABLED) | \
                B(K_LATCHING) | B(K_SUPPRESS_WHEN) | B(K_DESCRIPTION))
#define DELAYS (B(K_ON_DELAY) | B(K_OFF_DELAY))
static const struct {
    uint64_t needs, accepts;
} type_keys[GW_RULE_TYPE_COUNT] = {
    [GW_RULE_LIMIT] = { B(K_POINT), B(K_POINT) | B(K_HIGH) | B(K_LOW) | B(K_DEADBAND) | DELAYS },
    [GW_RULE_STATE] = { B(K_POINT), B(K_POINT) | B(K_STATES) | DELAYS },
    [GW_RULE_COMM_LOSS] = { 0, B(K_INTERVALS) | DELAYS },
    [GW_RULE_STALE] = { B(K_POINT), B(K_POINT) | B(K_INTERVALS) | DELAYS },
    [GW_RULE_RATE] = { B(K_POINT) | B(K_RATE), B(K_POINT) | B(K_RATE) | DELAYS },
    [GW_RULE_SPIKE] = { B(K_POINT) | B(K_JUMP), B(K_POINT) | B(K_JUMP) | B(K_SAMPLES) | B(K_TOLERANCE) | B(K_OFF_DELAY) },
    [GW_RULE_FLATLINE] = { B(K_POINT) | B(K_WINDOW), B(K_POINT) | B(K_WINDOW) | B(K_TOLERANCE) | B(K_OFF_DELAY) },
    [GW_RULE_SCHEDULE] = { B(K_START) | B(K_END),
                           B(K_POINT) | B(K_EXPR) | B(K_DAYS) | B(K_START) | B(K_END) | B(K_GRACE) | DELAYS },
    [GW_RULE_MAINTENANCE] = { B(K_POINT) | B(K_INTERVAL),
                              B(K_POINT) | B(K_MEASURE) | B(K_INTERVAL) | B(K_REMIND_AT) },
    [GW_RULE_EXPRESSION] = { B(K_EXPR), B(K_EXPR) | DELAYS },
    [GW_RULE_BASELINE] = { B(K_POINT), B(K_POINT) | B(K_SIGMA) | B(K_PERCENT) | B(K_WEEKS) |
                                           B(K_DIRECTION) | B(K_MIN_COVERAGE) | B(K_MIN_DEVIATION) },
};

uint64_t rules_config_key_bit(const char *name)
{
    for (size_t i = 0; i < N(rule_keys); i++)
        if (strcmp(rule_keys[i].name, name) == 0)
            return B(i);
    return 0;
}

/* ---- custom keys -------------------------------------------------------- */

static const char *rule_label(const struct gw_rule_cfg *rule)
{
    return rule->id ? rule->id : "?";
}

static int parse_states(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    int n = config_setting_is_aggregate(s) ? config_setting_length(s) : -1;
    if (n < 1) {
        schema_error(ctx, s, "states must be a non-empty list of values, e.g. [ 1, 2 ]");
        return -EINVAL;
    }
    free(rule->states);
    rule->n_states = 0;
    if (!(rule->states = calloc((size_t)n, sizeof *rule->states)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        if (!schema_number(config_setting_get_elem(s, (unsigned)i), &rule->states[i])) {
            schema_error(ctx, s, "states must hold numbers");
            return -EINVAL;
        }
    }
    rule->n_states = (size_t)n;
    return 0;
}

static const struct {
    const char *name;
    int mask;
} day_names[] = {
    { "sun", 1 << 0 }, { "mon", 1 << 1 }, { "tue", 1 << 2 }, { "wed", 1 << 3 },
    { "thu", 1 << 4 }, { "fri", 1 << 5 }, { "sat", 1 << 6 },
    { "workdays", 0x3e }, { "weekends", 0x41 }, { "daily", 0x7f },
};

static int day_mask(const char *name)
{
    for (size_t i = 0; name && i < N(day_names); i++)
        if (strcmp(name, day_names[i].name) == 0)
            return day_names[i].mask;
    return 0;
}

/* days = "workdays"; or days = [ "mon", "tue" ]; */
static int parse_days(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    int mask = 0, n = config_setting_is_aggregate(s) ? config_setting_length(s) : 1;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_is_aggregate(s) ? config_setting_get_elem(s, (unsigned)i) : s;
        int m = day_mask(config_setting_get_string(e));
        if (!m) {
            schema_error(ctx, s, "rule '%s': days must be mon, tue, wed, thu, fri, sat, sun, workdays, "
                                 "weekends or daily (a string or a list of them)", rule_label(rule));
            return -EINVAL;
        }
        mask |= m;
    }
    if (!mask) {
        schema_error(ctx, s, "rule '%s': days must name at least one day", rule_label(rule));
        return -EINVAL;
    }
    rule->days = mask;
    return 0;
}

/* "HH:MM" in minutes; "24:00" only where allow_24. */
static int parse_clock(const config_setting_t *s, const char *key, bool allow_24, int *out,
                       const struct gw_rule_cfg *rule, struct schema_ctx *ctx)
{
    const char *text = config_setting_get_string(s);
    unsigned h, m;
    int used = 0;
    if (text && sscanf(text, "%2u:%2u%n", &h, &m, &used) == 2 && !text[used] && strlen(text) == 5 &&
        m < 60 && (h < 24 || (allow_24 && h == 24 && m == 0))) {
        *out = (int)(h * 60 + m);
        return 0;
    }
    schema_error(ctx, s, "rule '%s': %s must be a time \"HH:MM\" (00:00 to %s)", rule_label(rule), key,
                 allow_24 ? "24:00" : "23:59");
    *out = -1;  /* reported: no follow-on problems */
    return -EINVAL;
}

static int parse_start(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    return parse_clock(s, "start", false, &rule->start_min, rule, ctx);
}

static int parse_end(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    return parse_clock(s, "end", true, &rule->end_min, rule, ctx);
}

/* An expression is compiled now so that a mistake is reported with its
 * position at its own line; the engine compiles its own copy. */
static int parse_expression(const config_setting_t *s, char **field, const char *key,
                            const struct gw_rule_cfg *rule, struct schema_ctx *ctx)
{
    const char *text = config_setting_get_string(s);
    if (!text) {
        schema_error(ctx, s, "rule '%s': %s must be a string", rule_label(rule), key);
        return -EINVAL;
    }
    struct gw_expr *e = NULL;
    size_t pos = 0;
    char err[128] = "";
    int rc = expr_compile(text, &e, &pos, err, sizeof err);
    expr_free(e);
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        schema_error(ctx, s, "rule '%s': %s \"%s\": %s (position %zu)", rule_label(rule), key, text, err, pos);
        return -EINVAL;
    }
    free(*field);
    return (*field = strdup(text)) ? 0 : -ENOMEM;
}

static int parse_expr(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    return parse_expression(s, &rule->expr, "expr", rule, ctx);
}

static int parse_suppress_when(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_rule_cfg *rule = target;
    return parse_expression(s, &rule->suppress_when, "suppress_when", rule, ctx);
}

/* ---- lists of rules ----------------------------------------------------- */

static bool valid_rule_id(const char *id)
{
    if (!*id)
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9') ||
              *id == '-' || *id == '_' || *id == '.'))
            return false;
    return true;
}

/* One rule group into rule: keys, presence, line.  Returns 0, -EINVAL or
 * -ENOMEM. */
static int parse_rule(const config_setting_t *e, struct gw_rule_cfg *rule, const char *file, int index,
                      struct schema_ctx *ctx)
{
    const char *id = NULL;
    char label[96];
    if (config_setting_is_group(e) && config_setting_lookup_string(e, "id", &id))
        snprintf(label, sizeof label, "rule '%s'", id);
    else
        snprintf(label, sizeof label, "rule %d", index + 1);
    rule->days = 0x7f;
    rule->file = file;
    rule->line = (int)config_setting_source_line(e);
    int rc = schema_load(e, rule_keys, N(rule_keys), rule, false, label, ctx);
    if (rc == -ENOMEM)
        return rc;
    for (size_t k = 0; config_setting_is_group(e) && k < N(rule_keys); k++)
        if (config_setting_get_member(e, rule_keys[k].name))
            rule->present |= B(k);
    if (rule->id && !valid_rule_id(rule->id)) {
        schema_error(ctx, e, "rule '%s': id may hold only letters, digits, '-', '_' and '.'", rule->id);
        rc = -EINVAL;
    }
    return rc;
}

/* Parse a list of rule groups into a fresh array. */
static int parse_rule_list(const config_setting_t *s, const char *file, struct gw_rule_cfg **rules,
                           size_t *count, struct schema_ctx *ctx)
{
    *rules = NULL;
    *count = 0;
    if (!config_setting_is_list(s)) {
        schema_error(ctx, s, "rules must be a list ( { ... }, { ... } )");
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    if (!(*rules = calloc((size_t)n + 1, sizeof **rules)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        (*count)++;
        int r = parse_rule(config_setting_get_elem(s, (unsigned)i), &(*rules)[i], file, i, ctx);
        if (r == -ENOMEM)
            return r;
        if (r)
            rc = -EINVAL;
    }
    return rc;
}

int rules_config_parse(const config_setting_t *list, struct gw_config *cfg, struct schema_ctx *ctx)
{
    int rc = parse_rule_list(list, cfg->file, &cfg->rules, &cfg->n_rules, ctx);
    for (size_t i = 0; rc != -ENOMEM && i < cfg->n_rules; i++) {
        const struct gw_rule_cfg *rule = &cfg->rules[i];
        if (!rule->device_id && config_setting_is_group(config_setting_get_elem(list, (unsigned)i))) {
            schema_error(ctx, config_setting_get_elem(list, (unsigned)i), "rule '%s': missing required key 'device'",
                         rule_label(rule));
            rc = -EINVAL;
        }
    }
    return rc;
}

/* Diagnostics of a parse of text carry no file ("-:LINE: ..."); give them
 * the origin's name. */
static void relabel(const struct gw_diag *from, const char *origin, struct gw_diag *to)
{
    for (size_t i = 0; i < from->n && i < from->cap; i++) {
        const char *l = from->lines[i];
        int line = 0, used = 0;
        if (sscanf(l, "-:%d: %n", &line, &used) == 1 && used)
            diag_add(to, origin, line, "%s", l + used);
        else
            diag_add(to, origin, 0, "%s", strncmp(l, "-: ", 3) == 0 ? l + 3 : l);
    }
}

static int parse_default_list(config_t *lc, const char *origin, struct gw_rule_cfg **rules, size_t *n,
                              struct gw_diag *local)
{
    const config_setting_t *list = config_lookup(lc, "rules");
    struct schema_ctx ctx = { .diag = local };
    int rc = parse_rule_list(list, origin, rules, n, &ctx);
    for (size_t i = 0; rc != -ENOMEM && i < *n; i++) {
        const struct gw_rule_cfg *rule = &(*rules)[i];
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        if (rule->device_id) {
            schema_error(&ctx, config_setting_get_member(e, "device"),
                         "rule '%s': a kind's default rule names no device", rule_label(rule));
            rc = -EINVAL;
        }
        if (rule->type < 0 && !(rule->present & B(K_TYPE)) && config_setting_is_group(e)) {
            schema_error(&ctx, e, "rule '%s': missing required key 'type'", rule_label(rule));
            rc = -EINVAL;
        }
    }
    return rc;
}

int rules_config_parse_text(const char *text, const char *origin, struct gw_rule_cfg **rules,
                            size_t *n, struct gw_diag *diag)
{
    *rules = NULL;
    *n = 0;
    const char *t = text + strspn(text, " \t\r\n");
    bool named = strncmp(t, "rules", 5) == 0;
    char *doc = NULL;
    if (asprintf(&doc, "%s%s%s", named ? "" : "rules = ", text, named ? "" : ";") < 0)
        return -ENOMEM;
    config_t lc;
    config_init(&lc);
    struct gw_diag local = { 0 };
    int rc;
    if (!config_read_string(&lc, doc)) {
        diag_add(diag, origin, config_error_line(&lc), "%s", config_error_text(&lc));
        rc = -EINVAL;
    } else if (!config_lookup(&lc, "rules")) {
        diag_add(diag, origin, 0, "default rules must be a list ( { ... }, ... )");
        rc = -EINVAL;
    } else {
        rc = parse_default_list(&lc, origin, rules, n, &local);
        relabel(&local, origin, diag);
        if (rc == 0 && local.n)
            rc = -EINVAL;
    }
    diag_free(&local);
    config_destroy(&lc);
    free(doc);
    return rc;
}

/* ---- validation --------------------------------------------------------- */

/* A point the rule may read: one of the device's map, or, on a device whose
 * kind derives points (any kind but generic), any name: the plugin ABI does
 * not declare derived point names. */
static bool known_point(const struct gw_device_cfg *dev, const char *name)
{
    if (!dev || !dev->profile)
        return true;  /* a kind default, or a device whose map was reported broken */
    if (profile_find_point(dev->profile, name) >= 0)
        return true;
    return dev->kind && strcmp(dev->kind, "generic") != 0;
}

static void check_expr_points(const struct gw_rule_cfg *rule, const char *text, const char *key,
                              const struct gw_device_cfg *dev, struct gw_diag *diag, size_t *problems)
{
    struct gw_expr *e = NULL;
    if (!text || expr_compile(text, &e, NULL, NULL, 0))
        return;  /* reported when parsed */
    const char *const *names;
    size_t n = expr_variables(e, &names);
    for (size_t i = 0; i < n; i++) {
        if (!known_point(dev, names[i])) {
            diag_add(diag, rule->file, rule->line, "rule '%s': %s reads '%s', not a point of device '%s'",
                     rule->id, key, names[i], dev->id);
            (*problems)++;
        }
    }
    expr_free(e);
}

static void check_keys(const struct gw_rule_cfg *rule, struct gw_diag *diag, size_t *problems)
{
    const char *type = gw_rule_type_names[rule->type];
    uint64_t accepts = COMMON | type_keys[rule->type].accepts;
    uint64_t missing = type_keys[rule->type].needs & ~rule->present;
    for (size_t k = 0; k < K_COUNT; k++) {
        if (rule->present & ~accepts & B(k)) {
            diag_add(diag, rule->file, rule->line, "rule '%s': %s does not apply to a %s rule", rule->id,
                     rule_keys[k].name, type);
            (*problems)++;
        }
        if (missing & B(k)) {
            diag_add(diag, rule->file, rule->line, "rule '%s': missing required key '%s' for a %s rule",
                     rule->id, rule_keys[k].name, type);
            (*problems)++;
        }
    }
    if (rule->type == GW_RULE_COMM_LOSS && (rule->present & B(K_SUPPRESS_WHEN))) {
        diag_add(diag, rule->file, rule->line, "rule '%s': a comm_loss rule cannot be suppressed", rule->id);
        (*problems)++;
    }
}

#define PROBLEM(...) (diag_add(diag, rule->file, rule->line, __VA_ARGS__), (*problems)++)

static void check_values(const struct gw_rule_cfg *rule, struct gw_diag *diag, size_t *problems)
{
    uint64_t p = rule->present;
    switch (rule->type) {
    case GW_RULE_LIMIT:
        if (!rule->has_high && !rule->has_low && !(p & (B(K_HIGH) | B(K_LOW))))
            PROBLEM("rule '%s': a limit rule needs high and/or low", rule->id);
        else if (rule->has_high && rule->has_low && rule->low >= rule->high)
            PROBLEM("rule '%s': low %g must be below high %g", rule->id, rule->low, rule->high);
        break;
    case GW_RULE_STATE:
        if (!rule->n_states)
            PROBLEM("rule '%s': a state rule needs states = [ ... ]", rule->id);
        break;
    case GW_RULE_RATE:
        if ((p & B(K_RATE)) && rule->rate_per_min <= 0)
            PROBLEM("rule '%s': rate_per_min must be above 0", rule->id);
        break;
    case GW_RULE_SPIKE:
        if ((p & B(K_JUMP)) && rule->jump <= 0)
            PROBLEM("rule '%s': jump must be above 0", rule->id);
        else if ((p & B(K_TOLERANCE)) && rule->tolerance >= rule->jump)
            PROBLEM("rule '%s': tolerance %g must be below jump %g", rule->id, rule->tolerance, rule->jump);
        break;
    case GW_RULE_FLATLINE:
        if ((p & B(K_WINDOW)) && rule->window_s <= 0)
            PROBLEM("rule '%s': window_s must be above 0", rule->id);
        break;
    case GW_RULE_SCHEDULE:
        if (!(p & B(K_POINT)) == !(p & B(K_EXPR)))
            PROBLEM("rule '%s': a schedule rule needs either point (running when not 0) or expr (running when true)",
                    rule->id);
        if ((p & B(K_START)) && (p & B(K_END)) && rule->start_min >= 0 && rule->start_min == rule->end_min)
            PROBLEM("rule '%s': start and end must differ", rule->id);
        break;
    case GW_RULE_MAINTENANCE:
        if ((p & B(K_INTERVAL)) && rule->interval <= 0)
            PROBLEM("rule '%s': interval must be above 0", rule->id);
        break;
    case GW_RULE_BASELINE:
        if (!(p & (B(K_SIGMA) | B(K_PERCENT))))
            PROBLEM("rule '%s': a baseline rule needs sigma and/or percent", rule->id);
        break;
    default:
        break;
    }
}

size_t rules_config_validate(const struct gw_rule_cfg *rule, const struct gw_device_cfg *dev,
                             struct gw_diag *diag)
{
    size_t problems = 0;
    if (rule->type < 0 || rule->type >= GW_RULE_TYPE_COUNT || !rule->id)
        return 0;  /* reported when parsed */
    check_keys(rule, diag, &problems);
    check_values(rule, diag, &problems);
    if (rule->point && !known_point(dev, rule->point)) {
        diag_add(diag, rule->file, rule->line, "rule '%s': device '%s' has no point '%s'", rule->id,
                 rule->device_id, rule->point);
        problems++;
    }
    check_expr_points(rule, rule->expr, "expr", dev, diag, &problems);
    check_expr_points(rule, rule->suppress_when, "suppress_when", dev, diag, &problems);
    return problems;
}

void rules_config_check(const struct gw_config *cfg, struct gw_diag *diag)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct gw_rule_cfg *rule = &cfg->rules[i];
        if (!rule->id || !rule->device_id)
            continue;  /* reported */
        for (size_t j = 0; j < i; j++) {
            const struct gw_rule_cfg *o = &cfg->rules[j];
            if (o->id && o->device_id && strcmp(o->id, rule->id) == 0 && strcmp(o->device_id, rule->device_id) == 0)
                diag_add(diag, rule->file, rule->line, "rule '%s' is defined twice for device '%s' (first at line %d)",
                         rule->id, rule->device_id, o->line);
        }
        const struct gw_device_cfg *dev = config_find_device(cfg, rule->device_id);
        if (!dev)
            diag_add(diag, rule->file, rule->line, "rule '%s': unknown device '%s'", rule->id, rule->device_id);
        else if (rule->type >= 0)
            rules_config_validate(rule, dev, diag);
    }
}

/* ---- copies ------------------------------------------------------------- */

static int copy_string(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    return !src || (*dst = strdup(src)) ? 0 : -ENOMEM;
}

static int copy_states(struct gw_rule_cfg *dst, const struct gw_rule_cfg *src)
{
    free(dst->states);
    dst->states = NULL;
    dst->n_states = 0;
    if (!src->n_states)
        return 0;
    if (!(dst->states = malloc(src->n_states * sizeof *dst->states)))
        return -ENOMEM;
    memcpy(dst->states, src->states, src->n_states * sizeof *dst->states);
    dst->n_states = src->n_states;
    return 0;
}

/* Copy key k's value(s) from src to dst. */
static int copy_key(struct gw_rule_cfg *dst, const struct gw_rule_cfg *src, size_t k)
{
    const struct schema_key *key = &rule_keys[k];
    switch (k) {
    case K_STATES: return copy_states(dst, src);
    case K_EXPR: return copy_string(&dst->expr, src->expr);
    case K_SUPPRESS_WHEN: return copy_string(&dst->suppress_when, src->suppress_when);
    case K_DAYS: dst->days = src->days; return 0;
    case K_START: dst->start_min = src->start_min; return 0;
    case K_END: dst->end_min = src->end_min; return 0;
    case K_HIGH: dst->has_high = src->has_high; break;
    case K_LOW: dst->has_low = src->has_low; break;
    case K_DESCRIPTION: return 0;
    default: break;
    }
    if (key->type == SCHEMA_STRING)
        return copy_string((char **)((char *)dst + key->offset), *(char *const *)((const char *)src + key->offset));
    memcpy((char *)dst + key->offset, (const char *)src + key->offset, key->size);
    return 0;
}

int rules_config_copy(struct gw_rule_cfg *dst, const struct gw_rule_cfg *src)
{
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->id = dst->device_id = dst->point = dst->message = dst->expr = dst->suppress_when = NULL;
    dst->states = NULL;
    dst->n_states = 0;
    if (copy_string(&dst->id, src->id) || copy_string(&dst->device_id, src->device_id) ||
        copy_string(&dst->point, src->point) || copy_string(&dst->message, src->message) ||
        copy_string(&dst->expr, src->expr) || copy_string(&dst->suppress_when, src->suppress_when) ||
        copy_states(dst, src))
        return -ENOMEM;
    return 0;
}

int rules_config_merge(struct gw_rule_cfg *dst, const struct gw_rule_cfg *over)
{
    for (size_t k = 0; k < K_COUNT; k++) {
        if (k == K_ID || k == K_DEVICE || !(over->present & B(k)))
            continue;
        if (copy_key(dst, over, k))
            return -ENOMEM;
    }
    dst->present |= over->present;
    dst->file = over->file;
    dst->line = over->line;
    return 0;
}

void rules_config_free_one(struct gw_rule_cfg *rule)
{
    schema_free(rule_keys, N(rule_keys), rule);
    free(rule->expr);
    free(rule->suppress_when);
    free(rule->states);
    rule->expr = rule->suppress_when = NULL;
    rule->states = NULL;
}

void rules_config_free(struct gw_rule_cfg *rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++)
        rules_config_free_one(&rules[i]);
    free(rules);
}
