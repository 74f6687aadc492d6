#include "sinks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "command.h"
#include "log.h"
#include "scheduler.h"

static const struct gw_sink_ops *const known_sinks[] = { &sink_mqtt_ops, &sink_influx_ops };
#define N_KNOWN (sizeof known_sinks / sizeof *known_sinks)

struct sink_slot {
    const struct gw_sink_ops *ops;
    void *impl;
    struct gw_spool *spool;
    bool started;
    uint64_t refused;            /* records the spool would not take */
};

struct gw_sinks {
    struct sink_slot slots[N_KNOWN];
    size_t n;
    struct gw_health_sink states[N_KNOWN];
};

static int make_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -errno : 0;
}

static int open_slot(const struct gw_config *cfg, const struct gw_sink_ops *ops, struct sink_slot *slot)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", cfg->daemon.spool_dir, ops->name);
    int rc = make_dir(dir);
    if (rc) {
        log_error("sink %s: cannot create spool directory %s: %s", ops->name, dir, strerror(-rc));
        return rc;
    }
    struct gw_spool_options opts = {
        .max_bytes = (uint64_t)cfg->spool.max_mb << 20,
        .segment_bytes = (uint32_t)cfg->spool.segment_kb << 10,
        .fsync_interval_ms = cfg->spool.fsync_ms,
    };
    slot->ops = ops;
    if ((rc = spool_open(dir, &opts, &slot->spool)))
        return rc;
    return ops->create(cfg, slot->spool, &slot->impl);
}

int sinks_open(const struct gw_config *cfg, struct gw_sinks **out)
{
    *out = NULL;
    struct gw_sinks *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (!known_sinks[i]->configured(cfg))
            continue;
        int rc = open_slot(cfg, known_sinks[i], &s->slots[s->n++]);
        if (rc) {
            sinks_close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int sinks_start(struct gw_sinks *s)
{
    for (size_t i = 0; i < s->n; i++) {
        int rc = s->slots[i].ops->start(s->slots[i].impl);
        if (rc) {
            log_error("sink %s: cannot start: %s", s->slots[i].ops->name, strerror(-rc));
            return rc;
        }
        s->slots[i].started = true;
    }
    return 0;
}

bool sinks_empty(const struct gw_sinks *s)
{
    return s->n == 0;
}

/* Disk full or failing: say so on the first refusal and then every
 * thousandth, not on every sample. */
static void note_refusal(struct sink_slot *slot, const char *what, int rc)
{
    if (slot->refused++ % 1000 == 0)
        log_error("sink %s: the spool refused a %s (%s); %llu refused so far", slot->ops->name, what,
                  strerror(-rc), (unsigned long long)slot->refused);
}

void sinks_burst_begin(struct gw_sinks *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        spool_burst_begin(s->slots[i].spool);
}

void sinks_burst_end(struct gw_sinks *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        spool_burst_end(s->slots[i].spool);
}

void sinks_submit_sample(struct gw_sinks *s, const struct gw_sample *sample, const struct gw_device_cfg *device)
{
    for (size_t i = 0; i < s->n; i++) {
        int rc = s->slots[i].ops->submit_sample(s->slots[i].impl, sample, device);
        if (rc)
            note_refusal(&s->slots[i], "sample", rc);
    }
}

void sinks_submit_alarm(struct gw_sinks *s, const struct gw_alarm_event *event)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->slots[i].ops->submit_alarm)
            continue;
        int rc = s->slots[i].ops->submit_alarm(s->slots[i].impl, event);
        if (rc)
            note_refusal(&s->slots[i], "alarm transition", rc);
    }
}

void sinks_submit_alarm_state(struct gw_sinks *s, const struct gw_alarm_info *alarm)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->slots[i].ops->submit_alarm_state)
            continue;
        int rc = s->slots[i].ops->submit_alarm_state(s->slots[i].impl, alarm);
        if (rc)
            note_refusal(&s->slots[i], "alarm state", rc);
    }
}

bool sinks_next_command(struct gw_sinks *s, struct gw_command *out)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct gw_sink_ops *ops = s->slots[i].ops;
        if (ops->next_command && ops->next_command(s->slots[i].impl, out)) {
            out->origin = i;
            return true;
        }
    }
    return false;
}

void sinks_answer_command(struct gw_sinks *s, const struct gw_command *cmd,
                          const struct gw_command_result *result)
{
    if (cmd->origin >= s->n || !s->slots[cmd->origin].ops->submit_command_result)
        return;
    struct sink_slot *slot = &s->slots[cmd->origin];
    int rc = slot->ops->submit_command_result(slot->impl, result);
    if (rc)
        note_refusal(slot, "command result", rc);
}

void sinks_submit_health(struct gw_sinks *s, struct gw_health *h)
{
    for (size_t i = 0; i < s->n; i++) {
        struct gw_health_sink *st = &s->states[i];
        memset(st, 0, sizeof *st);
        s->slots[i].ops->state(s->slots[i].impl, st);
        st->name = s->slots[i].ops->name;
        spool_stats(s->slots[i].spool, &st->spool);
    }
    h->sinks = s->states;
    h->n_sinks = s->n;
    for (size_t i = 0; i < s->n; i++) {
        int rc = s->slots[i].ops->submit_health(s->slots[i].impl, h);
        if (rc)
            note_refusal(&s->slots[i], "health report", rc);
    }
}

/* Records spooled for sinks that are connected: waiting for a target that
 * is down would only delay the stop; its records are safe in the spool. */
static uint64_t waiting(struct gw_sinks *s)
{
    uint64_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct gw_health_sink state = { 0 };
        s->slots[i].ops->state(s->slots[i].impl, &state);
        if (!state.connected)
            continue;
        struct gw_spool_stats st;
        spool_stats(s->slots[i].spool, &st);
        total += st.depth_records;
    }
    return total;
}

int sinks_flush(struct gw_sinks *s, int timeout_ms)
{
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * GW_NS_PER_MS;
    /* Delivery threads do not signal progress to the main thread; a short
     * poll is enough at shutdown. */
    while (waiting(s) > 0) {
        if (clock_mono_ns() >= deadline)
            return -ETIMEDOUT;
        struct timespec pause = { .tv_nsec = 20 * GW_NS_PER_MS };
        nanosleep(&pause, NULL);
    }
    return 0;
}

void sinks_close(struct gw_sinks *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct sink_slot *slot = &s->slots[i];
        if (slot->started)
            slot->ops->stop(slot->impl);
        if (slot->impl)
            slot->ops->destroy(slot->impl);
        if (slot->spool) {
            spool_sync(slot->spool);
            spool_close(slot->spool);
        }
    }
    free(s);
}
