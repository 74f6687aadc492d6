/*
 * Encoding of engineering values into registers.  Each type becomes its
 * big-endian bytes first (one function per kind of number), and the byte
 * order is applied last by one table, mirroring how devices document it.
 */
#include "encode.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct order_info {
    bool word_swap;     /* registers go out last-first */
    bool byte_swap;     /* each register's low byte goes first */
};

static const struct order_info order_table[GW_ORDER_COUNT] = {
    [GW_ORDER_ABCD] = { false, false },
    [GW_ORDER_DCBA] = { true,  true },
    [GW_ORDER_BADC] = { false, true },
    [GW_ORDER_CDAB] = { true,  false },
};

void encode_order(enum gw_order order, const uint8_t *be, unsigned n, uint16_t *regs)
{
    const struct order_info *o = &order_table[(unsigned)order < GW_ORDER_COUNT ? order : 0];

    for (unsigned i = 0; i < n; i++) {
        uint8_t hi = be[2 * i], lo = be[2 * i + 1];
        uint16_t reg = o->byte_swap ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);

        regs[o->word_swap ? n - 1 - i : i] = reg;
    }
}

static void put_be(uint64_t bits, unsigned bytes, uint8_t *be)
{
    for (unsigned i = 0; i < bytes; i++)
        be[i] = (uint8_t)(bits >> (8 * (bytes - 1 - i)));
}

/* Integer range of each integer type, as doubles (exact for these). */
struct int_range {
    double lo, hi;
    bool is_signed;
};

static bool int_range_of(enum gw_type type, struct int_range *r)
{
    switch (type) {
    case GW_TYPE_UINT16: *r = (struct int_range){ 0, 65535.0, false }; return true;
    case GW_TYPE_INT16:  *r = (struct int_range){ -32768.0, 32767.0, true }; return true;
    case GW_TYPE_UINT32: *r = (struct int_range){ 0, 4294967295.0, false }; return true;
    case GW_TYPE_INT32:  *r = (struct int_range){ -2147483648.0, 2147483647.0, true }; return true;
    /* 2^64 and 2^63 are not representable as integers of the type: the
     * largest doubles below them are used as the saturation limits. */
    case GW_TYPE_UINT64: *r = (struct int_range){ 0, 18446744073709549568.0, false }; return true;
    case GW_TYPE_INT64:
        *r = (struct int_range){ -9223372036854775808.0, 9223372036854774784.0, true };
        return true;
    default:
        return false;
    }
}

/* Returns the two's complement bit pattern of the rounded, saturated raw
 * integer; *clipped tells whether saturation happened. */
static uint64_t integer_bits(double raw, const struct int_range *r, bool *clipped)
{
    double v = nearbyint(raw);

    *clipped = v < r->lo || v > r->hi;
    if (v < r->lo)
        v = r->lo;
    if (v > r->hi)
        v = r->hi;
    if (r->is_signed)
        return (uint64_t)(int64_t)v;    /* defined: v is in int64 range */
    return (uint64_t)v;
}

static int encode_integer(const struct gw_point_def *p, double raw, uint16_t *regs)
{
    struct int_range r;
    bool clipped;
    uint8_t be[8];
    unsigned n = point_type_registers(p->type);

    if (!int_range_of(p->type, &r) || !isfinite(raw))
        return -EINVAL;
    put_be(integer_bits(raw, &r, &clipped), 2 * n, be);
    encode_order(p->order, be, n, regs);
    return clipped ? -ERANGE : 0;
}

static int encode_float(const struct gw_point_def *p, double raw, uint16_t *regs)
{
    uint8_t be[8];
    int rc = 0;

    if (p->type == GW_TYPE_FLOAT32) {
        if (isfinite(raw) && fabs(raw) > 3.4028234663852886e38)
            rc = -ERANGE;       /* becomes infinity, as a device would send */
        float f = (float)raw;
        uint32_t u;

        memcpy(&u, &f, sizeof u);
        put_be(u, 4, be);
        encode_order(p->order, be, 2, regs);
    } else {
        uint64_t u;

        memcpy(&u, &raw, sizeof u);
        put_be(u, 8, be);
        encode_order(p->order, be, 4, regs);
    }
    return rc;
}

int encode_value(const struct gw_point_def *p, double value, uint16_t *regs)
{
    if (!p || !regs || p->scale == 0.0 || (unsigned)p->order >= GW_ORDER_COUNT)
        return -EINVAL;
    double raw = (value - p->offset) / p->scale;

    switch (p->type) {
    case GW_TYPE_FLOAT32:
    case GW_TYPE_FLOAT64:
        return encode_float(p, raw, regs);
    case GW_TYPE_BIT:
    case GW_TYPE_STRING:
        return -EINVAL;
    default:
        return encode_integer(p, raw, regs);
    }
}

int encode_string(const struct gw_point_def *p, const char *text, uint16_t *regs)
{
    if (!p || !text || !regs || p->type != GW_TYPE_STRING)
        return -EINVAL;
    /* Characters are never split across registers: only the byte swap of
     * the order applies to strings. */
    bool swap = order_table[(unsigned)p->order < GW_ORDER_COUNT ? p->order : 0].byte_swap;
    size_t len = strlen(text);

    for (unsigned i = 0; i < p->count; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)text[2 * i] : 0;
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)text[2 * i + 1] : 0;

        regs[i] = swap ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
    }
    return 0;
}

void encode_register_bit(const struct gw_point_def *p, bool on, uint16_t *reg)
{
    if (p->bit < 0) {
        *reg = on ? 1 : 0;
        return;
    }
    uint16_t mask = (uint16_t)(1u << p->bit);

    *reg = on ? (uint16_t)(*reg | mask) : (uint16_t)(*reg & ~mask);
}

double encode_counter_wrap(const struct gw_point_def *p)
{
    double span;

    switch (p->type) {
    case GW_TYPE_UINT16: span = 65536.0; break;
    case GW_TYPE_UINT32: span = 4294967296.0; break;
    /* Signed counters wrap at the positive limit, back to zero, like the
     * meters that use them; only the positive half is ever served. */
    case GW_TYPE_INT16:  span = 32768.0; break;
    case GW_TYPE_INT32:  span = 2147483648.0; break;
    default: return 0.0;
    }
    return span * fabs(p->scale);
}
