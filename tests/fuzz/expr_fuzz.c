/*
 * libFuzzer target for the rule expression language: any bytes either
 * compile or are rejected with a position inside the text and a message;
 * whatever compiles evaluates, against points whose values and quality
 * vary with the name and the round, to one of the documented results,
 * and to the same result when wrapped in parentheses.  Any broken
 * invariant aborts, so that the fuzzer reports it.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static const double values[] = { 0, 1, -1, 2.5, -3, 1e308, -1e308, 1e-308, 0.5, 7 };

/* The quality and value of a point depend on its name and the round, so
 * that one expression sees good, unknown and missing inputs. */
static int lookup(void *ctx, const char *name, double *value)
{
    unsigned h = *(const unsigned *)ctx;

    for (const char *c = name; *c; c++)
        h = h * 31 + (unsigned char)*c;
    switch (h % 12) {
    case 10: return -EAGAIN;
    case 11: return h % 7 == 0 ? -ENOENT : -EAGAIN;
    default: *value = values[h % 12 % 10]; return 0;
    }
}

static void check_variables(const struct gw_expr *e, const char *text)
{
    const char *const *names;
    size_t n = expr_variables(e, &names);

    for (size_t i = 0; i < n; i++) {
        REQUIRE(names[i][0] && strstr(text, names[i]));
        for (size_t j = 0; j < i; j++)
            REQUIRE(strcmp(names[i], names[j]) != 0);
    }
}

/* Evaluates e in round r: rc, and the value when rc is 0. */
static int eval_round(const struct gw_expr *e, unsigned round, double *v)
{
    *v = 0;
    int rc = expr_eval(e, lookup, &round, v);
    REQUIRE(rc == 0 || rc == -EAGAIN || rc == -ENOENT || rc == -EDOM);
    REQUIRE(isfinite(*v));
    return rc;
}

/* "(text)", when it compiles (it may be too long or too deep), means the
 * same as text. */
static void check_parenthesised(const struct gw_expr *e, const char *text)
{
    size_t len = strlen(text);
    char *wrapped = malloc(len + 3);
    struct gw_expr *w = NULL;

    REQUIRE(wrapped);
    wrapped[0] = '(';
    memcpy(wrapped + 1, text, len);
    memcpy(wrapped + 1 + len, ")", 2);
    if (expr_compile(wrapped, &w, NULL, NULL, 0) == 0) {
        for (unsigned round = 0; round < 4; round++) {
            double a, b;
            int rc = eval_round(e, round, &a);
            REQUIRE(eval_round(w, round, &b) == rc && (rc != 0 || a == b));
        }
    }
    expr_free(w);
    free(wrapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[128];
    struct gw_expr *e = NULL;
    size_t pos = (size_t)-1;

    REQUIRE(text);
    memcpy(text, data, size);
    text[size] = '\0';
    err[0] = '\0';
    int rc = expr_compile(text, &e, &pos, err, sizeof err);
    if (rc < 0) {
        REQUIRE(rc == -EINVAL && e == NULL && err[0]);
        REQUIRE(pos <= strlen(text) && pos <= GW_EXPR_MAX_LEN);
    } else {
        REQUIRE(rc == 0 && e);
        check_variables(e, text);
        check_parenthesised(e, text);
    }
    expr_free(e);
    free(text);
    return 0;
}
