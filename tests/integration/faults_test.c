/*
 * The demo building's fault script end to end: greenwatch-sim plays every
 * device of config/demo-sim.conf from a workday at 00:00, accelerated
 * (600 simulated seconds a second unless GW_FAULTS_SPEED says otherwise),
 * with config/demo-faults.conf injecting its faults; greenwatchd polls it
 * with config/demo.conf's devices and kinds, so the kinds' default rules
 * judge it, one sample every two simulated minutes, stamped with the
 * device's clock; alarm events go to a real mosquitto.
 *
 * The subscriber on the event topic then checks that each fault raised
 * exactly one alarm, of the rule its comment in the script names, on its
 * device, within the fault (or just after, for an on-delay); that the
 * alarm returned once the fault was over; and that nothing else was
 * raised: no other alarm on any device (the counter rollover raises
 * nothing), except the one listed below with its reason.
 *
 * Accelerated time and the rules (docs/simulator.md): a delay that ends
 * between two samples ends on the next one, at most two simulated minutes
 * late.  The limits of comm_loss and stale are counts of the daemon's
 * polling interval, 0.2 wall seconds here, while samples are two
 * simulated minutes apart; so the test overrides them per device, as a
 * site would: comm-loss 15 intervals (3 wall seconds: a poll that times
 * out does not raise it, the script's simulated hour without answers, 6
 * wall seconds, does), energy-stale and volume-stale 1200 intervals (240
 * simulated seconds between a counter's good readings: two samples, so
 * that a poll split by the start of an outage, its first read answered,
 * its second not, is not taken for a stale counter).  The baseline rules
 * judge no day here: the script plays one day, with no weeks before it.
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "itest.h"

#define WAIT_MS 30000                     /* ASan is slow to start */
#define PREFIX "greenwatch/demo-tower"    /* config/demo.conf's site */
#define EVENT_TOPIC PREFIX "/event/alarm"
#define START "2026-04-07 00:00"          /* a Tuesday; the script's day */
#define SAMPLE_S 120.0                    /* simulated seconds between samples */
#define END_S (16.5 * 3600.0)             /* simulated time the test runs to */
#define FAULTS_FILE GW_SOURCE_DIR "/config/demo-faults.conf"

/* One expected alarm: raised by fault number `fault` of the script (its
 * device and type are checked against the file), on device/rule. */
struct expected {
    int fault;
    const char *fault_type;
    const char *device, *rule;
    const char *why;           /* for an alarm the fault causes on another device */
};

static const struct expected expected[] = {
    { 0, "no_answer", "em-special", "comm-loss", NULL },
    { 1, "off_schedule", "chiller-2", "chiller-after-hours", NULL },
    /* The plant's sub-meter sees the chiller that runs at night; its night
     * baseload is nil, so twice it plus 5 kW is far exceeded. */
    { 1, "off_schedule", "em-hvac-plant", "after-hours-consumption",
      "the chiller plant's sub-meter carries chiller-2 at night" },
    { 2, "counter_reset", "em-power", "energy-counter-reset", NULL },
    { 3, "exception", "em-lighting", "energy-stale", NULL },
    { 4, "stuck", "em-hvac-terminal", "energy-counter-stuck", NULL },
    { 5, "flue_fouling", "boiler-1", "flue-temp-high", NULL },
    { 6, "chw_drift", "chiller-1", "chw-supply-high", NULL },
    { 8, "low_delta_t", "chiller-1", "chw-delta-t-low", NULL },
    { 9, "short_cycling", "boiler-1", "short-cycling", NULL },
    { 10, "spike", "chiller-1", "chw-supply-spike", NULL },
    { 11, "no_flow", "chwp-1", "no-flow", NULL },
};
#define N_EXPECTED (sizeof expected / sizeof *expected)
#define N_FAULTS 12
#define ROLLOVER 7                        /* the fault that must raise nothing */

/* An alarm raised by a fault holds at most this long after the fault's
 * end (short-cycling: the starts of the last hour, then a half-hour
 * off-delay). */
#define MAX_CLEAR_S (2.0 * 3600.0)
/* The longest on-delay of the defaults raised here (energy-counter-stuck's
 * hour), plus the samples before the condition shows (the first delta of
 * a frozen counter still has what it rose by before) and the sample that
 * completes the delay. */
#define MAX_RAISE_S (3600.0 + 4 * SAMPLE_S)

struct fault_time {
    char device[64], type[32];
    double start_s, end_s;     /* simulated seconds since the start; end = start if instant */
};

/* START in seconds since the epoch: the site (Asia/Shanghai) keeps UTC+8. */
static double start_epoch_s(void)
{
    struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 4 - 1, .tm_mday = 7 };
    return (double)timegm(&tm) - 8 * 3600.0;
}

static double speed(void)
{
    const char *env = getenv("GW_FAULTS_SPEED");
    double s = env ? atof(env) : 600.0;
    return s >= 60.0 && s <= 1200.0 ? s : 600.0;
}

/* ---- the script ---------------------------------------------------------- */

static int read_script(struct fault_time *out, int n)
{
    config_t cfg;
    config_init(&cfg);
    int count = -1;
    if (!config_read_file(&cfg, FAULTS_FILE)) {
        fprintf(stderr, "%s:%d: %s\n", FAULTS_FILE, config_error_line(&cfg), config_error_text(&cfg));
        goto out;
    }
    const config_setting_t *list = config_lookup(&cfg, "faults");
    count = list ? config_setting_length(list) : 0;
    for (int i = 0; i < count && i < n; i++) {
        const config_setting_t *f = config_setting_get_elem(list, (unsigned)i);
        const char *device = "", *type = "";
        double after = 0, dur = 0;
        int v;
        config_setting_lookup_string(f, "device", &device);
        config_setting_lookup_string(f, "type", &type);
        if (!config_setting_lookup_float(f, "after_s", &after) && config_setting_lookup_int(f, "after_s", &v))
            after = v;
        if (!config_setting_lookup_float(f, "for_s", &dur) && config_setting_lookup_int(f, "for_s", &v))
            dur = v;
        snprintf(out[i].device, sizeof out[i].device, "%s", device);
        snprintf(out[i].type, sizeof out[i].type, "%s", type);
        out[i].start_s = after;
        out[i].end_s = after + dur;
    }
out:
    config_destroy(&cfg);
    return count;
}

/* ---- configurations from the demo's ----------------------------------------- */

static config_setting_t *replace(config_setting_t *group, const char *name, int type)
{
    if (config_setting_get_member(group, name))
        config_setting_remove(group, name);
    return config_setting_add(group, name, type);
}

static void set_string(config_setting_t *group, const char *name, const char *value)
{
    config_setting_set_string(replace(group, name, CONFIG_TYPE_STRING), value);
}

static void set_float(config_setting_t *group, const char *name, double value)
{
    config_setting_set_float(replace(group, name, CONFIG_TYPE_FLOAT), value);
}

static void set_int(config_setting_t *group, const char *name, int value)
{
    config_setting_set_int(replace(group, name, CONFIG_TYPE_INT), value);
}

/* A site rule that sets a default's intervals for one device.  (An
 * override of a default the device does not get is no error.) */
static void add_override(config_setting_t *rules, const char *rule, const char *device, int intervals)
{
    config_setting_t *r = config_setting_add(rules, NULL, CONFIG_TYPE_GROUP);
    set_string(r, "id", rule);
    set_string(r, "device", device);
    set_int(r, "intervals", intervals);
}

/*
 * config/demo.conf with: its site, buses (on the given loopback ports,
 * with their timeouts, no pacing between requests) and devices (every one polled every
 * `interval` wall seconds), kinds and params; the daemon's directories in
 * the test's; MQTT to the broker; the silence defaults of each device
 * set for accelerated time (see the top of this file).
 */
static int write_daemon_config(const char *path, const int ports[3], int mqtt_port, double interval)
{
    config_t cfg;
    config_init(&cfg);
    int rc = -EINVAL;
    char text[128];
    if (!config_read_file(&cfg, GW_SOURCE_DIR "/config/demo.conf"))
        goto out;
    config_setting_t *root = config_root_setting(&cfg);
    config_setting_t *daemon = config_lookup(&cfg, "daemon");
    set_string(daemon, "plugin_dir", GW_TEST_PLUGIN_DIR);
    set_string(daemon, "profile_dir", GW_SOURCE_DIR "/config/profiles");
    set_string(daemon, "spool_dir", "spool");
    set_string(daemon, "state_file", "alarms.json");
    config_setting_t *mqtt = replace(root, "mqtt", CONFIG_TYPE_GROUP);
    snprintf(text, sizeof text, "tcp://127.0.0.1:%d", mqtt_port);
    set_string(mqtt, "uri", text);
    set_string(mqtt, "client_id", "faults-daemon");
    set_int(mqtt, "qos", 1);
    config_setting_t *buses = config_lookup(&cfg, "buses");
    if (!buses || config_setting_length(buses) != 3)
        goto out;
    for (int i = 0; i < 3; i++) {
        config_setting_t *bus = config_setting_get_elem(buses, (unsigned)i);
        snprintf(text, sizeof text, "127.0.0.1:%d", ports[i]);
        set_string(bus, "tcp", text);
        if (config_setting_get_member(bus, "delay_between_requests_ms"))
            config_setting_remove(bus, "delay_between_requests_ms");
    }
    config_setting_t *devices = config_lookup(&cfg, "devices");
    config_setting_t *rules = replace(root, "rules", CONFIG_TYPE_LIST);
    for (int i = 0; devices && i < config_setting_length(devices); i++) {
        config_setting_t *dev = config_setting_get_elem(devices, (unsigned)i);
        const char *id = NULL, *kind = NULL;
        config_setting_lookup_string(dev, "id", &id);
        config_setting_lookup_string(dev, "kind", &kind);
        set_float(dev, "interval_s", interval);
        if (!id || !kind || strcmp(kind, "generic") == 0)
            continue;  /* generic devices have no default rules */
        add_override(rules, "comm-loss", id, 15);
        if (strcmp(kind, "meter") == 0) {
            add_override(rules, "energy-stale", id, 1200);
            add_override(rules, "volume-stale", id, 1200);
        }
    }
    rc = config_write_file(&cfg, path) ? 0 : -EIO;
out:
    if (rc)
        fprintf(stderr, "demo.conf: %s (line %d)\n", config_error_text(&cfg) ? config_error_text(&cfg) : "unexpected",
                config_error_line(&cfg));
    config_destroy(&cfg);
    return rc;
}

/* config/demo-sim.conf, serving the daemon configuration above, from the
 * script's day at `speed`, with the fault script. */
static int write_sim_config(const char *path, const char *daemon_config, const char *sock, double x)
{
    config_t cfg;
    config_init(&cfg);
    int rc = -EINVAL;
    if (!config_read_file(&cfg, GW_SOURCE_DIR "/config/demo-sim.conf"))
        goto out;
    config_setting_t *root = config_root_setting(&cfg);
    set_string(root, "daemon_config", daemon_config);
    config_setting_t *sim = config_lookup(&cfg, "sim");
    set_float(sim, "speed", x);
    set_string(sim, "start", START);
    set_string(sim, "control", sock);
    set_string(sim, "scenario", FAULTS_FILE);
    if (config_setting_get_member(sim, "truth"))
        config_setting_remove(sim, "truth");
    rc = config_write_file(&cfg, path) ? 0 : -EIO;
out:
    config_destroy(&cfg);
    return rc;
}

/* ---- the simulator ------------------------------------------------------------ */

struct sim {
    pid_t pid;
    char log[512], sock[512];
};

/* Starts it on three free loopback ports (taken again if one was lost to
 * another program meanwhile); the daemon's configuration follows them. */
static int sim_start(struct sim *s, const char *daemon_config, int mqtt_port, double x)
{
    char path[512];
    temp_path(s->sock, sizeof s->sock, "faults-sim.sock");
    temp_path(path, sizeof path, "faults-sim.conf");
    for (int attempt = 0; attempt < 3; attempt++) {
        int ports[3] = { broker_free_port(), broker_free_port(), broker_free_port() };
        char name[64];
        snprintf(name, sizeof name, "faults-sim-%d.log", attempt);
        temp_path(s->log, sizeof s->log, name);
        if (ports[0] < 0 || ports[1] < 0 || ports[2] < 0 || ports[0] == ports[1] || ports[1] == ports[2] ||
            ports[0] == ports[2])
            continue;
        if (write_daemon_config(daemon_config, ports, mqtt_port, SAMPLE_S / x) < 0 ||
            write_sim_config(path, daemon_config, s->sock, x) < 0 ||
            spawn_process_logged(ARGS(GW_SIM_BINARY, "-c", path), s->log, &s->pid) < 0)
            return -1;
        if (wait_file_contains(s->log, "READY", WAIT_MS) == 0)
            return 0;
        stop_process(s->pid, NULL);
        s->pid = 0;
    }
    return -1;
}

/* The simulated time from the control socket (NAN if no answer). */
static double sim_time(const struct sim *s)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char reply[256];
    double t = NAN;
    ssize_t len = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || strlen(s->sock) >= sizeof sa.sun_path)
        goto out;
    memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, "status\n", 7) != 7)
        goto out;
    shutdown(fd, SHUT_WR);
    for (ssize_t r; len + 1 < (ssize_t)sizeof reply && (r = read(fd, reply + len, sizeof reply - 1 - (size_t)len)) > 0;)
        len += r;
    reply[len] = '\0';
    const char *ok = strstr(reply, "OK sim_s=");
    if (ok)
        t = strtod(ok + 9, NULL);
out:
    if (fd >= 0)
        close(fd);
    return t;
}

static void pause_ms(long ms)
{
    /* Waiting for simulated time to pass: nothing to read meanwhile. */
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* ---- what the subscriber saw ------------------------------------------------------ */

struct event {
    char device[64], rule[64], state[32], from[32];
    double t_s;                /* the event's time, simulated seconds since the start */
};

static int collect(struct sub *s, double t0, struct event **out)
{
    size_t n = sub_count(s);
    struct event *ev = calloc(n ? n : 1, sizeof *ev);
    int k = 0;
    for (size_t i = 0; ev && i < n; i++) {
        struct sub_msg m = sub_get(s, i);
        if (strcmp(m.topic, EVENT_TOPIC) != 0)
            continue;
        cJSON *j = cJSON_Parse(m.payload);
        const char *dev = cJSON_GetStringValue(cJSON_GetObjectItem(j, "device"));
        const char *rule = cJSON_GetStringValue(cJSON_GetObjectItem(j, "rule"));
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItem(j, "from_state"));
        const cJSON *ts = cJSON_GetObjectItem(j, "ts");
        if (dev && rule && state && from && cJSON_IsNumber(ts)) {
            snprintf(ev[k].device, sizeof ev[k].device, "%s", dev);
            snprintf(ev[k].rule, sizeof ev[k].rule, "%s", rule);
            snprintf(ev[k].state, sizeof ev[k].state, "%s", state);
            snprintf(ev[k].from, sizeof ev[k].from, "%s", from);
            ev[k].t_s = ts->valuedouble / 1000.0 - t0;
            k++;
        }
        cJSON_Delete(j);
    }
    *out = ev;
    return k;
}

static bool is_raise(const struct event *e)
{
    return strcmp(e->state, "active-unacknowledged") == 0 && strcmp(e->from, "normal") == 0;
}

static bool is_clear(const struct event *e)
{
    return strcmp(e->state, "returned-unacknowledged") == 0 || strcmp(e->state, "normal") == 0;
}

static const char *clock_of(double t_s, char *buf, size_t n)
{
    int m = (int)floor(t_s / 60.0);
    snprintf(buf, n, "%02d:%02d", m / 60, m % 60);
    return buf;
}

static void print_events(const struct event *ev, int n)
{
    char at[16];
    fprintf(stderr, "--- alarm events (local time of the simulated day) ---\n");
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s %s/%s: %s -> %s\n", clock_of(ev[i].t_s, at, sizeof at), ev[i].device, ev[i].rule,
                ev[i].from, ev[i].state);
}

/* The expected alarm's events: one raise within its fault (or an on-delay
 * after its start), one clear after the fault's end, nothing else. */
static bool check_expected(const struct expected *x, const struct fault_time *f, const struct event *ev, int n)
{
    int raises = 0, clears = 0, others = 0;
    double raised = NAN, cleared = NAN;
    for (int i = 0; i < n; i++) {
        if (strcmp(ev[i].device, x->device) != 0 || strcmp(ev[i].rule, x->rule) != 0)
            continue;
        if (is_raise(&ev[i]) && raises++ == 0)
            raised = ev[i].t_s;
        else if (is_clear(&ev[i]) && clears++ == 0)
            cleared = ev[i].t_s;
        else if (!is_raise(&ev[i]) && !is_clear(&ev[i]))
            others++;
    }
    /* A comm_loss alarm is stamped on the device's clock as of its last
     * good sample, plus the wall-clock seconds since: a sample or two
     * before the fault's start (polls of a bus with a silent device wait
     * for its timeouts). */
    double earliest = strcmp(x->rule, "comm-loss") == 0 ? f->start_s - 3 * SAMPLE_S : f->start_s;
    bool instant = f->end_s <= f->start_s;
    bool raised_ok = raises == 1 && raised >= earliest &&
                     raised <= (instant ? f->start_s + 5 * SAMPLE_S : f->start_s + MAX_RAISE_S) &&
                     (instant || raised <= f->end_s + SAMPLE_S);
    /* An alarm that follows from another device's fault (x->why) follows
     * that device's load, which may fall before the fault ends. */
    bool cleared_ok = clears == 1 && cleared > raised && (x->why || cleared >= f->end_s) &&
                      cleared <= f->end_s + (instant ? 5 * SAMPLE_S : MAX_CLEAR_S);
    char a[16], b[16], c[16], d[16];
    const char *verdict = !raised_ok ? "  NOT RAISED AS EXPECTED" : !cleared_ok ? "  NOT CLEARED AS EXPECTED"
                          : others ? "  OTHER TRANSITIONS" : "";
    fprintf(stderr, "%-18s %-24s fault %s-%s: raised %d at %s, cleared %d at %s%s%s%s\n", x->device, x->rule,
            clock_of(f->start_s, a, sizeof a), clock_of(f->end_s, b, sizeof b), raises,
            raises ? clock_of(raised, c, sizeof c) : "-", clears, clears ? clock_of(cleared, d, sizeof d) : "-",
            x->why ? "; also expected: " : "", x->why ? x->why : "", verdict);
    return raised_ok && cleared_ok && others == 0;
}

static bool expected_alarm(const char *device, const char *rule)
{
    for (size_t i = 0; i < N_EXPECTED; i++)
        if (strcmp(expected[i].device, device) == 0 && strcmp(expected[i].rule, rule) == 0)
            return true;
    return false;
}

/* A file's text (malloc'd; "" if it cannot be read). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        text = malloc(1 << 20);
        len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
    }
    if (!text)
        return strdup("");
    text[len] = '\0';
    return text;
}

/* Sanitizer reports in a program's stderr fail the test. */
static void check_clean(const char *what, const char *err)
{
    bool clean = err && !strstr(err, "Sanitizer") && !strstr(err, "runtime error");
    if (!clean)
        fprintf(stderr, "--- %s ---\n%s", what, err ? err : "");
    CU_ASSERT(clean);
}

/* ---- the test ------------------------------------------------------------------------- */

static void test_fault_script(void)
{
    struct broker broker = { 0 };
    struct sub sub = { 0 };
    struct sim sim = { 0 };
    struct proc daemon = { 0 };
    struct event *ev = NULL;
    struct fault_time faults[N_FAULTS + 1];
    char config[512];
    double x = speed(), t0 = NAN;
    long long began = mono_ms();

    /* The script is the one this test knows. */
    REQUIRE(read_script(faults, N_FAULTS + 1) == N_FAULTS, out);
    for (size_t i = 0; i < N_EXPECTED; i++) {
        const struct fault_time *f = &faults[expected[i].fault];
        bool same = strcmp(f->type, expected[i].fault_type) == 0 &&
                    (expected[i].why || strcmp(f->device, expected[i].device) == 0);
        if (!same)
            fprintf(stderr, "fault %d of the script is %s on %s\n", expected[i].fault, f->type, f->device);
        CU_ASSERT(same);
    }
    CU_ASSERT_STRING_EQUAL(faults[ROLLOVER].type, "counter_rollover");

    REQUIRE(broker_start(&broker, NULL) == 0, out);
    REQUIRE(sub_start(&sub, broker.port, "faults-subscriber", EVENT_TOPIC, true, NULL, NULL) == 0, out);
    temp_path(config, sizeof config, "faults-daemon.conf");
    REQUIRE(sim_start(&sim, config, broker.port, x) == 0, out);
    t0 = start_epoch_s();
    REQUIRE(greenwatchd_start(&daemon, config) == 0, out);

    /* Until the simulated day reaches END_S (and the daemon has seen it). */
    long long deadline = mono_ms() + (long long)(END_S / x * 1000.0) + 2 * WAIT_MS;
    double now = NAN;
    while (mono_ms() < deadline && !((now = sim_time(&sim)) - t0 >= END_S))
        pause_ms(500);
    REQUIRE(now - t0 >= END_S, out);
    pause_ms((long)(4 * SAMPLE_S / x * 1000.0));   /* the last samples through the broker */
    fprintf(stderr, "\nthe simulated day to %02.0f:%02.0f took %.1f s (speed %g)\n", floor(END_S / 3600),
            fmod(END_S, 3600) / 60, (double)(mono_ms() - began) / 1000.0, x);

    int n = collect(&sub, t0, &ev);
    bool all = true;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        bool ok = check_expected(&expected[i], &faults[expected[i].fault], ev, n);
        CU_ASSERT(ok);
        all &= ok;
    }
    int unexpected = 0;
    for (int i = 0; i < n; i++)
        if (!expected_alarm(ev[i].device, ev[i].rule)) {
            char at[16];
            fprintf(stderr, "unexpected: %s %s/%s -> %s\n", clock_of(ev[i].t_s, at, sizeof at), ev[i].device,
                    ev[i].rule, ev[i].state);
            unexpected++;
        }
    CU_ASSERT_EQUAL(unexpected, 0);
    int status = -1;
    CU_ASSERT_EQUAL(proc_stop(&daemon, &status), 0);
    char *err = proc_stderr(&daemon);
    check_clean("the daemon", err);
    if (!all || unexpected) {
        print_events(ev, n);
        fprintf(stderr, "--- the daemon's log ---\n%s", err ? err : "");
    }
    free(err);
    status = -1;
    CU_ASSERT_EQUAL(stop_process(sim.pid, &status), 0);
    sim.pid = 0;
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *log = read_text(sim.log);
    check_clean("the simulator", log);
    free(log);
out:
    free(ev);
    proc_stop(&daemon, NULL);
    sub_stop(&sub);
    broker_stop(&broker);
    if (sim.pid > 0)
        stop_process(sim.pid, NULL);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "the demo building's fault script: one alarm per fault, each clears", test_fault_script },
    };
    return itest_main("faults", cases, sizeof cases / sizeof *cases);
}
