/*
 * rtu_bench: how close greenwatchd keeps an RS-485 bus to its wire-time
 * limit.
 *
 *   rtu_bench [--baud B] [--parity N|E|O] [--stop-bits 1|2] [--devices N]
 *             [--load X | --interval-ms I] [--duration S] [--warmup S]
 *             [--profile ID] [--delay-ms D] [--timeout-ms T]
 *
 * It starts greenwatch-sim with one RTU bus on a pseudo-terminal, paced
 * like a real line at the given baud rate and character format (the bus's
 * `baud` key, docs/simulator.md), serving N devices of a shipped profile
 * at unit ids 1..N.  Then it starts greenwatchd on a generated
 * configuration: the same bus and devices, every device polled every
 * interval, no sinks, so every sample is one JSON line on its stdout, read
 * here through a pipe.
 *
 * The interval is --interval-ms, or chosen from --load: the offered load
 * is the wire time that N polls need, divided by the interval (2: the
 * devices ask for twice what the bus can carry; 0.5: half).
 *
 * The wire time of a transaction is its request and answer frames at the
 * line's character time (start + data + parity + stop bits), plus the
 * 3.5-character silence after each (1.75 ms above 19200 baud, as the
 * Modbus serial line specification fixes it).  The reads are the daemon's
 * own plan for the profile (planner_build with the limits the daemon
 * uses), so the theoretical maximum is for exactly the frames sent.
 *
 * Measured over whole intervals after the warm-up, from one grid instant
 * (a multiple of the interval on the wall clock, where greenwatchd's
 * devices fall due) to another:
 *   - requests/s: requests the simulator's line received, per second;
 *   - the theoretical maximum for those frames at that baud rate, and bus
 *     utilisation = achieved / maximum;
 *   - idle per request: the line's time neither carrying a frame nor in
 *     a silence that must follow one, per request: what the master adds;
 *   - early: requests that began less than 3.5 characters after the
 *     previous answer (the simulator takes them as if the master had
 *     waited, so they do not raise the utilisation);
 *   - polls completed (samples delivered) against scheduled (devices x
 *     slots), missed polls, polls whose sample had a point that was not
 *     good, and how far into its slot each sample arrived (p50/p99/max);
 *   - CPU seconds of greenwatchd and of the simulator (/proc).
 * One markdown table row on stdout; --header prints the table's head.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "planner.h"
#include "profile.h"
#include "scheduler.h"
#include "benchutil.h"

extern char **environ;

#define BUS_ID "rs485"
#define DELIVERY_BINS 60001          /* arrival into the slot, 1 ms bins */

struct options {
    unsigned baud, stop_bits, devices;
    char parity;
    double load;                     /* offered load, when interval_ms is 0 */
    unsigned interval_ms;
    unsigned duration_s, warmup_s;
    unsigned delay_ms, timeout_ms;
    const char *profile, *role, *feed;
    const char *sim, *daemon, *plugin_dir, *profile_dir;
};

/* The wire time of one poll of a device, from the daemon's plan. */
struct wire {
    double char_s, silence_s;
    size_t reads;                    /* requests per poll */
    double chars;                    /* request and answer characters per poll */
    double poll_s;                   /* chars x char_s + 2 silences a request */
};

struct line_figures {
    unsigned long long requests, answers, early;
    double busy_s;
};

struct snapshot {
    int64_t mono_ns;
    double daemon_cpu_s, sim_cpu_s;
    struct line_figures line;
    uint64_t samples;
};

struct window {
    int64_t interval_ms, first_slot, end_slot;
    uint64_t samples, failed;        /* in the window; failed: a point not good */
    uint64_t delivery[DELIVERY_BINS];
};

struct proc {
    pid_t pid;
    int out;                         /* its stdout, or -1 */
};

/* ---- measurement --------------------------------------------------- */

/* Send one control command to the simulator and keep its reply.  Returns
 * 0 if the reply ends with OK. */
static int control(const char *sock, const char *line, char *reply, size_t n)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = 0;
    reply[0] = '\0';
    if (strlen(sock) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, line, strlen(line)) < 0 ||
        write(fd, "\n", 1) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    shutdown(fd, SHUT_WR);
    for (ssize_t r; len + 1 < n && (r = read(fd, reply + len, n - 1 - len)) > 0;)
        len += (size_t)r;
    reply[len] = '\0';
    close(fd);
    const char *last = len ? reply + len - 1 : reply;
    while (last > reply && last[-1] != '\n')
        last--;
    return strncmp(last, "OK", 2) == 0 ? 0 : -EIO;
}

/* The line's counters from the simulator's `lines` command. */
static int line_figures(const char *sock, struct line_figures *f)
{
    char reply[4096];
    const char *at;
    if (control(sock, "lines", reply, sizeof reply) < 0 || !(at = strstr(reply, "bus=" BUS_ID " ")))
        return -EIO;
    return sscanf(at, "%*s baud=%*d format=%*s requests=%llu answers=%llu early=%llu busy_s=%lf",
                  &f->requests, &f->answers, &f->early, &f->busy_s) == 4 ? 0 : -EIO;
}

static int take_snapshot(struct snapshot *s, const struct proc *daemon, const struct proc *sim,
                         const char *sock, uint64_t samples)
{
    s->mono_ns = clock_mono_ns();
    s->daemon_cpu_s = bench_proc_cpu_s(daemon->pid);
    s->sim_cpu_s = bench_proc_cpu_s(sim->pid);
    s->samples = samples;
    return line_figures(sock, &s->line);
}

static long delivery_quantile(const struct window *w, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)w->samples), seen = 0;
    for (size_t i = 0; i < DELIVERY_BINS; i++)
        if ((seen += w->delivery[i]) >= want && want)
            return (long)i;
    return 0;
}

/* ---- the plan and its wire time ------------------------------------ */

static double char_s(const struct options *o)
{
    return (1.0 + 8.0 + (o->parity == 'N' ? 0.0 : 1.0) + o->stop_bits) / o->baud;
}

/* Characters of the answer to a read: unit, function, byte count, data, CRC. */
static double answer_chars(const struct gw_read *r)
{
    bool bits = r->table == GW_TABLE_COIL || r->table == GW_TABLE_DISCRETE;
    return 5.0 + (bits ? (r->count + 7) / 8 : 2.0 * r->count);
}

/* The daemon's plan for device 0 of cfg, and what one poll costs on the
 * wire.  Returns 0 or a negative errno. */
static int plan_wire(const struct gw_config *cfg, const struct options *o, struct wire *w)
{
    const struct gw_device_cfg *d = &cfg->devices[0];
    const struct gw_profile *p = d->profile;
    struct gw_plan plan = { 0 };
    int rc = planner_build(p->points, p->n_points, NULL, p->holes, p->n_holes, &d->limits, &plan);
    if (rc < 0)
        return rc;
    w->char_s = char_s(o);
    w->silence_s = o->baud > 19200 ? 0.00175 : 3.5 * w->char_s;
    w->reads = plan.n_reads;
    w->chars = 0.0;
    for (size_t i = 0; i < plan.n_reads; i++)
        w->chars += 8.0 + answer_chars(&plan.reads[i]);
    w->poll_s = w->chars * w->char_s + 2.0 * w->silence_s * (double)plan.n_reads;
    planner_free(&plan);
    return 0;
}

/* ---- files --------------------------------------------------------- */

static int write_sim_conf(const char *dir, const struct options *o, const char *link, const char *sock)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sim.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "profile_dir = \"%s\";\n", o->profile_dir);
    fprintf(f, "sim = { seed = 5; control = \"%s\"; };\n", sock);
    fprintf(f, "buses = ( { id = \"%s\"; rtu = \"%s\"; baud = %u; parity = \"%c\"; stop_bits = %u; } );\n",
            BUS_ID, link, o->baud, o->parity, o->stop_bits);
    fputs("devices = (\n", f);
    for (unsigned u = 1; u <= o->devices; u++)
        fprintf(f, "  { id = \"d%u\"; bus = \"%s\"; unit = %u; profile = \"%s\"; role = \"%s\";%s%s%s }%s\n",
                u, BUS_ID, u, o->profile, o->role, o->feed ? " feed = \"" : "", o->feed ? o->feed : "",
                o->feed ? "\";" : "", u < o->devices ? "," : "");
    fputs(");\n", f);
    return fclose(f) ? -EIO : 0;
}

static int write_daemon_conf(const char *dir, const struct options *o, const char *link, char *conf, size_t n)
{
    snprintf(conf, n, "%s/daemon.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -errno;
    fprintf(f, "site = { id = \"bench\"; name = \"RS-485 benchmark\"; };\n");
    fprintf(f, "daemon = { plugin_dir = \"%s\"; profile_dir = \"%s\"; spool_dir = \"%s/spool\";"
               " log_level = \"warning\"; };\n", o->plugin_dir, o->profile_dir, dir);
    fprintf(f, "buses = ( { id = \"%s\"; rtu = \"%s\"; baud = %u; parity = \"%c\"; stop_bits = %u;"
               " timeout_ms = %u; delay_between_requests_ms = %u; } );\n",
            BUS_ID, link, o->baud, o->parity, o->stop_bits, o->timeout_ms, o->delay_ms);
    fputs("devices = (\n", f);
    for (unsigned u = 1; u <= o->devices; u++)
        fprintf(f, "  { id = \"d%u\"; bus = \"%s\"; unit = %u; kind = \"generic\"; profile = \"%s\";"
                   " interval_s = %.3f; }%s\n", u, BUS_ID, u, o->profile, o->interval_ms / 1000.0,
                u < o->devices ? "," : "");
    fputs(");\n", f);
    return fclose(f) ? -EIO : 0;
}

static void remove_files(const char *dir)
{
    static const char *const names[] = { "sim.conf", "daemon.conf", "sim.log", "tty", "sim.sock" };
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/spool", dir);
    rmdir(path);
    rmdir(dir);
}

/* ---- processes ----------------------------------------------------- */

/* Start argv with its stdout into a pipe (p->out) and its stderr into
 * err_path, if given.  Returns 0 or a negative errno. */
static int spawn(struct proc *p, char *const argv[], const char *err_path)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    if (err_path)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc) {
        p->pid = 0;
        close(pipefd[0]);
        fprintf(stderr, "rtu_bench: cannot run %s: %s\n", argv[0], strerror(rc));
        return -rc;
    }
    p->out = pipefd[0];
    return 0;
}

/* SIGTERM, then wait.  Returns 0 if it exited with status 0. */
static int stop(struct proc *p, const char *what)
{
    int status = 0;
    if (!p->pid)
        return 0;
    kill(p->pid, SIGTERM);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "rtu_bench: %s did not exit cleanly (status %#x)\n", what, status);
        return -EIO;
    }
    return 0;
}

/* Wait (up to 20 s) for the simulator's READY line. */
static int wait_ready(struct proc *sim, const char *log)
{
    char buf[4096];
    size_t have = 0;
    for (int64_t until = clock_wall_ms() + 20000; bench_ms_until(until) > 0;) {
        struct pollfd pfd = { .fd = sim->out, .events = POLLIN };
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(sim->out, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, "READY\n"))
            return 0;
    }
    fprintf(stderr, "rtu_bench: greenwatch-sim did not start; see %s\n", log);
    return -EIO;
}

/* ---- greenwatchd's samples ----------------------------------------- */

/* One JSON line: a sample, counted in the window by when it arrived. */
struct counting {
    struct window *w;
    uint64_t *total;
};

static void sample_line(struct window *w, const char *line, uint64_t *total)
{
    if (!strstr(line, "\"device\":\"d"))
        return;
    (*total)++;
    int64_t now = clock_wall_ms(), slot = now / w->interval_ms;
    if (slot < w->first_slot || slot >= w->end_slot)
        return;
    const char *quality = strstr(line, "\"quality\":{");
    w->samples++;
    w->failed += quality && quality[11] != '}';
    int64_t into = now - slot * w->interval_ms;
    w->delivery[into < DELIVERY_BINS ? into : DELIVERY_BINS - 1]++;
}

static void count_line(char *text, void *arg)
{
    struct counting *c = arg;
    sample_line(c->w, text, c->total);
}

/* Read greenwatchd's stdout until wall-clock ms `until` (0: to its end). */
static void read_samples(int fd, struct window *w, char *buf, size_t cap, size_t *have,
                         uint64_t *total, int64_t until)
{
    struct counting c = { w, total };
    bench_read_lines(fd, buf, cap, have, until, count_line, &c);
}

/* ---- the report ---------------------------------------------------- */

static void print_header(void)
{
    puts("| baud | format | devices | reads/poll | interval s | offered load | theoretical max requests/s"
         " | achieved requests/s | utilisation | idle per request ms | early requests | polls completed / scheduled"
         " | missed polls | failed polls | sample arrival into slot p50/p99/max ms | greenwatchd CPU s | % of a core"
         " | sim CPU s |");
    puts("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

static void print_row(const struct options *o, const struct wire *wt, const struct window *w,
                      const struct snapshot *a, const struct snapshot *b)
{
    double elapsed = (double)(b->mono_ns - a->mono_ns) / 1e9;
    double span_s = (double)(w->end_slot - w->first_slot) * (double)w->interval_ms / 1000.0;
    unsigned long long requests = b->line.requests - a->line.requests;
    double achieved = (double)requests / elapsed;
    double max_rps = (double)wt->reads / wt->poll_s;
    double busy = b->line.busy_s - a->line.busy_s;
    uint64_t scheduled = (uint64_t)(w->end_slot - w->first_slot) * o->devices;
    double cpu = b->daemon_cpu_s - a->daemon_cpu_s;
    printf("| %u | 8%c%u | %u | %zu | %.3g | %.2f | %.2f | %.2f | %.1f %% | %.2f | %.1f %% | %llu / %llu | %llu | %llu"
           " | %ld/%ld/%ld | %.2f | %.2f %% | %.2f |\n",
           o->baud, o->parity, o->stop_bits, o->devices, wt->reads, o->interval_ms / 1000.0,
           o->devices * wt->poll_s / (o->interval_ms / 1000.0), max_rps, achieved, 100.0 * achieved / max_rps,
           requests ? 1e3 * (elapsed - busy) / (double)requests : 0.0,
           requests ? 100.0 * (double)(b->line.early - a->line.early) / (double)requests : 0.0,
           (unsigned long long)w->samples, (unsigned long long)scheduled,
           (unsigned long long)(scheduled > w->samples ? scheduled - w->samples : 0),
           (unsigned long long)w->failed, delivery_quantile(w, 0.5), delivery_quantile(w, 0.99),
           delivery_quantile(w, 1.0), cpu, 100.0 * cpu / elapsed, b->sim_cpu_s - a->sim_cpu_s);
    if (fabs(span_s - elapsed) > 0.5)
        printf("rtu_bench: the window was %.1f s long, not %.1f s: the machine is too busy\n", elapsed, span_s);
    fflush(stdout);
}

/* ---- the run ------------------------------------------------------- */

static int run(const struct options *o, const char *dir)
{
    char link[4096], sock[4096], log[4096], conf[4096], simconf[4096];
    snprintf(link, sizeof link, "%s/tty", dir);
    snprintf(sock, sizeof sock, "%s/sim.sock", dir);
    snprintf(log, sizeof log, "%s/sim.log", dir);
    snprintf(simconf, sizeof simconf, "%s/sim.conf", dir);

    struct options opt = *o;
    struct gw_config *cfg = NULL;
    struct gw_diag diag = { 0 };
    struct wire wt;
    /* The plan does not depend on the interval: load once to learn the
     * poll's wire time, then write the configuration that will run. */
    if (!opt.interval_ms)
        opt.interval_ms = 1000;
    int rc = write_daemon_conf(dir, &opt, link, conf, sizeof conf);
    if (!rc && config_load(conf, &cfg, &diag) < 0) {
        diag_print(&diag, stderr);
        rc = -EINVAL;
    }
    if (!rc)
        rc = plan_wire(cfg, &opt, &wt);
    config_free(cfg);
    diag_free(&diag);
    if (!rc && !o->interval_ms) {
        double want_ms = 1e3 * o->devices * wt.poll_s / o->load;
        opt.interval_ms = (unsigned)(10.0 * round(want_ms / 10.0));
        if (opt.interval_ms < 100)
            opt.interval_ms = 100;
    }
    if (!rc)
        rc = write_daemon_conf(dir, &opt, link, conf, sizeof conf);
    if (!rc)
        rc = write_sim_conf(dir, &opt, link, sock);
    if (rc)
        return rc;

    struct proc sim = { .out = -1 }, daemon = { .out = -1 };
    char *sim_argv[] = { (char *)o->sim, "-c", simconf, NULL };
    char *daemon_argv[] = { (char *)o->daemon, "-c", conf, NULL };
    static struct window w;
    memset(&w, 0, sizeof w);
    w.interval_ms = opt.interval_ms;
    rc = spawn(&sim, sim_argv, log);
    if (!rc)
        rc = wait_ready(&sim, log);
    if (!rc)
        rc = spawn(&daemon, daemon_argv, NULL);
    if (!rc) {
        static char buf[1 << 16];
        size_t have = 0;
        uint64_t total = 0;
        struct snapshot a, b;
        int64_t slots = ((int64_t)o->duration_s * 1000 + w.interval_ms - 1) / w.interval_ms;
        int64_t warm = ((int64_t)o->warmup_s * 1000 + w.interval_ms - 1) / w.interval_ms;
        w.first_slot = clock_wall_ms() / w.interval_ms + 1 + (warm > 0 ? warm : 1);
        w.end_slot = w.first_slot + slots;
        read_samples(daemon.out, &w, buf, sizeof buf, &have, &total, w.first_slot * w.interval_ms);
        rc = take_snapshot(&a, &daemon, &sim, sock, total);
        read_samples(daemon.out, &w, buf, sizeof buf, &have, &total, w.end_slot * w.interval_ms);
        if (!rc)
            rc = take_snapshot(&b, &daemon, &sim, sock, total);
        if (rc)
            fprintf(stderr, "rtu_bench: the simulator's control socket did not answer\n");
        else
            print_row(&opt, &wt, &w, &a, &b);
        kill(daemon.pid, SIGTERM);
        read_samples(daemon.out, &w, buf, sizeof buf, &have, &total, 0);
    }
    if (stop(&daemon, "greenwatchd") && !rc)
        rc = -EIO;
    if (stop(&sim, "greenwatch-sim") && !rc)
        rc = -EIO;
    return rc;
}

/* ---- main ---------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: rtu_bench [--header] [--baud B] [--parity N|E|O] [--stop-bits 1|2] [--devices N]\n"
          "                 [--load X | --interval-ms I] [--duration S] [--warmup S]\n"
          "                 [--profile ID] [--role ROLE] [--feed FEED] [--delay-ms D] [--timeout-ms T]\n"
          "                 [--sim PATH] [--daemon PATH] [--plugin-dir DIR] [--profile-dir DIR]\n"
          "  --baud B           line speed (default 9600), --parity (E), --stop-bits (1)\n"
          "  --devices N        devices on the line, unit ids 1..N (default 16)\n"
          "  --load X           offered load: the interval is N polls' wire time / X (default 2)\n"
          "  --interval-ms I    poll interval of every device instead (100 ms at least)\n"
          "  --duration S       measured seconds (default 60), after --warmup S (default 5)\n"
          "  --profile ID       a profile of --profile-dir (default generic-submeter), served\n"
          "                     by the simulator as --role (meter) --feed (special)\n"
          "  --delay-ms D       the bus's delay_between_requests_ms (default 0)\n"
          "  --timeout-ms T     the bus's timeout_ms (default 1000)\n"
          "  --header           print the table's head and exit\n", out);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "baud", required_argument, NULL, 'b' }, { "parity", required_argument, NULL, 'P' },
        { "stop-bits", required_argument, NULL, 's' }, { "devices", required_argument, NULL, 'n' },
        { "load", required_argument, NULL, 'L' }, { "interval-ms", required_argument, NULL, 'I' },
        { "duration", required_argument, NULL, 'd' }, { "warmup", required_argument, NULL, 'w' },
        { "profile", required_argument, NULL, 'r' }, { "role", required_argument, NULL, 'R' },
        { "feed", required_argument, NULL, 'F' }, { "delay-ms", required_argument, NULL, 'D' },
        { "timeout-ms", required_argument, NULL, 'T' }, { "sim", required_argument, NULL, 'S' },
        { "daemon", required_argument, NULL, 'G' }, { "plugin-dir", required_argument, NULL, 'p' },
        { "profile-dir", required_argument, NULL, 'q' }, { "header", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    *o = (struct options){ .baud = 9600, .parity = 'E', .stop_bits = 1, .devices = 16, .load = 2.0,
                           .duration_s = 60, .warmup_s = 5, .timeout_ms = 1000,
                           .profile = "generic-submeter", .role = "meter", .feed = "special",
                           .sim = GW_BENCH_SIM, .daemon = GW_BENCH_DAEMON,
                           .plugin_dir = GW_BENCH_PLUGIN_DIR, .profile_dir = GW_BENCH_PROFILE_DIR };
    bool ok = true;
    for (int c; ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 'b': ok = bench_parse_uint(optarg, 300, 921600, &o->baud); break;
        case 'P':
            ok = strlen(optarg) == 1 && strchr("NEO", optarg[0]);
            o->parity = optarg[0];
            break;
        case 's': ok = bench_parse_uint(optarg, 1, 2, &o->stop_bits); break;
        case 'n': ok = bench_parse_uint(optarg, 1, 247, &o->devices); break;
        case 'L':
            o->load = strtod(optarg, &end);
            ok = *end == '\0' && o->load >= 0.01 && o->load <= 100.0;
            break;
        case 'I': ok = bench_parse_uint(optarg, 100, 3600000, &o->interval_ms); break;
        case 'd': ok = bench_parse_uint(optarg, 1, 86400, &o->duration_s); break;
        case 'w': ok = bench_parse_uint(optarg, 0, 3600, &o->warmup_s); break;
        case 'r': o->profile = optarg; break;
        case 'R': o->role = optarg; break;
        case 'F': o->feed = optarg[0] ? optarg : NULL; break;
        case 'D': ok = bench_parse_uint(optarg, 0, 60000, &o->delay_ms); break;
        case 'T': ok = bench_parse_uint(optarg, 10, 60000, &o->timeout_ms); break;
        case 'S': o->sim = optarg; break;
        case 'G': o->daemon = optarg; break;
        case 'p': o->plugin_dir = optarg; break;
        case 'q': o->profile_dir = optarg; break;
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

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/gw-rtu-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("rtu_bench: mkdtemp");
        return 1;
    }
    int rc = run(&o, dir);
    if (rc)
        fprintf(stderr, "rtu_bench: %s\n", strerror(-rc));
    remove_files(dir);
    return rc ? 1 : 0;
}
