#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "sample.h"
#include "scheduler.h"

/* Samples waiting for the main thread.  Bounded: when the main thread
 * falls this far behind, bus threads wait rather than drop data. */
enum { QUEUE_MAX = 65536 };

struct queued {
    struct gw_sample *sample;
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
    bool stopping;                  /* past the bound is allowed then: nothing is dropped */
};

static void engine_emit(void *arg, struct gw_sample *sample)
{
    struct gw_engine *e = arg;
    struct queued *q = sample ? malloc(sizeof *q) : NULL;
    pthread_mutex_lock(&e->lock);
    if (!sample) {
        e->buses_finished++;
    } else if (q) {
        while (e->queued >= QUEUE_MAX && !e->stopping)
            pthread_cond_wait(&e->room, &e->lock);
        *q = (struct queued){ .sample = sample };
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
    int rc = e->devices && e->by_bus && e->buses ? create_devices(e, cfg, kinds) : -ENOMEM;
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

struct gw_sample *engine_next_sample(struct gw_engine *e, int timeout_ms)
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
    free(q);
    return s;
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
    free(e->by_bus);
    free(e->devices);
    pthread_cond_destroy(&e->ready);
    pthread_cond_destroy(&e->room);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
