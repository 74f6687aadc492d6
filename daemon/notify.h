/*
 * On-call notification: alarm transitions in, HTTP requests to the
 * configured targets out (generic JSON webhook, PagerDuty Events API v2,
 * DingTalk and WeCom group robots), through a durable spool per target.
 * docs/alarms.md (Notification) is the user's description.
 *
 * Which transitions are notified: an alarm becoming active-unacknowledged
 * or rising in severity (trigger), being acknowledged or shelved while
 * active (acknowledge), and its condition clearing (resolve).  Routes pick
 * the targets by severity and device tags.  Time-driven parts - repeats
 * while unacknowledged, escalation, the end of quiet hours, flood
 * summaries - happen in notify_tick.
 *
 * Threads: everything but the delivery runs on the caller's thread (the
 * main loop's, the one that receives the rule engine's events); each
 * target has a delivery thread of its own (notify_deliver.h).  Times are
 * wall-clock milliseconds, passed in.  Quiet hours are in the process's
 * local time, which the rule engine sets to the site's timezone.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "rules/rules.h"
#include "spool.h"

struct gw_notify;

struct gw_notify_state {
    uint64_t queued;           /* requests put in the spools since create */
    uint64_t delivered;        /* accepted by their target */
    uint64_t failed;           /* attempts that failed and are retried */
    uint64_t dropped;          /* refused for good by their target (4xx, robots' errors): logged */
    uint64_t lost;             /* notifications the spool refused (disk error; logged) */
    uint64_t grouped;          /* notifications folded into flood summaries */
    uint64_t held;             /* notifications held by quiet hours, sent in their summary */
    size_t targets, targets_failing;  /* failing: the last attempt failed */
    struct gw_spool_stats spool;      /* summed over the targets' spools */
};

/*
 * Build notification for cfg (borrowed: it must outlive the result):
 * read the targets' secrets and open their spools in
 * <spool_dir>/notify/<target id>.  A configuration without a notify block
 * gives a notifier that does nothing.  Returns 0, -EINVAL (a secret cannot
 * be read), -EBUSY (a spool is in use), or another negative errno, each
 * logged; *out is NULL on error.  Calls curl_global_init.
 */
int notify_create(const struct gw_config *cfg, const char *spool_dir, struct gw_notify **out);

/* Start the delivery threads: what the spools hold from before (a
 * restart) is sent first.  Returns 0 or a negative errno (logged). */
int notify_start(struct gw_notify *n);

/* An alarm transition, as the rule engine's on_event gives it (the event
 * is borrowed for the call).  Its ts_ms is the time for routing, quiet
 * hours and the timers. */
void notify_on_alarm(struct gw_notify *n, const struct gw_alarm_event *event);

/*
 * Take over an alarm restored by the rule engine at start (which raises no
 * event for it; see rules_foreach_alarm), so that a restart neither pages
 * again nor forgets: an active alarm is resolved or acknowledged later as
 * usual, and one still unacknowledged keeps its repeats (on the grid of its
 * state_since) and its escalation (an escalation whose time had already
 * come is taken as sent).  Alarms that are not active are ignored.
 */
void notify_adopt(struct gw_notify *n, const struct gw_alarm_info *alarm, int64_t now_ms);

/* Repeats, escalations, the end of quiet hours, flood summaries.  Call
 * about every second. */
void notify_tick(struct gw_notify *n, int64_t now_ms);

/* Wait up to timeout_ms until every request queued so far is delivered or
 * dropped (a --once run before exiting; tests).  Returns true if so. */
bool notify_flush(struct gw_notify *n, int timeout_ms);

/* Stop the delivery threads after (or aborting) the requests in flight;
 * what is not delivered stays in the spools for the next start. */
void notify_stop(struct gw_notify *n);

/* Counters for health reporting (caller's thread). */
void notify_state(struct gw_notify *n, struct gw_notify_state *out);

/* Stops if needed and frees.  Notifications still held (quiet hours) or
 * grouped (flood) go into the spools as their summaries first, so that a
 * restart loses none of them.  NULL is fine. */
void notify_free(struct gw_notify *n);

#endif
