/*
 * The simulator's encoder against literal register patterns.  Expected
 * registers are written out by hand (from the IEEE 754 and two's
 * complement encodings), never computed by a decoder.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "sim/encode.h"

struct encode_case {
    const char *what;
    enum gw_type type;
    enum gw_order order;
    double scale, offset, value;
    int rc;
    uint16_t regs[4];
};

static const struct encode_case cases[] = {
    { "uint16 ABCD", GW_TYPE_UINT16, GW_ORDER_ABCD, 1, 0, 4660, 0, { 0x1234 } },
    { "uint16 BADC", GW_TYPE_UINT16, GW_ORDER_BADC, 1, 0, 4660, 0, { 0x3412 } },
    { "uint16 CDAB", GW_TYPE_UINT16, GW_ORDER_CDAB, 1, 0, 4660, 0, { 0x1234 } },
    { "uint16 DCBA", GW_TYPE_UINT16, GW_ORDER_DCBA, 1, 0, 4660, 0, { 0x3412 } },
    { "int16 -2", GW_TYPE_INT16, GW_ORDER_ABCD, 1, 0, -2, 0, { 0xFFFE } },
    { "int16 x0.1", GW_TYPE_INT16, GW_ORDER_ABCD, 0.1, 0, -12.3, 0, { 0xFF85 } },
    { "uint16 rounds", GW_TYPE_UINT16, GW_ORDER_ABCD, 0.1, 0, 12.34, 0, { 0x007B } },
    { "uint16 offset", GW_TYPE_UINT16, GW_ORDER_ABCD, 0.01, -40, 25.0, 0, { 0x1964 } },
    { "uint32 ABCD", GW_TYPE_UINT32, GW_ORDER_ABCD, 1, 0, 305419896, 0, { 0x1234, 0x5678 } },
    { "uint32 CDAB", GW_TYPE_UINT32, GW_ORDER_CDAB, 1, 0, 305419896, 0, { 0x5678, 0x1234 } },
    { "uint32 BADC", GW_TYPE_UINT32, GW_ORDER_BADC, 1, 0, 305419896, 0, { 0x3412, 0x7856 } },
    { "uint32 DCBA", GW_TYPE_UINT32, GW_ORDER_DCBA, 1, 0, 305419896, 0, { 0x7856, 0x3412 } },
    { "uint32 kWh x0.01", GW_TYPE_UINT32, GW_ORDER_ABCD, 0.01, 0, 12345.67, 0, { 0x0012, 0xD687 } },
    { "int32 -1000", GW_TYPE_INT32, GW_ORDER_ABCD, 1, 0, -1000, 0, { 0xFFFF, 0xFC18 } },
    { "int32 CDAB -1000", GW_TYPE_INT32, GW_ORDER_CDAB, 1, 0, -1000, 0, { 0xFC18, 0xFFFF } },
    { "uint64 ABCD", GW_TYPE_UINT64, GW_ORDER_ABCD, 1, 0, 5124095577148911.0, 0,
      { 0x0012, 0x3456, 0x78AB, 0xCDEF } },
    { "uint64 CDAB", GW_TYPE_UINT64, GW_ORDER_CDAB, 1, 0, 5124095577148911.0, 0,
      { 0xCDEF, 0x78AB, 0x3456, 0x0012 } },
    { "uint64 BADC", GW_TYPE_UINT64, GW_ORDER_BADC, 1, 0, 5124095577148911.0, 0,
      { 0x1200, 0x5634, 0xAB78, 0xEFCD } },
    { "uint64 DCBA", GW_TYPE_UINT64, GW_ORDER_DCBA, 1, 0, 5124095577148911.0, 0,
      { 0xEFCD, 0xAB78, 0x5634, 0x1200 } },
    /* a device clock: 2026-07-14T03:33:20Z in seconds and in ms (+123) */
    { "uint64 clock s", GW_TYPE_UINT64, GW_ORDER_ABCD, 1, 0, 1784000000.0, 0,
      { 0x0000, 0x0000, 0x6A55, 0xAE00 } },
    { "uint64 clock ms", GW_TYPE_UINT64, GW_ORDER_ABCD, 1, 0, 1784000000123.0, 0,
      { 0x0000, 0x019F, 0x5EAF, 0xB07B } },
    { "int64 -2", GW_TYPE_INT64, GW_ORDER_ABCD, 1, 0, -2, 0, { 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE } },
    { "int64 Wh as kWh", GW_TYPE_INT64, GW_ORDER_ABCD, 0.001, 0, 1234.567, 0,
      { 0x0000, 0x0000, 0x0012, 0xD687 } },
    { "float32 ABCD", GW_TYPE_FLOAT32, GW_ORDER_ABCD, 1, 0, 123.456, 0, { 0x42F6, 0xE979 } },
    { "float32 CDAB", GW_TYPE_FLOAT32, GW_ORDER_CDAB, 1, 0, 123.456, 0, { 0xE979, 0x42F6 } },
    { "float32 BADC", GW_TYPE_FLOAT32, GW_ORDER_BADC, 1, 0, 123.456, 0, { 0xF642, 0x79E9 } },
    { "float32 DCBA", GW_TYPE_FLOAT32, GW_ORDER_DCBA, 1, 0, 123.456, 0, { 0x79E9, 0xF642 } },
    { "float32 -2.5", GW_TYPE_FLOAT32, GW_ORDER_ABCD, 1, 0, -2.5, 0, { 0xC020, 0x0000 } },
    { "float32 scaled", GW_TYPE_FLOAT32, GW_ORDER_ABCD, 0.5, 1.0, 3.0, 0, { 0x4080, 0x0000 } },
    { "float64 ABCD", GW_TYPE_FLOAT64, GW_ORDER_ABCD, 1, 0, 123.456, 0,
      { 0x405E, 0xDD2F, 0x1A9F, 0xBE77 } },
    { "float64 CDAB", GW_TYPE_FLOAT64, GW_ORDER_CDAB, 1, 0, 123.456, 0,
      { 0xBE77, 0x1A9F, 0xDD2F, 0x405E } },
    { "float64 BADC", GW_TYPE_FLOAT64, GW_ORDER_BADC, 1, 0, 123.456, 0,
      { 0x5E40, 0x2FDD, 0x9F1A, 0x77BE } },
    { "float64 DCBA", GW_TYPE_FLOAT64, GW_ORDER_DCBA, 1, 0, -0.5, 0,
      { 0x0000, 0x0000, 0x0000, 0xE0BF } },
    { "uint16 too big", GW_TYPE_UINT16, GW_ORDER_ABCD, 1, 0, 70000, -ERANGE, { 0xFFFF } },
    { "uint16 negative", GW_TYPE_UINT16, GW_ORDER_ABCD, 1, 0, -1, -ERANGE, { 0x0000 } },
    { "int16 too small", GW_TYPE_INT16, GW_ORDER_ABCD, 1, 0, -40000, -ERANGE, { 0x8000 } },
    { "uint32 too big", GW_TYPE_UINT32, GW_ORDER_CDAB, 1, 0, 5e9, -ERANGE, { 0xFFFF, 0xFFFF } },
};

static struct gw_point_def point(enum gw_type type, enum gw_order order, double scale,
                                 double offset)
{
    struct gw_point_def p = { .type = type, .order = order, .scale = scale,
                              .offset = offset, .bit = -1, .table = GW_TABLE_HOLDING };

    p.count = point_type_registers(type);
    return p;
}

static void test_values(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct encode_case *c = &cases[i];
        struct gw_point_def p = point(c->type, c->order, c->scale, c->offset);
        uint16_t regs[4] = { 0xAAAA, 0xAAAA, 0xAAAA, 0xAAAA };
        int rc = encode_value(&p, c->value, regs);
        bool same = memcmp(regs, c->regs, p.count * sizeof regs[0]) == 0;

        if (rc != c->rc || !same)
            fprintf(stderr, "\n%s: rc %d regs %04X %04X %04X %04X\n", c->what, rc,
                    regs[0], regs[1], regs[2], regs[3]);
        CU_ASSERT_EQUAL(rc, c->rc);
        CU_ASSERT_TRUE(same);
        /* Registers beyond the point's width are left alone. */
        if (p.count < 4)
            CU_ASSERT_EQUAL(regs[p.count], 0xAAAA);
    }
}

static void test_invalid(void)
{
    struct gw_point_def p = point(GW_TYPE_UINT16, GW_ORDER_ABCD, 0.0, 0.0);
    uint16_t reg = 0;

    CU_ASSERT_EQUAL(encode_value(&p, 1.0, &reg), -EINVAL);
    p = point(GW_TYPE_BIT, GW_ORDER_ABCD, 1.0, 0.0);
    CU_ASSERT_EQUAL(encode_value(&p, 1.0, &reg), -EINVAL);
    p = point(GW_TYPE_INT32, GW_ORDER_ABCD, 1.0, 0.0);
    CU_ASSERT_EQUAL(encode_value(&p, 0.0 / 0.0, &reg), -EINVAL);
}

static void test_string(void)
{
    struct gw_point_def p = point(GW_TYPE_STRING, GW_ORDER_ABCD, 1.0, 0.0);
    uint16_t regs[6];
    const uint16_t abcd[6] = { 0x4757, 0x2D50, 0x4D38, 0x3030, 0x3000, 0x0000 };
    const uint16_t badc[6] = { 0x5747, 0x502D, 0x384D, 0x3030, 0x0030, 0x0000 };

    p.count = 6;
    CU_ASSERT_EQUAL(encode_string(&p, "GW-PM8000", regs), 0);
    CU_ASSERT_EQUAL(memcmp(regs, abcd, sizeof regs), 0);
    p.order = GW_ORDER_CDAB;    /* word order does not apply to characters */
    CU_ASSERT_EQUAL(encode_string(&p, "GW-PM8000", regs), 0);
    CU_ASSERT_EQUAL(memcmp(regs, abcd, sizeof regs), 0);
    p.order = GW_ORDER_BADC;
    CU_ASSERT_EQUAL(encode_string(&p, "GW-PM8000", regs), 0);
    CU_ASSERT_EQUAL(memcmp(regs, badc, sizeof regs), 0);
    p.count = 2;                /* truncated to the point's length */
    p.order = GW_ORDER_ABCD;
    CU_ASSERT_EQUAL(encode_string(&p, "GW-PM8000", regs), 0);
    CU_ASSERT_EQUAL(regs[0], 0x4757);
    CU_ASSERT_EQUAL(regs[1], 0x2D50);
}

static void test_register_bit(void)
{
    struct gw_point_def p = point(GW_TYPE_BIT, GW_ORDER_ABCD, 1.0, 0.0);
    uint16_t reg = 0x0001;

    p.bit = 3;
    encode_register_bit(&p, true, &reg);
    CU_ASSERT_EQUAL(reg, 0x0009);
    p.bit = 15;
    encode_register_bit(&p, true, &reg);
    CU_ASSERT_EQUAL(reg, 0x8009);
    p.bit = 0;
    encode_register_bit(&p, false, &reg);
    CU_ASSERT_EQUAL(reg, 0x8008);
    p.bit = -1;
    encode_register_bit(&p, true, &reg);
    CU_ASSERT_EQUAL(reg, 0x0001);
}

static void test_counter_wrap(void)
{
    struct gw_point_def p = point(GW_TYPE_UINT16, GW_ORDER_ABCD, 0.1, 0.0);

    CU_ASSERT_DOUBLE_EQUAL(encode_counter_wrap(&p), 6553.6, 1e-9);
    p = point(GW_TYPE_UINT32, GW_ORDER_ABCD, 0.01, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(encode_counter_wrap(&p), 42949672.96, 1e-6);
    p = point(GW_TYPE_FLOAT32, GW_ORDER_ABCD, 1.0, 0.0);
    CU_ASSERT_EQUAL(encode_counter_wrap(&p), 0.0);
    p = point(GW_TYPE_INT64, GW_ORDER_ABCD, 0.001, 0.0);
    CU_ASSERT_EQUAL(encode_counter_wrap(&p), 0.0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sim_encode", NULL, NULL);

    CU_add_test(s, "values by type and order", test_values);
    CU_add_test(s, "invalid arguments", test_invalid);
    CU_add_test(s, "strings", test_string);
    CU_add_test(s, "bits in registers", test_register_bit);
    CU_add_test(s, "counter wrap", test_counter_wrap);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();

    CU_cleanup_registry();
    return failed ? 1 : 0;
}
