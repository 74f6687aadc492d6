/*
 * greenwatch report: the figures, from query results (report.h).  No I/O
 * here but the time zone: every formula is in docs/reports.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "report.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

enum {
    MAX_MONTHS = 240,          /* the period and its history: 20 years */
    HDD_BASE_C = 18,
    CDD_BASE_C = 26,
};
#define KW_PER_TON 3.51685     /* one ton of refrigeration */

const struct report_category_info report_categories[REPORT_CAT_COUNT] = {
    [REPORT_CAT_A] = { "01A00", "照明插座", "Lighting & sockets" },
    [REPORT_CAT_B] = { "01B00", "空调", "HVAC" },
    [REPORT_CAT_C] = { "01C00", "动力", "Power" },
    [REPORT_CAT_D] = { "01D00", "特殊", "Special" },
    [REPORT_CAT_OTHER] = { "other", "其他", "Other" },
};

const struct report_energy_info report_energies[REPORT_ENERGY_COUNT] = {
    [REPORT_ELECTRICITY] = { "electricity", "电", "kWh", "energy_kwh_delta", "kWh (thousand Watt-hours)" },
    [REPORT_WATER] = { "water", "水", "m3", "volume_m3_delta", "Cubic Meters (m³)" },
    [REPORT_GAS] = { "gas", "燃气", "m3", "volume_m3_delta", "Cubic Meters (m³)" },
    [REPORT_HEAT] = { "heat", "热", "kWh", "energy_kwh_delta", "kWh (thousand Watt-hours)" },
};

int report_category_of(const char *code)
{
    if (!code || strlen(code) != 5 || strncmp(code, "01", 2) != 0)
        return REPORT_CAT_OTHER;
    if (code[2] >= 'A' && code[2] <= 'D')
        return REPORT_CAT_A + (code[2] - 'A');
    return REPORT_CAT_OTHER;
}

int report_energy_of(const char *name)
{
    for (int e = 0; name && e < REPORT_ENERGY_COUNT; e++)
        if (strcmp(name, report_energies[e].name) == 0)
            return e;
    return -1;
}

/* ---- time zone and calendar months ------------------------------------- */

int report_parse_month(const char *text, int *year, int *month)
{
    int used = 0;
    if (!text || sscanf(text, "%4d-%2d%n", year, month, &used) != 2 || used != 7 || text[used] ||
        *year < 1970 || *year > 9999 || *month < 1 || *month > 12)
        return -EINVAL;
    return 0;
}

/* An IANA zone name that names a file of the zone database: glibc takes
 * an unknown name for UTC without a word, which would shift every month. */
static bool known_zone(const char *tz)
{
    if (!tz || !*tz || tz[0] == '/' || strstr(tz, ".."))
        return false;
    if (strcmp(tz, "UTC") == 0)
        return true;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    return access(path, R_OK) == 0;
}

int report_with_tz(const char *tz, int (*fn)(void *), void *arg)
{
    if (!known_zone(tz))
        return -EINVAL;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved)
        return -ENOMEM;
    setenv("TZ", tz, 1);
    tzset();
    int rc = fn(arg);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return rc;
}

struct months_job {
    int y0, m0, count;
    struct report_month *out;
};

static int64_t local_month_start(int year, int month)
{
    struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = 1, .tm_isdst = -1 };
    return (int64_t)mktime(&tm);
}

static int months_in_tz(void *arg)
{
    struct months_job *job = arg;
    for (int i = 0; i < job->count; i++) {
        int idx = job->y0 * 12 + (job->m0 - 1) + i;
        struct report_month *m = &job->out[i];
        m->year = idx / 12;
        m->month = idx % 12 + 1;
        m->start = local_month_start(m->year, m->month);
        m->end = local_month_start((idx + 1) / 12, (idx + 1) % 12 + 1);
        if (m->start == -1 || m->end <= m->start)
            return -EINVAL;
    }
    return 0;
}

int report_months(const char *tz, int y0, int m0, int y1, int m1, struct report_month **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int count = (y1 * 12 + m1) - (y0 * 12 + m0) + 1;
    if (count < 1 || count > MAX_MONTHS)
        return -EINVAL;
    struct months_job job = { y0, m0, count, calloc((size_t)count, sizeof *job.out) };
    if (!job.out)
        return -ENOMEM;
    int rc = report_with_tz(tz, months_in_tz, &job);
    if (rc) {
        free(job.out);
        return rc;
    }
    *out = job.out;
    *n = (size_t)count;
    return 0;
}

bool report_occupied(const struct report_setup *s, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return false;
    int minute = tm.tm_hour * 60 + tm.tm_min;
    return tm.tm_wday >= 1 && tm.tm_wday <= 5 && minute >= s->occupied_from_min && minute < s->occupied_to_min;
}

void report_local_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, n, "?");
}

/* ---- raw inputs ---------------------------------------------------------- */

static void dev_data_init(struct report_dev_data *d)
{
    *d = (struct report_dev_data){ .use = NAN, .peak_kw = NAN, .samples = NAN, .cooling_sum = NAN,
                                   .power_sum = NAN, .heat_sum = NAN, .gas_sum = NAN };
}

int report_input_init(struct report_input *in, const struct report_month *months, size_t n_months,
                      size_t first, size_t n_devices)
{
    memset(in, 0, sizeof *in);
    if (!(in->months = calloc(n_months ? n_months : 1, sizeof *in->months)))
        return -ENOMEM;
    in->n = n_months;
    in->first = first;
    for (size_t i = 0; i < n_months; i++) {
        struct report_month_data *md = &in->months[i];
        md->m = months[i];
        md->history = i < first;
        if (!(md->dev = calloc(n_devices ? n_devices : 1, sizeof *md->dev))) {
            report_input_free(in, n_devices);
            return -ENOMEM;
        }
        for (size_t d = 0; d < n_devices; d++)
            dev_data_init(&md->dev[d]);
    }
    return 0;
}

void report_input_free(struct report_input *in, size_t n_devices)
{
    for (size_t i = 0; in->months && i < in->n; i++) {
        struct report_month_data *md = &in->months[i];
        for (size_t d = 0; md->dev && d < n_devices; d++)
            free(md->dev[d].gaps);
        free(md->dev);
        free(md->buckets);
        free(md->days);
    }
    free(in->months);
    memset(in, 0, sizeof *in);
}

static int add_gap(struct report_gap **gaps, size_t *n, int64_t from, int64_t to)
{
    struct report_gap *grown = realloc(*gaps, (*n + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    grown[(*n)++] = (struct report_gap){ from, to };
    *gaps = grown;
    return 0;
}

int report_gaps_build(int64_t from_ms, int64_t to_ms, int64_t first_ms, int64_t last_ms,
                      const int64_t *end_ms, const int64_t *len_ms, size_t n, int64_t gap_ms,
                      struct report_gap **gaps, size_t *n_gaps)
{
    if (first_ms < 0)
        return add_gap(gaps, n_gaps, from_ms, to_ms);
    if (first_ms - from_ms > gap_ms && add_gap(gaps, n_gaps, from_ms, first_ms))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (len_ms[i] > gap_ms && add_gap(gaps, n_gaps, end_ms[i] - len_ms[i], end_ms[i]))
            return -ENOMEM;
    if (to_ms - last_ms > gap_ms && add_gap(gaps, n_gaps, last_ms, to_ms))
        return -ENOMEM;
    return 0;
}

/* ---- figures ------------------------------------------------------------- */

/* Sums that skip unknowns: NAN + x = x, NAN + NAN = NAN. */
static void acc(double *sum, double v)
{
    if (isnan(v))
        return;
    *sum = isnan(*sum) ? v : *sum + v;
}

static double ratio(double num, double den)
{
    return isnan(num) || isnan(den) || den <= 0 ? NAN : num / den;
}

static int figures_init(struct report_figures *f, size_t n_devices)
{
    memset(f, 0, sizeof *f);
    if (!(f->dev = calloc(n_devices ? n_devices : 1, sizeof *f->dev)))
        return -ENOMEM;
    for (size_t d = 0; d < n_devices; d++)
        f->dev[d] = (struct report_dev_figures){
            .use = NAN, .samples = NAN, .expected = NAN, .completeness = NAN, .peak_kw = NAN,
            .cooling_sum = NAN, .power_sum = NAN, .cop = NAN, .kw_per_ton = NAN,
            .heat_sum = NAN, .fuel_kwh_sum = NAN, .efficiency = NAN,
        };
    double *all[] = { &f->co2e_total_kg, &f->site_kwh, &f->eui, &f->eui_annual, &f->water_m3_per_m2,
                      &f->water_m3_per_m2_annual, &f->peak_kw, &f->out_of_hours_kwh, &f->bucket_kwh,
                      &f->baseload_share, &f->cooling_sum, &f->chiller_power_sum, &f->cop, &f->kw_per_ton,
                      &f->boiler_heat_sum, &f->boiler_fuel_kwh_sum, &f->boiler_efficiency, &f->hdd, &f->cdd };
    for (size_t i = 0; i < N(all); i++)
        *all[i] = NAN;
    for (int c = 0; c < REPORT_CAT_COUNT; c++)
        f->category_kwh[c] = NAN;
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++)
        f->energy_use[e] = f->submetered[e] = f->gap_pct[e] = f->co2e_kg[e] = NAN;
    return 0;
}

static void figures_free(struct report_figures *f)
{
    free(f->dev);
    f->dev = NULL;
}

static bool is_meter(const struct report_device *dv)
{
    return dv->role == REPORT_ROLE_METER && dv->energy >= 0;
}

/* The meters whose peak is the site's: the main electricity meters, or
 * every electricity meter where there is none. */
static bool site_demand_meter(const struct report_device *dv, bool has_main)
{
    return is_meter(dv) && dv->energy == REPORT_ELECTRICITY && (dv->main_meter || !has_main);
}

static void add_device(struct report_dev_figures *df, const struct report_device *dv,
                       const struct report_dev_data *dd, const struct report_month *m)
{
    if (is_meter(dv))
        acc(&df->use, dd->use);
    if (dv->count_field) {
        acc(&df->samples, isnan(dd->samples) ? 0 : dd->samples);
        acc(&df->expected, (double)(m->end - m->start) / dv->interval_s);
    }
    if (!isnan(dd->peak_kw) && (isnan(df->peak_kw) || dd->peak_kw > df->peak_kw)) {
        df->peak_kw = dd->peak_kw;
        df->peak_ms = dd->peak_ms;
    }
    if (dv->role == REPORT_ROLE_CHILLER && !isnan(dd->cooling_sum) && !isnan(dd->power_sum)) {
        acc(&df->cooling_sum, dd->cooling_sum);
        acc(&df->power_sum, dd->power_sum);
    }
    if (dv->role == REPORT_ROLE_BOILER && !isnan(dd->heat_sum) && !isnan(dd->gas_sum)) {
        acc(&df->heat_sum, dd->heat_sum);
        acc(&df->fuel_kwh_sum, dd->gas_sum * dv->gas_lhv_kwh_m3);
    }
}

static void add_site(const struct report_setup *s, struct report_figures *f, const struct report_month_data *md)
{
    for (size_t b = 0; b < md->n_buckets; b++) {
        acc(&f->bucket_kwh, md->buckets[b].kwh);
        acc(&f->out_of_hours_kwh, report_occupied(s, md->buckets[b].ms) ? 0 : md->buckets[b].kwh);
    }
    for (size_t i = 0; i < md->n_days; i++) {
        double t = md->days[i].mean_c;
        if (!isfinite(t))
            continue;
        acc(&f->hdd, t < HDD_BASE_C ? HDD_BASE_C - t : 0);
        acc(&f->cdd, t > CDD_BASE_C ? t - CDD_BASE_C : 0);
        f->temp_days++;
    }
}

/* Add one month's raw data to f (a month's figures or the period's). */
static void figures_add(const struct report_setup *s, struct report_figures *f, const struct report_month_data *md)
{
    f->days += (double)(md->m.end - md->m.start) / 86400.0;
    for (size_t d = 0; d < s->n_devices; d++)
        add_device(&f->dev[d], &s->devices[d], &md->dev[d], &md->m);
    add_site(s, f, md);
}

/* Per energy: the main meters' sum and the sub-meters' sum. */
static void finish_energy(const struct report_setup *s, struct report_figures *f, const bool has_main[])
{
    double main_sum[REPORT_ENERGY_COUNT], sub_sum[REPORT_ENERGY_COUNT];
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++)
        main_sum[e] = sub_sum[e] = NAN;
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        double use = f->dev[d].use;
        if (!is_meter(dv))
            continue;
        acc(dv->main_meter ? &main_sum[dv->energy] : &sub_sum[dv->energy], use);
        if (!dv->main_meter && dv->energy == REPORT_ELECTRICITY)
            acc(&f->category_kwh[report_category_of(dv->category)], use);
    }
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++) {
        f->energy_use[e] = has_main[e] ? main_sum[e] : sub_sum[e];
        if (has_main[e]) {
            f->submetered[e] = sub_sum[e];
            if (!isnan(sub_sum[e]) && !isnan(main_sum[e]) && main_sum[e] > 0)
                f->gap_pct[e] = (main_sum[e] - sub_sum[e]) / main_sum[e] * 100.0;
        }
        if (s->factors.kg[e] >= 0 && !isnan(f->energy_use[e])) {
            f->co2e_kg[e] = f->energy_use[e] * s->factors.kg[e];
            acc(&f->co2e_total_kg, f->co2e_kg[e]);
        }
    }
    acc(&f->site_kwh, f->energy_use[REPORT_ELECTRICITY]);
    acc(&f->site_kwh, f->energy_use[REPORT_HEAT]);
    acc(&f->site_kwh, f->energy_use[REPORT_GAS] * s->gas_kwh_per_m3);
}

/* A period of whole years is its own annual figure; otherwise scale by
 * days. */
static double annualise(double v, double days, size_t n_months)
{
    if (isnan(v) || days <= 0)
        return NAN;
    return n_months % 12 == 0 ? v * 12.0 / (double)n_months : v * 365.0 / days;
}

static void figures_finish(const struct report_setup *s, struct report_figures *f, const bool has_main[],
                           size_t n_months)
{
    finish_energy(s, f, has_main);
    for (size_t d = 0; d < s->n_devices; d++) {
        struct report_dev_figures *df = &f->dev[d];
        df->completeness = ratio(df->samples, df->expected);
        if (df->completeness > 1)
            df->completeness = 1;
        df->cop = ratio(df->cooling_sum, df->power_sum);
        df->kw_per_ton = ratio(df->power_sum, df->cooling_sum / KW_PER_TON);
        df->efficiency = ratio(df->heat_sum, df->fuel_kwh_sum);
        acc(&f->cooling_sum, df->cooling_sum);
        acc(&f->chiller_power_sum, df->power_sum);
        acc(&f->boiler_heat_sum, df->heat_sum);
        acc(&f->boiler_fuel_kwh_sum, df->fuel_kwh_sum);
        if (site_demand_meter(&s->devices[d], has_main[REPORT_ELECTRICITY]) && !isnan(df->peak_kw) &&
            (isnan(f->peak_kw) || df->peak_kw > f->peak_kw)) {
            f->peak_kw = df->peak_kw;
            f->peak_ms = df->peak_ms;
            f->peak_device = s->devices[d].id;
        }
    }
    f->cop = ratio(f->cooling_sum, f->chiller_power_sum);
    f->kw_per_ton = ratio(f->chiller_power_sum, f->cooling_sum / KW_PER_TON);
    f->boiler_efficiency = ratio(f->boiler_heat_sum, f->boiler_fuel_kwh_sum);
    f->baseload_share = ratio(f->out_of_hours_kwh, f->bucket_kwh);
    double area = s->floor_area_m2 > 0 ? s->floor_area_m2 : NAN;
    f->eui = ratio(f->site_kwh, area);
    f->eui_annual = annualise(f->eui, f->days, n_months);
    f->water_m3_per_m2 = ratio(f->energy_use[REPORT_WATER], area);
    f->water_m3_per_m2_annual = annualise(f->water_m3_per_m2, f->days, n_months);
}

/* ---- anomalies ------------------------------------------------------------ */

struct series {
    const char *scope, *what, *unit;
    double (*get)(const struct report_figures *f, size_t index);
    size_t index;
};

static double get_device(const struct report_figures *f, size_t i) { return f->dev[i].use; }
static double get_category(const struct report_figures *f, size_t i) { return f->category_kwh[i]; }
static double get_energy(const struct report_figures *f, size_t i) { return f->energy_use[i]; }

static int add_anomaly(struct report *r, const struct series *se, size_t month, bool yoy,
                       const struct report_figures *before, const struct report_figures *now)
{
    double b = se->get(before, se->index), n = se->get(now, se->index);
    if (isnan(b) || isnan(n) || b <= 0 || before->days <= 0 || now->days <= 0)
        return 0;
    double per_day_before = b / before->days, per_day_now = n / now->days;
    double change = (per_day_now / per_day_before - 1.0) * 100.0;
    if (fabs(change) <= r->setup->anomaly_pct)
        return 0;
    struct report_anomaly *grown = realloc(r->anomalies, (r->n_anomalies + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    grown[r->n_anomalies++] = (struct report_anomaly){
        .month = month, .scope = se->scope, .what = se->what, .unit = se->unit, .year_on_year = yoy,
        .before = per_day_before, .now = per_day_now, .change_pct = change,
    };
    r->anomalies = grown;
    return 0;
}

/* all: figures of every input month (history first); the period starts
 * at first. */
static int find_anomalies(struct report *r, const struct report_figures *all, size_t n, size_t first)
{
    const struct report_setup *s = r->setup;
    for (size_t k = first; k < n; k++) {
        for (size_t i = 0; i < s->n_devices + REPORT_CAT_COUNT + REPORT_ENERGY_COUNT; i++) {
            struct series se;
            if (i < s->n_devices) {
                const struct report_device *dv = &s->devices[i];
                if (!is_meter(dv))
                    continue;
                se = (struct series){ "meter", dv->id, report_energies[dv->energy].unit, get_device, i };
            } else if (i < s->n_devices + REPORT_CAT_COUNT) {
                size_t c = i - s->n_devices;
                se = (struct series){ "category", report_categories[c].code, "kWh", get_category, c };
            } else {
                size_t e = i - s->n_devices - REPORT_CAT_COUNT;
                se = (struct series){ "energy", report_energies[e].name, report_energies[e].unit, get_energy, e };
            }
            if (k >= 1 && add_anomaly(r, &se, k - first, false, &all[k - 1], &all[k]))
                return -ENOMEM;
            if (k >= 12 && add_anomaly(r, &se, k - first, true, &all[k - 12], &all[k]))
                return -ENOMEM;
        }
    }
    return 0;
}

/* ---- gaps over the period -------------------------------------------------- */

/* Concatenate a device's gaps of each month; a gap running over a month's
 * end continues in the next month's first gap and is joined with it. */
static int collect_gaps(struct report *r, const struct report_input *in, size_t d)
{
    for (size_t k = in->first; k < in->n; k++) {
        const struct report_dev_data *dd = &in->months[k].dev[d];
        for (size_t g = 0; g < dd->n_gaps; g++) {
            size_t *n = &r->n_gaps[d];
            if (*n && r->gaps[d][*n - 1].to_ms == dd->gaps[g].from_ms) {
                r->gaps[d][*n - 1].to_ms = dd->gaps[g].to_ms;
                continue;
            }
            if (add_gap(&r->gaps[d], n, dd->gaps[g].from_ms, dd->gaps[g].to_ms))
                return -ENOMEM;
        }
    }
    return 0;
}

/* ---- the report ------------------------------------------------------------ */

struct compute_job {
    const struct report_setup *s;
    const struct report_input *in;
    struct report *r;
    struct report_figures *all;
};

static int compute_in_tz(void *arg)
{
    struct compute_job *job = arg;
    const struct report_setup *s = job->s;
    const struct report_input *in = job->in;
    struct report *r = job->r;
    for (size_t k = 0; k < in->n; k++) {
        if (figures_init(&job->all[k], s->n_devices))
            return -ENOMEM;
        figures_add(s, &job->all[k], &in->months[k]);
        figures_finish(s, &job->all[k], r->has_main, 1);
    }
    if (figures_init(&r->total, s->n_devices))
        return -ENOMEM;
    for (size_t k = in->first; k < in->n; k++)
        figures_add(s, &r->total, &in->months[k]);
    figures_finish(s, &r->total, r->has_main, r->n_months);
    time_t now = time(NULL);
    report_local_time((int64_t)now * 1000, r->generated, sizeof r->generated);
    return find_anomalies(r, job->all, in->n, in->first);
}

static void note_roles(struct report *r)
{
    const struct report_setup *s = r->setup;
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        if (is_meter(dv) && dv->main_meter)
            r->has_main[dv->energy] = true;
        r->any_chiller |= dv->role == REPORT_ROLE_CHILLER;
        r->any_boiler |= dv->role == REPORT_ROLE_BOILER;
        r->any_weather |= dv->outdoor_temp;
    }
}

int report_compute(const struct report_setup *setup, const struct report_input *in, struct report *out)
{
    memset(out, 0, sizeof *out);
    out->setup = setup;
    out->n_months = in->n - in->first;
    note_roles(out);
    struct compute_job job = { setup, in, out, calloc(in->n ? in->n : 1, sizeof *job.all) };
    out->months = calloc(out->n_months ? out->n_months : 1, sizeof *out->months);
    out->monthly = calloc(out->n_months ? out->n_months : 1, sizeof *out->monthly);
    out->gaps = calloc(setup->n_devices ? setup->n_devices : 1, sizeof *out->gaps);
    out->n_gaps = calloc(setup->n_devices ? setup->n_devices : 1, sizeof *out->n_gaps);
    int rc = job.all && out->months && out->monthly && out->gaps && out->n_gaps ? 0 : -ENOMEM;
    if (!rc)
        rc = report_with_tz(setup->timezone, compute_in_tz, &job);
    for (size_t d = 0; !rc && d < setup->n_devices; d++)
        rc = collect_gaps(out, in, d);
    for (size_t k = 0; job.all && k < in->n; k++) {
        if (!rc && k >= in->first) {
            out->months[k - in->first] = in->months[k].m;
            out->monthly[k - in->first] = job.all[k];   /* moved */
        } else {
            figures_free(&job.all[k]);
        }
    }
    free(job.all);
    if (rc)
        report_free(out);
    return rc;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    for (size_t k = 0; r->monthly && k < r->n_months; k++)
        figures_free(&r->monthly[k]);
    figures_free(&r->total);
    for (size_t d = 0; r->gaps && r->setup && d < r->setup->n_devices; d++)
        free(r->gaps[d]);
    free(r->gaps);
    free(r->n_gaps);
    free(r->monthly);
    free(r->months);
    free(r->anomalies);
    memset(r, 0, sizeof *r);
}

bool report_estimated(const struct report *r, size_t month, size_t device)
{
    double c = r->monthly[month].dev[device].completeness;
    return isnan(c) || c * 100.0 < r->setup->estimated_below_pct;
}
