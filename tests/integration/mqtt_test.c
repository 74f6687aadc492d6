/*
 * The MQTT sink against a real mosquitto on loopback: exact topics and
 * payloads of readings, availability and status (DESIGN.md, "MQTT"),
 * retained messages seen by a late subscriber, the last will after a
 * SIGKILL, "offline" on a clean stop, MQTT 5 (and a message the broker
 * refuses), user name and password, TLS with certificates made here (a
 * wrong CA and a wrong host name refused), a broker outage that loses no
 * reading, and a sink killed during an outage whose spool delivers after
 * a restart.
 *
 * `mqtt_test --sink CONFIG SPOOL DEVICE COUNT` is the child process that
 * runs the sink where a test needs to kill it or read its log: it submits
 * COUNT samples of DEVICE, prints READY, and stops cleanly on SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "itest.h"
#include "log.h"
#include "sample.h"
#include "sink.h"
#include "spool.h"

#define WAIT_MS 10000
#define PREFIX "greenwatch/itest"   /* the default: greenwatch/<site id> */
#define STATUS PREFIX "/status"

static char self_exe[PATH_MAX];

/* Two devices; the mqtt block is the test's. */
#define SINK_CONFIG                                                              \
    CONFIG_HEAD                                                                  \
    "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:1502\"; } );\n"               \
    "devices = (\n"                                                              \
    "  { id = \"m1\"; bus = \"plant\"; unit = 1;\n"                              \
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; unit = \"kW\"; },\n" \
    "               { name = \"temp\"; table = \"holding\"; address = 1; unit = \"degC\"; } ); },\n" \
    "  { id = \"m2\"; bus = \"plant\"; unit = 2;\n"                              \
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; unit = \"kW\"; },\n" \
    "               { name = \"temp\"; table = \"holding\"; address = 1; unit = \"degC\"; } ); } );\n" \
    "mqtt = { %s };\n"

/* ---- samples and their payloads ------------------------------------- */

enum shape { GOOD, PARTLY, ALL_BAD };

/* kw = 12.5 kW, temp = 7.25 degC, good or not as shape says. */
static int make_sample(struct gw_sample *s, const char *device, long long ts, enum shape shape)
{
    static const enum gw_quality kw_q[] = { GW_QUALITY_GOOD, GW_QUALITY_GOOD, GW_QUALITY_BAD };
    static const enum gw_quality temp_q[] = { GW_QUALITY_GOOD, GW_QUALITY_UNCERTAIN, GW_QUALITY_BAD };
    int rc = sample_init(s, device, 2);
    if (rc == 0) {
        s->ts_ms = ts;
        rc = sample_add(s, "kw", "kW", 12.5, kw_q[shape]);
    }
    return rc ? rc : sample_add(s, "temp", "degC", 7.25, temp_q[shape]);
}

/* The reading payload the contract wants for make_sample's sample. */
static void expected_reading(char *out, size_t n, long long ts, enum shape shape)
{
    static const char *const body[] = {
        "\"points\":{\"kw\":12.5,\"temp\":7.25},\"unit\":{\"kw\":\"kW\",\"temp\":\"degC\"},\"quality\":{}",
        "\"points\":{\"kw\":12.5},\"unit\":{\"kw\":\"kW\"},\"quality\":{\"temp\":\"uncertain\"}",
        "\"points\":{},\"unit\":{},\"quality\":{\"kw\":\"bad\",\"temp\":\"bad\"}",
    };
    snprintf(out, n, "{\"ts\":%lld,%s}", ts, body[shape]);
}

/* ---- the sink, in this process -------------------------------------- */

struct sink_run {
    struct gw_config *cfg;
    struct gw_spool *spool;
    void *impl;
};

static int load_config(const char *path, struct gw_config **cfg)
{
    struct gw_diag diag = { 0 };
    int rc = config_load(path, cfg, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    return rc;
}

static int open_sink_at(struct sink_run *r, const char *config, const char *spool_dir)
{
    memset(r, 0, sizeof *r);
    int rc = load_config(config, &r->cfg);
    if (rc == 0)
        rc = spool_open(spool_dir, &spool_default_options, &r->spool);
    if (rc == 0)
        rc = sink_mqtt_ops.create(r->cfg, r->spool, &r->impl);
    if (rc == 0)
        rc = sink_mqtt_ops.start(r->impl);
    return rc;
}

/* Writes a configuration with mqtt_block and starts a sink on it with a
 * new spool. */
static int open_sink(struct sink_run *r, const char *mqtt_block)
{
    char config[512], spool_dir[512];
    int rc = write_config(config, sizeof config, SINK_CONFIG, mqtt_block);
    if (rc == 0)
        rc = make_temp_dir(spool_dir, sizeof spool_dir);
    return rc ? rc : open_sink_at(r, config, spool_dir);
}

static void close_sink(struct sink_run *r)
{
    if (r->impl)
        sink_mqtt_ops.destroy(r->impl);     /* stops first */
    spool_close(r->spool);
    config_free(r->cfg);
    memset(r, 0, sizeof *r);
}

static int submit(struct sink_run *r, const char *device, long long ts, enum shape shape)
{
    struct gw_sample s;
    int rc = make_sample(&s, device, ts, shape);
    if (rc == 0)
        rc = sink_mqtt_ops.submit_sample(r->impl, &s, config_find_device(r->cfg, device));
    sample_free(&s);
    return rc;
}

static struct gw_health_sink sink_state(struct sink_run *r)
{
    struct gw_health_sink st;
    sink_mqtt_ops.state(r->impl, &st);
    return st;
}

/* Waits until the spool is empty: everything was delivered. */
static bool drained(struct sink_run *r, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    while (sink_state(r).spool.depth_records > 0) {
        if (mono_ms() > deadline)
            return false;
        usleep(20000);      /* polling a counter, not waiting for readiness */
    }
    return true;
}

/* Expects the next message on topic to be exactly payload. */
static bool expect(struct sub *s, size_t *from, const char *topic, const char *payload)
{
    int i = sub_wait(s, from, topic, NULL, WAIT_MS);
    if (i < 0) {
        fprintf(stderr, "no message on %s (want '%s')\n", topic, payload);
        return false;
    }
    struct sub_msg m = sub_get(s, (size_t)i);
    if (strcmp(m.payload, payload) != 0)
        fprintf(stderr, "on %s: want '%s'\n                got '%s'\n", topic, payload, m.payload);
    return strcmp(m.payload, payload) == 0;
}

/* ---- the sink in a child process ------------------------------------ */

static int sink_child(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* before paho starts threads */
    struct sink_run r;
    int rc = open_sink_at(&r, argv[2], argv[3]);
    for (int i = 0; rc == 0 && i < atoi(argv[5]); i++)
        rc = submit(&r, argv[4], 1000 + i, GOOD);
    if (rc == 0) {
        printf("READY\n");
        fflush(stdout);
        int sig;
        sigwait(&stop, &sig);
    }
    close_sink(&r);
    return rc ? 1 : 0;
}

/* Starts the sink in a child process on spool_dir (NULL: a new one) and
 * waits until it submitted count samples of device. */
static int child_start_at(struct proc *p, const char *mqtt_block, const char *spool_at,
                          const char *device, int count)
{
    char config[512], spool_dir[512], n[16];
    int rc = write_config(config, sizeof config, SINK_CONFIG, mqtt_block);
    if (rc == 0 && spool_at)
        snprintf(spool_dir, sizeof spool_dir, "%s", spool_at);
    else if (rc == 0)
        rc = make_temp_dir(spool_dir, sizeof spool_dir);
    snprintf(n, sizeof n, "%d", count);
    if (rc == 0)
        rc = proc_start(p, ARGS(self_exe, "--sink", config, spool_dir, device, n));
    char line[256];
    if (rc == 0 && proc_read_line(p, WAIT_MS, line, sizeof line) < 0) {
        char *err = proc_stderr(p);
        fprintf(stderr, "the sink process did not start:\n%s\n", err);
        free(err);
        return -EIO;
    }
    return rc;
}

static int child_start(struct proc *p, const char *mqtt_block, const char *device, int count)
{
    return child_start_at(p, mqtt_block, NULL, device, count);
}

/* ---- readings, availability, status ---------------------------------- */

/* m1: online, reading, reading (uncertain: still online), offline (every
 * point bad), reading, online again, reading: in this order, QoS 1. */
static const enum shape m1_shapes[] = { GOOD, PARTLY, ALL_BAD, GOOD };

static void check_m1_sequence(struct sub *live, size_t from)
{
    char r[4][256];
    for (size_t i = 0; i < 4; i++)
        expected_reading(r[i], sizeof r[i], 1000 + (long long)i, m1_shapes[i]);
    const struct { const char *topic, *payload; } want[] = {
        { PREFIX "/m1/availability", "online" }, { PREFIX "/m1/reading", r[0] },
        { PREFIX "/m1/reading", r[1] },          { PREFIX "/m1/availability", "offline" },
        { PREFIX "/m1/reading", r[2] },          { PREFIX "/m1/availability", "online" },
        { PREFIX "/m1/reading", r[3] },
    };
    size_t k = 0;
    for (size_t j = from; j < sub_count(live); j++) {
        struct sub_msg m = sub_get(live, j);
        if (strncmp(m.topic, PREFIX "/m1/", strlen(PREFIX "/m1/")) != 0)
            continue;
        if (k == 7) {
            fprintf(stderr, "m1: one message too many: %s '%s'\n", m.topic, m.payload);
            CU_FAIL("m1: more messages than expected");
            return;
        }
        if (strcmp(m.topic, want[k].topic) || strcmp(m.payload, want[k].payload))
            fprintf(stderr, "m1 message %zu: want %s '%s'\n got %s '%s'\n", k, want[k].topic,
                    want[k].payload, m.topic, m.payload);
        CU_ASSERT_STRING_EQUAL(m.topic, want[k].topic);
        CU_ASSERT_STRING_EQUAL(m.payload, want[k].payload);
        CU_ASSERT_EQUAL(m.qos, 1);
        k++;
    }
    CU_ASSERT_EQUAL(k, 7);
}

/* The health document has a topic of its own: <prefix>/status stays
 * exactly "online". */
static void check_health(struct sink_run *r, struct sub *live, size_t from)
{
    struct gw_health_sink hs = sink_state(r);
    struct gw_health h = { .ts_ms = 1234, .uptime_s = 5.5, .sinks = &hs, .n_sinks = 1 };
    CU_ASSERT_EQUAL(sink_mqtt_ops.submit_health(r->impl, &h), 0);
    size_t at = from;
    int i = sub_wait(live, &at, STATUS "/health", NULL, WAIT_MS);
    CU_ASSERT(i >= 0);
    cJSON *doc = i >= 0 ? cJSON_Parse(sub_get(live, (size_t)i).payload) : NULL;
    cJSON *sink0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "sinks"), 0);
    CU_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "ts")) == 1234);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(sink0, "name"));
    CU_ASSERT(name && strcmp(name, "mqtt") == 0);
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(sink0, "spool"));
    cJSON_Delete(doc);
    for (size_t j = 0; j < sub_count(live); j++) {
        struct sub_msg m = sub_get(live, j);
        if (strcmp(m.topic, STATUS) == 0)
            CU_ASSERT_STRING_EQUAL(m.payload, "online");
    }
}

/* A late subscriber gets the retained state, and no readings. */
static void check_retained(int port)
{
    struct sub late = { 0 };
    size_t l = 0;
    if (sub_start(&late, port, "itest-late", PREFIX "/#", false, NULL, NULL) != 0) {
        CU_FAIL("late subscriber");
        return;
    }
    CU_ASSERT(expect(&late, &l, STATUS, "online"));
    l = 0;
    CU_ASSERT(expect(&late, &l, PREFIX "/m1/availability", "online"));
    l = 0;
    CU_ASSERT(expect(&late, &l, PREFIX "/m2/availability", "offline"));
    l = 0;
    CU_ASSERT(sub_wait(&late, &l, STATUS "/health", NULL, WAIT_MS) >= 0);
    for (size_t j = 0; j < sub_count(&late); j++) {
        struct sub_msg m = sub_get(&late, j);
        CU_ASSERT(m.retained);
        CU_ASSERT_PTR_NULL(strstr(m.topic, "/reading"));
    }
    sub_stop(&late);
}

static void test_topics_and_payloads(void)
{
    struct broker b = { 0 };
    struct sub live = { 0 }, later = { 0 };
    struct sink_run r = { 0 };
    char block[256], want[256];
    REQUIRE(broker_start(&b, NULL) == 0, out);
    REQUIRE(sub_start(&live, b.port, "itest-live", PREFIX "/#", false, NULL, NULL) == 0, out);
    /* mqtt:// is paho's tcp://; client id and prefix default from the site */
    snprintf(block, sizeof block, "uri = \"mqtt://127.0.0.1:%d\";", b.port);
    REQUIRE(open_sink(&r, block) == 0, out);
    size_t at = 0;
    REQUIRE(expect(&live, &at, STATUS, "online"), out);

    for (size_t i = 0; i < 4; i++)
        REQUIRE(submit(&r, "m1", 1000 + (long long)i, m1_shapes[i]) == 0, out);
    REQUIRE(submit(&r, "m2", 2000, ALL_BAD) == 0, out);     /* first sample: offline */
    size_t m2_at = at;
    CU_ASSERT(expect(&live, &m2_at, PREFIX "/m2/availability", "offline"));
    expected_reading(want, sizeof want, 2000, ALL_BAD);
    CU_ASSERT(expect(&live, &m2_at, PREFIX "/m2/reading", want));   /* after it */
    REQUIRE(sub_wait_count(&live, at + 7 + 2, WAIT_MS) == 0, out);
    check_m1_sequence(&live, at);
    check_health(&r, &live, at);
    REQUIRE(drained(&r, WAIT_MS), out);
    struct gw_health_sink st = sink_state(&r);
    CU_ASSERT(st.connected);
    CU_ASSERT_EQUAL(st.delivered, 10);  /* 4 + 1 readings, 4 availability, 1 health */
    CU_ASSERT_EQUAL(st.rejected, 0);
    check_retained(b.port);

    /* a clean stop: "offline", retained */
    sink_mqtt_ops.stop(r.impl);
    CU_ASSERT(expect(&live, &at, STATUS, "offline"));
    REQUIRE(sub_start(&later, b.port, "itest-later", STATUS, false, NULL, NULL) == 0, out);
    size_t l = 0;
    CU_ASSERT(expect(&later, &l, STATUS, "offline"));
    CU_ASSERT(sub_get(&later, 0).retained);
out:
    close_sink(&r);
    sub_stop(&later);
    sub_stop(&live);
    broker_stop(&b);
}

/* ---- status: clean stop and last will (the sink in a child) ----------- */

static void test_status_and_last_will(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct proc p = { .pid = 0 };
    char block[256], want[256];
    int status = -1;
    REQUIRE(broker_start(&b, NULL) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-status", PREFIX "/#", false, NULL, NULL) == 0, out);
    snprintf(block, sizeof block, "uri = \"tcp://127.0.0.1:%d\"; keepalive_s = 60;", b.port);

    REQUIRE(child_start(&p, block, "m1", 3) == 0, out);
    size_t at = 0;
    REQUIRE(expect(&s, &at, STATUS, "online"), out);
    size_t r_at = 0;
    for (long long ts = 1000; ts < 1003; ts++) {
        expected_reading(want, sizeof want, ts, GOOD);
        CU_ASSERT(expect(&s, &r_at, PREFIX "/m1/reading", want));
    }
    /* SIGTERM: a clean stop publishes "offline" itself */
    REQUIRE(proc_kill(&p, SIGTERM) == 0, out);
    CU_ASSERT(expect(&s, &at, STATUS, "offline"));
    CU_ASSERT(proc_wait(&p, WAIT_MS, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *err = proc_stderr(&p);
    CU_ASSERT_PTR_NULL(strstr(err, "error:"));
    free(err);
    proc_stop(&p, NULL);

    /* SIGKILL: nobody says "offline" but the broker, with the last will
     * (keepalive 60 s: the closed socket, not a timeout, triggers it) */
    REQUIRE(child_start(&p, block, "m1", 0) == 0, out);
    REQUIRE(expect(&s, &at, STATUS, "online"), out);
    REQUIRE(proc_kill(&p, SIGKILL) == 0, out);
    long long killed = mono_ms();
    CU_ASSERT(expect(&s, &at, STATUS, "offline"));
    CU_ASSERT(mono_ms() - killed < 5000);
    proc_wait(&p, WAIT_MS, &status);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
out:
    proc_stop(&p, NULL);
    sub_stop(&s);
    broker_stop(&b);
}

/* ---- MQTT 5 ------------------------------------------------------------ */

static void test_mqtt5(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 };
    char block[256], want[256];
    REQUIRE(broker_start(&b, NULL) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-v5", "site5/#", false, NULL, NULL) == 0, out);
    snprintf(block, sizeof block,
             "uri = \"tcp://127.0.0.1:%d\"; version = \"5\"; client_id = \"gw-v5\"; topic_prefix = \"site5\";",
             b.port);
    REQUIRE(open_sink(&r, block) == 0, out);
    size_t at = 0;
    REQUIRE(expect(&s, &at, "site5/status", "online"), out);
    REQUIRE(submit(&r, "m2", 42, PARTLY) == 0, out);
    expected_reading(want, sizeof want, 42, PARTLY);
    size_t a = 0;
    CU_ASSERT(expect(&s, &a, "site5/m2/availability", "online"));
    CU_ASSERT(expect(&s, &at, "site5/m2/reading", want));
    char *log = broker_log(&b);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "as gw-v5 (p5,"));   /* mosquitto: protocol 5 */
    free(log);
    sink_mqtt_ops.stop(r.impl);
    CU_ASSERT(expect(&s, &at, "site5/status", "offline"));
out:
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* With MQTT 5 the broker says when it refuses a message (here: an ACL
 * that denies m2's topics): logged, counted as rejected, not resent, and
 * what follows is delivered. */
static void test_mqtt5_refused(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 };
    char acl[512], block[256], want[256];
    REQUIRE(write_temp_file(acl, sizeof acl, "topic readwrite " PREFIX "/#\n"
                                             "topic deny " PREFIX "/m2/#\n") == 0, out);
    struct broker_options o = { .acl_file = acl };
    REQUIRE(broker_start(&b, &o) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-acl", PREFIX "/#", false, NULL, NULL) == 0, out);
    snprintf(block, sizeof block, "uri = \"tcp://127.0.0.1:%d\"; version = \"5\";", b.port);
    REQUIRE(open_sink(&r, block) == 0, out);
    REQUIRE(submit(&r, "m2", 1, GOOD) == 0, out);
    REQUIRE(submit(&r, "m1", 2, GOOD) == 0, out);
    size_t at = 0;
    expected_reading(want, sizeof want, 2, GOOD);
    CU_ASSERT(expect(&s, &at, PREFIX "/m1/reading", want));
    REQUIRE(drained(&r, WAIT_MS), out);
    struct gw_health_sink st = sink_state(&r);
    CU_ASSERT_EQUAL(st.rejected, 2);        /* m2's availability and reading */
    CU_ASSERT_EQUAL(st.delivered, 4);
    for (size_t j = 0; j < sub_count(&s); j++)
        CU_ASSERT_PTR_NULL(strstr(sub_get(&s, j).topic, "/m2/"));
out:
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* ---- user name and password -------------------------------------------- */

static int make_secret(char *path, size_t n, const char *text)
{
    int rc = write_temp_file(path, n, text);
    return rc ? rc : chmod(path, 0600) == 0 ? 0 : -errno;
}

static int make_passwords(char *path, size_t n)
{
    int rc = temp_path(path, n, "mosquitto.passwd");
    char *err = NULL;
    int status = -1;
    if (rc == 0)
        rc = run_capture(ARGS("mosquitto_passwd", "-b", "-c", path, "greenwatch", "s3cret"), NULL, &err, 30, &status);
    if (rc == 0 && status == 0) {
        free(err);
        err = NULL;
        rc = run_capture(ARGS("mosquitto_passwd", "-b", path, "reader", "r3ad"), NULL, &err, 30, &status);
    }
    if (rc == 0 && status != 0) {
        fprintf(stderr, "mosquitto_passwd failed: %s\n", err ? err : "");
        rc = -EIO;
    }
    free(err);
    return rc;
}

static void test_password(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 }, bad = { 0 };
    char passwd[512], good_pw[512], bad_pw[512], block[1024];
    REQUIRE(make_passwords(passwd, sizeof passwd) == 0, out);
    REQUIRE(make_secret(good_pw, sizeof good_pw, "s3cret\n") == 0, out);
    REQUIRE(make_secret(bad_pw, sizeof bad_pw, "guess\n") == 0, out);
    struct broker_options o = { .password_file = passwd };
    REQUIRE(broker_start(&b, &o) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-reader", PREFIX "/#", false, "reader", "r3ad") == 0, out);

    snprintf(block, sizeof block,
             "uri = \"tcp://127.0.0.1:%d\"; username = \"greenwatch\"; password_file = \"%s\";",
             b.port, good_pw);
    REQUIRE(open_sink(&r, block) == 0, out);
    size_t at = 0;
    REQUIRE(expect(&s, &at, STATUS, "online"), out);
    REQUIRE(submit(&r, "m1", 7, GOOD) == 0, out);
    char want[256];
    expected_reading(want, sizeof want, 7, GOOD);
    CU_ASSERT(expect(&s, &at, PREFIX "/m1/reading", want));
    CU_ASSERT_FALSE(sink_state(&r).auth_failed);
    close_sink(&r);

    /* the wrong password: refused, said so, nothing delivered */
    snprintf(block, sizeof block,
             "uri = \"tcp://127.0.0.1:%d\"; client_id = \"gw-bad\"; username = \"greenwatch\"; password_file = \"%s\";",
             b.port, bad_pw);
    REQUIRE(open_sink(&bad, block) == 0, out);
    REQUIRE(submit(&bad, "m2", 8, GOOD) == 0, out);
    long long deadline = mono_ms() + WAIT_MS;
    while (!sink_state(&bad).auth_failed && mono_ms() < deadline)
        usleep(20000);      /* polling a flag, not waiting for readiness */
    struct gw_health_sink st = sink_state(&bad);
    CU_ASSERT(st.auth_failed);
    CU_ASSERT_FALSE(st.connected);
    CU_ASSERT_EQUAL(st.spool.depth_records, 2);
    size_t none = at;
    CU_ASSERT(sub_wait(&s, &none, PREFIX "/m2/reading", NULL, 500) < 0);
    long long t = mono_ms();     /* stopping while backing off is prompt */
    sink_mqtt_ops.stop(bad.impl);
    CU_ASSERT(mono_ms() - t < 1000);
out:
    close_sink(&bad);
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* ---- TLS ---------------------------------------------------------------- */

struct pki {
    char dir[512];
    char ca[600], server_crt[600], server_key[600], client_crt[600], client_key[600];
    char other_ca[600];
    char elsewhere_crt[600], elsewhere_key[600];    /* a server cert for another host */
};

static int openssl(const char *const argv[])
{
    char *err = NULL;
    int status = -1;
    int rc = run_capture(argv, NULL, &err, 60, &status);
    if (rc == 0 && status != 0) {
        fprintf(stderr, "openssl %s failed:\n%s\n", argv[1], err ? err : "");
        rc = -EIO;
    }
    free(err);
    return rc;
}

/* A self-signed CA: dir/name.crt and dir/name.key. */
static int make_ca(const struct pki *p, const char *name, char *crt, size_t n)
{
    char key[600];
    snprintf(crt, n, "%s/%s.crt", p->dir, name);
    snprintf(key, sizeof key, "%s/%s.key", p->dir, name);
    return openssl(ARGS("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=greenwatch test CA", "-keyout", key, "-out", crt));
}

/* A key and a certificate signed by the CA, with extensions ext. */
static int make_cert(const struct pki *p, const char *name, const char *cn, const char *ext,
                     char *crt, char *key)
{
    char csr[600], extfile[600], ca_key[600];
    snprintf(crt, 600, "%s/%s.crt", p->dir, name);
    snprintf(key, 600, "%s/%s.key", p->dir, name);
    snprintf(csr, sizeof csr, "%s/%s.csr", p->dir, name);
    snprintf(extfile, sizeof extfile, "%s/%s.ext", p->dir, name);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", p->dir);
    FILE *f = fopen(extfile, "w");
    if (!f || fputs(ext, f) < 0 || fclose(f) != 0)
        return -EIO;
    char subj[128];
    snprintf(subj, sizeof subj, "/CN=%s", cn);
    int rc = openssl(ARGS("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subj, "-keyout", key,
                          "-out", csr));
    if (rc == 0)
        rc = openssl(ARGS("openssl", "x509", "-req", "-in", csr, "-CA", p->ca, "-CAkey", ca_key,
                          "-CAcreateserial", "-days", "2", "-extfile", extfile, "-out", crt));
    return rc ? rc : chmod(key, 0600) == 0 ? 0 : -errno;
}

static int make_pki(struct pki *p)
{
    int rc = make_temp_dir(p->dir, sizeof p->dir);
    if (rc == 0)
        rc = make_ca(p, "ca", p->ca, sizeof p->ca);
    if (rc == 0)
        rc = make_cert(p, "server", "localhost",
                       "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                       "extendedKeyUsage = serverAuth\n", p->server_crt, p->server_key);
    if (rc == 0)
        rc = make_cert(p, "client", "greenwatch-itest", "extendedKeyUsage = clientAuth\n",
                       p->client_crt, p->client_key);
    if (rc == 0)
        rc = make_cert(p, "elsewhere", "elsewhere.example",
                       "subjectAltName = DNS:elsewhere.example\n"
                       "extendedKeyUsage = serverAuth\n", p->elsewhere_crt, p->elsewhere_key);
    if (rc == 0)
        rc = make_ca(p, "other-ca", p->other_ca, sizeof p->other_ca);
    return rc;
}

static void test_tls(void)
{
    struct pki pki;
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 };
    struct proc p = { .pid = 0 };
    char block[2048], want[256];
    REQUIRE(make_pki(&pki) == 0, out);
    struct broker_options o = { .cafile = pki.ca, .certfile = pki.server_crt,
                                .keyfile = pki.server_key, .require_certificate = true };
    REQUIRE(broker_start(&b, &o) == 0, out);
    /* the subscriber uses the plain listener; the sink the TLS one */
    REQUIRE(sub_start(&s, b.port, "itest-tls", PREFIX "/#", false, NULL, NULL) == 0, out);
    snprintf(block, sizeof block,
             "uri = \"mqtts://127.0.0.1:%d\"; ca_file = \"%s\"; cert_file = \"%s\"; key_file = \"%s\";",
             b.tls_port, pki.ca, pki.client_crt, pki.client_key);
    REQUIRE(open_sink(&r, block) == 0, out);
    size_t at = 0;
    REQUIRE(expect(&s, &at, STATUS, "online"), out);
    REQUIRE(submit(&r, "m1", 99, GOOD) == 0, out);
    expected_reading(want, sizeof want, 99, GOOD);
    CU_ASSERT(expect(&s, &at, PREFIX "/m1/reading", want));
    close_sink(&r);
    CU_ASSERT(expect(&s, &at, STATUS, "offline"));

    /* a broker certificate from a CA the sink does not trust: refused */
    snprintf(block, sizeof block,
             "uri = \"ssl://127.0.0.1:%d\"; ca_file = \"%s\"; cert_file = \"%s\"; key_file = \"%s\";",
             b.tls_port, pki.other_ca, pki.client_crt, pki.client_key);
    REQUIRE(child_start(&p, block, "m2", 1) == 0, out);
    CU_ASSERT(wait_file_contains(p.err_path, "mqtt: cannot connect to ssl://127.0.0.1", WAIT_MS) == 0);
    char *err = proc_stderr(&p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "error:"));
    if (!strstr(err, "certificate verify failed"))
        fprintf(stderr, "the refusal said:\n%s\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "certificate verify failed"));
    free(err);
    size_t none = at;
    CU_ASSERT(sub_wait(&s, &none, PREFIX "/m2/reading", NULL, 1500) < 0);
out:
    proc_stop(&p, NULL);
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* A broker whose certificate names another host: refused, unless
 * verify_hostname = false. */
static void test_tls_hostname(void)
{
    struct pki pki;
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 };
    struct proc p = { .pid = 0 };
    char block[2200], want[256];
    REQUIRE(make_pki(&pki) == 0, out);
    struct broker_options o = { .cafile = pki.ca, .certfile = pki.elsewhere_crt,
                                .keyfile = pki.elsewhere_key, .require_certificate = true };
    REQUIRE(broker_start(&b, &o) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-host", PREFIX "/#", false, NULL, NULL) == 0, out);
    char tls[2048];
    snprintf(tls, sizeof tls, "ca_file = \"%s\"; cert_file = \"%s\"; key_file = \"%s\";", pki.ca,
             pki.client_crt, pki.client_key);

    snprintf(block, sizeof block, "uri = \"ssl://127.0.0.1:%d\"; %s", b.tls_port, tls);
    REQUIRE(child_start(&p, block, "m2", 1) == 0, out);
    CU_ASSERT(wait_file_contains(p.err_path, "mqtt: cannot connect to ssl://127.0.0.1", WAIT_MS) == 0);
    size_t at = 0;
    CU_ASSERT(sub_wait(&s, &at, PREFIX "/m2/reading", NULL, 1500) < 0);
    proc_stop(&p, NULL);

    snprintf(block, sizeof block, "uri = \"ssl://127.0.0.1:%d\"; verify_hostname = false; %s",
             b.tls_port, tls);
    REQUIRE(open_sink(&r, block) == 0, out);
    REQUIRE(submit(&r, "m1", 5, GOOD) == 0, out);
    expected_reading(want, sizeof want, 5, GOOD);
    at = 0;
    CU_ASSERT(expect(&s, &at, PREFIX "/m1/reading", want));
out:
    proc_stop(&p, NULL);
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* ---- a broker outage ---------------------------------------------------- */

#define OUTAGE_BEFORE 20
#define OUTAGE_DURING 30

static void test_outage(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct sink_run r = { 0 };
    char block[256];
    unsigned seen[OUTAGE_BEFORE + OUTAGE_DURING] = { 0 };
    /* persistence: the subscriber's session (QoS 1, clean session off)
     * outlives the restart, so it misses nothing while it reconnects */
    struct broker_options o = { .persistence = true };
    REQUIRE(broker_start(&b, &o) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-outage", PREFIX "/+/reading", true, NULL, NULL) == 0, out);
    snprintf(block, sizeof block, "uri = \"tcp://127.0.0.1:%d\";", b.port);
    REQUIRE(open_sink(&r, block) == 0, out);
    for (int i = 0; i < OUTAGE_BEFORE; i++)
        REQUIRE(submit(&r, "m1", i, GOOD) == 0, out);
    REQUIRE(drained(&r, WAIT_MS), out);

    REQUIRE(broker_stop(&b) == 0, out);
    long long lost_by = mono_ms() + WAIT_MS;
    while (sink_state(&r).connected && mono_ms() < lost_by)
        usleep(20000);      /* polling a flag, not waiting for readiness */
    CU_ASSERT_FALSE(sink_state(&r).connected);
    for (int i = OUTAGE_BEFORE; i < OUTAGE_BEFORE + OUTAGE_DURING; i++)
        REQUIRE(submit(&r, i % 2 ? "m1" : "m2", i, GOOD) == 0, out);
    CU_ASSERT(sink_state(&r).spool.depth_records >= OUTAGE_DURING);
    /* the outage lasts until the sink has tried and failed twice */
    uint64_t failed = sink_state(&r).failed;
    while (sink_state(&r).failed < failed + 2 && mono_ms() < lost_by + WAIT_MS)
        usleep(20000);      /* polling a counter */
    CU_ASSERT(sink_state(&r).failed >= failed + 2);
    REQUIRE(broker_restart(&b) == 0, out);
    REQUIRE(drained(&r, 60000), out);          /* the sink backs off up to 30 s */
    CU_ASSERT(sink_state(&r).connected);

    /* every reading arrived at least once.  Duplicates may come from the
     * sink (a batch resent after a lost connection) or from the broker
     * (its restored session redelivers what the subscriber had acknowledged
     * after the last save). */
    enum { N = OUTAGE_BEFORE + OUTAGE_DURING };
    long long deadline = mono_ms() + WAIT_MS;
    size_t distinct = 0, total = 0, scanned = 0;
    while (distinct < N) {
        for (; scanned < sub_count(&s); scanned++, total++) {
            cJSON *doc = cJSON_Parse(sub_get(&s, scanned).payload);
            long long ts = doc ? reading_ts(doc) : -1;
            cJSON_Delete(doc);
            if (ts >= 0 && ts < N && seen[ts]++ == 0)
                distinct++;
        }
        long long left = deadline - mono_ms();
        if (distinct == N || left <= 0 || sub_wait_count(&s, scanned + 1, (int)left) < 0)
            break;
    }
    for (int ts = 0; ts < N; ts++)
        if (!seen[ts])
            fprintf(stderr, "reading ts=%d never arrived\n", ts);
    printf("\n    outage: %d readings, %zu arrived, %zu distinct, %zu duplicates ",
           N, total, distinct, total - distinct);
    CU_ASSERT_EQUAL(distinct, N);
out:
    close_sink(&r);
    sub_stop(&s);
    broker_stop(&b);
}

/* The sink killed during an outage: what it had accepted is delivered
 * by the next start on the same spool. */
static void test_killed_during_outage(void)
{
    struct broker b = { 0 };
    struct sub s = { 0 };
    struct proc p = { .pid = 0 };
    char block[256], spool_dir[512];
    unsigned seen[OUTAGE_BEFORE] = { 0 };
    REQUIRE(broker_start(&b, NULL) == 0, out);
    REQUIRE(sub_start(&s, b.port, "itest-killed", PREFIX "/m1/reading", false, NULL, NULL) == 0, out);
    REQUIRE(make_temp_dir(spool_dir, sizeof spool_dir) == 0, out);

    /* no broker where this one connects: the outage */
    int dead = broker_free_port();
    REQUIRE(dead > 0, out);
    snprintf(block, sizeof block, "uri = \"tcp://127.0.0.1:%d\";", dead);
    REQUIRE(child_start_at(&p, block, spool_dir, "m1", OUTAGE_BEFORE) == 0, out);
    CU_ASSERT(wait_file_contains(p.err_path, "mqtt: cannot connect", WAIT_MS) == 0);
    REQUIRE(proc_kill(&p, SIGKILL) == 0, out);
    proc_stop(&p, NULL);

    snprintf(block, sizeof block, "uri = \"tcp://127.0.0.1:%d\";", b.port);
    REQUIRE(child_start_at(&p, block, spool_dir, "m1", 0) == 0, out);
    size_t distinct = 0, scanned = 0;
    long long deadline = mono_ms() + WAIT_MS;
    while (distinct < OUTAGE_BEFORE && sub_wait_count(&s, scanned + 1, (int)(deadline - mono_ms())) == 0) {
        cJSON *doc = cJSON_Parse(sub_get(&s, scanned++).payload);
        long long i = doc ? reading_ts(doc) - 1000 : -1;
        cJSON_Delete(doc);
        if (i >= 0 && i < OUTAGE_BEFORE && seen[i]++ == 0)
            distinct++;
    }
    printf("\n    killed: %d readings, %zu arrived, %zu distinct ", OUTAGE_BEFORE, scanned, distinct);
    CU_ASSERT_EQUAL(distinct, OUTAGE_BEFORE);
out:
    proc_stop(&p, NULL);
    sub_stop(&s);
    broker_stop(&b);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--sink") == 0)
        return sink_child(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    static const struct itest_case cases[] = {
        { "topics, payloads, availability, retained status", test_topics_and_payloads },
        { "offline on a clean stop, last will on SIGKILL", test_status_and_last_will },
        { "MQTT 5", test_mqtt5 },
        { "MQTT 5: a message the broker refuses", test_mqtt5_refused },
        { "user name and password", test_password },
        { "TLS with client certificate; a wrong CA is refused", test_tls },
        { "TLS: hostname verification", test_tls_hostname },
        { "broker outage: every reading arrives", test_outage },
        { "killed during an outage: the spool delivers after restart", test_killed_during_outage },
    };
    return itest_main("mqtt", cases, sizeof cases / sizeof *cases);
}
