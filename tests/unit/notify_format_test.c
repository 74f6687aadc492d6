/*
 * Notification payloads: each target type's exact JSON for given alarm
 * events and summaries, PagerDuty's actions, severities and dedup key,
 * DingTalk's signature and the webhook's HMAC against vectors computed
 * independently (Python's hmac and base64), and how answers are judged.
 * Local times are the site's: Asia/Shanghai (UTC+8) here.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_format.h"
#include "rules/local_time.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* 2024-05-01 06:00:00 UTC, 14:00:00 in Shanghai. */
#define SINCE_MS 1714543200000LL
#define TS_MS 1714543500000LL

static const struct gw_tag tags[] = { { "building", "T1" }, { "category", "01B10" } };

/* chiller-1/chw-supply-high raised at TS_MS, condition since SINCE_MS. */
static struct gw_alarm_event raised(void)
{
    return (struct gw_alarm_event){
        .alarm = { .site = "demo-tower", .device = "chiller-1", .kind = "chiller", .rule = "chw-supply-high",
                   .type = GW_RULE_LIMIT, .type_name = "limit", .severity = GW_SEVERITY_HIGH,
                   .state = GW_ALARM_ACTIVE_UNACKED, .active = true, .has_value = true, .has_limit = true,
                   .value = 9.8, .limit = 9, .message = "chw_supply_temp 9.8 above high limit 9",
                   .since_ms = SINCE_MS, .state_since_ms = TS_MS, .acked_by = "", .shelved_by = "",
                   .tags = tags, .n_tags = N(tags) },
        .from_state = GW_ALARM_NORMAL, .cause = "condition", .ts_ms = TS_MS, .seq = 42,
    };
}

/* The same alarm acknowledged by alice. */
static struct gw_alarm_event acked(void)
{
    struct gw_alarm_event ev = raised();
    ev.alarm.state = GW_ALARM_ACTIVE_ACKED;
    ev.alarm.acked = true;
    ev.alarm.acked_by = "alice";
    ev.alarm.acked_ms = TS_MS + 60000;
    ev.alarm.state_since_ms = TS_MS + 60000;
    ev.from_state = GW_ALARM_ACTIVE_UNACKED;
    ev.cause = "ack";
    ev.ts_ms = TS_MS + 60000;
    ev.seq = 43;
    return ev;
}

static char *format(int type, int fmt, enum notify_event event, const struct gw_alarm_event *ev)
{
    struct notify_msg m = { .event = event, .alarm = ev, .ts_ms = ev->ts_ms, .repeat = 2, .after_min = 15 };
    return notify_format_alarm(type, fmt, &m);
}

static void expect_text(const char *what, char *actual, const char *expected)
{
    CU_ASSERT_PTR_NOT_NULL(actual);
    if (!actual || strcmp(actual, expected) != 0) {
        fprintf(stderr, "\n%s:\n  expected %s\n  actual   %s\n", what, expected, actual ? actual : "(null)");
        CU_FAIL("payload differs");
    }
    free(actual);
}

/* The string at path ("payload.severity") of JSON text. */
static void expect_field(const char *what, const char *text, const char *path, const char *expected)
{
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *o = root;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); o && k; k = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    char *got = o ? (cJSON_IsString(o) ? strdup(o->valuestring) : cJSON_PrintUnformatted(o)) : NULL;
    if (!got || strcmp(got, expected) != 0) {
        fprintf(stderr, "\n%s: %s: expected %s, got %s\n", what, path, expected, got ? got : "(none)");
        CU_FAIL("field differs");
    }
    free(got);
    cJSON_Delete(root);
}

/* ---- the generic webhook ------------------------------------------------ */

static void test_webhook(void)
{
    struct gw_alarm_event ev = raised();
    expect_text("webhook trigger", format(GW_NOTIFY_WEBHOOK, 0, NOTIFY_TRIGGER, &ev),
                "{\"id\":\"demo-tower/chiller-1/chw-supply-high\","
                "\"notification_id\":\"demo-tower/chiller-1/chw-supply-high/42/trigger\",\"event\":\"trigger\","
                "\"ts\":1714543500000,\"site\":\"demo-tower\",\"device\":\"chiller-1\",\"kind\":\"chiller\","
                "\"rule\":\"chw-supply-high\",\"rule_type\":\"limit\",\"severity\":\"high\","
                "\"state\":\"active-unacknowledged\",\"from_state\":\"normal\",\"cause\":\"condition\",\"seq\":42,"
                "\"value\":9.8,\"limit\":9,\"message\":\"chw_supply_temp 9.8 above high limit 9\","
                "\"since\":1714543200000,\"state_since\":1714543500000,\"acked_by\":null,\"acked_at\":null,"
                "\"tags\":{\"building\":\"T1\",\"category\":\"01B10\"}}");
    struct gw_alarm_event ack = acked();
    expect_text("webhook acknowledge", format(GW_NOTIFY_WEBHOOK, 0, NOTIFY_ACK, &ack),
                "{\"id\":\"demo-tower/chiller-1/chw-supply-high\","
                "\"notification_id\":\"demo-tower/chiller-1/chw-supply-high/43/acknowledge\",\"event\":\"acknowledge\","
                "\"ts\":1714543560000,\"site\":\"demo-tower\",\"device\":\"chiller-1\",\"kind\":\"chiller\","
                "\"rule\":\"chw-supply-high\",\"rule_type\":\"limit\",\"severity\":\"high\","
                "\"state\":\"active-acknowledged\",\"from_state\":\"active-unacknowledged\",\"cause\":\"ack\",\"seq\":43,"
                "\"value\":9.8,\"limit\":9,\"message\":\"chw_supply_temp 9.8 above high limit 9\","
                "\"since\":1714543200000,\"state_since\":1714543560000,\"acked_by\":\"alice\",\"acked_at\":1714543560000,"
                "\"tags\":{\"building\":\"T1\",\"category\":\"01B10\"}}");

    /* Each notification has its own id; a repeat and an escalation say which. */
    static const struct {
        enum notify_event event;
        const char *path, *expected;
    } cases[] = {
        { NOTIFY_REPEAT, "notification_id", "demo-tower/chiller-1/chw-supply-high/42/repeat-2" },
        { NOTIFY_REPEAT, "repeat", "2" },
        { NOTIFY_ESCALATE, "notification_id", "demo-tower/chiller-1/chw-supply-high/42/escalation" },
        { NOTIFY_ESCALATE, "unacknowledged_min", "15" },
        { NOTIFY_RESOLVE, "event", "resolve" },
        { NOTIFY_RESOLVE, "id", "demo-tower/chiller-1/chw-supply-high" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *body = format(GW_NOTIFY_WEBHOOK, 0, cases[i].event, &ev);
        expect_field(notify_event_names[cases[i].event], body, cases[i].path, cases[i].expected);
        free(body);
    }

    /* No value, no limit, no tags: nulls and an empty object. */
    ev.alarm.has_value = ev.alarm.has_limit = false;
    ev.alarm.n_tags = 0;
    char *body = format(GW_NOTIFY_WEBHOOK, 0, NOTIFY_TRIGGER, &ev);
    expect_field("without value", body, "value", "null");
    expect_field("without value", body, "limit", "null");
    expect_field("without tags", body, "tags", "{}");
    free(body);
}

/* ---- PagerDuty ---------------------------------------------------------- */

static void test_pagerduty(void)
{
    struct gw_alarm_event ev = raised();
    expect_text("pagerduty trigger", format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_TRIGGER, &ev),
                "{\"event_action\":\"trigger\",\"dedup_key\":\"demo-tower/chiller-1/chw-supply-high\","
                "\"payload\":{\"summary\":\"chiller-1/chw-supply-high: chw_supply_temp 9.8 above high limit 9 "
                "(value 9.8, limit 9)\",\"source\":\"demo-tower/chiller-1\",\"severity\":\"error\","
                "\"timestamp\":\"2024-05-01T06:05:00.000Z\",\"component\":\"chiller-1\",\"class\":\"limit\","
                "\"custom_details\":{\"notification\":\"trigger\",\"site\":\"demo-tower\",\"device\":\"chiller-1\","
                "\"kind\":\"chiller\",\"rule\":\"chw-supply-high\",\"rule_type\":\"limit\",\"severity\":\"high\","
                "\"state\":\"active-unacknowledged\",\"from_state\":\"normal\",\"cause\":\"condition\",\"seq\":42,"
                "\"value\":9.8,\"limit\":9,\"message\":\"chw_supply_temp 9.8 above high limit 9\","
                "\"since\":1714543200000,\"state_since\":1714543500000,\"acked_by\":null,\"acked_at\":null,"
                "\"tags\":{\"building\":\"T1\",\"category\":\"01B10\"}}},\"client\":\"greenwatch\"}");
    struct gw_alarm_event ack = acked();
    expect_text("pagerduty acknowledge", format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_ACK, &ack),
                "{\"event_action\":\"acknowledge\",\"dedup_key\":\"demo-tower/chiller-1/chw-supply-high\"}");
    expect_text("pagerduty resolve", format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_RESOLVE, &ack),
                "{\"event_action\":\"resolve\",\"dedup_key\":\"demo-tower/chiller-1/chw-supply-high\"}");
    CU_ASSERT_PTR_NULL(format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_REPEAT, &ev));  /* PagerDuty would discard it */

    char *body = format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_ESCALATE, &ev);
    expect_field("escalation", body, "event_action", "trigger");
    expect_field("escalation", body, "payload.summary",
                 "[escalated] chiller-1/chw-supply-high: chw_supply_temp 9.8 above high limit 9 (value 9.8, limit 9)");
    expect_field("escalation", body, "payload.custom_details.unacknowledged_min", "15");
    free(body);

    static const struct {
        enum gw_severity severity;
        const char *pd;
    } severities[] = {
        { GW_SEVERITY_CRITICAL, "critical" },
        { GW_SEVERITY_HIGH, "error" },
        { GW_SEVERITY_MEDIUM, "warning" },
        { GW_SEVERITY_LOW, "info" },
    };
    for (size_t i = 0; i < N(severities); i++) {
        ev.alarm.severity = severities[i].severity;
        body = format(GW_NOTIFY_PAGERDUTY, 0, NOTIFY_TRIGGER, &ev);
        expect_field(gw_severity_names[severities[i].severity], body, "payload.severity", severities[i].pd);
        free(body);
    }

    /* The dedup key is the alarm: the same for every action. */
    static const struct {
        const char *site, *device, *rule, *key;
    } keys[] = {
        { "demo-tower", "chiller-1", "chw-supply-high", "demo-tower/chiller-1/chw-supply-high" },
        { "t2", "meter.main", "stale", "t2/meter.main/stale" },
    };
    for (size_t i = 0; i < N(keys); i++) {
        struct gw_alarm_event e = raised();
        e.alarm.site = keys[i].site;
        e.alarm.device = keys[i].device;
        e.alarm.rule = keys[i].rule;
        for (enum notify_event a = NOTIFY_TRIGGER; a <= NOTIFY_RESOLVE; a++) {
            body = format(GW_NOTIFY_PAGERDUTY, 0, a, &e);
            if (a != NOTIFY_REPEAT)
                expect_field(notify_event_names[a], body, "dedup_key", keys[i].key);
            free(body);
        }
    }

    expect_text("routing key first", notify_format_with_routing_key("{\"event_action\":\"resolve\"}", "R0\"k"),
                "{\"routing_key\":\"R0\\\"k\",\"event_action\":\"resolve\"}");
    expect_text("routing key in an empty object", notify_format_with_routing_key("{}", "k"), "{\"routing_key\":\"k\"}");
    CU_ASSERT_PTR_NULL(notify_format_with_routing_key("[1]", "k"));
}

/* ---- robots ------------------------------------------------------------- */

static void test_robots(void)
{
    struct gw_alarm_event ev = raised();
    expect_text("dingtalk markdown", format(GW_NOTIFY_DINGTALK, GW_NOTIFY_MARKDOWN, NOTIFY_TRIGGER, &ev),
                "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":\"[HIGH] chiller-1/chw-supply-high raised\","
                "\"text\":\"### [HIGH] Alarm raised\\n\\n**chiller-1 / chw-supply-high**\\n\\n"
                "chw_supply_temp 9.8 above high limit 9\\n\\n- Site: demo-tower\\n- Value: 9.8 (limit 9)\\n"
                "- Since: 2024-05-01 14:00:00\\n- State: active-unacknowledged\\n- Tags: building=T1, category=01B10\\n"
                "\\ngreenwatch demo-tower/chiller-1/chw-supply-high, seq 42, 2024-05-01 14:05:00\"}}");
    expect_text("dingtalk text", format(GW_NOTIFY_DINGTALK, GW_NOTIFY_TEXT, NOTIFY_TRIGGER, &ev),
                "{\"msgtype\":\"text\",\"text\":{\"content\":\"[HIGH] Alarm raised\\nchiller-1 / chw-supply-high\\n"
                "chw_supply_temp 9.8 above high limit 9\\nSite: demo-tower\\nValue: 9.8 (limit 9)\\n"
                "Since: 2024-05-01 14:00:00\\nState: active-unacknowledged\\nTags: building=T1, category=01B10\\n"
                "greenwatch demo-tower/chiller-1/chw-supply-high, seq 42, 2024-05-01 14:05:00\"}}");
    expect_text("wecom markdown", format(GW_NOTIFY_WECOM, 0, NOTIFY_TRIGGER, &ev),
                "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":\"### <font color=\\\"warning\\\">[HIGH]</font> "
                "Alarm raised\\n\\n**chiller-1 / chw-supply-high**\\n\\nchw_supply_temp 9.8 above high limit 9\\n\\n"
                "- Site: demo-tower\\n- Value: 9.8 (limit 9)\\n- Since: 2024-05-01 14:00:00\\n"
                "- State: active-unacknowledged\\n- Tags: building=T1, category=01B10\\n\\n"
                "greenwatch demo-tower/chiller-1/chw-supply-high, seq 42, 2024-05-01 14:05:00\"}}");

    /* What each notification says in its heading. */
    struct gw_alarm_event ack = acked();
    static const struct {
        int type;
        enum notify_event event;
        const char *path, *expected;
    } cases[] = {
        { GW_NOTIFY_DINGTALK, NOTIFY_REPEAT, "markdown.title", "[HIGH] chiller-1/chw-supply-high still unacknowledged (reminder 2)" },
        { GW_NOTIFY_DINGTALK, NOTIFY_ESCALATE, "markdown.title", "[HIGH] chiller-1/chw-supply-high escalated: unacknowledged for 15 min" },
        { GW_NOTIFY_DINGTALK, NOTIFY_ACK, "markdown.title", "[HIGH] chiller-1/chw-supply-high acknowledged by alice" },
        { GW_NOTIFY_DINGTALK, NOTIFY_RESOLVE, "markdown.title", "[HIGH] chiller-1/chw-supply-high cleared" },
        { GW_NOTIFY_WECOM, NOTIFY_RESOLVE, "msgtype", "markdown" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *body = format(cases[i].type, 0, cases[i].event, &ack);
        expect_field(notify_event_names[cases[i].event], body, cases[i].path, cases[i].expected);
        free(body);
    }
    char *body = format(GW_NOTIFY_WECOM, 0, NOTIFY_RESOLVE, &ack);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "<font color=\\\"info\\\">[HIGH]</font> Alarm cleared"));
    free(body);
}

/* ---- signatures --------------------------------------------------------- */

static void test_signatures(void)
{
    /* Python: base64.b64encode(hmac.new(secret, f"{ts}\n{secret}", sha256).digest()) */
    char sign[64];
    CU_ASSERT_EQUAL(notify_dingtalk_sign("SECexample0123456789abcdef", TS_MS, sign, sizeof sign), 0);
    CU_ASSERT_STRING_EQUAL(sign, "QKXwvOJiICfrUTUOZNgkgrjXD6sqDcpPCuvLjrZaHOw=");
    CU_ASSERT_EQUAL(notify_dingtalk_sign("SECexample0123456789abcdef", TS_MS, sign, 44), -ENOSPC);
    expect_text("dingtalk url", notify_dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=abc",
                                                    "SECexample0123456789abcdef", TS_MS),
                "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1714543500000"
                "&sign=QKXwvOJiICfrUTUOZNgkgrjXD6sqDcpPCuvLjrZaHOw%3D");
    expect_text("dingtalk url without a query", notify_dingtalk_url("http://127.0.0.1:9/robot", "SECexample0123456789abcdef", TS_MS),
                "http://127.0.0.1:9/robot?timestamp=1714543500000&sign=QKXwvOJiICfrUTUOZNgkgrjXD6sqDcpPCuvLjrZaHOw%3D");

    /* Python: hmac.new(b"whsecret", b'{"a":1}', sha256).hexdigest() */
    char sig[80];
    notify_webhook_signature("whsecret", "{\"a\":1}", 7, sig, sizeof sig);
    CU_ASSERT_STRING_EQUAL(sig, "sha256=b2ede3ef30f428daf114e70cd9dd2fd3ff364a1fdc17db5f846f4f49d8a01dab");
}

/* ---- summaries ---------------------------------------------------------- */

static void make_items(struct notify_item *items, size_t n)
{
    struct gw_alarm_event ev = raised();
    char device[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(device, sizeof device, "pump-%zu", i + 1);
        ev.alarm.device = device;
        ev.alarm.severity = i == 3 ? GW_SEVERITY_CRITICAL : GW_SEVERITY_MEDIUM;
        struct notify_msg m = { .event = i % 2 ? NOTIFY_RESOLVE : NOTIFY_TRIGGER, .alarm = &ev, .ts_ms = TS_MS + (int64_t)i * 1000 };
        CU_ASSERT_EQUAL_FATAL(notify_item_init(&items[i], &m), 0);
    }
}

static void test_summaries(void)
{
    struct notify_item items[25];
    make_items(items, N(items));
    struct notify_summary two = { .reason = NOTIFY_SUMMARY_FLOOD, .site = "demo-tower", .ts_ms = TS_MS + 600000,
                                  .items = items, .n = 2 };
    expect_text("webhook summary", notify_format_summary(GW_NOTIFY_WEBHOOK, 0, &two),
                "{\"id\":\"demo-tower/summary/flood/1714544100000\",\"notification_id\":\"demo-tower/summary/flood/1714544100000\","
                "\"event\":\"summary\",\"reason\":\"flood\",\"site\":\"demo-tower\",\"ts\":1714544100000,\"count\":2,"
                "\"notifications\":[{\"id\":\"demo-tower/pump-1/chw-supply-high\",\"event\":\"trigger\",\"ts\":1714543500000,"
                "\"device\":\"pump-1\",\"rule\":\"chw-supply-high\",\"severity\":\"medium\",\"state\":\"active-unacknowledged\","
                "\"value\":9.8,\"limit\":9,\"message\":\"chw_supply_temp 9.8 above high limit 9\",\"acked_by\":null},"
                "{\"id\":\"demo-tower/pump-2/chw-supply-high\",\"event\":\"resolve\",\"ts\":1714543501000,"
                "\"device\":\"pump-2\",\"rule\":\"chw-supply-high\",\"severity\":\"medium\",\"state\":\"active-unacknowledged\","
                "\"value\":9.8,\"limit\":9,\"message\":\"chw_supply_temp 9.8 above high limit 9\",\"acked_by\":null}]}");
    expect_text("dingtalk text summary", notify_format_summary(GW_NOTIFY_DINGTALK, GW_NOTIFY_TEXT, &two),
                "{\"msgtype\":\"text\",\"text\":{\"content\":\"demo-tower: 2 alarm notifications grouped (alarm flood)\\n"
                "2024-05-01 14:05:00 [MEDIUM] pump-1/chw-supply-high trigger: chw_supply_temp 9.8 above high limit 9, value 9.8 (limit 9)\\n"
                "2024-05-01 14:05:01 [MEDIUM] pump-2/chw-supply-high resolve: chw_supply_temp 9.8 above high limit 9, value 9.8 (limit 9)\\n"
                "greenwatch demo-tower, 2024-05-01 14:15:00\"}}");

    struct notify_summary all = { .reason = NOTIFY_SUMMARY_QUIET, .site = "demo-tower", .ts_ms = TS_MS + 600000,
                                  .items = items, .n = N(items) };
    char *body = notify_format_summary(GW_NOTIFY_WEBHOOK, 0, &all);
    expect_field("webhook, 25 items", body, "count", "25");
    expect_field("webhook, 25 items", body, "reason", "quiet-hours");
    cJSON *root = cJSON_Parse(body);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "notifications")), 25);
    cJSON_Delete(root);
    free(body);

    body = notify_format_summary(GW_NOTIFY_PAGERDUTY, 0, &all);
    expect_field("pagerduty summary", body, "event_action", "trigger");
    expect_field("pagerduty summary", body, "dedup_key", "demo-tower/summary/quiet-hours/1714544100000");
    expect_field("pagerduty summary", body, "payload.severity", "critical");  /* the highest listed */
    expect_field("pagerduty summary", body, "payload.summary",
                 "demo-tower: 25 alarm notifications held during quiet hours");
    free(body);

    /* Robots list 20 and count the rest (WeCom takes 4096 bytes). */
    body = notify_format_summary(GW_NOTIFY_WECOM, 0, &all);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "pump-20/"));
    CU_ASSERT_PTR_NULL(strstr(body, "pump-21/"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "- and 5 more"));
    CU_ASSERT(strlen(body) < 4096);
    free(body);
    for (size_t i = 0; i < N(items); i++)
        notify_item_free(&items[i]);
}

/* ---- answers ------------------------------------------------------------ */

static void test_classify(void)
{
    static const struct {
        int type;
        long status;
        const char *body;
        enum notify_verdict verdict;
        int min_wait_s;
    } cases[] = {
        { GW_NOTIFY_WEBHOOK, 200, "", NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_WEBHOOK, 204, NULL, NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_PAGERDUTY, 202, "{\"status\":\"success\",\"message\":\"Event processed\"}", NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_PAGERDUTY, 400, "{\"status\":\"invalid event\",\"errors\":[\"x\"]}", NOTIFY_REJECTED, 0 },
        { GW_NOTIFY_WEBHOOK, 404, "", NOTIFY_REJECTED, 0 },
        { GW_NOTIFY_WEBHOOK, 301, "", NOTIFY_REJECTED, 0 },
        { GW_NOTIFY_WEBHOOK, 408, "", NOTIFY_RETRY, 0 },
        { GW_NOTIFY_PAGERDUTY, 429, "", NOTIFY_RETRY, 0 },
        { GW_NOTIFY_WEBHOOK, 500, "", NOTIFY_RETRY, 0 },
        { GW_NOTIFY_WEBHOOK, 503, "", NOTIFY_RETRY, 0 },
        { GW_NOTIFY_DINGTALK, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_DINGTALK, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}", NOTIFY_REJECTED, 0 },
        { GW_NOTIFY_DINGTALK, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast\"}", NOTIFY_RETRY, 60 },
        { GW_NOTIFY_WECOM, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_WECOM, 200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}", NOTIFY_REJECTED, 0 },
        { GW_NOTIFY_WECOM, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", NOTIFY_RETRY, 60 },
        { GW_NOTIFY_WECOM, 200, "not json", NOTIFY_DELIVERED, 0 },
        { GW_NOTIFY_WECOM, 502, "", NOTIFY_RETRY, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char why[256];
        int wait = -1;
        enum notify_verdict v = notify_classify(cases[i].type, cases[i].status, cases[i].body, &wait, why, sizeof why);
        if (v != cases[i].verdict || wait != cases[i].min_wait_s)
            fprintf(stderr, "\ncase %zu (%s %ld %s): verdict %d wait %d\n", i, gw_notify_type_names[cases[i].type],
                    cases[i].status, cases[i].body ? cases[i].body : "", (int)v, wait);
        CU_ASSERT_EQUAL(v, cases[i].verdict);
        CU_ASSERT_EQUAL(wait, cases[i].min_wait_s);
    }
    char why[256];
    notify_classify(GW_NOTIFY_DINGTALK, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}", NULL, why, sizeof why);
    CU_ASSERT_STRING_EQUAL(why, "errcode 310000: sign not match");
    notify_classify(GW_NOTIFY_PAGERDUTY, 400, "{\"status\":\"invalid event\"}", NULL, why, sizeof why);
    CU_ASSERT_STRING_EQUAL(why, "HTTP 400: {\"status\":\"invalid event\"}");
}

int main(void)
{
    if (local_time_set_zone("Asia/Shanghai") != 0) {
        fprintf(stderr, "the zone database has no Asia/Shanghai\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("notify_format", NULL, NULL);
    if (!suite || !CU_add_test(suite, "generic webhook: fields, ids, nulls", test_webhook) ||
        !CU_add_test(suite, "PagerDuty: actions, severities, dedup key, routing key", test_pagerduty) ||
        !CU_add_test(suite, "DingTalk and WeCom robots: markdown and text", test_robots) ||
        !CU_add_test(suite, "DingTalk signature and webhook HMAC: known vectors", test_signatures) ||
        !CU_add_test(suite, "summaries: flood and quiet hours, every format", test_summaries) ||
        !CU_add_test(suite, "answers: delivered, retried, rejected", test_classify)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
