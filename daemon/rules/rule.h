/*
 * Inside the rule engine: one rule of one device (struct rule_inst), the
 * operations each rule type implements, and what they share: the on/off
 * delays of BACnet's time-delay semantics and the reading of points.
 */
#ifndef GW_RULE_H
#define GW_RULE_H

#include <cJSON.h>
#include <greenwatch/plugin.h>
#include <stdbool.h>
#include <stdint.h>
#include "alarm.h"
#include "config.h"
#include "expr.h"

/*
 * On/off delays.  A raw condition that differs from the state must hold
 * for the delay of the state it leads to; if it breaks, the delay starts
 * again.  An unknown input (bad or uncertain) leaves the state and the
 * running delay alone, but nothing completes until an input is known again.
 */
struct delay {
    bool state;
    bool pending;
    bool known;                /* the last input was known */
    int64_t since_ms;          /* pending: when the raw condition began to differ */
    int64_t began_ms;          /* when the raw condition of the current state began */
};

/* Feed a known raw condition at t.  Returns the state. */
bool delay_feed(struct delay *d, bool raw, int64_t t, int64_t on_ms, int64_t off_ms);
/* The input is unknown. */
void delay_unknown(struct delay *d);
/* Time passes without input: a pending change whose delay has run out
 * completes if the last input was known.  Returns the state. */
bool delay_tick(struct delay *d, int64_t now_ms, int64_t on_ms, int64_t off_ms);

struct rule_inst;
struct rule_device;

struct rule_ops {
    /* Allocate the type's state in r->data.  0 or -ENOMEM. */
    int (*init)(struct rule_inst *r, int64_t now_ms);
    /* A sample of the rule's device, at t. */
    void (*sample)(struct rule_inst *r, const struct gw_sample *s, int64_t t);
    /* Time passes (may be NULL). */
    void (*tick)(struct rule_inst *r, int64_t now_ms);
    /* The type's persistent state into/out of a JSON object (may be NULL). */
    int (*save)(const struct rule_inst *r, cJSON *data);
    void (*load)(struct rule_inst *r, const cJSON *data);
    /* A service was done (maintenance only; NULL for the others). */
    void (*service)(struct rule_inst *r, const char *user, int64_t now_ms);
    void (*free)(struct rule_inst *r);
};

struct rule_inst {
    const struct gw_rule_cfg *cfg;
    const struct rule_ops *ops;
    struct rule_device *dev;
    struct alarm alarm;
    struct delay delay;
    struct gw_expr *suppress;  /* suppress_when, or NULL */
    bool suppress_on;          /* its last known value */
    bool dirty;                /* persistent state changed since the last save */
    void *data;                /* the type's state */
};

struct rule_device {
    const struct gw_device_cfg *cfg;
    int64_t interval_ms;
    struct rule_inst **rules;  /* this device's, comm_loss first */
    size_t n_rules;
    struct rule_inst *comm;    /* its comm_loss rule, or NULL */
    /* The device's clock minus the wall clock at its last sample: between
     * samples, time passes for its rules on the device's clock, so a
     * device whose clock is off (a meter's RTC, the simulator's time)
     * neither loses its comm_loss nor raises it at once. */
    int64_t clock_offset_ms;
};

extern const struct rule_ops rule_limit_ops, rule_state_ops, rule_comm_loss_ops, rule_stale_ops,
    rule_rate_ops, rule_spike_ops, rule_flatline_ops, rule_schedule_ops, rule_maintenance_ops,
    rule_expression_ops, rule_baseline_ops;

const struct rule_ops *rule_ops_for(int type);

/* A maintenance rule's last service: who ("" never) and when. */
void maintenance_last_service(const struct rule_inst *r, const char **by, int64_t *at_ms);

/* ---- helpers for the rule types ---------------------------------------- */

/* A point of the sample: 0 and *value if good, -EAGAIN if not good,
 * -ENOENT if the sample lacks it. */
int rule_reading(const struct gw_sample *s, const char *name, double *value);

/* expr_eval's lookup over a sample. */
int rule_lookup(void *sample, const char *name, double *value);

/* The rule's delays in ms. */
int64_t rule_on_ms(const struct rule_inst *r);
int64_t rule_off_ms(const struct rule_inst *r);

/* A known raw condition through the delays into the alarm, at the rule's
 * severity. */
void rule_feed(struct rule_inst *r, bool raw, int64_t t);
/* Time through the delays into the alarm. */
void rule_delay_tick(struct rule_inst *r, int64_t now_ms);

/* What the alarm reports: the value judged and the limit (NAN: none). */
void rule_note(struct rule_inst *r, double value, double limit);
/* The generated message (the rule's own message, if it has one, wins). */
void rule_message(struct rule_inst *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
