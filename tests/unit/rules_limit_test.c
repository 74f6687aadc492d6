/*
 * The alarm lifecycle on limit and state rules: BACnet OUT_OF_RANGE delays
 * (restarting when the condition breaks) and deadband, bad and uncertain
 * inputs holding the state, acknowledgement in every state, latching,
 * shelving and its expiry, out of service, suppression by comm loss and by
 * suppress_when, and one event per transition.
 */
#include "rules_fixture.h"

#define LIMIT_RULE                                                                                      \
    "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; deadband = 0.5;\n" \
    "  on_delay_s = 300; off_delay_s = 60; severity = \"high\"; } );\n"

static void test_limit_delays_and_deadband(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 8.0, GOOD, NORMAL, 0),
        SAMPLE(10, 9.5, GOOD, NORMAL, 0),     /* on-delay starts */
        SAMPLE(100, 8.9, GOOD, NORMAL, 0),    /* broken: it starts again */
        SAMPLE(110, 9.5, GOOD, NORMAL, 0),
        SAMPLE(400, 9.6, GOOD, NORMAL, 0),    /* 290 s: not yet */
        SAMPLE(410, 9.6, GOOD, ACT_UN, 1),    /* 300 s */
        SAMPLE(420, 8.7, GOOD, ACT_UN, 0),    /* within the deadband: still in alarm */
        SAMPLE(430, 8.4, GOOD, ACT_UN, 0),    /* off-delay starts */
        SAMPLE(460, 8.6, GOOD, ACT_UN, 0),    /* back in the deadband: it starts again */
        SAMPLE(470, 8.4, GOOD, ACT_UN, 0),
        TICK(529, ACT_UN, 0),
        TICK(530, RET_UN, 1),                 /* 60 s, on a tick: no sample needed */
        CMD(FX_ACK, 540, NORMAL, 1, 0),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE LIMIT_RULE, FX_S(0));
    FX_RUN(&fx, "limit delays", "hi", "p", steps);
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 3u);
    const struct fx_event *raised = &fx.events[0];
    CU_ASSERT_EQUAL(raised->from, NORMAL);
    CU_ASSERT_EQUAL(raised->to, ACT_UN);
    CU_ASSERT_STRING_EQUAL(raised->cause, "condition");
    CU_ASSERT_EQUAL(raised->severity, GW_SEVERITY_HIGH);
    CU_ASSERT_EQUAL(raised->ts_ms, FX_S(410));
    CU_ASSERT_EQUAL(raised->since_ms, FX_S(110));  /* when the condition began */
    CU_ASSERT(raised->has_value);
    CU_ASSERT_DOUBLE_EQUAL(raised->value, 9.6, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(raised->limit, 9.0, 1e-9);
    CU_ASSERT_STRING_EQUAL(raised->message, "p 9.6 above high limit 9");
    CU_ASSERT_STRING_EQUAL(fx.events[1].cause, "condition");
    CU_ASSERT_DOUBLE_EQUAL(fx.events[1].value, 8.4, 1e-9);
    CU_ASSERT_STRING_EQUAL(fx.events[2].cause, "ack");
    CU_ASSERT_STRING_EQUAL(fx.events[2].acked_by, "ops");
    CU_ASSERT(fx_seq_consecutive(&fx));
    fx_close(&fx);
}

static void test_limit_low_side(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 5.0, GOOD, NORMAL, 0),
        SAMPLE(10, 0.5, GOOD, ACT_UN, 1),
        SAMPLE(20, 1.2, GOOD, ACT_UN, 0),     /* below low + deadband 1.5 */
        SAMPLE(30, 1.6, GOOD, RET_UN, 1),
        SAMPLE(40, 12.0, GOOD, ACT_UN, 1),    /* the other side */
        CMD(FX_ACK, 45, ACT_ACK, 1, 0),
        SAMPLE(50, 10.0, GOOD, NORMAL, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"lo\"; device = \"d\"; type = \"limit\"; point = \"p\"; low = 1.0;\n"
                         "  high = 11.0; deadband = 0.5; } );\n", FX_S(0));
    FX_RUN(&fx, "low limit", "lo", "p", steps);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "p 0.5 below low limit 1");
    CU_ASSERT_DOUBLE_EQUAL(fx.events[2].limit, 11.0, 1e-9);
    fx_close(&fx);
}

/* A value derived from a bad or uncertain input neither raises nor clears,
 * and a delay completes only on a known value. */
static void test_unknown_holds(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 9.5, GOOD, NORMAL, 0),      /* on-delay from 0 */
        SAMPLE(100, 0.0, BAD, NORMAL, 0),
        SAMPLE(200, 99.0, UNCERTAIN, NORMAL, 0),
        TICK(400, NORMAL, 0),                 /* 300 s passed, but the input is unknown */
        SAMPLE(410, 9.7, GOOD, ACT_UN, 1),    /* known again and still high: the delay has run */
        SAMPLE(420, 1.0, UNCERTAIN, ACT_UN, 0),
        SAMPLE(430, 1.0, BAD, ACT_UN, 0),
        TICK(600, ACT_UN, 0),
        SAMPLE(610, 8.0, GOOD, ACT_UN, 0),    /* off-delay from 610 */
        SAMPLE(620, 8.0, UNCERTAIN, ACT_UN, 0),
        TICK(700, ACT_UN, 0),                 /* unknown: nothing completes */
        SAMPLE(710, 8.0, GOOD, RET_UN, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE LIMIT_RULE, FX_S(0));
    FX_RUN(&fx, "unknown holds", "hi", "p", steps);
    fx_close(&fx);

    /* A point missing from the sample is unknown too. */
    fx_open(&fx, FX_BASE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; } );\n",
            FX_S(0));
    static const struct fx_step missing[] = {
        SAMPLE(0, 10.0, GOOD, ACT_UN, 1),
        SAMPLE(10, 1.0, GOOD, RET_UN, 1),
    };
    CU_ASSERT_EQUAL(fx_sample(&fx, FX_S(5), "q", 10.0, GOOD), 0);
    CU_ASSERT_EQUAL(fx_state(&fx, "hi"), NORMAL);
    FX_RUN(&fx, "missing point", "hi", "p", missing);
    fx_close(&fx);
}

static void test_state_rule(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 0, GOOD, NORMAL, 0),
        SAMPLE(10, 3, GOOD, NORMAL, 0),       /* on-delay 15 s */
        SAMPLE(20, 0, GOOD, NORMAL, 0),       /* broken */
        SAMPLE(30, 2, GOOD, NORMAL, 0),
        SAMPLE(40, 3, GOOD, NORMAL, 0),       /* 2 and 3 are both alarm states: it holds */
        SAMPLE(45, 2, GOOD, ACT_UN, 1),
        SAMPLE(50, 7, BAD, ACT_UN, 0),
        SAMPLE(60, 1, GOOD, RET_UN, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"trip\"; device = \"d\"; type = \"state\"; point = \"q\"; states = [ 2, 3 ];\n"
                         "  on_delay_s = 15; severity = \"critical\"; } );\n", FX_S(0));
    FX_RUN(&fx, "state", "trip", "q", steps);
    CU_ASSERT_EQUAL(fx.events[0].severity, GW_SEVERITY_CRITICAL);
    CU_ASSERT_STRING_EQUAL(fx.events[0].message, "q is 2, an alarm state");
    fx_close(&fx);
}

#define PLAIN_RULE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; } );\n"

static void test_ack_in_each_state(void)
{
    static const struct fx_step steps[] = {
        CMD(FX_ACK, 0, NORMAL, 0, -EALREADY),        /* normal: nothing to acknowledge */
        SAMPLE(10, 10, GOOD, ACT_UN, 1),
        CMD(FX_ACK, 11, ACT_ACK, 1, 0),
        CMD(FX_ACK, 12, ACT_ACK, 0, -EALREADY),      /* already */
        SAMPLE(20, 1, GOOD, NORMAL, 1),              /* acknowledged and back: normal */
        SAMPLE(30, 10, GOOD, ACT_UN, 1),
        SAMPLE(40, 1, GOOD, RET_UN, 1),
        CMD(FX_ACK, 41, NORMAL, 1, 0),               /* returned: acknowledged to normal */
        SAMPLE(50, 10, GOOD, ACT_UN, 1),
        SAMPLE(60, 1, GOOD, RET_UN, 1),
        SAMPLE(70, 10, GOOD, ACT_UN, 1),             /* re-activated before its ack */
        SHELVE(80, 600, SHELVED, 1),
        CMD(FX_ACK, 81, SHELVED, 0, -EBUSY),
        CMD(FX_UNSHELVE, 82, ACT_UN, 1, 0),          /* still active: shown unacknowledged */
        CMD(FX_UNSHELVE, 83, ACT_UN, 0, -EALREADY),
        CMD(FX_OOS, 90, OOS, 1, 0),
        CMD(FX_ACK, 91, OOS, 0, -EBUSY),
        CMD(FX_OOS, 92, OOS, 0, -EALREADY),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    FX_RUN(&fx, "ack", "hi", "p", steps);
    const char *why = NULL;
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "d", "nope", "ops", FX_S(100), &why), -ENOENT);
    CU_ASSERT_STRING_EQUAL(why, "no such alarm");
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "x", "hi", "ops", FX_S(100), &why), -ENOENT);
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "d", "hi", "", FX_S(100), &why), -EINVAL);
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "d", "hi", "a\nb", FX_S(100), &why), -EINVAL);
    CU_ASSERT_EQUAL(rules_ack(fx.rules, "d", "hi", NULL, FX_S(100), &why), -EINVAL);
    CU_ASSERT_EQUAL(rules_shelve(fx.rules, "d", "hi", 0.5, "ops", FX_S(100), &why), -EINVAL);
    CU_ASSERT_EQUAL(rules_shelve(fx.rules, "d", "hi", 31 * 86400.0, "ops", FX_S(100), &why), -EINVAL);
    CU_ASSERT_EQUAL(rules_service_done(fx.rules, "d", "hi", "ops", FX_S(100), &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not a maintenance rule");
    fx_close(&fx);
}

static void test_latching(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        SAMPLE(10, 1, GOOD, ACT_UN, 0),      /* cleared, but latched until acknowledged */
        SAMPLE(20, 1, GOOD, ACT_UN, 0),
        CMD(FX_ACK, 30, NORMAL, 1, 0),
        SAMPLE(40, 10, GOOD, ACT_UN, 1),
        CMD(FX_ACK, 50, ACT_ACK, 1, 0),      /* acknowledged while active: the latch is released */
        SAMPLE(60, 1, GOOD, NORMAL, 1),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0;\n"
                         "  latching = true; } );\n", FX_S(0));
    FX_RUN(&fx, "latching", "hi", "p", steps);
    fx_close(&fx);
}

static void test_shelving(void)
{
    /* Shelved while active, cleared while shelved: normal at expiry. */
    static const struct fx_step cleared[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        SHELVE(10, 600, SHELVED, 1),
        SAMPLE(20, 1, GOOD, SHELVED, 0),
        SAMPLE(30, 10, GOOD, SHELVED, 0),     /* nothing shows while shelved */
        SAMPLE(40, 1, GOOD, SHELVED, 0),
        TICK(609, SHELVED, 0),
        TICK(610, NORMAL, 1),
        TICK(620, NORMAL, 0),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    FX_RUN(&fx, "shelve, cleared", "hi", "p", cleared);
    CU_ASSERT_STRING_EQUAL(fx.events[1].cause, "shelve");
    CU_ASSERT_EQUAL(fx.events[1].shelved_until_ms, FX_S(610));
    CU_ASSERT_STRING_EQUAL(fx.events[1].acked_by, "ops");  /* shelving acknowledges */
    CU_ASSERT_STRING_EQUAL(fx.events[2].cause, "shelve-expired");
    CU_ASSERT_EQUAL(fx.events[2].from, SHELVED);
    fx_close(&fx);

    /* Still active at expiry: it shows again, unacknowledged. */
    static const struct fx_step active[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        CMD(FX_ACK, 5, ACT_ACK, 1, 0),
        SHELVE(10, 60, SHELVED, 1),
        SAMPLE(20, 10, GOOD, SHELVED, 0),
        TICK(70, ACT_UN, 1),
        SAMPLE(80, 1, GOOD, RET_UN, 1),
    };
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    FX_RUN(&fx, "shelve, still active", "hi", "p", active);
    fx_close(&fx);

    /* Shelving a normal alarm (a chattering one, pre-emptively). */
    static const struct fx_step normal[] = {
        SHELVE(0, 60, SHELVED, 1),
        SAMPLE(10, 10, GOOD, SHELVED, 0),
        SAMPLE(20, 1, GOOD, SHELVED, 0),
        CMD(FX_UNSHELVE, 30, NORMAL, 1, 0),
    };
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    FX_RUN(&fx, "shelve normal", "hi", "p", normal);
    fx_close(&fx);
}

static void test_out_of_service(void)
{
    static const struct fx_step steps[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        CMD(FX_OOS, 10, OOS, 1, 0),
        SAMPLE(20, 1, GOOD, OOS, 0),
        SAMPLE(30, 10, GOOD, OOS, 0),
        SHELVE(35, 60, OOS, 0),              /* refused below: out of service */
        CMD(FX_INSERVICE, 40, ACT_UN, 1, 0), /* as the condition stands */
        CMD(FX_INSERVICE, 41, ACT_UN, 0, -EALREADY),
        CMD(FX_OOS, 50, OOS, 1, 0),
        SAMPLE(60, 1, GOOD, OOS, 0),
        CMD(FX_INSERVICE, 70, NORMAL, 1, 0),
    };
    struct fx fx;
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        struct fx_step step = steps[i];
        if (step.op == FX_SHELVE)
            step.rc = -EBUSY;
        fx_run(&fx, "out of service", "hi", "p", &step, 1);
    }
    CU_ASSERT_STRING_EQUAL(fx.events[1].cause, "out-of-service");
    CU_ASSERT_STRING_EQUAL(fx.events[2].cause, "in-service");

    /* The whole device at once. */
    CU_ASSERT_EQUAL(rules_set_out_of_service(fx.rules, "d", NULL, true, "ops", FX_S(80), NULL), 0);
    CU_ASSERT_EQUAL(fx_state(&fx, "hi"), OOS);
    CU_ASSERT_EQUAL(rules_set_out_of_service(fx.rules, "d", NULL, true, "ops", FX_S(81), NULL), -EALREADY);
    CU_ASSERT_EQUAL(rules_set_out_of_service(fx.rules, "x", NULL, true, "ops", FX_S(81), NULL), -ENOENT);
    fx_close(&fx);
}

#define COMM_AND_LIMIT                                                                                    \
    "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; },\n"          \
    "  { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; intervals = 3; severity = \"high\"; } );\n"

/* comm_loss takes precedence: the device's other alarms are suppressed
 * while it is active, and come back as their conditions stand. */
static void test_suppression_by_comm_loss(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE COMM_AND_LIMIT, FX_S(0));
    static const struct fx_step steps[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        SAMPLE(10, 0, BAD, ACT_UN, 0),
        SAMPLE(20, 0, BAD, ACT_UN, 0),
        SAMPLE(30, 0, BAD, SUPPRESSED, 2),   /* 3 intervals: comm loss raised, hi suppressed */
        TICK(100, SUPPRESSED, 0),
        CMD(FX_ACK, 101, SUPPRESSED, 0, 0),  /* acknowledged behind the suppression */
        SAMPLE(110, 1, GOOD, NORMAL, 2),     /* released: cleared and acknowledged */
    };
    FX_RUN(&fx, "suppressed by comm loss", "hi", "p", steps);
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 5u);
    CU_ASSERT_STRING_EQUAL(fx.events[1].rule, "comm");
    CU_ASSERT_EQUAL(fx.events[1].to, ACT_UN);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[1].value, 30, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(fx.events[1].limit, 30, 1e-9);
    CU_ASSERT_STRING_EQUAL(fx.events[2].rule, "hi");
    CU_ASSERT_STRING_EQUAL(fx.events[2].cause, "suppressed");
    CU_ASSERT_STRING_EQUAL(fx.events[3].rule, "comm");
    CU_ASSERT_EQUAL(fx.events[3].to, RET_UN);
    CU_ASSERT_STRING_EQUAL(fx.events[4].rule, "hi");
    CU_ASSERT_STRING_EQUAL(fx.events[4].cause, "released");
    CU_ASSERT_EQUAL(fx_state(&fx, "comm"), RET_UN);
    fx_close(&fx);

    /* Still in alarm and never acknowledged: it shows again unacknowledged;
     * an alarm raised while suppressed shows when released. */
    fx_open(&fx, FX_BASE COMM_AND_LIMIT, FX_S(0));
    static const struct fx_step again[] = {
        SAMPLE(0, 10, GOOD, ACT_UN, 1),
        TICK(30, SUPPRESSED, 2),             /* no samples at all: comm loss on a tick */
        SAMPLE(40, 12, GOOD, ACT_UN, 2),
        SAMPLE(50, 1, GOOD, RET_UN, 1),
        CMD(FX_ACK, 55, NORMAL, 1, 0),
        TICK(90, NORMAL, 1),                 /* comm loss; a normal alarm stays normal */
        SAMPLE(95, 10, BAD, NORMAL, 0),
        SAMPLE(100, 10, GOOD, ACT_UN, 2),    /* comm returns, hi active: shown */
    };
    FX_RUN(&fx, "released active", "hi", "p", again);
    fx_close(&fx);
}

static void test_suppress_when(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE "rules = ( { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0;\n"
                         "  suppress_when = \"run == 0\"; } );\n", FX_S(0));
    const char *names[] = { "p", "run" };
    struct {
        double t, p, run;
        enum gw_quality run_q;
        enum gw_alarm_state want;
        int events;
    } steps[] = {
        { 0, 10, 1, GOOD, ACT_UN, 1 },
        { 10, 10, 0, GOOD, SUPPRESSED, 1 },   /* the equipment stopped */
        { 20, 10, 0, BAD, SUPPRESSED, 0 },    /* unknown: holds */
        { 30, 1, 1, UNCERTAIN, SUPPRESSED, 0 },
        { 40, 1, 1, GOOD, RET_UN, 1 },
        { 50, 10, 0, GOOD, SUPPRESSED, 1 },
        { 60, 10, 1, GOOD, ACT_UN, 1 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        size_t before = fx.n_events;
        double values[] = { steps[i].p, steps[i].run };
        enum gw_quality q[] = { GOOD, steps[i].run_q };
        CU_ASSERT_EQUAL(fx_sample_n(&fx, "d", FX_S(steps[i].t), 2, names, values, q), 0);
        CU_ASSERT_EQUAL(fx_state(&fx, "hi"), steps[i].want);
        CU_ASSERT_EQUAL(fx.n_events - before, (size_t)steps[i].events);
    }
    fx_close(&fx);
}

/* Every transition is delivered once, with consecutive sequence numbers,
 * and nothing is delivered without a transition. */
static void test_one_event_per_transition(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE LIMIT_RULE, FX_S(0));
    double v[] = { 8, 9.5, 9.5, 9.5, 8, 8, 8, 9.6, 9.6, 9.6, 9.6, 8.0, 8.0, 8.0 };
    enum gw_alarm_state last = NORMAL;
    size_t transitions = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        for (int k = 0; k < 20; k++) {  /* 20 samples 10 s apart per value */
            int64_t t = FX_S((i * 20 + (size_t)k) * 10);
            fx_sample(&fx, t, "p", v[i], GOOD);
            rules_tick(fx.rules, t + 5000);
            enum gw_alarm_state now = fx_state(&fx, "hi");
            transitions += now != last;
            last = now;
        }
    }
    CU_ASSERT_EQUAL(fx.n_events, transitions);
    CU_ASSERT(transitions >= 4);
    CU_ASSERT(fx_seq_consecutive(&fx));
    for (size_t i = 0; i < fx.n_events; i++)
        CU_ASSERT_NOT_EQUAL(fx.events[i].from, fx.events[i].to);
    fx_close(&fx);
}

static void test_unknown_device(void)
{
    struct fx fx;
    fx_open(&fx, FX_BASE PLAIN_RULE, FX_S(0));
    const char *names[] = { "p" };
    double values[] = { 10 };
    CU_ASSERT_EQUAL(fx_sample_n(&fx, "nobody", FX_S(0), 1, names, values, NULL), -ENOENT);
    CU_ASSERT_EQUAL(rules_count(fx.rules), 1u);
    fx_close(&fx);
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "limit: delays restart, deadband holds, off-delay", test_limit_delays_and_deadband },
        { "limit: low side and both sides", test_limit_low_side },
        { "bad and uncertain inputs hold the state", test_unknown_holds },
        { "state rule", test_state_rule },
        { "ack in each state", test_ack_in_each_state },
        { "latching", test_latching },
        { "shelving and its expiry", test_shelving },
        { "out of service", test_out_of_service },
        { "suppression by comm loss and its release", test_suppression_by_comm_loss },
        { "suppress_when", test_suppress_when },
        { "one event per transition", test_one_event_per_transition },
        { "unknown device", test_unknown_device },
    };
    return fx_main("rules: limit, state and the alarm lifecycle", tests, sizeof tests / sizeof *tests);
}
