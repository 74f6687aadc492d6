/*
 * Silence rules: comm_loss (no good value of any point of the device for
 * `intervals` of its polling interval: a FAULT, which suppresses the
 * device's other alarms) and stale (the same for one point).  Both are
 * judged on samples and, when none come, on ticks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "rule.h"

struct silence {
    int64_t last_good_ms;  /* of the device or the point; the engine's start at first */
    bool seen_good;        /* since the engine started */
};

/* A good value at t: the first one counts whatever its time, since the
 * engine's start is on the wall clock and the device's may be behind it. */
static void saw_good(struct silence *d, int64_t t)
{
    if (t >= d->last_good_ms || !d->seen_good) {
        d->last_good_ms = t;
        d->seen_good = true;
    }
}

static int silence_init(struct rule_inst *r, int64_t now_ms)
{
    struct silence *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->last_good_ms = now_ms;
    r->data = d;
    return 0;
}

static double silence_limit_ms(const struct rule_inst *r)
{
    return r->cfg->intervals * (double)r->dev->interval_ms;
}

static void silence_judge(struct rule_inst *r, int64_t t)
{
    const struct silence *d = r->data;
    double quiet_ms = (double)(t - d->last_good_ms), limit_ms = silence_limit_ms(r);
    /* An alarm restored at start holds until a good value is seen. */
    bool raw = quiet_ms >= limit_ms || (r->delay.state && !d->seen_good);
    rule_feed(r, raw, t);
    rule_note(r, quiet_ms / 1000, limit_ms / 1000);
    if (!raw)
        return;
    if (r->cfg->point)
        rule_message(r, "no good value of %s for %.0f s (limit %g s)", r->cfg->point, quiet_ms / 1000,
                     limit_ms / 1000);
    else
        rule_message(r, "no good value from the device for %.0f s (limit %g s)", quiet_ms / 1000,
                     limit_ms / 1000);
}

static bool any_good(const struct gw_sample *s)
{
    for (size_t i = 0; i < s->n_readings; i++)
        if (s->readings[i].quality == GW_QUALITY_GOOD)
            return true;
    return false;
}

static void comm_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct silence *d = r->data;
    if (any_good(s))
        saw_good(d, t);
    silence_judge(r, t);
}

static void stale_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct silence *d = r->data;
    double v;
    if (rule_reading(s, r->cfg->point, &v) == 0)
        saw_good(d, t);
    silence_judge(r, t);
}

static void silence_tick(struct rule_inst *r, int64_t now_ms)
{
    silence_judge(r, now_ms);
}

static void silence_free(struct rule_inst *r)
{
    free(r->data);
}

const struct rule_ops rule_comm_loss_ops = {
    .init = silence_init, .sample = comm_sample, .tick = silence_tick, .free = silence_free,
};

const struct rule_ops rule_stale_ops = {
    .init = silence_init, .sample = stale_sample, .tick = silence_tick, .free = silence_free,
};
