/*
 * One Modbus connection (a TCP endpoint or a serial line) on libmodbus:
 * connect with exponential backoff, per-device timeout and pacing, retry
 * on "busy", flush on garbage, reconnect when errors repeat.
 *
 * This is the only place that sends Modbus requests, and it sends only
 * function codes 1-4 (read coils, read discrete inputs, read holding
 * registers, read input registers): greenwatch cannot move plant.
 */
#ifndef GW_MODBUS_LINK_H
#define GW_MODBUS_LINK_H

#include <modbus/modbus.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "config.h"
#include "device.h"

/* Written by the bus thread, read by the main thread for health. */
struct gw_link_stats {
    _Atomic uint64_t requests, errors, timeouts, reconnects;
    atomic_bool connected;
};

struct gw_link {
    const struct gw_bus_cfg *cfg;
    modbus_t *mb;                /* NULL while disconnected */
    int64_t retry_at_ns;         /* no connect attempt before this */
    int backoff_ms;
    unsigned consecutive_errors;
    /* When the last request ended: for pacing, and, read by the main
     * thread, the watchdog's sign that a poll in hand is moving. */
    _Atomic int64_t last_request_ns;
    /* The device being polled: its unit, timeout and pacing apply. */
    const struct gw_device_cfg *device;
    /* Serial line: the silence that ends a frame (3.5 characters, 1.75 ms
     * above 19200 baud), kept before every request; 0 for TCP. */
    int64_t silence_ns;
    bool logged_down;
    struct gw_link_stats stats;
};

void link_init(struct gw_link *link, const struct gw_bus_cfg *cfg);

/* Connect if not connected and the backoff allows.  Returns true if the
 * link is up. */
bool link_ensure(struct gw_link *link, int64_t now_ns);

/* Address device for the following reads (unit id, timeout, pacing). */
void link_select(struct gw_link *link, const struct gw_device_cfg *device);

/* A reader for device_poll() reading through this link. */
struct gw_reader link_reader(struct gw_link *link);

void link_close(struct gw_link *link);

#endif
