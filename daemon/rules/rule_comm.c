/*
 * Silence rules: comm_loss (no good value of any point of the device for
 * `intervals` of its polling interval: a FAULT, which suppresses the
 * device's other alarms) and stale (the same for one point of a device
 * that answers).  Both are judged on samples and, when none come, on
 * ticks.  A device that answers nothing is comm_loss's subject, not its
 * points': stale holds while the device's last sample had no good value,
 * so that a comm loss is one alarm, not one more per stale rule.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "rule.h"

struct silence {
    int64_t last_good_ms;  /* of the device or the point; the engine's start at first */
    bool seen_good;        /* since the engine started */
    bool answering;        /* stale: the device's last sample had a good value */
    int64_t judged_ms;     /* the time last judged */
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

/* Judged at t, with a good value (good) or without.  Silence never gets
 * shorter without a good value: a sample that failed is stamped when it
 * was read, which may be a moment before the tick that judged last, and
 * must not clear the alarm that tick raised (only to raise it again at
 * the next). */
static void silence_judge(struct rule_inst *r, int64_t t, bool good)
{
    struct silence *d = r->data;
    if (!good && t < d->judged_ms)
        t = d->judged_ms;
    d->judged_ms = t;
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
    bool good = any_good(s);
    if (good)
        saw_good(d, t);
    silence_judge(r, t, good);
}

static void stale_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct silence *d = r->data;
    double v;
    bool good = rule_reading(s, r->cfg->point, &v) == 0;
    if (good)
        saw_good(d, t);
    d->answering = any_good(s);
    if (d->answering)
        silence_judge(r, t, good);
}

static void silence_tick(struct rule_inst *r, int64_t now_ms)
{
    silence_judge(r, now_ms, false);
}

static void stale_tick(struct rule_inst *r, int64_t now_ms)
{
    const struct silence *d = r->data;
    if (d->answering)
        silence_judge(r, now_ms, false);
}

static void silence_free(struct rule_inst *r)
{
    free(r->data);
}

const struct rule_ops rule_comm_loss_ops = {
    .init = silence_init, .sample = comm_sample, .tick = silence_tick, .free = silence_free,
};

const struct rule_ops rule_stale_ops = {
    .init = silence_init, .sample = stale_sample, .tick = stale_tick, .free = silence_free,
};
