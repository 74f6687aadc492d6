#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024
#define REPLY_MAX 16384
#define CLIENTS_MAX 8

struct client {
    int fd;
    char buf[LINE_MAX_LEN];
    size_t len;
};

struct control {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct sim *sim;
    struct server *srv;
    struct client clients[CLIENTS_MAX];
};

/* ---- commands ---------------------------------------------------- */

#define MAX_WORDS 32

static int split(char *line, char **words)
{
    int n = 0;

    for (char *tok = strtok(line, " \t\r\n"); tok && n < MAX_WORDS; tok = strtok(NULL, " \t\r\n"))
        words[n++] = tok;
    return n;
}

static int type_index(const char *name)
{
    for (int i = 0; i < FAULT_TYPE_COUNT; i++)
        if (strcmp(fault_type_names[i], name) == 0)
            return i;
    return -1;
}

static void cmd_fault(struct sim *s, char **w, int n, char *reply, size_t len)
{
    struct fault_spec spec;
    char err[256];
    int type, id;

    if (n < 3 || (type = type_index(w[2])) < 0) {
        snprintf(reply, len, "ERR usage: fault DEVICE TYPE [key=value ...]; TYPE is a fault type\n");
        return;
    }
    fault_spec_init(&spec, (enum fault_type)type);
    if (fault_spec_set(&spec, "device", w[1], err, sizeof err) < 0)
        goto fail;
    for (int i = 3; i < n; i++) {
        char *eq = strchr(w[i], '=');

        if (!eq) {
            snprintf(err, sizeof err, "expected key=value, not '%s'", w[i]);
            goto fail;
        }
        *eq = '\0';
        if (fault_spec_set(&spec, w[i], eq + 1, err, sizeof err) < 0)
            goto fail;
    }
    if (faults_add(s, &spec, s->building.t + spec.after_s, &id, err, sizeof err) < 0)
        goto fail;
    faults_update(s);   /* a fault starting now is in force for the next request */
    snprintf(reply, len, "OK id=%d\n", id);
    return;
fail:
    snprintf(reply, len, "ERR %s\n", err);
}

static void cmd_clear(struct sim *s, char **w, int n, char *reply, size_t len)
{
    char *end;
    int cleared;

    if (n < 2) {
        snprintf(reply, len, "ERR usage: clear ID | clear DEVICE [TYPE] | clear all\n");
        return;
    }
    long id = strtol(w[1], &end, 10);
    if (!*end)
        cleared = faults_clear(s, (int)id, NULL, -1);
    else if (strcmp(w[1], "all") == 0)
        cleared = faults_clear(s, -1, NULL, -1);
    else
        cleared = faults_clear(s, -1, w[1], n > 2 ? type_index(w[2]) : -1);
    snprintf(reply, len, "OK cleared=%d\n", cleared);
}

static const char *const state_names[] = { "pending", "active", "over" };

static void cmd_list(struct sim *s, char *reply, size_t len)
{
    size_t used = 0;

    reply[0] = '\0';
    for (size_t i = 0; i < s->faults.n && used + 200 < len; i++) {
        const struct fault *f = &s->faults.v[i];
        int w = snprintf(reply + used, len - used, "id=%d device=%s type=%s%s%s state=%s\n",
                         f->id, f->spec.device, fault_type_names[f->spec.type],
                         f->spec.point[0] ? " point=" : "", f->spec.point, state_names[f->state]);
        used += w > 0 ? (size_t)w : 0;
    }
    snprintf(reply + used, len - used, "OK faults=%zu\n", s->faults.n);
}

/* Jump the simulated clock forward, stepping the model through the gap:
 * tests see an hour pass without waiting for it. */
static void cmd_advance(struct sim *s, char **w, int n, char *reply, size_t len)
{
    char *end;
    double secs = n == 2 ? strtod(w[1], &end) : 0.0;

    if (n != 2 || *end || !(secs > 0.0 && secs <= 366.0 * 86400.0)) {
        snprintf(reply, len, "ERR usage: advance SECONDS (simulated, up to a year)\n");
        return;
    }
    s->wall0 -= secs / s->speed;
    sim_advance_to(s, sim_time_at(s, sim_monotonic()), 0);
    snprintf(reply, len, "OK sim_s=%.3f\n", s->building.t);
}

static void cmd_status(struct sim *s, char *reply, size_t len)
{
    snprintf(reply, len, "OK sim_s=%.3f step=%lld speed=%g step_s=%g devices=%zu buses=%zu\n",
             s->building.t, (long long)s->step, s->speed, s->dt, s->n_devices, s->n_buses);
}

/* What each RTU line carried: the wire-time figures of rtu.c. */
static void cmd_lines(struct sim *s, char *reply, size_t len)
{
    size_t used = 0;
    int n = 0;

    reply[0] = '\0';
    for (size_t i = 0; i < s->n_buses; i++) {
        const struct sim_bus *b = &s->buses[i];

        if (!b->rtu || used >= len)
            continue;
        n++;
        used += (size_t)snprintf(reply + used, len - used,
                                 "bus=%s baud=%d format=%d%c%d requests=%llu answers=%llu "
                                 "early=%llu busy_s=%.6f\n", b->id, b->wire.baud,
                                 b->wire.baud ? b->wire.data_bits : 8,
                                 b->wire.baud ? b->wire.parity : 'N',
                                 b->wire.baud ? b->wire.stop_bits : 1,
                                 (unsigned long long)b->line.requests,
                                 (unsigned long long)b->line.answers,
                                 (unsigned long long)b->line.early, b->line.busy_s);
    }
    if (used < len)
        snprintf(reply + used, len - used, "OK lines=%d\n", n);
}

void control_execute(struct sim *s, const char *line, char *reply, size_t n)
{
    char copy[LINE_MAX_LEN];
    char *w[MAX_WORDS];

    snprintf(copy, sizeof copy, "%s", line);
    int words = split(copy, w);
    if (words == 0)
        snprintf(reply, n, "ERR empty command\n");
    else if (strcmp(w[0], "fault") == 0)
        cmd_fault(s, w, words, reply, n);
    else if (strcmp(w[0], "clear") == 0)
        cmd_clear(s, w, words, reply, n);
    else if (strcmp(w[0], "list") == 0)
        cmd_list(s, reply, n);
    else if (strcmp(w[0], "status") == 0)
        cmd_status(s, reply, n);
    else if (strcmp(w[0], "advance") == 0)
        cmd_advance(s, w, words, reply, n);
    else if (strcmp(w[0], "lines") == 0)
        cmd_lines(s, reply, n);
    else
        snprintf(reply, n, "ERR unknown command '%s' (fault, clear, list, status, advance, "
                 "lines)\n", w[0]);
}

/* ---- the socket -------------------------------------------------- */

static void client_close(struct control *c, struct client *cl)
{
    server_unwatch(c->srv, cl->fd);
    close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

/* Replies are small and the peer is local: a blocking write is fine. */
static void client_lines(struct control *c, struct client *cl)
{
    char *nl;
    static char reply[REPLY_MAX];

    while ((nl = memchr(cl->buf, '\n', cl->len))) {
        *nl = '\0';
        sim_advance_to(c->sim, sim_time_at(c->sim, sim_monotonic()), 0);
        control_execute(c->sim, cl->buf, reply, sizeof reply);
        if (write(cl->fd, reply, strlen(reply)) < 0) {
            client_close(c, cl);
            return;
        }
        size_t used = (size_t)(nl - cl->buf) + 1;
        memmove(cl->buf, nl + 1, cl->len - used);
        cl->len -= used;
    }
    if (cl->len == sizeof cl->buf)
        client_close(c, cl);    /* a line too long to be a command */
}

static struct client *client_of(struct control *c, int fd)
{
    for (int i = 0; i < CLIENTS_MAX; i++)
        if (c->clients[i].fd == fd)
            return &c->clients[i];
    return NULL;
}

static void client_ready(void *ctx, int fd)
{
    struct control *c = ctx;
    struct client *cl = client_of(c, fd);
    ssize_t n = read(fd, cl->buf + cl->len, sizeof cl->buf - cl->len);

    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            client_close(c, cl);
        return;
    }
    cl->len += (size_t)n;
    client_lines(c, cl);
}

static void accept_ready(void *ctx, int fd)
{
    struct control *c = ctx;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    struct client *cl = client_of(c, -1);

    if (cfd < 0)
        return;
    if (!cl || server_watch(c->srv, cfd, client_ready, c) < 0) {
        close(cfd);
        return;
    }
    cl->fd = cfd;
    cl->len = 0;
}

int control_open(struct control **out, const char *path, struct sim *s, struct server *srv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct control *c = calloc(1, sizeof *c);

    *out = NULL;
    if (!c)
        return -ENOMEM;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "greenwatch-sim: control socket path too long: %s\n", path);
        free(c);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    strcpy(c->path, path);
    c->sim = s;
    c->srv = srv;
    for (int i = 0; i < CLIENTS_MAX; i++)
        c->clients[i].fd = -1;
    unlink(path);   /* a socket left by a simulator that was killed */
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(c->fd, 8) < 0 ||
        server_watch(srv, c->fd, accept_ready, c) < 0) {
        int rc = -errno;

        fprintf(stderr, "greenwatch-sim: control socket %s: %s\n", path, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void control_close(struct control *c)
{
    if (!c)
        return;
    for (int i = 0; i < CLIENTS_MAX; i++)
        if (c->clients[i].fd >= 0)
            client_close(c, &c->clients[i]);
    server_unwatch(c->srv, c->fd);
    close(c->fd);
    unlink(c->path);
    free(c);
}

/* ---- client ------------------------------------------------------ */

/* Print the reply up to its OK or ERR line; returns 0, 1 or -errno. */
static int read_reply(int fd)
{
    char buf[REPLY_MAX];
    size_t len = 0;

    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return n == 0 ? -EPIPE : -errno;
        len += (size_t)n;
        buf[len] = '\0';
        char *last = len >= 2 ? buf + len - 2 : buf;
        while (last > buf && last[-1] != '\n')
            last--;
        if (buf[len - 1] == '\n' && (!strncmp(last, "OK", 2) || !strncmp(last, "ERR", 3))) {
            fputs(buf, stdout);
            return strncmp(last, "OK", 2) == 0 ? 0 : 1;
        }
        if (len == sizeof buf - 1)
            return -EMSGSIZE;
    }
}

int control_send(const char *path, const char *line)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0)
        return -errno;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rc = read_reply(fd);
    close(fd);
    return rc;
}
