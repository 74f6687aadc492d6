/*
 * Notification delivery: one outbox per target, a durable spool
 * (<spool_dir>/notify/<target id>) and a thread that sends its records
 * over HTTP (libcurl), one request per record, in order.  A target that is
 * down holds back only its own notifications.
 *
 * Each record is "<type name>\n<body>" as notify_format built it; the
 * credentials are added as it is sent (PagerDuty's routing key into the
 * body, DingTalk's timestamp and signature into the url, the webhook's
 * HMAC header), so that no secret is written to the spool.
 *
 * Answers: 2xx is delivered (robots: errcode 0) and committed; 408, 429,
 * 5xx, network errors and robots' rate limits are retried with a backoff
 * (1 s doubling to 5 min, or what Retry-After asks, at most 1 h); other
 * answers are logged with their body and dropped (counted).
 */
#ifndef GW_NOTIFY_DELIVER_H
#define GW_NOTIFY_DELIVER_H

#include <stdbool.h>
#include <stdint.h>
#include "notify_config.h"
#include "spool.h"

struct notify_outbox;

struct notify_outbox_stats {
    uint64_t delivered;    /* requests the target accepted */
    uint64_t failed;       /* attempts that failed and will be retried */
    uint64_t dropped;      /* requests the target refused for good */
    bool failing;          /* the last attempt failed */
    struct gw_spool_stats spool;
};

/*
 * Open target's outbox: read its secrets and open its spool in spool_dir
 * (created if needed).  t must outlive the outbox.  Returns 0, -EINVAL (a
 * secret or url cannot be read; logged), -EBUSY (the spool is in use) or
 * another negative errno; *out is NULL on error.
 */
int notify_outbox_open(const struct gw_notify_target_cfg *t, const char *spool_dir, struct notify_outbox **out);

/* Main thread: queue one request body.  0, or a negative errno from the
 * spool (logged). */
int notify_outbox_append(struct notify_outbox *o, const char *body);

/* Start the delivery thread.  0 or a negative errno. */
int notify_outbox_start(struct notify_outbox *o);

/* Stop after (or abort) the request in flight and join the thread; what
 * is not delivered stays in the spool. */
void notify_outbox_stop(struct notify_outbox *o);

/* Wait until every record appended so far is delivered or dropped, up to
 * deadline_ns (monotonic).  Returns true if so. */
bool notify_outbox_wait_idle(struct notify_outbox *o, int64_t deadline_ns);

void notify_outbox_stats(struct notify_outbox *o, struct notify_outbox_stats *out);

/* Stops if needed, closes the spool, wipes the secrets.  NULL is fine. */
void notify_outbox_free(struct notify_outbox *o);

#endif
