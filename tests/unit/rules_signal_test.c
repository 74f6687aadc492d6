/*
 * Rules on how data arrives and moves: comm_loss and stale (on samples and
 * on ticks), rate of change, spikes (and steps that are not spikes), and
 * flat lines.
 */
#include "rules_fixture.h"

static void test_comm_loss(void)
{
    static const struct fx_step steps[] = {
        TICK(29, NORMAL, 0),                  /* started at 0: 3 intervals of 10 s */
        TICK(30, ACT_UN, 1),
        SAMPLE(35, 1, BAD, ACT_UN, 0),        /* a poll without an answer */
        SAMPLE(40, 1, UNCERTAIN, ACT_UN, 0),  /* answers, but nothing good */
        SAMPLE(50, 1, GOOD, RET_UN, 1),
        TICK(79, RET_UN, 0),
        TICK(80, ACT_UN, 1),
        CMD(FX_ACK, 85, ACT_ACK, 1, 0),
        SAMPLE(90, 1, GOOD, NORMAL, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; } );\n", FX_S(0));
    FX_RUN(&fx, "comm loss", "comm", "p", steps);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "no good value from the device for 30 s (limit 30 s)");
    fx_close(&fx);

    /* With an off-delay, one good sample does not end it. */
    static const struct fx_step off[] = {
        TICK(40, ACT_UN, 1),
        SAMPLE(50, 1, GOOD, ACT_UN, 0),
        SAMPLE(60, 1, GOOD, ACT_UN, 0),
        SAMPLE(70, 1, GOOD, RET_UN, 1),
    };
    fx_open(&fx, FX_BASE "rules = ( { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; intervals = 2;\n"
                         "  off_delay_s = 20; } );\n", FX_S(0));
    FX_RUN(&fx, "comm loss off-delay", "comm", "p", off);
    fx_close(&fx);
}

/* A poll that failed is stamped when it was read, which can be a moment
 * before the tick that raised the comm loss: the silence it shows is not
 * shorter for that, and the alarm does not return (and rise again). */
static void test_comm_loss_late_failed_poll(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 1, GOOD, NORMAL, 0),
        TICK(30, ACT_UN, 1),
        SAMPLE(29.8, 1, BAD, ACT_UN, 0),      /* read just before that tick */
        TICK(31, ACT_UN, 0),
        SAMPLE(35, 1, GOOD, RET_UN, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; } );\n", FX_S(0));
    FX_RUN(&fx, "comm loss, a late failed poll", "comm", "p", steps);
    fx_close(&fx);
}

/* A device whose clock is a year behind the wall clock (a meter's RTC
 * never set, or the simulator's time): its samples are judged at their
 * own time, and between samples time passes on its clock, so comm_loss
 * neither stays silent nor fires at once. */
static void test_comm_loss_device_clock(void)
{
    const int64_t behind = 365LL * 86400 * 1000;
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; } );\n", FX_S(0));
    const char *names[] = { "p" };
    double values[] = { 1 };
    struct gw_sample s;
    for (int t = 0; t <= 20; t += 10) {  /* stamped a year ago, judged now */
        CU_ASSERT_EQUAL_FATAL(sample_init(&s, "d", 1), 0);
        s.ts_ms = FX_S(t) - behind;
        sample_add(&s, names[0], "", values[0], GW_QUALITY_GOOD);
        CU_ASSERT_EQUAL(rules_eval_sample(fx.rules, &s, NULL, FX_S(t)), 0);
        sample_free(&s);
    }
    rules_tick(fx.rules, FX_S(49));
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), NORMAL);
    rules_tick(fx.rules, FX_S(50));  /* 3 intervals of 10 s since the last good sample */
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), ACT_UN);
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 1);
    CU_ASSERT_EQUAL(fx.events[0].ts_ms, FX_S(50) - behind);  /* on the device's clock */
    fx_close(&fx);
}

static void test_stale_point(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 1, GOOD, NORMAL, 0),
        SAMPLE(10, 1, BAD, NORMAL, 0),
        SAMPLE(20, 1, UNCERTAIN, NORMAL, 0),
        SAMPLE(30, 1, BAD, NORMAL, 0),        /* 30 s < 4 intervals */
        TICK(39, NORMAL, 0),
        TICK(40, ACT_UN, 1),
        SAMPLE(50, 2, GOOD, RET_UN, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"p-stale\"; device = \"d\"; type = \"stale\"; point = \"p\"; intervals = 4; },\n"
                         "  { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; intervals = 10; } );\n", FX_S(0));
    /* Other points of the device are good all along: only p is stale. */
    const char *names[] = { "p", "q" };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        size_t before = fx.n_events;
        if (steps[i].op == FX_SAMPLE) {
            double values[] = { steps[i].v, 5 };
            enum gw_quality q[] = { steps[i].q, GOOD };
            fx_sample_n(&fx, "d", FX_S(steps[i].t_s), 2, names, values, q);
        } else {
            rules_tick(fx.rules, FX_S(steps[i].t_s));
        }
        CU_ASSERT_EQUAL(fx_state(&fx, "p-stale"), steps[i].want);
        CU_ASSERT_EQUAL(fx.n_events - before, (size_t)steps[i].events);
    }
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), NORMAL);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "no good value of p for 40 s (limit 40 s)");
    fx_close(&fx);
}

/* A device that answers nothing has lost its communication; that is one
 * alarm (comm_loss), not one more per stale point: stale holds until the
 * device answers again, and is judged then. */
static void test_stale_silent_device(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"p-stale\"; device = \"d\"; type = \"stale\"; point = \"p\"; intervals = 2; },\n"
                         "  { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; intervals = 3; } );\n", FX_S(0));
    const char *names[] = { "p", "q" };
    double values[] = { 1, 5 };
    enum gw_quality good[] = { GOOD, GOOD }, silent[] = { BAD, BAD }, p_bad[] = { BAD, GOOD };
    fx_sample_n(&fx, "d", FX_S(0), 2, names, values, good);
    for (int t = 10; t <= 60; t += 10) {
        fx_sample_n(&fx, "d", FX_S(t), 2, names, values, silent);
        rules_tick(fx.rules, FX_S(t + 5));
    }
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), ACT_UN);
    CU_ASSERT_EQUAL(fx_state(&fx, "p-stale"), NORMAL);
    CU_ASSERT_EQUAL(fx.n_events, 1u);                     /* comm_loss alone */
    fx_sample_n(&fx, "d", FX_S(70), 2, names, values, good);
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), RET_UN);
    CU_ASSERT_EQUAL(fx_state(&fx, "p-stale"), NORMAL);
    CU_ASSERT_EQUAL(fx.n_events, 2u);
    /* Back, but p still unreadable: stale counts from p's last good value. */
    fx_sample_n(&fx, "d", FX_S(80), 2, names, values, p_bad);
    CU_ASSERT_EQUAL(fx_state(&fx, "p-stale"), NORMAL);
    fx_sample_n(&fx, "d", FX_S(90), 2, names, values, p_bad);
    CU_ASSERT_EQUAL(fx_state(&fx, "p-stale"), ACT_UN);
    CU_ASSERT_EQUAL(fx.n_events, 3u);
    fx_close(&fx);
}

static void test_rate(void)
{
    /* Device interval 10 s; 2 per minute allowed: 0.33 per sample. */
    static const struct fx_step steps[] = {
        SAMPLE(0, 10.0, GOOD, NORMAL, 0),
        SAMPLE(10, 10.3, GOOD, NORMAL, 0),    /* 1.8 / min */
        SAMPLE(20, 10.7, GOOD, ACT_UN, 1),    /* 2.4 / min */
        SAMPLE(30, 10.8, GOOD, RET_UN, 1),
        SAMPLE(40, 10.0, GOOD, ACT_UN, 1),    /* falling counts too: -4.8 / min */
        SAMPLE(50, 99.0, BAD, ACT_UN, 0),
        SAMPLE(60, 10.1, GOOD, RET_UN, 1),    /* 0.3 / min over the 20 s since the last good one */
        SAMPLE(200, 20.0, GOOD, RET_UN, 0),   /* 140 s apart: too far apart to be a rate */
        SAMPLE(210, 20.1, GOOD, RET_UN, 0),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"ramp\"; device = \"d\"; type = \"rate\"; point = \"p\"; rate_per_min = 2.0; } );\n",
            FX_S(0));
    FX_RUN(&fx, "rate", "ramp", "p", steps);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].value, 2.4, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].limit, 2.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[2].value, -4.8, 1e-9);
    fx_close(&fx);
}

static void test_spike(void)
{
    static const struct fx_step spike[] = {
        SAMPLE(0, 20, GOOD, NORMAL, 0),
        SAMPLE(10, 21, GOOD, NORMAL, 0),
        SAMPLE(20, 35, GOOD, NORMAL, 0),      /* away by 14 > 5 */
        SAMPLE(30, 40, GOOD, NORMAL, 0),
        SAMPLE(40, 22, GOOD, ACT_UN, 1),      /* back within 2.5 after 2 samples: a spike */
        SAMPLE(50, 21, GOOD, RET_UN, 1),
        SAMPLE(60, 10, GOOD, RET_UN, 0),      /* away */
        SAMPLE(70, 10, GOOD, RET_UN, 0),
        SAMPLE(80, 10, GOOD, RET_UN, 0),      /* 3 samples away: a step, not a spike */
        SAMPLE(90, 10.5, GOOD, RET_UN, 0),    /* the new level */
        SAMPLE(100, 10.5, GOOD, RET_UN, 0),
        SAMPLE(110, 30, BAD, RET_UN, 0),
        SAMPLE(120, 28, GOOD, RET_UN, 0),     /* away */
        SAMPLE(130, 0, UNCERTAIN, RET_UN, 0), /* not counted */
        SAMPLE(140, 11, GOOD, ACT_UN, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"spike\"; device = \"d\"; type = \"spike\"; point = \"p\"; jump = 5.0;\n"
                         "  samples = 2; } );\n", FX_S(0));
    FX_RUN(&fx, "spike", "spike", "p", spike);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].value, 40, 1e-9);  /* the peak */
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "p spiked from 21 to 40 and back (jump limit 5)");
    fx_close(&fx);

    /* An off-delay keeps a spike's alarm up for a while. */
    static const struct fx_step held[] = {
        SAMPLE(0, 20, GOOD, NORMAL, 0),
        SAMPLE(10, 30, GOOD, NORMAL, 0),
        SAMPLE(20, 20, GOOD, ACT_UN, 1),
        SAMPLE(30, 20, GOOD, ACT_UN, 0),
        TICK(89, ACT_UN, 0),                  /* off-delay from 30 */
        TICK(90, RET_UN, 1),
    };
    fx_open(&fx, FX_BASE "rules = ( { id = \"spike\"; device = \"d\"; type = \"spike\"; point = \"p\"; jump = 5.0;\n"
                         "  tolerance = 1.0; off_delay_s = 60; } );\n", FX_S(0));
    FX_RUN(&fx, "spike off-delay", "spike", "p", held);
    fx_close(&fx);
}

static void test_flatline(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 20.00, GOOD, NORMAL, 0),
        SAMPLE(60, 20.05, GOOD, NORMAL, 0),
        SAMPLE(120, 19.96, GOOD, NORMAL, 0),  /* within 0.1 of each other */
        SAMPLE(300, 20.02, BAD, NORMAL, 0),
        SAMPLE(590, 20.00, GOOD, NORMAL, 0),
        SAMPLE(600, 20.00, GOOD, ACT_UN, 1),  /* 600 s unchanged */
        SAMPLE(660, 20.00, UNCERTAIN, ACT_UN, 0),
        SAMPLE(720, 20.30, GOOD, RET_UN, 1),  /* it moved */
        SAMPLE(780, 20.30, GOOD, RET_UN, 0),
        SAMPLE(1319, 20.30, GOOD, RET_UN, 0),
        SAMPLE(1320, 20.31, GOOD, ACT_UN, 1), /* the run began at 720 */
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"flat\"; device = \"d\"; type = \"flatline\"; point = \"p\"; window_s = 600;\n"
                         "  tolerance = 0.1; } );\n", FX_S(0));
    FX_RUN(&fx, "flatline", "flat", "p", steps);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "p unchanged at 20 (within 0.1) for 600 s");
    fx_close(&fx);
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "comm loss on ticks and samples", test_comm_loss },
        { "comm loss of a device whose clock is behind", test_comm_loss_device_clock },
        { "comm loss: a failed poll stamped before the tick", test_comm_loss_late_failed_poll },
        { "stale point", test_stale_point },
        { "stale point of a silent device", test_stale_silent_device },
        { "rate of change", test_rate },
        { "spike, and a step that is not one", test_spike },
        { "flat line", test_flatline },
    };
    return fx_main("rules: comm loss, stale, rate, spike, flatline", tests, sizeof tests / sizeof *tests);
}
