#include "benchmap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F32(n, a, u, lo, hi, v) { n, BENCH_FLOAT32, false, a, u, 1.0, lo, hi, v }
#define U32(n, a, u, s, v) { n, BENCH_UINT32, true, a, u, s, 0.0, 4e9, v }
#define U16(n, a, u, s, hi, v) { n, BENCH_UINT16, false, a, u, s, 0.0, hi, v }

const struct bench_point bench_points[] = {
    F32("voltage_l1", 0, "V", 0.0, 300.0, 230.1),
    F32("voltage_l2", 2, "V", 0.0, 300.0, 229.7),
    F32("voltage_l3", 4, "V", 0.0, 300.0, 231.2),
    F32("current_l1", 6, "A", 0.0, 5000.0, 412.5),
    F32("current_l2", 8, "A", 0.0, 5000.0, 398.2),
    F32("current_l3", 10, "A", 0.0, 5000.0, 405.9),
    F32("power_kw", 12, "kW", -100.0, 10000.0, 281.4),
    F32("reactive_power_kvar", 14, "kvar", -10000.0, 10000.0, 61.3),
    F32("apparent_power_kva", 18, "kVA", 0.0, 10000.0, 288.0),
    F32("power_factor", 20, "", -1.0, 1.0, 0.977),
    F32("frequency", 22, "Hz", 45.0, 65.0, 50.01),
    F32("thd_voltage", 24, "%", 0.0, 100.0, 2.1),
    F32("thd_current", 26, "%", 0.0, 100.0, 7.4),
    F32("supply_temp", 28, "degC", -20.0, 120.0, 7.2),
    F32("return_temp", 30, "degC", -20.0, 120.0, 12.3),
    U32("energy_import_kwh", 40, "kWh", 0.1, 1834512.0),
    U32("energy_export_kwh", 42, "kWh", 0.1, 120.0),
    U32("reactive_energy_kvarh", 44, "kvarh", 0.1, 402113.0),
    U32("apparent_energy_kvah", 46, "kVAh", 0.1, 1902334.0),
    U32("run_hours", 48, "h", 1.0, 23112.0),
    U32("starts", 50, "", 1.0, 4411.0),
    U32("water_m3", 52, "m3", 0.01, 80233.0),
    U32("heat_kwh", 54, "kWh", 1.0, 998877.0),
    U32("gas_m3", 56, "m3", 0.01, 5120.0),
    U32("uptime_s", 58, "s", 1.0, 8640000.0),
    U16("status_word", 100, "", 1.0, 65534.0, 1.0),
    U16("alarm_word", 101, "", 1.0, 65534.0, 0.0),
    U16("operating_mode", 102, "", 1.0, 16.0, 2.0),
    U16("setpoint_temp", 103, "degC", 0.1, 40.0, 7.0),
    U16("valve_position", 104, "%", 0.1, 100.0, 63.5),
    U16("pump_speed", 105, "%", 0.1, 100.0, 80.0),
    U16("fan_speed", 106, "%", 0.1, 100.0, 45.0),
    U16("ct_ratio", 107, "", 1.0, 10000.0, 800.0),
    U16("firmware", 108, "", 1.0, 65534.0, 412.0),
    U16("comm_errors", 109, "", 1.0, 65534.0, 3.0),
};
const size_t bench_n_points = sizeof bench_points / sizeof *bench_points;

const struct bench_hole bench_holes[] = { { 32, 35 }, { 60, 99 } };
const size_t bench_n_holes = sizeof bench_holes / sizeof *bench_holes;

unsigned bench_point_registers(const struct bench_point *p)
{
    return p->type == BENCH_UINT16 ? 1 : 2;
}

size_t bench_map_registers(void)
{
    size_t n = 0;
    for (size_t i = 0; i < bench_n_points; i++)
        n += bench_point_registers(&bench_points[i]);
    return n;
}

bool bench_in_hole(unsigned address)
{
    for (size_t i = 0; i < bench_n_holes; i++)
        if (address >= bench_holes[i].from && address <= bench_holes[i].to)
            return true;
    return false;
}

/* A number libconfig reads as a float. */
static void put_float(FILE *f, const char *key, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, " %s = %.1f;", key, v);
    else
        fprintf(f, " %s = %.17g;", key, v);
}

static const char *const type_names[] = {
    [BENCH_FLOAT32] = "float32", [BENCH_UINT32] = "uint32", [BENCH_UINT16] = "uint16",
};

int bench_write_profile(FILE *f, const char *id)
{
    fprintf(f, "profile = {\n  id = \"%s\";\n  description = \"benchmark meter: 60 registers, 35 points\";\n", id);
    fprintf(f, "  max_read_registers = %d;\n  max_gap_registers = %d;\n", BENCH_MAX_READ_REGISTERS,
            BENCH_MAX_GAP_REGISTERS);
    fputs("  holes = (", f);
    for (size_t i = 0; i < bench_n_holes; i++)
        fprintf(f, "%s { table = \"holding\"; from = %u; to = %u; }", i ? "," : "",
                (unsigned)bench_holes[i].from, (unsigned)bench_holes[i].to);
    fputs(" );\n  points = (\n", f);
    for (size_t i = 0; i < bench_n_points; i++) {
        const struct bench_point *p = &bench_points[i];
        fprintf(f, "    { name = \"%s\"; table = \"holding\"; address = %u; type = \"%s\"; order = \"%s\";",
                p->name, (unsigned)p->address, type_names[p->type], p->word_swap ? "CDAB" : "ABCD");
        fprintf(f, " unit = \"%s\";", p->unit);
        put_float(f, "scale", p->scale);
        put_float(f, "min", p->min);
        put_float(f, "max", p->max);
        if (p->type == BENCH_UINT16)
            fputs(" sentinel = [ 0xFFFF ];", f);
        fprintf(f, " }%s\n", i + 1 < bench_n_points ? "," : "");
    }
    fputs("  );\n};\n", f);
    return ferror(f) ? -1 : 0;
}

/* ---- optimal plan -------------------------------------------------- */

static bool gap_meets_hole(uint32_t from, uint32_t end, const struct bench_hole *holes, size_t n_holes)
{
    for (size_t h = 0; h < n_holes; h++)
        if (holes[h].from < end && (uint32_t)holes[h].to + 1 > from)
            return true;
    return false;
}

long bench_optimal_reads(const struct bench_span *items, size_t n, uint32_t max_count,
                         uint32_t max_gap, const struct bench_hole *holes, size_t n_holes,
                         struct bench_read *out)
{
    /* best[j]: fewest reads for items[0..j); from[j]: where its last read starts. */
    long *best = malloc((n + 1) * sizeof *best);
    size_t *from = malloc((n + 1) * sizeof *from);
    if (!best || !from) {
        free(best);
        free(from);
        return -1;
    }
    best[0] = 0;
    long result = 0;
    for (size_t j = 1; j <= n && result >= 0; j++) {
        const struct bench_span *last = &items[j - 1];
        best[j] = -1;
        if (last->count > max_count || gap_meets_hole(last->address, last->address + last->count, holes, n_holes)) {
            result = -1;
            break;
        }
        /* Extend the last read leftwards from item j-1 while it stays feasible. */
        for (size_t i = j; i-- > 0;) {
            uint32_t end = last->address + last->count;
            if (end - items[i].address > max_count)
                break;
            if (i + 1 < j) {
                uint32_t gap_from = items[i].address + items[i].count, gap_end = items[i + 1].address;
                if (gap_end > gap_from &&
                    (gap_end - gap_from > max_gap || gap_meets_hole(gap_from, gap_end, holes, n_holes)))
                    break;
            }
            if (best[i] >= 0 && (best[j] < 0 || best[i] + 1 < best[j])) {
                best[j] = best[i] + 1;
                from[j] = i;
            }
        }
    }
    if (result == 0) {
        result = best[n];
        if (out) {
            for (size_t j = n, k = (size_t)result; j > 0; j = from[j]) {
                size_t i = from[j];
                out[--k] = (struct bench_read){ .address = items[i].address,
                    .count = items[j - 1].address + items[j - 1].count - items[i].address,
                    .first = (uint32_t)i, .n = (uint32_t)(j - i) };
            }
        }
    }
    free(best);
    free(from);
    return result;
}

static int compare_span(const void *a, const void *b)
{
    const struct bench_span *x = a, *y = b;
    return (x->address > y->address) - (x->address < y->address);
}

size_t bench_map_plan(struct bench_read *reads)
{
    struct bench_span items[sizeof bench_points / sizeof *bench_points];
    for (size_t i = 0; i < bench_n_points; i++)
        items[i] = (struct bench_span){ bench_points[i].address, bench_point_registers(&bench_points[i]) };
    qsort(items, bench_n_points, sizeof *items, compare_span);
    long n = bench_optimal_reads(items, bench_n_points, BENCH_MAX_READ_REGISTERS, BENCH_MAX_GAP_REGISTERS,
                                 bench_holes, bench_n_holes, reads);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- register image ------------------------------------------------ */

static void put32(uint16_t *regs, const struct bench_point *p, uint32_t v)
{
    uint16_t hi = (uint16_t)(v >> 16), lo = (uint16_t)(v & 0xFFFF);
    regs[p->address] = p->word_swap ? lo : hi;
    regs[p->address + 1] = p->word_swap ? hi : lo;
}

void bench_encode_image(uint16_t *regs, unsigned device, double t)
{
    memset(regs, 0, BENCH_IMAGE_REGISTERS * sizeof *regs);
    for (size_t i = 0; i < bench_n_points; i++) {
        const struct bench_point *p = &bench_points[i];
        /* Each device wanders on its own phase, within 2 % of nominal. */
        double wander = 1.0 + 0.02 * sin(t * 0.1 + device * 0.7 + (double)i);
        switch (p->type) {
        case BENCH_FLOAT32: {
            float f = (float)(p->nominal * wander);
            uint32_t bits;
            memcpy(&bits, &f, sizeof bits);
            put32(regs, p, bits);
            break;
        }
        case BENCH_UINT32:
            put32(regs, p, (uint32_t)((p->nominal + t * (1 + device % 7)) / p->scale));
            break;
        case BENCH_UINT16:
            regs[p->address] = (uint16_t)(p->nominal / p->scale + 0.5);
            break;
        }
    }
}
