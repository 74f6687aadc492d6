/*
 * greenwatchd on an RS-485 line that keeps wire time: greenwatch-sim
 * serves the daemon's own configuration with sim.wire_time, so its RTU
 * line is paced at the bus's 9600 8E1.  The simulator counts a request
 * that begins less than 3.5 characters after the previous frame as
 * early; the daemon must send none, and every read must come back good.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

#define DEVICES 3
#define READS_PER_POLL 2

/* Two reads a poll: 0..1 and 64..65 lie further apart than the fill limit. */
static const char daemon_fmt[] =
    CONFIG_HEAD
    "buses = ( { id = \"rs485\"; rtu = \"%s\"; baud = 9600; parity = \"E\"; timeout_ms = 1000; } );\n"
    "devices = (\n"
    "  { id = \"m1\"; bus = \"rs485\"; unit = 1; points = %s; },\n"
    "  { id = \"m2\"; bus = \"rs485\"; unit = 2; points = %s; },\n"
    "  { id = \"m3\"; bus = \"rs485\"; unit = 3; points = %s; } );\n";

static const char points[] =
    "( { name = \"voltage_l1\"; table = \"holding\"; address = 0; type = \"float32\"; order = \"CDAB\"; },"
    "  { name = \"energy_kwh\"; table = \"holding\"; address = 64; type = \"uint32\"; scale = 0.01; } )";

static const char sim_fmt[] =
    "daemon_config = \"%s\";\n"
    "sim = { start = \"2026-07-15 10:00\"; control = \"%s\"; wire_time = true; };\n"
    "devices = ( { id = \"m1\"; role = \"meter\"; feed = \"special\"; },\n"
    "            { id = \"m2\"; role = \"meter\"; feed = \"lighting\"; },\n"
    "            { id = \"m3\"; role = \"meter\"; feed = \"power\"; } );\n";

/* The line's counters, from the simulator's `lines` command. */
static int line_counts(const char *sock, unsigned long long *requests, unsigned long long *answers,
                       unsigned long long *early)
{
    char *out = NULL;
    int status = -1;
    int rc = run_capture(ARGS(GW_SIM_BINARY, "--control", sock, "lines"), &out, NULL, 30, &status);
    const char *at = rc == 0 && out ? strstr(out, "bus=rs485 ") : NULL;
    if (!at || sscanf(at, "%*s baud=9600 format=8E1 requests=%llu answers=%llu early=%llu",
                      requests, answers, early) != 3) {
        fprintf(stderr, "lines: %s\n", out ? out : "(nothing)");
        rc = -EIO;
    }
    free(out);
    return rc;
}

static void test_silence_kept(void)
{
    char link[512], sock[512], log[512], cfg[512], simconf[512], text[2048];
    char *out = NULL, *err = NULL;
    pid_t sim = 0;
    int status = -1, lines = 0, good = 0;
    unsigned long long requests = 0, answers = 0, early = 0;

    REQUIRE(temp_path(link, sizeof link, "ttyPaced") == 0 && temp_path(sock, sizeof sock, "paced.sock") == 0 &&
            temp_path(log, sizeof log, "paced-sim.log") == 0, out);
    REQUIRE(write_config(cfg, sizeof cfg, daemon_fmt, link, points, points, points) == 0, out);
    snprintf(text, sizeof text, sim_fmt, cfg, sock);
    REQUIRE(write_temp_file_named("paced-sim.conf", text, simconf, sizeof simconf) == 0, out);
    REQUIRE(spawn_process_logged(ARGS(GW_SIM_BINARY, "-c", simconf), log, &sim) == 0, out);
    REQUIRE(wait_file_contains(log, "READY", 20000) == 0, out);

    REQUIRE(run_capture(ARGS(GREENWATCHD, "-c", cfg, "--once"), &out, &err, 60, &status) == 0, out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(l);
        lines++;
        good += j && reading_count(j, "quality") == 0 && reading_count(j, "points") == 2;
        cJSON_Delete(j);
    }
    CU_ASSERT_EQUAL(lines, DEVICES);
    CU_ASSERT_EQUAL(good, DEVICES);
    if (good != DEVICES && err)
        fprintf(stderr, "%s", err);

    REQUIRE(line_counts(sock, &requests, &answers, &early) == 0, out);
    CU_ASSERT_EQUAL(requests, DEVICES * READS_PER_POLL);
    CU_ASSERT_EQUAL(answers, DEVICES * READS_PER_POLL);
    CU_ASSERT_EQUAL(early, 0);
out:
    free(out);
    free(err);
    if (sim)
        CU_ASSERT_EQUAL(stop_process(sim, NULL), 0);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "RTU at 9600 8E1 with wire time: the 3.5-character silence is kept", test_silence_kept },
    };
    return itest_main("sim_rtu_wire", cases, sizeof(cases) / sizeof(cases[0]));
}
