/*
 * The meter kind, loaded from the built meter.so: interval deltas across
 * rollover at 2^16 and 2^32 (scaled), a reset, a spike over the cap (a
 * glitch and a real jump), a coarse register that steps rarely, bad,
 * uncertain and NaN readings, a sample stamped no time after the previous;
 * 15-minute demand with exact expected values (aligned, straddling, with a
 * short and a long gap), the day's peak and the baseload; the power factor
 * from kVA and from kvar; the default rules.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kindtest.h"

#define N(a) (sizeof(a) / sizeof(*(a)))
#define GOOD GW_QUALITY_GOOD
#define UNC GW_QUALITY_UNCERTAIN
#define BAD GW_QUALITY_BAD
#define NONE (-1)
/* 2026-07-15 00:00 UTC, and an hour in ms. */
#define DAY0_MS 1784073600000LL
#define HOUR_MS 3600000LL

/* ---- counters ---------------------------------------------------------- */

struct step {
    double dt;          /* s since the previous sample */
    double v;           /* the counter's reading */
    int q;              /* its quality */
    double delta;       /* expected <name>_delta; NaN: any value */
    int delta_q;        /* its quality; NONE: no delta point */
    int reset;          /* expected <name>_reset; NONE: no reset point */
};

struct counter_case {
    const char *what;
    const char *name, *unit;
    double wrap;
    double rated_kw, max_flow_m3h;
    double interval_s;
    int warnings;       /* logged over the whole case */
    struct step steps[12];
};

static const struct counter_case counter_cases[] = {
    { "uint16 x 0.1 m3 rolls over at 6553.6", "volume_m3", "m3", 6553.6, 0, 0, 60, 0, {
        { 0, 6553.0, GOOD, 0, NONE, NONE },
        { 60, 6553.5, GOOD, 0.5, GOOD, 0 },
        { 60, 0.3, GOOD, 0.4, GOOD, 0 },
        { 60, 1.0, GOOD, 0.7, GOOD, 0 } } },
    { "uint32 x 0.01 kWh rolls over at 42949672.96", "energy_kwh", "kWh", 42949672.96, 0, 0, 10, 0, {
        { 0, 42949672.50, GOOD, 0, NONE, NONE },
        { 10, 42949672.90, GOOD, 0.40, GOOD, 0 },
        { 10, 0.05, GOOD, 0.11, GOOD, 0 },
        { 10, 0.20, GOOD, 0.15, GOOD, 0 } } },
    { "uint32 x 1 rolls over at 2^32", "energy_kwh", "kWh", 4294967296.0, 0, 0, 10, 0, {
        { 0, 4294967290.0, GOOD, 0, NONE, NONE },
        { 10, 4294967295.0, GOOD, 5, GOOD, 0 },
        { 10, 3.0, GOOD, 4, GOOD, 0 } } },
    { "uint16 x 1 rolls over at 2^16 within the cap", "energy_kwh", "kWh", 65536.0, 100, 0, 60, 0, {
        { 0, 65530.0, GOOD, 0, NONE, NONE },
        { 60, 65535.0, GOOD, 5, GOOD, 0 },
        { 60, 0.0, GOOD, 1, GOOD, 0 },
        { 60, 1.0, GOOD, 1, GOOD, 0 } } },
    { "a reset is no consumption, logged once", "energy_kwh", "kWh", 42949672.96, 0, 0, 10, 1, {
        { 0, 12345.67, GOOD, 0, NONE, NONE },
        { 10, 12346.00, GOOD, 0.33, GOOD, 0 },
        { 10, 0.50, GOOD, 0, NONE, 1 },
        { 10, 0.75, GOOD, 0.25, GOOD, 0 },
        { 10, 1.00, GOOD, 0.25, GOOD, 0 } } },
    { "a float counter resets", "energy_kwh", "kWh", 0, 0, 0, 10, 1, {
        { 0, 1000.0, GOOD, 0, NONE, NONE },
        { 10, 1001.0, GOOD, 1.0, GOOD, 0 },
        { 10, 5.0, GOOD, 0, NONE, 1 },
        { 10, 6.5, GOOD, 1.5, GOOD, 0 } } },
    /* Cap: 1.5 x 100 kW = 150 kWh/h; 10 s after a change gives 0.83 kWh. */
    { "a glitch over the cap is uncertain, then counted from before it", "energy_kwh", "kWh", 0, 100, 0, 10, 1, {
        { 0, 100.0, GOOD, 0, NONE, NONE },
        { 10, 100.2, GOOD, 0.2, GOOD, 0 },
        { 10, 5000.0, GOOD, 4899.8, UNC, 0 },
        { 10, 100.5, GOOD, 0.3, GOOD, 0 },
        { 10, 100.7, GOOD, 0.2, GOOD, 0 } } },
    { "a jump that stays is uncertain, then counted from the jump", "energy_kwh", "kWh", 0, 100, 0, 10, 2, {
        { 0, 100.0, GOOD, 0, NONE, NONE },
        { 10, 100.2, GOOD, 0.2, GOOD, 0 },
        { 10, 5000.0, GOOD, 4899.8, UNC, 0 },
        { 10, 5000.3, GOOD, 0.3, GOOD, 0 },
        { 10, 5000.5, GOOD, 0.2, GOOD, 0 } } },
    /* 5 kW rated, 0.1 kWh steps, 4 kW load: a step every 90 s, each over
     * what 10 s allow (0.02 kWh) but within the time since the last step. */
    { "a coarse register steps rarely, within the cap", "energy_kwh", "kWh", 429496729.6, 5, 0, 10, 1, {
        { 0, 10.0, GOOD, 0, NONE, NONE },
        { 10, 10.0, GOOD, 0, GOOD, 0 },
        { 80, 10.1, GOOD, 0.1, GOOD, 0 },
        { 10, 10.1, GOOD, 0, GOOD, 0 },
        { 80, 10.2, GOOD, 0.1, GOOD, 0 },
        { 10, 12.2, GOOD, 2.0, UNC, 0 } } },
    /* Hours can rise by at most 1.5 h an hour; a register in whole hours
     * steps by 1 h, within the time since the poll before its last step. */
    { "run hours in whole hours: steps are no glitch, a jump is", "run_hours", "h", 4294967296.0, 0, 0, 60, 1, {
        { 0, 1000, GOOD, 0, NONE, NONE },
        { 60, 1000, GOOD, 0, GOOD, 0 },
        { 60, 1001, GOOD, 1, GOOD, 0 },
        { 3600, 1002, GOOD, 1, GOOD, 0 },
        { 60, 1003, GOOD, 1, GOOD, 0 },
        { 60, 1010, GOOD, 7, UNC, 0 } } },
    { "water over max_flow_m3h is uncertain", "volume_m3", "m3", 4294967.296, 0, 30, 60, 1, {
        { 0, 50.0, GOOD, 0, NONE, NONE },
        { 60, 50.4, GOOD, 0.4, GOOD, 0 },
        { 60, 51.0, GOOD, 0.6, GOOD, 0 },
        { 60, 60.0, GOOD, 9.0, UNC, 0 } } },
    /* A device clock coarser than the polling stamps two samples alike:
     * they are one point in the series, so the second adds nothing and
     * the next delta covers both. */
    { "a sample no time after the previous adds nothing", "energy_kwh", "kWh", 42949672.96, 0, 0, 1, 0, {
        { 0, 100.0, GOOD, 0, NONE, NONE },
        { 1, 100.5, GOOD, 0.5, GOOD, 0 },
        { 0, 100.7, GOOD, NAN, NONE, NONE },
        { 1, 101.0, GOOD, 0.5, GOOD, 0 } } },
    { "bad, uncertain and NaN readings give no good delta", "energy_kwh", "kWh", 42949672.96, 0, 0, 10, 0, {
        { 0, 10.0, GOOD, 0, NONE, NONE },
        { 10, 0.0, BAD, NAN, BAD, NONE },
        { 10, 99.0, UNC, NAN, UNC, NONE },
        { 10, NAN, GOOD, NAN, UNC, NONE },
        { 10, 12.0, GOOD, 2.0, GOOD, 0 } } },
    { "nothing before the first good reading", "energy_kwh", "kWh", 0, 0, 0, 10, 0, {
        { 0, 0.0, BAD, 0, NONE, NONE },
        { 10, 7.0, GOOD, 0, NONE, NONE },
        { 10, 7.5, GOOD, 0.5, GOOD, 0 } } },
};

static void check_step(const struct kt *t, const struct counter_case *c, size_t i, const char *delta,
                       const char *reset)
{
    const struct step *st = &c->steps[i];
    const struct gw_reading *d = kt_get(t, delta), *r = kt_get(t, reset);
    bool ok = st->delta_q == NONE ? !d : d && (int)d->quality == st->delta_q;
    if (ok && d && st->delta_q != NONE && isfinite(st->delta))
        ok = d->value == st->delta;    /* exact: the register's decimal step */
    ok = ok && (st->reset == NONE ? !r : r && r->quality == GOOD && r->value == st->reset);
    if (!ok)
        fprintf(stderr, "\n  %s, step %zu: %s = %g (%d), %s = %g\n", c->what, i, delta, d ? d->value : NAN,
                d ? (int)d->quality : NONE, reset, r ? r->value : NAN);
    CU_ASSERT(ok);
}

/* A case's steps end at the first all-zero one; a step of no time after
 * the previous is still a step. */
static bool step_unused(const struct step *st)
{
    return st->dt == 0 && st->v == 0 && st->q == 0 && st->delta == 0 && st->delta_q == 0 && st->reset == 0;
}

static void run_counter_case(const struct counter_case *c)
{
    struct gw_point_info points[] = { { .name = c->name, .unit = c->unit, .is_counter = 1, .wrap = c->wrap } };
    struct gw_param params[2];
    size_t n_params = 0;
    if (c->rated_kw > 0)
        params[n_params++] = (struct gw_param){ "rated_kw", c->rated_kw };
    if (c->max_flow_m3h > 0)
        params[n_params++] = (struct gw_param){ "max_flow_m3h", c->max_flow_m3h };
    struct gw_device_info dev = { .id = "m", .kind = "meter", .interval_s = c->interval_s, .points = points,
                                  .n_points = 1, .params = params, .n_params = n_params };
    char delta[64], reset[64];
    snprintf(delta, sizeof delta, "%s_delta", c->name);
    snprintf(reset, sizeof reset, "%s_reset", c->name);
    struct kt t;
    kt_warnings = 0;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &dev, DAY0_MS) == 0);
    for (size_t i = 0; i < N(c->steps) && (i == 0 || !step_unused(&c->steps[i])); i++) {
        struct kt_in in = { c->name, c->steps[i].v, (enum gw_quality)c->steps[i].q };
        CU_ASSERT(kt_step(&t, c->steps[i].dt, &in, 1) == 0);
        check_step(&t, c, i, delta, reset);
    }
    if (kt_warnings != c->warnings)
        fprintf(stderr, "\n  %s: %d warnings logged, expected %d\n", c->what, kt_warnings, c->warnings);
    CU_ASSERT_EQUAL(kt_warnings, c->warnings);
    kt_close(&t);
}

static void test_counters(void)
{
    for (size_t i = 0; i < N(counter_cases); i++)
        run_counter_case(&counter_cases[i]);
}

/* Good deltas over a rollover, a reset and a glitch sum to exactly what
 * was used: the register's steps, not a float's drift. */
static void test_counter_sum(void)
{
    struct gw_point_info points[] = { { .name = "energy_kwh", .unit = "kWh", .is_counter = 1, .wrap = 655.36 } };
    struct gw_param params[] = { { "rated_kw", 100.0 } };
    struct gw_device_info dev = { .id = "m", .kind = "meter", .interval_s = 10, .points = points,
                                  .n_points = 1, .params = params, .n_params = 1 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &dev, DAY0_MS) == 0);
    long raw = 65000;   /* uint16 x 0.01: 650.00 kWh */
    double sum = 0.0, d;
    long used = 0;
    for (int i = 0; i < 400; i++) {
        long step = 5 + i % 7;          /* 0.05 .. 0.11 kWh per 10 s */
        if (i)
            used += step, raw = (raw + step) % 65536;
        struct kt_in in = { "energy_kwh", (double)raw * 0.01, GOOD };
        kt_step(&t, 10, &in, 1);
        if (kt_good(&t, "energy_kwh_delta", &d))
            sum += d;
    }
    CU_ASSERT(fabs(sum - used * 0.01) < 1e-9);
    kt_close(&t);
}

/* ---- demand ------------------------------------------------------------ */

struct meter_dev {
    struct gw_point_info points[4];
    struct gw_param params[3];
    struct gw_device_info dev;
};

static void meter_dev(struct meter_dev *m, double interval_s, double utc_offset_h, bool own_demand)
{
    memset(m, 0, sizeof *m);
    m->points[0] = (struct gw_point_info){ .name = "energy_kwh", .unit = "kWh", .is_counter = 1,
                                           .wrap = 42949672.96 };
    m->points[1] = (struct gw_point_info){ .name = "power_kw", .unit = "kW" };
    m->points[2] = (struct gw_point_info){ .name = "demand_kw", .unit = "kW" };
    m->params[0] = (struct gw_param){ "utc_offset_h", utc_offset_h };
    m->params[1] = (struct gw_param){ "rated_kw", 1000.0 };
    m->dev = (struct gw_device_info){ .id = "m", .kind = "meter", .interval_s = interval_s,
                                      .points = m->points, .n_points = own_demand ? 3 : 2,
                                      .params = m->params, .n_params = 2 };
}

/* Feeds a constant load of kw from start for n samples dt_s apart,
 * with the sample numbers listed in bad (terminated by -1) read bad.
 * Returns the demand_kw closed at the last sample (quality in *q), or NaN. */
struct demand_run {
    const char *what;
    double interval_s, utc_offset_h;
    int64_t start_ms;       /* UTC */
    double dt_s;
    int samples;
    double kw;
    int bad[6];             /* samples read bad, -1 terminated */
    int close_at;           /* the sample that closes the quarter */
    int closes;             /* quarters closed in all (a partial one before it) */
    double expect_kw;
    int expect_q;
};

static const struct demand_run demand_runs[] = {
    /* Local 10:00 (UTC+8) to 10:15, a sample a minute: exactly 120 kW. */
    { "aligned minutes", 60, 8.0, DAY0_MS + 2 * HOUR_MS, 60, 16, 120.0, { -1 }, 15, 1, 120.0, GOOD },
    /* Samples at :30 straddle the boundaries: halves go to each quarter. */
    { "straddling", 60, 8.0, DAY0_MS + 2 * HOUR_MS - 30000, 60, 17, 90.0, { -1 }, 16, 2, 90.0, GOOD },
    /* Five-minute polls, UTC. */
    { "five-minute polls", 300, 0.0, DAY0_MS + 10 * HOUR_MS, 300, 4, 240.0, { -1 }, 3, 1, 240.0, GOOD },
    /* Two bad polls: the next delta spans 3 minutes, spread over them. */
    { "a short gap is spread", 60, 8.0, DAY0_MS + 2 * HOUR_MS, 60, 16, 120.0, { 5, 6, -1 }, 15, 1, 120.0, GOOD },
    /* Three bad polls: 4 minutes unmeasured, 11 of 15 covered (73 %). */
    { "a long gap leaves the quarter short", 60, 8.0, DAY0_MS + 2 * HOUR_MS, 60, 16, 120.0, { 5, 6, 7, -1 },
      15, 1, 120.0, UNC },
    /* Started at 10:02: 13 of 15 minutes measured (87 %) suffice. */
    { "started two minutes into the quarter", 60, 8.0, DAY0_MS + 2 * HOUR_MS + 120000, 60, 14, 120.0, { -1 },
      13, 1, 120.0, GOOD },
    { "started four minutes into the quarter", 60, 8.0, DAY0_MS + 2 * HOUR_MS + 240000, 60, 12, 120.0, { -1 },
      11, 1, 120.0, UNC },
};

static bool in_list(const int *list, int i)
{
    for (; *list >= 0; list++)
        if (*list == i)
            return true;
    return false;
}

static void run_demand(const struct demand_run *r)
{
    struct meter_dev m;
    meter_dev(&m, r->interval_s, r->utc_offset_h, false);
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, r->start_ms) == 0);
    double kwh = 5000.0;
    int closes = 0;
    bool seen = false;
    for (int i = 0; i < r->samples; i++) {
        if (i)
            kwh += r->kw * r->dt_s / 3600.0;
        struct kt_in in[] = { { "energy_kwh", kwh, in_list(r->bad, i) ? BAD : GOOD },
                              { "power_kw", r->kw, GOOD } };
        kt_step(&t, r->dt_s, in, N(in));
        const struct gw_reading *d = kt_get(&t, "demand_kw");
        closes += d != NULL;
        if (i != r->close_at)
            continue;
        seen = d && (int)d->quality == r->expect_q && fabs(d->value - r->expect_kw) < 1e-9;
        if (!seen)
            fprintf(stderr, "\n  %s: demand %.9g (%d)\n", r->what, d ? d->value : NAN, d ? (int)d->quality : NONE);
    }
    CU_ASSERT(seen);
    if (closes != r->closes)
        fprintf(stderr, "\n  %s: %d quarters closed\n", r->what, closes);
    CU_ASSERT_EQUAL(closes, r->closes);
    kt_close(&t);
}

static void test_demand(void)
{
    for (size_t i = 0; i < N(demand_runs); i++)
        run_demand(&demand_runs[i]);
}

/* A quarter of changing load across its boundaries: 10:00 to 10:15 local
 * with samples at 09:59:00, 10:04:30, 10:10:00, 10:15:30. */
static void test_demand_uneven(void)
{
    struct meter_dev m;
    meter_dev(&m, 330, 8.0, false);
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, DAY0_MS + 2 * HOUR_MS - 60000) == 0);
    /* 5.5 min at 60 kW (1 min of it before 10:00), 5.5 min at 120 kW,
     * 5.5 min at 240 kW (0.5 min after 10:15). */
    double e = 100.0;
    struct kt_in in = { "energy_kwh", e, GOOD };
    kt_step(&t, 0, &in, 1);
    const double kw[] = { 60.0, 120.0, 240.0 };
    for (int i = 0; i < 3; i++) {
        in.v = e += kw[i] * 330.0 / 3600.0;
        kt_step(&t, 330, &in, 1);
    }
    double d;
    /* 4.5 min x 60 + 5.5 min x 120 + 5 min x 240, over 15 minutes. */
    double expect = (4.5 * 60.0 + 5.5 * 120.0 + 5.0 * 240.0) / 15.0;
    CU_ASSERT(kt_good(&t, "demand_kw", &d) && fabs(d - expect) < 1e-9);
    kt_close(&t);
}

/* A whole local day at five-minute polls: the peak is good from the
 * first quarter of the day on, follows the highest quarter, and starts
 * again the next day; a day joined late has an uncertain peak. */
static void test_peak(void)
{
    struct meter_dev m;
    meter_dev(&m, 300, 8.0, false);
    struct kt t;
    int64_t midnight_local = DAY0_MS - 8 * HOUR_MS;     /* 00:00 UTC+8 */
    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, midnight_local) == 0);
    double e = 0.0, peak = 0.0, v;
    struct kt_in in = { "energy_kwh", e, GOOD };
    kt_step(&t, 0, &in, 1);
    int closes = 0, wrong = 0;
    for (int i = 1; i <= 96 * 3 + 3; i++) {
        int quarter = (i - 1) / 3;
        double kw = 100.0 + 10.0 * ((quarter * 37) % 23);   /* 100 .. 320 kW */
        in.v = e += kw * 300.0 / 3600.0;
        kt_step(&t, 300, &in, 1);
        if (i % 3)
            continue;
        closes++;
        if (quarter == 96)          /* the next day starts its own peak */
            peak = 0.0;
        peak = fmax(peak, kw);
        if (!kt_good(&t, "demand_kw", &v) || fabs(v - kw) > 1e-9 || !kt_good(&t, "peak_demand_kw", &v) ||
            fabs(v - peak) > 1e-9)
            wrong++;
    }
    CU_ASSERT_EQUAL(closes, 97);
    CU_ASSERT_EQUAL(wrong, 0);
    kt_close(&t);

    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, midnight_local + 10 * HOUR_MS) == 0);
    in.v = 0.0;
    kt_step(&t, 0, &in, 1);
    for (int i = 0; i < 6; i++) {
        in.v += 10.0;
        kt_step(&t, 300, &in, 1);
    }
    CU_ASSERT(kt_good(&t, "demand_kw", &v) && fabs(v - 120.0) < 1e-9);
    CU_ASSERT_EQUAL(kt_quality(&t, "peak_demand_kw"), UNC);
    kt_close(&t);
}

/* The baseload: each local day's 25th-percentile good quarter, the median
 * of the last seven days' (today's so far included), in every sample once
 * known.  A counter that stood still for a quarter (0 kW) does not set
 * it, and a day drops out after a week. */
static void test_baseload(void)
{
    static const double night[8] = { 50, 40, 60, 70, 100, 100, 100, 100 };
    static const double expect[8] = { 50, 45, 50, 55, 60, 65, 70, 100 };
    struct meter_dev m;
    meter_dev(&m, 300, 8.0, false);
    struct kt t;
    int64_t midnight_local = DAY0_MS - 8 * HOUR_MS;     /* 00:00 UTC+8 */
    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, midnight_local) == 0);
    double e = 0.0, v;
    struct kt_in in = { "energy_kwh", e, GOOD };
    kt_step(&t, 0, &in, 1);
    CU_ASSERT_EQUAL(kt_quality(&t, "baseload_kw"), UNC);    /* none known yet */
    int wrong = 0, missing = 0;
    for (int day = 0; day < 8; day++)
        for (int quarter = 0; quarter < 96; quarter++)
            for (int k = 0; k < 3; k++) {
                double kw = quarter < 24 ? night[day] : 300.0;
                if (day == 2 && quarter == 5)
                    kw = 0.0;                               /* the counter stood still */
                in.v = e += kw * 300.0 / 3600.0;
                kt_step(&t, 300, &in, 1);
                missing += !kt_good(&t, "baseload_kw", &v);
                if (quarter == 23 && k == 2 && kt_good(&t, "baseload_kw", &v) && fabs(v - expect[day]) > 1e-6) {
                    fprintf(stderr, "\n  day %d: baseload %g, expected %g", day, v, expect[day]);
                    wrong++;
                }
            }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(missing, 2);                            /* until the first quarter closed */
    in.q = BAD;                                             /* a poll without an answer */
    kt_step(&t, 300, &in, 1);
    CU_ASSERT_EQUAL(kt_quality(&t, "baseload_kw"), BAD);    /* nothing good from a silent meter */
    kt_close(&t);
}

/* A meter with its own demand register keeps it: no second demand_kw. */
static void test_own_demand(void)
{
    struct meter_dev m;
    meter_dev(&m, 300, 0.0, true);
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &m.dev, DAY0_MS + 2 * HOUR_MS) == 0);
    double e = 0.0;
    for (int i = 0; i < 4; i++) {
        struct kt_in in[] = { { "energy_kwh", e, GOOD }, { "demand_kw", 99.0, GOOD } };
        kt_step(&t, 300, in, N(in));
        e += 10.0;
    }
    int n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++)
        n += strcmp(t.sample.readings[i].name, "demand_kw") == 0;
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(kt_quality(&t, "peak_demand_kw"), UNC);    /* the day joined late */
    kt_close(&t);
}

/* ---- power factor ----------------------------------------------------- */

struct pf_case {
    const char *second;     /* apparent_power_kva or reactive_power_kvar */
    double kw, x;
    int kw_q, x_q;
    double expect;
    int expect_q;
};

static const struct pf_case pf_cases[] = {
    { "apparent_power_kva", 80.0, 100.0, GOOD, GOOD, 0.8, GOOD },
    { "apparent_power_kva", -40.0, 50.0, GOOD, GOOD, -0.8, GOOD },
    { "apparent_power_kva", 100.5, 100.0, GOOD, GOOD, 1.0, GOOD },     /* rounding */
    { "apparent_power_kva", 150.0, 100.0, GOOD, GOOD, 0, UNC },        /* inputs disagree */
    { "apparent_power_kva", 0.0, 0.0, GOOD, GOOD, 0, UNC },            /* no load */
    { "apparent_power_kva", 80.0, 100.0, BAD, GOOD, 0, BAD },
    { "apparent_power_kva", 80.0, 100.0, GOOD, UNC, 0, UNC },
    { "reactive_power_kvar", 30.0, 40.0, GOOD, GOOD, 0.6, GOOD },
    { "reactive_power_kvar", 30.0, NAN, GOOD, GOOD, 0, UNC },
};

static void test_power_factor(void)
{
    for (size_t i = 0; i < N(pf_cases); i++) {
        const struct pf_case *c = &pf_cases[i];
        struct gw_point_info points[] = { { .name = "power_kw", .unit = "kW" }, { .name = c->second } };
        struct gw_device_info dev = { .id = "m", .kind = "meter", .interval_s = 10, .points = points,
                                      .n_points = 2 };
        struct kt t;
        CU_ASSERT_FATAL(kt_open(&t, "meter", &dev, DAY0_MS) == 0);
        struct kt_in in[] = { { "power_kw", c->kw, (enum gw_quality)c->kw_q },
                              { c->second, c->x, (enum gw_quality)c->x_q } };
        kt_step(&t, 0, in, N(in));
        const struct gw_reading *pf = kt_get(&t, "power_factor");
        bool ok = pf && (int)pf->quality == c->expect_q &&
                  (c->expect_q != GOOD || fabs(pf->value - c->expect) < 1e-12);
        if (!ok)
            fprintf(stderr, "\n  power factor case %zu: %g (%d)\n", i, pf ? pf->value : NAN,
                    pf ? (int)pf->quality : NONE);
        CU_ASSERT(ok);
        kt_close(&t);
    }
    /* A meter with its own power factor register: nothing derived. */
    struct gw_point_info points[] = { { .name = "power_kw" }, { .name = "apparent_power_kva" },
                                      { .name = "power_factor" } };
    struct gw_device_info dev = { .id = "m", .kind = "meter", .interval_s = 10, .points = points, .n_points = 3 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "meter", &dev, DAY0_MS) == 0);
    struct kt_in in[] = { { "power_kw", 80, GOOD }, { "apparent_power_kva", 100, GOOD }, { "power_factor", 0.79, GOOD } };
    kt_step(&t, 0, in, N(in));
    CU_ASSERT_EQUAL(t.sample.n_readings, N(in));
    kt_close(&t);
}

static void test_default_rules(void)
{
    struct kt t;
    struct gw_device_info dev = { .id = "m", .kind = "meter", .interval_s = 10 };
    CU_ASSERT_FATAL(kt_open(&t, "meter", &dev, DAY0_MS) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t.plugin->default_rules);
    CU_ASSERT(kt_check_rules(t.plugin->default_rules) >= 3);
    kt_close(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("kind meter", NULL, NULL);
    if (!s || !CU_add_test(s, "counter deltas: rollover, reset, cap, quality", test_counters) ||
        !CU_add_test(s, "good deltas sum exactly across rollovers", test_counter_sum) ||
        !CU_add_test(s, "15-minute demand and its coverage", test_demand) ||
        !CU_add_test(s, "demand of an uneven load across boundaries", test_demand_uneven) ||
        !CU_add_test(s, "the day's peak demand", test_peak) ||
        !CU_add_test(s, "the baseload", test_baseload) ||
        !CU_add_test(s, "a demand register of the meter's own", test_own_demand) ||
        !CU_add_test(s, "power factor from kVA or kvar", test_power_factor) ||
        !CU_add_test(s, "default rules parse", test_default_rules)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
