/*
 * What a write's answer means (influx_answer.h), on the answers InfluxDB
 * 1.x, 2.x and VictoriaMetrics give: the outcome of each status and
 * message, the server's message, how many lines were refused, and which
 * line of the request a message is about.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "influx_answer.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct classify_case {
    long status;
    const char *body;
    enum influx_outcome want;
};

static const struct classify_case classify_cases[] = {
    { 204, NULL, INFLUX_DELIVERED },
    { 200, "", INFLUX_DELIVERED },
    /* 1.x: the rest of the request was stored */
    { 400, "{\"error\":\"partial write: field type conflict: input field \\\"v\\\" on measurement \\\"c\\\" "
           "is type float, already exists as type string dropped=3\"}", INFLUX_PARTIAL },
    { 400, "{\"error\":\"partial write: unable to parse 'bad': missing fields dropped=0\"}", INFLUX_PARTIAL },
    /* 1.x: nothing stored (every line bad, or a conflict within the request) */
    { 400, "{\"error\":\"unable to parse 'x': invalid field format\"}", INFLUX_REFUSED },
    { 400, "{\"error\":\"field type conflict\"}", INFLUX_REFUSED },
    /* 2.x */
    { 400, "{\"code\":\"invalid\",\"message\":\"failed to parse line protocol: errors encountered on "
           "line(s):\\nline 2: Unable to parse 'x'\"}", INFLUX_REFUSED },
    { 422, "{\"code\":\"unprocessable entity\",\"message\":\"failure writing points to database: partial "
           "write: points beyond retention policy dropped=2\"}", INFLUX_PARTIAL },
    /* about the request, not its lines: never costs a record */
    { 400, "{\"error\":\"database is required\"}", INFLUX_RETRY },
    { 404, "{\"error\":\"database not found: \\\"gw\\\"\"}", INFLUX_RETRY },
    { 413, "{\"error\":\"Request Entity Too Large\"}", INFLUX_TOO_LARGE },
    { 401, "{\"error\":\"authorization failed\"}", INFLUX_AUTH },
    { 403, NULL, INFLUX_AUTH },
    { 429, NULL, INFLUX_RETRY },
    { 500, "{\"error\":\"timeout\"}", INFLUX_RETRY },
    { 503, "", INFLUX_RETRY },
    { 0, NULL, INFLUX_RETRY },
};

static void test_classify(void)
{
    for (size_t i = 0; i < N(classify_cases); i++) {
        enum influx_outcome got = influx_classify(classify_cases[i].status, classify_cases[i].body);
        if (got != classify_cases[i].want)
            fprintf(stderr, "\ncase %zu (HTTP %ld): got %d want %d\n", i, classify_cases[i].status, got,
                    classify_cases[i].want);
        CU_ASSERT_EQUAL(got, classify_cases[i].want);
    }
}

static void test_message(void)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        { "{\"error\":\"authorization failed\"}", "authorization failed" },
        { "{\"code\":\"invalid\",\"message\":\"two\\nlines\"}", "two lines" },
        { "upstream timed out\r\n", "upstream timed out  " },
        { "", "(no message)" },
        { NULL, "(no message)" },
        { "{\"error\":42}", "{\"error\":42}" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[64];
        influx_message(cases[i].body, out, sizeof out);
        CU_ASSERT_STRING_EQUAL(out, cases[i].want);
    }
    char small[8];
    influx_message("{\"error\":\"a long message\"}", small, sizeof small);
    CU_ASSERT_STRING_EQUAL(small, "a long ");
}

static void test_refused_count(void)
{
    static const struct {
        const char *body;
        size_t lines, want;
    } cases[] = {
        { "partial write: field type conflict: ... dropped=3", 10, 3 },
        { "partial write: unable to parse 'bad': missing fields dropped=0", 10, 1 },
        { "unable to parse 'a': x\nunable to parse 'b': y", 10, 2 },
        { "errors encountered on line(s):\nline 2: bad\nline 5: worse", 10, 2 },
        { "points beyond retention policy dropped=7", 5, 5 },
        { "something else", 10, 1 },
        { NULL, 3, 1 },
    };
    for (size_t i = 0; i < N(cases); i++)
        CU_ASSERT_EQUAL(influx_refused_count(cases[i].body, cases[i].lines), cases[i].want);
}

static struct gw_spool_record line_of(const char *text)
{
    return (struct gw_spool_record){ .data = text, .len = (uint32_t)strlen(text) };
}

static void test_offending_line(void)
{
    struct gw_spool_record lines[] = {
        line_of("chiller,device=c1 kw=1.5 1000\n"),
        line_of("meter,device=m1 kw=\"text\" 1000\n"),
        line_of("chiller,device=c\\ 2,floor=B1 a=1,note=\"x, \\\"y\\\" z=1\",kw=\"text\" 1000\n"),
        line_of("chiller,device=c3 kw=5i 1000\n"),
        line_of("chiller kw=true 1000\n"),
    };
    size_t n = N(lines);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"kw\" on measurement \"chiller\" is type string, "
                                          "already exists as type float dropped=1", lines, n), 2);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"kw\" on measurement \"chiller\" is type integer, "
                                          "already exists as type float", lines, n), 3);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"kw\" on measurement \"chiller\" is type boolean, "
                                          "already exists as type float", lines, n), 4);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"kw\" on measurement \"meter\" is type string, "
                                          "already exists as type float", lines, n), 1);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"kw\" on measurement \"pump\" is type string, "
                                          "already exists as type float", lines, n), -1);
    CU_ASSERT_EQUAL(influx_offending_line("input field \"z\" on measurement \"chiller\" is type float, "
                                          "already exists as type string", lines, n), -1);  /* inside a string */
    /* 2.x names the line */
    CU_ASSERT_EQUAL(influx_offending_line("errors encountered on line(s): line 4: invalid", lines, n), 3);
    CU_ASSERT_EQUAL(influx_offending_line("errors encountered on line(s): line 9: invalid", lines, n), -1);
    /* 1.x quotes it: nothing to add */
    CU_ASSERT_EQUAL(influx_offending_line("unable to parse 'chiller kw=': missing field value", lines, n), -1);
    CU_ASSERT_EQUAL(influx_offending_line("timeout", lines, n), -1);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "classify", test_classify },
        { "message", test_message },
        { "refused count", test_refused_count },
        { "offending line", test_offending_line },
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("influx_answer", NULL, NULL);
    for (size_t i = 0; suite && i < N(tests); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
