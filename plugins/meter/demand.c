#include "demand.h"

#include <math.h>
#include <stdlib.h>
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

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at fraction f of n sorted values (nearest rank below). */
static double rank(double *v, int n, double f)
{
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return v[(int)floor(f * (n - 1))];
}

/* A quarter of local day `day` closed, good with kw or not: today's value
 * (the 25th percentile of its good quarters), and the baseload: the median
 * of the values of the days up to a week back. */
static double update_baseload(struct demand *d, int64_t day, bool good, double kw)
{
    if (day != d->today_day) {
        d->n_today = 0;
        d->today_day = day;
    }
    if (good && d->n_today < QUARTERS_PER_DAY) {
        d->today[d->n_today++] = kw;
        double sorted[QUARTERS_PER_DAY];
        memcpy(sorted, d->today, (size_t)d->n_today * sizeof *sorted);
        int slot = (int)(day - floor_div(day, DEMAND_BASELOAD_DAYS) * DEMAND_BASELOAD_DAYS);
        d->day_low[slot] = rank(sorted, d->n_today, 0.25);
        d->low_day[slot] = day;
        d->has_low[slot] = true;
    }
    double values[DEMAND_BASELOAD_DAYS];
    int n = 0;
    for (int i = 0; i < DEMAND_BASELOAD_DAYS; i++)
        if (d->has_low[i] && d->low_day[i] > day - DEMAND_BASELOAD_DAYS && d->low_day[i] <= day)
            values[n++] = d->day_low[i];
    if (n == 0)
        return NAN;
    qsort(values, (size_t)n, sizeof *values, compare_double);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

static void close_quarter(struct demand *d, struct demand_close *out)
{
    double coverage = d->covered_ms / (double)DEMAND_QUARTER_MS;
    bool good = coverage >= DEMAND_MIN_COVERAGE - 1e-12;
    out->closed = true;
    out->kw = d->covered_ms > 0.0 ? d->kwh / (d->covered_ms / 3600000.0) : NAN;
    out->q = good ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN;
    update_peak(d, good, out->kw, out);
    out->baseload_kw = update_baseload(d, floor_div(d->quarter, QUARTERS_PER_DAY), good && isfinite(out->kw), out->kw);
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
