/*
 * What the rule engine's tests share: a configuration loaded from text, an
 * engine over it that records every event, samples built at explicit
 * times, and steps of a table (a sample, a tick or a command) checked for
 * the state they leave and the events they deliver.
 */
#ifndef GW_RULES_FIXTURE_H
#define GW_RULES_FIXTURE_H

#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "rules/rules.h"
#include "sample.h"

/* 2024-05-06 00:00:00 UTC, a Monday. */
#define FX_T0 1714953600000LL
#define FX_S(s) (FX_T0 + (int64_t)((s) * 1000))

/* A site, a bus, and device "d" (generic, interval 10 s) with points p, q
 * and run; rules are added by each case. */
#define FX_SITE(tz) "site = { id = \"s\"; timezone = \"" tz "\"; };\n"
#define FX_BUS "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
#define FX_POINTS                                                                     \
    "points = ( { name = \"p\"; table = \"holding\"; address = 0; },\n"              \
    "  { name = \"q\"; table = \"holding\"; address = 1; },\n"                       \
    "  { name = \"run\"; table = \"holding\"; address = 2; } );"
#define FX_DEVICE(kind, interval) \
    "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; kind = \"" kind "\"; interval_s = " interval "; " FX_POINTS " } );\n"
#define FX_BASE FX_SITE("UTC") FX_BUS FX_DEVICE("generic", "10")

struct fx_event {
    char device[64], rule[64], cause[32], message[256], acked_by[64];
    enum gw_alarm_state from, to;
    int severity;
    bool has_value;
    double value, limit;
    int64_t ts_ms, since_ms, shelved_until_ms;
    uint64_t seq;
};

struct fx {
    struct gw_config *cfg;
    struct gw_rules *rules;
    const struct gw_kinds *kinds;
    char state_file[4096];     /* "" for none */
    struct fx_event events[256];
    size_t n_events;
    struct {
        char device[64];
        int64_t ts_ms;
    } last[8];                 /* each device's previous sample, for elapsed_s */
    size_t n_last;
};

static inline void fx_record(const struct gw_alarm_event *ev, void *arg)
{
    struct fx *fx = arg;
    if (fx->n_events >= sizeof fx->events / sizeof *fx->events)
        return;
    struct fx_event *e = &fx->events[fx->n_events++];
    snprintf(e->device, sizeof e->device, "%s", ev->alarm.device);
    snprintf(e->rule, sizeof e->rule, "%s", ev->alarm.rule);
    snprintf(e->cause, sizeof e->cause, "%s", ev->cause);
    snprintf(e->message, sizeof e->message, "%s", ev->alarm.message);
    snprintf(e->acked_by, sizeof e->acked_by, "%s", ev->alarm.acked_by);
    e->from = ev->from_state;
    e->to = ev->alarm.state;
    e->severity = ev->alarm.severity;
    e->has_value = ev->alarm.has_value;
    e->value = ev->alarm.value;
    e->limit = ev->alarm.limit;
    e->ts_ms = ev->ts_ms;
    e->since_ms = ev->alarm.since_ms;
    e->shelved_until_ms = ev->alarm.shelved_until_ms;
    e->seq = ev->seq;
}

/* Load text as a configuration; 0 or the error (diagnostics printed). */
static inline int fx_load_config(const char *text, struct gw_config **cfg)
{
    char path[4096];
    if (write_temp_file(path, sizeof path, text))
        return -EIO;
    struct gw_diag diag = { 0 };
    int rc = config_load(path, cfg, &diag);
    if (rc)
        diag_print(&diag, stderr);
    diag_free(&diag);
    return rc;
}

/* Create the engine over fx->cfg at now_ms, events recorded. */
static inline int fx_start(struct fx *fx, int64_t now_ms)
{
    return rules_create(fx->cfg, fx->kinds, fx->state_file[0] ? fx->state_file : NULL, fx_record, fx, now_ms,
                        &fx->rules);
}

/* Load the configuration and start the engine; fails the test if either
 * fails. */
static inline void fx_open(struct fx *fx, const char *text, int64_t now_ms)
{
    memset(fx, 0, sizeof *fx);
    CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &fx->cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(fx, now_ms), 0);
}

static inline void fx_close(struct fx *fx)
{
    rules_free(fx->rules);
    config_free(fx->cfg);
    fx->rules = NULL;
    fx->cfg = NULL;
}

/* Seconds on device's clock since its previous sample, as device.c gives
 * elapsed_s: 0 for the first, and for a clock set back. */
static inline double fx_elapsed(struct fx *fx, const char *device, int64_t ts_ms)
{
    size_t i = 0;
    while (i < fx->n_last && strcmp(fx->last[i].device, device) != 0)
        i++;
    if (i == fx->n_last) {
        if (i < sizeof fx->last / sizeof *fx->last) {
            snprintf(fx->last[i].device, sizeof fx->last[i].device, "%s", device);
            fx->last[i].ts_ms = ts_ms;
            fx->n_last++;
        }
        return 0;
    }
    double elapsed = ts_ms > fx->last[i].ts_ms ? (double)(ts_ms - fx->last[i].ts_ms) / 1000 : 0;
    fx->last[i].ts_ms = ts_ms;
    return elapsed;
}

/* A sample of device stamped ts_ms on its clock, evaluated at now_ms on the
 * wall clock, with points "name=value" given as parallel arrays. */
static inline int fx_sample_at(struct fx *fx, const char *device, int64_t ts_ms, int64_t now_ms, size_t n,
                               const char *const names[], const double values[], const enum gw_quality qualities[])
{
    struct gw_sample s;
    if (sample_init(&s, device, n))
        return -ENOMEM;
    s.ts_ms = ts_ms;
    s.elapsed_s = fx_elapsed(fx, device, ts_ms);
    for (size_t i = 0; i < n; i++)
        sample_add(&s, names[i], "", values[i], qualities ? qualities[i] : GW_QUALITY_GOOD);
    int rc = rules_eval_sample(fx->rules, &s, NULL, now_ms);
    sample_free(&s);
    return rc;
}

/* A sample of device at t, on a clock that is the wall's. */
static inline int fx_sample_n(struct fx *fx, const char *device, int64_t t, size_t n, const char *const names[],
                              const double values[], const enum gw_quality qualities[])
{
    return fx_sample_at(fx, device, t, t, n, names, values, qualities);
}

/* One point of device "d". */
static inline int fx_sample(struct fx *fx, int64_t t, const char *name, double value, enum gw_quality q)
{
    const char *names[] = { name };
    double values[] = { value };
    enum gw_quality qualities[] = { q };
    return fx_sample_n(fx, "d", t, 1, names, values, qualities);
}

struct fx_find {
    const char *device, *rule;
    struct gw_alarm_info info;
    char message[256], acked_by[64];
    bool found;
};

static inline void fx_find_cb(const struct gw_alarm_info *a, void *arg)
{
    struct fx_find *f = arg;
    if (strcmp(a->device, f->device) == 0 && strcmp(a->rule, f->rule) == 0) {
        f->info = *a;
        snprintf(f->message, sizeof f->message, "%s", a->message);
        snprintf(f->acked_by, sizeof f->acked_by, "%s", a->acked_by);
        f->found = true;
    }
}

/* The alarm of rule on device "d" as it stands (found false if none). */
static inline struct fx_find fx_alarm(struct fx *fx, const char *rule)
{
    struct fx_find f = { .device = "d", .rule = rule };
    rules_foreach_alarm(fx->rules, fx_find_cb, &f);
    return f;
}

static inline enum gw_alarm_state fx_state(struct fx *fx, const char *rule)
{
    struct fx_find f = fx_alarm(fx, rule);
    return f.found ? f.info.state : (enum gw_alarm_state)-1;
}

/* ---- tables of steps ----------------------------------------------------- */

enum fx_op {
    FX_SAMPLE,     /* point `point` = v with quality q at t */
    FX_TICK,       /* time passes: rules_tick at t */
    FX_ACK,        /* rules_ack; rc expected in .rc */
    FX_SHELVE,     /* rules_shelve for v seconds */
    FX_UNSHELVE,
    FX_OOS,        /* out of service */
    FX_INSERVICE,
    FX_SERVICE,    /* rules_service_done */
};

#define GOOD GW_QUALITY_GOOD
#define BAD GW_QUALITY_BAD
#define UNCERTAIN GW_QUALITY_UNCERTAIN

#define NORMAL GW_ALARM_NORMAL
#define ACT_UN GW_ALARM_ACTIVE_UNACKED
#define ACT_ACK GW_ALARM_ACTIVE_ACKED
#define RET_UN GW_ALARM_RETURNED_UNACKED
#define SHELVED GW_ALARM_SHELVED
#define SUPPRESSED GW_ALARM_SUPPRESSED
#define OOS GW_ALARM_OUT_OF_SERVICE

struct fx_step {
    enum fx_op op;
    double t_s;                /* seconds after FX_T0 */
    double v;
    enum gw_quality q;
    enum gw_alarm_state want;  /* of the table's rule, after the step */
    int events;                /* delivered by the step */
    int rc;                    /* commands: expected return */
};

#define SAMPLE(t, v_, q_, want_, ev) { .op = FX_SAMPLE, .t_s = (t), .v = (v_), .q = (q_), .want = (want_), .events = (ev) }
#define TICK(t, want_, ev) { .op = FX_TICK, .t_s = (t), .want = (want_), .events = (ev) }
#define CMD(op_, t, want_, ev, rc_) { .op = (op_), .t_s = (t), .want = (want_), .events = (ev), .rc = (rc_) }
#define SHELVE(t, dur, want_, ev) { .op = FX_SHELVE, .t_s = (t), .v = (dur), .want = (want_), .events = (ev) }

static inline int fx_do(struct fx *fx, const char *rule, const char *point, const struct fx_step *s)
{
    int64_t t = FX_S(s->t_s);
    switch (s->op) {
    case FX_SAMPLE: return fx_sample(fx, t, point, s->v, s->q);
    case FX_TICK: rules_tick(fx->rules, t); return 0;
    case FX_ACK: return rules_ack(fx->rules, "d", rule, "ops", t, NULL);
    case FX_SHELVE: return rules_shelve(fx->rules, "d", rule, s->v, "ops", t, NULL);
    case FX_UNSHELVE: return rules_unshelve(fx->rules, "d", rule, "ops", t, NULL);
    case FX_OOS: return rules_set_out_of_service(fx->rules, "d", rule, true, "ops", t, NULL);
    case FX_INSERVICE: return rules_set_out_of_service(fx->rules, "d", rule, false, "ops", t, NULL);
    case FX_SERVICE: return rules_service_done(fx->rules, "d", rule, "tech", t, NULL);
    }
    return -EINVAL;
}

/* Run steps on rule (reading point), checking each step's state, events
 * and return code; what failed is named on stderr. */
static inline void fx_run(struct fx *fx, const char *what, const char *rule, const char *point,
                          const struct fx_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t before = fx->n_events;
        int rc = fx_do(fx, rule, point, &steps[i]);
        enum gw_alarm_state got = fx_state(fx, rule);
        int events = (int)(fx->n_events - before);
        bool ok = rc == steps[i].rc && got == steps[i].want && events == steps[i].events;
        if (!ok)
            fprintf(stderr, "\n  %s, step %zu (t=%g s): rc %d (want %d), state %s (want %s), events %d (want %d)\n",
                    what, i + 1, steps[i].t_s, rc, steps[i].rc, alarm_state_name(got),
                    alarm_state_name(steps[i].want), events, steps[i].events);
        CU_ASSERT(ok);
    }
}

#define FX_RUN(fx, what, rule, point, steps) fx_run((fx), (what), (rule), (point), (steps), sizeof(steps) / sizeof *(steps))

/* Every event so far has a seq one above the one before. */
static inline bool fx_seq_consecutive(const struct fx *fx)
{
    for (size_t i = 1; i < fx->n_events; i++)
        if (fx->events[i].seq != fx->events[i - 1].seq + 1)
            return false;
    return true;
}

/* Run a CUnit suite of tests; returns the process's exit code. */
struct fx_test {
    const char *name;
    void (*fn)(void);
};

static inline int fx_main(const char *suite_name, const struct fx_test *tests, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    for (size_t i = 0; suite && i < n; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            suite = NULL;
    if (!suite) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif
