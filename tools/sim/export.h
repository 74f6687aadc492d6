/*
 * The daemon's side of what the simulator serves: `buses` and `devices`
 * in the daemon's configuration syntax, so a benchmark can poll a fleet
 * of a thousand simulated devices without writing them out by hand.
 */
#ifndef GW_SIM_EXPORT_H
#define GW_SIM_EXPORT_H

#include <stdio.h>

#include "sim.h"

/* Write buses and devices for every TCP bus of s, polled every
 * interval_s seconds. */
void export_daemon_config(const struct sim *s, double interval_s, FILE *out);

#endif
