/*
 * gw-bench-map: the benchmark devices' register map (benchmap.h) for the
 * comparison in bench/compare.sh, so that greenwatchd and Node-RED poll
 * the one map the fleet serves instead of copies that could drift apart.
 *
 *   gw-bench-map --profile ID    the map as a greenwatch profile
 *   gw-bench-map --json          points, holes and the optimal plan as JSON,
 *                                for make-flow.js
 *
 * The plan is the dynamic-programming optimum of benchmap.c, the same
 * reads the libmodbus floor makes.  Exit status 0, or 1 on a write error
 * or a map without a plan.
 */
#include <stdio.h>
#include <string.h>

#include "benchmap.h"

static const char *const type_names[] = {
    [BENCH_FLOAT32] = "float32", [BENCH_UINT32] = "uint32", [BENCH_UINT16] = "uint16",
};

static int print_json(FILE *f)
{
    /* bench_map_plan needs room for a read per point */
    struct bench_read reads[64];
    size_t n_reads = bench_n_points <= 64 ? bench_map_plan(reads) : 0;
    if (!n_reads)
        return -1;
    fprintf(f, "{\n  \"max_read_registers\": %d,\n  \"max_gap_registers\": %d,\n", BENCH_MAX_READ_REGISTERS,
            BENCH_MAX_GAP_REGISTERS);
    fputs("  \"points\": [\n", f);
    for (size_t i = 0; i < bench_n_points; i++) {
        const struct bench_point *p = &bench_points[i];
        fprintf(f, "    { \"name\": \"%s\", \"type\": \"%s\", \"order\": \"%s\", \"address\": %u,"
                   " \"registers\": %u, \"unit\": \"%s\", \"scale\": %.17g, \"min\": %.17g, \"max\": %.17g,"
                   " \"sentinel\": %s }%s\n",
                p->name, type_names[p->type], p->word_swap ? "CDAB" : "ABCD", (unsigned)p->address,
                bench_point_registers(p), p->unit, p->scale, p->min, p->max,
                p->type == BENCH_UINT16 ? "[ 65535 ]" : "[]", i + 1 < bench_n_points ? "," : "");
    }
    fputs("  ],\n  \"holes\": [", f);
    for (size_t i = 0; i < bench_n_holes; i++)
        fprintf(f, "%s { \"from\": %u, \"to\": %u }", i ? "," : "", (unsigned)bench_holes[i].from,
                (unsigned)bench_holes[i].to);
    fputs(" ],\n  \"plan\": [", f);
    for (size_t i = 0; i < n_reads; i++)
        fprintf(f, "%s { \"address\": %u, \"count\": %u }", i ? "," : "", (unsigned)reads[i].address,
                (unsigned)reads[i].count);
    fputs(" ]\n}\n", f);
    return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc == 3 && !strcmp(argv[1], "--profile"))
        rc = bench_write_profile(stdout, argv[2]);
    else if (argc == 2 && !strcmp(argv[1], "--json"))
        rc = print_json(stdout);
    else {
        fputs("usage: gw-bench-map --profile ID | --json\n", stderr);
        return 2;
    }
    if (fflush(stdout) || rc) {
        fputs("gw-bench-map: cannot write the map\n", stderr);
        return 1;
    }
    return 0;
}
