/*
 * Sinks: where samples, alarm events and the daemon's health go (MQTT,
 * InfluxDB, webhooks).  Every sink is fed through its own durable spool:
 * the main thread encodes each event into records and appends them
 * (submit_*), and the sink's delivery thread reads the spool, delivers,
 * and commits what was delivered.  An outage of the target therefore only
 * grows the spool.
 */
#ifndef GW_SINK_H
#define GW_SINK_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include "config.h"
#include "spool.h"

struct gw_alarm_event;
struct gw_alarm_info;
struct gw_command;
struct gw_command_result;

/* What the daemon reports about itself: the `greenwatch` measurement and
 * the retained MQTT status. */
struct gw_health_bus {
    const char *id;
    bool connected;
    uint64_t requests, errors, timeouts, reconnects;
};

struct gw_health_device {
    const char *id;
    bool online;                 /* its last poll got an answer */
    uint64_t polls, failed_polls, missed_polls, requests;
    double latency_ms;           /* of its last poll */
};

struct gw_health_sink {
    const char *name;
    bool connected;
    uint64_t delivered, failed;  /* records delivered, delivery attempts failed */
    uint64_t rejected;           /* records the target refused for good (malformed, too large) */
    bool auth_failed;            /* the target refuses our credentials: raise an alarm */
    struct gw_spool_stats spool;
};

struct gw_health {
    int64_t ts_ms;
    double uptime_s;
    const struct gw_health_bus *buses;
    size_t n_buses;
    const struct gw_health_device *devices;
    size_t n_devices;
    const struct gw_health_sink *sinks;
    size_t n_sinks;
};

struct gw_sink_ops {
    const char *name;            /* "mqtt", "influxdb": also its spool's directory */
    /* Whether cfg configures this sink. */
    bool (*configured)(const struct gw_config *cfg);
    /* Create the sink for cfg (which outlives it), delivering from spool.
     * Returns 0 or a negative errno (logged). */
    int (*create)(const struct gw_config *cfg, struct gw_spool *spool, void **impl);
    /* Main thread: encode and append.  0, or a negative errno if the spool
     * refused the records (logged by the caller). */
    int (*submit_sample)(void *impl, const struct gw_sample *sample, const struct gw_device_cfg *device);
    int (*submit_health)(void *impl, const struct gw_health *health);
    /* The operations below are optional (NULL: the sink has no use for
     * them).  An alarm transition (rules.h), as it happens. */
    int (*submit_alarm)(void *impl, const struct gw_alarm_event *event);
    /* An alarm's current state without a transition: at start, for every
     * alarm that is not normal (a broker that lost its retained messages
     * gets them back).  Sinks that record transitions leave it NULL. */
    int (*submit_alarm_state)(void *impl, const struct gw_alarm_info *alarm);
    /* Main thread: the oldest operator command received (command.h), true;
     * false when none waits. */
    bool (*next_command)(void *impl, struct gw_command *out);
    /* The answer to a command that came from this sink. */
    int (*submit_command_result)(void *impl, const struct gw_command_result *result);
    /* Start the delivery thread.  0 or a negative errno. */
    int (*start)(void *impl);
    /* Stop delivering after the delivery in flight and join the thread;
     * what is not delivered stays in the spool for the next start. */
    void (*stop)(void *impl);
    void (*state)(void *impl, struct gw_health_sink *out);
    void (*destroy)(void *impl);
};

extern const struct gw_sink_ops sink_mqtt_ops;
extern const struct gw_sink_ops sink_influx_ops;

#endif
