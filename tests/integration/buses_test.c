/*
 * Several buses in one daemon: a dead bus delays only itself, the healthy
 * bus keeps a drift-free schedule, SIGTERM stops promptly with complete
 * output, and SIGHUP reloads (a broken configuration is refused and the
 * running one continues, as it does when the new one cannot start; a
 * valid one takes over).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

#define INTERVAL_MS 200
/* A poll waiting on a dead bus would be a 1 s timeout late; a loaded
 * machine (a parallel build, the sanitizers) makes a healthy one up to
 * some tens of ms late. */
#define LATE_MAX_MS 150
#define SAMPLE_WAIT_MS 5000

static const char *const one_point[] = { "kw", NULL };

/* A device on bus with one holding register "kw" at address 0. */
#define DEVICE(id, bus, unit)                                                   \
    "{ id = \"" id "\"; bus = \"" bus "\"; unit = " #unit "; interval_s = 0.2;\n" \
    "  points = ( { name = \"kw\"; table = \"holding\"; address = 0; unit = \"kW\"; } ); }"

/* A port on 127.0.0.1 where nothing listens: a device's, once stopped. */
static int closed_port(void)
{
    struct testdev dev;
    if (testdev_start(&dev, NULL) < 0)
        return -1;
    int port = dev.port;
    return testdev_stop(&dev) == 0 ? port : -1;
}

static bool value_is(const cJSON *s, double want)
{
    double v = -1;
    return reading_value(s, "kw", &v) && v == want;
}

static void test_dead_buses_do_not_delay_a_healthy_one(void)
{
    enum { SAMPLES = 21 };   /* 20 intervals */
    struct testdev live = { 0 }, silent = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    char cfg[512];
    long long ts[SAMPLES];
    int n_live = 0, n_silent = 0, n_gone = 0, status = -1;
    int port = closed_port();

    REQUIRE(port > 0, out);
    /* Each poll of the healthy device takes 30 ms: a schedule that counted
     * intervals from the end of a poll would drift off the grid. */
    REQUIRE(testdev_start(&live, ARGS("--set", "holding:0=42", "--delay-ms", "30")) == 0, out);
    REQUIRE(testdev_start(&silent, ARGS("--silent-unit", "1")) == 0, out);
    REQUIRE(write_config(cfg, sizeof(cfg),
                         CONFIG_HEAD
                         "buses = ( { id = \"dead\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 1000; },\n"
                         "  { id = \"gone\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 1000; },\n"
                         "  { id = \"live\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 1000; } );\n"
                         "devices = ( " DEVICE("silent", "dead", 1) ",\n"
                         DEVICE("gone", "gone", 1) ",\n" DEVICE("live", "live", 1) " );\n",
                         silent.port, port, live.port) == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    while (n_live < SAMPLES) {
        cJSON *s = greenwatchd_next_sample(&d, NULL, SAMPLE_WAIT_MS);
        REQUIRE(s != NULL, out);
        const char *dev = reading_device(s);
        if (strcmp(dev, "live") == 0) {
            CU_ASSERT(value_is(s, 42));
            ts[n_live++] = reading_ts(s);
        } else {
            /* Nothing answers there: every sample says so, none is missing. */
            CU_ASSERT(reading_all_bad(s, one_point));
            *(strcmp(dev, "silent") == 0 ? &n_silent : &n_gone) += 1;
        }
        cJSON_Delete(s);
    }
    CU_ASSERT(n_silent >= 2);
    CU_ASSERT(n_gone >= 2);
    /* On the grid: ts[k] = origin + k intervals, up to LATE_MAX_MS late,
     * so no poll was skipped and lateness did not accumulate.  A poll is
     * never early, so the least late sample gives the grid's origin. */
    long long origin = ts[0];
    for (int k = 1; k < SAMPLES; k++)
        if (ts[k] - (long long)k * INTERVAL_MS < origin)
            origin = ts[k] - (long long)k * INTERVAL_MS;
    for (int k = 0; k < SAMPLES; k++) {
        long long gap = k ? ts[k] - ts[k - 1] : INTERVAL_MS;
        long long late = ts[k] - origin - (long long)k * INTERVAL_MS;
        if (gap <= 0 || gap > 2 * INTERVAL_MS || late > LATE_MAX_MS)
            fprintf(stderr, "sample %d: %lld ms after the previous, %lld ms off the grid\n", k,
                    gap, late);
        CU_ASSERT(gap > 0 && gap <= 2 * INTERVAL_MS);
        CU_ASSERT(late <= LATE_MAX_MS);
    }

    /* SIGTERM: the silent bus may be inside a 1 s timeout; the daemon
     * ends that read and exits 0, its output complete. */
    long long asked = mono_ms();
    CU_ASSERT_EQUAL(proc_kill(&d, SIGTERM), 0);
    for (cJSON *s; (s = greenwatchd_next_sample(&d, NULL, 10000)); cJSON_Delete(s))
        ;
    char line[64];
    CU_ASSERT_EQUAL(proc_read_line(&d, 10000, line, sizeof(line)), -EPIPE);
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    long long took = mono_ms() - asked;
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (took >= 3000)
        fprintf(stderr, "SIGTERM took %lld ms\n", took);
    CU_ASSERT(took < 3000);
out:
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&live), 0);
    CU_ASSERT_EQUAL(testdev_stop(&silent), 0);
}

/* Reads samples until one of want arrives; fails on a sample of never. */
static bool await_device(struct proc *d, const char *want, const char *never, double value)
{
    long long deadline = mono_ms() + SAMPLE_WAIT_MS;
    while (mono_ms() < deadline) {
        cJSON *s = greenwatchd_next_sample(d, NULL, (int)(deadline - mono_ms()));
        if (!s)
            return false;
        const char *dev = reading_device(s);
        if (never && strcmp(dev, never) == 0) {
            fprintf(stderr, "a sample of '%s', which is no longer configured\n", never);
            CU_FAIL("a removed device is still polled");
        }
        bool found = strcmp(dev, want) == 0;
        if (found)
            CU_ASSERT(value_is(s, value));
        cJSON_Delete(s);
        if (found)
            return true;
    }
    return false;
}

static const char valid_v1[] =
    CONFIG_HEAD
    "buses = ( { id = \"live\"; tcp = \"127.0.0.1:%d\"; } );\n"
    "devices = ( " DEVICE("main", "live", 1) ",\n"
    DEVICE("old", "live", 2) " );\n";

/* Four problems, each on a line of its own. */
static const char broken[] =
    CONFIG_HEAD
    "buses = ( { id = \"live\"; tcp = \"127.0.0.1:%d\"; } );\n"
    "devices = (\n"
    "  { id = \"main\"; bus = \"live\"; unit = 1; interval_s = 0.2;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"typo\"; bus = \"live\"; unit = 5; intervall_s = 0.2;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"lost\"; bus = \"nowhere\"; unit = 6;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"main\"; bus = \"live\"; unit = 7;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"odd\"; bus = \"live\"; unit = 300;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); } );\n";

/* Valid, but its one device's plugin refuses it at start. */
static const char refused[] =
    "site = { id = \"itest\"; };\n"
    "daemon = { plugin_dir = \"" GW_ITEST_PLUGIN_DIR "\"; state_file = \"alarms.json\"; spool_dir = \"spool\"; };\n"
    "buses = ( { id = \"live\"; tcp = \"127.0.0.1:%d\"; } );\n"
    "devices = ( { id = \"main\"; bus = \"live\"; unit = 1; kind = \"refuse\";\n"
    "  points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); } );\n";

static const char valid_v2[] =
    CONFIG_HEAD
    "buses = ( { id = \"live\"; tcp = \"127.0.0.1:%d\"; } );\n"
    "devices = ( " DEVICE("main", "live", 1) ",\n"
    DEVICE("new", "live", 3) " );\n";

/* Waits for "PATH:LINE:" on the daemon's stderr, LINE that of needle. */
static void await_error_at(struct proc *d, const char *cfg, const char *text, const char *needle)
{
    char at[600];
    int line = line_of(text, needle);
    CU_ASSERT(line > 0);
    snprintf(at, sizeof(at), "%s:%d: ", cfg, line);
    int rc = wait_file_contains(d->err_path, at, SAMPLE_WAIT_MS);
    if (rc != 0)
        fprintf(stderr, "no '%s' on stderr\n", at);
    CU_ASSERT_EQUAL(rc, 0);
}

static void test_sighup_reloads(void)
{
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    char cfg[512];
    char *text = NULL;
    int status = -1;

    /* Every unit id reads holding 0 of the same device: 7. */
    REQUIRE(testdev_start(&dev, ARGS("--set", "holding:0=7")) == 0, out);
    REQUIRE(write_config(cfg, sizeof(cfg), valid_v1, dev.port) == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    /* A first sample: the daemon is running and handles signals. */
    REQUIRE(await_device(&d, "main", NULL, 7), out);
    REQUIRE(await_device(&d, "old", NULL, 7), out);

    /* A broken configuration: every error reported, nothing changes. */
    REQUIRE(asprintf(&text, broken, dev.port) > 0, out);
    REQUIRE(rewrite_config(cfg, broken, dev.port) == 0, out);
    CU_ASSERT_EQUAL(proc_kill(&d, SIGHUP), 0);
    await_error_at(&d, cfg, text, "intervall_s");
    await_error_at(&d, cfg, text, "\"nowhere\"");
    await_error_at(&d, cfg, text, "unit = 7");
    await_error_at(&d, cfg, text, "unit = 300");
    CU_ASSERT_EQUAL(wait_file_contains(d.err_path, "keeping the running one", SAMPLE_WAIT_MS), 0);
    for (int i = 0; i < 3; i++) {
        REQUIRE(await_device(&d, "main", NULL, 7), out);
        REQUIRE(await_device(&d, "old", NULL, 7), out);
    }

    /* A configuration that cannot start is refused the same way. */
    REQUIRE(rewrite_config(cfg, refused, dev.port) == 0, out);
    CU_ASSERT_EQUAL(proc_kill(&d, SIGHUP), 0);
    CU_ASSERT_EQUAL(wait_file_contains(d.err_path, "cannot start", SAMPLE_WAIT_MS), 0);
    for (int i = 0; i < 3; i++) {
        REQUIRE(await_device(&d, "main", NULL, 7), out);
        REQUIRE(await_device(&d, "old", NULL, 7), out);
    }

    /* A valid new configuration takes over: "old" goes, "new" comes. */
    REQUIRE(rewrite_config(cfg, valid_v2, dev.port) == 0, out);
    CU_ASSERT_EQUAL(proc_kill(&d, SIGHUP), 0);
    REQUIRE(await_device(&d, "new", NULL, 7), out);
    for (int i = 0; i < 3; i++) {
        REQUIRE(await_device(&d, "main", "old", 7), out);
        REQUIRE(await_device(&d, "new", "old", 7), out);
    }
    CU_ASSERT_EQUAL(proc_kill(&d, SIGTERM), 0);
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
out:
    free(text);
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "dead buses do not delay a healthy one; SIGTERM", test_dead_buses_do_not_delay_a_healthy_one },
        { "SIGHUP: broken config refused, valid one applied", test_sighup_reloads },
    };
    return itest_main("buses", cases, sizeof(cases) / sizeof(cases[0]));
}
