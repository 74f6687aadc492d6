/*
 * gw-bench-fleet: many benchmark devices behind one small Modbus TCP
 * server, for the poll benchmark.
 *
 *   gw-bench-fleet --ports P --units U
 *
 * listens on P ephemeral ports of 127.0.0.1; each port answers unit ids
 * 1..U, every unit a device serving the map of benchmap.h (so P x U
 * devices: P ports of one unit each model one TCP connection per device,
 * 10 ports of many units model gateways).  Other unit ids get exception 11
 * (gateway target failed to respond), addresses outside the map or in its
 * holes exception 2, function codes other than 3 and 4 exception 1.
 *
 * One thread, one epoll loop, no libmodbus: the server should cost little
 * next to what it serves.  Registers move once a second (floats wander,
 * counters grow), encoded here and never through the daemon's decoder.
 *
 * Readiness: one line "READY <port> <port> ..." on stdout.  SIGTERM or
 * SIGINT stops it; it then prints "served <requests> <exceptions>" and
 * exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchmap.h"

#define MBAP_LEN 7                 /* transaction, protocol, length, unit */
#define ADU_MAX 260
#define MAX_UNITS 247

enum { KIND_LISTENER, KIND_CONN, KIND_SIGNAL };

struct listener {
    int kind;
    int fd;
    unsigned port_index;
};

struct conn {
    int kind;
    int fd;
    unsigned port_index;
    uint8_t in[ADU_MAX * 2];
    size_t have;
};

struct fleet {
    unsigned ports, units;
    uint16_t *images;              /* ports * units images of BENCH_IMAGE_REGISTERS */
    struct listener *listeners;
    int epfd;
    uint64_t requests, exceptions;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void refresh_images(struct fleet *f, double t)
{
    for (unsigned d = 0; d < f->ports * f->units; d++)
        bench_encode_image(&f->images[(size_t)d * BENCH_IMAGE_REGISTERS], d, t);
}

static int listen_one(struct fleet *f, unsigned index, int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct listener *l = &f->listeners[index];
    *l = (struct listener){ .kind = KIND_LISTENER, .fd = fd, .port_index = index };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
    if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    *port = ntohs(sa.sin_port);
    return 0;
}

static void accept_all(struct fleet *f, struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        *c = (struct conn){ .kind = KIND_CONN, .fd = fd, .port_index = l->port_index };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void conn_close(struct conn *c)
{
    close(c->fd);   /* also leaves the epoll set */
    free(c);
}

/* The response to one request frame (MBAP + PDU) into out; its length. */
static size_t answer(struct fleet *f, const struct conn *c, const uint8_t *req, size_t len, uint8_t *out)
{
    unsigned unit = req[6], fc = len > 7 ? req[7] : 0;
    unsigned address = len >= 12 ? (unsigned)req[8] << 8 | req[9] : 0;
    unsigned count = len >= 12 ? (unsigned)req[10] << 8 | req[11] : 0;
    int exception = 0;

    if (unit < 1 || unit > f->units)
        exception = 11;
    else if (fc != 3 && fc != 4)
        exception = 1;
    else if (len != 12 || count < 1 || count > 125)
        exception = 3;
    else if (fc == 4 || address + count > BENCH_IMAGE_REGISTERS)
        exception = 2;
    for (unsigned a = address; !exception && a < address + count; a++)
        if (bench_in_hole(a))
            exception = 2;

    memcpy(out, req, 7);
    size_t pdu;
    if (exception) {
        out[7] = (uint8_t)(fc | 0x80);
        out[8] = (uint8_t)exception;
        pdu = 2;
        f->exceptions++;
    } else {
        const uint16_t *regs = &f->images[((size_t)c->port_index * f->units + unit - 1) * BENCH_IMAGE_REGISTERS];
        out[7] = (uint8_t)fc;
        out[8] = (uint8_t)(count * 2);
        for (unsigned i = 0; i < count; i++) {
            out[9 + 2 * i] = (uint8_t)(regs[address + i] >> 8);
            out[10 + 2 * i] = (uint8_t)(regs[address + i] & 0xFF);
        }
        pdu = 2 + count * 2;
    }
    out[4] = (uint8_t)((pdu + 1) >> 8);
    out[5] = (uint8_t)((pdu + 1) & 0xFF);
    return 6 + 1 + pdu;
}

/* Answers every complete frame received.  A client waits for each answer
 * before its next request, so an answer always fits the socket buffer: a
 * short write means the peer misbehaves, and the connection is closed.
 * Returns false when c was closed. */
static bool conn_readable(struct fleet *f, struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->have, sizeof c->in - c->have);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        conn_close(c);
        return false;
    }
    c->have += (size_t)n;
    size_t at = 0;
    while (c->have - at >= MBAP_LEN) {
        const uint8_t *req = c->in + at;
        size_t len = 6 + ((size_t)req[4] << 8 | req[5]);
        if (len < 8 || len > ADU_MAX || req[2] || req[3]) {
            conn_close(c);
            return false;
        }
        if (c->have - at < len)
            break;
        uint8_t out[ADU_MAX];
        size_t m = answer(f, c, req, len, out);
        f->requests++;
        if (write(c->fd, out, m) != (ssize_t)m) {
            conn_close(c);
            return false;
        }
        at += len;
    }
    memmove(c->in, c->in + at, c->have - at);
    c->have -= at;
    return true;
}

static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int serve(struct fleet *f)
{
    int kind_signal = KIND_SIGNAL;
    int sfd = signal_fd();
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &kind_signal };
    if (sfd < 0 || epoll_ctl(f->epfd, EPOLL_CTL_ADD, sfd, &ev) < 0) {
        perror("gw-bench-fleet: signalfd");
        return -1;
    }
    double start = now_s(), next_refresh = start + 1.0;
    struct epoll_event events[256];
    for (;;) {
        double now = now_s();
        if (now >= next_refresh) {
            refresh_images(f, now - start);
            next_refresh += 1.0;
        }
        int timeout = (int)((next_refresh - now) * 1000.0) + 1;
        int n = epoll_wait(f->epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) {
            perror("gw-bench-fleet: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)events[i].data.ptr;
            if (kind == KIND_SIGNAL)
                return 0;
            if (kind == KIND_LISTENER)
                accept_all(f, events[i].data.ptr);
            else
                conn_readable(f, events[i].data.ptr);
        }
    }
}

static void usage(FILE *out)
{
    fputs("usage: gw-bench-fleet [--ports P] [--units U]\n"
          "  --ports P   listening ports on 127.0.0.1, ephemeral (default 1)\n"
          "  --units U   unit ids 1..U served on each port (default 1, at most 247)\n", out);
}

static bool parse_count(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Every port and connection is a descriptor: make room for thousands. */
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
    static const struct option longopts[] = {
        { "ports", required_argument, NULL, 'p' },
        { "units", required_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct fleet f = { .ports = 1, .units = 1 };
    for (int opt; (opt = getopt_long(argc, argv, "p:u:h", longopts, NULL)) != -1;) {
        switch (opt) {
        case 'p':
            if (!parse_count(optarg, 10000, &f.ports)) {
                fprintf(stderr, "gw-bench-fleet: --ports must be 1..10000\n");
                return 2;
            }
            break;
        case 'u':
            if (!parse_count(optarg, MAX_UNITS, &f.units)) {
                fprintf(stderr, "gw-bench-fleet: --units must be 1..%d\n", MAX_UNITS);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    f.images = calloc((size_t)f.ports * f.units, BENCH_IMAGE_REGISTERS * sizeof *f.images);
    f.listeners = calloc(f.ports, sizeof *f.listeners);
    f.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!f.images || !f.listeners || f.epfd < 0) {
        fprintf(stderr, "gw-bench-fleet: %s\n", strerror(f.epfd < 0 ? errno : ENOMEM));
        return 1;
    }
    refresh_images(&f, 0.0);
    int *ports = calloc(f.ports, sizeof *ports);
    for (unsigned i = 0; ports && i < f.ports; i++) {
        int rc = listen_one(&f, i, &ports[i]);
        if (rc) {
            fprintf(stderr, "gw-bench-fleet: listen: %s\n", strerror(-rc));
            return 1;
        }
    }
    if (!ports) {
        fprintf(stderr, "gw-bench-fleet: out of memory\n");
        return 1;
    }
    fputs("READY", stdout);
    for (unsigned i = 0; i < f.ports; i++)
        printf(" %d", ports[i]);
    fputc('\n', stdout);
    fflush(stdout);
    free(ports);
    int rc = serve(&f);
    printf("served %llu %llu\n", (unsigned long long)f.requests, (unsigned long long)f.exceptions);
    fflush(stdout);
    for (unsigned i = 0; i < f.ports; i++)
        close(f.listeners[i].fd);
    close(f.epfd);
    free(f.listeners);
    free(f.images);
    return rc ? 1 : 0;
}
