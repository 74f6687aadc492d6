/*
 * Expression rules: an expression over the device's points (expr.h) that
 * is true for on_delay_s, e.g. low delta-T while running:
 *
 *     running and (chw_return_temp - chw_supply_temp) < 3.0
 *
 * An unknown result (an input not good, a point missing from the sample, a
 * division by zero) holds the alarm as it is.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "rule.h"

static int expression_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    struct gw_expr *e = NULL;
    if (expr_compile(r->cfg->expr, &e, NULL, NULL, 0))
        return -ENOMEM;  /* validated: only memory can fail */
    r->data = e;
    return 0;
}

static void expression_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    double v;
    if (expr_eval(r->data, rule_lookup, (void *)s, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    rule_feed(r, v != 0, t);
    rule_note(r, NAN, NAN);
    if (v != 0)
        rule_message(r, "%s", r->cfg->expr);
}

static void expression_free(struct rule_inst *r)
{
    expr_free(r->data);
}

const struct rule_ops rule_expression_ops = {
    .init = expression_init, .sample = expression_sample, .tick = rule_delay_tick, .free = expression_free,
};
