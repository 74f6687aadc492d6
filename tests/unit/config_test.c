/*
 * Configuration tests: every class of error config_load reports, each
 * checked for its exact FILE:LINE and message, and that nothing else is
 * reported; defaults and their order of precedence; paths relative to the
 * configuration file; the kind plugins kinds_load accepts and refuses; the
 * shipped profiles.
 *
 * Expected lines are never written down: an expectation names a substring
 * that occurs on exactly one line of the file, and the line is counted.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"
#include "harness.h"
#include "planner.h"
#include "plugin.h"
#include "profile.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* ---- building configurations ------------------------------------------ */

#define SITE "site = { id = \"t\"; };\n"
#define PROFILE_DIR "daemon = { profile_dir = \"profiles\"; };\n"
#define BUS "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } );\n"
#define RTU_BUS "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; } );\n"
#define POINT_P "points = ( { name = \"p\"; table = \"holding\"; address = 0; } );"
/* One device "d" on bus "b" with point "p"; keys may add to it. */
#define DEVICE(keys) "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; " keys "\n  " POINT_P " } );\n"
/* Device "d" with only the given keys besides id and bus. */
#define DEVICE_KEYS(keys) "devices = ( { id = \"d\"; bus = \"b\"; " keys " } );\n"
/* Device "d" with the given inline points, one per line. */
#define INLINE(points) "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; points = (\n" points "\n); } );\n"
#define RULE(keys) "rules = ( { id = \"r\"; device = \"d\"; " keys " } );\n"
#define BASE SITE BUS DEVICE("")

/* Profiles the cases refer to, in <tmp>/profiles. */
static const char profile_meter[] =
    "# a valid profile with its own limits\n"
    "profile = {\n"
    "  id = \"meter\";\n"
    "  max_read_registers = 60;\n"
    "  max_gap_registers = 4;\n"
    "  points = (\n"
    "    { name = \"energy\"; table = \"input\"; address = 0; type = \"uint32\"; },\n"
    "    { name = \"power\"; table = \"input\"; address = 2; type = \"float32\"; },\n"
    "    { name = \"serial\"; table = \"holding\"; address = 100; type = \"string\"; count = 40; }\n"
    "  );\n"
    "};\n";
static const char profile_mismatch[] =
    "profile = {\n"
    "  id = \"some-other-id\";\n"
    "  points = ( { name = \"x\"; table = \"input\"; address = 0; } );\n"
    "};\n";
static const char profile_overlap[] =
    "profile = {\n"
    "  id = \"overlap\";\n"
    "  points = (\n"
    "    { name = \"a\"; table = \"input\"; address = 0; type = \"float32\"; },\n"
    "    { name = \"b\"; table = \"input\"; address = 1; }\n"
    "  );\n"
    "};\n";
static const char profile_syntax[] =
    "profile = {\n"
    "  id = \"syntax\";\n"
    "  points = ( { name = \"x\" table = = \"input\"; } );\n"
    "};\n";
static const char profile_nogroup[] =
    "points = ( { name = \"x\"; table = \"input\"; address = 0; } );\n";
static const char profile_typo[] =
    "profile = {\n"
    "  id = \"typo\";\n"
    "  pionts = ( { name = \"x\"; table = \"input\"; address = 0; } );\n"
    "};\n";
static const char profile_limit[] =
    "profile = {\n"
    "  id = \"limit\";\n"
    "  max_read_registers = 126;\n"
    "  points = ( { name = \"x\"; table = \"input\"; address = 0; } );\n"
    "};\n";

static const struct {
    const char *name;
    const char *text;
} profiles[] = {
    { "profiles/meter.conf", profile_meter },
    { "profiles/mismatch.conf", profile_mismatch },
    { "profiles/overlap.conf", profile_overlap },
    { "profiles/syntax.conf", profile_syntax },
    { "profiles/nogroup.conf", profile_nogroup },
    { "profiles/typo.conf", profile_typo },
    { "profiles/limit.conf", profile_limit },
};

static int write_profiles(void)
{
    for (size_t i = 0; i < N(profiles); i++)
        if (write_temp_file_named(profiles[i].name, profiles[i].text, NULL, 0))
            return -1;
    return 0;
}

/* ---- loading and checking ---------------------------------------------- */

struct result {
    int rc;
    struct gw_config *cfg;
    struct gw_diag diag;
    char path[PATH_MAX];
    const char *text;
};

static void load_at(struct result *r, const char *relpath, const char *text)
{
    memset(r, 0, sizeof *r);
    r->text = text;
    int rc = relpath ? write_temp_file_named(relpath, text, r->path, sizeof r->path)
                     : write_temp_file(r->path, sizeof r->path, text);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    r->rc = config_load(r->path, &r->cfg, &r->diag);
}

static void load(struct result *r, const char *text)
{
    load_at(r, NULL, text);
}

static void result_free(struct result *r)
{
    config_free(r->cfg);
    diag_free(&r->diag);
    r->cfg = NULL;
}

/* The 1-based line of the one line holding needle, or -1 if needle is not
 * there or on more than one line (a broken expectation). */
static int line_of(const char *text, const char *needle)
{
    const char *hit = text ? strstr(text, needle) : NULL;
    if (!hit || strstr(hit + 1, needle))
        return -1;
    int line = 1;
    for (const char *c = text; c < hit; c++)
        line += *c == '\n';
    return line;
}

struct expect {
    const char *at;         /* on the line holding this; NULL: no line number */
    const char *message;    /* contained in what follows "FILE:LINE: " */
    const char *first_at;   /* "defined twice": the first definition's line holds this */
    const char *in;         /* the file, under the temporary directory, if not the configuration */
    const char *in_text;
};

static size_t count_expect(const struct expect *e, size_t max)
{
    size_t n = 0;
    while (n < max && e[n].message)
        n++;
    return n;
}

static void print_diag(const char *what, const struct gw_diag *diag)
{
    fprintf(stderr, "\n  %s: %zu line(s) reported:\n", what, diag->n);
    for (size_t i = 0; i < diag->n; i++)
        fprintf(stderr, "    %s\n", diag->lines[i]);
}

/* Each expectation matches a distinct reported line, and no line is left
 * over.  Returns true if all matched. */
static bool match_diag(const char *what, const char *file, const char *text, const struct gw_diag *diag,
                       const struct expect *ex, size_t n)
{
    bool used[64] = { false };
    bool ok = diag->n == n && n < N(used);
    for (size_t i = 0; i < n && ok; i++) {
        char path[PATH_MAX], prefix[PATH_MAX + 32], twice[48] = "";
        const char *in_text = ex[i].in ? ex[i].in_text : text;
        if (ex[i].in)
            CU_ASSERT_EQUAL_FATAL(temp_path(path, sizeof path, ex[i].in), 0);
        const char *in_file = ex[i].in ? path : file;
        int line = ex[i].at ? line_of(in_text, ex[i].at) : 0;
        if (line < 0) {
            fprintf(stderr, "\n  %s: '%s' is not on exactly one line\n", what, ex[i].at);
            ok = false;
            break;
        }
        if (line)
            snprintf(prefix, sizeof prefix, "%s:%d: ", in_file, line);
        else
            snprintf(prefix, sizeof prefix, "%s: ", in_file);
        if (ex[i].first_at)
            snprintf(twice, sizeof twice, "(first at line %d)", line_of(text, ex[i].first_at));
        bool found = false;
        for (size_t j = 0; j < diag->n && !found; j++) {
            const char *l = diag->lines[j];
            if (used[j] || strncmp(l, prefix, strlen(prefix)) != 0)
                continue;
            if (strstr(l + strlen(prefix), ex[i].message) && strstr(l, twice))
                found = used[j] = true;
        }
        if (!found)
            fprintf(stderr, "\n  %s: expected \"%s...%s %s\"\n", what, prefix, ex[i].message, twice);
        ok = found;
    }
    if (!ok)
        print_diag(what, diag);
    return ok;
}

static void expect_errors(const char *what, const struct result *r, const struct expect *ex, size_t n)
{
    CU_ASSERT_EQUAL(r->rc, -EINVAL);
    CU_ASSERT_PTR_NULL(r->cfg);
    CU_ASSERT(match_diag(what, r->path, r->text, &r->diag, ex, n));
}

static void expect_valid(const char *what, const struct result *r)
{
    CU_ASSERT_EQUAL(r->rc, 0);
    CU_ASSERT_PTR_NOT_NULL(r->cfg);
    CU_ASSERT_EQUAL(r->diag.n, 0u);
    if (r->rc || r->diag.n)
        print_diag(what, &r->diag);
}

/* One expectation, for tables. */
#define E(at_, message_, ...) { .at = (at_), .message = (message_), __VA_ARGS__ }

struct error_case {
    const char *name;
    const char *text;
    struct expect expect[6];
};

static void run_error_cases(const struct error_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct result r;
        load(&r, cases[i].text);
        expect_errors(cases[i].name, &r, cases[i].expect, count_expect(cases[i].expect, 6));
        result_free(&r);
    }
}

struct valid_case {
    const char *name;
    const char *text;
};

static void run_valid_cases(const struct valid_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct result r;
        load(&r, cases[i].text);
        expect_valid(cases[i].name, &r);
        result_free(&r);
    }
}

/* ---- syntax, unknown keys, types, required keys ------------------------ */

static void test_syntax_error(void)
{
    static const struct error_case cases[] = {
        { "syntax error", SITE BUS "devices = ( { id = \"d\"; bus = \"b\"; unit = = 1; } );\n",
          { E("unit = = 1", "syntax error") } },
        { "unbalanced brackets", SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; } ;\n"
                                 "devices = ( );\n",
          { E("tcp = \"127.0.0.1:1502\"; } ;", "syntax error") } },
    };
    run_error_cases(cases, N(cases));

    /* A file that is not there: no line, and nothing is allocated. */
    struct gw_diag diag = { 0 };
    struct gw_config *cfg = (struct gw_config *)1;
    char path[PATH_MAX];
    CU_ASSERT_EQUAL_FATAL(temp_path(path, sizeof path, "no-such.conf"), 0);
    CU_ASSERT_EQUAL(config_load(path, &cfg, &diag), -EINVAL);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL_FATAL(diag.n, 1u);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: cannot read configuration: No such file or directory", path);
    CU_ASSERT_STRING_EQUAL(diag.lines[0], want);
    diag_free(&diag);
}

static void test_unknown_keys(void)
{
    static const struct error_case cases[] = {
        { "top level", BASE "mqt = { uri = \"tcp://127.0.0.1:1883\"; };\n",
          { E("mqt =", "configuration: unknown key 'mqt' (did you mean 'mqtt'?)") } },
        { "site", "site = { id = \"t\";\n nmae = \"x\"; };\n" BUS DEVICE(""),
          { E("nmae", "site: unknown key 'nmae' (did you mean 'name'?)") } },
        { "daemon", SITE "daemon = { log_levle = \"info\"; };\n" BUS DEVICE(""),
          { E("log_levle", "daemon: unknown key 'log_levle' (did you mean 'log_level'?)") } },
        { "bus", SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\";\n timout_ms = 100; } );\n" DEVICE(""),
          { E("timout_ms", "bus 'b': unknown key 'timout_ms' (did you mean 'timeout_ms'?)") } },
        { "device", SITE BUS DEVICE("\n intervl_s = 5;"),
          { E("intervl_s", "device 'd': unknown key 'intervl_s' (did you mean 'interval_s'?)") } },
        { "point", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = 0;\n scal = 2.0; }"),
          { E("scal =", "point 1: unknown key 'scal' (did you mean 'scale'?)") } },
        { "hole", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1;\n"
          "  holes = ( { table = \"input\"; form = 10; to = 20; } );\n"
          "  " POINT_P " } );\n",
          { E("form = 10", "hole: unknown key 'form' (did you mean 'from'?)"),
            E("form = 10", "hole: missing required key 'from'") } },
        { "rule", BASE RULE("type = \"limit\"; point = \"p\"; high = 1.0;\n deadbnd = 0.5;"),
          { E("deadbnd", "rule 'r': unknown key 'deadbnd' (did you mean 'deadband'?)") } },
        { "tag-like key in a device", SITE BUS DEVICE("\n colour = \"red\";"),
          { E("colour", "device 'd': unknown key 'colour'") } },
    };
    run_error_cases(cases, N(cases));

    /* Nothing close: no suggestion is made up. */
    struct result r;
    load(&r, SITE BUS DEVICE("\n colour = \"red\";"));
    CU_ASSERT_EQUAL_FATAL(r.diag.n, 1u);
    CU_ASSERT_PTR_NULL(strstr(r.diag.lines[0], "did you mean"));
    result_free(&r);
}

static void test_wrong_types(void)
{
    static const struct error_case cases[] = {
        { "integer given as a string", SITE BUS DEVICE_KEYS("unit = \"1\"; " POINT_P),
          { E("unit = \"1\"", "device 'd': unit must be an integer") } },
        { "number given as a string", SITE BUS DEVICE("interval_s = \"5\";"),
          { E("interval_s = \"5\"", "device 'd': interval_s must be a number") } },
        { "bool given as an integer", SITE BUS DEVICE("enabled = 1;"),
          { E("enabled = 1", "device 'd': enabled must be true or false") } },
        { "integer given as a float", SITE "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; baud = 9600.0; } );\n" DEVICE(""),
          { E("baud = 9600.0", "bus 'b': baud must be an integer") } },
        { "enum outside its choices", SITE "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; parity = \"X\"; } );\n" DEVICE(""),
          { E("parity", "bus 'b': parity = \"X\" is not one of: N, E, O") } },
        { "string given as a number", SITE "buses = ( { id = \"b\"; tcp = 1502; } );\n" DEVICE(""),
          { E("tcp = 1502", "tcp must be a string \"host:port\"") } },
        { "site not a group", "site = \"t\";\n" BUS DEVICE(""),
          { E("site = \"t\"", "site must be a group { ... }") } },
        { "buses not a list", SITE "buses = { id = \"b\"; tcp = \"127.0.0.1:1502\"; };\n" DEVICE(""),
          { E("buses = {", "buses must be a list ( { ... }, { ... } )"),
            E("id = \"d\"", "device 'd': unknown bus 'b'") } },
        { "point address as a string", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = \"0\"; }"),
          { E("address = \"0\"", "point 1: address must be an integer") } },
        { "tag not a string", SITE BUS DEVICE("tags = { building = 5; };"),
          { E("building = 5", "tag 'building' must be a non-empty string") } },
        { "reserved tag", SITE BUS DEVICE("tags = { site = \"x\"; };"),
          { E("site = \"x\"", "tag 'site' is set by greenwatch itself") } },
        { "rule limit as a string", BASE RULE("type = \"limit\"; point = \"p\"; low = 1.0;\n high = \"9\";"),
          { E("high = \"9\"", "rule 'r': high must be a number") } },
        { "rule severity", BASE RULE("type = \"limit\"; point = \"p\"; high = 1.0;\n severity = \"urgent\";"),
          { E("urgent", "rule 'r': severity = \"urgent\" is not one of: critical, high, medium, low") } },
        { "sentinel not a list", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = 0; sentinel = 65535; }"),
          { E("sentinel", "sentinel must be a list of 1 to 8 raw values") } },
    };
    run_error_cases(cases, N(cases));
}

static void test_missing_required(void)
{
    static const struct error_case cases[] = {
        { "device unit", SITE BUS DEVICE_KEYS(POINT_P),
          { E("id = \"d\"", "device 'd': missing required key 'unit'") } },
        /* A unit never given is not also "unit 0 on a serial line", nor
         * the same unit as another device without one. */
        { "device unit on a serial line", SITE RTU_BUS
          "devices = ( { id = \"d\"; bus = \"b\"; " POINT_P " },\n"
          "  { id = \"e\"; bus = \"b\"; unit = \"2\"; " POINT_P " } );\n",
          { E("id = \"d\"", "device 'd': missing required key 'unit'"),
            E("unit = \"2\"", "device 'e': unit must be an integer") } },
        { "site id", "site = { name = \"T\"; };\n" BUS DEVICE(""),
          { E("site = {", "site: missing required key 'id'") } },
        { "point table", SITE BUS INLINE("{ name = \"p\"; address = 0; }"),
          { E("name = \"p\"", "point 1: missing required key 'table'") } },
        { "rule point", BASE RULE("type = \"limit\"; high = 1.0;"),
          { E("id = \"r\"", "rule 'r': missing required key 'point'") } },
        { "mqtt uri", BASE "mqtt = { qos = 1; };\n",
          { E("mqtt = {", "mqtt: missing required key 'uri'") } },
        { "bus id", SITE "buses = ( { tcp = \"127.0.0.1:1502\"; } );\n" DEVICE(""),
          { E("tcp = \"127.0.0.1:1502\"", "bus 1: missing required key 'id'"),
            E("id = \"d\"", "device 'd': unknown bus 'b'") } },
        /* The root has no line: the message names the file alone. */
        { "site", BUS DEVICE(""),
          { E(NULL, "configuration: missing required key 'site'") } },
        { "devices", SITE BUS,
          { E(NULL, "configuration: missing required key 'devices'") } },
    };
    run_error_cases(cases, N(cases));
}

/* ---- ranges ------------------------------------------------------------ */

static void test_out_of_range(void)
{
    static const struct error_case cases[] = {
        { "unit 256 on a serial line", SITE RTU_BUS DEVICE_KEYS("unit = 256; " POINT_P),
          { E("unit = 256", "device 'd': unit = 256 is out of range (0..255)") } },
        { "unit 248 on a serial line", SITE RTU_BUS DEVICE_KEYS("unit = 248; " POINT_P),
          { E("id = \"d\"", "device 'd': unit 248 is allowed only for a device alone on a TCP endpoint (use 1..247)") } },
        { "unit 248 on a shared TCP endpoint", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 248; " POINT_P " },\n"
          "  { id = \"e\"; bus = \"b\"; unit = 2; " POINT_P " } );\n",
          { E("id = \"d\"", "device 'd': unit 248 is allowed only for a device alone on a TCP endpoint") } },
        { "interval 0", SITE BUS DEVICE("interval_s = 0;"),
          { E("interval_s = 0", "device 'd': interval_s = 0 is out of range (0.1..86400)") } },
        { "negative interval", SITE BUS DEVICE("interval_s = -5.0;"),
          { E("interval_s = -5.0", "device 'd': interval_s = -5 is out of range (0.1..86400)") } },
        { "bus timeout", SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; timeout_ms = 5; } );\n" DEVICE(""),
          { E("timeout_ms = 5", "bus 'b': timeout_ms = 5 is out of range (10..60000)") } },
        { "device timeout", SITE BUS DEVICE("timeout_ms = 60001;"),
          { E("timeout_ms = 60001", "device 'd': timeout_ms = 60001 is out of range (10..60000)") } },
        { "baud", SITE "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; baud = 100; } );\n" DEVICE(""),
          { E("baud = 100", "bus 'b': baud = 100 is out of range (300..921600)") } },
        { "stop bits", SITE "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; stop_bits = 3; } );\n" DEVICE(""),
          { E("stop_bits = 3", "bus 'b': stop_bits = 3 is out of range (1..2)") } },
        { "qos 3", BASE "mqtt = { uri = \"tcp://127.0.0.1:1883\";\n qos = 3; };\n",
          { E("qos = 3", "mqtt: qos = 3 is out of range (0..2)") } },
        { "device max_read_registers 126", SITE PROFILE_DIR BUS
          DEVICE_KEYS("unit = 1; profile = \"meter\";\n max_read_registers = 126;"),
          { E("max_read_registers = 126", "device 'd': max_read_registers = 126 is out of range (1..125)") } },
        /* Reported once, though both the device and its inline map read it. */
        { "inline max_read_registers 126", SITE BUS DEVICE("\n max_read_registers = 126;"),
          { E("max_read_registers = 126", "max_read_registers = 126 is out of range (1..125)") } },
        { "profile max_read_registers 126", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"limit\";"),
          { E("max_read_registers = 126", "profile: max_read_registers = 126 is out of range (1..125)", .in = "profiles/limit.conf", .in_text = profile_limit) } },
        { "max_read_bits 0", SITE BUS DEVICE("max_read_bits = 0;"),
          { E("max_read_bits = 0", "max_read_bits = 0 is out of range (1..2000)") } },
        { "address 65536", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = 65536; }"),
          { E("address = 65536", "point 1: address = 65536 is out of range (0..65535)") } },
        { "bit 16", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = 0; type = \"bit\"; bit = 16; }"),
          { E("bit = 16", "point 1: bit = 16 is out of range (0..15)") } },
        { "string of 65 registers", SITE BUS INLINE("{ name = \"p\"; table = \"holding\"; address = 0; type = \"string\"; count = 65; }"),
          { E("count = 65", "point 1: count = 65 is out of range (1..64)") } },
        { "negative floor area", "site = { id = \"t\"; floor_area_m2 = -1.0; };\n" BUS DEVICE(""),
          { E("floor_area_m2", "site: floor_area_m2 = -1 is out of range (0..1e+08)") } },
        { "tcp port 0", SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:0\"; } );\n" DEVICE(""),
          { E("tcp = ", "tcp = \"127.0.0.1:0\" is not host:port with a port 1..65535") } },
        { "tcp port not a number", SITE "buses = ( { id = \"b\"; tcp = \"plc:50x\"; } );\n" DEVICE(""),
          { E("tcp = ", "tcp = \"plc:50x\" is not host:port") } },
        { "tcp without host", SITE "buses = ( { id = \"b\"; tcp = \":502\"; } );\n" DEVICE(""),
          { E("tcp = ", "tcp = \":502\" is not host:port") } },
        { "two buses with bad endpoints are not the same endpoint", SITE
          "buses = ( { id = \"b\"; tcp = \"h:0\"; },\n"
          "  { id = \"c\"; tcp = \"h:0\"; } );\n" DEVICE(""),
          { E("id = \"b\"", "tcp = \"h:0\" is not host:port"),
            E("id = \"c\"", "tcp = \"h:0\" is not host:port") } },
        { "tcp with junk after an IPv6 address", SITE "buses = ( { id = \"b\"; tcp = \"[::1]x502\"; } );\n" DEVICE(""),
          { E("tcp = ", "tcp = \"[::1]x502\" is not host:port") } },
    };
    run_error_cases(cases, N(cases));
}

/* Unit 0 (and the reserved 248..255, e.g. 255, which Modbus TCP suggests
 * for a device reached directly) is accepted from a TCP endpoint serving
 * that device alone. */
static void test_unit_zero(void)
{
    static const struct valid_case valid[] = {
        { "unit 0 alone on TCP", SITE BUS DEVICE_KEYS("unit = 0; " POINT_P) },
        { "unit 255 alone on TCP", SITE BUS DEVICE_KEYS("unit = 255; " POINT_P) },
        { "units 1 and 247 on a serial line", SITE RTU_BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; " POINT_P " },\n"
          "  { id = \"e\"; bus = \"b\"; unit = 247; " POINT_P " } );\n" },
    };
    run_valid_cases(valid, N(valid));

    static const struct error_case cases[] = {
        { "unit 0 with a second device", SITE BUS
          "devices = ( { id = \"e\"; bus = \"b\"; unit = 1; " POINT_P " },\n"
          "  { id = \"d\"; bus = \"b\"; unit = 0; " POINT_P " } );\n",
          { E("id = \"d\"", "device 'd': unit 0 is allowed only for a device alone on a TCP endpoint (use 1..247)") } },
        { "unit 0 on a serial line", SITE RTU_BUS DEVICE_KEYS("unit = 0; " POINT_P),
          { E("id = \"d\"", "device 'd': unit 0 is allowed only for a device alone on a TCP endpoint") } },
        { "duplicate bus and unit", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 7; " POINT_P " },\n"
          "  { id = \"e\"; bus = \"b\"; unit = 7; " POINT_P " } );\n",
          { E("id = \"e\"", "device 'e': bus 'b' unit 7 is already device 'd'") } },
    };
    run_error_cases(cases, N(cases));

    /* The same unit on two buses is two devices. */
    struct result r;
    load(&r, SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; }, { id = \"c\"; tcp = \"127.0.0.1:1503\"; } );\n"
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 7; " POINT_P " },\n"
             "  { id = \"e\"; bus = \"c\"; unit = 7; " POINT_P " } );\n");
    expect_valid("same unit on two buses", &r);
    if (r.cfg) {
        CU_ASSERT_EQUAL(r.cfg->devices[0].bus_index, 0u);
        CU_ASSERT_EQUAL(r.cfg->devices[1].bus_index, 1u);
    }
    result_free(&r);
}

/* ---- references and duplicates ----------------------------------------- */

static void test_references(void)
{
    static const struct error_case cases[] = {
        { "unknown bus", SITE BUS "devices = ( { id = \"d\"; bus = \"nope\"; unit = 1; " POINT_P " } );\n",
          { E("id = \"d\"", "device 'd': unknown bus 'nope'") } },
        { "unknown profile", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"nope\";"),
          { E("id = \"d\"", "device 'd': unknown profile 'nope' (cannot read "),
            E("id = \"d\"", "profiles/nope.conf: No such file or directory)") } },
        { "profile id with a slash", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"../meter\";"),
          { E("id = \"d\"", "device 'd': profile '../meter' is not a valid profile id") } },
    };
    /* Both expectations of "unknown profile" describe one line. */
    for (size_t i = 0; i < N(cases); i++) {
        struct result r;
        load(&r, cases[i].text);
        size_t n = count_expect(cases[i].expect, 6);
        if (n == 2) {
            CU_ASSERT_EQUAL(r.rc, -EINVAL);
            CU_ASSERT_EQUAL_FATAL(r.diag.n, 1u);
            char prefix[PATH_MAX + 16];
            snprintf(prefix, sizeof prefix, "%s:%d: ", r.path, line_of(r.text, cases[i].expect[0].at));
            CU_ASSERT_EQUAL(strncmp(r.diag.lines[0], prefix, strlen(prefix)), 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(r.diag.lines[0], cases[i].expect[0].message));
            CU_ASSERT_PTR_NOT_NULL(strstr(r.diag.lines[0], cases[i].expect[1].message));
        } else {
            expect_errors(cases[i].name, &r, cases[i].expect, n);
        }
        result_free(&r);
    }
}

static void test_duplicates(void)
{
    static const struct error_case cases[] = {
        { "bus id", SITE
          "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; },\n"
          "  { id = \"b\"; tcp = \"127.0.0.1:1503\"; } );\n" DEVICE(""),
          { E("1503", "bus 'b' is defined twice", .first_at = "1502") } },
        { "device id", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; " POINT_P " },\n"
          "  { id = \"d\"; bus = \"b\"; unit = 2; " POINT_P " } );\n",
          { E("unit = 2", "device 'd' is defined twice", .first_at = "unit = 1") } },
        { "rule id", BASE
          "rules = ( { id = \"r\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 1.0; },\n"
          "  { id = \"r\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 2.0; } );\n",
          { E("high = 2.0", "rule 'r' is defined twice", .first_at = "high = 1.0") } },
        { "point name", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; },\n"
          "{ name = \"p\"; table = \"holding\"; address = 1; }"),
          { E("address = 1", "point 'p' is defined twice", .first_at = "address = 0") } },
        { "point name in a profile", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; },\n"
          "{ name = \"q\"; table = \"holding\"; address = 1; },\n"
          "{ name = \"p\"; table = \"input\"; address = 0; }"),
          { E("\"input\"", "point 'p' is defined twice", .first_at = "address = 0; },") } },
    };
    run_error_cases(cases, N(cases));
}

static void test_bus_endpoints(void)
{
    static const struct error_case cases[] = {
        { "tcp and rtu", SITE "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; rtu = \"/dev/ttyS9\"; } );\n" DEVICE(""),
          { E("buses", "bus 'b': give exactly one of tcp = \"host:port\" or rtu = \"/dev/...\"") } },
        { "neither", SITE "buses = ( { id = \"b\"; timeout_ms = 100; } );\n" DEVICE(""),
          { E("buses", "bus 'b': give exactly one of tcp") } },
        { "same endpoint, port written and implied", SITE
          "buses = ( { id = \"b\"; tcp = \"10.0.0.5:502\"; },\n"
          "  { id = \"c\"; tcp = \"10.0.0.5\"; } );\n" DEVICE(""),
          { E("\"c\"", "bus 'c' uses the same endpoint as bus 'b'") } },
        { "same serial line", SITE
          "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; },\n"
          "  { id = \"c\"; rtu = \"/dev/ttyS9\"; baud = 19200; } );\n" DEVICE(""),
          { E("\"c\"", "bus 'c' uses the same serial line as bus 'b'") } },
    };
    run_error_cases(cases, N(cases));

    static const struct valid_case valid[] = {
        { "same host, other port", SITE
          "buses = ( { id = \"b\"; tcp = \"10.0.0.5:502\"; }, { id = \"c\"; tcp = \"10.0.0.5:503\"; } );\n" DEVICE("") },
        { "two serial lines", SITE
          "buses = ( { id = \"b\"; rtu = \"/dev/ttyS8\"; }, { id = \"c\"; rtu = \"/dev/ttyS9\"; } );\n" DEVICE("") },
    };
    run_valid_cases(valid, N(valid));

    /* host:port parsing, IPv6 in brackets, port 502 by default */
    static const struct {
        const char *tcp, *host;
        int port;
    } endpoints[] = {
        { "127.0.0.1:1502", "127.0.0.1", 1502 },
        { "plc-3.example", "plc-3.example", 502 },
        { "[::1]:1502", "::1", 1502 },
        { "[fe80::1]", "fe80::1", 502 },
        { "gw:65535", "gw", 65535 },
    };
    for (size_t i = 0; i < N(endpoints); i++) {
        char text[512];
        snprintf(text, sizeof text, SITE "buses = ( { id = \"b\"; tcp = \"%s\"; } );\n" DEVICE(""), endpoints[i].tcp);
        struct result r;
        load(&r, text);
        expect_valid(endpoints[i].tcp, &r);
        if (r.cfg) {
            CU_ASSERT_STRING_EQUAL(r.cfg->buses[0].host, endpoints[i].host);
            CU_ASSERT_EQUAL(r.cfg->buses[0].port, endpoints[i].port);
            CU_ASSERT_STRING_EQUAL(r.cfg->buses[0].tcp, endpoints[i].tcp);
            CU_ASSERT_PTR_NULL(r.cfg->buses[0].rtu);
        }
        result_free(&r);
    }
}

/* ---- register maps ----------------------------------------------------- */

static void test_point_errors(void)
{
    static const struct error_case cases[] = {
        { "uint32 at 65535 runs past the end", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 65535; type = \"uint32\"; }"),
          { E("65535", "point 'p': address 65535 + 2 registers runs past 65535") } },
        { "float64 at 65533 runs past the end", SITE BUS INLINE(
          "{ name = \"p\"; table = \"input\"; address = 65533; type = \"float64\"; }"),
          { E("65533", "point 'p': address 65533 + 4 registers runs past 65535") } },
        { "string runs past the end", SITE BUS INLINE(
          "{ name = \"s\"; table = \"holding\"; address = 65500; type = \"string\"; count = 64; }"),
          { E("65500", "point 's': address 65500 + 64 registers runs past 65535") } },
        { "overlapping points", SITE BUS INLINE(
          "{ name = \"a\"; table = \"holding\"; address = 0; type = \"float32\"; },\n"
          "{ name = \"b\"; table = \"holding\"; address = 1; }"),
          { E("name = \"b\"", "point 'b' overlaps point 'a' (holding 0..1)") } },
        { "a string over later points", SITE BUS INLINE(
          "{ name = \"s\"; table = \"input\"; address = 10; type = \"string\"; count = 8; },\n"
          "{ name = \"x\"; table = \"input\"; address = 12; },\n"
          "{ name = \"y\"; table = \"input\"; address = 16; type = \"int32\"; },\n"
          "{ name = \"z\"; table = \"input\"; address = 18; }"),
          { E("\"x\"", "point 'x' overlaps point 's' (input 10..17)"),
            E("\"y\"", "point 'y' overlaps point 's' (input 10..17)") } },
        { "two points on one address", SITE BUS INLINE(
          "{ name = \"a\"; table = \"coil\"; address = 3; type = \"bit\"; },\n"
          "{ name = \"b\"; table = \"coil\"; address = 3; type = \"bit\"; }"),
          { E("name = \"b\"", "point 'b' overlaps point 'a' (coil 3..3)") } },
        { "the same bit twice", SITE BUS INLINE(
          "{ name = \"a\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 0; },\n"
          "{ name = \"b\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 1; },\n"
          "{ name = \"c\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 1; }"),
          { E("\"c\"", "point 'c' overlaps point 'b' (holding 5..5)") } },
        { "a bit of a register read whole", SITE BUS INLINE(
          "{ name = \"w\"; table = \"holding\"; address = 5; },\n"
          "{ name = \"a\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 0; }"),
          { E("\"a\"", "point 'a' overlaps point 'w' (holding 5..5)") } },
        { "point in a hole", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1;\n"
          "  holes = ( { table = \"holding\"; from = 10; to = 20; } );\n"
          "  points = (\n"
          "    { name = \"below\"; table = \"holding\"; address = 8; type = \"uint32\"; },\n"
          "    { name = \"into\"; table = \"holding\"; address = 9; type = \"uint32\"; },\n"
          "    { name = \"inside\"; table = \"holding\"; address = 19; type = \"float32\"; },\n"
          "    { name = \"after\"; table = \"holding\"; address = 21; },\n"
          "    { name = \"other_table\"; table = \"input\"; address = 15; }\n"
          "  ); } );\n",
          { E("\"into\"", "point 'into' lies in a declared hole (holding 10..20)"),
            E("\"inside\"", "point 'inside' lies in a declared hole (holding 10..20)"),
            E("\"into\"", "point 'into' overlaps point 'below' (holding 8..9)") } },
        { "hole from above to", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1;\n"
          "  holes = ( { table = \"holding\"; from = 20; to = 10; } );\n"
          "  " POINT_P " } );\n",
          { E("from = 20", "hole: from 20 is above to 10") } },
        { "count on a non-string", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; type = \"uint32\"; count = 2; }"),
          { E("\"p\"", "point 'p': count applies to strings only") } },
        { "string without count", SITE BUS INLINE(
          "{ name = \"s\"; table = \"holding\"; address = 0; type = \"string\"; }"),
          { E("\"s\"", "point 's': a string needs count (its length in registers)") } },
        { "bit number on a coil", SITE BUS INLINE(
          "{ name = \"c\"; table = \"coil\"; address = 0; type = \"bit\"; bit = 3; }"),
          { E("\"c\"", "point 'c': bit applies to type \"bit\" on a register table only") } },
        { "bit number on a uint16", SITE BUS INLINE(
          "{ name = \"c\"; table = \"holding\"; address = 0; type = \"uint16\"; bit = 3; }"),
          { E("\"c\"", "point 'c': bit applies to type \"bit\" on a register table only") } },
        { "coil with a register type", SITE BUS INLINE(
          "{ name = \"c\"; table = \"coil\"; address = 0; type = \"uint16\"; }"),
          { E("\"c\"", "point 'c': a coil holds bits; type must be \"bit\"") } },
        { "discrete input with a float type", SITE BUS INLINE(
          "{ name = \"c\"; table = \"discrete\"; address = 0; type = \"float32\"; }"),
          { E("\"c\"", "point 'c': a discrete holds bits; type must be \"bit\"") } },
        { "scale 0", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; scale = 0.0; }"),
          { E("\"p\"", "point 'p': scale must not be 0") } },
        { "min above max", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; min = 10.0; max = 5; }"),
          { E("\"p\"", "point 'p': min 10 is above max 5") } },
        { "name with a space", SITE BUS INLINE(
          "{ name = \"supply temp\"; table = \"holding\"; address = 0; }"),
          { E("supply temp", "point 'supply temp': names may hold letters, digits, '_', '-' and '.' only") } },
        { "name too long", SITE BUS INLINE(
          "{ name = \"n234567890123456789012345678901234567890123456789012345678901234\"; table = \"holding\"; address = 0; }"),
          { E("n2345", "point 1: name is longer than 63 characters") } },
        { "type unknown", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; type = \"float16\"; }"),
          { E("float16", "point 1: type = \"float16\" is not one of: bit, uint16, int16, uint32, int32, uint64, int64, float32, float64, string") } },
        { "empty points", SITE BUS DEVICE_KEYS("unit = 1;\n points = ( );"),
          { E("points = ( )", "points must be a non-empty list") } },
        { "profile and points", SITE PROFILE_DIR BUS DEVICE("profile = \"meter\";"),
          { E("id = \"d\"", "device 'd': give either profile or points, not both") } },
        { "neither profile nor points", SITE BUS DEVICE_KEYS("unit = 1;"),
          { E("id = \"d\"", "device 'd': no register map: give profile = \"...\" or a points list") } },
        { "point larger than the device reads", SITE BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; max_read_registers = 4; points = (\n"
          "  { name = \"f\"; table = \"holding\"; address = 0; type = \"float64\"; },\n"
          "  { name = \"s\"; table = \"holding\"; address = 4; type = \"string\"; count = 5; } ); } );\n",
          { E("id = \"d\"", "device 'd': point 's' needs 5 registers but the device reads at most 4 at once") } },
        { "profile point larger than the device reads", SITE PROFILE_DIR BUS
          DEVICE_KEYS("unit = 1; profile = \"meter\"; max_read_registers = 30;"),
          { E("id = \"d\"", "device 'd': point 'serial' needs 40 registers but the device reads at most 30 at once") } },
    };
    run_error_cases(cases, N(cases));

    static const struct valid_case valid[] = {
        { "uint32 at 65534 ends at 65535", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 65534; type = \"uint32\"; }") },
        { "string up to 65535", SITE BUS INLINE(
          "{ name = \"s\"; table = \"holding\"; address = 65472; type = \"string\"; count = 64; }") },
        { "bits of one register", SITE BUS INLINE(
          "{ name = \"a\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 0; },\n"
          "{ name = \"b\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 15; },\n"
          "{ name = \"c\"; table = \"holding\"; address = 5; type = \"bit\"; bit = 7; },\n"
          "{ name = \"d\"; table = \"holding\"; address = 6; type = \"bit\"; bit = 7; }") },
        { "same address in two tables", SITE BUS INLINE(
          "{ name = \"a\"; table = \"coil\"; address = 0; type = \"bit\"; },\n"
          "{ name = \"b\"; table = \"discrete\"; address = 0; type = \"bit\"; },\n"
          "{ name = \"c\"; table = \"input\"; address = 0; type = \"float32\"; },\n"
          "{ name = \"d\"; table = \"holding\"; address = 0; type = \"float32\"; }") },
        { "adjacent points", SITE BUS INLINE(
          "{ name = \"a\"; table = \"input\"; address = 0; type = \"float64\"; },\n"
          "{ name = \"b\"; table = \"input\"; address = 4; type = \"string\"; count = 3; },\n"
          "{ name = \"c\"; table = \"input\"; address = 7; }") },
        { "min equal to max, negative scale", SITE BUS INLINE(
          "{ name = \"p\"; table = \"holding\"; address = 0; min = 5; max = 5.0; scale = -0.1; }") },
    };
    run_valid_cases(valid, N(valid));
}

/* Problems in a profile file are reported at the profile's own lines. */
static void test_profile_files(void)
{
    static const struct error_case cases[] = {
        { "id not matching its file name", SITE PROFILE_DIR BUS
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; profile = \"mismatch\"; },\n"
          "  { id = \"e\"; bus = \"b\"; unit = 2; profile = \"mismatch\"; } );\n",
          { E("profile = {", "profile id 'some-other-id' does not match its file name (expected some-other-id.conf)", .in = "profiles/mismatch.conf", .in_text = profile_mismatch) } },
        { "overlap inside a profile", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"overlap\";"),
          { E("\"b\"", "point 'b' overlaps point 'a' (input 0..1)", .in = "profiles/overlap.conf", .in_text = profile_overlap) } },
        { "syntax error in a profile", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"syntax\";"),
          { E("table = =", "syntax error", .in = "profiles/syntax.conf", .in_text = profile_syntax) } },
        { "no profile group", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"nogroup\";"),
          { E(NULL, "no `profile = { ... };` group in this file", .in = "profiles/nogroup.conf", .in_text = profile_nogroup) } },
        { "unknown key in a profile", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"typo\";"),
          { E("pionts", "profile: unknown key 'pionts' (did you mean 'points'?)", .in = "profiles/typo.conf", .in_text = profile_typo),
            E("profile = {", "profile: missing required key 'points'", .in = "profiles/typo.conf", .in_text = profile_typo) } },
        { "a rule on a broken profile's point", SITE PROFILE_DIR BUS DEVICE_KEYS("unit = 1; profile = \"overlap\";")
          RULE("type = \"limit\"; point = \"a\"; high = 1.0;"),
          { E("\"b\"", "point 'b' overlaps point 'a' (input 0..1)", .in = "profiles/overlap.conf", .in_text = profile_overlap) } },
    };
    run_error_cases(cases, N(cases));

    /* A profile shared by devices is loaded once. */
    struct result r;
    load(&r, SITE PROFILE_DIR BUS
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; profile = \"meter\"; },\n"
             "  { id = \"e\"; bus = \"b\"; unit = 2; profile = \"meter\"; } );\n");
    expect_valid("shared profile", &r);
    if (r.cfg) {
        CU_ASSERT_EQUAL(r.cfg->n_profiles, 1u);
        CU_ASSERT_PTR_EQUAL(r.cfg->devices[0].profile, r.cfg->profiles[0]);
        CU_ASSERT_PTR_EQUAL(r.cfg->devices[1].profile, r.cfg->profiles[0]);
        CU_ASSERT_EQUAL(r.cfg->profiles[0]->n_points, 3u);
        CU_ASSERT_STRING_EQUAL(r.cfg->profiles[0]->id, "meter");
    }
    result_free(&r);
}

/* ---- rules and sinks --------------------------------------------------- */

static void test_rules(void)
{
    static const struct error_case cases[] = {
        { "unknown device", BASE "rules = ( { id = \"r\"; device = \"x\"; type = \"limit\"; point = \"p\"; high = 1.0; } );\n",
          { E("id = \"r\"", "rule 'r': unknown device 'x'") } },
        { "unknown point", BASE RULE("type = \"limit\"; point = \"q\"; high = 1.0;"),
          { E("id = \"r\"", "rule 'r': device 'd' has no point 'q'") } },
        { "limit without high or low", BASE RULE("type = \"limit\"; point = \"p\"; deadband = 1.0;"),
          { E("id = \"r\"", "rule 'r': a limit rule needs high and/or low") } },
        { "low equal to high", BASE RULE("type = \"limit\"; point = \"p\"; low = 5.0; high = 5;"),
          { E("id = \"r\"", "rule 'r': low 5 must be below high 5") } },
        { "low above high", BASE RULE("type = \"limit\"; point = \"p\"; low = 9.5; high = 2.0;"),
          { E("id = \"r\"", "rule 'r': low 9.5 must be below high 2") } },
        { "state rule without states", BASE RULE("type = \"state\"; point = \"p\";"),
          { E("id = \"r\"", "rule 'r': a state rule needs states = [ ... ]") } },
        { "empty states", BASE RULE("type = \"state\"; point = \"p\";\n states = [ ];"),
          { E("states = [ ]", "states must be a non-empty list of values"),
            E("id = \"r\"", "rule 'r': a state rule needs states = [ ... ]") } },
        { "unknown type", BASE RULE("type = \"ratio\"; point = \"p\";"),
          { E("ratio", "rule 'r': type = \"ratio\" is not one of: limit, state, comm_loss, stale, rate, spike, "
                       "flatline, schedule, maintenance, expression, baseline") } },
        { "negative deadband", BASE RULE("type = \"limit\"; point = \"p\"; high = 1.0;\n deadband = -1.0;"),
          { E("deadband = -1.0", "rule 'r': deadband = -1 is out of range") } },
    };
    run_error_cases(cases, N(cases));

    struct result r;
    load(&r, BASE "rules = (\n"
                  "  { id = \"hi\"; device = \"d\"; type = \"limit\"; point = \"p\"; high = 9.0; deadband = 0.5;\n"
                  "    on_delay_s = 300; off_delay_s = 60; severity = \"high\"; },\n"
                  "  { id = \"st\"; device = \"d\"; type = \"state\"; point = \"p\"; states = [ 2.0, 3.5 ]; enabled = false; }\n"
                  ");\n");
    expect_valid("rules", &r);
    if (r.cfg) {
        CU_ASSERT_EQUAL_FATAL(r.cfg->n_rules, 2u);
        const struct gw_rule_cfg *hi = &r.cfg->rules[0], *st = &r.cfg->rules[1];
        CU_ASSERT_EQUAL(hi->type, GW_RULE_LIMIT);
        CU_ASSERT(hi->has_high && !hi->has_low);
        CU_ASSERT_DOUBLE_EQUAL(hi->high, 9.0, 0);
        CU_ASSERT_DOUBLE_EQUAL(hi->deadband, 0.5, 0);
        CU_ASSERT_DOUBLE_EQUAL(hi->on_delay_s, 300, 0);
        CU_ASSERT_DOUBLE_EQUAL(hi->off_delay_s, 60, 0);
        CU_ASSERT_EQUAL(hi->severity, GW_SEVERITY_HIGH);
        CU_ASSERT(hi->enabled);
        CU_ASSERT_EQUAL(hi->line, line_of(r.text, "\"hi\""));
        CU_ASSERT_EQUAL(st->type, GW_RULE_STATE);
        CU_ASSERT_EQUAL_FATAL(st->n_states, 2u);
        CU_ASSERT_DOUBLE_EQUAL(st->states[0], 2, 0);
        CU_ASSERT_DOUBLE_EQUAL(st->states[1], 3.5, 0);
        CU_ASSERT_EQUAL(st->severity, GW_SEVERITY_MEDIUM);
        CU_ASSERT(!st->enabled);
    }
    result_free(&r);
}

static void test_sinks(void)
{
    static const struct error_case cases[] = {
        { "mqtt uri scheme", BASE "mqtt = {\n uri = \"http://127.0.0.1:1883\"; };\n",
          { E("uri =", "mqtt: uri 'http://127.0.0.1:1883' must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://") } },
        { "mqtt uri without scheme", BASE "mqtt = {\n uri = \"127.0.0.1:1883\"; };\n",
          { E("uri =", "mqtt: uri '127.0.0.1:1883' must start with tcp://") } },
        { "influxdb v1 without database", BASE "influxdb = { url = \"http://127.0.0.1:8086\"; };\n",
          { E("influxdb = {", "influxdb: api \"v1\" needs database") } },
        { "influxdb v2 without bucket", BASE "influxdb = { url = \"http://127.0.0.1:8086\"; api = \"v2\";\n org = \"o\"; };\n",
          { E("influxdb = {", "influxdb: api \"v2\" needs org and bucket") } },
        { "influxdb v2 without org", BASE "influxdb = { url = \"http://127.0.0.1:8086\"; api = \"v2\";\n bucket = \"b\"; };\n",
          { E("influxdb = {", "influxdb: api \"v2\" needs org and bucket") } },
        { "influxdb api v3", BASE "influxdb = { url = \"http://127.0.0.1:8086\";\n api = \"v3\"; database = \"x\"; };\n",
          { E("api = ", "influxdb: api must be \"v1\" or \"v2\"") } },
        { "influxdb url scheme", BASE "influxdb = {\n url = \"udp://127.0.0.1:8089\"; database = \"x\"; };\n",
          { E("url = ", "influxdb: url must start with http:// or https://") } },
        { "influxdb without url", BASE "influxdb = { database = \"x\"; };\n",
          { E("influxdb = {", "influxdb: missing required key 'url'") } },
    };
    run_error_cases(cases, N(cases));

    static const char *const uris[] = { "tcp://h:1883", "ssl://h:8883", "mqtt://h", "mqtts://h", "ws://h/mqtt", "wss://h/mqtt" };
    for (size_t i = 0; i < N(uris); i++) {
        char text[512];
        snprintf(text, sizeof text, BASE "mqtt = { uri = \"%s\"; };\n", uris[i]);
        struct result r;
        load(&r, text);
        expect_valid(uris[i], &r);
        if (r.cfg) {
            CU_ASSERT(r.cfg->mqtt.present);
            CU_ASSERT_STRING_EQUAL(r.cfg->mqtt.uri, uris[i]);
            CU_ASSERT_EQUAL(r.cfg->mqtt.qos, 1);
        }
        result_free(&r);
    }

    struct result r;
    load(&r, BASE "influxdb = { url = \"https://influx.example:8086\"; api = \"v2\"; org = \"o\"; bucket = \"b\"; };\n");
    expect_valid("influxdb v2", &r);
    if (r.cfg) {
        CU_ASSERT(r.cfg->influx.present);
        CU_ASSERT_STRING_EQUAL(r.cfg->influx.api, "v2");
        CU_ASSERT_STRING_EQUAL(r.cfg->influx.org, "o");
        CU_ASSERT_STRING_EQUAL(r.cfg->influx.bucket, "b");
        CU_ASSERT_PTR_NULL(r.cfg->influx.database);
        CU_ASSERT(!r.cfg->mqtt.present);
    }
    result_free(&r);
}

/* ---- defaults, precedence, paths --------------------------------------- */

static void test_defaults(void)
{
    struct result r;
    load(&r, SITE BUS DEVICE(""));
    expect_valid("minimal", &r);
    const struct gw_config *c = r.cfg;
    if (!c) {
        result_free(&r);
        return;
    }
    CU_ASSERT_STRING_EQUAL(c->site.id, "t");
    CU_ASSERT_STRING_EQUAL(c->site.timezone, "UTC");
    CU_ASSERT_PTR_NULL(c->site.name);
    CU_ASSERT_STRING_EQUAL(c->daemon.plugin_dir, GW_DEFAULT_PLUGIN_DIR);
    CU_ASSERT_STRING_EQUAL(c->daemon.profile_dir, GW_DEFAULT_PROFILE_DIR);
    CU_ASSERT_STRING_EQUAL(c->daemon.spool_dir, "/var/lib/greenwatch/spool");
    CU_ASSERT_EQUAL(c->daemon.log_level, GW_LOG_INFO);
    CU_ASSERT(!c->mqtt.present);
    CU_ASSERT(!c->influx.present);
    CU_ASSERT_EQUAL(c->n_rules, 0u);

    CU_ASSERT_EQUAL_FATAL(c->n_buses, 1u);
    const struct gw_bus_cfg *b = &c->buses[0];
    CU_ASSERT_EQUAL(b->timeout_ms, 1000);
    CU_ASSERT_EQUAL(b->baud, 9600);
    CU_ASSERT_EQUAL(b->parity, GW_PARITY_NONE);
    CU_ASSERT_EQUAL(b->data_bits, 8);
    CU_ASSERT_EQUAL(b->stop_bits, 1);
    CU_ASSERT_EQUAL(b->delay_after_connect_ms, 0);
    CU_ASSERT_EQUAL(b->delay_between_requests_ms, 0);
    CU_ASSERT_EQUAL(b->line, line_of(r.text, "buses"));

    CU_ASSERT_EQUAL_FATAL(c->n_devices, 1u);
    const struct gw_device_cfg *d = &c->devices[0];
    CU_ASSERT_STRING_EQUAL(d->kind, "generic");
    CU_ASSERT_DOUBLE_EQUAL(d->interval_s, 60.0, 0);
    CU_ASSERT(d->enabled);
    CU_ASSERT_EQUAL(d->timeout_ms, -1);              /* the bus's */
    CU_ASSERT_EQUAL(d->delay_between_requests_ms, -1);
    CU_ASSERT_EQUAL(d->n_tags, 0u);
    CU_ASSERT_PTR_NULL(d->profile_id);
    CU_ASSERT(d->has_points);
    CU_ASSERT_PTR_EQUAL(d->profile, &d->inline_map);
    CU_ASSERT_EQUAL(d->profile->n_points, 1u);
    CU_ASSERT_EQUAL(d->limits.max_registers, 125);
    CU_ASSERT_EQUAL(d->limits.max_bits, 2000);
    CU_ASSERT_EQUAL(d->limits.max_gap_registers, 10);
    CU_ASSERT_EQUAL(d->limits.max_gap_bits, 160);
    CU_ASSERT_EQUAL(d->line, line_of(r.text, "devices"));
    CU_ASSERT_PTR_EQUAL(config_find_device(c, "d"), d);
    CU_ASSERT_PTR_NULL(config_find_device(c, "x"));

    /* A point's defaults */
    const struct gw_point_def *p = &d->profile->points[0];
    CU_ASSERT_EQUAL(p->type, GW_TYPE_UINT16);
    CU_ASSERT_EQUAL(p->order, GW_ORDER_ABCD);
    CU_ASSERT_EQUAL(p->count, 1);
    CU_ASSERT_EQUAL(p->bit, -1);
    CU_ASSERT_DOUBLE_EQUAL(p->scale, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(p->offset, 0.0, 0);
    CU_ASSERT_STRING_EQUAL(p->unit, "");
    CU_ASSERT(!p->has_min && !p->has_max);
    CU_ASSERT_EQUAL(p->n_sentinels, 0);
    result_free(&r);

    /* Everything given */
    load(&r, "site = { id = \"t\"; name = \"Tower\"; timezone = \"Asia/Shanghai\"; floor_area_m2 = 42000; };\n"
             "daemon = { log_level = \"debug\"; };\n"
             "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; baud = 19200; parity = \"E\"; data_bits = 7;\n"
             "            stop_bits = 2; timeout_ms = 250; delay_after_connect_ms = 100;\n"
             "            delay_between_requests_ms = 20; } );\n"
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 17; kind = \"meter\"; interval_s = 0.5;\n"
             "  enabled = false; timeout_ms = 700; delay_between_requests_ms = 5;\n"
             "  tags = { building = \"T1\"; category = \"01A00\"; };\n"
             "  points = ( { name = \"p\"; table = \"holding\"; address = 4; type = \"int32\"; order = \"CDAB\";\n"
             "               scale = 0.1; offset = -40; unit = \"degC\"; min = -40; max = 125;\n"
             "               sentinel = [ 0x7FFFFFFF, -1 ]; } ); } );\n");
    expect_valid("everything given", &r);
    if ((c = r.cfg)) {
        CU_ASSERT_STRING_EQUAL(c->site.name, "Tower");
        CU_ASSERT_STRING_EQUAL(c->site.timezone, "Asia/Shanghai");
        CU_ASSERT_DOUBLE_EQUAL(c->site.floor_area_m2, 42000, 0);
        CU_ASSERT_EQUAL(c->daemon.log_level, GW_LOG_DEBUG);
        b = &c->buses[0];
        CU_ASSERT_STRING_EQUAL(b->rtu, "/dev/ttyS9");
        CU_ASSERT_PTR_NULL(b->tcp);
        CU_ASSERT_EQUAL(b->baud, 19200);
        CU_ASSERT_EQUAL(b->parity, GW_PARITY_EVEN);
        CU_ASSERT_EQUAL(b->data_bits, 7);
        CU_ASSERT_EQUAL(b->stop_bits, 2);
        CU_ASSERT_EQUAL(b->timeout_ms, 250);
        CU_ASSERT_EQUAL(b->delay_after_connect_ms, 100);
        CU_ASSERT_EQUAL(b->delay_between_requests_ms, 20);
        d = &c->devices[0];
        CU_ASSERT_EQUAL(d->unit, 17);
        CU_ASSERT_STRING_EQUAL(d->kind, "meter");
        CU_ASSERT_DOUBLE_EQUAL(d->interval_s, 0.5, 0);
        CU_ASSERT(!d->enabled);
        CU_ASSERT_EQUAL(d->timeout_ms, 700);
        CU_ASSERT_EQUAL(d->delay_between_requests_ms, 5);
        CU_ASSERT_EQUAL_FATAL(d->n_tags, 2u);
        CU_ASSERT_STRING_EQUAL(d->tags[0].key, "building");
        CU_ASSERT_STRING_EQUAL(d->tags[0].value, "T1");
        CU_ASSERT_STRING_EQUAL(d->tags[1].key, "category");
        CU_ASSERT_STRING_EQUAL(d->tags[1].value, "01A00");
        p = &d->profile->points[0];
        CU_ASSERT_EQUAL(p->type, GW_TYPE_INT32);
        CU_ASSERT_EQUAL(p->order, GW_ORDER_CDAB);
        CU_ASSERT_EQUAL(p->address, 4);
        CU_ASSERT_EQUAL(p->count, 2);
        CU_ASSERT_DOUBLE_EQUAL(p->scale, 0.1, 0);
        CU_ASSERT_DOUBLE_EQUAL(p->offset, -40, 0);
        CU_ASSERT_STRING_EQUAL(p->unit, "degC");
        CU_ASSERT(p->has_min && p->has_max);
        CU_ASSERT_DOUBLE_EQUAL(p->min, -40, 0);
        CU_ASSERT_DOUBLE_EQUAL(p->max, 125, 0);
        CU_ASSERT_EQUAL_FATAL(p->n_sentinels, 2);
        CU_ASSERT_EQUAL(p->sentinels[0].bits, 0x7FFFFFFF);
        CU_ASSERT_EQUAL(p->sentinels[1].bits, -1);
        CU_ASSERT_EQUAL(p->line, line_of(r.text, "name = \"p\""));
    }
    result_free(&r);
}

/* Read limits: the device's own, else its profile's, else the defaults;
 * a value of 0 (a gap limit) counts as set. */
static void test_limit_precedence(void)
{
    struct result r;
    load(&r, SITE PROFILE_DIR BUS
             "devices = (\n"
             "  { id = \"from-profile\"; bus = \"b\"; unit = 1; profile = \"meter\"; },\n"
             "  { id = \"device-wins\"; bus = \"b\"; unit = 2; profile = \"meter\"; max_read_registers = 50;\n"
             "    max_gap_registers = 0; max_read_bits = 800; max_gap_bits = 0; },\n"
             "  { id = \"defaults\"; bus = \"b\"; unit = 3; " POINT_P " },\n"
             "  { id = \"inline\"; bus = \"b\"; unit = 4; max_read_registers = 20; max_gap_bits = 16;\n"
             "    holes = ( { table = \"input\"; from = 10; to = 19; }, { table = \"coil\"; from = 0; to = 7; } );\n"
             "    points = ( { name = \"a\"; table = \"input\"; address = 0; },\n"
             "               { name = \"b\"; table = \"input\"; address = 20; } ); }\n"
             ");\n");
    expect_valid("limits", &r);
    if (!r.cfg) {
        result_free(&r);
        return;
    }
    static const struct {
        const char *id;
        struct gw_plan_limits limits;
    } want[] = {
        { "from-profile", { 60, 2000, 4, 160 } },
        { "device-wins", { 50, 800, 0, 0 } },
        { "defaults", { 125, 2000, 10, 160 } },
        { "inline", { 20, 2000, 10, 16 } },
    };
    for (size_t i = 0; i < N(want); i++) {
        const struct gw_device_cfg *d = config_find_device(r.cfg, want[i].id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_EQUAL(d->limits.max_registers, want[i].limits.max_registers);
        CU_ASSERT_EQUAL(d->limits.max_bits, want[i].limits.max_bits);
        CU_ASSERT_EQUAL(d->limits.max_gap_registers, want[i].limits.max_gap_registers);
        CU_ASSERT_EQUAL(d->limits.max_gap_bits, want[i].limits.max_gap_bits);
    }
    const struct gw_device_cfg *in = config_find_device(r.cfg, "inline");
    CU_ASSERT_PTR_EQUAL(in->profile, &in->inline_map);
    CU_ASSERT_EQUAL(in->profile->n_points, 2u);
    CU_ASSERT_EQUAL_FATAL(in->profile->n_holes, 2u);
    CU_ASSERT_EQUAL(in->profile->holes[0].table, GW_TABLE_INPUT);
    CU_ASSERT_EQUAL(in->profile->holes[0].from, 10);
    CU_ASSERT_EQUAL(in->profile->holes[0].to, 19);
    CU_ASSERT_EQUAL(in->profile->holes[1].table, GW_TABLE_COIL);
    CU_ASSERT_EQUAL(in->profile->holes[1].to, 7);
    /* the planner keeps the two points apart across the hole */
    struct gw_plan plan = { 0 };
    CU_ASSERT_EQUAL_FATAL(planner_build(in->profile->points, in->profile->n_points, NULL, in->profile->holes,
                                        in->profile->n_holes, &in->limits, &plan), 0);
    CU_ASSERT_EQUAL(plan.n_reads, 2u);
    planner_free(&plan);
    result_free(&r);
}

static void test_relative_paths(void)
{
    static const char text[] =
        SITE
        "daemon = { plugin_dir = \"lib/plugins\"; profile_dir = \"../../profiles\"; spool_dir = \"/var/spool/gw\"; };\n"
        BUS
        "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; profile = \"meter\"; } );\n";
    struct result r;
    load_at(&r, "site/etc/greenwatch.conf", text);
    expect_valid("relative paths", &r);
    if (r.cfg) {
        char dir[PATH_MAX], want[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s", r.path);
        dirname(dir);
        snprintf(want, sizeof want, "%s/lib/plugins", dir);
        CU_ASSERT_STRING_EQUAL(r.cfg->daemon.plugin_dir, want);
        snprintf(want, sizeof want, "%s/../../profiles", dir);
        CU_ASSERT_STRING_EQUAL(r.cfg->daemon.profile_dir, want);
        CU_ASSERT_STRING_EQUAL(r.cfg->daemon.spool_dir, "/var/spool/gw");
        CU_ASSERT_EQUAL_FATAL(r.cfg->n_profiles, 1u);
        CU_ASSERT_STRING_EQUAL(r.cfg->profiles[0]->id, "meter");
    }
    result_free(&r);
    /* The same file elsewhere does not find its profiles. */
    load_at(&r, "elsewhere/greenwatch.conf", text);
    CU_ASSERT_EQUAL(r.rc, -EINVAL);
    CU_ASSERT_EQUAL(r.diag.n, 1u);
    CU_ASSERT(r.diag.n && strstr(r.diag.lines[0], "elsewhere/../../profiles/meter.conf"));
    result_free(&r);
}

/* One run reports every problem, each once. */
static void test_all_errors_at_once(void)
{
    static const struct error_case cases[] = {
        { "five errors", "site = { id = \"t\"; floor_area_m2 = -5.0; };\n"
          "buses = ( { id = \"b\"; rtu = \"/dev/ttyS9\"; baud = 110; } );\n"
          "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; interval_s = 0;\n"
          "  points = ( { name = \"p\"; table = \"holding\"; address = 0; scale = 0.0; } ); } );\n"
          "rules = ( { id = \"r\"; device = \"d\"; type = \"limit\"; point = \"p\"; low = 3.0; high = 1.0; } );\n",
          { E("floor_area_m2", "site: floor_area_m2 = -5 is out of range"),
            E("baud = 110", "bus 'b': baud = 110 is out of range"),
            E("interval_s = 0", "device 'd': interval_s = 0 is out of range"),
            E("scale = 0.0", "point 'p': scale must not be 0"),
            E("id = \"r\"", "rule 'r': low 3 must be below high 1") } },
        { "five errors across files and stages", SITE PROFILE_DIR
          "buses = ( { id = \"b\"; tcp = \"127.0.0.1:1502\"; }, { id = \"c\"; tcp = \"127.0.0.1:1502\"; } );\n"
          "devices = (\n"
          "  { id = \"d\"; bus = \"b\"; unit = 1; profile = \"overlap\"; },\n"
          "  { id = \"e\"; bus = \"x\"; unit = 2; profile = \"meter\"; },\n"
          "  { id = \"f\"; bus = \"b\"; unit = 3; profile = \"meter\"; colr = 1; }\n"
          ");\n"
          "rules = ( { id = \"r\"; device = \"e\"; type = \"state\"; point = \"power\"; } );\n",
          { E("id = \"c\"", "bus 'c' uses the same endpoint as bus 'b'"),
            E("\"b\"", "point 'b' overlaps point 'a'", .in = "profiles/overlap.conf", .in_text = profile_overlap),
            E("id = \"e\"", "device 'e': unknown bus 'x'"),
            E("colr", "device 'f': unknown key 'colr'"),
            E("id = \"r\"", "rule 'r': a state rule needs states") } },
    };
    run_error_cases(cases, N(cases));
}

/* ---- shipped profiles -------------------------------------------------- */

static int conf_file(const struct dirent *e)
{
    size_t len = strlen(e->d_name);
    return len > 5 && strcmp(e->d_name + len - 5, ".conf") == 0;
}

static void test_shipped_profiles(void)
{
    const char *dir = GW_SOURCE_DIR "/config/profiles";
    struct dirent **names = NULL;
    int n = scandir(dir, &names, conf_file, alphasort);
    CU_ASSERT_FATAL(n > 0);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct gw_profile prof = { 0 };
        struct gw_diag diag = { 0 };
        int rc = profile_load_file(path, &prof, &diag);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(diag.n, 0u);
        if (rc || diag.n)
            print_diag(names[i]->d_name, &diag);
        CU_ASSERT(prof.n_points > 0);
        /* the id is the file name */
        CU_ASSERT(prof.id && strlen(names[i]->d_name) == strlen(prof.id) + 5 &&
                  strncmp(names[i]->d_name, prof.id, strlen(prof.id)) == 0);
        /* and a device can plan its reads with the profile's own limits */
        struct gw_plan_limits limits = {
            .max_registers = prof.max_read_registers > 0 ? (uint16_t)prof.max_read_registers : 125,
            .max_bits = prof.max_read_bits > 0 ? (uint16_t)prof.max_read_bits : 2000,
            .max_gap_registers = prof.max_gap_registers >= 0 ? (uint16_t)prof.max_gap_registers : 10,
            .max_gap_bits = prof.max_gap_bits >= 0 ? (uint16_t)prof.max_gap_bits : 160,
        };
        struct gw_plan plan = { 0 };
        CU_ASSERT_EQUAL(planner_build(prof.points, prof.n_points, NULL, prof.holes, prof.n_holes, &limits, &plan), 0);
        CU_ASSERT(plan.n_reads >= 1 && plan.n_reads <= prof.n_points);
        planner_free(&plan);
        profile_free(&prof);
        diag_free(&diag);
        free(names[i]);
    }
    free(names);
}

/* ---- kinds (plugin.c) -------------------------------------------------- */

/* A plugin built here, shaped wrong in one way each. */
static const char bad_plugin_source[] =
    "#include <greenwatch/plugin.h>\n"
    "static int init(const struct gw_host *h, const struct gw_device_info *d, void **s)\n"
    "{ (void)h; (void)d; *s = 0; return 0; }\n"
    "static int derive(void *s, struct gw_sample *x) { (void)s; (void)x; return 0; }\n"
    "static void fini(void *s) { (void)s; }\n"
    "#ifndef NO_SYMBOL\n"
    "const struct gw_plugin greenwatch_plugin = {\n"
    "    .abi_version = ABI, .kind = KIND, .init = init, .derive = derive,\n"
    "#ifndef NO_FINI\n"
    "    .fini = fini,\n"
    "#endif\n"
    "};\n"
    "#endif\n"
    "int unrelated_symbol = 1;\n";

/* Build <dir>/<name>.so with the given -D flags.  Returns 0, or -ENOENT
 * if there is no C compiler to build it with. */
static int build_plugin(const char *dir, const char *name, const char *const defines[])
{
    char src[PATH_MAX], out[PATH_MAX];
    snprintf(src, sizeof src, "bad-plugin-%s.c", name);
    if (write_temp_file_named(src, bad_plugin_source, src, sizeof src))
        return -EIO;
    snprintf(out, sizeof out, "%s/%s.so", dir, name);
    const char *argv[16] = { "cc", "-shared", "-fPIC", "-o", out, "-I", GW_SOURCE_DIR "/daemon/include" };
    size_t n = 7;
    for (size_t i = 0; defines[i] && n < 14; i++)
        argv[n++] = defines[i];
    argv[n++] = src;
    argv[n] = NULL;
    char *err = NULL;
    int status = 0;
    int rc = run_capture(argv, NULL, &err, 60, &status);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "\n  cc %s: %s\n", name, err ? err : "");
        rc = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
    }
    free(err);
    return rc;
}

static void test_kinds_generic(void)
{
    struct result r;
    load(&r, SITE "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; };\n" BUS
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; " POINT_P " },\n"
             "  { id = \"e\"; bus = \"b\"; unit = 2; kind = \"generic\"; " POINT_P " } );\n");
    expect_valid("generic kind", &r);
    if (!r.cfg) {
        result_free(&r);
        return;
    }
    struct gw_kinds kinds;
    CU_ASSERT_EQUAL(kinds_load(r.cfg, &kinds, &r.diag), 0);
    CU_ASSERT_EQUAL(r.diag.n, 0u);
    CU_ASSERT_EQUAL(kinds.n, 1u);  /* loaded once for both devices */
    const struct gw_plugin *p = kinds_find(&kinds, "generic");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->abi_version, GW_PLUGIN_ABI_VERSION);
    CU_ASSERT_STRING_EQUAL(p->kind, "generic");
    CU_ASSERT(p->init && p->derive && p->fini);
    CU_ASSERT_PTR_NULL(kinds_find(&kinds, "meter"));
    kinds_free(&kinds);
    CU_ASSERT_EQUAL(kinds.n, 0u);
    CU_ASSERT_PTR_NULL(kinds.items);
    result_free(&r);

    /* A kind the plugin directory does not have, next to one it has. */
    load(&r, SITE "daemon = { plugin_dir = \"" GW_TEST_PLUGIN_DIR "\"; };\n" BUS
             "devices = ( { id = \"d\"; bus = \"b\"; unit = 1; " POINT_P " },\n"
             "  { id = \"e\"; bus = \"b\"; unit = 2; kind = \"nosuch\"; " POINT_P " } );\n");
    expect_valid("missing kind: the configuration itself", &r);
    if (r.cfg) {
        CU_ASSERT_EQUAL(kinds_load(r.cfg, &kinds, &r.diag), -EINVAL);
        const struct expect missing[] = {
            E("id = \"e\"", "device 'e': unknown kind 'nosuch': cannot load " GW_TEST_PLUGIN_DIR "/nosuch.so: "),
        };
        CU_ASSERT(match_diag("missing kind", r.path, r.text, &r.diag, missing, N(missing)));
        CU_ASSERT_PTR_NOT_NULL(kinds_find(&kinds, "generic"));
        CU_ASSERT_PTR_NULL(kinds_find(&kinds, "nosuch"));
        kinds_free(&kinds);
    }
    result_free(&r);
}

static void test_kinds_refused(void)
{
    char dir[PATH_MAX];
    CU_ASSERT_EQUAL_FATAL(temp_path(dir, sizeof dir, "kinds/plugins"), 0);
    CU_ASSERT_EQUAL_FATAL(write_temp_file_named("kinds/plugins/notelf.so", "this is not a shared object\n", NULL, 0), 0);
    static const char *const no_symbol[] = { "-DNO_SYMBOL", NULL };
    static const char *const old_abi[] = { "-DABI=99u", "-DKIND=\"oldabi\"", NULL };
    static const char *const other_kind[] = { "-DABI=GW_PLUGIN_ABI_VERSION", "-DKIND=\"meter\"", NULL };
    static const char *const no_fini[] = { "-DABI=GW_PLUGIN_ABI_VERSION", "-DKIND=\"nofini\"", "-DNO_FINI", NULL };
    int built = build_plugin(dir, "nosymbol", no_symbol);
    if (built == 0)
        built = build_plugin(dir, "oldabi", old_abi);
    if (built == 0)
        built = build_plugin(dir, "otherkind", other_kind);
    if (built == 0)
        built = build_plugin(dir, "nofini", no_fini);
    if (built == -ENOENT)
        fprintf(stderr, "\n  no C compiler: only missing and non-ELF plugins are tested\n");
    else
        CU_ASSERT_EQUAL_FATAL(built, 0);

    char text[4096];
    snprintf(text, sizeof text,
             SITE "daemon = { plugin_dir = \"plugins\"; };\n" BUS
             "devices = (\n"
             "  { id = \"d1\"; bus = \"b\"; unit = 1; kind = \"nosuch\"; " POINT_P " },\n"
             "  { id = \"d2\"; bus = \"b\"; unit = 2; kind = \"nosuch\"; " POINT_P " },\n"
             "  { id = \"d3\"; bus = \"b\"; unit = 3; kind = \"notelf\"; " POINT_P " },\n"
             "  { id = \"d4\"; bus = \"b\"; unit = 4; kind = \"Bad.Kind\"; " POINT_P " },\n"
             "  { id = \"d5\"; bus = \"b\"; unit = 5; kind = \"../plugins/x\"; " POINT_P " }%s\n"
             ");\n",
             built == 0 ? ",\n"
                          "  { id = \"d6\"; bus = \"b\"; unit = 6; kind = \"nosymbol\"; " POINT_P " },\n"
                          "  { id = \"d7\"; bus = \"b\"; unit = 7; kind = \"oldabi\"; " POINT_P " },\n"
                          "  { id = \"d8\"; bus = \"b\"; unit = 8; kind = \"otherkind\"; " POINT_P " },\n"
                          "  { id = \"d9\"; bus = \"b\"; unit = 9; kind = \"nofini\"; " POINT_P " }"
                        : "");
    struct result r;
    load_at(&r, "kinds/greenwatch.conf", text);
    expect_valid("kinds: the configuration itself", &r);
    if (!r.cfg) {
        result_free(&r);
        return;
    }
    struct gw_kinds kinds;
    CU_ASSERT_EQUAL(kinds_load(r.cfg, &kinds, &r.diag), -EINVAL);
    char so[PATH_MAX + 32], abi[PATH_MAX + 96], kind[PATH_MAX + 96];
    snprintf(so, sizeof so, "cannot load %s/nosuch.so: ", dir);
    snprintf(abi, sizeof abi, "device 'd7': %s/oldabi.so was built for plugin ABI 99, this daemon speaks %u",
             dir, GW_PLUGIN_ABI_VERSION);
    snprintf(kind, sizeof kind, "device 'd8': %s/otherkind.so describes kind 'meter', not 'otherkind'", dir);
    const struct expect expect[] = {
        /* reported once, at the first device of the kind */
        E("\"d1\"", "device 'd1': unknown kind 'nosuch': "),
        E("\"d3\"", "device 'd3': unknown kind 'notelf': cannot load "),
        E("\"d4\"", "device 'd4': kind 'Bad.Kind' is not a valid kind name"),
        E("\"d5\"", "device 'd5': kind '../plugins/x' is not a valid kind name"),
        E("\"d6\"", "plugins/nosymbol.so is not a greenwatch plugin (no symbol greenwatch_plugin)"),
        E("\"d7\"", abi),
        E("\"d8\"", kind),
        E("\"d9\"", "plugins/nofini.so lacks init, derive or fini"),
    };
    size_t n = built == 0 ? N(expect) : 4;
    CU_ASSERT(match_diag("kinds", r.path, r.text, &r.diag, expect, n));
    /* the missing plugin's message names the path tried */
    bool named = false;
    for (size_t i = 0; i < r.diag.n; i++)
        named |= strstr(r.diag.lines[i], so) != NULL;
    CU_ASSERT(named);
    /* nothing half-loaded is offered */
    CU_ASSERT_PTR_NULL(kinds_find(&kinds, "nosuch"));
    CU_ASSERT_PTR_NULL(kinds_find(&kinds, "oldabi"));
    CU_ASSERT_PTR_NULL(kinds_find(&kinds, "otherkind"));
    CU_ASSERT_PTR_NULL(kinds_find(&kinds, "nofini"));
    kinds_free(&kinds);
    result_free(&r);
}

static int setup(void)
{
    return write_profiles() ? -1 : 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("config", setup, NULL);
    if (!suite ||
        !CU_add_test(suite, "syntax errors and a missing file", test_syntax_error) ||
        !CU_add_test(suite, "unknown keys, with suggestions", test_unknown_keys) ||
        !CU_add_test(suite, "wrong types", test_wrong_types) ||
        !CU_add_test(suite, "missing required keys", test_missing_required) ||
        !CU_add_test(suite, "out of range", test_out_of_range) ||
        !CU_add_test(suite, "unit 0 and shared units", test_unit_zero) ||
        !CU_add_test(suite, "unknown bus and profile", test_references) ||
        !CU_add_test(suite, "duplicate ids", test_duplicates) ||
        !CU_add_test(suite, "bus endpoints", test_bus_endpoints) ||
        !CU_add_test(suite, "register map errors", test_point_errors) ||
        !CU_add_test(suite, "profile files", test_profile_files) ||
        !CU_add_test(suite, "rules", test_rules) ||
        !CU_add_test(suite, "mqtt and influxdb", test_sinks) ||
        !CU_add_test(suite, "defaults", test_defaults) ||
        !CU_add_test(suite, "read limits: device > profile > default", test_limit_precedence) ||
        !CU_add_test(suite, "paths relative to the configuration", test_relative_paths) ||
        !CU_add_test(suite, "all errors at once", test_all_errors_at_once) ||
        !CU_add_test(suite, "shipped profiles load", test_shipped_profiles) ||
        !CU_add_test(suite, "kinds: generic", test_kinds_generic) ||
        !CU_add_test(suite, "kinds: refused plugins", test_kinds_refused)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
