/*
 * Register decoding: raw registers or bits -> engineering value + quality.
 * Table-driven over data type x byte order.
 */
#ifndef GW_DECODE_H
#define GW_DECODE_H

#include <greenwatch/plugin.h>
#include "point.h"

/*
 * Decode one point.  For register tables, regs points at the point's first
 * register (point->address) and holds point->count registers; for coil and
 * discrete tables, bits points at the point's bit (one byte, 0 or 1).
 * Fills out->value, out->quality and, for strings, out->text (malloc'd,
 * owned by the caller's sample; NUL and trailing spaces trimmed).
 * name and unit are set to the point's.  Returns 0, or -ENOMEM.
 */
int decode_point(const struct gw_point_def *point, const uint16_t *regs,
                 const uint8_t *bits, struct gw_reading *out);

/* Undo a byte order: copy n registers of src (n = 1, 2 or 4) as big-endian
 * bytes into dst (2n bytes, most significant first). */
void decode_normalize(enum gw_order order, const uint16_t *src, unsigned n, uint8_t *dst);

#endif
