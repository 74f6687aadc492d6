/*
 * The simulator's configuration (libconfig), described in
 * docs/simulator.md.  The devices to play normally come from the daemon's
 * own configuration (`daemon_config`), read with the daemon's loader, so
 * the simulator serves exactly what the daemon polls; the simulator's file
 * adds the role each device plays, the physics' parameters, and may add
 * devices of its own and a fleet of copies for benchmarks.
 */
#ifndef GW_SIM_SIMCONF_H
#define GW_SIM_SIMCONF_H

#include <limits.h>
#include <stdbool.h>

#include "sim.h"

/* Settings given on the command line, which win over the file's.
 * NULL strings and has_ flags false leave the file's. */
struct sim_overrides {
    bool has_seed, has_speed;
    long long seed;
    double speed;
    const char *start, *truth, *scenario, *control;
};

/* Paths the caller opens, resolved against the file's directory. */
struct sim_options {
    char truth[PATH_MAX];       /* "" none */
    char scenario[PATH_MAX];    /* "" none */
    char control[PATH_MAX];     /* "" none */
};

/*
 * Load path and build the simulation in *s (zeroed first), starting its
 * clock at wall_now (seconds since the epoch) unless a start is given;
 * opens the truth file and schedules the scenario's faults.  Every
 * problem is printed to stderr as FILE:LINE: message.  Returns 0, -EINVAL
 * or -ENOMEM; sim_free(s) in every case.
 */
int simconf_load(const char *path, const struct sim_overrides *ov, double wall_now,
                 struct sim *s, struct sim_options *o);

#endif
