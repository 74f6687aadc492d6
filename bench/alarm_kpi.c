/*
 * alarm_kpi: the alarm load an operator of the demo building would get,
 * measured as ISA-18.2 measures it, over a simulated month.
 *
 *   alarm_kpi [--sim FILE] [--faults FILE] [--from "YYYY-MM-DD HH:MM"] [--days N]
 *             [--replay weekly|workdays|once] [--only faults|healthy]
 *             [--plugins DIR] [--seed N] [--step S] [--tick S] [--events FILE]
 *   alarm_kpi --smoke [--faults FILE] [--from ...]
 *
 * Everything runs in this process and in simulated time, as fast as the
 * processor goes (docs/alarm-kpis.md):
 *   - the building is greenwatch-sim's model (the gwsim library) loaded from
 *     FILE (config/demo-sim.conf) and the daemon configuration it names
 *     (config/demo.conf), stepped as the simulator steps it;
 *   - every enabled device of that configuration is polled at its
 *     interval_s by the daemon's own device_poll (planner, isolation of
 *     exception 2, decoding and quality, the device's clock, the kind
 *     plugin's derive, the plugins dlopen'd from the build's plugins
 *     directory as greenwatchd loads them), through a reader that hands
 *     each request PDU to the simulator's pdu_answer and takes the answer
 *     as libmodbus and the daemon's link (modbus_link.c) would: exception
 *     2 as an illegal address, 5 and 6 asked again, 10 and 11 as no
 *     device; no answer, or an answer later than the device's timeout (the
 *     delay fault), as a failed read;
 *   - the bus thread's backoff for a silent device (bus.c) is repeated
 *     here in simulated time;
 *   - every sample goes to rules_eval_sample and rules_tick runs every
 *     simulated second, both with the simulated time, as greenwatchd's
 *     main loop does with the wall clock.  The daemon's wall clock itself
 *     (clock_wall_ms, which device.c uses to stamp a sample without a
 *     usable device clock) reads the simulated time: the program is linked
 *     with --wrap=clock_wall_ms.
 * Left out: Modbus TCP itself (sockets, framing, the bus's time on the
 * wire, reconnects), MQTT, InfluxDB, notification and the spool.
 *
 * The fault script (greenwatch-sim's scenario format: one day from 00:00
 * local) is played on top of the physics on the replay days; the same span
 * is then run without any fault.  Output: markdown on stdout.  Exit status
 * 0 if every ISA-18.2 target is met (--smoke: every fault of the script
 * raised an alarm on its device, a counter rollover none, and nothing
 * chattered), 1 if not, 2 on a usage or set-up error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libconfig.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "device.h"
#include "log.h"
#include "plugin.h"
#include "rules/rules.h"
#include "sample.h"
#include "scheduler.h"
#include "sim/faults.h"
#include "sim/pdu.h"
#include "sim/sim.h"
#include "sim/simconf.h"

#define MS_PER_S 1000LL
#define MS_PER_DAY (86400LL * MS_PER_S)
#define WINDOW_MS (600LL * MS_PER_S)        /* ISA-18.2's 10 minutes */
#define CHATTER_MS (60LL * MS_PER_S)        /* 3 activations within this: chattering */
#define CHATTER_COUNT 3
#define STALE_MS MS_PER_DAY                 /* active longer than this: stale */
#define SMOKE_GRACE_MS (3600LL * MS_PER_S)  /* --smoke: alarms this long after a fault count */

/* ISA-18.2 (ANSI/ISA-18.2-2016, table 11; EEMUA 191): the targets judged. */
#define TARGET_PER_10MIN 1.0     /* average: "about 1 per 10 minutes", very likely acceptable */
#define TARGET_PEAK_10MIN 10     /* the most in any 10 minutes */
#define TARGET_STALE_PER_DAY 5   /* stale alarms present on any day: fewer than this */

/* ---- the daemon's wall clock is the simulated clock ---------------------- */

static int64_t simulated_now_ms;

int64_t __wrap_clock_wall_ms(void);
int64_t __wrap_clock_wall_ms(void)
{
    return simulated_now_ms;
}

/* ---- options ------------------------------------------------------------- */

enum replay { REPLAY_WEEKLY, REPLAY_WORKDAYS, REPLAY_ONCE };
static const char *const replay_names[] = { "weekly", "workdays", "once" };

struct options {
    const char *sim_file, *faults_file, *from, *plugin_dir, *events_file;
    double days, step_s, tick_s;
    enum replay replay;
    bool faults, healthy, smoke, has_seed;
    long long seed;
};

static void usage(FILE *out)
{
    fputs("usage: alarm_kpi [--sim FILE] [--faults FILE] [--from \"YYYY-MM-DD HH:MM\"] [--days N]\n"
          "                 [--replay weekly|workdays|once] [--only faults|healthy]\n"
          "                 [--plugins DIR] [--seed N] [--step S] [--tick S] [--events FILE]\n"
          "       alarm_kpi --smoke [options]   one day with the fault script, checked\n"
          "defaults: --sim " GW_KPI_SIM_FILE "\n"
          "          --faults " GW_KPI_FAULTS_FILE "\n"
          "          --from \"2026-04-07 00:00\" --days 30 --replay weekly --plugins " GW_KPI_PLUGIN_DIR "\n"
          "          --tick 1 (rules_tick every simulated second); --step: the simulator file's\n",
          out);
}

static int parse_positive(const char *text, double *out)
{
    char *end;
    *out = strtod(text, &end);
    return end != text && !*end && isfinite(*out) && *out > 0 ? 0 : -EINVAL;
}

static int parse_word(const char *text, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    return -1;
}

static int parse_option(int c, struct options *o)
{
    static const char *const only[] = { "faults", "healthy" };
    int w;
    switch (c) {
    case 'S': o->sim_file = optarg; return 0;
    case 'F': o->faults_file = optarg; return 0;
    case 'f': o->from = optarg; return 0;
    case 'P': o->plugin_dir = optarg; return 0;
    case 'E': o->events_file = optarg; return 0;
    case 'd': return parse_positive(optarg, &o->days);
    case 's': return parse_positive(optarg, &o->step_s);
    case 't': return parse_positive(optarg, &o->tick_s);
    case 'x': o->smoke = true; return 0;
    case 'e': {
        char *end;
        o->has_seed = true;
        o->seed = strtoll(optarg, &end, 10);
        return end != optarg && !*end ? 0 : -EINVAL;
    }
    case 'r':
        if ((w = parse_word(optarg, replay_names, 3)) < 0)
            return -EINVAL;
        o->replay = (enum replay)w;
        return 0;
    case 'o':
        if ((w = parse_word(optarg, only, 2)) < 0)
            return -EINVAL;
        o->faults = w == 0;
        o->healthy = w == 1;
        return 0;
    default:
        return -EINVAL;
    }
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        { "sim", required_argument, NULL, 'S' }, { "faults", required_argument, NULL, 'F' },
        { "from", required_argument, NULL, 'f' }, { "days", required_argument, NULL, 'd' },
        { "replay", required_argument, NULL, 'r' }, { "only", required_argument, NULL, 'o' },
        { "plugins", required_argument, NULL, 'P' }, { "seed", required_argument, NULL, 'e' },
        { "step", required_argument, NULL, 's' }, { "tick", required_argument, NULL, 't' },
        { "events", required_argument, NULL, 'E' }, { "smoke", no_argument, NULL, 'x' },
        { "help", no_argument, NULL, 'h' }, { 0 },
    };
    *o = (struct options){
        .sim_file = GW_KPI_SIM_FILE, .faults_file = GW_KPI_FAULTS_FILE, .from = NULL,
        .plugin_dir = GW_KPI_PLUGIN_DIR, .days = 30, .tick_s = 1, .faults = true, .healthy = true,
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (parse_option(c, o))
            return -EINVAL;
    }
    if (optind != argc || llround(o->tick_s * MS_PER_S) < 1)
        return -EINVAL;
    if (!o->from)  /* the script's day (a Tuesday), and the four weeks after it */
        o->from = "2026-04-07 00:00";
    if (o->smoke) {  /* one day, the script once, judged fault by fault */
        o->days = 1;
        o->replay = REPLAY_ONCE;
        o->faults = true;
        o->healthy = false;
    }
    return 0;
}

/* ---- the fault script ---------------------------------------------------- */

struct script {
    struct fault_spec *specs;
    size_t n;
};

/* Parse `faults = ( ... );` of path (greenwatch-sim's scenario format) with
 * the simulator's own parser.  Devices are checked when the faults are
 * scheduled.  Returns 0, or -EINVAL after printing FILE:LINE: message. */
static int script_load(const char *path, struct script *out)
{
    config_t cfg;
    int rc = 0;
    *out = (struct script){ 0 };
    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        fprintf(stderr, "%s:%d: %s\n", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    const config_setting_t *list = config_lookup(&cfg, "faults");
    int n = list ? config_setting_length(list) : 0;
    out->specs = calloc((size_t)n + 1, sizeof *out->specs);
    for (int i = 0; out->specs && i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char err[256];
        if (fault_spec_parse(g, &out->specs[out->n], err, sizeof err) < 0) {
            fprintf(stderr, "%s:%d: %s\n", path, (int)config_setting_source_line(g), err);
            rc = -EINVAL;
        } else {
            out->n++;
        }
    }
    if (!out->specs)
        rc = -ENOMEM;
    if (!rc && !out->n)
        fprintf(stderr, "%s: no faults\n", path);
    config_destroy(&cfg);
    return rc;
}

/* ---- the devices, answered by the simulator ------------------------------ */

struct read_counts {
    uint64_t requests, exceptions, unanswered, late;
};

/* What a device's reads go to: its twin in the simulation. */
struct twin_io {
    struct sim *sim;
    struct sim_device *twin;
    int timeout_ms;
    struct read_counts *counts;
};

static const uint8_t table_fc[GW_TABLE_COUNT] = {
    [GW_TABLE_COIL] = 1, [GW_TABLE_DISCRETE] = 2, [GW_TABLE_HOLDING] = 3, [GW_TABLE_INPUT] = 4,
};

/* modbus_link.c: a busy device (exception 5 or 6) is asked again this
 * often; the pauses between take no simulated time here. */
enum { BUSY_RETRIES = 3 };

/* An exception as libmodbus reports it and modbus_link.c classifies it:
 * 2 is an illegal address; 10 and 11 say that the gateway is fine but the
 * device behind it is not; a code libmodbus does not know (0, 12 and up)
 * is a malformed answer. */
static enum gw_read_status exception_status(uint8_t code)
{
    if (code == 2)
        return GW_READ_ILLEGAL_ADDRESS;
    if (code == 0 || code >= 10)
        return GW_READ_COMM_FAILED;
    return GW_READ_EXCEPTION;
}

/* A normal answer as libmodbus checks and unpacks it: registers big-endian,
 * bits least significant first, one byte per bit.  A malformed one is a
 * failed read. */
static enum gw_read_status take_answer(const uint8_t *rsp, size_t n, enum gw_table table, uint16_t count,
                                       uint16_t *regs, uint8_t *bits)
{
    bool is_bits = gw_table_is_bits(table);
    unsigned bytes = is_bits ? (count + 7u) / 8u : 2u * count;
    if (n != 2u + bytes || rsp[1] != bytes)
        return GW_READ_COMM_FAILED;
    for (unsigned i = 0; i < count; i++) {
        if (is_bits)
            bits[i] = (uint8_t)((rsp[2 + i / 8] >> (i % 8)) & 1u);
        else
            regs[i] = (uint16_t)(rsp[2 + 2 * i] << 8 | rsp[3 + 2 * i]);
    }
    return GW_READ_OK;
}

static enum gw_read_status twin_read(void *arg, enum gw_table table, uint16_t address, uint16_t count,
                                     uint16_t *regs, uint8_t *bits)
{
    struct twin_io *io = arg;
    const uint8_t req[5] = { table_fc[table], (uint8_t)(address >> 8), (uint8_t)address, (uint8_t)(count >> 8),
                             (uint8_t)count };
    uint8_t rsp[PDU_MAX];
    for (int attempt = 0;; attempt++) {
        io->counts->requests++;
        size_t n = pdu_answer(io->sim, io->twin, req, sizeof req, rsp);
        if (n == 0) {
            io->counts->unanswered++;
            return GW_READ_COMM_FAILED;
        }
        if (io->twin->faults.delay_ms >= io->timeout_ms) {  /* the link has timed out */
            io->counts->late++;
            return GW_READ_COMM_FAILED;
        }
        if (!(rsp[0] & 0x80))
            return take_answer(rsp, n, table, count, regs, bits);
        io->counts->exceptions++;
        bool busy = rsp[1] == 5 || rsp[1] == 6;
        if (!busy || attempt == BUSY_RETRIES)
            return exception_status(rsp[1]);
    }
}

/* One device of the daemon's configuration, polled on its own grid. */
struct polled {
    struct gw_device dev;
    struct twin_io io;
    int64_t interval_ms, due_ms;
    unsigned failures;          /* polls in a row without an answer */
    int64_t next_probe_ms;
};

/* bus.c: after three polls without an answer a device is probed at 1, 2,
 * 4, ... intervals, at most a minute apart; the polls in between give
 * all-bad samples without a request. */
enum { FAILURES_BEFORE_BACKOFF = 3 };
#define PROBE_MAX_MS (60LL * MS_PER_S)

static void note_result(struct polled *p, int status, int64_t now)
{
    if (status == GW_READ_OK) {
        p->failures = 0;
        return;
    }
    if (++p->failures >= FAILURES_BEFORE_BACKOFF) {
        unsigned shift = p->failures - FAILURES_BEFORE_BACKOFF;
        int64_t wait = p->interval_ms << (shift > 6 ? 6 : shift);
        p->next_probe_ms = now + (wait > PROBE_MAX_MS ? PROBE_MAX_MS : wait);
    }
}

/* Poll p at now into s (the caller frees it).  Returns 0 or -ENOMEM. */
static int poll_device(struct polled *p, int64_t now, struct gw_sample *s)
{
    if (p->failures >= FAILURES_BEFORE_BACKOFF && now < p->next_probe_ms)
        return device_bad_sample(&p->dev, s);
    struct gw_reader reader = { .read = twin_read, .io = &p->io };
    int status = device_poll(&p->dev, &reader, s);
    if (status >= 0)
        note_result(p, status, now);
    return status < 0 ? status : 0;
}

/* ---- one simulated span -------------------------------------------------- */

/* One alarm: a rule of a device. */
struct alarm_row {
    char *device, *rule;
    const char *type;            /* static */
    enum gw_severity severity;
    size_t activations;
    int64_t first_ms;            /* first activation; 0 none */
    bool active;                 /* the condition (or its latch) holds */
    int64_t active_since_ms, longest_ms;
    bool chattered;
    int64_t last3[CHATTER_COUNT];  /* its latest activations, for chattering */
};

struct activation {
    int64_t ts_ms;
    size_t alarm;
};

/* A stretch of time during which an alarm was stale (active > 24 h). */
struct stale_span {
    size_t alarm;
    int64_t from_ms, to_ms;
};

/* A fault of the script as scheduled. */
struct injected {
    const struct fault_spec *spec;
    int64_t start_ms, end_ms;    /* end 0: until the end of the span */
};

struct run {
    const struct options *o;
    struct sim sim;
    struct gw_config *cfg;
    struct gw_kinds kinds;
    struct gw_rules *rules;
    struct polled *devices;
    size_t n_devices;
    struct alarm_row *alarms;
    size_t n_alarms;
    struct activation *acts;
    size_t n_acts, cap_acts;
    struct stale_span *stale;
    size_t n_stale, cap_stale;
    struct injected *injected;
    size_t n_injected;
    int64_t start_ms, end_ms;
    uint64_t samples, judged, backoff_samples;
    struct read_counts reads;
    double wall_s, cpu_s;
    FILE *events;
    bool out_of_memory;
};

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? 2 * *cap : 64;
    void *p = realloc(v, c * size);
    if (p)
        *cap = c;
    return p;
}

static size_t find_alarm(const struct run *r, const char *device, const char *rule)
{
    for (size_t i = 0; i < r->n_alarms; i++)
        if (strcmp(r->alarms[i].device, device) == 0 && strcmp(r->alarms[i].rule, rule) == 0)
            return i;
    return SIZE_MAX;
}

static void format_local(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / MS_PER_S);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void note_stale(struct run *r, size_t alarm, int64_t since, int64_t until)
{
    if (until - since <= STALE_MS)
        return;
    struct stale_span *v = grow(r->stale, &r->cap_stale, r->n_stale, sizeof *v);
    if (!v) {
        r->out_of_memory = true;
        return;
    }
    r->stale = v;
    v[r->n_stale++] = (struct stale_span){ alarm, since + STALE_MS, until };
}

static void set_active(struct run *r, size_t i, bool active, int64_t t)
{
    struct alarm_row *a = &r->alarms[i];
    if (active == a->active)
        return;
    a->active = active;
    if (active) {
        a->active_since_ms = t;
        return;
    }
    if (t - a->active_since_ms > a->longest_ms)
        a->longest_ms = t - a->active_since_ms;
    note_stale(r, i, a->active_since_ms, t);
}

static void note_activation(struct run *r, size_t i, int64_t t)
{
    struct alarm_row *a = &r->alarms[i];
    struct activation *v = grow(r->acts, &r->cap_acts, r->n_acts, sizeof *v);
    if (!v) {
        r->out_of_memory = true;
        return;
    }
    r->acts = v;
    v[r->n_acts++] = (struct activation){ t, i };
    if (!a->activations++)
        a->first_ms = t;
    memmove(a->last3, a->last3 + 1, (CHATTER_COUNT - 1) * sizeof *a->last3);
    a->last3[CHATTER_COUNT - 1] = t;
    if (a->activations >= CHATTER_COUNT && t - a->last3[0] <= CHATTER_MS)
        a->chattered = true;
}

static void write_event(FILE *out, const struct gw_alarm_event *ev)
{
    const struct gw_alarm_info *a = &ev->alarm;
    char when[32];
    format_local(ev->ts_ms, when, sizeof when);
    fprintf(out, "%s  %s/%s  %s -> %s (%s)", when, a->device, a->rule, alarm_state_name(ev->from_state),
            alarm_state_name(a->state), ev->cause);
    if (a->has_value)
        fprintf(out, "  value %g", a->value);
    if (a->has_limit)
        fprintf(out, " limit %g", a->limit);
    fprintf(out, "  %s\n", a->message);
}

/* Every transition: an activation is the alarm becoming
 * active-unacknowledged from any other state (what notification sends as a
 * trigger; a severity rise in that state is not one). */
static void on_event(const struct gw_alarm_event *ev, void *arg)
{
    struct run *r = arg;
    size_t i = find_alarm(r, ev->alarm.device, ev->alarm.rule);
    if (r->events)
        write_event(r->events, ev);
    if (i == SIZE_MAX)
        return;
    if (ev->alarm.state == GW_ALARM_ACTIVE_UNACKED && ev->from_state != GW_ALARM_ACTIVE_UNACKED)
        note_activation(r, i, ev->ts_ms);
    set_active(r, i, ev->alarm.active, ev->ts_ms);
}

static void add_alarm(const struct gw_alarm_info *info, void *arg)
{
    struct run *r = arg;
    struct alarm_row *a = &r->alarms[r->n_alarms];
    *a = (struct alarm_row){ .device = strdup(info->device), .rule = strdup(info->rule),
                             .type = info->type_name, .severity = info->severity };
    if (!a->device || !a->rule) {
        free(a->device);
        free(a->rule);
        r->out_of_memory = true;
        return;
    }
    r->n_alarms++;
}

/* The daemon's side: its configuration with the plugins of this build, the
 * kinds, and the rules as greenwatchd checks them.  Returns 0 or -EINVAL
 * (printed). */
static int load_daemon(struct run *r, const char *path)
{
    struct gw_diag diag = { 0 };
    int rc = config_load(path, &r->cfg, &diag);
    if (!rc) {
        char *dir = strdup(r->o->plugin_dir);
        free(r->cfg->daemon.plugin_dir);
        r->cfg->daemon.plugin_dir = dir;
        rc = dir ? kinds_load(r->cfg, &r->kinds, &diag) : -ENOMEM;
    }
    if (!rc)
        rc = rules_check(r->cfg, &r->kinds, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    return rc ? -EINVAL : 0;
}

/* Pair every enabled device with its twin.  Returns 0 or -EINVAL. */
static int pair_devices(struct run *r)
{
    r->devices = calloc(r->cfg->n_devices + 1, sizeof *r->devices);
    if (!r->devices)
        return -ENOMEM;
    for (size_t i = 0; i < r->cfg->n_devices; i++) {
        const struct gw_device_cfg *dc = &r->cfg->devices[i];
        struct sim_device *twin = sim_find_device(&r->sim, dc->id);
        if (!dc->enabled)
            continue;
        if (!twin) {
            fprintf(stderr, "%s: device '%s' is not simulated\n", r->o->sim_file, dc->id);
            return -EINVAL;
        }
        struct polled *p = &r->devices[r->n_devices];
        if (device_init(&p->dev, dc, kinds_find(&r->kinds, dc->kind)))
            return -EINVAL;
        r->n_devices++;
        const struct gw_bus_cfg *bus = &r->cfg->buses[dc->bus_index];
        p->io = (struct twin_io){ &r->sim, twin, dc->timeout_ms > 0 ? dc->timeout_ms : bus->timeout_ms, &r->reads };
        p->interval_ms = llround(dc->interval_s * MS_PER_S);
        /* scheduler.c: the first poll at the next multiple of the interval. */
        p->due_ms = r->start_ms - r->start_ms % p->interval_ms + p->interval_ms;
    }
    return 0;
}

static bool is_workday(const struct run *r, int64_t day_ms)
{
    struct sim_calendar cal;
    calendar_at((double)day_ms / MS_PER_S + 43200.0, r->sim.building.p.utc_offset_s, &cal);
    return cal.workday;
}

static bool replay_day(const struct run *r, int day, int64_t day_ms)
{
    switch (r->o->replay) {
    case REPLAY_WEEKLY: return day % 7 == 0;
    case REPLAY_WORKDAYS: return is_workday(r, day_ms);
    default: return day == 0;
    }
}

/* Schedule the script on every replay day (days of 24 h from the start).
 * Returns 0, or -EINVAL after printing FILE:LINE: message. */
static int schedule_script(struct run *r, const struct script *sc)
{
    int days = (int)((r->end_ms - r->start_ms + MS_PER_DAY - 1) / MS_PER_DAY), n = 0;
    for (int day = 0; day < days; day++)
        n += replay_day(r, day, r->start_ms + day * MS_PER_DAY);
    r->injected = calloc((size_t)n * sc->n + 1, sizeof *r->injected);
    if (!r->injected)
        return -ENOMEM;
    for (int day = 0; day < days; day++) {
        int64_t day_ms = r->start_ms + day * MS_PER_DAY;
        for (size_t i = 0; i < sc->n && replay_day(r, day, day_ms); i++) {
            const struct fault_spec *f = &sc->specs[i];
            char err[256];
            double start = (double)day_ms / MS_PER_S + f->after_s;
            if (faults_add(&r->sim, f, start, NULL, err, sizeof err) < 0) {
                fprintf(stderr, "%s:%d: %s\n", r->o->faults_file, f->line, err);
                return -EINVAL;
            }
            int64_t start_ms = llround(start * MS_PER_S);
            r->injected[r->n_injected++] = (struct injected){
                f, start_ms, f->for_s > 0 ? start_ms + llround(f->for_s * MS_PER_S) : 0 };
        }
    }
    faults_update(&r->sim);  /* faults from the start hold for the first read */
    return 0;
}

/* Build the simulation, the daemon's devices and rules for one span.
 * Returns 0, or a negative errno after printing why. */
static int run_open(struct run *r, const struct options *o, const struct script *sc)
{
    struct sim_overrides ov = { .start = o->from, .truth = "", .scenario = "", .has_seed = o->has_seed,
                                .seed = o->seed };
    struct sim_options so;
    r->o = o;
    if (simconf_load(o->sim_file, &ov, (double)time(NULL), &r->sim, &so) < 0)
        return -EINVAL;
    if (o->step_s > 0)
        r->sim.dt = o->step_s;
    if (!r->sim.daemon_cfg) {
        fprintf(stderr, "%s: plays no daemon configuration (daemon_config)\n", o->sim_file);
        return -EINVAL;
    }
    r->start_ms = llround(r->sim.building.t0 * MS_PER_S);
    r->end_ms = r->start_ms + llround(o->days * MS_PER_DAY);
    simulated_now_ms = r->start_ms;
    int rc = load_daemon(r, r->sim.daemon_cfg->file);
    log_set_level(GW_LOG_ERROR);  /* after config_load, which sets the file's level */
    if (!rc)
        rc = rules_create(r->cfg, &r->kinds, NULL, on_event, r, r->start_ms, &r->rules);
    if (!rc && !(r->alarms = calloc(rules_count(r->rules) + 1, sizeof *r->alarms)))
        rc = -ENOMEM;
    if (!rc)
        rules_foreach_alarm(r->rules, add_alarm, r);
    if (!rc)
        rc = pair_devices(r);
    if (!rc && sc)
        rc = schedule_script(r, sc);
    if (!rc && r->out_of_memory)
        rc = -ENOMEM;
    if (rc == -ENOMEM)
        fprintf(stderr, "alarm_kpi: out of memory\n");
    return rc;
}

static void run_close(struct run *r)
{
    rules_free(r->rules);
    for (size_t i = 0; i < r->n_devices; i++)
        device_free(&r->devices[i].dev);
    free(r->devices);
    kinds_free(&r->kinds);
    config_free(r->cfg);
    sim_free(&r->sim);
    for (size_t i = 0; i < r->n_alarms; i++) {
        free(r->alarms[i].device);
        free(r->alarms[i].rule);
    }
    free(r->alarms);
    free(r->acts);
    free(r->stale);
    free(r->injected);
}

/* Poll p now, and judge its sample.  Returns 0 or -ENOMEM. */
static int poll_and_judge(struct run *r, struct polled *p, int64_t now)
{
    struct gw_sample s = { 0 };
    bool backing_off = p->failures >= FAILURES_BEFORE_BACKOFF && now < p->next_probe_ms;
    int rc = poll_device(p, now, &s);
    if (rc >= 0) {
        r->samples++;
        r->backoff_samples += backing_off;
        r->judged += rules_eval_sample(r->rules, &s, p->dev.cfg, now) == 0;
    }
    sample_free(&s);
    return rc;
}

/* The earliest of the next tick and every device's next poll. */
static int64_t next_instant(const struct run *r, int64_t next_tick)
{
    int64_t t = next_tick;
    for (size_t i = 0; i < r->n_devices; i++)
        if (r->devices[i].due_ms < t)
            t = r->devices[i].due_ms;
    return t;
}

/* Simulated time from start to end: at each instant the model is stepped
 * to it, the devices due are polled and judged, and on whole ticks the
 * rules are ticked.  Returns 0 or -ENOMEM. */
static int run_span(struct run *r)
{
    int64_t tick_ms = llround(r->o->tick_s * MS_PER_S), next_tick = r->start_ms + tick_ms;
    for (int64_t t; (t = next_instant(r, next_tick)) < r->end_ms;) {
        simulated_now_ms = t;
        sim_advance_to(&r->sim, (double)t / MS_PER_S, 0);
        for (size_t i = 0; i < r->n_devices; i++) {
            struct polled *p = &r->devices[i];
            if (p->due_ms > t)
                continue;
            if (poll_and_judge(r, p, t) < 0)
                return -ENOMEM;
            p->due_ms += p->interval_ms;
        }
        if (t == next_tick) {
            rules_tick(r->rules, t);
            next_tick += tick_ms;
        }
    }
    for (size_t i = 0; i < r->n_alarms; i++)  /* what still stands, as of the end */
        set_active(r, i, false, r->end_ms);
    return r->out_of_memory ? -ENOMEM : 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Open, run and time one span.  Returns 0 or a negative errno (printed). */
static int run_measured(struct run *r, const struct options *o, const struct script *sc, FILE *events)
{
    *r = (struct run){ .events = events };
    int64_t wall0 = clock_mono_ns();
    double cpu0 = cpu_seconds();
    int rc = run_open(r, o, sc);
    if (!rc && events)
        fprintf(events, "# %s\n", sc ? "with the fault script" : "healthy");
    if (!rc && (rc = run_span(r)))
        fprintf(stderr, "alarm_kpi: out of memory\n");
    r->wall_s = (double)(clock_mono_ns() - wall0) / 1e9;
    r->cpu_s = cpu_seconds() - cpu0;
    return rc;
}

/* ---- the figures --------------------------------------------------------- */

struct kpi {
    double per_10min;
    size_t peak_sliding, peak_fixed;
    int64_t peak_sliding_at, peak_fixed_at;
    double flood_pct;            /* fixed 10-minute periods with more than 10 */
    size_t chattering;           /* alarms that chattered */
    size_t stale;                /* alarms that were ever stale */
    size_t stale_most_on_a_day;
    int64_t stale_day_ms;
};

static int by_time(const void *a, const void *b)
{
    const struct activation *x = a, *y = b;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

/* The most activations within any 10 minutes: windows [t, t + 10 min)
 * starting at each activation. */
static void peak_sliding(const struct run *r, struct kpi *k)
{
    for (size_t i = 0, j = 0; i < r->n_acts; i++) {
        while (j < r->n_acts && r->acts[j].ts_ms < r->acts[i].ts_ms + WINDOW_MS)
            j++;
        if (j - i > k->peak_sliding) {
            k->peak_sliding = j - i;
            k->peak_sliding_at = r->acts[i].ts_ms;
        }
    }
}

/* Fixed periods on the clock (hh:00, hh:10, ...): the most in one, and the
 * share of periods with more than 10 (a flood). */
static void peak_fixed(const struct run *r, struct kpi *k)
{
    size_t floods = 0, periods = (size_t)((r->end_ms - r->start_ms + WINDOW_MS - 1) / WINDOW_MS);
    for (size_t i = 0, j; i < r->n_acts; i = j) {
        int64_t period = r->acts[i].ts_ms / WINDOW_MS;
        for (j = i; j < r->n_acts && r->acts[j].ts_ms / WINDOW_MS == period; j++)
            ;
        floods += j - i > TARGET_PEAK_10MIN;
        if (j - i > k->peak_fixed) {
            k->peak_fixed = j - i;
            k->peak_fixed_at = period * WINDOW_MS;
        }
    }
    k->flood_pct = periods ? 100.0 * (double)floods / (double)periods : 0.0;
}

/* Per day of the span: the alarms stale at some time of it. */
static void stale_by_day(const struct run *r, struct kpi *k)
{
    for (int64_t day = r->start_ms; day < r->end_ms; day += MS_PER_DAY) {
        size_t n = 0;
        for (size_t i = 0; i < r->n_alarms; i++) {
            bool stale = false;
            for (size_t s = 0; s < r->n_stale && !stale; s++)
                stale = r->stale[s].alarm == i && r->stale[s].from_ms < day + MS_PER_DAY && r->stale[s].to_ms > day;
            n += stale;
        }
        if (n > k->stale_most_on_a_day) {
            k->stale_most_on_a_day = n;
            k->stale_day_ms = day;
        }
    }
}

static void compute(struct run *r, struct kpi *k)
{
    *k = (struct kpi){ 0 };
    qsort(r->acts, r->n_acts, sizeof *r->acts, by_time);
    double periods = (double)(r->end_ms - r->start_ms) / (double)WINDOW_MS;
    k->per_10min = periods > 0 ? (double)r->n_acts / periods : 0.0;
    peak_sliding(r, k);
    peak_fixed(r, k);
    for (size_t i = 0; i < r->n_alarms; i++) {
        k->chattering += r->alarms[i].chattered;
        k->stale += r->alarms[i].longest_ms > STALE_MS;
    }
    stale_by_day(r, k);
}

/* ---- the report ---------------------------------------------------------- */

static const char *thousands(uint64_t v, char *buf, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *duration(int64_t ms, char *buf, size_t n)
{
    int64_t min = ms / 60000;
    if (ms <= 0)
        snprintf(buf, n, "-");
    else if (min < 1)
        snprintf(buf, n, "%" PRId64 " s", ms / 1000);
    else if (min < 120)
        snprintf(buf, n, "%" PRId64 " min", min);
    else if (min < 48 * 60)
        snprintf(buf, n, "%.1f h", (double)min / 60.0);
    else
        snprintf(buf, n, "%.1f d", (double)min / 1440.0);
    return buf;
}

static const char *verdict(bool pass)
{
    return pass ? "pass" : "**FAIL**";
}

static void print_setup(const struct run *r)
{
    char a[32], b[32], c[32], d[32], e[32];
    size_t fast = 0;
    for (size_t i = 0; i < r->n_devices; i++)
        fast += r->devices[i].interval_ms <= 10 * MS_PER_S;
    double span_s = (double)(r->end_ms - r->start_ms) / MS_PER_S;
    format_local(r->start_ms, a, sizeof a);
    format_local(r->end_ms, b, sizeof b);
    printf("| | |\n|---|---|\n");
    printf("| simulated span | %s to %s %s (%.4g day%s), model step %g s, rules ticked every %g s |\n", a, b,
           r->cfg->site.timezone, span_s / 86400.0, span_s == 86400.0 ? "" : "s", r->sim.dt, r->o->tick_s);
    printf("| devices | %zu (%zu polled every 10 s or faster, %zu less often) on %zu buses; %zu alarms "
           "(rules of devices) |\n", r->n_devices, fast, r->n_devices - fast, r->cfg->n_buses, r->n_alarms);
    printf("| samples | %s polled, %s judged by rules (devices with rules), %s of them all-bad during "
           "backoff |\n", thousands(r->samples, a, sizeof a), thousands(r->judged, b, sizeof b),
           thousands(r->backoff_samples, c, sizeof c));
    printf("| reads | %s requests: %s answered with an exception, %s unanswered, %s answered after the "
           "timeout |\n", thousands(r->reads.requests, a, sizeof a), thousands(r->reads.exceptions, b, sizeof b),
           thousands(r->reads.unanswered, c, sizeof c), thousands(r->reads.late, d, sizeof d));
    printf("| bench | %.1f s wall, %.1f s CPU; %s times real time |\n", r->wall_s, r->cpu_s,
           thousands((uint64_t)(span_s / (r->wall_s > 0 ? r->wall_s : 1e-9)), e, sizeof e));
}

/* Prints the KPI table; returns whether every target is met. */
static bool print_kpis(const struct run *r, const struct kpi *k)
{
    char a[32], b[32], c[32];
    bool rate = k->per_10min <= TARGET_PER_10MIN, peak = k->peak_sliding <= TARGET_PEAK_10MIN;
    bool chatter = k->chattering == 0, stale = k->stale_most_on_a_day < TARGET_STALE_PER_DAY;
    format_local(k->peak_sliding_at, a, sizeof a);
    format_local(k->peak_fixed_at, b, sizeof b);
    printf("\n| KPI | measured | ISA-18.2 target | |\n|---|---|---|---|\n");
    printf("| alarms (activations) | %s | | |\n", thousands(r->n_acts, c, sizeof c));
    printf("| per 10 minutes, average | %.3f | about 1: at most %.0f | %s |\n", k->per_10min, TARGET_PER_10MIN,
           verdict(rate));
    printf("| most in any 10 minutes (sliding window) | %zu%s%s%s | at most %d | %s |\n", k->peak_sliding,
           k->peak_sliding ? " (from " : "", k->peak_sliding ? a : "", k->peak_sliding ? ")" : "",
           TARGET_PEAK_10MIN, verdict(peak));
    printf("| most in a fixed 10 minutes (hh:00, hh:10, ...) | %zu%s%s%s | at most %d | |\n", k->peak_fixed,
           k->peak_fixed ? " (" : "", k->peak_fixed ? b : "", k->peak_fixed ? ")" : "", TARGET_PEAK_10MIN);
    printf("| fixed 10 minutes with more than %d (flood) | %.2f %% | under 1 %% | |\n", TARGET_PEAK_10MIN,
           k->flood_pct);
    printf("| chattering alarms (%d+ activations within 60 s) | %zu | 0 | %s |\n", CHATTER_COUNT, k->chattering,
           verdict(chatter));
    format_local(k->stale_day_ms, a, sizeof a);
    a[10] = '\0';
    printf("| stale alarms (active > 24 h): alarms | %zu | | |\n", k->stale);
    printf("| stale alarms: most present on one day | %zu%s%s%s | fewer than %d | %s |\n",
           k->stale_most_on_a_day, k->stale_most_on_a_day ? " (" : "", k->stale_most_on_a_day ? a : "",
           k->stale_most_on_a_day ? ")" : "", TARGET_STALE_PER_DAY, verdict(stale));
    return rate && peak && chatter && stale;
}

static int by_count(const void *a, const void *b)
{
    const struct alarm_row *x = *(const struct alarm_row *const *)a, *y = *(const struct alarm_row *const *)b;
    if (x->activations != y->activations)
        return x->activations < y->activations ? 1 : -1;
    int c = strcmp(x->device, y->device);
    return c ? c : strcmp(x->rule, y->rule);
}

static void print_alarm_table(const struct run *r)
{
    const struct alarm_row **rows = calloc(r->n_alarms + 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; rows && i < r->n_alarms; i++)
        if (r->alarms[i].activations)
            rows[n++] = &r->alarms[i];
    qsort(rows, n, sizeof *rows, by_count);
    printf("\nActivations per rule and device:\n\n");
    printf("| device | rule | type | severity | activations | first | longest active | chattering |\n");
    printf("|---|---|---|---|---:|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        char first[32], longest[32];
        format_local(rows[i]->first_ms, first, sizeof first);
        printf("| %s | %s | %s | %s | %zu | %s | %s | %s |\n", rows[i]->device, rows[i]->rule, rows[i]->type,
               gw_severity_names[rows[i]->severity], rows[i]->activations, first,
               duration(rows[i]->longest_ms, longest, sizeof longest), rows[i]->chattered ? "yes" : "");
    }
    if (!n)
        printf("| (none) | | | | 0 | | | |\n");
    printf("\n%zu of %zu alarms never activated.\n", r->n_alarms - n, r->n_alarms);
    free(rows);
}

static void print_replays(const struct run *r, const struct script *sc)
{
    printf("Fault script `%s` (%zu faults), played %s on top of the physics: ", r->o->faults_file, sc->n,
           replay_names[r->o->replay]);
    for (size_t i = 0; i < r->n_injected; i += sc->n) {
        char day[32];
        format_local(r->injected[i].start_ms - llround(r->injected[i].spec->after_s * MS_PER_S), day, sizeof day);
        day[10] = '\0';
        printf("%s%s", i ? ", " : "", day);
    }
    printf(" (%zu faults in all).\n\n", r->n_injected);
}

/* Print one span's report; returns whether every target is met. */
static bool report(struct run *r, const struct script *sc)
{
    struct kpi k;
    compute(r, &k);
    printf("\n## %s\n\n", sc ? "With the fault script" : "Healthy building (no faults)");
    if (sc)
        print_replays(r, sc);
    print_setup(r);
    bool pass = print_kpis(r, &k);
    print_alarm_table(r);
    return pass;
}

/* ---- --smoke: every fault seen ------------------------------------------- */

/* A rollover is what a counter does: it must raise nothing. */
static bool expects_alarm(const struct fault_spec *f)
{
    return f->type != FAULT_COUNTER_ROLLOVER;
}

/* Activations on the fault's device from its start to an hour after its
 * end (counter faults and a spike of some reads happen at once; another
 * fault without an end lasts the span). */
static size_t alarms_for(const struct run *r, const struct injected *f)
{
    enum fault_type t = f->spec->type;
    bool at_once = t == FAULT_COUNTER_RESET || t == FAULT_COUNTER_ROLLOVER || (t == FAULT_SPIKE && f->spec->reads > 0);
    int64_t until = (f->end_ms ? f->end_ms : at_once ? f->start_ms : r->end_ms) + SMOKE_GRACE_MS;
    size_t n = 0;
    for (size_t i = 0; i < r->n_acts; i++)
        n += r->acts[i].ts_ms >= f->start_ms && r->acts[i].ts_ms <= until &&
             strcmp(r->alarms[r->acts[i].alarm].device, f->spec->device) == 0;
    return n;
}

/* Prints each fault and the alarms on its device; returns whether each
 * fault raised at least one (a rollover none) and nothing chattered. */
static bool report_smoke(struct run *r)
{
    struct kpi k;
    bool pass = true;
    compute(r, &k);
    printf("\nFault script `%s`, %zu faults.\n\n", r->o->faults_file, r->n_injected);
    print_setup(r);
    printf("\n| fault | device | from | to | alarms on the device (to an hour after) | expected | |\n"
           "|---|---|---|---|---:|---|---|\n");
    for (size_t i = 0; i < r->n_injected; i++) {
        const struct injected *f = &r->injected[i];
        char from[32], to[32] = "-";
        format_local(f->start_ms, from, sizeof from);
        if (f->end_ms)
            format_local(f->end_ms, to, sizeof to);
        size_t n = alarms_for(r, f);
        bool ok = expects_alarm(f->spec) ? n > 0 : n == 0;
        pass &= ok;
        printf("| %s | %s | %s | %s | %zu | %s | %s |\n", fault_type_names[f->spec->type], f->spec->device,
               from + 11, f->end_ms ? to + 11 : to, n, expects_alarm(f->spec) ? "at least 1" : "none",
               verdict(ok));
    }
    printf("\n| chattering alarms (%d+ activations within 60 s) | %zu | 0 | %s |\n|---|---|---|---|\n",
           CHATTER_COUNT, k.chattering, verdict(k.chattering == 0));
    print_alarm_table(r);
    return pass && k.chattering == 0;
}

/* ---- main ---------------------------------------------------------------- */

/* Run one span and report it.  Returns 0 if its targets are met, 1 if not,
 * 2 if it could not run. */
static int run_one(const struct options *o, const struct script *sc, FILE *events)
{
    struct run r;
    int rc = run_measured(&r, o, sc, events);
    int status = 2;
    if (!rc && o->smoke)
        status = report_smoke(&r) ? 0 : 1;
    else if (!rc)
        status = report(&r, sc) ? 0 : 1;
    run_close(&r);
    return status;
}

int main(int argc, char **argv)
{
    struct options o;
    struct script sc = { 0 };
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (o.faults && script_load(o.faults_file, &sc) < 0) {
        fprintf(stderr, "alarm_kpi: no usable fault script (--faults FILE)\n");
        free(sc.specs);
        return 2;
    }
    FILE *events = o.events_file ? fopen(o.events_file, "w") : NULL;
    if (o.events_file && !events) {
        perror(o.events_file);
        free(sc.specs);
        return 2;
    }
    printf("# Alarm KPIs of the demo building%s\n", o.smoke ? ": one day with the fault script" : "");
    int status = 0, s;
    int64_t wall0 = clock_mono_ns();
    double cpu0 = cpu_seconds();
    if (o.faults && (s = run_one(&o, &sc, events)) > status)
        status = s;
    if (o.healthy && (s = run_one(&o, NULL, events)) > status)
        status = s;
    printf("\nWhole bench: %.1f s wall, %.1f s CPU.  %s\n", (double)(clock_mono_ns() - wall0) / 1e9,
           cpu_seconds() - cpu0,
           status == 2 ? "**Could not run.**" : status == 1 ? "**A target was missed.**"
           : o.smoke ? "Every fault raised an alarm, the rollover none, and none chattered." : "Every target met.");
    if (events)
        fclose(events);
    free(sc.specs);
    return status;
}
