/*
 * The boiler kind, loaded from the built boiler.so: thermal output from
 * the controller or from flow x delta-T, efficiency on the LHV basis (and
 * HHV when given) with exact expected values, nothing while the burner is
 * off, bad, uncertain and implausible inputs passed on; burner starts in
 * the rolling hour, counted by the kind or from the controller's counter;
 * burner hours; flue temperature left as read; the default rules.
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

/* ---- output and efficiency --------------------------------------------- */

enum map { MAP_REGISTER, MAP_FLOW };

static const struct gw_point_info register_points[] = {
    { .name = "hw_supply_temp" }, { .name = "hw_return_temp" }, { .name = "flue_temp" },
    { .name = "burner_on" },      { .name = "gas_flow" },       { .name = "heat_kw" },
};
static const struct gw_point_info flow_points[] = {
    { .name = "hw_supply_temp" }, { .name = "hw_return_temp" }, { .name = "hw_flow" },
    { .name = "burner_on" },      { .name = "gas_flow" },
};

struct eff_case {
    const char *what;
    enum map map;
    double hhv;             /* gas_hhv_kwh_m3 param; 0: none */
    struct kt_in in[6];
    struct expect out[4];
};

static const struct eff_case eff_cases[] = {
    { "LHV basis, the controller's output", MAP_REGISTER, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 100.0, GOOD }, { "heat_kw", 900.0, GOOD }, { "flue_temp", 120.0, GOOD } },
      { { "efficiency", 900.0 / (100.0 * 9.97), GOOD }, { "efficiency_hhv", ANY, NONE }, { "heat_kw", 900.0, GOOD } } },
    { "HHV basis too, when its heating value is given", MAP_REGISTER, 11.06,
      { { "burner_on", 1, GOOD }, { "gas_flow", 100.0, GOOD }, { "heat_kw", 900.0, GOOD } },
      { { "efficiency", 900.0 / 997.0, GOOD }, { "efficiency_hhv", 900.0 / 1106.0, GOOD } } },
    { "output from flow x delta-T", MAP_FLOW, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 50.0, GOOD }, { "hw_flow", 20.0, GOOD },
        { "hw_supply_temp", 80.0, GOOD }, { "hw_return_temp", 60.0, GOOD } },
      { { "heat_kw", 1.163 * 20.0 * 20.0, GOOD }, { "efficiency", 1.163 * 400.0 / (50.0 * 9.97), GOOD } } },
    { "burner off: no efficiency", MAP_REGISTER, 0,
      { { "burner_on", 0, GOOD }, { "gas_flow", 0.0, GOOD }, { "heat_kw", 0.0, GOOD } },
      { { "efficiency", ANY, NONE }, { "heat_kw", 0.0, GOOD } } },
    { "firing with no gas measured", MAP_REGISTER, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 0.0, GOOD }, { "heat_kw", 500.0, GOOD } },
      { { "efficiency", ANY, UNC } } },
    { "bad gas flow", MAP_REGISTER, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 0.0, BAD }, { "heat_kw", 500.0, GOOD } },
      { { "efficiency", ANY, BAD } } },
    { "uncertain output", MAP_REGISTER, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 60.0, GOOD }, { "heat_kw", 9999.0, UNC } },
      { { "efficiency", ANY, UNC } } },
    { "beyond what LHV allows", MAP_REGISTER, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 100.0, GOOD }, { "heat_kw", 1200.0, GOOD } },
      { { "efficiency", ANY, UNC } } },
    { "burner state bad", MAP_REGISTER, 0,
      { { "burner_on", 0, BAD }, { "gas_flow", 100.0, GOOD }, { "heat_kw", 900.0, GOOD } },
      { { "efficiency", ANY, BAD } } },
    { "a NaN return temperature", MAP_FLOW, 0,
      { { "burner_on", 1, GOOD }, { "gas_flow", 50.0, GOOD }, { "hw_flow", 20.0, GOOD },
        { "hw_supply_temp", 80.0, GOOD }, { "hw_return_temp", NAN, GOOD } },
      { { "heat_kw", ANY, UNC }, { "efficiency", ANY, UNC } } },
};

static void test_efficiency(void)
{
    for (size_t i = 0; i < N(eff_cases); i++) {
        const struct eff_case *c = &eff_cases[i];
        struct gw_param params[] = { { "gas_hhv_kwh_m3", c->hhv } };
        struct gw_device_info dev = { .id = "b", .kind = "boiler", .interval_s = 10,
                                      .points = c->map == MAP_FLOW ? flow_points : register_points,
                                      .n_points = c->map == MAP_FLOW ? N(flow_points) : N(register_points),
                                      .params = params, .n_params = c->hhv > 0 };
        size_t n = 0;
        while (n < N(c->in) && c->in[n].name)
            n++;
        struct kt t;
        CU_ASSERT_FATAL(kt_open(&t, "boiler", &dev, T0_MS) == 0);
        CU_ASSERT(kt_step(&t, 0, c->in, n) == 0);
        for (size_t k = 0; k < N(c->out) && c->out[k].name; k++)
            CU_ASSERT(check_expect(&t, &c->out[k], c->what));
        kt_close(&t);
    }
}

/* The flue temperature is the controller's, passed through unchanged. */
static void test_flue_passthrough(void)
{
    struct gw_device_info dev = { .id = "b", .kind = "boiler", .interval_s = 10, .points = register_points,
                                  .n_points = N(register_points) };
    struct kt_in in[] = { { "burner_on", 1, GOOD }, { "gas_flow", 80.0, GOOD }, { "heat_kw", 700.0, GOOD },
                          { "flue_temp", 151.5, GOOD } };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "boiler", &dev, T0_MS) == 0);
    kt_step(&t, 0, in, N(in));
    int n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++)
        n += strcmp(t.sample.readings[i].name, "flue_temp") == 0;
    double v;
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT(kt_good(&t, "flue_temp", &v) && v == 151.5);
    kt_close(&t);
}

/* ---- starts per hour ---------------------------------------------------- */

/* Starts in (t - 1 h, t] of a list of start times. */
static int starts_in_hour(const double *at, size_t n, double t)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += at[i] > t - 3600.0 && at[i] <= t;
    return k;
}

/* Two hours of a burner cycling: on for 4 min, off for a varying time.
 * The kind counts the starts; its figure is good once it has seen a whole
 * hour, and always the count of starts in the last hour. */
static void test_starts_counted(void)
{
    struct gw_point_info points[] = { { .name = "burner_on" } };
    struct gw_device_info dev = { .id = "b", .kind = "boiler", .interval_s = 60, .points = points, .n_points = 1 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "boiler", &dev, T0_MS) == 0);
    double starts[64], hours = 0.0, v;
    size_t n = 0;
    int wrong = 0, prev = 0;
    for (int minute = 0; minute <= 180; minute++) {
        int cycle = 10 + (minute / 60) * 4;       /* 10, 14, 18 minute cycles */
        int on = minute % cycle < 4;
        if (on && !prev && minute > 0)
            starts[n++] = minute * 60.0;
        prev = on;
        struct kt_in in = { "burner_on", on, GOOD };
        kt_step(&t, 60, &in, 1);
        const struct gw_reading *r = kt_get(&t, "starts_per_hour");
        int expect_q = minute >= 60 ? GOOD : UNC;
        if (!r || (int)r->quality != expect_q || r->value != starts_in_hour(starts, n, minute * 60.0)) {
            fprintf(stderr, "\n  minute %d: starts_per_hour %g (%d), expected %d (%d)", minute, r ? r->value : NAN,
                    r ? (int)r->quality : NONE, starts_in_hour(starts, n, minute * 60.0), expect_q);
            wrong++;
        }
        if (kt_good(&t, "burner_hours_delta", &v))
            hours += v;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    /* 4 minutes on in every cycle, the last cycle's run time included. */
    int on_minutes = 0;
    for (int minute = 0; minute < 180; minute++)
        on_minutes += minute % (10 + (minute / 60) * 4) < 4;
    CU_ASSERT(fabs(hours - on_minutes / 60.0) < 1e-9);
    kt_close(&t);
}

/* The controller counts starts: the counter's deltas feed the hour; a bad
 * reading makes it uncertain for the next hour. */
static void test_starts_from_counter(void)
{
    struct gw_point_info points[] = { { .name = "burner_on" },
                                      { .name = "burner_starts", .is_counter = 1, .wrap = 4294967296.0 },
                                      { .name = "burner_hours", .unit = "h", .is_counter = 1, .wrap = 4294967296.0 } };
    struct gw_device_info dev = { .id = "b", .kind = "boiler", .interval_s = 600, .points = points, .n_points = 3 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "boiler", &dev, T0_MS) == 0);
    /* Every 10 minutes: starts counted so far. */
    const double counter[] = { 500, 501, 503, 503, 506, 507, 507, 509, 0, 510, 512 };
    const int q[] = { GOOD, GOOD, GOOD, GOOD, GOOD, GOOD, GOOD, GOOD, BAD, GOOD, GOOD };
    const int expect[] = { 0, 1, 3, 3, 6, 7, 7, 8, -1, 7, 6 };
    const int expect_q[] = { UNC, UNC, UNC, UNC, UNC, UNC, GOOD, GOOD, UNC, UNC, UNC };
    for (size_t i = 0; i < N(counter); i++) {
        struct kt_in in[] = { { "burner_on", 0, GOOD }, { "burner_starts", counter[i], (enum gw_quality)q[i] },
                              { "burner_hours", 10, GOOD } };
        kt_step(&t, 600, in, N(in));
        const struct gw_reading *r = kt_get(&t, "starts_per_hour");
        bool ok = r && (int)r->quality == expect_q[i] && (expect[i] < 0 || r->value == expect[i]);
        if (!ok)
            fprintf(stderr, "\n  sample %zu: starts_per_hour %g (%d)\n", i, r ? r->value : NAN, r ? (int)r->quality : NONE);
        CU_ASSERT(ok);
        if (i == 0)
            CU_ASSERT_PTR_NULL(kt_get(&t, "burner_starts_delta"));
    }
    /* The controller's counters: no counts of the kind's own. */
    CU_ASSERT(kt_get(&t, "burner_starts_delta") && kt_get(&t, "burner_hours_delta"));
    int n = 0;
    for (size_t i = 0; i < t.sample.n_readings; i++)
        n += strcmp(t.sample.readings[i].name, "burner_starts_delta") == 0;
    CU_ASSERT_EQUAL(n, 1);
    kt_close(&t);
}

static void test_default_rules(void)
{
    struct gw_device_info dev = { .id = "b", .kind = "boiler", .interval_s = 10 };
    struct kt t;
    CU_ASSERT_FATAL(kt_open(&t, "boiler", &dev, T0_MS) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t.plugin->default_rules);
    CU_ASSERT(kt_check_rules(t.plugin->default_rules) >= 3);
    kt_close(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("kind boiler", NULL, NULL);
    if (!s || !CU_add_test(s, "thermal output and efficiency", test_efficiency) ||
        !CU_add_test(s, "flue temperature passed through", test_flue_passthrough) ||
        !CU_add_test(s, "starts per hour counted by the kind, burner hours", test_starts_counted) ||
        !CU_add_test(s, "starts per hour from the controller's counter", test_starts_from_counter) ||
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
