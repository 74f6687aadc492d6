#include "influx_answer.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a 400/422 message is about lines (rather than the request,
 * e.g. "database is required", which must not cost any record). */
static bool about_lines(const char *msg)
{
    static const char *const words[] = { "parse", "field type conflict", "line ", "dropped",
                                         "points beyond retention" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(msg, words[i]))
            return true;
    return false;
}

enum influx_outcome influx_classify(long status, const char *body)
{
    if (!body)
        body = "";
    if (status >= 200 && status < 300)
        return INFLUX_DELIVERED;
    switch (status) {
    case 400: case 422:
        if (strstr(body, "partial write"))
            return INFLUX_PARTIAL;
        return about_lines(body) ? INFLUX_REFUSED : INFLUX_RETRY;
    case 413: return INFLUX_TOO_LARGE;
    case 401: case 403: return INFLUX_AUTH;
    default: return INFLUX_RETRY;   /* 0 (no answer), 429, 5xx, 404 (no such database), ... */
    }
}

void influx_message(const char *body, char *out, size_t n)
{
    snprintf(out, n, "%s", body ? body : "");
    cJSON *json = body ? cJSON_Parse(body) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "error");
    if (!cJSON_IsString(m))
        m = cJSON_GetObjectItemCaseSensitive(json, "message");
    if (cJSON_IsString(m))
        snprintf(out, n, "%s", m->valuestring);
    cJSON_Delete(json);
    if (!*out)
        snprintf(out, n, "(no message)");
    for (char *p = out; *p; p++)   /* one log line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* The number N of a 2.x "line N:" starting at p (after "line "), or 0. */
static unsigned long line_number(const char *p)
{
    char *end;
    unsigned long n = strtoul(p, &end, 10);
    return end > p && *end == ':' ? n : 0;
}

size_t influx_refused_count(const char *body, size_t n_lines)
{
    size_t n = 0;
    if (!body)
        body = "";
    for (const char *p = body; (p = strstr(p, "dropped=")); p += 8)
        n += strtoull(p + 8, NULL, 10);
    for (const char *p = body; (p = strstr(p, "unable to parse")); p += 15)
        n++;
    for (const char *p = body; (p = strstr(p, "line ")); p += 5)
        n += line_number(p + 5) > 0;
    if (n == 0)
        n = 1;
    return n < n_lines ? n : n_lines;
}

/* The type line protocol gives a field value, named as InfluxDB names it. */
static const char *value_type(const char *v, size_t len)
{
    if (len && v[0] == '"')
        return "string";
    if (len && (v[0] == 't' || v[0] == 'T' || v[0] == 'f' || v[0] == 'F'))
        return "boolean";
    if (len && (v[len - 1] == 'i' || v[len - 1] == 'u'))
        return "integer";
    return "float";
}

struct text {
    const char *p;
    size_t len;
};

/* After `p`, the end of a field value: a string's closing quote, or the
 * next comma, space or newline. */
static const char *value_end(const char *p, const char *end)
{
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p += *p == '\\' ? 2 : 1)
            ;
        return p < end ? p + 1 : end;
    }
    while (p < end && *p != ',' && *p != ' ' && *p != '\n')
        p++;
    return p;
}

/*
 * Whether a line is of measurement m and has field f of type t.  1.x
 * names them unescaped, so names that need escapes are not matched,
 * which only costs the log its example.
 */
static bool line_has_field(const char *line, size_t len, struct text m, struct text f, struct text t)
{
    if (len <= m.len || strncmp(line, m.p, m.len) != 0 || (line[m.len] != ',' && line[m.len] != ' '))
        return false;
    const char *end = line + len, *p = line + m.len;
    while (p < end && *p != ' ')   /* past the tags */
        p += *p == '\\' ? 2 : 1;
    /* p is at the space before the first field, or the comma before another */
    for (bool first = true; p < end && (*p == ',' || (first && *p == ' ')); first = false) {
        const char *key = ++p;
        while (p < end && *p != '=')
            p += *p == '\\' ? 2 : 1;
        size_t klen = (size_t)(p - key);
        const char *v = p + (p < end);
        p = value_end(v, end);
        if (klen == f.len && strncmp(key, f.p, f.len) == 0) {
            const char *vt = value_type(v, (size_t)(p - v));
            return strlen(vt) == t.len && strncmp(vt, t.p, t.len) == 0;
        }
    }
    return false;
}

/* The text after open in msg up to the next stop character. */
static bool text_after(const char *msg, const char *open, const char *stop, struct text *out)
{
    const char *p = strstr(msg, open);
    if (!p)
        return false;
    out->p = p + strlen(open);
    out->len = strcspn(out->p, stop);
    return true;
}

long influx_offending_line(const char *msg, const struct gw_spool_record *lines, size_t n)
{
    if (strstr(msg, "unable to parse '"))
        return -1;
    for (const char *p = msg; (p = strstr(p, "line ")); p += 5) {
        unsigned long line = line_number(p + 5);
        if (line >= 1)
            return line <= n ? (long)line - 1 : -1;
    }
    struct text f, m, t;
    if (!text_after(msg, "input field \"", "\"", &f) || !text_after(msg, "on measurement \"", "\"", &m) ||
        !text_after(msg, "is type ", ", ", &t))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (line_has_field(lines[i].data, lines[i].len, m, f, t))
            return (long)i;
    return -1;
}
