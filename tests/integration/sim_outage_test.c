/*
 * Nothing lost: the daemon polls the simulator every second and publishes
 * to mosquitto and influxd; both servers are stopped for a while (two
 * minutes by default, GW_OUTAGE_SECONDS to change it), the daemon is
 * SIGKILLed in the middle of the outage and started again, the servers
 * come back.  Then every sample the daemon took is in influxd exactly once
 * and reached an MQTT subscriber (duplicates counted, none missing); the
 * only slots without a sample are those while no daemon ran.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "itest.h"
#include "tsdb.h"

#define WAIT_MS 30000
#define N_DEVICES 3
static const char *const device_ids[N_DEVICES] = { "em-main", "chiller-1", "wm-main" };

/* Sample slots (seconds since the epoch) of one device, as a bitmap over
 * the test's span. */
struct slots {
    long long first;
    unsigned char seen[4096];
};

static void slot_mark(struct slots *s, long long ts_ms)
{
    long long i = llround((double)ts_ms / 1000.0) - s->first;
    if (i >= 0 && i < (long long)sizeof s->seen && s->seen[i] < 255)
        s->seen[i]++;
}

static pid_t sim_pid;
static int sim_port;

static int sim_start(void)
{
    char conf[2048], path[512], log[512], sock[512], line[256], id[64];
    temp_path(sock, sizeof sock, "outage-sim.sock");
    temp_path(log, sizeof log, "outage-sim.log");
    snprintf(conf, sizeof conf,
             "profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
             "sim = { seed = 3; control = \"%s\"; };\n"
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:0\"; } );\n"
             "devices = (\n"
             "  { id = \"em-main\"; bus = \"b\"; unit = 1; profile = \"generic-meter-main\"; role = \"meter\"; feed = \"main\"; },\n"
             "  { id = \"chiller-1\"; bus = \"b\"; unit = 2; profile = \"generic-chiller\"; role = \"chiller\"; number = 1; },\n"
             "  { id = \"wm-main\"; bus = \"b\"; unit = 3; profile = \"generic-water-meter\"; role = \"water\"; feed = \"main\"; } );\n",
             sock);
    if (write_temp_file_named("outage-sim.conf", conf, path, sizeof path) < 0 ||
        spawn_process_logged(ARGS(GW_SIM_BINARY, "-c", path), log, &sim_pid) < 0 ||
        wait_file_contains(log, "READY", WAIT_MS) < 0)
        return -1;
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "LISTEN %63s 127.0.0.1:%d", id, &sim_port) == 2)
            break;
    if (f)
        fclose(f);
    return sim_port > 0 ? 0 : -1;
}

static int write_daemon_config(char *path, size_t n, int mqtt_port, const char *influx_url)
{
    char text[4096];
    snprintf(text, sizeof text,
             "site = { id = \"outage\"; };\n"
             "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
             "           spool_dir = \"spool\"; state_file = \"alarms.json\"; health_interval_s = 5; };\n"
             "mqtt = { uri = \"tcp://127.0.0.1:%d\"; client_id = \"outage-daemon\"; qos = 1; };\n"
             "influxdb = { url = \"%s\"; database = \"greenwatch\"; flush_ms = 200; };\n"
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 2000; } );\n"
             "devices = (\n"
             "  { id = \"em-main\"; bus = \"b\"; unit = 1; profile = \"generic-meter-main\"; interval_s = 1; },\n"
             "  { id = \"chiller-1\"; bus = \"b\"; unit = 2; profile = \"generic-chiller\"; interval_s = 1; },\n"
             "  { id = \"wm-main\"; bus = \"b\"; unit = 3; profile = \"generic-water-meter\"; interval_s = 1; } );\n",
             mqtt_port, influx_url, sim_port);
    return write_temp_file(path, n, text);
}

static int outage_seconds(void)
{
    const char *env = getenv("GW_OUTAGE_SECONDS");
    int s = env ? atoi(env) : 120;
    return s >= 4 ? s : 120;
}

static void pause_s(int seconds)
{
    /* The outage is a span of time by definition: nothing to wait for. */
    struct timespec ts = { .tv_sec = seconds };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* The device's sample slots in influxd, counting each stored point. */
static int influx_slots(const struct tsdb *db, const char *device, struct slots *out)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT power_kw, chw_supply_temp, flow FROM generic WHERE device = '%s'", device);
    struct cJSON *res = NULL;
    if (influx_query(db, "greenwatch", q, NULL, &res) != 0)
        return -1;
    const cJSON *series = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 0), "series"), 0);
    const cJSON *values = cJSON_GetObjectItem(series, "values");
    int n = 0;
    for (const cJSON *row = values ? values->child : NULL; row; row = row->next, n++) {
        const cJSON *t = cJSON_GetArrayItem(row, 0);
        if (cJSON_IsNumber(t))
            slot_mark(out, (long long)t->valuedouble);
    }
    cJSON_Delete(res);
    return n;
}

/* The device's reading slots seen by the subscriber; returns duplicates. */
static int mqtt_slots(struct sub *s, const char *device, struct slots *out)
{
    char topic[128];
    snprintf(topic, sizeof topic, "greenwatch/outage/%s/reading", device);
    int dup = 0;
    for (size_t i = 0; i < sub_count(s); i++) {
        struct sub_msg m = sub_get(s, i);
        if (strcmp(m.topic, topic) != 0)
            continue;
        cJSON *doc = cJSON_Parse(m.payload);
        const cJSON *ts = cJSON_GetObjectItem(doc, "ts");
        if (cJSON_IsNumber(ts)) {
            long long slot = llround(ts->valuedouble / 1000.0) - out->first;
            if (slot >= 0 && slot < (long long)sizeof out->seen && out->seen[slot])
                dup++;
            slot_mark(out, (long long)ts->valuedouble);
        }
        cJSON_Delete(doc);
    }
    return dup;
}

/* Until every sample taken up to `until` (seconds) is both in influxd and
 * at the subscriber, for every device: the spools drained. */
static int await_delivery(const struct tsdb *db, struct sub *s, long long first, long long until, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        bool complete = true;
        for (int i = 0; i < N_DEVICES && complete; i++) {
            struct slots in_db = { .first = first }, on_mqtt = { .first = first };
            influx_slots(db, device_ids[i], &in_db);
            mqtt_slots(s, device_ids[i], &on_mqtt);
            int both = 0, either = 0;
            for (long long k = 0; k <= until - first && k < (long long)sizeof in_db.seen; k++) {
                both += in_db.seen[k] && on_mqtt.seen[k];
                either += in_db.seen[k] || on_mqtt.seen[k];
            }
            /* The last slots before `until` must have arrived too. */
            complete = both == either && in_db.seen[until - first - 1] && on_mqtt.seen[until - first - 1];
        }
        if (complete)
            return 0;
        pause_s(1);
    }
    return -ETIMEDOUT;
}

static void test_outage(void)
{
    struct broker broker = { 0 };
    struct tsdb db = { 0 };
    struct sub sub = { 0 };
    struct proc d1 = { 0 }, d2 = { 0 };
    char config[512];
    int outage = outage_seconds();
    REQUIRE(sim_start() == 0, out);
    REQUIRE(broker_start(&broker, &(struct broker_options){ .persistence = true }) == 0, out);
    REQUIRE(influxd_start(&db, NULL) == 0, out);
    REQUIRE(sub_start(&sub, broker.port, "outage-subscriber", "greenwatch/outage/+/reading", true, NULL, NULL) == 0, out);
    REQUIRE(write_daemon_config(config, sizeof config, broker.port, db.url) == 0, out);
    long long start_s = mono_ms() / 1000;
    (void)start_s;
    long long first_slot = time(NULL) - 2;
    REQUIRE(greenwatchd_start(&d1, config) == 0, out);
    REQUIRE(sub_wait_count(&sub, 3 * N_DEVICES, WAIT_MS) == 0, out);

    /* The outage, with a SIGKILL in the middle of it. */
    REQUIRE(broker_stop(&broker) == 0, out);
    REQUIRE(tsdb_stop(&db) == 0, out);
    pause_s(outage / 2);
    long long killed_at = time(NULL);
    CU_ASSERT_EQUAL(proc_kill(&d1, SIGKILL), 0);
    proc_wait(&d1, 10000, NULL);
    REQUIRE(greenwatchd_start(&d2, config) == 0, out);
    pause_s(outage - outage / 2);
    REQUIRE(broker_restart(&broker) == 0, out);
    REQUIRE(tsdb_restart(&db) == 0, out);
    long long back_at = time(NULL);
    REQUIRE(sub_wait_subscribed(&sub, WAIT_MS) == 0, out);
    /* The sinks retry with backoff (up to a minute): wait for the spools
     * to drain, as the database and the subscriber show it. */
    CU_ASSERT_EQUAL(await_delivery(&db, &sub, first_slot, back_at, 150000), 0);
    int status = -1;
    CU_ASSERT_EQUAL(proc_stop(&d2, &status), 0);  /* a clean stop delivers what is spooled */
    long long last_slot = time(NULL);

    for (int i = 0; i < N_DEVICES; i++) {
        struct slots in_db = { .first = first_slot }, on_mqtt = { .first = first_slot };
        int stored = influx_slots(&db, device_ids[i], &in_db);
        int dup = mqtt_slots(&sub, device_ids[i], &on_mqtt);
        int missing_db = 0, missing_mqtt = 0, twice = 0, gap = 0;
        for (long long s = 0; s <= last_slot - first_slot && s < (long long)sizeof in_db.seen; s++) {
            twice += in_db.seen[s] > 1;
            missing_mqtt += in_db.seen[s] && !on_mqtt.seen[s];
            missing_db += on_mqtt.seen[s] && !in_db.seen[s];
        }
        /* Slots without a sample: only while no daemon ran (the restart). */
        long long first_seen = -1, last_seen = -1;
        for (long long s = 0; s < (long long)sizeof in_db.seen; s++)
            if (in_db.seen[s]) {
                if (first_seen < 0)
                    first_seen = s;
                last_seen = s;
            }
        for (long long s = first_seen; s >= 0 && s <= last_seen; s++)
            gap += !in_db.seen[s] && llabs(first_slot + s - killed_at) > 5;
        fprintf(stderr, "%s: %d stored, %d missing from MQTT, %d from influxd, %d twice, %d MQTT duplicates, %d unexplained gaps\n",
                device_ids[i], stored, missing_mqtt, missing_db, twice, dup, gap);
        CU_ASSERT(stored >= outage);
        CU_ASSERT_EQUAL(missing_mqtt, 0);
        CU_ASSERT_EQUAL(missing_db, 0);
        CU_ASSERT_EQUAL(twice, 0);
        CU_ASSERT_EQUAL(gap, 0);
    }
    if (CU_get_number_of_failures()) {
        char *err = proc_stderr(&d2);
        fprintf(stderr, "--- the restarted daemon's log ---\n%s", err ? err : "");
        free(err);
    }
out:
    proc_stop(&d1, NULL);
    proc_stop(&d2, NULL);
    sub_stop(&sub);
    tsdb_stop(&db);
    broker_stop(&broker);
    if (sim_pid > 0)
        stop_process(sim_pid, NULL);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "broker and database outage with a SIGKILL: nothing lost", test_outage },
    };
    return itest_main("outage", cases, sizeof cases / sizeof *cases);
}
