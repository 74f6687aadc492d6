/*
 * Device poll tests: device_poll through a scripted in-process reader that
 * serves a register image, answers exception 2 where told to (addresses,
 * reads longer than a limit, reads across a block boundary) or stops
 * answering, and logs every request.  Covers the plan's request count,
 * learning holes, marking and remembering illegal points, narrowing the
 * read limit, communication failure, bad samples, uncertain quality, the
 * kind plugin's calls, and the device's clock stamping samples.
 */
#include <CUnit/Basic.h>
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "device.h"
#include "harness.h"
#include "plugin.h"
#include "sample.h"
#include "scheduler.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* ---- the scripted reader ---------------------------------------------- */

struct request {
    enum gw_table table;
    unsigned address, count;
    enum gw_read_status answer;
};

struct refusal {
    enum gw_table table;
    unsigned from, to;   /* inclusive */
};

struct fake {
    uint16_t regs[GW_TABLE_COUNT][65536];   /* input and holding used */
    uint8_t bits[GW_TABLE_COUNT][65536];    /* coil and discrete used */
    struct refusal illegal[8];              /* exception 2 for reads touching these */
    size_t n_illegal;
    unsigned max_count;                     /* exception 2 for longer reads; 0: none */
    unsigned boundary;                      /* exception 2 for reads across boundary-1..boundary; 0: none */
    long answers_left;                      /* then COMM_FAILED for good; -1: never */
    bool oversized;                         /* a request the daemon's buffers cannot hold */
    struct request log[512];
    size_t n_log;
};

static struct fake fake;

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
    fake.answers_left = -1;
}

static bool touches(const struct refusal *r, enum gw_table table, unsigned address, unsigned count)
{
    return r->table == table && address <= r->to && address + count - 1 >= r->from;
}

static enum gw_read_status answer(enum gw_table table, unsigned address, unsigned count)
{
    if (fake.answers_left == 0)
        return GW_READ_COMM_FAILED;
    if (fake.answers_left > 0)
        fake.answers_left--;
    if (fake.max_count && count > fake.max_count)
        return GW_READ_ILLEGAL_ADDRESS;
    if (fake.boundary && address < fake.boundary && address + count > fake.boundary)
        return GW_READ_ILLEGAL_ADDRESS;
    for (size_t i = 0; i < fake.n_illegal; i++)
        if (touches(&fake.illegal[i], table, address, count))
            return GW_READ_ILLEGAL_ADDRESS;
    return GW_READ_OK;
}

static enum gw_read_status fake_read(void *io, enum gw_table table, uint16_t address, uint16_t count,
                                     uint16_t *regs, uint8_t *bits)
{
    struct fake *f = io;
    unsigned limit = gw_table_is_bits(table) ? 2000 : 125;
    if (count == 0 || count > limit || (unsigned)address + count > 65536u) {
        f->oversized = true;
        return GW_READ_COMM_FAILED;
    }
    enum gw_read_status st = answer(table, address, count);
    if (f->n_log < N(f->log))
        f->log[f->n_log++] = (struct request){ table, address, count, st };
    if (st != GW_READ_OK)
        return st;
    if (gw_table_is_bits(table))
        memcpy(bits, &f->bits[table][address], count);
    else
        memcpy(regs, &f->regs[table][address], count * sizeof *regs);
    return GW_READ_OK;
}

static const struct gw_reader reader = { .read = fake_read, .io = &fake };

/* Whether any request since log entry `from` touched [lo, hi] of table. */
static bool requested(size_t from, enum gw_table table, unsigned lo, unsigned hi)
{
    struct refusal r = { table, lo, hi };
    for (size_t i = from; i < fake.n_log; i++)
        if (touches(&r, fake.log[i].table, fake.log[i].address, fake.log[i].count))
            return true;
    return false;
}

static void print_log(const char *what, size_t from)
{
    fprintf(stderr, "\n  %s: requests:", what);
    for (size_t i = from; i < fake.n_log; i++)
        fprintf(stderr, " %s %u+%u%s", gw_table_names[fake.log[i].table], fake.log[i].address,
                fake.log[i].count, fake.log[i].answer == GW_READ_OK ? "" : "!");
    fprintf(stderr, "\n");
}

/* The requests since log entry `from` are exactly want[0..n). */
static bool log_is(const char *what, size_t from, const struct request *want, size_t n)
{
    bool same = fake.n_log - from == n;
    for (size_t i = 0; same && i < n; i++)
        same = fake.log[from + i].table == want[i].table && fake.log[from + i].address == want[i].address &&
               fake.log[from + i].count == want[i].count && fake.log[from + i].answer == want[i].answer;
    if (!same)
        print_log(what, from);
    return same;
}

#define H GW_TABLE_HOLDING
#define I GW_TABLE_INPUT
#define C GW_TABLE_COIL
#define OK GW_READ_OK
#define EX2 GW_READ_ILLEGAL_ADDRESS
#define DOWN GW_READ_COMM_FAILED

/* ---- a test plugin ----------------------------------------------------- */

/* Counts its calls; derive adds "sum" = a + b when both are good. */
struct calls {
    int init, derive, fini;
    int init_result;
    size_t readings_seen;     /* at the last derive */
    int64_t ts_seen;          /* the sample's time and interval at the last derive */
    double elapsed_seen;
    const struct gw_host *host;
    struct gw_device_info info;
};

static struct calls calls;
static int state_token;

static int counting_init(const struct gw_host *host, const struct gw_device_info *device, void **state)
{
    calls.init++;
    calls.host = host;
    calls.info = *device;
    *state = &state_token;
    return calls.init_result;
}

static int counting_derive(void *state, struct gw_sample *s)
{
    calls.derive++;
    calls.readings_seen = s->n_readings;
    calls.ts_seen = s->ts_ms;
    calls.elapsed_seen = s->elapsed_s;
    CU_ASSERT_PTR_EQUAL(state, &state_token);
    const struct gw_reading *a = calls.host->find(s, "a"), *b = calls.host->find(s, "b");
    if (a && b && a->quality == GW_QUALITY_GOOD && b->quality == GW_QUALITY_GOOD)
        return calls.host->add(s, "sum", "kW", a->value + b->value, GW_QUALITY_GOOD);
    return calls.host->add(s, "sum", "kW", 0, GW_QUALITY_BAD);
}

static void counting_fini(void *state)
{
    CU_ASSERT_PTR_EQUAL(state, &state_token);
    calls.fini++;
}

static const struct gw_plugin counting_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION, .kind = "counting",
    .init = counting_init, .derive = counting_derive, .fini = counting_fini,
};

/* A plugin that derives nothing, for tests about the poll alone. */
static int none_init(const struct gw_host *h, const struct gw_device_info *d, void **s)
{
    (void)h;
    (void)d;
    *s = NULL;
    return 0;
}
static int none_derive(void *s, struct gw_sample *x)
{
    (void)s;
    (void)x;
    return 0;
}
static void none_fini(void *s)
{
    (void)s;
}
static const struct gw_plugin none_plugin = {
    .abi_version = GW_PLUGIN_ABI_VERSION, .kind = "none",
    .init = none_init, .derive = none_derive, .fini = none_fini,
};

/* ---- a device from a configuration -------------------------------------- */

struct rig {
    struct gw_config *cfg;
    struct gw_device dev;
    struct gw_sample s;
    bool have_sample;
};

/* Load a configuration with one device "dev" whose keys (after id, bus
 * and unit) are `keys`, and prepare it with plugin. */
static int rig_open(struct rig *r, const char *keys, const struct gw_plugin *plugin)
{
    memset(r, 0, sizeof *r);
    int init_result = calls.init_result;
    calls = (struct calls){ .init_result = init_result };
    char *text = NULL;
    if (asprintf(&text,
                 "site = { id = \"t\"; };\n"
                 "daemon = { log_level = \"error\"; plugin_dir = \"%s\"; };\n"
                 "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
                 "devices = ( { id = \"dev\"; bus = \"b\"; unit = 1; interval_s = 2.5;\n%s\n} );\n",
                 GW_TEST_PLUGIN_DIR, keys) < 0)
        return -ENOMEM;
    char path[PATH_MAX];
    int rc = write_temp_file(path, sizeof path, text);
    free(text);
    if (rc)
        return rc;
    struct gw_diag diag = { 0 };
    rc = config_load(path, &r->cfg, &diag);
    if (rc) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "\n  %s", diag.lines[i]);
        diag_free(&diag);
        return rc;
    }
    diag_free(&diag);
    return device_init(&r->dev, &r->cfg->devices[0], plugin);
}

static int rig_poll(struct rig *r)
{
    if (r->have_sample)
        sample_free(&r->s);
    r->have_sample = true;
    return device_poll(&r->dev, &reader, &r->s);
}

static void rig_close(struct rig *r)
{
    if (r->have_sample)
        sample_free(&r->s);
    device_free(&r->dev);
    config_free(r->cfg);
    memset(r, 0, sizeof *r);
}

static const struct gw_reading *reading(const struct rig *r, const char *name)
{
    const struct gw_reading *x = sample_find(&r->s, name);
    if (!x)
        fprintf(stderr, "\n  no reading '%s'\n", name);
    return x;
}

static enum gw_quality quality(const struct rig *r, const char *name)
{
    const struct gw_reading *x = reading(r, name);
    return x ? x->quality : (enum gw_quality)-1;
}

static double value(const struct rig *r, const char *name)
{
    const struct gw_reading *x = reading(r, name);
    return x ? x->value : NAN;
}

/* A map of uint16 points p0..p(n-1) at first, first+step, ... of holding. */
static char *uint16_map(unsigned n, unsigned first, unsigned step)
{
    size_t cap = 64 + n * 80;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    size_t len = (size_t)snprintf(text, cap, "points = (\n");
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "  { name = \"p%u\"; table = \"holding\"; address = %u; }%s\n",
                                i, first + i * step, i + 1 < n ? "," : "");
    snprintf(text + len, cap - len, ");");
    return text;
}

/* ---- tests ------------------------------------------------------------- */

static void test_plan_and_values(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = (\n"
        "  { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "  { name = \"b\"; table = \"holding\"; address = 1; type = \"float32\"; },\n"
        "  { name = \"c\"; table = \"holding\"; address = 10; type = \"uint32\"; scale = 0.01; unit = \"kWh\"; },\n"
        "  { name = \"far\"; table = \"holding\"; address = 200; type = \"int16\"; },\n"
        "  { name = \"t\"; table = \"input\"; address = 7; type = \"int16\"; scale = 0.1; },\n"
        "  { name = \"run\"; table = \"coil\"; address = 3; type = \"bit\"; },\n"
        "  { name = \"trip\"; table = \"coil\"; address = 5; type = \"bit\"; },\n"
        "  { name = \"alarm\"; table = \"holding\"; address = 12; type = \"bit\"; bit = 3; }\n"
        ");", &counting_plugin), 0);
    fake.regs[H][0] = 1234;
    fake.regs[H][1] = 0x4049;   /* 3.140625f, exact */
    fake.regs[H][2] = 0x0000;
    fake.regs[H][10] = 0x0001;
    fake.regs[H][11] = 0x0002;  /* 65538 -> 655.38 */
    fake.regs[H][12] = 0x0008;
    fake.regs[H][200] = 0xFFFE;
    fake.regs[I][7] = (uint16_t)-215;
    fake.bits[C][3] = 1;
    fake.bits[C][5] = 0;

    /* holding 0..12 in one read (gaps within 10), holding 200, input 7, coils 3..5 */
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 4u);
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request want[] = {
        { C, 3, 3, OK }, { I, 7, 1, OK }, { H, 0, 13, OK }, { H, 200, 1, OK },
    };
    CU_ASSERT(log_is("plan", 0, want, N(want)));
    CU_ASSERT_EQUAL(r.dev.stats.requests, 4u);
    CU_ASSERT_EQUAL(r.dev.stats.polls, 1u);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);

    /* every profile point in profile order, then the derived one */
    static const char *const names[] = { "a", "b", "c", "far", "t", "run", "trip", "alarm", "sum" };
    CU_ASSERT_EQUAL_FATAL(r.s.n_readings, N(names));
    for (size_t i = 0; i < N(names); i++) {
        CU_ASSERT_STRING_EQUAL(r.s.readings[i].name, names[i]);
        CU_ASSERT_EQUAL(r.s.readings[i].quality, GW_QUALITY_GOOD);
    }
    CU_ASSERT_STRING_EQUAL(r.s.device_id, "dev");
    CU_ASSERT(r.s.ts_ms > 1600000000000);
    CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "a"), 1234, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "b"), 3.140625, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "c"), 655.38, 1e-9);
    CU_ASSERT_STRING_EQUAL(reading(&r, "c")->unit, "kWh");
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "far"), -2, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "t"), -21.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "run"), 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "trip"), 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "alarm"), 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "sum"), 1234 + 3.140625, 1e-9);

    /* the same plan again */
    size_t mark = fake.n_log;
    fake.regs[H][0] = 1;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT(log_is("second poll", mark, want, N(want)));
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "a"), 1, 0);
    CU_ASSERT(r.s.elapsed_s >= 0.0 && r.s.elapsed_s < 60.0);
    CU_ASSERT_EQUAL(r.dev.stats.polls, 2u);
    CU_ASSERT(!fake.oversized);
    rig_close(&r);
}

/* Exception 2 at an address between two points: both read fine alone, so
 * the gap is learned as a hole, and from the next poll on it is read
 * around without a failure. */
static void test_learns_hole(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"b\"; table = \"holding\"; address = 5; } );", &none_plugin), 0);
    fake.regs[H][0] = 11;
    fake.regs[H][5] = 55;
    fake.illegal[fake.n_illegal++] = (struct refusal){ H, 2, 2 };
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 1u);

    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request first[] = { { H, 0, 6, EX2 }, { H, 0, 1, OK }, { H, 5, 1, OK } };
    CU_ASSERT(log_is("isolating", 0, first, N(first)));
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_GOOD);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "a"), 11, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "b"), 55, 0);
    /* the whole gap is learned, not one address */
    CU_ASSERT_EQUAL_FATAL(r.dev.n_holes, 1u);
    CU_ASSERT_EQUAL(r.dev.holes[0].table, H);
    CU_ASSERT_EQUAL(r.dev.holes[0].from, 1);
    CU_ASSERT_EQUAL(r.dev.holes[0].to, 4);
    CU_ASSERT(!r.dev.illegal[0] && !r.dev.illegal[1]);
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 2u);

    for (int poll = 0; poll < 3; poll++) {
        size_t mark = fake.n_log;
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        static const struct request then[] = { { H, 0, 1, OK }, { H, 5, 1, OK } };
        CU_ASSERT(log_is("around the hole", mark, then, N(then)));
        CU_ASSERT(!requested(mark, H, 1, 4));
        CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
        CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_GOOD);
    }
    CU_ASSERT_EQUAL(r.dev.n_holes, 1u);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);
    CU_ASSERT_EQUAL(r.dev.stats.requests, 3u + 3 * 2);
    rig_close(&r);
}

/* Exception 2 on a point's own address: that point is bad, remembered and
 * not asked for again for an hour; the others stay good. */
static void test_illegal_point(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"b\"; table = \"holding\"; address = 1; },\n"
        "           { name = \"c\"; table = \"holding\"; address = 2; },\n"
        "           { name = \"d\"; table = \"holding\"; address = 3; } );", &counting_plugin), 0);
    for (unsigned i = 0; i < 4; i++)
        fake.regs[H][i] = (uint16_t)(100 + i);
    fake.illegal[fake.n_illegal++] = (struct refusal){ H, 2, 2 };

    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request first[] = {
        { H, 0, 4, EX2 }, { H, 0, 2, OK }, { H, 2, 2, EX2 }, { H, 2, 1, EX2 }, { H, 3, 1, OK },
    };
    CU_ASSERT(log_is("isolating a point", 0, first, N(first)));
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(quality(&r, "c"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(quality(&r, "d"), GW_QUALITY_GOOD);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "d"), 103, 0);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "sum"), 201, 0);   /* the plugin saw a and b */
    CU_ASSERT(r.dev.illegal[2]);
    CU_ASSERT(!r.dev.illegal[0] && !r.dev.illegal[1] && !r.dev.illegal[3]);
    CU_ASSERT_EQUAL(r.dev.n_holes, 0u);   /* a point, not a gap */

    for (int poll = 0; poll < 3; poll++) {
        size_t mark = fake.n_log;
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        static const struct request then[] = { { H, 0, 2, OK }, { H, 3, 1, OK } };
        CU_ASSERT(log_is("without the bad point", mark, then, N(then)));
        CU_ASSERT(!requested(mark, H, 2, 2));
        CU_ASSERT_EQUAL(quality(&r, "c"), GW_QUALITY_BAD);
        CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
        CU_ASSERT_EQUAL(quality(&r, "d"), GW_QUALITY_GOOD);
    }
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);
    CU_ASSERT_EQUAL(calls.derive, 4);

    /* An hour of polls later (1,440 at 2.5 s) c is asked for again: the
     * refusal may have passed.  It has: c reads good from then on. */
    fake.n_illegal = 0;
    int polls = 4;
    do {
        fake.n_log = 0;  /* the log holds a few polls' requests */
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        polls++;
    } while (!requested(0, H, 2, 2) && polls < 2000);
    CU_ASSERT_EQUAL(polls, 1441);
    CU_ASSERT_EQUAL(quality(&r, "c"), GW_QUALITY_GOOD);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "c"), 102, 0);
    static const struct request again[] = { { H, 0, 4, OK } };
    CU_ASSERT(log_is("all four at once again", 0, again, N(again)));
    CU_ASSERT(!r.dev.illegal[2]);
    rig_close(&r);
}

/* Two illegal points in one read, one of them the first point. */
static void test_two_illegal_points(void)
{
    fake_reset();
    struct rig r;
    char *map = uint16_map(8, 100, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, map, &none_plugin), 0);
    free(map);
    fake.illegal[fake.n_illegal++] = (struct refusal){ H, 100, 100 };
    fake.illegal[fake.n_illegal++] = (struct refusal){ H, 105, 105 };
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const char *const bad[] = { "p0", "p5" };
    static const char *const good[] = { "p1", "p2", "p3", "p4", "p6", "p7" };
    for (size_t i = 0; i < N(bad); i++)
        CU_ASSERT_EQUAL(quality(&r, bad[i]), GW_QUALITY_BAD);
    for (size_t i = 0; i < N(good); i++)
        CU_ASSERT_EQUAL(quality(&r, good[i]), GW_QUALITY_GOOD);
    size_t mark = fake.n_log;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request then[] = { { H, 101, 4, OK }, { H, 106, 2, OK } };
    CU_ASSERT(log_is("two bad points left out", mark, then, N(then)));
    for (size_t i = 0; i < N(good); i++)
        CU_ASSERT_EQUAL(quality(&r, good[i]), GW_QUALITY_GOOD);
    rig_close(&r);
}

/* A device serving no more than 16 registers at once: the limit narrows to
 * what was proven to work, and later polls fail no read. */
static void test_narrows_limit(void)
{
    fake_reset();
    struct rig r;
    char *map = uint16_map(40, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, map, &none_plugin), 0);
    free(map);
    for (unsigned i = 0; i < 40; i++)
        fake.regs[H][i] = (uint16_t)(1000 + i);
    fake.max_count = 16;
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 1u);
    CU_ASSERT_EQUAL(r.dev.limits.max_registers, 125);

    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request first[] = {
        { H, 0, 40, EX2 }, { H, 0, 20, EX2 }, { H, 0, 10, OK }, { H, 10, 10, OK },
        { H, 20, 20, EX2 }, { H, 20, 10, OK }, { H, 30, 10, OK },
    };
    CU_ASSERT(log_is("narrowing", 0, first, N(first)));
    for (unsigned i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%u", i);
        CU_ASSERT_EQUAL(quality(&r, name), GW_QUALITY_GOOD);
        CU_ASSERT_DOUBLE_EQUAL(value(&r, name), 1000 + i, 0);
    }
    CU_ASSERT_EQUAL(r.dev.limits.max_registers, 10);
    CU_ASSERT_EQUAL(r.dev.limits.max_bits, 2000);          /* other tables untouched */
    CU_ASSERT_EQUAL(r.cfg->devices[0].limits.max_registers, 125);  /* the configuration too */
    CU_ASSERT_EQUAL(r.dev.n_holes, 0u);
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 4u);

    size_t mark = fake.n_log;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request then[] = { { H, 0, 10, OK }, { H, 10, 10, OK }, { H, 20, 10, OK }, { H, 30, 10, OK } };
    CU_ASSERT(log_is("within the narrowed limit", mark, then, N(then)));
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);
    rig_close(&r);
}

/* The same for coils. */
static void test_narrows_bit_limit(void)
{
    fake_reset();
    struct rig r;
    size_t cap = 300 * 72 + 64, len = 0;
    char *map = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    len += (size_t)snprintf(map, cap, "points = (\n");
    for (unsigned i = 0; i < 300; i++)
        len += (size_t)snprintf(map + len, cap - len, "{ name = \"c%u\"; table = \"coil\"; address = %u; type = \"bit\"; }%s\n",
                                i, i, i < 299 ? "," : "");
    snprintf(map + len, cap - len, ");");
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, map, &none_plugin), 0);
    free(map);
    for (unsigned i = 0; i < 300; i += 3)
        fake.bits[C][i] = 1;
    fake.max_count = 100;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(r.dev.limits.max_bits, 75);
    CU_ASSERT_EQUAL(r.dev.limits.max_registers, 125);
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 4u);
    for (unsigned i = 0; i < 300; i++) {
        const struct gw_reading *x = &r.s.readings[i];
        CU_ASSERT_EQUAL(x->quality, GW_QUALITY_GOOD);
        CU_ASSERT_DOUBLE_EQUAL(x->value, i % 3 == 0, 0);
    }
    size_t mark = fake.n_log;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(fake.n_log - mark, 4u);
    for (size_t i = mark; i < fake.n_log; i++)
        CU_ASSERT(fake.log[i].answer == OK && fake.log[i].count == 75);
    rig_close(&r);
}

/* A device that refuses reads across an internal block boundary (98..101
 * spans blocks 0-99 and 100-199) while it also has a point of 4 registers:
 * whatever it learns, every point keeps being read. */
static void test_block_boundary(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"x\"; table = \"holding\"; address = 98; type = \"float32\"; },\n"
        "           { name = \"y\"; table = \"holding\"; address = 100; type = \"float32\"; },\n"
        "           { name = \"e\"; table = \"holding\"; address = 120; type = \"uint64\"; },\n"
        "           { name = \"s\"; table = \"holding\"; address = 130; type = \"string\"; count = 6; } );",
        &none_plugin), 0);
    fake.boundary = 100;
    fake.regs[H][123] = 7;
    static const struct request first[] = {
        { H, 98, 4, EX2 }, { H, 98, 2, OK }, { H, 100, 2, OK }, { H, 120, 16, OK },
    };
    /* The refusal looks like one of size; the limit narrows to the largest
     * point (s, 6 registers), not to the 2 registers proven. */
    static const struct request then[] = {
        { H, 98, 4, EX2 }, { H, 98, 2, OK }, { H, 100, 2, OK }, { H, 120, 4, OK }, { H, 130, 6, OK },
    };
    for (int poll = 0; poll < 4; poll++) {
        size_t mark = fake.n_log;
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        bool as_planned = poll == 0 ? log_is("across the boundary", mark, first, N(first))
                                    : log_is("across the boundary, later", mark, then, N(then));
        CU_ASSERT(as_planned);
        static const char *const names[] = { "x", "y", "e", "s" };
        for (size_t i = 0; i < N(names); i++)
            CU_ASSERT_EQUAL(quality(&r, names[i]), GW_QUALITY_GOOD);
        CU_ASSERT_DOUBLE_EQUAL(value(&r, "e"), 7, 0);
        CU_ASSERT_EQUAL(r.dev.limits.max_registers, 6);
        CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 3u);
    }
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);
    rig_close(&r);
}

static void test_comm_failed(void)
{
    static const char map[] =
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"b\"; table = \"holding\"; address = 100; },\n"
        "           { name = \"c\"; table = \"holding\"; address = 200; } );";

    /* the first read */
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, map, &counting_plugin), 0);
    fake.regs[H][0] = 5;
    fake.answers_left = 0;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_COMM_FAILED);
    static const struct request one[] = { { H, 0, 1, DOWN } };
    CU_ASSERT(log_is("down", 0, one, N(one)));
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(quality(&r, "c"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(quality(&r, "sum"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(calls.derive, 1);  /* derived points are still added, as bad */
    CU_ASSERT_EQUAL(r.dev.stats.polls, 1u);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 1u);
    /* a failure teaches nothing: the plan stays */
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 3u);
    CU_ASSERT_EQUAL(r.dev.n_holes, 0u);

    /* back again */
    size_t mark = fake.n_log;
    fake.answers_left = -1;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(fake.n_log - mark, 3u);
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "a"), 5, 0);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 1u);
    rig_close(&r);

    /* after the first read: the device answered, partly (device.h) */
    fake_reset();
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, map, &counting_plugin), 0);
    fake.regs[H][0] = 5;
    fake.answers_left = 1;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    static const struct request two[] = { { H, 0, 1, OK }, { H, 100, 1, DOWN } };
    CU_ASSERT(log_is("down after one read", 0, two, N(two)));
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(quality(&r, "c"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 0u);
    rig_close(&r);

    /* while isolating an exception 2: nothing is learned from a half
     * that did not answer */
    fake_reset();
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"b\"; table = \"holding\"; address = 5; } );", &none_plugin), 0);
    fake.illegal[fake.n_illegal++] = (struct refusal){ H, 2, 2 };
    fake.answers_left = 2;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_COMM_FAILED);
    static const struct request three[] = { { H, 0, 6, EX2 }, { H, 0, 1, OK }, { H, 5, 1, DOWN } };
    CU_ASSERT(log_is("down while isolating", 0, three, N(three)));
    CU_ASSERT_EQUAL(quality(&r, "a"), GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(quality(&r, "b"), GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(r.dev.n_holes, 0u);
    CU_ASSERT(!r.dev.illegal[1]);
    CU_ASSERT_EQUAL(device_plan_reads(&r.dev), 1u);
    rig_close(&r);
}

static void test_bad_sample(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; unit = \"V\"; },\n"
        "           { name = \"b\"; table = \"input\"; address = 9; type = \"string\"; count = 4; } );",
        &counting_plugin), 0);
    CU_ASSERT_EQUAL(device_bad_sample(&r.dev, &r.s), 0);
    r.have_sample = true;
    CU_ASSERT_EQUAL(fake.n_log, 0u);   /* nothing read */
    CU_ASSERT_EQUAL_FATAL(r.s.n_readings, 3u);
    CU_ASSERT_STRING_EQUAL(r.s.readings[0].name, "a");
    CU_ASSERT_STRING_EQUAL(r.s.readings[0].unit, "V");
    CU_ASSERT_STRING_EQUAL(r.s.readings[1].name, "b");
    CU_ASSERT_PTR_NULL(r.s.readings[1].text);
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(r.s.readings[i].quality, GW_QUALITY_BAD);
    CU_ASSERT_STRING_EQUAL(r.s.device_id, "dev");
    CU_ASSERT(r.s.ts_ms > 1600000000000);
    CU_ASSERT_EQUAL(r.dev.stats.polls, 1u);
    CU_ASSERT_EQUAL(r.dev.stats.failed_polls, 1u);
    CU_ASSERT_EQUAL(r.dev.stats.requests, 0u);
    CU_ASSERT_EQUAL(calls.derive, 1);
    /* a bad reading is never published as a number */
    char *json = sample_to_json(&r.s, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"points\":{}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"a\":\"bad\""));
    free(json);
    rig_close(&r);
}

/* The reading object as JSON: device text with quotes, backslashes and
 * controls escaped, UTF-8 as is; numbers the shortest text that reads back
 * as the same double; cJSON parses it back to the same values. */
static void test_sample_json(void)
{
    static const double numbers[] = { 21.37, 0.1, 1.0 / 3.0, -0.5, 0.0, 1e20, 123456789012.25, 0.1 + 0.2 };
    static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    struct gw_sample s;
    CU_ASSERT_EQUAL_FATAL(sample_init(&s, "dev", 0), 0);
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        CU_ASSERT_EQUAL(sample_add(&s, names[i], "kW", numbers[i], GW_QUALITY_GOOD), 0);
    CU_ASSERT_EQUAL_FATAL(sample_add(&s, "label", "", NAN, GW_QUALITY_GOOD), 0);
    s.readings[s.n_readings - 1].text = strdup("say \"hi\" \\ tab\tdel\x7f\x01 \xe5\x86\xb7\xe6\xb0\xb4");
    char *json = sample_to_json(&s, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"label\":\"say \\\"hi\\\" \\\\ tab\\u0009del\\u007f\\u0001 \xe5\x86\xb7\xe6\xb0\xb4\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"a\":21.37,\"b\":0.1,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"h\":0.30000000000000004"));
    cJSON *doc = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(points, names[i]);
        CU_ASSERT(cJSON_IsNumber(v) && v->valuedouble == numbers[i]);
    }
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(points, "label");
    CU_ASSERT(cJSON_IsString(label) && strcmp(label->valuestring, s.readings[s.n_readings - 1].text) == 0);
    cJSON_Delete(doc);
    free(json);
    sample_free(&s);
}

/* Sentinels, NaN and values outside min/max come out uncertain, next to
 * good points of the same read; a string carries its text. */
static void test_uncertain_passes_through(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = (\n"
        "  { name = \"ok\"; table = \"holding\"; address = 0; max = 100.0; },\n"
        "  { name = \"high\"; table = \"holding\"; address = 1; max = 100.0; },\n"
        "  { name = \"low\"; table = \"holding\"; address = 2; type = \"int16\"; min = -10.0; },\n"
        "  { name = \"none\"; table = \"holding\"; address = 3; sentinel = [ 0xFFFF ]; },\n"
        "  { name = \"nan\"; table = \"holding\"; address = 4; type = \"float32\"; },\n"
        "  { name = \"name\"; table = \"holding\"; address = 6; type = \"string\"; count = 3; }\n"
        ");", &none_plugin), 0);
    fake.regs[H][0] = 42;
    fake.regs[H][1] = 500;
    fake.regs[H][2] = (uint16_t)-11;
    fake.regs[H][3] = 0xFFFF;
    fake.regs[H][4] = 0x7FC0;   /* quiet NaN */
    fake.regs[H][5] = 0x0000;
    fake.regs[H][6] = ('C' << 8) | 'H';
    fake.regs[H][7] = ('-' << 8) | '1';
    fake.regs[H][8] = 0;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(fake.n_log, 1u);
    static const struct {
        const char *name;
        enum gw_quality q;
    } want[] = {
        { "ok", GW_QUALITY_GOOD }, { "high", GW_QUALITY_UNCERTAIN }, { "low", GW_QUALITY_UNCERTAIN },
        { "none", GW_QUALITY_UNCERTAIN }, { "nan", GW_QUALITY_UNCERTAIN }, { "name", GW_QUALITY_GOOD },
    };
    for (size_t i = 0; i < N(want); i++) {
        if (quality(&r, want[i].name) != want[i].q)
            fprintf(stderr, "\n  %s: quality %d, want %d\n", want[i].name, quality(&r, want[i].name), want[i].q);
        CU_ASSERT_EQUAL(quality(&r, want[i].name), want[i].q);
    }
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "ok"), 42, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reading(&r, "name")->text);
    CU_ASSERT_STRING_EQUAL(reading(&r, "name")->text, "CH-1");
    /* and the next poll's text replaces it, not leaks */
    fake.regs[H][7] = ('-' << 8) | '2';
    fake.regs[H][1] = 50;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_STRING_EQUAL(reading(&r, "name")->text, "CH-2");
    CU_ASSERT_EQUAL(quality(&r, "high"), GW_QUALITY_GOOD);
    rig_close(&r);
}

/* The generic kind, loaded by kinds_load from the build's plugin
 * directory: device_init gets its descriptor, and it is called. */
static const struct gw_plugin *generic;
static int generic_calls[3];
static void *generic_state_seen = (void *)1;

static int wrap_init(const struct gw_host *host, const struct gw_device_info *device, void **state)
{
    generic_calls[0]++;
    *state = (void *)1;  /* the generic init must set it */
    int rc = generic->init(host, device, state);
    generic_state_seen = *state;
    return rc;
}
static int wrap_derive(void *state, struct gw_sample *s)
{
    generic_calls[1]++;
    return generic->derive(state, s);
}
static void wrap_fini(void *state)
{
    generic_calls[2]++;
    generic->fini(state);
}

static void test_generic_plugin(void)
{
    fake_reset();
    struct rig r;
    /* kinds_load needs the configuration; load it through a first rig */
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, "points = ( { name = \"a\"; table = \"input\"; address = 3; } );", &none_plugin), 0);
    struct gw_kinds kinds;
    struct gw_diag diag = { 0 };
    CU_ASSERT_EQUAL_FATAL(kinds_load(r.cfg, &kinds, &diag), 0);
    CU_ASSERT_EQUAL(diag.n, 0u);
    diag_free(&diag);
    generic = kinds_find(&kinds, "generic");
    CU_ASSERT_PTR_NOT_NULL_FATAL(generic);
    CU_ASSERT_STRING_EQUAL(r.cfg->devices[0].kind, "generic");

    /* as the engine does it */
    device_free(&r.dev);
    CU_ASSERT_EQUAL_FATAL(device_init(&r.dev, &r.cfg->devices[0], generic), 0);
    CU_ASSERT_PTR_EQUAL(r.dev.plugin, generic);
    CU_ASSERT_PTR_NULL(r.dev.plugin_state);
    fake.regs[I][3] = 77;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(r.s.n_readings, 1u);   /* generic derives nothing */
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "a"), 77, 0);
    device_free(&r.dev);

    /* its functions are the ones called */
    const struct gw_plugin wrapped = {
        .abi_version = generic->abi_version, .kind = generic->kind,
        .init = wrap_init, .derive = wrap_derive, .fini = wrap_fini,
    };
    CU_ASSERT_EQUAL_FATAL(device_init(&r.dev, &r.cfg->devices[0], &wrapped), 0);
    CU_ASSERT_EQUAL(generic_calls[0], 1);
    CU_ASSERT_PTR_NULL(generic_state_seen);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(generic_calls[1], 3);
    CU_ASSERT_EQUAL(generic_calls[2], 0);
    sample_free(&r.s);
    r.have_sample = false;
    device_free(&r.dev);
    CU_ASSERT_EQUAL(generic_calls[2], 1);
    config_free(r.cfg);
    kinds_free(&kinds);
}

/* init gets the device as configured; fini follows; a refused init leaves
 * nothing to free and no fini. */
static void test_plugin_lifecycle(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "kind = \"counting\"; tags = { building = \"T1\"; energy = \"electricity\"; };\n"
        "params = { rated_kw = 250; design_flow = 41.5; };\n"
        "points = ( { name = \"b\"; table = \"holding\"; address = 1; },\n"
        "           { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"kwh\"; table = \"input\"; address = 0; type = \"uint32\";\n"
        "             scale = 0.01; counter = true; },\n"
        "           { name = \"m3\"; table = \"input\"; address = 2; type = \"float32\"; counter = true; } );",
        &counting_plugin), 0);
    CU_ASSERT_EQUAL(calls.init, 1);
    CU_ASSERT_STRING_EQUAL(calls.info.id, "dev");
    CU_ASSERT_STRING_EQUAL(calls.info.kind, "counting");
    CU_ASSERT_DOUBLE_EQUAL(calls.info.interval_s, 2.5, 0);
    CU_ASSERT_EQUAL_FATAL(calls.info.n_tags, 2u);
    CU_ASSERT_STRING_EQUAL(calls.info.tags[1].key, "energy");
    CU_ASSERT_STRING_EQUAL(calls.info.tags[1].value, "electricity");
    CU_ASSERT_EQUAL_FATAL(calls.info.n_points, 4u);
    CU_ASSERT_STRING_EQUAL(calls.info.points[0].name, "b");   /* profile order */
    CU_ASSERT_STRING_EQUAL(calls.info.points[1].name, "a");
    CU_ASSERT_FALSE(calls.info.points[0].is_counter);
    CU_ASSERT_TRUE(calls.info.points[2].is_counter);
    CU_ASSERT_DOUBLE_EQUAL(calls.info.points[2].wrap, 42949672.96, 1e-6);  /* 2^32 x 0.01 */
    CU_ASSERT_TRUE(calls.info.points[3].is_counter);
    CU_ASSERT_DOUBLE_EQUAL(calls.info.points[3].wrap, 0.0, 0);            /* floats do not wrap */
    CU_ASSERT_EQUAL_FATAL(calls.info.n_params, 2u);
    CU_ASSERT_STRING_EQUAL(calls.info.params[0].key, "rated_kw");
    CU_ASSERT_DOUBLE_EQUAL(calls.info.params[0].value, 250.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(calls.info.params[1].value, 41.5, 0);
    CU_ASSERT_EQUAL(r.dev.interval_ns, 2500000000LL);
    CU_ASSERT_PTR_EQUAL(r.dev.plugin_state, &state_token);
    fake.regs[H][0] = 3;
    fake.regs[H][1] = 4;
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(calls.derive, 1);
    CU_ASSERT_EQUAL(calls.readings_seen, 4u);  /* derive runs after every point is decoded */
    CU_ASSERT_EQUAL_FATAL(r.s.n_readings, 5u);
    CU_ASSERT_STRING_EQUAL(r.s.readings[4].name, "sum");
    CU_ASSERT_STRING_EQUAL(r.s.readings[4].unit, "kW");
    CU_ASSERT_DOUBLE_EQUAL(r.s.readings[4].value, 7, 0);
    CU_ASSERT_EQUAL(r.s.readings[4].quality, GW_QUALITY_GOOD);
    rig_close(&r);
    CU_ASSERT_EQUAL(calls.fini, 1);

    calls = (struct calls){ .init_result = -EINVAL };
    CU_ASSERT_EQUAL(rig_open(&r, "kind = \"counting\"; points = ( { name = \"a\"; table = \"holding\"; address = 0; } );",
                             &counting_plugin), -EINVAL);
    calls.init_result = 0;
    CU_ASSERT_EQUAL(calls.init, 1);
    CU_ASSERT_PTR_NULL(r.dev.plugin);
    CU_ASSERT_PTR_NULL(r.dev.illegal);
    device_free(&r.dev);  /* harmless on a device whose init failed */
    config_free(r.cfg);
    CU_ASSERT_EQUAL(calls.fini, 0);
}

/* ---- the device's clock ---------------------------------------------- */

/* 2011-01-01T00:00:00Z: far enough from any wall clock this runs under
 * that a sample stamped by the wall clock cannot pass for it. */
#define T0 1293840000LL

/* Put value into the registers of a clock point of type at address of
 * holding, big-endian (ABCD), by hand. */
static void put_clock(enum gw_type type, unsigned address, double value)
{
    uint64_t bits;
    unsigned n = type == GW_TYPE_UINT32 || type == GW_TYPE_INT32 ? 2 : 4;
    if (type == GW_TYPE_FLOAT64)
        memcpy(&bits, &value, sizeof bits);
    else
        bits = (uint64_t)(int64_t)value;
    for (unsigned i = 0; i < n; i++)
        fake.regs[H][address + i] = (uint16_t)(bits >> (16 * (n - 1 - i)));
}

/* A good clock reading stamps the sample, in seconds or milliseconds,
 * through scale and offset; the clock is still published; the interval
 * follows the clock, not the wall. */
static void test_clock_stamps(void)
{
    static const struct {
        const char *what, *keys;
        enum gw_type type;
        double raw, step;       /* the clock's raw value, and its raw step for 300 s */
        int64_t ts_ms;
        double later;           /* the clock's published value after the step */
    } cases[] = {
        { "uint32 s", "type = \"uint32\";", GW_TYPE_UINT32, (double)T0, 300, T0 * 1000, T0 + 300 },
        { "uint64 ms", "type = \"uint64\"; timestamp_unit = \"ms\";", GW_TYPE_UINT64,
          (double)(T0 * 1000 + 123), 300000, T0 * 1000 + 123, (T0 + 300) * 1000 + 123 },
        { "int64 ms", "type = \"int64\"; timestamp_unit = \"ms\";", GW_TYPE_INT64,
          (double)(T0 * 1000 + 7), 300000, T0 * 1000 + 7, (T0 + 300) * 1000 + 7 },
        { "float64 s", "type = \"float64\";", GW_TYPE_FLOAT64, (double)T0 + 0.25, 300, T0 * 1000 + 250,
          T0 + 300.25 },
        /* a device counting from 2000-01-01, as many loggers do */
        { "int32 s since 2000", "type = \"int32\"; offset = 946684800.0;", GW_TYPE_INT32,
          (double)(T0 - 946684800), 300, T0 * 1000, T0 + 300 },
        /* a clock in tenths of a second */
        { "uint64 x0.1 s", "type = \"uint64\"; scale = 0.1;", GW_TYPE_UINT64, (double)T0 * 10 + 5, 3000,
          T0 * 1000 + 500, T0 + 300.5 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fake_reset();
        struct rig r;
        char keys[512];
        snprintf(keys, sizeof keys,
                 "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
                 "           { name = \"clock\"; table = \"holding\"; address = 10; timestamp = true; %s } );",
                 cases[i].keys);
        CU_ASSERT_EQUAL_FATAL(rig_open(&r, keys, &counting_plugin), 0);
        CU_ASSERT_EQUAL(r.dev.clock_point, 1);
        put_clock(cases[i].type, 10, cases[i].raw);
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        CU_ASSERT_EQUAL(fake.n_log, 1u);    /* the clock is read with the rest */
        if (r.s.ts_ms != cases[i].ts_ms)
            fprintf(stderr, "\n  %s: ts %lld, want %lld\n", cases[i].what, (long long)r.s.ts_ms,
                    (long long)cases[i].ts_ms);
        CU_ASSERT_EQUAL(r.s.ts_ms, cases[i].ts_ms);
        CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 0.0, 0);
        CU_ASSERT_EQUAL(quality(&r, "clock"), GW_QUALITY_GOOD);
        CU_ASSERT_EQUAL(calls.ts_seen, cases[i].ts_ms);     /* derive sees the device's time */

        /* five minutes later by the device's clock, a moment by the wall's */
        put_clock(cases[i].type, 10, cases[i].raw + cases[i].step);
        CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
        CU_ASSERT_EQUAL(r.s.ts_ms, cases[i].ts_ms + 300000);
        CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 300.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(calls.elapsed_seen, 300.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(value(&r, "clock"), cases[i].later, 1e-3);  /* still published */
        rig_close(&r);
    }
}

/* A clock that is not read, uncertain or implausible leaves the sample
 * on the wall clock, carried on from the device's last time once it has
 * one, so the intervals still add up to the device's own time. */
static void test_clock_falls_back(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "points = ( { name = \"a\"; table = \"holding\"; address = 0; },\n"
        "           { name = \"clock\"; table = \"holding\"; address = 10; type = \"uint32\";\n"
        "             timestamp = true; sentinel = [ 0xFFFFFFFF ]; } );", &counting_plugin), 0);

    /* no answer before any clock reading: the wall clock */
    fake.answers_left = 0;
    int64_t before = clock_wall_ms();
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_COMM_FAILED);
    int64_t after = clock_wall_ms();
    CU_ASSERT(r.s.ts_ms >= before && r.s.ts_ms <= after);
    CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 0.0, 0);
    CU_ASSERT_EQUAL(calls.ts_seen, r.s.ts_ms);

    /* the clock, years behind the wall: no interval (a clock set back) */
    fake.answers_left = -1;
    put_clock(GW_TYPE_UINT32, 10, (double)T0);
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(r.s.ts_ms, T0 * 1000);
    CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 0.0, 0);

    /* then every way of not having a usable clock: carried on from T0 by
     * the wall clock, which moves by milliseconds here */
    static const struct {
        const char *what;
        double raw;             /* < 0: no answer; 0: device_bad_sample */
        enum gw_quality clock_q;
    } fallbacks[] = {
        { "no answer", -1, GW_QUALITY_BAD },
        { "sentinel", 4294967295.0, GW_QUALITY_UNCERTAIN },
        { "before 2000", 946684799.0, GW_QUALITY_GOOD },
        { "2100", 4102444800.0, GW_QUALITY_GOOD },
        { "not polled", 0, GW_QUALITY_BAD },
    };
    double elapsed_sum = 0.0;
    int64_t prev = r.s.ts_ms;
    for (size_t i = 0; i < N(fallbacks); i++) {
        if (fallbacks[i].raw == 0) {
            sample_free(&r.s);
            CU_ASSERT_EQUAL(device_bad_sample(&r.dev, &r.s), 0);
        } else {
            fake.answers_left = fallbacks[i].raw < 0 ? 0 : -1;
            if (fallbacks[i].raw > 0)
                put_clock(GW_TYPE_UINT32, 10, fallbacks[i].raw);
            rig_poll(&r);
        }
        bool carried = r.s.ts_ms >= prev && r.s.ts_ms < T0 * 1000 + 60000;
        if (!carried)
            fprintf(stderr, "\n  %s: ts %lld after %lld\n", fallbacks[i].what, (long long)r.s.ts_ms,
                    (long long)prev);
        CU_ASSERT(carried);
        CU_ASSERT_EQUAL(quality(&r, "clock"), fallbacks[i].clock_q);   /* published as read */
        CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, (double)(r.s.ts_ms - prev) / 1000.0, 1e-9);
        elapsed_sum += r.s.elapsed_s;
        prev = r.s.ts_ms;
    }

    /* the clock again, 15 minutes on: the intervals since T0 add up to
     * exactly that */
    fake.answers_left = -1;
    put_clock(GW_TYPE_UINT32, 10, (double)(T0 + 900));
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(r.s.ts_ms, (T0 + 900) * 1000);
    elapsed_sum += r.s.elapsed_s;
    CU_ASSERT_DOUBLE_EQUAL(elapsed_sum, 900.0, 1e-6);

    /* set back to the earliest plausible time: taken, with no interval */
    put_clock(GW_TYPE_UINT32, 10, 946684800.0);
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT_EQUAL(r.s.ts_ms, 946684800000LL);
    CU_ASSERT_DOUBLE_EQUAL(r.s.elapsed_s, 0.0, 0);
    rig_close(&r);

    /* a map without a clock: the wall clock, as always */
    fake_reset();
    CU_ASSERT_EQUAL_FATAL(rig_open(&r, "points = ( { name = \"a\"; table = \"holding\"; address = 0; } );",
                                   &none_plugin), 0);
    CU_ASSERT_EQUAL(r.dev.clock_point, -1);
    before = clock_wall_ms();
    CU_ASSERT_EQUAL(rig_poll(&r), GW_READ_OK);
    CU_ASSERT(r.s.ts_ms >= before && r.s.ts_ms <= clock_wall_ms());
    rig_close(&r);
}

/* The clock's profile keys are checked like every other: each error
 * names the file and the line of the point. */
static void test_clock_keys(void)
{
    static const struct {
        const char *what, *points;
        int line;               /* of the config file, counted from 1 */
        const char *message;
    } cases[] = {
        { "uint16", "{ name = \"c\"; table = \"holding\"; address = 0; timestamp = true; }", 6,
          "point 'c': a timestamp must be uint32, int32, uint64, int64 or float64, not uint16" },
        { "float32", "{ name = \"c\"; table = \"holding\"; address = 0; type = \"float32\"; timestamp = true; }", 6,
          "point 'c': a timestamp must be uint32, int32, uint64, int64 or float64, not float32" },
        { "string", "{ name = \"c\"; table = \"input\"; address = 0; type = \"string\"; count = 4;\n"
          "  timestamp = true; }", 6,
          "point 'c': a timestamp must be uint32, int32, uint64, int64 or float64, not string" },
        { "coil", "{ name = \"c\"; table = \"coil\"; address = 0; timestamp = true; }", 6,
          "point 'c': a timestamp must be uint32, int32, uint64, int64 or float64, not bit" },
        { "unit without timestamp", "{ name = \"c\"; table = \"holding\"; address = 0; type = \"uint64\";\n"
          "  timestamp_unit = \"ms\"; }", 6,
          "point 'c': timestamp_unit applies to a clock point (timestamp = true) only" },
        { "unknown unit", "{ name = \"c\"; table = \"holding\"; address = 0; type = \"uint64\"; timestamp = true;\n"
          "  timestamp_unit = \"us\"; }", 7, "timestamp_unit = \"us\" is not one of: s, ms" },
        { "not a bool", "{ name = \"c\"; table = \"holding\"; address = 0; type = \"uint64\";\n"
          "  timestamp = \"yes\"; }", 7, "timestamp must be true or false" },
        { "a counter", "{ name = \"c\"; table = \"holding\"; address = 0; type = \"uint32\"; timestamp = true;\n"
          "  counter = true; }", 6, "point 'c': a timestamp is not a counter" },
        { "two clocks", "{ name = \"a\"; table = \"holding\"; address = 0; type = \"uint32\"; timestamp = true; },\n"
          "{ name = \"b\"; table = \"holding\"; address = 2; type = \"float64\"; timestamp = true; }", 7,
          "point 'b': a second timestamp point (the first is 'a' at line 6); a map has one clock" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *text = NULL, path[PATH_MAX], want[PATH_MAX + 32];
        CU_ASSERT_FATAL(asprintf(&text,
                                 "site = { id = \"t\"; };\n"
                                 "daemon = { log_level = \"error\"; plugin_dir = \"%s\"; };\n"
                                 "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
                                 "devices = ( { id = \"dev\"; bus = \"b\"; unit = 1;\n"
                                 "points = (\n%s\n); } );\n",
                                 GW_TEST_PLUGIN_DIR, cases[i].points) >= 0);
        CU_ASSERT_EQUAL_FATAL(write_temp_file(path, sizeof path, text), 0);
        free(text);
        struct gw_config *cfg = NULL;
        struct gw_diag diag = { 0 };
        CU_ASSERT_NOT_EQUAL(config_load(path, &cfg, &diag), 0);
        snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
        bool found = false;
        for (size_t k = 0; k < diag.n && !found; k++)
            found = strncmp(diag.lines[k], want, strlen(want)) == 0 && strstr(diag.lines[k], cases[i].message);
        if (!found) {
            fprintf(stderr, "\n  %s: want %s... %s; got:", cases[i].what, want, cases[i].message);
            for (size_t k = 0; k < diag.n; k++)
                fprintf(stderr, "\n    %s", diag.lines[k]);
            fprintf(stderr, "\n");
        }
        CU_ASSERT(found);
        diag_free(&diag);
        config_free(cfg);
    }
}

/* The meter kind on device time: a counter's plausibility cap and the
 * 15-minute demand work in the device's minutes, though the polls come
 * milliseconds apart by the wall clock. */
static void test_clock_meter_kind(void)
{
    fake_reset();
    struct rig r;
    CU_ASSERT_EQUAL_FATAL(rig_open(&r,
        "kind = \"meter\"; params = { rated_kw = 400.0; };\n"
        "points = ( { name = \"energy_kwh\"; table = \"holding\"; address = 0; type = \"uint32\";\n"
        "             scale = 0.01; unit = \"kWh\"; counter = true; },\n"
        "           { name = \"clock\"; table = \"holding\"; address = 10; type = \"uint32\"; timestamp = true; } );",
        &none_plugin), 0);
    struct gw_kinds kinds;
    struct gw_diag diag = { 0 };
    CU_ASSERT_EQUAL_FATAL(kinds_load(r.cfg, &kinds, &diag), 0);
    diag_free(&diag);
    const struct gw_plugin *meter = kinds_find(&kinds, "meter");
    CU_ASSERT_PTR_NOT_NULL_FATAL(meter);
    device_free(&r.dev);
    CU_ASSERT_EQUAL_FATAL(device_init(&r.dev, &r.cfg->devices[0], meter), 0);

    /* 300 kW from 10:00 UTC, read every three minutes of the device */
    const int64_t start = T0 + 2 * 86400 + 10 * 3600;   /* Monday 2011-01-03 10:00 */
    for (int k = 0; k <= 5; k++) {
        put_clock(GW_TYPE_UINT32, 10, (double)(start + 180 * k));
        put_clock(GW_TYPE_UINT32, 0, 100000.0 + 1500.0 * k);   /* 15 kWh a step, in 0.01 */
        CU_ASSERT_EQUAL_FATAL(rig_poll(&r), GW_READ_OK);
        CU_ASSERT_EQUAL(r.s.ts_ms, (start + 180 * k) * 1000);
        if (k == 0)
            continue;
        /* 15 kWh in 3 minutes is within 1.5 x 400 kW: good by the device's
         * clock, though by the wall's it came at once */
        CU_ASSERT_EQUAL(quality(&r, "energy_kwh_delta"), GW_QUALITY_GOOD);
        CU_ASSERT_DOUBLE_EQUAL(value(&r, "energy_kwh_delta"), 15.0, 1e-9);
    }
    /* 10:15: the quarter hour closed, fully covered */
    CU_ASSERT_EQUAL(quality(&r, "demand_kw"), GW_QUALITY_GOOD);
    CU_ASSERT_DOUBLE_EQUAL(value(&r, "demand_kw"), 300.0, 1e-6);
    rig_close(&r);
    kinds_free(&kinds);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("device", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "plan, request count and values", test_plan_and_values) ||
        !CU_add_test(suite, "exception 2 in a gap: a hole is learned", test_learns_hole) ||
        !CU_add_test(suite, "exception 2 on a point: bad and remembered", test_illegal_point) ||
        !CU_add_test(suite, "two illegal points in one read", test_two_illegal_points) ||
        !CU_add_test(suite, "large reads refused: the limit narrows", test_narrows_limit) ||
        !CU_add_test(suite, "large coil reads refused", test_narrows_bit_limit) ||
        !CU_add_test(suite, "reads across a block boundary refused", test_block_boundary) ||
        !CU_add_test(suite, "communication failure", test_comm_failed) ||
        !CU_add_test(suite, "device_bad_sample", test_bad_sample) ||
        !CU_add_test(suite, "uncertain quality passes through", test_uncertain_passes_through) ||
        !CU_add_test(suite, "the generic plugin is called", test_generic_plugin) ||
        !CU_add_test(suite, "plugin init, derive, fini", test_plugin_lifecycle) ||
        !CU_add_test(suite, "the clock's profile keys", test_clock_keys) ||
        !CU_add_test(suite, "the device's clock stamps samples", test_clock_stamps) ||
        !CU_add_test(suite, "an unusable clock falls back", test_clock_falls_back) ||
        !CU_add_test(suite, "the meter kind on device time", test_clock_meter_kind) ||
        !CU_add_test(suite, "a sample as JSON: escapes and numbers", test_sample_json)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
