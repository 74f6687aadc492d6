/*
 * greenwatchd: poll the building's devices and publish what they say.
 *
 *   greenwatchd -c FILE            run
 *   greenwatchd -c FILE --check    validate the configuration and exit
 *   greenwatchd -c FILE --once     poll every device once, publish, exit
 *
 * Signal handlers only set flags; the main loop acts on them.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: greenwatchd -c FILE [--check | --once]\n"
            "  -c, --config FILE  the configuration (required)\n"
            "      --check        validate the configuration and exit (0 valid, 1 not)\n"
            "      --once         poll every device once, publish, and exit\n"
            "  -v, --version      print the version\n"
            "  -h, --help         this text\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'k' },
        { "once", no_argument, NULL, 'o' },         { "version", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL;
    bool check = false, once = false;
    for (int opt; (opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1;) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check = true; break;
        case 'o': once = true; break;
        case 'v': printf("greenwatchd %s\n", GW_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind != argc || (check && once)) {
        usage(stderr);
        return 2;
    }
    /* Before loading: a reload or stop asked for while plugins load is
     * acted on once polling starts, instead of killing the process. */
    install_signals();
    struct gw_daemon *d = NULL;
    if (daemon_open(config_path, &d))
        return 1;
    if (check) {
        daemon_describe(d, stdout);
        daemon_close(d);
        return 0;
    }
    int rc = daemon_start(d, once);
    while (!rc && !stop_requested && !daemon_check_finished(d)) {
        daemon_check_samples(d);
        daemon_check_rules(d);
        daemon_check_commands(d);
        daemon_check_health(d);
        daemon_check_systemd(d);
        if (reload_requested) {
            reload_requested = 0;
            daemon_check_reload(d);
        }
    }
    daemon_close(d);
    return rc ? 1 : 0;
}
