#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pdu.h"

#define MBAP_LEN 7
#define ADU_MAX (MBAP_LEN + PDU_MAX)
#define OUT_MAX (64 * 1024)

enum watch_kind { W_LISTENER, W_CONN, W_EXTERNAL };

/* What an epoll event points at; every watched thing starts with this. */
struct watch {
    enum watch_kind kind;
    int fd;
};

struct listener {
    struct watch w;
    struct sim_bus *bus;
};

struct conn {
    struct watch w;
    struct sim_bus *bus;
    uint64_t serial;            /* late answers check it still exists */
    uint8_t in[2 * ADU_MAX];
    size_t in_len;
    uint8_t *out;
    size_t out_len;
    bool want_out;
    struct conn *next;
};

struct external {
    struct watch w;
    server_ready_fn fn;
    void *ctx;
    struct external *next;
};

struct late {
    double due;                 /* monotonic */
    struct conn *conn;
    uint64_t serial;
    uint8_t adu[ADU_MAX];
    size_t len;
};

struct server {
    struct sim *sim;
    int ep;
    struct listener *listeners;
    size_t n_listeners;
    struct conn *conns;
    size_t n_conns;
    uint64_t next_serial;
    struct external *externals;
    struct late *late;
    size_t n_late, cap_late;
};

/* ---- listening --------------------------------------------------- */

static int bind_address(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -EINVAL;
}

static int listen_on(struct server *srv, struct listener *l, struct sim_bus *bus)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;

    l->w.kind = W_LISTENER;
    l->bus = bus;
    if (bind_address(bus->host, bus->port, &ss, &len) < 0)
        return -EINVAL;
    l->w.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->w.fd < 0)
        return -errno;
    setsockopt(l->w.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l->w.fd, (struct sockaddr *)&ss, len) < 0 || listen(l->w.fd, 64) < 0)
        return -errno;
    /* Port 0 lets the system choose (tests run in parallel): note which. */
    if (getsockname(l->w.fd, (struct sockaddr *)&ss, &len) == 0)
        bus->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
    return epoll_ctl(srv->ep, EPOLL_CTL_ADD, l->w.fd, &ev) < 0 ? -errno : 0;
}

int server_open(struct server **out, struct sim *s)
{
    struct server *srv = calloc(1, sizeof *srv);

    *out = NULL;
    if (!srv)
        return -ENOMEM;
    srv->sim = s;
    srv->ep = epoll_create1(EPOLL_CLOEXEC);
    srv->listeners = calloc(s->n_buses ? s->n_buses : 1, sizeof *srv->listeners);
    if (srv->ep < 0 || !srv->listeners) {
        server_free(srv);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->n_buses; i++) {
        struct sim_bus *b = &s->buses[i];

        if (b->rtu)
            continue;
        struct listener *l = &srv->listeners[srv->n_listeners++];
        l->w.fd = -1;
        int rc = listen_on(srv, l, b);
        if (rc < 0) {
            fprintf(stderr, "greenwatch-sim: bus '%s': cannot listen on %s:%d: %s\n", b->id,
                    b->host, b->port, strerror(-rc));
            server_free(srv);
            return rc;
        }
    }
    *out = srv;
    return 0;
}

/* ---- connections ------------------------------------------------- */

static void conn_close(struct server *srv, struct conn *c)
{
    struct conn **p = &srv->conns;

    while (*p && *p != c)
        p = &(*p)->next;
    if (*p)
        *p = c->next;
    epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->w.fd, NULL);
    close(c->w.fd);
    free(c->out);
    free(c);
    srv->n_conns--;
}

static void accept_all(struct server *srv, struct listener *l)
{
    for (;;) {
        int fd = accept4(l->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;     /* EAGAIN, or out of descriptors: try again later */
        struct conn *c = calloc(1, sizeof *c);
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (!c || epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->w.kind = W_CONN;
        c->w.fd = fd;
        c->bus = l->bus;
        c->serial = ++srv->next_serial;
        c->next = srv->conns;
        srv->conns = c;
        srv->n_conns++;
    }
}

static void want_output(struct server *srv, struct conn *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

    epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->w.fd, &ev);
    c->want_out = want;
}

/* Send what is queued; returns -1 if the connection had to be closed. */
static int flush(struct server *srv, struct conn *c)
{
    while (c->out_len) {
        ssize_t n = send(c->w.fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(srv, c);
            return -1;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    want_output(srv, c, c->out_len > 0);
    return 0;
}

/* A client that does not read its answers is dropped, not buffered for. */
static int send_adu(struct server *srv, struct conn *c, const uint8_t *adu, size_t len)
{
    if (c->out_len + len > OUT_MAX) {
        conn_close(srv, c);
        return -1;
    }
    if (!c->out && !(c->out = malloc(OUT_MAX))) {
        conn_close(srv, c);
        return -1;
    }
    memcpy(c->out + c->out_len, adu, len);
    c->out_len += len;
    return flush(srv, c);
}

static int queue_late(struct server *srv, struct conn *c, const uint8_t *adu, size_t len,
                      int delay_ms)
{
    if (srv->n_late == srv->cap_late) {
        size_t cap = srv->cap_late ? 2 * srv->cap_late : 16;
        struct late *v = realloc(srv->late, cap * sizeof *v);

        if (!v)
            return -ENOMEM;
        srv->late = v;
        srv->cap_late = cap;
    }
    struct late *l = &srv->late[srv->n_late++];
    l->due = sim_monotonic() + delay_ms / 1000.0;
    l->conn = c;
    l->serial = c->serial;
    memcpy(l->adu, adu, len);
    l->len = len;
    return 0;
}

/* Answer one complete frame.  Returns -1 if the connection was closed. */
static int serve_frame(struct server *srv, struct conn *c, const uint8_t *frame, size_t len)
{
    struct sim *s = srv->sim;
    uint8_t adu[ADU_MAX];
    size_t n;
    struct sim_device *d = c->bus->by_unit[frame[6]];

    memcpy(adu, frame, MBAP_LEN);
    if (!d) {
        /* Nobody behind the gateway at that unit id. */
        n = pdu_exception(frame[MBAP_LEN], 0x0B, adu + MBAP_LEN);
    } else {
        sim_advance_to(s, sim_time_at(s, sim_monotonic()), 0);
        n = pdu_answer(s, d, frame + MBAP_LEN, len - MBAP_LEN, adu + MBAP_LEN);
        if (n == 0)
            return 0;
    }
    adu[4] = (uint8_t)((n + 1) >> 8);
    adu[5] = (uint8_t)(n + 1);
    if (d && d->faults.delay_ms > 0)
        return queue_late(srv, c, adu, MBAP_LEN + n, d->faults.delay_ms) == -ENOMEM ? -1 : 0;
    return send_adu(srv, c, adu, MBAP_LEN + n);
}

/* Take every complete frame from the input buffer.  A header that cannot
 * be Modbus TCP (protocol id not 0, absurd length) closes the connection,
 * as there is no way to find the next frame in the stream. */
static void serve_input(struct server *srv, struct conn *c)
{
    size_t off = 0;

    while (c->in_len - off >= MBAP_LEN) {
        const uint8_t *f = c->in + off;
        size_t len = (size_t)(f[4] << 8 | f[5]);

        if (f[2] || f[3] || len < 2 || len > PDU_MAX + 1) {
            conn_close(srv, c);
            return;
        }
        if (c->in_len - off < 6 + len)
            break;
        if (serve_frame(srv, c, f, 6 + len) < 0)
            return;
        off += 6 + len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

static void conn_readable(struct server *srv, struct conn *c)
{
    ssize_t n = recv(c->w.fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(srv, c);
        return;
    }
    c->in_len += (size_t)n;
    serve_input(srv, c);
}

/* ---- late answers ------------------------------------------------ */

static struct conn *find_conn(struct server *srv, const struct conn *c, uint64_t serial)
{
    for (struct conn *p = srv->conns; p; p = p->next)
        if (p == c && p->serial == serial)
            return p;
    return NULL;
}

static void send_due(struct server *srv)
{
    double now = sim_monotonic();

    for (size_t i = 0; i < srv->n_late;) {
        struct late *l = &srv->late[i];

        if (l->due > now) {
            i++;
            continue;
        }
        struct conn *c = find_conn(srv, l->conn, l->serial);
        struct late copy = *l;

        srv->late[i] = srv->late[--srv->n_late];
        if (c)
            send_adu(srv, c, copy.adu, copy.len);
    }
}

/* Milliseconds until the next late answer is due, capped at cap. */
static int next_due_ms(const struct server *srv, int cap)
{
    double now = sim_monotonic();
    int ms = cap;

    for (size_t i = 0; i < srv->n_late; i++) {
        double left = (srv->late[i].due - now) * 1000.0;
        int m = left <= 0.0 ? 0 : (int)left + 1;

        if (ms < 0 || m < ms)
            ms = m;
    }
    return ms;
}

/* ---- the loop ---------------------------------------------------- */

int server_watch(struct server *srv, int fd, server_ready_fn on_ready, void *ctx)
{
    struct external *e = calloc(1, sizeof *e);

    if (!e)
        return -ENOMEM;
    e->w.kind = W_EXTERNAL;
    e->w.fd = fd;
    e->fn = on_ready;
    e->ctx = ctx;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = e };
    if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(e);
        return -errno;
    }
    e->next = srv->externals;
    srv->externals = e;
    return 0;
}

void server_unwatch(struct server *srv, int fd)
{
    for (struct external **p = &srv->externals; *p; p = &(*p)->next) {
        if ((*p)->w.fd != fd)
            continue;
        struct external *e = *p;

        *p = e->next;
        epoll_ctl(srv->ep, EPOLL_CTL_DEL, fd, NULL);
        free(e);
        return;
    }
}

static void dispatch(struct server *srv, struct epoll_event *ev)
{
    struct watch *w = ev->data.ptr;

    switch (w->kind) {
    case W_LISTENER:
        accept_all(srv, (struct listener *)w);
        break;
    case W_EXTERNAL:
        ((struct external *)w)->fn(((struct external *)w)->ctx, w->fd);
        break;
    case W_CONN: {
        struct conn *c = (struct conn *)w;

        if ((ev->events & EPOLLOUT) && flush(srv, c) < 0)
            break;
        if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_readable(srv, c);
        break;
    }
    }
}

int server_poll(struct server *srv, int timeout_ms)
{
    struct epoll_event events[64];
    int n = epoll_wait(srv->ep, events, 64, next_due_ms(srv, timeout_ms));

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    /* Handling an event closes at most its own connection, and each
     * connection appears once per batch: later events stay valid. */
    for (int i = 0; i < n; i++)
        dispatch(srv, &events[i]);
    send_due(srv);
    return 0;
}

size_t server_connections(const struct server *srv)
{
    return srv->n_conns;
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_close(srv, srv->conns);
    for (size_t i = 0; i < srv->n_listeners; i++)
        if (srv->listeners[i].w.fd >= 0)
            close(srv->listeners[i].w.fd);
    while (srv->externals) {
        struct external *e = srv->externals;

        srv->externals = e->next;
        free(e);
    }
    if (srv->ep >= 0)
        close(srv->ep);
    free(srv->listeners);
    free(srv->late);
    free(srv);
}
