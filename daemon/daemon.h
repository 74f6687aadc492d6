/*
 * The daemon's running state: configuration, plugins, the polling engine,
 * and what happens to each sample.  main() drives it with one-line steps.
 */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

struct gw_daemon;
struct gw_config;
struct gw_kinds;

/* Load and validate a configuration and the plugins its devices need.
 * Every problem goes to stderr as FILE:LINE: message.  Returns 0, or
 * non-zero with *cfg NULL and kinds empty. */
int daemon_load(const char *path, struct gw_config **cfg, struct gw_kinds *kinds);

/* Load and validate the configuration and its plugins.  On any problem,
 * prints every FILE:LINE: message to stderr and returns non-zero. */
int daemon_open(const char *config_path, struct gw_daemon **out);

/* One line about what the configuration holds (for --check). */
void daemon_describe(const struct gw_daemon *d, FILE *out);

/* Start polling.  Returns 0 or a negative errno. */
int daemon_start(struct gw_daemon *d, bool once);

/* Wait briefly for samples and publish those that arrived. */
void daemon_check_samples(struct gw_daemon *d);

/* Load the configuration again; if it is valid and its devices start,
 * switch to it, otherwise report why and keep running the current one. */
void daemon_check_reload(struct gw_daemon *d);

/* Every health_interval_s: report the daemon's health to the sinks. */
void daemon_check_health(struct gw_daemon *d);

/* Time-driven alarm changes (delays, comm loss, shelving expiry, ...). */
void daemon_check_rules(struct gw_daemon *d);

/* Operator commands received by the sinks (acknowledge, shelve, ...):
 * applied to the alarms, answered, logged with who gave them. */
void daemon_check_commands(struct gw_daemon *d);

/* Readiness, status and watchdog for systemd (no-ops outside it). */
void daemon_check_systemd(struct gw_daemon *d);

/* True when a --once run has published every device's sample. */
bool daemon_check_finished(struct gw_daemon *d);

/* Stop after the reads in flight, publish what was read, give the sinks
 * a bounded time to deliver (the rest stays spooled), free. */
void daemon_close(struct gw_daemon *d);

#endif
