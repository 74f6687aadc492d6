/*
 * greenwatch report: monthly energy, water and plant figures for a period
 * of calendar months in the site's time zone (docs/reports.md).
 *
 * Three steps, each in its own file so that the arithmetic is tested
 * without a database:
 *   report_query.c  InfluxQL over HTTP -> struct report_input (raw sums,
 *                   maxima, counts, buckets, gaps per device and month)
 *   report_model.c  struct report_input -> struct report (every figure)
 *   report_html.c, report_csv.c, report_json.c   struct report -> text
 *
 * Conventions: functions return 0 or a negative errno; an unknown figure
 * is NAN (no data, or nothing to divide by) and is rendered as empty.
 */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct gw_config;

enum report_energy { REPORT_ELECTRICITY, REPORT_WATER, REPORT_GAS, REPORT_HEAT, REPORT_ENERGY_COUNT };

/* What the report uses a device for. */
enum report_role {
    REPORT_ROLE_OTHER,     /* completeness only */
    REPORT_ROLE_METER,     /* kind meter: energy_kwh_delta / volume_m3_delta, demand_kw */
    REPORT_ROLE_CHILLER,   /* cooling_kw and power_kw while it has a COP */
    REPORT_ROLE_BOILER,    /* heat_kw and gas_flow while it has an efficiency */
};

/* Sub-metering categories (分项) of electricity, sub-codes rolled up;
 * REPORT_CAT_OTHER holds sub-meters without one of these codes. */
enum report_category { REPORT_CAT_A, REPORT_CAT_B, REPORT_CAT_C, REPORT_CAT_D, REPORT_CAT_OTHER, REPORT_CAT_COUNT };

struct report_category_info {
    const char *code;      /* "01A00" */
    const char *zh, *en;   /* "照明插座", "Lighting & sockets" */
};
extern const struct report_category_info report_categories[REPORT_CAT_COUNT];

struct report_energy_info {
    const char *name;      /* the `energy` tag's value: "electricity" */
    const char *zh;        /* "电" */
    const char *unit;      /* "kWh" or "m3" */
    const char *field;     /* the delta summed: "energy_kwh_delta" */
    const char *pm_unit;   /* Portfolio Manager's unit name */
};
extern const struct report_energy_info report_energies[REPORT_ENERGY_COUNT];

/* One device, as the report sees it; strings are borrowed. */
struct report_device {
    const char *id;
    const char *kind;          /* the InfluxDB measurement */
    const char *category;      /* the 分项 tag, or NULL */
    int energy;                /* enum report_energy, or -1 */
    int role;                  /* enum report_role */
    bool main_meter;           /* a whole-building meter of its energy */
    double interval_s;
    const char *count_field;   /* counted for completeness; NULL: not counted */
    bool outdoor_temp;         /* has an outdoor_temp point */
    double gas_lhv_kwh_m3;     /* boilers: the kind's heating value */
};

struct report_setup {
    const char *site_id, *site_name, *timezone;
    double floor_area_m2;
    struct report_device *devices;
    size_t n_devices;
    struct {
        const char *name, *source;
        int year;
        double kg[REPORT_ENERGY_COUNT];   /* kg CO2e per unit; < 0: not in the set */
    } factors;
    int occupied_from_min, occupied_to_min;   /* minutes after local midnight, Mon-Fri */
    double gas_kwh_per_m3;
    double anomaly_pct;
    double estimated_below_pct;
    int gap_intervals;
    int bucket_s;              /* baseload buckets, seconds (divides an hour) */
};

/* ---- calendar months --------------------------------------------------- */

struct report_month {
    int year, month;           /* month 1..12 */
    int64_t start, end;        /* [start, end), seconds since the epoch */
};

/* Parse "YYYY-MM".  Returns 0 or -EINVAL. */
int report_parse_month(const char *text, int *year, int *month);

/*
 * The calendar months from (y0, m0) to (y1, m1) inclusive, bounded by
 * local midnight of each first day in time zone tz (an IANA name).
 * Returns 0 and *out (malloc'd, *n entries), -EINVAL for an empty or
 * over-long period or an unknown zone, or -ENOMEM.
 */
int report_months(const char *tz, int y0, int m0, int y1, int m1, struct report_month **out, size_t *n);

/* ---- raw inputs (report_query.c fills them) --------------------------- */

struct report_gap {
    int64_t from_ms, to_ms;    /* the last sample before, the first after (or the period's edge) */
};

struct report_dev_data {
    double use;                /* sum of the energy's delta field; NAN: no rows */
    double peak_kw;            /* max demand_kw; NAN: none */
    int64_t peak_ms;
    double samples;            /* count of count_field */
    double cooling_sum, power_sum;   /* chillers: sums of kW over samples with a COP */
    double heat_sum, gas_sum;        /* boilers: sums of kW and m3/h over samples with an efficiency */
    struct report_gap *gaps;   /* owned */
    size_t n_gaps;
};

struct report_bucket {
    int64_t ms;                /* start of a bucket_s bucket */
    double kwh;                /* site electricity in it */
};

struct report_day {
    int64_t ms;                /* local midnight */
    double mean_c;             /* daily mean outdoor temperature */
};

struct report_month_data {
    struct report_month m;
    bool history;              /* before the period: only `use` is filled (anomalies) */
    struct report_dev_data *dev;     /* n_devices entries */
    struct report_bucket *buckets;
    size_t n_buckets;
    struct report_day *days;
    size_t n_days;
};

/* Months [0, first) are history (the 12 before the period); months
 * [first, n) are the period. */
struct report_input {
    struct report_month_data *months;
    size_t n, first;
};

/* Empty input for months (copied), every figure NAN.  Returns 0 or -ENOMEM. */
int report_input_init(struct report_input *in, const struct report_month *months, size_t n_months,
                      size_t first, size_t n_devices);
void report_input_free(struct report_input *in, size_t n_devices);

/*
 * Gaps of one device in [from_ms, to_ms): from its first and last sample
 * (first_ms < 0: no sample at all) and the sample-to-sample intervals
 * longer than gap_ms (end time and length of each, from elapsed()).
 * Appends to *gaps.  Returns 0 or -ENOMEM.
 */
int report_gaps_build(int64_t from_ms, int64_t to_ms, int64_t first_ms, int64_t last_ms,
                      const int64_t *end_ms, const int64_t *len_ms, size_t n, int64_t gap_ms,
                      struct report_gap **gaps, size_t *n_gaps);

/* ---- figures (report_model.c) ----------------------------------------- */

struct report_anomaly {
    size_t month;              /* index into report.months */
    const char *scope;         /* "meter", "category" or "energy" */
    const char *what;          /* a device id, category code or energy name */
    const char *unit;
    bool year_on_year;         /* else month-on-month */
    double before, now;        /* daily averages */
    double change_pct;
};

/* One device's figures in a month or the period. */
struct report_dev_figures {
    double use;                /* kWh or m3 (meters); NAN: no data or not a meter */
    double samples, expected;  /* for completeness */
    double completeness;       /* samples / expected, at most 1; NAN: not counted */
    double peak_kw;            /* highest 15-minute demand; NAN: none */
    int64_t peak_ms;
    double cooling_sum, power_sum, cop, kw_per_ton;   /* chillers */
    double heat_sum, fuel_kwh_sum, efficiency;        /* boilers (fuel: sum of m3/h x LHV) */
};

/* Figures of one month, or of the whole period. */
struct report_figures {
    double days;               /* length in days (a DST month is an hour short or long) */
    struct report_dev_figures *dev;           /* n_devices */
    double category_kwh[REPORT_CAT_COUNT];    /* electricity sub-meters by 分项 */
    double energy_use[REPORT_ENERGY_COUNT];   /* main meters, else all meters of the energy */
    double submetered[REPORT_ENERGY_COUNT];   /* sum of the sub-meters, where there is a main meter */
    double gap_pct[REPORT_ENERGY_COUNT];      /* (main - sub) / main x 100 */
    double co2e_kg[REPORT_ENERGY_COUNT];
    double co2e_total_kg;
    double site_kwh;           /* electricity + gas x gas_kwh_per_m3 + heat */
    double eui, eui_annual;    /* kWh/m2 in the month or period; scaled to a year */
    double water_m3_per_m2, water_m3_per_m2_annual;
    double peak_kw;            /* the site's highest 15-minute demand */
    int64_t peak_ms;
    const char *peak_device;
    double out_of_hours_kwh, bucket_kwh, baseload_share;
    double cooling_sum, chiller_power_sum, cop, kw_per_ton;
    double boiler_heat_sum, boiler_fuel_kwh_sum, boiler_efficiency;
    double hdd, cdd;           /* HDD18, CDD26, K*d */
    int temp_days;             /* days with a mean outdoor temperature */
};

struct report {
    const struct report_setup *setup;     /* borrowed */
    struct report_month *months;          /* the period's months */
    size_t n_months;
    struct report_figures *monthly;       /* n_months */
    struct report_figures total;
    struct report_anomaly *anomalies;
    size_t n_anomalies;
    struct report_gap **gaps;             /* per device: its gaps over the period (copies) */
    size_t *n_gaps;
    bool has_main[REPORT_ENERGY_COUNT];
    bool any_chiller, any_boiler, any_weather;
    char generated[32];                   /* local time of the report, "YYYY-MM-DD HH:MM" */
};

/* Compute every figure.  Returns 0 and *out (report_free it) or -ENOMEM. */
int report_compute(const struct report_setup *setup, const struct report_input *in, struct report *out);
void report_free(struct report *r);

/* The rolled-up category of a 分项 code ("01B10" -> REPORT_CAT_B). */
int report_category_of(const char *code);

/* The enum report_energy named by an `energy` tag, or -1. */
int report_energy_of(const char *name);

/* True when ms (a bucket start) falls in occupied hours, local time. */
bool report_occupied(const struct report_setup *s, int64_t ms);

/* Run fn with TZ set to tz (restored after). */
int report_with_tz(const char *tz, int (*fn)(void *), void *arg);

/* "YYYY-MM-DD HH:MM" of ms in the site's time zone (TZ already set). */
void report_local_time(int64_t ms, char *buf, size_t n);

/* Portfolio Manager's "Estimation" for a meter's month. */
bool report_estimated(const struct report *r, size_t month, size_t device);

/* ---- rendering ----------------------------------------------------------- */

int report_write_html(const struct report *r, FILE *out);
int report_write_csv(const struct report *r, FILE *out);
int report_write_energystar(const struct report *r, FILE *out);
int report_write_json(const struct report *r, FILE *out);

/* CSV field quoting (RFC 4180): the text as one field. */
void report_csv_field(FILE *out, const char *text);

/* v rounded to a millionth (sums of decimal readings carry binary noise). */
double report_clean(double v);

/* A figure as text: "" for NAN, else the cleaned value in the shortest
 * decimal form ("%.15g"). */
void report_num(double v, char *buf, size_t n);

/* "YYYY-MM" of a month. */
void report_month_label(const struct report_month *m, char *buf, size_t n);

/* ISO 8601 local time with offset ("2026-01-31T14:15:00+08:00") of ms in
 * the site's time zone; "" if it cannot be formed. */
void report_iso_time(const struct report *r, int64_t ms, char *buf, size_t n);

/* ---- setup and queries (report_query.c) ------------------------------- */

/* The report's view of a loaded configuration; strings borrowed from cfg.
 * Returns 0 or -ENOMEM; free with report_setup_free. */
int report_setup_from_config(const struct gw_config *cfg, struct report_setup *out);
void report_setup_free(struct report_setup *s);

/*
 * Fill in from the configured InfluxDB (v1 /query, or the v1-compatible
 * /query of InfluxDB 2.x with api = "v2").  Errors are printed on stderr.
 * Returns 0, -EIO (the server failed or refused), or -ENOMEM.
 */
int report_query(const struct gw_config *cfg, const struct report_setup *setup, struct report_input *in);

#endif
