#include "counter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kind.h"

/* A delta may be at most this much above what the rated figure allows. */
#define CAP_MARGIN 1.5
/* A float counter (no wrap) may step back by its own rounding: float32
 * carries 24 bits, so about 6e-8 of its value. */
#define FLOAT_NOISE 1e-6
/* How long a value may have shown before the kind first saw it (at the
 * first reading, after a reset, after a jump): its first step is bounded
 * by the cap over this much more time.  A register's step is far below
 * an hour at the rated rate, so a real first step is never taken for a
 * glitch; a glitch at the first step up to that size is not caught. */
#define UNKNOWN_HISTORY_S 3600.0

/* The plausibility cap of a counter by its unit: the param giving the
 * most it can rise per hour, in units of that param per hour. */
static const struct {
    const char *unit;
    const char *param;      /* NULL: the counter counts hours */
    double per_param;
} caps[] = {
    { "kWh", "rated_kw", 1.0 },       { "kvarh", "rated_kw", 1.0 },
    { "kVArh", "rated_kw", 1.0 },     { "kVAh", "rated_kw", 1.0 },
    { "Wh", "rated_kw", 1000.0 },     { "MWh", "rated_kw", 0.001 },
    { "m3", "max_flow_m3h", 1.0 },    { "L", "max_flow_m3h", 1000.0 },
    { "h", NULL, 1.0 },
};

static double cap_per_h(const struct gw_device_info *dev, const char *unit)
{
    for (size_t i = 0; unit && i < sizeof caps / sizeof *caps; i++) {
        if (strcmp(caps[i].unit, unit) != 0)
            continue;
        double rate = caps[i].param ? kind_param(dev, caps[i].param, 0.0) : 1.0;
        return rate > 0.0 ? CAP_MARGIN * rate * caps[i].per_param : 0.0;
    }
    return 0.0;
}

int counters_init(struct counters *set, const struct gw_host *host, const struct gw_device_info *dev,
                  const char *device_id)
{
    memset(set, 0, sizeof *set);
    set->host = host;
    set->device_id = device_id;
    size_t n = 0;
    for (size_t i = 0; i < dev->n_points; i++)
        n += dev->points[i].is_counter != 0;
    if (n && !(set->items = calloc(n, sizeof *set->items)))
        return -ENOMEM;
    for (size_t i = 0; i < dev->n_points; i++) {
        const struct gw_point_info *p = &dev->points[i];
        if (!p->is_counter)
            continue;
        struct counter *c = &set->items[set->n++];
        c->name = p->name;
        c->unit = p->unit ? p->unit : "";
        c->wrap = p->wrap > 0.0 ? p->wrap : 0.0;
        c->cap_per_h = cap_per_h(dev, p->unit);
        c->delta_name = kind_concat(p->name, "_delta");
        c->reset_name = kind_concat(p->name, "_reset");
        if (!c->delta_name || !c->reset_name)
            return -ENOMEM;
    }
    return 0;
}

/* A difference of two decoded readings without the binary noise of the
 * subtraction: readings are decimals (raw x scale) of far fewer than 14
 * significant digits, so rounding to 14 digits of the largest operand
 * gives back the decimal step (0.1, not 0.0999999999767). */
static double tidy(double d, double magnitude)
{
    if (!isfinite(d) || !isfinite(magnitude))
        return d;
    if (magnitude < 1.0)
        magnitude = 1.0;
    int decimals = 14 - ((int)floor(log10(magnitude)) + 1);
    if (decimals <= 0)
        return d;
    double grid = pow(10.0, decimals);
    return round(d * grid) / grid;
}

/* How far the counter went from `from` to `to`: across a rollover if it
 * went back by more than half the wrap; a float's rounding is no step. */
static double forward(const struct counter *c, double from, double to)
{
    double d = to - from;
    if (d < 0.0 && c->wrap > 0.0 && -d > c->wrap / 2.0)
        d += c->wrap;
    if (d < 0.0 && c->wrap == 0.0 && -d <= FLOAT_NOISE * fabs(from))
        d = 0.0;
    return tidy(d, fmax(fmax(fabs(from), fabs(to)), fabs(d)));
}

/* Whether a rise of d can have accrued in window_s.  The window starts at
 * the poll before the reference value first showed, not at the last poll:
 * a coarse register (0.1 kWh on a small pump) moves a whole step after
 * several polls without change, and the time since the step before is
 * what bounds it. */
static bool plausible(const struct counter *c, double d, double window_s)
{
    return c->cap_per_h <= 0.0 || d <= c->cap_per_h * window_s / 3600.0;
}

static void result(struct counter *c, enum counter_outcome outcome, double delta, double span_s,
                   enum gw_quality q)
{
    bool read_good = c->last.read_good;
    c->last = (struct counter_result){
        .outcome = outcome, .delta = delta, .span_s = span_s, .q = q, .read_good = read_good,
    };
}

/* Take v as the reference reading; gap_s is the time since the poll
 * before it, which starts the window of the next rise. */
static void accept(struct counter *c, double v, double d, double gap_s)
{
    if (d > 0.0) {
        c->base = v;
        c->window_s = gap_s;
    }
    c->since_ref_s = 0.0;
    c->has_pending = false;
}

static void went_back(struct counters *set, struct counter *c, double v)
{
    set->host->log(GW_LOG_WARNING,
                   "device '%s': counter '%s' went back from %.15g to %.15g %s: meter reset or replaced; "
                   "no delta for this interval, counting on from %.15g",
                   set->device_id, c->name, c->base, v, c->unit, v);
    result(c, COUNTER_RESET, NAN, c->since_ref_s, GW_QUALITY_GOOD);
    c->base = v;
    c->window_s = c->since_ref_s + UNKNOWN_HISTORY_S;
    c->since_ref_s = 0.0;
    c->has_pending = false;
}

/* A rise over the cap: kept as pending, so that the next reading tells a
 * glitch (back near base: counted from base) from a real jump (stays up:
 * counted from the jump on). */
static void over_cap(struct counters *set, struct counter *c, double v, double d)
{
    if (!c->has_pending)
        set->host->log(GW_LOG_WARNING,
                       "device '%s': counter '%s' rose %.15g %s in %.0f s, more than its cap of %.15g %s/h "
                       "allows: delta uncertain",
                       set->device_id, c->name, d, c->unit, c->window_s, c->cap_per_h, c->unit);
    result(c, COUNTER_NOT_GOOD, d, c->since_ref_s, GW_QUALITY_UNCERTAIN);
    c->has_pending = true;
    c->pending = v;
    c->pending_gap_s = c->since_ref_s;
    c->since_pending_s = 0.0;
}

/* Whether v confirms the pending jump; if so it is counted from there. */
static bool confirm_pending(struct counters *set, struct counter *c, double v)
{
    double dp = forward(c, c->pending, v);
    double window_s = c->pending_gap_s + c->since_pending_s;
    if (!c->has_pending || dp < 0.0 || !plausible(c, dp, window_s))
        return false;
    set->host->log(GW_LOG_WARNING,
                   "device '%s': counter '%s' stays up after its jump from %.15g to %.15g %s: "
                   "counting on from there, the jump itself not counted",
                   set->device_id, c->name, c->base, c->pending, c->unit);
    result(c, COUNTER_DELTA, dp, c->since_pending_s, GW_QUALITY_GOOD);
    c->base = v;
    c->window_s = dp > 0.0 ? c->since_pending_s : window_s + UNKNOWN_HISTORY_S;
    c->since_ref_s = 0.0;
    c->has_pending = false;
    return true;
}

static void step(struct counters *set, struct counter *c, const struct kind_in *in)
{
    if (!c->has_base) {
        c->has_base = true;
        c->base = in->v;
        c->since_ref_s = 0.0;
        c->window_s = UNKNOWN_HISTORY_S;
        return;
    }
    double d = forward(c, c->base, in->v);
    if (d < 0.0) {
        went_back(set, c, in->v);
    } else if (plausible(c, d, c->window_s)) {
        result(c, COUNTER_DELTA, d, c->since_ref_s, GW_QUALITY_GOOD);
        accept(c, in->v, d, c->since_ref_s);
    } else if (!confirm_pending(set, c, in->v)) {
        over_cap(set, c, in->v, d);
    }
}

static int emit(struct counters *set, struct counter *c, struct gw_sample *s)
{
    const struct gw_host *h = set->host;
    int rc = 0;
    switch (c->last.outcome) {
    case COUNTER_NONE:
        return 0;
    case COUNTER_RESET:
        return kind_add(h, s, c->reset_name, "", 1.0, GW_QUALITY_GOOD);
    case COUNTER_NOT_GOOD:
        rc = kind_add(h, s, c->delta_name, c->unit, c->last.delta, c->last.q);
        break;
    case COUNTER_DELTA:
        rc = kind_add(h, s, c->delta_name, c->unit, c->last.delta, GW_QUALITY_GOOD);
        break;
    }
    /* The reset point is 0 whenever the reading was good. */
    if (!rc && c->last.read_good)
        rc = kind_add(h, s, c->reset_name, "", 0.0, GW_QUALITY_GOOD);
    return rc;
}

int counters_derive(struct counters *set, struct gw_sample *s)
{
    int rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        struct counter *c = &set->items[i];
        c->since_ref_s += s->elapsed_s;
        c->window_s += s->elapsed_s;
        c->since_pending_s += s->elapsed_s;
        struct kind_in in = kind_read(set->host, s, c->name);
        c->last.read_good = in.present && in.q == GW_QUALITY_GOOD;
        if (c->last.read_good && c->has_base && !(s->elapsed_s > 0.0)) {
            /* No time passed on the device's clock since the previous
             * sample (a clock coarser than the polling, or one set back):
             * in a time series this sample and that one are one point,
             * the later replacing the earlier's fields, so a delta
             * published now would replace the one published then.
             * Nothing accrued in no time: the reference stays, nothing is
             * published, and the next sample's delta covers this one. */
            result(c, COUNTER_DELTA, 0.0, 0.0, GW_QUALITY_GOOD);
            continue;
        }
        result(c, COUNTER_NONE, NAN, 0.0, in.q);
        if (in.present && in.q == GW_QUALITY_GOOD)
            step(set, c, &in);
        else if (in.present && c->has_base)
            result(c, COUNTER_NOT_GOOD, NAN, c->since_ref_s, in.q);
        int e = emit(set, c, s);
        if (e && !rc)
            rc = e;
    }
    return rc;
}

const struct counter_result *counters_result(const struct counters *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i].last;
    return NULL;
}

void counters_free(struct counters *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].delta_name);
        free(set->items[i].reset_name);
    }
    free(set->items);
    memset(set, 0, sizeof *set);
}
