#include "device.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "log.h"
#include "sample.h"
#include "scheduler.h"

static int device_replan(struct gw_device *d)
{
    const struct gw_profile *p = d->cfg->profile;
    planner_free(&d->plan);
    int rc = planner_build(p->points, p->n_points, d->illegal, d->holes, d->n_holes, &d->limits, &d->plan);
    if (rc)
        log_error("device '%s': cannot plan its reads (%s)", d->cfg->id, strerror(-rc));
    d->replan = false;
    return rc;
}

/* An integer counter register rolls over at 2^bits; scaled, that is
 * where its value restarts at 0.  Floats do not wrap. */
static struct gw_point_info point_info(const struct gw_point_def *p)
{
    struct gw_point_info info = { .name = p->name, .unit = p->unit, .is_counter = p->counter };
    bool integer = p->type >= GW_TYPE_UINT16 && p->type <= GW_TYPE_INT64;
    if (p->counter && integer)
        info.wrap = ldexp(1.0, 16 * point_type_registers(p->type)) * fabs(p->scale);
    return info;
}

static int plugin_init(struct gw_device *d)
{
    const struct gw_device_cfg *c = d->cfg;
    struct gw_device_info info = {
        .id = c->id, .kind = c->kind, .interval_s = c->interval_s,
        .tags = c->tags, .n_tags = c->n_tags,
        .points = d->point_info, .n_points = c->profile->n_points,
        .params = c->params, .n_params = c->n_params,
    };
    int rc = d->plugin->init(&gw_host_services, &info, &d->plugin_state);
    if (rc)
        log_error("device '%s': plugin '%s' refused it (%s)", c->id, c->kind, strerror(-rc));
    return rc;
}

/* The map's clock point (profile.c allows one), or -1. */
static int find_clock_point(const struct gw_profile *p)
{
    for (size_t i = 0; i < p->n_points; i++)
        if (p->points[i].timestamp)
            return (int)i;
    return -1;
}

int device_init(struct gw_device *d, const struct gw_device_cfg *cfg, const struct gw_plugin *plugin)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
    d->plugin = plugin;
    d->clock_point = find_clock_point(cfg->profile);
    d->clock_verdict = -1;
    d->limits = cfg->limits;
    d->interval_ns = (int64_t)(cfg->interval_s * 1e9);
    const struct gw_profile *p = cfg->profile;
    d->cap_holes = p->n_holes + 8;
    d->illegal = calloc(p->n_points, sizeof *d->illegal);
    d->holes = calloc(d->cap_holes, sizeof *d->holes);
    d->point_info = calloc(p->n_points, sizeof *d->point_info);
    if (!d->illegal || !d->holes || !d->point_info) {
        device_free(d);
        return -ENOMEM;
    }
    if (p->n_holes)
        memcpy(d->holes, p->holes, p->n_holes * sizeof *d->holes);
    d->n_holes = p->n_holes;
    for (size_t i = 0; i < p->n_points; i++)
        d->point_info[i] = point_info(&p->points[i]);
    int rc = device_replan(d);
    if (!rc && (rc = plugin_init(d)))
        d->plugin = NULL;  /* no fini for a refused init */
    if (rc)
        device_free(d);
    return rc;
}

/* What a device refused (exception 2) is asked for again after an hour
 * of polls: the refusal may have been passing (a gateway restarting, a
 * meter booting), and one that holds costs one isolation an hour. */
#define RELEARN_AFTER_S 3600.0

static void learned(struct gw_device *d)
{
    d->replan = true;
    if (!d->polls_since_learning)
        d->polls_since_learning = 1;
}

/* Before a poll: forget what was learned an hour ago, and plan anew. */
static void maybe_forget(struct gw_device *d)
{
    if (!d->polls_since_learning || (double)d->polls_since_learning++ < RELEARN_AFTER_S / d->cfg->interval_s)
        return;
    const struct gw_profile *p = d->cfg->profile;
    memset(d->illegal, 0, p->n_points * sizeof *d->illegal);
    d->n_holes = p->n_holes;
    d->limits = d->cfg->limits;
    d->polls_since_learning = 0;
    log_info("device '%s': asking again for the addresses and read sizes it refused an hour ago", d->cfg->id);
    device_replan(d);
}

/* Learn that the device does not serve [from, to] (found between two
 * points that read fine alone).  Returns 0 or -ENOMEM. */
static int learn_hole(struct gw_device *d, enum gw_table table, unsigned from, unsigned to)
{
    if (d->n_holes == d->cap_holes) {
        struct gw_hole *h = realloc(d->holes, d->cap_holes * 2 * sizeof *h);
        if (!h)
            return -ENOMEM;
        d->holes = h;
        d->cap_holes *= 2;
    }
    d->holes[d->n_holes++] = (struct gw_hole){ .table = table, .from = (uint16_t)from, .to = (uint16_t)to };
    log_warning("device '%s': %s %u..%u not served (exception 2); reads skip it for an hour",
                d->cfg->id, gw_table_names[table], from, to);
    learned(d);
    return 0;
}

static void decode_range(struct gw_device *d, const struct gw_read *r, const uint16_t *regs,
                         const uint8_t *bits, struct gw_sample *s)
{
    const struct gw_point_def *points = d->cfg->profile->points;
    for (uint32_t k = r->first; k < r->first + r->n_points; k++) {
        uint32_t i = d->plan.order[k];
        const struct gw_point_def *p = &points[i];
        unsigned at = (unsigned)(p->address - r->address);
        struct gw_reading *out = &s->readings[i];
        free(out->text);
        out->text = NULL;
        if (decode_point(p, regs + at, bits + at, out) == -ENOMEM)
            out->quality = GW_QUALITY_BAD;
    }
}

static enum gw_read_status read_span(struct gw_device *d, const struct gw_reader *reader,
                                     uint32_t first, uint32_t n, struct gw_sample *s);

/* The most registers (or bits) one point of a register (or bit) table
 * takes: a read limit below it would leave that point unplannable. */
static unsigned largest_point(const struct gw_device *d, bool bits)
{
    const struct gw_profile *p = d->cfg->profile;
    unsigned largest = 1;
    for (size_t i = 0; i < p->n_points; i++)
        if (gw_table_is_bits(p->points[i].table) == bits && p->points[i].count > largest)
            largest = p->points[i].count;
    return largest;
}

/* A read of several points failed with exception 2: read each half.  If
 * both halves answer, the unserved address lies between them; if there is
 * no gap between them, the device refused the size of the read (many
 * meters serve fewer than 125 registers at once): narrow its limit, but
 * not below its largest point, since some devices refuse a read for
 * crossing an internal block boundary and a smaller limit would leave
 * that point, and so the whole plan, impossible. */
static enum gw_read_status isolate(struct gw_device *d, const struct gw_reader *reader,
                                   uint32_t first, uint32_t n, struct gw_sample *s)
{
    const struct gw_point_def *points = d->cfg->profile->points;
    uint32_t half = n / 2;
    enum gw_read_status left = read_span(d, reader, first, half, s);
    if (left == GW_READ_COMM_FAILED)
        return left;
    enum gw_read_status right = read_span(d, reader, first + half, n - half, s);
    /* A gap is proven unserved only when both halves read in one go. */
    if (left != GW_READ_OK || right != GW_READ_OK)
        return right == GW_READ_COMM_FAILED ? right : GW_READ_EXCEPTION;
    struct gw_read a = planner_span(points, &d->plan, first, half);
    struct gw_read b = planner_span(points, &d->plan, first + half, n - half);
    unsigned gap_from = (unsigned)a.address + a.count;
    if (gap_from < b.address) {
        if (learn_hole(d, a.table, gap_from, b.address - 1u) == -ENOMEM)
            return GW_READ_EXCEPTION;
    } else {
        bool bits = gw_table_is_bits(a.table);
        uint16_t *limit = bits ? &d->limits.max_bits : &d->limits.max_registers;
        unsigned proven = a.count > b.count ? a.count : b.count, floor = largest_point(d, bits);
        unsigned narrowed = proven > floor ? proven : floor;
        if (narrowed < *limit) {
            *limit = (uint16_t)narrowed;
            log_warning("device '%s': refuses a read of %u %s addresses; reading at most %u for an hour",
                        d->cfg->id, (unsigned)(b.address + b.count - a.address), gw_table_names[a.table], *limit);
            learned(d);
        }
    }
    return GW_READ_EXCEPTION;
}

/* Read the points order[first .. first+n) in one request, isolating an
 * illegal address by halving.  GW_READ_OK means it took one request;
 * GW_READ_EXCEPTION that the device answered but not all of it at once. */
static enum gw_read_status read_span(struct gw_device *d, const struct gw_reader *reader,
                                     uint32_t first, uint32_t n, struct gw_sample *s)
{
    uint16_t regs[125];
    uint8_t bits[2000];
    struct gw_read r = planner_span(d->cfg->profile->points, &d->plan, first, n);
    d->stats.requests++;
    enum gw_read_status st = reader->read(reader->io, r.table, r.address, r.count, regs, bits);
    if (st == GW_READ_OK) {
        decode_range(d, &r, regs, bits, s);
        return st;
    }
    if (st != GW_READ_ILLEGAL_ADDRESS)
        return st;
    if (n > 1)
        return isolate(d, reader, first, n, s);
    uint32_t i = d->plan.order[first];
    d->illegal[i] = true;
    learned(d);
    log_warning("device '%s': point '%s' (%s %u) is not served (exception 2); bad for an hour",
                d->cfg->id, d->cfg->profile->points[i].name, gw_table_names[r.table], r.address);
    return GW_READ_EXCEPTION;
}

/* Every profile point, bad until read; ts_ms holds the wall-clock time of
 * the read until stamp() settles the sample's time. */
static int start_sample(struct gw_device *d, struct gw_sample *s)
{
    const struct gw_profile *p = d->cfg->profile;
    if (sample_init(s, d->cfg->id, p->n_points + 8))
        return -ENOMEM;
    s->ts_ms = clock_wall_ms();
    for (size_t i = 0; i < p->n_points; i++)
        sample_add(s, p->points[i].name, p->points[i].unit, 0.0, GW_QUALITY_BAD);
    return 0;
}

/* A clock reading outside [2000-01-01, 2100-01-01) UTC is a clock that was
 * never set, lost its battery, or a map that misreads it. */
#define CLOCK_MIN_MS 946684800000LL
#define CLOCK_MAX_MS 4102444800000LL

enum clock_verdict { CLOCK_NONE, CLOCK_USED, CLOCK_BAD, CLOCK_UNCERTAIN, CLOCK_IMPLAUSIBLE };

/* The device's time in *ms from its clock point's reading in s, if that
 * is usable; the verdict says whether it is, or why not. */
static enum clock_verdict read_clock(const struct gw_device *d, const struct gw_sample *s, int64_t *ms)
{
    if (d->clock_point < 0)
        return CLOCK_NONE;
    const struct gw_point_def *p = &d->cfg->profile->points[d->clock_point];
    const struct gw_reading *r = &s->readings[d->clock_point];
    if (r->quality == GW_QUALITY_BAD)
        return CLOCK_BAD;
    if (r->quality != GW_QUALITY_GOOD)
        return CLOCK_UNCERTAIN;
    double v = p->timestamp_unit == GW_TIME_MS ? r->value : r->value * 1000.0;
    if (!(v >= (double)CLOCK_MIN_MS && v < (double)CLOCK_MAX_MS))
        return CLOCK_IMPLAUSIBLE;
    *ms = llround(v);
    return CLOCK_USED;
}

/* Say at debug level how samples are stamped, when that changes. */
static void log_clock(struct gw_device *d, enum clock_verdict v, const struct gw_sample *s)
{
    if (v == CLOCK_NONE || (int)v == d->clock_verdict)
        return;
    d->clock_verdict = (int)v;
    const struct gw_point_def *p = &d->cfg->profile->points[d->clock_point];
    const char *fallback = d->last_ts_ms ? "carrying its last time on by the wall clock" : "using the wall clock";
    switch (v) {
    case CLOCK_USED:
        log_debug("device '%s': samples carry the device's clock (point '%s')", d->cfg->id, p->name);
        break;
    case CLOCK_BAD:
        log_debug("device '%s': clock point '%s' not read; %s", d->cfg->id, p->name, fallback);
        break;
    case CLOCK_UNCERTAIN:
        log_debug("device '%s': clock point '%s' uncertain (sentinel, NaN or outside min/max); %s",
                  d->cfg->id, p->name, fallback);
        break;
    default:
        log_debug("device '%s': clock point '%s' reads %.15g %s, not a time between 2000 and 2100; %s",
                  d->cfg->id, p->name, s->readings[d->clock_point].value,
                  p->timestamp_unit == GW_TIME_MS ? "ms" : "s", fallback);
        break;
    }
}

/*
 * Settle the sample's time: the device's clock when the map has one and
 * its reading is usable.  Otherwise the wall clock's progress since the
 * previous sample, added to that sample's time: without a clock point
 * that is exactly the wall clock; with one, a device whose clock runs
 * elsewhere (a logger behind the wall clock, a simulator running months
 * ahead or behind) keeps one timeline across a failed poll instead of
 * jumping to the wall clock and back, which the kinds would take as a
 * long interval followed by time running backwards (the meter's demand,
 * for one, accounts nothing that ends before what it has accounted).
 * elapsed_s is the time since the previous sample, never negative: a
 * clock set back gives an interval of none.
 */
static void stamp(struct gw_device *d, struct gw_sample *s)
{
    int64_t wall = s->ts_ms, ts = 0;
    enum clock_verdict v = read_clock(d, s, &ts);
    log_clock(d, v, s);
    if (v != CLOCK_USED)
        ts = d->last_ts_ms ? d->last_ts_ms + (wall - d->last_wall_ms) : wall;
    s->ts_ms = ts;
    s->elapsed_s = d->last_ts_ms && ts > d->last_ts_ms ? (double)(ts - d->last_ts_ms) / 1000.0 : 0.0;
    d->last_ts_ms = ts;
    d->last_wall_ms = wall;
}

static void derive(struct gw_device *d, struct gw_sample *s)
{
    if (!d->plugin)
        return;
    int rc = d->plugin->derive(d->plugin_state, s);
    if (rc)
        log_debug("device '%s': derive failed (%s)", d->cfg->id, strerror(-rc));
}

int device_poll(struct gw_device *d, const struct gw_reader *reader, struct gw_sample *out)
{
    if (start_sample(d, out))
        return -ENOMEM;
    maybe_forget(d);
    int64_t started = clock_mono_ns();
    bool answered = false;
    enum gw_read_status st = GW_READ_OK;
    for (size_t i = 0; i < d->plan.n_reads; i++) {
        const struct gw_read *r = &d->plan.reads[i];
        st = read_span(d, reader, r->first, r->n_points, out);
        if (st == GW_READ_COMM_FAILED)
            break;
        answered = true;
    }
    d->stats.polls++;
    d->stats.last_latency_ns = clock_mono_ns() - started;
    if (!answered && d->plan.n_reads)
        d->stats.failed_polls++;
    atomic_store(&d->stats.online, answered || !d->plan.n_reads);
    if (d->replan)
        device_replan(d);
    stamp(d, out);
    derive(d, out);
    return answered || !d->plan.n_reads ? GW_READ_OK : GW_READ_COMM_FAILED;
}

int device_bad_sample(struct gw_device *d, struct gw_sample *out)
{
    if (start_sample(d, out))
        return -ENOMEM;
    d->stats.polls++;
    d->stats.failed_polls++;
    atomic_store(&d->stats.online, false);
    stamp(d, out);
    derive(d, out);
    return 0;
}

size_t device_plan_reads(const struct gw_device *d)
{
    return d->plan.n_reads;
}

void device_free(struct gw_device *d)
{
    if (d->plugin && d->plugin->fini)
        d->plugin->fini(d->plugin_state);
    planner_free(&d->plan);
    free(d->illegal);
    free(d->holes);
    free(d->point_info);
    memset(d, 0, sizeof *d);
}
