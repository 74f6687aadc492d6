/*
 * greenwatch report --format csv and --format energystar.
 *
 * csv: one figure per row (period, scope, id, name, quantity, value,
 * unit), easy to filter and pivot; a figure that cannot be computed has
 * no row.  energystar: ENERGY STAR Portfolio Manager meter entries, one
 * row per whole-building meter and month.  Both UTF-8, RFC 4180, CRLF.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

void report_num(double v, char *buf, size_t n)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, n, "%s", "");
    else
        snprintf(buf, n, "%.15g", report_clean(v) == 0 ? 0.0 : report_clean(v));   /* no "-0" */
}

void report_csv_field(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

struct csv_row {
    FILE *out;
    const char *period;
};

static void row(const struct csv_row *c, const char *scope, const char *id, const char *name,
                const char *quantity, double value, const char *unit)
{
    if (isnan(value))
        return;
    char num[64];
    report_num(value, num, sizeof num);
    const char *fields[] = { c->period, scope, id, name ? name : "", quantity, num, unit };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (i)
            fputc(',', c->out);
        report_csv_field(c->out, fields[i]);
    }
    fputs("\r\n", c->out);
}

static void site_rows(const struct report *r, const struct csv_row *c, const struct report_figures *f, bool period)
{
    const char *id = r->setup->site_id, *name = r->setup->site_name;
    row(c, "site", id, name, "energy", f->site_kwh, "kWh");
    row(c, "site", id, name, "eui", f->eui, "kWh/m2");
    if (period)
        row(c, "site", id, name, "eui_annual", f->eui_annual, "kWh/(m2*a)");
    row(c, "site", id, name, "co2e", f->co2e_total_kg, "kg");
    row(c, "site", id, name, "water_intensity", f->water_m3_per_m2, "m3/m2");
    if (period)
        row(c, "site", id, name, "water_intensity_annual", f->water_m3_per_m2_annual, "m3/(m2*a)");
    row(c, "site", id, name, "peak_demand", f->peak_kw, "kW");
    row(c, "site", id, name, "out_of_hours_energy", f->out_of_hours_kwh, "kWh");
    row(c, "site", id, name, "baseload_share", f->baseload_share * 100.0, "%");
    row(c, "site", id, name, "chiller_cop", f->cop, "");
    row(c, "site", id, name, "chiller_kw_per_ton", f->kw_per_ton, "kW/TR");
    row(c, "site", id, name, "boiler_efficiency", f->boiler_efficiency, "");
    row(c, "site", id, name, "hdd18", f->hdd, "K*d");
    row(c, "site", id, name, "cdd26", f->cdd, "K*d");
}

static void figure_rows(const struct report *r, const struct csv_row *c, const struct report_figures *f, bool period)
{
    const struct report_setup *s = r->setup;
    site_rows(r, c, f, period);
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++) {
        const struct report_energy_info *ei = &report_energies[e];
        row(c, "energy", ei->name, ei->zh, "use", f->energy_use[e], ei->unit);
        row(c, "energy", ei->name, ei->zh, "submetered", f->submetered[e], ei->unit);
        row(c, "energy", ei->name, ei->zh, "gap", f->gap_pct[e], "%");
        row(c, "energy", ei->name, ei->zh, "co2e", f->co2e_kg[e], "kg");
    }
    for (int k = 0; k < REPORT_CAT_COUNT; k++)
        row(c, "category", report_categories[k].code, report_categories[k].zh, "energy", f->category_kwh[k], "kWh");
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        const struct report_dev_figures *df = &f->dev[d];
        const char *name = dv->energy >= 0 ? report_energies[dv->energy].name : dv->kind;
        if (dv->role == REPORT_ROLE_METER && dv->energy >= 0) {
            row(c, "meter", dv->id, name, "use", df->use, report_energies[dv->energy].unit);
            row(c, "meter", dv->id, name, "peak_demand", df->peak_kw, "kW");
        }
        row(c, "meter", dv->id, name, "cop", df->cop, "");
        row(c, "meter", dv->id, name, "kw_per_ton", df->kw_per_ton, "kW/TR");
        row(c, "meter", dv->id, name, "efficiency", df->efficiency, "");
        row(c, "meter", dv->id, name, "completeness", df->completeness * 100.0, "%");
    }
}

int report_write_csv(const struct report *r, FILE *out)
{
    fputs("period,scope,id,name,quantity,value,unit\r\n", out);
    for (size_t k = 0; k < r->n_months; k++) {
        char label[8];
        report_month_label(&r->months[k], label, sizeof label);
        struct csv_row c = { out, label };
        figure_rows(r, &c, &r->monthly[k], false);
    }
    char from[8], to[8], period[20];
    report_month_label(&r->months[0], from, sizeof from);
    report_month_label(&r->months[r->n_months - 1], to, sizeof to);
    snprintf(period, sizeof period, "%s/%s", from, to);
    struct csv_row c = { out, period };
    figure_rows(r, &c, &r->total, true);
    return ferror(out) ? -EIO : 0;
}

/* ---- ENERGY STAR Portfolio Manager ------------------------------------------ */

/* The meters Portfolio Manager gets: whole-building meters, so that
 * nothing is counted twice; of an energy without one, every meter. */
static bool pm_meter(const struct report *r, const struct report_device *dv)
{
    return dv->role == REPORT_ROLE_METER && dv->energy >= 0 && (dv->main_meter || !r->has_main[dv->energy]);
}

/* MM/DD/YYYY of a calendar date. */
static void us_date(char *buf, size_t n, int year, int month, int day)
{
    snprintf(buf, n, "%02d/%02d/%04d", month, day, year);
}

static int days_in_month(int year, int month)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int report_write_energystar(const struct report *r, FILE *out)
{
    const struct report_setup *s = r->setup;
    fputs("Meter Name,Start Date,End Date,Usage/Quantity,Usage Units,Estimation\r\n", out);
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        if (!pm_meter(r, dv))
            continue;
        for (size_t k = 0; k < r->n_months; k++) {
            const struct report_month *m = &r->months[k];
            double use = r->monthly[k].dev[d].use;
            if (isnan(use))
                continue;
            char start[16], end[16], num[64];
            us_date(start, sizeof start, m->year, m->month, 1);
            us_date(end, sizeof end, m->year, m->month, days_in_month(m->year, m->month));
            report_num(use, num, sizeof num);
            report_csv_field(out, dv->id);
            fprintf(out, ",%s,%s,%s,", start, end, num);
            report_csv_field(out, report_energies[dv->energy].pm_unit);
            fprintf(out, ",%s\r\n", report_estimated(r, k, d) ? "Yes" : "No");
        }
    }
    return ferror(out) ? -EIO : 0;
}
