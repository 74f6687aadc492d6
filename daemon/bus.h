/*
 * A bus poller: one thread per bus, polling the bus's devices in turn by
 * their schedules over one link.  Requests on a bus are strictly
 * sequential; buses run in parallel, so a slow or dead device delays only
 * its own bus.
 */
#ifndef GW_BUS_H
#define GW_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "device.h"
#include "modbus_link.h"
#include "scheduler.h"

/* Receives each sample of device; takes ownership of it (free with
 * sample_free and free).  Called on the bus thread; a NULL sample says
 * the bus thread has ended. */
typedef void (*gw_emit_fn)(void *arg, const struct gw_device_cfg *device, struct gw_sample *sample);

struct gw_bus {
    struct gw_link link;
    struct gw_device **devices;    /* borrowed; polled only by this thread */
    size_t n_devices;
    struct sched sched;
    bool once;                     /* poll each device once, then end */
    gw_emit_fn emit;
    void *emit_arg;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool tried;             /* its link was attempted once */
    atomic_bool finished;
    /* When the poll in hand began (monotonic ns); 0 while the thread waits
     * for the next due poll.  A poll that never ends is a wedged bus. */
    _Atomic int64_t busy_since_ns;
    int64_t longest_timeout_ns;    /* the longest one request on it may wait */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* Prepare a bus for its devices.  Returns 0 or -ENOMEM. */
int bus_init(struct gw_bus *bus, const struct gw_bus_cfg *cfg, struct gw_device **devices,
             size_t n_devices, bool once, gw_emit_fn emit, void *emit_arg);

/* Start the thread.  Returns 0 or a negative errno. */
int bus_start(struct gw_bus *bus);

/* Ask the thread to stop after the read in flight; bus_join waits. */
void bus_request_stop(struct gw_bus *bus);
void bus_join(struct gw_bus *bus);

void bus_free(struct gw_bus *bus);

#endif
