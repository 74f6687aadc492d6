#include "sample.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "number.h"

int sample_init(struct gw_sample *s, const char *device_id, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->device_id = device_id;
    if (cap && !(s->readings = calloc(cap, sizeof *s->readings)))
        return -ENOMEM;
    s->cap_readings = cap;
    return 0;
}

int sample_add(struct gw_sample *s, const char *name, const char *unit, double value,
               enum gw_quality quality)
{
    if (s->n_readings == s->cap_readings) {
        size_t cap = s->cap_readings ? s->cap_readings * 2 : 16;
        struct gw_reading *r = realloc(s->readings, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        s->readings = r;
        s->cap_readings = cap;
    }
    s->readings[s->n_readings++] = (struct gw_reading){
        .name = name, .unit = unit, .value = value, .quality = quality,
    };
    return 0;
}

const struct gw_reading *sample_find(const struct gw_sample *s, const char *name)
{
    for (size_t i = 0; i < s->n_readings; i++)
        if (strcmp(s->readings[i].name, name) == 0)
            return &s->readings[i];
    return NULL;
}

void sample_free(struct gw_sample *s)
{
    for (size_t i = 0; i < s->n_readings; i++)
        free(s->readings[i].text);
    free(s->readings);
    s->readings = NULL;
    s->n_readings = s->cap_readings = 0;
}

const char *quality_name(enum gw_quality q)
{
    switch (q) {
    case GW_QUALITY_GOOD: return "good";
    case GW_QUALITY_UNCERTAIN: return "uncertain";
    default: return "bad";
    }
}

/* A growable output buffer; on ENOMEM it stops growing and says so once. */
struct buf {
    char *data;
    size_t len, cap;
    bool failed;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->failed || b->len + more < b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
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

static void buf_put(struct buf *b, const char *text, size_t n)
{
    buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A finite number, as the line protocol writes it (number.h). */
static void buf_number(struct buf *b, double v)
{
    char tmp[32];
    buf_put(b, tmp, (size_t)number_format(tmp, sizeof tmp, v));
}

static bool json_plain(unsigned char c)
{
    return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/* A JSON string; device text may hold anything, so escape all controls.
 * Runs of plain characters (names and units are nothing else) are copied
 * whole. */
static void buf_json_string(struct buf *b, const char *s)
{
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        const unsigned char *run = p;
        while (*p && json_plain(*p))
            p++;
        if (p > run)
            buf_put(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        if (*p == '"' || *p == '\\') {
            char esc[2] = { '\\', (char)*p };
            buf_put(b, esc, 2);
        } else {
            buf_printf(b, "\\u%04x", *p);
        }
        p++;
    }
    buf_put(b, "\"", 1);
}

static void buf_key(struct buf *b, bool *first, const char *key)
{
    if (!*first)
        buf_put(b, ",", 1);
    *first = false;
    buf_json_string(b, key);
    buf_put(b, ":", 1);
}

static void put_points(struct buf *b, const struct gw_sample *s)
{
    bool first = true;
    buf_put(b, "\"points\":{", 10);
    for (size_t i = 0; i < s->n_readings; i++) {
        const struct gw_reading *r = &s->readings[i];
        if (r->quality != GW_QUALITY_GOOD)
            continue;
        buf_key(b, &first, r->name);
        if (r->text)
            buf_json_string(b, r->text);
        else if (isfinite(r->value))
            buf_number(b, r->value);
        else
            buf_put(b, "null", 4);
    }
    buf_put(b, "}", 1);
}

static void put_units(struct buf *b, const struct gw_sample *s)
{
    bool first = true;
    buf_put(b, ",\"unit\":{", 9);
    for (size_t i = 0; i < s->n_readings; i++) {
        const struct gw_reading *r = &s->readings[i];
        if (r->quality != GW_QUALITY_GOOD || !r->unit || !*r->unit)
            continue;
        buf_key(b, &first, r->name);
        buf_json_string(b, r->unit);
    }
    buf_put(b, "}", 1);
}

static void put_quality(struct buf *b, const struct gw_sample *s)
{
    bool first = true;
    buf_put(b, ",\"quality\":{", 12);
    for (size_t i = 0; i < s->n_readings; i++) {
        const struct gw_reading *r = &s->readings[i];
        if (r->quality == GW_QUALITY_GOOD)
            continue;
        buf_key(b, &first, r->name);
        buf_json_string(b, quality_name(r->quality));
    }
    buf_put(b, "}", 1);
}

char *sample_to_json(const struct gw_sample *s, bool with_device)
{
    struct buf b = { 0 };
    buf_put(&b, "{", 1);
    if (with_device) {
        buf_put(&b, "\"device\":", 9);
        buf_json_string(&b, s->device_id);
        buf_put(&b, ",", 1);
    }
    buf_printf(&b, "\"ts\":%" PRId64 ",", s->ts_ms);
    put_points(&b, s);
    put_units(&b, s);
    put_quality(&b, s);
    buf_put(&b, "}", 1);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

static const struct gw_reading *host_find(const struct gw_sample *s, const char *name)
{
    return sample_find(s, name);
}

const struct gw_host gw_host_services = {
    .add = sample_add,
    .find = host_find,
    .log = gw_log,
};
