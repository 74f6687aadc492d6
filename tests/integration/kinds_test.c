/*
 * The kind plugins end to end: greenwatch-sim serves part of the demo
 * building (its shipped generic profiles) on loopback ports of the
 * system's choosing, greenwatchd polls it every second through the meter,
 * chiller, pump and boiler kinds, and what it prints is checked: running
 * chillers report COP and kW per ton, meters report their counters'
 * deltas from the second poll on, a running pump its specific power.
 * Both processes are awaited by what they print and stopped by pid.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

#define SAMPLE_WAIT_MS 20000    /* ASan is slow to start */

/* ---- the simulator --------------------------------------------------- */

struct sim {
    pid_t pid;
    char log[512], sock[512];
    int plant_port, meters_port;
};

static const char sim_conf[] =
    "profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
    "sim = { seed = 5; speed = 1.0; start = \"2026-07-15 10:00\"; timezone = \"Asia/Shanghai\";\n"
    "        control = \"%s\"; };\n"
    "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:0\"; }, { id = \"meters\"; tcp = \"127.0.0.1:0\"; } );\n"
    "devices = (\n"
    "  { id = \"chiller-1\"; bus = \"plant\"; unit = 1; profile = \"generic-chiller\"; role = \"chiller\"; number = 1; },\n"
    "  { id = \"chiller-2\"; bus = \"plant\"; unit = 2; profile = \"generic-chiller\"; role = \"chiller\"; number = 2; },\n"
    "  { id = \"chwp-1\"; bus = \"plant\"; unit = 11; profile = \"generic-pump\"; role = \"pump\"; loop = \"chw\"; number = 1; },\n"
    "  { id = \"boiler-1\"; bus = \"plant\"; unit = 41; profile = \"generic-boiler\"; role = \"boiler\"; },\n"
    "  { id = \"em-main\"; bus = \"meters\"; unit = 1; profile = \"generic-meter-main\"; role = \"meter\"; feed = \"main\"; },\n"
    "  { id = \"em-lighting\"; bus = \"meters\"; unit = 2; profile = \"generic-submeter\"; role = \"meter\"; feed = \"lighting\"; },\n"
    "  { id = \"gm-main\"; bus = \"meters\"; unit = 4; profile = \"generic-gas-meter\"; role = \"gas\"; }\n"
    ");\n";

static int sim_ports(struct sim *s)
{
    FILE *f = fopen(s->log, "r");
    char line[256], id[64];
    int port;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "LISTEN %63s 127.0.0.1:%d", id, &port) == 2) {
            if (strcmp(id, "plant") == 0)
                s->plant_port = port;
            else if (strcmp(id, "meters") == 0)
                s->meters_port = port;
        }
    if (f)
        fclose(f);
    return s->plant_port > 0 && s->meters_port > 0 ? 0 : -ENOENT;
}

static int sim_start(struct sim *s)
{
    char conf[4096], path[512];
    memset(s, 0, sizeof *s);
    temp_path(s->sock, sizeof s->sock, "kinds-sim.sock");
    temp_path(s->log, sizeof s->log, "kinds-sim.log");
    snprintf(conf, sizeof conf, sim_conf, s->sock);
    if (write_temp_file_named("kinds-sim.conf", conf, path, sizeof path) < 0 ||
        spawn_process_logged(ARGS(GW_SIM_BINARY, "-c", path), s->log, &s->pid) < 0)
        return -1;
    if (wait_file_contains(s->log, "READY", SAMPLE_WAIT_MS) < 0 || sim_ports(s) < 0)
        return -1;
    return 0;
}

/* A command on the simulator's control socket, through its own client. */
static int sim_command(const struct sim *s, const char *cmd, const char *arg)
{
    char *out = NULL;
    int status = -1;
    int rc = run_capture(ARGS(GW_SIM_BINARY, "--control", s->sock, cmd, arg), &out, NULL, 30, &status);
    bool ok = rc == 0 && status == 0 && out && strstr(out, "OK");
    free(out);
    return ok ? 0 : -1;
}

/* ---- the daemon's configuration -------------------------------------- */

static const char daemon_conf[] =
    "site = { id = \"kinds\"; timezone = \"Asia/Shanghai\"; };\n"
    "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
    "           state_file = \"alarms.json\"; spool_dir = \"spool\"; };\n"
    "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 2000; },\n"
    "          { id = \"meters\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 2000; } );\n"
    "devices = (\n"
    "  { id = \"chiller-1\"; bus = \"plant\"; unit = 1; kind = \"chiller\"; profile = \"generic-chiller\";\n"
    "    interval_s = 1; params = { rated_kw = 450.0; capacity_kw = 2100.0; }; },\n"
    "  { id = \"chiller-2\"; bus = \"plant\"; unit = 2; kind = \"chiller\"; profile = \"generic-chiller\";\n"
    "    interval_s = 1; params = { rated_kw = 450.0; capacity_kw = 2100.0; }; },\n"
    "  { id = \"chwp-1\"; bus = \"plant\"; unit = 11; kind = \"pump\"; profile = \"generic-pump\";\n"
    "    interval_s = 1; params = { rated_kw = 75.0; }; },\n"
    "  { id = \"boiler-1\"; bus = \"plant\"; unit = 41; kind = \"boiler\"; profile = \"generic-boiler\"; interval_s = 1; },\n"
    "  { id = \"em-main\"; bus = \"meters\"; unit = 1; kind = \"meter\"; profile = \"generic-meter-main\";\n"
    "    interval_s = 1; params = { rated_kw = 3200.0; utc_offset_h = 8.0; }; },\n"
    "  { id = \"em-lighting\"; bus = \"meters\"; unit = 2; kind = \"meter\"; profile = \"generic-submeter\";\n"
    "    interval_s = 1; params = { rated_kw = 1000.0; utc_offset_h = 8.0; }; },\n"
    "  { id = \"gm-main\"; bus = \"meters\"; unit = 4; kind = \"meter\"; profile = \"generic-gas-meter\";\n"
    "    interval_s = 1; params = { max_flow_m3h = 250.0; utc_offset_h = 8.0; }; }\n"
    ");\n";

#define DEVICES 7
static const char *const device_ids[DEVICES] = {
    "chiller-1", "chiller-2", "chwp-1", "boiler-1", "em-main", "em-lighting", "gm-main",
};

/* The first two samples of every device at different times. */
struct samples {
    cJSON *s[DEVICES][2];
    int n[DEVICES];
};

static int device_index(const char *id)
{
    for (int i = 0; i < DEVICES; i++)
        if (strcmp(device_ids[i], id) == 0)
            return i;
    return -1;
}

static bool collect(struct proc *d, struct samples *got)
{
    int complete = 0;
    long long deadline = mono_ms() + 3 * SAMPLE_WAIT_MS;
    while (complete < DEVICES && mono_ms() < deadline) {
        cJSON *s = greenwatchd_next_sample(d, NULL, SAMPLE_WAIT_MS);
        if (!s)
            return false;
        int i = device_index(reading_device(s));
        /* A device clock in whole seconds can read the same second on two
         * polls a second apart; such a sample adds no counter delta, so
         * the second kept is the first from a later second. */
        bool same_second = i >= 0 && got->n[i] == 1 && reading_ts(s) == reading_ts(got->s[i][0]);
        if (i < 0 || got->n[i] == 2 || same_second) {
            cJSON_Delete(s);
            continue;
        }
        got->s[i][got->n[i]++] = s;
        complete += got->n[i] == 2;
    }
    return complete == DEVICES;
}

static const cJSON *sample_of(const struct samples *got, const char *id, int which)
{
    int i = device_index(id);
    return got->n[i] > which ? got->s[i][which] : NULL;
}

static bool near(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ---- checks ------------------------------------------------------------- */

/* A running chiller reports COP = cooling / power, kW per ton and its
 * approaches, those of a clean machine (below the 3 K of the default
 * rules); an idle one none.  At 10:10 on a July workday at least one runs. */
static int check_chiller(const cJSON *s)
{
    double running = 0, power = 0, cooling, cop, kpt, evap, cond;
    bool on = reading_value(s, "running", &running) && running == 1.0 && reading_value(s, "power_kw", &power) &&
              power > 22.5;
    if (!on) {
        CU_ASSERT_FALSE(reading_value(s, "cop", &cop));
        CU_ASSERT_FALSE(reading_value(s, "evap_approach", &evap));
        return 0;
    }
    /* No _FATAL assertions in the checks: one would leave the test
     * without its cleanup (the samples, greenwatchd, the simulator). */
    if (!reading_value(s, "cooling_kw", &cooling)) {
        CU_FAIL("a running chiller without cooling_kw");
        return 1;
    }
    bool has = reading_value(s, "cop", &cop) && reading_value(s, "kw_per_ton", &kpt);
    if (!has)
        fprintf(stderr, "%s: running without cop or kw_per_ton\n", reading_device(s));
    CU_ASSERT(has);
    if (!has)
        return 1;
    CU_ASSERT(near(cop, cooling / power, 1e-9));
    CU_ASSERT(near(kpt, power / (cooling / 3.51685), 1e-9));
    CU_ASSERT(cop > 2.0 && cop < 10.0);
    double plr;
    CU_ASSERT(reading_value(s, "part_load_ratio", &plr) && near(plr, cooling / 2100.0, 1e-9));
    CU_ASSERT(reading_value(s, "evap_approach", &evap) && evap > 0.0 && evap < 3.0);
    CU_ASSERT(reading_value(s, "cond_approach", &cond) && cond > 0.0 && cond < 3.0);
    return 1;
}

/* The first poll has no delta; the second has exactly the counter's
 * step, and no reset. */
static void check_counter(const struct samples *got, const char *id, const char *counter)
{
    char delta[64], reset[64];
    snprintf(delta, sizeof delta, "%s_delta", counter);
    snprintf(reset, sizeof reset, "%s_reset", counter);
    const cJSON *first = sample_of(got, id, 0), *second = sample_of(got, id, 1);
    double v0, v1, d, r;
    CU_ASSERT_FALSE(reading_value(first, delta, &d));
    CU_ASSERT_PTR_NULL(reading_quality(first, delta));
    bool ok = reading_value(first, counter, &v0) && reading_value(second, counter, &v1) &&
              reading_value(second, delta, &d);
    if (!ok)
        fprintf(stderr, "%s: no %s on its second poll (quality %s)\n", id, delta,
                reading_quality(second, delta) ? reading_quality(second, delta) : "-");
    CU_ASSERT(ok);
    if (!ok)
        return;
    CU_ASSERT(d >= 0.0 && fabs(d - (v1 - v0)) < 1e-6);
    CU_ASSERT(reading_value(second, reset, &r) && r == 0.0);
    const char *unit = reading_unit(second, delta), *counter_unit = reading_unit(second, counter);
    CU_ASSERT(unit == counter_unit || (unit && counter_unit && strcmp(unit, counter_unit) == 0));
}

static void check_pump(const cJSON *s)
{
    double running, power, flow, kpm;
    if (!reading_value(s, "running", &running) || running != 1.0)
        return;
    bool have = reading_value(s, "power_kw", &power) && reading_value(s, "flow", &flow);
    CU_ASSERT(have);
    if (!have)
        return;
    CU_ASSERT(reading_value(s, "kw_per_m3h", &kpm) && near(kpm, power / flow, 1e-9));
    double no_flow;
    CU_ASSERT(reading_value(s, "no_flow", &no_flow) && no_flow == 0.0);
}

static void test_demo_kinds(void)
{
    struct sim sim;
    struct proc d = { .pid = 0, .out = -1 };
    struct samples got = { 0 };
    char conf[512];
    REQUIRE(sim_start(&sim) == 0, out);
    /* Ten simulated minutes for the plant to stage its chillers. */
    REQUIRE(sim_command(&sim, "advance", "600") == 0, out);
    REQUIRE(write_config(conf, sizeof conf, daemon_conf, sim.plant_port, sim.meters_port) == 0, out);
    REQUIRE(greenwatchd_start(&d, conf) == 0, out);
    REQUIRE(collect(&d, &got), out);

    int running = check_chiller(sample_of(&got, "chiller-1", 1)) + check_chiller(sample_of(&got, "chiller-2", 1));
    CU_ASSERT(running >= 1);
    check_counter(&got, "em-main", "energy_kwh");
    check_counter(&got, "em-main", "reactive_energy_kvarh");
    check_counter(&got, "em-lighting", "energy_kwh");
    check_counter(&got, "gm-main", "volume_m3");
    check_counter(&got, "chiller-1", "energy_kwh");
    check_counter(&got, "chiller-1", "run_hours");
    check_counter(&got, "chwp-1", "energy_kwh");
    check_counter(&got, "boiler-1", "burner_starts");
    check_pump(sample_of(&got, "chwp-1", 1));
    /* The main meter's own demand register and power factor stand as
     * read; the kind's demand waits for a quarter hour to close. */
    double v;
    const cJSON *main = sample_of(&got, "em-main", 1);
    CU_ASSERT(reading_value(main, "meter_demand_kw", &v) && reading_value(main, "power_factor", &v));
    CU_ASSERT_FALSE(reading_value(main, "demand_kw", &v));
out:
    if (d.pid > 0) {
        char *err = proc_stderr(&d);
        if (CU_get_number_of_failures())
            fprintf(stderr, "greenwatchd stderr:\n%s\n", err);
        free(err);
    }
    proc_stop(&d, NULL);
    if (sim.pid > 0)
        stop_process(sim.pid, NULL);
    for (int i = 0; i < DEVICES; i++)
        for (int k = 0; k < got.n[i]; k++)
            cJSON_Delete(got.s[i][k]);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "demo building through the kinds: COP, kW/ton, deltas", test_demo_kinds },
    };
    return itest_main("kinds", cases, sizeof cases / sizeof cases[0]);
}
