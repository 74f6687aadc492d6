/*
 * greenwatch-sim through a real Modbus client: the simulator is started
 * as a process on loopback ports of the system's choosing, awaited by its
 * READY line, read with libmodbus, driven through its control socket, and
 * stopped by pid.  Values are decoded with libmodbus's own helpers or by
 * hand, never with the simulator's encoder.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "harness.h"
#include "sim/rtu.h"

/* ---- the simulator process --------------------------------------- */

#define BUSES_MAX 16

struct simproc {
    pid_t pid;
    char log[512], sock[512], truth[512];
    int n_buses;
    struct { char id[64]; int port; } buses[BUSES_MAX];
};

static struct simproc building, fleet;

/* Ports come from the LISTEN lines printed before READY. */
static void read_ports(struct simproc *p)
{
    FILE *f = fopen(p->log, "r");
    char line[256], id[64];
    int port;

    p->n_buses = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "LISTEN %63s 127.0.0.1:%d", id, &port) == 2 && p->n_buses < BUSES_MAX) {
            snprintf(p->buses[p->n_buses].id, 64, "%s", id);
            p->buses[p->n_buses++].port = port;
        }
    if (f)
        fclose(f);
}

static int sim_start(struct simproc *p, const char *name, const char *conf)
{
    char conf_path[512], rel[128];

    snprintf(rel, sizeof rel, "%s.conf", name);
    if (write_temp_file_named(rel, conf, conf_path, sizeof conf_path) < 0)
        return -1;
    snprintf(rel, sizeof rel, "%s.log", name);
    temp_path(p->log, sizeof p->log, rel);
    const char *argv[] = { GW_SIM_BINARY, "-c", conf_path, NULL };
    if (spawn_process_logged(argv, p->log, &p->pid) < 0)
        return -1;
    if (wait_file_contains(p->log, "READY", 20000) < 0) {
        stop_process(p->pid, NULL);
        p->pid = 0;
        return -1;
    }
    read_ports(p);
    return 0;
}

/* A suite's clean-up: stop the simulator it started; SIGTERM is a clean
 * stop, so anything but exit status 0 fails the suite. */
static int sim_stop(struct simproc *p)
{
    int status = -1;

    if (p->pid && stop_process(p->pid, &status) == 0)
        p->pid = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int port_of(const struct simproc *p, const char *bus)
{
    for (int i = 0; i < p->n_buses; i++)
        if (strcmp(p->buses[i].id, bus) == 0)
            return p->buses[i].port;
    return -1;
}

static modbus_t *open_unit(const struct simproc *p, const char *bus, int unit, int timeout_ms)
{
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port_of(p, bus));

    if (!ctx)
        return NULL;
    modbus_set_slave(ctx, unit);
    modbus_set_response_timeout(ctx, (uint32_t)timeout_ms / 1000,
                                (uint32_t)(timeout_ms % 1000) * 1000);
    if (modbus_connect(ctx) < 0) {
        modbus_free(ctx);
        return NULL;
    }
    return ctx;
}

static void close_unit(modbus_t *ctx)
{
    if (ctx) {
        modbus_close(ctx);
        modbus_free(ctx);
    }
}

/* Send a control command to the simulator listening on sock and keep its
 * reply (n > 0; empty if none came); 0 if it was answered OK. */
static int query_at(const char *sock, char *reply, size_t n, const char *line)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    size_t len = 0;

    reply[0] = '\0';
    if (strlen(sock) >= sizeof sa.sun_path) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    shutdown(fd, SHUT_WR);
    for (ssize_t r; len + 1 < n && (r = read(fd, reply + len, n - 1 - len)) > 0;)
        len += (size_t)r;
    reply[len] = '\0';
    close(fd);
    /* The reply's last line says OK or ERR. */
    char *last = len ? reply + len - 1 : reply;
    while (last > reply && last[-1] != '\n')
        last--;
    return strncmp(last, "OK", 2) == 0 ? 0 : -1;
}

/* The same, to the building under test. */
static int query(char *reply, size_t n, const char *line)
{
    return query_at(building.sock, reply, n, line);
}

/* Simulated seconds since the epoch, from the status command. */
static double sim_now(void)
{
    char reply[256];
    double t = NAN;

    if (query(reply, sizeof reply, "status") == 0)
        sscanf(reply, "OK sim_s=%lf", &t);
    return t;
}

/* Send a control command; 0 if it was answered OK, -1 if ERR. */
static int command(const char *fmt, ...)
{
    char line[512], reply[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return query(reply, sizeof reply, line);
}

/* ---- the building under test ------------------------------------- */

static const char building_conf[] =
    "profile_dir = \"%s/config/profiles\";\n"
    "sim = { seed = 7; speed = 1.0; start = \"2026-07-15 10:00\";\n"
    "        control = \"%s\"; truth = \"%s\"; scenario = \"%s\"; };\n"
    "buses = ( { id = \"plant\"; tcp = \"127.0.0.1:0\"; },\n"
    "          { id = \"meters\"; tcp = \"127.0.0.1:0\"; } );\n"
    "devices = (\n"
    "  { id = \"chiller-1\"; bus = \"plant\"; unit = 1; profile = \"generic-chiller\";\n"
    "    role = \"chiller\"; number = 1; },\n"
    "  { id = \"chiller-2\"; bus = \"plant\"; unit = 2; profile = \"generic-chiller\";\n"
    "    role = \"chiller\"; number = 2; },\n"
    "  { id = \"chwp-1\"; bus = \"plant\"; unit = 11; profile = \"generic-pump\";\n"
    "    role = \"pump\"; loop = \"chw\"; number = 1; },\n"
    "  { id = \"boiler-1\"; bus = \"plant\"; unit = 41; profile = \"generic-boiler\";\n"
    "    role = \"boiler\"; },\n"
    "  { id = \"em-lighting\"; bus = \"meters\"; unit = 2; profile = \"generic-submeter\";\n"
    "    role = \"meter\"; feed = \"lighting\"; },\n"
    "  { id = \"gm-main\"; bus = \"meters\"; unit = 4; profile = \"generic-gas-meter\";\n"
    "    role = \"gas\"; },\n"
    "  { id = \"weather\"; bus = \"meters\"; unit = 10; profile = \"generic-weather\";\n"
    "    role = \"weather\"; },\n"
    "  { id = \"em-special\"; bus = \"meters\"; unit = 6; profile = \"generic-submeter\";\n"
    "    role = \"meter\"; feed = \"special\"; }\n"
    ");\n";

/* The data room's meter is silent for the first simulated hour. */
static const char scenario[] =
    "faults = ( { device = \"em-special\"; type = \"no_answer\"; after_s = 0; for_s = 3600; } );\n";

static int house_init(void)
{
    char conf[4096], faults[512];

    temp_path(building.sock, sizeof building.sock, "sim.sock");
    temp_path(building.truth, sizeof building.truth, "truth.jsonl");
    if (write_temp_file_named("faults.conf", scenario, faults, sizeof faults) < 0)
        return -1;
    snprintf(conf, sizeof conf, building_conf, GW_SOURCE_DIR, building.sock, building.truth,
             faults);
    return sim_start(&building, "building", conf) < 0 ? -1 : 0;
}

static int house_clean(void)
{
    return sim_stop(&building);
}

/* A read that fails leaves its buffer as it was.  Buffers a test reads
 * into and then checks without stopping at a failed read start filled with
 * 0xDE bytes (registers 0xDEDE), which no read here answers, so that the
 * check fails on a defined value instead of testing uninitialised memory. */
static void unread(void *buf, size_t size)
{
    memset(buf, 0xDE, size);
}

/* Reads of the generic profiles, decoded here. */
struct chiller_reading {
    double chw_supply, chw_return, chw_flow, power_kw, cooling_kw;
    bool running;
};

static int read_chiller(modbus_t *ctx, struct chiller_reading *c)
{
    uint16_t h[24], in[4], cap[2];

    if (modbus_read_registers(ctx, 0, 24, h) != 24 ||
        modbus_read_input_registers(ctx, 0, 4, in) != 4 ||
        modbus_read_input_registers(ctx, 103, 1, in + 3) != 1 ||
        modbus_read_input_registers(ctx, 200, 2, cap) != 2)
        return -1;
    c->chw_supply = modbus_get_float_abcd(&h[0]);
    c->chw_return = modbus_get_float_abcd(&h[2]);
    c->chw_flow = modbus_get_float_abcd(&h[20]);
    c->power_kw = in[0] * 0.1;
    c->running = in[3] & 1;
    c->cooling_kw = modbus_get_float_cdab(cap);
    return 0;
}

static double read_float_cdab(modbus_t *ctx, int address)
{
    uint16_t r[2];

    return modbus_read_registers(ctx, address, 2, r) == 2 ? modbus_get_float_cdab(r) : NAN;
}

static double read_energy(modbus_t *ctx)
{
    uint16_t r[2];

    return modbus_read_registers(ctx, 64, 2, r) == 2 ? ((uint32_t)r[0] << 16 | r[1]) * 0.01 : NAN;
}

static void test_chiller_balance(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 1, 1000);
    struct chiller_reading c;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &c), 0);
    CU_ASSERT_TRUE(c.running);                      /* 10:00 on a July workday */
    CU_ASSERT_DOUBLE_EQUAL(c.chw_supply, 7.0, 0.2);
    CU_ASSERT_TRUE(c.chw_return > c.chw_supply + 1.0);
    double water = 1.163 * c.chw_flow * (c.chw_return - c.chw_supply);
    CU_ASSERT_DOUBLE_EQUAL(water / c.cooling_kw, 1.0, 0.01);
    double cop = c.cooling_kw / c.power_kw;
    CU_ASSERT_TRUE(cop > 3.0 && cop < 7.0);
    close_unit(ctx);
}

static void test_scenario(void)
{
    modbus_t *ctx = open_unit(&building, "meters", 6, 300);
    uint16_t r[2];

    unread(r, sizeof r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 12, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    CU_ASSERT_EQUAL(command("advance 3600"), 0);
    modbus_flush(ctx);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 12, 2, r), 2);
    CU_ASSERT_TRUE(modbus_get_float_cdab(r) > 50.0);            /* data room and kitchen */
    close_unit(ctx);
}

static void test_exceptions(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 1, 1000);
    uint16_t r[4];

    unread(r, sizeof r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(modbus_write_register(ctx, 4, 7), -1);      /* read-only device */
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    CU_ASSERT_EQUAL(modbus_read_input_registers(ctx, 108, 4, r), -1);  /* the hole */
    CU_ASSERT_EQUAL(errno, EMBXILADD);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 23, 2, r), -1);  /* past the map */
    CU_ASSERT_EQUAL(errno, EMBXILADD);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 18, 2, r), 2);   /* a gap: zeros */
    CU_ASSERT_EQUAL(r[0] | r[1], 0);
    modbus_set_slave(ctx, 99);                                  /* nobody there */
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 2, r), -1);
    CU_ASSERT_EQUAL(errno, EMBXGTAR);
    close_unit(ctx);
}

/* kWh counter = integral of kW within 0.5 %, over two simulated hours
 * sampled every simulated minute. */
static void test_energy_balance(void)
{
    modbus_t *ctx = open_unit(&building, "meters", 2, 1000);
    double integral = 0.0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    double e0 = read_energy(ctx), p0 = read_float_cdab(ctx, 12);
    for (int minute = 0; minute < 120; minute++) {
        CU_ASSERT_EQUAL_FATAL(command("advance 60"), 0);
        double p1 = read_float_cdab(ctx, 12);
        integral += (p0 + p1) / 2.0 / 60.0;
        p0 = p1;
    }
    double used = read_energy(ctx) - e0;
    CU_ASSERT_TRUE(integral > 100.0);
    CU_ASSERT_DOUBLE_EQUAL(used / integral, 1.0, 0.005);
    close_unit(ctx);
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_no_answer_and_delay(void)
{
    modbus_t *pump = open_unit(&building, "plant", 11, 300);
    modbus_t *chiller = open_unit(&building, "plant", 1, 300);
    uint16_t r[2];
    struct timespec t0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(pump);
    CU_ASSERT_PTR_NOT_NULL_FATAL(chiller);
    CU_ASSERT_EQUAL(command("fault chwp-1 no_answer"), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    CU_ASSERT_EQUAL(modbus_read_registers(chiller, 0, 2, r), 2);   /* the rest of the bus */
    CU_ASSERT_EQUAL(command("clear chwp-1 no_answer"), 0);
    modbus_flush(pump);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), 2);

    CU_ASSERT_EQUAL(command("fault chwp-1 delay delay_ms=600"), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), -1);      /* too late for 300 ms */
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    close_unit(pump);
    pump = open_unit(&building, "plant", 11, 2000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), 2);
    CU_ASSERT_TRUE(elapsed_since(&t0) >= 0.59);
    CU_ASSERT_EQUAL(command("clear chwp-1"), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), 2);
    CU_ASSERT_TRUE(elapsed_since(&t0) < 0.5);
    close_unit(pump);
    close_unit(chiller);
}

static void test_exception_faults(void)
{
    modbus_t *pump = open_unit(&building, "plant", 11, 1000);
    uint16_t r[4];

    CU_ASSERT_PTR_NOT_NULL_FATAL(pump);
    CU_ASSERT_EQUAL(command("fault chwp-1 exception code=6"), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 2, r), -1);
    CU_ASSERT_EQUAL(errno, EMBXSBUSY);
    CU_ASSERT_EQUAL(command("clear chwp-1"), 0);
    CU_ASSERT_EQUAL(command("fault chwp-1 exception code=2 address=10 count=2"), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 0, 4, r), 4);       /* elsewhere: fine */
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 8, 4, r), -1);      /* covers 10..11 */
    CU_ASSERT_EQUAL(errno, EMBXILADD);
    CU_ASSERT_EQUAL(command("clear chwp-1"), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(pump, 8, 4, r), 4);
    close_unit(pump);
}

static void test_chw_drift(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 1, 1000);
    struct chiller_reading c;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(command("fault chiller-1 chw_drift rate=2"), 0);
    CU_ASSERT_EQUAL(command("advance 3600"), 0);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &c), 0);
    CU_ASSERT_TRUE(c.running);
    CU_ASSERT_DOUBLE_EQUAL(c.chw_supply, 9.0, 0.4);
    CU_ASSERT_EQUAL(command("clear chiller-1 chw_drift"), 0);
    CU_ASSERT_EQUAL(command("advance 60"), 0);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &c), 0);
    CU_ASSERT_DOUBLE_EQUAL(c.chw_supply, 7.0, 0.2);
    close_unit(ctx);
}

static void test_low_delta_t(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 1, 1000);
    struct chiller_reading before, after;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &before), 0);
    CU_ASSERT_EQUAL(command("fault chiller-1 low_delta_t factor=2"), 0);
    CU_ASSERT_EQUAL(command("advance 10"), 0);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &after), 0);
    double dt0 = before.chw_return - before.chw_supply, dt1 = after.chw_return - after.chw_supply;
    CU_ASSERT_TRUE(dt1 < 0.7 * dt0);
    CU_ASSERT_TRUE(after.chw_flow > 1.3 * before.chw_flow);
    /* Still a consistent plant: the water carries what the chiller makes. */
    CU_ASSERT_DOUBLE_EQUAL(1.163 * after.chw_flow * dt1 / after.cooling_kw, 1.0, 0.01);
    CU_ASSERT_EQUAL(command("clear chiller-1"), 0);
    close_unit(ctx);
}

static void test_no_flow(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 11, 1000);
    uint16_t r[14];

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL_FATAL(modbus_read_registers(ctx, 0, 14, r), 14);
    CU_ASSERT_EQUAL(r[0] & 1, 1);                               /* running */
    CU_ASSERT_TRUE(modbus_get_float_dcba(&r[10]) > 50.0);       /* flow, m3/h */
    CU_ASSERT_EQUAL(command("fault chwp-1 no_flow"), 0);
    CU_ASSERT_EQUAL(command("advance 10"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_registers(ctx, 0, 14, r), 14);
    CU_ASSERT_EQUAL(r[0] & 1, 1);                               /* still running */
    CU_ASSERT_EQUAL(modbus_get_float_dcba(&r[10]), 0.0);        /* but no flow */
    CU_ASSERT_TRUE(r[3] > 0);                                   /* drawing power */
    CU_ASSERT_EQUAL(command("clear chwp-1 no_flow"), 0);
    close_unit(ctx);
}

static void test_counter_reset(void)
{
    modbus_t *ctx = open_unit(&building, "meters", 2, 1000);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_TRUE(read_energy(ctx) > 100.0);
    CU_ASSERT_EQUAL(command("fault em-lighting counter_reset"), 0);
    CU_ASSERT_TRUE(read_energy(ctx) < 1.0);                     /* a new meter */
    CU_ASSERT_EQUAL(command("advance 600"), 0);
    double e = read_energy(ctx);
    CU_ASSERT_TRUE(e > 10.0 && e < 500.0);                      /* counting again */
    close_unit(ctx);
}

static void test_counter_rollover(void)
{
    modbus_t *ctx = open_unit(&building, "meters", 4, 1000);
    uint16_t v;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(command("fault gm-main counter_rollover margin=2"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(ctx, 0, 1, &v), 1);
    CU_ASSERT_TRUE(v >= 65510);                                 /* 2 m3 below 6553.6 */
    /* Gas flows when the kitchen cooks: wait for it, an hour at a time. */
    for (int hour = 0; hour < 24 && v >= 500; hour++) {
        CU_ASSERT_EQUAL(command("advance 3600"), 0);
        CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(ctx, 0, 1, &v), 1);
    }
    CU_ASSERT_TRUE(v < 500);                                    /* rolled over */
    close_unit(ctx);
}

static void test_stuck_and_spike(void)
{
    modbus_t *wx = open_unit(&building, "meters", 10, 1000);
    modbus_t *ch = open_unit(&building, "plant", 1, 1000);
    uint16_t before[3], after[3], h[2];

    CU_ASSERT_PTR_NOT_NULL_FATAL(wx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ch);
    CU_ASSERT_EQUAL(command("fault weather stuck point=outdoor_temp"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(wx, 0, 3, before), 3);
    CU_ASSERT_EQUAL(command("advance 10800"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(wx, 0, 3, after), 3);
    CU_ASSERT_EQUAL(after[0], before[0]);                       /* flat line */
    CU_ASSERT_NOT_EQUAL(after[1], before[1]);                   /* humidity moved on */
    CU_ASSERT_EQUAL(command("clear weather"), 0);

    CU_ASSERT_EQUAL(command("fault chiller-1 spike point=chw_supply_temp value=45"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_registers(ch, 0, 2, h), 2);
    CU_ASSERT_EQUAL(modbus_get_float_abcd(h), 45.0f);
    CU_ASSERT_EQUAL_FATAL(modbus_read_registers(ch, 0, 2, h), 2);   /* one read only */
    CU_ASSERT_TRUE(modbus_get_float_abcd(h) < 40.0f);
    close_unit(wx);
    close_unit(ch);
}

static void test_off_schedule(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 2, 1000);
    struct chiller_reading c;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    /* On to 02:00 the next night (this building keeps UTC). */
    double now = sim_now(), day = 86400.0;
    double night = floor(now / day) * day + day + 2 * 3600.0;
    CU_ASSERT_EQUAL_FATAL(command("advance %.0f", night - now), 0);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &c), 0);
    CU_ASSERT_FALSE(c.running);
    CU_ASSERT_EQUAL(c.power_kw, 0.0);
    CU_ASSERT_EQUAL(command("fault chiller-2 off_schedule"), 0);
    CU_ASSERT_EQUAL(command("advance 60"), 0);
    CU_ASSERT_EQUAL_FATAL(read_chiller(ctx, &c), 0);
    CU_ASSERT_TRUE(c.running);
    CU_ASSERT_TRUE(c.power_kw > 10.0);
    CU_ASSERT_EQUAL(command("clear all"), 0);
    close_unit(ctx);
}

/* The generic boiler's burner starts (uint32, bytes swapped in each word). */
static double read_burner_starts(modbus_t *ctx)
{
    uint16_t r[2];

    if (modbus_read_registers(ctx, 32, 2, r) != 2)
        return NAN;
    uint32_t hi = (uint32_t)((r[0] >> 8) | (r[0] << 8)) & 0xffff, lo = (uint32_t)((r[1] >> 8) | (r[1] << 8)) & 0xffff;
    return (double)(hi << 16 | lo);
}

static int read_enabled(modbus_t *ctx)
{
    uint8_t bit = 0;

    return modbus_read_bits(ctx, 0, 1, &bit) == 1 ? bit : -1;
}

/* A summer day: the boiler is off until a short-cycling fault keeps it
 * enabled and firing in bursts; a fouled boiler is a boiler's fault. */
static void test_boiler_faults(void)
{
    modbus_t *ctx = open_unit(&building, "plant", 41, 1000);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_enabled(ctx), 0);
    double starts0 = read_burner_starts(ctx);
    CU_ASSERT_EQUAL(command("fault boiler-1 short_cycling on_s=120 off_s=120"), 0);
    CU_ASSERT_EQUAL(command("advance 3600"), 0);
    double starts1 = read_burner_starts(ctx);
    CU_ASSERT_EQUAL(read_enabled(ctx), 1);
    CU_ASSERT_TRUE(starts1 - starts0 >= 14.0 && starts1 - starts0 <= 16.0);   /* every 4 minutes */
    CU_ASSERT_EQUAL(command("fault boiler-1 flue_fouling rise=120"), 0);
    char reply[256];
    CU_ASSERT_EQUAL(query(reply, sizeof reply, "clear boiler-1"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "OK cleared=2"));
    CU_ASSERT_EQUAL(command("advance 3600"), 0);
    CU_ASSERT_EQUAL(read_burner_starts(ctx), starts1);                         /* off again */
    CU_ASSERT_EQUAL(read_enabled(ctx), 0);
    /* Boiler faults need a boiler, and sensible figures. */
    CU_ASSERT_EQUAL(command("fault chiller-1 flue_fouling"), -1);
    CU_ASSERT_EQUAL(command("fault chwp-1 short_cycling"), -1);
    CU_ASSERT_EQUAL(command("fault boiler-1 short_cycling on_s=1"), -1);
    CU_ASSERT_EQUAL(command("fault boiler-1 flue_fouling rise=-5"), -1);
    close_unit(ctx);
}

static void test_control_errors(void)
{
    char reply[4096], *out = NULL;
    int status = -1;

    CU_ASSERT_EQUAL(command("fault nobody no_answer"), -1);
    CU_ASSERT_EQUAL(command("fault weather chw_drift"), -1);    /* not a chiller */
    CU_ASSERT_EQUAL(command("fault chiller-1 stuck point=nothing"), -1);
    CU_ASSERT_EQUAL(command("fault chiller-1 delay delay_ms=soon"), -1);
    CU_ASSERT_EQUAL(command("teleport"), -1);
    CU_ASSERT_EQUAL(query(reply, sizeof reply, "list"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "device=chiller-2 type=off_schedule state=over"));
    /* The command-line client speaks the same protocol. */
    const char *argv[] = { GW_SIM_BINARY, "--control", building.sock, "status", NULL };
    CU_ASSERT_EQUAL(run_capture(argv, &out, NULL, 30, &status), 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "OK sim_s="));
    free(out);
}

/* A device's clock, a uint64 of seconds or ms, decoded by hand. */
static double read_clock(modbus_t *ctx, int address, double per_s)
{
    uint16_t r[4];

    if (modbus_read_registers(ctx, address, 4, r) != 4)
        return NAN;
    return (double)((uint64_t)r[0] << 48 | (uint64_t)r[1] << 32 | (uint64_t)r[2] << 16 | r[3]) / per_s;
}

/* Every generic profile's sim_clock shows the simulated time (what status
 * reports), at any speed: after an advance it has moved with it. */
static void test_clock(void)
{
    static const struct {
        const char *bus;
        int unit, address;
        double per_s;
    } devices[] = {
        { "plant", 1, 14, 1.0 },        /* chiller: seconds */
        { "plant", 11, 14, 1.0 },       /* pump */
        { "meters", 2, 14, 1.0 },       /* sub-meter */
        { "meters", 4, 0, 1.0 },        /* gas meter: a holding read of its own */
        { "meters", 10, 0, 1.0 },       /* weather */
    };
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        modbus_t *ctx = open_unit(&building, devices[i].bus, devices[i].unit, 1000);

        CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
        double before = sim_now(), clock = read_clock(ctx, devices[i].address, devices[i].per_s);
        double after = sim_now();
        if (!(clock >= floor(before) && clock <= ceil(after)))
            fprintf(stderr, "\n  unit %d: clock %.3f, simulated time %.3f .. %.3f\n", devices[i].unit,
                    clock, before, after);
        CU_ASSERT_TRUE(clock >= floor(before) && clock <= ceil(after));
        CU_ASSERT_EQUAL(command("advance 3600"), 0);
        double later = read_clock(ctx, devices[i].address, devices[i].per_s);
        CU_ASSERT_TRUE(later >= clock + 3600.0 && later <= ceil(sim_now()));
        close_unit(ctx);
    }

    /* A device whose measurements are stuck keeps its clock running. */
    modbus_t *wx = open_unit(&building, "meters", 10, 1000);
    uint16_t before[3], after[3];

    CU_ASSERT_PTR_NOT_NULL_FATAL(wx);
    CU_ASSERT_EQUAL(command("fault weather stuck"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(wx, 0, 3, before), 3);
    double clock = read_clock(wx, 0, 1.0);
    CU_ASSERT_EQUAL(command("advance 10800"), 0);
    CU_ASSERT_EQUAL_FATAL(modbus_read_input_registers(wx, 0, 3, after), 3);
    CU_ASSERT_EQUAL(memcmp(before, after, sizeof before), 0);
    CU_ASSERT_TRUE(read_clock(wx, 0, 1.0) >= clock + 10800.0);
    CU_ASSERT_EQUAL(command("clear weather"), 0);
    close_unit(wx);
}

/* The truth file recorded answers, exceptions and silences. */
static void test_truth(void)
{
    CU_ASSERT_EQUAL(wait_file_contains(building.truth, "\"device\":\"chiller-1\"", 5000), 0);
    CU_ASSERT_EQUAL(wait_file_contains(building.truth, "\"chw_supply_temp\":45}", 5000), 0);
    CU_ASSERT_EQUAL(wait_file_contains(building.truth, "\"exception\":6", 5000), 0);
    CU_ASSERT_EQUAL(wait_file_contains(building.truth, "\"unanswered\":true", 5000), 0);
}

/* ---- fleet mode -------------------------------------------------- */

static const char fleet_conf[] =
    "profile_dir = \"%s/config/profiles\";\n"
    "sim = { seed = 3; start = \"2026-07-15 10:00\"; };\n"
    "fleet = { count = 1000; port = 0; ports = 10; profile = \"generic-submeter\";\n"
    "          role = \"meter\"; feed = \"lighting\"; };\n";

static int fleet_init(void)
{
    char conf[1024];

    snprintf(conf, sizeof conf, fleet_conf, GW_SOURCE_DIR);
    return sim_start(&fleet, "fleet", conf);
}

static int fleet_clean(void)
{
    return sim_stop(&fleet);
}

/* Every one of the thousand devices answers, each with its own size. */
static void test_fleet(void)
{
    int answered = 0, distinct = 0;
    double last = -1.0;
    struct timespec t0;

    CU_ASSERT_EQUAL_FATAL(fleet.n_buses, 10);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int b = 0; b < fleet.n_buses; b++) {
        modbus_t *ctx = open_unit(&fleet, fleet.buses[b].id, 1, 1000);

        CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
        for (int unit = 1; unit <= 100; unit++) {
            double p;

            modbus_set_slave(ctx, unit);
            p = read_float_cdab(ctx, 12);
            answered += p > 0.0;
            distinct += p != last;
            last = p;
        }
        close_unit(ctx);
    }
    fprintf(stderr, "\n  fleet: %d of 1000 answered in %.3f s\n", answered, elapsed_since(&t0));
    CU_ASSERT_EQUAL(answered, 1000);
    CU_ASSERT_TRUE(distinct > 990);
}

/* ---- RTU on a pty ------------------------------------------------ */

static struct simproc rtu;
static char rtu_link[512];

static int rtu_init(void)
{
    char conf[1024];

    temp_path(rtu_link, sizeof rtu_link, "ttyRS485");
    snprintf(conf, sizeof conf,
             "profile_dir = \"%s/config/profiles\";\n"
             "sim = { start = \"2026-07-15 10:00\"; };\n"
             "buses = ( { id = \"rs485-1\"; rtu = \"%s\"; } );\n"
             "devices = ( { id = \"em-1\"; bus = \"rs485-1\"; unit = 5; profile = \"generic-submeter\";\n"
             "              role = \"meter\"; feed = \"special\"; } );\n", GW_SOURCE_DIR, rtu_link);
    return sim_start(&rtu, "rtu", conf);
}

static int rtu_clean(void)
{
    return sim_stop(&rtu);
}

static void test_rtu(void)
{
    modbus_t *ctx = modbus_new_rtu(rtu_link, 19200, 'E', 8, 1);
    uint16_t r[28];

    unread(r, sizeof r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    modbus_set_slave(ctx, 5);
    modbus_set_response_timeout(ctx, 1, 0);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(ctx), 0);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 28, r), 28);
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_cdab(&r[0]), 226.0, 6.0);     /* volts */
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_cdab(&r[26]), 50.0, 0.1);     /* hertz */
    CU_ASSERT_EQUAL(modbus_write_register(ctx, 0, 1), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    modbus_set_slave(ctx, 6);                   /* nobody on the line there */
    modbus_set_response_timeout(ctx, 0, 200000);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    modbus_close(ctx);
    modbus_free(ctx);
}

/* ---- RTU wire time ----------------------------------------------- */

/*
 * Two paced lines: 9600 8E1, as most meters ship, and 1200 8E1, slow
 * enough that an answer streamed at the wire rate and one held back until
 * its end are far apart.  The register map covers holding registers
 * 0..124, so one read can be as long as Modbus allows.  Lower bounds on
 * time are checked tightly (they hold however loaded the machine is: the
 * simulator cannot answer before the wire would have); upper bounds
 * loosely.
 */
static struct simproc wire;
static char wire_link[512], slow_link[512];

static const char wire_profile[] =
    "profile = { id = \"wire-test\"; points = (\n"
    "  { name = \"first\"; table = \"holding\"; address = 0; type = \"uint16\"; },\n"
    "  { name = \"last\"; table = \"holding\"; address = 124; type = \"uint16\"; } ); };\n";

static int wire_init(void)
{
    char conf[2048];

    temp_path(wire_link, sizeof wire_link, "ttyWire");
    temp_path(slow_link, sizeof slow_link, "ttySlow");
    temp_path(wire.sock, sizeof wire.sock, "wire.sock");
    if (write_temp_file_named("wire-profiles/wire-test.conf", wire_profile, NULL, 0) < 0)
        return -1;
    snprintf(conf, sizeof conf,
             "profile_dir = \"%s/wire-profiles\";\n"
             "sim = { start = \"2026-07-15 10:00\"; control = \"%s\"; };\n"
             "buses = ( { id = \"rs485-w\"; rtu = \"%s\"; baud = 9600; parity = \"E\"; },\n"
             "          { id = \"rs485-s\"; rtu = \"%s\"; baud = 1200; parity = \"E\"; } );\n"
             "devices = ( { id = \"m\"; bus = \"rs485-w\"; unit = 3; profile = \"wire-test\";\n"
             "              role = \"meter\"; feed = \"special\"; },\n"
             "            { id = \"s\"; bus = \"rs485-s\"; unit = 3; profile = \"wire-test\";\n"
             "              role = \"meter\"; feed = \"special\"; } );\n",
             harness_tmpdir(), wire.sock, wire_link, slow_link);
    return sim_start(&wire, "wire", conf);
}

static int wire_clean(void)
{
    return sim_stop(&wire);
}

static void test_wire_formats(void)
{
    static const struct {
        struct sim_wire w;
        double char_s, silence_s;
    } cases[] = {
        { { 9600, 8, 1, 'E' }, 11.0 / 9600, 3.5 * 11.0 / 9600 },
        { { 9600, 8, 2, 'N' }, 11.0 / 9600, 3.5 * 11.0 / 9600 },
        { { 9600, 8, 1, 'N' }, 10.0 / 9600, 3.5 * 10.0 / 9600 },
        { { 19200, 8, 1, 'O' }, 11.0 / 19200, 3.5 * 11.0 / 19200 },
        { { 38400, 8, 1, 'E' }, 11.0 / 38400, 0.00175 },   /* fixed above 19200 */
        { { 115200, 7, 1, 'E' }, 10.0 / 115200, 0.00175 },
        { { 0, 8, 1, 'E' }, 0.0, 0.0 },                     /* not paced */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_DOUBLE_EQUAL(rtu_char_s(&cases[i].w), cases[i].char_s, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(rtu_silence_s(&cases[i].w), cases[i].silence_s, 1e-12);
    }
}

static modbus_t *open_line(const char *link, int baud, int timeout_ms)
{
    modbus_t *ctx = modbus_new_rtu(link, baud, 'E', 8, 1);

    if (!ctx)
        return NULL;
    modbus_set_slave(ctx, 3);
    modbus_set_response_timeout(ctx, (uint32_t)timeout_ms / 1000,
                                (uint32_t)(timeout_ms % 1000) * 1000);
    if (modbus_connect(ctx) < 0) {
        modbus_free(ctx);
        return NULL;
    }
    return ctx;
}

static void pause_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Seconds a read of count registers takes from the request's write to
 * the answer's last byte, or -1 if it failed. */
static double round_trip(modbus_t *ctx, int count)
{
    uint16_t r[MODBUS_MAX_READ_REGISTERS];
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = modbus_read_registers(ctx, 0, count, r);
    return rc == count ? elapsed_since(&t0) : -1.0;
}

/* Characters on the wire for one read of count registers: the request
 * (8), the silence before the answer, the answer (5 + 2 count). */
static double read_chars(int count)
{
    return 8.0 + 3.5 + 5.0 + 2.0 * count;
}

struct line_figures {
    unsigned long long requests, answers, early;
    double busy_s;
};

static int line_figures(const char *bus, struct line_figures *f)
{
    char reply[2048], pattern[128];
    const char *at;

    if (query_at(wire.sock, reply, sizeof reply, "lines") < 0)
        return -1;
    snprintf(pattern, sizeof pattern, "bus=%s ", bus);
    if (!(at = strstr(reply, pattern)))
        return -1;
    return sscanf(at, "%*s baud=%*d format=%*s requests=%llu answers=%llu early=%llu busy_s=%lf",
                  &f->requests, &f->answers, &f->early, &f->busy_s) == 4 ? 0 : -1;
}

/* A read at 9600 8E1 takes at least its wire time, and not much more. */
static void test_wire_round_trip(void)
{
    const double tc = 11.0 / 9600;
    static const int counts[] = { 1, 2, 28, 60, 125 };
    struct line_figures a, b;
    double busy = 0.0;
    modbus_t *ctx = open_line(wire_link, 9600, 2000);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL_FATAL(line_figures("rs485-w", &a), 0);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        pause_ms(20);           /* the line silent, so the request starts at once */
        double rtt = round_trip(ctx, counts[i]), wire_s = read_chars(counts[i]) * tc;

        CU_ASSERT_TRUE(rtt >= wire_s);
        CU_ASSERT_TRUE(rtt < wire_s + 2.0);
        if (rtt < wire_s || rtt >= wire_s + 2.0)
            fprintf(stderr, "\n%d registers: %.1f ms, wire time %.1f ms\n", counts[i],
                    rtt * 1e3, wire_s * 1e3);
        busy += (read_chars(counts[i]) + 3.5) * tc;
    }
    /* Back to back, as libmodbus sends them: the second request waits for
     * the silence after the first answer. */
    struct timespec t0;
    pause_ms(20);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_TRUE(round_trip(ctx, 60) > 0.0);
    CU_ASSERT_TRUE(round_trip(ctx, 60) > 0.0);
    double pair = elapsed_since(&t0);
    CU_ASSERT_TRUE(pair >= (2.0 * read_chars(60) + 3.5) * tc);
    CU_ASSERT_TRUE(pair < (2.0 * read_chars(60) + 3.5) * tc + 2.0);
    busy += 2.0 * (read_chars(60) + 3.5) * tc;

    /* The line's own count: every frame and the silence after it. */
    CU_ASSERT_EQUAL_FATAL(line_figures("rs485-w", &b), 0);
    CU_ASSERT_EQUAL(b.requests - a.requests, 7);
    CU_ASSERT_EQUAL(b.answers - a.answers, 7);
    CU_ASSERT_TRUE(b.early - a.early <= 1);
    CU_ASSERT_DOUBLE_EQUAL(b.busy_s - a.busy_s, busy, 1e-6);
    modbus_close(ctx);
    modbus_free(ctx);
}

/* The delay fault comes on top of the wire time; nobody at an address
 * means no answer, and the line is free again after the request. */
static void test_wire_delay_and_silence(void)
{
    const double tc = 11.0 / 9600;
    modbus_t *ctx = open_line(wire_link, 9600, 2000);
    uint16_t r[2];

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(query_at(wire.sock, (char[256]){ 0 }, 256, "fault m delay delay_ms=300"), 0);
    pause_ms(20);
    double rtt = round_trip(ctx, 2);
    CU_ASSERT_TRUE(rtt >= 0.3 + read_chars(2) * tc);
    CU_ASSERT_TRUE(rtt < 0.3 + read_chars(2) * tc + 2.0);
    CU_ASSERT_EQUAL(query_at(wire.sock, (char[256]){ 0 }, 256, "clear m"), 0);

    modbus_set_slave(ctx, 9);                   /* nobody there */
    modbus_set_response_timeout(ctx, 0, 200000);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    modbus_set_slave(ctx, 3);
    modbus_set_response_timeout(ctx, 2, 0);
    modbus_flush(ctx);
    rtt = round_trip(ctx, 2);
    CU_ASSERT_TRUE(rtt >= read_chars(2) * tc);
    CU_ASSERT_TRUE(rtt < read_chars(2) * tc + 2.0);
    modbus_close(ctx);
    modbus_free(ctx);
}

/* At 1200 baud a 125-register answer takes 2.3 s on the wire.  It is
 * streamed: libmodbus's response timeout waits for the first byte only,
 * so 1.5 s is enough on a real line, and would not be if the simulator
 * held the answer back until its end (2.4 s after the request). */
static void test_wire_streamed(void)
{
    const double tc = 11.0 / 1200;
    modbus_t *ctx = open_line(slow_link, 1200, 1500);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    pause_ms(50);
    double rtt = round_trip(ctx, 125);
    CU_ASSERT_TRUE(rtt > 0.0);                  /* answered within the response timeout */
    CU_ASSERT_TRUE(rtt >= read_chars(125) * tc);
    CU_ASSERT_TRUE(rtt < read_chars(125) * tc + 2.0);
    modbus_close(ctx);
    modbus_free(ctx);
}

/* ---- started now ------------------------------------------------- */

static struct simproc now_sim;

static int now_init(void)
{
    char conf[1024];

    temp_path(now_sim.sock, sizeof now_sim.sock, "now.sock");
    snprintf(conf, sizeof conf,
             "profile_dir = \"%s/config/profiles\";\n"
             "sim = { control = \"%s\"; };\n"
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:0\"; } );\n"
             "devices = ( { id = \"em-1\"; bus = \"b\"; unit = 1; profile = \"generic-meter-main\";\n"
             "              role = \"meter\"; feed = \"main\"; } );\n", GW_SOURCE_DIR, now_sim.sock);
    return sim_start(&now_sim, "now", conf);
}

static int now_clean(void)
{
    return sim_stop(&now_sim);
}

static double wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Started "now" at real time, the simulated clock reads the wall clock:
 * steps fall on whole seconds, and a device's clock (ms) shows the last
 * one, so samples stamped with it land where the wall clock would put
 * them. */
static void test_now(void)
{
    char reply[256];
    double sim_s = NAN;
    modbus_t *ctx = open_unit(&now_sim, "b", 1, 1000);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    for (int k = 0; k < 3; k++) {
        double before = wall_s();
        double clock = read_clock(ctx, 156, 1000.0);
        double after = wall_s();

        CU_ASSERT_EQUAL(clock, floor(clock));           /* a whole second */
        CU_ASSERT_TRUE(clock >= floor(before) - 1.0 && clock <= after);
        CU_ASSERT_EQUAL_FATAL(query_at(now_sim.sock, reply, sizeof reply, "status"), 0);
        CU_ASSERT_EQUAL(sscanf(reply, "OK sim_s=%lf", &sim_s), 1);
        CU_ASSERT_EQUAL(sim_s, floor(sim_s));
        CU_ASSERT_TRUE(sim_s >= clock && sim_s <= wall_s());
    }
    close_unit(ctx);
}

/* ---- command line ------------------------------------------------ */

static void test_demo_config(void)
{
    char conf[512], *out = NULL, *err = NULL;
    int status = -1;

    snprintf(conf, sizeof conf, "%s/config/demo-sim.conf", GW_SOURCE_DIR);
    const char *check[] = { GW_SIM_BINARY, "-c", conf, "--check", NULL };
    CU_ASSERT_EQUAL(run_capture(check, NULL, &err, 30, &status), 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (err && err[0])
        fprintf(stderr, "%s", err);
    free(err);
    const char *print[] = { GW_SIM_BINARY, "-c", conf, "--print-daemon-config", NULL };
    CU_ASSERT_EQUAL(run_capture(print, &out, NULL, 30, &status), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "{ id = \"chiller-1\"; bus = \"plant\"; unit = 1;"));
    free(out);
}

static void test_bad_config(void)
{
    char conf[512], *err = NULL;
    int status = -1;

    write_temp_file_named("bad.conf",
                          "sim = { speed = -1.0; colour = \"green\"; };\n"
                          "buses = ( { id = \"b\"; tcp = \"10.0.0.5:502\"; },\n"
                          "          { id = \"t\"; tcp = \"127.0.0.1:0\"; baud = 9600; },\n"
                          "          { id = \"r\"; rtu = \"/tmp/gw-never\"; parity = \"E\"; } );\n"
                          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; role = \"toaster\";\n"
                          "              profile = \"generic-submeter\"; } );\n", conf, sizeof conf);
    const char *argv[] = { GW_SIM_BINARY, "-c", conf, "--check", NULL };
    CU_ASSERT_EQUAL(run_capture(argv, NULL, &err, 30, &status), 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "bad.conf:1:"));             /* FILE:LINE */
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "colour"));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "loopback"));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "toaster"));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "bus 't': baud, parity, data_bits and stop_bits are for an rtu bus"));
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "bus 'r': parity, data_bits and stop_bits pace the line only with baud"));
    free(err);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sim_server", house_init, house_clean);

    CU_add_test(s, "chiller balance through Modbus", test_chiller_balance);
    CU_add_test(s, "scenario file", test_scenario);
    CU_add_test(s, "exceptions", test_exceptions);
    CU_add_test(s, "energy balance through Modbus", test_energy_balance);
    CU_add_test(s, "fault: no answer, delay", test_no_answer_and_delay);
    CU_add_test(s, "fault: exceptions 2 and 6", test_exception_faults);
    CU_add_test(s, "fault: chw supply drift", test_chw_drift);
    CU_add_test(s, "fault: low delta-T", test_low_delta_t);
    CU_add_test(s, "fault: pump without flow", test_no_flow);
    CU_add_test(s, "fault: counter reset", test_counter_reset);
    CU_add_test(s, "fault: counter rollover", test_counter_rollover);
    CU_add_test(s, "fault: stuck sensor, spike", test_stuck_and_spike);
    CU_add_test(s, "fault: chiller off schedule", test_off_schedule);
    CU_add_test(s, "fault: boiler short cycling, fouling", test_boiler_faults);
    CU_add_test(s, "control errors", test_control_errors);
    CU_add_test(s, "device clocks show the simulated time", test_clock);
    CU_add_test(s, "truth file", test_truth);
    CU_pSuite f = CU_add_suite("sim_fleet", fleet_init, fleet_clean);
    CU_add_test(f, "1000 devices", test_fleet);
    CU_pSuite r = CU_add_suite("sim_rtu", rtu_init, rtu_clean);
    CU_add_test(r, "RTU on a pty", test_rtu);
    CU_pSuite wt = CU_add_suite("sim_rtu_wire", wire_init, wire_clean);
    CU_add_test(wt, "character and silence times", test_wire_formats);
    CU_add_test(wt, "9600 8E1: a read takes its wire time", test_wire_round_trip);
    CU_add_test(wt, "9600 8E1: delay fault, no answer", test_wire_delay_and_silence);
    CU_add_test(wt, "1200 8E1: answers are streamed, not held", test_wire_streamed);
    CU_pSuite n = CU_add_suite("sim_now", now_init, now_clean);
    CU_add_test(n, "started now: the simulated clock is the wall clock", test_now);
    CU_pSuite c = CU_add_suite("sim_cli", NULL, NULL);
    CU_add_test(c, "shipped demo configuration", test_demo_config);
    CU_add_test(c, "configuration errors", test_bad_config);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();

    CU_cleanup_registry();
    return failed ? 1 : 0;
}
