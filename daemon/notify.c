#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "notify_deliver.h"
#include "notify_format.h"
#include "rules/local_time.h"
#include "scheduler.h"

#define MIN_MS (60 * 1000LL)
#define ALL_DAYS 0x7f

struct item_list {
    struct notify_item *v;
    size_t n, cap;
};

struct target {
    const struct gw_notify_target_cfg *cfg;
    struct notify_outbox *outbox;
    /* Flood grouping: when the last flood_max messages went out (a ring),
     * and, during a flood, what is gathered for the next summary. */
    int64_t *sent_ms;
    size_t sent_n, sent_next;
    bool collecting;
    int64_t flush_at_ms;
    struct item_list collected;
};

struct route {
    const struct gw_notify_route_cfg *cfg;
    struct item_list held;      /* low and medium notifications during quiet hours */
};

/* Where one alarm stands with one route. */
struct route_track {
    bool matched;               /* the current activation is routed here: timers run */
    bool notified;              /* the route's target was told (or it is held for it) */
    bool escalated;             /* this activation was escalated: reminders go there too */
    bool escalation_told;       /* the escalation target was ever told: acknowledge and resolve go there */
    unsigned repeats;
    int64_t next_repeat_ms, escalate_at_ms;   /* 0: none */
};

/* An alarm people have been told about, until it is resolved. */
struct tracked {
    struct gw_alarm_event ev;   /* its last transition; strings owned */
    bool ack_sent;
    int severity;               /* of the last trigger */
    struct route_track *routes; /* one per route */
};

struct gw_notify {
    const char *site;
    struct target *targets;
    size_t n_targets;
    struct route *routes;
    size_t n_routes;
    size_t flood_max;
    int64_t window_ms;
    struct tracked **tracked;
    size_t n_tracked, cap_tracked;
    bool curl_ready;
    uint64_t queued, lost, grouped, held;
};

/* ---- alarm snapshots ---------------------------------------------------- */

static void event_release(struct gw_alarm_event *ev)
{
    struct gw_alarm_info *a = &ev->alarm;
    const char *strings[] = { a->site, a->device, a->kind, a->rule, a->type_name, a->message,
                              a->acked_by, a->shelved_by, ev->cause };
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free((char *)strings[i]);
    for (size_t i = 0; i < a->n_tags; i++) {
        free((char *)a->tags[i].key);
        free((char *)a->tags[i].value);
    }
    free((struct gw_tag *)a->tags);
    memset(ev, 0, sizeof *ev);
}

/* A deep copy of src into dst (released first).  0 or -ENOMEM. */
static int event_copy(struct gw_alarm_event *dst, const struct gw_alarm_event *src)
{
    event_release(dst);
    *dst = *src;
    struct gw_alarm_info *a = &dst->alarm;
    const struct gw_alarm_info *s = &src->alarm;
    const char **fields[] = { &a->site, &a->device, &a->kind, &a->rule, &a->type_name, &a->message,
                              &a->acked_by, &a->shelved_by, &dst->cause };
    const char *values[] = { s->site, s->device, s->kind, s->rule, s->type_name, s->message,
                             s->acked_by, s->shelved_by, src->cause };
    bool ok = true;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        ok &= (*fields[i] = strdup(values[i] ? values[i] : "")) != NULL;
    struct gw_tag *tags = s->n_tags ? calloc(s->n_tags, sizeof *tags) : NULL;
    a->tags = tags;
    a->n_tags = tags ? s->n_tags : 0;
    ok &= !s->n_tags || tags;
    for (size_t i = 0; tags && i < s->n_tags; i++)
        ok &= (tags[i].key = strdup(s->tags[i].key)) && (tags[i].value = strdup(s->tags[i].value));
    if (ok)
        return 0;
    event_release(dst);
    return -ENOMEM;
}

static struct tracked *find_tracked(struct gw_notify *n, const struct gw_alarm_info *a, size_t *index)
{
    for (size_t i = 0; i < n->n_tracked; i++) {
        const struct gw_alarm_info *t = &n->tracked[i]->ev.alarm;
        if (strcmp(t->device, a->device) == 0 && strcmp(t->rule, a->rule) == 0) {
            if (index)
                *index = i;
            return n->tracked[i];
        }
    }
    return NULL;
}

static struct tracked *add_tracked(struct gw_notify *n)
{
    if (n->n_tracked == n->cap_tracked) {
        size_t cap = n->cap_tracked ? 2 * n->cap_tracked : 16;
        struct tracked **grown = realloc(n->tracked, cap * sizeof *grown);
        if (!grown)
            return NULL;
        n->tracked = grown;
        n->cap_tracked = cap;
    }
    struct tracked *tr = calloc(1, sizeof *tr);
    if (tr && !(tr->routes = calloc(n->n_routes + 1, sizeof *tr->routes))) {
        free(tr);
        tr = NULL;
    }
    if (tr)
        n->tracked[n->n_tracked++] = tr;
    return tr;
}

static void free_tracked(struct tracked *tr)
{
    event_release(&tr->ev);
    free(tr->routes);
    free(tr);
}

static void remove_tracked(struct gw_notify *n, size_t index)
{
    free_tracked(n->tracked[index]);
    n->tracked[index] = n->tracked[--n->n_tracked];
}

/* ---- routes ------------------------------------------------------------- */

static const char *alarm_tag(const struct gw_alarm_info *a, const char *key)
{
    if (strcmp(key, "device") == 0)
        return a->device;
    if (strcmp(key, "kind") == 0)
        return a->kind;
    for (size_t i = 0; i < a->n_tags; i++)
        if (strcmp(a->tags[i].key, key) == 0)
            return a->tags[i].value;
    return NULL;
}

static bool route_matches(const struct gw_notify_route_cfg *r, const struct gw_alarm_info *a)
{
    if (!(r->severities & (1 << a->severity)))
        return false;
    for (size_t i = 0; i < r->n_tags; i++) {
        const char *v = alarm_tag(a, r->tags[i].key);
        if (!v || strcmp(v, r->tags[i].value) != 0)
            return false;
    }
    return true;
}

/* Quiet hours hold low and medium notifications only. */
static bool quiet_holds(const struct route *r, int severity, int64_t t_ms)
{
    const struct gw_notify_route_cfg *c = r->cfg;
    return c->has_quiet && (severity == GW_SEVERITY_MEDIUM || severity == GW_SEVERITY_LOW) &&
           local_in_window(t_ms, ALL_DAYS, c->quiet_start_min, c->quiet_end_min, 0);
}

/* ---- sending, flood grouping -------------------------------------------- */

static int push_item(struct item_list *l, const struct notify_msg *m)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct notify_item *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        l->v = grown;
        l->cap = cap;
    }
    int rc = notify_item_init(&l->v[l->n], m);
    if (rc == 0)
        l->n++;
    return rc;
}

/* Move every item of from to the end of to. */
static int move_items(struct item_list *to, struct item_list *from)
{
    if (to->n + from->n > to->cap) {
        size_t cap = to->n + from->n;
        struct notify_item *grown = realloc(to->v, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        to->v = grown;
        to->cap = cap;
    }
    memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    to->n += from->n;
    from->n = 0;
    return 0;
}

static void clear_items(struct item_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        notify_item_free(&l->v[i]);
    l->n = 0;
}

static void free_items(struct item_list *l)
{
    clear_items(l);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Fewer than flood_max messages went to t in the window before now. */
static bool window_allows(const struct gw_notify *n, const struct target *t, int64_t now_ms)
{
    return t->sent_n < n->flood_max || t->sent_ms[t->sent_next] <= now_ms - n->window_ms;
}

static void record_sent(struct gw_notify *n, struct target *t, int64_t now_ms)
{
    t->sent_ms[t->sent_next] = now_ms;
    t->sent_next = (t->sent_next + 1) % n->flood_max;
    if (t->sent_n < n->flood_max)
        t->sent_n++;
}

/* Into the target's spool; takes body. */
static void queue_body(struct gw_notify *n, struct target *t, char *body)
{
    if (!body) {
        log_error("notify target '%s': out of memory building a notification; it is lost", t->cfg->id);
        n->lost++;
        return;
    }
    if (notify_outbox_append(t->outbox, body) == 0)
        n->queued++;
    else
        n->lost++;
    free(body);
}

/* A flood starts: gather until the window allows a message again. */
static void start_collecting(struct gw_notify *n, struct target *t, int64_t now_ms)
{
    if (t->collecting)
        return;
    t->collecting = true;
    t->flush_at_ms = t->sent_n ? t->sent_ms[t->sent_next] + n->window_ms : now_ms;
    if (t->flush_at_ms < now_ms)
        t->flush_at_ms = now_ms;
    log_warning("notify target '%s': more than %zu notifications in %lld min; grouping the next ones into a summary",
                t->cfg->id, n->flood_max, (long long)(n->window_ms / MIN_MS));
}

/* One notification to one target, or into its flood summary. */
static void send_msg(struct gw_notify *n, struct target *t, const struct notify_msg *m)
{
    if (m->event == NOTIFY_REPEAT && t->cfg->type == GW_NOTIFY_PAGERDUTY)
        return;  /* PagerDuty re-notifies by its own rules */
    if (!t->collecting && window_allows(n, t, m->ts_ms)) {
        record_sent(n, t, m->ts_ms);
        queue_body(n, t, notify_format_alarm(t->cfg->type, t->cfg->format, m));
        return;
    }
    start_collecting(n, t, m->ts_ms);
    if (push_item(&t->collected, m) == 0)
        n->grouped++;
    else
        n->lost++;
}

static void send_summary(struct gw_notify *n, struct target *t, enum notify_summary_reason reason,
                         struct item_list *items, int64_t now_ms)
{
    struct notify_summary s = { .reason = reason, .site = n->site, .ts_ms = now_ms, .items = items->v, .n = items->n };
    record_sent(n, t, now_ms);
    queue_body(n, t, notify_format_summary(t->cfg->type, t->cfg->format, &s));
    clear_items(items);
}

/* A quiet-hours summary: sent now, or folded into the flood's summary. */
static void deliver_held(struct gw_notify *n, struct target *t, struct item_list *held, int64_t now_ms)
{
    if (!t->collecting && window_allows(n, t, now_ms)) {
        send_summary(n, t, NOTIFY_SUMMARY_QUIET, held, now_ms);
        return;
    }
    start_collecting(n, t, now_ms);
    if (move_items(&t->collected, held)) {
        log_error("notify target '%s': out of memory; %zu held notifications are lost", t->cfg->id, held->n);
        n->lost += held->n;
        clear_items(held);
    }
}

/* The targets a route sends event to: its own, and the escalation target
 * once it has been told. */
static size_t recipients(const struct route *r, const struct route_track *rt, enum notify_event event,
                         size_t out[2])
{
    size_t k = 0;
    out[k++] = r->cfg->target_index;
    if (event == NOTIFY_REPEAT ? rt->escalated : event != NOTIFY_TRIGGER && rt->escalation_told)
        out[k++] = r->cfg->escalate_index;
    return k;
}

/*
 * Send m to the routes that want it (trigger: those it matched; acknowledge
 * and resolve: those that were told), once per target.  A route in quiet
 * hours holds it for its summary, unless the target gets it anyway.
 */
static void dispatch(struct gw_notify *n, struct tracked *tr, const struct notify_msg *m)
{
    uint64_t sent = 0, held = 0;
    int severity = tr->ev.alarm.severity;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n->n_routes; i++) {
            struct route *r = &n->routes[i];
            const struct route_track *rt = &tr->routes[i];
            if (!(m->event == NOTIFY_TRIGGER ? rt->matched : rt->notified))
                continue;
            bool hold = quiet_holds(r, severity, m->ts_ms);
            size_t to[2], k = recipients(r, rt, m->event, to);
            for (size_t j = 0; j < k; j++) {
                uint64_t bit = 1ull << to[j];
                if (pass == 0 && !hold && !(sent & bit)) {
                    send_msg(n, &n->targets[to[j]], m);
                    sent |= bit;
                } else if (pass == 1 && hold && !((sent | held) & bit)) {
                    if (push_item(&r->held, m) == 0)
                        n->held++;
                    held |= bit;
                }
            }
        }
    }
}

/* ---- transitions -------------------------------------------------------- */

static void stop_timers(struct gw_notify *n, struct tracked *tr)
{
    for (size_t i = 0; i < n->n_routes; i++)
        tr->routes[i].next_repeat_ms = tr->routes[i].escalate_at_ms = 0;
}

/* Routes and timers for a new activation (or a higher severity). */
static void route_activation(struct gw_notify *n, struct tracked *tr, int64_t ts_ms)
{
    for (size_t i = 0; i < n->n_routes; i++) {
        const struct gw_notify_route_cfg *c = n->routes[i].cfg;
        struct route_track *rt = &tr->routes[i];
        rt->matched = route_matches(c, &tr->ev.alarm);
        rt->next_repeat_ms = rt->escalate_at_ms = 0;
        if (!rt->matched)
            continue;
        rt->notified = true;
        rt->escalated = false;
        rt->repeats = 0;
        if (c->repeat_min)
            rt->next_repeat_ms = ts_ms + c->repeat_min * MIN_MS;
        if (c->has_escalation)
            rt->escalate_at_ms = ts_ms + c->escalate_after_min * MIN_MS;
    }
}

static bool any_route_matches(const struct gw_notify *n, const struct gw_alarm_info *a)
{
    for (size_t i = 0; i < n->n_routes; i++)
        if (route_matches(n->routes[i].cfg, a))
            return true;
    return false;
}

static void on_trigger(struct gw_notify *n, struct tracked *tr, const struct gw_alarm_event *ev)
{
    if (!tr && !any_route_matches(n, &ev->alarm))
        return;  /* nobody wants it */
    if (!tr && !(tr = add_tracked(n))) {
        log_error("notify: out of memory; alarm %s/%s is not notified", ev->alarm.device, ev->alarm.rule);
        n->lost++;
        return;
    }
    if (event_copy(&tr->ev, ev)) {
        for (size_t i = 0; i < n->n_tracked; i++)
            if (n->tracked[i] == tr) {
                remove_tracked(n, i);
                break;
            }
        log_error("notify: out of memory; alarm %s/%s is not notified", ev->alarm.device, ev->alarm.rule);
        n->lost++;
        return;
    }
    route_activation(n, tr, ev->ts_ms);
    tr->ack_sent = false;
    tr->severity = ev->alarm.severity;
    struct notify_msg m = { .event = NOTIFY_TRIGGER, .alarm = &tr->ev, .ts_ms = ev->ts_ms };
    dispatch(n, tr, &m);
}

static void on_ack(struct gw_notify *n, struct tracked *tr, int64_t ts_ms)
{
    stop_timers(n, tr);
    if (tr->ack_sent)
        return;
    tr->ack_sent = true;
    struct notify_msg m = { .event = NOTIFY_ACK, .alarm = &tr->ev, .ts_ms = ts_ms };
    dispatch(n, tr, &m);
}

static void on_resolve(struct gw_notify *n, size_t index, int64_t ts_ms)
{
    struct tracked *tr = n->tracked[index];
    struct notify_msg m = { .event = NOTIFY_RESOLVE, .alarm = &tr->ev, .ts_ms = ts_ms };
    dispatch(n, tr, &m);
    remove_tracked(n, index);
}

/* A trigger: newly active-unacknowledged, or more severe than last told
 * (a lower enum gw_severity is more severe). */
static bool is_trigger(const struct gw_alarm_event *ev, const struct tracked *tr)
{
    if (ev->alarm.state != GW_ALARM_ACTIVE_UNACKED)
        return false;
    return ev->from_state != GW_ALARM_ACTIVE_UNACKED || !tr || (int)ev->alarm.severity < tr->severity;
}

void notify_on_alarm(struct gw_notify *n, const struct gw_alarm_event *ev)
{
    if (!n || !ev || !n->n_routes)
        return;
    size_t index = 0;
    struct tracked *tr = find_tracked(n, &ev->alarm, &index);
    if (is_trigger(ev, tr)) {
        on_trigger(n, tr, ev);
        return;
    }
    if (!tr)
        return;  /* nobody was told about it */
    if (event_copy(&tr->ev, ev)) {
        log_error("notify: out of memory; alarm %s/%s is no longer followed", ev->alarm.device, ev->alarm.rule);
        remove_tracked(n, index);
        return;
    }
    switch (ev->alarm.state) {
    case GW_ALARM_NORMAL:
    case GW_ALARM_RETURNED_UNACKED:
        on_resolve(n, index, ev->ts_ms);
        break;
    case GW_ALARM_ACTIVE_ACKED:
    case GW_ALARM_SHELVED:        /* shelving acknowledges */
        on_ack(n, tr, ev->ts_ms);
        break;
    case GW_ALARM_ACTIVE_UNACKED: /* the same or a lower severity: nothing new */
        break;
    case GW_ALARM_SUPPRESSED:
    case GW_ALARM_OUT_OF_SERVICE: /* hidden: no reminders; told again when it shows */
        stop_timers(n, tr);
        break;
    }
}

/* The first time on the grid from + k * step (k >= 1) after now. */
static int64_t next_on_grid(int64_t from, int64_t step, int64_t now)
{
    if (from + step > now)
        return from + step;
    return from + ((now - from) / step + 1) * step;
}

void notify_adopt(struct gw_notify *n, const struct gw_alarm_info *alarm, int64_t now_ms)
{
    if (!n || !alarm || !alarm->active || !n->n_routes || find_tracked(n, alarm, NULL) ||
        !any_route_matches(n, alarm))
        return;
    struct tracked *tr = add_tracked(n);
    struct gw_alarm_event ev = { .alarm = *alarm, .from_state = alarm->state, .cause = "restart", .ts_ms = now_ms };
    if (!tr || event_copy(&tr->ev, &ev)) {
        if (tr)
            remove_tracked(n, n->n_tracked - 1);
        log_error("notify: out of memory; alarm %s/%s is not followed", alarm->device, alarm->rule);
        return;
    }
    int64_t since = alarm->state_since_ms ? alarm->state_since_ms : now_ms;
    route_activation(n, tr, since);
    tr->severity = alarm->severity;
    tr->ack_sent = alarm->state != GW_ALARM_ACTIVE_UNACKED;
    for (size_t i = 0; i < n->n_routes; i++) {
        struct route_track *rt = &tr->routes[i];
        const struct gw_notify_route_cfg *c = n->routes[i].cfg;
        if (tr->ack_sent) {
            rt->next_repeat_ms = rt->escalate_at_ms = 0;
            continue;
        }
        if (rt->next_repeat_ms)
            rt->next_repeat_ms = next_on_grid(since, c->repeat_min * MIN_MS, now_ms);
        if (rt->escalate_at_ms && rt->escalate_at_ms <= now_ms) {
            rt->escalate_at_ms = 0;  /* its time came before the restart: taken as sent */
            rt->escalated = rt->escalation_told = true;
        }
    }
}

/* ---- time --------------------------------------------------------------- */

static void repeat_and_escalate(struct gw_notify *n, struct tracked *tr, int64_t now_ms)
{
    for (size_t i = 0; i < n->n_routes; i++) {
        struct route *r = &n->routes[i];
        struct route_track *rt = &tr->routes[i];
        if (!rt->matched)
            continue;
        bool hold = quiet_holds(r, tr->ev.alarm.severity, now_ms);
        if (rt->escalate_at_ms && now_ms >= rt->escalate_at_ms && !hold) {
            struct notify_msg m = { .event = NOTIFY_ESCALATE, .alarm = &tr->ev, .ts_ms = now_ms,
                                    .after_min = r->cfg->escalate_after_min };
            send_msg(n, &n->targets[r->cfg->escalate_index], &m);
            rt->escalated = rt->escalation_told = true;
            rt->escalate_at_ms = 0;
        }
        if (!rt->next_repeat_ms || now_ms < rt->next_repeat_ms)
            continue;
        int64_t step = r->cfg->repeat_min * MIN_MS;
        rt->next_repeat_ms = next_on_grid(rt->next_repeat_ms - step, step, now_ms);
        if (hold)
            continue;  /* skipped: the quiet-hours summary tells it */
        struct notify_msg m = { .event = NOTIFY_REPEAT, .alarm = &tr->ev, .ts_ms = now_ms, .repeat = ++rt->repeats };
        size_t to[2], k = recipients(r, rt, NOTIFY_REPEAT, to);
        for (size_t j = 0; j < k; j++)
            send_msg(n, &n->targets[to[j]], &m);
    }
}

void notify_tick(struct gw_notify *n, int64_t now_ms)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_tracked; i++)
        if (n->tracked[i]->ev.alarm.state == GW_ALARM_ACTIVE_UNACKED)
            repeat_and_escalate(n, n->tracked[i], now_ms);
    for (size_t i = 0; i < n->n_routes; i++) {
        struct route *r = &n->routes[i];
        const struct gw_notify_route_cfg *c = r->cfg;
        if (r->held.n && !local_in_window(now_ms, ALL_DAYS, c->quiet_start_min, c->quiet_end_min, 0))
            deliver_held(n, &n->targets[c->target_index], &r->held, now_ms);
    }
    for (size_t i = 0; i < n->n_targets; i++) {
        struct target *t = &n->targets[i];
        if (!t->collecting || now_ms < t->flush_at_ms)
            continue;
        if (t->collected.n) {
            send_summary(n, t, NOTIFY_SUMMARY_FLOOD, &t->collected, now_ms);
            t->flush_at_ms = now_ms + n->window_ms;  /* at most one summary a window while it lasts */
        } else {
            t->collecting = false;
            log_info("notify target '%s': the flood is over; notifications are sent one by one again", t->cfg->id);
        }
    }
}

/* ---- life cycle --------------------------------------------------------- */

static int open_targets(struct gw_notify *n, const struct gw_notify_cfg *c, const char *spool_dir)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        struct target *t = &n->targets[i];
        t->cfg = &c->targets[i];
        n->n_targets++;  /* freed by notify_free whatever follows */
        if (!(t->sent_ms = calloc(n->flood_max, sizeof *t->sent_ms)))
            return -ENOMEM;
        int rc = notify_outbox_open(t->cfg, spool_dir, &t->outbox);
        if (rc)
            return rc;
    }
    return 0;
}

int notify_create(const struct gw_config *cfg, const char *spool_dir, struct gw_notify **out)
{
    *out = NULL;
    if (!cfg || !spool_dir)
        return -EINVAL;
    const struct gw_notify_cfg *c = &cfg->notify;
    struct gw_notify *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->site = cfg->site.id ? cfg->site.id : "";
    n->flood_max = c->flood_max > 0 ? (size_t)c->flood_max : 10;
    n->window_ms = (c->flood_window_min > 0 ? c->flood_window_min : 10) * MIN_MS;
    int rc = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("notify: cannot initialise libcurl");
        rc = -ENOMEM;
    }
    n->curl_ready = rc == 0;
    if (!rc && (!(n->targets = calloc(c->n_targets + 1, sizeof *n->targets)) ||
                !(n->routes = calloc(c->n_routes + 1, sizeof *n->routes))))
        rc = -ENOMEM;
    if (!rc)
        rc = open_targets(n, c, spool_dir);
    for (size_t i = 0; !rc && i < c->n_routes; i++, n->n_routes++)
        n->routes[i].cfg = &c->routes[i];
    if (rc) {
        if (rc == -ENOMEM)
            log_error("notify: out of memory");
        notify_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int notify_start(struct gw_notify *n)
{
    if (!n)
        return -EINVAL;
    for (size_t i = 0; i < n->n_targets; i++) {
        int rc = notify_outbox_start(n->targets[i].outbox);
        if (rc) {
            log_error("notify target '%s': cannot start delivery: %s", n->targets[i].cfg->id, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

bool notify_flush(struct gw_notify *n, int timeout_ms)
{
    if (!n)
        return true;
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * GW_NS_PER_MS;
    bool all = true;
    for (size_t i = 0; i < n->n_targets; i++)
        all &= notify_outbox_wait_idle(n->targets[i].outbox, deadline);
    return all;
}

void notify_stop(struct gw_notify *n)
{
    for (size_t i = 0; n && i < n->n_targets; i++)
        notify_outbox_stop(n->targets[i].outbox);
}

void notify_state(struct gw_notify *n, struct gw_notify_state *out)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return;
    *out = (struct gw_notify_state){ .queued = n->queued, .lost = n->lost, .grouped = n->grouped,
                                     .held = n->held, .targets = n->n_targets };
    for (size_t i = 0; i < n->n_targets; i++) {
        struct notify_outbox_stats s;
        notify_outbox_stats(n->targets[i].outbox, &s);
        out->delivered += s.delivered;
        out->failed += s.failed;
        out->dropped += s.dropped;
        out->targets_failing += s.failing;
        out->spool.appended += s.spool.appended;
        out->spool.delivered += s.spool.delivered;
        out->spool.dropped += s.spool.dropped;
        out->spool.corrupt += s.spool.corrupt;
        out->spool.depth_records += s.spool.depth_records;
        out->spool.depth_bytes += s.spool.depth_bytes;
    }
}

/* What is held or grouped goes to the spools as its summary. */
static void flush_pending(struct gw_notify *n)
{
    int64_t now_ms = clock_wall_ms();
    for (size_t i = 0; i < n->n_routes; i++)
        if (n->routes[i].held.n)
            send_summary(n, &n->targets[n->routes[i].cfg->target_index], NOTIFY_SUMMARY_QUIET, &n->routes[i].held,
                         now_ms);
    for (size_t i = 0; i < n->n_targets; i++)
        if (n->targets[i].collected.n)
            send_summary(n, &n->targets[i], NOTIFY_SUMMARY_FLOOD, &n->targets[i].collected, now_ms);
}

void notify_free(struct gw_notify *n)
{
    if (!n)
        return;
    notify_stop(n);
    flush_pending(n);
    for (size_t i = 0; i < n->n_routes; i++)
        free_items(&n->routes[i].held);
    for (size_t i = 0; i < n->n_targets; i++) {
        notify_outbox_free(n->targets[i].outbox);
        free(n->targets[i].sent_ms);
        free_items(&n->targets[i].collected);
    }
    for (size_t i = 0; i < n->n_tracked; i++)
        free_tracked(n->tracked[i]);
    free(n->tracked);
    free(n->routes);
    free(n->targets);
    if (n->curl_ready)
        curl_global_cleanup();
    free(n);
}
