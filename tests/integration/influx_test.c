/*
 * The InfluxDB sink against real servers: influxd (1.x API) and
 * VictoriaMetrics (2.x API), started on loopback with private data
 * directories (tests/support/tsdb.h).  Samples go through the real sink
 * and a real spool; what the server stored is queried back and compared
 * exactly: values, tags (Chinese, escaped characters) and timestamps.
 *
 * Also: a partial write (field type conflict) and a parse error are
 * logged and committed, not retried; refused credentials set auth_failed
 * and keep the records; 413 splits requests; influxd stopped and started
 * again mid-run loses nothing; HTTPS is verified.  A scripted HTTP server on loopback checks
 * what real servers cannot be made to do on demand: 503/429 with
 * Retry-After, the 2.x request (token, gzip), and a prompt stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "itest.h"
#include "sample.h"
#include "sink.h"
#include "spool.h"
#include "tsdb.h"

#define DB "greenwatch"
#define BASE_TS 1795000000000LL       /* 2026-11-18: within VictoriaMetrics' retention */
#define DELIVERY_WAIT_MS 30000

/* ---- the device and its samples -------------------------------------- */

static struct gw_tag chiller_tags[] = {
    { "building", "一号楼" },
    { "category", "冷水机组" },
    { "energy", "electricity" },
    { "floor", "B1, plant room" },
    { "zone", "x=1 y\\z" },
};

static struct gw_device_cfg chiller = {
    .id = (char *)"冷机-1 north",
    .kind = (char *)"chiller",
    .tags = chiller_tags,
    .n_tags = sizeof chiller_tags / sizeof chiller_tags[0],
};

/* Values that test the number format: 17 digits, exponents, extremes. */
static const double extreme_kw[] = {
    0.1 + 0.2, -273.15, 1e21, 42.0, 1.0 / 3.0, DBL_MIN, -0.0, 123456.789, 1.5e-7, 4294967295.0,
};
/* VictoriaMetrics stores a block of values with one decimal exponent,
 * about 12 significant digits of the largest: values of a plant's range. */
static const double plant_kw[] = { 312.5, 0.1 + 0.2, -3.75, 1.0 / 3.0, 42.0, 1234.5678, 0.001 };

static const double *kw_values = extreme_kw;
static size_t n_kw = sizeof extreme_kw / sizeof extreme_kw[0];
#define N_KW n_kw

static const char mode_text[] = "auto \"eco\" C:\\dir\\ 运行, a=b";

static long long sample_ts(int i)
{
    return BASE_TS + (long long)i * 1000 + i % 997;   /* not whole seconds: ms precision */
}

static double chw_value(int i)
{
    return 6.5 + i / 3.0;
}

/* Sample i: good chw_supply_temp, kw, mode (a string); cop bad and flow
 * uncertain, which must never be written. */
static void make_sample(struct gw_sample *s, int i)
{
    sample_init(s, chiller.id, 8);
    s->ts_ms = sample_ts(i);
    sample_add(s, "chw_supply_temp", "degC", chw_value(i), GW_QUALITY_GOOD);
    sample_add(s, "cop", "", 99.0, GW_QUALITY_BAD);
    sample_add(s, "kw", "kW", kw_values[(size_t)i % N_KW], GW_QUALITY_GOOD);
    sample_add(s, "flow", "m3/h", 1e9, GW_QUALITY_UNCERTAIN);
    sample_add(s, "mode", "", 0, GW_QUALITY_GOOD);
    s->readings[s->n_readings - 1].text = strdup(mode_text);
}

/* ---- a sink on its own spool ------------------------------------------ */

struct fixture {
    struct tsdb db;
    char spool_dir[512];
    struct gw_spool *spool;
    struct gw_config cfg;
    void *sink;
};

static void fixture_config(struct fixture *fx, const char *url, const char *api)
{
    memset(&fx->cfg, 0, sizeof fx->cfg);
    fx->cfg.site.id = (char *)"demo tower";
    struct gw_influx_cfg *c = &fx->cfg.influx;
    c->present = true;
    c->url = (char *)url;
    c->api = (char *)api;
    c->database = (char *)DB;
    c->org = (char *)"greenwatch org";
    c->bucket = (char *)"energy/raw";
    c->batch_lines = 5000;
    c->flush_ms = 50;
    c->timeout_ms = 5000;
    c->gzip = true;
    c->verify_tls = true;
}

static int fixture_open_spool(struct fixture *fx)
{
    if (!fx->spool_dir[0] && make_temp_dir(fx->spool_dir, sizeof fx->spool_dir) < 0)
        return -EIO;
    struct gw_spool_options o = spool_default_options;
    o.fsync_interval_ms = 0;
    return spool_open(fx->spool_dir, &o, &fx->spool);
}

static int fixture_sink(struct fixture *fx)
{
    return sink_influx_ops.create(&fx->cfg, fx->spool, &fx->sink);
}

static void fixture_close(struct fixture *fx)
{
    if (fx->sink)
        sink_influx_ops.destroy(fx->sink);
    fx->sink = NULL;
    if (fx->spool)
        spool_close(fx->spool);
    fx->spool = NULL;
    tsdb_stop(&fx->db);
}

static struct gw_health_sink sink_state(struct fixture *fx)
{
    struct gw_health_sink h;
    sink_influx_ops.state(fx->sink, &h);
    return h;
}

/* Submit samples first..last-1. */
static int submit_samples(struct fixture *fx, int first, int last)
{
    for (int i = first; i < last; i++) {
        struct gw_sample s;
        make_sample(&s, i);
        int rc = sink_influx_ops.submit_sample(fx->sink, &s, &chiller);
        sample_free(&s);
        if (rc)
            return rc;
    }
    return 0;
}

/* Wait until the spool is empty and at least `delivered` records went. */
static bool await_delivered(struct fixture *fx, uint64_t delivered)
{
    long long deadline = mono_ms() + DELIVERY_WAIT_MS;
    struct gw_health_sink h;
    do {
        h = sink_state(fx);
        if (h.spool.depth_records == 0 && h.delivered >= delivered)
            return true;
        poll(NULL, 0, 20);
    } while (mono_ms() < deadline);
    fprintf(stderr, "influx_test: delivered %llu of %llu, %llu waiting, %llu failed attempts\n",
            (unsigned long long)h.delivered, (unsigned long long)delivered,
            (unsigned long long)h.spool.depth_records, (unsigned long long)h.failed);
    return false;
}

static bool await_condition(struct fixture *fx, bool (*cond)(const struct gw_health_sink *), int ms)
{
    long long deadline = mono_ms() + ms;
    do {
        struct gw_health_sink h = sink_state(fx);
        if (cond(&h))
            return true;
        poll(NULL, 0, 20);
    } while (mono_ms() < deadline);
    return false;
}

static int start_influxd(struct fixture *fx, const struct influxd_options *opt, const char *userpwd)
{
    cJSON *answer = NULL;
    int rc = influxd_start(&fx->db, opt);
    if (rc == 0 && opt && opt->auth)   /* the first user of a server with auth must be an admin */
        rc = influx_query(&fx->db, NULL, "CREATE USER admin WITH PASSWORD 'right horse' WITH ALL PRIVILEGES",
                          NULL, &answer);
    cJSON_Delete(answer);
    answer = NULL;
    if (rc == 0)
        rc = influx_query(&fx->db, NULL, "CREATE DATABASE " DB, userpwd, &answer);
    cJSON_Delete(answer);
    return rc;
}

/* ---- reading back ----------------------------------------------------- */

/* The series of a query's first result (an array), or NULL. */
static const cJSON *result_series(const cJSON *answer)
{
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(answer, "results");
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results, 0), "series");
}

static int column_of(const cJSON *series, const char *name)
{
    const cJSON *columns = cJSON_GetObjectItemCaseSensitive(series, "columns");
    int i = 0;
    for (const cJSON *c = columns ? columns->child : NULL; c; c = c->next, i++)
        if (cJSON_IsString(c) && strcmp(c->valuestring, name) == 0)
            return i;
    return -1;
}

static const char *tag_of(const cJSON *series, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(series, "tags"), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The index i of the sample with timestamp ts, or -1. */
static int sample_index(long long ts, int n)
{
    for (int i = 0; i < n; i++)
        if (sample_ts(i) == ts)
            return i;
    return -1;
}

/* Checks that the chiller series of device chiller holds samples [0, n),
 * each exactly once with exact values and tags; returns how many rows it
 * holds. */
static int check_chiller_rows(struct fixture *fx, int n, const char *userpwd)
{
    cJSON *answer = NULL;
    if (influx_query(&fx->db, DB, "SELECT * FROM \"chiller\" WHERE \"device\" = '冷机-1 north' GROUP BY *", userpwd, &answer) != 0)
        return -1;
    const cJSON *all = result_series(answer);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 1);   /* one series: the tags never vary */
    const cJSON *series = cJSON_GetArrayItem(all, 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(series, "name")->valuestring, "chiller");
    CU_ASSERT_STRING_EQUAL(tag_of(series, "site"), "demo tower");
    CU_ASSERT_STRING_EQUAL(tag_of(series, "device"), "冷机-1 north");
    for (size_t t = 0; t < chiller.n_tags; t++)
        CU_ASSERT_STRING_EQUAL(tag_of(series, chiller_tags[t].key), chiller_tags[t].value);
    CU_ASSERT_EQUAL(column_of(series, "cop"), -1);    /* bad: never written */
    CU_ASSERT_EQUAL(column_of(series, "flow"), -1);   /* uncertain: never written */
    int c_time = column_of(series, "time"), c_chw = column_of(series, "chw_supply_temp");
    int c_kw = column_of(series, "kw"), c_mode = column_of(series, "mode");
    CU_ASSERT(c_time == 0 && c_chw > 0 && c_kw > 0 && c_mode > 0);
    int rows = 0;
    bool *seen = calloc((size_t)n, 1);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(series, "values");
    for (const cJSON *row = values ? values->child : NULL; row && c_mode > 0; row = row->next, rows++) {
        int i = sample_index((long long)cJSON_GetArrayItem(row, c_time)->valuedouble, n);
        CU_ASSERT_FATAL(i >= 0);
        CU_ASSERT(!seen[i]);
        seen[i] = true;
        CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, c_chw)->valuedouble, chw_value(i));
        CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, c_kw)->valuedouble, kw_values[(size_t)i % N_KW]);
        CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(row, c_mode)->valuestring, mode_text);
    }
    for (int i = 0; i < n; i++)
        CU_ASSERT(seen[i]);
    free(seen);
    cJSON_Delete(answer);
    return rows;
}

/* ---- stderr captured, to check what was logged ------------------------ */

struct capture {
    int saved;
    char path[512];
};

static void capture_start(struct capture *c)
{
    static unsigned n;
    char name[32];
    snprintf(name, sizeof name, "stderr-%u", ++n);
    temp_path(c->path, sizeof c->path, name);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* What was written to stderr since capture_start (malloc'd); it is also
 * copied to the real stderr. */
static char *capture_stop(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(c->path, "re");
    if (f) {
        FILE *m = open_memstream(&text, &len);
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, got, m);
        fclose(m);
        fclose(f);
    }
    fputs(text ? text : "", stderr);
    return text ? text : strdup("");
}

/* ---- tests against influxd ------------------------------------------- */

/* Escaping, values, timestamps and tags round-trip; bad and uncertain
 * points and samples without a good point write nothing; health lines. */
static void test_v1_round_trip(void)
{
    struct fixture fx = { 0 };
    enum { N = 60 };
    REQUIRE(start_influxd(&fx, NULL, NULL) == 0, out);
    fixture_config(&fx, fx.db.url, "v1");
    fx.cfg.influx.batch_lines = 7;   /* several requests */
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(submit_samples(&fx, 0, N) == 0, out);

    struct gw_sample empty;   /* nothing good: no line at all */
    sample_init(&empty, chiller.id, 2);
    empty.ts_ms = BASE_TS - 5000;
    sample_add(&empty, "kw", "kW", 1, GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(sink_influx_ops.submit_sample(fx.sink, &empty, &chiller), 0);
    sample_free(&empty);

    struct gw_health_bus bus = { .id = "plant", .connected = true, .requests = 1234, .errors = 5 };
    struct gw_health_device dev = { .id = "冷机-1 north", .online = true, .polls = 77, .latency_ms = 12.25 };
    struct gw_health_sink sink = { .name = "influxdb", .delivered = 9, .spool = { .dropped = 3 } };
    struct gw_health h = { .ts_ms = BASE_TS + 999, .uptime_s = 3600.5, .buses = &bus, .n_buses = 1,
                           .devices = &dev, .n_devices = 1, .sinks = &sink, .n_sinks = 1 };
    CU_ASSERT_EQUAL(sink_influx_ops.submit_health(fx.sink, &h), 0);

    REQUIRE(await_delivered(&fx, N + 4), out);
    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT(st.connected);
    CU_ASSERT_FALSE(st.auth_failed);
    CU_ASSERT_EQUAL(st.rejected, 0);
    CU_ASSERT_EQUAL(st.delivered, N + 4);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, NULL), N);

    cJSON *answer = NULL;
    REQUIRE(influx_query(&fx.db, DB, "SELECT * FROM \"greenwatch\" GROUP BY *", NULL, &answer) == 0, out);
    const cJSON *all = result_series(answer);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 4);   /* daemon, bus, device, sink */
    for (const cJSON *s = all ? all->child : NULL; s; s = s->next) {
        const char *scope = tag_of(s, "scope");
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        CU_ASSERT_STRING_EQUAL(tag_of(s, "site"), "demo tower");
        CU_ASSERT_EQUAL((long long)cJSON_GetArrayItem(row, 0)->valuedouble, BASE_TS + 999);
        if (strcmp(scope, "bus") == 0) {
            CU_ASSERT_STRING_EQUAL(tag_of(s, "bus"), "plant");
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "requests"))->valuedouble, 1234);
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "errors"))->valuedouble, 5);
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "connected"))->valuedouble, 1);
        } else if (strcmp(scope, "device") == 0) {
            CU_ASSERT_STRING_EQUAL(tag_of(s, "device"), "冷机-1 north");
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "latency_ms"))->valuedouble, 12.25);
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "polls"))->valuedouble, 77);
        } else if (strcmp(scope, "sink") == 0) {
            CU_ASSERT_STRING_EQUAL(tag_of(s, "sink"), "influxdb");
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "spool_dropped"))->valuedouble, 3);
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "delivered"))->valuedouble, 9);
        } else {
            CU_ASSERT_STRING_EQUAL(scope, "daemon");
            CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, column_of(s, "uptime_s"))->valuedouble, 3600.5);
        }
    }
    cJSON_Delete(answer);
out:
    fixture_close(&fx);
}

/* 400: a field type conflict and a line influxd cannot parse are
 * logged with the line, counted and committed, never retried; the other
 * lines of the same request are stored. */
static void test_v1_rejected_lines(void)
{
    struct fixture fx = { 0 };
    struct capture cap;
    char *log = NULL;
    enum { N = 8 };
    static const char conflict[] = "chiller,device=other kw=\"text\" 1795000000000\n";
    REQUIRE(start_influxd(&fx, NULL, NULL) == 0, out);
    fixture_config(&fx, fx.db.url, "v1");
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);

    /* One request: samples 0..3 (kw is a float), a string kw, 4..7. */
    REQUIRE(submit_samples(&fx, 0, N / 2) == 0, out);
    REQUIRE(spool_append(fx.spool, conflict, strlen(conflict)) == 0, out);
    REQUIRE(submit_samples(&fx, N / 2, N) == 0, out);
    capture_start(&cap);
    CU_ASSERT_EQUAL(sink_influx_ops.start(fx.sink), 0);
    bool done = await_delivered(&fx, N);
    log = capture_stop(&cap);
    REQUIRE(done, out);

    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.spool.depth_records, 0);   /* committed: not retried */
    CU_ASSERT(st.connected);
    CU_ASSERT(st.failed <= 1);                    /* a request refused whole, then split */
    CU_ASSERT_EQUAL(st.rejected, 1);
    CU_ASSERT_EQUAL(st.delivered, N);
    /* influxd 1.6 refuses a whole request whose lines conflict with
     * each other, or writes the rest ("partial write") when the field
     * already exists: either way only the culprit is refused, and named */
    CU_ASSERT(strstr(log, "HTTP 400: ") != NULL);
    CU_ASSERT(strstr(log, "field type conflict") != NULL);
    CU_ASSERT(strstr(log, "not sent again") != NULL);
    const char *named = strstr(log, ": chiller,device=other kw=\"text\" 1795000000000\n");
    CU_ASSERT(named && strstr(log, "refused") < named);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, NULL), N);

    /* A malformed line among good ones: influxd quotes it, the rest is
     * stored. */
    free(log);
    capture_start(&cap);
    REQUIRE(spool_append(fx.spool, "meter,device=m1 kwh=1 1795000000000\n", 36) == 0, out);
    REQUIRE(spool_append(fx.spool, "meter,device=m1 kwh=\n", 21) == 0, out);
    REQUIRE(spool_append(fx.spool, "meter,device=m1 kwh=3 1795000002000\n", 36) == 0, out);
    done = await_delivered(&fx, N + 2);
    log = capture_stop(&cap);
    REQUIRE(done, out);
    st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.rejected, 2);
    CU_ASSERT_EQUAL(st.delivered, N + 2);
    CU_ASSERT(strstr(log, "unable to parse 'meter,device=m1 kwh=': ") != NULL);
    cJSON *answer = NULL;
    REQUIRE(influx_query(&fx.db, DB, "SELECT kwh FROM meter", NULL, &answer) == 0, out);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(result_series(answer), 0), "values");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(values), 2);
    cJSON_Delete(answer);
out:
    free(log);
    fixture_close(&fx);
}

static bool auth_failed(const struct gw_health_sink *h)
{
    return h->auth_failed && h->failed > 0;
}

/* 401: auth_failed is set, nothing is committed; with the right password
 * everything arrives and auth_failed clears. */
static void test_v1_auth(void)
{
    struct fixture fx = { 0 };
    struct influxd_options opt = { .auth = true };
    char wrong[512], right[512];
    enum { N = 20 };
    REQUIRE(start_influxd(&fx, &opt, "admin:right horse") == 0, out);
    REQUIRE(write_temp_file(wrong, sizeof wrong, "wrong horse\n") == 0, out);
    REQUIRE(write_temp_file(right, sizeof right, "right horse\n") == 0, out);
    fixture_config(&fx, fx.db.url, "v1");
    fx.cfg.influx.username = (char *)"admin";
    fx.cfg.influx.password_file = wrong;
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(submit_samples(&fx, 0, N) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_condition(&fx, auth_failed, DELIVERY_WAIT_MS), out);
    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.spool.depth_records, N);   /* kept for later */
    CU_ASSERT_EQUAL(st.delivered, 0);
    CU_ASSERT_FALSE(st.connected);
    long long t0 = mono_ms();
    sink_influx_ops.destroy(fx.sink);   /* stops in its slow retry wait */
    fx.sink = NULL;
    CU_ASSERT(mono_ms() - t0 < 2000);

    fx.cfg.influx.password_file = right;
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    CU_ASSERT_FALSE(sink_state(&fx).auth_failed);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, "admin:right horse"), N);
out:
    fixture_close(&fx);
}

/* 413: requests are halved until they fit; a single line larger than
 * the limit is refused and counted; nothing is lost or doubled. */
static void test_v1_too_large(void)
{
    struct fixture fx = { 0 };
    struct influxd_options opt = { .max_body_size = 4096 };
    enum { N = 300 };
    REQUIRE(start_influxd(&fx, &opt, NULL) == 0, out);
    fixture_config(&fx, fx.db.url, "v1");
    fx.cfg.influx.gzip = false;   /* influxd 1.6 limits the compressed size */
    fx.cfg.influx.batch_lines = 1000;
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(submit_samples(&fx, 0, N / 2) == 0, out);
    char *huge = malloc(6000);
    REQUIRE(huge, out);
    int len = snprintf(huge, 6000, "chiller,device=huge note=\"%05000d\" %lld\n", 0, BASE_TS);
    CU_ASSERT_EQUAL(spool_append(fx.spool, huge, (size_t)len), 0);
    free(huge);
    REQUIRE(submit_samples(&fx, N / 2, N) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.delivered, N);
    CU_ASSERT_EQUAL(st.rejected, 1);
    CU_ASSERT(st.failed >= 4);   /* 301 -> 150 -> 75 -> 37 -> 18 lines */
    cJSON *answer = NULL;
    REQUIRE(influx_query(&fx.db, DB, "SELECT count(kw) FROM \"chiller\"", NULL, &answer) == 0, out);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(result_series(answer), 0), "values"), 0);
    CU_ASSERT_EQUAL(cJSON_GetArrayItem(row, 1)->valuedouble, N);
    cJSON_Delete(answer);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, NULL), N);
out:
    fixture_close(&fx);
}

static bool disconnected(const struct gw_health_sink *h)
{
    return !h->connected && h->failed >= 2;
}

/* influxd stopped mid-run and started again: every sample arrives
 * exactly once. */
static void test_v1_outage(void)
{
    struct fixture fx = { 0 };
    enum { N = 300 };
    REQUIRE(start_influxd(&fx, NULL, NULL) == 0, out);
    fixture_config(&fx, fx.db.url, "v1");
    fx.cfg.influx.batch_lines = 10;
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(submit_samples(&fx, 0, 100) == 0, out);
    REQUIRE(await_delivered(&fx, 100), out);

    REQUIRE(tsdb_stop(&fx.db) == 0, out);
    for (int i = 100; i < 200; i += 10) {   /* submitting during the outage */
        REQUIRE(submit_samples(&fx, i, i + 10) == 0, out);
        poll(NULL, 0, 20);
    }
    REQUIRE(await_condition(&fx, disconnected, DELIVERY_WAIT_MS), out);
    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.spool.depth_records, 100);
    CU_ASSERT_EQUAL(st.delivered, 100);

    REQUIRE(tsdb_restart(&fx.db) == 0, out);
    REQUIRE(submit_samples(&fx, 200, N) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    st = sink_state(&fx);
    CU_ASSERT(st.connected);
    CU_ASSERT_EQUAL(st.delivered, N);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, NULL), N);
out:
    fixture_close(&fx);
}

static bool tls_failed(const struct gw_health_sink *h)
{
    return h->failed >= 1 && !h->connected;
}

/* HTTPS: the server's certificate is verified by default; a server the
 * CA file does not vouch for gets nothing, one it does gets everything. */
static void test_v1_tls(void)
{
    struct fixture fx = { 0 };
    char ca[512], cert[512], key[512], *log = NULL;
    struct capture cap;
    enum { N = 10 };
    REQUIRE(tls_make_certs(ca, cert, key) == 0, out);
    struct influxd_options opt = { .tls_cert = cert, .tls_key = key };
    REQUIRE(start_influxd(&fx, &opt, NULL) == 0, out);
    CU_ASSERT(strncmp(fx.db.url, "https://", 8) == 0);
    fixture_config(&fx, fx.db.url, "v1");
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);   /* no ca_file: the system's CAs do not know ours */
    REQUIRE(submit_samples(&fx, 0, N) == 0, out);
    capture_start(&cap);
    CU_ASSERT_EQUAL(sink_influx_ops.start(fx.sink), 0);
    bool refused = await_condition(&fx, tls_failed, DELIVERY_WAIT_MS);
    log = capture_stop(&cap);
    REQUIRE(refused, out);
    CU_ASSERT(strstr(log, "certificate") != NULL);
    CU_ASSERT_EQUAL(sink_state(&fx).spool.depth_records, N);
    CU_ASSERT_EQUAL(sink_state(&fx).delivered, 0);
    sink_influx_ops.destroy(fx.sink);
    fx.sink = NULL;

    fx.cfg.influx.ca_file = ca;
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    CU_ASSERT(sink_state(&fx).connected);
    CU_ASSERT_EQUAL(check_chiller_rows(&fx, N, NULL), N);
out:
    free(log);
    fixture_close(&fx);
}

/* ---- the 2.x API against VictoriaMetrics ------------------------------- */

/* A label's value in an export line's "metric", or NULL. */
static const char *label_of(const cJSON *line, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(line, "metric"), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Export lines of chiller_<field> (each a series) as an array; NULL until
 * n points of it are there. */
static cJSON *victoria_series(const struct tsdb *db, const char *metric, int n)
{
    char match[128], *text = NULL;
    snprintf(match, sizeof match, "{__name__=\"%s\"}", metric);
    if (victoria_export(db, match, &text) != 0)
        return NULL;
    cJSON *lines = cJSON_CreateArray();
    int points = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *line = cJSON_Parse(l);
        points += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(line, "values"));
        cJSON_AddItemToArray(lines, line);
    }
    free(text);
    if (points < n) {
        cJSON_Delete(lines);
        return NULL;
    }
    return lines;
}

static void test_v2_victoria(void)
{
    struct fixture fx = { 0 };
    char token[512];
    enum { N = 40 };
    cJSON *kw = NULL, *chw = NULL, *bad = NULL;
    kw_values = plant_kw;
    n_kw = sizeof plant_kw / sizeof plant_kw[0];
    REQUIRE(victoria_start(&fx.db) == 0, out);
    REQUIRE(write_temp_file(token, sizeof token, "not checked by VictoriaMetrics\n") == 0, out);
    fixture_config(&fx, fx.db.url, "v2");
    fx.cfg.influx.token_file = token;
    fx.cfg.influx.batch_lines = 16;
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(submit_samples(&fx, 0, N) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    CU_ASSERT_EQUAL(sink_state(&fx).rejected, 0);

    long long deadline = mono_ms() + DELIVERY_WAIT_MS;   /* VictoriaMetrics indexes in the background */
    while ((!kw || !chw) && mono_ms() < deadline) {
        if (!kw)
            kw = victoria_series(&fx.db, "chiller_kw", N);
        if (!chw)
            chw = victoria_series(&fx.db, "chiller_chw_supply_temp", N);
        if (!kw || !chw)
            poll(NULL, 0, 100);
    }
    REQUIRE(kw && chw, out);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(kw), 1);
    const cJSON *line = cJSON_GetArrayItem(kw, 0);
    CU_ASSERT_STRING_EQUAL(label_of(line, "site"), "demo tower");
    CU_ASSERT_STRING_EQUAL(label_of(line, "device"), "冷机-1 north");
    for (size_t t = 0; t < chiller.n_tags; t++)
        CU_ASSERT_STRING_EQUAL(label_of(line, chiller_tags[t].key), chiller_tags[t].value);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(line, "timestamps");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(line, "values");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(ts), N);
    bool seen[N] = { false };
    for (int k = 0; k < cJSON_GetArraySize(ts); k++) {
        int i = sample_index((long long)cJSON_GetArrayItem(ts, k)->valuedouble, N);
        CU_ASSERT_FATAL(i >= 0);
        CU_ASSERT(!seen[i]);
        seen[i] = true;
        CU_ASSERT_DOUBLE_EQUAL(cJSON_GetArrayItem(vs, k)->valuedouble, kw_values[(size_t)i % N_KW],
                               fabs(kw_values[(size_t)i % N_KW]) * 1e-12);
    }
    line = cJSON_GetArrayItem(chw, 0);
    ts = cJSON_GetObjectItemCaseSensitive(line, "timestamps");
    vs = cJSON_GetObjectItemCaseSensitive(line, "values");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(ts), N);
    for (int k = 0; k < cJSON_GetArraySize(ts); k++) {
        int i = sample_index((long long)cJSON_GetArrayItem(ts, k)->valuedouble, N);
        CU_ASSERT_FATAL(i >= 0);
        CU_ASSERT_DOUBLE_EQUAL(cJSON_GetArrayItem(vs, k)->valuedouble, chw_value(i), chw_value(i) * 1e-12);
    }
    bad = victoria_series(&fx.db, "chiller_cop", 0);   /* bad: never written */
    CU_ASSERT(bad && cJSON_GetArraySize(bad) == 0);
out:
    kw_values = extreme_kw;
    n_kw = sizeof extreme_kw / sizeof extreme_kw[0];
    cJSON_Delete(kw);
    cJSON_Delete(chw);
    cJSON_Delete(bad);
    fixture_close(&fx);
}

/* ---- a scripted HTTP server --------------------------------------------- */

struct scripted_request {
    long long at_ms;
    char head[4096];        /* request line and headers */
    char *body;
    size_t len;
};

struct script {
    int listen_fd, port;
    const char *const *answers;   /* status line and headers, in order; then 204 */
    size_t n_answers;
    struct scripted_request requests[16];
    size_t n_requests;
    pthread_mutex_t lock;
    pthread_t thread;
    int stop_pipe[2];
};

static ssize_t read_until_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got <= 0)
            return -1;
        len += (size_t)got;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)len;
    }
    return -1;
}

/* Serve one connection: read one request whole, answer, close. */
static void script_serve(struct script *s, int fd)
{
    char buf[1 << 16];
    ssize_t len = read_until_head(fd, buf, sizeof buf);
    if (len < 0)
        return;
    char *end = strstr(buf, "\r\n\r\n") + 4;
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0, have = (size_t)(buf + len - end);
    char *body = malloc(want + 1);
    memcpy(body, end, have);
    while (have < want) {
        ssize_t got = read(fd, body + have, want - have);
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    pthread_mutex_lock(&s->lock);
    size_t i = s->n_requests;
    const char *answer = i < s->n_answers ? s->answers[i] : "HTTP/1.1 204 No Content\r\n";
    if (i < sizeof s->requests / sizeof s->requests[0]) {
        struct scripted_request *r = &s->requests[s->n_requests++];
        r->at_ms = mono_ms();
        snprintf(r->head, sizeof r->head, "%.*s", (int)(end - buf), buf);
        r->body = body;
        r->len = have;
        body = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(body);
    char out[512];
    int n = snprintf(out, sizeof out, "%sContent-Length: 0\r\nConnection: close\r\n\r\n", answer);
    ssize_t w = write(fd, out, (size_t)n);
    (void)w;
}

static void *script_main(void *arg)
{
    struct script *s = arg;
    for (;;) {
        struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN }, { .fd = s->stop_pipe[0], .events = POLLIN } };
        if (poll(p, 2, -1) < 0 || p[1].revents)
            return NULL;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            script_serve(s, fd);
            close(fd);
        }
    }
}

static int script_start(struct script *s, const char *const *answers, size_t n)
{
    memset(s, 0, sizeof *s);
    s->answers = answers;
    s->n_answers = n;
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->listen_fd, 8) != 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) != 0 ||
        pipe2(s->stop_pipe, O_CLOEXEC) != 0)
        return -errno;
    s->port = ntohs(a.sin_port);
    return -pthread_create(&s->thread, NULL, script_main, s);
}

static void script_stop(struct script *s)
{
    ssize_t w = write(s->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    for (size_t i = 0; i < s->n_requests; i++)
        free(s->requests[i].body);
    pthread_mutex_destroy(&s->lock);
}

static size_t script_requests(struct script *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* A gzip body inflated (malloc'd, NUL-terminated), or NULL. */
static char *gunzip(const char *data, size_t len)
{
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    z_stream z = { .next_in = (unsigned char *)data, .avail_in = (uInt)len,
                   .next_out = (unsigned char *)out, .avail_out = (uInt)cap };
    if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(out);
        return NULL;
    }
    int rc = inflate(&z, Z_FINISH);
    out[z.total_out] = '\0';
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static bool head_has(const struct scripted_request *r, const char *needle)
{
    return strcasestr(r->head, needle) != NULL;
}

/* 503 with Retry-After, then 429 without (backoff), then 204: the same
 * lines are sent each time, waits honour Retry-After, and the 2.x request
 * is what the API wants (path, org and bucket, token, gzip). */
static void test_retry_after_and_v2_request(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\n",
        "HTTP/1.1 429 Too Many Requests\r\n",
    };
    struct script s;
    struct fixture fx = { 0 };
    char url[64], token[512];
    enum { N = 5 };
    REQUIRE(script_start(&s, answers, 2) == 0, out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    REQUIRE(write_temp_file(token, sizeof token, "s3cret-token\n") == 0, out);
    fixture_config(&fx, url, "v2");
    fx.cfg.influx.token_file = token;
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(submit_samples(&fx, 0, N) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_delivered(&fx, N), out);
    REQUIRE(script_requests(&s) == 3, out);

    struct gw_health_sink st = sink_state(&fx);
    CU_ASSERT_EQUAL(st.failed, 2);
    CU_ASSERT_EQUAL(st.delivered, N);
    CU_ASSERT(st.connected);
    long long gap1 = s.requests[1].at_ms - s.requests[0].at_ms;
    long long gap2 = s.requests[2].at_ms - s.requests[1].at_ms;
    CU_ASSERT(gap1 >= 1900 && gap1 < 3000);   /* Retry-After: 2, not the first backoff (1 s) */
    CU_ASSERT(gap2 >= 1900 && gap2 < 3000);   /* backoff doubled: 2 s */
    const struct scripted_request *r = &s.requests[0];
    CU_ASSERT(strncmp(r->head, "POST /api/v2/write?org=greenwatch%20org&bucket=energy%2Fraw&precision=ms "
                      "HTTP/1.1\r\n", 76) == 0);
    CU_ASSERT(head_has(r, "\r\nAuthorization: Token s3cret-token\r\n"));
    CU_ASSERT(head_has(r, "\r\nContent-Encoding: gzip\r\n"));
    CU_ASSERT(head_has(r, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    char *lines[3];
    for (int i = 0; i < 3; i++)
        lines[i] = gunzip(s.requests[i].body, s.requests[i].len);
    CU_ASSERT(lines[0] && lines[1] && lines[2]);
    if (lines[0] && lines[1] && lines[2]) {
        CU_ASSERT_STRING_EQUAL(lines[0], lines[1]);   /* the same request again */
        CU_ASSERT_STRING_EQUAL(lines[0], lines[2]);
        static const char want[] =
            "chiller,building=一号楼,category=冷水机组,device=冷机-1\\ north,energy=electricity,"
            "floor=B1\\,\\ plant\\ room,site=demo\\ tower,zone=x\\=1\\ y\\z "
            "chw_supply_temp=6.5,kw=0.30000000000000004,mode=\"auto \\\"eco\\\" C:\\\\dir\\\\ 运行, a=b\" "
            "1795000000000\n";
        CU_ASSERT(strncmp(lines[0], want, strlen(want)) == 0);
        int n = 0;
        for (const char *p = lines[0]; (p = strchr(p, '\n')); p++)
            n++;
        CU_ASSERT_EQUAL(n, N);
    }
    for (int i = 0; i < 3; i++)
        free(lines[i]);
out:
    fixture_close(&fx);
    script_stop(&s);
}

/* stop() interrupts a long Retry-After wait; the records stay spooled. */
static void test_stop_is_prompt(void)
{
    static const char *const answers[] = { "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\n" };
    struct script s;
    struct fixture fx = { 0 };
    char url[64];
    REQUIRE(script_start(&s, answers, 1) == 0, out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    fixture_config(&fx, url, "v1");
    REQUIRE(fixture_open_spool(&fx) == 0, out);
    REQUIRE(fixture_sink(&fx) == 0, out);
    REQUIRE(submit_samples(&fx, 0, 3) == 0, out);
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    long long deadline = mono_ms() + 10000;
    while (sink_state(&fx).failed == 0 && mono_ms() < deadline)
        poll(NULL, 0, 10);
    CU_ASSERT_EQUAL(sink_state(&fx).failed, 1);
    long long t0 = mono_ms();
    sink_influx_ops.stop(fx.sink);
    CU_ASSERT(mono_ms() - t0 < 1000);
    CU_ASSERT_EQUAL(sink_state(&fx).spool.depth_records, 3);
    CU_ASSERT(strstr(s.requests[0].head, "POST /write?db=greenwatch&precision=ms ") == s.requests[0].head);

    /* idle: stop() wakes the thread waiting for records */
    REQUIRE(sink_influx_ops.start(fx.sink) == 0, out);
    REQUIRE(await_delivered(&fx, 3), out);
    poll(NULL, 0, 100);
    t0 = mono_ms();
    sink_influx_ops.stop(fx.sink);
    CU_ASSERT(mono_ms() - t0 < 1000);
out:
    fixture_close(&fx);
    script_stop(&s);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "v1: escaping, values, tags, timestamps round-trip", test_v1_round_trip },
        { "v1: 400 partial write and parse error committed", test_v1_rejected_lines },
        { "v1: 401 keeps records, flags auth", test_v1_auth },
        { "v1: 413 splits requests", test_v1_too_large },
        { "v1: influxd stopped and restarted: exactly once", test_v1_outage },
        { "v1: HTTPS verified against ca_file", test_v1_tls },
        { "v2: VictoriaMetrics", test_v2_victoria },
        { "503/429 with Retry-After; the v2 request", test_retry_after_and_v2_request },
        { "stop is prompt", test_stop_is_prompt },
    };
    return itest_main("influx", cases, sizeof(cases) / sizeof(cases[0]));
}
