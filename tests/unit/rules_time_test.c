/*
 * Rules on the calendar and on counts: schedule windows in the site's
 * timezone (across midnight, on weekends, with grace, on ticks),
 * maintenance reminders at 80 % and 100 % and their reset, expression
 * rules with delays and unknown inputs, and daily baselines judged after
 * local midnight against synthetic history.
 */
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
    };
    return fx_main("rules: schedule, maintenance, expression, baseline", tests, sizeof tests / sizeof *tests);
}
