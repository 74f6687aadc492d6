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

/* What is handed to the sinks between these two reaches each sink's
 * delivery thread as one burst (see spool_burst_begin).  NULL is fine. */
void sinks_burst_begin(struct gw_sinks *sinks);
void sinks_burst_end(struct gw_sinks *sinks);

/* Hand a sample to every sink.  A sink whose spool refuses it logs why. */
void sinks_submit_sample(struct gw_sinks *sinks, const struct gw_sample *sample,
                         const struct gw_device_cfg *device);

/* Hand an alarm transition to every sink that takes them. */
void sinks_submit_alarm(struct gw_sinks *sinks, const struct gw_alarm_event *event);

/* Hand an alarm's current state (no transition) to the sinks that keep
 * states (MQTT's retained topics). */
void sinks_submit_alarm_state(struct gw_sinks *sinks, const struct gw_alarm_info *alarm);

/* The next operator command waiting at any sink: true and *out (with
 * out->origin naming the sink), or false. */
bool sinks_next_command(struct gw_sinks *sinks, struct gw_command *out);

/* Answer a command on the sink it came from (cmd->origin). */
void sinks_answer_command(struct gw_sinks *sinks, const struct gw_command *cmd,
                          const struct gw_command_result *result);

/* Fill h->sinks with the sinks' states, then hand h to every sink. */
void sinks_submit_health(struct gw_sinks *sinks, struct gw_health *h);

/* Wait up to timeout_ms for every spool to be delivered.  Returns 0, or
 * -ETIMEDOUT with records still waiting. */
int sinks_flush(struct gw_sinks *sinks, int timeout_ms);

/* Stop delivering (after deliveries in flight), make the spools durable,
 * free everything.  Accepts NULL. */
void sinks_close(struct gw_sinks *sinks);

#endif
