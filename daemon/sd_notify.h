/*
 * The systemd notification protocol (Type=notify), spoken directly: one
 * datagram to $NOTIFY_SOCKET per state change.  Outside systemd
 * (no NOTIFY_SOCKET) every call is a no-op.
 */
#ifndef GW_SD_NOTIFY_H
#define GW_SD_NOTIFY_H

#include <stdint.h>

/* Send state ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1",
 * "RELOADING=1"; several joined by newlines).  Returns 0, 0 outside
 * systemd, or a negative errno. */
int sd_notify_send(const char *state);

/* The watchdog interval systemd expects pings within ($WATCHDOG_USEC for
 * this process), in ns; 0 when there is no watchdog. */
int64_t sd_watchdog_interval_ns(void);

#endif
