/*
 * 15-minute demand: the average kW of each fixed quarter hour of local
 * time, from the energy counter's deltas, and the day's peak of it.
 *
 * Each good delta is spread evenly over its interval, so an interval
 * across a quarter's boundary goes to both quarters by time.  A quarter is
 * closed by the first sample at or after its end; its demand is the
 * energy measured in it over the time measured, good when at least 80 %
 * of the quarter was measured, else uncertain.
 *
 * The baseload is the level the meter's load rests at when the building
 * is idle: of each local day's good quarters the lowest quarter of them
 * (the 25th percentile: the night, in an office), and of the last seven
 * days' values (today's so far included) the median.  A few odd quarters
 * (a counter that stood still for an hour) or one odd day do not set it.
 */
#ifndef GW_METER_DEMAND_H
#define GW_METER_DEMAND_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include <stdint.h>

#define DEMAND_QUARTER_MS 900000LL
#define DEMAND_MIN_COVERAGE 0.8
/* An interval longer than this (and than 1.5 poll intervals) is a gap in
 * the readings: its energy is known but not when it was used, so it is
 * left out of demand rather than spread. */
#define DEMAND_MAX_SPREAD_S 180.0
#define DEMAND_BASELOAD_DAYS 7

struct demand {
    int64_t offset_ms;          /* local time = UTC + offset */
    double max_spread_s;
    bool started;
    int64_t quarter;            /* the open quarter: local ms / 15 min */
    int64_t done_ms;            /* local time up to which intervals are accounted */
    double kwh, covered_ms;     /* measured in the open quarter */
    bool has_day, day_complete, has_peak;
    int64_t day, last_closed;
    double peak;
    /* Today's good quarters, and each local day's baseload value, by
     * day % DEMAND_BASELOAD_DAYS. */
    double today[96];
    int n_today;
    int64_t today_day;
    bool has_low[DEMAND_BASELOAD_DAYS];
    int64_t low_day[DEMAND_BASELOAD_DAYS];
    double day_low[DEMAND_BASELOAD_DAYS];
};

/* What closing a quarter gave, if one closed in this sample. */
struct demand_close {
    bool closed;
    double kw;
    enum gw_quality q;
    double peak_kw;             /* the day's highest good quarter so far (NaN: none) */
    enum gw_quality peak_q;     /* good only if every quarter of the day so far was */
    double baseload_kw;         /* the baseload (NaN: none known yet) */
};

void demand_init(struct demand *d, double utc_offset_h, double interval_s);

/*
 * Accounts the interval ending at ts_ms (UTC), span_s long, in which kwh
 * were used if measured (else nothing is known of it).  Fills *out when a
 * quarter closed (the last one, if several did).
 */
void demand_feed(struct demand *d, int64_t ts_ms, double span_s, double kwh, bool measured,
                 struct demand_close *out);

#endif
