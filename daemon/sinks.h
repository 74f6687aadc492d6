/*
 * The configured sinks as a set: each with its spool under
 * <spool_dir>/<sink>, fed by the main thread, delivering on its own thread.
 */
#ifndef GW_SINKS_H
#define GW_SINKS_H

#include <stdbool.h>
#include "config.h"
#include "sink.h"

struct gw_sinks;

/* Open the spools and create the sinks cfg configures (none is valid).
 * Returns 0 or a negative errno (logged); *out is NULL on error. */
int sinks_open(const struct gw_config *cfg, struct gw_sinks **out);

/* Start every sink's delivery.  0 or a negative errno (logged). */
int sinks_start(struct gw_sinks *sinks);

/* Whether no sink is configured. */
bool sinks_empty(const struct gw_sinks *sinks);

/* Hand a sample to every sink.  A sink whose spool refuses it logs why. */
void sinks_submit_sample(struct gw_sinks *sinks, const struct gw_sample *sample,
                         const struct gw_device_cfg *device);

/* Fill h->sinks with the sinks' states, then hand h to every sink. */
void sinks_submit_health(struct gw_sinks *sinks, struct gw_health *h);

/* Wait up to timeout_ms for every spool to be delivered.  Returns 0, or
 * -ETIMEDOUT with records still waiting. */
int sinks_flush(struct gw_sinks *sinks, int timeout_ms);

/* Stop delivering (after deliveries in flight), make the spools durable,
 * free everything.  Accepts NULL. */
void sinks_close(struct gw_sinks *sinks);

#endif
