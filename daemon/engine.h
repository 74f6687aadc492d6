/*
 * The polling engine: the configuration's devices grouped onto their buses,
 * one poller thread per bus, and the queue that carries samples from the
 * bus threads to the main thread (rules and sinks run there).
 */
#ifndef GW_ENGINE_H
#define GW_ENGINE_H

#include <stdbool.h>
#include "bus.h"
#include "config.h"
#include "plugin.h"
#include "sink.h"

struct gw_engine;

/* Build devices and buses for cfg (borrowed; must outlive the engine).
 * once: poll every device once.  Returns 0, -ENOMEM, or a plugin's init
 * error; *out is NULL on error. */
int engine_create(const struct gw_config *cfg, const struct gw_kinds *kinds, bool once,
                  struct gw_engine **out);

/* Start every bus thread.  Returns 0 or a negative errno. */
int engine_start(struct gw_engine *engine);

/* The next sample, waiting up to timeout_ms, and its device; the caller
 * owns the sample (free with sample_free() and free()).  NULL on timeout
 * or when finished. */
struct gw_sample *engine_next_sample(struct gw_engine *engine, int timeout_ms,
                                     const struct gw_device_cfg **device);

/* Whether no sample is waiting. */
bool engine_idle(struct gw_engine *engine);

/* The buses' and devices' part of a health report: h->buses and
 * h->devices point into the engine, valid until the next call. */
void engine_health(struct gw_engine *engine, struct gw_health *h);

/* True once every bus has attempted its connection (for READY=1). */
bool engine_all_tried(struct gw_engine *engine);

/* True if a bus is wedged: a poll in hand has made no request for longer
 * than grace_ns beyond the longest timeout of its bus.  A bus waiting for
 * its next due poll, however far off, is not. */
bool engine_stalled(struct gw_engine *engine, int64_t now_ns, int64_t grace_ns);

/* True once every bus thread has ended and every sample was taken. */
bool engine_finished(struct gw_engine *engine);

/* Stop the bus threads after their reads in flight and wait for them.
 * Samples already queued stay available to engine_next_sample(). */
void engine_stop(struct gw_engine *engine);

/* Samples polled since start, and polls that found their device silent. */
void engine_counts(struct gw_engine *engine, uint64_t *polls, uint64_t *failed, uint64_t *requests);

void engine_free(struct gw_engine *engine);

#endif
