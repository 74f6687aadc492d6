#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "schema.h"
#include "secret.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

static const char *const log_level_names[] = { "error", "warning", "info", "debug" };
static const char *const parity_names[] = { "N", "E", "O" };
static const char *const influx_api_names[] = { "v1", "v2" };
static const char *const mqtt_version_names[] = { "3.1.1", "5" };

/* Defaults a device gets when neither it nor its profile says otherwise. */
enum {
    DEFAULT_MAX_READ_REGISTERS = 125,  /* the Modbus maximum */
    DEFAULT_MAX_READ_BITS = 2000,      /* the Modbus maximum */
    DEFAULT_MAX_GAP_REGISTERS = 10,    /* ~ the cost of one more request on RS-485 */
    DEFAULT_MAX_GAP_BITS = 160,
};

/* ---- schema tables ---------------------------------------------------- */

#define SITE(f) SCHEMA_FIELD(struct gw_site_cfg, f)
static const struct schema_key site_keys[] = {
    { .name = "id", .type = SCHEMA_STRING, SITE(id), .required = true,
      .doc = "short site identifier; the `site` tag and part of MQTT topics" },
    { .name = "name", .type = SCHEMA_STRING, SITE(name),
      .doc = "display name" },
    { .name = "timezone", .type = SCHEMA_STRING, SITE(timezone), .def_str = "UTC",
      .doc = "IANA time zone of the building (reports, schedules)" },
    { .name = "floor_area_m2", .type = SCHEMA_FLOAT, SITE(floor_area_m2), .ranged = true,
      .min = 0, .max = 1e8,
      .doc = "gross floor area in m², for EUI" },
};

#define DAEMON(f) SCHEMA_FIELD(struct gw_daemon_cfg, f)
static const struct schema_key daemon_keys[] = {
    { .name = "plugin_dir", .type = SCHEMA_STRING, DAEMON(plugin_dir), .def_str = GW_DEFAULT_PLUGIN_DIR,
      .doc = "where the kind plugins `<kind>.so` are",
      .doc_default = "`<libdir>/greenwatch/plugins` of the build (`/usr/lib/<arch>/greenwatch/plugins` with prefix "
                     "`/usr`)" },
    { .name = "profile_dir", .type = SCHEMA_STRING, DAEMON(profile_dir), .def_str = GW_DEFAULT_PROFILE_DIR,
      .doc = "where the register maps `<profile>.conf` are",
      .doc_default = "`<datadir>/greenwatch/profiles` of the build (`/usr/share/greenwatch/profiles` with prefix "
                     "`/usr`)" },
    { .name = "spool_dir", .type = SCHEMA_STRING, DAEMON(spool_dir), .def_str = "/var/lib/greenwatch/spool",
      .doc = "durable spools of the sinks (`mqtt/`, `influxdb/`) and notification targets (`notify/<id>/`)" },
    { .name = "state_file", .type = SCHEMA_STRING, DAEMON(state_file), .def_str = "/var/lib/greenwatch/alarms.json",
      .doc = "alarm states, maintenance counts and baseline history across restarts" },
    { .name = "log_level", .type = SCHEMA_ENUM, DAEMON(log_level), .def_num = GW_LOG_INFO,
      .choices = log_level_names, .n_choices = N(log_level_names),
      .doc = "log verbosity (stderr; priority-tagged under systemd)" },
    { .name = "health_interval_s", .type = SCHEMA_FLOAT, DAEMON(health_interval_s), .def_num = 30,
      .ranged = true, .min = 1, .max = 3600,
      .doc = "how often the daemon's own health is published, seconds" },
};

#define MQTT(f) SCHEMA_FIELD(struct gw_mqtt_cfg, f)
static const struct schema_key mqtt_keys[] = {
    { .name = "uri", .type = SCHEMA_STRING, MQTT(uri), .required = true,
      .doc = "the broker: `tcp://`, `mqtt://`, `ssl://`, `mqtts://`, `ws://` or `wss://`, host and port" },
    { .name = "client_id", .type = SCHEMA_STRING, MQTT(client_id),
      .doc = "client id; unique on the broker (a second client with the same id disconnects the first)",
      .doc_default = "`greenwatch-<site id>`" },
    { .name = "topic_prefix", .type = SCHEMA_STRING, MQTT(topic_prefix),
      .doc = "first levels of every topic; no `+` or `#`", .doc_default = "`greenwatch/<site id>`" },
    { .name = "qos", .type = SCHEMA_INT, MQTT(qos), .def_num = 1, .ranged = true, .min = 0, .max = 2,
      .doc = "QoS of spooled messages (readings, availability, health, alarms)" },
    { .name = "version", .type = SCHEMA_ENUM, MQTT(version), .def_num = 0,
      .choices = mqtt_version_names, .n_choices = N(mqtt_version_names),
      .doc = "MQTT protocol version" },
    { .name = "keepalive_s", .type = SCHEMA_INT, MQTT(keepalive_s), .def_num = 30, .ranged = true, .min = 5, .max = 3600,
      .doc = "keep-alive, seconds: how soon the broker notices a dead connection and publishes the last will" },
    { .name = "username", .type = SCHEMA_STRING, MQTT(username),
      .doc = "broker user name" },
    { .name = "password_file", .type = SCHEMA_STRING, MQTT(password_file),
      .doc = "secret file (or systemd credential) holding the broker password" },
    { .name = "ca_file", .type = SCHEMA_STRING, MQTT(ca_file),
      .doc = "PEM CA certificates that may sign the broker's certificate (default: the system's trust store)" },
    { .name = "cert_file", .type = SCHEMA_STRING, MQTT(cert_file),
      .doc = "client certificate (PEM), with `key_file`" },
    { .name = "key_file", .type = SCHEMA_STRING, MQTT(key_file),
      .doc = "client certificate's key (PEM), a secret file, with `cert_file`" },
    { .name = "verify_hostname", .type = SCHEMA_BOOL, MQTT(verify_hostname), .def_num = 1,
      .doc = "the broker's certificate must name the host of `uri`" },
};

#define INFLUX(f) SCHEMA_FIELD(struct gw_influx_cfg, f)
static const struct schema_key influx_keys[] = {
    { .name = "url", .type = SCHEMA_STRING, INFLUX(url), .required = true,
      .doc = "the server: `http://` or `https://`" },
    { .name = "api", .type = SCHEMA_STRING, INFLUX(api), .def_str = "v1",
      .doc = "`\"v1\"` (needs `database`) or `\"v2\"` (needs `org` and `bucket`)" },
    { .name = "database", .type = SCHEMA_STRING, INFLUX(database),
      .doc = "v1: the database (required with v1)" },
    { .name = "retention_policy", .type = SCHEMA_STRING, INFLUX(retention_policy),
      .doc = "v1: the retention policy (default: the database's)" },
    { .name = "org", .type = SCHEMA_STRING, INFLUX(org),
      .doc = "v2: the organisation (required with v2)" },
    { .name = "bucket", .type = SCHEMA_STRING, INFLUX(bucket),
      .doc = "v2: the bucket (required with v2)" },
    { .name = "username", .type = SCHEMA_STRING, INFLUX(username),
      .doc = "v1: basic authentication user" },
    { .name = "password_file", .type = SCHEMA_STRING, INFLUX(password_file),
      .doc = "v1: secret file (or systemd credential) holding the password" },
    { .name = "token_file", .type = SCHEMA_STRING, INFLUX(token_file),
      .doc = "v2: secret file (or systemd credential) holding the API token" },
    { .name = "batch_lines", .type = SCHEMA_INT, INFLUX(batch_lines), .def_num = 5000, .ranged = true, .min = 1, .max = 100000,
      .doc = "most lines per request" },
    { .name = "flush_ms", .type = SCHEMA_INT, INFLUX(flush_ms), .def_num = 1000, .ranged = true, .min = 10, .max = 60000,
      .doc = "longest wait, after the first line of a request, for more lines" },
    { .name = "timeout_ms", .type = SCHEMA_INT, INFLUX(timeout_ms), .def_num = 10000, .ranged = true, .min = 100, .max = 300000,
      .doc = "per request" },
    { .name = "gzip", .type = SCHEMA_BOOL, INFLUX(gzip), .def_num = 1,
      .doc = "compress request bodies" },
    { .name = "ca_file", .type = SCHEMA_STRING, INFLUX(ca_file),
      .doc = "PEM CA certificates for an `https://` server (default: the system's trust store)" },
    { .name = "verify_tls", .type = SCHEMA_BOOL, INFLUX(verify_tls), .def_num = 1,
      .doc = "verify the server's certificate" },
};

#define SPOOL(f) SCHEMA_FIELD(struct gw_spool_cfg, f)
static const struct schema_key spool_keys[] = {
    { .name = "max_mb", .type = SCHEMA_INT, SPOOL(max_mb), .def_num = 256, .ranged = true, .min = 1, .max = 1048576,
      .doc = "disk budget of each sink's spool, MiB; beyond it the oldest records are dropped and counted" },
    { .name = "segment_kb", .type = SCHEMA_INT, SPOOL(segment_kb), .def_num = 4096, .ranged = true, .min = 4, .max = 262144,
      .doc = "segment file size, KiB; `max_mb` must hold two" },
    { .name = "fsync_ms", .type = SCHEMA_INT, SPOOL(fsync_ms), .def_num = 200, .ranged = true, .min = 0, .max = 60000,
      .doc = "group commit: records are on disk within this time (0: before each append returns)" },
};

/* The default emission-factor set: the national average of China's grid
 * for 2022, as published in 2024 by the Ministry of Ecology and
 * Environment and the National Bureau of Statistics. */
#define FACTORS(f) SCHEMA_FIELD(struct gw_emission_cfg, f)
static const struct schema_key emission_keys[] = {
    { .name = "name", .type = SCHEMA_STRING, FACTORS(name), .def_str = "China national grid average 2022",
      .doc = "the set's name, printed with every CO2e figure" },
    { .name = "year", .type = SCHEMA_INT, FACTORS(year), .def_num = 2022, .ranged = true, .min = 1990, .max = 2100,
      .doc = "the year the factors describe" },
    { .name = "source", .type = SCHEMA_STRING, FACTORS(source),
      .def_str = "MEE & NBS, announcement of the 2022 electricity CO2 emission factors (2024)",
      .doc = "where the factors were published" },
    { .name = "electricity_kg_per_kwh", .type = SCHEMA_FLOAT, FACTORS(electricity_kg_per_kwh), .def_num = 0.5366,
      .ranged = true, .min = 0, .max = 10,
      .doc = "kg CO2 per kWh of electricity" },
    { .name = "gas_kg_per_m3", .type = SCHEMA_FLOAT, FACTORS(gas_kg_per_m3), .def_num = -1,
      .ranged = true, .min = 0, .max = 100,
      .doc = "kg CO2e per m³ of gas", .doc_default = "not in the set" },  /* -1: not in the set */
    { .name = "heat_kg_per_kwh", .type = SCHEMA_FLOAT, FACTORS(heat_kg_per_kwh), .def_num = -1,
      .ranged = true, .min = 0, .max = 10,
      .doc = "kg CO2e per kWh of heat", .doc_default = "not in the set" },
};

static int parse_emission(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_main_meters(const config_setting_t *s, void *target, struct schema_ctx *ctx);

#define REPORT(f) SCHEMA_FIELD(struct gw_report_cfg, f)
static const struct schema_key report_keys[] = {
    { .name = "emission_factors", .type = SCHEMA_CUSTOM, .parse = parse_emission,
      .doc = "the emission-factor set for CO2e, configured as a whole",
      .doc_type = "group",
      .doc_default = "China national grid average 2022" },
    { .name = "main_meters", .type = SCHEMA_CUSTOM, .parse = parse_main_meters,
      .doc = "device ids of the whole-building meters",
      .doc_type = "list of device ids",
      .doc_default = "meters whose `category` is a whole energy's code (`0X000`)" },
    { .name = "occupied_from", .type = SCHEMA_STRING, REPORT(occupied_from), .def_str = "07:30",
      .doc = "start of the occupied hours (`HH:MM`, local), Monday to Friday" },
    { .name = "occupied_to", .type = SCHEMA_STRING, REPORT(occupied_to), .def_str = "18:00",
      .doc = "end of the occupied hours (`HH:MM`, local), after `occupied_from`" },
    { .name = "gas_kwh_per_m3", .type = SCHEMA_FLOAT, REPORT(gas_kwh_per_m3), .def_num = 9.97,
      .ranged = true, .min = 1, .max = 50,
      .doc = "gas heating value for site energy and EUI" },
    { .name = "anomaly_pct", .type = SCHEMA_FLOAT, REPORT(anomaly_pct), .def_num = 20,
      .ranged = true, .min = 1, .max = 1000,
      .doc = "list month-on-month and year-on-year changes beyond this, percent" },
    { .name = "estimated_below_pct", .type = SCHEMA_FLOAT, REPORT(estimated_below_pct), .def_num = 95,
      .ranged = true, .min = 0, .max = 100,
      .doc = "completeness below which a Portfolio Manager entry is marked estimated, percent" },
    { .name = "gap_intervals", .type = SCHEMA_INT, REPORT(gap_intervals), .def_num = 3,
      .ranged = true, .min = 1, .max = 100000,
      .doc = "list gaps longer than this many poll intervals" },
};

static int parse_tcp(const config_setting_t *s, void *target, struct schema_ctx *ctx);

#define BUS(f) SCHEMA_FIELD(struct gw_bus_cfg, f)
static const struct schema_key bus_keys[] = {
    { .name = "id", .type = SCHEMA_STRING, BUS(id), .required = true,
      .doc = "unique bus id" },
    { .name = "tcp", .type = SCHEMA_CUSTOM, .parse = parse_tcp,
      .doc = "`\"host:port\"`, `\"[v6addr]:port\"` or `\"host\"` (port 502); exactly one of `tcp` and `rtu`",
      .doc_type = "string" },
    { .name = "rtu", .type = SCHEMA_STRING, BUS(rtu),
      .doc = "serial device, e.g. `\"/dev/ttyUSB0\"`; exactly one of `tcp` and `rtu`" },
    { .name = "baud", .type = SCHEMA_INT, BUS(baud), .def_num = 9600, .ranged = true, .min = 300, .max = 921600,
      .doc = "RTU: line speed, bits per second" },
    { .name = "parity", .type = SCHEMA_ENUM, BUS(parity), .def_num = GW_PARITY_NONE,
      .choices = parity_names, .n_choices = N(parity_names),
      .doc = "RTU: none, even or odd" },
    { .name = "data_bits", .type = SCHEMA_INT, BUS(data_bits), .def_num = 8, .ranged = true, .min = 7, .max = 8,
      .doc = "RTU: data bits per character" },
    { .name = "stop_bits", .type = SCHEMA_INT, BUS(stop_bits), .def_num = 1, .ranged = true, .min = 1, .max = 2,
      .doc = "RTU: stop bits per character" },
    { .name = "timeout_ms", .type = SCHEMA_INT, BUS(timeout_ms), .def_num = 1000, .ranged = true, .min = 10, .max = 60000,
      .doc = "response timeout; also bounds a TCP connect" },
    { .name = "delay_after_connect_ms", .type = SCHEMA_INT, BUS(delay_after_connect_ms),
      .ranged = true, .min = 0, .max = 60000,
      .doc = "pause after connecting, for gateways that need it" },
    { .name = "delay_between_requests_ms", .type = SCHEMA_INT, BUS(delay_between_requests_ms),
      .ranged = true, .min = 0, .max = 60000,
      .doc = "minimum gap between requests (slow RS-485 devices, gateways)" },
};

static int parse_tags(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_params(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_inline_map(const config_setting_t *s, void *target, struct schema_ctx *ctx);

#define DEV(f) SCHEMA_FIELD(struct gw_device_cfg, f)
static const struct schema_key device_keys[] = {
    { .name = "id", .type = SCHEMA_STRING, DEV(id), .required = true,
      .doc = "unique; the `device` tag and MQTT topic level" },
    { .name = "bus", .type = SCHEMA_STRING, DEV(bus_id), .required = true,
      .doc = "a bus id" },
    { .name = "unit", .type = SCHEMA_INT, DEV(unit), .required = true, .def_num = -1, .ranged = true,
      .min = 0, .max = 255,  /* -1: missing or rejected, already reported */
      .doc = "Modbus unit id 1 … 247; 0 and 248 … 255 only for a device alone on a TCP endpoint" },
    { .name = "kind", .type = SCHEMA_STRING, DEV(kind), .def_str = "generic",
      .doc = "the kind plugin `<plugin_dir>/<kind>.so`: `meter`, `chiller`, `boiler`, `pump` or `generic`" },
    { .name = "profile", .type = SCHEMA_STRING, DEV(profile_id),
      .doc = "a register map `<profile_dir>/<profile>.conf`; exactly one of `profile` and `points`" },
    { .name = "interval_s", .type = SCHEMA_FLOAT, DEV(interval_s), .def_num = 60, .ranged = true,
      .min = 0.1, .max = 86400,
      .doc = "poll interval, seconds" },
    { .name = "enabled", .type = SCHEMA_BOOL, DEV(enabled), .def_num = 1,
      .doc = "false keeps the device configured but not polled" },
    { .name = "tags", .type = SCHEMA_CUSTOM, .parse = parse_tags,
      .doc = "InfluxDB tags, also matched by notify routes: `building`, `category`, `energy`, ...; not `site`, `device`",
      .doc_type = "group of strings" },
    { .name = "params", .type = SCHEMA_CUSTOM, .parse = parse_params,
      .doc = "numbers for the kind plugin, e.g. `rated_kw` ([kinds.md](kinds.md#parameters))",
      .doc_type = "group of numbers" },
    { .name = "timeout_ms", .type = SCHEMA_INT, DEV(timeout_ms), .def_num = -1, .ranged = true, .min = 10, .max = 60000,
      .doc = "response timeout for this device", .doc_default = "the bus's" },
    { .name = "delay_between_requests_ms", .type = SCHEMA_INT, DEV(delay_between_requests_ms),
      .def_num = -1, .ranged = true, .min = 0, .max = 60000,
      .doc = "minimum gap before each request to this device", .doc_default = "the bus's" },
    { .name = "max_read_registers", .type = SCHEMA_IGNORE },  /* device_limit_keys */
    { .name = "max_read_bits", .type = SCHEMA_IGNORE },
    { .name = "max_gap_registers", .type = SCHEMA_IGNORE },
    { .name = "max_gap_bits", .type = SCHEMA_IGNORE },
    { .name = "points", .type = SCHEMA_CUSTOM, .parse = parse_inline_map, SCHEMA_PRESENT(struct gw_device_cfg, has_points),
      .doc = "an inline register map instead of `profile`", .doc_type = "list of groups" },
    { .name = "holes", .type = SCHEMA_IGNORE,
      .doc = "with `points`: address ranges never read across (as a profile's `holes`)",
      .doc_type = "list of groups" },  /* read with points */
    { .name = "description", .type = SCHEMA_IGNORE,
      .doc = "free text", .doc_type = "string" },
};

/* A device's read limits.  With inline points the map parser reads them
 * (as the inline map's, which resolve_limits consults next), so they are
 * read apart from the other keys, and only for a device without: each
 * problem with them is reported once. */
static const struct schema_key device_limit_keys[] = {
    { .name = "max_read_registers", .type = SCHEMA_INT, DEV(max_read_registers), .def_num = -1,
      .ranged = true, .min = 1, .max = 125,
      .doc = "most registers per read", .doc_default = "the profile's, else 125" },
    { .name = "max_read_bits", .type = SCHEMA_INT, DEV(max_read_bits), .def_num = -1,
      .ranged = true, .min = 1, .max = 2000,
      .doc = "most coils or discrete inputs per read", .doc_default = "the profile's, else 2000" },
    { .name = "max_gap_registers", .type = SCHEMA_INT, DEV(max_gap_registers), .def_num = -1,
      .ranged = true, .min = 0, .max = 124,
      .doc = "unrequested registers a read may span to save a request", .doc_default = "the profile's, else 10" },
    { .name = "max_gap_bits", .type = SCHEMA_INT, DEV(max_gap_bits), .def_num = -1,
      .ranged = true, .min = 0, .max = 1999,
      .doc = "unrequested bits a read may span to save a request", .doc_default = "the profile's, else 160" },
};

static int parse_site(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_daemon(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_mqtt(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_influx(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_spool(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int check_secret(const config_setting_t *group, const char *key, const char *name,
                        struct schema_ctx *ctx);
static int parse_buses(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_devices(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_rules(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_notify(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_report(const config_setting_t *s, void *target, struct schema_ctx *ctx);

static const struct schema_key root_keys[] = {
    { .name = "site", .type = SCHEMA_CUSTOM, .parse = parse_site, .required = true,
      .doc = "the building", .doc_type = "group" },
    { .name = "daemon", .type = SCHEMA_CUSTOM, .parse = parse_daemon,
      .doc = "paths, log level and health reports of the daemon", .doc_type = "group" },
    { .name = "mqtt", .type = SCHEMA_CUSTOM, .parse = parse_mqtt,
      .doc = "the MQTT sink ([mqtt.md](mqtt.md)); without `mqtt` and `influxdb`, samples go to stdout",
      .doc_type = "group" },
    { .name = "influxdb", .type = SCHEMA_CUSTOM, .parse = parse_influx,
      .doc = "the InfluxDB sink ([influxdb.md](influxdb.md))", .doc_type = "group" },
    { .name = "spool", .type = SCHEMA_CUSTOM, .parse = parse_spool,
      .doc = "the durable spools in front of the sinks", .doc_type = "group" },
    { .name = "buses", .type = SCHEMA_CUSTOM, .parse = parse_buses, .required = true,
      .doc = "Modbus connections: a TCP endpoint or a serial line each", .doc_type = "list of groups" },
    { .name = "devices", .type = SCHEMA_CUSTOM, .parse = parse_devices, .required = true,
      .doc = "the devices polled", .doc_type = "list of groups" },
    { .name = "rules", .type = SCHEMA_CUSTOM, .parse = parse_rules,
      .doc = "the site's alarm rules, and overrides of the kinds' default rules ([rules.md](rules.md))",
      .doc_type = "list of groups" },
    { .name = "notify", .type = SCHEMA_CUSTOM, .parse = parse_notify,
      .doc = "on-call notification ([alarms.md](alarms.md#notification))", .doc_type = "group" },
    { .name = "report", .type = SCHEMA_CUSTOM, .parse = parse_report,
      .doc = "settings of `greenwatch report` ([reports.md](reports.md#configuration))",
      .doc_type = "group" },  /* after devices: names them */
};

/* ---- block parsers ---------------------------------------------------- */

static int parse_site(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    return schema_load(s, site_keys, N(site_keys), &cfg->site, false, "site", ctx);
}

static int parse_daemon(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    schema_free(daemon_keys, N(daemon_keys), &cfg->daemon);  /* the defaults */
    return schema_load(s, daemon_keys, N(daemon_keys), &cfg->daemon, false, "daemon", ctx);
}

static int parse_mqtt(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    cfg->mqtt.present = true;
    int rc = schema_load(s, mqtt_keys, N(mqtt_keys), &cfg->mqtt, false, "mqtt", ctx);
    const char *uri = cfg->mqtt.uri;
    static const char *const schemes[] = { "tcp://", "ssl://", "mqtt://", "mqtts://", "ws://", "wss://" };
    bool known = false;
    for (size_t i = 0; uri && i < N(schemes); i++)
        known |= strncmp(uri, schemes[i], strlen(schemes[i])) == 0;
    if (uri && !known) {
        schema_error(ctx, config_setting_get_member(s, "uri"),
                     "mqtt: uri '%s' must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://", uri);
        rc = -EINVAL;
    }
    if (!cfg->mqtt.cert_file != !cfg->mqtt.key_file) {
        schema_error(ctx, s, "mqtt: a client certificate needs both cert_file and key_file");
        rc = -EINVAL;
    }
    if (check_secret(s, "password_file", cfg->mqtt.password_file, ctx) ||
        check_secret(s, "key_file", cfg->mqtt.key_file, ctx))
        rc = -EINVAL;
    return rc;
}

/* A secret named in the configuration must be readable now and private,
 * so that --check catches it rather than the first connect at 3 a.m. */
static int check_secret(const config_setting_t *group, const char *key, const char *name,
                        struct schema_ctx *ctx)
{
    if (!name)
        return 0;
    const char *file = config_setting_source_file(group);
    char *dir = strdup(file ? file : ".");
    if (!dir)
        return -ENOMEM;
    char why[512], *secret = NULL;
    int rc = secret_read(name, dirname(dir), &secret, why, sizeof why);
    free(dir);
    secret_free(secret);
    if (rc) {
        schema_error(ctx, config_setting_get_member(group, key), "%s: %s: %s", config_setting_name(group), key, why);
        return -EINVAL;
    }
    return 0;
}

static int parse_influx(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    struct gw_influx_cfg *ix = &cfg->influx;
    ix->present = true;
    int rc = schema_load(s, influx_keys, N(influx_keys), ix, false, "influxdb", ctx);
    if (rc)
        return rc;
    if (strncmp(ix->url, "http://", 7) != 0 && strncmp(ix->url, "https://", 8) != 0) {
        schema_error(ctx, config_setting_get_member(s, "url"), "influxdb: url must start with http:// or https://");
        rc = -EINVAL;
    }
    bool v2 = strcmp(ix->api, influx_api_names[1]) == 0;
    if (!v2 && strcmp(ix->api, influx_api_names[0]) != 0) {
        schema_error(ctx, config_setting_get_member(s, "api"), "influxdb: api must be \"v1\" or \"v2\"");
        rc = -EINVAL;
    } else if (!v2 && !ix->database) {
        schema_error(ctx, s, "influxdb: api \"v1\" needs database");
        rc = -EINVAL;
    } else if (v2 && (!ix->org || !ix->bucket)) {
        schema_error(ctx, s, "influxdb: api \"v2\" needs org and bucket");
        rc = -EINVAL;
    }
    if (check_secret(s, "password_file", ix->password_file, ctx) || check_secret(s, "token_file", ix->token_file, ctx))
        rc = -EINVAL;
    return rc;
}

static int report_defaults(struct gw_report_cfg *r)
{
    return schema_defaults(report_keys, N(report_keys), r) ? -ENOMEM
           : schema_defaults(emission_keys, N(emission_keys), &r->factors);
}

static void report_free(struct gw_report_cfg *r)
{
    schema_free(emission_keys, N(emission_keys), &r->factors);
    schema_free(report_keys, N(report_keys), r);
    for (size_t i = 0; i < r->n_main_meters; i++)
        free(r->main_meters[i]);
    free(r->main_meters);
    r->main_meters = NULL;
    r->n_main_meters = 0;
}

static int parse_emission(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_report_cfg *r = target;
    return schema_load(s, emission_keys, N(emission_keys), &r->factors, false, "report: emission_factors", ctx);
}

/* A list of device ids; devices are loaded before report (root_keys). */
static int parse_main_meters(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = ctx->user;
    struct gw_report_cfg *r = target;
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        schema_error(ctx, s, "report: main_meters must be a list of device ids [ \"...\", ... ]");
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    if (n > 0 && !(r->main_meters = calloc((size_t)n, sizeof *r->main_meters)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *id = config_setting_get_string(e);
        if (!id) {
            schema_error(ctx, e, "report: main_meters: element %d must be a device id string", i + 1);
            rc = -EINVAL;
        } else if (!config_find_device(cfg, id)) {
            schema_error(ctx, e, "report: main_meters: no device '%s'", id);
            rc = -EINVAL;
        } else if (!(r->main_meters[r->n_main_meters++] = strdup(id)))
            return -ENOMEM;
    }
    return rc;
}

static bool valid_clock_time(const char *t)
{
    int h, m, used = 0;
    return sscanf(t, "%2d:%2d%n", &h, &m, &used) == 2 && used == 5 && t[used] == '\0' && h >= 0 &&
           h <= 24 && m >= 0 && m < 60 && (h < 24 || m == 0);
}

static int parse_report(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    struct gw_report_cfg *r = &cfg->report;
    report_free(r);  /* the defaults */
    if (report_defaults(r))
        return -ENOMEM;
    struct schema_ctx report_ctx = { .diag = ctx->diag, .user = cfg };
    int rc = schema_load(s, report_keys, N(report_keys), r, false, "report", &report_ctx);
    const char *names[] = { "occupied_from", "occupied_to" };
    const char *values[] = { r->occupied_from, r->occupied_to };
    for (size_t i = 0; i < N(names); i++) {
        if (values[i] && !valid_clock_time(values[i])) {
            schema_error(ctx, config_setting_get_member(s, names[i]), "report: %s = \"%s\" is not a time HH:MM",
                         names[i], values[i]);
            rc = -EINVAL;
        }
    }
    if (rc == 0 && strcmp(r->occupied_from, r->occupied_to) >= 0) {
        schema_error(ctx, s, "report: occupied_from must be before occupied_to");
        rc = -EINVAL;
    }
    return rc;
}

/* A bus whose tcp value was rejected still has one (port 0), so that it
 * is not also reported as having neither tcp nor rtu. */
static int reject_tcp(struct gw_bus_cfg *bus, const char *text)
{
    return (bus->tcp = strdup(text ? text : "")) ? -EINVAL : -ENOMEM;
}

static int parse_spool(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    int rc = schema_load(s, spool_keys, N(spool_keys), &cfg->spool, false, "spool", ctx);
    if (!rc && (int64_t)cfg->spool.max_mb * 1024 < 2 * (int64_t)cfg->spool.segment_kb) {
        schema_error(ctx, s, "spool: max_mb must hold at least two segments of segment_kb");
        rc = -EINVAL;
    }
    return rc;
}

/* "host:port", "[v6addr]:port" or "host" (port 502). */
static int parse_tcp(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_bus_cfg *bus = target;
    const char *text = config_setting_get_string(s);
    if (!text || !*text) {
        schema_error(ctx, s, "tcp must be a string \"host:port\"");
        return reject_tcp(bus, text);
    }
    const char *host = text, *colon;
    size_t host_len;
    if (*text == '[') {
        const char *close = strchr(text, ']');
        colon = close && close[1] == ':' ? close + 1 : NULL;
        host = text + 1;
        host_len = close && (colon || !close[1]) ? (size_t)(close - host) : 0;
    } else {
        colon = strrchr(text, ':');
        host_len = colon ? (size_t)(colon - text) : strlen(text);
    }
    long port = 502;
    if (colon) {
        char *end;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
            port = -1;
    }
    if (host_len == 0 || host_len >= GW_HOST_MAX || port < 0) {
        schema_error(ctx, s, "tcp = \"%s\" is not host:port with a port 1..65535", text);
        return reject_tcp(bus, text);
    }
    memcpy(bus->host, host, host_len);
    bus->host[host_len] = '\0';
    bus->port = (int)port;
    if (!(bus->tcp = strdup(text)))
        return -ENOMEM;
    return 0;
}

static bool valid_tag_text(const char *t)
{
    if (!*t)
        return false;
    for (; *t; t++)
        if (*t == '\n' || *t == '\r' || *t == '"')
            return false;
    return true;
}

static int parse_tags(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_device_cfg *dev = target;
    if (!config_setting_is_group(s)) {
        schema_error(ctx, s, "tags must be a group { key = \"value\"; ... }");
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    dev->tags = calloc((size_t)n + 1, sizeof *dev->tags);
    if (!dev->tags)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *t = config_setting_get_elem(s, (unsigned)i);
        const char *key = config_setting_name(t), *value = config_setting_get_string(t);
        if (!value || !valid_tag_text(value)) {
            schema_error(ctx, t, "tag '%s' must be a non-empty string without quotes or line breaks", key);
            rc = -EINVAL;
            continue;
        }
        if (strcmp(key, "site") == 0 || strcmp(key, "device") == 0) {
            schema_error(ctx, t, "tag '%s' is set by greenwatch itself", key);
            rc = -EINVAL;
            continue;
        }
        struct gw_tag *tag = &dev->tags[dev->n_tags];
        if (!(tag->key = strdup(key)) || !(tag->value = strdup(value)))
            return -ENOMEM;
        dev->n_tags++;
    }
    return rc;
}

/* Numbers a kind plugin reads at init (rated power, design flow, ...). */
static int parse_params(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_device_cfg *dev = target;
    if (!config_setting_is_group(s)) {
        schema_error(ctx, s, "params must be a group { name = number; ... }");
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    if (!(dev->params = calloc((size_t)n + 1, sizeof *dev->params)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        double value;
        if (!schema_number(e, &value) || !isfinite(value)) {
            schema_error(ctx, e, "param '%s' must be a number", config_setting_name(e));
            rc = -EINVAL;
            continue;
        }
        struct gw_param *param = &dev->params[dev->n_params];
        if (!(param->key = strdup(config_setting_name(e))))
            return -ENOMEM;
        param->value = value;
        dev->n_params++;
    }
    return rc;
}

/* A device with `points` carries its own register map (and may carry holes
 * and limits, read by the profile parser from the same group). */
static int parse_inline_map(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_device_cfg *dev = target;
    dev->has_points = true;  /* even if broken: its problems are reported, "no map" would be wrong */
    return profile_parse(config_setting_parent(s), &dev->inline_map, ctx->diag);
}

/* Parse a list of groups into a fresh array of elements of size elem,
 * recording each element's line at line_offset. */
static int parse_list(const config_setting_t *s, const struct schema_key *keys, size_t n_keys,
                      size_t elem, size_t line_offset, void **array, size_t *count,
                      const char *what, struct schema_ctx *ctx)
{
    if (!config_setting_is_list(s)) {
        schema_error(ctx, s, "%s must be a list ( { ... }, { ... } )", config_setting_name(s));
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    char *items = calloc((size_t)n + 1, elem);
    if (!items)
        return -ENOMEM;
    *array = items;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *id = NULL;
        char label[96];
        if (config_setting_is_group(e) && config_setting_lookup_string(e, "id", &id))
            snprintf(label, sizeof label, "%s '%s'", what, id);
        else
            snprintf(label, sizeof label, "%s %d", what, i + 1);
        char *item = items + (size_t)i * elem;
        int r = schema_load(e, keys, n_keys, item, false, label, ctx);
        *(int *)(item + line_offset) = (int)config_setting_source_line(e);
        (*count)++;
        if (r == -ENOMEM)
            return r;
        if (r)
            rc = -EINVAL;
    }
    return rc;
}

static int parse_buses(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    return parse_list(s, bus_keys, N(bus_keys), sizeof *cfg->buses, offsetof(struct gw_bus_cfg, line),
                      (void **)&cfg->buses, &cfg->n_buses, "bus", ctx);
}

static int parse_devices(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    int rc = parse_list(s, device_keys, N(device_keys), sizeof *cfg->devices,
                        offsetof(struct gw_device_cfg, line), (void **)&cfg->devices,
                        &cfg->n_devices, "device", ctx);
    for (size_t i = 0; rc != -ENOMEM && i < cfg->n_devices; i++) {
        struct gw_device_cfg *dev = &cfg->devices[i];
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (!config_setting_is_group(e))
            continue;  /* reported */
        bool inline_map = config_setting_get_member(e, "points") != NULL;
        char label[96];
        if (dev->id)
            snprintf(label, sizeof label, "device '%s'", dev->id);
        else
            snprintf(label, sizeof label, "device %zu", i + 1);
        int r = inline_map ? schema_defaults(device_limit_keys, N(device_limit_keys), dev)
                           : schema_load(e, device_limit_keys, N(device_limit_keys), dev, true, label, ctx);
        if (r)
            rc = r == -ENOMEM ? r : -EINVAL;
    }
    return rc;
}

static int parse_rules(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    return rules_config_parse(s, target, ctx);  /* rules/rules_config.c */
}

static int parse_notify(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_config *cfg = target;
    return notify_config_parse(s, &cfg->notify, ctx);  /* notify_config.c */
}

/* ---- cross-checks ----------------------------------------------------- */

struct check {
    struct gw_config *cfg;
    struct gw_diag *diag;
    const char *file;
};

/* Relative paths are relative to the configuration file's directory, so a
 * configuration and its profiles move together. */
static int resolve_path(char **path, const char *config_file)
{
    if (!*path || (*path)[0] == '/')
        return 0;
    char *copy = strdup(config_file);
    if (!copy)
        return -ENOMEM;
    char *joined = NULL;
    int rc = asprintf(&joined, "%s/%s", dirname(copy), *path);
    free(copy);
    if (rc < 0)
        return -ENOMEM;
    free(*path);
    *path = joined;
    return 0;
}

static int resolve_sink_paths(struct gw_config *cfg)
{
    char **paths[] = {
        &cfg->mqtt.ca_file, &cfg->mqtt.cert_file, &cfg->mqtt.key_file, &cfg->mqtt.password_file,
        &cfg->influx.ca_file, &cfg->influx.password_file, &cfg->influx.token_file,
    };
    for (size_t i = 0; i < N(paths); i++)
        if (*paths[i] && strchr(*paths[i], '/') && resolve_path(paths[i], cfg->file))
            return -ENOMEM;
    return 0;
}

/* client_id and topic_prefix default to names built from the site id. */
static int mqtt_defaults(struct gw_config *cfg)
{
    struct gw_mqtt_cfg *m = &cfg->mqtt;
    const char *site = cfg->site.id ? cfg->site.id : "site";
    if (!m->present)
        return 0;
    if (!m->client_id && asprintf(&m->client_id, "greenwatch-%s", site) < 0)
        return -ENOMEM;
    if (!m->topic_prefix && asprintf(&m->topic_prefix, "greenwatch/%s", site) < 0)
        return -ENOMEM;
    return 0;
}

/* A wildcard in a topic we publish to makes the broker drop the connection. */
static void check_mqtt(struct check *c)
{
    const struct gw_mqtt_cfg *m = &c->cfg->mqtt;
    if (m->present && m->topic_prefix && strpbrk(m->topic_prefix, "+#"))
        diag_add(c->diag, c->file, 0, "mqtt: topic_prefix '%s' must not contain '+' or '#'", m->topic_prefix);
    if (m->present && c->cfg->site.id && !m->topic_prefix && strpbrk(c->cfg->site.id, "+#/"))
        diag_add(c->diag, c->file, 0, "site: id '%s' must not contain '+', '#' or '/'", c->cfg->site.id);
}

static void check_buses(struct check *c)
{
    for (size_t i = 0; i < c->cfg->n_buses; i++) {
        struct gw_bus_cfg *b = &c->cfg->buses[i];
        if (!b->id)
            continue;
        if (!b->tcp == !b->rtu)
            diag_add(c->diag, c->file, b->line, "bus '%s': give exactly one of tcp = \"host:port\" or rtu = \"/dev/...\"", b->id);
        for (size_t j = 0; j < i; j++) {
            const struct gw_bus_cfg *o = &c->cfg->buses[j];
            if (o->id && strcmp(o->id, b->id) == 0)
                diag_add(c->diag, c->file, b->line, "bus '%s' is defined twice (first at line %d)", b->id, o->line);
            else if (o->tcp && b->tcp && b->port && strcmp(o->host, b->host) == 0 && o->port == b->port)
                diag_add(c->diag, c->file, b->line, "bus '%s' uses the same endpoint as bus '%s': one connection per endpoint, give its devices to one bus", b->id, o->id);
            else if (o->rtu && b->rtu && strcmp(o->rtu, b->rtu) == 0)
                diag_add(c->diag, c->file, b->line, "bus '%s' uses the same serial line as bus '%s'", b->id, o->id);
        }
    }
}

static int find_bus(const struct gw_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_buses; i++)
        if (cfg->buses[i].id && strcmp(cfg->buses[i].id, id) == 0)
            return (int)i;
    return -1;
}

static const struct gw_profile *find_loaded_profile(const struct gw_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_profiles; i++)
        if (strcmp(cfg->profiles[i]->id, id) == 0)
            return cfg->profiles[i];
    return NULL;
}

static bool valid_profile_id(const char *id)
{
    if (!*id || *id == '.')
        return false;
    for (; *id; id++)
        if (*id == '/')
            return false;
    return true;
}

/* Load <profile_dir>/<id>.conf once; problems inside it are reported at
 * their own file and line, and a missing file at the device's line. */
static int load_profile(struct check *c, const struct gw_device_cfg *dev, const struct gw_profile **out)
{
    if ((*out = find_loaded_profile(c->cfg, dev->profile_id)))
        return 0;
    if (!valid_profile_id(dev->profile_id)) {
        diag_add(c->diag, c->file, dev->line, "device '%s': profile '%s' is not a valid profile id",
                 dev->id, dev->profile_id);
        return -EINVAL;
    }
    char *path = NULL;
    if (asprintf(&path, "%s/%s.conf", c->cfg->daemon.profile_dir, dev->profile_id) < 0)
        return -ENOMEM;
    if (access(path, R_OK) != 0) {
        diag_add(c->diag, c->file, dev->line, "device '%s': unknown profile '%s' (cannot read %s: %s)",
                 dev->id, dev->profile_id, path, strerror(errno));
        free(path);
        return -EINVAL;
    }
    struct gw_profile **grown = realloc(c->cfg->profiles, (c->cfg->n_profiles + 1) * sizeof *grown);
    struct gw_profile *prof = calloc(1, sizeof *prof);
    if (grown)
        c->cfg->profiles = grown;
    if (!grown || !prof) {
        free(prof);
        free(path);
        return -ENOMEM;
    }
    grown[c->cfg->n_profiles++] = prof;
    int rc = profile_load_file(path, prof, c->diag);
    free(path);
    /* Known by its file name from now on, even if broken or its id does
     * not match (reported): every device using it gets this one copy, so a
     * problem is reported once. */
    if (!prof->id || strcmp(prof->id, dev->profile_id) != 0) {
        free(prof->id);
        if (!(prof->id = strdup(dev->profile_id)))
            return -ENOMEM;
    }
    *out = prof;
    return rc;
}

/* Unit 0 is broadcast on a serial line and "whoever is there" on TCP; 248
 * to 255 are reserved.  Both are accepted only from a TCP endpoint that
 * serves this device alone. */
static void check_unit(struct check *c, const struct gw_device_cfg *dev, const struct gw_bus_cfg *bus)
{
    if (dev->unit < 0 || (dev->unit >= 1 && dev->unit <= 247))
        return;
    size_t on_bus = 0;
    for (size_t i = 0; i < c->cfg->n_devices; i++)
        on_bus += c->cfg->devices[i].bus_id && strcmp(c->cfg->devices[i].bus_id, bus->id) == 0;
    if (!bus->tcp || on_bus > 1)
        diag_add(c->diag, c->file, dev->line,
                 "device '%s': unit %d is allowed only for a device alone on a TCP endpoint (use 1..247)",
                 dev->id, dev->unit);
}

static int pick_limit(int device_value, int profile_value, int fallback)
{
    return device_value >= 0 ? device_value : profile_value >= 0 ? profile_value : fallback;
}

static void resolve_limits(struct check *c, struct gw_device_cfg *dev)
{
    const struct gw_profile *p = dev->profile;
    dev->limits = (struct gw_plan_limits){
        .max_registers = (uint16_t)pick_limit(dev->max_read_registers, p->max_read_registers, DEFAULT_MAX_READ_REGISTERS),
        .max_bits = (uint16_t)pick_limit(dev->max_read_bits, p->max_read_bits, DEFAULT_MAX_READ_BITS),
        .max_gap_registers = (uint16_t)pick_limit(dev->max_gap_registers, p->max_gap_registers, DEFAULT_MAX_GAP_REGISTERS),
        .max_gap_bits = (uint16_t)pick_limit(dev->max_gap_bits, p->max_gap_bits, DEFAULT_MAX_GAP_BITS),
    };
    for (size_t i = 0; i < p->n_points; i++) {
        const struct gw_point_def *pt = &p->points[i];
        unsigned limit = gw_table_is_bits(pt->table) ? dev->limits.max_bits : dev->limits.max_registers;
        if (pt->count > limit)
            diag_add(c->diag, c->file, dev->line,
                     "device '%s': point '%s' needs %u registers but the device reads at most %u at once",
                     dev->id, pt->name, pt->count, limit);
    }
}

/* Resolve the device's register map: a shared profile or its own points. */
static int resolve_map(struct check *c, struct gw_device_cfg *dev)
{
    if (dev->profile_id && dev->has_points) {
        diag_add(c->diag, c->file, dev->line, "device '%s': give either profile or points, not both", dev->id);
        return -EINVAL;
    }
    if (dev->has_points) {
        dev->profile = &dev->inline_map;
        return dev->inline_map.n_points ? 0 : -EINVAL;
    }
    if (!dev->profile_id) {
        diag_add(c->diag, c->file, dev->line,
                 "device '%s': no register map: give profile = \"...\" or a points list", dev->id);
        return -EINVAL;
    }
    int rc = load_profile(c, dev, &dev->profile);
    return rc == 0 && dev->profile->n_points ? 0 : rc ? rc : -EINVAL;
}

/* Ids become MQTT topic levels, InfluxDB tag values and file names: keep
 * them to characters that mean nothing special in any of those. */
static bool valid_id(const char *id)
{
    if (!*id)
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9') ||
              *id == '_' || *id == '-' || *id == '.'))
            return false;
    return true;
}

static int check_device(struct check *c, struct gw_device_cfg *dev, size_t index)
{
    if (!valid_id(dev->id))
        diag_add(c->diag, c->file, dev->line,
                 "device '%s': ids may hold letters, digits, '_', '-' and '.' only", dev->id);
    for (size_t j = 0; j < index; j++) {
        const struct gw_device_cfg *o = &c->cfg->devices[j];
        if (o->id && strcmp(o->id, dev->id) == 0)
            diag_add(c->diag, c->file, dev->line, "device '%s' is defined twice (first at line %d)", dev->id, o->line);
        else if (o->bus_id && strcmp(o->bus_id, dev->bus_id) == 0 && o->unit == dev->unit && dev->unit >= 0)
            diag_add(c->diag, c->file, dev->line, "device '%s': bus '%s' unit %d is already device '%s'",
                     dev->id, dev->bus_id, dev->unit, o->id);
    }
    int bus = find_bus(c->cfg, dev->bus_id);
    if (bus < 0)
        diag_add(c->diag, c->file, dev->line, "device '%s': unknown bus '%s'", dev->id, dev->bus_id);
    else {
        dev->bus_index = (size_t)bus;
        check_unit(c, dev, &c->cfg->buses[bus]);
    }
    int rc = resolve_map(c, dev);
    if (rc == 0)
        resolve_limits(c, dev);
    return rc == -ENOMEM ? rc : 0;
}

static int check_config(struct check *c)
{
    struct gw_daemon_cfg *d = &c->cfg->daemon;
    if (resolve_path(&d->plugin_dir, c->file) || resolve_path(&d->profile_dir, c->file) ||
        resolve_path(&d->spool_dir, c->file) || resolve_path(&d->state_file, c->file) || resolve_sink_paths(c->cfg) || mqtt_defaults(c->cfg))
        return -ENOMEM;
    check_buses(c);
    check_mqtt(c);
    for (size_t i = 0; i < c->cfg->n_devices; i++)
        if (c->cfg->devices[i].id && c->cfg->devices[i].bus_id &&
            check_device(c, &c->cfg->devices[i], i) == -ENOMEM)
            return -ENOMEM;
    rules_config_check(c->cfg, c->diag);
    return 0;
}

/* ---- public ----------------------------------------------------------- */

static int read_file(config_t *lc, const char *path, struct gw_diag *diag)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    config_set_include_dir(lc, dirname(copy));  /* @include is relative to the file */
    free(copy);
    if (config_read_file(lc, path))
        return 0;
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
        diag_add(diag, path, 0, "cannot read configuration: %s", strerror(errno ? errno : ENOENT));
    else
        diag_add(diag, config_error_file(lc) ? config_error_file(lc) : path, config_error_line(lc),
                 "%s", config_error_text(lc));
    return -EINVAL;
}

int config_load(const char *path, struct gw_config **out, struct gw_diag *diag)
{
    *out = NULL;
    config_t lc;
    config_init(&lc);
    size_t before = diag->n;
    int rc = read_file(&lc, path, diag);
    struct gw_config *cfg = rc ? NULL : calloc(1, sizeof *cfg);
    if (!rc && (!cfg || !(cfg->file = strdup(path))))
        rc = -ENOMEM;
    if (!rc) {
        struct schema_ctx ctx = { .diag = diag };
        rc = schema_defaults(daemon_keys, N(daemon_keys), &cfg->daemon);
        if (!rc)
            rc = schema_defaults(spool_keys, N(spool_keys), &cfg->spool);
        if (!rc)
            rc = report_defaults(&cfg->report);
        if (!rc)
            rc = schema_load(config_root_setting(&lc), root_keys, N(root_keys), cfg, false, "configuration", &ctx);
        if (rc != -ENOMEM) {
            struct check c = { .cfg = cfg, .diag = diag, .file = path };
            rc = check_config(&c);
        }
    }
    config_destroy(&lc);
    if (rc == 0 && diag->n > before)
        rc = -EINVAL;
    if (rc) {
        config_free(cfg);
        return rc;
    }
    log_set_level((enum gw_log_level)cfg->daemon.log_level);
    *out = cfg;
    return 0;
}

const struct gw_device_cfg *config_find_device(const struct gw_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_devices; i++)
        if (cfg->devices[i].id && strcmp(cfg->devices[i].id, id) == 0)
            return &cfg->devices[i];
    return NULL;
}

static void free_device(struct gw_device_cfg *dev)
{
    schema_free(device_keys, N(device_keys), dev);
    for (size_t t = 0; t < dev->n_tags; t++) {
        free((char *)dev->tags[t].key);
        free((char *)dev->tags[t].value);
    }
    free(dev->tags);
    for (size_t p = 0; p < dev->n_params; p++)
        free((char *)dev->params[p].key);
    free(dev->params);
    profile_free(&dev->inline_map);
}

void config_free(struct gw_config *cfg)
{
    if (!cfg)
        return;
    schema_free(site_keys, N(site_keys), &cfg->site);
    schema_free(daemon_keys, N(daemon_keys), &cfg->daemon);
    schema_free(mqtt_keys, N(mqtt_keys), &cfg->mqtt);
    schema_free(influx_keys, N(influx_keys), &cfg->influx);
    report_free(&cfg->report);
    for (size_t i = 0; i < cfg->n_buses; i++) {
        schema_free(bus_keys, N(bus_keys), &cfg->buses[i]);
        free(cfg->buses[i].tcp);
    }
    free(cfg->buses);
    for (size_t i = 0; i < cfg->n_devices; i++)
        free_device(&cfg->devices[i]);
    free(cfg->devices);
    for (size_t i = 0; i < cfg->n_profiles; i++) {
        profile_free(cfg->profiles[i]);
        free(cfg->profiles[i]);
    }
    free(cfg->profiles);
    rules_config_free(cfg->rules, cfg->n_rules);
    notify_config_free(&cfg->notify);
    free(cfg->file);
    free(cfg);
}
