/*
 * Polling against a real Modbus server: gw-testdev on a loopback port,
 * read by `greenwatch read` and by greenwatchd.  Decoded values and units,
 * requests per poll against the planner's optimum, read-only on the wire
 * and in the sources, exception 2 isolation, exception 6 retry, timeouts,
 * dropped connections and wrong transaction ids.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define SAMPLE_WAIT_MS 5000     /* a sample due every 200 ms; ASan is slow to start */

/* A device using every table, type and byte order worth telling apart.
 * With testdev_full_sets below, each value is known exactly. */
#define FULL_MAP                                                                               \
    "  points = (\n"                                                                           \
    "    { name = \"power\"; table = \"holding\"; address = 0; scale = 0.1; unit = \"kW\"; },\n" \
    "    { name = \"current\"; table = \"holding\"; address = 1; type = \"int16\"; unit = \"A\"; },\n" \
    "    { name = \"energy\"; table = \"holding\"; address = 2; type = \"uint32\"; unit = \"kWh\"; },\n" \
    "    { name = \"balance\"; table = \"holding\"; address = 4; type = \"int32\"; order = \"CDAB\"; },\n" \
    "    { name = \"temp\"; table = \"holding\"; address = 6; type = \"float32\"; unit = \"degC\"; },\n" \
    "    { name = \"flow\"; table = \"holding\"; address = 8; type = \"float32\"; order = \"DCBA\"; unit = \"m3/h\"; },\n" \
    "    { name = \"model\"; table = \"holding\"; address = 10; type = \"string\"; count = 2; },\n" \
    "    { name = \"alarm\"; table = \"holding\"; address = 12; type = \"bit\"; bit = 3; },\n"   \
    "    { name = \"missing\"; table = \"holding\"; address = 13; sentinel = [ 0xFFFF ]; unit = \"kPa\"; },\n" \
    "    { name = \"pressure\"; table = \"holding\"; address = 14; max = 100.0; unit = \"kPa\"; },\n" \
    "    { name = \"far\"; table = \"holding\"; address = 200; },\n"                           \
    "    { name = \"level\"; table = \"input\"; address = 0; scale = 0.01; offset = 1.0; unit = \"m\"; },\n" \
    "    { name = \"pump_on\"; table = \"coil\"; address = 5; type = \"bit\"; },\n"            \
    "    { name = \"door\"; table = \"discrete\"; address = 6; type = \"bit\"; } );\n"

/* Raw contents behind FULL_MAP (the defaults would be coil 5 = 1,
 * discrete 6 = 0, holding[i] = i). */
#define FULL_SETS                                                                    \
    "--set", "holding:0=1234,65534,1,2,0xFF38,0xFFFF,0x42F6,0xE979,0,0xC0BF,0x4142,0x4320,8,0xFFFF,500", \
    "--set", "input:0=500", "--set", "coil:5=0", "--set", "discrete:6=1"

/* The fewest reads for FULL_MAP: one per table, holding 0..14 together
 * (a gap of 185 registers to "far" is beyond the fill limit of 10). */
static const struct testdev_request full_reads[] = {
    { 1, 1, 5, 1 }, { 1, 2, 6, 1 }, { 1, 4, 0, 1 }, { 1, 3, 0, 15 }, { 1, 3, 200, 1 },
};

static void check_full_sample(const cJSON *s)
{
    static const struct {
        const char *name;
        double value;
        const char *unit;
    } want[] = {
        { "power", 123.4, "kW" },  { "current", -2, "A" },    { "energy", 65538, "kWh" },
        { "balance", -200, NULL }, { "temp", 123.456, "degC" }, { "flow", -1.5, "m3/h" },
        { "alarm", 1, NULL },      { "far", 200, NULL },      { "level", 6.0, "m" },
        { "pump_on", 0, NULL },    { "door", 1, NULL },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double v = -12345;
        bool good = reading_value(s, want[i].name, &v);
        if (!good || v != want[i].value)
            fprintf(stderr, "point %s: want %.15g, got %s %.15g\n", want[i].name, want[i].value,
                    good ? "" : "(absent)", v);
        CU_ASSERT(good && v == want[i].value);
        const char *unit = reading_unit(s, want[i].name);
        if (want[i].unit) {
            CU_ASSERT(unit && strcmp(unit, want[i].unit) == 0);
        } else {
            CU_ASSERT_PTR_NULL(unit);   /* no unit configured: none published */
        }
        CU_ASSERT_PTR_NULL(reading_quality(s, want[i].name));
    }
    const char *model = reading_text(s, "model");
    CU_ASSERT(model && strcmp(model, "ABC") == 0);
    /* Sentinel and out-of-range values are flagged, never published. */
    const char *q = reading_quality(s, "missing");
    CU_ASSERT(q && strcmp(q, "uncertain") == 0);
    q = reading_quality(s, "pressure");
    CU_ASSERT(q && strcmp(q, "uncertain") == 0);
    double v;
    CU_ASSERT_FALSE(reading_value(s, "missing", &v));
    CU_ASSERT_FALSE(reading_value(s, "pressure", &v));
    CU_ASSERT_PTR_NULL(reading_unit(s, "pressure"));
    CU_ASSERT_EQUAL(reading_count(s, "points"), 12);
    CU_ASSERT_EQUAL(reading_count(s, "quality"), 2);
}

static int compare_requests(const void *a, const void *b)
{
    const struct testdev_request *x = a, *y = b;
    if (x->fc != y->fc)
        return x->fc < y->fc ? -1 : 1;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return (x->count > y->count) - (x->count < y->count);
}

/* Whether got[0..n_got) holds exactly want[0..n_want), in any order. */
static bool same_requests(struct testdev_request *got, size_t n_got,
                          const struct testdev_request *want, size_t n_want)
{
    if (n_got != n_want)
        return false;
    struct testdev_request sorted[16];
    if (n_want > 16)
        return false;
    memcpy(sorted, want, n_want * sizeof(*want));
    qsort(sorted, n_want, sizeof(*sorted), compare_requests);
    qsort(got, n_got, sizeof(*got), compare_requests);
    for (size_t i = 0; i < n_want; i++)
        if (compare_requests(&got[i], &sorted[i]) != 0)
            return false;
    return true;
}

static void print_requests(const char *what, const struct testdev_request *r, size_t n)
{
    fprintf(stderr, "%s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " (fc %u, %u, %u)", r[i].fc, r[i].address, r[i].count);
    fprintf(stderr, "\n");
}

/* A configuration with one TCP bus to port and the given devices. */
static int one_bus_config(char *path, size_t n, int port, int timeout_ms, const char *devices)
{
    return write_config(path, n,
                        CONFIG_HEAD
                        "buses = ( { id = \"field\"; tcp = \"127.0.0.1:%d\"; timeout_ms = %d; } );\n"
                        "devices = (\n%s);\n",
                        port, timeout_ms, devices);
}

/* ---- values, units, requests ---------------------------------------- */

static void test_read_values_and_units(void)
{
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    char *out = NULL, *err = NULL;
    cJSON *s = NULL;
    struct testdev_request *reqs = NULL;
    size_t n = 0;
    int code;

    REQUIRE(temp_path(log, sizeof(log), "values.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS(FULL_SETS, "--log", log)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000,
                           "{ id = \"meter\"; bus = \"field\"; unit = 1; interval_s = 10;\n" FULL_MAP
                           "}\n") == 0, out);
    REQUIRE(run_read(cfg, "meter", true, &out, &err, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 0);
    s = cJSON_Parse(out);
    REQUIRE(s != NULL, out);
    CU_ASSERT(reading_ts(s) > 1600000000000LL);     /* ms since the epoch */
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(s, "device"));  /* the MQTT payload has none */
    check_full_sample(s);

    /* The plain table says the same. */
    free(out);
    out = NULL;
    REQUIRE(run_read(cfg, "meter", false, &out, NULL, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "123.456"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "uncertain"));

    /* One poll each, in the fewest reads. */
    REQUIRE(testdev_requests_of(log, 1, &reqs, &n) == 0, out);
    size_t per_poll = sizeof(full_reads) / sizeof(full_reads[0]);
    CU_ASSERT_EQUAL(n, 2 * per_poll);
    if (n == 2 * per_poll) {
        CU_ASSERT(same_requests(reqs, per_poll, full_reads, per_poll));
        CU_ASSERT(same_requests(reqs + per_poll, per_poll, full_reads, per_poll));
    } else {
        print_requests("requests", reqs, n);
    }
out:
    free(reqs);
    cJSON_Delete(s);
    free(out);
    free(err);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* Register maps whose optimal plans are known, one per unit id. */
static const struct plan_case {
    const char *id;
    const char *map;
    size_t n_reads;
    struct testdev_request reads[4];
} plan_cases[] = {
    { "contiguous",
      "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
      "  { name = \"b\"; table = \"holding\"; address = 1; type = \"uint32\"; },\n"
      "  { name = \"c\"; table = \"holding\"; address = 3; type = \"float32\"; } );",
      1, { { 0, 3, 0, 5 } } },
    { "gap-at-fill-limit",   /* 10 unrequested registers: still one read */
      "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
      "  { name = \"b\"; table = \"holding\"; address = 11; } );",
      1, { { 0, 3, 0, 12 } } },
    { "gap-over-fill-limit",
      "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
      "  { name = \"b\"; table = \"holding\"; address = 12; } );",
      2, { { 0, 3, 0, 1 }, { 0, 3, 12, 1 } } },
    { "size-limit",          /* 10 registers, at most 4 per read */
      "max_read_registers = 4;\n"
      "points = ( { name = \"a\"; table = \"holding\"; address = 0; type = \"uint32\"; },\n"
      "  { name = \"b\"; table = \"holding\"; address = 2; type = \"uint32\"; },\n"
      "  { name = \"c\"; table = \"holding\"; address = 4; type = \"uint32\"; },\n"
      "  { name = \"d\"; table = \"holding\"; address = 6; type = \"uint32\"; },\n"
      "  { name = \"e\"; table = \"holding\"; address = 8; type = \"uint32\"; } );",
      3, { { 0, 3, 0, 4 }, { 0, 3, 4, 4 }, { 0, 3, 8, 2 } } },
    { "declared-hole",       /* mergeable but for the hole */
      "holes = ( { table = \"input\"; from = 2; to = 3; } );\n"
      "points = ( { name = \"a\"; table = \"input\"; address = 0; },\n"
      "  { name = \"b\"; table = \"input\"; address = 5; } );",
      2, { { 0, 4, 0, 1 }, { 0, 4, 5, 1 } } },
    { "bits",                /* bit gaps up to 160 merge */
      "points = ( { name = \"a\"; table = \"coil\"; address = 0; type = \"bit\"; },\n"
      "  { name = \"b\"; table = \"coil\"; address = 100; type = \"bit\"; },\n"
      "  { name = \"c\"; table = \"coil\"; address = 160; type = \"bit\"; },\n"
      "  { name = \"d\"; table = \"discrete\"; address = 0; type = \"bit\"; },\n"
      "  { name = \"e\"; table = \"discrete\"; address = 200; type = \"bit\"; } );",
      3, { { 0, 1, 0, 161 }, { 0, 2, 0, 1 }, { 0, 2, 200, 1 } } },
    { "four-tables",
      "points = ( { name = \"a\"; table = \"coil\"; address = 7; type = \"bit\"; },\n"
      "  { name = \"b\"; table = \"discrete\"; address = 7; type = \"bit\"; },\n"
      "  { name = \"c\"; table = \"input\"; address = 7; },\n"
      "  { name = \"d\"; table = \"holding\"; address = 7; } );",
      4, { { 0, 1, 7, 1 }, { 0, 2, 7, 1 }, { 0, 4, 7, 1 }, { 0, 3, 7, 1 } } },
};

static void test_requests_per_poll_are_optimal(void)
{
    enum { N = sizeof(plan_cases) / sizeof(plan_cases[0]) };
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    char devices[8192] = "";
    size_t used = 0;

    REQUIRE(temp_path(log, sizeof(log), "plans.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--log", log)) == 0, out);
    for (size_t i = 0; i < N; i++)
        used += (size_t)snprintf(devices + used, sizeof(devices) - used,
                                 "{ id = \"%s\"; bus = \"field\"; unit = %zu; %s },\n",
                                 plan_cases[i].id, i + 1, plan_cases[i].map);
    devices[used - 2] = '\n';   /* no comma after the last one */
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000, devices) == 0, out);
    for (size_t i = 0; i < N; i++) {
        const struct plan_case *c = &plan_cases[i];
        char *text = NULL, *err = NULL;
        struct testdev_request *reqs = NULL;
        size_t n = 0;
        int code = -1;
        CU_ASSERT_EQUAL(run_read(cfg, c->id, true, &text, &err, &code, NULL), 0);
        CU_ASSERT_EQUAL(code, 0);
        cJSON *s = cJSON_Parse(text);
        CU_ASSERT_EQUAL(reading_count(s, "quality"), 0);   /* every point read */
        cJSON_Delete(s);
        CU_ASSERT_EQUAL(testdev_requests_of(log, (unsigned)i + 1, &reqs, &n), 0);
        struct testdev_request want[4];
        for (size_t k = 0; k < c->n_reads; k++) {
            want[k] = c->reads[k];
            want[k].unit = (unsigned)i + 1;
        }
        bool same = same_requests(reqs, n, want, c->n_reads);
        if (!same) {
            fprintf(stderr, "plan case %s: %s", c->id, err ? err : "");
            print_requests("  requested", reqs, n);
            print_requests("  optimum", want, c->n_reads);
        }
        CU_ASSERT(same);
        free(reqs);
        free(text);
        free(err);
    }
out:
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* ---- read-only -------------------------------------------------------- */

static void test_daemon_sends_only_reads(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    struct testdev_log log = { 0 };
    char log_path[512], cfg[512];
    int samples = 0, status = -1;

    REQUIRE(temp_path(log_path, sizeof(log_path), "readonly.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS(FULL_SETS, "--log", log_path)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000,
                           "{ id = \"meter\"; bus = \"field\"; unit = 1; interval_s = 0.2;\n" FULL_MAP
                           "}\n") == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    for (int i = 0; i < 5; i++) {
        cJSON *s = greenwatchd_next_sample(&d, "meter", SAMPLE_WAIT_MS);
        REQUIRE(s != NULL, out);
        samples++;
        check_full_sample(s);
        cJSON_Delete(s);
    }
    /* Stop (SIGINT, as from a terminal); whatever was read is published. */
    CU_ASSERT_EQUAL(proc_kill(&d, SIGINT), 0);
    for (cJSON *s; (s = greenwatchd_next_sample(&d, NULL, 10000)); cJSON_Delete(s))
        samples++;
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT_EQUAL(log.non_read, 0);
    /* Every published sample took exactly the optimal reads, nothing more. */
    CU_ASSERT_EQUAL(log.total, 5 * (size_t)samples);
    CU_ASSERT_EQUAL(log.by_fc[1], (size_t)samples);
    CU_ASSERT_EQUAL(log.by_fc[2], (size_t)samples);
    CU_ASSERT_EQUAL(log.by_fc[3], 2 * (size_t)samples);
    CU_ASSERT_EQUAL(log.by_fc[4], (size_t)samples);
    CU_ASSERT_EQUAL(log.by_unit[1], log.total);
out:
    testdev_log_free(&log);
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* libmodbus calls that put something other than a read on the wire. */
static const char *const writing_calls[] = {
    "modbus_write_", "modbus_send_raw_request", "modbus_write_and_read_registers",
    "modbus_mask_write_register",
};

static struct {
    size_t files;
    bool saw_link;          /* the file that does send requests was read */
    char offenders[2048];
} scan;

static int scan_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t len = strlen(path);
    if (flag == FTW_D && len >= 10 && strcmp(path + len - 10, "/tools/sim") == 0)
        return FTW_SKIP_SUBTREE;    /* the simulator is a server: it writes its own registers */
    if (flag != FTW_F || len < 2 || path[len - 2] != '.' || (path[len - 1] != 'c' && path[len - 1] != 'h'))
        return FTW_CONTINUE;
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0;
    if (!f || getdelim(&text, &cap, '\0', f) < 0) {
        CU_FAIL("a source file could not be read");
        fprintf(stderr, "cannot read %s\n", path);
    } else {
        scan.files++;
        if (strstr(path, "/daemon/modbus_link.c") && strstr(text, "modbus_read_registers("))
            scan.saw_link = true;
        for (size_t i = 0; i < sizeof(writing_calls) / sizeof(writing_calls[0]); i++) {
            if (strstr(text, writing_calls[i])) {
                size_t used = strlen(scan.offenders);
                snprintf(scan.offenders + used, sizeof(scan.offenders) - used, " %s (%s)", path,
                         writing_calls[i]);
            }
        }
    }
    free(text);
    if (f)
        fclose(f);
    return FTW_CONTINUE;
}

static void test_sources_never_write(void)
{
    memset(&scan, 0, sizeof(scan));
    CU_ASSERT_EQUAL(nftw(GW_SOURCE_DIR "/daemon", scan_file, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
    CU_ASSERT_EQUAL(nftw(GW_SOURCE_DIR "/tools", scan_file, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
    /* The scan did look at the code that talks Modbus. */
    CU_ASSERT(scan.files >= 10);
    CU_ASSERT(scan.saw_link);
    if (scan.offenders[0])
        fprintf(stderr, "write calls in:%s\n", scan.offenders);
    CU_ASSERT_EQUAL(scan.offenders[0], '\0');
}

/* ---- exception 2 ------------------------------------------------------ */

/*
 * Runs the daemon on cfg until it has published `polls` samples of
 * "meter", checking each with check().  The device's log held *started
 * requests before, and *first_poll when the first sample came out.
 * Returns the number of samples seen.
 */
static int run_daemon_polls(const char *cfg, int polls, void (*check)(const cJSON *),
                            const char *log_path, size_t *started, size_t *first_poll)
{
    struct proc d = { .pid = 0, .out = -1 };
    struct testdev_log log;
    int seen = 0, status = -1;

    *started = *first_poll = 0;
    REQUIRE(testdev_log_read(log_path, &log) == 0, out);
    *started = log.total;
    testdev_log_free(&log);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    for (; seen < polls; seen++) {
        cJSON *s = greenwatchd_next_sample(&d, "meter", SAMPLE_WAIT_MS);
        REQUIRE(s != NULL, out);
        check(s);
        cJSON_Delete(s);
        if (seen == 0 && testdev_log_read(log_path, &log) == 0) {
            *first_poll = log.total;
            testdev_log_free(&log);
        }
    }
    CU_ASSERT_EQUAL(proc_kill(&d, SIGTERM), 0);
    for (cJSON *s; (s = greenwatchd_next_sample(&d, NULL, 10000)); cJSON_Delete(s))
        seen++;
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
out:
    proc_stop(&d, NULL);
    return seen;
}

#define THREE_POINTS(middle)                                                    \
    "{ id = \"meter\"; bus = \"field\"; unit = 1; interval_s = 0.2;\n"          \
    "  points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"       \
    middle                                                                      \
    "    { name = \"c\"; table = \"holding\"; address = 8; unit = \"kW\"; } ); }\n"

static void check_b_bad(const cJSON *s)
{
    double a = -1, c = -1;
    CU_ASSERT(reading_value(s, "a", &a) && a == 10);
    CU_ASSERT(reading_value(s, "c", &c) && c == 80);
    const char *q = reading_quality(s, "b");
    CU_ASSERT(q && strcmp(q, "bad") == 0);
    CU_ASSERT_EQUAL(reading_count(s, "points"), 2);
    CU_ASSERT_EQUAL(reading_count(s, "quality"), 1);
}

/* Checks that after the daemon's first poll (log entries started ..
 * first_poll) no request covered address, and that later polls took no
 * more than reads_per_poll requests each. */
static void check_not_asked_again(const char *log_path, size_t started, size_t first_poll,
                                  int samples, unsigned address, size_t reads_per_poll)
{
    struct testdev_log log;
    size_t asked_first = 0, asked_later = 0;

    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT(first_poll > started && first_poll <= log.total);
    for (size_t i = started; i < log.total; i++) {
        if (request_covers(&log.requests[i], 3, address))
            *(i < first_poll ? &asked_first : &asked_later) += 1;
    }
    CU_ASSERT(asked_first >= 1);    /* the first poll found it out */
    CU_ASSERT_EQUAL(asked_later, 0);
    CU_ASSERT(samples >= 4);
    CU_ASSERT(log.total - first_poll <= reads_per_poll * (size_t)(samples - 1));
    CU_ASSERT_EQUAL(log.non_read, 0);
    testdev_log_free(&log);
}

static void test_illegal_address_in_point(void)
{
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    char *out = NULL;
    size_t started, first_poll;
    int code = -1;

    REQUIRE(temp_path(log, sizeof(log), "illegal-point.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--illegal", "holding:5", "--set", "holding:0=10",
                                     "--set", "holding:8=80", "--log", log)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000,
                           THREE_POINTS("    { name = \"b\"; table = \"holding\"; address = 5; },\n"))
            == 0, out);
    /* One poll: the device answers, so the read succeeds. */
    REQUIRE(run_read(cfg, "meter", true, &out, NULL, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 0);
    cJSON *s = cJSON_Parse(out);
    REQUIRE(s != NULL, out);
    check_b_bad(s);
    cJSON_Delete(s);
    /* The daemon remembers: a and c are read without touching 5 again
     * (two reads: one spanning 0..8 would cover it). */
    int samples = run_daemon_polls(cfg, 4, check_b_bad, log, &started, &first_poll);
    check_not_asked_again(log, started, first_poll, samples, 5, 2);
out:
    free(out);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void check_a_c_good(const cJSON *s)
{
    double a = -1, c = -1;
    CU_ASSERT(reading_value(s, "a", &a) && a == 10);
    CU_ASSERT(reading_value(s, "c", &c) && c == 80);
    CU_ASSERT_EQUAL(reading_count(s, "quality"), 0);
}

static void test_illegal_address_in_gap(void)
{
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    size_t started, first_poll;

    REQUIRE(temp_path(log, sizeof(log), "illegal-gap.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--illegal", "holding:4", "--set", "holding:0=10",
                                     "--set", "holding:8=80", "--log", log)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000, THREE_POINTS("")) == 0, out);
    /* Even the first sample has both points: the gap was never needed. */
    int samples = run_daemon_polls(cfg, 4, check_a_c_good, log, &started, &first_poll);
    check_not_asked_again(log, started, first_poll, samples, 4, 2);
out:
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* ---- exception 6, timeouts ------------------------------------------- */

static void test_busy_then_success(void)
{
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    char *out = NULL;
    struct testdev_request *reqs = NULL;
    size_t n = 0;
    int code = -1;

    REQUIRE(temp_path(log, sizeof(log), "busy.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--busy", "2", "--set", "holding:0=10", "--set",
                                     "holding:8=80", "--log", log)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000, THREE_POINTS("")) == 0, out);
    REQUIRE(run_read(cfg, "meter", true, &out, NULL, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 0);
    cJSON *s = cJSON_Parse(out);
    REQUIRE(s != NULL, out);
    check_a_c_good(s);
    cJSON_Delete(s);
    /* The same read, asked again until the device was ready. */
    REQUIRE(testdev_requests_of(log, 1, &reqs, &n) == 0, out);
    CU_ASSERT_EQUAL(n, 3);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(reqs[i].fc == 3 && reqs[i].address == 0 && reqs[i].count == 9);
out:
    free(reqs);
    free(out);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_timeout_gives_all_bad(void)
{
    static const char *const names[] = { "a", "far", NULL };
    struct testdev dev = { 0 };
    char cfg[512];
    char *out = NULL, *err = NULL;
    long long elapsed = 0;
    int code = -1;
    double v = -1;

    /* Every answer comes 1 s late: in time for the bus's 2 s timeout,
     * too late for the 200 ms that device "meter" sets for itself. */
    REQUIRE(testdev_start(&dev, ARGS("--delay-ms", "1000", "--set", "holding:0=5")) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 2000,
                           "{ id = \"meter\"; bus = \"field\"; unit = 1; timeout_ms = 200;\n"
                           "  points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
                           "    { name = \"far\"; table = \"input\"; address = 900; } ); },\n"
                           "{ id = \"patient\"; bus = \"field\"; unit = 2;\n"
                           "  points = ( { name = \"a\"; table = \"holding\"; address = 0; } ); }\n")
            == 0, out);
    REQUIRE(run_read(cfg, "meter", true, &out, &err, &code, &elapsed) == 0, out);
    CU_ASSERT_NOT_EQUAL(code, 0);
    cJSON *s = cJSON_Parse(out);
    REQUIRE(s != NULL, out);
    CU_ASSERT(reading_all_bad(s, names));
    CU_ASSERT_EQUAL(reading_count(s, "quality"), 2);
    cJSON_Delete(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "did not answer"));
    CU_ASSERT(elapsed < 5000);  /* a timeout per read at most, no hang */
    free(out);
    free(err);
    out = err = NULL;

    REQUIRE(run_read(cfg, "patient", true, &out, &err, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 0);
    s = cJSON_Parse(out);
    CU_ASSERT(s && reading_value(s, "a", &v) && v == 5);
    cJSON_Delete(s);
out:
    free(out);
    free(err);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* ---- broken connections ----------------------------------------------- */

#define TWO_READS                                                                  \
    "{ id = \"meter\"; bus = \"field\"; unit = 1; interval_s = 0.2;\n"             \
    "  points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"          \
    "    { name = \"b\"; table = \"holding\"; address = 100; } ); }\n"

/* Good means both values right: an answer taken for another request's
 * would put the wrong value in. */
static bool sample_good(const cJSON *s)
{
    double a = -1, b = -1;
    bool ok = reading_value(s, "a", &a) && reading_value(s, "b", &b);
    if (ok)
        CU_ASSERT(a == 1111 && b == 2222);
    return ok && reading_count(s, "quality") == 0;
}

static void test_dropped_connection_is_reconnected(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    char log[512], cfg[512];
    int good = 0, bad = 0, good_after_bad = 0;
    char *err = NULL;

    REQUIRE(temp_path(log, sizeof(log), "drop.log") == 0, out);
    /* Two reads per poll and five answers per connection: the connection
     * breaks in the middle of every third poll. */
    REQUIRE(testdev_start(&dev, ARGS("--drop-after", "5", "--set", "holding:0=1111",
                                     "--set", "holding:100=2222", "--log", log)) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000, TWO_READS) == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    for (int i = 0; i < 15; i++) {
        cJSON *s = greenwatchd_next_sample(&d, "meter", SAMPLE_WAIT_MS);
        REQUIRE(s != NULL, out);
        if (sample_good(s)) {
            good++;
            good_after_bad += bad > 0;
        } else {
            CU_ASSERT(reading_count(s, "points") + reading_count(s, "quality") >= 2);
            bad++;
        }
        cJSON_Delete(s);
    }
    /* Each connection serves 5 requests: 2.5 polls.  A lost connection
     * costs at most the poll it broke. */
    CU_ASSERT(bad >= 1);
    CU_ASSERT(good >= 9);
    CU_ASSERT(good_after_bad >= 5);
    err = proc_stderr(&d);
    int connects = 0;
    for (const char *c = err; (c = strstr(c, "connected to")); c++)
        connects++;
    CU_ASSERT(connects >= 3);
out:
    free(err);
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_bad_transaction_id_recovers(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    char cfg[512];
    int bad = 0;

    REQUIRE(testdev_start(&dev, ARGS("--bad-tid", "--set", "holding:0=1111", "--set",
                                     "holding:100=2222")) == 0, out);
    REQUIRE(one_bus_config(cfg, sizeof(cfg), dev.port, 1000, TWO_READS) == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    for (int i = 0; i < 5; i++) {
        cJSON *s = greenwatchd_next_sample(&d, "meter", SAMPLE_WAIT_MS);
        REQUIRE(s != NULL, out);
        bool good = sample_good(s);
        bad += !good;
        if (i >= 1)     /* only the poll that met the wrong id may suffer */
            CU_ASSERT(good);
        cJSON_Delete(s);
    }
    CU_ASSERT(bad <= 1);
out:
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "read: values and units as configured", test_read_values_and_units },
        { "read: requests per poll are optimal", test_requests_per_poll_are_optimal },
        { "daemon: only function codes 1-4 on the wire", test_daemon_sends_only_reads },
        { "sources: no libmodbus write call", test_sources_never_write },
        { "exception 2 inside a point: isolated", test_illegal_address_in_point },
        { "exception 2 in a gap: skipped", test_illegal_address_in_gap },
        { "exception 6 then success", test_busy_then_success },
        { "timeout: all points bad, non-zero exit", test_timeout_gives_all_bad },
        { "dropped connection: reconnected", test_dropped_connection_is_reconnected },
        { "bad transaction id: recovers", test_bad_transaction_id_recovers },
    };
    return itest_main("poll", cases, sizeof(cases) / sizeof(cases[0]));
}
