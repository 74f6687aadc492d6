/*
 * planner_bench: what planning costs, and whether the planner's plans are
 * optimal.
 *
 *   planner_bench [--maps N] [--seed S]
 *
 * 1. Time planner_build on the benchmark map (35 points) and on a large
 *    map (2,000 points with holes): microseconds per plan.
 * 2. Build N random register maps (points of 1 to 8 registers with random
 *    gaps, holes in some gaps, random read and fill limits) and compare the
 *    number of reads planner_build makes with the optimum computed by
 *    dynamic programming in benchmap.c.  Every difference is printed; the
 *    exit status is 1 if there was one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchmap.h"
#include "planner.h"
#include "point.h"

#define MAX_POINTS 2000

struct map {
    struct gw_point_def points[MAX_POINTS];
    size_t n;
    struct gw_hole holes[MAX_POINTS];
    struct bench_hole bholes[MAX_POINTS];
    size_t n_holes;
    struct gw_plan_limits limits;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: reproducible from --seed on every libc. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned below)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 0x2545F4914F6CDD1Dull) >> 33) % below;
}

static void add_point(struct map *m, unsigned address, unsigned count)
{
    struct gw_point_def *p = &m->points[m->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "p%zu", m->n);
    p->table = GW_TABLE_HOLDING;
    p->type = count == 1 ? GW_TYPE_UINT16 : count == 2 ? GW_TYPE_FLOAT32 : count == 4 ? GW_TYPE_FLOAT64
                                                                                     : GW_TYPE_STRING;
    p->address = (uint16_t)address;
    p->count = (uint16_t)count;
    p->bit = -1;
    p->scale = 1.0;
}

static void add_hole(struct map *m, unsigned from, unsigned to)
{
    m->holes[m->n_holes] = (struct gw_hole){ .table = GW_TABLE_HOLDING, .from = (uint16_t)from, .to = (uint16_t)to };
    m->bholes[m->n_holes++] = (struct bench_hole){ (uint16_t)from, (uint16_t)to };
}

/* The benchmark devices' map as the daemon's point definitions. */
static void map_bench(struct map *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < bench_n_points; i++)
        add_point(m, bench_points[i].address, bench_point_registers(&bench_points[i]));
    for (size_t i = 0; i < bench_n_holes; i++)
        add_hole(m, bench_holes[i].from, bench_holes[i].to);
    m->limits = (struct gw_plan_limits){ BENCH_MAX_READ_REGISTERS, 2000, BENCH_MAX_GAP_REGISTERS, 160 };
}

/* n points in address order with random sizes and gaps; about one gap in
 * eight of three or more registers holds a hole. */
static void map_random(struct map *m, size_t n, unsigned max_gap_drawn)
{
    static const unsigned sizes[] = { 1, 1, 2, 2, 2, 4, 8 };
    memset(m, 0, sizeof *m);
    unsigned address = rnd(50);
    for (size_t i = 0; i < n; i++) {
        unsigned count = sizes[rnd(sizeof sizes / sizeof *sizes)];
        if (address + count > 65536)
            break;
        add_point(m, address, count);
        address += count;
        unsigned gap = rnd(4) == 0 ? rnd(max_gap_drawn + 1) : 0;
        if (gap >= 3 && rnd(8) == 0) {
            unsigned from = address + 1 + rnd(gap - 2);
            add_hole(m, from, from + rnd(address + gap - from));
        }
        address += gap;
    }
    m->limits = (struct gw_plan_limits){
        .max_registers = (uint16_t)(8 + rnd(118)), .max_bits = 2000,
        .max_gap_registers = (uint16_t)rnd(21), .max_gap_bits = 160,
    };
}

/* Reads the optimum needs for m (points already in address order). */
static long optimum(const struct map *m)
{
    static struct bench_span spans[MAX_POINTS];
    for (size_t i = 0; i < m->n; i++)
        spans[i] = (struct bench_span){ m->points[i].address, m->points[i].count };
    return bench_optimal_reads(spans, m->n, m->limits.max_registers, m->limits.max_gap_registers,
                               m->bholes, m->n_holes, NULL);
}

static int plan(const struct map *m, struct gw_plan *p)
{
    return planner_build(m->points, m->n, NULL, m->holes, m->n_holes, &m->limits, p);
}

/* Microseconds per planner_build of m, over at least a quarter second. */
static double time_plans(const struct map *m, size_t *reads)
{
    size_t runs = 0;
    double start = now_s(), elapsed;
    do {
        for (int i = 0; i < 100; i++, runs++) {
            struct gw_plan p;
            if (plan(m, &p))
                return -1;
            *reads = p.n_reads;
            planner_free(&p);
        }
    } while ((elapsed = now_s() - start) < 0.25);
    return elapsed * 1e6 / (double)runs;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "maps", required_argument, NULL, 'm' }, { "seed", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    unsigned long maps = 20000;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'm': maps = strtoul(optarg, NULL, 10); break;
        case 's': rng_state = strtoull(optarg, NULL, 0) | 1; break;
        case 'h':
            puts("usage: planner_bench [--maps N] [--seed S]");
            return 0;
        default:
            fputs("usage: planner_bench [--maps N] [--seed S]\n", stderr);
            return 2;
        }
    }
    static struct map m;
    size_t reads;

    map_bench(&m);
    double us = time_plans(&m, &reads);
    printf("| map | points | reads | optimum | planner_build µs |\n|---|---:|---:|---:|---:|\n");
    printf("| benchmark meter | %zu | %zu | %ld | %.2f |\n", m.n, reads, optimum(&m), us);
    map_random(&m, MAX_POINTS, 30);
    us = time_plans(&m, &reads);
    printf("| random, %zu holes | %zu | %zu | %ld | %.2f |\n", m.n_holes, m.n, reads, optimum(&m), us);

    unsigned long differ = 0, invalid = 0, total_reads = 0, total_optimum = 0;
    for (unsigned long i = 0; i < maps; i++) {
        map_random(&m, 1 + rnd(60), 1 + rnd(40));
        struct gw_plan p;
        long best = optimum(&m);
        if (plan(&m, &p) || best < 0) {
            invalid++;
            continue;
        }
        total_reads += p.n_reads;
        total_optimum += (unsigned long)best;
        if ((long)p.n_reads != best) {
            if (differ++ < 10)
                printf("map %lu: planner %zu reads, optimum %ld (limit %u, fill %u, %zu points, %zu holes)\n", i,
                       p.n_reads, best, m.limits.max_registers, m.limits.max_gap_registers, m.n, m.n_holes);
        }
        planner_free(&p);
    }
    printf("\n%lu random maps: planner %lu reads, optimum %lu; %lu maps differ; %lu not plannable\n", maps,
           total_reads, total_optimum, differ, invalid);
    return differ ? 1 : 0;
}
