#include "notify_format.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Robots' markdown bodies have size limits (WeCom: 4096 bytes): a summary
 * lists this many notifications and counts the rest. */
enum { ROBOT_SUMMARY_LINES = 20, JSON_SUMMARY_ITEMS = 500 };

const char *const notify_event_names[NOTIFY_EVENT_COUNT] = {
    "trigger", "repeat", "escalation", "acknowledge", "resolve",
};

/* PagerDuty's severities for ours. */
static const char *const pd_severity[4] = { "critical", "error", "warning", "info" };
static const char *const upper_severity[4] = { "CRITICAL", "HIGH", "MEDIUM", "LOW" };
static const char *const summary_reason[] = { "flood", "quiet-hours" };

/* ---- small pieces ------------------------------------------------------- */

void notify_alarm_id(const struct gw_alarm_info *alarm, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s/%s", alarm->site ? alarm->site : "", alarm->device, alarm->rule);
}

static int sev(int severity)
{
    return severity >= 0 && severity < 4 ? severity : 3;
}

/* "2024-05-01 14:03:12", site local time. */
static void local_text(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "%" PRId64, ms);
}

/* "2024-05-01T06:03:12.000Z", for PagerDuty. */
static void iso_utc(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];
    if (!gmtime_r(&t, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm))
        base[0] = '\0';
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

/* What happened, as a phrase: "raised", "acknowledged by alice", ... */
static void event_phrase(const struct notify_msg *m, char *buf, size_t len)
{
    const struct gw_alarm_info *a = &m->alarm->alarm;
    switch (m->event) {
    case NOTIFY_TRIGGER: snprintf(buf, len, "raised"); break;
    case NOTIFY_REPEAT: snprintf(buf, len, "still unacknowledged (reminder %u)", m->repeat); break;
    case NOTIFY_ESCALATE: snprintf(buf, len, "escalated: unacknowledged for %d min", m->after_min); break;
    case NOTIFY_ACK:
        snprintf(buf, len, "acknowledged%s%s", *a->acked_by ? " by " : "", a->acked_by);
        break;
    case NOTIFY_RESOLVE: snprintf(buf, len, "cleared"); break;
    }
}

/* "9.8 (limit 9)", "9.8", or "" */
static void value_text(bool has_value, double value, bool has_limit, double limit, char *buf, size_t len)
{
    if (has_value && has_limit)
        snprintf(buf, len, "%g (limit %g)", value, limit);
    else if (has_value)
        snprintf(buf, len, "%g", value);
    else
        buf[0] = '\0';
}

static char *print_and_free(cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* Adds a number, or null when there is none. */
static void add_optional_number(cJSON *o, const char *key, bool has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_optional_string(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_tags(cJSON *o, const struct gw_alarm_info *a)
{
    cJSON *tags = cJSON_AddObjectToObject(o, "tags");
    for (size_t i = 0; tags && i < a->n_tags; i++)
        cJSON_AddStringToObject(tags, a->tags[i].key, a->tags[i].value);
}

/* ---- the generic webhook ------------------------------------------------ */

static void notification_id(const struct notify_msg *m, const char *alarm_id, char *buf, size_t len)
{
    uint64_t seq = m->alarm->seq;
    if (m->event == NOTIFY_REPEAT)
        snprintf(buf, len, "%s/%" PRIu64 "/repeat-%u", alarm_id, seq, m->repeat);
    else
        snprintf(buf, len, "%s/%" PRIu64 "/%s", alarm_id, seq, notify_event_names[m->event]);
}

/* The alarm's fields, as the generic webhook and PagerDuty's
 * custom_details carry them. */
static void add_alarm_fields(cJSON *o, const struct gw_alarm_event *ev)
{
    const struct gw_alarm_info *a = &ev->alarm;
    cJSON_AddStringToObject(o, "site", a->site ? a->site : "");
    cJSON_AddStringToObject(o, "device", a->device);
    cJSON_AddStringToObject(o, "kind", a->kind ? a->kind : "");
    cJSON_AddStringToObject(o, "rule", a->rule);
    cJSON_AddStringToObject(o, "rule_type", a->type_name ? a->type_name : "");
    cJSON_AddStringToObject(o, "severity", gw_severity_names[sev(a->severity)]);
    cJSON_AddStringToObject(o, "state", alarm_state_name(a->state));
    cJSON_AddStringToObject(o, "from_state", alarm_state_name(ev->from_state));
    cJSON_AddStringToObject(o, "cause", ev->cause ? ev->cause : "");
    cJSON_AddNumberToObject(o, "seq", (double)ev->seq);
    add_optional_number(o, "value", a->has_value, a->value);
    add_optional_number(o, "limit", a->has_limit, a->limit);
    cJSON_AddStringToObject(o, "message", a->message ? a->message : "");
    cJSON_AddNumberToObject(o, "since", (double)a->since_ms);
    cJSON_AddNumberToObject(o, "state_since", (double)a->state_since_ms);
    add_optional_string(o, "acked_by", a->acked_by);
    add_optional_number(o, "acked_at", a->acked_by && *a->acked_by, (double)a->acked_ms);
    add_tags(o, a);
}

static char *webhook_alarm(const struct notify_msg *m)
{
    char id[320], nid[400];
    notify_alarm_id(&m->alarm->alarm, id, sizeof id);
    notification_id(m, id, nid, sizeof nid);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "notification_id", nid);
    cJSON_AddStringToObject(o, "event", notify_event_names[m->event]);
    if (m->event == NOTIFY_REPEAT)
        cJSON_AddNumberToObject(o, "repeat", m->repeat);
    if (m->event == NOTIFY_ESCALATE)
        cJSON_AddNumberToObject(o, "unacknowledged_min", m->after_min);
    cJSON_AddNumberToObject(o, "ts", (double)m->ts_ms);
    add_alarm_fields(o, m->alarm);
    return print_and_free(o);
}

static cJSON *item_json(const struct notify_item *it, const char *site)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char id[320];
    snprintf(id, sizeof id, "%s/%s/%s", site, it->device, it->rule);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "event", notify_event_names[it->event]);
    cJSON_AddNumberToObject(o, "ts", (double)it->ts_ms);
    cJSON_AddStringToObject(o, "device", it->device);
    cJSON_AddStringToObject(o, "rule", it->rule);
    cJSON_AddStringToObject(o, "severity", gw_severity_names[sev(it->severity)]);
    cJSON_AddStringToObject(o, "state", alarm_state_name(it->state));
    add_optional_number(o, "value", it->has_value, it->value);
    add_optional_number(o, "limit", it->has_limit, it->limit);
    cJSON_AddStringToObject(o, "message", it->message);
    add_optional_string(o, "acked_by", it->acked_by);
    return o;
}

static void summary_id(const struct notify_summary *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s/summary/%s/%" PRId64, s->site, summary_reason[s->reason], s->ts_ms);
}

/* items as a JSON array, at most max of them. */
static cJSON *items_json(const struct notify_summary *s, size_t max)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < s->n && i < max; i++)
        cJSON_AddItemToArray(list, item_json(&s->items[i], s->site));
    return list;
}

static char *webhook_summary(const struct notify_summary *s)
{
    char id[320];
    summary_id(s, id, sizeof id);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "notification_id", id);
    cJSON_AddStringToObject(o, "event", "summary");
    cJSON_AddStringToObject(o, "reason", summary_reason[s->reason]);
    cJSON_AddStringToObject(o, "site", s->site);
    cJSON_AddNumberToObject(o, "ts", (double)s->ts_ms);
    cJSON_AddNumberToObject(o, "count", (double)s->n);
    cJSON_AddItemToObject(o, "notifications", items_json(s, JSON_SUMMARY_ITEMS));
    return print_and_free(o);
}

/* ---- PagerDuty Events API v2 -------------------------------------------- */

static const char *pd_action(enum notify_event e)
{
    return e == NOTIFY_ACK ? "acknowledge" : e == NOTIFY_RESOLVE ? "resolve" : "trigger";
}

static char *pagerduty_alarm(const struct notify_msg *m)
{
    if (m->event == NOTIFY_REPEAT)
        return NULL;  /* the same dedup key again: PagerDuty discards it, and re-notifies by its own rules */
    const struct gw_alarm_info *a = &m->alarm->alarm;
    char id[320];
    notify_alarm_id(a, id, sizeof id);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "event_action", pd_action(m->event));
    cJSON_AddStringToObject(o, "dedup_key", id);
    if (m->event == NOTIFY_ACK || m->event == NOTIFY_RESOLVE)
        return print_and_free(o);
    char summary[1024], value[96] = "", source[256], ts[40];
    if (a->has_value && a->has_limit)
        snprintf(value, sizeof value, " (value %g, limit %g)", a->value, a->limit);
    else if (a->has_value)
        snprintf(value, sizeof value, " (value %g)", a->value);
    snprintf(summary, sizeof summary, "%s%s/%s: %s%s", m->event == NOTIFY_ESCALATE ? "[escalated] " : "",
             a->device, a->rule, a->message ? a->message : "", value);
    snprintf(source, sizeof source, "%s/%s", a->site ? a->site : "", a->device);
    iso_utc(m->ts_ms, ts, sizeof ts);
    cJSON *p = cJSON_AddObjectToObject(o, "payload");
    if (p) {
        cJSON_AddStringToObject(p, "summary", summary);
        cJSON_AddStringToObject(p, "source", source);
        cJSON_AddStringToObject(p, "severity", pd_severity[sev(a->severity)]);
        cJSON_AddStringToObject(p, "timestamp", ts);
        cJSON_AddStringToObject(p, "component", a->device);
        cJSON_AddStringToObject(p, "class", a->type_name ? a->type_name : "");
        cJSON *d = cJSON_AddObjectToObject(p, "custom_details");
        if (d) {
            cJSON_AddStringToObject(d, "notification", notify_event_names[m->event]);
            if (m->event == NOTIFY_ESCALATE)
                cJSON_AddNumberToObject(d, "unacknowledged_min", m->after_min);
            add_alarm_fields(d, m->alarm);
        }
    }
    cJSON_AddStringToObject(o, "client", "greenwatch");
    return print_and_free(o);
}

static int highest_severity(const struct notify_summary *s)
{
    int best = 3;
    for (size_t i = 0; i < s->n; i++)
        if (sev(s->items[i].severity) < best)
            best = sev(s->items[i].severity);
    return best;
}

static void summary_title(const struct notify_summary *s, char *buf, size_t len)
{
    if (s->reason == NOTIFY_SUMMARY_FLOOD)
        snprintf(buf, len, "%s: %zu alarm notifications grouped (alarm flood)", s->site, s->n);
    else
        snprintf(buf, len, "%s: %zu alarm notifications held during quiet hours", s->site, s->n);
}

/* A summary is an event of its own: PagerDuty never saw the alarms it lists. */
static char *pagerduty_summary(const struct notify_summary *s)
{
    char id[320], title[256], ts[40];
    summary_id(s, id, sizeof id);
    summary_title(s, title, sizeof title);
    iso_utc(s->ts_ms, ts, sizeof ts);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "event_action", "trigger");
    cJSON_AddStringToObject(o, "dedup_key", id);
    cJSON *p = cJSON_AddObjectToObject(o, "payload");
    if (p) {
        cJSON_AddStringToObject(p, "summary", title);
        cJSON_AddStringToObject(p, "source", s->site);
        cJSON_AddStringToObject(p, "severity", pd_severity[highest_severity(s)]);
        cJSON_AddStringToObject(p, "timestamp", ts);
        cJSON *d = cJSON_AddObjectToObject(p, "custom_details");
        if (d) {
            cJSON_AddStringToObject(d, "reason", summary_reason[s->reason]);
            cJSON_AddNumberToObject(d, "count", (double)s->n);
            cJSON_AddItemToObject(d, "notifications", items_json(s, JSON_SUMMARY_ITEMS));
        }
    }
    cJSON_AddStringToObject(o, "client", "greenwatch");
    return print_and_free(o);
}

/* ---- group robots (DingTalk, WeCom) ------------------------------------- */

/* The message text.  markdown false: plain text (DingTalk's text type).
 * wecom: WeCom's markdown, which colours with <font color="...">. */
static void robot_alarm_text(FILE *f, const struct notify_msg *m, bool markdown, bool wecom)
{
    const struct gw_alarm_info *a = &m->alarm->alarm;
    char phrase[128], value[96], since[32], at[32];
    event_phrase(m, phrase, sizeof phrase);
    value_text(a->has_value, a->value, a->has_limit, a->limit, value, sizeof value);
    local_text(a->since_ms, since, sizeof since);
    local_text(m->ts_ms, at, sizeof at);
    const char *li = markdown ? "- " : "";
    if (wecom)
        fprintf(f, "### <font color=\"%s\">[%s]</font> Alarm %s\n", m->event == NOTIFY_RESOLVE ? "info" : "warning",
                upper_severity[sev(a->severity)], phrase);
    else
        fprintf(f, "%s[%s] Alarm %s\n", markdown ? "### " : "", upper_severity[sev(a->severity)], phrase);
    fprintf(f, markdown ? "\n**%s / %s**\n\n%s\n\n" : "%s / %s\n%s\n", a->device, a->rule, a->message ? a->message : "");
    fprintf(f, "%sSite: %s\n", li, a->site ? a->site : "");
    if (*value)
        fprintf(f, "%sValue: %s\n", li, value);
    if (a->since_ms)
        fprintf(f, "%sSince: %s\n", li, since);
    fprintf(f, "%sState: %s\n", li, alarm_state_name(a->state));
    if (a->n_tags) {
        fprintf(f, "%sTags:", li);
        for (size_t i = 0; i < a->n_tags; i++)
            fprintf(f, "%s %s=%s", i ? "," : "", a->tags[i].key, a->tags[i].value);
        fputc('\n', f);
    }
    fprintf(f, "%sgreenwatch %s/%s/%s, seq %" PRIu64 ", %s", markdown ? "\n" : "", a->site ? a->site : "",
            a->device, a->rule, m->alarm->seq, at);
}

static void robot_summary_text(FILE *f, const struct notify_summary *s, bool markdown)
{
    char title[256], at[32];
    summary_title(s, title, sizeof title);
    fprintf(f, markdown ? "### %s\n\n" : "%s\n", title);
    for (size_t i = 0; i < s->n && i < ROBOT_SUMMARY_LINES; i++) {
        const struct notify_item *it = &s->items[i];
        char value[96];
        value_text(it->has_value, it->value, it->has_limit, it->limit, value, sizeof value);
        local_text(it->ts_ms, at, sizeof at);
        fprintf(f, "%s%s [%s] %s/%s %s%s%s%s%s\n", markdown ? "- " : "", at, upper_severity[sev(it->severity)],
                it->device, it->rule, notify_event_names[it->event], *it->message ? ": " : "", it->message,
                *value ? ", value " : "", value);
    }
    if (s->n > ROBOT_SUMMARY_LINES)
        fprintf(f, "%sand %zu more\n", markdown ? "- " : "", s->n - ROBOT_SUMMARY_LINES);
    local_text(s->ts_ms, at, sizeof at);
    fprintf(f, "%sgreenwatch %s, %s", markdown ? "\n" : "", s->site, at);
}

/* The body around text: {"msgtype": ..., ...}. */
static char *robot_body(int type, int format, const char *title, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (type == GW_NOTIFY_DINGTALK && format == GW_NOTIFY_TEXT) {
        cJSON_AddStringToObject(o, "msgtype", "text");
        cJSON *t = cJSON_AddObjectToObject(o, "text");
        if (t)
            cJSON_AddStringToObject(t, "content", text);
    } else {
        cJSON_AddStringToObject(o, "msgtype", "markdown");
        cJSON *md = cJSON_AddObjectToObject(o, "markdown");
        if (md && type == GW_NOTIFY_DINGTALK)
            cJSON_AddStringToObject(md, "title", title);
        if (md)
            cJSON_AddStringToObject(md, type == GW_NOTIFY_DINGTALK ? "text" : "content", text);
    }
    return print_and_free(o);
}

static char *robot_alarm(int type, int format, const struct notify_msg *m)
{
    const struct gw_alarm_info *a = &m->alarm->alarm;
    bool markdown = !(type == GW_NOTIFY_DINGTALK && format == GW_NOTIFY_TEXT);
    char *text = NULL, title[256], phrase[128];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    robot_alarm_text(f, m, markdown, type == GW_NOTIFY_WECOM);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    event_phrase(m, phrase, sizeof phrase);
    snprintf(title, sizeof title, "[%s] %s/%s %s", upper_severity[sev(a->severity)], a->device, a->rule, phrase);
    char *body = robot_body(type, format, title, text);
    free(text);
    return body;
}

static char *robot_summary(int type, int format, const struct notify_summary *s)
{
    bool markdown = !(type == GW_NOTIFY_DINGTALK && format == GW_NOTIFY_TEXT);
    char *text = NULL, title[256];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    robot_summary_text(f, s, markdown);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    summary_title(s, title, sizeof title);
    char *body = robot_body(type, format, title, text);
    free(text);
    return body;
}

/* ---- public ------------------------------------------------------------- */

char *notify_format_alarm(int type, int format, const struct notify_msg *msg)
{
    switch (type) {
    case GW_NOTIFY_WEBHOOK: return webhook_alarm(msg);
    case GW_NOTIFY_PAGERDUTY: return pagerduty_alarm(msg);
    case GW_NOTIFY_DINGTALK:
    case GW_NOTIFY_WECOM: return robot_alarm(type, format, msg);
    default: return NULL;
    }
}

char *notify_format_summary(int type, int format, const struct notify_summary *summary)
{
    switch (type) {
    case GW_NOTIFY_WEBHOOK: return webhook_summary(summary);
    case GW_NOTIFY_PAGERDUTY: return pagerduty_summary(summary);
    case GW_NOTIFY_DINGTALK:
    case GW_NOTIFY_WECOM: return robot_summary(type, format, summary);
    default: return NULL;
    }
}

int notify_item_init(struct notify_item *item, const struct notify_msg *msg)
{
    const struct gw_alarm_info *a = &msg->alarm->alarm;
    *item = (struct notify_item){
        .event = msg->event, .ts_ms = msg->ts_ms, .severity = a->severity, .state = a->state,
        .has_value = a->has_value, .value = a->value, .has_limit = a->has_limit, .limit = a->limit,
        .device = strdup(a->device), .rule = strdup(a->rule), .message = strdup(a->message ? a->message : ""),
        .acked_by = strdup(a->acked_by ? a->acked_by : ""),
    };
    if (item->device && item->rule && item->message && item->acked_by)
        return 0;
    notify_item_free(item);
    return -ENOMEM;
}

void notify_item_free(struct notify_item *item)
{
    free(item->device);
    free(item->rule);
    free(item->message);
    free(item->acked_by);
    memset(item, 0, sizeof *item);
}

char *notify_format_with_routing_key(const char *body, const char *routing_key)
{
    cJSON *key = cJSON_CreateString(routing_key);
    char *quoted = key ? cJSON_PrintUnformatted(key) : NULL;
    cJSON_Delete(key);
    char *out = NULL;
    if (quoted && body[0] == '{' && asprintf(&out, "{\"routing_key\":%s%s%s", quoted, body[1] == '}' ? "" : ",",
                                             body + 1) < 0)
        out = NULL;
    free(quoted);
    return out;
}

int notify_dingtalk_sign(const char *secret, int64_t ts_ms, char *out, size_t len)
{
    char *text = NULL;
    if (asprintf(&text, "%" PRId64 "\n%s", ts_ms, secret) < 0)
        return -ENOMEM;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text, strlen(text), mac, &mac_len);
    free(text);
    if (len < 4 * ((mac_len + 2) / 3) + 1)
        return -ENOSPC;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return 0;
}

char *notify_dingtalk_url(const char *url, const char *secret, int64_t ts_ms)
{
    char sign[64], escaped[3 * sizeof sign];
    if (notify_dingtalk_sign(secret, ts_ms, sign, sizeof sign))
        return NULL;
    char *e = escaped;
    for (const char *p = sign; *p; p++) {
        if (*p == '+' || *p == '/' || *p == '=')
            e += sprintf(e, "%%%02X", (unsigned char)*p);
        else
            *e++ = *p;
    }
    *e = '\0';
    char *out = NULL;
    if (asprintf(&out, "%s%ctimestamp=%" PRId64 "&sign=%s", url, strchr(url, '?') ? '&' : '?', ts_ms, escaped) < 0)
        return NULL;
    return out;
}

void notify_webhook_signature(const char *secret, const void *body, size_t len, char *out, size_t out_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mac_len);
    size_t used = (size_t)snprintf(out, out_len, "sha256=");
    for (unsigned i = 0; i < mac_len && used + 2 < out_len; i++)
        used += (size_t)snprintf(out + used, out_len - used, "%02x", mac[i]);
}

/* Robots' rate limits: DingTalk 130101 (more than 20 a minute), WeCom
 * 45009 (API frequency).  Their block lasts about a minute or more. */
static bool robot_rate_limited(long errcode)
{
    return errcode == 130101 || errcode == 45009;
}

enum { ROBOT_RATE_LIMIT_WAIT_S = 60 };

/* A 2xx answer of a robot: its errcode decides. */
static enum notify_verdict robot_answer(const char *body, int *min_wait_s, char *why, size_t why_len)
{
    cJSON *o = body ? cJSON_Parse(body) : NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "errcode");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "errmsg");
    enum notify_verdict v = NOTIFY_DELIVERED;
    if (!cJSON_IsNumber(code)) {
        snprintf(why, why_len, "answer without errcode taken as delivered: %.200s", body ? body : "");
    } else if (code->valuedouble != 0) {
        long c = (long)code->valuedouble;
        bool limited = robot_rate_limited(c);
        v = limited ? NOTIFY_RETRY : NOTIFY_REJECTED;
        if (limited && min_wait_s)
            *min_wait_s = ROBOT_RATE_LIMIT_WAIT_S;
        snprintf(why, why_len, "errcode %ld: %.300s", c, cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(o);
    return v;
}

enum notify_verdict notify_classify(int type, long status, const char *body, int *min_wait_s, char *why,
                                    size_t why_len)
{
    if (min_wait_s)
        *min_wait_s = 0;
    snprintf(why, why_len, "HTTP %ld: %.400s", status, body ? body : "");
    if (status >= 200 && status < 300) {
        if (type == GW_NOTIFY_DINGTALK || type == GW_NOTIFY_WECOM)
            return robot_answer(body, min_wait_s, why, why_len);
        return NOTIFY_DELIVERED;
    }
    if (status == 408 || status == 429 || status >= 500 || status < 200)
        return NOTIFY_RETRY;
    return NOTIFY_REJECTED;  /* 3xx (redirects are not followed) and 4xx: the request itself is wrong */
}
