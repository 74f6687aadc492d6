/*
 * Alarms end to end: greenwatch-sim serves a chiller, greenwatchd polls it
 * every second with a limit rule its set point (7 degC) crosses, and
 * publishes to a real mosquitto and influxd.  Then:
 *  - the retained state topic and the event appear, with exactly the
 *    documented fields;
 *  - `greenwatch ack` acknowledges it (result ok, acked_by on the state
 *    topic), `greenwatch shelve` shelves it, `greenwatch alarms --json`
 *    lists it; refused and malformed commands get error results;
 *  - the `alarm` measurement holds one point per transition;
 *  - after a restart of the daemon no event is published for the same
 *    active alarm, and the retained state is still there.
 * Every process is awaited by what it prints and stopped by pid.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "broker.h"
#include "itest.h"
#include "tsdb.h"

#define WAIT_MS 30000           /* ASan is slow to start */
#define PREFIX "greenwatch/alarms"
#define STATE_TOPIC PREFIX "/alarm/chiller-1/setpoint-high"
#define EVENT_TOPIC PREFIX "/event/alarm"
#define RESULT_TOPIC PREFIX "/cmd/result"

/* ---- the simulator and the daemon's configuration -------------------- */

static pid_t sim_pid;
static int sim_port;

static int sim_start(void)
{
    char conf[2048], path[512], log[512], sock[512], line[256], id[64];
    temp_path(sock, sizeof sock, "alarms-sim.sock");
    temp_path(log, sizeof log, "alarms-sim.log");
    snprintf(conf, sizeof conf,
             "profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
             "sim = { seed = 7; start = \"2026-07-15 10:00\"; timezone = \"Asia/Shanghai\"; control = \"%s\"; };\n"
             "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:0\"; } );\n"
             "devices = ( { id = \"chiller-1\"; bus = \"plant\"; unit = 1; profile = \"generic-chiller\";\n"
             "              role = \"chiller\"; number = 1; } );\n",
             sock);
    if (write_temp_file_named("alarms-sim.conf", conf, path, sizeof path) < 0 ||
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
             "site = { id = \"alarms\"; timezone = \"Asia/Shanghai\"; };\n"
             "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
             "           spool_dir = \"spool\"; state_file = \"alarms.json\"; };\n"
             "mqtt = { uri = \"tcp://127.0.0.1:%d\"; client_id = \"alarms-daemon\"; };\n"
             "influxdb = { url = \"%s\"; database = \"greenwatch\"; flush_ms = 200; };\n"
             "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 2000; } );\n"
             "devices = ( { id = \"chiller-1\"; bus = \"plant\"; unit = 1; kind = \"generic\";\n"
             "              profile = \"generic-chiller\"; interval_s = 1; tags = { building = \"T1\"; }; } );\n"
             "rules = ( { id = \"setpoint-high\"; device = \"chiller-1\"; type = \"limit\"; point = \"chw_setpoint\";\n"
             "            high = 6.0; severity = \"high\"; } );\n",
             mqtt_port, influx_url, sim_port);
    return write_temp_file(path, n, text);
}

/* ---- what the subscriber saw --------------------------------------------- */

static const char *const state_keys[] = {
    "site", "device", "kind", "rule", "type", "severity", "state", "active", "acked", "value", "limit",
    "message", "since", "state_since", "acked_by", "acked_at", "shelved_by", "shelved_until", "seq", NULL,
};

static const char *const event_keys[] = {
    "site", "device", "kind", "rule", "type", "severity", "state", "active", "acked", "value", "limit",
    "message", "since", "state_since", "acked_by", "acked_at", "shelved_by", "shelved_until",
    "from_state", "cause", "ts", "seq", NULL,
};

/* Exactly these keys, no other. */
static bool has_exactly(const cJSON *o, const char *const keys[])
{
    int n = 0;
    for (; keys[n]; n++)
        if (!cJSON_HasObjectItem(o, keys[n])) {
            fprintf(stderr, "missing key %s\n", keys[n]);
            return false;
        }
    return cJSON_GetArraySize(o) == n;
}

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The next message on topic at or after *from, parsed (NULL: none in
 * timeout_ms, or an empty payload). */
static cJSON *next_json(struct sub *s, size_t *from, const char *topic, int timeout_ms)
{
    int i = sub_wait(s, from, topic, NULL, timeout_ms);
    if (i < 0)
        return NULL;
    struct sub_msg m = sub_get(s, (size_t)i);
    return cJSON_Parse(m.payload);
}

/* The messages on topic so far. */
static int count_on(struct sub *s, const char *topic)
{
    int n = 0;
    for (size_t i = 0; i < sub_count(s); i++)
        n += strcmp(sub_get(s, i).topic, topic) == 0;
    return n;
}

/* The result for request id (NULL: any id, e.g. null) among the results
 * from *from on, within WAIT_MS. */
static cJSON *result_for(struct sub *s, size_t *from, const char *id)
{
    long long deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline) {
        cJSON *r = next_json(s, from, RESULT_TOPIC, (int)(deadline - mono_ms()));
        if (!r)
            return NULL;
        const char *got = str(r, "id");
        if (id ? got && strcmp(got, id) == 0 : is_null(r, "id"))
            return r;
        cJSON_Delete(r);
    }
    return NULL;
}

static void publish(struct sub *s, const char *topic, const char *payload, size_t len)
{
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    CU_ASSERT_EQUAL(MQTTAsync_send(s->client, topic, (int)len, payload, 1, 0, &o), MQTTASYNC_SUCCESS);
}

/* ---- the operator tool ----------------------------------------------------- */

struct tool_run {
    int exit_code;
    char *out, *err;
};

static struct tool_run tool(const char *const argv[])
{
    struct tool_run r = { .exit_code = -1 };
    int status = 0;
    if (run_capture(argv, &r.out, &r.err, 60, &status) == 0 && WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

/* Sanitizer reports in a program's stderr fail the test. */
static void check_clean(const char *what, const char *err)
{
    bool clean = err && !strstr(err, "Sanitizer") && !strstr(err, "runtime error");
    if (!clean)
        fprintf(stderr, "--- %s ---\n%s", what, err ? err : "");
    CU_ASSERT(clean);
}

static void tool_free(struct tool_run *r)
{
    check_clean("greenwatch", r->err);
    free(r->out);
    free(r->err);
}

/* ---- checks ------------------------------------------------------------------ */

static void check_raised(const cJSON *ev, const cJSON *state, double reading_ts_ms)
{
    CU_ASSERT(has_exactly(ev, event_keys));
    CU_ASSERT_STRING_EQUAL(str(ev, "site"), "alarms");
    CU_ASSERT_STRING_EQUAL(str(ev, "device"), "chiller-1");
    CU_ASSERT_STRING_EQUAL(str(ev, "kind"), "generic");
    CU_ASSERT_STRING_EQUAL(str(ev, "rule"), "setpoint-high");
    CU_ASSERT_STRING_EQUAL(str(ev, "type"), "limit");
    CU_ASSERT_STRING_EQUAL(str(ev, "severity"), "high");
    CU_ASSERT_STRING_EQUAL(str(ev, "state"), "active-unacknowledged");
    CU_ASSERT_STRING_EQUAL(str(ev, "from_state"), "normal");
    CU_ASSERT_STRING_EQUAL(str(ev, "cause"), "condition");
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(ev, "active")));
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(ev, "acked")));
    CU_ASSERT_DOUBLE_EQUAL(num(ev, "value"), 7.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(ev, "limit"), 6.0, 0.0);
    CU_ASSERT(str(ev, "message") && strlen(str(ev, "message")) > 0);
    CU_ASSERT(num(ev, "since") > 1.7e12 && num(ev, "since") <= num(ev, "ts"));
    CU_ASSERT(num(ev, "state_since") == num(ev, "ts"));
    /* The sample's time: the device's clock (the simulator's), read by the
     * profile's clock point. */
    CU_ASSERT(fabs(num(ev, "ts") - reading_ts_ms) < 60000);
    CU_ASSERT(is_null(ev, "acked_by") && is_null(ev, "acked_at") && is_null(ev, "shelved_by") &&
              is_null(ev, "shelved_until"));
    CU_ASSERT(num(ev, "seq") >= 1);

    CU_ASSERT(has_exactly(state, state_keys));
    CU_ASSERT_STRING_EQUAL(str(state, "state"), "active-unacknowledged");
    CU_ASSERT_DOUBLE_EQUAL(num(state, "value"), 7.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(state, "limit"), 6.0, 0.0);
    CU_ASSERT(num(state, "since") == num(ev, "since"));
    CU_ASSERT(num(state, "seq") == num(ev, "seq"));
    CU_ASSERT(is_null(state, "acked_by"));
}

/* greenwatch ack: result ok, printed; the state topic names who. */
static void check_ack(const char *config, struct sub *s, size_t *from, size_t *ev_from)
{
    struct tool_run r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-1", "setpoint-high", "--user", "alice",
                                  "--comment", "set point checked with the plant room"));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "chiller-1/setpoint-high: acknowledged, now active-acknowledged\n");
    if (r.exit_code != 0)
        fprintf(stderr, "ack: %s%s", r.out, r.err);
    tool_free(&r);
    cJSON *state = next_json(s, from, STATE_TOPIC, WAIT_MS), *ev = next_json(s, ev_from, EVENT_TOPIC, WAIT_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(state);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT(has_exactly(state, state_keys));
    CU_ASSERT_STRING_EQUAL(str(state, "state"), "active-acknowledged");
    CU_ASSERT_STRING_EQUAL(str(state, "acked_by"), "alice");
    CU_ASSERT(num(state, "acked_at") > 1.7e12);
    CU_ASSERT_STRING_EQUAL(str(ev, "cause"), "ack");
    CU_ASSERT_STRING_EQUAL(str(ev, "from_state"), "active-unacknowledged");
    cJSON_Delete(state);
    cJSON_Delete(ev);

    /* Again: nothing to acknowledge, a refusal (exit 1). */
    r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-1", "setpoint-high", "--user", "alice", "--json"));
    CU_ASSERT_EQUAL(r.exit_code, 1);
    cJSON *res = cJSON_Parse(r.out);
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(res, "ok")));
    CU_ASSERT(str(res, "error") && strcmp(str(res, "error"), "nothing to acknowledge") == 0);
    CU_ASSERT(str(res, "state") && strcmp(str(res, "state"), "active-acknowledged") == 0);
    CU_ASSERT(str(res, "id") && strlen(str(res, "id")) == 16);
    cJSON_Delete(res);
    tool_free(&r);
}

static void check_list(const char *config, const char *state, const char *acked_by)
{
    struct tool_run r = tool(ARGS(GREENWATCH, "alarms", "-c", config, "--json"));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    cJSON *list = cJSON_Parse(r.out);
    CU_ASSERT(cJSON_IsArray(list) && cJSON_GetArraySize(list) == 1);
    const cJSON *a = cJSON_GetArrayItem(list, 0);
    CU_ASSERT(has_exactly(a, state_keys));
    CU_ASSERT(str(a, "device") && strcmp(str(a, "device"), "chiller-1") == 0);
    CU_ASSERT(str(a, "rule") && strcmp(str(a, "rule"), "setpoint-high") == 0);
    CU_ASSERT(str(a, "state") && strcmp(str(a, "state"), state) == 0);
    CU_ASSERT(!acked_by || (str(a, "acked_by") && strcmp(str(a, "acked_by"), acked_by) == 0));
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != 1 || !has_exactly(a, state_keys) ||
        (acked_by && (!str(a, "acked_by") || strcmp(str(a, "acked_by"), acked_by))))
        fprintf(stderr, "alarms --json: %s%s", r.out, r.err);
    cJSON_Delete(list);
    tool_free(&r);

    r = tool(ARGS(GREENWATCH, "alarms", "-c", config));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "chiller-1/setpoint-high"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, state));
    tool_free(&r);
}

static void check_shelve(const char *config, struct sub *s, size_t *from)
{
    long long before = (long long)time(NULL) * 1000;
    struct tool_run r = tool(ARGS(GREENWATCH, "shelve", "-c", config, "chiller-1", "setpoint-high", "--user", "bob",
                                  "--for", "2h"));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "chiller-1/setpoint-high: shelved, now shelved\n");
    tool_free(&r);
    cJSON *state = next_json(s, from, STATE_TOPIC, WAIT_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(state);
    CU_ASSERT_STRING_EQUAL(str(state, "state"), "shelved");
    CU_ASSERT_STRING_EQUAL(str(state, "shelved_by"), "bob");
    double until = num(state, "shelved_until");
    CU_ASSERT(until >= before + 7200000.0 - 1000 && until <= before + 7200000.0 + 60000);
    cJSON_Delete(state);

    /* Shelved: an acknowledgement is refused; a shelf too short as well. */
    r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-1", "setpoint-high", "--user", "alice"));
    CU_ASSERT_EQUAL(r.exit_code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "refused: the alarm is shelved"));
    tool_free(&r);
    r = tool(ARGS(GREENWATCH, "shelve", "-c", config, "chiller-1", "setpoint-high", "--user", "bob", "--for", "30s"));
    CU_ASSERT_EQUAL(r.exit_code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "field 'duration_s' must be from 60 to 2592000 seconds"));
    tool_free(&r);
    r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-9", "setpoint-high", "--user", "alice"));
    CU_ASSERT_EQUAL(r.exit_code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "refused: no such alarm"));
    tool_free(&r);
    r = tool(ARGS(GREENWATCH, "shelve", "-c", config, "chiller-1", "setpoint-high", "--user", "bob"));
    CU_ASSERT_EQUAL(r.exit_code, 2);
    tool_free(&r);
}

/* Commands that are not what the contract says get an error result, and
 * change nothing. */
static void check_malformed(struct sub *s, size_t *from)
{
    publish(s, PREFIX "/cmd/ack", "{not json", 9);
    cJSON *r = result_for(s, from, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(r, "ok")));
    CU_ASSERT(str(r, "error") && strncmp(str(r, "error"), "malformed JSON near byte ", 25) == 0);
    cJSON_Delete(r);

    const char *unknown = "{\"id\":\"bad-1\",\"device\":\"chiller-1\",\"rule\":\"setpoint-high\",\"user\":\"eve\",\"force\":true}";
    publish(s, PREFIX "/cmd/ack", unknown, strlen(unknown));
    r = result_for(s, from, "bad-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    char *text = cJSON_PrintUnformatted(r);
    CU_ASSERT_STRING_EQUAL(text, "{\"id\":\"bad-1\",\"ok\":false,\"error\":\"unknown field 'force'\"}");
    free(text);
    cJSON_Delete(r);

    char big[5000];
    int n = snprintf(big, sizeof big, "{\"id\":\"bad-2\",\"device\":\"chiller-1\",\"rule\":\"setpoint-high\",\"user\":\"eve\",\"comment\":\"");
    memset(big + n, 'x', sizeof big - (size_t)n - 2);
    memcpy(big + sizeof big - 2, "\"}", 2);
    publish(s, PREFIX "/cmd/shelve", big, sizeof big);
    r = result_for(s, from, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(str(r, "error") && strcmp(str(r, "error"), "payload larger than 4096 bytes") == 0);
    cJSON_Delete(r);

    const char *wrong = "{\"id\":\"bad-3\",\"device\":\"chiller-1\",\"rule\":\"setpoint-high\",\"user\":\"eve\",\"duration_s\":\"2h\"}";
    publish(s, PREFIX "/cmd/shelve", wrong, strlen(wrong));
    r = result_for(s, from, "bad-3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(str(r, "error") && strcmp(str(r, "error"), "field 'duration_s' must be a number") == 0);
    cJSON_Delete(r);
}

/* A flood of commands: each one is answered (run, or refused because too
 * many wait) or dropped and counted in the log; the daemon keeps
 * answering afterwards.  Returns how many got an answer. */
#define FLOOD 300
static int check_flood(const char *config, struct sub *s, size_t *from)
{
    char payload[160];
    for (int i = 0; i < FLOOD; i++) {
        int n = snprintf(payload, sizeof payload,
                         "{\"id\":\"flood-%d\",\"device\":\"chiller-9\",\"rule\":\"r\",\"user\":\"bot\"}", i);
        publish(s, PREFIX "/cmd/ack", payload, (size_t)n);
    }
    int answered = 0, busy = 0, other = 0;
    for (cJSON *r; (r = next_json(s, from, RESULT_TOPIC, 3000)); cJSON_Delete(r)) {
        const char *id = str(r, "id"), *error = str(r, "error");
        if (!id || strncmp(id, "flood-", 6) != 0)
            continue;
        answered++;
        busy += error && strcmp(error, "too many commands waiting; try again later") == 0;
        other += !error || (strcmp(error, "no such alarm") != 0 && strcmp(error, "too many commands waiting; try again later") != 0);
    }
    fprintf(stderr, "\nflood of %d: %d answered, %d of them refused as too many\n", FLOOD, answered, busy);
    CU_ASSERT(answered >= 33 && answered <= FLOOD);
    CU_ASSERT_EQUAL(other, 0);
    struct tool_run r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-9", "r", "--user", "alice"));
    CU_ASSERT_EQUAL(r.exit_code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "refused: no such alarm"));
    tool_free(&r);
    return answered;
}

/* The commands the daemon's log says were dropped in floods. */
static int dropped_in_log(const char *log)
{
    int total = 0;
    for (const char *p = log; p && (p = strstr(p, "mqtt: ")); p++) {
        int n;
        if (sscanf(p, "mqtt: %d commands dropped without an answer", &n) == 1)
            total += n;
    }
    return total;
}

/* The alarm measurement: one point per event seen on MQTT, same seq, with
 * the tags and fields of docs/influxdb.md. */
static void check_influx(const struct tsdb *db, struct sub *s)
{
    int events = count_on(s, EVENT_TOPIC), points = -1;
    cJSON *res = NULL;
    const cJSON *values = NULL, *columns = NULL;
    long long deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline && points != events) {
        cJSON_Delete(res);
        res = NULL;
        if (influx_query(db, "greenwatch", "SELECT * FROM alarm", NULL, &res) == 0) {
            const cJSON *series = cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 0), "series"), 0);
            values = cJSON_GetObjectItem(series, "values");
            columns = cJSON_GetObjectItem(series, "columns");
            points = values ? cJSON_GetArraySize(values) : 0;
        }
        if (points != events) {
            struct timespec pause = { .tv_nsec = 200000000 };
            nanosleep(&pause, NULL);
        }
    }
    fprintf(stderr, "\n%d events on MQTT, %d points in influxd\n", events, points);
    CU_ASSERT_EQUAL(events, 4);     /* raised, acknowledged, shelved, unshelved */
    CU_ASSERT_EQUAL(points, events);
    static const char *const want[] = { "time", "acked", "active", "building", "cause", "device", "from_state",
                                        "kind", "limit", "message", "rule", "seq", "severity", "site", "state",
                                        "value", NULL };
    int n = 0;
    for (; want[n]; n++) {
        bool found = false;
        for (const cJSON *c = columns ? columns->child : NULL; c; c = c->next)
            found |= cJSON_IsString(c) && strcmp(c->valuestring, want[n]) == 0;
        if (!found)
            fprintf(stderr, "alarm: no column %s\n", want[n]);
        CU_ASSERT(found);
    }
    CU_ASSERT_EQUAL(cJSON_GetArraySize(columns), n);
    /* The first point is the activation. */
    const cJSON *row = values ? values->child : NULL;
    int c_state = -1, c_cause = -1, c_value = -1;
    int i = 0;
    for (const cJSON *c = columns ? columns->child : NULL; c; c = c->next, i++) {
        c_state = strcmp(c->valuestring, "state") == 0 ? i : c_state;
        c_cause = strcmp(c->valuestring, "cause") == 0 ? i : c_cause;
        c_value = strcmp(c->valuestring, "value") == 0 ? i : c_value;
    }
    CU_ASSERT(row && c_state >= 0 &&
              strcmp(cJSON_GetArrayItem(row, c_state)->valuestring, "active-unacknowledged") == 0);
    CU_ASSERT(row && c_cause >= 0 && strcmp(cJSON_GetArrayItem(row, c_cause)->valuestring, "condition") == 0);
    CU_ASSERT(row && c_value >= 0 && fabs(cJSON_GetArrayItem(row, c_value)->valuedouble - 7.0) < 1e-6);
    cJSON_Delete(res);
}

/* Stop the daemon, check the tool reports no answer, start it again: the
 * active alarm is not announced again, its state is republished (without
 * a seq) and still retained. */
static void check_restart(const char *config, struct proc *d1, struct proc *d2, struct sub *s, int flood_answered)
{
    int status = -1;
    CU_ASSERT_EQUAL(proc_stop(d1, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *err = proc_stderr(d1);
    check_clean("the daemon", err);
    /* Every command is logged with who gave it. */
    static const char *const logged[] = {
        "command ack chiller-1/setpoint-high by alice (request ",
        ", comment: set point checked with the plant room): done, active-acknowledged",
        "command shelve chiller-1/setpoint-high by bob (request ",
        "refused: the alarm is shelved",
        "command ack chiller-1/setpoint-high by eve (request bad-1): refused: unknown field 'force'",
        "command ack ? by ? (request -): refused: malformed JSON near byte ",
        "command unshelve chiller-1/setpoint-high by bob",
    };
    for (size_t i = 0; i < sizeof logged / sizeof *logged; i++) {
        bool found = err && strstr(err, logged[i]);
        if (!found)
            fprintf(stderr, "not logged: %s\n", logged[i]);
        CU_ASSERT(found);
    }
    int dropped = dropped_in_log(err);
    CU_ASSERT_EQUAL(flood_answered + dropped, FLOOD);
    free(err);
    struct tool_run r = tool(ARGS(GREENWATCH, "ack", "-c", config, "chiller-1", "setpoint-high", "--user", "alice"));
    CU_ASSERT_EQUAL(r.exit_code, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no answer on " RESULT_TOPIC));
    tool_free(&r);

    int events = count_on(s, EVENT_TOPIC);
    size_t from = sub_count(s);
    CU_ASSERT_EQUAL_FATAL(greenwatchd_start(d2, config), 0);
    cJSON *state = next_json(s, &from, STATE_TOPIC, WAIT_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(state);
    CU_ASSERT_STRING_EQUAL(str(state, "state"), "active-unacknowledged");
    CU_ASSERT(has_exactly(state, state_keys));
    CU_ASSERT(is_null(state, "seq"));
    cJSON_Delete(state);
    /* Several polls that see the alarm's condition still there. */
    size_t readings = from;
    for (int i = 0; i < 5; i++)
        CU_ASSERT_FATAL(sub_wait(s, &readings, PREFIX "/chiller-1/reading", NULL, WAIT_MS) >= 0);
    CU_ASSERT_EQUAL(count_on(s, EVENT_TOPIC), events);
}

static void test_alarms(void)
{
    struct broker broker = { 0 };
    struct tsdb db = { 0 };
    struct sub sub = { 0 }, late = { 0 };
    struct proc d1 = { 0 }, d2 = { 0 };
    char config[512];
    REQUIRE(sim_start() == 0, out);
    REQUIRE(broker_start(&broker, NULL) == 0, out);
    REQUIRE(influxd_start(&db, NULL) == 0, out);
    REQUIRE(sub_start(&sub, broker.port, "alarms-subscriber", PREFIX "/#", true, NULL, NULL) == 0, out);
    REQUIRE(write_daemon_config(config, sizeof config, broker.port, db.url) == 0, out);
    REQUIRE(greenwatchd_start(&d1, config) == 0, out);

    size_t state_from = 0, ev_from = 0, result_from = 0;
    cJSON *ev = next_json(&sub, &ev_from, EVENT_TOPIC, WAIT_MS);
    cJSON *state = next_json(&sub, &state_from, STATE_TOPIC, WAIT_MS);
    REQUIRE(ev && state, raised);
    size_t reading_from = 0;
    cJSON *reading = next_json(&sub, &reading_from, PREFIX "/chiller-1/reading", WAIT_MS);
    check_raised(ev, state, num(reading, "ts"));
    cJSON_Delete(reading);
    check_ack(config, &sub, &state_from, &ev_from);
    check_list(config, "active-acknowledged", "alice");
    check_shelve(config, &sub, &state_from);
    check_list(config, "shelved", "alice");   /* shelving an acknowledged alarm keeps who acknowledged */
    check_malformed(&sub, &result_from);
    int flood_answered = check_flood(config, &sub, &result_from);
    {
        struct tool_run r = tool(ARGS(GREENWATCH, "unshelve", "-c", config, "chiller-1", "setpoint-high", "--user", "bob"));
        CU_ASSERT_EQUAL(r.exit_code, 0);
        CU_ASSERT_STRING_EQUAL(r.out, "chiller-1/setpoint-high: unshelved, now active-unacknowledged\n");
        tool_free(&r);
    }
    check_influx(&db, &sub);
    check_restart(config, &d1, &d2, &sub, flood_answered);
    {
        int status = -1;
        CU_ASSERT_EQUAL(proc_stop(&d2, &status), 0);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char *err = proc_stderr(&d2);
        check_clean("the restarted daemon", err);
        free(err);
    }
    /* A subscriber that arrives now gets the state from the broker. */
    REQUIRE(sub_start(&late, broker.port, "alarms-late", STATE_TOPIC, false, NULL, NULL) == 0, raised);
    {
        size_t from = 0;
        cJSON *retained = next_json(&late, &from, STATE_TOPIC, WAIT_MS);
        CU_ASSERT_PTR_NOT_NULL(retained);
        CU_ASSERT(sub_count(&late) > 0 && sub_get(&late, 0).retained);
        CU_ASSERT(retained && str(retained, "state") && strcmp(str(retained, "state"), "active-unacknowledged") == 0);
        cJSON_Delete(retained);
    }
    check_list(config, "active-unacknowledged", NULL);
raised:
    if (CU_get_number_of_failures()) {
        char *err = proc_stderr(d2.pid ? &d2 : &d1);
        fprintf(stderr, "--- the daemon's log ---\n%s", err ? err : "");
        free(err);
    }
    cJSON_Delete(ev);
    cJSON_Delete(state);
out:
    proc_stop(&d1, NULL);
    proc_stop(&d2, NULL);
    sub_stop(&late);
    sub_stop(&sub);
    tsdb_stop(&db);
    broker_stop(&broker);
    if (sim_pid > 0)
        stop_process(sim_pid, NULL);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "alarm state, events, commands, the tool, influxd and a restart", test_alarms },
    };
    return itest_main("alarms", cases, sizeof cases / sizeof *cases);
}
