/*
 * greenwatch report against a real influxd: two months of synthetic
 * readings (January and February 2026, Asia/Shanghai) written as line
 * protocol with known totals, then the report's JSON, CSV and Portfolio
 * Manager CSV checked figure by figure, and its HTML rendered to a PNG by
 * headless Chromium.
 *
 * The data set, every 15 minutes:
 *   em-main     main electricity meter, 2.5 kWh a quarter; its raw
 *               counter rolls over; 24 quarters missing on Jan 15
 *               10:00-15:45 (the 16:00 delta covers them); demand peaks
 *               42.5 kW on Jan 20 10:00 and 30 kW on Feb 10 14:30;
 *               one 3720 kWh delta in December 2025 (history)
 *   em-light    01A00, building 一号楼, 1 kWh a quarter, 101 kWh in the
 *               quarter ending at local midnight of Feb 1 (February's, not
 *               January's, as it would be by UTC)
 *   em-hvac     01B10, 0.75 kWh a quarter
 *   wm-main     main water meter 0.25 m3, wm-tower 0.2375 m3 a quarter
 *   chiller-1   700 kW cooling for 140 kW, 08:00-18:00 (COP 5)
 *   boiler-1    450 kW from 50 m3/h at 10 kWh/m3, 06:00-09:00 (90 %)
 *   weather     5 degC in January, 8 degC in February, hourly
 * and a meter of another site that must not count.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "tsdb.h"

#define DB "greenwatch"
#define JAN 1767196800LL       /* 2026-01-01T00:00+08:00 */
#define FEB 1769875200LL       /* 2026-02-01T00:00+08:00 */
#define MAR 1772294400LL       /* 2026-03-01T00:00+08:00 */
#define DEC15 1765728000LL     /* 2025-12-15T00:00+08:00 */
#define QUARTER 900
#define DAY 86400LL
#define GAP_FROM (JAN + 14 * DAY + 10 * 3600)   /* Jan 15 10:00 local */
#define GAP_TO (JAN + 14 * DAY + 16 * 3600)     /* Jan 15 16:00 local: the first sample after */
#define PEAK_JAN (JAN + 19 * DAY + 10 * 3600)   /* Jan 20 10:00 */
#define PEAK_FEB (FEB + 9 * DAY + 14 * 3600 + 1800)   /* Feb 10 14:30 */

struct buf {
    char *s;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = (b->cap + (size_t)need + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

static int local_hour(long long t)
{
    return (int)(((t + 8 * 3600) % DAY) / 3600);
}

static void meter_lines(struct buf *b, long long t, long i)
{
    long long ms = t * 1000;
    bool missing = t >= GAP_FROM && t < GAP_TO;
    if (!missing) {
        double delta = t == GAP_TO ? 2.5 * 25 : 2.5;
        double demand = t == PEAK_JAN ? 42.5 : t == PEAK_FEB ? 30 : 10;
        double counter = fmod(99000.0 + 2.5 * (double)i, 100000.0);   /* rolls over in January */
        put(b, "meter,building=一号楼,category=01000,device=em-main,energy=electricity,site=rpt "
               "energy_kwh=%.1f,energy_kwh_delta=%g,demand_kw=%g %lld\n", counter, delta, demand, ms);
    }
    put(b, "meter,building=一号楼,category=01A00,device=em-light,energy=electricity,site=rpt "
           "energy_kwh=%ld,energy_kwh_delta=%d %lld\n", i, t == FEB ? 101 : 1, ms);
    put(b, "meter,building=二号楼,category=01B10,device=em-hvac,energy=electricity,site=rpt "
           "energy_kwh=%g,energy_kwh_delta=0.75 %lld\n", 0.75 * (double)i, ms);
    put(b, "meter,building=一号楼,device=wm-main,energy=water,site=rpt volume_m3=%g,volume_m3_delta=0.25 %lld\n",
        0.25 * (double)i, ms);
    put(b, "meter,building=一号楼,category=01B10,device=wm-tower,energy=water,site=rpt "
           "volume_m3=%g,volume_m3_delta=0.2375 %lld\n", 0.2375 * (double)i, ms);
    put(b, "meter,device=em-other,energy=electricity,site=elsewhere energy_kwh=1,energy_kwh_delta=1000 %lld\n", ms);
}

static void plant_lines(struct buf *b, long long t, long i)
{
    long long ms = t * 1000;
    int h = local_hour(t);
    if (h >= 8 && h < 18)
        put(b, "chiller,device=chiller-1,site=rpt run_hours=%ld,chw_supply_temp=7,cooling_kw=700,power_kw=140,"
               "cop=5,running=1 %lld\n", i, ms);
    else
        put(b, "chiller,device=chiller-1,site=rpt run_hours=%ld,chw_supply_temp=12,cooling_kw=0,power_kw=0.5,"
               "running=0 %lld\n", i, ms);
    if (h >= 6 && h < 9)
        put(b, "boiler,device=boiler-1,site=rpt burner_hours=%ld,heat_kw=450,gas_flow=50,efficiency=0.9,"
               "burner_on=1 %lld\n", i, ms);
    else
        put(b, "boiler,device=boiler-1,site=rpt burner_hours=%ld,heat_kw=0,gas_flow=0,burner_on=0 %lld\n", i, ms);
    if (t % 3600 == 0)
        put(b, "generic,device=weather,site=rpt outdoor_temp=%d %lld\n", t < FEB ? 5 : 8, ms);
}

static int write_data(const struct tsdb *db)
{
    struct buf b = { 0 };
    long i = 0;
    put(&b, "meter,building=一号楼,category=01000,device=em-main,energy=electricity,site=rpt "
            "energy_kwh=1,energy_kwh_delta=3720 %lld\n", DEC15 * 1000);
    for (long long t = JAN; t < MAR; t += QUARTER, i++) {
        meter_lines(&b, t, i);
        plant_lines(&b, t, i);
        if (b.len > 2000000 || t + QUARTER >= MAR) {
            long status = influx_write(db, DB, b.s, NULL);
            if (status != 204) {
                fprintf(stderr, "write: HTTP %ld\n", status);
                free(b.s);
                return -EIO;
            }
            b.len = 0;
        }
    }
    free(b.s);
    return 0;
}

static const char config_fmt[] =
    "site = { id = \"rpt\"; name = \"报告测试楼 Report Tower\"; timezone = \"Asia/Shanghai\"; floor_area_m2 = 2000.0; };\n"
    "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";"
    " state_file = \"alarms.json\"; spool_dir = \"spool\"; };\n"
    "influxdb = { url = \"%s\"; database = \"" DB "\"; };\n"
    "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
    "devices = (\n"
    "  { id = \"em-main\"; bus = \"b\"; unit = 1; kind = \"meter\"; profile = \"generic-meter-main\"; interval_s = 900;\n"
    "    tags = { building = \"一号楼\"; category = \"01000\"; energy = \"electricity\"; }; },\n"
    "  { id = \"em-light\"; bus = \"b\"; unit = 2; kind = \"meter\"; profile = \"generic-submeter\"; interval_s = 900;\n"
    "    tags = { building = \"一号楼\"; category = \"01A00\"; energy = \"electricity\"; }; },\n"
    "  { id = \"em-hvac\"; bus = \"b\"; unit = 3; kind = \"meter\"; profile = \"generic-submeter\"; interval_s = 900;\n"
    "    tags = { building = \"二号楼\"; category = \"01B10\"; energy = \"electricity\"; }; },\n"
    "  { id = \"wm-main\"; bus = \"b\"; unit = 4; kind = \"meter\"; profile = \"generic-water-meter\"; interval_s = 900;\n"
    "    tags = { energy = \"water\"; }; },\n"
    "  { id = \"wm-tower\"; bus = \"b\"; unit = 5; kind = \"meter\"; profile = \"generic-water-meter\"; interval_s = 900;\n"
    "    tags = { category = \"01B10\"; energy = \"water\"; }; },\n"
    "  { id = \"chiller-1\"; bus = \"b\"; unit = 6; kind = \"chiller\"; profile = \"generic-chiller\"; interval_s = 900; },\n"
    "  { id = \"boiler-1\"; bus = \"b\"; unit = 7; kind = \"boiler\"; profile = \"generic-boiler\"; interval_s = 900;\n"
    "    params = { gas_lhv_kwh_m3 = 10.0; }; },\n"
    "  { id = \"weather\"; bus = \"b\"; unit = 8; kind = \"generic\"; profile = \"generic-weather\"; interval_s = 3600; }\n"
    ");\n"
    "report = { main_meters = [ \"em-main\", \"wm-main\" ];\n"
    "  emission_factors = { name = \"Test grid 2024\"; year = 2024; source = \"the test\"; electricity_kg_per_kwh = 0.5; }; };\n";

struct fixture {
    struct tsdb db;
    char config[512];
};

static int fixture_open(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    cJSON *answer = NULL;
    int rc = influxd_start(&fx->db, NULL);
    if (rc == -ENOENT)
        fprintf(stderr, "influxd is not installed (tools/scripts/setup.sh installs it)\n");
    if (!rc)
        rc = influx_query(&fx->db, NULL, "CREATE DATABASE " DB, NULL, &answer);
    cJSON_Delete(answer);
    if (!rc)
        rc = write_data(&fx->db);
    if (!rc)
        rc = write_config(fx->config, sizeof fx->config, config_fmt, fx->db.url);
    return rc;
}

/* greenwatch report ... --format format -o path; 0 when it exited 0. */
static int run_report(const struct fixture *fx, const char *format, const char *path)
{
    char *err = NULL;
    int status = -1;
    int rc = run_capture(ARGS(GREENWATCH, "report", "-c", fx->config, "--from", "2026-01", "--to", "2026-02",
                              "--format", format, "-o", path),
                         NULL, &err, 120, &status);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "greenwatch report --format %s failed: %s\n", format, err ? err : "");
        rc = -EIO;
    }
    free(err);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    struct buf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, "%.*s", (int)n, chunk);
    fclose(f);
    return b.s ? b.s : strdup("");
}

/* The number at a path of object keys and array indexes ("months", "0",
 * "meters", "em-main", "use"); NAN if absent or null. */
static double at(const cJSON *root, const char *const path[])
{
    const cJSON *o = root;
    for (size_t i = 0; path[i] && o; i++)
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(path[i])) : cJSON_GetObjectItemCaseSensitive(o, path[i]);
    return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

static const char *text_at(const cJSON *root, const char *const path[])
{
    const cJSON *o = root;
    for (size_t i = 0; path[i] && o; i++)
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(path[i])) : cJSON_GetObjectItemCaseSensitive(o, path[i]);
    return cJSON_IsString(o) ? o->valuestring : "";
}

#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define EXACT(root, want, ...) CU_ASSERT_DOUBLE_EQUAL(at(root, P(__VA_ARGS__)), (want), 1e-9)

static void check_json(const cJSON *j)
{
    /* totals per meter and month: the month boundary at local midnight */
    EXACT(j, 7440, "months", "0", "meters", "em-main", "use");
    EXACT(j, 6720, "months", "1", "meters", "em-main", "use");
    EXACT(j, 2976, "months", "0", "meters", "em-light", "use");
    EXACT(j, 2788, "months", "1", "meters", "em-light", "use");
    EXACT(j, 2232, "months", "0", "meters", "em-hvac", "use");
    EXACT(j, 744, "months", "0", "meters", "wm-main", "use");
    EXACT(j, 706.8, "months", "0", "meters", "wm-tower", "use");
    EXACT(j, 14160, "total", "meters", "em-main", "use");
    /* categories (01B10 under 01B00), energy types, gaps */
    EXACT(j, 2976, "months", "0", "categories", "01A00", "kwh");
    EXACT(j, 2232, "months", "0", "categories", "01B00", "kwh");
    EXACT(j, 7440, "months", "0", "energy", "electricity", "use");
    EXACT(j, 5208, "months", "0", "energy", "electricity", "submetered");
    EXACT(j, 30, "months", "0", "energy", "electricity", "gap_pct");
    EXACT(j, 28.511905, "months", "1", "energy", "electricity", "gap_pct");
    EXACT(j, 5, "months", "0", "energy", "water", "gap_pct");
    EXACT(j, 1416, "total", "energy", "water", "use");
    /* site: EUI over 2000 m2, CO2e at 0.5 kg/kWh, water intensity */
    EXACT(j, 3.72, "months", "0", "site", "eui_kwh_m2");
    EXACT(j, 7.08, "total", "site", "eui_kwh_m2");
    EXACT(j, 43.8, "total", "site", "eui_kwh_m2_annual");   /* 7.08 x 365 / 59 */
    EXACT(j, 3720, "months", "0", "site", "co2e_kg");
    EXACT(j, 7080, "total", "site", "co2e_kg");
    EXACT(j, 0.372, "months", "0", "site", "water_m3_per_m2");
    /* peak demand and when */
    EXACT(j, 42.5, "months", "0", "site", "peak_demand_kw");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("months", "0", "site", "peak_time")), "2026-01-20T10:00:00+08:00");
    EXACT(j, 30, "months", "1", "site", "peak_demand_kw");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("total", "site", "peak_time")), "2026-01-20T10:00:00+08:00");
    /* out of hours: 22 workdays x 42 occupied quarters x 2.5 kWh of 7440 */
    EXACT(j, 5130, "months", "0", "site", "out_of_hours_kwh");
    EXACT(j, 68.951613, "months", "0", "site", "baseload_share_pct");
    /* plant */
    EXACT(j, 5, "total", "site", "chiller_cop");
    EXACT(j, 0.70337, "total", "site", "chiller_kw_per_ton");
    EXACT(j, 0.9, "total", "site", "boiler_efficiency");
    /* degree days: 31 x (18 - 5), 28 x (18 - 8) */
    EXACT(j, 403, "months", "0", "site", "hdd18");
    EXACT(j, 280, "months", "1", "site", "hdd18");
    EXACT(j, 0, "months", "0", "site", "cdd26");
    EXACT(j, 31, "months", "0", "site", "temperature_days");
    /* completeness and the gap */
    EXACT(j, 2952, "months", "0", "meters", "em-main", "samples");
    EXACT(j, 99.193548, "months", "0", "meters", "em-main", "completeness_pct");
    EXACT(j, 100, "months", "1", "meters", "em-main", "completeness_pct");
    EXACT(j, 100, "months", "0", "meters", "weather", "completeness_pct");
    const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(j, "gaps");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(gaps), 1);
    CU_ASSERT_STRING_EQUAL(text_at(j, P("gaps", "0", "device")), "em-main");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("gaps", "0", "from")), "2026-01-15T09:45:00+08:00");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("gaps", "0", "to")), "2026-01-15T16:00:00+08:00");
    /* December's 3720 kWh against January's 7440: +100 % month on month */
    const cJSON *anomalies = cJSON_GetObjectItemCaseSensitive(j, "anomalies");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(anomalies), 2);
    CU_ASSERT_STRING_EQUAL(text_at(j, P("anomalies", "0", "id")), "em-main");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("anomalies", "0", "compared_with")), "month");
    EXACT(j, 100, "anomalies", "0", "change_pct");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("emission_factors", "name")), "Test grid 2024");
    CU_ASSERT_STRING_EQUAL(text_at(j, P("site", "name")), "报告测试楼 Report Tower");
}

static void test_json(void)
{
    struct fixture fx;
    char path[600];
    char *text = NULL;
    cJSON *j = NULL;
    REQUIRE(fixture_open(&fx) == 0, out);
    REQUIRE(temp_path(path, sizeof path, "report.json") == 0, out);
    REQUIRE(run_report(&fx, "json", path) == 0, out);
    REQUIRE((text = slurp(path)) != NULL, out);
    REQUIRE((j = cJSON_Parse(text)) != NULL, out);
    check_json(j);

    /* the same totals in the CSV, and the Portfolio Manager entries */
    free(text);
    REQUIRE(temp_path(path, sizeof path, "report.csv") == 0, out);
    REQUIRE(run_report(&fx, "csv", path) == 0, out);
    REQUIRE((text = slurp(path)) != NULL, out);
    const char *rows[] = {
        "period,scope,id,name,quantity,value,unit\r\n",
        "\r\n2026-01,meter,em-main,electricity,use,7440,kWh\r\n",
        "\r\n2026-02,meter,em-light,electricity,use,2788,kWh\r\n",
        "\r\n2026-01,category,01A00,照明插座,energy,2976,kWh\r\n",
        "\r\n2026-01,category,01B00,空调,energy,2232,kWh\r\n",
        "\r\n2026-01,energy,water,水,gap,5,%\r\n",
        "\r\n2026-01/2026-02,site,rpt,报告测试楼 Report Tower,eui_annual,43.8,kWh/(m2*a)\r\n",
        "\r\n2026-01/2026-02,meter,em-main,electricity,use,14160,kWh\r\n",
        "\r\n2026-01,meter,em-main,electricity,completeness,99.193548,%\r\n",
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        CU_ASSERT_PTR_NOT_NULL(strstr(text, rows[i]));
        if (!strstr(text, rows[i]))
            fprintf(stderr, "missing CSV row: %s", rows[i] + 2);
    }
    free(text);
    REQUIRE(temp_path(path, sizeof path, "energystar.csv") == 0, out);
    REQUIRE(run_report(&fx, "energystar", path) == 0, out);
    REQUIRE((text = slurp(path)) != NULL, out);
    CU_ASSERT_STRING_EQUAL(text,
                           "Meter Name,Start Date,End Date,Usage/Quantity,Usage Units,Estimation\r\n"
                           "em-main,01/01/2026,01/31/2026,7440,kWh (thousand Watt-hours),No\r\n"
                           "em-main,02/01/2026,02/28/2026,6720,kWh (thousand Watt-hours),No\r\n"
                           "wm-main,01/01/2026,01/31/2026,744,Cubic Meters (m³),No\r\n"
                           "wm-main,02/01/2026,02/28/2026,672,Cubic Meters (m³),No\r\n");
out:
    cJSON_Delete(j);
    free(text);
    tsdb_stop(&fx.db);
}

/* The HTML report as headless Chromium draws it: a PNG, no console error. */
static void test_html_picture(void)
{
    struct fixture fx;
    char html[600], png[600], profile[600], url[700];
    char *out = NULL, *err = NULL, *text = NULL;
    int status = -1;
    REQUIRE(fixture_open(&fx) == 0, done);
    REQUIRE(temp_path(html, sizeof html, "report.html") == 0, done);
    REQUIRE(temp_path(png, sizeof png, "report.png") == 0, done);
    REQUIRE(make_temp_dir(profile, sizeof profile) == 0, done);
    REQUIRE(run_report(&fx, "html", html) == 0, done);
    REQUIRE((text = slurp(html)) != NULL, done);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "照明插座"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "报告测试楼"));
    snprintf(url, sizeof url, "file://%s", html);
    char shot[700], data_dir[700];
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    snprintf(data_dir, sizeof data_dir, "--user-data-dir=%s", profile);
    int rc = run_capture(ARGS("chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--no-first-run", "--enable-logging=stderr", "--v=0", data_dir, shot,
                              "--window-size=1000,2400", url),
                         &out, &err, 120, &status);
    if (rc == -ENOENT)
        fprintf(stderr, "chromium is not installed (tools/scripts/setup.sh installs it)\n");
    REQUIRE(rc == 0, done);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stat st;
    CU_ASSERT(stat(png, &st) == 0 && st.st_size > 20000);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = { 0 };
    CU_ASSERT(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
    if (f)
        fclose(f);
    CU_ASSERT_PTR_NULL(strstr(err ? err : "", ":CONSOLE("));
done:
    free(out);
    free(err);
    free(text);
    tsdb_stop(&fx.db);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "two months in influxd: JSON, CSV and Portfolio Manager totals", test_json },
        { "the HTML report drawn by headless Chromium", test_html_picture },
    };
    return itest_main("report", cases, sizeof(cases) / sizeof(cases[0]));
}
