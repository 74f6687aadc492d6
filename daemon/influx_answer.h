/*
 * What an InfluxDB-compatible server's answer to a write means, and which
 * line it is about: the InfluxDB sink's rules (docs/influxdb.md, the HTTP
 * handling table), kept apart from the HTTP client so that they can be
 * tested on the messages InfluxDB 1.x, 2.x and VictoriaMetrics send.
 */
#ifndef GW_INFLUX_ANSWER_H
#define GW_INFLUX_ANSWER_H

#include <stddef.h>
#include "spool.h"

enum influx_outcome {
    INFLUX_DELIVERED,   /* 2xx: stored; commit */
    INFLUX_PARTIAL,     /* 400/422 "partial write": the rest stored; count the refused, commit */
    INFLUX_REFUSED,     /* 400/422 about lines, nothing stored: split to find them */
    INFLUX_TOO_LARGE,   /* 413: split */
    INFLUX_AUTH,        /* 401, 403: retry slowly, raise the alarm */
    INFLUX_RETRY,       /* 429, 5xx, no answer, anything else: back off and retry */
};

/* The outcome of HTTP status (0: no answer) with body (may be NULL). */
enum influx_outcome influx_classify(long status, const char *body);

/* The server's message: "error" (1.x) or "message" (2.x) of a JSON body,
 * else the body itself, on one line, into out (n > 0 bytes, truncated);
 * "(no message)" when empty. */
void influx_message(const char *body, char *out, size_t n);

/* How many of n_lines lines a partial write refused: the sum of
 * "dropped=N", plus one per "unable to parse" and per 2.x "line N:";
 * at least 1, at most n_lines. */
size_t influx_refused_count(const char *body, size_t n_lines);

/*
 * The index of the line of a request (lines[0..n), each one line of line
 * protocol) that message msg is about, or -1: a 2.x "line N:", or for a
 * 1.x field type conflict (`input field "f" on measurement "m" is type
 * t`) the first line of m with a field f of type t.  -1 also when the
 * message quotes the line itself (1.x "unable to parse '...'").
 */
long influx_offending_line(const char *msg, const struct gw_spool_record *lines, size_t n);

#endif
