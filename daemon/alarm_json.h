/*
 * Alarms as JSON, for MQTT (docs/alarms.md, "Topics"): the retained state
 * document of `<prefix>/alarm/<device>/<rule>` and the transition event of
 * `<prefix>/event/alarm`.
 *
 * The state document: site, device, kind, rule, type, severity, state,
 * active, acked, value and limit (when known), message, since,
 * state_since, acked_by, acked_at, shelved_by, shelved_until, seq.
 * Times are milliseconds since the epoch; a time or user that does not
 * apply is null.  The event is the same object plus from_state, cause and
 * ts, with seq the event's.
 */
#ifndef GW_ALARM_JSON_H
#define GW_ALARM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include "rules/rules.h"

/* Whether the alarm's state topic holds a document; false (normal, which
 * means nothing awaits acknowledgement) is published as an empty retained
 * payload, which deletes the topic. */
bool alarm_json_retained(const struct gw_alarm_info *a);

/* The state document; seq is the sequence number of the transition that
 * led to it (NULL: not known, as when republished at start; null).  A malloc'd string, or NULL (ENOMEM). */
char *alarm_json_state(const struct gw_alarm_info *a, const uint64_t *seq);

/* The event document.  A malloc'd string, or NULL (ENOMEM). */
char *alarm_json_event(const struct gw_alarm_event *ev);

#endif
