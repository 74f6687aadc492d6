/*
 * The alarm documents published on MQTT (alarm_json.h): the retained
 * state of `<prefix>/alarm/<device>/<rule>` and the event of
 * `<prefix>/event/alarm`, compared byte for byte, and which states delete
 * the retained topic.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm_json.h"
#include "rules/rules_config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct gw_tag tags[] = { { "building", "T1" } };

/* chiller-1's supply temperature above its limit since 07:55 UTC. */
static struct gw_alarm_info active_alarm(void)
{
    return (struct gw_alarm_info){
        .site = "demo-tower", .device = "chiller-1", .kind = "chiller", .rule = "chw-supply-high",
        .type = GW_RULE_LIMIT, .type_name = "limit", .severity = GW_SEVERITY_HIGH,
        .state = GW_ALARM_ACTIVE_UNACKED, .active = true, .acked = false,
        .has_value = true, .has_limit = true, .value = 9.6, .limit = 9.0,
        .message = "chilled water supply 9.6 degC above 9 degC",
        .since_ms = 1764230100000, .state_since_ms = 1764230400000,
        .acked_by = "", .acked_ms = 0, .shelved_by = "", .shelved_until_ms = 0,
        .tags = tags, .n_tags = 1,
    };
}

#define HEAD "{\"site\":\"demo-tower\",\"device\":\"chiller-1\",\"kind\":\"chiller\",\"rule\":\"chw-supply-high\"," \
             "\"type\":\"limit\",\"severity\":\"high\","

static void check(char *json, const char *want)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    if (strcmp(json, want) != 0)
        fprintf(stderr, "\n got: %s\nwant: %s\n", json, want);
    CU_ASSERT_STRING_EQUAL(json, want);
    free(json);
}

static void test_state_active(void)
{
    struct gw_alarm_info a = active_alarm();
    uint64_t seq = 42;
    check(alarm_json_state(&a, &seq),
          HEAD "\"state\":\"active-unacknowledged\",\"active\":true,\"acked\":false,\"value\":9.6,\"limit\":9,"
          "\"message\":\"chilled water supply 9.6 degC above 9 degC\",\"since\":1764230100000,"
          "\"state_since\":1764230400000,\"acked_by\":null,\"acked_at\":null,\"shelved_by\":null,"
          "\"shelved_until\":null,\"seq\":42}");
    /* Republished at start: no transition, so no sequence number. */
    check(alarm_json_state(&a, NULL),
          HEAD "\"state\":\"active-unacknowledged\",\"active\":true,\"acked\":false,\"value\":9.6,\"limit\":9,"
          "\"message\":\"chilled water supply 9.6 degC above 9 degC\",\"since\":1764230100000,"
          "\"state_since\":1764230400000,\"acked_by\":null,\"acked_at\":null,\"shelved_by\":null,"
          "\"shelved_until\":null,\"seq\":null}");
}

static void test_state_acked_and_shelved(void)
{
    struct gw_alarm_info a = active_alarm();
    a.state = GW_ALARM_ACTIVE_ACKED;
    a.acked = true;
    a.acked_by = "alice";
    a.acked_ms = 1764230460000;
    a.state_since_ms = 1764230460000;
    uint64_t seq = 43;
    check(alarm_json_state(&a, &seq),
          HEAD "\"state\":\"active-acknowledged\",\"active\":true,\"acked\":true,\"value\":9.6,\"limit\":9,"
          "\"message\":\"chilled water supply 9.6 degC above 9 degC\",\"since\":1764230100000,"
          "\"state_since\":1764230460000,\"acked_by\":\"alice\",\"acked_at\":1764230460000,\"shelved_by\":null,"
          "\"shelved_until\":null,\"seq\":43}");
    a.state = GW_ALARM_SHELVED;
    a.acked_by = "bob";
    a.shelved_by = "bob";
    a.shelved_until_ms = 1764237660000;
    seq = 44;
    check(alarm_json_state(&a, &seq),
          HEAD "\"state\":\"shelved\",\"active\":true,\"acked\":true,\"value\":9.6,\"limit\":9,"
          "\"message\":\"chilled water supply 9.6 degC above 9 degC\",\"since\":1764230100000,"
          "\"state_since\":1764230460000,\"acked_by\":\"bob\",\"acked_at\":1764230460000,\"shelved_by\":\"bob\","
          "\"shelved_until\":1764237660000,\"seq\":44}");
}

/* Value and limit only when known (a state rule has no limit; a comm-loss
 * alarm has neither), never a non-finite number. */
static void test_state_without_value(void)
{
    struct gw_alarm_info a = active_alarm();
    a.type_name = "comm_loss";
    a.severity = GW_SEVERITY_CRITICAL;
    a.has_value = a.has_limit = false;
    a.message = "no answer for 3 polls";
    a.since_ms = 0;
    uint64_t seq = 7;
    check(alarm_json_state(&a, &seq),
          "{\"site\":\"demo-tower\",\"device\":\"chiller-1\",\"kind\":\"chiller\",\"rule\":\"chw-supply-high\","
          "\"type\":\"comm_loss\",\"severity\":\"critical\",\"state\":\"active-unacknowledged\",\"active\":true,"
          "\"acked\":false,\"message\":\"no answer for 3 polls\",\"since\":null,\"state_since\":1764230400000,"
          "\"acked_by\":null,\"acked_at\":null,\"shelved_by\":null,\"shelved_until\":null,\"seq\":7}");
    a.has_value = true;
    a.value = NAN;
    a.has_limit = true;
    a.limit = 2.5;
    char *json = alarm_json_state(&a, &seq);
    CU_ASSERT_PTR_NULL(strstr(json, "\"value\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"limit\":2.5,"));
    free(json);
}

static void test_event(void)
{
    struct gw_alarm_event ev = {
        .alarm = active_alarm(), .from_state = GW_ALARM_NORMAL, .cause = "condition",
        .ts_ms = 1764230400000, .seq = 42,
    };
    check(alarm_json_event(&ev),
          HEAD "\"state\":\"active-unacknowledged\",\"active\":true,\"acked\":false,\"value\":9.6,\"limit\":9,"
          "\"message\":\"chilled water supply 9.6 degC above 9 degC\",\"since\":1764230100000,"
          "\"state_since\":1764230400000,\"acked_by\":null,\"acked_at\":null,\"shelved_by\":null,"
          "\"shelved_until\":null,\"from_state\":\"normal\",\"cause\":\"condition\",\"ts\":1764230400000,\"seq\":42}");
    ev.alarm.message = "say \"hi\"\n冷机";
    char *json = alarm_json_event(&ev);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"message\":\"say \\\"hi\\\"\\n冷机\""));
    free(json);
}

/* Only normal deletes the retained state: whatever awaits an
 * acknowledgement, or is hidden, stays visible. */
static void test_retained(void)
{
    static const struct {
        enum gw_alarm_state state;
        bool retained;
    } cases[] = {
        { GW_ALARM_NORMAL, false },         { GW_ALARM_ACTIVE_UNACKED, true }, { GW_ALARM_ACTIVE_ACKED, true },
        { GW_ALARM_RETURNED_UNACKED, true }, { GW_ALARM_SHELVED, true },        { GW_ALARM_SUPPRESSED, true },
        { GW_ALARM_OUT_OF_SERVICE, true },
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct gw_alarm_info a = active_alarm();
        a.state = cases[i].state;
        CU_ASSERT_EQUAL(alarm_json_retained(&a), cases[i].retained);
    }
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "state: active", test_state_active },
        { "state: acknowledged, shelved", test_state_acked_and_shelved },
        { "state: without value or limit", test_state_without_value },
        { "event", test_event },
        { "which states are retained", test_retained },
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("alarm_json", NULL, NULL);
    for (size_t i = 0; suite && i < N(tests); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
