#include "rtu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "pdu.h"

#define FRAME_MAX 256

struct rtu_line {
    struct rtu *owner;
    struct sim_bus *bus;
    int master, slave;          /* slave kept open so the master never hangs up */
    int timer;                  /* late answers */
    uint8_t in[2 * FRAME_MAX];
    size_t in_len;
    double last_byte;           /* monotonic; a silence ends a broken frame */
    uint8_t late[FRAME_MAX];
    size_t late_len;
};

struct rtu {
    struct sim *sim;
    struct server *srv;
    struct rtu_line *lines;
    size_t n;
};

uint16_t rtu_crc(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* Length of the request frame starting at f (n bytes so far), 0 if more
 * bytes are needed to tell. */
static size_t frame_length(const uint8_t *f, size_t n)
{
    if (n < 2)
        return 0;
    switch (f[1]) {
    case 15: case 16:
        return n < 7 ? 0 : 9u + f[6];
    default:
        return 8;       /* 1-6: unit, fc, four bytes, CRC */
    }
}

static void write_frame(struct rtu_line *l, const uint8_t *frame, size_t n)
{
    if (write(l->master, frame, n) < 0 && errno != EAGAIN)
        fprintf(stderr, "greenwatch-sim: bus '%s': write: %s\n", l->bus->id, strerror(errno));
}

static void answer(struct rtu_line *l, const uint8_t *frame, size_t n)
{
    struct sim *s = l->owner->sim;
    struct sim_device *d = l->bus->by_unit[frame[0]];
    uint8_t out[FRAME_MAX];

    if (frame[0] == 0 || !d)
        return;     /* broadcast, or nobody at that address */
    sim_advance_to(s, sim_time_at(s, sim_monotonic()), 0);
    size_t len = pdu_answer(s, d, frame + 1, n - 3, out + 1);
    if (len == 0)
        return;
    out[0] = frame[0];
    uint16_t crc = rtu_crc(out, len + 1);
    out[len + 1] = (uint8_t)crc;
    out[len + 2] = (uint8_t)(crc >> 8);
    if (d->faults.delay_ms <= 0) {
        write_frame(l, out, len + 3);
        return;
    }
    struct itimerspec due = { .it_value = { .tv_sec = d->faults.delay_ms / 1000,
                                            .tv_nsec = (d->faults.delay_ms % 1000) * 1000000L } };
    memcpy(l->late, out, len + 3);
    l->late_len = len + 3;
    timerfd_settime(l->timer, 0, &due, NULL);
}

/* Take complete frames; a bad CRC drops one byte and tries again. */
static void frames(struct rtu_line *l)
{
    size_t off = 0;

    for (;;) {
        size_t need = frame_length(l->in + off, l->in_len - off);
        if (need == 0 || l->in_len - off < need)
            break;
        if (need > FRAME_MAX) {
            off++;
            continue;
        }
        const uint8_t *f = l->in + off;
        uint16_t crc = (uint16_t)(f[need - 2] | f[need - 1] << 8);
        if (rtu_crc(f, need - 2) != crc) {
            off++;
            continue;
        }
        answer(l, f, need);
        off += need;
    }
    memmove(l->in, l->in + off, l->in_len - off);
    l->in_len -= off;
}

static void line_ready(void *ctx, int fd)
{
    struct rtu_line *l = ctx;
    double now = sim_monotonic();

    /* 3.5 characters of silence end a frame; any gap this long certainly
     * does, and drops what a broken frame left behind. */
    if (now - l->last_byte > 0.05)
        l->in_len = 0;
    ssize_t n = read(fd, l->in + l->in_len, sizeof l->in - l->in_len);
    if (n <= 0)
        return;
    l->last_byte = now;
    l->in_len += (size_t)n;
    frames(l);
    if (l->in_len == sizeof l->in)
        l->in_len = 0;
}

static void timer_ready(void *ctx, int fd)
{
    struct rtu_line *l = ctx;
    uint64_t expirations;

    if (read(fd, &expirations, sizeof expirations) > 0 && l->late_len) {
        write_frame(l, l->late, l->late_len);
        l->late_len = 0;
    }
}

/* The link must be ours to replace: a symlink or nothing. */
static int make_link(const char *target, const char *link)
{
    struct stat st;

    if (lstat(link, &st) == 0) {
        if (!S_ISLNK(st.st_mode))
            return -EEXIST;
        unlink(link);
    }
    return symlink(target, link) < 0 ? -errno : 0;
}

static int open_pty(struct rtu_line *l)
{
    struct termios tio;
    char *name;

    l->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (l->master < 0 || grantpt(l->master) < 0 || unlockpt(l->master) < 0 ||
        !(name = ptsname(l->master)))
        return -errno;
    l->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (l->slave < 0 || tcgetattr(l->slave, &tio) < 0)
        return -errno;
    cfmakeraw(&tio);
    tcsetattr(l->slave, TCSANOW, &tio);
    l->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->timer < 0)
        return -errno;
    return make_link(name, l->bus->link);
}

static int open_line(struct rtu *r, struct rtu_line *l, struct sim_bus *bus)
{
    int rc;

    l->owner = r;
    l->bus = bus;
    l->master = l->slave = l->timer = -1;
    if ((rc = open_pty(l)) < 0) {
        fprintf(stderr, "greenwatch-sim: bus '%s': cannot serve RTU at %s: %s\n", bus->id,
                bus->link, strerror(-rc));
        return rc;
    }
    if ((rc = server_watch(r->srv, l->master, line_ready, l)) < 0 ||
        (rc = server_watch(r->srv, l->timer, timer_ready, l)) < 0)
        return rc;
    return 0;
}

int rtu_open(struct rtu **out, struct sim *s, struct server *srv)
{
    struct rtu *r;
    size_t n = 0;

    *out = NULL;
    for (size_t i = 0; i < s->n_buses; i++)
        n += s->buses[i].rtu;
    if (!n)
        return 0;
    if (!(r = calloc(1, sizeof *r)) || !(r->lines = calloc(n, sizeof *r->lines))) {
        free(r);
        return -ENOMEM;
    }
    r->sim = s;
    r->srv = srv;
    for (size_t i = 0; i < s->n_buses; i++) {
        if (!s->buses[i].rtu)
            continue;
        int rc = open_line(r, &r->lines[r->n++], &s->buses[i]);
        if (rc < 0) {
            rtu_close(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void rtu_close(struct rtu *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct rtu_line *l = &r->lines[i];
        struct stat st;

        if (l->master >= 0)
            server_unwatch(r->srv, l->master);
        if (l->timer >= 0)
            server_unwatch(r->srv, l->timer);
        if (lstat(l->bus->link, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(l->bus->link);
        if (l->master >= 0)
            close(l->master);
        if (l->slave >= 0)
            close(l->slave);
        if (l->timer >= 0)
            close(l->timer);
    }
    free(r->lines);
    free(r);
}
