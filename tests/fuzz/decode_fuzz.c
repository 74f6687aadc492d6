/*
 * libFuzzer target for the register decoder: the input gives registers, a
 * bit, scale, offset, bounds and sentinels, and every type x byte order
 * (plus one type and one order outside the enums) decodes them.  Each
 * result is checked against a reference written here from the contracts
 * in point.h and decode.h rather than from decode.c: the number the
 * registers hold, value = number * scale + offset, and a quality that is
 * good exactly when no sentinel matched, the value is finite and inside
 * its bounds.  Any broken invariant aborts, so that the fuzzer reports it.
 *
 * Input: 6 bytes of choices, 4 doubles (scale, offset, min, max), up to
 * GW_SENTINEL_MAX sentinels of 8 bytes, then the registers (big-endian
 * pairs; missing ones are 0).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

struct input {
    const uint8_t *data;
    size_t size, pos;
};

static uint8_t take_byte(struct input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static uint64_t take_u64(struct input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take_byte(in);
    return v;
}

static double take_double(struct input *in)
{
    uint64_t bits = take_u64(in);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---- the reference ---------------------------------------------------- */

/* Big-endian bytes of the value, undoing the order as point.h names it:
 * ABCD as sent, CDAB registers last-first, BADC bytes of each register
 * swapped, DCBA both. */
static void reference_bytes(enum gw_order order, const uint16_t *regs, unsigned n, uint8_t *out)
{
    bool words_reversed = order == GW_ORDER_CDAB || order == GW_ORDER_DCBA;
    bool bytes_swapped = order == GW_ORDER_BADC || order == GW_ORDER_DCBA;

    for (unsigned i = 0; i < n; i++) {
        uint16_t r = regs[words_reversed ? n - 1 - i : i];
        out[2 * i] = (uint8_t)(bytes_swapped ? r : r >> 8);
        out[2 * i + 1] = (uint8_t)(bytes_swapped ? r >> 8 : r);
    }
}

struct reference {
    uint64_t bits;          /* raw bits, right-aligned */
    unsigned width;
    double number;          /* before scale and offset */
    float number32;         /* float32: the number at its own precision */
};

static int64_t signed_at(uint64_t bits, unsigned width)
{
    if (width >= 64)
        return (int64_t)bits;
    uint64_t sign = UINT64_C(1) << (width - 1);
    bits &= (UINT64_C(1) << width) - 1;
    return bits & sign ? (int64_t)(bits - sign) - (int64_t)(sign - 1) - 1 : (int64_t)bits;
}

static void reference_number(const struct gw_point_def *p, const uint16_t *regs,
                             const uint8_t *bit, struct reference *r)
{
    uint8_t b[8];

    if (p->type == GW_TYPE_BIT) {
        if (p->table == GW_TABLE_COIL || p->table == GW_TABLE_DISCRETE) {
            r->bits = bit[0] != 0;
            r->width = 1;
            r->number = (double)r->bits;
        } else {
            r->bits = regs[0];
            r->width = 16;
            r->number = p->bit < 0 ? regs[0] != 0 : (regs[0] >> p->bit) & 1;
        }
        return;
    }
    unsigned n = point_type_registers(p->type);
    reference_bytes(p->order, regs, n, b);
    r->bits = 0;
    for (unsigned i = 0; i < 2 * n; i++)
        r->bits = r->bits << 8 | b[i];
    r->width = 16 * n;
    switch (p->type) {
    case GW_TYPE_UINT16: case GW_TYPE_UINT32: case GW_TYPE_UINT64:
        r->number = (double)r->bits;
        break;
    case GW_TYPE_INT16: case GW_TYPE_INT32: case GW_TYPE_INT64:
        r->number = (double)signed_at(r->bits, r->width);
        break;
    case GW_TYPE_FLOAT32: {
        uint32_t u = (uint32_t)r->bits;
        memcpy(&r->number32, &u, sizeof u);
        r->number = r->number32;
        break;
    }
    case GW_TYPE_FLOAT64:
        memcpy(&r->number, &r->bits, sizeof r->number);
        break;
    default:
        abort();
    }
}

/* point.h: integers match as bit patterns at the point's width, read
 * unsigned or signed; floats match the raw number at the point's
 * precision. */
static bool reference_sentinel(const struct gw_point_def *p, const struct reference *r)
{
    uint64_t mask = r->width >= 64 ? UINT64_MAX : (UINT64_C(1) << r->width) - 1;

    for (unsigned i = 0; i < p->n_sentinels; i++) {
        const struct gw_sentinel *s = &p->sentinels[i];
        if (s->is_float) {
            if (p->type == GW_TYPE_FLOAT32 ? (float)s->value == r->number32 : s->value == r->number)
                return true;
        } else if ((uint64_t)s->bits == (r->bits & mask) || s->bits == signed_at(r->bits, r->width)) {
            return true;
        }
    }
    return false;
}

static bool same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* ---- checks ----------------------------------------------------------- */

static bool point_valid(const struct gw_point_def *p)
{
    if ((unsigned)p->type >= GW_TYPE_COUNT || (unsigned)p->order >= GW_ORDER_COUNT)
        return false;
    if (p->table == GW_TABLE_COIL || p->table == GW_TABLE_DISCRETE)
        return p->type == GW_TYPE_BIT;
    return p->type != GW_TYPE_BIT || (p->bit >= -1 && p->bit <= 15);
}

static void check_string(const struct gw_point_def *p, const uint16_t *regs,
                         const struct gw_reading *out)
{
    /* Characters never cross registers: only a byte swap applies. */
    bool swapped = p->order == GW_ORDER_BADC || p->order == GW_ORDER_DCBA;
    char want[2 * GW_STRING_REGS_MAX + 1];

    for (unsigned i = 0; i < p->count; i++)
        reference_bytes(swapped ? GW_ORDER_BADC : GW_ORDER_ABCD, &regs[i], 1, (uint8_t *)&want[2 * i]);
    want[2 * p->count] = '\0';
    for (size_t n = strlen(want); n > 0 && want[n - 1] == ' ';)
        want[--n] = '\0';
    REQUIRE(out->text && strcmp(out->text, want) == 0);
    REQUIRE(out->quality == GW_QUALITY_GOOD);
}

static void check_number(const struct gw_point_def *p, const uint16_t *regs, const uint8_t *bit,
                         const struct gw_reading *out)
{
    struct reference r;
    struct gw_point_def plain = *p;
    struct gw_reading raw;

    reference_number(p, regs, bit, &r);
    /* The number itself, unscaled and unjudged. */
    plain.scale = 1.0;
    plain.offset = 0.0;
    plain.has_min = plain.has_max = false;
    plain.n_sentinels = 0;
    REQUIRE(decode_point(&plain, regs, bit, &raw) == 0 && raw.text == NULL);
    if (p->type == GW_TYPE_FLOAT32)
        REQUIRE((float)raw.value == r.number32 || (isnan(raw.value) && isnan(r.number32)));
    else
        REQUIRE(same_double(raw.value, r.number));
    REQUIRE(raw.quality == (isfinite(raw.value) ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN));

    REQUIRE(out->text == NULL);
    REQUIRE(same_double(out->value, raw.value * p->scale + p->offset));
    bool good = !reference_sentinel(p, &r) && isfinite(out->value) &&
                !(p->has_min && out->value < p->min) && !(p->has_max && out->value > p->max);
    REQUIRE(out->quality == (good ? GW_QUALITY_GOOD : GW_QUALITY_UNCERTAIN));
}

static void check_point(const struct gw_point_def *p, const uint16_t *regs, const uint8_t *bit)
{
    struct gw_reading out, again;

    REQUIRE(decode_point(p, regs, bit, &out) == 0);
    REQUIRE(out.name == p->name && out.unit == p->unit);
    if (!point_valid(p)) {
        REQUIRE(out.quality == GW_QUALITY_BAD && out.text == NULL && out.value == 0.0);
        return;
    }
    if (p->type == GW_TYPE_STRING)
        check_string(p, regs, &out);
    else
        check_number(p, regs, bit, &out);
    /* Decoding is a function of its inputs. */
    REQUIRE(decode_point(p, regs, bit, &again) == 0);
    REQUIRE(again.quality == out.quality && same_double(again.value, out.value));
    REQUIRE(!out.text == !again.text && (!out.text || strcmp(out.text, again.text) == 0));
    free(out.text);
    free(again.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size, 0 };
    struct gw_point_def p;

    memset(&p, 0, sizeof p);
    strcpy(p.name, "p");
    strcpy(p.unit, "u");
    uint8_t table = take_byte(&in), bit_choice = take_byte(&in), count = take_byte(&in);
    uint8_t flags = take_byte(&in), n_sentinels = take_byte(&in), float_sentinels = take_byte(&in);
    p.table = (enum gw_table)(table % GW_TABLE_COUNT);
    p.bit = (int8_t)(bit_choice % 19 - 2);             /* -2 .. 16: two outside 0..15 and -1 */
    p.scale = take_double(&in);
    p.offset = take_double(&in);
    p.min = take_double(&in);
    p.max = take_double(&in);
    p.has_min = flags & 1;
    p.has_max = flags & 2;
    p.n_sentinels = (uint8_t)(n_sentinels % (GW_SENTINEL_MAX + 1));
    for (unsigned i = 0; i < p.n_sentinels; i++) {
        p.sentinels[i].is_float = float_sentinels >> i & 1;
        p.sentinels[i].bits = (int64_t)take_u64(&in);
        memcpy(&p.sentinels[i].value, &p.sentinels[i].bits, sizeof p.sentinels[i].value);
        if (!p.sentinels[i].is_float)
            p.sentinels[i].value = (double)p.sentinels[i].bits;
    }

    uint16_t all[GW_STRING_REGS_MAX];
    for (unsigned i = 0; i < GW_STRING_REGS_MAX; i++)
        all[i] = (uint16_t)(take_byte(&in) << 8 | take_byte(&in));
    unsigned string_regs = 1 + count % GW_STRING_REGS_MAX;
    uint8_t *bit = malloc(1);
    REQUIRE(bit);
    bit[0] = (uint8_t)(all[0] & 1 ? all[0] >> 8 : 0);

    for (unsigned type = 0; type <= GW_TYPE_COUNT; type++) {
        for (unsigned order = 0; order <= GW_ORDER_COUNT; order++) {
            p.type = (enum gw_type)type;
            p.order = (enum gw_order)order;
            p.count = type == GW_TYPE_STRING ? (uint16_t)string_regs
                    : type < GW_TYPE_COUNT ? point_type_registers(p.type) : 1;
            /* Exactly the registers the point occupies, on the heap, so
             * that the address sanitizer sees a read past them. */
            uint16_t *regs = malloc(p.count * sizeof *regs);
            REQUIRE(regs);
            memcpy(regs, all, p.count * sizeof *regs);
            check_point(&p, regs, bit);
            free(regs);
        }
    }
    free(bit);
    return 0;
}
