#include "local_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool zone_exists(const char *zone)
{
    if (strcmp(zone, "UTC") == 0 || strcmp(zone, "GMT") == 0)
        return true;
    if (zone[0] == '/' || strstr(zone, ".."))
        return access(zone, R_OK) == 0;
    const char *dir = getenv("TZDIR") ? getenv("TZDIR") : "/usr/share/zoneinfo";
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, zone);
    return access(path, R_OK) == 0;
}

int local_time_set_zone(const char *zone)
{
    if (!zone || !*zone)
        zone = "UTC";
    bool exists = zone_exists(zone);
    const char *tz = exists ? zone : "UTC";
    const char *current = getenv("TZ");
    /* Setting the environment is not thread-safe: leave it alone when it
     * already says the same (a reload). */
    if (!current || strcmp(current, tz) != 0)
        setenv("TZ", tz, 1);
    tzset();
    return exists ? 0 : -ENOENT;
}

/* Days from the civil date (proleptic Gregorian), after H. Hinnant. */
static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

int local_day(int64_t t_ms)
{
    time_t t = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    return days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int local_weekday(int day)
{
    int w = (day + 4) % 7;  /* 1970-01-01 was a Thursday */
    return w < 0 ? w + 7 : w;
}

/* Local time minutes after the midnight that starts day. */
static int64_t local_at_ms(int day, int minutes)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_min = minutes, .tm_isdst = -1 };
    return (int64_t)mktime(&tm) * 1000;
}

int64_t local_midnight_ms(int day)
{
    return local_at_ms(day, 0);
}

char *local_day_text(int day, char *buf, size_t len)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
    return buf;
}

int local_day_parse(const char *text)
{
    int y, m, d, used = 0;
    if (!text || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || text[used] || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    return days_from_civil(y, m, d);
}

bool local_in_window(int64_t t_ms, int days, int start_min, int end_min, int64_t grace_ms)
{
    int today = local_day(t_ms);
    int span = end_min > start_min ? end_min - start_min : end_min + 1440 - start_min;
    for (int day = today - 2; day <= today + 1; day++) {  /* grace is at most a day */
        if (!(days & (1 << local_weekday(day))))
            continue;
        int64_t start = local_at_ms(day, start_min), end = local_at_ms(day, start_min + span);
        if (t_ms >= start - grace_ms && t_ms < end + grace_ms)
            return true;
    }
    return false;
}
