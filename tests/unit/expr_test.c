/*
 * The rule expression language: values of a table of expressions over
 * fixed points (precedence, associativity, unary operators, functions,
 * short-circuit with unknown inputs, errors), a table of bad inputs with
 * the exact position and message of the error, the length and nesting
 * limits at and past their bounds, and the point names an expression reads.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"

#define CHECK(cond, what) check_case((cond), #cond, (what), __LINE__)

/* Records a failure naming the table case.  CUnit copies the message. */
static void check_case(bool ok, const char *cond, const char *what, int line)
{
    char msg[512];

    snprintf(msg, sizeof msg, "%s: %s", what, cond);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, msg, __FILE__, "", CU_FALSE);
}

/* ---- the points every case sees ----------------------------------------- */

static const struct point { const char *name; int rc; double value; } points[] = {
    { "a", 0, 2 },        { "b", 0, 3 },         { "c", 0, 5 },
    { "x", 0, -4 },       { "zero", 0, 0 },      { "running", 0, 1 },
    { "stopped", 0, 0 },  { "bad", -EAGAIN, 0 }, { "inf", 0, INFINITY },
    { "chw_supply_temp", 0, 7 }, { "chw_return_temp", 0, 9.5 },
    { "cop", 0, 3.9 },    { "design_cop", 0, 5 }, { "dev.temp", 0, 21.5 },
};

static int lookups;

static int lookup(void *ctx, const char *name, double *value)
{
    (void)ctx;
    lookups++;
    for (size_t i = 0; i < sizeof points / sizeof *points; i++)
        if (strcmp(points[i].name, name) == 0) {
            if (points[i].rc == 0)
                *value = points[i].value;
            return points[i].rc;
        }
    return -ENOENT;
}

/* Compiles and evaluates; returns the rc of whichever step failed. */
static int run(const char *text, double *value, char *err, size_t err_len)
{
    struct gw_expr *e = NULL;
    size_t pos = 0;
    int rc = expr_compile(text, &e, &pos, err, err_len);

    if (rc == 0)
        rc = expr_eval(e, lookup, NULL, value);
    expr_free(e);
    return rc;
}

/* ---- values --------------------------------------------------------------- */

struct value_case {
    const char *text;
    int rc;
    double value;  /* when rc is 0 */
};

static const struct value_case value_cases[] = {
    /* precedence and associativity */
    { "1 + 2 * 3", 0, 7 },
    { "(1 + 2) * 3", 0, 9 },
    { "2 * 3 + 4", 0, 10 },
    { "10 - 4 - 3", 0, 3 },
    { "64 / 4 / 2", 0, 8 },
    { "2 * 3 % 4", 0, 2 },
    { "7 % 4", 0, 3 },
    { "-7 % 4", 0, -3 },
    { "7.5 % 2", 0, 1.5 },
    { "1 + 2 < 4", 0, 1 },
    { "1 + 2 < 3", 0, 0 },
    { "(1 < 2) == 1", 0, 1 },
    { "1 or 0 and 0", 0, 1 },
    { "(1 or 0) and 0", 0, 0 },
    { "1 && 0 || 1", 0, 1 },
    { "0 || 1 && 0", 0, 0 },
    { "a < b and b < c", 0, 1 },
    /* unary operators bind tightest */
    { "not 0 and 0", 0, 0 },
    { "not 1 + 1", 0, 1 },
    { "-2 * -3", 0, 6 },
    { "- -2", 0, 2 },
    { "--2", 0, 2 },
    { "2 - -2", 0, 4 },
    { "2--2", 0, 4 },
    { "-a", 0, -2 },
    { "-(a + b)", 0, -5 },
    { "!0", 0, 1 },
    { "!5", 0, 0 },
    { "not not 7", 0, 1 },
    { "!!-3", 0, 1 },
    /* comparisons */
    { "a != b", 0, 1 },
    { "a == 2", 0, 1 },
    { "a <= 2", 0, 1 },
    { "a < 2", 0, 0 },
    { "a >= 3", 0, 0 },
    { "a > 1.5", 0, 1 },
    /* numbers and constants */
    { "1e3", 0, 1000 },
    { "1.5e-3", 0, 0.0015 },
    { "2.5E+2", 0, 250 },
    { ".5", 0, 0.5 },
    { "2.", 0, 2 },
    { "007", 0, 7 },
    { "true", 0, 1 },
    { "false", 0, 0 },
    { "true + true", 0, 2 },
    { " \t1\n+\r2 ", 0, 3 },
    /* functions */
    { "abs(x)", 0, 4 },
    { "abs(-2.5)", 0, 2.5 },
    { "abs (x)", 0, 4 },
    { "min(a, b, c)", 0, 2 },
    { "max(a, b, c)", 0, 5 },
    { "min(c, x, a)", 0, -4 },
    { "min(3)", 0, 3 },
    { "max(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16)", 0, 16 },
    { "max(x, -10) * 2", 0, -8 },
    { "min(max(a, x), 1)", 0, 1 },
    { "-abs(x)", 0, -4 },
    /* the examples of the header, and dotted names */
    { "running and (chw_return_temp - chw_supply_temp) < 3.0", 0, 1 },
    { "cop < max(3.5, 0.8 * design_cop)", 0, 1 },
    { "dev.temp > 20", 0, 1 },
    /* unknown inputs: false and unknown is false, true or unknown is true */
    { "stopped and bad > 3", 0, 0 },
    { "running and bad > 3", -EAGAIN, 0 },
    { "bad > 3 and stopped", 0, 0 },
    { "bad > 3 and running", -EAGAIN, 0 },
    { "running or bad", 0, 1 },
    { "bad or running", 0, 1 },
    { "bad or stopped", -EAGAIN, 0 },
    { "stopped or bad", -EAGAIN, 0 },
    { "bad and bad", -EAGAIN, 0 },
    { "(bad or running) and (bad and stopped)", 0, 0 },
    { "not bad", -EAGAIN, 0 },
    { "-bad", -EAGAIN, 0 },
    { "bad + 1", -EAGAIN, 0 },
    { "bad * 0", -EAGAIN, 0 },
    { "bad == bad", -EAGAIN, 0 },
    { "abs(bad)", -EAGAIN, 0 },
    { "min(bad, 1)", -EAGAIN, 0 },
    { "max(1, bad)", -EAGAIN, 0 },
    /* unknown points: an error unless short-circuited away */
    { "nosuch", -ENOENT, 0 },
    { "stopped and nosuch", 0, 0 },
    { "running or nosuch", 0, 1 },
    { "running and nosuch", -ENOENT, 0 },
    { "bad and nosuch", -ENOENT, 0 },
    { "bad + nosuch", -ENOENT, 0 },
    { "min(1, nosuch)", -ENOENT, 0 },
    /* division by zero, non-finite results and inputs */
    { "1 / 0", -EDOM, 0 },
    { "a / zero", -EDOM, 0 },
    { "a % zero", -EDOM, 0 },
    { "a / (b - 3)", -EDOM, 0 },
    { "bad / 0", -EDOM, 0 },
    { "0 / bad", -EAGAIN, 0 },
    { "zero / a", 0, 0 },
    { "1e308 * 10", -EDOM, 0 },
    { "-1e308 - 1e308", -EDOM, 0 },
    { "inf > 0", -EDOM, 0 },
    { "stopped and 1 / 0", 0, 0 },
    { "1 / 0 and stopped", -EDOM, 0 },
};

static void test_values(void)
{
    for (size_t i = 0; i < sizeof value_cases / sizeof *value_cases; i++) {
        const struct value_case *c = &value_cases[i];
        char err[128] = "";
        double v = -12345;
        int rc = run(c->text, &v, err, sizeof err);

        if (rc != c->rc || (rc == 0 && v != c->value))
            fprintf(stderr, "\n  '%s': rc %d, value %g (want %d, %g) %s\n", c->text, rc, v,
                    c->rc, c->value, err);
        CHECK(rc == c->rc, c->text);
        if (c->rc == 0)
            CHECK(v == c->value, c->text);
        else
            CHECK(v == -12345, c->text);  /* *result untouched on error */
    }
}

/* Short-circuit means the right operand is not evaluated at all. */
static void test_short_circuit_skips_lookups(void)
{
    double v;

    lookups = 0;
    CU_ASSERT_EQUAL(run("stopped and (a + b + c > 0)", &v, NULL, 0), 0);
    CU_ASSERT_EQUAL(lookups, 1);
    lookups = 0;
    CU_ASSERT_EQUAL(run("running or a or b or c", &v, NULL, 0), 0);
    CU_ASSERT_EQUAL(lookups, 1);
    lookups = 0;
    CU_ASSERT_EQUAL(run("bad or a and b", &v, NULL, 0), 0);
    CU_ASSERT_EQUAL(lookups, 3);
}

/* ---- bad input -------------------------------------------------------------- */

struct error_case {
    const char *text;
    size_t pos;
    const char *message;  /* a fragment of it */
};

static const struct error_case error_cases[] = {
    /* empty */
    { "", 0, "empty expression" },
    { "  \t ", 4, "empty expression" },
    /* unbalanced parentheses */
    { "(", 1, "expected an operand, found the end" },
    { "(1 + 2", 6, "expected ')' to close '(' at 0, found the end" },
    { "((1) + 2", 8, "expected ')' to close '(' at 0" },
    { "a * (b + (c - 1) ", 17, "expected ')' to close '(' at 4" },
    { "(1 2)", 3, "expected ')' to close '(' at 0, found a number" },
    { "1 + 2)", 5, "unbalanced ')'" },
    { "(1))", 3, "unbalanced ')'" },
    { ")", 0, "expected an operand, found ')'" },
    { "()", 1, "expected an operand, found ')'" },
    /* trailing garbage */
    { "1 2", 2, "expected an operator or the end, found a number" },
    { "a b", 2, "expected an operator or the end, found 'b'" },
    { "a < 3 x", 6, "found 'x'" },
    { "abs(1) (2)", 7, "found '('" },
    { "1 ,", 2, "found ','" },
    /* operators without operands */
    { "1 + * 2", 4, "expected an operand, found '*'" },
    { "1 +", 3, "expected an operand, found the end" },
    { "* 2", 0, "expected an operand, found '*'" },
    { "+2", 0, "expected an operand, found '+'" },
    { "1 and or 2", 6, "expected an operand, found 'or'" },
    { "not", 3, "expected an operand, found the end" },
    { "a < < b", 4, "expected an operand, found '<'" },
    { "1 < 2 < 3", 6, "comparisons do not chain" },
    { "a == b != c", 7, "comparisons do not chain" },
    /* bad numbers */
    { "1e", 0, "malformed number: no digits in the exponent" },
    { "1e+", 0, "no digits in the exponent" },
    { "2 * 1.5e-x", 4, "no digits in the exponent" },
    { "1.2.3", 0, "malformed number" },
    { "0x10", 0, "malformed number" },
    { "a > 3kW", 4, "malformed number" },
    { "1e999", 0, "number out of range" },
    { ".", 0, "unexpected character '.'" },
    { ".e5", 0, "unexpected character '.'" },
    /* functions */
    { "foo(1)", 0, "unknown function 'foo'" },
    { "1 + sqrt (2)", 4, "unknown function 'sqrt'" },
    { "abs(1, 2)", 7, "'abs' takes at most 1 argument" },
    { "max()", 4, "'max' takes at least 1 argument" },
    { "max(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17)", 43, "'max' takes at most 16 arguments" },
    { "max(1,)", 6, "expected an operand, found ')'" },
    { "max(1 2)", 6, "expected ',' or ')' after an argument of 'max' at 0, found a number" },
    { "1 + min(a, (b)", 14, "expected ',' or ')' after an argument of 'min' at 4, found the end" },
    { "max", 3, "expected '(' after 'max', found the end" },
    { "min + 1", 4, "expected '(' after 'min', found '+'" },
    /* stray characters */
    { "a = 3", 2, "unexpected '=' (equality is '==')" },
    { "a & b", 2, "expected '&&'" },
    { "a | b", 2, "expected '||'" },
    { "a $ b", 2, "unexpected character '$'" },
    { "temp > 3 # comment", 9, "unexpected character '#'" },
    { "a;", 1, "unexpected character ';'" },
    { "\"a\" > 1", 0, "unexpected character '\"'" },
    { "\xce\x94T < 3", 0, "unexpected byte 0xce" },
    { "t\xc2\xb0 > 3", 1, "unexpected byte 0xc2" },
    { "a\x01", 1, "unexpected byte 0x01" },
    { "1 +\x7f", 3, "unexpected byte 0x7f" },
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof *error_cases; i++) {
        const struct error_case *c = &error_cases[i];
        static char not_null;
        struct gw_expr *e = (struct gw_expr *)&not_null;  /* to be cleared */
        char err[160] = "";
        size_t pos = 9999;
        int rc = expr_compile(c->text, &e, &pos, err, sizeof err);

        if (rc != -EINVAL || pos != c->pos || !strstr(err, c->message))
            fprintf(stderr, "\n  '%s': rc %d at %zu '%s' (want %zu '%s')\n", c->text, rc, pos,
                    err, c->pos, c->message);
        CHECK(rc == -EINVAL, c->text);
        CHECK(pos == c->pos, c->text);
        CHECK(strstr(err, c->message) != NULL, c->text);
        CHECK(e == NULL, c->text);
    }
}

static void test_error_reporting_optional(void)
{
    struct gw_expr *e;
    char err[8];
    size_t pos;

    /* a short buffer is truncated, not overrun */
    memset(err, 'x', sizeof err);
    CU_ASSERT_EQUAL(expr_compile("(1", &e, &pos, err, sizeof err), -EINVAL);
    CU_ASSERT_EQUAL(pos, 2);
    CU_ASSERT_EQUAL(strlen(err), sizeof err - 1);
    /* no position, no message */
    CU_ASSERT_EQUAL(expr_compile("(1", &e, NULL, NULL, 0), -EINVAL);
    CU_ASSERT_PTR_NULL(e);
    /* bad arguments */
    CU_ASSERT_EQUAL(expr_compile(NULL, &e, &pos, NULL, 0), -EINVAL);
    CU_ASSERT_EQUAL(expr_compile("1", NULL, &pos, NULL, 0), -EINVAL);
    CU_ASSERT_EQUAL(expr_compile("1", &e, NULL, NULL, 0), 0);
    double v;
    CU_ASSERT_EQUAL(expr_eval(NULL, lookup, NULL, &v), -EINVAL);
    CU_ASSERT_EQUAL(expr_eval(e, NULL, NULL, &v), -EINVAL);
    CU_ASSERT_EQUAL(expr_eval(e, lookup, NULL, NULL), -EINVAL);
    expr_free(e);
    expr_free(NULL);
}

/* ---- limits ------------------------------------------------------------------ */

/* Compiles text; returns the rc, the error position and message. */
static int compile_only(const char *text, size_t *pos, char *err, size_t err_len)
{
    struct gw_expr *e = NULL;
    int rc = expr_compile(text, &e, pos, err, err_len);

    expr_free(e);
    return rc;
}

/* Builds prefix × n + middle + suffix × n. */
static char *nest(const char *prefix, const char *middle, const char *suffix, int n)
{
    size_t len = (strlen(prefix) + strlen(suffix)) * (size_t)n + strlen(middle) + 1;
    char *s = malloc(len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    s[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(s, prefix);
    strcat(s, middle);
    for (int i = 0; i < n; i++)
        strcat(s, suffix);
    return s;
}

static void test_length_limit(void)
{
    char text[GW_EXPR_MAX_LEN + 2], err[128];
    size_t pos;
    double v;

    /* 1+1+...+1 of exactly the limit: 512 ones */
    for (size_t i = 0; i < GW_EXPR_MAX_LEN; i++)
        text[i] = i % 2 ? '+' : '1';
    text[GW_EXPR_MAX_LEN - 1] = ' ';
    text[GW_EXPR_MAX_LEN] = '\0';
    CU_ASSERT_EQUAL(run(text, &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, GW_EXPR_MAX_LEN / 2);
    /* one byte more */
    text[GW_EXPR_MAX_LEN] = ' ';
    text[GW_EXPR_MAX_LEN + 1] = '\0';
    CU_ASSERT_EQUAL(compile_only(text, &pos, err, sizeof err), -EINVAL);
    CU_ASSERT_EQUAL(pos, GW_EXPR_MAX_LEN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than 1024 bytes"));
    /* the deepest evaluation stack that fits: max(1,max(1,... */
    char *deep = nest("max(1,", "1", ")", GW_EXPR_MAX_DEPTH);
    CU_ASSERT_EQUAL(run(deep, &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 1);
    free(deep);
}

struct depth_case {
    const char *prefix, *middle, *suffix;
    size_t step, offset;  /* level 33 opens at 32 * step + offset */
};

static void test_depth_limit(void)
{
    const struct depth_case cases[] = {
        { "(", "1", ")", 1, 0 },
        { "-", "1", "", 1, 0 },
        { "not ", "1", "", 4, 0 },
        { "abs(", "1", ")", 4, 3 },  /* at the '(' of the call */
        { "(1+", "1", ")", 3, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct depth_case *c = &cases[i];
        char err[128];
        size_t pos = 0;
        double v;
        char *ok = nest(c->prefix, c->middle, c->suffix, GW_EXPR_MAX_DEPTH);
        char *over = nest(c->prefix, c->middle, c->suffix, GW_EXPR_MAX_DEPTH + 1);

        CHECK(run(ok, &v, err, sizeof err) == 0, c->prefix);
        CHECK(compile_only(over, &pos, err, sizeof err) == -EINVAL, c->prefix);
        CHECK(pos == GW_EXPR_MAX_DEPTH * c->step + c->offset, c->prefix);
        CHECK(strstr(err, "nested deeper than 32 levels") != NULL, c->prefix);
        free(ok);
        free(over);
    }
}

/* ---- expr_variables ------------------------------------------------------------ */

static void test_variables(void)
{
    struct gw_expr *e;
    const char *const *names;

    CU_ASSERT_EQUAL_FATAL(expr_compile("b + a * b - max(c, a) > dev.temp or stopped and b",
                                       &e, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(expr_variables(e, &names), 5);
    CU_ASSERT_STRING_EQUAL(names[0], "b");
    CU_ASSERT_STRING_EQUAL(names[1], "a");
    CU_ASSERT_STRING_EQUAL(names[2], "c");
    CU_ASSERT_STRING_EQUAL(names[3], "dev.temp");
    CU_ASSERT_STRING_EQUAL(names[4], "stopped");
    expr_free(e);

    /* keywords and functions are not points */
    CU_ASSERT_EQUAL_FATAL(expr_compile("not true and abs(-1) < max(2, 3)", &e, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(expr_variables(e, &names), 0);
    expr_free(e);

    /* names that merely start like keywords are points */
    CU_ASSERT_EQUAL_FATAL(expr_compile("notify + order + android + truex + abs_max", &e, NULL,
                                       NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(expr_variables(e, &names), 5);
    CU_ASSERT_STRING_EQUAL(names[0], "notify");
    CU_ASSERT_STRING_EQUAL(names[4], "abs_max");
    expr_free(e);
    CU_ASSERT_EQUAL(expr_variables(NULL, &names), 0);
}

/* An expression compiled once is evaluated many times, against changing
 * values, with the same results as a fresh compile. */
static void test_reuse(void)
{
    struct gw_expr *e;
    double v;

    CU_ASSERT_EQUAL_FATAL(expr_compile("running and a > 1", &e, NULL, NULL, 0), 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(expr_eval(e, lookup, NULL, &v), 0);
        CU_ASSERT_EQUAL(v, 1);
    }
    expr_free(e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("expr", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "values: precedence, functions, unknowns, errors", test_values) ||
        !CU_add_test(suite, "short-circuit skips lookups", test_short_circuit_skips_lookups) ||
        !CU_add_test(suite, "bad input: position and message", test_errors) ||
        !CU_add_test(suite, "error reporting is optional; bad arguments", test_error_reporting_optional) ||
        !CU_add_test(suite, "length limit", test_length_limit) ||
        !CU_add_test(suite, "nesting limit", test_depth_limit) ||
        !CU_add_test(suite, "variables in order of appearance", test_variables) ||
        !CU_add_test(suite, "compiled once, evaluated often", test_reuse)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
