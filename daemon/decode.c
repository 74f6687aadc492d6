/*
 * Register decoding: raw registers or bits -> engineering value + quality.
 *
 * Every numeric point goes through the same two steps, each driven by a
 * table: the byte order table turns the registers into big-endian bytes
 * (decode_normalize), and the type table turns those bytes into a number.
 * libmodbus only offers helpers for float32, so all widths share this one
 * path instead; it is exercised against literal byte patterns in
 * tests/unit/decode_test.c.
 *
 * This runs for every point of every poll, so it allocates nothing except
 * a string point's text.
 */
#include "decode.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How each byte order moved the bytes of the big-endian value. */
struct order_info {
    bool word_swap;         /* registers arrive last-first */
    bool byte_swap;         /* each register's two bytes arrive low-first */
};

static const struct order_info order_table[GW_ORDER_COUNT] = {
    [GW_ORDER_ABCD] = { .word_swap = false, .byte_swap = false },
    [GW_ORDER_DCBA] = { .word_swap = true,  .byte_swap = true },
    [GW_ORDER_BADC] = { .word_swap = false, .byte_swap = true },
    [GW_ORDER_CDAB] = { .word_swap = true,  .byte_swap = false },
};

/* The raw bits a point was decoded from, right-aligned, and how many of
 * them there are: what sentinels are compared against. */
struct raw {
    uint64_t bits;
    unsigned width;
};

static int64_t sign_extend(uint64_t bits, unsigned width)
{
    uint64_t mask = width >= 64 ? UINT64_MAX : (UINT64_C(1) << width) - 1;
    uint64_t top = UINT64_C(1) << (width - 1);

    bits &= mask;
    if (!(bits & top))
        return (int64_t)bits;
    /* Negative: -(~bits) - 1 stays inside int64_t with no
     * implementation-defined conversion. */
    return -(int64_t)(~bits & mask) - 1;
}

static double as_unsigned(uint64_t bits, unsigned width)
{
    (void)width;
    return (double)bits;
}

static double as_signed(uint64_t bits, unsigned width)
{
    return (double)sign_extend(bits, width);
}

/* The double nearest to f with the fewest significant digits (7 to 9)
 * that still reads back as f.  Widening a float32 to double as it is
 * invents digits (123.456 becomes 123.456001281738) that would show in
 * every payload; this keeps every bit of f and none of the noise. */
static double shortest_float(float f)
{
    if (!isfinite(f) || f == 0.0f)
        return f;
    int exponent = (int)floor(log10(fabs((double)f)));
    for (int digits = 7; digits <= 9; digits++) {
        double scale = pow(10.0, digits - 1 - exponent);
        double candidate = round((double)f * scale) / scale;
        if ((float)candidate == f)
            return candidate;
    }
    return f;
}

static double as_float(uint64_t bits, unsigned width)
{
    if (width == 32) {
        uint32_t u = (uint32_t)bits;
        float f;

        memcpy(&f, &u, sizeof f);
        return shortest_float(f);
    }
    double d;

    memcpy(&d, &bits, sizeof d);
    return d;
}

struct type_info {
    uint8_t regs;           /* 0: not a plain number (bit, string) */
    bool is_float;
    double (*number)(uint64_t bits, unsigned width);
};

static const struct type_info type_table[GW_TYPE_COUNT] = {
    [GW_TYPE_BIT]     = { 0, false, NULL },
    [GW_TYPE_UINT16]  = { 1, false, as_unsigned },
    [GW_TYPE_INT16]   = { 1, false, as_signed },
    [GW_TYPE_UINT32]  = { 2, false, as_unsigned },
    [GW_TYPE_INT32]   = { 2, false, as_signed },
    [GW_TYPE_UINT64]  = { 4, false, as_unsigned },
    [GW_TYPE_INT64]   = { 4, false, as_signed },
    [GW_TYPE_FLOAT32] = { 2, true,  as_float },
    [GW_TYPE_FLOAT64] = { 4, true,  as_float },
    [GW_TYPE_STRING]  = { 0, false, NULL },
};

/* An order outside the enum yields zeros rather than reading past the
 * table: the function has no error return, and zeros are at least
 * deterministic. */
void decode_normalize(enum gw_order order, const uint16_t *src, unsigned n, uint8_t *dst)
{
    if ((unsigned)order >= GW_ORDER_COUNT) {
        memset(dst, 0, 2u * n);
        return;
    }
    const struct order_info *o = &order_table[order];

    for (unsigned i = 0; i < n; i++) {
        uint16_t reg = src[o->word_swap ? n - 1 - i : i];
        uint8_t hi = (uint8_t)(reg >> 8), lo = (uint8_t)reg;

        dst[2 * i] = o->byte_swap ? lo : hi;
        dst[2 * i + 1] = o->byte_swap ? hi : lo;
    }
}

/* Returns the raw number of a plain numeric point and fills *raw. */
static double decode_number(const struct gw_point_def *point, const uint16_t *regs,
                            struct raw *raw)
{
    const struct type_info *t = &type_table[point->type];
    uint8_t bytes[8];

    decode_normalize(point->order, regs, t->regs, bytes);
    raw->bits = 0;
    for (unsigned i = 0; i < 2u * t->regs; i++)
        raw->bits = raw->bits << 8 | bytes[i];
    raw->width = 16u * t->regs;
    return t->number(raw->bits, raw->width);
}

/* Returns 0 or 1.  A bit taken from a register keeps the whole register
 * as its raw value, so a sentinel such as 0xFFFF ("no data" in a status
 * word) still applies to every bit read from it. */
static double decode_bit(const struct gw_point_def *point, const uint16_t *regs,
                         const uint8_t *bits, struct raw *raw)
{
    if (gw_table_is_bits(point->table)) {
        raw->bits = bits[0] != 0;
        raw->width = 1;
        return (double)raw->bits;
    }
    raw->bits = regs[0];
    raw->width = 16;
    if (point->bit < 0)
        return regs[0] != 0;
    return (regs[0] >> point->bit) & 1u;
}

/* An integer sentinel matches the raw bits read as either unsigned or
 * signed at the point's width, so 0xFFFF and -1 both match an int16
 * 0xFFFF; a sentinel that does not fit the width matches nothing rather
 * than being silently truncated. */
static bool sentinel_bits_match(int64_t sentinel, const struct raw *raw)
{
    uint64_t mask = raw->width >= 64 ? UINT64_MAX : (UINT64_C(1) << raw->width) - 1;
    uint64_t bits = raw->bits & mask;

    return (uint64_t)sentinel == bits || sentinel == sign_extend(bits, raw->width);
}

/* A float sentinel compares the raw number before scaling, at the point's
 * precision: a float32 device's -3.4028235e38 is not exactly that double. */
static bool sentinel_value_match(double sentinel, enum gw_type type, double number)
{
    if (type == GW_TYPE_FLOAT32)
        return (float)sentinel == (float)number;
    return sentinel == number;
}

static bool is_sentinel(const struct gw_point_def *point, const struct raw *raw, double number)
{
    for (unsigned i = 0; i < point->n_sentinels && i < GW_SENTINEL_MAX; i++) {
        const struct gw_sentinel *s = &point->sentinels[i];

        if (s->is_float ? sentinel_value_match(s->value, point->type, number)
                        : sentinel_bits_match(s->bits, raw))
            return true;
    }
    return false;
}

static enum gw_quality judge(const struct gw_point_def *point, const struct raw *raw,
                             double number, double value)
{
    if (is_sentinel(point, raw, number) || !isfinite(value))
        return GW_QUALITY_UNCERTAIN;
    if ((point->has_min && value < point->min) || (point->has_max && value > point->max))
        return GW_QUALITY_UNCERTAIN;
    return GW_QUALITY_GOOD;
}

/* Fills out->text with a malloc'd copy of the string, two characters per
 * register, trailing NULs and spaces trimmed.  Returns 0 or -ENOMEM. */
static int decode_string(const struct gw_point_def *point, const uint16_t *regs,
                         struct gw_reading *out)
{
    /* Characters are not split across registers, so only the byte swap of
     * the order applies: CDAB reads as ABCD, DCBA as BADC. */
    enum gw_order order = order_table[point->order].byte_swap ? GW_ORDER_BADC : GW_ORDER_ABCD;
    size_t n = 2u * point->count;
    char *text = malloc(n + 1);

    if (!text)
        return -ENOMEM;
    for (unsigned i = 0; i < point->count; i++)
        decode_normalize(order, &regs[i], 1, (uint8_t *)&text[2 * i]);
    text[n] = '\0';
    n = strlen(text);
    while (n > 0 && text[n - 1] == ' ')
        text[--n] = '\0';
    out->text = text;
    out->quality = GW_QUALITY_GOOD;
    return 0;
}

/* Whether the point can be decoded from what was read; a profile that
 * passed validation always can, so this only guards against misuse. */
static bool decodable(const struct gw_point_def *point, const uint16_t *regs,
                      const uint8_t *bits)
{
    if ((unsigned)point->type >= GW_TYPE_COUNT || (unsigned)point->order >= GW_ORDER_COUNT
        || (unsigned)point->table >= GW_TABLE_COUNT)
        return false;
    if (gw_table_is_bits(point->table))
        return bits && point->type == GW_TYPE_BIT;
    if (point->type == GW_TYPE_BIT && (point->bit < -1 || point->bit > 15))
        return false;
    return regs != NULL;
}

int decode_point(const struct gw_point_def *point, const uint16_t *regs,
                 const uint8_t *bits, struct gw_reading *out)
{
    if (!point || !out)
        return -EINVAL;
    out->name = point->name;
    out->unit = point->unit;
    out->value = 0.0;
    out->text = NULL;
    out->quality = GW_QUALITY_BAD;
    if (!decodable(point, regs, bits))
        return 0;
    if (point->type == GW_TYPE_STRING)
        return decode_string(point, regs, out);

    struct raw raw;
    double number = point->type == GW_TYPE_BIT ? decode_bit(point, regs, bits, &raw)
                                               : decode_number(point, regs, &raw);

    /* Uncertain values are filled in too: the caller never publishes them
     * as numbers, but logs and `greenwatch read` show what was read. */
    out->value = number * point->scale + point->offset;
    out->quality = judge(point, &raw, number, out->value);
    return 0;
}
