#include "point.h"

const char *const gw_table_names[GW_TABLE_COUNT] = { "coil", "discrete", "input", "holding" };
const char *const gw_type_names[GW_TYPE_COUNT] = {
    "bit", "uint16", "int16", "uint32", "int32",
    "uint64", "int64", "float32", "float64", "string",
};
const char *const gw_order_names[GW_ORDER_COUNT] = { "ABCD", "DCBA", "BADC", "CDAB" };

uint16_t point_type_registers(enum gw_type type)
{
    switch (type) {
    case GW_TYPE_UINT32: case GW_TYPE_INT32: case GW_TYPE_FLOAT32: return 2;
    case GW_TYPE_UINT64: case GW_TYPE_INT64: case GW_TYPE_FLOAT64: return 4;
    default: return 1;
    }
}
