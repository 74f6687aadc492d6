/*
 * What every kind plugin shares: its device's params and points, a
 * sample's inputs with their quality, derived points that carry the worst
 * quality of their inputs, and whether the equipment runs.
 *
 * Compiled into each kind's shared object (plugins/CMakeLists.txt); it
 * holds no state of its own, so one device's calls never touch another's.
 */
#ifndef GW_KIND_H
#define GW_KIND_H

#include <greenwatch/plugin.h>
#include <stdbool.h>

/* One input of a derivation.  present is false when the sample has no
 * reading of that name (the device's map lacks the point). */
struct kind_in {
    double v;
    enum gw_quality q;
    bool present;
};

/* Whether equipment runs; UNKNOWN when what decides it is not good. */
enum kind_state { KIND_UNKNOWN = -1, KIND_OFF = 0, KIND_ON = 1 };

/* What decides that equipment runs, chosen once at init. */
struct kind_run {
    const char *point;      /* a status point in the map (e.g. "running"), or NULL */
    const char *power;      /* else power above threshold_kw decides, or NULL: nothing does */
    double threshold_kw;
};

/* The running state of one sample and the quality of what decided it. */
struct kind_run_state {
    enum kind_state state;
    enum gw_quality q;
};

/* params.key of the device, or def when it has none. */
double kind_param(const struct gw_device_info *dev, const char *key, double def);

/* The point called name in the device's map, or NULL. */
const struct gw_point_info *kind_point(const struct gw_device_info *dev, const char *name);

static inline bool kind_has_point(const struct gw_device_info *dev, const char *name)
{
    return kind_point(dev, name) != NULL;
}

/* The reading called name.  A reading that is good but not finite counts
 * as uncertain: no number is ever derived from it as good. */
struct kind_in kind_read(const struct gw_host *host, const struct gw_sample *s, const char *name);

static inline enum gw_quality kind_worse(enum gw_quality a, enum gw_quality b)
{
    return a > b ? a : b;
}

/* Appends a derived point.  A good point whose value is not finite is
 * added as uncertain.  name and unit must outlive the sample (static or
 * plugin state).  Returns 0 or -ENOMEM. */
int kind_add(const struct gw_host *host, struct gw_sample *s, const char *name, const char *unit,
             double value, enum gw_quality q);

/* The running threshold: params.running_kw, else 5 % of params.rated_kw,
 * else 1 kW. */
double kind_running_kw(const struct gw_device_info *dev);

/* What decides running for this device: the status point if the map has
 * one, else its power point (if it has power_point) above the threshold. */
struct kind_run kind_run_source(const struct gw_device_info *dev, const char *status_point,
                                const char *power_point);

/* Whether the equipment runs in this sample. */
struct kind_run_state kind_running(const struct gw_host *host, const struct gw_sample *s,
                                   const struct kind_run *src);

/* A copy of a followed by b, malloc'd; NULL on ENOMEM. */
char *kind_concat(const char *a, const char *b);

#endif
