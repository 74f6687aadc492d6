/*
 * The notify block of the configuration: what a valid one loads into,
 * and every class of error, each reported once at its FILE:LINE.  A case's
 * expected line is the one line of its text holding a marker.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "harness.h"
#include "notify_config.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

#define BASE \
    "site = { id = \"t\"; };\n" \
    "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n" \
    "devices = ( { id = \"d\"; bus = \"b\"; unit = 1;\n" \
    "  points = ( { name = \"p\"; table = \"holding\"; address = 0; } ); } );\n"

/* Targets a route can name: "hook" (webhook) and "pd" (PagerDuty). */
#define TARGETS \
    "  targets = (\n" \
    "    { id = \"hook\"; type = \"webhook\"; url = \"https://hooks.example.com/gw\"; },\n" \
    "    { id = \"pd\"; type = \"pagerduty\"; routing_key_file = \"key\"; }\n" \
    "  );\n"
#define ROUTES(r) "  routes = (\n" r "\n  );\n"
#define NOTIFY(body) BASE "notify = {\n" body "};\n"
/* One target (given) routed to. */
#define ONE_TARGET(t) NOTIFY("  targets = (\n" t "\n  );\n" ROUTES("    { target = \"x\"; }"))

struct load {
    int rc;
    struct gw_config *cfg;
    struct gw_diag diag;
    char path[PATH_MAX];
};

static void load(struct load *l, const char *text)
{
    memset(l, 0, sizeof *l);
    CU_ASSERT_EQUAL_FATAL(write_temp_file(l->path, sizeof l->path, text), 0);
    l->rc = config_load(l->path, &l->cfg, &l->diag);
}

static void load_free(struct load *l)
{
    config_free(l->cfg);
    diag_free(&l->diag);
}

/* The 1-based line of the one line of text holding needle, or -1. */
static int line_of(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    if (!hit || strstr(hit + 1, needle))
        return -1;
    int line = 1;
    for (const char *c = text; c < hit; c++)
        line += *c == '\n';
    return line;
}

static void print_diag(const char *what, const struct gw_diag *diag)
{
    fprintf(stderr, "\n  %s: %zu line(s) reported:\n", what, diag->n);
    for (size_t i = 0; i < diag->n; i++)
        fprintf(stderr, "    %s\n", diag->lines[i]);
}

/* ---- valid -------------------------------------------------------------- */

static void test_valid(void)
{
    static const char text[] = NOTIFY(
        "  targets = (\n"
        "    { id = \"oncall\"; type = \"pagerduty\"; routing_key_file = \"key\"; },\n"
        "    { id = \"manager\"; type = \"webhook\"; url = \"http://10.0.0.5/hook\"; secret_file = \"key\"; timeout_ms = 3000; },\n"
        "    { id = \"group\"; type = \"dingtalk\"; url = \"https://oapi.dingtalk.com/robot/send?access_token=x\";\n"
        "      secret_file = \"key\"; format = \"text\"; },\n"
        "    { id = \"wx\"; type = \"wecom\"; url_file = \"wecom-url\"; }\n"
        "  );\n"
        ROUTES("    { target = \"oncall\"; severities = [ \"critical\", \"high\" ]; tags = { building = \"T1\"; };\n"
               "      repeat_min = 30; escalate_to = \"manager\"; escalate_after_min = 15; },\n"
               "    { target = \"group\"; quiet_hours = \"22:00-07:30\"; }")
        "  flood = { max = 5; window_min = 15; };\n");
    struct load l;
    load(&l, text);
    CU_ASSERT_EQUAL_FATAL(l.rc, 0);
    if (l.diag.n)
        print_diag("valid", &l.diag);
    const struct gw_notify_cfg *c = &l.cfg->notify;
    CU_ASSERT_TRUE(c->present);
    CU_ASSERT_EQUAL_FATAL(c->n_targets, 4);
    CU_ASSERT_STRING_EQUAL(c->targets[0].url, GW_PAGERDUTY_URL);
    CU_ASSERT_EQUAL(c->targets[0].type, GW_NOTIFY_PAGERDUTY);
    CU_ASSERT_EQUAL(c->targets[0].timeout_ms, 10000);
    CU_ASSERT_EQUAL(c->targets[1].timeout_ms, 3000);
    CU_ASSERT_EQUAL(c->targets[2].format, GW_NOTIFY_TEXT);
    CU_ASSERT_PTR_NULL(c->targets[3].url);
    CU_ASSERT_EQUAL(notify_config_find_target(c, "wx"), 3);
    CU_ASSERT_EQUAL_FATAL(c->n_routes, 2);
    const struct gw_notify_route_cfg *r = &c->routes[0];
    CU_ASSERT_EQUAL(r->severities, (1 << GW_SEVERITY_CRITICAL) | (1 << GW_SEVERITY_HIGH));
    CU_ASSERT_EQUAL(r->target_index, 0);
    CU_ASSERT_TRUE(r->has_escalation);
    CU_ASSERT_EQUAL(r->escalate_index, 1);
    CU_ASSERT_EQUAL(r->escalate_after_min, 15);
    CU_ASSERT_EQUAL(r->repeat_min, 30);
    CU_ASSERT_EQUAL_FATAL(r->n_tags, 1);
    CU_ASSERT_STRING_EQUAL(r->tags[0].key, "building");
    CU_ASSERT_FALSE(r->has_quiet);
    r = &c->routes[1];
    CU_ASSERT_EQUAL(r->severities, GW_NOTIFY_ALL_SEVERITIES);
    CU_ASSERT_TRUE(r->has_quiet);
    CU_ASSERT_EQUAL(r->quiet_start_min, 22 * 60);
    CU_ASSERT_EQUAL(r->quiet_end_min, 7 * 60 + 30);
    CU_ASSERT_FALSE(r->has_escalation);
    CU_ASSERT_EQUAL(c->flood_max, 5);
    CU_ASSERT_EQUAL(c->flood_window_min, 15);
    load_free(&l);

    /* Without a notify block; flood defaults with one. */
    load(&l, BASE);
    CU_ASSERT_EQUAL(l.rc, 0);
    CU_ASSERT_FALSE(l.cfg->notify.present);
    load_free(&l);
    load(&l, NOTIFY(TARGETS ROUTES("    { target = \"hook\"; }")));
    CU_ASSERT_EQUAL_FATAL(l.rc, 0);
    CU_ASSERT_EQUAL(l.cfg->notify.flood_max, 10);
    CU_ASSERT_EQUAL(l.cfg->notify.flood_window_min, 10);
    load_free(&l);
}

/* ---- errors ------------------------------------------------------------- */

static const struct {
    const char *name, *text, *at, *message;
} errors[] = {
    { "unknown target", NOTIFY(TARGETS ROUTES("    { target = \"nobody\"; }")), "nobody",
      "route: unknown target 'nobody'" },
    { "unknown escalation target",
      NOTIFY(TARGETS ROUTES("    { target = \"hook\"; escalate_to = \"boss\"; escalate_after_min = 5; }")), "boss",
      "route: unknown target 'boss' in escalate_to" },
    { "escalation to itself",
      NOTIFY(TARGETS ROUTES("    { target = \"hook\";\n      escalate_to = \"hook\"; escalate_after_min = 5; }")),
      "escalate_to = \"hook\"", "escalate_to must name another target than 'hook'" },
    { "escalation without a time", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; escalate_to = \"pd\"; }")),
      "escalate_to", "escalate_to needs escalate_after_min" },
    { "a time without escalation", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; escalate_after_min = 5; }")),
      "escalate_after_min", "escalate_after_min needs escalate_to" },
    { "quiet hours: an hour out of range",
      NOTIFY(TARGETS ROUTES("    { target = \"hook\"; quiet_hours = \"25:00-07:00\"; }")), "quiet_hours",
      "quiet_hours must be \"HH:MM-HH:MM\"" },
    { "quiet hours: empty range", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; quiet_hours = \"22:00-22:00\"; }")),
      "quiet_hours", "two different times" },
    { "quiet hours: one time", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; quiet_hours = \"22:00\"; }")),
      "quiet_hours", "quiet_hours must be" },
    { "severity unknown", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; severities = [ \"urgent\" ]; }")),
      "urgent", "severity must be one of critical, high, medium, low" },
    { "severities empty", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; severities = [ ]; }")), "severities",
      "severities must be a non-empty list" },
    { "repeat out of range", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; repeat_min = 2000; }")), "repeat_min",
      "repeat_min = 2000 is out of range" },
    { "route tags", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; tags = { floor = 3; }; }")), "floor",
      "tag 'floor' must be a non-empty string" },
    { "url scheme", ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"ftp://example.com/x\"; }"), "ftp:",
      "url must start with https://" },
    { "plain http to PagerDuty", ONE_TARGET("    { id = \"x\"; type = \"pagerduty\"; routing_key_file = \"key\";\n"
                                            "      url = \"http://events.example.com/v2/enqueue\"; }"),
      "http://events", "url must use https://" },
    { "plain http to a robot", ONE_TARGET("    { id = \"x\"; type = \"wecom\"; url = \"http://qyapi.example.com/x\"; }"),
      "qyapi", "must use https://" },
    { "a url with a space", ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"https://a b\"; }"), "a b",
      "contains spaces" },
    { "no url", ONE_TARGET("    { id = \"x\"; type = \"wecom\"; }"), "wecom", "give url (or url_file)" },
    { "url and url_file", ONE_TARGET("    { id = \"x\"; type = \"webhook\";\n      url = \"https://a/\"; url_file = \"key\"; }"),
      "url_file", "url_file and url: give one of them" },
    { "url_file with a bad url", ONE_TARGET("    { id = \"x\"; type = \"wecom\"; url_file = \"key\"; }"), "url_file",
      "url_file must start with https://" },
    { "pagerduty without a key", ONE_TARGET("    { id = \"x\"; type = \"pagerduty\"; }"), "pagerduty",
      "needs routing_key_file" },
    { "routing key elsewhere",
      ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"https://a/\";\n      routing_key_file = \"key\"; }"),
      "routing_key_file", "routing_key_file is for type \"pagerduty\" only" },
    { "secret on wecom",
      ONE_TARGET("    { id = \"x\"; type = \"wecom\"; url = \"https://a/\";\n      secret_file = \"key\"; }"),
      "secret_file", "secret_file is for types \"dingtalk\" and \"webhook\" only" },
    { "format on wecom", ONE_TARGET("    { id = \"x\"; type = \"wecom\"; url = \"https://a/\";\n      format = \"text\"; }"),
      "format", "format is for type \"dingtalk\" only" },
    { "missing secret", ONE_TARGET("    { id = \"x\"; type = \"pagerduty\";\n      routing_key_file = \"no-such-key\"; }"),
      "no-such-key", "routing_key_file: cannot read secret" },
    { "secret readable by others",
      ONE_TARGET("    { id = \"x\"; type = \"dingtalk\"; url = \"https://a/\";\n      secret_file = \"open-key\"; }"),
      "open-key", "readable by group or others" },
    { "empty secret", ONE_TARGET("    { id = \"x\"; type = \"dingtalk\"; url = \"https://a/\";\n      secret_file = \"empty-key\"; }"),
      "empty-key", "is empty" },
    { "unknown type", ONE_TARGET("    { id = \"x\"; type = \"slack\"; url = \"https://a/\"; }"), "slack",
      "type = \"slack\" is not one of: webhook, pagerduty, dingtalk, wecom" },
    { "a typo", ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"https://a/\"; timout_ms = 5; }"), "timout",
      "unknown key 'timout_ms' (did you mean 'timeout_ms'?)" },
    { "a bad id", ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"https://a/\"; },\n"
                             "    { id = \"../y\"; type = \"webhook\"; url = \"https://a/\"; }"),
      "../y", "target '../y': id may hold only" },
    { "a target twice", ONE_TARGET("    { id = \"x\"; type = \"webhook\"; url = \"https://a/\"; },\n"
                                   "    { id = \"x\"; type = \"webhook\"; url = \"https://b/\"; }"),
      "https://b/", "target 'x' is defined twice (first at line" },
    { "flood out of range", NOTIFY(TARGETS ROUTES("    { target = \"hook\"; }") "  flood = { max = 0; };\n"), "max",
      "flood: max = 0 is out of range" },
    { "no routes", NOTIFY(TARGETS), "notify = {", "missing required key 'routes'" },
    { "targets not a list", NOTIFY("  targets = { id = \"x\"; };\n" ROUTES("")), "targets", "targets must be a list" },
};

static void test_errors(void)
{
    for (size_t i = 0; i < N(errors); i++) {
        struct load l;
        load(&l, errors[i].text);
        int line = line_of(errors[i].text, errors[i].at);
        char prefix[PATH_MAX + 32];
        snprintf(prefix, sizeof prefix, "%s:%d: ", l.path, line);
        bool ok = l.rc == -EINVAL && !l.cfg && line > 0 && l.diag.n == 1 &&
                  strncmp(l.diag.lines[0], prefix, strlen(prefix)) == 0 &&
                  strstr(l.diag.lines[0] + strlen(prefix), errors[i].message);
        if (!ok) {
            fprintf(stderr, "\n  %s: expected \"%s...%s\"", errors[i].name, prefix, errors[i].message);
            print_diag(errors[i].name, &l.diag);
        }
        CU_ASSERT_TRUE(ok);
        load_free(&l);
    }
}

static int suite_init(void)
{
    char path[PATH_MAX];
    static const char wecom_url[] = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\n";
    if (write_temp_file_named("key", "s3cret\n", NULL, 0) || write_temp_file_named("wecom-url", wecom_url, NULL, 0) ||
        write_temp_file_named("empty-key", "\n", NULL, 0) ||
        write_temp_file_named("open-key", "s3cret\n", path, sizeof path))
        return -1;
    return chmod(path, 0644);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("notify_config", suite_init, NULL);
    if (!suite || !CU_add_test(suite, "a valid notify block and its defaults", test_valid) ||
        !CU_add_test(suite, "every error once, at its FILE:LINE", test_errors)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
