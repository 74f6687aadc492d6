/*
 * Tests of the test support: gw-testdev does what each flag says (checked
 * with a plain libmodbus client), and the harness starts, captures and
 * stops processes as documented. Integration tests trust both.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <modbus.h>

#include "harness.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- helpers ------------------------------------------------------- */

/* A connected TCP client for unit on 127.0.0.1:port; NULL on failure. */
static modbus_t *client(int port, int unit, int timeout_ms)
{
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);

    if (!ctx)
        return NULL;
    modbus_set_slave(ctx, unit);
    modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000);
    if (modbus_connect(ctx) < 0) {
        fprintf(stderr, "connect 127.0.0.1:%d: %s\n", port,
                modbus_strerror(errno));
        modbus_free(ctx);
        return NULL;
    }
    return ctx;
}

static void client_free(modbus_t *ctx)
{
    if (!ctx)
        return;
    modbus_close(ctx);
    modbus_free(ctx);
}

/*
 * A read that fails leaves its buffer as it was.  Buffers the tests read
 * into start filled with 0xDE bytes (registers 0xDEDE, bits 0xDE), which no
 * read here answers, so that after a failed read the value's assertion
 * fails on a defined value instead of testing uninitialised memory.
 */
static void unread(void *buf, size_t size)
{
    memset(buf, 0xDE, size);
}

/* Reads holding registers; returns the libmodbus result, errno in *err. */
static int read_holding(modbus_t *ctx, int addr, int n, uint16_t *regs, int *err)
{
    int rc;

    errno = 0;
    rc = modbus_read_registers(ctx, addr, n, regs);
    *err = errno;
    return rc;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whole contents of a file, malloc'd, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *data = NULL;
    size_t len = 0;

    if (!f)
        return NULL;
    if (getdelim(&data, &len, '\0', f) < 0) {
        free(data);
        data = strdup("");
    }
    fclose(f);
    return data;
}

/* ---- the device: contents ------------------------------------------ */

static void test_ready_and_clean_stop(void)
{
    struct testdev a, b;

    CU_ASSERT_EQUAL_FATAL(testdev_start(&a, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_start(&b, NULL), 0);
    CU_ASSERT(a.pid > 0);
    CU_ASSERT(a.port > 0 && a.port < 65536);
    CU_ASSERT(b.port > 0 && b.port < 65536);
    CU_ASSERT_NOT_EQUAL(a.port, b.port);
    CU_ASSERT_EQUAL(testdev_stop(&a), 0);   /* SIGTERM -> exit 0 */
    CU_ASSERT_EQUAL(a.pid, 0);
    CU_ASSERT_EQUAL(testdev_stop(&b), 0);
}

static void test_bad_flags_rejected(void)
{
    const char *const *bad[] = {
        ARGS("--set", "holding:65536=1"),
        ARGS("--set", "coil:3=2"),
        ARGS("--set", "holding:10="),
        ARGS("--set", "register:1=1"),
        ARGS("--illegal", "input:9-3"),
        ARGS("--unit", "256"),
        ARGS("--rtu", "/dev/null", "--bad-tid"),
        ARGS("--no-such-flag"),
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct testdev dev;
        CU_ASSERT(testdev_start(&dev, bad[i]) < 0);
        CU_ASSERT_EQUAL(dev.pid, 0);
    }
}

struct expect_reg {
    int fc;             /* 1..4 */
    int addr;
    unsigned value;
};

static void test_default_contents(void)
{
    static const struct expect_reg table[] = {
        { 3, 0, 0 }, { 3, 1, 1 }, { 3, 1000, 1000 }, { 3, 65535, 65535 },
        { 4, 0, 0x8000 }, { 4, 0x1234, 0x9234 }, { 4, 0x8001, 0x8001 },
        { 4, 65535, 0xFFFF },
        { 1, 0, 0 }, { 1, 1, 1 }, { 1, 65534, 0 }, { 1, 65535, 1 },
        { 2, 10, 0 }, { 2, 11, 1 },
    };
    struct testdev dev;
    modbus_t *ctx;

    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, NULL), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct expect_reg *e = &table[i];
        uint16_t reg = 0xDEAD;
        uint8_t bit = 0xEE;
        int rc = -1;
        unsigned got = 0;

        switch (e->fc) {
        case 1: rc = modbus_read_bits(ctx, e->addr, 1, &bit); got = bit; break;
        case 2: rc = modbus_read_input_bits(ctx, e->addr, 1, &bit); got = bit; break;
        case 3: rc = modbus_read_registers(ctx, e->addr, 1, &reg); got = reg; break;
        case 4: rc = modbus_read_input_registers(ctx, e->addr, 1, &reg); got = reg; break;
        }
        CU_ASSERT_EQUAL(rc, 1);
        CU_ASSERT_EQUAL(got, e->value);
        if (rc != 1 || got != e->value)
            fprintf(stderr, "fc %d addr %d: rc %d value 0x%x, want 0x%x\n",
                    e->fc, e->addr, rc, got, e->value);
    }
    /* a full 125-register read at the top of the table */
    {
        uint16_t regs[125];
        int err;
        unread(regs, sizeof(regs));
        CU_ASSERT_EQUAL(read_holding(ctx, 65411, 125, regs, &err), 125);
        CU_ASSERT_EQUAL(regs[0], 65411);
        CU_ASSERT_EQUAL(regs[124], 65535);
        /* beyond the table's end: illegal data address */
        CU_ASSERT_EQUAL(read_holding(ctx, 65535, 2, regs, &err), -1);
        CU_ASSERT_EQUAL(err, EMBXILADD);
    }
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_set_values(void)
{
    struct testdev dev;
    modbus_t *ctx;
    uint16_t regs[4];
    uint8_t bits[3];
    int err;

    unread(regs, sizeof(regs));
    unread(bits, sizeof(bits));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS(
        "--set", "holding:100=0x42F6,0xE979",
        "--set", "coil:10=1,0,1",
        "--set", "input:7=65535",
        "--set", "discrete:3=0")), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);

    CU_ASSERT_EQUAL(read_holding(ctx, 99, 4, regs, &err), 4);
    CU_ASSERT_EQUAL(regs[0], 99);           /* neighbours keep defaults */
    CU_ASSERT_EQUAL(regs[1], 0x42F6);
    CU_ASSERT_EQUAL(regs[2], 0xE979);
    CU_ASSERT_EQUAL(regs[3], 102);
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_abcd(&regs[1]), 123.456, 1e-4);

    CU_ASSERT_EQUAL(modbus_read_bits(ctx, 10, 3, bits), 3);
    CU_ASSERT_EQUAL(bits[0], 1);            /* defaults would be 0,1,0 */
    CU_ASSERT_EQUAL(bits[1], 0);
    CU_ASSERT_EQUAL(bits[2], 1);
    CU_ASSERT_EQUAL(modbus_read_input_registers(ctx, 7, 1, regs), 1);
    CU_ASSERT_EQUAL(regs[0], 0xFFFF);
    CU_ASSERT_EQUAL(modbus_read_input_bits(ctx, 3, 1, bits), 1);
    CU_ASSERT_EQUAL(bits[0], 0);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* ---- the device: misbehaviour -------------------------------------- */

static void test_illegal_address(void)
{
    static const struct {
        int fc, addr, count, err;   /* err 0: the read succeeds */
    } reads[] = {
        { 3, 195, 10, EMBXILADD },  /* covers 200 */
        { 3, 200, 1, EMBXILADD },
        { 3, 190, 10, 0 },          /* 190..199 stops short of it */
        { 3, 201, 5, 0 },
        { 4, 200, 1, 0 },           /* same address, other table */
        { 4, 12, 2, EMBXILADD },    /* range 10-12 */
        { 4, 5, 5, 0 },             /* 5..9 */
        { 4, 13, 8, 0 },
        { 3, 0, 125, 0 },
    };
    struct testdev dev;
    modbus_t *ctx;

    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS(
        "--illegal", "holding:200", "--illegal", "input:10-12")), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    /* one connection throughout: exceptions must not break it */
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        uint16_t regs[125];
        int rc;

        errno = 0;
        rc = reads[i].fc == 3
                 ? modbus_read_registers(ctx, reads[i].addr, reads[i].count, regs)
                 : modbus_read_input_registers(ctx, reads[i].addr,
                                               reads[i].count, regs);
        if (reads[i].err) {
            CU_ASSERT_EQUAL(rc, -1);
            CU_ASSERT_EQUAL(errno, reads[i].err);
        } else {
            CU_ASSERT_EQUAL(rc, reads[i].count);
        }
    }
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_busy_then_success(void)
{
    struct testdev dev;
    modbus_t *ctx;
    uint16_t regs[2];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--busy", "2")), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 40, 2, regs, &err), -1);
    CU_ASSERT_EQUAL(err, EMBXSBUSY);
    CU_ASSERT_EQUAL(read_holding(ctx, 40, 2, regs, &err), -1);
    CU_ASSERT_EQUAL(err, EMBXSBUSY);
    CU_ASSERT_EQUAL(read_holding(ctx, 40, 2, regs, &err), 2);
    CU_ASSERT_EQUAL(regs[0], 40);
    CU_ASSERT_EQUAL(regs[1], 41);
    CU_ASSERT_EQUAL(read_holding(ctx, 40, 2, regs, &err), 2);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_delay(void)
{
    struct testdev dev;
    modbus_t *ctx;
    uint16_t regs[1];
    long long t0, elapsed;
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--delay-ms", "300")), 0);
    ctx = client(dev.port, 1, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 7, 1, regs, &err), -1);
    CU_ASSERT_EQUAL(err, ETIMEDOUT);
    client_free(ctx);

    /* a patient client gets the answer, no earlier than the delay */
    ctx = client(dev.port, 1, 3000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    t0 = mono_ms();
    CU_ASSERT_EQUAL(read_holding(ctx, 7, 1, regs, &err), 1);
    elapsed = mono_ms() - t0;
    CU_ASSERT_EQUAL(regs[0], 7);
    CU_ASSERT(elapsed >= 295);
    CU_ASSERT(elapsed < 2500);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_silent_unit(void)
{
    struct testdev dev;
    char log_path[512];
    struct testdev_log log;
    modbus_t *ctx;
    uint16_t regs[1];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(temp_path(log_path, sizeof(log_path), "silent.log"), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS(
        "--silent-unit", "5", "--log", log_path)), 0);
    ctx = client(dev.port, 5, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 3, 1, regs, &err), -1);
    CU_ASSERT_EQUAL(err, ETIMEDOUT);
    /* same connection, another unit: answered, and no late answer for 5 */
    modbus_set_slave(ctx, 1);
    CU_ASSERT_EQUAL(read_holding(ctx, 3, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 3);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);

    /* the unanswered request was still received and logged */
    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT_EQUAL(log.total, 2);
    CU_ASSERT_EQUAL(log.by_unit[5], 1);
    CU_ASSERT_EQUAL(log.by_unit[1], 1);
    testdev_log_free(&log);
}

static void test_unit_restriction(void)
{
    struct testdev dev;
    modbus_t *ctx;
    uint16_t regs[1];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--unit", "3")), 0);
    ctx = client(dev.port, 3, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 9, 1, regs, &err), 1);
    modbus_set_slave(ctx, 4);
    CU_ASSERT_EQUAL(read_holding(ctx, 9, 1, regs, &err), -1);
    CU_ASSERT_EQUAL(err, ETIMEDOUT);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);

    /* a gateway that says so: exception 11 */
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS(
        "--unit", "3", "--absent-exception")), 0);
    ctx = client(dev.port, 4, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 9, 1, regs, &err), -1);
    CU_ASSERT_EQUAL(err, EMBXGTAR);
    modbus_set_slave(ctx, 3);
    CU_ASSERT_EQUAL(read_holding(ctx, 9, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 9);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_drop_after(void)
{
    struct testdev dev;
    char log_path[512];
    struct testdev_log log;
    modbus_t *ctx;
    uint16_t regs[1];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(temp_path(log_path, sizeof(log_path), "drop.log"), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS(
        "--drop-after", "2", "--log", log_path)), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 1, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(read_holding(ctx, 2, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 2);
    /* the device closed the connection after its second answer */
    CU_ASSERT_EQUAL(read_holding(ctx, 3, 1, regs, &err), -1);
    /* and accepts the next one */
    modbus_close(ctx);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(ctx), 0);
    CU_ASSERT_EQUAL(read_holding(ctx, 4, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 4);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);

    /* the request sent into the closed connection never arrived */
    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT_EQUAL(log.total, 3);
    if (log.total == 3) {
        CU_ASSERT_EQUAL(log.requests[0].address, 1);
        CU_ASSERT_EQUAL(log.requests[1].address, 2);
        CU_ASSERT_EQUAL(log.requests[2].address, 4);
    }
    testdev_log_free(&log);
}

static void test_bad_tid(void)
{
    struct testdev dev;
    modbus_t *ctx;
    uint16_t regs[1];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--bad-tid")), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(read_holding(ctx, 11, 1, regs, &err), -1);
    CU_ASSERT_EQUAL(err, EMBBADDATA);
    /* only the first answer is wrong */
    CU_ASSERT_EQUAL(read_holding(ctx, 11, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 11);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

static void test_concurrent_clients(void)
{
    struct testdev dev;
    modbus_t *a, *b;
    uint16_t regs[1];
    int err;

    unread(regs, sizeof(regs));
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, NULL), 0);
    a = client(dev.port, 1, 1000);
    b = client(dev.port, 2, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(read_holding(b, 20, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 20);
    CU_ASSERT_EQUAL(read_holding(a, 21, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 21);
    client_free(b);
    CU_ASSERT_EQUAL(read_holding(a, 22, 1, regs, &err), 1);
    CU_ASSERT_EQUAL(regs[0], 22);
    client_free(a);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
}

/* ---- the device: witness of writes, log format --------------------- */

static void test_writes_refused_and_logged(void)
{
    static const struct testdev_request want[] = {
        { 1, 6, 5, 1 }, { 1, 5, 8, 1 }, { 1, 16, 10, 3 }, { 1, 15, 20, 4 },
        { 1, 3, 5, 1 }, { 1, 1, 8, 1 }, { 1, 3, 10, 3 },
    };
    struct testdev dev;
    char log_path[512];
    struct testdev_log log;
    modbus_t *ctx;
    uint16_t values[3] = { 1, 2, 3 };
    uint8_t bits[4] = { 1, 1, 1, 1 };
    uint16_t regs[3];
    uint8_t bit;

    unread(regs, sizeof(regs));
    unread(&bit, sizeof(bit));
    CU_ASSERT_EQUAL_FATAL(temp_path(log_path, sizeof(log_path), "writes.log"), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--log", log_path)), 0);
    ctx = client(dev.port, 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);

    errno = 0;
    CU_ASSERT_EQUAL(modbus_write_register(ctx, 5, 999), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_write_bit(ctx, 8, 1), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_write_registers(ctx, 10, 3, values), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_write_bits(ctx, 20, 4, bits), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);

    /* nothing changed */
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 5, 1, regs), 1);
    CU_ASSERT_EQUAL(regs[0], 5);
    CU_ASSERT_EQUAL(modbus_read_bits(ctx, 8, 1, &bit), 1);
    CU_ASSERT_EQUAL(bit, 0);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 10, 3, regs), 3);
    CU_ASSERT_EQUAL(regs[2], 12);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);

    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT_EQUAL_FATAL(log.total, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < log.total; i++) {
        CU_ASSERT_EQUAL(log.requests[i].unit, want[i].unit);
        CU_ASSERT_EQUAL(log.requests[i].fc, want[i].fc);
        CU_ASSERT_EQUAL(log.requests[i].address, want[i].address);
        CU_ASSERT_EQUAL(log.requests[i].count, want[i].count);
    }
    CU_ASSERT_EQUAL(log.non_read, 4);
    CU_ASSERT_EQUAL(log.by_fc[3], 2);
    CU_ASSERT_EQUAL(log.by_fc[16], 1);
    testdev_log_free(&log);
}

static void test_log_format(void)
{
    struct testdev dev;
    char log_path[512];
    modbus_t *ctx;
    uint16_t regs[2];
    uint8_t bits[3];
    char *text;

    CU_ASSERT_EQUAL_FATAL(temp_path(log_path, sizeof(log_path), "format.log"), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--log", log_path)), 0);
    ctx = client(dev.port, 7, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 100, 2, regs), 2);
    /* flushed per line: visible as soon as the answer is */
    text = slurp(log_path);
    CU_ASSERT_STRING_EQUAL(text ? text : "", "7 3 100 2\n");
    free(text);
    modbus_set_slave(ctx, 255);
    CU_ASSERT_EQUAL(modbus_read_input_bits(ctx, 65533, 3, bits), 3);
    CU_ASSERT_EQUAL(modbus_read_input_registers(ctx, 0, 1, regs), 1);
    CU_ASSERT_EQUAL(modbus_read_bits(ctx, 1, 1, bits), 1);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
    text = slurp(log_path);
    CU_ASSERT_STRING_EQUAL(text ? text : "",
                           "7 3 100 2\n255 2 65533 3\n255 4 0 1\n255 1 1 1\n");
    free(text);

    /* a second device on the same file appends */
    CU_ASSERT_EQUAL_FATAL(testdev_start(&dev, ARGS("--log", log_path)), 0);
    ctx = client(dev.port, 2, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 1, regs), 1);
    client_free(ctx);
    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
    text = slurp(log_path);
    CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "255 1 1 1\n2 3 0 1\n") : NULL);
    free(text);
}

/* ---- the device over RTU ------------------------------------------- */

static void test_rtu_over_pty_pair(void)
{
    struct pty_pair pty;
    struct testdev dev;
    char log_path[512];
    struct testdev_log log;
    modbus_t *ctx;
    uint16_t regs[4];
    int rc;

    unread(regs, sizeof(regs));
    rc = pty_pair_start(&pty);
    if (rc == -ENOENT) {
        fprintf(stderr, "socat not installed: RTU test skipped\n");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(strncmp(pty.a, "/dev/pts/", 9) == 0);
    CU_ASSERT(strncmp(pty.b, "/dev/pts/", 9) == 0);
    CU_ASSERT_STRING_NOT_EQUAL(pty.a, pty.b);

    CU_ASSERT_EQUAL_FATAL(temp_path(log_path, sizeof(log_path), "rtu.log"), 0);
    rc = testdev_start(&dev, ARGS("--rtu", pty.b, "--baud", "9600",
                                  "--parity", "N", "--silent-unit", "9",
                                  "--set", "holding:2=0xBEEF",
                                  "--log", log_path));
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(dev.port, 0);
    if (rc != 0) {
        pty_pair_stop(&pty);
        return;
    }
    ctx = modbus_new_rtu(pty.a, 9600, 'N', 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    modbus_set_response_timeout(ctx, 1, 0);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(ctx), 0);

    modbus_set_slave(ctx, 1);
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 4, regs), 4);
    CU_ASSERT_EQUAL(regs[1], 1);
    CU_ASSERT_EQUAL(regs[2], 0xBEEF);
    CU_ASSERT_EQUAL(regs[3], 3);
    modbus_set_slave(ctx, 2);               /* every unit id answers */
    CU_ASSERT_EQUAL(modbus_read_input_registers(ctx, 5, 1, regs), 1);
    CU_ASSERT_EQUAL(regs[0], 0x8005);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_write_register(ctx, 0, 1), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    modbus_set_slave(ctx, 9);
    modbus_set_response_timeout(ctx, 0, 200000);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_read_registers(ctx, 0, 1, regs), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    modbus_close(ctx);
    modbus_free(ctx);

    CU_ASSERT_EQUAL(testdev_stop(&dev), 0);
    CU_ASSERT_EQUAL(pty_pair_stop(&pty), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_log_read(log_path, &log), 0);
    CU_ASSERT_EQUAL(log.total, 4);
    CU_ASSERT_EQUAL(log.by_unit[1], 1);
    CU_ASSERT_EQUAL(log.by_unit[2], 2);
    CU_ASSERT_EQUAL(log.by_unit[9], 1);
    CU_ASSERT_EQUAL(log.by_fc[6], 1);
    testdev_log_free(&log);
}

/* ---- the harness --------------------------------------------------- */

static void test_run_capture(void)
{
    char *out = NULL, *err = NULL;
    int status = -1;

    CU_ASSERT_EQUAL(run_capture(ARGS("/bin/sh", "-c",
        "echo to-out; echo to-err >&2; exit 3"), &out, &err, 10, &status), 0);
    CU_ASSERT_STRING_EQUAL(out ? out : "(null)", "to-out\n");
    CU_ASSERT_STRING_EQUAL(err ? err : "(null)", "to-err\n");
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    free(out);
    free(err);

    /* large output on both streams is captured fully, no deadlock */
    CU_ASSERT_EQUAL(run_capture(ARGS("/bin/sh", "-c",
        "head -c 300000 /dev/zero | tr '\\0' a; "
        "head -c 200000 /dev/zero | tr '\\0' b >&2"), &out, &err, 30, &status), 0);
    CU_ASSERT_EQUAL(out ? strlen(out) : 0, 300000);
    CU_ASSERT_EQUAL(err ? strlen(err) : 0, 200000);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
    free(err);

    /* a program that never ends is killed at the timeout */
    CU_ASSERT_EQUAL(run_capture(ARGS("/bin/sh", "-c",
        "echo started; exec tail -f /dev/null"), &out, NULL, 1, &status),
        -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(out ? out : "(null)", "started\n");
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    free(out);

    CU_ASSERT_EQUAL(run_capture(ARGS("/nonexistent/program"), &out, &err, 5,
                                &status), -ENOENT);
    free(out);
    free(err);
}

static void test_spawn_and_wait_file(void)
{
    char path[512], out_path[512];
    pid_t pid = 0;
    int status = -1;

    CU_ASSERT_EQUAL_FATAL(temp_path(path, sizeof(path), "spawned.out"), 0);
    CU_ASSERT_EQUAL_FATAL(temp_path(out_path, sizeof(out_path), "spawned.log"), 0);
    CU_ASSERT_EQUAL_FATAL(spawn_process_logged(ARGS("/bin/sh", "-c",
        "echo started; echo ready > \"$0\"; exec tail -f /dev/null", path),
        out_path, &pid), 0);
    CU_ASSERT(pid > 0);
    CU_ASSERT_EQUAL(wait_file_contains(path, "ready", 10000), 0);
    CU_ASSERT_EQUAL(wait_file_contains(out_path, "started", 10000), 0);
    CU_ASSERT_EQUAL(wait_file_contains(path, "never written", 200), -ETIMEDOUT);
    CU_ASSERT_EQUAL(wait_process(pid, 0, &status), -ETIMEDOUT);
    CU_ASSERT_EQUAL(stop_process(pid, &status), 0);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

    CU_ASSERT_EQUAL(spawn_process(ARGS("/bin/sh", "-c", "exit 4"), &pid), 0);
    CU_ASSERT_EQUAL(wait_process(pid, 10000, &status), 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 4);
    CU_ASSERT_EQUAL(spawn_process(ARGS("no-such-program-gw"), &pid), -ENOENT);
}

static void test_temp_files_and_log_parser(void)
{
    char a[512], b[512], dir[512], named[512];
    struct testdev_log log;
    struct stat st;
    char *text;

    CU_ASSERT_PTR_NOT_NULL_FATAL(harness_tmpdir());
    CU_ASSERT_EQUAL(write_temp_file(a, sizeof(a), "one"), 0);
    CU_ASSERT_EQUAL(write_temp_file(b, sizeof(b), "two"), 0);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    text = slurp(a);
    CU_ASSERT_STRING_EQUAL(text ? text : "", "one");
    free(text);
    CU_ASSERT_EQUAL(stat(a, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

    CU_ASSERT_EQUAL(write_temp_file_named("profiles/sub/x.conf", "p = 1;\n",
                                          named, sizeof(named)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(named, "/profiles/sub/x.conf"));
    text = slurp(named);
    CU_ASSERT_STRING_EQUAL(text ? text : "", "p = 1;\n");
    free(text);
    CU_ASSERT_EQUAL(write_temp_file_named("../escape", "x", NULL, 0), -EINVAL);
    CU_ASSERT_EQUAL(make_temp_dir(dir, sizeof(dir)), 0);
    CU_ASSERT(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

    CU_ASSERT_EQUAL(write_temp_file(a, sizeof(a),
        "1 3 0 10\n1 3 10 10\n2 4 5 1\n1 16 0 2\n"), 0);
    CU_ASSERT_EQUAL_FATAL(testdev_log_read(a, &log), 0);
    CU_ASSERT_EQUAL(log.total, 4);
    CU_ASSERT_EQUAL(log.by_fc[3], 2);
    CU_ASSERT_EQUAL(log.by_fc[4], 1);
    CU_ASSERT_EQUAL(log.by_unit[1], 3);
    CU_ASSERT_EQUAL(log.non_read, 1);
    CU_ASSERT_EQUAL(log.requests[1].address, 10);
    testdev_log_free(&log);
    CU_ASSERT_EQUAL(write_temp_file(a, sizeof(a), "1 3 0 10\n1 3 x\n"), 0);
    CU_ASSERT_EQUAL(testdev_log_read(a, &log), -EBADMSG);
    CU_ASSERT_EQUAL(temp_path(b, sizeof(b), "absent.log"), 0);
    CU_ASSERT_EQUAL(testdev_log_read(b, &log), 0);
    CU_ASSERT_EQUAL(log.total, 0);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "ready and clean stop", test_ready_and_clean_stop },
        { "bad flags rejected", test_bad_flags_rejected },
        { "default contents", test_default_contents },
        { "--set", test_set_values },
        { "--illegal: exception 2", test_illegal_address },
        { "--busy: exception 6 then success", test_busy_then_success },
        { "--delay-ms", test_delay },
        { "--silent-unit", test_silent_unit },
        { "--unit, --absent-exception", test_unit_restriction },
        { "--drop-after", test_drop_after },
        { "--bad-tid", test_bad_tid },
        { "concurrent clients", test_concurrent_clients },
        { "writes refused with exception 1, logged", test_writes_refused_and_logged },
        { "--log format", test_log_format },
        { "RTU over a pty pair", test_rtu_over_pty_pair },
        { "run_capture", test_run_capture },
        { "spawn, wait_file_contains, stop", test_spawn_and_wait_file },
        { "temp files, log parser", test_temp_files_and_log_parser },
    };
    CU_pSuite suite;
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("testdev", NULL, NULL);
    for (size_t i = 0; suite && i < sizeof(tests) / sizeof(tests[0]); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
