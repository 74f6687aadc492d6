/*
 * Baseline rules: a day's total of an interval-delta point (e.g. the
 * energy_kwh_delta a meter kind derives) against the same weekday of the
 * previous `weeks` weeks, judged once the local day is over.  The day is
 * anomalous when it lies beyond `sigma` standard deviations of those days
 * and/or `percent` of their mean (with both, beyond both), above, below or
 * either way (direction), and by more than min_deviation: after days of no
 * use, when the mean and its spread are 0, any use at all would be beyond
 * both.  Days read for less than min_coverage of their length are neither
 * judged nor used as history.  The alarm holds until the next day is
 * judged.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "local_time.h"
#include "rule.h"

#define BASELINE_HISTORY (8 * 7 + 1)  /* the most weeks a rule may look back, and today */

struct day_total {
    int day;
    double total, coverage;
};

struct baseline {
    int day;                   /* the day being summed */
    double total;
    long samples;
    struct day_total history[BASELINE_HISTORY];  /* oldest first */
    size_t n_history;
};

static int baseline_init(struct rule_inst *r, int64_t now_ms)
{
    struct baseline *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->day = local_day(now_ms);
    r->data = d;
    return 0;
}

static void remember(struct baseline *d, int day, double total, double coverage)
{
    if (d->n_history == BASELINE_HISTORY) {
        memmove(d->history, d->history + 1, (BASELINE_HISTORY - 1) * sizeof *d->history);
        d->n_history--;
    }
    d->history[d->n_history++] = (struct day_total){ day, total, coverage };
}

static const struct day_total *recall(const struct baseline *d, int day)
{
    for (size_t i = 0; i < d->n_history; i++)
        if (d->history[i].day == day)
            return &d->history[i];
    return NULL;
}

static bool beyond(int direction, double deviation, double bound)
{
    switch (direction) {
    case GW_DIRECTION_ABOVE: return deviation > bound;
    case GW_DIRECTION_BELOW: return -deviation > bound;
    default: return fabs(deviation) > bound;
    }
}

struct verdict {
    int n;
    double mean, bound;        /* bound: the deviation the day had to exceed */
    bool judged, anomalous;
};

/* Judge total of day against the same weekday of the previous weeks. */
static struct verdict judge(const struct rule_inst *r, const struct baseline *d, int day, double total)
{
    const struct gw_rule_cfg *c = r->cfg;
    double sum = 0, sq = 0, values[8];
    struct verdict v = { 0 };
    for (int k = 1; k <= c->weeks && k <= 8; k++) {
        const struct day_total *h = recall(d, day - 7 * k);
        if (h && h->coverage >= c->min_coverage)
            sum += values[v.n++] = h->total;
    }
    if (!v.n)
        return v;
    v.mean = sum / v.n;
    for (int i = 0; i < v.n; i++)
        sq += (values[i] - v.mean) * (values[i] - v.mean);
    /* A floor of 1 % of the mean, so that very regular history does not
     * flag every small difference. */
    double sd = fmax(v.n > 1 ? sqrt(sq / (v.n - 1)) : 0, 0.01 * fabs(v.mean));
    bool use_sigma = c->sigma > 0 && v.n >= 2, use_percent = c->percent > 0;
    v.judged = use_sigma || use_percent;
    v.bound = fmax(use_sigma ? c->sigma * sd : 0, use_percent ? c->percent / 100 * fabs(v.mean) : 0);
    v.bound = fmax(v.bound, c->min_deviation);
    v.anomalous = v.judged && beyond(c->direction, total - v.mean, v.bound);
    return v;
}

static void report(struct rule_inst *r, int day, double total, const struct verdict *v)
{
    char date[16];
    static const char *const weekdays[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                            "Saturday" };
    double limit = total >= v->mean ? v->mean + v->bound : v->mean - v->bound;
    rule_note(r, total, limit);
    if (v->anomalous)
        rule_message(r, "daily %s %g on %s (%s) is %.0f %% %s the mean %g of %d previous %ss (limit %g)",
                     r->cfg->point, total, local_day_text(day, date, sizeof date), weekdays[local_weekday(day)],
                     v->mean ? 100 * fabs(total - v->mean) / fabs(v->mean) : 100.0,
                     total >= v->mean ? "above" : "below", v->mean, v->n, weekdays[local_weekday(day)], limit);
}

/* The day is over: remember it and judge it. */
static void finish_day(struct rule_inst *r, int64_t t)
{
    struct baseline *d = r->data;
    int64_t start = local_midnight_ms(d->day), length = local_midnight_ms(d->day + 1) - start;
    double coverage = length > 0 ? fmin(1, (double)d->samples * (double)r->dev->interval_ms / (double)length) : 0;
    remember(d, d->day, d->total, coverage);
    if (coverage >= r->cfg->min_coverage) {
        struct verdict v = judge(r, d, d->day, d->total);
        if (v.judged) {
            alarm_condition(&r->alarm, v.anomalous ? 1 : 0, r->cfg->severity, start);
            report(r, d->day, d->total, &v);
        }
    }
    d->day = local_day(t);
    d->total = 0;
    d->samples = 0;
    r->dirty = true;
}

static void baseline_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct baseline *d = r->data;
    double v;
    int day = local_day(t);
    if (day > d->day)
        finish_day(r, t);
    if (day < d->day || rule_reading(s, r->cfg->point, &v))
        return;  /* a late sample of a day already judged, or no good value */
    d->total += v;
    d->samples++;
    r->dirty = true;
}

static void baseline_tick(struct rule_inst *r, int64_t now_ms)
{
    const struct baseline *d = r->data;
    if (local_day(now_ms) > d->day)
        finish_day(r, now_ms);
}

static int baseline_save(const struct rule_inst *r, cJSON *data)
{
    const struct baseline *d = r->data;
    char date[16];
    cJSON *history = cJSON_AddArrayToObject(data, "history");
    if (!history || !cJSON_AddStringToObject(data, "day", local_day_text(d->day, date, sizeof date)) ||
        !cJSON_AddNumberToObject(data, "total", d->total) || !cJSON_AddNumberToObject(data, "samples", (double)d->samples))
        return -ENOMEM;
    for (size_t i = 0; i < d->n_history; i++) {
        cJSON *h = cJSON_CreateObject();
        if (!h || !cJSON_AddItemToArray(history, h) ||
            !cJSON_AddStringToObject(h, "day", local_day_text(d->history[i].day, date, sizeof date)) ||
            !cJSON_AddNumberToObject(h, "total", d->history[i].total) ||
            !cJSON_AddNumberToObject(h, "coverage", d->history[i].coverage))
            return -ENOMEM;
    }
    return 0;
}

static void baseline_load(struct rule_inst *r, const cJSON *data)
{
    struct baseline *d = r->data;
    const cJSON *day = cJSON_GetObjectItemCaseSensitive(data, "day");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(data, "total");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(data, "samples");
    int today = local_day_parse(cJSON_GetStringValue(day));
    if (today >= 0 && cJSON_IsNumber(total) && cJSON_IsNumber(samples)) {
        d->day = today;
        d->total = total->valuedouble;
        d->samples = (long)samples->valuedouble;
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(data, "history")) {
        int hday = local_day_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "day")));
        const cJSON *ht = cJSON_GetObjectItemCaseSensitive(h, "total");
        const cJSON *hc = cJSON_GetObjectItemCaseSensitive(h, "coverage");
        if (hday >= 0 && cJSON_IsNumber(ht) && cJSON_IsNumber(hc) && !recall(d, hday))
            remember(d, hday, ht->valuedouble, hc->valuedouble);
    }
}

static void baseline_free(struct rule_inst *r)
{
    free(r->data);
}

const struct rule_ops rule_baseline_ops = {
    .init = baseline_init, .sample = baseline_sample, .tick = baseline_tick, .save = baseline_save,
    .load = baseline_load, .free = baseline_free,
};
