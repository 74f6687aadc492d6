/*
 * The rule engine: samples and time in, alarm state transitions out.
 *
 * Rules come from the site's configuration and from the kind plugins'
 * default rules (a site rule with the same id and device overrides a
 * default's keys; `enabled = false` drops one).  Each rule of each device
 * is one alarm, modelled on ISA-18.2 / IEC 62682 and BACnet intrinsic
 * reporting (docs/alarms.md):
 *
 *   normal -> active-unacknowledged -> active-acknowledged -> normal
 *                     |                                  ^
 *                     v                                  | ack
 *             returned-unacknowledged -------------------+
 *
 * plus shelved (by an operator, until an expiry), suppressed (by design:
 * the device's comm_loss alarm is active, or the rule's suppress_when is
 * true) and out of service.  Every change of an alarm's state (or of its
 * severity) is delivered once, synchronously, to the on_event callback.
 *
 * The engine runs on one thread (the main loop's); nothing here locks.
 * Times are wall-clock milliseconds since the epoch, always passed in, so
 * that tests drive the engine with tables of timed samples.  Local time
 * (schedules, daily baselines) is the site's timezone: rules_create sets
 * the process's TZ to site.timezone.
 */
#ifndef GW_RULES_H
#define GW_RULES_H

#include <greenwatch/plugin.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "diag.h"
#include "plugin.h"

struct gw_rules;

enum gw_alarm_state {
    GW_ALARM_NORMAL,
    GW_ALARM_ACTIVE_UNACKED,    /* "active-unacknowledged" */
    GW_ALARM_ACTIVE_ACKED,      /* "active-acknowledged" */
    GW_ALARM_RETURNED_UNACKED,  /* "returned-unacknowledged" */
    GW_ALARM_SHELVED,
    GW_ALARM_SUPPRESSED,
    GW_ALARM_OUT_OF_SERVICE,
};
#define GW_ALARM_STATE_COUNT 7

/* The state's name as it appears in payloads ("active-unacknowledged"). */
const char *alarm_state_name(enum gw_alarm_state state);

/* One alarm as it stands.  Every pointer is borrowed from the engine and
 * valid only during the callback that receives it. */
struct gw_alarm_info {
    const char *site, *device, *kind, *rule;
    enum gw_rule_type type;
    const char *type_name;         /* "limit", ... */
    enum gw_severity severity;     /* maintenance reminders at remind_at are low */
    enum gw_alarm_state state;
    bool active;                   /* the condition (or its latch) holds, whatever is shown */
    bool acked;                    /* nothing awaits acknowledgement */
    bool has_value, has_limit;
    double value, limit;           /* the value judged and the limit it crossed */
    const char *message;           /* the rule's message, or a generated one */
    int64_t since_ms;              /* when the condition of the current (or last) activation began; 0 never */
    int64_t state_since_ms;        /* when the alarm entered state */
    const char *acked_by;          /* "" if never */
    int64_t acked_ms;
    const char *shelved_by;        /* "" unless shelved */
    int64_t shelved_until_ms;      /* 0 unless shelved */
    const struct gw_tag *tags;     /* the device's tags, for routing */
    size_t n_tags;
};

/* One transition: the alarm after it, and where it came from. */
struct gw_alarm_event {
    struct gw_alarm_info alarm;    /* alarm.state is the new state */
    enum gw_alarm_state from_state;
    const char *cause;             /* "condition", "ack", "shelve", "unshelve", "shelve-expired",
                                    * "out-of-service", "in-service", "service", "suppressed",
                                    * "released" */
    int64_t ts_ms;                 /* when it happened */
    uint64_t seq;                  /* increases by one per event, kept across restarts */
};

typedef void (*gw_alarm_event_fn)(const struct gw_alarm_event *event, void *arg);

/*
 * Check the rules the engine would run: the kinds' default rules, site rules
 * that override them (with FILE:LINE of the site rule) and the merged
 * result for every device.  kinds may be NULL (no defaults).  Returns 0,
 * -EINVAL (problems in diag) or -ENOMEM.  For --check, after kinds_load.
 */
int rules_check(const struct gw_config *cfg, const struct gw_kinds *kinds, struct gw_diag *diag);

/*
 * Build the engine for cfg (borrowed; must outlive the engine) and kinds
 * (borrowed, may be NULL), restoring alarm states from state_file (NULL:
 * no persistence).  A missing or unreadable state file is logged and the
 * engine starts clean.  Restored alarms raise no event.  on_event (may be
 * NULL) gets every transition.  Returns 0, -EINVAL (rules_check's problems,
 * logged) or -ENOMEM; *out is NULL on error.
 */
int rules_create(const struct gw_config *cfg, const struct gw_kinds *kinds, const char *state_file,
                 gw_alarm_event_fn on_event, void *arg, int64_t now_ms, struct gw_rules **out);

/*
 * Evaluate one sample of device (its configuration, as engine_next_sample
 * gives it; NULL: looked up by sample->device_id).  The sample's ts_ms is
 * its time (now_ms if 0).  Returns 0, or -ENOENT for a device without rules.
 */
int rules_eval_sample(struct gw_rules *rules, const struct gw_sample *sample,
                      const struct gw_device_cfg *device, int64_t now_ms);

/* Time-driven changes: delays that expire, comm loss and stale points,
 * shelving that expires, schedule windows, daily baselines after local
 * midnight; and the periodic save of counters.  Call at least every second. */
void rules_tick(struct gw_rules *rules, int64_t now_ms);

/*
 * Operator commands on the alarm of rule on device.  Each returns 0, or a
 * negative errno with *why (may be NULL) set to a static explanation:
 * -ENOENT no such alarm, -EINVAL a bad argument, -EALREADY nothing to do,
 * -EBUSY the alarm is shelved or out of service.  user (who did it) is 1 to
 * 63 printable characters.  A transition they cause is delivered to
 * on_event before they return.
 */
int rules_ack(struct gw_rules *rules, const char *device, const char *rule, const char *user,
              int64_t now_ms, const char **why);
/* Shelve for duration_s (1 s .. 30 days), acknowledging it; at expiry it
 * shows again as it then stands, a still active condition unacknowledged. */
int rules_shelve(struct gw_rules *rules, const char *device, const char *rule, double duration_s,
                 const char *user, int64_t now_ms, const char **why);
int rules_unshelve(struct gw_rules *rules, const char *device, const char *rule, const char *user,
                   int64_t now_ms, const char **why);
/* rule NULL: every alarm of the device. */
int rules_set_out_of_service(struct gw_rules *rules, const char *device, const char *rule,
                             bool out_of_service, const char *user, int64_t now_ms, const char **why);
/* A maintenance rule's service was done: its count restarts from 0, its
 * alarm returns to normal, and who and when are recorded. */
int rules_service_done(struct gw_rules *rules, const char *device, const char *rule,
                       const char *user, int64_t now_ms, const char **why);

/* A maintenance rule's last service: *by ("" if never) and *at_ms.
 * Returns 0 or -ENOENT. */
int rules_last_service(struct gw_rules *rules, const char *device, const char *rule,
                       const char **by, int64_t *at_ms);

/* Every alarm, in configuration order (devices, then their rules). */
void rules_foreach_alarm(struct gw_rules *rules, void (*fn)(const struct gw_alarm_info *alarm, void *arg),
                         void *arg);

/* The number of alarms (rules instantiated for devices). */
size_t rules_count(const struct gw_rules *rules);

/* Write the state file now.  Returns 0 or a negative errno (logged). */
int rules_save(struct gw_rules *rules, int64_t now_ms);

/* Save the state a last time and free.  Accepts NULL. */
void rules_free(struct gw_rules *rules);

#endif
