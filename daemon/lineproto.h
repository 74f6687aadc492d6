/*
 * InfluxDB line protocol encoding:
 *
 *   measurement[,tag=value...] field=value[,field=value...] timestamp\n
 *
 * A line is built in steps (lp_begin, lp_tag..., lp_field_*..., lp_end)
 * into a growable buffer that can hold many lines.  Escaping follows the
 * line protocol reference and reads back the same on InfluxDB 1.x, 2.x
 * and VictoriaMetrics:
 *
 *   measurement              comma and space escaped with a backslash
 *   tag keys, tag values,    comma, equals sign and space escaped
 *   field keys
 *   string field values      double quote and backslash escaped, in quotes
 *
 * Line breaks cannot be escaped anywhere in line protocol, so a carriage
 * return or line feed inside any text is replaced by a space (and then
 * escaped like one).  A backslash in a name or tag value is kept when an
 * ordinary character follows it; at the end of the text or before a
 * backslash, comma, equals sign or space, InfluxDB 1.x and 2.x read it
 * differently whatever is written, so it is replaced by '/'.
 *
 * Numbers are written as floats (no `i` suffix) in the shortest decimal
 * form that reads back as the same double.  A field's type must never
 * change from one write to the next (InfluxDB rejects the point), and a
 * numeric reading can be integral in one sample and not in the next, so
 * every numeric field is a float.  Non-finite numbers have no line
 * protocol form: such a field is left out.
 *
 * Timestamps are integers in milliseconds (write with precision=ms).
 */
#ifndef GW_LINEPROTO_H
#define GW_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lines built so far; data is NUL-terminated.  Zero-initialise to start. */
struct lp_buf {
    char *data;
    size_t len, cap;
    size_t line_start;         /* where the line being built begins */
    unsigned n_tags, n_fields; /* of the line being built */
    bool failed;               /* out of memory: the buffer stopped growing */
};

/* Start a line.  Returns 0, or -EINVAL for an empty measurement (nothing
 * is written). */
int lp_begin(struct lp_buf *b, const char *measurement);

/* Add a tag; call before the first field.  Tags should come sorted by
 * key (InfluxDB's recommendation: faster writes).  A tag with an empty
 * key or value is left out (InfluxDB cannot store one): returns -EINVAL. */
int lp_tag(struct lp_buf *b, const char *key, const char *value);

/* Add a float field.  Returns 0, or -EINVAL (field left out) for an
 * empty key or a non-finite value. */
int lp_field_float(struct lp_buf *b, const char *key, double value);

/* Add a string field (value may be empty).  Returns 0 or -EINVAL for an
 * empty key. */
int lp_field_string(struct lp_buf *b, const char *key, const char *value);

/* Finish the line with its timestamp and a newline.  Returns 0, -ENODATA
 * when the line has no field (InfluxDB requires one: the line is taken
 * back), or -ENOMEM when the buffer could not grow (the buffer is left as
 * it was before lp_begin). */
int lp_end(struct lp_buf *b, int64_t ts_ms);

/* Take back the line being built. */
void lp_cancel(struct lp_buf *b);

/* Empty the buffer, keeping its memory. */
void lp_reset(struct lp_buf *b);

void lp_buf_free(struct lp_buf *b);

#endif
