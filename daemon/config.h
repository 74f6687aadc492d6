/*
 * The daemon's configuration: loading (libconfig), the schema tables and
 * validation.  config_load() reports every problem as FILE:LINE: message
 * and returns a configuration only if there were none.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include "diag.h"
#include "notify_config.h"
#include "planner.h"
#include "profile.h"
#include "rules/rules_config.h"

#define GW_HOST_MAX 256

struct gw_site_cfg {
    char *id, *name, *timezone;
    double floor_area_m2;
};

struct gw_daemon_cfg {
    char *plugin_dir, *profile_dir, *spool_dir;  /* absolute after loading */
    char *state_file;          /* alarm states across restarts; absolute after loading */
    int log_level;                                /* enum gw_log_level */
    double health_interval_s;
};

enum gw_parity { GW_PARITY_NONE, GW_PARITY_EVEN, GW_PARITY_ODD };

struct gw_bus_cfg {
    char *id;
    char *tcp;                 /* "host:port", or NULL for a serial bus */
    char host[GW_HOST_MAX];
    int port;
    char *rtu;                 /* serial device path, or NULL for TCP */
    int baud, data_bits, stop_bits;
    int parity;                /* enum gw_parity */
    int timeout_ms;
    int delay_after_connect_ms;
    int delay_between_requests_ms;
    int line;
};

struct gw_device_cfg {
    char *id, *bus_id, *kind, *profile_id;
    int unit;
    double interval_s;
    bool enabled;
    struct gw_tag *tags;       /* keys and values owned */
    size_t n_tags;
    struct gw_param *params;   /* for the kind plugin; keys owned */
    size_t n_params;
    int timeout_ms;            /* the bus's when not set */
    int delay_between_requests_ms;
    int max_read_registers, max_read_bits, max_gap_registers, max_gap_bits; /* -1: not set */
    bool has_points;           /* an inline register map */
    /* Resolved by validation: */
    size_t bus_index;
    const struct gw_profile *profile;  /* a shared profile, or &inline_map */
    struct gw_profile inline_map;
    struct gw_plan_limits limits;
    int line;
};

struct gw_mqtt_cfg {
    bool present;
    char *uri, *client_id, *topic_prefix;  /* defaults filled from the site */
    int qos;
    int version;               /* 0: "3.1.1", 1: "5" */
    int keepalive_s;
    char *username, *password_file;   /* secrets: see secret.h */
    char *ca_file, *cert_file, *key_file;
    bool verify_hostname;
};

struct gw_influx_cfg {
    bool present;
    char *url, *api, *database, *retention_policy, *org, *bucket;
    char *username, *password_file, *token_file;
    int batch_lines, flush_ms, timeout_ms;
    bool gzip;
    char *ca_file;
    bool verify_tls;
};

struct gw_spool_cfg {
    int max_mb, segment_kb, fsync_ms;
};

/* An emission-factor set: what one unit of each energy emits, kg CO2e.
 * A factor below 0 is not in the set (that energy is not counted). */
struct gw_emission_cfg {
    char *name, *source;
    int year;
    double electricity_kg_per_kwh, gas_kg_per_m3, heat_kg_per_kwh;
};

/* The greenwatch report tool's settings (docs/reports.md). */
struct gw_report_cfg {
    struct gw_emission_cfg factors;
    char **main_meters;        /* device ids of whole-building meters */
    size_t n_main_meters;
    char *occupied_from, *occupied_to;   /* "HH:MM", local time, Monday to Friday */
    double gas_kwh_per_m3;     /* gas volume to energy, for EUI */
    double anomaly_pct;        /* month-on-month and year-on-year change listed beyond this */
    double estimated_below_pct;          /* completeness below which an entry is estimated */
    int gap_intervals;         /* gaps longer than this many poll intervals are listed */
};

struct gw_config {
    char *file;
    struct gw_site_cfg site;
    struct gw_daemon_cfg daemon;
    struct gw_mqtt_cfg mqtt;
    struct gw_influx_cfg influx;
    struct gw_spool_cfg spool;
    struct gw_report_cfg report;
    struct gw_notify_cfg notify;  /* notify_config.h */
    struct gw_bus_cfg *buses;
    size_t n_buses;
    struct gw_device_cfg *devices;
    size_t n_devices;
    struct gw_profile **profiles;  /* loaded from profile_dir, as referenced */
    size_t n_profiles;
    struct gw_rule_cfg *rules;
    size_t n_rules;
};

/*
 * Load and validate path.  On success returns 0 and *out (free with
 * config_free).  Otherwise returns -EINVAL with every problem in diag, or
 * -ENOMEM; *out is NULL.
 */
int config_load(const char *path, struct gw_config **out, struct gw_diag *diag);

void config_free(struct gw_config *cfg);

/* The device called id, or NULL. */
const struct gw_device_cfg *config_find_device(const struct gw_config *cfg, const char *id);

#endif
