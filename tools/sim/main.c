/*
 * greenwatch-sim: a simulated building served over Modbus, for the demo,
 * the integration tests and the benchmarks.  See docs/simulator.md.
 *
 * The main loop is one line per concern: serve requests, advance the
 * model to the present, flush the truth file.  Signal handlers only set
 * flags.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "control.h"
#include "export.h"
#include "rtu.h"
#include "server.h"
#include "sim.h"
#include "simconf.h"
#include "truth.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t clear_requested;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_clear(int sig) { (void)sig; clear_requested = 1; }

static void usage(FILE *out)
{
    fputs("usage: greenwatch-sim -c FILE [options]        serve the building FILE describes\n"
          "       greenwatch-sim -c FILE --check          validate FILE and exit\n"
          "       greenwatch-sim -c FILE --print-daemon-config [--interval S]\n"
          "       greenwatch-sim (-c FILE | --control SOCKET) COMMAND...\n"
          "                                               send a command to a running simulator\n"
          "options:\n"
          "  --seed N            seed of the weather and load noise (default: the file's, or 1)\n"
          "  --speed X           simulated seconds per wall second (e.g. 3600: an hour a second)\n"
          "  --start TIME        simulated start, \"YYYY-MM-DD HH:MM[:SS]\" local time, or now\n"
          "  --truth FILE        record every answered read as JSON lines in FILE\n"
          "  --scenario FILE     inject the faults listed in FILE\n"
          "  --control SOCKET    take commands on this UNIX socket\n"
          "commands: fault DEVICE TYPE [key=value...] | clear ID|DEVICE [TYPE]|all | list | status\n"
          "          | lines | advance SECONDS\n"
          "signals: SIGTERM/SIGINT stop; SIGUSR1 clears every fault\n", out);
}

struct args {
    const char *config;
    struct sim_overrides ov;
    bool check, print_config;
    double interval_s;
    char **command;
    int n_command;
};

enum { OPT_SEED = 256, OPT_SPEED, OPT_START, OPT_TRUTH, OPT_SCENARIO, OPT_CONTROL, OPT_CHECK,
       OPT_PRINT, OPT_INTERVAL };

static int parse_number(const char *text, double *out)
{
    char *end;

    *out = strtod(text, &end);
    return end != text && !*end && isfinite(*out) ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { "seed", required_argument, NULL, OPT_SEED }, { "speed", required_argument, NULL, OPT_SPEED },
        { "start", required_argument, NULL, OPT_START }, { "truth", required_argument, NULL, OPT_TRUTH },
        { "scenario", required_argument, NULL, OPT_SCENARIO },
        { "control", required_argument, NULL, OPT_CONTROL }, { "check", no_argument, NULL, OPT_CHECK },
        { "print-daemon-config", no_argument, NULL, OPT_PRINT },
        { "interval", required_argument, NULL, OPT_INTERVAL }, { 0 },
    };
    double v;
    int c;

    memset(a, 0, sizeof *a);
    a->interval_s = 10.0;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'h': usage(stdout); exit(0);
        case OPT_SEED:
            if (parse_number(optarg, &v) < 0 || v != floor(v))
                return -EINVAL;
            a->ov.has_seed = true;
            a->ov.seed = (long long)v;
            break;
        case OPT_SPEED:
            if (parse_number(optarg, &v) < 0 || v <= 0.0)
                return -EINVAL;
            a->ov.has_speed = true;
            a->ov.speed = v;
            break;
        case OPT_INTERVAL:
            if (parse_number(optarg, &a->interval_s) < 0 || a->interval_s <= 0.0)
                return -EINVAL;
            break;
        case OPT_START: a->ov.start = optarg; break;
        case OPT_TRUTH: a->ov.truth = optarg; break;
        case OPT_SCENARIO: a->ov.scenario = optarg; break;
        case OPT_CONTROL: a->ov.control = optarg; break;
        case OPT_CHECK: a->check = true; break;
        case OPT_PRINT: a->print_config = true; break;
        default: return -EINVAL;
        }
    }
    a->command = argv + optind;
    a->n_command = argc - optind;
    if (!a->config && !(a->n_command && a->ov.control))
        return -EINVAL;
    return 0;
}

/* A thousand devices need more descriptors than the usual soft limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_stop };

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_clear;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int send_command(const struct args *a, const char *control)
{
    char line[1024] = "";
    size_t used = 0;

    for (int i = 0; i < a->n_command && used < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", i ? " " : "",
                                 a->command[i]);
    if (!control || !control[0]) {
        fprintf(stderr, "greenwatch-sim: no control socket (set sim.control or --control)\n");
        return 2;
    }
    int rc = control_send(control, line);
    if (rc < 0)
        fprintf(stderr, "greenwatch-sim: %s: %s\n", control, strerror(-rc));
    return rc < 0 ? 2 : rc;
}

static void announce(const struct sim *s)
{
    time_t t0 = (time_t)(s->building.t0 + (double)s->building.p.utc_offset_s);
    struct tm tm;
    char when[32];

    gmtime_r(&t0, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "greenwatch-sim: %zu devices on %zu buses; simulated time from %s "
            "(UTC%+.1f), speed %g, step %g s, seed %llu\n", s->n_devices, s->n_buses, when,
            s->building.p.utc_offset_s / 3600.0, s->speed, s->dt,
            (unsigned long long)s->building.p.seed);
    for (size_t i = 0; i < s->n_devices && s->n_devices <= 100; i++) {
        char missing[512];

        simdev_unsimulated(&s->devices[i], missing, sizeof missing);
        if (missing[0])
            fprintf(stderr, "greenwatch-sim: %s: not simulated, served as 0: %s\n",
                    s->devices[i].id, missing);
    }
}

static int serve(struct sim *s, const struct sim_options *o)
{
    struct server *srv;
    struct control *ctl = NULL;
    struct rtu *rtu = NULL;
    int rc = server_open(&srv, s);

    if (rc < 0)
        return 1;
    if (rtu_open(&rtu, s, srv) < 0 ||
        (o->control[0] && control_open(&ctl, o->control, s, srv) < 0)) {
        rtu_close(rtu);
        server_free(srv);
        return 1;
    }
    announce(s);
    /* Where each bus listens (ports chosen by the system included), then
     * READY: what tests wait for. */
    for (size_t i = 0; i < s->n_buses; i++)
        if (!s->buses[i].rtu)
            printf("LISTEN %s %s:%d\n", s->buses[i].id, s->buses[i].host, s->buses[i].port);
        else
            printf("RTU %s %s\n", s->buses[i].id, s->buses[i].link);
    s->wall0 = sim_monotonic();
    if (s->start_now)
        s->wall0 -= wall_now() - s->building.t0;
    printf("READY\n");
    fflush(stdout);
    while (!stop_requested && rc == 0) {
        rc = server_poll(srv, 100);
        sim_advance_to(s, sim_time_at(s, sim_monotonic()), 0);
        truth_flush(s->truth);
        if (clear_requested) {
            clear_requested = 0;
            faults_clear(s, -1, NULL, -1);
        }
    }
    control_close(ctl);
    rtu_close(rtu);
    server_free(srv);
    if (rc < 0)
        fprintf(stderr, "greenwatch-sim: %s\n", strerror(-rc));
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct args a;
    struct sim s;
    struct sim_options o;

    if (parse_args(argc, argv, &a) < 0) {
        usage(stderr);
        return 2;
    }
    if (!a.config)
        return send_command(&a, a.ov.control);
    /* Only a serving simulator records a truth file. */
    if (a.n_command || a.print_config || a.check)
        a.ov.truth = "";
    if (simconf_load(a.config, &a.ov, wall_now(), &s, &o) < 0) {
        sim_free(&s);
        return 1;
    }
    int rc = 0;
    if (a.n_command)
        rc = send_command(&a, o.control);
    else if (a.print_config)
        export_daemon_config(&s, a.interval_s, stdout);
    else if (!a.check) {
        raise_fd_limit();
        install_signals();
        rc = serve(&s, &o);
    }
    sim_free(&s);
    return rc;
}
