#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "sample.h"

enum {
    FAILURES_BEFORE_BACKOFF = 3,   /* then a dead device is probed less often */
    PROBE_MAX_S = 60,
};

int bus_init(struct gw_bus *bus, const struct gw_bus_cfg *cfg, struct gw_device **devices,
             size_t n_devices, bool once, gw_emit_fn emit, void *emit_arg)
{
    memset(bus, 0, sizeof *bus);
    link_init(&bus->link, cfg);
    bus->devices = devices;
    bus->n_devices = n_devices;
    bus->once = once;
    bus->emit = emit;
    bus->emit_arg = emit_arg;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&bus->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&bus->lock, NULL);
    if (sched_init(&bus->sched, n_devices))
        return -ENOMEM;
    int64_t mono = clock_mono_ns(), wall = clock_wall_ms();
    bus->longest_timeout_ns = (int64_t)cfg->timeout_ms * GW_NS_PER_MS;
    for (size_t i = 0; i < n_devices; i++) {
        struct gw_device *d = devices[i];
        if ((int64_t)d->cfg->timeout_ms * GW_NS_PER_MS > bus->longest_timeout_ns)
            bus->longest_timeout_ns = (int64_t)d->cfg->timeout_ms * GW_NS_PER_MS;
        d->due_ns = once ? mono : sched_first_due(d->interval_ns, mono, wall);
        sched_push(&bus->sched, d->due_ns, (uint32_t)i);
    }
    return 0;
}

/* While a device keeps failing, probe it at growing intervals (up to a
 * minute) so that it does not eat its bus's time in timeouts. */
static void note_result(struct gw_device *d, int status, int64_t now)
{
    if (status == GW_READ_OK) {
        if (d->comm_failures)
            log_info("device '%s': answering again", d->cfg->id);
        d->comm_failures = 0;
        return;
    }
    if (d->comm_failures++ == 0)
        log_warning("device '%s': not answering", d->cfg->id);
    if (d->comm_failures >= FAILURES_BEFORE_BACKOFF) {
        unsigned shift = d->comm_failures - FAILURES_BEFORE_BACKOFF;
        int64_t wait = d->interval_ns << (shift > 6 ? 6 : shift);
        if (wait > PROBE_MAX_S * GW_NS_PER_S)
            wait = PROBE_MAX_S * GW_NS_PER_S;
        d->next_probe_ns = now + wait;
    }
}

static int poll_device(struct gw_bus *bus, struct gw_device *d, struct gw_sample *s)
{
    int64_t now = clock_mono_ns();
    bool backing_off = d->comm_failures >= FAILURES_BEFORE_BACKOFF && now < d->next_probe_ns;
    if (backing_off || !link_ensure(&bus->link, now))
        return device_bad_sample(d, s);
    link_select(&bus->link, d->cfg);
    struct gw_reader reader = link_reader(&bus->link);
    int status = device_poll(d, &reader, s);
    if (status >= 0)
        note_result(d, status, clock_mono_ns());
    return status < 0 ? status : 0;
}

/* Sleep until the monotonic time `until` or a stop request. */
static void wait_until(struct gw_bus *bus, int64_t until)
{
    struct timespec ts = { .tv_sec = until / GW_NS_PER_S, .tv_nsec = until % GW_NS_PER_S };
    pthread_mutex_lock(&bus->lock);
    while (!atomic_load(&bus->stop) && clock_mono_ns() < until)
        if (pthread_cond_timedwait(&bus->wake, &bus->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&bus->lock);
}

static void emit_sample(struct gw_bus *bus, struct gw_device *d, int rc, struct gw_sample *s)
{
    if (rc < 0) {
        log_error("device '%s': out of memory while polling", d->cfg->id);
        sample_free(s);
        return;
    }
    struct gw_sample *owned = malloc(sizeof *owned);
    if (!owned) {
        sample_free(s);
        return;
    }
    *owned = *s;
    bus->emit(bus->emit_arg, d->cfg, owned);
}

static void *bus_thread(void *arg)
{
    struct gw_bus *bus = arg;
    struct sched_entry next;
    /* Connect now rather than at the first due poll, so that readiness
     * ("every bus tried") does not wait for the longest interval. */
    link_ensure(&bus->link, clock_mono_ns());
    atomic_store(&bus->tried, true);
    while (!atomic_load(&bus->stop) && sched_peek(&bus->sched)) {
        wait_until(bus, sched_peek(&bus->sched)->due);
        if (atomic_load(&bus->stop))
            break;
        sched_pop(&bus->sched, &next);
        struct gw_device *d = bus->devices[next.index];
        struct gw_sample s;
        atomic_store(&bus->busy_since_ns, clock_mono_ns());
        int rc = poll_device(bus, d, &s);
        atomic_store(&bus->busy_since_ns, 0);
        emit_sample(bus, d, rc, &s);
        if (!bus->once) {
            uint64_t missed = 0;
            d->due_ns = sched_next(d->due_ns, d->interval_ns, clock_mono_ns(), &missed);
            d->stats.missed_polls += missed;
            sched_push(&bus->sched, d->due_ns, next.index);
        }
    }
    link_close(&bus->link);
    atomic_store(&bus->finished, true);
    bus->emit(bus->emit_arg, NULL, NULL);  /* wakes the consumer to notice */
    return NULL;
}

int bus_start(struct gw_bus *bus)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);  /* thousands of buses stay small */
    int rc = pthread_create(&bus->thread, &attr, bus_thread, bus);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    bus->started = true;
    return 0;
}

void bus_request_stop(struct gw_bus *bus)
{
    pthread_mutex_lock(&bus->lock);
    atomic_store(&bus->stop, true);
    pthread_cond_broadcast(&bus->wake);
    pthread_mutex_unlock(&bus->lock);
}

void bus_join(struct gw_bus *bus)
{
    if (bus->started)
        pthread_join(bus->thread, NULL);
    bus->started = false;
}

void bus_free(struct gw_bus *bus)
{
    link_close(&bus->link);
    sched_free(&bus->sched);
    pthread_cond_destroy(&bus->wake);
    pthread_mutex_destroy(&bus->lock);
}
