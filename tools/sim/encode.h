/*
 * Encoding: an engineering value -> the raw registers or bit a device
 * serves for one point, for every data type x byte order.
 *
 * This is deliberately independent of the daemon's decoder (daemon/
 * decode.c): it is tested against literal byte patterns only, so a
 * symmetric mistake in both cannot hide.
 */
#ifndef GW_SIM_ENCODE_H
#define GW_SIM_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "point.h"

/*
 * Place the big-endian bytes be[0 .. 2n-1] of a value into n registers
 * (n = 1, 2 or 4) in the given byte order: ABCD as is, CDAB registers
 * last-first, BADC each register's bytes swapped, DCBA both.
 */
void encode_order(enum gw_order order, const uint8_t *be, unsigned n, uint16_t *regs);

/*
 * Encode value for point p into regs (p->count registers), applying the
 * inverse of scale and offset: raw = (value - offset) / scale, rounded to
 * the nearest integer for integer types.  Returns 0; -ERANGE if the raw
 * value does not fit the type (regs then hold the nearest representable
 * value, as a saturating device would); -EINVAL for bit and string
 * points, a zero scale or a non-finite value for an integer type.
 */
int encode_value(const struct gw_point_def *p, double value, uint16_t *regs);

/* Encode text into a string point's p->count registers, two characters a
 * register, high byte first unless the order swaps bytes (BADC, DCBA);
 * padded with NULs, truncated if longer.  Returns 0 or -EINVAL. */
int encode_string(const struct gw_point_def *p, const char *text, uint16_t *regs);

/* Set or clear a bit point that lives in a register (p->bit 0..15; -1
 * means the whole register is 0 or 1).  Other bits are left as they are,
 * since several bit points may share a status word. */
void encode_register_bit(const struct gw_point_def *p, bool on, uint16_t *reg);

/*
 * The value at which a cumulative counter served through p wraps back to
 * zero (e.g. 65536 * 0.1 for a uint16 scaled 0.1), or 0 if it never does
 * in practice (floats, 64-bit integers).  Real meters roll over rather
 * than saturate; the simulator wraps counters with this before encoding.
 */
double encode_counter_wrap(const struct gw_point_def *p);

#endif
