/*
 * The simulator's devices read through their shipped profiles match what
 * the simulator says it served.  greenwatch-sim encodes values on its own
 * and records them in its truth file; `greenwatch read --json` decodes
 * them through the daemon's profiles and decoder.  A disagreement means a
 * profile, the decoder or the simulator's encoder is wrong.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"
#include "profile.h"

#define WAIT_MS 20000   /* ASan is slow to start */

static const struct {
    const char *id, *profile, *sim_role;
} devices[] = {
    { "em-main", "generic-meter-main", "role = \"meter\"; feed = \"main\";" },
    { "em-lighting", "generic-submeter", "role = \"meter\"; feed = \"lighting\";" },
    { "chiller-1", "generic-chiller", "role = \"chiller\"; number = 1;" },
    { "chwp-1", "generic-pump", "role = \"pump\"; loop = \"chw\"; number = 1;" },
    { "ct-fan-1", "generic-vfd", "role = \"fan\";" },
    { "boiler-1", "generic-boiler", "role = \"boiler\";" },
    { "wm-main", "generic-water-meter", "role = \"water\"; feed = \"main\";" },
    { "gm-main", "generic-gas-meter", "role = \"gas\";" },
    { "weather", "generic-weather", "role = \"weather\";" },
};
#define N_DEVICES (sizeof devices / sizeof *devices)

static char truth_path[512], config_path[512];
static pid_t sim_pid;

/* Start the simulator with every generic profile on one ephemeral port at
 * a working-day hour (the plant runs) and write the matching daemon
 * configuration.  Returns 0 or -1. */
static int start(void)
{
    char sim_conf[4096], daemon_conf[4096], log[512], sock[512], path[512];
    int len = snprintf(sim_conf, sizeof sim_conf,
                       "profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
                       "sim = { seed = 11; start = \"2026-07-15 10:00\"; timezone = \"Asia/Shanghai\";\n"
                       "        control = \"%s\"; truth = \"%s\"; };\n"
                       "buses = ( { id = \"b\"; tcp = \"127.0.0.1:0\"; } );\ndevices = (\n",
                       (temp_path(sock, sizeof sock, "truth-sim.sock"), sock),
                       (temp_path(truth_path, sizeof truth_path, "truth.jsonl"), truth_path));
    for (size_t i = 0; i < N_DEVICES; i++)
        len += snprintf(sim_conf + len, sizeof sim_conf - (size_t)len,
                        "  { id = \"%s\"; bus = \"b\"; unit = %zu; profile = \"%s\"; %s }%s\n",
                        devices[i].id, i + 1, devices[i].profile, devices[i].sim_role,
                        i + 1 < N_DEVICES ? "," : "");
    snprintf(sim_conf + len, sizeof sim_conf - (size_t)len, ");\n");
    temp_path(log, sizeof log, "truth-sim.log");
    if (write_temp_file_named("truth-sim.conf", sim_conf, path, sizeof path) < 0 ||
        spawn_process_logged(ARGS(GW_SIM_BINARY, "-c", path), log, &sim_pid) < 0 ||
        wait_file_contains(log, "READY", WAIT_MS) < 0)
        return -1;
    int port = 0;
    char line[256], id[64];
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "LISTEN %63s 127.0.0.1:%d", id, &port) == 2)
            break;
    if (f)
        fclose(f);
    len = snprintf(daemon_conf, sizeof daemon_conf,
                   "site = { id = \"truth\"; };\n"
                   "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; profile_dir = \"" GW_SOURCE_DIR "/config/profiles\";\n"
    "           state_file = \"alarms.json\"; spool_dir = \"spool\"; };\n"
                   "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 3000; } );\ndevices = (\n", port);
    for (size_t i = 0; i < N_DEVICES; i++)
        len += snprintf(daemon_conf + len, sizeof daemon_conf - (size_t)len,
                        "  { id = \"%s\"; bus = \"b\"; unit = %zu; profile = \"%s\"; }%s\n", devices[i].id,
                        i + 1, devices[i].profile, i + 1 < N_DEVICES ? "," : "");
    snprintf(daemon_conf + len, sizeof daemon_conf - (size_t)len, ");\n");
    return port > 0 && write_temp_file(config_path, sizeof config_path, daemon_conf) == 0 ? 0 : -1;
}

/* The last value the simulator served for device's point, from the truth
 * file: a number, a string, or NULL (the caller deletes *doc). */
static const cJSON *served_now(const char *device, const char *point, cJSON **doc)
{
    *doc = NULL;
    FILE *f = fopen(truth_path, "r");
    static char line[65536];
    while (f && fgets(line, sizeof line, f)) {
        cJSON *rec = cJSON_Parse(line);
        const cJSON *dev = cJSON_GetObjectItem(rec, "device");
        const cJSON *value = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "points"), point);
        if (cJSON_IsString(dev) && strcmp(dev->valuestring, device) == 0 && value) {
            cJSON_Delete(*doc);
            *doc = rec;
        } else {
            cJSON_Delete(rec);
        }
    }
    if (f)
        fclose(f);
    return *doc ? cJSON_GetObjectItem(cJSON_GetObjectItem(*doc, "points"), point) : NULL;
}

/* As served_now, allowing the simulator its flush of the truth file (it
 * flushes between rounds of its event loop, at least every 100 ms). */
static const cJSON *served(const char *device, const char *point, cJSON **doc)
{
    long long deadline = mono_ms() + 2000;
    const cJSON *value;
    while (!(value = served_now(device, point, doc)) && mono_ms() < deadline)
        nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000L }, NULL);  /* re-read: a bounded retry */
    return value;
}

/* Register quantisation (half a scale step) and float32 precision; a
 * counter is compared within its register's wrap. */
static bool agrees(const struct gw_point_def *p, double decoded, double truth)
{
    bool integer = p->type >= GW_TYPE_UINT16 && p->type <= GW_TYPE_INT64;
    if (p->counter && integer) {
        double wrap = ldexp(1.0, 16 * point_type_registers(p->type)) * fabs(p->scale);
        truth = fmod(truth, wrap);
    }
    double tolerance = (integer ? fabs(p->scale) / 2 : 0) + 1e-6 * fmax(1.0, fabs(truth));
    return fabs(decoded - truth) <= tolerance;
}

/* Read device once and compare every good point with the truth.  Returns
 * the number of points compared. */
static int check_device(size_t i)
{
    struct gw_profile prof = { 0 };
    struct gw_diag diag = { 0 };
    char path[512];
    snprintf(path, sizeof path, GW_SOURCE_DIR "/config/profiles/%s.conf", devices[i].profile);
    CU_ASSERT_EQUAL_FATAL(profile_load_file(path, &prof, &diag), 0);
    char *out = NULL;
    int status = -1, compared = 0;
    char *err = NULL;
    int rc = run_capture(ARGS(GREENWATCH, "read", "-c", config_path, devices[i].id, "--json"), &out, &err, 60, &status);
    if (rc != 0 || status != 0)
        fprintf(stderr, "greenwatch read %s: %s", devices[i].id, err ? err : "");
    free(err);
    cJSON *reading = rc == 0 && status == 0 ? cJSON_Parse(out) : NULL;
    CU_ASSERT_PTR_NOT_NULL(reading);
    const cJSON *points = cJSON_GetObjectItem(reading, "points");
    for (const cJSON *p = points ? points->child : NULL; p; p = p->next) {
        int k = profile_find_point(&prof, p->string);
        CU_ASSERT(k >= 0);
        cJSON *doc = NULL;
        const cJSON *truth = k >= 0 ? served(devices[i].id, p->string, &doc) : NULL;
        if (!truth && cJSON_IsString(p))
            continue;  /* the truth file records numbers; a model name is not one */
        if (!truth)
            fprintf(stderr, "%s.%s: not in the truth file\n", devices[i].id, p->string);
        CU_ASSERT_PTR_NOT_NULL(truth);
        bool ok = truth && (cJSON_IsString(p) ? cJSON_IsString(truth) && strcmp(p->valuestring, truth->valuestring) == 0
                                              : cJSON_IsNumber(truth) && agrees(&prof.points[k], p->valuedouble, truth->valuedouble));
        if (truth && !ok)
            fprintf(stderr, "%s.%s: read %s, served %s\n", devices[i].id, p->string, cJSON_PrintUnformatted(p),
                    cJSON_PrintUnformatted(truth));
        CU_ASSERT(ok);
        compared++;
        cJSON_Delete(doc);
    }
    cJSON_Delete(reading);
    free(out);
    profile_free(&prof);
    diag_free(&diag);
    return compared;
}

static void test_profiles_match_truth(void)
{
    REQUIRE(start() == 0, out);
    for (size_t i = 0; i < N_DEVICES; i++) {
        int compared = check_device(i);
        CU_ASSERT(compared >= 3);  /* a device read with almost nothing good would prove little */
    }
out:
    if (sim_pid > 0)
        stop_process(sim_pid, NULL);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "every generic profile decodes what the simulator served", test_profiles_match_truth },
    };
    return itest_main("simulator truth", cases, sizeof cases / sizeof *cases);
}
