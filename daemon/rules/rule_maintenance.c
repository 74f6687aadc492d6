/*
 * Maintenance rules: service due after `interval` run hours or starts since
 * the last service, with a reminder at remind_at (80 %) of it.  What is
 * counted (measure):
 *   counter    the increase of a cumulative point (a run-hours or starts
 *              register); a decrease (a reset, a replaced controller) is
 *              skipped, not subtracted;
 *   run_hours  hours during which the point (a run status) was not 0;
 *   starts     changes of the point from 0 to not 0.
 * The count, and who did the last service and when, persist across
 * restarts; rules_service_done starts the count again.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rule.h"

#define MAINT_MAX_GAP_INTERVALS 3

struct maintenance {
    double count;
    bool has_prev;
    double prev;
    int64_t prev_ms;
    int64_t serviced_ms;
    char serviced_by[ALARM_USER_MAX];
};

static int maintenance_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    return (r->data = calloc(1, sizeof(struct maintenance))) ? 0 : -ENOMEM;
}

static const char *measure_unit(int measure)
{
    return measure == GW_MEASURE_RUN_HOURS ? " h" : measure == GW_MEASURE_STARTS ? " starts" : "";
}

/* Add what v at t says to the count. */
static void maintenance_count(struct rule_inst *r, struct maintenance *d, double v, int64_t t)
{
    int64_t max_gap = MAINT_MAX_GAP_INTERVALS * r->dev->interval_ms;
    double before = d->count;
    switch (r->cfg->measure) {
    case GW_MEASURE_COUNTER:
        if (d->has_prev && v > d->prev)
            d->count += v - d->prev;
        break;
    case GW_MEASURE_RUN_HOURS:
        if (d->has_prev && d->prev != 0 && t > d->prev_ms && t - d->prev_ms <= (max_gap > 60000 ? max_gap : 60000))
            d->count += (double)(t - d->prev_ms) / 3600000.0;
        break;
    case GW_MEASURE_STARTS:
        if (d->has_prev && d->prev == 0 && v != 0)
            d->count += 1;
        break;
    }
    d->has_prev = true;
    d->prev = v;
    d->prev_ms = t;
    r->dirty |= d->count != before || r->cfg->measure == GW_MEASURE_COUNTER;
}

static void maintenance_judge(struct rule_inst *r, int64_t t)
{
    const struct gw_rule_cfg *c = r->cfg;
    const struct maintenance *d = r->data;
    double remind = c->remind_at * c->interval;
    int stage = d->count >= c->interval ? 2 : c->remind_at > 0 && d->count >= remind ? 1 : 0;
    int severity = stage == 2 ? c->severity : GW_SEVERITY_LOW;
    alarm_condition(&r->alarm, stage, severity, t);
    rule_note(r, d->count, stage == 1 ? remind : c->interval);
    const char *unit = measure_unit(c->measure);
    if (stage == 2)
        rule_message(r, "service due: %.0f%s since the last service (interval %g%s)", d->count, unit,
                     c->interval, unit);
    else if (stage == 1)
        rule_message(r, "service due soon: %.0f%s of %g%s since the last service (%.0f %%)", d->count, unit,
                     c->interval, unit, 100 * d->count / c->interval);
}

static void maintenance_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    double v;
    if (rule_reading(s, r->cfg->point, &v))
        return;
    maintenance_count(r, r->data, v, t);
    maintenance_judge(r, t);
}

static void maintenance_service(struct rule_inst *r, const char *user, int64_t now_ms)
{
    struct maintenance *d = r->data;
    d->count = 0;
    d->serviced_ms = now_ms;
    snprintf(d->serviced_by, sizeof d->serviced_by, "%s", user);
    r->dirty = true;
    alarm_reset(&r->alarm, user, now_ms);
}

static int maintenance_save(const struct rule_inst *r, cJSON *data)
{
    const struct maintenance *d = r->data;
    if (!cJSON_AddNumberToObject(data, "count", d->count) ||
        !cJSON_AddStringToObject(data, "serviced_by", d->serviced_by) ||
        !cJSON_AddNumberToObject(data, "serviced_ms", (double)d->serviced_ms))
        return -ENOMEM;
    if (d->has_prev && r->cfg->measure == GW_MEASURE_COUNTER && !cJSON_AddNumberToObject(data, "prev", d->prev))
        return -ENOMEM;
    return 0;
}

static void maintenance_load(struct rule_inst *r, const cJSON *data)
{
    struct maintenance *d = r->data;
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(data, "count");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(data, "serviced_by");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(data, "serviced_ms");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(data, "prev");
    if (cJSON_IsNumber(count) && isfinite(count->valuedouble) && count->valuedouble >= 0)
        d->count = count->valuedouble;
    if (cJSON_IsString(by))
        snprintf(d->serviced_by, sizeof d->serviced_by, "%s", by->valuestring);
    if (cJSON_IsNumber(at))
        d->serviced_ms = (int64_t)at->valuedouble;
    if (cJSON_IsNumber(prev) && r->cfg->measure == GW_MEASURE_COUNTER) {
        d->has_prev = true;  /* what ran while the daemon was down counts too */
        d->prev = prev->valuedouble;
    }
}

static void maintenance_free(struct rule_inst *r)
{
    free(r->data);
}

const struct rule_ops rule_maintenance_ops = {
    .init = maintenance_init, .sample = maintenance_sample, .save = maintenance_save,
    .load = maintenance_load, .service = maintenance_service, .free = maintenance_free,
};

/* For rules_last_service. */
void maintenance_last_service(const struct rule_inst *r, const char **by, int64_t *at_ms)
{
    const struct maintenance *d = r->data;
    *by = d->serviced_by;
    *at_ms = d->serviced_ms;
}
