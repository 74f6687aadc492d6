/*
 * The command line contract (DESIGN.md): greenwatchd --check, --version,
 * --once, usage errors; greenwatch read of an unknown or silent device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs argv; returns its exit code (-1 if it did not exit), output in
 * *out and *err (the caller frees). */
static int run(const char *const argv[], char **out, char **err)
{
    int status = 0;
    if (run_capture(argv, out, err, 30, &status) != 0)
        return -1;
    return exit_code(status);
}

/* A port on 127.0.0.1 where nothing listens: a device's, once stopped. */
static int closed_port(void)
{
    struct testdev dev;
    if (testdev_start(&dev, NULL) < 0)
        return -1;
    int port = dev.port;
    return testdev_stop(&dev) == 0 ? port : -1;
}

static const char valid_fmt[] =
    CONFIG_HEAD
    "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 500; },\n"
    "          { id = \"annex\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 500; } );\n"
    "devices = (\n"
    "  { id = \"a\"; bus = \"plant\"; unit = 1;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; unit = \"kW\"; } ); },\n"
    "  { id = \"b\"; bus = \"plant\"; unit = 2;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; unit = \"kW\"; },\n"
    "               { name = \"on\"; table = \"coil\"; address = 1; type = \"bit\"; } ); },\n"
    "  { id = \"c\"; bus = \"annex\"; unit = 1;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); } );\n";

static void test_check_valid(void)
{
    char cfg[512];
    char *out = NULL, *err = NULL;

    REQUIRE(write_config(cfg, sizeof(cfg), valid_fmt, 1502, 1503) == 0, out);
    /* --check does not connect: nothing needs to listen. */
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD, "-c", cfg, "--check"), &out, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "valid"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "2 buses, 3 devices, 4 points"));
    CU_ASSERT_PTR_NULL(strstr(err, "error"));
out:
    free(out);
    free(err);
}

/* Whether err has a line "path:line: ..." that mentions what. */
static bool error_at(const char *err, const char *path, int line, const char *what)
{
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    for (const char *l = err; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (strncmp(l, prefix, strlen(prefix)) != 0)
            continue;
        char *copy = strndup(l, len);
        bool found = copy && strstr(copy, what);
        free(copy);
        if (found)
            return true;
    }
    return false;
}

/* Each problem on a line of its own, found by a needle on that line. */
static const char broken_fmt[] =
    CONFIG_HEAD
    "buses = ( { id = \"b1\"; tcp = \"127.0.0.1:1502\"; timeout_ms = 5; },\n"
    "          { id = \"b1\"; tcp = \"127.0.0.1:1503\"; } );\n"
    "devices = (\n"
    "  { id = \"m1\"; bus = \"b1\"; unit = 1; intervall_s = 2;\n"
    "    points = ( { name = \"a\"; table = \"holding\"; address = 0; type = \"uint32\"; },\n"
    "               { name = \"b\"; table = \"holding\"; address = 1; } ); },\n"
    "  { id = \"m2\"; bus = \"nowhere\"; unit = 2; profile = \"no-such-profile\"; },\n"
    "  { id = \"m1\"; bus = \"b1\"; unit = 3; interval_s = 0;\n"
    "    points = ( { name = \"c\"; table = \"holding\"; address = 65535; type = \"float32\"; } ); },\n"
    "  { id = \"m4\"; bus = \"b1\"; unit = 300;\n"
    "    points = ( { name = \"d\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"m5\"; bus = \"b1\"; unit = 0;\n"
    "    points = ( { name = \"e\"; table = \"holding\"; address = 0; } ); } );\n";

static const struct {
    const char *needle;     /* text on the line at fault */
    const char *what;       /* words of the message */
} broken_errors[] = {
    { "timeout_ms = 5", "timeout_ms" },
    { "127.0.0.1:1503", "defined twice" },
    { "intervall_s", "intervall_s" },
    { "name = \"b\"", "overlaps" },
    { "\"nowhere\"", "unknown bus" },
    { "\"no-such-profile\"", "unknown profile" },
    { "interval_s = 0", "interval_s" },
    { "unit = 3;", "defined twice" },
    { "address = 65535", "65535" },
    { "unit = 300", "unit" },
    { "unit = 0;", "unit 0" },
};

static void test_check_reports_every_error(void)
{
    char cfg[512];
    char *out = NULL, *err = NULL, *check_out = NULL, *check_err = NULL;
    bool all_found = true;

    REQUIRE(write_config(cfg, sizeof(cfg), "%s", broken_fmt) == 0, out);
    int code = run(ARGS(GREENWATCHD, "-c", cfg, "--check"), &out, &err);
    CU_ASSERT(code > 0);
    CU_ASSERT_PTR_NULL(strstr(out, "valid"));
    for (size_t i = 0; i < sizeof(broken_errors) / sizeof(broken_errors[0]); i++) {
        int line = line_of(broken_fmt, broken_errors[i].needle);
        CU_ASSERT(line > 0);
        bool found = error_at(err, cfg, line, broken_errors[i].what);
        if (!found)
            fprintf(stderr, "missing: %s:%d: ...%s...\n", cfg, line, broken_errors[i].what);
        CU_ASSERT(found);
        all_found &= found;
    }
    /* The operator's tool validates the same way. */
    CU_ASSERT(run(ARGS(GREENWATCH, "check", "-c", cfg), &check_out, &check_err) > 0);
    CU_ASSERT_STRING_EQUAL(check_err, err);
out:
    if (!all_found && err)
        fprintf(stderr, "stderr was:\n%s", err);
    free(out);
    free(err);
    free(check_out);
    free(check_err);
}

static void test_usage_and_version(void)
{
    char *out = NULL, *err = NULL;

    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD, "--version"), &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "greenwatchd " GW_VERSION "\n");
    free(out);
    free(err);
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCH, "--version"), &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "greenwatch " GW_VERSION "\n");
    free(out);
    free(err);
    /* No configuration, or two modes at once: usage, exit 2. */
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD), &out, &err), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "usage"));
    free(out);
    free(err);
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD, "-c", "/nonexistent.conf", "--check", "--once"), &out, &err), 2);
    free(out);
    free(err);
    /* A missing file is an error, not a crash. */
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD, "-c", "/nonexistent/gw.conf", "--check"), &out, &err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/gw.conf"));
    free(out);
    free(err);
}

static void test_once_prints_each_device(void)
{
    static const char *const c_points[] = { "kw", NULL };
    struct testdev dev = { 0 };
    char cfg[512];
    char *out = NULL, *err = NULL;
    bool seen[3] = { false, false, false };
    int lines = 0;
    int port = closed_port();

    REQUIRE(port > 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--set", "holding:0=11", "--set", "coil:1=0")) == 0, out);
    REQUIRE(write_config(cfg, sizeof(cfg), valid_fmt, dev.port, port) == 0, out);
    long long started = mono_ms();
    CU_ASSERT_EQUAL(run(ARGS(GREENWATCHD, "-c", cfg, "--once"), &out, &err), 0);
    CU_ASSERT(mono_ms() - started < 10000);
    CU_ASSERT(out[0] && out[strlen(out) - 1] == '\n');
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        cJSON *s = cJSON_Parse(l);
        const char *id = s ? reading_device(s) : NULL;
        double v = -1;
        lines++;
        CU_ASSERT_PTR_NOT_NULL(id);
        if (!id) {
            cJSON_Delete(s);
            continue;
        }
        int k = id[0] - 'a';
        CU_ASSERT(k >= 0 && k < 3 && id[1] == '\0');
        if (k < 0 || k >= 3) {
            cJSON_Delete(s);
            continue;
        }
        CU_ASSERT_FALSE(seen[k]);   /* once each */
        seen[k] = true;
        if (k < 2) {
            CU_ASSERT(reading_value(s, "kw", &v) && v == 11);
            CU_ASSERT_EQUAL(reading_count(s, "quality"), 0);
        } else {
            CU_ASSERT(reading_all_bad(s, c_points));   /* nothing listens */
        }
        if (k == 1)
            CU_ASSERT(reading_value(s, "on", &v) && v == 0);
        cJSON_Delete(s);
    }
    CU_ASSERT_EQUAL(lines, 3);
    CU_ASSERT(seen[0] && seen[1] && seen[2]);
out:
    free(out);
    free(err);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_read_unknown_or_silent_device(void)
{
    static const char *const c_points[] = { "kw", NULL };
    char cfg[512];
    char *out = NULL, *err = NULL;
    int code = -1;
    int port = closed_port();

    REQUIRE(port > 0, out);
    /* Device c is on the second bus. */
    REQUIRE(write_config(cfg, sizeof(cfg), valid_fmt, 1, port) == 0, out);
    /* Unknown: say so, list what there is. */
    REQUIRE(run_read(cfg, "nope", false, &out, &err, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "devices: a b c"));
    CU_ASSERT_STRING_EQUAL(out, "");
    free(out);
    free(err);
    out = err = NULL;
    /* Known but silent: every point bad, exit 1. */
    REQUIRE(run_read(cfg, "c", true, &out, &err, &code, NULL) == 0, out);
    CU_ASSERT_EQUAL(code, 1);
    cJSON *s = cJSON_Parse(out);
    CU_ASSERT(s && reading_all_bad(s, c_points));
    cJSON_Delete(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "did not answer"));
out:
    free(out);
    free(err);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "--check: valid configuration", test_check_valid },
        { "--check: every error with FILE:LINE", test_check_reports_every_error },
        { "--version and usage errors", test_usage_and_version },
        { "--once: one line per device", test_once_prints_each_device },
        { "read: unknown or silent device", test_read_unknown_or_silent_device },
    };
    return itest_main("cli", cases, sizeof(cases) / sizeof(cases[0]));
}
