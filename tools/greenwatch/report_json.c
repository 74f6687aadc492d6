/*
 * greenwatch report --format json: every figure of the report as one
 * object (docs/reports.md lists the keys).  Unknown figures are null.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report.h"

/* Sums of decimal readings carry binary noise (0.30000000000000004):
 * round to a millionth, far below any meter's resolution. */
double report_clean(double v)
{
    return fabs(v) < 1e9 ? round(v * 1e6) / 1e6 : v;
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, report_clean(v));
}

static void add_pct(cJSON *o, const char *key, double share)
{
    add_num(o, key, share * 100.0);
}

struct tz_time {
    int64_t ms;
    char text[40];
};

static int iso_in_tz(void *arg)
{
    struct tz_time *t = arg;
    time_t s = (time_t)(t->ms / 1000);
    struct tm tm;
    char zone[8];
    if (!localtime_r(&s, &tm) || !strftime(t->text, sizeof t->text, "%Y-%m-%dT%H:%M:%S", &tm) ||
        !strftime(zone, sizeof zone, "%z", &tm))
        return -EINVAL;
    size_t n = strlen(t->text);
    snprintf(t->text + n, sizeof t->text - n, "%.3s:%.2s", zone, zone + 3);   /* +08:00 */
    return 0;
}

/* ISO 8601 local time with its offset, in the site's zone; "" on error. */
void report_iso_time(const struct report *r, int64_t ms, char *buf, size_t n)
{
    struct tz_time t = { .ms = ms };
    if (report_with_tz(r->setup->timezone, iso_in_tz, &t))
        t.text[0] = '\0';
    snprintf(buf, n, "%s", t.text);
}

static void add_time(cJSON *o, const struct report *r, const char *key, int64_t ms, bool known)
{
    char buf[40];
    if (!known) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    report_iso_time(r, ms, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

void report_month_label(const struct report_month *m, char *buf, size_t n)
{
    snprintf(buf, n, "%04d-%02d", m->year, m->month);
}

static cJSON *meters_json(const struct report *r, const struct report_figures *f)
{
    const struct report_setup *s = r->setup;
    cJSON *o = cJSON_CreateObject();
    for (size_t d = 0; o && d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        const struct report_dev_figures *df = &f->dev[d];
        cJSON *m = cJSON_AddObjectToObject(o, dv->id);
        if (!m)
            continue;
        cJSON_AddStringToObject(m, "kind", dv->kind);
        if (dv->role == REPORT_ROLE_METER && dv->energy >= 0) {
            cJSON_AddStringToObject(m, "energy", report_energies[dv->energy].name);
            if (dv->category)
                cJSON_AddStringToObject(m, "category", dv->category);
            cJSON_AddBoolToObject(m, "main", dv->main_meter);
            add_num(m, "use", df->use);
            cJSON_AddStringToObject(m, "unit", report_energies[dv->energy].unit);
            add_num(m, "peak_demand_kw", df->peak_kw);
            add_time(m, r, "peak_time", df->peak_ms, !isnan(df->peak_kw));
        }
        if (dv->role == REPORT_ROLE_CHILLER) {
            add_num(m, "cop", df->cop);
            add_num(m, "kw_per_ton", df->kw_per_ton);
        }
        if (dv->role == REPORT_ROLE_BOILER)
            add_num(m, "efficiency", df->efficiency);
        add_num(m, "samples", df->samples);
        add_num(m, "expected_samples", round(df->expected));
        add_pct(m, "completeness_pct", df->completeness);
    }
    return o;
}

static cJSON *figures_json(const struct report *r, const struct report_figures *f, const char *month)
{
    bool period = !month;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (month)
        cJSON_AddStringToObject(o, "month", month);
    add_num(o, "days", f->days);
    cJSON_AddItemToObject(o, "meters", meters_json(r, f));
    cJSON *cats = cJSON_AddObjectToObject(o, "categories");
    for (int c = 0; cats && c < REPORT_CAT_COUNT; c++) {
        cJSON *e = cJSON_AddObjectToObject(cats, report_categories[c].code);
        if (!e)
            continue;
        cJSON_AddStringToObject(e, "name", report_categories[c].zh);
        cJSON_AddStringToObject(e, "name_en", report_categories[c].en);
        add_num(e, "kwh", f->category_kwh[c]);
    }
    cJSON *en = cJSON_AddObjectToObject(o, "energy");
    for (int k = 0; en && k < REPORT_ENERGY_COUNT; k++) {
        cJSON *e = cJSON_AddObjectToObject(en, report_energies[k].name);
        if (!e)
            continue;
        add_num(e, "use", f->energy_use[k]);
        cJSON_AddStringToObject(e, "unit", report_energies[k].unit);
        add_num(e, "submetered", f->submetered[k]);
        add_num(e, "gap_pct", f->gap_pct[k]);
        add_num(e, "co2e_kg", f->co2e_kg[k]);
    }
    cJSON *site = cJSON_AddObjectToObject(o, "site");
    if (!site)
        return o;
    add_num(site, "energy_kwh", f->site_kwh);
    add_num(site, "eui_kwh_m2", f->eui);
    if (period)
        add_num(site, "eui_kwh_m2_annual", f->eui_annual);
    add_num(site, "co2e_kg", f->co2e_total_kg);
    add_num(site, "water_m3_per_m2", f->water_m3_per_m2);
    if (period)
        add_num(site, "water_m3_per_m2_annual", f->water_m3_per_m2_annual);
    add_num(site, "peak_demand_kw", f->peak_kw);
    add_time(site, r, "peak_time", f->peak_ms, !isnan(f->peak_kw));
    if (f->peak_device)
        cJSON_AddStringToObject(site, "peak_meter", f->peak_device);
    else
        cJSON_AddNullToObject(site, "peak_meter");
    add_num(site, "out_of_hours_kwh", f->out_of_hours_kwh);
    add_pct(site, "baseload_share_pct", f->baseload_share);
    add_num(site, "chiller_cop", f->cop);
    add_num(site, "chiller_kw_per_ton", f->kw_per_ton);
    add_num(site, "boiler_efficiency", f->boiler_efficiency);
    add_num(site, "hdd18", f->hdd);
    add_num(site, "cdd26", f->cdd);
    cJSON_AddNumberToObject(site, "temperature_days", f->temp_days);
    return o;
}

static cJSON *header_json(const struct report *r)
{
    const struct report_setup *s = r->setup;
    cJSON *o = cJSON_CreateObject();
    cJSON *site = cJSON_AddObjectToObject(o, "site");
    if (site) {
        cJSON_AddStringToObject(site, "id", s->site_id);
        cJSON_AddStringToObject(site, "name", s->site_name);
        cJSON_AddStringToObject(site, "timezone", s->timezone);
        add_num(site, "floor_area_m2", s->floor_area_m2 > 0 ? s->floor_area_m2 : NAN);
    }
    char from[8], to[8];
    report_month_label(&r->months[0], from, sizeof from);
    report_month_label(&r->months[r->n_months - 1], to, sizeof to);
    cJSON *period = cJSON_AddObjectToObject(o, "period");
    if (period) {
        cJSON_AddStringToObject(period, "from", from);
        cJSON_AddStringToObject(period, "to", to);
        add_time(period, r, "start", r->months[0].start * 1000, true);
        add_time(period, r, "end", r->months[r->n_months - 1].end * 1000, true);
    }
    cJSON *ef = cJSON_AddObjectToObject(o, "emission_factors");
    if (ef) {
        cJSON_AddStringToObject(ef, "name", s->factors.name);
        cJSON_AddNumberToObject(ef, "year", s->factors.year);
        cJSON_AddStringToObject(ef, "source", s->factors.source);
        static const char *const keys[REPORT_ENERGY_COUNT] = {
            "electricity_kg_per_kwh", NULL, "gas_kg_per_m3", "heat_kg_per_kwh" };
        for (int e = 0; e < REPORT_ENERGY_COUNT; e++)
            if (keys[e])
                add_num(ef, keys[e], s->factors.kg[e] >= 0 ? s->factors.kg[e] : NAN);
    }
    cJSON_AddStringToObject(o, "generated", r->generated);
    return o;
}

static cJSON *anomalies_json(const struct report *r)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r->n_anomalies; i++) {
        const struct report_anomaly *an = &r->anomalies[i];
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        char month[8];
        report_month_label(&r->months[an->month], month, sizeof month);
        cJSON_AddStringToObject(e, "month", month);
        cJSON_AddStringToObject(e, "scope", an->scope);
        cJSON_AddStringToObject(e, "id", an->what);
        cJSON_AddStringToObject(e, "compared_with", an->year_on_year ? "year" : "month");
        add_num(e, "before_per_day", an->before);
        add_num(e, "now_per_day", an->now);
        cJSON_AddStringToObject(e, "unit", an->unit);
        add_num(e, "change_pct", an->change_pct);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static cJSON *gaps_json(const struct report *r)
{
    const struct report_setup *s = r->setup;
    cJSON *a = cJSON_CreateArray();
    for (size_t d = 0; a && d < s->n_devices; d++) {
        for (size_t g = 0; g < r->n_gaps[d]; g++) {
            const struct report_gap *gap = &r->gaps[d][g];
            cJSON *e = cJSON_CreateObject();
            if (!e)
                break;
            cJSON_AddStringToObject(e, "device", s->devices[d].id);
            add_time(e, r, "from", gap->from_ms, true);
            add_time(e, r, "to", gap->to_ms, true);
            add_num(e, "minutes", (double)(gap->to_ms - gap->from_ms) / 60000.0);
            cJSON_AddItemToArray(a, e);
        }
    }
    return a;
}

int report_write_json(const struct report *r, FILE *out)
{
    cJSON *root = header_json(r);
    cJSON *months = cJSON_AddArrayToObject(root, "months");
    for (size_t k = 0; months && k < r->n_months; k++) {
        char label[8];
        report_month_label(&r->months[k], label, sizeof label);
        cJSON *m = figures_json(r, &r->monthly[k], label);
        if (m)
            cJSON_AddItemToArray(months, m);
    }
    cJSON_AddItemToObject(root, "total", figures_json(r, &r->total, NULL));
    cJSON_AddItemToObject(root, "anomalies", anomalies_json(r));
    cJSON_AddItemToObject(root, "gaps", gaps_json(r));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -ENOMEM;
    int rc = fputs(text, out) < 0 || fputc('\n', out) == EOF ? -EIO : 0;
    cJSON_free(text);
    return rc;
}
