#include "demand.h"

#include <math.h>
#include <string.h>

#define QUARTERS_PER_DAY 96

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void demand_init(struct demand *d, double utc_offset_h, double interval_s)
{
    memset(d, 0, sizeof *d);
    d->offset_ms = (int64_t)llround(utc_offset_h * 3600000.0);
    d->max_spread_s = fmax(DEMAND_MAX_SPREAD_S, 1.5 * interval_s);
    d->peak = NAN;
}

/* The day's peak: good only if every quarter of the local day up to this
 * one closed good, in sequence. */
static void update_peak(struct demand *d, bool good, double kw, struct demand_close *out)
{
    int64_t day = floor_div(d->quarter, QUARTERS_PER_DAY);
    if (!d->has_day || day != d->day) {
        d->has_day = true;
        d->day = day;
        d->day_complete = d->quarter - day * QUARTERS_PER_DAY == 0;
        d->has_peak = false;
        d->peak = NAN;
    } else if (d->quarter != d->last_closed + 1) {
        d->day_complete = false;
    }
    d->last_closed = d->quarter;
    if (!good)
        d->day_complete = false;
    else if (!d->has_peak || kw > d->peak) {
        d->peak = kw;
        d->has_peak = true;
    }
    out->peak_kw = d->peak;
    out->peak_q = d->has_peak && d->day_complete ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN;
}

static void close_quarter(struct demand *d, struct demand_close *out)
{
    double coverage = d->covered_ms / (double)DEMAND_QUARTER_MS;
    bool good = coverage >= DEMAND_MIN_COVERAGE - 1e-12;
    out->closed = true;
    out->kw = d->covered_ms > 0.0 ? d->kwh / (d->covered_ms / 3600000.0) : NAN;
    out->q = good ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN;
    update_peak(d, good, out->kw, out);
}

static void open_quarter(struct demand *d, int64_t quarter)
{
    d->quarter = quarter;
    d->kwh = 0.0;
    d->covered_ms = 0.0;
}

/* Spreads kwh evenly over [from, to) (local ms), closing quarters passed. */
static void spread(struct demand *d, int64_t from, int64_t to, double kwh, bool measured,
                   struct demand_close *out)
{
    double per_ms = to > from ? kwh / (double)(to - from) : 0.0;
    while (from < to) {
        int64_t q = floor_div(from, DEMAND_QUARTER_MS);
        if (q != d->quarter) {
            close_quarter(d, out);
            open_quarter(d, q);
        }
        int64_t end = (q + 1) * DEMAND_QUARTER_MS;
        if (end > to)
            end = to;
        if (measured) {
            d->kwh += per_ms * (double)(end - from);
            d->covered_ms += (double)(end - from);
        }
        from = end;
    }
}

void demand_feed(struct demand *d, int64_t ts_ms, double span_s, double kwh, bool measured,
                 struct demand_close *out)
{
    memset(out, 0, sizeof *out);
    int64_t to = ts_ms + d->offset_ms;
    if (!d->started) {
        d->started = true;
        open_quarter(d, floor_div(to, DEMAND_QUARTER_MS));
        d->done_ms = to;
        return;
    }
    if (to <= d->done_ms)
        return;  /* the clock stepped back: nothing to account */
    int64_t from = to - (int64_t)llround(span_s * 1000.0);
    if (!(span_s <= d->max_spread_s) || !isfinite(kwh))
        measured = false;
    /* Part of the interval already accounted (as unknown, while the
     * readings were bad): only the rest's share counts. */
    if (from < d->done_ms) {
        if (measured)
            kwh *= (double)(to - d->done_ms) / (double)(to - from);
        from = d->done_ms;
    }
    spread(d, from, to, kwh, measured, out);
    if (to >= (d->quarter + 1) * DEMAND_QUARTER_MS) {
        close_quarter(d, out);
        open_quarter(d, d->quarter + 1);
    }
    d->done_ms = to;
}
