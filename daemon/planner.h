/*
 * Request planner: a device's points -> the fewest Modbus reads.
 *
 * Points of one table merge into one read while the read stays within the
 * table's size limit, the unrequested registers between two neighbours stay
 * within the fill limit, and no hole lies between them.  Because every
 * feasible read stays feasible when points are removed from its ends, the
 * greedy left-to-right merge is optimal.
 */
#ifndef GW_PLANNER_H
#define GW_PLANNER_H

#include "point.h"

struct gw_plan_limits {
    uint16_t max_registers;  /* per read of input/holding, 1..125 */
    uint16_t max_bits;       /* per read of coil/discrete, 1..2000 */
    uint16_t max_gap_registers; /* unrequested registers a read may span */
    uint16_t max_gap_bits;
};

/* One read: points order[first .. first+n_points) of the plan. */
struct gw_read {
    enum gw_table table;
    uint16_t address;
    uint16_t count;
    uint32_t first;
    uint32_t n_points;
};

struct gw_plan {
    struct gw_read *reads;
    size_t n_reads;
    uint32_t *order;         /* point indexes, sorted by (table, address, bit) */
    size_t n_order;
};

/*
 * Build the plan for points[0..n).  Points with skip[i] set (may be NULL)
 * are left out: they are known not to be readable.  Returns 0, -EINVAL
 * (a point larger than the limit, or inside a hole) or -ENOMEM; on error
 * *plan is left empty.
 */
int planner_build(const struct gw_point_def *points, size_t n, const bool *skip,
                  const struct gw_hole *holes, size_t n_holes,
                  const struct gw_plan_limits *limits, struct gw_plan *plan);

/* The read covering plan->order[first .. first+n): its address and count
 * span the first point's start to the last point's end. */
struct gw_read planner_span(const struct gw_point_def *points, const struct gw_plan *plan,
                            uint32_t first, uint32_t n);

void planner_free(struct gw_plan *plan);

#endif
