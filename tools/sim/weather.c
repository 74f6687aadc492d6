#include "weather.h"

#include <math.h>

#include "noise.h"

const struct climate climate_default = {
    .annual_mean = 17.0, .annual_amplitude = 11.5, .warmest_doy = 205,
    .daily_amplitude = 4.0, .rh_mean = 74.0, .solar_peak = 850.0,
};

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Magnus formula. */
double weather_dew_point(double temp, double rh)
{
    double g = log(clamp(rh, 1.0, 100.0) / 100.0) + 17.62 * temp / (243.12 + temp);

    return 243.12 * g / (17.62 - g);
}

/* Stull (2011), good to 0.3 K for ordinary conditions. */
double weather_wet_bulb(double temp, double rh)
{
    rh = clamp(rh, 5.0, 99.0);
    return temp * atan(0.151977 * sqrt(rh + 8.313659)) + atan(temp + rh) -
           atan(rh - 1.676331) + 0.00391838 * pow(rh, 1.5) * atan(0.023101 * rh) - 4.686035;
}

double weather_enthalpy(double temp, double rh)
{
    double pws = 0.61094 * exp(17.625 * temp / (temp + 243.04));   /* kPa */
    double pv = clamp(rh, 0.0, 100.0) / 100.0 * pws;
    double w = 0.622 * pv / (101.325 - pv);

    return 1.006 * temp + w * (2501.0 + 1.86 * temp);
}

static double season(const struct climate *c, int doy)
{
    return cos(2.0 * M_PI * (doy - c->warmest_doy) / 365.0);
}

/* Sun above the horizon between sunrise and sunset (longer days in
 * summer), scaled by the season and by clouds. */
static double solar(const struct climate *c, uint64_t seed, const struct sim_calendar *cal)
{
    double summer = cos(2.0 * M_PI * (cal->doy - 172) / 365.0);
    double half_day = 6.0 + 1.2 * summer;
    double from_noon = cal->hour - 12.0;

    if (fabs(from_noon) >= half_day)
        return 0.0;
    double height = cos(M_PI / 2.0 * from_noon / half_day);
    double clouds = 0.65 + 0.35 * noise_smooth(seed, noise_key("clouds"), cal->t, 2700.0);

    return c->solar_peak * (0.7 + 0.3 * summer) * height * clouds;
}

void weather_at(const struct climate *c, uint64_t seed, const struct sim_calendar *cal,
                struct weather *w)
{
    double daily = cos(2.0 * M_PI * (cal->hour - 15.0) / 24.0);
    double spell = noise_smooth(seed, noise_key("weather-spell"), cal->t, 3.0 * 86400.0);
    double gust = noise_smooth(seed, noise_key("weather-short"), cal->t, 1800.0);

    w->daily_mean = c->annual_mean + c->annual_amplitude * season(c, cal->doy);
    w->temp = w->daily_mean + c->daily_amplitude * daily + 2.5 * spell + 0.3 * gust;
    w->rh = clamp(c->rh_mean - 14.0 * daily - 8.0 * spell +
                  6.0 * noise_smooth(seed, noise_key("humidity"), cal->t, 5400.0), 25.0, 99.0);
    w->dew_point = weather_dew_point(w->temp, w->rh);
    w->wet_bulb = weather_wet_bulb(w->temp, w->rh);
    w->enthalpy = weather_enthalpy(w->temp, w->rh);
    w->solar = solar(c, seed, cal);
}
