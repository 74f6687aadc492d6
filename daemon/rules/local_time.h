/*
 * The site's local calendar, for schedules and daily baselines.  The
 * process's timezone (TZ) is the site's: local_time_set_zone() sets it
 * once, before any other thread reads the environment; conversions then go
 * through localtime_r and mktime, so daylight saving is handled by the
 * system's zone database.
 */
#ifndef GW_LOCAL_TIME_H
#define GW_LOCAL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Make zone (e.g. "Asia/Shanghai") the process's timezone.  Returns 0, or
 * -ENOENT if the zone database has no such zone (then UTC is used). */
int local_time_set_zone(const char *zone);

/* A local calendar day as a number: days since 1970-01-01. */
int local_day(int64_t t_ms);

/* 0 Sunday .. 6 Saturday. */
int local_weekday(int day);

/* Local midnight at the start of day, in ms since the epoch. */
int64_t local_midnight_ms(int day);

/* "YYYY-MM-DD" into buf (at least 11 bytes); returns buf. */
char *local_day_text(int day, char *buf, size_t len);

/* The day of text "YYYY-MM-DD", or -1. */
int local_day_parse(const char *text);

/* True if t lies in a window of start_min..end_min (minutes after local
 * midnight; end <= start: the window ends the next day) that starts on a
 * day in days (bit 1 << weekday), widened by grace_ms at both ends. */
bool local_in_window(int64_t t_ms, int days, int start_min, int end_min, int64_t grace_ms);

#endif
