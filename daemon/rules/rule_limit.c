/*
 * Value rules: limit (BACnet OUT_OF_RANGE: a high and/or low limit, the
 * deadband applied on the way back, on- and off-delays) and state (the
 * value is one of a set, e.g. a trip bit or a fault code).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "rule.h"

struct limit_data {
    int side;  /* the limit last crossed: 1 high, -1 low */
};

static int limit_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    return (r->data = calloc(1, sizeof(struct limit_data))) ? 0 : -ENOMEM;
}

/* Beyond a limit, or, while in alarm on that side, not yet back past the
 * deadband. */
static int limit_side(const struct gw_rule_cfg *c, bool active, int side, double v)
{
    if (c->has_high && (v > c->high || (active && side > 0 && v >= c->high - c->deadband)))
        return 1;
    if (c->has_low && (v < c->low || (active && side < 0 && v <= c->low + c->deadband)))
        return -1;
    return 0;
}

static void limit_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    const struct gw_rule_cfg *c = r->cfg;
    struct limit_data *L = r->data;
    double v;
    if (rule_reading(s, c->point, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    if (!L->side && r->alarm.cond && r->alarm.has_limit)  /* restored: which limit it was */
        L->side = c->has_high && r->alarm.limit == c->high ? 1 : -1;
    int side = limit_side(c, r->delay.state, L->side, v);
    if (side)
        L->side = side;
    rule_feed(r, side != 0, t);
    double limit = L->side > 0 ? c->high : L->side < 0 ? c->low : c->has_high ? c->high : c->low;
    rule_note(r, v, limit);
    if (side)
        rule_message(r, "%s %g %s %s limit %g", c->point, v, side > 0 ? "above" : "below",
                     side > 0 ? "high" : "low", limit);
}

static bool in_states(const struct gw_rule_cfg *c, double v)
{
    for (size_t i = 0; i < c->n_states; i++)
        if (fabs(v - c->states[i]) < 1e-9)
            return true;
    return false;
}

static void state_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    const struct gw_rule_cfg *c = r->cfg;
    double v;
    if (rule_reading(s, c->point, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    bool raw = in_states(c, v);
    rule_feed(r, raw, t);
    rule_note(r, v, NAN);
    if (raw)
        rule_message(r, "%s is %g, an alarm state", c->point, v);
}

static void limit_free(struct rule_inst *r)
{
    free(r->data);
}

const struct rule_ops rule_limit_ops = {
    .init = limit_init, .sample = limit_sample, .tick = rule_delay_tick, .free = limit_free,
};

const struct rule_ops rule_state_ops = {
    .sample = state_sample, .tick = rule_delay_tick,
};
