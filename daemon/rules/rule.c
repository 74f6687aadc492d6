/*
 * What the rule types share: delays, readings, notes for the alarm.
 */
#include "rule.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sample.h"

bool delay_feed(struct delay *d, bool raw, int64_t t, int64_t on_ms, int64_t off_ms)
{
    d->known = true;
    if (raw == d->state) {
        d->pending = false;
        return d->state;
    }
    if (!d->pending) {
        d->pending = true;
        d->since_ms = t;
    }
    return delay_tick(d, t, on_ms, off_ms);
}

void delay_unknown(struct delay *d)
{
    d->known = false;
}

bool delay_tick(struct delay *d, int64_t now_ms, int64_t on_ms, int64_t off_ms)
{
    if (d->known && d->pending && now_ms - d->since_ms >= (d->state ? off_ms : on_ms)) {
        d->state = !d->state;
        d->pending = false;
        d->began_ms = d->since_ms;
    }
    return d->state;
}

const struct rule_ops *rule_ops_for(int type)
{
    static const struct rule_ops *const ops[GW_RULE_TYPE_COUNT] = {
        [GW_RULE_LIMIT] = &rule_limit_ops,
        [GW_RULE_STATE] = &rule_state_ops,
        [GW_RULE_COMM_LOSS] = &rule_comm_loss_ops,
        [GW_RULE_STALE] = &rule_stale_ops,
        [GW_RULE_RATE] = &rule_rate_ops,
        [GW_RULE_SPIKE] = &rule_spike_ops,
        [GW_RULE_FLATLINE] = &rule_flatline_ops,
        [GW_RULE_SCHEDULE] = &rule_schedule_ops,
        [GW_RULE_MAINTENANCE] = &rule_maintenance_ops,
        [GW_RULE_EXPRESSION] = &rule_expression_ops,
        [GW_RULE_BASELINE] = &rule_baseline_ops,
    };
    return type >= 0 && type < GW_RULE_TYPE_COUNT ? ops[type] : NULL;
}

int rule_reading(const struct gw_sample *s, const char *name, double *value)
{
    const struct gw_reading *r = sample_find(s, name);
    if (!r)
        return -ENOENT;
    if (r->quality != GW_QUALITY_GOOD || !isfinite(r->value))
        return -EAGAIN;
    *value = r->value;
    return 0;
}

int rule_lookup(void *sample, const char *name, double *value)
{
    return rule_reading(sample, name, value);
}

int64_t rule_on_ms(const struct rule_inst *r)
{
    return (int64_t)llround(r->cfg->on_delay_s * 1000);
}

int64_t rule_off_ms(const struct rule_inst *r)
{
    return (int64_t)llround(r->cfg->off_delay_s * 1000);
}

static void delay_to_alarm(struct rule_inst *r)
{
    alarm_condition(&r->alarm, r->delay.state ? 1 : 0, r->cfg->severity, r->delay.began_ms);
}

void rule_feed(struct rule_inst *r, bool raw, int64_t t)
{
    delay_feed(&r->delay, raw, t, rule_on_ms(r), rule_off_ms(r));
    delay_to_alarm(r);
}

void rule_delay_tick(struct rule_inst *r, int64_t now_ms)
{
    delay_tick(&r->delay, now_ms, rule_on_ms(r), rule_off_ms(r));
    delay_to_alarm(r);
}

void rule_note(struct rule_inst *r, double value, double limit)
{
    r->alarm.has_value = isfinite(value);
    r->alarm.value = r->alarm.has_value ? value : 0;
    r->alarm.has_limit = isfinite(limit);
    r->alarm.limit = r->alarm.has_limit ? limit : 0;
}

void rule_message(struct rule_inst *r, const char *fmt, ...)
{
    if (r->cfg->message) {
        snprintf(r->alarm.message, sizeof r->alarm.message, "%s", r->cfg->message);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->alarm.message, sizeof r->alarm.message, fmt, ap);
    va_end(ap);
}
