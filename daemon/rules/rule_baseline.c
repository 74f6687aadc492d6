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
 *
 * Days and coverage are on the device's clock (the samples' time), which
 * may be far from the wall clock and, in the simulator's accelerated
 * fills, run faster than it: the first day summed is the first good
 * reading's, and a reading covers the device time since the sample before
 * it, not the configured polling interval.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "local_time.h"
#include "rule.h"

#define BASELINE_HISTORY (8 * 7 + 1)  /* the most weeks a rule may look back, and today */
#define NO_DAY (-1)
/* A reading covers at most this many times the spacing of the samples
 * before it. */
#define MAX_SPACINGS 2.0

struct day_total {
    int day;
    double total, coverage;
};

struct baseline {
    int day;                   /* the day being summed, or NO_DAY before the first reading */
    double total;
    long samples;              /* good readings of the day */
    double covered_s;          /* the device time they cover */
    double spacing_s;          /* between the last two samples; 0 before one is seen */
    bool clock_seen;           /* a good reading since the engine started */
    struct day_total history[BASELINE_HISTORY];  /* oldest first */
    size_t n_history;
};

/* The day is not taken from now_ms, the wall clock the engine starts on:
 * a device whose clock is months behind it would see every reading
 * dropped as late.  The first good reading gives it (baseline_sample). */
static int baseline_init(struct rule_inst *r, int64_t now_ms)
{
    (void)now_ms;
    struct baseline *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->day = NO_DAY;
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

/* The latest day remembered, or NO_DAY. */
static int last_remembered(const struct baseline *d)
{
    return d->n_history ? d->history[d->n_history - 1].day : NO_DAY;
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
    double coverage = length > 0 ? fmin(1, d->covered_s * 1000 / (double)length) : 0;
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
    d->covered_s = 0;
    r->dirty = true;
}

/*
 * Time has come to t on the device's clock: the day is over once t is in a
 * later one.  Not before a good reading since the engine started, though:
 * until the device's first sample, ticks come on the wall clock, and so
 * does the time of a poll that failed before the device's clock was ever
 * read (device.c), so either would end a day restored from the state file
 * at once, and drop as late the readings of a device whose clock is behind
 * the wall.  The flag is the rule's own: holding all of a device's rules'
 * ticks until its first sample would stop comm_loss, which must run on
 * ticks before any sample, and any sample, even a failed one, would end
 * such a hold.
 */
static void advance(struct rule_inst *r, int64_t t)
{
    const struct baseline *d = r->data;
    if (d->clock_seen && d->day != NO_DAY && local_day(t) > d->day)
        finish_day(r, t);
}

/*
 * The device time a sample stands for: elapsed_s, since the device's
 * previous sample on its clock (a simulator playing 120 s per poll of
 * 0.1 s counts 120 s), but at most MAX_SPACINGS times the spacing of the
 * samples before it, so that time with no samples at all (the daemon
 * stalled, the device's clock jumping ahead) is not counted as read, while
 * a device polled at a steady pace has every reading counted in full.
 * Until a spacing is seen the configured interval stands in for it: right
 * for a device at the wall's pace; for a faster one only that first
 * spacing is undercounted.  A poll that failed comes as a bad sample whose
 * time is not counted: the reading after it covers only the time since.
 */
static double spent(const struct rule_inst *r, struct baseline *d, const struct gw_sample *s)
{
    double elapsed = s->elapsed_s > 0 ? s->elapsed_s : 0;
    double spacing = d->spacing_s > 0 ? d->spacing_s : (double)r->dev->interval_ms / 1000;
    if (elapsed > 0)
        d->spacing_s = elapsed;
    return fmin(elapsed, MAX_SPACINGS * spacing);
}

static void baseline_sample(struct rule_inst *r, const struct gw_sample *s, int64_t t)
{
    struct baseline *d = r->data;
    double v, covers = spent(r, d, s);
    int day = local_day(t);
    if (rule_reading(s, r->cfg->point, &v)) {
        advance(r, t);
        return;  /* no good value */
    }
    d->clock_seen = true;
    /* The first day is the first reading's, unless a day as late has been
     * judged already: then the reading is late. */
    if (d->day == NO_DAY && day > last_remembered(d))
        d->day = day;
    advance(r, t);
    if (day != d->day)
        return;  /* a late sample of a day already judged */
    d->total += v;
    d->samples++;
    d->covered_s += covers;
    r->dirty = true;
}

static void baseline_tick(struct rule_inst *r, int64_t now_ms)
{
    advance(r, now_ms);
}

static int baseline_save(const struct rule_inst *r, cJSON *data)
{
    const struct baseline *d = r->data;
    char date[16];
    cJSON *history = cJSON_AddArrayToObject(data, "history");
    if (!history)
        return -ENOMEM;
    if (d->day != NO_DAY &&
        (!cJSON_AddStringToObject(data, "day", local_day_text(d->day, date, sizeof date)) ||
         !cJSON_AddNumberToObject(data, "total", d->total) ||
         !cJSON_AddNumberToObject(data, "samples", (double)d->samples) ||
         !cJSON_AddNumberToObject(data, "covered_s", d->covered_s)))
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
    const cJSON *covered = cJSON_GetObjectItemCaseSensitive(data, "covered_s");
    int today = local_day_parse(cJSON_GetStringValue(day));
    /* A day without readings is not restored: it says no more than the
     * history does, and files written before the day was the device's
     * hold the wall clock's day there, which would drop the readings of a
     * device whose clock is behind it as late. */
    if (today >= 0 && cJSON_IsNumber(total) && cJSON_IsNumber(samples) && samples->valuedouble >= 1) {
        d->day = today;
        d->total = total->valuedouble;
        d->samples = (long)samples->valuedouble;
        /* Files written before coverage was the device's time: as it was then. */
        d->covered_s = cJSON_IsNumber(covered) ? covered->valuedouble
                                               : (double)d->samples * (double)r->dev->interval_ms / 1000;
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
