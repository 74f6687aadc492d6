#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "sample.h"
#include "scheduler.h"

/* Samples waiting for the main thread.  Bounded: when the main thread
 * falls this far behind, bus threads wait rather than drop data (the polls
 * they miss meanwhile are counted).  4 s of 1,000 devices polled every
 * second; at about 1.5 KiB for a sample of 35 points, 6 MiB at most: a
 * starved main thread must not grow the heap that glibc keeps afterwards. */
enum { QUEUE_MAX = 4096 };

struct queued {
    struct gw_sample *sample;
    const struct gw_device_cfg *device;
    struct queued *next;
};

struct gw_engine {
    struct gw_device *devices;
    struct gw_device **by_bus;      /* devices grouped by bus, for the bus threads */
    size_t n_devices;
    struct gw_bus *buses;
    size_t n_buses;
    pthread_mutex_t lock;
    pthread_cond_t ready, room;
    struct queued *head, *tail;
    size_t queued;
    size_t buses_finished;
    struct gw_health_bus *health_buses;
    struct gw_health_device *health_devices;
    bool stopping;                  /* past the bound is allowed then: nothing is dropped */
};

static void engine_emit(void *arg, const struct gw_device_cfg *device, struct gw_sample *sample)
{
    struct gw_engine *e = arg;
    struct queued *q = sample ? malloc(sizeof *q) : NULL;
    pthread_mutex_lock(&e->lock);
    if (!sample) {
        e->buses_finished++;
    } else if (q) {
        while (e->queued >= QUEUE_MAX && !e->stopping)
            pthread_cond_wait(&e->room, &e->lock);
        *q = (struct queued){ .sample = sample, .device = device };
        if (e->tail)
            e->tail->next = q;
        else
            e->head = q;
        e->tail = q;
        e->queued++;
    }
    pthread_cond_signal(&e->ready);
    pthread_mutex_unlock(&e->lock);
    if (sample && !q) {
        log_error("device '%s': out of memory, sample lost", sample->device_id);
        sample_free(sample);
        free(sample);
    }
}

static int create_devices(struct gw_engine *e, const struct gw_config *cfg, const struct gw_kinds *kinds)
{
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct gw_device_cfg *dc = &cfg->devices[i];
        if (!dc->enabled)
            continue;
        int rc = device_init(&e->devices[e->n_devices], dc, kinds_find(kinds, dc->kind));
        if (rc)
            return rc;
        e->n_devices++;
    }
    return 0;
}

/* Group devices by bus (stable, in configuration order) and start no
 * thread for a bus without enabled devices. */
static int create_buses(struct gw_engine *e, const struct gw_config *cfg, bool once)
{
    size_t filled = 0;
    for (size_t b = 0; b < cfg->n_buses; b++) {
        size_t first = filled;
        for (size_t i = 0; i < e->n_devices; i++)
            if (e->devices[i].cfg->bus_index == b)
                e->by_bus[filled++] = &e->devices[i];
        if (filled == first)
            continue;
        int rc = bus_init(&e->buses[e->n_buses], &cfg->buses[b], &e->by_bus[first], filled - first,
                          once, engine_emit, e);
        e->n_buses++;
        if (rc)
            return rc;
    }
    return 0;
}

int engine_create(const struct gw_config *cfg, const struct gw_kinds *kinds, bool once,
                  struct gw_engine **out)
{
    *out = NULL;
    struct gw_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->ready, NULL);
    pthread_cond_init(&e->room, NULL);
    e->devices = calloc(cfg->n_devices + 1, sizeof *e->devices);
    e->by_bus = calloc(cfg->n_devices + 1, sizeof *e->by_bus);
    e->buses = calloc(cfg->n_buses + 1, sizeof *e->buses);
    e->health_buses = calloc(cfg->n_buses + 1, sizeof *e->health_buses);
    e->health_devices = calloc(cfg->n_devices + 1, sizeof *e->health_devices);
    int rc = e->devices && e->by_bus && e->buses && e->health_buses && e->health_devices
                 ? create_devices(e, cfg, kinds) : -ENOMEM;
    if (!rc)
        rc = create_buses(e, cfg, once);
    if (rc) {
        engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int engine_start(struct gw_engine *e)
{
    for (size_t i = 0; i < e->n_buses; i++) {
        int rc = bus_start(&e->buses[i]);
        if (rc) {
            log_error("cannot start the thread of bus '%s': %s", e->buses[i].link.cfg->id, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

struct gw_sample *engine_next_sample(struct gw_engine *e, int timeout_ms,
                                     const struct gw_device_cfg **device)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * GW_NS_PER_MS;
    if (until.tv_nsec >= GW_NS_PER_S) {
        until.tv_sec++;
        until.tv_nsec -= GW_NS_PER_S;
    }
    pthread_mutex_lock(&e->lock);
    while (!e->head && e->buses_finished < e->n_buses)
        if (pthread_cond_timedwait(&e->ready, &e->lock, &until) == ETIMEDOUT)
            break;
    struct queued *q = e->head;
    if (q) {
        e->head = q->next;
        if (!e->head)
            e->tail = NULL;
        e->queued--;
        pthread_cond_signal(&e->room);
    }
    pthread_mutex_unlock(&e->lock);
    struct gw_sample *s = q ? q->sample : NULL;
    if (device)
        *device = q ? q->device : NULL;
    free(q);
    return s;
}

bool engine_idle(struct gw_engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool idle = !e->head;
    pthread_mutex_unlock(&e->lock);
    return idle;
}

bool engine_all_tried(struct gw_engine *e)
{
    for (size_t i = 0; i < e->n_buses; i++)
        if (!atomic_load(&e->buses[i].tried))
            return false;
    return true;
}

bool engine_stalled(struct gw_engine *e, int64_t now_ns, int64_t grace_ns)
{
    for (size_t i = 0; i < e->n_buses; i++) {
        struct gw_bus *b = &e->buses[i];
        int64_t since = atomic_load(&b->busy_since_ns), last = atomic_load(&b->link.last_request_ns);
        if (since && now_ns - (last > since ? last : since) > grace_ns + b->longest_timeout_ns)
            return true;
    }
    return false;
}

bool engine_finished(struct gw_engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool done = e->buses_finished >= e->n_buses && !e->head;
    pthread_mutex_unlock(&e->lock);
    return done;
}

void engine_stop(struct gw_engine *e)
{
    for (size_t i = 0; i < e->n_buses; i++)
        bus_request_stop(&e->buses[i]);
    /* A bus thread may be waiting for room in the queue: let it finish. */
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_broadcast(&e->room);
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->n_buses; i++)
        bus_join(&e->buses[i]);
}

void engine_counts(struct gw_engine *e, uint64_t *polls, uint64_t *failed, uint64_t *requests)
{
    *polls = *failed = *requests = 0;
    for (size_t i = 0; i < e->n_devices; i++) {
        *polls += e->devices[i].stats.polls;
        *failed += e->devices[i].stats.failed_polls;
        *requests += e->devices[i].stats.requests;
    }
}

void engine_health(struct gw_engine *e, struct gw_health *h)
{
    for (size_t i = 0; i < e->n_buses; i++) {
        const struct gw_link *l = &e->buses[i].link;
        e->health_buses[i] = (struct gw_health_bus){
            .id = l->cfg->id, .connected = atomic_load(&l->stats.connected),
            .requests = l->stats.requests, .errors = l->stats.errors,
            .timeouts = l->stats.timeouts, .reconnects = l->stats.reconnects,
        };
    }
    for (size_t i = 0; i < e->n_devices; i++) {
        const struct gw_device *d = &e->devices[i];
        e->health_devices[i] = (struct gw_health_device){
            .id = d->cfg->id, .online = atomic_load(&d->stats.online),
            .polls = d->stats.polls, .failed_polls = d->stats.failed_polls,
            .missed_polls = d->stats.missed_polls, .requests = d->stats.requests,
            .latency_ms = (double)d->stats.last_latency_ns / 1e6,
        };
    }
    h->buses = e->health_buses;
    h->n_buses = e->n_buses;
    h->devices = e->health_devices;
    h->n_devices = e->n_devices;
}

void engine_free(struct gw_engine *e)
{
    if (!e)
        return;
    engine_stop(e);
    for (size_t i = 0; i < e->n_buses; i++)
        bus_free(&e->buses[i]);
    for (size_t i = 0; i < e->n_devices; i++)
        device_free(&e->devices[i]);
    while (e->head) {
        struct queued *q = e->head;
        e->head = q->next;
        sample_free(q->sample);
        free(q->sample);
        free(q);
    }
    free(e->buses);
    free(e->health_buses);
    free(e->health_devices);
    free(e->by_bus);
    free(e->devices);
    pthread_cond_destroy(&e->ready);
    pthread_cond_destroy(&e->room);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
