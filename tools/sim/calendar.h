/*
 * Simulated time as the building lives it: local date and hour, workdays,
 * the occupancy profile and the plant's operating schedule.
 */
#ifndef GW_SIM_CALENDAR_H
#define GW_SIM_CALENDAR_H

#include <stdbool.h>

struct sim_calendar {
    double t;           /* seconds since the Unix epoch, UTC */
    int year, doy;      /* doy 0..365 */
    int wday;           /* 0 Sunday .. 6 Saturday */
    int day_index;      /* local days since the epoch, e.g. for lead/lag rotation */
    double hour;        /* local hour of day, 0 <= hour < 24 */
    bool workday;       /* Monday to Friday */
};

/* Fill cal for instant t at a fixed UTC offset (seconds east of UTC). */
void calendar_at(double t, long utc_offset_s, struct sim_calendar *cal);

/* Fraction of the building's people present, 0..1: workdays 07:30-18:00
 * with a lunch dip and some overtime, a few on weekends. */
double calendar_occupancy(const struct sim_calendar *cal);

/* Whether the engineering department runs the HVAC plant now: workdays
 * 07:30-18:00. */
bool calendar_plant_scheduled(const struct sim_calendar *cal);

/* Heating starts an hour earlier to warm the building before people come. */
bool calendar_heating_scheduled(const struct sim_calendar *cal);

/* 0..1: the kitchen's load around lunch and dinner on workdays. */
double calendar_kitchen(const struct sim_calendar *cal);

/* Parse "YYYY-MM-DD HH:MM[:SS]" as local time at utc_offset_s into *t.
 * Returns 0 or -EINVAL. */
int calendar_parse(const char *text, long utc_offset_s, double *t);

#endif
