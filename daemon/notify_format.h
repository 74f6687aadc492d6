/*
 * Notification payloads: what each target type is sent for an alarm
 * notification or a summary, the signing that targets ask for, and how
 * their answers are judged.  Pure functions of their arguments (times are
 * passed in; local times use the process's TZ, the site's), so that the
 * exact bytes are tested (tests/unit/notify_format_test.c).
 *
 * Payloads are stored in the spool as built here, without credentials:
 * PagerDuty's routing key and DingTalk's signature are added when a
 * request is sent (notify_format_with_routing_key, notify_dingtalk_url).
 */
#ifndef GW_NOTIFY_FORMAT_H
#define GW_NOTIFY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "notify_config.h"
#include "rules/rules.h"

/* What a notification tells about an alarm. */
enum notify_event {
    NOTIFY_TRIGGER,    /* raised: became active-unacknowledged, or its severity rose */
    NOTIFY_REPEAT,     /* still active and unacknowledged, repeat_min after the last */
    NOTIFY_ESCALATE,   /* unacknowledged for escalate_after_min: to the escalation target */
    NOTIFY_ACK,        /* acknowledged (or shelved, which acknowledges) while active */
    NOTIFY_RESOLVE,    /* the condition cleared */
};
#define NOTIFY_EVENT_COUNT 5

/* "trigger", "repeat", "escalation", "acknowledge", "resolve". */
extern const char *const notify_event_names[NOTIFY_EVENT_COUNT];

struct notify_msg {
    enum notify_event event;
    const struct gw_alarm_event *alarm;  /* the alarm as its last transition left it */
    int64_t ts_ms;                       /* when the notification is made */
    unsigned repeat;                     /* NOTIFY_REPEAT: 1, 2, ... */
    int after_min;                       /* NOTIFY_ESCALATE: minutes unacknowledged */
};

/* One notification folded into a summary (strings owned). */
struct notify_item {
    enum notify_event event;
    int64_t ts_ms;
    char *device, *rule, *message, *acked_by;
    int severity;                        /* enum gw_severity */
    enum gw_alarm_state state;
    bool has_value, has_limit;
    double value, limit;
};

/* Copy what a summary shows of msg into item.  0 or -ENOMEM. */
int notify_item_init(struct notify_item *item, const struct notify_msg *msg);
void notify_item_free(struct notify_item *item);

enum notify_summary_reason { NOTIFY_SUMMARY_FLOOD, NOTIFY_SUMMARY_QUIET };

struct notify_summary {
    enum notify_summary_reason reason;
    const char *site;
    int64_t ts_ms;                       /* when it is sent */
    const struct notify_item *items;     /* in the order they happened */
    size_t n;
};

/* The alarm's stable id, "site/device/rule": PagerDuty's dedup key. */
void notify_alarm_id(const struct gw_alarm_info *alarm, char *buf, size_t len);

/*
 * The request body (JSON) for a target of type (enum gw_notify_type) in
 * format (enum gw_notify_format, DingTalk only).  Returns a malloc'd
 * string, or NULL: out of memory, or nothing to send (a PagerDuty repeat,
 * which PagerDuty would discard as a duplicate).
 */
char *notify_format_alarm(int type, int format, const struct notify_msg *msg);
char *notify_format_summary(int type, int format, const struct notify_summary *summary);

/* PagerDuty's body with "routing_key" first.  malloc'd, or NULL (ENOMEM,
 * or body is not a JSON object). */
char *notify_format_with_routing_key(const char *body, const char *routing_key);

/* DingTalk's signature: base64(HMAC-SHA256(secret, "<ts_ms>\n<secret>")),
 * not URL-encoded.  0, or -ENOSPC if out is too small (45 bytes suffice). */
int notify_dingtalk_sign(const char *secret, int64_t ts_ms, char *out, size_t len);

/* url with &timestamp=<ts_ms>&sign=<url-encoded signature> (or ?...).
 * malloc'd, or NULL. */
char *notify_dingtalk_url(const char *url, const char *secret, int64_t ts_ms);

/* The generic webhook's X-Greenwatch-Signature value, "sha256=<hex HMAC of
 * the body>".  out needs 72 bytes. */
void notify_webhook_signature(const char *secret, const void *body, size_t len, char *out, size_t out_len);

enum notify_verdict {
    NOTIFY_DELIVERED,
    NOTIFY_RETRY,      /* later, after a backoff (429, 5xx, network, robots' rate limits) */
    NOTIFY_REJECTED,   /* for good: logged and dropped */
};

/*
 * Judge a target's answer: HTTP status and body (may be NULL).  Robots
 * answer 200 with {"errcode": N, "errmsg": "..."}: 0 is delivered, their
 * rate limits are retried, any other code is rejected.  *min_wait_s (may
 * be NULL) gets a wait the answer asks for beyond the usual backoff (the
 * robots' rate limits), else 0.  why gets a line for the log.
 */
enum notify_verdict notify_classify(int type, long status, const char *body, int *min_wait_s, char *why,
                                    size_t why_len);

#endif
