/*
 * The simulator's physics: schedules, the chiller's balances, meters that
 * integrate their power exactly, determinism for a seed.  Runs the model
 * directly, without a server.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/building.h"
#include "sim/simdevice.h"
#include "profile.h"

static double at(const char *local)
{
    double t;

    CU_ASSERT_EQUAL_FATAL(calendar_parse(local, 8 * 3600, &t), 0);
    return t;
}

static struct building *start(const char *local, uint64_t seed)
{
    struct building_params p;
    struct building *b = malloc(sizeof *b);

    building_params_default(&p);
    p.seed = seed;
    building_init(b, &p, at(local));
    return b;
}

static void run(struct building *b, double seconds, double dt)
{
    double end = b->t + seconds;

    while (b->t + dt <= end + 1e-9)
        building_step(b, b->t + dt);
}

static void test_calendar(void)
{
    struct sim_calendar c;

    calendar_at(at("2026-07-15 10:00"), 8 * 3600, &c);     /* a Wednesday */
    CU_ASSERT_TRUE(c.workday);
    CU_ASSERT_DOUBLE_EQUAL(c.hour, 10.0, 1e-9);
    CU_ASSERT_TRUE(calendar_occupancy(&c) > 0.9);
    CU_ASSERT_TRUE(calendar_plant_scheduled(&c));
    calendar_at(at("2026-07-15 07:29"), 8 * 3600, &c);
    CU_ASSERT_FALSE(calendar_plant_scheduled(&c));
    calendar_at(at("2026-07-15 07:31"), 8 * 3600, &c);
    CU_ASSERT_TRUE(calendar_plant_scheduled(&c));
    calendar_at(at("2026-07-15 18:00"), 8 * 3600, &c);
    CU_ASSERT_FALSE(calendar_plant_scheduled(&c));
    calendar_at(at("2026-07-15 03:00"), 8 * 3600, &c);
    CU_ASSERT_EQUAL(calendar_occupancy(&c), 0.0);
    calendar_at(at("2026-07-18 10:00"), 8 * 3600, &c);     /* a Saturday */
    CU_ASSERT_FALSE(c.workday);
    CU_ASSERT_FALSE(calendar_plant_scheduled(&c));
    CU_ASSERT_TRUE(calendar_occupancy(&c) < 0.1);
}

static void test_weather(void)
{
    struct building *summer = start("2026-07-20 15:00", 3);
    struct building *winter = start("2026-01-20 05:00", 3);

    CU_ASSERT_TRUE(summer->wx.temp > 26.0 && summer->wx.temp < 40.0);
    CU_ASSERT_TRUE(winter->wx.temp > -5.0 && winter->wx.temp < 12.0);
    CU_ASSERT_TRUE(summer->wx.wet_bulb < summer->wx.temp);
    CU_ASSERT_TRUE(summer->wx.dew_point < summer->wx.wet_bulb);
    CU_ASSERT_TRUE(summer->wx.solar > 0.0);
    CU_ASSERT_EQUAL(winter->wx.solar, 0.0);
    /* Psychrometrics against textbook values: 30 degC 50 % RH. */
    CU_ASSERT_DOUBLE_EQUAL(weather_wet_bulb(30.0, 50.0), 22.0, 0.4);
    CU_ASSERT_DOUBLE_EQUAL(weather_dew_point(30.0, 50.0), 18.4, 0.3);
    CU_ASSERT_DOUBLE_EQUAL(weather_enthalpy(30.0, 50.0), 64.3, 1.0);
    free(summer);
    free(winter);
}

static void test_cop_curve(void)
{
    struct plant_params pp = { .chiller_kw = 2000.0, .chiller_cop = 5.6, .boiler_kw = 1000.0 };
    struct plant p;

    plant_init(&p, &pp);
    const struct chiller *c = &p.chillers[0];
    CU_ASSERT_DOUBLE_EQUAL(plant_chiller_cop(c, 1.0, 30.0), 5.6, 1e-9);
    CU_ASSERT_TRUE(plant_chiller_cop(c, 0.2, 30.0) < plant_chiller_cop(c, 0.5, 30.0));
    CU_ASSERT_TRUE(plant_chiller_cop(c, 0.5, 30.0) < plant_chiller_cop(c, 0.9, 30.0));
    CU_ASSERT_TRUE(plant_chiller_cop(c, 0.8, 34.0) < plant_chiller_cop(c, 0.8, 30.0));
    CU_ASSERT_TRUE(plant_chiller_cop(c, 0.8, 30.0) < plant_chiller_cop(c, 0.8, 24.0));
}

/* cooling kW = 1.163 x flow x delta-T = COP x electrical kW, every minute
 * of a summer working day, for every running chiller. */
static void test_chiller_balance(void)
{
    struct building *b = start("2026-07-15 07:00", 5);
    int checked = 0;

    for (int minute = 0; minute < 11 * 60; minute++) {
        run(b, 60.0, 1.0);
        for (int i = 0; i < PLANT_CHILLERS; i++) {
            const struct chiller *c = &b->plant.chillers[i];

            if (!c->running)
                continue;
            double water = WATER_KW_PER_M3H_K * c->chw_flow * (c->chw_return - c->chw_supply);
            CU_ASSERT_DOUBLE_EQUAL(water / c->load_kw, 1.0, 0.01);
            CU_ASSERT_DOUBLE_EQUAL(c->cop * c->power_kw / c->load_kw, 1.0, 0.01);
            double rejected = WATER_KW_PER_M3H_K * c->cw_flow * (c->cw_return - c->cw_supply);
            CU_ASSERT_DOUBLE_EQUAL(rejected / (c->load_kw + c->power_kw), 1.0, 0.01);
            CU_ASSERT_TRUE(c->cop > 2.0 && c->cop < 7.0);
            CU_ASSERT_TRUE(c->evap_sat < c->chw_supply && c->chw_supply - c->evap_sat < 3.0);
            CU_ASSERT_TRUE(c->cond_sat > c->cw_return && c->cond_sat - c->cw_return < 3.0);
            checked++;
        }
    }
    CU_ASSERT_TRUE(checked > 600);      /* the plant did run */
    free(b);
}

/* The refrigerant an approach away from the water leaving each shell:
 * positive, wider with load, below the 3 K of the chiller kind's
 * approach rules at low and at full load (both chillers at their 105 %
 * limit); once stopped, back with the water around it. */
static void test_chiller_approaches(void)
{
    static const struct {
        double demand, plr;     /* of one chiller's capacity */
    } cases[] = { { 0.2, 0.2 }, { 0.9, 0.9 }, { 2.2, 1.05 } };
    struct plant_params pp = { .chiller_kw = 2000.0, .chiller_cop = 5.6, .boiler_kw = 1000.0 };
    struct weather wx = { .temp = 32.0, .wet_bulb = 26.0 };
    double last_evap = 0.0, last_cond = 0.0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct plant p;
        struct plant_input in = { .dt = 60.0, .cooling_on = true, .wx = &wx };
        const struct chiller *c = &p.chillers[0];

        plant_init(&p, &pp);
        in.cooling_kw = cases[i].demand * pp.chiller_kw;
        for (int minute = 0; minute < 30; minute++)
            plant_step(&p, &in);
        CU_ASSERT_TRUE_FATAL(c->running);
        CU_ASSERT_DOUBLE_EQUAL(c->plr, cases[i].plr, 1e-9);
        double evap = c->chw_supply - c->evap_sat, cond = c->cond_sat - c->cw_return;
        CU_ASSERT_TRUE(evap > 0.0 && evap < 3.0);
        CU_ASSERT_TRUE(cond > 0.0 && cond < 3.0);
        CU_ASSERT_TRUE(evap > last_evap && cond > last_cond);
        last_evap = evap;
        last_cond = cond;
        in.cooling_on = false;
        for (int minute = 0; minute < 180; minute++)
            plant_step(&p, &in);
        CU_ASSERT_FALSE(c->running);
        CU_ASSERT_DOUBLE_EQUAL(c->evap_sat, (c->chw_supply + c->chw_return) / 2.0, 0.5);
        CU_ASSERT_DOUBLE_EQUAL(c->cond_sat, (c->cw_supply + c->cw_return) / 2.0, 0.5);
    }
}

/* Loads: a night baseload well below the daytime peak, never zero. */
static void test_loads(void)
{
    struct building *b = start("2026-07-15 00:00", 9);
    double night = 0.0, peak = 0.0;

    for (int h = 0; h < 24; h++) {
        run(b, 3600.0, 10.0);
        double p = b->feeds[FEED_MAIN].power_kw;

        if (b->cal.hour >= 1.0 && b->cal.hour <= 5.0)
            night = fmax(night, p);
        peak = fmax(peak, p);
        double sum = 8.0;
        for (int f = FEED_LIGHTING; f < FEED_COUNT; f++)
            sum += b->feeds[f].power_kw;
        CU_ASSERT_DOUBLE_EQUAL(p, 1.015 * sum, 1e-6 * p);
    }
    CU_ASSERT_TRUE(night > 0.05 * peak);
    CU_ASSERT_TRUE(night < 0.3 * peak);
    CU_ASSERT_TRUE(peak > 1000.0);
    free(b);
}

/* A meter's counter grows by the integral of its power to within 0.5 %,
 * the integral taken as a poller would: trapezoids of minute samples. */
static void test_energy_balance(void)
{
    struct building *b = start("2026-07-15 06:00", 11);

    for (int f = 0; f < FEED_COUNT; f++) {
        double e0 = b->feeds[f].energy_kwh, integral = 0.0, p0 = b->feeds[f].power_kw;

        for (int minute = 0; minute < 12 * 60; minute++) {
            run(b, 60.0, 1.0);
            double p1 = b->feeds[f].power_kw;
            integral += (p0 + p1) / 2.0 * (60.0 / 3600.0);
            p0 = p1;
        }
        double counted = b->feeds[f].energy_kwh - e0;
        CU_ASSERT_TRUE(counted > 0.0);
        CU_ASSERT_DOUBLE_EQUAL(counted / integral, 1.0, 0.005);
    }
    free(b);
}

static bool same_building(const struct building *a, const struct building *b)
{
    return a->t == b->t && a->wx.temp == b->wx.temp &&
           a->feeds[FEED_MAIN].energy_kwh == b->feeds[FEED_MAIN].energy_kwh &&
           a->plant.chillers[0].chw_return == b->plant.chillers[0].chw_return &&
           a->plant.chillers[0].evap_sat == b->plant.chillers[0].evap_sat &&
           a->plant.chillers[0].cond_sat == b->plant.chillers[0].cond_sat &&
           a->plant.boiler.hw_supply == b->plant.boiler.hw_supply &&
           a->gas.volume_m3 == b->gas.volume_m3;
}

static void test_determinism(void)
{
    struct building *a = start("2026-03-02 00:00", 42);
    struct building *b = start("2026-03-02 00:00", 42);
    struct building *c = start("2026-03-02 00:00", 43);

    run(a, 2 * 86400.0, 5.0);
    run(b, 2 * 86400.0, 5.0);
    run(c, 2 * 86400.0, 5.0);
    CU_ASSERT_TRUE(same_building(a, b));
    CU_ASSERT_FALSE(same_building(a, c));
    free(a);
    free(b);
    free(c);
}

/* Winter mornings: the boiler fires, the hot-water loop warms, gas flows. */
static void test_boiler(void)
{
    struct building *b = start("2026-01-14 05:00", 2);

    run(b, 3.0 * 3600.0, 10.0);    /* 08:00 on a Wednesday */
    CU_ASSERT_TRUE(b->plant.boiler.enabled);
    CU_ASSERT_TRUE(b->plant.boiler.hw_supply > 45.0);
    CU_ASSERT_TRUE(b->plant.boiler.flue > b->plant.boiler.hw_return);
    CU_ASSERT_TRUE(b->gas.volume_m3 > 10.0);
    CU_ASSERT_TRUE(b->plant.boiler.starts >= 1.0);
    free(b);
}

/* The boiler's faults: a fouled heat exchanger sends the flue up by its
 * rise while firing; a short-cycling burner starts every on + off seconds
 * and keeps the boiler enabled, in any season. */
static void test_boiler_faults(void)
{
    struct building *clean = start("2026-01-14 07:00", 2), *fouled = start("2026-01-14 07:00", 2);

    fouled->plant.boiler.flue_rise = 150.0;
    run(clean, 1800.0, 10.0);
    run(fouled, 1800.0, 10.0);
    CU_ASSERT_TRUE(clean->plant.boiler.burner_on && fouled->plant.boiler.burner_on);
    CU_ASSERT_TRUE(clean->plant.boiler.flue < 220.0);
    CU_ASSERT_DOUBLE_EQUAL(fouled->plant.boiler.flue - clean->plant.boiler.flue, 150.0, 5.0);
    CU_ASSERT_DOUBLE_EQUAL(fouled->plant.boiler.heat_kw, clean->plant.boiler.heat_kw, 1e-6);
    free(clean);
    free(fouled);

    struct building *b = start("2026-07-15 12:00", 2);
    run(b, 600.0, 10.0);
    CU_ASSERT_FALSE(b->plant.boiler.enabled);
    double starts = b->plant.boiler.starts;
    b->plant.boiler.cycle_on_s = 180.0;
    b->plant.boiler.cycle_off_s = 180.0;
    run(b, 3600.0, 10.0);
    CU_ASSERT_TRUE(b->plant.boiler.enabled);
    CU_ASSERT_TRUE(b->plant.boiler.starts - starts >= 10.0 && b->plant.boiler.starts - starts <= 11.0);
    CU_ASSERT_TRUE(b->plant.boiler.hw_supply < 95.0);
    b->plant.boiler.cycle_on_s = b->plant.boiler.cycle_off_s = 0.0;
    starts = b->plant.boiler.starts;
    run(b, 3600.0, 10.0);
    CU_ASSERT_FALSE(b->plant.boiler.enabled || b->plant.boiler.burner_on);
    CU_ASSERT_EQUAL(b->plant.boiler.starts, starts);
    free(b);
}

/* ---- through the device layer ------------------------------------ */

static struct gw_profile *load_profile(const char *id)
{
    static char path[512];
    struct gw_profile *p = calloc(1, sizeof *p);
    struct gw_diag diag = { 0 };

    snprintf(path, sizeof path, "%s/config/profiles/%s.conf", GW_SOURCE_DIR, id);
    int rc = profile_load_file(path, p, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return p;
}

/* The sub-meter's uint32 0.01 kWh register, decoded by hand, counts what
 * the feed used. */
static void test_served_counter(void)
{
    struct gw_profile *p = load_profile("generic-submeter");
    struct building *b = start("2026-07-15 08:00", 4);
    struct sim_device d;
    struct role r;
    char err[100];

    CU_ASSERT_EQUAL_FATAL(role_make("meter", "lighting", 0, &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(simdev_init(&d, "em-lighting", p, &r, 1.0, 4), 0);
    simdev_refresh(&d, b, 0);
    uint16_t *e = &d.regs[1][64];
    double kwh0 = ((uint32_t)e[0] << 16 | e[1]) * 0.01;
    double used0 = b->feeds[FEED_LIGHTING].energy_kwh;

    CU_ASSERT_TRUE(kwh0 > 0.0);     /* an installed meter's reading */
    run(b, 4 * 3600.0, 2.0);
    simdev_refresh(&d, b, 1);
    double kwh1 = ((uint32_t)e[0] << 16 | e[1]) * 0.01;
    double used = b->feeds[FEED_LIGHTING].energy_kwh - used0;
    CU_ASSERT_TRUE(used > 100.0);
    CU_ASSERT_DOUBLE_EQUAL(kwh1 - kwh0, used, 0.011);
    simdev_free(&d);
    profile_free(p);
    free(p);
    free(b);
}

/* Every role's sim_clock serves the instant of the model step its values
 * belong to, in the unit its profile gives it; decoded by hand. */
static void test_served_clock(void)
{
    static const struct {
        const char *profile, *role, *which;
        unsigned address;
        double per_s;           /* register units per simulated second */
    } cases[] = {
        { "generic-meter-main", "meter", "main", 156, 1000.0 },
        { "generic-chiller", "chiller", NULL, 14, 1.0 },
        { "generic-weather", "weather", NULL, 0, 1.0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gw_profile *p = load_profile(cases[i].profile);
        struct building *b = start("2026-07-15 08:00", 4);
        struct sim_device d;
        struct role r;
        char err[100], missing[200];

        CU_ASSERT_EQUAL_FATAL(role_make(cases[i].role, cases[i].which, 1, &r, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(simdev_init(&d, "dev", p, &r, 1.0, 4), 0);
        simdev_unsimulated(&d, missing, sizeof missing);
        CU_ASSERT_PTR_NULL(strstr(missing, "sim_clock"));
        const uint16_t *c = &d.regs[1][cases[i].address];
        for (int k = 0; k < 2; k++) {
            simdev_refresh(&d, b, k);
            uint64_t raw = (uint64_t)c[0] << 48 | (uint64_t)c[1] << 32 | (uint64_t)c[2] << 16 | c[3];
            CU_ASSERT_EQUAL(raw, (uint64_t)llround(b->t * cases[i].per_s));
            CU_ASSERT_DOUBLE_EQUAL(simdev_binding(&d, "sim_clock")->value, b->t * cases[i].per_s, 0);
            run(b, 3600.0, 60.0);
        }
        CU_ASSERT_DOUBLE_EQUAL(b->t, at("2026-07-15 10:00"), 1e-6);
        simdev_free(&d);
        profile_free(p);
        free(p);
        free(b);
    }
}

/* Points a role does not know are served as zero and listed. */
static void test_unsimulated(void)
{
    struct gw_profile *p = load_profile("generic-chiller");
    struct sim_device d;
    struct role r;
    char err[100], missing[200];

    CU_ASSERT_EQUAL_FATAL(role_make("pump", "chw", 1, &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(simdev_init(&d, "odd", p, &r, 1.0, 1), 0);
    simdev_unsimulated(&d, missing, sizeof missing);
    CU_ASSERT_PTR_NOT_NULL(strstr(missing, "chw_supply_temp"));
    CU_ASSERT_PTR_NULL(strstr(missing, "running"));
    CU_ASSERT_EQUAL(role_make("pump", "steam", 1, &r, err, sizeof err), -EINVAL);
    CU_ASSERT_EQUAL(role_make("chiller", NULL, 3, &r, err, sizeof err), -EINVAL);
    CU_ASSERT_EQUAL(role_make("meter", "kitchen", 0, &r, err, sizeof err), -EINVAL);
    simdev_free(&d);
    profile_free(p);
    free(p);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sim_model", NULL, NULL);

    CU_add_test(s, "calendar and schedules", test_calendar);
    CU_add_test(s, "weather", test_weather);
    CU_add_test(s, "chiller COP curve", test_cop_curve);
    CU_add_test(s, "chiller balances", test_chiller_balance);
    CU_add_test(s, "chiller approaches", test_chiller_approaches);
    CU_add_test(s, "loads and night baseload", test_loads);
    CU_add_test(s, "energy balance", test_energy_balance);
    CU_add_test(s, "determinism for a seed", test_determinism);
    CU_add_test(s, "boiler", test_boiler);
    CU_add_test(s, "boiler faults: fouling, short cycling", test_boiler_faults);
    CU_add_test(s, "served counter", test_served_counter);
    CU_add_test(s, "served clock", test_served_clock);
    CU_add_test(s, "unsimulated points", test_unsimulated);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();

    CU_cleanup_registry();
    return failed ? 1 : 0;
}
