/*
 * A device at run time: its plan of reads, what it has learned about its
 * map (illegal addresses), its plugin state and its statistics; and one
 * poll of it: plan -> reads -> decode -> derive.
 *
 * The reads go through a reader, so the poll logic (including the
 * isolation of illegal addresses) does not depend on how bytes travel.
 */
#ifndef GW_DEVICE_H
#define GW_DEVICE_H

#include <greenwatch/plugin.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "config.h"
#include "planner.h"

enum gw_read_status {
    GW_READ_OK = 0,
    GW_READ_ILLEGAL_ADDRESS,   /* exception 2: this range is not served */
    GW_READ_EXCEPTION,         /* another exception: the device is there */
    GW_READ_COMM_FAILED,       /* no valid answer: timeout, link down */
};

struct gw_reader {
    /* Read count registers (into regs) or bits (into bits, one byte each)
     * of table from address. */
    enum gw_read_status (*read)(void *io, enum gw_table table, uint16_t address, uint16_t count,
                                uint16_t *regs, uint8_t *bits);
    void *io;
};

/* Written by the bus thread, read by the main thread for health. */
struct gw_device_stats {
    _Atomic uint64_t polls, failed_polls, missed_polls, requests;
    _Atomic int64_t last_latency_ns;
    atomic_bool online;          /* the last poll got an answer */
};

struct gw_device {
    const struct gw_device_cfg *cfg;
    const struct gw_plugin *plugin;
    void *plugin_state;
    struct gw_point_info *point_info;  /* what the plugin sees of the map */
    struct gw_plan plan;
    struct gw_plan_limits limits;  /* the configured ones, narrowed by what was learned */
    bool *illegal;                 /* per profile point: answered exception 2 alone */
    struct gw_hole *holes;         /* the profile's, then learned ones */
    size_t n_holes, cap_holes;
    bool replan;
    uint64_t polls_since_learning; /* since it first refused something; 0: nothing learned */
    /* Time: a sample carries the device's clock when its map has one
     * (`timestamp = true`) and the reading is usable, else the previous
     * sample's time moved on by the wall clock (device.c, stamp). */
    int clock_point;               /* index of the map's timestamp point; -1 none */
    int clock_verdict;             /* how the last sample was stamped, to log changes only */
    int64_t last_ts_ms;            /* the previous sample's time; 0 none yet */
    int64_t last_wall_ms;          /* the wall-clock time of the previous sample's read */
    /* Scheduling, owned by the bus thread. */
    int64_t due_ns, interval_ns;
    unsigned comm_failures;
    int64_t next_probe_ns;         /* while failing, real reads only from then */
    struct gw_device_stats stats;
};

/* Prepare d for cfg; calls the plugin's init.  Returns 0, -ENOMEM, or the
 * plugin's error (logged). */
int device_init(struct gw_device *d, const struct gw_device_cfg *cfg, const struct gw_plugin *plugin);

/*
 * Poll d once through reader into out (initialised here; the caller frees
 * it with sample_free).  Every profile point gets a reading, bad where the
 * read failed; the sample is stamped (the device's clock point, if good
 * and between 2000 and 2100, gives ts_ms, and elapsed_s follows from it);
 * the plugin then adds derived points.  Returns GW_READ_OK if the device
 * answered (even partly), GW_READ_COMM_FAILED if it did not, or -ENOMEM.
 */
int device_poll(struct gw_device *d, const struct gw_reader *reader, struct gw_sample *out);

/* A sample with every point bad, for a poll that could not be attempted
 * (link down, device backing off).  Returns 0 or -ENOMEM. */
int device_bad_sample(struct gw_device *d, struct gw_sample *out);

/* Reads one poll takes, for statistics and benchmarks. */
size_t device_plan_reads(const struct gw_device *d);

void device_free(struct gw_device *d);

#endif
