/*
 * The chiller kind, loaded from the built chiller.so: cooling output from
 * flow x delta-T or the controller's register, COP, kW per ton, delta-T,
 * approaches and part-load ratio with exact expected values; nothing of
 * performance while off or below the power floor; bad, uncertain and NaN
 * inputs passed on; run hours and starts counted when the controller does
 * not; the default rules.
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

/* ---- one expectation on a derived point -------------------------------- */

struct expect {
    const char *name;
    double v;       /* ANY: not checked */
    int q;          /* NONE: the point must be absent */
};

static bool check_expect(const struct kt *t, const struct expect *e, const char *what)
{
    const struct gw_reading *r = kt_get(t, e->name);
    bool ok = e->q == NONE ? !r : r && (int)r->quality == e->q;
    if (ok && r && !isnan(e->v))
        ok = fabs(r->value - e->v) < 1e-9 * fmax(1.0, fabs(e->v));
    if (!ok)
        fprintf(stderr, "\n  %s: %s = %.12g (%d), expected %.12g (%d)\n", what, e->name, r ? r->value : NAN,
                r ? (int)r->quality : NONE, e->v, e->q);
    return ok;
}

/* ---- the chiller's map ------------------------------------------------- */

enum map { MAP_FLOW, MAP_REGISTER };

static const struct gw_point_info flow_points[] = {
    { .name = "chw_supply_temp" }, { .name = "chw_return_temp" }, { .name = "chw_flow" },
    { .name = "cw_return_temp" },  { .name = "evap_sat_temp" },   { .name = "cond_sat_temp" },
    { .name = "power_kw" },        { .name = "running" },
    { .name = "run_hours", .unit = "h", .is_counter = 1, .wrap = 4294967296.0 },
    { .name = "starts", .is_counter = 1, .wrap = 65536.0 },
};
static const struct gw_point_info register_points[] = {
    { .name = "chw_supply_temp" }, { .name = "chw_return_temp" }, { .name = "cooling_kw" },
    { .name = "power_kw" },        { .name = "running" },
};
static const struct gw_param params[] = { { "rated_kw", 450.0 }, { "capacity_kw", 2100.0 } };

static struct gw_device_info device(enum map map)
{
    struct gw_device_info dev = { .id = "ch", .kind = "chiller", .interval_s = 10, .params = params, .n_params = 2 };
    dev.points = map == MAP_FLOW ? flow_points : register_points;
    dev.n_points = map == MAP_FLOW ? N(flow_points) : N(register_points);
    return dev;
}

/* ---- performance figures ---------------------------------------------- */

struct perf_case {
    const char *what;
    enum map map;
    struct kt_in in[10];
    struct expect out[10];
};

/* 1.163 x 100 m3/h x 5 K = 581.5 kW; at 116.3 kW that is COP 5 and
 * 3.51685 / 5 kW per ton. */
#define RUNNING_5K                                                                           \
    { "chw_supply_temp", 7.0, GOOD }, { "chw_return_temp", 12.0, GOOD }, { "chw_flow", 100.0, GOOD }, \
    { "cw_return_temp", 36.5, GOOD }, { "evap_sat_temp", 5.5, GOOD }, { "cond_sat_temp", 38.25, GOOD }, \
    { "running", 1, GOOD }

static const struct perf_case perf_cases[] = {
    { "running, flow x delta-T", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 116.3, GOOD } },
      { { "cooling_kw", 581.5, GOOD }, { "cop", 5.0, GOOD }, { "kw_per_ton", 3.51685 / 5.0, GOOD },
        { "chw_delta_t", 5.0, GOOD }, { "evap_approach", 1.5, GOOD }, { "cond_approach", 1.75, GOOD },
        { "part_load_ratio", 581.5 / 2100.0, GOOD }, { "running", ANY, GOOD } } },
    { "the controller's own cooling figure", MAP_REGISTER,
      { { "chw_supply_temp", 6.5, GOOD }, { "chw_return_temp", 11.0, GOOD }, { "cooling_kw", 1406.74, GOOD },
        { "power_kw", 281.348, GOOD }, { "running", 1, GOOD } },
      { { "cop", 5.0, GOOD }, { "kw_per_ton", 0.2 * 3.51685, GOOD }, { "chw_delta_t", 4.5, GOOD },
        { "part_load_ratio", 1406.74 / 2100.0, GOOD }, { "evap_approach", ANY, NONE } } },
    { "off: no performance figures", MAP_FLOW,
      { { "chw_supply_temp", 12.0, GOOD }, { "chw_return_temp", 12.1, GOOD }, { "chw_flow", 20.0, GOOD },
        { "cw_return_temp", 28.0, GOOD }, { "evap_sat_temp", 12.0, GOOD }, { "cond_sat_temp", 28.0, GOOD },
        { "running", 0, GOOD }, { "power_kw", 0.0, GOOD } },
      { { "cooling_kw", 1.163 * 20.0 * 0.1, GOOD }, { "cop", ANY, NONE }, { "kw_per_ton", ANY, NONE },
        { "chw_delta_t", ANY, NONE }, { "evap_approach", ANY, NONE }, { "cond_approach", ANY, NONE } } },
    { "running below the power floor (5 % of rated)", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 20.0, GOOD } },
      { { "cooling_kw", 581.5, GOOD }, { "cop", ANY, NONE }, { "kw_per_ton", ANY, NONE } } },
    { "bad flow: cooling, COP and kW/ton bad", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 116.3, GOOD }, { "chw_flow", 0.0, BAD } },
      { { "cooling_kw", ANY, BAD }, { "cop", ANY, BAD }, { "kw_per_ton", ANY, BAD },
        { "part_load_ratio", ANY, BAD }, { "chw_delta_t", 5.0, GOOD } } },
    { "uncertain power: COP and kW/ton uncertain", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 5000.0, UNC } },
      { { "cooling_kw", 581.5, GOOD }, { "cop", ANY, UNC }, { "kw_per_ton", ANY, UNC },
        { "chw_delta_t", ANY, UNC }, { "evap_approach", ANY, UNC } } },
    { "a NaN supply temperature", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 116.3, GOOD }, { "chw_supply_temp", NAN, GOOD } },
      { { "cooling_kw", ANY, UNC }, { "cop", ANY, UNC }, { "chw_delta_t", ANY, UNC },
        { "evap_approach", ANY, UNC }, { "cond_approach", 1.75, GOOD } } },
    { "running state unknown: figures bad", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 116.3, GOOD }, { "running", 0, BAD } },
      { { "cooling_kw", 581.5, GOOD }, { "cop", ANY, BAD }, { "kw_per_ton", ANY, BAD }, { "chw_delta_t", ANY, BAD } } },
    { "running with delta-T reversed: COP and kW/ton uncertain", MAP_FLOW,
      { RUNNING_5K, { "power_kw", 116.3, GOOD }, { "chw_return_temp", 6.5, GOOD } },
      { { "cooling_kw", 1.163 * 100.0 * -0.5, GOOD }, { "cop", ANY, UNC }, { "kw_per_ton", ANY, UNC },
        { "chw_delta_t", -0.5, GOOD } } },
};

/* A case's inputs: later entries of the same name replace earlier ones. */
static size_t case_inputs(const struct kt_in *in, size_t max, struct kt_in *out)
{
    size_t n = 0;
    for (size_t i = 0; i < max && in[i].name; i++) {
        size_t j = 0;
        while (j < n && strcmp(out[j].name, in[i].name) != 0)
            j++;
        out[j] = in[i];
        if (j == n)
            n++;
    }
    return n;
}

static void test_performance(void)
{
    for (size_t i = 0; i < N(perf_cases); i++) {
        const struct perf_case *c = &perf_cases[i];
        struct gw_device_info dev = device(c->map);
        struct kt_in in[16];
        size_t n = case_inputs(c->in, N(c->in), in);
        struct kt t;
        CU_ASSERT_FATAL(kt_open(&t, "chiller", &dev, T0_MS) == 0);
        CU_ASSERT(kt_step(&t, 0, in, n) == 0);
        for (size_t k = 0; k < N(c->out) && c->out[k].name; k++)
            CU_ASSERT(check_expect(&t, &c->out[k], c->what));
        kt_close(&t);
    }
}

/* The register's cooling figure is not added a second time. */
static void test_own_cooling_register(void)
{
    struct gw_device_info dev = device(MAP_REGISTER);
    struct kt_in in[] = { { "chw_supply_temp", 7, GOOD }, { "chw_return_temp", 12, GOOD },
                          { "cooling_kw", 500, GOOD }, { "power_kw", 100, GOOD }, { "running", 1, GOOD } };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "chiller", &dev, T0_MS) == 0);
    kt_step(&t, 0, in, N(in));
    int n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++)
        n += strcmp(t.sample.readings[i].name, "cooling_kw") == 0;
    CU_ASSERT_EQUAL(n, 1);
    kt_close(&t);
}

/* ---- run hours and starts ---------------------------------------------- */

struct run_step {
    double dt, power_kw;
    int q;
    struct expect out[4];
};

/* Running = power above running_kw (22.5 kW: 5 % of rated 450). */
static const struct run_step run_steps[] = {
    { 0, 0.0, GOOD, { { "running", 0, GOOD }, { "run_hours_delta", ANY, NONE }, { "starts_delta", ANY, NONE } } },
    { 10, 100.0, GOOD, { { "running", 1, GOOD }, { "run_hours_delta", 0, GOOD }, { "starts_delta", 1, GOOD } } },
    { 10, 100.0, GOOD, { { "running", 1, GOOD }, { "run_hours_delta", 10.0 / 3600, GOOD }, { "starts_delta", 0, GOOD } } },
    { 30, 0.0, GOOD, { { "running", 0, GOOD }, { "run_hours_delta", 30.0 / 3600, GOOD }, { "starts_delta", 0, GOOD } } },
    { 10, 22.5, GOOD, { { "running", 0, GOOD }, { "run_hours_delta", 0, GOOD }, { "starts_delta", 0, GOOD } } },
    { 10, 200.0, GOOD, { { "running", 1, GOOD }, { "run_hours_delta", 0, GOOD }, { "starts_delta", 1, GOOD } } },
    { 10, 0.0, BAD, { { "running", ANY, BAD }, { "run_hours_delta", 10.0 / 3600, GOOD }, { "starts_delta", ANY, BAD } } },
    { 10, 200.0, GOOD, { { "running", 1, GOOD }, { "run_hours_delta", ANY, BAD }, { "starts_delta", ANY, BAD } } },
    { 10, 200.0, UNC, { { "running", ANY, UNC }, { "run_hours_delta", 10.0 / 3600, GOOD }, { "starts_delta", ANY, UNC } } },
};

static void test_run_hours_and_starts(void)
{
    struct gw_point_info points[] = { { .name = "power_kw", .unit = "kW" } };
    struct gw_device_info dev = { .id = "ch", .kind = "chiller", .interval_s = 10, .points = points,
                                  .n_points = 1, .params = params, .n_params = 2 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "chiller", &dev, T0_MS) == 0);
    double hours = 0.0, starts = 0.0, v;
    for (size_t i = 0; i < N(run_steps); i++) {
        const struct run_step *st = &run_steps[i];
        struct kt_in in = { "power_kw", st->power_kw, (enum gw_quality)st->q };
        kt_step(&t, st->dt, &in, 1);
        char what[64];
        snprintf(what, sizeof what, "run step %zu", i);
        for (size_t k = 0; k < N(st->out) && st->out[k].name; k++)
            CU_ASSERT(check_expect(&t, &st->out[k], what));
        if (kt_good(&t, "run_hours_delta", &v))
            hours += v;
        if (kt_good(&t, "starts_delta", &v))
            starts += v;
    }
    CU_ASSERT(fabs(hours - 60.0 / 3600) < 1e-12);
    CU_ASSERT_EQUAL(starts, 2.0);
    kt_close(&t);
}

/* A controller that counts: its counters' deltas, nothing counted twice. */
static void test_controller_counts(void)
{
    struct gw_device_info dev = device(MAP_FLOW);
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "chiller", &dev, T0_MS) == 0);
    const double hours[] = { 4294967295.0, 0.0, 1.0 }, starts[] = { 65535.0, 0.0, 0.0 };
    for (int i = 0; i < 3; i++) {
        struct kt_in in[] = { RUNNING_5K, { "power_kw", 116.3, GOOD }, { "run_hours", hours[i], GOOD },
                              { "starts", starts[i], GOOD } };
        kt_step(&t, 3600, in, N(in));
    }
    double v;
    CU_ASSERT(kt_good(&t, "run_hours_delta", &v) && v == 1.0);
    CU_ASSERT(kt_good(&t, "starts_delta", &v) && v == 0.0);
    int n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++)
        n += strcmp(t.sample.readings[i].name, "run_hours_delta") == 0;
    CU_ASSERT_EQUAL(n, 1);
    kt_close(&t);
}

static void test_default_rules(void)
{
    struct gw_device_info dev = device(MAP_FLOW);
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "chiller", &dev, T0_MS) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t.plugin->default_rules);
    CU_ASSERT(kt_check_rules(t.plugin->default_rules) >= 3);
    kt_close(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("kind chiller", NULL, NULL);
    if (!s || !CU_add_test(s, "cooling, COP, kW/ton, delta-T, approaches, part load", test_performance) ||
        !CU_add_test(s, "the controller's cooling register is not repeated", test_own_cooling_register) ||
        !CU_add_test(s, "run hours and starts counted by the kind", test_run_hours_and_starts) ||
        !CU_add_test(s, "run hours and starts the controller counts", test_controller_counts) ||
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
