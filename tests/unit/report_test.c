/*
 * greenwatch report (tools/greenwatch/report.h) without a database:
 * calendar months in Asia/Shanghai and across DST in Europe/Berlin; every
 * figure of the model from synthetic query results, against values
 * computed by hand; gaps; the CSV and Portfolio Manager CSV byte for
 * byte; the HTML well-formed, self-contained and with its Chinese text.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "harness.h"
#include "report.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* Equal within a relative 1e-9 (sums in a different order differ in the
 * last bits). */
static double tolerance(double want)
{
    return 1e-9 * (fabs(want) > 1 ? fabs(want) : 1);
}
#define CLOSE(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), tolerance(b))

/* ---- calendar months ------------------------------------------------------------ */

static void test_parse_month(void)
{
    int y, m;
    CU_ASSERT_EQUAL(report_parse_month("2026-01", &y, &m), 0);
    CU_ASSERT_EQUAL(y, 2026);
    CU_ASSERT_EQUAL(m, 1);
    const char *bad[] = { "2026-13", "2026-00", "2026-1", "26-01", "2026-01-01", "", "2026/01", "1969-12" };
    for (size_t i = 0; i < N(bad); i++)
        CU_ASSERT_EQUAL(report_parse_month(bad[i], &y, &m), -EINVAL);
}

static void test_months_shanghai(void)
{
    struct report_month *m;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(report_months("Asia/Shanghai", 2025, 12, 2026, 2, &m, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    /* local midnight of each first day, UTC+8 all year */
    const int64_t starts[] = { 1764518400, 1767196800, 1769875200, 1772294400 };
    const int years[] = { 2025, 2026, 2026 }, months[] = { 12, 1, 2 };
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(m[i].year, years[i]);
        CU_ASSERT_EQUAL(m[i].month, months[i]);
        CU_ASSERT_EQUAL(m[i].start, starts[i]);
        CU_ASSERT_EQUAL(m[i].end, starts[i + 1]);
    }
    CU_ASSERT_EQUAL(m[2].end - m[2].start, 28 * 86400);
    free(m);
    CU_ASSERT_EQUAL(report_months("Asia/Shanghai", 2026, 2, 2026, 1, &m, &n), -EINVAL);
    CU_ASSERT_EQUAL(report_months("Mars/Olympus_Mons", 2026, 1, 2026, 1, &m, &n), -EINVAL);
    CU_ASSERT_EQUAL(report_months("../../etc/passwd", 2026, 1, 2026, 1, &m, &n), -EINVAL);
}

static void test_months_berlin_dst(void)
{
    struct report_month *m;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(report_months("Europe/Berlin", 2026, 3, 2026, 10, &m, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 8);
    CU_ASSERT_EQUAL(m[0].start, 1772319600);   /* 2026-03-01T00:00+01:00 */
    CU_ASSERT_EQUAL(m[0].end, 1774994400);     /* 2026-04-01T00:00+02:00 */
    CU_ASSERT_EQUAL(m[0].end - m[0].start, 31 * 86400 - 3600);   /* the spring change: an hour short */
    CU_ASSERT_EQUAL(m[7].start, 1790805600);   /* 2026-10-01T00:00+02:00 */
    CU_ASSERT_EQUAL(m[7].end, 1793487600);     /* 2026-11-01T00:00+01:00 */
    CU_ASSERT_EQUAL(m[7].end - m[7].start, 31 * 86400 + 3600);   /* the autumn change: an hour long */
    for (size_t i = 1; i < n; i++)
        CU_ASSERT_EQUAL(m[i].start, m[i - 1].end);
    free(m);
    /* the caller's TZ is left as it was */
    CU_ASSERT_PTR_NULL(getenv("TZ"));
}

/* ---- gaps ---------------------------------------------------------------------- */

static void test_gaps_build(void)
{
    struct report_gap *g = NULL;
    size_t n = 0;
    const int64_t end[] = { 50000, 70000 }, len[] = { 35000, 20000 };
    /* a late first sample, one long interval (the other is short), an early last one */
    CU_ASSERT_EQUAL(report_gaps_build(0, 100000, 40000, 60000, end, len, 2, 30000, &g, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(g[0].from_ms, 0);
    CU_ASSERT_EQUAL(g[0].to_ms, 40000);
    CU_ASSERT_EQUAL(g[1].from_ms, 15000);
    CU_ASSERT_EQUAL(g[1].to_ms, 50000);
    CU_ASSERT_EQUAL(g[2].from_ms, 60000);
    CU_ASSERT_EQUAL(g[2].to_ms, 100000);
    free(g);
    g = NULL;
    n = 0;
    /* no sample at all: the whole range */
    CU_ASSERT_EQUAL(report_gaps_build(1000, 9000, -1, -1, NULL, NULL, 0, 30, &g, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(g[0].from_ms, 1000);
    CU_ASSERT_EQUAL(g[0].to_ms, 9000);
    free(g);
    g = NULL;
    n = 0;
    /* samples right at both ends: nothing */
    CU_ASSERT_EQUAL(report_gaps_build(0, 100000, 10, 99990, NULL, NULL, 0, 30000, &g, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    free(g);
}

/* ---- the model ------------------------------------------------------------------ */

enum {
    EM_MAIN, EM_LIGHT, EM_HVAC_PLANT, EM_HVAC_TERM, EM_POWER, EM_SPECIAL, WM_MAIN, WM_TOWER, WM_DOMESTIC,
    GM_1, CHILLER_1, CHILLER_2, BOILER_1, WEATHER, N_DEVICES
};

static struct report_device devices[N_DEVICES] = {
    [EM_MAIN] = { "em-main", "meter", "01000", REPORT_ELECTRICITY, REPORT_ROLE_METER, true, 10, "energy_kwh", false, 0 },
    [EM_LIGHT] = { "em-lighting", "meter", "01A00", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 10, "energy_kwh", false, 0 },
    [EM_HVAC_PLANT] = { "em-hvac-plant", "meter", "01B10", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 10, "energy_kwh", false, 0 },
    [EM_HVAC_TERM] = { "em-hvac-terminal", "meter", "01B20", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 10, "energy_kwh", false, 0 },
    [EM_POWER] = { "em-power", "meter", "01C00", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 10, "energy_kwh", false, 0 },
    [EM_SPECIAL] = { "em-special", "meter", "01D00", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 10, "energy_kwh", false, 0 },
    [WM_MAIN] = { "wm-main", "meter", NULL, REPORT_WATER, REPORT_ROLE_METER, true, 60, "volume_m3", false, 0 },
    [WM_TOWER] = { "wm-cooling-tower", "meter", "01B10", REPORT_WATER, REPORT_ROLE_METER, false, 60, "volume_m3", false, 0 },
    [WM_DOMESTIC] = { "wm-domestic", "meter", NULL, REPORT_WATER, REPORT_ROLE_METER, false, 60, "volume_m3", false, 0 },
    [GM_1] = { "gm-1", "meter", NULL, REPORT_GAS, REPORT_ROLE_METER, false, 60, "volume_m3", false, 0 },
    [CHILLER_1] = { "chiller-1", "chiller", "01B10", REPORT_ELECTRICITY, REPORT_ROLE_CHILLER, false, 10, "chw_supply_temp", false, 0 },
    [CHILLER_2] = { "chiller-2", "chiller", "01B10", REPORT_ELECTRICITY, REPORT_ROLE_CHILLER, false, 10, "chw_supply_temp", false, 0 },
    [BOILER_1] = { "boiler-1", "boiler", "01B10", REPORT_GAS, REPORT_ROLE_BOILER, false, 10, "hw_supply_temp", false, 10.0 },
    [WEATHER] = { "weather", "generic", NULL, -1, REPORT_ROLE_OTHER, false, 60, "outdoor_temp", true, 0 },
};

static struct report_setup setup_for(struct report_device *devs, size_t n)
{
    return (struct report_setup){
        .site_id = "demo-tower", .site_name = "Demo Tower", .timezone = "Asia/Shanghai", .floor_area_m2 = 1000,
        .devices = devs, .n_devices = n,
        .factors = { "China national grid average 2022", "MEE & NBS 2024", 2022, { 0.5366, -1, 2.0, -1 } },
        .occupied_from_min = 7 * 60 + 30, .occupied_to_min = 18 * 60, .gas_kwh_per_m3 = 9.97, .anomaly_pct = 20,
        .estimated_below_pct = 95, .gap_intervals = 3, .bucket_s = 900,
    };
}

static const struct report_bucket jan_buckets[] = {
    { 1767571200000, 10 },   /* Mon 2026-01-05 08:00: occupied */
    { 1767568500000, 5 },    /* Mon 07:15: before hours */
    { 1767569400000, 5 },    /* Mon 07:30: occupied from here */
    { 1767606300000, 7 },    /* Mon 17:45: the last occupied quarter */
    { 1767607200000, 4 },    /* Mon 18:00: after hours */
    { 1768017600000, 6 },    /* Sat 2026-01-10 12:00: weekend */
};

static const struct report_day jan_days[] = {
    { 0, 10 }, { 0, 20 }, { 0, 30 }, { 0, 18 }, { 0, 26 }, { 0, NAN },
};

/* Synthetic query results: a year of history (only em-main in two months)
 * and the period 2026-01 .. 2026-02. */
static int make_input(struct report_input *in)
{
    struct report_month *months;
    size_t n;
    if (report_months("Asia/Shanghai", 2025, 1, 2026, 2, &months, &n) || n != 14)
        return -1;
    int rc = report_input_init(in, months, n, 12, N_DEVICES);
    free(months);
    if (rc)
        return rc;
    in->months[0].dev[EM_MAIN].use = 5000;     /* 2025-01 */
    in->months[11].dev[EM_MAIN].use = 10000;   /* 2025-12 */
    struct report_month_data *jan = &in->months[12], *feb = &in->months[13];
    const double jan_use[N_DEVICES] = { 10000, 3000, 2500, 1500, 1000, 500, 1000, 600, 350, 100, NAN, NAN, NAN, NAN };
    for (size_t d = 0; d < N_DEVICES; d++) {
        jan->dev[d].use = jan_use[d];
        jan->dev[d].samples = (double)(jan->m.end - jan->m.start) / devices[d].interval_s;   /* complete */
        feb->dev[d].samples = (double)(feb->m.end - feb->m.start) / devices[d].interval_s;
    }
    jan->dev[EM_MAIN].samples = 241056;            /* 90 % of 267,840 */
    jan->dev[EM_MAIN].peak_kw = 800;
    jan->dev[EM_MAIN].peak_ms = 1767571200000;
    jan->dev[EM_LIGHT].peak_kw = 3000;             /* a sub-meter: not the site's peak */
    jan->dev[CHILLER_1].cooling_sum = 5000;
    jan->dev[CHILLER_1].power_sum = 1000;
    jan->dev[CHILLER_2].cooling_sum = 3000;
    jan->dev[CHILLER_2].power_sum = 1000;
    jan->dev[BOILER_1].heat_sum = 900;
    jan->dev[BOILER_1].gas_sum = 100;              /* x 10 kWh/m3 = 1000 kWh */
    feb->dev[EM_MAIN].use = 11200;                 /* 400 a day against 322.58 in January */
    feb->dev[EM_MAIN].peak_kw = 900;
    feb->dev[EM_MAIN].peak_ms = 1770000000000;
    feb->dev[WM_MAIN].use = 900;
    feb->dev[WM_TOWER].use = 500;
    feb->dev[WM_DOMESTIC].use = 300;
    feb->dev[WEATHER].samples = 0;                 /* the weather station was down in February */
    if (!(jan->buckets = malloc(sizeof jan_buckets)) || !(jan->days = malloc(sizeof jan_days)))
        return -ENOMEM;
    memcpy(jan->buckets, jan_buckets, sizeof jan_buckets);
    jan->n_buckets = N(jan_buckets);
    memcpy(jan->days, jan_days, sizeof jan_days);
    jan->n_days = N(jan_days);
    /* a gap of em-main over the month's end, joined in the period */
    struct report_dev_data *a = &jan->dev[EM_MAIN], *b = &feb->dev[EM_MAIN];
    if (report_gaps_build(jan->m.start * 1000, jan->m.end * 1000, jan->m.start * 1000, jan->m.end * 1000 - 3600000,
                          NULL, NULL, 0, 35000, &a->gaps, &a->n_gaps) ||
        report_gaps_build(feb->m.start * 1000, feb->m.end * 1000, feb->m.start * 1000 + 1800000, feb->m.end * 1000,
                          NULL, NULL, 0, 35000, &b->gaps, &b->n_gaps))
        return -ENOMEM;
    return 0;
}

static void test_model_figures(void)
{
    struct report_setup s = setup_for(devices, N_DEVICES);
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(make_input(&in), 0);
    CU_ASSERT_EQUAL_FATAL(report_compute(&s, &in, &r), 0);
    CU_ASSERT_EQUAL_FATAL(r.n_months, 2);
    const struct report_figures *jan = &r.monthly[0], *feb = &r.monthly[1], *t = &r.total;

    /* categories: sub-codes rolled up; the main meter in none */
    CLOSE(jan->category_kwh[REPORT_CAT_A], 3000);
    CLOSE(jan->category_kwh[REPORT_CAT_B], 4000);
    CLOSE(jan->category_kwh[REPORT_CAT_C], 1000);
    CLOSE(jan->category_kwh[REPORT_CAT_D], 500);
    CU_ASSERT(isnan(jan->category_kwh[REPORT_CAT_OTHER]));
    /* energy: the main meter; gap = (10000 - 8500) / 10000 */
    CLOSE(jan->energy_use[REPORT_ELECTRICITY], 10000);
    CLOSE(jan->submetered[REPORT_ELECTRICITY], 8500);
    CLOSE(jan->gap_pct[REPORT_ELECTRICITY], 15.0);
    /* water: 1000 against 600 + 350: 5 % */
    CLOSE(jan->energy_use[REPORT_WATER], 1000);
    CLOSE(jan->gap_pct[REPORT_WATER], 5.0);
    CLOSE(feb->gap_pct[REPORT_WATER], 100.0 / 9.0);
    /* gas without a main meter: the sum of its meters, no gap */
    CLOSE(jan->energy_use[REPORT_GAS], 100);
    CU_ASSERT(isnan(jan->gap_pct[REPORT_GAS]));
    /* site energy, EUI, CO2e */
    CLOSE(jan->site_kwh, 10000 + 100 * 9.97);
    CLOSE(jan->eui, 10.997);
    CLOSE(jan->co2e_kg[REPORT_ELECTRICITY], 5366);
    CLOSE(jan->co2e_kg[REPORT_GAS], 200);
    CLOSE(jan->co2e_total_kg, 5566);
    CU_ASSERT(isnan(jan->co2e_kg[REPORT_WATER]));
    CLOSE(jan->water_m3_per_m2, 1.0);
    /* the period: 59 days, annualised by days */
    CLOSE(t->days, 59);
    CLOSE(t->energy_use[REPORT_ELECTRICITY], 21200);
    CLOSE(t->site_kwh, 21200 + 997);
    CLOSE(t->eui, 22.197);
    CLOSE(t->eui_annual, 22.197 * 365 / 59);
    CLOSE(t->water_m3_per_m2, 1.9);
    CLOSE(t->water_m3_per_m2_annual, 1.9 * 365 / 59);
    CLOSE(t->co2e_total_kg, 21200 * 0.5366 + 200);
    /* peak: the main meter's, the highest month's */
    CLOSE(jan->peak_kw, 800);
    CU_ASSERT_STRING_EQUAL(jan->peak_device, "em-main");
    CLOSE(t->peak_kw, 900);
    CU_ASSERT_EQUAL(t->peak_ms, 1770000000000);
    /* out of hours: 5 + 4 + 6 of 37 */
    CLOSE(jan->bucket_kwh, 37);
    CLOSE(jan->out_of_hours_kwh, 15);
    CLOSE(jan->baseload_share, 15.0 / 37.0);
    CU_ASSERT(isnan(feb->baseload_share));
    /* chiller plant: (5000 + 3000) / (1000 + 1000) */
    CLOSE(jan->cop, 4.0);
    CLOSE(jan->kw_per_ton, 2000 / (8000 / 3.51685));
    CLOSE(jan->dev[CHILLER_1].cop, 5.0);
    CLOSE(jan->boiler_efficiency, 0.9);
    CU_ASSERT(isnan(feb->cop));
    CLOSE(t->cop, 4.0);
    /* degree days of 10, 20, 30, 18, 26 degC */
    CLOSE(jan->hdd, 8);
    CLOSE(jan->cdd, 4);
    CU_ASSERT_EQUAL(jan->temp_days, 5);
    CU_ASSERT(isnan(feb->hdd));
    /* completeness */
    CLOSE(jan->dev[EM_MAIN].completeness, 0.9);
    CLOSE(jan->dev[EM_LIGHT].completeness, 1.0);
    CLOSE(feb->dev[WEATHER].completeness, 0.0);
    CLOSE(t->dev[EM_MAIN].completeness, (241056.0 + 241920.0) / (267840.0 + 241920.0));
    CU_ASSERT(report_estimated(&r, 0, EM_MAIN));
    CU_ASSERT(!report_estimated(&r, 1, EM_MAIN));
    /* the gap over the month's end is one gap */
    CU_ASSERT_EQUAL_FATAL(r.n_gaps[EM_MAIN], 1);
    CU_ASSERT_EQUAL(r.gaps[EM_MAIN][0].from_ms, r.months[0].end * 1000 - 3600000);
    CU_ASSERT_EQUAL(r.gaps[EM_MAIN][0].to_ms, r.months[1].start * 1000 + 1800000);
    report_free(&r);
    report_input_free(&in, N_DEVICES);
}

static void test_model_anomalies(void)
{
    struct report_setup s = setup_for(devices, N_DEVICES);
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(make_input(&in), 0);
    CU_ASSERT_EQUAL_FATAL(report_compute(&s, &in, &r), 0);
    /* January: twice January 2025 (YoY), as December (MoM: none).
     * February: 400 a day against 322.58 (MoM +24 %), no February 2025. */
    struct { size_t month; const char *scope, *what; bool yoy; double change; } want[] = {
        { 0, "meter", "em-main", true, 100.0 },
        { 0, "energy", "electricity", true, 100.0 },
        { 1, "meter", "em-main", false, (400.0 / (10000.0 / 31.0) - 1) * 100 },
        { 1, "energy", "electricity", false, (400.0 / (10000.0 / 31.0) - 1) * 100 },
    };
    CU_ASSERT_EQUAL_FATAL(r.n_anomalies, N(want));
    for (size_t i = 0; i < N(want); i++) {
        CU_ASSERT_EQUAL(r.anomalies[i].month, want[i].month);
        CU_ASSERT_STRING_EQUAL(r.anomalies[i].scope, want[i].scope);
        CU_ASSERT_STRING_EQUAL(r.anomalies[i].what, want[i].what);
        CU_ASSERT_EQUAL(r.anomalies[i].year_on_year, want[i].yoy);
        CLOSE(r.anomalies[i].change_pct, want[i].change);
    }
    report_free(&r);
    /* a higher threshold lists only the doubling */
    s.anomaly_pct = 50;
    CU_ASSERT_EQUAL_FATAL(report_compute(&s, &in, &r), 0);
    CU_ASSERT_EQUAL(r.n_anomalies, 2);
    report_free(&r);
    report_input_free(&in, N_DEVICES);
}

static void test_occupied(void)
{
    struct report_setup s = setup_for(devices, N_DEVICES);
    setenv("TZ", "Asia/Shanghai", 1);   /* report_compute sets it so */
    tzset();
    for (size_t i = 0; i < N(jan_buckets); i++) {
        bool want = i == 0 || i == 2 || i == 3;
        CU_ASSERT_EQUAL(report_occupied(&s, jan_buckets[i].ms), want);
    }
    unsetenv("TZ");
    tzset();
}

static void test_categories(void)
{
    CU_ASSERT_EQUAL(report_category_of("01A00"), REPORT_CAT_A);
    CU_ASSERT_EQUAL(report_category_of("01B10"), REPORT_CAT_B);
    CU_ASSERT_EQUAL(report_category_of("01B20"), REPORT_CAT_B);
    CU_ASSERT_EQUAL(report_category_of("01C00"), REPORT_CAT_C);
    CU_ASSERT_EQUAL(report_category_of("01D30"), REPORT_CAT_D);
    CU_ASSERT_EQUAL(report_category_of("01000"), REPORT_CAT_OTHER);
    CU_ASSERT_EQUAL(report_category_of("01E00"), REPORT_CAT_OTHER);
    CU_ASSERT_EQUAL(report_category_of(NULL), REPORT_CAT_OTHER);
    CU_ASSERT_STRING_EQUAL(report_categories[REPORT_CAT_A].zh, "照明插座");
    CU_ASSERT_EQUAL(report_energy_of("water"), REPORT_WATER);
    CU_ASSERT_EQUAL(report_energy_of("steam"), -1);
}

/* ---- rendering -------------------------------------------------------------------- */

/* A small site: a main meter and one sub-meter, two months. */
static struct report_device small_devices[] = {
    { "em-main", "meter", "01000", REPORT_ELECTRICITY, REPORT_ROLE_METER, true, 900, "energy_kwh", false, 0 },
    { "照明,一层", "meter", "01A10", REPORT_ELECTRICITY, REPORT_ROLE_METER, false, 900, "energy_kwh", false, 0 },
    { "wm-1", "meter", NULL, REPORT_WATER, REPORT_ROLE_METER, false, 3600, "volume_m3", false, 0 },
};

static int small_report(struct report_setup *s, struct report_input *in, struct report *r)
{
    *s = setup_for(small_devices, N(small_devices));
    s->factors.kg[REPORT_GAS] = -1;
    struct report_month *months;
    size_t n;
    if (report_months("Asia/Shanghai", 2026, 1, 2026, 2, &months, &n))
        return -1;
    int rc = report_input_init(in, months, n, 0, N(small_devices));
    free(months);
    if (rc)
        return rc;
    /* January: 31 days x 96 quarters; February: 28 days x 96 */
    const double use[2][3] = { { 1000.5, 400.25, 12.5 }, { 800, 300, 10 } };
    const double samples[2][3] = { { 2976, 2976, 700 }, { 2600, 2688, 672 } };
    for (size_t k = 0; k < 2; k++)
        for (size_t d = 0; d < 3; d++) {
            in->months[k].dev[d].use = use[k][d];
            in->months[k].dev[d].samples = samples[k][d];
        }
    in->months[0].dev[0].peak_kw = 55.5;
    in->months[0].dev[0].peak_ms = 1767571200000;
    return report_compute(s, in, r);
}

static char *render(int (*write)(const struct report *, FILE *), const struct report *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    int rc = write(r, f);
    fclose(f);
    if (rc) {
        free(text);
        return NULL;
    }
    return text;
}

static void test_csv_exact(void)
{
    struct report_setup s;
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(small_report(&s, &in, &r), 0);
    char *csv = render(report_write_csv, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    const char *want =
        "period,scope,id,name,quantity,value,unit\r\n"
        "2026-01,site,demo-tower,Demo Tower,energy,1000.5,kWh\r\n"
        "2026-01,site,demo-tower,Demo Tower,eui,1.0005,kWh/m2\r\n"
        "2026-01,site,demo-tower,Demo Tower,co2e,536.8683,kg\r\n"
        "2026-01,site,demo-tower,Demo Tower,water_intensity,0.0125,m3/m2\r\n"
        "2026-01,site,demo-tower,Demo Tower,peak_demand,55.5,kW\r\n"
        "2026-01,energy,electricity,电,use,1000.5,kWh\r\n"
        "2026-01,energy,electricity,电,submetered,400.25,kWh\r\n"
        "2026-01,energy,electricity,电,gap,59.995002,%\r\n"
        "2026-01,energy,electricity,电,co2e,536.8683,kg\r\n"
        "2026-01,energy,water,水,use,12.5,m3\r\n"
        "2026-01,category,01A00,照明插座,energy,400.25,kWh\r\n"
        "2026-01,meter,em-main,electricity,use,1000.5,kWh\r\n"
        "2026-01,meter,em-main,electricity,peak_demand,55.5,kW\r\n"
        "2026-01,meter,em-main,electricity,completeness,100,%\r\n"
        "2026-01,meter,\"照明,一层\",electricity,use,400.25,kWh\r\n"
        "2026-01,meter,\"照明,一层\",electricity,completeness,100,%\r\n"
        "2026-01,meter,wm-1,water,use,12.5,m3\r\n"
        "2026-01,meter,wm-1,water,completeness,94.086022,%\r\n"
        "2026-02,site,demo-tower,Demo Tower,energy,800,kWh\r\n"
        "2026-02,site,demo-tower,Demo Tower,eui,0.8,kWh/m2\r\n"
        "2026-02,site,demo-tower,Demo Tower,co2e,429.28,kg\r\n"
        "2026-02,site,demo-tower,Demo Tower,water_intensity,0.01,m3/m2\r\n"
        "2026-02,energy,electricity,电,use,800,kWh\r\n"
        "2026-02,energy,electricity,电,submetered,300,kWh\r\n"
        "2026-02,energy,electricity,电,gap,62.5,%\r\n"
        "2026-02,energy,electricity,电,co2e,429.28,kg\r\n"
        "2026-02,energy,water,水,use,10,m3\r\n"
        "2026-02,category,01A00,照明插座,energy,300,kWh\r\n"
        "2026-02,meter,em-main,electricity,use,800,kWh\r\n"
        "2026-02,meter,em-main,electricity,completeness,96.72619,%\r\n"
        "2026-02,meter,\"照明,一层\",electricity,use,300,kWh\r\n"
        "2026-02,meter,\"照明,一层\",electricity,completeness,100,%\r\n"
        "2026-02,meter,wm-1,water,use,10,m3\r\n"
        "2026-02,meter,wm-1,water,completeness,100,%\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,energy,1800.5,kWh\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,eui,1.8005,kWh/m2\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,eui_annual,11.138686,kWh/(m2*a)\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,co2e,966.1483,kg\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,water_intensity,0.0225,m3/m2\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,water_intensity_annual,0.139195,m3/(m2*a)\r\n"
        "2026-01/2026-02,site,demo-tower,Demo Tower,peak_demand,55.5,kW\r\n"
        "2026-01/2026-02,energy,electricity,电,use,1800.5,kWh\r\n"
        "2026-01/2026-02,energy,electricity,电,submetered,700.25,kWh\r\n"
        "2026-01/2026-02,energy,electricity,电,gap,61.108026,%\r\n"
        "2026-01/2026-02,energy,electricity,电,co2e,966.1483,kg\r\n"
        "2026-01/2026-02,energy,water,水,use,22.5,m3\r\n"
        "2026-01/2026-02,category,01A00,照明插座,energy,700.25,kWh\r\n"
        "2026-01/2026-02,meter,em-main,electricity,use,1800.5,kWh\r\n"
        "2026-01/2026-02,meter,em-main,electricity,peak_demand,55.5,kW\r\n"
        "2026-01/2026-02,meter,em-main,electricity,completeness,98.446328,%\r\n"
        "2026-01/2026-02,meter,\"照明,一层\",electricity,use,700.25,kWh\r\n"
        "2026-01/2026-02,meter,\"照明,一层\",electricity,completeness,100,%\r\n"
        "2026-01/2026-02,meter,wm-1,water,use,22.5,m3\r\n"
        "2026-01/2026-02,meter,wm-1,water,completeness,96.892655,%\r\n";
    CU_ASSERT_STRING_EQUAL(csv, want);
    if (strcmp(csv, want) != 0)
        fprintf(stderr, "\n--- got:\n%s", csv);
    free(csv);
    report_free(&r);
    report_input_free(&in, N(small_devices));
}

static void test_energystar_exact(void)
{
    struct report_setup s;
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(small_report(&s, &in, &r), 0);
    char *csv = render(report_write_energystar, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    /* whole-building meters only (the electricity main meter; water has
     * none, so its one meter); February's main meter is 96.7 % complete,
     * January's water meter 94.1 %: estimated below 95 % */
    const char *want =
        "Meter Name,Start Date,End Date,Usage/Quantity,Usage Units,Estimation\r\n"
        "em-main,01/01/2026,01/31/2026,1000.5,kWh (thousand Watt-hours),No\r\n"
        "em-main,02/01/2026,02/28/2026,800,kWh (thousand Watt-hours),No\r\n"
        "wm-1,01/01/2026,01/31/2026,12.5,Cubic Meters (m³),Yes\r\n"
        "wm-1,02/01/2026,02/28/2026,10,Cubic Meters (m³),No\r\n";
    CU_ASSERT_STRING_EQUAL(csv, want);
    if (strcmp(csv, want) != 0)
        fprintf(stderr, "\n--- got:\n%s", csv);
    free(csv);
    report_free(&r);
    report_input_free(&in, N(small_devices));
}

static bool valid_utf8(const unsigned char *p)
{
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

/* Every element closed in order (void and self-closed ones aside); no
 * stray '<' or '&' in text. */
static bool well_formed(const char *html, char *why, size_t n)
{
    static const char *const voids[] = { "meta", "br", "!DOCTYPE" };
    char stack[64][16];
    int depth = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 8 || strpbrk(p + 1, " <&") < semi) {
                snprintf(why, n, "bare & at %.20s", p);
                return false;
            }
            continue;
        }
        if (*p != '<')
            continue;
        const char *end = strchr(p, '>');
        if (!end || memchr(p + 1, '<', (size_t)(end - p - 1))) {
            snprintf(why, n, "unclosed tag at %.30s", p);
            return false;
        }
        bool closing = p[1] == '/', self = end[-1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />");
        char tag[16];
        snprintf(tag, sizeof tag, "%.*s", (int)len, name);
        bool is_void = false;
        for (size_t i = 0; i < N(voids); i++)
            is_void |= strcmp(tag, voids[i]) == 0;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], tag) != 0) {
                snprintf(why, n, "</%s> closes <%s>", tag, depth ? stack[depth - 1] : "nothing");
                return false;
            }
            depth--;
        } else if (!is_void && !self) {
            if (depth == 64)
                return false;
            snprintf(stack[depth++], 16, "%s", tag);
        }
        p = end;
    }
    if (depth) {
        snprintf(why, n, "<%s> not closed", stack[depth - 1]);
        return false;
    }
    return true;
}

static void test_html(void)
{
    struct report_setup s = setup_for(devices, N_DEVICES);
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(make_input(&in), 0);
    CU_ASSERT_EQUAL_FATAL(report_compute(&s, &in, &r), 0);
    char *html = render(report_write_html, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    char why[128] = "";
    CU_ASSERT(well_formed(html, why, sizeof why));
    if (why[0])
        fprintf(stderr, "\nHTML: %s\n", why);
    CU_ASSERT(valid_utf8((const unsigned char *)html));
    CU_ASSERT(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<meta charset=\"utf-8\">"));
    const char *chinese[] = { "照明插座", "空调", "动力", "特殊", "能耗报告", "lang=\"zh-Hans\"" };
    for (size_t i = 0; i < N(chinese); i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(html, chinese[i]));
    /* charts drawn inline, nothing fetched */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<svg"));
    const char *external[] = { "<script", "<link", "<img", "src=", "href=", "url(", "@import" };
    for (size_t i = 0; i < N(external); i++)
        CU_ASSERT_PTR_NULL(strstr(html, external[i]));
    /* figures that were computed, as they are shown */
    const char *shown[] = { "China national grid average 2022", "0.5366 kg CO₂/kWh", "15.0 %", "4.00", "90.0 %",
                            "em-main" };
    for (size_t i = 0; i < N(shown); i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(html, shown[i]));
    free(html);
    report_free(&r);
    report_input_free(&in, N_DEVICES);
}

static void test_json(void)
{
    struct report_setup s;
    struct report_input in;
    struct report r;
    CU_ASSERT_EQUAL_FATAL(small_report(&s, &in, &r), 0);
    char *json = render(report_write_json, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"use\":\t1000.5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"peak_time\":\t\"2026-01-05T08:00:00+08:00\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"start\":\t\"2026-01-01T00:00:00+08:00\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"name\":\t\"照明插座\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"gas_kg_per_m3\":\tnull"));
    free(json);
    report_free(&r);
    report_input_free(&in, N(small_devices));
}

/* ---- the report block of the configuration ------------------------------------- */

#define SITE_AND_DEVICES                                                                           \
    "site = { id = \"s\"; timezone = \"Asia/Shanghai\"; floor_area_m2 = 100.0; };\n"              \
    "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"                                    \
    "devices = ( { id = \"m1\"; bus = \"b\"; unit = 1; kind = \"meter\"; interval_s = 60;\n"      \
    "  points = ( { name = \"power_kw\"; table = \"holding\"; address = 0; type = \"float32\"; },\n" \
    "             { name = \"energy_kwh\"; table = \"holding\"; address = 2; type = \"uint32\"; counter = true; } );\n" \
    "  tags = { energy = \"electricity\"; category = \"01000\"; }; },\n"                           \
    "  { id = \"w1\"; bus = \"b\"; unit = 2; kind = \"meter\";\n"                                  \
    "  points = ( { name = \"volume_m3\"; table = \"input\"; address = 0; type = \"uint32\"; counter = true; } );\n" \
    "  tags = { energy = \"water\"; }; } );\n"

/* Load text; the configuration (or NULL) and the messages, one a line. */
static struct gw_config *load_config(const char *text, char *path, size_t n, char *messages, size_t m)
{
    struct gw_config *cfg = NULL;
    struct gw_diag diag = { 0 };
    messages[0] = '\0';
    if (write_temp_file(path, n, text) != 0)
        return NULL;
    config_load(path, &cfg, &diag);
    for (size_t i = 0; i < diag.n; i++)
        snprintf(messages + strlen(messages), m - strlen(messages), "%s\n", diag.lines[i]);
    diag_free(&diag);
    return cfg;
}

static void test_config_defaults(void)
{
    char path[512], messages[2048];
    struct gw_config *cfg = load_config(SITE_AND_DEVICES, path, sizeof path, messages, sizeof messages);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    struct report_setup s;
    CU_ASSERT_EQUAL_FATAL(report_setup_from_config(cfg, &s), 0);
    CU_ASSERT_STRING_EQUAL(s.factors.name, "China national grid average 2022");
    CU_ASSERT_EQUAL(s.factors.year, 2022);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.factors.source, "2022"));
    CLOSE(s.factors.kg[REPORT_ELECTRICITY], 0.5366);
    CU_ASSERT(s.factors.kg[REPORT_GAS] < 0);
    CU_ASSERT_EQUAL(s.occupied_from_min, 7 * 60 + 30);
    CU_ASSERT_EQUAL(s.occupied_to_min, 18 * 60);
    CU_ASSERT_EQUAL(s.gap_intervals, 3);
    CU_ASSERT_EQUAL_FATAL(s.n_devices, 2);
    /* without main_meters, a meter whose category is a whole energy's code is main */
    CU_ASSERT(s.devices[0].main_meter);
    CU_ASSERT(!s.devices[1].main_meter);
    CU_ASSERT_STRING_EQUAL(s.devices[0].count_field, "energy_kwh");   /* the counter, not the first point */
    CU_ASSERT_EQUAL(s.devices[1].energy, REPORT_WATER);
    report_setup_free(&s);
    config_free(cfg);
}

static void test_config_report_block(void)
{
    char path[512], messages[2048];
    struct gw_config *cfg = load_config(
        SITE_AND_DEVICES
        "report = { main_meters = [ \"w1\" ]; occupied_from = \"08:00\"; occupied_to = \"17:30\";\n"
        "  anomaly_pct = 15.0; estimated_below_pct = 90.0; gap_intervals = 5; gas_kwh_per_m3 = 10.5;\n"
        "  emission_factors = { name = \"Regional grid 2023\"; year = 2023; source = \"the operator\";\n"
        "    electricity_kg_per_kwh = 0.5703; gas_kg_per_m3 = 2.16; }; };\n",
        path, sizeof path, messages, sizeof messages);
    CU_ASSERT_STRING_EQUAL(messages, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    struct report_setup s;
    CU_ASSERT_EQUAL_FATAL(report_setup_from_config(cfg, &s), 0);
    CU_ASSERT_STRING_EQUAL(s.factors.name, "Regional grid 2023");
    CU_ASSERT_EQUAL(s.factors.year, 2023);
    CLOSE(s.factors.kg[REPORT_ELECTRICITY], 0.5703);
    CLOSE(s.factors.kg[REPORT_GAS], 2.16);
    CU_ASSERT(s.factors.kg[REPORT_HEAT] < 0);
    CU_ASSERT_EQUAL(s.occupied_from_min, 8 * 60);
    CU_ASSERT_EQUAL(s.occupied_to_min, 17 * 60 + 30);
    CLOSE(s.anomaly_pct, 15);
    CLOSE(s.estimated_below_pct, 90);
    CU_ASSERT_EQUAL(s.gap_intervals, 5);
    CLOSE(s.gas_kwh_per_m3, 10.5);
    /* main_meters given: only those are main */
    CU_ASSERT(!s.devices[0].main_meter);
    CU_ASSERT(s.devices[1].main_meter);
    report_setup_free(&s);
    config_free(cfg);
}

static void test_config_report_errors(void)
{
    char path[512], messages[2048], want[700];
    struct gw_config *cfg = load_config(
        SITE_AND_DEVICES
        "report = {\n"
        "  main_meters = [ \"m1\", \"nope\" ];\n"
        "  occupied_from = \"7:30\";\n"
        "  anomaly_pc = 10.0;\n"
        "  emission_factors = { electricity_kg_per_kwh = -1.0; };\n"
        "};\n",
        path, sizeof path, messages, sizeof messages);
    CU_ASSERT_PTR_NULL(cfg);
    config_free(cfg);
    /* the block starts at line 10 */
    const char *lines[] = {
        "%s:11: report: main_meters: no device 'nope'\n",
        "%s:12: report: occupied_from = \"7:30\" is not a time HH:MM\n",
        "%s:13: report: unknown key 'anomaly_pc' (did you mean 'anomaly_pct'?)\n",
        "%s:14: report: emission_factors: electricity_kg_per_kwh = -1 is out of range (0..10)\n",
    };
    for (size_t i = 0; i < N(lines); i++) {
        snprintf(want, sizeof want, lines[i], path);
        CU_ASSERT_PTR_NOT_NULL(strstr(messages, want));
        if (!strstr(messages, want))
            fprintf(stderr, "\nwant %sgot:\n%s", want, messages);
    }
    cfg = load_config(SITE_AND_DEVICES "report = { occupied_from = \"18:00\"; occupied_to = \"08:00\"; };\n", path,
                      sizeof path, messages, sizeof messages);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL(strstr(messages, "report: occupied_from must be before occupied_to"));
    config_free(cfg);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "parse a month", test_parse_month },
        { "months in Asia/Shanghai", test_months_shanghai },
        { "months across DST in Europe/Berlin", test_months_berlin_dst },
        { "gaps from first, last and elapsed", test_gaps_build },
        { "categories and energies", test_categories },
        { "occupied hours", test_occupied },
        { "figures from synthetic query results", test_model_figures },
        { "month-on-month and year-on-year anomalies", test_model_anomalies },
        { "CSV exactly", test_csv_exact },
        { "Portfolio Manager CSV exactly", test_energystar_exact },
        { "HTML well-formed, self-contained, Chinese", test_html },
        { "JSON", test_json },
        { "configuration: defaults", test_config_defaults },
        { "configuration: the report block", test_config_report_block },
        { "configuration: errors at their lines", test_config_report_errors },
    };
    unsetenv("TZ");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("report", NULL, NULL);
    for (size_t i = 0; i < N(tests); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
