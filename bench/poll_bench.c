/*
 * poll_bench: what polling N devices costs, through the daemon's engine and
 * through the least a libmodbus program must do for the same reads.
 *
 *   poll_bench --impl engine|floor|daemon --devices N --layout device|gateway
 *              [--gateways G] [--duration S] [--warmup S] [--interval-ms I]
 *
 * It starts gw-bench-fleet (its own process) serving N devices of the map
 * in benchmap.h, then either
 *   engine: writes a configuration and a profile, loads them as the daemon
 *           does (daemon_load), and runs engine_create/engine_start; the
 *           main thread takes every sample with engine_next_sample, formats
 *           it with sample_to_json as the daemon's stdout sink does and
 *           writes it to /dev/null;
 *   floor:  one thread per connection, each reading its devices on the same
 *           wall-clock grid with modbus_read_registers, the same requests
 *           (the optimal plan computed in benchmap.c) and no decoding;
 *   daemon: runs greenwatchd itself on the same configuration, its stdout
 *           (one JSON line per sample) into a pipe read here; CPU and peak
 *           RSS are then greenwatchd's (/proc), not this process's.
 *
 * Layouts: "device" gives every device its own port and connection (N
 * buses, N threads); "gateway" puts N/G unit ids behind each of G ports.
 *
 * Measured over a window of whole intervals after the warm-up, starting
 * and ending half an interval after a grid instant (when the buses are
 * idle): polls and good points delivered per second, CPU seconds of this
 * process (getrusage, user + system) and of the fleet (/proc), the
 * consumer (main) thread's CPU, peak RSS of this process (ru_maxrss), requests
 * per poll counted by the fleet against the optimum, missed polls (grid
 * slots of the window in which a device produced no sample) and how late
 * in its slot each poll started.  One markdown table row on stdout;
 * --header prints the table's head.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <modbus/modbus.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchmap.h"
#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "plugin.h"
#include "sample.h"
#include "scheduler.h"
#include "benchutil.h"

extern char **environ;

#define MAX_UNITS_PER_PORT 247
#define PROFILE_ID "bench-meter"
#define LATE_BINS 10001              /* start delay histogram, 1 ms bins */

enum impl { IMPL_ENGINE, IMPL_FLOOR, IMPL_DAEMON };
static const char *const impl_names[] = { "engine", "floor", "daemon" };
enum layout { LAYOUT_DEVICE, LAYOUT_GATEWAY };

struct options {
    enum impl impl;
    enum layout layout;
    unsigned devices, gateways;
    unsigned duration_s, warmup_s;
    unsigned interval_ms;
    const char *fleet;
    const char *daemon;
    const char *plugin_dir;
};

/* Where the N devices are: buses x units, device d = bus * units + unit - 1. */
struct topology {
    unsigned buses, units;
    int *ports;
};

/* What the window saw, filled by whoever receives samples. */
struct window {
    int64_t first_slot, end_slot;    /* slots [first, end) of interval_ms */
    int64_t interval_ms;
    int64_t *last_slot;              /* per device */
    uint64_t polls, good_points, bad_points;
    uint64_t late[LATE_BINS];
};

struct snapshot {
    int64_t mono_ns;
    double self_cpu_s, consumer_cpu_s, fleet_cpu_s;
};

struct fleet {
    pid_t pid;
    FILE *out;
};

struct result {
    uint64_t total_polls, fleet_requests, fleet_exceptions;
    size_t optimum;
    struct snapshot a, b;
    long max_rss_kb;
};

/* ---- measurement --------------------------------------------------- */

static double timeval_s(struct timeval tv)
{
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* User + system CPU seconds of process pid, or of its thread tid if tid
 * is not 0, from /proc; -1 if unknown. */
static double proc_cpu_s(pid_t pid, pid_t tid)
{
    char path[64], buf[1024];
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    /* after "pid (comm)": state, then fields 4..13, then utime, stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU times now: of this process and its calling thread (the consumer),
 * or of process measured and its main thread if measured is not 0; and
 * of the fleet. */
static void take_snapshot(struct snapshot *s, pid_t fleet_pid, pid_t measured)
{
    struct rusage ru;
    struct timespec ts;
    getrusage(RUSAGE_SELF, &ru);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    s->mono_ns = clock_mono_ns();
    s->self_cpu_s = measured ? proc_cpu_s(measured, 0) : timeval_s(ru.ru_utime) + timeval_s(ru.ru_stime);
    s->consumer_cpu_s = measured ? proc_cpu_s(measured, measured) : (double)ts.tv_sec + ts.tv_nsec / 1e9;
    s->fleet_cpu_s = proc_cpu_s(fleet_pid, 0);
}

/* Peak resident set of pid (VmHWM), in kB, or 0. */
static long proc_peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int window_init(struct window *w, unsigned devices, const struct options *o)
{
    memset(w, 0, sizeof *w);
    w->interval_ms = o->interval_ms;
    int64_t slot_now = clock_wall_ms() / w->interval_ms;
    int64_t warm_slots = ((int64_t)o->warmup_s * 1000 + w->interval_ms - 1) / w->interval_ms;
    w->first_slot = slot_now + 1 + (warm_slots > 0 ? warm_slots : 1);
    w->end_slot = w->first_slot + ((int64_t)o->duration_s * 1000) / w->interval_ms;
    w->last_slot = malloc(devices * sizeof *w->last_slot);
    if (!w->last_slot)
        return -ENOMEM;
    for (unsigned i = 0; i < devices; i++)
        w->last_slot[i] = -1;
    return 0;
}

/* Wall-clock ms at which the window's CPU measurement starts and ends:
 * half an interval after a grid instant, when every bus is idle. */
static int64_t window_start_ms(const struct window *w)
{
    return w->first_slot * w->interval_ms - w->interval_ms / 2;
}

static int64_t window_end_ms(const struct window *w)
{
    return w->end_slot * w->interval_ms - w->interval_ms / 2;
}

/* A poll of device started at wall time ts_ms delivered good and bad
 * points: count it if it is the device's first in a slot of the window. */
static void window_note(struct window *w, unsigned device, int64_t ts_ms, uint64_t good, uint64_t bad)
{
    int64_t slot = ts_ms / w->interval_ms;
    if (slot < w->first_slot || slot >= w->end_slot || slot <= w->last_slot[device])
        return;
    w->last_slot[device] = slot;
    w->polls++;
    w->good_points += good;
    w->bad_points += bad;
    int64_t late = ts_ms - slot * w->interval_ms;
    w->late[late < LATE_BINS ? late : LATE_BINS - 1]++;
}

/* The start delay (ms into the slot) below which fraction q of polls started. */
static long window_late_quantile(const struct window *w, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)w->polls), seen = 0;
    for (size_t i = 0; i < LATE_BINS; i++)
        if ((seen += w->late[i]) >= want && want)
            return (long)i;
    return 0;
}

/* ---- the fleet ----------------------------------------------------- */

static int fleet_start(struct fleet *fl, const struct options *o, struct topology *t)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -errno;
    char ports[16], units[16];
    snprintf(ports, sizeof ports, "%u", t->buses);
    snprintf(units, sizeof units, "%u", t->units);
    char *const argv[] = { (char *)o->fleet, "--ports", ports, "--units", units, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(&fl->pid, o->fleet, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc) {
        fl->pid = 0;
        close(pipefd[0]);
        fprintf(stderr, "poll_bench: cannot run %s: %s\n", o->fleet, strerror(rc));
        return -rc;
    }
    fl->out = fdopen(pipefd[0], "r");
    char *line = NULL;
    size_t cap = 0;
    if (!fl->out || getline(&line, &cap, fl->out) < 0 || strncmp(line, "READY", 5) != 0) {
        fprintf(stderr, "poll_bench: the fleet did not start\n");
        free(line);
        return -EIO;
    }
    char *p = line + 5;
    for (unsigned i = 0; i < t->buses; i++) {
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port <= 0 || port > 65535) {
            fprintf(stderr, "poll_bench: the fleet's READY line lacks ports\n");
            free(line);
            return -EIO;
        }
        t->ports[i] = (int)port;
        p = end;
    }
    free(line);
    return 0;
}

/* Stops the fleet by its pid and reads what it served.  Returns 0 or -EIO. */
static int fleet_stop(struct fleet *fl, uint64_t *requests, uint64_t *exceptions)
{
    if (!fl->pid)
        return 0;
    kill(fl->pid, SIGTERM);
    char *line = NULL;
    size_t cap = 0;
    unsigned long long r = 0, e = 0;
    int rc = -EIO;
    if (fl->out && getline(&line, &cap, fl->out) > 0 && sscanf(line, "served %llu %llu", &r, &e) == 2)
        rc = 0;
    free(line);
    int status;
    waitpid(fl->pid, &status, 0);
    fl->pid = 0;
    if (fl->out)
        fclose(fl->out);
    fl->out = NULL;
    *requests = r;
    *exceptions = e;
    return rc;
}

/* ---- the engine ---------------------------------------------------- */

static int write_files(const char *dir, const struct options *o, const struct topology *t, char *conf, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/profiles", dir);
    if (mkdir(path, 0700) < 0)
        return -errno;
    snprintf(path, sizeof path, "%s/profiles/%s.conf", dir, PROFILE_ID);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int rc = bench_write_profile(f, PROFILE_ID);
    if (fclose(f) || rc)
        return -EIO;

    snprintf(conf, n, "%s/bench.conf", dir);
    if (!(f = fopen(conf, "w")))
        return -errno;
    fprintf(f, "site = { id = \"bench\"; name = \"poll benchmark\"; };\n");
    fprintf(f, "daemon = { plugin_dir = \"%s\"; profile_dir = \"%s/profiles\"; spool_dir = \"%s/spool\";"
               " log_level = \"warning\"; };\n", o->plugin_dir, dir, dir);
    fputs("buses = (\n", f);
    for (unsigned b = 0; b < t->buses; b++)
        fprintf(f, "  { id = \"b%u\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 1000; }%s\n", b, t->ports[b],
                b + 1 < t->buses ? "," : "");
    fputs(");\ndevices = (\n", f);
    for (unsigned b = 0, d = 0; b < t->buses; b++)
        for (unsigned u = 1; u <= t->units; u++, d++)
            fprintf(f, "  { id = \"d%u\"; bus = \"b%u\"; unit = %u; kind = \"generic\"; profile = \"%s\";"
                       " interval_s = %.3f; }%s\n", d, b, u, PROFILE_ID, o->interval_ms / 1000.0,
                    d + 1 < o->devices ? "," : "");
    fputs(");\n", f);
    return fclose(f) ? -EIO : 0;
}

static void remove_files(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/profiles/%s.conf", dir, PROFILE_ID);
    unlink(path);
    snprintf(path, sizeof path, "%s/profiles", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/bench.conf", dir);
    unlink(path);
    rmdir(dir);
}

/* What the daemon's stdout sink does with a sample, to /dev/null. */
static void consume(struct window *w, FILE *sink, struct gw_sample *s)
{
    char *json = sample_to_json(s, true);
    if (json) {
        fputs(json, sink);
        fputc('\n', sink);
        free(json);
    }
    uint64_t good = 0;
    for (size_t i = 0; i < s->n_readings; i++)
        good += s->readings[i].quality == GW_QUALITY_GOOD;
    unsigned device = (unsigned)strtoul(s->device_id + 1, NULL, 10);
    window_note(w, device, s->ts_ms, good, s->n_readings - good);
    sample_free(s);
    free(s);
}

/* Take samples until wall-clock ms `until`. */
static void consume_until(struct gw_engine *e, struct window *w, FILE *sink, int64_t until)
{
    for (int64_t left; (left = bench_ms_until(until)) > 0;) {
        struct gw_sample *s = engine_next_sample(e, left > 100 ? 100 : (int)left, NULL);
        for (; s; s = engine_next_sample(e, 0, NULL))
            consume(w, sink, s);
    }
}

static int run_engine(const struct options *o, const struct topology *t, struct fleet *fl,
                      struct window *w, struct result *res)
{
    char dir[] = "/tmp/gw-bench-XXXXXX", conf[4096];
    if (!mkdtemp(dir))
        return -errno;
    int rc = write_files(dir, o, t, conf, sizeof conf);
    struct gw_config *cfg = NULL;
    struct gw_kinds kinds = { 0 };
    struct gw_engine *engine = NULL;
    FILE *sink = fopen("/dev/null", "w");
    if (!rc && !sink)
        rc = -errno;
    if (!rc && daemon_load(conf, &cfg, &kinds))
        rc = -EINVAL;
    if (!rc)
        rc = engine_create(cfg, &kinds, false, &engine);
    if (!rc)
        rc = engine_start(engine);
    if (!rc) {
        consume_until(engine, w, sink, window_start_ms(w));
        take_snapshot(&res->a, fl->pid, 0);
        consume_until(engine, w, sink, window_end_ms(w));
        take_snapshot(&res->b, fl->pid, 0);
        engine_stop(engine);
        for (struct gw_sample *s; (s = engine_next_sample(engine, 0, NULL));)
            consume(w, sink, s);
        uint64_t failed, requests;
        engine_counts(engine, &res->total_polls, &failed, &requests);
    }
    engine_free(engine);
    kinds_free(&kinds);
    config_free(cfg);
    if (sink)
        fclose(sink);
    remove_files(dir);
    return rc;
}

/* ---- the daemon ---------------------------------------------------- */

/* One JSON line of greenwatchd's stdout: its device, time and how many
 * points were good (entries of "points") and not (of "quality"). */
static void daemon_line(struct window *w, const char *line, uint64_t *lines)
{
    const char *dev = strstr(line, "\"device\":\"d"), *ts = strstr(line, "\"ts\":");
    const char *points = strstr(line, "\"points\":{"), *quality = strstr(line, "\"quality\":{");
    if (!dev || !ts || !points || !quality)
        return;
    uint64_t good = 0, bad = 0;
    for (const char *p = points + 10; *p && *p != '}'; p++)
        good += *p == ':';
    for (const char *p = quality + 11; *p && *p != '}'; p++)
        bad += *p == ':';
    (*lines)++;
    window_note(w, (unsigned)strtoul(dev + 11, NULL, 10), strtoll(ts + 5, NULL, 10), good, bad);
}

struct counting {
    struct window *w;
    uint64_t *lines;
};

static void count_line(char *text, void *arg)
{
    struct counting *c = arg;
    daemon_line(c->w, text, c->lines);
}

/* Reads greenwatchd's output from fd until wall-clock ms `until` (or, if
 * until is 0, to its end), a line at a time. */
static void daemon_read_until(int fd, struct window *w, char *buf, size_t cap, size_t *have,
                              uint64_t *lines, int64_t until)
{
    struct counting c = { w, lines };
    bench_read_lines(fd, buf, cap, have, until, count_line, &c);
}

static int run_daemon(const struct options *o, const struct topology *t, struct fleet *fl,
                      struct window *w, struct result *res)
{
    char dir[] = "/tmp/gw-bench-XXXXXX", conf[4096];
    if (!mkdtemp(dir))
        return -errno;
    int rc = write_files(dir, o, t, conf, sizeof conf);
    int pipefd[2] = { -1, -1 };
    pid_t pid = 0;
    if (!rc && pipe(pipefd) < 0)
        rc = -errno;
    if (!rc) {
        char *const argv[] = { (char *)o->daemon, "-c", conf, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
        rc = -posix_spawn(&pid, o->daemon, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (rc)
            fprintf(stderr, "poll_bench: cannot run %s: %s\n", o->daemon, strerror(-rc));
    }
    if (!rc) {
        static char buf[1 << 16];
        size_t have = 0;
        daemon_read_until(pipefd[0], w, buf, sizeof buf, &have, &res->total_polls, window_start_ms(w));
        take_snapshot(&res->a, fl->pid, pid);
        daemon_read_until(pipefd[0], w, buf, sizeof buf, &have, &res->total_polls, window_end_ms(w));
        take_snapshot(&res->b, fl->pid, pid);
        res->max_rss_kb = proc_peak_rss_kb(pid);
        kill(pid, SIGTERM);
        daemon_read_until(pipefd[0], w, buf, sizeof buf, &have, &res->total_polls, 0);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "poll_bench: greenwatchd did not exit cleanly (status %#x)\n", status);
            rc = -EIO;
        }
    }
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    remove_files(dir);
    return rc;
}

/* ---- the floor ----------------------------------------------------- */

struct floor_bus {
    const struct options *o;
    const struct bench_read *reads;
    size_t n_reads;
    int port;
    unsigned first_device, units;
    const atomic_bool *stop;
    struct window *w;                /* shared: under *lock */
    pthread_mutex_t *lock;
    uint64_t polls, requests, errors;
    pthread_t thread;
};

static void sleep_until_mono(int64_t ns)
{
    struct timespec ts = { .tv_sec = ns / GW_NS_PER_S, .tv_nsec = ns % GW_NS_PER_S };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static modbus_t *floor_connect(int port)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    modbus_t *mb = modbus_new_tcp_pi("127.0.0.1", service);
    if (!mb)
        return NULL;
    modbus_set_response_timeout(mb, 1, 0);
    if (modbus_connect(mb) == -1) {
        modbus_free(mb);
        return NULL;
    }
    return mb;
}

/* One device: every read of the plan, no decoding.  Returns good points. */
static uint64_t floor_poll(struct floor_bus *b, modbus_t **mb, unsigned unit)
{
    uint16_t regs[MODBUS_MAX_READ_REGISTERS];
    uint64_t good = 0;
    if (!*mb && !(*mb = floor_connect(b->port)))
        return 0;
    modbus_set_slave(*mb, (int)unit);
    for (size_t r = 0; r < b->n_reads; r++) {
        b->requests++;
        int rc = modbus_read_registers(*mb, (int)b->reads[r].address, (int)b->reads[r].count, regs);
        if (rc == (int)b->reads[r].count) {
            good += b->reads[r].n;
            continue;
        }
        b->errors++;
        modbus_close(*mb);
        modbus_free(*mb);
        *mb = NULL;
        break;
    }
    return good;
}

static void *floor_thread(void *arg)
{
    struct floor_bus *b = arg;
    int64_t interval_ns = (int64_t)b->o->interval_ms * GW_NS_PER_MS;
    modbus_t *mb = floor_connect(b->port);
    int64_t due = sched_first_due(interval_ns, clock_mono_ns(), clock_wall_ms());
    uint64_t missed = 0;
    while (!atomic_load(b->stop)) {
        sleep_until_mono(due);
        if (atomic_load(b->stop))
            break;
        for (unsigned u = 1; u <= b->units; u++) {
            int64_t ts = clock_wall_ms();
            uint64_t good = floor_poll(b, &mb, u);
            b->polls++;
            pthread_mutex_lock(b->lock);
            window_note(b->w, b->first_device + u - 1, ts, good, bench_n_points - good);
            pthread_mutex_unlock(b->lock);
        }
        due = sched_next(due, interval_ns, clock_mono_ns(), &missed);
    }
    if (mb) {
        modbus_close(mb);
        modbus_free(mb);
    }
    return NULL;
}

static int run_floor(const struct options *o, const struct topology *t, struct fleet *fl,
                     struct window *w, struct result *res, const struct bench_read *reads, size_t n_reads)
{
    atomic_bool stop = false;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct floor_bus *buses = calloc(t->buses, sizeof *buses);
    if (!buses)
        return -ENOMEM;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);   /* as the daemon's bus threads */
    unsigned started = 0;
    int rc = 0;
    for (unsigned i = 0; i < t->buses; i++, started++) {
        struct floor_bus *b = &buses[i];
        *b = (struct floor_bus){ .o = o, .reads = reads, .n_reads = n_reads, .port = t->ports[i],
                                 .first_device = i * t->units, .units = t->units, .stop = &stop,
                                 .w = w, .lock = &lock };
        if ((rc = -pthread_create(&b->thread, &attr, floor_thread, b)))
            break;
    }
    pthread_attr_destroy(&attr);
    if (!rc) {
        sleep_until_mono(clock_mono_ns() + bench_ms_until(window_start_ms(w)) * GW_NS_PER_MS);
        take_snapshot(&res->a, fl->pid, 0);
        sleep_until_mono(clock_mono_ns() + bench_ms_until(window_end_ms(w)) * GW_NS_PER_MS);
        take_snapshot(&res->b, fl->pid, 0);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(buses[i].thread, NULL);
        res->total_polls += buses[i].polls;
    }
    free(buses);
    return rc;
}

/* ---- the report ---------------------------------------------------- */

static void print_header(void)
{
    puts("| impl | layout | devices | buses | polls/s | points/s | CPU s | % of a core | of which main thread s"
         " | fleet CPU s | peak RSS MiB | requests/poll | optimum | missed polls | start delay p50/p99/max ms |");
    puts("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

static void print_row(const struct options *o, const struct topology *t, const struct window *w,
                      const struct result *r)
{
    double elapsed = (double)(r->b.mono_ns - r->a.mono_ns) / 1e9;
    double cpu = r->b.self_cpu_s - r->a.self_cpu_s;
    double span_s = (double)(w->end_slot - w->first_slot) * (double)w->interval_ms / 1000.0;
    uint64_t expected = (uint64_t)(w->end_slot - w->first_slot) * o->devices;
    char consumer[32] = "n/a";
    if (o->impl != IMPL_FLOOR)
        snprintf(consumer, sizeof consumer, "%.2f", r->b.consumer_cpu_s - r->a.consumer_cpu_s);
    printf("| %s | %s | %u | %u | %.1f | %.0f | %.2f | %.2f %% | %s | %.2f | %.1f | %.3f | %zu | %llu | %ld/%ld/%ld |\n",
           impl_names[o->impl],
           o->layout == LAYOUT_DEVICE ? "connection per device" : "gateways",
           o->devices, t->buses, (double)w->polls / span_s, (double)w->good_points / span_s, cpu,
           100.0 * cpu / elapsed, consumer,
           r->b.fleet_cpu_s - r->a.fleet_cpu_s, r->max_rss_kb / 1024.0,
           r->total_polls ? (double)r->fleet_requests / (double)r->total_polls : 0.0, r->optimum,
           (unsigned long long)(expected > w->polls ? expected - w->polls : 0),
           window_late_quantile(w, 0.5), window_late_quantile(w, 0.99), window_late_quantile(w, 1.0));
    if (w->bad_points || r->fleet_exceptions)
        printf("poll_bench: %llu points were not good, the fleet answered %llu exceptions\n",
               (unsigned long long)w->bad_points, (unsigned long long)r->fleet_exceptions);
    fflush(stdout);
}

/* ---- main ---------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: poll_bench [--header] --impl engine|floor|daemon --devices N --layout device|gateway\n"
          "                  [--gateways G] [--duration S] [--warmup S] [--interval-ms I]\n"
          "                  [--fleet PATH] [--daemon PATH] [--plugin-dir DIR]\n"
          "  --impl engine      the daemon's engine: plan, reads, decoding, JSON per sample\n"
          "  --impl floor       bare libmodbus reads of the same plan, nothing else\n"
          "  --impl daemon      greenwatchd itself, measured from outside\n"
          "  --layout device    one TCP connection (bus, thread) per device\n"
          "  --layout gateway   G gateways (default 10), N/G unit ids behind each\n"
          "  --duration S       measured seconds (default 60), after --warmup S (default 3)\n"
          "  --interval-ms I    poll interval of every device (default 1000)\n"
          "  --header           print the table's head and exit\n", out);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "impl", required_argument, NULL, 'i' }, { "devices", required_argument, NULL, 'n' },
        { "layout", required_argument, NULL, 'l' }, { "gateways", required_argument, NULL, 'g' },
        { "duration", required_argument, NULL, 'd' }, { "warmup", required_argument, NULL, 'w' },
        { "interval-ms", required_argument, NULL, 'I' }, { "fleet", required_argument, NULL, 'f' },
        { "plugin-dir", required_argument, NULL, 'p' }, { "daemon", required_argument, NULL, 'D' },
        { "header", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    *o = (struct options){ .impl = IMPL_ENGINE, .layout = LAYOUT_DEVICE, .devices = 10, .gateways = 10,
                           .duration_s = 60, .warmup_s = 3, .interval_ms = 1000,
                           .fleet = GW_BENCH_FLEET, .daemon = GW_BENCH_DAEMON, .plugin_dir = GW_BENCH_PLUGIN_DIR };
    bool ok = true;
    for (int c; ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'i':
            ok = false;
            for (int k = 0; k <= IMPL_DAEMON; k++)
                if (!strcmp(optarg, impl_names[k])) {
                    o->impl = (enum impl)k;
                    ok = true;
                }
            break;
        case 'l':
            ok = !strcmp(optarg, "device") || !strcmp(optarg, "gateway");
            o->layout = !strcmp(optarg, "gateway") ? LAYOUT_GATEWAY : LAYOUT_DEVICE;
            break;
        case 'n': ok = bench_parse_uint(optarg, 1, 10000, &o->devices); break;
        case 'g': ok = bench_parse_uint(optarg, 1, 10000, &o->gateways); break;
        case 'd': ok = bench_parse_uint(optarg, 1, 86400, &o->duration_s); break;
        case 'w': ok = bench_parse_uint(optarg, 0, 3600, &o->warmup_s); break;
        case 'I': ok = bench_parse_uint(optarg, 100, 60000, &o->interval_ms); break;
        case 'f': o->fleet = optarg; break;
        case 'p': o->plugin_dir = optarg; break;
        case 'D': o->daemon = optarg; break;
        case 'H': print_header(); exit(0);
        case 'h': usage(stdout); exit(0);
        default: ok = false;
        }
    }
    if (!ok || optind != argc) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static int make_topology(const struct options *o, struct topology *t)
{
    t->buses = o->layout == LAYOUT_DEVICE ? o->devices : o->gateways;
    if (t->buses > o->devices || o->devices % t->buses) {
        fprintf(stderr, "poll_bench: %u devices do not spread evenly over %u gateways\n", o->devices, t->buses);
        return -EINVAL;
    }
    t->units = o->devices / t->buses;
    if (t->units > MAX_UNITS_PER_PORT) {
        fprintf(stderr, "poll_bench: %u unit ids per gateway; at most %d\n", t->units, MAX_UNITS_PER_PORT);
        return -EINVAL;
    }
    t->ports = calloc(t->buses, sizeof *t->ports);
    return t->ports ? 0 : -ENOMEM;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    struct topology t = { 0 };
    if (parse_options(argc, argv, &o) || make_topology(&o, &t))
        return 2;
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);

    struct bench_read reads[64];
    struct result res = { .optimum = bench_n_points <= 64 ? bench_map_plan(reads) : 0 };
    if (!res.optimum) {
        fprintf(stderr, "poll_bench: the benchmark map has no plan\n");
        return 1;
    }
    struct window w;
    struct fleet fl = { 0 };
    int rc = window_init(&w, o.devices, &o);
    if (!rc)
        rc = fleet_start(&fl, &o, &t);
    if (!rc)
        rc = o.impl == IMPL_ENGINE   ? run_engine(&o, &t, &fl, &w, &res)
             : o.impl == IMPL_DAEMON ? run_daemon(&o, &t, &fl, &w, &res)
                                     : run_floor(&o, &t, &fl, &w, &res, reads, res.optimum);
    if (fleet_stop(&fl, &res.fleet_requests, &res.fleet_exceptions) && !rc) {
        fprintf(stderr, "poll_bench: the fleet did not report what it served\n");
        rc = -EIO;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (o.impl != IMPL_DAEMON)
        res.max_rss_kb = ru.ru_maxrss;
    if (!rc)
        print_row(&o, &t, &w, &res);
    else
        fprintf(stderr, "poll_bench: %s\n", strerror(-rc));
    free(w.last_slot);
    free(t.ports);
    return rc ? 1 : 0;
}
