/*
 * Which kind defaults a device gets: a default applies to a device that
 * has every point it reads (its point, expr and suppress_when) in its
 * register map, as the delta or reset flag of one of its counters, or
 * among the points its kind declares it derives (`derives` after the
 * kind's `rules`) from inputs the device has.  One that does not apply is left out silently: no
 * problem reported, no alarm ever raised for a point the device cannot
 * have.  An override is judged as merged.  A kind that declares nothing
 * keeps the old rule: any name may be derived.  And the shipped kinds on
 * the demo building's devices.
 */
#include "rules_fixture.h"
#include "plugin.h"
#include "rules/defaults.h"

#define SITE FX_SITE("UTC") FX_BUS
/* d1: points p, q and the counter e; d2: p only. */
#define DEVICES                                                                                          \
    "devices = ( { id = \"d1\"; bus = \"b\"; unit = 1; kind = \"fake\"; interval_s = 10;\n"              \
    "    points = ( { name = \"p\"; table = \"holding\"; address = 0; },\n"                              \
    "      { name = \"q\"; table = \"holding\"; address = 1; },\n"                                       \
    "      { name = \"e\"; table = \"holding\"; address = 2; type = \"uint32\"; counter = true; } ); },\n" \
    "  { id = \"d2\"; bus = \"b\"; unit = 2; kind = \"fake\"; interval_s = 10;\n"                        \
    "    points = ( { name = \"p\"; table = \"holding\"; address = 0; } ); } );\n"

static const char declared[] =
    "rules = (\n"
    "  { id = \"map\"; type = \"limit\"; point = \"p\"; high = 9.0; },\n"
    "  { id = \"derived\"; type = \"state\"; point = \"dv\"; states = [ 1 ]; },\n"
    "  { id = \"counter\"; type = \"limit\"; point = \"e_delta\"; high = 100.0; },\n"
    "  { id = \"not-a-counter\"; type = \"state\"; point = \"q_reset\"; states = [ 1 ]; },\n"
    "  { id = \"stale-q\"; type = \"stale\"; point = \"q\"; intervals = 3; },\n"
    "  { id = \"expr\"; type = \"expression\"; expr = \"p > 1 and q < 2\"; },\n"
    "  { id = \"suppressed\"; type = \"limit\"; point = \"p\"; high = 5.0; suppress_when = \"q == 0\"; },\n"
    "  { id = \"comm\"; type = \"comm_loss\"; },\n"
    "  { id = \"from-q\"; type = \"limit\"; point = \"dq\"; high = 1.0; },\n"
    "  { id = \"from-dq\"; type = \"limit\"; point = \"ddq\"; high = 1.0; }\n"
    ");\n"
    "derives = [ \"dv\", \"dq(q, p)\", \"ddq(dq)\" ];\n";

static struct gw_plugin fake_plugin = { .abi_version = GW_PLUGIN_ABI_VERSION, .kind = "fake" };
static struct gw_kind fake_kind = { .name = "fake", .plugin = &fake_plugin };
static const struct gw_kinds fake_kinds = { .items = &fake_kind, .n = 1 };

/* The ids the set holds for device, comma-separated in order. */
static void ids_of(const struct rule_set *set, const char *device, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < set->n; i++)
        if (set->rules[i].device_id && strcmp(set->rules[i].device_id, device) == 0)
            snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "," : "", set->rules[i].id);
}

struct resolved {
    struct gw_config *cfg;
    struct rule_set set;
    struct gw_diag diag;
    int rc;
};

static void resolve(struct resolved *r, const char *defaults, const char *site_rules)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s%s", SITE, DEVICES, site_rules);
    fake_plugin.default_rules = defaults;
    memset(r, 0, sizeof *r);
    CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &r->cfg), 0);
    r->rc = rules_resolve(r->cfg, &fake_kinds, &r->diag, &r->set);
    for (size_t i = 0; i < r->diag.n; i++)
        fprintf(stderr, "\n  %s", r->diag.lines[i]);
}

static void resolved_free(struct resolved *r)
{
    rule_set_free(&r->set);
    diag_free(&r->diag);
    config_free(r->cfg);
    fake_plugin.default_rules = NULL;
}

static void test_points_decide(void)
{
    struct resolved r;
    char ids[512];
    resolve(&r, declared, "");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.diag.n, 0u);
    ids_of(&r.set, "d1", ids, sizeof ids);
    CU_ASSERT_STRING_EQUAL(ids, "map,derived,counter,stale-q,expr,suppressed,comm,from-q,from-dq");
    ids_of(&r.set, "d2", ids, sizeof ids);
    CU_ASSERT_STRING_EQUAL(ids, "map,derived,comm");   /* no q (nor dq from it), no counter e */
    resolved_free(&r);
}

/* An override is judged as merged: pointed at a point the device has, the
 * default applies; merely retuned, it still does not; neither is an error. */
static void test_overrides_judged_merged(void)
{
    struct resolved r;
    char ids[512];
    resolve(&r, declared,
            "rules = (\n"
            "  { id = \"stale-q\"; device = \"d2\"; point = \"p\"; },\n"
            "  { id = \"expr\"; device = \"d2\"; on_delay_s = 60; },\n"
            "  { id = \"stale-q\"; device = \"d1\"; intervals = 5; }\n"
            ");\n");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.diag.n, 0u);
    ids_of(&r.set, "d2", ids, sizeof ids);
    CU_ASSERT_STRING_EQUAL(ids, "map,derived,stale-q,comm");
    ids_of(&r.set, "d1", ids, sizeof ids);
    CU_ASSERT_STRING_EQUAL(ids, "map,derived,counter,stale-q,expr,suppressed,comm,from-q,from-dq");
    for (size_t i = 0; i < r.set.n; i++)
        if (strcmp(r.set.rules[i].id, "stale-q") == 0 && strcmp(r.set.rules[i].device_id, "d1") == 0)
            CU_ASSERT_DOUBLE_EQUAL(r.set.rules[i].intervals, 5.0, 0);
    resolved_free(&r);
}

/* A kind that declares nothing may derive any name: every default applies
 * to every device of the kind, as before kinds could declare. */
static void test_undeclared_kind(void)
{
    static const char bare[] =
        "(\n"
        "  { id = \"map\"; type = \"limit\"; point = \"p\"; high = 9.0; },\n"
        "  { id = \"other\"; type = \"state\"; point = \"zz\"; states = [ 1 ]; }\n"
        ")";
    struct resolved r;
    char ids[512];
    resolve(&r, bare, "");
    CU_ASSERT_EQUAL(r.rc, 0);
    ids_of(&r.set, "d2", ids, sizeof ids);
    CU_ASSERT_STRING_EQUAL(ids, "map,other");
    resolved_free(&r);
}

/* In the engine: a stale default for a point the device lacks would raise
 * an alarm for ever; left out, the device's ticks raise nothing. */
static void test_no_alarm_for_missing_points(void)
{
    fake_plugin.default_rules = declared;
    struct fx fx;
    memset(&fx, 0, sizeof fx);
    fx.kinds = &fake_kinds;
    CU_ASSERT_EQUAL_FATAL(fx_load_config(SITE DEVICES, &fx.cfg), 0);
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx, FX_S(0)), 0);
    const char *p[] = { "p" };
    double v[] = { 1.0 };
    for (int t = 0; t <= 600; t += 10) {
        fx_sample_n(&fx, "d2", FX_S(t), 1, p, v, NULL);
        rules_tick(fx.rules, FX_S(t + 5));
    }
    size_t d2_events = 0;   /* d1, never sampled, loses its communication */
    for (size_t i = 0; i < fx.n_events; i++)
        if (strcmp(fx.events[i].device, "d2") == 0) {
            fprintf(stderr, "\n  unexpected: %s/%s", fx.events[i].device, fx.events[i].rule);
            d2_events++;
        }
    CU_ASSERT_EQUAL(d2_events, 0u);
    fx_close(&fx);
    fake_plugin.default_rules = NULL;
}

/* The shipped kinds on the demo building's profiles and some of real
 * devices: each device gets the defaults it has the points for, and only
 * those. */
static void test_shipped_kinds_on_demo_devices(void)
{
    static const struct {
        const char *kind, *profile, *has, *lacks;
    } cases[] = {
        { "meter", "generic-submeter", "comm-loss,energy-stale,energy-counter-reset,energy-counter-stuck,"
          "after-hours-consumption,daily-energy,power-factor-low", "volume-stale,volume-counter-stuck,daily-volume,low-battery,meter-alarm" },
        { "meter", "generic-water-meter", "comm-loss,volume-stale,volume-counter-reset,volume-counter-stuck,daily-volume,low-battery",
          "energy-stale,energy-counter-stuck,after-hours-consumption,daily-energy,power-factor-low" },
        { "chiller", "generic-chiller",
          "comm-loss,chw-supply-high,chw-supply-spike,chw-delta-t-low,chiller-after-hours,chiller-alarm,cop-low,"
          "evap-approach-high,cond-approach-high",
          "cmd-status-mismatch" },
        { "boiler", "generic-boiler", "comm-loss,flue-temp-high,short-cycling,cmd-status-mismatch,burner-lockout", "" },
        { "pump", "generic-pump", "comm-loss,no-flow,drive-fault", "cmd-status-mismatch" },
        { "pump", "generic-vfd", "comm-loss,drive-fault", "no-flow,cmd-status-mismatch" },
        { "chiller", "trane-rtwd-pic", "comm-loss,evap-approach-high,cond-approach-high,chiller-after-hours",
          "cop-low,chw-delta-t-low,chiller-alarm" },
        { "boiler", "lochinvar-crest", "comm-loss,flue-temp-high,cmd-status-mismatch", "burner-lockout" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "site = { id = \"s\"; };\n"
                 "daemon = { plugin_dir = \"%s\"; profile_dir = \"%s/config/profiles\"; };\n" FX_BUS
                 "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; kind = \"%s\"; profile = \"%s\"; } );\n",
                 GW_TEST_PLUGIN_DIR, GW_SOURCE_DIR, cases[i].kind, cases[i].profile);
        struct gw_config *cfg = NULL;
        CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &cfg), 0);
        struct gw_kinds loaded;
        struct gw_diag diag = { 0 };
        struct rule_set set;
        CU_ASSERT_EQUAL(kinds_load(cfg, &loaded, &diag), 0);
        CU_ASSERT_EQUAL(rules_resolve(cfg, &loaded, &diag, &set), 0);
        CU_ASSERT_EQUAL(diag.n, 0u);
        char ids[1024], want[256];
        ids[0] = ',';
        ids_of(&set, "d", ids + 1, sizeof ids - 2);
        strcat(ids, ",");                                 /* ",a,b,": each id between commas */
        for (int pass = 0; pass < 2; pass++) {
            const char *list = pass ? cases[i].lacks : cases[i].has;
            for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",");
                snprintf(want, sizeof want, ",%.*s,", (int)len, p);
                bool found = strstr(ids, want) != NULL;
                if (found == (pass == 1))
                    fprintf(stderr, "\n  %s on %s: %.*s %s", cases[i].kind, cases[i].profile, (int)len, p,
                            pass ? "applies, but should not" : "missing");
                CU_ASSERT(found != (pass == 1));
                p += len + (p[len] == ',');
            }
        }
        rule_set_free(&set);
        diag_free(&diag);
        kinds_free(&loaded);
        config_free(cfg);
    }
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "a default applies where the device has its points", test_points_decide },
        { "overrides are judged as merged", test_overrides_judged_merged },
        { "a kind that declares nothing", test_undeclared_kind },
        { "no alarm for a point the device lacks", test_no_alarm_for_missing_points },
        { "the shipped kinds on shipped profiles", test_shipped_kinds_on_demo_devices },
    };
    return fx_main("rules: which kind defaults a device gets", tests, sizeof tests / sizeof *tests);
}
