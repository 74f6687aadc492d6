#include "lineproto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

/* Characters escaped with a backslash in each part of a line, and the
 * characters that need a look in each (escapes, backslash, line breaks). */
static const char measurement_escapes[] = ", ";
static const char measurement_specials[] = ", \\\n\r";
static const char key_escapes[] = ",= ";       /* tag keys and values, field keys */
static const char key_specials[] = ",= \\\n\r";
static const char string_escapes[] = "\"\\";   /* string field values */
static const char string_specials[] = "\"\\\n\r";

static void lp_reserve(struct lp_buf *b, size_t more)
{
    if (b->failed || b->len + more < b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap <= b->len + more)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return;
    }
    b->data = d;
    b->cap = cap;
}

static void lp_put(struct lp_buf *b, const char *text, size_t n)
{
    lp_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void lp_putc(struct lp_buf *b, char c)
{
    lp_put(b, &c, 1);
}

/* A backslash in a name or tag value that no server reads back the same
 * way: at the end, or before a character that an escape could mean. */
static bool ambiguous_backslash(const char *p)
{
    return p[1] == '\0' || p[1] == '\\' || p[1] == ',' || p[1] == '=' || p[1] == ' ' ||
           p[1] == '\n' || p[1] == '\r';
}

/* Text with the characters in escapes escaped; line breaks become
 * spaces.  Specials holds escapes, backslash and line breaks: the runs
 * without them are copied whole.  In_string: a string field's value,
 * where a backslash is escaped like any special character. */
static void put_escaped(struct lp_buf *b, const char *s, const char *escapes, const char *specials,
                        bool in_string)
{
    for (const char *p = s; *p; p++) {
        size_t run = strcspn(p, specials);
        lp_put(b, p, run);
        p += run;
        if (!*p)
            break;
        char c = *p;
        if (c == '\n' || c == '\r')
            c = ' ';
        else if (c == '\\' && !in_string && ambiguous_backslash(p))
            c = '/';
        if (strchr(escapes, c))
            lp_putc(b, '\\');
        lp_putc(b, c);
    }
}

int lp_begin(struct lp_buf *b, const char *measurement)
{
    if (!measurement || !*measurement)
        return -EINVAL;
    b->line_start = b->len;
    b->n_tags = b->n_fields = 0;
    put_escaped(b, measurement, measurement_escapes, measurement_specials, false);
    return 0;
}

int lp_tag(struct lp_buf *b, const char *key, const char *value)
{
    if (!key || !*key || !value || !*value)
        return -EINVAL;
    lp_putc(b, ',');
    put_escaped(b, key, key_escapes, key_specials, false);
    lp_putc(b, '=');
    put_escaped(b, value, key_escapes, key_specials, false);
    b->n_tags++;
    return 0;
}

/* The separator before a field and its key. */
static void put_field_key(struct lp_buf *b, const char *key)
{
    lp_putc(b, b->n_fields++ ? ',' : ' ');
    put_escaped(b, key, key_escapes, key_specials, false);
    lp_putc(b, '=');
}

int lp_field_float(struct lp_buf *b, const char *key, double value)
{
    if (!key || !*key || !isfinite(value))
        return -EINVAL;
    char num[32];
    int len = number_format(num, sizeof num, value);
    put_field_key(b, key);
    lp_put(b, num, (size_t)len);
    return 0;
}

int lp_field_string(struct lp_buf *b, const char *key, const char *value)
{
    if (!key || !*key)
        return -EINVAL;
    put_field_key(b, key);
    lp_putc(b, '"');
    put_escaped(b, value ? value : "", string_escapes, string_specials, true);
    lp_putc(b, '"');
    return 0;
}

int lp_end(struct lp_buf *b, int64_t ts_ms)
{
    if (b->n_fields == 0) {
        lp_cancel(b);
        return -ENODATA;
    }
    char ts[32];
    int len = snprintf(ts, sizeof ts, " %lld\n", (long long)ts_ms);
    lp_put(b, ts, (size_t)len);
    if (b->failed) {
        lp_cancel(b);
        return -ENOMEM;
    }
    b->line_start = b->len;
    return 0;
}

void lp_cancel(struct lp_buf *b)
{
    b->len = b->line_start;
    if (b->data)
        b->data[b->len] = '\0';
    b->n_tags = b->n_fields = 0;
    b->failed = false;
}

void lp_reset(struct lp_buf *b)
{
    b->line_start = 0;
    lp_cancel(b);
}

void lp_buf_free(struct lp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
