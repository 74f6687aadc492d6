/*
 * Request planner: sort the points, check each one can be read at all, then
 * merge neighbours greedily (planner.h says why greedy is optimal).
 *
 * Reads never cover a hole, nor the registers of a skipped point: a point
 * is skipped because reading its address fails (exception 2 isolated by
 * the poller), so a read spanning it would fail on every poll again.
 *
 * Holes and skipped points are looked up through cursors over index lists
 * sorted by (table, address), kept in the tail of the order allocation
 * while building, so a whole build costs O(n log n + h log h).
 */
#include "planner.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What one request may ask for (Modbus application protocol, FC 1-4). */
#define PLANNER_PROTOCOL_MAX_REGISTERS 125u
#define PLANNER_PROTOCOL_MAX_BITS 2000u
#define PLANNER_ADDRESS_SPACE 65536u

/* Addresses [from, end) of one table that a read must not cover. */
struct barrier {
    enum gw_table table;
    uint32_t from, end;
};

/*
 * Forward-only walk over barriers (holes or skipped points) sorted by
 * (table, from).  Every caller asks about ranges whose start never
 * decreases (tables in order, then addresses in order), so a barrier
 * ending before one range ends before all later ones and is passed for
 * good.
 */
struct barrier_cursor {
    struct barrier (*barrier_of)(const void *items, uint32_t index);
    const void *items;
    const uint32_t *index;
    size_t n, at;
};

/* One past the last address a point occupies; 32 bits so 65535 + n fits. */
static uint32_t point_end(const struct gw_point_def *p)
{
    return (uint32_t)p->address + p->count;
}

static int compare_u32(uint32_t a, uint32_t b)
{
    return (a > b) - (a < b);
}

/* Order of point indexes: (table, address, bit), then the index itself so
 * that equal keys still give one reproducible plan.  qsort_r (glibc, musl)
 * hands over the points without a global. */
static int compare_points(const void *a, const void *b, void *ctx)
{
    const struct gw_point_def *points = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const struct gw_point_def *pa = &points[ia], *pb = &points[ib];

    if (pa->table != pb->table)
        return compare_u32(pa->table, pb->table);
    if (pa->address != pb->address)
        return compare_u32(pa->address, pb->address);
    if (pa->bit != pb->bit)
        return (pa->bit > pb->bit) - (pa->bit < pb->bit);
    return compare_u32(ia, ib);
}

static int compare_holes(const void *a, const void *b, void *ctx)
{
    const struct gw_hole *holes = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;

    if (holes[ia].table != holes[ib].table)
        return compare_u32(holes[ia].table, holes[ib].table);
    if (holes[ia].from != holes[ib].from)
        return compare_u32(holes[ia].from, holes[ib].from);
    return compare_u32(ia, ib);
}

static uint32_t table_limit(const struct gw_plan_limits *limits, enum gw_table table)
{
    return gw_table_is_bits(table) ? limits->max_bits : limits->max_registers;
}

static uint32_t table_gap(const struct gw_plan_limits *limits, enum gw_table table)
{
    return gw_table_is_bits(table) ? limits->max_gap_bits : limits->max_gap_registers;
}

static bool table_valid(enum gw_table table)
{
    return (unsigned)table < GW_TABLE_COUNT;
}

/* Limits above what the protocol allows would produce requests every
 * device rejects; a zero limit is caught by the per-point size check. */
static bool limits_valid(const struct gw_plan_limits *limits)
{
    return limits->max_registers <= PLANNER_PROTOCOL_MAX_REGISTERS &&
           limits->max_bits <= PLANNER_PROTOCOL_MAX_BITS;
}

static bool holes_valid(const struct gw_hole *holes, size_t n_holes)
{
    for (size_t i = 0; i < n_holes; i++)
        if (!table_valid(holes[i].table) || holes[i].from > holes[i].to)
            return false;
    return true;
}

static struct barrier hole_barrier(const void *items, uint32_t index)
{
    const struct gw_hole *hole = &((const struct gw_hole *)items)[index];
    return (struct barrier){ hole->table, hole->from, (uint32_t)hole->to + 1 };
}

static struct barrier point_barrier(const void *items, uint32_t index)
{
    const struct gw_point_def *p = &((const struct gw_point_def *)items)[index];
    return (struct barrier){ p->table, p->address, point_end(p) };
}

static struct barrier_cursor cursor_over(struct barrier (*barrier_of)(const void *, uint32_t),
                                         const void *items, const uint32_t *index, size_t n)
{
    return (struct barrier_cursor){ .barrier_of = barrier_of, .items = items,
                                    .index = index, .n = n };
}

/* Whether any barrier of table meets [from, end).  Only the first barrier
 * not yet passed needs looking at: later ones start no earlier. */
static bool barrier_hit(struct barrier_cursor *c, enum gw_table table, uint32_t from, uint32_t end)
{
    for (; c->at < c->n; c->at++) {
        struct barrier b = c->barrier_of(c->items, c->index[c->at]);
        if (b.table > table || (b.table == table && b.end > from))
            return b.table == table && b.from < end;
    }
    return false;
}

/* Whether some read can hold p: not larger than its table's limit, within
 * the address space, clear of every hole.  Called in plan order. */
static bool point_readable(const struct gw_point_def *p, const struct gw_plan_limits *limits,
                           struct barrier_cursor *holes)
{
    if (!table_valid(p->table) || p->count == 0 || p->count > table_limit(limits, p->table))
        return false;
    if (point_end(p) > PLANNER_ADDRESS_SPACE)
        return false;
    return !barrier_hit(holes, p->table, p->address, point_end(p));
}

/* What the merge consults besides the points themselves. */
struct merge_ctx {
    const struct gw_plan_limits *limits;
    struct barrier_cursor holes, skipped;
};

/*
 * Whether the open read r, covering [r->address, end), may take p as well.
 * A point starting inside the read (bits of one register, or an overlap
 * that validation should have refused) adds no gap; it only extends the
 * read to its own end.
 */
static bool read_can_take(const struct gw_read *r, uint32_t end, const struct gw_point_def *p,
                          struct merge_ctx *ctx)
{
    if (p->table != r->table)
        return false;
    uint32_t new_end = point_end(p) > end ? point_end(p) : end;
    if (new_end - r->address > table_limit(ctx->limits, r->table))
        return false;
    if (p->address <= end)
        return true;
    if (p->address - end > table_gap(ctx->limits, r->table))
        return false;
    return !barrier_hit(&ctx->holes, r->table, end, p->address) &&
           !barrier_hit(&ctx->skipped, r->table, end, p->address);
}

/* Greedy left-to-right merge of the sorted points into reads[]; returns
 * how many reads it wrote (at most n). */
static size_t merge_reads(const struct gw_point_def *points, const uint32_t *order, size_t n,
                          struct merge_ctx *ctx, struct gw_read *reads)
{
    size_t n_reads = 0;
    uint32_t end = 0;   /* one past the open read's last address */

    for (uint32_t i = 0; i < n; i++) {
        const struct gw_point_def *p = &points[order[i]];
        struct gw_read *r = n_reads ? &reads[n_reads - 1] : NULL;

        if (r && read_can_take(r, end, p, ctx)) {
            r->n_points++;
            if (point_end(p) > end)
                end = point_end(p);
        } else {
            r = &reads[n_reads++];
            *r = (struct gw_read){ .table = p->table, .address = p->address,
                                   .first = i, .n_points = 1 };
            end = point_end(p);
        }
        r->count = (uint16_t)(end - r->address);
    }
    return n_reads;
}

static bool is_skipped(const bool *skip, size_t i)
{
    return skip && skip[i];
}

static size_t count_kept(size_t n, const bool *skip)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += !is_skipped(skip, i);
    return kept;
}

/*
 * Fill order[0..n+n_holes): the kept point indexes first (the plan's
 * order), then the skipped ones, then the hole indexes; each list sorted
 * by (table, address).
 */
static void sort_indexes(const struct gw_point_def *points, size_t n, const bool *skip,
                         const struct gw_hole *holes, size_t n_holes,
                         uint32_t *order, size_t n_kept)
{
    size_t kept = 0, skipped = n_kept;
    for (size_t i = 0; i < n; i++)
        order[is_skipped(skip, i) ? skipped++ : kept++] = (uint32_t)i;
    qsort_r(order, n_kept, sizeof *order, compare_points, (void *)points);
    qsort_r(order + n_kept, n - n_kept, sizeof *order, compare_points, (void *)points);

    for (size_t i = 0; i < n_holes; i++)
        order[n + i] = (uint32_t)i;
    qsort_r(order + n, n_holes, sizeof *order, compare_holes, (void *)holes);
}

static bool all_readable(const struct gw_point_def *points, const uint32_t *order, size_t n,
                         const struct gw_plan_limits *limits, struct barrier_cursor holes)
{
    for (size_t i = 0; i < n; i++)
        if (!point_readable(&points[order[i]], limits, &holes))
            return false;
    return true;
}

static bool build_args_valid(const struct gw_point_def *points, size_t n,
                             const struct gw_hole *holes, size_t n_holes,
                             const struct gw_plan_limits *limits)
{
    if ((n && !points) || (n_holes && !holes) || !limits)
        return false;
    /* Indexes are stored as uint32_t. */
    if ((uint64_t)n > UINT32_MAX || (uint64_t)n_holes > UINT32_MAX)
        return false;
    return limits_valid(limits) && holes_valid(holes, n_holes);
}

/*
 * On success plan->order and plan->reads are owned by the plan (release
 * with planner_free); whatever *plan held before is overwritten, not freed.
 * Also -EINVAL for NULL arguments, limits above the protocol's 125
 * registers / 2000 bits, a hole with from > to, or a point of count 0 or
 * past address 65535.  A kept point sharing registers with a skipped one
 * is read all the same: only gaps are kept clear of skipped points.
 */
int planner_build(const struct gw_point_def *points, size_t n, const bool *skip,
                  const struct gw_hole *holes, size_t n_holes,
                  const struct gw_plan_limits *limits, struct gw_plan *plan)
{
    if (!plan)
        return -EINVAL;
    memset(plan, 0, sizeof *plan);
    if (!build_args_valid(points, n, holes, n_holes, limits))
        return -EINVAL;

    size_t n_kept = count_kept(n, skip);
    if (n_kept == 0)
        return 0;
    if (n_holes > SIZE_MAX / sizeof(uint32_t) - n)
        return -ENOMEM;

    /* The tail past n_kept is scratch for the barrier cursors. */
    uint32_t *order = calloc(n + n_holes, sizeof *order);
    struct gw_read *reads = calloc(n_kept, sizeof *reads);
    if (!order || !reads) {
        free(order);
        free(reads);
        return -ENOMEM;
    }
    sort_indexes(points, n, skip, holes, n_holes, order, n_kept);

    struct merge_ctx ctx = {
        .limits = limits,
        .holes = cursor_over(hole_barrier, holes, order + n, n_holes),
        .skipped = cursor_over(point_barrier, points, order + n_kept, n - n_kept),
    };
    /* Passed by value: the merge walks the holes again from the start. */
    if (!all_readable(points, order, n_kept, limits, ctx.holes)) {
        free(order);
        free(reads);
        return -EINVAL;
    }
    plan->n_reads = merge_reads(points, order, n_kept, &ctx, reads);
    plan->reads = reads;
    plan->order = order;
    plan->n_order = n_kept;
    return 0;
}

/* An empty or out-of-plan range gives a read of count 0 and no points. */
struct gw_read planner_span(const struct gw_point_def *points, const struct gw_plan *plan,
                            uint32_t first, uint32_t n)
{
    if (!points || !plan || n == 0 || first >= plan->n_order || n > plan->n_order - first)
        return (struct gw_read){ .first = first };

    const struct gw_point_def *head = &points[plan->order[first]];
    uint32_t end = point_end(head);
    for (uint32_t i = first + 1; i < first + n; i++) {
        uint32_t e = point_end(&points[plan->order[i]]);
        if (e > end)
            end = e;
    }
    return (struct gw_read){ .table = head->table, .address = head->address,
                             .count = (uint16_t)(end - head->address),
                             .first = first, .n_points = n };
}

void planner_free(struct gw_plan *plan)
{
    if (!plan)
        return;
    free(plan->reads);
    free(plan->order);
    memset(plan, 0, sizeof *plan);
}
