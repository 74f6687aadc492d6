/*
 * Planner tests: hand-written register maps with their expected reads,
 * pseudo-random maps checked against an optimum computed here by dynamic
 * programming, and planner_span on sub-ranges.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"

#define CO GW_TABLE_COIL
#define DI GW_TABLE_DISCRETE
#define IN GW_TABLE_INPUT
#define HO GW_TABLE_HOLDING

#define LIMITS(regs, bits, gap_regs, gap_bits) { (regs), (bits), (gap_regs), (gap_bits) }
#define DEFAULT_LIMITS LIMITS(125, 2000, 10, 100)

/* ---- building maps ---------------------------------------------------- */

static enum gw_type type_for(enum gw_table table, uint16_t count, int8_t bit)
{
    if (gw_table_is_bits(table) || bit >= 0)
        return GW_TYPE_BIT;
    switch (count) {
    case 1: return GW_TYPE_UINT16;
    case 2: return GW_TYPE_FLOAT32;
    case 4: return GW_TYPE_FLOAT64;
    default: return GW_TYPE_STRING;
    }
}

static struct gw_point_def make_point(enum gw_table table, uint16_t address, uint16_t count,
                                      int8_t bit)
{
    struct gw_point_def p = { .table = table, .address = address, .count = count, .bit = bit,
                              .type = type_for(table, count, bit), .scale = 1.0 };
    snprintf(p.name, sizeof p.name, "%s_%u_%d", gw_table_names[table], address, bit);
    return p;
}

static uint32_t end_of(const struct gw_point_def *p)
{
    return (uint32_t)p->address + p->count;
}

static uint32_t limit_of(const struct gw_plan_limits *l, enum gw_table t)
{
    return gw_table_is_bits(t) ? l->max_bits : l->max_registers;
}

static uint32_t gap_of(const struct gw_plan_limits *l, enum gw_table t)
{
    return gw_table_is_bits(t) ? l->max_gap_bits : l->max_gap_registers;
}

/* Whether [from, end) of table meets a hole. */
static bool meets_hole(const struct gw_hole *holes, size_t n_holes, enum gw_table table,
                       uint32_t from, uint32_t end)
{
    for (size_t h = 0; h < n_holes; h++)
        if (holes[h].table == table && holes[h].from < end && holes[h].to >= from)
            return true;
    return false;
}

/* Whether [from, end) of table meets a skipped point. */
static bool meets_skipped(const struct gw_point_def *points, size_t n, const bool *skip,
                          enum gw_table table, uint32_t from, uint32_t end)
{
    for (size_t i = 0; i < n; i++)
        if (skip && skip[i] && points[i].table == table && points[i].address < end &&
            end_of(&points[i]) > from)
            return true;
    return false;
}

static int key_cmp(const struct gw_point_def *a, const struct gw_point_def *b)
{
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    if (a->address != b->address)
        return a->address < b->address ? -1 : 1;
    return (a->bit > b->bit) - (a->bit < b->bit);
}

/* ---- plan invariants -------------------------------------------------- */

struct map {
    const struct gw_point_def *points;
    size_t n;
    const bool *skip;
    const struct gw_hole *holes;
    size_t n_holes;
    struct gw_plan_limits limits;
};

/* order[] holds each kept point once, sorted, and reads partition it. */
static void check_order(const struct map *m, const struct gw_plan *plan)
{
    size_t kept = 0;
    unsigned *seen = calloc(m->n ? m->n : 1, sizeof *seen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
    for (size_t i = 0; i < m->n; i++)
        kept += !(m->skip && m->skip[i]);
    CU_ASSERT_EQUAL(plan->n_order, kept);
    for (size_t i = 0; i < plan->n_order; i++) {
        CU_ASSERT_FATAL(plan->order[i] < m->n);
        seen[plan->order[i]]++;
        if (i > 0)
            CU_ASSERT(key_cmp(&m->points[plan->order[i - 1]], &m->points[plan->order[i]]) <= 0);
    }
    for (size_t i = 0; i < m->n; i++)
        CU_ASSERT_EQUAL(seen[i], (m->skip && m->skip[i]) ? 0u : 1u);
    free(seen);

    size_t next = 0;
    for (size_t r = 0; r < plan->n_reads; r++) {
        CU_ASSERT_EQUAL(plan->reads[r].first, next);
        CU_ASSERT(plan->reads[r].n_points >= 1);
        next += plan->reads[r].n_points;
    }
    CU_ASSERT_EQUAL_FATAL(next, plan->n_order);
}

/* The unrequested addresses of a read: never a hole or a skipped point,
 * and no run longer than the fill limit. */
static void check_gaps(const struct map *m, const struct gw_plan *plan, const struct gw_read *r)
{
    bool covered[2000] = { false };
    for (uint32_t i = r->first; i < r->first + r->n_points; i++) {
        const struct gw_point_def *p = &m->points[plan->order[i]];
        for (uint32_t a = p->address; a < end_of(p); a++)
            if (a - r->address < r->count)
                covered[a - r->address] = true;
    }
    uint32_t run = 0;
    for (uint32_t a = r->address; a < (uint32_t)r->address + r->count; a++) {
        if (covered[a - r->address]) {
            run = 0;
            continue;
        }
        run++;
        CU_ASSERT(run <= gap_of(&m->limits, r->table));
        CU_ASSERT(!meets_skipped(m->points, m->n, m->skip, r->table, a, a + 1));
    }
    CU_ASSERT(!meets_hole(m->holes, m->n_holes, r->table, r->address,
                          (uint32_t)r->address + r->count));
}

/* Each read holds its points exactly, within limits, as planner_span says. */
static void check_read(const struct map *m, const struct gw_plan *plan, const struct gw_read *r)
{
    CU_ASSERT(r->count >= 1 && r->count <= limit_of(&m->limits, r->table));
    uint32_t max_end = 0;
    for (uint32_t i = r->first; i < r->first + r->n_points; i++) {
        const struct gw_point_def *p = &m->points[plan->order[i]];
        CU_ASSERT_EQUAL(p->table, r->table);
        CU_ASSERT(p->address >= r->address);
        if (end_of(p) > max_end)
            max_end = end_of(p);
    }
    CU_ASSERT_EQUAL(m->points[plan->order[r->first]].address, r->address);
    CU_ASSERT_EQUAL(max_end, (uint32_t)r->address + r->count);

    struct gw_read span = planner_span(m->points, plan, r->first, r->n_points);
    CU_ASSERT_EQUAL(span.table, r->table);
    CU_ASSERT_EQUAL(span.address, r->address);
    CU_ASSERT_EQUAL(span.count, r->count);
    if (r->count <= 2000)
        check_gaps(m, plan, r);
}

/* Points sharing a register (bits of one register) land in one read. */
static void check_shared_registers(const struct map *m, const struct gw_plan *plan)
{
    for (size_t r = 1; r < plan->n_reads; r++) {
        const struct gw_point_def *a = &m->points[plan->order[plan->reads[r].first - 1]];
        const struct gw_point_def *b = &m->points[plan->order[plan->reads[r].first]];
        CU_ASSERT(a->table != b->table || a->address != b->address);
    }
}

static void check_plan(const struct map *m, const struct gw_plan *plan)
{
    check_order(m, plan);
    for (size_t r = 0; r < plan->n_reads; r++)
        check_read(m, plan, &plan->reads[r]);
    check_shared_registers(m, plan);
}

static void check_plan_empty(const struct gw_plan *plan)
{
    CU_ASSERT_PTR_NULL(plan->reads);
    CU_ASSERT_PTR_NULL(plan->order);
    CU_ASSERT_EQUAL(plan->n_reads, 0);
    CU_ASSERT_EQUAL(plan->n_order, 0);
}

/* ---- table-driven maps ------------------------------------------------ */

struct spec {
    enum gw_table table;
    uint16_t address, count;    /* count 0 ends a list */
    int8_t bit;
    bool skip;
};
#define REG(t, a, c) { (t), (a), (c), -1, false }
#define BIT(t, a, b) { (t), (a), 1, (b), false }
#define SKIP(t, a, c) { (t), (a), (c), -1, true }
#define SKIP_BIT(t, a, b) { (t), (a), 1, (b), true }

struct want {
    enum gw_table table;
    uint16_t address, count;
    uint32_t n_points;          /* 0 ends a list */
};

/* An empty list of points, holes or reads. */
#define NONE { { 0 } }

#define CASE_POINTS 10
#define CASE_HOLES 3
#define CASE_READS 5

struct map_case {
    const char *name;
    struct spec points[CASE_POINTS];
    struct gw_hole holes[CASE_HOLES];
    size_t n_holes;
    struct gw_plan_limits limits;
    int rc;
    struct want reads[CASE_READS];
};

static const struct map_case cases[] = {
    { "contiguous", { REG(IN, 0, 1), REG(IN, 1, 1), REG(IN, 2, 2), REG(IN, 4, 4), REG(IN, 8, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 0, 9, 5 } } },
    { "gap under fill limit", { REG(IN, 0, 1), REG(IN, 10, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 0, 11, 2 } } },
    { "gap at fill limit", { REG(IN, 0, 1), REG(IN, 11, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 0, 12, 2 } } },
    { "gap over fill limit", { REG(IN, 0, 1), REG(IN, 12, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 0, 1, 1 }, { IN, 12, 1, 1 } } },
    { "no fill allowed", { REG(IN, 0, 1), REG(IN, 1, 2), REG(IN, 4, 1) },
      NONE, 0, LIMITS(125, 2000, 0, 0), 0, { { IN, 0, 3, 2 }, { IN, 4, 1, 1 } } },
    { "limit reached", { REG(HO, 0, 64), REG(HO, 64, 61) },
      NONE, 0, DEFAULT_LIMITS, 0, { { HO, 0, 125, 2 } } },
    { "limit exceeded by one", { REG(HO, 0, 64), REG(HO, 64, 62) },
      NONE, 0, DEFAULT_LIMITS, 0, { { HO, 0, 64, 1 }, { HO, 64, 62, 1 } } },
    { "limit reached across a gap", { REG(HO, 0, 60), REG(HO, 65, 60) },
      NONE, 0, DEFAULT_LIMITS, 0, { { HO, 0, 125, 2 } } },
    { "float ends at the limit", { REG(IN, 0, 1), REG(IN, 8, 2) },
      NONE, 0, LIMITS(10, 2000, 10, 100), 0, { { IN, 0, 10, 2 } } },
    { "float straddles the limit", { REG(IN, 0, 1), REG(IN, 5, 1), REG(IN, 9, 2), REG(IN, 11, 1) },
      NONE, 0, LIMITS(10, 2000, 10, 100), 0, { { IN, 0, 6, 2 }, { IN, 9, 3, 2 } } },
    { "hole splits", { REG(IN, 0, 1), REG(IN, 5, 1) },
      { { IN, 3, 3 } }, 1, DEFAULT_LIMITS, 0, { { IN, 0, 1, 1 }, { IN, 5, 1, 1 } } },
    { "hole right after a point", { REG(IN, 0, 1), REG(IN, 5, 1) },
      { { IN, 1, 1 } }, 1, DEFAULT_LIMITS, 0, { { IN, 0, 1, 1 }, { IN, 5, 1, 1 } } },
    { "hole right before a point", { REG(IN, 0, 1), REG(IN, 5, 1) },
      { { IN, 4, 4 } }, 1, DEFAULT_LIMITS, 0, { { IN, 0, 1, 1 }, { IN, 5, 1, 1 } } },
    { "holes outside the read", { REG(IN, 2, 1), REG(IN, 5, 1) },
      { { IN, 0, 1 }, { IN, 6, 9 } }, 2, DEFAULT_LIMITS, 0, { { IN, 2, 4, 2 } } },
    { "hole of another table", { REG(IN, 0, 1), REG(IN, 5, 1) },
      { { HO, 3, 3 } }, 1, DEFAULT_LIMITS, 0, { { IN, 0, 6, 2 } } },
    { "nested holes", { REG(IN, 0, 1), REG(IN, 31, 1), REG(IN, 40, 1) },
      { { IN, 8, 9 }, { IN, 5, 30 } }, 2, LIMITS(125, 2000, 50, 100), 0,
      { { IN, 0, 1, 1 }, { IN, 31, 10, 2 } } },
    { "hole splits coils", { REG(CO, 0, 1), REG(CO, 50, 1) },
      { { CO, 10, 10 } }, 1, DEFAULT_LIMITS, 0, { { CO, 0, 1, 1 }, { CO, 50, 1, 1 } } },
    { "four tables never merge",
      { REG(HO, 0, 1), REG(IN, 1, 1), REG(CO, 0, 1), REG(DI, 0, 1), REG(IN, 0, 1), REG(HO, 1, 1),
        REG(DI, 1, 1) },
      NONE, 0, DEFAULT_LIMITS, 0,
      { { CO, 0, 1, 1 }, { DI, 0, 2, 2 }, { IN, 0, 2, 2 }, { HO, 0, 2, 2 } } },
    { "coils reach 2000 bits", { REG(CO, 0, 1), REG(CO, 1999, 1) },
      NONE, 0, LIMITS(125, 2000, 0, 2000), 0, { { CO, 0, 2000, 2 } } },
    { "coils exceed 2000 bits", { REG(CO, 0, 1), REG(CO, 2000, 1) },
      NONE, 0, LIMITS(125, 2000, 0, 2000), 0, { { CO, 0, 1, 1 }, { CO, 2000, 1, 1 } } },
    { "coil fill limit", { REG(CO, 0, 1), REG(CO, 101, 1), REG(CO, 203, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { CO, 0, 102, 2 }, { CO, 203, 1, 1 } } },
    { "bits share a register",
      { BIT(HO, 10, 5), BIT(HO, 9, 3), BIT(HO, 10, 0), REG(HO, 11, 1), BIT(HO, 10, 15) },
      NONE, 0, LIMITS(2, 2000, 10, 100), 0, { { HO, 9, 2, 4 }, { HO, 11, 1, 1 } } },
    { "bits fill a one-register limit", { BIT(HO, 10, 0), BIT(HO, 10, 15), BIT(HO, 10, 7) },
      NONE, 0, LIMITS(1, 2000, 10, 100), 0, { { HO, 10, 1, 3 } } },
    { "skipped points are not read",
      { REG(IN, 0, 1), SKIP(IN, 3, 1), REG(IN, 5, 1), SKIP(IN, 20, 200), SKIP(IN, 45, 1) },
      { { IN, 40, 50 } }, 1, DEFAULT_LIMITS, 0, { { IN, 0, 1, 1 }, { IN, 5, 1, 1 } } },
    { "skipped bit shares a register", { SKIP_BIT(HO, 10, 1), BIT(HO, 10, 0), REG(HO, 11, 1) },
      NONE, 0, DEFAULT_LIMITS, 0, { { HO, 10, 2, 2 } } },
    { "all skipped", { SKIP(IN, 0, 1), SKIP(HO, 0, 1) }, NONE, 0, DEFAULT_LIMITS, 0, NONE },
    { "empty", NONE, NONE, 0, DEFAULT_LIMITS, 0, NONE },
    { "point at the limit", { REG(IN, 0, 10) },
      NONE, 0, LIMITS(10, 2000, 10, 100), 0, { { IN, 0, 10, 1 } } },
    { "point bigger than the limit", { REG(IN, 0, 1), REG(IN, 5, 11) },
      NONE, 0, LIMITS(10, 2000, 10, 100), -EINVAL, NONE },
    { "coil with no bit limit", { REG(IN, 0, 1), REG(CO, 0, 1) },
      NONE, 0, LIMITS(125, 0, 10, 100), -EINVAL, NONE },
    { "point inside a hole", { REG(IN, 0, 1), REG(IN, 15, 1) },
      { { IN, 10, 20 } }, 1, DEFAULT_LIMITS, -EINVAL, NONE },
    { "point over a hole's start", { REG(IN, 9, 2) },
      { { IN, 10, 20 } }, 1, DEFAULT_LIMITS, -EINVAL, NONE },
    { "point over a hole's end", { REG(IN, 20, 2) },
      { { IN, 10, 20 } }, 1, DEFAULT_LIMITS, -EINVAL, NONE },
    { "point inside the longer of two holes", { REG(IN, 4, 1) },
      { { IN, 2, 3 }, { IN, 2, 30 } }, 2, DEFAULT_LIMITS, -EINVAL, NONE },
    { "points beside a hole", { REG(IN, 8, 2), REG(IN, 21, 1) },
      { { IN, 10, 20 } }, 1, DEFAULT_LIMITS, 0, { { IN, 8, 2, 1 }, { IN, 21, 1, 1 } } },
    { "point in another table's hole", { REG(IN, 15, 1) },
      { { HO, 10, 20 } }, 1, DEFAULT_LIMITS, 0, { { IN, 15, 1, 1 } } },
    { "overlapping points extend the read", { REG(IN, 0, 10), REG(IN, 2, 2), REG(IN, 5, 10) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 0, 15, 3 } } },
    { "overlapping point past the limit", { REG(IN, 0, 10), REG(IN, 2, 2), REG(IN, 5, 10) },
      NONE, 0, LIMITS(12, 2000, 10, 100), 0, { { IN, 0, 10, 2 }, { IN, 5, 10, 1 } } },
    { "last register of the address space", { REG(IN, 65534, 2) },
      NONE, 0, DEFAULT_LIMITS, 0, { { IN, 65534, 2, 1 } } },
    { "past the address space", { REG(IN, 65535, 2) },
      NONE, 0, DEFAULT_LIMITS, -EINVAL, NONE },
    { "register limit above the protocol", { REG(IN, 0, 1) },
      NONE, 0, LIMITS(126, 2000, 10, 100), -EINVAL, NONE },
    { "bit limit above the protocol", { REG(IN, 0, 1) },
      NONE, 0, LIMITS(125, 2001, 10, 100), -EINVAL, NONE },
    { "hole ends before it starts", { REG(IN, 0, 1) },
      { { IN, 5, 4 } }, 1, DEFAULT_LIMITS, -EINVAL, NONE },
};

static size_t spec_points(const struct spec *specs, struct gw_point_def *points, bool *skip)
{
    size_t n = 0;
    for (; n < CASE_POINTS && specs[n].count; n++) {
        points[n] = make_point(specs[n].table, specs[n].address, specs[n].count, specs[n].bit);
        skip[n] = specs[n].skip;
    }
    return n;
}

static void check_expected_reads(const struct map_case *c, const struct gw_plan *plan)
{
    size_t n_want = 0;
    while (n_want < CASE_READS && c->reads[n_want].n_points)
        n_want++;
    CU_ASSERT_EQUAL_FATAL(plan->n_reads, n_want);
    uint32_t first = 0;
    for (size_t r = 0; r < n_want; r++) {
        CU_ASSERT_EQUAL(plan->reads[r].table, c->reads[r].table);
        CU_ASSERT_EQUAL(plan->reads[r].address, c->reads[r].address);
        CU_ASSERT_EQUAL(plan->reads[r].count, c->reads[r].count);
        CU_ASSERT_EQUAL(plan->reads[r].n_points, c->reads[r].n_points);
        CU_ASSERT_EQUAL(plan->reads[r].first, first);
        first += c->reads[r].n_points;
    }
}

static void run_case(const struct map_case *c)
{
    struct gw_point_def points[CASE_POINTS];
    bool skip[CASE_POINTS];
    size_t n = spec_points(c->points, points, skip);
    struct map m = { points, n, skip, c->holes, c->n_holes, c->limits };
    /* Stale contents must not survive a failed build. */
    struct gw_read stale_reads[1];
    uint32_t stale_order[1];
    struct gw_plan plan = { .reads = stale_reads, .n_reads = 7, .order = stale_order, .n_order = 7 };

    int rc = planner_build(points, n, skip, c->holes, c->n_holes, &c->limits, &plan);
    CU_ASSERT_EQUAL(rc, c->rc);
    if (rc != c->rc)
        fprintf(stderr, "\n  case \"%s\": rc %d, want %d\n", c->name, rc, c->rc);
    if (rc == 0) {
        check_expected_reads(c, &plan);
        check_plan(&m, &plan);
        planner_free(&plan);
    } else {
        check_plan_empty(&plan);
    }
}

static void test_maps(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned before = CU_get_number_of_failures();
        run_case(&cases[i]);
        if (CU_get_number_of_failures() != before)
            fprintf(stderr, "\n  failing case: \"%s\"\n", cases[i].name);
    }
}

/* A full frame of 125 single registers is one read; one more is two. */
static void test_full_frame(void)
{
    static const struct gw_plan_limits limits = LIMITS(125, 2000, 0, 0);
    struct gw_point_def points[126];
    for (uint16_t i = 0; i < 126; i++)
        points[i] = make_point(HO, (uint16_t)(1000 + i), 1, -1);

    struct gw_plan plan;
    CU_ASSERT_EQUAL_FATAL(planner_build(points, 125, NULL, NULL, 0, &limits, &plan), 0);
    CU_ASSERT_EQUAL_FATAL(plan.n_reads, 1);
    CU_ASSERT_EQUAL(plan.reads[0].address, 1000);
    CU_ASSERT_EQUAL(plan.reads[0].count, 125);
    CU_ASSERT_EQUAL(plan.reads[0].n_points, 125);
    planner_free(&plan);

    CU_ASSERT_EQUAL_FATAL(planner_build(points, 126, NULL, NULL, 0, &limits, &plan), 0);
    CU_ASSERT_EQUAL_FATAL(plan.n_reads, 2);
    CU_ASSERT_EQUAL(plan.reads[0].count, 125);
    CU_ASSERT_EQUAL(plan.reads[1].address, 1125);
    CU_ASSERT_EQUAL(plan.reads[1].count, 1);
    CU_ASSERT_EQUAL(plan.reads[1].first, 125);
    planner_free(&plan);
}

/* order[] follows (table, address, bit), whatever the input order. */
static void test_order(void)
{
    static const struct gw_plan_limits limits = DEFAULT_LIMITS;
    const struct gw_point_def points[] = {
        make_point(HO, 3, 1, -1),   /* 0 */
        make_point(IN, 7, 2, -1),   /* 1 */
        make_point(HO, 2, 1, 9),    /* 2 */
        make_point(HO, 2, 1, 1),    /* 3 */
        make_point(CO, 40, 1, -1),  /* 4 */
        make_point(IN, 1, 1, -1),   /* 5 */
    };
    const uint32_t want[] = { 4, 5, 1, 3, 2, 0 };
    struct gw_plan plan;

    CU_ASSERT_EQUAL_FATAL(planner_build(points, 6, NULL, NULL, 0, &limits, &plan), 0);
    CU_ASSERT_EQUAL_FATAL(plan.n_order, 6);
    for (size_t i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(plan.order[i], want[i]);
    planner_free(&plan);
}

static void test_bad_arguments(void)
{
    static const struct gw_plan_limits limits = DEFAULT_LIMITS;
    const struct gw_point_def point = make_point(IN, 0, 1, -1);
    struct gw_plan plan;

    CU_ASSERT_EQUAL(planner_build(&point, 1, NULL, NULL, 0, &limits, NULL), -EINVAL);
    CU_ASSERT_EQUAL(planner_build(&point, 1, NULL, NULL, 0, NULL, &plan), -EINVAL);
    check_plan_empty(&plan);
    CU_ASSERT_EQUAL(planner_build(NULL, 1, NULL, NULL, 0, &limits, &plan), -EINVAL);
    CU_ASSERT_EQUAL(planner_build(&point, 1, NULL, NULL, 1, &limits, &plan), -EINVAL);
    CU_ASSERT_EQUAL(planner_build(NULL, 0, NULL, NULL, 0, &limits, &plan), 0);
    check_plan_empty(&plan);
}

static void test_free(void)
{
    static const struct gw_plan_limits limits = DEFAULT_LIMITS;
    const struct gw_point_def point = make_point(IN, 0, 1, -1);
    struct gw_plan plan = { 0 };

    planner_free(NULL);
    planner_free(&plan);
    check_plan_empty(&plan);
    CU_ASSERT_EQUAL_FATAL(planner_build(&point, 1, NULL, NULL, 0, &limits, &plan), 0);
    CU_ASSERT_EQUAL(plan.n_reads, 1);
    planner_free(&plan);
    check_plan_empty(&plan);
    planner_free(&plan);    /* a second free is harmless */
}

/* ---- planner_span ----------------------------------------------------- */

static void test_span(void)
{
    static const struct gw_plan_limits limits = DEFAULT_LIMITS;
    const struct gw_point_def points[] = {
        make_point(IN, 10, 1, -1),
        make_point(IN, 5, 4, -1),
        make_point(IN, 0, 2, -1),
        make_point(IN, 2, 1, -1),
    };
    struct gw_plan plan;
    CU_ASSERT_EQUAL_FATAL(planner_build(points, 4, NULL, NULL, 0, &limits, &plan), 0);
    CU_ASSERT_EQUAL_FATAL(plan.n_reads, 1);

    static const struct { uint32_t first, n; uint16_t address, count; } spans[] = {
        { 0, 4, 0, 11 }, { 0, 2, 0, 3 }, { 2, 2, 5, 6 }, { 1, 2, 2, 7 },
        { 0, 1, 0, 2 }, { 1, 1, 2, 1 }, { 2, 1, 5, 4 }, { 3, 1, 10, 1 },
    };
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        struct gw_read r = planner_span(points, &plan, spans[i].first, spans[i].n);
        CU_ASSERT_EQUAL(r.table, IN);
        CU_ASSERT_EQUAL(r.address, spans[i].address);
        CU_ASSERT_EQUAL(r.count, spans[i].count);
        CU_ASSERT_EQUAL(r.first, spans[i].first);
        CU_ASSERT_EQUAL(r.n_points, spans[i].n);
    }
    /* Nothing to read outside the plan. */
    CU_ASSERT_EQUAL(planner_span(points, &plan, 0, 0).count, 0);
    CU_ASSERT_EQUAL(planner_span(points, &plan, 3, 2).count, 0);
    CU_ASSERT_EQUAL(planner_span(points, &plan, 4, 1).n_points, 0);
    CU_ASSERT_EQUAL(planner_span(points, &plan, 1, UINT32_MAX).count, 0);
    planner_free(&plan);
}

/* The span reaches the furthest end, not the last point's end, and bits of
 * one register count it once. */
static void test_span_overlaps(void)
{
    static const struct gw_plan_limits limits = DEFAULT_LIMITS;
    const struct gw_point_def points[] = {
        make_point(HO, 0, 10, -1),
        make_point(HO, 2, 2, -1),
        make_point(HO, 20, 1, 3),
        make_point(HO, 20, 1, 4),
    };
    struct gw_plan plan;
    CU_ASSERT_EQUAL_FATAL(planner_build(points, 4, NULL, NULL, 0, &limits, &plan), 0);

    struct gw_read r = planner_span(points, &plan, 0, 2);
    CU_ASSERT_EQUAL(r.address, 0);
    CU_ASSERT_EQUAL(r.count, 10);
    r = planner_span(points, &plan, 2, 2);
    CU_ASSERT_EQUAL(r.table, HO);
    CU_ASSERT_EQUAL(r.address, 20);
    CU_ASSERT_EQUAL(r.count, 1);
    planner_free(&plan);
}

/* ---- optimality on pseudo-random maps ---------------------------------- */

#define RANDOM_MAPS 500
#define RANDOM_POINTS 40
#define RANDOM_HOLES 12

struct rng {
    uint64_t state;
};

/* xorshift64*: reproducible across platforms, unlike rand(). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return (uint32_t)((r->state * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

struct random_map {
    struct gw_point_def points[RANDOM_POINTS];
    bool skip[RANDOM_POINTS];
    size_t n;
    struct gw_hole holes[RANDOM_HOLES];
    size_t n_holes;
    struct gw_plan_limits limits;
};

static enum gw_table random_table(struct rng *r)
{
    static const enum gw_table tables[] = { CO, DI, IN, IN, IN, IN, HO, HO, HO, HO };
    return tables[rng_below(r, 10)];
}

static void random_limits(struct rng *r, struct gw_plan_limits *l)
{
    static const uint16_t regs[] = { 1, 2, 3, 5, 8, 13, 24, 40, 125, 125 };
    static const uint16_t bits[] = { 1, 3, 16, 64, 2000 };
    l->max_registers = regs[rng_below(r, 10)];
    l->max_bits = bits[rng_below(r, 5)];
    l->max_gap_registers = (uint16_t)rng_below(r, 12);
    l->max_gap_bits = (uint16_t)rng_below(r, 40);
}

/* Somewhere in the unrequested addresses [from, from+gap), maybe a hole. */
static void random_hole(struct rng *r, struct random_map *m, enum gw_table t,
                        uint32_t from, uint32_t gap)
{
    if (gap == 0 || m->n_holes == RANDOM_HOLES || rng_below(r, 4) != 0)
        return;
    uint32_t start = from + rng_below(r, gap);
    uint32_t last = start + rng_below(r, from + gap - start);
    m->holes[m->n_holes++] = (struct gw_hole){ t, (uint16_t)start, (uint16_t)last };
}

static uint16_t random_count(struct rng *r, const struct gw_plan_limits *l)
{
    static const uint16_t counts[] = { 1, 1, 2, 2, 4 };
    uint16_t count = rng_below(r, 4) ? counts[rng_below(r, 5)]
                                     : (uint16_t)(1 + rng_below(r, l->max_registers));
    return count <= l->max_registers ? count : l->max_registers;
}

/* One address slot: a value, a coil, or up to four bits of one register.
 * A slot is skipped as a whole, as exception-2 isolation would leave it. */
static void random_slot(struct rng *r, struct random_map *m, enum gw_table t, uint16_t address,
                        uint16_t count)
{
    bool skip = rng_below(r, 8) == 0;
    size_t bits = (!gw_table_is_bits(t) && rng_below(r, 5) == 0) ? 1 + rng_below(r, 4) : 0;
    if (bits == 0) {
        m->points[m->n] = make_point(t, address, count, -1);
        m->skip[m->n++] = skip;
        return;
    }
    for (size_t b = 0; b < bits && m->n < RANDOM_POINTS; b++) {
        m->points[m->n] = make_point(t, address, 1, (int8_t)(b * 4 + rng_below(r, 4)));
        m->skip[m->n++] = skip;
    }
}

static void shuffle(struct rng *r, struct random_map *m)
{
    for (size_t i = m->n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        struct gw_point_def p = m->points[i - 1];
        bool s = m->skip[i - 1];
        m->points[i - 1] = m->points[j];
        m->skip[i - 1] = m->skip[j];
        m->points[j] = p;
        m->skip[j] = s;
    }
}

static void random_map(struct rng *r, struct random_map *m)
{
    uint32_t next[GW_TABLE_COUNT];
    size_t target = rng_below(r, RANDOM_POINTS + 1);

    memset(m, 0, sizeof *m);
    random_limits(r, &m->limits);
    for (int t = 0; t < GW_TABLE_COUNT; t++)
        next[t] = rng_below(r, 20);
    while (m->n < target) {
        enum gw_table t = random_table(r);
        uint32_t fill = gap_of(&m->limits, t);
        uint32_t gap = rng_below(r, 4) ? rng_below(r, fill + 2) : rng_below(r, 3 * fill + 30);
        uint16_t count = gw_table_is_bits(t) ? 1 : random_count(r, &m->limits);
        random_hole(r, m, t, next[t], gap);
        random_slot(r, m, t, (uint16_t)(next[t] + gap), count);
        next[t] += gap + (m->points[m->n - 1].bit >= 0 ? 1 : count);
    }
    shuffle(r, m);
}

/* Whether kept points sorted[i..j] make one valid read, judged on the
 * read's whole range rather than gap by gap as the planner does. */
static bool group_feasible(const struct map *m, const uint32_t *sorted, size_t i, size_t j)
{
    const struct gw_point_def *head = &m->points[sorted[i]];
    uint32_t end = end_of(head);
    for (size_t k = i + 1; k <= j; k++) {
        const struct gw_point_def *p = &m->points[sorted[k]];
        if (p->table != head->table)
            return false;
        if (p->address > end && p->address - end > gap_of(&m->limits, head->table))
            return false;
        if (end_of(p) > end)
            end = end_of(p);
    }
    if (end - head->address > limit_of(&m->limits, head->table))
        return false;
    return !meets_hole(m->holes, m->n_holes, head->table, head->address, end) &&
           !meets_skipped(m->points, m->n, m->skip, head->table, head->address, end);
}

/* Fewest reads over all splits of the sorted kept points into runs, never
 * splitting points of one register. */
static size_t optimal_reads(const struct map *m)
{
    uint32_t sorted[RANDOM_POINTS];
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->skip[i])
            continue;
        size_t k = n++;
        for (; k > 0 && key_cmp(&m->points[sorted[k - 1]], &m->points[i]) > 0; k--)
            sorted[k] = sorted[k - 1];
        sorted[k] = (uint32_t)i;
    }

    size_t best[RANDOM_POINTS + 1];
    best[0] = 0;
    for (size_t j = 1; j <= n; j++) {
        best[j] = SIZE_MAX;
        for (size_t i = 0; i < j; i++) {
            const struct gw_point_def *prev = i ? &m->points[sorted[i - 1]] : NULL;
            const struct gw_point_def *head = &m->points[sorted[i]];
            bool shared = prev && prev->table == head->table && prev->address == head->address;
            if (shared || best[i] == SIZE_MAX || !group_feasible(m, sorted, i, j - 1))
                continue;
            if (best[i] + 1 < best[j])
                best[j] = best[i] + 1;
        }
    }
    return best[n];
}

/* Boundaries between reads of the same table: where a limit, the fill
 * limit, a hole or a skipped point split the points. */
static size_t count_splits(const struct gw_plan *plan)
{
    size_t splits = 0;
    for (size_t r = 1; r < plan->n_reads; r++)
        splits += plan->reads[r].table == plan->reads[r - 1].table;
    return splits;
}

static void test_random_maps_optimal(void)
{
    struct rng r = { 0x9E3779B97F4A7C15ULL };
    struct random_map rm;
    size_t merges = 0, splits = 0;

    for (int i = 0; i < RANDOM_MAPS; i++) {
        random_map(&r, &rm);
        struct map m = { rm.points, rm.n, rm.skip, rm.holes, rm.n_holes, rm.limits };
        struct gw_plan plan;
        int rc = planner_build(rm.points, rm.n, rm.skip, rm.holes, rm.n_holes, &rm.limits, &plan);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        size_t best = optimal_reads(&m);
        CU_ASSERT_EQUAL(plan.n_reads, best);
        if (plan.n_reads != best)
            fprintf(stderr, "\n  map %d: %zu reads, optimum %zu\n", i, plan.n_reads, best);
        check_plan(&m, &plan);
        merges += plan.n_order - plan.n_reads;
        splits += count_splits(&plan);
        planner_free(&plan);
    }
    /* The maps must exercise both merging and splitting, or equality with
     * the optimum proves little. */
    CU_ASSERT(merges > 4 * RANDOM_MAPS);
    CU_ASSERT(splits > 4 * RANDOM_MAPS);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("planner", NULL, NULL);
    if (!suite ||
        !CU_add_test(suite, "hand-written maps", test_maps) ||
        !CU_add_test(suite, "full frame of 125 registers", test_full_frame) ||
        !CU_add_test(suite, "order follows table, address, bit", test_order) ||
        !CU_add_test(suite, "bad arguments", test_bad_arguments) ||
        !CU_add_test(suite, "free", test_free) ||
        !CU_add_test(suite, "span of sub-ranges", test_span) ||
        !CU_add_test(suite, "span over overlaps and shared registers", test_span_overlaps) ||
        !CU_add_test(suite, "random maps are planned optimally", test_random_maps_optimal)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
