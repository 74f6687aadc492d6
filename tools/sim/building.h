/*
 * The building: weather and occupancy drive the loads; the loads drive the
 * plant; every electrical sub-metering feed, water and gas supply is
 * integrated into the cumulative counters its meter shows.
 *
 * The model advances in fixed steps from a start instant, and every
 * random-looking wobble is a function of (seed, time): the same seed,
 * start and step give the same building, value for value.
 */
#ifndef GW_SIM_BUILDING_H
#define GW_SIM_BUILDING_H

#include <stdint.h>

#include "calendar.h"
#include "plant.h"
#include "weather.h"

/* Electricity feeds by sub-metering category (分项). */
enum feed {
    FEED_MAIN,              /* the incomer: everything below plus losses */
    FEED_LIGHTING,          /* 01A00 lighting and sockets */
    FEED_HVAC_PLANT,        /* 01B10 chillers, pumps, tower, boiler house */
    FEED_HVAC_TERMINAL,     /* 01B20 air handlers, fan coils */
    FEED_POWER,             /* 01C00 lifts, domestic water pumps */
    FEED_SPECIAL,           /* 01D00 data room, kitchen */
    FEED_COUNT
};
extern const char *const feed_names[FEED_COUNT];

enum water_feed { WATER_MAIN, WATER_TOWER, WATER_DOMESTIC, WATER_COUNT };
extern const char *const water_names[WATER_COUNT];

struct elec_feed {
    double power_kw, power_factor;
    double energy_kwh, reactive_kvarh;      /* integrated since the start */
    double demand_kw;                       /* mean of the last 15-minute block */
    double block_start_kwh;
    int64_t block;
};

struct volume_feed {
    double flow;        /* m3/h */
    double volume_m3;   /* integrated since the start */
};

struct building_params {
    uint64_t seed;
    long utc_offset_s;
    double floor_area_m2;
    struct climate climate;
    struct plant_params plant;
};

void building_params_default(struct building_params *p);

struct building {
    struct building_params p;
    double t0, t;               /* start and now, s since the epoch */
    struct sim_calendar cal;
    struct weather wx;
    double occupancy;           /* 0..1 */
    double cooling_kw, heating_kw;  /* demands on the plant */
    struct plant plant;
    struct elec_feed feeds[FEED_COUNT];
    struct volume_feed water[WATER_COUNT], gas;
    double voltage[3], frequency;
};

/* Start the building at instant t0 with everything at rest. */
void building_init(struct building *b, const struct building_params *p, double t0);

/* Advance to instant t_next (after b->t): values at the new instant,
 * counters integrated over the step with them. */
void building_step(struct building *b, double t_next);

/* Smooth noise in [-1, 1] for a named quantity (and instance) at the
 * building's current time: what the device layer uses for measurement
 * wobble. */
double building_noise(const struct building *b, const char *name, int instance, double period);

#endif
