/*
 * gw-testdev: a fake Modbus field device for tests.
 *
 * A real Modbus server built on libmodbus, serving TCP on 127.0.0.1 (an
 * ephemeral port unless --port says otherwise) or RTU on a serial line.
 * All four tables hold 65536 entries with predictable default contents,
 * and flags make the device misbehave the way field devices do: exception
 * responses, busy periods, slow answers, absent unit ids, dropped
 * connections and wrong transaction ids.
 *
 * The device is also a witness: every request received is logged
 * (--log), and any function code other than 1-4 is refused with
 * exception 1, so a test can prove that the daemon never writes.
 *
 * Readiness: once requests are accepted, exactly one line "READY <port>"
 * (TCP) or "READY rtu" is printed on stdout and flushed.
 * SIGTERM or SIGINT stops the device; it then exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <modbus.h>

#define TABLE_SIZE 65536
#define MAX_CONNS 64
#define TCP_HEADER 7           /* MBAP header: tid, pid, length, unit */
#define RTU_HEADER 1           /* unit id */
#define RTU_CRC 2
#define RTU_GAP_MS 50          /* silence that ends an unparseable RTU frame */
#define RTU_STALL_MS 1000      /* a partial frame older than this is dropped */

enum table { T_COIL, T_DISCRETE, T_INPUT, T_HOLDING, T_COUNT };

static const char *const table_names[T_COUNT] = {
    "coil", "discrete", "input", "holding"
};

struct range {
    enum table table;
    unsigned from, to;          /* inclusive */
};

struct options {
    const char *rtu_path;       /* NULL: TCP */
    int port;                   /* TCP port, 0: ephemeral */
    int baud;
    char parity;
    int unit;                   /* -1: answer every unit id */
    bool absent_exception;      /* other units: exception 11, not silence */
    struct range *illegal;
    size_t n_illegal;
    unsigned long busy;
    unsigned long delay_ms;
    bool silent[256];
    unsigned long drop_after;   /* 0: never */
    bool bad_tid;
    const char *log_path;
};

/* What to do with one request, decided when it arrives. */
enum action { ACT_NONE, ACT_REPLY, ACT_EXCEPTION };

struct conn {
    int fd;                     /* -1: free slot */
    uint8_t req[MODBUS_MAX_ADU_LENGTH];
    int req_len;
    bool pending;               /* an answer waits for its due time */
    enum action action;
    int exception;
    struct timespec due;
    unsigned long answered;
    /* RTU reassembly */
    size_t have;
    struct timespec first_byte;
};

struct device {
    struct options opt;
    modbus_t *ctx;
    modbus_mapping_t *map;
    FILE *log;
    unsigned long busy_left;
    bool bad_tid_left;
    int listen_fd;              /* TCP only, else -1 */
    struct conn conns[MAX_CONNS];
    size_t header;              /* TCP_HEADER or RTU_HEADER */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: gw-testdev [options]\n"
"  --port N            TCP port on 127.0.0.1 (default 0: ephemeral)\n"
"  --rtu PATH          serve RTU on a serial line instead of TCP\n"
"  --baud N            RTU baud rate (default 9600)\n"
"  --parity N|E|O      RTU parity (default N)\n"
"  --unit N            answer only unit id N (others: no answer)\n"
"  --absent-exception  with --unit: other unit ids get exception 11\n"
"  --set T:A=V[,V...]  set values from address A (T: coil, discrete,\n"
"                      input, holding); repeatable\n"
"  --illegal T:A[-B]   reads covering A (..B) get exception 2; repeatable\n"
"  --busy N            the first N read requests get exception 6\n"
"  --delay-ms N        answer every request N ms late\n"
"  --silent-unit U     never answer unit id U; repeatable\n"
"  --drop-after N      close a TCP connection after answering N requests\n"
"  --bad-tid           answer the first request with a wrong transaction id\n"
"  --log FILE          append 'unit fc address count' per request received\n");
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || end == s || *end != '\0' || v > max || s[0] == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_table(const char *s, size_t len, enum table *out)
{
    for (int t = 0; t < T_COUNT; t++) {
        size_t n = strlen(table_names[t]);
        /* accept the singular and the plural form */
        if ((len == n || (len == n + 1 && s[n] == 's')) &&
            strncmp(s, table_names[t], n) == 0) {
            *out = (enum table)t;
            return 0;
        }
    }
    return -EINVAL;
}

/* Splits "TABLE:REST"; returns a pointer to REST or NULL. */
static const char *split_table(const char *arg, enum table *t)
{
    const char *colon = strchr(arg, ':');

    if (!colon || parse_table(arg, (size_t)(colon - arg), t) < 0)
        return NULL;
    return colon + 1;
}

/* --illegal TABLE:ADDR or TABLE:FROM-TO */
static int parse_illegal(struct options *o, const char *arg)
{
    struct range r;
    unsigned long from, to;
    char buf[64];
    const char *rest = split_table(arg, &r.table);
    char *dash;
    struct range *grown;

    if (!rest || strlen(rest) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, rest);
    dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (parse_ulong(buf, TABLE_SIZE - 1, &from) < 0)
        return -EINVAL;
    to = from;
    if (dash && (parse_ulong(dash + 1, TABLE_SIZE - 1, &to) < 0 || to < from))
        return -EINVAL;
    r.from = (unsigned)from;
    r.to = (unsigned)to;
    grown = realloc(o->illegal, (o->n_illegal + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    o->illegal = grown;
    o->illegal[o->n_illegal++] = r;
    return 0;
}

static void table_store(modbus_mapping_t *m, enum table t, unsigned addr,
                        unsigned long v)
{
    switch (t) {
    case T_COIL:     m->tab_bits[addr] = (uint8_t)v; break;
    case T_DISCRETE: m->tab_input_bits[addr] = (uint8_t)v; break;
    case T_INPUT:    m->tab_input_registers[addr] = (uint16_t)v; break;
    case T_HOLDING:  m->tab_registers[addr] = (uint16_t)v; break;
    default: break;
    }
}

/* --set TABLE:ADDR=V[,V...]: consecutive values from ADDR on. */
static int apply_set(modbus_mapping_t *m, const char *arg)
{
    enum table t;
    const char *rest = split_table(arg, &t);
    unsigned long addr, v;
    unsigned long max;
    char *copy, *eq, *tok, *save = NULL;
    size_t n_values = 0;
    int rc = 0;

    if (!rest)
        return -EINVAL;
    copy = strdup(rest);
    if (!copy)
        return -ENOMEM;
    max = (t == T_COIL || t == T_DISCRETE) ? 1 : 0xFFFF;
    eq = strchr(copy, '=');
    if (!eq || (*eq = '\0', parse_ulong(copy, TABLE_SIZE - 1, &addr) < 0)) {
        rc = -EINVAL;
        goto out;
    }
    for (tok = strtok_r(eq + 1, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (addr >= TABLE_SIZE || parse_ulong(tok, max, &v) < 0) {
            rc = -EINVAL;
            goto out;
        }
        table_store(m, t, (unsigned)addr++, v);
        n_values++;
    }
    if (n_values == 0)
        rc = -EINVAL;
out:
    free(copy);
    return rc;
}

enum {
    OPT_PORT = 256, OPT_RTU, OPT_BAUD, OPT_PARITY, OPT_UNIT, OPT_ABSENT,
    OPT_SET, OPT_ILLEGAL, OPT_BUSY, OPT_DELAY, OPT_SILENT, OPT_DROP,
    OPT_BADTID, OPT_LOG, OPT_HELP
};

/* Same order as the OPT_ values: error messages index it by c - OPT_PORT. */
static const struct option long_opts[] = {
    { "port", required_argument, NULL, OPT_PORT },
    { "rtu", required_argument, NULL, OPT_RTU },
    { "baud", required_argument, NULL, OPT_BAUD },
    { "parity", required_argument, NULL, OPT_PARITY },
    { "unit", required_argument, NULL, OPT_UNIT },
    { "absent-exception", no_argument, NULL, OPT_ABSENT },
    { "set", required_argument, NULL, OPT_SET },
    { "illegal", required_argument, NULL, OPT_ILLEGAL },
    { "busy", required_argument, NULL, OPT_BUSY },
    { "delay-ms", required_argument, NULL, OPT_DELAY },
    { "silent-unit", required_argument, NULL, OPT_SILENT },
    { "drop-after", required_argument, NULL, OPT_DROP },
    { "bad-tid", no_argument, NULL, OPT_BADTID },
    { "log", required_argument, NULL, OPT_LOG },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

/*
 * Parses the command line into o. --set values are collected in sets
 * (argv pointers, applied once the tables exist). Returns 0, 1 for
 * --help, or -EINVAL after printing what is wrong.
 */
static int parse_args(int argc, char **argv, struct options *o,
                      const char ***sets, size_t *n_sets)
{
    unsigned long v;
    int c;

    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        int rc = 0;

        switch (c) {
        case OPT_PORT:
            rc = parse_ulong(optarg, 65535, &v);
            o->port = (int)v;
            break;
        case OPT_RTU: o->rtu_path = optarg; break;
        case OPT_BAUD:
            rc = parse_ulong(optarg, INT_MAX, &v);
            o->baud = (int)v;
            break;
        case OPT_PARITY:
            if (strlen(optarg) != 1 || !strchr("NEO", optarg[0]))
                rc = -EINVAL;
            o->parity = optarg[0];
            break;
        case OPT_UNIT:
            rc = parse_ulong(optarg, 255, &v);
            o->unit = (int)v;
            break;
        case OPT_ABSENT: o->absent_exception = true; break;
        case OPT_SET: {
            const char **grown = realloc(*sets, (*n_sets + 1) * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            *sets = grown;
            (*sets)[(*n_sets)++] = optarg;
            break;
        }
        case OPT_ILLEGAL: rc = parse_illegal(o, optarg); break;
        case OPT_BUSY: rc = parse_ulong(optarg, ULONG_MAX, &o->busy); break;
        case OPT_DELAY: rc = parse_ulong(optarg, 3600000, &o->delay_ms); break;
        case OPT_SILENT:
            rc = parse_ulong(optarg, 255, &v);
            if (rc == 0)
                o->silent[v] = true;
            break;
        case OPT_DROP: rc = parse_ulong(optarg, ULONG_MAX, &o->drop_after); break;
        case OPT_BADTID: o->bad_tid = true; break;
        case OPT_LOG: o->log_path = optarg; break;
        case OPT_HELP: usage(stdout); return 1;
        default: usage(stderr); return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "gw-testdev: invalid argument '%s' for --%s\n",
                    optarg, long_opts[c - OPT_PORT].name);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gw-testdev: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (o->rtu_path && (o->bad_tid || o->drop_after || o->port)) {
        fprintf(stderr, "gw-testdev: --bad-tid, --drop-after and --port "
                        "are TCP only\n");
        return -EINVAL;
    }
    return 0;
}

/* Default contents: holding[i] = i, input[i] = 0x8000 | i, bits = i & 1. */
static modbus_mapping_t *mapping_create(void)
{
    modbus_mapping_t *m = modbus_mapping_new(TABLE_SIZE, TABLE_SIZE,
                                             TABLE_SIZE, TABLE_SIZE);
    if (!m)
        return NULL;
    for (unsigned i = 0; i < TABLE_SIZE; i++) {
        m->tab_bits[i] = (uint8_t)(i & 1);
        m->tab_input_bits[i] = (uint8_t)(i & 1);
        m->tab_registers[i] = (uint16_t)i;
        m->tab_input_registers[i] = (uint16_t)(0x8000 | i);
    }
    return m;
}

/* ---- time ---------------------------------------------------------- */

static struct timespec now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static struct timespec ts_add_ms(struct timespec t, unsigned long ms)
{
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Milliseconds from a to b, 0 if b is not later. */
static long ms_until(struct timespec a, struct timespec b)
{
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL +
                   (b.tv_nsec - a.tv_nsec);
    if (ns <= 0)
        return 0;
    return (long)((ns + 999999) / 1000000);
}

/* ---- request handling ---------------------------------------------- */

struct request {
    unsigned unit, fc, address, count;
};

static struct request request_parse(const struct device *d,
                                    const uint8_t *req, int len)
{
    size_t h = d->header;
    struct request r = { req[h - 1], req[h], 0, 0 };
    size_t pdu = (size_t)len - h - (d->opt.rtu_path ? RTU_CRC : 0);

    if (pdu >= 3)
        r.address = (unsigned)(req[h + 1] << 8 | req[h + 2]);
    switch (r.fc) {
    case 1: case 2: case 3: case 4: case 15: case 16:
        if (pdu >= 5)
            r.count = (unsigned)(req[h + 3] << 8 | req[h + 4]);
        break;
    case 5: case 6:
        r.count = 1;
        break;
    default:
        r.address = 0;
        break;
    }
    return r;
}

static void log_request(struct device *d, const struct request *r)
{
    if (!d->log)
        return;
    fprintf(d->log, "%u %u %u %u\n", r->unit, r->fc, r->address, r->count);
    fflush(d->log);
}

static enum table fc_table(unsigned fc)
{
    static const enum table t[] = { T_COIL, T_COIL, T_DISCRETE, T_HOLDING,
                                    T_INPUT };
    return t[fc];
}

static bool covers_illegal(const struct device *d, const struct request *r)
{
    enum table t = fc_table(r->fc);
    unsigned long last = (unsigned long)r->address + r->count - 1;

    if (r->count == 0)
        return false;
    for (size_t i = 0; i < d->opt.n_illegal; i++) {
        const struct range *x = &d->opt.illegal[i];
        if (x->table == t && r->address <= x->to && last >= x->from)
            return true;
    }
    return false;
}

/*
 * Decides how a request is answered. The order mirrors a gateway in
 * front of a device: unit routing first, then the device itself.
 */
static enum action decide(struct device *d, const struct request *r,
                          int *exception)
{
    bool served = d->opt.unit < 0 || (unsigned)d->opt.unit == r->unit;

    if (d->opt.silent[r->unit])
        return ACT_NONE;
    if (!served) {
        if (!d->opt.absent_exception)
            return ACT_NONE;
        *exception = MODBUS_EXCEPTION_GATEWAY_TARGET;
        return ACT_EXCEPTION;
    }
    if (r->fc < 1 || r->fc > 4) {
        *exception = MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
        return ACT_EXCEPTION;
    }
    if (d->busy_left > 0) {
        d->busy_left--;
        *exception = MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY;
        return ACT_EXCEPTION;
    }
    if (covers_illegal(d, r)) {
        *exception = MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
        return ACT_EXCEPTION;
    }
    return ACT_REPLY;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->pending = false;
    c->have = 0;
}

/*
 * Sends the answer decided for c's request. Returns 0, or -1 when the
 * connection is to be closed (send failure or --drop-after reached).
 */
static int send_answer(struct device *d, struct conn *c)
{
    int rc;

    c->pending = false;
    if (c->action == ACT_NONE)
        return 0;
    modbus_set_socket(d->ctx, c->fd);
    if (c->action == ACT_REPLY)
        rc = modbus_reply(d->ctx, c->req, c->req_len, d->map);
    else
        rc = modbus_reply_exception(d->ctx, c->req, (unsigned)c->exception);
    if (rc < 0) {
        fprintf(stderr, "gw-testdev: reply: %s\n", modbus_strerror(errno));
        return -1;
    }
    c->answered++;
    if (d->opt.drop_after && c->answered >= d->opt.drop_after)
        return -1;
    return 0;
}

/* Handles one complete request held in c->req. */
static int handle_request(struct device *d, struct conn *c)
{
    struct request r = request_parse(d, c->req, c->req_len);

    log_request(d, &r);
    c->action = decide(d, &r, &c->exception);
    if (c->action == ACT_NONE)
        return 0;
    if (d->bad_tid_left && !d->opt.rtu_path) {
        d->bad_tid_left = false;
        c->req[0] ^= 0x5A;      /* the answer echoes this transaction id */
    }
    c->due = ts_add_ms(now_mono(), d->opt.delay_ms);
    c->pending = true;
    if (d->opt.delay_ms == 0)
        return send_answer(d, c);
    return 0;
}

/* ---- TCP ----------------------------------------------------------- */

static int tcp_listen(struct device *d)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)d->opt.port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    d->listen_fd = fd;
    return ntohs(sa.sin_port);
}

static void tcp_accept(struct device *d)
{
    int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    int one = 1;

    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &d->conns[i];
        if (c->fd < 0) {
            memset(c, 0, sizeof(*c));
            c->fd = fd;
            return;
        }
    }
    fprintf(stderr, "gw-testdev: too many connections\n");
    close(fd);
}

static void tcp_readable(struct device *d, struct conn *c)
{
    int len;

    modbus_set_socket(d->ctx, c->fd);
    len = modbus_receive(d->ctx, c->req);
    if (len <= 0) {
        /* peer closed, or a frame libmodbus could not parse */
        conn_close(c);
        return;
    }
    c->req_len = len;
    if (handle_request(d, c) < 0)
        conn_close(c);
}

/* ---- RTU ----------------------------------------------------------- */

/*
 * Expected length of the RTU request in buf (have bytes so far): the full
 * frame length, 0 if more bytes are needed to know, -1 if unknown (the
 * frame then ends at a silence).
 */
static int rtu_expected(const uint8_t *buf, size_t have)
{
    if (have < 2)
        return 0;
    switch (buf[1]) {
    case 1: case 2: case 3: case 4: case 5: case 6:
        return 8;
    case 7: case 11: case 12: case 17:
        return 4;
    case 15: case 16:
        return have < 7 ? 0 : 9 + buf[6];
    case 22:
        return 10;
    case 23:
        return have < 11 ? 0 : 13 + buf[10];
    default:
        return -1;
    }
}

static bool rtu_crc_ok(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;

    if (len < 4)
        return false;
    for (size_t i = 0; i < len - 2; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return buf[len - 2] == (crc & 0xFF) && buf[len - 1] == (crc >> 8);
}

/* Processes a complete frame of len bytes at the start of c->req. */
static void rtu_frame(struct device *d, struct conn *c, size_t len)
{
    if (rtu_crc_ok(c->req, len)) {
        c->req_len = (int)len;
        handle_request(d, c);
    } else {
        fprintf(stderr, "gw-testdev: RTU frame with bad CRC dropped\n");
        tcflush(c->fd, TCIFLUSH);
    }
    c->have = 0;
}

static void rtu_readable(struct device *d, struct conn *c)
{
    ssize_t n;
    int want;

    if (c->have == 0)
        c->first_byte = now_mono();
    n = read(c->fd, c->req + c->have, sizeof(c->req) - c->have);
    if (n <= 0)
        return;
    c->have += (size_t)n;
    want = rtu_expected(c->req, c->have);
    if (want > 0 && c->have >= (size_t)want)
        rtu_frame(d, c, (size_t)want);   /* a request never shares a read */
    else if (c->have == sizeof(c->req))
        rtu_frame(d, c, c->have);
}

/* Called when the line has been silent: ends or drops a partial frame. */
static void rtu_silence(struct device *d, struct conn *c)
{
    int want = rtu_expected(c->req, c->have);

    if (want < 0)
        rtu_frame(d, c, c->have);
    else if (ms_until(c->first_byte, now_mono()) >= RTU_STALL_MS) {
        fprintf(stderr, "gw-testdev: incomplete RTU frame dropped\n");
        c->have = 0;
    }
}

static int rtu_open(struct device *d)
{
    if (modbus_connect(d->ctx) < 0) {
        fprintf(stderr, "gw-testdev: %s: %s\n", d->opt.rtu_path,
                modbus_strerror(errno));
        return -1;
    }
    memset(&d->conns[0], 0, sizeof(d->conns[0]));
    d->conns[0].fd = modbus_get_socket(d->ctx);
    return 0;
}

/* ---- main loop ----------------------------------------------------- */

/* Poll timeout in ms: until the earliest due answer or RTU silence. */
static int loop_timeout(const struct device *d)
{
    struct timespec now = now_mono();
    long t = -1;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        const struct conn *c = &d->conns[i];
        long ms = -1;

        if (c->fd < 0)
            continue;
        if (c->pending)
            ms = ms_until(now, c->due);
        else if (d->opt.rtu_path && c->have > 0)
            ms = RTU_GAP_MS;
        if (ms >= 0 && (t < 0 || ms < t))
            t = ms;
    }
    return t > INT_MAX ? INT_MAX : (int)t;
}

static void send_due(struct device *d)
{
    struct timespec now = now_mono();

    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &d->conns[i];
        if (c->fd >= 0 && c->pending && ms_until(now, c->due) == 0 &&
            send_answer(d, c) < 0)
            conn_close(c);
    }
}

static int serve(struct device *d, const sigset_t *unblocked)
{
    struct pollfd pfd[MAX_CONNS + 1];
    size_t slot[MAX_CONNS + 1];

    while (!stop_requested) {
        nfds_t n = 0;
        int timeout = loop_timeout(d);
        struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };
        int rc;

        if (d->listen_fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
        for (size_t i = 0; i < MAX_CONNS; i++) {
            /* while an answer is pending, further requests wait unread */
            if (d->conns[i].fd >= 0 && !d->conns[i].pending) {
                slot[n] = i;
                pfd[n++] = (struct pollfd){ .fd = d->conns[i].fd,
                                            .events = POLLIN };
            }
        }
        rc = ppoll(pfd, n, timeout < 0 ? NULL : &ts, unblocked);
        if (rc < 0 && errno != EINTR) {
            perror("gw-testdev: ppoll");
            return -1;
        }
        send_due(d);
        if (rc == 0 && d->opt.rtu_path && d->conns[0].have > 0)
            rtu_silence(d, &d->conns[0]);
        for (nfds_t k = 0; rc > 0 && k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (pfd[k].fd == d->listen_fd)
                tcp_accept(d);
            else if (d->opt.rtu_path)
                rtu_readable(d, &d->conns[slot[k]]);
            else if (d->conns[slot[k]].fd == pfd[k].fd)
                tcp_readable(d, &d->conns[slot[k]]);
        }
    }
    return 0;
}

static int device_init(struct device *d, const char **sets, size_t n_sets)
{
    const struct options *o = &d->opt;

    d->listen_fd = -1;
    for (size_t i = 0; i < MAX_CONNS; i++)
        d->conns[i].fd = -1;
    d->busy_left = o->busy;
    d->bad_tid_left = o->bad_tid;
    d->map = mapping_create();
    if (!d->map) {
        fprintf(stderr, "gw-testdev: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if (apply_set(d->map, sets[i]) < 0) {
            fprintf(stderr, "gw-testdev: invalid --set '%s'\n", sets[i]);
            return -1;
        }
    }
    if (o->log_path) {
        d->log = fopen(o->log_path, "ae");
        if (!d->log) {
            fprintf(stderr, "gw-testdev: %s: %s\n", o->log_path, strerror(errno));
            return -1;
        }
    }
    if (o->rtu_path) {
        d->header = RTU_HEADER;
        d->ctx = modbus_new_rtu(o->rtu_path, o->baud, o->parity, 8, 1);
    } else {
        d->header = TCP_HEADER;
        d->ctx = modbus_new_tcp("127.0.0.1", o->port);
    }
    if (!d->ctx) {
        fprintf(stderr, "gw-testdev: %s\n", modbus_strerror(errno));
        return -1;
    }
    return 0;
}

static void device_fini(struct device *d)
{
    for (size_t i = 0; i < MAX_CONNS; i++) {
        /* the RTU line belongs to the modbus context */
        if (d->opt.rtu_path)
            d->conns[i].fd = -1;
        conn_close(&d->conns[i]);
    }
    if (d->listen_fd >= 0)
        close(d->listen_fd);
    if (d->ctx) {
        if (d->opt.rtu_path)
            modbus_close(d->ctx);
        modbus_free(d->ctx);
    }
    modbus_mapping_free(d->map);
    if (d->log)
        fclose(d->log);
    free(d->opt.illegal);
}

/* Blocks the stop signals (they are taken only inside ppoll). */
static void signals_setup(sigset_t *unblocked)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigset_t stop;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, unblocked);
    sigdelset(unblocked, SIGTERM);
    sigdelset(unblocked, SIGINT);
}

int main(int argc, char **argv)
{
    struct device d = { .opt = { .baud = 9600, .parity = 'N', .unit = -1 } };
    const char **sets = NULL;
    size_t n_sets = 0;
    sigset_t unblocked;
    int rc = parse_args(argc, argv, &d.opt, &sets, &n_sets);

    if (rc != 0) {
        free(sets);
        free(d.opt.illegal);
        return rc > 0 ? 0 : 2;
    }
    signals_setup(&unblocked);
    rc = device_init(&d, sets, n_sets);
    free(sets);
    if (rc == 0) {
        if (d.opt.rtu_path) {
            rc = rtu_open(&d);
            if (rc == 0)
                printf("READY rtu\n");
        } else {
            int port = tcp_listen(&d);
            if (port < 0) {
                fprintf(stderr, "gw-testdev: listen: %s\n", strerror(-port));
                rc = -1;
            } else {
                printf("READY %d\n", port);
            }
        }
    }
    if (rc == 0) {
        fflush(stdout);
        rc = serve(&d, &unblocked);
    }
    device_fini(&d);
    return rc == 0 ? 0 : 1;
}
