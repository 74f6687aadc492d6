/*
 * Rule configuration: the keys of a rule (`rules = ( { ... } )` in the
 * site's configuration, or a kind plugin's default_rules), their parsing
 * and validation.  Every problem is reported as FILE:LINE: message.
 *
 * A site rule names its device.  A site rule without `type` overrides the
 * kind default rule of the same id for that device: only the keys it gives
 * change (see defaults.c); such rules are checked once the kinds are known
 * (rules_check in rules.h).
 */
#ifndef GW_RULES_CONFIG_H
#define GW_RULES_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "diag.h"

struct gw_config;
struct gw_device_cfg;
struct schema_ctx;

enum gw_severity { GW_SEVERITY_CRITICAL, GW_SEVERITY_HIGH, GW_SEVERITY_MEDIUM, GW_SEVERITY_LOW };
extern const char *const gw_severity_names[4];

enum gw_rule_type {
    GW_RULE_LIMIT,       /* high/low limits, deadband, delays (BACnet OUT_OF_RANGE) */
    GW_RULE_STATE,       /* value in a set */
    GW_RULE_COMM_LOSS,   /* no good value of any point for N intervals */
    GW_RULE_STALE,       /* no good value of one point for N intervals */
    GW_RULE_RATE,        /* change per minute beyond a limit */
    GW_RULE_SPIKE,       /* a jump that comes back within N samples */
    GW_RULE_FLATLINE,    /* unchanged within a tolerance for a window */
    GW_RULE_SCHEDULE,    /* running outside allowed hours and days */
    GW_RULE_MAINTENANCE, /* run hours or starts since the last service */
    GW_RULE_EXPRESSION,  /* an expression over the device's points */
    GW_RULE_BASELINE,    /* daily total against the same weekday of past weeks */
};
#define GW_RULE_TYPE_COUNT 11
extern const char *const gw_rule_type_names[GW_RULE_TYPE_COUNT];

enum gw_rule_measure { GW_MEASURE_COUNTER, GW_MEASURE_RUN_HOURS, GW_MEASURE_STARTS };
enum gw_rule_direction { GW_DIRECTION_BOTH, GW_DIRECTION_ABOVE, GW_DIRECTION_BELOW };

struct gw_rule_cfg {
    char *id, *device_id, *point, *message;
    char *expr;                /* expression rules; schedule rules' "running" test */
    char *suppress_when;       /* an expression: while true, the alarm is suppressed */
    int type;                  /* enum gw_rule_type; -1: not given (an override) */
    int severity;              /* enum gw_severity */
    bool enabled, latching;
    bool has_high, has_low;
    double high, low, deadband, on_delay_s, off_delay_s;
    double *states;            /* state rules: values meaning "in alarm" */
    size_t n_states;
    double intervals;          /* comm_loss, stale: the device's intervals without a good value */
    double rate_per_min;       /* rate */
    double jump;               /* spike */
    int samples;               /* spike: the most samples a spike may last */
    double tolerance;          /* spike: how close "back" is; flatline: how close "unchanged" is */
    double window_s;           /* flatline */
    int days;                  /* schedule: bit (1 << tm_wday) per allowed day */
    int start_min, end_min;    /* schedule: minutes after local midnight; end 1440 is 24:00 */
    double grace_s;            /* schedule: the window widened at both ends */
    int measure;               /* maintenance: enum gw_rule_measure */
    double interval;           /* maintenance: service interval, in the measure's unit */
    double remind_at;          /* maintenance: fraction of interval for the reminder; 0 none */
    double sigma, percent;     /* baseline: 0 when not used */
    int weeks;                 /* baseline: same weekday over this many previous weeks */
    int direction;             /* baseline: enum gw_rule_direction */
    double min_coverage;       /* baseline: fraction of a day that must have been read */
    double min_deviation;      /* baseline: the least deviation that counts, in the point's unit */
    uint64_t present;          /* bit per key given (rules_config_key_bit) */
    const char *file;          /* where it was defined (borrowed) */
    int line;
};

/* config_load's `rules` key: parse the list into cfg->rules.  Returns 0,
 * -EINVAL after reporting, or -ENOMEM. */
int rules_config_parse(const config_setting_t *list, struct gw_config *cfg, struct schema_ctx *ctx);

/* config_load's cross-checks, once devices are known: duplicates, devices,
 * and every rule that has a type (points, expressions, the keys each type
 * needs).  Rules without a type are checked by rules_check. */
void rules_config_check(const struct gw_config *cfg, struct gw_diag *diag);

/* Parse a kind's default rules: a libconfig list "( { ... }, ... )".
 * Problems are reported as origin:LINE (LINE within text).  Returns 0,
 * -EINVAL or -ENOMEM; free *rules with rules_config_free in every case. */
int rules_config_parse_text(const char *text, const char *origin, struct gw_rule_cfg **rules,
                            size_t *n, struct gw_diag *diag);

/* Check one complete rule: the keys its type needs and allows, and its
 * points and expressions against dev (NULL: a kind default, not yet for a
 * device).  Reports at rule->file:rule->line; returns the problems found. */
size_t rules_config_validate(const struct gw_rule_cfg *rule, const struct gw_device_cfg *dev,
                             struct gw_diag *diag);

/* A deep copy.  Returns 0 or -ENOMEM (dst then holds what was copied;
 * free it with rules_config_free_one). */
int rules_config_copy(struct gw_rule_cfg *dst, const struct gw_rule_cfg *src);

/* Give dst every key present in over.  Returns 0 or -ENOMEM. */
int rules_config_merge(struct gw_rule_cfg *dst, const struct gw_rule_cfg *over);

void rules_config_free_one(struct gw_rule_cfg *rule);
void rules_config_free(struct gw_rule_cfg *rules, size_t n);

/* The bit of key name in gw_rule_cfg.present (0 if no such key). */
uint64_t rules_config_key_bit(const char *name);

#endif
