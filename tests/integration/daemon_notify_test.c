/*
 * The daemon pages: a limit rule on a gw-testdev register raises an alarm
 * in the running greenwatchd, and its webhook target (a local HTTP
 * receiver) gets exactly one page naming the device, the rule and the
 * value; a restart of the daemon with the alarm still active pages no
 * one again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httprecv.h"
#include "itest.h"

static int write_paging_config(char *path, size_t n, int modbus_port, int http_port)
{
    char text[2048];
    snprintf(text, sizeof text, CONFIG_HEAD
             "buses = ( { id = \"b\"; tcp = \"127.0.0.1:%d\"; timeout_ms = 1000; } );\n"
             "devices = ( { id = \"ahu-1\"; bus = \"b\"; unit = 1; interval_s = 0.2;\n"
             "  points = ( { name = \"supply_temp\"; table = \"holding\"; address = 10; scale = 0.1; unit = \"degC\"; } ); } );\n"
             "rules = ( { id = \"supply-high\"; device = \"ahu-1\"; type = \"limit\"; point = \"supply_temp\";\n"
             "            high = 30.0; severity = \"high\"; } );\n"
             "notify = { targets = ( { id = \"oncall\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/page\"; } );\n"
             "           routes = ( { target = \"oncall\"; } ); };\n",
             modbus_port, http_port);
    return write_temp_file(path, n, text);
}

/* How many different notification_ids the receiver got. */
static size_t distinct_notifications(struct httprecv *http)
{
    char seen[8][400];
    size_t n = 0;
    for (size_t i = 0; i < httprecv_count(http); i++) {
        cJSON *body = cJSON_Parse(httprecv_get(http, i)->body);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(body, "notification_id"));
        bool known = !id;  /* a page without one is not counted, so the count falls short */
        for (size_t k = 0; !known && k < n; k++)
            known = strcmp(seen[k], id) == 0;
        if (!known && n < 8)
            snprintf(seen[n++], sizeof seen[0], "%s", id);
        cJSON_Delete(body);
    }
    return n;
}

static void test_page_once(void)
{
    struct testdev dev = { 0 };
    struct httprecv *http = NULL;
    struct proc d = { 0 }, again = { 0 };
    char config[512];
    /* holding 10 = 425 -> 42.5 degC, above the 30.0 limit */
    REQUIRE(testdev_start(&dev, ARGS("--set", "holding:10=425")) == 0, out);
    REQUIRE(httprecv_start(&http) == 0, out);
    REQUIRE(write_paging_config(config, sizeof config, dev.port, httprecv_port(http)) == 0, out);
    REQUIRE(greenwatchd_start(&d, config) == 0, out);
    REQUIRE(httprecv_wait(http, 1, 20000) == 0, out);
    const struct httprecv_request *page = httprecv_get(http, 0);
    CU_ASSERT_STRING_EQUAL(page->path, "/page");
    cJSON *body = cJSON_Parse(page->body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    const cJSON *device = cJSON_GetObjectItem(body, "device"), *rule = cJSON_GetObjectItem(body, "rule");
    CU_ASSERT(cJSON_IsString(device) && strcmp(device->valuestring, "ahu-1") == 0);
    CU_ASSERT(cJSON_IsString(rule) && strcmp(rule->valuestring, "supply-high") == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(page->body, "42.5"));
    cJSON_Delete(body);
    int status = -1;
    CU_ASSERT_EQUAL(proc_stop(&d, &status), 0);

    /* Restarted with the alarm still active: restored, not paged again. */
    REQUIRE(greenwatchd_start(&again, config) == 0, out);
    cJSON *s = greenwatchd_next_sample(&again, "ahu-1", 20000);
    cJSON_Delete(s);
    s = greenwatchd_next_sample(&again, "ahu-1", 20000);  /* a few evaluations later */
    cJSON_Delete(s);
    CU_ASSERT_EQUAL(proc_stop(&again, &status), 0);
    /* Delivery is at least once: a stop that aborts the request in flight
     * sends it again at the next start, with the same notification_id
     * (docs/alarms.md, Delivery).  A new page would carry a new one. */
    CU_ASSERT_EQUAL(distinct_notifications(http), 1);
out:
    proc_stop(&d, NULL);
    proc_stop(&again, NULL);
    if (http)
        httprecv_stop(http);
    testdev_stop(&dev);
}

int main(void)
{
    static const struct itest_case cases[] = {
        { "an alarm pages once, and a restart does not page again", test_page_once },
    };
    return itest_main("daemon notification", cases, sizeof cases / sizeof *cases);
}
