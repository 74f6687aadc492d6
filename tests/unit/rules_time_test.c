/*
 * Rules on the calendar and on counts: schedule windows in the site's
 * timezone (across midnight, on weekends, with grace, on ticks),
 * maintenance reminders at 80 % and 100 % and their reset, expression
 * rules with delays and unknown inputs, and daily baselines judged after
 * local midnight against synthetic history, on a clock that is the wall's
 * and on a simulator's, months behind it and running faster.
 */
#include <cJSON.h>
#include <time.h>

#include "rules_fixture.h"
#include "rules/local_time.h"

/* Local times in Asia/Shanghai (UTC+8, no daylight saving). */
#define SHANGHAI FX_SITE("Asia/Shanghai") FX_BUS
/* 2024-05-06 is a Monday; 2024-05-10 a Friday. */
static int64_t local_ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_isdst = -1 };
    return (int64_t)mktime(&tm) * 1000;
}

struct timed {
    int day, h, m;             /* of May 2024, local */
    double v;
    enum gw_quality q;
    bool tick;
    enum gw_alarm_state want;
    int events;
};

static void run_timed(struct fx *fx, const char *what, const char *rule, const char *point, const struct timed *s,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t t = local_ms(2024, 5, s[i].day, s[i].h, s[i].m);
        size_t before = fx->n_events;
        if (s[i].tick)
            rules_tick(fx->rules, t);
        else
            fx_sample(fx, t, point, s[i].v, s[i].q);
        enum gw_alarm_state got = fx_state(fx, rule);
        bool ok = got == s[i].want && fx->n_events - before == (size_t)s[i].events;
        if (!ok)
            fprintf(stderr, "\n  %s, step %zu (May %d %02d:%02d): %s (want %s), %zu events (want %d)\n", what, i + 1,
                    s[i].day, s[i].h, s[i].m, alarm_state_name(got), alarm_state_name(s[i].want),
                    fx->n_events - before, s[i].events);
        CU_ASSERT(ok);
    }
}

#define RUN_TIMED(fx, what, rule, point, steps) run_timed((fx), (what), (rule), (point), (steps), sizeof(steps) / sizeof *(steps))

static void test_schedule_workdays(void)
{
    struct fx fx;
    fx_open(&fx, SHANGHAI FX_DEVICE("generic", "60")
                 "rules = ( { id = \"sched\"; device = \"d\"; type = \"schedule\"; point = \"run\"; days = \"workdays\";\n"
                 "  start = \"07:30\"; end = \"18:00\"; grace_s = 600; } );\n",
            local_ms(2024, 5, 6, 0, 0));
    static const struct timed steps[] = {
        { 6, 7, 15, 0, GOOD, false, NORMAL, 0 },    /* Monday */
        { 6, 7, 19, 1, GOOD, false, ACT_UN, 1 },    /* 11 minutes early: before the grace */
        { 6, 7, 20, 1, GOOD, false, RET_UN, 1 },    /* in the grace before 07:30 */
        { 6, 12, 0, 1, GOOD, false, RET_UN, 0 },
        { 6, 18, 9, 1, GOOD, false, RET_UN, 0 },    /* in the grace after 18:00 */
        { 6, 18, 10, 0, GOOD, true, ACT_UN, 1 },    /* still running, no sample: a tick finds it */
        { 6, 18, 20, 0, GOOD, false, RET_UN, 1 },   /* stopped */
        { 6, 23, 0, 1, BAD, false, RET_UN, 0 },     /* unknown: nothing */
        { 11, 10, 0, 1, GOOD, false, ACT_UN, 1 },   /* Saturday */
        { 12, 23, 59, 1, GOOD, false, ACT_UN, 0 },  /* Sunday */
        { 13, 7, 25, 1, GOOD, false, RET_UN, 1 },   /* Monday again */
    };
    RUN_TIMED(&fx, "workdays", "sched", "run", steps);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "running outside its schedule (07:30-18:00)");
    fx_close(&fx);
}

static void test_schedule_across_midnight(void)
{
    /* Night shift on Fridays: Friday 22:00 to Saturday 06:00. */
    struct fx fx;
    fx_open(&fx, SHANGHAI FX_DEVICE("generic", "60")
                 "rules = ( { id = \"night\"; device = \"d\"; type = \"schedule\"; point = \"run\"; days = [ \"fri\" ];\n"
                 "  start = \"22:00\"; end = \"06:00\"; on_delay_s = 120; } );\n",
            local_ms(2024, 5, 10, 0, 0));
    static const struct timed steps[] = {
        { 10, 21, 0, 1, GOOD, false, NORMAL, 0 },   /* Friday before the window: on-delay */
        { 10, 21, 1, 1, GOOD, false, NORMAL, 0 },
        { 10, 21, 2, 1, GOOD, false, ACT_UN, 1 },
        { 10, 22, 0, 1, GOOD, false, RET_UN, 1 },
        { 11, 0, 30, 1, GOOD, false, RET_UN, 0 },   /* past midnight, in Friday's window */
        { 11, 5, 59, 1, GOOD, false, RET_UN, 0 },
        { 11, 6, 0, 1, GOOD, false, RET_UN, 0 },    /* the window ended: on-delay */
        { 11, 6, 2, 1, GOOD, true, ACT_UN, 1 },
        { 11, 23, 0, 1, GOOD, false, ACT_UN, 0 },   /* Saturday night is not Friday's */
    };
    RUN_TIMED(&fx, "across midnight", "night", "run", steps);
    fx_close(&fx);
}

static void test_schedule_expression(void)
{
    /* Consumption outside occupied hours: power above a base load. */
    struct fx fx;
    fx_open(&fx, SHANGHAI FX_DEVICE("generic", "60")
                 "rules = ( { id = \"after-hours\"; device = \"d\"; type = \"schedule\"; expr = \"p > 50\";\n"
                 "  days = \"daily\"; start = \"08:00\"; end = \"20:00\"; } );\n",
            local_ms(2024, 5, 6, 0, 0));
    static const struct timed steps[] = {
        { 6, 21, 0, 30, GOOD, false, NORMAL, 0 },
        { 6, 21, 1, 80, GOOD, false, ACT_UN, 1 },
        { 6, 21, 2, 80, UNCERTAIN, false, ACT_UN, 0 },
        { 7, 9, 0, 80, GOOD, false, RET_UN, 1 },
    };
    RUN_TIMED(&fx, "schedule expr", "after-hours", "p", steps);
    fx_close(&fx);
}

/* local_in_window directly, on a day with the window's edges. */
static void test_window_edges(void)
{
    local_time_set_zone("Asia/Shanghai");
    static const struct {
        int day, h, m;
        int days, start, end, grace_min;
        bool in;
    } cases[] = {
        { 6, 7, 30, 0x3e, 450, 1080, 0, true },
        { 6, 7, 29, 0x3e, 450, 1080, 0, false },
        { 6, 17, 59, 0x3e, 450, 1080, 0, true },
        { 6, 18, 0, 0x3e, 450, 1080, 0, false },     /* the end is not in */
        { 6, 23, 59, 0x7f, 0, 1440, 0, true },       /* 00:00-24:00 */
        { 11, 1, 0, 0x20, 1320, 360, 0, true },      /* Friday's night into Saturday */
        { 12, 1, 0, 0x20, 1320, 360, 0, false },
        { 13, 0, 30, 0x40, 1320, 360, 60, false },   /* Saturday's window ends 06:00 Sunday (+1 h) */
        { 12, 6, 59, 0x40, 1320, 360, 60, true },
        { 12, 7, 0, 0x40, 1320, 360, 60, false },
        { 10, 21, 0, 0x40, 1320, 360, 60, false },   /* Friday, before Saturday's window's grace */
        { 11, 21, 0, 0x40, 1320, 360, 60, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool in = local_in_window(local_ms(2024, 5, cases[i].day, cases[i].h, cases[i].m), cases[i].days,
                                  cases[i].start, cases[i].end, cases[i].grace_min * 60000LL);
        if (in != cases[i].in)
            fprintf(stderr, "\n  window case %zu: %d\n", i + 1, in);
        CU_ASSERT_EQUAL(in, cases[i].in);
    }
    char buf[16];
    int day = local_day(local_ms(2024, 5, 6, 0, 30));
    CU_ASSERT_STRING_EQUAL(local_day_text(day, buf, sizeof buf), "2024-05-06");
    CU_ASSERT_EQUAL(local_weekday(day), 1);
    CU_ASSERT_EQUAL(local_day_parse("2024-05-06"), day);
    CU_ASSERT_EQUAL(local_day_parse("2024-13-06"), -1);
    CU_ASSERT_EQUAL(local_day_parse("2024-05-06x"), -1);
    CU_ASSERT_EQUAL(local_midnight_ms(day), local_ms(2024, 5, 6, 0, 0));
    CU_ASSERT_EQUAL(local_time_set_zone("Nowhere/Atlantis"), -ENOENT);
    CU_ASSERT_EQUAL(local_time_set_zone("UTC"), 0);
}

/* ---- maintenance ---------------------------------------------------------- */

static void test_maintenance_run_hours(void)
{
    struct fx fx;
    fx_open(&fx, FX_SITE("UTC") FX_BUS FX_DEVICE("generic", "900")
                 "rules = ( { id = \"service\"; device = \"d\"; type = \"maintenance\"; point = \"run\";\n"
                 "  measure = \"run_hours\"; interval = 10; severity = \"high\"; } );\n", FX_S(0));
    /* Running, sampled every 15 minutes. */
    for (int i = 0; i <= 4 * 10; i++) {
        fx_sample(&fx, FX_S(i * 900), "run", 1, GOOD);
        CU_ASSERT_EQUAL(fx_state(&fx, "service"), i >= 4 * 8 ? ACT_UN : NORMAL);
        CU_ASSERT_EQUAL(fx.n_events, i >= 4 * 10 ? 2u : i >= 4 * 8 ? 1u : 0u);
    }
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 2u);
    /* The reminder, at 8 h exactly, low. */
    CU_ASSERT_EQUAL(fx.events[0].ts_ms, FX_S(32 * 900));
    CU_ASSERT_EQUAL(fx.events[0].severity, GW_SEVERITY_LOW);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].limit, 8, 1e-9);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "service due soon: 8 h of 10 h since the last service (80 %)");
    /* Due: the severity rises and it awaits acknowledgement again. */
    CU_ASSERT_EQUAL(fx.events[1].from, ACT_UN);
    CU_ASSERT_EQUAL(fx.events[1].to, ACT_UN);
    CU_ASSERT_EQUAL(fx.events[1].severity, GW_SEVERITY_HIGH);
    CU_ASSERT_STRING_EQUAL(fx.events[1].message, "service due: 10 h since the last service (interval 10 h)");

    /* Stopped: hours do not count. */
    fx_sample(&fx, FX_S(41 * 900), "run", 0, GOOD);
    fx_sample(&fx, FX_S(42 * 900), "run", 0, GOOD);
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "d", "service", "ops", FX_S(42 * 900 + 1), NULL), 0);
    CU_ASSERT_EQUAL(fx_state(&fx, "service"), ACT_ACK);
    const char *by;
    int64_t at;
    CU_ASSERT_EQUAL(rules_last_service(fx.rules, "d", "service", &by, &at), 0);
    CU_ASSERT_STRING_EQUAL(by, "");
    size_t before = fx.n_events;
    CU_ASSERT_EQUAL(rules_service_done(fx.rules, "d", "service", "wang.li", FX_S(43 * 900), NULL), 0);
    CU_ASSERT_EQUAL(fx.n_events, before + 1);
    CU_ASSERT_STRING_EQUAL(fx.events[before].cause, "service");
    CU_ASSERT_EQUAL(fx_state(&fx, "service"), NORMAL);
    CU_ASSERT_EQUAL(rules_last_service(fx.rules, "d", "service", &by, &at), 0);
    CU_ASSERT_STRING_EQUAL(by, "wang.li");
    CU_ASSERT_EQUAL(at, FX_S(43 * 900));
    CU_ASSERT_EQUAL(rules_last_service(fx.rules, "d", "nope", &by, &at), -ENOENT);
    /* Counting starts again from the service: 7 h, then a gap of 4
     * intervals that does not count. */
    for (int i = 44; i <= 44 + 4 * 7; i++)
        fx_sample(&fx, FX_S(i * 900), "run", 1, GOOD);
    CU_ASSERT_DOUBLE_EQUAL(fx_alarm(&fx, "service").info.value, 7, 1e-9);
    fx_sample(&fx, FX_S((44 + 4 * 8) * 900), "run", 1, GOOD);
    CU_ASSERT_DOUBLE_EQUAL(fx_alarm(&fx, "service").info.value, 7, 1e-9);
    CU_ASSERT_EQUAL(fx_state(&fx, "service"), NORMAL);
    fx_close(&fx);
}

static void test_maintenance_counter_and_starts(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"hours\"; device = \"d\"; type = \"maintenance\"; point = \"p\"; interval = 100;\n"
                         "  remind_at = 0.5; },\n"
                         "  { id = \"starts\"; device = \"d\"; type = \"maintenance\"; point = \"run\"; measure = \"starts\";\n"
                         "  interval = 3; remind_at = 0; } );\n", FX_S(0));
    /* A run-hours register: 1000, +30, reset to 0 (skipped), +25 = 55. */
    const double hours[] = { 1000, 1030, 0, 25, 25 };
    const enum gw_alarm_state want_hours[] = { NORMAL, NORMAL, NORMAL, ACT_UN, ACT_UN };
    const double run[] = { 0, 1, 1, 0, 1 };
    const char *names[] = { "p", "run" };
    for (size_t i = 0; i < 5; i++) {
        double values[] = { hours[i], run[i] };
        fx_sample_n(&fx, "d", FX_S(i * 10), 2, names, values, NULL);
        CU_ASSERT_EQUAL(fx_state(&fx, "hours"), want_hours[i]);
        CU_ASSERT_EQUAL(fx_state(&fx, "starts"), NORMAL);  /* 2 starts of 3, and no reminder */
    }
    struct fx_find f = fx_alarm(&fx, "hours");
    CU_ASSERT_DOUBLE_EQUAL(f.info.value, 55, 1e-9);
    double values[] = { 25, 0 };
    fx_sample_n(&fx, "d", FX_S(60), 2, names, values, NULL);
    values[1] = 1;
    fx_sample_n(&fx, "d", FX_S(70), 2, names, values, NULL);
    CU_ASSERT_EQUAL(fx_state(&fx, "starts"), ACT_UN);
    CU_ASSERT_EQUAL(fx_alarm(&fx, "starts").info.severity, GW_SEVERITY_MEDIUM);
    fx_close(&fx);
}

/* ---- expression ------------------------------------------------------------ */

static void test_expression(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"low-dt\"; device = \"d\"; type = \"expression\";\n"
                         "  expr = \"run and (q - p) < 3.0\"; on_delay_s = 60; off_delay_s = 30; } );\n", FX_S(0));
    const char *names[] = { "run", "p", "q" };
    struct {
        double t, run, p, q;
        enum gw_quality qq;
        enum gw_alarm_state want;
        int events;
    } steps[] = {
        { 0, 1, 7, 12, GOOD, NORMAL, 0 },
        { 10, 1, 7, 9, GOOD, NORMAL, 0 },       /* delta-T 2: on-delay */
        { 40, 1, 7, 11, GOOD, NORMAL, 0 },      /* broken */
        { 50, 1, 7, 9, GOOD, NORMAL, 0 },
        { 80, 0, 7, 9, GOOD, NORMAL, 0 },       /* stopped: false */
        { 90, 1, 7, 9, GOOD, NORMAL, 0 },
        { 120, 1, 7, 0, BAD, NORMAL, 0 },       /* unknown */
        { 150, 1, 7, 9, GOOD, ACT_UN, 1 },
        { 160, 0, 7, 0, BAD, ACT_UN, 0 },       /* not running: false whatever q is */
        { 190, 0, 7, 0, BAD, RET_UN, 1 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        size_t before = fx.n_events;
        double values[] = { steps[i].run, steps[i].p, steps[i].q };
        enum gw_quality q[] = { GOOD, GOOD, steps[i].qq };
        fx_sample_n(&fx, "d", FX_S(steps[i].t), 3, names, values, q);
        if (fx_state(&fx, "low-dt") != steps[i].want || fx.n_events - before != (size_t)steps[i].events)
            fprintf(stderr, "\n  expression step %zu: %s\n", i + 1, alarm_state_name(fx_state(&fx, "low-dt")));
        CU_ASSERT_EQUAL(fx_state(&fx, "low-dt"), steps[i].want);
        CU_ASSERT_EQUAL(fx.n_events - before, (size_t)steps[i].events);
    }
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "run and (q - p) < 3.0");
    CU_ASSERT(!fx.events[0].has_value);
    CU_ASSERT_EQUAL(fx.events[0].since_ms, FX_S(90));
    fx_close(&fx);
}

/* ---- baseline ---------------------------------------------------------------- */

/* A day of hourly deltas summing to total, on local day `day`. */
static void feed_day(struct fx *fx, int day, double total, int hours)
{
    for (int h = 0; h < hours; h++)
        fx_sample(fx, local_midnight_ms(day) + h * 3600000LL + 1800000, "p", total / 24, GOOD);
}

struct baseline_case {
    const char *name, *keys;
    double judged_total;
    enum gw_alarm_state want;
    bool idle_mondays;         /* the four Mondays used nothing */
};

static void run_baseline(const struct baseline_case *c)
{
    char text[2048];
    snprintf(text, sizeof text, SHANGHAI FX_DEVICE("generic", "3600")
             "rules = ( { id = \"energy\"; device = \"d\"; type = \"baseline\"; point = \"p\"; %s } );\n", c->keys);
    local_time_set_zone("Asia/Shanghai");
    int first = local_day(local_ms(2024, 4, 1, 0, 0));  /* a Monday */
    struct fx fx;
    fx_open(&fx, text, local_midnight_ms(first));
    /* Four weeks: Mondays 240, 250, 230, 245 (or nothing); other days 100
     * (not used). */
    const double mondays[] = { 240, 250, 230, 245 };
    for (int day = first; day < first + 28; day++) {
        double monday = c->idle_mondays ? 0.0 : mondays[(day - first) / 7];
        feed_day(&fx, day, local_weekday(day) == 1 ? monday : 100, 24);
    }
    CU_ASSERT_EQUAL(fx.n_events, 0u);
    feed_day(&fx, first + 28, c->judged_total, 24);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), NORMAL);           /* not before the day is over */
    rules_tick(fx.rules, local_midnight_ms(first + 29) - 1000);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), NORMAL);
    rules_tick(fx.rules, local_midnight_ms(first + 29) + 1000);  /* after local midnight */
    if (fx_state(&fx, "energy") != c->want)
        fprintf(stderr, "\n  baseline %s: %s\n", c->name, alarm_state_name(fx_state(&fx, "energy")));
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), c->want);
    CU_ASSERT_EQUAL(fx.n_events, c->want == NORMAL ? 0u : 1u);
    if (c->want != NORMAL && fx.n_events == 1)
        CU_ASSERT_DOUBLE_EQUAL(fx.events[0].value, c->judged_total, 1e-6);
    fx_close(&fx);
    local_time_set_zone("UTC");
}

static void test_baseline(void)
{
    /* Mean 241.25, standard deviation 8.54. */
    static const struct baseline_case cases[] = {
        { "3 sigma, far above", "sigma = 3.0;", 400, ACT_UN, false },
        { "3 sigma, within", "sigma = 3.0;", 260, NORMAL, false },
        { "3 sigma, below", "sigma = 3.0;", 200, ACT_UN, false },
        { "3 sigma, above only", "sigma = 3.0; direction = \"above\";", 200, NORMAL, false },
        { "percent", "percent = 20.0;", 300, ACT_UN, false },
        { "percent, within", "percent = 20.0;", 280, NORMAL, false },
        { "sigma and percent: both needed", "sigma = 2.0; percent = 20.0;", 270, NORMAL, false },
        { "sigma and percent: both exceeded", "sigma = 2.0; percent = 20.0;", 300, ACT_UN, false },
        { "two weeks back", "sigma = 3.0; weeks = 2;", 250, NORMAL, false },
        { "min_deviation holds a small difference", "sigma = 1.0; min_deviation = 20.0;", 260, NORMAL, false },
        { "min_deviation, exceeded", "sigma = 1.0; min_deviation = 20.0;", 262, ACT_UN, false },
        /* After Mondays of no use, a mean and spread of 0: any use is beyond
         * sigma and percent, and min_deviation is what tells a light left on
         * from the heating of an empty floor. */
        { "idle history: any use", "sigma = 3.0; percent = 15.0;", 0.5, ACT_UN, true },
        { "idle history: a little use", "sigma = 3.0; percent = 15.0; min_deviation = 5.0;", 4.0, NORMAL, true },
        { "idle history: real use", "sigma = 3.0; percent = 15.0; min_deviation = 5.0;", 120, ACT_UN, true },
        { "idle history: still idle", "sigma = 3.0; percent = 15.0;", 0.0, NORMAL, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_baseline(&cases[i]);
}

static void test_baseline_gaps(void)
{
    local_time_set_zone("Asia/Shanghai");
    int first = local_day(local_ms(2024, 4, 1, 0, 0));
    struct fx fx;
    fx_open(&fx, SHANGHAI FX_DEVICE("generic", "3600")
                 "rules = ( { id = \"energy\"; device = \"d\"; type = \"baseline\"; point = \"p\"; percent = 10.0; } );\n",
            local_midnight_ms(first));
    /* Only two weeks of complete Mondays; the others were read for 12 hours. */
    for (int day = first; day < first + 28; day++)
        feed_day(&fx, day, 240, local_weekday(day) == 1 && day >= first + 14 ? 24 : 12);
    feed_day(&fx, first + 28, 400, 20);  /* the judged day itself incomplete: not judged */
    rules_tick(fx.rules, local_midnight_ms(first + 29) + 1000);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), NORMAL);
    feed_day(&fx, first + 35, 400, 24);  /* a complete Monday a week later: judged on 2 weeks */
    rules_tick(fx.rules, local_midnight_ms(first + 36) + 1000);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), ACT_UN);
    feed_day(&fx, first + 36, 400, 24);  /* Tuesday: no complete Tuesdays: holds */
    rules_tick(fx.rules, local_midnight_ms(first + 37) + 1000);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), ACT_UN);
    CU_ASSERT_EQUAL(fx.n_events, 1u);
    fx_close(&fx);
    local_time_set_zone("UTC");
}

/* ---- baseline on the device's clock ---------------------------------------- */

/*
 * A device polled as the daemon does: a sample every wall_step_ms of the
 * wall clock, stamped on the device's clock, which moves step_ms a poll
 * (the simulator's accelerated fills: 120 s of its time per poll of 0.1 s),
 * and a tick between polls.
 */
struct poller {
    struct fx *fx;
    int64_t dev_ms, wall_ms;          /* the next poll's */
    int64_t step_ms, wall_step_ms;
    int64_t last_ms;                  /* the time of the last sample, on the device's clock */
};

/* Polls until the device's clock reaches until_ms, each reading p =
 * per_poll with quality q.  A poll that failed (q bad) is stamped as
 * device.c does when the clock point could not be read: the last sample's
 * time plus the wall clock's progress. */
static void poll_until(struct poller *c, int64_t until_ms, double per_poll, enum gw_quality q)
{
    const char *names[] = { "p" };
    for (; c->dev_ms < until_ms; c->dev_ms += c->step_ms, c->wall_ms += c->wall_step_ms) {
        int64_t ts = q == GOOD ? c->dev_ms : c->last_ms + c->wall_step_ms;
        double values[] = { per_poll };
        enum gw_quality qualities[] = { q };
        CU_ASSERT_EQUAL(fx_sample_at(c->fx, "d", ts, c->wall_ms, 1, names, values, qualities), 0);
        c->last_ms = ts;
        rules_tick(c->fx->rules, c->wall_ms + c->wall_step_ms / 2);
    }
}

/* No polls for hours of the device's clock (the daemon stalled); the wall
 * clock moves on by as much as those polls would have taken. */
static void stall(struct poller *c, double hours)
{
    int64_t polls = llround(hours * 3600000 / (double)c->step_ms);
    c->dev_ms += polls * c->step_ms;
    c->wall_ms += polls * c->wall_step_ms;
}

/* A day of the device's clock totalling `total` if read throughout, with
 * gap_h hours from 10:00 stalled (stalled) or failing (not). */
static void poll_day(struct poller *c, int day, double total, double gap_h, bool stalled)
{
    double per_poll = total * (double)c->step_ms / 86400000;
    int64_t gap_start = local_midnight_ms(day) + 10 * 3600000LL;
    poll_until(c, gap_start, per_poll, GOOD);
    if (stalled)
        stall(c, gap_h);
    else
        poll_until(c, gap_start + llround(gap_h * 3600000), per_poll, BAD);
    poll_until(c, local_midnight_ms(day + 1), per_poll, GOOD);
}

/* The engine over text with the state file `name`, at wall_ms: a new
 * file (fresh) or the one left by the engine before. */
static void open_stateful(struct fx *fx, const char *text, const char *name, bool fresh, int64_t wall_ms)
{
    memset(fx, 0, sizeof *fx);
    CU_ASSERT_EQUAL_FATAL(temp_path(fx->state_file, sizeof fx->state_file, name), 0);
    if (fresh)
        remove(fx->state_file);
    CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &fx->cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(fx, wall_ms), 0);
}

/* The baseline's state as saved now: its "data" object (the caller
 * deletes *doc). */
static const cJSON *saved_baseline(struct fx *fx, int64_t wall_ms, cJSON **doc)
{
    CU_ASSERT_EQUAL(rules_save(fx->rules, wall_ms), 0);
    FILE *f = fopen(fx->state_file, "rb");
    static char text[1 << 16];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    *doc = cJSON_Parse(text);
    const cJSON *alarm = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(*doc, "alarms"), 0);
    return cJSON_GetObjectItemCaseSensitive(alarm, "data");
}

/* What the saved history says of day (key "total" or "coverage"), or -1. */
static double saved_day(const cJSON *data, const char *day, const char *key)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(data, "history")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "day")), day) == 0)
            return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, key));
    }
    return -1;
}

static double saved_coverage(const cJSON *data, const char *day)
{
    return saved_day(data, day, "coverage");
}

static const char *saved_current(const cJSON *data)
{
    const char *day = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "day"));
    return day ? day : "none";
}

#define BASELINE_RULE "rules = ( { id = \"energy\"; device = \"d\"; type = \"baseline\"; point = \"p\"; sigma = 3.0; } );\n"

/*
 * The simulator's accelerated fill: polled every 0.1 s, each sample 120 s
 * of the device's clock after the one before, which starts on 2026-01-01
 * while the wall clock says 2026-11-27.  Its days are judged on its clock,
 * their history kept, and an anomalous Monday raised; a Monday with 4 hours
 * unread is not judged.
 */
static void test_baseline_accelerated(void)
{
    local_time_set_zone("Asia/Shanghai");
    int64_t wall0 = local_ms(2026, 11, 27, 10, 0);
    int first = local_day(local_ms(2026, 1, 1, 0, 0));  /* a Thursday */
    struct fx fx;
    open_stateful(&fx, SHANGHAI FX_DEVICE("generic", "0.1") BASELINE_RULE, "baseline-accelerated.json", true, wall0);
    struct poller c = { &fx, local_midnight_ms(first), wall0, 120000, 100, 0 };
    rules_tick(fx.rules, wall0);  /* before the device's first sample: on the wall clock */
    /* Mondays 240, 250, 230, 245 (January 5, 12, 19, 26); other days 100. */
    const double mondays[] = { 240, 250, 230, 245 };
    int monday = 0, feb2 = first + 32, feb9 = first + 39;
    for (int day = first; day < feb2; day++)
        poll_day(&c, day, local_weekday(day) == 1 ? mondays[monday++] : 100, 0, false);
    CU_ASSERT_EQUAL(monday, 4);
    CU_ASSERT_EQUAL(fx.n_events, 0u);

    cJSON *doc;
    const cJSON *data = saved_baseline(&fx, c.wall_ms, &doc);
    /* The last sample was at 23:58 on February 1, the day still summed. */
    CU_ASSERT_STRING_EQUAL(saved_current(data), "2026-02-01");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(data, "history")), 31);
    /* The first sample covers nothing, the second twice the polling
     * interval (the device's pace is not known yet), the others 120 s. */
    CU_ASSERT_DOUBLE_EQUAL(saved_coverage(data, "2026-01-01"), (86400 - 240 + 0.2) / 86400, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(saved_coverage(data, "2026-01-26"), 1, 1e-9);
    cJSON_Delete(doc);

    /* Monday February 2, far above, but read for 20 hours of 24: not
     * judged, and not history either. */
    poll_day(&c, feb2, 400, 4, true);
    for (int day = feb2 + 1; day < feb9; day++)
        poll_day(&c, day, 100, 0, false);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), NORMAL);
    CU_ASSERT_EQUAL(fx.n_events, 0u);
    /* Monday February 9: judged on January 12, 19 and 26. */
    poll_day(&c, feb9, 400, 0, false);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), NORMAL);  /* not before the day is over */
    poll_until(&c, local_midnight_ms(feb9 + 1) + 1, 100.0 / 720, GOOD);
    CU_ASSERT_EQUAL(fx_state(&fx, "energy"), ACT_UN);
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 1u);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].value, 400, 1e-6);
    CU_ASSERT_EQUAL(fx.events[0].since_ms, local_midnight_ms(feb9));  /* on the device's clock */
    CU_ASSERT_EQUAL(fx.events[0].ts_ms, local_midnight_ms(feb9 + 1));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.events[0].message, "mean 241.667 of 3 previous Mondays"));
    fx_close(&fx);
    local_time_set_zone("UTC");
}

/* One good reading of p, late: stamped at ts_ms on the device's clock. */
static void late_sample(struct fx *fx, int64_t ts_ms, int64_t wall_ms)
{
    const char *names[] = { "p" };
    double values[] = { 50 };
    CU_ASSERT_EQUAL(fx_sample_at(fx, "d", ts_ms, wall_ms, 1, names, values, NULL), 0);
}

/*
 * Restarts of the engine on a simulator's clock, months behind the wall:
 * a day restored from the state file stands against the ticks on the wall
 * clock that come before the device's first sample, and late readings of
 * a day already judged are dropped, whether a day was restored or not.  A
 * file written before the day was the device's (the wall's day, nothing
 * read) does not hold the device's readings back.
 */
static void test_baseline_restart(void)
{
    local_time_set_zone("Asia/Shanghai");
    static const char text[] = SHANGHAI FX_DEVICE("generic", "0.1") BASELINE_RULE;
    int64_t wall0 = local_ms(2026, 11, 27, 10, 0);
    int jan4 = local_day(local_ms(2026, 1, 4, 0, 0)), jan5 = jan4 + 1;
    struct fx a, b, c;
    open_stateful(&a, text, "baseline-restart.json", true, wall0);
    struct poller p = { &a, local_midnight_ms(jan4), wall0, 120000, 100, 0 };
    poll_day(&p, jan4, 100, 0, false);
    poll_until(&p, local_midnight_ms(jan5) + 12 * 3600000LL, 100.0 / 720, GOOD);  /* half of January 5 */
    fx_close(&a);

    /* Restarted 5 s later: the wall clock's ticks do not end January 5, and
     * a reading of January 4 is late. */
    p.wall_ms += 5000;
    open_stateful(&b, text, "baseline-restart.json", false, p.wall_ms);
    p.fx = &b;
    rules_tick(b.rules, p.wall_ms);
    late_sample(&b, local_midnight_ms(jan5) - 60000, p.wall_ms);
    poll_until(&p, local_midnight_ms(jan5 + 1), 100.0 / 720, GOOD);
    rules_tick(b.rules, p.wall_ms + 200000);  /* 00:01:20 on the device's clock: January 5 judged */
    cJSON *doc;
    const cJSON *data = saved_baseline(&b, p.wall_ms, &doc);
    CU_ASSERT_STRING_EQUAL(saved_current(data), "2026-01-06");
    CU_ASSERT_DOUBLE_EQUAL(saved_day(data, "2026-01-04", "total"), 100, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(saved_day(data, "2026-01-05", "total"), 100, 1e-9);
    /* Half a day restored, half read after: the first reading after the
     * late one covers twice the polling interval, 0.2 s. */
    CU_ASSERT_DOUBLE_EQUAL(saved_coverage(data, "2026-01-05"), (86400 - 120 + 0.2) / 86400, 1e-9);
    cJSON_Delete(doc);
    fx_close(&b);

    /* Restarted with nothing read of January 6: no day restored, and a
     * reading of January 5 is still late. */
    open_stateful(&c, text, "baseline-restart.json", false, p.wall_ms);
    late_sample(&c, local_midnight_ms(jan5 + 1) - 60000, p.wall_ms);
    late_sample(&c, local_midnight_ms(jan5 + 1) + 120000, p.wall_ms + 100);
    data = saved_baseline(&c, p.wall_ms + 100, &doc);
    CU_ASSERT_STRING_EQUAL(saved_current(data), "2026-01-06");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(data, "history")), 2);
    CU_ASSERT_DOUBLE_EQUAL(saved_day(data, "2026-01-05", "total"), 100, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data, "total")), 50, 1e-9);
    cJSON_Delete(doc);
    fx_close(&c);

    /* A file as written before: the wall clock's day, nothing read. */
    open_stateful(&a, text, "baseline-restart.json", true, wall0);
    data = saved_baseline(&a, wall0, &doc);
    CU_ASSERT_STRING_EQUAL(saved_current(data), "none");
    fx_close(&a);
    cJSON *old = (cJSON *)data;
    cJSON_AddStringToObject(old, "day", "2026-11-27");
    cJSON_AddNumberToObject(old, "total", 0);
    cJSON_AddNumberToObject(old, "samples", 0);
    char *written = cJSON_Print(doc);
    FILE *f = fopen(a.state_file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(written, f);
    fclose(f);
    free(written);
    cJSON_Delete(doc);
    open_stateful(&b, text, "baseline-restart.json", false, wall0);
    p = (struct poller){ &b, local_midnight_ms(jan4), wall0, 120000, 100, 0 };
    poll_day(&p, jan4, 100, 0, false);
    poll_until(&p, local_midnight_ms(jan5) + 1, 100.0 / 720, GOOD);
    data = saved_baseline(&b, p.wall_ms, &doc);
    CU_ASSERT_STRING_EQUAL(saved_current(data), "2026-01-05");
    CU_ASSERT_DOUBLE_EQUAL(saved_day(data, "2026-01-04", "total"), 100, 1e-9);
    cJSON_Delete(doc);
    fx_close(&b);
    local_time_set_zone("UTC");
}

/* A day's coverage on the device's clock, read throughout or with a gap of
 * hours: the same for a device at the wall's pace as when it was counted
 * in polling intervals, and for a faster one measured in its time. */
static void test_baseline_coverage(void)
{
    static const struct {
        const char *name, *interval;
        double step_s, wall_step_s;    /* between polls, on the device's clock and the wall's */
        double gap_h;
        bool stalled;                  /* no polls in the gap, rather than polls that failed */
        double want;
    } cases[] = {
        /* 1440 polls of 60 s: as many intervals. */
        { "at the wall's pace", "60", 60, 60, 0, false, 1 },
        /* 1260 polls; the first after the gap covers two intervals. */
        { "at the wall's pace, daemon stalled 3 h", "60", 60, 60, 3, true, (86400 - 10800 + 60) / 86400.0 },
        /* 1260 good polls of 60 s. */
        { "at the wall's pace, device silent 3 h", "60", 60, 60, 3, false, (86400 - 10800) / 86400.0 },
        /* 720 polls of 120 s of the device's time, 0.1 s of the wall's. */
        { "accelerated", "0.1", 120, 0.1, 0, false, 1 },
        /* 600 polls; the first after the gap covers two of them. */
        { "accelerated, daemon stalled 4 h", "0.1", 120, 0.1, 4, true, (86400 - 14400 + 120) / 86400.0 },
        /* 600 good polls, the first after the failures covering 0.2 s. */
        { "accelerated, device silent 4 h", "0.1", 120, 0.1, 4, false, (86400 - 14400 - 120 + 0.2) / 86400.0 },
    };
    local_time_set_zone("Asia/Shanghai");
    int day = local_day(local_ms(2026, 1, 2, 0, 0));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[2048];
        snprintf(text, sizeof text, SHANGHAI FX_DEVICE("generic", "%s") BASELINE_RULE, cases[i].interval);
        /* The clock a minute fast at the wall's pace; months behind when faster. */
        int64_t dev0 = local_midnight_ms(day) - 3600000, wall0 = cases[i].step_s == cases[i].wall_step_s
                                                                  ? dev0 - 60000
                                                                  : local_ms(2026, 11, 27, 10, 0);
        struct fx fx;
        open_stateful(&fx, text, "baseline-coverage.json", true, wall0);
        struct poller c = { &fx, dev0, wall0, llround(cases[i].step_s * 1000), llround(cases[i].wall_step_s * 1000),
                            0 };
        poll_until(&c, local_midnight_ms(day), 1, GOOD);  /* the hour before, so that the pace is known */
        poll_day(&c, day, 100, cases[i].gap_h, cases[i].stalled);
        poll_until(&c, local_midnight_ms(day) + 86400000 + 1, 1, GOOD);  /* into the next day: judged */
        cJSON *doc;
        double got = saved_coverage(saved_baseline(&fx, c.wall_ms, &doc), "2026-01-02");
        cJSON_Delete(doc);
        if (fabs(got - cases[i].want) > 1e-9)
            fprintf(stderr, "\n  coverage %s: %.6f (want %.6f)\n", cases[i].name, got, cases[i].want);
        CU_ASSERT_DOUBLE_EQUAL(got, cases[i].want, 1e-9);
        CU_ASSERT((got >= 0.9) == (cases[i].gap_h == 0));  /* min_coverage */
        fx_close(&fx);
    }
    local_time_set_zone("UTC");
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "schedule: workdays, grace, weekends, ticks", test_schedule_workdays },
        { "schedule: a window across midnight", test_schedule_across_midnight },
        { "schedule: running as an expression", test_schedule_expression },
        { "schedule windows: edges", test_window_edges },
        { "maintenance: run hours, 80 % and 100 %, service", test_maintenance_run_hours },
        { "maintenance: counters and starts", test_maintenance_counter_and_starts },
        { "expression with delays and unknown inputs", test_expression },
        { "baseline: k sigma and percent on synthetic history", test_baseline },
        { "baseline: incomplete days", test_baseline_gaps },
        { "baseline: a simulator's clock, months behind and faster", test_baseline_accelerated },
        { "baseline: coverage on the device's clock, with gaps", test_baseline_coverage },
        { "baseline: restarts on a simulator's clock", test_baseline_restart },
    };
    return fx_main("rules: schedule, maintenance, expression, baseline", tests, sizeof tests / sizeof *tests);
}
