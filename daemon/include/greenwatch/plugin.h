/*
 * greenwatch kind plugin ABI.
 *
 * A kind plugin (meter, chiller, boiler, pump, generic, ...) is a shared
 * object in the plugin directory named <kind>.so.  It exports one symbol,
 * GW_PLUGIN_SYMBOL, a const struct gw_plugin whose abi_version must equal
 * GW_PLUGIN_ABI_VERSION: the daemon refuses anything else, so a plugin built
 * against another version of this header is a clear error, not a crash.
 *
 * Life of a plugin, per device of its kind:
 *   init(host, device)   once at start (and after a reload); returns state
 *   derive(state, sample) on every sample, after decoding, on the device's
 *                         bus thread; appends derived points with host->add
 *   fini(state)          when the device goes away
 * A plugin never sees another device's state, so it needs no locking.
 */
#ifndef GREENWATCH_PLUGIN_H
#define GREENWATCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GW_PLUGIN_ABI_VERSION 1u
#define GW_PLUGIN_SYMBOL "greenwatch_plugin"

/* Quality of one point of one sample.  Only good values are ever published
 * as numbers. */
enum gw_quality {
    GW_QUALITY_GOOD = 0,
    GW_QUALITY_UNCERTAIN, /* sentinel, NaN/Inf, outside physical range */
    GW_QUALITY_BAD,       /* the read failed */
};

/* One point of a sample.  name and unit are borrowed: they belong to the
 * profile or to the plugin and outlive the sample.  text is set for string
 * points only and is owned by the sample. */
struct gw_reading {
    const char *name;
    const char *unit;
    double value;
    char *text;
    enum gw_quality quality;
};

/* One poll of one device. */
struct gw_sample {
    const char *device_id;
    /* Time of the read, ms since epoch: the device's own clock when its map
     * has a `timestamp` point, else the wall clock. */
    int64_t ts_ms;
    double elapsed_s;          /* since the previous sample of this device; 0 if first */
    struct gw_reading *readings;
    size_t n_readings;
    size_t cap_readings;
};

/* A device as a plugin sees it at init. */
struct gw_tag {
    const char *key;
    const char *value;
};

/* A point of the device's register map. */
struct gw_point_info {
    const char *name;
    const char *unit;
    int is_counter;            /* a cumulative counter (`counter = true` in the profile) */
    double wrap;               /* counters read from integer registers: the scaled value at
                                * which the register rolls over to 0 (2^bits x scale); 0 if none */
};

/* A numeric parameter from the device's `params` group, e.g. rated_kw. */
struct gw_param {
    const char *key;
    double value;
};

struct gw_device_info {
    const char *id;
    const char *kind;
    double interval_s;
    const struct gw_tag *tags;
    size_t n_tags;
    const struct gw_point_info *points;  /* the profile's points, in profile order */
    size_t n_points;
    const struct gw_param *params;
    size_t n_params;
};

enum gw_log_level { GW_LOG_ERROR = 0, GW_LOG_WARNING, GW_LOG_INFO, GW_LOG_DEBUG };

/* Services the daemon offers a plugin. */
struct gw_host {
    /* Append a derived point; name and unit must outlive the sample (static
     * strings or plugin state).  Returns 0 or -ENOMEM. */
    int (*add)(struct gw_sample *sample, const char *name, const char *unit,
               double value, enum gw_quality quality);
    /* The reading called name, or NULL. */
    const struct gw_reading *(*find)(const struct gw_sample *sample, const char *name);
    void (*log)(enum gw_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
};

struct gw_plugin {
    uint32_t abi_version;      /* GW_PLUGIN_ABI_VERSION */
    const char *kind;          /* must equal the file's base name */
    const char *description;
    /* Returns 0 and sets *state (may be NULL), or a negative errno. */
    int (*init)(const struct gw_host *host, const struct gw_device_info *device,
                void **state);
    /* Returns 0 or a negative errno; on error the sample is still published
     * with whatever was added. */
    int (*derive)(void *state, struct gw_sample *sample);
    void (*fini)(void *state);
    /* The kind's default maintenance rules in the configuration's `rules`
     * syntax, without `device` keys: the bare list "( ... )", or
     * "rules = ( ... ); derives = [ ... ];"; NULL if none.  A default
     * applies to a device only if it has every point the rule reads (point,
     * expr, suppress_when): in its map, the `_delta`/`_reset` of one of its
     * counters, or one that `derives` lists as "name(input, ...)" with every
     * input one the device has (in its map or derived in turn); a bare
     * "name" there counts on every device, and without a `derives` list
     * any name does (docs/kinds.md). */
    const char *default_rules;
};

#ifdef __cplusplus
}
#endif
#endif
