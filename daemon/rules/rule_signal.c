/*
 * Signal rules, which judge how a point moves rather than where it is:
 * rate (change per minute between consecutive good samples beyond a limit),
 * spike (a jump away that comes back within a few samples) and flatline
 * (no change beyond a tolerance for a window: a frozen sensor or a
 * gateway repeating its last value).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "rule.h"

/* Consecutive samples further apart than this many intervals are not
 * compared: the change between them says nothing about a rate. */
#define RATE_MAX_GAP_INTERVALS 3

struct signal {
    bool has_prev;
    double prev;
    int64_t prev_ms;
    /* spike: the level a spike departs from and returns to */
    bool away;
    int away_samples;
    double ref;
    /* flatline: the current run of values within the tolerance */
    double lo, hi;
    int64_t run_start_ms;
};

static int signal_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    return (r->data = calloc(1, sizeof(struct signal))) ? 0 : -ENOMEM;
}

static void signal_free(struct rule_inst *r)
{
    free(r->data);
}

/* ---- rate --------------------------------------------------------------- */

static void rate_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct signal *d = r->data;
    double v;
    if (rule_reading(s, r->cfg->point, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    int64_t gap = t - d->prev_ms, max_gap = RATE_MAX_GAP_INTERVALS * r->dev->interval_ms;
    bool comparable = d->has_prev && gap > 0 && gap <= (max_gap > 60000 ? max_gap : 60000);
    double rate = comparable ? (v - d->prev) / ((double)gap / 60000.0) : NAN;
    d->has_prev = true;
    d->prev = v;
    d->prev_ms = t;
    if (!comparable) {
        delay_unknown(&r->delay);
        return;
    }
    bool raw = fabs(rate) > r->cfg->rate_per_min;
    rule_feed(r, raw, t);
    rule_note(r, rate, r->cfg->rate_per_min);
    if (raw)
        rule_message(r, "%s changing by %+.3g per minute (limit %g)", r->cfg->point, rate, r->cfg->rate_per_min);
}

/* ---- spike -------------------------------------------------------------- */

static double spike_tolerance(const struct gw_rule_cfg *c)
{
    return (c->present & rules_config_key_bit("tolerance")) ? c->tolerance : c->jump / 2;
}

/* True if v completes a spike. */
static bool spike_step(struct signal *d, const struct gw_rule_cfg *c, double v)
{
    if (!d->has_prev) {
        d->has_prev = true;
        d->ref = v;
        return false;
    }
    if (!d->away) {
        if (fabs(v - d->ref) > c->jump) {
            d->away = true;
            d->away_samples = 1;
            d->prev = v;  /* the farthest point of the excursion */
        } else {
            d->ref = v;  /* the level follows slow changes */
        }
        return false;
    }
    if (fabs(v - d->ref) <= spike_tolerance(c)) {
        d->away = false;
        d->ref = v;
        return true;
    }
    if (fabs(v - d->ref) > fabs(d->prev - d->ref))
        d->prev = v;
    if (++d->away_samples > c->samples) {
        d->away = false;  /* it stayed: a step, not a spike */
        d->ref = v;
    }
    return false;
}

static void spike_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct signal *d = r->data;
    double v;
    if (rule_reading(s, r->cfg->point, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    double ref = d->ref, peak = d->prev;
    bool raw = spike_step(d, r->cfg, v);
    rule_feed(r, raw, t);
    if (!raw)
        return;
    rule_note(r, peak, r->cfg->jump);
    rule_message(r, "%s spiked from %g to %g and back (jump limit %g)", r->cfg->point, ref, peak, r->cfg->jump);
}

/* ---- flatline ----------------------------------------------------------- */

static void flatline_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct signal *d = r->data;
    double v;
    if (rule_reading(s, r->cfg->point, &v)) {
        delay_unknown(&r->delay);
        return;
    }
    double lo = d->has_prev ? fmin(d->lo, v) : v, hi = d->has_prev ? fmax(d->hi, v) : v;
    if (!d->has_prev || hi - lo > r->cfg->tolerance) {
        /* An alarm restored at start goes on as long as the value does not
         * move: its run is taken to be a window old. */
        bool restored = !d->has_prev && r->delay.state;
        d->has_prev = true;
        d->lo = d->hi = v;
        d->run_start_ms = restored ? t - (int64_t)llround(r->cfg->window_s * 1000) : t;
    } else {
        d->lo = lo;
        d->hi = hi;
    }
    double run_s = (double)(t - d->run_start_ms) / 1000;
    bool raw = run_s >= r->cfg->window_s;
    rule_feed(r, raw, t);
    rule_note(r, v, r->cfg->tolerance);
    if (raw)
        rule_message(r, "%s unchanged at %g (within %g) for %.0f s", r->cfg->point, v, r->cfg->tolerance, run_s);
}

const struct rule_ops rule_rate_ops = {
    .init = signal_init, .sample = rate_sample, .tick = rule_delay_tick, .free = signal_free,
};

const struct rule_ops rule_spike_ops = {
    .init = signal_init, .sample = spike_sample, .tick = rule_delay_tick, .free = signal_free,
};

const struct rule_ops rule_flatline_ops = {
    .init = signal_init, .sample = flatline_sample, .tick = rule_delay_tick, .free = signal_free,
};
