/*
 * Notification end to end: notify driven with synthetic alarm events and
 * explicit times, delivering through its spools and libcurl into a local
 * HTTP receiver (tests/support/httprecv.h) on 127.0.0.1.  Checked: each
 * format's request (body, credentials, signature), repeats while
 * unacknowledged, escalation, flood grouping, quiet hours, retries (503
 * then 200 delivers once), refusals (400 dropped and counted), a restart
 * that delivers what was spooled, and adoption of alarms restored at start.
 * Local time is UTC here.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "httprecv.h"
#include "notify.h"
#include "notify_format.h"
#include "rules/local_time.h"
#include "scheduler.h"

#define N(a) (sizeof(a) / sizeof(*(a)))
#define MIN_MS 60000LL
#define T0 1714521600000LL        /* 2024-05-01 00:00:00 UTC */
#define FLUSH_MS 15000

static struct httprecv *recv_;
static const struct gw_tag tags[] = { { "building", "T1" } };

#define PD_KEY "R0UT1NGKEY0123456789abcdef012345"
#define DT_SECRET "SECexample0123456789abcdef"
#define WH_SECRET "whsecret"

/* ---- fixtures ----------------------------------------------------------- */

struct fixture {
    struct gw_config *cfg;
    struct gw_notify *n;
    char spool[PATH_MAX];
};

/* text with every "PORT" replaced by the receiver's port. */
static char *with_port(const char *text)
{
    char port[16];
    snprintf(port, sizeof port, "%d", httprecv_port(recv_));
    size_t len = strlen(text) + 1;
    for (const char *p = text; (p = strstr(p, "PORT")); p += 4)
        len += strlen(port);
    char *out = malloc(len), *o = out;
    for (const char *p = text; *p;) {
        if (strncmp(p, "PORT", 4) == 0) {
            o += sprintf(o, "%s", port);
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int load_config(const char *notify_block, struct gw_config **cfg, struct gw_diag *diag)
{
    char *block = with_port(notify_block), *text = NULL, path[PATH_MAX];
    int rc = asprintf(&text,
                      "site = { id = \"demo-tower\"; timezone = \"UTC\"; };\n"
                      "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
                      "devices = ( { id = \"d\"; bus = \"b\"; unit = 1;\n"
                      "  points = ( { name = \"p\"; table = \"holding\"; address = 0; } ); } );\n"
                      "%s\n", block);
    free(block);
    if (rc < 0)
        return -ENOMEM;
    rc = write_temp_file(path, sizeof path, text);
    free(text);
    return rc ? rc : config_load(path, cfg, diag);
}

/* Load a configuration holding notify_block, create notify on a fresh
 * spool and (if start) start it. */
static void fixture_open(struct fixture *f, const char *notify_block, bool start)
{
    memset(f, 0, sizeof *f);
    httprecv_clear(recv_);
    struct gw_diag diag = { 0 };
    int rc = load_config(notify_block, &f->cfg, &diag);
    if (rc)
        diag_print(&diag, stderr);
    diag_free(&diag);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(make_temp_dir(f->spool, sizeof f->spool), 0);
    CU_ASSERT_EQUAL_FATAL(notify_create(f->cfg, f->spool, &f->n), 0);
    if (start)
        CU_ASSERT_EQUAL_FATAL(notify_start(f->n), 0);
}

static void fixture_close(struct fixture *f)
{
    notify_free(f->n);
    config_free(f->cfg);
    f->n = NULL;
    f->cfg = NULL;
}

static void flush(struct fixture *f)
{
    CU_ASSERT_TRUE(notify_flush(f->n, FLUSH_MS));
}

/* A transition of device/rule to state "to" at ts. */
static struct gw_alarm_event event(const char *device, const char *rule, enum gw_severity severity,
                                   enum gw_alarm_state from, enum gw_alarm_state to, int64_t ts, uint64_t seq)
{
    bool active = to == GW_ALARM_ACTIVE_UNACKED || to == GW_ALARM_ACTIVE_ACKED;
    bool acked = to == GW_ALARM_ACTIVE_ACKED || to == GW_ALARM_NORMAL;
    return (struct gw_alarm_event){
        .alarm = { .site = "demo-tower", .device = device, .kind = "chiller", .rule = rule, .type = GW_RULE_LIMIT,
                   .type_name = "limit", .severity = severity, .state = to, .active = active, .acked = acked,
                   .has_value = true, .has_limit = true, .value = 9.8, .limit = 9.0, .message = "supply too warm",
                   .since_ms = T0, .state_since_ms = ts, .acked_by = to == GW_ALARM_ACTIVE_ACKED ? "alice" : "",
                   .acked_ms = to == GW_ALARM_ACTIVE_ACKED ? ts : 0, .shelved_by = "", .tags = tags, .n_tags = N(tags) },
        .from_state = from, .cause = to == GW_ALARM_ACTIVE_ACKED ? "ack" : "condition", .ts_ms = ts, .seq = seq,
    };
}

static void raise_alarm(struct fixture *f, const char *device, const char *rule, enum gw_severity severity, int64_t ts)
{
    struct gw_alarm_event ev = event(device, rule, severity, GW_ALARM_NORMAL, GW_ALARM_ACTIVE_UNACKED, ts, 1);
    notify_on_alarm(f->n, &ev);
}

static void ack_alarm(struct fixture *f, const char *device, const char *rule, enum gw_severity severity, int64_t ts)
{
    struct gw_alarm_event ev = event(device, rule, severity, GW_ALARM_ACTIVE_UNACKED, GW_ALARM_ACTIVE_ACKED, ts, 2);
    notify_on_alarm(f->n, &ev);
}

static void clear_alarm(struct fixture *f, const char *device, const char *rule, enum gw_severity severity,
                        enum gw_alarm_state from, int64_t ts)
{
    struct gw_alarm_event ev = event(device, rule, severity, from,
                                     from == GW_ALARM_ACTIVE_ACKED ? GW_ALARM_NORMAL : GW_ALARM_RETURNED_UNACKED, ts, 3);
    notify_on_alarm(f->n, &ev);
}

/* The string (or printed value) at key of the request's JSON body. */
static char *body_field(const struct httprecv_request *q, const char *path)
{
    cJSON *root = cJSON_Parse(q->body);
    const cJSON *o = root;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); o && k; k = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    char *out = o ? (cJSON_IsString(o) ? strdup(o->valuestring) : cJSON_PrintUnformatted(o)) : strdup("(none)");
    cJSON_Delete(root);
    return out;
}

static void expect_body(const struct httprecv_request *q, const char *path, const char *expected)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    char *got = body_field(q, path);
    if (strcmp(got, expected) != 0)
        fprintf(stderr, "\n%s %s: %s = %s, expected %s\n", q->method, q->target, path, got, expected);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

/* The events ("trigger,repeat,...") received at path, in order. */
static void expect_events(const char *path, const char *expected)
{
    const struct httprecv_request *q[64];
    size_t n = httprecv_find(recv_, path, q, N(q));
    char got[1024] = "";
    for (size_t i = 0; i < n && i < N(q); i++) {
        char *e = body_field(q[i], "event");
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", e);
        free(e);
    }
    if (strcmp(got, expected) != 0)
        fprintf(stderr, "\n%s: got [%s], expected [%s]\n", path, got, expected);
    CU_ASSERT_STRING_EQUAL(got, expected);
}

static size_t count(const char *path)
{
    const struct httprecv_request *q[1];
    return httprecv_find(recv_, path, q, 0);
}

/* ---- payloads per format ------------------------------------------------ */

static const char formats_block[] =
    "notify = {\n"
    "  targets = (\n"
    "    { id = \"wh\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/wh\"; secret_file = \"wh-secret\"; },\n"
    "    { id = \"pd\"; type = \"pagerduty\"; url = \"http://127.0.0.1:PORT/pd/v2/enqueue\"; routing_key_file = \"pd-key\"; },\n"
    "    { id = \"dt\"; type = \"dingtalk\"; url = \"http://127.0.0.1:PORT/dt?access_token=abc\"; secret_file = \"dt-secret\"; },\n"
    "    { id = \"wc\"; type = \"wecom\"; url = \"http://127.0.0.1:PORT/wc?key=k1\"; }\n"
    "  );\n"
    "  routes = ( { target = \"wh\"; }, { target = \"pd\"; }, { target = \"dt\"; }, { target = \"wc\"; } );\n"
    "};\n";

static void check_credentials(const struct httprecv_request *wh, const struct httprecv_request *dt)
{
    char header[128], sig[96];
    CU_ASSERT_PTR_NOT_NULL(httprecv_header(wh, "Content-Type", header, sizeof header));
    CU_ASSERT_STRING_EQUAL(header, "application/json; charset=utf-8");
    notify_webhook_signature(WH_SECRET, wh->body, wh->body_len, sig, sizeof sig);
    CU_ASSERT_PTR_NOT_NULL(httprecv_header(wh, "X-Greenwatch-Signature", header, sizeof header));
    CU_ASSERT_STRING_EQUAL(header, sig);

    /* DingTalk: ?access_token=abc&timestamp=<ms>&sign=<url-encoded base64>, signed now. */
    long long ts = 0;
    char sign[128] = "", expected[64], encoded[128] = "";
    const char *q = strstr(dt->target, "&timestamp=");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(sscanf(q, "&timestamp=%lld&sign=%127s", &ts, sign), 2);
    CU_ASSERT(llabs(ts - (long long)clock_wall_ms()) < 60000);
    CU_ASSERT_EQUAL(notify_dingtalk_sign(DT_SECRET, ts, expected, sizeof expected), 0);
    for (char *e = encoded, *p = expected; *p; p++)
        e += *p == '+' || *p == '/' || *p == '=' ? sprintf(e, "%%%02X", *p) : sprintf(e, "%c", *p);
    CU_ASSERT_STRING_EQUAL(sign, encoded);
    static const char prefix[] = "/dt?access_token=abc&timestamp=";
    CU_ASSERT_EQUAL(strncmp(dt->target, prefix, strlen(prefix)), 0);
}

static void test_formats(void)
{
    httprecv_push_answer(recv_, "/dt", 200, NULL, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    httprecv_push_answer(recv_, "/wc", 200, NULL, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    httprecv_push_answer(recv_, "/pd/v2/enqueue", 202, NULL, "{\"status\":\"success\",\"message\":\"Event processed\"}");
    struct fixture f;
    fixture_open(&f, formats_block, true);
    raise_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0);
    flush(&f);
    const struct httprecv_request *wh, *pd, *dt, *wc;
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/wh", &wh, 1), 1);
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/pd/v2/enqueue", &pd, 1), 1);
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/dt", &dt, 1), 1);
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/wc", &wc, 1), 1);
    CU_ASSERT_STRING_EQUAL(wh->method, "POST");

    expect_body(wh, "id", "demo-tower/chiller-1/chw-supply-high");
    expect_body(wh, "event", "trigger");
    expect_body(wh, "severity", "high");
    expect_body(wh, "value", "9.8");
    expect_body(wh, "tags.building", "T1");
    expect_body(pd, "routing_key", PD_KEY);
    expect_body(pd, "event_action", "trigger");
    expect_body(pd, "dedup_key", "demo-tower/chiller-1/chw-supply-high");
    expect_body(pd, "payload.severity", "error");
    expect_body(pd, "payload.source", "demo-tower/chiller-1");
    expect_body(dt, "msgtype", "markdown");
    expect_body(dt, "markdown.title", "[HIGH] chiller-1/chw-supply-high raised");
    expect_body(wc, "msgtype", "markdown");
    CU_ASSERT_STRING_EQUAL(wc->target, "/wc?key=k1");
    CU_ASSERT_PTR_NULL(strstr(wc->body, PD_KEY));
    check_credentials(wh, dt);

    /* Acknowledge, then clear: PagerDuty's actions on the same dedup key. */
    ack_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0 + 5 * MIN_MS);
    clear_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_ACKED, T0 + 9 * MIN_MS);
    flush(&f);
    const struct httprecv_request *pds[3];
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/pd/v2/enqueue", pds, 3), 3);
    expect_body(pds[1], "event_action", "acknowledge");
    expect_body(pds[2], "event_action", "resolve");
    expect_body(pds[2], "dedup_key", "demo-tower/chiller-1/chw-supply-high");
    expect_body(pds[2], "routing_key", PD_KEY);
    expect_events("/wh", "trigger,acknowledge,resolve");
    CU_ASSERT_EQUAL(count("/dt"), 3);
    CU_ASSERT_EQUAL(count("/wc"), 3);

    struct gw_notify_state st;
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.queued, 12);
    CU_ASSERT_EQUAL(st.delivered, 12);
    CU_ASSERT_EQUAL(st.dropped + st.failed + st.lost, 0);
    CU_ASSERT_EQUAL(st.spool.depth_records, 0);
    CU_ASSERT_EQUAL(st.targets, 4);
    fixture_close(&f);
}

/* ---- repeats and escalation --------------------------------------------- */

static const char escalation_block[] =
    "notify = {\n"
    "  targets = ( { id = \"oncall\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/oncall\"; },\n"
    "              { id = \"manager\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/manager\"; } );\n"
    "  routes = ( { target = \"oncall\"; severities = [ \"critical\", \"high\" ]; tags = { building = \"T1\"; };\n"
    "               repeat_min = 30; escalate_to = \"manager\"; escalate_after_min = 15; } );\n"
    "};\n";

static void tick(struct fixture *f, int64_t t)
{
    notify_tick(f->n, t);
    flush(f);
}

static void test_repeat_and_escalation(void)
{
    struct fixture f;
    fixture_open(&f, escalation_block, true);
    raise_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0);
    raise_alarm(&f, "chiller-1", "cop-low", GW_SEVERITY_LOW, T0);  /* no route takes low */
    tick(&f, T0 + 14 * MIN_MS + 59999);
    expect_events("/oncall", "trigger");
    expect_events("/manager", "");
    tick(&f, T0 + 15 * MIN_MS);
    expect_events("/manager", "escalation");
    tick(&f, T0 + 16 * MIN_MS);
    tick(&f, T0 + 30 * MIN_MS - 1);
    expect_events("/oncall", "trigger");
    tick(&f, T0 + 30 * MIN_MS);
    expect_events("/oncall", "trigger,repeat");
    expect_events("/manager", "escalation,repeat");  /* once escalated, reminded too */
    tick(&f, T0 + 45 * MIN_MS);
    ack_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0 + 50 * MIN_MS);
    tick(&f, T0 + 60 * MIN_MS);
    tick(&f, T0 + 120 * MIN_MS);
    expect_events("/oncall", "trigger,repeat,acknowledge");
    expect_events("/manager", "escalation,repeat,acknowledge");
    const struct httprecv_request *q[3];
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/manager", q, 3), 3);
    expect_body(q[0], "unacknowledged_min", "15");
    expect_body(q[1], "repeat", "1");
    expect_body(q[2], "acked_by", "alice");

    /* An ack before the deadline: no escalation, no repeat. */
    raise_alarm(&f, "chiller-2", "chw-supply-high", GW_SEVERITY_CRITICAL, T0 + 200 * MIN_MS);
    ack_alarm(&f, "chiller-2", "chw-supply-high", GW_SEVERITY_CRITICAL, T0 + 210 * MIN_MS);
    tick(&f, T0 + 300 * MIN_MS);
    CU_ASSERT_EQUAL(count("/manager"), 3);
    CU_ASSERT_EQUAL(count("/oncall"), 5);

    /* Escalated, then more severe (a new trigger): the manager, already
     * involved, hears the acknowledgement. */
    httprecv_clear(recv_);
    raise_alarm(&f, "boiler-1", "service-due", GW_SEVERITY_HIGH, T0 + 400 * MIN_MS);
    tick(&f, T0 + 415 * MIN_MS);
    struct gw_alarm_event ev = event("boiler-1", "service-due", GW_SEVERITY_CRITICAL, GW_ALARM_ACTIVE_UNACKED,
                                     GW_ALARM_ACTIVE_UNACKED, T0 + 420 * MIN_MS, 2);
    notify_on_alarm(f.n, &ev);
    ack_alarm(&f, "boiler-1", "service-due", GW_SEVERITY_CRITICAL, T0 + 425 * MIN_MS);
    tick(&f, T0 + 500 * MIN_MS);
    expect_events("/oncall", "trigger,trigger,acknowledge");
    expect_events("/manager", "escalation,acknowledge");
    fixture_close(&f);
}

/* ---- flood grouping ----------------------------------------------------- */

static const char flood_block[] =
    "notify = {\n"
    "  targets = ( { id = \"flood\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/flood\"; } );\n"
    "  routes = ( { target = \"flood\"; } );\n"
    "  flood = { max = 10; window_min = 10; };\n"
    "};\n";

static void test_flood(void)
{
    struct fixture f;
    fixture_open(&f, flood_block, true);
    char device[32];
    for (int i = 0; i < 15; i++) {  /* 15 alarms in 7 minutes */
        snprintf(device, sizeof device, "ahu-%d", i + 1);
        raise_alarm(&f, device, "supply-temp-high", GW_SEVERITY_HIGH, T0 + i * 30000);
        notify_tick(f.n, T0 + i * 30000);
    }
    tick(&f, T0 + 10 * MIN_MS - 1);
    CU_ASSERT_EQUAL(count("/flood"), 10);
    tick(&f, T0 + 10 * MIN_MS);  /* the first of the 10 leaves the window */
    CU_ASSERT_EQUAL_FATAL(count("/flood"), 11);
    const struct httprecv_request *q[16];
    httprecv_find(recv_, "/flood", q, N(q));
    expect_body(q[9], "device", "ahu-10");
    expect_body(q[10], "event", "summary");
    expect_body(q[10], "reason", "flood");
    expect_body(q[10], "count", "5");
    char *list = body_field(q[10], "notifications");
    CU_ASSERT_PTR_NOT_NULL(strstr(list, "\"ahu-11\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(list, "\"ahu-15\""));
    CU_ASSERT_PTR_NULL(strstr(list, "\"ahu-10\""));
    free(list);

    struct gw_notify_state st;
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.grouped, 5);
    CU_ASSERT_EQUAL(st.queued, 11);

    /* While the flood lasts, at most one summary a window; then one by one again. */
    raise_alarm(&f, "ahu-16", "supply-temp-high", GW_SEVERITY_HIGH, T0 + 12 * MIN_MS);
    tick(&f, T0 + 19 * MIN_MS);
    CU_ASSERT_EQUAL(count("/flood"), 11);
    tick(&f, T0 + 20 * MIN_MS);
    CU_ASSERT_EQUAL(count("/flood"), 12);  /* the second summary: ahu-16 */
    tick(&f, T0 + 30 * MIN_MS);  /* a window with nothing: the flood is over */
    raise_alarm(&f, "ahu-17", "supply-temp-high", GW_SEVERITY_HIGH, T0 + 31 * MIN_MS);
    flush(&f);
    CU_ASSERT_EQUAL_FATAL(count("/flood"), 13);
    httprecv_find(recv_, "/flood", q, N(q));
    expect_body(q[11], "event", "summary");
    expect_body(q[11], "count", "1");
    expect_body(q[12], "event", "trigger");
    expect_body(q[12], "device", "ahu-17");
    fixture_close(&f);
}

/* ---- quiet hours -------------------------------------------------------- */

static const char quiet_block[] =
    "notify = {\n"
    "  targets = ( { id = \"quiet\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/quiet\"; } );\n"
    "  routes = ( { target = \"quiet\"; quiet_hours = \"22:00-07:00\"; repeat_min = 60; } );\n"
    "};\n";

static void test_quiet_hours(void)
{
    struct fixture f;
    fixture_open(&f, quiet_block, true);
    int64_t night = T0 + 23 * 60 * MIN_MS;  /* 23:00 UTC */
    raise_alarm(&f, "pump-1", "starts-high", GW_SEVERITY_LOW, night);
    raise_alarm(&f, "boiler-1", "flue-temp-high", GW_SEVERITY_CRITICAL, night + 30 * MIN_MS);
    tick(&f, night + 30 * MIN_MS);
    expect_events("/quiet", "trigger");  /* critical goes through at once */
    tick(&f, night + 90 * MIN_MS);        /* 00:30: the critical one's repeat; the low one's is skipped */
    clear_alarm(&f, "pump-1", "starts-high", GW_SEVERITY_LOW, GW_ALARM_ACTIVE_UNACKED, night + 120 * MIN_MS);
    tick(&f, night + 8 * 60 * MIN_MS - 1);  /* 06:59:59.999: one repeat for the hours missed */
    expect_events("/quiet", "trigger,repeat,repeat");
    tick(&f, night + 8 * 60 * MIN_MS);      /* 07:00: the summary */
    const struct httprecv_request *q[16];
    size_t n = httprecv_find(recv_, "/quiet", q, N(q));
    CU_ASSERT_EQUAL_FATAL(n, 4);
    expect_body(q[1], "device", "boiler-1");
    expect_body(q[2], "repeat", "2");
    expect_body(q[3], "event", "summary");
    expect_body(q[3], "reason", "quiet-hours");
    expect_body(q[3], "count", "2");
    char *list = body_field(q[3], "notifications");
    CU_ASSERT_PTR_NOT_NULL(strstr(list, "\"event\":\"trigger\",\"ts\":1714604400000,\"device\":\"pump-1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(list, "\"event\":\"resolve\",\"ts\":1714611600000,\"device\":\"pump-1\""));
    free(list);
    struct gw_notify_state st;
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.held, 2);

    /* By day, low severity goes at once. */
    raise_alarm(&f, "pump-2", "starts-high", GW_SEVERITY_LOW, night + 9 * 60 * MIN_MS);
    flush(&f);
    CU_ASSERT_EQUAL(count("/quiet"), 5);
    fixture_close(&f);
}

/* ---- answers: retry, refusal -------------------------------------------- */

static const char answers_block[] =
    "notify = {\n"
    "  targets = ( { id = \"retry\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/retry\"; timeout_ms = 5000; },\n"
    "              { id = \"drop\"; type = \"pagerduty\"; url = \"http://127.0.0.1:PORT/drop\"; routing_key_file = \"pd-key\"; } );\n"
    "  routes = ( { target = \"retry\"; }, { target = \"drop\"; } );\n"
    "};\n";

static void test_retry_and_drop(void)
{
    httprecv_push_answer(recv_, "/retry", 503, "Retry-After: 1\r\n", "{\"error\":\"maintenance\"}");
    httprecv_push_answer(recv_, "/drop", 400, NULL,
                         "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\",\"errors\":[\"x\"]}");
    struct fixture f;
    fixture_open(&f, answers_block, true);
    raise_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0);
    CU_ASSERT_EQUAL(httprecv_wait(recv_, 3, FLUSH_MS), 0);
    flush(&f);
    const struct httprecv_request *q[4];
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/retry", q, N(q)), 2);  /* 503, then 200: delivered once */
    CU_ASSERT_EQUAL(q[0]->status, 503);
    CU_ASSERT_EQUAL(q[1]->status, 200);
    CU_ASSERT_STRING_EQUAL(q[0]->body, q[1]->body);
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/drop", q, N(q)), 1);
    CU_ASSERT_EQUAL(q[0]->status, 400);

    /* The refused one does not hold back the next. */
    ack_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0 + MIN_MS);
    flush(&f);
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/drop", q, N(q)), 2);
    expect_body(q[1], "event_action", "acknowledge");
    CU_ASSERT_EQUAL(count("/retry"), 3);

    struct gw_notify_state st;
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.queued, 4);
    CU_ASSERT_EQUAL(st.delivered, 3);
    CU_ASSERT_EQUAL(st.failed, 1);
    CU_ASSERT_EQUAL(st.dropped, 1);
    CU_ASSERT_EQUAL(st.spool.depth_records, 0);
    CU_ASSERT_EQUAL(st.targets_failing, 0);
    fixture_close(&f);
}

/* ---- restarts ----------------------------------------------------------- */

static const char restart_block[] =
    "notify = {\n"
    "  targets = ( { id = \"r\"; type = \"webhook\"; url = \"http://127.0.0.1:PORT/restart\"; } );\n"
    "  routes = ( { target = \"r\"; } );\n"
    "};\n";

static void reopen(struct fixture *f)
{
    notify_free(f->n);
    f->n = NULL;
    CU_ASSERT_EQUAL_FATAL(notify_create(f->cfg, f->spool, &f->n), 0);
    CU_ASSERT_EQUAL_FATAL(notify_start(f->n), 0);
}

static void test_restart_delivers_spooled(void)
{
    struct fixture f;
    fixture_open(&f, restart_block, false);  /* not started: nothing leaves */
    raise_alarm(&f, "chiller-1", "chw-supply-high", GW_SEVERITY_HIGH, T0);
    struct gw_notify_state st;
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.spool.depth_records, 1);
    reopen(&f);
    flush(&f);
    expect_events("/restart", "trigger");

    /* Stopped while backing off after a 503: sent once the next start. */
    httprecv_push_answer(recv_, "/restart", 503, "Retry-After: 3600\r\n", "");
    raise_alarm(&f, "chiller-2", "chw-supply-high", GW_SEVERITY_HIGH, T0 + MIN_MS);
    CU_ASSERT_EQUAL(httprecv_wait(recv_, 2, FLUSH_MS), 0);
    int64_t before = clock_mono_ns();
    reopen(&f);
    CU_ASSERT(clock_mono_ns() - before < 2 * GW_NS_PER_S);  /* the stop does not wait out the backoff */
    flush(&f);
    expect_events("/restart", "trigger,trigger,trigger");
    const struct httprecv_request *q[3];
    CU_ASSERT_EQUAL_FATAL(httprecv_find(recv_, "/restart", q, N(q)), 3);
    CU_ASSERT_EQUAL(q[1]->status, 503);
    CU_ASSERT_STRING_EQUAL(q[1]->body, q[2]->body);
    notify_state(f.n, &st);
    CU_ASSERT_EQUAL(st.delivered, 1);
    fixture_close(&f);
}

static void test_adopt_after_restart(void)
{
    struct fixture f;
    fixture_open(&f, escalation_block, true);
    /* Restored active-unacknowledged since T0 (escalated before the restart). */
    struct gw_alarm_event ev = event("chiller-9", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_NORMAL,
                                     GW_ALARM_ACTIVE_UNACKED, T0, 7);
    notify_adopt(f.n, &ev.alarm, T0 + 40 * MIN_MS);
    tick(&f, T0 + 41 * MIN_MS);
    tick(&f, T0 + 60 * MIN_MS - 1);
    CU_ASSERT_EQUAL(count("/oncall"), 0);  /* no page again */
    CU_ASSERT_EQUAL(count("/manager"), 0);
    tick(&f, T0 + 60 * MIN_MS);             /* its repeats go on, on their grid */
    expect_events("/oncall", "repeat");
    expect_events("/manager", "repeat");
    clear_alarm(&f, "chiller-9", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_UNACKED, T0 + 70 * MIN_MS);
    flush(&f);
    expect_events("/oncall", "repeat,resolve");
    expect_events("/manager", "repeat,resolve");

    /* An acknowledged one is followed to its end, with no reminders. */
    ev = event("chiller-8", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_UNACKED, GW_ALARM_ACTIVE_ACKED, T0, 8);
    notify_adopt(f.n, &ev.alarm, T0 + 80 * MIN_MS);
    tick(&f, T0 + 200 * MIN_MS);
    clear_alarm(&f, "chiller-8", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_ACKED, T0 + 210 * MIN_MS);
    flush(&f);
    expect_events("/oncall", "repeat,resolve,resolve");
    expect_events("/manager", "repeat,resolve");
    fixture_close(&f);
}

/* ---- severity rising, shelving, suppression ----------------------------- */

static void test_transitions(void)
{
    struct fixture f;
    fixture_open(&f, escalation_block, true);  /* critical and high only */
    /* medium: nobody; rising to high: a trigger. */
    raise_alarm(&f, "boiler-1", "service-due", GW_SEVERITY_MEDIUM, T0);
    struct gw_alarm_event ev = event("boiler-1", "service-due", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_UNACKED,
                                     GW_ALARM_ACTIVE_UNACKED, T0 + MIN_MS, 2);
    notify_on_alarm(f.n, &ev);
    /* the same severity again: nothing new */
    notify_on_alarm(f.n, &ev);
    ev.alarm.severity = GW_SEVERITY_CRITICAL;  /* rising again */
    ev.ts_ms = T0 + 2 * MIN_MS;
    notify_on_alarm(f.n, &ev);
    flush(&f);
    expect_events("/oncall", "trigger,trigger");
    /* shelved: acknowledged, and no more reminders */
    ev = event("boiler-1", "service-due", GW_SEVERITY_CRITICAL, GW_ALARM_ACTIVE_UNACKED, GW_ALARM_SHELVED,
               T0 + 3 * MIN_MS, 4);
    ev.alarm.active = true;
    ev.alarm.acked_by = ev.alarm.shelved_by = "bob";
    ev.cause = "shelve";
    notify_on_alarm(f.n, &ev);
    tick(&f, T0 + 120 * MIN_MS);
    expect_events("/oncall", "trigger,trigger,acknowledge");
    CU_ASSERT_EQUAL(count("/manager"), 0);
    /* unshelved as cleared: resolved */
    ev = event("boiler-1", "service-due", GW_SEVERITY_CRITICAL, GW_ALARM_SHELVED, GW_ALARM_NORMAL, T0 + 121 * MIN_MS, 5);
    notify_on_alarm(f.n, &ev);
    /* suppressed (comm loss): no reminders until it shows again */
    raise_alarm(&f, "chiller-3", "chw-supply-high", GW_SEVERITY_HIGH, T0 + 130 * MIN_MS);
    ev = event("chiller-3", "chw-supply-high", GW_SEVERITY_HIGH, GW_ALARM_ACTIVE_UNACKED, GW_ALARM_SUPPRESSED,
               T0 + 131 * MIN_MS, 7);
    ev.alarm.active = true;
    ev.cause = "suppressed";
    notify_on_alarm(f.n, &ev);
    tick(&f, T0 + 200 * MIN_MS);
    expect_events("/oncall", "trigger,trigger,acknowledge,resolve,trigger");
    CU_ASSERT_EQUAL(count("/manager"), 0);
    fixture_close(&f);
}

/* ---- suite -------------------------------------------------------------- */

static int suite_init(void)
{
    if (local_time_set_zone("UTC") || write_temp_file_named("pd-key", PD_KEY "\n", NULL, 0) ||
        write_temp_file_named("dt-secret", DT_SECRET "\n", NULL, 0) ||
        write_temp_file_named("wh-secret", WH_SECRET "\n", NULL, 0))
        return -1;
    return httprecv_start(&recv_) ? -1 : 0;
}

static int suite_clean(void)
{
    httprecv_stop(recv_);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("notify", suite_init, suite_clean);
    if (!suite || !CU_add_test(suite, "payloads per format, credentials, actions", test_formats) ||
        !CU_add_test(suite, "repeat while unacknowledged, escalation", test_repeat_and_escalation) ||
        !CU_add_test(suite, "flood: 15 alarms in 10 minutes are 10 and one summary", test_flood) ||
        !CU_add_test(suite, "quiet hours hold low severity for a summary", test_quiet_hours) ||
        !CU_add_test(suite, "503 then 200 delivers once; 400 is dropped and counted", test_retry_and_drop) ||
        !CU_add_test(suite, "a restart delivers what was spooled", test_restart_delivers_spooled) ||
        !CU_add_test(suite, "alarms restored at start: no new page, repeats go on", test_adopt_after_restart) ||
        !CU_add_test(suite, "severity rising, shelving, suppression", test_transitions)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
