/*
 * The pump kind (pumps, fans, drives), loaded from the built pump.so:
 * specific power in kW per m3/h with exact expected values, nothing while
 * off, running without flow, bad, uncertain and NaN inputs passed on;
 * running and speed derived for drives that lack them; run hours and
 * starts counted when the drive does not; the drive's counters' deltas;
 * the default rules.
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
#define ANY NAN
#define T0_MS 1784073600000LL

struct expect {
    const char *name;
    double v;
    int q;
};

static bool check_expect(const struct kt *t, const struct expect *e, const char *what)
{
    const struct gw_reading *r = kt_get(t, e->name);
    bool ok = e->q == NONE ? !r : r && (int)r->quality == e->q;
    if (ok && r && !isnan(e->v))
        ok = fabs(r->value - e->v) < 1e-12 * fmax(1.0, fabs(e->v));
    if (!ok)
        fprintf(stderr, "\n  %s: %s = %.12g (%d), expected %.12g (%d)\n", what, e->name, r ? r->value : NAN,
                r ? (int)r->quality : NONE, e->v, e->q);
    return ok;
}

/* The generic pump's map: a running bit, flow, power, drive counters. */
static const struct gw_point_info pump_points[] = {
    { .name = "running" }, { .name = "fault" }, { .name = "frequency", .unit = "Hz" },
    { .name = "speed_pct", .unit = "%" }, { .name = "power_kw", .unit = "kW" }, { .name = "flow", .unit = "m3/h" },
    { .name = "energy_kwh", .unit = "kWh", .is_counter = 1, .wrap = 429496729.6 },
    { .name = "run_hours", .unit = "h", .is_counter = 1, .wrap = 4294967296.0 },
};
static const struct gw_param pump_params[] = { { "rated_kw", 55.0 }, { "min_flow_m3h", 2.0 } };

struct pump_case {
    const char *what;
    struct kt_in in[6];
    struct expect out[4];
};

static const struct pump_case pump_cases[] = {
    { "specific power", { { "running", 1, GOOD }, { "power_kw", 30.0, GOOD }, { "flow", 240.0, GOOD } },
      { { "kw_per_m3h", 0.125, GOOD }, { "no_flow", 0, GOOD }, { "running", 1, GOOD } } },
    { "off: no specific power", { { "running", 0, GOOD }, { "power_kw", 0.0, GOOD }, { "flow", 0.0, GOOD } },
      { { "kw_per_m3h", ANY, NONE }, { "no_flow", 0, GOOD } } },
    { "running without flow", { { "running", 1, GOOD }, { "power_kw", 12.0, GOOD }, { "flow", 1.5, GOOD } },
      { { "kw_per_m3h", ANY, NONE }, { "no_flow", 1, GOOD } } },
    { "bad flow", { { "running", 1, GOOD }, { "power_kw", 30.0, GOOD }, { "flow", 0.0, BAD } },
      { { "kw_per_m3h", ANY, BAD }, { "no_flow", ANY, BAD } } },
    { "uncertain power", { { "running", 1, GOOD }, { "power_kw", 900.0, UNC }, { "flow", 240.0, GOOD } },
      { { "kw_per_m3h", ANY, UNC }, { "no_flow", 0, GOOD } } },
    { "NaN flow", { { "running", 1, GOOD }, { "power_kw", 30.0, GOOD }, { "flow", NAN, GOOD } },
      { { "kw_per_m3h", ANY, UNC }, { "no_flow", ANY, UNC } } },
    { "running state bad", { { "running", 0, BAD }, { "power_kw", 30.0, GOOD }, { "flow", 240.0, GOOD } },
      { { "kw_per_m3h", ANY, BAD }, { "no_flow", ANY, BAD } } },
};

static void test_specific_power(void)
{
    struct gw_device_info dev = { .id = "p", .kind = "pump", .interval_s = 10, .points = pump_points,
                                  .n_points = N(pump_points), .params = pump_params, .n_params = 2 };
    for (size_t i = 0; i < N(pump_cases); i++) {
        const struct pump_case *c = &pump_cases[i];
        size_t n = 0;
        while (n < N(c->in) && c->in[n].name)
            n++;
        struct kt t;
        CU_ASSERT_FATAL(kt_open(&t, "pump", &dev, T0_MS) == 0);
        CU_ASSERT(kt_step(&t, 0, c->in, n) == 0);
        for (size_t k = 0; k < N(c->out) && c->out[k].name; k++)
            CU_ASSERT(check_expect(&t, &c->out[k], c->what));
        kt_close(&t);
    }
}

/* The drive counts energy and hours: their deltas, nothing counted twice,
 * and no running or speed derived over the drive's own. */
static void test_drive_counters(void)
{
    struct gw_device_info dev = { .id = "p", .kind = "pump", .interval_s = 60, .points = pump_points,
                                  .n_points = N(pump_points), .params = pump_params, .n_params = 2 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "pump", &dev, T0_MS) == 0);
    const double kwh[] = { 429496729.0, 429496729.5, 0.4 }, hours[] = { 1000, 1000, 1001 };
    for (int i = 0; i < 3; i++) {
        struct kt_in in[] = { { "running", 1, GOOD }, { "power_kw", 30.0, GOOD }, { "flow", 240.0, GOOD },
                              { "speed_pct", 80.0, GOOD }, { "energy_kwh", kwh[i], GOOD },
                              { "run_hours", hours[i], GOOD } };
        kt_step(&t, 60, in, N(in));
    }
    double v;
    CU_ASSERT(kt_good(&t, "energy_kwh_delta", &v) && v == 0.5);
    CU_ASSERT(kt_good(&t, "run_hours_delta", &v) && v == 1.0);
    CU_ASSERT(kt_good(&t, "starts_delta", &v) && v == 0.0);   /* the drive counts no starts */
    int hours_n = 0, running_n = 0, speed_n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++) {
        hours_n += strcmp(t.sample.readings[i].name, "run_hours_delta") == 0;
        running_n += strcmp(t.sample.readings[i].name, "running") == 0;
        speed_n += strcmp(t.sample.readings[i].name, "speed_pct") == 0;
    }
    CU_ASSERT(hours_n == 1 && running_n == 1 && speed_n == 1);
    kt_close(&t);
}

/* A fan drive with power and frequency only: running from power above
 * running_kw, speed from frequency over base_hz, run hours and starts. */
struct fan_step {
    double dt, power_kw, hz;
    int q;
    struct expect out[5];
};

static const struct fan_step fan_steps[] = {
    { 0, 0.0, 0.0, GOOD, { { "running", 0, GOOD }, { "speed_pct", 0, GOOD }, { "run_hours_delta", ANY, NONE } } },
    { 60, 18.0, 45.0, GOOD, { { "running", 1, GOOD }, { "speed_pct", 75, GOOD }, { "run_hours_delta", 0, GOOD },
                              { "starts_delta", 1, GOOD }, { "kw_per_m3h", ANY, NONE } } },
    { 60, 18.0, 45.0, GOOD, { { "run_hours_delta", 60.0 / 3600, GOOD }, { "starts_delta", 0, GOOD } } },
    { 60, 1.0, 6.0, GOOD, { { "running", 0, GOOD }, { "speed_pct", 10, GOOD }, { "run_hours_delta", 60.0 / 3600, GOOD },
                            { "starts_delta", 0, GOOD } } },
    { 60, 0.0, 0.0, BAD, { { "running", ANY, BAD }, { "speed_pct", ANY, BAD }, { "run_hours_delta", 0, GOOD },
                           { "starts_delta", ANY, BAD } } },
    { 60, 18.0, 45.0, GOOD, { { "running", 1, GOOD }, { "run_hours_delta", ANY, BAD }, { "starts_delta", ANY, BAD } } },
};

static void test_fan_without_status(void)
{
    struct gw_point_info points[] = { { .name = "power_kw", .unit = "kW" }, { .name = "frequency", .unit = "Hz" } };
    struct gw_param params[] = { { "running_kw", 2.0 }, { "base_hz", 60.0 } };
    struct gw_device_info dev = { .id = "f", .kind = "pump", .interval_s = 60, .points = points, .n_points = 2,
                                  .params = params, .n_params = 2 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "pump", &dev, T0_MS) == 0);
    for (size_t i = 0; i < N(fan_steps); i++) {
        const struct fan_step *st = &fan_steps[i];
        struct kt_in in[] = { { "power_kw", st->power_kw, (enum gw_quality)st->q },
                              { "frequency", st->hz, (enum gw_quality)st->q } };
        kt_step(&t, st->dt, in, N(in));
        char what[32];
        snprintf(what, sizeof what, "fan step %zu", i);
        for (size_t k = 0; k < N(st->out) && st->out[k].name; k++)
            CU_ASSERT(check_expect(&t, &st->out[k], what));
    }
    kt_close(&t);
}

static void test_default_rules(void)
{
    struct gw_device_info dev = { .id = "p", .kind = "pump", .interval_s = 10 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "pump", &dev, T0_MS) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t.plugin->default_rules);
    CU_ASSERT(kt_check_rules(t.plugin->default_rules) >= 2);
    kt_close(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("kind pump", NULL, NULL);
    if (!s || !CU_add_test(s, "specific power and running without flow", test_specific_power) ||
        !CU_add_test(s, "the drive's counters", test_drive_counters) ||
        !CU_add_test(s, "a fan drive without status: running, speed, run hours, starts", test_fan_without_status) ||
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
