/*
 * Rule configuration: every rule type's keys, what each type needs and
 * accepts, expressions rejected with their position, points checked
 * against the device's map (any name on a kind that derives points), each
 * problem at its FILE:LINE; and kind default rules, overridden per device
 * by site rules, checked with FILE:LINE of the site rule or of the kind's
 * text.
 *
 * Expected lines are not written down: an expectation names a substring
 * found on exactly one line of the text, and the line is counted.
 */
#include "rules_fixture.h"
#include "plugin.h"

#define SITE FX_SITE("UTC") FX_BUS
#define GENERIC_D FX_DEVICE("generic", "10")
#define CHILLER_D FX_DEVICE("chiller", "10")
/* A rule of device d on its own line, keys as given. */
#define RULE(keys) "rules = (\n  { id = \"r\"; device = \"d\"; " keys " }\n);\n"

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

struct expect {
    const char *at;            /* on the line holding this */
    const char *message;       /* contained in the line's message */
    const char *file;          /* NULL: the configuration file */
    const char *in_text;       /* the text `at` is looked for in, if not the configuration */
};

/* Each expectation matches one reported line; none is left over. */
static bool match(const char *what, const char *path, const char *text, const struct gw_diag *diag,
                  const struct expect *ex, size_t n)
{
    bool ok = diag->n == n, used[16] = { false };
    for (size_t i = 0; i < n && ok && n <= 16; i++) {
        char prefix[4200];
        int line = line_of(ex[i].in_text ? ex[i].in_text : text, ex[i].at);
        snprintf(prefix, sizeof prefix, "%s:%d: ", ex[i].file ? ex[i].file : path, line);
        bool found = false;
        for (size_t j = 0; j < diag->n && !found; j++)
            if (!used[j] && strncmp(diag->lines[j], prefix, strlen(prefix)) == 0 &&
                strstr(diag->lines[j] + strlen(prefix), ex[i].message))
                found = used[j] = true;
        if (!found)
            fprintf(stderr, "\n  %s: expected \"%s...%s\"", what, prefix, ex[i].message);
        ok = found && line > 0;
    }
    if (!ok) {
        fprintf(stderr, "\n  %s: %zu line(s) reported:\n", what, diag->n);
        for (size_t j = 0; j < diag->n; j++)
            fprintf(stderr, "    %s\n", diag->lines[j]);
    }
    return ok;
}

struct error_case {
    const char *name, *text;
    struct expect ex[4];
};

static size_t count(const struct expect *ex)
{
    size_t n = 0;
    while (n < 4 && ex[n].message)
        n++;
    return n;
}

static void run_config_errors(const struct error_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        CU_ASSERT_EQUAL_FATAL(write_temp_file(path, sizeof path, cases[i].text), 0);
        struct gw_config *cfg = NULL;
        struct gw_diag diag = { 0 };
        CU_ASSERT_EQUAL(config_load(path, &cfg, &diag), -EINVAL);
        CU_ASSERT(match(cases[i].name, path, cases[i].text, &diag, cases[i].ex, count(cases[i].ex)));
        config_free(cfg);
        diag_free(&diag);
    }
}

#define E(at_, msg_) { .at = (at_), .message = (msg_) }
#define AT_R "id = \"r\""

static void test_rule_keys(void)
{
    static const struct error_case cases[] = {
        { "unknown type", SITE GENERIC_D RULE("type = \"ratio\"; point = \"p\";"),
          { E("ratio", "rule 'r': type = \"ratio\" is not one of: limit, state, comm_loss, stale, rate, spike, "
                       "flatline, schedule, maintenance, expression, baseline") } },
        { "rate", SITE GENERIC_D RULE("type = \"rate\"; point = \"p\";"),
          { E(AT_R, "rule 'r': missing required key 'rate_per_min' for a rate rule") } },
        { "rate of 0", SITE GENERIC_D RULE("type = \"rate\"; point = \"p\"; rate_per_min = 0;"),
          { E(AT_R, "rule 'r': rate_per_min must be above 0") } },
        { "spike", SITE GENERIC_D RULE("type = \"spike\"; point = \"p\"; samples = 2;"),
          { E(AT_R, "rule 'r': missing required key 'jump' for a spike rule") } },
        { "spike tolerance", SITE GENERIC_D RULE("type = \"spike\"; point = \"p\"; jump = 2.0; tolerance = 3.0;"),
          { E(AT_R, "rule 'r': tolerance 3 must be below jump 2") } },
        { "flatline", SITE GENERIC_D RULE("type = \"flatline\"; point = \"p\"; tolerance = 0.1;"),
          { E(AT_R, "rule 'r': missing required key 'window_s' for a flatline rule") } },
        { "schedule", SITE GENERIC_D RULE("type = \"schedule\"; point = \"run\";"),
          { E(AT_R, "rule 'r': missing required key 'start' for a schedule rule"),
            E(AT_R, "rule 'r': missing required key 'end' for a schedule rule") } },
        { "schedule running twice", SITE GENERIC_D
          RULE("type = \"schedule\"; point = \"run\"; expr = \"p > 1\"; start = \"08:00\"; end = \"18:00\";"),
          { E(AT_R, "rule 'r': a schedule rule needs either point (running when not 0) or expr") } },
        { "schedule empty window", SITE GENERIC_D RULE("type = \"schedule\"; point = \"run\"; start = \"08:00\"; end = \"08:00\";"),
          { E(AT_R, "rule 'r': start and end must differ") } },
        { "schedule times", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"schedule\"; point = \"run\";\n"
          "    start = \"25:00\";\n    end = \"7pm\";\n    days = [ \"mon\", \"funday\" ]; }\n);\n",
          { E("25:00", "rule 'r': start must be a time \"HH:MM\" (00:00 to 23:59)"),
            E("7pm", "rule 'r': end must be a time \"HH:MM\" (00:00 to 24:00)"),
            E("funday", "rule 'r': days must be mon, tue, wed, thu, fri, sat, sun, workdays, weekends or daily") } },
        { "maintenance", SITE GENERIC_D RULE("type = \"maintenance\"; point = \"run\"; measure = \"run_hours\";"),
          { E(AT_R, "rule 'r': missing required key 'interval' for a maintenance rule") } },
        { "maintenance measure", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"maintenance\"; point = \"run\"; interval = 10;\n"
          "    measure = \"weeks\";\n    remind_at = 1.0; }\n);\n",
          { E("weeks", "rule 'r': measure = \"weeks\" is not one of: counter, run_hours, starts"),
            E("remind_at", "rule 'r': remind_at = 1 is out of range (0..0.99)") } },
        { "expression", SITE GENERIC_D RULE("type = \"expression\"; on_delay_s = 60;"),
          { E(AT_R, "rule 'r': missing required key 'expr' for a expression rule") } },
        { "baseline", SITE GENERIC_D RULE("type = \"baseline\"; point = \"p\"; weeks = 4;"),
          { E(AT_R, "rule 'r': a baseline rule needs sigma and/or percent") } },
        { "stale", SITE GENERIC_D RULE("type = \"stale\"; intervals = 5;"),
          { E(AT_R, "rule 'r': missing required key 'point' for a stale rule") } },
        { "a key of another type", SITE GENERIC_D RULE("type = \"limit\"; point = \"p\"; high = 1.0; window_s = 60;"),
          { E(AT_R, "rule 'r': window_s does not apply to a limit rule") } },
        { "comm loss of a point", SITE GENERIC_D RULE("type = \"comm_loss\"; point = \"p\";"),
          { E(AT_R, "rule 'r': point does not apply to a comm_loss rule") } },
        { "comm loss suppressed", SITE GENERIC_D RULE("type = \"comm_loss\"; suppress_when = \"run == 0\";"),
          { E(AT_R, "rule 'r': a comm_loss rule cannot be suppressed") } },
        { "no device", SITE GENERIC_D "rules = (\n  { id = \"r\"; type = \"comm_loss\"; }\n);\n",
          { E(AT_R, "rule 'r': missing required key 'device'") } },
        { "a bad id", SITE GENERIC_D "rules = (\n  { id = \"r/1\"; device = \"d\"; type = \"comm_loss\"; }\n);\n",
          { E("r/1", "rule 'r/1': id may hold only letters, digits, '-', '_' and '.'") } },
        { "twice on one device", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"comm_loss\"; },\n"
          "  { id = \"r\"; device = \"d\"; type = \"comm_loss\"; intervals = 5; }\n);\n",
          { E("intervals = 5", "rule 'r' is defined twice for device 'd' (first at line 7)") } },
    };
    run_config_errors(cases, sizeof cases / sizeof *cases);
}

static void test_expressions_and_points(void)
{
    static const struct error_case cases[] = {
        { "unbalanced", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"expression\";\n    expr = \"run and (p < 3\"; }\n);\n",
          { E("expr =", "rule 'r': expr \"run and (p < 3\": expected ')' to close '(' at 8, found the end (position 14)") } },
        { "suppress_when", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 1.0;\n"
          "    suppress_when = \"run +* 2\"; }\n);\n",
          { E("suppress_when", "rule 'r': suppress_when \"run +* 2\": expected an operand, found '*' (position 5)") } },
        { "not a string", SITE GENERIC_D
          "rules = (\n  { id = \"r\"; device = \"d\"; type = \"expression\";\n    expr = 5; }\n);\n",
          { E("expr = 5", "rule 'r': expr must be a string") } },
        { "point of a generic device", SITE GENERIC_D RULE("type = \"limit\"; point = \"cop\"; low = 3.0;"),
          { E(AT_R, "rule 'r': device 'd' has no point 'cop'") } },
        { "expression reads an unknown point", SITE GENERIC_D RULE("type = \"expression\"; expr = \"run and cop < 3\";"),
          { E(AT_R, "rule 'r': expr reads 'cop', not a point of device 'd'") } },
        { "suppress_when reads an unknown point", SITE GENERIC_D
          RULE("type = \"limit\"; point = \"p\"; high = 1.0; suppress_when = \"running == 0\";"),
          { E(AT_R, "rule 'r': suppress_when reads 'running', not a point of device 'd'") } },
        { "schedule expression reads an unknown point", SITE GENERIC_D
          RULE("type = \"schedule\"; expr = \"kw > 5\"; start = \"08:00\"; end = \"18:00\";"),
          { E(AT_R, "rule 'r': expr reads 'kw', not a point of device 'd'") } },
    };
    run_config_errors(cases, sizeof cases / sizeof *cases);

    /* A kind that derives points accepts names its map does not have. */
    struct gw_config *cfg = NULL;
    CU_ASSERT_EQUAL(fx_load_config(SITE CHILLER_D
                                   "rules = ( { id = \"cop-low\"; device = \"d\"; type = \"limit\"; point = \"cop\"; low = 3.5; },\n"
                                   "  { id = \"dt\"; device = \"d\"; type = \"expression\"; expr = \"run and chw_delta_t < 2.5\";\n"
                                   "    suppress_when = \"not running\"; } );\n", &cfg), 0);
    config_free(cfg);
}

/* One rule of each type loads, and the engine builds them all. */
static void test_every_type_valid(void)
{
    static const char text[] = SITE GENERIC_D
        "rules = (\n"
        "  { id = \"limit\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; low = 1.0; deadband = 0.5;\n"
        "    on_delay_s = 60; off_delay_s = 30; latching = true; severity = \"critical\"; message = \"p out of range\";\n"
        "    suppress_when = \"run == 0\"; description = \"an example\"; },\n"
        "  { id = \"state\"; device = \"d\"; type = \"state\"; point = \"q\"; states = [ 1, 3 ]; },\n"
        "  { id = \"comm\"; device = \"d\"; type = \"comm_loss\"; intervals = 5; },\n"
        "  { id = \"stale\"; device = \"d\"; type = \"stale\"; point = \"p\"; intervals = 10; },\n"
        "  { id = \"rate\"; device = \"d\"; type = \"rate\"; point = \"p\"; rate_per_min = 2.0; },\n"
        "  { id = \"spike\"; device = \"d\"; type = \"spike\"; point = \"p\"; jump = 5.0; samples = 2; tolerance = 1.0; },\n"
        "  { id = \"flat\"; device = \"d\"; type = \"flatline\"; point = \"p\"; window_s = 3600; tolerance = 0.05; },\n"
        "  { id = \"sched\"; device = \"d\"; type = \"schedule\"; point = \"run\"; days = \"workdays\";\n"
        "    start = \"07:30\"; end = \"24:00\"; grace_s = 1800; },\n"
        "  { id = \"svc\"; device = \"d\"; type = \"maintenance\"; point = \"run\"; measure = \"starts\"; interval = 500;\n"
        "    remind_at = 0.9; },\n"
        "  { id = \"expr\"; device = \"d\"; type = \"expression\"; expr = \"run and abs(p - q) < 3\"; on_delay_s = 3600; },\n"
        "  { id = \"base\"; device = \"d\"; type = \"baseline\"; point = \"p\"; sigma = 3.0; percent = 25.0; weeks = 4;\n"
        "    direction = \"above\"; min_coverage = 0.8; },\n"
        "  { id = \"off\"; device = \"d\"; type = \"comm_loss\"; enabled = false; }\n"
        ");\n";
    struct gw_config *cfg = NULL;
    CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &cfg), 0);
    CU_ASSERT_EQUAL_FATAL(cfg->n_rules, 12u);
    const struct gw_rule_cfg *limit = &cfg->rules[0], *sched = &cfg->rules[7], *base = &cfg->rules[10];
    CU_ASSERT(limit->latching);
    CU_ASSERT_EQUAL(limit->severity, GW_SEVERITY_CRITICAL);
    CU_ASSERT_STRING_EQUAL(limit->suppress_when, "run == 0");
    CU_ASSERT_EQUAL(sched->days, 0x3e);
    CU_ASSERT_EQUAL(sched->start_min, 450);
    CU_ASSERT_EQUAL(sched->end_min, 1440);
    CU_ASSERT_DOUBLE_EQUAL(sched->grace_s, 1800, 0);
    CU_ASSERT_EQUAL(base->direction, GW_DIRECTION_ABOVE);
    CU_ASSERT_EQUAL(base->weeks, 4);
    CU_ASSERT_EQUAL(cfg->rules[8].measure, GW_MEASURE_STARTS);
    CU_ASSERT_DOUBLE_EQUAL(cfg->rules[2].intervals, 5, 0);
    CU_ASSERT_DOUBLE_EQUAL(cfg->rules[3].intervals, 10, 0);
    struct gw_diag diag = { 0 };
    CU_ASSERT_EQUAL(rules_check(cfg, NULL, &diag), 0);
    CU_ASSERT_EQUAL(diag.n, 0u);
    diag_free(&diag);
    struct gw_rules *rules = NULL;
    CU_ASSERT_EQUAL_FATAL(rules_create(cfg, NULL, NULL, NULL, NULL, FX_S(0), &rules), 0);
    CU_ASSERT_EQUAL(rules_count(rules), 11u);  /* the disabled one is not built */
    rules_free(rules);
    config_free(cfg);
}

/* ---- kind default rules --------------------------------------------------- */

static const char fake_defaults[] =
    "(\n"
    "  { id = \"hi\"; type = \"limit\"; point = \"p\"; high = 9.0; severity = \"high\"; on_delay_s = 60; },\n"
    "  { id = \"st\"; type = \"state\"; point = \"q\"; states = [ 1 ]; },\n"
    "  { id = \"comm\"; type = \"comm_loss\"; }\n"
    ")";

static struct gw_plugin fake_plugin = { .abi_version = GW_PLUGIN_ABI_VERSION, .kind = "fake" };
static struct gw_kind fake_kind = { .name = "fake", .plugin = &fake_plugin };
static const struct gw_kinds fake_kinds = { .items = &fake_kind, .n = 1 };

#define TWO_FAKES                                                                                       \
    "devices = ( { id = \"d1\"; bus = \"b\"; unit = 1; kind = \"fake\"; interval_s = 10; " FX_POINTS " },\n" \
    "  { id = \"d2\"; bus = \"b\"; unit = 2; kind = \"fake\"; interval_s = 10; " FX_POINTS " } );\n"

static void test_defaults_and_overrides(void)
{
    fake_plugin.default_rules = fake_defaults;
    struct fx fx;
    memset(&fx, 0, sizeof fx);
    fx.kinds = &fake_kinds;
    CU_ASSERT_EQUAL_FATAL(fx_load_config(SITE TWO_FAKES
        "rules = (\n"
        "  { id = \"hi\"; device = \"d1\"; high = 8.0; },\n"                    /* a threshold for one device */
        "  { id = \"st\"; device = \"d2\"; enabled = false; },\n"               /* one default off */
        "  { id = \"hi\"; device = \"d2\"; type = \"state\"; point = \"q\"; states = [ 5 ]; },\n"  /* replaced */
        "  { id = \"own\"; device = \"d2\"; type = \"limit\"; point = \"p\"; low = 1.0; }\n"
        ");\n", &fx.cfg), 0);
    struct gw_diag diag = { 0 };
    CU_ASSERT_EQUAL(rules_check(fx.cfg, &fake_kinds, &diag), 0);
    CU_ASSERT_EQUAL(diag.n, 0u);
    diag_free(&diag);
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx, FX_S(0)), 0);
    CU_ASSERT_EQUAL(rules_count(fx.rules), 6u);

    const char *p[] = { "p", "q" };
    double v[] = { 8.5, 0 };
    fx_sample_n(&fx, "d1", FX_S(0), 2, p, v, NULL);
    fx_sample_n(&fx, "d1", FX_S(60), 2, p, v, NULL);   /* the default's on-delay, the site's limit */
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 1u);
    CU_ASSERT_STRING_EQUAL(fx.events[0].device, "d1");
    CU_ASSERT_STRING_EQUAL(fx.events[0].rule, "hi");
    CU_ASSERT_EQUAL(fx.events[0].severity, GW_SEVERITY_HIGH);  /* kept from the default */
    CU_ASSERT_DOUBLE_EQUAL(fx.events[0].limit, 8.0, 0);
    v[1] = 1;
    fx_sample_n(&fx, "d2", FX_S(0), 2, p, v, NULL);    /* d2: 8.5 is fine (state rule), st is off */
    CU_ASSERT_EQUAL(fx.n_events, 1u);
    v[1] = 5;
    fx_sample_n(&fx, "d2", FX_S(10), 2, p, v, NULL);
    CU_ASSERT_EQUAL_FATAL(fx.n_events, 2u);
    CU_ASSERT_STRING_EQUAL(fx.events[1].rule, "hi");
    CU_ASSERT_STRING_EQUAL(fx.events[1].device, "d2");
    rules_tick(fx.rules, FX_S(100));                   /* the default comm_loss of both */
    CU_ASSERT_EQUAL(fx.n_events, 2u + 2u + 2u);        /* each device: comm, and its active alarm suppressed */
    fx_close(&fx);
}

struct defaults_case {
    const char *name, *defaults, *site_rules;
    struct expect ex[3];
};

static void test_default_errors(void)
{
    static const char *const origin = "kind 'fake' default rules";
    static const struct defaults_case cases[] = {
        { "override of nothing", fake_defaults, "rules = (\n  { id = \"zz\"; device = \"d1\"; high = 8.0; }\n);\n",
          { E("zz", "rule 'zz': no type given, and kind 'fake' of device 'd1' has no default rule 'zz' to override") } },
        { "an override that breaks the rule", fake_defaults,
          "rules = (\n  { id = \"hi\"; device = \"d1\";\n    low = 10.0; }\n);\n",
          { E("id = \"hi\"", "rule 'hi': low 10 must be below high 9") } },
        { "an override with a key of another type", fake_defaults,
          "rules = (\n  { id = \"st\"; device = \"d2\"; jump = 1.0; }\n);\n",
          { E("id = \"st\"", "rule 'st': jump does not apply to a state rule") } },
        { "syntax", "(\n { id = = \"x\"; }\n)", "",
          { { .at = "= =", .message = "syntax error", .file = origin, .in_text = "(\n { id = = \"x\"; }\n)" } } },
        { "a device in a default", "( { id = \"x\"; device = \"d\"; type = \"comm_loss\"; } )", "",
          { { .at = "x", .message = "rule 'x': a kind's default rule names no device", .file = origin,
              .in_text = "( { id = \"x\"; device = \"d\"; type = \"comm_loss\"; } )" } } },
        { "no type in a default", "(\n  { id = \"x\"; point = \"p\"; }\n)", "",
          { { .at = "x", .message = "rule 'x': missing required key 'type'", .file = origin,
              .in_text = "(\n  { id = \"x\"; point = \"p\"; }\n)" } } },
        { "an incomplete default", "(\n\n  { id = \"x\"; type = \"rate\"; point = \"p\"; }\n)", "",
          { { .at = "x", .message = "rule 'x': missing required key 'rate_per_min' for a rate rule", .file = origin,
              .in_text = "(\n\n  { id = \"x\"; type = \"rate\"; point = \"p\"; }\n)" } } },
        { "not a list", "{ id = \"x\"; }", "",
          { { .at = "x", .message = "rules must be a list", .file = origin, .in_text = "{ id = \"x\"; }" } } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fake_plugin.default_rules = cases[i].defaults;
        char text[2048], path[4096];
        snprintf(text, sizeof text, "%s%s%s", SITE, TWO_FAKES, cases[i].site_rules);
        CU_ASSERT_EQUAL_FATAL(write_temp_file(path, sizeof path, text), 0);
        struct gw_config *cfg = NULL;
        struct gw_diag diag = { 0 };
        CU_ASSERT_EQUAL_FATAL(config_load(path, &cfg, &diag), 0);  /* overrides are checked with the kinds */
        CU_ASSERT_EQUAL(rules_check(cfg, &fake_kinds, &diag), -EINVAL);
        CU_ASSERT(match(cases[i].name, path, text, &diag, cases[i].ex, count(cases[i].ex)));
        struct gw_rules *rules = (struct gw_rules *)1;
        CU_ASSERT_EQUAL(rules_create(cfg, &fake_kinds, NULL, NULL, NULL, FX_S(0), &rules), -EINVAL);
        CU_ASSERT_PTR_NULL(rules);
        diag_free(&diag);
        config_free(cfg);
    }

    /* Without the kind's defaults, a rule without type overrides nothing. */
    struct gw_config *cfg = NULL;
    CU_ASSERT_EQUAL_FATAL(fx_load_config(SITE GENERIC_D RULE("high = 1.0;"), &cfg), 0);
    struct gw_diag diag = { 0 };
    CU_ASSERT_EQUAL(rules_check(cfg, NULL, &diag), -EINVAL);
    CU_ASSERT_EQUAL_FATAL(diag.n, 1u);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.lines[0], "rule 'r': no type given, and kind 'generic' of device 'd'"));
    diag_free(&diag);
    config_free(cfg);
    fake_plugin.default_rules = NULL;
}

/* The kinds shipped with greenwatch: their default rules parse, check
 * and build for a device of each kind. */
static void test_shipped_defaults(void)
{
    static const char *const kinds[] = { "meter", "chiller", "boiler", "pump", "generic" };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "site = { id = \"s\"; };\n"
                 "daemon = { plugin_dir = \"%s\"; };\n" FX_BUS
                 "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; kind = \"%s\"; " FX_POINTS " } );\n",
                 GW_TEST_PLUGIN_DIR, kinds[i]);
        struct gw_config *cfg = NULL;
        CU_ASSERT_EQUAL_FATAL(fx_load_config(text, &cfg), 0);
        struct gw_kinds loaded;
        struct gw_diag diag = { 0 };
        CU_ASSERT_EQUAL(kinds_load(cfg, &loaded, &diag), 0);
        CU_ASSERT_EQUAL(rules_check(cfg, &loaded, &diag), 0);
        for (size_t j = 0; j < diag.n; j++)
            fprintf(stderr, "\n  %s: %s", kinds[i], diag.lines[j]);
        CU_ASSERT_EQUAL(diag.n, 0u);
        struct gw_rules *rules = NULL;
        CU_ASSERT_EQUAL(rules_create(cfg, &loaded, NULL, NULL, NULL, FX_S(0), &rules), 0);
        const struct gw_plugin *plugin = kinds_find(&loaded, kinds[i]);
        if (rules && plugin)
            CU_ASSERT_EQUAL(rules_count(rules) > 0, plugin->default_rules != NULL);
        rules_free(rules);
        diag_free(&diag);
        kinds_free(&loaded);
        config_free(cfg);
    }
}

int main(void)
{
    static const struct fx_test tests[] = {
        { "rule keys per type, at FILE:LINE", test_rule_keys },
        { "expressions and points", test_expressions_and_points },
        { "one rule of each type", test_every_type_valid },
        { "kind defaults and site overrides", test_defaults_and_overrides },
        { "errors in defaults and overrides", test_default_errors },
        { "the shipped kinds' default rules", test_shipped_defaults },
    };
    return fx_main("rules: configuration", tests, sizeof tests / sizeof *tests);
}
