/*
 * Notification configuration: the `notify` block (targets, routes, flood
 * limit), its key tables and validation.  Every problem is reported as
 * FILE:LINE: message (docs/alarms.md, Notification).
 *
 *   notify = {
 *     targets = ( { id = "oncall"; type = "pagerduty"; routing_key_file = "pd-key"; }, ... );
 *     routes  = ( { target = "oncall"; severities = [ "critical", "high" ];
 *                   tags = { building = "T1"; }; repeat_min = 30;
 *                   escalate_to = "manager"; escalate_after_min = 15;
 *                   quiet_hours = "22:00-07:00"; }, ... );
 *     flood   = { max = 10; window_min = 10; };
 *   };
 */
#ifndef GW_NOTIFY_CONFIG_H
#define GW_NOTIFY_CONFIG_H

#include <greenwatch/plugin.h>
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

struct schema_ctx;

enum gw_notify_type { GW_NOTIFY_WEBHOOK, GW_NOTIFY_PAGERDUTY, GW_NOTIFY_DINGTALK, GW_NOTIFY_WECOM };
#define GW_NOTIFY_TYPE_COUNT 4
extern const char *const gw_notify_type_names[GW_NOTIFY_TYPE_COUNT];

/* DingTalk only: its robots take markdown or plain text. */
enum gw_notify_format { GW_NOTIFY_MARKDOWN, GW_NOTIFY_TEXT };

/* The most targets a configuration may have (a route's set of targets is a bit mask). */
#define GW_NOTIFY_MAX_TARGETS 64

/* The PagerDuty Events API v2 endpoint, a pagerduty target's default url. */
#define GW_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

struct gw_notify_target_cfg {
    char *id;
    int type;                  /* enum gw_notify_type */
    char *url;                 /* or read from url_file (robots' urls carry their token) */
    char *url_file;
    char *routing_key_file;    /* pagerduty: required */
    char *secret_file;         /* dingtalk: signing secret; webhook: HMAC of the body */
    char *ca_file;             /* absolute after loading */
    int format;                /* enum gw_notify_format (dingtalk) */
    int timeout_ms;
    char *base_dir;            /* secrets' names are relative to the file that named them */
    int line;
};

/* Severities as a bit mask: 1 << enum gw_severity. */
#define GW_NOTIFY_ALL_SEVERITIES 0xf

struct gw_notify_route_cfg {
    char *target, *escalate_to;
    int severities;            /* bit mask, 1 << enum gw_severity */
    struct gw_tag *tags;       /* all must match; keys and values owned */
    size_t n_tags;
    int repeat_min;            /* 0: no repeats */
    int escalate_after_min;
    bool has_quiet;
    int quiet_start_min, quiet_end_min;  /* minutes after local midnight; end < start wraps */
    /* Resolved by validation: */
    size_t target_index, escalate_index;
    bool has_escalation;
    const char *file;          /* borrowed from the configuration */
    int line;
};

struct gw_notify_cfg {
    bool present;
    struct gw_notify_target_cfg *targets;
    size_t n_targets;
    struct gw_notify_route_cfg *routes;
    size_t n_routes;
    int flood_max, flood_window_min;
};

/* config_load's `notify` key: parse and validate the group into cfg (a
 * struct gw_notify_cfg).  Secrets are read once to check them (and
 * forgotten).  Returns 0, -EINVAL after reporting, or -ENOMEM. */
int notify_config_parse(const config_setting_t *group, struct gw_notify_cfg *cfg, struct schema_ctx *ctx);

/* The target called id, or -1. */
int notify_config_find_target(const struct gw_notify_cfg *cfg, const char *id);

void notify_config_free(struct gw_notify_cfg *cfg);

#endif
