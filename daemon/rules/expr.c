/*
 * The rule expression language (see expr.h): a hand-written precedence
 * climbing parser that emits postfix code, and a loop that runs it on a
 * fixed stack.  Nothing recurses at evaluation time; parsing recurses at
 * most a few frames per nesting level, and nesting is bounded.
 *
 * Precedence, loosest first: or, and, comparisons (which do not chain:
 * `a < b < c` is rejected), + -, * / %, then unary - and not.
 * `and` and `or` compile to a conditional jump over their right operand.
 */
#include "expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every pending operand is followed by an operator or a comma, so no
 * expression of at most GW_EXPR_MAX_LEN bytes needs a deeper stack. */
#define EVAL_STACK (GW_EXPR_MAX_LEN / 2 + 1)
#define MAX_ARGS 16

enum op {
    OP_NUM, OP_VAR, OP_NEG, OP_NOT,
    OP_MUL, OP_DIV, OP_MOD, OP_ADD, OP_SUB,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
    OP_AND, OP_OR, OP_AND_JUMP, OP_OR_JUMP,
    OP_ABS, OP_MIN, OP_MAX,
};

enum prec { PREC_OR = 1, PREC_AND, PREC_CMP, PREC_ADD, PREC_MUL };

struct instr {
    uint8_t op;
    uint8_t argc;   /* OP_ABS, OP_MIN, OP_MAX */
    uint32_t arg;   /* OP_VAR: index in names; jumps: target pc */
    double num;     /* OP_NUM */
};

struct gw_expr {
    struct instr *code;
    size_t n;
    char **names;
    size_t nnames;
};

/* ---- lexer -------------------------------------------------------------- */

enum tok { T_END, T_NUM, T_NAME, T_LPAREN, T_RPAREN, T_COMMA, T_BINOP, T_NOT };

struct token {
    enum tok kind;
    enum op op;      /* T_BINOP; '-' is OP_SUB, also unary */
    size_t pos, len;
    double num;      /* T_NUM, also true and false */
};

struct parser {
    const char *text;
    struct token tok;
    struct gw_expr *e;
    size_t cap;       /* of e->code */
    size_t depth;
    long sp, max_sp;  /* the evaluation stack's height as code is emitted */
    size_t *err_pos;
    char *err;
    size_t err_len;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->err_pos)
        *p->err_pos = pos;
    if (p->err && p->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || is_digit(c) || c == '.';
}

static size_t skip_digits(const char *s, size_t i)
{
    while (is_digit(s[i]))
        i++;
    return i;
}

/* Decimal numbers: 12, 1.5, .5, 2., 1e-3; t->pos is on a digit, or on a
 * '.' before one.  A number running into a name character (1e, 0x10,
 * 1.2.3, 3kW) is malformed as a whole.  The C locale is assumed, as in
 * the rest of the daemon. */
static int lex_number(struct parser *p, struct token *t)
{
    const char *s = p->text;
    size_t i = skip_digits(s, t->pos);

    if (s[i] == '.')
        i = skip_digits(s, i + 1);
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');
        if (!is_digit(s[j]))
            return fail(p, t->pos, "malformed number: no digits in the exponent");
        i = skip_digits(s, j);
    }
    if (is_name_char(s[i]))
        return fail(p, t->pos, "malformed number");
    char buf[GW_EXPR_MAX_LEN + 1];
    memcpy(buf, s + t->pos, i - t->pos);
    buf[i - t->pos] = '\0';
    t->num = strtod(buf, NULL);
    if (!isfinite(t->num))
        return fail(p, t->pos, "number out of range");
    t->kind = T_NUM;
    t->len = i - t->pos;
    return 0;
}

static const struct { const char *word; enum tok kind; enum op op; double num; } keywords[] = {
    { "and", T_BINOP, OP_AND, 0 }, { "or", T_BINOP, OP_OR, 0 }, { "not", T_NOT, OP_NOT, 0 },
    { "true", T_NUM, OP_NUM, 1 },  { "false", T_NUM, OP_NUM, 0 },
};

static void lex_name(struct parser *p, struct token *t)
{
    const char *s = p->text + t->pos;
    size_t n = 1;

    while (is_name_char(s[n]))
        n++;
    *t = (struct token){ .kind = T_NAME, .pos = t->pos, .len = n };
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
        if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, s, n) == 0) {
            t->kind = keywords[i].kind;
            t->op = keywords[i].op;
            t->num = keywords[i].num;
        }
}

/* Operators of one or two characters; "=", "&" and "|" alone are errors. */
static const struct { const char *text; enum tok kind; enum op op; } operators[] = {
    { "<=", T_BINOP, OP_LE }, { ">=", T_BINOP, OP_GE }, { "==", T_BINOP, OP_EQ },
    { "!=", T_BINOP, OP_NE }, { "&&", T_BINOP, OP_AND }, { "||", T_BINOP, OP_OR },
    { "<", T_BINOP, OP_LT },  { ">", T_BINOP, OP_GT },   { "!", T_NOT, OP_NOT },
    { "*", T_BINOP, OP_MUL }, { "/", T_BINOP, OP_DIV },  { "%", T_BINOP, OP_MOD },
    { "+", T_BINOP, OP_ADD }, { "-", T_BINOP, OP_SUB },  { "(", T_LPAREN, OP_NUM },
    { ")", T_RPAREN, OP_NUM }, { ",", T_COMMA, OP_NUM },
};

static int lex_operator(struct parser *p, struct token *t)
{
    const char *s = p->text + t->pos;

    for (size_t i = 0; i < sizeof operators / sizeof *operators; i++) {
        size_t n = strlen(operators[i].text);
        if (strncmp(s, operators[i].text, n) == 0) {
            *t = (struct token){ .kind = operators[i].kind, .op = operators[i].op,
                                 .pos = t->pos, .len = n };
            return 0;
        }
    }
    if (*s == '=')
        return fail(p, t->pos, "unexpected '=' (equality is '==')");
    if (*s == '&' || *s == '|')
        return fail(p, t->pos, "unexpected '%c' (expected '%c%c')", *s, *s, *s);
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
        return fail(p, t->pos, "unexpected byte 0x%02x (expressions are ASCII)",
                    (unsigned char)*s);
    return fail(p, t->pos, "unexpected character '%c'", *s);
}

/* Reads the token after the current one into p->tok. */
static int next(struct parser *p)
{
    struct token t = { .pos = p->tok.pos + p->tok.len };
    const char *s = p->text;
    int rc = 0;

    while (is_space(s[t.pos]))
        t.pos++;
    if (s[t.pos] == '\0')
        t.kind = T_END;
    else if (is_digit(s[t.pos]) || (s[t.pos] == '.' && is_digit(s[t.pos + 1])))
        rc = lex_number(p, &t);
    else if (is_name_start(s[t.pos]))
        lex_name(p, &t);
    else
        rc = lex_operator(p, &t);
    p->tok = t;
    return rc;
}

/* What the current token is, for messages: "found ')'". */
static const char *found(const struct parser *p, char *buf, size_t len)
{
    const struct token *t = &p->tok;

    switch (t->kind) {
    case T_END: return "the end";
    case T_NUM: return "a number";
    default:
        snprintf(buf, len, "'%.*s'", (int)(t->len < 40 ? t->len : 40), p->text + t->pos);
        return buf;
    }
}

/* ---- code generation ---------------------------------------------------- */

static int stack_effect(enum op op, unsigned argc)
{
    switch (op) {
    case OP_NUM: case OP_VAR: return 1;
    case OP_NEG: case OP_NOT: case OP_ABS: case OP_AND_JUMP: case OP_OR_JUMP: return 0;
    case OP_MIN: case OP_MAX: return 1 - (int)argc;
    default: return -1;  /* binary operators */
    }
}

/* Appends an instruction; returns its index, or -ENOMEM. */
static long emit(struct parser *p, enum op op, unsigned argc, uint32_t arg, double num)
{
    struct gw_expr *e = p->e;

    if (e->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        struct instr *code = realloc(e->code, cap * sizeof *code);
        if (!code)
            return -ENOMEM;
        e->code = code;
        p->cap = cap;
    }
    e->code[e->n] = (struct instr){ .op = op, .argc = (uint8_t)argc, .arg = arg, .num = num };
    p->sp += stack_effect(op, argc);
    if (p->sp > p->max_sp)
        p->max_sp = p->sp;
    return (long)e->n++;
}

/* The index of a point name, added on first appearance. */
static int intern(struct parser *p, const struct token *t, uint32_t *index)
{
    struct gw_expr *e = p->e;
    const char *name = p->text + t->pos;

    for (size_t i = 0; i < e->nnames; i++)
        if (strlen(e->names[i]) == t->len && memcmp(e->names[i], name, t->len) == 0) {
            *index = (uint32_t)i;
            return 0;
        }
    char **names = realloc(e->names, (e->nnames + 1) * sizeof *names);
    if (!names)
        return -ENOMEM;
    e->names = names;
    if (!(names[e->nnames] = strndup(name, t->len)))
        return -ENOMEM;
    *index = (uint32_t)e->nnames++;
    return 0;
}

/* ---- parser ------------------------------------------------------------- */

static int parse_binary(struct parser *p, int min_prec);

static int enter(struct parser *p)
{
    if (++p->depth > GW_EXPR_MAX_DEPTH)
        return fail(p, p->tok.pos, "nested deeper than %d levels", GW_EXPR_MAX_DEPTH);
    return 0;
}

static const struct { const char *name; enum op op; unsigned max_args; } functions[] = {
    { "abs", OP_ABS, 1 }, { "min", OP_MIN, MAX_ARGS }, { "max", OP_MAX, MAX_ARGS },
};

/* The index of the function the current token names, or -1. */
static int find_function(const struct parser *p)
{
    for (size_t f = 0; f < sizeof functions / sizeof *functions; f++)
        if (strlen(functions[f].name) == p->tok.len &&
            memcmp(functions[f].name, p->text + p->tok.pos, p->tok.len) == 0)
            return (int)f;
    return -1;
}

/* Whether '(' follows the current token: a name before it is a call. */
static bool before_paren(const struct parser *p)
{
    size_t i = p->tok.pos + p->tok.len;

    while (is_space(p->text[i]))
        i++;
    return p->text[i] == '(';
}

/* The arguments of function f, named at name_pos, up to the closing ')'
 * (left as the current token); *argc counts them. */
static int parse_args(struct parser *p, int f, size_t name_pos, unsigned *argc)
{
    const char *name = functions[f].name;
    unsigned max = functions[f].max_args;
    char buf[64];
    int rc;

    if (p->tok.kind == T_RPAREN)
        return fail(p, p->tok.pos, "'%s' takes at least 1 argument", name);
    for (*argc = 0;; (*argc)++) {
        if (*argc == max)
            return fail(p, p->tok.pos, "'%s' takes at most %u argument%s", name, max,
                        max == 1 ? "" : "s");
        if ((rc = parse_binary(p, PREC_OR)) < 0)
            return rc;
        if (p->tok.kind == T_RPAREN) {
            (*argc)++;
            return 0;
        }
        if (p->tok.kind != T_COMMA)
            return fail(p, p->tok.pos, "expected ',' or ')' after an argument of '%s' at %zu, found %s",
                        name, name_pos, found(p, buf, sizeof buf));
        if ((rc = next(p)) < 0)
            return rc;
    }
}

/* name ( expr , ... ) with the current token on the name of function f. */
static int parse_call(struct parser *p, int f)
{
    size_t name_pos = p->tok.pos;
    unsigned argc = 0;
    char buf[64];
    int rc;

    if ((rc = next(p)) < 0)
        return rc;
    if (p->tok.kind != T_LPAREN)
        return fail(p, p->tok.pos, "expected '(' after '%s', found %s", functions[f].name,
                    found(p, buf, sizeof buf));
    if ((rc = enter(p)) < 0 || (rc = next(p)) < 0 || (rc = parse_args(p, f, name_pos, &argc)) < 0)
        return rc;
    p->depth--;
    long at = emit(p, functions[f].op, argc, 0, 0);
    return at < 0 ? (int)at : next(p);
}

/* A number, a point name, a function call or a parenthesised expression. */
static int parse_primary(struct parser *p)
{
    struct token t = p->tok;
    uint32_t index;
    char buf[64];
    long at;
    int rc, f;

    switch (t.kind) {
    case T_NUM:
        at = emit(p, OP_NUM, 0, 0, t.num);
        return at < 0 ? (int)at : next(p);
    case T_NAME:
        if ((f = find_function(p)) >= 0)
            return parse_call(p, f);
        if (before_paren(p))
            return fail(p, t.pos, "unknown function '%.*s'", (int)t.len, p->text + t.pos);
        if ((rc = intern(p, &t, &index)) < 0)
            return rc;
        at = emit(p, OP_VAR, 0, index, 0);
        return at < 0 ? (int)at : next(p);
    case T_LPAREN:
        if ((rc = enter(p)) < 0 || (rc = next(p)) < 0 || (rc = parse_binary(p, PREC_OR)) < 0)
            return rc;
        if (p->tok.kind != T_RPAREN)
            return fail(p, p->tok.pos, "expected ')' to close '(' at %zu, found %s", t.pos,
                        found(p, buf, sizeof buf));
        p->depth--;
        return next(p);
    default:
        return fail(p, t.pos, "expected an operand, found %s", found(p, buf, sizeof buf));
    }
}

/* Prefix - and not, tighter than any binary operator. */
static int parse_unary(struct parser *p)
{
    int rc;

    if (p->tok.kind != T_NOT && !(p->tok.kind == T_BINOP && p->tok.op == OP_SUB))
        return parse_primary(p);
    enum op op = p->tok.kind == T_NOT ? OP_NOT : OP_NEG;
    if ((rc = enter(p)) < 0 || (rc = next(p)) < 0 || (rc = parse_unary(p)) < 0)
        return rc;
    p->depth--;
    long at = emit(p, op, 0, 0, 0);
    return at < 0 ? (int)at : 0;
}

static int precedence(enum op op)
{
    switch (op) {
    case OP_OR: return PREC_OR;
    case OP_AND: return PREC_AND;
    case OP_MUL: case OP_DIV: case OP_MOD: return PREC_MUL;
    case OP_ADD: case OP_SUB: return PREC_ADD;
    default: return PREC_CMP;
    }
}

/* Operators of precedence min_prec and tighter, left-associative. */
static int parse_binary(struct parser *p, int min_prec)
{
    bool after_cmp = false;
    int rc = parse_unary(p);

    while (rc == 0 && p->tok.kind == T_BINOP && precedence(p->tok.op) >= min_prec) {
        struct token t = p->tok;
        int prec = precedence(t.op);
        bool logic = t.op == OP_AND || t.op == OP_OR;
        if (prec == PREC_CMP && after_cmp)
            return fail(p, t.pos, "comparisons do not chain (use 'and')");
        after_cmp = prec == PREC_CMP;
        long jump = logic ? emit(p, t.op == OP_AND ? OP_AND_JUMP : OP_OR_JUMP, 0, 0, 0) : 0;
        if (jump < 0)
            return (int)jump;
        if ((rc = next(p)) < 0 || (rc = parse_binary(p, prec + 1)) < 0)
            return rc;
        long at = emit(p, t.op, 0, 0, 0);
        if (at < 0)
            return (int)at;
        if (logic)  /* a decisive left operand jumps past this instruction */
            p->e->code[jump].arg = (uint32_t)at + 1;
    }
    return rc;
}

static int parse(struct parser *p)
{
    char buf[64];
    int rc = next(p);

    if (rc < 0)
        return rc;
    if (p->tok.kind == T_END)
        return fail(p, p->tok.pos, "empty expression");
    if ((rc = parse_binary(p, PREC_OR)) < 0)
        return rc;
    if (p->tok.kind == T_RPAREN)
        return fail(p, p->tok.pos, "unbalanced ')'");
    if (p->tok.kind != T_END)
        return fail(p, p->tok.pos, "expected an operator or the end, found %s",
                    found(p, buf, sizeof buf));
    if (p->max_sp > EVAL_STACK)  /* cannot happen; see EVAL_STACK */
        return fail(p, 0, "expression too complex");
    return 0;
}

int expr_compile(const char *text, struct gw_expr **out, size_t *err_pos, char *err, size_t err_len)
{
    struct parser p = { .text = text, .err_pos = err_pos, .err = err, .err_len = err_len };

    if (!text || !out)
        return -EINVAL;
    *out = NULL;
    if (strnlen(text, GW_EXPR_MAX_LEN + 1) > GW_EXPR_MAX_LEN)
        return fail(&p, GW_EXPR_MAX_LEN, "longer than %d bytes", GW_EXPR_MAX_LEN);
    if (!(p.e = calloc(1, sizeof *p.e)))
        return -ENOMEM;
    int rc = parse(&p);
    if (rc < 0) {
        expr_free(p.e);
        return rc;
    }
    *out = p.e;
    return 0;
}

/* ---- evaluation --------------------------------------------------------- */

/* A value, or unknown when it depends on an input that is not good. */
struct slot {
    double v;
    bool unknown;
};

struct eval {
    const struct gw_expr *e;
    gw_expr_lookup lookup;
    void *ctx;
    size_t sp, pc;
    struct slot *stack;   /* EVAL_STACK slots */
};

static const struct slot UNKNOWN = { 0, true }, FALSE = { 0, false }, TRUE = { 1, false };

static bool known_false(struct slot s) { return !s.unknown && s.v == 0; }
static bool known_true(struct slot s) { return !s.unknown && s.v != 0; }

static int arith(enum op op, double a, double b, double *r)
{
    switch (op) {
    case OP_MUL: *r = a * b; break;
    case OP_DIV: *r = a / b; break;
    case OP_MOD: *r = fmod(a, b); break;
    case OP_ADD: *r = a + b; break;
    case OP_SUB: *r = a - b; break;
    case OP_LT: *r = a < b; break;
    case OP_LE: *r = a <= b; break;
    case OP_GT: *r = a > b; break;
    case OP_GE: *r = a >= b; break;
    case OP_EQ: *r = a == b; break;
    default: *r = a != b; break;  /* OP_NE */
    }
    return isfinite(*r) ? 0 : -EDOM;
}

/* a and b, a or b: the left operand was not decisive, or the jump
 * would have skipped b.  false and unknown is false, true or unknown is
 * true, and otherwise unknown stays unknown. */
static struct slot logic(enum op op, struct slot a, struct slot b)
{
    bool decisive = op == OP_AND ? known_false(b) : known_true(b);

    if (decisive)
        return op == OP_AND ? FALSE : TRUE;
    if (a.unknown || b.unknown)
        return UNKNOWN;
    return op == OP_AND ? TRUE : FALSE;
}

/* A division by a known zero is an error even when the dividend is unknown. */
static int binary(struct eval *ev, enum op op)
{
    struct slot b = ev->stack[--ev->sp], *a = &ev->stack[ev->sp - 1];

    if (op == OP_AND || op == OP_OR) {
        *a = logic(op, *a, b);
        return 0;
    }
    if ((op == OP_DIV || op == OP_MOD) && !b.unknown && b.v == 0)
        return -EDOM;
    if (a->unknown || b.unknown) {
        *a = UNKNOWN;
        return 0;
    }
    return arith(op, a->v, b.v, &a->v);
}

static void call(struct eval *ev, enum op op, unsigned argc)
{
    struct slot *args = &ev->stack[ev->sp - argc];
    struct slot r = args[0];

    for (unsigned i = 1; i < argc && !r.unknown; i++) {
        if (args[i].unknown)
            r = UNKNOWN;
        else if (op == OP_MIN ? args[i].v < r.v : args[i].v > r.v)
            r.v = args[i].v;
    }
    if (op == OP_ABS && !r.unknown)
        r.v = fabs(r.v);
    ev->sp -= argc;
    ev->stack[ev->sp++] = r;
}

/* Pushes a point's value: unknown if it is not good; the lookup's error
 * if it has none; -EDOM if it is not finite. */
static int load(struct eval *ev, uint32_t index)
{
    double v = 0;
    int rc = ev->lookup(ev->ctx, ev->e->names[index], &v);

    if (rc == -EAGAIN) {
        ev->stack[ev->sp++] = UNKNOWN;
        return 0;
    }
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;
    if (!isfinite(v))
        return -EDOM;
    ev->stack[ev->sp++] = (struct slot){ v, false };
    return 0;
}

/* Runs one instruction; moves pc past it or to its jump target. */
static int step(struct eval *ev)
{
    const struct instr *in = &ev->e->code[ev->pc++];
    struct slot *top = ev->sp ? &ev->stack[ev->sp - 1] : NULL;

    switch ((enum op)in->op) {
    case OP_NUM:
        ev->stack[ev->sp++] = (struct slot){ in->num, false };
        return 0;
    case OP_VAR:
        return load(ev, in->arg);
    case OP_NEG:
        top->v = top->unknown ? 0 : -top->v;
        return 0;
    case OP_NOT:
        top->v = !top->unknown && top->v == 0;
        return 0;
    case OP_AND_JUMP:
    case OP_OR_JUMP:
        if (in->op == OP_AND_JUMP ? known_false(*top) : known_true(*top)) {
            *top = in->op == OP_AND_JUMP ? FALSE : TRUE;
            ev->pc = in->arg;
        }
        return 0;
    case OP_ABS:
    case OP_MIN:
    case OP_MAX:
        call(ev, (enum op)in->op, in->argc);
        return 0;
    default:
        return binary(ev, (enum op)in->op);
    }
}

int expr_eval(const struct gw_expr *e, gw_expr_lookup lookup, void *ctx, double *result)
{
    struct slot stack[EVAL_STACK];
    struct eval ev = { .e = e, .lookup = lookup, .ctx = ctx, .stack = stack };
    int rc = 0;

    if (!e || !lookup || !result)
        return -EINVAL;
    while (rc == 0 && ev.pc < e->n)
        rc = step(&ev);
    if (rc < 0)
        return rc;
    if (ev.stack[0].unknown)
        return -EAGAIN;
    *result = ev.stack[0].v;
    return 0;
}

size_t expr_variables(const struct gw_expr *e, const char *const **names)
{
    if (names)
        *names = e ? (const char *const *)e->names : NULL;
    return e ? e->nnames : 0;
}

void expr_free(struct gw_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nnames; i++)
        free(e->names[i]);
    free(e->names);
    free(e->code);
    free(e);
}
