/*
 * One alarm's state machine (ISA-18.2 / IEC 62682), apart from what raises
 * it.  The lifecycle is two facts: is it active (its condition holds, or a
 * latching alarm has not been acknowledged since it activated) and is it
 * acknowledged.  Over them lie, in order of precedence, out of service,
 * shelved and suppressed, which hide the lifecycle without stopping it
 * (suppressed only hides an alarm that is active or unacknowledged).
 *
 * Functions change the facts; alarm_state() says what they amount to; the
 * engine compares that with what it last reported to find transitions.
 */
#ifndef GW_ALARM_H
#define GW_ALARM_H

#include <stdbool.h>
#include <stdint.h>
#include "rules.h"

#define ALARM_USER_MAX 64
#define ALARM_MESSAGE_MAX 256

struct alarm {
    bool cond;                 /* the rule's condition, after its delays */
    int stage;                 /* 0 normal; 1 active; 2 a higher stage (maintenance due) */
    bool latching, latched;    /* latched: active until acknowledged */
    bool acked;
    bool suppressed, out_of_service;
    int64_t shelved_until_ms;  /* 0: not shelved */
    int severity;              /* enum gw_severity, of the current stage */
    int64_t since_ms;          /* when the condition of the current activation began */
    int64_t state_since_ms;
    int64_t acked_ms;
    char acked_by[ALARM_USER_MAX];
    char shelved_by[ALARM_USER_MAX];
    bool has_value, has_limit;
    double value, limit;
    char message[ALARM_MESSAGE_MAX];
    /* What the engine last reported: */
    enum gw_alarm_state reported;
    int reported_severity;
};

/* A normal alarm of the given severity. */
void alarm_init(struct alarm *a, int severity, bool latching);

/* What the alarm shows. */
enum gw_alarm_state alarm_state(const struct alarm *a);

/* Its lifecycle, under whatever hides it. */
bool alarm_active(const struct alarm *a);

/*
 * The condition at stage (0: clear) with severity, which began at began_ms.
 * A rise, or a rise to a higher stage, is a new activation: it awaits
 * acknowledgement again.  Returns true if the condition or stage changed.
 */
bool alarm_condition(struct alarm *a, int stage, int severity, int64_t began_ms);

/* 0, or -EALREADY if nothing awaits acknowledgement, -EBUSY if shelved or
 * out of service. */
int alarm_ack(struct alarm *a, const char *user, int64_t now_ms);

/* Shelve until until_ms, acknowledging.  0 or -EBUSY (out of service). */
int alarm_shelve(struct alarm *a, int64_t until_ms, const char *user, int64_t now_ms);

/* End shelving: a condition still active shows unacknowledged.  0 or
 * -EALREADY if not shelved. */
int alarm_unshelve(struct alarm *a);

/* 0 or -EALREADY if already so.  Returning to service starts afresh, like
 * the end of shelving. */
int alarm_set_out_of_service(struct alarm *a, bool out_of_service);

/* The alarm is cleared by an action that also acknowledges it (a service
 * done). */
void alarm_reset(struct alarm *a, const char *user, int64_t now_ms);

#endif
