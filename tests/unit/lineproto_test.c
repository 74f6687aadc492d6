/*
 * Line protocol tests: escaping of every part of a line (tables), number
 * formatting (shortest text that reads back exactly), and whole lines.
 * That influxd and VictoriaMetrics read these lines back unchanged is
 * tested in tests/integration/influx_test.c.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "number.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct text_case {
    const char *in;
    const char *out;   /* NULL: refused with -EINVAL */
};

/* ---- escaping ----------------------------------------------------------- */

/* Tag values, tag keys and field keys escape the same characters. */
static const struct text_case tag_cases[] = {
    { "plain", "plain" },
    { "a b", "a\\ b" },
    { "a,b", "a\\,b" },
    { "a=b", "a\\=b" },
    { " ,= ", "\\ \\,\\=\\ " },
    { "冷水机组", "冷水机组" },
    { "一号楼", "一号楼" },
    { "一号楼 A座,东区", "一号楼\\ A座\\,东区" },
    { "say \"hi\"", "say\\ \"hi\"" },         /* quotes are ordinary in tags */
    { "x\\y", "x\\y" },                       /* a backslash before an ordinary character stays */
    { "x\\", "x/" },                          /* ... at the end it cannot be read back */
    { "x\\\\y", "x/\\y" },                    /* ... nor before another backslash */
    { "x\\,y", "x/\\,y" },
    { "x\\ y", "x/\\ y" },
    { "line1\nline2", "line1\\ line2" },      /* line breaks become spaces */
    { "cr\r\n", "cr\\ \\ " },
    { "tab\there", "tab\there" },
    { "", NULL },                             /* InfluxDB has no empty tag values */
};

/* One line "m,k=<in> f=1 1" built from a tag value, or NULL. */
static char *line_with_tag_value(const char *value, int *rc)
{
    struct lp_buf b = { 0 };
    lp_begin(&b, "m");
    *rc = lp_tag(&b, "k", value);
    lp_field_float(&b, "f", 1);
    CU_ASSERT_EQUAL(lp_end(&b, 1), 0);
    return b.data;
}

static void test_tag_values(void)
{
    for (size_t i = 0; i < N(tag_cases); i++) {
        int rc;
        char *line = line_with_tag_value(tag_cases[i].in, &rc);
        char want[256];
        if (tag_cases[i].out)
            snprintf(want, sizeof want, "m,k=%s f=1 1\n", tag_cases[i].out);
        else
            snprintf(want, sizeof want, "m f=1 1\n");
        CU_ASSERT_EQUAL(rc, tag_cases[i].out ? 0 : -EINVAL);
        CU_ASSERT_STRING_EQUAL(line, want);
        if (strcmp(line, want) != 0)
            fprintf(stderr, "\ntag value case %zu: got '%s' want '%s'\n", i, line, want);
        free(line);
    }
}

static void test_tag_and_field_keys(void)
{
    for (size_t i = 0; i < N(tag_cases); i++) {
        struct lp_buf b = { 0 };
        char want[256];
        lp_begin(&b, "m");
        int rc_tag = lp_tag(&b, tag_cases[i].in, "v");
        int rc_field = lp_field_float(&b, tag_cases[i].in, 2);
        lp_field_float(&b, "z", 3);
        CU_ASSERT_EQUAL(lp_end(&b, 7), 0);
        if (tag_cases[i].out)
            snprintf(want, sizeof want, "m,%s=v %s=2,z=3 7\n", tag_cases[i].out, tag_cases[i].out);
        else
            snprintf(want, sizeof want, "m z=3 7\n");
        CU_ASSERT_EQUAL(rc_tag, tag_cases[i].out ? 0 : -EINVAL);
        CU_ASSERT_EQUAL(rc_field, tag_cases[i].out ? 0 : -EINVAL);
        CU_ASSERT_STRING_EQUAL(b.data, want);
        lp_buf_free(&b);
    }
}

static const struct text_case measurement_cases[] = {
    { "chiller", "chiller" },
    { "my meter", "my\\ meter" },
    { "a,b", "a\\,b" },
    { "a=b", "a=b" },                         /* '=' needs no escape here */
    { "冷机", "冷机" },
    { "m\\", "m/" },
    { "two\nlines", "two\\ lines" },
    { "", NULL },
};

static void test_measurements(void)
{
    for (size_t i = 0; i < N(measurement_cases); i++) {
        struct lp_buf b = { 0 };
        int rc = lp_begin(&b, measurement_cases[i].in);
        CU_ASSERT_EQUAL(rc, measurement_cases[i].out ? 0 : -EINVAL);
        if (rc == 0) {
            char want[256];
            lp_field_float(&b, "v", 0.5);
            CU_ASSERT_EQUAL(lp_end(&b, 1000), 0);
            snprintf(want, sizeof want, "%s v=0.5 1000\n", measurement_cases[i].out);
            CU_ASSERT_STRING_EQUAL(b.data, want);
        } else {
            CU_ASSERT_EQUAL(b.len, 0);
        }
        lp_buf_free(&b);
    }
}

static const struct text_case string_cases[] = {
    { "running", "\"running\"" },
    { "", "\"\"" },
    { "say \"hi\"", "\"say \\\"hi\\\"\"" },
    { "C:\\path\\", "\"C:\\\\path\\\\\"" },
    { "\\\"", "\"\\\\\\\"\"" },
    { "a b,c=d", "\"a b,c=d\"" },             /* ordinary inside quotes */
    { "冷水机组 运行中", "\"冷水机组 运行中\"" },
    { "two\nlines\r", "\"two lines \"" },
};

static void test_string_fields(void)
{
    for (size_t i = 0; i < N(string_cases); i++) {
        struct lp_buf b = { 0 };
        char want[256];
        lp_begin(&b, "m");
        CU_ASSERT_EQUAL(lp_field_string(&b, "s", string_cases[i].in), 0);
        CU_ASSERT_EQUAL(lp_end(&b, 5), 0);
        snprintf(want, sizeof want, "m s=%s 5\n", string_cases[i].out);
        CU_ASSERT_STRING_EQUAL(b.data, want);
        lp_buf_free(&b);
    }
}

/* ---- numbers ------------------------------------------------------------ */

struct number_case {
    double v;
    const char *text;
};

static const struct number_case number_cases[] = {
    { 0.0, "0" },
    { -0.0, "-0" },
    { 1.0, "1" },
    { 42.0, "42" },                           /* a float without 'i': never an integer */
    { -273.15, "-273.15" },
    { 0.1, "0.1" },
    { 21.5, "21.5" },
    { 0.1 + 0.2, "0.30000000000000004" },     /* needs 17 digits */
    { 1.0 / 3.0, "0.3333333333333333" },      /* needs 16 */
    { 123456789012345.0, "123456789012345" },
    { 1234567890123456789.0, "1.2345678901234568e+18" },
    { 1e21, "1e+21" },
    { 1.5e-7, "1.5e-07" },
    { 4294967295.0, "4294967295" },
    { 18446744073709551615.0, "1.8446744073709552e+19" },
    { DBL_MAX, "1.7976931348623157e+308" },
    { DBL_MIN, "2.2250738585072014e-308" },
    { 4.9406564584124654e-324, "4.94065645841247e-324" },  /* the least denormal */
    { (double)3.14159f, "3.141590118408203" },  /* a float32 widened (decode.c shortens those) */
};

static void test_number_table(void)
{
    for (size_t i = 0; i < N(number_cases); i++) {
        char out[32];
        int len = number_format(out, sizeof out, number_cases[i].v);
        CU_ASSERT_EQUAL((size_t)len, strlen(out));
        CU_ASSERT_STRING_EQUAL(out, number_cases[i].text);
        if (strcmp(out, number_cases[i].text) != 0)
            fprintf(stderr, "\nnumber case %zu: got %s want %s\n", i, out, number_cases[i].text);
    }
}

/* Every finite double reads back exactly, in at most 17 significant
 * digits, and no shorter %.Ng form would also read back. */
static void test_number_round_trip(void)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        char out[32], shorter[32];
        number_format(out, sizeof out, v);
        CU_ASSERT_FATAL(strtod(out, NULL) == v);
        for (int p = 15; p <= 16; p++) {
            snprintf(shorter, sizeof shorter, "%.*g", p, v);
            if (strtod(shorter, NULL) == v) {
                CU_ASSERT_FATAL(strlen(out) <= strlen(shorter));
                break;
            }
        }
    }
}

/* The slow path alone: the shortest of %.15g, %.16g, %.17g that reads
 * back. */
static void reference_format(char *out, size_t n, double v)
{
    for (int p = 15; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Readings with few decimals take a fast path: it must print exactly
 * what the %g path prints. */
static void test_number_fast_path(void)
{
    static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7 };
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t k = (int64_t)(x % 2000000000000001ull) - 1000000000000000ll;
        k /= (int64_t)1 << ((x >> 58) % 50);   /* all magnitudes */
        double v = (double)k / pow10[(x >> 40) % 8];
        char got[32], want[32];
        number_format(got, sizeof got, v);
        reference_format(want, sizeof want, v);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "\n%.17g: got %s want %s\n", v, got, want);
        CU_ASSERT_STRING_EQUAL_FATAL(got, want);
    }
}

static void test_non_finite_left_out(void)
{
    struct lp_buf b = { 0 };
    lp_begin(&b, "m");
    CU_ASSERT_EQUAL(lp_field_float(&b, "nan", NAN), -EINVAL);
    CU_ASSERT_EQUAL(lp_field_float(&b, "inf", INFINITY), -EINVAL);
    CU_ASSERT_EQUAL(lp_field_float(&b, "ninf", -INFINITY), -EINVAL);
    CU_ASSERT_EQUAL(lp_field_float(&b, "ok", 2.5), 0);
    CU_ASSERT_EQUAL(lp_end(&b, 9), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "m ok=2.5 9\n");
    lp_buf_free(&b);
}

/* ---- whole lines -------------------------------------------------------- */

static void test_full_line(void)
{
    struct lp_buf b = { 0 };
    CU_ASSERT_EQUAL(lp_begin(&b, "chiller"), 0);
    CU_ASSERT_EQUAL(lp_tag(&b, "building", "一号楼"), 0);
    CU_ASSERT_EQUAL(lp_tag(&b, "category", "冷水机组"), 0);
    CU_ASSERT_EQUAL(lp_tag(&b, "device", "chiller-1"), 0);
    CU_ASSERT_EQUAL(lp_tag(&b, "site", "demo tower"), 0);
    CU_ASSERT_EQUAL(lp_field_float(&b, "chw_supply_temp", 6.8), 0);
    CU_ASSERT_EQUAL(lp_field_float(&b, "kw", 312.0), 0);
    CU_ASSERT_EQUAL(lp_field_string(&b, "mode", "auto \"eco\""), 0);
    CU_ASSERT_EQUAL(lp_end(&b, 1795766868123), 0);
    CU_ASSERT_STRING_EQUAL(b.data,
        "chiller,building=一号楼,category=冷水机组,device=chiller-1,site=demo\\ tower "
        "chw_supply_temp=6.8,kw=312,mode=\"auto \\\"eco\\\"\" 1795766868123\n");
    lp_buf_free(&b);
}

/* A line without a field is taken back; the lines before it stay. */
static void test_line_without_fields(void)
{
    struct lp_buf b = { 0 };
    lp_begin(&b, "m");
    lp_field_float(&b, "v", 1);
    CU_ASSERT_EQUAL(lp_end(&b, 1), 0);
    size_t len = b.len;
    lp_begin(&b, "meter");
    lp_tag(&b, "device", "m-1");
    lp_field_float(&b, "bad", NAN);
    CU_ASSERT_EQUAL(lp_end(&b, 2), -ENODATA);
    CU_ASSERT_EQUAL(b.len, len);
    CU_ASSERT_STRING_EQUAL(b.data, "m v=1 1\n");
    lp_begin(&b, "m");
    lp_field_float(&b, "v", 2);
    CU_ASSERT_EQUAL(lp_end(&b, -1), 0);  /* before 1970: negative timestamps are valid */
    CU_ASSERT_STRING_EQUAL(b.data, "m v=1 1\nm v=2 -1\n");
    lp_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(b.data, "");
    lp_buf_free(&b);
}

/* Many lines: the buffer grows, every line stays whole. */
static void test_many_lines(void)
{
    struct lp_buf b = { 0 };
    for (int i = 0; i < 10000; i++) {
        lp_begin(&b, "meter");
        lp_tag(&b, "device", "m-1");
        lp_field_float(&b, "kwh", i * 0.25);
        CU_ASSERT_EQUAL_FATAL(lp_end(&b, 1000 + i), 0);
    }
    int lines = 0;
    for (const char *p = b.data; (p = strchr(p, '\n')); p++)
        lines++;
    CU_ASSERT_EQUAL(lines, 10000);
    CU_ASSERT(strstr(b.data, "meter,device=m-1 kwh=2499.75 10999\n") != NULL);
    lp_buf_free(&b);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "tag values", test_tag_values },
        { "tag and field keys", test_tag_and_field_keys },
        { "measurements", test_measurements },
        { "string fields", test_string_fields },
        { "number table", test_number_table },
        { "number round trip", test_number_round_trip },
        { "number fast path", test_number_fast_path },
        { "non-finite numbers left out", test_non_finite_left_out },
        { "full line", test_full_line },
        { "line without fields", test_line_without_fields },
        { "many lines", test_many_lines },
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("lineproto", NULL, NULL);
    for (size_t i = 0; suite && i < N(tests); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
