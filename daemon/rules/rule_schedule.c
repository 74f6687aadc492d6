/*
 * Schedule rules: equipment running outside its allowed hours and days,
 * e.g. a chiller plant allowed on workdays 07:30-18:00 with 30 minutes'
 * grace at either end.  Running is a point that is not 0 (a run status)
 * or an expression that is true (e.g. `power_kw > 5`).  Windows are in the
 * site's local time; one that ends at or before its start ends the next
 * day (22:00-06:00 on fri covers Friday night into Saturday).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "local_time.h"
#include "rule.h"

struct schedule {
    struct gw_expr *running_expr;  /* or NULL: the point */
    bool known, running;
    double value;
};

static int schedule_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    struct schedule *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    r->data = d;
    if (r->cfg->expr && expr_compile(r->cfg->expr, &d->running_expr, NULL, NULL, 0))
        return -ENOMEM;  /* validated: only memory can fail */
    return 0;
}

static void schedule_judge(struct rule_inst *r, int64_t t)
{
    const struct gw_rule_cfg *c = r->cfg;
    struct schedule *d = r->data;
    bool allowed = local_in_window(t, c->days, c->start_min, c->end_min, (int64_t)llround(c->grace_s * 1000));
    bool raw = d->running && !allowed;
    rule_feed(r, raw, t);
    rule_note(r, d->value, NAN);
    if (raw)
        rule_message(r, "running outside its schedule (%02d:%02d-%02d:%02d)", c->start_min / 60,
                     c->start_min % 60, c->end_min / 60, c->end_min % 60);
}

static void schedule_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct schedule *d = r->data;
    double v;
    int rc = d->running_expr ? expr_eval(d->running_expr, rule_lookup, (void *)s, &v)
                             : rule_reading(s, r->cfg->point, &v);
    if (rc) {
        d->known = false;
        delay_unknown(&r->delay);
        return;
    }
    d->known = true;
    d->running = v != 0;
    d->value = v;
    schedule_judge(r, t);
}

/* The window may close while the equipment runs and no sample comes. */
static void schedule_tick(struct rule_inst *r, int64_t now_ms)
{
    const struct schedule *d = r->data;
    if (d->known)
        schedule_judge(r, now_ms);
    else
        rule_delay_tick(r, now_ms);
}

static void schedule_free(struct rule_inst *r)
{
    struct schedule *d = r->data;
    if (d)
        expr_free(d->running_expr);
    free(d);
}

const struct rule_ops rule_schedule_ops = {
    .init = schedule_init, .sample = schedule_sample, .tick = schedule_tick, .free = schedule_free,
};
