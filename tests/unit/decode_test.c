/*
 * decode: every type x byte order against byte patterns written out by
 * hand, then scale/offset, sentinels, NaN/Inf, bounds, bits and strings.
 * The expected register contents are literal on purpose: computing them
 * with an encoder would let a symmetric bug pass.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Records a failure naming the table case, so a failing row is found
 * without a debugger.  CUnit copies the message. */
#define CHECK(cond, what) check_case((cond), #cond, (what), __LINE__)

static void check_case(bool ok, const char *cond, const char *what, int line)
{
    char msg[256];

    snprintf(msg, sizeof msg, "%s: %s", what, cond);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, msg, __FILE__, "",
                            CU_FALSE);
}

static struct gw_point_def make_point(enum gw_table table, enum gw_type type,
                                      enum gw_order order)
{
    struct gw_point_def p;

    memset(&p, 0, sizeof p);
    strcpy(p.name, "test_point");
    strcpy(p.unit, "kW");
    p.table = table;
    p.type = type;
    p.order = order;
    p.count = point_type_registers(type);
    p.bit = -1;
    p.scale = 1.0;
    p.offset = 0.0;
    return p;
}

static struct gw_point_def reg_point(enum gw_type type, enum gw_order order)
{
    return make_point(GW_TABLE_HOLDING, type, order);
}

/* A reading full of stale values, so a field the decoder forgets to set
 * shows up. */
static struct gw_reading stale_reading(void)
{
    static char stale_text[] = "stale";
    struct gw_reading r = { "stale", "stale", -12345.0, stale_text, GW_QUALITY_BAD };

    return r;
}

static void add_int_sentinel(struct gw_point_def *p, int64_t bits)
{
    p->sentinels[p->n_sentinels++] = (struct gw_sentinel){ .is_float = false, .bits = bits };
}

static void add_float_sentinel(struct gw_point_def *p, double value)
{
    p->sentinels[p->n_sentinels++] = (struct gw_sentinel){ .is_float = true, .value = value };
}

/* ---- every numeric type x every byte order ------------------------------ */

struct number_case {
    const char *what;
    enum gw_type type;
    enum gw_order order;
    uint16_t regs[4];
    double expect;
};

#define A GW_ORDER_ABCD
#define C GW_ORDER_CDAB
#define B GW_ORDER_BADC
#define D GW_ORDER_DCBA

static const struct number_case number_cases[] = {
    /* uint16 4660 = 0x1234 */
    { "uint16 ABCD", GW_TYPE_UINT16, A, { 0x1234 }, 4660.0 },
    { "uint16 CDAB", GW_TYPE_UINT16, C, { 0x1234 }, 4660.0 },
    { "uint16 BADC", GW_TYPE_UINT16, B, { 0x3412 }, 4660.0 },
    { "uint16 DCBA", GW_TYPE_UINT16, D, { 0x3412 }, 4660.0 },
    /* int16 -12345 = 0xCFC7 */
    { "int16 ABCD", GW_TYPE_INT16, A, { 0xCFC7 }, -12345.0 },
    { "int16 CDAB", GW_TYPE_INT16, C, { 0xCFC7 }, -12345.0 },
    { "int16 BADC", GW_TYPE_INT16, B, { 0xC7CF }, -12345.0 },
    { "int16 DCBA", GW_TYPE_INT16, D, { 0xC7CF }, -12345.0 },
    /* uint32 305419896 = 0x12345678 */
    { "uint32 ABCD", GW_TYPE_UINT32, A, { 0x1234, 0x5678 }, 305419896.0 },
    { "uint32 CDAB", GW_TYPE_UINT32, C, { 0x5678, 0x1234 }, 305419896.0 },
    { "uint32 BADC", GW_TYPE_UINT32, B, { 0x3412, 0x7856 }, 305419896.0 },
    { "uint32 DCBA", GW_TYPE_UINT32, D, { 0x7856, 0x3412 }, 305419896.0 },
    /* uint32 max: must not come out negative */
    { "uint32 max ABCD", GW_TYPE_UINT32, A, { 0xFFFF, 0xFFFF }, 4294967295.0 },
    { "uint32 max CDAB", GW_TYPE_UINT32, C, { 0xFFFF, 0xFFFF }, 4294967295.0 },
    { "uint32 max BADC", GW_TYPE_UINT32, B, { 0xFFFF, 0xFFFF }, 4294967295.0 },
    { "uint32 max DCBA", GW_TYPE_UINT32, D, { 0xFFFF, 0xFFFF }, 4294967295.0 },
    /* int32 -123456789 = 0xF8A432EB */
    { "int32 ABCD", GW_TYPE_INT32, A, { 0xF8A4, 0x32EB }, -123456789.0 },
    { "int32 CDAB", GW_TYPE_INT32, C, { 0x32EB, 0xF8A4 }, -123456789.0 },
    { "int32 BADC", GW_TYPE_INT32, B, { 0xA4F8, 0xEB32 }, -123456789.0 },
    { "int32 DCBA", GW_TYPE_INT32, D, { 0xEB32, 0xA4F8 }, -123456789.0 },
    /* uint64 4822678189205111 = 0x0011223344556677 (exact in a double) */
    { "uint64 ABCD", GW_TYPE_UINT64, A, { 0x0011, 0x2233, 0x4455, 0x6677 }, 4822678189205111.0 },
    { "uint64 CDAB", GW_TYPE_UINT64, C, { 0x6677, 0x4455, 0x2233, 0x0011 }, 4822678189205111.0 },
    { "uint64 BADC", GW_TYPE_UINT64, B, { 0x1100, 0x3322, 0x5544, 0x7766 }, 4822678189205111.0 },
    { "uint64 DCBA", GW_TYPE_UINT64, D, { 0x7766, 0x5544, 0x3322, 0x1100 }, 4822678189205111.0 },
    /* int64 -4822678189205111 = 0xFFEEDDCCBBAA9989 */
    { "int64 ABCD", GW_TYPE_INT64, A, { 0xFFEE, 0xDDCC, 0xBBAA, 0x9989 }, -4822678189205111.0 },
    { "int64 CDAB", GW_TYPE_INT64, C, { 0x9989, 0xBBAA, 0xDDCC, 0xFFEE }, -4822678189205111.0 },
    { "int64 BADC", GW_TYPE_INT64, B, { 0xEEFF, 0xCCDD, 0xAABB, 0x8999 }, -4822678189205111.0 },
    { "int64 DCBA", GW_TYPE_INT64, D, { 0x8999, 0xAABB, 0xCCDD, 0xEEFF }, -4822678189205111.0 },
    /* float32 123.456 = 0x42F6E979, published as 123.456, not as the
     * widened 123.456001281738 */
    { "float32 ABCD", GW_TYPE_FLOAT32, A, { 0x42F6, 0xE979 }, 123.456 },
    { "float32 CDAB", GW_TYPE_FLOAT32, C, { 0xE979, 0x42F6 }, 123.456 },
    { "float32 BADC", GW_TYPE_FLOAT32, B, { 0xF642, 0x79E9 }, 123.456 },
    { "float32 DCBA", GW_TYPE_FLOAT32, D, { 0x79E9, 0xF642 }, 123.456 },
    /* The float after 1.0 needs eight digits; none of its bits are lost. */
    { "float32 1.0000001", GW_TYPE_FLOAT32, A, { 0x3F80, 0x0001 }, 1.0000001 },
    { "float32 16777215", GW_TYPE_FLOAT32, A, { 0x4B7F, 0xFFFF }, 16777215.0 },
    /* float64 1234.5678 = 0x40934A456D5CFAAD */
    { "float64 ABCD", GW_TYPE_FLOAT64, A, { 0x4093, 0x4A45, 0x6D5C, 0xFAAD }, 1234.5678 },
    { "float64 CDAB", GW_TYPE_FLOAT64, C, { 0xFAAD, 0x6D5C, 0x4A45, 0x4093 }, 1234.5678 },
    { "float64 BADC", GW_TYPE_FLOAT64, B, { 0x9340, 0x454A, 0x5C6D, 0xADFA }, 1234.5678 },
    { "float64 DCBA", GW_TYPE_FLOAT64, D, { 0xADFA, 0x5C6D, 0x454A, 0x9340 }, 1234.5678 },
};

static void test_every_type_and_order(void)
{
    for (size_t i = 0; i < sizeof number_cases / sizeof number_cases[0]; i++) {
        const struct number_case *c = &number_cases[i];
        struct gw_point_def p = reg_point(c->type, c->order);
        struct gw_reading r = stale_reading();

        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(r.value == c->expect, c->what);
        CHECK(r.quality == GW_QUALITY_GOOD, c->what);
        CHECK(r.text == NULL, c->what);
        CHECK(r.name == p.name && r.unit == p.unit, c->what);
    }
}

/* ---- scale and offset -------------------------------------------------- */

struct scale_case {
    const char *what;
    enum gw_type type;
    uint16_t regs[2];
    double scale, offset, expect;
};

static const struct scale_case scale_cases[] = {
    { "uint16 x0.1 - 40", GW_TYPE_UINT16, { 1234 }, 0.1, -40.0, 83.4 },
    { "int16 -100 x0.5 + 1", GW_TYPE_INT16, { 0xFF9C }, 0.5, 1.0, -49.0 },
    { "int32 -123456789 x0.001", GW_TYPE_INT32, { 0xF8A4, 0x32EB }, 0.001, 0.0, -123456.789 },
    { "float32 123.456 x2 + 0.5", GW_TYPE_FLOAT32, { 0x42F6, 0xE979 }, 2.0, 0.5,
      2.0 * 123.456 + 0.5 },
    { "uint16 offset only", GW_TYPE_UINT16, { 0 }, 1.0, 273.15, 273.15 },
};

static void test_scale_offset(void)
{
    for (size_t i = 0; i < sizeof scale_cases / sizeof scale_cases[0]; i++) {
        const struct scale_case *c = &scale_cases[i];
        struct gw_point_def p = reg_point(c->type, GW_ORDER_ABCD);
        struct gw_reading r = stale_reading();

        p.scale = c->scale;
        p.offset = c->offset;
        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(fabs(r.value - c->expect) < 1e-9, c->what);
        CHECK(r.quality == GW_QUALITY_GOOD, c->what);
    }
}

/* ---- sentinels --------------------------------------------------------- */

struct int_sentinel_case {
    const char *what;
    enum gw_type type;
    enum gw_order order;
    uint16_t regs[4];
    int64_t sentinel;
    enum gw_quality expect;
};

static const struct int_sentinel_case int_sentinel_cases[] = {
    { "int16 0xFFFF vs -1", GW_TYPE_INT16, A, { 0xFFFF }, -1, GW_QUALITY_UNCERTAIN },
    { "int16 0xFFFF vs 0xFFFF", GW_TYPE_INT16, A, { 0xFFFF }, 0xFFFF, GW_QUALITY_UNCERTAIN },
    { "uint16 0xFFFF vs -1", GW_TYPE_UINT16, A, { 0xFFFF }, -1, GW_QUALITY_UNCERTAIN },
    { "uint16 0xFFFF vs 0xFFFF", GW_TYPE_UINT16, A, { 0xFFFF }, 0xFFFF, GW_QUALITY_UNCERTAIN },
    { "int16 0xFFFE vs -1", GW_TYPE_INT16, A, { 0xFFFE }, -1, GW_QUALITY_GOOD },
    { "int16 0x8000 vs -32768", GW_TYPE_INT16, A, { 0x8000 }, -32768, GW_QUALITY_UNCERTAIN },
    { "int16 0x8000 vs 0x8000", GW_TYPE_INT16, A, { 0x8000 }, 0x8000, GW_QUALITY_UNCERTAIN },
    { "uint16 0xFFFF vs 0x1FFFF (too wide)", GW_TYPE_UINT16, A, { 0xFFFF }, 0x1FFFF,
      GW_QUALITY_GOOD },
    { "uint32 max vs -1", GW_TYPE_UINT32, A, { 0xFFFF, 0xFFFF }, -1, GW_QUALITY_UNCERTAIN },
    { "uint32 max vs 0xFFFFFFFF", GW_TYPE_UINT32, A, { 0xFFFF, 0xFFFF }, 0xFFFFFFFF,
      GW_QUALITY_UNCERTAIN },
    { "uint32 0xFFFF0000 vs 0xFFFF", GW_TYPE_UINT32, A, { 0xFFFF, 0x0000 }, 0xFFFF,
      GW_QUALITY_GOOD },
    { "int32 min CDAB vs 0x80000000", GW_TYPE_INT32, C, { 0x0000, 0x8000 }, 0x80000000,
      GW_QUALITY_UNCERTAIN },
    { "int32 min CDAB vs INT32_MIN", GW_TYPE_INT32, C, { 0x0000, 0x8000 }, INT32_MIN,
      GW_QUALITY_UNCERTAIN },
    { "int32 0x00008000 vs 0x80000000", GW_TYPE_INT32, A, { 0x0000, 0x8000 }, 0x80000000,
      GW_QUALITY_GOOD },
    { "int64 all ones vs -1", GW_TYPE_INT64, A, { 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF }, -1,
      GW_QUALITY_UNCERTAIN },
    { "uint64 all ones vs -1", GW_TYPE_UINT64, D, { 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF }, -1,
      GW_QUALITY_UNCERTAIN },
    { "uint64 BADC vs byte pattern", GW_TYPE_UINT64, B, { 0x1100, 0x3322, 0x5544, 0x7766 },
      0x0011223344556677, GW_QUALITY_UNCERTAIN },
};

static void test_integer_sentinels(void)
{
    for (size_t i = 0; i < sizeof int_sentinel_cases / sizeof int_sentinel_cases[0]; i++) {
        const struct int_sentinel_case *c = &int_sentinel_cases[i];
        struct gw_point_def p = reg_point(c->type, c->order);
        struct gw_reading r = stale_reading();

        add_int_sentinel(&p, c->sentinel);
        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(r.quality == c->expect, c->what);
    }
}

static void test_sentinel_not_first_and_value_kept(void)
{
    struct gw_point_def p = reg_point(GW_TYPE_INT16, GW_ORDER_ABCD);
    const uint16_t regs[] = { 0xFFFF };
    struct gw_reading r = stale_reading();

    p.scale = 10.0;
    add_int_sentinel(&p, 0x7FFF);
    add_int_sentinel(&p, -1);
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_UNCERTAIN);
    /* Uncertain values are still decoded and scaled. */
    CU_ASSERT_DOUBLE_EQUAL(r.value, -10.0, 1e-12);
}

struct float_sentinel_case {
    const char *what;
    enum gw_type type;
    enum gw_order order;
    uint16_t regs[4];
    bool is_float;
    int64_t bits;
    double value;
    enum gw_quality expect;
};

static const struct float_sentinel_case float_sentinel_cases[] = {
    /* -999.0f = 0xC479C000 */
    { "float32 -999 vs -999.0", GW_TYPE_FLOAT32, A, { 0xC479, 0xC000 }, true, 0, -999.0,
      GW_QUALITY_UNCERTAIN },
    { "float32 -999 CDAB vs -999.0", GW_TYPE_FLOAT32, C, { 0xC000, 0xC479 }, true, 0, -999.0,
      GW_QUALITY_UNCERTAIN },
    { "float32 -999 vs -998.0", GW_TYPE_FLOAT32, A, { 0xC479, 0xC000 }, true, 0, -998.0,
      GW_QUALITY_GOOD },
    /* 123.456 is not exact in either width; compared at float32 precision. */
    { "float32 123.456 vs 123.456", GW_TYPE_FLOAT32, A, { 0x42F6, 0xE979 }, true, 0, 123.456,
      GW_QUALITY_UNCERTAIN },
    /* -FLT_MAX = 0xFF7FFFFF, as a profile would write it */
    { "float32 -FLT_MAX vs -3.4028235e38", GW_TYPE_FLOAT32, A, { 0xFF7F, 0xFFFF }, true, 0,
      -3.4028235e38, GW_QUALITY_UNCERTAIN },
    /* -999.0 = 0xC08F380000000000 */
    { "float64 -999 vs -999.0", GW_TYPE_FLOAT64, A, { 0xC08F, 0x3800, 0x0000, 0x0000 }, true, 0,
      -999.0, GW_QUALITY_UNCERTAIN },
    { "float64 1234.5678 vs 1234.5678f", GW_TYPE_FLOAT64, A, { 0x4093, 0x4A45, 0x6D5C, 0xFAAD },
      true, 0, (double)1234.5678f, GW_QUALITY_GOOD },
    /* -999 = 0xFC19: a float sentinel on an integer point compares the number */
    { "int16 -999 vs -999.0", GW_TYPE_INT16, A, { 0xFC19 }, true, 0, -999.0,
      GW_QUALITY_UNCERTAIN },
    /* Integer sentinels on float points compare the bit pattern. */
    { "float32 FLT_MAX vs bits 0x7F7FFFFF", GW_TYPE_FLOAT32, A, { 0x7F7F, 0xFFFF }, false,
      0x7F7FFFFF, 0.0, GW_QUALITY_UNCERTAIN },
    { "float32 FLT_MAX CDAB vs bits 0x7F7FFFFF", GW_TYPE_FLOAT32, C, { 0xFFFF, 0x7F7F }, false,
      0x7F7FFFFF, 0.0, GW_QUALITY_UNCERTAIN },
    { "float32 FLT_MAX BADC vs bits 0x7F7FFFFF", GW_TYPE_FLOAT32, B, { 0x7F7F, 0xFFFF }, false,
      0x7F7FFFFF, 0.0, GW_QUALITY_UNCERTAIN },
    { "float32 1.0 vs bits 1", GW_TYPE_FLOAT32, A, { 0x3F80, 0x0000 }, false, 1, 0.0,
      GW_QUALITY_GOOD },
    { "float32 1.0 vs bits 0x3F800000", GW_TYPE_FLOAT32, A, { 0x3F80, 0x0000 }, false,
      0x3F800000, 0.0, GW_QUALITY_UNCERTAIN },
    { "float32 NaN vs bits 0x7FC00000", GW_TYPE_FLOAT32, A, { 0x7FC0, 0x0000 }, false,
      0x7FC00000, 0.0, GW_QUALITY_UNCERTAIN },
    { "float32 all ones vs bits 0xFFFFFFFF", GW_TYPE_FLOAT32, A, { 0xFFFF, 0xFFFF }, false,
      0xFFFFFFFF, 0.0, GW_QUALITY_UNCERTAIN },
    { "float64 -999 vs bits", GW_TYPE_FLOAT64, D, { 0x0000, 0x0000, 0x0038, 0x8FC0 }, false,
      (int64_t)0xC08F380000000000u, 0.0, GW_QUALITY_UNCERTAIN },
};

static void test_float_sentinels(void)
{
    for (size_t i = 0; i < sizeof float_sentinel_cases / sizeof float_sentinel_cases[0]; i++) {
        const struct float_sentinel_case *c = &float_sentinel_cases[i];
        struct gw_point_def p = reg_point(c->type, c->order);
        struct gw_reading r = stale_reading();

        if (c->is_float)
            add_float_sentinel(&p, c->value);
        else
            add_int_sentinel(&p, c->bits);
        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(r.quality == c->expect, c->what);
    }
}

static void test_float_sentinel_before_scaling(void)
{
    struct gw_point_def p = reg_point(GW_TYPE_FLOAT32, GW_ORDER_ABCD);
    const uint16_t regs[] = { 0xC479, 0xC000 };   /* -999.0f */
    struct gw_reading r = stale_reading();

    p.scale = 10.0;
    add_float_sentinel(&p, -999.0);
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_UNCERTAIN);
    CU_ASSERT_DOUBLE_EQUAL(r.value, -9990.0, 1e-9);

    /* The scaled value is not what the sentinel means. */
    p.sentinels[0].value = -9990.0;
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_GOOD);
}

/* ---- NaN and Inf ------------------------------------------------------- */

struct nonfinite_case {
    const char *what;
    enum gw_type type;
    uint16_t regs[4];
    double scale;
    int sign;               /* expected: 0 NaN, +1 +Inf, -1 -Inf */
};

static const struct nonfinite_case nonfinite_cases[] = {
    { "float32 quiet NaN", GW_TYPE_FLOAT32, { 0x7FC0, 0x0000 }, 1.0, 0 },
    { "float32 signalling NaN", GW_TYPE_FLOAT32, { 0x7F80, 0x0001 }, 1.0, 0 },
    { "float32 +Inf", GW_TYPE_FLOAT32, { 0x7F80, 0x0000 }, 1.0, +1 },
    { "float32 -Inf", GW_TYPE_FLOAT32, { 0xFF80, 0x0000 }, 1.0, -1 },
    { "float64 NaN", GW_TYPE_FLOAT64, { 0x7FF8, 0x0000, 0x0000, 0x0000 }, 1.0, 0 },
    { "float64 +Inf", GW_TYPE_FLOAT64, { 0x7FF0, 0x0000, 0x0000, 0x0000 }, 1.0, +1 },
    { "float64 -Inf", GW_TYPE_FLOAT64, { 0xFFF0, 0x0000, 0x0000, 0x0000 }, 1.0, -1 },
    /* finite raw value, overflowing once scaled: 0x7FEFFFFFFFFFFFFF = DBL_MAX */
    { "float64 DBL_MAX x10", GW_TYPE_FLOAT64, { 0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF }, 10.0, +1 },
};

static void test_nan_inf_uncertain(void)
{
    for (size_t i = 0; i < sizeof nonfinite_cases / sizeof nonfinite_cases[0]; i++) {
        const struct nonfinite_case *c = &nonfinite_cases[i];
        struct gw_point_def p = reg_point(c->type, GW_ORDER_ABCD);
        struct gw_reading r = stale_reading();

        p.scale = c->scale;
        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(r.quality == GW_QUALITY_UNCERTAIN, c->what);
        if (c->sign == 0)
            CHECK(isnan(r.value), c->what);
        else
            CHECK(isinf(r.value) && (r.value > 0) == (c->sign > 0), c->what);
    }
}

/* ---- physical bounds --------------------------------------------------- */

struct bounds_case {
    const char *what;
    bool has_min, has_max;
    double min, max;
    enum gw_quality expect;
};

/* The point reads 500 x 0.1 = 50.0: bounds apply after scaling. */
static const struct bounds_case bounds_cases[] = {
    { "above max", false, true, 0.0, 40.0, GW_QUALITY_UNCERTAIN },
    { "below min", true, false, 60.0, 0.0, GW_QUALITY_UNCERTAIN },
    { "inside", true, true, 0.0, 100.0, GW_QUALITY_GOOD },
    { "on both bounds", true, true, 50.0, 50.0, GW_QUALITY_GOOD },
    { "raw above max, scaled inside", false, true, 0.0, 100.0, GW_QUALITY_GOOD },
    { "max set but not enabled", false, false, 0.0, 40.0, GW_QUALITY_GOOD },
    { "min set but not enabled", false, false, 60.0, 0.0, GW_QUALITY_GOOD },
};

static void test_min_max(void)
{
    const uint16_t regs[] = { 500 };

    for (size_t i = 0; i < sizeof bounds_cases / sizeof bounds_cases[0]; i++) {
        const struct bounds_case *c = &bounds_cases[i];
        struct gw_point_def p = reg_point(GW_TYPE_UINT16, GW_ORDER_ABCD);
        struct gw_reading r = stale_reading();

        p.scale = 0.1;
        p.has_min = c->has_min;
        p.has_max = c->has_max;
        p.min = c->min;
        p.max = c->max;
        CHECK(decode_point(&p, regs, NULL, &r) == 0, c->what);
        CHECK(r.quality == c->expect, c->what);
        CHECK(fabs(r.value - 50.0) < 1e-9, c->what);
    }
}

/* ---- bits -------------------------------------------------------------- */

struct bit_case {
    const char *what;
    enum gw_table table;
    uint16_t reg;
    int8_t bit;
    double expect;
};

static const struct bit_case bit_cases[] = {
    { "0x8001 bit 0", GW_TABLE_HOLDING, 0x8001, 0, 1.0 },
    { "0x8001 bit 15", GW_TABLE_HOLDING, 0x8001, 15, 1.0 },
    { "0x8001 bit 1", GW_TABLE_HOLDING, 0x8001, 1, 0.0 },
    { "0x8001 bit 14", GW_TABLE_HOLDING, 0x8001, 14, 0.0 },
    { "0x7FFE bit 0", GW_TABLE_INPUT, 0x7FFE, 0, 0.0 },
    { "0x7FFE bit 15", GW_TABLE_INPUT, 0x7FFE, 15, 0.0 },
    { "0x7FFE bit 1", GW_TABLE_INPUT, 0x7FFE, 1, 1.0 },
    { "0x0100 bit 8", GW_TABLE_HOLDING, 0x0100, 8, 1.0 },
    { "0x0100 bit 7", GW_TABLE_HOLDING, 0x0100, 7, 0.0 },
    { "0x0000 whole register", GW_TABLE_HOLDING, 0x0000, -1, 0.0 },
    { "0x0100 whole register", GW_TABLE_HOLDING, 0x0100, -1, 1.0 },
    { "0x8000 whole register", GW_TABLE_INPUT, 0x8000, -1, 1.0 },
};

static void test_register_bits(void)
{
    for (size_t i = 0; i < sizeof bit_cases / sizeof bit_cases[0]; i++) {
        const struct bit_case *c = &bit_cases[i];
        struct gw_point_def p = make_point(c->table, GW_TYPE_BIT, GW_ORDER_ABCD);
        struct gw_reading r = stale_reading();

        p.bit = c->bit;
        CHECK(decode_point(&p, &c->reg, NULL, &r) == 0, c->what);
        CHECK(r.value == c->expect, c->what);
        CHECK(r.quality == GW_QUALITY_GOOD, c->what);
    }
}

/* A status word of 0xFFFF means "no data" on many devices; a sentinel on a
 * bit point compares the register the bit came from. */
static void test_register_bit_sentinel(void)
{
    struct gw_point_def p = make_point(GW_TABLE_HOLDING, GW_TYPE_BIT, GW_ORDER_ABCD);
    const uint16_t no_data[] = { 0xFFFF }, running[] = { 0x0008 };
    struct gw_reading r = stale_reading();

    p.bit = 3;
    add_int_sentinel(&p, 0xFFFF);
    CU_ASSERT_EQUAL(decode_point(&p, no_data, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_UNCERTAIN);
    CU_ASSERT_EQUAL(decode_point(&p, running, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_GOOD);
    CU_ASSERT_EQUAL(r.value, 1.0);
}

static void test_coil_bits(void)
{
    static const struct {
        const char *what;
        enum gw_table table;
        uint8_t bit;
        double expect;
    } cases[] = {
        { "coil on", GW_TABLE_COIL, 1, 1.0 },
        { "coil off", GW_TABLE_COIL, 0, 0.0 },
        { "discrete on", GW_TABLE_DISCRETE, 1, 1.0 },
        { "discrete off", GW_TABLE_DISCRETE, 0, 0.0 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gw_point_def p = make_point(cases[i].table, GW_TYPE_BIT, GW_ORDER_ABCD);
        struct gw_reading r = stale_reading();

        p.count = 1;
        CHECK(decode_point(&p, NULL, &cases[i].bit, &r) == 0, cases[i].what);
        CHECK(r.value == cases[i].expect, cases[i].what);
        CHECK(r.quality == GW_QUALITY_GOOD, cases[i].what);
        CHECK(r.name == p.name && r.text == NULL, cases[i].what);
    }
}

/* ---- strings ----------------------------------------------------------- */

struct string_case {
    const char *what;
    enum gw_order order;
    uint16_t regs[4];
    uint16_t count;
    const char *expect;
};

static const struct string_case string_cases[] = {
    /* "GW-100 " then a NUL: 'G' 'W' '-' '1' '0' '0' ' ' '\0' */
    { "ABCD", A, { 0x4757, 0x2D31, 0x3030, 0x2000 }, 4, "GW-100" },
    { "CDAB keeps register order", C, { 0x4757, 0x2D31, 0x3030, 0x2000 }, 4, "GW-100" },
    { "BADC", B, { 0x5747, 0x312D, 0x3030, 0x0020 }, 4, "GW-100" },
    { "DCBA keeps register order", D, { 0x5747, 0x312D, 0x3030, 0x0020 }, 4, "GW-100" },
    { "trailing spaces and NULs", A, { 0x4142, 0x2020, 0x0000, 0x0000 }, 4, "AB" },
    { "spaces after a NUL", A, { 0x4142, 0x0020, 0x2020, 0x2020 }, 4, "AB" },
    { "all spaces", A, { 0x2020, 0x2020 }, 2, "" },
    { "all NULs", B, { 0x0000, 0x0000 }, 2, "" },
    { "odd length", A, { 0x4142, 0x4300 }, 2, "ABC" },
    { "odd length BADC", B, { 0x4241, 0x0043 }, 2, "ABC" },
    { "leading and inner spaces kept", A, { 0x2041, 0x2042 }, 2, " A B" },
    { "count shorter than the data", A, { 0x4142, 0x4344, 0x4546, 0x4748 }, 2, "ABCD" },
    { "full length, no terminator", D, { 0x4241, 0x4443, 0x4645, 0x4847 }, 4, "ABCDEFGH" },
    { "zero registers", A, { 0x4142 }, 0, "" },
};

static void test_strings(void)
{
    for (size_t i = 0; i < sizeof string_cases / sizeof string_cases[0]; i++) {
        const struct string_case *c = &string_cases[i];
        struct gw_point_def p = reg_point(GW_TYPE_STRING, c->order);
        struct gw_reading r = stale_reading();

        p.count = c->count;
        CHECK(decode_point(&p, c->regs, NULL, &r) == 0, c->what);
        CHECK(r.text != NULL && strcmp(r.text, c->expect) == 0, c->what);
        CHECK(r.value == 0.0, c->what);
        CHECK(r.quality == GW_QUALITY_GOOD, c->what);
        CHECK(r.name == p.name && r.unit == p.unit, c->what);
        free(r.text);
    }
}

/* ---- decode_normalize -------------------------------------------------- */

struct normalize_case {
    const char *what;
    enum gw_order order;
    unsigned n;
    uint16_t src[4];
    uint8_t expect[8];
};

static const struct normalize_case normalize_cases[] = {
    { "1 ABCD", A, 1, { 0x1122 }, { 0x11, 0x22 } },
    { "1 CDAB", C, 1, { 0x1122 }, { 0x11, 0x22 } },
    { "1 BADC", B, 1, { 0x1122 }, { 0x22, 0x11 } },
    { "1 DCBA", D, 1, { 0x1122 }, { 0x22, 0x11 } },
    { "2 ABCD", A, 2, { 0x1122, 0x3344 }, { 0x11, 0x22, 0x33, 0x44 } },
    { "2 CDAB", C, 2, { 0x1122, 0x3344 }, { 0x33, 0x44, 0x11, 0x22 } },
    { "2 BADC", B, 2, { 0x1122, 0x3344 }, { 0x22, 0x11, 0x44, 0x33 } },
    { "2 DCBA", D, 2, { 0x1122, 0x3344 }, { 0x44, 0x33, 0x22, 0x11 } },
    { "4 ABCD", A, 4, { 0x1122, 0x3344, 0x5566, 0x7788 },
      { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 } },
    { "4 CDAB", C, 4, { 0x1122, 0x3344, 0x5566, 0x7788 },
      { 0x77, 0x88, 0x55, 0x66, 0x33, 0x44, 0x11, 0x22 } },
    { "4 BADC", B, 4, { 0x1122, 0x3344, 0x5566, 0x7788 },
      { 0x22, 0x11, 0x44, 0x33, 0x66, 0x55, 0x88, 0x77 } },
    { "4 DCBA", D, 4, { 0x1122, 0x3344, 0x5566, 0x7788 },
      { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 } },
};

static void test_normalize(void)
{
    for (size_t i = 0; i < sizeof normalize_cases / sizeof normalize_cases[0]; i++) {
        const struct normalize_case *c = &normalize_cases[i];
        uint8_t dst[9];

        memset(dst, 0xAA, sizeof dst);
        decode_normalize(c->order, c->src, c->n, dst);
        CHECK(memcmp(dst, c->expect, 2 * c->n) == 0, c->what);
        CHECK(dst[2 * c->n] == 0xAA, c->what);   /* wrote exactly 2n bytes */
    }
}

/* ---- misuse ------------------------------------------------------------ */

static void test_invalid_input(void)
{
    const uint16_t regs[] = { 0x1234, 0x5678 };
    const uint8_t on = 1;
    struct gw_point_def p = reg_point(GW_TYPE_UINT16, GW_ORDER_ABCD);
    struct gw_reading r = stale_reading();

    CU_ASSERT_EQUAL(decode_point(NULL, regs, NULL, &r), -EINVAL);
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, NULL), -EINVAL);

    /* No registers for a register point: bad, not a crash. */
    CU_ASSERT_EQUAL(decode_point(&p, NULL, &on, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);
    CU_ASSERT_EQUAL(r.value, 0.0);
    CU_ASSERT_PTR_NULL(r.text);
    CU_ASSERT_PTR_EQUAL(r.name, p.name);

    p.type = (enum gw_type)GW_TYPE_COUNT;
    r = stale_reading();
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);

    p = reg_point(GW_TYPE_UINT32, (enum gw_order)GW_ORDER_COUNT);
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);

    p = make_point(GW_TABLE_HOLDING, GW_TYPE_BIT, GW_ORDER_ABCD);
    p.bit = 16;
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);

    /* A number on a bit table has no registers to come from. */
    p = make_point(GW_TABLE_COIL, GW_TYPE_UINT16, GW_ORDER_ABCD);
    CU_ASSERT_EQUAL(decode_point(&p, regs, &on, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);

    p = make_point(GW_TABLE_COIL, GW_TYPE_BIT, GW_ORDER_ABCD);
    CU_ASSERT_EQUAL(decode_point(&p, regs, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.quality, GW_QUALITY_BAD);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "every type x every byte order", test_every_type_and_order },
        { "scale and offset", test_scale_offset },
        { "integer sentinels", test_integer_sentinels },
        { "second sentinel matches, value kept", test_sentinel_not_first_and_value_kept },
        { "float and bit-pattern sentinels", test_float_sentinels },
        { "float sentinel before scaling", test_float_sentinel_before_scaling },
        { "NaN and Inf are uncertain", test_nan_inf_uncertain },
        { "min and max", test_min_max },
        { "bits of registers", test_register_bits },
        { "sentinel on a register bit", test_register_bit_sentinel },
        { "coil and discrete bits", test_coil_bits },
        { "strings", test_strings },
        { "decode_normalize", test_normalize },
        { "invalid input", test_invalid_input },
    };

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("decode", NULL, NULL);

    for (size_t i = 0; suite && i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            suite = NULL;
    if (!suite) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed != 0;
}
