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
#define FIFO_BYTES 8            /* paced answers come out this many bytes at a time */

/*
 * Wire time.  A pty carries bytes as fast as they are written; an RS-485
 * segment at 9600 baud takes over a millisecond a character.  With
 * bus->wire.baud set, a line keeps the time of a real one:
 *
 *   - a request began on the wire when its first byte was read here (or,
 *     if that is sooner than 3.5 characters after the line's previous
 *     frame, as if the master had waited those: counted as `early`), and
 *     is received when its last character has passed;
 *   - the device answers once the line has been silent for 3.5 characters
 *     (plus the delay fault's delay_ms, if any);
 *   - the answer leaves at the wire rate: each byte is due when its stop
 *     bit has passed, and bytes are written FIFO_BYTES at a time (the last
 *     few when the frame ends), the way a UART's receive FIFO hands them
 *     to the driver.  Holding the whole answer back until its end would
 *     be wrong for libmodbus: its response timeout waits only for the
 *     first byte (the byte timeout, 0.5 s, for each later one), so on a
 *     real line a 250-byte answer at 9600 baud (0.29 s) meets a 0.1 s
 *     response timeout, and held back it would not.  Writing every byte
 *     on its own would cost both processes a wake-up a byte, which no
 *     serial driver does.  The frame's last byte is due exactly when its
 *     last stop bit has passed, so the time a transaction takes is right
 *     whatever the chunking.
 *
 * Above 19200 baud the silence is 1.75 ms rather than 3.5 characters, as
 * the Modbus serial line specification (V1.02, 2.5.1.1) fixes it.
 */

struct rtu_line {
    struct rtu *owner;
    struct sim_bus *bus;
    int master, slave;          /* slave kept open so the master never hangs up */
    int timer;                  /* an answer not due yet: late (delay fault) or paced */
    uint8_t in[2 * FRAME_MAX];
    size_t in_len;
    double last_byte;           /* monotonic; a silence ends a broken frame */
    double char_s, silence_s;   /* paced: a character's wire time, the 3.5-character
                                 * silence; 0: not paced */
    double in_start;            /* paced: when in[0] began on the wire */
    double line_free;           /* paced: when the line has been silent long enough
                                 * for the next frame */
    uint8_t out[FRAME_MAX];     /* the answer on its way, out[out_sent..out_len) to go */
    size_t out_len, out_sent;
    double out_at;              /* monotonic: when out[0] begins (paced), or when the
                                 * whole of it is due (not paced) */
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

double rtu_char_s(const struct sim_wire *w)
{
    if (w->baud <= 0)
        return 0.0;
    return (1.0 + w->data_bits + (w->parity == 'N' ? 0 : 1) + w->stop_bits) / w->baud;
}

double rtu_silence_s(const struct sim_wire *w)
{
    if (w->baud <= 0)
        return 0.0;
    return w->baud > 19200 ? 0.00175 : 3.5 * rtu_char_s(w);
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

/* Wake at monotonic time `at` (seconds). */
static void arm(struct rtu_line *l, double at)
{
    struct itimerspec due = { .it_value = { .tv_sec = (time_t)at,
                                            .tv_nsec = (long)((at - (double)(time_t)at) * 1e9) } };

    if (due.it_value.tv_sec == 0 && due.it_value.tv_nsec == 0)
        due.it_value.tv_nsec = 1;   /* zero would disarm */
    timerfd_settime(l->timer, TFD_TIMER_ABSTIME, &due, NULL);
}

/* Write what of the pending answer is due at `now`, and wake for the rest. */
static void send_due(struct rtu_line *l, double now)
{
    size_t due = l->out_len;

    if (l->char_s > 0.0) {
        double passed = (now - l->out_at) / l->char_s + 1e-6;
        due = passed <= 0.0 ? 0 : passed >= (double)l->out_len ? l->out_len : (size_t)passed;
        if (due < l->out_len && due < l->out_sent + FIFO_BYTES)
            due = l->out_sent;      /* not a whole FIFO's worth yet */
    } else if (now < l->out_at) {
        due = l->out_sent;
    }
    if (due > l->out_sent) {
        write_frame(l, l->out + l->out_sent, due - l->out_sent);
        l->out_sent = due;
    }
    if (l->out_sent == l->out_len) {
        l->bus->line.answers++;
        l->bus->line.busy_s += (double)l->out_len * l->char_s + l->silence_s;
        l->out_len = l->out_sent = 0;
        return;
    }
    size_t next = l->out_sent + FIFO_BYTES < l->out_len ? l->out_sent + FIFO_BYTES : l->out_len;
    arm(l, l->char_s > 0.0 ? l->out_at + (double)next * l->char_s : l->out_at);
}

/* The answer frame to `frame` into out (unit id and CRC included);
 * returns its length, 0 for none (broadcast, nobody at that address, the
 * no_answer fault), and the device's delay fault in *delay_s. */
static size_t make_answer(struct rtu_line *l, const uint8_t *frame, size_t n, uint8_t *out,
                          double *delay_s)
{
    struct sim *s = l->owner->sim;
    struct sim_device *d = l->bus->by_unit[frame[0]];

    *delay_s = 0.0;
    if (frame[0] == 0 || !d)
        return 0;
    sim_advance_to(s, sim_time_at(s, sim_monotonic()), 0);
    size_t len = pdu_answer(s, d, frame + 1, n - 3, out + 1);
    if (len == 0)
        return 0;
    out[0] = frame[0];
    uint16_t crc = rtu_crc(out, len + 1);
    out[len + 1] = (uint8_t)crc;
    out[len + 2] = (uint8_t)(crc >> 8);
    *delay_s = d->faults.delay_ms > 0 ? d->faults.delay_ms / 1000.0 : 0.0;
    return len + 3;
}

/* Answer a frame at once, or after the delay fault's delay.  A late
 * answer replaces one still waiting: the line has room for one. */
static void answer_now(struct rtu_line *l, const uint8_t *frame, size_t n, double now)
{
    uint8_t out[FRAME_MAX];
    double delay;
    size_t len = make_answer(l, frame, n, out, &delay);

    l->bus->line.requests++;
    if (len == 0)
        return;
    if (delay <= 0.0) {
        write_frame(l, out, len);
        l->bus->line.answers++;
        return;
    }
    memcpy(l->out, out, len);
    l->out_len = len;
    l->out_sent = 0;
    l->out_at = now + delay;
    send_due(l, now);
}

/* Answer a frame of n bytes on a paced line, when it would be answered on
 * the wire.  Whatever of an earlier answer is still to go out is dropped
 * (and not counted): the master has given up on it, as it flushes before
 * every request, and on a real line the two frames would collide. */
static void answer_paced(struct rtu_line *l, const uint8_t *frame, size_t n, double now)
{
    struct sim_line_stats *st = &l->bus->line;
    double start = l->in_start;

    if (l->out_sent < l->out_len) {
        l->out_len = l->out_sent = 0;
        l->line_free = start;
    }
    if (start < l->line_free) {
        st->early++;
        start = l->line_free;
    }
    double received = start + (double)n * l->char_s;
    st->requests++;
    st->busy_s += (double)n * l->char_s + l->silence_s;
    l->line_free = received + l->silence_s;
    l->in_start = received;                 /* what follows in in[] came after it */

    double delay;
    size_t len = make_answer(l, frame, n, l->out, &delay);
    l->out_len = len;
    l->out_sent = 0;
    if (len == 0)
        return;
    l->out_at = l->line_free + delay;
    l->line_free = l->out_at + (double)len * l->char_s + l->silence_s;
    send_due(l, now);
}

/* Take complete frames; a bad CRC drops one byte and tries again. */
static void frames(struct rtu_line *l, double now)
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
            l->in_start += l->char_s;
            continue;
        }
        if (l->char_s > 0.0)
            answer_paced(l, f, need, now);
        else
            answer_now(l, f, need, now);
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
    if (l->in_len == 0)
        l->in_start = now;
    ssize_t n = read(fd, l->in + l->in_len, sizeof l->in - l->in_len);
    if (n <= 0)
        return;
    l->last_byte = now;
    l->in_len += (size_t)n;
    frames(l, now);
    if (l->in_len == sizeof l->in)
        l->in_len = 0;
}

static void timer_ready(void *ctx, int fd)
{
    struct rtu_line *l = ctx;
    uint64_t expirations;

    if (read(fd, &expirations, sizeof expirations) > 0 && l->out_len)
        send_due(l, sim_monotonic());
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
    l->char_s = rtu_char_s(&bus->wire);
    l->silence_s = rtu_silence_s(&bus->wire);
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
