/*
 * Shipped profiles (config/profiles): every file loads without a single
 * diagnostic, its id is its file name, and it plans to exactly the number
 * of requests worked out by hand from the device's documented map and read
 * limits (table below), with every read inside the profile's limits and
 * clear of its holes.  Vendor profiles name their source.  Spot checks pin
 * documented facts (addresses, types, word orders, scales, sentinels) by
 * decoding register patterns through the profiles' own point definitions.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "planner.h"
#include "profile.h"

#define PROFILE_DIR GW_SOURCE_DIR "/config/profiles"

/* Defaults a device gets when neither it nor its profile sets a limit
 * (docs/configuration.md). */
#define DEFAULT_MAX_READ_REGISTERS 125
#define DEFAULT_MAX_READ_BITS 2000
#define DEFAULT_MAX_GAP_REGISTERS 10
#define DEFAULT_MAX_GAP_BITS 160

/*
 * Expected requests per poll, derived by hand from each map: points sorted
 * by (table, address), merged while the gap between neighbours is within
 * the gap limit, the read within the size limit, and no hole in between.
 */
static const struct expected {
    const char *id;
    size_t requests;
    const char *why;
} expected[] = {
    /* holding: status word 3 | 01.06-01.07 (105-106) | 01.14 (113) |
     * 01.18-01.20 (117-119) | 04.01 (400); gap limit 0 keeps unlisted
     * parameter indexes out of every read */
    { "abb-acs580", 5, "5 holding" },
    /* holding 0x0800-0x0835 (54 registers, gaps of 2-6) | energy
     * 0x084C-0x0857 (gap of 8 between forward and reverse) */
    { "acrel-adl400", 2, "2 holding" },
    /* 10-register limit, parameters 10 registers apart: one read per
     * parameter; 15-00 15-01 15-02 16-03(5 bits) 16-10 16-12 16-13 16-14
     * 16-17 16-30 16-34 16-90 16-92 */
    { "danfoss-fc102", 13, "13 holding" },
    /* input 0x00-0x1F (gaps of 4) | 0x46-0x57 (gap of 4 before 0x54) |
     * 0x156; 80-register limit never reached */
    { "eastron-sdm120", 3, "3 input" },
    /* input 0x00-0x11 | 0x34-0x57 (36 registers) | 0xC8-0xCD (gap of 18
     * to 0xE0) | 0xE0-0xF5 (gap of 8 to 0xEA) | 0x156 */
    { "eastron-sdm630", 5, "5 input" },
    /* The generic profiles' sim_clock (a uint64 in holding registers, the
     * simulated building's clock) sits in a gap a read already spans where
     * the map has holding registers, so it costs no request there; a map
     * without holding registers (gas and water meters, fan drive, weather
     * transmitter) needs one holding read more for it. */
    /* holding 0-5 | 6-9 clock | 10-13 (no gap left) | 30-33 (gap 16);
     * coil 0 */
    { "generic-boiler", 3, "2 holding + 1 coil" },
    /* holding 0-23 (clock 14-17 in the gap before chw_flow); input 0-2 |
     * 100-103 | 200-203 (hole 110-199); discrete 0 */
    { "generic-chiller", 5, "1 holding + 3 input + 1 discrete" },
    /* input 0-3; discrete 0; holding 0-3 the clock */
    { "generic-gas-meter", 3, "1 input + 1 discrete + 1 holding" },
    /* holding 0-7 | 100-105 | 120-125 | 150-171 (clock 156-159 between
     * apparent power and power factor) | 200-207 | 220-223 | 300 (hole
     * 230-299) */
    { "generic-meter-main", 7, "7 holding" },
    /* holding 0-23 (clock 14-17 between the transmitters and the
     * counters) */
    { "generic-pump", 1, "1 holding" },
    /* holding 0-27 (clock 14-17 between power and power factor) | 64-65
     * (gap 36) */
    { "generic-submeter", 2, "2 holding" },
    /* input 0-4 | 16-19 (gap 11); holding 0-3 the clock */
    { "generic-vfd", 3, "2 input + 1 holding" },
    /* input 0-20 (gaps 6 and 10); discrete 0; holding 0-3 the clock */
    { "generic-water-meter", 3, "1 input + 1 discrete + 1 holding" },
    /* input 0-10; holding 0-3 the clock */
    { "generic-weather", 2, "1 input + 1 holding" },
    /* coil 0; discrete 0-37 (bit gaps up to 24); input 3-15 */
    { "lochinvar-crest", 3, "1 coil + 1 discrete + 1 input" },
    /* holding 2999-3032 (gap 8 before 3019) | 3053-3084 | 3109-3110
     * (gap 24) | 3203-3226 (int64, gap 8) | 3763-3770 */
    { "schneider-pm5000", 5, "5 holding" },
    /* discrete 1; input 1-23 | 28-31 (hole 24-27) | 36-37 (hole 32-35) */
    { "trane-rtwd-pic", 4, "1 discrete + 3 input" },
    /* holding 0-25 (gap of 10 before the net totalizer) | 71 */
    { "tuf2000m", 2, "2 holding" },
    /* holding 0-17 | 32-35 (gap 14) | 71 */
    { "tuf2000m-heat", 3, "3 holding" },
};

#define N_EXPECTED (sizeof expected / sizeof expected[0])

/* ---- helpers ----------------------------------------------------------- */

static void print_diag(const char *what, const struct gw_diag *diag)
{
    fprintf(stderr, "\n%s:\n", what);
    diag_print(diag, stderr);
}

static int conf_file(const struct dirent *e)
{
    size_t len = strlen(e->d_name);
    return len > 5 && e->d_name[0] != '.' && strcmp(e->d_name + len - 5, ".conf") == 0;
}

static const struct expected *find_expected(const char *id)
{
    for (size_t i = 0; i < N_EXPECTED; i++)
        if (strcmp(expected[i].id, id) == 0)
            return &expected[i];
    return NULL;
}

static void profile_path(const char *id, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.conf", PROFILE_DIR, id);
}

/* Load a shipped profile; asserts it loads cleanly.  Returns 0 on success. */
static int load(const char *id, struct gw_profile *prof)
{
    char path[PATH_MAX];
    profile_path(id, path, sizeof path);
    struct gw_diag diag = { 0 };
    memset(prof, 0, sizeof *prof);
    int rc = profile_load_file(path, prof, &diag);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(diag.n, 0u);
    if (rc || diag.n)
        print_diag(path, &diag);
    diag_free(&diag);
    return rc;
}

static struct gw_plan_limits limits_of(const struct gw_profile *p)
{
    return (struct gw_plan_limits){
        .max_registers = p->max_read_registers > 0 ? (uint16_t)p->max_read_registers
                                                   : DEFAULT_MAX_READ_REGISTERS,
        .max_bits = p->max_read_bits > 0 ? (uint16_t)p->max_read_bits : DEFAULT_MAX_READ_BITS,
        .max_gap_registers = p->max_gap_registers >= 0 ? (uint16_t)p->max_gap_registers
                                                       : DEFAULT_MAX_GAP_REGISTERS,
        .max_gap_bits = p->max_gap_bits >= 0 ? (uint16_t)p->max_gap_bits : DEFAULT_MAX_GAP_BITS,
    };
}

static const struct gw_point_def *point(const struct gw_profile *p, const char *name)
{
    int i = profile_find_point(p, name);
    CU_ASSERT(i >= 0);
    if (i < 0)
        fprintf(stderr, "\n%s: no point '%s'\n", p->id, name);
    return i >= 0 ? &p->points[i] : NULL;
}

/* ---- every file is in the table, every table entry is a file ----------- */

static void test_table_covers_directory(void)
{
    struct dirent **names = NULL;
    int n = scandir(PROFILE_DIR, &names, conf_file, alphasort);
    CU_ASSERT_FATAL(n > 0);
    bool seen[N_EXPECTED] = { false };
    for (int i = 0; i < n; i++) {
        char id[256];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(names[i]->d_name) - 5), names[i]->d_name);
        const struct expected *e = find_expected(id);
        CU_ASSERT_PTR_NOT_NULL(e);
        if (!e)
            fprintf(stderr, "\n%s: shipped without an expected request count in %s\n",
                    names[i]->d_name, __FILE__);
        else
            seen[e - expected] = true;
        free(names[i]);
    }
    free(names);
    for (size_t i = 0; i < N_EXPECTED; i++) {
        CU_ASSERT(seen[i]);
        if (!seen[i])
            fprintf(stderr, "\n%s: expected but not shipped\n", expected[i].id);
    }
}

/* ---- load, plan, check every read --------------------------------------- */

static bool meets_hole(const struct gw_profile *p, enum gw_table table, uint32_t from,
                       uint32_t end)
{
    for (size_t h = 0; h < p->n_holes; h++)
        if (p->holes[h].table == table && p->holes[h].from < end && p->holes[h].to >= from)
            return true;
    return false;
}

static void check_plan(const struct gw_profile *p, const struct gw_plan_limits *lim,
                       const struct gw_plan *plan)
{
    /* every point is read exactly once */
    CU_ASSERT_EQUAL(plan->n_order, p->n_points);
    size_t covered = 0;
    for (size_t r = 0; r < plan->n_reads; r++) {
        const struct gw_read *rd = &plan->reads[r];
        bool bits = gw_table_is_bits(rd->table);
        uint32_t end = (uint32_t)rd->address + rd->count;
        CU_ASSERT(rd->count >= 1);
        CU_ASSERT(rd->count <= (bits ? lim->max_bits : lim->max_registers));
        CU_ASSERT(end <= 65536u);
        CU_ASSERT(!meets_hole(p, rd->table, rd->address, end));
        if (rd->count > (bits ? lim->max_bits : lim->max_registers) ||
            meets_hole(p, rd->table, rd->address, end))
            fprintf(stderr, "\n%s: read %s %u+%u breaks the profile's limits or holes\n",
                    p->id, gw_table_names[rd->table], rd->address, rd->count);
        for (uint32_t k = rd->first; k < rd->first + rd->n_points; k++) {
            const struct gw_point_def *pt = &p->points[plan->order[k]];
            CU_ASSERT_EQUAL(pt->table, rd->table);
            CU_ASSERT(pt->address >= rd->address);
            CU_ASSERT((uint32_t)pt->address + pt->count <= end);
        }
        covered += rd->n_points;
    }
    CU_ASSERT_EQUAL(covered, p->n_points);
}

static void test_load_and_plan(void)
{
    for (size_t i = 0; i < N_EXPECTED; i++) {
        struct gw_profile p;
        if (load(expected[i].id, &p) == 0) {
            CU_ASSERT_PTR_NOT_NULL(p.id);
            CU_ASSERT(p.id && strcmp(p.id, expected[i].id) == 0);
            CU_ASSERT(p.n_points > 0);

            struct gw_plan_limits lim = limits_of(&p);
            struct gw_plan plan = { 0 };
            int rc = planner_build(p.points, p.n_points, NULL, p.holes, p.n_holes, &lim, &plan);
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(plan.n_reads, expected[i].requests);
            if (rc == 0 && plan.n_reads != expected[i].requests) {
                fprintf(stderr, "\n%s: %zu requests, expected %zu (%s):\n", expected[i].id,
                        plan.n_reads, expected[i].requests, expected[i].why);
                for (size_t r = 0; r < plan.n_reads; r++)
                    fprintf(stderr, "  %s %u+%u\n", gw_table_names[plan.reads[r].table],
                            plan.reads[r].address, plan.reads[r].count);
            }
            if (rc == 0)
                check_plan(&p, &lim, &plan);
            planner_free(&plan);
        }
        profile_free(&p);
    }
}

/* ---- sources ------------------------------------------------------------ */

/* A vendor profile's leading comment names its source with a URL. */
static void test_sources_named(void)
{
    for (size_t i = 0; i < N_EXPECTED; i++) {
        if (strncmp(expected[i].id, "generic-", 8) == 0)
            continue;
        char path[PATH_MAX];
        profile_path(expected[i].id, path, sizeof path);
        FILE *f = fopen(path, "r");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        bool source = false, url = false;
        char line[512];
        while (fgets(line, sizeof line, f) && line[0] == '#') {
            source |= strstr(line, "Source:") != NULL;
            url |= strstr(line, "http://") != NULL || strstr(line, "https://") != NULL;
        }
        fclose(f);
        CU_ASSERT(source && url);
        if (!source || !url)
            fprintf(stderr, "\n%s: leading comment names no source with a URL\n", path);
    }
}

/* ---- documented facts ---------------------------------------------------- */

static void expect_at(const struct gw_profile *p, const char *name, enum gw_table table,
                      uint16_t address, enum gw_type type)
{
    const struct gw_point_def *pt = point(p, name);
    if (!pt)
        return;
    CU_ASSERT_EQUAL(pt->table, table);
    CU_ASSERT_EQUAL(pt->address, address);
    CU_ASSERT_EQUAL(pt->type, type);
    if (pt->table != table || pt->address != address || pt->type != type)
        fprintf(stderr, "\n%s.%s: %s %u %s, documented %s %u %s\n", p->id, name,
                gw_table_names[pt->table], pt->address, gw_type_names[pt->type],
                gw_table_names[table], address, gw_type_names[type]);
}

/* Decode regs through the profile's own point and compare. */
static void expect_decoded(const struct gw_profile *p, const char *name, const uint16_t *regs,
                           double value, enum gw_quality quality)
{
    const struct gw_point_def *pt = point(p, name);
    if (!pt)
        return;
    struct gw_reading out = { 0 };
    CU_ASSERT_EQUAL_FATAL(decode_point(pt, regs, NULL, &out), 0);
    CU_ASSERT_EQUAL(out.quality, quality);
    if (quality == GW_QUALITY_GOOD) {
        CU_ASSERT_DOUBLE_EQUAL(out.value, value, fabs(value) * 1e-6 + 1e-9);
        if (fabs(out.value - value) > fabs(value) * 1e-6 + 1e-9)
            fprintf(stderr, "\n%s.%s: decoded %.9g, expected %.9g\n", p->id, name, out.value,
                    value);
    }
    free(out.text);
}

/* Every cumulative energy or volume total is marked as a counter. */
static void expect_counter(const struct gw_profile *p, const char *name)
{
    const struct gw_point_def *pt = point(p, name);
    if (pt) {
        CU_ASSERT(pt->counter);
        if (!pt->counter)
            fprintf(stderr, "\n%s.%s: a cumulative total not marked counter\n", p->id, name);
    }
}

static void test_eastron(void)
{
    struct gw_profile p;
    if (load("eastron-sdm630", &p) == 0) {
        CU_ASSERT_EQUAL(p.max_read_registers, 80);   /* 40 parameters per request */
        expect_at(&p, "voltage_l1", GW_TABLE_INPUT, 0x0000, GW_TYPE_FLOAT32);
        expect_at(&p, "power_kw", GW_TABLE_INPUT, 0x0034, GW_TYPE_FLOAT32);
        expect_at(&p, "frequency", GW_TABLE_INPUT, 0x0046, GW_TYPE_FLOAT32);
        expect_at(&p, "energy_kwh", GW_TABLE_INPUT, 0x0048, GW_TYPE_FLOAT32);
        expect_at(&p, "energy_total_kwh", GW_TABLE_INPUT, 0x0156, GW_TYPE_FLOAT32);
        expect_counter(&p, "energy_kwh");
        expect_counter(&p, "energy_export_kwh");
        expect_counter(&p, "energy_total_kwh");
        /* 230.0 V = 0x43660000, most significant register first */
        expect_decoded(&p, "voltage_l1", (const uint16_t[]){ 0x4366, 0x0000 }, 230.0,
                       GW_QUALITY_GOOD);
        /* total power in W, published in kW: 1500 W = 0x44BB8000 */
        expect_decoded(&p, "power_kw", (const uint16_t[]){ 0x44BB, 0x8000 }, 1.5,
                       GW_QUALITY_GOOD);
        /* every point a float at an even address: reads start and end even */
        for (size_t i = 0; i < p.n_points; i++)
            CU_ASSERT(p.points[i].address % 2 == 0 && p.points[i].count == 2);
    }
    profile_free(&p);

    if (load("eastron-sdm120", &p) == 0) {
        CU_ASSERT_EQUAL(p.max_read_registers, 80);
        expect_at(&p, "voltage", GW_TABLE_INPUT, 0x0000, GW_TYPE_FLOAT32);
        expect_at(&p, "current", GW_TABLE_INPUT, 0x0006, GW_TYPE_FLOAT32);
        expect_at(&p, "energy_kwh", GW_TABLE_INPUT, 0x0048, GW_TYPE_FLOAT32);
        expect_counter(&p, "energy_kwh");
        for (size_t i = 0; i < p.n_points; i++)
            CU_ASSERT(p.points[i].address % 2 == 0 && p.points[i].count == 2);
    }
    profile_free(&p);
}

static void test_schneider(void)
{
    struct gw_profile p;
    if (load("schneider-pm5000", &p) == 0) {
        CU_ASSERT_EQUAL(p.max_read_registers, 125);
        /* 1-based register 3000 is protocol address 2999 */
        expect_at(&p, "current_l1", GW_TABLE_HOLDING, 2999, GW_TYPE_FLOAT32);
        expect_at(&p, "voltage_l1_l2", GW_TABLE_HOLDING, 3019, GW_TYPE_FLOAT32);
        expect_at(&p, "power_kw", GW_TABLE_HOLDING, 3059, GW_TYPE_FLOAT32);
        expect_at(&p, "frequency", GW_TABLE_HOLDING, 3109, GW_TYPE_FLOAT32);
        expect_at(&p, "energy_kwh", GW_TABLE_HOLDING, 3203, GW_TYPE_INT64);
        expect_counter(&p, "energy_kwh");
        /* Wh accumulator published in kWh */
        expect_decoded(&p, "energy_kwh", (const uint16_t[]){ 0, 0, 0x0012, 0xD687 }, 1234.567,
                       GW_QUALITY_GOOD);
        /* INT64 "not available" */
        expect_decoded(&p, "energy_kwh", (const uint16_t[]){ 0x8000, 0, 0, 0 }, 0,
                       GW_QUALITY_UNCERTAIN);
        /* FLOAT32 "not available" is NaN */
        expect_decoded(&p, "power_kw", (const uint16_t[]){ 0xFFC0, 0x0000 }, 0,
                       GW_QUALITY_UNCERTAIN);
    }
    profile_free(&p);
}

static void test_acrel(void)
{
    struct gw_profile p;
    if (load("acrel-adl400", &p) == 0) {
        expect_at(&p, "voltage_l1", GW_TABLE_HOLDING, 0x0800, GW_TYPE_FLOAT32);
        expect_at(&p, "power_kw", GW_TABLE_HOLDING, 0x081A, GW_TYPE_FLOAT32);
        expect_at(&p, "energy_kwh", GW_TABLE_HOLDING, 0x084C, GW_TYPE_UINT32);
        expect_counter(&p, "energy_kwh");
        expect_counter(&p, "energy_export_kwh");
        /* uint32 high word first, 0.1 kWh: 123456 -> 12345.6 kWh */
        expect_decoded(&p, "energy_kwh", (const uint16_t[]){ 0x0001, 0xE240 }, 12345.6,
                       GW_QUALITY_GOOD);
    }
    profile_free(&p);
}

static void test_flow_and_heat_meters(void)
{
    struct gw_profile p;
    if (load("tuf2000m", &p) == 0) {
        /* REG0001 -> address 0, REG0009 -> 8; holding only (FC 03) */
        expect_at(&p, "flow", GW_TABLE_HOLDING, 0, GW_TYPE_FLOAT32);
        expect_at(&p, "volume_m3", GW_TABLE_HOLDING, 8, GW_TYPE_INT32);
        expect_counter(&p, "volume_m3");
        /* low word first: 12.5 m3/h = 0x41480000 arrives as 0000 4148 */
        expect_decoded(&p, "flow", (const uint16_t[]){ 0x0000, 0x4148 }, 12.5, GW_QUALITY_GOOD);
        /* LONG low word first: 70000 = 0x00011170 arrives as 1170 0001 */
        expect_decoded(&p, "volume_m3", (const uint16_t[]){ 0x1170, 0x0001 }, 70000.0,
                       GW_QUALITY_GOOD);
    }
    profile_free(&p);

    if (load("tuf2000m-heat", &p) == 0) {
        expect_at(&p, "energy_kwh", GW_TABLE_HOLDING, 16, GW_TYPE_INT32);
        expect_at(&p, "supply_temp", GW_TABLE_HOLDING, 32, GW_TYPE_FLOAT32);
        expect_at(&p, "return_temp", GW_TABLE_HOLDING, 34, GW_TYPE_FLOAT32);
        expect_counter(&p, "energy_kwh");
        expect_counter(&p, "volume_m3");
        /* 1 GJ/h = 277.78 kW (1 GJ/h = 0x3F800000) */
        expect_decoded(&p, "heat_kw", (const uint16_t[]){ 0x0000, 0x3F80 }, 277.7777778,
                       GW_QUALITY_GOOD);
        /* 36.625 degC = 0x42128000 */
        expect_decoded(&p, "supply_temp", (const uint16_t[]){ 0x8000, 0x4212 }, 36.625,
                       GW_QUALITY_GOOD);
    }
    profile_free(&p);
}

static void test_drives(void)
{
    struct gw_profile p;
    if (load("danfoss-fc102", &p) == 0) {
        CU_ASSERT_EQUAL(p.max_read_registers, 10);
        /* register address = parameter number x 10 - 1 */
        expect_at(&p, "operating_hours", GW_TABLE_HOLDING, 1500 * 10 - 1, GW_TYPE_UINT32);
        expect_at(&p, "energy_kwh", GW_TABLE_HOLDING, 1502 * 10 - 1, GW_TYPE_UINT32);
        expect_at(&p, "running", GW_TABLE_HOLDING, 1603 * 10 - 1, GW_TYPE_BIT);
        expect_at(&p, "power_kw", GW_TABLE_HOLDING, 1610 * 10 - 1, GW_TYPE_INT32);
        expect_at(&p, "frequency", GW_TABLE_HOLDING, 1613 * 10 - 1, GW_TYPE_UINT16);
        expect_at(&p, "current", GW_TABLE_HOLDING, 1614 * 10 - 1, GW_TYPE_INT32);
        expect_counter(&p, "energy_kwh");
        expect_counter(&p, "run_hours");
        /* 16-10, conversion index 1 on W: 550 -> 5.50 kW */
        expect_decoded(&p, "power_kw", (const uint16_t[]){ 0, 550 }, 5.5, GW_QUALITY_GOOD);
        /* 16-13, index -1: 500 -> 50.0 Hz */
        expect_decoded(&p, "frequency", (const uint16_t[]){ 500 }, 50.0, GW_QUALITY_GOOD);
        /* FC status word bit 11 = in operation */
        expect_decoded(&p, "running", (const uint16_t[]){ 1u << 11 }, 1.0, GW_QUALITY_GOOD);
    }
    profile_free(&p);

    if (load("abb-acs580", &p) == 0) {
        CU_ASSERT_EQUAL(p.max_gap_registers, 0);
        /* 400004 status word; parameter gg.ii at 100 x gg + ii - 1 */
        expect_at(&p, "running", GW_TABLE_HOLDING, 3, GW_TYPE_BIT);
        expect_at(&p, "frequency", GW_TABLE_HOLDING, 100 * 1 + 6 - 1, GW_TYPE_INT16);
        expect_at(&p, "current", GW_TABLE_HOLDING, 100 * 1 + 7 - 1, GW_TYPE_INT16);
        expect_at(&p, "power_kw", GW_TABLE_HOLDING, 100 * 1 + 14 - 1, GW_TYPE_INT16);
        expect_at(&p, "fault_code", GW_TABLE_HOLDING, 100 * 4 + 1 - 1, GW_TYPE_UINT16);
        /* 46.02 = 50 Hz maps to 20000 */
        expect_decoded(&p, "frequency", (const uint16_t[]){ 20000 }, 50.0, GW_QUALITY_GOOD);
        /* ABB Drives status word: bit 3 TRIPPED */
        expect_decoded(&p, "fault", (const uint16_t[]){ 1u << 3 }, 1.0, GW_QUALITY_GOOD);
    }
    profile_free(&p);
}

static void test_plant(void)
{
    struct gw_profile p;
    if (load("trane-rtwd-pic", &p) == 0) {
        CU_ASSERT_EQUAL(p.n_holes, 2u);
        expect_at(&p, "running", GW_TABLE_DISCRETE, 1, GW_TYPE_BIT);
        expect_at(&p, "chw_supply_temp", GW_TABLE_INPUT, 4, GW_TYPE_UINT16);
        expect_at(&p, "cw_return_temp", GW_TABLE_INPUT, 7, GW_TYPE_UINT16);
        expect_at(&p, "power_kw", GW_TABLE_INPUT, 36, GW_TYPE_UINT32);
        expect_counter(&p, "run_hours_1a");
        expect_counter(&p, "starts_1a");
        /* PIC temperature format: raw / 10 - 45 degC; 520 -> 7.0 */
        expect_decoded(&p, "chw_supply_temp", (const uint16_t[]){ 520 }, 7.0, GW_QUALITY_GOOD);
        /* unit power in W: 350000 W = 0x00055730 -> 350 kW */
        expect_decoded(&p, "power_kw", (const uint16_t[]){ 0x0005, 0x5730 }, 350.0,
                       GW_QUALITY_GOOD);
    }
    profile_free(&p);

    if (load("lochinvar-crest", &p) == 0) {
        expect_at(&p, "enabled", GW_TABLE_COIL, 0, GW_TYPE_BIT);
        expect_at(&p, "burner_on", GW_TABLE_DISCRETE, 7, GW_TYPE_BIT);
        expect_at(&p, "hw_supply_temp", GW_TABLE_INPUT, 8, GW_TYPE_INT16);
        expect_at(&p, "flue_temp", GW_TABLE_INPUT, 10, GW_TYPE_INT16);
        /* resolution 0.1 degC, signed: -200 -> -20.0 */
        expect_decoded(&p, "hw_return_temp", (const uint16_t[]){ 0xFF38 }, -20.0,
                       GW_QUALITY_GOOD);
        /* setpoints in 0.5 degC steps: 160 -> 80.0 */
        expect_decoded(&p, "hw_setpoint", (const uint16_t[]){ 160 }, 80.0, GW_QUALITY_GOOD);
    }
    profile_free(&p);
}

/* Every generic profile has one clock, sim_clock (uint64 in holding
 * registers, seconds or milliseconds), which greenwatch-sim fills with
 * its simulated time; a vendor profile declares none it was not
 * documented to have. */
static void test_generic_clocks(void)
{
    static const struct {
        const char *id;
        enum gw_time_unit unit;
    } clocks[] = {
        { "generic-boiler", GW_TIME_S }, { "generic-chiller", GW_TIME_S },
        { "generic-gas-meter", GW_TIME_S }, { "generic-meter-main", GW_TIME_MS },
        { "generic-pump", GW_TIME_S }, { "generic-submeter", GW_TIME_S },
        { "generic-vfd", GW_TIME_S }, { "generic-water-meter", GW_TIME_MS },
        { "generic-weather", GW_TIME_S },
    };
    for (size_t i = 0; i < N_EXPECTED; i++) {
        struct gw_profile p;
        if (load(expected[i].id, &p) != 0) {
            profile_free(&p);
            continue;
        }
        const struct gw_point_def *clock = NULL;
        size_t n = 0;
        for (size_t k = 0; k < p.n_points; k++)
            if (p.points[k].timestamp) {
                clock = &p.points[k];
                n++;
            }
        bool generic = strncmp(expected[i].id, "generic-", 8) == 0;
        CU_ASSERT_EQUAL(n, generic ? 1u : 0u);
        if (n != (generic ? 1u : 0u))
            fprintf(stderr, "\n%s: %zu timestamp points\n", expected[i].id, n);
        for (size_t c = 0; generic && clock && c < sizeof clocks / sizeof *clocks; c++) {
            if (strcmp(clocks[c].id, expected[i].id) != 0)
                continue;
            CU_ASSERT_STRING_EQUAL(clock->name, "sim_clock");
            CU_ASSERT_EQUAL(clock->table, GW_TABLE_HOLDING);
            CU_ASSERT_EQUAL(clock->type, GW_TYPE_UINT64);
            CU_ASSERT_EQUAL(clock->timestamp_unit, clocks[c].unit);
            CU_ASSERT_STRING_EQUAL(clock->unit, clocks[c].unit == GW_TIME_MS ? "ms" : "s");
            /* Exactly, to the unit: 2026-07-14T03:33:20Z is 1784000000 s
             * = 0x6A55AE00; 123 ms later is 0x019F5EAFB07B ms. */
            static const uint16_t s_regs[4] = { 0x0000, 0x0000, 0x6A55, 0xAE00 };
            static const uint16_t ms_regs[4] = { 0x0000, 0x019F, 0x5EAF, 0xB07B };
            bool ms = clocks[c].unit == GW_TIME_MS;
            struct gw_reading out = { 0 };
            CU_ASSERT_EQUAL(decode_point(clock, ms ? ms_regs : s_regs, NULL, &out), 0);
            CU_ASSERT_EQUAL(out.quality, GW_QUALITY_GOOD);
            CU_ASSERT_DOUBLE_EQUAL(out.value, ms ? 1784000000123.0 : 1784000000.0, 0);
            free(out.text);
        }
        profile_free(&p);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("profiles", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "every shipped profile has an expected plan", test_table_covers_directory) ||
        !CU_add_test(suite, "load and plan to the expected requests", test_load_and_plan) ||
        !CU_add_test(suite, "vendor profiles name their source", test_sources_named) ||
        !CU_add_test(suite, "Eastron SDM630 and SDM120", test_eastron) ||
        !CU_add_test(suite, "Schneider PM5000", test_schneider) ||
        !CU_add_test(suite, "Acrel ADL400", test_acrel) ||
        !CU_add_test(suite, "TUF-2000M flow and heat", test_flow_and_heat_meters) ||
        !CU_add_test(suite, "Danfoss FC 102 and ABB ACS580", test_drives) ||
        !CU_add_test(suite, "Trane RTWD and Lochinvar Crest", test_plant) ||
        !CU_add_test(suite, "the generic profiles' clocks", test_generic_clocks)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
