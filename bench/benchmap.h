/*
 * The register map every benchmark device serves, shared by the fleet
 * server (which encodes it) and the benchmarks (which write it out as a
 * profile and compute the optimal read plan for it).
 *
 * It stands on nothing of the daemon: the fleet encodes registers on its
 * own, and the optimum is computed here by a different method (dynamic
 * programming over the points) than the daemon's planner (a greedy merge),
 * so that a planner bug shows up as a difference instead of being copied.
 *
 * The map, 60 registers and 35 points in the holding table, the way a
 * multi-function meter lays out its registers:
 *
 *     0..15   8 x float32 ABCD   instantaneous values
 *    16..17   reserved (served, not requested: merged across)
 *    18..31   7 x float32 ABCD   instantaneous values
 *    32..35   hole: not served (exception 2), declared in the profile
 *    36..39   reserved
 *    40..59  10 x uint32 CDAB    energy and hour counters
 *    60..99   not served: beyond the fill limit, and declared a hole
 *   100..109 10 x uint16         status, alarm and setting words
 */
#ifndef GW_BENCH_MAP_H
#define GW_BENCH_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_type { BENCH_FLOAT32, BENCH_UINT32, BENCH_UINT16 };

struct bench_point {
    const char *name;
    enum bench_type type;
    bool word_swap;         /* CDAB: low word first */
    uint16_t address;
    const char *unit;
    double scale;           /* engineering value = raw * scale */
    double min, max;        /* plausible range, written to the profile */
    double nominal;         /* engineering value the fleet serves, about */
};

struct bench_hole {
    uint16_t from, to;      /* inclusive */
};

extern const struct bench_point bench_points[];
extern const size_t bench_n_points;
extern const struct bench_hole bench_holes[];
extern const size_t bench_n_holes;

/* Registers the map's points occupy (60) and the size of the register
 * image a device serves (the highest address + 1). */
size_t bench_map_registers(void);
#define BENCH_IMAGE_REGISTERS 110

/* Limits written into the profile, and used for the optimum. */
#define BENCH_MAX_READ_REGISTERS 125
#define BENCH_MAX_GAP_REGISTERS 10

/* Registers a point occupies. */
unsigned bench_point_registers(const struct bench_point *p);

/* Whether address lies in a hole (the device answers exception 2). */
bool bench_in_hole(unsigned address);

/* Writes the map as a greenwatch profile with this id.  Returns 0 or -1
 * (errno set). */
int bench_write_profile(FILE *f, const char *id);

/* ---- optimal plan -------------------------------------------------- */

/* One span of registers (one table). */
struct bench_span {
    uint32_t address, count;
};

/* Reads covering items sorted by address; see bench_optimal_reads. */
struct bench_read {
    uint32_t address, count;
    uint32_t first, n;      /* items[first .. first+n) */
};

/*
 * The fewest reads covering every item (sorted by address, not
 * overlapping), where a read covers a run of consecutive items whose span
 * is at most max_count, whose gaps between neighbours are each at most
 * max_gap, and whose gaps meet no hole.  Dynamic programming over the
 * items, O(n^2): exact whatever the greedy planner does.  Writes at most n
 * reads to out (may be NULL) and returns how many the optimum needs, or
 * -1 if some item cannot be read at all (larger than max_count, or in a
 * hole) or on ENOMEM.
 */
long bench_optimal_reads(const struct bench_span *items, size_t n, uint32_t max_count,
                         uint32_t max_gap, const struct bench_hole *holes, size_t n_holes,
                         struct bench_read *out);

/* The optimal plan of the benchmark map: fills reads (room for
 * bench_n_points) and returns their number. */
size_t bench_map_plan(struct bench_read *reads);

/* ---- register image ------------------------------------------------ */

/*
 * Encodes the map's values for device number `device` at time t (seconds)
 * into regs[BENCH_IMAGE_REGISTERS]: floats wander around their nominal
 * values, counters grow with t, status words stay put.  Big-endian
 * registers as on the wire, word order as the point says.
 */
void bench_encode_image(uint16_t *regs, unsigned device, double t);

#endif
