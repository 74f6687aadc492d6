/*
 * Register map vocabulary: where a point lives on a device and how its raw
 * registers become an engineering value.  Shared by profile loading, the
 * planner, the decoder and the simulator's tests.
 */
#ifndef GW_POINT_H
#define GW_POINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_table { GW_TABLE_COIL, GW_TABLE_DISCRETE, GW_TABLE_INPUT, GW_TABLE_HOLDING };
#define GW_TABLE_COUNT 4

enum gw_type {
    GW_TYPE_BIT, GW_TYPE_UINT16, GW_TYPE_INT16, GW_TYPE_UINT32, GW_TYPE_INT32,
    GW_TYPE_UINT64, GW_TYPE_INT64, GW_TYPE_FLOAT32, GW_TYPE_FLOAT64, GW_TYPE_STRING,
};
#define GW_TYPE_COUNT 10

/* Byte order, named by where the bytes of the big-endian value ABCD(EFGH)
 * arrive: ABCD big-endian (Modbus standard), CDAB word-swapped, BADC
 * byte-swapped, DCBA little-endian.  For 64-bit values the same rule
 * extends to four registers. */
enum gw_order { GW_ORDER_ABCD, GW_ORDER_DCBA, GW_ORDER_BADC, GW_ORDER_CDAB };
#define GW_ORDER_COUNT 4

/* What a timestamp point counts since 1970-01-01T00:00:00Z (after scale
 * and offset). */
enum gw_time_unit { GW_TIME_S, GW_TIME_MS };
#define GW_TIME_UNIT_COUNT 2

#define GW_NAME_MAX 64
#define GW_UNIT_MAX 24
#define GW_SENTINEL_MAX 8
#define GW_STRING_REGS_MAX 64

/* A raw value meaning "no data", compared before scaling.  Integers are
 * compared as bit patterns at the point's width, so 0xFFFF and -1 both
 * match an int16 register holding 0xFFFF. */
struct gw_sentinel {
    bool is_float;
    int64_t bits;
    double value;
};

struct gw_point_def {
    char name[GW_NAME_MAX];
    char unit[GW_UNIT_MAX];
    enum gw_table table;
    enum gw_type type;
    enum gw_order order;
    uint16_t address;
    uint16_t count;         /* registers (or bits) occupied */
    int8_t bit;             /* 0..15 selects a bit of a register; -1 none */
    double scale, offset;
    bool has_min, has_max;
    double min, max;        /* physical bounds, after scaling */
    struct gw_sentinel sentinels[GW_SENTINEL_MAX];
    uint8_t n_sentinels;
    bool counter;           /* cumulative: its kind derives interval deltas */
    bool timestamp;         /* the device's clock: a good, plausible reading stamps the sample */
    enum gw_time_unit timestamp_unit;
    int line;               /* where it was defined, for messages */
};

/* A range of addresses the device does not serve: reads never span it. */
struct gw_hole {
    enum gw_table table;
    uint16_t from, to;      /* inclusive */
};

static inline bool gw_table_is_bits(enum gw_table t)
{
    return t == GW_TABLE_COIL || t == GW_TABLE_DISCRETE;
}

/* Names as written in configuration; the index is the enum value. */
extern const char *const gw_table_names[GW_TABLE_COUNT];
extern const char *const gw_type_names[GW_TYPE_COUNT];
extern const char *const gw_order_names[GW_ORDER_COUNT];

/* Registers a value of this type occupies (strings: their count). */
uint16_t point_type_registers(enum gw_type type);

#endif
