#include "alarm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[GW_ALARM_STATE_COUNT] = {
    "normal", "active-unacknowledged", "active-acknowledged", "returned-unacknowledged",
    "shelved", "suppressed", "out-of-service",
};

const char *alarm_state_name(enum gw_alarm_state state)
{
    return (unsigned)state < GW_ALARM_STATE_COUNT ? state_names[state] : "unknown";
}

void alarm_init(struct alarm *a, int severity, bool latching)
{
    memset(a, 0, sizeof *a);
    a->acked = true;  /* nothing to acknowledge yet */
    a->severity = a->reported_severity = severity;
    a->latching = latching;
    a->reported = GW_ALARM_NORMAL;
}

bool alarm_active(const struct alarm *a)
{
    return a->cond || a->latched;
}

enum gw_alarm_state alarm_state(const struct alarm *a)
{
    if (a->out_of_service)
        return GW_ALARM_OUT_OF_SERVICE;
    if (a->shelved_until_ms)
        return GW_ALARM_SHELVED;
    /* Suppression hides what would be annunciated; a normal alarm under it
     * stays normal, so that a device's comm loss is one event, not one per
     * rule. */
    if (a->suppressed && (alarm_active(a) || !a->acked))
        return GW_ALARM_SUPPRESSED;
    if (alarm_active(a))
        return a->acked ? GW_ALARM_ACTIVE_ACKED : GW_ALARM_ACTIVE_UNACKED;
    return a->acked ? GW_ALARM_NORMAL : GW_ALARM_RETURNED_UNACKED;
}

bool alarm_condition(struct alarm *a, int stage, int severity, int64_t began_ms)
{
    bool rise = stage > 0 && !a->cond, higher = stage > a->stage && a->cond;
    bool fall = stage == 0 && a->cond;
    bool changed = rise || fall || stage != a->stage;
    if (rise || higher) {
        a->acked = false;
        a->latched = a->latching;
    }
    if (rise)
        a->since_ms = began_ms;
    if (stage > 0)
        a->severity = severity;
    a->cond = stage > 0;
    a->stage = stage;
    return changed;
}

static void copy_user(char *dst, const char *user)
{
    snprintf(dst, ALARM_USER_MAX, "%s", user ? user : "");
}

int alarm_ack(struct alarm *a, const char *user, int64_t now_ms)
{
    if (a->out_of_service || a->shelved_until_ms)
        return -EBUSY;
    if (a->acked)
        return -EALREADY;
    a->acked = true;
    a->latched = false;
    a->acked_ms = now_ms;
    copy_user(a->acked_by, user);
    return 0;
}

int alarm_shelve(struct alarm *a, int64_t until_ms, const char *user, int64_t now_ms)
{
    if (a->out_of_service)
        return -EBUSY;
    if (!a->acked) {
        a->acked = true;
        a->acked_ms = now_ms;
        copy_user(a->acked_by, user);
    }
    a->latched = false;
    a->shelved_until_ms = until_ms;
    copy_user(a->shelved_by, user);
    return 0;
}

/* Shown again after shelving or out of service: as the condition now
 * stands, an active one unacknowledged (it was hidden, so it is news). */
static void start_afresh(struct alarm *a)
{
    a->latched = false;
    a->acked = !a->cond;
}

int alarm_unshelve(struct alarm *a)
{
    if (!a->shelved_until_ms)
        return -EALREADY;
    a->shelved_until_ms = 0;
    a->shelved_by[0] = '\0';
    start_afresh(a);
    return 0;
}

int alarm_set_out_of_service(struct alarm *a, bool out_of_service)
{
    if (a->out_of_service == out_of_service)
        return -EALREADY;
    a->out_of_service = out_of_service;
    if (!out_of_service)
        start_afresh(a);
    return 0;
}

void alarm_reset(struct alarm *a, const char *user, int64_t now_ms)
{
    a->cond = false;
    a->stage = 0;
    a->latched = false;
    if (!a->acked) {
        a->acked = true;
        a->acked_ms = now_ms;
        copy_user(a->acked_by, user);
    }
}
