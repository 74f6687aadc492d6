#include "daemon.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "command.h"
#include "config.h"
#include "engine.h"
#include "log.h"
#include "plugin.h"
#include "rules/rules.h"
#include "sample.h"
#include "scheduler.h"
#include "sd_notify.h"
#include "notify.h"
#include "sinks.h"

struct gw_daemon {
    char *config_path;
    struct gw_config *cfg;
    struct gw_kinds kinds;
    struct gw_engine *engine;
    struct gw_rules *rules;
    struct gw_sinks *sinks;      /* NULL: samples go to stdout */
    struct gw_notify *notify;    /* webhooks for the on-call (may do nothing) */
    int64_t started_ns, next_health_ns;
    bool once;
    /* systemd: readiness, watchdog, status */
    bool ready;
    int64_t watchdog_ns, next_watchdog_ns, next_status_ns;
};

int daemon_load(const char *path, struct gw_config **cfg, struct gw_kinds *kinds)
{
    struct gw_diag diag = { 0 };
    memset(kinds, 0, sizeof *kinds);
    int rc = config_load(path, cfg, &diag);
    if (rc == 0)
        rc = kinds_load(*cfg, kinds, &diag);
    if (rc == 0)
        rc = rules_check(*cfg, kinds, &diag);
    if (rc == -ENOMEM)
        fprintf(stderr, "%s: out of memory while loading\n", path);
    diag_print(&diag, stderr);
    diag_free(&diag);
    if (rc) {
        kinds_free(kinds);
        config_free(*cfg);
        *cfg = NULL;
    }
    return rc;
}

int daemon_open(const char *config_path, struct gw_daemon **out)
{
    *out = NULL;
    struct gw_daemon *d = calloc(1, sizeof *d);
    if (!d || !(d->config_path = strdup(config_path))) {
        free(d);
        fprintf(stderr, "%s: out of memory\n", config_path);
        return -ENOMEM;
    }
    int rc = daemon_load(config_path, &d->cfg, &d->kinds);
    if (rc) {
        free(d->config_path);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void daemon_describe(const struct gw_daemon *d, FILE *out)
{
    size_t points = 0;
    for (size_t i = 0; i < d->cfg->n_devices; i++)
        points += d->cfg->devices[i].profile->n_points;
    fprintf(out, "%s: valid: site '%s', %zu buses, %zu devices, %zu points, %zu rules, %zu kinds\n",
            d->config_path, d->cfg->site.id, d->cfg->n_buses, d->cfg->n_devices, points,
            d->cfg->n_rules, d->kinds.n);
}

/* Start the bus threads of d->engine, built for d->cfg. */
static int start_engine(struct gw_daemon *d)
{
    int rc = engine_start(d->engine);
    if (rc)
        log_error("cannot start polling: %s", strerror(-rc));
    else
        log_info("polling %zu devices on %zu buses", d->cfg->n_devices, d->cfg->n_buses);
    return rc;
}

/* Every alarm transition, as it happens: logged, and handed to the sinks
 * (MQTT state and event, the InfluxDB `alarm` measurement). */
static void on_alarm(const struct gw_alarm_event *ev, void *arg)
{
    struct gw_daemon *d = arg;
    const struct gw_alarm_info *a = &ev->alarm;
    enum gw_log_level level = a->state == GW_ALARM_ACTIVE_UNACKED ? GW_LOG_WARNING : GW_LOG_INFO;
    char value[64] = "";
    if (a->has_value && a->has_limit)
        snprintf(value, sizeof value, " (value %g, limit %g)", a->value, a->limit);
    else if (a->has_value)
        snprintf(value, sizeof value, " (value %g)", a->value);
    gw_log(level, "alarm %s/%s [%s]: %s -> %s%s: %s", a->device, a->rule, gw_severity_names[a->severity],
           alarm_state_name(ev->from_state), alarm_state_name(a->state), value, a->message);
    if (d->sinks)
        sinks_submit_alarm(d->sinks, ev);
    if (d->notify)
        notify_on_alarm(d->notify, ev);
}

/* The rule engine comes first: it sets the process's TZ (the site's), which
 * must happen before any other thread runs. */
static int start_rules(struct gw_daemon *d)
{
    int rc = rules_create(d->cfg, &d->kinds, d->cfg->daemon.state_file, on_alarm, d, clock_wall_ms(), &d->rules);
    if (rc)
        log_error("cannot start the rules: %s", strerror(-rc));
    return rc;
}

static void adopt_alarm(const struct gw_alarm_info *alarm, void *arg)
{
    struct gw_daemon *d = arg;
    notify_adopt(d->notify, alarm, clock_wall_ms());
}

/* Notification comes after the rules (TZ is set) and takes over the
 * alarms they restored, so that a restart neither pages again nor forgets
 * a page due. */
static int start_notify(struct gw_daemon *d)
{
    int rc = notify_create(d->cfg, d->cfg->daemon.spool_dir, &d->notify);
    if (!rc)
        rc = notify_start(d->notify);
    if (rc) {
        notify_free(d->notify);
        d->notify = NULL;
        log_error("cannot start notifications: %s", strerror(-rc));
        return rc;
    }
    if (d->rules)
        rules_foreach_alarm(d->rules, adopt_alarm, d);
    return 0;
}

static void submit_alarm_state(const struct gw_alarm_info *alarm, void *arg)
{
    struct gw_daemon *d = arg;
    if (alarm->state != GW_ALARM_NORMAL)
        sinks_submit_alarm_state(d->sinks, alarm);
}

/* Every alarm that is not normal, as it stands, without a transition: a
 * restart does not announce alarms again, but a broker that lost its
 * retained messages gets them back. */
static void publish_alarm_states(struct gw_daemon *d)
{
    if (d->rules && d->sinks)
        rules_foreach_alarm(d->rules, submit_alarm_state, d);
}

/* Open and start the sinks the configuration names.  Without any, samples
 * are written to stdout. */
static int start_sinks(struct gw_daemon *d)
{
    int rc = sinks_open(d->cfg, &d->sinks);
    if (!rc && sinks_empty(d->sinks)) {
        sinks_close(d->sinks);
        d->sinks = NULL;
    }
    if (!rc && d->sinks)
        rc = sinks_start(d->sinks);
    if (rc) {
        sinks_close(d->sinks);
        d->sinks = NULL;
        log_error("cannot start the sinks: %s", strerror(-rc));
    }
    publish_alarm_states(d);
    return rc;
}

static void schedule_health(struct gw_daemon *d)
{
    d->next_health_ns = clock_mono_ns() + (int64_t)(d->cfg->daemon.health_interval_s * 1e9);
}

int daemon_start(struct gw_daemon *d, bool once)
{
    d->once = once;
    d->started_ns = clock_mono_ns();
    schedule_health(d);
    int rc = start_rules(d);
    if (!rc)
        rc = start_notify(d);
    if (!rc)
        rc = start_sinks(d);
    if (rc)
        return rc;
    rc = engine_create(d->cfg, &d->kinds, once, &d->engine);
    if (rc) {
        log_error("cannot start polling: %s", strerror(-rc));
        return rc;
    }
    return start_engine(d);
}

/* To the sinks; without sinks, as one JSON line on stdout (the reading
 * object plus its device), for a first look or a pipe. */
static void publish(struct gw_daemon *d, struct gw_sample *s, const struct gw_device_cfg *device)
{
    if (d->sinks) {
        sinks_submit_sample(d->sinks, s, device);
        return;
    }
    char *json = sample_to_json(s, true);
    if (json) {
        fputs(json, stdout);
        fputc('\n', stdout);
        free(json);
    } else {
        log_error("device '%s': out of memory formatting a sample", s->device_id);
    }
}


/* Samples the main loop takes in one step.  When the buses fill the
 * queue as fast as it is emptied (a loaded machine, a slow sink), the
 * queue is never empty: without a bound the loop would never get back to
 * its other steps, and rule ticks, commands, health, a reload or a stop
 * (SIGTERM) would wait for the backlog to end. */
enum { SAMPLES_PER_STEP = 1000 };

/* How long the loop lets the buses add to the queue after the first
 * sample of a quiet spell.  Devices polled on the same second (their polls
 * are aligned to the wall clock) answer within milliseconds of each other;
 * taken as one burst, their samples wake the main thread, its ticks and
 * each sink's delivery thread once a second rather than once per sample,
 * for this much latency. */
#define LINGER_NS (50 * GW_NS_PER_MS)

static void linger(void)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = LINGER_NS };
    nanosleep(&ts, NULL);   /* a signal ends it early: the step goes on */
}

/* Evaluate and publish up to max samples waiting, after waiting up to
 * timeout_ms for the first. */
static void publish_waiting(struct gw_daemon *d, int timeout_ms, size_t max)
{
    const struct gw_device_cfg *device;
    bool quiet = engine_idle(d->engine);
    struct gw_sample *s = engine_next_sample(d->engine, timeout_ms, &device);
    if (!s)
        return;
    if (quiet && !d->once)
        linger();
    sinks_burst_begin(d->sinks);
    for (size_t n = 1; s; s = n++ < max ? engine_next_sample(d->engine, 0, &device) : NULL) {
        if (d->rules)
            rules_eval_sample(d->rules, s, device, clock_wall_ms());
        publish(d, s, device);
        sample_free(s);
        free(s);
    }
    sinks_burst_end(d->sinks);
    fflush(stdout);
}

void daemon_check_samples(struct gw_daemon *d)
{
    publish_waiting(d, 500, SAMPLES_PER_STEP);
}

void daemon_check_health(struct gw_daemon *d)
{
    if (!d->sinks || !d->engine || clock_mono_ns() < d->next_health_ns)
        return;
    schedule_health(d);
    struct gw_health h = {
        .ts_ms = clock_wall_ms(),
        .uptime_s = (double)(clock_mono_ns() - d->started_ns) / 1e9,
    };
    engine_health(d->engine, &h);
    sinks_submit_health(d->sinks, &h);
}

void daemon_check_rules(struct gw_daemon *d)
{
    int64_t now = clock_wall_ms();
    if (d->rules)
        rules_tick(d->rules, now);
    if (d->notify)
        notify_tick(d->notify, now);
}

/* Commands run per step: the queue behind them refuses a flood, and the
 * samples must not wait for a long run of commands. */
enum { COMMANDS_PER_STEP = 64 };

static void log_command(const struct gw_command *c, const struct gw_command_result *r)
{
    const char *user = c->user[0] ? c->user : "?", *id = c->id[0] ? c->id : "-";
    const char *target = c->device[0] ? c->device : "?", *sep = c->rule[0] ? "/" : "";
    if (r->ok)
        log_info("command %s %s%s%s by %s (request %s%s%s): done%s%s", command_kind_name(c->kind), target, sep,
                 c->rule, user, id, c->comment[0] ? ", comment: " : "", c->comment, r->state ? ", " : "",
                 r->state ? r->state : "");
    else
        log_warning("command %s %s%s%s by %s (request %s): refused: %s", command_kind_name(c->kind), target, sep,
                    c->rule, user, id, r->error);
}

void daemon_check_commands(struct gw_daemon *d)
{
    struct gw_command cmd;
    for (int i = 0; d->sinks && i < COMMANDS_PER_STEP && sinks_next_command(d->sinks, &cmd); i++) {
        struct gw_command_result r = { .id = cmd.id, .error = cmd.error };
        if (!cmd.error[0] && d->rules)
            command_apply(d->rules, &cmd, clock_wall_ms(), &r);
        else if (!cmd.error[0])
            r.error = "alarms are not evaluated: the configuration's rules did not start";
        log_command(&cmd, &r);
        sinks_answer_command(d->sinks, &cmd, &r);
    }
}

/* Tell systemd how polling goes: READY=1 once every bus has been tried,
 * STATUS= every 10 s, and WATCHDOG=1 only while every bus either waits for
 * its next poll or moves through the one in hand, so that a wedged daemon
 * is restarted rather than reported alive (and a site polled every few
 * minutes is not restarted for being quiet). */
void daemon_check_systemd(struct gw_daemon *d)
{
    if (!d->engine)
        return;
    int64_t now = clock_mono_ns();
    uint64_t polls, failed, requests;
    engine_counts(d->engine, &polls, &failed, &requests);
    if (!d->ready && engine_all_tried(d->engine)) {
        d->ready = true;
        d->watchdog_ns = sd_watchdog_interval_ns();
        d->next_watchdog_ns = now;
        sd_notify_send("READY=1");
    }
    if (d->ready && now >= d->next_status_ns) {
        char status[160];
        snprintf(status, sizeof status, "STATUS=%zu devices on %zu buses; %llu polls, %llu without answer",
                 d->cfg->n_devices, d->cfg->n_buses, (unsigned long long)polls, (unsigned long long)failed);
        sd_notify_send(status);
        d->next_status_ns = now + 10 * GW_NS_PER_S;
    }
    if (d->watchdog_ns && now >= d->next_watchdog_ns && !engine_stalled(d->engine, now, d->watchdog_ns / 2)) {
        sd_notify_send("WATCHDOG=1");
        d->next_watchdog_ns = now + d->watchdog_ns / 2;
    }
}

bool daemon_check_finished(struct gw_daemon *d)
{
    return d->once && engine_finished(d->engine);
}

/* How long a stop waits for the sinks to deliver what is spooled; what
 * is left stays in the spool for the next start. */
enum { FLUSH_TIMEOUT_MS = 10000 };

/* Give the sinks a bounded time to deliver, then stop them. */
static void stop_sinks(struct gw_daemon *d)
{
    if (!d->sinks)
        return;
    if (sinks_flush(d->sinks, FLUSH_TIMEOUT_MS))
        log_warning("stopping with records still spooled; they are delivered after the next start");
    sinks_close(d->sinks);
    d->sinks = NULL;
}

/* Stop the engine and publish whatever it had already read. */
static void drain(struct gw_daemon *d)
{
    if (!d->engine)
        return;
    engine_stop(d->engine);
    publish_waiting(d, 0, SIZE_MAX);   /* the stopped buses add no more */
    engine_free(d->engine);
    d->engine = NULL;
}

void daemon_check_reload(struct gw_daemon *d)
{
    log_info("reloading %s", d->config_path);
    sd_notify_send("RELOADING=1");
    struct gw_config *cfg = NULL;
    struct gw_kinds kinds;
    /* Loading applies the new file's log_level; a refused one must not. */
    enum gw_log_level level = log_get_level();
    if (daemon_load(d->config_path, &cfg, &kinds)) {
        log_set_level(level);
        log_error("the new configuration has errors (above); keeping the running one");
        sd_notify_send("READY=1");
        return;
    }
    /* Build the new engine while the running one still polls: if its
     * devices cannot start (a plugin refuses one), the new configuration
     * is refused like one with errors instead of leaving no engine. */
    struct gw_engine *next = NULL;
    int rc = engine_create(cfg, &kinds, d->once, &next);
    if (rc) {
        log_set_level(level);
        log_error("the new configuration cannot start (%s); keeping the running one", strerror(-rc));
        kinds_free(&kinds);
        config_free(cfg);
        sd_notify_send("READY=1");
        return;
    }
    drain(d);
    sinks_close(d->sinks);  /* their spools hand over to the new sinks */
    d->sinks = NULL;
    notify_free(d->notify);  /* held and grouped pages go to its spools */
    d->notify = NULL;
    rules_free(d->rules);  /* saves: the new rules continue from the same state */
    d->rules = NULL;
    kinds_free(&d->kinds);
    config_free(d->cfg);
    d->cfg = cfg;
    d->kinds = kinds;
    d->engine = next;
    if (start_rules(d))
        log_error("alarms are not evaluated until a configuration with valid rules is loaded");
    if (start_notify(d))
        log_error("nobody is paged until a configuration with working notifications is loaded");
    if (start_sinks(d))
        log_error("samples are written to stdout until a configuration with working sinks is loaded");
    d->ready = false;  /* READY=1 again once the new buses were tried */
    if (start_engine(d))
        log_error("the new configuration could not start its bus threads; polling is incomplete");
}

void daemon_close(struct gw_daemon *d)
{
    if (!d)
        return;
    sd_notify_send("STOPPING=1");
    drain(d);
    stop_sinks(d);
    if (d->once && d->notify && !notify_flush(d->notify, FLUSH_TIMEOUT_MS))
        log_warning("stopping with pages still spooled; they are sent after the next start");
    notify_free(d->notify);
    rules_free(d->rules);
    kinds_free(&d->kinds);
    config_free(d->cfg);
    free(d->config_path);
    free(d);
}
