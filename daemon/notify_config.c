#include "notify_config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rules/rules_config.h"
#include "schema.h"
#include "secret.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

const char *const gw_notify_type_names[GW_NOTIFY_TYPE_COUNT] = { "webhook", "pagerduty", "dingtalk", "wecom" };
static const char *const format_names[] = { "markdown", "text" };

/* ---- key tables --------------------------------------------------------- */

#define TARGET(f) SCHEMA_FIELD(struct gw_notify_target_cfg, f)
static const struct schema_key target_keys[] = {
    { .name = "id", .type = SCHEMA_STRING, TARGET(id), .required = true,
      .doc = "letters, digits, `-`, `_`, `.`; also its spool directory `<spool_dir>/notify/<id>`" },
    { .name = "type", .type = SCHEMA_ENUM, TARGET(type), .required = true, .def_num = -1,
      .choices = gw_notify_type_names, .n_choices = GW_NOTIFY_TYPE_COUNT,
      .doc = "the receiver" },
    { .name = "url", .type = SCHEMA_STRING, TARGET(url),
      .doc = "where requests go: `https://`; `http://` for `webhook`, else only to a loopback relay",
      .doc_default = "pagerduty: `https://events.pagerduty.com/v2/enqueue`; others: required (or `url_file`)" },
    { .name = "url_file", .type = SCHEMA_STRING, TARGET(url_file),
      .doc = "instead of `url`: a secret file holding it (robots' urls carry their token)" },
    { .name = "routing_key_file", .type = SCHEMA_STRING, TARGET(routing_key_file),
      .doc = "pagerduty (required): secret file holding the integration (routing) key" },
    { .name = "secret_file", .type = SCHEMA_STRING, TARGET(secret_file),
      .doc = "dingtalk: the robot's signing secret; webhook: the key of the `X-Greenwatch-Signature` HMAC" },
    { .name = "ca_file", .type = SCHEMA_STRING, TARGET(ca_file),
      .doc = "CA bundle for a receiver with a private CA; certificates are always verified",
      .doc_default = "system CAs" },
    { .name = "format", .type = SCHEMA_ENUM, TARGET(format), .def_num = GW_NOTIFY_MARKDOWN,
      .choices = format_names, .n_choices = N(format_names),
      .doc = "dingtalk: message format" },
    { .name = "timeout_ms", .type = SCHEMA_INT, TARGET(timeout_ms), .def_num = 10000, .ranged = true,
      .min = 100, .max = 120000,
      .doc = "per request" },
    { .name = "description", .type = SCHEMA_IGNORE,
      .doc = "free text", .doc_type = "string" },
};

static int parse_severities(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_route_tags(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_quiet_hours(const config_setting_t *s, void *target, struct schema_ctx *ctx);

#define ROUTE(f) SCHEMA_FIELD(struct gw_notify_route_cfg, f)
static const struct schema_key route_keys[] = {
    { .name = "target", .type = SCHEMA_STRING, ROUTE(target), .required = true,
      .doc = "a target id" },
    { .name = "severities", .type = SCHEMA_CUSTOM, .parse = parse_severities,
      .doc = "the severities the route takes", .doc_type = "list of strings", .doc_default = "all four" },
    { .name = "tags", .type = SCHEMA_CUSTOM, .parse = parse_route_tags,
      .doc = "all must match the device's tags; `device` and `kind` match the alarm's device id and kind",
      .doc_type = "group of strings" },
    { .name = "repeat_min", .type = SCHEMA_INT, ROUTE(repeat_min), .ranged = true, .min = 0, .max = 1440,
      .doc = "remind every N minutes while active-unacknowledged", .doc_default = "0 (no repeats)" },
    { .name = "escalate_to", .type = SCHEMA_STRING, ROUTE(escalate_to),
      .doc = "another target, told once the alarm has been active-unacknowledged `escalate_after_min`" },
    { .name = "escalate_after_min", .type = SCHEMA_INT, ROUTE(escalate_after_min), .ranged = true,
      .min = 1, .max = 1440,
      .doc = "minutes active-unacknowledged before escalating; with `escalate_to`", .doc_default = "—" },
    { .name = "quiet_hours", .type = SCHEMA_CUSTOM, .parse = parse_quiet_hours,
      .doc = "site local time; holds `low` and `medium` notifications until their end",
      .doc_type = "string `\"HH:MM-HH:MM\"`" },
    { .name = "description", .type = SCHEMA_IGNORE,
      .doc = "free text", .doc_type = "string" },
};

#define NOTIFY(f) SCHEMA_FIELD(struct gw_notify_cfg, f)
static const struct schema_key flood_keys[] = {
    { .name = "max", .type = SCHEMA_INT, NOTIFY(flood_max), .def_num = 10, .ranged = true, .min = 1, .max = 1000,
      .doc = "most notifications per target within `window_min`; beyond, they are grouped into summaries" },
    { .name = "window_min", .type = SCHEMA_INT, NOTIFY(flood_window_min), .def_num = 10, .ranged = true,
      .min = 1, .max = 1440,
      .doc = "the flood window, minutes" },
};

static int parse_targets(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_routes(const config_setting_t *s, void *target, struct schema_ctx *ctx);
static int parse_flood(const config_setting_t *s, void *target, struct schema_ctx *ctx);

static const struct schema_key notify_keys[] = {
    { .name = "targets", .type = SCHEMA_CUSTOM, .parse = parse_targets, .required = true,
      .doc = "where notifications go: webhook, PagerDuty, DingTalk or WeCom", .doc_type = "list of groups" },
    { .name = "routes", .type = SCHEMA_CUSTOM, .parse = parse_routes, .required = true,
      .doc = "which alarms go to which target; each alarm goes to every route it matches",
      .doc_type = "list of groups" },
    { .name = "flood", .type = SCHEMA_CUSTOM, .parse = parse_flood,
      .doc = "flood grouping", .doc_type = "group" },
};

/* ---- custom keys -------------------------------------------------------- */

static int parse_severities(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_notify_route_cfg *route = target;
    int n = config_setting_is_aggregate(s) ? config_setting_length(s) : -1;
    if (n < 1) {
        schema_error(ctx, s, "route: severities must be a non-empty list, e.g. [ \"critical\", \"high\" ]");
        route->severities = GW_NOTIFY_ALL_SEVERITIES;  /* reported: no follow-on problems */
        return -EINVAL;
    }
    int mask = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_get_string(e);
        int found = -1;
        for (int k = 0; name && k < 4; k++)
            if (strcmp(name, gw_severity_names[k]) == 0)
                found = k;
        if (found < 0) {
            schema_error(ctx, e, "route: severity must be one of critical, high, medium, low");
            rc = -EINVAL;
        } else {
            mask |= 1 << found;
        }
    }
    route->severities = mask ? mask : GW_NOTIFY_ALL_SEVERITIES;
    return rc;
}

/* Route tags match device tags; "device" and "kind" match the alarm's
 * device id and kind. */
static int parse_route_tags(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_notify_route_cfg *route = target;
    if (!config_setting_is_group(s)) {
        schema_error(ctx, s, "route: tags must be a group { key = \"value\"; ... }");
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    if (!(route->tags = calloc((size_t)n + 1, sizeof *route->tags)))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *t = config_setting_get_elem(s, (unsigned)i);
        const char *value = config_setting_get_string(t);
        if (!value || !*value) {
            schema_error(ctx, t, "route: tag '%s' must be a non-empty string", config_setting_name(t));
            rc = -EINVAL;
            continue;
        }
        struct gw_tag *tag = &route->tags[route->n_tags];
        if (!(tag->key = strdup(config_setting_name(t))) || !(tag->value = strdup(value)))
            return -ENOMEM;
        route->n_tags++;
    }
    return rc;
}

/* "HH:MM" at text; returns the minutes or -1. */
static int clock_minutes(const char *text)
{
    unsigned h, m;
    int used = 0;
    if (sscanf(text, "%2u:%2u%n", &h, &m, &used) != 2 || used != 5 || h > 23 || m > 59)
        return -1;
    return (int)(h * 60 + m);
}

/* "HH:MM-HH:MM", site local time; an end before the start ends the next day. */
static int parse_quiet_hours(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_notify_route_cfg *route = target;
    const char *text = config_setting_get_string(s);
    int start = -1, end = -1;
    if (text && strlen(text) == 11 && text[5] == '-') {
        start = clock_minutes(text);
        end = clock_minutes(text + 6);
    }
    if (start < 0 || end < 0 || start == end) {
        schema_error(ctx, s, "route: quiet_hours must be \"HH:MM-HH:MM\" with two different times "
                     "(e.g. \"22:00-07:00\")");
        return -EINVAL;
    }
    route->has_quiet = true;
    route->quiet_start_min = start;
    route->quiet_end_min = end;
    return 0;
}

/* ---- lists -------------------------------------------------------------- */

/* A list of groups into a fresh array of elements of size elem, each
 * loaded by keys; label names an element in messages. */
static int parse_group_list(const config_setting_t *s, const struct schema_key *keys, size_t n_keys,
                            size_t elem, void **array, size_t *count, const char *what, struct schema_ctx *ctx,
                            int (*after)(void *item, const config_setting_t *e, struct schema_ctx *ctx))
{
    if (!config_setting_is_list(s)) {
        schema_error(ctx, s, "notify: %s must be a list ( { ... }, { ... } )", config_setting_name(s));
        return -EINVAL;
    }
    int n = config_setting_length(s), rc = 0;
    char *items = calloc((size_t)n + 1, elem);
    if (!items)
        return -ENOMEM;
    *array = items;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char label[96];
        snprintf(label, sizeof label, "notify %s %d", what, i + 1);
        char *item = items + (size_t)i * elem;
        int r = schema_load(e, keys, n_keys, item, false, label, ctx);
        (*count)++;
        if (r != -ENOMEM && config_setting_is_group(e)) {
            int a = after(item, e, ctx);
            r = a ? a : r;
        }
        if (r == -ENOMEM)
            return r;
        if (r)
            rc = -EINVAL;
    }
    return rc;
}

static bool valid_target_id(const char *id)
{
    if (!*id || *id == '.')
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9') ||
              *id == '-' || *id == '_' || *id == '.'))
            return false;
    return true;
}

/* Plain http is for the generic webhook, or a relay on this machine:
 * PagerDuty's and the robots' urls and bodies carry their credentials. */
static bool loopback_url(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    static const char *const loopback[] = { "127.", "localhost:", "localhost/", "[::1]" };
    for (size_t i = 0; i < N(loopback); i++)
        if (strncmp(host, loopback[i], strlen(loopback[i])) == 0)
            return true;
    return strcmp(host, "localhost") == 0;
}

/* Why url is not acceptable for type, or NULL. */
static const char *url_problem(const char *url, int type)
{
    bool https = strncmp(url, "https://", 8) == 0, http = strncmp(url, "http://", 7) == 0;
    if (!https && !http)
        return "must start with https:// (or http://)";
    if ((https && !url[8]) || (http && !url[7]))
        return "has no host";
    for (const char *p = url; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == 0x7f)
            return "contains spaces or control characters";
    if (http && type != GW_NOTIFY_WEBHOOK && !loopback_url(url))
        return "must use https:// (plain http:// only to a loopback address)";
    return NULL;
}

/* Read the secret name (key of group) now, to report a problem at load. */
static int check_secret(const config_setting_t *group, const char *key, const char *name,
                        const struct gw_notify_target_cfg *t, char **keep, struct schema_ctx *ctx)
{
    if (!name)
        return 0;
    char why[512], *secret = NULL;
    int rc = secret_read(name, t->base_dir, &secret, why, sizeof why);
    if (rc == 0 && !*secret) {
        snprintf(why, sizeof why, "the secret '%s' is empty", name);
        rc = -EINVAL;
    }
    if (rc == 0 && keep) {
        *keep = secret;
        return 0;
    }
    secret_free(secret);
    if (rc) {
        schema_error(ctx, config_setting_get_member(group, key), "target '%s': %s: %s", t->id, key, why);
        return -EINVAL;
    }
    return 0;
}

static void key_error(struct schema_ctx *ctx, const config_setting_t *e, const char *key,
                      const struct gw_notify_target_cfg *t, const char *what)
{
    const config_setting_t *k = config_setting_get_member(e, key);
    schema_error(ctx, k ? k : e, "target '%s': %s %s", t->id, key, what);
}

/* What each type needs and accepts, beyond id, type, timeout_ms and ca_file. */
static int check_target_keys(struct gw_notify_target_cfg *t, const config_setting_t *e, struct schema_ctx *ctx)
{
    int rc = 0;
    bool pd = t->type == GW_NOTIFY_PAGERDUTY;
    if (pd && !t->routing_key_file) {
        schema_error(ctx, e, "target '%s': type \"pagerduty\" needs routing_key_file", t->id);
        rc = -EINVAL;
    }
    if (!pd && t->routing_key_file) {
        key_error(ctx, e, "routing_key_file", t, "is for type \"pagerduty\" only");
        rc = -EINVAL;
    }
    if (t->secret_file && t->type != GW_NOTIFY_DINGTALK && t->type != GW_NOTIFY_WEBHOOK) {
        key_error(ctx, e, "secret_file", t, "is for types \"dingtalk\" and \"webhook\" only");
        rc = -EINVAL;
    }
    if (config_setting_get_member(e, "format") && t->type != GW_NOTIFY_DINGTALK) {
        key_error(ctx, e, "format", t, "is for type \"dingtalk\" only (wecom takes markdown)");
        rc = -EINVAL;
    }
    if (t->url && t->url_file) {
        key_error(ctx, e, "url_file", t, "and url: give one of them");
        rc = -EINVAL;
    } else if (!pd && !t->url && !t->url_file) {
        schema_error(ctx, e, "target '%s': give url (or url_file)", t->id);
        rc = -EINVAL;
    }
    return rc;
}

static int check_target_url(struct gw_notify_target_cfg *t, const config_setting_t *e, struct schema_ctx *ctx)
{
    char *from_file = NULL;
    if (t->url_file && check_secret(e, "url_file", t->url_file, t, &from_file, ctx))
        return -EINVAL;
    if (!t->url && !t->url_file && !(t->url = strdup(GW_PAGERDUTY_URL)))
        return -ENOMEM;
    const char *url = from_file ? from_file : t->url;
    const char *why = url ? url_problem(url, t->type) : NULL;
    secret_free(from_file);
    if (why) {
        key_error(ctx, e, t->url_file ? "url_file" : "url", t, why);
        return -EINVAL;
    }
    return 0;
}

static int resolve_ca_file(struct gw_notify_target_cfg *t, const config_setting_t *e, struct schema_ctx *ctx)
{
    if (!t->ca_file)
        return 0;
    if (t->ca_file[0] != '/') {
        char *joined = NULL;
        if (asprintf(&joined, "%s/%s", t->base_dir, t->ca_file) < 0)
            return -ENOMEM;
        free(t->ca_file);
        t->ca_file = joined;
    }
    if (access(t->ca_file, R_OK) != 0) {
        key_error(ctx, e, "ca_file", t, "cannot be read");
        return -EINVAL;
    }
    return 0;
}

static int after_target(void *item, const config_setting_t *e, struct schema_ctx *ctx)
{
    struct gw_notify_target_cfg *t = item;
    t->line = (int)config_setting_source_line(e);
    const char *file = config_setting_source_file(e);
    char *copy = strdup(file ? file : ".");
    if (!copy)
        return -ENOMEM;
    t->base_dir = strdup(dirname(copy));
    free(copy);
    if (!t->base_dir)
        return -ENOMEM;
    if (!t->id || t->type < 0)
        return -EINVAL;  /* reported */
    int rc = 0;
    if (!valid_target_id(t->id)) {
        schema_error(ctx, e, "target '%s': id may hold only letters, digits, '-', '_' and '.'", t->id);
        rc = -EINVAL;
    }
    if (check_target_keys(t, e, ctx))
        return -EINVAL;
    int r = check_target_url(t, e, ctx);
    if (r == -ENOMEM || (r = resolve_ca_file(t, e, ctx)) == -ENOMEM)
        return -ENOMEM;
    if (r || check_secret(e, "routing_key_file", t->routing_key_file, t, NULL, ctx) ||
        check_secret(e, "secret_file", t->secret_file, t, NULL, ctx))
        rc = -EINVAL;
    return rc;
}

static int after_route(void *item, const config_setting_t *e, struct schema_ctx *ctx)
{
    struct gw_notify_route_cfg *r = item;
    (void)ctx;
    r->line = (int)config_setting_source_line(e);
    r->file = config_setting_source_file(e);
    if (!config_setting_get_member(e, "severities"))
        r->severities = GW_NOTIFY_ALL_SEVERITIES;
    return 0;
}

static int parse_targets(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_notify_cfg *cfg = target;
    int rc = parse_group_list(s, target_keys, N(target_keys), sizeof *cfg->targets, (void **)&cfg->targets,
                              &cfg->n_targets, "target", ctx, after_target);
    if (rc == -ENOMEM)
        return rc;
    if (cfg->n_targets > GW_NOTIFY_MAX_TARGETS) {
        schema_error(ctx, s, "notify: at most %d targets", GW_NOTIFY_MAX_TARGETS);
        rc = -EINVAL;
    }
    for (size_t i = 0; i < cfg->n_targets; i++)
        for (size_t j = 0; j < i && cfg->targets[i].id; j++)
            if (cfg->targets[j].id && strcmp(cfg->targets[i].id, cfg->targets[j].id) == 0) {
                schema_error(ctx, config_setting_get_elem(s, (unsigned)i),
                             "target '%s' is defined twice (first at line %d)", cfg->targets[i].id,
                             cfg->targets[j].line);
                rc = -EINVAL;
            }
    return rc;
}

static int parse_routes(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    struct gw_notify_cfg *cfg = target;
    return parse_group_list(s, route_keys, N(route_keys), sizeof *cfg->routes, (void **)&cfg->routes,
                            &cfg->n_routes, "route", ctx, after_route);
}

static int parse_flood(const config_setting_t *s, void *target, struct schema_ctx *ctx)
{
    return schema_load(s, flood_keys, N(flood_keys), target, false, "notify: flood", ctx);
}

/* ---- cross-checks ------------------------------------------------------- */

int notify_config_find_target(const struct gw_notify_cfg *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->n_targets; i++)
        if (cfg->targets[i].id && strcmp(cfg->targets[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Routes name known targets; an escalation names another target and when. */
static int check_route(struct gw_notify_cfg *cfg, struct gw_notify_route_cfg *r, const config_setting_t *e,
                       struct schema_ctx *ctx)
{
    int rc = 0, t = notify_config_find_target(cfg, r->target);
    if (r->target && t < 0) {
        schema_error(ctx, config_setting_get_member(e, "target"), "route: unknown target '%s'", r->target);
        rc = -EINVAL;
    }
    r->target_index = t < 0 ? 0 : (size_t)t;
    if (!r->escalate_to) {
        if (config_setting_get_member(e, "escalate_after_min")) {
            schema_error(ctx, config_setting_get_member(e, "escalate_after_min"),
                         "route: escalate_after_min needs escalate_to");
            rc = -EINVAL;
        }
        return rc;
    }
    int x = notify_config_find_target(cfg, r->escalate_to);
    if (x < 0)
        schema_error(ctx, config_setting_get_member(e, "escalate_to"), "route: unknown target '%s' in escalate_to",
                     r->escalate_to);
    else if (x == t)
        schema_error(ctx, config_setting_get_member(e, "escalate_to"),
                     "route: escalate_to must name another target than '%s'", r->target);
    if (!config_setting_get_member(e, "escalate_after_min"))
        schema_error(ctx, e, "route: escalate_to needs escalate_after_min (minutes unacknowledged)");
    if (x < 0 || x == t || !config_setting_get_member(e, "escalate_after_min"))
        return -EINVAL;
    r->escalate_index = (size_t)x;
    r->has_escalation = true;
    return rc;
}

int notify_config_parse(const config_setting_t *group, struct gw_notify_cfg *cfg, struct schema_ctx *ctx)
{
    notify_config_free(cfg);
    cfg->present = true;
    if (!config_setting_is_group(group)) {
        schema_error(ctx, group, "notify must be a group { targets = ( ... ); routes = ( ... ); }");
        return -EINVAL;
    }
    int rc = schema_defaults(flood_keys, N(flood_keys), cfg);
    if (!rc)
        rc = schema_load(group, notify_keys, N(notify_keys), cfg, false, "notify", ctx);
    if (rc == -ENOMEM)
        return rc;
    const config_setting_t *routes = config_setting_get_member(group, "routes");
    for (size_t i = 0; routes && i < cfg->n_routes; i++) {
        const config_setting_t *e = config_setting_get_elem(routes, (unsigned)i);
        if (config_setting_is_group(e) && check_route(cfg, &cfg->routes[i], e, ctx))
            rc = -EINVAL;
    }
    return rc;
}

void notify_config_free(struct gw_notify_cfg *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_targets; i++) {
        schema_free(target_keys, N(target_keys), &cfg->targets[i]);
        free(cfg->targets[i].base_dir);
    }
    free(cfg->targets);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        struct gw_notify_route_cfg *r = &cfg->routes[i];
        schema_free(route_keys, N(route_keys), r);
        for (size_t t = 0; t < r->n_tags; t++) {
            free((char *)r->tags[t].key);
            free((char *)r->tags[t].value);
        }
        free(r->tags);
    }
    free(cfg->routes);
    memset(cfg, 0, sizeof *cfg);
}
