/*
 * greenwatch report --format html: one self-contained, print-ready page
 * (A4), charts drawn here as inline SVG; no script, no external asset.
 * UTF-8 throughout; the Chinese names of the categories (照明插座, 空调,
 * 动力, 特殊) are marked lang="zh-Hans" so that a CJK font with
 * simplified glyphs is chosen.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

#define CHART_W 680    /* full width; half-width charts are drawn at half this */
#define CHART_H 230
#define PLOT_L 64      /* room for the axis labels */
#define PLOT_R 12
#define PLOT_T 24      /* room for the unit above the axis */
#define PLOT_B 30
#define MAX_GAPS_LISTED 60

static const char *const category_colors[REPORT_CAT_COUNT] = { "#f2b134", "#2f80c1", "#7a5bb5", "#d2504a", "#8c9aa6" };
#define UNATTRIBUTED_COLOR "#d9dee3"
#define BAR_COLOR "#2f80c1"
#define SHARE_COLOR "#3a9a6b"

/* ---- text ----------------------------------------------------------------- */

static void esc(FILE *out, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*p, out);
        }
    }
}

/* A figure for reading: thousands separated, fixed decimals, "–" if unknown. */
static void fmt(char *buf, size_t n, double v, int decimals)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, n, "–");
        return;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", decimals, fabs(v) < 0.5 * pow(10, -decimals) ? 0.0 : v);
    const char *digits = raw + (raw[0] == '-');
    const char *dot = strchr(digits, '.');
    size_t int_len = dot ? (size_t)(dot - digits) : strlen(digits), o = 0;
    if (raw[0] == '-' && o + 1 < n)
        buf[o++] = '-';
    for (size_t i = 0; i < int_len && o + 2 < n; i++) {
        if (i && (int_len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    snprintf(buf + o, n - o, "%s", dot ? dot : "");
}

static void num(FILE *out, double v, int decimals)
{
    char buf[64];
    fmt(buf, sizeof buf, v, decimals);
    fputs(buf, out);
}

static void zh(FILE *out, const char *text)
{
    fputs("<span lang=\"zh-Hans\">", out);
    esc(out, text);
    fputs("</span>", out);
}

/* ---- charts ---------------------------------------------------------------- */

/* The smallest 1, 2, 2.5 or 5 x 10^k at or above v: a readable axis top. */
static double nice_ceiling(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    static const double steps[] = { 1, 2, 2.5, 5, 10 };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if (steps[i] * p >= v * (1 - 1e-12))
            return steps[i] * p;
    return 10 * p;
}

struct bar_chart {
    const char *title;          /* aria-label */
    const char *unit;
    size_t groups, series;
    const char *const *labels;  /* groups */
    const double *values;       /* [series][groups], NAN for none */
    const char *const *colors;  /* series */
    int width;                  /* of the viewBox: CHART_W, or CHART_W / 2 beside another */
};

/* The decimals that show the axis step (top / 4) exactly, up to 3. */
static int step_decimals(double top)
{
    double step = top / 4;
    int d = 0;
    while (d < 3 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-9)
        d++;
    return d;
}

static void chart_axis(FILE *out, double top, int width, const char *unit)
{
    int plot_h = CHART_H - PLOT_T - PLOT_B, decimals = step_decimals(top);
    for (int i = 0; i <= 4; i++) {
        double y = PLOT_T + plot_h - plot_h * i / 4.0;
        char label[64];
        fmt(label, sizeof label, top * i / 4.0, decimals);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>", PLOT_L, y,
                width - PLOT_R, y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" class=\"ylabel\">%s</text>", PLOT_L - 6, y + 4, label);
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"unit\">", 4, PLOT_T - 12);
    esc(out, unit);
    fputs("</text>", out);
}

/* Stacked bars, one per group. */
static void bar_chart(FILE *out, const struct bar_chart *c)
{
    double max = 0;
    for (size_t g = 0; g < c->groups; g++) {
        double sum = 0;
        for (size_t s = 0; s < c->series; s++) {
            double v = c->values[s * c->groups + g];
            sum += isnan(v) || v < 0 ? 0 : v;
        }
        max = sum > max ? sum : max;
    }
    double top = nice_ceiling(max);
    int width = c->width ? c->width : CHART_W;
    int plot_w = width - PLOT_L - PLOT_R, plot_h = CHART_H - PLOT_T - PLOT_B;
    double slot = (double)plot_w / (double)(c->groups ? c->groups : 1);
    double bar = slot * 0.62 > 46 ? 46 : slot * 0.62;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            width, CHART_H);
    esc(out, c->title);
    fputs("\" class=\"chart\">", out);
    chart_axis(out, top, width, c->unit);
    for (size_t g = 0; g < c->groups; g++) {
        double x = PLOT_L + slot * (double)g + (slot - bar) / 2, base = PLOT_T + plot_h;
        for (size_t s = 0; s < c->series; s++) {
            double v = c->values[s * c->groups + g];
            if (isnan(v) || v <= 0)
                continue;
            double h = plot_h * v / top;
            base -= h;
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, base, bar, h,
                    c->colors[s]);
        }
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xlabel\">", x + bar / 2, CHART_H - PLOT_B + 16);
        esc(out, c->labels[g]);
        fputs("</text>", out);
    }
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>", PLOT_L, PLOT_T + plot_h,
            width - PLOT_R, PLOT_T + plot_h);
    fputs("</svg>\n", out);
}

static void legend_item(FILE *out, const char *color, const char *zh_name, const char *en)
{
    fprintf(out, "<span class=\"key\"><i style=\"background:%s\"></i>", color);
    if (zh_name) {
        zh(out, zh_name);
        fputc(' ', out);
    }
    esc(out, en);
    fputs("</span>", out);
}

/* ---- sections ---------------------------------------------------------------- */

/* "YYYY-MM" for tables and full-width charts; in half-width charts of
 * more than six months only "MM" fits. */
static void month_labels(const struct report *r, char (*labels)[8], const char **ptrs, const char **short_ptrs)
{
    for (size_t k = 0; k < r->n_months; k++) {
        report_month_label(&r->months[k], labels[k], 8);
        ptrs[k] = labels[k];
        short_ptrs[k] = r->n_months > 6 ? labels[k] + 5 : labels[k];
    }
}

static void kpi(FILE *out, const char *label, const char *zh_label, double v, int decimals, const char *unit,
                const char *note)
{
    fputs("<div class=\"kpi\"><div class=\"kl\">", out);
    esc(out, label);
    if (zh_label) {
        fputs(" ", out);
        zh(out, zh_label);
    }
    fputs("</div><div class=\"kv\">", out);
    num(out, v, decimals);
    fputs(" <small>", out);
    esc(out, unit);
    fputs("</small></div>", out);
    if (note) {
        fputs("<div class=\"kn\">", out);
        esc(out, note);
        fputs("</div>", out);
    }
    fputs("</div>\n", out);
}

static double mean_completeness(const struct report *r, const struct report_figures *f)
{
    double samples = 0, expected = 0;
    for (size_t d = 0; d < r->setup->n_devices; d++) {
        if (isnan(f->dev[d].expected))
            continue;
        samples += isnan(f->dev[d].samples) ? 0 : fmin(f->dev[d].samples, f->dev[d].expected);
        expected += f->dev[d].expected;
    }
    return expected > 0 ? samples / expected : NAN;
}

static void head(FILE *out, const struct report *r, const char *from, const char *to)
{
    const struct report_setup *s = r->setup;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    esc(out, s->site_name);
    fprintf(out, " — energy report %s to %s</title>\n", from, to);
    fputs("<style>\n"
          "@page { size: A4; margin: 14mm 12mm; }\n"
          "body { font-family: \"Noto Sans CJK SC\", \"Source Han Sans SC\", \"Noto Sans SC\", \"PingFang SC\","
          " \"Microsoft YaHei\", \"WenQuanYi Micro Hei\", \"Helvetica Neue\", Arial, sans-serif;"
          " color: #1d2730; margin: 0 auto; max-width: 186mm; font-size: 10.5pt; line-height: 1.4; }\n"
          "h1 { font-size: 19pt; margin: 0 0 2pt; } h2 { font-size: 13pt; margin: 16pt 0 6pt;"
          " border-bottom: 1.5pt solid #2f80c1; padding-bottom: 2pt; }\n"
          ".sub { color: #52606d; margin: 0 0 10pt; }\n"
          ".kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(33mm, 1fr)); gap: 6pt; }\n"
          ".kpi { border: 1px solid #d0d7de; border-radius: 4pt; padding: 5pt 7pt; break-inside: avoid; }\n"
          ".kl { font-size: 8.5pt; color: #52606d; } .kv { font-size: 14pt; font-weight: 600; }\n"
          ".kv small { font-size: 8.5pt; font-weight: 400; color: #52606d; } .kn { font-size: 7.5pt; color: #6b7785; }\n"
          "table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 4pt 0; }\n"
          "th, td { border-bottom: 1px solid #e1e6eb; padding: 2.5pt 5pt; text-align: right; }\n"
          "th:first-child, td:first-child { text-align: left; } th { background: #f3f6f9; font-weight: 600; }\n"
          "thead { display: table-header-group; } tr { break-inside: avoid; }\n"
          "tfoot td { font-weight: 600; border-top: 1.2pt solid #9aa5b1; }\n"
          "td.l, th.l { text-align: left; } .warn { color: #b3261e; font-weight: 600; }\n"
          "h2 { break-after: avoid-page; } .chart, .two, .legend, .kpi { break-inside: avoid; }\n"
          ".chart { width: 100%; height: auto; display: block; }\n"
          ".chart text { font-size: 11px; fill: #3e4c59; } .chart .ylabel { text-anchor: end; }\n"
          ".chart .xlabel { text-anchor: middle; } .chart .unit { font-size: 10px; fill: #6b7785; }\n"
          ".chart .grid { stroke: #e4e8ec; stroke-width: 1; } .chart .axis { stroke: #7b8794; stroke-width: 1; }\n"
          ".legend { font-size: 8.5pt; margin: 2pt 0 4pt; } .key { margin-right: 10pt; white-space: nowrap; }\n"
          ".key i { display: inline-block; width: 9pt; height: 9pt; margin-right: 3pt; vertical-align: -1pt; }\n"
          ".two { display: grid; grid-template-columns: 1fr 1fr; gap: 10pt; }\n"
          ".note { font-size: 8.5pt; color: #52606d; }\n"
          "footer { margin-top: 14pt; font-size: 8pt; color: #6b7785; }\n"
          "</style>\n</head>\n<body>\n", out);
}

static void title_block(FILE *out, const struct report *r, const char *from, const char *to)
{
    const struct report_setup *s = r->setup;
    fputs("<header>\n<h1>", out);
    esc(out, s->site_name);
    fputs(" · Energy report ", out);
    zh(out, "能耗报告");
    fprintf(out, "</h1>\n<p class=\"sub\">%s", from);
    if (strcmp(from, to) != 0)
        fprintf(out, " to %s", to);
    fputs(" · site ", out);
    esc(out, s->site_id);
    fputs(" · time zone ", out);
    esc(out, s->timezone);
    fputs(" · floor area ", out);
    num(out, s->floor_area_m2 > 0 ? s->floor_area_m2 : NAN, 0);
    fputs(" m² · generated ", out);
    esc(out, r->generated);
    fputs("</p>\n</header>\n", out);
}

static void kpis(FILE *out, const struct report *r)
{
    const struct report_figures *t = &r->total;
    char note[160];
    fputs("<section class=\"kpis\">\n", out);
    kpi(out, "Site energy", "总能耗", t->site_kwh, 0, "kWh", "electricity + gas + heat");
    snprintf(note, sizeof note, "annualised %s", "");
    fmt(note + strlen(note), sizeof note - strlen(note), t->eui_annual, 1);
    snprintf(note + strlen(note), sizeof note - strlen(note), " kWh/m²·a");
    kpi(out, "EUI, period", "单位面积能耗", t->eui, 1, "kWh/m²", note);
    snprintf(note, sizeof note, "factor: %s", r->setup->factors.name);
    kpi(out, "CO₂e", "碳排放", t->co2e_total_kg / 1000.0, 1, "t", note);
    kpi(out, "Water intensity", "单位面积用水", t->water_m3_per_m2, 3, "m³/m²", NULL);
    kpi(out, "Peak 15-min demand", "最大需量", t->peak_kw, 0, "kW", t->peak_device);
    const struct report_setup *s = r->setup;
    snprintf(note, sizeof note, "outside %02d:%02d–%02d:%02d workdays", s->occupied_from_min / 60,
             s->occupied_from_min % 60, s->occupied_to_min / 60, s->occupied_to_min % 60);
    kpi(out, "Out-of-hours share", "非工作时间用电", t->baseload_share * 100, 1, "%", note);
    if (r->any_chiller)
        kpi(out, "Chiller plant COP", "冷机能效", t->cop, 2, "", NULL);
    if (r->any_boiler)
        kpi(out, "Boiler efficiency", "锅炉效率", t->boiler_efficiency * 100, 1, "%", "LHV basis");
    kpi(out, "Data completeness", "数据完整率", mean_completeness(r, t) * 100, 1, "%", "all devices");
    fputs("</section>\n", out);
}

static void category_section(FILE *out, const struct report *r, const char *const *labels)
{
    size_t n = r->n_months, series = REPORT_CAT_COUNT + 1;
    double values[(REPORT_CAT_COUNT + 1) * n];
    const char *colors[REPORT_CAT_COUNT + 1];
    for (size_t c = 0; c < REPORT_CAT_COUNT; c++) {
        colors[c] = category_colors[c];
        for (size_t k = 0; k < n; k++)
            values[c * n + k] = r->monthly[k].category_kwh[c];
    }
    colors[REPORT_CAT_COUNT] = UNATTRIBUTED_COLOR;
    for (size_t k = 0; k < n; k++) {
        const struct report_figures *f = &r->monthly[k];
        double rest = f->energy_use[REPORT_ELECTRICITY] - f->submetered[REPORT_ELECTRICITY];
        values[REPORT_CAT_COUNT * n + k] = r->has_main[REPORT_ELECTRICITY] && rest > 0 ? rest : NAN;
    }
    fputs("<section>\n<h2>Electricity by sub-metering category ", out);
    zh(out, "分项用电");
    fputs("</h2>\n<div class=\"legend\">", out);
    for (int c = 0; c < REPORT_CAT_COUNT; c++)
        if (c != REPORT_CAT_OTHER || !isnan(r->total.category_kwh[c]))
            legend_item(out, category_colors[c], report_categories[c].zh, report_categories[c].en);
    if (r->has_main[REPORT_ELECTRICITY])
        legend_item(out, UNATTRIBUTED_COLOR, "未分项", "Main meter not sub-metered");
    fputs("</div>\n", out);
    bar_chart(out, &(struct bar_chart){ "Monthly electricity by category", "kWh", n, series, labels, values, colors, CHART_W });
    /* the four categories always; "other" only when some sub-meter has no code */
    int n_cats = isnan(r->total.category_kwh[REPORT_CAT_OTHER]) ? REPORT_CAT_OTHER : REPORT_CAT_COUNT;
    fputs("<table>\n<thead><tr><th>Month</th>", out);
    for (int c = 0; c < n_cats; c++) {
        fprintf(out, "<th>%s<br>", report_categories[c].code);
        zh(out, report_categories[c].zh);
        fputs("</th>", out);
    }
    fputs("<th>Sub-meters</th><th>Main meter</th><th>Gap</th></tr></thead>\n<tbody>\n", out);
    for (size_t k = 0; k <= n; k++) {
        const struct report_figures *f = k < n ? &r->monthly[k] : &r->total;
        fputs(k < n ? "<tr><td>" : "</tbody>\n<tfoot><tr><td>", out);
        fputs(k < n ? labels[k] : "Period", out);
        fputs("</td>", out);
        for (int c = 0; c < n_cats; c++) {
            fputs("<td>", out);
            num(out, f->category_kwh[c], 0);
            fputs("</td>", out);
        }
        double sub = r->has_main[REPORT_ELECTRICITY] ? f->submetered[REPORT_ELECTRICITY] : f->energy_use[REPORT_ELECTRICITY];
        fputs("<td>", out);
        num(out, sub, 0);
        fputs("</td><td>", out);
        num(out, r->has_main[REPORT_ELECTRICITY] ? f->energy_use[REPORT_ELECTRICITY] : NAN, 0);
        fprintf(out, "</td><td%s>", fabs(f->gap_pct[REPORT_ELECTRICITY]) >= 5 ? " class=\"warn\"" : "");
        num(out, f->gap_pct[REPORT_ELECTRICITY], 1);
        fputs(isnan(f->gap_pct[REPORT_ELECTRICITY]) ? "</td></tr>\n" : " %</td></tr>\n", out);
    }
    fputs("</tfoot>\n</table>\n<p class=\"note\">kWh. Sub-codes are rolled up to their category (01B10, 01B20 → 01B00). "
          "Gap = (main − sum of sub-meters) / main; GB/T 50378 asks for less than 5 %.</p>\n</section>\n", out);
}

static void energy_section(FILE *out, const struct report *r, const char *const *labels)
{
    fputs("<section>\n<h2>Energy and water by type ", out);
    zh(out, "分类能耗");
    fputs("</h2>\n<table>\n<thead><tr><th>Month</th>", out);
    bool shown[REPORT_ENERGY_COUNT], water_gap = !isnan(r->total.gap_pct[REPORT_WATER]);
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++)
        shown[e] = e == REPORT_ELECTRICITY || !isnan(r->total.energy_use[e]);
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++) {
        if (!shown[e])
            continue;
        fprintf(out, "<th>%s ", report_energies[e].name);
        zh(out, report_energies[e].zh);
        fprintf(out, "<br>%s</th>", strcmp(report_energies[e].unit, "m3") == 0 ? "m³" : report_energies[e].unit);
    }
    if (water_gap)
        fputs("<th>Water gap</th>", out);
    fputs("<th>Site energy<br>kWh</th><th>EUI<br>kWh/m²</th><th>CO₂e<br>kg</th></tr></thead>\n<tbody>\n", out);
    size_t n = r->n_months;
    for (size_t k = 0; k <= n; k++) {
        const struct report_figures *f = k < n ? &r->monthly[k] : &r->total;
        fputs(k < n ? "<tr><td>" : "</tbody>\n<tfoot><tr><td>", out);
        fputs(k < n ? labels[k] : "Period", out);
        fputs("</td>", out);
        for (int e = 0; e < REPORT_ENERGY_COUNT; e++) {
            if (!shown[e])
                continue;
            fputs("<td>", out);
            num(out, f->energy_use[e], e == REPORT_ELECTRICITY || e == REPORT_HEAT ? 0 : 1);
            fputs("</td>", out);
        }
        if (water_gap) {
            fprintf(out, "<td%s>", fabs(f->gap_pct[REPORT_WATER]) >= 5 ? " class=\"warn\"" : "");
            num(out, f->gap_pct[REPORT_WATER], 1);
            fputs(isnan(f->gap_pct[REPORT_WATER]) ? "</td>" : " %</td>", out);
        }
        fputs("<td>", out);
        num(out, f->site_kwh, 0);
        fputs("</td><td>", out);
        num(out, f->eui, 2);
        fputs("</td><td>", out);
        num(out, f->co2e_total_kg, 0);
        fputs("</td></tr>\n", out);
    }
    fputs("</tfoot>\n</table>\n<p class=\"note\">EUI annualised: ", out);
    num(out, r->total.eui_annual, 1);
    fputs(" kWh/(m²·a). Water use intensity: ", out);
    num(out, r->total.water_m3_per_m2, 3);
    fputs(" m³/m² in the period, ", out);
    num(out, r->total.water_m3_per_m2_annual, 3);
    fprintf(out, " m³/(m²·a) annualised. Gas counts in site energy at %g kWh/m³.</p>\n</section>\n",
            r->setup->gas_kwh_per_m3);
}

static void demand_section(FILE *out, const struct report *r, const char *const *labels, const char *const *short_labels)
{
    size_t n = r->n_months;
    double peaks[n], shares[n];
    for (size_t k = 0; k < n; k++) {
        peaks[k] = r->monthly[k].peak_kw;
        shares[k] = r->monthly[k].baseload_share * 100;
    }
    static const char *const bar_color[] = { BAR_COLOR }, *const share_color[] = { SHARE_COLOR };
    fputs("<section>\n<h2>Peak demand and out-of-hours use ", out);
    zh(out, "最大需量与非工作时间用电");
    fputs("</h2>\n<div class=\"two\"><div>", out);
    bar_chart(out, &(struct bar_chart){ "Peak 15-minute demand", "kW", n, 1, short_labels, peaks, bar_color, CHART_W / 2 });
    fputs("</div><div>", out);
    bar_chart(out, &(struct bar_chart){ "Out-of-hours share", "%", n, 1, short_labels, shares, share_color, CHART_W / 2 });
    fputs("</div></div>\n<table>\n<thead><tr><th>Month</th><th>Peak kW</th><th class=\"l\">When</th>"
          "<th>Out of hours kWh</th><th>Share</th></tr></thead>\n<tbody>\n", out);
    for (size_t k = 0; k < n; k++) {
        const struct report_figures *f = &r->monthly[k];
        char when[40] = "–";
        if (!isnan(f->peak_kw)) {
            report_iso_time(r, f->peak_ms, when, sizeof when);
            when[16] = '\0';
            when[10] = ' ';
        }
        fprintf(out, "<tr><td>%s</td><td>", labels[k]);
        num(out, f->peak_kw, 1);
        fprintf(out, "</td><td class=\"l\">%s</td><td>", when);
        num(out, f->out_of_hours_kwh, 0);
        fputs("</td><td>", out);
        num(out, f->baseload_share * 100, 1);
        fputs(isnan(f->baseload_share) ? "</td></tr>\n" : " %</td></tr>\n", out);
    }
    fprintf(out, "</tbody>\n</table>\n<p class=\"note\">Out of hours: outside %02d:%02d–%02d:%02d Monday to Friday, "
                 "site time, from the main electricity meter's 15-minute sums.</p>\n</section>\n",
            r->setup->occupied_from_min / 60, r->setup->occupied_from_min % 60, r->setup->occupied_to_min / 60,
            r->setup->occupied_to_min % 60);
}

static void plant_section(FILE *out, const struct report *r, const char *const *labels)
{
    if (!r->any_chiller && !r->any_boiler && !r->any_weather)
        return;
    fputs("<section>\n<h2>Plant efficiency and weather ", out);
    zh(out, "机房能效与气象");
    fputs("</h2>\n<table>\n<thead><tr><th>Month</th><th>Chiller COP</th><th>kW/ton</th>"
          "<th>Boiler efficiency</th><th>HDD18</th><th>CDD26</th><th>Days with temperature</th></tr></thead>\n<tbody>\n",
          out);
    size_t n = r->n_months;
    for (size_t k = 0; k <= n; k++) {
        const struct report_figures *f = k < n ? &r->monthly[k] : &r->total;
        fputs(k < n ? "<tr><td>" : "</tbody>\n<tfoot><tr><td>", out);
        fputs(k < n ? labels[k] : "Period", out);
        fputs("</td><td>", out);
        num(out, f->cop, 2);
        fputs("</td><td>", out);
        num(out, f->kw_per_ton, 3);
        fputs("</td><td>", out);
        num(out, f->boiler_efficiency * 100, 1);
        fputs(isnan(f->boiler_efficiency) ? "</td><td>" : " %</td><td>", out);
        num(out, f->hdd, 0);
        fputs("</td><td>", out);
        num(out, f->cdd, 0);
        fprintf(out, "</td><td>%d</td></tr>\n", f->temp_days);
    }
    fputs("</tfoot>\n</table>\n<p class=\"note\">COP = Σ cooling kW / Σ electrical kW over the samples in which a "
          "chiller ran (had a COP); kW/ton = Σ kW / (Σ cooling kW / 3.51685). Boiler efficiency = Σ heat kW / "
          "Σ (gas m³/h × LHV). Degree days from daily mean outdoor temperature, base 18 °C and 26 °C.</p>\n</section>\n",
          out);
}

static void meters_section(FILE *out, const struct report *r)
{
    const struct report_setup *s = r->setup;
    fputs("<section>\n<h2>Meters and data completeness ", out);
    zh(out, "计量表与数据完整率");
    fputs("</h2>\n<table>\n<thead><tr><th>Device</th><th class=\"l\">Kind</th><th class=\"l\">Category</th>"
          "<th class=\"l\">Energy</th><th>Use</th><th>Peak kW</th><th>Completeness</th><th>Gaps</th></tr></thead>\n<tbody>\n",
          out);
    for (size_t d = 0; d < s->n_devices; d++) {
        const struct report_device *dv = &s->devices[d];
        const struct report_dev_figures *df = &r->total.dev[d];
        fputs("<tr><td>", out);
        esc(out, dv->id);
        if (dv->main_meter)
            fputs(" <small>(main)</small>", out);
        fputs("</td><td class=\"l\">", out);
        esc(out, dv->kind);
        fputs("</td><td class=\"l\">", out);
        if (dv->category) {
            esc(out, dv->category);
            int c = report_category_of(dv->category);
            if (c != REPORT_CAT_OTHER && dv->energy == REPORT_ELECTRICITY && !dv->main_meter) {
                fputc(' ', out);
                zh(out, report_categories[c].zh);
            }
        }
        fputs("</td><td class=\"l\">", out);
        if (dv->energy >= 0)
            esc(out, report_energies[dv->energy].name);
        fputs("</td><td>", out);
        num(out, df->use, 1);
        if (!isnan(df->use))
            fprintf(out, " %s", strcmp(report_energies[dv->energy].unit, "m3") == 0 ? "m³" : report_energies[dv->energy].unit);
        fputs("</td><td>", out);
        num(out, df->peak_kw, 1);
        fprintf(out, "</td><td%s>", df->completeness * 100 < s->estimated_below_pct ? " class=\"warn\"" : "");
        num(out, df->completeness * 100, 1);
        fprintf(out, isnan(df->completeness) ? "</td><td>%zu</td></tr>\n" : " %%</td><td>%zu</td></tr>\n", r->n_gaps[d]);
    }
    fputs("</tbody>\n</table>\n<p class=\"note\">Completeness = samples stored / samples expected (the period ÷ the "
          "device's poll interval).</p>\n</section>\n", out);
}

static void anomalies_section(FILE *out, const struct report *r)
{
    fprintf(out, "<section>\n<h2>Anomalies ");
    zh(out, "异常");
    fprintf(out, "</h2>\n<p class=\"note\">Daily average use changed by more than %g %% against the month before "
                 "(MoM) or the same month a year before (YoY).</p>\n",
            r->setup->anomaly_pct);
    if (!r->n_anomalies) {
        fputs("<p>None.</p>\n</section>\n", out);
        return;
    }
    fputs("<table>\n<thead><tr><th>Month</th><th class=\"l\">What</th><th class=\"l\">Against</th><th>Before /day</th>"
          "<th>Now /day</th><th>Change</th></tr></thead>\n<tbody>\n", out);
    for (size_t i = 0; i < r->n_anomalies; i++) {
        const struct report_anomaly *a = &r->anomalies[i];
        char month[8];
        report_month_label(&r->months[a->month], month, sizeof month);
        fprintf(out, "<tr><td>%s</td><td class=\"l\">%s ", month, a->scope);
        esc(out, a->what);
        fprintf(out, "</td><td class=\"l\">%s</td><td>", a->year_on_year ? "YoY" : "MoM");
        num(out, a->before, 1);
        fputs("</td><td>", out);
        num(out, a->now, 1);
        fprintf(out, " %s</td><td class=\"warn\">%+.1f %%</td></tr>\n", strcmp(a->unit, "m3") == 0 ? "m³" : a->unit,
                a->change_pct);
    }
    fputs("</tbody>\n</table>\n</section>\n", out);
}

static void gaps_section(FILE *out, const struct report *r)
{
    const struct report_setup *s = r->setup;
    size_t total = 0, listed = 0;
    for (size_t d = 0; d < s->n_devices; d++)
        total += r->n_gaps[d];
    fputs("<section>\n<h2>Data gaps ", out);
    zh(out, "数据缺失");
    fprintf(out, "</h2>\n<p class=\"note\">Intervals without a sample longer than %d poll intervals.</p>\n",
            s->gap_intervals);
    if (!total) {
        fputs("<p>None.</p>\n</section>\n", out);
        return;
    }
    fputs("<table>\n<thead><tr><th>Device</th><th class=\"l\">From</th><th class=\"l\">To</th><th>Hours</th></tr></thead>\n<tbody>\n",
          out);
    for (size_t d = 0; d < s->n_devices; d++) {
        for (size_t g = 0; g < r->n_gaps[d] && listed < MAX_GAPS_LISTED; g++, listed++) {
            char from[40], to[40];
            report_iso_time(r, r->gaps[d][g].from_ms, from, sizeof from);
            report_iso_time(r, r->gaps[d][g].to_ms, to, sizeof to);
            from[10] = to[10] = ' ';
            from[19] = to[19] = '\0';
            fputs("<tr><td>", out);
            esc(out, s->devices[d].id);
            fprintf(out, "</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>", from, to);
            num(out, (double)(r->gaps[d][g].to_ms - r->gaps[d][g].from_ms) / 3600000.0, 2);
            fputs("</td></tr>\n", out);
        }
    }
    fputs("</tbody>\n</table>\n", out);
    if (total > listed)
        fprintf(out, "<p class=\"note\">… and %zu more (all are in the JSON report).</p>\n", total - listed);
    fputs("</section>\n", out);
}

static void factors_section(FILE *out, const struct report *r)
{
    const struct report_setup *s = r->setup;
    fputs("<section>\n<h2>Emission factors ", out);
    zh(out, "排放因子");
    fputs("</h2>\n<table>\n<tbody>\n<tr><td>Set</td><td class=\"l\">", out);
    esc(out, s->factors.name);
    fprintf(out, "</td></tr>\n<tr><td>Year</td><td class=\"l\">%d</td></tr>\n<tr><td>Source</td><td class=\"l\">",
            s->factors.year);
    esc(out, s->factors.source);
    fputs("</td></tr>\n", out);
    static const char *const units[REPORT_ENERGY_COUNT] = { "kg CO₂/kWh", NULL, "kg CO₂e/m³", "kg CO₂e/kWh" };
    for (int e = 0; e < REPORT_ENERGY_COUNT; e++) {
        if (!units[e])
            continue;
        fprintf(out, "<tr><td>%s</td><td class=\"l\">", report_energies[e].name);
        if (s->factors.kg[e] >= 0)
            fprintf(out, "%g %s", s->factors.kg[e], units[e]);
        else
            fputs("not in the set: not counted", out);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody>\n</table>\n</section>\n", out);
}

int report_write_html(const struct report *r, FILE *out)
{
    char from[8], to[8];
    report_month_label(&r->months[0], from, sizeof from);
    report_month_label(&r->months[r->n_months - 1], to, sizeof to);
    char labels[r->n_months][8];
    const char *ptrs[r->n_months], *short_ptrs[r->n_months];
    month_labels(r, labels, ptrs, short_ptrs);
    head(out, r, from, to);
    title_block(out, r, from, to);
    kpis(out, r);
    category_section(out, r, ptrs);
    energy_section(out, r, ptrs);
    demand_section(out, r, ptrs, short_ptrs);
    plant_section(out, r, ptrs);
    meters_section(out, r);
    anomalies_section(out, r);
    gaps_section(out, r);
    factors_section(out, r);
    fputs("<footer>greenwatch " GW_VERSION " · figures, formulas and data sources: docs/reports.md</footer>\n"
          "</body>\n</html>\n", out);
    return ferror(out) ? -EIO : 0;
}
