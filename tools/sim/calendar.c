#include "calendar.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

void calendar_at(double t, long utc_offset_s, struct sim_calendar *cal)
{
    double local = t + (double)utc_offset_s;
    double day = floor(local / 86400.0);
    time_t secs = (time_t)floor(local);
    struct tm tm;

    gmtime_r(&secs, &tm);
    cal->t = t;
    cal->year = tm.tm_year + 1900;
    cal->doy = tm.tm_yday;
    cal->wday = tm.tm_wday;
    cal->day_index = (int)day;
    cal->hour = (local - day * 86400.0) / 3600.0;
    cal->workday = tm.tm_wday >= 1 && tm.tm_wday <= 5;
}

/* 0 before a, 1 after b, a smooth S between. */
static double ramp(double x, double a, double b)
{
    if (x <= a)
        return 0.0;
    if (x >= b)
        return 1.0;
    return (1.0 - cos(M_PI * (x - a) / (b - a))) / 2.0;
}

double calendar_occupancy(const struct sim_calendar *cal)
{
    double h = cal->hour;

    if (!cal->workday)
        return 0.08 * ramp(h, 8.5, 10.0) * (1.0 - ramp(h, 16.0, 18.0));
    double arrive = ramp(h, 7.5, 9.0);
    double leave = 1.0 - 0.7 * ramp(h, 17.0, 18.0) - 0.27 * ramp(h, 18.0, 21.0);
    double lunch = 1.0 - 0.2 * ramp(h, 11.8, 12.1) * (1.0 - ramp(h, 12.7, 13.0));

    return arrive * leave * lunch;
}

bool calendar_plant_scheduled(const struct sim_calendar *cal)
{
    return cal->workday && cal->hour >= 7.5 && cal->hour < 18.0;
}

bool calendar_heating_scheduled(const struct sim_calendar *cal)
{
    return cal->workday && cal->hour >= 6.5 && cal->hour < 18.0;
}

double calendar_kitchen(const struct sim_calendar *cal)
{
    double h = cal->hour;

    if (!cal->workday)
        return 0.0;
    double lunch = ramp(h, 10.0, 11.0) * (1.0 - ramp(h, 13.0, 13.5));
    double dinner = 0.6 * ramp(h, 16.5, 17.0) * (1.0 - ramp(h, 18.5, 19.0));

    return lunch + dinner;
}

int calendar_parse(const char *text, long utc_offset_s, double *t)
{
    int y, mo, d, h, mi, s = 0;
    char tail;

    int n = sscanf(text, "%d-%d-%d %d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &tail);
    if (n != 5 && n != 6)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        s < 0 || s > 60)
        return -EINVAL;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };

    *t = (double)timegm(&tm) - (double)utc_offset_s;
    return 0;
}
