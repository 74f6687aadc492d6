/*
 * The simulation as a whole: the building model, the devices that show
 * it, the buses they are reached on, the fault schedule and the clock
 * that ties simulated time to wall time.
 */
#ifndef GW_SIM_SIM_H
#define GW_SIM_SIM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "building.h"
#include "simdevice.h"
#include "faults.h"

struct truth;
struct gw_config;

/* An RTU line's character format, for wire-time pacing (rtu.c).  baud 0:
 * no pacing, answers as fast as a pty carries them. */
struct sim_wire {
    int baud;
    int data_bits, stop_bits;
    char parity;                /* 'N', 'E' or 'O' */
};

/* What a paced RTU line carried, for the control socket's `lines`. */
struct sim_line_stats {
    uint64_t requests;          /* frames with a good CRC, any unit id */
    uint64_t answers;           /* frames sent back */
    uint64_t early;             /* requests begun less than 3.5 characters after the
                                 * line's previous frame (taken as if the master had
                                 * waited) */
    double busy_s;              /* wire time of every frame and the silence after it */
};

struct sim_bus {
    char id[GW_NAME_MAX];
    char host[64];              /* TCP: address to listen on */
    int port;                   /* TCP port; 0 for an RTU bus */
    bool rtu;
    char link[PATH_MAX];        /* RTU: symlink made to the pty; "" none */
    struct sim_wire wire;       /* RTU: paced when wire.baud > 0 */
    struct sim_line_stats line; /* RTU: kept by rtu.c */
    struct sim_device *by_unit[256];
};

struct sim {
    struct building building;
    double dt;                  /* model step, simulated seconds */
    double speed;               /* simulated seconds per wall second */
    int64_t step;               /* steps taken */
    double wall0;               /* monotonic seconds when simulated time started */
    bool start_now;             /* started "now": simulated time t0 is the wall clock's
                                 * t0 (a whole second), so at speed 1 the simulated
                                 * clock reads what the wall clock reads */
    struct gw_profile **profiles;
    size_t n_profiles;
    struct sim_device *devices;
    size_t n_devices;
    struct sim_bus *buses;
    size_t n_buses;
    struct fault_schedule faults;
    struct truth *truth;        /* NULL: not recording */
    struct gw_config *daemon_cfg;   /* the daemon's configuration played, or NULL */
};

/* Seconds on the monotonic clock. */
double sim_monotonic(void);

/* Simulated instant corresponding to monotonic time mono. */
double sim_time_at(const struct sim *s, double mono);

/* Step the model until the next step would pass t.  Steps at most
 * max_steps (<= 0: no limit) so an accelerated clock cannot starve the
 * server; returns the steps taken. */
int64_t sim_advance_to(struct sim *s, double t, int64_t max_steps);

/* One model step, with faults started and ended on the way. */
void sim_step(struct sim *s);

struct sim_device *sim_find_device(struct sim *s, const char *id);

/* The image of d, up to date with the model. */
void sim_refresh_device(struct sim *s, struct sim_device *d);

void sim_free(struct sim *s);

#endif
