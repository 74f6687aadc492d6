/*
 * The rule engine: rules instantiated per device, samples and ticks
 * through them, suppression, transitions found and delivered, the state
 * file kept.  The alarm state machine is alarm.c; each family of rule
 * types is a rule_*.c; persistence is store.c.
 */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "defaults.h"
#include "local_time.h"
#include "log.h"
#include "rule.h"
#include "store.h"

/* Transitions are saved at once, but at most this often; what is left is
 * saved by the next call after it (a crash in between repeats an event at
 * restart, with the same seq, rather than losing one). */
#define SAVE_MIN_INTERVAL_MS 1000
/* Counters (maintenance counts, daily totals) are saved this often. */
#define SAVE_COUNTERS_MS 60000
#define SHELVE_MAX_S (30 * 86400.0)

struct gw_rules {
    const struct gw_config *cfg;
    struct rule_set set;
    struct rule_inst *rules;       /* set.n */
    struct rule_device *devices;   /* parallel to cfg->devices */
    struct rule_inst **by_device;  /* the storage of devices[i].rules */
    char *state_file;
    gw_alarm_event_fn on_event;
    void *arg;
    uint64_t seq;
    int64_t now_ms, saved_ms;
    bool save_pending;
};

/* ---- building ----------------------------------------------------------- */

static struct rule_device *device_of(struct gw_rules *r, const struct gw_device_cfg *dev, const char *id)
{
    const struct gw_config *cfg = r->cfg;
    if (dev && dev >= cfg->devices && dev < cfg->devices + cfg->n_devices)
        return &r->devices[dev - cfg->devices];
    for (size_t i = 0; id && i < cfg->n_devices; i++)
        if (cfg->devices[i].id && strcmp(cfg->devices[i].id, id) == 0)
            return &r->devices[i];
    return NULL;
}

static int init_rule(struct gw_rules *r, struct rule_inst *inst, const struct gw_rule_cfg *cfg, int64_t now_ms)
{
    inst->cfg = cfg;
    inst->ops = rule_ops_for(cfg->type);
    inst->dev = device_of(r, NULL, cfg->device_id);
    alarm_init(&inst->alarm, cfg->severity, cfg->latching);
    if (cfg->message)
        snprintf(inst->alarm.message, sizeof inst->alarm.message, "%s", cfg->message);
    if (!inst->ops || !inst->dev)
        return -EINVAL;  /* validated: cannot happen */
    if (cfg->suppress_when && expr_compile(cfg->suppress_when, &inst->suppress, NULL, NULL, 0))
        return -ENOMEM;
    return inst->ops->init ? inst->ops->init(inst, now_ms) : 0;
}

/* Each device's rules, its comm_loss rules first. */
static int group_by_device(struct gw_rules *r)
{
    size_t n_dev = r->cfg->n_devices;
    if (!(r->devices = calloc(n_dev + 1, sizeof *r->devices)) ||
        !(r->by_device = calloc(r->set.n + 1, sizeof *r->by_device)))
        return -ENOMEM;
    size_t next = 0;
    for (size_t d = 0; d < n_dev; d++) {
        struct rule_device *dev = &r->devices[d];
        dev->cfg = &r->cfg->devices[d];
        dev->interval_ms = (int64_t)llround(dev->cfg->interval_s * 1000);
        dev->rules = &r->by_device[next];
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < r->set.n; i++) {
                const struct gw_rule_cfg *c = &r->set.rules[i];
                bool comm = c->type == GW_RULE_COMM_LOSS;
                if (strcmp(c->device_id, dev->cfg->id) != 0 || comm != (pass == 0))
                    continue;
                dev->rules[dev->n_rules++] = &r->rules[i];
                if (comm && !dev->comm)
                    dev->comm = &r->rules[i];
            }
        }
        next += dev->n_rules;
    }
    return 0;
}

static int build(struct gw_rules *r, int64_t now_ms)
{
    if (!(r->rules = calloc(r->set.n + 1, sizeof *r->rules)))
        return -ENOMEM;
    int rc = group_by_device(r);
    for (size_t i = 0; !rc && i < r->set.n; i++) {
        rc = init_rule(r, &r->rules[i], &r->set.rules[i], now_ms);
    }
    return rc;
}

int rules_check(const struct gw_config *cfg, const struct gw_kinds *kinds, struct gw_diag *diag)
{
    struct rule_set set;
    int rc = rules_resolve(cfg, kinds, diag, &set);
    rule_set_free(&set);
    return rc;
}

static int resolve_logged(const struct gw_config *cfg, const struct gw_kinds *kinds, struct rule_set *set)
{
    struct gw_diag diag = { 0 };
    int rc = rules_resolve(cfg, kinds, &diag, set);
    for (size_t i = 0; i < diag.n && i < diag.cap; i++)
        log_error("%s", diag.lines[i]);
    diag_free(&diag);
    return rc;
}

int rules_create(const struct gw_config *cfg, const struct gw_kinds *kinds, const char *state_file,
                 gw_alarm_event_fn on_event, void *arg, int64_t now_ms, struct gw_rules **out)
{
    *out = NULL;
    if (local_time_set_zone(cfg->site.timezone) == -ENOENT)
        log_warning("site: unknown timezone '%s'; schedules and daily baselines use UTC", cfg->site.timezone);
    struct gw_rules *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->cfg = cfg;
    r->on_event = on_event;
    r->arg = arg;
    r->now_ms = r->saved_ms = now_ms;
    int rc = resolve_logged(cfg, kinds, &r->set);
    /* Without rules there is no state to keep, and no file to touch. */
    if (!rc && state_file && r->set.n && !(r->state_file = strdup(state_file)))
        rc = -ENOMEM;
    if (!rc)
        rc = build(r, now_ms);
    if (rc) {
        free(r->state_file);
        r->state_file = NULL;  /* nothing to save */
        rules_free(r);
        return rc;
    }
    if (r->state_file)
        store_load(r->state_file, r->rules, r->set.n, &r->seq);
    *out = r;
    return 0;
}

/* ---- transitions -------------------------------------------------------- */

static void describe(const struct gw_rules *r, const struct rule_inst *inst, struct gw_alarm_info *info)
{
    const struct alarm *a = &inst->alarm;
    const struct gw_device_cfg *dev = inst->dev->cfg;
    *info = (struct gw_alarm_info){
        .site = r->cfg->site.id, .device = dev->id, .kind = dev->kind, .rule = inst->cfg->id,
        .type = inst->cfg->type, .type_name = gw_rule_type_names[inst->cfg->type],
        .severity = a->severity, .state = alarm_state(a), .active = alarm_active(a), .acked = a->acked,
        .has_value = a->has_value, .value = a->value, .has_limit = a->has_limit, .limit = a->limit,
        .message = a->message, .since_ms = a->since_ms, .state_since_ms = a->state_since_ms,
        .acked_by = a->acked_by, .acked_ms = a->acked_ms,
        .shelved_by = a->shelved_by, .shelved_until_ms = a->shelved_until_ms,
        .tags = dev->tags, .n_tags = dev->n_tags,
    };
}

static const char *derived_cause(enum gw_alarm_state from, enum gw_alarm_state to)
{
    if (to == GW_ALARM_SUPPRESSED)
        return "suppressed";
    if (from == GW_ALARM_SUPPRESSED)
        return "released";
    return "condition";
}

/* Deliver the alarm's transition, if it has made one.  Returns 1 if so. */
static int commit(struct gw_rules *r, struct rule_inst *inst, int64_t t, const char *cause)
{
    struct alarm *a = &inst->alarm;
    enum gw_alarm_state from = a->reported, to = alarm_state(a);
    if (to == from && a->severity == a->reported_severity)
        return 0;
    a->reported = to;
    a->reported_severity = a->severity;
    a->state_since_ms = t;
    struct gw_alarm_event ev = { .from_state = from, .cause = cause ? cause : derived_cause(from, to),
                                 .ts_ms = t, .seq = ++r->seq };
    describe(r, inst, &ev.alarm);
    log_debug("alarm %s/%s: %s -> %s (%s)", ev.alarm.device, ev.alarm.rule, alarm_state_name(from),
              alarm_state_name(to), ev.cause);
    if (r->on_event)
        r->on_event(&ev, r->arg);
    r->save_pending = true;
    return 1;
}

/* comm_loss takes precedence: while one of the device's is active, its
 * other alarms are suppressed; so is an alarm whose suppress_when holds. */
static void update_suppression(struct rule_device *d)
{
    bool comm_lost = false;
    for (size_t i = 0; i < d->n_rules; i++)
        comm_lost |= d->rules[i]->cfg->type == GW_RULE_COMM_LOSS && d->rules[i]->alarm.cond;
    for (size_t i = 0; i < d->n_rules; i++) {
        struct rule_inst *inst = d->rules[i];
        if (inst->cfg->type != GW_RULE_COMM_LOSS)
            inst->alarm.suppressed = comm_lost || (inst->suppress && inst->suppress_on);
    }
}

static void commit_device(struct gw_rules *r, struct rule_device *d, int64_t t)
{
    update_suppression(d);
    for (size_t i = 0; i < d->n_rules; i++)
        commit(r, d->rules[i], t, NULL);
}

static bool any_dirty(const struct gw_rules *r)
{
    for (size_t i = 0; i < r->set.n; i++)
        if (r->rules[i].dirty)
            return true;
    return false;
}

static void maybe_save(struct gw_rules *r, int64_t now_ms)
{
    if (!r->state_file || now_ms - r->saved_ms < SAVE_MIN_INTERVAL_MS)
        return;
    if (r->save_pending || (now_ms - r->saved_ms >= SAVE_COUNTERS_MS && any_dirty(r)))
        rules_save(r, now_ms);
}

int rules_save(struct gw_rules *r, int64_t now_ms)
{
    if (!r->state_file)
        return 0;
    int rc = store_save(r->state_file, r->rules, r->set.n, r->seq, now_ms);
    r->saved_ms = now_ms;
    if (rc == 0) {
        r->save_pending = false;
        for (size_t i = 0; i < r->set.n; i++)
            r->rules[i].dirty = false;
    }
    return rc;
}

/* ---- evaluation --------------------------------------------------------- */

static void eval_suppress_when(struct rule_inst *inst, const struct gw_sample *s)
{
    double v;
    if (inst->suppress && expr_eval(inst->suppress, rule_lookup, (void *)s, &v) == 0)
        inst->suppress_on = v != 0;  /* unknown holds */
}

int rules_eval_sample(struct gw_rules *r, const struct gw_sample *s, const struct gw_device_cfg *device,
                      int64_t now_ms)
{
    struct rule_device *d = device_of(r, device, s->device_id);
    if (!d || !d->n_rules)
        return -ENOENT;
    int64_t t = s->ts_ms > 0 ? s->ts_ms : now_ms;
    d->clock_offset_ms = t - now_ms;
    r->now_ms = now_ms;
    for (size_t i = 0; i < d->n_rules; i++) {
        d->rules[i]->ops->sample(d->rules[i], s, t);
        eval_suppress_when(d->rules[i], s);
    }
    commit_device(r, d, t);
    maybe_save(r, now_ms);
    return 0;
}

/* Shelving runs on the wall clock (its expiry was set by a command); the
 * transition is stamped on the device's, t. */
static void expire_shelving(struct gw_rules *r, struct rule_device *d, int64_t now_ms, int64_t t)
{
    for (size_t i = 0; i < d->n_rules; i++) {
        struct alarm *a = &d->rules[i]->alarm;
        if (a->shelved_until_ms && now_ms >= a->shelved_until_ms && alarm_unshelve(a) == 0) {
            update_suppression(d);
            commit(r, d->rules[i], t, "shelve-expired");
        }
    }
}

void rules_tick(struct gw_rules *r, int64_t now_ms)
{
    r->now_ms = now_ms;
    for (size_t di = 0; di < r->cfg->n_devices; di++) {
        struct rule_device *d = &r->devices[di];
        int64_t t = now_ms + d->clock_offset_ms;
        expire_shelving(r, d, now_ms, t);
        for (size_t i = 0; i < d->n_rules; i++)
            if (d->rules[i]->ops->tick)
                d->rules[i]->ops->tick(d->rules[i], t);
        commit_device(r, d, t);
    }
    maybe_save(r, now_ms);
}

/* ---- commands ----------------------------------------------------------- */

static bool valid_user(const char *user)
{
    size_t n = user ? strlen(user) : 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
            return false;
    return n >= 1 && n < ALARM_USER_MAX;
}

static int fail(const char **why, int rc, const char *text)
{
    if (why)
        *why = text;
    return rc;
}

static struct rule_inst *lookup(struct gw_rules *r, const char *device, const char *rule)
{
    struct rule_device *d = device && rule ? device_of(r, NULL, device) : NULL;
    for (size_t i = 0; d && i < d->n_rules; i++)
        if (strcmp(d->rules[i]->cfg->id, rule) == 0)
            return d->rules[i];
    return NULL;
}

/* The alarm of rule on device, or NULL with *rc and *why set. */
static struct rule_inst *find_alarm(struct gw_rules *r, const char *device, const char *rule, const char *user,
                                    const char **why, int *rc)
{
    *rc = 0;
    if (!valid_user(user)) {
        *rc = fail(why, -EINVAL, "user must be 1 to 63 printable characters");
        return NULL;
    }
    struct rule_inst *inst = lookup(r, device, rule);
    if (!inst)
        *rc = fail(why, -ENOENT, "no such alarm");
    return inst;
}

/* After a command: deliver its transition and keep the file. */
static int done(struct gw_rules *r, struct rule_inst *inst, int64_t now_ms, const char *cause, const char **why)
{
    update_suppression(inst->dev);
    commit(r, inst, now_ms, cause);
    r->now_ms = now_ms;
    maybe_save(r, now_ms);
    return fail(why, 0, "done");
}

int rules_ack(struct gw_rules *r, const char *device, const char *rule, const char *user, int64_t now_ms,
              const char **why)
{
    int rc;
    struct rule_inst *inst = find_alarm(r, device, rule, user, why, &rc);
    if (!inst)
        return rc;
    rc = alarm_ack(&inst->alarm, user, now_ms);
    if (rc == -EALREADY)
        return fail(why, rc, "nothing to acknowledge");
    if (rc == -EBUSY)
        return fail(why, rc, inst->alarm.out_of_service ? "the alarm is out of service" : "the alarm is shelved");
    return done(r, inst, now_ms, "ack", why);
}

int rules_shelve(struct gw_rules *r, const char *device, const char *rule, double duration_s, const char *user,
                 int64_t now_ms, const char **why)
{
    int rc;
    struct rule_inst *inst = find_alarm(r, device, rule, user, why, &rc);
    if (!inst)
        return rc;
    if (!(duration_s >= 1 && duration_s <= SHELVE_MAX_S))
        return fail(why, -EINVAL, "duration must be 1 s to 30 days");
    if (alarm_shelve(&inst->alarm, now_ms + (int64_t)llround(duration_s * 1000), user, now_ms))
        return fail(why, -EBUSY, "the alarm is out of service");
    return done(r, inst, now_ms, "shelve", why);
}

int rules_unshelve(struct gw_rules *r, const char *device, const char *rule, const char *user, int64_t now_ms,
                   const char **why)
{
    int rc;
    struct rule_inst *inst = find_alarm(r, device, rule, user, why, &rc);
    if (!inst)
        return rc;
    if (alarm_unshelve(&inst->alarm))
        return fail(why, -EALREADY, "the alarm is not shelved");
    return done(r, inst, now_ms, "unshelve", why);
}

static int set_service(struct gw_rules *r, struct rule_inst *inst, bool oos, int64_t now_ms, const char **why)
{
    if (alarm_set_out_of_service(&inst->alarm, oos))
        return fail(why, -EALREADY, oos ? "already out of service" : "already in service");
    return done(r, inst, now_ms, oos ? "out-of-service" : "in-service", why);
}

int rules_set_out_of_service(struct gw_rules *r, const char *device, const char *rule, bool out_of_service,
                             const char *user, int64_t now_ms, const char **why)
{
    int rc;
    if (rule) {
        struct rule_inst *inst = find_alarm(r, device, rule, user, why, &rc);
        return inst ? set_service(r, inst, out_of_service, now_ms, why) : rc;
    }
    struct rule_device *d = device ? device_of(r, NULL, device) : NULL;
    if (!valid_user(user))
        return fail(why, -EINVAL, "user must be 1 to 63 printable characters");
    if (!d || !d->n_rules)
        return fail(why, -ENOENT, "no alarms on that device");
    size_t changed = 0;
    for (size_t i = 0; i < d->n_rules; i++)
        changed += set_service(r, d->rules[i], out_of_service, now_ms, NULL) == 0;
    return changed ? fail(why, 0, "done")
                   : fail(why, -EALREADY, out_of_service ? "already out of service" : "already in service");
}

int rules_service_done(struct gw_rules *r, const char *device, const char *rule, const char *user, int64_t now_ms,
                       const char **why)
{
    int rc;
    struct rule_inst *inst = find_alarm(r, device, rule, user, why, &rc);
    if (!inst)
        return rc;
    if (!inst->ops->service)
        return fail(why, -EINVAL, "not a maintenance rule");
    inst->ops->service(inst, user, now_ms);
    r->save_pending = true;
    return done(r, inst, now_ms, "service", why);
}

int rules_last_service(struct gw_rules *r, const char *device, const char *rule, const char **by, int64_t *at_ms)
{
    struct rule_inst *inst = lookup(r, device, rule);
    if (!inst || inst->cfg->type != GW_RULE_MAINTENANCE)
        return -ENOENT;
    maintenance_last_service(inst, by, at_ms);
    return 0;
}

/* ---- listing and freeing ------------------------------------------------ */

void rules_foreach_alarm(struct gw_rules *r, void (*fn)(const struct gw_alarm_info *alarm, void *arg), void *arg)
{
    for (size_t di = 0; di < r->cfg->n_devices; di++) {
        const struct rule_device *d = &r->devices[di];
        for (size_t i = 0; i < d->n_rules; i++) {
            struct gw_alarm_info info;
            describe(r, d->rules[i], &info);
            fn(&info, arg);
        }
    }
}

size_t rules_count(const struct gw_rules *r)
{
    return r->set.n;
}

void rules_free(struct gw_rules *r)
{
    if (!r)
        return;
    if (r->state_file && r->rules)
        rules_save(r, r->now_ms);
    for (size_t i = 0; r->rules && i < r->set.n; i++) {
        struct rule_inst *inst = &r->rules[i];
        if (inst->ops && inst->ops->free)
            inst->ops->free(inst);
        expr_free(inst->suppress);
    }
    free(r->rules);
    free(r->devices);
    free(r->by_device);
    rule_set_free(&r->set);
    free(r->state_file);
    free(r);
}
