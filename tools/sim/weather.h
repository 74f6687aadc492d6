/*
 * Outdoor weather: a seasonal and a daily temperature cycle, humidity
 * moving against temperature, sunshine with passing clouds, and the
 * psychrometrics the plant needs (dew point, wet bulb, enthalpy).
 */
#ifndef GW_SIM_WEATHER_H
#define GW_SIM_WEATHER_H

#include <stdint.h>

#include "calendar.h"

struct climate {
    double annual_mean;         /* degC */
    double annual_amplitude;    /* K, half the summer-winter swing */
    int warmest_doy;            /* day of year of the warmest days */
    double daily_amplitude;     /* K, half the day-night swing */
    double rh_mean;             /* % */
    double solar_peak;          /* W/m2 at noon on a clear summer day */
};

/* Shanghai-like defaults. */
extern const struct climate climate_default;

struct weather {
    double temp;        /* degC */
    double daily_mean;  /* degC, the day's mean without weather noise */
    double rh;          /* % */
    double dew_point;   /* degC */
    double wet_bulb;    /* degC */
    double enthalpy;    /* kJ/kg dry air */
    double solar;       /* W/m2 on a horizontal surface */
};

void weather_at(const struct climate *c, uint64_t seed, const struct sim_calendar *cal,
                struct weather *w);

/* Psychrometrics at sea level, from temperature (degC) and RH (%). */
double weather_dew_point(double temp, double rh);
double weather_wet_bulb(double temp, double rh);
double weather_enthalpy(double temp, double rh);

#endif
