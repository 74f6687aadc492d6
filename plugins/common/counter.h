/*
 * Cumulative counters -- points with `counter = true` (kWh, m3, run hours,
 * starts) -- turned into per-interval deltas, `<name>_delta`, that sum
 * exactly over any period: across the register's rollover, across a
 * reset or a replacement of the meter, and without a glitch counted as
 * consumption.  See docs/kinds.md for the rules.
 *
 * Every kind uses it for whatever counters its device's map has.  State
 * is per device; the set owns its names.
 */
#ifndef GW_KIND_COUNTER_H
#define GW_KIND_COUNTER_H

#include <greenwatch/plugin.h>
#include <stdbool.h>

enum counter_outcome {
    COUNTER_NONE,       /* no delta: no reading yet, or the first one */
    COUNTER_DELTA,      /* a good delta, accrued over span_s */
    COUNTER_NOT_GOOD,   /* the reading, or the delta (over the cap), is not good */
    COUNTER_RESET,      /* went backwards: reset or replaced; no delta */
};

/* What one sample gave one counter. */
struct counter_result {
    enum counter_outcome outcome;
    double delta;
    double span_s;
    enum gw_quality q;
    bool read_good;     /* the counter's reading itself was good */
};

struct counter {
    const char *name, *unit;        /* borrowed from the device's map */
    char *delta_name, *reset_name;  /* "<name>_delta", "<name>_reset" */
    double wrap;                    /* scaled value where the register rolls over; 0: none */
    double cap_per_h;               /* most a delta may rise per hour; 0: no cap */
    bool has_base, has_pending;
    double base;                    /* the last accepted reading */
    double since_ref_s;             /* since the last accepted reading */
    double window_s;                /* since the poll before base's value first showed */
    double pending;                 /* a reading over the cap, kept to see if it stays */
    double pending_gap_s, since_pending_s;
    struct counter_result last;
};

struct counters {
    const struct gw_host *host;
    const char *device_id;          /* borrowed from the kind's state */
    struct counter *items;
    size_t n;
};

/* Prepares a counter for every point of dev marked as one.  The cap of
 * each comes from its unit and dev's params.  Returns 0 or -ENOMEM; free
 * with counters_free() in either case. */
int counters_init(struct counters *set, const struct gw_host *host, const struct gw_device_info *dev,
                  const char *device_id);

/* Adds `<name>_delta` and `<name>_reset` of every counter to s.  Returns 0
 * or -ENOMEM. */
int counters_derive(struct counters *set, struct gw_sample *s);

/* What this sample gave the counter called name; NULL if no such counter. */
const struct counter_result *counters_result(const struct counters *set, const char *name);

void counters_free(struct counters *set);

#endif
