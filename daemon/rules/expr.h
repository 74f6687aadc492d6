/*
 * The rule expression language: arithmetic, comparisons and logic over a
 * device's points, e.g.
 *
 *     running and (chw_return_temp - chw_supply_temp) < 3.0
 *     cop < max(3.5, 0.8 * design_cop)
 *
 * Numbers, point names ([A-Za-z_][A-Za-z0-9_.]*), parentheses, unary -
 * and not, * / %, + -, < <= > >= == !=, and, or (also && || !), and the
 * functions abs(x), min(a, b, ...), max(a, b, ...) (1 to 16 arguments).
 * Booleans are 1 and 0; any non-zero value is true.  No loops, no
 * assignment, no side effects; bounded length and nesting, so that any
 * input, however hostile, is either compiled or rejected with the
 * position of the error.
 *
 * Precedence, tightest first: unary - and not; * / %; + -; comparisons;
 * and; or.  Binary operators are left-associative, except comparisons,
 * which do not chain (`a < b < c` is an error; write `a < b and b < c`).
 * So `not x > 3` is `(not x) > 3`: write `not (x > 3)`.  Numbers are
 * decimal (12, 1.5, .5, 1e-3); true and false are 1 and 0; and, or, not,
 * true, false, abs, min and max are not point names.  % is fmod(): its
 * result has the sign of the dividend.
 */
#ifndef GW_EXPR_H
#define GW_EXPR_H

#include <stddef.h>

#define GW_EXPR_MAX_LEN 1024   /* bytes of text */
#define GW_EXPR_MAX_DEPTH 32   /* nested parentheses, calls and unary operators */

struct gw_expr;

/*
 * Compile text.  Returns 0 and *out, owned by the caller (expr_free), or
 * -EINVAL with *err_pos (the byte offset of the problem in text, at most
 * its length) and a message in err ("expected ')' to close '(' at 4,
 * found the end"), or -ENOMEM; *out is NULL on error.  err_pos and err
 * may be NULL; the message is truncated to err_len.  -EINVAL without a
 * position if text or out is NULL.
 */
int expr_compile(const char *text, struct gw_expr **out, size_t *err_pos, char *err, size_t err_len);

/* Looks a point up: 0 and *value for a good value; -EAGAIN when the
 * point exists but is not good (bad or uncertain); -ENOENT otherwise. */
typedef int (*gw_expr_lookup)(void *ctx, const char *name, double *value);

/*
 * Evaluate.  Returns 0 and *result; -EAGAIN if an input it needed was not
 * good (the result is unknown, not false: `and`/`or` short-circuit, so
 * `running and x > 3` with running = 0 is 0 whatever x is, and lookups
 * skipped by a short-circuit are not made).  and/or are three-valued:
 * false and unknown is false, true or unknown is true, otherwise unknown
 * stays unknown; any other operator or function of an unknown is unknown.
 * -ENOENT for an unknown point (another negative error of the lookup is
 * returned as is); -EDOM for a division or % by zero (even of an unknown),
 * a non-finite result or a non-finite input.  *result is set only on
 * success.  e is not modified: one compiled expression may be evaluated
 * by several threads at once.  Uses about 8 KB of the caller's stack.
 */
int expr_eval(const struct gw_expr *e, gw_expr_lookup lookup, void *ctx, double *result);

/* The distinct point names the expression reads, in order of appearance
 * (for validation against the device's points).  Valid while e lives. */
size_t expr_variables(const struct gw_expr *e, const char *const **names);

void expr_free(struct gw_expr *e);

#endif
