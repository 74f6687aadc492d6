#include "alarm_json.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include "rules/rules_config.h"

bool alarm_json_retained(const struct gw_alarm_info *a)
{
    return a->state != GW_ALARM_NORMAL;
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
    if (ms > 0)
        cJSON_AddNumberToObject(o, key, (double)ms);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_text(cJSON *o, const char *key, const char *text)
{
    if (text && *text)
        cJSON_AddStringToObject(o, key, text);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_number(cJSON *o, const char *key, bool has, double v)
{
    if (has && isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
}

/* The fields the state document and the event share, in that order. */
static void add_alarm(cJSON *o, const struct gw_alarm_info *a)
{
    cJSON_AddStringToObject(o, "site", a->site);
    cJSON_AddStringToObject(o, "device", a->device);
    cJSON_AddStringToObject(o, "kind", a->kind);
    cJSON_AddStringToObject(o, "rule", a->rule);
    cJSON_AddStringToObject(o, "type", a->type_name);
    cJSON_AddStringToObject(o, "severity", gw_severity_names[a->severity]);
    cJSON_AddStringToObject(o, "state", alarm_state_name(a->state));
    cJSON_AddBoolToObject(o, "active", a->active);
    cJSON_AddBoolToObject(o, "acked", a->acked);
    add_number(o, "value", a->has_value, a->value);
    add_number(o, "limit", a->has_limit, a->limit);
    cJSON_AddStringToObject(o, "message", a->message ? a->message : "");
    add_time(o, "since", a->since_ms);
    add_time(o, "state_since", a->state_since_ms);
    add_text(o, "acked_by", a->acked_by);
    add_time(o, "acked_at", a->acked_by && *a->acked_by ? a->acked_ms : 0);
    add_text(o, "shelved_by", a->shelved_until_ms > 0 ? a->shelved_by : NULL);
    add_time(o, "shelved_until", a->shelved_until_ms);
}

static char *print(cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

char *alarm_json_state(const struct gw_alarm_info *a, const uint64_t *seq)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_alarm(o, a);
    if (seq)
        cJSON_AddNumberToObject(o, "seq", (double)*seq);
    else
        cJSON_AddNullToObject(o, "seq");
    return print(o);
}

char *alarm_json_event(const struct gw_alarm_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_alarm(o, &ev->alarm);
    cJSON_AddStringToObject(o, "from_state", alarm_state_name(ev->from_state));
    cJSON_AddStringToObject(o, "cause", ev->cause ? ev->cause : "");
    cJSON_AddNumberToObject(o, "ts", (double)ev->ts_ms);
    cJSON_AddNumberToObject(o, "seq", (double)ev->seq);
    return print(o);
}
