#include "modbus_link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "scheduler.h"

enum {
    BACKOFF_MIN_MS = 500,
    BACKOFF_MAX_MS = 30000,
    BUSY_RETRIES = 3,          /* exception 6: the device asks to be asked again */
    BUSY_PAUSE_MS = 50,
    ERRORS_BEFORE_RECONNECT = 3,
};

static const char parity_char[] = { 'N', 'E', 'O' };

static void sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * GW_NS_PER_MS };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Sleep until monotonic time `until_ns`. */
static void sleep_until_ns(int64_t until_ns)
{
    struct timespec ts = { .tv_sec = until_ns / GW_NS_PER_S, .tv_nsec = until_ns % GW_NS_PER_S };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The inter-frame silence of a serial line (Modbus over serial line
 * V1.02, 2.5.1.1): 3.5 characters of start, data, parity and stop bits,
 * or a fixed 1.75 ms above 19200 baud. */
static int64_t frame_silence_ns(const struct gw_bus_cfg *cfg)
{
    if (!cfg->rtu || cfg->baud <= 0)
        return 0;
    if (cfg->baud > 19200)
        return 1750000;
    int bits = 1 + cfg->data_bits + (cfg->parity != GW_PARITY_NONE) + cfg->stop_bits;
    return (int64_t)bits * 3500000000LL / cfg->baud;
}

void link_init(struct gw_link *link, const struct gw_bus_cfg *cfg)
{
    memset(link, 0, sizeof *link);
    link->cfg = cfg;
    link->backoff_ms = BACKOFF_MIN_MS;
    link->silence_ns = frame_silence_ns(cfg);
}

void link_close(struct gw_link *link)
{
    if (!link->mb)
        return;
    modbus_close(link->mb);
    modbus_free(link->mb);
    link->mb = NULL;
    atomic_store(&link->stats.connected, false);
}

static void set_timeout(modbus_t *mb, int ms)
{
    modbus_set_response_timeout(mb, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000u);
}

static modbus_t *link_new(const struct gw_bus_cfg *cfg)
{
    if (cfg->rtu)
        return modbus_new_rtu(cfg->rtu, cfg->baud, parity_char[cfg->parity], cfg->data_bits, cfg->stop_bits);
    char port[8];
    snprintf(port, sizeof port, "%d", cfg->port);
    return modbus_new_tcp_pi(cfg->host, port);
}

static const char *endpoint(const struct gw_bus_cfg *cfg)
{
    return cfg->rtu ? cfg->rtu : cfg->tcp;
}

static void schedule_retry(struct gw_link *link, int64_t now_ns, const char *why)
{
    if (!link->logged_down)
        log_warning("bus '%s': cannot connect to %s: %s (retrying with backoff)", link->cfg->id,
                    endpoint(link->cfg), why);
    link->logged_down = true;
    link->retry_at_ns = now_ns + (int64_t)link->backoff_ms * GW_NS_PER_MS;
    link->backoff_ms = link->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : link->backoff_ms * 2;
}

bool link_ensure(struct gw_link *link, int64_t now_ns)
{
    if (link->mb)
        return true;
    if (now_ns < link->retry_at_ns)
        return false;
    modbus_t *mb = link_new(link->cfg);
    if (!mb) {
        schedule_retry(link, now_ns, modbus_strerror(errno));
        return false;
    }
    modbus_set_error_recovery(mb, MODBUS_ERROR_RECOVERY_NONE);
    set_timeout(mb, link->cfg->timeout_ms);
    if (modbus_connect(mb) == -1) {
        schedule_retry(link, now_ns, modbus_strerror(errno));
        modbus_free(mb);
        return false;
    }
    link->mb = mb;
    link->stats.reconnects++;
    atomic_store(&link->stats.connected, true);
    link->consecutive_errors = 0;
    link->backoff_ms = BACKOFF_MIN_MS;
    log_info("bus '%s': connected to %s", link->cfg->id, endpoint(link->cfg));
    link->logged_down = false;
    sleep_ms(link->cfg->delay_after_connect_ms);
    return true;
}

void link_select(struct gw_link *link, const struct gw_device_cfg *device)
{
    link->device = device;
    if (!link->mb)
        return;
    modbus_set_slave(link->mb, device->unit);
    set_timeout(link->mb, device->timeout_ms > 0 ? device->timeout_ms : link->cfg->timeout_ms);
}

/* Wait out the device's pacing since the previous exchange on this line
 * ended, and on a serial line at least the silence that ends a frame:
 * libmodbus sends as soon as an answer is in (0.1-0.3 ms later on a pty),
 * and a device that times frames as the specification says would take
 * the answer and our request for one frame, and answer neither.  The
 * silence is part of every transaction's wire time anyway, so keeping it
 * costs no throughput (docs/performance.md, "RS-485 buses: wire time"). */
static void pace(struct gw_link *link)
{
    int delay = link->device && link->device->delay_between_requests_ms >= 0
                    ? link->device->delay_between_requests_ms
                    : link->cfg->delay_between_requests_ms;
    int64_t gap = (int64_t)delay * GW_NS_PER_MS;
    if (gap < link->silence_ns)
        gap = link->silence_ns;
    if (gap <= 0 || !link->last_request_ns)
        return;
    if (link->last_request_ns + gap > clock_mono_ns())
        sleep_until_ns(link->last_request_ns + gap);
}

/* The one switch that turns a table into a request: reads only. */
static int send_read(modbus_t *mb, enum gw_table table, uint16_t address, uint16_t count,
                     uint16_t *regs, uint8_t *bits)
{
    switch (table) {
    case GW_TABLE_COIL: return modbus_read_bits(mb, address, count, bits);
    case GW_TABLE_DISCRETE: return modbus_read_input_bits(mb, address, count, bits);
    case GW_TABLE_HOLDING: return modbus_read_registers(mb, address, count, regs);
    case GW_TABLE_INPUT: return modbus_read_input_registers(mb, address, count, regs);
    }
    errno = EINVAL;
    return -1;
}

static bool is_exception(int err)
{
    return err > MODBUS_ENOBASE && err <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET;
}

/* No valid answer: flush what may still arrive, so that a late answer is
 * not taken for the next request's, and reconnect if it keeps happening. */
static enum gw_read_status garbled(struct gw_link *link, int err)
{
    if (err == ETIMEDOUT)
        link->stats.timeouts++;
    if (++link->consecutive_errors >= ERRORS_BEFORE_RECONNECT) {
        log_warning("bus '%s': %u failed requests in a row (%s); reconnecting", link->cfg->id,
                    link->consecutive_errors, modbus_strerror(err));
        link_close(link);
    } else {
        modbus_flush(link->mb);
    }
    return GW_READ_COMM_FAILED;
}

static enum gw_read_status classify(struct gw_link *link, int err)
{
    link->stats.errors++;
    if (err == EMBXILADD)
        return GW_READ_ILLEGAL_ADDRESS;
    if (err == EMBXGPATH || err == EMBXGTAR)
        return GW_READ_COMM_FAILED;  /* the gateway is fine; the device behind it is not */
    if (is_exception(err))
        return GW_READ_EXCEPTION;
    if (err == ETIMEDOUT || err == EMBBADDATA || err == EMBBADCRC || err == EMBBADSLAVE ||
        err == EMBMDATA || err == EMBBADEXC)
        return garbled(link, err);
    log_warning("bus '%s': link lost (%s); reconnecting", link->cfg->id, modbus_strerror(err));
    link_close(link);
    return GW_READ_COMM_FAILED;
}

static enum gw_read_status link_read(void *io, enum gw_table table, uint16_t address, uint16_t count,
                                     uint16_t *regs, uint8_t *bits)
{
    struct gw_link *link = io;
    for (int attempt = 0;; attempt++) {
        if (!link->mb)
            return GW_READ_COMM_FAILED;
        pace(link);
        /* RTU has no transaction id: an answer that came after its request
         * timed out would be taken for this request's, and its registers
         * decoded as another point's.  Nothing valid waits on a serial line
         * before a request is sent, so drop whatever does. */
        if (link->cfg->rtu)
            modbus_flush(link->mb);
        link->stats.requests++;
        int rc = send_read(link->mb, table, address, count, regs, bits);
        int err = errno;
        link->last_request_ns = clock_mono_ns();
        if (rc == count) {
            link->consecutive_errors = 0;
            return GW_READ_OK;
        }
        if (rc >= 0)
            return garbled(link, EMBBADDATA);
        bool busy = err == EMBXSBUSY || err == EMBXACK;
        if (!busy || attempt == BUSY_RETRIES)
            return classify(link, err);
        link->consecutive_errors = 0;  /* it answered */
        sleep_ms(BUSY_PAUSE_MS << attempt);
    }
}

struct gw_reader link_reader(struct gw_link *link)
{
    return (struct gw_reader){ .read = link_read, .io = link };
}
