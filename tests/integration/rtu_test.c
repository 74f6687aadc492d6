/*
 * Modbus RTU over a serial line: a socat pseudo-terminal pair with
 * gw-testdev serving RTU on one end and greenwatch on the other.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

/* Unit 9 is configured but nothing answers it: it is polled first, so
 * unit 7 is read right after a timeout on the same line. */
static const char config_fmt[] =
    CONFIG_HEAD
    "buses = ( { id = \"rs485\"; rtu = \"%s\"; baud = 19200; parity = \"E\"; timeout_ms = 500; } );\n"
    "devices = (\n"
    "  { id = \"absent\"; bus = \"rs485\"; unit = 9; timeout_ms = 200;\n"
    "    points = ( { name = \"kw\"; table = \"holding\"; address = 0; } ); },\n"
    "  { id = \"meter\"; bus = \"rs485\"; unit = 7;\n"
    "    points = ( { name = \"energy\"; table = \"holding\"; address = 20; type = \"uint32\";\n"
    "                 order = \"CDAB\"; unit = \"kWh\"; },\n"
    "               { name = \"voltage\"; table = \"holding\"; address = 23; scale = 0.1; unit = \"V\"; },\n"
    "               { name = \"running\"; table = \"coil\"; address = 3; type = \"bit\"; } ); } );\n";

static void check_meter(const cJSON *s)
{
    double v = -1;
    CU_ASSERT(reading_value(s, "energy", &v) && v == 305419896);  /* 0x12345678 */
    CU_ASSERT(reading_value(s, "voltage", &v) && v == 230.5);
    CU_ASSERT(reading_value(s, "running", &v) && v == 0);
    const char *unit = reading_unit(s, "voltage");
    CU_ASSERT(unit && strcmp(unit, "V") == 0);
    CU_ASSERT_EQUAL(reading_count(s, "quality"), 0);
}

static void test_rtu_read(void)
{
    static const char *const absent_points[] = { "kw", NULL };
    struct pty_pair line = { .pid = 0, .errfd = -1 };
    struct testdev dev = { 0 };
    char log[512], cfg[512];
    char *out = NULL, *err = NULL;
    struct testdev_request *reqs = NULL;
    size_t n = 0;
    int code = -1, status = -1;
    cJSON *s = NULL;

    int rc = pty_pair_start(&line);
    if (rc == -ENOENT)
        fprintf(stderr, "socat is not installed (apt-get install socat)\n");
    REQUIRE(rc == 0, out);
    REQUIRE(temp_path(log, sizeof(log), "rtu.log") == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--rtu", line.b, "--baud", "19200", "--parity", "E",
                                     "--unit", "7", "--set", "holding:20=0x5678,0x1234,0,2305",
                                     "--set", "coil:3=0", "--log", log)) == 0, out);
    REQUIRE(write_config(cfg, sizeof(cfg), config_fmt, line.a) == 0, out);

    /* greenwatch read: one device. */
    REQUIRE(run_read(cfg, "meter", true, &out, &err, &code, NULL) == 0, out);
    if (code != 0)
        fprintf(stderr, "%s", err);
    CU_ASSERT_EQUAL(code, 0);
    s = cJSON_Parse(out);
    REQUIRE(s != NULL, out);
    check_meter(s);
    cJSON_Delete(s);
    s = NULL;
    /* Two reads: coil 3, and holding 20..23 (the unused 22 fills the gap). */
    REQUIRE(testdev_requests_of(log, 7, &reqs, &n) == 0, out);
    CU_ASSERT_EQUAL(n, 2);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT((reqs[i].fc == 1 && reqs[i].address == 3 && reqs[i].count == 1) ||
                  (reqs[i].fc == 3 && reqs[i].address == 20 && reqs[i].count == 4));
    free(reqs);
    reqs = NULL;

    /* The daemon, once: the absent unit times out, the meter still reads. */
    free(out);
    free(err);
    out = err = NULL;
    REQUIRE(run_capture(ARGS(GREENWATCHD, "-c", cfg, "--once"), &out, &err, 30, &status) == 0, out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int lines = 0, meter = 0, absent = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        lines++;
        cJSON *j = cJSON_Parse(l);
        const char *dev_id = j ? reading_device(j) : NULL;
        CU_ASSERT_PTR_NOT_NULL(dev_id);
        if (dev_id && strcmp(dev_id, "meter") == 0) {
            meter++;
            check_meter(j);
        } else if (dev_id && strcmp(dev_id, "absent") == 0) {
            absent++;
            CU_ASSERT(reading_all_bad(j, absent_points));
        }
        cJSON_Delete(j);
    }
    CU_ASSERT_EQUAL(lines, 2);
    CU_ASSERT_EQUAL(meter, 1);
    CU_ASSERT_EQUAL(absent, 1);
    /* Unit 9 was asked (and stayed silent); unit 7 twice more in all. */
    REQUIRE(testdev_requests_of(log, 9, &reqs, &n) == 0, out);
    CU_ASSERT(n >= 1);
    free(reqs);
    reqs = NULL;
    REQUIRE(testdev_requests_of(log, 7, &reqs, &n) == 0, out);
    CU_ASSERT_EQUAL(n, 4);
out:
    cJSON_Delete(s);
    free(reqs);
    free(out);
    free(err);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
    pty_pair_stop(&line);
}

/*
 * A device slower than its timeout: every answer arrives 100 ms after the
 * request gave up.  RTU frames carry no transaction id, so a late answer
 * must never be taken for the next request's: with pacing between the
 * two reads of a poll, "b" would be decoded from "a"'s registers.  The
 * pacing (400 ms) leaves the late answer 300 ms to arrive before the next
 * request, so that a loaded machine does not deliver it after the flush.
 */
static void test_late_answers_are_not_misread(void)
{
    struct pty_pair line = { .pid = 0, .errfd = -1 };
    struct testdev dev = { 0 };
    struct proc d = { .pid = 0, .out = -1 };
    char cfg[512];
    int samples = 0, wrong = 0, status = -1;

    REQUIRE(pty_pair_start(&line) == 0, out);
    REQUIRE(testdev_start(&dev, ARGS("--rtu", line.b, "--delay-ms", "400", "--set",
                                     "holding:0=1111", "--set", "holding:100=2222")) == 0, out);
    REQUIRE(write_config(cfg, sizeof(cfg),
                         CONFIG_HEAD
                         "buses = ( { id = \"rs485\"; rtu = \"%s\"; timeout_ms = 300;\n"
                         "            delay_between_requests_ms = 400; } );\n"
                         "devices = ( { id = \"meter\"; bus = \"rs485\"; unit = 1; interval_s = 0.5;\n"
                         "  points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
                         "             { name = \"b\"; table = \"holding\"; address = 100; } ); } );\n",
                         line.a) == 0, out);
    REQUIRE(greenwatchd_start(&d, cfg) == 0, out);
    for (; samples < 6; samples++) {
        cJSON *s = greenwatchd_next_sample(&d, "meter", 5000);
        REQUIRE(s != NULL, out);
        double v;
        if (reading_value(s, "a", &v) && v != 1111)
            wrong++;
        if (reading_value(s, "b", &v) && v != 2222)
            wrong++;
        cJSON_Delete(s);
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(proc_kill(&d, SIGTERM), 0);
    for (cJSON *s; (s = greenwatchd_next_sample(&d, NULL, 10000)); cJSON_Delete(s))
        ;
    CU_ASSERT_EQUAL(proc_wait(&d, 10000, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
out:
    proc_stop(&d, NULL);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
    pty_pair_stop(&line);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "RTU over a pty pair: read and --once", test_rtu_read },
        { "RTU: a late answer is not taken for another read", test_late_answers_are_not_misread },
    };
    return itest_main("rtu", cases, sizeof(cases) / sizeof(cases[0]));
}
